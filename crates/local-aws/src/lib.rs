//! `local-aws`, the local twin: the AWS services whatsapp-connect-bridge talks to, offline.
//!
//! One process serves the restJson1 wire protocol of the Amazon Connect, Connect Participant and
//! End User Messaging Social operations the bridge calls, simulates a Connect contact flow and
//! chat transcripts, delivers SNS-shaped events to the *unmodified* handler binaries through the
//! Lambda Runtime API (with Lambda's async retry/DLQ semantics), serves Lambda `Invoke` for the
//! operator tools, and offers a control API under `/_twin` to play customer and agent, inject
//! faults and inspect what happened. DynamoDB, S3, the SQS queues (dead letters, webhooks), the
//! topics' configuration and KMS key come from moto, and CloudWatch's metrics are kept there too.
//! See `docs/local-twin.md` for the HTTP surface.
//!
//! Layout: `connect` (Connect state machine, pure), `eum` (WhatsApp events and sends, pure),
//! `faults`, `aws` (wire protocol, including Lambda Invoke), `sns` (delivery), `dlq` (on-failure
//! records and their SQS queues), `sqs_source` (the webhook queue and its event source mapping),
//! `lambda` (Runtime API and processes), `control` (`/_twin`), `twin` (server), `http_api` (API
//! Gateway's HTTP API in front of the Handoff API), `stack` (moto + twin + handlers),
//! `measure` and `moto_proxy` (timings for the benchmark), `cloudwatch` (CloudWatch's CBOR in front
//! of moto's JSON).

mod aws;
mod cloudwatch;
pub mod config;
pub mod connect;
mod control;
pub mod dlq;
pub mod error;
pub mod eum;
pub mod faults;
mod http_api;
pub mod lambda;
pub mod measure;
pub mod media;
mod moto_proxy;
mod netio;
pub mod provision;
pub mod rng;
pub mod sns;
pub mod sqs_source;
pub mod stack;
pub mod time;
pub mod transcribe;
mod ttl;
pub mod twin;
mod validate;
mod webhooks;

pub use config::{BusinessNumber, PORTUGUESE_FLOW_ID, SPANISH_FLOW_ID, TwinConfig, TwinFlow};
pub use error::{ApiError, Error};
pub use lambda::{FunctionError, FunctionName};
pub use stack::{Stack, StackOptions};
pub use twin::{HandlerOptions, Twin, TwinOptions};
