//! The deployed roles grant exactly what the code calls: every AWS SDK operation in the adapters
//! (`src/aws/`) maps to an IAM action granted in `template.yaml`, and every granted service action is
//! called by some adapter. A new SDK call without its grant (or a grant nobody uses) fails here.

use std::collections::BTreeSet;
use std::path::Path;

/// SDK operation (as the fluent method name) → the IAM action it needs. `None`: token-authenticated
/// Participant Service calls, which need no IAM permission. An operation missing here fails the test,
/// so whoever adds a call also decides its permission.
fn iam_action(operation: &str) -> Option<Option<&'static str>> {
    Some(match operation {
        // Amazon Connect
        "start_chat_contact" => Some("connect:StartChatContact"),
        "start_contact_streaming" => Some("connect:StartContactStreaming"),
        "stop_contact" => Some("connect:StopContact"),
        // Connect Participant Service: X-Amz-Bearer tokens, no SigV4
        "create_participant_connection"
        | "send_message"
        | "send_event"
        | "disconnect_participant"
        | "get_transcript"
        | "start_attachment_upload"
        | "complete_attachment_upload"
        | "get_attachment" => None,
        // End User Messaging Social
        "send_whats_app_message" => Some("social-messaging:SendWhatsAppMessage"),
        "get_whats_app_message_media" => Some("social-messaging:GetWhatsAppMessageMedia"),
        "post_whats_app_message_media" => Some("social-messaging:PostWhatsAppMessageMedia"),
        // DynamoDB (a transaction is authorised per item operation: its updates need UpdateItem, its
        // puts PutItem, which `put_item` already requires)
        "get_item" => Some("dynamodb:GetItem"),
        "put_item" => Some("dynamodb:PutItem"),
        "update_item" | "transact_write_items" => Some("dynamodb:UpdateItem"),
        "delete_item" => Some("dynamodb:DeleteItem"),
        "query" => Some("dynamodb:Query"),
        // S3
        "get_object" => Some("s3:GetObject"),
        "put_object" => Some("s3:PutObject"),
        "delete_object" => Some("s3:DeleteObject"),
        "head_object" => Some("s3:GetObject"),
        "list_objects_v2" => Some("s3:ListBucket"),
        // Transcribe streaming
        "start_stream_transcription" => Some("transcribe:StartStreamTranscription"),
        _ => return None,
    })
}

/// Service prefixes whose grants must be justified by code. Logs, SQS (Lambda's own on-failure
/// destination) and X-Ray are used by the Lambda platform, not by our SDK calls.
const CODE_SERVICES: &[&str] = &["connect:", "social-messaging:", "dynamodb:", "s3:", "transcribe:"];

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `client.<operation>()` / `.client\n.<operation>()` call in the AWS adapters.
fn sdk_operations() -> BTreeSet<String> {
    let mut operations = BTreeSet::new();
    let dir = crate_dir().join("src/aws");
    for entry in std::fs::read_dir(&dir).expect("src/aws") {
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
                operations.insert(name);
            }
        }
    }
    operations
}

/// The actions granted to the two function roles, for the services code must justify.
fn granted_actions() -> BTreeSet<String> {
    let template = std::fs::read_to_string(crate_dir().join("../../template.yaml")).expect("template.yaml");
    let mut granted = BTreeSet::new();
    let mut in_role = false;
    for line in template.lines() {
        let trimmed = line.trim();
        // Top-level resources are indented two spaces; a role's body is deeper.
        if line.starts_with("  ") && !line.starts_with("   ") && trimmed.ends_with(':') {
            in_role = trimmed == "WhatsappHandlerRole:" || trimmed == "ConnectHandlerRole:";
            continue;
        }
        if !in_role {
            continue;
        }
        if let Some(action) = trimmed.strip_prefix("- ")
            && CODE_SERVICES.iter().any(|s| action.starts_with(s))
            && action
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '-')
        {
            granted.insert(action.to_owned());
        }
    }
    granted
}

#[test]
fn roles_grant_exactly_what_the_code_calls() {
    let operations = sdk_operations();
    assert!(
        operations.contains("start_chat_contact"),
        "adapter scan found nothing: {operations:?}"
    );
    let unknown: Vec<_> = operations.iter().filter(|op| iam_action(op).is_none()).collect();
    assert!(
        unknown.is_empty(),
        "decide the IAM action for these SDK calls in iam_action(): {unknown:?}"
    );
    let needed: BTreeSet<String> = operations
        .iter()
        .filter_map(|op| iam_action(op).flatten())
        .map(str::to_owned)
        .collect();
    let granted = granted_actions();
    let missing: Vec<_> = needed.difference(&granted).collect();
    let unused: Vec<_> = granted.difference(&needed).collect();
    assert!(missing.is_empty(), "template.yaml does not grant {missing:?}");
    assert!(
        unused.is_empty(),
        "template.yaml grants {unused:?}, which no code calls"
    );
}
