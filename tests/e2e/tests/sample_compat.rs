//! Issue #24: moving from the AWS sample without editing flows, through the real handlers and the twin.
//! With `SAMPLE_CONTACT_ATTRIBUTES` and `TRANSCRIPT_STYLE=customer_words`, a chat carries the sample's
//! contact attributes and a voice note's transcript reaches it as the customer's own text, with
//! nothing before it (not even when the note opens the chat) that a bot would read as their answer.

use e2e::{TestStack, customer_texts};
use serde_json::{Value, json};

const CUSTOMER: &str = "14255550177";
const VOICE_FIRST: &str = "5215550188";

#[tokio::test]
async fn a_flow_built_for_the_sample_finds_its_attributes_and_the_customers_spoken_words() {
    let stack = TestStack::start_with(|o| {
        o.extra_env.extend([
            ("SAMPLE_CONTACT_ATTRIBUTES".to_owned(), "true".to_owned()),
            ("TRANSCRIPT_STYLE".to_owned(), "customer_words".to_owned()),
            // Transcribe hears the twin's 3 s note faster than it plays.
            ("TRANSCRIBE_STREAM_SPEED".to_owned(), "8".to_owned()),
        ])
    })
    .await;
    let twin = stack.twin();
    let origination = stack.business_numbers()[0].aws_id.clone();

    let (_, first) = twin.customer_texts(CUSTOMER, "Hi").await;
    assert!(first.ok, "{first:?}");
    let said = "I would like to change my delivery address.";
    let (_, voice) = twin.customer_sends_voice_note(CUSTOMER, said).await;
    assert!(voice.ok, "{voice:?}");
    twin.settle().await;

    let contacts = twin.contacts_of(CUSTOMER).await;
    assert_eq!(contacts.len(), 1, "one chat");
    let attributes = &contacts[0]["attributes"];
    // The profile name the twin's customer texts under.
    let name = format!("Customer {CUSTOMER}");
    for (name, value) in [
        ("Channel", "Whatsapp"),
        ("customerId", CUSTOMER),
        ("customerName", name.as_str()),
        ("systemNumber", origination.as_str()),
    ] {
        assert_eq!(attributes[name], value, "{name} in {attributes}");
    }
    // The transcript alone, as the customer's text: no description of the note before it, which a
    // bot waiting for the customer's answer would read instead.
    assert_eq!(customer_texts(&contacts[0]), ["Hi", said]);
    assert_eq!(wav_attachments(&contacts[0]), 1, "the note itself is in the chat");
}

#[tokio::test]
async fn a_voice_note_that_opens_the_chat_opens_it_with_nothing_but_its_transcript() {
    let stack = TestStack::start_with(|o| {
        o.extra_env.extend([
            ("TRANSCRIPT_STYLE".to_owned(), "customer_words".to_owned()),
            ("TRANSCRIBE_STREAM_SPEED".to_owned(), "8".to_owned()),
        ])
    })
    .await;
    let twin = stack.twin();
    let said = "Quiero saber dónde está mi pedido.";
    let (_, voice) = twin.customer_sends_voice_note(VOICE_FIRST, said).await;
    assert!(voice.ok, "{voice:?}");
    twin.settle().await;
    let contacts = twin.contacts_of(VOICE_FIRST).await;
    assert_eq!(contacts.len(), 1, "one chat");
    assert_eq!(customer_texts(&contacts[0]), [said]);
    assert_eq!(wav_attachments(&contacts[0]), 1);

    // The agent ends the chat and the bridge does not hear of it: the next note finds it over and
    // opens a new chat, again with its transcript only.
    let ended = contacts[0]["contact_id"].as_str().unwrap();
    twin.agent(ended, json!({"action": "end", "stream": false})).await;
    let again = "¿Siguen ahí?";
    let (_, voice) = twin.customer_sends_voice_note(VOICE_FIRST, again).await;
    assert!(voice.ok, "{voice:?}");
    twin.settle().await;
    let contacts = twin.contacts_of(VOICE_FIRST).await;
    assert_eq!(contacts.len(), 2, "a new chat");
    assert_eq!(customer_texts(&contacts[1]), [again]);
    assert_eq!(wav_attachments(&contacts[1]), 1);
}

/// How many WAV files the customer attached to the chat.
fn wav_attachments(contact: &Value) -> usize {
    contact["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["role"] == "CUSTOMER")
        .flat_map(|item| item["attachments"].as_array().into_iter().flatten())
        .filter(|file| file["content_type"] == "audio/wav")
        .count()
}
