//! The handoff store: the port through which the Handoff API and ConnectHandler keep a handoff's
//! record, and the record itself. Its adapters sit beside the other ports' (DynamoDB in
//! `crate::aws::handoff_store`, in memory in `crate::fakes`), held to one contract by
//! `tests/handoff_store.rs`.
//!
//! Three promises the API makes rest on it:
//! - **A retried create makes no second handoff.** A handoff is created under its idempotency key's
//!   client token (see [`super::request::IdempotencyKey::client_token`]) in one write that also claims
//!   the token; a create that finds the token claimed gets the handoff that claimed it, whose request
//!   digest tells a retry (same body) from a key reused for another request.
//! - **A handoff's chat is set once.** The chat is started after the record exists (the start's client
//!   token is the same key's, so a retry gets the same chat back from Connect) and attached to it; an
//!   attach that finds another chat there is refused, so a record never points at two chats.
//! - **Moves are never lost nor applied twice.** Every move of the [`Lifecycle`] is written conditional
//!   on the sequence number it was computed from; a writer that lost the race reads the record again and
//!   applies its input to what won, so concurrent events (Connect's stream and the API) each count once
//!   and the events owed to the bot are numbered without gaps.
//! - **An event owed is never lost nor owed twice.** Each move writes the events it owes (see
//!   [`Owed`]) in the same transaction as the sequence number they take, into the handoff's outbox,
//!   from where `WebhookSender` delivers them in order (see [`super::outbox`]); a move caused by an
//!   item of the chat also claims the item, so Connect streaming it twice owes the bot nothing more.
//!
//! A handoff's chat is found from the items Connect streams by its contact: attaching the chat also
//! maps the contact to the handoff.

use super::lifecycle::{Lifecycle, Status};
use super::message::OfferedChoice;
use super::request::HandoffId;
use super::webhook::Envelope;
use crate::ids::ContactId;
use crate::ports::{ActiveChat, PortResult};
use std::future::Future;

/// A handoff as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffRecord {
    pub id: HandoffId,
    /// The client (bot deployment) that created it: the only one that may see or act on it.
    pub client: String,
    /// The bot's id for its conversation, returned on every event so the bot can find it.
    pub external_conversation_id: String,
    /// The client token of the create's idempotency key, claimed with the record.
    pub client_token: String,
    /// A digest of the create's body, so a key reused for a different request is told from a retry.
    pub request_digest: String,
    /// When it was created (epoch ms).
    pub created_ms: i64,
    /// The chat it is handed to, once started.
    pub chat: Option<ActiveChat>,
    pub lifecycle: Lifecycle,
    /// When an agent first joined (epoch ms).
    pub agent_joined_ms: Option<i64>,
    /// When it ended or failed (epoch ms).
    pub ended_ms: Option<i64>,
}

impl HandoffRecord {
    /// A new handoff of `client`, before its chat is started.
    pub fn new(new: NewRecord) -> Self {
        Self {
            id: new.id,
            client: new.client,
            external_conversation_id: new.external_conversation_id,
            client_token: new.client_token,
            request_digest: new.request_digest,
            created_ms: new.now_ms,
            chat: None,
            lifecycle: Lifecycle::created(),
            agent_joined_ms: None,
            ended_ms: None,
        }
    }

    /// The record after a move to `lifecycle` at `now_ms`: the times of the first agent and of the end
    /// are kept from the first move that set them.
    pub fn moved(&self, lifecycle: Lifecycle, now_ms: i64) -> Self {
        let agent_joined_ms = self
            .agent_joined_ms
            .or((lifecycle.status == Status::AgentJoined).then_some(now_ms));
        let ended_ms = self.ended_ms.or(lifecycle.status.is_over().then_some(now_ms));
        Self {
            lifecycle,
            agent_joined_ms,
            ended_ms,
            ..self.clone()
        }
    }
}

/// What a new handoff record is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub id: HandoffId,
    pub client: String,
    pub external_conversation_id: String,
    pub client_token: String,
    pub request_digest: String,
    pub now_ms: i64,
}

/// What a create found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The record was written, its client token claimed.
    New,
    /// The client token was claimed before, by this handoff (a retry, or a key reused: compare
    /// [`HandoffRecord::request_digest`]).
    Existing(Box<HandoffRecord>),
}

/// What a conditional write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The record had moved on (another chat attached, another move written): read it again.
    Stale,
    /// The chat's item that caused the move was written before (Connect streamed it twice).
    Seen,
}

/// An event owed to the bot, kept in the handoff's outbox until it is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    /// Its place in the handoff (the lifecycle's sequence number it took).
    pub sequence: u64,
    pub envelope: Envelope,
}

/// One move of a handoff: the record it was computed from, the record after it, the events it owes,
/// and the chat's item that caused it, if one did (claimed by its id with the move).
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub from: &'a HandoffRecord,
    pub moved: &'a HandoffRecord,
    pub owed: &'a [Owed],
    pub item: Option<&'a str>,
    /// The choice the bot may now answer by option id, replacing any older one.
    pub offered: Option<&'a OfferedChoice>,
}

/// DynamoDB (or memory): handoff records and their idempotency keys.
pub trait HandoffStore: Send + Sync {
    /// Writes `record` and claims its client token, or finds the handoff that claimed the token first.
    fn create(&self, record: &HandoffRecord) -> impl Future<Output = PortResult<Created>> + Send;

    /// The handoff `id`, if it exists (whichever client it belongs to: the caller checks).
    fn load(&self, id: &HandoffId) -> impl Future<Output = PortResult<Option<HandoffRecord>>> + Send;

    /// Attaches the started chat to the handoff `record`, maps its contact to the handoff and owes
    /// `created` (`handoff.created`, sequence 1), unless another chat is attached already or the
    /// handoff is not stored (`Stale`); attaching the same contact again (a retried create) writes the
    /// latest tokens.
    fn attach_chat(
        &self,
        record: &HandoffRecord,
        chat: &ActiveChat,
        created: &Owed,
    ) -> impl Future<Output = PortResult<Written>> + Send;

    /// Keeps a renewed connection to handoff `id`'s chat (the same contact's), unless another chat is
    /// attached (`Stale`).
    fn renew_connection(&self, id: &HandoffId, chat: &ActiveChat) -> impl Future<Output = PortResult<Written>> + Send;

    /// The handoff whose chat is the contact `initial_contact_id`, if any.
    fn find_by_contact(
        &self,
        initial_contact_id: &ContactId,
    ) -> impl Future<Output = PortResult<Option<HandoffId>>> + Send;

    /// Writes `step.moved` (a move of `step.from`'s lifecycle, see [`HandoffRecord::moved`]) with the
    /// events it owes, if the stored record is still at `from`'s sequence number (else `Stale`) and
    /// its item was not written before (else `Seen`).
    fn advance(&self, step: Step<'_>) -> impl Future<Output = PortResult<Written>> + Send;

    /// The last choice offered in handoff `id`'s chat, which the bot answers by option id.
    fn load_offered(&self, id: &HandoffId) -> impl Future<Output = PortResult<Option<OfferedChoice>>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::lifecycle::{EndReason, Input};
    use crate::test_fixtures::handoff_record as record;

    #[test]
    fn a_moved_record_keeps_when_the_first_agent_joined_and_when_it_ended() {
        let queued = record();
        let joined = queued.apply_for_test(Input::AgentJoined { agent: "Ana".into() }, 2_000);
        assert_eq!(joined.agent_joined_ms, Some(2_000));
        let left = joined.apply_for_test(Input::AgentLeft, 3_000);
        let again = left.apply_for_test(Input::AgentJoined { agent: "Bo".into() }, 4_000);
        assert_eq!(again.agent_joined_ms, Some(2_000), "the first agent's time");
        assert_eq!(again.ended_ms, None);
        let ended = again.apply_for_test(
            Input::ChatEnded {
                reason: EndReason::AgentEnded,
            },
            5_000,
        );
        assert_eq!(ended.ended_ms, Some(5_000));
        assert_eq!(ended.lifecycle.status, Status::Ended);
    }

    #[test]
    fn a_handoff_that_fails_has_an_end_and_no_agent_time() {
        let failed = record().apply_for_test(Input::StartRefused, 1_500);
        assert_eq!(failed.lifecycle.status, Status::Failed);
        assert_eq!((failed.agent_joined_ms, failed.ended_ms), (None, Some(1_500)));
    }

    impl HandoffRecord {
        fn apply_for_test(&self, input: Input, now_ms: i64) -> Self {
            self.moved(self.lifecycle.apply(input).unwrap().lifecycle, now_ms)
        }
    }
}
