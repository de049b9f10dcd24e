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
pub fn describe_for_agent(media: &InboundMedia<'_>, action: Option<InboundFileAction>) -> Option<String> {
    let what = match (media.kind, media.filename.and_then(sanitize_file_name)) {
        (MediaKind::Document, Some(name)) => format!("a document \"{name}\""),
        (MediaKind::Document, None) => "a document".to_owned(),
        (MediaKind::Audio, _) if media.voice => "a voice message".to_owned(),
        (MediaKind::Audio, _) => "an audio file".to_owned(),
        (MediaKind::Image, _) => "a photo".to_owned(),
        (MediaKind::Sticker, _) => "a sticker".to_owned(),
        (MediaKind::Video, _) => "a video".to_owned(),
    };
    let size = human_size(media.size);
    let mime = media.mime_type.split(';').next().unwrap_or_default().trim();
    let type_label = if mime.is_empty() { "unknown format" } else { mime };
    match action {
        Some(InboundFileAction::TooLarge { limit }) => Some(format!(
            "The customer sent {what} ({size}), larger than the {} this chat can show.",
            human_size(limit)
        )),
        Some(InboundFileAction::NotAccepted) => Some(format!(
            "The customer sent {what} ({type_label}, {size}) in a format this chat cannot show."
        )),
        None => Some(format!(
            "The customer sent {what} ({type_label}, {size}) that could not be converted for this chat."
        )),
        Some(InboundFileAction::Attach { .. } | InboundFileAction::ConvertToWav | InboundFileAction::ConvertToPng) => {
            None
        }
    }
}

fn human_size(bytes: u64) -> String {
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
    if let Some(extension) = mime.and_then(lookup).map(|t| t.extensions[0]) {
        name.push('.');
        name.push_str(extension);
    }
    name
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
mod tests {
    use super::*;
    use crate::media::convert::{PNG_MIME, WAV_MIME};

    fn inbound(kind: MediaKind, mime: &str, size: u64) -> InboundMedia<'_> {
        InboundMedia {
            kind,
            mime_type: mime,
            size,
            voice: false,
            filename: None,
        }
    }

    fn decide(media: InboundMedia<'_>) -> InboundFileAction {
        inbound_action(&media, &ConnectLimits::default())
    }

    #[test]
    fn mime_types_are_normalised() {
        assert_eq!(canonical_mime("audio/ogg; codecs=opus", None), Some("audio/ogg"));
        assert_eq!(canonical_mime(" IMAGE/JPG ", None), Some("image/jpeg"));
        assert_eq!(canonical_mime("audio/x-wav", None), Some("audio/wav"));
        assert_eq!(canonical_mime("text/rtf", None), Some("application/rtf"));
        assert_eq!(canonical_mime("video/3gp", None), Some("video/3gpp"));
        assert_eq!(
            canonical_mime("application/zip", Some("a.pdf")),
            None,
            "a real type wins"
        );
        assert_eq!(
            canonical_mime("application/octet-stream", Some("Report.PDF")),
            Some("application/pdf")
        );
        assert_eq!(canonical_mime("", Some("sheet.xlsx")), Some(xlsx()));
        assert_eq!(canonical_mime("", Some("pdf")), None, "a bare word is not an extension");
        assert_eq!(canonical_mime("", None), None);
    }

    fn xlsx() -> &'static str {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    }

    #[test]
    fn connect_accepts_exactly_its_listed_types() {
        let limits = ConnectLimits::default();
        for mime in [
            "text/csv",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "image/jpeg",
            "application/pdf",
            "image/png",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "text/plain",
            "audio/wav",
            "application/vnd.ms-excel",
            xlsx(),
            "video/mp4",
            "video/quicktime",
            "image/heic",
            "application/rtf",
        ] {
            assert!(limits.accepts(mime), "{mime}");
        }
        for mime in [
            "audio/ogg",
            "image/webp",
            "audio/aac",
            "audio/mpeg",
            "video/3gpp",
            "application/zip",
            "",
        ] {
            assert!(!limits.accepts(mime), "{mime}");
        }
    }

    #[test]
    fn voice_notes_and_ogg_audio_are_converted_to_wav() {
        let voice = InboundMedia {
            voice: true,
            ..inbound(MediaKind::Audio, "audio/ogg; codecs=opus", 40_000)
        };
        assert_eq!(decide(voice), InboundFileAction::ConvertToWav);
        assert_eq!(
            decide(inbound(MediaKind::Audio, "audio/ogg", 40_000)),
            InboundFileAction::ConvertToWav
        );
        let unlabelled = InboundMedia {
            voice: true,
            ..inbound(MediaKind::Audio, "", 40_000)
        };
        assert_eq!(decide(unlabelled), InboundFileAction::ConvertToWav);
        // Size of the Ogg input is bounded by WhatsApp's audio limit, not Connect's.
        assert_eq!(
            decide(inbound(MediaKind::Audio, "audio/ogg", 17 * MB)),
            InboundFileAction::TooLarge {
                limit: WHATSAPP_AUDIO_MAX_BYTES
            }
        );
        assert_eq!(
            decide(inbound(MediaKind::Audio, "audio/ogg", 16 * MB)),
            InboundFileAction::ConvertToWav
        );
    }

    #[test]
    fn stickers_and_webp_images_are_converted_to_png() {
        assert_eq!(
            decide(inbound(MediaKind::Sticker, "image/webp", 30_000)),
            InboundFileAction::ConvertToPng
        );
        assert_eq!(
            decide(inbound(MediaKind::Sticker, "", 30_000)),
            InboundFileAction::ConvertToPng
        );
        assert_eq!(
            decide(inbound(MediaKind::Image, "image/webp", 30_000)),
            InboundFileAction::ConvertToPng
        );
        assert_eq!(
            decide(inbound(MediaKind::Sticker, "image/webp", 21 * MB)),
            InboundFileAction::TooLarge {
                limit: CONNECT_DEFAULT_MAX_BYTES
            }
        );
    }

    #[test]
    fn accepted_types_attach_as_is_up_to_the_limit() {
        let cases = [
            (MediaKind::Image, "image/jpeg", "image/jpeg"),
            (MediaKind::Image, "image/png", "image/png"),
            (MediaKind::Video, "video/mp4", "video/mp4"),
            (MediaKind::Document, "application/pdf", "application/pdf"),
            (MediaKind::Document, "text/plain", "text/plain"),
            (MediaKind::Document, xlsx(), xlsx()),
            (MediaKind::Document, "audio/x-wav", "audio/wav"),
        ];
        for (kind, mime, content_type) in cases {
            assert_eq!(
                decide(inbound(kind, mime, 20 * MB)),
                InboundFileAction::Attach { content_type },
                "{mime}"
            );
            assert_eq!(
                decide(inbound(kind, mime, 20 * MB + 1)),
                InboundFileAction::TooLarge {
                    limit: CONNECT_DEFAULT_MAX_BYTES
                },
                "{mime}"
            );
        }
        let raised = ConnectLimits { max_bytes: 100 * MB };
        let big_pdf = inbound(MediaKind::Document, "application/pdf", 50 * MB);
        assert_eq!(
            inbound_action(&big_pdf, &raised),
            InboundFileAction::Attach {
                content_type: "application/pdf"
            }
        );
    }

    #[test]
    fn documents_without_a_useful_type_are_judged_by_extension() {
        let media = InboundMedia {
            filename: Some("contract.docx"),
            ..inbound(MediaKind::Document, "application/octet-stream", 1_000)
        };
        assert_eq!(
            decide(media),
            InboundFileAction::Attach {
                content_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
        );
    }

    #[test]
    fn types_connect_cannot_show_are_described_not_dropped() {
        for (kind, mime) in [
            (MediaKind::Audio, "audio/aac"),
            (MediaKind::Audio, "audio/mpeg"),
            (MediaKind::Audio, "audio/amr"),
            (MediaKind::Video, "video/3gpp"),
            (MediaKind::Document, "application/zip"),
            (MediaKind::Document, ""),
        ] {
            let media = inbound(kind, mime, 50 * MB);
            assert_eq!(decide(media), InboundFileAction::NotAccepted, "{mime}");
            let text = describe_for_agent(&media, Some(InboundFileAction::NotAccepted)).unwrap();
            assert!(text.contains("cannot show") && text.contains("50.0 MB"), "{text}");
        }
    }

    #[test]
    fn descriptions_name_what_was_sent() {
        let voice = InboundMedia {
            voice: true,
            ..inbound(MediaKind::Audio, "audio/ogg; codecs=opus", 2_500)
        };
        assert_eq!(
            describe_for_agent(&voice, None).unwrap(),
            "The customer sent a voice message (audio/ogg, 3 KB) that could not be converted for this chat."
        );
        let document = InboundMedia {
            filename: Some("../../etc/passwd\u{202e}fdp.exe"),
            ..inbound(MediaKind::Document, "application/pdf", 25 * MB)
        };
        let too_large = decide(document);
        assert_eq!(
            describe_for_agent(&document, Some(too_large)).unwrap(),
            "The customer sent a document \"passwdfdp.exe\" (25.0 MB), larger than the 20.0 MB this chat can show."
        );
        assert_eq!(describe_for_agent(&voice, Some(InboundFileAction::ConvertToWav)), None);
        let photo = inbound(MediaKind::Image, "image/jpeg", 10);
        assert_eq!(describe_for_agent(&photo, Some(decide(photo))), None);
    }

    #[test]
    fn after_conversion_the_output_is_checked_against_the_limit() {
        let wav = inbound(MediaKind::Audio, WAV_MIME, 3 * MB);
        assert_eq!(decide(wav), InboundFileAction::Attach { content_type: WAV_MIME });
        let long_wav = inbound(MediaKind::Audio, WAV_MIME, 25 * MB);
        assert_eq!(
            decide(long_wav),
            InboundFileAction::TooLarge {
                limit: CONNECT_DEFAULT_MAX_BYTES
            }
        );
        let png = inbound(MediaKind::Sticker, PNG_MIME, 200_000);
        assert_eq!(decide(png), InboundFileAction::Attach { content_type: PNG_MIME });
    }

    #[test]
    fn wav_duration_cap_follows_the_size_limit() {
        // 20 MB at 32,000 bytes a second, less the header, is just under 10 min 25 s.
        let cap = ConnectLimits::default().max_wav_duration();
        assert_eq!(cap.as_secs(), 624);
        assert!(44 + cap.as_millis() as u64 * 32 <= CONNECT_DEFAULT_MAX_BYTES);
        assert_eq!(
            ConnectLimits { max_bytes: 100 * MB }.max_wav_duration(),
            MAX_AUDIO_DURATION
        );
        assert_eq!(ConnectLimits { max_bytes: 0 }.max_wav_duration(), Duration::ZERO);
    }

    #[test]
    fn from_whatsapp_reads_the_parsed_message() {
        let media = Media {
            kind: MediaKind::Audio,
            id: "123".to_owned(),
            mime_type: Some("audio/ogg; codecs=opus".to_owned()),
            sha256: None,
            caption: None,
            filename: None,
            voice: true,
            animated: false,
        };
        let inbound = InboundMedia::from_whatsapp(&media, 9_000);
        assert_eq!(inbound.mime_type, "audio/ogg; codecs=opus");
        assert!(inbound.voice);
        assert_eq!(inbound.size, 9_000);
    }

    #[test]
    fn whatsapp_limits_per_type() {
        assert_eq!(whatsapp_max_bytes(MediaKind::Audio, false), 16_000_000);
        assert_eq!(whatsapp_max_bytes(MediaKind::Document, false), 100_000_000);
        assert_eq!(whatsapp_max_bytes(MediaKind::Image, false), 5_000_000);
        assert_eq!(whatsapp_max_bytes(MediaKind::Sticker, false), 100_000);
        assert_eq!(whatsapp_max_bytes(MediaKind::Sticker, true), 500_000);
        assert_eq!(whatsapp_max_bytes(MediaKind::Video, false), 16_000_000);

        for mime in [
            "audio/aac",
            "audio/amr",
            "audio/mpeg",
            "audio/mp4",
            "audio/ogg; codecs=opus",
        ] {
            assert!(whatsapp_accepts(MediaKind::Audio, mime), "{mime}");
        }
        assert!(whatsapp_accepts(MediaKind::Image, "image/jpeg"));
        assert!(whatsapp_accepts(MediaKind::Image, "image/png"));
        assert!(!whatsapp_accepts(MediaKind::Image, "image/webp"));
        assert!(whatsapp_accepts(MediaKind::Sticker, "image/webp"));
        assert!(whatsapp_accepts(MediaKind::Video, "video/mp4"));
        assert!(whatsapp_accepts(MediaKind::Video, "video/3gp"));
        assert!(!whatsapp_accepts(MediaKind::Video, "video/quicktime"));
        assert!(whatsapp_accepts(MediaKind::Document, "application/pdf"));
        assert!(whatsapp_accepts(MediaKind::Document, "text/plain"));
        assert!(!whatsapp_accepts(MediaKind::Document, "text/csv"));
        assert!(!whatsapp_accepts(MediaKind::Audio, "audio/wav"));
    }

    #[test]
    fn agent_attachments_use_the_richest_whatsapp_type_that_fits() {
        assert_eq!(
            outbound_action("image/jpeg", 5 * MB, "a.jpg"),
            OutboundFileAction::Image
        );
        assert_eq!(outbound_action("image/png", 100, "a.png"), OutboundFileAction::Image);
        assert_eq!(
            outbound_action("video/mp4", 16 * MB, "clip.mp4"),
            OutboundFileAction::Video
        );
        assert_eq!(
            outbound_action("audio/mpeg", 1_000, "song.mp3"),
            OutboundFileAction::Audio
        );
        // Over the image limit: still delivered, as a document.
        assert_eq!(
            outbound_action("image/jpeg", 5 * MB + 1, "scan.jpg"),
            OutboundFileAction::Document {
                file_name: "scan.jpg".to_owned()
            }
        );
        assert_eq!(
            outbound_action("video/mp4", 16 * MB + 1, "long.mp4"),
            OutboundFileAction::Document {
                file_name: "long.mp4".to_owned()
            }
        );
    }

    #[test]
    fn other_agent_attachments_go_as_documents_keeping_their_name() {
        let cases = [
            ("application/pdf", "Invoice 2024.pdf", "Invoice 2024.pdf"),
            (xlsx(), "budget.xlsx", "budget.xlsx"),
            ("text/csv", "export.csv", "export.csv"),
            ("audio/wav", "recording.wav", "recording.wav"),
            ("video/quicktime", "screen.mov", "screen.mov"),
            ("image/heic", "IMG_0001.HEIC", "IMG_0001.HEIC"),
            ("application/rtf", "letter", "letter.rtf"),
            ("application/pdf", "C:\\Users\\agent\\terms.pdf", "terms.pdf"),
            ("application/pdf", "...", "attachment.pdf"),
            ("application/x-unknown", "data.bin", "data.bin"),
        ];
        for (mime, name, expected) in cases {
            assert_eq!(
                outbound_action(mime, 20 * MB, name),
                OutboundFileAction::Document {
                    file_name: expected.to_owned()
                },
                "{mime} {name}"
            );
        }
        assert_eq!(
            outbound_action("application/pdf", 100 * MB + 1, "huge.pdf"),
            OutboundFileAction::TooLarge {
                limit: WHATSAPP_DOCUMENT_MAX_BYTES
            }
        );
        assert_eq!(
            outbound_action("image/png", 101 * MB, "huge.png"),
            OutboundFileAction::TooLarge {
                limit: WHATSAPP_DOCUMENT_MAX_BYTES
            }
        );
    }

    #[test]
    fn generated_names_follow_kind_and_type() {
        let cases = [
            (MediaKind::Audio, true, WAV_MIME, "voice-note-wamid123.wav"),
            (MediaKind::Audio, false, WAV_MIME, "audio-wamid123.wav"),
            (MediaKind::Image, false, "image/jpeg", "photo-wamid123.jpg"),
            (MediaKind::Image, false, "image/png", "photo-wamid123.png"),
            (MediaKind::Sticker, false, PNG_MIME, "sticker-wamid123.png"),
            (MediaKind::Video, false, "video/mp4", "video-wamid123.mp4"),
            (MediaKind::Document, false, "application/pdf", "document-wamid123.pdf"),
            (MediaKind::Document, false, "application/x-thing", "document-wamid123"),
        ];
        for (kind, voice, mime, expected) in cases {
            assert_eq!(file_name(kind, voice, mime, None, "wamid123"), expected);
        }
        assert_eq!(
            file_name(MediaKind::Image, false, "image/jpeg", None, "../x/\u{0}y"),
            "photo-xy.jpg",
            "ids are filtered too"
        );
        assert_eq!(file_name(MediaKind::Image, false, "image/jpeg", None, ""), "photo.jpg");
    }

    #[test]
    fn customer_names_are_kept_with_the_right_extension() {
        let name = |mime, original| file_name(MediaKind::Document, false, mime, Some(original), "id1");
        assert_eq!(name("application/pdf", "Contrato firmado.pdf"), "Contrato firmado.pdf");
        assert_eq!(name("application/pdf", "Contrato firmado.PDF"), "Contrato firmado.PDF");
        assert_eq!(name("application/pdf", "Contrato"), "Contrato.pdf");
        assert_eq!(name("image/jpeg", "photo.jpeg"), "photo.jpeg");
        // Converted: a known but different extension is replaced, an unknown one kept.
        assert_eq!(name(WAV_MIME, "memo.ogg"), "memo.wav");
        assert_eq!(name(PNG_MIME, "cat.webp"), "cat.png");
        assert_eq!(name("application/pdf", "v1.2 final"), "v1.2 final.pdf");
        // Nothing usable left: fall back to a generated name.
        assert_eq!(name("application/pdf", "../.."), "document-id1.pdf");
        assert_eq!(name("application/pdf", "\u{202e}\u{7}"), "document-id1.pdf");
    }

    #[test]
    fn sanitising_removes_paths_controls_and_disguises() {
        assert_eq!(sanitize_file_name("report.pdf").as_deref(), Some("report.pdf"));
        assert_eq!(sanitize_file_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(sanitize_file_name("..\\..\\boot.ini").as_deref(), Some("boot.ini"));
        assert_eq!(sanitize_file_name("a\u{0}b\nc\u{7f}d.txt").as_deref(), Some("abcd.txt"));
        assert_eq!(
            sanitize_file_name("invoice\u{202e}fdp.exe").as_deref(),
            Some("invoicefdp.exe")
        );
        assert_eq!(
            sanitize_file_name("a<b>c:d\"e|f?g*h.txt").as_deref(),
            Some("a_b_c_d_e_f_g_h.txt")
        );
        assert_eq!(sanitize_file_name(" .hidden ").as_deref(), Some("hidden"));
        assert_eq!(sanitize_file_name("trailing.").as_deref(), Some("trailing"));
        assert_eq!(
            sanitize_file_name("résumé 履歴書.pdf").as_deref(),
            Some("résumé 履歴書.pdf")
        );
        for empty in ["", "/", "..", " . ", "dir/", "\u{200b}"] {
            assert_eq!(sanitize_file_name(empty), None, "{empty:?}");
        }
    }

    #[test]
    fn long_names_are_shortened_on_a_character_boundary_keeping_the_extension() {
        let long = format!("{}.pdf", "履".repeat(100)); // 300 bytes of stem
        let short = sanitize_file_name(&long).unwrap();
        assert!(short.len() <= MAX_FILE_NAME_BYTES, "{} bytes", short.len());
        assert!(short.ends_with("履.pdf"), "{short}");
        assert_eq!(
            short.len(),
            195 + 4,
            "65 whole three-byte characters, then the extension"
        );

        let no_extension = "x".repeat(500);
        assert_eq!(sanitize_file_name(&no_extension).unwrap().len(), MAX_FILE_NAME_BYTES);

        // Appending an extension to a name already at the limit stays within it.
        let at_limit = "y".repeat(MAX_FILE_NAME_BYTES);
        let named = file_name(MediaKind::Document, false, "application/pdf", Some(&at_limit), "id");
        assert!(named.len() <= MAX_FILE_NAME_BYTES && named.ends_with(".pdf"), "{named}");
    }
}
