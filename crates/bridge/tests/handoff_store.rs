//! The handoff store's contract: each case runs on the in-memory fake (`bridge::fakes::FakeHandoffStore`)
//! and on the DynamoDB adapter against moto, which is the truth. The cases: a retried create finds the
//! handoff its key made and makes no second one; a handoff's chat is attached once; a move is written only
//! over the sequence number it was computed from, and keeps the first agent's time and the end's.

use bridge::aws::DynamoHandoffStore;
use bridge::fakes::FakeHandoffStore;
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
    use super::{Backend, HandoffStore};
    use bridge::handoff::lifecycle::{EndReason, Input, Status};
    use bridge::handoff::request::HandoffId;
    use bridge::handoff::store::{Created, HandoffRecord, NewRecord, Written};
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

    pub async fn a_handoffs_chat_is_attached_once<S: HandoffStore>(backend: &Backend<S>) {
        let store = &backend.store;
        let handoff = record("token-c", 5);
        store.create(&handoff).await.unwrap();

        assert_eq!(
            store.attach_chat(&handoff.id, &chat("contact-1", "c1")).await.unwrap(),
            Written::Done
        );
        assert_eq!(
            store.attach_chat(&handoff.id, &chat("contact-1", "c2")).await.unwrap(),
            Written::Done,
            "the same chat again (a retried create): its latest tokens"
        );
        assert_eq!(
            store.attach_chat(&handoff.id, &chat("contact-2", "c3")).await.unwrap(),
            Written::Stale,
            "never a second chat"
        );
        let stored = store.load(&handoff.id).await.unwrap().unwrap();
        assert_eq!(stored.chat, Some(chat("contact-1", "c2")));
        assert_eq!(stored.lifecycle, handoff.lifecycle, "the lifecycle untouched");

        let unknown = HandoffId::mint(1, 6);
        assert_eq!(
            store.attach_chat(&unknown, &chat("contact-3", "c4")).await.unwrap(),
            Written::Stale
        );
        assert_eq!(store.load(&unknown).await.unwrap(), None, "nothing made up");
    }

    pub async fn a_move_is_written_only_over_the_sequence_it_was_computed_from<S: HandoffStore>(backend: &Backend<S>) {
        let store = &backend.store;
        let created = record("token-d", 7);
        store.create(&created).await.unwrap();
        let apply = |from: &HandoffRecord, input: Input, at: i64| {
            from.moved(from.lifecycle.apply(input).unwrap().lifecycle, at)
        };

        let joined = apply(&created, Input::AgentJoined { agent: "Ana".into() }, 2_000);
        assert_eq!(store.advance(&created, &joined).await.unwrap(), Written::Done);
        let refused = apply(&created, Input::StartRefused, 2_100);
        assert_eq!(
            store.advance(&created, &refused).await.unwrap(),
            Written::Stale,
            "computed from a record that moved on"
        );
        assert_eq!(store.load(&created.id).await.unwrap(), Some(joined.clone()));

        let ended = apply(
            &joined,
            Input::ChatEnded {
                reason: EndReason::AgentEnded,
            },
            3_000,
        );
        assert_eq!(store.advance(&joined, &ended).await.unwrap(), Written::Done);
        let stored = store.load(&created.id).await.unwrap().unwrap();
        assert_eq!(stored, ended);
        assert_eq!(stored.lifecycle.status, Status::Ended);
        assert_eq!(stored.lifecycle.agent, None, "the agent is gone with the end");
        assert_eq!((stored.agent_joined_ms, stored.ended_ms), (Some(2_000), Some(3_000)));
    }
}

contract!(
    fake: super::fake(),
    twin: super::on_moto().await,
    cases:
    a_retried_create_finds_the_handoff_its_key_made,
    a_handoffs_chat_is_attached_once,
    a_move_is_written_only_over_the_sequence_it_was_computed_from,
);
