//! The hold a customer message is bridged under.
//!
//! One round trip claims the message and registers it on its conversation (the write that also reads
//! the conversation and may take the start lock); the hold is fast or exclusive as [`OpenChats`] suggests,
//! kept alive by the heartbeat while exclusive, and settled at the end: marked done (with the
//! registration removed and the read mark beside it) or released for Lambda's retry, with what it
//! recorded of its progress. See [`crate::claims`] for the holds themselves.

use super::chat_start::{START_LOCK_MS, unused_start_lock};
use super::claimed::Claimed;
use super::{InboundBridge, Outcome};
use crate::claims::{self, Heartbeat, Hold};
use crate::error::{FailureKind, PortError};
use crate::ids::{ConversationKey, OriginationId, short_hash};
use crate::ports::{
    Claim, ContactCenter, Finished, Inflight, Participant, PortResult, Said, StateStore, Step, Whatsapp,
};
use crate::rounds::behind;
use crate::telemetry::now_ms;
use crate::translate::{InboundAction, InboundState, plan_message, quotable, quoted_wamid};
use crate::whatsapp::CustomerMessage;
use crate::whatsapp::outgoing::OutgoingMessage;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, PoisonError};

/// The conversations this process last saw with an open chat: a hint for choosing a claim's hold
/// before the conversation is read. A message that will most likely go into an open chat takes the fast
/// hold, any other the exclusive one from the start, so the slow paths (a chat start, a burst into it)
/// never depend on an extension landing before a fast lease runs out. DynamoDB stays the truth: a stale
/// hint costs an extension and a completing write.
///
/// It also remembers the registration this process's last fast message left behind (the fast path
/// marks itself done after its send, and only when that write failed leaves its registration), so the
/// conversation's next registration removes it in the same write.
#[derive(Default)]
pub(super) struct OpenChats(Mutex<HashMap<ConversationKey, Option<String>>>);

impl OpenChats {
    /// Beyond this many, the hint starts over (a process rarely serves that many conversations).
    pub(super) const CAPACITY: usize = 10_000;

    /// The hold for the conversation's next message, and the lapsed registration to remove with its own.
    pub(super) fn next(&self, key: &ConversationKey) -> (Hold, Option<String>) {
        match self.0.lock().unwrap_or_else(PoisonError::into_inner).get(key) {
            Some(left_behind) => (Hold::Fast, left_behind.clone()),
            None => (Hold::Exclusive, None),
        }
    }

    /// The chat is open; `left_behind`: the registration of a message that finished on the fast path.
    pub(super) fn open(&self, key: &ConversationKey, left_behind: Option<String>) {
        let mut keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= Self::CAPACITY && !keys.contains_key(key) {
            keys.clear();
        }
        keys.insert(key.clone(), left_behind);
    }

    pub(super) fn closed(&self, key: &ConversationKey) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }
}

/// What is left to write once a message's work is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Settle {
    /// On the fast hold, the read mark beside the send: the claim is marked done and the registration
    /// removed after the send, off the message's way into the chat.
    Fast,
    /// The claim is marked done and the registration removed (with the menu, if the message spent it, and
    /// registrations that fast messages of other processes left behind); the read mark goes beside it
    /// unless `marked_read` (it went beside the send already).
    Complete {
        clear_menu: bool,
        lapsed: Vec<String>,
        marked_read: bool,
    },
}

impl<S: StateStore, C: ContactCenter, P: Participant, W: Whatsapp> InboundBridge<S, C, P, W> {
    pub(super) async fn bridge(
        &self,
        key: &ConversationKey,
        origination: &OriginationId,
        message: &CustomerMessage,
    ) -> PortResult<Outcome> {
        let route = self.route(key);
        let context = message.context.as_ref();
        // What cannot be bridged whatever the conversation holds is dropped before any state is touched.
        let early = InboundState {
            wording: &route.wording,
            end_keyword: route.end_keyword.as_deref(),
            ..Default::default()
        };
        let early = plan_message(&message.content, context, &early);
        if let InboundAction::Skip { reason } = early {
            return Ok(Outcome::Skipped(reason));
        }
        // Only what reaches the agent as a message may open a chat (a reaction or the end keyword never does).
        let may_open = matches!(early, InboundAction::Send { .. });
        let wamid = message.wamid.as_str();
        let registered_ms = now_ms();
        let (hold, left_behind) = self.open_chats.next(key);

        let me = Inflight {
            tag: format!("q_{}", short_hash(wamid)),
            timestamp: message.timestamp,
            received_ns: message.received_ns.unwrap_or(registered_ms.saturating_mul(1_000_000)),
            until_ms: hold.until(registered_ms),
        };
        // A redelivery of that very message registers the same tag again: nothing to remove then.
        let left_behind = left_behind.filter(|tag| *tag != me.tag);
        // The claim, the registration (which also reads the conversation) and, for a reply or a reaction,
        // the quoted message are independent: one round trip. Into a chat this process saw open, both
        // start on the fast hold (see `crate::claims`), which whatever needs more than one SendMessage
        // extends.
        let quote_id = quoted_wamid(&message.content, context);
        let quote = async {
            match quote_id {
                // A quote is a nicety: without it the message still goes, unquoted.
                Some(id) => self.store.load_quote(id).await.ok().flatten(),
                None => None,
            }
        };
        let summary = quotable(&route.wording, &message.content);
        let (claim, view, quoted) = tokio::join!(
            claims::claim(&self.store, "wa", wamid, hold, summary.as_deref()),
            behind(self.store.register(
                key,
                &me,
                wamid,
                left_behind.as_deref(),
                may_open.then_some(registered_ms + START_LOCK_MS)
            )),
            behind(quote)
        );
        // The start lock this registration took; given back unless the message opens a chat with it.
        let taken_lock = view
            .as_ref()
            .ok()
            .and_then(|view| unused_start_lock(key, view, &me.tag));
        let owner = claims::owner();
        let claim = claim?;
        let replay_of = match claim.claim {
            Claim::Done => {
                // Our registration may have re-added a finished message; left there it would hold later
                // ones back.
                if view.is_ok() {
                    let (unregistered, ()) = tokio::join!(
                        self.store.unregister(key, &me.tag),
                        behind(self.give_back(taken_lock.as_ref(), false))
                    );
                    unregistered?;
                }
                return Ok(Outcome::Duplicate);
            }
            // Busy only after the wait ran out; the holder shares our registration and removes it.
            Claim::Busy => {
                return Err(PortError::new(
                    FailureKind::Transient,
                    "claim",
                    "another invocation is bridging this message",
                ));
            }
            Claim::Acquired => None,
            Claim::Replay { first_ms } => Some(first_ms),
        };
        let heartbeat = Heartbeat::new(hold);
        let acted = match view {
            Ok(view) => {
                let claimed = Claimed {
                    key,
                    origination,
                    message,
                    me: &me,
                    hold,
                    replay_of,
                    owner: &owner,
                    heartbeat: &heartbeat,
                    progress: claim.progress,
                    opening: AtomicBool::new(taken_lock.is_some()),
                };
                let claimed = &claimed;
                let renew = |until_ms| async move { self.store.extend(&claimed.renewal(until_ms)).await };
                // Boxed: the nested async state machines otherwise exceed the compiler's layout depth.
                let decided = Box::pin(self.decide(claimed, view, quoted.as_deref()));
                let decided = tokio::select! {
                    decided = decided => decided,
                    never = heartbeat.keep(renew) => match never {},
                };
                // What is written next (done, or released) is the last word.
                heartbeat.pause().await;
                decided
            }
            Err(e) => Err(e),
        };
        let opened = matches!(&acted, Ok((Outcome::Delivered { opened_chat: true, .. }, _)));
        let give_back = self.give_back(taken_lock.as_ref().filter(|_| !opened), false);
        match &acted {
            Ok((Outcome::Delivered { .. } | Outcome::Noted { .. }, _)) => self.open_chats.open(key, None),
            Ok((Outcome::EndedByCustomer { .. }, _)) => self.open_chats.closed(key),
            _ => {}
        }
        match acted {
            Ok((outcome, Settle::Fast)) => {
                // The message is in the chat. Marked done now, after its send, the conversation's next
                // message (whichever instance has it) need not wait for the fast lease to lapse.
                let finished = Finished {
                    key,
                    tag: &me.tag,
                    clear_menu: false,
                    lapsed: &[],
                };
                let (completed, ()) =
                    tokio::join!(self.store.complete("wa", wamid, Some(&finished)), behind(give_back));
                if let Err(e) = completed {
                    tracing::warn!(error = %e, "could not mark a delivered message done; its fast hold lapses on its own");
                    // Its registration goes with this process's next one in the conversation.
                    self.open_chats.open(key, Some(me.tag.clone()));
                }
                Ok(outcome)
            }
            Ok((
                outcome,
                Settle::Complete {
                    clear_menu,
                    lapsed,
                    marked_read,
                },
            )) => {
                let finished = Finished {
                    key,
                    tag: &me.tag,
                    clear_menu,
                    lapsed: &lapsed,
                };
                // The read mark rides alongside the completing write, so the customer's next message does
                // not wait for it.
                let mark = !marked_read && matches!(outcome, Outcome::Delivered { .. } | Outcome::Noted { .. });
                let (completed, (), ()) = tokio::join!(
                    self.store.complete("wa", wamid, Some(&finished)),
                    behind(self.read_mark(origination, wamid, mark)),
                    behind(give_back)
                );
                completed?;
                Ok(outcome)
            }
            Err(e) => {
                let (release, unregister, ()) = tokio::join!(
                    self.store.release("wa", wamid, &owner),
                    behind(self.store.unregister(key, &me.tag)),
                    behind(give_back)
                );
                if let Err(cleanup) = release.and(unregister) {
                    tracing::warn!(error = %cleanup, "could not clean up after a failure; leases expire on their own");
                }
                Err(e)
            }
        }
    }

    /// Holds the message's claim and registration exclusively, kept alive by the heartbeat until the
    /// work is done (the fast hold would run out while it is still at work).
    pub(super) async fn extend(&self, claimed: &Claimed<'_>) -> PortResult<()> {
        let until = Hold::Exclusive.until(now_ms());
        self.store.extend(&claimed.renewal(until)).await?;
        claimed.heartbeat.resume();
        Ok(())
    }

    /// Sends the customer something WhatsApp cannot deduplicate, once: not when an earlier attempt
    /// recorded it as said, and recorded as said once sent.
    pub(super) async fn say(&self, claimed: &Claimed<'_>, said: Said, outgoing: &OutgoingMessage) -> PortResult<()> {
        if claimed.progress.has_said(said) {
            return Ok(());
        }
        self.whatsapp.send(claimed.origination, outgoing).await?;
        self.remember(claimed, Step::Said(said)).await;
        Ok(())
    }

    /// Records a step of the message for a retry. A record that did not land costs the retry the step
    /// again, not the message: it is not a failure.
    pub(super) async fn remember(&self, claimed: &Claimed<'_>, step: Step<'_>) {
        let recorded = self
            .store
            .record("wa", claimed.message.wamid.as_str(), claimed.owner, step)
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not record a step of the message; a retry repeats it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CustomerId;
    use crate::inbound::fixtures::*;

    #[test]
    fn only_a_conversation_last_seen_open_gets_the_fast_hold() {
        let hint = OpenChats::default();
        let key = active(1).key;
        assert_eq!(hint.next(&key), (Hold::Exclusive, None), "first message: no chat known");
        hint.open(&key, None);
        assert_eq!(hint.next(&key), (Hold::Fast, None));
        hint.open(&key, Some("q_last".into()));
        assert_eq!(
            hint.next(&key),
            (Hold::Fast, Some("q_last".into())),
            "its leftover goes with the next"
        );
        hint.closed(&key);
        assert_eq!(hint.next(&key), (Hold::Exclusive, None), "the chat was seen over");
        for i in 0..OpenChats::CAPACITY {
            let other = ConversationKey::new(
                key.phone_number_id.clone(),
                CustomerId::parse(&format!("1{i:010}")).unwrap(),
            );
            hint.open(&other, None);
        }
        hint.open(&key, None);
        assert!(hint.0.lock().unwrap().len() <= OpenChats::CAPACITY, "bounded");
        assert_eq!(hint.next(&key).0, Hold::Fast);
    }
}
