use super::*;
use serde_json::json;

fn ids_in(catalogue: &str) -> Vec<&str> {
    catalogue
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_once(" = ").map(|(id, _)| id))
        .collect()
}

#[test]
fn every_message_renders_in_every_language() {
    for language in Language::ALL {
        let wording = Wording::builtin(language);
        for &text in Text::ALL {
            let (out, failed) = wording.format(text, &sample_args(text));
            assert!(
                !failed,
                "{language} {}: missing or refers to an unknown variable",
                text.id()
            );
            assert!(!out.trim().is_empty(), "{language} {}: empty", text.id());
            assert!(
                !out.contains(['{', '}', '\u{2068}', '\u{2069}']),
                "{language} {}: {out}",
                text.id()
            );
            for (name, value) in sample_args(text).iter().filter(|(n, _)| *n != "kind") {
                let shown = match value {
                    Arg::String(s) => s.to_string(),
                    _ => "7".to_owned(),
                };
                assert!(out.contains(&shown), "{language} {} drops ${name}: {out}", text.id());
            }
        }
    }
}

#[test]
fn catalogues_hold_exactly_the_listed_messages() {
    let listed: Vec<&str> = Text::ALL.iter().map(|t| t.id()).collect();
    for language in Language::ALL {
        let source = language.catalogue();
        assert!(
            FluentResource::try_new(source.to_owned()).is_ok(),
            "{language} does not parse"
        );
        let mut ids = ids_in(source);
        ids.sort_unstable();
        let mut expected = listed.clone();
        expected.sort_unstable();
        assert_eq!(ids, expected, "{language}");
    }
}

#[test]
fn menu_buttons_fit_whatsapps_twenty_characters() {
    for language in Language::ALL {
        let wording = Wording::builtin(language);
        for text in [Text::MenuListButton, Text::MenuTimeButton, Text::MenuMoreOptions] {
            let label = wording.word(text, &[]);
            assert!(label.chars().count() <= 20, "{language}: {label}");
        }
    }
}

#[test]
fn plurals_follow_each_language() {
    let order = |language, items: i64| Wording::builtin(language).word(Text::Order, &[("items", Arg::from(items))]);
    assert_eq!(order(Language::En, 1), "[order: 1 item]");
    assert_eq!(order(Language::En, 3), "[order: 3 items]");
    assert_eq!(order(Language::Es419, 1), "[pedido: 1 artículo]");
    assert_eq!(order(Language::Es419, 2), "[pedido: 2 artículos]");
    assert_eq!(order(Language::PtBr, 2), "[pedido: 2 itens]");
}

#[test]
fn languages_parse_by_tag() {
    assert_eq!(Language::parse("es-419"), Ok(Language::Es419));
    assert_eq!(Language::parse(" PT-br "), Ok(Language::PtBr));
    assert_eq!(
        Language::parse("fr").unwrap_err(),
        "must be one of en, es-419, pt-BR (got 'fr')"
    );
}

#[test]
fn overrides_replace_and_silence_and_name_every_problem() {
    let overrides = parse_overrides(
        "MESSAGES",
        &json!({
            "menu-list-button": "Elige",
            "notice-agent-joined": "Hola, soy {agent} 👋",
            "notice-idle": "",
        }),
    )
    .unwrap();
    let wording = Wording::new(Language::Es419, &overrides);
    assert_eq!(wording.word(Text::MenuListButton, &[]), "Elige");
    assert_eq!(
        wording
            .say(Text::NoticeAgentJoined, &[("agent", Arg::from("Ana"))])
            .as_deref(),
        Some("Hola, soy Ana 👋")
    );
    assert_eq!(wording.say(Text::NoticeIdle, &[]), None);
    assert_eq!(wording.word(Text::MenuMoreOptions, &[]), "Más opciones");

    let problems = parse_overrides(
        "MESSAGES",
        &json!({
            "menu-list-buton": "x",
            "menu-more-options": "",
            "notice-agent-left": "{ $agnt } se fue",
            "notice-idle": "{ $agent",
            "order": 3,
        }),
    )
    .unwrap_err();
    assert_eq!(problems.len(), 5, "{problems:?}");
    for needle in [
        "'menu-list-buton' is not a message id",
        "menu-more-options cannot be empty",
        "notice-agent-left refers to something it does not get (its variables: $agent)",
        "notice-idle is not a valid message",
        "order must be a string",
    ] {
        assert!(problems.iter().any(|p| p.contains(needle)), "{needle}: {problems:?}");
    }
    assert!(parse_overrides("MESSAGES", &json!(["x"])).is_err());
}

#[test]
fn later_overrides_win() {
    let stack = parse_overrides("MESSAGES", &json!({"notice-idle": "", "menu-list-button": "A"})).unwrap();
    let number = parse_overrides("n", &json!({"notice-idle": "¿Sigues?"})).unwrap();
    let wording = Wording::new(Language::Es419, &stack.then(&number));
    assert_eq!(wording.say(Text::NoticeIdle, &[]).as_deref(), Some("¿Sigues?"));
    assert_eq!(wording.word(Text::MenuListButton, &[]), "A");
}

#[test]
fn notice_variables_keep_their_old_form() {
    let lookup = |key: &str| match key {
        "NOTICE_AGENT_JOINED" => Some("Hi, I'm {agent}".to_owned()),
        "NOTICE_CHAT_ENDED" => Some(String::new()),
        "NOTICE_AGENT_FALLBACK" => Some("  ".to_owned()),
        _ => None,
    };
    let wording = Wording::new(Language::En, &legacy_notice_overrides(lookup).unwrap());
    assert_eq!(
        wording
            .say(Text::NoticeAgentJoined, &[("agent", Arg::from("Ana"))])
            .as_deref(),
        Some("Hi, I'm Ana")
    );
    assert_eq!(wording.say(Text::NoticeChatEnded, &[]), None);
    assert_eq!(wording.word(Text::AgentFallback, &[]), "an agent");
}
