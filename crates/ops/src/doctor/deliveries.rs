//! CloudWatch: what each topic delivered in the last 24 hours (`AWS/SNS` metrics by `TopicName`).
//! `NumberOfNotificationsFailed` above 0 means SNS could not hand events to the function that
//! subscribes (throttled past SNS's retries, the function or its permission missing): they sit in
//! that subscription's dead-letter queue. `NumberOfMessagesPublished` is information: 0 on the EUM
//! topic while customers write means EUM does not publish (its event destination, or a key policy
//! that does not admit it), which SNS cannot see and no alarm reports.

use super::{Check, Fact, Target};

/// Sums over the window (`GetMetricStatistics`, statistic `Sum`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counts {
    pub published: f64,
    pub failed: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub eum: Fact<Counts>,
    pub connect: Fact<Counts>,
}

/// The window doctor sums over.
pub const HOURS: u64 = 24;

/// A topic's name, the metrics' `TopicName` dimension: the last part of its ARN.
pub fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

pub fn checks(target: &Target, facts: &Facts) -> Vec<Check> {
    [
        (
            "EUM",
            &target.eum_topic_arn,
            &facts.eum,
            "WhatsappHandler",
            "WhatsappEventsSubscriptionDlqUrl",
        ),
        (
            "Connect stream",
            &target.connect_topic_arn,
            &facts.connect,
            "ConnectHandler",
            "ConnectStreamSubscriptionDlqUrl",
        ),
    ]
    .into_iter()
    .map(|(label, arn, fact, function, dlq_output)| {
        let title = format!("{label} topic delivered every notification in the last {HOURS} h");
        let counts = match fact {
            Ok(c) => c,
            Err(e) => {
                return e.check(title, || {
                    "CloudWatch has no such metric namespace here: check the Region".into()
                });
            }
        };
        let published = format!("{} published", counts.published);
        if counts.failed > 0.0 {
            return Check::fail(
                title,
                format!(
                    "{} notifications failed to reach {function} ({published})",
                    counts.failed
                ),
                format!(
                    "they are in the queue of the stack output {dlq_output} (replay --queue-url … --dry-run lists them, docs/operations.md); check {function}'s throttles and its subscription (aws sns get-topic-attributes --topic-arn {arn}, aws sns list-subscriptions-by-topic --topic-arn {arn})"
                ),
            );
        }
        let hint = if label == "EUM" && counts.published == 0.0 {
            ": if customers wrote, EUM did not publish (docs/deploy.md, troubleshooting)"
        } else {
            ""
        };
        Check::pass(format!("{title} ({published}{hint})"))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{ErrorKind, FetchError};

    fn target() -> Target {
        Target {
            eum_topic_arn: "arn:aws:sns:us-east-1:111122223333:stack-WhatsappEventsTopic-AB".into(),
            connect_topic_arn: "arn:aws:sns:us-east-1:111122223333:stack-ConnectStreamTopic-CD".into(),
            ..Target::placeholder()
        }
    }

    fn lines(eum: Fact<Counts>, connect: Fact<Counts>) -> Vec<String> {
        checks(&target(), &Facts { eum, connect })
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn no_failures_pass_with_what_was_published() {
        let l = lines(
            Ok(Counts {
                published: 12.0,
                failed: 0.0,
            }),
            Ok(Counts {
                published: 0.0,
                failed: 0.0,
            }),
        );
        assert_eq!(
            l,
            [
                "✔ EUM topic delivered every notification in the last 24 h (12 published)",
                "✔ Connect stream topic delivered every notification in the last 24 h (0 published)"
            ]
        );
    }

    #[test]
    fn nothing_published_on_the_eum_topic_is_a_hint_not_a_failure() {
        let l = lines(
            Ok(Counts {
                published: 0.0,
                failed: 0.0,
            }),
            Ok(Counts {
                published: 3.0,
                failed: 0.0,
            }),
        );
        assert!(l[0].starts_with('✔') && l[0].contains("(0 published: if customers wrote, EUM did not publish"));
    }

    #[test]
    fn failed_notifications_fail_with_where_to_look() {
        let l = lines(
            Ok(Counts {
                published: 5.0,
                failed: 2.0,
            }),
            Err(FetchError::new(
                "cloudwatch:GetMetricStatistics",
                ErrorKind::AccessDenied,
                "no",
            )),
        );
        assert!(
            l[0].starts_with(
                "✘ EUM topic delivered every notification in the last 24 h: 2 notifications failed to reach WhatsappHandler (5 published). Fix: they are in the queue of the stack output WhatsappEventsSubscriptionDlqUrl"
            ),
            "{}",
            l[0]
        );
        assert!(l[0].contains(
            "aws sns get-topic-attributes --topic-arn arn:aws:sns:us-east-1:111122223333:stack-WhatsappEventsTopic-AB"
        ));
        assert!(l[1].contains("allow cloudwatch:GetMetricStatistics"), "{}", l[1]);
        assert_eq!(topic_name(&target().connect_topic_arn), "stack-ConnectStreamTopic-CD");
    }
}
