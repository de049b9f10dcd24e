//! Rich translation: what it takes for a conversation to feel native on both sides (issue #5).
//!
//! [`crate::translate`] decides *whether* something crosses the bridge; this module decides *how it
//! looks* when it does, as pure functions over typed values so every rule is unit-tested without I/O:
//! - [`template`]: the wire format of Connect's interactive templates;
//! - [`interactive`]: those templates → WhatsApp buttons, lists or numbered texts;
//! - [`menu`]: what a rendered template's options stand for, kept until the customer answers, and their
//!   taps back into exactly what Connect's own chat widget would have sent;
//! - [`markdown`]: agent markdown → WhatsApp's own formatting marks;
//! - [`split`]: long texts cut to a service's limit at the most natural boundary;
//! - [`render`]: readable texts for what the agent cannot otherwise see (locations, contact cards,
//!   reactions, replies, files, failed deliveries);
//! - [`notices`]: configurable lifecycle notices for the customer;
//! - [`text`]: length units and grapheme-safe truncation shared by all of the above.

pub mod interactive;
pub mod markdown;
pub mod menu;
pub mod notices;
pub mod render;
mod slot_time;
pub mod split;
pub mod template;
pub mod text;
