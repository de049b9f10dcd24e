//! KMS: the key an encrypted topic names lets the topic's publisher use it. SNS encrypts what EUM
//! Social or Amazon Connect publishes with a data key it asks KMS for on the publisher's behalf, so
//! the key policy must allow the publishing service `kms:GenerateDataKey*` and `kms:Decrypt`, under
//! conditions that hold for this topic. When it does not, the service's publish fails on its side:
//! no event arrives, no metric of this account counts it and nothing alarms.
//!
//! The AWS managed key `alias/aws/sns` can never work (its policy admits no service publisher). A
//! customer managed key's policy is read with `policy::service_may`, in the request context the
//! topic's publisher carries (`topics` builds it): the source account (and instance ARN for Connect)
//! and the encryption context SNS sets, `aws:sns:topicArn` = the topic.

use super::policy::{self, Context};
use super::{Check, Fact};

/// A key as KMS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub arn: String,
    /// `KeyManager`: `AWS` or `CUSTOMER`.
    pub manager: String,
    /// `KeyState`: `Enabled`, `Disabled`, `PendingDeletion`, …
    pub state: String,
    /// The `default` key policy; `None` for an AWS managed key (not read: it cannot be changed).
    pub policy: Option<String>,
}

/// The two actions SNS needs the publisher to be allowed on the key.
pub const ACTIONS: &[&str] = &["kms:GenerateDataKey", "kms:Decrypt"];

/// Whether a topic's `KmsMasterKeyId` names the AWS managed key for SNS (by alias or alias ARN).
pub fn is_aws_managed_alias(key_id: &str) -> bool {
    key_id == "alias/aws/sns" || key_id.ends_with(":alias/aws/sns")
}

/// The check of the key `key_id` a topic names (`key`: what KMS says of it, `None` for the AWS
/// managed alias); `service` publishes to the topic with the condition keys `context`.
pub fn check(label: &str, key_id: &str, key: Option<&Fact<Key>>, service: &str, context: &Context) -> Check {
    let title = |id: &str| format!("{label} topic: KMS key {id} lets {service} publish");
    let managed_fix = format!(
        "redeploy the stack: it encrypts the topic with TopicKey, whose key policy admits {service} (services cannot use the AWS managed key alias/aws/sns)"
    );
    let key = match key {
        None => {
            return Check::fail(
                title(key_id),
                "it is the AWS managed key alias/aws/sns, which no publishing service may use",
                managed_fix,
            );
        }
        Some(Err(e)) => {
            return e.check(title(key_id), || {
                "the topic names a key that does not exist: redeploy the stack (it creates TopicKey)".into()
            });
        }
        Some(Ok(key)) => key,
    };
    let title = title(&key.arn);
    if key.manager == "AWS" {
        return Check::fail(
            title,
            "it is an AWS managed key, which no publishing service may use",
            managed_fix,
        );
    }
    if key.state != "Enabled" {
        return Check::fail(
            title,
            format!("the key is {}", key.state),
            format!(
                "aws kms cancel-key-deletion --key-id {0} (if pending deletion), then aws kms enable-key --key-id {0}",
                key.arn
            ),
        );
    }
    let statements = match key.policy.as_deref().map(policy::parse) {
        Some(Ok(statements)) => statements,
        Some(Err(why)) => return Check::fail(title, format!("its key policy: {why}"), "redeploy the stack"),
        None => return Check::fail(title, "KMS returned no key policy", "redeploy the stack"),
    };
    match policy::service_may(&statements, service, ACTIONS, context) {
        Ok(granting) => {
            let how: Vec<String> = granting
                .iter()
                .map(|s| {
                    let keys: Vec<&str> = s.conditions.iter().map(|c| c.key.as_str()).collect();
                    if keys.is_empty() {
                        format!("statement {}, unconditioned", s.sid)
                    } else {
                        format!("statement {}, by {}", s.sid, keys.join(" and "))
                    }
                })
                .collect();
            Check::pass(format!("{title} ({})", how.join("; ")))
        }
        Err(refusal) => Check::fail(
            title,
            format!("its key policy does not let {service} use it: {refusal}"),
            format!(
                "redeploy the stack (TopicKey's policy admits {service}, docs/iam.md); if events still do not arrive with TopicKeyPublisherScope=source, redeploy with TopicKeyPublisherScope=topic"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{ErrorKind, FetchError};
    use serde_json::{Value, json};

    const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:stack-WhatsappEventsTopic-AB12CD";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const EUM: &str = "social-messaging.amazonaws.com";
    const CONTEXT: &Context = &[
        ("aws:SourceAccount", "111122223333"),
        ("kms:EncryptionContext:aws:sns:topicArn", TOPIC),
    ];

    /// `template.yaml`'s TopicKey policy for `scope` (`source` or `topic`), references resolved.
    fn template_policy(scope: &str) -> Value {
        let eum_condition = if scope == "topic" {
            json!({"StringLike": {"kms:EncryptionContext:aws:sns:topicArn":
                "arn:aws:sns:us-east-1:111122223333:stack-WhatsappEventsTopic-*"}})
        } else {
            json!({"StringEquals": {"aws:SourceAccount": "111122223333"}})
        };
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "AccountAdministration", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "AllowSnsService", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
             "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}},
            {"Sid": "AllowEumSocialPublish", "Effect": "Allow", "Principal": {"Service": EUM},
             "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*", "Condition": eum_condition}]})
    }

    fn key(policy: &Value) -> Fact<Key> {
        Ok(Key {
            arn: KEY.into(),
            manager: "CUSTOMER".into(),
            state: "Enabled".into(),
            policy: Some(policy.to_string()),
        })
    }

    fn line(policy: &Value) -> String {
        check("EUM", KEY, Some(&key(policy)), EUM, CONTEXT).to_string()
    }

    #[test]
    fn the_template_key_policy_passes_in_either_scope() {
        assert_eq!(
            line(&template_policy("source")),
            format!(
                "✔ EUM topic: KMS key {KEY} lets {EUM} publish (statement AllowEumSocialPublish, by aws:SourceAccount)"
            )
        );
        assert!(
            line(&template_policy("topic")).ends_with("by kms:EncryptionContext:aws:sns:topicArn)"),
            "{}",
            line(&template_policy("topic"))
        );
    }

    #[test]
    fn another_stacks_topic_pattern_or_account_fails_with_the_fix() {
        let mut other = template_policy("topic");
        other["Statement"][2]["Condition"] = json!({"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn":
            "arn:aws:sns:us-east-1:111122223333:other-WhatsappEventsTopic-AB12CD"}});
        let l = line(&other);
        assert!(
            l.starts_with(&format!(
                "✘ EUM topic: KMS key {KEY} lets {EUM} publish: its key policy does not let"
            )),
            "{l}"
        );
        assert!(
            l.contains("StringEquals kms:EncryptionContext:aws:sns:topicArn arn:aws:sns:us-east-1:111122223333:other-"),
            "{l}"
        );
        assert!(l.contains("Fix: redeploy the stack"), "{l}");
        assert!(l.contains("redeploy with TopicKeyPublisherScope=topic"), "{l}");
        let mut account = template_policy("source");
        account["Statement"][2]["Condition"]["StringEquals"]["aws:SourceAccount"] = "444455556666".into();
        assert!(line(&account).contains("aws:SourceAccount 444455556666"));
    }

    #[test]
    fn a_policy_without_the_service_or_an_action_fails() {
        let mut without = template_policy("source");
        without["Statement"].as_array_mut().unwrap().pop();
        assert!(line(&without).contains("use it: no Allow statement names it"));
        let mut wrong_principal = template_policy("source");
        wrong_principal["Statement"][2]["Principal"]["Service"] = "connect.amazonaws.com".into();
        assert!(line(&wrong_principal).contains("no Allow statement names it"));
        let mut encrypt_only = template_policy("source");
        encrypt_only["Statement"][2]["Action"] = json!(["kms:GenerateDataKey*"]);
        assert!(line(&encrypt_only).contains("no statement allows it kms:Decrypt"));
        let mut wildcard = template_policy("source");
        wildcard["Statement"][2]["Action"] = "kms:*".into();
        wildcard["Statement"][2].as_object_mut().unwrap().remove("Condition");
        assert!(line(&wildcard).ends_with("(statement AllowEumSocialPublish, unconditioned)"));
    }

    #[test]
    fn the_aws_managed_key_fails_whichever_way_it_is_named() {
        assert!(is_aws_managed_alias("alias/aws/sns"));
        assert!(is_aws_managed_alias("arn:aws:kms:us-east-1:111122223333:alias/aws/sns"));
        assert!(!is_aws_managed_alias("alias/stack-topics"));
        let by_alias = check("EUM", "alias/aws/sns", None, EUM, CONTEXT).to_string();
        assert!(
            by_alias.starts_with("✘ EUM topic: KMS key alias/aws/sns lets"),
            "{by_alias}"
        );
        assert!(by_alias.contains("Fix: redeploy the stack: it encrypts the topic with TopicKey"));
        let managed = Ok(Key {
            arn: KEY.into(),
            manager: "AWS".into(),
            state: "Enabled".into(),
            policy: None,
        });
        let by_arn = check("EUM", KEY, Some(&managed), EUM, CONTEXT).to_string();
        assert!(by_arn.contains("it is an AWS managed key"), "{by_arn}");
    }

    #[test]
    fn a_disabled_missing_or_unreadable_key_fails() {
        let disabled = Ok(Key {
            state: "PendingDeletion".into(),
            ..key(&template_policy("source")).unwrap()
        });
        let l = check("EUM", KEY, Some(&disabled), EUM, CONTEXT).to_string();
        assert!(
            l.contains("the key is PendingDeletion. Fix: aws kms cancel-key-deletion"),
            "{l}"
        );
        let missing = Err(FetchError::new("kms:DescribeKey", ErrorKind::NotFound, "no"));
        let l = check("EUM", "alias/gone", Some(&missing), EUM, CONTEXT).to_string();
        assert!(l.starts_with("✘ EUM topic: KMS key alias/gone lets"), "{l}");
        assert!(l.contains("not found (kms:DescribeKey)"), "{l}");
        let denied = Err(FetchError::new("kms:GetKeyPolicy", ErrorKind::AccessDenied, "no"));
        assert!(
            check("EUM", KEY, Some(&denied), EUM, CONTEXT)
                .to_string()
                .contains("allow kms:GetKeyPolicy")
        );
        let garbled = Ok(Key {
            policy: Some("{".into()),
            ..key(&template_policy("source")).unwrap()
        });
        assert!(
            check("EUM", KEY, Some(&garbled), EUM, CONTEXT)
                .to_string()
                .contains("its key policy: the policy is not JSON")
        );
    }
}
