//! ConnectHandler's service (`OutboundBridge`) on the in-memory fakes, through its Lambda entry: the
//! order of a chat's items when SNS delivers them out of order (held back by the order window, or by an
//! earlier item still being sent), and a retry after a partial failure that sends only what had not
//! gone out. Items are stamped a moment in the past, so what is left of the order window (a fraction
//! of a second) is all a test waits.

mod services;

use bridge::fakes::{FakeConnect, FakeStateStore, FakeWhatsapp, Fault};
use bridge::ids::{ContactId, CustomerId, OriginationId, PhoneNumberId};
use bridge::outbound::OutboundBridge;
use bridge::ports::{ContactRecord, StateStore};
use bridge::telemetry::now_ms;
use bridge::translate::OutboundRules;
use services::{BUSINESS_NUMBER, CUSTOMER, agent_message, invocation};
use std::sync::Arc;
use std::time::Duration;

const CONTACT: &str = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d";

struct Outbound {
    store: FakeStateStore,
    whatsapp: FakeWhatsapp,
    service: OutboundBridge<FakeStateStore, FakeWhatsapp, FakeConnect>,
}

impl Outbound {
    /// The service, with the chat `CONTACT` mapped to the customer.
    async fn new() -> Self {
        let (store, whatsapp) = (FakeStateStore::default(), FakeWhatsapp::default());
        let contact = ContactRecord {
            initial_contact_id: ContactId::parse(CONTACT).unwrap(),
            phone_number_id: PhoneNumberId::parse(BUSINESS_NUMBER).unwrap(),
            customer_id: CustomerId::parse(CUSTOMER).unwrap(),
            phone: None,
            origination_id: OriginationId::parse("phone-number-id-976c72a700aac43eaf573ae050b1e2f3").unwrap(),
        };
        store.put_contact(&contact, 3600).await.unwrap();
        let service = OutboundBridge::new(
            OutboundRules::default(),
            store.clone(),
            whatsapp.clone(),
            FakeConnect::default(),
        );
        Self {
            store,
            whatsapp,
            service,
        }
    }

    /// The agent's text `id`, received by Connect at `at_ms`, delivered in an invocation of its own.
    async fn agent_says(&self, id: &str, text: &str, at_ms: i64) -> Result<(), String> {
        let event = agent_message(CONTACT, id, "text/plain", text, at_ms);
        invocation(self.service.handle(&event)).await.map_err(|e| e.to_string())
    }

    fn texts(&self) -> Vec<String> {
        self.whatsapp
            .sent()
            .iter()
            .filter_map(|s| s.text().map(str::to_owned))
            .collect()
    }
}

impl Outbound {
    /// Delivers two items of the chat in two invocations, the second 50 ms after the first, and returns
    /// what the customer received. Each item: (id, text, how long before now Connect received it).
    async fn race(
        self: Arc<Self>,
        first: (&'static str, &'static str, i64),
        second: (&'static str, &'static str, i64),
    ) -> Vec<String> {
        let now = now_ms();
        let delivered_first = tokio::spawn({
            let outbound = Arc::clone(&self);
            async move { outbound.agent_says(first.0, first.1, now - first.2).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.agent_says(second.0, second.1, now - second.2).await.unwrap();
        delivered_first.await.unwrap().unwrap();
        self.texts()
    }
}

#[tokio::test]
async fn an_item_delivered_after_a_later_one_of_its_chat_still_goes_first() {
    let outbound = Arc::new(Outbound::new().await);
    // The later item reaches the handler first, inside the order window of both.
    let texts = outbound
        .race(("item-later", "second", 100), ("item-earlier", "first", 300))
        .await;
    assert_eq!(texts, ["first", "second"]);
}

#[tokio::test]
async fn an_item_waits_while_an_earlier_one_of_its_chat_is_being_sent() {
    let outbound = Arc::new(Outbound::new().await);
    // Both past the order window; the earlier one's send is slow, and the later one is claimed meanwhile.
    outbound
        .whatsapp
        .faults()
        .next("send", Fault::Slow(Duration::from_millis(300)));
    let texts = outbound
        .race(("item-earlier", "first", 1_000), ("item-later", "second", 900))
        .await;
    assert_eq!(texts, ["first", "second"]);
}

#[tokio::test]
async fn a_retry_after_a_partial_failure_sends_only_the_parts_that_had_not_gone_out() {
    let outbound = Outbound::new().await;
    let at = now_ms() - 10_000;
    // Longer than a WhatsApp text: two messages. The second is throttled the first time.
    let text = format!("{}\n\n{}", "a".repeat(4000), "b".repeat(1000));
    outbound.whatsapp.faults().next("send", Fault::Slow(Duration::ZERO));
    outbound
        .whatsapp
        .faults()
        .next("send", Fault::throttled("SendWhatsAppMessage"));
    assert!(
        outbound.agent_says("item-long", &text, at).await.is_err(),
        "retried by Lambda"
    );
    assert_eq!(outbound.texts().len(), 1);

    outbound.agent_says("item-long", &text, at).await.unwrap();

    let texts = outbound.texts();
    assert_eq!(texts.len(), 2, "the first part is not sent again");
    assert!(texts[0].starts_with('a') && texts[1].starts_with('b'));
    assert_eq!(texts.concat().chars().filter(|c| *c != '\n').count(), 5000);
    let last = outbound.whatsapp.sent().last().unwrap().id.clone();
    assert!(
        outbound.store.load_sent(&last).await.unwrap().is_some(),
        "receipts find the item"
    );
    assert!(outbound.agent_says("item-long", &text, at).await.is_ok());
    assert_eq!(outbound.texts().len(), 2, "a redelivery of the item sends nothing");
}
