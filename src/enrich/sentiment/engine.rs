//! The VADER scoring engine, shared by both models: tokenisation with Python's string semantics,
//! one lexicon lookup per token, VADER's rules, and the sums VADER normalises. [`super::vader`]
//! runs it with VADER's own lexicon and rules (and documents the behaviour it reproduces);
//! [`super::news`] with its news lexicon and extra rules (`Rules::news`).
//!
//! # Performance
//!
//! About 140k instructions for a 3.4 KB article with either model (`SentimentAnalyzer::analyze`;
//! a straightforward port of VADER's Python took 340k), measured with callgrind over the shared
//! news corpus. What makes it cheap, all without changing a single score (the conformance test,
//! and a bit-for-bit comparison with the straightforward port on the corpus, the rated files and
//! 60,000 generated texts):
//!
//! - **Tokens in registers.** Most tokens are read with one or two 8-byte loads
//!   ([`Engine::simple_token`]): the terminating white space, the letter case, the punctuation to
//!   strip and the lower case are computed on the whole word at once (SWAR), and the lower-cased
//!   word, zero-padded, is both the hash input and the key compared in the table. Tokens with an
//!   apostrophe, `!`/`?`, non-ASCII characters or more than 15 bytes take the general path.
//! - **One lookup per token.** A frozen open-addressing table behind a bit filter (most tokens
//!   are not lexicon words and never touch the table); a slot holds the word's first 8 bytes and
//!   its entry (16 bytes: valence, booster, keyword, flags, spelling number), so a hit reads one
//!   cache line. The news model's inflected forms ("unfairly", "escalates") are added to the
//!   table when it is built (`news::extend_table`) instead of being stemmed per token.
//! - **Sparse rules.** Tokens are 32-byte records; the rules visit only the *marked* ones (a
//!   valence, "but", a news role) and read the others as neighbours. Idioms, bigram boosters and
//!   collocations are matched by spelling number instead of bytes; the three-token booster and
//!   negation loop is skipped when no booster, negation or negation keyword precedes the word;
//!   VADER's cap differential and the news model's title-case test are counted only when an
//!   upper-case or capitalised word needs them; VADER reuses a word's value in the whole text for
//!   its sentence when neither reads different tokens.
//! - **No allocation per call** beyond the result: buffers live in a thread-local scratch, and
//!   [`Engine::score_ranges`] tokenises a document once and scores it and each of its sentences
//!   from the same tokens.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use super::news::{self, NewsRules};
use super::vader::{BOOSTERS, B_DECR, B_INCR, C_INCR, EMOJI_LEXICON, NEGATE, N_SCALAR};
use crate::swar::{splat, HIGH as H};

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
#[repr(u8)]
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

// Bits of `Entry::flags`.
const E_NEGATE: u8 = 1;
const E_IDIOM: u8 = 2;
/// Has a valence, is "but" or has a role in the news rules: the token is in `Scratch::marks`.
const E_MARK: u8 = 4;
/// A booster or one of the keywords of VADER's negation check (never, so, this, without,
/// doubt): may change the valence of a word up to three tokens on (with negations, see
/// `Tok::modifies`).
const E_MODIFIER: u8 = 8;
/// The bits the news rules own (`news::SW_*`): sets of words they compare by spelling, looked
/// up with the word. An inflected form or a possessive keeps its own bits, not its stem's.
pub(crate) const E_NEWS_SETS: u8 = 0xf0;

/// Everything the rules need to know about a word, in 16 bytes (a token copies it whole).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(16))]
pub(crate) struct Entry {
    /// Lexicon valence, NaN when the word is not a lexicon word (see [`Entry::val`]).
    val: f64,
    /// Booster scalar: 1 for `B_INCR`, -1 for `B_DECR`, 0 when not a single-word booster.
    boost: i8,
    pub kw: Kw,
    /// Roles of the word in the news rules (`news::NW_*` bits; see [`super::news`]).
    pub news: u16,
    /// `E_NEGATE` (in the `NEGATE` list), `E_IDIOM` (in a special-case idiom or a multi-word
    /// booster), `E_MARK`, `E_MODIFIER`, and the news rules' word sets (`E_NEWS_SETS`).
    flags: u8,
    /// The number of the word's spelling among the words that rules compare by spelling (those
    /// of the special-case idioms, the bigram boosters and the news collocations), 0 for other
    /// words. It belongs to the token's own spelling, not to the stem whose entry an inflected
    /// form or a possessive takes, so equal numbers mean equal lower-cased tokens.
    pub wid: u16,
}

impl Default for Entry {
    fn default() -> Self {
        Entry::NONE
    }
}

impl Entry {
    /// A word the rules know nothing about.
    pub const NONE: Entry = Entry { val: f64::NAN, boost: 0, kw: Kw::Other, news: 0, flags: 0, wid: 0 };

    /// Lexicon valence (`None`: not a lexicon word).
    #[inline]
    pub fn val(&self) -> Option<f64> {
        (!self.val.is_nan()).then_some(self.val)
    }

    #[inline]
    pub fn has_val(&self) -> bool {
        !self.val.is_nan()
    }

    #[inline]
    pub fn set_val(&mut self, val: Option<f64>) {
        self.val = val.unwrap_or(f64::NAN);
    }

    /// Booster scalar, 0 when not a single-word booster (all boosters are non-zero).
    #[inline]
    pub fn boost(&self) -> f64 {
        match self.boost {
            1 => B_INCR,
            -1 => B_DECR,
            _ => 0.0,
        }
    }

    #[inline]
    pub fn is_booster(&self) -> bool {
        self.boost != 0
    }

    /// Sets the booster scalar (VADER's and the news model's are all `B_INCR` or `B_DECR`).
    pub fn set_boost(&mut self, b: f64) {
        self.boost = if b == B_INCR {
            1
        } else if b == B_DECR {
            -1
        } else {
            assert!(b == 0.0, "booster scalar {b} is neither B_INCR nor B_DECR");
            0
        };
        if self.boost != 0 {
            self.flags |= E_MODIFIER;
        }
    }

    /// In the `NEGATE` list.
    #[inline]
    pub fn negate(&self) -> bool {
        self.flags & E_NEGATE != 0
    }

    /// Appears in a special-case idiom or a multi-word booster.
    #[inline]
    pub fn idiom(&self) -> bool {
        self.flags & E_IDIOM != 0
    }

    /// No valence, no booster, not a negation, no keyword: the news model may look the word up
    /// again as a possessive or an inflected form.
    #[inline]
    pub fn is_plain(&self) -> bool {
        !self.has_val() && self.boost == 0 && !self.negate() && self.kw == Kw::Other
    }

    /// Whether the word is in one of the news rules' word sets `set` (`news::SW_*`).
    #[inline]
    pub fn in_set(&self, set: u8) -> bool {
        self.flags & set & E_NEWS_SETS != 0
    }

    /// The same entry in the news rules' word sets of `own` instead of its own.
    #[inline]
    pub fn with_sets_of(mut self, own: &Entry) -> Entry {
        self.flags = (self.flags & !E_NEWS_SETS) | (own.flags & E_NEWS_SETS);
        self
    }

    /// The same entry with the spelling number `wid`.
    #[inline]
    pub fn with_wid(self, wid: u16) -> Entry {
        Entry { wid, ..self }
    }

    /// Sets `E_MARK` and `E_MODIFIER` from the rest (once the table is complete).
    fn with_mark(mut self) -> Entry {
        if self.has_val() || self.kw == Kw::But || self.news & !news::UNMARKED_ROLES != 0 {
            self.flags |= E_MARK;
        }
        if self.boost != 0 || matches!(self.kw, Kw::Never | Kw::So | Kw::This | Kw::Without | Kw::Doubt) {
            self.flags |= E_MODIFIER;
        }
        self
    }

    /// Carries nothing (such words are left out of the table).
    fn is_empty(&self) -> bool {
        !self.has_val() && self.boost == 0 && self.flags == 0 && self.news == 0 && self.kw == Kw::Other
    }
}

/// The 0–8 bytes of `b` as a little-endian integer padded with zero bytes (the first byte is the
/// lowest). Together with the length it determines the bytes.
#[inline]
fn load_padded(b: &[u8]) -> u64 {
    let r = b.len();
    debug_assert!(r <= 8);
    if r >= 4 {
        let lo = u64::from(u32::from_le_bytes(b[..4].try_into().unwrap()));
        let hi = u64::from(u32::from_le_bytes(b[r - 4..].try_into().unwrap()));
        lo | ((hi >> (8 * (8 - r))) << 32)
    } else if r > 0 {
        u64::from(b[0]) | (u64::from(b[r / 2]) << (8 * (r / 2))) | (u64::from(b[r - 1]) << (8 * (r - 1)))
    } else {
        0
    }
}

#[inline]
fn load8(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The non-ASCII characters of `text` from byte `from` (a character boundary) on, with their
/// offsets. Skips ASCII eight bytes at a time: news text is nearly all ASCII.
pub(crate) fn non_ascii_chars(text: &str, from: usize) -> impl Iterator<Item = (usize, char)> + '_ {
    let b = text.as_bytes();
    let mut i = from;
    std::iter::from_fn(move || {
        while i + 8 <= b.len() && load8(b, i) & H == 0 {
            i += 8;
        }
        while i < b.len() && b[i] < 0x80 {
            i += 1;
        }
        let c = text.get(i..)?.chars().next()?;
        let at = i;
        i += c.len_utf8();
        Some((at, c))
    })
}

/// The end of [`word_hash`]. Fx ends with a multiplication, whose high bits (the table slot and
/// the filter bit) depend on every input bit.
#[inline]
fn finish_hash(h: FxHasher) -> u64 {
    h.0
}

/// [`word_hash`] of a word of `len` ≤ 8 bytes given as [`load_padded`].
#[inline]
fn short_hash(len: usize, padded: u64) -> u64 {
    let mut h = FxHasher(len as u64);
    h.add(padded);
    finish_hash(h)
}

/// [`word_hash`] of a word of 9 to 16 bytes: its first 8 bytes and the rest padded.
#[inline]
fn long_hash(len: usize, head: u64, tail: u64) -> u64 {
    let mut h = FxHasher(len as u64);
    h.add(head);
    h.add(tail);
    finish_hash(h)
}

/// Hash of a byte string: Fx rounds over its 8-byte chunks (the last one padded with zeros).
#[inline]
fn word_hash(bytes: &[u8]) -> u64 {
    let mut h = FxHasher(bytes.len() as u64);
    let mut rest = bytes;
    while rest.len() > 8 {
        h.add(load8(rest, 0));
        rest = &rest[8..];
    }
    h.add(load_padded(rest));
    finish_hash(h)
}

/// A slot of [`WordTable`]: a word's entry, its first 8 bytes (padded), its length and its
/// number.
#[derive(Debug, Clone, Copy)]
struct Slot {
    entry: Entry,
    head: u64,
    len: u32,
    idx: u32,
}

/// A frozen word → [`Entry`] table for the lookup-per-token hot path: a bit filter (8 bits per
/// word, at least 16 KiB) answers most misses without touching the table; hits probe an
/// open-addressing array of 32-byte slots that hold the entry and the first 8 bytes of the word
/// (the whole word up to 8 bytes); bytes 8–16 of longer words are compared as one integer and
/// the rest in an arena. Words are numbered in the order given.
#[derive(Debug)]
struct WordTable {
    filter: Box<[u64]>,
    filter_shift: u32,
    slots: Box<[Slot]>,
    shift: u32,
    /// Bytes 8..16 of each word ([`load_padded`], 0 for words of up to 8 bytes).
    tails: Vec<u64>,
    /// Bytes 16.. of the words longer than 16 bytes, and where each word's start.
    arena: Vec<u8>,
    rest_at: Vec<u32>,
}

const MIN_FILTER_BITS: u32 = 17;
const EMPTY: u32 = u32::MAX;

impl WordTable {
    fn new<'w>(words: impl ExactSizeIterator<Item = (&'w [u8], Entry)>) -> Self {
        let count = words.len();
        let bits = (count * 2 + 1).next_power_of_two().trailing_zeros().max(4);
        let filter_bits = (count * 8).next_power_of_two().trailing_zeros().max(MIN_FILTER_BITS);
        let mut table = WordTable {
            filter: vec![0u64; 1 << (filter_bits - 6)].into_boxed_slice(),
            filter_shift: 64 - filter_bits,
            slots: vec![Slot { entry: Entry::NONE, head: 0, len: 0, idx: EMPTY }; 1 << bits].into_boxed_slice(),
            shift: 64 - bits,
            tails: Vec::with_capacity(count),
            arena: Vec::new(),
            rest_at: Vec::with_capacity(count),
        };
        let mask = table.slots.len() - 1;
        for (word, entry) in words {
            let h = word_hash(word);
            let f = (h >> table.filter_shift) as usize;
            table.filter[f >> 6] |= 1 << (f & 63);
            let idx = table.tails.len() as u32;
            table.tails.push(load_padded(word.get(8..word.len().min(16)).unwrap_or_default()));
            table.rest_at.push(table.arena.len() as u32);
            table.arena.extend_from_slice(word.get(16..).unwrap_or_default());
            let mut slot = (h >> table.shift) as usize;
            while table.slots[slot].idx != EMPTY {
                slot = (slot + 1) & mask;
            }
            let head = load_padded(&word[..word.len().min(8)]);
            table.slots[slot] = Slot { entry, head, len: word.len() as u32, idx };
        }
        table
    }

    /// The slot of `bytes`.
    #[inline]
    fn find(&self, bytes: &[u8]) -> Option<&Slot> {
        let len = bytes.len();
        if len <= 8 {
            return self.find_short(len, load_padded(bytes));
        }
        let (head, tail) = (load8(bytes, 0), load_padded(&bytes[8..len.min(16)]));
        if len <= 16 {
            return self.find_long(len, head, tail);
        }
        let h = word_hash(bytes);
        if !self.may_hold(h) {
            return None;
        }
        let rest = &bytes[16..];
        self.probe(h, |s| {
            s.head == head && s.len == len as u32 && self.tails[s.idx as usize] == tail && {
                let at = self.rest_at[s.idx as usize] as usize;
                self.arena[at..at + rest.len()] == *rest
            }
        })
    }

    /// The slot of the word of `len` ≤ 8 bytes given as [`load_padded`].
    #[inline]
    fn find_short(&self, len: usize, padded: u64) -> Option<&Slot> {
        let h = short_hash(len, padded);
        if !self.may_hold(h) {
            return None;
        }
        self.probe(h, |s| s.head == padded && s.len == len as u32)
    }

    /// The slot of the word of 9 to 16 bytes given as its first 8 bytes and the rest padded.
    #[inline]
    fn find_long(&self, len: usize, head: u64, tail: u64) -> Option<&Slot> {
        let h = long_hash(len, head, tail);
        if !self.may_hold(h) {
            return None;
        }
        self.probe(h, |s| s.head == head && s.len == len as u32 && self.tails[s.idx as usize] == tail)
    }

    #[inline]
    fn may_hold(&self, h: u64) -> bool {
        let f = (h >> self.filter_shift) as usize;
        self.filter[f >> 6] & (1 << (f & 63)) != 0
    }

    #[inline]
    fn probe(&self, h: u64, is: impl Fn(&Slot) -> bool) -> Option<&Slot> {
        let mask = self.slots.len() - 1;
        let mut slot = (h >> self.shift) as usize;
        loop {
            let s = &self.slots[slot];
            if s.idx == EMPTY {
                return None;
            }
            if is(s) {
                return Some(s);
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
    /// The words, each with the entry a token spelled like it gets when it has no apostrophe:
    /// its own, except for the news model's inflected forms (words of the lexicon or not), which
    /// take their stem's entry (see `news::extend_table`).
    table: WordTable,
    /// The entry of each table word as a word of its own (numbered as in `table`): for tokens
    /// with an apostrophe.
    direct: Vec<Entry>,
    /// `rules.special_cases` and `rules.bigram_boosters` as spelling numbers (`Entry::wid`).
    idioms: Vec<(Vec<u16>, f64)>,
    bigrams: Vec<([u16; 2], f64)>,
    /// Bit c of `idiom_at[w][p]`: special case c has the word numbered `w` at position p; of
    /// `idiom_len[l]`: special case c has l words. The same for the bigrams.
    idiom_at: Vec<[u64; 3]>,
    idiom_len: [u64; 4],
    bigram_at: Vec<[u64; 2]>,
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

// Bits of `Tok::bits`.
const T_IN_TEXT: u8 = 1;
const T_UPPER: u8 = 2;
const T_CAP: u8 = 4;
const T_ENDS_SENTENCE: u8 = 8;
const T_NEGATED: u8 = 16;

/// One token (32 bytes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tok {
    pub e: Entry,
    /// Byte offset of the (unstripped) token in the tokenised text.
    pub start: u32,
    /// Byte range of the lower-cased token: in the tokenised text when `in_text` (an ASCII
    /// token without capitals is its own lower case), else in the scratch `lower` buffer.
    pub lo: u32,
    pub hi: u32,
    bits: u8,
    /// Last byte of the unstripped token.
    pub last: u8,
}

impl Tok {
    #[inline]
    pub fn in_text(&self) -> bool {
        self.bits & T_IN_TEXT != 0
    }

    /// Python `isupper()` of the token.
    #[inline]
    pub fn upper(&self) -> bool {
        self.bits & T_UPPER != 0
    }

    /// Capitalised: first character upper case, not all upper case.
    #[inline]
    pub fn cap(&self) -> bool {
        self.bits & T_CAP != 0
    }

    /// The unstripped token ends with `.`, `!`, `?` or `:` (possibly before a closing quote).
    #[inline]
    pub fn ends_sentence(&self) -> bool {
        self.bits & T_ENDS_SENTENCE != 0
    }

    /// `negated([token])`: in `NEGATE` or containing `n't`.
    #[inline]
    pub fn negated(&self) -> bool {
        self.bits & T_NEGATED != 0
    }

    /// A booster, a negation or a keyword of the negation check: without one among the three
    /// tokens before a word, VADER's booster and negation steps leave its valence as it is.
    #[inline]
    fn modifies(&self) -> bool {
        self.e.flags & E_MODIFIER != 0 || self.bits & T_NEGATED != 0
    }
}

/// 0x80 in each byte of `x` that lies in `lo..=hi` (all bytes of `x` below 0x80, `lo` ≥ 1:
/// no carry crosses a byte).
#[inline]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    x.wrapping_add(splat(0x80 - lo)) & !x.wrapping_add(splat(0x7f - hi)) & H
}

/// 0x80 in each byte of `x` below 0x21 or above 0x7f (white space, control characters and
/// non-ASCII bytes end a run of printable ASCII). Exact up to the first such byte.
#[inline]
fn stop_mask(x: u64) -> u64 {
    (x.wrapping_sub(splat(0x21)) | x) & H
}

/// The low `n` bytes (1 ≤ n ≤ 8) of a word set.
#[inline]
fn low_bytes(n: usize) -> u64 {
    u64::MAX >> (64 - 8 * n)
}

/// Whether `c` is ASCII punctuation other than `'`, `!` and `?` (stripped, and without a role in
/// negation, possessives or emphasis).
#[inline]
fn plain_punct(c: u8) -> bool {
    CLASS[usize::from(c)] & (PUNCT | QUOTE | EMPH) == PUNCT
}

/// Token bits of a word of letters: upper case (`all_upper`), else capitalised (`first_upper`);
/// negated when its entry is a negation.
#[inline]
fn case_bits(all_upper: bool, first_upper: bool, e: Entry) -> u8 {
    let case = if all_upper {
        T_UPPER
    } else if first_upper {
        T_CAP
    } else {
        0
    };
    case | if e.negate() { T_NEGATED } else { 0 }
}

/// `T_ENDS_SENTENCE` when the unstripped token ends with `.`, `!`, `?` or `:`, possibly before a
/// closing quote or parenthesis.
#[inline]
fn ends_sentence(token: &[u8]) -> u8 {
    let k = token.len();
    let ends = matches!(token[k - 1], b'.' | b'!' | b'?' | b':')
        || (matches!(token[k - 1], b'"' | b'\'' | b')') && k > 1 && matches!(token[k - 2], b'.' | b'!' | b'?' | b':'));
    if ends {
        T_ENDS_SENTENCE
    } else {
        0
    }
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
        let source = if t.in_text() { self.text } else { self.lower };
        &source[t.lo as usize..t.hi as usize]
    }
}

/// Per-thread buffers of the tokenizer and the rules.
#[derive(Default)]
pub(crate) struct Scratch {
    lower: Vec<u8>,
    toks: Vec<Tok>,
    /// Indices of the tokens the rules iterate over (`E_MARK`): those with a valence, the news
    /// model's words (which may gain or lose one) and "but". The others score 0 and only matter
    /// as neighbours.
    marks: Vec<u32>,
    /// Indices of the tokens with `!` or `?`, and their numbers of each (at most 255).
    punct_at: Vec<u32>,
    punct: Vec<(u8, u8)>,
    /// Non-zero sentiment values of a text and their token positions, in order.
    sent: Vec<(u32, f64)>,
    /// The values of the marked tokens in the whole text (NaN: not computed), see [`Reuse`].
    full: Vec<f64>,
}

/// Whether [`Engine::score_tokens`] records the values it computes for the whole text (VADER
/// scores the text first, then its sentences) or reuses them for a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reuse {
    None,
    Record,
    Use,
}

/// Where [`Engine::tokenize`] puts the tokens: the scratch's buffers, moved out while it runs.
struct Sink {
    lower: Vec<u8>,
    toks: Vec<Tok>,
    marks: Vec<u32>,
}

impl Sink {
    /// Appends a token (and marks it, see `Scratch::marks`).
    #[inline]
    fn push(&mut self, tok: Tok) {
        let (index, mark) = (self.toks.len() as u32, tok.e.flags & E_MARK != 0);
        self.toks.push(tok);
        if mark {
            self.marks.push(index);
        }
    }

    /// Appends a lower-cased word of `len` ≤ 16 bytes given as its bytes 0–7 `head` and 8–15
    /// `tail` (bytes past `len` are ignored) and returns where it starts. Both words are
    /// written whole and the excess cut off: two fixed stores instead of a copy of `len` bytes.
    #[inline]
    fn push_lower(&mut self, head: u64, tail: u64, len: usize) -> usize {
        debug_assert!(len <= 16, "a word of {len} bytes");
        let lo = self.lower.len();
        self.lower.extend_from_slice(&head.to_le_bytes());
        self.lower.extend_from_slice(&tail.to_le_bytes());
        self.lower.truncate(lo + len);
        lo
    }
}

/// Positions in the sparse lists of [`Scratch`] of the first entries at or after token `at`.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    at: u32,
    marks: usize,
    punct: usize,
}

/// A range of tokens, its marked tokens and its numbers of `!` and `?`.
struct Span {
    toks: Range<usize>,
    marks: Range<usize>,
    excl: usize,
    quest: usize,
}

/// The position of the first element ≥ `x` in the sorted `list`, given that those before `from`
/// are < `x`: galloping from `from`, so that sentences in order cost what they hold.
#[inline]
fn seek(list: &[u32], from: usize, x: u32) -> usize {
    gallop(list, from, |&v| v < x)
}

/// The first position at or after `from` where `before` fails, given that it holds for all
/// elements before `from` and is monotone: a few steps forward, then galloping.
#[inline]
fn gallop<T>(list: &[T], from: usize, before: impl Fn(&T) -> bool) -> usize {
    let near = (from + 4).min(list.len());
    if let Some(k) = (from..near).find(|&k| !before(&list[k])) {
        return k;
    }
    let rest = &list[near..];
    let (mut lo, mut step) = (0, 1);
    // `before` holds on rest[..lo].
    while lo + step <= rest.len() && before(&rest[lo + step - 1]) {
        lo += step;
        step *= 2;
    }
    let hi = (lo + step).min(rest.len());
    near + lo + rest[lo..hi].partition_point(before)
}

impl Scratch {
    /// The cursor at token `at`, searching forward from `c` when it is not past `at`.
    #[inline]
    fn cursor(&self, c: Cursor, at: usize) -> Cursor {
        let at = at as u32;
        let c = if c.at <= at { c } else { Cursor::default() };
        Cursor { at, marks: seek(&self.marks, c.marks, at), punct: seek(&self.punct_at, c.punct, at) }
    }

    /// The span between two cursors.
    fn span(&self, a: Cursor, b: Cursor) -> Span {
        let (excl, quest) = self.punct[a.punct..b.punct]
            .iter()
            .fold((0, 0), |(e, q), &(x, y)| (e + usize::from(x), q + usize::from(y)));
        Span { toks: a.at as usize..b.at as usize, marks: a.marks..b.marks, excl, quest }
    }

    /// The span of all tokens.
    fn all(&self) -> Span {
        let end = Cursor { at: self.toks.len() as u32, marks: self.marks.len(), punct: self.punct_at.len() };
        self.span(Cursor::default(), end)
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Engine {
    /// Builds an engine from lexicon entries (in order: a later entry for the same word replaces
    /// an earlier one, `None` removes the word) and rules.
    pub(crate) fn new(lexicon: impl IntoIterator<Item = (Cow<'static, str>, Option<f64>)>, mut rules: Rules) -> Self {
        let mut table: FxMap<Cow<'static, str>, Entry> = FxMap::default();
        for (word, val) in lexicon {
            table.entry(word).or_default().set_val(val);
        }
        for &(word, b) in BOOSTERS {
            if !word.contains(' ') {
                table.entry(Cow::Borrowed(word)).or_default().set_boost(b);
            }
        }
        if let Some(news) = &rules.news {
            for (word, b) in news.boosters() {
                let e = table.entry(Cow::Owned(word)).or_default();
                e.set_boost(b);
                e.set_val(None);
            }
        }
        for &word in NEGATE {
            table.entry(Cow::Borrowed(word)).or_default().flags |= E_NEGATE;
        }
        for &(word, kw) in KEYWORDS {
            table.entry(Cow::Borrowed(word)).or_default().kw = kw;
        }
        let idiom_words = rules.special_cases.iter().flat_map(|(words, _)| words.iter());
        let idiom_words = idiom_words.chain(rules.bigram_boosters.iter().flat_map(|(words, _)| words.iter()));
        for word in idiom_words {
            table.entry(Cow::Owned(word.clone())).or_default().flags |= E_IDIOM;
        }
        if let Some(news) = &rules.news {
            for (word, role) in news.watched_words() {
                table.entry(Cow::Owned(word)).or_default().news |= role;
            }
            for (word, set) in news::word_sets() {
                table.entry(Cow::Borrowed(word)).or_default().flags |= set & E_NEWS_SETS;
            }
        }
        // Entries that carry nothing would only slow down misses.
        let mut words: Vec<(Vec<u8>, Entry)> =
            table.into_iter().filter(|(_, e)| !e.is_empty()).map(|(w, e)| (w.into_owned().into_bytes(), e)).collect();
        words.sort_by(|a, b| a.0.cmp(&b.0));
        let position = |words: &[(Vec<u8>, Entry)], w: &[u8]| words.binary_search_by(|(k, _)| k.as_slice().cmp(w)).ok();

        // Number the spellings that rules compare tokens with.
        let mut spelled: Vec<Vec<u8>> =
            rules.special_cases.iter().flat_map(|(words, _)| words.iter()).cloned().map(String::into_bytes).collect();
        spelled
            .extend(rules.bigram_boosters.iter().flat_map(|(words, _)| words.iter()).cloned().map(String::into_bytes));
        if let Some(news) = &rules.news {
            spelled.extend(news.collocation_pairs().into_iter().flat_map(|(a, b)| [a.to_vec(), b.to_vec()]));
        }
        spelled.sort();
        spelled.dedup();
        for (number, word) in spelled.iter().enumerate() {
            if let Some(k) = position(&words, word) {
                words[k].1.wid = u16::try_from(number + 1).expect("fewer than 65,535 spelled words");
            }
        }
        // Every idiom word is flagged, so it is in the table.
        let wid = |w: &String| words[position(&words, w.as_bytes()).expect("idiom words are in the table")].1.wid;
        let idioms: Vec<(Vec<u16>, f64)> =
            rules.special_cases.iter().map(|(key, val)| (key.iter().map(wid).collect(), *val)).collect();
        let bigrams: Vec<([u16; 2], f64)> =
            rules.bigram_boosters.iter().map(|([a, b], val)| ([wid(a), wid(b)], *val)).collect();
        assert!(idioms.len() <= 64 && bigrams.len() <= 64, "at most 64 special cases and 64 bigram boosters");
        let (mut idiom_at, mut idiom_len) = (vec![[0u64; 3]; spelled.len() + 1], [0u64; 4]);
        for (c, (key, _)) in idioms.iter().enumerate() {
            if key.len() < idiom_len.len() {
                idiom_len[key.len()] |= 1 << c;
                for (p, &w) in key.iter().enumerate() {
                    idiom_at[usize::from(w)][p] |= 1 << c;
                }
            }
        }
        let mut bigram_at = vec![[0u64; 2]; spelled.len() + 1];
        for (c, (key, _)) in bigrams.iter().enumerate() {
            for (p, &w) in key.iter().enumerate() {
                bigram_at[usize::from(w)][p] |= 1 << c;
            }
        }

        let token: Vec<Entry> = match &mut rules.news {
            Some(news) => {
                let (mut token, forms) = news::extend_table(news, &words);
                for (form, entry) in forms {
                    words.push((form, Entry::NONE));
                    token.push(entry);
                }
                token
            }
            None => words.iter().map(|(_, e)| *e).collect(),
        };
        Engine {
            table: WordTable::new(words.iter().zip(token).map(|((w, _), e)| (w.as_slice(), e.with_mark()))),
            direct: words.into_iter().map(|(_, e)| e.with_mark()).collect(),
            idioms,
            bigrams,
            idiom_at,
            idiom_len,
            bigram_at,
            emojis: parse_emojis(EMOJI_LEXICON),
            rules,
        }
    }

    /// Looks a lower-case word up.
    #[inline]
    pub(crate) fn entry(&self, word: &[u8]) -> Entry {
        self.table.find(word).map_or(Entry::NONE, |s| self.direct[s.idx as usize])
    }

    /// The lexicon valence of a lower-case word, `None` for a word outside the lexicon.
    pub fn valence(&self, word: &str) -> Option<f64> {
        self.entry(word.as_bytes()).val()
    }

    /// Whether `text` holds a character of the emoji lexicon (all of them are ≥ U+00A9).
    fn has_emoji(&self, text: &str) -> bool {
        non_ascii_chars(text, 0).any(|(_, c)| c >= '\u{a9}' && self.emojis.contains_key(&c))
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
            let all = s.all();
            self.score_tokens(text.as_bytes(), all, s, Reuse::None)
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
        out.reserve(ranges.len());
        let mut alone = Vec::new();
        let shared = !(want_full && self.rules.news.is_some());
        // `None`: the text has emojis (found after tokenising, and only when a token is not ASCII).
        let full = shared
            .then(|| {
                SCRATCH.with(|s| {
                    let s = &mut *s.borrow_mut();
                    if self.tokenize(text, s) && self.has_emoji(text) {
                        return None;
                    }
                    // The news rules change tokens per sentence: nothing to reuse there.
                    let reuse = want_full && self.rules.news.is_none();
                    let full = want_full.then(|| {
                        let all = s.all();
                        self.score_tokens(text.as_bytes(), all, s, if reuse { Reuse::Record } else { Reuse::None })
                    });
                    let mut cursor = Cursor::default();
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
                        // Sentences usually come in order: search from the previous one's end.
                        let at = cursor.at as usize;
                        let from = if at > 0 && (s.toks[at - 1].start as usize) < r.start { at } else { 0 };
                        let a = gallop(&s.toks, from, |t| (t.start as usize) < r.start);
                        let b = gallop(&s.toks, a, |t| (t.start as usize) < r.end);
                        let ca = s.cursor(cursor, a);
                        cursor = s.cursor(ca, b);
                        let span = s.span(ca, cursor);
                        out.push(self.score_tokens(
                            text.as_bytes(),
                            span,
                            s,
                            if reuse { Reuse::Use } else { Reuse::None },
                        ));
                    }
                    Some(full)
                })
            })
            .flatten();
        let full = match full {
            Some(full) => full,
            None => {
                out.clear();
                out.extend(ranges.iter().map(|r| text.get(r.clone()).map_or_else(Raw::default, |t| self.raw(t))));
                want_full.then(|| self.raw(text))
            }
        };
        for k in alone {
            out[k] = text.get(ranges[k].clone()).map_or_else(Raw::default, |t| self.raw(t));
        }
        full
    }

    /// Splits `text` into tokens (Python `split()`, punctuation stripped unless ≤ 2 characters
    /// remain), lower-cases them into `s.lower` and looks each up. Returns whether a token holds
    /// a non-ASCII character.
    pub(crate) fn tokenize(&self, text: &str, s: &mut Scratch) -> bool {
        let b = text.as_bytes();
        let n = b.len();
        // Moved out of the scratch while tokenising, put back at the end.
        let mut out = Sink {
            lower: std::mem::take(&mut s.lower),
            toks: std::mem::take(&mut s.toks),
            marks: std::mem::take(&mut s.marks),
        };
        out.lower.clear();
        out.toks.clear();
        out.marks.clear();
        s.punct_at.clear();
        s.punct.clear();
        out.toks.reserve(n / 2 + 1);
        let mut all_flags = 0;
        let mut i = 0;
        while i < n {
            let len = self.simple_token(&b[i..], i, &mut out);
            if len > 0 {
                // The byte after the token is ASCII white space.
                i += len + 1;
                continue;
            }
            let c = CLASS[usize::from(b[i])];
            if c & WS != 0 {
                i += 1;
                continue;
            }
            if c & WS_LEAD != 0 {
                let len = py_space_len(b, i);
                if len > 0 {
                    i += len;
                    continue;
                }
            }
            let start = i;
            let mut flags = c;
            i += 1;
            // Continuation bytes are never white-space lead bytes, so stepping bytewise is safe.
            while i < n {
                let c = CLASS[usize::from(b[i])];
                if c & (WS | WS_LEAD) != 0 && (c & WS != 0 || py_space_len(b, i) > 0) {
                    break;
                }
                flags |= c;
                i += 1;
            }
            all_flags |= flags;
            let index = out.toks.len() as u32;
            let tok = if flags & (NON_ASCII | QUOTE | EMPH) == 0 {
                // ASCII without `'`, `!` or `?`: most tokens.
                let token = &b[start..i];
                let (mut a, mut z) = (0, token.len());
                if flags & PUNCT != 0 {
                    while a < z && CLASS[usize::from(token[a])] & PUNCT != 0 {
                        a += 1;
                    }
                    while z > a && CLASS[usize::from(token[z - 1])] & PUNCT != 0 {
                        z -= 1;
                    }
                }
                let (word_start, word_end) = if z - a <= 2 { (start, i) } else { (start + a, start + z) };
                let mut bits = ends_sentence(token);
                let (lo, hi);
                if flags & UPPER == 0 {
                    (lo, hi) = (word_start, word_end);
                    bits |= T_IN_TEXT;
                } else {
                    lo = out.lower.len();
                    out.lower.extend(b[word_start..word_end].iter().map(u8::to_ascii_lowercase));
                    hi = out.lower.len();
                    // `flags` covers the unstripped token; stripped punctuation has no letters.
                    if flags & LOWER == 0 {
                        bits |= T_UPPER;
                    } else if b[word_start].is_ascii_uppercase() {
                        bits |= T_CAP;
                    }
                }
                let word = if bits & T_IN_TEXT != 0 { &b[lo..hi] } else { &out.lower[lo..hi] };
                let e = self.token_entry(word, false);
                if e.negate() {
                    bits |= T_NEGATED;
                }
                Tok { e, start: start as u32, lo: lo as u32, hi: hi as u32, bits, last: token[token.len() - 1] }
            } else {
                self.general_token(text, start..i, flags, &mut out.lower, (index, &mut s.punct_at, &mut s.punct))
            };
            out.push(tok);
        }
        s.lower = out.lower;
        s.toks = out.toks;
        s.marks = out.marks;
        all_flags & NON_ASCII != 0
    }

    /// The common token, read with one or two 8-byte loads: 1–15 ASCII bytes followed by ASCII
    /// white space, letters and digits possibly between plain punctuation (not `'`, `!` or
    /// `?`), such as `said,` or `(Reuters)`. Pushes the token to `out` and returns its length in
    /// bytes, or returns 0 (pushing nothing) for [`Engine::tokenize`]'s general path, which gives
    /// the same token.
    #[inline]
    fn simple_token(&self, rest: &[u8], i: usize, out: &mut Sink) -> usize {
        if rest.len() < 8 {
            return 0;
        }
        let x = load8(rest, 0);
        let stop = stop_mask(x);
        let (len, t) = if stop != 0 {
            let len = (stop.trailing_zeros() / 8) as usize;
            if len == 0 || CLASS[usize::from((x >> (8 * len)) as u8)] & WS == 0 {
                return 0;
            }
            (len, x & low_bytes(len))
        } else {
            if rest.len() < 16 {
                return 0;
            }
            let y = load8(rest, 8);
            let stop = stop_mask(y);
            let len = 8 + (stop.trailing_zeros() / 8) as usize;
            if stop == 0 || CLASS[usize::from((y >> (8 * (len - 8))) as u8)] & WS == 0 {
                return 0;
            }
            if len > 8 {
                return self.long_token(rest, i, len, x, y & low_bytes(len - 8), out);
            }
            (8, x)
        };
        // 1–8 bytes `t`.
        let body = H & low_bytes(len);
        let lowers = in_range(t, b'a', b'z');
        let last = (t >> (8 * (len - 1))) as u8;
        if lowers == body {
            // Lower-case letters: the token is its own lower case.
            let e = self.short_entry(len, t);
            let bits = T_IN_TEXT | if e.negate() { T_NEGATED } else { 0 };
            out.push(Tok { e, start: i as u32, lo: i as u32, hi: (i + len) as u32, bits, last });
            return len;
        }
        let upper = in_range(t, b'A', b'Z');
        if upper | lowers == body {
            // Letters, some upper case.
            let padded = t | (upper >> 2);
            let e = self.short_entry(len, padded);
            let bits = case_bits(lowers == 0, upper & 0x80 != 0, e);
            let lo = out.push_lower(padded, 0, len);
            out.push(Tok { e, start: i as u32, lo: lo as u32, hi: (lo + len) as u32, bits, last });
            return len;
        }
        if len > 3 && lowers | upper == body >> 8 && plain_punct(last) {
            // Three letters or more and one plain punctuation mark (`said,`, `year.`), stripped.
            let wl = len - 1;
            return self.letters_token(&rest[..len], i, wl, t & low_bytes(wl), 0, upper, lowers, out);
        }
        self.edge_token(rest, i, len, t, 0, out)
    }

    /// [`Engine::simple_token`] for 9–15 bytes: the first 8 `x`, the others `t` (padded).
    #[inline]
    fn long_token(&self, rest: &[u8], i: usize, len: usize, x: u64, t: u64, out: &mut Sink) -> usize {
        let body = H & low_bytes(len - 8);
        let (lowers_x, lowers_t) = (in_range(x, b'a', b'z'), in_range(t, b'a', b'z'));
        let last = (t >> (8 * (len - 9))) as u8;
        if lowers_x == H && lowers_t == body {
            let e = self.long_entry(len, x, t);
            let bits = T_IN_TEXT | if e.negate() { T_NEGATED } else { 0 };
            out.push(Tok { e, start: i as u32, lo: i as u32, hi: (i + len) as u32, bits, last });
            return len;
        }
        let (upper_x, upper_t) = (in_range(x, b'A', b'Z'), in_range(t, b'A', b'Z'));
        if upper_x | lowers_x == H && upper_t | lowers_t == body {
            let (head, tail) = (x | (upper_x >> 2), t | (upper_t >> 2));
            let e = self.long_entry(len, head, tail);
            let bits = case_bits(lowers_x | lowers_t == 0, upper_x & 0x80 != 0, e);
            let lo = out.push_lower(head, tail, len);
            out.push(Tok { e, start: i as u32, lo: lo as u32, hi: (lo + len) as u32, bits, last });
            return len;
        }
        if upper_x | lowers_x == H && upper_t | lowers_t == body >> 8 && plain_punct(last) {
            // Letters and one plain punctuation mark (`officials,`), stripped.
            let wl = len - 1;
            let tail = if wl > 8 { t & low_bytes(wl - 8) } else { 0 };
            return self.letters_token(
                &rest[..len],
                i,
                wl,
                x,
                tail,
                upper_x | (upper_t << 1),
                lowers_x | lowers_t,
                out,
            );
        }
        self.edge_token(rest, i, len, x, t, out)
    }

    /// A token of `wl` ≥ 3 letters (bytes 0–7 `x`, 8–15 `y`, padded) and one plain punctuation
    /// mark after them: its word is the letters. `upper` and `lowers` are non-zero when some
    /// letter is upper or lower case; bit 7 of `upper` is set when the first one is.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn letters_token(
        &self,
        token: &[u8],
        i: usize,
        wl: usize,
        x: u64,
        y: u64,
        upper: u64,
        lowers: u64,
        out: &mut Sink,
    ) -> usize {
        let mut bits = ends_sentence(token);
        let (e, lo);
        if upper == 0 {
            e = self.word_entry(wl, x, y);
            lo = i;
            bits |= T_IN_TEXT;
        } else {
            let (head, tail) = (x | (in_range(x, b'A', b'Z') >> 2), y | (in_range(y, b'A', b'Z') >> 2));
            e = self.word_entry(wl, head, tail);
            bits |= case_bits(lowers == 0, upper & 0x80 != 0, e) & (T_UPPER | T_CAP);
            lo = out.push_lower(head, tail, wl);
        }
        if e.negate() {
            bits |= T_NEGATED;
        }
        out.push(Tok { e, start: i as u32, lo: lo as u32, hi: (lo + wl) as u32, bits, last: token[token.len() - 1] });
        token.len()
    }

    /// [`Engine::simple_token`] for the other tokens of 1–15 printable ASCII bytes, given as
    /// bytes 0–7 `x` and 8–15 `y` (padded with zero bytes): letters and digits between plain
    /// punctuation (`said,`, `(Reuters)`, `2017.`).
    #[inline(never)]
    fn edge_token(&self, rest: &[u8], i: usize, len: usize, x: u64, y: u64, out: &mut Sink) -> usize {
        let (upper_x, upper_y) = (in_range(x, b'A', b'Z'), in_range(y, b'A', b'Z'));
        let (lowers_x, lowers_y) = (in_range(x, b'a', b'z'), in_range(y, b'a', b'z'));
        let alnum_x = upper_x | lowers_x | in_range(x, b'0', b'9');
        let alnum_y = upper_y | lowers_y | in_range(y, b'0', b'9');
        if alnum_x == 0 {
            // Leading punctuation of 8 bytes or more (or none at all): rare.
            return 0;
        }
        // Letters and digits from byte `first` to byte `last`, plain punctuation around them.
        let first = (alnum_x.trailing_zeros() / 8) as usize;
        let last = if alnum_y != 0 {
            15 - (alnum_y.leading_zeros() / 8) as usize
        } else {
            7 - (alnum_x.leading_zeros() / 8) as usize
        };
        let run_x = (H << (8 * first)) & (H >> (8 * 7usize.saturating_sub(last)));
        let run_y = if last >= 8 { H >> (8 * (15 - last)) } else { 0 };
        if alnum_x != run_x || alnum_y != run_y {
            return 0;
        }
        let token = &rest[..len];
        let plain = |c: &u8| CLASS[usize::from(*c)] & (PUNCT | QUOTE | EMPH) == PUNCT;
        if !token[..first].iter().chain(&token[last + 1..]).all(plain) {
            return 0;
        }
        // Punctuation is stripped unless two characters or fewer would remain.
        let (ws, wl) = if last - first < 2 { (0, len) } else { (first, last + 1 - first) };
        // The word's bytes (lower case), shifted down by `ws` < 8 bytes across the two words.
        let shift = |a: u64, b: u64| (a >> (8 * ws)) | ((b << 1) << (63 - 8 * ws));
        let (head, tail) = (shift(x | (upper_x >> 2), y | (upper_y >> 2)), (y | (upper_y >> 2)) >> (8 * ws));
        let mut bits = ends_sentence(token);
        let (lo, hi);
        if upper_x | upper_y == 0 {
            (lo, hi) = (i + ws, i + ws + wl);
            bits |= T_IN_TEXT;
        } else {
            if lowers_x | lowers_y == 0 {
                bits |= T_UPPER;
            } else if (upper_x >> (8 * ws)) & 0x80 != 0 {
                bits |= T_CAP;
            }
            lo = out.push_lower(head, tail, wl);
            hi = out.lower.len();
        }
        let e = if wl <= 8 {
            self.short_entry(wl, head & low_bytes(wl))
        } else {
            self.long_entry(wl, head, tail & low_bytes(wl - 8))
        };
        if e.negate() {
            bits |= T_NEGATED;
        }
        out.push(Tok { e, start: i as u32, lo: lo as u32, hi: hi as u32, bits, last: token[len - 1] });
        len
    }

    /// A token with a non-ASCII character, an apostrophe, `!` or `?` (`flags`: the classes of
    /// its bytes): the general case of [`Engine::tokenize`]. Records its `!` and `?`.
    #[cold]
    #[inline(never)]
    fn general_token(
        &self,
        text: &str,
        range: Range<usize>,
        flags: u8,
        lower: &mut Vec<u8>,
        (index, punct_at, punct): (u32, &mut Vec<u32>, &mut Vec<(u8, u8)>),
    ) -> Tok {
        let b = text.as_bytes();
        let (start, end) = (range.start, range.end);
        let token = &b[start..end];
        if flags & EMPH != 0 {
            let (mut excl, mut quest) = (0u8, 0u8);
            for &c in token {
                if c == b'!' {
                    excl = excl.saturating_add(1);
                } else if c == b'?' {
                    quest = quest.saturating_add(1);
                }
            }
            punct_at.push(index);
            punct.push((excl, quest));
        }
        let (mut a, mut z) = (0, token.len());
        while a < z && CLASS[usize::from(token[a])] & PUNCT != 0 {
            a += 1;
        }
        while z > a && CLASS[usize::from(token[z - 1])] & PUNCT != 0 {
            z -= 1;
        }
        let keep_all =
            z - a <= 2 || (flags & NON_ASCII != 0 && z - a <= 8 && text[start + a..start + z].chars().count() <= 2);
        let (word_start, word_end) = if keep_all { (start, end) } else { (start + a, start + z) };
        let mut bits = ends_sentence(token);
        let (lo, hi);
        if flags & (NON_ASCII | UPPER) == 0 {
            (lo, hi) = (word_start, word_end);
            bits |= T_IN_TEXT;
        } else if flags & NON_ASCII == 0 {
            lo = lower.len();
            lower.extend(b[word_start..word_end].iter().map(u8::to_ascii_lowercase));
            hi = lower.len();
            if flags & LOWER == 0 {
                bits |= T_UPPER;
            } else if b[word_start].is_ascii_uppercase() {
                bits |= T_CAP;
            }
        } else {
            let word = &text[word_start..word_end];
            lo = lower.len();
            lower.extend_from_slice(word.to_lowercase().as_bytes());
            hi = lower.len();
            if py_isupper(word) {
                bits |= T_UPPER;
            } else if word.chars().next().is_some_and(char::is_uppercase) {
                bits |= T_CAP;
            }
        }
        let word = if bits & T_IN_TEXT != 0 { &b[lo..hi] } else { &lower[lo..hi] };
        let e = self.token_entry(word, flags & QUOTE != 0);
        if e.negate() || (flags & QUOTE != 0 && word.windows(3).any(|w| w == b"n't")) {
            bits |= T_NEGATED;
        }
        Tok { e, start: start as u32, lo: lo as u32, hi: hi as u32, bits, last: token[token.len() - 1] }
    }

    /// The entry of a token without an apostrophe, lower-cased: 1–8 bytes given as
    /// [`load_padded`].
    #[inline]
    fn short_entry(&self, len: usize, padded: u64) -> Entry {
        self.table.find_short(len, padded).map_or(Entry::NONE, |s| s.entry)
    }

    /// [`Engine::short_entry`] of 9–16 bytes: the first 8 and the rest padded.
    #[inline]
    fn long_entry(&self, len: usize, head: u64, tail: u64) -> Entry {
        self.table.find_long(len, head, tail).map_or(Entry::NONE, |s| s.entry)
    }

    /// [`Engine::short_entry`] or [`Engine::long_entry`] by length: 1–16 bytes as bytes 0–7 and
    /// 8–15, both padded.
    #[inline]
    fn word_entry(&self, len: usize, head: u64, tail: u64) -> Entry {
        if len <= 8 {
            self.short_entry(len, head)
        } else {
            self.long_entry(len, head, tail)
        }
    }

    /// The entry of a lower-cased token; `quote`: the unstripped token has an apostrophe.
    #[inline]
    pub(crate) fn token_entry(&self, lower: &[u8], quote: bool) -> Entry {
        let k = self.table.find(lower);
        if !quote {
            return k.map_or(Entry::NONE, |s| s.entry);
        }
        let e = k.map_or(Entry::NONE, |s| self.direct[s.idx as usize]);
        if self.rules.news.is_some() && e.is_plain() {
            // The stem's entry; the spelling number stays the token's own.
            if let Some(stem) = news::possessive_entry(self, lower) {
                return stem.with_wid(e.wid).with_sets_of(&e);
            }
        }
        e
    }

    /// VADER's rules over the tokens `span` of `s.toks` (a whole text or one sentence):
    /// per-token valences, the "but" rule, the sums and the punctuation emphasis (every `!` and
    /// `?` of a text is inside one of its tokens). Only the marked tokens are visited; the others
    /// score 0 and matter only as neighbours.
    fn score_tokens(&self, text: &[u8], span: Span, s: &mut Scratch, reuse: Reuse) -> Raw {
        let Scratch { lower, toks, marks, sent, full, .. } = s;
        let a = span.toks.start;
        let first_mark = span.marks.start;
        let marks = &marks[span.marks];
        let toks = &mut toks[span.toks];
        if let Some(news) = &self.rules.news {
            news::annotate(news, toks, a, marks, Words { text, lower });
        }
        let toks = &*toks;
        let n = toks.len();
        if n == 0 {
            return Raw::default();
        }
        let mut cap_diff = CapDiff(None);

        sent.clear();
        if reuse == Reuse::Record {
            full.clear();
            full.resize(marks.len(), f64::NAN);
        }
        let mut but_at = None;
        for (p, &m) in marks.iter().enumerate() {
            let i = m as usize - a;
            let t = &toks[i];
            if t.e.kw == Kw::But && but_at.is_none() {
                but_at = Some(i);
            }
            if !t.e.has_val() || t.e.is_booster() || (i + 1 < n && t.e.kw == Kw::Kind && toks[i + 1].e.kw == Kw::Of) {
                continue;
            }
            let v = match reuse {
                // VADER reads the tokens i - 3 ..= i + 2 and, through upper-case tokens among
                // i - 3 ..= i, whether the text has a cap differential: away from the edges of a
                // sentence and without those, its value in the whole text is its value here.
                Reuse::Use
                    if i >= 3
                        && i + 2 < n
                        && !toks[i - 3..=i].iter().any(Tok::upper)
                        && !full[first_mark + p].is_nan() =>
                {
                    full[first_mark + p]
                }
                _ => self.valence_at(toks, i, &mut cap_diff),
            };
            if reuse == Reuse::Record {
                full[p] = v;
            }
            if v != 0.0 {
                sent.push((i as u32, v));
            }
        }

        if let Some(bi) = but_at {
            but_check(sent, bi);
        }

        let mut raw = Raw { tokens: n, punct: punctuation_amplifier(span.excl, span.quest), ..Raw::default() };
        // Zeros add nothing to the sums (x + 0 = x): only the non-zero values are summed.
        for &(_, v) in sent.iter() {
            raw.sum += v;
            if v > 0.0 {
                raw.pos_sum += v + 1.0;
            } else {
                raw.neg_sum += v - 1.0;
            }
        }
        raw.neu_count = n - sent.len();
        raw
    }

    /// VADER's valence of the lexicon word `toks[i]`.
    #[inline]
    fn valence_at(&self, toks: &[Tok], i: usize, cap_diff: &mut CapDiff) -> f64 {
        let n = toks.len();
        let t = &toks[i];
        let base = t.e.val;
        let mut v = base;
        // The "no" rule.
        if t.e.kw == Kw::No && i != n - 1 && toks[i + 1].e.has_val() {
            v = 0.0;
        }
        if (i > 0 && toks[i - 1].e.kw == Kw::No)
            || (i > 1 && toks[i - 2].e.kw == Kw::No)
            || (i > 2 && toks[i - 3].e.kw == Kw::No && matches!(toks[i - 1].e.kw, Kw::Or | Kw::Nor))
        {
            v = base * N_SCALAR;
        }
        // Caps emphasis (a 0 valence counts as negative, as in Python).
        if t.upper() && cap_diff.get(toks) {
            if v > 0.0 {
                v += C_INCR;
            } else {
                v -= C_INCR;
            }
        }
        // Boosters, negation and idioms over the three preceding non-lexicon tokens. Without a
        // booster, negation or negation keyword among them, only the idiom check can act.
        if !toks[i.saturating_sub(3)..i].iter().any(Tok::modifies) {
            if i > 2 && !toks[i - 3].e.has_val() {
                v = self.special_idioms_check(v, toks, i);
            }
            return least_rule(v, toks, i);
        }
        for start_i in 0..3 {
            if i > start_i && !toks[i - (start_i + 1)].e.has_val() {
                let p = &toks[i - (start_i + 1)];
                let mut sc = 0.0;
                if p.e.is_booster() {
                    sc = p.e.boost();
                    if v < 0.0 {
                        sc *= -1.0;
                    }
                    if p.upper() && cap_diff.get(toks) {
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
                    v = self.special_idioms_check(v, toks, i);
                }
            }
        }
        least_rule(v, toks, i)
    }

    /// VADER's `_special_idioms_check` (only ever called with `i >= 3`). Words are compared by
    /// spelling number ([`Entry::wid`]), which is the same as comparing the lower-cased tokens,
    /// through bit sets of the special cases and bigrams that have a word at a position.
    fn special_idioms_check(&self, mut v: f64, toks: &[Tok], i: usize) -> f64 {
        let n = toks.len();
        let window = &toks[i - 3..=(i + 2).min(n - 1)];
        if !window.iter().any(|t| t.e.idiom()) {
            return v;
        }
        // Bit j + 3 - i: token j (i - 3 ≤ j ≤ i + 2) is one of the spelled words.
        let spelled = window.iter().enumerate().fold(0u32, |m, (k, t)| m | u32::from(t.e.wid != 0) << k);
        // Every sequence below is a run of two or three adjacent tokens, all spelled words.
        if spelled & (spelled >> 1) == 0 {
            return v;
        }
        let wid = |j: usize| usize::from(toks[j].e.wid);
        let all_spelled = |idx: &[usize]| {
            let need = idx.iter().fold(0u32, |m, &j| m | 1 << (j + 3 - i));
            spelled & need == need
        };
        // The first special case (in VADER's order) spelled like the tokens `idx`.
        let lookup = |idx: &[usize]| {
            if !all_spelled(idx) {
                return None;
            }
            let cases =
                idx.iter().enumerate().fold(self.idiom_len[idx.len()], |m, (p, &j)| m & self.idiom_at[wid(j)][p]);
            (cases != 0).then(|| self.idioms[cases.trailing_zeros() as usize].1)
        };
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
        for [a, b] in [[i - 3, i - 2], [i - 2, i - 1]] {
            if !all_spelled(&[a, b]) {
                continue;
            }
            let mut matching = self.bigram_at[wid(a)][0] & self.bigram_at[wid(b)][1];
            while matching != 0 {
                v += self.bigrams[matching.trailing_zeros() as usize].1;
                matching &= matching - 1;
            }
        }
        v
    }
}

/// VADER's "least" rule for the word `toks[i]`.
#[inline]
fn least_rule(mut v: f64, toks: &[Tok], i: usize) -> f64 {
    if i > 1 && !toks[i - 1].e.has_val() && toks[i - 1].e.kw == Kw::Least {
        if toks[i - 2].e.kw != Kw::At && toks[i - 2].e.kw != Kw::Very {
            v *= N_SCALAR;
        }
    } else if i > 0 && !toks[i - 1].e.has_val() && toks[i - 1].e.kw == Kw::Least {
        v *= N_SCALAR;
    }
    v
}

/// VADER's `is_cap_diff` of a text (some but not all tokens upper case), counted on first use:
/// only upper-case sentiment words and boosters need it.
struct CapDiff(Option<bool>);

impl CapDiff {
    #[inline]
    fn get(&mut self, toks: &[Tok]) -> bool {
        *self.0.get_or_insert_with(|| {
            let uppers = toks.iter().filter(|t| t.upper()).count();
            uppers > 0 && uppers < toks.len()
        })
    }
}

/// VADER's `_negation_check` for the token `start_i + 1` places before `i`.
fn negation_check(mut v: f64, toks: &[Tok], start_i: usize, i: usize) -> f64 {
    let kw = |j: usize| toks[j].e.kw;
    let so_this = |k: Kw| k == Kw::So || k == Kw::This;
    match start_i {
        0 => {
            if toks[i - 1].negated() {
                v *= N_SCALAR;
            }
        }
        1 => {
            if kw(i - 2) == Kw::Never && so_this(kw(i - 1)) {
                v *= 1.25;
            } else if kw(i - 2) == Kw::Without && kw(i - 1) == Kw::Doubt {
                // unchanged
            } else if toks[i - 2].negated() {
                v *= N_SCALAR;
            }
        }
        _ => {
            // Python: `never so/this` two back, or *any* `so`/`this` just before the word.
            if (kw(i - 3) == Kw::Never && so_this(kw(i - 2))) || so_this(kw(i - 1)) {
                v *= 1.25;
            } else if kw(i - 3) == Kw::Without && (kw(i - 2) == Kw::Doubt || kw(i - 1) == Kw::Doubt) {
                // unchanged
            } else if toks[i - 3].negated() {
                v *= N_SCALAR;
            }
        }
    }
    v
}

/// VADER's `_but_check` over the non-zero values `sent` (position, value) of a text, including
/// its `list.index` quirk: for each position k in order the value `x = sent[k]` is looked up
/// again with `index(x)`, and the *first* position holding an equal value is rewritten (×0.5
/// before the first `but`, ×1.5 after it). Zeros are no-ops (and values stay non-zero), so only
/// the non-zero positions take part.
///
/// The search for the first equal value makes this quadratic in the number of values, which is
/// cheapest for the few values of a sentence but took 30 s for a 1 MiB text of one repeated
/// word and a `but` (valid input, under the size limit): past [`LINEAR_BUT_CHECK_MAX`] values
/// the positions holding each value are kept in ordered sets instead.
fn but_check(sent: &mut [(u32, f64)], bi: usize) {
    if sent.len() <= LINEAR_BUT_CHECK_MAX {
        but_check_by_search(sent, bi);
    } else {
        but_check_by_value(sent, bi);
    }
}

/// Up to this many values, [`but_check`] searches for each one.
const LINEAR_BUT_CHECK_MAX: usize = 64;

/// [`but_check`] as VADER writes it.
fn but_check_by_search(sent: &mut [(u32, f64)], bi: usize) {
    for a in 0..sent.len() {
        let x = sent[a].1;
        let si = (0..=a).find(|&j| sent[j].1 == x).unwrap_or(a);
        let pos = sent[si].0 as usize;
        if pos < bi {
            sent[si].1 = x * 0.5;
        } else if pos > bi {
            sent[si].1 = x * 1.5;
        }
    }
}

/// [`but_check`] in O(n log n): the indices seen so far, by the bits of the value each holds
/// now (values are non-zero and not NaN, so equal values have equal bits).
fn but_check_by_value(sent: &mut [(u32, f64)], bi: usize) {
    let mut holding: HashMap<u64, std::collections::BTreeSet<usize>> = HashMap::new();
    for a in 0..sent.len() {
        let x = sent[a].1;
        let same = holding.entry(x.to_bits()).or_default();
        same.insert(a);
        let si = *same.first().expect("just inserted");
        let pos = sent[si].0 as usize;
        let y = if pos < bi {
            x * 0.5
        } else if pos > bi {
            x * 1.5
        } else {
            continue;
        };
        same.remove(&si);
        sent[si].1 = y;
        holding.entry(y.to_bits()).or_default().insert(si);
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

    /// Every lookup of the word table against a plain map, on small tables where home slots
    /// are often taken by other words (the probing path) and non-words pass the filter or not.
    fn check_word_table(words: &[Vec<u8>], others: &[Vec<u8>]) -> Result<(), proptest::test_runner::TestCaseError> {
        let unique: std::collections::BTreeMap<&[u8], usize> =
            words.iter().enumerate().map(|(i, w)| (w.as_slice(), i)).collect();
        let entry_of = |i: usize| {
            let mut e = Entry::NONE;
            e.set_val(Some(i as f64));
            e
        };
        let table = WordTable::new(unique.iter().map(|(w, &i)| (*w, entry_of(i))));
        for w in words.iter().chain(others) {
            let expected = unique.get(w.as_slice()).map(|&i| i as f64);
            let found = table.find(w).and_then(|s| s.entry.val());
            proptest::prop_assert_eq!(found, expected, "find {:?}", String::from_utf8_lossy(w));
            let by_shape = match w.len() {
                1..=8 => table.find_short(w.len(), load_padded(w)),
                9..=16 => table.find_long(w.len(), load8(w, 0), load_padded(&w[8..])),
                _ => continue,
            };
            proptest::prop_assert_eq!(
                by_shape.and_then(|s| s.entry.val()),
                expected,
                "lookup {:?}",
                String::from_utf8_lossy(w)
            );
        }
        Ok(())
    }

    /// Short words, and long ones that share their first eight bytes (so that only bytes 8..
    /// tell them apart).
    const TABLE_WORDS: &str = "[a-c]{1,8}|(aaaaaaaa|abababab)[ab]{1,12}";

    proptest::proptest! {
        /// The two ways of VADER's `_but_check` agree, repeated values and all.
        #[test]
        fn but_check_by_value_is_but_check_by_search(
            values in proptest::collection::vec(proptest::sample::select(vec![-2.0, -1.5, -0.75, 0.5, 1.0, 1.5, 2.25, 3.0]), 0..300),
            bi in 0usize..320,
        ) {
            let sent: Vec<(u32, f64)> = values.iter().enumerate().map(|(i, &v)| (i as u32, v)).collect();
            let (mut searched, mut by_value) = (sent.clone(), sent);
            but_check_by_search(&mut searched, bi);
            but_check_by_value(&mut by_value, bi);
            proptest::prop_assert_eq!(searched, by_value);
        }

        #[test]
        fn the_word_table_finds_exactly_its_words(
            words in proptest::collection::vec(TABLE_WORDS, 1..300),
            others in proptest::collection::vec(TABLE_WORDS, 0..300),
        ) {
            let (words, others): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
                (words.into_iter().map(String::into_bytes).collect(), others.into_iter().map(String::into_bytes).collect());
            check_word_table(&words, &others)?;
        }
    }
}
