//! Property tests: no input, however malformed, panics the decoder or the enricher.

use news_enricher::article::{RawArticle, DEFAULT_MAX_MESSAGE_BYTES};
use news_enricher::enrich::sentiment::{ModelKind, SentimentAnalyzer};
use news_enricher::enrich::taxonomy::Taxonomy;
use news_enricher::enrich::Enricher;
use proptest::prelude::*;
use std::sync::LazyLock;

static NEWS: LazyLock<Enricher> =
    LazyLock::new(|| Enricher::with_parts(Taxonomy::builtin(), SentimentAnalyzer::new(ModelKind::News)));
static VADER: LazyLock<Enricher> =
    LazyLock::new(|| Enricher::with_parts(Taxonomy::builtin(), SentimentAnalyzer::new(ModelKind::Vader)));

fn enrich_all(title: &str, body: &str) {
    let raw = serde_json::json!({"id": "p", "title": title, "body": body}).to_string();
    if let Ok(article) = RawArticle::decode(raw.as_bytes(), None, DEFAULT_MAX_MESSAGE_BYTES) {
        for e in [&*NEWS, &*VADER] {
            let out = e.enrich(article.clone());
            let json: serde_json::Value = serde_json::from_slice(&out.to_json()).unwrap();
            let s = &json["enrichment"]["sentiment"]["score"];
            assert!(s.is_null() || s.as_f64().unwrap().abs() <= 1.0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..2048), key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16))) {
        let _ = RawArticle::decode(&bytes, key.as_deref(), 1024);
    }

    #[test]
    fn arbitrary_strings_never_panic_the_enricher(title in ".{0,80}", body in ".{0,1500}") {
        enrich_all(&title, &body);
    }

    #[test]
    fn newsy_text_with_punctuation_and_quotes_never_panics(
        words in proptest::collection::vec(prop_oneof![
            Just("Taiwan"), Just("fentanyl"), Just("military-to-military"), Just("not"), Just("never"),
            Just("GREAT"), Just("but"), Just("!!!"), Just("?"), Just("“quoted”"), Just("it’s"), Just(":)"),
            Just("kind of"), Just("no"), Just("."), Just("\n"), Just("U.S."), Just("Mr."), Just("😀"), Just("é"),
        ], 0..300)
    ) {
        let body = words.join(" ");
        enrich_all("", &body);
        enrich_all(&body, "");
    }

    #[test]
    fn arbitrary_json_objects_decode_or_fail_cleanly(fields in proptest::collection::btree_map("[a-z_]{1,8}", prop_oneof![
        Just(serde_json::Value::Null), any::<bool>().prop_map(serde_json::Value::from), any::<i64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from), Just(serde_json::json!([1, "a"])), Just(serde_json::json!({"x": 1})),
    ], 0..8)) {
        let obj: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        let bytes = serde_json::Value::Object(obj).to_string();
        if let Ok(article) = RawArticle::decode(bytes.as_bytes(), Some(b"key"), DEFAULT_MAX_MESSAGE_BYTES) {
            let _ = NEWS.enrich(article).to_json();
        }
    }
}
