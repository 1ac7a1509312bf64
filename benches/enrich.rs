//! Enrichment throughput over the real corpus (`../shared/data/news/news_articles_2017.jsonl`,
//! 3,824 articles, mean 3.3 KB), stage by stage and whole, next to the floor every record pays
//! anyway: JSON parse + serialize. Run: `cargo bench --bench enrich`. Figures and method are in
//! BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use news_enricher::article::{RawArticle, DEFAULT_MAX_MESSAGE_BYTES};
use news_enricher::enrich::sentiment::{ModelKind, SentimentAnalyzer};
use news_enricher::enrich::taxonomy::Taxonomy;
use news_enricher::enrich::text::{combine, Document};
use news_enricher::enrich::{fingerprint, language, Enricher};
use std::hint::black_box;
use std::path::PathBuf;

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::env::var_os("NEWS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let path = dir.join("news/news_articles_2017.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read {} ({e}): set NEWS_DATA_DIR to the shared/data folder", path.display())
    });
    // One corpus article has neither title nor body: it would be dead-lettered, not enriched.
    text.lines()
        .map(|l| l.as_bytes().to_vec())
        .filter(|l| RawArticle::decode(l, None, DEFAULT_MAX_MESSAGE_BYTES).is_ok())
        .collect()
}

fn texts(lines: &[Vec<u8>]) -> Vec<(String, usize)> {
    lines
        .iter()
        .map(|l| {
            let raw = RawArticle::decode(l, None, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
            combine(raw.title().unwrap_or(""), raw.body().unwrap_or(""))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = corpus();
    let texts = texts(&lines);
    let docs: Vec<Document<'_>> = texts.iter().map(|(t, n)| Document::new(t, *n)).collect();
    let taxonomy = Taxonomy::builtin();
    let news = SentimentAnalyzer::new(ModelKind::News);
    let vader = SentimentAnalyzer::new(ModelKind::Vader);
    let enricher = Enricher::with_parts(Taxonomy::builtin(), SentimentAnalyzer::new(ModelKind::News));
    let enricher_vader = Enricher::with_parts(Taxonomy::builtin(), SentimentAnalyzer::new(ModelKind::Vader));

    let mut g = c.benchmark_group("corpus");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.sample_size(10);

    g.bench_function("floor_json_parse_serialize", |b| {
        b.iter(|| {
            for l in &lines {
                let v: serde_json::Value = serde_json::from_slice(l).unwrap();
                black_box(serde_json::to_vec(&v).unwrap());
            }
        })
    });
    g.bench_function("decode_validate", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(RawArticle::decode(l, None, DEFAULT_MAX_MESSAGE_BYTES).unwrap());
            }
        })
    });
    g.bench_function("segment_sentences", |b| {
        b.iter(|| {
            for (t, n) in &texts {
                black_box(Document::new(t, *n));
            }
        })
    });
    g.bench_function("taxonomy", |b| {
        b.iter(|| {
            for d in &docs {
                black_box(taxonomy.tag(d));
            }
        })
    });
    for (name, model) in [("sentiment_news", &news), ("sentiment_vader", &vader)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                for d in &docs {
                    let sentences: Vec<&str> = d.sentences.iter().map(|r| &d.full[r.clone()]).collect();
                    black_box(model.analyze(d.full, &sentences));
                }
            })
        });
    }
    g.bench_function("language", |b| {
        b.iter(|| {
            for (t, _) in &texts {
                black_box(language::detect(t));
            }
        })
    });
    g.bench_function("fingerprint", |b| {
        b.iter(|| {
            for (t, _) in &texts {
                black_box(fingerprint::simhash(t));
            }
        })
    });
    for (name, e) in [("whole_enrich_news", &enricher), ("whole_enrich_vader", &enricher_vader)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                for l in &lines {
                    let raw = RawArticle::decode(l, None, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
                    black_box(e.enrich(raw).to_json());
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
