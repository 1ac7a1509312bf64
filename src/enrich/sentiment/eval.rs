//! Evaluation helpers for the sentiment models, shared by `tests/sentiment_eval.rs`,
//! `tests/vader_conformance.rs` and benchmarks: locating the shared data, reading the
//! ground-truth files, Pearson r and weighted 3-class F1.
//!
//! The shared data lives outside the repository (see `../shared/data/README.md`): the directory
//! is `$NEWS_DATA_DIR`, by default `../shared/data` next to the crate root.

use std::fmt;
use std::path::{Path, PathBuf};

use super::label_for;

/// The four ground-truth files of Hutto & Gilbert (2014) under `sentiment/`.
pub const GROUND_TRUTH_FILES: [&str; 4] =
    ["nyt_editorial_dev.tsv", "tweets.tsv", "movie_reviews.tsv", "amazon_reviews.tsv"];

/// The shared data directory: `$NEWS_DATA_DIR`, else `../shared/data` beside the crate root.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("NEWS_DATA_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("shared").join("data"),
    }
}

/// Why shared data could not be used.
#[derive(Debug)]
pub struct DataError(pub String);

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DataError {}

/// Path of a file under the shared data directory, or a clear error when it is missing.
pub fn data_file(relative: &str) -> Result<PathBuf, DataError> {
    let dir = data_dir();
    let path = dir.join(relative);
    if path.is_file() {
        Ok(path)
    } else if !dir.is_dir() {
        Err(DataError(format!("shared data not found at {}, set NEWS_DATA_DIR", dir.display())))
    } else {
        Err(DataError(format!(
            "{} not found in the shared data at {} (set NEWS_DATA_DIR to the right folder)",
            relative,
            dir.display()
        )))
    }
}

/// One rated snippet.
#[derive(Debug, Clone, PartialEq)]
pub struct Snippet {
    pub id: String,
    /// Mean human rating, −4…+4.
    pub rating: f64,
    pub text: String,
}

/// Parses a ground-truth file (`id\trating\ttext` per line, no header). Lines are split on LF
/// with a trailing CR dropped and empty lines skipped — exactly as `scripts/vader_reference.py`
/// reads them.
pub fn parse_snippets(content: &str) -> Result<Vec<Snippet>, DataError> {
    let mut out = Vec::new();
    for (n, line) in content.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(id), Some(rating), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(DataError(format!("line {}: expected id, rating and text", n + 1)));
        };
        let rating = rating.parse().map_err(|_| DataError(format!("line {}: bad rating {rating:?}", n + 1)))?;
        out.push(Snippet { id: id.to_owned(), rating, text: text.to_owned() });
    }
    Ok(out)
}

/// Reads `sentiment/<name>` from the shared data.
pub fn load_ground_truth(name: &str) -> Result<Vec<Snippet>, DataError> {
    let path = data_file(&format!("sentiment/{name}"))?;
    let content = std::fs::read_to_string(&path).map_err(|e| DataError(format!("{}: {e}", path.display())))?;
    parse_snippets(&content).map_err(|e| DataError(format!("{}: {e}", path.display())))
}

/// Pearson correlation coefficient (0 when either side is constant).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "pearson: length mismatch");
    let n = x.len() as f64;
    if x.is_empty() {
        return 0.0;
    }
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Support-weighted mean of per-class F1 (scikit-learn's `average="weighted"`) over the labels
/// of [`label_for`], predicted from `scores` and true from `ratings / 4`.
pub fn weighted_f1(scores: &[f64], ratings: &[f64]) -> f64 {
    assert_eq!(scores.len(), ratings.len(), "weighted_f1: length mismatch");
    let classes = ["negative", "neutral", "positive"];
    let mut total = 0.0;
    for class in classes {
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        for (&s, &r) in scores.iter().zip(ratings) {
            let pred = label_for(s) == class;
            let gold = label_for(r / 4.0) == class;
            match (pred, gold) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                _ => {}
            }
        }
        let support = tp + fn_;
        if support == 0 {
            continue;
        }
        let f1 = if tp == 0 { 0.0 } else { 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64 };
        total += f1 * support as f64;
    }
    total / ratings.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_basics() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn weighted_f1_matches_hand_computation() {
        // gold: pos, pos, neg, neu; predicted: pos, neu, neg, neu.
        let ratings = [2.0, 1.0, -3.0, 0.0];
        let scores = [0.5, 0.0, -0.5, 0.01];
        // pos: tp1 fn1 → F1 2/3 (support 2); neg: 1 (support 1); neu: tp1 fp1 → 2/3 (support 1).
        let expected = (2.0 / 3.0 * 2.0 + 1.0 + 2.0 / 3.0) / 4.0;
        assert!((weighted_f1(&scores, &ratings) - expected).abs() < 1e-12);
    }

    #[test]
    fn parses_snippets() {
        let rows = parse_snippets("1_1\t-0.9\tsome text\twith tab\r\n\n2\t1.5\tok").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].text, "some text\twith tab");
        assert_eq!(rows[1].rating, 1.5);
        assert!(parse_snippets("x\t1").is_err());
    }
}
