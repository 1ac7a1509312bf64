//! The remote sentiment model (`[sentiment.remote]`): turns a classifier's label probabilities
//! into the article-level sentiment score with the label map ([`LabelMap`]), and puts it in the
//! record — or marks the built-in model's result as the fallback.
//!
//! A label distribution becomes a score as Σ pᵢ·valence(labelᵢ) / Σ pᵢ over the labels the map
//! knows (case-insensitive), so `{positive: 0.9, neutral: 0.08, negative: 0.02}` with the default
//! map scores 0.88. An answer with none of the mapped labels is an error of the request
//! (`unmapped_label`): the map or the model is wrong, and the operator should hear of it.
//! Per-tag sentiment stays with the built-in model (it scores the sentences that carry each
//! tag's evidence, which one document-level call cannot).

use super::client::{Answer, CallError, ErrorKind};
use super::{Failure, Head, RemoteMetrics, RemoteModel, SentimentRemoteSettings, BUILTIN_SOURCE};
use crate::article::{EnrichedArticle, SentimentOut};
use std::collections::HashMap;

/// Label → valence, keys lower-cased.
#[derive(Debug, Clone)]
pub struct LabelMap(HashMap<String, f64>);

impl LabelMap {
    pub fn new<'a>(labels: impl IntoIterator<Item = (&'a String, &'a f64)>) -> Self {
        LabelMap(labels.into_iter().map(|(k, v)| (k.to_lowercase(), *v)).collect())
    }

    /// The probability-weighted mean valence of the mapped labels; `None` when no label is
    /// mapped (or all mapped ones have probability 0).
    pub fn score<'a>(&self, predictions: impl IntoIterator<Item = (&'a str, f64)>) -> Option<f64> {
        let (mut weighted, mut total) = (0.0, 0.0);
        for (label, p) in predictions {
            if let Some(v) = self.0.get(&label.to_lowercase()) {
                if p.is_finite() && p > 0.0 {
                    weighted += p * v;
                    total += p;
                }
            }
        }
        (total > 0.0).then(|| (weighted / total).clamp(-1.0, 1.0))
    }
}

/// What the sentiment model makes of an answer: a score in [-1, 1].
#[derive(Debug)]
pub struct SentimentHead {
    labels: LabelMap,
}

impl Head for SentimentHead {
    type Label = f64;
    type Output = f64;
    const TASK: &'static str = "sentiment";
    const FALLBACK: &'static str = "the built-in sentiment model";

    fn interpret(&self, i: usize, answer: Answer) -> Result<f64, CallError> {
        match answer {
            Answer::Score(score) => Ok(score),
            Answer::Labels(preds) => self.labels.score(preds.iter().map(|(l, p)| (l.as_str(), *p))).ok_or_else(|| {
                let got: Vec<&str> = preds.iter().map(|(l, _)| l.as_str()).collect();
                CallError {
                    kind: ErrorKind::UnmappedLabel,
                    message: format!("result {i}: none of the labels {got:?} is in sentiment.remote.labels"),
                    retry_after: None,
                }
            }),
        }
    }
}

/// The remote sentiment model.
pub type RemoteSentiment = RemoteModel<SentimentHead>;

impl RemoteModel<SentimentHead> {
    /// Starts the model with metric families of its own (see [`super::Remote`] for a worker's
    /// pair of models sharing them).
    pub fn start(settings: &SentimentRemoteSettings) -> Result<Self, String> {
        Self::start_sharing(settings, &RemoteMetrics::new(&settings.name, SentimentHead::TASK))
    }

    /// Starts the model reporting to the families of `metrics`.
    pub fn start_sharing(settings: &SentimentRemoteSettings, metrics: &RemoteMetrics) -> Result<Self, String> {
        let head = SentimentHead { labels: LabelMap::new(&settings.labels) };
        Self::start_with(settings, head, metrics.sharing(&settings.name, SentimentHead::TASK))
    }

    /// The remote model's score in [-1, 1] for `text` (cut to `max_chars`), or why there is none.
    pub async fn score(&self, text: &str) -> Result<f64, Failure> {
        self.ask(text).await
    }

    /// Sets the article-level sentiment from the remote model, or marks the built-in result as
    /// the fallback. Takes at most `timeout_ms`; never fails.
    pub async fn apply(&self, article: &mut EnrichedArticle) {
        let outcome = self.ask_about(&article.raw, article.enrichment.language.as_deref()).await;
        self.put(article, outcome);
    }

    /// Puts an outcome of [`RemoteModel::ask_about`] in the record: the remote score, marked
    /// `remote:<name>`, or the built-in result kept, marked `builtin` (the model failed, or the
    /// article's language is not sent to it: `None`).
    pub fn put(&self, article: &mut EnrichedArticle, outcome: Option<Result<f64, Failure>>) {
        match outcome {
            Some(Ok(score)) => {
                article.enrichment.sentiment =
                    SentimentOut { source: Some(self.source().to_owned()), ..SentimentOut::scored(score) };
            }
            Some(Err(_)) | None => article.enrichment.sentiment.source = Some(BUILTIN_SOURCE.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> SentimentHead {
        let mut labels = SentimentRemoteSettings::default().labels;
        labels.insert("LABEL_X".into(), 0.5);
        SentimentHead { labels: LabelMap::new(&labels) }
    }

    fn labels(pairs: &[(&str, f64)]) -> Answer {
        Answer::Labels(pairs.iter().map(|(l, p)| (l.to_string(), *p)).collect())
    }

    #[test]
    fn label_map_is_a_weighted_mean_and_case_insensitive() {
        let m = head().labels;
        let s = m.score([("POSITIVE", 0.9), ("Neutral", 0.08), ("negative", 0.02)]).unwrap();
        assert!((s - 0.88).abs() < 1e-9, "{s}");
        // Unknown labels are ignored; the rest renormalised.
        let s = m.score([("positive", 0.5), ("sarcasm", 0.5)]).unwrap();
        assert!((s - 1.0).abs() < 1e-9);
        assert_eq!(m.score([("joy", 1.0)]), None);
        assert_eq!(m.score([("positive", f64::NAN)]), None);
    }

    #[test]
    fn answers_become_scores_or_typed_errors() {
        let h = head();
        assert_eq!(h.interpret(0, labels(&[("negative", 0.75), ("neutral", 0.25)])).unwrap(), -0.75);
        assert_eq!(h.interpret(0, labels(&[("label_x", 1.0)])).unwrap(), 0.5);
        assert_eq!(h.interpret(0, Answer::Score(-0.42)).unwrap(), -0.42);
        let e = h.interpret(3, labels(&[("joy", 1.0)])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnmappedLabel);
        assert!(e.message.contains("result 3") && e.message.contains("joy"), "{e}");
    }
}
