//! The twin refuses what AWS's service models refuse, before any token or existence check: one
//! test per class of constraint (required, length, pattern, enum, range, list length, map entries),
//! through the real SDK clients where the SDK sends the request, raw HTTP where it would not. Also
//! the error bodies' message member and GetAttachment's modeled error.

use aws_config::SdkConfig;
use aws_sdk_connect::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_connect::operation::start_chat_contact::builders::StartChatContactFluentBuilder;
use aws_sdk_connect::types::{ChatStreamingConfiguration, ParticipantDetails};
use aws_sdk_connectparticipant::types::{ConnectionType, ScanDirection};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use local_aws::{Twin, TwinConfig, TwinOptions};
use serde_json::{Value, json};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:connect-chat-stream";

async fn twin() -> Twin {
    let options = TwinOptions::quiet();
    Twin::start(TwinConfig::default(), options).await.expect("twin starts")
}

fn sdk(url: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "test",
        )))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build()
}

/// The error code and message of a failed SDK call (panics on success).
fn refused<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(result: Result<T, E>) -> (String, String) {
    let err = result.expect_err("the twin refuses the request");
    (
        err.code().unwrap_or("none").to_owned(),
        err.message().unwrap_or("").to_owned(),
    )
}

fn assert_invalid(refusal: (String, String), member: &str, constraint: &str) {
    let (code, message) = refusal;
    assert_eq!(code, "ValidationException", "{message}");
    assert!(
        message.contains(&format!("'{member}' failed to satisfy constraint: {constraint}")),
        "{member} / {constraint} in {message}"
    );
}

/// A valid StartChatContact, for a test to spoil one member of.
fn start_chat(cfg: &SdkConfig) -> StartChatContactFluentBuilder {
    let twin_cfg = TwinConfig::default();
    aws_sdk_connect::Client::new(cfg)
        .start_chat_contact()
        .instance_id(&twin_cfg.instance_id)
        .contact_flow_id(&twin_cfg.contact_flow_id)
        .participant_details(ParticipantDetails::builder().display_name("Sheena").build().unwrap())
}

/// A twin with one open chat, and a Connect Participant client.
struct Chat {
    /// Serves as long as the chat is used.
    _twin: Twin,
    cfg: SdkConfig,
    contact: String,
    participant_token: String,
    /// The connection token.
    token: String,
    p: aws_sdk_connectparticipant::Client,
}

impl Chat {
    async fn open() -> Self {
        let twin = twin().await;
        let cfg = sdk(&twin.url());
        let started = start_chat(&cfg).send().await.expect("StartChatContact");
        let participant_token = started.participant_token().unwrap().to_owned();
        let p = aws_sdk_connectparticipant::Client::new(&cfg);
        let conn = p
            .create_participant_connection()
            .participant_token(&participant_token)
            .r#type(ConnectionType::ConnectionCredentials)
            .connect_participant(true)
            .send()
            .await
            .expect("CreateParticipantConnection");
        let credentials = conn.connection_credentials().unwrap();
        Self {
            _twin: twin,
            cfg,
            contact: started.contact_id().unwrap().to_owned(),
            participant_token,
            token: credentials.connection_token().unwrap().to_owned(),
            p,
        }
    }
}

/// `request` is a path (POSTed) or `PUT <path>`: the status, error code and JSON body.
async fn raw(url: &str, request: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, Value) {
    let (method, path) = match request.strip_prefix("PUT ") {
        Some(path) => (reqwest::Method::PUT, path),
        None => (reqwest::Method::POST, request),
    };
    let mut req = reqwest::Client::new()
        .request(method, format!("{url}{path}"))
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let code = resp
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, code, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn required_members_are_checked_before_the_token() {
    let twin = twin().await;
    // No bearer token and no Content: AWS names both, as a validation error, not AccessDenied.
    let (status, code, body) = raw(
        &twin.url(),
        "/participant/message",
        &[],
        r#"{"ContentType":"text/plain"}"#,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "ValidationException"), "{body}");
    let message = body["Message"]
        .as_str()
        .expect("Connect Participant errors carry Message");
    assert!(message.starts_with("2 validation errors detected"), "{message}");
    assert!(message.contains("'connectionToken' failed to satisfy constraint: Member must not be null"));
    assert!(message.contains("'content' failed to satisfy constraint: Member must not be null"));
    // A nested required member.
    let cfg = TwinConfig::default();
    let start =
        json!({ "InstanceId": cfg.instance_id, "ContactFlowId": cfg.contact_flow_id, "ParticipantDetails": {} });
    let (status, code, body) = raw(&twin.url(), "PUT /contact/chat", &[], &start.to_string()).await;
    assert_eq!((status, code.as_str()), (400, "ValidationException"), "{body}");
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .contains("'participantDetails.displayName'"),
        "{body}"
    );
}

#[tokio::test]
async fn lengths_of_tokens_contents_and_arns_are_checked() {
    let chat = Chat::open().await;
    let long_token = "t".repeat(501);
    let twin_cfg = TwinConfig::default();
    let c = aws_sdk_connect::Client::new(&chat.cfg);
    let streaming = |arn: &str| {
        c.start_contact_streaming()
            .instance_id(&twin_cfg.instance_id)
            .contact_id(&chat.contact)
            .chat_streaming_configuration(
                ChatStreamingConfiguration::builder()
                    .streaming_endpoint_arn(arn)
                    .build()
                    .unwrap(),
            )
    };

    // ClientToken at most 500 characters, on every operation that takes one.
    let typing = "application/vnd.amazonaws.connect.event.typing";
    let refusals = [
        refused(
            chat.p
                .send_message()
                .connection_token(&chat.token)
                .content_type("text/plain")
                .content("hi")
                .client_token(&long_token)
                .send()
                .await,
        ),
        refused(
            chat.p
                .send_event()
                .connection_token(&chat.token)
                .content_type(typing)
                .client_token(&long_token)
                .send()
                .await,
        ),
        refused(
            chat.p
                .start_attachment_upload()
                .connection_token(&chat.token)
                .content_type("image/png")
                .attachment_size_in_bytes(10)
                .attachment_name("a.png")
                .client_token(&long_token)
                .send()
                .await,
        ),
        refused(
            chat.p
                .complete_attachment_upload()
                .connection_token(&chat.token)
                .attachment_ids("a")
                .client_token(&long_token)
                .send()
                .await,
        ),
        refused(
            chat.p
                .disconnect_participant()
                .connection_token(&chat.token)
                .client_token(&long_token)
                .send()
                .await,
        ),
        refused(start_chat(&chat.cfg).client_token(&long_token).send().await),
        refused(streaming(TOPIC).client_token(&long_token).send().await),
    ];
    for refusal in refusals {
        assert_invalid(
            refusal,
            "clientToken",
            "Member must have length less than or equal to 500",
        );
    }

    // StreamingEndpointArn at most 350 characters.
    let long_arn = format!("{TOPIC}{}", "x".repeat(351 - TOPIC.len()));
    assert_invalid(
        refused(streaming(&long_arn).send().await),
        "chatStreamingConfiguration.streamingEndpointArn",
        "Member must have length less than or equal to 350",
    );

    // SendEvent.Content: 1 to 16,384 characters.
    let receipt = || {
        chat.p
            .send_event()
            .connection_token(&chat.token)
            .content_type("application/vnd.amazonaws.connect.event.message.read")
    };
    assert_invalid(
        refused(receipt().content("").send().await),
        "content",
        "Member must have length greater than or equal to 1",
    );
    assert_invalid(
        refused(receipt().content("x".repeat(16_385)).send().await),
        "content",
        "Member must have length less than or equal to 16384",
    );

    // Over-long and empty tokens are invalid input, not AccessDenied.
    let over_1000 = "Member must have length less than or equal to 1000";
    let long_bearer = chat
        .p
        .send_event()
        .connection_token("t".repeat(1001))
        .content_type(typing);
    assert_invalid(refused(long_bearer.send().await), "connectionToken", over_1000);
    let connection = chat
        .p
        .create_participant_connection()
        .r#type(ConnectionType::ConnectionCredentials);
    assert_invalid(
        refused(connection.participant_token("").send().await),
        "participantToken",
        "Member must have length greater than or equal to 1",
    );
    // Still valid: the chat was not touched by any refused call.
    chat.p
        .send_message()
        .connection_token(&chat.token)
        .content_type("text/plain")
        .content("still open")
        .send()
        .await
        .expect("the chat is still open");
    assert!(!chat.participant_token.is_empty());
}

#[tokio::test]
async fn patterns_must_match_the_whole_value() {
    let twin = twin().await;
    let cfg = sdk(&twin.url());
    let social = aws_sdk_socialmessaging::Client::new(&cfg);
    assert_invalid(
        refused(
            social
                .get_linked_whats_app_business_account()
                .id("102290129340398")
                .send()
                .await,
        ),
        "id",
        "Member must satisfy regular expression pattern",
    );
    let media = social
        .get_whats_app_message_media()
        .origination_phone_number_id("phone-number-id-976c72a700aac43eaf573ae050b1e2f3")
        .metadata_only(true);
    assert_invalid(
        refused(media.media_id("not/a-media-id").send().await),
        "mediaId",
        "Member must satisfy regular expression pattern: [A-Za-z0-9]+",
    );
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    assert_invalid(
        refused(lambda.invoke().function_name("Whatsapp Handler").send().await),
        "functionName",
        "Member must satisfy regular expression pattern",
    );
}

#[tokio::test]
async fn enum_values_are_checked() {
    let chat = Chat::open().await;
    let transcript = chat
        .p
        .get_transcript()
        .connection_token(&chat.token)
        .scan_direction(ScanDirection::from("SIDEWAYS"));
    assert_invalid(
        refused(transcript.send().await),
        "scanDirection",
        "Member must satisfy enum value set: [FORWARD, BACKWARD]",
    );
    let connection = chat
        .p
        .create_participant_connection()
        .participant_token(&chat.participant_token)
        .r#type(ConnectionType::from("TELEPATHY"));
    assert_invalid(
        refused(connection.send().await),
        "type.1.member",
        "Member must satisfy enum value set",
    );
    let lambda = aws_sdk_lambda::Client::new(&chat.cfg);
    let invoke = lambda
        .invoke()
        .function_name("WhatsappHandler")
        .invocation_type(aws_sdk_lambda::types::InvocationType::from("Later"));
    assert_invalid(
        refused(invoke.send().await),
        "invocationType",
        "Member must satisfy enum value set",
    );
}

#[tokio::test]
async fn numeric_ranges_are_checked() {
    let twin = twin().await;
    let cfg = sdk(&twin.url());
    let social = aws_sdk_socialmessaging::Client::new(&cfg);
    assert_invalid(
        refused(
            social
                .list_linked_whats_app_business_accounts()
                .max_results(0)
                .send()
                .await,
        ),
        "maxResults",
        "Member must have value greater than or equal to 1",
    );
    let start = start_chat(&cfg).chat_duration_in_minutes(10_081);
    assert_invalid(
        refused(start.send().await),
        "chatDurationInMinutes",
        "Member must have value less than or equal to 10080",
    );
    // Transcribe streaming's headers, with its modeled BadRequestException.
    let headers = [
        ("x-amzn-transcribe-media-encoding", "ogg-opus"),
        ("x-amzn-transcribe-sample-rate", "96000"),
        ("x-amzn-transcribe-language-code", "en-US"),
    ];
    let (status, code, body) = raw(&twin.url(), "/stream-transcription", &headers, "").await;
    assert_eq!((status, code.as_str()), (400, "BadRequestException"), "{body}");
    assert!(
        body["Message"].as_str().unwrap().contains("'mediaSampleRateHertz'"),
        "{body}"
    );
}

#[tokio::test]
async fn list_lengths_and_map_entries_are_checked() {
    let chat = Chat::open().await;
    let empty_type = chat
        .p
        .create_participant_connection()
        .participant_token(&chat.participant_token)
        .set_type(Some(Vec::new()))
        .connect_participant(true);
    assert_invalid(
        refused(empty_type.send().await),
        "type",
        "Member must have length greater than or equal to 1",
    );
    let two = chat
        .p
        .complete_attachment_upload()
        .connection_token(&chat.token)
        .attachment_ids("a")
        .attachment_ids("b")
        .client_token("c");
    assert_invalid(
        refused(two.send().await),
        "attachmentIds",
        "Member must have length less than or equal to 1",
    );
    // Each entry of a map is checked against the key's and the value's shapes.
    let start = start_chat(&chat.cfg).attributes("", "no name");
    assert_invalid(
        refused(start.send().await),
        "attributes.key",
        "Member must have length greater than or equal to 1",
    );
}

#[tokio::test]
async fn get_attachment_answers_an_unknown_id_with_a_modeled_error() {
    let chat = Chat::open().await;
    let err = chat
        .p
        .get_attachment()
        .connection_token(&chat.token)
        .attachment_id("8f3c2a71-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap_err();
    let service = err.as_service_error().expect("a service error");
    assert!(service.is_validation_exception(), "{service:?}");
}

#[tokio::test]
async fn error_bodies_use_each_services_message_member() {
    let twin = twin().await;
    let url = twin.url();
    let (status, _, body) = raw(&url, "/participant/disconnect", &[("x-amz-bearer", "unknown")], "{}").await;
    assert_eq!(status, 403);
    assert!(body["Message"].is_string() && body.get("message").is_none(), "{body}");
    let send = json!({ "originationPhoneNumberId": "phone-number-id-0", "message": "", "metaApiVersion": "v20.0" });
    let (status, _, body) = raw(&url, "/v1/whatsapp/send", &[], &send.to_string()).await;
    assert_eq!(status, 400);
    assert!(body["message"].is_string() && body.get("Message").is_none(), "{body}");
    let (status, _, body) = raw(&url, "/2015-03-31/functions/Other/invocations", &[], "{}").await;
    assert_eq!(status, 404);
    assert_eq!(
        (body["Message"].is_string(), &body["Type"]),
        (true, &json!("User")),
        "{body}"
    );
    // A Connect instance has no tags here, so DescribeInstance leaves `Tags` out (the model requires
    // at least one entry when it is present).
    let instance = aws_sdk_connect::Client::new(&sdk(&url))
        .describe_instance()
        .instance_id(TwinConfig::default().instance_id)
        .send()
        .await
        .expect("DescribeInstance");
    assert!(instance.instance().unwrap().tags().is_none());
}

/// Asserts that a raw request is refused as undeserializable, naming `member` when given.
async fn assert_unreadable(url: &str, request: &str, headers: &[(&str, &str)], body: &str, member: &str) {
    let (status, code, answer) = raw(url, request, headers, body).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "SerializationException"),
        "{request} {body}: {answer}"
    );
    let message = answer["Message"].as_str().or(answer["message"].as_str()).unwrap_or("");
    assert!(message.contains(member), "'{member}' in {answer}");
}

#[tokio::test]
async fn a_body_member_of_the_wrong_json_type_does_not_deserialize() {
    let twin = twin().await;
    let url = twin.url();
    let cfg = TwinConfig::default();
    let bearer = [("x-amz-bearer", "token")];
    // Connect: a string where the model has a structure.
    let mut start = json!({ "InstanceId": cfg.instance_id, "ContactFlowId": cfg.contact_flow_id,
        "ParticipantDetails": "Sheena" });
    assert_unreadable(
        &url,
        "PUT /contact/chat",
        &[],
        &start.to_string(),
        "'participantDetails'",
    )
    .await;
    start["ParticipantDetails"] = json!({ "DisplayName": "Sheena" });
    // Text, a fraction and a number beyond 32 bits where the model has an integer.
    for duration in [json!("60"), json!(60.5), json!(1_u64 << 40)] {
        start["ChatDurationInMinutes"] = duration;
        let body = start.to_string();
        assert_unreadable(&url, "PUT /contact/chat", &[], &body, "'chatDurationInMinutes'").await;
    }
    // Connect Participant: a number where the model has a string, a string where it has a list, a
    // null inside a list, an object where it has a boolean.
    let message = r#"{"ContentType":"text/plain","Content":5}"#;
    assert_unreadable(&url, "/participant/message", &bearer, message, "'content'").await;
    let connection = r#"{"Type":"WEBSOCKET"}"#;
    assert_unreadable(&url, "/participant/connection", &bearer, connection, "'type'").await;
    let complete = r#"{"AttachmentIds":[null],"ClientToken":"c"}"#;
    assert_unreadable(
        &url,
        "/participant/complete-attachment-upload",
        &bearer,
        complete,
        "'attachmentIds.1.member'",
    )
    .await;
    let connection = r#"{"Type":["WEBSOCKET"],"ConnectParticipant":{}}"#;
    assert_unreadable(
        &url,
        "/participant/connection",
        &bearer,
        connection,
        "'connectParticipant'",
    )
    .await;
    // End User Messaging Social: an object, then text that is not base64, where the model has a blob;
    // a string where it has a boolean (an operation served outside the table).
    let mut send = json!({ "originationPhoneNumberId": "phone-number-id-0", "message": { "text": "hi" },
        "metaApiVersion": "v20.0" });
    assert_unreadable(&url, "/v1/whatsapp/send", &[], &send.to_string(), "'message'").await;
    send["message"] = json!("not base64!");
    assert_unreadable(&url, "/v1/whatsapp/send", &[], &send.to_string(), "'message'").await;
    let media = json!({ "originationPhoneNumberId": "phone-number-id-0", "mediaId": "1234",
        "metadataOnly": "true" });
    assert_unreadable(
        &url,
        "/v1/whatsapp/media/get",
        &[],
        &media.to_string(),
        "'metadataOnly'",
    )
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_does_not_deserialize() {
    let twin = twin().await;
    let url = twin.url();
    let bearer = [("x-amz-bearer", "token")];
    for (request, headers) in [
        ("PUT /contact/chat", &[][..]),
        ("/contact/stop", &[]),
        ("/participant/message", &bearer),
        ("/participant/connection", &bearer),
        ("/v1/whatsapp/send", &[]),
        ("/v1/whatsapp/media", &[]),
    ] {
        for body in [r#"{"ContentType":"#, "[]", r#""text""#] {
            assert_unreadable(&url, request, headers, body, "").await;
        }
    }
}

/// StartStreamTranscription's headers: `media-encoding=ogg-opus sample-rate=16000` and the given
/// `name=value` pairs (short names, without `x-amzn-transcribe-`), which replace those.
fn transcribe_headers(given: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for pair in format!("media-encoding=ogg-opus sample-rate=16000 {given}").split_whitespace() {
        let (name, value) = pair.split_once('=').expect("name=value");
        let name = format!("x-amzn-transcribe-{name}");
        headers.retain(|(n, _)| *n != name);
        headers.push((name, value.to_owned()));
    }
    headers
}

#[tokio::test]
async fn every_modeled_transcribe_header_and_the_rules_between_them_are_checked() {
    let twin = twin().await;
    let url = twin.url();
    let refused = [
        ("language-code=en-US sample-rate=7999", "'mediaSampleRateHertz'"),
        (
            "language-code=en-US sample-rate=16k",
            "'mediaSampleRateHertz' failed to satisfy constraint: Member must be an integer",
        ),
        ("language-code=en-US media-encoding=mp3", "'mediaEncoding'"),
        ("language-code=xx-XX", "'languageCode'"),
        ("language-code=en-US vocabulary-name=my+vocabulary", "'vocabularyName'"),
        ("language-code=en-US vocabulary-filter-name=", "'vocabularyFilterName'"),
        (
            "language-code=en-US vocabulary-filter-method=hide",
            "'vocabularyFilterMethod'",
        ),
        ("language-code=en-US language-model-name=", "'languageModelName'"),
        ("language-code=en-US session-id=session-1", "'sessionId'"),
        ("language-code=en-US show-speaker-label=yes", "'showSpeakerLabel'"),
        (
            "language-code=en-US partial-results-stability=max",
            "'partialResultsStability'",
        ),
        (
            "language-code=en-US content-redaction-type=ALL",
            "'contentRedactionType'",
        ),
        (
            "language-code=en-US content-identification-type=ALL",
            "'contentIdentificationType'",
        ),
        ("language-code=en-US pii-entity-types=name", "'piiEntityTypes'"),
        ("language-code=en-US number-of-channels=1", "'numberOfChannels'"),
        (
            "identify-multiple-languages=true language-options=en-US,es-US vocabulary-names=a+b",
            "'vocabularyNames'",
        ),
        (
            "identify-multiple-languages=true language-options=en-US,es-US vocabulary-filter-names=a+b",
            "'vocabularyFilterNames'",
        ),
        // The rules between members.
        ("", "exactly one of LanguageCode"),
        (
            "language-code=en-US identify-language=true",
            "exactly one of LanguageCode",
        ),
        ("identify-language=true", "two to five LanguageOptions"),
        (
            "identify-language=true language-options=en-US,es-US,fr-FR,de-DE,it-IT,ja-JP",
            "two to five LanguageOptions",
        ),
        (
            "identify-language=true language-options=en-US,en-GB",
            "one dialect per language",
        ),
        (
            "identify-language=true language-options=en-US,es-US preferred-language=fr-FR",
            "must be one of the LanguageOptions",
        ),
        (
            "identify-multiple-languages=true language-options=en-US,es-US preferred-language=en-US",
            "PreferredLanguage needs IdentifyLanguage",
        ),
        (
            "identify-language=true language-options=en-US,es-US language-model-name=model",
            "custom language model",
        ),
        (
            "language-code=en-US content-identification-type=PII content-redaction-type=PII",
            "not both",
        ),
        ("language-code=en-US pii-entity-types=NAME", "PiiEntityTypes needs"),
        ("language-code=en-US number-of-channels=2", "NumberOfChannels needs"),
        (
            "language-code=en-US enable-channel-identification=true",
            "needs NumberOfChannels",
        ),
        (
            "language-code=en-US enable-channel-identification=true number-of-channels=3",
            "must be 2",
        ),
    ];
    for (given, expected) in refused {
        let headers = transcribe_headers(given);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, code, body) = raw(&url, "/stream-transcription", &headers, "").await;
        assert_eq!((status, code.as_str()), (400, "BadRequestException"), "{given}: {body}");
        let message = body["Message"].as_str().unwrap_or("");
        assert!(message.contains(expected), "{expected} for {given} in {message}");
    }
    for given in [
        "language-code=en-US",
        "language-code=en-US media-encoding=g711-ulaw sample-rate=8000",
        "identify-language=true language-options=en-US,es-US preferred-language=es-US",
        "language-code=en-US content-redaction-type=PII pii-entity-types=NAME,PHONE",
        "language-code=en-US enable-channel-identification=true number-of-channels=2",
        "language-code=en-US vocabulary-name=products session-id=0f8fad5b-d9cb-469f-a165-70867728950e",
    ] {
        let headers = transcribe_headers(given);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, _, body) = raw(&url, "/stream-transcription", &headers, "").await;
        assert_ne!(status, 400, "{given}: {body}");
    }
}

#[tokio::test]
async fn create_participant_is_checked_against_its_model() {
    use aws_sdk_connect::types::{ParticipantDetailsToAdd, ParticipantRole};
    let chat = Chat::open().await;
    let twin_cfg = TwinConfig::default();
    let c = aws_sdk_connect::Client::new(&chat.cfg);
    let bot = |role: &str, name: &str| {
        c.create_participant()
            .instance_id(&twin_cfg.instance_id)
            .contact_id(&chat.contact)
            .participant_details(
                ParticipantDetailsToAdd::builder()
                    .participant_role(ParticipantRole::from(role))
                    .display_name(name)
                    .build(),
            )
    };
    let details = "participantDetails.displayName";
    assert_invalid(
        refused(bot("CUSTOM_BOT", "").send().await),
        details,
        "Member must have length greater than or equal to 1",
    );
    assert_invalid(
        refused(bot("CUSTOM_BOT", &"b".repeat(257)).send().await),
        details,
        "Member must have length less than or equal to 256",
    );
    assert_invalid(
        refused(bot("ROBOT", "Helper").send().await),
        "participantDetails.participantRole",
        "Member must satisfy enum value set",
    );
    assert_invalid(
        refused(bot("CUSTOM_BOT", "Helper").client_token("t".repeat(501)).send().await),
        "clientToken",
        "Member must have length less than or equal to 500",
    );
    assert_invalid(
        refused(bot("CUSTOM_BOT", "Helper").contact_id("c".repeat(257)).send().await),
        "contactId",
        "Member must have length less than or equal to 256",
    );
    let no_details = json!({ "InstanceId": twin_cfg.instance_id, "ContactId": chat.contact });
    let (status, code, body) = raw(
        &chat._twin.url(),
        "/contact/create-participant",
        &[],
        &no_details.to_string(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "ValidationException"), "{body}");
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .contains("'participantDetails' failed to satisfy constraint: Member must not be null"),
        "{body}"
    );
    // At the limits, the request is the simulation's to judge: 256 characters are a name.
    bot("CUSTOM_BOT", &"é".repeat(256))
        .send()
        .await
        .expect("a 256-character DisplayName is accepted");
}
