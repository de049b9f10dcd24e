//! Issue #7: what a message costs in AWS calls, read from the twin's call log (DynamoDB included,
//! through the twin's moto proxy), and the guarantees the fast path keeps while making fewer of them.

use e2e::{TestStack, Twin, customer_texts};
use serde_json::{Value, json};
use std::time::Duration;

/// The fixture `eum-text.json` is this customer's message.
const FIXTURE_CUSTOMER: &str = "16505551234";
const FIXTURE_TEXT: &str = "Hola, necesito ayuda con mi pedido 4512";

async fn proxied_stack() -> TestStack {
    TestStack::start_with(|o| o.proxy_moto = true).await
}

/// `service.Operation` of every call made while `work` ran, sorted.
async fn calls_during<F: std::future::Future>(twin: &Twin, work: F) -> Vec<String> {
    twin.settle().await;
    let before = twin.calls().await.len();
    work.await;
    twin.settle().await;
    call_names(&twin.calls().await[before..])
}

/// `service.Operation` of each call record, sorted.
fn call_names(calls: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = calls
        .iter()
        .map(|c| {
            format!(
                "{}.{}",
                c["service"].as_str().unwrap_or("?"),
                c["operation"].as_str().unwrap_or("?")
            )
        })
        .collect();
    names.sort();
    names
}

fn contact_id(contact: &Value) -> String {
    contact["contact_id"].as_str().expect("contact id").to_owned()
}

/// A customer with an open chat that the handler has delivered into before.
async fn open_chat(twin: &Twin, customer: &str) -> String {
    twin.customer_texts(customer, "hello").await;
    twin.settle().await;
    let contact = contact_id(&twin.contacts_of(customer).await[0]);
    twin.agent(&contact, json!({"action": "join", "display_name": "Ana"}))
        .await;
    contact
}

#[tokio::test]
async fn a_text_into_an_open_chat_costs_a_state_read_an_idempotency_record_one_send_and_its_done_mark() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    open_chat(twin, "14255550150").await;
    let calls = calls_during(twin, twin.customer_texts("14255550150", "where is my order?")).await;
    assert_eq!(
        calls,
        [
            "connectparticipant.SendMessage",
            // After the send: the claim done and the registration removed, so the conversation's next
            // message, on whichever instance, need not wait for the fast hold to lapse.
            "dynamodb.TransactWriteItems",
            // The registration (which reads the conversation) and the claim.
            "dynamodb.UpdateItem",
            "dynamodb.UpdateItem",
            // The read receipt, alongside the send.
            "socialmessaging.SendWhatsAppMessage",
        ]
    );
    let contacts = twin.contacts_of("14255550150").await;
    assert_eq!(customer_texts(&contacts[0]), ["hello", "where is my order?"]);
}

#[tokio::test]
async fn a_fast_path_redelivery_is_bridged_once() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    open_chat(twin, FIXTURE_CUSTOMER).await;
    let event = e2e::fixture("eum-text.json");
    // Right away (the first holder's lease still runs) and after it ran out (the claim is taken over).
    assert!(twin.invoke("WhatsappHandler", event.clone()).await.ok);
    assert!(twin.invoke("WhatsappHandler", event.clone()).await.ok);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert!(twin.invoke("WhatsappHandler", event).await.ok);
    twin.settle().await;
    let contacts = twin.contacts_of(FIXTURE_CUSTOMER).await;
    assert_eq!(contacts.len(), 1);
    assert_eq!(customer_texts(&contacts[0]), ["hello", FIXTURE_TEXT]);
}

#[tokio::test]
async fn a_fast_path_message_redelivered_after_the_chat_was_replaced_stays_in_its_chat() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    let first = open_chat(twin, FIXTURE_CUSTOMER).await;
    let event = e2e::fixture("eum-text.json");
    assert!(twin.invoke("WhatsappHandler", event.clone()).await.ok);
    twin.agent(&first, json!({"action": "end"})).await;
    twin.customer_texts(FIXTURE_CUSTOMER, "are you there?").await;
    twin.settle().await;
    // The fast claim has run out by now: the redelivery takes it over and must see the chat changed.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert!(twin.invoke("WhatsappHandler", event).await.ok);
    twin.settle().await;

    let contacts = twin.contacts_of(FIXTURE_CUSTOMER).await;
    assert_eq!(contacts.len(), 2, "{contacts:#?}");
    let (old, new): (Vec<&Value>, Vec<&Value>) = contacts.iter().partition(|c| contact_id(c) == first);
    assert_eq!(customer_texts(old[0]), ["hello", FIXTURE_TEXT]);
    assert_eq!(
        customer_texts(new[0]),
        ["are you there?"],
        "not shown again in the new chat"
    );
}

#[tokio::test]
async fn concurrent_duplicates_of_a_fast_path_message_deliver_once() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    open_chat(twin, "14255550151").await;
    twin.post("/sns", json!({"duplicate_rate": 1.0, "seed": 7})).await;
    for i in 0..5 {
        twin.customer_texts("14255550151", &format!("m{i}")).await;
    }
    twin.settle().await;
    let contacts = twin.contacts_of("14255550151").await;
    assert_eq!(customer_texts(&contacts[0]), ["hello", "m0", "m1", "m2", "m3", "m4"]);
}

#[tokio::test]
async fn an_agent_text_costs_a_claim_that_reads_the_contact_one_send_and_one_completing_write() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    let contact = open_chat(twin, "14255550152").await;
    let calls = calls_during(twin, twin.agent_says(&contact, "Your order ships today.")).await;
    assert_eq!(
        calls,
        [
            "dynamodb.TransactWriteItems",
            "dynamodb.UpdateItem",
            "socialmessaging.SendWhatsAppMessage"
        ]
    );
    assert_eq!(
        twin.texts_to("14255550152").await.last().unwrap(),
        "Your order ships today."
    );
}

#[tokio::test]
async fn an_agent_text_redelivered_is_sent_once_and_its_receipt_reaches_the_agent() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    let contact = open_chat(twin, "14255550153").await;
    twin.post("/sns", json!({"duplicate_rate": 1.0, "seed": 11})).await;
    twin.agent_says(&contact, "one").await;
    twin.agent_says(&contact, "two").await;
    twin.settle().await;
    let texts = twin.texts_to("14255550153").await;
    assert_eq!(texts.iter().filter(|t| *t == "one").count(), 1, "{texts:?}");
    assert_eq!(texts.iter().filter(|t| *t == "two").count(), 1, "{texts:?}");
    // The sent record written with the completion maps WhatsApp's status back to the agent's item.
    let sent = twin.sent_to("14255550153").await;
    let wamid = sent.last().unwrap()["message_id"].as_str().unwrap().to_owned();
    twin.customer_status("14255550153", json!({"id": wamid, "status": "read"}))
        .await;
    twin.settle().await;
    let contact = &twin.contacts_of("14255550153").await[0];
    let item = contact["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["content"] == "two")
        .unwrap();
    assert!(item["receipts"][0]["read"].is_string(), "{item:#?}");
}

/// The conversation item's attributes as moto stores them (DynamoDB's JSON protocol).
async fn conversation_item(stack: &TestStack, customer: &str) -> Value {
    let key = json!({"pk": {"S": format!("conv#{}#{customer}", e2e::BUSINESS_NUMBER)}});
    stack
        .state_table("GetItem", json!({"Key": key, "ConsistentRead": true}))
        .await["Item"]
        .clone()
}

#[tokio::test]
async fn fast_messages_leave_no_registrations_on_the_conversation() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    open_chat(twin, "14255550154").await;
    for i in 0..6 {
        twin.customer_texts("14255550154", &format!("t{i}")).await;
        // Apart, so none waits for the one before (each takes the fast path).
        tokio::time::sleep(Duration::from_millis(1_600)).await;
    }
    twin.settle().await;
    let item = conversation_item(&stack, "14255550154").await;
    let registrations: Vec<&String> = item
        .as_object()
        .expect("conversation item")
        .keys()
        .filter(|k| k.starts_with("q_"))
        .collect();
    assert!(
        registrations.is_empty(),
        "each fast message removes its registration after its send: {registrations:?}"
    );
    let contacts = twin.contacts_of("14255550154").await;
    assert_eq!(
        customer_texts(&contacts[0]),
        ["hello", "t0", "t1", "t2", "t3", "t4", "t5"]
    );
}

#[tokio::test]
async fn a_fast_send_that_outlasts_half_its_lease_is_held_and_completed() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    open_chat(twin, "14255550155").await;
    // The send takes longer than half the fast lease: the holder must extend its hold and complete it.
    slow_send_completes_and_marks_read_once(twin, "14255550155", "slow one").await;
    let item = conversation_item(&stack, "14255550155").await;
    let registrations: Vec<&String> = item
        .as_object()
        .expect("conversation item")
        .keys()
        .filter(|k| k.starts_with("q_"))
        .collect();
    assert!(
        registrations.is_empty(),
        "the extended registration was removed: {registrations:?}"
    );
    let contacts = twin.contacts_of("14255550155").await;
    assert_eq!(customer_texts(&contacts[0]), ["hello", "slow one"]);
}

#[tokio::test]
async fn a_slow_opener_completes_and_marks_read_once() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    // The chat's first message holds its claim exclusively through the start and the slow send.
    slow_send_completes_and_marks_read_once(twin, "14255550156", "slow opener").await;
    let contacts = twin.contacts_of("14255550156").await;
    assert_eq!(customer_texts(&contacts[0]), ["slow opener"]);
}

/// Sends `text` from `wa_id` with its `SendMessage` taking longer than half the fast hold (1.5 s):
/// the message must be completed, and marked read once, beside its send, not again with the completion.
async fn slow_send_completes_and_marks_read_once(twin: &Twin, wa_id: &str, text: &str) {
    twin.fault(json!({"service": "connectparticipant", "operation": "SendMessage", "latency_ms": 1_200, "times": 1}))
        .await;
    let mut wamid = String::new();
    let calls = calls_during(twin, async {
        wamid = twin.customer_texts(wa_id, text).await.0;
    })
    .await;
    assert!(
        calls.contains(&"dynamodb.TransactWriteItems".to_owned()),
        "completed: {calls:?}"
    );
    let sent = twin.get("/whatsapp/sent").await;
    let read_marks = sent
        .as_array()
        .expect("the sends to WhatsApp")
        .iter()
        .filter(|s| s["message"]["status"] == "read" && s["message"]["message_id"] == wamid.as_str())
        .count();
    assert_eq!(read_marks, 1, "marked read once: {sent:#}");
}

/// The WhatsappHandler invocation's calls since `since_us` (the twin's clock), sorted.
async fn whatsapp_calls_since(twin: &Twin, since_us: u64) -> Vec<String> {
    let list = twin
        .get(&format!("/invocations?since_us={since_us}&function=WhatsappHandler"))
        .await;
    call_names(list[0]["calls"].as_array().expect("the invocation's calls"))
}

#[tokio::test]
async fn a_text_that_starts_a_chat_alone_goes_in_with_the_start_and_the_next_follows_at_once() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    let since = twin.get("/clock").await["now_us"].as_u64().unwrap();
    let (_, first) = twin.customer_texts("14255550177", "hello").await;
    assert!(first.ok, "{first:?}");
    assert_eq!(
        whatsapp_calls_since(twin, since).await,
        [
            // The chat streams from its start (no StartContactStreaming) and starts with the text (its
            // InitialMessage: no SendMessage).
            "connect.StartChatContact",
            "connectparticipant.CreateParticipantConnection",
            // The registration (with the start lock) and the claim; the conversation read again before
            // the start (whether an earlier message registered since); the contact mapping; the
            // activation; then the claim done and the registration removed.
            "dynamodb.GetItem",
            "dynamodb.PutItem",
            "dynamodb.TransactWriteItems",
            "dynamodb.UpdateItem",
            "dynamodb.UpdateItem",
            "dynamodb.UpdateItem",
            "socialmessaging.SendWhatsAppMessage",
        ]
    );
    // The next text does not wait for the opener's fast hold to run out: the opener is done.
    let (_, next) = twin.customer_texts("14255550177", "my order is late").await;
    assert!(next.ok, "{next:?}");
    twin.settle().await;
    let contacts = twin.contacts_of("14255550177").await;
    assert_eq!(contacts.len(), 1);
    assert_eq!(customer_texts(&contacts[0]), ["hello", "my order is late"]);
    let item = conversation_item(&stack, "14255550177").await;
    let registrations: Vec<&String> = item
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("q_"))
        .collect();
    assert!(registrations.is_empty(), "each removed its own: {registrations:?}");
}

#[tokio::test]
async fn a_chat_opener_redelivered_after_its_fast_hold_is_known_done() {
    let stack = proxied_stack().await;
    let twin = stack.twin();
    let event = e2e::fixture("eum-text.json");
    assert!(twin.invoke("WhatsappHandler", event.clone()).await.ok);
    // After the fast hold ran out: the opener marked itself done after its send.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let before = twin.calls_to("SendMessage").await;
    assert!(twin.invoke("WhatsappHandler", event).await.ok);
    assert_eq!(
        twin.calls_to("SendMessage").await,
        before,
        "a redelivery, not sent again"
    );
    twin.settle().await;
    let contacts = twin.contacts_of(FIXTURE_CUSTOMER).await;
    assert_eq!(contacts.len(), 1);
    assert_eq!(customer_texts(&contacts[0]), [FIXTURE_TEXT]);
}
