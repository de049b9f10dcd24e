//! The wire format of Connect's interactive templates (ListPicker, Panel, QuickReply, TimePicker,
//! Carousel): the JSON a flow or Lex bot puts in an interactive item's `Content`, parsed into typed
//! values. Rendering them for WhatsApp is [`super::interactive`]'s work; this module only reads them.
//!
//! Connect's widget is lenient, so the parser is too: unknown templates parse as
//! [`Template::Unknown`], and options that cannot be read are left out rather than failing the whole.

use crate::error::{Rejection, describe_json_error};
use serde::Deserialize;
use serde_json::Value;

/// Offsets beyond these are not time zones: such a `timeZoneOffset` is ignored.
const MAX_ZONE_OFFSET_MINUTES: i64 = 18 * 60;

/// A Connect interactive template, as far as the bridge can show it.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    ListPicker(Picker),
    Panel(Picker),
    QuickReply(Picker),
    TimePicker(TimePicker),
    Carousel(Carousel),
    /// A template this bridge does not render (e.g. `ViewResource`), with its title if it has one.
    Unknown {
        template_type: String,
        title: Option<String>,
    },
}

/// The shared shape of ListPicker, Panel and QuickReply (and of a Carousel's panels).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Picker {
    /// As written in the template: echoed back in pagination responses.
    pub template_type: String,
    /// Set on a Carousel's panels: echoed back in the selection.
    pub template_identifier: Option<String>,
    pub title: String,
    pub subtitle: Option<String>,
    pub image: Option<Image>,
    pub elements: Vec<Element>,
    pub pagination: Pagination,
}

/// Lex-driven ListPicker pagination fields, echoed back verbatim when "Show more" is chosen.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pagination {
    pub list_id: Option<String>,
    pub reference_id: Option<String>,
    pub pre_index: Option<Value>,
    pub next_index: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Element {
    pub title: String,
    pub subtitle: Option<String>,
    pub image: Option<Image>,
    /// A `type: "hyperlink"` element: a link to show, not an option to choose.
    pub link: Option<String>,
    /// `SHOW_MORE` / `PREVIOUS_OPTIONS` on ListPicker pagination elements.
    pub action_detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub url: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimePicker {
    pub title: String,
    pub subtitle: Option<String>,
    /// Minutes east of UTC in which to show the slots; `None` shows each slot in its own offset.
    pub time_zone_offset: Option<i64>,
    pub location: Option<Place>,
    pub slots: Vec<TimeSlot>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub title: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSlot {
    /// ISO 8601 as the template wrote it (`2025-11-12T17:00+00:00`): what the widget sends back.
    pub date: String,
    pub duration_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Carousel {
    pub title: String,
    pub panels: Vec<Picker>,
}

// ---- parsing -----------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTemplate {
    #[serde(default)]
    template_type: String,
    #[serde(default)]
    template_identifier: Option<String>,
    #[serde(default)]
    data: Option<WireData>,
}

#[derive(Deserialize)]
struct WireData {
    #[serde(default)]
    content: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WirePicker {
    title: Option<String>,
    subtitle: Option<String>,
    image_type: Option<String>,
    image_data: Option<String>,
    image_description: Option<String>,
    elements: Vec<Value>,
    list_id: Option<String>,
    reference_id: Option<String>,
    pre_index: Option<Value>,
    next_index: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireElement {
    title: Option<String>,
    subtitle: Option<String>,
    image_type: Option<String>,
    image_data: Option<String>,
    image_description: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
    action_detail: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireTimePicker {
    title: Option<String>,
    subtitle: Option<String>,
    time_zone_offset: Option<Value>,
    // Connect's widget reads this spelling too.
    timezone_offset: Option<Value>,
    location: Option<WirePlace>,
    timeslots: Vec<Value>,
}

#[derive(Deserialize)]
struct WirePlace {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct WireSlot {
    date: String,
    #[serde(default)]
    duration: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireCarousel {
    title: Option<String>,
    elements: Vec<Value>,
}

fn malformed(detail: impl Into<String>) -> Rejection {
    Rejection::new("malformed_interactive", detail)
}

/// Parses the `Content` of an interactive item. Unknown templates parse as [`Template::Unknown`];
/// options that cannot be read (no title, not an object) are left out rather than failing the whole.
pub fn parse(content: &str) -> Result<Template, Rejection> {
    let wire: WireTemplate = serde_json::from_str(content).map_err(|e| {
        malformed(format!(
            "interactive content does not parse: {}",
            describe_json_error(&e)
        ))
    })?;
    let content = wire.data.and_then(|d| d.content);
    let known = matches!(
        wire.template_type.as_str(),
        "ListPicker" | "Panel" | "QuickReply" | "TimePicker" | "Carousel"
    );
    if !known {
        let title = content
            .as_ref()
            .and_then(|c| c.get("title"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        return Ok(Template::Unknown {
            template_type: wire.template_type,
            title: non_blank(title),
        });
    }
    let content = content.ok_or_else(|| malformed(format!("{} template has no data.content", wire.template_type)))?;
    Ok(match wire.template_type.as_str() {
        "TimePicker" => Template::TimePicker(time_picker(&content)?),
        "Carousel" => Template::Carousel(carousel(&content)?),
        other => {
            let picker = picker(other, wire.template_identifier, &content)?;
            match other {
                "ListPicker" => Template::ListPicker(picker),
                "Panel" => Template::Panel(picker),
                _ => Template::QuickReply(picker),
            }
        }
    })
}

fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

fn image(kind: Option<String>, data: Option<String>, description: Option<String>) -> Option<Image> {
    let is_url = kind.as_deref().is_none_or(|k| k.eq_ignore_ascii_case("URL"));
    let url = non_blank(data).filter(|u| is_url && (u.starts_with("https://") || u.starts_with("http://")))?;
    Some(Image {
        url,
        description: non_blank(description),
    })
}

fn picker(template_type: &str, template_identifier: Option<String>, content: &Value) -> Result<Picker, Rejection> {
    let wire = WirePicker::deserialize(content).map_err(|e| {
        malformed(format!(
            "{template_type} content does not parse: {}",
            describe_json_error(&e)
        ))
    })?;
    let elements = wire
        .elements
        .iter()
        .filter_map(|raw| WireElement::deserialize(raw).ok())
        .filter_map(|e| {
            let title = e.title.filter(|t| !t.trim().is_empty())?;
            let link =
                non_blank(e.url).filter(|_| e.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("hyperlink")));
            Some(Element {
                title,
                subtitle: non_blank(e.subtitle),
                image: image(e.image_type, e.image_data, e.image_description),
                link,
                action_detail: non_blank(e.action_detail),
            })
        })
        .collect();
    Ok(Picker {
        template_type: template_type.to_owned(),
        template_identifier,
        title: wire.title.unwrap_or_default(),
        subtitle: non_blank(wire.subtitle),
        image: image(wire.image_type, wire.image_data, wire.image_description),
        elements,
        pagination: Pagination {
            list_id: wire.list_id,
            reference_id: wire.reference_id,
            pre_index: wire.pre_index,
            next_index: wire.next_index,
        },
    })
}

fn minutes(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.round() as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn time_picker(content: &Value) -> Result<TimePicker, Rejection> {
    let wire = WireTimePicker::deserialize(content).map_err(|e| {
        malformed(format!(
            "TimePicker content does not parse: {}",
            describe_json_error(&e)
        ))
    })?;
    let offset = wire
        .time_zone_offset
        .or(wire.timezone_offset)
        .as_ref()
        .and_then(minutes)
        .filter(|m| m.unsigned_abs() <= MAX_ZONE_OFFSET_MINUTES.unsigned_abs());
    Ok(TimePicker {
        title: wire.title.unwrap_or_default(),
        subtitle: non_blank(wire.subtitle),
        time_zone_offset: offset,
        location: wire.location.map(|l| Place {
            title: non_blank(l.title),
            latitude: l.latitude,
            longitude: l.longitude,
        }),
        slots: wire
            .timeslots
            .iter()
            .filter_map(|raw| WireSlot::deserialize(raw).ok())
            .filter(|s| !s.date.trim().is_empty())
            .map(|s| TimeSlot {
                date: s.date,
                duration_minutes: s.duration.as_ref().and_then(minutes).filter(|d| *d > 0),
            })
            .collect(),
    })
}

fn carousel(content: &Value) -> Result<Carousel, Rejection> {
    let wire = WireCarousel::deserialize(content)
        .map_err(|e| malformed(format!("Carousel content does not parse: {}", describe_json_error(&e))))?;
    let panels = wire
        .elements
        .iter()
        .filter_map(|raw| WireTemplate::deserialize(raw).ok())
        .filter(|t| matches!(t.template_type.as_str(), "ListPicker" | "Panel" | "QuickReply"))
        .filter_map(|t| {
            let content = t.data.and_then(|d| d.content)?;
            picker(&t.template_type, t.template_identifier, &content).ok()
        })
        .collect();
    Ok(Carousel {
        title: wire.title.unwrap_or_default(),
        panels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_content_is_rejected() {
        assert_eq!(parse("not json").unwrap_err().code, "malformed_interactive");
        assert_eq!(
            parse(r#"{"templateType":"ListPicker","version":"1.0"}"#)
                .unwrap_err()
                .code,
            "malformed_interactive"
        );
        assert_eq!(
            parse(r#"{"templateType":"Panel","data":{"content":{"elements":"nope"}}}"#)
                .unwrap_err()
                .code,
            "malformed_interactive"
        );
        // Unreadable options are dropped, not fatal.
        match parse(r#"{"templateType":"Panel","data":{"content":{"title":"T","elements":[{"title":"A"},{},3]}}}"#)
            .unwrap()
        {
            Template::Panel(p) => assert_eq!(p.elements.len(), 1),
            other => panic!("{other:?}"),
        }
    }
}
