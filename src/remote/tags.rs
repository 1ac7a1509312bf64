//! The remote tag classifier (`[taxonomy.remote]`): a multi-label (or single-label) sequence
//! classifier whose labels map to tags of the taxonomy. This module owns what its answers mean
//! and how they merge with the taxonomy's tags.
//!
//! - **Labels → tags.** `[taxonomy.remote.labels]` maps model labels (case-insensitive) to tag
//!   ids; a label counts when its probability is at least `threshold` (default 0.5). Labels not
//!   in the map are ignored (a classifier often knows more topics than are wanted); several
//!   labels may map to one tag (the highest probability counts). Every mapped tag id must exist
//!   in the taxonomy ([`check_labels`], at start-up and at each taxonomy reload): the record's
//!   tag `label` comes from the taxonomy, routes and dashboards know the taxonomy's ids, and a
//!   typo fails loudly instead of tagging nothing.
//! - **Merge** ([`merge`]). The model can add a tag or raise a tag's score, never remove or
//!   lower one: a tag both found keeps the taxonomy's evidence and per-tag sentiment and gets
//!   the higher score; a tag only the model found is added with its probability as `score`,
//!   `evidence: []`, `sentiment: null` (no evidence sentences to score) and
//!   `"source": "remote:<name>"`; taxonomy-only tags are unchanged. Tags stay strongest first.
//! - **Marking.** `enrichment.tags_source` is `"remote:<name>"` when the model's answer was
//!   merged, `"builtin"` when the record has the taxonomy's tags only because the model was not
//!   usable (timeout, error, breaker open, throttled, overloaded) or the article's language is
//!   not sent to it. Absent when no tag classifier is configured.
//!
//! The merge happens before routing and counting (see `pipeline::partition`), so `[[routes]]`
//! and `news_enricher_tags_total` see remote tags like any other.

use super::client::{Answer, CallError, ErrorKind};
use super::{Failure, Head, RemoteMetrics, RemoteModel, TagRemoteSettings, BUILTIN_SOURCE};
use crate::article::{EnrichedArticle, TagOut};
use crate::config::Settings;
use crate::enrich::taxonomy::Taxonomy;
use std::collections::HashMap;

/// What the tag classifier makes of an answer: the mapped tags at or above the threshold, as
/// (index into [`TagsHead::ids`], probability), one entry per tag.
#[derive(Debug)]
pub struct TagsHead {
    /// Model label (lower-cased) → index into `ids`.
    labels: HashMap<String, usize>,
    /// Id of each mapped tag. Their labels come from the taxonomy that tagged the article
    /// ([`RemoteModel::put`]), which a reload can change.
    ids: Vec<String>,
    threshold: f64,
}

impl TagsHead {
    /// Resolves the label map against the taxonomy: every mapped tag must exist in it.
    pub fn new(settings: &TagRemoteSettings, taxonomy: &Taxonomy) -> Result<Self, (String, String)> {
        let mut ids = Vec::<String>::new();
        let mut labels = HashMap::new();
        for (label, id) in &settings.labels {
            if !taxonomy.tags().any(|t| t.id == id) {
                return Err(unknown_tag(taxonomy, label, id));
            }
            let index = match ids.iter().position(|known| known == id) {
                Some(i) => i,
                None => {
                    ids.push(id.clone());
                    ids.len() - 1
                }
            };
            labels.insert(label.to_lowercase(), index);
        }
        Ok(TagsHead { labels, ids, threshold: settings.threshold() })
    }
}

fn unknown_tag(taxonomy: &Taxonomy, label: &str, id: &str) -> (String, String) {
    (
        format!("taxonomy.remote.labels.{label}"),
        format!("unknown tag {id:?} (the taxonomy has: {})", taxonomy.tag_list()),
    )
}

/// Checks that every tag id in `[taxonomy.remote.labels]` exists in the taxonomy (when the tag
/// classifier is configured and enabled), like `[[routes]]` tags. Returns the offending key and
/// message.
pub fn check_labels(settings: &Settings, taxonomy: &Taxonomy) -> Result<(), (String, String)> {
    match settings.taxonomy.remote.as_ref().filter(|r| r.enabled) {
        Some(remote) => TagsHead::new(remote, taxonomy).map(drop),
        None => Ok(()),
    }
}

impl Head for TagsHead {
    type Label = String;
    type Output = Vec<(usize, f64)>;
    const TASK: &'static str = "tags";
    const FALLBACK: &'static str = "the taxonomy's tags only";

    fn interpret(&self, i: usize, answer: Answer) -> Result<Self::Output, CallError> {
        let malformed = |message: String| CallError { kind: ErrorKind::Malformed, message, retry_after: None };
        let preds = match answer {
            Answer::Labels(preds) => preds,
            Answer::Score(_) => {
                return Err(malformed(format!("result {i}: a tag classifier answers with `labels`, not a `score`")))
            }
        };
        let mut found: Vec<(usize, f64)> = Vec::new();
        for (label, p) in preds {
            // Logits (TEI's raw_scores) or garbage would make the threshold meaningless.
            if !(0.0..=1.0).contains(&p) {
                return Err(malformed(format!("result {i}: label {label:?} has score {p}, not a probability")));
            }
            let Some(&tag) = self.labels.get(&label.to_lowercase()) else { continue };
            if p < self.threshold {
                continue;
            }
            match found.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, best)) => *best = best.max(p),
                None => found.push((tag, p)),
            }
        }
        Ok(found)
    }
}

/// Merges the model's tags into the taxonomy's (semantics in the module documentation).
/// `found` is (tag id, tag label, probability).
pub fn merge<'a>(tags: &mut Vec<TagOut>, found: impl IntoIterator<Item = (&'a str, &'a str, f64)>, source: &str) {
    let mut changed = false;
    for (id, label, p) in found {
        let p = crate::enrich::round4(p);
        match tags.iter_mut().find(|t| t.id == id) {
            Some(tag) => {
                if p > tag.score {
                    tag.score = p;
                    changed = true;
                }
            }
            None => {
                tags.push(TagOut {
                    id: id.to_owned(),
                    label: label.to_owned(),
                    score: p,
                    evidence: Vec::new(),
                    sentiment: None,
                    source: Some(source.to_owned()),
                });
                changed = true;
            }
        }
    }
    if changed {
        // Strongest first, as the taxonomy reports them; stable, so ties keep their order.
        tags.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
}

/// The remote tag classifier.
pub type RemoteTags = RemoteModel<TagsHead>;

impl RemoteModel<TagsHead> {
    /// Starts the classifier with metric families of its own.
    pub fn start(settings: &TagRemoteSettings, taxonomy: &Taxonomy) -> Result<Self, String> {
        Self::start_sharing(settings, taxonomy, &RemoteMetrics::new(&settings.name, TagsHead::TASK))
    }

    /// Starts the classifier reporting to the families of `metrics`.
    pub fn start_sharing(
        settings: &TagRemoteSettings,
        taxonomy: &Taxonomy,
        metrics: &RemoteMetrics,
    ) -> Result<Self, String> {
        let head = TagsHead::new(settings, taxonomy).map_err(|(key, message)| format!("{key}: {message}"))?;
        Self::start_with(settings, head, metrics.sharing(&settings.name, TagsHead::TASK))
    }

    /// The tags (id, probability) the model finds in `text`, at or above the threshold.
    pub async fn classify(&self, text: &str) -> Result<Vec<(String, f64)>, Failure> {
        let found = self.ask(text).await?;
        Ok(found.into_iter().map(|(tag, p)| (self.core.head.ids[tag].clone(), p)).collect())
    }

    /// Merges the model's tags into the article's, or marks it as having the taxonomy's only.
    /// `taxonomy` is the one that tagged the article, which gives the tags their labels. Takes
    /// at most `timeout_ms`; never fails.
    pub async fn apply(&self, article: &mut EnrichedArticle, taxonomy: &Taxonomy) {
        let outcome = self.ask_about(&article.raw, article.enrichment.language.as_deref()).await;
        self.put(article, outcome, taxonomy);
    }

    /// Puts an outcome of [`RemoteModel::ask_about`] in the record (`None`: not sent); the
    /// labels of the tags come from `taxonomy`, the one that tagged the article (so a record
    /// is labelled by the version it names, also across a reload).
    pub fn put(
        &self,
        article: &mut EnrichedArticle,
        outcome: Option<Result<Vec<(usize, f64)>, Failure>>,
        taxonomy: &Taxonomy,
    ) {
        match outcome {
            Some(Ok(found)) => {
                let ids = &self.core.head.ids;
                // Every mapped tag was checked to exist in the taxonomy at start and at each
                // reload; the id stands in for a label should one be missing all the same.
                let labelled: Vec<(&str, &str, f64)> = found
                    .iter()
                    .map(|&(t, p)| {
                        let id = ids[t].as_str();
                        (id, taxonomy.tags().find(|tag| tag.id == id).map_or(id, |tag| tag.label), p)
                    })
                    .collect();
                let found = labelled.into_iter();
                merge(&mut article.enrichment.tags, found, self.source());
                article.enrichment.tags_source = Some(self.source().to_owned());
            }
            Some(Err(_)) | None => article.enrichment.tags_source = Some(BUILTIN_SOURCE.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::taxonomy::Evidence;

    fn settings(labels: &[(&str, &str)]) -> TagRemoteSettings {
        TagRemoteSettings {
            url: "http://127.0.0.1:9/predict".into(),
            labels: labels.iter().map(|(l, t)| (l.to_string(), t.to_string())).collect(),
            ..TagRemoteSettings::default()
        }
    }

    fn labels(pairs: &[(&str, f64)]) -> Answer {
        Answer::Labels(pairs.iter().map(|(l, p)| (l.to_string(), *p)).collect())
    }

    #[test]
    fn labels_map_to_taxonomy_tags_above_the_threshold() {
        let taxonomy = Taxonomy::builtin();
        let head = TagsHead::new(
            &settings(&[
                ("Taiwan", "taiwan"),
                ("ROC", "taiwan"),
                ("Opioids", "fentanyl"),
                ("Trade", "trade_supply_chains"),
            ]),
            &taxonomy,
        )
        .unwrap();
        let found = head
            .interpret(0, labels(&[("taiwan", 0.7), ("roc", 0.9), ("OPIOIDS", 0.5), ("trade", 0.49), ("sports", 0.99)]))
            .unwrap();
        let named: Vec<(&str, f64)> = found.iter().map(|&(t, p)| (head.ids[t].as_str(), p)).collect();
        // Two labels of one tag: the higher counts; 0.5 is at the threshold; 0.49 is below it;
        // unmapped labels are ignored.
        assert_eq!(named, [("taiwan", 0.9), ("fentanyl", 0.5)]);
    }

    #[test]
    fn non_probabilities_and_direct_scores_are_malformed() {
        let head = TagsHead::new(&settings(&[("Taiwan", "taiwan")]), &Taxonomy::builtin()).unwrap();
        for answer in [labels(&[("other", 3.2)]), labels(&[("taiwan", f64::NAN)]), Answer::Score(0.5)] {
            assert_eq!(head.interpret(0, answer).unwrap_err().kind, ErrorKind::Malformed);
        }
        assert_eq!(head.interpret(0, labels(&[])).unwrap(), []);
    }

    #[test]
    fn unknown_tag_ids_are_rejected_with_their_key() {
        let (key, message) =
            TagsHead::new(&settings(&[("Tw", "taiwan"), ("Moon", "moon")]), &Taxonomy::builtin()).unwrap_err();
        assert_eq!(key, "taxonomy.remote.labels.Moon");
        assert!(message.starts_with("unknown tag \"moon\" (the taxonomy has: taiwan, fentanyl"), "{message}");
    }

    fn tag(id: &str, score: f64, evidence: usize) -> TagOut {
        TagOut {
            id: id.into(),
            label: id.to_uppercase(),
            score,
            evidence: (0..evidence)
                .map(|i| Evidence { term: format!("t{i}"), count: 1, first_offset: i, title_count: 0 })
                .collect(),
            sentiment: None,
            source: None,
        }
    }

    #[test]
    fn merge_adds_and_raises_but_never_removes_or_lowers() {
        let mut tags = vec![tag("a", 0.8, 2), tag("b", 0.6, 1), tag("c", 0.55, 1)];
        merge(&mut tags, [("b", "B", 0.9), ("c", "C", 0.3), ("d", "D", 0.700_04)], "remote:m");
        let view: Vec<(&str, f64, usize, Option<&str>)> =
            tags.iter().map(|t| (t.id.as_str(), t.score, t.evidence.len(), t.source.as_deref())).collect();
        assert_eq!(
            view,
            [
                ("b", 0.9, 1, None),             // both: the taxonomy's evidence, the higher score
                ("a", 0.8, 2, None),             // taxonomy only: unchanged
                ("d", 0.7, 0, Some("remote:m")), // model only: added, rounded, marked
                ("c", 0.55, 1, None),            // the model's lower score does not lower it
            ]
        );
        assert_eq!(tags[2].label, "D");
        assert!(tags[2].sentiment.is_none());
    }
}
