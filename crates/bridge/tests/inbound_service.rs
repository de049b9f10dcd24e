//! WhatsappHandler's service (`InboundBridge`) on the in-memory fakes, through its Lambda entry: the
//! hard paths of a chat's life that otherwise only the end-to-end scenarios reach. A dead holder is
//! set up as the state it leaves behind (a claim and a registration whose leases run out in a few
//! hundred milliseconds), and a retry after a failure finds the failed attempt's claim lapsed
//! (`FakeStateStore::lapse`), so each test takes milliseconds; only the fast hold's extension needs a
//! send that outlasts the real fast lease (that test takes 3 s).

mod services;

use bridge::claims::FAST_LEASE_MS;
use bridge::config::Config;
use bridge::fakes::{
    FakeAttachments, FakeConnect, FakeObjectStore, FakeStateStore, FakeTranscriber, FakeWhatsapp, FakeWhatsappMedia,
    Fault,
};
use bridge::ids::short_hash;
use bridge::ids::{ConversationKey, CustomerId, PhoneNumberId};
use bridge::inbound::InboundBridge;
use bridge::media::handler::MediaBridge;
use bridge::media::service::MediaSettings;
use bridge::outbound::OutboundBridge;
use bridge::ports::{Claim, ClaimTerms, ConversationState, Inflight, StateStore};
use bridge::telemetry::now_ms;
use bridge::translate::OutboundRules;
use serde_json::{Value, json};
use services::{BUSINESS_NUMBER, CUSTOMER, agent_message, invocation, sns};
use std::sync::Arc;
use std::time::Duration;

/// The service and the fakes it runs on (clones: what the service does shows in them).
struct Inbound {
    store: FakeStateStore,
    connect: FakeConnect,
    whatsapp: FakeWhatsapp,
    service: InboundBridge<FakeStateStore, FakeConnect, FakeConnect, FakeWhatsapp>,
}

impl Inbound {
    fn new() -> Self {
        let (store, connect, whatsapp) = Default::default();
        let service = InboundBridge::new(
            config(),
            FakeStateStore::clone(&store),
            FakeConnect::clone(&connect),
            FakeConnect::clone(&connect),
            FakeWhatsapp::clone(&whatsapp),
        );
        Self {
            store,
            connect,
            whatsapp,
            service,
        }
    }

    /// The customer's text `wamid` delivered in an invocation of its own; `at_s`: WhatsApp's timestamp.
    async fn text(&self, wamid: &str, body: &str, at_s: i64) {
        invocation(self.service.handle(&customer_text(wamid, body, at_s)))
            .await
            .unwrap_or_else(|e| panic!("{wamid} bridged: {e}"));
    }

    /// The customer's text `wamid`, whose invocation fails with `fault` on its chat start; returns its
    /// event, for Lambda's retry.
    async fn start_fails(&self, wamid: &str, body: &str, at_s: i64, fault: Fault) -> Value {
        self.connect.faults().next("start_chat", fault);
        let event = customer_text(wamid, body, at_s);
        assert!(invocation(self.service.handle(&event)).await.is_err());
        event
    }

    /// The texts of each chat Connect started, oldest chat first.
    fn chats(&self) -> Vec<Vec<String>> {
        let chats = self.connect.chats();
        chats
            .iter()
            .map(|c| c.texts().into_iter().map(str::to_owned).collect())
            .collect()
    }

    /// What an invocation that died holding `wamid` (sent at `at_s`) leaves behind.
    async fn died_holding(&self, wamid: &str, at_s: i64, left: Left) {
        let Left {
            fast,
            lease_ms,
            opening,
        } = left;
        let now = now_ms();
        let terms = ClaimTerms {
            now_ms: now,
            lease_ms,
            fast,
            owner: "an-invocation-that-died",
            summary: None,
        };
        assert_eq!(
            self.store.claim("wa", wamid, &terms).await.unwrap().claim,
            Claim::Acquired
        );
        let registration = Inflight {
            tag: format!("q_{}", short_hash(wamid)),
            timestamp: at_s,
            received_ns: now * 1_000_000,
            until_ms: now + lease_ms,
        };
        let opener = opening.then_some(now + lease_ms);
        let key = conversation_key();
        self.store
            .register(&key, &registration, wamid, None, opener)
            .await
            .unwrap();
    }
}

fn config() -> Config {
    Config::from_lookup(|name| {
        let value = match name {
            "CONNECT_INSTANCE_ID" => "5d1f0a3c-8e2b-4c6d-9f1a-2b3c4d5e6f70",
            "CONNECT_CONTACT_FLOW_ID" => "9e8d7c6b-5a49-4382-b1c0-f9e8d7c6b5a4",
            "CONNECT_STREAM_TOPIC_ARN" => "arn:aws:sns:us-east-1:123456789012:connect-chat-stream",
            "STATE_TABLE_NAME" => "whatsapp-bridge-state",
            "CUSTOMER_HASH_KEY" => "k3y0f7h1s7es7d3pl0ym3n7abcdefghij",
            _ => return None,
        };
        Some(value.to_owned())
    })
    .expect("a valid configuration")
}

fn conversation_key() -> ConversationKey {
    ConversationKey::new(
        PhoneNumberId::parse(BUSINESS_NUMBER).unwrap(),
        CustomerId::parse(CUSTOMER).unwrap(),
    )
}

/// EUM's event for a customer's text `wamid`, sent at `timestamp` (Unix seconds).
fn customer_text(wamid: &str, body: &str, timestamp: i64) -> Value {
    customer_message(wamid, timestamp, "text", json!({"body": body}))
}

/// EUM's event for a customer's message `wamid` of type `kind`, sent at `timestamp` (Unix seconds) and
/// received by EUM long ago.
fn customer_message(wamid: &str, timestamp: i64, kind: &str, content: Value) -> Value {
    received_message(wamid, timestamp, "2025-11-11T06:51:23.476795989Z", kind, content)
}

/// EUM's event for a customer's text `wamid`, sent at `timestamp` and received by EUM just now.
fn fresh_text(wamid: &str, body: &str, timestamp: i64) -> Value {
    let received = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    received_message(wamid, timestamp, &received, "text", json!({"body": body}))
}

/// EUM's event for a customer's message, with EUM's `message_timestamp` (RFC 3339).
fn received_message(wamid: &str, timestamp: i64, received: &str, kind: &str, content: Value) -> Value {
    let mut message = json!({"from": CUSTOMER, "id": wamid, "timestamp": timestamp.to_string(), "type": kind});
    message[kind] = content;
    let entry = json!({"id": "102290129340398", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": BUSINESS_NUMBER},
        "contacts": [{"profile": {"name": "Sheena"}, "wa_id": CUSTOMER}],
        "messages": [message]}}]});
    sns(
        json!({
            "context": {"MetaWabaIds": [], "MetaPhoneNumberIds": [{"metaPhoneNumberId": BUSINESS_NUMBER,
                "arn": "arn:aws:social-messaging:us-east-1:123456789012:phone-number-id/976c72a700aac43eaf573ae050b1e2f3"}]},
            "whatsAppWebhookEntry": entry.to_string(),
            "aws_account_id": "123456789012",
            "message_timestamp": received
        })
        .to_string(),
        &[],
    )
}

const VOICE: &[u8] = include_bytes!("../../../tests/media/voice-note.ogg");

/// What a dead holder left: its claim (fast or exclusive) and its registration, both running out in
/// `lease_ms`, and with `opening` the start lock its registration took while no chat was active.
struct Left {
    fast: bool,
    lease_ms: i64,
    opening: bool,
}

fn now_s() -> i64 {
    now_ms() / 1000
}

#[tokio::test]
async fn a_chat_that_is_gone_is_reopened_and_the_message_goes_into_the_new_chat() {
    let inbound = Inbound::new();
    let t = now_s();
    inbound.text("wamid.first", "first", t - 2).await;
    let first = inbound.connect.chats()[0].contact_id.clone();
    // The agent left meanwhile: Connect refuses the chat's connection and participant tokens alike.
    inbound.connect.end_chat(&first);

    inbound.text("wamid.second", "second", t - 1).await;

    assert_eq!(inbound.chats(), [vec!["first"], vec!["second"]]);
    let chats = inbound.connect.chats();
    assert_eq!(
        chats[1].request.related_contact_id.as_ref(),
        Some(&first),
        "the new chat is linked to the one that ended"
    );
    let conversation = inbound
        .store
        .load_conversation(&conversation_key())
        .await
        .unwrap()
        .conversation
        .unwrap();
    assert!(matches!(&conversation.state, ConversationState::Active(chat) if chat.contact_id == chats[1].contact_id));
    assert_eq!(conversation.generation, 2);
    assert!(inbound.store.is_done("wa", "wamid.second"));
    let read: Vec<_> = inbound.whatsapp.read().into_iter().map(|(wamid, _)| wamid).collect();
    assert!(
        read.contains(&"wamid.second".to_owned()),
        "blue ticks once it is in the chat"
    );
}

#[tokio::test]
async fn a_message_taken_over_from_a_quiet_fast_holder_is_not_sent_into_a_chat_started_since() {
    let inbound = Inbound::new();
    let t = now_s();
    inbound.text("wamid.first", "first", t - 3).await;
    // The next message's fast holder went quiet right after its claim: it sent the message into the
    // first chat, or died doing so.
    let left = Left {
        fast: true,
        lease_ms: 200,
        opening: false,
    };
    inbound.died_holding("wamid.quiet", t - 2, left).await;
    let first = inbound.connect.chats()[0].contact_id.clone();
    inbound.connect.end_chat(&first);
    // A later message finds the chat gone and starts a new one (after waiting for the quiet one's turn).
    inbound.text("wamid.third", "third", t - 1).await;
    assert_eq!(inbound.chats(), [vec!["first"], vec!["third"]]);

    // Lambda's retry of the quiet message takes it over: it is settled, not sent into the new chat.
    inbound.text("wamid.quiet", "quiet", t - 2).await;

    assert_eq!(inbound.chats(), [vec!["first"], vec!["third"]]);
    assert!(inbound.store.is_done("wa", "wamid.quiet"));
}

#[tokio::test]
async fn a_message_taken_over_from_a_quiet_fast_holder_goes_into_the_same_chat_once() {
    let inbound = Inbound::new();
    let t = now_s();
    inbound.text("wamid.first", "first", t - 2).await;
    let left = Left {
        fast: true,
        lease_ms: 100,
        opening: false,
    };
    inbound.died_holding("wamid.quiet", t - 1, left).await;
    tokio::time::sleep(Duration::from_millis(150)).await;

    // The chat is the one the holder sent into, if it did: the same client token, deduplicated.
    inbound.text("wamid.quiet", "quiet", t - 1).await;
    inbound.text("wamid.quiet", "quiet", t - 1).await;

    assert_eq!(inbound.chats(), [vec!["first", "quiet"]]);
    assert!(inbound.store.is_done("wa", "wamid.quiet"));
}

#[tokio::test]
async fn a_dead_openers_start_lock_is_taken_over_once_its_hold_ran_out() {
    let inbound = Inbound::new();
    let t = now_s();
    // The customer's first message took the start lock, then its invocation died before any chat.
    let left = Left {
        fast: false,
        lease_ms: 300,
        opening: true,
    };
    inbound.died_holding("wamid.opener", t - 2, left).await;
    let view = inbound.store.load_conversation(&conversation_key()).await.unwrap();
    assert_eq!(
        view.opener.map(|o| o.tag),
        Some(format!("q_{}", short_hash("wamid.opener")))
    );

    inbound.text("wamid.next", "next", t - 1).await;
    assert_eq!(inbound.chats(), [vec!["next"]], "the next message starts the chat");
    // Lambda's retry of the dead opener's message goes into that chat: one chat, nothing lost.
    inbound.text("wamid.opener", "opener", t - 2).await;

    assert_eq!(inbound.chats(), [vec!["next", "opener"]]);
    let view = inbound.store.load_conversation(&conversation_key()).await.unwrap();
    assert_eq!(
        view.opener.map(|o| o.tag),
        Some(format!("q_{}", short_hash("wamid.next")))
    );
    assert_eq!(view.conversation.map(|c| c.generation), Some(1));
}

#[tokio::test]
async fn a_message_whose_completing_write_lost_its_answer_is_a_duplicate_on_the_retry() {
    let inbound = Inbound::new();
    // The write landed; its answer did not (the SDK gave up): the invocation fails and Lambda retries.
    inbound
        .store
        .faults()
        .next("complete", Fault::timeout("TransactWriteItems"));
    let event = customer_text("wamid.once", "once", now_s() - 1);
    assert!(invocation(inbound.service.handle(&event)).await.is_err());
    assert!(inbound.store.is_done("wa", "wamid.once"));

    invocation(inbound.service.handle(&event)).await.unwrap();

    assert_eq!(inbound.chats(), [vec!["once"]], "one chat, the message once");
    let view = inbound.store.load_conversation(&conversation_key()).await.unwrap();
    assert!(view.inflight.is_empty(), "the redelivery leaves no registration behind");
}

#[tokio::test]
async fn a_fast_send_that_outlasts_half_the_fast_lease_extends_the_hold() {
    let inbound = Arc::new(Inbound::new());
    let t = now_s();
    inbound.text("wamid.first", "first", t - 2).await;
    // Into the chat this process saw open: the fast hold; its one SendMessage takes twice the lease.
    let lease = Duration::from_millis(FAST_LEASE_MS as u64);
    inbound.connect.faults().next("send_message", Fault::Slow(lease * 2));
    let send = tokio::spawn({
        let inbound = Arc::clone(&inbound);
        async move { inbound.text("wamid.slow", "slow", t - 1).await }
    });
    // Half a lease after the hold was extended (at half the fast lease), half a lease before the send
    // answers: a redelivery that looks once the fast lease is surely over finds the message held, not
    // free to replay.
    tokio::time::sleep(lease).await;
    let redelivery = ClaimTerms {
        now_ms: now_ms() + FAST_LEASE_MS,
        lease_ms: 3_000,
        fast: false,
        owner: "a-redelivery",
        summary: None,
    };
    let claim = inbound.store.claim("wa", "wamid.slow", &redelivery).await.unwrap();
    assert_eq!(claim.claim, Claim::Busy);
    send.await.unwrap();

    assert_eq!(inbound.chats(), [vec!["first", "slow"]]);
    assert!(inbound.store.is_done("wa", "wamid.slow"));
}

#[tokio::test]
async fn a_retry_after_a_failure_neither_transcribes_a_voice_note_again_nor_repeats_what_the_customer_was_told() {
    let inbound = Inbound::new();
    let bucket = FakeObjectStore::default();
    let attachments = FakeAttachments::default();
    let transcriber = FakeTranscriber::hearing("hello there");
    let media = MediaBridge {
        whatsapp: FakeWhatsappMedia::new(&bucket, &[("2754859441498128", "audio/ogg; codecs=opus", VOICE)]),
        store: bucket,
        attachments: attachments.clone(),
        transcriber: transcriber.clone(),
        settings: MediaSettings::from_lookup(|name| (name == "MEDIA_BUCKET_NAME").then(|| "media".to_owned())).unwrap(),
    };
    let Inbound {
        store,
        connect,
        whatsapp,
        service,
    } = inbound;
    let service = service.with_media(Arc::new(media));
    let voice = customer_message(
        "wamid.voice",
        now_s() - 1,
        "audio",
        json!({"mime_type": "audio/ogg; codecs=opus", "id": "2754859441498128", "voice": true}),
    );
    // The file, its transcript and the customer's echo of it all went out; the completing write failed.
    store.faults().next("complete", Fault::throttled("TransactWriteItems"));
    assert!(invocation(service.handle(&voice)).await.is_err(), "retried by Lambda");
    assert_eq!(whatsapp.sent().len(), 1);
    store.lapse("wa", "wamid.voice");

    invocation(service.handle(&voice)).await.unwrap();

    assert!(store.is_done("wa", "wamid.voice"));
    assert_eq!(transcriber.heard().len(), 1, "transcribed once");
    assert_eq!(attachments.attached().len(), 1, "attached once");
    let told: Vec<_> = whatsapp
        .sent()
        .iter()
        .filter_map(|s| s.text().map(str::to_owned))
        .collect();
    assert_eq!(told, ["🎤 \"hello there\""], "the customer hears their transcript once");
    let chat = &connect.chats()[0];
    assert!(
        chat.texts().iter().any(|t| t.contains("hello there")),
        "{:?}",
        chat.texts()
    );
    let unique: std::collections::HashSet<_> = chat.texts().into_iter().collect();
    assert_eq!(unique.len(), chat.texts().len(), "nothing twice in the chat");
}

#[tokio::test]
async fn a_retry_after_a_failure_does_not_send_a_menu_page_again() {
    let inbound = Inbound::new();
    let t = now_s();
    inbound.text("wamid.hi", "hi", t - 2).await;
    let contact = inbound.connect.chats()[0].contact_id.clone();
    // The agent's list has more options than a WhatsApp list holds: its first page goes out.
    let elements: Vec<_> = (1..=15).map(|n| json!({"title": format!("Option {n}")})).collect();
    let list = json!({"templateType": "ListPicker", "version": "1.0", "data": {
        "replyMessage": {"title": "Thanks"},
        "content": {"title": "Which one?", "elements": elements}}});
    let outbound = OutboundBridge::new(
        OutboundRules::default(),
        inbound.store.clone(),
        inbound.whatsapp.clone(),
        inbound.connect.clone(),
    );
    let event = agent_message(
        contact.as_str(),
        "item-list",
        "application/vnd.amazonaws.connect.message.interactive",
        &list.to_string(),
        now_ms() - 10_000,
    );
    invocation(outbound.handle(&event)).await.unwrap();
    let first_page = inbound.whatsapp.sent()[0].message.clone();
    let rows = first_page
        .pointer("/interactive/action/sections/0/rows")
        .and_then(Value::as_array)
        .unwrap();
    let more = rows.last().unwrap()["id"].as_str().unwrap().to_owned();

    // The customer asks for more; the page goes out, the completing write fails.
    let ask = customer_message(
        "wamid.more",
        t - 1,
        "interactive",
        json!({"type": "list_reply", "list_reply": {"id": more, "title": "More options"}}),
    );
    inbound
        .store
        .faults()
        .next("complete", Fault::throttled("TransactWriteItems"));
    assert!(
        invocation(inbound.service.handle(&ask)).await.is_err(),
        "retried by Lambda"
    );
    assert_eq!(inbound.whatsapp.sent().len(), 2, "the next page went out");
    inbound.store.lapse("wa", "wamid.more");

    invocation(inbound.service.handle(&ask)).await.unwrap();

    assert_eq!(inbound.whatsapp.sent().len(), 2, "not again");
    assert!(inbound.store.is_done("wa", "wamid.more"));
    assert_eq!(inbound.chats(), [vec!["hi"]], "the agent hears nothing of it");
}

#[tokio::test]
async fn a_new_chats_first_text_goes_in_with_its_start_and_a_long_ones_rest_follows() {
    let inbound = Inbound::new();
    inbound.text("wamid.hi", "hi", now_s() - 1).await;

    assert_eq!(inbound.chats(), [vec!["hi"]]);
    let chat = &inbound.connect.chats()[0];
    assert_eq!(
        chat.request.initial_message,
        Some(("text/plain".to_owned(), "hi".to_owned()))
    );
    assert_eq!(inbound.connect.faults().calls("send_message"), 0, "in with the start");
    assert!(inbound.store.is_done("wa", "wamid.hi"));

    // Longer than Connect takes in one message: the first part starts the chat, the rest follows.
    let inbound = Inbound::new();
    let long = format!("{} {}", "a".repeat(1000), "b".repeat(500));
    inbound.text("wamid.long", &long, now_s() - 1).await;

    let parts = inbound.chats().remove(0);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts.concat().replace(' ', ""), long.replace(' ', ""));
    assert_eq!(inbound.connect.faults().calls("send_message"), 1);
}

#[tokio::test]
async fn a_start_that_landed_without_its_answer_and_was_taken_over_puts_each_text_in_once() {
    let inbound = Inbound::new();
    let t = now_s();
    // The first message's start lands with its text, but the answer is lost: it fails and is retried.
    let first = inbound
        .start_fails("wamid.a", "a", t - 2, Fault::timeout("StartChatContact"))
        .await;
    // The next message takes the lock for the same chat: Connect hands it that chat, with the first
    // message's text in, whatever its own start carries.
    inbound.text("wamid.b", "b", t - 1).await;
    assert_eq!(inbound.chats(), [vec!["a", "b"]]);
    // The first message's retry finds its text in the chat it started.
    invocation(inbound.service.handle(&first)).await.unwrap();

    assert_eq!(inbound.chats(), [vec!["a", "b"]], "one chat, each text once");
    assert!(inbound.store.is_done("wa", "wamid.a"));
    assert!(inbound.store.is_done("wa", "wamid.b"));
}

#[tokio::test]
async fn a_start_that_failed_before_it_landed_is_not_taken_for_one_that_did() {
    let inbound = Inbound::new();
    let t = now_s();
    let first = inbound
        .start_fails("wamid.a", "a", t - 2, Fault::throttled("StartChatContact"))
        .await;
    inbound.text("wamid.b", "b", t - 1).await;
    assert_eq!(
        inbound.chats(),
        [vec!["b"]],
        "the next message's chat holds only its own text"
    );

    invocation(inbound.service.handle(&first)).await.unwrap();

    assert_eq!(inbound.chats(), [vec!["b", "a"]], "nothing lost");
}

#[tokio::test]
async fn an_opener_retried_after_its_text_went_in_does_not_send_it_again() {
    let inbound = Inbound::new();
    // The chat started with the text and became active; the completing write failed.
    inbound
        .store
        .faults()
        .next("complete", Fault::throttled("TransactWriteItems"));
    let event = customer_text("wamid.once", "once", now_s() - 1);
    assert!(invocation(inbound.service.handle(&event)).await.is_err());
    assert!(!inbound.store.is_done("wa", "wamid.once"));

    invocation(inbound.service.handle(&event)).await.unwrap();

    assert_eq!(inbound.chats(), [vec!["once"]]);
    assert_eq!(inbound.connect.faults().calls("send_message"), 0);
    assert!(inbound.store.is_done("wa", "wamid.once"));
}

#[tokio::test]
async fn an_earlier_message_that_arrives_moments_after_the_chat_starting_one_still_goes_first() {
    let inbound = Arc::new(Inbound::new());
    let t = now_s();
    // EUM received both at once; SNS and Lambda hand the later one to the handler first.
    let (earlier, later) = (fresh_text("wamid.m0", "m0", t - 1), fresh_text("wamid.m1", "m1", t));
    let first = {
        let inbound = Arc::clone(&inbound);
        tokio::spawn(async move { invocation(inbound.service.handle(&later)).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    invocation(inbound.service.handle(&earlier)).await.unwrap();
    first.await.unwrap().unwrap();

    assert_eq!(
        inbound.chats(),
        [vec!["m0", "m1"]],
        "in the order the customer sent them"
    );
}
