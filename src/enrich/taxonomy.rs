//! Topic taxonomy. STUB: owned by the taxonomy work; the public API below is what the rest of the
//! crate relies on.

use super::text::Document;
use std::path::Path;

/// The default taxonomy, compiled in so the binary runs from any directory.
pub const BUILTIN_TAXONOMY: &str = include_str!("../../config/taxonomy.toml");

#[derive(Debug, thiserror::Error)]
pub enum TaxonomyError {
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Evidence for one tag: a matched term, how often it matched, and where first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evidence {
    pub term: String,
    pub count: u32,
    /// Byte offset of the first match in `title + "\n" + body`.
    pub first_offset: usize,
}

/// One tag assigned to a document.
#[derive(Debug, Clone, PartialEq)]
pub struct TagMatch {
    pub id: String,
    pub label: String,
    /// Confidence in [0, 1].
    pub score: f64,
    pub evidence: Vec<Evidence>,
    /// Indices into `Document::sentences` of the sentences carrying this tag's evidence.
    pub sentences: Vec<usize>,
}

#[derive(Debug)]
pub struct Taxonomy {
    version: String,
}

impl Taxonomy {
    pub fn builtin() -> Self {
        Self::from_toml_str(BUILTIN_TAXONOMY, "<builtin taxonomy>").expect("builtin taxonomy is valid")
    }

    pub fn load(path: &Path) -> Result<Self, TaxonomyError> {
        let src = std::fs::read_to_string(path)
            .map_err(|e| TaxonomyError::Invalid { origin: path.display().to_string(), message: e.to_string() })?;
        Self::from_toml_str(&src, &path.display().to_string())
    }

    pub fn from_toml_str(_src: &str, _origin: &str) -> Result<Self, TaxonomyError> {
        Ok(Taxonomy { version: "0".into() })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn tag(&self, _doc: &Document<'_>) -> Vec<TagMatch> {
        Vec::new()
    }
}
