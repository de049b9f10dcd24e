//! whatsapp-connect-bridge: WhatsApp customers (via AWS End User Messaging Social) talking to Amazon
//! Connect agents.
//!
//! The crate is layered so that the rules can be tested without AWS:
//! - [`whatsapp`] and [`connect_stream`] parse what each side publishes into typed values;
//! - [`translate`] holds the pure rules of what becomes what, in the words of [`wording`];
//! - [`routes`] says, per business number, which flow, language and end keyword apply;
//! - [`ports`] names what the services need from outside, and [`aws`] implements it with the AWS SDK;
//! - [`inbound`] (WhatsappHandler) and [`outbound`] (ConnectHandler) carry the rules out;
//! - [`lambda`] wires a handler binary: configuration, clients built once, the Lambda runtime.

#[cfg(feature = "aws")]
pub mod aws;
pub mod claims;
pub mod config;
pub mod connect_stream;
pub mod connection;
pub mod content_type;
pub mod error;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod handoff;
pub mod ids;
pub mod inbound;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod media;
pub mod metrics;
pub mod outbound;
pub mod ports;
pub mod rich;
pub mod rounds;
pub mod routes;
pub mod sns;
pub mod telemetry;
#[cfg(test)]
mod test_fixtures;
pub mod translate;
pub mod whatsapp;
pub mod wording;
