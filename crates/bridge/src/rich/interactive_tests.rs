//! Rendering tests: every shape within WhatsApp's limits, and every option answering as Connect's
//! widget would.

use super::*;
use crate::content_type::INTERACTIVE;
use crate::rich::menu::{Answer, answer};
use crate::rich::text::ELLIPSIS;
use crate::whatsapp::outgoing::MessageText;
use crate::whatsapp::{Content, InteractiveReply};
use serde_json::json;
use unicode_segmentation::UnicodeSegmentation;

fn fixture(name: &str) -> String {
    let raw = crate::test_fixtures::connect_stream(name);
    let outer: Value = serde_json::from_str(raw).unwrap();
    let message: Value = serde_json::from_str(outer["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["ContentType"], INTERACTIVE);
    message["Content"].as_str().unwrap().to_owned()
}

fn rendered(content: &str) -> Rendered {
    render_content(content, &RenderOptions::default()).unwrap().unwrap()
}

/// Every WhatsApp limit a message must respect for Meta to accept it.
fn assert_valid(message: &OutgoingBody) {
    let len = |s: &str| Unit::Utf16.measure(s);
    match message {
        OutgoingBody::Text { text } => {
            assert!(!text.body.trim().is_empty());
            assert!(len(&text.body) <= limits::TEXT_BODY);
        }
        OutgoingBody::Interactive {
            interactive: InteractiveBody::Button { header, body, action },
        } => {
            assert!(!body.text.trim().is_empty() && len(&body.text) <= limits::BUTTON_BODY);
            assert!((1..=limits::BUTTONS).contains(&action.buttons.len()));
            assert!(all_unique(action.buttons.iter().map(|b| b.reply.title.as_str())));
            for b in &action.buttons {
                assert_eq!(b.kind, "reply");
                assert!(!b.reply.title.trim().is_empty() && len(&b.reply.title) <= limits::BUTTON_TITLE);
                assert!(len(&b.reply.id) <= limits::BUTTON_ID);
            }
            if let Some(Header::Text { text }) = header {
                assert!(len(text) <= limits::HEADER_TEXT);
            }
        }
        OutgoingBody::Interactive {
            interactive: InteractiveBody::List { header, body, action },
        } => {
            assert!(
                !matches!(header, Some(Header::Image { .. })),
                "lists take no image header"
            );
            assert!(!body.text.trim().is_empty() && len(&body.text) <= limits::LIST_BODY);
            assert!(!action.button.trim().is_empty() && len(&action.button) <= limits::LIST_BUTTON);
            assert!((1..=limits::LIST_SECTIONS).contains(&action.sections.len()));
            let rows: Vec<&Row> = action.sections.iter().flat_map(|s| &s.rows).collect();
            assert!((1..=limits::LIST_ROWS).contains(&rows.len()));
            assert!(all_unique(rows.iter().map(|r| r.id.as_str())));
            for section in &action.sections {
                assert!(!section.rows.is_empty());
                if action.sections.len() > 1 {
                    assert!(section.title.is_some(), "several sections must all be titled");
                }
                if let Some(title) = &section.title {
                    assert!(!title.trim().is_empty() && len(title) <= limits::SECTION_TITLE);
                }
            }
            for row in rows {
                assert!(len(&row.id) <= limits::ROW_ID);
                assert!(!row.title.trim().is_empty() && len(&row.title) <= limits::ROW_TITLE);
                if let Some(d) = &row.description {
                    assert!(len(d) <= limits::ROW_DESCRIPTION);
                }
            }
        }
        other => panic!("rendering sends no files: {other:?}"),
    }
}

fn list_rows(message: &OutgoingBody) -> Vec<Row> {
    match message {
        OutgoingBody::Interactive {
            interactive: InteractiveBody::List { action, .. },
        } => action.sections.iter().flat_map(|s| s.rows.clone()).collect(),
        other => panic!("not a list: {other:?}"),
    }
}

fn list_sections(message: &OutgoingBody) -> Vec<(Option<String>, Vec<String>)> {
    match message {
        OutgoingBody::Interactive {
            interactive: InteractiveBody::List { action, .. },
        } => action
            .sections
            .iter()
            .map(|s| (s.title.clone(), s.rows.iter().map(|r| r.title.clone()).collect()))
            .collect(),
        other => panic!("not a list: {other:?}"),
    }
}

fn body_of(message: &OutgoingBody) -> &str {
    match message {
        OutgoingBody::Text { text } => &text.body,
        OutgoingBody::Interactive {
            interactive: InteractiveBody::Button { body, .. } | InteractiveBody::List { body, .. },
        } => &body.text,
        other => panic!("rendering sends no files: {other:?}"),
    }
}

fn button_tap(id: &str, title: &str) -> Content {
    Content::Interactive(InteractiveReply::Button {
        id: id.into(),
        title: title.into(),
    })
}

fn list_tap(id: &str, title: &str) -> Content {
    Content::Interactive(InteractiveReply::List {
        id: id.into(),
        title: title.into(),
        description: None,
    })
}

fn to_connect(answer: Option<Answer>) -> ConnectMessage {
    match answer {
        Some(Answer::Connect(message)) => message,
        other => panic!("expected a Connect message, got {other:?}"),
    }
}

fn picker_json(kind: &str, titles: &[String]) -> String {
    let elements: Vec<Value> = titles.iter().map(|t| json!({"title": t})).collect();
    json!({"templateType": kind, "version": "1.0",
           "data": {"content": {"title": "Pick one", "elements": elements}}})
    .to_string()
}

fn time_picker_json(slots: usize) -> String {
    let timeslots: Vec<Value> = (0..slots)
        .map(|i| json!({"date": format!("2025-11-{:02}T{:02}:00+00:00", 12 + i / 8, 9 + i % 8), "duration": 30}))
        .collect();
    json!({"templateType": "TimePicker", "version": "1.0",
           "data": {"content": {"title": "When?", "timeZoneOffset": -300, "timeslots": timeslots}}})
    .to_string()
}

fn carousel_json(titles: &[String]) -> String {
    let panels: Vec<Value> = titles
        .chunks(5)
        .enumerate()
        .map(|(p, chunk)| {
            let elements: Vec<Value> = chunk.iter().map(|t| json!({"title": t})).collect();
            json!({"templateType": "Panel", "version": "1.0", "templateIdentifier": format!("panel{p}"),
                   "data": {"content": {"title": format!("Panel {p}"), "elements": elements}}})
        })
        .collect();
    json!({"templateType": "Carousel", "version": "1.0",
           "data": {"content": {"title": "Explore", "elements": panels}}})
    .to_string()
}

fn titles(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("Option {i}")).collect()
}

/// Every option of a rendered menu, tapped on whichever page shows it, answers with `expected(i)`.
fn assert_every_option_answers(rendered: &Rendered, expected: impl Fn(usize) -> ConnectMessage) {
    let menu = rendered.menu.as_ref().unwrap();
    let pages = if menu.pages.is_empty() {
        vec![rendered.message.clone()]
    } else {
        menu.pages.clone()
    };
    let mut seen = 0;
    for page in &pages {
        assert_valid(page);
        let ids: Vec<(String, String)> = match page {
            OutgoingBody::Interactive {
                interactive: InteractiveBody::Button { action, .. },
            } => action
                .buttons
                .iter()
                .map(|b| (b.reply.id.clone(), b.reply.title.clone()))
                .collect(),
            OutgoingBody::Interactive { .. } => list_rows(page).into_iter().map(|r| (r.id, r.title)).collect(),
            OutgoingBody::Text { .. } => (1..=menu.options.len())
                .map(|n| (n.to_string(), String::new()))
                .collect(),
            other => panic!("rendering sends no files: {other:?}"),
        };
        for (id, title) in ids {
            if id.contains(".more") {
                continue;
            }
            let content = if matches!(page, OutgoingBody::Text { .. }) {
                Content::Text { body: id }
            } else {
                list_tap(&id, &title)
            };
            assert_eq!(to_connect(answer(Some(menu), &content)), expected(seen));
            seen += 1;
        }
    }
    assert_eq!(seen, menu.options.len());
}

fn style(rendered: &Rendered) -> (MenuStyle, usize) {
    let menu = rendered.menu.as_ref().unwrap();
    (menu.style, menu.pages.len())
}

#[test]
fn pickers_by_option_count() {
    for kind in ["ListPicker", "Panel", "QuickReply"] {
        for (n, expected) in [
            (2, (MenuStyle::Buttons, 0)),
            (3, (MenuStyle::Buttons, 0)),
            (4, (MenuStyle::List, 0)),
            (10, (MenuStyle::List, 0)),
            (11, (MenuStyle::List, 2)),
        ] {
            let titles = titles(n);
            let r = rendered(&picker_json(kind, &titles));
            assert_eq!(style(&r), expected, "{kind} with {n}");
            assert_valid(&r.message);
            assert_every_option_answers(&r, |i| ConnectMessage::text(&titles[i]));
        }
    }
}

#[test]
fn time_pickers_by_slot_count() {
    for (n, expected) in [
        (2, (MenuStyle::List, 0)),
        (3, (MenuStyle::List, 0)),
        (4, (MenuStyle::List, 0)),
        (10, (MenuStyle::List, 0)),
        (11, (MenuStyle::Numbered, 0)),
    ] {
        let content = time_picker_json(n);
        let r = rendered(&content);
        assert_eq!(style(&r), expected, "TimePicker with {n}");
        assert_valid(&r.message);
        let dates: Vec<String> = match parse(&content).unwrap() {
            Template::TimePicker(t) => t.slots.into_iter().map(|s| s.date).collect(),
            other => panic!("{other:?}"),
        };
        assert_every_option_answers(&r, |i| ConnectMessage::text(&dates[i]));
    }
    let paged = render_content(
        &time_picker_json(11),
        &RenderOptions {
            time_overflow: Overflow::Paged,
            ..RenderOptions::default()
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(style(&paged), (MenuStyle::List, 2));
}

#[test]
fn carousels_by_option_count() {
    for (n, expected) in [
        (2, (MenuStyle::List, 0)),
        (3, (MenuStyle::List, 0)),
        (4, (MenuStyle::List, 0)),
        (10, (MenuStyle::List, 0)),
        (11, (MenuStyle::List, 2)),
    ] {
        let titles = titles(n);
        let r = rendered(&carousel_json(&titles));
        assert_eq!(style(&r), expected, "Carousel with {n}");
        assert_every_option_answers(&r, |i| {
            let panel = i / 5;
            ConnectMessage::text(format!(
                r#"{{"templateIdentifier":"panel{panel}","listTitle":"Panel {panel}","selectionText":"{}"}}"#,
                titles[i]
            ))
        });
    }
}

#[test]
fn carousel_selection_keeps_the_widgets_key_order() {
    let r = rendered(&fixture("carousel"));
    let menu = r.menu.unwrap();
    assert_eq!(
        menu.options[0].reply.content,
        r#"{"templateIdentifier":"flights0001","listTitle":"Flight","selectionText":"Purchase Ticket"}"#
    );
}

#[test]
fn quick_reply_buttons_shape() {
    let r = rendered(&picker_json("QuickReply", &["Yes".into(), "No".into()]));
    let key = &r.menu.as_ref().unwrap().key;
    assert_eq!(key.len(), 8);
    assert_eq!(
        r.message.to_value(),
        json!({"type": "interactive", "interactive": {"type": "button",
            "body": {"text": "Pick one"},
            "action": {"buttons": [
                {"type": "reply", "reply": {"id": format!("{key}.1"), "title": "Yes"}},
                {"type": "reply", "reply": {"id": format!("{key}.2"), "title": "No"}}]}}})
    );
}

#[test]
fn fixtures_render_natively() {
    let list = rendered(&fixture("listpicker"));
    assert_valid(&list.message);
    assert_eq!(
        body_of(&list.message),
        "What produce would you like to buy?\nTap to select option"
    );
    let rows = list_rows(&list.message);
    assert_eq!(
        rows.iter()
            .map(|r| (r.title.as_str(), r.description.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("Apple", Some("$1.00")),
            ("Orange", Some("$1.50")),
            ("Banana", Some("$10.00"))
        ]
    );

    let panel = rendered(&fixture("panel"));
    assert_valid(&panel.message);
    let rows = list_rows(&panel.message);
    assert_eq!(rows[0].title, "Check self-service opti…");
    assert_eq!(rows[0].description.as_deref(), Some("Check self-service options"));
    assert_eq!(rows[1].title, "Talk to an agent");
    assert_eq!(rows[1].description, None);
    assert_eq!(
        to_connect(answer(panel.menu.as_ref(), &list_tap(&rows[0].id, &rows[0].title))),
        ConnectMessage::text("Check self-service options")
    );

    let quick = rendered(&fixture("quickreply"));
    assert_valid(&quick.message);
    assert_eq!(list_rows(&quick.message).len(), 5);

    let time = rendered(&fixture("timepicker"));
    assert_valid(&time.message);
    assert_eq!(
        list_sections(&time.message),
        [
            (
                Some("Wed, Nov 12 (UTC-5)".to_owned()),
                vec!["12:00 PM – 1:00 PM".to_owned()]
            ),
            (
                Some("Thu, Nov 13 (UTC-5)".to_owned()),
                vec!["8:00 AM – 9:00 AM".to_owned(), "11:00 AM – 12:00 PM".to_owned()]
            ),
        ]
    );
    assert_eq!(
        body_of(&time.message),
        "Schedule appointment\nTap to select option\n\n📍 Oscar\nhttps://maps.google.com/?q=47.616299,-122.4311"
    );
    let first = &list_rows(&time.message)[0];
    assert_eq!(
        to_connect(answer(time.menu.as_ref(), &list_tap(&first.id, &first.title))),
        ConnectMessage::text("2025-11-12T17:00+00:00")
    );

    let carousel = rendered(&fixture("carousel"));
    assert_valid(&carousel.message);
    assert_eq!(
        list_sections(&carousel.message),
        [
            (
                Some("Flight".to_owned()),
                vec!["Purchase Ticket".to_owned(), "View All Destinations".to_owned()]
            ),
            (
                Some("Dining".to_owned()),
                vec!["Book Table".to_owned(), "View Popular Entrees".to_owned()]
            ),
        ]
    );
    assert_eq!(
        body_of(&carousel.message),
        "Explore our travel resources\n\n🔗 Flight · Learn More: https://example.com"
    );
}

#[test]
fn long_and_emoji_titles_are_cut_whole_and_answered_in_full() {
    let titles: Vec<String> = (1..=4)
        .map(|i| format!("👨‍👩‍👧‍👦 Family plan {i} with a rather long name that keeps going 🇪🇸🇲🇽"))
        .collect();
    for n in [2, 3, 4] {
        for kind in ["ListPicker", "Panel", "QuickReply"] {
            let r = rendered(&picker_json(kind, &titles[..n]));
            assert_eq!(style(&r), (MenuStyle::List, 0), "too long for buttons");
            assert_valid(&r.message);
            for (row, full) in list_rows(&r.message).iter().zip(&titles) {
                let shown = row.title.strip_suffix(ELLIPSIS).unwrap();
                let shown_graphemes: Vec<&str> = shown.graphemes(true).collect();
                let full_graphemes: Vec<&str> = full.graphemes(true).take(shown_graphemes.len()).collect();
                assert_eq!(shown_graphemes, full_graphemes);
                assert!(full.starts_with(shown));
                assert_eq!(
                    to_connect(answer(r.menu.as_ref(), &list_tap(&row.id, &row.title))),
                    ConnectMessage::text(full)
                );
            }
        }
    }
    // Ten pizzas are 20 UTF-16 units: they still fit a button; eleven do not.
    let exact = rendered(&picker_json("QuickReply", &["🍕".repeat(10), "No".into()]));
    assert_eq!(style(&exact), (MenuStyle::Buttons, 0));
    let over = rendered(&picker_json("QuickReply", &["🍕".repeat(11), "No".into()]));
    assert_eq!(style(&over), (MenuStyle::List, 0));
    assert_valid(&over.message);
}

#[test]
fn buttons_need_unique_titles_and_no_descriptions() {
    let same = rendered(&picker_json("QuickReply", &["Yes".into(), "yes".into()]));
    assert_eq!(style(&same), (MenuStyle::List, 0));
    let subtitled = json!({"templateType": "ListPicker", "data": {"content": {"title": "Fruit",
        "elements": [{"title": "Apple", "subtitle": "$1"}, {"title": "Pear"}]}}});
    assert_eq!(style(&rendered(&subtitled.to_string())), (MenuStyle::List, 0));
}

#[test]
fn images_become_button_headers_only() {
    let content = |n: usize| {
        let elements: Vec<Value> = titles(n).iter().map(|t| json!({"title": t})).collect();
        json!({"templateType": "ListPicker", "data": {"content": {"title": "Fruit", "imageType": "URL",
            "imageData": "https://example.com/fruit.jpg", "elements": elements}}})
        .to_string()
    };
    let buttons = rendered(&content(2));
    let OutgoingBody::Interactive {
        interactive: InteractiveBody::Button { header, .. },
    } = &buttons.message
    else {
        panic!("not buttons")
    };
    assert_eq!(
        header,
        &Some(Header::Image {
            image: MediaLink {
                link: "https://example.com/fruit.jpg".into()
            }
        })
    );
    let list = rendered(&content(4));
    assert_valid(&list.message);
    assert_eq!(list.message.to_value()["interactive"].get("header"), None);
    let not_url = json!({"templateType": "Panel", "data": {"content": {"title": "T", "imageType": "BASE64",
        "imageData": "https://example.com/x.jpg", "elements": [{"title": "A"}]}}});
    match parse(&not_url.to_string()).unwrap() {
        Template::Panel(p) => assert_eq!(p.image, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn paging_through_more_options() {
    let titles = titles(25);
    let r = rendered(&picker_json("ListPicker", &titles));
    let menu = r.menu.clone().unwrap();
    assert_eq!(menu.pages.len(), 3);
    assert_eq!(r.message, menu.pages[0]);
    let page_rows: Vec<Vec<Row>> = menu.pages.iter().map(list_rows).collect();
    assert_eq!(page_rows.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 7]);
    let more = page_rows[0].last().unwrap();
    assert_eq!(more.title, "More options");
    assert_eq!(more.description.as_deref(), Some("10–18 / 25"));
    assert!(body_of(&menu.pages[0]).ends_with("(1/3)"));
    assert!(body_of(&menu.pages[2]).ends_with("(3/3)"));
    assert_eq!(
        answer(Some(&menu), &list_tap(&more.id, &more.title)),
        Some(Answer::Page(menu.pages[1].clone()))
    );
    let more2 = page_rows[1].last().unwrap();
    assert_eq!(
        answer(Some(&menu), &list_tap(&more2.id, &more2.title)),
        Some(Answer::Page(menu.pages[2].clone()))
    );
    assert!(page_rows[2].iter().all(|r| !r.id.contains("more")));
    // An older page's rows still answer after the next page was sent.
    let twelfth = &page_rows[1][2];
    assert_eq!(
        to_connect(answer(Some(&menu), &list_tap(&twelfth.id, &twelfth.title))),
        ConnectMessage::text("Option 12")
    );
}

#[test]
fn numbered_menus_answer_typed_numbers() {
    let options = RenderOptions {
        overflow: Overflow::Numbered,
        ..RenderOptions::default()
    };
    let titles = titles(11);
    let r = render_content(&picker_json("Panel", &titles), &options)
        .unwrap()
        .unwrap();
    assert_valid(&r.message);
    let menu = r.menu.as_ref().unwrap();
    assert_eq!(menu.style, MenuStyle::Numbered);
    let body = body_of(&r.message);
    assert!(
        body.starts_with("Pick one\n\nReply with a number:\n1. Option 1\n2. Option 2\n"),
        "{body}"
    );
    assert!(body.ends_with("\n11. Option 11"));
    for (typed, expected) in [
        ("11", "Option 11"),
        (" 2. ", "Option 2"),
        ("#3", "Option 3"),
        ("4)", "Option 4"),
    ] {
        assert_eq!(
            to_connect(answer(Some(menu), &Content::Text { body: typed.into() })),
            ConnectMessage::text(expected)
        );
    }
    for typed in ["0", "12", "two", "", "2 please", "99999"] {
        assert_eq!(
            answer(Some(menu), &Content::Text { body: typed.into() }),
            None,
            "{typed:?}"
        );
    }
    let list = rendered(&picker_json("Panel", &titles[..4]));
    assert_eq!(answer(list.menu.as_ref(), &Content::Text { body: "2".into() }), None);
    assert_eq!(answer(None, &Content::Text { body: "2".into() }), None);
}

#[test]
fn numbered_time_slots_are_grouped_by_day() {
    let r = rendered(&time_picker_json(11));
    let body = body_of(&r.message);
    assert!(
        body.starts_with("When?\n\nReply with a number:\n*Wed, Nov 12 (UTC-5)*\n1. 4:00 AM – 4:30 AM\n"),
        "{body}"
    );
    assert!(
        body.contains("\n*Thu, Nov 13 (UTC-5)*\n9. 4:00 AM – 4:30 AM\n"),
        "{body}"
    );
}

#[test]
fn numbered_text_shrinks_titles_to_fit() {
    let options = RenderOptions {
        overflow: Overflow::Numbered,
        ..RenderOptions::default()
    };
    let titles: Vec<String> = (1..=40).map(|i| format!("{i} {}", "long words ".repeat(30))).collect();
    let r = render_content(&picker_json("ListPicker", &titles), &options)
        .unwrap()
        .unwrap();
    assert_valid(&r.message);
    assert!(body_of(&r.message).contains("\n40. 40 long"));
    assert_eq!(r.menu.unwrap().options[39].reply, ConnectMessage::text(&titles[39]));
}

#[test]
fn list_picker_pagination_answers_like_the_widget() {
    let content = json!({"templateType": "ListPicker", "version": "1.0", "data": {"content": {
        "title": "Fruit", "listId": "l-1", "referenceId": "r-1", "preIndex": 0, "nextIndex": 3,
        "elements": [{"title": "Apple"}, {"title": "Pear"}, {"title": "Plum"},
                     {"title": "Show more", "actionDetail": "SHOW_MORE"}]}}});
    let r = rendered(&content.to_string());
    let menu = r.menu.as_ref().unwrap();
    let rows = list_rows(&r.message);
    assert_eq!(rows[3].title, "Show more");
    assert_eq!(
        to_connect(answer(Some(menu), &list_tap(&rows[3].id, "Show more"))),
        ConnectMessage::interactive_response(
            r#"{"version":"1.0","data":{"actionName":"SHOW_MORE","preIndex":0,"nextIndex":3,"listId":"l-1","templateType":"ListPicker","referenceId":"r-1"},"action":"SHOW_MORE"}"#
        )
    );
    assert_eq!(
        to_connect(answer(Some(menu), &list_tap(&rows[0].id, "Apple"))),
        ConnectMessage::text("Apple")
    );
}

#[test]
fn unknown_stale_and_template_taps_fall_back_to_the_title() {
    let r = rendered(&picker_json("QuickReply", &["Yes".into(), "No".into()]));
    let menu = r.menu.as_ref().unwrap();
    let other = rendered(&picker_json("QuickReply", &["Sí".into(), "No".into()]));
    let stale_id = &other.menu.as_ref().unwrap().options[0].id;
    assert_eq!(
        to_connect(answer(Some(menu), &button_tap(stale_id, "Sí"))),
        ConnectMessage::text("Sí")
    );
    assert_eq!(
        to_connect(answer(None, &button_tap("whatever", "Yes"))),
        ConnectMessage::text("Yes")
    );
    assert_eq!(
        to_connect(answer(
            Some(menu),
            &button_tap(&format!("{}.more1", menu.key), "More options")
        )),
        ConnectMessage::text("More options")
    );
    let template_tap = |payload: Option<&str>| Content::Button {
        payload: payload.map(str::to_owned),
        text: "Yes please".into(),
    };
    assert_eq!(
        to_connect(answer(Some(menu), &template_tap(Some(&menu.options[1].id)))),
        ConnectMessage::text("No")
    );
    assert_eq!(
        to_connect(answer(Some(menu), &template_tap(Some("RESTART")))),
        ConnectMessage::text("Yes please")
    );
    assert_eq!(
        to_connect(answer(None, &template_tap(None))),
        ConnectMessage::text("Yes please")
    );
    assert_eq!(
        answer(
            Some(menu),
            &Content::Interactive(InteractiveReply::Flow {
                name: None,
                response_json: None
            })
        ),
        None
    );
}

#[test]
fn menu_survives_storage() {
    for content in [
        picker_json("Panel", &titles(25)),
        fixture("carousel"),
        time_picker_json(11),
    ] {
        let menu = rendered(&content).menu.unwrap();
        let stored = serde_json::to_string(&menu).unwrap();
        assert_eq!(serde_json::from_str::<Menu>(&stored).unwrap(), menu);
    }
}

#[test]
fn same_template_same_key_different_template_different_key() {
    let a = rendered(&fixture("panel")).menu.unwrap().key;
    assert_eq!(a, rendered(&fixture("panel")).menu.unwrap().key);
    assert_ne!(a, rendered(&fixture("quickreply")).menu.unwrap().key);
}

#[test]
fn templates_without_options() {
    let links = json!({"templateType": "Panel", "data": {"content": {"title": "Read more",
        "elements": [{"title": "Docs", "type": "hyperlink", "url": "https://example.com/docs"}]}}});
    let r = rendered(&links.to_string());
    assert_eq!(r.menu, None);
    assert_eq!(
        r.message,
        OutgoingBody::Text {
            text: MessageText {
                body: "Read more\n\n🔗 Docs: https://example.com/docs".into(),
                preview_url: Some(true)
            }
        }
    );
    let view = json!({"templateType": "ViewResource", "version": "1.0", "data": {"content": {"viewId": "v"}}});
    assert_eq!(
        render_content(&view.to_string(), &RenderOptions::default()).unwrap(),
        None
    );
    let titled = json!({"templateType": "Fancy", "data": {"content": {"title": "Hello there"}}});
    assert_eq!(rendered(&titled.to_string()).message, OutgoingBody::text("Hello there"));
}

#[test]
fn unreadable_slots_still_answer_with_their_date() {
    let content = json!({"templateType": "TimePicker", "data": {"content": {"title": "When?",
        "timeslots": [{"date": "someday", "duration": 30}, {"date": "2025-11-12T17:00Z", "duration": 30}]}}});
    let r = rendered(&content.to_string());
    assert_valid(&r.message);
    let rows = list_rows(&r.message);
    assert_eq!(rows[1].title, "someday");
    assert_eq!(
        to_connect(answer(r.menu.as_ref(), &list_tap(&rows[1].id, "someday"))),
        ConnectMessage::text("someday")
    );
}
