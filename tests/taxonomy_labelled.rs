//! The built-in taxonomy against labelled sets of short articles (`tests/data/tagging/`, see
//! its README): precision and recall over all tags and per tag, on the development half, the
//! held-out half and a review's adversarial articles, printed with `--nocapture`.
//!
//! The floors are the figures of taxonomy 2026.12-4 less a margin: a taxonomy edit that costs
//! more than a few tags on either half fails here, and one that gains should raise them.

use news_enricher::enrich::taxonomy::Taxonomy;
use news_enricher::enrich::text::{combine, Document};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Deserialize)]
struct Labelled {
    id: String,
    title: String,
    body: String,
    gold: BTreeSet<String>,
}

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    correct: usize,
    false_tags: usize,
    missed: usize,
}

impl Counts {
    fn precision(&self) -> f64 {
        self.correct as f64 / (self.correct + self.false_tags).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.correct as f64 / (self.correct + self.missed).max(1) as f64
    }
}

/// Tags every article of `half` and counts correct, false and missed tags, overall and per tag.
fn evaluate(half: &str) -> (Counts, BTreeMap<String, Counts>) {
    let path = format!("{}/tests/data/tagging/{half}.jsonl", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let taxonomy = Taxonomy::builtin();
    let (mut all, mut per_tag) = (Counts::default(), BTreeMap::<String, Counts>::new());
    let mut articles = 0;
    for line in text.lines() {
        let a: Labelled = serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}: {e}"));
        articles += 1;
        let (full, title_len) = combine(&a.title, &a.body);
        let got: BTreeSet<String> = taxonomy.tag(&Document::new(&full, title_len)).into_iter().map(|t| t.id).collect();
        for id in got.union(&a.gold) {
            for c in [&mut all, per_tag.entry(id.clone()).or_default()] {
                match (got.contains(id), a.gold.contains(id)) {
                    (true, true) => c.correct += 1,
                    (true, false) => c.false_tags += 1,
                    _ => c.missed += 1,
                }
            }
            if half == "dev" && got.contains(id) != a.gold.contains(id) {
                let kind = if got.contains(id) { "false" } else { "missed" };
                println!("  dev {kind:6} {:<24} {} {}", id, a.id, a.title);
            }
        }
    }
    assert!(articles >= 100, "{path}: only {articles} articles");
    println!(
        "{half}: {articles} articles, {} correct tags, {} false, {} missed: precision {:.3}, recall {:.3}",
        all.correct,
        all.false_tags,
        all.missed,
        all.precision(),
        all.recall()
    );
    (all, per_tag)
}

#[test]
fn tags_of_the_labelled_set_keep_their_precision_and_recall() {
    for (half, min_precision, min_recall) in [("dev", 0.88, 0.74), ("heldout", 0.92, 0.83), ("review", 0.85, 0.88)] {
        let (all, per_tag) = evaluate(half);
        if half == "dev" {
            for (id, c) in &per_tag {
                println!("  {id:<24} precision {:.2} recall {:.2} {c:?}", c.precision(), c.recall());
            }
        }
        assert!(
            all.precision() >= min_precision && all.recall() >= min_recall,
            "{half}: precision {:.3} (floor {min_precision}), recall {:.3} (floor {min_recall})",
            all.precision(),
            all.recall()
        );
    }
}
