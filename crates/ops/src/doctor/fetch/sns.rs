//! SNS: `GetTopicAttributes` of both topics, concurrently.

use super::{Clients, fetch_error};
use crate::doctor::Target;
use crate::doctor::topics::{Facts, Topic};

pub async fn facts(clients: &Clients, target: &Target) -> Facts {
    const ACTION: &str = "sns:GetTopicAttributes";
    let sns = &clients.sns;
    let read = |arn: &str| {
        let call = sns.get_topic_attributes().topic_arn(arn).send();
        async move {
            let out = call.await.map_err(|e| fetch_error(ACTION, e))?;
            let attribute = |name: &str| out.attributes().and_then(|a| a.get(name)).cloned();
            Ok(Topic {
                policy: attribute("Policy"),
                kms_key: attribute("KmsMasterKeyId"),
            })
        }
    };
    let (eum, connect) = tokio::join!(read(&target.eum_topic_arn), read(&target.connect_topic_arn));
    Facts { eum, connect }
}
