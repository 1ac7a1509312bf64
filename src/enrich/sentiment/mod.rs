//! Sentiment models (design notes to be completed).

pub mod engine;
pub mod eval;
pub mod news;
pub mod vader;

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Which model scores sentiment (`sentiment.model` in config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Sentence-level model tuned for news (default).
    #[default]
    News,
    /// Faithful VADER (vaderSentiment 3.3.2) compound over the whole text.
    Vader,
}

/// Result of scoring one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Document score in [-1, 1].
    pub document: f64,
    /// Score in [-1, 1] of each sentence passed in, same order.
    pub sentences: Vec<f64>,
}

/// A sentiment model built once and shared by every task.
#[derive(Debug)]
pub struct SentimentAnalyzer {
    kind: ModelKind,
}

impl SentimentAnalyzer {
    /// Builds the model (the lexicon tables are built once per process and shared).
    pub fn new(kind: ModelKind) -> Self {
        match kind {
            ModelKind::News => drop(news::NewsModel::new()),
            ModelKind::Vader => drop(vader::Vader::new()),
        }
        SentimentAnalyzer { kind }
    }

    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// Scores a document given its full text and its sentences (slices of `full_text`; other
    /// strings are accepted and scored on their own).
    pub fn analyze(&self, full_text: &str, sentences: &[&str]) -> Analysis {
        let ranges: Vec<Option<Range<usize>>> = sentences.iter().map(|s| range_in(full_text, s)).collect();
        let inside: Vec<Range<usize>> = ranges.iter().flatten().cloned().collect();
        match self.kind {
            ModelKind::Vader => {
                let engine = vader::Vader::new().engine();
                let mut raws = Vec::with_capacity(inside.len());
                let full = engine.score_ranges(full_text, &inside, true, &mut raws).unwrap_or_default();
                let mut raws = raws.into_iter();
                let sentences = ranges
                    .iter()
                    .zip(sentences)
                    .map(|(r, s)| match r {
                        Some(_) => raws.next().map_or(0.0, |raw| engine::py_round(raw.compound(), 4)),
                        None => engine.compound(s),
                    })
                    .collect();
                Analysis { document: engine::py_round(full.compound(), 4), sentences }
            }
            ModelKind::News => {
                let model = news::NewsModel::new();
                if sentences.is_empty() {
                    let doc = crate::enrich::text::Document::new(full_text, 0);
                    let (document, _) = model.score(full_text, &doc.sentences);
                    return Analysis { document, sentences: Vec::new() };
                }
                let (document, inside_scores) = model.score(full_text, &inside);
                if inside.len() == sentences.len() {
                    return Analysis { document, sentences: inside_scores };
                }
                let mut inside_scores = inside_scores.into_iter();
                let sentences: Vec<f64> = ranges
                    .iter()
                    .zip(sentences)
                    .map(|(r, s)| match r {
                        Some(_) => inside_scores.next().unwrap_or(0.0),
                        None => model.sentence_score(s),
                    })
                    .collect();
                Analysis { document: news::document_score(&sentences), sentences }
            }
        }
    }
}

/// The byte range of `part` in `whole` when `part` is a slice of it.
fn range_in(whole: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start..start + part.len())
}

/// Label thresholds: score ≥ 0.05 positive, ≤ -0.05 negative, else neutral (VADER's convention).
pub fn label_for(score: f64) -> &'static str {
    if score >= 0.05 {
        "positive"
    } else if score <= -0.05 {
        "negative"
    } else {
        "neutral"
    }
}
