//! The bot's conversation before the handoff, in Botpress's message shape (`source`, `type`,
//! `payload` in Botpress's camelCase, `created_at`), so a Botpress integration passes its conversation
//! through unchanged; other bots build the same few shapes. Each message becomes one line of text for
//! the agent ([`HistoryEntry`]):
//! - `text`, `markdown`: the text as written;
//! - `image`, `audio`, `video`, `file`: `[image] <title> <url>` (the title when there is one), so the
//!   agent can open it;
//! - `location`: `[location] <title or address> (<latitude>, <longitude>)`;
//! - `choice`, `dropdown`: `<text> [options: <label> | <label>]`: what the user was offered, on one line,
//!   since the agent reads it and cannot tap it;
//! - `card`: `[card] <title> - <subtitle> [options: <label> | ...]`; `carousel`: its cards joined by ` / `.

use super::{ApiError, TextRule, decode_value, join};
use crate::handoff::{HistoryEntry, Speaker};
use serde::Deserialize;
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

const HISTORY_TEXT: TextRule = TextRule::lines(4096);
const LABEL: TextRule = TextRule::line(256);
const URL_MAX_CHARS: usize = 2048;

/// One message of the bot's conversation, in Botpress's shape.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryMessage {
    source: Source,
    #[serde(rename = "type")]
    kind: HistoryType,
    /// Its content, shaped by `type` (Botpress's payloads).
    #[schema(schema_with = payload_schema)]
    payload: serde_json::Value,
    /// When it was said (RFC 3339).
    #[schema(format = DateTime)]
    created_at: Option<String>,
}

/// Who said a history message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Source {
    #[serde(rename = "type")]
    kind: SourceType,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum SourceType {
    User,
    Bot,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum HistoryType {
    Text,
    Markdown,
    Image,
    Audio,
    Video,
    File,
    Location,
    Choice,
    Dropdown,
    Card,
    Carousel,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TextPayload {
    text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MarkdownPayload {
    markdown: String,
}

macro_rules! media_payload {
    ($name:ident, $url:ident, $wire:literal) => {
        // `rename_all` rather than a `rename = $wire` on the field: utoipa misses a rename given
        // through a macro, and the document would name the field in snake case.
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct $name {
            #[schema(format = "uri")]
            $url: String,
            title: Option<String>,
        }

        impl From<$name> for Media {
            fn from(payload: $name) -> Self {
                Media {
                    url: payload.$url,
                    url_field: $wire,
                    title: payload.title,
                }
            }
        }
    };
}

media_payload!(ImagePayload, image_url, "imageUrl");
media_payload!(AudioPayload, audio_url, "audioUrl");
media_payload!(VideoPayload, video_url, "videoUrl");
media_payload!(FilePayload, file_url, "fileUrl");

/// A media payload of any kind, as one shape.
struct Media {
    url: String,
    url_field: &'static str,
    title: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LocationPayload {
    latitude: f64,
    longitude: f64,
    address: Option<String>,
    title: Option<String>,
}

/// `choice` and `dropdown`: a question and the options offered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChoicePayload {
    text: String,
    // Inline: the payload schemas are inlined in the message's, which has no room for references.
    #[schema(inline)]
    options: Vec<ChoiceOption>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChoiceOption {
    label: String,
    // Accepted as Botpress sends it and documented; the agent is shown the labels only.
    #[allow(dead_code)]
    value: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CardPayload {
    title: String,
    subtitle: Option<String>,
    // Accepted as Botpress sends it; the agent is shown the card's words, not its picture.
    #[allow(dead_code)]
    #[schema(format = "uri")]
    image_url: Option<String>,
    #[serde(default)]
    #[schema(inline)]
    actions: Vec<CardAction>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
// Only the label is shown to the agent; the rest is accepted as Botpress sends it, and documented.
#[allow(dead_code)]
struct CardAction {
    /// `postback`, `url` or `say`.
    action: String,
    label: String,
    value: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CarouselPayload {
    #[schema(inline)]
    items: Vec<CardPayload>,
}

/// The payload's schema: one of the shapes, which one being said by the message's `type`.
fn payload_schema() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(TextPayload::schema())
        .item(MarkdownPayload::schema())
        .item(ImagePayload::schema())
        .item(AudioPayload::schema())
        .item(VideoPayload::schema())
        .item(FilePayload::schema())
        .item(LocationPayload::schema())
        .item(ChoicePayload::schema())
        .item(CardPayload::schema())
        .item(CarouselPayload::schema())
        .into()
}

impl HistoryMessage {
    /// The message as the agent is shown it; `at` is the message's path in the body.
    pub(super) fn entry(self, at: &str) -> Result<HistoryEntry, ApiError> {
        let payload = join(at, "payload");
        let text = match self.kind {
            HistoryType::Text => {
                let p: TextPayload = decode_value(&payload, self.payload)?;
                HISTORY_TEXT.check(&join(&payload, "text"), p.text)?
            }
            HistoryType::Markdown => {
                let p: MarkdownPayload = decode_value(&payload, self.payload)?;
                HISTORY_TEXT.check(&join(&payload, "markdown"), p.markdown)?
            }
            HistoryType::Image => media("image", &payload, decode_value::<ImagePayload>(&payload, self.payload)?)?,
            HistoryType::Audio => media("audio", &payload, decode_value::<AudioPayload>(&payload, self.payload)?)?,
            HistoryType::Video => media("video", &payload, decode_value::<VideoPayload>(&payload, self.payload)?)?,
            HistoryType::File => media("file", &payload, decode_value::<FilePayload>(&payload, self.payload)?)?,
            HistoryType::Location => location(&payload, decode_value(&payload, self.payload)?)?,
            HistoryType::Choice | HistoryType::Dropdown => {
                let p: ChoicePayload = decode_value(&payload, self.payload)?;
                let labels: Vec<&str> = p.options.iter().map(|o| o.label.as_str()).collect();
                let line = format!("{}{}", p.text.trim(), options(&labels));
                HISTORY_TEXT.check(&join(&payload, "text"), line)?
            }
            HistoryType::Card => {
                let line = card(&decode_value(&payload, self.payload)?);
                HISTORY_TEXT.check(&join(&payload, "title"), line)?
            }
            HistoryType::Carousel => {
                let p: CarouselPayload = decode_value(&payload, self.payload)?;
                let line = p.items.iter().map(card).collect::<Vec<_>>().join(" / ");
                HISTORY_TEXT.check(&join(&payload, "items"), line)?
            }
        };
        let at_field = join(at, "created_at");
        Ok(HistoryEntry {
            speaker: match self.source.kind {
                SourceType::User => Speaker::User,
                SourceType::Bot => Speaker::Bot,
            },
            text,
            at: self.created_at.map(|t| rfc3339(&at_field, &t)).transpose()?,
        })
    }
}

/// ` [options: a | b]`, or nothing when none were offered.
fn options(labels: &[&str]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    format!(
        " [options: {}]",
        labels.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" | ")
    )
}

fn card(card: &CardPayload) -> String {
    let labels: Vec<&str> = card.actions.iter().map(|a| a.label.as_str()).collect();
    let subtitle = card
        .subtitle
        .as_deref()
        .map(|s| format!(" - {}", s.trim()))
        .unwrap_or_default();
    format!("[card] {}{subtitle}{}", card.title.trim(), options(&labels))
}

fn media(kind: &str, at: &str, media: impl Into<Media>) -> Result<String, ApiError> {
    let media = media.into();
    let url = checked_url(&join(at, media.url_field), media.url)?;
    let title = media.title.filter(|t| !t.trim().is_empty());
    Ok(match title.map(|t| LABEL.check(&join(at, "title"), t)).transpose()? {
        Some(title) => format!("[{kind}] {} {url}", title.trim()),
        None => format!("[{kind}] {url}"),
    })
}

fn location(at: &str, p: LocationPayload) -> Result<String, ApiError> {
    if !(-90.0..=90.0).contains(&p.latitude) || !(-180.0..=180.0).contains(&p.longitude) {
        return Err(ApiError::invalid(at, "latitude or longitude is out of range"));
    }
    let name = p
        .title
        .or(p.address)
        .map(|n| format!("{} ", n.trim()))
        .unwrap_or_default();
    HISTORY_TEXT.check(
        &join(at, "title"),
        format!("[location] {name}({}, {})", p.latitude, p.longitude),
    )
}

/// An http(s) URL of a sane length; it is shown to the agent, never fetched by the bridge.
fn checked_url(field: &str, raw: String) -> Result<String, ApiError> {
    let web = raw.starts_with("https://") || raw.starts_with("http://");
    if !web || raw.len() > URL_MAX_CHARS || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::invalid(field, "is not an http(s) URL"));
    }
    Ok(raw)
}

/// An RFC 3339 time, in UTC with a `Z` (as the transcript shows it).
fn rfc3339(field: &str, raw: &str) -> Result<String, ApiError> {
    let time =
        chrono::DateTime::parse_from_rfc3339(raw).map_err(|_| ApiError::invalid(field, "is not an RFC 3339 time"))?;
    Ok(time
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn said(source: &str, kind: &str, payload: serde_json::Value) -> serde_json::Value {
        json!({"source": {"type": source}, "type": kind, "payload": payload})
    }

    #[test]
    fn botpress_messages_become_one_line_each_for_the_agent() {
        let history = json!([
            said("bot", "markdown", json!({"markdown": "**Hi**"})),
            said("user", "image", json!({"imageUrl": "https://x.test/a.png"})),
            said(
                "user",
                "file",
                json!({"fileUrl": "https://x.test/r.pdf", "title": "Receipt"})
            ),
            said(
                "bot",
                "choice",
                json!({"text": "Which one?", "options": [
                {"label": "Order A", "value": "a"}, {"label": "Order B", "value": "b"}]})
            ),
            said(
                "bot",
                "card",
                json!({"title": "Plan", "subtitle": "Monthly", "actions": [
                {"action": "postback", "label": "Buy", "value": "buy"}]})
            ),
            said(
                "bot",
                "carousel",
                json!({"items": [{"title": "A"}, {"title": "B", "imageUrl": "https://x.test/b"}]})
            ),
            said(
                "user",
                "location",
                json!({"latitude": -23.5, "longitude": -46.6, "title": "Home"})
            ),
            said("user", "dropdown", json!({"text": "Pick", "options": []})),
        ]);
        let messages: Vec<HistoryMessage> = serde_json::from_value(history).unwrap();
        let entries: Vec<HistoryEntry> = messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| m.entry(&format!("message_history[{i}]")).unwrap())
            .collect();
        assert_eq!(entries[0].speaker, Speaker::Bot);
        assert_eq!(entries[1].speaker, Speaker::User);
        let lines: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            lines,
            [
                "**Hi**",
                "[image] https://x.test/a.png",
                "[file] Receipt https://x.test/r.pdf",
                "Which one? [options: Order A | Order B]",
                "[card] Plan - Monthly [options: Buy]",
                "[card] A / [card] B",
                "[location] Home (-23.5, -46.6)",
                "Pick",
            ]
        );
    }

    #[test]
    fn a_long_media_title_is_refused_by_its_path() {
        let message: HistoryMessage = serde_json::from_value(said(
            "user",
            "video",
            json!({"videoUrl": "https://x.test/v", "title": "t".repeat(257)}),
        ))
        .unwrap();
        let error = message.entry("message_history[0]").unwrap_err();
        assert_eq!(error.message(), "message_history[0].payload.title: is too long");
    }
}
