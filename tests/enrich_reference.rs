//! The enrichment engine end to end on the reference article (`seed/blinken_xi_beijing.txt`) and
//! on small hand-written cases: tags with evidence, per-tag sentiment, the language rule, the
//! `vader` model's exactness, and the output record shape.

mod common;

use news_enricher::article::{RawArticle, DEFAULT_MAX_MESSAGE_BYTES};
use news_enricher::config::Settings;
use news_enricher::enrich::sentiment::{vader::Vader, ModelKind};
use news_enricher::enrich::Enricher;

/// The reference article as a raw article: line 1 is the section, line 2 the headline, the rest
/// the body.
fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(common::data_dir().join("seed/blinken_xi_beijing.txt")).unwrap();
    let mut lines = text.lines();
    let section = lines.next().unwrap();
    let title = lines.next().unwrap();
    let body: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    serde_json::json!({"id": "ref-1", "section": section, "title": title, "body": body.join("\n")})
}

fn enricher(model: ModelKind) -> Enricher {
    let mut settings = Settings::default();
    settings.sentiment.model = model;
    Enricher::from_config(&settings).unwrap()
}

fn enrich(e: &Enricher, v: &serde_json::Value) -> serde_json::Value {
    let raw = RawArticle::decode(v.to_string().as_bytes(), None, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
    serde_json::from_slice(&e.enrich(raw).to_json()).unwrap()
}

#[test]
fn reference_article_gets_the_required_tags_with_evidence_and_sentiment() {
    let out = enrich(&enricher(ModelKind::News), &reference());
    let e = &out["enrichment"];
    let tags: Vec<&str> = e["tags"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    for required in ["taiwan", "fentanyl", "military_communications"] {
        assert!(tags.contains(&required), "missing {required} in {tags:?}");
    }
    let tag = |id: &str| e["tags"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    let terms = |id: &str| -> Vec<String> {
        tag(id)["evidence"].as_array().unwrap().iter().map(|x| x["term"].as_str().unwrap().to_lowercase()).collect()
    };
    assert!(terms("taiwan").iter().any(|t| t == "taiwan"), "{:?}", terms("taiwan"));
    assert!(terms("fentanyl").iter().any(|t| t.contains("fentanyl")), "{:?}", terms("fentanyl"));
    assert!(
        terms("military_communications").iter().any(|t| t.contains("military-to-military")),
        "{:?}",
        terms("military_communications")
    );
    // Evidence offsets point at the term in title + "\n" + body.
    let v = reference();
    let full = format!("{}\n{}", v["title"].as_str().unwrap(), v["body"].as_str().unwrap());
    for t in e["tags"].as_array().unwrap() {
        for ev in t["evidence"].as_array().unwrap() {
            let at = ev["first_offset"].as_u64().unwrap() as usize;
            let term = ev["term"].as_str().unwrap().to_lowercase();
            let found = full[at..].to_lowercase();
            let first_word = term.split([' ', '-']).next().unwrap();
            assert!(
                found.starts_with(first_word),
                "{} evidence {term:?} at {at}: {:?}",
                t["id"],
                &full[at..(at + 30).min(full.len())]
            );
        }
        let score = t["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
    }
    // Per-tag sentiment: the sentences about the stalled military channels are not positive
    // ("have not moved forward", "a major concern"); fentanyl comes with the opioid crisis.
    assert!(
        tag("military_communications")["sentiment"]["score"].as_f64().unwrap() < 0.05,
        "{}",
        tag("military_communications")
    );
    assert!(tag("fentanyl")["sentiment"]["score"].as_f64().unwrap() < 0.05, "{}", tag("fentanyl"));
    // The news model does not saturate on long text the way whole-text VADER does (+0.48).
    let score = e["sentiment"]["score"].as_f64().unwrap();
    assert!(score.abs() < 0.4, "document score {score}");
    assert_eq!(e["sentiment"]["model"], "news");
    assert_eq!(e["language"], "en");
    assert!(e["word_count"].as_u64().unwrap() > 600);
    assert_eq!(e["fingerprint"].as_str().unwrap().len(), 16);
    assert_eq!(e["schema_version"], 1);
    assert_eq!(e["enricher"]["version"], env!("CARGO_PKG_VERSION"));
    // Unknown input fields are preserved.
    assert_eq!(out["section"], "Politics");
}

#[test]
fn vader_model_is_exactly_vader_on_title_and_body() {
    let e = enricher(ModelKind::Vader);
    let v = reference();
    let out = enrich(&e, &v);
    let full = format!("{}\n{}", v["title"].as_str().unwrap(), v["body"].as_str().unwrap());
    let expected = Vader::new().compound(&full);
    let got = out["enrichment"]["sentiment"]["score"].as_f64().unwrap();
    assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
    assert!(got > 0.4, "whole-text VADER saturates positive on the reference article: {got}");

    let single = serde_json::json!({"id": "s", "body": "The talks were a disaster, and nobody is happy."});
    let got = enrich(&e, &single)["enrichment"]["sentiment"]["score"].as_f64().unwrap();
    let expected = Vader::new().compound("The talks were a disaster, and nobody is happy.");
    assert!((got - expected).abs() < 1e-4);
}

#[test]
fn other_languages_get_tags_but_no_english_sentiment() {
    let e = enricher(ModelKind::News);
    let german = serde_json::json!({"id": "de", "title": "Taiwan: Regierung in Taipeh kritisiert Manöver",
        "body": "Die Regierung in Taipeh hat die jüngsten Militärmanöver Chinas rund um Taiwan scharf kritisiert. Taiwan sieht sich bedroht. Peking betrachtet Taiwan als Teil seines Territoriums."});
    let out = enrich(&e, &german);
    let s = &out["enrichment"]["sentiment"];
    assert_eq!(out["enrichment"]["language"], "de");
    assert_eq!(s["label"], "unsupported_language");
    assert!(s["score"].is_null());
    let tags = out["enrichment"]["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["id"] == "taiwan"), "tags still apply: {tags:?}");
    assert!(tags.iter().all(|t| t["sentiment"].is_null()));

    // A declared language wins over detection.
    let declared =
        serde_json::json!({"id": "fr", "language": "fr-FR", "body": "This text is English but declared French."});
    assert_eq!(enrich(&e, &declared)["enrichment"]["language"], "fr");
    // Codes that name no language ("undetermined") leave it to detection; a three-letter code
    // is given as its two-letter one.
    let undetermined =
        serde_json::json!({"id": "und", "language": "und", "body": "The talks went well, officials said on Monday."});
    let out = enrich(&e, &undetermined);
    assert_eq!(
        (&out["enrichment"]["language"], &out["enrichment"]["sentiment"]["label"]),
        (&"en".into(), &"positive".into())
    );
    let japanese = serde_json::json!({"id": "ja", "language": "jpn", "body": "The talks went well."});
    assert_eq!(enrich(&e, &japanese)["enrichment"]["language"], "ja");

    // A headline of ten Chinese characters is short, but plainly not English: no English
    // sentiment (it was scored as English and came out a meaningless neutral).
    let short = serde_json::json!({"id": "zh", "title": "台湾地震造成重大伤亡"});
    let out = enrich(&e, &short);
    assert_eq!(out["enrichment"]["language"], "zh");
    assert_eq!(out["enrichment"]["sentiment"]["label"], "unsupported_language");
}

#[test]
fn labels_follow_the_documented_thresholds() {
    let e = enricher(ModelKind::News);
    for (text, label) in [
        ("The rescue was a wonderful success and families celebrated with joy.", "positive"),
        ("The attack killed dozens and left the city in terror and grief.", "negative"),
        ("The committee meets on Tuesday at the town hall.", "neutral"),
    ] {
        let out = enrich(&e, &serde_json::json!({"id": "x", "body": text}));
        let s = &out["enrichment"]["sentiment"];
        assert_eq!(s["label"], label, "{text}: {s}");
        let score = s["score"].as_f64().unwrap();
        match label {
            "positive" => assert!(score >= 0.05),
            "negative" => assert!(score <= -0.05),
            _ => assert!(score.abs() < 0.05),
        }
    }
}
