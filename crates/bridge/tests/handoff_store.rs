//! The handoff store's contract: each case runs on the in-memory fake (`bridge::fakes::FakeHandoffStore`)
//! and on the DynamoDB adapter against moto, which is the truth. The cases: a retried create finds the
//! handoff its key made and makes no second one; a handoff's chat is attached once; a move is written only
//! over the sequence number it was computed from, and keeps the first agent's time and the end's; a move
//! writes the events it owes and is written once per item; attaching the chat maps its contact and owes
//! `handoff.created`; one drainer at a time holds a handoff's delivery, gives it back only when caught up.

use bridge::aws::DynamoHandoffStore;
use bridge::fakes::FakeHandoffStore;
use bridge::handoff::outbox::Outbox;
use bridge::handoff::store::HandoffStore;
use local_aws::Stack;

// Each test file uses part of it.
#[allow(dead_code, unused_macros)]
#[macro_use]
mod twin;

/// A store, and the stack its adapter talks to (kept alive for the case).
pub struct Backend<S> {
    store: S,
    _stack: Option<Stack>,
}

fn fake() -> Backend<FakeHandoffStore> {
    Backend {
        store: FakeHandoffStore::default(),
        _stack: None,
    }
}

async fn on_moto() -> Option<Backend<DynamoHandoffStore>> {
    let stack = twin::stack().await?;
    let client = aws_sdk_dynamodb::Client::new(&twin::sdk_config(stack.moto_url()?));
    Some(Backend {
        store: DynamoHandoffStore::new(client, "whatsapp-bridge-state".into()),
        _stack: Some(stack),
    })
}

mod cases {
    use super::{Backend, HandoffStore, Outbox};
    use bridge::handoff::lifecycle::{EndReason, Input, Status};
    use bridge::handoff::moves::{Change, Planned, envelope, plan};
    use bridge::handoff::outbox::{Lease, Progress, Taken};
    use bridge::handoff::request::HandoffId;
    use bridge::handoff::store::{Created, HandoffRecord, NewRecord, Owed, Step, Written};
    use bridge::handoff::webhook::Payload;
    use bridge::ids::{ConnectionToken, ContactId, ParticipantToken};
    use bridge::ports::ActiveChat;
    use bridge::telemetry::now_ms;

    fn record(client_token: &str, random: u128) -> HandoffRecord {
        let now = now_ms();
        HandoffRecord::new(NewRecord {
            id: HandoffId::mint(u64::try_from(now).unwrap(), random),
            client: "acme-bot".into(),
            external_conversation_id: "conversation-7".into(),
            client_token: client_token.into(),
            request_digest: format!("digest-{random}"),
            now_ms: now,
        })
    }

    fn chat(contact: &str, connection: &str) -> ActiveChat {
        ActiveChat {
            contact_id: ContactId::parse(contact).unwrap(),
            participant_token: ParticipantToken::new(format!("participant-{contact}")),
            connection_token: ConnectionToken::new(connection),
            connection_expires_at: 1_900_000_000,
        }
    }

    fn created(record: &HandoffRecord) -> Owed {
        Owed {
            sequence: 1,
            envelope: envelope(record, 1, chrono::DateTime::default(), Payload::Created),
        }
    }

    fn planned(from: &HandoffRecord, change: Change, at: i64) -> Planned {
        plan(from, &change, at).unwrap().unwrap()
    }

    async fn advance<S: HandoffStore>(store: &S, from: &HandoffRecord, moved: &Planned, item: Option<&str>) -> Written {
        let step = Step {
            from,
            moved: &moved.0,
            owed: &moved.1,
            item,
            offered: None,
        };
        store.advance(step).await.unwrap()
    }

    pub async fn a_retried_create_finds_the_handoff_its_key_made<S: HandoffStore>(backend: &Backend<S>) {
        let store = &backend.store;
        let first = record("token-a", 1);
        assert_eq!(store.create(&first).await.unwrap(), Created::New);
        assert_eq!(store.load(&first.id).await.unwrap(), Some(first.clone()));

        let retry = record("token-a", 2);
        assert_eq!(
            store.create(&retry).await.unwrap(),
            Created::Existing(Box::new(first.clone())),
            "the same key: the first handoff, with its request digest to compare"
        );
        assert_eq!(store.load(&retry.id).await.unwrap(), None, "no second handoff");

        let other = record("token-b", 3);
        assert_eq!(store.create(&other).await.unwrap(), Created::New);
        let unknown = HandoffId::mint(1, 4);
        assert_eq!(store.load(&unknown).await.unwrap(), None);
    }

    pub async fn a_handoffs_chat_is_attached_once<S: HandoffStore + Outbox>(backend: &Backend<S>) {
        let store = &backend.store;
        let handoff = record("token-c", 5);
        store.create(&handoff).await.unwrap();

        assert_eq!(
            store
                .attach_chat(&handoff, &chat("contact-1", "c1"), &created(&handoff))
                .await
                .unwrap(),
            Written::Done
        );
        assert_eq!(
            store
                .attach_chat(&handoff, &chat("contact-1", "c2"), &created(&handoff))
                .await
                .unwrap(),
            Written::Done,
            "the same chat again (a retried create): its latest tokens"
        );
        assert_eq!(
            store
                .attach_chat(&handoff, &chat("contact-2", "c3"), &created(&handoff))
                .await
                .unwrap(),
            Written::Stale,
            "never a second chat"
        );
        let stored = store.load(&handoff.id).await.unwrap().unwrap();
        assert_eq!(stored.chat, Some(chat("contact-1", "c2")));
        assert_eq!(stored.lifecycle, handoff.lifecycle, "the lifecycle untouched");

        let never_stored = record("token-never", 6);
        assert_eq!(
            store
                .attach_chat(&never_stored, &chat("contact-3", "c4"), &created(&never_stored))
                .await
                .unwrap(),
            Written::Stale
        );
        assert_eq!(store.load(&never_stored.id).await.unwrap(), None, "nothing made up");
        let unmapped = ContactId::parse("contact-3").unwrap();
        assert_eq!(
            store.find_by_contact(&unmapped).await.unwrap(),
            None,
            "nor its contact mapped"
        );
        assert_eq!(
            store.event(&never_stored.id, 1).await.unwrap(),
            None,
            "nor an event owed"
        );
        let contact = ContactId::parse("contact-1").unwrap();
        assert_eq!(store.find_by_contact(&contact).await.unwrap(), Some(handoff.id.clone()));
        let other = ContactId::parse("contact-2").unwrap();
        assert_eq!(
            store.find_by_contact(&other).await.unwrap(),
            None,
            "the refused chat is not mapped"
        );
        assert_eq!(
            store
                .renew_connection(&handoff.id, &chat("contact-1", "c5"))
                .await
                .unwrap(),
            Written::Done
        );
        let renewed = store.load(&handoff.id).await.unwrap().unwrap().chat.unwrap();
        assert_eq!(renewed.connection_token.expose(), "c5");
        assert_eq!(
            store
                .renew_connection(&handoff.id, &chat("contact-2", "c6"))
                .await
                .unwrap(),
            Written::Stale,
            "not another chat's"
        );
        let owed = store
            .event(&handoff.id, 1)
            .await
            .unwrap()
            .expect("handoff.created owed");
        assert_eq!(owed, created(&handoff).envelope);
    }

    pub async fn a_move_is_written_only_over_the_sequence_it_was_computed_from<S: HandoffStore + Outbox>(
        backend: &Backend<S>,
    ) {
        let store = &backend.store;
        let created = record("token-d", 7);
        store.create(&created).await.unwrap();

        let joined = planned(
            &created,
            Change::Move(Input::AgentJoined { agent: "Ana".into() }),
            2_000,
        );
        assert_eq!(advance(store, &created, &joined, Some("item-1")).await, Written::Done);
        let refused = planned(&created, Change::Move(Input::StartRefused), 2_100);
        assert_eq!(
            advance(store, &created, &refused, Some("item-2")).await,
            Written::Stale,
            "computed from a record that moved on"
        );
        assert_eq!(store.load(&created.id).await.unwrap(), Some(joined.0.clone()));
        let again = planned(&joined.0, Change::Move(Input::AgentLeft), 2_200);
        assert_eq!(
            advance(store, &joined.0, &again, Some("item-1")).await,
            Written::Seen,
            "the same item streamed twice moves nothing"
        );

        let ended = planned(
            &joined.0,
            Change::Move(Input::ChatEnded {
                reason: EndReason::AgentEnded,
            }),
            3_000,
        );
        assert_eq!(advance(store, &joined.0, &ended, None).await, Written::Done);
        let stored = store.load(&created.id).await.unwrap().unwrap();
        assert_eq!(stored, ended.0);
        assert_eq!(stored.lifecycle.status, Status::Ended);
        assert_eq!(stored.lifecycle.agent, None, "the agent is gone with the end");
        assert_eq!((stored.agent_joined_ms, stored.ended_ms), (Some(2_000), Some(3_000)));
        for (sequence, owed) in [(2, &joined.1[0]), (3, &ended.1[0])] {
            assert_eq!(
                store.event(&created.id, sequence).await.unwrap().as_ref(),
                Some(&owed.envelope)
            );
        }
        assert_eq!(store.event(&created.id, 4).await.unwrap(), None);
    }

    pub async fn the_last_choice_offered_is_kept_with_its_message<S: HandoffStore>(backend: &Backend<S>) {
        let store = &backend.store;
        let handoff = record("token-f", 10);
        store.create(&handoff).await.unwrap();
        assert_eq!(store.load_offered(&handoff.id).await.unwrap(), None);
        let path = format!(
            "{}/../../tests/fixtures/connect-stream-interactive-listpicker.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let notification = bridge::sns::notifications(&event).unwrap().remove(0).unwrap();
        let item = bridge::connect_stream::parse_item(&notification).unwrap();
        let for_bot = bridge::handoff::message::for_bot(&item).unwrap();
        let change = Change::Messages {
            messages: vec![serde_json::to_value(&for_bot.messages[0]).unwrap()],
            offered: for_bot.offered.clone().map(Box::new),
        };
        let listed = plan(&handoff, &change, 2_000).unwrap().unwrap();
        let step = Step {
            from: &handoff,
            moved: &listed.0,
            owed: &listed.1,
            item: Some("list-item"),
            offered: for_bot.offered.as_ref(),
        };
        assert_eq!(store.advance(step).await.unwrap(), Written::Done);
        assert_eq!(store.load_offered(&handoff.id).await.unwrap(), for_bot.offered);
    }

    pub async fn one_drainer_holds_a_delivery_and_gives_it_back_only_when_caught_up<S: HandoffStore + Outbox>(
        backend: &Backend<S>,
    ) {
        let store = &backend.store;
        let handoff = record("token-e", 8);
        store.create(&handoff).await.unwrap();
        let now = now_ms();
        let lease = |owner, at: i64| Lease {
            owner,
            now_ms: at,
            until_ms: at + 30_000,
        };
        let Taken::Held(delivery) = store.take(&handoff.id, lease("a", now)).await.unwrap() else {
            panic!("free");
        };
        assert_eq!(
            (delivery.client.as_str(), delivery.delivered, delivery.owed),
            ("acme-bot", 0, 1)
        );
        assert_eq!(store.take(&handoff.id, lease("b", now)).await.unwrap(), Taken::Busy);
        assert!(
            !store.record(&handoff.id, "b", Progress::Through(1)).await.unwrap(),
            "not b's"
        );
        let postponed = Progress::Postponed {
            attempts: 2,
            first_attempt_ms: now,
            not_before_ms: now + 10_000,
        };
        assert!(store.record(&handoff.id, "a", postponed).await.unwrap());
        let Taken::Held(renewed) = store.take(&handoff.id, lease("a", now)).await.unwrap() else {
            panic!("a renews its own");
        };
        assert_eq!(
            (renewed.attempts, renewed.first_attempt_ms, renewed.not_before_ms),
            (2, Some(now), Some(now + 10_000))
        );
        assert!(store.record(&handoff.id, "a", Progress::Through(1)).await.unwrap());

        // A move lands while `a` drains: it cannot give the delivery back as caught up through 1.
        let joined = planned(&handoff, Change::Move(Input::AgentJoined { agent: "Ana".into() }), now);
        assert_eq!(advance(store, &handoff, &joined, None).await, Written::Done);
        assert!(!store.release(&handoff.id, "a", Some(1)).await.unwrap(), "more is owed");
        assert!(store.record(&handoff.id, "a", Progress::Through(2)).await.unwrap());
        assert!(store.release(&handoff.id, "a", Some(2)).await.unwrap());
        let Taken::Held(after) = store.take(&handoff.id, lease("b", now)).await.unwrap() else {
            panic!("given back");
        };
        assert_eq!(
            (after.delivered, after.owed, after.attempts, after.not_before_ms),
            (2, 2, 0, None)
        );
        assert_eq!(store.take(&handoff.id, lease("a", now)).await.unwrap(), Taken::Busy);
        assert_eq!(
            store.take(&handoff.id, lease("a", now + 31_000)).await.unwrap(),
            Taken::Held(after),
            "a lease that ended is taken over"
        );
        let unknown = HandoffId::mint(1, 9);
        assert_eq!(store.take(&unknown, lease("a", now)).await.unwrap(), Taken::Unknown);
    }
}

contract!(
    fake: super::fake(),
    twin: super::on_moto().await,
    cases:
    a_retried_create_finds_the_handoff_its_key_made,
    a_handoffs_chat_is_attached_once,
    a_move_is_written_only_over_the_sequence_it_was_computed_from,
    one_drainer_holds_a_delivery_and_gives_it_back_only_when_caught_up,
    the_last_choice_offered_is_kept_with_its_message,
);
