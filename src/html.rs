//! HTML in `title` and `body` read as the text a browser shows (`enrich.html = true`): tags and
//! comments removed, the contents of `script`, `style`, `template`, `noscript` and `svg`
//! removed, character references decoded (`&amp;`, `&eacute;`, `&#8217;`), white space collapsed
//! as HTML does, and block elements (`<p>`, `<br>`, `<li>`, headings...) ending a line, so that a
//! paragraph ends a sentence.
//!
//! A scanner, not an HTML parser: article bodies are fragments, and reading their text needs no
//! tree. A `<` that does not start a tag (`a < b`) is text, and so is a tag left open at the end.

use std::borrow::Cow;

/// Elements whose content is not text a reader sees.
const HIDDEN: [&str; 5] = ["noscript", "script", "style", "svg", "template"];

/// Elements that start and end a line of text (`td`/`th` separate cells with a space instead).
#[rustfmt::skip]
const BLOCKS: [&str; 34] = [
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "tr", "ul",
];

/// The text of `html` (see the module documentation); borrowed when it has no markup at all.
pub fn to_text(html: &str) -> Cow<'_, str> {
    let plain = !html.bytes().any(|b| matches!(b, b'<' | b'&' | b'\n' | b'\r' | b'\t' | 0x0c));
    if plain && !html.contains("  ") && html.trim_matches(' ') == html {
        return Cow::Borrowed(html);
    }
    let mut out = Text::default();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_text(&rest[..at]);
        let markup = &rest[at..];
        rest = match Markup::read(markup) {
            Markup::Skip(len) => &markup[len..],
            Markup::Tag { name, closing, len } => {
                let lower = name.to_ascii_lowercase();
                let after = &markup[len..];
                if !closing && HIDDEN.contains(&lower.as_str()) {
                    skip_element(after, &lower)
                } else {
                    if BLOCKS.contains(&lower.as_str()) {
                        out.line_break();
                    } else if matches!(lower.as_str(), "td" | "th") {
                        out.space();
                    }
                    after
                }
            }
            Markup::NotATag => {
                out.push_text("<");
                &markup[1..]
            }
        };
    }
    out.push_text(rest);
    Cow::Owned(out.finish())
}

/// What follows a `<`.
enum Markup<'a> {
    /// A comment, a doctype or a processing instruction, of this many bytes.
    Skip(usize),
    Tag {
        name: &'a str,
        closing: bool,
        len: usize,
    },
    /// Text: no letter, `/`, `!` or `?` after the `<`, or no `>` to end it.
    NotATag,
}

impl<'a> Markup<'a> {
    fn read(markup: &'a str) -> Self {
        let after = &markup[1..];
        if let Some(comment) = after.strip_prefix("!--") {
            return Markup::Skip(comment.find("-->").map_or(markup.len(), |end| 4 + end + 3));
        }
        if after.starts_with(['!', '?']) {
            return after.find('>').map_or(Markup::NotATag, |end| Markup::Skip(end + 2));
        }
        let (closing, name_at) = if after.starts_with('/') { (true, 2) } else { (false, 1) };
        let name_len = markup[name_at..].bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'-').count();
        if name_len == 0 || !markup.as_bytes()[name_at].is_ascii_alphabetic() {
            return Markup::NotATag;
        }
        let name = &markup[name_at..name_at + name_len];
        // The tag ends at the first `>` outside a quoted attribute value.
        let mut quote = None;
        for (i, b) in markup.bytes().enumerate().skip(name_at + name_len) {
            match (quote, b) {
                (None, b'"' | b'\'') => quote = Some(b),
                (Some(q), _) if q == b => quote = None,
                (None, b'>') => return Markup::Tag { name, closing, len: i + 1 },
                _ => {}
            }
        }
        Markup::NotATag
    }
}

/// What follows the end tag of element `name` (lower case) in `html`, or nothing when it is
/// never closed.
fn skip_element<'a>(html: &'a str, name: &str) -> &'a str {
    let mut rest = html;
    while let Some(at) = rest.find("</") {
        let tail = &rest[at + 2..];
        let matches_name =
            tail.len() >= name.len() && tail.as_bytes()[..name.len()].eq_ignore_ascii_case(name.as_bytes());
        if matches_name && !tail.as_bytes().get(name.len()).is_some_and(u8::is_ascii_alphanumeric) {
            return tail.find('>').map_or("", |end| &tail[end + 1..]);
        }
        rest = tail;
    }
    ""
}

/// The index of the first byte of `bytes` from `at` that is a space or an ASCII control
/// character, or the length: eight bytes at a time, as article text is mostly words.
fn next_space_or_control(bytes: &[u8], at: usize) -> usize {
    use crate::swar::{splat, HIGH};
    let mut i = at;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // Bytes below 0x21: the lowest flagged byte is exact (a borrow only flags bytes above a
        // true one), and bytes from 0x80 never flag.
        let below = x.wrapping_sub(splat(0x21)) & !x & HIGH;
        if below != 0 {
            return i + (below.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + bytes[i..].iter().position(|&b| b <= b' ').unwrap_or(bytes.len() - i)
}

/// The text being written: white space collapsed, lines trimmed.
#[derive(Default)]
struct Text {
    out: String,
    /// White space seen since the last character written, to be one space before the next.
    pending_space: bool,
    decoded: String,
}

impl Text {
    /// Text between tags: references decoded, HTML white space (space, tab, line breaks, form
    /// feed) collapsed to one space.
    fn push_text(&mut self, raw: &str) {
        let mut decoded = std::mem::take(&mut self.decoded);
        let text = if raw.contains('&') {
            decoded.clear();
            html_escape::decode_html_entities_to_string(raw, &mut decoded)
        } else {
            raw
        };
        // Runs of text with single spaces inside are copied whole; other white space is one
        // space before the next text on the line.
        let bytes = text.as_bytes();
        let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c);
        let mut i = 0;
        while i < bytes.len() {
            if space(bytes[i]) {
                self.pending_space = true;
                i += 1;
                continue;
            }
            let start = i;
            loop {
                i = next_space_or_control(bytes, i);
                match bytes.get(i) {
                    // A control character is text, and so is a single space before more text.
                    Some(&b) if !space(b) => i += 1,
                    Some(b' ') if bytes.get(i + 1).is_some_and(|&b| !space(b)) => i += 1,
                    _ => break,
                }
            }
            if self.pending_space && !self.out.is_empty() && !self.out.ends_with('\n') {
                self.out.push(' ');
            }
            self.pending_space = false;
            self.out.push_str(&text[start..i]);
        }
        self.decoded = decoded;
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    fn line_break(&mut self) {
        self.pending_space = false;
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    fn finish(mut self) -> String {
        while self.out.ends_with('\n') {
            self.out.pop();
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn tags_are_removed_and_blocks_end_lines() {
        let html = "<div class=\"story\"><h1>Taiwan  talks</h1>\n<p>Officials met <b>on\n  Monday</b>.<br/>They spoke.</p><ul><li>One</li><li>Two</li></ul></div>";
        assert_eq!(to_text(html), "Taiwan talks\nOfficials met on Monday.\nThey spoke.\nOne\nTwo");
        // Inline elements join their text as a browser does.
        assert_eq!(to_text("Tai<span>wan</span> <a href='x>y'>Strait</a>"), "Taiwan Strait");
        assert_eq!(to_text("<table><tr><td>a</td><td>b</td></tr></table>"), "a b");
    }

    #[test]
    fn references_are_decoded() {
        assert_eq!(
            to_text("Xi &amp; Biden&nbsp;met &#8220;today&#x201D; in Bras&iacute;lia &lt;p&gt;"),
            "Xi & Biden\u{a0}met \u{201c}today\u{201d} in Brasília <p>"
        );
        // An unknown or unterminated reference stays as written.
        assert_eq!(to_text("AT&T &nosuch; x"), "AT&T &nosuch; x");
    }

    #[test]
    fn hidden_elements_comments_and_doctypes_are_removed() {
        let html = "<!DOCTYPE html><!-- a <p> comment --><style>p { color: red }</style>Text<script type=\"x\">if (a < b) { x = '</p>'; }</script> after<SCRIPT>y</Script>.<noscript>Enable JS</noscript>";
        assert_eq!(to_text(html), "Text after.");
        assert_eq!(to_text("a <script>never closed"), "a", "an unclosed hidden element hides the rest");
        assert_eq!(to_text("a <!-- never closed"), "a");
    }

    #[test]
    fn a_less_than_sign_that_starts_no_tag_is_text() {
        assert_eq!(to_text("if a < b and c <= d, 3<4"), "if a < b and c <= d, 3<4");
        assert_eq!(to_text("a <b unterminated"), "a <b unterminated");
        assert_eq!(to_text("x </ y"), "x </ y");
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(to_text("Taiwan Strait talks"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(to_text("  two\n\nlines  "), "two lines", "source line breaks are white space in HTML");
        assert_eq!(to_text("<p></p><br>"), "");
    }

    proptest::proptest! {
        #[test]
        fn the_space_scan_finds_the_first_space_or_control(bytes in proptest::collection::vec(proptest::sample::select(vec![b'a', b' ', b'\t', 0x01, 0x20, 0x21, 0x7f, 0x80, 0xc3, 0xff]), 0..40), at in 0usize..40) {
            let at = at.min(bytes.len());
            let want = bytes[at..].iter().position(|&b| b <= b' ').map_or(bytes.len(), |p| at + p);
            proptest::prop_assert_eq!(super::next_space_or_control(&bytes, at), want);
        }

        #[test]
        fn any_text_converts_without_panicking(s in "(<[/!?a-zA-Z-]{0,4}|[a-z]{1,3}|&[#a-zA-Z0-9]{0,5};?|[ \"'>\n]|é|😀){0,40}") {
            let text = to_text(&s);
            proptest::prop_assert!(!text.starts_with([' ', '\n']) && !text.ends_with('\n'), "{:?}", text);
        }
    }
}
