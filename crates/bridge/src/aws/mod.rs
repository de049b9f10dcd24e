//! AWS adapters: the ports of [`crate::ports`] implemented with the AWS SDK.
//!
//! Clients are built once per process from one shared SDK configuration (endpoints may be redirected
//! with the standard `AWS_ENDPOINT_URL_*` variables, which is how the local twin is reached). SDK errors
//! are classified here, once, into the few kinds the services decide on.

mod attachments;
mod client_store;
mod connect;
mod dynamo;
mod eum;
mod handoff_outbox;
mod handoff_store;
mod http_files;
mod items;
mod media_store;
mod transcribe;
mod webhooks;

pub use attachments::ParticipantAttachments;
pub use client_store::DynamoClientStore;
pub use connect::{ConnectCenter, ParticipantService};
pub use dynamo::DynamoStore;
pub use eum::EumSender;
pub use handoff_store::DynamoHandoffStore;
pub use http_files::HttpWebFiles;
pub use media_store::{EumMedia, S3Store};
pub use transcribe::TranscribeStreaming;
pub use webhooks::{HttpPoster, SqsDeliveryQueue};

use crate::config::{Config, HandoffChannel};
use crate::error::{FailureKind, PortError};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Every client the handlers use, built from one SDK configuration.
pub struct AwsClients {
    pub connect: aws_sdk_connect::Client,
    pub participant: aws_sdk_connectparticipant::Client,
    pub social: aws_sdk_socialmessaging::Client,
    /// For messages to the customer, which carry no idempotency token: no retries and no attempt
    /// timeout of the SDK's own (a slow answer is waited for, not abandoned and sent again); the
    /// adapter decides what may be sent again ([`resend`]).
    pub social_sends: aws_sdk_socialmessaging::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Path-style addressing, so a local S3 (moto) on 127.0.0.1 works too.
    pub s3: aws_sdk_s3::Client,
    /// Without the 10 s attempt timeout: a voice note streams at its own speed.
    pub transcribe: aws_sdk_transcribestreaming::Client,
    /// The webhook delivery queue.
    pub sqs: aws_sdk_sqs::Client,
}

impl AwsClients {
    pub async fn from_env() -> Self {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            // Throttling and 5xx are retried by the SDK with exponential backoff and jitter.
            .retry_config(RetryConfig::standard().with_max_attempts(4))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .build(),
            )
            // The JSON calls send and receive a few KB at once, bounded by the attempt timeout; watching
            // their bodies' throughput costs CPU on every call for nothing. S3 keeps it (media bodies).
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .load()
            .await;
        Self {
            connect: aws_sdk_connect::Client::new(&shared),
            participant: aws_sdk_connectparticipant::Client::new(&shared),
            social: aws_sdk_socialmessaging::Client::new(&shared),
            social_sends: aws_sdk_socialmessaging::Client::from_conf(
                aws_sdk_socialmessaging::config::Builder::from(&shared)
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(3))
                            .operation_timeout(SEND_TIMEOUT)
                            .build(),
                    )
                    .build(),
            ),
            dynamodb: aws_sdk_dynamodb::Client::new(&shared),
            sqs: aws_sdk_sqs::Client::new(&shared),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&shared)
                    .force_path_style(true)
                    .stalled_stream_protection(StalledStreamProtectionConfig::enabled().build())
                    .build(),
            ),
            transcribe: aws_sdk_transcribestreaming::Client::from_conf(
                aws_sdk_transcribestreaming::config::Builder::from(&shared)
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(3))
                            .operation_attempt_timeout(Duration::from_secs(20 * 60))
                            .build(),
                    )
                    .build(),
            ),
        }
    }

    pub fn object_store(&self) -> S3Store {
        S3Store::new(self.s3.clone())
    }

    pub fn whatsapp_media(&self, config: &Config) -> EumMedia {
        EumMedia::new(
            self.social.clone(),
            self.social_sends.clone(),
            config.meta_api_version.clone(),
        )
    }

    pub fn chat_attachments(&self) -> ParticipantAttachments {
        ParticipantAttachments::new(self.participant.clone())
    }

    /// `speed` 1.0 streams audio in real time (`TRANSCRIBE_STREAM_SPEED`).
    pub fn transcriber(&self, speed: f64) -> TranscribeStreaming {
        TranscribeStreaming::new(self.transcribe.clone(), speed)
    }

    pub fn store(&self, config: &Config) -> DynamoStore {
        DynamoStore::new(self.dynamodb.clone(), config.table_name.clone())
    }

    pub fn handoff_store(&self, config: &Config) -> DynamoHandoffStore {
        DynamoHandoffStore::new(self.dynamodb.clone(), config.table_name.clone())
    }

    pub fn client_store(&self, config: &Config) -> DynamoClientStore {
        DynamoClientStore::new(self.dynamodb.clone(), config.table_name.clone())
    }

    pub fn contact_center(&self, config: &Config) -> ConnectCenter {
        ConnectCenter::new(self.connect.clone(), config)
    }

    /// Connect for the Handoff API: its chats stream to the handoff topic, so ConnectHandler tells them
    /// from WhatsApp's by the topic they come from.
    pub fn handoff_center(&self, config: &Config, handoffs: &HandoffChannel) -> ConnectCenter {
        let config = Config {
            stream_topic_arn: handoffs.stream_topic_arn.clone(),
            ..config.clone()
        };
        ConnectCenter::new(self.connect.clone(), &config)
    }

    pub fn delivery_queue(&self, handoffs: &HandoffChannel) -> SqsDeliveryQueue {
        SqsDeliveryQueue::new(
            self.sqs.clone(),
            handoffs.queue_url.clone(),
            handoffs.dead_letter_url.clone(),
        )
    }

    pub fn participant(&self) -> ParticipantService {
        ParticipantService::new(self.participant.clone())
    }

    pub fn whatsapp(&self, config: &Config) -> EumSender {
        EumSender::new(
            self.social.clone(),
            self.social_sends.clone(),
            config.meta_api_version.clone(),
        )
    }
}

/// Every call's future is awaited boxed. An SDK operation's future is 6–10 KB, and awaited inline it
/// is part of every future above it: the bridge's message futures grew to 55–59 KB, and each level of
/// `async fn` that starts a call moves the whole of its callee into place, so an inbound text spent
/// about a tenth of its instructions in `memcpy` (docs/performance.md). Boxed, the call's state is
/// written once, on the heap, and the futures above it hold a pointer.
pub(crate) trait Boxed: Future + Sized {
    fn boxed(self) -> Pin<Box<Self>> {
        Box::pin(self)
    }
}

impl<F: Future> Boxed for F {}

const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ThrottledRequestException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "InternalServerException",
    "InternalServiceException",
    "InternalServerError",
    "ServiceUnavailableException",
    "ServiceUnavailable",
    "DependencyException",
    "TransactionConflictException",
    // A transaction that raced a plain write to one of its items: retrying resolves it.
    "TransactionCanceledException",
];

/// Sorts an SDK error into the kinds the services act on. `gone_on_access_denied` is set for the
/// Participant Service, where AccessDenied means the chat behind the token is over.
pub(crate) fn classify<E>(
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
    gone_on_access_denied: bool,
) -> PortError
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            let kind = if code == "AccessDeniedException" && gone_on_access_denied {
                FailureKind::ChatGone
            } else if code == "ConditionalCheckFailedException" {
                FailureKind::Conflict
            } else if TRANSIENT_CODES.contains(&code.as_str()) || status >= 500 || status == 429 {
                FailureKind::Transient
            } else {
                FailureKind::Rejected
            };
            PortError::new(kind, operation, code)
        }
        // Timeouts, dropped connections and unreadable responses: the request may not have landed.
        SdkError::TimeoutError(_) => PortError::new(FailureKind::Transient, operation, "timeout"),
        SdkError::DispatchFailure(_) => PortError::new(FailureKind::Transient, operation, "dispatch failure"),
        SdkError::ResponseError(_) => PortError::new(FailureKind::Transient, operation, "unreadable response"),
        SdkError::ConstructionFailure(_) => {
            PortError::new(FailureKind::Rejected, operation, "request construction failed")
        }
        _ => PortError::new(FailureKind::Transient, operation, "unknown SDK failure"),
    }
}

/// The longest a message to the customer is waited for: under ConnectHandler's 30 s timeout, so a send
/// that never answers fails the invocation cleanly rather than with it.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether a call that has no idempotency token may be sent again after it failed with `err`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// The service refused it (throttled): it did not take effect.
    Safe,
    /// It may have taken effect (no answer, a lost or unreadable one, a server error): sending it again
    /// may do it twice.
    MayRepeat,
    /// Sending it again cannot help.
    No,
}

pub(crate) fn resend<E>(err: &SdkError<E, HttpResponse>) -> Resend
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            if status == 429 || THROTTLING_CODES.contains(&code) {
                Resend::Safe
            } else if status >= 500 {
                Resend::MayRepeat
            } else {
                Resend::No
            }
        }
        SdkError::ConstructionFailure(_) => Resend::No,
        _ => Resend::MayRepeat,
    }
}

/// Error codes by which a service says it did not process the request because of its rate.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "ThrottledRequestException",
    "TooManyRequestsException",
];

/// A response field the service promised but did not send.
pub(crate) fn missing(operation: &'static str, field: &str) -> PortError {
    PortError::new(FailureKind::Transient, operation, format!("response has no {field}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ConversationKey, CustomerId, PhoneNumberId};
    use crate::ports::{Renewal, StateStore};
    use std::mem::size_of_val;

    fn dynamodb() -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// What [`Boxed`] is for: a port's future holds its SDK call by pointer, so the bridge's futures stay
    /// small. Awaiting a call inline again makes the port's future at least as large as the SDK's.
    #[test]
    fn a_port_call_holds_its_sdk_call_by_pointer() {
        let client = dynamodb();
        let inline = client.get_item().table_name("t").send();
        let store = DynamoStore::new(dynamodb(), "t".to_owned());
        let key = ConversationKey::new(
            PhoneNumberId::parse("106540352242922").unwrap(),
            CustomerId::parse("15550001111").unwrap(),
        );
        let read = store.load_conversation(&key);
        // Two calls side by side (the claim's hold and the registration's).
        let renewal = Renewal {
            source: "wa",
            id: "wamid.1",
            key: &key,
            tag: "tag",
            owner: "owner",
            until_ms: 0,
            opening: false,
        };
        let extended = store.extend(&renewal);
        assert!(
            size_of_val(&read) * 4 < size_of_val(&inline),
            "{} bytes against the SDK's {}",
            size_of_val(&read),
            size_of_val(&inline)
        );
        assert!(
            size_of_val(&extended) * 2 < size_of_val(&inline),
            "{} bytes against the SDK's {}",
            size_of_val(&extended),
            size_of_val(&inline)
        );
    }
}
