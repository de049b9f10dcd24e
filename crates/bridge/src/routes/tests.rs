use super::*;
use crate::rich::notices::{Notice, render};
use std::collections::HashMap;

const FLOW: &str = "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d";

fn routes(pairs: &[(&str, &str)]) -> Result<Routes, Vec<String>> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut problems = Vec::new();
    let served: Vec<PhoneNumberId> = map
        .get("WHATSAPP_PHONE_NUMBER_IDS")
        .map(|ids| ids.split(',').map(|id| PhoneNumberId::parse(id).unwrap()).collect())
        .unwrap_or_default();
    let routes = Routes::from_lookup(&|k: &str| map.get(k).cloned(), FLOW.to_owned(), &served, &mut problems);
    if problems.is_empty() { Ok(routes) } else { Err(problems) }
}

fn number(id: &str) -> PhoneNumberId {
    PhoneNumberId::parse(id).unwrap()
}

const TWO_NUMBERS: &str = r##"{
  "111": {"contact_flow_id": "flow-es", "language": "es-419", "transcribe_languages": ["es-US"],
          "end_keyword": "#fin", "messages": {"notice-chat-ended": "¡Hasta pronto!"}},
  "222": {"contact_flow_id": "flow-pt", "language": "pt-BR", "transcribe_languages": ["pt-BR", "es-US"]}
}"##;

#[test]
fn each_listed_number_has_its_flow_language_transcription_and_keyword() {
    let routes = routes(&[("NUMBER_ROUTES", TWO_NUMBERS)]).unwrap();
    let es = routes.for_number(&number("111"));
    assert_eq!(es.contact_flow_id, "flow-es");
    assert_eq!(es.wording.language(), Language::Es419);
    assert_eq!(es.transcribe, Some(TranscribeLanguage::Fixed("es-US".into())));
    assert_eq!(es.end_keyword.as_deref(), Some("#fin"));
    assert_eq!(
        render(&es.wording, Notice::ChatEnded, None).as_deref(),
        Some("¡Hasta pronto!")
    );
    assert_eq!(
        render(&es.wording, Notice::AgentLeft, Some("Ana")).as_deref(),
        Some("Ana salió del chat.")
    );
    let pt = routes.for_number(&number("222"));
    assert_eq!(pt.contact_flow_id, "flow-pt");
    assert_eq!(
        pt.transcribe,
        Some(TranscribeLanguage::Identify(vec!["pt-BR".into(), "es-US".into()]))
    );
    assert_eq!(pt.end_keyword.as_deref(), Some("#end"), "the stack's keyword");
    let other = routes.for_number(&number("333"));
    assert_eq!(other.contact_flow_id, FLOW);
    assert_eq!(other.wording.language(), Language::En);
    assert_eq!(other.transcribe, None);
    assert_eq!(routes.listed().count(), 2);
}

#[test]
fn stack_words_reach_numbers_that_speak_the_stack_language_only() {
    let routes = routes(&[
        ("LANGUAGE", "es-419"),
        ("NOTICE_AGENT_JOINED", "Te atiende {agent}"),
        ("MESSAGES", r#"{"menu-list-button": "Ver opciones"}"#),
        ("NUMBER_ROUTES", r#"{"111": {}, "222": {"language": "pt-BR"}}"#),
    ])
    .unwrap();
    for id in ["111", "999"] {
        let w = &routes.for_number(&number(id)).wording;
        assert_eq!(
            render(w, Notice::AgentJoined, Some("Ana")).as_deref(),
            Some("Te atiende Ana")
        );
        assert_eq!(w.word(crate::wording::Text::MenuListButton, &[]), "Ver opciones");
    }
    let pt = &routes.for_number(&number("222")).wording;
    assert_eq!(
        render(pt, Notice::AgentJoined, Some("Ana")).as_deref(),
        Some("Ana entrou na conversa.")
    );
}

#[test]
fn a_malformed_table_names_every_problem() {
    let problems = routes(&[
        ("WHATSAPP_PHONE_NUMBER_IDS", "111,222"),
        ("LANGUAGE", "es"),
        ("NOTICE_IDLE", "x"),
        ("MESSAGES", r#"{"notice-idle": "y"}"#),
        (
            "NUMBER_ROUTES",
            r#"{
              "111": {"language": "fr", "flow": "x", "transcribe_languages": ["spanish"]},
              "222": {"contact_flow_id": " ", "end_keyword": 5, "messages": {"nope": "x"}},
              "333": {},
              "+444": {"transcribe_languages": []}
            }"#,
        ),
    ])
    .unwrap_err();
    for needle in [
        "LANGUAGE must be one of en, es-419, pt-BR (got 'es')",
        "MESSAGES and a NOTICE_* variable both set notice-idle",
        r#"NUMBER_ROUTES["111"].language must be one of"#,
        r#"NUMBER_ROUTES["111"]: unknown field 'flow'"#,
        r#"NUMBER_ROUTES["111"].transcribe_languages has codes that are not like es-US: 'spanish'"#,
        r#"NUMBER_ROUTES["222"].contact_flow_id must be a contact flow id"#,
        r#"NUMBER_ROUTES["222"].end_keyword must be a string"#,
        r#"NUMBER_ROUTES["222"].messages: 'nope' is not a message id"#,
        r#"NUMBER_ROUTES["333"]: the number is not in WHATSAPP_PHONE_NUMBER_IDS"#,
        r#"NUMBER_ROUTES["+444"]: the key must be a Meta phone number id"#,
        r#"NUMBER_ROUTES["+444"].transcribe_languages must be a list of 1 to 5"#,
    ] {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle} not in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), 11, "{problems:#?}");
    for bad in ["[1]", "{", r#"{"111": 5}"#] {
        assert!(routes(&[("NUMBER_ROUTES", bad)]).is_err(), "{bad}");
    }
}
