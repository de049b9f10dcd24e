//! The [`Menu`] the state store keeps between a rendered template and the customer's answer, and
//! [`answer`], which reads a customer's tap or typed number against it.
//!
//! WhatsApp titles are short while Lex matches the *full* option title, so the menu records what each
//! button, row or number stands for: the exact message Connect's own widget would have sent.

use crate::content_type::{INTERACTIVE_RESPONSE, TEXT_PLAIN};
use crate::whatsapp::outgoing::OutgoingBody;
use crate::whatsapp::{Content, InteractiveReply};
use serde::{Deserialize, Serialize};

/// A message for Connect, as `SendMessage` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectMessage {
    pub content_type: String,
    pub content: String,
}

impl ConnectMessage {
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content_type: TEXT_PLAIN.to_owned(),
            content: content.into(),
        }
    }

    pub fn interactive_response(content: impl Into<String>) -> Self {
        Self {
            content_type: INTERACTIVE_RESPONSE.to_owned(),
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MenuStyle {
    Buttons,
    List,
    /// A text whose options the customer answers by number.
    Numbered,
}

/// What the options of one rendered template stand for, to be kept until the customer answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Menu {
    /// Derived from the template's options and part of every id, so a tap on an older menu's message
    /// is never mistaken for an option of the menu stored now.
    pub key: String,
    pub style: MenuStyle,
    pub options: Vec<MenuOption>,
    /// Every page when the options were paged (`pages[0]` is the one sent first), else empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<OutgoingBody>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuOption {
    /// The WhatsApp button or row id.
    pub id: String,
    /// 1-based; what the customer types to answer a numbered menu.
    pub number: usize,
    /// The option as the customer was meant to read it, before any truncation.
    pub title: String,
    /// What Connect receives when this option is chosen.
    pub reply: ConnectMessage,
}

impl Menu {
    pub(super) fn page_id(&self, page: usize) -> String {
        format!("{}.more{page}", self.key)
    }

    /// The page a "More options" row with this id opens.
    pub fn page_for(&self, id: &str) -> Option<&OutgoingBody> {
        let page = id
            .strip_prefix(&self.key)?
            .strip_prefix(".more")?
            .parse::<usize>()
            .ok()?;
        self.pages.get(page)
    }

    pub fn option(&self, id: &str) -> Option<&MenuOption> {
        self.options.iter().find(|o| o.id == id)
    }
}

/// What a customer's answer to a menu means.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Send this to Connect as the customer's message.
    Connect(ConnectMessage),
    /// The customer asked for the next page of options: send it to them; Connect hears nothing.
    Page(OutgoingBody),
}

/// What the customer's message means for the menu they were shown, or `None` when it is no answer
/// to a menu (ordinary text, media, …), which the bridge then handles as usual.
///
/// Button and list taps always answer: by the menu when their id belongs to it, else (an older menu,
/// no menu stored) with the tapped title as text, which is what the customer saw. A template's
/// quick-reply button answers with its payload's option, else its text. Typed text answers only a
/// numbered menu, and only with one of its numbers (`2`, ` 2. `, `#2`, `2)`).
pub fn answer(menu: Option<&Menu>, content: &Content) -> Option<Answer> {
    match content {
        Content::Interactive(InteractiveReply::Button { id, title } | InteractiveReply::List { id, title, .. }) => {
            Some(tap(menu, id, title))
        }
        Content::Button { payload, text } => Some(
            payload
                .as_deref()
                .and_then(|p| menu?.option(p))
                .map(|o| Answer::Connect(o.reply.clone()))
                .unwrap_or_else(|| Answer::Connect(ConnectMessage::text(text))),
        ),
        Content::Text { body } => {
            let menu = menu.filter(|m| m.style == MenuStyle::Numbered)?;
            let number = typed_number(body)?;
            let option = menu.options.iter().find(|o| o.number == number)?;
            Some(Answer::Connect(option.reply.clone()))
        }
        _ => None,
    }
}

fn tap(menu: Option<&Menu>, id: &str, title: &str) -> Answer {
    if let Some(menu) = menu {
        if let Some(option) = menu.option(id) {
            return Answer::Connect(option.reply.clone());
        }
        if let Some(page) = menu.page_for(id) {
            return Answer::Page(page.clone());
        }
    }
    Answer::Connect(ConnectMessage::text(title))
}

fn typed_number(text: &str) -> Option<usize> {
    let text = text.trim();
    let text = text.strip_prefix('#').unwrap_or(text).trim();
    let text = text.trim_end_matches(['.', ')']).trim();
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
