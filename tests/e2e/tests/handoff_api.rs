//! The Handoff API through the real binaries: the twin serves it as API Gateway's HTTP API would, with
//! `HandoffAuthorizer` checking each request's key and `HandoffApi` acting in Connect; the client and
//! its key come from the operator's `client` command. A bot hands off with a 12-message history and the
//! agent reads reason, history and summary; the bot's messages and typing go in; the bot ends it and a
//! late message is refused; a retried create opens no second chat; unauthenticated, wrong-key,
//! foreign-client and malformed requests change nothing.

use e2e::{TestStack, transcript_texts};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn stack() -> TestStack {
    TestStack::start_with(TestStack::with_handoff_api).await
}

/// A bot: a client's key, calling the API the twin serves.
struct Bot<'a> {
    stack: &'a TestStack,
    key: Option<String>,
}

impl Bot<'_> {
    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let key = self.key.as_deref();
        self.stack.twin().handoff_api(key, (method, path), headers, body).await
    }

    async fn create(&self, key: &str, body: &Value) -> (StatusCode, Value) {
        self.call("POST", "/v1/handoffs", &[("idempotency-key", key)], Some(body.clone()))
            .await
    }
}

fn history(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let source = if i % 2 == 0 { "user" } else { "bot" };
            json!({"source": {"type": source}, "type": "text", "payload": {"text": format!("{source} says {i}")}})
        })
        .collect()
}

fn handoff(history: Vec<Value>) -> Value {
    json!({
        "external_conversation_id": "botpress-conv-9",
        "user": {"id": "u-9", "name": "Ana Souza"},
        "title": "Refund request",
        "description": "Asks for a refund the bot cannot grant",
        "message_history": history,
        "routing": {"priority": 2, "attributes": {"Tier": "gold"}},
    })
}

async fn contacts(stack: &TestStack) -> Vec<Value> {
    stack.twin().contacts().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_hands_off_talks_through_the_agents_chat_and_ends_it() {
    let stack = stack().await;
    let bot = Bot {
        stack: &stack,
        key: Some(stack.add_client("acme-bot")),
    };

    let (status, created) = bot.create("handoff-1", &handoff(history(12))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["status"], "queued");
    let id = created["handoff_id"].as_str().unwrap().to_owned();

    let chats = contacts(&stack).await;
    assert_eq!(chats.len(), 1, "one chat");
    let chat = &chats[0];
    assert_eq!(chat["contact_id"], created["contact_id"]);
    let said_by_bot = transcript_texts(chat, "CUSTOM_BOT");
    assert_eq!(
        said_by_bot[0], "Refund request\nAsks for a refund the bot cannot grant",
        "the reason first"
    );
    let expected_bot: Vec<String> = (0..12)
        .filter(|i| i % 2 == 1)
        .map(|i| format!("bot says {i}"))
        .collect();
    assert_eq!(said_by_bot[1..], expected_bot[..]);
    let expected_user: Vec<String> = (0..12)
        .filter(|i| i % 2 == 0)
        .map(|i| format!("user says {i}"))
        .collect();
    assert_eq!(transcript_texts(chat, "CUSTOMER"), expected_user);
    let order: Vec<&str> = chat["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "MESSAGE" && item["role"] != "SYSTEM")
        .filter_map(|item| item["content"].as_str())
        .collect();
    assert_eq!(
        order[1..],
        (0..12)
            .map(|i| if i % 2 == 0 {
                format!("user says {i}")
            } else {
                format!("bot says {i}")
            })
            .collect::<Vec<_>>()[..],
        "as it was said"
    );
    assert_eq!(chat["attributes"]["HandoffTitle"], "Refund request");
    assert_eq!(chat["attributes"]["HandoffLastUserMessage"], "user says 10");
    assert_eq!(chat["attributes"]["HandoffPriority"], "2");
    assert_eq!(chat["attributes"]["Tier"], "gold");

    let (status, view) = bot.call("GET", &format!("/v1/handoffs/{id}"), &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["external_conversation_id"], "botpress-conv-9");

    let message = json!({"client_message_id": "m-1", "type": "text", "text": "Is anyone there?"});
    for _ in 0..2 {
        let (status, _) = bot
            .call(
                "POST",
                &format!("/v1/handoffs/{id}/messages"),
                &[],
                Some(message.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, _) = bot.call("POST", &format!("/v1/handoffs/{id}/typing"), &[], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let customer = transcript_texts(&contacts(&stack).await[0], "CUSTOMER");
    assert_eq!(
        customer.iter().filter(|t| *t == "Is anyone there?").count(),
        1,
        "once per client_message_id"
    );

    let (status, _) = bot
        .call(
            "POST",
            &format!("/v1/handoffs/{id}/end"),
            &[],
            Some(json!({"reason": "resolved"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(contacts(&stack).await[0]["state"], "ended");
    let (_, view) = bot.call("GET", &format!("/v1/handoffs/{id}"), &[], None).await;
    assert_eq!(view["status"], "ended");
    let late = json!({"client_message_id": "m-2", "type": "text", "text": "hello?"});
    let (status, refused) = bot
        .call("POST", &format!("/v1/handoffs/{id}/messages"), &[], Some(late))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused["code"], "handoff_ended");

    // Neither function logs what was said, who said it, or the key.
    let key = bot.key.as_deref().unwrap();
    for function in ["HandoffApi", "HandoffAuthorizer"] {
        let logs = stack.twin().logs(function).await.join("\n");
        assert!(!logs.is_empty(), "{function} logged nothing");
        for secret in [
            "Ana Souza",
            "user says",
            "bot says",
            "Is anyone there?",
            "Refund request",
            key,
        ] {
            assert!(!logs.contains(secret), "{function} logged something private");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_opens_no_second_chat() {
    let stack = stack().await;
    let bot = Bot {
        stack: &stack,
        key: Some(stack.add_client("acme-bot")),
    };

    let (first, created) = bot.create("handoff-1", &handoff(history(3))).await;
    let (again, retried) = bot.create("handoff-1", &handoff(history(3))).await;

    assert_eq!((first, again), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(created, retried, "the same handoff");
    let chats = contacts(&stack).await;
    assert_eq!(chats.len(), 1);
    assert_eq!(transcript_texts(&chats[0], "CUSTOM_BOT").len(), 2, "nothing said twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_foreign_and_malformed_requests_change_nothing() {
    let stack = stack().await;
    let acme = Bot {
        stack: &stack,
        key: Some(stack.add_client("acme-bot")),
    };
    let other = Bot {
        stack: &stack,
        key: Some(stack.add_client("other-bot")),
    };
    let (_, created) = acme.create("handoff-1", &handoff(history(2))).await;
    let id = created["handoff_id"].as_str().unwrap();
    let before = contacts(&stack).await;

    let anonymous = Bot {
        stack: &stack,
        key: None,
    };
    let (status, _) = anonymous.create("handoff-2", &handoff(history(2))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no key: API Gateway refuses");
    let forged = Bot {
        stack: &stack,
        key: Some(format!("wcb_acme-bot_{}", "A".repeat(43))),
    };
    let (status, _) = forged.create("handoff-3", &handoff(history(2))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a wrong key");
    let (status, _) = other.call("GET", &format!("/v1/handoffs/{id}"), &[], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another client's handoff");
    let (status, _) = other.call("POST", &format!("/v1/handoffs/{id}/end"), &[], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut malformed = handoff(history(2));
    malformed["user"]["phone"] = json!("5551234");
    let (status, error) = acme.create("handoff-4", &malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "invalid_request");
    assert!(error["message"].as_str().unwrap().contains("user.phone"), "{error}");

    assert_eq!(contacts(&stack).await, before, "no chat started or changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_reaches_the_agent_whole_as_a_file_after_the_reason() {
    let stack = stack().await;
    let bot = Bot {
        stack: &stack,
        key: Some(stack.add_client("acme-bot")),
    };

    let (status, created) = bot.create("handoff-long", &handoff(history(30))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let (again, _) = bot.create("handoff-long", &handoff(history(30))).await;
    assert_eq!(again, StatusCode::ACCEPTED);

    let chats = contacts(&stack).await;
    assert_eq!(chats.len(), 1);
    let items = chats[0]["transcript"].as_array().unwrap();
    let files: Vec<&Value> = items
        .iter()
        .filter(|item| item["type"] == "ATTACHMENT")
        .flat_map(|item| item["attachments"].as_array().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "attached once, the retried create included: {files:?}");
    assert_eq!(files[0]["name"], "conversation-history.txt");
    assert_eq!(files[0]["content_type"], "text/plain");
    let file_at = items.iter().position(|item| item["type"] == "ATTACHMENT").unwrap();
    let opening_at = items
        .iter()
        .position(|item| item["role"] == "CUSTOM_BOT" && item["type"] == "MESSAGE")
        .unwrap();
    assert!(opening_at < file_at, "the reason first, then the file");
    let bot_said = transcript_texts(&chats[0], "CUSTOM_BOT");
    let user_said = transcript_texts(&chats[0], "CUSTOMER");
    assert!(
        bot_said.iter().any(|t| t == "bot says 29"),
        "the end retold: {bot_said:?}"
    );
    assert!(
        !user_said.iter().any(|t| t == "user says 0"),
        "not the whole history retold"
    );
}
