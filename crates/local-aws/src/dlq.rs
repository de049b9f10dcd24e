//! Dead-letter queues as AWS has them: one SQS queue per function, fed with Lambda's on-failure
//! destination record when an asynchronous event exhausted its retries.
//!
//! The twin also keeps its own dead-letter list (`GET /_twin/dlq`), which is enough to assert on;
//! the queues exist so that what an operator runs against a deployed stack — `ops replay` reading
//! the queue with the real SQS client — can be exercised offline on exactly the bytes Lambda would
//! have written. The queues live in moto (created with the real SDK, like the table), so without
//! moto there are none and only the list is kept.

use std::collections::HashMap;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use serde_json::{Value, json};

use crate::error::Error;
use crate::lambda::{FunctionError, FunctionName};
use crate::time::iso_millis;

/// Name of a function's dead-letter queue in moto; `None` for a function only ever invoked
/// synchronously, which Lambda gives no on-failure destination (WebhookSender's failures stay in
/// its source queue, whose redrive policy has a DLQ of its own: `sqs_source`).
pub fn queue_name(function: FunctionName) -> Option<&'static str> {
    match function {
        FunctionName::WhatsappHandler => Some("whatsapp-handler-dlq"),
        FunctionName::ConnectHandler => Some("connect-handler-dlq"),
        FunctionName::HandoffApi | FunctionName::HandoffAuthorizer | FunctionName::WebhookSender => None,
    }
}

/// The record Lambda sends to an on-failure destination after the last retry of an asynchronous
/// invocation (the documented shape: `version`, `timestamp`, `requestContext`, `requestPayload`,
/// `responseContext`, `responsePayload`). `function_arn` is the unqualified ARN; Lambda names the
/// version that ran, so `:$LATEST` is appended. `condition` is why Lambda gave up:
/// `RetriesExhausted` or `EventAgeExceeded`.
pub fn destination_record(
    function_arn: &str,
    request_id: &str,
    attempts: u32,
    condition: &str,
    event: &Value,
    error: &FunctionError,
    time_ms: u64,
) -> Value {
    json!({
        "version": "1.0",
        "timestamp": iso_millis(time_ms),
        "requestContext": {
            "requestId": request_id,
            "functionArn": format!("{function_arn}:$LATEST"),
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": error.to_json(),
    })
}

/// The SQS client (pointed at moto) and the queue URL of each function.
#[derive(Debug, Clone)]
pub struct DeadLetterQueues {
    client: aws_sdk_sqs::Client,
    urls: HashMap<FunctionName, String>,
}

impl DeadLetterQueues {
    /// Creates (or finds: CreateQueue is idempotent) both queues at `endpoint`.
    pub async fn create(endpoint: &str, region: &str) -> Result<Self, Error> {
        let conf = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "local-aws"))
            .build();
        let client = aws_sdk_sqs::Client::from_conf(conf);
        let mut urls = HashMap::new();
        for function in FunctionName::ALL {
            let Some(name) = queue_name(function) else { continue };
            let created = client
                .create_queue()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| Error::Setup {
                    what: format!("SQS queue {name}"),
                    message: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
                })?;
            let url = created.queue_url().ok_or_else(|| Error::Setup {
                what: format!("SQS queue {name}"),
                message: "CreateQueue returned no QueueUrl".into(),
            })?;
            urls.insert(function, url.to_owned());
        }
        Ok(Self { client, urls })
    }

    pub fn url(&self, function: FunctionName) -> Option<&str> {
        self.urls.get(&function).map(String::as_str)
    }

    /// Sends one record to the function's queue.
    pub async fn send(&self, function: FunctionName, record: &Value) -> Result<(), String> {
        let url = self
            .url(function)
            .ok_or_else(|| format!("no dead-letter queue for {function}"))?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(record.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_has_the_documented_shape() {
        let event = json!({"Records": [{"EventSource": "aws:sns"}]});
        let error = FunctionError::new("Error", "SendMessage failed");
        let r = destination_record(
            "arn:aws:lambda:us-east-1:123456789012:function:WhatsappHandler",
            "8ea123e4-1db7-4aca-ad10-d9ca1234c1fd",
            3,
            "RetriesExhausted",
            &event,
            &error,
            1_573_755_365_568,
        );
        assert_eq!(r["version"], "1.0");
        assert_eq!(r["timestamp"], "2019-11-14T18:16:05.568Z");
        let ctx = &r["requestContext"];
        assert_eq!(ctx["requestId"], "8ea123e4-1db7-4aca-ad10-d9ca1234c1fd");
        assert_eq!(
            ctx["functionArn"],
            "arn:aws:lambda:us-east-1:123456789012:function:WhatsappHandler:$LATEST"
        );
        assert_eq!(ctx["condition"], "RetriesExhausted");
        assert_eq!(ctx["approximateInvokeCount"], 3);
        assert_eq!(r["requestPayload"], event);
        assert_eq!(
            r["responseContext"],
            json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
        );
        assert_eq!(
            r["responsePayload"],
            json!({"errorType": "Error", "errorMessage": "SendMessage failed"})
        );
    }

    #[test]
    fn queue_names_are_distinct_and_only_for_asynchronous_functions() {
        let whatsapp = queue_name(FunctionName::WhatsappHandler);
        assert!(whatsapp.is_some());
        assert_ne!(whatsapp, queue_name(FunctionName::ConnectHandler));
        assert_eq!(queue_name(FunctionName::HandoffApi), None);
        assert_eq!(queue_name(FunctionName::HandoffAuthorizer), None);
        assert_eq!(queue_name(FunctionName::WebhookSender), None);
    }
}
