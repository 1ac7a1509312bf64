//! Conformance of the Rust VADER port with Python vaderSentiment 3.3.2 on every snippet of the
//! shared ground-truth files: the compound must agree within 1e-4 on at least 99.9% of them.
//!
//! Needs `python3` with `vaderSentiment==3.3.2` and the shared data (`$NEWS_DATA_DIR`, default
//! `../shared/data`). Either missing is a failure with instructions, never a silent skip.
//!
//! Run: `cargo test --release --test vader_conformance -- --nocapture`

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use news_enricher::enrich::sentiment::eval::{data_dir, load_ground_truth, GROUND_TRUTH_FILES};
use news_enricher::enrich::sentiment::vader::Vader;

const TOLERANCE: f64 = 1e-4;
const REQUIRED_RATIO: f64 = 0.999;

/// Runs the Python reference and returns `(file, id) -> compound`.
fn python_reference() -> HashMap<(String, String), f64> {
    let sentiment_dir = data_dir().join("sentiment");
    assert!(
        sentiment_dir.is_dir(),
        "shared data not found at {}, set NEWS_DATA_DIR",
        sentiment_dir.parent().unwrap().display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/vader_reference.py");
    let out_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vader_reference.tsv");
    let output = Command::new("python3")
        .arg(&script)
        .arg(&out_path)
        .args(GROUND_TRUTH_FILES)
        .env("NEWS_DATA_DIR", data_dir())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}); install Python 3 and `pip install vaderSentiment==3.3.2`")
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} failed ({}): {}\nhint: pip install vaderSentiment==3.3.2; the data folder is set with NEWS_DATA_DIR",
        script.display(),
        output.status,
        stderr.trim()
    );
    let text = std::fs::read_to_string(&out_path).expect("reading the reference output");
    text.lines()
        .map(|line| {
            let mut f = line.split('\t');
            let (file, id, score) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            ((file.to_owned(), id.to_owned()), score.parse().expect("reference compound"))
        })
        .collect()
}

#[test]
fn compound_matches_python_vader() {
    let reference = python_reference();
    let vader = Vader::new();
    let (mut total, mut agree) = (0usize, 0usize);
    let mut mismatches = Vec::new();
    for file in GROUND_TRUTH_FILES {
        let snippets = load_ground_truth(file).unwrap_or_else(|e| panic!("{e}"));
        let (mut file_total, mut file_agree) = (0usize, 0usize);
        for s in &snippets {
            let key = (file.to_owned(), s.id.clone());
            let expected = *reference.get(&key).unwrap_or_else(|| panic!("no reference score for {file} {}", s.id));
            let got = vader.compound(&s.text);
            file_total += 1;
            if (got - expected).abs() <= TOLERANCE {
                file_agree += 1;
            } else {
                mismatches.push(format!("{file}\t{}\tpython {expected:+.4}\trust {got:+.4}\t{}", s.id, s.text));
            }
        }
        println!("{file:<24} {file_agree:>6} / {file_total:<6} agree");
        total += file_total;
        agree += file_agree;
    }
    assert_eq!(total, reference.len(), "reference and Rust saw a different number of snippets");
    for m in mismatches.iter().take(50) {
        println!("MISMATCH {m}");
    }
    let ratio = agree as f64 / total as f64;
    println!("conformance: {agree} / {total} = {:.4}% within {TOLERANCE:e}", ratio * 100.0);
    assert!(
        ratio >= REQUIRED_RATIO,
        "conformance {:.4}% below {:.1}% ({} mismatches, first shown above)",
        ratio * 100.0,
        REQUIRED_RATIO * 100.0,
        mismatches.len()
    );
    // The issue asks for 99.9 %; the README and the sentiment module promise every snippet.
    assert!(mismatches.is_empty(), "{} snippets differ from Python (first shown above)", mismatches.len());
}

/// Deterministic xorshift generator (no test-only dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Generated texts that exercise every rule, and combinations the ground-truth files rarely
/// hit: idioms at every position, "but" with repeated values, "least", "no ... or", caps
/// boosters, emojis glued to words, Python-only white space (`\x1c`), title-case letters.
fn edge_case_texts(count: usize) -> Vec<String> {
    const WORDS: &[&str] = &[
        "good",
        "bad",
        "love",
        "hate",
        "great",
        "terrible",
        "no",
        "kind",
        "doubt",
        "bomb",
        "shit",
        "death",
        "heart",
        "die",
        "stop",
        "yeah",
        "ass",
        "cool",
        "sux",
        "lol",
        "nice",
        "fine",
        "okay",
        "ok",
        "the",
        "of",
        "so",
        "this",
        "never",
        "without",
        "least",
        "at",
        "very",
        "but",
        "BUT",
        "or",
        "nor",
        "to",
        "for",
        "bus",
        "right",
        "kiss",
        "beating",
        "is",
        "was",
        "not",
        "isn't",
        "don't",
        "wouldn't",
        "cant",
        "nothing",
        "extremely",
        "kinda",
        "somewhat",
        "just",
        "enough",
        "sort",
        "really",
        "barely",
        "it",
        "movie",
        "book",
        "GOOD",
        "BAD",
        "Very",
        "VERY",
        "NO",
        "Not",
        "LOVE",
        "good!",
        "bad.",
        ":)",
        ":(",
        ":D",
        "no!",
        "(great)",
        "'cool'",
        "!!!",
        "??",
        "?",
        "!",
        "...",
        "café",
        "naïve",
        "ΣΟΦΟΣ",
        "İyi",
        "ǅemal",
        "x",
        "a",
        "I",
        "😀",
        "💘",
        "😁",
        "❤",
        "☹",
        "👍🏽",
        "🇺🇸",
        "good😀",
        "😀😀",
        "uh-uh",
        "kind-of",
        "despite",
        "happy",
        "sad",
        "wonderful",
        "horrible",
        "smart",
        "funny",
        "handsome",
        "uncompelling",
        "badass",
        "bad-ass",
        "won't",
    ];
    const SEPARATORS: &[&str] = &[" ", " ", " ", " ", "  ", "\t", "\u{a0}", "\u{2003}", "\x1c", "\n", ""];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..count)
        .map(|_| {
            let len = 1 + (rng.next() % 14) as usize;
            let mut text = String::new();
            if rng.next() % 8 == 0 {
                text.push_str(rng.pick(SEPARATORS));
            }
            for k in 0..len {
                if k > 0 {
                    text.push_str(rng.pick(SEPARATORS));
                }
                text.push_str(rng.pick(WORDS));
            }
            if rng.next() % 4 == 0 {
                text.push_str(rng.pick(&["!", "?", "!!", "??", "?!?", "!!!!!", " .", "?????"]));
            }
            text
        })
        .collect()
}

#[test]
fn generated_edge_cases_match_python_vader_exactly() {
    let texts = edge_case_texts(20_000);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let in_path = dir.join("vader_edge_cases.jsonl");
    let out_path = dir.join("vader_edge_cases_scores.jsonl");
    let input: String = texts.iter().map(|t| serde_json::to_string(t).unwrap() + "\n").collect();
    std::fs::write(&in_path, input).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/vader_reference.py");
    let output =
        Command::new("python3").arg(&script).arg("--texts").arg(&in_path).arg(&out_path).output().unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}); install Python 3 and `pip install vaderSentiment==3.3.2`")
        });
    assert!(
        output.status.success(),
        "{} failed: {}\nhint: pip install vaderSentiment==3.3.2",
        script.display(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let expected = std::fs::read_to_string(&out_path).unwrap();
    assert_eq!(expected.lines().count(), texts.len(), "the Python reference scored a different number of texts");
    let vader = Vader::new();
    let mut bad = 0;
    for (text, line) in texts.iter().zip(expected.lines()) {
        let e: [f64; 4] = serde_json::from_str(line).unwrap();
        let s = vader.polarity_scores(text);
        let got = [s.neg, s.neu, s.pos, s.compound];
        if got != e {
            bad += 1;
            if bad <= 30 {
                println!("MISMATCH {text:?}\n  python {e:?}\n  rust   {got:?}");
            }
        }
    }
    println!("generated edge cases: {} / {} identical (neg, neu, pos, compound)", texts.len() - bad, texts.len());
    assert_eq!(bad, 0, "{bad} generated texts score differently from Python (first ones shown above)");
}
