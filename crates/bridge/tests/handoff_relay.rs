//! ConnectHandler's relay of handoff chats (`HandoffRelay`) on the in-memory fakes, fed the repository's
//! sample stream events: an agent joining, speaking, typing and ending the chat each owe the bot one
//! event, numbered in order, and kick the delivery; an item streamed twice owes nothing more; nothing
//! is owed after the end; the customer's own echo and an unknown contact's items owe nothing; the
//! agent's file goes with a download link while Connect gives one.

mod handoffs;

use bridge::fakes::{FakeAttachments, FakeDeliveryQueue, FakeHandoffStore, LINK_EXPIRY};
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
    let relay = HandoffRelay::new(store.clone(), queue.clone(), FakeAttachments::default());
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
    let relay = HandoffRelay::new(store.clone(), queue.clone(), FakeAttachments::default());
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
    let relay = HandoffRelay::new(store.clone(), queue.clone(), FakeAttachments::default());
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

#[tokio::test]
async fn the_agents_file_goes_to_the_bot_with_a_link_while_connect_gives_one() {
    let (store, queue, attachments) = (
        FakeHandoffStore::default(),
        FakeDeliveryQueue::default(),
        FakeAttachments::default(),
    );
    let relay = HandoffRelay::new(store.clone(), queue.clone(), attachments.clone());
    let handoff = handoffs::started(&store, CONTACT).await;
    let file_of = |n: usize| -> Value {
        let body: Value = serde_json::from_str(&store.events(&handoff.id)[n].1.body).unwrap();
        body["data"]["content"].clone()
    };

    // Connect refuses a link to a file it does not have (GetAttachment's ValidationException).
    relay.handle(&event("attachment")).await.unwrap();
    assert_eq!(file_of(1)["type"], "file");
    assert_eq!(
        file_of(1).get("download"),
        None,
        "no link, but the file is still announced"
    );

    attachments.add_file("ee012ba9-7416-bf88-f9cd-c55d0f0461a1", b"%PDF-1.7 receipt");
    let mut again = event("attachment");
    let message = again["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .replace("\"Id\":\"", "\"Id\":\"x");
    again["Records"][0]["Sns"]["Message"] = Value::String(message);
    relay.handle(&again).await.unwrap();
    let file = file_of(2);
    assert_eq!(file["attachment_id"], "ee012ba9-7416-bf88-f9cd-c55d0f0461a1");
    assert_eq!(file["size"], 16);
    assert_eq!(
        file["download"]["url"],
        "https://attachments.example/ee012ba9-7416-bf88-f9cd-c55d0f0461a1"
    );
    assert_eq!(file["download"]["expires_at"], LINK_EXPIRY);
}
