//! The cases of the chat ports' contract (see `tests/chat_ports.rs`), each generic over the
//! ports of a [`Backend`] and given a fresh one.

use super::twin::{CUSTOMER, ORIGINATION, chat_request};
use super::{Backend, Held, Observe};
use bridge::content_type::{DELIVERED_EVENT, READ_EVENT, TEXT_PLAIN};
use bridge::error::FailureKind;
use bridge::ids::{ConnectionToken, ContactId, CustomerId, ItemId, OriginationId, ParticipantToken};
use bridge::ports::{BotRequest, ChatRequest, ContactCenter, Participant, PortResult, StartedChat, Whatsapp};
use bridge::whatsapp::outgoing::OutgoingMessage;

type Chat<'a, C, P, W, O> = &'a Backend<C, P, W, O>;

/// A chat started with `client_token` and the customer's connection to it.
async fn connected(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
    client_token: &str,
) -> (StartedChat, ConnectionToken) {
    let started = b.center.start_chat(&chat_request(client_token)).await.unwrap();
    let connection = b.participant.connect(&started.participant_token).await.unwrap();
    (started, connection.connection_token)
}

/// The customer says `text` in the chat of `token`.
async fn say(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
    token: &ConnectionToken,
    text: &str,
    client_token: &str,
) -> PortResult<ItemId> {
    b.participant.send_message(token, TEXT_PLAIN, text, client_token).await
}

async fn held(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
    contact_id: &ContactId,
) -> Held {
    let chats = b.seen.chats().await;
    chats
        .into_iter()
        .find(|c| &c.contact_id == contact_id)
        .expect("the chat")
}

/// The texts the customer side sent into the chat, oldest first.
async fn texts(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
    contact_id: &ContactId,
) -> Vec<String> {
    let messages = held(b, contact_id).await.messages;
    messages.into_iter().map(|(_, text)| text).collect()
}

pub async fn the_same_client_token_gets_the_same_chat_and_another_a_new_one(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let first = b.center.start_chat(&chat_request("conversation-1#1")).await.unwrap();
    let again = b.center.start_chat(&chat_request("conversation-1#1")).await.unwrap();
    assert_eq!(again, first, "a retried start gets the chat it started, tokens and all");
    let chats = b.seen.chats().await;
    assert_eq!(chats.len(), 1, "no second contact");
    assert_eq!(chats[0].attributes["CustomerId"], CUSTOMER);

    let next = b.center.start_chat(&chat_request("conversation-1#2")).await.unwrap();
    assert_ne!(next.contact_id, first.contact_id);
    assert_eq!(b.seen.chats().await.len(), 2);
}

pub async fn a_chat_started_with_a_text_holds_it_once_whatever_a_retry_carries(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let with = |text: &str| ChatRequest {
        initial_message: Some((TEXT_PLAIN.to_owned(), text.to_owned())),
        ..chat_request("conversation-1#1")
    };
    let started = b.center.start_chat(&with("Hi, my order")).await.unwrap();
    // A retry under the same client token, even carrying another text, gets the chat as it is.
    let again = b.center.start_chat(&with("Hello?")).await.unwrap();
    assert_eq!(again, started);
    let token = b
        .participant
        .connect(&started.participant_token)
        .await
        .unwrap()
        .connection_token;
    say(b, &token, "It is late", "t1").await.unwrap();
    assert_eq!(texts(b, &started.contact_id).await, ["Hi, my order", "It is late"]);
    assert_eq!(
        b.participant.sent_texts(&token, &started.contact_id).await.unwrap(),
        ["Hi, my order", "It is late"],
        "the customer's texts, as the chat's transcript shows them"
    );
    // Started without one, a chat holds no text of the customer's until they send one.
    let (empty, empty_token) = connected(b, "conversation-2#1").await;
    assert!(
        b.participant
            .sent_texts(&empty_token, &empty.contact_id)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_message_is_sent_once_per_client_token_within_its_chat(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let (chat, token) = connected(b, "conversation-1#1").await;
    let first = say(b, &token, "Hi", "t1").await.unwrap();
    let retry = say(b, &token, "Hi", "t1").await.unwrap();
    assert_eq!(retry, first, "the retry is answered with the first message");
    let second = say(b, &token, "My order", "t2").await.unwrap();
    assert_ne!(second, first);
    // The bridge reconnects with the participant token when a connection token is refused.
    let reconnected = b.participant.connect(&chat.participant_token).await.unwrap();
    let again = say(b, &reconnected.connection_token, "Hi", "t1").await.unwrap();
    assert_eq!(again, first, "the client token holds across the chat's connections");
    assert_eq!(texts(b, &chat.contact_id).await, ["Hi", "My order"]);

    // The token is the chat's: the same one in another chat is another message.
    let (other, other_token) = connected(b, "conversation-2#1").await;
    let there = say(b, &other_token, "Hi", "t1").await.unwrap();
    assert_ne!(there, first);
    assert_eq!(texts(b, &other.contact_id).await, ["Hi"]);
}

pub async fn a_receipt_is_recorded_once_per_client_token(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let (chat, token) = connected(b, "conversation-1#1").await;
    // Receipts name an item of the chat; the customer's own message is the one both backends have.
    let item = say(b, &token, "Hi", "t1").await.unwrap();
    let on_item = serde_json::json!({ "messageId": item.as_str() }).to_string();
    for (kind, client_token) in [(DELIVERED_EVENT, "r1"), (DELIVERED_EVENT, "r1"), (READ_EVENT, "r2")] {
        b.participant
            .send_event(&token, kind, &on_item, client_token)
            .await
            .unwrap();
    }
    let mut receipts = held(b, &chat.contact_id).await.receipts;
    receipts.sort();
    let on = |kind: &str| (kind.to_owned(), item.as_str().to_owned());
    assert_eq!(
        receipts,
        [on(DELIVERED_EVENT), on(READ_EVENT)],
        "a redelivered status sends the same token, and is recorded once"
    );
}

/// Every token of an ended chat is refused as gone, whatever the call.
async fn refused_as_gone(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
    participant_token: &ParticipantToken,
    token: &ConnectionToken,
) {
    let kinds = [
        say(b, token, "Hi", "t9").await.map(drop),
        say(b, token, "Hi", "t1").await.map(drop),
        b.participant.send_event(token, READ_EVENT, "{}", "r9").await,
        b.participant.connect(participant_token).await.map(drop),
        b.participant.disconnect(token, "d9").await,
    ]
    .map(|refused| refused.map_err(|e| e.kind));
    let gone = Err(FailureKind::ChatGone);
    assert_eq!(
        kinds, [gone; 5],
        "a new message, a retried one, an event, a new connection, leaving"
    );
}

pub async fn a_chat_the_customer_left_refuses_its_tokens_as_gone(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let (chat, token) = connected(b, "conversation-1#1").await;
    say(b, &token, "Hi", "t1").await.unwrap();
    b.participant.disconnect(&token, "d1").await.unwrap();
    assert!(
        held(b, &chat.contact_id).await.ended,
        "the customer leaving ends the chat"
    );
    refused_as_gone(b, &chat.participant_token, &token).await;
}

pub async fn a_chat_the_agent_ended_refuses_its_tokens_as_gone(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let (chat, token) = connected(b, "conversation-1#1").await;
    say(b, &token, "Hi", "t1").await.unwrap();
    b.seen.end(&chat.contact_id).await;
    refused_as_gone(b, &chat.participant_token, &token).await;
    let (next, next_token) = connected(b, "conversation-1#2").await;
    say(b, &next_token, "Hi", "t1")
        .await
        .expect("the customer's next chat is a new one");
    assert!(!held(b, &next.contact_id).await.ended);
}

pub async fn a_message_to_whatsapp_gets_an_id_and_read_marks_go_with_or_without_typing(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let from = OriginationId::parse(ORIGINATION).unwrap();
    let customer = CustomerId::parse(CUSTOMER).unwrap();
    let text = OutgoingMessage::text(&customer, "Hi Diego");
    let id = b.whatsapp.send(&from, &text).await.unwrap();
    assert!(id.starts_with("wamid."), "{id}");
    b.whatsapp.mark_read(&from, "wamid.customer-1", false).await.unwrap();
    b.whatsapp.mark_read(&from, "wamid.customer-2", true).await.unwrap();
    let seen = b.seen.to_whatsapp().await;
    let sent: Vec<_> = seen
        .sent
        .iter()
        .map(|(id, message)| (id.as_str(), message["to"].as_str(), message["text"]["body"].as_str()))
        .collect();
    assert_eq!(sent, [(id.as_str(), Some(CUSTOMER), Some("Hi Diego"))]);
    let read = |wamid: &str, typing| (wamid.to_owned(), typing);
    assert_eq!(
        seen.read,
        [read("wamid.customer-1", false), read("wamid.customer-2", true)]
    );
}

pub async fn a_chats_one_custom_bot_speaks_once_per_client_token(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let (started, _) = connected(b, "handoff-1").await;
    let bot = BotRequest {
        contact_id: started.contact_id.clone(),
        display_name: "Acme assistant".into(),
        client_token: "bot-1".into(),
    };
    let token = b.center.add_bot(&bot).await.unwrap();
    assert_eq!(
        b.center.add_bot(&bot).await.unwrap(),
        token,
        "the same client token: the same bot"
    );
    let another = BotRequest {
        client_token: "bot-2".into(),
        ..bot.clone()
    };
    assert_eq!(
        b.center.add_bot(&another).await.unwrap_err().kind,
        FailureKind::Rejected,
        "one custom bot per chat"
    );
    let connection = b.participant.connect(&token).await.unwrap().connection_token;
    for (text, client_token) in [
        ("Refund request", "r-0"),
        ("Refund request", "r-0"),
        ("I can't refund", "r-1"),
    ] {
        b.participant
            .send_message(&connection, TEXT_PLAIN, text, client_token)
            .await
            .unwrap();
    }

    let chat = held(b, &started.contact_id).await;
    assert_eq!(chat.bot_messages, ["Refund request", "I can't refund"]);
    assert!(chat.messages.is_empty(), "none of it is the customer's");
    let unknown = BotRequest {
        contact_id: ContactId::parse("no-such-contact").unwrap(),
        ..bot
    };
    assert_eq!(
        b.center.add_bot(&unknown).await.unwrap_err().kind,
        FailureKind::Rejected
    );
}

pub async fn a_transcript_reads_in_pages_oldest_first(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    use bridge::connect_stream::Role;
    use bridge::ports::PageRequest;
    let (_, token) = connected(b, "conversation-9#1").await;
    for (n, text) in ["one", "two", "three"].iter().enumerate() {
        say(b, &token, text, &format!("t{n}")).await.unwrap();
    }
    let mut page = PageRequest {
        max: 2,
        next_token: None,
    };
    let mut said = Vec::new();
    for _ in 0..10 {
        let chunk = b.participant.transcript(&token, &page).await.unwrap();
        assert!(chunk.items.len() <= 2, "{chunk:?}");
        said.extend(
            chunk
                .items
                .into_iter()
                .filter(|item| item.role == Some(Role::Customer))
                .map(|item| (item.content_type, item.content.unwrap_or_default())),
        );
        match chunk.next_token {
            Some(next) => page.next_token = Some(next),
            None => break,
        }
    }
    let plain = |text: &str| (TEXT_PLAIN.to_owned(), text.to_owned());
    assert_eq!(said, [plain("one"), plain("two"), plain("three")]);
}

pub async fn contact_attributes_merge_within_32_kb(
    b: Chat<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    use std::collections::HashMap;
    let (chat, _) = connected(b, "conversation-10#1").await;
    let set = |pairs: &[(&str, String)]| -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    };
    b.center
        .update_attributes(&chat.contact_id, &set(&[("OrderId", "4512".into())]))
        .await
        .unwrap();
    b.center
        .update_attributes(&chat.contact_id, &set(&[("Notes", "x".repeat(30_000))]))
        .await
        .unwrap();
    let refused = b
        .center
        .update_attributes(&chat.contact_id, &set(&[("More", "y".repeat(5_000))]))
        .await
        .unwrap_err();
    assert_eq!(refused.kind, FailureKind::Rejected, "{refused}");
    let unknown = ContactId::parse("00000000-0000-4000-8000-000000000000").unwrap();
    let missing = b
        .center
        .update_attributes(&unknown, &set(&[("OrderId", "1".into())]))
        .await
        .unwrap_err();
    assert_eq!(missing.kind, FailureKind::Rejected, "{missing}");
}
