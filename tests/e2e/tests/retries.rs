//! What Lambda's retry of a customer message does not repeat, and whom an attempt that died does not
//! keep waiting. A retry starts from what the failed attempt recorded on the message's claim: nothing
//! WhatsApp cannot deduplicate is said twice, and a voice note is not transcribed twice. An attempt that
//! died while it started the conversation's chat holds the start lock for seconds, not for as long as a
//! chat start may take.

use e2e::{TestStack, customer_texts, transcript_texts};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_note_retried_after_its_echo_is_neither_transcribed_nor_echoed_again() {
    let stack = TestStack::start_with(|o| {
        o.proxy_moto = true;
        o.extra_env.push(("TRANSCRIBE_STREAM_SPEED".into(), "8".into()));
    })
    .await;
    let twin = stack.twin();
    let customer = "14255550401";
    twin.customer_texts(customer, "hello").await;
    twin.settle().await;
    // Everything is done, the customer has their transcript; then the write that marks the message done
    // fails through every attempt of the SDK, and Lambda retries the message.
    twin.fault(
        json!({"service": "dynamodb", "operation": "TransactWriteItems", "error": "InternalServerError", "times": 4}),
    )
    .await;
    let said = "I would like to change my delivery address.";
    let (_, first_try) = twin.customer_sends_voice_note(customer, said).await;
    assert!(
        !first_try.ok,
        "the first attempt fails at its last write: {first_try:?}"
    );
    twin.settle().await;

    assert_eq!(
        twin.calls_to("StartStreamTranscription").await,
        1,
        "the retry uses the transcript the first attempt recorded"
    );
    let echoes = twin
        .texts_to(customer)
        .await
        .iter()
        .filter(|text| text.contains(said))
        .count();
    assert_eq!(echoes, 1, "the customer hears their transcript once");
    let contact = &twin.contacts_of(customer).await[0];
    let transcripts = customer_texts(contact)
        .iter()
        .filter(|text| text.contains(said))
        .count();
    assert_eq!(transcripts, 1, "the agent reads it once: {:?}", customer_texts(contact));
    let wavs = contact["transcript"]
        .as_array()
        .expect("transcript")
        .iter()
        .flat_map(|item| item["attachments"].as_array().cloned().unwrap_or_default())
        .filter(|file| file["content_type"] == "audio/wav")
        .count();
    assert_eq!(wavs, 1, "the recording is attached once");
    assert_eq!(twin.dead_letters().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_start_whose_invocation_died_holds_the_customers_next_message_for_seconds() {
    // Lambda's retries 10 s and 20 s after a failure (a sixth of AWS's minute and two).
    let stack = TestStack::start_with(|o| o.twin = o.twin.clone().with_aws_time_scale(6)).await;
    let twin = stack.twin();
    let customer = "14255550402";
    twin.fault(json!({"service": "connect", "operation": "StartChatContact", "kill_caller": true, "times": 1}))
        .await;
    let first = {
        let twin = twin.clone();
        tokio::spawn(async move { twin.customer_texts(customer, "my parcel never came").await.1 })
    };
    twin.until_faults_fired().await;
    let started = Instant::now();
    let (_, next) = twin.customer_texts(customer, "order 5120").await;
    let held = started.elapsed();
    assert!(next.ok, "{next:?}");
    assert!(
        held < Duration::from_secs(7),
        "the next message waited {held:?} for the start lock of an invocation that died"
    );
    let killed = first.await.expect("first message");
    assert!(!killed.ok, "the process died in StartChatContact: {killed:?}");

    // Lambda's retry of the first message delivers it into the chat the second one opened.
    let started = Instant::now();
    while customer_texts(&twin.contacts_of(customer).await[0]).len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the first message never arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    twin.settle().await;
    let contacts = twin.contacts_of(customer).await;
    assert_eq!(contacts.len(), 1, "one chat for the conversation");
    let mut said = transcript_texts(&contacts[0], "CUSTOMER");
    said.sort();
    assert_eq!(said, ["my parcel never came", "order 5120"], "each message once");
    assert_eq!(twin.dead_letters().await, 0);
}
