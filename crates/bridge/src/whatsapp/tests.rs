//! Parsing what EUM publishes: every message type, statuses, and each malformed layer's reason.

use super::*;
use serde_json::json;

fn eum(entry: Value) -> String {
    json!({
        "context": {"MetaWabaIds": [], "MetaPhoneNumberIds": [{"metaPhoneNumberId": "106540352242922",
            "arn": "arn:aws:social-messaging:us-east-1:123456789012:phone-number-id/976c72a700aac43eaf573ae050b1e2f3"}]},
        "whatsAppWebhookEntry": entry.to_string(),
        "aws_account_id": "123456789012",
        "message_timestamp": "2025-11-11T06:51:23.476795989Z"
    })
    .to_string()
}

fn one_message(message: Value) -> Result<Inbound, Rejection> {
    let entry = json!({"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Sheena"}, "wa_id": "16505551234"}],
        "messages": [message]}}]});
    let mut event = parse_eum(&eum(entry)).unwrap();
    event.changes.remove(0).items.remove(0)
}

fn base(kind: &str, body: Value) -> Value {
    let mut m = json!({"from": "16505551234", "id": "wamid.A1", "timestamp": "1762843882", "type": kind});
    m[kind] = body;
    m
}

#[test]
fn text_with_sender_name_and_origination() {
    let entry = json!({"id": "1", "changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Sheena"}, "wa_id": "16505551234"}],
        "messages": [base("text", json!({"body": "Hola"}))]}}]});
    let event = parse_eum(&eum(entry)).unwrap();
    let change = &event.changes[0];
    assert_eq!(
        change.origination_id.as_ref().unwrap().as_str(),
        "phone-number-id-976c72a700aac43eaf573ae050b1e2f3"
    );
    let Ok(Inbound::Message(m)) = &change.items[0] else {
        panic!("not a message")
    };
    assert_eq!(m.profile_name.as_deref(), Some("Sheena"));
    assert_eq!(m.timestamp, 1762843882);
    assert_eq!(m.content, Content::Text { body: "Hola".into() });
}

#[test]
fn messages_know_when_eum_received_them_in_the_order_of_the_event() {
    let entry = json!({"id": "1", "changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "106540352242922"},
        "messages": [base("text", json!({"body": "1"})), base("text", json!({"body": "2"}))]}}]});
    let received = |header: &str| {
        let event = parse_eum(header).unwrap();
        event.changes[0]
            .items
            .iter()
            .map(|item| match item {
                Ok(Inbound::Message(m)) => m.received_ns,
                other => panic!("not a message: {other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let at = 1_762_843_883_476_795_989;
    assert_eq!(received(&eum(entry.clone())), [Some(at), Some(at + 1)]);
    // An ordering aid only: without a readable time the messages still go.
    let mut header: Value = serde_json::from_str(&eum(entry)).unwrap();
    header["message_timestamp"] = json!("yesterday");
    assert_eq!(received(&header.to_string()), [None, None]);
    header.as_object_mut().unwrap().remove("message_timestamp");
    assert_eq!(received(&header.to_string()), [None, None]);
}

#[test]
fn every_type_parses() {
    let cases = [
        base("image", json!({"id": "1", "mime_type": "image/jpeg", "caption": "c"})),
        base(
            "audio",
            json!({"id": "2", "mime_type": "audio/ogg; codecs=opus", "voice": true}),
        ),
        base("video", json!({"id": "3"})),
        base("document", json!({"id": "4", "filename": "a.pdf"})),
        base(
            "sticker",
            json!({"id": "5", "mime_type": "image/webp", "animated": false}),
        ),
        base("location", json!({"latitude": 1.5, "longitude": -2.0, "name": "Home"})),
        base("contacts", json!([{"name": {"formatted_name": "A"}}])),
        base(
            "interactive",
            json!({"type": "button_reply", "button_reply": {"id": "b", "title": "Yes"}}),
        ),
        base(
            "interactive",
            json!({"type": "list_reply", "list_reply": {"id": "l", "title": "T"}}),
        ),
        base(
            "interactive",
            json!({"type": "nfm_reply", "nfm_reply": {"name": "flow", "response_json": "{}"}}),
        ),
        base("button", json!({"payload": "p", "text": "Yes"})),
        base("reaction", json!({"message_id": "wamid.X", "emoji": "👍"})),
        base("order", json!({"catalog_id": "c", "product_items": [{}, {}]})),
        base("system", json!({"body": "changed number"})),
        base("unsupported", json!({"type": "poll_creation"})),
        base("hologram", json!({})),
    ];
    let kinds: Vec<String> = cases
        .into_iter()
        .map(|m| match one_message(m).unwrap() {
            Inbound::Message(m) => m.content.kind().to_owned(),
            Inbound::Status(_) => panic!("status"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "image",
            "audio",
            "video",
            "document",
            "sticker",
            "location",
            "contacts",
            "interactive",
            "interactive",
            "interactive",
            "button",
            "reaction",
            "order",
            "system",
            "unsupported",
            "hologram"
        ]
    );
}

#[test]
fn voice_note_and_removed_reaction() {
    let Inbound::Message(m) = one_message(base("audio", json!({"id": "2", "voice": true}))).unwrap() else {
        panic!()
    };
    let Content::Media(media) = m.content else { panic!() };
    assert!(media.voice);
    assert_eq!(media.kind, MediaKind::Audio);
    let Inbound::Message(m) = one_message(base("reaction", json!({"message_id": "wamid.X"}))).unwrap() else {
        panic!()
    };
    assert_eq!(
        m.content,
        Content::Reaction {
            message_id: "wamid.X".into(),
            emoji: None
        }
    );
}

#[test]
fn malformed_layers_have_reasons() {
    assert_eq!(parse_eum("not json").unwrap_err().code, "malformed_eum_header");
    assert_eq!(
        parse_eum(&json!({"whatsAppWebhookEntry": "{"}).to_string())
            .unwrap_err()
            .code,
        "malformed_webhook_entry"
    );
    assert_eq!(one_message(json!({"id": "x"})).unwrap_err().code, "malformed_message");
    assert_eq!(
        one_message(base("text", json!({"nobody": 1}))).unwrap_err().code,
        "malformed_message"
    );
    let mut bad_time = base("text", json!({"body": "x"}));
    bad_time["timestamp"] = json!("yesterday");
    assert_eq!(one_message(bad_time).unwrap_err().code, "malformed_message");
}

#[test]
fn statuses_parse_with_errors() {
    let entry = json!({"id": "1", "changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "106540352242922"},
        "statuses": [{"id": "wamid.S", "status": "failed", "timestamp": "1750857384",
            "recipient_id": "16505551234", "errors": [{"code": 131047, "title": "Re-engagement message"}]}]}}]});
    let event = parse_eum(&eum(entry)).unwrap();
    let Ok(Inbound::Status(s)) = &event.changes[0].items[0] else {
        panic!()
    };
    assert_eq!(s.status, "failed");
    assert_eq!(s.errors[0].code, 131047);
}

#[test]
fn business_scoped_user_ids_key_the_customer_and_the_phone_is_kept_for_replies() {
    let entry = |contact: Value, message: Value| {
        json!({"id": "1", "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "106540352242922"},
            "contacts": [contact], "messages": [message]}}]})
    };
    let mut both = base("text", json!({"body": "Hola"}));
    both["from_user_id"] = json!("US.13491208655302741918");
    let event = parse_eum(&eum(entry(
        json!({"profile": {"name": "Sheena"}, "wa_id": "16505551234", "user_id": "US.13491208655302741918"}),
        both,
    )))
    .unwrap();
    let Ok(Inbound::Message(m)) = &event.changes[0].items[0] else {
        panic!("not a message")
    };
    assert_eq!(m.customer_id.as_str(), "US.13491208655302741918");
    assert_eq!(m.phone.as_ref().map(CustomerId::as_str), Some("16505551234"));
    assert_eq!(m.reply_to().as_str(), "16505551234");
    assert_eq!(m.profile_name.as_deref(), Some("Sheena"));
    // After adopting a username the number is withheld: same customer, replies by user id.
    let hidden = json!({"from_user_id": "US.13491208655302741918", "id": "wamid.A2",
                        "timestamp": "1762843890", "type": "text", "text": {"body": "Sigo aquí"}});
    let event = parse_eum(&eum(entry(
        json!({"profile": {"name": "@sheena"}, "user_id": "US.13491208655302741918"}),
        hidden,
    )))
    .unwrap();
    let Ok(Inbound::Message(m)) = &event.changes[0].items[0] else {
        panic!("not a message")
    };
    assert_eq!(m.customer_id.as_str(), "US.13491208655302741918");
    assert_eq!(m.phone, None);
    assert_eq!(m.reply_to().as_str(), "US.13491208655302741918");
    assert_eq!(m.profile_name.as_deref(), Some("@sheena"));
}
