//! Text preparation shared by tagging and sentiment: the combined document text, sentence
//! segmentation and word counting. Everything here works on byte ranges into one `&str` so that
//! tagging evidence and per-tag sentiment can refer to the same sentences without copying.

use std::ops::Range;

/// The longest prefix of `text` of at most `max_bytes` that ends at a character boundary (as
/// `str::floor_char_boundary`, stable only since Rust 1.91, above this crate's MSRV).
pub fn prefix_within(text: &str, max_bytes: usize) -> &str {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The text of one article as the enrichment stages see it: `title + "\n" + body` (or just the
/// body when there is no title), split into sentences once and shared by every stage.
#[derive(Debug)]
pub struct Document<'a> {
    /// `title + "\n" + body`; the title is `full[..title_len]`.
    pub full: &'a str,
    /// Length in bytes of the title part of `full` (0 when there is no title). The separating
    /// newline is not part of the title.
    pub title_len: usize,
    /// Byte ranges of the sentences of `full`, in order, trimmed of surrounding white space.
    /// The title is always a sentence of its own.
    pub sentences: Vec<Range<usize>>,
}

impl<'a> Document<'a> {
    /// Builds a document from the already combined text (see [`combine`]).
    pub fn new(full: &'a str, title_len: usize) -> Self {
        let mut sentences = Vec::with_capacity(full.len() / 100 + 2);
        if title_len > 0 {
            push_trimmed(full, 0..title_len, &mut sentences);
            split_sentences_into(full, title_len, &mut sentences);
        } else {
            split_sentences_into(full, 0, &mut sentences);
        }
        if crate::swar::may_hold_cjk(full.as_bytes()) {
            sentences = split_at_cjk_terminators(full, sentences);
        }
        Document { full, title_len, sentences }
    }

    /// The text of sentence `index`.
    pub fn sentence(&self, index: usize) -> &'a str {
        &self.full[self.sentences[index].clone()]
    }

    /// Index of the sentence that contains byte `offset` of `full`, if any.
    pub fn sentence_at(&self, offset: usize) -> Option<usize> {
        let i = self.sentences.partition_point(|r| r.end <= offset);
        (i < self.sentences.len() && self.sentences[i].start <= offset).then_some(i)
    }

    /// Whether byte `offset` of `full` lies in the title.
    pub fn in_title(&self, offset: usize) -> bool {
        offset < self.title_len
    }
}

/// Where `bytes` may differ from its [`NormalizedCopy`], in no particular order: white space
/// that is not a lone ASCII space (two spaces in a row, a tab, a no-break or typographic space:
/// UTF-8 `C2 A0`, `E2 80 80`–`E2 80 8A`, `E2 80 AF`, `E2 81 9F`), soft hyphens (`C2 AD`), the
/// Unicode hyphens U+2010 and U+2011 (`E2 80 90`, `E2 80 91`) and combining accents U+0300–
/// U+033F (UTF-8 `CC 80`–`CC BF`). Three vectorised scans: most texts have none, and cost only
/// these.
fn copy_seeds(text: &str, title_len: usize) -> Vec<usize> {
    static TWO_SPACES: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"  "));
    let bytes = text.as_bytes();
    let mut seeds: Vec<usize> = TWO_SPACES.find_iter(bytes).collect();
    seeds.extend(memchr::memchr_iter(b'\t', bytes));
    seeds.extend(memchr::memchr2_iter(b'\n', b'\r', bytes).filter(|&i| hard_wrap_len(text, i, title_len).is_some()));
    seeds.extend(
        memchr::memchr3_iter(0xC2, 0xE2, 0xCC, bytes)
            .filter(|&i| bytes[i] == 0xCC || wide_space_len(&bytes[i..]) > 0 || hyphen_len(&bytes[i..]).is_some()),
    );
    seeds
}

/// What a line that a sentence goes on past may not end with (see [`hard_wrap_len`]).
const SENTENCE_LINE_ENDS: [char; 15] = ['.', '!', '?', ':', ';', '"', '\'', ')', ']', '”', '’', '。', '！', '？', '」'];

/// The length of the line break at `at` (`\n`, `\r\n` or `\r`) when it only wraps a line inside
/// a sentence (plain text wrapped at a fixed width: e-mail, wire feeds): the line before it
/// ends in a character that is neither white space nor one of [`SENTENCE_LINE_ENDS`], and the
/// next line goes on in lower case ("talks with\r\nChina", "military\ntalks"). A blank line, or
/// a line that starts with a capital, a digit or a quote, ends the sentence: articles with one
/// paragraph or headline a line keep them apart. Never the line break at `title_len`, which
/// [`combine`] put between a title and its body. The sentence splitter and the taxonomy's
/// [`NormalizedCopy`] both read line breaks by this.
fn hard_wrap_len(text: &str, at: usize, title_len: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if at == title_len && title_len > 0 {
        return None;
    }
    let len = match (bytes[at], bytes.get(at + 1)) {
        (b'\r', Some(b'\n')) => 2,
        (b'\r', _) => 1,
        (b'\n', _) if at > 0 && bytes[at - 1] == b'\r' => return None,
        (b'\n', _) => 1,
        _ => return None,
    };
    // The last character of the line before, back over white space but not past a line break
    // (which makes it blank): each break looks back over its own line's trailing spaces only,
    // so a text of many breaks costs linear time.
    let last = text[..at].chars().rev().find(|&c| !c.is_whitespace() || c == '\n' || c == '\r');
    if last.is_none_or(|c| c == '\n' || c == '\r' || SENTENCE_LINE_ENDS.contains(&c)) {
        return None;
    }
    let mut next = at + len;
    while matches!(bytes.get(next), Some(b' ' | b'\t')) {
        next += 1;
    }
    bytes.get(next).is_some_and(u8::is_ascii_lowercase).then_some(len)
}

/// The length of the no-break or typographic space `bytes` starts with, or 0.
fn wide_space_len(bytes: &[u8]) -> usize {
    match bytes {
        [0xC2, 0xA0, ..] => 2,
        [0xE2, 0x80, 0x80..=0x8A | 0xAF, ..] | [0xE2, 0x81, 0x9F, ..] => 3,
        _ => 0,
    }
}

/// For a soft hyphen (U+00AD) at the start of `bytes`, `Some((2, ""))`: it is invisible unless a
/// line breaks there, so "Tai\u{ad}wan" reads "Taiwan". For the Unicode hyphen U+2010 and the
/// non-breaking hyphen U+2011, `Some((3, "-"))`: they are hyphens ("Tsai Ing\u{2011}wen").
fn hyphen_len(bytes: &[u8]) -> Option<(usize, &'static str)> {
    match bytes {
        [0xC2, 0xAD, ..] => Some((2, "")),
        [0xE2, 0x80, 0x90 | 0x91, ..] => Some((3, "-")),
        _ => None,
    }
}

/// Whether `c` is a combining accent the copy composes with its letter (U+0300–U+036F, those of
/// Latin, Greek and Cyrillic; only U+0300–U+033F start a composition, see [`copy_seeds`]).
fn is_combining_accent(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

/// The copy of a text the taxonomy matches, with the map between the byte offsets of the two:
///
/// - every run of horizontal white space other than a single space (several spaces, a tab, a
///   no-break or typographic space; not the ideographic space, which separates runs of Chinese
///   and Japanese as punctuation does), with the line breaks in it that only wrap a line inside
///   a sentence ([`hard_wrap_len`]: "military\ntalks"; other line breaks end a sentence), is one
///   ASCII space. Taxonomy phrases are written and compiled with single spaces; wire copy is
///   often double-spaced or wrapped at a fixed width, and text from HTML has no-break spaces;
/// - a letter followed by combining accents (from U+0300–U+033F, see [`copy_seeds`]) that
///   compose into one character (Unicode NFC) is that character: "Taiwa\u{301}n" as sent by sources that write decomposed text (NFD, as
///   macOS file names) is "Taiwán", as the phrases are compiled. Sequences that do not compose
///   into a single character are left as they are;
/// - a soft hyphen (U+00AD, HTML `&shy;`) is left out, and the hyphens U+2010 and U+2011 are
///   ASCII hyphens: text from typesetting systems hides them inside words and names.
#[derive(Debug)]
pub struct NormalizedCopy {
    pub text: String,
    /// `(offset in text, offset in the original)` at the start of the text and at the start and
    /// the end of each replaced run or composed character: between two marks both texts advance
    /// byte for byte.
    marks: Vec<(usize, usize)>,
}

impl NormalizedCopy {
    /// The copy of `text`, or `None` when it would be the same (most texts: one quick scan).
    /// `title_len` is where [`combine`] joined a title to its body (0: no title), as in
    /// [`Document::title_len`]: that line break always ends the title.
    pub fn of(text: &str, title_len: usize) -> Option<Self> {
        use unicode_normalization::UnicodeNormalization;
        let bytes = text.as_bytes();
        let mut seeds = copy_seeds(text, title_len);
        if seeds.is_empty() {
            return None;
        }
        seeds.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut marks = vec![(0, 0)];
        let mut copied = 0;
        for seed in seeds {
            if seed < copied {
                continue; // inside the run or the character just replaced
            }
            if bytes[seed] == 0xCC {
                // A combining accent: the letter before it and every accent after it.
                let Some((start, _)) = text[copied..seed].char_indices().next_back() else {
                    continue; // nothing, or a replaced run, to compose with
                };
                let start = copied + start;
                let end = seed
                    + text[seed..].chars().take_while(|&c| is_combining_accent(c)).map(char::len_utf8).sum::<usize>();
                let mut composed = text[start..end].nfc();
                let (Some(c), None) = (composed.next(), composed.next()) else {
                    continue;
                };
                out.push_str(&text[copied..start]);
                marks.push((out.len(), start));
                out.push(c);
                marks.push((out.len(), end));
                copied = end;
                continue;
            }
            if let Some((len, replacement)) = hyphen_len(&bytes[seed..]) {
                out.push_str(&text[copied..seed]);
                marks.push((out.len(), seed));
                out.push_str(replacement);
                marks.push((out.len(), seed + len));
                copied = seed + len;
                continue;
            }
            // Every element of a run but its single ASCII spaces and tabs is a seed, and runs are
            // taken in order, so only those need looking for before the seed.
            let mut start = seed;
            while start > copied && matches!(bytes[start - 1], b' ' | b'\t') {
                start -= 1;
            }
            let mut end = seed;
            loop {
                match bytes.get(end) {
                    Some(b' ' | b'\t') => end += 1,
                    Some(b'\n' | b'\r') => match hard_wrap_len(text, end, title_len) {
                        Some(len) => end += len,
                        None => break,
                    },
                    Some(_) if wide_space_len(&bytes[end..]) > 0 => end += wide_space_len(&bytes[end..]),
                    _ => break,
                }
            }
            out.push_str(&text[copied..start]);
            marks.push((out.len(), start));
            out.push(' ');
            marks.push((out.len(), end));
            copied = end;
        }
        if marks.len() == 1 {
            return None; // only accents that compose into nothing shorter
        }
        out.push_str(&text[copied..]);
        Some(NormalizedCopy { text: out, marks })
    }

    /// The offset in the original text of offset `at` of the copy (a replaced run's space maps
    /// to the run's start).
    pub fn to_original(&self, at: usize) -> usize {
        let (copy, original) = self.marks[self.marks.partition_point(|m| m.0 <= at) - 1];
        original + (at - copy)
    }

    /// The offset in the copy of offset `at` of the original (inside a replaced run: just after
    /// its space).
    pub fn to_copy(&self, at: usize) -> usize {
        let k = self.marks.partition_point(|m| m.1 <= at) - 1;
        let (copy, original) = self.marks[k];
        let mapped = copy + (at - original);
        self.marks.get(k + 1).map_or(mapped, |next| mapped.min(next.0))
    }

    /// `doc` over this copy: the same sentences (so sentence indices carry over), mapped.
    pub fn document(&self, doc: &Document<'_>) -> Document<'_> {
        Document {
            full: &self.text,
            title_len: self.to_copy(doc.title_len),
            sentences: doc.sentences.iter().map(|r| self.to_copy(r.start)..self.to_copy(r.end)).collect(),
        }
    }
}

/// Joins title and body the way every model sees them: `title + "\n" + body`, or the body alone
/// when the title is empty. Returns the text and the title length in bytes.
pub fn combine(title: &str, body: &str) -> (String, usize) {
    let title = title.trim();
    if title.is_empty() {
        return (body.to_owned(), 0);
    }
    let mut full = String::with_capacity(title.len() + 1 + body.len());
    full.push_str(title);
    full.push('\n');
    full.push_str(body);
    (full, title.len())
}

/// Abbreviations after which a full stop does not end a sentence (compared lower-case, without
/// the final dot).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "col", "lt", "sgt", "capt", "st", "jr", "sr", "vs",
    "etc", "inc", "ltd", "co", "corp", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "approx", "dept", "est", "fig", "mt", "rev", "ft",
    // Ranks before a name. Not the AP's state abbreviations: mid-sentence a comma follows them
    // ("Fresno, Calif., police"), so one before a capital mostly ends a sentence ("in Santa
    // Monica, Calif. Immune therapies ...").
    "adm", "maj", "cmdr", "brig", "supt", "gens",
];

/// Longer words need no comparison with the abbreviations.
const LONGEST_ABBREVIATION: usize = {
    let (mut longest, mut i) = (0, 0);
    while i < ABBREVIATIONS.len() {
        if ABBREVIATIONS[i].len() > longest {
            longest = ABBREVIATIONS[i].len();
        }
        i += 1;
    }
    longest
};

/// Bytes at which a sentence may end.
const SENTENCE_END_CANDIDATES: [u8; 5] = [b'\n', b'\r', b'.', b'!', b'?'];

/// The position of the first byte of `bytes[from..]` that may end a sentence. Eight bytes at a
/// time (SWAR): sentence ends are about a hundred bytes apart, so the scan is most of the cost
/// of segmentation.
fn next_sentence_end_candidate(bytes: &[u8], from: usize) -> Option<usize> {
    use crate::swar::{splat, zero_bytes};
    let mut i = from;
    while i + 8 <= bytes.len() {
        let x = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        // A byte of `x ^ splat(c)` is zero where `x` has `c`; the zero-byte test flags it (and
        // possibly bytes above a real match, never below one, so the lowest flag is exact).
        let found = SENTENCE_END_CANDIDATES.iter().fold(0, |acc, &c| acc | zero_bytes(x ^ splat(c)));
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes[i..].iter().position(|b| SENTENCE_END_CANDIDATES.contains(b)).map(|skip| i + skip)
}

/// Splits `text[from..]` into sentences: at line breaks, and after `.`, `!` or `?` (with any
/// closing quotes or brackets) when white space and then an upper-case letter, digit or opening
/// quote follow — unless the word before the dot is a known abbreviation or a single letter.
/// `from` is the title's length when the text starts with one ([`combine`]).
fn split_sentences_into(text: &str, from: usize, out: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let mut start = from;
    let mut i = from;
    while i < bytes.len() {
        // Skip to the next byte that can end a sentence.
        match next_sentence_end_candidate(bytes, i) {
            Some(at) => i = at,
            None => break,
        }
        let b = bytes[i];
        if b == b'\n' || b == b'\r' {
            if let Some(len) = hard_wrap_len(text, i, from) {
                i += len;
                continue;
            }
            push_trimmed(text, start..i, out);
            start = i + 1;
        } else if matches!(b, b'.' | b'!' | b'?') {
            let mut end = i + 1;
            // Swallow repeated terminators and closing quotes/brackets: `?!`, `."`, `.)`, `.”`.
            while end < bytes.len() {
                if matches!(bytes[end], b'.' | b'!' | b'?' | b'"' | b'\'' | b')' | b']') {
                    end += 1;
                } else if text[end..].starts_with('”') || text[end..].starts_with('’') {
                    end += '”'.len_utf8();
                } else {
                    break;
                }
            }
            if end < bytes.len()
                && bytes[end].is_ascii_whitespace()
                && starts_new_sentence(&text[end..])
                && !(b == b'.' && ends_with_abbreviation(&text[start..i]))
            {
                push_trimmed(text, start..end, out);
                start = end;
            }
            i = end;
            continue;
        }
        i += 1;
    }
    push_trimmed(text, start..bytes.len(), out);
}

/// Han ideographs and Japanese kana: scripts written without spaces between words.
#[inline]
pub(crate) fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x3005 | 0x3007        // 々 (repeat mark), 〇 (zero)
        | 0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF      // Katakana phonetic extensions
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0xFF66..=0xFF9F      // half-width Katakana
        | 0x20000..=0x3134F) // CJK extensions B–G
}

/// Hangul: Korean separates words with spaces but joins particles to them.
pub(crate) fn is_hangul(c: char) -> bool {
    matches!(c as u32, 0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F)
}

/// Chinese and Japanese full stops, exclamation and question marks: they end a sentence with
/// no space after them.
const CJK_TERMINATORS: [char; 4] = ['。', '！', '？', '｡'];
/// Closing quotes and brackets that stay with the sentence a terminator ends: `。」`, `！”`.
const CJK_CLOSERS: [char; 8] = ['」', '』', '）', '】', '》', '”', '’', ')'];

/// Splits each sentence after its Chinese or Japanese terminators (with their closing quotes),
/// which the ASCII rules of [`split_sentences_into`] do not see.
fn split_at_cjk_terminators(text: &str, sentences: Vec<Range<usize>>) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(sentences.len());
    for range in sentences {
        let mut start = range.start;
        let mut chars = text[range.clone()].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if !CJK_TERMINATORS.contains(&c) {
                continue;
            }
            let mut end = range.start + i + c.len_utf8();
            while let Some(&(j, next)) = chars.peek() {
                if CJK_TERMINATORS.contains(&next) || CJK_CLOSERS.contains(&next) {
                    end = range.start + j + next.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            if end < range.end {
                push_trimmed(text, start..end, &mut out);
                start = end;
            }
        }
        push_trimmed(text, start..range.end, &mut out);
    }
    out
}

fn starts_new_sentence(rest: &str) -> bool {
    let mut chars = rest.trim_start_matches([' ', '\t']).chars();
    match chars.next() {
        // Scripts without case (Chinese, Japanese, Korean) start sentences with any letter.
        Some(c) => {
            c.is_uppercase()
                || c.is_ascii_digit()
                || matches!(c, '"' | '“' | '‘' | '\'' | '(' | '\n' | '\r')
                || is_unspaced(c)
                || is_hangul(c)
        }
        None => false,
    }
}

fn ends_with_abbreviation(before_dot: &str) -> bool {
    let word = before_dot.rsplit(|c: char| c.is_whitespace() || c == '(' || c == '"' || c == '“').next().unwrap_or("");
    if word.chars().count() == 1 && word.chars().all(char::is_alphabetic) {
        return true; // initials: "John F. Kennedy"
    }
    is_abbreviation(word)
}

/// Whether `word` is one of [`ABBREVIATIONS`], ignoring ASCII case.
fn is_abbreviation(word: &str) -> bool {
    word.len() <= LONGEST_ABBREVIATION && ABBREVIATION_KEYS.contains(&abbreviation_key(word.as_bytes()))
}

/// [`ABBREVIATIONS`] as [`abbreviation_key`]s: one integer compare each, where comparing strings
/// case-insensitively cost a mispredicted branch at nearly every dot.
static ABBREVIATION_KEYS: [u64; ABBREVIATIONS.len()] = {
    let mut keys = [0; ABBREVIATIONS.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = abbreviation_key(ABBREVIATIONS[i].as_bytes());
        i += 1;
    }
    keys
};

/// A word of at most [`LONGEST_ABBREVIATION`] bytes as one integer: its bytes with ASCII
/// lower-cased, and its length in the top byte. Equal keys ⇔ equal ignoring ASCII case.
const fn abbreviation_key(word: &[u8]) -> u64 {
    let mut key = (word.len() as u64) << 56;
    let mut i = 0;
    while i < word.len() && i < 7 {
        key |= (word[i].to_ascii_lowercase() as u64) << (8 * i);
        i += 1;
    }
    key
}

/// Appends `range` without leading and trailing white space (as `str::trim`), unless nothing
/// is left. ASCII white space is stripped bytewise; a non-ASCII character at either end leaves
/// the rest to `str::trim`.
fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let is_space = |b: u8| matches!(b, b'\t'..=b'\r' | b' ');
    let (mut start, mut end) = (range.start, range.end);
    while start < end && is_space(bytes[start]) {
        start += 1;
    }
    while end > start && is_space(bytes[end - 1]) {
        end -= 1;
    }
    if start < end && (bytes[start] >= 0x80 || bytes[end - 1] >= 0x80) {
        let slice = &text[start..end];
        start += slice.len() - slice.trim_start().len();
        end = start + slice.trim().len();
    }
    if start < end {
        out.push(start..end);
    }
}

/// Number of words: maximal runs of alphanumeric characters (apostrophes and hyphens inside a
/// word do not split it). This is the definition; the enricher counts words in the
/// fingerprint's pass over the text ([`crate::enrich::fingerprint::simhash_and_word_count`],
/// property-tested equal to this).
pub fn word_count(text: &str) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if !in_word {
                count += 1;
                in_word = true;
            }
        } else if !(in_word && matches!(c, '\'' | '’' | '-')) {
            in_word = false;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::{combine, NormalizedCopy};

    #[test]
    fn the_normalized_copy_maps_offsets_both_ways() {
        assert!(NormalizedCopy::of("one space between words, a line.\nBreak", 0).is_none());
        assert!(NormalizedCopy::of("a headline\nBody", 0).is_none(), "a line break that ends a sentence");
        assert!(NormalizedCopy::of("a paragraph\n\nnext", 0).is_none());
        // The break between a title and its body always ends the title.
        let (full, title_len) = combine("Hackers hit Taiwan", "strait shipping firms");
        assert!(NormalizedCopy::of(&full, title_len).is_none(), "{full:?}");
        assert!(NormalizedCopy::of(&full, 0).is_some(), "the same text without a title is one wrapped sentence");
        let wrapped = NormalizedCopy::of("agreed to restore military \r\ntalks and a crisis\n  hotline", 0).unwrap();
        assert_eq!(
            wrapped.text, "agreed to restore military talks and a crisis hotline",
            "lines wrapped inside a sentence"
        );
        let text = "a  b\tc\u{a0}d \u{2009} e f\u{a0}\u{a0}";
        let c = NormalizedCopy::of(text, 0).unwrap();
        assert_eq!(c.text, "a b c d e f ");
        // Every character of the copy but a replacing space is the original's at its mapped offset.
        for (at, ch) in c.text.char_indices() {
            let original = c.to_original(at);
            assert_eq!(c.to_copy(original), at, "{at}");
            if ch != ' ' {
                assert_eq!(text[original..].chars().next(), Some(ch), "{at}");
            }
        }
        assert_eq!(c.to_original(c.text.len()), text.len());
        assert_eq!(c.to_copy(text.len()), c.text.len());
        // Inside a run: just after its space.
        assert_eq!(c.to_copy(2), 2);
        assert_eq!((c.to_original(1), c.to_original(2)), (1, 3));
    }

    /// The definition, a char at a time: runs of horizontal white space and of line breaks
    /// inside a sentence (the line before ends in neither white space nor a sentence's end, the
    /// next goes on in lower case) are one space, a character with the combining accents after
    /// it is the one character they compose into, if they do, soft hyphens are left out and
    /// U+2010 and U+2011 are `-`.
    fn normalized_by_definition(text: &str) -> String {
        use unicode_normalization::UnicodeNormalization;
        let horizontal =
            |c: char| matches!(c, ' ' | '\t' | '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}');
        let accent = |c: char| ('\u{300}'..='\u{36f}').contains(&c);
        let chars: Vec<char> = text.chars().collect();
        let wraps = |i: usize| {
            let before = chars[..i].iter().rev().find(|c| !c.is_whitespace() || **c == '\n');
            let after = chars[i + 1..].iter().find(|c| !matches!(c, ' ' | '\t'));
            before.is_some_and(|&c| c != '\n' && !super::SENTENCE_LINE_ENDS.contains(&c))
                && after.is_some_and(char::is_ascii_lowercase)
        };
        let space_at = |i: usize| horizontal(chars[i]) || (chars[i] == '\n' && wraps(i));
        let mut out = String::new();
        let mut i = 0;
        // A soft hyphen, left out, still separates two runs of white space.
        let mut in_run = false;
        while i < chars.len() {
            let c = chars[i];
            let accents = chars[i + 1..].iter().take_while(|&&a| accent(a)).count();
            let group: String = chars[i..=i + accents].iter().collect();
            let composed: Vec<char> = group.nfc().collect();
            let was_in_run = std::mem::replace(&mut in_run, space_at(i));
            if c == '\u{ad}' {
                i += 1;
            } else if matches!(c, '\u{2010}' | '\u{2011}') {
                out.push('-');
                i += 1;
            } else if space_at(i) {
                if !was_in_run {
                    out.push(' ');
                }
                i += 1;
            } else if accents > 0
                && chars[i..=i + accents].iter().any(|&a| ('\u{300}'..'\u{340}').contains(&a))
                && composed.len() == 1
            {
                out.push(composed[0]);
                i += accents + 1;
            } else {
                out.push(c);
                i += 1;
            }
        }
        out
    }

    /// Every character of the copy but a replacing space or a composed character is the
    /// original's at its mapped offset; a composed one is the composition of what it replaced,
    /// a hyphen is a hyphen, and what follows a left-out soft hyphen maps to after it.
    fn assert_maps_back(text: &str, c: &NormalizedCopy) {
        use unicode_normalization::UnicodeNormalization;
        for (at, ch) in c.text.char_indices() {
            let original = c.to_original(at);
            assert_eq!(c.to_copy(original), at, "{text:?} at {at}");
            let end = c.to_original(at + ch.len_utf8());
            if ch != ' ' {
                let replaced: String = text[original..end]
                    .chars()
                    .filter(|&c| c != '\u{ad}')
                    .map(|c| if matches!(c, '\u{2010}' | '\u{2011}') { '-' } else { c })
                    .collect();
                assert_eq!(replaced.nfc().collect::<String>(), ch.to_string(), "{text:?} at {at}");
            }
        }
        assert_eq!(c.to_original(c.text.len()), text.len());
        assert_eq!(c.to_copy(text.len()), c.text.len());
    }

    #[test]
    fn soft_hyphens_are_left_out_and_unicode_hyphens_are_hyphens() {
        let text = "Tai\u{ad}wan Tsai Ing\u{2011}wen cross\u{2010}strait \u{ad}\u{ad}x";
        let c = NormalizedCopy::of(text, 0).unwrap();
        assert_eq!(c.text, "Taiwan Tsai Ing-wen cross-strait x");
        assert_eq!(c.to_original(3), 5, "after the soft hyphen");
        assert_eq!(c.to_copy(3), 3, "the soft hyphen maps to where it was left out");
        assert_maps_back(text, &c);
    }

    #[test]
    fn decomposed_accents_are_composed_when_they_make_one_character() {
        // "Taiwán", "Kyïv", "Zürich" in NFD; a Vietnamese letter with two accents; a q with a
        // tilde, which composes into nothing; an accent at the start, after a space and after
        // a replaced run.
        let text = "Taiwa\u{301}n  Kyi\u{308}v Zu\u{308}rich e\u{302}\u{301} q\u{303} \u{301}x\u{a0}\u{301}";
        let c = NormalizedCopy::of(text, 0).unwrap();
        assert_eq!(c.text, "Taiwán Kyïv Zürich ế q\u{303} \u{301}x \u{301}");
        assert_maps_back(text, &c);
        assert!(NormalizedCopy::of("\u{301}a", 0).is_none(), "nothing to compose with");
        assert!(NormalizedCopy::of("q\u{303}", 0).is_none(), "composes into nothing shorter");
        assert!(NormalizedCopy::of("Taiwán, composed already", 0).is_none());
    }

    proptest::proptest! {
        #[test]
        fn the_normalized_copy_follows_the_definition(
            chars in proptest::collection::vec(proptest::sample::select(vec!['a', 'e', 'q', 'é', ' ', ' ', '\t', '\u{a0}', '\u{2009}', '\u{202f}', '\u{205f}', '\u{200b}', '\u{3000}', '\n', '”', '\u{301}', '\u{308}', '\u{323}', '\u{345}', '\u{ad}', '\u{2010}', '\u{2011}', '\u{2012}']), 0..40)
        ) {
            let text: String = chars.into_iter().collect();
            let want = normalized_by_definition(&text);
            match NormalizedCopy::of(&text, 0) {
                None => proptest::prop_assert_eq!(&want, &text),
                Some(c) => {
                    proptest::prop_assert_eq!(&c.text, &want);
                    assert_maps_back(&text, &c);
                }
            }
        }
    }

    use super::*;

    fn sentences(text: &str) -> Vec<&str> {
        let doc = Document::new(text, 0);
        doc.sentences.iter().map(|r| &text[r.clone()]).collect()
    }

    #[test]
    fn splits_on_terminators_followed_by_capitals() {
        assert_eq!(
            sentences("It rained. Then it stopped! Did it? yes."),
            vec!["It rained.", "Then it stopped!", "Did it? yes."]
        );
    }

    #[test]
    fn keeps_abbreviations_and_initials_inside_sentences() {
        assert_eq!(
            sentences("Mr. Blinken met the U.S. envoy. John F. Kennedy was not there."),
            vec!["Mr. Blinken met the U.S. envoy.", "John F. Kennedy was not there."]
        );
        assert_eq!(
            sentences("Adm. Mike Gilday held talks in San Diego, Calif. Officials said so."),
            vec!["Adm. Mike Gilday held talks in San Diego, Calif.", "Officials said so."]
        );
    }

    #[test]
    fn splits_on_line_breaks_and_closing_quotes() {
        assert_eq!(
            sentences("“It’s vital,” he said. “We’ll work on it.”\nNext paragraph"),
            vec!["“It’s vital,” he said.", "“We’ll work on it.”", "Next paragraph"]
        );
    }

    /// Plain text wrapped at a fixed width (e-mail, wire feeds) breaks lines inside sentences;
    /// those breaks do not end them. Paragraphs, and lines that start as a sentence does, still do.
    #[test]
    fn a_line_wrapped_inside_a_sentence_does_not_end_it() {
        assert_eq!(
            sentences(
                "Defence ministers agreed to restore\r\nmilitary-to-military\n  talks, officials said.\nNext paragraph"
            ),
            vec![
                "Defence ministers agreed to restore\r\nmilitary-to-military\n  talks, officials said.",
                "Next paragraph"
            ]
        );
        assert_eq!(sentences("one\n\nparagraph each"), vec!["one", "paragraph each"], "a blank line");
        assert_eq!(sentences("Headline\nBody starts"), vec!["Headline", "Body starts"]);
        assert_eq!(sentences("It ended.\niPhone sales rose"), vec!["It ended.", "iPhone sales rose"]);
        assert_eq!(sentences("A list:\nfirst item"), vec!["A list:", "first item"]);
    }

    #[test]
    fn splits_chinese_and_japanese_sentences_at_their_terminators() {
        assert_eq!(
            sentences("中国军机逼近台湾。赖清德呼吁北京克制！国民党回应说：「我们反对。」记者问？"),
            ["中国军机逼近台湾。", "赖清德呼吁北京克制！", "国民党回应说：「我们反对。」", "记者问？"]
        );
        assert_eq!(
            sentences("台湾海峡の緊張が高まった。 防衛省は警戒を強めている"),
            ["台湾海峡の緊張が高まった。", "防衛省は警戒を強めている"]
        );
        // English rules still apply around them, and a lone terminator at the end splits nothing.
        assert_eq!(sentences("Taipei said so. 台北回应。"), ["Taipei said so.", "台北回应。"]);
    }

    #[test]
    fn title_is_its_own_sentence() {
        let (full, title_len) = combine("Headline without dot", "Body one. Body two.");
        let doc = Document::new(&full, title_len);
        assert_eq!(doc.sentence(0), "Headline without dot");
        assert_eq!(doc.sentences.len(), 3);
        assert!(doc.in_title(3));
        assert_eq!(doc.sentence_at(full.find("two").unwrap()), Some(2));
    }

    #[test]
    fn combine_without_title_is_the_body() {
        assert_eq!(combine("  ", "body"), ("body".to_owned(), 0));
    }

    #[test]
    fn counts_words() {
        assert_eq!(word_count("It’s a military-to-military line, 30 minutes."), 6);
        assert_eq!(word_count(""), 0);
    }

    #[test]
    fn abbreviations_match_in_any_case_and_only_whole() {
        for a in ABBREVIATIONS {
            assert!(is_abbreviation(a) && is_abbreviation(&a.to_uppercase()), "{a}");
            assert!(!is_abbreviation(&format!("{a}\0")) && !is_abbreviation(&format!("{a}x")), "{a}");
            assert_eq!(is_abbreviation(&a[1..]), ABBREVIATIONS.contains(&&a[1..]), "{a}");
        }
    }

    proptest::proptest! {
        #[test]
        fn trimming_is_str_trim(text in "(?s)[ a\t\n\r\u{b}\u{c}\u{1c}\u{a0}\u{2003}é]{0,12}") {
            let mut out = Vec::new();
            push_trimmed(&text, 0..text.len(), &mut out);
            let trimmed = text.trim();
            let expected = (!trimmed.is_empty()).then(|| {
                let start = text.len() - text.trim_start().len();
                start..start + trimmed.len()
            });
            proptest::prop_assert_eq!(out.first().cloned(), expected);
        }

        #[test]
        fn abbreviation_keys_compare_ignoring_ascii_case(word in "[a-zA-Z.\u{0}ß]{0,7}") {
            proptest::prop_assert_eq!(is_abbreviation(&word), ABBREVIATIONS.iter().any(|a| a.eq_ignore_ascii_case(&word)));
        }

        #[test]
        fn the_sentence_end_scan_finds_the_first_candidate(text in "(?s)[a-z .!?\n\r\u{80}-\u{10ffff}]{0,80}", from in 0usize..80) {
            let bytes = text.as_bytes();
            let from = from.min(bytes.len());
            let expected = bytes[from..].iter().position(|b| b"\n\r.!?".contains(b)).map(|p| from + p);
            proptest::prop_assert_eq!(next_sentence_end_candidate(bytes, from), expected);
        }
    }
}
