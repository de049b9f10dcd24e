//! The DynamoDB adapter against moto, for what the end-to-end scenarios cannot reach in their time:
//! a Connect item's done claim that has outlived its keep is removed from the contact mapping by the
//! next item's completing write, so a long chat's mapping does not grow without bound.

use aws_sdk_dynamodb::types::AttributeValue;
use bridge::aws::DynamoStore;
use bridge::ids::{ContactId, CustomerId, ItemId, OriginationId, PhoneNumberId};
use bridge::ports::{Claim, ContactRecord, SentRecord, StateStore};
use local_aws::{Stack, StackOptions};
use std::collections::HashMap;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_item_claims_leave_the_contact_mapping_with_the_next_completion() {
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

    // An item bridged two hours ago, and one a minute ago.
    for (id, ago_ms) in [("item-old", 7_200_000), ("item-recent", 60_000)] {
        let item = ItemId::parse(id).unwrap();
        let taken = store
            .claim_item(&contact_id, &item, now - ago_ms, 60_000)
            .await
            .unwrap();
        assert_eq!(taken.claim, Claim::Acquired);
        store.complete_item(&contact_id, &item, &[], &[]).await.unwrap();
        // The completion stamps the time; move it back to when the item was bridged.
        let attribute = newest_claim(&dynamodb, &contact_id).await;
        dynamodb
            .update_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(format!("contact#{contact_id}")))
            .update_expression("SET #c.done_at = :at")
            .expression_attribute_names("#c", attribute)
            .expression_attribute_values(":at", AttributeValue::N((now - ago_ms).to_string()))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(claim_names(&dynamodb, &contact_id).await.len(), 2);

    let next = ItemId::parse("item-next").unwrap();
    let taken = store.claim_item(&contact_id, &next, now, 60_000).await.unwrap();
    assert_eq!(taken.claim, Claim::Acquired);
    assert_eq!(
        taken.expired.len(),
        1,
        "only the two-hour-old claim: {:?}",
        taken.expired
    );
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

    let names = claim_names(&dynamodb, &contact_id).await;
    assert_eq!(names.len(), 2, "the recent claim and the new one stay: {names:?}");
    assert!(!names.contains(&taken.expired[0]));
    // The redelivery of the recent item still finds it done, and the sent record is in.
    let recent = store
        .claim_item(&contact_id, &ItemId::parse("item-recent").unwrap(), now, 60_000)
        .await
        .unwrap();
    assert_eq!(recent.claim, Claim::Done);
    assert_eq!(store.load_sent("wamid.out-1").await.unwrap(), Some(sent));
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

async fn claim_names(dynamodb: &aws_sdk_dynamodb::Client, contact_id: &ContactId) -> Vec<String> {
    let mut names: Vec<String> = item(dynamodb, contact_id)
        .await
        .into_keys()
        .filter(|k| k.starts_with("i_"))
        .collect();
    names.sort();
    names
}

/// The claim attribute completed last (the newest `done_at`).
async fn newest_claim(dynamodb: &aws_sdk_dynamodb::Client, contact_id: &ContactId) -> String {
    let item = item(dynamodb, contact_id).await;
    let newest = item
        .iter()
        .filter(|(k, _)| k.starts_with("i_"))
        .max_by_key(|(_, v)| {
            v.as_m()
                .ok()
                .and_then(|m| m.get("done_at"))
                .and_then(|at| at.as_n().ok())
                .and_then(|at| at.parse::<i64>().ok())
                .unwrap_or_default()
        })
        .map(|(k, _)| k.clone());
    newest.expect("a completed claim")
}
