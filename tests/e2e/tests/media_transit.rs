//! Issue #20: files in transit through the real handlers. A file larger than the bridge takes never
//! sits whole in a handler's memory, whatever its metadata says; both sides are told once; a file
//! within the limits passes through as a stream, intact; and the media bucket keeps nothing once a
//! file has reached its side.

use base64::Engine;
use e2e::{TestStack, Twin, customer_texts};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CUSTOMER: &str = "14255550150";
const MIB: u64 = 1024 * 1024;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A body of `len` bytes that compresses badly, starting with `magic`.
fn file(magic: &[u8], len: usize) -> Vec<u8> {
    let mut bytes = magic.to_vec();
    bytes.extend((0..len - magic.len()).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0]));
    bytes
}

async fn contact_id(twin: &Twin) -> String {
    twin.contacts_of(CUSTOMER).await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The customer writes `text` and an agent joins the chat it opens; returns the contact id.
async fn chat_with_agent(twin: &Twin, text: &str) -> String {
    twin.customer_texts(CUSTOMER, text).await;
    twin.settle().await;
    let id = contact_id(twin).await;
    twin.agent(&id, json!({"action": "join", "display_name": "Ana"})).await;
    twin.settle().await;
    id
}

/// What the customer was told on WhatsApp about the file `name`, and the notes about it in the chat.
async fn told_about(twin: &Twin, name: &str) -> (Vec<String>, Vec<String>) {
    let about = |texts: Vec<String>| -> Vec<String> { texts.into_iter().filter(|t| t.contains(name)).collect() };
    let chat = twin.contacts_of(CUSTOMER).await.remove(0);
    (about(twin.texts_to(CUSTOMER).await), about(customer_texts(&chat)))
}

/// The live process of `function`: (pid, peak RSS since the last reset, RSS now), in bytes.
async fn process(twin: &Twin, function: &str) -> (u64, u64, u64) {
    let processes = twin.get("/processes").await;
    let live: Vec<&Value> = processes
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["function"] == function && p["exited_us"].is_null())
        .collect();
    assert_eq!(live.len(), 1, "one live {function}: {processes:#}");
    let kib = |field: &str| live[0][field].as_u64().expect("the twin reads /proc") * 1024;
    (live[0]["pid"].as_u64().unwrap(), kib("vm_hwm_kib"), kib("vm_rss_kib"))
}

/// The keys in the media bucket (moto's S3, listed directly).
async fn bucket_keys(stack: &TestStack) -> Vec<String> {
    let moto = stack.stack().moto_url().expect("moto");
    let listing = reqwest::Client::new()
        .get(format!("{moto}/whatsapp-bridge-media?list-type=2"))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send()
        .await
        .expect("moto")
        .text()
        .await
        .expect("listing");
    listing
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_agents_90_mb_document_is_not_fetched_and_both_sides_are_told_once() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let id = chat_with_agent(twin, "Can you send me the full manual?").await;
    twin.post("/processes/reset-peak", json!({})).await;
    let (pid, _, before) = process(twin, "ConnectHandler").await;

    // Connect lets the agent attach it (an instance may allow 100 MB); the bridge takes 20 MB.
    let manual = file(b"%PDF-1.7", 90_000_000);
    let inv = twin
        .agent(
            &id,
            json!({"action": "attachment", "name": "manual.pdf", "content_type": "application/pdf", "data": b64(&manual)}),
        )
        .await;
    drop(manual);
    assert!(inv.iter().all(|i| i.ok), "{inv:?}");
    twin.settle().await;

    assert!(twin.media_sent_to(CUSTOMER).await.is_empty(), "not sent");
    assert_eq!(twin.calls_to("PostWhatsAppMessageMedia").await, 0);
    let (notices, notes) = told_about(twin, "manual.pdf").await;
    assert_eq!(notices.len(), 1, "the customer is told once: {notices:?}");
    assert!(notices[0].contains("too large"), "{notices:?}");
    assert_eq!(notes.len(), 1, "the agent is told once: {notes:?}");
    assert!(notes[0].contains("not sent to the customer"), "{notes:?}");
    // The same process, alive, and it never held the file.
    let (after, peak, _) = process(twin, "ConnectHandler").await;
    assert_eq!(after, pid, "no crash");
    eprintln!(
        "ConnectHandler peak RSS with a 90 MB agent document: {} MiB (RSS before {} MiB)",
        peak / MIB,
        before / MIB
    );
    assert!(
        peak < before + 20 * MIB,
        "peak RSS {} MiB: the file was read",
        peak / MIB
    );
    assert!(bucket_keys(&stack).await.is_empty());
}

/// The customer's notice is a WhatsApp message, which has no idempotency token; the agent's note is
/// a Connect message that has one. When the note fails, Lambda's retry must not tell the customer
/// twice.
#[tokio::test]
async fn a_failed_note_about_an_agents_oversized_file_does_not_repeat_the_customers_notice() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let id = chat_with_agent(twin, "Can you send me the brochure?").await;
    // Every attempt the SDK makes at the note fails: the invocation fails and Lambda retries it.
    twin.fault(json!({"service": "connectparticipant", "operation": "SendMessage", "error": "ThrottlingException", "times": 4}))
        .await;
    let brochure = file(b"%PDF-1.7", 25_000_000);
    twin.agent(
        &id,
        json!({"action": "attachment", "name": "brochure.pdf", "content_type": "application/pdf", "data": b64(&brochure)}),
    )
    .await;
    twin.settle().await;
    assert_eq!(twin.get("/faults").await, json!([]), "the note failed once");

    let (notices, notes) = told_about(twin, "brochure.pdf").await;
    assert_eq!(notices.len(), 1, "the customer is told once: {notices:?}");
    assert_eq!(notes.len(), 1, "the agent is told once: {notes:?}");
}

#[tokio::test]
async fn a_customer_file_announced_as_0_bytes_that_holds_50_mb_is_refused_without_being_read() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    twin.customer_texts(CUSTOMER, "Here comes the scan").await;
    twin.settle().await;
    twin.post("/processes/reset-peak", json!({})).await;
    let (pid, _, before) = process(twin, "WhatsappHandler").await;

    let scan = file(b"%PDF-1.4", 50_000_000);
    let (_, inv) = twin
        .customer_sends(
            CUSTOMER,
            json!({"type": "document", "document": {"data": b64(&scan), "mime_type": "application/pdf",
                   "filename": "scan.pdf", "announced_size": 0}}),
        )
        .await;
    drop(scan);
    assert!(inv.ok, "{inv:?}");
    twin.settle().await;

    let chat = twin.contacts_of(CUSTOMER).await.remove(0);
    let attached = chat["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["attachments"].as_array().is_some_and(|a| !a.is_empty()))
        .count();
    assert_eq!(attached, 0, "not attached");
    let notes: Vec<String> = customer_texts(&chat)
        .into_iter()
        .filter(|t| t.contains("scan.pdf") && t.contains("larger"))
        .collect();
    assert_eq!(notes.len(), 1, "the agent is told once: {notes:?}");
    let notices: Vec<String> = twin
        .texts_to(CUSTOMER)
        .await
        .into_iter()
        .filter(|t| t.contains("too large"))
        .collect();
    assert_eq!(notices.len(), 1, "the customer is told once: {notices:?}");
    let (after, peak, _) = process(twin, "WhatsappHandler").await;
    assert_eq!(after, pid, "no crash");
    eprintln!(
        "WhatsappHandler peak RSS with a 50 MB file announced as 0 bytes: {} MiB (RSS before {} MiB)",
        peak / MIB,
        before / MIB
    );
    // Reading the body would take at least 50 MB more; refusing it from its length takes little.
    assert!(
        peak < before + 20 * MIB,
        "peak RSS {} MiB: the body was read",
        peak / MIB
    );
    assert!(bucket_keys(&stack).await.is_empty(), "the copy is deleted");
}

#[tokio::test]
async fn a_photo_each_way_leaves_nothing_in_the_media_bucket() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let jpeg = file(b"\xFF\xD8\xFF\xE0", 200_000);
    let (_, inv) = twin
        .customer_sends(
            CUSTOMER,
            json!({"type": "image", "image": {"data": b64(&jpeg), "mime_type": "image/jpeg"}}),
        )
        .await;
    assert!(inv.ok, "{inv:?}");
    twin.settle().await;
    let id = contact_id(twin).await;
    twin.agent(&id, json!({"action": "join", "display_name": "Ana"})).await;
    let png = file(b"\x89PNG\r\n\x1a\n", 200_000);
    let inv = twin
        .agent(
            &id,
            json!({"action": "attachment", "name": "map.png", "content_type": "image/png", "data": b64(&png)}),
        )
        .await;
    assert!(inv.iter().all(|i| i.ok), "{inv:?}");
    twin.settle().await;

    let chat = twin.contacts_of(CUSTOMER).await.remove(0);
    assert!(
        chat["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["role"] == "CUSTOMER" && i["attachments"][0]["content_type"] == "image/jpeg"),
        "the photo reached the chat"
    );
    assert_eq!(twin.media_sent_to(CUSTOMER).await.len(), 1, "the map reached WhatsApp");
    assert_eq!(bucket_keys(&stack).await, Vec::<String>::new());
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The customer sends a document of `len` bytes, the agent another; returns both.
async fn a_document_each_way(twin: &Twin, id: &str, len: usize) -> (Vec<u8>, Vec<u8>) {
    let scan = file(b"%PDF-1.4", len);
    let (_, inv) = twin
        .customer_sends(
            CUSTOMER,
            json!({"type": "document", "document": {"data": b64(&scan), "mime_type": "application/pdf",
                   "filename": "scan.pdf"}}),
        )
        .await;
    assert!(inv.ok, "{inv:?}");
    let manual = file(b"%PDF-1.7", len);
    let inv = twin
        .agent(
            id,
            json!({"action": "attachment", "name": "manual.pdf", "content_type": "application/pdf", "data": b64(&manual)}),
        )
        .await;
    assert!(inv.iter().all(|i| i.ok), "{inv:?}");
    twin.settle().await;
    (scan, manual)
}

/// Files that need no conversion pass through the handlers as streams, a chunk at a time: a
/// 15 MB document each way arrives byte for byte, and neither handler holds it whole.
#[tokio::test]
async fn a_15_mb_document_each_way_arrives_intact_without_being_held_whole() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let id = chat_with_agent(twin, "Here come the scans").await;
    // Smaller files first, so the clients and buffers that any file needs are in place.
    for len in [100_000, 1_000_000] {
        a_document_each_way(twin, &id, len).await;
    }
    twin.post("/processes/reset-peak", json!({})).await;
    let before = [
        process(twin, "WhatsappHandler").await.2,
        process(twin, "ConnectHandler").await.2,
    ];
    let (scan, manual) = a_document_each_way(twin, &id, 15_000_000).await;
    for (function, before) in ["WhatsappHandler", "ConnectHandler"].into_iter().zip(before) {
        let (_, peak, _) = process(twin, function).await;
        eprintln!(
            "{function} peak RSS passing on a 15 MB document: {} MiB (RSS before {} MiB)",
            peak / MIB,
            before / MIB
        );
        // Held whole, the file alone would take 14 MiB more.
        assert!(peak < before + 8 * MIB, "{function}: peak RSS {} MiB", peak / MIB);
    }

    let chat = twin.contacts_of(CUSTOMER).await.remove(0);
    let attached: Vec<&Value> = chat["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["attachments"].as_array())
        .flatten()
        .filter(|a| a["name"] == "scan.pdf" && a["size"] == 15_000_000)
        .collect();
    assert_eq!(attached.len(), 1, "{attached:?}");
    assert_eq!(attached[0]["sha256"], sha(&scan), "the chat has the customer's bytes");
    let sent = twin.media_sent_to(CUSTOMER).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[2]["message"]["document"]["filename"], "manual.pdf");
    assert_eq!(
        sent[2]["media"]["sha256"],
        sha(&manual),
        "the customer has the agent's bytes"
    );
    assert!(bucket_keys(&stack).await.is_empty());
}
