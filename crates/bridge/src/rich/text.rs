//! Length units and grapheme-safe truncation, shared by everything in [`crate::rich`].
//!
//! Each service counts length its own way: Connect's limits are configurable in bytes or characters,
//! and Meta documents WhatsApp's in "characters" without saying which. A cut must never land inside a
//! character or a grapheme cluster (a flag, a skin-toned or family emoji), or the customer sees broken
//! glyphs; so every cut here walks grapheme clusters.

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// How a length limit is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Unit {
    /// UTF-8 bytes.
    Bytes,
    /// Unicode scalar values (Rust `char`s).
    Chars,
    /// UTF-16 code units. Never less than [`Unit::Chars`], so a text that fits in UTF-16 units fits
    /// whichever of the two a service really counts: used for Meta's field limits, which are ambiguous.
    Utf16,
}

impl Unit {
    pub fn measure(self, text: &str) -> usize {
        match self {
            Unit::Bytes => text.len(),
            Unit::Chars => text.chars().count(),
            Unit::Utf16 => text.encode_utf16().count(),
        }
    }
}

/// Appended to whatever was cut short.
pub const ELLIPSIS: &str = "…";

/// `text` cut to at most `max` units, ending with [`ELLIPSIS`] when anything was cut.
///
/// The cut falls between grapheme clusters and trailing whitespace before the ellipsis is dropped.
/// When not even the ellipsis fits, the result is empty.
pub fn truncate(text: &str, max: usize, unit: Unit) -> String {
    if unit.measure(text) <= max {
        return text.to_owned();
    }
    let ellipsis = unit.measure(ELLIPSIS);
    if max < ellipsis {
        return String::new();
    }
    let budget = max - ellipsis;
    let mut used = 0;
    let mut end = 0;
    for (at, grapheme) in text.grapheme_indices(true) {
        let size = unit.measure(grapheme);
        if used + size > budget {
            break;
        }
        used += size;
        end = at + grapheme.len();
    }
    let mut out = text[..end].trim_end().to_owned();
    out.push_str(ELLIPSIS);
    out
}

/// [`truncate`] in [`Unit::Utf16`], the safe reading of a WhatsApp field limit.
pub fn fit(text: &str, max: usize) -> String {
    truncate(text, max, Unit::Utf16)
}

/// All runs of whitespace (line breaks included) as single spaces, trimmed: for one-line quotes.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_count_differently() {
        let text = "aé👍🏽";
        assert_eq!(Unit::Bytes.measure(text), 1 + 2 + 4 + 4);
        assert_eq!(Unit::Chars.measure(text), 4);
        assert_eq!(Unit::Utf16.measure(text), 1 + 1 + 2 + 2);
    }

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(truncate("Apple", 5, Unit::Chars), "Apple");
        assert_eq!(truncate("", 0, Unit::Bytes), "");
    }

    #[test]
    fn cut_ends_with_ellipsis_within_the_limit() {
        let cut = truncate("Check self-service options", 20, Unit::Chars);
        assert_eq!(cut, "Check self-service…");
        assert!(Unit::Chars.measure(&cut) <= 20);
        assert_eq!(truncate("abcdef", 4, Unit::Chars), "abc…");
        assert_eq!(truncate("abcdef", 1, Unit::Chars), "…");
        assert_eq!(truncate("abcdef", 0, Unit::Chars), "");
        assert_eq!(truncate("abcdef", 2, Unit::Bytes), "");
    }

    #[test]
    fn never_splits_a_grapheme() {
        // The family emoji is one grapheme of 7 chars / 11 UTF-16 units: it goes whole or not at all.
        let family = "👨‍👩‍👧‍👦";
        let text = format!("ab{family}cd");
        assert_eq!(truncate(&text, 9, Unit::Chars), "ab…");
        assert_eq!(truncate(&text, 10, Unit::Chars), format!("ab{family}…"));
        let flags = "🇪🇸🇲🇽🇦🇷";
        assert_eq!(truncate(flags, 5, Unit::Utf16), "🇪🇸…");
        assert_eq!(truncate("ñandú", 5, Unit::Bytes), "ñ…");
    }

    #[test]
    fn fit_counts_utf16() {
        let cut = fit("👍👍👍👍👍👍👍👍👍👍👍", 20);
        assert_eq!(cut, "👍👍👍👍👍👍👍👍👍…");
        assert!(Unit::Utf16.measure(&cut) <= 20);
    }

    #[test]
    fn one_line_collapses_whitespace() {
        assert_eq!(one_line("  a\n\n b\tc "), "a b c");
    }
}
