//! The events a handoff sends back to the bot over its client's webhook: what each one says (the
//! envelope, here), how it is signed ([`signature`]) and when a failed delivery is tried again
//! ([`delivery`]).
//!
//! Every event is one JSON envelope, `{"type", "timestamp", "data"}` as the Standard Webhooks
//! specification recommends, whose `data` always names the handoff (`handoff_id`, and the bot's own
//! `external_conversation_id`, so the bot needs no lookup of its own) and its place in the handoff
//! (`sequence`, from 1, shared by every event of the handoff), then the event's own fields. The body is
//! serialized once, when the event is owed: every attempt sends and signs the same bytes.
//!
//! The `webhook-id` is derived from the handoff and the sequence, not drawn at random: a retry, a
//! second invocation owing the same event after a crash, and an operator's `replay` of a dead letter all
//! carry the same id, so the bot drops whichever copy comes second.

pub mod signature;
