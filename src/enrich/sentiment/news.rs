//! The `news` model: VADER's engine with a news lexicon, news rules, typographic normalisation
//! and a length-robust document score. See the [module documentation](super) for the design.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use super::engine::{normalize, parse_lexicon, Engine, Entry, FxMap, Kw, Raw, Tok};
use super::vader::{vader_rules, VADER_LEXICON};

/// `data/news_lexicon.tsv`: the news model's changes to VADER's lexicon.
pub const NEWS_LEXICON: &str = include_str!("data/news_lexicon.tsv");

/// VADER special cases that read news wrongly: "the bomb" and "the shit" (slang for excellent)
/// and "to die for" (slang for desirable) are literal in news.
const DROPPED_SPECIAL_CASES: &[&str] = &["the bomb", "the shit", "to die for"];

/// Words after which `like` is a verb ("I like", "would like", "don't like"); elsewhere in news it
/// is a preposition ("countries like China", "looks like") and carries no sentiment.
const LIKE_VERB_BEFORE: &[&str] = &[
    "i",
    "you",
    "we",
    "they",
    "u",
    "ya",
    "would",
    "'d",
    "i'd",
    "you'd",
    "we'd",
    "they'd",
    "he'd",
    "she'd",
    "really",
    "also",
    "still",
    "just",
    "actually",
    "definitely",
    "totally",
    "kinda",
    "do",
    "does",
    "did",
    "don't",
    "dont",
    "doesn't",
    "doesnt",
    "didn't",
    "didnt",
    "to",
    "who",
    "not",
    "people",
];

/// Words that do not make a neighbouring capitalised word part of a name (capitalised for
/// emphasis or at the start of a quote, "I Love You", "Thank You").
const NOT_NAME_PARTS: &[&str] = &[
    "i", "you", "me", "my", "we", "us", "our", "he", "she", "it", "they", "them", "his", "her", "its", "their", "this",
    "that", "these", "those", "the", "a", "an", "and", "or", "but", "so", "to", "of", "in", "on", "for", "with", "is",
    "are", "was", "were", "be", "not", "no", "all", "very", "just",
];

/// The news model's rules on top of VADER's.
#[derive(Debug, Clone)]
pub struct NewsRules {
    /// Two-word collocations ("a b", lower case) whose lexicon words carry no sentiment.
    collocations: FxMap<Vec<u8>, ()>,
}

impl NewsRules {
    /// Words the annotation pass must see (flagged in the word table).
    pub(crate) fn watched_words(&self) -> impl Iterator<Item = String> + '_ {
        let colloc = self.collocations.keys().flat_map(|k| {
            let k = String::from_utf8_lossy(k).into_owned();
            k.split(' ').map(str::to_owned).collect::<Vec<_>>()
        });
        colloc.chain(["like".to_owned(), "pretty".to_owned()])
    }
}

/// The entry for a possessive whose stem is a lexicon word ("victims'" is stripped already;
/// "nation's", "winner's"): the stem's.
pub(crate) fn possessive_entry(_news: &NewsRules, engine: &Engine, lower: &[u8]) -> Option<Entry> {
    if exp("noposs") {
        return None;
    }
    let stem = lower.strip_suffix(b"'s")?;
    if stem.len() < 3 {
        return None;
    }
    let e = engine.entry(stem);
    e.val.is_some().then_some(e)
}

/// The entry of an inflected or derived form of a lexicon word that the lexicon lacks
/// ("unfairly" → "unfair", "angrily" → "angry", "escalates" → "escalate", "sabotaged" →
/// "sabotage", "worsens" → "worsen"): the stem's valence.
pub(crate) fn inflected_entry(_news: &NewsRules, engine: &Engine, lower: &[u8]) -> Option<Entry> {
    if exp("nomorph") {
        return None;
    }
    let mut buf = [0u8; 48];
    let n = lower.len();
    if n > buf.len() {
        return None;
    }
    let try_stem = |stem: &[u8], extra: &[u8], buf: &mut [u8; 48]| -> Option<Entry> {
        let len = stem.len() + extra.len();
        if stem.len() < 3 || len > buf.len() {
            return None;
        }
        buf[..stem.len()].copy_from_slice(stem);
        buf[stem.len()..len].copy_from_slice(extra);
        let e = engine.entry(&buf[..len]);
        (e.val.is_some() && e.boost == 0.0 && !e.negate).then_some(e)
    };
    let doubled = |stem: &[u8]| stem.len() >= 4 && stem[stem.len() - 1] == stem[stem.len() - 2];
    let mut candidates: [(&[u8], &[u8]); 3] = [(b"", b""); 3];
    let mut k = 0;
    let mut push = |stem: &'_ [u8], extra: &'static [u8], c: &mut [(&[u8], &[u8]); 3]| {
        let _ = (stem, extra, c);
    };
    let _ = &mut push;
    let _ = &mut candidates;
    let _ = &mut k;
    let ends = |suffix: &[u8]| lower.ends_with(suffix);
    let base = |cut: usize| &lower[..n - cut];
    let result = if ends(b"ily") {
        try_stem(base(3), b"y", &mut buf)
    } else if ends(b"ally") {
        try_stem(base(2), b"", &mut buf).or_else(|| try_stem(base(4), b"", &mut buf))
    } else if ends(b"ly") {
        try_stem(base(2), b"", &mut buf).or_else(|| try_stem(base(2), b"e", &mut buf))
    } else if ends(b"iness") {
        try_stem(base(5), b"y", &mut buf)
    } else if ends(b"ness") {
        try_stem(base(4), b"", &mut buf)
    } else if ends(b"ies") || ends(b"ied") {
        try_stem(base(3), b"y", &mut buf)
    } else if ends(b"ss") || ends(b"us") || ends(b"is") {
        None
    } else if ends(b"es") {
        try_stem(base(1), b"", &mut buf).or_else(|| try_stem(base(2), b"", &mut buf))
    } else if ends(b"s") {
        try_stem(base(1), b"", &mut buf)
    } else if ends(b"ed") || ends(b"ing") {
        let cut = if ends(b"ed") { 2 } else { 3 };
        let stem = base(cut);
        try_stem(stem, b"", &mut buf).or_else(|| try_stem(stem, b"e", &mut buf)).or_else(|| {
            if doubled(stem) {
                try_stem(&stem[..stem.len() - 1], b"", &mut buf)
            } else {
                None
            }
        })
    } else {
        None
    };
    result
}

/// The news rules over the tokens of one sentence (or text): neutral collocations, proper names,
/// `like` as a preposition, `pretty` as a booster. They only remove lexicon valences (or turn
/// `pretty` into a booster); everything else is VADER's.
pub(crate) fn annotate(news: &NewsRules, _engine: &Engine, toks: &mut [Tok], lower: &[u8], key: &mut Vec<u8>) {
    let n = toks.len();
    if n == 0 {
        return;
    }
    let word = |t: &Tok| &lower[t.lo as usize..t.hi as usize];

    // Collocations.
    for i in 0..if exp("nocolloc") { 0 } else { n.saturating_sub(1) } {
        if toks[i].e.news && toks[i + 1].e.news {
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

    // `like` and `pretty`.
    for i in 0..n {
        if !toks[i].e.news || toks[i].e.val.is_none() {
            continue;
        }
        match word(&toks[i]) {
            b"like" if !exp("nolike") => {
                let verb = i > 0 && LIKE_VERB_BEFORE.iter().any(|w| w.as_bytes() == word(&toks[i - 1]));
                if !verb {
                    toks[i].e.val = None;
                }
            }
            b"pretty" if !exp("nopretty") && i + 1 < n && toks[i + 1].e.val.is_some() => {
                toks[i].e.val = None;
                toks[i].e.boost = super::vader::B_INCR;
            }
            _ => {}
        }
    }

    // Proper names: a capitalised lexicon word inside a sentence, next to another capitalised
    // word that is not a function word ("Great Hall", "Hope Hicks", "Justice Department",
    // "Freedom Party"). Not in title-case text (headlines), where every word is capitalised.
    let caps = toks.iter().filter(|t| t.cap).count();
    if (caps * 2 > n && n > 2) || exp("nonames") {
        return;
    }
    let initial = |toks: &[Tok], j: usize| j == 0 || toks[j - 1].ends_sentence;
    let name_part = |toks: &[Tok], j: usize| {
        let t = &toks[j];
        t.cap && !NOT_NAME_PARTS.iter().any(|w| w.as_bytes() == word(t))
    };
    let mut names = Vec::new();
    for i in 0..n {
        let t = &toks[i];
        if t.e.val.is_none() || !t.cap || initial(toks, i) {
            continue;
        }
        let prev = i > 0 && name_part(toks, i - 1) && !initial(toks, i - 1);
        let next = i + 1 < n && name_part(toks, i + 1);
        if prev || next {
            names.push(i);
        }
    }
    for i in names {
        toks[i].e.val = None;
        toks[i].e.kw = Kw::Other;
    }
}

/// Parses `data/news_lexicon.tsv` into lexicon changes and collocations.
fn parse_news_lexicon(text: &'static str) -> (Vec<(&'static str, Option<f64>)>, Vec<&'static str>) {
    let mut words = Vec::new();
    let mut collocations = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split('\t');
        let term = fields.next().unwrap_or_default().trim();
        let value = fields.next().unwrap_or_default().trim();
        if term.contains(' ') {
            assert!(value == "0", "news_lexicon.tsv line {}: a collocation must have value 0", n + 1);
            collocations.push(term);
        } else if value == "-" {
            words.push((term, None));
        } else {
            let v: f64 = value.parse().unwrap_or_else(|_| panic!("news_lexicon.tsv line {}: bad valence", n + 1));
            assert!((-4.0..=4.0).contains(&v), "news_lexicon.tsv line {}: valence out of range", n + 1);
            words.push((term, Some(v)));
        }
    }
    (words, collocations)
}

fn news_engine() -> Engine {
    let (changes, collocations) = parse_news_lexicon(NEWS_LEXICON);
    let lexicon = parse_lexicon(VADER_LEXICON).map(|(w, v)| (Cow::Borrowed(w), Some(v)));
    let changes = if exp("nolex") { Vec::new() } else { changes };
    let posw = exp_val("pos").unwrap_or(1.0);
    let negw = exp_val("neg").unwrap_or(1.0);
    let lexicon = lexicon.map(move |(w, v)| (w, v.map(|v| if v > 0.0 { v * posw } else { v * negw })));
    let lexicon = lexicon.chain(
        changes.into_iter().map(move |(w, v)| (Cow::Borrowed(w), v.map(|v| if v > 0.0 { v * posw } else { v * negw }))),
    );
    let mut rules = vader_rules();
    rules.special_cases.retain(|(words, _)| !DROPPED_SPECIAL_CASES.contains(&words.join(" ").as_str()));
    rules.news =
        Some(NewsRules { collocations: collocations.into_iter().map(|c| (c.as_bytes().to_vec(), ())).collect() });
    Engine::new(lexicon, rules)
}

static NEWS: LazyLock<Engine> = LazyLock::new(news_engine);

#[doc(hidden)]
pub static EXP: LazyLock<String> = LazyLock::new(|| std::env::var("NEWS_EXP").unwrap_or_default());
#[doc(hidden)]
pub fn exp(flag: &str) -> bool {
    EXP.split(',').any(|f| f == flag)
}
#[doc(hidden)]
pub fn exp_val(flag: &str) -> Option<f64> {
    EXP.split(',').find_map(|f| f.strip_prefix(flag)?.strip_prefix('=')?.parse().ok())
}

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

/// Applies [`replacement`] to `text` and maps the byte ranges `ranges` of `text` onto the result.
pub fn normalize_typography<'t>(text: &'t str, ranges: &[Range<usize>]) -> (Cow<'t, str>, Vec<Range<usize>>) {
    if text.is_ascii() || !text.chars().any(|c| replacement(c).is_some()) {
        return (Cow::Borrowed(text), ranges.to_vec());
    }
    // Boundaries to map, sorted: (offset in `text`, index into `mapped`).
    let mut points: Vec<(usize, usize)> = Vec::with_capacity(ranges.len() * 2);
    for (k, r) in ranges.iter().enumerate() {
        points.push((r.start, 2 * k));
        points.push((r.end, 2 * k + 1));
    }
    points.sort_unstable();
    let mut mapped = vec![0usize; ranges.len() * 2];
    let mut out = String::with_capacity(text.len());
    let mut p = 0;
    for (i, c) in text.char_indices() {
        while p < points.len() && points[p].0 <= i {
            mapped[points[p].1] = out.len();
            p += 1;
        }
        match replacement(c) {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    for &(_, slot) in &points[p..] {
        mapped[slot] = out.len();
    }
    let ranges = (0..ranges.len()).map(|k| mapped[2 * k]..mapped[2 * k + 1].max(mapped[2 * k])).collect();
    (Cow::Owned(out), ranges)
}

/// The news model. A cheap handle: the lexicon is built once per process, on first use.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewsModel;

impl NewsModel {
    pub fn new() -> Self {
        LazyLock::force(&NEWS);
        NewsModel
    }

    /// The underlying engine.
    pub fn engine(&self) -> &'static Engine {
        &NEWS
    }

    /// Score of one sentence in [-1, 1]: VADER's compound over the news lexicon and rules.
    pub fn sentence_score(&self, sentence: &str) -> f64 {
        let (text, _) = normalize_typography(sentence, &[]);
        sentence_score(&NEWS.raw(&text))
    }

    /// Scores the sentences (byte ranges of `text`) and aggregates them into a document score.
    pub fn score(&self, text: &str, ranges: &[Range<usize>]) -> (f64, Vec<f64>) {
        let (norm, ranges) = normalize_typography(text, ranges);
        let mut raws = Vec::with_capacity(ranges.len());
        NEWS.score_ranges(&norm, &ranges, false, &mut raws);
        let scores: Vec<f64> = raws.iter().map(sentence_score).collect();
        if let Some(p) = exp_val("sump") {
            let nz = raws.iter().filter(|r| r.tokens > 0).count().max(1) as f64;
            let sum: f64 = raws.iter().map(|r| r.emphasized()).sum();
            let alpha = exp_val("alpha").unwrap_or(15.0);
            return (normalize(sum / nz.powf(p), alpha), scores);
        }
        (document_score(&scores), scores)
    }
}

/// A sentence's score: VADER's compound (normalisation alpha 15).
fn sentence_score(raw: &Raw) -> f64 {
    if let Some(alpha) = exp_val("alpha") {
        return if raw.tokens == 0 { 0.0 } else { normalize(raw.emphasized(), alpha) };
    }
    raw.compound()
}

/// The document score: the mean of the sentence scores (see the module documentation).
pub fn document_score(scores: &[f64]) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    if exp("aggnz") {
        let nz: Vec<f64> = scores.iter().copied().filter(|s| *s != 0.0).collect();
        return if nz.is_empty() { 0.0 } else { nz.iter().sum::<f64>() / nz.len() as f64 };
    }
    if exp("aggw") {
        let w: f64 = scores.iter().map(|s| s.abs()).sum();
        return if w == 0.0 { 0.0 } else { scores.iter().map(|s| s * s.abs()).sum::<f64>() / w };
    }
    if let Some(p) = exp_val("aggsqrt") {
        return scores.iter().sum::<f64>() / (scores.len() as f64).powf(p);
    }
    scores.iter().sum::<f64>() / scores.len() as f64
}
