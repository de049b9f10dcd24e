//! `doctor`: checks a deployment of the bridge with read-only AWS calls and says how to fix what
//! is wrong.
//!
//! Two halves. Each service module (`connect`, `eum`, `table`, `bucket`, `topics` with its
//! `topic_key`, `deliveries`, `stack`) holds the *facts* doctor reads about it and the pure checks
//! over them (policy documents through `policy`), so every verdict and its fix is unit tested
//! without AWS. `fetch` turns SDK responses into those facts, one small module per
//! service, and [`run`] fetches everything that does not depend on something else concurrently.

pub mod bucket;
pub mod connect;
pub mod deliveries;
pub mod eum;
pub mod fetch;
pub mod policy;
pub mod stack;
pub mod table;
pub mod topic_key;
pub mod topics;

use std::fmt;

pub use fetch::Clients;

/// What a deployment consists of: the values the handlers are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The Region doctor calls (the stack's, the WABA's, the instance's: they must be the same).
    pub region: String,
    pub instance_id: String,
    pub contact_flow_id: String,
    /// Meta `phone_number_id`s the bridge serves; empty = every number of the linked WABAs.
    pub phone_number_ids: Vec<String>,
    pub table: String,
    pub bucket: String,
    pub eum_topic_arn: String,
    pub connect_topic_arn: String,
    /// `NumberRoutes` as deployed (JSON; empty = every number on `contact_flow_id`).
    pub number_routes: String,
}

#[cfg(test)]
impl Target {
    /// A deployment in us-east-1 named by placeholders; each check's unit tests set the values
    /// that check reads (`Target { bucket: "media".into(), ..Target::placeholder() }`).
    pub(crate) fn placeholder() -> Self {
        Self {
            region: "us-east-1".into(),
            instance_id: "i".into(),
            contact_flow_id: "f".into(),
            phone_number_ids: vec![],
            table: "t".into(),
            bucket: "b".into(),
            eum_topic_arn: "e".into(),
            connect_topic_arn: "c".into(),
            number_routes: String::new(),
        }
    }
}

/// The same values as far as they are known (flags, a stack description, or both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partial {
    pub instance_id: Option<String>,
    pub contact_flow_id: Option<String>,
    pub phone_number_ids: Option<Vec<String>>,
    pub table: Option<String>,
    pub bucket: Option<String>,
    pub eum_topic_arn: Option<String>,
    pub connect_topic_arn: Option<String>,
    pub number_routes: Option<String>,
}

impl Partial {
    /// `self` where set, else `other`.
    pub fn or(self, other: Partial) -> Partial {
        Partial {
            instance_id: self.instance_id.or(other.instance_id),
            contact_flow_id: self.contact_flow_id.or(other.contact_flow_id),
            phone_number_ids: self.phone_number_ids.or(other.phone_number_ids),
            table: self.table.or(other.table),
            bucket: self.bucket.or(other.bucket),
            eum_topic_arn: self.eum_topic_arn.or(other.eum_topic_arn),
            connect_topic_arn: self.connect_topic_arn.or(other.connect_topic_arn),
            number_routes: self.number_routes.or(other.number_routes),
        }
    }

    /// The target, or the flags of the values still missing.
    pub fn complete(self, region: &str) -> Result<Target, Vec<&'static str>> {
        let mut missing = Vec::new();
        let mut take = |value: Option<String>, flag: &'static str| {
            value.filter(|v| !v.is_empty()).unwrap_or_else(|| {
                missing.push(flag);
                String::new()
            })
        };
        let target = Target {
            region: region.to_owned(),
            instance_id: take(self.instance_id, "--instance-id"),
            contact_flow_id: take(self.contact_flow_id, "--contact-flow-id"),
            table: take(self.table, "--table"),
            bucket: take(self.bucket, "--bucket"),
            eum_topic_arn: take(self.eum_topic_arn, "--eum-topic-arn"),
            connect_topic_arn: take(self.connect_topic_arn, "--connect-topic-arn"),
            phone_number_ids: self.phone_number_ids.unwrap_or_default(),
            number_routes: self.number_routes.unwrap_or_default(),
        };
        if missing.is_empty() { Ok(target) } else { Err(missing) }
    }
}

/// Splits `WhatsappPhoneNumberIds` / `--phone-number-ids` (comma-separated, empty = all).
pub fn phone_number_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One verdict: what was checked and, when it failed, why and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub title: String,
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub problem: String,
    pub fix: String,
}

impl Check {
    pub fn pass(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            failure: None,
        }
    }

    pub fn fail(title: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            failure: Some(Failure {
                problem: problem.into(),
                fix: fix.into(),
            }),
        }
    }

    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => write!(f, "✔ {}", self.title),
            Some(Failure { problem, fix }) => write!(f, "✘ {}: {problem}. Fix: {fix}", self.title),
        }
    }
}

/// Why a fact could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AccessDenied,
    Other,
}

/// A failed read: the IAM action it needed, the service's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    pub action: &'static str,
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
}

impl FetchError {
    pub fn new(action: &'static str, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            action,
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// The failing check for a fact that could not be read; `missing_fix` says what to do when the
    /// resource does not exist.
    pub fn check(&self, title: impl Into<String>, missing_fix: impl FnOnce() -> String) -> Check {
        match self.kind {
            ErrorKind::NotFound => Check::fail(title, format!("not found ({})", self.action), missing_fix()),
            ErrorKind::AccessDenied => Check::fail(
                title,
                format!("access denied to {}", self.action),
                format!(
                    "allow {} to the identity running doctor (docs/doctor.md lists every permission)",
                    self.action
                ),
            ),
            ErrorKind::Other => Check::fail(
                title,
                format!("{} failed: {}", self.action, self.message),
                "check the Region, the credentials and the network, then run doctor again",
            ),
        }
    }
}

pub type Fact<T> = Result<T, FetchError>;

/// Where the target comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A deployed stack; `overrides` (flags) win over what it says.
    Stack { name: String, overrides: Partial },
    /// Flags only.
    Values(Partial),
}

/// Every verdict, in a fixed order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| !c.passed()).count()
    }

    /// 0 when every check passed, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.failed() == 0 { 0 } else { 1 }
    }

    pub fn summary(&self) -> String {
        let n = self.checks.len();
        format!("{n} check{}, {} failed", if n == 1 { "" } else { "s" }, self.failed())
    }
}

/// Problems with the input itself, before anything is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads the stack (if any), then everything else concurrently, and checks it all.
pub async fn run(clients: &Clients, source: Source) -> Result<Report, UsageError> {
    let region = clients.region().to_owned();
    let mut report = Report::default();
    let values = match source {
        Source::Values(values) => values,
        Source::Stack { name, overrides } => {
            let facts = fetch::cloudformation::stack(clients, &name).await;
            let (checks, from_stack) = stack::checks(&name, &facts);
            report.checks.extend(checks);
            match from_stack {
                Some(from_stack) => overrides.or(from_stack),
                None => return Ok(report),
            }
        }
    };
    let target = values.complete(&region).map_err(|missing| {
        UsageError(format!(
            "missing {} (give them as flags, or --stack-name)",
            missing.join(", ")
        ))
    })?;
    let (connect, eum, table, bucket, topics, deliveries) = tokio::join!(
        fetch::connect::facts(clients, &target),
        fetch::eum::facts(clients),
        fetch::dynamodb::facts(clients, &target),
        fetch::s3::facts(clients, &target),
        fetch::sns::facts(clients, &target),
        fetch::cloudwatch::facts(clients, &target),
    );
    report.checks.extend(connect::checks(&target, &connect));
    report.checks.extend(eum::checks(&target, &eum));
    report.checks.extend(table::checks(&target, &table));
    report.checks.extend(bucket::checks(&target, &bucket));
    let instance_arn = connect.instance.as_ref().ok().and_then(|i| i.arn.clone());
    report
        .checks
        .extend(topics::checks(&target, instance_arn.as_deref(), &topics));
    report.checks.extend(deliveries::checks(&target, &deliveries));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_stack_and_missing_values_are_named() {
        let from_stack = Partial {
            instance_id: Some("stack-instance".into()),
            contact_flow_id: Some("stack-flow".into()),
            phone_number_ids: Some(vec!["1".into()]),
            table: Some("t".into()),
            bucket: Some("b".into()),
            eum_topic_arn: Some("e".into()),
            connect_topic_arn: Some("c".into()),
            number_routes: Some(r#"{"1": {"contact_flow_id": "f-1"}}"#.into()),
        };
        let flags = Partial {
            contact_flow_id: Some("flag-flow".into()),
            ..Partial::default()
        };
        let target = flags.or(from_stack).complete("eu-west-1").unwrap();
        assert_eq!(target.contact_flow_id, "flag-flow");
        assert_eq!(target.instance_id, "stack-instance");
        assert_eq!(target.region, "eu-west-1");
        let missing = Partial {
            table: Some("t".into()),
            instance_id: Some(String::new()),
            ..Partial::default()
        }
        .complete("r")
        .unwrap_err();
        assert_eq!(
            missing,
            [
                "--instance-id",
                "--contact-flow-id",
                "--bucket",
                "--eum-topic-arn",
                "--connect-topic-arn"
            ]
        );
    }

    #[test]
    fn phone_numbers_are_comma_separated_and_empty_means_all() {
        assert_eq!(phone_number_list("1, 2,,3"), ["1", "2", "3"]);
        assert!(phone_number_list("").is_empty());
    }

    #[test]
    fn a_check_is_one_line_with_its_fix() {
        assert_eq!(Check::pass("table t exists").to_string(), "✔ table t exists");
        let failed = Check::fail("TTL on expires_at", "TTL is DISABLED", "enable it");
        assert_eq!(
            failed.to_string(),
            "✘ TTL on expires_at: TTL is DISABLED. Fix: enable it"
        );
        let report = Report {
            checks: vec![Check::pass("a"), failed],
        };
        assert_eq!((report.failed(), report.exit_code()), (1, 1));
        assert_eq!(report.summary(), "2 checks, 1 failed");
        assert_eq!(Report::default().exit_code(), 0);
    }

    #[test]
    fn unreadable_facts_say_which_permission_is_missing() {
        let denied = FetchError::new("sns:GetTopicAttributes", ErrorKind::AccessDenied, "no");
        let check = denied.check("topic", || unreachable!());
        assert!(check.to_string().contains("allow sns:GetTopicAttributes"));
        let missing = FetchError::new("dynamodb:DescribeTable", ErrorKind::NotFound, "no");
        assert!(
            missing
                .check("table", || "create it".into())
                .to_string()
                .ends_with("Fix: create it")
        );
        let other = FetchError::new("s3:GetBucketEncryption", ErrorKind::Other, "timeout");
        assert!(other.check("bucket", || unreachable!()).to_string().contains("timeout"));
    }
}
