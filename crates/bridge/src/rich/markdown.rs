//! Agent markdown (`text/markdown` from Connect) → WhatsApp's own formatting marks.
//!
//! Agents write CommonMark in the Connect workspace; WhatsApp shows `**bold**` literally but has its own
//! marks (`*bold*`, `_italic_`, `~strike~`, `` `code` ``, ```` ```block``` ````). The text is parsed with
//! a real CommonMark parser rather than patched with patterns, because nested emphasis, code spans that
//! contain stars and links with brackets in their text defeat patterns.
//!
//! WhatsApp has no escape syntax, so nothing is escaped: a markdown-escaped `\*` becomes a literal `*`.
//! A message that uses no markdown at all is returned byte for byte, so plain agent text never changes.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use std::ops::Range;

/// `markdown` in WhatsApp's formatting.
pub fn to_whatsapp(markdown: &str) -> String {
    let parser = || Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH).into_offset_iter();
    if is_plain(markdown, parser()) {
        return markdown.to_owned();
    }
    let mut writer = Writer::new(markdown);
    for (event, range) in parser() {
        writer.event(event, range);
    }
    writer.finish()
}

/// Whether the text is only paragraphs of literal text: no marks, no escapes, no entities.
///
/// An escape shows as a gap between two pieces of text holding the backslash, an entity as a text
/// that differs from its source; gaps of whitespace alone are line indentation and keep the text plain.
fn is_plain<'a>(source: &str, events: impl Iterator<Item = (Event<'a>, Range<usize>)>) -> bool {
    let mut last_end: Option<usize> = None;
    for (event, range) in events {
        let literal = match &event {
            Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) => {
                last_end = None;
                continue;
            }
            Event::SoftBreak => true,
            Event::Text(text) => source.get(range.clone()) == Some(&**text),
            _ => false,
        };
        let contiguous =
            last_end.is_none_or(|end| source.get(end..range.start).is_some_and(|gap| gap.trim().is_empty()));
        if !(literal && contiguous) {
            return false;
        }
        last_end = Some(range.end);
    }
    true
}

/// The separation owed before the next content, strongest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    None,
    Line,
    Blank,
}

#[derive(Debug, Clone, Copy)]
enum Style {
    Bold,
    Italic,
    Strike,
}

impl Style {
    fn mark(self) -> &'static str {
        match self {
            Style::Bold => "*",
            Style::Italic => "_",
            Style::Strike => "~",
        }
    }
}

enum Code {
    /// A fenced block: its text is collected and written between ``` marks.
    Fenced(String),
    /// An indented block, already copied from the source: its text events are ignored.
    Verbatim,
}

struct Writer<'s> {
    source: &'s str,
    out: String,
    gap: Gap,
    /// The next number of each open list (`None` for bullet lists), innermost last.
    lists: Vec<Option<u64>>,
    quotes: usize,
    /// How many of each [`Style`] are open.
    styles: [usize; 3],
    /// Open links and images: destination and where their text starts in `out`.
    links: Vec<(String, usize)>,
    code: Option<Code>,
    /// The source range of the event being written.
    current: Range<usize>,
    /// Where the last finished block ended in the source.
    last_block_end: Option<usize>,
}

impl<'s> Writer<'s> {
    fn new(source: &'s str) -> Self {
        Self {
            source,
            out: String::with_capacity(source.len()),
            gap: Gap::None,
            lists: Vec::new(),
            quotes: 0,
            styles: [0; 3],
            links: Vec::new(),
            code: None,
            current: 0..0,
            last_block_end: None,
        }
    }

    fn finish(self) -> String {
        self.out.trim_end().to_owned()
    }

    /// What starts every new line: quote marks, then two spaces per level of list indentation.
    fn line_start(&mut self, indent: usize) {
        for _ in 0..self.quotes {
            self.out.push_str("> ");
        }
        for _ in 0..indent {
            self.out.push_str("  ");
        }
    }

    /// Writes the separation owed before new content; a message never starts with one.
    fn separate(&mut self, at_least: Gap, indent: usize) {
        let mut gap = self.gap.max(at_least);
        self.gap = Gap::None;
        if self.out.is_empty() || gap == Gap::None {
            return;
        }
        if gap == Gap::Blank && !self.blank_line_in_source() {
            // The agent wrote the blocks on consecutive lines (a heading or a list right under a
            // line of text): keep them that close.
            gap = Gap::Line;
        }
        if gap == Gap::Blank {
            self.out.push('\n');
            for _ in 0..self.quotes {
                self.out.push('>');
            }
        }
        self.out.push('\n');
        self.line_start(indent);
    }

    /// Before inline content or a block: continuation lines of a list item are indented under its text.
    fn begin(&mut self) {
        self.separate(Gap::None, self.lists.len());
    }

    /// After a block: inside lists the next block is a line away, elsewhere a blank line.
    fn end_block(&mut self) {
        self.gap = if self.lists.is_empty() { Gap::Blank } else { Gap::Line };
        self.last_block_end = Some(self.current.end);
    }

    /// Whether a blank line separates the last finished block from the current event in the source.
    fn blank_line_in_source(&self) -> bool {
        let Some(end) = self.last_block_end else {
            return true;
        };
        let from = self.source.get(..end).map_or(0, |before| before.trim_end().len());
        self.source
            .get(from..self.current.start.max(from))
            .is_none_or(|between| between.matches('\n').count() >= 2)
    }

    fn open(&mut self, style: Style) {
        self.begin();
        let depth = &mut self.styles[style as usize];
        // WhatsApp does not nest a mark in itself: only the outermost pair is written.
        if *depth == 0 {
            self.out.push_str(style.mark());
        }
        *depth += 1;
    }

    fn close(&mut self, style: Style) {
        let depth = &mut self.styles[style as usize];
        if *depth == 1 {
            self.out.push_str(style.mark());
        }
        *depth = depth.saturating_sub(1);
    }

    fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        self.current = range.clone();
        if let Some(code) = self.code.as_mut() {
            match (event, code) {
                (Event::Text(text), Code::Fenced(collected)) => collected.push_str(&text),
                (Event::End(TagEnd::CodeBlock), _) => {
                    if let Some(Code::Fenced(collected)) = self.code.take() {
                        self.out.push_str("```");
                        self.out.push_str(collected.trim_end_matches('\n'));
                        self.out.push_str("```");
                    }
                    self.code = None;
                    self.end_block();
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag, range),
            Event::End(tag) => self.end(tag),
            Event::Text(text)
            | Event::InlineMath(text)
            | Event::DisplayMath(text)
            | Event::Html(text)
            | Event::InlineHtml(text) => {
                self.begin();
                self.out.push_str(&text);
            }
            Event::Code(code) => {
                self.begin();
                self.out.push('`');
                self.out.push_str(&code);
                self.out.push('`');
            }
            Event::SoftBreak | Event::HardBreak => {
                self.out.push('\n');
                let indent = self.lists.len();
                self.line_start(indent);
            }
            Event::Rule => {
                self.begin();
                self.out.push_str("———");
                self.end_block();
            }
            Event::TaskListMarker(done) => {
                self.begin();
                self.out.push_str(if done { "☑ " } else { "☐ " });
            }
            Event::FootnoteReference(label) => {
                self.begin();
                self.out.push('[');
                self.out.push_str(&label);
                self.out.push(']');
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>, range: Range<usize>) {
        match tag {
            Tag::Heading { .. } => {
                self.open(Style::Bold);
            }
            Tag::BlockQuote(_) => {
                self.begin();
                self.quotes += 1;
                self.out.push_str("> ");
            }
            Tag::CodeBlock(CodeBlockKind::Fenced(_)) => {
                self.begin();
                self.code = Some(Code::Fenced(String::new()));
            }
            Tag::CodeBlock(CodeBlockKind::Indented) => {
                // Indentation in chat is hardly ever meant as code: keep the lines as the agent wrote them.
                self.begin();
                // The block's range starts after the first line's indentation: take the whole line.
                let line_start = self.source[..range.start].rfind('\n').map_or(0, |at| at + 1);
                let source = self.source.get(line_start..range.end).unwrap_or_default();
                self.out.push_str(source.trim_end());
                self.code = Some(Code::Verbatim);
            }
            Tag::List(first) => self.lists.push(first),
            Tag::Item => {
                let indent = self.lists.len().saturating_sub(1);
                self.separate(Gap::Line, indent);
                match self.lists.last_mut() {
                    Some(Some(number)) => {
                        let marker = format!("{number}. ");
                        *number += 1;
                        self.out.push_str(&marker);
                    }
                    _ => self.out.push_str("• "),
                }
            }
            Tag::Emphasis => {
                self.open(Style::Italic);
            }
            Tag::Strong => {
                self.open(Style::Bold);
            }
            Tag::Strikethrough => {
                self.open(Style::Strike);
            }
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.begin();
                self.links.push((dest_url.to_string(), self.out.len()));
            }
            _ => self.begin(),
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => self.end_block(),
            TagEnd::Heading(_) => {
                self.close(Style::Bold);
                self.end_block();
            }
            TagEnd::BlockQuote(_) => {
                self.quotes = self.quotes.saturating_sub(1);
                self.end_block();
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.end_block();
            }
            TagEnd::Item => self.gap = Gap::Line,
            TagEnd::Emphasis => {
                self.close(Style::Italic);
            }
            TagEnd::Strong => {
                self.close(Style::Bold);
            }
            TagEnd::Strikethrough => {
                self.close(Style::Strike);
            }
            TagEnd::Link | TagEnd::Image => {
                if let Some((url, text_start)) = self.links.pop() {
                    self.close_link(&url, text_start);
                }
            }
            _ => {}
        }
    }

    /// `text (url)`, or the bare url when the text says nothing more than the url itself.
    fn close_link(&mut self, url: &str, text_start: usize) {
        if url.is_empty() {
            return;
        }
        let text = &self.out[text_start..];
        if text.trim().is_empty() {
            self.out.truncate(text_start);
            self.out.push_str(url);
            return;
        }
        let bare = |scheme: &str| url.strip_prefix(scheme) == Some(text);
        if !(text == url || bare("mailto:") || bare("tel:")) {
            self.out.push_str(" (");
            self.out.push_str(url);
            self.out.push(')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_untouched() {
        for text in [
            "Hola, ¿en qué puedo ayudarte?",
            "Line one\nLine two\n\n\nAfter three breaks   ",
            "Line\n   indented continuation",
            "snake_case_name and 2 * 3 * 4 = 24",
            "Price: $5 (approx.) — see https://example.com/a_b_c",
            "👍🏽 emoji 👨‍👩‍👧‍👦",
            "",
        ] {
            assert_eq!(to_whatsapp(text), text);
        }
    }

    #[test]
    fn emphasis_marks() {
        assert_eq!(to_whatsapp("**bold** and __bold__"), "*bold* and *bold*");
        assert_eq!(to_whatsapp("*italic* and _italic_"), "_italic_ and _italic_");
        assert_eq!(to_whatsapp("~~strike~~"), "~strike~");
        assert_eq!(to_whatsapp("***both***"), "_*both*_");
        assert_eq!(
            to_whatsapp("**bold with *italic* inside**"),
            "*bold with _italic_ inside*"
        );
        assert_eq!(to_whatsapp("**outer **inner** outer**"), "*outer inner outer*");
    }

    #[test]
    fn code() {
        assert_eq!(to_whatsapp("run `ls *`"), "run `ls *`");
        assert_eq!(
            to_whatsapp("Try:\n\n```sh\nls -la\ncd /tmp\n```\n\nDone"),
            "Try:\n\n```ls -la\ncd /tmp```\n\nDone"
        );
        assert_eq!(
            to_whatsapp("**Note**\n\n    indented stays\n    as written"),
            "*Note*\n\n    indented stays\n    as written"
        );
    }

    #[test]
    fn lists() {
        assert_eq!(
            to_whatsapp("**Pasos:**\n1. Abre la app\n2. Ve a *Pedidos*"),
            "*Pasos:*\n1. Abre la app\n2. Ve a _Pedidos_"
        );
        assert_eq!(to_whatsapp("- one\n- two\n* three"), "• one\n• two\n• three");
        assert_eq!(to_whatsapp("3. three\n4. four"), "3. three\n4. four");
        assert_eq!(
            to_whatsapp("- fruit\n  - apple\n  - pear\n- veg"),
            "• fruit\n  • apple\n  • pear\n• veg"
        );
        assert_eq!(
            to_whatsapp("- first\n\n- second\n\nAfter"),
            "• first\n• second\n\nAfter"
        );
    }

    #[test]
    fn links() {
        assert_eq!(
            to_whatsapp("See [our FAQ](https://example.com/faq)."),
            "See our FAQ (https://example.com/faq)."
        );
        assert_eq!(
            to_whatsapp("[https://example.com](https://example.com)"),
            "https://example.com"
        );
        assert_eq!(to_whatsapp("<https://example.com>"), "https://example.com");
        assert_eq!(to_whatsapp("<help@example.com>"), "help@example.com");
        assert_eq!(to_whatsapp("[](https://example.com)"), "https://example.com");
        assert_eq!(
            to_whatsapp("![logo](https://example.com/l.png)"),
            "logo (https://example.com/l.png)"
        );
        assert_eq!(
            to_whatsapp("[**bold link**](https://x.io)"),
            "*bold link* (https://x.io)"
        );
    }

    #[test]
    fn headings_quotes_rules() {
        assert_eq!(to_whatsapp("# Title\nBody"), "*Title*\nBody");
        assert_eq!(to_whatsapp("# Title\n\nBody"), "*Title*\n\nBody");
        assert_eq!(to_whatsapp("## Sub **bold**"), "*Sub bold*");
        assert_eq!(to_whatsapp("> quoted\n> more\n\nreply"), "> quoted\n> more\n\nreply");
        assert_eq!(to_whatsapp("above\n\n---\n\nbelow"), "above\n\n———\n\nbelow");
    }

    #[test]
    fn escapes_and_entities_are_resolved_not_reescaped() {
        assert_eq!(to_whatsapp(r"not \*bold\*"), "not *bold*");
        assert_eq!(to_whatsapp("AT&amp;T"), "AT&T");
    }
}
