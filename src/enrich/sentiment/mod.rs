//! Sentiment models. STUB: owned by the sentiment work (VADER port + news model); the public API
//! below is what the rest of the crate relies on.

pub mod eval;
pub mod vader;

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
    pub fn new(kind: ModelKind) -> Self {
        SentimentAnalyzer { kind }
    }

    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// Scores a document given its full text and its sentences (slices of `full_text`).
    pub fn analyze(&self, full_text: &str, sentences: &[&str]) -> Analysis {
        let v = vader::Vader::new();
        Analysis { document: v.compound(full_text), sentences: sentences.iter().map(|s| v.compound(s)).collect() }
    }
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
