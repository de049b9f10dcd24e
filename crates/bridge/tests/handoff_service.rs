//! The Handoff API's service (`HandoffService`) on the in-memory fakes, through its requests as API
//! Gateway hands them over: the agent reads the bot's conversation in order; a retried create makes no
//! second chat and says nothing twice, even when the first attempt died half-way; a key reused for
//! another request, another client's handoff and a bad request change nothing; the bot's messages go
//! in once per `client_message_id`; an ended handoff refuses them; a start Connect refuses fails the
//! handoff; a transfer moves a queued handoff once however often asked, and never an agent's chat.

use bridge::fakes::{FakeAttachments, FakeConnect, FakeDeliveryQueue, FakeHandoffStore, FakeWebFiles, Fault, Speaker};
use bridge::handoff::context::RetellLimits;
use bridge::handoff::request::{HandoffId, RawRequest};
use bridge::handoff::service::{ApiResponse, HandoffPorts, HandoffService, HandoffSettings};
use bridge::handoff::store::HandoffStore;
use bridge::rich::split::Limit;
use bridge::rich::text::Unit;
use serde_json::{Value, json};

const CLIENT: &str = "acme-bot";

struct Api {
    store: FakeHandoffStore,
    connect: FakeConnect,
    queue: FakeDeliveryQueue,
    attachments: FakeAttachments,
    files: FakeWebFiles,
    service:
        HandoffService<FakeHandoffStore, FakeConnect, FakeConnect, FakeDeliveryQueue, FakeAttachments, FakeWebFiles>,
}

impl Api {
    fn new() -> Self {
        let (store, connect) = (FakeHandoffStore::default(), FakeConnect::default());
        let settings = HandoffSettings {
            contact_flow_id: "handoff-flow".into(),
            bot_name: "Acme assistant".into(),
            retell: RetellLimits::default(),
            text_limit: Limit::new(1024, Unit::Chars),
            loopback_file_urls: false,
        };
        let queue = FakeDeliveryQueue::default();
        let (attachments, files) = (FakeAttachments::default(), FakeWebFiles::default());
        let ports = HandoffPorts {
            store: store.clone(),
            center: connect.clone(),
            participant: connect.clone(),
            queue: queue.clone(),
            attachments: attachments.clone(),
            files: files.clone(),
        };
        let service = HandoffService::new(ports, settings);
        Self {
            store,
            connect,
            queue,
            attachments,
            files,
            service,
        }
    }

    async fn call(&self, client: &str, method: &str, path: &str, key: Option<&str>, body: &Value) -> ApiResponse {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let raw = RawRequest {
            method,
            path,
            query: &[],
            content_type: Some("application/json"),
            idempotency_key: key,
            body: body.as_bytes(),
        };
        self.service.handle(client, raw).await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> ApiResponse {
        let raw = RawRequest {
            method: "GET",
            path,
            query,
            content_type: None,
            idempotency_key: None,
            body: b"",
        };
        self.service.handle(CLIENT, raw).await
    }

    async fn create(&self, key: &str, body: &Value) -> ApiResponse {
        self.call(CLIENT, "POST", "/v1/handoffs", Some(key), body).await
    }

    /// Creates a handoff; its id.
    async fn handed_off(&self) -> String {
        let created = self.create("key-1", &handoff()).await;
        assert_eq!(created.status, 202, "{created:?}");
        json_of(&created)["handoff_id"].as_str().unwrap().to_owned()
    }

    /// The events handoff `id` owes the bot: sequence and type.
    fn owed(&self, id: &str) -> Vec<(u64, String)> {
        let id = HandoffId::parse(id).unwrap();
        self.store
            .events(&id)
            .into_iter()
            .map(|(sequence, envelope)| (sequence, envelope.kind.type_name().to_owned()))
            .collect()
    }

    /// The next kick of a delivery fails as SQS throttling it would.
    fn kick_fails_once(&self) {
        use bridge::error::{FailureKind, PortError};
        let throttled = PortError::new(FailureKind::Transient, "SendMessage", "ThrottlingException");
        self.queue.faults().next("kick", Fault::Fail(throttled));
    }

    /// How many times the delivery of handoff `id` was kicked.
    fn kicks(&self, id: &str) -> usize {
        self.queue
            .kicks()
            .iter()
            .filter(|(kicked, _)| kicked.as_str() == id)
            .count()
    }

    /// What the bridge's participants said in the one chat, in order.
    fn said(&self) -> Vec<(Speaker, String)> {
        let chats = self.connect.chats();
        assert_eq!(chats.len(), 1, "one chat");
        chats[0].said.clone()
    }
}

fn json_of(response: &ApiResponse) -> Value {
    serde_json::from_str(response.body.as_deref().unwrap_or("null")).unwrap()
}

fn said(source: &str, text: &str) -> Value {
    json!({"source": {"type": source}, "type": "text", "payload": {"text": text}})
}

fn handoff() -> Value {
    json!({
        "external_conversation_id": "conv-42",
        "user": {"id": "u-1", "name": "Ana Souza"},
        "title": "Refund request",
        "description": "Asks for a refund the bot cannot grant",
        "message_history": [said("user", "I want my money back"), said("bot", "I can't do refunds"),
                            said("user", "Then a human, please")],
        "routing": {"queue_id": "8f2c3c5e-1d5b-4c1e-9a3f-2b7d6e5f4a3c", "priority": 2,
                    "attributes": {"Tier": "gold"}},
    })
}

fn message(id: &str, text: &str) -> Value {
    json!({"client_message_id": id, "type": "text", "text": text})
}

#[tokio::test]
async fn the_agent_reads_the_bots_conversation_in_order_after_its_reason() {
    let api = Api::new();
    let created = api.create("key-1", &handoff()).await;

    assert_eq!(created.status, 202);
    let body = json_of(&created);
    assert_eq!(body["status"], "queued");
    assert_eq!(body["contact_id"], "contact-1");
    assert!(HandoffId::parse(body["handoff_id"].as_str().unwrap()).is_some());
    assert_eq!(
        api.said(),
        [
            (
                Speaker::Bot,
                "Refund request\nAsks for a refund the bot cannot grant".to_owned()
            ),
            (Speaker::Customer, "I want my money back".to_owned()),
            (Speaker::Bot, "I can't do refunds".to_owned()),
            (Speaker::Customer, "Then a human, please".to_owned()),
        ]
    );
    let request = &api.connect.chats()[0].request;
    assert_eq!(request.display_name, "Ana Souza");
    assert_eq!(request.contact_flow_id.as_deref(), Some("handoff-flow"));
    let attribute = |key: &str| request.attributes.get(key).map(String::as_str);
    assert_eq!(attribute("HandoffId"), body["handoff_id"].as_str());
    assert_eq!(
        attribute("HandoffQueueId"),
        Some("8f2c3c5e-1d5b-4c1e-9a3f-2b7d6e5f4a3c")
    );
    assert_eq!(attribute("HandoffPriority"), Some("2"));
    assert_eq!(attribute("Tier"), Some("gold"));
    assert_eq!(attribute("HandoffLastUserMessage"), Some("Then a human, please"));
}

#[tokio::test]
async fn a_retried_create_makes_no_second_chat_and_says_nothing_twice() {
    let api = Api::new();
    // The first attempt dies in the middle of the retelling.
    api.connect
        .faults()
        .next("send_message", Fault::Slow(std::time::Duration::ZERO));
    api.connect
        .faults()
        .next("send_message", Fault::throttled("SendMessage"));
    let failed = api.create("key-1", &handoff()).await;
    assert_eq!(failed.status, 429, "a retry can fix it: {failed:?}");
    assert_eq!(failed.headers, [("Retry-After", "1".to_owned())]);

    let retried = api.create("key-1", &handoff()).await;
    let again = api.create("key-1", &handoff()).await;

    assert_eq!(retried.status, 202);
    assert_eq!(json_of(&again), json_of(&retried), "the same handoff");
    assert_eq!(api.said().len(), 4, "each message once: {:?}", api.said());
    assert_eq!(api.store.handoffs().len(), 1);
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused() {
    let api = Api::new();
    api.handed_off().await;
    let mut other = handoff();
    other["title"] = json!("Something else");

    let reused = api.create("key-1", &other).await;

    assert_eq!(reused.status, 409);
    assert_eq!(json_of(&reused)["code"], "conflict");
    assert_eq!(api.connect.chats().len(), 1);
}

#[tokio::test]
async fn another_clients_handoff_is_not_found_and_untouched() {
    let api = Api::new();
    let id = api.handed_off().await;
    let path = format!("/v1/handoffs/{id}");

    let theirs = api.call("other-bot", "GET", &path, None, &Value::Null).await;
    let message = api
        .call(
            "other-bot",
            "POST",
            &format!("{path}/messages"),
            None,
            &message("m-1", "hi"),
        )
        .await;
    let end = api
        .call("other-bot", "POST", &format!("{path}/end"), None, &Value::Null)
        .await;

    assert_eq!((theirs.status, message.status, end.status), (404, 404, 404));
    assert_eq!(api.said().len(), 4, "nothing said");
    let own = api.call(CLIENT, "GET", &path, None, &Value::Null).await;
    assert_eq!(json_of(&own)["status"], "queued", "not ended");
}

#[tokio::test]
async fn a_bad_request_starts_no_chat() {
    let api = Api::new();
    let mut bad = handoff();
    bad["user"]["phone"] = json!("5551234");

    let refused = api.create("key-1", &bad).await;
    let no_key = api.call(CLIENT, "POST", "/v1/handoffs", None, &handoff()).await;

    assert_eq!(refused.status, 400);
    assert_eq!(json_of(&refused)["code"], "invalid_request");
    assert_eq!(no_key.status, 400);
    assert!(api.connect.chats().is_empty());
    assert!(api.store.handoffs().is_empty());
}

#[tokio::test]
async fn the_bots_messages_go_in_once_each_until_the_handoff_ends() {
    let api = Api::new();
    let id = api.handed_off().await;
    let path = |tail: &str| format!("/v1/handoffs/{id}{tail}");

    let sent = api
        .call(
            CLIENT,
            "POST",
            &path("/messages"),
            None,
            &message("m-1", "Still there?"),
        )
        .await;
    let resent = api
        .call(
            CLIENT,
            "POST",
            &path("/messages"),
            None,
            &message("m-1", "Still there?"),
        )
        .await;
    let typing = api.call(CLIENT, "POST", &path("/typing"), None, &Value::Null).await;
    assert_eq!((sent.status, resent.status, typing.status), (202, 202, 204));
    assert_eq!(
        api.said().last().unwrap(),
        &(Speaker::Customer, "Still there?".to_owned())
    );
    assert_eq!(api.said().len(), 5, "once per client_message_id");
    assert_eq!(api.connect.chats()[0].events.len(), 1, "typing");

    let ended = api
        .call(CLIENT, "POST", &path("/end"), None, &json!({"reason": "resolved"}))
        .await;
    assert_eq!(ended.status, 202);
    assert!(api.connect.chats()[0].ended, "the customer side left the chat");
    let view = json_of(&api.call(CLIENT, "GET", &path(""), None, &Value::Null).await);
    assert_eq!(view["status"], "ended");
    assert!(view["ended_at"].is_string());

    let late = api
        .call(CLIENT, "POST", &path("/messages"), None, &message("m-2", "hello?"))
        .await;
    assert_eq!(late.status, 409);
    assert_eq!(json_of(&late)["code"], "handoff_ended");
    let again = api.call(CLIENT, "POST", &path("/end"), None, &Value::Null).await;
    assert_eq!(again.status, 202, "ending again is answered as done");
    assert_eq!(
        api.owed(&id),
        [(1, "handoff.created".to_owned()), (2, "handoff.ended".to_owned())],
        "the bot's own messages owe it nothing; its end is confirmed"
    );
    assert_eq!(
        api.kicks(&id),
        3,
        "each owed event kicks the delivery, and so does the repeated end"
    );
}

#[tokio::test]
async fn a_start_connect_refuses_fails_the_handoff() {
    let api = Api::new();
    api.connect.faults().next(
        "start_chat",
        Fault::rejected("StartChatContact", "ResourceNotFoundException"),
    );

    let created = api.create("key-1", &handoff()).await;

    assert_eq!(created.status, 202);
    assert_eq!(json_of(&created)["status"], "failed");
    let id = HandoffId::parse(json_of(&created)["handoff_id"].as_str().unwrap()).unwrap();
    let stored = api.store.load(&id).await.unwrap().unwrap();
    assert!(stored.ended_ms.is_some());
    let retried = api.create("key-1", &handoff()).await;
    assert_eq!(json_of(&retried)["status"], "failed", "a retry does not try again");
    assert!(api.connect.chats().is_empty());
    let id = id.as_str().to_owned();
    assert_eq!(api.owed(&id), [(2, "handoff.failed".to_owned())], "no handoff.created");
    assert_eq!(api.kicks(&id), 2, "the failure's, and the retry's");
}

#[tokio::test]
async fn a_create_retried_after_the_handoff_ended_answers_it_as_it_is() {
    let api = Api::new();
    let id = api.handed_off().await;
    let ended = api
        .call(CLIENT, "POST", &format!("/v1/handoffs/{id}/end"), None, &Value::Null)
        .await;
    assert_eq!(ended.status, 202);

    let retried = api.create("key-1", &handoff()).await;

    assert_eq!(retried.status, 202, "{retried:?}");
    assert_eq!(json_of(&retried)["status"], "ended");
    assert_eq!(json_of(&retried)["handoff_id"], id.as_str());
    assert_eq!(api.connect.chats().len(), 1);
}

#[tokio::test]
async fn a_retelling_cut_short_by_the_chat_leaves_the_handoff_started() {
    let api = Api::new();
    // An agent took the contact before the bot participant could be added: Connect refuses it.
    api.connect
        .faults()
        .next("add_bot", Fault::rejected("CreateParticipant", "ConflictException"));

    let created = api.create("key-1", &handoff()).await;

    assert_eq!(created.status, 202, "the chat is the agent's: {created:?}");
    assert_eq!(json_of(&created)["status"], "queued");
    assert_eq!(json_of(&created)["contact_id"], "contact-1");
}

/// The chat's interactive list, as the relay keeps it for the handoff: what the bot was shown.
async fn offer_list(api: &Api, id: &str) -> bridge::handoff::message::OfferedChoice {
    use bridge::handoff::moves::{Change, Settled, settle};
    let path = format!(
        "{}/../../tests/fixtures/connect-stream-interactive-listpicker.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let notification = bridge::sns::notifications(&event).unwrap().remove(0).unwrap();
    let item = bridge::connect_stream::parse_item(&notification).unwrap();
    let for_bot = bridge::handoff::message::for_bot(&item).unwrap();
    let offered = for_bot.offered.clone().expect("a list offers a choice");
    let id = HandoffId::parse(id).unwrap();
    let record = api.store.load(&id).await.unwrap().unwrap();
    let change = Change::Messages {
        messages: for_bot
            .messages
            .iter()
            .map(|m| serde_json::to_value(m).unwrap())
            .collect(),
        offered: Some(Box::new(offered.clone())),
    };
    let written = settle(&api.store, &record, &change, None).await.unwrap();
    assert!(matches!(written, Settled::Written { .. }), "{written:?}");
    offered
}

#[tokio::test]
async fn the_bot_answers_the_agents_list_by_option_id_as_connects_widget_would() {
    let api = Api::new();
    let id = api.handed_off().await;
    let path = format!("/v1/handoffs/{id}/messages");
    let answer = |option: &str| {
        let client_message_id = format!("a-{}", option.len());
        json!({"client_message_id": client_message_id, "type": "option", "option_id": option})
    };

    let early = api.call(CLIENT, "POST", &path, None, &answer("opt-1")).await;
    assert_eq!(early.status, 400, "nothing offered yet: {early:?}");
    assert!(json_of(&early)["message"].as_str().unwrap().starts_with("option_id"));

    let offered = offer_list(&api, &id).await;
    let chosen = &offered.choice.options[1];
    let answered = api.call(CLIENT, "POST", &path, None, &answer(&chosen.id)).await;
    assert_eq!(answered.status, 202, "{answered:?}");
    let reply = &offered.menu.option(&chosen.id).unwrap().reply;
    assert_eq!(api.said().last().unwrap(), &(Speaker::Customer, reply.content.clone()));

    let unknown = api.call(CLIENT, "POST", &path, None, &answer("no-such-option")).await;
    assert_eq!(unknown.status, 400);
}

#[tokio::test]
async fn the_transcript_reads_in_pages_while_the_handoff_lasts() {
    let api = Api::new();
    let id = api.handed_off().await;
    let path = format!("/v1/handoffs/{id}/transcript");

    let first = api.get(&path, &[("limit", "3")]).await;
    assert_eq!(first.status, 200, "{first:?}");
    let first = json_of(&first);
    let participants: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["participant"].as_str().unwrap())
        .collect();
    assert_eq!(
        participants,
        ["bot", "customer", "bot"],
        "the reason, then the history as said"
    );
    let token = first["next_token"].as_str().expect("more");
    let second = json_of(&api.get(&path, &[("next_token", token)]).await);
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["content"], "Then a human, please");
    assert!(second.get("next_token").is_none(), "the last page");

    api.call(CLIENT, "POST", &format!("/v1/handoffs/{id}/end"), None, &Value::Null)
        .await;
    let after = api.get(&path, &[]).await;
    assert_eq!(
        (after.status, json_of(&after)["code"].as_str()),
        (409, Some("handoff_ended"))
    );
}

#[tokio::test]
async fn the_bot_sets_contact_attributes_within_connects_32_kb() {
    let api = Api::new();
    let id = api.handed_off().await;
    let path = format!("/v1/handoffs/{id}");

    let set = api
        .call(
            CLIENT,
            "PATCH",
            &path,
            None,
            &json!({"attributes": {"OrderId": "4512"}}),
        )
        .await;
    assert_eq!(set.status, 204, "{set:?}");
    let attributes = &api.connect.chats()[0].request.attributes;
    assert_eq!(attributes["OrderId"], "4512");
    assert_eq!(attributes["Tier"], "gold", "the others kept");

    let reserved = api
        .call(CLIENT, "PATCH", &path, None, &json!({"attributes": {"HandoffId": "x"}}))
        .await;
    assert_eq!(reserved.status, 400, "the bridge's own");
    let big = "x".repeat(20_000);
    let first = api
        .call(CLIENT, "PATCH", &path, None, &json!({"attributes": {"Notes": big}}))
        .await;
    assert_eq!(first.status, 204);
    let over = api
        .call(CLIENT, "PATCH", &path, None, &json!({"attributes": {"MoreNotes": big}}))
        .await;
    assert_eq!(over.status, 400, "Connect's 32 KB in all: {over:?}");
    assert_eq!(
        json_of(&over)["message"].as_str().unwrap().split(':').next(),
        Some("attributes")
    );
    assert!(!api.connect.chats()[0].request.attributes.contains_key("MoreNotes"));
}

#[tokio::test]
async fn a_connection_connect_refuses_is_renewed_and_the_message_still_goes_in() {
    use bridge::error::{FailureKind, PortError};
    let api = Api::new();
    let id = api.handed_off().await;
    let handoff = HandoffId::parse(&id).unwrap();
    let before = api.store.load(&handoff).await.unwrap().unwrap().chat.unwrap();
    api.connect.faults().next(
        "send_message",
        Fault::Fail(PortError::new(
            FailureKind::ChatGone,
            "SendMessage",
            "AccessDeniedException",
        )),
    );

    let sent = api
        .call(
            CLIENT,
            "POST",
            &format!("/v1/handoffs/{id}/messages"),
            None,
            &message("m-9", "Anyone?"),
        )
        .await;

    assert_eq!(sent.status, 202, "{sent:?}");
    assert_eq!(api.said().last().unwrap(), &(Speaker::Customer, "Anyone?".to_owned()));
    let after = api.store.load(&handoff).await.unwrap().unwrap().chat.unwrap();
    assert_ne!(
        after.connection_token, before.connection_token,
        "the renewed token is kept"
    );
    assert_eq!(after.participant_token, before.participant_token);

    // A chat that is over refuses the renewal too: that is the end.
    api.connect.end_chat(&after.contact_id);
    let late = api
        .call(
            CLIENT,
            "POST",
            &format!("/v1/handoffs/{id}/messages"),
            None,
            &message("m-10", "Hello?"),
        )
        .await;
    assert_eq!(
        (late.status, json_of(&late)["code"].as_str()),
        (409, Some("handoff_ended"))
    );
}

#[tokio::test]
async fn a_long_history_reaches_the_agent_whole_as_a_file_and_its_end_retold() {
    let api = Api::new();
    let history: Vec<Value> = (0..30)
        .map(|i| said(if i % 2 == 0 { "user" } else { "bot" }, &format!("message number {i}")))
        .collect();
    let mut body = handoff();
    body["message_history"] = Value::Array(history);

    let created = api.create("key-long", &body).await;
    let retried = api.create("key-long", &body).await;

    assert_eq!((created.status, retried.status), (202, 202));
    let files = api.attachments.attached();
    assert_eq!(files.len(), 1, "attached once, the retry included");
    let (name, content_type, bytes) = &files[0];
    assert_eq!(
        (name.as_str(), content_type.as_str()),
        ("conversation-history.txt", "text/plain")
    );
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.contains("message number 0") && text.contains("message number 29"),
        "{text}"
    );
    let said = api.said();
    assert!(said.len() <= 21, "the opening and at most 20 retold: {}", said.len());
    assert_eq!(said.last().unwrap().1, "message number 29", "the end is retold");
}

#[tokio::test]
async fn an_end_whose_kick_failed_is_kicked_by_the_bots_retry() {
    let api = Api::new();
    let id = api.handed_off().await;
    let end = format!("/v1/handoffs/{id}/end");
    api.kick_fails_once();

    let first = api.call(CLIENT, "POST", &end, None, &Value::Null).await;
    let retried = api.call(CLIENT, "POST", &end, None, &Value::Null).await;

    assert_eq!((first.status, retried.status), (429, 202));
    assert_eq!(api.kicks(&id), 2, "the create's, and the retried end's");
}

#[tokio::test]
async fn a_refused_start_whose_kick_failed_is_kicked_by_the_bots_retry() {
    let api = Api::new();
    api.connect.faults().next(
        "start_chat",
        Fault::rejected("StartChatContact", "ResourceNotFoundException"),
    );
    api.kick_fails_once();

    let first = api.create("key-1", &handoff()).await;
    let retried = api.create("key-1", &handoff()).await;

    assert_eq!((first.status, retried.status), (429, 202));
    let id = json_of(&retried)["handoff_id"].as_str().unwrap().to_owned();
    assert_eq!(api.owed(&id), [(2, "handoff.failed".to_owned())]);
    assert_eq!(api.kicks(&id), 1, "handoff.failed is kicked by the retry");
}

fn file_message(id: &str, url: &str, name: &str, content_type: &str) -> Value {
    json!({"client_message_id": id, "type": "file",
           "file": {"url": url, "name": name, "content_type": content_type}})
}

#[tokio::test]
async fn the_bots_file_goes_into_the_chat_once_as_the_customers() {
    let api = Api::new();
    let id = api.handed_off().await;
    let url = "https://files.example/receipts/r-77.pdf?signature=abc";
    api.files.serve(url, b"%PDF-1.7 the receipt");
    let file = file_message("f-1", url, "receipt march.pdf", "application/pdf");

    let path = format!("/v1/handoffs/{id}/messages");
    let sent = api.call(CLIENT, "POST", &path, None, &file).await;
    let resent = api.call(CLIENT, "POST", &path, None, &file).await;

    assert_eq!((sent.status, resent.status), (202, 202), "{sent:?}");
    assert_eq!(
        api.attachments.attached(),
        [(
            "receipt march.pdf".to_owned(),
            "application/pdf".to_owned(),
            b"%PDF-1.7 the receipt".to_vec()
        )],
        "attached once, by the customer's connection, the retry included"
    );
    assert_eq!(
        api.attachments.put_chunks(),
        [3],
        "streamed as fetched, not gathered first; the retry finds it uploaded and puts nothing"
    );
}

#[tokio::test]
async fn a_file_the_chat_cannot_take_is_refused_and_changes_nothing() {
    use bridge::error::{FailureKind, PortError};
    let api = Api::new();
    let id = api.handed_off().await;
    let path = format!("/v1/handoffs/{id}/messages");
    let (pdf, big) = ("https://files.example/a.pdf", "https://files.example/big.pdf");
    api.files.serve(pdf, b"%PDF");
    api.files.serve(big, &vec![b'x'; 20 * 1024 * 1024 + 1]);
    api.files.faults().next(
        "fetch",
        Fault::Fail(PortError::new(FailureKind::Transient, "FileDownload", "HTTP 503")),
    );

    let cases = [
        (
            file_message("f-1", pdf, "a.pdf", "application/pdf"),
            429,
            "rate_limited",
        ),
        (
            file_message("f-2", "https://files.example/gone.pdf", "a.pdf", "application/pdf"),
            400,
            "file.url: could not be fetched: its server refused",
        ),
        (
            file_message("f-3", big, "big.pdf", "application/pdf"),
            413,
            "the file is larger than the 20 MB Amazon Connect chat takes",
        ),
        (
            file_message("f-4", pdf, "setup.exe", "application/x-msdownload"),
            400,
            "file.content_type: is not a file type Amazon Connect chat accepts",
        ),
        (
            file_message(
                "f-5",
                "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
                "a.pdf",
                "application/pdf",
            ),
            400,
            "file.url: is not an https URL",
        ),
        (
            file_message("f-6", "http://files.example/a.pdf", "a.pdf", "application/pdf"),
            400,
            "file.url: is not an https URL",
        ),
    ];
    for (body, status, expected) in cases {
        let answer = api.call(CLIENT, "POST", &path, None, &body).await;
        assert_eq!(answer.status, status, "{body}: {answer:?}");
        let error = json_of(&answer);
        if status != 429 {
            assert_eq!(error["message"], expected, "{body}");
        }
    }
    assert!(api.attachments.attached().is_empty());
    assert!(
        !api.files.fetched().iter().any(|url| url.starts_with("http://")),
        "no plain http URL is fetched where the deployment does not allow it"
    );

    let retried = api
        .call(
            CLIENT,
            "POST",
            &path,
            None,
            &file_message("f-1", pdf, "a.pdf", "application/pdf"),
        )
        .await;
    assert_eq!(retried.status, 202, "the transient failure was worth retrying");
    assert_eq!(api.attachments.attached().len(), 1);
}

#[tokio::test]
async fn the_agents_file_gets_a_new_link_while_the_handoff_lasts() {
    let api = Api::new();
    let id = api.handed_off().await;
    api.attachments.add_file("att-9", b"label");
    let link = |attachment: &str| format!("/v1/handoffs/{id}/attachments/{attachment}");

    let fresh = api.get(&link("att-9"), &[]).await;
    assert_eq!(fresh.status, 200, "{fresh:?}");
    let fresh = json_of(&fresh);
    assert_eq!(fresh["url"], "https://attachments.example/att-9");
    assert_eq!(fresh["expires_at"], bridge::fakes::LINK_EXPIRY);
    assert_eq!(
        api.get(&link("att-0"), &[]).await.status,
        404,
        "no such file in the chat"
    );
    let foreign = api.call("other-bot", "GET", &link("att-9"), None, &Value::Null).await;
    assert_eq!(foreign.status, 404, "another client's handoff");

    let path = format!("/v1/handoffs/{id}/end");
    assert_eq!(api.call(CLIENT, "POST", &path, None, &Value::Null).await.status, 202);
    let late = api.get(&link("att-9"), &[]).await;
    assert_eq!(
        (late.status, json_of(&late)["code"].clone()),
        (409, json!("handoff_ended"))
    );
}

const QUEUE: &str = "0a1b2c3d-0000-4000-8000-000000000002";

/// The contact attribute the handoff's queue flow moves the chat by.
fn transfer_attribute(api: &Api) -> Option<String> {
    api.connect.chats()[0]
        .request
        .attributes
        .get(bridge::handoff::transfer::TRANSFER_QUEUE_ATTRIBUTE)
        .cloned()
}

/// Moves handoff `id` as its chat's stream would: `input` written over what is stored.
async fn moved(api: &Api, id: &str, input: bridge::handoff::lifecycle::Input) {
    use bridge::handoff::moves::{Change, Settled, settle};
    let record = api.store.load(&HandoffId::parse(id).unwrap()).await.unwrap().unwrap();
    let written = settle(&api.store, &record, &Change::Move(input), None).await.unwrap();
    assert!(matches!(written, Settled::Written { .. }), "{written:?}");
}

#[tokio::test]
async fn a_queued_handoff_is_transferred_once_however_often_the_bot_asks() {
    let api = Api::new();
    let id = api.handed_off().await;
    let path = format!("/v1/handoffs/{id}/transfer");
    api.kick_fails_once();

    let first = api.call(CLIENT, "POST", &path, None, &json!({"queue_id": QUEUE})).await;
    let retried = api.call(CLIENT, "POST", &path, None, &json!({"queue_id": QUEUE})).await;
    let again = api.call(CLIENT, "POST", &path, None, &json!({"queue_id": QUEUE})).await;

    assert_eq!(
        (first.status, retried.status, again.status),
        (429, 202, 202),
        "{first:?}"
    );
    let view = json_of(&retried);
    assert_eq!(
        (view["handoff_id"].as_str(), view["status"].as_str()),
        (Some(id.as_str()), Some("queued")),
        "answered as GET answers"
    );
    assert_eq!(transfer_attribute(&api).as_deref(), Some(QUEUE));
    assert_eq!(
        api.owed(&id),
        [(1, "handoff.created".to_owned()), (2, "handoff.transferred".to_owned())],
        "one event, however often asked"
    );
    let events = api.store.events(&HandoffId::parse(&id).unwrap());
    let body: Value = serde_json::from_str(&events[1].1.body).unwrap();
    assert_eq!(body["data"]["to"], QUEUE);
    assert_eq!(
        api.kicks(&id),
        3,
        "the create's, and each retry's: the first kick failed"
    );

    let other = "0a1b2c3d-0000-4000-8000-000000000003";
    let elsewhere = api.call(CLIENT, "POST", &path, None, &json!({"queue_id": other})).await;
    assert_eq!(elsewhere.status, 202);
    assert_eq!(transfer_attribute(&api).as_deref(), Some(other));
    assert_eq!(api.owed(&id).len(), 3, "another queue is another transfer");
}

#[tokio::test]
async fn an_agents_chat_a_flow_and_an_ended_handoff_are_not_transferred() {
    use bridge::handoff::lifecycle::{EndReason, Input};
    let api = Api::new();
    let id = api.handed_off().await;
    let path = format!("/v1/handoffs/{id}/transfer");

    let to_flow = api
        .call(CLIENT, "POST", &path, None, &json!({"contact_flow_id": QUEUE}))
        .await;
    assert_eq!(
        (to_flow.status, json_of(&to_flow)["code"].as_str()),
        (409, Some("conflict"))
    );

    moved(&api, &id, Input::AgentJoined { agent: "Ana".into() }).await;
    let agents = api.call(CLIENT, "POST", &path, None, &json!({"queue_id": QUEUE})).await;
    assert_eq!(
        (agents.status, json_of(&agents)["code"].as_str()),
        (409, Some("conflict"))
    );
    assert!(
        json_of(&agents)["message"].as_str().unwrap().contains("quick connect"),
        "{agents:?}"
    );

    moved(
        &api,
        &id,
        Input::ChatEnded {
            reason: EndReason::AgentEnded,
        },
    )
    .await;
    let ended = api.call(CLIENT, "POST", &path, None, &json!({"queue_id": QUEUE})).await;
    assert_eq!(
        (ended.status, json_of(&ended)["code"].as_str()),
        (409, Some("handoff_ended"))
    );

    assert_eq!(transfer_attribute(&api), None, "nothing set on the contact");
    let owed: Vec<String> = api.owed(&id).into_iter().map(|(_, kind)| kind).collect();
    assert!(!owed.contains(&"handoff.transferred".to_owned()), "{owed:?}");
}

#[tokio::test]
async fn a_transfer_an_agent_overtakes_is_taken_back() {
    use bridge::handoff::lifecycle::Input;
    let api = Api::new();
    let id = api.handed_off().await;
    // Connect takes its time setting the attribute; the agent joins meanwhile.
    api.connect
        .faults()
        .next("update_attributes", Fault::Slow(std::time::Duration::from_millis(200)));
    let path = format!("/v1/handoffs/{id}/transfer");
    let body = json!({"queue_id": QUEUE});

    let (overtaken, ()) = tokio::join!(api.call(CLIENT, "POST", &path, None, &body), async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        moved(&api, &id, Input::AgentJoined { agent: "Ana".into() }).await;
    });

    assert_eq!(
        (overtaken.status, json_of(&overtaken)["code"].as_str()),
        (409, Some("conflict")),
        "{overtaken:?}"
    );
    assert_eq!(
        transfer_attribute(&api).as_deref(),
        Some(""),
        "cleared before the queue flow acts on it"
    );
    assert_eq!(
        api.owed(&id),
        [
            (1, "handoff.created".to_owned()),
            (2, "handoff.agent_joined".to_owned())
        ],
        "the agent has it"
    );
}

#[tokio::test]
async fn an_attribute_connect_refuses_is_a_bad_queue_id_and_owes_nothing() {
    let api = Api::new();
    let id = api.handed_off().await;
    api.connect.faults().next(
        "update_attributes",
        Fault::rejected("UpdateContactAttributes", "InvalidParameterException"),
    );
    api.connect
        .faults()
        .next("update_attributes", Fault::throttled("UpdateContactAttributes"));
    let path = format!("/v1/handoffs/{id}/transfer");

    let refused = api.call(CLIENT, "POST", &path, None, &json!({"queue_id": QUEUE})).await;
    let throttled = api.call(CLIENT, "POST", &path, None, &json!({"queue_id": QUEUE})).await;

    assert_eq!(refused.status, 400, "{refused:?}");
    assert_eq!(
        json_of(&refused)["message"].as_str().unwrap().split(':').next(),
        Some("queue_id")
    );
    assert_eq!(throttled.status, 429);
    assert_eq!(api.owed(&id), [(1, "handoff.created".to_owned())]);
    assert_eq!(transfer_attribute(&api), None);
}
