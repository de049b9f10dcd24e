//! Handoffs: a bot platform hands a conversation to an Amazon Connect agent through the HTTP API
//! (`HandoffApi`), relays the customer's messages to the agent and the agent's back, and takes the
//! conversation over again when the handoff ends.
//!
//! This module is the handoff channel's domain, pure and unit-tested like [`crate::translate`]:
//! - [`lifecycle`]: a handoff's states and the transitions Connect's stream and the API cause, with the
//!   events each one owes the bot;
//! - [`context`]: what the agent sees of the bot's conversation (the reason, the history as a
//!   conversation, a summary in contact attributes);
//! - [`request`]: the API's routes and requests parsed into valid values, and its errors; [`openapi`]:
//!   the OpenAPI 3.1 document generated from them;
//! - [`message`]: the chat's items as the bot receives them (text, markdown, Connect's interactive
//!   templates as a neutral choice, files) and the bot's messages as the customer side sends them;
//! - `gateway` (with the `aws` feature): API Gateway's HTTP API events in the service's terms;
//! - [`service`]: what the `HandoffApi` function does with a request, over the store and Connect's
//!   ports (the one part here that does I/O, like [`crate::media::service`]);
//! - [`store`]: the port that keeps a handoff's record (created once per idempotency key, its chat
//!   attached once, each move written over the one it followed, with the events it owes);
//! - [`moves`]: what a change owes the bot, and the write loop the API and the relay share;
//! - [`transfer`]: whether the bot's transfer can move the handoff's chat, and what the bridge sets
//!   on the contact for the handoff's queue flow to move it;
//! - [`relay`]: ConnectHandler's side: the items of a handoff's chat as the handoff's changes;
//! - [`outbox`], [`dispatch`] and [`kicks`]: `WebhookSender`'s side: each handoff's events delivered in order,
//!   retried on their schedule, dead-lettered when given up;
//! - [`webhook`]: the events sent back to the bot, enveloped, sequenced and signed per Standard Webhooks,
//!   and when a failed delivery is tried again;
//! - [`auth`]: who calls the API (clients by API key through the Lambda authorizer, or by IAM), key
//!   rotation, and each client's request rate.
//!
//! The vocabulary: a *client* is a bot platform's deployment calling the API with its own key; a
//! *handoff* is one conversation of a client handed to Connect (one chat contact, or a chain of them
//! while it is transferred); the *user* is the person the bot talks to, the customer of the chat.

pub mod auth;
pub mod context;
pub mod dispatch;
#[cfg(feature = "aws")]
pub mod gateway;
pub mod kicks;
pub mod lifecycle;
pub mod message;
pub mod moves;
pub mod openapi;
pub mod outbox;
pub mod relay;
pub mod request;
pub mod service;
pub mod store;
pub mod transfer;
pub mod webhook;

use serde::{Deserialize, Serialize};

/// Who said something in the bot's conversation before the handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The person the bot talks to (the chat's customer).
    User,
    Bot,
}

/// One message of the bot's conversation so far, as the agent is shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub speaker: Speaker,
    /// What it said: its text, or a short description of what it was (a file, a card, a choice).
    pub text: String,
    /// When it was said (RFC 3339), if the bot told.
    pub at: Option<String>,
}
