//! The bridge's resources in moto, configured as `template.yaml` configures them: the state table
//! (on-demand, TTL on `expires_at`, point-in-time recovery), the media bucket (public access
//! blocked, default encryption, media expiry), the topics' KMS key (`TopicKey`, its key policy and
//! alias) and the SNS topics (publish policies, that key): EUM's, and the two Connect streams chats
//! to (the bridge's and the Handoff API's).
//!
//! The handlers only need the table and the bucket to exist; the settings are here so that
//! `ops doctor` reads real state and the local stack passes it as a correct deployment does. The
//! topics are configuration only: deliveries are the twin's own (`sns`), and moto's topics have no
//! subscribers. Every step is idempotent, so it also brings resources created by someone else (a
//! reused moto, a CloudFormation stack in moto) to the template's settings.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification, ScalarAttributeType,
    TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use serde_json::json;

use crate::config::TwinConfig;
use crate::error::Error;

/// `MediaRetentionDays`' default in the template.
pub const MEDIA_RETENTION_DAYS: i32 = 1;

/// The alias of the topics' KMS key (`TopicKeyAlias`, for a stack named whatsapp-connect-bridge).
pub const TOPIC_KEY_ALIAS: &str = "alias/whatsapp-connect-bridge-topics";

fn setup_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Setup {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

fn credentials() -> Credentials {
    Credentials::new("test", "test", None, None, "local-aws")
}

/// The state table's TTL attribute (epoch seconds), as the template names it.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// A DynamoDB client of moto's.
pub(crate) fn dynamodb(moto_url: &str, region: &str) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(moto_url)
        .credentials_provider(credentials())
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// The state table: hash key `pk`, on-demand, TTL on [`TTL_ATTRIBUTE`], point-in-time recovery.
pub async fn state_table(moto_url: &str, region: &str, table: &str) -> Result<(), Error> {
    let ddb = dynamodb(moto_url, region);
    let what = format!("DynamoDB table {table}");
    let fail = |e: aws_sdk_dynamodb::Error| setup_err(&what, aws_sdk_dynamodb::error::DisplayErrorContext(e));
    let created = ddb
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| setup_err(&what, e))?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| setup_err(&what, e))?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    if let Err(e) = created {
        let exists = e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception());
        if !exists {
            return Err(fail(e.into()));
        }
    }
    ddb.update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| setup_err(&what, e))?,
        )
        .send()
        .await
        .map_err(|e| fail(e.into()))?;
    ddb.update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .map_err(|e| setup_err(&what, e))?,
        )
        .send()
        .await
        .map_err(|e| fail(e.into()))?;
    Ok(())
}

/// The media bucket: every public access blocked, SSE-S3 by default, objects expire after
/// [`MEDIA_RETENTION_DAYS`] and unfinished uploads after a day.
pub async fn media_bucket(moto_url: &str, region: &str, bucket: &str) -> Result<(), Error> {
    let what = format!("S3 bucket {bucket}");
    let resp = reqwest::Client::new()
        .put(format!("{moto_url}/{bucket}"))
        .send()
        .await
        .map_err(|e| setup_err(&what, e))?;
    // 409 BucketAlreadyOwnedByYou: a reused moto already has it.
    if !resp.status().is_success() && resp.status().as_u16() != 409 {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        return Err(setup_err(&what, format!("{status}: {text}")));
    }
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(moto_url)
        .credentials_provider(credentials())
        .force_path_style(true)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);
    let fail = |e: aws_sdk_s3::Error| setup_err(&what, aws_sdk_s3::error::DisplayErrorContext(e));
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| fail(e.into()))?;
    let sse = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| setup_err(&what, e))?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(sse)
                        .build(),
                )
                .build()
                .map_err(|e| setup_err(&what, e))?,
        )
        .send()
        .await
        .map_err(|e| fail(e.into()))?;
    let rule = LifecycleRule::builder()
        .id("ExpireMedia")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(LifecycleExpiration::builder().days(MEDIA_RETENTION_DAYS).build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(1)
                .build(),
        )
        .build()
        .map_err(|e| setup_err(&what, e))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| setup_err(&what, e))?,
        )
        .send()
        .await
        .map_err(|e| fail(e.into()))?;
    Ok(())
}

/// The template's access policy of the topic EUM publishes to: EUM, on behalf of this account only.
pub fn eum_topic_policy(topic_arn: &str, account_id: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowEumSocialPublish",
            "Effect": "Allow",
            "Principal": { "Service": "social-messaging.amazonaws.com" },
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": { "StringEquals": { "aws:SourceAccount": account_id } }
        }]
    })
}

/// The template's access policy of the topic Connect streams chats to: this instance only.
pub fn connect_topic_policy(topic_arn: &str, account_id: &str, instance_arn: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowConnectPublish",
            "Effect": "Allow",
            "Principal": { "Service": "connect.amazonaws.com" },
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": { "aws:SourceAccount": account_id },
                "ArnEquals": { "aws:SourceArn": instance_arn }
            }
        }]
    })
}

/// The template's key policy of `TopicKey` (`TopicKeyPublisherScope=source`): the account manages
/// it; SNS, and EUM and Connect publishing through SNS, may use it on behalf of this account (and,
/// for Connect, this instance). The alarm topic's statement is left out: the twin has no alarm topic.
pub fn topic_key_policy(account_id: &str, instance_arn: &str) -> serde_json::Value {
    let on_behalf_of_account = json!({ "StringEquals": { "aws:SourceAccount": account_id } });
    let publisher = |sid: &str, service: &str, condition: serde_json::Value| {
        json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": condition
        })
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministration",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:aws:iam::{account_id}:root") },
                "Action": "kms:*",
                "Resource": "*"
            },
            publisher("AllowSnsService", "sns.amazonaws.com", on_behalf_of_account.clone()),
            publisher("AllowEumSocialPublish", "social-messaging.amazonaws.com", on_behalf_of_account),
            publisher(
                "AllowConnectPublish",
                "connect.amazonaws.com",
                json!({
                    "StringEquals": { "aws:SourceAccount": account_id },
                    "ArnEquals": { "aws:SourceArn": instance_arn }
                })
            ),
        ]
    })
}

/// A KMS client of moto's.
fn kms(moto_url: &str, region: &str) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(moto_url)
        .credentials_provider(credentials())
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

/// `TopicKey` under [`TOPIC_KEY_ALIAS`], with the template's key policy (reset if the key exists);
/// its ARN.
async fn topic_key(moto_url: &str, cfg: &TwinConfig, instance_arn: &str) -> Result<String, Error> {
    let what = format!("KMS key {TOPIC_KEY_ALIAS}");
    let fail = |e: aws_sdk_kms::Error| setup_err(&what, aws_sdk_kms::error::DisplayErrorContext(e));
    let kms = kms(moto_url, &cfg.region);
    let policy = topic_key_policy(&cfg.account_id, instance_arn).to_string();
    let existing = kms.describe_key().key_id(TOPIC_KEY_ALIAS).send().await;
    let key = match existing {
        Ok(out) => {
            let id = out.key_metadata().map(|m| m.key_id().to_owned()).unwrap_or_default();
            kms.put_key_policy()
                .key_id(&id)
                .policy_name("default")
                .policy(&policy)
                .send()
                .await
                .map_err(|e| fail(e.into()))?;
            out.key_metadata().cloned()
        }
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found_exception()) => {
            let created = kms
                .create_key()
                .description("whatsapp-connect-bridge: encrypts the bridge's SNS topics")
                .policy(&policy)
                .send()
                .await
                .map_err(|e| fail(e.into()))?;
            let meta = created.key_metadata().cloned();
            let id = meta.as_ref().map(|m| m.key_id().to_owned()).unwrap_or_default();
            kms.create_alias()
                .alias_name(TOPIC_KEY_ALIAS)
                .target_key_id(id)
                .send()
                .await
                .map_err(|e| fail(e.into()))?;
            meta
        }
        Err(e) => return Err(fail(e.into())),
    };
    key.and_then(|m| m.arn().map(str::to_owned))
        .ok_or_else(|| setup_err(&what, "moto described no key ARN"))
}

/// The EUM, Connect and handoff stream topics of `cfg`, with the template's policies and KMS key
/// (created first, as the stack creates `TopicKey` before the topics).
/// moto names a topic's ARN after its own account and the request's Region, so `cfg` must use moto's
/// account (`123456789012`, the default); otherwise this fails rather than create topics nobody names.
pub async fn topics(moto_url: &str, cfg: &TwinConfig) -> Result<(), Error> {
    let conf = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(cfg.region.clone()))
        .endpoint_url(moto_url)
        .credentials_provider(credentials())
        .build();
    let sns = aws_sdk_sns::Client::from_conf(conf);
    let instance_arn = format!(
        "arn:aws:connect:{}:{}:instance/{}",
        cfg.region, cfg.account_id, cfg.instance_id
    );
    let key_arn = topic_key(moto_url, cfg, &instance_arn).await?;
    let eum = eum_topic_policy(&cfg.eum_topic_arn, &cfg.account_id);
    let connect = connect_topic_policy(&cfg.connect_stream_topic_arn, &cfg.account_id, &instance_arn);
    // Handoff chats are streamed by the same instance, so their topic admits the same publisher.
    let handoff = connect_topic_policy(&cfg.handoff_stream_topic_arn, &cfg.account_id, &instance_arn);
    let all = [
        (&cfg.eum_topic_arn, eum),
        (&cfg.connect_stream_topic_arn, connect),
        (&cfg.handoff_stream_topic_arn, handoff),
    ];
    for (arn, policy) in all {
        let what = format!("SNS topic {arn}");
        let fail = |e: aws_sdk_sns::Error| setup_err(&what, aws_sdk_sns::error::DisplayErrorContext(e));
        let name = arn.rsplit(':').next().unwrap_or(arn);
        let created = sns.create_topic().name(name).send().await.map_err(|e| fail(e.into()))?;
        if created.topic_arn() != Some(arn.as_str()) {
            return Err(setup_err(
                &what,
                format!("moto named it {}", created.topic_arn().unwrap_or("nothing")),
            ));
        }
        for (attribute, value) in [("Policy", policy.to_string()), ("KmsMasterKeyId", key_arn.clone())] {
            sns.set_topic_attributes()
                .topic_arn(arn)
                .attribute_name(attribute)
                .attribute_value(value)
                .send()
                .await
                .map_err(|e| fail(e.into()))?;
        }
    }
    Ok(())
}
