//! Rich translation: what it takes for a conversation to feel native on both sides (issue #5).
//!
//! [`crate::translate`] decides *whether* something crosses the bridge; this module decides *how it
//! looks* when it does, as pure functions over typed values so every rule is unit-tested without I/O:
//! - [`interactive`]: Connect interactive templates → WhatsApp buttons, lists or numbered texts, and the
//!   customer's taps back into exactly what Connect's own chat widget would have sent;
//! - [`markdown`]: agent markdown → WhatsApp's own formatting marks;
//! - [`split`]: long texts cut to a service's limit at the most natural boundary;
//! - [`render`]: readable texts for what the agent cannot otherwise see (locations, contact cards,
//!   reactions, replies, files, failed deliveries);
//! - [`notices`]: configurable lifecycle notices for the customer;
//! - [`text`]: length units and grapheme-safe truncation shared by all of the above.

pub mod interactive;
pub mod markdown;
pub mod notices;
pub mod render;
pub mod split;
pub mod text;
