//! ConnectHandler's service: what agents, bots and flows say in Connect, out to the customer on WhatsApp.
//!
//! Each streamed item is planned by [`crate::translate::plan_outbound_with`]; this service only carries
//! the plan out. A message is claimed by its Connect item id before it is sent, because SNS may deliver
//! the same item twice and WhatsApp has no idempotency key of its own; the claim sits on the chat's
//! contact mapping, so the write that claims it also reads whom to send to. Every WhatsApp message sent
//! is recorded against its Connect item in the write that completes the claim, so WhatsApp's receipts
//! and failures can be shown to the agent: an agent's text costs three calls.
//!
//! A chat's items reach WhatsApp in the order Connect received them (`AbsoluteTime`, then id), although
//! SNS and Lambda's asynchronous invocations deliver them in any order: each claim records the item's
//! time on the mapping, an item waits while an earlier one of its chat is in flight, and an item is
//! claimed no sooner than [`ORDER_WINDOW`] after its time, so an earlier one delivered up to that much
//! later has registered by then.

use crate::claims;
use crate::connect_stream::{ItemType, Role, StreamItem, parse_item};
use crate::connection;
use crate::error::{EventTally, Rejection, RetryableFailure};
use crate::media::handler::MediaHandler;
use crate::media::service::{OutboundOutcome, OutboundRequest};
use crate::ports::{
    Claim, ContactRecord, ItemClaim, ItemInFlight, Participant, PortResult, SentRecord, StateStore, Whatsapp,
};
use crate::ports::{Conversation, ConversationState};
use crate::rich::menu::Menu;
use crate::sns;
use crate::telemetry::{Direction, log_outcome, log_rejection, now_ms};
use crate::translate::{OutboundPlan, Rulebook, plan_outbound_with};
use crate::whatsapp::outgoing::OutgoingBody;
use crate::whatsapp::outgoing::OutgoingMessage;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most one typing indicator per conversation in this long (Meta shows one for up to 25 s).
pub const TYPING_GAP_MS: i64 = 5_000;
/// The longest the completing write after a WhatsApp send is retried, inside Lambda's deadline.
const FINISH_BUDGET: Duration = Duration::from_secs(10);
const FINISH_FIRST_PAUSE: Duration = Duration::from_millis(50);
/// How much later than a later item of its chat an item may reach this handler and still go first: what
/// SNS and Lambda's queue add to one delivery and not the other, with margin. Every item going to
/// WhatsApp is claimed no sooner than this after Connect received it (less what its delivery took).
const ORDER_WINDOW: Duration = Duration::from_millis(400);
/// How long an item waits for an earlier item of its chat that is in flight before it goes anyway (so
/// an invocation that died holds the chat's later items no longer than this).
const WAIT_FOR_TURN: Duration = Duration::from_secs(5);
const POLL_TURN: Duration = Duration::from_millis(25);

pub struct OutboundBridge<S, W, P> {
    rules: Rulebook,
    store: S,
    whatsapp: W,
    /// Renews the customer's connection token, which fetching an agent's file authenticates with.
    participant: P,
    media: Option<Arc<dyn MediaHandler>>,
}

/// What happened to one item; `customer` is the conversation's log hash.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Delivered { customer: String },
    Ended { customer: String },
    Typing { customer: String },
    Duplicate,
    Skipped(&'static str),
}

impl<S: StateStore, W: Whatsapp, P: Participant> OutboundBridge<S, W, P> {
    pub fn new(rules: impl Into<Rulebook>, store: S, whatsapp: W, participant: P) -> Self {
        Self {
            rules: rules.into(),
            store,
            whatsapp,
            participant,
            media: None,
        }
    }

    /// Sends agents' files to the customer (without it, attachments are not forwarded).
    pub fn with_media(mut self, media: Arc<dyn MediaHandler>) -> Self {
        self.media = Some(media);
        self
    }

    /// Handles one Lambda event; returns only retryable failures (see [`crate::inbound`]).
    pub async fn handle(&self, event: &Value) -> Result<(), RetryableFailure> {
        let mut tally = EventTally::default();
        for item in sns::parsed(event, Direction::Outbound, parse_item) {
            let started = Instant::now();
            let result = self.bridge(&item).await;
            let (outcome, customer) = match &result {
                Ok(Outcome::Delivered { customer }) => ("delivered", customer.as_str()),
                Ok(Outcome::Ended { customer }) => ("conversation_ended", customer.as_str()),
                Ok(Outcome::Typing { customer }) => ("typing_shown", customer.as_str()),
                Ok(Outcome::Duplicate) => ("duplicate", ""),
                Ok(Outcome::Skipped(reason)) => (*reason, ""),
                Err(e) => (e.outcome(), ""),
            };
            if let Ok(Outcome::Skipped(reason)) = &result {
                tracing::debug!(direction = "outbound", kind = %item.kind(), reason, "not forwarded");
            } else {
                log_outcome(
                    Direction::Outbound,
                    &item.kind(),
                    outcome,
                    Some(item.initial_contact_id.as_str()),
                    customer,
                    started.elapsed(),
                    result.as_ref().err(),
                    item.absolute_time_ms,
                );
            }
            tally.settled(result);
        }
        tally.into_result()
    }

    async fn bridge(&self, item: &StreamItem) -> PortResult<Outcome> {
        if item.item_type == ItemType::Attachment
            && let Some(media) = &self.media
        {
            return Box::pin(self.attachment(item, media.as_ref())).await;
        }
        // What the item is does not depend on the number; its words do, and are chosen once its chat is.
        match plan_outbound_with(item, self.rules.classifier()) {
            OutboundPlan::Skip { reason } => Ok(Outcome::Skipped(reason)),
            OutboundPlan::EndConversation { .. } => self.end(item).await,
            OutboundPlan::Typing => {
                let Some(contact) = self.contact(item).await? else {
                    return Ok(Outcome::Skipped("unknown_contact"));
                };
                let key = contact.conversation_key();
                match self.store.take_typing_slot(&key, now_ms(), TYPING_GAP_MS).await? {
                    Some(wamid) => {
                        self.whatsapp.mark_read(&contact.origination_id, &wamid, true).await?;
                        Ok(Outcome::Typing { customer: key.digest() })
                    }
                    None => Ok(Outcome::Skipped("typing_throttled")),
                }
            }
            OutboundPlan::Send { .. } => self.send(item).await,
        }
    }

    async fn send(&self, item: &StreamItem) -> PortResult<Outcome> {
        let Some(taken) = self.take(item).await? else {
            return Ok(Outcome::Duplicate);
        };
        let Some(contact) = &taken.contact else {
            // Not one of our chats (another integration may share the topic): nothing to retry.
            log_rejection(
                Direction::Outbound,
                &Rejection::new("unknown_contact", "no WhatsApp conversation is mapped to this contact"),
            );
            return Ok(Outcome::Skipped("unknown_contact"));
        };
        let (messages, menu, summary) = match plan_outbound_with(item, self.rules.for_number(&contact.phone_number_id))
        {
            OutboundPlan::Send {
                messages,
                menu,
                summary,
            } => (messages, menu, summary),
            // A notice this number silences.
            _ => {
                self.finish(item, &[], &taken.expired).await?;
                return Ok(Outcome::Skipped("notice_disabled"));
            }
        };
        let (messages, menu, summary) = (messages.as_slice(), menu.as_ref(), summary.as_str());
        // What an earlier attempt sent before it failed is not sent again.
        let unsent = messages.get(taken.parts_sent..).unwrap_or_default();
        let mut sent = Vec::with_capacity(unsent.len());
        let delivered = async {
            self.wait_for_turn(item, &taken).await?;
            self.deliver(item, contact, (unsent, menu), summary, &mut sent).await
        };
        match delivered.await {
            Ok(()) => {
                self.finish(item, &sent, &taken.expired).await?;
                Ok(Outcome::Delivered {
                    customer: contact.conversation_key().digest(),
                })
            }
            Err(e) => {
                self.release(item, taken.parts_sent + sent.len()).await;
                Err(e)
            }
        }
    }

    /// The chat is over for the customer. Claimed like a message, so a duplicate waits for it, and after
    /// the chat's earlier items, so the notice comes last. Only the event that ends the conversation
    /// says so (a second end event, participant.left then chat.ended, finds it ended already), and a
    /// retry of that event after its notice failed, which finds the conversation ended by itself,
    /// still says it.
    async fn end(&self, item: &StreamItem) -> PortResult<Outcome> {
        let Some(taken) = self.take(item).await? else {
            return Ok(Outcome::Duplicate);
        };
        let Some(contact) = &taken.contact else {
            return Ok(Outcome::Skipped("unknown_contact"));
        };
        let notice = match plan_outbound_with(item, self.rules.for_number(&contact.phone_number_id)) {
            OutboundPlan::EndConversation { notice } => notice,
            _ => None,
        };
        let key = contact.conversation_key();
        let said = async {
            self.wait_for_turn(item, &taken).await?;
            let ended = self
                .store
                .mark_ended(&key, &item.initial_contact_id, item.id.as_str())
                .await?;
            if ended && let Some(text) = notice {
                let message = OutgoingMessage::text(contact.reply_to(), text);
                self.whatsapp.send(&contact.origination_id, &message).await?;
            }
            Ok(())
        };
        match said.await {
            Ok(()) => {
                self.finish(item, &[], &taken.expired).await?;
                Ok(Outcome::Ended { customer: key.digest() })
            }
            Err(e) => {
                self.release(item, 0).await;
                Err(e)
            }
        }
    }

    /// Claims the item on its contact's mapping, which the same write reads, once the order window after
    /// its time has passed. `None`: bridged before.
    async fn take(&self, item: &StreamItem) -> PortResult<Option<ItemClaim>> {
        let now = now_ms();
        let at_ms = item.absolute_time_ms.unwrap_or(now);
        tokio::time::sleep(claims::window_left(ORDER_WINDOW, at_ms, now)).await;
        let taken = claims::until_mapped(
            item.absolute_time_ms,
            || claims::claim_item(&self.store, &item.initial_contact_id, &item.id, at_ms),
            |taken| taken.contact.is_some(),
        )
        .await?;
        Ok((taken.claim != Claim::Done).then_some(taken))
    }

    /// Waits while an earlier item of the chat is in flight, so the customer reads the chat's items in
    /// the order Connect received them. Bounded: an item whose holder died stops counting when its lease
    /// ends, and nobody waits longer than [`WAIT_FOR_TURN`].
    async fn wait_for_turn(&self, item: &StreamItem, taken: &ItemClaim) -> PortResult<()> {
        let Some(me) = &taken.me else {
            return Ok(());
        };
        let deadline = Instant::now() + claims::bounded_wait(WAIT_FOR_TURN);
        let mut poll = POLL_TURN;
        let mut in_flight = std::borrow::Cow::Borrowed(&taken.in_flight);
        loop {
            let now = now_ms();
            let Some(lapses) = earliest_blocking(&in_flight, me, now) else {
                return Ok(());
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::info!(
                    direction = "outbound",
                    "an earlier item of the chat is still in flight; sending anyway"
                );
                return Ok(());
            }
            let until_lapse = Duration::from_millis(u64::try_from(lapses - now).unwrap_or(0));
            tokio::time::sleep(poll.min(until_lapse + POLL_TURN).min(left)).await;
            poll = claims::backoff(poll);
            in_flight = std::borrow::Cow::Owned(self.store.items_in_flight(&item.initial_contact_id).await?);
        }
    }

    /// Whom the item's chat belongs to; `None`: not a chat of ours.
    async fn contact(&self, item: &StreamItem) -> PortResult<Option<ContactRecord>> {
        claims::until_mapped(
            item.absolute_time_ms,
            || self.store.load_contact(&item.initial_contact_id),
            Option::is_some,
        )
        .await
    }

    /// Gives the claim back after a failure, so Lambda's retry can take it at once.
    /// `parts_sent`: the WhatsApp messages (or files) of the item that went out, which the retry skips.
    async fn release(&self, item: &StreamItem, parts_sent: usize) {
        let owner = claims::owner();
        let released = self
            .store
            .release_item(&item.initial_contact_id, &item.id, &owner, parts_sent)
            .await;
        if let Err(release) = released {
            tracing::warn!(error = %release, "could not release claim; it expires on its own");
        }
    }

    /// Marks the item done with what was sent for it. The customer has the messages and WhatsApp
    /// cannot take them back, so a retry of this event must find the item done: the write is retried
    /// while the invocation has time, instead of failing the event into a resend.
    async fn finish(&self, item: &StreamItem, sent: &[SentRecord], expired: &[String]) -> PortResult<()> {
        let deadline = Instant::now() + claims::time_left(now_ms()).unwrap_or(FINISH_BUDGET).min(FINISH_BUDGET);
        let mut pause = FINISH_FIRST_PAUSE;
        loop {
            match self
                .store
                .complete_item(&item.initial_contact_id, &item.id, sent, expired)
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) if e.is_retryable() && Instant::now() + pause < deadline => {
                    tracing::warn!(error = %e, "could not mark a sent item done; trying again");
                    tokio::time::sleep(pause).await;
                    pause = claims::backoff(pause);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends the parts in order, adding each to `sent` (to be recorded against the item, and counted if
    /// a later part fails). The menu is kept first, so a customer who taps at once finds it.
    async fn deliver(
        &self,
        item: &StreamItem,
        contact: &ContactRecord,
        (messages, menu): (&[OutgoingBody], Option<&Menu>),
        summary: &str,
        sent: &mut Vec<SentRecord>,
    ) -> PortResult<()> {
        if let Some(menu) = menu {
            let key = contact.conversation_key();
            self.store.save_menu(&key, &item.initial_contact_id, menu).await?;
        }
        for message in messages {
            let outgoing = OutgoingMessage::new(contact.reply_to(), message.clone());
            let wa_message_id = self.whatsapp.send(&contact.origination_id, &outgoing).await?;
            sent.push(SentRecord {
                wa_message_id,
                contact_id: item.initial_contact_id.clone(),
                item_id: item.id.clone(),
                summary: summary.to_owned(),
            });
        }
        Ok(())
    }

    /// An agent's (or flow's) files: each approved one goes to the customer by media id; what WhatsApp
    /// cannot take is explained to the agent in the chat.
    async fn attachment(&self, item: &StreamItem, media: &dyn MediaHandler) -> PortResult<Outcome> {
        // The customer's own files come back on the stream too.
        if matches!(item.role, Some(Role::Customer) | None) {
            return Ok(Outcome::Skipped("customer_attachment"));
        }
        let Some(taken) = self.take(item).await? else {
            return Ok(Outcome::Duplicate);
        };
        let Some(contact) = &taken.contact else {
            return Ok(Outcome::Skipped("unknown_contact"));
        };
        let mut sent = Vec::new();
        let mut handled = taken.parts_sent;
        let result = async {
            self.wait_for_turn(item, &taken).await?;
            let key = contact.conversation_key();
            let Some(Conversation {
                state: ConversationState::Active(chat),
                ..
            }) = self.store.load_conversation(&key).await?.conversation
            else {
                return Ok(Outcome::Skipped("no_active_chat"));
            };
            let mut chat = connection::fresh(&self.store, &self.participant, &key, &chat).await?;
            let mut reconnected = false;
            let prefix = format!("outbound/{}/", key.digest());
            let wording = self.rules.for_number(&contact.phone_number_id).wording.clone();
            // What an earlier attempt handled before it failed is not sent again.
            for file in item.attachments.iter().skip(taken.parts_sent) {
                if file.status.as_deref().is_some_and(|s| s != "APPROVED") {
                    handled += 1;
                    continue;
                }
                let name = file.attachment_name.as_deref().unwrap_or("attachment");
                let out = loop {
                    let attempt = media
                        .outbound(OutboundRequest {
                            token: &chat.connection_token,
                            origination: &contact.origination_id,
                            to: contact.reply_to(),
                            attachment_id: &file.attachment_id,
                            name,
                            content_type: file.content_type.as_deref().unwrap_or(""),
                            prefix: &prefix,
                            wording: &wording,
                        })
                        .await;
                    match attempt {
                        // Connect refused the token before its expiry: once more with a new connection.
                        Err(e) if e.is_chat_gone() && !reconnected => {
                            chat = connection::reconnect(&self.store, &self.participant, &key, &chat).await?;
                            reconnected = true;
                        }
                        other => break other?,
                    }
                };
                // The agent's note about a file too large to send went before the customer's notice,
                // which is recorded like a sent file (a retry resumes after it).
                let (wa_message_id, summary) = match out {
                    OutboundOutcome::Sent { message_id, .. } => (message_id, format!("[file: {name}]")),
                    OutboundOutcome::TooLarge { notice_id, notice, .. } => (notice_id, notice),
                };
                sent.push(SentRecord {
                    wa_message_id,
                    contact_id: item.initial_contact_id.clone(),
                    item_id: item.id.clone(),
                    summary,
                });
                handled += 1;
            }
            Ok(Outcome::Delivered { customer: key.digest() })
        }
        .await;
        match &result {
            Ok(Outcome::Delivered { .. }) => self.finish(item, &sent, &taken.expired).await?,
            _ => self.release(item, handled).await,
        }
        result
    }
}

/// When the earliest item in flight that goes before `me` stops holding it back (epoch ms); `None` when
/// nothing does.
fn earliest_blocking(in_flight: &[ItemInFlight], me: &ItemInFlight, now_ms: i64) -> Option<i64> {
    in_flight
        .iter()
        .filter(|other| other.name != me.name && other.until_ms > now_ms && other.precedes(me))
        .map(|other| other.until_ms)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_flight(name: &str, at_ms: i64, until_ms: i64) -> ItemInFlight {
        ItemInFlight {
            name: name.into(),
            at_ms,
            until_ms,
        }
    }

    #[test]
    fn an_item_waits_only_for_live_earlier_items_of_its_chat() {
        let now = 1_000_000;
        let me = in_flight("i_me", 500, now + 30_000);
        let live = now + 20_000;
        assert_eq!(earliest_blocking(&[], &me, now), None);
        assert_eq!(
            earliest_blocking(std::slice::from_ref(&me), &me, now),
            None,
            "not itself"
        );
        assert_eq!(earliest_blocking(&[in_flight("i_later", 600, live)], &me, now), None);
        assert_eq!(
            earliest_blocking(&[in_flight("i_dead", 400, now - 1)], &me, now),
            None,
            "a holder that died stops holding at its lease's end"
        );
        assert_eq!(
            earliest_blocking(
                &[in_flight("i_a", 400, live), in_flight("i_b", 450, live - 5)],
                &me,
                now
            ),
            Some(live - 5)
        );
        assert_eq!(
            earliest_blocking(&[in_flight("i_ma", 500, live)], &me, now),
            Some(live),
            "same millisecond: the id decides, the same way for every item"
        );
        assert_eq!(earliest_blocking(&[in_flight("i_zz", 500, live)], &me, now), None);
    }
}
