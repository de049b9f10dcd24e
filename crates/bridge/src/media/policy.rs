//! What each attachment becomes on the other side: pure tables and decisions, no bytes touched.
//!
//! The two services disagree on file types and sizes. Amazon Connect chat accepts a short list of
//! attachment types, 20 MB each by default (Amazon Connect Administrator Guide, "Enable attachments");
//! WhatsApp has its own list per message type with per-type limits (Meta's WhatsApp Cloud API,
//! "Supported media types"). Keeping both tables and the rules between them here, apart from the
//! handlers, means the promise to convert rather than drop can be tested case by case:
//!
//! - [`inbound_action`]: a customer's WhatsApp media → attach as is, convert (voice note → WAV,
//!   sticker → PNG), or explain to the agent in text why it cannot be shown.
//! - [`outbound_action`]: an agent's Connect attachment → the WhatsApp message type that carries it,
//!   falling back to a document (which keeps the file name) when no richer type fits.
//! - [`file_name`] / [`sanitize_file_name`]: names that are safe to show and store, because
//!   customer-chosen file names are untrusted input.
//!
//! Sizes use decimal megabytes (1 MB = 1,000,000 bytes). Neither service says which it means, and
//! the decimal reading is the smaller, so a file judged to fit does fit under either reading.

use std::time::Duration;

use crate::media::convert::{MAX_AUDIO_DURATION, WAV_SAMPLE_RATE};
use crate::whatsapp::{Media, MediaKind};
use crate::wording::{Arg, Text, Wording};

/// One decimal megabyte.
pub const MB: u64 = 1_000_000;
/// Connect chat's default per-attachment limit; instances can raise it (up to 100 MB).
pub const CONNECT_DEFAULT_MAX_BYTES: u64 = 20 * MB;
/// WhatsApp limits per message type (Meta's WhatsApp Cloud API, "Supported media types").
pub const WHATSAPP_AUDIO_MAX_BYTES: u64 = 16 * MB;
pub const WHATSAPP_DOCUMENT_MAX_BYTES: u64 = 100 * MB;
pub const WHATSAPP_IMAGE_MAX_BYTES: u64 = 5 * MB;
pub const WHATSAPP_STICKER_MAX_BYTES: u64 = 100_000;
pub const WHATSAPP_ANIMATED_STICKER_MAX_BYTES: u64 = 500_000;
pub const WHATSAPP_VIDEO_MAX_BYTES: u64 = 16 * MB;

/// Longest name this module produces, in bytes: Connect caps `AttachmentName` at 256 characters,
/// and a margin leaves room for whatever a handler may prefix.
pub const MAX_FILE_NAME_BYTES: usize = 200;

const OCTET_STREAM: &str = "application/octet-stream";
/// Longest extension kept when a long name is shortened; anything longer is not an extension.
const MAX_EXTENSION_BYTES: usize = 16;
const MAX_MEDIA_ID_CHARS: usize = 64;

/// One file type both tables know about.
struct FileType {
    mime: &'static str,
    /// The first one is what generated names use.
    extensions: &'static [&'static str],
    /// Listed among Connect chat's attachment types (§8).
    connect: bool,
    /// The WhatsApp message type that carries it natively (§5.5); anything else can still go as a
    /// document, but WhatsApp renders those unreliably.
    whatsapp: Option<MediaKind>,
}

const fn file_type(
    mime: &'static str,
    extensions: &'static [&'static str],
    connect: bool,
    whatsapp: Option<MediaKind>,
) -> FileType {
    FileType {
        mime,
        extensions,
        connect,
        whatsapp,
    }
}

const FILE_TYPES: &[FileType] = &[
    file_type("text/plain", &["txt"], true, Some(MediaKind::Document)),
    file_type("text/csv", &["csv"], true, None),
    file_type("application/pdf", &["pdf"], true, Some(MediaKind::Document)),
    file_type("application/msword", &["doc"], true, Some(MediaKind::Document)),
    file_type(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &["docx"],
        true,
        Some(MediaKind::Document),
    ),
    file_type("application/vnd.ms-excel", &["xls"], true, Some(MediaKind::Document)),
    file_type(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &["xlsx"],
        true,
        Some(MediaKind::Document),
    ),
    file_type(
        "application/vnd.ms-powerpoint",
        &["ppt"],
        true,
        Some(MediaKind::Document),
    ),
    file_type(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        &["pptx"],
        true,
        Some(MediaKind::Document),
    ),
    file_type("application/rtf", &["rtf"], true, None),
    file_type("image/jpeg", &["jpg", "jpeg"], true, Some(MediaKind::Image)),
    file_type("image/png", &["png"], true, Some(MediaKind::Image)),
    file_type("image/heic", &["heic"], true, None),
    file_type("image/webp", &["webp"], false, Some(MediaKind::Sticker)),
    file_type("audio/wav", &["wav"], true, None),
    file_type("audio/ogg", &["ogg", "opus", "oga"], false, Some(MediaKind::Audio)),
    file_type("audio/aac", &["aac"], false, Some(MediaKind::Audio)),
    file_type("audio/amr", &["amr"], false, Some(MediaKind::Audio)),
    file_type("audio/mpeg", &["mp3"], false, Some(MediaKind::Audio)),
    file_type("audio/mp4", &["m4a"], false, Some(MediaKind::Audio)),
    file_type("video/mp4", &["mp4"], true, Some(MediaKind::Video)),
    file_type("video/quicktime", &["mov"], true, None),
    file_type("video/3gpp", &["3gp"], false, Some(MediaKind::Video)),
];

/// Other spellings seen in the wild (browsers, phones, older registrations) for types above.
const ALIASES: &[(&str, &str)] = &[
    ("image/jpg", "image/jpeg"),
    ("image/pjpeg", "image/jpeg"),
    ("audio/x-wav", "audio/wav"),
    ("audio/wave", "audio/wav"),
    ("audio/vnd.wave", "audio/wav"),
    ("text/rtf", "application/rtf"),
    ("video/3gp", "video/3gpp"),
    // WhatsApp voice notes are always Ogg-encapsulated, whatever the label says.
    ("audio/opus", "audio/ogg"),
    ("audio/mp3", "audio/mpeg"),
    ("audio/x-m4a", "audio/mp4"),
    ("audio/m4a", "audio/mp4"),
];

fn lookup(mime: &str) -> Option<&'static FileType> {
    FILE_TYPES.iter().find(|t| t.mime == mime)
}

fn by_extension(name: &str) -> Option<&'static FileType> {
    let extension = extension_of(name)?.to_ascii_lowercase();
    FILE_TYPES.iter().find(|t| t.extensions.contains(&extension.as_str()))
}

/// The extension after the last dot, if the name has a stem before it.
fn extension_of(name: &str) -> Option<&str> {
    name.rfind('.').filter(|&dot| dot > 0).map(|dot| &name[dot + 1..])
}

/// The canonical spelling of a MIME type this module knows, or `None`.
///
/// Parameters are dropped (`audio/ogg; codecs=opus` is `audio/ogg`) and case is ignored. When the
/// type says nothing useful (empty, or `application/octet-stream`), the file name's extension
/// decides instead, which is how a document forwarded without a proper type still gets through.
pub fn canonical_mime(mime: &str, file_name: Option<&str>) -> Option<&'static str> {
    let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let essence = ALIASES
        .iter()
        .find(|(alias, _)| *alias == essence)
        .map_or(essence.as_str(), |(_, canonical)| canonical);
    if let Some(known) = lookup(essence) {
        return Some(known.mime);
    }
    if essence.is_empty() || essence == OCTET_STREAM {
        return file_name.and_then(by_extension).map(|t| t.mime);
    }
    None
}

/// What Connect chat accepts as an attachment. The types are fixed by Connect; the size is an
/// instance setting (UpdateAttachedFilesConfiguration), so it is configuration here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectLimits {
    pub max_bytes: u64,
}

impl Default for ConnectLimits {
    fn default() -> Self {
        Self {
            max_bytes: CONNECT_DEFAULT_MAX_BYTES,
        }
    }
}

impl ConnectLimits {
    /// Whether Connect chat takes this type as an attachment, whatever its size.
    pub fn accepts(&self, mime: &str) -> bool {
        canonical_mime(mime, None).and_then(lookup).is_some_and(|t| t.connect)
    }

    /// The longest voice note whose WAV still fits the size limit, capped at [`MAX_AUDIO_DURATION`]:
    /// the right cap for `convert::ogg_opus_to_wav_capped`, so a note too long to deliver fails
    /// fast instead of being decoded and then refused.
    pub fn max_wav_duration(&self) -> Duration {
        let wav_header = 44;
        let bytes_per_second = u64::from(WAV_SAMPLE_RATE) * 2;
        let fits = Duration::from_millis(self.max_bytes.saturating_sub(wav_header) * 1000 / bytes_per_second);
        fits.min(MAX_AUDIO_DURATION)
    }
}

/// A customer's media message as far as the policy needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundMedia<'a> {
    pub kind: MediaKind,
    /// As WhatsApp reported it, parameters and all; may be empty.
    pub mime_type: &'a str,
    /// From GetWhatsAppMessageMedia with `metadataOnly`, before anything is downloaded.
    pub size: u64,
    /// A recorded voice note rather than a forwarded audio file.
    pub voice: bool,
    /// Only documents carry one.
    pub filename: Option<&'a str>,
}

impl<'a> InboundMedia<'a> {
    pub fn from_whatsapp(media: &'a Media, size: u64) -> Self {
        Self {
            kind: media.kind,
            mime_type: media.mime_type.as_deref().unwrap_or_default(),
            size,
            voice: media.voice,
            filename: media.filename.as_deref(),
        }
    }
}

/// What to do with a customer's media so the agent sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundFileAction {
    /// Upload the bytes unchanged with this Connect content type.
    Attach { content_type: &'static str },
    /// Ogg/Opus audio: convert with `convert::ogg_opus_to_wav`, then ask again with the WAV's size.
    ConvertToWav,
    /// WebP (stickers): convert with `convert::webp_to_png`, then ask again with the PNG's size.
    ConvertToPng,
    /// Larger than `limit` bytes: tell the agent in text instead.
    TooLarge { limit: u64 },
    /// A type Connect chat does not accept and nothing here converts: tell the agent in text.
    NotAccepted,
}

/// Decides how a customer's media reaches the agent.
///
/// A conversion's output can be larger than its input (PCM is ten times Opus), so after converting
/// call this again with the output's type ([`WAV_MIME`](crate::media::convert::WAV_MIME) /
/// [`PNG_MIME`](crate::media::convert::PNG_MIME)) and size: the answer is then
/// [`InboundFileAction::Attach`] or [`InboundFileAction::TooLarge`].
pub fn inbound_action(media: &InboundMedia<'_>, limits: &ConnectLimits) -> InboundFileAction {
    let mime = canonical_mime(media.mime_type, media.filename).or(match media.kind {
        // Both kinds have exactly one format on WhatsApp, so a missing label is no mystery.
        MediaKind::Sticker => Some("image/webp"),
        MediaKind::Audio if media.voice => Some("audio/ogg"),
        _ => None,
    });
    let Some(mime) = mime else {
        return InboundFileAction::NotAccepted;
    };
    if mime == "audio/ogg" {
        // The input bound is WhatsApp's own audio limit: nothing larger arrives as audio, and a
        // bigger Ogg file would decode past anything Connect can take anyway. The WAV's own size
        // is checked when the caller asks again after converting.
        return if media.size > WHATSAPP_AUDIO_MAX_BYTES {
            InboundFileAction::TooLarge {
                limit: WHATSAPP_AUDIO_MAX_BYTES,
            }
        } else {
            InboundFileAction::ConvertToWav
        };
    }
    if !is_deliverable(mime) {
        return InboundFileAction::NotAccepted;
    }
    if media.size > limits.max_bytes {
        return InboundFileAction::TooLarge {
            limit: limits.max_bytes,
        };
    }
    if mime == "image/webp" {
        InboundFileAction::ConvertToPng
    } else {
        InboundFileAction::Attach { content_type: mime }
    }
}

/// Whether a canonical type can reach Connect at all, directly or by conversion.
fn is_deliverable(mime: &str) -> bool {
    mime == "image/webp" || lookup(mime).is_some_and(|t| t.connect)
}

/// The sentence the agent sees in place of media that cannot be attached, so the conversation
/// still says that something was sent and what it was.
///
/// `action` is the decision for that media; pass `None` when a conversion failed. Returns `None`
/// when the action delivers the media itself.
pub fn describe_for_agent(w: &Wording, media: &InboundMedia<'_>, action: Option<InboundFileAction>) -> Option<String> {
    let kind = match media.kind {
        MediaKind::Audio if media.voice => "voice",
        other => other.as_str(),
    };
    let name = match media.kind {
        MediaKind::Document => media.filename.and_then(sanitize_file_name),
        _ => None,
    };
    let file = w.word(
        Text::CustomerFile,
        &[
            ("kind", Arg::from(kind)),
            ("name", Arg::from(name.unwrap_or_else(|| "none".to_owned()))),
        ],
    );
    let size = human_size(media.size);
    let mime = media.mime_type.split(';').next().unwrap_or_default().trim();
    let format = if mime.is_empty() {
        w.word(Text::UnknownFormat, &[])
    } else {
        mime.to_owned()
    };
    let about = |text: Text, extra: (&'static str, String)| {
        Some(w.word(
            text,
            &[
                ("file", Arg::from(file.as_str())),
                ("size", Arg::from(size.as_str())),
                (extra.0, Arg::from(extra.1)),
            ],
        ))
    };
    match action {
        Some(InboundFileAction::TooLarge { limit }) => about(Text::CustomerFileTooLarge, ("limit", human_size(limit))),
        Some(InboundFileAction::NotAccepted) => about(Text::CustomerFileNotAccepted, ("format", format)),
        None => about(Text::CustomerFileNotConverted, ("format", format)),
        Some(InboundFileAction::Attach { .. } | InboundFileAction::ConvertToWav | InboundFileAction::ConvertToPng) => {
            None
        }
    }
}

pub fn human_size(bytes: u64) -> String {
    if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else if bytes >= 1_000 {
        format!("{} KB", bytes.div_ceil(1_000))
    } else {
        format!("{bytes} bytes")
    }
}

/// How an agent's attachment goes to WhatsApp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundFileAction {
    Image,
    Video,
    Audio,
    /// Sent as a document under this (sanitised) file name, which the customer sees.
    Document {
        file_name: String,
    },
    /// Over even the document limit; tell the agent it was not delivered.
    TooLarge {
        limit: u64,
    },
}

/// Decides how an agent's attachment is sent to the customer.
///
/// The richest WhatsApp type that takes the file wins; a file that is the wrong type or too big for
/// it (a 7 MB photo, a .mov video, a WAV recording) still goes, as a document up to 100 MB, because
/// a file the customer has to open beats one they never get.
pub fn outbound_action(mime: &str, size: u64, name: &str) -> OutboundFileAction {
    let canonical = canonical_mime(mime, Some(name));
    let native = canonical.and_then(lookup).and_then(|t| t.whatsapp);
    match native {
        Some(kind @ (MediaKind::Image | MediaKind::Video | MediaKind::Audio))
            if size <= whatsapp_max_bytes(kind, false) =>
        {
            match kind {
                MediaKind::Image => OutboundFileAction::Image,
                MediaKind::Video => OutboundFileAction::Video,
                _ => OutboundFileAction::Audio,
            }
        }
        _ if size > WHATSAPP_DOCUMENT_MAX_BYTES => OutboundFileAction::TooLarge {
            limit: WHATSAPP_DOCUMENT_MAX_BYTES,
        },
        _ => OutboundFileAction::Document {
            file_name: sanitize_file_name(name)
                .map(|name| with_extension(name, canonical))
                .unwrap_or_else(|| generated_name("attachment", None, canonical)),
        },
    }
}

/// WhatsApp's size limit for a message type (§5.5). Stickers have two: static and animated.
pub fn whatsapp_max_bytes(kind: MediaKind, animated: bool) -> u64 {
    match kind {
        MediaKind::Audio => WHATSAPP_AUDIO_MAX_BYTES,
        MediaKind::Document => WHATSAPP_DOCUMENT_MAX_BYTES,
        MediaKind::Image => WHATSAPP_IMAGE_MAX_BYTES,
        MediaKind::Sticker if animated => WHATSAPP_ANIMATED_STICKER_MAX_BYTES,
        MediaKind::Sticker => WHATSAPP_STICKER_MAX_BYTES,
        MediaKind::Video => WHATSAPP_VIDEO_MAX_BYTES,
    }
}

/// Whether WhatsApp carries this type natively as `kind` (documents: the listed office/PDF/text
/// types; any other type can still be sent as a document, rendered less reliably).
pub fn whatsapp_accepts(kind: MediaKind, mime: &str) -> bool {
    canonical_mime(mime, None).and_then(lookup).and_then(|t| t.whatsapp) == Some(kind)
}

/// The attachment name for a customer's media, with the extension of `mime` — the type actually
/// uploaded, so `audio/wav` after a voice note was converted.
///
/// A customer-provided name is kept (sanitised, extension corrected); otherwise one is made from
/// the kind and the WhatsApp media id, e.g. `voice-note-<id>.wav` or `photo-<id>.jpg`.
pub fn file_name(kind: MediaKind, voice: bool, mime: &str, original_filename: Option<&str>, media_id: &str) -> String {
    let canonical = canonical_mime(mime, None);
    if let Some(name) = original_filename.and_then(sanitize_file_name) {
        return with_extension(name, canonical);
    }
    let stem = match kind {
        MediaKind::Audio if voice => "voice-note",
        MediaKind::Audio => "audio",
        MediaKind::Image => "photo",
        MediaKind::Sticker => "sticker",
        MediaKind::Video => "video",
        MediaKind::Document => "document",
    };
    generated_name(stem, Some(media_id), canonical)
}

fn generated_name(stem: &str, media_id: Option<&str>, mime: Option<&'static str>) -> String {
    let mut name = stem.to_owned();
    // Media ids are [A-Za-z0-9]+ per the API, but nothing stops a malformed event; keep only what
    // is safe in a file name.
    let id: String = media_id
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(MAX_MEDIA_ID_CHARS)
        .collect();
    if !id.is_empty() {
        name.push('-');
        name.push_str(&id);
    }
    if let Some(extension) = mime.and_then(extension) {
        name.push('.');
        name.push_str(extension);
    }
    name
}

/// The usual extension of a MIME type this module knows (`jpg` for `image/jpeg`), without the dot.
pub fn extension(mime: &str) -> Option<&'static str> {
    canonical_mime(mime, None).and_then(lookup).map(|t| t.extensions[0])
}

/// Makes the name's extension agree with the type being uploaded: kept when it already does,
/// replaced when it names a different known type (`note.ogg` converted to WAV is `note.wav`),
/// appended otherwise. Agents' and customers' apps may open files by extension alone.
fn with_extension(name: String, mime: Option<&'static str>) -> String {
    let Some(file_type) = mime.and_then(lookup) else {
        return name;
    };
    let current = extension_of(&name).map(str::to_ascii_lowercase);
    if current.as_deref().is_some_and(|e| file_type.extensions.contains(&e)) {
        return name;
    }
    let stem = match &current {
        Some(e) if FILE_TYPES.iter().any(|t| t.extensions.contains(&e.as_str())) => &name[..name.len() - e.len() - 1],
        _ => name.as_str(),
    };
    cap_length(format!("{stem}.{}", file_type.extensions[0]))
}

/// Makes a user-supplied file name safe to store and display, or `None` if nothing usable is left.
///
/// Keeps only the last path component (no `../` tricks), drops control characters and the
/// invisible bidirectional/format characters used to disguise extensions (`invoice\u{202e}fdp.exe`),
/// replaces characters Windows forbids, trims dots and spaces from both ends (no hidden files, no
/// `..`), and shortens to [`MAX_FILE_NAME_BYTES`] on a character boundary, keeping the extension.
pub fn sanitize_file_name(name: &str) -> Option<String> {
    let last_component = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last_component
        .chars()
        .filter(|&c| !c.is_control() && !is_invisible_format(c))
        .map(|c| {
            if matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() {
        return None;
    }
    Some(cap_length(trimmed.to_owned()))
}

fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}' // zero-width spaces and joiners, LRM/RLM
        | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, bidi isolates
        | '\u{feff}' // zero-width no-break space / BOM
    )
}

fn cap_length(name: String) -> String {
    if name.len() <= MAX_FILE_NAME_BYTES {
        return name;
    }
    let extension = extension_of(&name)
        .filter(|e| e.len() < MAX_EXTENSION_BYTES)
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    let stem = &name[..name.len() - extension.len()];
    let stem = floor_to_char_boundary(stem, MAX_FILE_NAME_BYTES - extension.len()).trim_end();
    format!("{stem}{extension}")
}

fn floor_to_char_boundary(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
