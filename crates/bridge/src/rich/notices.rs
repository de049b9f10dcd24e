//! Lifecycle notices: the short texts that tell the WhatsApp customer what happens in the chat they
//! cannot see (an agent joined or left, a transfer, the chat ended or is about to close).
//!
//! Connect shows these events in its own widget; on WhatsApp the customer would otherwise sit in
//! silence. Their words come from the number's [`Wording`] (operators reword or silence each one);
//! what is decided here is who stands for an agent Connect gave no name.

use crate::wording::{Arg, Text, Wording};

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

    pub fn text(self) -> Text {
        match self {
            Notice::AgentJoined => Text::NoticeAgentJoined,
            Notice::AgentLeft => Text::NoticeAgentLeft,
            Notice::Transferred => Text::NoticeTransferred,
            Notice::ChatEnded => Text::NoticeChatEnded,
            Notice::Idle => Text::NoticeIdle,
            Notice::AutoDisconnect => Text::NoticeAutoDisconnect,
            Notice::CustomerEnded => Text::NoticeCustomerEnded,
        }
    }
}

/// Stands in the rendered text where the agent's name goes until the fallback is placed: only then
/// is it known whether the fallback opens a sentence (and needs a capital).
const UNNAMED: &str = "\u{E000}";

/// The text to send the customer, or `None` when this notice is silent. An agent without a display
/// name is the number's `agent-fallback` ("an agent", "un agente"), capitalised where it opens a
/// sentence.
pub fn render(wording: &Wording, notice: Notice, agent: Option<&str>) -> Option<String> {
    let agent = agent.map(str::trim).filter(|a| !a.is_empty());
    let text = wording.say(notice.text(), &[("agent", Arg::from(agent.unwrap_or(UNNAMED)))])?;
    if !text.contains(UNNAMED) {
        return Some(text);
    }
    let fallback = wording.word(Text::AgentFallback, &[]);
    let mut out = String::with_capacity(text.len() + fallback.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(UNNAMED) {
        out.push_str(&rest[..at]);
        if starts_sentence(&out) {
            out.push_str(&capitalize(&fallback));
        } else {
            out.push_str(&fallback);
        }
        rest = &rest[at + UNNAMED.len()..];
    }
    out.push_str(rest);
    Some(out)
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
    use crate::wording::{Language, legacy_notice_overrides};
    use std::collections::HashMap;

    fn wording(pairs: &[(&str, &str)]) -> Wording {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Wording::new(
            Language::En,
            &legacy_notice_overrides(|key| map.get(key).cloned()).unwrap(),
        )
    }

    #[test]
    fn defaults_name_the_agent() {
        let en = Wording::default();
        assert_eq!(
            render(&en, Notice::AgentJoined, Some("Ana")).as_deref(),
            Some("Ana has joined the chat.")
        );
        assert_eq!(
            render(&en, Notice::AgentLeft, None).as_deref(),
            Some("An agent has left the chat.")
        );
        let es = Wording::builtin(Language::Es419);
        assert_eq!(
            render(&es, Notice::AgentJoined, Some(" ")).as_deref(),
            Some("Un agente se unió al chat.")
        );
        let pt = Wording::builtin(Language::PtBr);
        assert_eq!(
            render(&pt, Notice::AgentLeft, Some("Ana")).as_deref(),
            Some("Ana saiu da conversa.")
        );
    }

    #[test]
    fn environment_overrides_and_silences() {
        let w = wording(&[
            ("NOTICE_AGENT_JOINED", "Hola, soy {agent} 👋"),
            ("NOTICE_CHAT_ENDED", ""),
            ("NOTICE_IDLE", "   "),
        ]);
        assert_eq!(
            render(&w, Notice::AgentJoined, Some(" Ana ")).as_deref(),
            Some("Hola, soy Ana 👋")
        );
        assert_eq!(render(&w, Notice::ChatEnded, None), None);
        assert_eq!(render(&w, Notice::Idle, None), None);
        assert_eq!(
            render(&w, Notice::Transferred, None).as_deref(),
            Some("We're transferring you to someone who can help. Please stay with us.")
        );
    }

    #[test]
    fn fallback_name_fits_its_place_in_the_sentence() {
        let w = wording(&[
            (
                "NOTICE_AGENT_JOINED",
                "You're now chatting with {agent}. {agent} will help you.",
            ),
            ("NOTICE_AGENT_FALLBACK", "our team"),
        ]);
        assert_eq!(
            render(&w, Notice::AgentJoined, Some("")).as_deref(),
            Some("You're now chatting with our team. Our team will help you.")
        );
    }
}
