//! The real aws-sdk-rust clients against the twin's wire protocol (no handlers, no moto):
//! request/response shapes, idempotency, validation, typed errors and fault injection.

use std::time::Duration;

use aws_sdk_connect::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_connect::types::{
    ChatStreamingConfiguration, ParticipantDetails, ParticipantDetailsToAdd, ParticipantRole,
};
use aws_sdk_connectparticipant::types::ConnectionType;
use aws_sdk_socialmessaging::primitives::Blob;
use local_aws::{Twin, TwinConfig, TwinOptions};
use serde_json::{Value, json};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:connect-chat-stream";
const PHONE: &str = "phone-number-id-976c72a700aac43eaf573ae050b1e2f3";

async fn twin() -> Twin {
    Twin::start(TwinConfig::default(), TwinOptions::quiet())
        .await
        .expect("twin starts")
}

fn creds() -> Credentials {
    Credentials::new("test", "test", None, None, "test")
}

fn connect(url: &str) -> aws_sdk_connect::Client {
    aws_sdk_connect::Client::from_conf(
        aws_sdk_connect::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(creds())
            .retry_config(aws_sdk_connect::config::retry::RetryConfig::disabled())
            .build(),
    )
}

fn participant(url: &str) -> aws_sdk_connectparticipant::Client {
    aws_sdk_connectparticipant::Client::from_conf(
        aws_sdk_connectparticipant::Config::builder()
            .behavior_version(aws_sdk_connectparticipant::config::BehaviorVersion::latest())
            .region(aws_sdk_connectparticipant::config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_connectparticipant::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(aws_sdk_connectparticipant::config::retry::RetryConfig::disabled())
            .build(),
    )
}

fn social(url: &str) -> aws_sdk_socialmessaging::Client {
    aws_sdk_socialmessaging::Client::from_conf(
        aws_sdk_socialmessaging::Config::builder()
            .behavior_version(aws_sdk_socialmessaging::config::BehaviorVersion::latest())
            .region(aws_sdk_socialmessaging::config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_socialmessaging::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(aws_sdk_socialmessaging::config::retry::RetryConfig::disabled())
            .build(),
    )
}

async fn control(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::new();
    let mut req = client.request(method, format!("{url}/_twin{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control call");
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

async fn post(url: &str, path: &str, body: Value) -> Value {
    control(url, reqwest::Method::POST, path, Some(body)).await
}

async fn get(url: &str, path: &str) -> Value {
    control(url, reqwest::Method::GET, path, None).await
}

/// StartChatContact + StartContactStreaming + CreateParticipantConnection; returns
/// (contact id, connection token).
async fn open_chat(url: &str, client_token: Option<&str>) -> (String, String) {
    let cfg = TwinConfig::default();
    let c = connect(url);
    let started = c
        .start_chat_contact()
        .instance_id(&cfg.instance_id)
        .contact_flow_id(&cfg.contact_flow_id)
        .participant_details(ParticipantDetails::builder().display_name("Sheena").build().unwrap())
        .attributes("Channel", "WHATSAPP")
        .supported_messaging_content_types("text/plain")
        .supported_messaging_content_types("text/markdown")
        .set_client_token(client_token.map(str::to_owned))
        .send()
        .await
        .expect("StartChatContact");
    let contact = started.contact_id().unwrap().to_owned();
    let streaming = c
        .start_contact_streaming()
        .instance_id(&cfg.instance_id)
        .contact_id(&contact)
        .chat_streaming_configuration(
            ChatStreamingConfiguration::builder()
                .streaming_endpoint_arn(TOPIC)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("StartContactStreaming");
    assert!(!streaming.streaming_id().is_empty());
    let conn = participant(url)
        .create_participant_connection()
        .participant_token(started.participant_token().unwrap())
        .r#type(ConnectionType::ConnectionCredentials)
        .connect_participant(true)
        .send()
        .await
        .expect("CreateParticipantConnection");
    let creds = conn.connection_credentials().unwrap();
    assert!(creds.expiry().unwrap().ends_with('Z'));
    (contact, creds.connection_token().unwrap().to_owned())
}

#[tokio::test]
async fn chat_lifecycle_with_the_real_sdk() {
    let twin = twin().await;
    let url = twin.url();
    let cfg = TwinConfig::default();

    // ClientToken idempotency of StartChatContact.
    let first = connect(&url)
        .start_chat_contact()
        .instance_id(&cfg.instance_id)
        .contact_flow_id(&cfg.contact_flow_id)
        .participant_details(ParticipantDetails::builder().display_name("A").build().unwrap())
        .client_token("same-token")
        .send()
        .await
        .unwrap();
    let again = connect(&url)
        .start_chat_contact()
        .instance_id(&cfg.instance_id)
        .contact_flow_id(&cfg.contact_flow_id)
        .participant_details(ParticipantDetails::builder().display_name("A").build().unwrap())
        .client_token("same-token")
        .send()
        .await
        .unwrap();
    assert_eq!(first.contact_id(), again.contact_id());
    assert_eq!(first.participant_token(), again.participant_token());

    let (contact, token) = open_chat(&url, None).await;
    let p = participant(&url);

    // SendMessage + ClientToken replay: one transcript item.
    let sent = p
        .send_message()
        .connection_token(&token)
        .content_type("text/plain")
        .content("hello")
        .client_token("m-1")
        .send()
        .await
        .unwrap();
    let replay = p
        .send_message()
        .connection_token(&token)
        .content_type("text/plain")
        .content("hello")
        .client_token("m-1")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.id(), replay.id());

    // Content type must be one of the contact's supported types.
    let err = p
        .send_message()
        .connection_token(&token)
        .content_type("application/json")
        .content("{}")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_validation_exception(), "{err:?}");

    // Size limit of text: 1024 characters pass (however many bytes), one more fails.
    p.send_message()
        .connection_token(&token)
        .content_type("text/markdown")
        .content("é".repeat(1024))
        .send()
        .await
        .unwrap();
    let err = p
        .send_message()
        .connection_token(&token)
        .content_type("text/plain")
        .content("x".repeat(1025))
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_validation_exception());

    // Receipts land on the target item; typing is an EVENT item.
    p.send_event()
        .connection_token(&token)
        .content_type("application/vnd.amazonaws.connect.event.message.read")
        .content(json!({ "messageId": sent.id().unwrap() }).to_string())
        .send()
        .await
        .unwrap();

    let transcript = p.get_transcript().connection_token(&token).send().await.unwrap();
    let items = transcript.transcript();
    assert_eq!(transcript.initial_contact_id(), Some(contact.as_str()));
    let kinds: Vec<&str> = items.iter().map(|i| i.content_type().unwrap()).collect();
    assert_eq!(
        kinds,
        vec![
            "application/vnd.amazonaws.connect.event.participant.joined",
            "text/plain",
            "text/plain",
            "text/markdown"
        ]
    );
    assert_eq!(items[1].display_name(), Some("SYSTEM_MESSAGE"));
    let receipts = items[2].message_metadata().unwrap().receipts();
    assert!(receipts[0].read_timestamp().is_some());

    // Everything was streamed to the configured topic, in order.
    let published = get(&url, "/sns/published").await;
    let streamed: Vec<&Value> = published
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["message"]["ContactId"] == contact.as_str())
        .collect();
    assert_eq!(streamed.len(), 4);
    assert_eq!(streamed[0]["subscriber"], "ConnectHandler");
    assert_eq!(streamed[2]["message"]["Content"], "hello");
    assert_eq!(streamed[2]["attributes"]["ParticipantRole"]["Value"], "CUSTOMER");

    // The agent joins and ends the chat: tokens stop working.
    let out = post(
        &url,
        &format!("/contacts/{contact}/agent"),
        json!({"action":"join","display_name":"Ana"}),
    )
    .await;
    assert_eq!(out["items"].as_array().unwrap().len(), 1);
    let out = post(&url, &format!("/contacts/{contact}/agent"), json!({"action":"end"})).await;
    assert_eq!(out["items"].as_array().unwrap().len(), 2);
    let err = p
        .send_message()
        .connection_token(&token)
        .content_type("text/plain")
        .content("still there?")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_access_denied_exception(), "{err:?}");
    let contacts = get(&url, "/contacts").await;
    let c = contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact_id"] == contact.as_str())
        .unwrap();
    assert_eq!(c["state"], "ended");
    assert_eq!(c["attributes"]["Channel"], "WHATSAPP");
    let last = c["transcript"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["content_type"],
        "application/vnd.amazonaws.connect.event.chat.ended"
    );

    // Unknown ids.
    let err = connect(&url)
        .start_chat_contact()
        .instance_id("00000000-0000-0000-0000-000000000000")
        .contact_flow_id(&cfg.contact_flow_id)
        .participant_details(ParticipantDetails::builder().display_name("A").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_resource_not_found_exception());
    let err = connect(&url)
        .stop_contact()
        .instance_id(&cfg.instance_id)
        .contact_id(&contact)
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_contact_not_found_exception());

    let calls = get(&url, "/calls").await;
    assert!(
        calls
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["operation"] == "SendMessage" && c["status"] == 400 && c["error"] == "ValidationException")
    );
}

#[tokio::test]
async fn customer_disconnect_and_stop_contact() {
    let twin = twin().await;
    let url = twin.url();
    let (contact, token) = open_chat(&url, None).await;
    participant(&url)
        .disconnect_participant()
        .connection_token(&token)
        .send()
        .await
        .unwrap();
    let err = participant(&url)
        .get_transcript()
        .connection_token(&token)
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_access_denied_exception());
    let contacts = get(&url, "/contacts").await;
    assert_eq!(contacts[0]["contact_id"], contact.as_str());
    assert_eq!(contacts[0]["state"], "ended");

    let (contact2, _) = open_chat(&url, None).await;
    connect(&url)
        .stop_contact()
        .instance_id(TwinConfig::default().instance_id)
        .contact_id(&contact2)
        .send()
        .await
        .unwrap();
    let contacts = get(&url, "/contacts").await;
    assert_eq!(contacts[1]["state"], "ended");
}

#[tokio::test]
async fn faults_surface_as_typed_sdk_errors() {
    let twin = twin().await;
    let url = twin.url();
    let (_, token) = open_chat(&url, None).await;
    let p = participant(&url);
    let send = || {
        p.send_message()
            .connection_token(&token)
            .content_type("text/plain")
            .content("hi")
            .send()
    };

    post(
        &url,
        "/faults",
        json!({"service":"connectparticipant","operation":"SendMessage","error":"ThrottlingException","times":1}),
    )
    .await;
    let err = send().await.unwrap_err();
    let service_err = err.as_service_error().unwrap();
    assert!(service_err.is_throttling_exception(), "{err:?}");
    assert!(send().await.is_ok(), "the fault fired once");

    post(
        &url,
        "/faults",
        json!({"service":"connectparticipant","operation":"*","error":"InternalServerException","times":1}),
    )
    .await;
    let err = send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_internal_server_exception());
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 500);

    // Dropped connection: the SDK sees a transport failure, not a service error.
    post(
        &url,
        "/faults",
        json!({"service":"connectparticipant","operation":"SendMessage","drop_connection":true,"times":1}),
    )
    .await;
    let err = send().await.unwrap_err();
    assert!(err.as_service_error().is_none(), "{err:?}");

    // Latency.
    post(
        &url,
        "/faults",
        json!({"service":"connectparticipant","operation":"SendMessage","latency_ms":300,"times":1}),
    )
    .await;
    let t = std::time::Instant::now();
    send().await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));

    // ExpiredToken: the connection token expires for good.
    post(
        &url,
        "/faults",
        json!({"service":"connectparticipant","operation":"SendMessage","error":"ExpiredToken","times":1}),
    )
    .await;
    let err = send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_access_denied_exception());
    let err = send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_access_denied_exception());

    // Throttling on Connect (not modelled for StartChatContact): surfaces by code.
    post(
        &url,
        "/faults",
        json!({"service":"connect","operation":"StartChatContact","error":"ThrottlingException","times":1}),
    )
    .await;
    let cfg = TwinConfig::default();
    let err = connect(&url)
        .start_chat_contact()
        .instance_id(&cfg.instance_id)
        .contact_flow_id(&cfg.contact_flow_id)
        .participant_details(ParticipantDetails::builder().display_name("A").build().unwrap())
        .send()
        .await
        .unwrap_err();
    use aws_sdk_connect::error::ProvideErrorMetadata;
    assert_eq!(err.code(), Some("ThrottlingException"));

    control(&url, reqwest::Method::DELETE, "/faults", None).await;
    assert_eq!(get(&url, "/faults").await, json!([]));
}

#[tokio::test]
async fn retrying_sdk_client_recovers_from_one_throttle() {
    let twin = twin().await;
    let url = twin.url();
    let (_, token) = open_chat(&url, None).await;
    post(
        &url,
        "/faults",
        json!({"service":"connectparticipant","operation":"SendMessage","error":"ThrottlingException","times":1}),
    )
    .await;
    let retrying = aws_sdk_connectparticipant::Client::from_conf(
        aws_sdk_connectparticipant::Config::builder()
            .behavior_version(aws_sdk_connectparticipant::config::BehaviorVersion::latest())
            .region(aws_sdk_connectparticipant::config::Region::new("us-east-1"))
            .endpoint_url(&url)
            .credentials_provider(aws_sdk_connectparticipant::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(
                aws_sdk_connectparticipant::config::retry::RetryConfig::standard()
                    .with_initial_backoff(Duration::from_millis(10)),
            )
            .build(),
    );
    retrying
        .send_message()
        .connection_token(&token)
        .content_type("text/plain")
        .content("hi")
        .send()
        .await
        .expect("second attempt succeeds");
    let calls = get(&url, "/calls").await;
    let statuses: Vec<i64> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"] == "SendMessage")
        .map(|c| c["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, vec![429, 200]);
}

#[tokio::test]
async fn send_whatsapp_message_validation() {
    let twin = twin().await;
    let url = twin.url();
    let s = social(&url);
    let msg = json!({"messaging_product":"whatsapp","to":"+16505551234","type":"text","text":{"body":"hola"}});
    let out = s
        .send_whats_app_message()
        .origination_phone_number_id(PHONE)
        .meta_api_version("v20.0")
        .message(Blob::new(msg.to_string()))
        .send()
        .await
        .unwrap();
    assert!(!out.message_id().unwrap().is_empty());
    let arn = "arn:aws:social-messaging:us-east-1:123456789012:phone-number-id/976c72a700aac43eaf573ae050b1e2f3";
    s.send_whats_app_message()
        .origination_phone_number_id(arn)
        .meta_api_version("v24")
        .message(Blob::new(msg.to_string()))
        .send()
        .await
        .unwrap();

    let bad = [
        ("phone-number-id-00000000000000000000000000000000", "v20.0", msg.clone()),
        (PHONE, "20.0", msg.clone()),
        (PHONE, "v20.0", json!({"to":"1","type":"text"})),
    ];
    for (origination, version, body) in bad {
        let err = s
            .send_whats_app_message()
            .origination_phone_number_id(origination)
            .meta_api_version(version)
            .message(Blob::new(body.to_string()))
            .send()
            .await
            .unwrap_err();
        assert!(err.as_service_error().unwrap().is_validation_exception(), "{err:?}");
    }

    let sent = get(&url, "/whatsapp/sent").await;
    assert_eq!(sent.as_array().unwrap().len(), 2);
    assert_eq!(sent[0]["message"]["text"]["body"], "hola");
    assert_eq!(sent[0]["origination_phone_number_id"], PHONE);
    assert_eq!(sent[0]["message_id"], out.message_id().unwrap());

    post(&url, "/reset", json!({})).await;
    assert_eq!(get(&url, "/whatsapp/sent").await, json!([]));
    assert_eq!(get(&url, "/calls").await, json!([]));
}

/// CreateParticipant of a CUSTOM_BOT named "Helper" on `contact`.
fn create_bot(
    url: &str,
    contact: &str,
) -> aws_sdk_connect::operation::create_participant::builders::CreateParticipantFluentBuilder {
    connect(url)
        .create_participant()
        .instance_id(TwinConfig::default().instance_id)
        .contact_id(contact)
        .participant_details(
            ParticipantDetailsToAdd::builder()
                .participant_role(ParticipantRole::CustomBot)
                .display_name("Helper")
                .build(),
        )
}

/// The bot's CreateParticipantConnection (ConnectParticipant, as the admin guide asks); returns
/// its connection token.
async fn connect_bot(url: &str, participant_token: &str) -> String {
    participant(url)
        .create_participant_connection()
        .participant_token(participant_token)
        .r#type(ConnectionType::ConnectionCredentials)
        .connect_participant(true)
        .send()
        .await
        .expect("the bot's CreateParticipantConnection")
        .connection_credentials()
        .and_then(|c| c.connection_token())
        .unwrap()
        .to_owned()
}

/// What was streamed for `contact`: (ContentType, ParticipantRole attribute, DisplayName, Content).
async fn streamed(url: &str, contact: &str) -> Vec<(String, String, String, String)> {
    let published = get(url, "/sns/published").await;
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    published
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["message"]["ContactId"] == contact)
        .map(|p| {
            let m = &p["message"];
            (
                text(&m["ContentType"]),
                text(&p["attributes"]["ParticipantRole"]["Value"]),
                text(&m["DisplayName"]),
                text(&m["Content"]),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_custom_bot_speaks_in_the_chat_as_connect_streams_it() {
    let twin = twin().await;
    let url = twin.url();
    let (contact, customer) = open_chat(&url, None).await;
    let before = streamed(&url, &contact).await.len();

    let created = create_bot(&url, &contact).client_token("bot-1").send().await.unwrap();
    let again = create_bot(&url, &contact).client_token("bot-1").send().await.unwrap();
    assert_eq!(created.participant_id(), again.participant_id());
    let credentials = created.participant_credentials().unwrap();
    assert_eq!(
        credentials.participant_token(),
        again.participant_credentials().unwrap().participant_token()
    );
    assert!(credentials.expiry().unwrap().ends_with('Z'));
    let err = create_bot(&url, &contact)
        .client_token("bot-2")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().unwrap().is_service_quota_exceeded_exception(),
        "one custom bot at a time: {err:?}"
    );

    let bot = connect_bot(&url, credentials.participant_token().unwrap()).await;
    let p = participant(&url);
    for text in ["Hola, soy el asistente", "Le paso con un agente"] {
        p.send_message()
            .connection_token(&bot)
            .content_type("text/plain")
            .content(text)
            .send()
            .await
            .unwrap();
    }

    // Both sides read the bot's messages in the transcript.
    for token in [&bot, &customer] {
        let transcript = p.get_transcript().connection_token(token).send().await.unwrap();
        let said: Vec<(Option<&str>, Option<&str>)> = transcript
            .transcript()
            .iter()
            .filter(|i| i.participant_role() == Some(&aws_sdk_connectparticipant::types::ParticipantRole::CustomBot))
            .map(|i| (i.display_name(), i.content()))
            .collect();
        assert_eq!(
            said,
            [
                (Some("Helper"), None),
                (Some("Helper"), Some("Hola, soy el asistente")),
                (Some("Helper"), Some("Le paso con un agente")),
            ]
        );
    }

    // A bot may not read attachments: Connect answers AccessDenied before looking the id up.
    let err = p
        .get_attachment()
        .connection_token(&bot)
        .attachment_id("any")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_access_denied_exception(), "{err:?}");

    // The bot leaves; the customer's chat goes on.
    p.disconnect_participant().connection_token(&bot).send().await.unwrap();
    p.send_message()
        .connection_token(&customer)
        .content_type("text/plain")
        .content("gracias")
        .send()
        .await
        .expect("the chat outlives its bot");

    let bot_role = |ct: &str, content: &str| {
        (
            ct.to_owned(),
            "CUSTOM_BOT".to_owned(),
            "Helper".to_owned(),
            content.to_owned(),
        )
    };
    let after = streamed(&url, &contact).await.split_off(before);
    assert_eq!(
        after,
        [
            bot_role("application/vnd.amazonaws.connect.event.participant.joined", ""),
            bot_role("text/plain", "Hola, soy el asistente"),
            bot_role("text/plain", "Le paso con un agente"),
            bot_role("application/vnd.amazonaws.connect.event.participant.left", ""),
            (
                "text/plain".to_owned(),
                "CUSTOMER".to_owned(),
                "Sheena".to_owned(),
                "gracias".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn connect_refuses_a_custom_bot_where_the_docs_say_so() {
    let twin = twin().await;
    let url = twin.url();
    let (contact, customer) = open_chat(&url, None).await;

    // Only CUSTOM_BOT is added to a chat this way; DisplayName is required.
    let err = create_bot(&url, &contact)
        .participant_details(
            ParticipantDetailsToAdd::builder()
                .participant_role(ParticipantRole::Agent)
                .display_name("Ana")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().unwrap().is_invalid_request_exception(),
        "{err:?}"
    );
    let err = create_bot(&url, &contact)
        .participant_details(
            ParticipantDetailsToAdd::builder()
                .participant_role(ParticipantRole::CustomBot)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().unwrap().is_invalid_request_exception(),
        "{err:?}"
    );
    let err = create_bot(&url, "00000000-0000-0000-0000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().unwrap().is_resource_not_found_exception(),
        "{err:?}"
    );

    // An agent joining disconnects the bot, and no bot is added while the agent is there.
    let created = create_bot(&url, &contact).send().await.unwrap();
    let bot = connect_bot(
        &url,
        created.participant_credentials().unwrap().participant_token().unwrap(),
    )
    .await;
    let before = streamed(&url, &contact).await.len();
    let out = post(
        &url,
        &format!("/contacts/{contact}/agent"),
        json!({"action":"join","display_name":"Ana"}),
    )
    .await;
    assert_eq!(out["items"].as_array().unwrap().len(), 2);
    let roles: Vec<(String, String)> = streamed(&url, &contact)
        .await
        .split_off(before)
        .into_iter()
        .map(|(ct, role, ..)| (ct, role))
        .collect();
    assert_eq!(
        roles,
        [
            (
                "application/vnd.amazonaws.connect.event.participant.joined".to_owned(),
                "AGENT".to_owned()
            ),
            (
                "application/vnd.amazonaws.connect.event.participant.left".to_owned(),
                "CUSTOM_BOT".to_owned()
            ),
        ]
    );
    let err = participant(&url)
        .send_message()
        .connection_token(&bot)
        .content_type("text/plain")
        .content("still here?")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_access_denied_exception(), "{err:?}");
    let err = create_bot(&url, &contact).send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_conflict_exception(), "{err:?}");

    // Once the contact has ended, no bot.
    participant(&url)
        .disconnect_participant()
        .connection_token(&customer)
        .send()
        .await
        .unwrap();
    let err = create_bot(&url, &contact).send().await.unwrap_err();
    assert!(
        err.as_service_error().unwrap().is_invalid_request_exception(),
        "{err:?}"
    );
}
