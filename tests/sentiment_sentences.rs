//! The news model against labelled news sentences (`tests/data/sentences/`, see its README):
//! how often its label agrees, and how often it gives the opposite sign, on the development half
//! and the held-out half (printed with `--nocapture`, with the development half's misreads).
//!
//! The floors are the figures of this session's model less a margin: a rule change that costs
//! more than a few sentences on either half fails here, and one that gains should raise them.

use news_enricher::article::{RawArticle, DEFAULT_MAX_MESSAGE_BYTES};
use news_enricher::config::Settings;
use news_enricher::enrich::Enricher;

struct Outcome {
    sentences: usize,
    agree: usize,
    polar: usize,
    opposite: usize,
}

fn evaluate(enricher: &Enricher, half: &str) -> Outcome {
    let path = format!("{}/tests/data/sentences/{half}.tsv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut o = Outcome { sentences: 0, agree: 0, polar: 0, opposite: 0 };
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [id, want, _strength, sentence, note] = fields[..] else { panic!("{path}: bad line {line:?}") };
        let article = serde_json::json!({"id": id, "title": "", "body": sentence});
        let raw = RawArticle::decode(article.to_string().as_bytes(), None, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
        let record: serde_json::Value = serde_json::from_slice(&enricher.enrich(raw).to_json()).unwrap();
        let got = match record["enrichment"]["sentiment"]["label"].as_str() {
            Some("positive") => "pos",
            Some("negative") => "neg",
            Some("neutral") => "neu",
            other => panic!("{id}: label {other:?}"),
        };
        o.sentences += 1;
        o.polar += usize::from(want != "neu");
        if got == want {
            o.agree += 1;
        } else {
            o.opposite += usize::from(want != "neu" && got != "neu");
            if half == "dev" {
                println!("  dev {want}->{got} {sentence} ({note})");
            }
        }
    }
    assert!(o.sentences >= 400, "{path}: only {} sentences", o.sentences);
    println!(
        "{half}: {} sentences, label agrees on {} ({:.1} %), opposite sign on {} of {} polar",
        o.sentences,
        o.agree,
        100.0 * o.agree as f64 / o.sentences as f64,
        o.opposite,
        o.polar
    );
    o
}

#[test]
fn the_news_model_keeps_its_agreement_with_labelled_sentences() {
    let enricher = Enricher::from_config(&Settings::default()).unwrap();
    for (half, min_agree, max_opposite) in [("dev", 0.60, 0.22), ("heldout", 0.55, 0.25)] {
        let o = evaluate(&enricher, half);
        let (agree, opposite) = (o.agree as f64 / o.sentences as f64, o.opposite as f64 / o.polar as f64);
        assert!(
            agree >= min_agree && opposite <= max_opposite,
            "{half}: agreement {agree:.3} (floor {min_agree}), opposite signs {opposite:.3} (ceiling {max_opposite})"
        );
    }
}
