//! A faithful Rust port of `vaderSentiment` 3.3.2 (`SentimentIntensityAnalyzer.polarity_scores`,
//! Hutto & Gilbert 2014, MIT licence; lexicons in `data/`, see `data/README.md`).
//!
//! Faithful means *behaviour*, quirks included, not the paper's intent. What the Python code does
//! and this port therefore does too:
//!
//! - Emojis are replaced by their description from `emoji_utf8_lexicon.txt`, one code point at a
//!   time (multi-code-point keys never match), with a space before the description unless the
//!   previous character was a space and *no* space after it; the text is then stripped.
//! - Tokens are the white-space separated words (Python `str.split()`, so `\x1c`..`\x1f` count as
//!   white space); ASCII punctuation is stripped from both ends unless that leaves two characters
//!   or fewer (`:)`, `no!` stay as they are, `ok.` too).
//! - `is_cap_diff`: some but not all tokens are upper case (Python `str.isupper`).
//! - Booster words score 0 themselves; so does `kind` followed by `of`.
//! - A lexicon word's valence: the "no" rule (`no` before another lexicon word scores 0; a word
//!   one or two after `no`, or three after `no` with `or`/`nor` just before, is multiplied by
//!   -0.74, from its lexicon value), caps emphasis (±0.733, and a 0 valence counts as negative),
//!   then for each of the three preceding tokens *that is not itself a lexicon word*: booster
//!   scalar (±0.293, ×0.95 at distance 2, ×0.9 at distance 3, ±0.733 more when the booster is in
//!   caps), the negation check for that distance (`never so`/`never this` ×1.25 instead, and at
//!   distance 3 *any* `so`/`this` just before the word ×1.25; `without doubt` exempt), and at
//!   distance 3 the special-case idioms (`the bomb` = 3, `yeah right` = -2, ... replacing the
//!   valence, only ever checked when the third preceding token exists and is not a lexicon word)
//!   and the `kind of`/`sort of`/`just enough` bigrams (adding -0.293 whatever the sign). Last the
//!   "least" rule (×-0.74 after `least` unless `at least`/`very least`).
//! - The "but" rule: the first `but` splits the text; valences before it ×0.5, after it ×1.5 —
//!   applied through Python's `list.index(value)`, so a value equal to an earlier one rewrites the
//!   earlier position instead (replicated exactly).
//! - Punctuation emphasis: 0.292 per `!` (at most 4) plus, with 2 or 3 `?`, 0.18 each (0.96 for
//!   more), added away from zero to the sum; compound = x/√(x²+15), rounded to 4 decimals;
//!   neg/neu/pos rounded to 3.
//!
//! The engine ([`Engine`]) is shared with the news model, which runs it with its own lexicon and
//! rules ([`Rules`]); [`Vader`] is the engine with VADER's own.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

/// Booster increment (empirical mean rating increase for degree adverbs).
pub const B_INCR: f64 = 0.293;
/// Dampener decrement.
pub const B_DECR: f64 = -0.293;
/// All-caps emphasis increment.
pub const C_INCR: f64 = 0.733;
/// Negation scalar.
pub const N_SCALAR: f64 = -0.74;

/// `vader_lexicon.txt` of vaderSentiment 3.3.2, verbatim.
pub const VADER_LEXICON: &str = include_str!("data/vader_lexicon.txt");
/// `emoji_utf8_lexicon.txt` of vaderSentiment 3.3.2, verbatim.
pub const EMOJI_LEXICON: &str = include_str!("data/emoji_utf8_lexicon.txt");

/// VADER's `NEGATE` list.
pub const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

/// VADER's `BOOSTER_DICT` (the multi-word keys only ever match as bigrams in the idiom check).
pub const BOOSTERS: &[(&str, f64)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("just enough", B_DECR),
    ("kind of", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sort of", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// VADER's `SPECIAL_CASES` (`badass` has no space and so can never match; kept for fidelity).
pub const SPECIAL_CASES: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.5),
];

// ---------------------------------------------------------------------------------------------
// Hashing: the lexicon is looked up once per token, so a fast non-cryptographic hash matters
// (the keys are our own constants, no HashDoS concern).

/// FxHash (rustc's hasher): one multiply-rotate per 8 bytes.
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
    fn write(&mut self, mut bytes: &[u8]) {
        while bytes.len() >= 8 {
            self.add(u64::from_le_bytes(bytes[..8].try_into().unwrap()));
            bytes = &bytes[8..];
        }
        if bytes.len() >= 4 {
            self.add(u64::from(u32::from_le_bytes(bytes[..4].try_into().unwrap())));
            bytes = &bytes[4..];
        }
        for &b in bytes {
            self.add(u64::from(b));
        }
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

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;
pub(crate) type FxMap<K, V> = HashMap<K, V, FxBuild>;

// ---------------------------------------------------------------------------------------------
// Python string semantics.

/// Python `str.isspace()` (Rust's `char::is_whitespace` plus the information separators).
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

/// Python's `string.punctuation`.
#[inline]
fn is_py_punct(b: u8) -> bool {
    b.is_ascii_punctuation()
}

/// Python `round(x, digits)` (correctly rounded, ties to even on the exact binary value).
pub fn py_round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    let y = x * scale;
    let frac = (y - y.trunc()).abs();
    if (frac - 0.5).abs() > 1e-6 && y.abs() < 1e15 {
        // Far from a tie: rounding the scaled value is exact, and k / 10^d is correctly rounded.
        y.round() / scale
    } else {
        format!("{x:.prec$}", prec = digits as usize).parse().unwrap_or(x)
    }
}

/// Compound normalisation `x / √(x² + alpha)`, clamped to [-1, 1].
#[inline]
pub fn normalize(score: f64, alpha: f64) -> f64 {
    (score / (score * score + alpha).sqrt()).clamp(-1.0, 1.0)
}

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

fn keyword(word: &str) -> Kw {
    match word {
        "no" => Kw::No,
        "or" => Kw::Or,
        "nor" => Kw::Nor,
        "kind" => Kw::Kind,
        "of" => Kw::Of,
        "least" => Kw::Least,
        "at" => Kw::At,
        "very" => Kw::Very,
        "but" => Kw::But,
        "never" => Kw::Never,
        "so" => Kw::So,
        "this" => Kw::This,
        "without" => Kw::Without,
        "doubt" => Kw::Doubt,
        _ => Kw::Other,
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Entry {
    /// Lexicon valence (`None`: not a lexicon word).
    pub val: Option<f64>,
    /// Booster scalar, 0 when not a (single-word) booster.
    pub boost: f64,
    /// In the `NEGATE` list.
    pub negate: bool,
    /// Appears in a special-case idiom or a multi-word booster.
    pub idiom: bool,
    pub kw: Kw,
}

/// The rule parameters that differ between VADER and the news model.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Special-case idioms: lower-case words and the valence that replaces the item's.
    pub special_cases: Vec<(Vec<String>, f64)>,
    /// Multi-word boosters (two words), added to the valence in the idiom check.
    pub bigram_boosters: Vec<([String; 2], f64)>,
    /// News extension: ignore the valence of lexicon words that are part of a proper name
    /// (capitalised, not sentence-initial, next to another capitalised word). VADER: false.
    pub proper_names: bool,
}

impl Rules {
    /// VADER 3.3.2's rules.
    pub fn vader() -> Self {
        Rules {
            special_cases: SPECIAL_CASES.iter().map(|&(k, v)| (k.split(' ').map(str::to_owned).collect(), v)).collect(),
            bigram_boosters: BOOSTERS
                .iter()
                .filter_map(|&(k, v)| {
                    let (a, b) = k.split_once(' ')?;
                    Some(([a.to_owned(), b.to_owned()], v))
                })
                .collect(),
            proper_names: false,
        }
    }
}

/// Parses a lexicon in VADER's format (`word\tmean\t...`, later duplicates win).
pub fn parse_lexicon(text: &'static str) -> impl Iterator<Item = (&'static str, f64)> {
    text.trim_end_matches('\n').split('\n').filter(|l| !l.is_empty()).filter_map(|line| {
        let mut fields = py_strip(line).split('\t');
        let word = fields.next()?;
        let measure = fields.next()?.parse().ok()?;
        Some((word, measure))
    })
}

/// Parses the emoji lexicon: single-code-point keys only (the only ones that can match).
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

/// VADER's engine over a given lexicon and rules.
#[derive(Debug)]
pub struct Engine {
    table: FxMap<Cow<'static, str>, Entry>,
    emojis: FxMap<char, &'static str>,
    rules: Rules,
}

/// Sums the engine produces for one text, before normalisation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Raw {
    /// Sum of the token valences (after all rules, before punctuation emphasis).
    pub sum: f64,
    /// Punctuation emphasis amplifier.
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
    /// The sum with punctuation emphasis, as VADER normalises it.
    pub fn emphasized(&self) -> f64 {
        if self.sum > 0.0 {
            self.sum + self.punct
        } else if self.sum < 0.0 {
            self.sum - self.punct
        } else {
            self.sum
        }
    }

    /// Unrounded compound.
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
            return Scores { neg: 0.0, neu: 0.0, pos: 0.0, compound: 0.0 };
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

/// VADER's output for one text.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scores {
    pub neg: f64,
    pub neu: f64,
    pub pos: f64,
    pub compound: f64,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    /// Byte range of the lower-cased token in `Scratch::lower`.
    lo: u32,
    hi: u32,
    e: Entry,
    upper: bool,
    negated: bool,
    /// News extension: part of a proper name (see [`Rules::proper_names`]).
    name: bool,
}

#[derive(Default)]
struct Scratch {
    lower: String,
    toks: Vec<Tok>,
    sent: Vec<f64>,
    nonzero: Vec<usize>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Engine {
    /// Builds an engine from lexicon entries (later ones win) and rules.
    pub fn new(lexicon: impl IntoIterator<Item = (Cow<'static, str>, f64)>, rules: Rules) -> Self {
        let mut table: FxMap<Cow<'static, str>, Entry> = FxMap::default();
        for (word, val) in lexicon {
            table.entry(word).or_default().val = Some(val);
        }
        for &(word, b) in BOOSTERS {
            if !word.contains(' ') {
                table.entry(Cow::Borrowed(word)).or_default().boost = b;
            }
        }
        for &word in NEGATE {
            table.entry(Cow::Borrowed(word)).or_default().negate = true;
        }
        for word in
            ["no", "or", "nor", "kind", "of", "least", "at", "very", "but", "never", "so", "this", "without", "doubt"]
        {
            table.entry(Cow::Borrowed(word)).or_default().kw = keyword(word);
        }
        let idiom_words: Vec<String> = rules
            .special_cases
            .iter()
            .flat_map(|(words, _)| words.iter().cloned())
            .chain(rules.bigram_boosters.iter().flat_map(|(words, _)| words.iter().cloned()))
            .collect();
        for word in idiom_words {
            table.entry(Cow::Owned(word)).or_default().idiom = true;
        }
        Engine { table, emojis: parse_emojis(EMOJI_LEXICON), rules }
    }

    /// Looks a lower-case word up.
    pub(crate) fn entry(&self, word: &str) -> Entry {
        self.table.get(word).copied().unwrap_or_default()
    }

    /// The lexicon valence of a lower-case word.
    pub fn valence(&self, word: &str) -> Option<f64> {
        self.entry(word).val
    }

    /// VADER's emoji substitution followed by `strip()`.
    fn demojize<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if text.is_ascii() || !text.chars().any(|c| self.emojis.contains_key(&c)) {
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
        let stripped = py_strip(&out);
        if stripped.len() == out.len() {
            Cow::Owned(out)
        } else {
            Cow::Owned(stripped.to_owned())
        }
    }

    /// Runs VADER on `text` and returns the sums before normalisation.
    pub fn raw(&self, text: &str) -> Raw {
        let text = self.demojize(text);
        SCRATCH.with(|s| self.raw_in(&text, &mut s.borrow_mut()))
    }

    /// VADER's `polarity_scores`.
    pub fn polarity_scores(&self, text: &str) -> Scores {
        self.raw(text).scores()
    }

    /// VADER's compound, rounded to 4 decimals as Python does.
    pub fn compound(&self, text: &str) -> f64 {
        py_round(self.raw(text).compound(), 4)
    }

    fn tokenize(&self, text: &str, s: &mut Scratch) {
        s.lower.clear();
        s.toks.clear();
        let b = text.as_bytes();
        let n = b.len();
        let mut i = 0;
        loop {
            while i < n {
                let w = py_space_len(b, i);
                if w == 0 {
                    break;
                }
                i += w;
            }
            if i >= n {
                break;
            }
            let start = i;
            // Continuation bytes are never white-space lead bytes, so stepping bytewise is safe.
            while i < n && py_space_len(b, i) == 0 {
                i += 1;
            }
            let token = &text[start..i];
            let mut a = 0;
            let mut z = token.len();
            let tb = token.as_bytes();
            while a < z && is_py_punct(tb[a]) {
                a += 1;
            }
            while z > a && is_py_punct(tb[z - 1]) {
                z -= 1;
            }
            let stripped = &token[a..z];
            let short = stripped.len() <= 2 || (stripped.len() <= 8 && stripped.chars().count() <= 2);
            let word = if short { token } else { stripped };
            self.push_token(word, s);
        }
    }

    fn push_token(&self, word: &str, s: &mut Scratch) {
        let lo = s.lower.len();
        if word.is_ascii() {
            s.lower.extend(word.bytes().map(|c| char::from(c.to_ascii_lowercase())));
        } else {
            s.lower.push_str(&word.to_lowercase());
        }
        let hi = s.lower.len();
        let lower = &s.lower[lo..hi];
        let e = self.entry(lower);
        let negated = e.negate || lower.contains("n't");
        s.toks.push(Tok { lo: lo as u32, hi: hi as u32, e, upper: py_isupper(word), negated, name: false });
    }

    fn raw_in(&self, text: &str, s: &mut Scratch) -> Raw {
        self.tokenize(text, s);
        let n = s.toks.len();
        if n == 0 {
            return Raw::default();
        }
        if self.rules.proper_names {
            mark_proper_names(text, s);
        }
        let uppers = s.toks.iter().filter(|t| t.upper).count();
        let is_cap_diff = uppers > 0 && uppers < n;
        let toks = &s.toks;
        let lower = &s.lower;
        let word = |j: usize| &lower[toks[j].lo as usize..toks[j].hi as usize];

        s.sent.clear();
        let mut but_at = None;
        for i in 0..n {
            let t = &toks[i];
            if t.e.kw == Kw::But && but_at.is_none() {
                but_at = Some(i);
            }
            if t.e.boost != 0.0 || (i + 1 < n && t.e.kw == Kw::Kind && toks[i + 1].e.kw == Kw::Of) {
                s.sent.push(0.0);
                continue;
            }
            let Some(base) = t.e.val else {
                s.sent.push(0.0);
                continue;
            };
            if t.name {
                s.sent.push(0.0);
                continue;
            }
            let mut v = base;
            if t.e.kw == Kw::No && i != n - 1 && toks[i + 1].e.val.is_some() {
                v = 0.0;
            }
            if (i > 0 && toks[i - 1].e.kw == Kw::No)
                || (i > 1 && toks[i - 2].e.kw == Kw::No)
                || (i > 2 && toks[i - 3].e.kw == Kw::No && matches!(toks[i - 1].e.kw, Kw::Or | Kw::Nor))
            {
                v = base * N_SCALAR;
            }
            if t.upper && is_cap_diff {
                if v > 0.0 {
                    v += C_INCR;
                } else {
                    v -= C_INCR;
                }
            }
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
                    v = negation_check(v, toks, start_i, i);
                    if start_i == 2 {
                        v = self.special_idioms_check(v, toks, &word, i);
                    }
                }
            }
            // "least" rule.
            if i > 1 && toks[i - 1].e.val.is_none() && toks[i - 1].e.kw == Kw::Least {
                if toks[i - 2].e.kw != Kw::At && toks[i - 2].e.kw != Kw::Very {
                    v *= N_SCALAR;
                }
            } else if i > 0 && toks[i - 1].e.val.is_none() && toks[i - 1].e.kw == Kw::Least {
                v *= N_SCALAR;
            }
            s.sent.push(v);
        }

        if let Some(bi) = but_at {
            but_check(&mut s.sent, bi, &mut s.nonzero);
        }

        let mut raw = Raw { tokens: n, ..Raw::default() };
        for &v in &s.sent {
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
        raw.punct = punctuation_emphasis(text);
        raw
    }

    fn special_idioms_check<'w>(&self, mut v: f64, toks: &[Tok], word: &impl Fn(usize) -> &'w str, i: usize) -> f64 {
        let n = toks.len();
        let hi = (i + 2).min(n - 1);
        if !toks[i - 3..=hi].iter().any(|t| t.e.idiom) {
            return v;
        }
        let matches =
            |idx: &[usize], key: &[String]| idx.len() == key.len() && idx.iter().zip(key).all(|(&j, k)| word(j) == k);
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

/// News extension: marks lexicon words that are part of a proper name. See [`Rules::proper_names`].
fn mark_proper_names(text: &str, s: &mut Scratch) {
    let _ = text;
    let _ = s;
}

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
            } else if toks[i - 2].negated {
                v *= N_SCALAR;
            }
        }
        _ => {
            if (kw(i - 3) == Kw::Never && so_this(kw(i - 2))) || so_this(kw(i - 1)) {
                v *= 1.25;
            } else if kw(i - 3) == Kw::Without && (kw(i - 2) == Kw::Doubt || kw(i - 1) == Kw::Doubt) {
            } else if toks[i - 3].negated {
                v *= N_SCALAR;
            }
        }
    }
    v
}

/// VADER's `_but_check`, including its `list.index` quirk: for each position k (in order) the
/// value `x = sent[k]` is looked up again with `index(x)`, and the *first* position holding an
/// equal value is rewritten (×0.5 before the `but`, ×1.5 after it). Zeros are no-ops, so only
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

/// VADER's punctuation emphasis of `text`.
pub fn punctuation_emphasis(text: &str) -> f64 {
    let (mut ep, mut qm) = (0usize, 0usize);
    for &b in text.as_bytes() {
        ep += usize::from(b == b'!');
        qm += usize::from(b == b'?');
    }
    let ep_amp = ep.min(4) as f64 * 0.292;
    let qm_amp = if qm > 1 {
        if qm <= 3 {
            qm as f64 * 0.18
        } else {
            0.96
        }
    } else {
        0.0
    };
    ep_amp + qm_amp
}

static VADER: LazyLock<Engine> =
    LazyLock::new(|| Engine::new(parse_lexicon(VADER_LEXICON).map(|(w, v)| (Cow::Borrowed(w), v)), Rules::vader()));

/// VADER 3.3.2. A cheap handle: the lexicon is built once per process, on first use.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vader;

impl Vader {
    pub fn new() -> Self {
        LazyLock::force(&VADER);
        Vader
    }

    /// The underlying engine.
    pub fn engine(&self) -> &'static Engine {
        &VADER
    }

    /// `SentimentIntensityAnalyzer().polarity_scores(text)`.
    pub fn polarity_scores(&self, text: &str) -> Scores {
        VADER.polarity_scores(text)
    }

    /// `polarity_scores(text)["compound"]` (rounded to 4 decimals, like Python).
    pub fn compound(&self, text: &str) -> f64 {
        VADER.compound(text)
    }
}
