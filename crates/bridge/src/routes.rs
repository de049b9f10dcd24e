//! Per-number routing: which contact flow a business number's chats start in, which language the
//! bridge speaks there, which languages Transcribe listens for and what ends a chat.
//!
//! A WhatsApp Business Account has one event destination, so one stack serves all its numbers; a
//! contact center that answers Spanish on one number and Portuguese on another routes them here.
//! The table is a stack parameter (`NUMBER_ROUTES`, JSON), not an item edited at run time: a change
//! goes through the same reviewed deploy as the flows it names, and a mistake fails the first cold
//! start naming every problem instead of surfacing on a customer's message (docs/configuration.md).

use crate::ids::PhoneNumberId;
use crate::media::ports::TranscribeLanguage;
use crate::wording::{Language, Overrides, Wording, legacy_notice_overrides, parse_overrides};
use serde_json::{Map, Value};
use std::sync::Arc;

/// How the bridge treats one business number's customers.
#[derive(Debug, Clone)]
pub struct Route {
    /// The inbound flow its chats start in.
    pub contact_flow_id: String,
    pub wording: Arc<Wording>,
    /// `None`: the stack's transcription languages (`TRANSCRIBE_LANGUAGE[_OPTIONS]`).
    pub transcribe: Option<TranscribeLanguage>,
    /// What the customer types to end the chat; `None` = off.
    pub end_keyword: Option<String>,
}

/// A value for each listed business number, and the stack's for the others.
#[derive(Debug, Clone)]
pub struct PerNumber<T> {
    stack: T,
    numbers: Vec<(PhoneNumberId, T)>,
}

/// The stack's route and each listed number's.
pub type Routes = PerNumber<Route>;

/// Fields a number's entry may have.
const FIELDS: [&str; 5] = [
    "contact_flow_id",
    "language",
    "transcribe_languages",
    "end_keyword",
    "messages",
];

/// Amazon Transcribe streaming identifies among two to five languages; one is a fixed language.
const MAX_TRANSCRIBE_LANGUAGES: usize = 5;

impl<T> PerNumber<T> {
    /// Every number on the stack's value.
    pub fn single(stack: T) -> Self {
        Self {
            stack,
            numbers: Vec::new(),
        }
    }

    pub fn for_number(&self, id: &PhoneNumberId) -> &T {
        self.numbers
            .iter()
            .find(|(n, _)| n == id)
            .map_or(&self.stack, |(_, value)| value)
    }

    /// The value of numbers the table does not list.
    pub fn stack(&self) -> &T {
        &self.stack
    }

    pub fn listed(&self) -> impl Iterator<Item = (&PhoneNumberId, &T)> {
        self.numbers.iter().map(|(n, v)| (n, v))
    }

    /// The same numbers, each with `f` of its value.
    pub fn map<U>(&self, f: impl Fn(&T) -> U) -> PerNumber<U> {
        PerNumber {
            stack: f(&self.stack),
            numbers: self.numbers.iter().map(|(n, v)| (n.clone(), f(v))).collect(),
        }
    }
}

impl Routes {
    /// Reads `CONNECT_CONTACT_FLOW_ID` (given, already required), `LANGUAGE`, `MESSAGES`,
    /// `NOTICE_*`, `END_KEYWORD` and `NUMBER_ROUTES`; adds each problem to `problems`. `served` is
    /// `WHATSAPP_PHONE_NUMBER_IDS` (empty: every number).
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        contact_flow_id: String,
        served: &[PhoneNumberId],
        problems: &mut Vec<String>,
    ) -> Self {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let language = match get("LANGUAGE").map(|l| Language::parse(&l)) {
            None => Language::En,
            Some(Ok(l)) => l,
            Some(Err(why)) => {
                problems.push(format!("LANGUAGE {why}"));
                Language::En
            }
        };
        let stack_overrides = stack_overrides(lookup, problems);
        // Set but blank turns the keyword off; unset means the default.
        let end_keyword = match lookup("END_KEYWORD") {
            None => Some("#end".to_owned()),
            Some(raw) => Some(raw.trim().to_owned()).filter(|k| !k.is_empty()),
        };
        let stack = Route {
            contact_flow_id,
            wording: Arc::new(Wording::new(language, &stack_overrides)),
            transcribe: None,
            end_keyword,
        };
        let numbers = match get("NUMBER_ROUTES") {
            None => Vec::new(),
            Some(raw) => match serde_json::from_str::<Value>(&raw) {
                Ok(Value::Object(table)) => {
                    let defaults = Defaults {
                        stack: &stack,
                        overrides: &stack_overrides,
                        served,
                    };
                    table
                        .iter()
                        .filter_map(|(number, entry)| defaults.route(number, entry, problems))
                        .collect()
                }
                Ok(_) => {
                    problems.push("NUMBER_ROUTES must be a JSON object keyed by phone number id".to_owned());
                    Vec::new()
                }
                Err(e) => {
                    problems.push(format!(
                        "NUMBER_ROUTES is not valid JSON ({})",
                        crate::error::describe_json_error(&e)
                    ));
                    Vec::new()
                }
            },
        };
        Self { stack, numbers }
    }
}

/// `NOTICE_*` and `MESSAGES`; one message set by both is a problem (which would win is not obvious).
fn stack_overrides(lookup: &impl Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> Overrides {
    let notices = legacy_notice_overrides(lookup).unwrap_or_else(|found| {
        problems.extend(found);
        Overrides::default()
    });
    let messages = match lookup("MESSAGES").filter(|m| !m.trim().is_empty()) {
        None => Overrides::default(),
        Some(raw) => match serde_json::from_str::<Value>(&raw) {
            Ok(value) => parse_overrides("MESSAGES", &value).unwrap_or_else(|found| {
                problems.extend(found);
                Overrides::default()
            }),
            Err(e) => {
                problems.push(format!(
                    "MESSAGES is not valid JSON ({})",
                    crate::error::describe_json_error(&e)
                ));
                Overrides::default()
            }
        },
    };
    for text in notices.texts().filter(|t| messages.texts().any(|m| m == *t)) {
        problems.push(format!(
            "MESSAGES and a NOTICE_* variable both set {}: keep one",
            text.id()
        ));
    }
    notices.then(&messages)
}

/// What a number's entry leaves unsaid.
struct Defaults<'a> {
    stack: &'a Route,
    /// Apply to numbers that speak the stack's language only: they are written in it.
    overrides: &'a Overrides,
    served: &'a [PhoneNumberId],
}

impl Defaults<'_> {
    fn route(&self, number: &str, entry: &Value, problems: &mut Vec<String>) -> Option<(PhoneNumberId, Route)> {
        let at = format!("NUMBER_ROUTES[\"{number}\"]");
        let before = problems.len();
        let id = match PhoneNumberId::parse(number) {
            Ok(id) if number.chars().all(|c| c.is_ascii_digit()) => Some(id),
            _ => {
                problems.push(format!("{at}: the key must be a Meta phone number id (digits)"));
                None
            }
        };
        if let Some(id) = &id
            && !self.served.is_empty()
            && !self.served.contains(id)
        {
            problems.push(format!("{at}: the number is not in WHATSAPP_PHONE_NUMBER_IDS"));
        }
        let Some(entry) = entry.as_object() else {
            problems.push(format!("{at} must be a JSON object"));
            return None;
        };
        for unknown in entry.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
            problems.push(format!(
                "{at}: unknown field '{unknown}' (fields: {})",
                FIELDS.join(", ")
            ));
        }
        let contact_flow_id = match text_field(entry, "contact_flow_id", &at, problems) {
            Some(flow) if flow.is_empty() || flow.contains(char::is_whitespace) => {
                problems.push(format!("{at}.contact_flow_id must be a contact flow id"));
                String::new()
            }
            Some(flow) => flow,
            None => self.stack.contact_flow_id.clone(),
        };
        let language = match text_field(entry, "language", &at, problems).map(|l| Language::parse(&l)) {
            None => self.stack.wording.language(),
            Some(Ok(language)) => language,
            Some(Err(why)) => {
                problems.push(format!("{at}.language {why}"));
                Language::En
            }
        };
        let transcribe = transcribe_languages(entry.get("transcribe_languages"), &at, problems);
        let end_keyword = match text_field(entry, "end_keyword", &at, problems) {
            None => self.stack.end_keyword.clone(),
            Some(keyword) => Some(keyword).filter(|k| !k.is_empty()),
        };
        let own = match entry.get("messages") {
            None => Overrides::default(),
            Some(messages) => parse_overrides(&format!("{at}.messages"), messages).unwrap_or_else(|found| {
                problems.extend(found);
                Overrides::default()
            }),
        };
        if problems.len() > before {
            return None;
        }
        let inherited = if language == self.stack.wording.language() {
            self.overrides.clone()
        } else {
            Overrides::default()
        };
        let wording = if own.is_empty() && language == self.stack.wording.language() {
            self.stack.wording.clone()
        } else {
            Arc::new(Wording::new(language, &inherited.then(&own)))
        };
        Some((
            id?,
            Route {
                contact_flow_id,
                wording,
                transcribe,
                end_keyword,
            },
        ))
    }
}

/// A string field, trimmed; a non-string is a problem.
fn text_field(entry: &Map<String, Value>, name: &str, at: &str, problems: &mut Vec<String>) -> Option<String> {
    match entry.get(name)? {
        Value::String(s) => Some(s.trim().to_owned()),
        _ => {
            problems.push(format!("{at}.{name} must be a string"));
            None
        }
    }
}

/// One language code is listened for as it is; two to five are identified among.
fn transcribe_languages(value: Option<&Value>, at: &str, problems: &mut Vec<String>) -> Option<TranscribeLanguage> {
    let value = value?;
    let codes: Option<Vec<String>> = value
        .as_array()
        .map(|codes| codes.iter().map(|c| c.as_str().map(|s| s.trim().to_owned())).collect())
        .and_then(|codes: Option<Vec<String>>| codes);
    let codes = match codes {
        Some(codes) if (1..=MAX_TRANSCRIBE_LANGUAGES).contains(&codes.len()) => codes,
        _ => {
            problems.push(format!(
                "{at}.transcribe_languages must be a list of 1 to {MAX_TRANSCRIBE_LANGUAGES} language codes such as [\"es-US\"]"
            ));
            return None;
        }
    };
    let malformed: Vec<&String> = codes.iter().filter(|c| !is_language_code(c)).collect();
    if !malformed.is_empty() {
        problems.push(format!(
            "{at}.transcribe_languages has codes that are not like es-US: {}",
            malformed
                .iter()
                .map(|c| format!("'{c}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return None;
    }
    Some(match codes.len() {
        1 => TranscribeLanguage::Fixed(codes.into_iter().next().unwrap_or_default()),
        _ => TranscribeLanguage::Identify(codes),
    })
}

/// Transcribe's codes: a language and a region, `es-US`, `pt-BR`.
fn is_language_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 5
        && bytes[..2].iter().all(u8::is_ascii_lowercase)
        && bytes[2] == b'-'
        && bytes[3..].iter().all(u8::is_ascii_uppercase)
}

#[cfg(test)]
mod tests;
