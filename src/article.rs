//! Record formats: [`RawArticle`] (input), [`EnrichedArticle`] (output) and the decoding of raw
//! message bytes with a size limit and typed, specific errors ([`DecodeError`]).
//!
//! A raw article is a JSON object. Known fields are type-checked; every other field is kept and
//! written back unchanged (in its original order) next to the added `enrichment` object, so
//! producers can carry their own metadata through the enricher.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;

/// Version of the `enrichment` object's layout. Bumped on any change that is not purely additive.
pub const SCHEMA_VERSION: u32 = 1;

/// Default for `limits.max_message_bytes`: 1 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Field names accepted for the article text, in order of preference.
const BODY_FIELDS: [&str; 3] = ["body", "content", "text"];

/// Why a raw message could not be decoded into an article. Each variant has a stable
/// [`class`](DecodeError::class) used in DLQ headers and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("message is not valid UTF-8 (first invalid byte at offset {valid_up_to})")]
    NotUtf8 { valid_up_to: usize },
    #[error("message is not valid JSON: {message}")]
    NotJson { message: String },
    #[error("JSON nesting is too deep: {message}")]
    TooDeep { message: String },
    #[error("message is JSON but not an object (found {found})")]
    NotObject { found: &'static str },
    #[error("article has no id: no `id` field and no message key")]
    MissingId,
    #[error("article has no text: `title` and `body` (or `content`/`text`) are both missing or empty")]
    NoText,
    #[error("field `{field}` has the wrong type: expected {expected}, found {found}")]
    WrongType { field: String, expected: &'static str, found: &'static str },
    #[error("field `{field}` is invalid: {message}")]
    InvalidField { field: String, message: String },
}

impl DecodeError {
    /// Short machine-readable class: the `reason` label of DLQ metrics and headers.
    pub fn class(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::NotUtf8 { .. } => "not_utf8",
            DecodeError::NotJson { .. } => "not_json",
            DecodeError::TooDeep { .. } => "too_deep",
            DecodeError::NotObject { .. } => "not_object",
            DecodeError::MissingId => "missing_id",
            DecodeError::NoText => "no_text",
            DecodeError::WrongType { .. } => "wrong_type",
            DecodeError::InvalidField { .. } => "invalid_field",
        }
    }
}

/// A decoded, validated raw article. The original JSON object is kept whole (`fields`); the
/// accessors read the known fields from it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawArticle {
    fields: Map<String, Value>,
    /// The article id: the `id` field, or the message key when the field is absent.
    id: String,
    /// Whether `id` came from the message key (then it is added to the output record).
    id_from_key: bool,
    /// Which of `body`/`content`/`text` holds the text, if any.
    body_field: Option<&'static str>,
}

impl RawArticle {
    /// Decodes message bytes. `key` is the message key (used as id when the object has none);
    /// `max_bytes` bounds the accepted size before any parsing happens.
    pub fn decode(payload: &[u8], key: Option<&[u8]>, max_bytes: usize) -> Result<Self, DecodeError> {
        if payload.len() > max_bytes {
            return Err(DecodeError::TooLarge { size: payload.len(), limit: max_bytes });
        }
        let text = std::str::from_utf8(payload).map_err(|e| DecodeError::NotUtf8 { valid_up_to: e.valid_up_to() })?;
        let value: Value = serde_json::from_str(text).map_err(|e| {
            let message = e.to_string();
            if message.starts_with("recursion limit exceeded") {
                DecodeError::TooDeep { message }
            } else {
                DecodeError::NotJson { message }
            }
        })?;
        let fields = match value {
            Value::Object(map) => map,
            other => return Err(DecodeError::NotObject { found: type_name(&other) }),
        };
        Self::from_fields(fields, key)
    }

    /// Validates an already parsed object.
    pub fn from_fields(fields: Map<String, Value>, key: Option<&[u8]>) -> Result<Self, DecodeError> {
        for field in ["title", "url", "source", "language", "published_at"] {
            optional_str(&fields, field)?;
        }
        let body_field = BODY_FIELDS.iter().copied().find(|f| !matches!(fields.get(*f), None | Some(Value::Null)));
        if let Some(f) = body_field {
            optional_str(&fields, f)?;
        }
        if let Some(published) = optional_str(&fields, "published_at")? {
            time::OffsetDateTime::parse(published, &Rfc3339).map_err(|e| DecodeError::InvalidField {
                field: "published_at".into(),
                message: format!("{published:?} is not an RFC 3339 timestamp ({e})"),
            })?;
        }
        let (id, id_from_key) = match optional_str(&fields, "id")? {
            Some(id) if !id.trim().is_empty() => (id.to_owned(), false),
            Some(_) => return Err(DecodeError::MissingId),
            None => match key.map(std::str::from_utf8) {
                Some(Ok(k)) if !k.trim().is_empty() => (k.to_owned(), true),
                _ => return Err(DecodeError::MissingId),
            },
        };
        let article = RawArticle { fields, id, id_from_key, body_field };
        if article.title().is_none_or(|t| t.trim().is_empty()) && article.body().is_none_or(|b| b.trim().is_empty()) {
            return Err(DecodeError::NoText);
        }
        Ok(article)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn title(&self) -> Option<&str> {
        self.str_field("title")
    }

    /// The article text, from `body`, `content` or `text`.
    pub fn body(&self) -> Option<&str> {
        self.body_field.and_then(|f| self.str_field(f))
    }

    /// The language the producer declared, if any.
    pub fn declared_language(&self) -> Option<&str> {
        self.str_field("language")
    }

    /// All fields of the original object.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    fn str_field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }
}

fn optional_str<'a>(fields: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, DecodeError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(DecodeError::WrongType { field: field.into(), expected: "string", found: type_name(other) }),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An enriched article: the raw fields, unchanged, plus `enrichment`.
#[derive(Debug, Clone)]
pub struct EnrichedArticle {
    pub raw: RawArticle,
    pub enrichment: Enrichment,
}

impl EnrichedArticle {
    /// The record key downstream: the article id.
    pub fn key(&self) -> &str {
        self.raw.id()
    }

    /// Serialises the record as one line of JSON (no trailing newline): the same bytes as its
    /// [`Serialize`] implementation through `serde_json`, but the raw fields' strings (the
    /// article text, most of the record) go through [`write_json_string`], which copies clean
    /// runs eight bytes at a time where serde_json looks at every byte.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.body().map_or(256, str::len) + 1024);
        out.push(b'{');
        if self.raw.id_from_key {
            write_json_string(&mut out, "id");
            out.push(b':');
            write_json_string(&mut out, &self.raw.id);
            out.push(b',');
        }
        for (k, v) in &self.raw.fields {
            if k == "enrichment" {
                continue;
            }
            write_json_string(&mut out, k);
            out.push(b':');
            match v {
                Value::String(s) => write_json_string(&mut out, s),
                other => serde_json::to_writer(&mut out, other).expect("serialising to a Vec cannot fail"),
            }
            out.push(b',');
        }
        write_json_string(&mut out, "enrichment");
        out.push(b':');
        serde_json::to_writer(&mut out, &self.enrichment).expect("serialising to a Vec cannot fail");
        out.push(b'}');
        out
    }
}

/// Appends `s` as a JSON string exactly as `serde_json` writes it: `"` and `\` escaped, control
/// characters as `\b \f \n \r \t` or `\u00xx`, everything else (non-ASCII included) as is.
/// Looks for bytes to escape eight at a time: in the first flagged position of each word the flag
/// is exact (the carry of the byte-wise subtraction only flags bytes above a true one).
fn write_json_string(out: &mut Vec<u8>, s: &str) {
    use crate::swar::{splat, zero_bytes, HIGH};
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut clean_from = 0;
    let mut i = 0;
    let escape = |out: &mut Vec<u8>, at: usize, clean_from: &mut usize| {
        out.extend_from_slice(&bytes[*clean_from..at]);
        write_escape(out, bytes[at]);
        *clean_from = at + 1;
    };
    while let Some(chunk) = bytes.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let flagged =
            (x.wrapping_sub(splat(0x20)) & !x & HIGH) | zero_bytes(x ^ splat(b'"')) | zero_bytes(x ^ splat(b'\\'));
        if flagged == 0 {
            i += 8;
            continue;
        }
        let at = i + (flagged.trailing_zeros() / 8) as usize;
        escape(out, at, &mut clean_from);
        i = at + 1;
    }
    while i < bytes.len() {
        if needs_escape(bytes[i]) {
            escape(out, i, &mut clean_from);
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[clean_from..]);
    out.push(b'"');
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

fn write_escape(out: &mut Vec<u8>, b: u8) {
    debug_assert!(needs_escape(b));
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
}

impl Serialize for EnrichedArticle {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let extra = usize::from(self.raw.id_from_key) + 1;
        let mut map = serializer.serialize_map(Some(self.raw.fields.len() + extra))?;
        if self.raw.id_from_key {
            map.serialize_entry("id", &self.raw.id)?;
        }
        for (k, v) in &self.raw.fields {
            if k != "enrichment" {
                map.serialize_entry(k, v)?;
            }
        }
        map.serialize_entry("enrichment", &self.enrichment)?;
        map.end()
    }
}

/// What the enricher adds to each article.
#[derive(Debug, Clone, Serialize)]
pub struct Enrichment {
    pub schema_version: u32,
    pub tags: Vec<TagOut>,
    /// Only when a remote tag classifier is configured (`[taxonomy.remote]`): `remote:<name>`
    /// when its tags were merged into `tags`, `builtin` when `tags` are the taxonomy's only
    /// (model slow, failing, breaker open, or language not sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags_source: Option<String>,
    pub sentiment: SentimentOut,
    /// ISO 639-1 code; `null` when the text is too short to tell and none was declared.
    pub language: Option<String>,
    pub word_count: usize,
    /// 64-bit SimHash as 16 hex digits; near-duplicates differ in ≤ 3 bits.
    pub fingerprint: String,
    /// RFC 3339 UTC time of enrichment.
    pub processed_at: String,
    pub enricher: EnricherInfo,
}

/// One assigned tag.
#[derive(Debug, Clone, Serialize)]
pub struct TagOut {
    pub id: String,
    pub label: String,
    pub score: f64,
    pub evidence: Vec<crate::enrich::taxonomy::Evidence>,
    /// Sentiment of the sentences carrying this tag's evidence; `null` for unsupported languages
    /// and for tags without evidence (found by the remote tag classifier only).
    pub sentiment: Option<SentimentOut>,
    /// `remote:<name>` on a tag only the remote tag classifier found (`[taxonomy.remote]`);
    /// absent on tags the taxonomy found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Sentiment of the article or of one tag's sentences.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentimentOut {
    /// In [-1, 1]; `null` when the language is not supported.
    pub score: Option<f64>,
    /// `negative` (score ≤ -0.05), `neutral`, `positive` (score ≥ 0.05) or `unsupported_language`.
    pub label: &'static str,
    /// Which model produced it (`news` or `vader`); only on the article-level sentiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<crate::enrich::sentiment::ModelKind>,
    /// Only when a remote model is configured (`[sentiment.remote]`), on the article-level
    /// sentiment: `remote:<name>` when the remote model scored it, `builtin` when the built-in
    /// model's result was kept (model slow, failing, breaker open, or language not sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl SentimentOut {
    pub fn scored(score: f64) -> Self {
        let score = crate::enrich::round4(score.clamp(-1.0, 1.0));
        SentimentOut {
            score: Some(score),
            label: crate::enrich::sentiment::label_for(score),
            model: None,
            source: None,
        }
    }

    pub fn scored_with_model(score: f64, model: crate::enrich::sentiment::ModelKind) -> Self {
        SentimentOut { model: Some(model), ..Self::scored(score) }
    }

    pub fn unsupported(model: crate::enrich::sentiment::ModelKind) -> Self {
        SentimentOut { score: None, label: "unsupported_language", model: Some(model), source: None }
    }
}

/// Versions that produced a record, so downstream can tell records of different builds apart.
#[derive(Debug, Clone, Serialize)]
pub struct EnricherInfo {
    pub version: &'static str,
    pub taxonomy_version: String,
}

/// The current time as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<RawArticle, DecodeError> {
        RawArticle::decode(s.as_bytes(), None, DEFAULT_MAX_MESSAGE_BYTES)
    }

    #[test]
    fn decodes_a_full_article_and_keeps_unknown_fields() {
        let a = decode(r#"{"id":"a1","title":"T","body":"B","url":"u","x-feed":{"n":1}}"#).unwrap();
        assert_eq!((a.id(), a.title(), a.body()), ("a1", Some("T"), Some("B")));
        assert_eq!(a.fields()["x-feed"]["n"], 1);
    }

    #[test]
    fn body_aliases() {
        assert_eq!(decode(r#"{"id":"a","content":"C"}"#).unwrap().body(), Some("C"));
        assert_eq!(decode(r#"{"id":"a","text":"X"}"#).unwrap().body(), Some("X"));
        assert_eq!(decode(r#"{"id":"a","body":null,"text":"X"}"#).unwrap().body(), Some("X"));
    }

    #[test]
    fn id_from_key_when_absent() {
        let a = RawArticle::decode(br#"{"title":"T"}"#, Some(b"k1"), 100).unwrap();
        assert_eq!(a.id(), "k1");
        assert_eq!(RawArticle::decode(br#"{"title":"T"}"#, None, 100), Err(DecodeError::MissingId));
        assert_eq!(RawArticle::decode(br#"{"title":"T"}"#, Some(b"\xff"), 100), Err(DecodeError::MissingId));
        assert_eq!(decode(r#"{"id":"  ","title":"T"}"#), Err(DecodeError::MissingId));
    }

    #[test]
    fn each_error_kind() {
        assert_eq!(RawArticle::decode(&[b' '; 11], None, 10), Err(DecodeError::TooLarge { size: 11, limit: 10 }));
        assert_eq!(
            RawArticle::decode(b"{\"id\":\"\xc3\x28\"}", None, 100),
            Err(DecodeError::NotUtf8 { valid_up_to: 7 })
        );
        assert_eq!(decode("not json").unwrap_err().class(), "not_json");
        assert_eq!(decode(&"[".repeat(200)).unwrap_err().class(), "too_deep");
        assert_eq!(decode("[1]"), Err(DecodeError::NotObject { found: "array" }));
        assert_eq!(decode(r#"{"id":"a","title":" ","body":""}"#), Err(DecodeError::NoText));
        assert_eq!(
            decode(r#"{"id":7,"title":"T"}"#),
            Err(DecodeError::WrongType { field: "id".into(), expected: "string", found: "number" })
        );
        let e = decode(r#"{"id":"a","title":"T","published_at":"yesterday"}"#).unwrap_err();
        assert_eq!(e.class(), "invalid_field");
        assert!(e.to_string().contains("published_at"), "{e}");
    }

    #[test]
    fn error_messages_name_the_problem() {
        let e = decode(r#"{"id":"a","body":["x"]}"#).unwrap_err();
        assert_eq!(e.to_string(), "field `body` has the wrong type: expected string, found array");
    }

    #[test]
    fn to_json_writes_what_serde_json_writes() {
        use crate::enrich::{sentiment::SentimentAnalyzer, taxonomy::Taxonomy, Enricher};
        let enricher = Enricher::with_parts(Taxonomy::builtin(), SentimentAnalyzer::new(Default::default()));
        let tricky =
            "Taiwan \"quoted\" back\\slash tab\t nl\n cr\r bell\u{7} bs\u{8} ff\u{c} del\u{7f} café “x” 台湾 \u{1f}";
        let inputs = [
            serde_json::json!({"id": "a1", "title": tricky, "body": tricky.repeat(9), "n": 1.5, "x": {"k": [tricky, null, true]}}),
            serde_json::json!({"title": "short", "body": "", "enrichment": "replaced"}),
        ];
        for input in inputs {
            let raw =
                RawArticle::decode(input.to_string().as_bytes(), Some(b"key-1"), DEFAULT_MAX_MESSAGE_BYTES).unwrap();
            let record = enricher.enrich(raw);
            assert_eq!(
                String::from_utf8(record.to_json()).unwrap(),
                String::from_utf8(serde_json::to_vec(&record).unwrap()).unwrap()
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn json_strings_are_escaped_like_serde_json(s in "(?s)\\PC{0,40}|[\\x00-\\x7f]{0,40}|[a-z\"\\\\\n\x01\x1f\u{7f}é]{0,40}") {
            let mut out = Vec::new();
            write_json_string(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }
    }
}
