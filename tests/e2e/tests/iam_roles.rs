//! Each function's role grants exactly what that function calls. Two views of the calls:
//! - every AWS SDK operation in the adapters (`crates/bridge/src/aws/`) is granted to some role in
//!   `template.yaml`, and every granted action is called by some adapter (a new call without its grant,
//!   or a grant nobody uses, fails here);
//! - per function: a whole conversation and a delivery that fails once run through the real handlers,
//!   their DynamoDB and S3 requests passing through the twin, and the calls each function made — mapped
//!   to IAM actions — are exactly what its own role grants. The adapters are shared by both binaries, so
//!   only their calls tell which function needs which action.

mod common;

use e2e::{TestStack, repo_root};
use serde_json::json;
use std::collections::BTreeSet;

/// AWS operation → the IAM actions it needs (none: token-authenticated Participant Service calls). An
/// operation missing here fails the tests, so whoever adds a call also decides its permissions.
fn iam_actions(operation: &str) -> Option<&'static [&'static str]> {
    Some(match operation {
        // Amazon Connect
        // The start carries the chat's streaming configuration. The service authorization reference
        // does not say whether Connect authorises that part as StartContactStreaming; a missing grant
        // would silently stream nothing, so the role keeps both.
        "StartChatContact" => &["connect:StartChatContact", "connect:StartContactStreaming"],
        "StopContact" => &["connect:StopContact"],
        "UpdateContactAttributes" => &["connect:UpdateContactAttributes"],
        // A handoff's custom bot participant (the bot's conversation, replayed for the agent).
        "CreateParticipant" => &["connect:CreateParticipant"],
        // Connect Participant Service: X-Amz-Bearer tokens, no SigV4
        "CreateParticipantConnection"
        | "SendMessage"
        | "SendEvent"
        | "DisconnectParticipant"
        | "GetTranscript"
        | "StartAttachmentUpload"
        | "CompleteAttachmentUpload"
        | "GetAttachment" => &[],
        // The URL StartAttachmentUpload presigned: Connect's authority, not the function's
        "PutObject (attachment upload)" => &[],
        // End User Messaging Social. EUM writes a customer's media into the bucket, and reads an agent's
        // file from it, under its own principal (the bucket policy) or with the caller's credentials:
        // the caller holds the S3 action too.
        "SendWhatsAppMessage" => &["social-messaging:SendWhatsAppMessage"],
        "GetWhatsAppMessageMedia" => &["social-messaging:GetWhatsAppMessageMedia", "s3:PutObject"],
        "PostWhatsAppMessageMedia" => &["social-messaging:PostWhatsAppMessageMedia", "s3:GetObject"],
        // DynamoDB. A transaction is authorised per item operation (its updates need UpdateItem, its
        // puts PutItem); ConnectHandler's puts `sent#` records, and the call log does not look inside.
        "GetItem" => &["dynamodb:GetItem"],
        "PutItem" => &["dynamodb:PutItem"],
        "UpdateItem" => &["dynamodb:UpdateItem"],
        "TransactWriteItems" => &["dynamodb:UpdateItem", "dynamodb:PutItem"],
        "DeleteItem" => &["dynamodb:DeleteItem"],
        "Query" => &["dynamodb:Query"],
        // S3
        "GetObject" | "HeadObject" => &["s3:GetObject"],
        "PutObject" => &["s3:PutObject"],
        "DeleteObject" => &["s3:DeleteObject"],
        "ListObjectsV2" => &["s3:ListBucket"],
        // Transcribe streaming
        "StartStreamTranscription" => &["transcribe:StartStreamTranscription"],
        _ => return None,
    })
}

/// Service prefixes whose grants must be justified by code. Logs, SQS (Lambda's own on-failure
/// destination) and X-Ray are used by the Lambda platform, not by the bridge's calls.
const CODE_SERVICES: &[&str] = &["connect:", "social-messaging:", "dynamodb:", "s3:", "transcribe:"];

/// (function, its role in `template.yaml`).
const ROLES: &[(&str, &str)] = &[
    ("WhatsappHandler", "WhatsappHandlerRole"),
    ("ConnectHandler", "ConnectHandlerRole"),
    ("HandoffApi", "HandoffApiRole"),
    ("HandoffAuthorizer", "HandoffAuthorizerRole"),
    ("WebhookSender", "WebhookSenderRole"),
];

/// `start_chat_contact` → `StartChatContact`.
fn operation_name(sdk_method: &str) -> String {
    sdk_method
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Every `client.<operation>()` / `.client\n.<operation>()` call in the AWS adapters, as AWS names it.
fn adapter_operations() -> BTreeSet<String> {
    let mut operations = BTreeSet::new();
    let dir = repo_root().join("crates/bridge/src/aws");
    for entry in std::fs::read_dir(&dir).expect("crates/bridge/src/aws") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("adapter source");
        let compact: String = source.split_whitespace().collect::<Vec<_>>().join("");
        for (at, _) in compact.match_indices("client.") {
            let rest = &compact[at + "client.".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].starts_with("()") {
                operations.insert(operation_name(&name));
            }
        }
    }
    operations
}

/// The body of one top-level resource of `template.yaml`.
fn resource(name: &str) -> Vec<String> {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    // Top-level resources are indented two spaces; a resource's body is deeper.
    let top = |line: &str| line.starts_with("  ") && !line.starts_with("   ") && line.trim().ends_with(':');
    template
        .lines()
        .skip_while(|line| !(top(line) && line.trim() == format!("{name}:")))
        .skip(1)
        .take_while(|line| !top(line))
        .map(str::to_owned)
        .collect()
}

/// The actions a role grants, for the services code must justify.
fn granted(role: &str) -> BTreeSet<String> {
    resource(role)
        .iter()
        .filter_map(|line| line.trim().strip_prefix("- ").map(str::to_owned))
        .filter(|action| {
            CODE_SERVICES.iter().any(|s| action.starts_with(s))
                && action
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '-')
        })
        .collect()
}

fn needed(operations: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    let operations: Vec<String> = operations.into_iter().collect();
    let unknown: Vec<&String> = operations.iter().filter(|op| iam_actions(op).is_none()).collect();
    assert!(
        unknown.is_empty(),
        "decide the IAM actions of these operations in iam_actions(): {unknown:?}"
    );
    operations
        .iter()
        .flat_map(|op| iam_actions(op).unwrap_or_default())
        .map(|action| (*action).to_owned())
        .collect()
}

fn assert_grants(who: &str, needed: &BTreeSet<String>, granted: &BTreeSet<String>) {
    let missing: Vec<_> = needed.difference(granted).collect();
    let unused: Vec<_> = granted.difference(needed).collect();
    assert!(missing.is_empty(), "{who}: template.yaml does not grant {missing:?}");
    assert!(
        unused.is_empty(),
        "{who}: template.yaml grants {unused:?}, which it never calls"
    );
}

#[test]
fn the_roles_together_grant_exactly_what_the_adapters_call() {
    let operations = adapter_operations();
    assert!(
        operations.contains("StartChatContact") && operations.contains("SendWhatsAppMessage"),
        "adapter scan found nothing: {operations:?}"
    );
    let granted: BTreeSet<String> = ROLES.iter().flat_map(|(_, role)| granted(role)).collect();
    assert_grants("the roles", &needed(operations), &granted);
}

#[test]
fn listing_the_media_bucket_is_limited_to_the_prefix_the_bridge_lists() {
    for (_, role) in ROLES {
        let body = resource(role).join("\n");
        for statement in body.split("- Sid:").filter(|s| s.contains("s3:ListBucket")) {
            assert!(
                statement.contains("\"s3:prefix\": \"inbound/*\""),
                "{role}: s3:ListBucket without an s3:prefix condition: {statement}"
            );
        }
    }
}

#[tokio::test]
async fn each_role_grants_exactly_what_its_function_calls() {
    let stack = TestStack::start_with(|o| {
        o.proxy_moto = true;
        o.extra_env.push(("TRANSCRIBE_STREAM_SPEED".to_owned(), "8".to_owned()));
        TestStack::with_handoff_api(o);
    })
    .await;
    common::whole_conversation(&stack).await;
    // A delivery that fails, and gives back what it had claimed before Lambda retries it.
    let twin = stack.twin();
    let (_, reopened) = twin.customer_texts(common::PHONE, "One more thing").await;
    assert!(reopened.ok, "{reopened:?}");
    twin.settle().await;
    twin.fault(json!({"service": "connectparticipant", "operation": "SendMessage",
                      "error": "ThrottlingException", "times": 4}))
        .await;
    let (_, first) = twin.customer_texts(common::PHONE, "Are you there?").await;
    assert!(!first.ok, "the first attempt fails: {first:?}");
    twin.settle().await;
    let chats = twin.contacts_of(common::PHONE).await;
    let texts = chats.last().map(e2e::customer_texts).unwrap_or_default();
    assert_eq!(
        texts.last().map(String::as_str),
        Some("Are you there?"),
        "delivered on Lambda's retry"
    );

    // A bot's handoff: created with a history, a message, typing, the end.
    let key = stack.add_client("acme-bot");
    let handoff = json!({"external_conversation_id": "c-1", "user": {"id": "u-1", "name": "Ana"},
                         "title": "Refund", "description": "Asks for a refund",
                         "message_history": [{"source": {"type": "bot"}, "type": "text", "payload": {"text": "Hi"}}]});
    let api = |method, path: String, headers: &'static [(&'static str, &'static str)], body| {
        let (twin, key) = (twin.clone(), key.clone());
        async move { twin.handoff_api(Some(&key), (method, &path), headers, body).await }
    };
    let (status, created) = api(
        "POST",
        "/v1/handoffs".into(),
        &[("idempotency-key", "h-1")],
        Some(handoff),
    )
    .await;
    assert_eq!(status, 202, "{created}");
    let id = created["handoff_id"].as_str().unwrap();
    let message = json!({"client_message_id": "m-1", "type": "text", "text": "Hello?"});
    let (status, _) = api(
        "PATCH",
        format!("/v1/handoffs/{id}"),
        &[],
        Some(json!({"attributes": {"OrderId": "4512"}})),
    )
    .await;
    assert!(status.is_success(), "PATCH: {status}");
    for (path, body) in [("messages", Some(message)), ("typing", None), ("end", None)] {
        let (status, _) = api("POST", format!("/v1/handoffs/{id}/{path}"), &[], body).await;
        assert!(status.is_success(), "{path}: {status}");
    }

    for (function, role) in ROLES {
        let invocations = twin.get(&format!("/invocations?function={function}")).await;
        let operations: Vec<String> = invocations
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|inv| inv["calls"].as_array().cloned().unwrap_or_default())
            .filter_map(|call| call["operation"].as_str().map(str::to_owned))
            .collect();
        assert!(!operations.is_empty(), "{function} made no call");
        assert_grants(function, &needed(operations), &granted(role));
    }
}
