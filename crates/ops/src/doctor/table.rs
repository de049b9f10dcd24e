//! DynamoDB: the state table exists with hash key `pk` (string), expires items by `expires_at`
//! and has point-in-time recovery — what `template.yaml` creates and the bridge relies on
//! (every item carries `expires_at`; without TTL, claims and conversations pile up forever).

use super::{Check, Fact, Target};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// `ACTIVE`, `CREATING`, `UPDATING`, …
    pub status: String,
    /// (attribute name, attribute type) of the HASH key.
    pub hash_key: Option<(String, String)>,
    pub has_range_key: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ttl {
    /// `ENABLED`, `ENABLING`, `DISABLED`, `DISABLING`.
    pub status: String,
    pub attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub table: Fact<Table>,
    pub ttl: Fact<Ttl>,
    /// `ENABLED` or `DISABLED`.
    pub point_in_time_recovery: Fact<String>,
}

pub fn checks(target: &Target, facts: &Facts) -> Vec<Check> {
    let name = &target.table;
    let table = match &facts.table {
        Err(e) => {
            return vec![e.check(format!("DynamoDB table {name} exists"), || {
                "set the table name to the stack's StateTableName output, or deploy the stack (template.yaml creates it)"
                    .into()
            })];
        }
        Ok(t) => t,
    };
    let title = format!("DynamoDB table {name} is ACTIVE with hash key pk (S)");
    let key = table.hash_key.as_ref().map(|(n, t)| (n.as_str(), t.as_str()));
    let mut checks = vec![if table.status != "ACTIVE" {
        Check::fail(
            title,
            format!("it is {}", table.status),
            "wait for the table operation to finish, then run doctor again",
        )
    } else if key != Some(("pk", "S")) || table.has_range_key {
        let found = key.map_or("none".to_owned(), |(n, t)| format!("{n} ({t})"));
        Check::fail(
            title,
            format!(
                "its hash key is {found}{}",
                if table.has_range_key { " with a range key" } else { "" }
            ),
            "use the table the stack created (StateTableName output); the bridge reads and writes items by pk alone",
        )
    } else {
        Check::pass(title)
    }];
    let ttl_title = format!("table {name} expires items by expires_at (TTL)");
    checks.push(match &facts.ttl {
        Err(e) => e.check(ttl_title, String::new),
        Ok(ttl) => {
            let on = matches!(ttl.status.as_str(), "ENABLED" | "ENABLING");
            let attribute = ttl.attribute.as_deref();
            if on && attribute == Some("expires_at") {
                Check::pass(ttl_title)
            } else {
                let problem = if on {
                    format!("TTL is on attribute {}", attribute.unwrap_or("?"))
                } else {
                    format!("TTL is {}", ttl.status)
                };
                let mut fix = format!(
                    "aws dynamodb update-time-to-live --table-name {name} --time-to-live-specification Enabled=true,AttributeName=expires_at"
                );
                if on {
                    fix = format!("disable TTL on {} first (it takes up to an hour), then {fix}", attribute.unwrap_or("?"));
                }
                Check::fail(ttl_title, problem, fix)
            }
        }
    });
    let pitr_title = format!("table {name} has point-in-time recovery");
    checks.push(match &facts.point_in_time_recovery {
        Err(e) => e.check(pitr_title, String::new),
        Ok(status) if status == "ENABLED" => Check::pass(pitr_title),
        Ok(status) => Check::fail(
            pitr_title,
            format!("it is {status}"),
            format!(
                "aws dynamodb update-continuous-backups --table-name {name} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
            ),
        ),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{ErrorKind, FetchError};

    fn good() -> Facts {
        Facts {
            table: Ok(Table {
                status: "ACTIVE".into(),
                hash_key: Some(("pk".into(), "S".into())),
                has_range_key: false,
            }),
            ttl: Ok(Ttl {
                status: "ENABLED".into(),
                attribute: Some("expires_at".into()),
            }),
            point_in_time_recovery: Ok("ENABLED".into()),
        }
    }

    fn lines(facts: &Facts) -> Vec<String> {
        let target = Target {
            table: "state".into(),
            ..Target::placeholder()
        };
        checks(&target, facts).iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn the_template_table_passes() {
        assert_eq!(
            lines(&good()),
            [
                "✔ DynamoDB table state is ACTIVE with hash key pk (S)",
                "✔ table state expires items by expires_at (TTL)",
                "✔ table state has point-in-time recovery",
            ]
        );
    }

    #[test]
    fn ttl_off_or_on_another_attribute_fails_with_the_command() {
        let mut f = good();
        f.ttl = Ok(Ttl {
            status: "DISABLED".into(),
            attribute: None,
        });
        let line = &lines(&f)[1];
        assert!(line.starts_with("✘ table state expires items by expires_at (TTL): TTL is DISABLED."));
        assert!(line.contains("update-time-to-live --table-name state"));
        f.ttl = Ok(Ttl {
            status: "ENABLED".into(),
            attribute: Some("ttl".into()),
        });
        assert!(lines(&f)[1].contains("TTL is on attribute ttl. Fix: disable TTL on ttl first"));
    }

    #[test]
    fn pitr_off_wrong_key_and_missing_table_fail() {
        let mut f = good();
        f.point_in_time_recovery = Ok("DISABLED".into());
        assert!(lines(&f)[2].contains("update-continuous-backups --table-name state"));
        f.table = Ok(Table {
            status: "ACTIVE".into(),
            hash_key: Some(("id".into(), "S".into())),
            has_range_key: true,
        });
        assert!(lines(&f)[0].contains("its hash key is id (S) with a range key"));
        f.table = Err(FetchError::new("dynamodb:DescribeTable", ErrorKind::NotFound, "no"));
        let only = lines(&f);
        assert_eq!(only.len(), 1);
        assert!(only[0].contains("StateTableName"));
    }
}
