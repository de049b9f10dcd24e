//! DynamoDB: `DescribeTable`, `DescribeTimeToLive` and `DescribeContinuousBackups`, concurrently.

use aws_sdk_dynamodb::types::KeyType;

use super::{Clients, fetch_error};
use crate::doctor::table::{Facts, Table, Ttl};
use crate::doctor::{ErrorKind, FetchError, Target};

pub async fn facts(clients: &Clients, target: &Target) -> Facts {
    const TABLE: &str = "dynamodb:DescribeTable";
    let ddb = &clients.dynamodb;
    let name = &target.table;
    let (table, ttl, backups) = tokio::join!(
        ddb.describe_table().table_name(name).send(),
        ddb.describe_time_to_live().table_name(name).send(),
        ddb.describe_continuous_backups().table_name(name).send(),
    );
    let table = table.map_err(|e| fetch_error(TABLE, e)).and_then(|out| {
        let t = out
            .table()
            .ok_or_else(|| FetchError::new(TABLE, ErrorKind::Other, "the response has no Table"))?;
        let hash = t.key_schema().iter().find(|k| k.key_type() == &KeyType::Hash);
        let hash_key = hash.map(|k| {
            let kind = t
                .attribute_definitions()
                .iter()
                .find(|a| a.attribute_name() == k.attribute_name())
                .map_or("?", |a| a.attribute_type().as_str());
            (k.attribute_name().to_owned(), kind.to_owned())
        });
        Ok(Table {
            status: t.table_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            hash_key,
            has_range_key: t.key_schema().iter().any(|k| k.key_type() == &KeyType::Range),
        })
    });
    let ttl = ttl
        .map_err(|e| fetch_error("dynamodb:DescribeTimeToLive", e))
        .map(|out| {
            let d = out.time_to_live_description();
            Ttl {
                status: d
                    .and_then(|d| d.time_to_live_status())
                    .map_or("DISABLED", |s| s.as_str())
                    .to_owned(),
                attribute: d.and_then(|d| d.attribute_name()).map(str::to_owned),
            }
        });
    let point_in_time_recovery = backups
        .map_err(|e| fetch_error("dynamodb:DescribeContinuousBackups", e))
        .map(|out| {
            out.continuous_backups_description()
                .and_then(|d| d.point_in_time_recovery_description())
                .and_then(|p| p.point_in_time_recovery_status())
                .map_or("DISABLED", |s| s.as_str())
                .to_owned()
        });
    Facts {
        table,
        ttl,
        point_in_time_recovery,
    }
}
