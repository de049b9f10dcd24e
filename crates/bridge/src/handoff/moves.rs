//! A handoff's changes as they are written: what a change owes the bot ([`plan`], pure) and the write
//! that records it with its events ([`settle`]), shared by the API (the bot ends a handoff, Connect
//! refuses its start) and ConnectHandler's relay (an agent joins, says something, ends the chat).
//!
//! Every change goes through the same conditional write on the handoff's sequence number, so the
//! events of a handoff are numbered in the order their writes landed, without gaps, whichever function
//! wrote them; a writer that lost the race plans its change again over what won.

use super::lifecycle::{Input, Refusal};
use super::message::OfferedChoice;
use super::request::HandoffId;
use super::store::{HandoffRecord, HandoffStore, Owed, Step, Written};
use super::webhook::{Envelope, Occurrence, Payload};
use crate::ports::PortResult;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// What happened to a handoff.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A move of its lifecycle.
    Move(Input),
    /// Messages of the chat for the bot (each a `handoff.message`'s fields, see `handoff::message`),
    /// and the choice among them the bot may answer by option id (kept in place of any older one).
    Messages {
        messages: Vec<Value>,
        offered: Option<Box<OfferedChoice>>,
    },
    /// The agent is typing.
    Typing,
}

/// The record after a change and the events it owes.
pub type Planned = (HandoffRecord, Vec<Owed>);

/// What `change` at `at_ms` makes of `record`: `None` when it changes nothing (a second `chat.ended`,
/// a message streamed after the end), refused when the bot asks something of a handoff that is over.
pub fn plan(record: &HandoffRecord, change: &Change, at_ms: i64) -> Result<Option<Planned>, Refusal> {
    let at = DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    let owed = |sequence: u64, payload: Payload| Owed {
        sequence,
        envelope: envelope(record, sequence, at, payload),
    };
    match change {
        Change::Move(input) => {
            let moved = record.lifecycle.apply(input.clone())?;
            if moved.events.is_empty() {
                return Ok(None);
            }
            let events = moved
                .events
                .into_iter()
                .map(|(sequence, event)| owed(sequence, Payload::Lifecycle(event)))
                .collect();
            Ok(Some((record.moved(moved.lifecycle, at_ms), events)))
        }
        Change::Messages { messages, .. } => {
            let mut lifecycle = record.lifecycle.clone();
            let mut events = Vec::with_capacity(messages.len());
            for message in messages {
                let Some((next, sequence)) = lifecycle.number() else {
                    return Ok(None);
                };
                lifecycle = next;
                events.push(owed(sequence, Payload::Message(message.clone())));
            }
            Ok((!events.is_empty()).then(|| (record.moved(lifecycle, at_ms), events)))
        }
        Change::Typing => Ok(record
            .lifecycle
            .number()
            .map(|(lifecycle, sequence)| (record.moved(lifecycle, at_ms), vec![owed(sequence, Payload::Typing)]))),
    }
}

/// The event numbered `sequence` of `record`'s handoff.
pub fn envelope(record: &HandoffRecord, sequence: u64, at: DateTime<Utc>, payload: Payload) -> Envelope {
    Envelope::new(Occurrence {
        handoff_id: record.id.as_str(),
        external_conversation_id: &record.external_conversation_id,
        sequence,
        at,
        payload,
    })
}

/// What writing a change came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// Written: the record after it, and how many events it owes (to kick the delivery for).
    Written {
        record: HandoffRecord,
        owed: usize,
    },
    /// It changed nothing: the record as it is.
    Unchanged(HandoffRecord),
    /// Its item was written before.
    Duplicate,
    Refused(Refusal),
    /// The handoff is gone (expired).
    Unknown,
}

/// Writes `change` (caused by the chat's item `item`, if one did) over `record`, planning it again
/// over the stored record whenever another writer moved the handoff first.
pub async fn settle(
    store: &impl HandoffStore,
    record: &HandoffRecord,
    change: &Change,
    item: Option<(&str, i64)>,
) -> PortResult<Settled> {
    let id: &HandoffId = &record.id;
    let mut current = record.clone();
    loop {
        let at_ms = item.map_or_else(crate::telemetry::now_ms, |(_, at)| at);
        let (moved, owed) = match plan(&current, change, at_ms) {
            Ok(Some(planned)) => planned,
            Ok(None) => return Ok(Settled::Unchanged(current)),
            Err(refusal) => return Ok(Settled::Refused(refusal)),
        };
        let offered = match change {
            Change::Messages { offered, .. } => offered.as_deref(),
            _ => None,
        };
        let step = Step {
            from: &current,
            moved: &moved,
            owed: &owed,
            item: item.map(|(id, _)| id),
            offered,
        };
        match store.advance(step).await? {
            Written::Done => {
                return Ok(Settled::Written {
                    record: moved,
                    owed: owed.len(),
                });
            }
            Written::Seen => return Ok(Settled::Duplicate),
            Written::Stale => match store.load(id).await? {
                Some(stored) => current = stored,
                None => return Ok(Settled::Unknown),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::lifecycle::{EndReason, Status};
    use crate::test_fixtures::handoff_record as record;
    use serde_json::json;

    fn sequences(owed: &[Owed]) -> Vec<u64> {
        owed.iter().map(|o| o.sequence).collect()
    }

    #[test]
    fn messages_typing_and_moves_take_numbers_from_one_counter() {
        let created = record();
        let (joined, owed) = plan(
            &created,
            &Change::Move(Input::AgentJoined { agent: "Ana".into() }),
            2_000,
        )
        .unwrap()
        .unwrap();
        assert_eq!(sequences(&owed), [2]);
        let messages = Change::Messages {
            messages: vec![json!({"message_id": "a"}), json!({"message_id": "b"})],
            offered: None,
        };
        let (said, owed) = plan(&joined, &messages, 3_000).unwrap().unwrap();
        assert_eq!(sequences(&owed), [3, 4]);
        let body: Value = serde_json::from_str(&owed[1].envelope.body).unwrap();
        assert_eq!(body["type"], "handoff.message");
        assert_eq!(body["data"]["message_id"], "b");
        assert_eq!(body["data"]["sequence"], 4);
        let (typing, owed) = plan(&said, &Change::Typing, 3_500).unwrap().unwrap();
        assert_eq!(sequences(&owed), [5]);
        assert_eq!(typing.lifecycle.status, Status::AgentJoined);
        assert_eq!(
            plan(
                &typing,
                &Change::Move(Input::AgentJoined { agent: "Ana".into() }),
                4_000
            ),
            Ok(None)
        );
    }

    #[test]
    fn nothing_is_owed_after_the_end_and_the_bot_is_refused() {
        let ended = plan(
            &record(),
            &Change::Move(Input::ChatEnded { reason: EndReason::Api }),
            2_000,
        )
        .unwrap()
        .unwrap()
        .0;
        let late = Change::Messages {
            messages: vec![json!({})],
            offered: None,
        };
        assert_eq!(plan(&ended, &late, 3_000), Ok(None));
        assert_eq!(plan(&ended, &Change::Typing, 3_000), Ok(None));
        assert_eq!(plan(&ended, &Change::Move(Input::FromBot), 3_000), Err(Refusal::Over));
    }
}
