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
#[rustfmt::skip]
pub const NEGATE: &[&str] = &[
    "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt", "ain't", "aren't", "can't",
    "couldn't", "daren't", "didn't", "doesn't", "dont", "hadnt", "hasnt", "havent", "isnt", "mightnt", "mustnt",
    "neither", "don't", "hadn't", "hasn't", "haven't", "isn't", "mightn't", "mustn't", "neednt", "needn't", "never",
    "none", "nope", "nor", "not", "nothing", "nowhere", "oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent",
    "oughtn't", "shan't", "shouldn't", "uh-uh", "wasn't", "weren't", "without", "wont", "wouldnt", "won't",
    "wouldn't", "rarely", "seldom", "despite",
];

/// VADER's `BOOSTER_DICT` (the multi-word keys only ever match as bigrams in the idiom check).
#[rustfmt::skip]
pub const BOOSTERS: &[(&str, f64)] = &[
    ("absolutely", B_INCR), ("amazingly", B_INCR), ("awfully", B_INCR), ("completely", B_INCR),
    ("considerable", B_INCR), ("considerably", B_INCR), ("decidedly", B_INCR), ("deeply", B_INCR),
    ("effing", B_INCR), ("enormous", B_INCR), ("enormously", B_INCR), ("entirely", B_INCR), ("especially", B_INCR),
    ("exceptional", B_INCR), ("exceptionally", B_INCR), ("extreme", B_INCR), ("extremely", B_INCR),
    ("fabulously", B_INCR), ("flipping", B_INCR), ("flippin", B_INCR), ("frackin", B_INCR), ("fracking", B_INCR),
    ("fricking", B_INCR), ("frickin", B_INCR), ("frigging", B_INCR), ("friggin", B_INCR), ("fully", B_INCR),
    ("fuckin", B_INCR), ("fucking", B_INCR), ("fuggin", B_INCR), ("fugging", B_INCR), ("greatly", B_INCR),
    ("hella", B_INCR), ("highly", B_INCR), ("hugely", B_INCR), ("incredible", B_INCR), ("incredibly", B_INCR),
    ("intensely", B_INCR), ("major", B_INCR), ("majorly", B_INCR), ("more", B_INCR), ("most", B_INCR),
    ("particularly", B_INCR), ("purely", B_INCR), ("quite", B_INCR), ("really", B_INCR), ("remarkably", B_INCR),
    ("so", B_INCR), ("substantially", B_INCR), ("thoroughly", B_INCR), ("total", B_INCR), ("totally", B_INCR),
    ("tremendous", B_INCR), ("tremendously", B_INCR), ("uber", B_INCR), ("unbelievably", B_INCR),
    ("unusually", B_INCR), ("utter", B_INCR), ("utterly", B_INCR), ("very", B_INCR), ("almost", B_DECR),
    ("barely", B_DECR), ("hardly", B_DECR), ("just enough", B_DECR), ("kind of", B_DECR), ("kinda", B_DECR),
    ("kindof", B_DECR), ("kind-of", B_DECR), ("less", B_DECR), ("little", B_DECR), ("marginal", B_DECR),
    ("marginally", B_DECR), ("occasional", B_DECR), ("occasionally", B_DECR), ("partly", B_DECR),
    ("scarce", B_DECR), ("scarcely", B_DECR), ("slight", B_DECR), ("slightly", B_DECR), ("somewhat", B_DECR),
    ("sort of", B_DECR), ("sorta", B_DECR), ("sortof", B_DECR), ("sort-of", B_DECR),
];

/// VADER's `SPECIAL_CASES` (`badass` has no space and so can never match; kept for fidelity).
#[rustfmt::skip]
pub const SPECIAL_CASES: &[(&str, f64)] = &[
    ("the shit", 3.0), ("the bomb", 3.0), ("bad ass", 1.5), ("badass", 1.5), ("bus stop", 0.0),
    ("yeah right", -2.0), ("kiss of death", -1.5), ("to die for", 3.0), ("beating heart", 3.5),
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

#[cfg(test)]
mod tests {
    //! One test per rule; expected values are Python vaderSentiment 3.3.2's output for the same
    //! text (`SentimentIntensityAnalyzer().polarity_scores(text)`).
    use super::*;

    #[track_caller]
    fn check(text: &str, neg: f64, neu: f64, pos: f64, compound: f64) {
        let got = Vader::new().polarity_scores(text);
        assert_eq!(got, Scores { neg, neu, pos, compound }, "{text:?}");
    }

    #[test]
    fn plain_lexicon_words() {
        check("The book was good.", 0.0, 0.508, 0.492, 0.4404);
        check("", 0.0, 0.0, 0.0, 0.0);
        check("   ", 0.0, 0.0, 0.0, 0.0);
    }

    #[test]
    fn negation_window_of_three() {
        check("The book was not good.", 0.376, 0.624, 0.0, -0.3412);
        check("The book was not very good.", 0.344, 0.656, 0.0, -0.3865);
        check("It isn't a horrible book.", 0.0, 0.584, 0.416, 0.431);
        check("Never good.", 0.706, 0.294, 0.0, -0.3412);
    }

    #[test]
    fn never_so_this_and_without_doubt() {
        check("Sentiment analysis has never been this good!", 0.0, 0.621, 0.379, 0.5672);
        check("Without a doubt, an excellent idea.", 0.0, 0.408, 0.592, 0.7013);
    }

    #[test]
    fn but_rule() {
        check(
            "The plot was good, but the characters are uncompelling and the dialog is not great.",
            0.327,
            0.579,
            0.094,
            -0.7042,
        );
        // Python's list.index quirk: equal values before and after "but".
        check("good but good", 0.0, 0.147, 0.853, 0.7003);
    }

    #[test]
    fn caps_emphasis_needs_cap_differential() {
        check("VADER is VERY SMART, handsome, and FUNNY.", 0.0, 0.246, 0.754, 0.9227);
        // Everything in caps: no differential, no emphasis (same as the lower-case sentence).
        check("VADER IS VERY SMART HANDSOME AND FUNNY", 0.0, 0.299, 0.701, 0.8545);
        check("The food was GOOD.", 0.0, 0.452, 0.548, 0.5622);
    }

    #[test]
    fn boosters_and_dampeners() {
        check("VADER is very smart, handsome, and funny.", 0.0, 0.299, 0.701, 0.8545);
        check("It was extremely bad.", 0.558, 0.442, 0.0, -0.5849);
        check("It was slightly bad.", 0.517, 0.483, 0.0, -0.4951);
        check("The book was only kind of good.", 0.0, 0.697, 0.303, 0.3832);
        check("The movie was sort of good.", 0.0, 0.657, 0.343, 0.3832);
    }

    #[test]
    fn no_rule() {
        check("no problems", 0.0, 0.307, 0.693, 0.3089);
        check("There is no good news.", 0.376, 0.624, 0.0, -0.3412);
        check("no no", 0.0, 0.346, 0.654, 0.2235);
        check("I have no love or hate for it.", 0.272, 0.485, 0.242, -0.0951);
        // "No." keeps its dot (only two characters would remain) and is then no lexicon word.
        check("No.", 0.0, 1.0, 0.0, 0.0);
    }

    #[test]
    fn least_rule() {
        check("Roger Dodger is one of the least compelling variations on this theme.", 0.132, 0.868, 0.0, -0.1695);
        check("Roger Dodger is at least compelling as a variation on the theme.", 0.0, 0.853, 0.147, 0.2263);
        check("least good", 0.706, 0.294, 0.0, -0.3412);
    }

    #[test]
    fn punctuation_emphasis() {
        check("Today SUX!", 0.779, 0.221, 0.0, -0.5461);
        check("Good!!!", 0.0, 0.0, 1.0, 0.5826);
        check("Good!!!!!!", 0.0, 0.0, 1.0, 0.6209); // at most 4 count
        check("Good??", 0.0, 0.0, 1.0, 0.504);
        check("Good????", 0.0, 0.0, 1.0, 0.594);
        check("Bad!!!", 1.0, 0.0, 0.0, -0.6571);
    }

    #[test]
    fn special_case_idioms_as_python_applies_them() {
        check("With VADER, sentiment analysis is the shit!", 0.0, 0.583, 0.417, 0.6476);
        check("You are the bomb", 0.0, 0.429, 0.571, 0.6124);
        // Only checked when the third word before is not a lexicon word ("party" is).
        check("That party was the bomb", 0.36, 0.337, 0.303, -0.128);
        // ... and only from the fourth token on.
        check("the bomb", 0.762, 0.238, 0.0, -0.4939);
        check("It was the kiss of death for the show", 0.417, 0.583, 0.0, -0.6124);
        // "to die for" can never match with "die" as the item.
        check("The sweets were to die for.", 0.351, 0.36, 0.288, -0.1779);
    }

    #[test]
    fn emoji_descriptions() {
        check("Catch utf-8 emoji such as 💘 and 💋 and 😁", 0.0, 0.583, 0.417, 0.875);
        check("good😀", 0.0, 0.156, 0.844, 0.6597); // "good grinning face"
        check("😀", 0.0, 0.286, 0.714, 0.3612);
    }

    #[test]
    fn emoticons_and_short_tokens_keep_punctuation() {
        check(":)", 0.0, 0.0, 1.0, 0.4588);
        check("Make sure you :) or :D today!", 0.0, 0.294, 0.706, 0.8633);
        check("ok.", 0.0, 1.0, 0.0, 0.0);
    }

    #[test]
    fn compound_is_rounded_like_python() {
        assert_eq!(Vader::new().compound("The book was good."), 0.4404);
        assert_eq!(super::super::engine::py_round(0.03125, 4), 0.0312); // ties to even, as Python
        assert_eq!(super::super::engine::py_round(0.12345, 4), 0.1235);
    }
}
