//! SNS: both topics exist, are encrypted with a key their publisher may use (`topic_key`), and
//! their access policies let exactly the right service publish — EUM Social on behalf of this
//! account to the EUM topic, Amazon Connect for this instance to the stream topic — as
//! `template.yaml` and `infra/policies/` write them.
//!
//! The policy reading is deliberately narrow: an `Allow` statement grants publishing when its
//! actions (or `NotAction`) cover `sns:Publish`, wildcards included (`policy`); each principal it
//! names is a publisher; a publisher is restricted by a condition only when a positive operator
//! (`StringEquals`, `ArnEquals`, their `Like` forms) pins the key to exactly the expected value.
//! Anything else that may publish is reported, since it is not what the template grants.

use super::policy;
use super::topic_key::{self, Key};
use super::{Check, Fact, Target};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// The `Policy` attribute (JSON).
    pub policy: Option<String>,
    /// The `KmsMasterKeyId` attribute.
    pub kms_key: Option<String>,
    /// The key `kms_key` names, as KMS describes it; `None` when the topic names no key or the AWS
    /// managed one (whose policy doctor need not read to know that it admits no publisher).
    pub key: Option<Fact<Key>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub eum: Fact<Topic>,
    pub connect: Fact<Topic>,
}

/// One principal a statement lets publish, with the statement's conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub sid: String,
    /// `service:<name>` for a service principal, the principal as written otherwise (`*`, an ARN).
    pub principal: String,
    /// (lower-case condition key, values) pinned by positive operators.
    pub pinned: Vec<(String, Vec<String>)>,
}

impl Grant {
    fn pins(&self, key: &str, value: &str) -> bool {
        self.pinned
            .iter()
            .any(|(k, values)| k == &key.to_ascii_lowercase() && values.len() == 1 && values[0] == value)
    }
}

const POSITIVE: &[&str] = &["stringequals", "stringlike", "arnequals", "arnlike"];

/// Every principal an `Allow` statement of `policy` lets publish.
pub fn publish_grants(policy: &str) -> Result<Vec<Grant>, String> {
    Ok(policy::parse(policy)?
        .into_iter()
        .filter(|st| st.allow && st.covers("sns:Publish"))
        .flat_map(|st| {
            let pinned: Vec<(String, Vec<String>)> = st
                .conditions
                .iter()
                .filter(|c| POSITIVE.contains(&c.operator.to_ascii_lowercase().as_str()))
                .map(|c| (c.key.to_ascii_lowercase(), c.values.clone()))
                .collect();
            st.principals.into_iter().map(move |principal| Grant {
                sid: st.sid.clone(),
                principal,
                pinned: pinned.clone(),
            })
        })
        .collect())
}

/// `(partition, region, account)` of an SNS topic ARN.
fn topic_arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts[..] {
        ["arn", partition, "sns", region, account, name] if !name.is_empty() => Some((partition, region, account)),
        _ => None,
    }
}

/// What one topic must allow: which service, pinned by which condition.
struct Expected<'a> {
    label: &'static str,
    service: &'static str,
    key: &'static str,
    value: String,
    policy_file: &'a str,
    account: &'a str,
}

impl Expected<'_> {
    /// The condition keys the service's publishing carries, as far as doctor knows them: the
    /// source keys the topic's policy pins, and the encryption context SNS asks KMS under.
    fn context<'a>(&'a self, topic_arn: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut context = vec![
            ("aws:SourceAccount", self.account),
            ("kms:EncryptionContext:aws:sns:topicArn", topic_arn),
        ];
        if !self.key.eq_ignore_ascii_case("aws:SourceAccount") {
            context.push((self.key, &self.value));
        }
        context
    }
}

fn topic_checks(arn: &str, fact: &Fact<Topic>, expected: &Expected) -> Vec<Check> {
    let label = expected.label;
    let topic = match fact {
        Err(e) => {
            return vec![e.check(format!("{label} topic {arn} exists"), || {
                "set it to the stack's topic ARN output, or deploy the stack (template.yaml creates it)".into()
            })];
        }
        Ok(t) => t,
    };
    let service = expected.service;
    let title = format!(
        "{label} topic: only {service} may publish, with {} = {}",
        expected.key, expected.value
    );
    let fix = format!(
        "redeploy the stack, or set the policy of {} (placeholders filled) with aws sns set-topic-attributes --topic-arn {arn} --attribute-name Policy --attribute-value file://policy.json",
        expected.policy_file
    );
    let grants = match topic.policy.as_deref().map(publish_grants) {
        None => Err("it has no access policy".to_owned()),
        Some(parsed) => parsed,
    };
    let problem = match grants {
        Err(why) => Some(why),
        Ok(grants) => {
            let wanted = format!("service:{service}");
            let own: Vec<&Grant> = grants.iter().filter(|g| g.principal == wanted).collect();
            let others: Vec<String> = grants
                .iter()
                .filter(|g| g.principal != wanted)
                .map(|g| format!("{} (statement {})", g.principal, g.sid))
                .collect();
            if own.is_empty() {
                Some(format!("{service} may not publish to it"))
            } else if !own.iter().all(|g| g.pins(expected.key, &expected.value)) {
                Some(format!(
                    "{service} may publish without the condition {} = {}",
                    expected.key, expected.value
                ))
            } else if !others.is_empty() {
                Some(format!("it also lets {} publish", others.join(", ")))
            } else {
                None
            }
        }
    };
    let mut checks = vec![match problem {
        None => Check::pass(title),
        Some(p) => Check::fail(title, p, fix),
    }];
    let sse_title = format!("{label} topic is encrypted with KMS");
    match topic.kms_key.as_deref().filter(|k| !k.is_empty()) {
        Some(key_id) => {
            checks.push(Check::pass(format!("{sse_title} ({key_id})")));
            checks.push(topic_key::check(
                label,
                key_id,
                topic.key.as_ref(),
                service,
                &expected.context(arn),
            ));
        }
        None => checks.push(Check::fail(
            sse_title,
            "it has no KmsMasterKeyId",
            "redeploy the stack (it encrypts both topics with TopicKey, whose key policy admits both publishers)",
        )),
    }
    checks
}

/// `instance_arn` is the instance's ARN as Connect reports it, if it could be read.
pub fn checks(target: &Target, instance_arn: Option<&str>, facts: &Facts) -> Vec<Check> {
    let mut checks = Vec::new();
    for (label, arn, fact) in [
        ("EUM", &target.eum_topic_arn, &facts.eum),
        ("Connect stream", &target.connect_topic_arn, &facts.connect),
    ] {
        let Some((partition, region, account)) = topic_arn_parts(arn) else {
            checks.push(Check::fail(
                format!("{label} topic {arn} is an SNS topic ARN"),
                "it is not arn:<partition>:sns:<region>:<account>:<name>",
                "give the topic's ARN (the stack's outputs list both)",
            ));
            continue;
        };
        let expected = if label == "EUM" {
            Expected {
                label,
                service: "social-messaging.amazonaws.com",
                key: "aws:SourceAccount",
                value: account.to_owned(),
                policy_file: "infra/policies/whatsapp-events-topic-policy.json",
                account,
            }
        } else {
            Expected {
                label,
                service: "connect.amazonaws.com",
                key: "aws:SourceArn",
                value: instance_arn.map_or_else(
                    || {
                        format!(
                            "arn:{partition}:connect:{region}:{account}:instance/{}",
                            target.instance_id
                        )
                    },
                    str::to_owned,
                ),
                policy_file: "infra/policies/connect-stream-topic-policy.json",
                account,
            }
        };
        checks.extend(topic_checks(arn, fact, &expected));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{ErrorKind, FetchError};

    const EUM: &str = "arn:aws:sns:us-east-1:111122223333:eum";
    const STREAM: &str = "arn:aws:sns:us-east-1:111122223333:stream";
    const INSTANCE: &str = "arn:aws:connect:us-east-1:111122223333:instance/i-1";

    fn target() -> Target {
        Target {
            instance_id: "i-1".into(),
            eum_topic_arn: EUM.into(),
            connect_topic_arn: STREAM.into(),
            ..Target::placeholder()
        }
    }

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k";

    /// TopicKey as `template.yaml` writes it with `TopicKeyPublisherScope=source`.
    fn template_key() -> Option<Fact<Key>> {
        let kms = ["kms:GenerateDataKey*", "kms:Decrypt"];
        let policy = serde_json::json!({"Version":"2012-10-17","Statement":[
            {"Sid":"AllowEumSocialPublish","Effect":"Allow","Principal":{"Service":"social-messaging.amazonaws.com"},
             "Action":kms,"Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}},
            {"Sid":"AllowConnectPublish","Effect":"Allow","Principal":{"Service":"connect.amazonaws.com"},
             "Action":kms,"Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"},
             "ArnEquals":{"aws:SourceArn":INSTANCE}}}]});
        Some(Ok(Key {
            arn: KEY.into(),
            manager: "CUSTOMER".into(),
            state: "Enabled".into(),
            policy: Some(policy.to_string()),
        }))
    }

    /// The policies as `template.yaml` writes them (after CloudFormation resolves the references).
    fn template_facts() -> Facts {
        let eum = serde_json::json!({"Version":"2012-10-17","Statement":[{"Sid":"AllowEumSocialPublish","Effect":"Allow",
            "Principal":{"Service":"social-messaging.amazonaws.com"},"Action":"sns:Publish","Resource":EUM,
            "Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}}]});
        let connect = serde_json::json!({"Version":"2012-10-17","Statement":[{"Sid":"AllowConnectPublish","Effect":"Allow",
            "Principal":{"Service":"connect.amazonaws.com"},"Action":"sns:Publish","Resource":STREAM,
            "Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"},"ArnEquals":{"aws:SourceArn":INSTANCE}}}]});
        Facts {
            eum: Ok(Topic {
                policy: Some(eum.to_string()),
                kms_key: Some(KEY.into()),
                key: template_key(),
            }),
            connect: Ok(Topic {
                policy: Some(connect.to_string()),
                kms_key: Some(KEY.into()),
                key: template_key(),
            }),
        }
    }

    fn lines(facts: &Facts) -> Vec<String> {
        checks(&target(), Some(INSTANCE), facts)
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    #[test]
    fn the_template_policies_pass() {
        let lines = lines(&template_facts());
        assert_eq!(lines.len(), 6);
        assert!(lines.iter().all(|l| l.starts_with('✔')), "{lines:#?}");
        assert_eq!(
            lines[0],
            "✔ EUM topic: only social-messaging.amazonaws.com may publish, with aws:SourceAccount = 111122223333"
        );
        assert_eq!(
            lines[2],
            format!(
                "✔ EUM topic: KMS key {KEY} lets social-messaging.amazonaws.com publish (statement AllowEumSocialPublish, by aws:SourceAccount)"
            )
        );
        assert_eq!(
            lines[3],
            format!("✔ Connect stream topic: only connect.amazonaws.com may publish, with aws:SourceArn = {INSTANCE}")
        );
        assert!(lines[5].ends_with("(statement AllowConnectPublish, by aws:SourceArn and aws:SourceAccount)"));
    }

    #[test]
    fn a_key_that_does_not_admit_the_publisher_fails_and_no_key_is_not_read() {
        let mut f = template_facts();
        let Ok(connect) = &mut f.connect else { panic!() };
        let Some(Ok(key)) = &mut connect.key else { panic!() };
        key.policy = Some(
            key.policy
                .as_ref()
                .unwrap()
                .replace(INSTANCE, "arn:aws:connect:us-east-1:111122223333:instance/other"),
        );
        let lines = lines(&f);
        assert!(
            lines[5].starts_with(&format!(
                "✘ Connect stream topic: KMS key {KEY} lets connect.amazonaws.com publish: its key policy does not let"
            )),
            "{}",
            lines[5]
        );
        f.eum = Ok(Topic {
            policy: None,
            kms_key: Some("alias/aws/sns".into()),
            key: None,
        });
        let eum = checks(&target(), Some(INSTANCE), &f);
        assert!(
            eum[2].to_string().contains(
                "KMS key alias/aws/sns lets social-messaging.amazonaws.com publish: it is the AWS managed key"
            )
        );
    }

    #[test]
    fn sns_default_policy_lets_the_whole_account_publish() {
        let default = serde_json::json!({"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Effect":"Allow",
            "Sid":"__default_statement_ID","Principal":{"AWS":"*"},"Action":["SNS:GetTopicAttributes","SNS:Publish"],
            "Resource":EUM,"Condition":{"StringEquals":{"AWS:SourceOwner":"111122223333"}}}]});
        let mut f = template_facts();
        f.eum = Ok(Topic {
            policy: Some(default.to_string()),
            kms_key: None,
            key: None,
        });
        let lines = lines(&f);
        assert!(lines[0].contains("social-messaging.amazonaws.com may not publish to it"));
        assert!(lines[0].contains("infra/policies/whatsapp-events-topic-policy.json"));
        assert!(lines[1].starts_with("✘ EUM topic is encrypted with KMS: it has no KmsMasterKeyId"));
    }

    #[test]
    fn a_missing_condition_or_an_extra_publisher_fails() {
        let unconditioned = serde_json::json!({"Statement":{"Effect":"Allow",
            "Principal":{"Service":["connect.amazonaws.com"]},"Action":"sns:*","Resource":"*"}});
        let mut f = template_facts();
        f.connect = Ok(Topic {
            policy: Some(unconditioned.to_string()),
            kms_key: Some("k".into()),
            key: template_key(),
        });
        assert!(lines(&f)[3].contains("may publish without the condition aws:SourceArn"));
        let extra = serde_json::json!({"Statement":[
            {"Sid":"AllowConnectPublish","Effect":"Allow","Principal":{"Service":"connect.amazonaws.com"},"Action":"sns:Publish",
             "Condition":{"ArnLike":{"AWS:SourceArn":INSTANCE}}},
            {"Sid":"Ops","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["sns:publish"]},
            {"Sid":"NoOne","Effect":"Deny","Principal":"*","Action":"sns:Publish"}]});
        f.connect = Ok(Topic {
            policy: Some(extra.to_string()),
            kms_key: Some("k".into()),
            key: template_key(),
        });
        assert!(lines(&f)[3].contains("it also lets arn:aws:iam::111122223333:root (statement Ops) publish"));
    }

    #[test]
    fn missing_topics_and_bad_arns_are_reported() {
        let mut f = template_facts();
        f.eum = Err(FetchError::new("sns:GetTopicAttributes", ErrorKind::NotFound, "no"));
        let lines = lines(&f);
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with(&format!("✘ EUM topic {EUM} exists")));
        let mut bad = target();
        bad.connect_topic_arn = "stream".into();
        let checks = checks(&bad, None, &template_facts());
        assert!(checks[3].to_string().contains("is an SNS topic ARN"));
        assert!(publish_grants("[]").is_err());
    }

    #[test]
    fn without_the_instance_arn_it_is_derived_from_the_topic() {
        let checks = checks(&target(), None, &template_facts());
        assert!(checks[3].passed() && checks[5].passed(), "{}\n{}", checks[3], checks[5]);
    }
}
