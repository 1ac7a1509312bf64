//! Whole enrichment against the parse+serialize floor, robust to a noisy machine: the floor and
//! the whole enrichment (news and vader models) run interleaved, one pass over the corpus each
//! per round, and the figures are the fastest and the median pass of each. Neighbours on a
//! shared host slow passes down but never speed them up, so the fastest pass is the cost of the
//! code itself; interleaving keeps the modes under the same conditions. Criterion's
//! `cargo bench --bench enrich` gives the per-stage figures; this gives the ratio the targets
//! are stated in. Run: `cargo bench --bench enrich_ratio [-- --rounds N]`.

#[allow(dead_code)] // each bench binary uses part of the shared helpers
mod support;

use news_enricher::article::{RawArticle, DEFAULT_MAX_MESSAGE_BYTES};
use news_enricher::enrich::sentiment::{ModelKind, SentimentAnalyzer};
use news_enricher::enrich::taxonomy::Taxonomy;
use news_enricher::enrich::Enricher;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    if support::listing() {
        return;
    }
    let rounds: usize = support::arg_or("rounds", 15);
    // One corpus article has neither title nor body: it would be dead-lettered, not enriched.
    let lines: Vec<String> = support::corpus(3824)
        .into_iter()
        .map(|(_, line)| line)
        .filter(|l| RawArticle::decode(l.as_bytes(), None, DEFAULT_MAX_MESSAGE_BYTES).is_ok())
        .collect();
    let news = Enricher::with_parts(Taxonomy::builtin(), SentimentAnalyzer::new(ModelKind::News));
    let vader = Enricher::with_parts(Taxonomy::builtin(), SentimentAnalyzer::new(ModelKind::Vader));

    let floor = || {
        for l in &lines {
            let v: serde_json::Value = serde_json::from_slice(l.as_bytes()).unwrap();
            black_box(serde_json::to_vec(&v).unwrap());
        }
    };
    let whole = |enricher: &Enricher| {
        for l in &lines {
            let raw = RawArticle::decode(l.as_bytes(), None, DEFAULT_MAX_MESSAGE_BYTES).unwrap();
            black_box(enricher.enrich(raw).to_json());
        }
    };
    let per_article_us = |run: &dyn Fn()| {
        let t = Instant::now();
        run();
        t.elapsed().as_secs_f64() * 1e6 / lines.len() as f64
    };
    // One warm-up pass of each: tables, lazily built models, allocator.
    floor();
    whole(&news);
    whole(&vader);
    let (mut f, mut n, mut v) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        f.push(per_article_us(&floor));
        n.push(per_article_us(&|| whole(&news)));
        v.push(per_article_us(&|| whole(&vader)));
    }
    let (f, n, v) = (summary(f), summary(n), summary(v));
    println!("{} articles, {rounds} interleaved rounds, one thread", lines.len());
    println!("{:<34} {:>12} {:>12} {:>14} {:>14}", "", "fastest µs", "median µs", "articles/s", "× floor");
    for (name, (fastest, median)) in
        [("floor: JSON parse + serialize", f), ("whole enrichment, news", n), ("whole enrichment, vader", v)]
    {
        println!(
            "{name:<34} {fastest:>12.1} {median:>12.1} {:>14.0} {:>7.1} ({:.1})",
            1e6 / fastest,
            fastest / f.0,
            median / f.1
        );
    }
    println!("(articles/s from the fastest pass; × floor: fastest/fastest, in brackets median/median)");
}

/// (fastest, median) of the per-article times of the passes.
fn summary(mut passes: Vec<f64>) -> (f64, f64) {
    passes.sort_by(f64::total_cmp);
    (passes[0], passes[passes.len() / 2])
}
