//! `WebhookSender`'s drain (`Dispatcher`) on the in-memory fakes: a handoff's events reach the bot's
//! endpoint in order, signed, each once; a failed attempt waits for its schedule and holds the later
//! events behind it; a final answer dead-letters the event and the later ones go on; typing is dropped
//! after one failure; a client without a webhook is sent nothing; a second drainer leaves the handoff
//! to the first.

mod handoffs;

use bridge::fakes::{FakeClientStore, FakeDeliveryQueue, FakeHandoffStore, FakePoster};
use bridge::handoff::dispatch::{Dispatcher, Drained, EndpointStore};
use bridge::handoff::lifecycle::{EndReason, Input};
use bridge::handoff::moves::{Change, Settled, settle};
use bridge::handoff::outbox::{Lease, Outbox};
use bridge::handoff::request::HandoffId;
use bridge::handoff::store::HandoffRecord;
use bridge::handoff::webhook::delivery::Answer;
use bridge::handoff::webhook::endpoint::{WebhookEndpoint, WebhookUrl};
use bridge::handoff::webhook::signature::{Received, WebhookSecret, Window, verify};
use bridge::telemetry::now_ms;
use serde_json::{Value, json};
use std::time::Duration;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Rig {
    store: FakeHandoffStore,
    queue: FakeDeliveryQueue,
    poster: FakePoster,
    dispatcher: Dispatcher<FakeHandoffStore, FakeClientStore, FakePoster, FakeDeliveryQueue>,
}

impl Rig {
    async fn new(webhook: bool) -> Self {
        let (store, queue, poster, clients) = (
            FakeHandoffStore::default(),
            FakeDeliveryQueue::default(),
            FakePoster::default(),
            FakeClientStore::default(),
        );
        if webhook {
            let url = WebhookUrl::parse("https://bot.example.com/hooks").unwrap();
            clients
                .put_webhook("acme-bot", &WebhookEndpoint::new(url, SECRET).unwrap())
                .await
                .unwrap();
        }
        let dispatcher = Dispatcher {
            outbox: store.clone(),
            endpoints: clients,
            poster: poster.clone(),
            queue: queue.clone(),
        };
        Self {
            store,
            queue,
            poster,
            dispatcher,
        }
    }

    /// A started handoff (owing `handoff.created`).
    async fn handoff(&self) -> HandoffRecord {
        handoffs::started(&self.store, "contact-1").await
    }

    /// Writes `changes` in order; the record after them.
    async fn change(&self, record: &HandoffRecord, changes: Vec<Change>) -> HandoffRecord {
        let mut current = record.clone();
        for change in changes {
            match settle(&self.store, &current, &change, None).await.unwrap() {
                Settled::Written { record, .. } => current = record,
                other => panic!("{other:?}"),
            }
        }
        current
    }

    /// What the endpoint got: each posting's sequence, type and answer.
    fn got(&self) -> Vec<(u64, String, Answer)> {
        self.poster
            .postings()
            .iter()
            .map(|posting| {
                let body: Value = serde_json::from_str(&posting.body).unwrap();
                (
                    body["data"]["sequence"].as_u64().unwrap(),
                    body["type"].as_str().unwrap().to_owned(),
                    posting.answer,
                )
            })
            .collect()
    }
}

fn message(id: &str) -> Change {
    Change::Messages {
        messages: vec![json!({"message_id": id, "content": {"type": "text", "text": "hi"}})],
        offered: None,
    }
}

fn joined() -> Change {
    Change::Move(Input::AgentJoined { agent: "Ana".into() })
}

const OK: Answer = Answer::Status(200);

#[tokio::test]
async fn a_handoffs_events_reach_the_bot_in_order_signed_and_once() {
    let rig = Rig::new(true).await;
    let handoff = rig.handoff().await;
    rig.change(&handoff, vec![joined(), message("m-1"), message("m-2")])
        .await;

    let drained = rig.dispatcher.drain(&handoff.id).await.unwrap();
    let again = rig.dispatcher.drain(&handoff.id).await.unwrap();

    assert_eq!(drained, Drained::CaughtUp { sent: 4 });
    assert_eq!(
        again,
        Drained::CaughtUp { sent: 0 },
        "a second kick sends nothing again"
    );
    let types: Vec<(u64, String)> = rig.got().into_iter().map(|(s, t, _)| (s, t)).collect();
    assert_eq!(
        types,
        [
            (1, "handoff.created".to_owned()),
            (2, "handoff.agent_joined".to_owned()),
            (3, "handoff.message".to_owned()),
            (4, "handoff.message".to_owned()),
        ]
    );
    let secret = WebhookSecret::parse(SECRET).unwrap();
    for posting in rig.poster.postings() {
        let received = Received {
            id: Some(&posting.headers.id),
            timestamp: Some(&posting.headers.timestamp),
            signature: Some(&posting.headers.signature),
            body: posting.body.as_bytes(),
        };
        verify(
            &received,
            std::slice::from_ref(&secret),
            Window::standard(now_ms() / 1000),
        )
        .expect("signed");
    }
}

#[tokio::test]
async fn a_failed_attempt_holds_the_later_events_until_its_retry_then_all_go_in_order() {
    let rig = Rig::new(true).await;
    let handoff = rig.handoff().await;
    let joined_record = rig.change(&handoff, vec![joined()]).await;
    rig.poster.answer([OK, Answer::Status(503)]);

    let first = rig.dispatcher.drain(&handoff.id).await.unwrap();
    assert_eq!(first, Drained::Postponed { sent: 1 });
    let (_, delay) = rig.queue.kicks().pop().expect("a retry is queued");
    assert!(
        delay > Duration::from_secs(3) && delay <= Duration::from_secs(5),
        "{delay:?}"
    );

    // An agent's message arrives meanwhile: its kick finds the retry not due and waits behind it.
    rig.change(&joined_record, vec![message("m-1")]).await;
    assert_eq!(rig.dispatcher.drain(&handoff.id).await.unwrap(), Drained::NotDue);
    assert_eq!(rig.got().len(), 2, "nothing new was tried");

    // The retry comes due (its lease and schedule moved back for the test).
    make_due(&rig, &handoff.id).await;
    assert_eq!(
        rig.dispatcher.drain(&handoff.id).await.unwrap(),
        Drained::CaughtUp { sent: 2 }
    );
    let sequences: Vec<(u64, Answer)> = rig.got().into_iter().map(|(s, _, a)| (s, a)).collect();
    assert_eq!(sequences, [(1, OK), (2, Answer::Status(503)), (2, OK), (3, OK)]);
    let ids: Vec<String> = rig.poster.postings().iter().map(|p| p.headers.id.clone()).collect();
    assert_eq!(ids[1], ids[2], "a retry carries the same webhook-id");
}

/// Moves the pending retry's schedule to now.
async fn make_due(rig: &Rig, id: &HandoffId) {
    use bridge::handoff::outbox::{Progress, Taken};
    let lease = Lease {
        owner: "test",
        now_ms: now_ms(),
        until_ms: now_ms() + 1_000,
    };
    let Taken::Held(delivery) = rig.store.take(id, lease).await.unwrap() else {
        panic!("free");
    };
    let due = Progress::Postponed {
        attempts: delivery.attempts,
        first_attempt_ms: delivery.first_attempt_ms.unwrap(),
        not_before_ms: now_ms() - 1,
    };
    assert!(rig.store.record(id, "test", due).await.unwrap());
    assert!(rig.store.release(id, "test", None).await.unwrap());
}

#[tokio::test]
async fn a_final_answer_dead_letters_the_event_and_the_later_ones_go_on() {
    let rig = Rig::new(true).await;
    let handoff = rig.handoff().await;
    rig.change(&handoff, vec![joined(), Change::Typing, message("m-1")])
        .await;
    rig.poster.answer([OK, Answer::Status(400), Answer::Status(503)]);

    let drained = rig.dispatcher.drain(&handoff.id).await.unwrap();

    assert_eq!(drained, Drained::CaughtUp { sent: 2 });
    let sequences: Vec<(u64, Answer)> = rig.got().into_iter().map(|(s, _, a)| (s, a)).collect();
    assert_eq!(
        sequences,
        [(1, OK), (2, Answer::Status(400)), (3, Answer::Status(503)), (4, OK)],
        "typing (3) is not retried"
    );
    let letters = rig.queue.dead_letters();
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].sequence, letters[0].reason), (2, "rejected"));
    assert_eq!(letters[0].envelope.kind.type_name(), "handoff.agent_joined");
}

#[tokio::test]
async fn a_client_without_a_webhook_is_sent_nothing() {
    let rig = Rig::new(false).await;
    let handoff = rig.handoff().await;
    rig.change(
        &handoff,
        vec![Change::Move(Input::ChatEnded { reason: EndReason::Api })],
    )
    .await;
    assert_eq!(
        rig.dispatcher.drain(&handoff.id).await.unwrap(),
        Drained::CaughtUp { sent: 0 }
    );
    assert!(rig.poster.postings().is_empty());
    assert!(rig.queue.dead_letters().is_empty());
}

#[tokio::test]
async fn a_second_drainer_leaves_the_handoff_to_the_one_holding_it() {
    let rig = Rig::new(true).await;
    let handoff = rig.handoff().await;
    let lease = Lease {
        owner: "other-invocation",
        now_ms: now_ms(),
        until_ms: now_ms() + 30_000,
    };
    rig.store.take(&handoff.id, lease).await.unwrap();
    assert_eq!(rig.dispatcher.drain(&handoff.id).await.unwrap(), Drained::NotMine);
    assert!(rig.poster.postings().is_empty());
    let unknown = HandoffId::mint(1, 2);
    assert_eq!(rig.dispatcher.drain(&unknown).await.unwrap(), Drained::UnknownHandoff);
}

#[tokio::test]
async fn a_replayed_dead_letter_is_sent_again_under_its_webhook_id() {
    let rig = Rig::new(true).await;
    let handoff = rig.handoff().await;
    rig.change(&handoff, vec![joined()]).await;
    rig.poster.answer([OK, Answer::Status(400)]);
    rig.dispatcher.drain(&handoff.id).await.unwrap();
    let letter = rig.queue.dead_letters().pop().expect("dead-lettered");

    rig.poster.answer([Answer::Status(503)]);
    let refused = rig.dispatcher.resend(&letter.client, &letter.envelope).await.unwrap();
    let taken = rig.dispatcher.resend(&letter.client, &letter.envelope).await.unwrap();

    assert_eq!((refused, taken), (false, true));
    let postings = rig.poster.postings();
    let last = postings.last().unwrap();
    assert_eq!(last.body, letter.envelope.body, "the exact body");
    assert_eq!(last.headers.id, postings[1].headers.id, "the same webhook-id");
    assert!(!rig.dispatcher.resend("ghost-bot", &letter.envelope).await.unwrap());
}
