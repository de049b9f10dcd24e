//! Readable texts for what a WhatsApp customer sends (or fails to receive) that Connect has no way to
//! show: a shared location, contact cards, reactions, replies to earlier messages, files, and delivery
//! failures.
//!
//! The agent's chat window shows text and attachments only. Anything else, forwarded as-is, would be
//! JSON noise or nothing at all; each function here writes the one or two lines an agent needs to
//! understand what happened. The bridge supplies what it remembers (the text of a quoted message, a
//! file's size) and the business number's [`Wording`]; everything here is pure.

use super::text::{Unit, one_line, truncate};
use crate::whatsapp::{Content, InteractiveReply, Location, Media, MediaKind, WhatsappError};
use crate::wording::{Arg, Text, Wording};
use serde_json::Value;

/// Quoted messages are cut to this many characters: enough to recognise, short enough to skim.
pub const QUOTE_MAX_CHARS: usize = 80;

/// `text` on one line, cut to [`QUOTE_MAX_CHARS`], in typographic quotes.
pub fn quote(text: &str) -> String {
    format!("“{}”", truncate(&one_line(text), QUOTE_MAX_CHARS, Unit::Chars))
}

/// `📍 name, address` and a map link anyone can open.
pub fn location(w: &Wording, location: &Location) -> String {
    let label: Vec<&str> = [location.name.as_deref(), location.address.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let label = if label.is_empty() {
        w.word(Text::LocationUnnamed, &[])
    } else {
        label.join(", ")
    };
    format!(
        "📍 {label}\nhttps://maps.google.com/?q={},{}",
        location.latitude, location.longitude
    )
}

/// Meta contact cards as readable cards, one paragraph each. Any field may be missing.
pub fn contacts(w: &Wording, cards: &[Value]) -> String {
    if cards.is_empty() {
        return format!("👤 {}", w.word(Text::ContactsEmpty, &[]));
    }
    cards
        .iter()
        .map(|card| contact(w, card))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn contact(w: &Wording, card: &Value) -> String {
    let text = |value: &Value, key: &str| -> Option<String> {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let list = |key: &str| card.get(key).and_then(Value::as_array).cloned().unwrap_or_default();

    let name_obj = card.get("name").cloned().unwrap_or(Value::Null);
    let name = text(&name_obj, "formatted_name")
        .or_else(|| {
            let parts: Vec<String> = ["prefix", "first_name", "middle_name", "last_name", "suffix"]
                .iter()
                .filter_map(|k| text(&name_obj, k))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| w.word(Text::ContactUnnamed, &[]));
    let mut lines = vec![format!("👤 {name}")];

    if let Some(org) = card.get("org") {
        let parts: Vec<String> = ["company", "department", "title"]
            .iter()
            .filter_map(|k| text(org, k))
            .collect();
        if !parts.is_empty() {
            lines.push(format!("🏢 {}", parts.join(", ")));
        }
    }
    for phone in list("phones") {
        let wa_id = text(&phone, "wa_id");
        let Some(number) = text(&phone, "phone").or_else(|| wa_id.as_ref().map(|id| format!("+{id}"))) else {
            continue;
        };
        let mut notes: Vec<String> = text(&phone, "type").map(|t| t.to_lowercase()).into_iter().collect();
        if wa_id.is_some() {
            notes.push(w.word(Text::ContactOnWhatsapp, &[]));
        }
        if notes.is_empty() {
            lines.push(format!("📞 {number}"));
        } else {
            lines.push(format!("📞 {number} ({})", notes.join(", ")));
        }
    }
    for email in list("emails") {
        if let Some(address) = text(&email, "email") {
            lines.push(format!("✉️ {address}"));
        }
    }
    for address in list("addresses") {
        let parts: Vec<String> = ["street", "city", "state", "zip", "country"]
            .iter()
            .filter_map(|k| text(&address, k))
            .collect();
        if !parts.is_empty() {
            lines.push(format!("🏠 {}", parts.join(", ")));
        }
    }
    for url in list("urls") {
        if let Some(url) = text(&url, "url") {
            lines.push(format!("🔗 {url}"));
        }
    }
    if let Some(birthday) = text(card, "birthday") {
        lines.push(format!("🎂 {birthday}"));
    }
    lines.join("\n")
}

/// A reaction, or its removal (`emoji: None`), with the text reacted to when the bridge knows it.
pub fn reaction(w: &Wording, emoji: Option<&str>, quoted: Option<&str>) -> String {
    let quoted = quoted.filter(|q| !q.trim().is_empty()).map(quote);
    match (emoji.filter(|e| !e.is_empty()), quoted) {
        (Some(emoji), Some(quote)) => w.word(
            Text::ReactionAdded,
            &[("emoji", Arg::from(emoji)), ("quote", Arg::from(quote))],
        ),
        (Some(emoji), None) => w.word(Text::ReactionAddedUnknown, &[("emoji", Arg::from(emoji))]),
        (None, Some(quote)) => w.word(Text::ReactionRemoved, &[("quote", Arg::from(quote))]),
        (None, None) => w.word(Text::ReactionRemovedUnknown, &[]),
    }
}

/// The line that shows which earlier message a reply answers; empty when that text is not known.
pub fn reply_prefix(quoted: Option<&str>) -> String {
    match quoted.filter(|q| !q.trim().is_empty()) {
        Some(text) => format!("↪ {}\n", quote(text)),
        None => String::new(),
    }
}

/// `text` with its [`reply_prefix`].
pub fn with_reply(text: &str, quoted: Option<&str>) -> String {
    format!("{}{text}", reply_prefix(quoted))
}

/// `[file: name, type, size]` (the label names the kind for anything but documents), then the caption.
pub fn media(w: &Wording, media: &Media, size_bytes: Option<u64>) -> String {
    let kind = match media.kind {
        MediaKind::Audio if media.voice => "voice",
        MediaKind::Sticker if media.animated => "animated-sticker",
        other => other.as_str(),
    };
    let label = w.word(Text::FileLabel, &[("kind", Arg::from(kind))]);
    let details: Vec<String> = [
        media
            .filename
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned),
        media
            .mime_type
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
        size_bytes.map(human_size),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut out = if details.is_empty() {
        format!("[{label}]")
    } else {
        format!("[{label}: {}]", details.join(", "))
    };
    if let Some(caption) = media.caption.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        out.push('\n');
        out.push_str(caption);
    }
    out
}

/// A size as people read it: `512 B`, `1.5 KB`, `12 KB`, `3.4 MB` (binary multiples).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // One decimal while it says something (1.5 KB), none once the number is large (12 KB).
    if value < 10.0 && (value * 10.0).round() < 100.0 {
        format!("{:.1} {}", value, UNITS[unit])
    } else {
        format!("{:.0} {}", value, UNITS[unit])
    }
}

/// A message type WhatsApp itself does not pass on (polls, edits, view-once media, …).
pub fn unsupported(w: &Wording, kind: &str) -> String {
    let kind = kind.trim();
    if kind.is_empty() || kind == "unknown" {
        w.word(Text::UnsupportedUnknown, &[])
    } else {
        w.word(Text::Unsupported, &[("kind", Arg::from(kind.replace('_', " ")))])
    }
}

/// A WhatsApp system message (for example, the customer changed their number).
pub fn system(w: &Wording, body: Option<&str>) -> String {
    match body.map(str::trim).filter(|b| !b.is_empty()) {
        Some(body) => w.word(Text::WhatsappNotice, &[("body", Arg::from(body))]),
        None => w.word(Text::WhatsappNoticeEmpty, &[]),
    }
}

/// A catalog order sent from WhatsApp.
pub fn order(w: &Wording, text: Option<&str>, items: usize) -> String {
    let label = w.word(Text::Order, &[("items", Arg::from(items))]);
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => format!("{label}\n{text}"),
        None => label,
    }
}

/// WhatsApp's error code when more than 24 hours passed since the customer last wrote.
pub const REENGAGEMENT_ERROR: i64 = 131047;
/// WhatsApp's error code for a message that can never be delivered to this customer.
pub const UNDELIVERABLE_ERROR: i64 = 131026;

/// A note for the agent that a message did not reach the customer, naming the message when known.
pub fn delivery_failure(w: &Wording, errors: &[WhatsappError], quoted: Option<&str>) -> String {
    let what = match quoted.filter(|q| !q.trim().is_empty()) {
        Some(text) => w.word(Text::DeliveryFailed, &[("quote", Arg::from(quote(text)))]),
        None => w.word(Text::DeliveryFailedUnknown, &[]),
    };
    let why = match errors.first() {
        Some(e) if e.code == REENGAGEMENT_ERROR => w.word(Text::ReasonReengagement, &[]),
        Some(e) if e.code == UNDELIVERABLE_ERROR => w.word(Text::ReasonUndeliverable, &[]),
        Some(e) => {
            let detail = e
                .title
                .as_deref()
                .or(e.message.as_deref())
                .map(str::trim)
                .filter(|d| !d.is_empty());
            // As a string: a number would be formatted by the language (131 047).
            let code = Arg::from(e.code.to_string());
            match detail {
                Some(detail) => w.word(Text::ReasonError, &[("code", code), ("detail", Arg::from(detail))]),
                None => w.word(Text::ReasonErrorBare, &[("code", code)]),
            }
        }
        None => w.word(Text::ReasonNone, &[]),
    };
    format!("⚠️ {what} ({why}).")
}

/// The agent-facing text for content that is not plain text nor a tap on a menu, or `None` for those
/// (text goes as it is; taps go through [`crate::rich::menu::answer`]). `quoted` is the text of
/// the message a reaction points at, when the bridge knows it. Media get no size here: the bridge
/// knows it only after downloading, and then calls [`media`] itself.
pub fn describe(w: &Wording, content: &Content, quoted: Option<&str>) -> Option<String> {
    Some(match content {
        Content::Text { .. } | Content::Button { .. } => return None,
        Content::Interactive(InteractiveReply::Button { .. } | InteractiveReply::List { .. }) => return None,
        Content::Interactive(InteractiveReply::Flow { response_json, .. }) => match response_json.as_deref() {
            Some(json) if !json.trim().is_empty() => {
                format!(
                    "{}\n{}",
                    w.word(Text::FormSubmitted, &[]),
                    truncate(&one_line(json), 1000, Unit::Chars)
                )
            }
            _ => w.word(Text::FormSubmitted, &[]),
        },
        Content::Interactive(InteractiveReply::Other { kind }) => unsupported(w, kind),
        Content::Media(m) => media(w, m, None),
        Content::Location(l) => location(w, l),
        Content::Contacts(cards) => contacts(w, cards),
        Content::Reaction { emoji, .. } => reaction(w, emoji.as_deref(), quoted),
        Content::Order { text, items } => order(w, text.as_deref(), *items),
        Content::System { body } => system(w, body.as_deref()),
        Content::Unsupported { kind } | Content::Unknown { kind } => unsupported(w, kind),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wording::english as w;
    use serde_json::json;

    fn media_of(kind: MediaKind) -> Media {
        Media {
            kind,
            id: "m1".into(),
            mime_type: None,
            sha256: None,
            caption: None,
            filename: None,
            voice: false,
            animated: false,
        }
    }

    #[test]
    fn location_with_and_without_labels() {
        let mut l = Location {
            latitude: 37.44221496582,
            longitude: -122.16126251221,
            name: Some("Lucky Shrub".into()),
            address: Some("101 Forest Ave, Palo Alto, CA 94301".into()),
            url: None,
        };
        assert_eq!(
            location(w(), &l),
            "📍 Lucky Shrub, 101 Forest Ave, Palo Alto, CA 94301\nhttps://maps.google.com/?q=37.44221496582,-122.16126251221"
        );
        l.name = None;
        l.address = None;
        l.latitude = 1.5;
        l.longitude = -2.0;
        assert_eq!(
            location(w(), &l),
            "📍 Shared location\nhttps://maps.google.com/?q=1.5,-2"
        );
    }

    #[test]
    fn contact_cards() {
        let card = json!({"name": {"formatted_name": "Pablo Morales", "first_name": "Pablo"},
            "phones": [{"phone": "+1 (650) 555-4321", "wa_id": "16505554321", "type": "MOBILE"},
                       {"wa_id": "34600000000"}, {"type": "HOME"}],
            "emails": [{"email": "pablo@example.com", "type": "WORK"}],
            "org": {"company": "Lucky Shrub", "title": "Owner"},
            "addresses": [{"street": "1 Main St", "city": "Palo Alto", "type": "WORK"}],
            "urls": [{"url": "https://luckyshrub.com"}], "birthday": "1990-04-01"});
        assert_eq!(
            contacts(w(), &[card]),
            "👤 Pablo Morales\n🏢 Lucky Shrub, Owner\n📞 +1 (650) 555-4321 (mobile, on WhatsApp)\n\
             📞 +34600000000 (on WhatsApp)\n✉️ pablo@example.com\n🏠 1 Main St, Palo Alto\n\
             🔗 https://luckyshrub.com\n🎂 1990-04-01"
        );
        let sparse = [json!({"name": {"first_name": "Ana", "last_name": "Díaz"}}), json!({})];
        assert_eq!(contacts(w(), &sparse), "👤 Ana Díaz\n\n👤 Contact");
        assert_eq!(contacts(w(), &[]), "👤 [empty contact card]");
    }

    #[test]
    fn reactions() {
        assert_eq!(
            reaction(w(), Some("👍"), Some("See you\nat 5")),
            "reacted 👍 to: “See you at 5”"
        );
        assert_eq!(reaction(w(), Some("❤️"), None), "reacted ❤️ to a message");
        assert_eq!(
            reaction(w(), None, Some("Your order shipped")),
            "removed their reaction from: “Your order shipped”"
        );
        assert_eq!(reaction(w(), Some(""), None), "removed their reaction from a message");
        let long = "word ".repeat(40);
        let text = reaction(w(), Some("😂"), Some(&long));
        assert!(text.ends_with("…”"), "{text}");
        assert!(text.chars().count() < 100);
    }

    #[test]
    fn replies() {
        assert_eq!(
            with_reply("Yes, that one", Some("Do you want the blue one?")),
            "↪ “Do you want the blue one?”\nYes, that one"
        );
        assert_eq!(with_reply("Yes", None), "Yes");
        assert_eq!(reply_prefix(Some("  ")), "");
    }

    #[test]
    fn media_descriptions() {
        let mut doc = media_of(MediaKind::Document);
        doc.filename = Some("invoice.pdf".into());
        doc.mime_type = Some("application/pdf".into());
        doc.caption = Some("March".into());
        assert_eq!(
            media(w(), &doc, Some(1_258_291)),
            "[file: invoice.pdf, application/pdf, 1.2 MB]\nMarch"
        );
        let mut voice = media_of(MediaKind::Audio);
        voice.voice = true;
        voice.mime_type = Some("audio/ogg; codecs=opus".into());
        assert_eq!(
            media(w(), &voice, Some(20_000)),
            "[voice note: audio/ogg; codecs=opus, 20 KB]"
        );
        assert_eq!(media(w(), &media_of(MediaKind::Image), None), "[image]");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KB");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(10 * 1024 - 1), "10 KB");
        assert_eq!(human_size(12 * 1024), "12 KB");
        assert_eq!(human_size(3_565_158), "3.4 MB");
        assert_eq!(human_size(100 * 1024 * 1024 * 1024), "100 GB");
    }

    #[test]
    fn short_notes() {
        assert_eq!(
            unsupported(w(), "poll_creation"),
            "[The customer sent something WhatsApp does not pass on to businesses: poll creation]"
        );
        assert_eq!(
            system(w(), Some("User changed number")),
            "[WhatsApp notice: User changed number]"
        );
        assert_eq!(system(w(), None), "[WhatsApp notice]");
        assert_eq!(order(w(), None, 1), "[order: 1 item]");
        assert_eq!(order(w(), Some("Deliver fast"), 2), "[order: 2 items]\nDeliver fast");
    }

    #[test]
    fn delivery_failures() {
        let err = |code: i64, title: Option<&str>| WhatsappError {
            code,
            title: title.map(str::to_owned),
            message: None,
        };
        assert_eq!(
            delivery_failure(
                w(),
                &[err(131047, Some("Re-engagement message"))],
                Some("Are you there?")
            ),
            "⚠️ Your message “Are you there?” was not delivered (more than 24 hours since the customer last wrote; \
             only a template can reach them now)."
        );
        assert!(
            delivery_failure(w(), &[err(131026, None)], None)
                .starts_with("⚠️ A message was not delivered (undeliverable")
        );
        assert_eq!(
            delivery_failure(
                w(),
                &[err(131000, Some("Something went wrong"))],
                Some(&"x".repeat(200))
            ),
            format!(
                "⚠️ Your message “{}…” was not delivered (WhatsApp error 131000: Something went wrong).",
                "x".repeat(79)
            )
        );
        assert_eq!(
            delivery_failure(w(), &[], None),
            "⚠️ A message was not delivered (WhatsApp gave no reason)."
        );
    }

    #[test]
    fn describe_routes_each_kind() {
        assert_eq!(describe(w(), &Content::Text { body: "hi".into() }, None), None);
        assert_eq!(
            describe(
                w(),
                &Content::Reaction {
                    message_id: "wamid.X".into(),
                    emoji: Some("👍".into())
                },
                Some("ok")
            )
            .as_deref(),
            Some("reacted 👍 to: “ok”")
        );
        assert_eq!(
            describe(w(), &Content::Unsupported { kind: "unknown".into() }, None).as_deref(),
            Some("[The customer sent something WhatsApp does not pass on to businesses]")
        );
        assert_eq!(
            describe(
                w(),
                &Content::Interactive(InteractiveReply::Flow {
                    name: Some("flow".into()),
                    response_json: Some("{\"a\": 1}".into())
                }),
                None
            )
            .as_deref(),
            Some("[form submitted]\n{\"a\": 1}")
        );
        assert!(describe(w(), &Content::Contacts(vec![json!({})]), None).is_some());
    }
}
