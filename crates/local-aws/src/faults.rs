//! Fault injection for the AWS wire API: errors, latency, dropped connections, answers lost after
//! the call took effect, and handler processes killed in the middle of a call.
//!
//! Rules are matched per call in the order they were added; the first rule that matches the
//! service and operation *and fires* (still has `times` left, or wins its `rate` draw) decides the
//! call's fate. Rate draws use the twin's seeded RNG so a failing test can be replayed. Kept apart
//! from the operations themselves so every operation — including ones added later, like the
//! attachment APIs — gets faults for free.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, status_for_code};
use crate::rng::XorShift;

/// `ExpiredToken` is not an AWS error code: it expires the caller's connection token and lets the
/// operation run, so the AccessDenied it then gets comes from the real token check.
pub const EXPIRED_TOKEN: &str = "ExpiredToken";

/// One rule as posted to `POST /_twin/faults`.
#[derive(Debug, Clone, Deserialize)]
pub struct FaultRule {
    /// `connect`, `connectparticipant`, `socialmessaging`, `transcribe`, `lambda` (Invoke), `*` (all
    /// of these), or `dynamodb` / `s3` (the handlers' calls to moto, when the twin proxies them).
    #[serde(default = "star")]
    pub service: String,
    /// Operation name (`SendMessage`) or `*`.
    #[serde(default = "star")]
    pub operation: String,
    /// AWS error code to answer with, or `ExpiredToken`.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Fire for the next N matching calls, then retire.
    #[serde(default)]
    pub times: Option<u32>,
    /// Fire with this probability on every matching call.
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Close the connection without answering, before the call is applied.
    #[serde(default)]
    pub drop_connection: bool,
    /// Apply the call, then close the connection without answering: the caller cannot tell that it
    /// took effect (an SDK retries it).
    #[serde(default)]
    pub lose_answer: bool,
    /// SIGKILL the handler process that made the call, before the call is applied (a Lambda
    /// execution environment dying mid-invocation).
    #[serde(default)]
    pub kill_caller: bool,
}

/// Services whose calls the twin only forwards (to moto). `*` leaves them out, so a rule meant
/// for the simulated services does not also hit the handlers' state and media.
const PROXIED: [&str; 2] = ["dynamodb", "s3"];

fn star() -> String {
    "*".into()
}

impl FaultRule {
    pub fn validate(&self) -> Result<(), String> {
        let ends = [
            self.error.is_some(),
            self.drop_connection,
            self.lose_answer,
            self.kill_caller,
        ];
        if self.latency_ms.is_none() && !ends.contains(&true) {
            return Err("a fault needs error, latency_ms, drop_connection, lose_answer or kill_caller".into());
        }
        if ends.iter().filter(|e| **e).count() > 1 {
            return Err("error, drop_connection, lose_answer and kill_caller exclude each other".into());
        }
        if PROXIED.contains(&self.service.as_str()) && self.error.as_deref() == Some(EXPIRED_TOKEN) {
            return Err(format!("{EXPIRED_TOKEN} applies to connectparticipant only"));
        }
        if let Some(r) = self.rate
            && !(0.0..=1.0).contains(&r)
        {
            return Err("rate must be between 0 and 1".into());
        }
        if !matches!(
            self.service.as_str(),
            "*" | "connect" | "connectparticipant" | "socialmessaging" | "transcribe" | "lambda" | "dynamodb" | "s3"
        ) {
            return Err(format!(
                "unknown service {:?} (connect|connectparticipant|socialmessaging|transcribe|lambda|dynamodb|s3|*)",
                self.service
            ));
        }
        Ok(())
    }

    fn matches(&self, service: &str, operation: &str) -> bool {
        (self.service == service || (self.service == "*" && !PROXIED.contains(&service)))
            && (self.operation == "*" || self.operation.eq_ignore_ascii_case(operation))
    }

    fn to_json(&self) -> Value {
        json!({
            "service": self.service, "operation": self.operation, "error": self.error,
            "message": self.message, "times": self.times, "rate": self.rate,
            "latency_ms": self.latency_ms, "drop_connection": self.drop_connection,
            "lose_answer": self.lose_answer, "kill_caller": self.kill_caller,
        })
    }
}

/// What a fired rule does to a call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultAction {
    pub latency_ms: u64,
    pub drop_connection: bool,
    pub lose_answer: bool,
    pub kill_caller: bool,
    pub error: Option<ApiError>,
    pub expire_token: bool,
}

/// All active rules plus the global latency.
#[derive(Debug)]
pub struct Faults {
    rules: Vec<FaultRule>,
    pub global_latency_ms: u64,
    rng: XorShift,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            global_latency_ms: 0,
            rng: XorShift::new(0x5EED),
        }
    }
}

impl Faults {
    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn list(&self) -> Value {
        Value::Array(self.rules.iter().map(FaultRule::to_json).collect())
    }

    /// Decides the fate of one call (global latency included).
    pub fn on_call(&mut self, service: &str, operation: &str) -> FaultAction {
        let mut action = FaultAction {
            latency_ms: self.global_latency_ms,
            ..Default::default()
        };
        let mut fired = None;
        for (i, rule) in self.rules.iter_mut().enumerate() {
            if !rule.matches(service, operation) {
                continue;
            }
            let fires = match (rule.times, rule.rate) {
                (Some(0), _) => false,
                (Some(n), _) => {
                    rule.times = Some(n - 1);
                    true
                }
                (None, Some(p)) => self.rng.chance(p),
                (None, None) => true,
            };
            if fires {
                fired = Some(i);
                break;
            }
        }
        let Some(i) = fired else {
            return action;
        };
        let rule = self.rules[i].clone();
        if rule.times == Some(0) {
            self.rules.remove(i);
        }
        action.latency_ms += rule.latency_ms.unwrap_or(0);
        action.drop_connection = rule.drop_connection;
        action.lose_answer = rule.lose_answer;
        action.kill_caller = rule.kill_caller;
        match rule.error.as_deref() {
            Some(EXPIRED_TOKEN) => action.expire_token = true,
            Some(code) => {
                action.error = Some(ApiError {
                    status: status_for_code(code),
                    code: code.to_owned(),
                    message: rule.message.unwrap_or_else(|| format!("Injected fault: {code}")),
                });
            }
            None => {}
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(v: Value) -> FaultRule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn times_rules_retire() {
        let mut f = Faults::default();
        f.add(rule(
            json!({"service":"connectparticipant","operation":"SendMessage","error":"ThrottlingException","times":2}),
        ));
        assert_eq!(f.on_call("connectparticipant", "SendEvent"), FaultAction::default());
        for _ in 0..2 {
            let a = f.on_call("connectparticipant", "SendMessage");
            assert_eq!(a.error.unwrap().status, 429);
        }
        assert!(f.on_call("connectparticipant", "SendMessage").error.is_none());
        assert_eq!(f.list(), json!([]));
    }

    #[test]
    fn rate_rules_are_seeded_and_latency_adds_up() {
        let mut f = Faults {
            global_latency_ms: 20,
            ..Default::default()
        };
        f.add(rule(
            json!({"operation":"*","error":"InternalServerException","rate":0.5,"latency_ms":5}),
        ));
        let hits = (0..1000)
            .filter(|_| f.on_call("connect", "StopContact").error.is_some())
            .count();
        assert!((400..600).contains(&hits), "{hits}");
        let a = f.on_call("socialmessaging", "SendWhatsAppMessage");
        assert!(a.latency_ms == 20 || a.latency_ms == 25);
    }

    #[test]
    fn expired_token_and_drop() {
        let mut f = Faults::default();
        f.add(rule(
            json!({"service":"connectparticipant","error":"ExpiredToken","times":1}),
        ));
        f.add(rule(json!({"service":"socialmessaging","drop_connection":true})));
        assert!(f.on_call("connectparticipant", "SendMessage").expire_token);
        assert!(f.on_call("socialmessaging", "SendWhatsAppMessage").drop_connection);
        assert!(rule(json!({"service":"sqs","error":"X"})).validate().is_err());
        assert!(rule(json!({"service":"connect"})).validate().is_err());
        assert!(rule(json!({"error":"X","lose_answer":true})).validate().is_err());
        assert!(
            rule(json!({"service":"dynamodb","error":"ExpiredToken"}))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn the_handlers_calls_to_moto_are_hit_only_when_named() {
        let mut f = Faults::default();
        f.add(rule(json!({"error":"InternalServerException"})));
        assert!(f.on_call("dynamodb", "UpdateItem").error.is_none());
        assert!(f.on_call("s3", "PutObject").error.is_none());
        f.clear();
        f.add(rule(
            json!({"service":"dynamodb","operation":"UpdateItem","lose_answer":true,"times":1}),
        ));
        f.add(rule(json!({"service":"s3","kill_caller":true})));
        assert!(
            rule(json!({"service":"dynamodb","lose_answer":true}))
                .validate()
                .is_ok()
        );
        assert!(!f.on_call("dynamodb", "GetItem").lose_answer);
        assert!(f.on_call("dynamodb", "UpdateItem").lose_answer);
        assert!(!f.on_call("dynamodb", "UpdateItem").lose_answer);
        assert!(f.on_call("s3", "GetObject").kill_caller);
    }
}
