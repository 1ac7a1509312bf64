//! `news-enricher explain`: why each article got, or did not get, each tag — for whoever edits
//! the taxonomy. JSON Lines raw articles in (files or stdin, as `enrich` reads them); for each,
//! a block of text out listing every tag with any evidence, strongest first: its score against
//! its threshold, whether it is assigned, and the evidence (each term, how often, how often in
//! the title), then the exclusions that vetoed phrases or regex hits of the tag (`excluded:
//! "made in taiwan" ×1`, also for a tag left with no evidence at all), and the hits of its
//! counter-evidence, groups of negative weight (`counter-evidence: "film" ×3`). Tags with neither
//! evidence nor exclusions are left out. One article at a time, in input order; bad
//! lines are reported on stderr as by `enrich`, and counted. Unlike the other commands it runs
//! on a taxonomy whose `[[tag.example]]` entries fail, and lists those first.

use crate::article::{DecodeError, Decoding};
use crate::enrich::text::{combine, Document};
use crate::enrich::Enricher;
use crate::offline::{stdout_error, Inputs, NumberedLines, Summary};
use std::io::{self, Write};

/// `"term" ×count (n in the title), ...`
fn listed(evidence: &[crate::enrich::taxonomy::Evidence]) -> String {
    let terms: Vec<String> = evidence
        .iter()
        .map(|e| match e.title_count {
            0 => format!("{:?} ×{}", e.term, e.count),
            t => format!("{:?} ×{} ({t} in the title)", e.term, e.count),
        })
        .collect();
    terms.join(", ")
}

/// Explains every article of `inputs` to `out`; one line per bad input line to `errors`.
pub fn run(
    enricher: &Enricher,
    inputs: Inputs,
    decoding: Decoding,
    out: &mut dyn Write,
    errors: &mut dyn Write,
) -> io::Result<Summary> {
    let taxonomy = enricher.taxonomy();
    // `explain` runs on a taxonomy whose examples fail (the other commands refuse it), to show
    // why they fail.
    let failing = taxonomy.failing_examples();
    if !failing.is_empty() {
        let n = failing.len();
        writeln!(out, "{n} example(s) of the taxonomy fail; it is refused at start and at a reload until they pass:")
            .map_err(stdout_error)?;
        for failure in failing {
            writeln!(out, "  {failure}").map_err(stdout_error)?;
        }
    }
    let mut summary = Summary::default();
    let (names, readers) = inputs.into_parts();
    for (name, reader) in names.iter().zip(readers) {
        for line in NumberedLines::new(reader, name, decoding.max_bytes) {
            let (number, line) = line?;
            let raw = match line {
                Ok(line) => decoding.decode(&line, None),
                Err(size) => Err(DecodeError::TooLarge { size, limit: decoding.max_bytes }),
            };
            let raw = match raw {
                Ok(raw) => raw,
                Err(e) => {
                    summary.bad += 1;
                    let _ = writeln!(errors, "{name}:{number}: {}: {e}", e.class()); // as in `enrich`
                    continue;
                }
            };
            summary.good += 1;
            let (full, title_len) = combine(raw.title().unwrap_or(""), raw.body().unwrap_or(""));
            let candidates = taxonomy.candidates(&Document::new(&full, title_len));
            // Quoted: an id is producer data, and one holding a line break must not forge a line.
            writeln!(out, "{:?} ({name}:{number}, taxonomy {})", raw.id(), taxonomy.version()).map_err(stdout_error)?;
            if candidates.is_empty() {
                writeln!(out, "  no tag has evidence").map_err(stdout_error)?;
            }
            for tag in &candidates {
                let threshold = taxonomy.tags().find(|t| t.id == tag.id).map_or(f64::NAN, |t| t.threshold);
                let verdict = if tag.score >= threshold {
                    format!("tagged      {:.4} >= {threshold}", tag.score)
                } else {
                    format!("not tagged  {:.4} <  {threshold}", tag.score)
                };
                let mut line = format!("  {:<26} {verdict}   ", tag.id);
                line.push_str(if tag.evidence.is_empty() { "no evidence" } else { "" });
                line.push_str(&listed(&tag.evidence));
                if !tag.excluded.is_empty() {
                    line.push_str("; excluded: ");
                    line.push_str(&listed(&tag.excluded));
                }
                if !tag.counter.is_empty() {
                    line.push_str("; counter-evidence: ");
                    line.push_str(&listed(&tag.counter));
                }
                writeln!(out, "{line}").map_err(stdout_error)?;
            }
        }
    }
    Ok(summary)
}
