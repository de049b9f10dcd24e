//! The context a claimed customer message is bridged in: which conversation and message, the hold and
//! its heartbeat, the invocation that owns it, and what an earlier attempt recorded. Every stage takes
//! it instead of the same handful of arguments.

use crate::claims::{Heartbeat, Hold};
use crate::ids::{ConversationKey, OriginationId};
use crate::ports::{Inflight, Progress, Renewal};
use crate::whatsapp::CustomerMessage;
use std::sync::atomic::{AtomicBool, Ordering};

/// A customer message this invocation holds.
pub(super) struct Claimed<'a> {
    pub(super) key: &'a ConversationKey,
    /// The business number's EUM id, which answers go out from.
    pub(super) origination: &'a OriginationId,
    pub(super) message: &'a CustomerMessage,
    pub(super) me: &'a Inflight,
    pub(super) hold: Hold,
    /// Taken over from a fast holder that went quiet: when the message was first taken.
    pub(super) replay_of: Option<i64>,
    /// This invocation, as the claim names it.
    pub(super) owner: &'a str,
    /// Keeps the hold alive while it is exclusive.
    pub(super) heartbeat: &'a Heartbeat,
    /// What an earlier attempt at the message did before it failed.
    pub(super) progress: Progress,
    /// The message holds the conversation's start lock and has not started the chat yet: the heartbeat
    /// keeps the lock too.
    pub(super) opening: AtomicBool,
}

impl Claimed<'_> {
    /// The message's hold, held exclusively until `until_ms`.
    pub(super) fn renewal(&self, until_ms: i64) -> Renewal<'_> {
        Renewal {
            source: "wa",
            id: self.message.wamid.as_str(),
            key: self.key,
            tag: &self.me.tag,
            owner: self.owner,
            until_ms,
            opening: self.opening.load(Ordering::Relaxed),
        }
    }
}
