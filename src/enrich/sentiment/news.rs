//! The `news` model: VADER's engine with a news lexicon, news rules, typographic normalisation
//! and a length-robust document score. The design and its measured effect are documented on the
//! [parent module](super); this file holds the implementation.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use super::engine::{normalize, parse_lexicon, Engine, Entry, FxMap, Raw, Tok, Words};
use super::vader::{vader_rules, B_DECR, B_INCR, VADER_LEXICON};

/// `data/news_lexicon.tsv`: the news model's changes to VADER's lexicon.
pub const NEWS_LEXICON: &str = include_str!("data/news_lexicon.tsv");

/// Positive lexicon valences are multiplied by this. News and opinion writing use mildly positive
/// words formulaically ("support", "help", "hopes", "agreed") far more than negative ones, and
/// readers weigh negative content more (negativity bias); VADER's valences were rated out of
/// context, on social media.
pub const POSITIVE_WEIGHT: f64 = 0.8;

/// A negated negative word keeps this share of its valence, with the sign flipped ("not bad" is
/// mildly positive; VADER flips it to -0.74 × its valence, i.e. as positive as "good" is).
pub const NEGATED_NEGATIVE: f64 = -0.3;

/// Valence of "too" before a word that is not a lexicon word: excess, a criticism ("too late",
/// "too expensive", "too many"). "me too" (nothing follows) is untouched.
pub const TOO_VALENCE: f64 = -0.8;

/// A sentence's evidence is its VADER sum divided by (number of sentiment-bearing tokens) to this
/// power: sentiment words accumulate with diminishing returns.
pub const DENSITY_EXPONENT: f64 = 0.3;

/// Up to this many sentences, a document's evidence is summed and divided by √n (sentences are
/// independent evidence: a three-sentence tweet that is positive throughout is more positive than
/// each sentence); beyond it the divisor grows like n, so a long article scores like its typical
/// sentence (×2) and never saturates by length.
pub const SHORT_TEXT_SENTENCES: f64 = 4.0;

/// Normalisation constant of the sentence and document scores (VADER's).
pub const ALPHA: f64 = 15.0;

/// VADER special cases that read news wrongly: "the bomb" and "the shit" (slang for excellent)
/// and "to die for" (slang for desirable) are literal in news.
const DROPPED_SPECIAL_CASES: &[&str] = &["the bomb", "the shit", "to die for"];

/// Words after which `like` is a verb ("I like", "would like", "don't like"); elsewhere in news it
/// is a preposition ("countries like China", "looks like") and carries no sentiment.
#[rustfmt::skip]
const LIKE_VERB_BEFORE: &[&str] = &[
    "i", "you", "we", "they", "u", "ya", "would", "'d", "i'd", "you'd", "we'd", "they'd", "he'd", "she'd", "really",
    "also", "still", "just", "actually", "definitely", "totally", "kinda", "do", "does", "did", "don't", "dont",
    "doesn't", "doesnt", "didn't", "didnt", "to", "who", "not", "people",
];

/// Words of reduction or removal. What follows them within three tokens (same clause) is being
/// reduced, ended or prevented, so its sentiment is not the sentence's ("reduce cancer risk",
/// "curb the opioid crisis", "fight corruption", "ease tensions"): its valence is dropped, and so
/// is the reducer's own (fight, stop, cut and avoid are negative in VADER, ease positive).
#[rustfmt::skip]
const REDUCERS: &[&str] = &[
    "reduce", "reduced", "reduces", "reducing", "reduction", "cut", "cuts", "cutting", "curb", "curbed", "curbing",
    "curbs", "fight", "fighting", "fights", "combat", "combating", "combatting", "prevent", "prevented", "prevents",
    "preventing", "prevention", "eliminate", "eliminated", "eliminates", "eliminating", "eradicate", "eradicated",
    "eradicating", "end", "ended", "ending", "ends", "stop", "stopped", "stopping", "stops", "halt", "halted",
    "halting", "ease", "eased", "easing", "lower", "lowered", "lowering", "alleviate", "alleviated", "alleviating",
    "tackle", "tackled", "tackling", "avoid", "avoided", "avoiding", "avert", "averted", "decrease", "decreased",
    "decreasing", "fewer", "minimize", "minimized", "minimizing", "mitigate", "mitigated", "mitigating", "deter",
    "deterred", "discourage", "discouraged", "resolve", "resolved", "resolving", "solve", "solved", "solving",
    "overcome", "overcoming", "cure", "cured", "treat", "treating", "relieve", "relieved", "relieving",
];

/// Words that do not make a neighbouring capitalised word part of a name (capitalised for
/// emphasis or at the start of a quote: "I Love You", "Thank You").
#[rustfmt::skip]
const NOT_NAME_PARTS: &[&str] = &[
    "i", "you", "me", "my", "we", "us", "our", "he", "she", "it", "they", "them", "his", "her", "its", "their",
    "this", "that", "these", "those", "the", "a", "an", "and", "or", "but", "so", "to", "of", "in", "on", "for",
    "with", "is", "are", "was", "were", "be", "not", "no", "all", "very", "just",
];

// Roles of a word in the news rules (bits of `Entry::news`).
pub(crate) const NW_COLLOCATION: u8 = 1;
pub(crate) const NW_LIKE: u8 = 2;
pub(crate) const NW_PRETTY: u8 = 4;
pub(crate) const NW_TOO: u8 = 8;
pub(crate) const NW_REDUCER: u8 = 16;

/// The news model's rules on top of VADER's (see `annotate`).
#[derive(Debug, Clone)]
pub struct NewsRules {
    /// Two-word collocations ("a b", lower case) whose lexicon words carry no sentiment.
    collocations: FxMap<Vec<u8>, ()>,
    /// Extra degree adverbs of formal English, with VADER's increments.
    boosters: Vec<(&'static str, f64)>,
    /// See [`NEGATED_NEGATIVE`].
    pub(crate) negated_negative: f64,
}

impl NewsRules {
    /// Words the annotation pass acts on, with their roles (flagged in the word table).
    pub(crate) fn watched_words(&self) -> Vec<(String, u8)> {
        let mut words: Vec<(String, u8)> = self
            .collocations
            .keys()
            .flat_map(|k| String::from_utf8_lossy(k).split(' ').map(str::to_owned).collect::<Vec<_>>())
            .map(|w| (w, NW_COLLOCATION))
            .collect();
        words.push(("like".to_owned(), NW_LIKE));
        words.push(("pretty".to_owned(), NW_PRETTY));
        words.push(("too".to_owned(), NW_TOO));
        words.extend(REDUCERS.iter().map(|w| ((*w).to_owned(), NW_REDUCER)));
        words
    }

    /// Extra boosters and dampeners.
    pub(crate) fn boosters(&self) -> impl Iterator<Item = (String, f64)> + '_ {
        self.boosters.iter().map(|&(w, b)| (w.to_owned(), b))
    }
}

/// The entry for a possessive whose stem is a lexicon word ("nation's", "winner's"): the stem's.
pub(crate) fn possessive_entry(_news: &NewsRules, engine: &Engine, lower: &[u8]) -> Option<Entry> {
    let stem = lower.strip_suffix(b"'s")?;
    if stem.len() < 3 {
        return None;
    }
    let e = engine.entry(stem);
    e.val.is_some().then_some(e)
}

/// The entry of an inflected or derived form of a lexicon word that the lexicon lacks
/// ("unfairly" → "unfair", "angrily" → "angry", "escalates" → "escalate", "sabotaged" →
/// "sabotage", "stubbornness" → "stubborn"): the stem's.
pub(crate) fn inflected_entry(_news: &NewsRules, engine: &Engine, lower: &[u8]) -> Option<Entry> {
    let mut buf = [0u8; 48];
    let n = lower.len();
    if n > buf.len() {
        return None;
    }
    let mut try_stem = |stem: &[u8], extra: &[u8]| -> Option<Entry> {
        let len = stem.len() + extra.len();
        if stem.len() < 3 || len > buf.len() {
            return None;
        }
        buf[..stem.len()].copy_from_slice(stem);
        buf[stem.len()..len].copy_from_slice(extra);
        let e = engine.entry(&buf[..len]);
        (e.val.is_some() && e.boost == 0.0 && !e.negate && e.news & NW_REDUCER == 0).then_some(e)
    };
    let ends = |suffix: &[u8]| lower.ends_with(suffix);
    let base = |cut: usize| &lower[..n - cut];
    if ends(b"ily") {
        try_stem(base(3), b"y")
    } else if ends(b"ally") {
        try_stem(base(2), b"").or_else(|| try_stem(base(4), b""))
    } else if ends(b"ly") {
        try_stem(base(2), b"").or_else(|| try_stem(base(2), b"e"))
    } else if ends(b"iness") {
        try_stem(base(5), b"y")
    } else if ends(b"ness") {
        try_stem(base(4), b"")
    } else if ends(b"ies") || ends(b"ied") {
        try_stem(base(3), b"y")
    } else if ends(b"ss") || ends(b"us") || ends(b"is") {
        None
    } else if ends(b"es") {
        try_stem(base(1), b"").or_else(|| try_stem(base(2), b""))
    } else if ends(b"s") {
        try_stem(base(1), b"")
    } else if ends(b"ed") || ends(b"ing") {
        let stem = base(if ends(b"ed") { 2 } else { 3 });
        let doubled = stem.len() >= 4 && stem[stem.len() - 1] == stem[stem.len() - 2];
        try_stem(stem, b"").or_else(|| try_stem(stem, b"e")).or_else(|| {
            if doubled {
                try_stem(&stem[..stem.len() - 1], b"")
            } else {
                None
            }
        })
    } else {
        None
    }
}

/// The news rules over the tokens of one sentence (or text), run before VADER's rules. They only
/// remove valences, give "too" one, or turn "pretty" into a booster; everything else is VADER's.
pub(crate) fn annotate(news: &NewsRules, _engine: &Engine, toks: &mut [Tok], words: Words<'_>, key: &mut Vec<u8>) {
    let n = toks.len();
    if n == 0 {
        return;
    }
    let word = |t: &Tok| words.of(t);

    // Collocations: "health care", "security council", "as well", "no one", "stressed that".
    for i in 0..n.saturating_sub(1) {
        if toks[i].e.news & NW_COLLOCATION != 0 && toks[i + 1].e.news & NW_COLLOCATION != 0 {
            key.clear();
            key.extend_from_slice(word(&toks[i]));
            key.push(b' ');
            key.extend_from_slice(word(&toks[i + 1]));
            if news.collocations.contains_key(key.as_slice()) {
                toks[i].e.val = None;
                toks[i + 1].e.val = None;
            }
        }
    }

    for i in 0..n {
        let role = toks[i].e.news;
        if role & NW_LIKE != 0 && toks[i].e.val.is_some() {
            let verb = i > 0 && LIKE_VERB_BEFORE.iter().any(|w| w.as_bytes() == word(&toks[i - 1]));
            if !verb {
                toks[i].e.val = None;
            }
        } else if role & NW_PRETTY != 0 && i + 1 < n && toks[i + 1].e.val.is_some() {
            // "pretty good", "pretty bad": a degree adverb, not the adjective.
            toks[i].e.val = None;
            toks[i].e.boost = B_INCR;
        } else if role & NW_TOO != 0 && i + 1 < n && toks[i + 1].e.val.is_none() && toks[i + 1].e.boost == 0.0 {
            toks[i].e.val = Some(TOO_VALENCE);
        }
    }

    // Reducers: "reduce (a person's) cancer risk".
    for i in 1..n {
        if toks[i].e.val.is_none() || toks[i].e.news & NW_REDUCER != 0 {
            continue;
        }
        for j in (i.saturating_sub(3)..i).rev() {
            if j + 1 < i && matches!(toks[j].last, b',' | b';' | b':') {
                break; // a clause boundary between the reducer and the word
            }
            if toks[j].e.news & NW_REDUCER != 0 {
                toks[i].e.val = None;
                toks[j].e.val = None;
                break;
            }
        }
    }

    // Proper names: a capitalised lexicon word inside a sentence next to another capitalised
    // word that is not a function word ("Great Hall", "Hope Hicks", "Justice Department",
    // "Freedom Party"). Not in title-case text (headlines), where every word is capitalised.
    let caps = toks.iter().filter(|t| t.cap).count();
    if caps * 2 > n && n > 2 {
        return;
    }
    let initial = |toks: &[Tok], j: usize| j == 0 || toks[j - 1].ends_sentence;
    let name_part =
        |toks: &[Tok], j: usize| toks[j].cap && !NOT_NAME_PARTS.iter().any(|w| w.as_bytes() == word(&toks[j]));
    for i in 0..n {
        if toks[i].e.val.is_none() || !toks[i].cap || initial(toks, i) {
            continue;
        }
        let prev = i > 0 && name_part(toks, i - 1) && !initial(toks, i - 1);
        let next = i + 1 < n && name_part(toks, i + 1);
        if prev || next {
            toks[i].e.val = None;
        }
    }
}

/// The contents of `data/news_lexicon.tsv`.
struct NewsLexicon {
    words: Vec<(&'static str, Option<f64>)>,
    collocations: Vec<&'static str>,
    boosters: Vec<(&'static str, f64)>,
}

/// Parses `data/news_lexicon.tsv` (format described in its header).
fn parse_news_lexicon(text: &'static str) -> NewsLexicon {
    let mut lexicon = NewsLexicon { words: Vec::new(), collocations: Vec::new(), boosters: Vec::new() };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split('\t');
        let term = fields.next().unwrap_or_default().trim();
        let value = fields.next().unwrap_or_default().trim();
        let line_no = n + 1;
        if term.contains(' ') {
            assert!(value == "0", "news_lexicon.tsv line {line_no}: a collocation must have value 0");
            lexicon.collocations.push(term);
        } else if value == "-" {
            lexicon.words.push((term, None));
        } else if value == "B+" || value == "B-" {
            lexicon.boosters.push((term, if value == "B+" { B_INCR } else { B_DECR }));
        } else {
            let v: f64 = value.parse().unwrap_or_else(|_| panic!("news_lexicon.tsv line {line_no}: bad valence"));
            assert!((-4.0..=4.0).contains(&v), "news_lexicon.tsv line {line_no}: valence out of range");
            lexicon.words.push((term, Some(v)));
        }
    }
    lexicon
}

fn news_engine() -> Engine {
    let news = parse_news_lexicon(NEWS_LEXICON);
    let weight = |v: f64| if v > 0.0 { v * POSITIVE_WEIGHT } else { v };
    let lexicon = parse_lexicon(VADER_LEXICON)
        .map(|(w, v)| (Cow::Borrowed(w), Some(v)))
        .chain(news.words.into_iter().map(|(w, v)| (Cow::Borrowed(w), v)))
        .map(|(w, v)| (w, v.map(weight)));
    let mut rules = vader_rules();
    rules.special_cases.retain(|(words, _)| !DROPPED_SPECIAL_CASES.contains(&words.join(" ").as_str()));
    rules.news = Some(NewsRules {
        collocations: news.collocations.into_iter().map(|c| (c.as_bytes().to_vec(), ())).collect(),
        boosters: news.boosters,
        negated_negative: NEGATED_NEGATIVE,
    });
    Engine::new(lexicon, rules)
}

static NEWS: LazyLock<Engine> = LazyLock::new(news_engine);

/// Typographic characters and their plain replacements: curly quotes and apostrophes become
/// ASCII (so `don’t` is a negation and `“progress”` a word), dashes separate words, an ellipsis
/// is three dots, invisible characters go.
#[inline]
fn replacement(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{02BC}' | '\u{FF07}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}' | '\u{00BB}' | '\u{FF02}' => "\"",
        '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2212}' => " - ",
        '\u{2026}' => "...",
        '\u{200B}' => " ",
        '\u{00AD}' | '\u{FEFF}' | '\u{200C}' | '\u{200D}' | '\u{2060}' => "",
        _ => return None,
    })
}

/// The next character at or after byte `from` of `text` that [`replacement`] replaces: (offset,
/// length, replacement). Skips ASCII eight bytes at a time.
fn next_replacement(text: &str, mut i: usize) -> Option<(usize, usize, &'static str)> {
    let b = text.as_bytes();
    while i < b.len() {
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
        if let Some(r) = replacement(c) {
            return Some((i, c.len_utf8(), r));
        }
        i += c.len_utf8();
    }
    None
}

/// Applies the typographic normalisation to `text` and maps the byte ranges `ranges` of `text`
/// onto the result. Borrows when nothing changes (always for ASCII text).
pub fn normalize_typography<'t>(text: &'t str, ranges: &[Range<usize>]) -> (Cow<'t, str>, Vec<Range<usize>>) {
    let first = if text.is_ascii() { None } else { next_replacement(text, 0) };
    let Some(mut next) = first else {
        return (Cow::Borrowed(text), ranges.to_vec());
    };
    // Boundaries to map, sorted by offset: (offset in `text`, slot in `mapped`).
    let mut points: Vec<(usize, usize)> = Vec::with_capacity(ranges.len() * 2);
    for (k, r) in ranges.iter().enumerate() {
        points.push((r.start, 2 * k));
        points.push((r.end, 2 * k + 1));
    }
    points.sort_unstable();
    let mut mapped = vec![0usize; ranges.len() * 2];
    let mut out = String::with_capacity(text.len() + 16);
    let (mut from, mut p) = (0, 0);
    loop {
        let (at, len, rep) = next;
        // Copy `text[from..at]` unchanged; a boundary at `at` maps to before the replacement.
        while p < points.len() && points[p].0 <= at {
            mapped[points[p].1] = out.len() + points[p].0.saturating_sub(from);
            p += 1;
        }
        out.push_str(&text[from..at]);
        out.push_str(rep);
        from = at + len;
        while p < points.len() && points[p].0 < from {
            mapped[points[p].1] = out.len(); // inside the replaced character (not a boundary)
            p += 1;
        }
        match next_replacement(text, from) {
            Some(n) => next = n,
            None => break,
        }
    }
    while p < points.len() {
        mapped[points[p].1] = out.len() + points[p].0.min(text.len()).saturating_sub(from);
        p += 1;
    }
    out.push_str(&text[from..]);
    let ranges = (0..ranges.len()).map(|k| mapped[2 * k]..mapped[2 * k + 1].max(mapped[2 * k])).collect();
    (Cow::Owned(out), ranges)
}

/// A sentence's sentiment evidence: VADER's sum (with punctuation emphasis) over the news
/// lexicon and rules, divided by (sentiment-bearing tokens)^[`DENSITY_EXPONENT`].
pub fn evidence(raw: &Raw) -> f64 {
    if raw.tokens == 0 {
        return 0.0;
    }
    let bearing = (raw.tokens - raw.neu_count).max(1) as f64;
    raw.emphasized() / bearing.powf(DENSITY_EXPONENT)
}

/// A sentence's score from its evidence: VADER's normalisation.
pub fn sentence_score(evidence: f64) -> f64 {
    normalize(evidence, ALPHA)
}

/// The document score from the evidence of its sentences (empty sentences excluded by the
/// caller or passed as `None`): see [`SHORT_TEXT_SENTENCES`].
pub fn document_score(evidence: &[Option<f64>]) -> f64 {
    let n = evidence.iter().flatten().count() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let sum: f64 = evidence.iter().flatten().sum();
    let divisor = if n <= SHORT_TEXT_SENTENCES { n.sqrt() } else { n / SHORT_TEXT_SENTENCES.sqrt() };
    normalize(sum / divisor, ALPHA)
}

/// The news model. A cheap handle: the lexicon is built once per process, on first use.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewsModel;

impl NewsModel {
    pub fn new() -> Self {
        LazyLock::force(&NEWS);
        NewsModel
    }

    /// The underlying engine (news lexicon and rules; input must already be normalised with
    /// [`normalize_typography`]).
    pub fn engine(&self) -> &'static Engine {
        &NEWS
    }

    /// Evidence of one text scored as a single sentence (`None` when it has no tokens).
    pub fn evidence_of(&self, sentence: &str) -> Option<f64> {
        let (text, _) = normalize_typography(sentence, &[]);
        let raw = NEWS.raw(&text);
        (raw.tokens > 0).then(|| evidence(&raw))
    }

    /// Score of one sentence in [-1, 1].
    pub fn sentence_score(&self, sentence: &str) -> f64 {
        self.evidence_of(sentence).map_or(0.0, sentence_score)
    }

    /// Scores the sentences `ranges` (byte ranges of `text`, in order, as from
    /// [`crate::enrich::text::Document`]) and the document. Returns (document, sentence scores).
    pub fn score(&self, text: &str, ranges: &[Range<usize>]) -> (f64, Vec<f64>) {
        let (norm, ranges) = normalize_typography(text, ranges);
        let mut raws = Vec::with_capacity(ranges.len());
        NEWS.score_ranges(&norm, &ranges, false, &mut raws);
        let evidence: Vec<Option<f64>> = raws.iter().map(|r| (r.tokens > 0).then(|| evidence(r))).collect();
        let scores = evidence.iter().map(|e| e.map_or(0.0, sentence_score)).collect();
        (document_score(&evidence), scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::text::Document;

    fn score(text: &str) -> f64 {
        NewsModel::new().sentence_score(text)
    }

    fn document(text: &str) -> f64 {
        let doc = Document::new(text, 0);
        NewsModel::new().score(text, &doc.sentences).0
    }

    #[test]
    fn typographic_quotes_are_normalised() {
        assert_eq!(score("It’s not good."), score("It's not good."));
        assert!(score("It’s not good.") < 0.0, "don’t/not negation must work with curly apostrophes");
        assert_eq!(score("They don’t trust him."), score("They don't trust him."));
        assert!(score("Xi hailed the “progress”.") > 0.0, "a word in curly quotes is still a word");
        assert_eq!(score("war—and peace"), score("war - and peace"));
    }

    #[test]
    fn normalisation_maps_ranges() {
        let text = "“A” – b’s… c";
        let ranges = [0..7, 12..text.len()];
        let (norm, mapped) = normalize_typography(text, &ranges);
        assert_eq!(norm, "\"A\"  -  b's... c");
        assert_eq!(&norm[mapped[0].clone()], "\"A\"");
        assert_eq!(&norm[mapped[1].clone()], "b's... c");
        let whole = [Range { start: 0, end: 5 }];
        let (ascii, same) = normalize_typography("plain", &whole);
        assert!(matches!(ascii, Cow::Borrowed(_)) && same == whole);
        // Every sentence of a real article maps onto the same text, normalised.
        let text = "Xi hailed the “progress”. It’s “vital” — he said… Talks ended.\nNo “room”.";
        let doc = Document::new(text, 0);
        let (norm, mapped) = normalize_typography(text, &doc.sentences);
        for (r, m) in doc.sentences.iter().zip(&mapped) {
            assert_eq!(normalize_typography(&text[r.clone()], &[]).0, &norm[m.clone()]);
        }
    }

    #[test]
    fn news_vocabulary() {
        for negative in [
            "Russia launched an invasion.",
            "The sanctions remain.",
            "He was charged with espionage.",
            "There are concerns about the deal.",
            "Overdose deaths rose again.",
            "The clashes left three wounded.",
        ] {
            assert!(score(negative) <= -0.05, "{negative}: {}", score(negative));
        }
        for positive in ["The talks produced a breakthrough.", "The two sides reached a compromise."] {
            assert!(score(positive) >= 0.05, "{positive}: {}", score(positive));
        }
        assert!(score("There is no room for compromise.") < score("There is room for compromise."));
    }

    #[test]
    fn idioms_and_senses_that_misread_news() {
        // VADER scores "the bomb" as slang for excellent (+3) from the fourth token on.
        assert!(score("Police said they found the bomb near the station.") < 0.0);
        for neutral in [
            "The Security Council met on Monday.",
            "The bill expands health care.",
            "Officials from the United States and the United Nations attended.",
            "Countries like China export steel.",
            "He spoke at the Great Hall of the People.",
            "Top officials said interest rates would rise as well.",
        ] {
            assert_eq!(score(neutral), 0.0, "{neutral}");
        }
        assert!(score("I like this plan.") > 0.0, "like as a verb keeps its valence");
        assert!(score("Great Progress In Talks") > 0.0, "title case is not a run of names");
    }

    #[test]
    fn reducers_and_negated_negatives() {
        assert!(score("The measure will reduce cancer risk.") >= 0.0);
        assert!(score("Officials vowed to curb the opioid crisis.") > score("The opioid crisis deepened."));
        let (not_bad, good) = (score("The results were not bad."), score("The results were good."));
        assert!(not_bad > 0.0 && not_bad < good * 0.6, "not bad {not_bad} vs good {good}");
        assert!(score("It came too late.") < 0.0);
        assert_eq!(score("Me too."), 0.0);
    }

    #[test]
    fn inflections_and_possessives_find_the_stem() {
        assert!(score("They acted unfairly.") < 0.0);
        assert!(score("The talks escalates tensions.") < 0.0);
        assert_eq!(score("The victim's family"), score("The victim family"));
    }

    #[test]
    fn document_score_is_length_robust() {
        let paragraph = "Talks between the two sides ended without agreement. Officials said tensions remain high. \
                         Both leaders praised the progress made on trade. ";
        let short = document(paragraph);
        let long = document(&paragraph.repeat(30));
        assert!(long.abs() < 0.7, "90 sentences must not saturate: {long}");
        assert!((long - short).abs() < 0.5, "short {short} vs long {long}");
        // Consistent evidence still accumulates in short texts.
        let one = document("What a great result.");
        let three = document("What a great result. A great team. A great day.");
        assert!(three > one);
    }

    #[test]
    fn empty_and_unscored_sentences() {
        assert_eq!(document(""), 0.0);
        assert_eq!(document_score(&[None, None]), 0.0);
        assert_eq!(score("   "), 0.0);
    }
}
