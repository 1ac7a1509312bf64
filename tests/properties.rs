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
    fn arbitrary_json_objects_decode_or_fail_cleanly_and_pass_through(fields in proptest::collection::vec((
        prop_oneof![Just("id".to_owned()), Just("title".to_owned()), Just("body".to_owned()), Just("text".to_owned()), Just("enrichment".to_owned()), "[a-z_]{1,8}"],
        prop_oneof![
            Just(serde_json::Value::Null), any::<bool>().prop_map(serde_json::Value::from), any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            ".{0,40}".prop_map(serde_json::Value::from), Just(serde_json::json!([1, "a", {"k": [null]}])), Just(serde_json::json!({"x": 1})),
        ],
    ), 0..8)) {
        // Known fields get a string or null, so that a message fails only for lack of text and
        // most cases reach the pass-through check.
        let fields: Vec<(String, serde_json::Value)> = fields
            .into_iter()
            .map(|(k, v)| {
                let known = ["id", "title", "body", "content", "text", "url", "source", "language"].contains(&k.as_str());
                if known && !(v.is_string() || v.is_null()) { (k, serde_json::Value::from(v.to_string())) } else { (k, v) }
            })
            .collect();
        // Keys may repeat in the message. The expected record comes from serde_json's own map
        // of the message: a repeated key there keeps its first place and its last value, the
        // rule the decoder follows too; and its numbers are parsed like the output's.
        let members: Vec<String> =
            fields.iter().map(|(k, v)| format!("{}:{v}", serde_json::Value::from(k.as_str()))).collect();
        let bytes = format!("{{{}}}", members.join(","));
        let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&bytes).unwrap();
        let decoded = RawArticle::decode(bytes.as_bytes(), Some(b"key"), DEFAULT_MAX_MESSAGE_BYTES);
        if let Err(e) = &decoded {
            // A blank `id` is refused (not replaced by the key); otherwise only lack of text can fail.
            let blank_id = obj.get("id").and_then(serde_json::Value::as_str).is_some_and(|id| id.trim().is_empty());
            prop_assert_eq!(e.class(), if blank_id { "missing_id" } else { "no_text" }, "{}", e);
        }
        if let Ok(article) = decoded {
            let record = NEWS.enrich(article);
            let output: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&record.to_json()).unwrap();
            let mut expected = serde_json::Map::new();
            if obj.get("id").is_none_or(serde_json::Value::is_null) {
                expected.insert("id".into(), "key".into());
            }
            for (k, v) in obj {
                if k != "enrichment" && !(k == "id" && v.is_null()) {
                    expected.insert(k, v);
                }
            }
            expected.insert("enrichment".into(), serde_json::to_value(&record.enrichment).unwrap());
            prop_assert_eq!(output.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
            prop_assert_eq!(output, expected);
        }
    }
}
