//! The English shortcut of language detection over the evaluation corpus
//! (`$NEWS_DATA_DIR/news/news_articles_2017.jsonl`, 3,824 real English articles): it must give
//! the model's answer on every article, and decide most of them (otherwise it is dead weight).
//! The other direction, that foreign text never passes it, is unit-tested in `language.rs`.

mod common;
use common::data_dir;
use news_enricher::article::{RawArticle, DEFAULT_MAX_MESSAGE_BYTES};
use news_enricher::enrich::language::{detect, detect_by_model, detection_prefix, is_plainly_english};
use news_enricher::enrich::text::combine;

#[test]
fn the_english_shortcut_agrees_with_the_model_and_decides_most_articles() {
    let path = data_dir().join("news/news_articles_2017.jsonl");
    let data = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (mut articles, mut shortcut) = (0, 0);
    for line in data.lines() {
        let Ok(raw) = RawArticle::decode(line.as_bytes(), None, DEFAULT_MAX_MESSAGE_BYTES) else { continue };
        let (text, _) = combine(raw.title().unwrap_or(""), raw.body().unwrap_or(""));
        articles += 1;
        let prefix = detection_prefix(&text).expect("articles with text have enough letters");
        shortcut += usize::from(is_plainly_english(prefix));
        assert_eq!(detect(&text), detect_by_model(&text), "article {}", raw.id());
    }
    println!("{shortcut} of {articles} articles decided by the English shortcut");
    assert!(articles > 3800, "the corpus has 3,823 articles with text, read {articles}");
    assert!(shortcut * 10 >= articles * 8, "the shortcut decided only {shortcut} of {articles}");
}
