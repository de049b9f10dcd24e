//! What the API answers with when it does what was asked: the shapes the OpenAPI document describes and
//! the function serialises, so the two cannot differ.
//!
//! A handoff's status is [`lifecycle::Status`] itself; its schema is built from the enum's variants
//! through an exhaustive match, so a new status cannot be served without being documented.
//!
//! [`lifecycle::Status`]: crate::handoff::lifecycle::Status

use super::HandoffId;
use crate::handoff::lifecycle::Status;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

/// `202` to `POST /v1/handoffs` (and to its retries with the same `Idempotency-Key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HandoffCreated {
    pub handoff_id: HandoffId,
    /// The Connect chat contact's id.
    pub contact_id: String,
    #[schema(schema_with = status_schema)]
    pub status: Status,
}

/// `GET /v1/handoffs/{id}`: where the handoff stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HandoffView {
    pub handoff_id: HandoffId,
    /// The chat contact the handoff is on now (a transfer may move it to another).
    pub contact_id: String,
    pub external_conversation_id: String,
    #[schema(schema_with = status_schema)]
    pub status: Status,
    /// The agent's name while one has the conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the last agent joined.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub agent_joined_at: Option<String>,
    /// When the handoff ended or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub ended_at: Option<String>,
}

/// `GET /v1/handoffs/{id}/transcript`: one page of the chat, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TranscriptPage {
    pub items: Vec<TranscriptItem>,
    /// Pass it as `next_token` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TranscriptItem {
    /// Connect's id of the item.
    pub id: String,
    pub participant: TranscriptParticipant,
    /// Connect's content type (`text/plain`, `text/markdown`, an interactive template, an attachment).
    pub content_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// Who said a transcript item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptParticipant {
    /// The user, through the bot.
    Customer,
    Agent,
    /// The bot's conversation retold, or the flow's messages.
    Bot,
    System,
}

/// Every status, in order; the match makes adding one to [`Status`] fail here until it is listed.
fn statuses() -> Vec<Status> {
    let next = |status: &Status| match status {
        Status::Queued => Some(Status::AgentJoined),
        Status::AgentJoined => Some(Status::Ended),
        Status::Ended => Some(Status::Failed),
        Status::Failed => None,
    };
    std::iter::successors(Some(Status::Queued), next).collect()
}

fn status_schema() -> RefOr<Schema> {
    let names = statuses()
        .into_iter()
        .map(|s| serde_json::to_value(s).unwrap_or_default());
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .description(Some(
            "queued (waiting for an agent, first or after a transfer), agent_joined, ended (an agent had it; \
             the conversation is the bot's again) or failed (no agent ever had it)",
        ))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_schema_lists_every_status_as_served() {
        let schema = serde_json::to_value(status_schema()).unwrap();
        assert_eq!(
            schema["enum"],
            serde_json::json!(["queued", "agent_joined", "ended", "failed"])
        );
        let created = HandoffCreated {
            handoff_id: HandoffId::parse("ho_01jehz3k5q8v0w2x4y6z8a0b2c").unwrap(),
            contact_id: "c-1".into(),
            status: Status::Queued,
        };
        assert_eq!(
            serde_json::to_value(created).unwrap(),
            serde_json::json!({"handoff_id": "ho_01jehz3k5q8v0w2x4y6z8a0b2c", "contact_id": "c-1", "status": "queued"})
        );
    }
}
