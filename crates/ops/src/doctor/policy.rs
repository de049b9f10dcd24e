//! IAM policy documents as doctor reads them (a topic's access policy, a KMS key's key policy):
//! their statements, and whether they let a service principal do an action in a request whose
//! condition keys doctor knows.
//!
//! Narrow on purpose. A condition is decided only for the operators the bridge's policies use
//! (`StringEquals`, `StringLike`, `ArnEquals`, `ArnLike`, their `Not`, `IgnoreCase` and `IfExists`
//! forms) over keys whose value doctor knows for the request; any other operator or key is
//! undecided. An undecided `Allow` grants nothing (doctor cannot show that it applies) and an
//! undecided `Deny` denies nothing (nor that it does), so a verdict is what doctor can show.

use serde_json::Value;

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The `Sid`, or `#<position>` (1-based) without one.
    pub sid: String,
    pub allow: bool,
    /// `service:<name>` for a service principal, the principal as written otherwise (`*`, an ARN);
    /// a `NotPrincipal` statement is `everyone but its NotPrincipal`.
    pub principals: Vec<String>,
    /// `Action` patterns, or the `NotAction` ones when `not_action`.
    actions: Vec<String>,
    not_action: bool,
    pub conditions: Vec<Condition>,
}

/// One key of one operator of a statement's `Condition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// As written (`StringEquals`, `ForAnyValue:StringLike`, …).
    pub operator: String,
    /// As written; condition keys are case-insensitive.
    pub key: String,
    pub values: Vec<String>,
}

/// The condition keys a request carries, with their values (keys in any case).
pub type Context<'a> = [(&'a str, &'a str)];

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// The statements of a policy document.
pub fn parse(policy: &str) -> Result<Vec<Statement>, String> {
    let doc: Value = serde_json::from_str(policy).map_err(|e| format!("the policy is not JSON ({e})"))?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(s)) => s.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err("the policy has no Statement".into()),
    };
    Ok(statements
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let mut principals = Vec::new();
            if st.get("NotPrincipal").is_some() {
                principals.push("everyone but its NotPrincipal".to_owned());
            }
            match st.get("Principal") {
                Some(Value::String(s)) => principals.push(s.clone()),
                Some(Value::Object(kinds)) => {
                    for (kind, names) in kinds {
                        for name in strings(Some(names)) {
                            principals.push(if kind == "Service" {
                                format!("service:{name}")
                            } else {
                                name
                            });
                        }
                    }
                }
                _ => {}
            }
            let mut conditions = Vec::new();
            if let Some(Value::Object(operators)) = st.get("Condition") {
                for (operator, keys) in operators {
                    if let Value::Object(keys) = keys {
                        for (key, values) in keys {
                            conditions.push(Condition {
                                operator: operator.clone(),
                                key: key.clone(),
                                values: strings(Some(values)),
                            });
                        }
                    }
                }
            }
            let not_action = st.get("NotAction").is_some();
            Statement {
                sid: st
                    .get("Sid")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("#{}", i + 1), str::to_owned),
                allow: st.get("Effect").and_then(Value::as_str) == Some("Allow"),
                principals,
                actions: strings(st.get(if not_action { "NotAction" } else { "Action" })),
                not_action,
                conditions,
            }
        })
        .collect())
}

/// `pattern` (`*` any run of characters, `?` any one) matches all of `value`.
pub fn glob(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // Greedy match with backtracking to the last `*`: linear in practice for policy patterns.
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `ArnEquals`/`ArnLike`: each of the six colon-separated parts matched on its own.
fn arn_matches(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<&str>, Vec<&str>) = (pattern.splitn(6, ':').collect(), value.splitn(6, ':').collect());
    p.len() == 6 && v.len() == 6 && p.iter().zip(&v).all(|(p, v)| glob(p, v))
}

impl Condition {
    /// Whether the condition holds in `context`; `None` when doctor cannot decide (an operator it
    /// does not read, or a key it does not know the request's value of).
    pub fn holds(&self, context: &Context) -> Option<bool> {
        let operator = self.operator.to_ascii_lowercase();
        let operator = operator.strip_suffix("ifexists").unwrap_or(&operator);
        let (negated, operator) = match operator.split_once("not") {
            Some((kind, rest)) => (true, format!("{kind}{rest}")),
            None => (false, operator.to_owned()),
        };
        let matches: fn(&str, &str) -> bool = match operator.as_str() {
            "stringequals" => |p, v| p == v,
            "stringequalsignorecase" => |p, v| p.eq_ignore_ascii_case(v),
            "stringlike" => glob,
            "arnequals" | "arnlike" => arn_matches,
            _ => return None,
        };
        let (_, value) = context.iter().find(|(k, _)| k.eq_ignore_ascii_case(&self.key))?;
        Some(self.values.iter().any(|p| matches(p, value)) != negated)
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.operator, self.key, self.values.join(" or "))
    }
}

impl Statement {
    /// Whether the statement is about `action` (`service:Operation`; actions are case-insensitive).
    pub fn covers(&self, action: &str) -> bool {
        let action = action.to_ascii_lowercase();
        self.actions.iter().any(|p| glob(&p.to_ascii_lowercase(), &action)) != self.not_action
    }

    /// Whether the statement names `service` (`connect.amazonaws.com`) as a principal, itself or
    /// as everyone (`*`).
    pub fn names_service(&self, service: &str) -> bool {
        self.principals
            .iter()
            .any(|p| p == "*" || p.strip_prefix("service:") == Some(service))
    }

    /// `Some(true)` when every condition holds in `context`, `Some(false)` when one does not,
    /// `None` when none fails but one is undecided.
    fn applies(&self, context: &Context) -> Option<bool> {
        let mut decided = Some(true);
        for c in &self.conditions {
            match c.holds(context) {
                Some(false) => return Some(false),
                None => decided = None,
                Some(true) => {}
            }
        }
        decided
    }
}

/// Why a policy does not let a service do an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Allow` statement names the service.
    NotNamed,
    /// Statements name the service, none for this action.
    ActionMissing(String),
    /// Statements allow it the action, under conditions this request does not (or may not) meet.
    Unmet { action: String, conditions: Vec<String> },
    /// A `Deny` statement applies.
    Denied { action: String, sid: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotNamed => f.write_str("no Allow statement names it"),
            Refusal::ActionMissing(action) => write!(f, "no statement allows it {action}"),
            Refusal::Unmet { action, conditions } => write!(
                f,
                "it is allowed {action} only under conditions not shown to hold here ({})",
                conditions.join("; ")
            ),
            Refusal::Denied { action, sid } => write!(f, "statement {sid} denies it {action}"),
        }
    }
}

/// The statements that let `service` do every one of `actions` in `context`, or why not.
pub fn service_may<'a>(
    statements: &'a [Statement],
    service: &str,
    actions: &[&str],
    context: &Context,
) -> Result<Vec<&'a Statement>, Refusal> {
    if !statements.iter().any(|s| s.allow && s.names_service(service)) {
        return Err(Refusal::NotNamed);
    }
    let mut granting: Vec<&Statement> = Vec::new();
    for &action in actions {
        let about: Vec<&Statement> = statements
            .iter()
            .filter(|s| s.names_service(service) && s.covers(action))
            .collect();
        if let Some(deny) = about.iter().find(|s| !s.allow && s.applies(context) == Some(true)) {
            return Err(Refusal::Denied {
                action: action.to_owned(),
                sid: deny.sid.clone(),
            });
        }
        let allows: Vec<&Statement> = about.into_iter().filter(|s| s.allow).collect();
        if allows.is_empty() {
            return Err(Refusal::ActionMissing(action.to_owned()));
        }
        match allows.iter().find(|s| s.applies(context) == Some(true)) {
            Some(s) => {
                if !granting.iter().any(|g| g.sid == s.sid) {
                    granting.push(s);
                }
            }
            None => {
                let conditions = allows
                    .iter()
                    .flat_map(|s| &s.conditions)
                    .filter(|c| c.holds(context) != Some(true))
                    .map(|c| match c.holds(context) {
                        Some(_) => c.to_string(),
                        None => format!("{c}: undecided"),
                    })
                    .collect();
                return Err(Refusal::Unmet {
                    action: action.to_owned(),
                    conditions,
                });
            }
        }
    }
    Ok(granting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs_match_runs_and_single_characters() {
        assert!(glob("kms:GenerateDataKey*", "kms:GenerateDataKey"));
        assert!(glob("kms:GenerateDataKey*", "kms:GenerateDataKeyWithoutPlaintext"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(!glob("kms:Decrypt", "kms:DecryptX"));
        assert!(!glob("a*b", "ac"));
    }

    #[test]
    fn arns_match_part_by_part() {
        let topic = "arn:aws:sns:us-east-1:111122223333:stack-WhatsappEventsTopic-AB12";
        assert!(arn_matches(
            "arn:aws:sns:us-east-1:111122223333:stack-WhatsappEventsTopic-*",
            topic
        ));
        assert!(arn_matches("arn:aws:sns:*:*:*", topic));
        assert!(!arn_matches("arn:aws:sns:eu-west-1:*:*", topic));
        assert!(!arn_matches("arn:aws:sns", topic));
    }

    #[test]
    fn statements_are_read_with_their_principals_actions_and_conditions() {
        let policy = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Service": ["a.amazonaws.com"], "AWS": "arn:aws:iam::1:root"},
             "NotAction": "kms:Delete*", "Condition": {"StringEquals": {"AWS:SourceAccount": "1"}}},
            {"Sid": "D", "Effect": "Deny", "NotPrincipal": {"AWS": "x"}, "Action": ["kms:*"]}]});
        let st = parse(&policy.to_string()).unwrap();
        assert_eq!(st[0].sid, "#1");
        assert!(st[0].allow && !st[1].allow);
        assert_eq!(st[0].principals, ["arn:aws:iam::1:root", "service:a.amazonaws.com"]);
        assert!(st[0].covers("kms:Decrypt") && !st[0].covers("kms:DeleteAlias"));
        assert!(st[1].covers("KMS:decrypt"));
        assert_eq!(st[0].conditions[0].key, "AWS:SourceAccount");
        assert_eq!(st[1].principals, ["everyone but its NotPrincipal"]);
        assert!(!st[1].names_service("a.amazonaws.com"));
        assert!(parse("{}").is_err() && parse("nope").is_err());
    }

    fn condition(operator: &str, values: &[&str]) -> Condition {
        Condition {
            operator: operator.into(),
            key: "aws:SourceArn".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn conditions_hold_by_operator_and_known_keys_only() {
        let ctx = [("AWS:SOURCEARN", "arn:aws:connect:us-east-1:1:instance/i")];
        let instance = "arn:aws:connect:us-east-1:1:instance/i";
        assert_eq!(condition("ArnEquals", &[instance]).holds(&ctx), Some(true));
        assert_eq!(
            condition("ArnLike", &["arn:aws:connect:*:1:instance/*"]).holds(&ctx),
            Some(true)
        );
        assert_eq!(condition("StringEquals", &["x", instance]).holds(&ctx), Some(true));
        assert_eq!(
            condition("StringEqualsIgnoreCase", &["ARN:AWS:CONNECT:US-EAST-1:1:INSTANCE/I"]).holds(&ctx),
            Some(true)
        );
        assert_eq!(
            condition("StringLike", &["arn:aws:connect:*:instance/j"]).holds(&ctx),
            Some(false)
        );
        assert_eq!(condition("StringNotEquals", &[instance]).holds(&ctx), Some(false));
        assert_eq!(
            condition("ArnNotLike", &["arn:aws:connect:*:2:*"]).holds(&ctx),
            Some(true)
        );
        assert_eq!(condition("StringEqualsIfExists", &[instance]).holds(&ctx), Some(true));
        assert_eq!(condition("NumericEquals", &["1"]).holds(&ctx), None);
        assert_eq!(condition("ForAnyValue:StringLike", &["*"]).holds(&ctx), None);
        assert_eq!(condition("StringEquals", &[instance]).holds(&[]), None);
    }

    fn allow(service: &str, actions: &[&str], conditions: serde_json::Value) -> serde_json::Value {
        json!({"Sid": format!("Allow{service}"), "Effect": "Allow", "Principal": {"Service": service},
               "Action": actions, "Resource": "*", "Condition": conditions})
    }

    const BOTH: &[&str] = &["kms:GenerateDataKey", "kms:Decrypt"];

    #[test]
    fn a_service_may_only_with_every_action_under_conditions_that_hold() {
        let ctx = [("aws:SourceAccount", "1")];
        let source = json!({"StringEquals": {"aws:SourceAccount": "1"}});
        let policy = |statements: serde_json::Value| parse(&json!({ "Statement": statements }).to_string()).unwrap();

        let st = policy(json!([allow(
            "e",
            &["kms:GenerateDataKey*", "kms:Decrypt"],
            source.clone()
        )]));
        let granted = service_may(&st, "e", BOTH, &ctx).unwrap();
        assert_eq!(granted.iter().map(|s| s.sid.as_str()).collect::<Vec<_>>(), ["Allowe"]);

        // Split over two statements, one of them `kms:*` with no condition.
        let mut other = allow("e", &["kms:*"], json!({}));
        other["Sid"] = "All".into();
        let st = policy(json!([allow("e", &["kms:GenerateDataKey"], source.clone()), other]));
        assert_eq!(service_may(&st, "e", BOTH, &ctx).unwrap().len(), 2);

        let st = policy(json!([allow("x", &["kms:*"], json!({}))]));
        assert_eq!(service_may(&st, "e", BOTH, &ctx).unwrap_err(), Refusal::NotNamed);

        let st = policy(json!([allow("e", &["kms:GenerateDataKey*"], json!({}))]));
        assert_eq!(
            service_may(&st, "e", BOTH, &ctx).unwrap_err(),
            Refusal::ActionMissing("kms:Decrypt".into())
        );

        let st = policy(json!([allow(
            "e",
            &["kms:*"],
            json!({"StringEquals": {"aws:SourceAccount": "2"}})
        )]));
        let Refusal::Unmet { action, conditions } = service_may(&st, "e", BOTH, &ctx).unwrap_err() else {
            panic!("not unmet");
        };
        assert_eq!(
            (action.as_str(), conditions),
            (
                "kms:GenerateDataKey",
                vec!["StringEquals aws:SourceAccount 2".to_owned()]
            )
        );

        let st = policy(json!([allow(
            "e",
            &["*"],
            json!({"StringEquals": {"kms:ViaService": "sns"}})
        )]));
        let refusal = service_may(&st, "e", BOTH, &ctx).unwrap_err();
        assert!(
            refusal.to_string().contains("kms:ViaService sns: undecided"),
            "{refusal}"
        );

        let deny = json!({"Sid": "NoDecrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt"});
        let st = policy(json!([allow("e", &["kms:*"], json!({})), deny]));
        assert_eq!(
            service_may(&st, "e", BOTH, &ctx).unwrap_err(),
            Refusal::Denied {
                action: "kms:Decrypt".into(),
                sid: "NoDecrypt".into()
            }
        );
    }
}
