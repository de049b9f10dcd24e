//! What the agent sees of the bot's conversation when a handoff starts: the reason first, then the
//! history as the conversation it was (the bot's messages said by the chat's bot participant, the
//! user's by the customer), and a short summary in the contact's attributes for the agent workspace and
//! the flow's routing.
//!
//! The bot's messages are said by a custom bot participant (`CreateParticipant` with `CUSTOM_BOT`):
//! Connect allows one per contact, only while no agent (or Lex bot) is on it, and disconnects it when an
//! agent joins: the retelling happens while the contact waits in the queue.
//!
//! A long history is not retold message by message (the agent would scroll past dozens of items
//! before the customer's question): the whole of it goes as a text file, and only its last messages are
//! retold. Contact attributes are limited to 32 KB in all, so the summary takes what the routing
//! attributes leave, cut at a character boundary.

use super::{HistoryEntry, Speaker};
use std::collections::BTreeMap;

/// Connect's limit on a contact's attributes, keys and values together.
pub const ATTRIBUTES_MAX_BYTES: usize = 32 * 1024;

/// When the history is retold in full, and how much of it otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetellLimits {
    /// At most this many messages are retold.
    pub messages: usize,
    /// Nor more characters than this in all.
    pub chars: usize,
}

impl Default for RetellLimits {
    fn default() -> Self {
        Self {
            messages: 20,
            chars: 6_000,
        }
    }
}

/// The handoff as the bot describes it.
#[derive(Debug, Clone, Copy)]
pub struct Brief<'a> {
    pub title: &'a str,
    /// Why the bot hands off.
    pub reason: &'a str,
    pub history: &'a [HistoryEntry],
    /// The attributes the bot asked for (`routing.attributes`), already within the limit.
    pub routing: &'a BTreeMap<String, String>,
}

/// What is put in front of the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentContext {
    /// Said first, by the bot participant.
    pub opening: String,
    /// The history to retell, oldest first.
    pub retold: Vec<(Speaker, String)>,
    /// The whole history as a text file, when it is longer than what is retold.
    pub transcript: Option<String>,
    /// The contact's attributes: the routing attributes and the summary.
    pub attributes: BTreeMap<String, String>,
}

/// The context of a handoff for its agent.
pub fn agent_context(brief: Brief<'_>, limits: RetellLimits) -> AgentContext {
    let retold = retold(brief.history, limits);
    let skipped = brief.history.len() - retold.len();
    let opening = if skipped == 0 {
        format!("{}\n{}", brief.title, brief.reason)
    } else {
        format!(
            "{}\n{}\n(The conversation so far is attached; its last {} messages follow.)",
            brief.title,
            brief.reason,
            retold.len()
        )
    };
    AgentContext {
        opening,
        retold: retold.iter().map(|e| (e.speaker, e.text.clone())).collect(),
        transcript: (skipped > 0).then(|| transcript(brief.history)),
        attributes: attributes(brief),
    }
}

/// The last messages of the history that fit the limits (all of them when they do).
fn retold(history: &[HistoryEntry], limits: RetellLimits) -> &[HistoryEntry] {
    let mut chars = 0;
    let mut start = history.len();
    for (i, entry) in history.iter().enumerate().rev() {
        chars += entry.text.chars().count();
        if history.len() - i > limits.messages || chars > limits.chars {
            break;
        }
        start = i;
    }
    &history[start..]
}

fn label(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::User => "User",
        Speaker::Bot => "Bot",
    }
}

/// The history as a plain-text transcript, one message per paragraph.
fn transcript(history: &[HistoryEntry]) -> String {
    history
        .iter()
        .map(|e| match &e.at {
            Some(at) => format!("[{at}] {}: {}\n", label(e.speaker), e.text),
            None => format!("{}: {}\n", label(e.speaker), e.text),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The routing attributes, then the summary in what they leave of the limit.
fn attributes(brief: Brief<'_>) -> BTreeMap<String, String> {
    let mut attributes = brief.routing.clone();
    let summary = [
        ("HandoffTitle", brief.title.to_owned()),
        ("HandoffReason", brief.reason.to_owned()),
        ("HandoffMessages", brief.history.len().to_string()),
        (
            "HandoffLastUserMessage",
            brief
                .history
                .iter()
                .rev()
                .find(|e| e.speaker == Speaker::User)
                .map(|e| e.text.clone())
                .unwrap_or_default(),
        ),
    ];
    let mut used: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    for (key, value) in summary {
        let room = ATTRIBUTES_MAX_BYTES.saturating_sub(used + key.len());
        let value = cut(&value, room);
        if value.is_empty() {
            continue;
        }
        used += key.len() + value.len();
        attributes.insert(key.to_owned(), value.to_owned());
    }
    attributes
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let end = (0..=max).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(speaker: Speaker, text: &str) -> HistoryEntry {
        HistoryEntry {
            speaker,
            text: text.into(),
            at: Some("2026-12-07T10:00:00Z".into()),
        }
    }

    fn brief<'a>(history: &'a [HistoryEntry], routing: &'a BTreeMap<String, String>) -> Brief<'a> {
        Brief {
            title: "Refund request",
            reason: "The customer asks for a refund the bot cannot grant",
            history,
            routing,
        }
    }

    #[test]
    fn a_short_history_is_retold_in_order_after_the_reason() {
        let history = [
            said(Speaker::User, "I want my money back"),
            said(Speaker::Bot, "Which order?"),
            said(Speaker::User, "#1234"),
        ];
        let routing = BTreeMap::new();
        let context = agent_context(brief(&history, &routing), RetellLimits::default());
        assert_eq!(
            context.opening,
            "Refund request\nThe customer asks for a refund the bot cannot grant"
        );
        assert_eq!(
            context.retold,
            [
                (Speaker::User, "I want my money back".to_owned()),
                (Speaker::Bot, "Which order?".to_owned()),
                (Speaker::User, "#1234".to_owned()),
            ]
        );
        assert_eq!(context.transcript, None);
        assert_eq!(context.attributes["HandoffMessages"], "3");
        assert_eq!(context.attributes["HandoffLastUserMessage"], "#1234");
    }

    #[test]
    fn a_long_history_goes_as_a_file_and_only_its_end_is_retold() {
        let history: Vec<HistoryEntry> = (0..30)
            .map(|i| {
                said(
                    if i % 2 == 0 { Speaker::User } else { Speaker::Bot },
                    &format!("message {i}"),
                )
            })
            .collect();
        let routing = BTreeMap::new();
        let limits = RetellLimits {
            messages: 12,
            chars: 10_000,
        };
        let context = agent_context(brief(&history, &routing), limits);
        assert_eq!(context.retold.len(), 12);
        assert_eq!(context.retold[0].1, "message 18");
        assert_eq!(context.retold[11].1, "message 29");
        assert!(context.opening.ends_with("its last 12 messages follow.)"));
        let file = context.transcript.expect("the whole history attached");
        assert!(file.starts_with("[2026-12-07T10:00:00Z] User: message 0\n"));
        assert!(file.contains("Bot: message 29"));

        // The character budget cuts it as well.
        let chars = RetellLimits {
            messages: 100,
            chars: "message 29".len() * 3,
        };
        assert_eq!(agent_context(brief(&history, &routing), chars).retold.len(), 3);
    }

    #[test]
    fn the_summary_takes_only_what_the_routing_attributes_leave_of_32_kb() {
        let history = [said(Speaker::User, &"é".repeat(20_000))];
        let routing = BTreeMap::from([("Tier".to_owned(), "gold".to_owned())]);
        let context = agent_context(brief(&history, &routing), RetellLimits::default());
        let total: usize = context.attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(total <= ATTRIBUTES_MAX_BYTES, "{total}");
        assert_eq!(context.attributes["Tier"], "gold");
        let last = &context.attributes["HandoffLastUserMessage"];
        assert!(
            last.len() < 40_000 && last.chars().all(|c| c == 'é'),
            "cut at a character"
        );
    }
}
