//! Handoff message tests: Connect's stream fixtures as the bot receives them, and the bot's messages as
//! the chat receives them, answers to interactive messages equal to the WhatsApp path's.

use super::*;
use crate::connect_stream::Attachment;
use crate::content_type::INTERACTIVE_RESPONSE;
use crate::ids::{ContactId, ItemId};
use crate::translate::{InboundAction, InboundState, OutboundPlan, plan_message, plan_outbound};
use crate::whatsapp::{Content as WhatsappContent, InteractiveReply};
use serde_json::{Value, json};

use crate::test_fixtures::stream_item as fixture;

/// An item said by `role`, for the cases no fixture covers.
fn item(item_type: ItemType, content_type: &str, content: &str, role: Role) -> StreamItem {
    StreamItem {
        id: ItemId::parse("i1").unwrap(),
        item_type,
        content_type: content_type.to_owned(),
        content: Some(content.to_owned()),
        role: Some(role),
        display_name: Some("Ana".to_owned()),
        initial_contact_id: ContactId::parse("c1").unwrap(),
        contact_id: ContactId::parse("c1").unwrap(),
        visibility: Visibility::All,
        attachments: vec![],
        absolute_time_ms: None,
    }
}

fn interactive(content: Value) -> StreamItem {
    let mut item = item(ItemType::Message, INTERACTIVE, &content.to_string(), Role::System);
    item.display_name = Some(LEX_DISPLAY_NAME.to_owned());
    item
}

fn one(item: &StreamItem) -> (MessageData, Option<OfferedChoice>) {
    let mut for_bot = for_bot(item).expect("owed to the bot");
    assert_eq!(for_bot.messages.len(), 1);
    (for_bot.messages.remove(0), for_bot.offered)
}

fn choice_of(item: &StreamItem) -> (Choice, OfferedChoice) {
    match one(item) {
        (
            MessageData {
                content: MessageContent::Choice(choice),
                ..
            },
            Some(offered),
        ) => (choice, offered),
        other => panic!("not a choice with options: {other:?}"),
    }
}

/// The menu the WhatsApp path keeps for the same item.
fn whatsapp_menu(item: &StreamItem) -> Menu {
    match plan_outbound(item) {
        OutboundPlan::Send { menu: Some(menu), .. } => menu,
        other => panic!("no menu: {other:?}"),
    }
}

/// What the WhatsApp path sends Connect when the customer taps the option with this id.
fn whatsapp_answer(menu: &Menu, id: &str) -> ConnectMessage {
    let tap = WhatsappContent::Interactive(InteractiveReply::List {
        id: id.to_owned(),
        title: "whatever the customer saw".to_owned(),
        description: None,
    });
    let state = InboundState {
        menu: Some(menu),
        ..Default::default()
    };
    match plan_message(&tap, None, &state) {
        InboundAction::Send { content_type, content } => ConnectMessage { content_type, content },
        other => panic!("not sent: {other:?}"),
    }
}

#[test]
fn texts_and_markdown_reach_the_bot_as_given_with_who_said_them() {
    let (data, offered) = one(&fixture("agent-message"));
    assert_eq!(offered, None);
    let json = serde_json::to_value(&data).unwrap();
    assert_eq!(json["sender"], json!({"role": "agent", "name": "Ana"}));
    assert_eq!(json["content"]["type"], "text");
    assert_eq!(json["message_id"], fixture("agent-message").id.as_str());
    assert!(json["sent_at"].as_str().unwrap().ends_with('Z'));

    let (data, _) = one(&fixture("agent-markdown"));
    assert_eq!(
        data.content,
        MessageContent::Markdown {
            markdown: "**Pasos:**\n1. Abre la app\n2. Ve a *Pedidos*".into()
        }
    );
    assert_eq!(data.sent_at.as_deref(), Some("2025-11-11T07:30:00.301Z"));

    let (data, _) = one(&fixture("system-message"));
    assert_eq!(
        serde_json::to_value(&data.sender).unwrap(),
        json!({"role": "system"}),
        "a flow's placeholder name is no name"
    );
    let (data, _) = one(&fixture("listpicker"));
    assert_eq!(serde_json::to_value(&data.sender).unwrap(), json!({"role": "bot"}));

    let supervisor = item(ItemType::Message, TEXT_PLAIN, "Hi", Role::Supervisor);
    assert_eq!(one(&supervisor).0.sender.role, SenderRole::Agent);
}

#[test]
fn what_the_bot_must_not_see_is_withheld_with_a_reason() {
    let withheld = |item: &StreamItem| for_bot(item).err();
    assert_eq!(withheld(&fixture("receipt")), Some(Withheld::Receipt));
    assert_eq!(withheld(&fixture("typing")), Some(Withheld::Event));
    assert_eq!(withheld(&fixture("chat-ended")), Some(Withheld::Event));
    assert_eq!(withheld(&fixture("customer-echo")), Some(Withheld::CustomerEcho));
    let retold = item(ItemType::Message, TEXT_PLAIN, "Which order?", Role::CustomBot);
    assert_eq!(withheld(&retold), Some(Withheld::OwnRetelling));
    let mut transcript = fixture("attachment");
    transcript.role = Some(Role::CustomBot);
    assert_eq!(withheld(&transcript), Some(Withheld::OwnRetelling));

    let mut whisper = item(ItemType::Message, TEXT_PLAIN, "note", Role::Agent);
    whisper.visibility = Visibility::Agent;
    assert_eq!(withheld(&whisper), Some(Withheld::NotCustomerVisible));
    whisper.visibility = Visibility::Unknown;
    assert_eq!(withheld(&whisper), Some(Withheld::NotCustomerVisible));

    let cases = [
        (
            item(ItemType::Message, TEXT_PLAIN, "  ", Role::Agent),
            Withheld::EmptyMessage,
        ),
        (
            item(ItemType::Message, INTERACTIVE, "{not json", Role::System),
            Withheld::MalformedInteractive,
        ),
        (
            item(ItemType::Message, INTERACTIVE_RESPONSE, "{}", Role::Agent),
            Withheld::ContentTypeNotBridged,
        ),
        (
            item(ItemType::Message, TEXT_PLAIN, "Hi", Role::Other("BOT_X".into())),
            Withheld::UnknownSender,
        ),
        (
            item(ItemType::Other("NEW".into()), TEXT_PLAIN, "Hi", Role::Agent),
            Withheld::ItemTypeNotBridged,
        ),
    ];
    for (item, reason) in cases {
        assert_eq!(withheld(&item), Some(reason), "{}", reason.code());
    }
}

#[test]
fn only_the_agents_typing_is_told() {
    assert_eq!(
        serde_json::to_value(typing(&fixture("typing"))).unwrap(),
        json!({"role": "agent"})
    );
    let mut customer = fixture("typing");
    customer.role = Some(Role::Customer);
    assert_eq!(typing(&customer), None);
    assert_eq!(typing(&fixture("agent-message")), None);
    assert_eq!(typing(&fixture("receipt")), None);
}

#[test]
fn an_agents_file_goes_by_attachment_id_with_a_slot_for_its_download() {
    let (data, offered) = one(&fixture("attachment"));
    assert_eq!(offered, None);
    assert_eq!(
        serde_json::to_value(&data).unwrap(),
        json!({
            "message_id": "511c5591-cc32-e0ba-f171-0f8579028487",
            "sender": {"role": "agent", "name": "Ana"},
            "sent_at": "2025-11-11T07:31:10.004Z",
            "content": {
                "type": "file",
                "name": "guia-devolucion.pdf",
                "content_type": "application/pdf",
                "attachment_id": "ee012ba9-7416-bf88-f9cd-c55d0f0461a1"
            }
        })
    );

    let file = |id: &str, status: &str| Attachment {
        content_type: None,
        attachment_id: id.into(),
        attachment_name: None,
        status: Some(status.into()),
    };
    let mut several = item(ItemType::Attachment, "", "", Role::Agent);
    several.attachments = vec![file("a", "APPROVED"), file("b", "REJECTED"), file("c", "APPROVED")];
    let messages = for_bot(&several).unwrap().messages;
    let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["i1:1", "i1:3"], "a rejected file is not passed on");
    assert!(matches!(
        &messages[0].content,
        MessageContent::File(File { name, content_type, download: None, .. })
            if name == DEFAULT_FILE_NAME && content_type == DEFAULT_FILE_TYPE
    ));
    several.attachments = vec![file("b", "REJECTED")];
    assert_eq!(for_bot(&several).err(), Some(Withheld::NoApprovedFile));
}

#[test]
fn a_list_picker_becomes_a_neutral_choice_with_numbered_fallback() {
    let item = fixture("listpicker");
    let (choice, offered) = choice_of(&item);
    let ids: Vec<String> = whatsapp_menu(&item).options.into_iter().map(|o| o.id).collect();
    assert_eq!(
        serde_json::to_value(MessageContent::Choice(choice.clone())).unwrap(),
        json!({
            "type": "choice",
            "template": "list_picker",
            "title": "What produce would you like to buy?",
            "subtitle": "Tap to select option",
            "options": [
                {"id": ids[0], "title": "Apple", "description": "$1.00"},
                {"id": ids[1], "title": "Orange", "description": "$1.50"},
                {"id": ids[2], "title": "Banana", "description": "$10.00"}
            ],
            "fallback_text": "What produce would you like to buy?\nTap to select option\n\n\
                1. Apple — $1.00\n2. Orange — $1.50\n3. Banana — $10.00"
        })
    );
    assert_eq!(offered.choice, choice);
    assert!(offered.menu.pages.is_empty(), "WhatsApp's pages are not stored");

    for (name, template) in [("panel", "panel"), ("quickreply", "quick_reply")] {
        let (choice, _) = choice_of(&fixture(name));
        assert_eq!(serde_json::to_value(choice.template).unwrap(), template);
        assert!(!choice.options.is_empty() && choice.fallback_text.contains("\n1. "));
    }
}

#[test]
fn a_time_picker_offers_its_slots_by_day_and_time() {
    let item = fixture("timepicker");
    let (choice, offered) = choice_of(&item);
    let titles: Vec<&str> = choice.options.iter().map(|o| o.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Wed, Nov 12 (UTC-5), 12:00 PM – 1:00 PM",
            "Thu, Nov 13 (UTC-5), 8:00 AM – 9:00 AM",
            "Thu, Nov 13 (UTC-5), 11:00 AM – 12:00 PM",
        ]
    );
    assert_eq!(
        choice.links,
        [Link {
            title: "Oscar".into(),
            url: "https://maps.google.com/?q=47.616299,-122.4311".into()
        }]
    );
    assert!(
        choice
            .fallback_text
            .ends_with("Oscar: https://maps.google.com/?q=47.616299,-122.4311")
    );
    let id = &choice.options[0].id;
    assert_eq!(
        answer(id, Some(&offered)),
        Ok(ConnectMessage::text("2025-11-12T17:00+00:00"))
    );
    assert_eq!(
        answer(id, Some(&offered)),
        Ok(whatsapp_answer(&whatsapp_menu(&item), id))
    );

    // More slots than a WhatsApp list holds, and one whose date cannot be read (listed last, as written).
    let mut slots: Vec<Value> = (8..20)
        .map(|hour| json!({"date": format!("2025-11-{}T{hour:02}:00Z", 12 + hour % 2), "duration": 30}))
        .collect();
    slots.insert(3, json!({"date": "tomorrow"}));
    let many = interactive(json!({
        "templateType": "TimePicker",
        "data": {"content": {"title": "When?", "timeslots": slots}}
    }));
    let (choice, offered) = choice_of(&many);
    assert_eq!(choice.options.len(), 13);
    assert_eq!(choice.options[0].title, "Wed, Nov 12 (UTC), 8:00 AM – 8:30 AM");
    assert_eq!(choice.options[12].title, "tomorrow");
    assert!(choice.options[..12].iter().all(|o| o.title.contains(" (UTC), ")));
    assert!(choice.fallback_text.contains("\n13. tomorrow"));
    assert_eq!(
        answer(&choice.options[12].id, Some(&offered)),
        Ok(ConnectMessage::text("tomorrow"))
    );
}

#[test]
fn a_carousel_shows_its_panels_and_answers_as_connects_widget() {
    let item = fixture("carousel");
    let (choice, offered) = choice_of(&item);
    let titles = |options: &[ChoiceOption]| options.iter().map(|o| o.title.clone()).collect::<Vec<_>>();
    assert_eq!(
        titles(&choice.options),
        [
            "Purchase Ticket",
            "View All Destinations",
            "Book Table",
            "View Popular Entrees"
        ]
    );
    assert_eq!(choice.panels.len(), 2);
    assert_eq!(
        titles(&choice.panels[1].options),
        ["Book Table", "View Popular Entrees"]
    );
    assert_eq!(choice.panels[1].options[0], choice.options[2]);
    assert_eq!(choice.panels[0].links.len(), 1);
    assert_eq!(choice.links, choice.panels[0].links);
    assert_eq!(
        choice.fallback_text,
        "Explore our travel resources\n\n\
         Flight\nSelect an option:\n1. Purchase Ticket\n2. View All Destinations\nLearn More: https://example.com\n\n\
         Dining\nSelect an option:\n3. Book Table\n4. View Popular Entrees"
    );
    let id = &choice.options[2].id;
    let Ok(reply) = answer(id, Some(&offered)) else {
        panic!("not answered")
    };
    assert_eq!(
        serde_json::from_str::<Value>(&reply.content).unwrap(),
        json!({"templateIdentifier": "dining0002", "listTitle": "Dining", "selectionText": "Book Table"})
    );
    assert_eq!(reply, whatsapp_answer(&whatsapp_menu(&item), id));
}

#[test]
fn an_unknown_template_is_shown_by_its_title_never_dropped() {
    let (data, offered) = one(&interactive(json!({
        "templateType": "ViewResource",
        "data": {"content": {"title": "Your invoice"}}
    })));
    assert_eq!(offered, None, "nothing to answer");
    assert_eq!(
        serde_json::to_value(&data.content).unwrap(),
        json!({"type": "choice", "template": "other", "title": "Your invoice", "options": [],
               "fallback_text": "Your invoice"})
    );
    let (data, _) = one(&interactive(json!({"templateType": "Mystery"})));
    let MessageContent::Choice(choice) = data.content else {
        panic!("not a choice")
    };
    assert_eq!(choice.fallback_text, UNREADABLE_CHOICE_TEXT);
}

#[test]
fn the_bots_files_go_into_the_chat_as_connect_takes_them() {
    assert_eq!(
        upload("../../invoice.PDF", "application/octet-stream"),
        Ok(Upload {
            name: "invoice.PDF".into(),
            content_type: "application/pdf",
        }),
        "a safe name, and the type its extension says when the bot's is generic"
    );
    assert_eq!(upload("..", "application/pdf").unwrap_err().field(), "file.name");
    assert_eq!(
        upload("voice.ogg", "audio/ogg").unwrap_err().field(),
        "file.content_type"
    );
}

#[test]
fn an_option_answers_only_the_choice_waiting_for_it() {
    let (list, offered) = choice_of(&fixture("listpicker"));
    let (_, older) = choice_of(&fixture("panel"));
    let refused = answer(&list.options[0].id, Some(&older)).unwrap_err();
    assert_eq!((refused, refused.field()), (Invalid::UnknownOption, "option_id"));
    assert_eq!(answer("1", Some(&offered)), Err(Invalid::UnknownOption));
    let nothing = answer(&list.options[0].id, None).unwrap_err();
    assert_eq!((nothing, nothing.field()), (Invalid::NothingToAnswer, "option_id"));
    assert!(
        !refused.to_string().contains(&list.options[0].id),
        "the message names the field only"
    );
}

#[test]
fn round_trip_an_agents_list_picker_answered_by_the_bot_as_by_a_whatsapp_customer() {
    let item = fixture("listpicker");
    let (choice, offered) = choice_of(&item);

    // The service keeps the offer until the bot answers, and reads it back.
    let stored = serde_json::to_string(&offered).unwrap();
    let offered: OfferedChoice = serde_json::from_str(&stored).unwrap();
    let sent = serde_json::to_value(MessageContent::Choice(choice.clone())).unwrap();
    assert_eq!(
        serde_json::from_value::<MessageContent>(sent).unwrap(),
        MessageContent::Choice(choice.clone())
    );

    // The bot answers option 2 by its id.
    let option = &choice.options[1];
    assert_eq!(option.title, "Orange");
    let Ok(reply) = answer(&option.id, Some(&offered)) else {
        panic!("not answered")
    };
    assert_eq!(reply, ConnectMessage::text("Orange"), "what Connect's widget sends");
    assert_eq!(reply, whatsapp_answer(&whatsapp_menu(&item), &option.id));
}
