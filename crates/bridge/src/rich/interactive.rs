//! Connect interactive messages (ListPicker, Panel, QuickReply, TimePicker, Carousel) as native WhatsApp
//! messages, and the customer's taps back as exactly what Connect's own chat widget would have sent.
//!
//! Flows and Lex bots ask questions with interactive templates; a WhatsApp customer shown their JSON
//! could not answer. Each template becomes the best WhatsApp shape within WhatsApp's limits: reply
//! buttons for up to three short options, a list for up to ten, and beyond that a list paged with a
//! "More options" row or a numbered text. WhatsApp titles are short (20–24 characters) while Lex
//! matches the *full* option title, so every rendering comes with a [`Menu`]: the record, kept by the
//! bridge between the two messages, of what each button, row or number stands for. [`answer`] turns a
//! tap (or a typed number) plus that record into the Connect message — or, for our own paging, into
//! the next page for the customer.
//!
//! Everything is pure; the bridge stores the menu (it is serde) and sends what comes out.

use super::text::{Unit, fit, one_line, truncate};
use crate::error::{Rejection, describe_json_error};
use crate::whatsapp::{Content, InteractiveReply};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Content type of an interactive item Connect streams.
pub const INTERACTIVE: &str = crate::connect_stream::INTERACTIVE;
/// Content type of the reply Connect's widget sends for ListPicker pagination.
pub const INTERACTIVE_RESPONSE: &str = "application/vnd.amazonaws.connect.message.interactive.response";
pub const TEXT_PLAIN: &str = crate::translate::TEXT_PLAIN;

/// WhatsApp's limits for interactive messages (Meta Cloud API reference), applied in UTF-16 units
/// (see [`Unit::Utf16`]) because Meta does not say how it counts.
pub mod limits {
    pub const BUTTONS: usize = 3;
    pub const BUTTON_TITLE: usize = 20;
    pub const BUTTON_ID: usize = 256;
    pub const BUTTON_BODY: usize = 1024;
    pub const LIST_ROWS: usize = 10;
    pub const LIST_SECTIONS: usize = 10;
    pub const LIST_BODY: usize = 4096;
    pub const LIST_BUTTON: usize = 20;
    pub const SECTION_TITLE: usize = 24;
    pub const ROW_TITLE: usize = 24;
    pub const ROW_DESCRIPTION: usize = 72;
    pub const ROW_ID: usize = 200;
    pub const HEADER_TEXT: usize = 60;
    pub const TEXT_BODY: usize = 4096;
}

/// Connect's widget shows titles cut to this many characters followed by `...`, and sends that cut
/// title as a Carousel selection's `listTitle`.
const WIDGET_TITLE_MAX_CHARS: usize = 400;
/// The `actionDetail` values of ListPicker pagination elements the widget answers specially.
const PAGINATION_ACTIONS: [&str; 2] = ["SHOW_MORE", "PREVIOUS_OPTIONS"];
/// Pages of our own paging hold this many options, plus the "More options" row.
const PAGE_OPTIONS: usize = limits::LIST_ROWS - 1;
/// Offsets beyond these are not time zones: such a `timeZoneOffset` is ignored.
const MAX_ZONE_OFFSET_MINUTES: i64 = 18 * 60;

// ---- parsed templates --------------------------------------------------------------------------------

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

// ---- WhatsApp message bodies -------------------------------------------------------------------------

/// A Meta Cloud API message body without `to` and `messaging_product`, which the sender adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum WhatsappMessage {
    Text { text: MessageText },
    Interactive { interactive: InteractiveBody },
}

impl WhatsappMessage {
    pub fn text(body: impl Into<String>) -> Self {
        let body = body.into();
        WhatsappMessage::Text {
            text: MessageText {
                preview_url: body.contains("https://") || body.contains("http://"),
                body,
            },
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageText {
    pub body: String,
    #[serde(default)]
    pub preview_url: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum InteractiveBody {
    Button {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<Header>,
        body: BodyText,
        action: ButtonAction,
    },
    List {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<Header>,
        body: BodyText,
        action: ListAction,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Header {
    Text { text: String },
    Image { image: MediaLink },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaLink {
    pub link: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyText {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonAction {
    pub buttons: Vec<ReplyButton>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyButton {
    /// Always `reply`.
    #[serde(rename = "type")]
    pub kind: String,
    pub reply: ButtonReply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonReply {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAction {
    pub button: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ---- menus and answers -------------------------------------------------------------------------------

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
    pub pages: Vec<WhatsappMessage>,
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
    fn page_id(&self, page: usize) -> String {
        format!("{}.more{page}", self.key)
    }

    /// The page a "More options" row with this id opens.
    pub fn page_for(&self, id: &str) -> Option<&WhatsappMessage> {
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

/// A rendered template: the message for the customer and, when it offers options, its menu.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub message: WhatsappMessage,
    pub menu: Option<Menu>,
}

/// What a customer's answer to a menu means.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Send this to Connect as the customer's message.
    Connect(ConnectMessage),
    /// The customer asked for the next page of options: send it to them; Connect hears nothing.
    Page(WhatsappMessage),
}

/// How a template with more options than a WhatsApp list holds is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Lists of nine options and a "More options" row that opens the next page.
    Paged,
    /// One text listing every option by number.
    Numbered,
}

/// The wording and choices a deployment may change; the defaults are English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// For ListPicker, Panel, QuickReply and Carousel.
    pub overflow: Overflow,
    /// For TimePicker: a long run of times reads better as one numbered text.
    pub time_overflow: Overflow,
    /// The label of the button that opens a list (≤20 characters).
    pub list_button: String,
    pub time_button: String,
    pub more_options: String,
    pub numbered_prompt: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            overflow: Overflow::Paged,
            time_overflow: Overflow::Numbered,
            list_button: "Choose an option".to_owned(),
            time_button: "Choose a time".to_owned(),
            more_options: "More options".to_owned(),
            numbered_prompt: "Reply with a number:".to_owned(),
        }
    }
}

// ---- rendering ---------------------------------------------------------------------------------------

/// One option, whatever the template it came from.
#[derive(Debug, Clone)]
struct Choice {
    title: String,
    description: Option<String>,
    section: Option<String>,
    reply: ConnectMessage,
}

/// Everything about the message except its options.
struct Prompt {
    body: String,
    image: Option<String>,
    button: String,
    buttons_allowed: bool,
    overflow: Overflow,
}

/// Parses and renders the `Content` of an interactive item; `Ok(None)` when there is nothing to show.
pub fn render_content(content: &str, options: &RenderOptions) -> Result<Option<Rendered>, Rejection> {
    Ok(render(&parse(content)?, options))
}

/// The WhatsApp message for a template and the menu to keep for its answer; `None` when the template
/// has nothing to show (an unknown template without a title).
pub fn render(template: &Template, options: &RenderOptions) -> Option<Rendered> {
    match template {
        Template::ListPicker(p) | Template::Panel(p) | Template::QuickReply(p) => Some(render_picker(p, options)),
        Template::TimePicker(t) => Some(render_time_picker(t, options)),
        Template::Carousel(c) => Some(render_carousel(c, options)),
        Template::Unknown { title, .. } => title.as_ref().map(|title| Rendered {
            message: WhatsappMessage::text(fit(title, limits::TEXT_BODY)),
            menu: None,
        }),
    }
}

fn paragraphs(parts: impl IntoIterator<Item = Option<String>>) -> String {
    parts
        .into_iter()
        .flatten()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn link_lines<'a>(links: impl IntoIterator<Item = (Option<&'a str>, &'a Element)>) -> Option<String> {
    let lines: Vec<String> = links
        .into_iter()
        .filter_map(|(context, e)| {
            let url = e.link.as_deref()?;
            Some(match context.filter(|c| !c.trim().is_empty()) {
                Some(context) => format!("🔗 {} · {}: {url}", context.trim(), e.title.trim()),
                None => format!("🔗 {}: {url}", e.title.trim()),
            })
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn heading(title: &str, subtitle: Option<&str>) -> Option<String> {
    let lines: Vec<&str> = [Some(title), subtitle]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The reply Connect's widget sends for a picker element.
fn picker_reply(picker: &Picker, element: &Element) -> ConnectMessage {
    let Some(action) = element
        .action_detail
        .as_deref()
        .filter(|a| PAGINATION_ACTIONS.contains(a))
    else {
        return ConnectMessage::text(&element.title);
    };
    // Field order and omissions follow the widget's JSON.stringify, in case anything compares strings.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Data<'a> {
        action_name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pre_index: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_index: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        list_id: Option<&'a str>,
        template_type: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reference_id: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Response<'a> {
        version: &'a str,
        data: Data<'a>,
        action: &'a str,
    }
    let response = Response {
        version: "1.0",
        data: Data {
            action_name: action,
            pre_index: picker.pagination.pre_index.as_ref(),
            next_index: picker.pagination.next_index.as_ref(),
            list_id: picker.pagination.list_id.as_deref(),
            template_type: &picker.template_type,
            reference_id: picker.pagination.reference_id.as_deref(),
        },
        action,
    };
    ConnectMessage::interactive_response(serde_json::to_string(&response).unwrap_or_default())
}

fn render_picker(picker: &Picker, options: &RenderOptions) -> Rendered {
    let choices = picker
        .elements
        .iter()
        .filter(|e| e.link.is_none())
        .map(|e| Choice {
            title: e.title.clone(),
            description: e.subtitle.clone(),
            section: None,
            reply: picker_reply(picker, e),
        })
        .collect();
    let body = paragraphs([
        heading(&picker.title, picker.subtitle.as_deref()),
        link_lines(picker.elements.iter().map(|e| (None, e))),
    ]);
    let prompt = Prompt {
        body,
        image: picker.image.as_ref().map(|i| i.url.clone()),
        button: options.list_button.clone(),
        buttons_allowed: true,
        overflow: options.overflow,
    };
    present(prompt, choices, options)
}

/// The title Connect's widget shows, and sends as a Carousel selection's `listTitle`.
fn widget_title(title: &str) -> String {
    if title.chars().count() <= WIDGET_TITLE_MAX_CHARS {
        title.to_owned()
    } else {
        let mut cut: String = title.chars().take(WIDGET_TITLE_MAX_CHARS).collect();
        cut.push_str("...");
        cut
    }
}

fn render_carousel(carousel: &Carousel, options: &RenderOptions) -> Rendered {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Selection<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        template_identifier: Option<&'a str>,
        list_title: String,
        selection_text: &'a str,
    }
    let mut choices = Vec::new();
    for panel in &carousel.panels {
        let section = Some(panel.title.trim().to_owned()).filter(|t| !t.is_empty());
        for element in panel.elements.iter().filter(|e| e.link.is_none()) {
            let selection = Selection {
                template_identifier: panel.template_identifier.as_deref(),
                list_title: widget_title(&panel.title),
                selection_text: &element.title,
            };
            choices.push(Choice {
                title: element.title.clone(),
                description: element.subtitle.clone(),
                section: section.clone(),
                reply: ConnectMessage::text(serde_json::to_string(&selection).unwrap_or_default()),
            });
        }
    }
    let links = carousel
        .panels
        .iter()
        .flat_map(|p| p.elements.iter().map(move |e| (Some(p.title.as_str()), e)));
    let prompt = Prompt {
        body: paragraphs([heading(&carousel.title, None), link_lines(links)]),
        image: None,
        button: options.list_button.clone(),
        buttons_allowed: false,
        overflow: options.overflow,
    };
    present(prompt, choices, options)
}

fn render_time_picker(picker: &TimePicker, options: &RenderOptions) -> Rendered {
    let mut slots: Vec<(Option<SlotTime>, &TimeSlot)> = picker
        .slots
        .iter()
        .map(|slot| (SlotTime::parse(&slot.date, picker.time_zone_offset), slot))
        .collect();
    // The widget sorts slots by date; unreadable dates go last, in their original order.
    slots.sort_by_key(|(time, _)| time.as_ref().map_or(i64::MAX, |t| t.utc_minutes));
    let choices = slots
        .into_iter()
        .map(|(time, slot)| {
            let (section, title) = match time {
                Some(time) => (Some(time.day_label()), time.range_label(slot.duration_minutes)),
                None => (None, slot.date.clone()),
            };
            Choice {
                title,
                description: None,
                section,
                reply: ConnectMessage::text(&slot.date),
            }
        })
        .collect();
    let place = picker.location.as_ref().map(|place| {
        let map = format!("https://maps.google.com/?q={},{}", place.latitude, place.longitude);
        match place.title.as_deref() {
            Some(title) => format!("📍 {title}\n{map}"),
            None => format!("📍 {map}"),
        }
    });
    let prompt = Prompt {
        body: paragraphs([heading(&picker.title, picker.subtitle.as_deref()), place]),
        image: None,
        button: options.time_button.clone(),
        buttons_allowed: false,
        overflow: options.time_overflow,
    };
    present(prompt, choices, options)
}

/// Chooses the WhatsApp shape for the options and builds the message and its menu.
fn present(prompt: Prompt, choices: Vec<Choice>, options: &RenderOptions) -> Rendered {
    if choices.is_empty() {
        let body = if prompt.body.is_empty() {
            prompt.button.clone()
        } else {
            prompt.body
        };
        return Rendered {
            message: WhatsappMessage::text(fit(&body, limits::TEXT_BODY)),
            menu: None,
        };
    }
    let key = menu_key(&prompt.body, &choices);
    let menu_options: Vec<MenuOption> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| MenuOption {
            id: format!("{key}.{}", i + 1),
            number: i + 1,
            title: c.title.clone(),
            reply: c.reply.clone(),
        })
        .collect();
    let body = if prompt.body.trim().is_empty() {
        prompt.button.clone()
    } else {
        prompt.body.clone()
    };

    let fits_buttons = prompt.buttons_allowed
        && choices.len() <= limits::BUTTONS
        && choices.iter().all(|c| {
            c.description.is_none() && c.section.is_none() && Unit::Utf16.measure(&c.title) <= limits::BUTTON_TITLE
        })
        && all_unique(choices.iter().map(|c| c.title.as_str()));
    let mut menu = Menu {
        key,
        style: MenuStyle::List,
        options: menu_options,
        pages: Vec::new(),
    };
    let message = if fits_buttons {
        menu.style = MenuStyle::Buttons;
        let buttons = menu
            .options
            .iter()
            .map(|o| ReplyButton {
                kind: "reply".to_owned(),
                reply: ButtonReply {
                    id: o.id.clone(),
                    title: o.title.clone(),
                },
            })
            .collect();
        WhatsappMessage::Interactive {
            interactive: InteractiveBody::Button {
                header: prompt.image.map(|link| Header::Image {
                    image: MediaLink { link },
                }),
                body: BodyText {
                    text: fit(&body, limits::BUTTON_BODY),
                },
                action: ButtonAction { buttons },
            },
        }
    } else if choices.len() <= limits::LIST_ROWS {
        list_page(&body, &prompt.button, &choices, &menu.options, None)
    } else if prompt.overflow == Overflow::Numbered {
        menu.style = MenuStyle::Numbered;
        WhatsappMessage::text(numbered_text(&body, &choices, options))
    } else {
        menu.pages = pages(&body, &prompt.button, &choices, &menu, options);
        menu.pages[0].clone()
    };
    Rendered {
        message,
        menu: Some(menu),
    }
}

fn all_unique<'a>(items: impl Iterator<Item = &'a str>) -> bool {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().all(|i| seen.insert(i.to_lowercase()))
}

fn menu_key(body: &str, choices: &[Choice]) -> String {
    let mut hash = Sha256::new();
    hash.update(body.as_bytes());
    for c in choices {
        hash.update([0]);
        hash.update(c.reply.content.as_bytes());
    }
    hash.finalize().iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// A "More options" row: where it leads and what it says about the options there.
struct MoreRow {
    id: String,
    title: String,
    description: String,
}

fn row(choice: &Choice, option: &MenuOption) -> Row {
    let title = fit(&choice.title, limits::ROW_TITLE);
    // A cut title would leave the customer guessing: the description then carries it whole.
    let description = if title != choice.title {
        let full = match choice.description.as_deref() {
            Some(d) => format!("{} · {d}", choice.title),
            None => choice.title.clone(),
        };
        Some(fit(&one_line(&full), limits::ROW_DESCRIPTION))
    } else {
        choice
            .description
            .as_deref()
            .map(|d| fit(&one_line(d), limits::ROW_DESCRIPTION))
    };
    Row {
        id: option.id.clone(),
        title,
        description,
    }
}

/// One list message: consecutive options of a section are grouped under its title.
fn list_page(
    body: &str,
    button: &str,
    choices: &[Choice],
    options: &[MenuOption],
    more: Option<MoreRow>,
) -> WhatsappMessage {
    let mut sections: Vec<(Option<String>, Vec<Row>)> = Vec::new();
    for (choice, option) in choices.iter().zip(options) {
        match sections.last_mut() {
            Some((label, rows)) if *label == choice.section => rows.push(row(choice, option)),
            _ => sections.push((choice.section.clone(), vec![row(choice, option)])),
        }
    }
    if let Some(more) = more {
        let more_row = Row {
            id: more.id,
            title: fit(&more.title, limits::ROW_TITLE),
            description: Some(fit(&more.description, limits::ROW_DESCRIPTION)),
        };
        match sections.last_mut() {
            Some((_, rows)) => rows.push(more_row),
            None => sections.push((None, vec![more_row])),
        }
    }
    // WhatsApp wants every section titled once there are several.
    let titled = sections.len() > 1 || sections.iter().any(|(label, _)| label.is_some());
    let sections = sections
        .into_iter()
        .map(|(label, rows)| Section {
            title: titled.then(|| fit(label.as_deref().unwrap_or(button), limits::SECTION_TITLE)),
            rows,
        })
        .collect();
    WhatsappMessage::Interactive {
        interactive: InteractiveBody::List {
            header: None,
            body: BodyText {
                text: fit(body, limits::LIST_BODY),
            },
            action: ListAction {
                button: fit(button, limits::LIST_BUTTON),
                sections,
            },
        },
    }
}

/// Lists of nine options and a "More options" row each, the last holding up to ten.
fn pages(body: &str, button: &str, choices: &[Choice], menu: &Menu, options: &RenderOptions) -> Vec<WhatsappMessage> {
    let mut bounds = Vec::new();
    let mut start = 0;
    while choices.len() - start > limits::LIST_ROWS {
        bounds.push(start..start + PAGE_OPTIONS);
        start += PAGE_OPTIONS;
    }
    bounds.push(start..choices.len());
    let total = bounds.len();
    bounds
        .iter()
        .enumerate()
        .map(|(page, range)| {
            let more = bounds.get(page + 1).map(|next| MoreRow {
                id: menu.page_id(page + 1),
                title: options.more_options.clone(),
                description: format!("{}–{} / {}", next.start + 1, next.end, choices.len()),
            });
            let page_body = format!("{body}\n\n({}/{total})", page + 1);
            list_page(
                &page_body,
                button,
                &choices[range.clone()],
                &menu.options[range.clone()],
                more,
            )
        })
        .collect()
}

/// Option titles in a numbered text are shortened step by step until the whole text fits.
const NUMBERED_TITLE_CAPS: [usize; 6] = [usize::MAX, 200, 100, 60, 40, limits::ROW_TITLE];

fn numbered_text(body: &str, choices: &[Choice], options: &RenderOptions) -> String {
    let compose = |cap: usize, body: &str| {
        let mut out = format!("{}\n\n{}", body.trim(), options.numbered_prompt);
        let mut section: Option<&str> = None;
        for (i, choice) in choices.iter().enumerate() {
            if choice.section.is_some() && choice.section.as_deref() != section {
                section = choice.section.as_deref();
                out.push_str(&format!("\n*{}*", section.unwrap_or_default()));
            }
            let line = match &choice.description {
                Some(d) => format!("{} — {}", choice.title, d),
                None => choice.title.clone(),
            };
            out.push_str(&format!(
                "\n{}. {}",
                i + 1,
                truncate(&one_line(&line), cap, Unit::Chars)
            ));
        }
        out
    };
    for cap in NUMBERED_TITLE_CAPS {
        let text = compose(cap, body);
        if Unit::Utf16.measure(&text) <= limits::TEXT_BODY {
            return text;
        }
    }
    // Hundreds of options: keep as many whole lines as fit; the numbers beyond still answer.
    fit(
        &compose(limits::ROW_TITLE, &fit(body, limits::BUTTON_BODY)),
        limits::TEXT_BODY,
    )
}

// ---- times -------------------------------------------------------------------------------------------

/// A slot's start, in the offset it is to be shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SlotTime {
    utc_minutes: i64,
    offset_minutes: i64,
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl SlotTime {
    /// Reads `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM|±HHMM|±HH]`; without an offset the time is UTC.
    fn parse(date: &str, show_in_offset: Option<i64>) -> Option<SlotTime> {
        let date = date.trim();
        let (day, rest) = date.split_once(['T', 't', ' '])?;
        let mut ymd = day.splitn(3, '-');
        let year: i64 = ymd.next()?.parse().ok()?;
        let month: i64 = ymd.next()?.parse().ok()?;
        let mday: i64 = ymd.next()?.parse().ok()?;
        if !(1..=12).contains(&month) || !(1..=31).contains(&mday) {
            return None;
        }
        let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (clock, zone) = rest.split_at(zone_at);
        let mut hm = clock.split(':');
        let hour: i64 = hm.next()?.parse().ok()?;
        let minute: i64 = hm.next()?.parse().ok()?;
        if let Some(seconds) = hm.next() {
            seconds.parse::<f64>().ok()?;
        }
        if hour > 23 || minute > 59 {
            return None;
        }
        let written_offset = parse_offset(zone)?;
        let local = days_from_civil(year, month, mday) * 1440 + hour * 60 + minute;
        Some(SlotTime {
            utc_minutes: local - written_offset,
            offset_minutes: show_in_offset.unwrap_or(written_offset),
        })
    }

    fn local_minutes(self) -> i64 {
        self.utc_minutes.saturating_add(self.offset_minutes)
    }

    /// `Wed, Nov 12 (UTC-5)`: the section title under which a day's times are listed.
    fn day_label(self) -> String {
        let days = self.local_minutes().div_euclid(1440);
        let (_, month, mday) = civil_from_days(days);
        let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
        format!(
            "{weekday}, {} {mday} ({})",
            MONTHS[(month - 1) as usize],
            zone_label(self.offset_minutes)
        )
    }

    /// `12:00 PM – 1:00 PM`, or only the start when the slot has no duration.
    fn range_label(self, duration: Option<i64>) -> String {
        let start = clock_label(self.local_minutes());
        match duration {
            // Durations come from the flow's JSON unchecked; only the time of day matters here.
            Some(d) => format!("{start} – {}", clock_label(self.local_minutes().saturating_add(d))),
            None => start,
        }
    }
}

fn parse_offset(zone: &str) -> Option<i64> {
    if zone.is_empty() || zone.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, digits) = match zone.split_at(1) {
        ("+", d) => (1, d),
        ("-", d) => (-1, d),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (digits[..2].parse::<i64>().ok()?, digits[2..].parse::<i64>().ok()?),
        _ => return None,
    };
    Some(sign * (hours * 60 + minutes))
}

fn zone_label(offset: i64) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let (hours, minutes) = (offset.abs() / 60, offset.abs() % 60);
    match (offset, minutes) {
        (0, _) => "UTC".to_owned(),
        (_, 0) => format!("UTC{sign}{hours}"),
        _ => format!("UTC{sign}{hours}:{minutes:02}"),
    }
}

fn clock_label(local_minutes: i64) -> String {
    let minute_of_day = local_minutes.rem_euclid(1440);
    let (hour, minute) = (minute_of_day / 60, minute_of_day % 60);
    let half = if hour < 12 { "AM" } else { "PM" };
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    format!("{hour12}:{minute:02} {half}")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---- answers -----------------------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rich::text::ELLIPSIS;
    use serde_json::json;
    use unicode_segmentation::UnicodeSegmentation;

    fn fixture(name: &str) -> String {
        let raw = match name {
            "listpicker" => include_str!("../../../../tests/fixtures/connect-stream-interactive-listpicker.json"),
            "panel" => include_str!("../../../../tests/fixtures/connect-stream-interactive-panel.json"),
            "quickreply" => include_str!("../../../../tests/fixtures/connect-stream-interactive-quickreply.json"),
            "timepicker" => include_str!("../../../../tests/fixtures/connect-stream-interactive-timepicker.json"),
            "carousel" => include_str!("../../../../tests/fixtures/connect-stream-interactive-carousel.json"),
            other => panic!("no fixture {other}"),
        };
        let outer: Value = serde_json::from_str(raw).unwrap();
        let message: Value = serde_json::from_str(outer["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        assert_eq!(message["ContentType"], INTERACTIVE);
        message["Content"].as_str().unwrap().to_owned()
    }

    fn rendered(content: &str) -> Rendered {
        render_content(content, &RenderOptions::default()).unwrap().unwrap()
    }

    /// Every WhatsApp limit a message must respect for Meta to accept it.
    fn assert_valid(message: &WhatsappMessage) {
        let len = |s: &str| Unit::Utf16.measure(s);
        match message {
            WhatsappMessage::Text { text } => {
                assert!(!text.body.trim().is_empty());
                assert!(len(&text.body) <= limits::TEXT_BODY);
            }
            WhatsappMessage::Interactive {
                interactive: InteractiveBody::Button { header, body, action },
            } => {
                assert!(!body.text.trim().is_empty() && len(&body.text) <= limits::BUTTON_BODY);
                assert!((1..=limits::BUTTONS).contains(&action.buttons.len()));
                assert!(all_unique(action.buttons.iter().map(|b| b.reply.title.as_str())));
                for b in &action.buttons {
                    assert_eq!(b.kind, "reply");
                    assert!(!b.reply.title.trim().is_empty() && len(&b.reply.title) <= limits::BUTTON_TITLE);
                    assert!(len(&b.reply.id) <= limits::BUTTON_ID);
                }
                if let Some(Header::Text { text }) = header {
                    assert!(len(text) <= limits::HEADER_TEXT);
                }
            }
            WhatsappMessage::Interactive {
                interactive: InteractiveBody::List { header, body, action },
            } => {
                assert!(
                    !matches!(header, Some(Header::Image { .. })),
                    "lists take no image header"
                );
                assert!(!body.text.trim().is_empty() && len(&body.text) <= limits::LIST_BODY);
                assert!(!action.button.trim().is_empty() && len(&action.button) <= limits::LIST_BUTTON);
                assert!((1..=limits::LIST_SECTIONS).contains(&action.sections.len()));
                let rows: Vec<&Row> = action.sections.iter().flat_map(|s| &s.rows).collect();
                assert!((1..=limits::LIST_ROWS).contains(&rows.len()));
                assert!(all_unique(rows.iter().map(|r| r.id.as_str())));
                for section in &action.sections {
                    assert!(!section.rows.is_empty());
                    if action.sections.len() > 1 {
                        assert!(section.title.is_some(), "several sections must all be titled");
                    }
                    if let Some(title) = &section.title {
                        assert!(!title.trim().is_empty() && len(title) <= limits::SECTION_TITLE);
                    }
                }
                for row in rows {
                    assert!(len(&row.id) <= limits::ROW_ID);
                    assert!(!row.title.trim().is_empty() && len(&row.title) <= limits::ROW_TITLE);
                    if let Some(d) = &row.description {
                        assert!(len(d) <= limits::ROW_DESCRIPTION);
                    }
                }
            }
        }
    }

    fn list_rows(message: &WhatsappMessage) -> Vec<Row> {
        match message {
            WhatsappMessage::Interactive {
                interactive: InteractiveBody::List { action, .. },
            } => action.sections.iter().flat_map(|s| s.rows.clone()).collect(),
            other => panic!("not a list: {other:?}"),
        }
    }

    fn list_sections(message: &WhatsappMessage) -> Vec<(Option<String>, Vec<String>)> {
        match message {
            WhatsappMessage::Interactive {
                interactive: InteractiveBody::List { action, .. },
            } => action
                .sections
                .iter()
                .map(|s| (s.title.clone(), s.rows.iter().map(|r| r.title.clone()).collect()))
                .collect(),
            other => panic!("not a list: {other:?}"),
        }
    }

    fn body_of(message: &WhatsappMessage) -> &str {
        match message {
            WhatsappMessage::Text { text } => &text.body,
            WhatsappMessage::Interactive {
                interactive: InteractiveBody::Button { body, .. } | InteractiveBody::List { body, .. },
            } => &body.text,
        }
    }

    fn button_tap(id: &str, title: &str) -> Content {
        Content::Interactive(InteractiveReply::Button {
            id: id.into(),
            title: title.into(),
        })
    }

    fn list_tap(id: &str, title: &str) -> Content {
        Content::Interactive(InteractiveReply::List {
            id: id.into(),
            title: title.into(),
            description: None,
        })
    }

    fn to_connect(answer: Option<Answer>) -> ConnectMessage {
        match answer {
            Some(Answer::Connect(message)) => message,
            other => panic!("expected a Connect message, got {other:?}"),
        }
    }

    fn picker_json(kind: &str, titles: &[String]) -> String {
        let elements: Vec<Value> = titles.iter().map(|t| json!({"title": t})).collect();
        json!({"templateType": kind, "version": "1.0",
               "data": {"content": {"title": "Pick one", "elements": elements}}})
        .to_string()
    }

    fn time_picker_json(slots: usize) -> String {
        let timeslots: Vec<Value> = (0..slots)
            .map(|i| json!({"date": format!("2025-11-{:02}T{:02}:00+00:00", 12 + i / 8, 9 + i % 8), "duration": 30}))
            .collect();
        json!({"templateType": "TimePicker", "version": "1.0",
               "data": {"content": {"title": "When?", "timeZoneOffset": -300, "timeslots": timeslots}}})
        .to_string()
    }

    fn carousel_json(titles: &[String]) -> String {
        let panels: Vec<Value> = titles
            .chunks(5)
            .enumerate()
            .map(|(p, chunk)| {
                let elements: Vec<Value> = chunk.iter().map(|t| json!({"title": t})).collect();
                json!({"templateType": "Panel", "version": "1.0", "templateIdentifier": format!("panel{p}"),
                       "data": {"content": {"title": format!("Panel {p}"), "elements": elements}}})
            })
            .collect();
        json!({"templateType": "Carousel", "version": "1.0",
               "data": {"content": {"title": "Explore", "elements": panels}}})
        .to_string()
    }

    fn titles(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("Option {i}")).collect()
    }

    /// Every option of a rendered menu, tapped on whichever page shows it, answers with `expected(i)`.
    fn assert_every_option_answers(rendered: &Rendered, expected: impl Fn(usize) -> ConnectMessage) {
        let menu = rendered.menu.as_ref().unwrap();
        let pages = if menu.pages.is_empty() {
            vec![rendered.message.clone()]
        } else {
            menu.pages.clone()
        };
        let mut seen = 0;
        for page in &pages {
            assert_valid(page);
            let ids: Vec<(String, String)> = match page {
                WhatsappMessage::Interactive {
                    interactive: InteractiveBody::Button { action, .. },
                } => action
                    .buttons
                    .iter()
                    .map(|b| (b.reply.id.clone(), b.reply.title.clone()))
                    .collect(),
                WhatsappMessage::Interactive { .. } => list_rows(page).into_iter().map(|r| (r.id, r.title)).collect(),
                WhatsappMessage::Text { .. } => (1..=menu.options.len())
                    .map(|n| (n.to_string(), String::new()))
                    .collect(),
            };
            for (id, title) in ids {
                if id.contains(".more") {
                    continue;
                }
                let content = if matches!(page, WhatsappMessage::Text { .. }) {
                    Content::Text { body: id }
                } else {
                    list_tap(&id, &title)
                };
                assert_eq!(to_connect(answer(Some(menu), &content)), expected(seen));
                seen += 1;
            }
        }
        assert_eq!(seen, menu.options.len());
    }

    fn style(rendered: &Rendered) -> (MenuStyle, usize) {
        let menu = rendered.menu.as_ref().unwrap();
        (menu.style, menu.pages.len())
    }

    #[test]
    fn pickers_by_option_count() {
        for kind in ["ListPicker", "Panel", "QuickReply"] {
            for (n, expected) in [
                (2, (MenuStyle::Buttons, 0)),
                (3, (MenuStyle::Buttons, 0)),
                (4, (MenuStyle::List, 0)),
                (10, (MenuStyle::List, 0)),
                (11, (MenuStyle::List, 2)),
            ] {
                let titles = titles(n);
                let r = rendered(&picker_json(kind, &titles));
                assert_eq!(style(&r), expected, "{kind} with {n}");
                assert_valid(&r.message);
                assert_every_option_answers(&r, |i| ConnectMessage::text(&titles[i]));
            }
        }
    }

    #[test]
    fn time_pickers_by_slot_count() {
        for (n, expected) in [
            (2, (MenuStyle::List, 0)),
            (3, (MenuStyle::List, 0)),
            (4, (MenuStyle::List, 0)),
            (10, (MenuStyle::List, 0)),
            (11, (MenuStyle::Numbered, 0)),
        ] {
            let content = time_picker_json(n);
            let r = rendered(&content);
            assert_eq!(style(&r), expected, "TimePicker with {n}");
            assert_valid(&r.message);
            let dates: Vec<String> = match parse(&content).unwrap() {
                Template::TimePicker(t) => t.slots.into_iter().map(|s| s.date).collect(),
                other => panic!("{other:?}"),
            };
            assert_every_option_answers(&r, |i| ConnectMessage::text(&dates[i]));
        }
        let paged = render_content(
            &time_picker_json(11),
            &RenderOptions {
                time_overflow: Overflow::Paged,
                ..RenderOptions::default()
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(style(&paged), (MenuStyle::List, 2));
    }

    #[test]
    fn carousels_by_option_count() {
        for (n, expected) in [
            (2, (MenuStyle::List, 0)),
            (3, (MenuStyle::List, 0)),
            (4, (MenuStyle::List, 0)),
            (10, (MenuStyle::List, 0)),
            (11, (MenuStyle::List, 2)),
        ] {
            let titles = titles(n);
            let r = rendered(&carousel_json(&titles));
            assert_eq!(style(&r), expected, "Carousel with {n}");
            assert_every_option_answers(&r, |i| {
                let panel = i / 5;
                ConnectMessage::text(format!(
                    r#"{{"templateIdentifier":"panel{panel}","listTitle":"Panel {panel}","selectionText":"{}"}}"#,
                    titles[i]
                ))
            });
        }
    }

    #[test]
    fn carousel_selection_keeps_the_widgets_key_order() {
        let r = rendered(&fixture("carousel"));
        let menu = r.menu.unwrap();
        assert_eq!(
            menu.options[0].reply.content,
            r#"{"templateIdentifier":"flights0001","listTitle":"Flight","selectionText":"Purchase Ticket"}"#
        );
    }

    #[test]
    fn quick_reply_buttons_shape() {
        let r = rendered(&picker_json("QuickReply", &["Yes".into(), "No".into()]));
        let key = &r.menu.as_ref().unwrap().key;
        assert_eq!(key.len(), 8);
        assert_eq!(
            r.message.to_value(),
            json!({"type": "interactive", "interactive": {"type": "button",
                "body": {"text": "Pick one"},
                "action": {"buttons": [
                    {"type": "reply", "reply": {"id": format!("{key}.1"), "title": "Yes"}},
                    {"type": "reply", "reply": {"id": format!("{key}.2"), "title": "No"}}]}}})
        );
    }

    #[test]
    fn fixtures_render_natively() {
        let list = rendered(&fixture("listpicker"));
        assert_valid(&list.message);
        assert_eq!(
            body_of(&list.message),
            "What produce would you like to buy?\nTap to select option"
        );
        let rows = list_rows(&list.message);
        assert_eq!(
            rows.iter()
                .map(|r| (r.title.as_str(), r.description.as_deref()))
                .collect::<Vec<_>>(),
            [
                ("Apple", Some("$1.00")),
                ("Orange", Some("$1.50")),
                ("Banana", Some("$10.00"))
            ]
        );

        let panel = rendered(&fixture("panel"));
        assert_valid(&panel.message);
        let rows = list_rows(&panel.message);
        assert_eq!(rows[0].title, "Check self-service opti…");
        assert_eq!(rows[0].description.as_deref(), Some("Check self-service options"));
        assert_eq!(rows[1].title, "Talk to an agent");
        assert_eq!(rows[1].description, None);
        assert_eq!(
            to_connect(answer(panel.menu.as_ref(), &list_tap(&rows[0].id, &rows[0].title))),
            ConnectMessage::text("Check self-service options")
        );

        let quick = rendered(&fixture("quickreply"));
        assert_valid(&quick.message);
        assert_eq!(list_rows(&quick.message).len(), 5);

        let time = rendered(&fixture("timepicker"));
        assert_valid(&time.message);
        assert_eq!(
            list_sections(&time.message),
            [
                (
                    Some("Wed, Nov 12 (UTC-5)".to_owned()),
                    vec!["12:00 PM – 1:00 PM".to_owned()]
                ),
                (
                    Some("Thu, Nov 13 (UTC-5)".to_owned()),
                    vec!["8:00 AM – 9:00 AM".to_owned(), "11:00 AM – 12:00 PM".to_owned()]
                ),
            ]
        );
        assert_eq!(
            body_of(&time.message),
            "Schedule appointment\nTap to select option\n\n📍 Oscar\nhttps://maps.google.com/?q=47.616299,-122.4311"
        );
        let first = &list_rows(&time.message)[0];
        assert_eq!(
            to_connect(answer(time.menu.as_ref(), &list_tap(&first.id, &first.title))),
            ConnectMessage::text("2025-11-12T17:00+00:00")
        );

        let carousel = rendered(&fixture("carousel"));
        assert_valid(&carousel.message);
        assert_eq!(
            list_sections(&carousel.message),
            [
                (
                    Some("Flight".to_owned()),
                    vec!["Purchase Ticket".to_owned(), "View All Destinations".to_owned()]
                ),
                (
                    Some("Dining".to_owned()),
                    vec!["Book Table".to_owned(), "View Popular Entrees".to_owned()]
                ),
            ]
        );
        assert_eq!(
            body_of(&carousel.message),
            "Explore our travel resources\n\n🔗 Flight · Learn More: https://example.com"
        );
    }

    #[test]
    fn long_and_emoji_titles_are_cut_whole_and_answered_in_full() {
        let titles: Vec<String> = (1..=4)
            .map(|i| format!("👨‍👩‍👧‍👦 Family plan {i} with a rather long name that keeps going 🇪🇸🇲🇽"))
            .collect();
        for n in [2, 3, 4] {
            for kind in ["ListPicker", "Panel", "QuickReply"] {
                let r = rendered(&picker_json(kind, &titles[..n]));
                assert_eq!(style(&r), (MenuStyle::List, 0), "too long for buttons");
                assert_valid(&r.message);
                for (row, full) in list_rows(&r.message).iter().zip(&titles) {
                    let shown = row.title.strip_suffix(ELLIPSIS).unwrap();
                    let shown_graphemes: Vec<&str> = shown.graphemes(true).collect();
                    let full_graphemes: Vec<&str> = full.graphemes(true).take(shown_graphemes.len()).collect();
                    assert_eq!(shown_graphemes, full_graphemes);
                    assert!(full.starts_with(shown));
                    assert_eq!(
                        to_connect(answer(r.menu.as_ref(), &list_tap(&row.id, &row.title))),
                        ConnectMessage::text(full)
                    );
                }
            }
        }
        // Ten pizzas are 20 UTF-16 units: they still fit a button; eleven do not.
        let exact = rendered(&picker_json("QuickReply", &["🍕".repeat(10), "No".into()]));
        assert_eq!(style(&exact), (MenuStyle::Buttons, 0));
        let over = rendered(&picker_json("QuickReply", &["🍕".repeat(11), "No".into()]));
        assert_eq!(style(&over), (MenuStyle::List, 0));
        assert_valid(&over.message);
    }

    #[test]
    fn buttons_need_unique_titles_and_no_descriptions() {
        let same = rendered(&picker_json("QuickReply", &["Yes".into(), "yes".into()]));
        assert_eq!(style(&same), (MenuStyle::List, 0));
        let subtitled = json!({"templateType": "ListPicker", "data": {"content": {"title": "Fruit",
            "elements": [{"title": "Apple", "subtitle": "$1"}, {"title": "Pear"}]}}});
        assert_eq!(style(&rendered(&subtitled.to_string())), (MenuStyle::List, 0));
    }

    #[test]
    fn images_become_button_headers_only() {
        let content = |n: usize| {
            let elements: Vec<Value> = titles(n).iter().map(|t| json!({"title": t})).collect();
            json!({"templateType": "ListPicker", "data": {"content": {"title": "Fruit", "imageType": "URL",
                "imageData": "https://example.com/fruit.jpg", "elements": elements}}})
            .to_string()
        };
        let buttons = rendered(&content(2));
        let WhatsappMessage::Interactive {
            interactive: InteractiveBody::Button { header, .. },
        } = &buttons.message
        else {
            panic!("not buttons")
        };
        assert_eq!(
            header,
            &Some(Header::Image {
                image: MediaLink {
                    link: "https://example.com/fruit.jpg".into()
                }
            })
        );
        let list = rendered(&content(4));
        assert_valid(&list.message);
        assert_eq!(list.message.to_value()["interactive"].get("header"), None);
        let not_url = json!({"templateType": "Panel", "data": {"content": {"title": "T", "imageType": "BASE64",
            "imageData": "https://example.com/x.jpg", "elements": [{"title": "A"}]}}});
        match parse(&not_url.to_string()).unwrap() {
            Template::Panel(p) => assert_eq!(p.image, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paging_through_more_options() {
        let titles = titles(25);
        let r = rendered(&picker_json("ListPicker", &titles));
        let menu = r.menu.clone().unwrap();
        assert_eq!(menu.pages.len(), 3);
        assert_eq!(r.message, menu.pages[0]);
        let page_rows: Vec<Vec<Row>> = menu.pages.iter().map(list_rows).collect();
        assert_eq!(page_rows.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 7]);
        let more = page_rows[0].last().unwrap();
        assert_eq!(more.title, "More options");
        assert_eq!(more.description.as_deref(), Some("10–18 / 25"));
        assert!(body_of(&menu.pages[0]).ends_with("(1/3)"));
        assert!(body_of(&menu.pages[2]).ends_with("(3/3)"));
        assert_eq!(
            answer(Some(&menu), &list_tap(&more.id, &more.title)),
            Some(Answer::Page(menu.pages[1].clone()))
        );
        let more2 = page_rows[1].last().unwrap();
        assert_eq!(
            answer(Some(&menu), &list_tap(&more2.id, &more2.title)),
            Some(Answer::Page(menu.pages[2].clone()))
        );
        assert!(page_rows[2].iter().all(|r| !r.id.contains("more")));
        // An older page's rows still answer after the next page was sent.
        let twelfth = &page_rows[1][2];
        assert_eq!(
            to_connect(answer(Some(&menu), &list_tap(&twelfth.id, &twelfth.title))),
            ConnectMessage::text("Option 12")
        );
    }

    #[test]
    fn numbered_menus_answer_typed_numbers() {
        let options = RenderOptions {
            overflow: Overflow::Numbered,
            ..RenderOptions::default()
        };
        let titles = titles(11);
        let r = render_content(&picker_json("Panel", &titles), &options)
            .unwrap()
            .unwrap();
        assert_valid(&r.message);
        let menu = r.menu.as_ref().unwrap();
        assert_eq!(menu.style, MenuStyle::Numbered);
        let body = body_of(&r.message);
        assert!(
            body.starts_with("Pick one\n\nReply with a number:\n1. Option 1\n2. Option 2\n"),
            "{body}"
        );
        assert!(body.ends_with("\n11. Option 11"));
        for (typed, expected) in [
            ("11", "Option 11"),
            (" 2. ", "Option 2"),
            ("#3", "Option 3"),
            ("4)", "Option 4"),
        ] {
            assert_eq!(
                to_connect(answer(Some(menu), &Content::Text { body: typed.into() })),
                ConnectMessage::text(expected)
            );
        }
        for typed in ["0", "12", "two", "", "2 please", "99999"] {
            assert_eq!(
                answer(Some(menu), &Content::Text { body: typed.into() }),
                None,
                "{typed:?}"
            );
        }
        let list = rendered(&picker_json("Panel", &titles[..4]));
        assert_eq!(answer(list.menu.as_ref(), &Content::Text { body: "2".into() }), None);
        assert_eq!(answer(None, &Content::Text { body: "2".into() }), None);
    }

    #[test]
    fn numbered_time_slots_are_grouped_by_day() {
        let r = rendered(&time_picker_json(11));
        let body = body_of(&r.message);
        assert!(
            body.starts_with("When?\n\nReply with a number:\n*Wed, Nov 12 (UTC-5)*\n1. 4:00 AM – 4:30 AM\n"),
            "{body}"
        );
        assert!(
            body.contains("\n*Thu, Nov 13 (UTC-5)*\n9. 4:00 AM – 4:30 AM\n"),
            "{body}"
        );
    }

    #[test]
    fn numbered_text_shrinks_titles_to_fit() {
        let options = RenderOptions {
            overflow: Overflow::Numbered,
            ..RenderOptions::default()
        };
        let titles: Vec<String> = (1..=40).map(|i| format!("{i} {}", "long words ".repeat(30))).collect();
        let r = render_content(&picker_json("ListPicker", &titles), &options)
            .unwrap()
            .unwrap();
        assert_valid(&r.message);
        assert!(body_of(&r.message).contains("\n40. 40 long"));
        assert_eq!(r.menu.unwrap().options[39].reply, ConnectMessage::text(&titles[39]));
    }

    #[test]
    fn list_picker_pagination_answers_like_the_widget() {
        let content = json!({"templateType": "ListPicker", "version": "1.0", "data": {"content": {
            "title": "Fruit", "listId": "l-1", "referenceId": "r-1", "preIndex": 0, "nextIndex": 3,
            "elements": [{"title": "Apple"}, {"title": "Pear"}, {"title": "Plum"},
                         {"title": "Show more", "actionDetail": "SHOW_MORE"}]}}});
        let r = rendered(&content.to_string());
        let menu = r.menu.as_ref().unwrap();
        let rows = list_rows(&r.message);
        assert_eq!(rows[3].title, "Show more");
        assert_eq!(
            to_connect(answer(Some(menu), &list_tap(&rows[3].id, "Show more"))),
            ConnectMessage::interactive_response(
                r#"{"version":"1.0","data":{"actionName":"SHOW_MORE","preIndex":0,"nextIndex":3,"listId":"l-1","templateType":"ListPicker","referenceId":"r-1"},"action":"SHOW_MORE"}"#
            )
        );
        assert_eq!(
            to_connect(answer(Some(menu), &list_tap(&rows[0].id, "Apple"))),
            ConnectMessage::text("Apple")
        );
    }

    #[test]
    fn unknown_stale_and_template_taps_fall_back_to_the_title() {
        let r = rendered(&picker_json("QuickReply", &["Yes".into(), "No".into()]));
        let menu = r.menu.as_ref().unwrap();
        let other = rendered(&picker_json("QuickReply", &["Sí".into(), "No".into()]));
        let stale_id = &other.menu.as_ref().unwrap().options[0].id;
        assert_eq!(
            to_connect(answer(Some(menu), &button_tap(stale_id, "Sí"))),
            ConnectMessage::text("Sí")
        );
        assert_eq!(
            to_connect(answer(None, &button_tap("whatever", "Yes"))),
            ConnectMessage::text("Yes")
        );
        assert_eq!(
            to_connect(answer(
                Some(menu),
                &button_tap(&format!("{}.more1", menu.key), "More options")
            )),
            ConnectMessage::text("More options")
        );
        let template_tap = |payload: Option<&str>| Content::Button {
            payload: payload.map(str::to_owned),
            text: "Yes please".into(),
        };
        assert_eq!(
            to_connect(answer(Some(menu), &template_tap(Some(&menu.options[1].id)))),
            ConnectMessage::text("No")
        );
        assert_eq!(
            to_connect(answer(Some(menu), &template_tap(Some("RESTART")))),
            ConnectMessage::text("Yes please")
        );
        assert_eq!(
            to_connect(answer(None, &template_tap(None))),
            ConnectMessage::text("Yes please")
        );
        assert_eq!(
            answer(
                Some(menu),
                &Content::Interactive(InteractiveReply::Flow {
                    name: None,
                    response_json: None
                })
            ),
            None
        );
    }

    #[test]
    fn menu_survives_storage() {
        for content in [
            picker_json("Panel", &titles(25)),
            fixture("carousel"),
            time_picker_json(11),
        ] {
            let menu = rendered(&content).menu.unwrap();
            let stored = serde_json::to_string(&menu).unwrap();
            assert_eq!(serde_json::from_str::<Menu>(&stored).unwrap(), menu);
        }
    }

    #[test]
    fn same_template_same_key_different_template_different_key() {
        let a = rendered(&fixture("panel")).menu.unwrap().key;
        assert_eq!(a, rendered(&fixture("panel")).menu.unwrap().key);
        assert_ne!(a, rendered(&fixture("quickreply")).menu.unwrap().key);
    }

    #[test]
    fn templates_without_options() {
        let links = json!({"templateType": "Panel", "data": {"content": {"title": "Read more",
            "elements": [{"title": "Docs", "type": "hyperlink", "url": "https://example.com/docs"}]}}});
        let r = rendered(&links.to_string());
        assert_eq!(r.menu, None);
        assert_eq!(
            r.message,
            WhatsappMessage::Text {
                text: MessageText {
                    body: "Read more\n\n🔗 Docs: https://example.com/docs".into(),
                    preview_url: true
                }
            }
        );
        let view = json!({"templateType": "ViewResource", "version": "1.0", "data": {"content": {"viewId": "v"}}});
        assert_eq!(
            render_content(&view.to_string(), &RenderOptions::default()).unwrap(),
            None
        );
        let titled = json!({"templateType": "Fancy", "data": {"content": {"title": "Hello there"}}});
        assert_eq!(
            rendered(&titled.to_string()).message,
            WhatsappMessage::text("Hello there")
        );
    }

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

    #[test]
    fn slot_times() {
        let at = |date: &str, offset: Option<i64>| SlotTime::parse(date, offset).unwrap();
        let t = at("2025-11-12T17:00+00:00", Some(-300));
        assert_eq!(
            (t.day_label(), t.range_label(Some(60))),
            ("Wed, Nov 12 (UTC-5)".into(), "12:00 PM – 1:00 PM".into())
        );
        let t = at("2025-11-12T17:00+01:00", None);
        assert_eq!(
            (t.day_label(), t.range_label(None)),
            ("Wed, Nov 12 (UTC+1)".into(), "5:00 PM".into())
        );
        let t = at("2025-01-01T00:15:00.000Z", Some(330));
        assert_eq!(
            (t.day_label(), t.range_label(None)),
            ("Wed, Jan 1 (UTC+5:30)".into(), "5:45 AM".into())
        );
        let t = at("2024-03-01T01:00-0300", Some(0));
        assert_eq!(
            (t.day_label(), t.range_label(Some(90))),
            ("Fri, Mar 1 (UTC)".into(), "4:00 AM – 5:30 AM".into())
        );
        let t = at("2024-03-01T00:30", Some(-60));
        assert_eq!(t.day_label(), "Thu, Feb 29 (UTC-1)");
        for bad in [
            "tomorrow",
            "2025-13-01T10:00Z",
            "2025-11-12T25:00Z",
            "2025-11-12T10:00+5",
            "2025-11-12",
        ] {
            assert_eq!(SlotTime::parse(bad, None), None, "{bad}");
        }
        for days in [-800_000, -1, 0, 1, 19_000, 20_404, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn unreadable_slots_still_answer_with_their_date() {
        let content = json!({"templateType": "TimePicker", "data": {"content": {"title": "When?",
            "timeslots": [{"date": "someday", "duration": 30}, {"date": "2025-11-12T17:00Z", "duration": 30}]}}});
        let r = rendered(&content.to_string());
        assert_valid(&r.message);
        let rows = list_rows(&r.message);
        assert_eq!(rows[1].title, "someday");
        assert_eq!(
            to_connect(answer(r.menu.as_ref(), &list_tap(&rows[1].id, "someday"))),
            ConnectMessage::text("someday")
        );
    }
}
