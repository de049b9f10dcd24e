//! The state store's contract, and the DynamoDB adapter against moto beyond it.
//!
//! Each case of the contract is a function generic over [`StateStore`], run once on the in-memory fake
//! (`bridge::fakes::FakeStateStore`) and once on the DynamoDB adapter against moto: the adapter is the
//! truth, so a case that passes on moto and fails on the fake shows a bug in the fake. The cases: a start
//! lock whose holder died is taken over once its hold ran out, and only then, and stays with its chat;
//! a message's claim is its owner's alone to renew, record on, release or take again, and a fast one
//! that went quiet is replayed; a Connect item's claim on its contact mapping, with what a failed
//! attempt sent; and the conversation's chat, menu and typing slot.
//!
//! The moto-only tests reach what the port does not show: a bridged Connect item stays known for an
//! hour or two, then is removed from the contact mapping by the next item's completing write (an earlier
//! release's done claims are read and removed alike), and a done claim keeps no record of its steps.

use aws_sdk_dynamodb::types::AttributeValue;
use bridge::aws::DynamoStore;
use bridge::fakes::FakeStateStore;
use bridge::ids::{ContactId, ConversationKey, CustomerId, ItemId, OriginationId, PhoneNumberId};
use bridge::ports::{
    Claim, ClaimTerms, ContactRecord, ItemTerms, MediaAftermath, Renewal, Said, SentRecord, StateStore, Step,
};
use cases::*;
use local_aws::{Stack, StackOptions};
use std::collections::HashMap;

#[path = "state_store/cases.rs"]
mod cases;

const TABLE: &str = "whatsapp-bridge-state";

fn client(moto: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"),
        ))
        .build();
    aws_sdk_dynamodb::Client::new(&config)
}

/// A Connect item's claim at `now_ms` by `owner`, for a minute.
fn item_terms(now_ms: i64, owner: &str) -> ItemTerms<'_> {
    ItemTerms {
        now_ms,
        lease_ms: 60_000,
        owner,
        at_ms: now_ms,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridged_items_are_found_for_an_hour_or_two_then_leave_the_contact_mapping_with_the_next_completion() {
    // moto from the project's venv (`make setup`), as every test of the stack needs.
    let opts = StackOptions::default().without_handlers();
    let stack = Stack::start(opts).await.unwrap();
    let dynamodb = client(stack.moto_url().unwrap());
    let store = DynamoStore::new(dynamodb.clone(), TABLE.into());
    let contact_id = ContactId::parse("contact-1").unwrap();
    store
        .put_contact(
            &ContactRecord {
                initial_contact_id: contact_id.clone(),
                phone_number_id: PhoneNumberId::parse("106540352242922").unwrap(),
                customer_id: CustomerId::parse("14255550150").unwrap(),
                phone: None,
                origination_id: OriginationId::parse("phone-number-id-976c").unwrap(),
            },
            3600,
        )
        .await
        .unwrap();
    let now = bridge::telemetry::now_ms();
    let hour = now.div_euclid(HOUR_MS);
    let raw =
        |expression: &'static str, names: Vec<(&'static str, String)>, values: Vec<(&'static str, AttributeValue)>| {
            dynamodb
                .update_item()
                .table_name(TABLE)
                .key("pk", AttributeValue::S(format!("contact#{contact_id}")))
                .update_expression(expression)
                .set_expression_attribute_names(Some(names.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
                .set_expression_attribute_values(Some(values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
                .send()
        };

    // Two items bridged now; the first is then filed two hours back, where no claim looks any more.
    for id in ["item-old", "item-recent"] {
        let item = ItemId::parse(id).unwrap();
        let taken = store
            .claim_item(&contact_id, &item, &item_terms(now, "a"))
            .await
            .unwrap();
        assert_eq!(taken.claim, Claim::Acquired);
        assert!(taken.contact.is_some(), "the claim returns whom to send to");
        store.complete_item(&contact_id, &item, &[], &[]).await.unwrap();
    }
    let old = hash("item-old");
    raw(
        "DELETE #now :h ADD #old :h",
        vec![("#now", format!("d_{hour}")), ("#old", format!("d_{}", hour - 2))],
        vec![(":h", AttributeValue::Ss(vec![old.clone()]))],
    )
    .await
    .unwrap();
    // An earlier release's done claims: one bridged two hours ago, one a minute ago.
    raw(
        "SET #old = :old, #recent = :recent",
        vec![
            ("#old", format!("i_{}", hash("legacy-old"))),
            ("#recent", format!("i_{}", hash("legacy-recent"))),
        ],
        vec![
            (":old", AttributeValue::N((now - 2 * HOUR_MS).to_string())),
            (":recent", AttributeValue::N((now - 60_000).to_string())),
        ],
    )
    .await
    .unwrap();
    // An item being bridged right now.
    let busy = ItemId::parse("item-busy").unwrap();
    assert_eq!(
        store
            .claim_item(&contact_id, &busy, &item_terms(now, "a"))
            .await
            .unwrap()
            .claim,
        Claim::Acquired
    );

    let next = ItemId::parse("item-next").unwrap();
    let taken = store
        .claim_item(&contact_id, &next, &item_terms(now, "a"))
        .await
        .unwrap();
    assert_eq!(taken.claim, Claim::Acquired);
    assert_eq!(
        taken.me.as_ref().map(|me| (me.at_ms, me.until_ms)),
        Some((now, now + 60_000))
    );
    let others: Vec<_> = taken.in_flight.iter().map(|other| other.name.clone()).collect();
    assert_eq!(
        others,
        [format!("i_{}", hash("item-busy"))],
        "the claim shows the chat's other items in flight, and no done or earlier release's claim"
    );
    let mut expired = taken.expired.clone();
    expired.sort();
    let mut expected = vec![format!("d_{}", hour - 2), format!("i_{}", hash("legacy-old"))];
    expected.sort();
    assert_eq!(expired, expected, "the set no claim looks in and the old done claim");
    let sent = SentRecord {
        wa_message_id: "wamid.out-1".into(),
        contact_id: contact_id.clone(),
        item_id: next.clone(),
        summary: "hello".into(),
    };
    store
        .complete_item(&contact_id, &next, std::slice::from_ref(&sent), &taken.expired)
        .await
        .unwrap();

    let still: Vec<_> = store
        .items_in_flight(&contact_id)
        .await
        .unwrap()
        .into_iter()
        .map(|other| other.name)
        .collect();
    assert_eq!(
        still,
        [format!("i_{}", hash("item-busy"))],
        "a completed item is no longer in flight"
    );
    let after = item(&dynamodb, &contact_id).await;
    let mut names: Vec<&str> = after
        .keys()
        .map(String::as_str)
        .filter(|k| k.starts_with("i_") || k.starts_with("d_"))
        .collect();
    names.sort();
    let mut kept = vec![
        format!("d_{hour}"),
        format!("i_{}", hash("item-busy")),
        format!("i_{}", hash("legacy-recent")),
    ];
    kept.sort();
    assert_eq!(names, kept);
    let mut filed = after[&format!("d_{hour}")].as_ss().unwrap().clone();
    filed.sort();
    let mut expected = vec![hash("item-recent"), hash("item-next")];
    expected.sort();
    assert_eq!(filed, expected, "a completed claim is its hash in this hour's set");

    // Redeliveries (other invocations): the bridged ones are done, the one in progress is busy, the
    // forgotten one is new.
    for (id, claim) in [
        ("item-recent", Claim::Done),
        ("item-next", Claim::Done),
        ("legacy-recent", Claim::Done),
        ("item-busy", Claim::Busy),
        ("item-old", Claim::Acquired),
    ] {
        let item = ItemId::parse(id).unwrap();
        assert_eq!(
            store
                .claim_item(&contact_id, &item, &item_terms(now, "b"))
                .await
                .unwrap()
                .claim,
            claim,
            "{id}"
        );
    }
    // An hour on, the last hour's set is still looked in.
    let later = store
        .claim_item(
            &contact_id,
            &ItemId::parse("item-recent").unwrap(),
            &item_terms(now + HOUR_MS, "b"),
        )
        .await
        .unwrap();
    assert_eq!(later.claim, Claim::Done);
    assert_eq!(store.load_sent("wamid.out-1").await.unwrap(), Some(sent));
    assert_eq!(
        store
            .claim_item(&contact_id, &busy, &item_terms(now, "a"))
            .await
            .unwrap()
            .claim,
        Claim::Acquired,
        "the holder's own claim again (the SDK retrying a write whose answer was lost)"
    );
    // A failed attempt that sent part of the item: only it releases the claim, and the retry learns how
    // much went out.
    store.release_item(&contact_id, &busy, "b", 0).await.unwrap();
    assert_eq!(
        store
            .claim_item(&contact_id, &busy, &item_terms(now, "b"))
            .await
            .unwrap()
            .claim,
        Claim::Busy,
        "another invocation cannot release it"
    );
    store.release_item(&contact_id, &busy, "a", 2).await.unwrap();
    let retried = store
        .claim_item(&contact_id, &busy, &item_terms(now, "b"))
        .await
        .unwrap();
    assert_eq!((retried.claim, retried.parts_sent), (Claim::Acquired, 2));
    store.complete_item(&contact_id, &busy, &[], &[]).await.unwrap();
    let after = item(&dynamodb, &contact_id).await;
    assert!(
        !after.contains_key(&format!("p_{}", hash("item-busy"))),
        "done: its progress goes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_is_its_owners_to_take_again_renew_and_release() {
    let opts = StackOptions::default().without_handlers();
    let stack = Stack::start(opts).await.unwrap();
    let dynamodb = client(stack.moto_url().unwrap());
    let store = DynamoStore::new(dynamodb.clone(), TABLE.into());
    let now = bridge::telemetry::now_ms();
    let terms = |owner| ClaimTerms {
        now_ms: now,
        lease_ms: 60_000,
        fast: false,
        owner,
        summary: None,
    };
    // The claim's item as stored.
    let stored = || async {
        dynamodb
            .get_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S("msg#wa#wamid.owned".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_default()
    };
    let lease = || async {
        stored()
            .await
            .get("lease_until")
            .and_then(|v| v.as_n().ok()?.parse::<i64>().ok())
    };

    assert_eq!(
        store.claim("wa", "wamid.owned", &terms("a")).await.unwrap().claim,
        Claim::Acquired
    );
    assert_eq!(
        store.claim("wa", "wamid.owned", &terms("a")).await.unwrap().claim,
        Claim::Acquired,
        "the owner's own write again (the SDK retrying it after a lost answer) is not a holder to wait for"
    );
    assert_eq!(
        store.claim("wa", "wamid.owned", &terms("b")).await.unwrap().claim,
        Claim::Busy
    );

    let key = ConversationKey::new(
        PhoneNumberId::parse("106540352242922").unwrap(),
        CustomerId::parse("14255550177").unwrap(),
    );
    let renewal = |owner, until_ms| Renewal {
        source: "wa",
        id: "wamid.owned",
        key: &key,
        tag: "q_owned",
        owner,
        until_ms,
        opening: false,
    };
    store.extend(&renewal("b", now + 1)).await.unwrap();
    assert_eq!(lease().await, Some(now + 60_000), "another invocation cannot renew it");
    store.extend(&renewal("a", now + 90_000)).await.unwrap();
    assert_eq!(lease().await, Some(now + 90_000), "its owner renews it");

    // What the owner said and what the file came to is kept for the retry; nobody else can record.
    let aftermath = MediaAftermath {
        chat_texts: vec!["caption".into()],
        customer_texts: vec!["notice".into(), "transcript".into()],
    };
    store
        .record("wa", "wamid.owned", "a", Step::Media(&aftermath))
        .await
        .unwrap();
    store
        .record("wa", "wamid.owned", "a", Step::Said(Said::MenuPage))
        .await
        .unwrap();
    store
        .record("wa", "wamid.owned", "a", Step::Said(Said::MediaReply(0)))
        .await
        .unwrap();
    store
        .record("wa", "wamid.owned", "b", Step::Said(Said::MediaReply(1)))
        .await
        .unwrap();

    store.release("wa", "wamid.owned", "b").await.unwrap();
    assert_eq!(
        store.claim("wa", "wamid.owned", &terms("b")).await.unwrap().claim,
        Claim::Busy,
        "another invocation cannot release it"
    );
    store.release("wa", "wamid.owned", "a").await.unwrap();
    let retry = store.claim("wa", "wamid.owned", &terms("b")).await.unwrap();
    assert_eq!(retry.claim, Claim::Acquired, "released: taken afresh, not replayed");
    let mut said = retry.progress.said.clone();
    said.sort_by_key(|s| s.name());
    assert_eq!(said, [Said::MediaReply(0), Said::MenuPage], "only the owner's steps");
    assert_eq!(retry.progress.media, Some(aftermath));

    store.complete("wa", "wamid.owned", None).await.unwrap();
    let done = store.claim("wa", "wamid.owned", &terms("c")).await.unwrap();
    assert_eq!(done.claim, Claim::Done);
    let kept = stored().await;
    assert!(
        !kept.contains_key("media") && !kept.contains_key("said"),
        "a done message keeps no record of its steps (nor the customer's words in it)"
    );
    drop(stack);
}

async fn item(dynamodb: &aws_sdk_dynamodb::Client, contact_id: &ContactId) -> HashMap<String, AttributeValue> {
    dynamodb
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(format!("contact#{contact_id}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

const HOUR_MS: i64 = 3_600_000;

/// The name a Connect item goes by on the contact mapping.
fn hash(item_id: &str) -> String {
    bridge::ids::short_hash(item_id)
}

/// Runs each contract case on the fake and on the adapter against moto (each with a fresh table).
macro_rules! contract {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fake() {
                super::$case(&super::FakeStateStore::default()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dynamodb() {
                let opts = super::StackOptions::default().without_handlers();
                let stack = super::Stack::start(opts).await.unwrap();
                let store = super::DynamoStore::new(super::client(stack.moto_url().unwrap()), super::TABLE.into());
                super::$case(&store).await;
            }
        }
    )*};
}

contract!(
    the_start_lock_rides_on_the_registration_stays_with_its_chat_and_is_taken_over_only_after_its_hold,
    a_claim_is_held_by_its_owner_until_its_lease_ends_and_a_quiet_fast_holder_is_replayed,
    what_an_attempt_recorded_survives_its_release_and_goes_with_completion,
    a_connect_item_is_claimed_on_its_mapping_with_what_a_failed_attempt_sent,
    a_chats_connection_menu_and_typing_slot_belong_to_it_until_it_ends,
);
