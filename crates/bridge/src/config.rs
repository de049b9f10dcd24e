//! Deployment configuration, read once at start-up from environment variables.
//!
//! Every variable is checked before the handler serves its first event, and all problems are reported in
//! one error, so a broken deployment fails its first cold start with a message naming every fix.

use crate::ids::{CustomerHashKey, PhoneNumberId};
use crate::rich::split::Limit;
use crate::rich::text::Unit;
use crate::routes::Routes;
use std::fmt;

/// When the customer's messages get WhatsApp's blue ticks. The typing indicator rides on a read mark
/// (the Cloud API has no other way to show it), so `Off` also means no typing indicator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadReceipts {
    /// As soon as the message is in the Connect chat (Connect streams no agent-read event to the bridge).
    #[default]
    OnDelivery,
    Off,
}

/// What a deployment differs in. Both handlers read the same variables (the template gives them the same).
#[derive(Debug, Clone)]
pub struct Config {
    pub instance_id: String,
    pub stream_topic_arn: String,
    pub table_name: String,
    pub media_bucket: Option<String>,
    pub chat_duration_minutes: i32,
    /// Business numbers this deployment serves; empty means every number of the WABA.
    pub phone_number_ids: Vec<PhoneNumberId>,
    pub meta_api_version: String,
    /// Keys the customer digest in logs and S3 keys; generated at deploy time, never logged.
    pub customer_hash_key: CustomerHashKey,
    /// Per business number: the contact flow, the bridge's words, transcription and end keyword.
    pub routes: Routes,
    pub read_receipts: ReadReceipts,
    /// Whether a returning customer's chat rehydrates the previous one (Connect persistent chat).
    pub persistent_chat: bool,
    /// The longest text a Connect chat message may carry; longer customer texts go as several messages.
    pub connect_text_limit: Limit,
    /// Whether new chats also carry the contact attributes the AWS sample set (`SAMPLE_CONTACT_ATTRIBUTES`),
    /// so contact flows built for the sample run unchanged.
    pub sample_contact_attributes: bool,
}

/// Every missing or malformed variable, one per entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.problems.join("; "))
    }
}

/// 32 random letters and digits are about 190 bits: far beyond enumeration (the template generates 64).
const CUSTOMER_HASH_KEY_MIN: usize = 32;

const CHAT_DURATION_RANGE: std::ops::RangeInclusive<i32> = 60..=10_080;

/// Connect's API reference limits `text/plain` and `text/markdown` chat messages to 1024 characters; some
/// instances accept more (up to 16 KiB). 4096 characters are at most 16 KiB of UTF-8, and no WhatsApp text
/// is longer, so above that there is nothing left to split.
const CONNECT_TEXT_DEFAULT: usize = 1024;
const CONNECT_TEXT_RANGE: std::ops::RangeInclusive<usize> = 100..=4096;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut required = |name: &str| {
            get(name).unwrap_or_else(|| {
                problems.push(format!("{name} is missing"));
                String::new()
            })
        };
        let instance_id = required("CONNECT_INSTANCE_ID");
        let contact_flow_id = required("CONNECT_CONTACT_FLOW_ID");
        let stream_topic_arn = required("CONNECT_STREAM_TOPIC_ARN");
        let table_name = required("STATE_TABLE_NAME");
        let customer_hash_key = required("CUSTOMER_HASH_KEY");

        if !stream_topic_arn.is_empty() && !stream_topic_arn.starts_with("arn:") {
            problems.push(format!(
                "CONNECT_STREAM_TOPIC_ARN must be an SNS topic ARN (got '{stream_topic_arn}')"
            ));
        }
        let chat_duration_minutes = match get("CHAT_DURATION_MINUTES") {
            None => 1440,
            Some(raw) => match raw.parse::<i32>() {
                Ok(n) if CHAT_DURATION_RANGE.contains(&n) => n,
                _ => {
                    problems.push(format!(
                        "CHAT_DURATION_MINUTES must be a whole number from 60 to 10080 (got '{raw}')"
                    ));
                    0
                }
            },
        };
        let mut phone_number_ids = Vec::new();
        for raw in get("WHATSAPP_PHONE_NUMBER_IDS").unwrap_or_default().split(',') {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            match PhoneNumberId::parse(raw) {
                Ok(id) => phone_number_ids.push(id),
                Err(_) => problems.push(format!(
                    "WHATSAPP_PHONE_NUMBER_IDS has a malformed id '{raw}' (digits expected)"
                )),
            }
        }
        let meta_api_version = get("META_API_VERSION").unwrap_or_else(|| "v21.0".to_owned());
        if !is_meta_version(&meta_api_version) {
            problems.push(format!(
                "META_API_VERSION must look like v20.0 (got '{meta_api_version}')"
            ));
        }
        if !customer_hash_key.is_empty() && customer_hash_key.chars().count() < CUSTOMER_HASH_KEY_MIN {
            // Its value is a secret: only its length is named.
            problems.push(format!(
                "CUSTOMER_HASH_KEY must be at least {CUSTOMER_HASH_KEY_MIN} characters (got {})",
                customer_hash_key.chars().count()
            ));
        }
        let read_receipts = match get("READ_RECEIPTS").as_deref() {
            None | Some("on_delivery") => ReadReceipts::OnDelivery,
            Some("off") => ReadReceipts::Off,
            Some(other) => {
                problems.push(format!("READ_RECEIPTS must be on_delivery or off (got '{other}')"));
                ReadReceipts::Off
            }
        };
        let mut flag = |name: &str| match get(name).as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                problems.push(format!("{name} must be true or false (got '{other}')"));
                false
            }
        };
        let persistent_chat = flag("PERSISTENT_CHAT");
        let sample_contact_attributes = flag("SAMPLE_CONTACT_ATTRIBUTES");
        let connect_text_max = match get("CONNECT_MESSAGE_MAX_CHARS") {
            None => CONNECT_TEXT_DEFAULT,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if CONNECT_TEXT_RANGE.contains(&n) => n,
                _ => {
                    problems.push(format!(
                        "CONNECT_MESSAGE_MAX_CHARS must be a whole number from 100 to 4096 (got '{raw}')"
                    ));
                    CONNECT_TEXT_DEFAULT
                }
            },
        };
        let routes = Routes::from_lookup(&lookup, contact_flow_id, &phone_number_ids, &mut problems);
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Self {
            instance_id,
            stream_topic_arn,
            table_name,
            media_bucket: get("MEDIA_BUCKET_NAME"),
            chat_duration_minutes,
            phone_number_ids,
            meta_api_version,
            customer_hash_key: CustomerHashKey::new(customer_hash_key),
            routes,
            read_receipts,
            persistent_chat,
            connect_text_limit: Limit::new(connect_text_max, Unit::Chars),
            sample_contact_attributes,
        })
    }

    /// Whether this deployment answers the given business number.
    pub fn serves(&self, phone_number_id: &PhoneNumberId) -> bool {
        self.phone_number_ids.is_empty() || self.phone_number_ids.contains(phone_number_id)
    }
}

fn is_meta_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else { return false };
    let mut parts = rest.split('.');
    let major_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    let minor_ok = parts.all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    major_ok && minor_ok && rest.split('.').count() <= 2
}

/// Where the handoff channel's chats stream and its events queue: `HANDOFF_STREAM_TOPIC_ARN`,
/// `WEBHOOK_QUEUE_URL`, `WEBHOOK_DEAD_LETTER_QUEUE_URL`.
#[derive(Debug, Clone)]
pub struct HandoffChannel {
    pub stream_topic_arn: String,
    pub queue_url: String,
    pub dead_letter_url: String,
}

impl HandoffChannel {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let required = |name: &str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| format!("{name} is required"))
        };
        let stream_topic_arn = required("HANDOFF_STREAM_TOPIC_ARN")?;
        if !stream_topic_arn.starts_with("arn:") || !stream_topic_arn.contains(":sns:") {
            return Err("HANDOFF_STREAM_TOPIC_ARN must be an SNS topic ARN".to_owned());
        }
        Ok(Self {
            stream_topic_arn,
            queue_url: required("WEBHOOK_QUEUE_URL")?,
            dead_letter_url: required("WEBHOOK_DEAD_LETTER_QUEUE_URL")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const VALID: &[(&str, &str)] = &[
        ("CONNECT_INSTANCE_ID", "5d1f0a3c-8e2b-4c6d-9f1a-2b3c4d5e6f70"),
        ("CONNECT_CONTACT_FLOW_ID", "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d"),
        (
            "CONNECT_STREAM_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:connect-chat-stream",
        ),
        ("STATE_TABLE_NAME", "state"),
        ("CUSTOMER_HASH_KEY", "k3Yq9ZtXwVb2N8rLmP4sD7fGhJ6aQe1C"),
    ];

    #[test]
    fn defaults_apply() {
        let c = Config::from_lookup(lookup(VALID)).unwrap();
        assert_eq!(c.chat_duration_minutes, 1440);
        assert_eq!(c.meta_api_version, "v21.0");
        assert_eq!(c.customer_hash_key.expose(), "k3Yq9ZtXwVb2N8rLmP4sD7fGhJ6aQe1C");
        assert_eq!(c.routes.stack().end_keyword.as_deref(), Some("#end"));
        assert_eq!(c.read_receipts, ReadReceipts::OnDelivery);
        assert!(!c.persistent_chat);
        assert!(!c.sample_contact_attributes);
        assert_eq!(c.connect_text_limit, Limit::new(1024, Unit::Chars));
        assert_eq!(c.routes.stack().wording.language(), crate::wording::Language::En);
        assert!(c.serves(&PhoneNumberId::parse("1").unwrap()));
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let err = Config::from_lookup(lookup(&[
            ("CHAT_DURATION_MINUTES", "5"),
            ("CUSTOMER_HASH_KEY", "short-secret"),
            ("WHATSAPP_PHONE_NUMBER_IDS", "123,abc"),
            ("META_API_VERSION", "20"),
            ("CONNECT_MESSAGE_MAX_CHARS", "16384"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        for needle in [
            "CONNECT_INSTANCE_ID is missing",
            "CONNECT_CONTACT_FLOW_ID is missing",
            "CONNECT_STREAM_TOPIC_ARN is missing",
            "STATE_TABLE_NAME is missing",
            "CHAT_DURATION_MINUTES",
            "CUSTOMER_HASH_KEY must be at least 32 characters (got 12)",
            "'abc'",
            "META_API_VERSION",
            "CONNECT_MESSAGE_MAX_CHARS must be a whole number from 100 to 4096 (got '16384')",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        assert_eq!(err.problems.len(), 9);
        assert!(!text.contains("short-secret"), "the key is never echoed: {text}");
    }

    #[test]
    fn issue_5_settings() {
        let mut pairs = VALID.to_vec();
        pairs.extend([
            ("END_KEYWORD", " "),
            ("READ_RECEIPTS", "off"),
            ("PERSISTENT_CHAT", "true"),
            ("NOTICE_AGENT_JOINED", ""),
            ("CONNECT_MESSAGE_MAX_CHARS", "4096"),
        ]);
        let c = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(c.routes.stack().end_keyword, None);
        assert_eq!(c.read_receipts, ReadReceipts::Off);
        assert!(c.persistent_chat);
        assert_eq!(c.connect_text_limit.max, 4096);
        assert_eq!(
            crate::rich::notices::render(
                &c.routes.stack().wording,
                crate::rich::notices::Notice::AgentJoined,
                None
            ),
            None
        );
        let mut bad = VALID.to_vec();
        bad.push(("READ_RECEIPTS", "always"));
        let err = Config::from_lookup(lookup(&bad)).unwrap_err();
        assert!(err.to_string().contains("READ_RECEIPTS"), "{err}");
    }

    #[test]
    fn sample_contact_attributes_is_a_flag() {
        let with = |value: &'static str| {
            let mut pairs = VALID.to_vec();
            pairs.push(("SAMPLE_CONTACT_ATTRIBUTES", value));
            Config::from_lookup(lookup(&pairs))
        };
        assert!(with("true").unwrap().sample_contact_attributes);
        assert!(!with("false").unwrap().sample_contact_attributes);
        let err = with("yes").unwrap_err();
        assert_eq!(
            err.problems,
            ["SAMPLE_CONTACT_ATTRIBUTES must be true or false (got 'yes')"]
        );
    }

    #[test]
    fn allowlist_restricts_numbers() {
        let mut pairs = VALID.to_vec();
        pairs.push(("WHATSAPP_PHONE_NUMBER_IDS", " 111, 222 "));
        let c = Config::from_lookup(lookup(&pairs)).unwrap();
        assert!(c.serves(&PhoneNumberId::parse("222").unwrap()));
        assert!(!c.serves(&PhoneNumberId::parse("333").unwrap()));
    }

    #[test]
    fn the_handoff_channel_needs_its_topic_and_both_queues() {
        let env = |missing: &'static str| {
            move |name: &str| {
                (name != missing).then(|| match name {
                    "HANDOFF_STREAM_TOPIC_ARN" => "arn:aws:sns:us-east-1:123456789012:handoffs".to_owned(),
                    _ => format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}"),
                })
            }
        };
        let channel = HandoffChannel::from_lookup(env("")).unwrap();
        assert!(channel.queue_url.ends_with("WEBHOOK_QUEUE_URL"));
        for missing in [
            "HANDOFF_STREAM_TOPIC_ARN",
            "WEBHOOK_QUEUE_URL",
            "WEBHOOK_DEAD_LETTER_QUEUE_URL",
        ] {
            let refused = HandoffChannel::from_lookup(env(missing)).unwrap_err();
            assert!(refused.contains(missing), "{refused}");
        }
        let not_a_topic = |name: &str| {
            Some(
                if name == "HANDOFF_STREAM_TOPIC_ARN" {
                    "handoffs"
                } else {
                    "q"
                }
                .to_owned(),
            )
        };
        assert!(HandoffChannel::from_lookup(not_a_topic).is_err());
    }
}
