//! CloudWatch: `GetMetricStatistics` of the two `AWS/SNS` metrics of both topics over the last
//! [`HOURS`] hours, all four concurrently. A metric SNS never emitted has no datapoints: 0.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};

use super::{Clients, fetch_error};
use crate::doctor::deliveries::{Counts, Facts, HOURS, topic_name};
use crate::doctor::{Fact, Target};

async fn sum(clients: &Clients, topic_arn: &str, metric: &str, end: SystemTime) -> Fact<f64> {
    let window = Duration::from_secs(HOURS * 3600);
    let out = clients
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/SNS")
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name("TopicName")
                .value(topic_name(topic_arn))
                .build(),
        )
        .start_time(DateTime::from(end - window))
        .end_time(DateTime::from(end))
        // One period for the whole window; CloudWatch may split it in two when it rounds the start.
        .period(i32::try_from(window.as_secs()).unwrap_or(i32::MAX))
        .statistics(Statistic::Sum)
        .send()
        .await
        .map_err(|e| fetch_error("cloudwatch:GetMetricStatistics", e))?;
    // Not `Iterator::sum`, which starts floats at -0.0 and would print "-0 published".
    Ok(out.datapoints().iter().filter_map(|d| d.sum()).fold(0.0, |a, b| a + b))
}

async fn counts(clients: &Clients, topic_arn: &str, end: SystemTime) -> Fact<Counts> {
    let (published, failed) = tokio::join!(
        sum(clients, topic_arn, "NumberOfMessagesPublished", end),
        sum(clients, topic_arn, "NumberOfNotificationsFailed", end),
    );
    Ok(Counts {
        published: published?,
        failed: failed?,
    })
}

pub async fn facts(clients: &Clients, target: &Target) -> Facts {
    let end = SystemTime::now();
    let (eum, connect) = tokio::join!(
        counts(clients, &target.eum_topic_arn, end),
        counts(clients, &target.connect_topic_arn, end),
    );
    Facts { eum, connect }
}
