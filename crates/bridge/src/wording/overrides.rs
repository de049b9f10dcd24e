//! Operators' replacements for catalogue messages, checked when the configuration is read.
//!
//! An override is a Fluent pattern (`{ $agent } te atiende`); the older `{agent}` form of the
//! `NOTICE_*` variables is read as the same variable. An empty override silences a notice. A message
//! id that does not exist, a pattern that does not parse and a variable the message does not get are
//! each a named problem, so the cold start fails with every fix instead of a customer reading
//! `{$agnt}`.

use super::{Text, sample_args};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use serde_json::Value;

/// Replacements for some messages, and the notices silenced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Message and its Fluent pattern, already checked.
    patterns: Vec<(Text, String)>,
    silenced: Vec<Text>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty() && self.silenced.is_empty()
    }

    /// The messages replaced or silenced.
    pub fn texts(&self) -> impl Iterator<Item = Text> + '_ {
        self.patterns
            .iter()
            .map(|(t, _)| *t)
            .chain(self.silenced.iter().copied())
    }

    /// `other`'s messages replace this one's.
    pub fn then(mut self, other: &Overrides) -> Self {
        for (text, pattern) in &other.patterns {
            self.set(*text, Some(pattern.clone()));
        }
        for text in &other.silenced {
            self.set(*text, None);
        }
        self
    }

    fn set(&mut self, text: Text, pattern: Option<String>) {
        self.patterns.retain(|(t, _)| *t != text);
        self.silenced.retain(|t| *t != text);
        match pattern {
            Some(pattern) => self.patterns.push((text, pattern)),
            None => self.silenced.push(text),
        }
    }

    pub(super) fn silenced(&self) -> &[Text] {
        &self.silenced
    }

    /// The patterns as one Fluent resource.
    pub(super) fn resource(&self) -> Option<FluentResource> {
        if self.patterns.is_empty() {
            return None;
        }
        let source: String = self.patterns.iter().map(|(t, p)| entry(*t, p)).collect();
        Some(FluentResource::try_new(source).unwrap_or_else(|(partial, _)| partial))
    }

    /// Checks one override and adds it; `origin` names where it came from in the problem.
    fn add(&mut self, origin: &str, text: Text, raw: &str, problems: &mut Vec<String>) {
        let id = text.id();
        if raw.trim().is_empty() {
            if text.may_be_silent() {
                self.set(text, None);
            } else {
                problems.push(format!("{origin}: {id} cannot be empty (only notices can be silenced)"));
            }
            return;
        }
        let pattern = with_fluent_variables(text, raw.trim());
        match check(text, &pattern) {
            Ok(()) => self.set(text, Some(pattern)),
            Err(why) => problems.push(format!("{origin}: {id} {why}")),
        }
    }
}

/// One Fluent entry: continuation lines indented, as Fluent reads a multiline pattern.
fn entry(text: Text, pattern: &str) -> String {
    format!("{} = {}\n", text.id(), pattern.replace('\n', "\n    "))
}

/// `{agent}` (the `NOTICE_*` form) as Fluent's `{ $agent }`, for each variable of the message.
fn with_fluent_variables(text: Text, raw: &str) -> String {
    text.variables().iter().fold(raw.to_owned(), |out, name| {
        out.replace(&format!("{{{name}}}"), &format!("{{ ${name} }}"))
    })
}

/// Whether `pattern` parses as one message and renders with the variables `text` gets.
fn check(text: Text, pattern: &str) -> Result<(), String> {
    let resource = FluentResource::try_new(entry(text, pattern))
        .map_err(|_| "is not a valid message (Fluent syntax: use { $name } for a variable)".to_owned())?;
    let mut bundle = FluentBundle::new_concurrent(vec![super::Language::En.tag().parse().unwrap_or_default()]);
    bundle.set_use_isolating(false);
    if bundle.add_resource(resource).is_err() {
        return Err("is not a valid message".to_owned());
    }
    let Some(value) = bundle.get_message(text.id()).and_then(|m| m.value()) else {
        return Err("is not a valid message".to_owned());
    };
    let mut args = FluentArgs::new();
    for (name, value) in sample_args(text) {
        args.set(name, value);
    }
    let mut errors = Vec::new();
    bundle.format_pattern(value, Some(&args), &mut errors);
    if errors.is_empty() {
        return Ok(());
    }
    let gets = match text.variables() {
        [] => "none".to_owned(),
        names => names.iter().map(|n| format!("${n}")).collect::<Vec<_>>().join(", "),
    };
    Err(format!("refers to something it does not get (its variables: {gets})"))
}

/// A JSON object of message id → text (`MESSAGES`, or a number's `messages`); `origin` names it in
/// problems.
pub fn parse_overrides(origin: &str, value: &Value) -> Result<Overrides, Vec<String>> {
    let Some(object) = value.as_object() else {
        return Err(vec![format!("{origin} must be a JSON object of message id to text")]);
    };
    let mut overrides = Overrides::default();
    let mut problems = Vec::new();
    for (id, text) in object {
        let Some(message) = Text::from_id(id) else {
            problems.push(format!(
                "{origin}: '{id}' is not a message id (docs/configuration.md lists them)"
            ));
            continue;
        };
        match text.as_str() {
            Some(raw) => overrides.add(origin, message, raw, &mut problems),
            None => problems.push(format!("{origin}: {id} must be a string")),
        }
    }
    if problems.is_empty() {
        Ok(overrides)
    } else {
        Err(problems)
    }
}

/// The `NOTICE_*` variables (unset keeps the catalogue's text, empty silences the notice) and
/// `NOTICE_AGENT_FALLBACK`.
pub fn legacy_notice_overrides(lookup: impl Fn(&str) -> Option<String>) -> Result<Overrides, Vec<String>> {
    const KEYS: [(&str, Text); 8] = [
        ("NOTICE_AGENT_JOINED", Text::NoticeAgentJoined),
        ("NOTICE_AGENT_LEFT", Text::NoticeAgentLeft),
        ("NOTICE_TRANSFERRED", Text::NoticeTransferred),
        ("NOTICE_CHAT_ENDED", Text::NoticeChatEnded),
        ("NOTICE_IDLE", Text::NoticeIdle),
        ("NOTICE_AUTO_DISCONNECT", Text::NoticeAutoDisconnect),
        ("NOTICE_CUSTOMER_ENDED", Text::NoticeCustomerEnded),
        ("NOTICE_AGENT_FALLBACK", Text::AgentFallback),
    ];
    let mut overrides = Overrides::default();
    let mut problems = Vec::new();
    for (key, text) in KEYS {
        match lookup(key) {
            // A blank fallback keeps the catalogue's, as it always has.
            Some(raw) if text == Text::AgentFallback && raw.trim().is_empty() => {}
            Some(raw) => overrides.add(key, text, &raw, &mut problems),
            None => {}
        }
    }
    if problems.is_empty() {
        Ok(overrides)
    } else {
        Err(problems)
    }
}
