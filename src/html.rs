//! HTML in `title` and `body` read as the text a browser shows (`enrich.html = true`): tags and
//! comments removed, the contents of `script`, `style`, `template`, `noscript`, `svg` and a
//! full page's `title` removed, character references decoded (`&amp;`, `&eacute;`, `&#8217;`), white space collapsed
//! as HTML does, and block elements (`<p>`, `<br>`, `<li>`, headings...) ending a line, so that a
//! paragraph ends a sentence.
//!
//! A scanner, not an HTML parser: article bodies are fragments, and reading their text needs no
//! tree. A `<` that does not start a tag (`a < b`) is text, and so is a tag left open at the end.

use std::borrow::Cow;

/// Elements whose content is not text a reader sees. Not `head`, whose end tag may be left out:
/// its other elements hold no text.
const HIDDEN: [&str; 6] = ["noscript", "script", "style", "svg", "template", "title"];

/// Elements that start and end a line of text (`td`/`th` separate cells with a space instead).
#[rustfmt::skip]
const BLOCKS: [&str; 46] = [
    "address", "article", "aside", "blockquote", "body", "br", "caption", "center", "dd", "details",
    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav",
    "ol", "p", "pre", "search", "section", "summary", "table", "tbody", "tfoot", "thead", "tr",
    "ul",
];

/// The text of `html` (see the module documentation); borrowed when it has no markup at all.
pub fn to_text(html: &str) -> Cow<'_, str> {
    let plain = !html.bytes().any(|b| matches!(b, b'<' | b'&' | b'\n' | b'\r' | b'\t' | 0x0c));
    if plain && !html.contains("  ") && html.trim_matches(' ') == html && !html.contains(SOFT_HYPHEN) {
        return Cow::Borrowed(html);
    }
    let mut out = Text::default();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_text(&rest[..at]);
        let markup = &rest[at..];
        rest = match Markup::read(markup) {
            Markup::Skip(len) => &markup[len..],
            Markup::Tag { name, closing, self_closing, len } => {
                let is_in = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(name));
                let after = &markup[len..];
                if !closing && !self_closing && is_in(&HIDDEN) {
                    skip_element(after, name)
                } else {
                    if is_in(&BLOCKS) {
                        out.line_break();
                    } else if is_in(&["td", "th"]) {
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

/// A browser shows a soft hyphen (`&shy;`) only where it breaks a line: "Tai&shy;wan" reads
/// "Taiwan", for the fingerprint and the word count too, so the text leaves it out.
const SOFT_HYPHEN: char = '\u{ad}';

/// What follows a `<`.
enum Markup<'a> {
    /// A comment, a doctype or a processing instruction, of this many bytes.
    Skip(usize),
    Tag {
        name: &'a str,
        closing: bool,
        /// Ends with `/>`: an element with no content (`<svg .../>`).
        self_closing: bool,
        len: usize,
    },
    /// Text: no letter, `/`, `!` or `?` after the `<`, or no `>` to end it.
    NotATag,
}

impl<'a> Markup<'a> {
    fn read(markup: &'a str) -> Self {
        let after = &markup[1..];
        if let Some(comment) = after.strip_prefix("!--") {
            // `<!-->` and `<!--->` are whole (empty) comments in HTML.
            let len = match comment.find('>') {
                Some(0) => 5,
                Some(1) if comment.starts_with('-') => 6,
                _ => comment.find("-->").map_or(markup.len(), |end| 4 + end + 3),
            };
            return Markup::Skip(len);
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
        // The tag ends at the first `>` outside a quoted attribute value; a quote opens one only
        // where a value starts (after `=` and any spaces), as in a browser: the apostrophe of
        // `title='Taiwan's leader'` or of `<p it's>` is a character of the tag.
        let bytes = markup.as_bytes();
        let mut quote = None;
        let mut value_starts = false;
        for (i, &b) in bytes.iter().enumerate().skip(name_at + name_len) {
            match (quote, b) {
                (Some(q), _) if q == b => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') if value_starts => quote = Some(b),
                (None, b'>') => {
                    let self_closing = bytes[i - 1] == b'/';
                    return Markup::Tag { name, closing, self_closing, len: i + 1 };
                }
                (None, b'=') => value_starts = true,
                (None, b' ' | b'\t' | b'\n' | b'\r' | 0x0c) => {}
                (None, _) => value_starts = false,
            }
        }
        Markup::NotATag
    }
}

/// What follows the end tag of element `name` (in any case) in `html`, or nothing when it is
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

/// Appends `raw` with its character references decoded as a browser does: numeric ones with
/// or without their `;` (`&#150;` is the Windows-1252 en dash, as HTML specifies; zero, a
/// surrogate or a code beyond Unicode is U+FFFD), every HTML5 named one with its `;`
/// (html-escape's table), and the legacy `&amp`, `&lt`, `&gt`, `&quot` and `&nbsp` without it
/// (see [`LEGACY`]).
/// Anything else after a `&` is text.
fn decode_references(raw: &str, out: &mut String) {
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let reference = &rest[at..];
        let (decoded, len) = numeric_reference(reference).or_else(|| named_reference(reference)).unwrap_or(('&', 1));
        out.push(decoded);
        rest = &reference[len..];
    }
    out.push_str(rest);
}

/// `&#…;` or `&#x…;` at the start of `reference`: the character and the reference's length.
fn numeric_reference(reference: &str) -> Option<(char, usize)> {
    let body = reference.strip_prefix("&#")?;
    let (radix, digits_at) = if body.starts_with(['x', 'X']) { (16, 3) } else { (10, 2) };
    let digits = reference[digits_at..].bytes().take_while(|b| (*b as char).is_digit(radix)).count();
    if digits == 0 {
        return None;
    }
    let mut len = digits_at + digits;
    if reference.as_bytes().get(len) == Some(&b';') {
        len += 1;
    }
    // Saturates: any number beyond Unicode reads as U+FFFD.
    let code = reference[digits_at..digits_at + digits]
        .chars()
        .fold(0u32, |n, d| n.saturating_mul(radix).saturating_add(d.to_digit(radix).expect("a digit")));
    let c = match code {
        0x80..=0x9F => WINDOWS_1252[(code - 0x80) as usize],
        0 => '\u{fffd}',
        code => char::from_u32(code).unwrap_or('\u{fffd}'),
    };
    Some((c, len))
}

/// `&name;` (or a legacy name without `;`) at the start of `reference`.
fn named_reference(reference: &str) -> Option<(char, usize)> {
    let name_len = reference[1..].bytes().take_while(u8::is_ascii_alphanumeric).count();
    let name = &reference[1..1 + name_len];
    if name_len > 0 && reference.as_bytes().get(1 + name_len) == Some(&b';') {
        let with_semicolon = &reference[..name_len + 2];
        let decoded = html_escape::decode_html_entities(with_semicolon);
        let mut chars = decoded.chars();
        // A name of two characters (a handful of mathematical ones) is left as written.
        if let (Some(c), None) = (chars.next(), chars.next()) {
            if decoded != with_semicolon {
                return Some((c, name_len + 2));
            }
        }
    }
    // As a browser reads text, the legacy name is taken from the front of a longer word.
    LEGACY.iter().find(|(legacy, _)| name.starts_with(legacy)).map(|&(legacy, c)| (c, 1 + legacy.len()))
}

/// The names a browser reads without their `;` (of the 106 legacy ones, those news text uses).
const LEGACY: [(&str, char); 5] = [("amp", '&'), ("lt", '<'), ("gt", '>'), ("nbsp", '\u{a0}'), ("quot", '"')];

/// Numeric references 128 to 159 name the Windows-1252 characters of those bytes (the HTML
/// standard's table): pages converted from that code page write them for quotes and dashes.
#[rustfmt::skip]
const WINDOWS_1252: [char; 32] = [
    '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2c6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}', '\u{8f}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}', '\u{178}',
];

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
        let text = if raw.contains('&') || raw.contains(SOFT_HYPHEN) {
            decoded.clear();
            decode_references(raw, &mut decoded);
            decoded.retain(|c| c != SOFT_HYPHEN);
            decoded.as_str()
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
        assert_eq!(to_text("<center>Taiwan</center><center>Strait</center>"), "Taiwan\nStrait");
        // A quote opens a value only where one starts: an apostrophe inside a value or among
        // the attributes is a character of the tag, which ends at the next `>`.
        assert_eq!(to_text("<a title='Taiwan's leader'>Tsai</a> said it's <p it's>calm"), "Tsai said it's\ncalm");
        assert_eq!(to_text("<a title = \"x > y\" data-z=a'b>link</a>"), "link");
        assert_eq!(to_text("<table><tr><td>a</td><td>b</td></tr></table>"), "a b");
    }

    #[test]
    fn references_are_decoded() {
        assert_eq!(
            to_text("Xi &amp; Biden&nbsp;met &#8220;today&#x201D; in Bras&iacute;lia &lt;p&gt;"),
            "Xi & Biden\u{a0}met \u{201c}today\u{201d} in Brasília <p>"
        );
        // An unknown reference stays as written.
        assert_eq!(to_text("AT&T &nosuch; x &#; &#xg;"), "AT&T &nosuch; x &#; &#xg;");
        // Numeric ones as a browser reads them: Windows-1252 for 128-159, no `;` needed, and
        // U+FFFD for zero, a surrogate or a code beyond Unicode.
        assert_eq!(
            to_text("Cross&#150;strait &#147;talks&#148; &#8217s"),
            "Cross\u{2013}strait \u{201c}talks\u{201d} \u{2019}s"
        );
        assert_eq!(
            to_text("a&#0;b&#xD800;c&#99999999999999999999;d&#x110000;"),
            "a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}"
        );
        // The legacy names a browser reads without `;`.
        assert_eq!(to_text("Xi &amp Biden&nbspmet &lt;&gt &quot;x&quot"), "Xi & Biden\u{a0}met <> \"x\"");
        // Soft hyphens, as references or as characters, are left out as a browser shows them.
        assert_eq!(to_text("Tai&shy;wan Str&#173;ait Tai\u{ad}pei &shy; x"), "Taiwan Strait Taipei x");
        assert_eq!(to_text("Tai\u{ad}wan"), "Taiwan");
    }

    #[test]
    fn hidden_elements_comments_and_doctypes_are_removed() {
        let html = "<!DOCTYPE html><!-- a <p> comment --><style>p { color: red }</style>Text<script type=\"x\">if (a < b) { x = '</p>'; }</script> after<SCRIPT>y</Script>.<noscript>Enable JS</noscript>";
        assert_eq!(to_text(html), "Text after.");
        assert_eq!(to_text("a <script>never closed"), "a", "an unclosed hidden element hides the rest");
        assert_eq!(to_text("a <!-- never closed"), "a");
        // A hidden element written self-closing has no content.
        assert_eq!(to_text("<p>Share <svg viewBox='0 0 1 1'/></p><p>Taiwan Strait</p>"), "Share\nTaiwan Strait");
        // `<!-->` and `<!--->` are whole comments; a full page's head is not text.
        assert_eq!(to_text("Intro<!--><p>Taiwan</p><!--->x"), "Intro\nTaiwan\nx");
        assert_eq!(
            to_text("<html><head><title>Site</title><meta charset=utf-8></head><body><p>Text</p></body></html>"),
            "Text"
        );
        assert_eq!(to_text("<html><head><title>Site</title><body><p>Text</p>"), "Text", "a head left open");
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
        fn any_text_converts_without_panicking(s in "(<[/!?a-zA-Z-]{0,4}|[a-z]{1,3}|&[#a-zA-Z0-9]{0,5};?|&shy;|\u{ad}|[ \"'>\n]|é|😀){0,40}") {
            let text = to_text(&s);
            proptest::prop_assert!(!text.starts_with([' ', '\n']) && !text.ends_with('\n'), "{:?}", text);
        }
    }
}
