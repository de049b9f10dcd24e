//! CloudWatch metrics in embedded metric format (EMF): one JSON document per line on stdout, which
//! CloudWatch Logs turns into metrics of the namespace [`NAMESPACE`] without any API call or IAM
//! permission of the function's own.
//!
//! Documents are built by the pure [`document`] and written by [`record`]. Dimensions are low-cardinality
//! by construction: the function's name, the direction, the message kind and reason codes that the code
//! itself defines (or that AWS and Meta define: content types, WhatsApp types and statuses). Customer,
//! contact and message ids never become dimensions, so the number of metrics (each one billed) stays
//! bounded whatever the traffic. The metric names are what `template.yaml`'s dashboard and alarms read.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

/// Which way a message crosses the bridge: a dimension of every metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// WhatsApp → Connect.
    Inbound,
    /// Connect → WhatsApp.
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// Epoch milliseconds: the documents' timestamp, and the clock of every service.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

pub const NAMESPACE: &str = "WhatsAppConnectBridge";

/// CloudWatch's maximum length of a dimension value is 1024; kinds are much shorter. The cut keeps a
/// surprising input (a new WhatsApp type name, say) from making a very long one.
const MAX_DIMENSION_VALUE: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// What became of one message, as the metrics count it.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition<'a> {
    /// It reached the other side; `end_to_end` runs from the WhatsApp or Connect timestamp of the event
    /// to now, when that timestamp is known.
    Bridged { end_to_end: Option<Duration> },
    /// Nothing was sent, on purpose: a duplicate, a status nobody shows, a reaction with no chat, …
    Skipped { reason: &'a str },
    /// A call failed; `reason` is `<operation>/<failure kind>` (e.g. `SendMessage/Transient`).
    Failed { reason: String },
}

/// One thing worth counting.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric<'a> {
    Message {
        direction: Direction,
        /// The kind the outcome log line names (`text`, `image`, `message text/plain`, …).
        kind: &'a str,
        disposition: Disposition<'a>,
        /// Time spent in this invocation on the message.
        handling: Duration,
    },
    /// Input that can never be bridged, by its reason code (docs/troubleshooting.md).
    Rejected { direction: Direction, reason: &'a str },
    /// A new Connect chat was opened for a customer.
    ChatStarted,
    /// A call without an idempotency token sent again after a failure that may have followed its effect
    /// (a lost answer, a server error): the customer may see that message twice.
    PossibleDuplicate { operation: &'a str },
    /// A voice note streamed to Amazon Transcribe: its length (what Transcribe bills) and whether the
    /// transcription failed.
    Transcription { audio: Duration, failed: bool },
}

/// One metric directive's worth: the dimension sets and the metrics that share them.
struct Directive {
    dimensions: &'static [&'static [&'static str]],
    metrics: Vec<(&'static str, Unit)>,
}

/// A metric's value member: counts stay integers on the wire, timings are decimal.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Amount {
    Count(u64),
    Real(f64),
}

/// One EMF document, serialized straight to its JSON line (no intermediate `serde_json::Value`: this is
/// written for every message, on the handlers' critical path).
pub struct Document {
    function: String,
    direction: Option<&'static str>,
    kind: Option<String>,
    reason: Option<String>,
    values: Vec<(&'static str, Amount)>,
    directives: Vec<Directive>,
    timestamp_ms: i64,
}

/// The EMF document for `metric`, as emitted by `function` at `timestamp_ms` (Unix epoch milliseconds).
pub fn document(metric: &Metric<'_>, function: &str, timestamp_ms: i64) -> Document {
    let mut doc = Document {
        function: dimension_value(function),
        direction: None,
        kind: None,
        reason: None,
        values: Vec::new(),
        directives: Vec::new(),
        timestamp_ms,
    };
    match metric {
        Metric::Message {
            direction,
            kind,
            disposition,
            handling,
        } => {
            doc.direction = Some(direction.as_str());
            doc.kind = Some(dimension_value(kind));
            match disposition {
                Disposition::Bridged { end_to_end } => {
                    doc.values.push(("MessagesBridged", Amount::Count(1)));
                    doc.values.push(("HandlingTime", Amount::Real(millis(*handling))));
                    doc.directives.push(Directive {
                        dimensions: &[&["FunctionName", "Direction", "Kind"], &["FunctionName", "Direction"]],
                        metrics: vec![("MessagesBridged", Unit::Count)],
                    });
                    let mut timings = vec![("HandlingTime", Unit::Milliseconds)];
                    if let Some(latency) = end_to_end {
                        doc.values.push(("EndToEndLatency", Amount::Real(millis(*latency))));
                        timings.push(("EndToEndLatency", Unit::Milliseconds));
                    }
                    doc.directives.push(Directive {
                        dimensions: &[&["FunctionName", "Direction"]],
                        metrics: timings,
                    });
                }
                Disposition::Skipped { reason } => {
                    doc.reason = Some(dimension_value(reason));
                    doc.values.push(("MessagesSkipped", Amount::Count(1)));
                    doc.directives.push(Directive {
                        dimensions: &[&["FunctionName", "Direction", "Reason"]],
                        metrics: vec![("MessagesSkipped", Unit::Count)],
                    });
                }
                Disposition::Failed { reason } => {
                    doc.reason = Some(dimension_value(reason));
                    doc.values.push(("MessagesFailed", Amount::Count(1)));
                    doc.directives.push(Directive {
                        dimensions: &[&["FunctionName", "Direction", "Reason"], &["FunctionName", "Direction"]],
                        metrics: vec![("MessagesFailed", Unit::Count)],
                    });
                }
            }
        }
        Metric::Rejected { direction, reason } => {
            doc.direction = Some(direction.as_str());
            doc.reason = Some(dimension_value(reason));
            doc.values.push(("InputRejected", Amount::Count(1)));
            doc.directives.push(Directive {
                dimensions: &[&["FunctionName", "Direction", "Reason"]],
                metrics: vec![("InputRejected", Unit::Count)],
            });
        }
        Metric::ChatStarted => {
            doc.values.push(("ChatsStarted", Amount::Count(1)));
            doc.directives.push(Directive {
                dimensions: &[&["FunctionName"]],
                metrics: vec![("ChatsStarted", Unit::Count)],
            });
        }
        Metric::PossibleDuplicate { operation } => {
            doc.reason = Some(dimension_value(operation));
            doc.values.push(("PossibleDuplicates", Amount::Count(1)));
            doc.directives.push(Directive {
                dimensions: &[&["FunctionName", "Reason"]],
                metrics: vec![("PossibleDuplicates", Unit::Count)],
            });
        }
        Metric::Transcription { audio, failed } => {
            doc.values
                .push(("TranscriptionSeconds", Amount::Real(audio.as_secs_f64())));
            doc.values
                .push(("TranscriptionFailures", Amount::Count(u64::from(*failed))));
            doc.directives.push(Directive {
                dimensions: &[&["FunctionName"]],
                metrics: vec![
                    ("TranscriptionSeconds", Unit::Seconds),
                    ("TranscriptionFailures", Unit::Count),
                ],
            });
        }
    }
    doc
}

impl Serialize for Document {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut root = serializer.serialize_map(None)?;
        root.serialize_entry("FunctionName", &self.function)?;
        if let Some(direction) = self.direction {
            root.serialize_entry("Direction", direction)?;
        }
        if let Some(kind) = &self.kind {
            root.serialize_entry("Kind", kind)?;
        }
        if let Some(reason) = &self.reason {
            root.serialize_entry("Reason", reason)?;
        }
        for (name, amount) in &self.values {
            match amount {
                Amount::Count(n) => root.serialize_entry(name, n)?,
                Amount::Real(x) => root.serialize_entry(name, x)?,
            }
        }
        root.serialize_entry(
            "_aws",
            &Metadata {
                timestamp: self.timestamp_ms,
                cloud_watch_metrics: &self.directives,
            },
        )?;
        root.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: i64,
    #[serde(rename = "CloudWatchMetrics")]
    cloud_watch_metrics: &'a [Directive],
}

impl Serialize for Directive {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Definition {
            #[serde(rename = "Name")]
            name: &'static str,
            #[serde(rename = "Unit")]
            unit: &'static str,
        }
        let mut directive = serializer.serialize_map(Some(3))?;
        directive.serialize_entry("Namespace", NAMESPACE)?;
        directive.serialize_entry("Dimensions", self.dimensions)?;
        let definitions: Vec<Definition> = self
            .metrics
            .iter()
            .map(|&(name, unit)| Definition {
                name,
                unit: unit.as_str(),
            })
            .collect();
        directive.serialize_entry("Metrics", &definitions)?;
        directive.end()
    }
}

/// Writes `metric`'s document as one line on stdout, where Lambda hands it to CloudWatch Logs.
pub fn record(metric: &Metric<'_>) {
    let doc = document(metric, function_name(), now_ms());
    let Ok(mut line) = serde_json::to_vec(&doc) else {
        return;
    };
    line.push(b'\n');
    // One locked write per line, so log lines written concurrently never split it.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&line).and_then(|()| out.flush());
}

/// Tells deployments (and the two functions) apart on the dashboard.
fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".to_owned()))
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// CloudWatch takes ASCII dimension values with at least one non-blank character.
fn dimension_value(raw: &str) -> String {
    let value: String = raw
        .chars()
        .map(|c| match c {
            c if c.is_ascii_graphic() => c,
            c if c.is_whitespace() => ' ',
            _ => '?',
        })
        .collect();
    let value: String = value.trim().chars().take(MAX_DIMENSION_VALUE).collect();
    if value.is_empty() { "none".to_owned() } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::HashSet;

    const NOW: i64 = 1_762_843_882_123;

    /// The line [`record`] writes for `metric`, read back as JSON.
    fn emitted(metric: &Metric<'_>, function: &str, timestamp_ms: i64) -> Value {
        let line = serde_json::to_vec(&document(metric, function, timestamp_ms)).expect("serializes");
        assert!(!line.contains(&b'\n'), "one line");
        serde_json::from_slice(&line).expect("the line is JSON")
    }

    /// Checks a document against the EMF specification (CloudWatch User Guide, "Specification: Embedded
    /// metric format") and returns its metrics as (name, unit, value, dimension sets).
    fn conforming(doc: &Value) -> Vec<(String, String, f64, Vec<Vec<String>>)> {
        let root = doc.as_object().expect("the root is an object");
        let aws = root["_aws"].as_object().expect("_aws is an object");
        assert_eq!(aws["Timestamp"].as_i64(), Some(NOW), "Timestamp: epoch milliseconds");
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics is an array");
        assert!(!directives.is_empty());
        let mut out = Vec::new();
        for directive in directives {
            let d = directive.as_object().unwrap();
            let keys: HashSet<&str> = d.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                HashSet::from(["Namespace", "Dimensions", "Metrics"]),
                "no other members"
            );
            assert_eq!(d["Namespace"], NAMESPACE);
            let sets: Vec<Vec<String>> = d["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|set| {
                    let set: Vec<String> = set
                        .as_array()
                        .expect("a DimensionSet is an array")
                        .iter()
                        .map(|k| k.as_str().expect("dimension keys are strings").to_owned())
                        .collect();
                    assert!(set.len() <= 30, "at most 30 dimensions in a set");
                    for key in &set {
                        let value = root[key].as_str().expect("every dimension key names a string member");
                        assert!(!value.trim().is_empty() && value.len() <= 1024 && value.is_ascii());
                    }
                    set
                })
                .collect();
            let metrics = d["Metrics"].as_array().unwrap();
            assert!(
                !metrics.is_empty() && metrics.len() <= 100,
                "1 to 100 metrics per directive"
            );
            for m in metrics {
                let name = m["Name"].as_str().unwrap();
                let unit = m["Unit"].as_str().unwrap();
                assert!(
                    ["Count", "Milliseconds", "Seconds"].contains(&unit),
                    "a CloudWatch unit: {unit}"
                );
                let value = root[name].as_f64().expect("every metric names a number member");
                assert!(value >= 0.0);
                out.push((name.to_owned(), unit.to_owned(), value, sets.clone()));
            }
        }
        out
    }

    fn names(metrics: &[(String, String, f64, Vec<Vec<String>>)]) -> Vec<&str> {
        metrics.iter().map(|m| m.0.as_str()).collect()
    }

    fn set(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn a_bridged_message_counts_by_kind_and_by_direction_with_both_timings() {
        let doc = emitted(
            &Metric::Message {
                direction: Direction::Inbound,
                kind: "text",
                disposition: Disposition::Bridged {
                    end_to_end: Some(Duration::from_millis(1250)),
                },
                handling: Duration::from_micros(84_500),
            },
            "bridge-WhatsappHandler-AbC",
            NOW,
        );
        let metrics = conforming(&doc);
        assert_eq!(names(&metrics), ["MessagesBridged", "HandlingTime", "EndToEndLatency"]);
        assert!(doc["MessagesBridged"].is_u64(), "a count is an integer on the wire");
        assert_eq!(metrics[0].1, "Count");
        assert_eq!(metrics[0].2, 1.0);
        assert_eq!(
            metrics[0].3,
            [
                set(&["FunctionName", "Direction", "Kind"]),
                set(&["FunctionName", "Direction"])
            ]
        );
        assert_eq!((metrics[1].1.as_str(), metrics[1].2), ("Milliseconds", 84.5));
        assert_eq!((metrics[2].1.as_str(), metrics[2].2), ("Milliseconds", 1250.0));
        assert_eq!(metrics[2].3, [set(&["FunctionName", "Direction"])]);
        assert_eq!(doc["FunctionName"], "bridge-WhatsappHandler-AbC");
        assert_eq!(
            (doc["Direction"].as_str(), doc["Kind"].as_str()),
            (Some("inbound"), Some("text"))
        );
    }

    #[test]
    fn without_the_event_time_there_is_no_latency() {
        let doc = emitted(
            &Metric::Message {
                direction: Direction::Outbound,
                kind: "message text/plain",
                disposition: Disposition::Bridged { end_to_end: None },
                handling: Duration::from_millis(3),
            },
            "f",
            NOW,
        );
        assert_eq!(names(&conforming(&doc)), ["MessagesBridged", "HandlingTime"]);
        assert!(doc.get("EndToEndLatency").is_none());
    }

    #[test]
    fn failures_and_skips_count_by_reason_and_never_as_bridged() {
        let failed = emitted(
            &Metric::Message {
                direction: Direction::Outbound,
                kind: "message text/plain",
                disposition: Disposition::Failed {
                    reason: "SendWhatsAppMessage/Transient".into(),
                },
                handling: Duration::from_millis(900),
            },
            "f",
            NOW,
        );
        let metrics = conforming(&failed);
        assert_eq!(names(&metrics), ["MessagesFailed"]);
        assert_eq!(
            metrics[0].3,
            [
                set(&["FunctionName", "Direction", "Reason"]),
                set(&["FunctionName", "Direction"])
            ]
        );
        assert_eq!(failed["Reason"], "SendWhatsAppMessage/Transient");

        let skipped = emitted(
            &Metric::Message {
                direction: Direction::Inbound,
                kind: "reaction",
                disposition: Disposition::Skipped {
                    reason: "reaction_no_chat",
                },
                handling: Duration::ZERO,
            },
            "f",
            NOW,
        );
        let metrics = conforming(&skipped);
        assert_eq!(names(&metrics), ["MessagesSkipped"]);
        assert_eq!(metrics[0].3, [set(&["FunctionName", "Direction", "Reason"])]);
        assert_eq!(skipped["Reason"], "reaction_no_chat");
    }

    #[test]
    fn rejections_chats_transcriptions_and_possible_duplicates() {
        let rejected = emitted(
            &Metric::Rejected {
                direction: Direction::Inbound,
                reason: "malformed_message",
            },
            "f",
            NOW,
        );
        assert_eq!(names(&conforming(&rejected)), ["InputRejected"]);
        assert_eq!(rejected["Reason"], "malformed_message");

        let chat = conforming(&emitted(&Metric::ChatStarted, "f", NOW));
        assert_eq!(names(&chat), ["ChatsStarted"]);
        assert_eq!(chat[0].3, [set(&["FunctionName"])]);

        let heard = conforming(&emitted(
            &Metric::Transcription {
                audio: Duration::from_millis(7_250),
                failed: true,
            },
            "f",
            NOW,
        ));
        assert_eq!(names(&heard), ["TranscriptionSeconds", "TranscriptionFailures"]);
        assert_eq!((heard[0].1.as_str(), heard[0].2), ("Seconds", 7.25));
        assert_eq!((heard[1].1.as_str(), heard[1].2), ("Count", 1.0));

        let twice = emitted(
            &Metric::PossibleDuplicate {
                operation: "SendWhatsAppMessage",
            },
            "f",
            NOW,
        );
        let counted = conforming(&twice);
        assert_eq!(names(&counted), ["PossibleDuplicates"]);
        assert_eq!(counted[0].3, [set(&["FunctionName", "Reason"])]);
        assert_eq!(twice["Reason"], "SendWhatsAppMessage");
    }

    #[test]
    fn dimension_values_are_ascii_bounded_and_never_blank() {
        assert_eq!(dimension_value("message text/markdown"), "message text/markdown");
        assert_eq!(dimension_value("tipo_ñ"), "tipo_?");
        assert_eq!(dimension_value(" \n"), "none");
        assert_eq!(dimension_value(&"x".repeat(500)).len(), MAX_DIMENSION_VALUE);
    }
}
