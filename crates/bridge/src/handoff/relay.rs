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
//!
//! An agent's file goes to the bot with a download link (`GetAttachment` with the handoff's customer
//! connection), made when the item is relayed: the link lasts minutes, so the bot asks the API for a
//! new one after that, and a file whose link Connect refuses (its chat over) goes without one.

use super::dispatch::DeliveryQueue;
use super::lifecycle::{Input, input_of};
use super::message::{ForBot, MessageContent, for_bot, typing};
use super::moves::{Change, Settled, settle};
use super::store::{HandoffRecord, HandoffStore};
use crate::claims;
use crate::connect_stream::{StreamItem, parse_item};
use crate::error::{EventTally, FailureKind, RetryableFailure};
use crate::media::ports::ChatAttachments;
use crate::ports::PortResult;
use crate::sns;
use crate::telemetry::{Direction, log_outcome, now_ms};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How much later than a later item of its chat an item may reach the relay and still be numbered
/// first (the WhatsApp side's order window, for the same SNS and Lambda).
const ORDER_WINDOW: Duration = Duration::from_millis(400);

pub struct HandoffRelay<H, Q, A> {
    store: H,
    queue: Q,
    /// Links to the agent's files.
    attachments: A,
}

impl<H: HandoffStore, Q: DeliveryQueue, A: ChatAttachments> HandoffRelay<H, Q, A> {
    pub fn new(store: H, queue: Q, attachments: A) -> Self {
        Self {
            store,
            queue,
            attachments,
        }
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
        let effect = match effect_of(item) {
            Ok(effect) => effect,
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
        let change = self.change(effect, &record).await?;
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

    /// What the item changes of the handoff, the agent's files linked for the bot.
    async fn change(&self, effect: Effect, record: &HandoffRecord) -> PortResult<Change> {
        let mut for_bot = match effect {
            Effect::Move(input) => return Ok(Change::Move(input)),
            Effect::Typing => return Ok(Change::Typing),
            Effect::ForBot(for_bot) => *for_bot,
        };
        for message in &mut for_bot.messages {
            if let (MessageContent::File(file), Some(chat)) = (&mut message.content, &record.chat) {
                match self.attachments.link(&chat.connection_token, &file.attachment_id).await {
                    Ok(link) => {
                        file.size = Some(link.size).filter(|&size| size > 0);
                        file.download = Some(link.into());
                    }
                    Err(e) if matches!(e.kind, FailureKind::Rejected | FailureKind::ChatGone) => {
                        tracing::info!(error = %e, "the agent's file goes to the bot without a link");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
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
}

/// What an item of a handoff's chat does.
#[derive(Debug, PartialEq)]
enum Effect {
    Move(Input),
    Typing,
    ForBot(Box<ForBot>),
}

/// What an item of a handoff's chat does, or why it does nothing.
fn effect_of(item: &StreamItem) -> Result<Effect, &'static str> {
    if let Some(input) = input_of(item) {
        return Ok(Effect::Move(input));
    }
    if typing(item).is_some() {
        return Ok(Effect::Typing);
    }
    for_bot(item)
        .map(|f| Effect::ForBot(Box::new(f)))
        .map_err(|withheld| withheld.code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::stream_item;

    #[test]
    fn each_item_of_a_handoffs_chat_does_what_the_bot_is_told() {
        assert_eq!(
            effect_of(&stream_item("participant-joined")),
            Ok(Effect::Move(Input::AgentJoined { agent: "Ana".into() }))
        );
        let Ok(Effect::ForBot(for_bot)) = effect_of(&stream_item("agent-message")) else {
            panic!("an agent's message is for the bot");
        };
        assert_eq!(for_bot.messages.len(), 1);
        assert_eq!(effect_of(&stream_item("customer-echo")), Err("customer_echo"));
        assert_eq!(effect_of(&stream_item("receipt")), Err("receipt"));
    }
}
