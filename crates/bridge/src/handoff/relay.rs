//! ConnectHandler's relay of handoff chats: what Connect streams of a handoff's chat (its own topic,
//! see `HANDOFF_STREAM_TOPIC_ARN`) becomes the handoff's moves and the events owed to the bot.
//!
//! An agent joining or leaving and the chat's end move the handoff ([`super::lifecycle::input_of`]);
//! what the customer may see of the agent's, a flow's or the system's messages becomes
//! `handoff.message` ([`super::message::for_bot`]); the agent's typing `handoff.typing`. Each is written
//! with its item's id ([`super::moves::settle`]), so an item Connect streams twice owes nothing more,
//! then the delivery is kicked. Numbers are taken in the order the writes land, so an item is written
//! no sooner than [`ORDER_WINDOW`] after Connect's time for it, as the WhatsApp side does: an earlier
//! item that SNS delivers up to that much later has its number by then.
//!
//! The chat's first items may come before the create attached the chat (and mapped its contact): a
//! recent item of an unknown contact looks again for [`claims::MAPPING_GRACE`].

use super::dispatch::DeliveryQueue;
use super::lifecycle::input_of;
use super::message::{for_bot, typing};
use super::moves::{Change, Settled, settle};
use super::store::HandoffStore;
use crate::claims;
use crate::connect_stream::{StreamItem, parse_item};
use crate::error::{EventTally, RetryableFailure};
use crate::ports::PortResult;
use crate::sns;
use crate::telemetry::{Direction, log_outcome, now_ms};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How much later than a later item of its chat an item may reach the relay and still be numbered
/// first (the WhatsApp side's order window, for the same SNS and Lambda).
const ORDER_WINDOW: Duration = Duration::from_millis(400);

pub struct HandoffRelay<H, Q> {
    store: H,
    queue: Q,
}

impl<H: HandoffStore, Q: DeliveryQueue> HandoffRelay<H, Q> {
    pub fn new(store: H, queue: Q) -> Self {
        Self { store, queue }
    }

    /// Handles one Lambda event of the handoff stream; returns only retryable failures.
    pub async fn handle(&self, event: &Value) -> Result<(), RetryableFailure> {
        let mut tally = EventTally::default();
        for item in sns::parsed(event, Direction::Outbound, parse_item) {
            let started = Instant::now();
            let result = self.relay(&item).await;
            let outcome = match &result {
                Ok(outcome) => outcome,
                Err(e) => e.outcome(),
            };
            log_outcome(
                Direction::Outbound,
                &item.kind(),
                outcome,
                Some(item.initial_contact_id.as_str()),
                "",
                started.elapsed(),
                result.as_ref().err(),
                item.absolute_time_ms,
            );
            tally.settled(result);
        }
        tally.into_result()
    }

    /// What the item came to, for the log.
    async fn relay(&self, item: &StreamItem) -> PortResult<&'static str> {
        let change = match change_of(item) {
            Ok(change) => change,
            Err(reason) => return Ok(reason),
        };
        let id = claims::until_mapped(
            item.absolute_time_ms,
            || self.store.find_by_contact(&item.initial_contact_id),
            Option::is_some,
        )
        .await?;
        let Some(id) = id else {
            return Ok("unknown_handoff");
        };
        let now = now_ms();
        let at_ms = item.absolute_time_ms.unwrap_or(now);
        tokio::time::sleep(claims::window_left(ORDER_WINDOW, at_ms, now)).await;
        let Some(record) = self.store.load(&id).await? else {
            return Ok("unknown_handoff");
        };
        match settle(&self.store, &record, &change, Some((item.id.as_str(), at_ms))).await? {
            Settled::Written { .. } => {
                self.queue.kick(&id, Duration::ZERO).await?;
                Ok(match change {
                    Change::Move(_) => "handoff_moved",
                    Change::Messages { .. } => "relayed_to_bot",
                    Change::Typing => "typing_relayed",
                })
            }
            // Written before, or moving nothing now (a retried chat.ended finds the handoff ended):
            // the attempt that wrote it may have failed at its kick, which is why this one came,
            // and a kick costs nothing when the outbox is drained already.
            Settled::Duplicate | Settled::Unchanged(_) => {
                self.queue.kick(&id, Duration::ZERO).await?;
                Ok("nothing_owed")
            }
            Settled::Refused(_) => Ok("nothing_owed"),
            Settled::Unknown => Ok("unknown_handoff"),
        }
    }
}

/// What an item of a handoff's chat changes, or why it changes nothing.
fn change_of(item: &StreamItem) -> Result<Change, &'static str> {
    if let Some(input) = input_of(item) {
        return Ok(Change::Move(input));
    }
    if typing(item).is_some() {
        return Ok(Change::Typing);
    }
    let for_bot = for_bot(item).map_err(|withheld| withheld.code())?;
    let messages = for_bot
        .messages
        .iter()
        .map(|message| serde_json::to_value(message).unwrap_or_default())
        .collect();
    Ok(Change::Messages {
        messages,
        offered: for_bot.offered.map(Box::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::lifecycle::Input;
    use crate::test_fixtures::stream_item;

    #[test]
    fn each_item_of_a_handoffs_chat_owes_what_the_bot_is_told() {
        assert_eq!(
            change_of(&stream_item("participant-joined")),
            Ok(Change::Move(Input::AgentJoined { agent: "Ana".into() }))
        );
        let Ok(Change::Messages { messages, .. }) = change_of(&stream_item("agent-message")) else {
            panic!("an agent's message is for the bot");
        };
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["sender"]["role"], "agent");
        assert_eq!(change_of(&stream_item("customer-echo")), Err("customer_echo"));
        assert_eq!(change_of(&stream_item("receipt")), Err("receipt"));
    }
}
