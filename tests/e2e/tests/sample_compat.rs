//! Issue #24: moving from the AWS sample without editing flows, through the real handlers and the twin.
//! With `SAMPLE_CONTACT_ATTRIBUTES` and `TRANSCRIPT_STYLE=customer_words`, a chat carries the sample's
//! contact attributes and a voice note's transcript reaches it as the customer's own text.

use e2e::{TestStack, customer_texts};

const CUSTOMER: &str = "14255550177";

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
    let texts = customer_texts(&contacts[0]);
    assert_eq!(texts.first().map(String::as_str), Some("Hi"), "{texts:?}");
    assert_eq!(
        texts.last().map(String::as_str),
        Some(said),
        "the transcript alone, as the customer's text: {texts:?}"
    );
    assert!(!texts.iter().any(|t| t.contains("Transcription")), "{texts:?}");
}
