//! DynamoDB's Time to Live on moto, which stores the state table's TTL setting but never deletes an
//! item. AWS deletes an item at some moment after the time in its TTL attribute (usually within a
//! few days; reads return it until then), so the bridge may count on an item for no longer than its
//! TTL. The twin deletes it within about a second of that time, the earliest AWS may: a bridge that
//! needs an item longer than the TTL it wrote loses it here as it could in AWS.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::watch;

/// How often the table is looked through for expired items.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Deletes the items of `table` whose `attribute` (epoch seconds) has passed, until `stop` is set.
pub(crate) async fn expire(
    client: aws_sdk_dynamodb::Client,
    table: String,
    attribute: String,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        let now = AttributeValue::N((crate::time::now_ms() / 1000).to_string());
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(&table)
                .filter_expression("#ttl < :now")
                .projection_expression("pk")
                .expression_attribute_names("#ttl", &attribute)
                .expression_attribute_values(":now", now.clone())
                .set_exclusive_start_key(start)
                .send()
                .await;
            let Ok(page) = page else { break };
            for key in page.items().iter().filter_map(|item| item.get("pk")) {
                // An item whose TTL was moved on since the scan stays.
                let _ = client
                    .delete_item()
                    .table_name(&table)
                    .key("pk", key.clone())
                    .condition_expression("#ttl < :now")
                    .expression_attribute_names("#ttl", &attribute)
                    .expression_attribute_values(":now", now.clone())
                    .send()
                    .await;
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
    }
}
