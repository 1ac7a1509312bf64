//! The VADER scoring engine, shared by both models: tokenisation with Python's string semantics,
//! one lexicon lookup per token, VADER's rules, and the sums VADER normalises. [`super::vader`]
//! runs it with VADER's own lexicon and rules (and documents the behaviour it reproduces);
//! [`super::news`] with its news lexicon and extra rules (`Rules::news`).
//!
//! Performance notes: the lexicon is a frozen open-addressing table behind a 16 KiB bit filter
//! (most tokens are not lexicon words and never touch the table); lower-casing, flags and the
//! lookup happen in one pass over the bytes; per-call buffers live in a thread-local scratch, so a
//! call allocates only for its result. [`Engine::score_ranges`] tokenises a document once and
//! scores it and each of its sentences from the same tokens.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use super::news::{self, NewsRules};
use super::vader::{BOOSTERS, C_INCR, EMOJI_LEXICON, NEGATE, N_SCALAR};

// ---------------------------------------------------------------------------------------------
// Hashing.

/// FxHash (rustc's hasher): one multiply-rotate per word. Keys are our own constants, so there
/// is no HashDoS concern.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const FX_K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_K);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.add(word_hash(bytes));
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Hash of a byte string: Fx rounds over 8-byte chunks (the last 1–8 bytes in at most two loads),
/// then an avalanche so that the high bits (table slot, filter bit) depend on every byte.
#[inline]
fn word_hash(bytes: &[u8]) -> u64 {
    let mut h = FxHasher(bytes.len() as u64);
    let mut rest = bytes;
    while rest.len() > 8 {
        h.add(u64::from_le_bytes(rest[..8].try_into().unwrap()));
        rest = &rest[8..];
    }
    let r = rest.len();
    let tail = if r >= 4 {
        let lo = u32::from_le_bytes(rest[..4].try_into().unwrap());
        let hi = u32::from_le_bytes(rest[r - 4..].try_into().unwrap());
        u64::from(lo) | (u64::from(hi) << 32)
    } else if r > 0 {
        u64::from(rest[0]) | (u64::from(rest[r / 2]) << 8) | (u64::from(rest[r - 1]) << 16)
    } else {
        0
    };
    h.add(tail);
    let mut x = h.0;
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^ (x >> 32)
}

// ---------------------------------------------------------------------------------------------
// Python string semantics.

/// Python `str.isspace()`: Rust's `char::is_whitespace` plus `\x1c`..`\x1f`.
#[inline]
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Length in bytes of the Python white-space character starting at `b[i]`, 0 if none.
#[inline]
fn py_space_len(b: &[u8], i: usize) -> usize {
    match b[i] {
        9..=13 | 28..=32 => 1,
        0xC2 => usize::from(matches!(b.get(i + 1), Some(0x85 | 0xA0))) * 2,
        0xE1 => usize::from(b.get(i + 1) == Some(&0x9A) && b.get(i + 2) == Some(&0x80)) * 3,
        0xE2 => match (b.get(i + 1), b.get(i + 2)) {
            (Some(0x80), Some(0x80..=0x8A | 0xA8 | 0xA9 | 0xAF)) | (Some(0x81), Some(0x9F)) => 3,
            _ => 0,
        },
        0xE3 => usize::from(b.get(i + 1) == Some(&0x80) && b.get(i + 2) == Some(&0x80)) * 3,
        _ => 0,
    }
}

/// Python `str.strip()`.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python `str.isupper()`: at least one cased character and no lower- or title-case one.
pub(crate) fn py_isupper(s: &str) -> bool {
    if s.is_ascii() {
        let b = s.as_bytes();
        return b.iter().any(u8::is_ascii_uppercase) && !b.iter().any(u8::is_ascii_lowercase);
    }
    let mut cased = false;
    for c in s.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// Unicode general category Lt.
fn is_titlecase(c: char) -> bool {
    matches!(c, '\u{01C5}' | '\u{01C8}' | '\u{01CB}' | '\u{01F2}' | '\u{1F88}'..='\u{1F8F}'
        | '\u{1F98}'..='\u{1F9F}' | '\u{1FA8}'..='\u{1FAF}' | '\u{1FBC}' | '\u{1FCC}' | '\u{1FFC}')
}

/// Python `round(x, digits)`: correctly rounded, ties to even on the exact binary value.
pub fn py_round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    let y = x * scale;
    if ((y - y.trunc()).abs() - 0.5).abs() > 1e-6 && y.abs() < 1e15 {
        // Far from a tie: rounding the scaled value is exact and k / 10^d is correctly rounded.
        y.round() / scale
    } else {
        format!("{x:.prec$}", prec = digits.max(0) as usize).parse().unwrap_or(x)
    }
}

/// VADER's normalisation `x / √(x² + alpha)`, clamped to [-1, 1].
#[inline]
pub fn normalize(score: f64, alpha: f64) -> f64 {
    (score / (score * score + alpha).sqrt()).clamp(-1.0, 1.0)
}

// Byte classes for the tokenizer.
const WS: u8 = 1; // ASCII white space (Python's, including \x1c..\x1f)
const WS_LEAD: u8 = 2; // first byte of a possible non-ASCII white-space character
const PUNCT: u8 = 4; // Python's `string.punctuation`
const UPPER: u8 = 8;
const LOWER: u8 = 16;
const NON_ASCII: u8 = 32;
const QUOTE: u8 = 64; // `'`, for the "n't" check and possessives
const EMPH: u8 = 128; // `!` or `?`, counted for punctuation emphasis

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if matches!(c, 9..=13 | 28..=32) {
            WS
        } else if c == b'\'' {
            PUNCT | QUOTE
        } else if c == b'!' || c == b'?' {
            PUNCT | EMPH
        } else if c.is_ascii_punctuation() {
            PUNCT
        } else if c.is_ascii_uppercase() {
            UPPER
        } else if c.is_ascii_lowercase() {
            LOWER
        } else if c >= 0x80 {
            if matches!(c, 0xC2 | 0xE1 | 0xE2 | 0xE3) {
                NON_ASCII | WS_LEAD
            } else {
                NON_ASCII
            }
        } else {
            0
        };
        b += 1;
    }
    t
};

// ---------------------------------------------------------------------------------------------
// Word table: one lookup per token gives everything the rules need.

/// Words the rules compare tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Kw {
    #[default]
    Other,
    No,
    Or,
    Nor,
    Kind,
    Of,
    Least,
    At,
    Very,
    But,
    Never,
    So,
    This,
    Without,
    Doubt,
}

const KEYWORDS: &[(&str, Kw)] = &[
    ("no", Kw::No),
    ("or", Kw::Or),
    ("nor", Kw::Nor),
    ("kind", Kw::Kind),
    ("of", Kw::Of),
    ("least", Kw::Least),
    ("at", Kw::At),
    ("very", Kw::Very),
    ("but", Kw::But),
    ("never", Kw::Never),
    ("so", Kw::So),
    ("this", Kw::This),
    ("without", Kw::Without),
    ("doubt", Kw::Doubt),
];

/// Everything the rules need to know about a word.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Entry {
    /// Lexicon valence (`None`: not a lexicon word).
    pub val: Option<f64>,
    /// Booster scalar, 0 when not a single-word booster (all boosters are non-zero).
    pub boost: f64,
    /// In the `NEGATE` list.
    pub negate: bool,
    /// Appears in a special-case idiom or a multi-word booster.
    pub idiom: bool,
    /// Roles of the word in the news rules (`news::NW_*` bits; see [`super::news`]).
    pub news: u8,
    pub kw: Kw,
}

/// A frozen word → [`Entry`] table for the lookup-per-token hot path: a 16 KiB bit filter answers
/// most misses without touching the table; hits probe a compact open-addressing array of 8-byte
/// slots and compare the key bytes in one arena.
#[derive(Debug)]
struct WordTable {
    filter: Box<[u64]>,
    slots: Box<[(u32, u32)]>,
    shift: u32,
    arena: Vec<u8>,
    spans: Vec<(u32, u32)>,
    entries: Vec<Entry>,
}

const FILTER_BITS: u32 = 17;
const EMPTY: u32 = u32::MAX;

impl WordTable {
    fn new(map: FxMap<Cow<'static, str>, Entry>) -> Self {
        let mut words: Vec<_> = map.into_iter().collect();
        words.sort_by(|a, b| a.0.cmp(&b.0));
        let bits = (words.len() * 2).next_power_of_two().trailing_zeros().max(4);
        let mut table = WordTable {
            filter: vec![0u64; 1 << (FILTER_BITS - 6)].into_boxed_slice(),
            slots: vec![(0, EMPTY); 1 << bits].into_boxed_slice(),
            shift: 64 - bits,
            arena: Vec::new(),
            spans: Vec::with_capacity(words.len()),
            entries: Vec::with_capacity(words.len()),
        };
        let mask = table.slots.len() - 1;
        for (word, entry) in words {
            let h = word_hash(word.as_bytes());
            let f = (h >> (64 - FILTER_BITS)) as usize;
            table.filter[f >> 6] |= 1 << (f & 63);
            let idx = table.entries.len() as u32;
            table.spans.push((table.arena.len() as u32, word.len() as u32));
            table.arena.extend_from_slice(word.as_bytes());
            table.entries.push(entry);
            let mut slot = (h >> table.shift) as usize;
            while table.slots[slot].1 != EMPTY {
                slot = (slot + 1) & mask;
            }
            table.slots[slot] = (h as u32, idx);
        }
        table
    }

    #[inline]
    fn get(&self, bytes: &[u8]) -> Option<&Entry> {
        let h = word_hash(bytes);
        let f = (h >> (64 - FILTER_BITS)) as usize;
        if self.filter[f >> 6] & (1 << (f & 63)) == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = (h >> self.shift) as usize;
        loop {
            let (tag, idx) = self.slots[slot];
            if idx == EMPTY {
                return None;
            }
            if tag == h as u32 {
                let (start, len) = self.spans[idx as usize];
                if self.arena[start as usize..(start + len) as usize] == *bytes {
                    return Some(&self.entries[idx as usize]);
                }
            }
            slot = (slot + 1) & mask;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rules, engine and results.

/// The rule parameters that differ between VADER and the news model.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Special-case idioms: lower-case words and the valence that replaces the item's.
    pub special_cases: Vec<(Vec<String>, f64)>,
    /// Two-word boosters (`kind of`, ...), added to the valence in the idiom check.
    pub bigram_boosters: Vec<([String; 2], f64)>,
    /// The news model's extra rules; `None` for VADER.
    pub(crate) news: Option<NewsRules>,
}

/// Parses a lexicon in VADER's format (`word\tmean\t...` per line; later duplicates win).
pub fn parse_lexicon(text: &'static str) -> impl Iterator<Item = (&'static str, f64)> {
    text.trim_end_matches('\n').split('\n').filter(|l| !l.is_empty()).filter_map(|line| {
        let mut fields = py_strip(line).split('\t');
        let word = fields.next()?;
        let measure = fields.next()?.parse().ok()?;
        Some((word, measure))
    })
}

/// Parses the emoji lexicon: single-code-point keys only (the only ones VADER can match).
fn parse_emojis(text: &'static str) -> FxMap<char, &'static str> {
    let mut map = FxMap::default();
    for line in text.trim_end_matches('\n').split('\n') {
        let mut fields = py_strip(line).split('\t');
        let (Some(key), Some(desc)) = (fields.next(), fields.next()) else { continue };
        let mut chars = key.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            map.insert(c, desc);
        }
    }
    map
}

/// VADER's engine over a given lexicon and rules. Build once (it holds the lexicon table) and
/// share; every method takes `&self`.
#[derive(Debug)]
pub struct Engine {
    table: WordTable,
    emojis: FxMap<char, &'static str>,
    pub(crate) rules: Rules,
}

/// What the engine computes for one text, before normalisation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Raw {
    /// Sum of the token valences (after all rules, before punctuation emphasis).
    pub sum: f64,
    /// Punctuation emphasis (VADER's `!`/`?` amplifier).
    pub punct: f64,
    /// Σ (s + 1) over positive valences.
    pub pos_sum: f64,
    /// Σ (s − 1) over negative valences.
    pub neg_sum: f64,
    /// Number of tokens with valence 0.
    pub neu_count: usize,
    /// Number of tokens.
    pub tokens: usize,
}

impl Raw {
    /// The sum with punctuation emphasis added away from zero, as VADER normalises it.
    pub fn emphasized(&self) -> f64 {
        if self.sum > 0.0 {
            self.sum + self.punct
        } else if self.sum < 0.0 {
            self.sum - self.punct
        } else {
            self.sum
        }
    }

    /// Unrounded compound: `normalize(emphasized, 15)`, 0 for a text without tokens.
    pub fn compound(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            normalize(self.emphasized(), 15.0)
        }
    }

    /// VADER's four scores, rounded as Python rounds them.
    pub fn scores(&self) -> Scores {
        if self.tokens == 0 {
            return Scores::default();
        }
        let compound = self.compound();
        let (mut pos_sum, mut neg_sum) = (self.pos_sum, self.neg_sum);
        if pos_sum > neg_sum.abs() {
            pos_sum += self.punct;
        } else if pos_sum < neg_sum.abs() {
            neg_sum -= self.punct;
        }
        let total = pos_sum + neg_sum.abs() + self.neu_count as f64;
        Scores {
            neg: py_round((neg_sum / total).abs(), 3),
            neu: py_round((self.neu_count as f64 / total).abs(), 3),
            pos: py_round((pos_sum / total).abs(), 3),
            compound: py_round(compound, 4),
        }
    }
}

/// VADER's output for one text (`polarity_scores`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scores {
    pub neg: f64,
    pub neu: f64,
    pub pos: f64,
    pub compound: f64,
}

/// One token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tok {
    /// Byte offset of the (unstripped) token in the tokenised text.
    pub start: u32,
    /// Byte range of the lower-cased token: in the tokenised text when `in_text` (an ASCII
    /// token without capitals is its own lower case), else in the scratch `lower` buffer.
    pub lo: u32,
    pub hi: u32,
    pub in_text: bool,
    pub e: Entry,
    /// Python `isupper()` of the token.
    pub upper: bool,
    /// Capitalised: first character upper case, not all upper case.
    pub cap: bool,
    /// The unstripped token ends with `.`, `!`, `?` or `:` (possibly before a closing quote).
    pub ends_sentence: bool,
    /// `negated([token])`: in `NEGATE` or containing `n't`.
    pub negated: bool,
    /// Last byte of the unstripped token.
    pub last: u8,
    /// Number of `!` and `?` in the unstripped token (saturating).
    pub excl: u8,
    pub quest: u8,
}

/// Where the lower-cased tokens are (see [`Tok::in_text`]).
#[derive(Clone, Copy)]
pub(crate) struct Words<'a> {
    pub text: &'a [u8],
    pub lower: &'a [u8],
}

impl<'a> Words<'a> {
    /// The lower-cased token.
    #[inline]
    pub fn of(&self, t: &Tok) -> &'a [u8] {
        let source = if t.in_text { self.text } else { self.lower };
        &source[t.lo as usize..t.hi as usize]
    }
}

#[derive(Default)]
pub(crate) struct Scratch {
    pub lower: Vec<u8>,
    pub toks: Vec<Tok>,
    sent: Vec<f64>,
    nonzero: Vec<usize>,
    pub key: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Engine {
    /// Builds an engine from lexicon entries (in order: a later entry for the same word replaces
    /// an earlier one, `None` removes the word) and rules.
    pub(crate) fn new(lexicon: impl IntoIterator<Item = (Cow<'static, str>, Option<f64>)>, rules: Rules) -> Self {
        let mut table: FxMap<Cow<'static, str>, Entry> = FxMap::default();
        for (word, val) in lexicon {
            table.entry(word).or_default().val = val;
        }
        for &(word, b) in BOOSTERS {
            if !word.contains(' ') {
                table.entry(Cow::Borrowed(word)).or_default().boost = b;
            }
        }
        if let Some(news) = &rules.news {
            for (word, b) in news.boosters() {
                let e = table.entry(Cow::Owned(word)).or_default();
                e.boost = b;
                e.val = None;
            }
        }
        for &word in NEGATE {
            table.entry(Cow::Borrowed(word)).or_default().negate = true;
        }
        for &(word, kw) in KEYWORDS {
            table.entry(Cow::Borrowed(word)).or_default().kw = kw;
        }
        let idiom_words = rules.special_cases.iter().flat_map(|(words, _)| words.iter());
        let idiom_words = idiom_words.chain(rules.bigram_boosters.iter().flat_map(|(words, _)| words.iter()));
        for word in idiom_words {
            table.entry(Cow::Owned(word.clone())).or_default().idiom = true;
        }
        if let Some(news) = &rules.news {
            for (word, role) in news.watched_words() {
                table.entry(Cow::Owned(word)).or_default().news |= role;
            }
        }
        // Entries that carry nothing would only slow down misses.
        table.retain(|_, e| {
            e.val.is_some() || e.boost != 0.0 || e.negate || e.idiom || e.news != 0 || e.kw != Kw::Other
        });
        Engine { table: WordTable::new(table), emojis: parse_emojis(EMOJI_LEXICON), rules }
    }

    /// Looks a lower-case word up.
    #[inline]
    pub(crate) fn entry(&self, word: &[u8]) -> Entry {
        self.table.get(word).copied().unwrap_or_default()
    }

    /// The lexicon valence of a lower-case word, `None` for a word outside the lexicon.
    pub fn valence(&self, word: &str) -> Option<f64> {
        self.entry(word.as_bytes()).val
    }

    /// Whether `text` holds a character of the emoji lexicon (all of them are ≥ U+00A9).
    fn has_emoji(&self, text: &str) -> bool {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            // Skip ASCII eight bytes at a time; `i` always stays on a character boundary.
            while i + 8 <= b.len() && u64::from_le_bytes(b[i..i + 8].try_into().unwrap()) & 0x8080_8080_8080_8080 == 0 {
                i += 8;
            }
            if i >= b.len() {
                break;
            }
            if b[i] < 0x80 {
                i += 1;
                continue;
            }
            let c = text[i..].chars().next().unwrap_or_default();
            if c >= '\u{a9}' && self.emojis.contains_key(&c) {
                return true;
            }
            i += c.len_utf8();
        }
        false
    }

    /// VADER's emoji substitution followed by `strip()`.
    fn demojize<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.has_emoji(text) {
            return Cow::Borrowed(py_strip(text));
        }
        let mut out = String::with_capacity(text.len() + 64);
        let mut prev_space = true;
        for c in text.chars() {
            if let Some(desc) = self.emojis.get(&c) {
                if !prev_space {
                    out.push(' ');
                }
                out.push_str(desc);
                prev_space = false;
            } else {
                out.push(c);
                prev_space = c == ' ';
            }
        }
        match py_strip(&out) {
            s if s.len() == out.len() => Cow::Owned(out),
            s => Cow::Owned(s.to_owned()),
        }
    }

    /// Runs the engine on one text.
    pub fn raw(&self, text: &str) -> Raw {
        let text = self.demojize(text);
        SCRATCH.with(|s| {
            let s = &mut *s.borrow_mut();
            self.tokenize(&text, s);
            let n = s.toks.len();
            self.score_tokens(text.as_bytes(), 0..n, s)
        })
    }

    /// VADER's `polarity_scores`.
    pub fn polarity_scores(&self, text: &str) -> Scores {
        self.raw(text).scores()
    }

    /// VADER's compound, rounded to 4 decimals as Python does.
    pub fn compound(&self, text: &str) -> f64 {
        py_round(self.raw(text).compound(), 4)
    }

    /// Scores the byte ranges `ranges` of `text` (sentences, in any order) and, when `want_full`,
    /// the whole text, tokenising `text` only once. Each result equals [`Engine::raw`] of the
    /// same slice; ranges that do not start and end at white space (or the ends of `text`), and
    /// every range of a text with emojis, are scored on their own.
    pub fn score_ranges(
        &self,
        text: &str,
        ranges: &[Range<usize>],
        want_full: bool,
        out: &mut Vec<Raw>,
    ) -> Option<Raw> {
        out.clear();
        let shared = !(self.has_emoji(text) || (want_full && self.rules.news.is_some()));
        let mut alone = Vec::new();
        let full = if shared {
            SCRATCH.with(|s| {
                let s = &mut *s.borrow_mut();
                self.tokenize(text, s);
                let full = want_full.then(|| self.score_tokens(text.as_bytes(), 0..s.toks.len(), s));
                for (k, r) in ranges.iter().enumerate() {
                    let aligned = r.start <= r.end
                        && r.end <= text.len()
                        && text.is_char_boundary(r.start)
                        && text.is_char_boundary(r.end)
                        && text[..r.start].chars().next_back().is_none_or(is_py_space)
                        && text[r.end..].chars().next().is_none_or(is_py_space);
                    if !aligned {
                        alone.push(k);
                        out.push(Raw::default());
                        continue;
                    }
                    let a = s.toks.partition_point(|t| (t.start as usize) < r.start);
                    let b = a + s.toks[a..].partition_point(|t| (t.start as usize) < r.end);
                    out.push(self.score_tokens(text.as_bytes(), a..b, s));
                }
                full
            })
        } else {
            out.extend(ranges.iter().map(|r| text.get(r.clone()).map_or_else(Raw::default, |t| self.raw(t))));
            want_full.then(|| self.raw(text))
        };
        for k in alone {
            out[k] = text.get(ranges[k].clone()).map_or_else(Raw::default, |t| self.raw(t));
        }
        full
    }

    /// Splits `text` into tokens (Python `split()`, punctuation stripped unless ≤ 2 characters
    /// remain), lower-cases them into `s.lower` and looks each up.
    pub(crate) fn tokenize(&self, text: &str, s: &mut Scratch) {
        s.lower.clear();
        s.toks.clear();
        let b = text.as_bytes();
        let n = b.len();
        let mut i = 0;
        loop {
            while i < n {
                let c = CLASS[usize::from(b[i])];
                if c & WS != 0 {
                    i += 1;
                } else if c & WS_LEAD != 0 && py_space_len(b, i) > 0 {
                    i += py_space_len(b, i);
                } else {
                    break;
                }
            }
            if i >= n {
                break;
            }
            let start = i;
            let mut flags = 0;
            let (mut excl, mut quest) = (0u8, 0u8);
            // Continuation bytes are never white-space lead bytes, so stepping bytewise is safe.
            while i < n {
                let c = CLASS[usize::from(b[i])];
                if c & (WS | WS_LEAD | EMPH) != 0 {
                    if c & WS != 0 || (c & WS_LEAD != 0 && py_space_len(b, i) > 0) {
                        break;
                    }
                    if b[i] == b'!' {
                        excl = excl.saturating_add(1);
                    } else if b[i] == b'?' {
                        quest = quest.saturating_add(1);
                    }
                }
                flags |= c;
                i += 1;
            }
            let token = &b[start..i];
            let (mut a, mut z) = (0, token.len());
            while a < z && CLASS[usize::from(token[a])] & PUNCT != 0 {
                a += 1;
            }
            while z > a && CLASS[usize::from(token[z - 1])] & PUNCT != 0 {
                z -= 1;
            }
            let stripped = &text[start + a..start + z];
            let keep_all =
                stripped.len() <= 2 || (flags & NON_ASCII != 0 && stripped.len() <= 8 && stripped.chars().count() <= 2);
            let (word, word_start) = if keep_all { (&text[start..i], start) } else { (stripped, start + a) };
            let last = token[token.len() - 1];
            let ends_sentence = matches!(last, b'.' | b'!' | b'?' | b':')
                || (matches!(last, b'"' | b'\'' | b')')
                    && token.len() > 1
                    && matches!(token[token.len() - 2], b'.' | b'!' | b'?' | b':'));
            self.push_token(text, word, word_start, start as u32, flags, ends_sentence, [last, excl, quest], s);
        }
    }

    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn push_token(
        &self,
        text: &str,
        word: &str,
        word_start: usize,
        start: u32,
        flags: u8,
        ends_sentence: bool,
        [last, excl, quest]: [u8; 3],
        s: &mut Scratch,
    ) {
        let (mut lo, mut hi, mut in_text) = (s.lower.len(), 0, false);
        let (upper, cap);
        if flags & NON_ASCII == 0 && flags & UPPER == 0 {
            (lo, hi, in_text) = (word_start, word_start + word.len(), true);
            (upper, cap) = (false, false);
        } else if flags & NON_ASCII == 0 {
            s.lower.extend(word.bytes().map(|c| c.to_ascii_lowercase()));
            // `flags` covers the unstripped token; stripped punctuation has no letters.
            upper = flags & UPPER != 0 && flags & LOWER == 0;
            cap = !upper && word.as_bytes()[0].is_ascii_uppercase();
        } else {
            s.lower.extend_from_slice(word.to_lowercase().as_bytes());
            upper = py_isupper(word);
            cap = !upper && word.chars().next().is_some_and(char::is_uppercase);
        }
        if !in_text {
            hi = s.lower.len();
        }
        let lower = if in_text { &text.as_bytes()[lo..hi] } else { &s.lower[lo..hi] };
        let mut e = self.entry(lower);
        if let Some(news) = &self.rules.news {
            if e.val.is_none() && e.boost == 0.0 && !e.negate && e.kw == Kw::Other {
                if flags & QUOTE != 0 {
                    e = news::possessive_entry(news, self, lower).unwrap_or(e);
                } else if lower.len() >= 5 && lower.iter().all(u8::is_ascii_lowercase) {
                    e = news::inflected_entry(news, self, lower).unwrap_or(e);
                }
            }
        }
        let negated = e.negate || (flags & QUOTE != 0 && lower.windows(3).any(|w| w == b"n't"));
        s.toks.push(Tok {
            start,
            lo: lo as u32,
            hi: hi as u32,
            in_text,
            e,
            upper,
            cap,
            ends_sentence,
            negated,
            last,
            excl,
            quest,
        });
    }

    /// VADER's rules over the tokens `range` of `s.toks` (a whole text or one sentence):
    /// per-token valences, the "but" rule, the sums and the punctuation emphasis (every `!` and
    /// `?` of a text is inside one of its tokens).
    fn score_tokens(&self, text: &[u8], range: Range<usize>, s: &mut Scratch) -> Raw {
        let Scratch { lower, toks, sent, nonzero, key } = s;
        let toks = &mut toks[range];
        if let Some(news) = &self.rules.news {
            news::annotate(news, self, toks, Words { text, lower }, key);
        }
        let toks = &*toks;
        let n = toks.len();
        if n == 0 {
            return Raw::default();
        }
        let uppers = toks.iter().filter(|t| t.upper).count();
        let is_cap_diff = uppers > 0 && uppers < n;
        let words = Words { text, lower };
        let word = |j: usize| words.of(&toks[j]);

        sent.clear();
        let mut but_at = None;
        for i in 0..n {
            let t = &toks[i];
            if t.e.kw == Kw::But && but_at.is_none() {
                but_at = Some(i);
            }
            if t.e.boost != 0.0 || (i + 1 < n && t.e.kw == Kw::Kind && toks[i + 1].e.kw == Kw::Of) {
                sent.push(0.0);
                continue;
            }
            let Some(base) = t.e.val else {
                sent.push(0.0);
                continue;
            };
            let mut v = base;
            // The "no" rule.
            if t.e.kw == Kw::No && i != n - 1 && toks[i + 1].e.val.is_some() {
                v = 0.0;
            }
            if (i > 0 && toks[i - 1].e.kw == Kw::No)
                || (i > 1 && toks[i - 2].e.kw == Kw::No)
                || (i > 2 && toks[i - 3].e.kw == Kw::No && matches!(toks[i - 1].e.kw, Kw::Or | Kw::Nor))
            {
                v = base * N_SCALAR;
            }
            // Caps emphasis (a 0 valence counts as negative, as in Python).
            if t.upper && is_cap_diff {
                if v > 0.0 {
                    v += C_INCR;
                } else {
                    v -= C_INCR;
                }
            }
            // Boosters, negation and idioms over the three preceding non-lexicon tokens.
            for start_i in 0..3 {
                if i > start_i && toks[i - (start_i + 1)].e.val.is_none() {
                    let p = &toks[i - (start_i + 1)];
                    let mut sc = 0.0;
                    if p.e.boost != 0.0 {
                        sc = p.e.boost;
                        if v < 0.0 {
                            sc *= -1.0;
                        }
                        if p.upper && is_cap_diff {
                            if v > 0.0 {
                                sc += C_INCR;
                            } else {
                                sc -= C_INCR;
                            }
                        }
                    }
                    if start_i == 1 && sc != 0.0 {
                        sc *= 0.95;
                    }
                    if start_i == 2 && sc != 0.0 {
                        sc *= 0.9;
                    }
                    v += sc;
                    let before = v;
                    v = negation_check(v, toks, start_i, i);
                    if let Some(news) = &self.rules.news {
                        // News: a negated negative is only mildly positive ("not bad").
                        if before < 0.0 && v > 0.0 {
                            v = before * news.negated_negative;
                        }
                    }
                    if start_i == 2 {
                        v = self.special_idioms_check(v, toks, &word, i);
                    }
                }
            }
            // The "least" rule.
            if i > 1 && toks[i - 1].e.val.is_none() && toks[i - 1].e.kw == Kw::Least {
                if toks[i - 2].e.kw != Kw::At && toks[i - 2].e.kw != Kw::Very {
                    v *= N_SCALAR;
                }
            } else if i > 0 && toks[i - 1].e.val.is_none() && toks[i - 1].e.kw == Kw::Least {
                v *= N_SCALAR;
            }
            sent.push(v);
        }

        if let Some(bi) = but_at {
            but_check(sent, bi, nonzero);
        }

        let (excl, quest) =
            toks.iter().fold((0usize, 0usize), |(e, q), t| (e + usize::from(t.excl), q + usize::from(t.quest)));
        let mut raw = Raw { tokens: n, punct: punctuation_amplifier(excl, quest), ..Raw::default() };
        for &v in sent.iter() {
            raw.sum += v;
            if v > 0.0 {
                raw.pos_sum += v + 1.0;
            }
            if v < 0.0 {
                raw.neg_sum += v - 1.0;
            }
            if v == 0.0 {
                raw.neu_count += 1;
            }
        }
        raw
    }

    /// VADER's `_special_idioms_check` (only ever called with `i >= 3`).
    fn special_idioms_check<'w>(&self, mut v: f64, toks: &[Tok], word: &impl Fn(usize) -> &'w [u8], i: usize) -> f64 {
        let n = toks.len();
        if !toks[i - 3..=(i + 2).min(n - 1)].iter().any(|t| t.e.idiom) {
            return v;
        }
        let matches = |idx: &[usize], key: &[String]| {
            idx.len() == key.len() && idx.iter().zip(key).all(|(&j, k)| word(j) == k.as_bytes())
        };
        let lookup =
            |idx: &[usize]| self.rules.special_cases.iter().find(|(key, _)| matches(idx, key)).map(|&(_, val)| val);
        let sequences: [&[usize]; 5] =
            [&[i - 1, i], &[i - 2, i - 1, i], &[i - 2, i - 1], &[i - 3, i - 2, i - 1], &[i - 3, i - 2]];
        for seq in sequences {
            if let Some(val) = lookup(seq) {
                v = val;
                break;
            }
        }
        if n - 1 > i {
            if let Some(val) = lookup(&[i, i + 1]) {
                v = val;
            }
        }
        if n - 1 > i + 1 {
            if let Some(val) = lookup(&[i, i + 1, i + 2]) {
                v = val;
            }
        }
        for seq in [&[i - 3, i - 2], &[i - 2, i - 1]] {
            for (key, val) in &self.rules.bigram_boosters {
                if matches(seq, key) {
                    v += val;
                }
            }
        }
        v
    }
}

/// VADER's `_negation_check` for the token `start_i + 1` places before `i`.
fn negation_check(mut v: f64, toks: &[Tok], start_i: usize, i: usize) -> f64 {
    let kw = |j: usize| toks[j].e.kw;
    let so_this = |k: Kw| k == Kw::So || k == Kw::This;
    match start_i {
        0 => {
            if toks[i - 1].negated {
                v *= N_SCALAR;
            }
        }
        1 => {
            if kw(i - 2) == Kw::Never && so_this(kw(i - 1)) {
                v *= 1.25;
            } else if kw(i - 2) == Kw::Without && kw(i - 1) == Kw::Doubt {
                // unchanged
            } else if toks[i - 2].negated {
                v *= N_SCALAR;
            }
        }
        _ => {
            // Python: `never so/this` two back, or *any* `so`/`this` just before the word.
            if (kw(i - 3) == Kw::Never && so_this(kw(i - 2))) || so_this(kw(i - 1)) {
                v *= 1.25;
            } else if kw(i - 3) == Kw::Without && (kw(i - 2) == Kw::Doubt || kw(i - 1) == Kw::Doubt) {
                // unchanged
            } else if toks[i - 3].negated {
                v *= N_SCALAR;
            }
        }
    }
    v
}

/// VADER's `_but_check`, including its `list.index` quirk: for each position k in order the value
/// `x = sent[k]` is looked up again with `index(x)`, and the *first* position holding an equal
/// value is rewritten (×0.5 before the first `but`, ×1.5 after it). Zeros are no-ops, so only the
/// non-zero positions are visited.
fn but_check(sent: &mut [f64], bi: usize, nonzero: &mut Vec<usize>) {
    nonzero.clear();
    nonzero.extend(sent.iter().enumerate().filter(|(_, &v)| v != 0.0).map(|(k, _)| k));
    for a in 0..nonzero.len() {
        let x = sent[nonzero[a]];
        // Values stay non-zero, so the first equal value is at a non-zero position.
        let si = nonzero[..=a].iter().copied().find(|&j| sent[j] == x).unwrap_or(nonzero[a]);
        if si < bi {
            sent[si] = x * 0.5;
        } else if si > bi {
            sent[si] = x * 1.5;
        }
    }
}

/// VADER's punctuation emphasis: 0.292 per `!` (at most 4), plus 0.18 per `?` when there are 2
/// or 3 of them (0.96 for more).
pub fn punctuation_emphasis(text: &str) -> f64 {
    let count = |c: u8| text.bytes().filter(|&b| b == c).count();
    punctuation_amplifier(count(b'!'), count(b'?'))
}

/// [`punctuation_emphasis`] from the counts of `!` and `?`.
fn punctuation_amplifier(ep: usize, qm: usize) -> f64 {
    let ep_amp = ep.min(4) as f64 * 0.292;
    let qm_amp = match qm {
        0 | 1 => 0.0,
        2 | 3 => qm as f64 * 0.18,
        _ => 0.96,
    };
    ep_amp + qm_amp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::sentiment::vader::Vader;

    #[test]
    fn python_whitespace_and_isupper() {
        assert!(is_py_space('\x1c') && is_py_space('\u{a0}') && is_py_space('\u{3000}'));
        assert!(!is_py_space('\u{200b}'));
        assert!(py_isupper("ABC1") && !py_isupper("AbC") && !py_isupper("123") && py_isupper("ÉTÉ"));
        assert!(!py_isupper("ǅ")); // title case
    }

    #[test]
    fn score_ranges_equals_scoring_each_slice() {
        let engine = Vader::new().engine();
        let text = "What a GREAT day!  It was not bad at all.\nBut the traffic was horrible :( \u{a0}No way.";
        let ranges = [0..18, 20..41, 42..76, 78..text.len(), 5..10, 3..9];
        let mut out = Vec::new();
        let full = engine.score_ranges(text, &ranges, true, &mut out).unwrap();
        assert_eq!(full, engine.raw(text));
        for (r, raw) in ranges.iter().zip(&out) {
            assert_eq!(*raw, engine.raw(&text[r.clone()]), "{:?}", &text[r.clone()]);
        }
    }

    #[test]
    fn score_ranges_with_emoji_falls_back_to_each_slice() {
        let engine = Vader::new().engine();
        let text = "I love it 😀. It broke 😢.";
        let ranges = [0..13, 14..text.len()];
        let mut out = Vec::new();
        let full = engine.score_ranges(text, &ranges, true, &mut out).unwrap();
        assert_eq!(full, engine.raw(text));
        assert_eq!(out[1], engine.raw(&text[14..]));
    }
}
