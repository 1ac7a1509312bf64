//! Topic taxonomy: loads the editable tag definitions (`config/taxonomy.toml`), validates them
//! with errors that name the file, the tag and the line, compiles them, and tags documents with
//! a score and the evidence behind it.
//!
//! This module owns the taxonomy file format, its validation, the phrase automaton and the
//! "substantially about" scoring. Parts:
//!
//! - `spec`: the TOML format (`deny_unknown_fields`, spans kept) and validation into a model.
//! - `compile`: spelling variants and the single leftmost-longest automaton over the phrases
//!   of all tags, with per-tag parses so tags never hide each other's phrases.
//! - `matcher`: the hot path — one pass over the text for all tags, regexes only for tags with
//!   phrase hits, context rules per sentence, and the scoring formula (documented there).
//! - `words`: word characters, boundaries and a branch-free mask of word bytes.
//!
//! The cost of [`Taxonomy::tag`] is one pass over the text — word starts found 64 bytes at a
//! time, most words rejected by a bit-set filter, the rest walked through the automaton — plus
//! work proportional to the hits; it does not grow with the number of tags (≈9 µs of CPU for a
//! 3.4 KB article with the built-in taxonomy). Working memory is kept per thread, so a call
//! allocates only its output.

mod compile;
mod matcher;
mod spec;
#[cfg(test)]
mod tests;
mod words;

use super::text::Document;
use aho_corasick::automaton::Automaton;
use std::fmt;
use std::path::Path;

/// The default taxonomy, compiled in so the binary runs from any directory.
pub const BUILTIN_TAXONOMY: &str = include_str!("../../../config/taxonomy.toml");

/// Where a taxonomy could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum TaxonomyError {
    #[error("{origin}: cannot read the taxonomy file: {source}")]
    Io {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    /// Displayed as `file:line:column: tag `id`: message` (the tag part when one applies).
    #[error("{origin}:{line}:{column}: {}{message}", TagPrefix(.tag.as_deref()))]
    Invalid { origin: String, line: usize, column: usize, tag: Option<String>, message: String },
}

struct TagPrefix<'a>(Option<&'a str>);

impl fmt::Display for TagPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(tag) => write!(f, "tag `{tag}`: "),
            None => Ok(()),
        }
    }
}

/// Evidence for one tag: a matched term, how often it matched, and where first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// The phrase as written in the taxonomy (whatever spelling variant matched); for a regex
    /// term, the matched text in lower case.
    pub term: String,
    /// Occurrences that counted (title included).
    pub count: u32,
    /// Byte offset of the first match in the text the tagger reads: the trimmed title, `"\n"`,
    /// the body (the body alone when the title is blank; see `text::combine`).
    pub first_offset: usize,
    /// How many of `count` are in the title (omitted when 0): headline mentions weigh more.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub title_count: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One tag assigned to a document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TagMatch {
    pub id: String,
    pub label: String,
    /// Confidence in [0, 1].
    pub score: f64,
    /// Strongest evidence first.
    pub evidence: Vec<Evidence>,
    /// Indices into `Document::sentences` of the sentences carrying this tag's evidence.
    pub sentences: Vec<usize>,
    /// The tag's exclusions found in the text, which vetoed the phrases and regex hits inside
    /// them: filled by [`Taxonomy::candidates`] only (it is what `explain` shows), in text order.
    pub excluded: Vec<Evidence>,
    /// Hits of the tag's counter-evidence (term groups of negative weight), which lowered its
    /// score: filled by [`Taxonomy::candidates`] only (it is what `explain` shows).
    pub counter: Vec<Evidence>,
}

/// Read-only description of one tag, for listings (the tag ids in error messages) and checking
/// the routes.
#[derive(Debug, Clone, Copy)]
pub struct TagInfo<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub description: &'a str,
    pub threshold: f64,
}

/// A compiled taxonomy. Immutable and `Send + Sync`: build once, share by reference.
pub struct Taxonomy {
    version: String,
    origin: String,
    scoring: spec::Scoring,
    tags: Vec<matcher::TagRt>,
    compiled: compile::Compiled,
    any_regex: bool,
    /// [`source_digest`] of the source it was compiled from.
    digest: u64,
    /// `[[tag.example]]` entries, with the index of their tag.
    examples: Vec<(usize, spec::ExampleDef)>,
}

fn utf8<'b>(bytes: &'b [u8], origin: &str) -> Result<&'b str, TaxonomyError> {
    std::str::from_utf8(bytes).map_err(|e| TaxonomyError::Io {
        origin: origin.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// A digest of taxonomy source, which tells a reload whether a file holds the taxonomy in use.
pub fn source_digest(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

impl fmt::Debug for Taxonomy {
    // The automaton's own Debug output is megabytes; show what identifies the taxonomy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Taxonomy")
            .field("version", &self.version)
            .field("origin", &self.origin)
            .field("tags", &self.tags.iter().map(|t| t.id.as_str()).collect::<Vec<_>>())
            .field("patterns", &self.compiled.nfa.patterns_len())
            .field("automaton_bytes", &self.compiled.nfa.memory_usage())
            .finish()
    }
}

impl Taxonomy {
    /// The compiled-in default taxonomy.
    pub fn builtin() -> Self {
        Self::from_toml_str(BUILTIN_TAXONOMY, "<builtin taxonomy>").expect("builtin taxonomy is valid")
    }

    /// Loads and validates a taxonomy file.
    pub fn load(path: &Path) -> Result<Self, TaxonomyError> {
        Self::load_with(path, Self::from_toml_str)
    }

    /// [`Taxonomy::load`] without requiring the examples to pass (see
    /// [`Taxonomy::from_toml_str_unchecked`]).
    pub fn load_unchecked(path: &Path) -> Result<Self, TaxonomyError> {
        Self::load_with(path, Self::from_toml_str_unchecked)
    }

    fn load_with(path: &Path, compile: fn(&str, &str) -> Result<Self, TaxonomyError>) -> Result<Self, TaxonomyError> {
        let origin = path.display().to_string();
        let bytes = crate::config::read_config_file(path)
            .map_err(|source| TaxonomyError::Io { origin: origin.clone(), source })?;
        compile(utf8(&bytes, &origin)?, &origin)
    }

    /// [`Taxonomy::from_toml_str`] of a file's bytes, which must be UTF-8.
    pub fn from_file_bytes(bytes: &[u8], origin: &str) -> Result<Self, TaxonomyError> {
        Self::from_toml_str(utf8(bytes, origin)?, origin)
    }

    /// Parses, validates and compiles taxonomy source; `origin` names it in errors. Every
    /// `[[tag.example]]` must pass; the error names the first that fails and the lines of the
    /// others.
    pub fn from_toml_str(src: &str, origin: &str) -> Result<Self, TaxonomyError> {
        let taxonomy = Self::from_toml_str_unchecked(src, origin)?;
        let mut failing = taxonomy.failing_examples().into_iter();
        let Some(TaxonomyError::Invalid { origin, line, column, tag, message }) = failing.next() else {
            return Ok(taxonomy);
        };
        let more: Vec<String> = failing
            .filter_map(|e| match e {
                TaxonomyError::Invalid { line, .. } => Some(line.to_string()),
                TaxonomyError::Io { .. } => None,
            })
            .collect();
        let message = match more.len() {
            0 => message,
            n => format!("{message}; {n} more example(s) fail, at line(s) {}", more.join(", ")),
        };
        Err(TaxonomyError::Invalid { origin, line, column, tag, message })
    }

    /// [`Taxonomy::from_toml_str`] without requiring the examples to pass: for `explain`, which
    /// shows the failing ones ([`Taxonomy::failing_examples`]).
    pub fn from_toml_str_unchecked(src: &str, origin: &str) -> Result<Self, TaxonomyError> {
        let ctx = spec::Ctx::new(origin, src);
        let mut model = spec::parse(&ctx)?;
        let compiled = compile::compile(&ctx, &model)?;
        let examples: Vec<(usize, spec::ExampleDef)> = (model.tags.iter_mut().enumerate())
            .flat_map(|(i, t)| std::mem::take(&mut t.examples).into_iter().map(move |e| (i, e)))
            .collect();
        let tags: Vec<matcher::TagRt> = model
            .tags
            .into_iter()
            .map(|t| matcher::TagRt {
                group_weights: t.groups.iter().map(|g| g.weight).collect(),
                regexes: t
                    .groups
                    .iter()
                    .enumerate()
                    .flat_map(|(gi, g)| g.regexes.iter().map(move |r| (gi as u8, r.regex.clone())))
                    .collect(),
                id: t.id,
                label: t.label,
                description: t.description,
                threshold: t.threshold,
                title_weight: t.title_weight,
                rules: t.rules,
            })
            .collect();
        let any_regex = tags.iter().any(|t| !t.regexes.is_empty());
        Ok(Taxonomy {
            version: model.version,
            origin: origin.to_owned(),
            scoring: model.scoring,
            tags,
            compiled,
            any_regex,
            digest: source_digest(src.as_bytes()),
            examples,
        })
    }

    /// The `[[tag.example]]` entries that fail, each as an error at its line with its score
    /// against the threshold and the evidence found (none fail in a taxonomy built by
    /// [`Taxonomy::from_toml_str`]).
    pub fn failing_examples(&self) -> Vec<TaxonomyError> {
        let mut failing = Vec::new();
        for (tag_index, example) in &self.examples {
            let tag = &self.tags[*tag_index];
            let (full, title_len) = super::text::combine(&example.title, &example.text);
            let doc = Document::new(&full, title_len);
            let tagged = self.tag(&doc).iter().any(|m| m.id == tag.id);
            if tagged == example.tagged {
                continue;
            }
            let found = self.candidates(&doc).into_iter().find(|m| m.id == tag.id);
            let score = found.as_ref().map_or(0.0, |m| m.score);
            let terms: Vec<String> = found.iter().flat_map(|m| &m.evidence).map(|e| format!("{:?}", e.term)).collect();
            let mut evidence = if terms.is_empty() { "none".to_owned() } else { terms.join(", ") };
            let excluded: Vec<String> =
                found.iter().flat_map(|m| &m.excluded).map(|e| format!("{:?}", e.term)).collect();
            if !excluded.is_empty() {
                evidence = format!("{evidence}; excluded: {}", excluded.join(", "));
            }
            let verdict = if example.tagged {
                format!("should get the tag, but it scores {score:.4} < {}", tag.threshold)
            } else {
                format!("should not get the tag, but it scores {score:.4} >= {}", tag.threshold)
            };
            failing.push(TaxonomyError::Invalid {
                origin: self.origin.clone(),
                line: example.pos.line,
                column: example.pos.column,
                tag: Some(tag.id.clone()),
                message: format!("example {verdict} (evidence: {evidence})"),
            });
        }
        failing
    }

    /// The `version` string of the taxonomy file (reported with every enriched record).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// [`source_digest`] of the source this was compiled from.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The tag ids for a message: all of them, or the first 20 and how many there are (a
    /// taxonomy of thousands of tags would make one log line of tens of kilobytes).
    pub fn tag_list(&self) -> String {
        const SHOWN: usize = 20;
        let ids: Vec<&str> = self.tags.iter().take(SHOWN).map(|t| t.id.as_str()).collect();
        match self.tags.len() {
            n if n > SHOWN => format!("{}, … ({n} tags)", ids.join(", ")),
            _ => ids.join(", "),
        }
    }

    /// The tags, in file order.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = TagInfo<'_>> + '_ {
        self.tags.iter().map(|t| TagInfo {
            id: &t.id,
            label: &t.label,
            description: &t.description,
            threshold: t.threshold,
        })
    }

    /// The tags `doc` is substantially about, strongest first.
    pub fn tag(&self, doc: &Document<'_>) -> Vec<TagMatch> {
        self.run(doc, false)
    }

    /// Every tag with any evidence in `doc`, whether or not it reaches its threshold, strongest
    /// first, and with the exclusions that vetoed some of it (also a tag whose every phrase was
    /// vetoed, with no evidence left: score 0). For tuning the taxonomy and explaining why a tag
    /// did (not) fire.
    pub fn candidates(&self, doc: &Document<'_>) -> Vec<TagMatch> {
        self.run(doc, true)
    }

    /// Phrases are compiled with single spaces and composed characters, so a text with other
    /// white space between words ("Taiwan  Strait", a tab, a no-break space) or with decomposed
    /// accents is matched as its [`NormalizedCopy`](crate::enrich::text::NormalizedCopy), and
    /// the evidence's offsets are mapped back to the text.
    fn run(&self, doc: &Document<'_>, explain: bool) -> Vec<TagMatch> {
        let Some(normalized) = crate::enrich::text::NormalizedCopy::of(doc.full, doc.title_len) else {
            return matcher::with_scratch(|s| self.matcher().run(doc, doc.full.len(), s, explain));
        };
        let copy = normalized.document(doc);
        let mut tags = matcher::with_scratch(|s| self.matcher().run(&copy, doc.full.len(), s, explain));
        for tag in &mut tags {
            for evidence in tag.evidence.iter_mut().chain(&mut tag.excluded).chain(&mut tag.counter) {
                evidence.first_offset = normalized.to_original(evidence.first_offset);
            }
        }
        tags
    }

    fn matcher(&self) -> matcher::Matcher<'_> {
        matcher::Matcher {
            compiled: &self.compiled,
            tags: &self.tags,
            scoring: &self.scoring,
            any_regex: self.any_regex,
        }
    }
}
