//! Issue #5: a conversation that feels native on both sides, through the real handlers and the twin.
//! Every scenario asserts on both transcripts: what Connect holds (`GET /_twin/contacts`) and what
//! WhatsApp was sent (`GET /_twin/whatsapp/sent`).

use e2e::{GREETING, TestStack, Twin, customer_texts};
use serde_json::{Value, json};

const INTERACTIVE: &str = "application/vnd.amazonaws.connect.message.interactive";

/// The customer opens a chat and an agent joins; returns the contact id.
async fn open_chat(twin: &Twin, wa_id: &str) -> String {
    let (_, first) = twin.customer_texts(wa_id, "Hi").await;
    assert!(first.ok, "{first:?}");
    twin.settle().await;
    let contact_id = twin.contacts_of(wa_id).await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    twin.agent(&contact_id, json!({"action": "join", "display_name": "Ana"}))
        .await;
    contact_id
}

/// Every send to WhatsApp (messages, read marks, typing), in order.
async fn all_sent(twin: &Twin) -> Vec<Value> {
    twin.get("/whatsapp/sent").await.as_array().cloned().unwrap_or_default()
}

async fn contact(twin: &Twin, contact_id: &str) -> Value {
    twin.contacts()
        .await
        .into_iter()
        .find(|c| c["contact_id"] == contact_id)
        .expect("contact")
}

fn list_picker(titles: &[String]) -> String {
    let elements: Vec<Value> = titles.iter().map(|t| json!({"title": t})).collect();
    json!({"templateType": "ListPicker", "version": "1.0",
           "data": {"content": {"title": "Which one?", "elements": elements}}})
    .to_string()
}

/// The (id, title) of every option of an interactive WhatsApp message.
fn options_of(message: &Value) -> Vec<(String, String)> {
    let interactive = &message["interactive"];
    let pair = |v: &Value, id: &str| {
        (
            v[id]["id"].as_str().unwrap().to_owned(),
            v[id]["title"].as_str().unwrap().to_owned(),
        )
    };
    match interactive["type"].as_str() {
        Some("button") => interactive["action"]["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| pair(b, "reply"))
            .collect(),
        Some("list") => interactive["action"]["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["rows"].as_array().unwrap().iter())
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_owned(),
                    r["title"].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
        other => panic!("not interactive: {other:?} {message}"),
    }
}

async fn tap(twin: &Twin, wa_id: &str, kind: &str, id: &str, title: &str) {
    let reply = if kind == "button" { "button_reply" } else { "list_reply" };
    let (_, outcome) = twin
        .customer_sends(
            wa_id,
            json!({"type": "interactive", "interactive": {"type": reply, reply: {"id": id, "title": title}}}),
        )
        .await;
    assert!(outcome.ok, "{outcome:?}");
    twin.settle().await;
}

#[tokio::test]
async fn agent_markdown_is_whatsapp_formatting_and_long_texts_arrive_split_in_order_both_ways() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let wa = "14255550601";
    let contact_id = open_chat(twin, wa).await;
    twin.agent(
        &contact_id,
        json!({"action": "message", "content_type": "text/markdown",
               "content": "**Bold** and _italic_ and ~~gone~~ and `code`"}),
    )
    .await;
    let paragraphs: Vec<String> = (0..3)
        .map(|i| format!("Paragraph {i}. {}", "word ".repeat(700).trim()))
        .collect();
    let long = paragraphs.join("\n\n");
    assert!(long.chars().count() > 4096 * 2);
    let invocations = twin
        .agent(&contact_id, json!({"action": "message", "content": long}))
        .await;
    assert!(invocations.iter().all(|i| i.ok), "{invocations:?}");

    let texts = twin.texts_to(wa).await;
    assert_eq!(
        texts[..3],
        [
            GREETING,
            "Ana has joined the chat.",
            "*Bold* and _italic_ and ~gone~ and `code`"
        ]
    );
    let parts = &texts[3..];
    assert!(parts.len() >= 3, "{}", parts.len());
    for part in parts {
        assert!(part.encode_utf16().count() <= 4096);
    }
    // In order and nothing lost: the parts are the original, cut only at whitespace.
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(squash(&parts.join(" ")), squash(&long));
    // Connect's transcript holds the agent's text once, as written.
    let agent_texts = e2e::transcript_texts(&contact(twin, &contact_id).await, "AGENT");
    assert_eq!(agent_texts.len(), 2);

    // The other way: a WhatsApp-maximum text (4096 characters) is more than a Connect chat message holds
    // (1024, which the twin enforces as the API reference does), so it reaches the agent in parts, in order.
    let complaint = "Mi pedido 🚚 no llegó y nadie contesta. ".repeat(103);
    let complaint = complaint.trim_end();
    assert!(complaint.chars().count() <= 4096 && complaint.chars().count() > 3 * 1024);
    let (_, sent) = twin.customer_texts(wa, complaint).await;
    assert!(sent.ok, "{sent:?}");
    let delivered = customer_texts(&contact(twin, &contact_id).await);
    assert_eq!(delivered[0], "Hi");
    let parts = &delivered[1..];
    assert_eq!(
        parts.len(),
        4,
        "{:?}",
        parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>()
    );
    assert!(parts.iter().all(|p| p.chars().count() <= 1024));
    assert_eq!(squash(&parts.join(" ")), squash(complaint));
}

#[tokio::test]
async fn interactive_pickers_become_buttons_or_lists_and_taps_reach_connect_as_the_widget_sends_them() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let wa = "14255550602";
    let contact_id = open_chat(twin, wa).await;
    let emoji = "🍎🍐🍊🍋🍌🍉🍇🍓🫐🍈🍒🍑🥭🍍";
    for (n, long_titles) in [
        (2, false),
        (3, false),
        (4, false),
        (10, false),
        (11, false),
        (3, true),
        (11, true),
    ] {
        let titles: Vec<String> = (1..=n)
            .map(|i| {
                if long_titles {
                    format!("Option {i} {emoji} with a title far longer than WhatsApp shows")
                } else {
                    format!("Choice {i}")
                }
            })
            .collect();
        let invocations = twin
            .agent(
                &contact_id,
                json!({"action": "message", "role": "SYSTEM", "content_type": INTERACTIVE, "content": list_picker(&titles)}),
            )
            .await;
        assert!(invocations.iter().all(|i| i.ok), "{invocations:?}");
        let sent = twin.sent_to(wa).await;
        let message = sent.last().unwrap()["message"].clone();
        assert_eq!(message["type"], "interactive", "{n}: {message}");
        assert!(
            !message.to_string().contains("templateType"),
            "raw JSON sent: {message}"
        );
        let kind = message["interactive"]["type"].as_str().unwrap().to_owned();
        let expected_kind = if n <= 3 && !long_titles { "button" } else { "list" };
        assert_eq!(kind, expected_kind, "{n} options");
        let mut options = options_of(&message);
        for (_, title) in &options {
            let limit = if kind == "button" { 20 } else { 24 };
            assert!(title.encode_utf16().count() <= limit, "{title}");
        }
        let mut target = titles.len() - 1;
        if n > 10 {
            // Paged: nine options and "More options"; the customer opens the next page first.
            assert_eq!(options.len(), 10, "{options:?}");
            let (more_id, more_title) = options.last().unwrap().clone();
            assert_eq!(more_title, "More options");
            let before = twin.sent_to(wa).await.len();
            tap(twin, wa, "list", &more_id, &more_title).await;
            let sent = twin.sent_to(wa).await;
            assert_eq!(sent.len(), before + 1, "the next page was sent");
            options = options_of(&sent.last().unwrap()["message"]);
            target = 9 + options.len() - 1;
        }
        let (id, title) = options.last().unwrap().clone();
        tap(twin, wa, &kind, &id, &title).await;
        // Connect receives the option's full title, not the truncated one nor the id.
        let customer = customer_texts(&contact(twin, &contact_id).await);
        assert_eq!(customer.last().unwrap(), &titles[target], "{n} options");
    }
}

#[tokio::test]
async fn a_typed_number_answers_a_numbered_menu_and_a_template_button_answers_with_its_text() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let wa = "14255550603";
    let contact_id = open_chat(twin, wa).await;
    let slots: Vec<Value> = (0..11)
        .map(|i| json!({"date": format!("2025-11-{:02}T17:00+00:00", 12 + i), "duration": 60}))
        .collect();
    let picker = json!({"templateType": "TimePicker", "version": "1.0",
        "data": {"content": {"title": "Schedule appointment", "timeZoneOffset": 0, "timeslots": slots}}});
    twin.agent(
        &contact_id,
        json!({"action": "message", "role": "SYSTEM", "content_type": INTERACTIVE, "content": picker.to_string()}),
    )
    .await;
    let numbered = twin.texts_to(wa).await.last().unwrap().clone();
    assert!(numbered.contains("2."), "{numbered}");
    twin.customer_texts(wa, "2").await;
    twin.settle().await;
    assert_eq!(
        customer_texts(&contact(twin, &contact_id).await).last().unwrap(),
        "2025-11-13T17:00+00:00"
    );
    // The menu is spent: the next "2" is just a number.
    twin.customer_texts(wa, "2").await;
    twin.settle().await;
    assert_eq!(customer_texts(&contact(twin, &contact_id).await).last().unwrap(), "2");
    // A template's quick-reply button answers with its text.
    twin.customer_sends(
        wa,
        json!({"type": "button", "button": {"payload": "p-yes", "text": "Yes, confirm"}}),
    )
    .await;
    twin.settle().await;
    assert_eq!(
        customer_texts(&contact(twin, &contact_id).await).last().unwrap(),
        "Yes, confirm"
    );
}

#[tokio::test]
async fn locations_contacts_replies_and_reactions_read_naturally_and_reactions_open_nothing() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    // A reaction with no chat open is dropped: nothing is started.
    let (_, lone) = twin
        .customer_sends(
            "14255550699",
            json!({"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}}),
        )
        .await;
    assert!(lone.ok);
    twin.settle().await;
    assert!(twin.contacts_of("14255550699").await.is_empty());

    let wa = "14255550604";
    let contact_id = open_chat(twin, wa).await;
    twin.agent_says(&contact_id, "Your order 4512 shipped today").await;
    let agent_wamid = twin.sent_to(wa).await.last().unwrap()["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (location_wamid, _) = twin
        .customer_sends(
            wa,
            json!({"type": "location", "location": {"latitude": 47.6163, "longitude": -122.4311, "name": "Home"}}),
        )
        .await;
    twin.customer_sends(
        wa,
        json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Rosa Díaz"},
               "phones": [{"phone": "+1 425 555 0100", "type": "CELL"}]}]}),
    )
    .await;
    twin.customer_sends(
        wa,
        json!({"type": "text", "text": {"body": "Great, thanks!"}, "context": {"id": agent_wamid}}),
    )
    .await;
    twin.customer_sends(
        wa,
        json!({"type": "reaction", "reaction": {"message_id": agent_wamid, "emoji": "❤️"}}),
    )
    .await;
    // A reply to the customer's own earlier message quotes it too.
    twin.customer_sends(
        wa,
        json!({"type": "text", "text": {"body": "Deliver here instead"}, "context": {"id": location_wamid}}),
    )
    .await;
    twin.settle().await;
    let texts = customer_texts(&contact(twin, &contact_id).await);
    assert_eq!(texts.len(), 6, "{texts:#?}");
    assert!(
        texts[5].contains("Home") && texts[5].ends_with("Deliver here instead"),
        "{}",
        texts[5]
    );
    assert!(
        texts[1].contains("Home") && texts[1].contains("47.6163"),
        "{}",
        texts[1]
    );
    assert!(
        texts[2].contains("Rosa Díaz") && texts[2].contains("+1 425 555 0100"),
        "{}",
        texts[2]
    );
    assert!(
        texts[3].contains("Your order 4512 shipped today") && texts[3].ends_with("Great, thanks!"),
        "{}",
        texts[3]
    );
    assert!(
        texts[4].contains("❤️") && texts[4].contains("Your order 4512"),
        "{}",
        texts[4]
    );
    assert_eq!(twin.contacts_of(wa).await.len(), 1);
}

#[tokio::test]
async fn lifecycle_notices_reach_the_customer_and_the_end_keyword_ends_the_chat() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let wa = "14255550605";
    let contact_id = open_chat(twin, wa).await;
    // Ana transfers the chat to a queue, Ben picks it up, the customer goes quiet, Ben leaves.
    for action in [
        json!({"action": "transfer"}),
        json!({"action": "join", "display_name": "Ben"}),
        json!({"action": "idle"}),
        json!({"action": "leave"}),
    ] {
        let invocations = twin.agent(&contact_id, action).await;
        assert!(invocations.iter().all(|i| i.ok), "{invocations:?}");
    }
    twin.customer_texts(wa, "#end").await;
    twin.settle().await;
    let texts = twin.texts_to(wa).await;
    assert_eq!(
        texts,
        [
            GREETING,
            "Ana has joined the chat.",
            "We're transferring you to someone who can help. Please stay with us.",
            "Ana has left the chat.",
            "Ben has joined the chat.",
            "Are you still there? This chat will close soon if we don't hear from you.",
            "Ben has left the chat.",
            "You've ended the chat. Send us a message any time to start a new one.",
        ]
    );
    let first = contact(twin, &contact_id).await;
    assert_eq!(first["state"], "ended");
    assert!(!customer_texts(&first).contains(&"#end".to_owned()));

    // The returning customer starts a new chat linked to the previous one.
    twin.customer_texts(wa, "Me again").await;
    twin.settle().await;
    let contacts = twin.contacts_of(wa).await;
    assert_eq!(contacts.len(), 2);
    assert_eq!(contacts[1]["related_contact_id"], contact_id.as_str());
    assert_eq!(contacts[1]["attributes"]["PreviousContactId"], contact_id.as_str());
    assert_eq!(customer_texts(&contacts[1]), ["Me again"]);

    // The agent ends the second chat: the customer hears it once; auto-disconnection on a third.
    let second = contacts[1]["contact_id"].as_str().unwrap().to_owned();
    twin.agent(&second, json!({"action": "end"})).await;
    twin.customer_texts(wa, "One more thing").await;
    twin.settle().await;
    let third = twin.contacts_of(wa).await[2]["contact_id"].as_str().unwrap().to_owned();
    let invocations = twin.agent(&third, json!({"action": "autodisconnect"})).await;
    assert!(invocations.iter().all(|i| i.ok), "{invocations:?}");
    let texts = twin.texts_to(wa).await;
    assert_eq!(
        texts[9..],
        [
            "This chat has ended. Send us a message any time to start a new one.",
            GREETING,
            "This chat was closed because we didn't hear from you. Send us a message any time to start a new one.",
        ]
    );
}

#[tokio::test]
async fn disabled_notices_are_silent_and_persistent_chat_rehydrates_the_previous_contact() {
    let stack = TestStack::start_with(|o| {
        o.extra_env.extend([
            ("NOTICE_AGENT_JOINED".to_owned(), String::new()),
            ("NOTICE_CHAT_ENDED".to_owned(), String::new()),
            ("PERSISTENT_CHAT".to_owned(), "true".to_owned()),
            ("READ_RECEIPTS".to_owned(), "off".to_owned()),
        ])
    })
    .await;
    let twin = stack.twin();
    let wa = "14255550606";
    let contact_id = open_chat(twin, wa).await;
    twin.agent(&contact_id, json!({"action": "end"})).await;
    twin.customer_texts(wa, "Back again").await;
    twin.settle().await;
    assert_eq!(twin.texts_to(wa).await, [GREETING, "Ana has left the chat.", GREETING]);
    let contacts = twin.contacts_of(wa).await;
    assert_eq!(contacts[1]["related_contact_id"], contact_id.as_str());
    // No read marks when they are off.
    assert!(all_sent(twin).await.iter().all(|s| s["message"]["status"] != "read"));
}

#[tokio::test]
async fn receipts_typing_read_ticks_and_failed_deliveries_reach_the_other_side() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let wa = "14255550607";
    let contact_id = open_chat(twin, wa).await;
    let (wamid, _) = twin.customer_texts(wa, "Is it shipped?").await;
    twin.settle().await;
    // The customer's messages get blue ticks once they are in the chat.
    let sent = all_sent(twin).await;
    assert!(
        sent.iter()
            .any(|s| s["message"]["status"] == "read" && s["message"]["message_id"] == wamid.as_str()),
        "{sent:#?}"
    );

    // Agent typing: one indicator for a burst, on the customer's latest message.
    for _ in 0..3 {
        twin.agent(&contact_id, json!({"action": "typing"})).await;
    }
    let typing: Vec<Value> = all_sent(twin)
        .await
        .into_iter()
        .filter(|s| s["message"]["typing_indicator"]["type"] == "text")
        .collect();
    assert_eq!(typing.len(), 1, "{typing:#?}");
    assert_eq!(typing[0]["message"]["message_id"], wamid.as_str());

    // Delivered and read reach the agent's message in Connect.
    let items = twin.agent_says(&contact_id, "Yes, it left today").await;
    assert!(items.iter().all(|i| i.ok));
    let out = twin.sent_to(wa).await.last().unwrap()["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for status in ["delivered", "read"] {
        let outcome = twin.customer_status(wa, json!({"id": out, "status": status})).await;
        assert!(outcome.ok, "{outcome:?}");
    }
    let c = contact(twin, &contact_id).await;
    let item = c["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["content"] == "Yes, it left today")
        .unwrap()
        .clone();
    let receipt = &item["receipts"][0];
    assert!(
        receipt["delivered"].is_string() && receipt["read"].is_string(),
        "{item:#?}"
    );

    // A failed delivery is reported to the agent in plain words, naming the message.
    twin.agent_says(&contact_id, "Here is your tracking link").await;
    let failed = twin.sent_to(wa).await.last().unwrap()["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    twin.customer_status(
        wa,
        json!({"id": failed, "status": "failed", "errors": [{"code": 131047, "title": "Re-engagement message"}]}),
    )
    .await;
    let texts = customer_texts(&contact(twin, &contact_id).await);
    let note = texts.last().unwrap();
    assert!(
        note.contains("Here is your tracking link") && note.contains("24 hours"),
        "{note}"
    );
}

#[tokio::test]
async fn every_template_type_reaches_whatsapp_natively_and_its_first_option_can_be_tapped() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let wa = "14255550608";
    let contact_id = open_chat(twin, wa).await;
    for name in ["listpicker", "panel", "quickreply", "timepicker", "carousel"] {
        let event = e2e::fixture(&format!("connect-stream-interactive-{name}.json"));
        let message: Value = serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        let content = message["Content"].as_str().unwrap();
        let invocations = twin
            .agent(
                &contact_id,
                json!({"action": "message", "role": "SYSTEM", "content_type": INTERACTIVE, "content": content}),
            )
            .await;
        assert!(invocations.iter().all(|i| i.ok), "{name}: {invocations:?}");
        let sent = twin.sent_to(wa).await.last().unwrap()["message"].clone();
        assert!(
            !sent.to_string().contains("templateType"),
            "{name}: raw JSON sent: {sent}"
        );
        let before = customer_texts(&contact(twin, &contact_id).await).len();
        if sent["type"] == "interactive" {
            let kind = sent["interactive"]["type"].as_str().unwrap().to_owned();
            let (id, title) = options_of(&sent)[0].clone();
            tap(twin, wa, &kind, &id, &title).await;
        } else {
            // A numbered text: the customer answers by number.
            assert!(sent["text"]["body"].as_str().unwrap().contains("1."), "{name}: {sent}");
            twin.customer_texts(wa, "1").await;
            twin.settle().await;
        }
        let after = customer_texts(&contact(twin, &contact_id).await);
        assert_eq!(after.len(), before + 1, "{name}");
        assert_ne!(
            after.last().unwrap(),
            "1",
            "{name}: the number was mapped to its option"
        );
    }
}

#[tokio::test]
async fn system_unsupported_order_removed_reactions_and_undeliverable_messages_are_explained() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let wa = "14255550609";
    let contact_id = open_chat(twin, wa).await;
    twin.agent_says(&contact_id, "Can you confirm the address?").await;
    let agent_wamid = twin.sent_to(wa).await.last().unwrap()["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for message in [
        json!({"type": "system", "system": {"body": "Customer changed their number"}}),
        json!({"type": "unsupported", "unsupported": {"type": "poll_creation"}}),
        json!({"type": "order", "order": {"catalog_id": "c1", "text": "Gift wrap please", "product_items": [{}, {}]}}),
        json!({"type": "reaction", "reaction": {"message_id": agent_wamid}}),
    ] {
        let (_, outcome) = twin.customer_sends(wa, message).await;
        assert!(outcome.ok, "{outcome:?}");
    }
    twin.customer_status(
        wa,
        json!({"id": agent_wamid, "status": "failed", "errors": [{"code": 131026, "title": "Message undeliverable"}]}),
    )
    .await;
    twin.settle().await;
    let texts = customer_texts(&contact(twin, &contact_id).await);
    assert_eq!(texts.len(), 6, "{texts:#?}");
    assert!(texts[1].contains("Customer changed their number"), "{}", texts[1]);
    assert!(texts[2].contains("poll creation"), "{}", texts[2]);
    assert!(
        texts[3].contains("2 items") && texts[3].contains("Gift wrap please"),
        "{}",
        texts[3]
    );
    assert!(
        texts[4].starts_with("removed their reaction") && texts[4].contains("confirm the address"),
        "{}",
        texts[4]
    );
    assert!(
        texts[5].contains("confirm the address") && texts[5].contains("undeliverable"),
        "{}",
        texts[5]
    );
    // Statuses go to the agent, never to the customer.
    assert_eq!(twin.texts_to(wa).await.len(), 3);
}

#[tokio::test]
async fn a_customer_who_hides_their_number_behind_a_username_stays_in_the_same_conversation() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let (phone, user_id) = ("14255550610", "US.13491208655302741918");
    // Since April 2026 WhatsApp sends both ids; the conversation is keyed by the user id.
    let (_, first) = twin
        .customer_sends(
            phone,
            json!({"type": "text", "text": {"body": "Hi"}, "user_id": user_id}),
        )
        .await;
    assert!(first.ok, "{first:?}");
    twin.settle().await;
    let contacts = twin.contacts_of(user_id).await;
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0]["attributes"]["CustomerPhoneNumber"], phone);
    let contact_id = contacts[0]["contact_id"].as_str().unwrap().to_owned();
    twin.agent(&contact_id, json!({"action": "join", "display_name": "Ana"}))
        .await;
    // Then the customer adopts a username and WhatsApp withholds the number: same chat, same agent.
    let (_, hidden) = twin
        .customer_sends(user_id, json!({"type": "text", "text": {"body": "Still me"}}))
        .await;
    assert!(hidden.ok, "{hidden:?}");
    twin.settle().await;
    let contacts = twin.contacts_of(user_id).await;
    assert_eq!(contacts.len(), 1, "never split in two");
    assert_eq!(customer_texts(&contacts[0]), ["Hi", "Still me"]);
    // Agents' replies still go to the number the chat started with.
    twin.agent_says(&contact_id, "Noted, thanks").await;
    assert_eq!(twin.texts_to(phone).await.last().unwrap(), "Noted, thanks");

    // A customer who never shared a number: the chat opens and replies go by user id (`recipient`).
    let stranger = "BR.1502576394655843";
    let (_, only_id) = twin
        .customer_sends(
            stranger,
            json!({"type": "text", "text": {"body": "Olá"}, "profile_name": "@joana"}),
        )
        .await;
    assert!(only_id.ok, "{only_id:?}");
    twin.settle().await;
    let contact = &twin.contacts_of(stranger).await[0];
    assert_eq!(contact["customer_display_name"], "@joana");
    let id = contact["contact_id"].as_str().unwrap().to_owned();
    twin.agent(&id, json!({"action": "join", "display_name": "Ben"})).await;
    twin.agent_says(&id, "Oi Joana").await;
    let sent = twin.sent_to(stranger).await;
    let last = &sent.last().unwrap()["message"];
    assert_eq!((last["recipient"].as_str(), last.get("to")), (Some(stranger), None));
    assert_eq!(last["text"]["body"], "Oi Joana");
}

#[tokio::test]
async fn a_menu_page_is_sent_once_when_lambda_retries_the_tap_that_asked_for_it() {
    let stack = TestStack::start_with(|o| o.proxy_moto = true).await;
    let twin = stack.twin();
    let wa = "14255550612";
    let contact_id = open_chat(twin, wa).await;
    let titles: Vec<String> = (1..=12).map(|i| format!("Choice {i}")).collect();
    twin.agent(
        &contact_id,
        json!({"action": "message", "role": "SYSTEM", "content_type": INTERACTIVE, "content": list_picker(&titles)}),
    )
    .await;
    twin.settle().await;
    let sent = twin.sent_to(wa).await;
    let (more_id, more_title) = options_of(&sent.last().unwrap()["message"]).pop().unwrap();
    assert_eq!(more_title, "More options");
    // The page goes out; the write that marks the tap done then fails through every attempt of the
    // SDK, and Lambda retries the tap.
    twin.fault(
        json!({"service": "dynamodb", "operation": "TransactWriteItems", "error": "InternalServerError", "times": 4}),
    )
    .await;
    let (_, first_try) = twin
        .customer_sends(
            wa,
            json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": more_id, "title": more_title}}}),
        )
        .await;
    assert!(
        !first_try.ok,
        "the first attempt fails at its last write: {first_try:?}"
    );
    twin.settle().await;
    let pages = twin.sent_to(wa).await.len() - sent.len();
    assert_eq!(pages, 1, "the next page reaches the customer once");
    assert!(twin.get("/dlq").await.as_array().is_none_or(Vec::is_empty));
}
