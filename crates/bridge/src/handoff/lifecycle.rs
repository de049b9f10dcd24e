//! A handoff's life: its states, what moves it from one to the next (Connect's stream, or the bot
//! through the API), and the events each move owes the bot.
//!
//! Every handoff ends in exactly one of two ways the bot is told about, after which the conversation is
//! the bot's again: `ended` (an agent had it; the reason says who ended it) or `failed` (no agent ever
//! had it: the start was refused, or the chat ended before an agent joined). The bot never has to guess
//! from silence. Inputs arrive at least once and in any order Connect's stream allows, so a move that
//! changes nothing (a second `chat.ended`, an agent joining twice) owes nothing, and the terminal states
//! take no further moves. What the bot asks of a handoff that is over is refused with [`Refusal::Over`]
//! (the API's 409 `handoff_ended`), except ending it again by the API, which is answered as done.
//!
//! Each event owed gets the handoff's next sequence number, so the bot can order and deduplicate them.

use crate::connect_stream::{ItemType, Role, StreamItem};
use serde::{Deserialize, Serialize};

/// Where a handoff stands, as `GET /v1/handoffs/{id}` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The chat is started and waits for an agent (first, or again after a transfer).
    Queued,
    AgentJoined,
    Ended,
    Failed,
}

impl Status {
    pub fn is_over(self) -> bool {
        matches!(self, Status::Ended | Status::Failed)
    }
}

/// Why a chat ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The agent (or the flow after them) ended the chat.
    AgentEnded,
    /// The customer side left the chat other than through the API (its connection was closed).
    CustomerEnded,
    /// Connect ended the chat because nobody wrote for the idle time its flow allows.
    IdleTimeout,
    /// The bot ended it (`POST /v1/handoffs/{id}/end`).
    Api,
}

/// Why a handoff failed: no agent ever had the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// Connect refused to start the chat (a flow or queue that does not exist, the instance's limit).
    StartRefused,
    /// The chat ended before an agent joined: the flow found no agent, the queue closed, or the
    /// customer side timed out waiting.
    NoAgent,
}

/// What happened to a handoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An agent joined the chat (Connect's `participant.joined` of an AGENT).
    AgentJoined { agent: String },
    /// The agent left the chat (`participant.left` of an AGENT): the chat ends next, or a transfer
    /// brings another agent.
    AgentLeft,
    /// Connect transferred the chat to another queue or agent (`transfer.succeeded`: an agent's quick
    /// connect, or a flow's transfer), whose stream does not say where.
    Transferred,
    /// The bot moves its chat to the queue `to` (`POST /v1/handoffs/{id}/transfer`). Only a chat no
    /// agent has moves so (Connect moves an agent's chat only by the agent's own transfer): an agent's
    /// chat is left as it is, so a transfer that raced an agent taking the chat changes nothing.
    BotTransfer { to: String },
    /// The chat ended (`chat.ended`, or the customer side disconnected by the API).
    ChatEnded { reason: EndReason },
    /// Connect refused the start for good.
    StartRefused,
    /// The bot sends the customer's message or typing into the chat.
    FromBot,
}

/// An event owed to the bot, in the order of its sequence numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum Event {
    #[serde(rename = "handoff.agent_joined")]
    AgentJoined { agent: String },
    #[serde(rename = "handoff.agent_left")]
    AgentLeft,
    /// `to`: the queue the bot asked for; absent for Connect's own transfers, which do not say.
    #[serde(rename = "handoff.transferred")]
    Transferred {
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// The conversation is the bot's again.
    #[serde(rename = "handoff.ended")]
    Ended { reason: EndReason },
    /// No agent ever had the conversation; it is the bot's again.
    #[serde(rename = "handoff.failed")]
    Failed { reason: FailReason },
}

/// What the bot asked of a handoff that cannot be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the handoff is over")]
    Over,
}

/// A handoff's state as stored: where it stands, the agent who has it, and the last sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub status: Status,
    pub agent: Option<String>,
    /// Whether an agent ever joined: a chat that ends without one failed.
    pub agent_ever_joined: bool,
    pub ended_by: Option<EndReason>,
    /// The sequence number of the last event owed.
    pub sequence: u64,
}

/// The outcome of a move: the new state, and the events it owes, each with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub lifecycle: Lifecycle,
    pub events: Vec<(u64, Event)>,
}

impl Lifecycle {
    /// A handoff whose chat is started, with `handoff.created` as its first event (sequence 1).
    pub fn created() -> Self {
        Self {
            status: Status::Queued,
            agent: None,
            agent_ever_joined: false,
            ended_by: None,
            sequence: 1,
        }
    }

    /// Numbers an event for the bot that moves nothing (an agent's message, typing) from the same
    /// counter as the moves, so the bot can order them all: the state with the number taken, and the
    /// number. `None` once the handoff is over: the conversation is the bot's again, and an item that
    /// Connect streams late is not passed on.
    pub fn number(&self) -> Option<(Lifecycle, u64)> {
        if self.status.is_over() {
            return None;
        }
        let next = Lifecycle {
            sequence: self.sequence + 1,
            ..self.clone()
        };
        let sequence = next.sequence;
        Some((next, sequence))
    }

    /// Applies `input`: the state after it and the events it owes (none when it changes nothing).
    pub fn apply(&self, input: Input) -> Result<Moved, Refusal> {
        let mut next = self.clone();
        let event = match (self.status, input) {
            (Status::Ended, Input::ChatEnded { reason: EndReason::Api }) if self.ended_by == Some(EndReason::Api) => {
                None
            }
            (status, Input::FromBot | Input::BotTransfer { .. } | Input::ChatEnded { reason: EndReason::Api })
                if status.is_over() =>
            {
                return Err(Refusal::Over);
            }
            (status, _) if status.is_over() => None,
            (_, Input::FromBot) => None,
            (Status::AgentJoined, Input::AgentJoined { agent }) if self.agent.as_ref() == Some(&agent) => None,
            (_, Input::AgentJoined { agent }) => {
                next.status = Status::AgentJoined;
                next.agent = Some(agent.clone());
                next.agent_ever_joined = true;
                Some(Event::AgentJoined { agent })
            }
            (Status::AgentJoined, Input::AgentLeft) => {
                next.status = Status::Queued;
                next.agent = None;
                Some(Event::AgentLeft)
            }
            (_, Input::AgentLeft) => None,
            (_, Input::Transferred) => {
                next.status = Status::Queued;
                next.agent = None;
                Some(Event::Transferred { to: None })
            }
            (Status::Queued, Input::BotTransfer { to }) => Some(Event::Transferred { to: Some(to) }),
            (_, Input::BotTransfer { .. }) => None,
            (_, Input::ChatEnded { reason }) if self.agent_ever_joined || reason == EndReason::Api => {
                next.status = Status::Ended;
                next.agent = None;
                next.ended_by = Some(reason);
                Some(Event::Ended { reason })
            }
            (_, Input::ChatEnded { .. }) => {
                next.status = Status::Failed;
                Some(Event::Failed {
                    reason: FailReason::NoAgent,
                })
            }
            (_, Input::StartRefused) => {
                next.status = Status::Failed;
                Some(Event::Failed {
                    reason: FailReason::StartRefused,
                })
            }
        };
        let events = event
            .map(|event| {
                next.sequence += 1;
                vec![(next.sequence, event)]
            })
            .unwrap_or_default();
        Ok(Moved {
            lifecycle: next,
            events,
        })
    }
}

/// What an item the handoff's chat streams means for the handoff: an agent joining or leaving, or the
/// chat's end (`participant.autodisconnection`: Connect ended it for want of an answer). `None` for
/// everything else, messages included.
pub fn input_of(item: &StreamItem) -> Option<Input> {
    if item.item_type != ItemType::Event {
        return None;
    }
    match (item.event_name()?, &item.role) {
        ("participant.joined", Some(Role::Agent)) => Some(Input::AgentJoined {
            agent: item
                .display_name
                .clone()
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| "Agent".to_owned()),
        }),
        ("participant.left", Some(Role::Agent)) => Some(Input::AgentLeft),
        ("transfer.succeeded", _) => Some(Input::Transferred),
        ("chat.ended", _) => Some(Input::ChatEnded {
            reason: EndReason::AgentEnded,
        }),
        ("participant.autodisconnection", _) => Some(Input::ChatEnded {
            reason: EndReason::IdleTimeout,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::stream_item;

    #[test]
    fn the_chats_agent_and_end_events_move_the_handoff_and_nothing_else_does() {
        assert_eq!(
            input_of(&stream_item("participant-joined")),
            Some(Input::AgentJoined { agent: "Ana".into() })
        );
        assert_eq!(input_of(&stream_item("participant-left")), Some(Input::AgentLeft));
        assert_eq!(
            input_of(&stream_item("transfer-succeeded")),
            Some(Input::Transferred),
            "an agent's transfer (a quick connect) queues the chat again"
        );
        assert_eq!(
            input_of(&stream_item("chat-ended")),
            Some(Input::ChatEnded {
                reason: EndReason::AgentEnded
            })
        );
        for other in ["agent-message", "typing", "customer-echo", "system-message", "receipt"] {
            assert_eq!(input_of(&stream_item(other)), None, "{other}");
        }
    }

    /// Applies the inputs in order; returns the state and every event owed.
    fn run(inputs: Vec<Input>) -> (Lifecycle, Vec<(u64, Event)>) {
        let mut state = Lifecycle::created();
        let mut events = Vec::new();
        for input in inputs {
            let moved = state.apply(input).expect("accepted");
            events.extend(moved.events);
            state = moved.lifecycle;
        }
        (state, events)
    }

    fn joined(agent: &str) -> Input {
        Input::AgentJoined { agent: agent.into() }
    }

    #[test]
    fn an_agent_joins_and_ends_the_chat_and_the_bot_hears_each_step_once_in_sequence() {
        let (state, events) = run(vec![
            Input::FromBot,
            joined("Ana"),
            joined("Ana"),
            Input::FromBot,
            Input::AgentLeft,
            Input::ChatEnded {
                reason: EndReason::AgentEnded,
            },
            Input::ChatEnded {
                reason: EndReason::AgentEnded,
            },
        ]);
        assert_eq!(
            events,
            [
                (2, Event::AgentJoined { agent: "Ana".into() }),
                (3, Event::AgentLeft),
                (
                    4,
                    Event::Ended {
                        reason: EndReason::AgentEnded
                    }
                ),
            ]
        );
        assert_eq!(
            (state.status, state.ended_by),
            (Status::Ended, Some(EndReason::AgentEnded))
        );
    }

    #[test]
    fn a_chat_that_ends_before_any_agent_joined_failed() {
        for reason in [EndReason::AgentEnded, EndReason::IdleTimeout, EndReason::CustomerEnded] {
            let (state, events) = run(vec![Input::ChatEnded { reason }]);
            assert_eq!(state.status, Status::Failed);
            assert_eq!(
                events,
                [(
                    2,
                    Event::Failed {
                        reason: FailReason::NoAgent
                    }
                )]
            );
        }
        let (state, events) = run(vec![Input::StartRefused]);
        assert_eq!(state.status, Status::Failed);
        assert_eq!(
            events,
            [(
                2,
                Event::Failed {
                    reason: FailReason::StartRefused
                }
            )]
        );
    }

    #[test]
    fn the_bot_may_end_a_queued_handoff_and_end_it_again_but_not_write_to_it_after() {
        let (state, events) = run(vec![Input::ChatEnded { reason: EndReason::Api }]);
        assert_eq!(events, [(2, Event::Ended { reason: EndReason::Api })]);
        let again = state.apply(Input::ChatEnded { reason: EndReason::Api }).unwrap();
        assert!(again.events.is_empty(), "a retried end is answered as done");
        assert_eq!(state.apply(Input::FromBot), Err(Refusal::Over));

        let (ended_by_agent, _) = run(vec![
            joined("Ana"),
            Input::ChatEnded {
                reason: EndReason::AgentEnded,
            },
        ]);
        assert_eq!(
            ended_by_agent.apply(Input::ChatEnded { reason: EndReason::Api }),
            Err(Refusal::Over),
            "over before the bot asked"
        );
    }

    #[test]
    fn a_transfer_queues_the_handoff_again_until_the_next_agent_joins() {
        let (state, events) = run(vec![
            joined("Ana"),
            Input::AgentLeft,
            Input::Transferred,
            joined("Bruno"),
        ]);
        let kinds: Vec<Event> = events.into_iter().map(|(_, e)| e).collect();
        assert_eq!(
            kinds,
            [
                Event::AgentJoined { agent: "Ana".into() },
                Event::AgentLeft,
                Event::Transferred { to: None },
                Event::AgentJoined { agent: "Bruno".into() },
            ]
        );
        assert_eq!(
            (state.status, state.agent.as_deref()),
            (Status::AgentJoined, Some("Bruno"))
        );
        // Ended after an agent had it, even while queued again: ended, not failed.
        let ended = state
            .apply(Input::Transferred)
            .unwrap()
            .lifecycle
            .apply(Input::ChatEnded {
                reason: EndReason::IdleTimeout,
            })
            .unwrap();
        assert_eq!(ended.lifecycle.status, Status::Ended);
    }

    #[test]
    fn the_bot_transfers_only_a_chat_no_agent_has() {
        let queued = Lifecycle::created();
        let moved = queued.apply(Input::BotTransfer { to: "Billing".into() }).unwrap();
        assert_eq!(
            moved.events,
            [(
                2,
                Event::Transferred {
                    to: Some("Billing".into())
                }
            )]
        );
        assert_eq!(
            (moved.lifecycle.status, moved.lifecycle.agent_ever_joined),
            (Status::Queued, false)
        );

        let (joined, _) = run(vec![joined("Ana")]);
        let untouched = joined.apply(Input::BotTransfer { to: "Billing".into() }).unwrap();
        assert_eq!(untouched.lifecycle, joined, "an agent's chat is not moved");
        assert!(untouched.events.is_empty());

        let (ended, _) = run(vec![Input::ChatEnded { reason: EndReason::Api }]);
        assert_eq!(
            ended.apply(Input::BotTransfer { to: "Billing".into() }),
            Err(Refusal::Over)
        );
    }

    #[test]
    fn nothing_moves_a_handoff_that_is_over() {
        let (failed, _) = run(vec![Input::StartRefused]);
        for input in [
            joined("Ana"),
            Input::AgentLeft,
            Input::Transferred,
            Input::ChatEnded {
                reason: EndReason::AgentEnded,
            },
        ] {
            let moved = failed.apply(input).unwrap();
            assert_eq!(moved.lifecycle, failed);
            assert!(moved.events.is_empty());
        }
    }

    #[test]
    fn messages_and_typing_are_numbered_between_the_moves_until_the_handoff_is_over() {
        let (joined, _) = run(vec![joined("Ana")]);
        let (numbered, n) = joined.number().expect("open");
        assert_eq!(n, 3, "after created (1) and agent_joined (2)");
        let ended = numbered
            .apply(Input::ChatEnded {
                reason: EndReason::AgentEnded,
            })
            .unwrap();
        assert_eq!(ended.events[0].0, 4);
        assert_eq!(ended.lifecycle.number(), None, "a late item is not passed on");
    }

    #[test]
    fn events_are_named_as_the_bot_receives_them() {
        let json = serde_json::to_value(Event::Ended {
            reason: EndReason::IdleTimeout,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "handoff.ended", "reason": "idle_timeout"})
        );
        let json = serde_json::to_value(Event::AgentJoined { agent: "Ana".into() }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "handoff.agent_joined", "agent": "Ana"})
        );
    }
}
