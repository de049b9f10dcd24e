//! Splitting a long message into parts that each fit a service's limit.
//!
//! A WhatsApp text carries at most 4096 characters and Connect's limit depends on the deployment (and
//! may be counted in bytes), yet agents paste long answers and customers write long complaints. Rather
//! than lose the end of a message, it is sent in order as several parts, each cut where a reader would
//! pause: between paragraphs, then lines, then sentences, then words, and only as a last resort between
//! two grapheme clusters (never inside a character or an emoji).

use super::text::Unit;
use unicode_segmentation::UnicodeSegmentation;

/// A length limit: at most `max` of `unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub unit: Unit,
}

impl Limit {
    pub const fn new(max: usize, unit: Unit) -> Self {
        Self { max, unit }
    }

    pub fn fits(&self, text: &str) -> bool {
        self.unit.measure(text) <= self.max
    }
}

/// A WhatsApp text body: 4096 characters, counted in UTF-16 units so that it holds however Meta counts.
pub const WHATSAPP_TEXT: Limit = Limit::new(4096, Unit::Utf16);

/// Cuts before a preferred boundary are only taken in the second half of the room available, so that a
/// short greeting followed by a long paragraph does not become a part of its own.
const PREFERRED_MIN_FRACTION: usize = 2;

/// How far past the room available sentence boundaries are looked for: the Unicode sentence rules need
/// to see what follows a full stop to decide whether it ends a sentence.
const SENTENCE_LOOKAHEAD_BYTES: usize = 256;

/// `text` as parts that each fit `limit`, in order, none empty.
///
/// A text that fits is returned whole and untouched. Otherwise whitespace at each cut is dropped.
/// A single grapheme cluster larger than the whole limit (possible only with absurdly small limits) is
/// still sent whole as a part of its own, because cutting it would corrupt it.
pub fn split(text: &str, limit: Limit) -> Vec<String> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    if limit.fits(text) {
        return vec![text.to_owned()];
    }
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if limit.fits(rest) {
            parts.push(rest.to_owned());
            break;
        }
        let room = room(rest, limit);
        let cut = best_cut(rest, room);
        let part = rest[..cut].trim_end();
        if !part.is_empty() {
            parts.push(part.to_owned());
        }
        rest = rest[cut..].trim_start();
    }
    parts
}

/// The byte length of the longest run of whole grapheme clusters at the start of `text` that fits, or
/// of the first cluster alone when not even that fits.
fn room(text: &str, limit: Limit) -> usize {
    let mut used = 0;
    let mut end = 0;
    for (at, grapheme) in text.grapheme_indices(true) {
        let size = limit.unit.measure(grapheme);
        if used + size > limit.max {
            break;
        }
        used += size;
        end = at + grapheme.len();
    }
    if end == 0 {
        text.graphemes(true).next().map_or(text.len(), str::len)
    } else {
        end
    }
}

/// Where to cut `text` so that the part before the cut is at most `room` bytes: always in `1..=room`.
fn best_cut(text: &str, room: usize) -> usize {
    let min = room / PREFERRED_MIN_FRACTION;
    let has_content = |cut: usize| !text[..cut].trim().is_empty();
    let preferred = [
        paragraph_cut(text, room, min),
        line_cut(text, room, min),
        sentence_cut(text, room, min),
    ];
    preferred
        .into_iter()
        .flatten()
        .find(|&cut| has_content(cut))
        .or_else(|| word_cut(text, room).filter(|&cut| has_content(cut)))
        .unwrap_or(room)
}

/// The last blank line starting within the room.
fn paragraph_cut(text: &str, room: usize, min: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let last = room.min(bytes.len().saturating_sub(1));
    // `\n` is one byte, so the byte after it always starts a character.
    (min..=last)
        .rev()
        .filter(|&at| bytes[at] == b'\n')
        .find(|&at| text[at + 1..].trim_start_matches([' ', '\t', '\r']).starts_with('\n'))
}

/// The last line break within the room.
fn line_cut(text: &str, room: usize, min: usize) -> Option<usize> {
    text[..room].rfind('\n').filter(|&at| at >= min && at > 0)
}

/// The last sentence boundary within the room, by the Unicode sentence rules (UAX #29).
fn sentence_cut(text: &str, room: usize, min: usize) -> Option<usize> {
    let mut window_end = (room + SENTENCE_LOOKAHEAD_BYTES).min(text.len());
    while !text.is_char_boundary(window_end) {
        window_end += 1;
    }
    let window = &text[..window_end];
    window
        .split_sentence_bound_indices()
        .map(|(at, _)| at)
        // The window's own end is not a boundary unless the text really ends there.
        .filter(|&at| at > 0 && at <= room && at >= min && (at < window_end || window_end == text.len()))
        .last()
}

/// The last whitespace within the room (a cut right before it keeps the word that precedes it whole).
fn word_cut(text: &str, room: usize) -> Option<usize> {
    if text[room..].starts_with(char::is_whitespace) {
        return Some(room);
    }
    text[..room]
        .char_indices()
        .rev()
        .find(|&(at, c)| c.is_whitespace() && at > 0)
        .map(|(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_parts_fit(parts: &[String], limit: Limit) {
        assert!(!parts.is_empty());
        for part in parts {
            assert!(limit.fits(part), "{part:?} exceeds {limit:?}");
            assert!(!part.trim().is_empty());
        }
    }

    fn words_of(text: &str) -> Vec<&str> {
        text.split_whitespace().collect()
    }

    #[test]
    fn fitting_text_is_untouched_and_blank_text_has_no_parts() {
        assert_eq!(split("  Hola  ", WHATSAPP_TEXT), vec!["  Hola  "]);
        assert!(split("", WHATSAPP_TEXT).is_empty());
        assert!(split(" \n ", Limit::new(1, Unit::Bytes)).is_empty());
    }

    #[test]
    fn prefers_paragraphs() {
        let first = "a".repeat(30);
        let second = "b".repeat(30);
        let text = format!("{first}\n\n{second}");
        assert_eq!(split(&text, Limit::new(40, Unit::Chars)), vec![first, second]);
    }

    #[test]
    fn early_paragraph_break_is_not_taken_when_a_later_sentence_fits() {
        let text = "Hi!\n\nThis is one sentence. This is another one that goes on.";
        let parts = split(text, Limit::new(40, Unit::Chars));
        assert_eq!(
            parts,
            vec!["Hi!\n\nThis is one sentence.", "This is another one that goes on."]
        );
    }

    #[test]
    fn then_lines_then_sentences_then_words() {
        let lines = "line one is here\nline two is here\nline three";
        assert_eq!(
            split(lines, Limit::new(35, Unit::Chars)),
            vec!["line one is here\nline two is here", "line three"]
        );
        let sentences = "First sentence here. Second sentence here. Third one.";
        assert_eq!(
            split(sentences, Limit::new(45, Unit::Chars)),
            vec!["First sentence here. Second sentence here.", "Third one."]
        );
        let words = "alpha beta gamma delta epsilon";
        assert_eq!(
            split(words, Limit::new(12, Unit::Chars)),
            vec!["alpha beta", "gamma delta", "epsilon"]
        );
    }

    #[test]
    fn falls_back_to_graphemes() {
        let text = "x".repeat(25);
        assert_eq!(
            split(&text, Limit::new(10, Unit::Chars)),
            vec!["x".repeat(10), "x".repeat(10), "x".repeat(5)]
        );
    }

    #[test]
    fn whatsapp_limit_with_emoji_at_the_boundary() {
        // 4095 ASCII units then an emoji of four UTF-16 units straddling the 4096 boundary.
        let text = format!("{}👍🏽tail", "a".repeat(4095));
        let parts = split(&text, WHATSAPP_TEXT);
        assert_parts_fit(&parts, WHATSAPP_TEXT);
        assert_eq!(parts[0], "a".repeat(4095));
        assert_eq!(parts[1], "👍🏽tail");
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn long_words_over_whatsapp_limit_keep_order_and_content() {
        let text = "palabra ".repeat(1200);
        let parts = split(&text, WHATSAPP_TEXT);
        assert_parts_fit(&parts, WHATSAPP_TEXT);
        assert_eq!(parts.len(), 3);
        assert_eq!(words_of(&parts.join(" ")), words_of(&text));
    }

    #[test]
    fn byte_limit_never_cuts_a_multibyte_char() {
        // "é" is 2 bytes: a 5-byte limit over "éééé" must cut after two of them.
        let parts = split("éééé", Limit::new(5, Unit::Bytes));
        assert_eq!(parts, vec!["éé", "éé"]);
        let cjk = "这是一个很长的句子。这是第二个句子。";
        let limit = Limit::new(32, Unit::Bytes);
        let parts = split(cjk, limit);
        assert_parts_fit(&parts, limit);
        assert_eq!(parts[0], "这是一个很长的句子。");
        assert_eq!(parts.concat(), cjk);
    }

    #[test]
    fn connect_limits_in_bytes_and_chars_differ() {
        let text = "ñ".repeat(100);
        assert_eq!(split(&text, Limit::new(100, Unit::Chars)).len(), 1);
        let parts = split(&text, Limit::new(100, Unit::Bytes));
        assert_eq!(parts.len(), 2);
        assert_parts_fit(&parts, Limit::new(100, Unit::Bytes));
    }

    #[test]
    fn grapheme_clusters_stay_whole() {
        let family = "👨‍👩‍👧‍👦";
        let text = family.repeat(5);
        let limit = Limit::new(30, Unit::Utf16);
        let parts = split(&text, limit);
        assert_parts_fit(&parts, limit);
        assert_eq!(parts, vec![family.repeat(2), family.repeat(2), family.to_owned()]);
        // A cluster bigger than the whole limit still goes, whole, on its own.
        assert_eq!(
            split(&format!("a{family}"), Limit::new(4, Unit::Chars)),
            vec!["a", family]
        );
    }
}
