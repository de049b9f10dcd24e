//! The order of a conversation's messages: a message waits while an earlier one (by WhatsApp's
//! timestamp, then by arrival) is still in flight, for as long as that one's lease lives and no longer
//! than [`WAIT_FOR_TURN`]. Pure rules over the conversation as read, and the wait itself.

use super::InboundBridge;
use crate::claims::{self};
use crate::ids::ConversationKey;
use crate::ports::{
    ContactCenter, Conversation, ConversationState, ConversationView, Inflight, Participant, PortResult, StateStore,
    Whatsapp,
};
use crate::telemetry::now_ms;
use std::time::{Duration, Instant};

/// How long a message waits for earlier messages of its conversation before going anyway: an earlier
/// one is in the chat within a few hundred milliseconds, and one whose invocation is stuck (alive, so
/// its lease is renewed) must not hold the conversation back for longer than this.
pub(super) const WAIT_FOR_TURN: Duration = Duration::from_secs(5);

pub(super) const POLL_TURN: Duration = Duration::from_millis(25);

/// A registration this long past its lease belongs to a message that finished (fast) or died; nobody
/// waits for it any more, so a completing write may remove it.
pub(super) const LAPSED_MS: i64 = 60_000;

/// At most this many are removed by one write, to keep it small.
pub(super) const LAPSED_PER_WRITE: usize = 20;

/// Registrations of other messages long past their lease.
pub(super) fn lapsed_registrations(view: &ConversationView, me: &Inflight, now_ms: i64) -> Vec<String> {
    view.inflight
        .iter()
        .filter(|other| other.tag != me.tag && other.until_ms + LAPSED_MS < now_ms)
        .take(LAPSED_PER_WRITE)
        .map(|other| other.tag.clone())
        .collect()
}

/// When the earliest in-flight message that must go before `me` stops holding it back (epoch ms);
/// `None` when nothing does.
pub(super) fn earliest_blocking_lapse(view: &ConversationView, me: &Inflight, now_ms: i64) -> Option<i64> {
    view.inflight
        .iter()
        .filter(|other| other.tag != me.tag && other.is_live(now_ms) && other.precedes(me))
        .map(|other| other.until_ms)
        .min()
}

pub(super) fn waits_for_earlier(view: &ConversationView, me: &Inflight, now_ms: i64) -> bool {
    earliest_blocking_lapse(view, me, now_ms).is_some()
}

/// A message taken over from a fast-path holder that went quiet (sent, or died sending) went into the
/// chat that was open then, or into the chat it opened itself. If that chat is over or was replaced
/// since (`first_ms`: when the holder took it), the message is in that chat's transcript or was lost
/// with the holder's process; sending it into the new chat would show the agent a message twice, and a
/// fast holder dies in a window of one SendMessage, so it counts as delivered.
pub(super) fn went_into_an_earlier_chat(view: &ConversationView, tag: &str, first_ms: i64) -> bool {
    match &view.conversation {
        Some(Conversation {
            state: ConversationState::Active(_),
            activated_ms,
            ..
        }) => *activated_ms > first_ms && view.opener.as_ref().is_none_or(|opener| opener.tag != tag),
        _ => true,
    }
}

impl<S: StateStore, C: ContactCenter, P: Participant, W: Whatsapp> InboundBridge<S, C, P, W> {
    /// Waits while an earlier message of the same conversation is still being bridged, so messages that
    /// arrive together reach the agent in the order the customer sent them. Bounded: a delivery that
    /// crashed stops counting after its lease, and nobody waits longer than `WAIT_FOR_TURN`, nor past
    /// what its own invocation needs to deliver before its timeout.
    pub(super) async fn wait_for_turn(
        &self,
        key: &ConversationKey,
        me: &Inflight,
        mut view: ConversationView,
    ) -> PortResult<ConversationView> {
        let deadline = Instant::now() + claims::bounded_wait(WAIT_FOR_TURN);
        let mut poll = POLL_TURN;
        loop {
            let now = now_ms();
            // An earlier message on the fast hold ends its lease without a word: look again right then.
            let Some(lapses) = earliest_blocking_lapse(&view, me, now) else {
                return Ok(view);
            };
            if Instant::now() > deadline {
                return Ok(view);
            }
            let until_lapse = Duration::from_millis(u64::try_from(lapses - now).unwrap_or(0));
            tokio::time::sleep(poll.min(until_lapse + POLL_TURN)).await;
            poll = claims::backoff(poll);
            view = self.store.load_conversation(key).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::fixtures::*;
    use crate::ports::Opener;

    #[test]
    fn a_message_waits_only_for_live_earlier_ones() {
        let me = inflight("q_me", 100, 5_000);
        let view = |entries: Vec<Inflight>| ConversationView {
            inflight: entries,
            ..Default::default()
        };
        assert_eq!(
            earliest_blocking_lapse(&view(vec![me.clone()]), &me, 1_000),
            None,
            "not on itself"
        );
        let earlier = view(vec![inflight("q_a", 99, 2_500), inflight("q_b", 98, 1_800), me.clone()]);
        assert_eq!(earliest_blocking_lapse(&earlier, &me, 1_000), Some(1_800));
        assert!(waits_for_earlier(&earlier, &me, 1_000));
        assert!(
            !waits_for_earlier(&earlier, &me, 2_600),
            "a fast hold that lapsed holds nobody back"
        );
        let later = view(vec![inflight("q_c", 101, 9_000)]);
        assert!(
            !waits_for_earlier(&later, &me, 1_000),
            "later messages never hold an earlier one"
        );
    }

    #[test]
    fn only_registrations_long_past_their_lease_are_swept() {
        let me = inflight("q_me", 100, 0);
        let view = ConversationView {
            inflight: vec![
                inflight("q_old", 90, 1_000),
                inflight("q_recent", 95, 50_000),
                inflight("q_me", 100, 0),
            ],
            ..Default::default()
        };
        assert_eq!(lapsed_registrations(&view, &me, 61_001 + 1_000), ["q_old"]);
        assert!(lapsed_registrations(&view, &me, 60_000).is_empty());
        let many = ConversationView {
            inflight: (0..50).map(|i| inflight(&format!("q_{i}"), i, 0)).collect(),
            ..Default::default()
        };
        assert_eq!(lapsed_registrations(&many, &me, 100_000).len(), LAPSED_PER_WRITE);
    }

    #[test]
    fn a_replayed_message_goes_only_into_the_chat_it_was_first_taken_for() {
        let view = |conversation: Option<Conversation>, opener: &str| ConversationView {
            conversation,
            opener: Some(Opener {
                tag: opener.into(),
                until_ms: 0,
            }),
            ..Default::default()
        };
        assert!(
            !went_into_an_earlier_chat(&view(Some(active(1_000)), "q_other"), "q_me", 2_000),
            "same chat: resend deduplicates"
        );
        assert!(
            went_into_an_earlier_chat(&view(Some(active(3_000)), "q_other"), "q_me", 2_000),
            "a chat started since"
        );
        assert!(
            !went_into_an_earlier_chat(&view(Some(active(3_000)), "q_me"), "q_me", 2_000),
            "the chat this very message opened: resend deduplicates"
        );
        assert!(went_into_an_earlier_chat(
            &view(Some(conversation(ConversationState::Ended, 1_000)), "q_me"),
            "q_me",
            2_000
        ));
        assert!(went_into_an_earlier_chat(&view(None, "q_me"), "q_me", 2_000));
    }
}
