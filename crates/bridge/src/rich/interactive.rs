//! Rendering Connect's interactive templates ([`super::template`]) as native WhatsApp messages.
//!
//! Flows and Lex bots ask questions with interactive templates; a WhatsApp customer shown their JSON
//! could not answer. Each template becomes the best WhatsApp shape within WhatsApp's limits: reply
//! buttons for up to three short options, a list for up to ten, and beyond that a list paged with a
//! "More options" row or a numbered text. Every rendering with options comes with a [`Menu`], which
//! the bridge keeps until the customer answers ([`super::menu::answer`]).
//!
//! Everything is pure; the bridge stores the menu and sends what comes out.

use super::menu::{ConnectMessage, Menu, MenuOption, MenuStyle};
use super::slot_time::SlotTime;
use super::template::{Carousel, Element, Picker, Template, TimePicker, TimeSlot, parse};
use super::text::{Unit, fit, one_line, truncate};
use crate::error::Rejection;
use crate::whatsapp::outgoing::{
    BodyText, ButtonAction, ButtonReply, Header, InteractiveBody, ListAction, MediaLink, OutgoingBody, ReplyButton,
    Row, Section,
};
use crate::wording::{Text, Wording};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

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

/// A rendered template: the message for the customer and, when it offers options, its menu.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub message: OutgoingBody,
    pub menu: Option<Menu>,
}

/// How a template with more options than a WhatsApp list holds is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Lists of nine options and a "More options" row that opens the next page.
    Paged,
    /// One text listing every option by number.
    Numbered,
}

/// The labels and choices of a number's menus; the defaults are English.
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

impl RenderOptions {
    /// The labels in a business number's words, long menus paged and long time lists numbered.
    pub fn in_words(wording: &Wording) -> Self {
        Self {
            overflow: Overflow::Paged,
            time_overflow: Overflow::Numbered,
            list_button: wording.word(Text::MenuListButton, &[]),
            time_button: wording.word(Text::MenuTimeButton, &[]),
            more_options: wording.word(Text::MenuMoreOptions, &[]),
            numbered_prompt: wording.word(Text::MenuNumberedPrompt, &[]),
        }
    }
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self::in_words(crate::wording::english())
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
            message: OutgoingBody::text(fit(title, limits::TEXT_BODY)),
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
    slots.sort_by_key(|(time, _)| (time.is_none(), time.map(|t| t.utc)));
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
            message: OutgoingBody::text(fit(&body, limits::TEXT_BODY)),
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
        OutgoingBody::Interactive {
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
        OutgoingBody::text(numbered_text(&body, &choices, options))
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
) -> OutgoingBody {
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
    OutgoingBody::Interactive {
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
fn pages(body: &str, button: &str, choices: &[Choice], menu: &Menu, options: &RenderOptions) -> Vec<OutgoingBody> {
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

#[cfg(test)]
#[path = "interactive_tests.rs"]
mod tests;
