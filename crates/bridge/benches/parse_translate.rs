//! Parsing and translation, the bridge's own work per message (issue #7: ≤ 50 µs): from the Lambda
//! event's bytes through the SNS envelope and the typed message to what is sent — the Connect
//! `SendMessage` content for a customer's message, the `SendWhatsAppMessage` blob for an agent's.
//! The events are the shared fixtures (`tests/fixtures/`), exactly as SNS delivers them.

use bridge::connect_stream::parse_item;
use bridge::ids::CustomerId;
use bridge::sns::notifications;
use bridge::translate::{InboundAction, InboundState, OutboundPlan, OutboundRules, plan_message, plan_outbound_with};
use bridge::whatsapp::outgoing::OutgoingMessage;
use bridge::whatsapp::{Inbound, parse_eum};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/", $name)),
        )
    };
}

const INBOUND: &[(&str, &str)] = &[
    fixture!("eum-text.json"),
    fixture!("eum-text-reply.json"),
    fixture!("eum-interactive-list-reply.json"),
    fixture!("eum-location.json"),
    fixture!("eum-image.json"),
    fixture!("eum-multi-record.json"),
];

const OUTBOUND: &[(&str, &str)] = &[
    fixture!("connect-stream-agent-message.json"),
    fixture!("connect-stream-agent-markdown.json"),
    fixture!("connect-stream-interactive-quickreply.json"),
    fixture!("connect-stream-interactive-listpicker.json"),
    fixture!("connect-stream-interactive-panel.json"),
    fixture!("connect-stream-participant-joined.json"),
];

/// A customer's message event → the Connect `SendMessage` (content type, content) of each message.
fn inbound(event: &str) -> Vec<(String, String)> {
    let event: serde_json::Value = serde_json::from_str(event).expect("fixture is JSON");
    let mut sends = Vec::new();
    for notification in notifications(&event).expect("an SNS event").into_iter().flatten() {
        let Ok(eum) = parse_eum(&notification.message) else {
            continue;
        };
        for item in eum.changes.iter().flat_map(|c| c.items.iter().flatten()) {
            if let Inbound::Message(m) = item
                && let InboundAction::Send { content_type, content } =
                    plan_message(&m.content, m.context.as_ref(), &InboundState::default())
            {
                sends.push((content_type, content));
            }
        }
    }
    sends
}

/// A Connect streaming event → the `SendWhatsAppMessage` message blobs it becomes.
fn outbound(event: &str, rules: &OutboundRules, to: &CustomerId) -> Vec<Vec<u8>> {
    let event: serde_json::Value = serde_json::from_str(event).expect("fixture is JSON");
    let mut blobs = Vec::new();
    for notification in notifications(&event).expect("an SNS event").into_iter().flatten() {
        let Ok(item) = parse_item(&notification) else { continue };
        if let OutboundPlan::Send { messages, .. } = plan_outbound_with(&item, rules) {
            blobs.extend(messages.into_iter().map(|m| OutgoingMessage::new(to, m).to_json()));
        }
    }
    blobs
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("inbound");
    for (name, event) in INBOUND {
        assert!(!inbound(event).is_empty(), "{name} becomes no Connect message");
        group.throughput(Throughput::Elements(1));
        group.bench_function(name.trim_end_matches(".json"), |b| b.iter(|| inbound(black_box(event))));
    }
    group.finish();

    let rules = OutboundRules::default();
    let to = CustomerId::parse("14255550150").expect("a wa_id");
    let mut group = c.benchmark_group("outbound");
    for (name, event) in OUTBOUND {
        assert!(
            !outbound(event, &rules, &to).is_empty(),
            "{name} becomes no WhatsApp message"
        );
        group.throughput(Throughput::Elements(1));
        group.bench_function(name.trim_end_matches(".json"), |b| {
            b.iter(|| outbound(black_box(event), &rules, &to))
        });
    }
    group.finish();
}

criterion_group!(parse_translate, benches);
criterion_main!(parse_translate);
