//! The enrichment core: turns one [`RawArticle`] into an [`EnrichedArticle`]. Pure and
//! synchronous (no I/O); an [`Enricher`] is built once from config and shared (`Arc`) by every
//! task, so it is `Send + Sync` and keeps no per-call state.
//!
//! Stages: [`text`] builds the document (title + body, sentences), [`taxonomy`] assigns topic
//! tags with evidence, [`sentiment`] scores the document and each sentence, [`language`] detects
//! the language, [`fingerprint`] computes a SimHash for near-duplicate detection.

pub mod fingerprint;
pub mod language;
pub mod sentiment;
pub mod taxonomy;
pub mod text;

use crate::article::{EnrichedArticle, EnricherInfo, Enrichment, RawArticle, SentimentOut, TagOut, SCHEMA_VERSION};
use crate::config::Settings;
use sentiment::SentimentAnalyzer;
use taxonomy::{Taxonomy, TaxonomyError};
use text::Document;

/// Builds enriched records. See the module documentation.
#[derive(Debug)]
pub struct Enricher {
    taxonomy: Taxonomy,
    sentiment: SentimentAnalyzer,
}

impl Enricher {
    /// Builds the enricher from settings: loads and compiles the taxonomy (the built-in one when
    /// no file is configured) and the sentiment model.
    pub fn from_config(settings: &Settings) -> Result<Self, TaxonomyError> {
        Self::from_config_loading(settings, Taxonomy::load)
    }

    /// [`Enricher::from_config`] on a taxonomy whose `[[tag.example]]` entries may fail (for
    /// `explain`, which shows them).
    pub fn from_config_unchecked(settings: &Settings) -> Result<Self, TaxonomyError> {
        Self::from_config_loading(settings, Taxonomy::load_unchecked)
    }

    fn from_config_loading(
        settings: &Settings,
        load: fn(&std::path::Path) -> Result<Taxonomy, TaxonomyError>,
    ) -> Result<Self, TaxonomyError> {
        let taxonomy = match &settings.taxonomy.path {
            Some(path) => load(path)?,
            None => Taxonomy::builtin(),
        };
        Ok(Enricher { taxonomy, sentiment: SentimentAnalyzer::new(settings.sentiment.model) })
    }

    /// Checks that every `[[routes]]` tag exists in the taxonomy, so a typo fails at start-up
    /// instead of silently routing nothing. Returns the offending key and message.
    pub fn check_routes(&self, settings: &Settings) -> Result<(), (String, String)> {
        for (i, route) in settings.routes.iter().enumerate() {
            if !self.taxonomy.tags().any(|t| t.id == route.tag) {
                return Err((
                    format!("routes[{i}].tag"),
                    format!("unknown tag {:?} (the taxonomy has: {})", route.tag, self.taxonomy.tag_list()),
                ));
            }
        }
        Ok(())
    }

    /// An enricher from an already compiled taxonomy and a sentiment model.
    pub fn with_parts(taxonomy: Taxonomy, sentiment: SentimentAnalyzer) -> Self {
        Enricher { taxonomy, sentiment }
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    /// Enriches one article. Never fails: decoding already guaranteed there is text.
    pub fn enrich(&self, raw: RawArticle) -> EnrichedArticle {
        let (full, title_len) = text::combine(raw.title().unwrap_or(""), raw.body().unwrap_or(""));
        let doc = Document::new(&full, title_len);
        // A producer's declared language wins over detection: it knows its feed.
        let language = raw
            .declared_language()
            .and_then(language::normalize_declared)
            .or_else(|| language::detect(&full).map(str::to_owned));
        let tags = self.taxonomy.tag(&doc);
        // Too short to tell: score it as English rather than withhold sentiment.
        let english = language.as_deref().is_none_or(|l| l == "en");

        let (sentiment, tag_sentiments) = if english {
            let sentences: Vec<&str> = doc.sentences.iter().map(|r| &full[r.clone()]).collect();
            let analysis = self.sentiment.analyze(&full, &sentences);
            let per_tag = tags
                .iter()
                .map(|t| {
                    let scores: Vec<f64> =
                        t.sentences.iter().filter_map(|&i| analysis.sentences.get(i).copied()).collect();
                    (!scores.is_empty()).then(|| SentimentOut::scored(mean(&scores)))
                })
                .collect();
            (SentimentOut::scored_with_model(analysis.document, self.sentiment.kind()), per_tag)
        } else {
            (SentimentOut::unsupported(self.sentiment.kind()), vec![None; tags.len()])
        };

        let tags = tags
            .into_iter()
            .zip(tag_sentiments)
            .map(|(t, sentiment)| TagOut {
                id: t.id,
                label: t.label,
                score: round4(t.score),
                evidence: t.evidence,
                sentiment,
                source: None,
            })
            .collect();

        let (fingerprint, word_count) = fingerprint::simhash_and_word_count(&full);
        let enrichment = Enrichment {
            schema_version: SCHEMA_VERSION,
            tags,
            tags_source: None,
            sentiment,
            language,
            word_count,
            fingerprint: fingerprint::format(fingerprint),
            processed_at: crate::article::now_rfc3339(),
            enricher: EnricherInfo {
                version: env!("CARGO_PKG_VERSION"),
                taxonomy_version: self.taxonomy.version().to_owned(),
            },
        };
        EnrichedArticle { raw, enrichment }
    }
}

/// The enricher in use by a running worker, which a taxonomy reload replaces
/// (`crate::reload`). Each message takes the current one for the whole of its enrichment, so a
/// record is tagged by one taxonomy, the version it names.
#[derive(Debug)]
pub struct CurrentEnricher(std::sync::RwLock<std::sync::Arc<Enricher>>);

impl CurrentEnricher {
    pub fn new(enricher: std::sync::Arc<Enricher>) -> Self {
        CurrentEnricher(std::sync::RwLock::new(enricher))
    }

    /// The enricher to use now: a reference count, not a lock held while enriching.
    pub fn get(&self) -> std::sync::Arc<Enricher> {
        // Poisoning needs a panic while the lock is held, and neither side can panic there.
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Puts `enricher` in use and returns the one it replaces.
    pub fn replace(&self, enricher: std::sync::Arc<Enricher>) -> std::sync::Arc<Enricher> {
        std::mem::replace(&mut *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner), enricher)
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Scores are reported with four decimals: more is noise, and it keeps records small.
pub(crate) fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
