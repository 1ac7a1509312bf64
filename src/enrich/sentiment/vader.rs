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
//! The engine ([`Engine`], in `engine.rs`) is shared with the news model, which runs it with its
//! own lexicon and rules ([`Rules`]); [`Vader`] is the engine with VADER's own.

use std::borrow::Cow;
use std::sync::LazyLock;

use super::engine::{parse_lexicon, Engine, Rules, Scores};

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

/// VADER 3.3.2's rules.
pub fn vader_rules() -> Rules {
    Rules {
        special_cases: SPECIAL_CASES.iter().map(|&(k, v)| (k.split(' ').map(str::to_owned).collect(), v)).collect(),
        bigram_boosters: BOOSTERS
            .iter()
            .filter_map(|&(k, v)| {
                let (a, b) = k.split_once(' ')?;
                Some(([a.to_owned(), b.to_owned()], v))
            })
            .collect(),
        news: None,
    }
}

static VADER: LazyLock<Engine> = LazyLock::new(|| {
    Engine::new(parse_lexicon(VADER_LEXICON).map(|(w, v)| (Cow::Borrowed(w), Some(v))), vader_rules())
});

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
