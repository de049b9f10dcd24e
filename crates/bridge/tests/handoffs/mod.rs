//! What the handoff tests on the fakes share: a handoff whose chat is started.

use bridge::fakes::FakeHandoffStore;
use bridge::handoff::moves::envelope;
use bridge::handoff::request::HandoffId;
use bridge::handoff::store::{HandoffRecord, HandoffStore, NewRecord, Owed};
use bridge::handoff::webhook::Payload;
use bridge::ids::{ConnectionToken, ContactId, ParticipantToken};
use bridge::ports::ActiveChat;
use bridge::telemetry::now_ms;

/// A handoff of `acme-bot` (the bot's conversation `conv-7`) whose chat is `contact`, owing
/// `handoff.created`.
pub async fn started(store: &FakeHandoffStore, contact: &str) -> HandoffRecord {
    let record = HandoffRecord::new(NewRecord {
        id: HandoffId::mint(u64::try_from(now_ms()).unwrap(), 1),
        client: "acme-bot".into(),
        external_conversation_id: "conv-7".into(),
        client_token: format!("token-{contact}"),
        request_digest: "digest".into(),
        now_ms: now_ms(),
    });
    store.create(&record).await.unwrap();
    let chat = ActiveChat {
        contact_id: ContactId::parse(contact).unwrap(),
        participant_token: ParticipantToken::new("p"),
        connection_token: ConnectionToken::new("c"),
        connection_expires_at: 1_900_000_000,
    };
    let created = Owed {
        sequence: 1,
        envelope: envelope(&record, 1, chrono::Utc::now(), Payload::Created),
    };
    store.attach_chat(&record, &chat, &created).await.unwrap();
    record
}
