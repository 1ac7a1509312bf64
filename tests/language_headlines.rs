//! Language detection on labelled headlines (`tests/data/language/`, see its README): how many
//! English headlines are read as English (the others lose their sentiment), and how many foreign
//! ones are read as English (they get English sentiment). Printed per half with `--nocapture`.
//!
//! The floors are the figures of the detector that added the vocabulary rule less a margin; a
//! change that costs more than a few headlines fails here, and one that gains should raise them.

use news_enricher::enrich::language::detect;
use news_enricher::enrich::text::combine;
use std::collections::BTreeMap;

struct Outcome {
    english: usize,
    english_read_as_english: usize,
    foreign: usize,
    foreign_read_as_english: usize,
    foreign_correct: usize,
}

fn evaluate(half: &str) -> Outcome {
    let path = format!("{}/tests/data/language/{half}.tsv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut o =
        Outcome { english: 0, english_read_as_english: 0, foreign: 0, foreign_read_as_english: 0, foreign_correct: 0 };
    let mut per_language: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for line in text.lines() {
        let Some((want, headline)) = line.split_once('\t') else { panic!("{path}: bad line {line:?}") };
        // As `enrich` sees an article with this title and no body.
        let got = detect(&combine(headline, "").0);
        let entry = per_language.entry(want).or_default();
        entry.0 += usize::from(got == Some(want));
        entry.1 += 1;
        if want == "en" {
            o.english += 1;
            o.english_read_as_english += usize::from(got == Some("en"));
        } else {
            o.foreign += 1;
            o.foreign_read_as_english += usize::from(got == Some("en"));
            o.foreign_correct += usize::from(got == Some(want));
        }
    }
    let share = |(right, all): (usize, usize)| format!("{right}/{all}");
    let languages: Vec<String> = per_language.iter().map(|(lang, n)| format!("{lang} {}", share(*n))).collect();
    println!(
        "{half}: English read as English {}/{}; foreign read as English {}/{}, read correctly {}/{}\n  {}",
        o.english_read_as_english,
        o.english,
        o.foreign_read_as_english,
        o.foreign,
        o.foreign_correct,
        o.foreign,
        languages.join(", ")
    );
    o
}

#[test]
fn headlines_in_english_are_read_as_english_and_foreign_ones_are_not() {
    // (half, English read as English at least, foreign read as English at most)
    for (half, english_floor, foreign_as_english_ceiling) in [("dev", 0.87, 0.025), ("heldout", 0.95, 0.04)] {
        let o = evaluate(half);
        assert!(o.english >= 300 && o.foreign >= 350, "{half}: the file is incomplete");
        let english_share = o.english_read_as_english as f64 / o.english as f64;
        let foreign_as_english = o.foreign_read_as_english as f64 / o.foreign as f64;
        assert!(english_share >= english_floor, "{half}: English read as English {english_share:.3} < {english_floor}");
        assert!(
            foreign_as_english <= foreign_as_english_ceiling,
            "{half}: foreign read as English {foreign_as_english:.3} > {foreign_as_english_ceiling}"
        );
    }
}
