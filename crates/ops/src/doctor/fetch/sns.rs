//! SNS: `GetTopicAttributes` of both topics concurrently, each followed by the KMS key it names.

use super::{Clients, fetch_error, kms};
use crate::doctor::Target;
use crate::doctor::topic_key::is_aws_managed_alias;
use crate::doctor::topics::{Facts, Topic};

pub async fn facts(clients: &Clients, target: &Target) -> Facts {
    const ACTION: &str = "sns:GetTopicAttributes";
    let sns = &clients.sns;
    let read = |arn: &str| {
        let call = sns.get_topic_attributes().topic_arn(arn).send();
        async move {
            let out = call.await.map_err(|e| fetch_error(ACTION, e))?;
            let attribute = |name: &str| out.attributes().and_then(|a| a.get(name)).cloned();
            let kms_key = attribute("KmsMasterKeyId").filter(|k| !k.is_empty());
            let key = match kms_key.as_deref() {
                Some(id) if !is_aws_managed_alias(id) => Some(kms::key(clients, id).await),
                _ => None,
            };
            Ok(Topic {
                policy: attribute("Policy"),
                kms_key,
                key,
            })
        }
    };
    let (eum, connect) = tokio::join!(read(&target.eum_topic_arn), read(&target.connect_topic_arn));
    Facts { eum, connect }
}
