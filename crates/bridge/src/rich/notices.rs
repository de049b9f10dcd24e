//! Lifecycle notices: the short texts that tell the WhatsApp customer what happens in the chat they
//! cannot see (an agent joined or left, a transfer, the chat ended or is about to close).
//!
//! Connect shows these events in its own widget; on WhatsApp the customer would otherwise sit in
//! silence. Every deployment words them differently (language, tone, brand) and some want certain ones
//! silent, so each notice is a template read from the environment, with English defaults: unset means
//! the default, an empty value means silence. `{agent}` is replaced by the agent's display name.

/// A moment in the chat's life that the customer may be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    AgentJoined,
    AgentLeft,
    Transferred,
    ChatEnded,
    /// The customer has been quiet for a while and the chat will close if they stay so.
    Idle,
    /// The chat was closed because the customer stayed quiet.
    AutoDisconnect,
    /// Confirms to the customer that the chat they ended is over.
    CustomerEnded,
}

impl Notice {
    pub const ALL: [Notice; 7] = [
        Notice::AgentJoined,
        Notice::AgentLeft,
        Notice::Transferred,
        Notice::ChatEnded,
        Notice::Idle,
        Notice::AutoDisconnect,
        Notice::CustomerEnded,
    ];

    /// The environment variable that overrides this notice's template.
    pub fn env_key(self) -> &'static str {
        match self {
            Notice::AgentJoined => "NOTICE_AGENT_JOINED",
            Notice::AgentLeft => "NOTICE_AGENT_LEFT",
            Notice::Transferred => "NOTICE_TRANSFERRED",
            Notice::ChatEnded => "NOTICE_CHAT_ENDED",
            Notice::Idle => "NOTICE_IDLE",
            Notice::AutoDisconnect => "NOTICE_AUTO_DISCONNECT",
            Notice::CustomerEnded => "NOTICE_CUSTOMER_ENDED",
        }
    }

    pub fn default_template(self) -> &'static str {
        match self {
            Notice::AgentJoined => "{agent} has joined the chat.",
            Notice::AgentLeft => "{agent} has left the chat.",
            Notice::Transferred => "We're transferring you to someone who can help. Please stay with us.",
            Notice::ChatEnded => "This chat has ended. Send us a message any time to start a new one.",
            Notice::Idle => "Are you still there? This chat will close soon if we don't hear from you.",
            Notice::AutoDisconnect => {
                "This chat was closed because we didn't hear from you. Send us a message any time to start a new one."
            }
            Notice::CustomerEnded => "You've ended the chat. Send us a message any time to start a new one.",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The placeholder replaced by the agent's display name.
pub const AGENT_PLACEHOLDER: &str = "{agent}";

/// Overrides what stands for the agent when Connect gave no display name.
pub const AGENT_FALLBACK_KEY: &str = "NOTICE_AGENT_FALLBACK";

const DEFAULT_AGENT_FALLBACK: &str = "an agent";

/// The notice templates in force. `None` means the notice is silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notices {
    templates: [Option<String>; Notice::ALL.len()],
    agent_fallback: String,
}

impl Default for Notices {
    fn default() -> Self {
        Self {
            templates: Notice::ALL.map(|n| Some(n.default_template().to_owned())),
            agent_fallback: DEFAULT_AGENT_FALLBACK.to_owned(),
        }
    }
}

impl Notices {
    /// Templates from environment-style lookups (`std::env::var(..).ok()` in production, a closure over
    /// a map in tests): unset keeps the default, a blank value silences the notice.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut notices = Self::default();
        for notice in Notice::ALL {
            if let Some(template) = lookup(notice.env_key()) {
                notices.set(notice, template);
            }
        }
        if let Some(fallback) = lookup(AGENT_FALLBACK_KEY).filter(|f| !f.trim().is_empty()) {
            notices.agent_fallback = fallback.trim().to_owned();
        }
        notices
    }

    /// Replaces one template; blank silences the notice.
    pub fn set(&mut self, notice: Notice, template: impl Into<String>) {
        let template = template.into();
        self.templates[notice.index()] = (!template.trim().is_empty()).then_some(template);
    }

    pub fn template(&self, notice: Notice) -> Option<&str> {
        self.templates[notice.index()].as_deref()
    }

    /// The text to send the customer, or `None` when this notice is silent.
    pub fn render(&self, notice: Notice, agent: Option<&str>) -> Option<String> {
        let template = self.template(notice)?;
        let agent = agent.map(str::trim).filter(|a| !a.is_empty());
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(at) = rest.find(AGENT_PLACEHOLDER) {
            out.push_str(&rest[..at]);
            match agent {
                Some(name) => out.push_str(name),
                None if starts_sentence(&out) => out.push_str(&capitalize(&self.agent_fallback)),
                None => out.push_str(&self.agent_fallback),
            }
            rest = &rest[at + AGENT_PLACEHOLDER.len()..];
        }
        out.push_str(rest);
        Some(out)
    }
}

/// Whether text written after `before` opens a sentence, so a fallback name there needs a capital.
fn starts_sentence(before: &str) -> bool {
    let trimmed = before.trim_end();
    trimmed.is_empty() || trimmed.ends_with(['.', '!', '?', '\n'])
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn defaults_name_the_agent() {
        let notices = Notices::default();
        assert_eq!(
            notices.render(Notice::AgentJoined, Some("Ana")).as_deref(),
            Some("Ana has joined the chat.")
        );
        assert_eq!(
            notices.render(Notice::AgentLeft, None).as_deref(),
            Some("An agent has left the chat.")
        );
        for notice in Notice::ALL {
            let text = notices.render(notice, Some("Ana")).unwrap();
            assert!(!text.contains(AGENT_PLACEHOLDER), "{notice:?}: {text}");
        }
    }

    #[test]
    fn environment_overrides_and_silences() {
        let notices = Notices::from_lookup(lookup(&[
            ("NOTICE_AGENT_JOINED", "Hola, soy {agent} 👋"),
            ("NOTICE_CHAT_ENDED", ""),
            ("NOTICE_IDLE", "   "),
        ]));
        assert_eq!(
            notices.render(Notice::AgentJoined, Some(" Ana ")).as_deref(),
            Some("Hola, soy Ana 👋")
        );
        assert_eq!(notices.render(Notice::ChatEnded, None), None);
        assert_eq!(notices.render(Notice::Idle, None), None);
        assert_eq!(
            notices.render(Notice::Transferred, None).as_deref(),
            Some(Notice::Transferred.default_template())
        );
    }

    #[test]
    fn fallback_name_fits_its_place_in_the_sentence() {
        let notices = Notices::from_lookup(lookup(&[
            (
                "NOTICE_AGENT_JOINED",
                "You're now chatting with {agent}. {agent} will help you.",
            ),
            ("NOTICE_AGENT_FALLBACK", "our team"),
        ]));
        assert_eq!(
            notices.render(Notice::AgentJoined, Some("")).as_deref(),
            Some("You're now chatting with our team. Our team will help you.")
        );
    }

    #[test]
    fn plain_fn_pointer_lookup_works() {
        fn nothing(_: &str) -> Option<String> {
            None
        }
        assert_eq!(Notices::from_lookup(nothing), Notices::default());
    }

    #[test]
    fn set_replaces_one_template() {
        let mut notices = Notices::default();
        notices.set(Notice::CustomerEnded, "Bye {agent}");
        assert_eq!(notices.template(Notice::CustomerEnded), Some("Bye {agent}"));
        notices.set(Notice::CustomerEnded, "");
        assert_eq!(notices.template(Notice::CustomerEnded), None);
    }
}
