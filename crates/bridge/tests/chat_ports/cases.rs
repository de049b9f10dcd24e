//! The cases of the chat ports' contract (see `tests/chat_ports.rs`), each generic over the ports and
//! given a fresh backend.

use super::{Backend, Held, Observe};
use bridge::content_type::{DELIVERED_EVENT, READ_EVENT, TEXT_PLAIN};
use bridge::error::FailureKind;
use bridge::ids::{ConnectionToken, ContactId, CustomerId, OriginationId, ParticipantToken};
use bridge::ports::{ChatRequest, ContactCenter, Participant, StartedChat, Whatsapp};
use bridge::whatsapp::outgoing::OutgoingMessage;
use std::collections::HashMap;

type Ports<'a, C, P, W, O> = &'a Backend<C, P, W, O>;

fn request(client_token: &str) -> ChatRequest {
    ChatRequest {
        display_name: "Diego".into(),
        attributes: HashMap::from([("CustomerId".to_owned(), "14255550150".to_owned())]),
        client_token: client_token.into(),
        related_contact_id: None,
        persistent: false,
    }
}

/// A chat started with `client_token` and the customer's connection to it.
async fn connected(
    b: Ports<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
    client_token: &str,
) -> (StartedChat, ConnectionToken) {
    let started = b.center.start_chat(&request(client_token)).await.unwrap();
    let connection = b.participant.connect(&started.participant_token).await.unwrap();
    (started, connection.connection_token)
}

async fn held(seen: &impl Observe, contact_id: &ContactId) -> Held {
    let chats = seen.chats().await;
    chats
        .into_iter()
        .find(|c| &c.contact_id == contact_id)
        .expect("the chat")
}

pub async fn the_same_client_token_gets_the_same_chat_and_another_a_new_one(
    b: Ports<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let first = b.center.start_chat(&request("conversation-1#1")).await.unwrap();
    let again = b.center.start_chat(&request("conversation-1#1")).await.unwrap();
    assert_eq!(again, first, "a retried start gets the chat it started, tokens and all");
    let chats = b.seen.chats().await;
    assert_eq!(chats.len(), 1, "no second contact");
    assert_eq!(chats[0].attributes["CustomerId"], "14255550150");

    let next = b.center.start_chat(&request("conversation-1#2")).await.unwrap();
    assert_ne!(next.contact_id, first.contact_id);
    assert_eq!(b.seen.chats().await.len(), 2);
}

pub async fn a_message_is_sent_once_per_client_token_within_its_chat(
    b: Ports<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let (chat, token) = connected(b, "conversation-1#1").await;
    let first = b
        .participant
        .send_message(&token, TEXT_PLAIN, "Hi", "t1")
        .await
        .unwrap();
    let retry = b
        .participant
        .send_message(&token, TEXT_PLAIN, "Hi", "t1")
        .await
        .unwrap();
    assert_eq!(retry, first, "the retry is answered with the first message");
    let second = b
        .participant
        .send_message(&token, TEXT_PLAIN, "My order", "t2")
        .await
        .unwrap();
    assert_ne!(second, first);
    // A second connection of the customer reaches the same chat.
    let reconnected = b.participant.connect(&chat.participant_token).await.unwrap();
    let again = b
        .participant
        .send_message(&reconnected.connection_token, TEXT_PLAIN, "Hi", "t1")
        .await
        .unwrap();
    assert_eq!(again, first, "the client token holds across the chat's connections");
    let texts = |held: Held| held.messages.into_iter().map(|(_, text)| text).collect::<Vec<_>>();
    assert_eq!(texts(held(&b.seen, &chat.contact_id).await), ["Hi", "My order"]);

    // The token is the chat's: the same one in another chat is another message.
    let (other, other_token) = connected(b, "conversation-2#1").await;
    let there = b
        .participant
        .send_message(&other_token, TEXT_PLAIN, "Hi", "t1")
        .await
        .unwrap();
    assert_ne!(there, first);
    assert_eq!(texts(held(&b.seen, &other.contact_id).await), ["Hi"]);
}

pub async fn a_receipt_is_recorded_once_per_client_token(
    b: Ports<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let (chat, token) = connected(b, "conversation-1#1").await;
    // Receipts name an item of the chat; the customer's own message is the one both backends have.
    let item = b
        .participant
        .send_message(&token, TEXT_PLAIN, "Hi", "t1")
        .await
        .unwrap();
    let on_item = serde_json::json!({ "messageId": item.as_str() }).to_string();
    for (kind, client_token) in [(DELIVERED_EVENT, "r1"), (DELIVERED_EVENT, "r1"), (READ_EVENT, "r2")] {
        b.participant
            .send_event(&token, kind, &on_item, client_token)
            .await
            .unwrap();
    }
    let mut receipts = held(&b.seen, &chat.contact_id).await.receipts;
    receipts.sort();
    assert_eq!(
        receipts,
        [
            (DELIVERED_EVENT.to_owned(), item.as_str().to_owned()),
            (READ_EVENT.to_owned(), item.as_str().to_owned()),
        ],
        "a redelivered status sends the same token, and is recorded once"
    );
}

/// Every token of an ended chat is refused as gone, whatever the call.
async fn refused_as_gone(
    b: Ports<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
    participant_token: &ParticipantToken,
    token: &ConnectionToken,
) {
    let gone = |kind: FailureKind, call: &str| assert_eq!(kind, FailureKind::ChatGone, "{call}");
    let sent = b.participant.send_message(token, TEXT_PLAIN, "Hi", "t9").await;
    gone(sent.unwrap_err().kind, "SendMessage");
    let retried = b.participant.send_message(token, TEXT_PLAIN, "Hi", "t1").await;
    gone(retried.unwrap_err().kind, "SendMessage retried");
    let event = b.participant.send_event(token, READ_EVENT, "{}", "r9").await;
    gone(event.unwrap_err().kind, "SendEvent");
    let connected = b.participant.connect(participant_token).await;
    gone(connected.unwrap_err().kind, "CreateParticipantConnection");
    let left = b.participant.disconnect(token, "d9").await;
    gone(left.unwrap_err().kind, "DisconnectParticipant");
}

pub async fn a_chat_the_customer_left_refuses_its_tokens_as_gone(
    b: Ports<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let (chat, token) = connected(b, "conversation-1#1").await;
    b.participant
        .send_message(&token, TEXT_PLAIN, "Hi", "t1")
        .await
        .unwrap();
    b.participant.disconnect(&token, "d1").await.unwrap();
    assert!(
        held(&b.seen, &chat.contact_id).await.ended,
        "the customer leaving ends the chat"
    );
    refused_as_gone(b, &chat.participant_token, &token).await;
}

pub async fn a_chat_the_agent_ended_refuses_its_tokens_as_gone(
    b: Ports<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let (chat, token) = connected(b, "conversation-1#1").await;
    b.participant
        .send_message(&token, TEXT_PLAIN, "Hi", "t1")
        .await
        .unwrap();
    b.seen.end(&chat.contact_id).await;
    refused_as_gone(b, &chat.participant_token, &token).await;
    let (next, next_token) = connected(b, "conversation-1#2").await;
    b.participant
        .send_message(&next_token, TEXT_PLAIN, "Hi", "t1")
        .await
        .expect("the customer's next chat is a new one");
    assert!(!held(&b.seen, &next.contact_id).await.ended);
}

pub async fn a_message_to_whatsapp_gets_an_id_and_read_marks_go_with_or_without_typing(
    b: Ports<'_, impl ContactCenter, impl Participant, impl Whatsapp, impl Observe>,
) {
    let from = OriginationId::parse(super::twin::ORIGINATION).unwrap();
    let customer = CustomerId::parse("14255550150").unwrap();
    let id = b
        .whatsapp
        .send(&from, &OutgoingMessage::text(&customer, "Hi Diego"))
        .await
        .unwrap();
    assert!(id.starts_with("wamid."), "{id}");
    b.whatsapp.mark_read(&from, "wamid.customer-1", false).await.unwrap();
    b.whatsapp.mark_read(&from, "wamid.customer-2", true).await.unwrap();
    let seen = b.seen.whatsapp().await;
    let sent: Vec<_> = seen
        .sent
        .iter()
        .map(|(id, message)| (id.as_str(), message["to"].as_str(), message["text"]["body"].as_str()))
        .collect();
    assert_eq!(sent, [(id.as_str(), Some("14255550150"), Some("Hi Diego"))]);
    assert_eq!(
        seen.read,
        [
            ("wamid.customer-1".to_owned(), false),
            ("wamid.customer-2".to_owned(), true)
        ]
    );
}
