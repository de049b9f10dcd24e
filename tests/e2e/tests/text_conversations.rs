//! Issue #2: text conversations WhatsApp ⇄ Amazon Connect through the real handlers and the twin.

use e2e::{BUSINESS_NUMBER, GREETING, TestStack, customer_texts, transcript_texts};
use serde_json::json;

#[tokio::test]
async fn first_text_opens_a_chat_and_the_next_continues_it() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let (_, first) = twin.customer_texts("14255550150", "Hi, my order is late").await;
    assert!(first.ok, "{first:?}");
    twin.settle().await;

    let contacts = twin.contacts_of("14255550150").await;
    assert_eq!(contacts.len(), 1, "{contacts:#?}");
    let contact = &contacts[0];
    assert_eq!(contact["customer_display_name"], "Customer 14255550150");
    assert_eq!(contact["attributes"]["Channel"], "WhatsApp");
    assert_eq!(contact["attributes"]["BusinessPhoneNumberId"], BUSINESS_NUMBER);
    assert_eq!(customer_texts(contact), ["Hi, my order is late"]);
    // The flow's greeting (a SYSTEM message) reached WhatsApp.
    assert_eq!(twin.texts_to("14255550150").await, [GREETING]);

    let (_, second) = twin.customer_texts("14255550150", "Order 4512").await;
    assert!(second.ok);
    twin.settle().await;
    let contacts = twin.contacts_of("14255550150").await;
    assert_eq!(contacts.len(), 1);
    assert_eq!(customer_texts(&contacts[0]), ["Hi, my order is late", "Order 4512"]);
}

#[tokio::test]
async fn agent_reply_reaches_whatsapp_from_the_number_the_customer_wrote_to() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let second_number = stack.business_numbers()[1].clone();
    twin.customer_sends(
        "447700900123",
        json!({"type": "text", "text": {"body": "Hello"}, "business_number": second_number.meta_phone_number_id}),
    )
    .await;
    twin.settle().await;
    let contact_id = twin.contacts_of("447700900123").await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let invocations = twin
        .agent(&contact_id, json!({"action": "join", "display_name": "Ana"}))
        .await;
    assert!(invocations.iter().all(|i| i.ok), "{invocations:?}");
    let invocations = twin.agent_says(&contact_id, "Hi, I'm Ana. How can I help?").await;
    assert!(invocations.iter().all(|i| i.ok), "{invocations:?}");
    twin.agent(
        &contact_id,
        json!({"action": "message", "content_type": "text/markdown", "content": "**Order** status"}),
    )
    .await;

    let sent = twin.sent_to("447700900123").await;
    let bodies: Vec<_> = sent
        .iter()
        .map(|s| s["message"]["text"]["body"].as_str().unwrap())
        .collect();
    // Issue #5: the agent's arrival is announced and markdown becomes WhatsApp's own marks.
    assert_eq!(
        bodies,
        [
            GREETING,
            "Ana has joined the chat.",
            "Hi, I'm Ana. How can I help?",
            "*Order* status"
        ]
    );
    for s in &sent {
        assert_eq!(s["origination_phone_number_id"], second_number.aws_id.as_str());
        assert_eq!(s["message"]["messaging_product"], "whatsapp");
    }
}

#[tokio::test]
async fn customer_echo_and_agent_only_messages_are_not_sent_to_whatsapp() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    twin.customer_texts("14255550151", "ping").await;
    twin.settle().await;
    let contact_id = twin.contacts_of("14255550151").await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    twin.agent(&contact_id, json!({"action": "join"})).await;
    let whisper = twin
        .agent(
            &contact_id,
            json!({"action": "message", "content": "internal note", "visibility": "AGENT"}),
        )
        .await;
    assert!(whisper.iter().all(|i| i.ok));
    twin.agent(
        &contact_id,
        json!({"action": "message", "content": "for you", "visibility": "CUSTOMER"}),
    )
    .await;
    twin.settle().await;

    assert_eq!(
        twin.texts_to("14255550151").await,
        [GREETING, "Agent has joined the chat.", "for you"]
    );
    // The echo of the customer's own message was streamed to ConnectHandler and dropped there.
    let contact = &twin.contacts_of("14255550151").await[0];
    assert_eq!(customer_texts(contact), ["ping"]);
    assert_eq!(transcript_texts(contact, "AGENT"), ["internal note", "for you"]);
}

#[tokio::test]
async fn chat_ended_by_the_agent_makes_the_next_text_open_a_new_chat() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    twin.customer_texts("14255550152", "first").await;
    twin.settle().await;
    let first_contact = twin.contacts_of("14255550152").await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    twin.agent(&first_contact, json!({"action": "join"})).await;
    let ended = twin.agent(&first_contact, json!({"action": "end"})).await;
    assert!(ended.iter().all(|i| i.ok), "{ended:?}");

    let (_, again) = twin.customer_texts("14255550152", "are you there?").await;
    assert!(again.ok, "{again:?}");
    twin.settle().await;
    let contacts = twin.contacts_of("14255550152").await;
    assert_eq!(contacts.len(), 2);
    assert_eq!(contacts[0]["state"], "ended");
    assert_eq!(customer_texts(&contacts[0]), ["first"]);
    assert_eq!(customer_texts(&contacts[1]), ["are you there?"]);
    // The bridge knew the chat had ended: no SendMessage was refused on the way.
    let denied = twin
        .calls()
        .await
        .into_iter()
        .filter(|c| c["operation"] == "SendMessage" && c["status"] != 200)
        .count();
    assert_eq!(denied, 0);
}

/// A redelivery after the chat ended registers first and so takes the start lock for the next chat;
/// finding itself a duplicate, it gives the lock back, or the customer's next text would wait for it.
#[tokio::test]
async fn a_redelivery_after_the_chat_ended_does_not_hold_up_the_next_chat() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let event = e2e::fixture("eum-text.json");
    assert!(twin.invoke("WhatsappHandler", event.clone()).await.ok);
    twin.settle().await;
    let contact = twin.contacts_of("16505551234").await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    twin.agent(&contact, json!({"action": "join"})).await;
    twin.agent(&contact, json!({"action": "end"})).await;

    let redelivered = twin.invoke("WhatsappHandler", event).await;
    assert!(redelivered.ok, "{redelivered:?}");
    let (_, next) = twin.customer_texts("16505551234", "still there?").await;
    assert!(next.ok, "{next:?}");
    twin.settle().await;
    let contacts = twin.contacts_of("16505551234").await;
    assert_eq!(contacts.len(), 2, "{contacts:#?}");
    assert_eq!(customer_texts(&contacts[1]), ["still there?"]);
}

#[tokio::test]
async fn stale_token_access_denied_opens_a_new_chat_and_delivers_the_text() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    twin.customer_texts("14255550153", "hello").await;
    twin.settle().await;
    let first_contact = twin.contacts_of("14255550153").await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The chat ends but its chat.ended event never reaches the bridge.
    twin.agent(&first_contact, json!({"action": "end", "stream": false}))
        .await;

    let (_, after) = twin.customer_texts("14255550153", "still waiting").await;
    assert!(after.ok, "{after:?}");
    twin.settle().await;
    let contacts = twin.contacts_of("14255550153").await;
    assert_eq!(contacts.len(), 2, "{contacts:#?}");
    assert_eq!(customer_texts(&contacts[1]), ["still waiting"]);
    let refused: Vec<_> = twin
        .calls()
        .await
        .into_iter()
        .filter(|c| c["status"] == 403)
        .map(|c| c["operation"].as_str().unwrap().to_owned())
        .collect();
    assert!(refused.contains(&"SendMessage".to_owned()), "{refused:?}");
}

#[tokio::test]
async fn statuses_reactions_and_other_types_never_open_a_chat() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let status = twin
        .customer_status(
            "14255550154",
            json!({"id": "wamid.OUT1", "status": "delivered", "timestamp": "1762843882"}),
        )
        .await;
    assert!(status.ok, "{status:?}");
    let (_, reaction) = twin
        .customer_sends(
            "14255550154",
            json!({"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}}),
        )
        .await;
    assert!(reaction.ok);
    let (_, unknown) = twin
        .customer_sends("14255550154", json!({"type": "hologram", "hologram": {}}))
        .await;
    assert!(unknown.ok);
    twin.settle().await;
    assert!(twin.contacts().await.is_empty());
    assert!(twin.calls().await.iter().all(|c| c["service"] != "connect"));
}

#[tokio::test]
async fn two_customers_do_not_see_each_others_messages() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    twin.customer_texts("14255550155", "I am Alice").await;
    twin.customer_texts("14255550156", "I am Bob").await;
    twin.settle().await;
    let alice = &twin.contacts_of("14255550155").await[0];
    let bob = &twin.contacts_of("14255550156").await[0];
    assert_ne!(alice["contact_id"], bob["contact_id"]);
    assert_eq!(customer_texts(alice), ["I am Alice"]);
    assert_eq!(customer_texts(bob), ["I am Bob"]);

    for (contact, text) in [(alice, "Hello Alice"), (bob, "Hello Bob")] {
        let contact_id = contact["contact_id"].as_str().unwrap();
        twin.agent(contact_id, json!({"action": "join"})).await;
        twin.agent_says(contact_id, text).await;
    }
    let joined = "Agent has joined the chat.";
    assert_eq!(twin.texts_to("14255550155").await, [GREETING, joined, "Hello Alice"]);
    assert_eq!(twin.texts_to("14255550156").await, [GREETING, joined, "Hello Bob"]);
}

#[tokio::test]
async fn a_redelivered_event_is_bridged_once() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let event = e2e::fixture("eum-text.json");
    for _ in 0..3 {
        let outcome = twin.invoke("WhatsappHandler", event.clone()).await;
        assert!(outcome.ok, "{outcome:?}");
    }
    twin.settle().await;
    let contacts = twin.contacts_of("16505551234").await;
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        customer_texts(&contacts[0]),
        ["Hola, necesito ayuda con mi pedido 4512"]
    );
}
