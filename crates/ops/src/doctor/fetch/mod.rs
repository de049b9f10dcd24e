//! The fetch layer: one module per service turns read-only SDK calls into the facts the checks
//! take. Nothing here decides pass or fail; an error becomes a [`FetchError`] naming the IAM action
//! the call needs, sorted into *not found*, *access denied* and everything else.

pub mod cloudformation;
pub mod cloudwatch;
pub mod connect;
pub mod dynamodb;
pub mod eum;
pub mod kms;
pub mod s3;
pub mod sns;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::{ErrorKind, FetchError};

/// Every client doctor uses, from the standard AWS configuration chain (profile, environment,
/// `AWS_ENDPOINT_URL_<SERVICE>`), in one Region.
#[derive(Debug, Clone)]
pub struct Clients {
    region: String,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub connect: aws_sdk_connect::Client,
    pub social: aws_sdk_socialmessaging::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Path-style addressing, so a local S3 (moto) on 127.0.0.1 works too.
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub kms: aws_sdk_kms::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Clients {
    /// `region` overrides the configured one; `None` when no Region is known at all.
    pub async fn from_env(region: Option<String>) -> Option<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(20))
                    .build(),
            );
        if let Some(r) = region {
            loader = loader.region(Region::new(r));
        }
        Self::from_config(&loader.load().await)
    }

    pub fn from_config(config: &SdkConfig) -> Option<Self> {
        let region = config.region()?.to_string();
        Some(Self {
            region,
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            connect: aws_sdk_connect::Client::new(config),
            social: aws_sdk_socialmessaging::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build()),
            sns: aws_sdk_sns::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }
}

/// Codes services use for a caller without permission.
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "AuthorizationErrorException",
    "UnauthorizedOperation",
    "Forbidden",
];

/// Codes services use for a resource that does not exist.
const MISSING: &[&str] = &[
    "ResourceNotFoundException",
    "NotFound",
    "NotFoundException",
    "NoSuchBucket",
    "TableNotFoundException",
];

/// Sorts an SDK error (every SDK crate shares these types) for the call that needs `action`.
pub(crate) fn fetch_error<E>(action: &'static str, err: SdkError<E, HttpResponse>) -> FetchError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_owned);
    let kind = match (code.as_deref(), status) {
        (Some(c), _) if DENIED.contains(&c) => ErrorKind::AccessDenied,
        (Some(c), _) if MISSING.contains(&c) => ErrorKind::NotFound,
        (None, Some(403)) => ErrorKind::AccessDenied,
        (None, Some(404)) => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    };
    let message = match (&code, err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    FetchError {
        action,
        kind,
        code,
        message,
    }
}
