//! Accuracy of both sentiment models against the human ratings of the four ground-truth files
//! (Hutto & Gilbert 2014, in the shared data; see `../shared/data/README.md`): Pearson r between
//! the document score and the mean rating, and support-weighted 3-class F1 (labels at ±0.05 on the
//! score and on rating/4).
//!
//! Asserts that the news model reaches r ≥ 0.55 on the NYT editorial snippets and stays within
//! 0.02 of VADER's r (computed here with the Rust port) on tweets, movie and Amazon reviews.
//!
//! Print the table (for BENCHMARKS.md):
//! `cargo test --release --test sentiment_eval -- --nocapture`

use news_enricher::enrich::sentiment::eval::{load_ground_truth, pearson, weighted_f1, Snippet, GROUND_TRUTH_FILES};
use news_enricher::enrich::sentiment::{ModelKind, SentimentAnalyzer};
use news_enricher::enrich::text::Document;

const NYT: &str = "nyt_editorial_dev.tsv";
const NYT_MIN_R: f64 = 0.55;
const MAX_R_LOSS: f64 = 0.02;

/// Document scores of `model` for each snippet, sentences split as the pipeline splits them.
fn scores(analyzer: &SentimentAnalyzer, snippets: &[Snippet]) -> Vec<f64> {
    snippets
        .iter()
        .map(|s| {
            let doc = Document::new(&s.text, 0);
            let sentences: Vec<&str> = doc.sentences.iter().map(|r| &s.text[r.clone()]).collect();
            analyzer.analyze(&s.text, &sentences).document
        })
        .collect()
}

struct Row {
    file: &'static str,
    n: usize,
    vader_r: f64,
    vader_f1: f64,
    news_r: f64,
    news_f1: f64,
}

#[test]
fn news_model_beats_vader_on_news_and_keeps_up_elsewhere() {
    let vader = SentimentAnalyzer::new(ModelKind::Vader);
    let news = SentimentAnalyzer::new(ModelKind::News);
    let mut rows = Vec::new();
    for file in GROUND_TRUTH_FILES {
        let snippets = load_ground_truth(file).unwrap_or_else(|e| panic!("{e}"));
        let ratings: Vec<f64> = snippets.iter().map(|s| s.rating).collect();
        let v = scores(&vader, &snippets);
        let n = scores(&news, &snippets);
        rows.push(Row {
            file,
            n: snippets.len(),
            vader_r: pearson(&v, &ratings),
            vader_f1: weighted_f1(&v, &ratings),
            news_r: pearson(&n, &ratings),
            news_f1: weighted_f1(&n, &ratings),
        });
    }

    println!();
    println!("| file | n | VADER r | VADER F1 | news r | news F1 | Δr |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| `{}` | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:+.3} |",
            r.file,
            r.n,
            r.vader_r,
            r.vader_f1,
            r.news_r,
            r.news_f1,
            r.news_r - r.vader_r
        );
    }
    println!();

    let mut failures = Vec::new();
    for r in &rows {
        if r.file == NYT {
            if r.news_r < NYT_MIN_R {
                failures.push(format!("{}: news r {:.3} < {NYT_MIN_R}", r.file, r.news_r));
            }
        } else if r.news_r < r.vader_r - MAX_R_LOSS {
            failures.push(format!("{}: news r {:.3} < VADER r {:.3} - {MAX_R_LOSS}", r.file, r.news_r, r.vader_r));
        }
    }
    assert!(failures.is_empty(), "sentiment accuracy regressed:\n{}", failures.join("\n"));
}

/// The reference article (a news report on the US Secretary of State meeting Xi Jinping): VADER's
/// whole-text compound is +0.48 (saturation over 27 sentences); the news model must give a mild,
/// near-neutral-to-negative document score, and per-sentence scores with both signs.
#[test]
fn reference_article_is_not_saturated() {
    let path = news_enricher::enrich::sentiment::eval::data_file("seed/blinken_xi_beijing.txt")
        .unwrap_or_else(|e| panic!("{e}"));
    let raw = std::fs::read_to_string(path).unwrap();
    let mut lines = raw.lines().skip(1); // section line
    let title = lines.next().unwrap();
    let body = lines.collect::<Vec<_>>().join("\n");
    let (full, title_len) = news_enricher::enrich::text::combine(title, &body);
    let doc = Document::new(&full, title_len);
    let sentences: Vec<&str> = doc.sentences.iter().map(|r| &full[r.clone()]).collect();

    let vader = SentimentAnalyzer::new(ModelKind::Vader).analyze(&full, &sentences);
    let news = SentimentAnalyzer::new(ModelKind::News).analyze(&full, &sentences);
    println!("reference article: VADER document {:+.4}, news document {:+.4}", vader.document, news.document);
    for (s, text) in news.sentences.iter().zip(&sentences) {
        println!("  {s:+.3}  {}", text.chars().take(100).collect::<String>());
    }
    assert!((vader.document - 0.4813).abs() < 1e-4, "VADER's whole-text compound: {}", vader.document);
    assert!((-0.5..=0.05).contains(&news.document), "news document score {}", news.document);
    assert!(news.sentences.iter().any(|s| *s >= 0.05) && news.sentences.iter().any(|s| *s <= -0.05));
}
