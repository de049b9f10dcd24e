//! Handoff messages both ways: what a handoff's chat shows the customer becomes the `data` of the
//! `handoff.message` and `handoff.typing` events the bot receives ([`for_bot`], [`typing`]), and the
//! bot's answers and files (`POST /v1/handoffs/{id}/messages`) become what the chat's customer
//! participant sends into Connect ([`answer`], [`upload`]; texts go in as the bot wrote them).
//!
//! Shaped around one rule: a bot answers Connect's interactive messages exactly as a WhatsApp customer
//! does. A template is read by [`crate::rich::template`] and rendered by [`crate::rich::interactive`] as
//! for WhatsApp; the rendering's [`Menu`] already says what Connect must receive for each option (what
//! Connect's own widget sends), so the option ids the bot gets are the menu's ids, and answering looks
//! the reply up in that menu. Both channels thus answer alike, and since a menu's ids derive from its
//! message, an answer to an older message is refused instead of being taken for an option of the newest.
//!
//! The neutral JSON the bot receives, as [`MessageData`] serialises it:
//! ```json
//! {"message_id": "…", "sender": {"role": "agent" | "bot" | "system", "name": "Ana"},
//!  "sent_at": "2025-11-11T07:30:00.301Z",
//!  "content": {"type": "text", "text": "…"}
//!           | {"type": "markdown", "markdown": "…"}
//!           | {"type": "choice", "template": "list_picker" | "panel" | "quick_reply" | "time_picker"
//!                                        | "carousel" | "other",
//!              "title": "…", "subtitle": "…", "options": [{"id": "…", "title": "…", "description": "…"}],
//!              "panels": [{"title", "subtitle", "options", "links"}], "links": [{"title", "url"}],
//!              "fallback_text": "…"}
//!           | {"type": "file", "name": "…", "content_type": "…", "size": 123, "attachment_id": "…",
//!              "download": {"url": "…", "expires_at": "…"}}}
//! ```
//! Optional fields are left out when empty. `options` always lists every option, in the order of the
//! numbers in `fallback_text`; a carousel's `panels` group the same options as Connect shows them.

use crate::connect_stream::{ItemType, Role, StreamItem, Visibility};
use crate::content_type::{DELIVERED_EVENT, INTERACTIVE, READ_EVENT, TEXT_MARKDOWN, TEXT_PLAIN};
use crate::media::policy::{ConnectLimits, canonical_mime, sanitize_file_name};
use crate::media::ports::AttachmentLink;
use crate::rich::interactive::{self, Overflow, RenderOptions, Rendered};
use crate::rich::menu::{ConnectMessage, Menu, MenuOption};
use crate::rich::template::{self, Element, Picker, Template};
use crate::whatsapp::outgoing::{InteractiveBody, OutgoingBody};
use chrono::{DateTime, SecondsFormat};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The display name Connect gives what a Lex bot says; a flow's own messages are `SYSTEM_MESSAGE`.
pub(crate) const LEX_DISPLAY_NAME: &str = "BOT";
/// What a bot can show for an interactive message with nothing readable in it.
const UNREADABLE_CHOICE_TEXT: &str = "(An interactive message this channel cannot show.)";
/// Connect leaves an attachment's name and type out at times; these are what the bridge says then.
const DEFAULT_FILE_NAME: &str = "attachment";
const DEFAULT_FILE_TYPE: &str = "application/octet-stream";

// ---- from the chat to the bot ------------------------------------------------------------------------

/// The `data` of a `handoff.message` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageData {
    /// Connect's item id, with `:n` for the n-th file of an item that carries several: the bot's key
    /// for recognising a message delivered twice.
    pub message_id: String,
    pub sender: Sender,
    pub content: MessageContent,
    /// When Connect recorded the item (RFC 3339, UTC), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    pub role: SenderRole,
    /// The agent's display name; Connect's placeholders for its flows and bots (`SYSTEM_MESSAGE`,
    /// `BOT`) are not names and are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Who in the contact center said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderRole {
    /// An agent, or a supervisor who barged in.
    Agent,
    /// A Lex bot in the contact flow.
    Bot,
    /// The contact flow's own messages (greetings, queue messages).
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageContent {
    Text { text: String },
    Markdown { markdown: String },
    Choice(Choice),
    File(File),
}

/// One of Connect's interactive messages, neutrally: what to ask, what can be answered, and a text for
/// a bot that shows no buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub template: ChoiceTemplate,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    /// Every option; the bot answers one by its `id` (as `option_id`).
    pub options: Vec<ChoiceOption>,
    /// A carousel's panels, each with its own options (also in `options`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panels: Vec<ChoicePanel>,
    /// Links to show with it (a template's hyperlink elements, a time picker's place); not answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// The whole message as plain text, its options numbered as in `options` (1 is the first).
    pub fallback_text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceTemplate {
    ListPicker,
    Panel,
    QuickReply,
    TimePicker,
    Carousel,
    /// A template the bridge does not know: its title and fallback text, no options.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceOption {
    /// Opaque; unique in its message and different in any message with other options, so that an answer
    /// to an older message is refused rather than mistaken.
    pub id: String,
    /// As the template wrote it, whole; for a time slot, its day and time
    /// (`Wed, Nov 12 (UTC-5), 12:00 PM – 1:00 PM`) or, when unreadable, its date as written.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoicePanel {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    pub options: Vec<ChoiceOption>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub title: String,
    pub url: String,
}

/// A file the agent sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    pub name: String,
    pub content_type: String,
    /// In bytes, when known (Connect's stream does not say; the service may, once it has looked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Connect's attachment id, from which the service makes [`File::download`].
    pub attachment_id: String,
    /// Set by the service before delivery; never by this module, which has no URL to give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<Download>,
}

/// A short-lived URL the bot downloads the file from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Download {
    /// A presigned URL: GET it without credentials.
    pub url: String,
    /// When the URL stops working (RFC 3339); `GET /v1/handoffs/{id}/attachments/{attachment_id}`
    /// gives a new one while the handoff lasts.
    pub expires_at: String,
}

impl From<AttachmentLink> for Download {
    fn from(link: AttachmentLink) -> Self {
        Self {
            url: link.url,
            expires_at: link.expires_at,
        }
    }
}

/// What the service keeps of the last choice of a handoff until the bot answers it: the choice as the
/// bot was shown it, and the menu that says what Connect receives for each of its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferedChoice {
    pub choice: Choice,
    pub menu: Menu,
}

/// What an item of the chat owes the bot.
#[derive(Debug, Clone, PartialEq)]
pub struct ForBot {
    /// In order: one message, or one per file of an attachment item.
    pub messages: Vec<MessageData>,
    /// For a choice with options: to keep (in place of any older one) until the bot answers.
    pub offered: Option<OfferedChoice>,
}

/// Why an item of the chat is no `handoff.message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// Connect's delivered and read receipts.
    Receipt,
    /// Other events: lifecycle events and typing have their own (`handoff::lifecycle`, [`typing`]).
    Event,
    /// The customer's own message, which the bot sent.
    CustomerEcho,
    /// What the bridge's custom bot participant said: the bot's history, retold for the agent.
    OwnRetelling,
    /// A participant role this release does not know.
    UnknownSender,
    /// Shown to the agent only.
    NotCustomerVisible,
    EmptyMessage,
    ContentTypeNotBridged,
    MalformedInteractive,
    /// An attachment item whose every file Connect did not approve (a failed scan).
    NoApprovedFile,
    ItemTypeNotBridged,
}

impl Withheld {
    /// A stable code for logs.
    pub fn code(self) -> &'static str {
        match self {
            Withheld::Receipt => "receipt",
            Withheld::Event => "event",
            Withheld::CustomerEcho => "customer_echo",
            Withheld::OwnRetelling => "own_retelling",
            Withheld::UnknownSender => "unknown_sender",
            Withheld::NotCustomerVisible => "not_customer_visible",
            Withheld::EmptyMessage => "empty_message",
            Withheld::ContentTypeNotBridged => "content_type_not_bridged",
            Withheld::MalformedInteractive => "malformed_interactive",
            Withheld::NoApprovedFile => "no_approved_file",
            Withheld::ItemTypeNotBridged => "item_type_not_bridged",
        }
    }
}

/// What an item of a handoff's chat owes the bot, or why it owes nothing.
pub fn for_bot(item: &StreamItem) -> Result<ForBot, Withheld> {
    if item.item_type == ItemType::Event {
        let receipt = [DELIVERED_EVENT, READ_EVENT].contains(&item.content_type.as_str());
        return Err(if receipt { Withheld::Receipt } else { Withheld::Event });
    }
    let sender = sender(item)?;
    if !matches!(item.visibility, Visibility::Customer | Visibility::All) {
        return Err(Withheld::NotCustomerVisible);
    }
    let sent_at = item
        .absolute_time_ms
        .and_then(DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
    let message = |message_id: String, content: MessageContent| MessageData {
        message_id,
        sender: sender.clone(),
        content,
        sent_at: sent_at.clone(),
    };
    match &item.item_type {
        ItemType::Message => {
            let (content, offered) = message_content(item)?;
            Ok(ForBot {
                messages: vec![message(item.id.as_str().to_owned(), content)],
                offered,
            })
        }
        ItemType::Attachment => {
            let several = item.attachments.len() > 1;
            let messages: Vec<MessageData> = item
                .attachments
                .iter()
                .enumerate()
                .filter(|(_, file)| file.status.as_deref().is_none_or(|s| s == "APPROVED"))
                .map(|(i, file)| {
                    let id = if several {
                        format!("{}:{}", item.id.as_str(), i + 1)
                    } else {
                        item.id.as_str().to_owned()
                    };
                    let file = File {
                        // The agent's file name is shown by bots of every kind: made safe like the bot's own.
                        name: file
                            .attachment_name
                            .as_deref()
                            .and_then(sanitize_file_name)
                            .unwrap_or_else(|| DEFAULT_FILE_NAME.to_owned()),
                        content_type: file
                            .content_type
                            .clone()
                            .unwrap_or_else(|| DEFAULT_FILE_TYPE.to_owned()),
                        size: None,
                        attachment_id: file.attachment_id.clone(),
                        download: None,
                    };
                    message(id, MessageContent::File(file))
                })
                .collect();
            if messages.is_empty() {
                return Err(Withheld::NoApprovedFile);
            }
            Ok(ForBot {
                messages,
                offered: None,
            })
        }
        ItemType::Event | ItemType::Other(_) => Err(Withheld::ItemTypeNotBridged),
    }
}

/// The `data` of a `handoff.typing` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingData {
    pub role: SenderRole,
}

/// The agent's typing, for the bot to show; `None` for any other item (the customer's typing is the
/// bot's own).
pub fn typing(item: &StreamItem) -> Option<TypingData> {
    let agent = matches!(item.role, Some(Role::Agent | Role::Supervisor));
    (item.item_type == ItemType::Event && item.event_name() == Some("typing") && agent).then_some(TypingData {
        role: SenderRole::Agent,
    })
}

fn sender(item: &StreamItem) -> Result<Sender, Withheld> {
    let named = |name: &Option<String>| name.clone().filter(|n| !n.trim().is_empty());
    match &item.role {
        Some(Role::Agent | Role::Supervisor) => Ok(Sender {
            role: SenderRole::Agent,
            name: named(&item.display_name),
        }),
        Some(Role::System) if item.display_name.as_deref() == Some(LEX_DISPLAY_NAME) => Ok(Sender {
            role: SenderRole::Bot,
            name: None,
        }),
        Some(Role::System) => Ok(Sender {
            role: SenderRole::System,
            name: None,
        }),
        Some(Role::Customer) => Err(Withheld::CustomerEcho),
        // Connect allows one custom bot per contact, and on a handoff's contact it is the bridge's.
        Some(Role::CustomBot) => Err(Withheld::OwnRetelling),
        Some(Role::Other(_)) | None => Err(Withheld::UnknownSender),
    }
}

fn message_content(item: &StreamItem) -> Result<(MessageContent, Option<OfferedChoice>), Withheld> {
    let body = item
        .content
        .clone()
        .filter(|c| !c.trim().is_empty())
        .ok_or(Withheld::EmptyMessage)?;
    match item.content_type.as_str() {
        TEXT_PLAIN => Ok((MessageContent::Text { text: body }, None)),
        TEXT_MARKDOWN => Ok((MessageContent::Markdown { markdown: body }, None)),
        INTERACTIVE => {
            let template = template::parse(&body).map_err(|_| Withheld::MalformedInteractive)?;
            let (choice, menu) = choice(&template);
            let offered = menu.map(|menu| OfferedChoice {
                choice: choice.clone(),
                menu,
            });
            Ok((MessageContent::Choice(choice), offered))
        }
        _ => Err(Withheld::ContentTypeNotBridged),
    }
}

/// Renders as for WhatsApp, but always as lists: their sections carry each time slot's day, which the
/// option titles alone do not.
fn render_options() -> RenderOptions {
    RenderOptions {
        overflow: Overflow::Paged,
        time_overflow: Overflow::Paged,
        ..RenderOptions::default()
    }
}

/// The neutral choice of a template, and the menu its answers are looked up in (when it has options).
fn choice(template: &Template) -> (Choice, Option<Menu>) {
    let rendered = interactive::render(template, &render_options());
    let menu_options: &[MenuOption] = rendered
        .as_ref()
        .and_then(|r| r.menu.as_ref())
        .map_or(&[], |m| m.options.as_slice());
    let mut ids = menu_options.iter().map(|o| o.id.clone());
    let mut options_of = |elements: &[Element]| -> Vec<ChoiceOption> {
        elements
            .iter()
            .filter(|e| e.link.is_none())
            .zip(ids.by_ref())
            .map(|(e, id)| ChoiceOption {
                id,
                title: e.title.clone(),
                description: e.subtitle.clone(),
            })
            .collect()
    };
    let picker = |kind: ChoiceTemplate, p: &Picker, options: Vec<ChoiceOption>| Choice {
        template: kind,
        title: p.title.clone(),
        subtitle: p.subtitle.clone(),
        options,
        panels: Vec::new(),
        links: links_of(&p.elements),
        fallback_text: String::new(),
    };
    let mut choice = match template {
        Template::ListPicker(p) => picker(ChoiceTemplate::ListPicker, p, options_of(&p.elements)),
        Template::Panel(p) => picker(ChoiceTemplate::Panel, p, options_of(&p.elements)),
        Template::QuickReply(p) => picker(ChoiceTemplate::QuickReply, p, options_of(&p.elements)),
        Template::Carousel(c) => {
            let panels: Vec<ChoicePanel> = c
                .panels
                .iter()
                .map(|p| ChoicePanel {
                    title: p.title.clone(),
                    subtitle: p.subtitle.clone(),
                    options: options_of(&p.elements),
                    links: links_of(&p.elements),
                })
                .collect();
            Choice {
                template: ChoiceTemplate::Carousel,
                title: c.title.clone(),
                subtitle: None,
                options: panels.iter().flat_map(|p| p.options.clone()).collect(),
                links: panels.iter().flat_map(|p| p.links.clone()).collect(),
                panels,
                fallback_text: String::new(),
            }
        }
        Template::TimePicker(t) => {
            let days = rendered.as_ref().map(list_sections).unwrap_or_default();
            Choice {
                template: ChoiceTemplate::TimePicker,
                title: t.title.clone(),
                subtitle: t.subtitle.clone(),
                options: menu_options.iter().map(|o| slot_option(o, &days)).collect(),
                panels: Vec::new(),
                links: t
                    .location
                    .iter()
                    .map(|place| Link {
                        title: place.title.clone().unwrap_or_else(|| "Location".to_owned()),
                        url: format!("https://maps.google.com/?q={},{}", place.latitude, place.longitude),
                    })
                    .collect(),
                fallback_text: String::new(),
            }
        }
        Template::Unknown { title, .. } => Choice {
            template: ChoiceTemplate::Other,
            title: title.clone().unwrap_or_default(),
            subtitle: None,
            options: Vec::new(),
            panels: Vec::new(),
            links: Vec::new(),
            fallback_text: String::new(),
        },
    };
    choice.fallback_text = fallback_text(&choice);
    // The WhatsApp pages are of no use for answering, and the menu is stored.
    let menu = rendered.and_then(|r| r.menu).map(|mut menu| {
        menu.pages.clear();
        menu
    });
    (choice, menu)
}

fn links_of(elements: &[Element]) -> Vec<Link> {
    elements
        .iter()
        .filter_map(|e| {
            Some(Link {
                title: e.title.clone(),
                url: e.link.clone()?,
            })
        })
        .collect()
}

/// The title of the list section each rendered option is listed under, by option id.
fn list_sections(rendered: &Rendered) -> HashMap<String, String> {
    let pages = rendered.menu.iter().flat_map(|m| m.pages.iter());
    std::iter::once(&rendered.message)
        .chain(pages)
        .filter_map(|body| match body {
            OutgoingBody::Interactive {
                interactive: InteractiveBody::List { action, .. },
            } => Some(action),
            _ => None,
        })
        .flat_map(|action| action.sections.iter())
        .filter_map(|section| Some((section.title.clone()?, &section.rows)))
        .flat_map(|(title, rows)| rows.iter().map(move |row| (row.id.clone(), title.clone())))
        .collect()
}

/// A time slot as an option: its day and time, or the date as written when it could not be read (its
/// reply is that date, and its menu title is then the date too, listed under no day).
fn slot_option(option: &MenuOption, days: &HashMap<String, String>) -> ChoiceOption {
    let title = match days.get(&option.id) {
        Some(day) if option.title != option.reply.content => format!("{day}, {}", option.title),
        _ => option.title.clone(),
    };
    ChoiceOption {
        id: option.id.clone(),
        title,
        description: None,
    }
}

/// The choice as plain text: its heading, then each panel's (or its own) numbered options and links.
fn fallback_text(choice: &Choice) -> String {
    let mut number = 0;
    let mut paragraphs = vec![heading(&choice.title, choice.subtitle.as_deref())];
    if choice.panels.is_empty() {
        paragraphs.push(listed(&choice.options, &choice.links, &mut number));
    } else {
        for panel in &choice.panels {
            let mut lines = heading(&panel.title, panel.subtitle.as_deref());
            lines.extend(listed(&panel.options, &panel.links, &mut number));
            paragraphs.push(lines);
        }
    }
    let text = paragraphs
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.join("\n"))
        .collect::<Vec<_>>()
        .join("\n\n");
    if text.is_empty() {
        UNREADABLE_CHOICE_TEXT.to_owned()
    } else {
        text
    }
}

fn heading(title: &str, subtitle: Option<&str>) -> Vec<String> {
    [Some(title), subtitle]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Options numbered on from `number`, then links.
fn listed(options: &[ChoiceOption], links: &[Link], number: &mut usize) -> Vec<String> {
    let mut lines = Vec::new();
    for option in options {
        *number += 1;
        lines.push(match &option.description {
            Some(d) => format!("{number}. {} — {d}", option.title),
            None => format!("{number}. {}", option.title),
        });
    }
    lines.extend(links.iter().map(|l| format!("{}: {}", l.title, l.url)));
    lines
}

// ---- from the bot to the chat ------------------------------------------------------------------------

/// The attachment upload Connect is asked for a bot's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Made safe to store and show.
    pub name: String,
    /// A type Connect chat accepts, in its canonical spelling.
    pub content_type: &'static str,
}

/// Why the bot's message cannot go into the chat; each names the request's field at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("option_id answers nothing: no interactive message waits for an answer")]
    NothingToAnswer,
    #[error("option_id is no option of the last interactive message")]
    UnknownOption,
    #[error("file.name leaves no usable file name")]
    FileName,
    #[error("file.content_type is not a file type Amazon Connect chat accepts")]
    FileType,
}

impl Invalid {
    /// The request field at fault, for the API's 400.
    pub fn field(self) -> &'static str {
        match self {
            Invalid::NothingToAnswer | Invalid::UnknownOption => "option_id",
            Invalid::FileName => "file.name",
            Invalid::FileType => "file.content_type",
        }
    }

    /// What is wrong with the field, for the API's 400.
    pub fn problem(self) -> &'static str {
        match self {
            Invalid::NothingToAnswer => "answers nothing: no interactive message waits for an answer",
            Invalid::UnknownOption => "is no option of the last interactive message",
            Invalid::FileName => "leaves no usable file name",
            Invalid::FileType => "is not a file type Amazon Connect chat accepts",
        }
    }
}

/// What the customer participant sends into Connect for the option `option_id` of the handoff's last
/// choice, `offered`.
pub fn answer(option_id: &str, offered: Option<&OfferedChoice>) -> Result<ConnectMessage, Invalid> {
    let offered = offered.ok_or(Invalid::NothingToAnswer)?;
    // Only what the bot was shown can be answered, with what the menu says Connect receives.
    let shown = offered.choice.options.iter().any(|o| o.id == option_id);
    let option = offered
        .menu
        .option(option_id)
        .filter(|_| shown)
        .ok_or(Invalid::UnknownOption)?;
    Ok(option.reply.clone())
}

/// The upload Connect is asked for the bot's file called `name`, of the type `content_type`.
pub fn upload(name: &str, content_type: &str) -> Result<Upload, Invalid> {
    let name = sanitize_file_name(name).ok_or(Invalid::FileName)?;
    let content_type = canonical_mime(content_type, Some(&name))
        .filter(|mime| ConnectLimits::default().accepts(mime))
        .ok_or(Invalid::FileType)?;
    Ok(Upload { name, content_type })
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
