//! ConnectHandler's relay of handoff chats (`HandoffRelay`) on the in-memory fakes, fed the repository's
//! sample stream events: an agent joining, speaking, typing and ending the chat each owe the bot one
//! event, numbered in order, and kick the delivery; an item streamed twice owes nothing more; nothing
//! is owed after the end; the customer's own echo and an unknown contact's items owe nothing.

mod handoffs;

use bridge::fakes::{FakeDeliveryQueue, FakeHandoffStore};
use bridge::handoff::relay::HandoffRelay;
use bridge::handoff::request::HandoffId;
use bridge::handoff::store::HandoffStore;
use serde_json::Value;

/// The fixtures' chat.
const CONTACT: &str = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d";

fn event(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/connect-stream-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn owed(store: &FakeHandoffStore, id: &HandoffId) -> Vec<(u64, String)> {
    store
        .events(id)
        .into_iter()
        .map(|(sequence, envelope)| (sequence, envelope.kind.type_name().to_owned()))
        .collect()
}

#[tokio::test]
async fn each_item_of_a_handoffs_chat_owes_the_bot_one_event_in_order() {
    let (store, queue) = (FakeHandoffStore::default(), FakeDeliveryQueue::default());
    let relay = HandoffRelay::new(store.clone(), queue.clone());
    let handoff = handoffs::started(&store, CONTACT).await;

    for name in [
        "participant-joined",
        "agent-message",
        "agent-message",
        "customer-echo",
        "typing",
        "chat-ended",
        "agent-markdown",
    ] {
        relay.handle(&event(name)).await.unwrap();
    }

    assert_eq!(
        owed(&store, &handoff.id),
        [
            (1, "handoff.created".to_owned()),
            (2, "handoff.agent_joined".to_owned()),
            (3, "handoff.message".to_owned()),
            (4, "handoff.typing".to_owned()),
            (5, "handoff.ended".to_owned()),
        ],
        "the second copy, the echo and what came after the end owe nothing"
    );
    let message: Value = serde_json::from_str(&store.events(&handoff.id)[2].1.body).unwrap();
    assert_eq!(message["data"]["sender"]["role"], "agent");
    assert_eq!(message["data"]["handoff_id"], handoff.id.as_str());
    let ended: Value = serde_json::from_str(&store.events(&handoff.id)[4].1.body).unwrap();
    assert_eq!(ended["data"]["reason"], "agent_ended");
    assert_eq!(ended["data"]["returns_to_bot"], true);
    assert_eq!(
        queue.kicks().len(),
        6,
        "a kick per item of the handoff, the repeat and the late one too (their first try may have failed to kick)"
    );
    let stored = store.load(&handoff.id).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(stored.lifecycle.status).unwrap(), "ended");
}

#[tokio::test]
async fn an_unknown_contacts_items_owe_nothing() {
    let (store, queue) = (FakeHandoffStore::default(), FakeDeliveryQueue::default());
    let relay = HandoffRelay::new(store.clone(), queue.clone());
    let other = handoffs::started(&store, "11111111-2222-4333-8444-555555555555").await;

    relay.handle(&event("agent-message")).await.unwrap();

    assert_eq!(owed(&store, &other.id), [(1, "handoff.created".to_owned())]);
    assert!(queue.kicks().is_empty());
}

#[tokio::test]
async fn an_event_whose_kick_failed_is_kicked_by_the_retry_of_its_item() {
    use bridge::error::{FailureKind, PortError};
    use bridge::fakes::Fault;
    let (store, queue) = (FakeHandoffStore::default(), FakeDeliveryQueue::default());
    let relay = HandoffRelay::new(store.clone(), queue.clone());
    let handoff = handoffs::started(&store, CONTACT).await;
    queue.faults().next(
        "kick",
        Fault::Fail(PortError::new(
            FailureKind::Transient,
            "SendMessage",
            "ThrottlingException",
        )),
    );

    let first = relay.handle(&event("chat-ended")).await;
    assert!(first.is_err(), "the kick failed: Lambda retries the event");
    relay.handle(&event("chat-ended")).await.unwrap();

    assert_eq!(owed(&store, &handoff.id).len(), 2, "owed once");
    assert_eq!(queue.kicks().len(), 1, "the retry kicks what its first attempt owed");
}
