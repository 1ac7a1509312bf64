//! Record formats: [`RawArticle`] (input), [`EnrichedArticle`] (output) and the decoding of raw
//! message bytes with a size limit and typed, specific errors ([`DecodeError`]).
//!
//! A raw article is a JSON object. Known fields are type-checked; every other field is kept and
//! written back **exactly as received** (its JSON text, in its original order) next to the added
//! `enrichment` object, so producers can carry their own metadata through the enricher: numbers
//! keep their digits (`1.50`, integers beyond 64 bits, `1e400`), nested objects their layout.
//! A key given twice keeps its first place and its last value, as a JSON object map does.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::ops::Range;
use time::format_description::well_known::Rfc3339;

/// Version of the `enrichment` object's layout. Bumped on any change that is not purely additive.
pub const SCHEMA_VERSION: u32 = 1;

/// Default for `limits.max_message_bytes`: 1 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Field names accepted for the article text, in order of preference.
const BODY_FIELDS: [&str; 3] = ["body", "content", "text"];

/// Deepest nesting accepted, counting the article object itself: serde_json's limit, which
/// also protects consumers downstream whose parsers recurse.
const MAX_DEPTH: usize = 127;

/// Why a raw message could not be decoded into an article. Each variant has a stable
/// [`class`](DecodeError::class) used in DLQ headers and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// The value is within the limit but the key and headers make the message larger than it.
    #[error("message key, headers and value are {size} bytes together, over the limit of {limit} bytes")]
    EnvelopeTooLarge { size: usize, limit: usize },
    #[error("message has {count} headers, over the limit of {limit}")]
    TooManyHeaders { count: usize, limit: usize },
    #[error("message is not valid UTF-8 (first invalid byte at offset {valid_up_to})")]
    NotUtf8 { valid_up_to: usize },
    #[error("message is not valid JSON: {message}")]
    NotJson { message: String },
    #[error("JSON nesting is too deep: {message}")]
    TooDeep { message: String },
    #[error("message is JSON but not an object (found {found})")]
    NotObject { found: &'static str },
    #[error("article has no id: no `id` field and no usable message key (absent, blank or not UTF-8)")]
    MissingId,
    /// An `id` that is present but blank is refused rather than replaced by the message key:
    /// the producer meant to give one, so a blank is a bug upstream worth seeing in the DLQ.
    #[error("article has no id: the `id` field is blank")]
    BlankId,
    #[error("article has no text: `title` and `body` (or `content`/`text`) are both missing or empty")]
    NoText,
    /// With `enrich.html`: title and body have markup but no text.
    #[error("article has no text: `title` and `body` (or `content`/`text`) hold only HTML markup")]
    NoTextOutsideMarkup,
    #[error("field `{field}` has the wrong type: expected {expected}, found {found}")]
    WrongType { field: String, expected: &'static str, found: &'static str },
    #[error("field `{field}` is invalid: {message}")]
    InvalidField { field: String, message: String },
}

impl DecodeError {
    /// Every value [`DecodeError::class`] returns, so metrics can export each reason from the
    /// start.
    pub const CLASSES: [&'static str; 9] = [
        "too_large",
        "not_utf8",
        "not_json",
        "too_deep",
        "not_object",
        "missing_id",
        "no_text",
        "wrong_type",
        "invalid_field",
    ];

    /// Short machine-readable class: the `reason` label of DLQ metrics and headers.
    pub fn class(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. }
            | DecodeError::EnvelopeTooLarge { .. }
            | DecodeError::TooManyHeaders { .. } => "too_large",
            DecodeError::NotUtf8 { .. } => "not_utf8",
            DecodeError::NotJson { .. } => "not_json",
            DecodeError::TooDeep { .. } => "too_deep",
            DecodeError::NotObject { .. } => "not_object",
            DecodeError::MissingId | DecodeError::BlankId => "missing_id",
            DecodeError::NoText | DecodeError::NoTextOutsideMarkup => "no_text",
            DecodeError::WrongType { .. } => "wrong_type",
            DecodeError::InvalidField { .. } => "invalid_field",
        }
    }
}

/// A string field's text: where it sits in the message when it has no escapes (most do, and
/// then nothing is copied), else its decoded text.
#[derive(Debug, Clone, PartialEq)]
enum Text {
    InSource(Range<usize>),
    Decoded(String),
}

/// A decoded, validated raw article: the message's JSON text, where each member's value lies in
/// it, and the known fields.
#[derive(Debug, Clone, PartialEq)]
pub struct RawArticle {
    source: Box<str>,
    /// The object's members in order: key, and the byte range of the value's JSON text in
    /// `source`.
    members: Vec<(String, Range<usize>)>,
    /// The article id: the `id` field, or the message key when the field is absent.
    id: String,
    /// Whether `id` came from the message key (then it is added to the output record).
    id_from_key: bool,
    title: Option<Text>,
    /// From `body`, `content` or `text`.
    body: Option<Text>,
    language: Option<Text>,
}

/// How raw messages are decoded: `limits.max_message_bytes`, and `enrich.html`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoding {
    pub max_bytes: usize,
    /// `title` and `body` are HTML, read as their text ([`crate::html`]).
    pub html: bool,
}

impl Decoding {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Decoding { max_bytes: settings.limits.max_message_bytes, html: settings.enrich.html }
    }

    /// Decodes message bytes (see [`RawArticle::decode`]).
    pub fn decode(&self, payload: &[u8], key: Option<&[u8]>) -> Result<RawArticle, DecodeError> {
        let raw = RawArticle::decode(payload, key, self.max_bytes)?;
        if self.html {
            raw.read_as_html()
        } else {
            Ok(raw)
        }
    }
}

impl RawArticle {
    /// Decodes message bytes. `key` is the message key (used as id when the object has none);
    /// `max_bytes` bounds the accepted size before any parsing happens.
    pub fn decode(payload: &[u8], key: Option<&[u8]>, max_bytes: usize) -> Result<Self, DecodeError> {
        if payload.len() > max_bytes {
            return Err(DecodeError::TooLarge { size: payload.len(), limit: max_bytes });
        }
        let text = std::str::from_utf8(payload).map_err(|e| DecodeError::NotUtf8 { valid_up_to: e.valid_up_to() })?;
        // RFC 8259 lets a parser ignore a byte order mark, and Windows tools write one; refused,
        // it would read as "expected value at line 1 column 1" on a message that looks right.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let members = parse_members(text)?;
        let article = RawArticle {
            source: text.into(),
            members,
            id: String::new(),
            id_from_key: false,
            title: None,
            body: None,
            language: None,
        };
        article.validate(key)
    }

    /// Title and body as the text of their HTML ([`crate::html::to_text`]); the members, which
    /// the record writes, stay as received.
    fn read_as_html(mut self) -> Result<Self, DecodeError> {
        if let Some(std::borrow::Cow::Owned(text)) = self.title().map(crate::html::to_text) {
            self.title = Some(Text::Decoded(text));
        }
        if let Some(std::borrow::Cow::Owned(text)) = self.body().map(crate::html::to_text) {
            self.body = Some(Text::Decoded(text));
        }
        if self.has_no_text() {
            return Err(DecodeError::NoTextOutsideMarkup);
        }
        Ok(self)
    }

    /// Whether title and body are both absent or blank ([`is_blank`]).
    fn has_no_text(&self) -> bool {
        self.title().is_none_or(is_blank) && self.body().is_none_or(is_blank)
    }

    /// Type-checks the known fields and reads them.
    fn validate(mut self, key: Option<&[u8]>) -> Result<Self, DecodeError> {
        self.title = self.optional_str("title")?;
        self.optional_str("url")?;
        self.optional_str("source")?;
        self.language = self.optional_str("language")?;
        let published_at = self.optional_str("published_at")?;
        // The first of the body fields that is present and not null is the text (and must be a
        // string); the others are not looked at.
        for field in BODY_FIELDS {
            self.body = self.optional_str(field)?;
            if self.body.is_some() {
                break;
            }
        }
        if let Some(published) = published_at {
            let published = self.text(&published);
            time::OffsetDateTime::parse(published, &Rfc3339).map_err(|e| DecodeError::InvalidField {
                field: "published_at".into(),
                message: format!("\"{}\" is not an RFC 3339 timestamp ({e})", shown_name(published)),
            })?;
        }
        (self.id, self.id_from_key) = match self.optional_str("id")? {
            Some(id) if !self.text(&id).trim().is_empty() => (self.text(&id).to_owned(), false),
            Some(_) => return Err(DecodeError::BlankId),
            None => match id_of_key(key) {
                Some(k) => (k.to_owned(), true),
                None => return Err(DecodeError::MissingId),
            },
        };
        if self.has_no_text() {
            return Err(DecodeError::NoText);
        }
        Ok(self)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn title(&self) -> Option<&str> {
        self.title.as_ref().map(|t| self.text(t))
    }

    /// The article text, from `body`, `content` or `text`.
    pub fn body(&self) -> Option<&str> {
        self.body.as_ref().map(|t| self.text(t))
    }

    /// The language the producer declared, if any.
    pub fn declared_language(&self) -> Option<&str> {
        self.language.as_ref().map(|t| self.text(t))
    }

    /// The members of the original object in order: each key and its value's JSON text exactly
    /// as received.
    pub fn members(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members.iter().map(|(k, r)| (k.as_str(), &self.source[r.clone()]))
    }

    /// The JSON text of member `key`, exactly as received.
    pub fn json_of(&self, key: &str) -> Option<&str> {
        self.members().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn text<'a>(&'a self, t: &'a Text) -> &'a str {
        match t {
            Text::InSource(r) => &self.source[r.clone()],
            Text::Decoded(s) => s,
        }
    }

    /// A field that must be a string when present and not null.
    fn optional_str(&self, field: &str) -> Result<Option<Text>, DecodeError> {
        let Some((_, r)) = self.members.iter().find(|(k, _)| k == field) else {
            return Ok(None);
        };
        let json = &self.source[r.clone()];
        match kind_of(json) {
            "null" => Ok(None),
            "string" if !json.contains('\\') => Ok(Some(Text::InSource(r.start + 1..r.end - 1))),
            // serde_json decodes the escapes, and rejects what a Rust string cannot hold: a lone
            // surrogate, which the JSON grammar allows. JavaScript writes one when `substring`
            // cuts an emoji in half, so in the text it is read as U+FFFD and the article is
            // enriched (its output keeps the field as received); an id must be exact.
            "string" => match serde_json::from_str(json) {
                Ok(s) => Ok(Some(Text::Decoded(s))),
                Err(e) => match without_lone_surrogates(json) {
                    Some((_, lone)) if field == "id" => Err(DecodeError::InvalidField {
                        field: field.into(),
                        message: format!("`{lone}` is half of a UTF-16 surrogate pair, not a character"),
                    }),
                    Some((replaced, _)) => serde_json::from_str(&replaced)
                        .map(|s| Some(Text::Decoded(s)))
                        .map_err(|e| DecodeError::NotJson { message: format!("field `{field}`: {e}") }),
                    None => Err(DecodeError::NotJson { message: format!("field `{field}`: {e}") }),
                },
            },
            found => Err(DecodeError::WrongType { field: field.into(), expected: "string", found }),
        }
    }
}

/// Whether `text` has no text: white space, and U+FFFD (which a lone surrogate escape reads as).
fn is_blank(text: &str) -> bool {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{fffd}').is_empty()
}

/// `json`, a JSON string, with each escaped lone surrogate (`\ud83d` without its low half, or a
/// low half alone) replaced by `\ufffd`, and the first such escape; `None` when it has none.
fn without_lone_surrogates(json: &str) -> Option<(String, &str)> {
    let unit = |at: usize| json.get(at..at + 4).and_then(|hex| u16::from_str_radix(hex, 16).ok());
    let bytes = json.as_bytes();
    let (mut out, mut first, mut copied, mut i) = (String::new(), None, 0, 0);
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(code) = (bytes.get(i + 1) == Some(&b'u')).then(|| unit(i + 2)).flatten() else {
            i += 2; // another escape, or a malformed one serde_json reports
            continue;
        };
        let paired = (0xD800..0xDC00).contains(&code)
            && json.get(i + 6..i + 8) == Some("\\u")
            && unit(i + 8).is_some_and(|low| (0xDC00..0xE000).contains(&low));
        if paired {
            i += 12;
        } else if (0xD800..0xE000).contains(&code) {
            first.get_or_insert(&json[i..i + 6]);
            out.push_str(&json[copied..i]);
            out.push_str("\\ufffd");
            i += 6;
            copied = i;
        } else {
            i += 6;
        }
    }
    out.push_str(&json[copied..]);
    first.map(|lone| (out, lone))
}

/// Parses the message as a JSON object into its members (see the module documentation), each
/// value validated but kept as text.
fn parse_members(text: &str) -> Result<Vec<(String, Range<usize>)>, DecodeError> {
    /// Members in order of appearance, duplicates included.
    struct Members<'t>(Vec<(String, &'t RawValue)>);
    impl<'de> Deserialize<'de> for Members<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Object;
            impl<'de> Visitor<'de> for Object {
                type Value = Members<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                    while let Some(key) = map.next_key::<String>()? {
                        members.push((key, map.next_value::<&'de RawValue>()?));
                    }
                    Ok(Members(members))
                }
            }
            d.deserialize_map(Object)
        }
    }

    let json = text.trim_start_matches([' ', '\t', '\n', '\r']);
    if !json.starts_with('{') {
        // Parsed whole (not skimmed) so that nesting beyond serde_json's limit is `too_deep`.
        return Err(match serde_json::from_str::<Value>(text) {
            Ok(_) => DecodeError::NotObject { found: kind_of(json) },
            Err(e) => json_error(e),
        });
    }
    let Ok(Members(list)) = serde_json::from_str::<Members<'_>>(text) else {
        return Err(parse_error(text));
    };
    // Values are not parsed, only validated, so serde_json's nesting limit is checked here.
    if let Some((key, _)) = list.iter().find(|(_, v)| nesting_depth(v.get()) >= MAX_DEPTH) {
        return Err(DecodeError::TooDeep {
            message: format!("field `{}` nests more than {} levels deep", shown_name(key), MAX_DEPTH - 1),
        });
    }
    let base = text.as_ptr() as usize;
    let range_of = |v: &RawValue| {
        let start = v.get().as_ptr() as usize - base;
        start..start + v.get().len()
    };
    let mut members: Vec<(String, Range<usize>)> = Vec::with_capacity(list.len());
    // A repeated key takes the place of the first and the value of the last. Objects are small:
    // a scan unless they are not.
    let many = list.len() > 16;
    let mut index = std::collections::HashMap::new();
    for (key, value) in list {
        let seen = if many { index.get(&key).copied() } else { members.iter().position(|(k, _)| *k == key) };
        match seen {
            Some(i) => members[i].1 = range_of(value),
            None => {
                if many {
                    index.insert(key.clone(), members.len());
                }
                members.push((key, range_of(value)));
            }
        }
    }
    Ok(members)
}

/// The error for an object the member parser rejected, as a whole-message parse into a
/// `Value` reports it (only for messages already known to be bad): that parse also counts the
/// nesting, so an object that is both too deep and malformed is `too_deep`.
fn parse_error(text: &str) -> DecodeError {
    match serde_json::from_str::<Value>(text) {
        Err(e) => json_error(e),
        Ok(_) => DecodeError::NotJson { message: "not a JSON object of members".into() },
    }
}

fn json_error(e: serde_json::Error) -> DecodeError {
    let message = e.to_string();
    if message.starts_with("recursion limit exceeded") {
        DecodeError::TooDeep { message }
    } else {
        DecodeError::NotJson { message }
    }
}

/// The deepest nesting of arrays and objects in a valid JSON text (0 for a scalar).
fn nesting_depth(json: &str) -> usize {
    let b = json.as_bytes();
    if !matches!(b.first(), Some(b'[' | b'{')) {
        return 0;
    }
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0);
    while i < b.len() {
        match b[i] {
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth -= 1,
            b'"' => {
                // Skip the string: brackets inside it do not count.
                i += 1;
                while b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The JSON type of a valid JSON text, from its first byte.
fn kind_of(json: &str) -> &'static str {
    match json.as_bytes().first() {
        Some(b'"') => "string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "boolean",
        Some(b'[') => "array",
        Some(b'{') => "object",
        _ => "number",
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

    /// Serialises the record as one line of JSON (no trailing newline): `id` first when it came
    /// from the message key, then the raw members as received (an input `enrichment` member is
    /// replaced), then `enrichment`. Keys are written as `serde_json` writes strings.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.source.len() + 1024);
        out.push(b'{');
        if self.raw.id_from_key {
            write_json_string(&mut out, "id");
            out.push(b':');
            write_json_string(&mut out, &self.raw.id);
            out.push(b',');
        }
        for (k, json) in self.raw.members() {
            // With the id from the key, an `"id": null` member would repeat the key.
            if k == "enrichment" || (self.raw.id_from_key && k == "id") {
                continue;
            }
            write_json_string(&mut out, k);
            out.push(b':');
            out.extend_from_slice(json.as_bytes());
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
    /// ISO 639-1 code (a declared code without a two-letter equivalent is kept as declared);
    /// `null` when the text is too short to tell and none was declared.
    pub language: Option<String>,
    pub word_count: usize,
    /// 64-bit SimHash as 16 hex digits; near-duplicates mostly differ in ≤ 3 bits (README).
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
    /// Which built-in model produced it (`news` or `vader`); only on the article-level sentiment,
    /// and absent when a remote model scored the article (see `source`).
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

/// The current time as RFC 3339 UTC with milliseconds (`2026-11-28T22:22:15.438Z`): a fixed
/// width that every RFC 3339 and ISO 8601 parser reads (nine fractional digits are refused by
/// some, e.g. Python's `fromisoformat` before 3.11).
pub fn now_rfc3339() -> String {
    rfc3339_millis(time::OffsetDateTime::now_utc())
}

fn rfc3339_millis(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Longest field name an error message quotes: the name is the producer's, and the message goes
/// into a DLQ header and a log line.
const MAX_SHOWN_NAME_CHARS: usize = 64;

/// A producer's field name as error messages show it: control characters escaped (a newline
/// must not start a new log or `enrich` error line) and cut to [`MAX_SHOWN_NAME_CHARS`].
fn shown_name(name: &str) -> String {
    let mut shown: String = name.chars().take(MAX_SHOWN_NAME_CHARS).flat_map(char::escape_debug).collect();
    if name.chars().nth(MAX_SHOWN_NAME_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

/// The article id a message key stands for: the key when it is UTF-8 and not blank. An article
/// without an `id` field takes it; a tombstone with any other key can delete no article.
pub fn id_of_key(key: Option<&[u8]>) -> Option<&str> {
    key.and_then(|k| std::str::from_utf8(k).ok()).filter(|k| !k.trim().is_empty())
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
        assert_eq!(a.json_of("x-feed"), Some(r#"{"n":1}"#));
        let keys: Vec<&str> = a.members().map(|(k, _)| k).collect();
        assert_eq!(keys, ["id", "title", "body", "url", "x-feed"]);
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let a = decode(r#"{"id":"a\u0031","title":"caf\u00e9 \"x\"\n","language":"e\u006e"}"#).unwrap();
        assert_eq!((a.id(), a.title(), a.declared_language()), ("a1", Some("café \"x\"\n"), Some("en")));
    }

    #[test]
    fn with_html_title_and_body_are_their_text_and_the_members_stay_as_received() {
        let html = Decoding { max_bytes: 10_000, html: true };
        let json = r#"{"id":"a","title":"Xi &amp; Biden","content":"<p>One.</p><p>Two &lt;3</p>","url":"<b>"}"#;
        let a = html.decode(json.as_bytes(), None).unwrap();
        assert_eq!((a.title(), a.body()), (Some("Xi & Biden"), Some("One.\nTwo <3")));
        assert_eq!(a.json_of("content"), Some(r#""<p>One.</p><p>Two &lt;3</p>""#));
        assert_eq!(a.json_of("url"), Some(r#""<b>""#), "only title and body are read as HTML");
        let plain = Decoding { html: false, ..html }.decode(json.as_bytes(), None).unwrap();
        assert_eq!(plain.title(), Some("Xi &amp; Biden"));
        // Markup and no text: the title may be absent, markup only or white space.
        for json in [r#"{"id":"a","body":"<p> </p><br/>"}"#, r#"{"id":"a","title":"<img src=x>","body":"<!-- -->"}"#] {
            let e = html.decode(json.as_bytes(), None).unwrap_err();
            assert_eq!((e.class(), &e), ("no_text", &DecodeError::NoTextOutsideMarkup), "{json}");
        }
    }

    #[test]
    fn a_lone_surrogate_is_a_replacement_character_in_the_text_and_an_error_in_the_id() {
        // Valid JSON grammar, but not a string serde_json (or Rust) can hold: JavaScript writes
        // one when it cuts an emoji in half.
        let a =
            decode(r#"{"id":"a","title":"Taiwan \ud83d","body":"x \udc00\ud83d\ude00 y \ud83d\n\\ud800"}"#).unwrap();
        assert_eq!(a.title(), Some("Taiwan \u{fffd}"));
        assert_eq!(a.body(), Some("x \u{fffd}\u{1f600} y \u{fffd}\n\\ud800"), "pairs and an escaped backslash kept");
        assert_eq!(a.json_of("title"), Some(r#""Taiwan \ud83d""#), "the output keeps the field as received");
        for field in ["content", "text", "url", "source", "language"] {
            let json = format!(r#"{{"id":"a","title":"t","{field}":"\udfff end"}}"#);
            assert!(decode(&json).is_ok(), "{field}");
        }
        let e = decode(r#"{"id":"a","title":"\ud83d","body":" \udc00 "}"#).unwrap_err();
        assert_eq!(e, DecodeError::NoText, "nothing but broken characters");
        let e = decode(r#"{"id":"a\ud800","title":"t"}"#).unwrap_err();
        assert_eq!(e.class(), "invalid_field");
        assert_eq!(
            e.to_string(),
            r"field `id` is invalid: `\ud800` is half of a UTF-16 surrogate pair, not a character"
        );
        // Other broken escapes are still refused.
        assert_eq!(decode(r#"{"id":"a","title":"\ud800\q"}"#).unwrap_err().class(), "not_json");
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_its_last_value() {
        let a = decode(r#"{"id":"a","x":1,"title":"first","x":2,"title":"last"}"#).unwrap();
        assert_eq!(a.title(), Some("last"));
        let members: Vec<(&str, &str)> = a.members().collect();
        assert_eq!(members, [("id", r#""a""#), ("x", "2"), ("title", r#""last""#)]);
        // The same as serde_json's own map (with `preserve_order`).
        let map: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"id":"a","x":1,"title":"first","x":2,"title":"last"}"#).unwrap();
        let theirs: Vec<(String, String)> = map.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
        let ours: Vec<(String, String)> = members.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(ours, theirs);
        // Many members take another path (an index instead of a scan): same rule.
        let mut many: Vec<String> = (0..40).map(|i| format!(r#""k{i}":{i}"#)).collect();
        many.push(r#""k3":"again""#.into());
        let a = decode(&format!(r#"{{"id":"a","title":"T",{}}}"#, many.join(","))).unwrap();
        assert_eq!(a.json_of("k3"), Some(r#""again""#));
        assert_eq!(a.members().count(), 42);
        assert_eq!(a.members().nth(5).map(|(k, _)| k), Some("k3"));
    }

    #[test]
    fn nesting_limit_is_serde_jsons() {
        // serde_json's own parse into a value is the reference: the same depths pass and fail.
        for depth in 120..135 {
            let json = format!(r#"{{"id":"a","title":"T","deep":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
            let reference = serde_json::from_str::<Value>(&json).is_ok();
            let ours = decode(&json);
            assert_eq!(ours.is_ok(), reference, "depth {depth}: {ours:?}");
            if !reference {
                let e = ours.unwrap_err();
                assert_eq!(e.class(), "too_deep");
                assert_eq!(e.to_string(), "JSON nesting is too deep: field `deep` nests more than 126 levels deep");
            }
        }
        // Brackets inside strings are text, not nesting.
        let quoted = format!(r#"{{"id":"a","title":"T","q":["{}\"{}"]}}"#, "[".repeat(300), "{".repeat(300));
        assert!(decode(&quoted).is_ok());
    }
    #[test]
    fn a_producers_field_name_is_quoted_on_one_line_and_cut_short() {
        let deep = format!("{}{}", "[".repeat(130), "]".repeat(130));
        // The JSON escape `\n` in the name decodes to a newline.
        let name = r"evil\nforged.jsonl:99: fake: injected";
        let e = decode(&format!(r#"{{"id":"a","title":"T","{name}":{deep}}}"#)).unwrap_err().to_string();
        assert!(!e.contains('\n'), "one line: {e}");
        assert!(e.contains(r"field `evil\nforged.jsonl:99: fake: injected`"), "{e}");
        let long = "k".repeat(100_000);
        let e = decode(&format!(r#"{{"id":"a","title":"T","{long}":{deep}}}"#)).unwrap_err().to_string();
        assert!(e.len() < 200, "a long name is cut: {} bytes", e.len());
        assert!(e.contains(&format!("field `{}…`", "k".repeat(64))), "{e}");
    }

    #[test]
    fn body_aliases() {
        assert_eq!(decode(r#"{"id":"a","content":"C"}"#).unwrap().body(), Some("C"));
        assert_eq!(decode(r#"{"id":"a","text":"X"}"#).unwrap().body(), Some("X"));
        assert_eq!(decode(r#"{"id":"a","body":null,"text":"X"}"#).unwrap().body(), Some("X"));
        // Only the body field in use is type-checked; the others pass through as they are.
        assert_eq!(decode(r#"{"id":"a","body":"B","content":{"html":"<p>B</p>"}}"#).unwrap().body(), Some("B"));
    }

    #[test]
    fn processed_at_is_utc_with_milliseconds_truncated() {
        let at = |nanos: i128| rfc3339_millis(time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap());
        // Expected values from Python's datetime.fromtimestamp(.., timezone.utc).
        assert_eq!(at(1_764_368_535_438_999_999), "2025-11-28T22:22:15.438Z");
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400_005_000_000), "2000-02-29T00:00:00.005Z");
        let east = time::OffsetDateTime::from_unix_timestamp(0)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(5, 30, 0).unwrap());
        assert_eq!(rfc3339_millis(east), "1970-01-01T00:00:00.000Z");
        assert!(time::OffsetDateTime::parse(&now_rfc3339(), &Rfc3339).is_ok());
    }

    #[test]
    fn id_from_key_when_absent() {
        let a = RawArticle::decode(br#"{"title":"T"}"#, Some(b"k1"), 100).unwrap();
        assert_eq!(a.id(), "k1");
        assert_eq!(RawArticle::decode(br#"{"title":"T"}"#, None, 100), Err(DecodeError::MissingId));
        assert_eq!(RawArticle::decode(br#"{"title":"T"}"#, Some(b"\xff"), 100), Err(DecodeError::MissingId));
        assert_eq!(decode(r#"{"id":"  ","title":"T"}"#), Err(DecodeError::BlankId));
        assert_eq!(DecodeError::BlankId.class(), "missing_id");
    }

    #[test]
    fn a_leading_byte_order_mark_is_ignored_and_left_out_of_the_output() {
        let article = decode("\u{feff}{\"id\":\"bom\",\"body\":\"Text \u{feff}kept\",\"x\":1}").unwrap();
        assert_eq!((article.id(), article.body()), ("bom", Some("Text \u{feff}kept")));
        let enricher = crate::enrich::Enricher::from_config(&crate::config::Settings::default()).unwrap();
        let json = String::from_utf8(enricher.enrich(article).to_json()).unwrap();
        assert!(json.starts_with("{\"id\":\"bom\",\"body\":\"Text \u{feff}kept\",\"x\":1,"), "{json}");
        // Only at the very start: elsewhere it is not JSON white space.
        assert_eq!(decode(" \u{feff}{\"id\":\"a\",\"body\":\"b\"}").unwrap_err().class(), "not_json");
        assert_eq!(decode("\u{feff}\u{feff}{\"id\":\"a\",\"body\":\"b\"}").unwrap_err().class(), "not_json");
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
        assert!(e.to_string().contains("\"yesterday\" is not an RFC 3339 timestamp"), "{e}");
        // The value is the producer's: quoted whole, a long one made a dead letter (its error
        // header) too large to write even without the payload, which stopped the worker.
        let long = format!(r#"{{"id":"a","title":"T","published_at":"{}"}}"#, "\\u0085".repeat(100_000));
        let e = decode(&long).unwrap_err().to_string();
        assert!(e.len() < 600 && e.contains("…"), "{} bytes: {}", e.len(), &e[..e.len().min(700)]);
        let every_kind = [
            DecodeError::TooLarge { size: 2, limit: 1 },
            DecodeError::NotUtf8 { valid_up_to: 0 },
            DecodeError::NotJson { message: String::new() },
            DecodeError::TooDeep { message: String::new() },
            DecodeError::NotObject { found: "array" },
            DecodeError::MissingId,
            DecodeError::BlankId,
            DecodeError::NoText,
            DecodeError::WrongType { field: String::new(), expected: "string", found: "number" },
            DecodeError::InvalidField { field: String::new(), message: String::new() },
        ];
        let classes: std::collections::BTreeSet<&str> = every_kind.iter().map(DecodeError::class).collect();
        assert_eq!(classes, DecodeError::CLASSES.into_iter().collect());
    }

    #[test]
    fn error_messages_name_the_problem() {
        let e = decode(r#"{"id":"a","body":["x"]}"#).unwrap_err();
        assert_eq!(e.to_string(), "field `body` has the wrong type: expected string, found array");
    }

    fn enricher() -> crate::enrich::Enricher {
        use crate::enrich::{sentiment::SentimentAnalyzer, taxonomy::Taxonomy, Enricher};
        Enricher::with_parts(Taxonomy::builtin(), SentimentAnalyzer::new(Default::default()))
    }

    #[test]
    fn to_json_is_the_input_object_plus_enrichment() {
        let enricher = enricher();
        let tricky =
            "Taiwan \"quoted\" back\\slash tab\t nl\n cr\r bell\u{7} bs\u{8} ff\u{c} del\u{7f} café “x” 台湾 \u{1f}";
        let inputs = [
            serde_json::json!({"id": "a1", "title": tricky, "body": tricky.repeat(9), "n": 1.5, "x": {"k": [tricky, null, true]}, "k\"ey": 1}),
            serde_json::json!({"title": "short", "body": "", "enrichment": "replaced"}),
            serde_json::json!({"id": null, "title": "id from the key"}),
        ];
        for input in inputs {
            let raw =
                RawArticle::decode(input.to_string().as_bytes(), Some(b"key-1"), DEFAULT_MAX_MESSAGE_BYTES).unwrap();
            let record = enricher.enrich(raw);
            let output: serde_json::Map<String, Value> = serde_json::from_slice(&record.to_json()).unwrap();
            let mut expected = serde_json::Map::new();
            if input.get("id").is_none_or(Value::is_null) {
                expected.insert("id".into(), "key-1".into());
            }
            for (k, v) in input.as_object().unwrap() {
                if k != "enrichment" && !(k == "id" && v.is_null()) {
                    expected.insert(k.clone(), v.clone());
                }
            }
            expected.insert("enrichment".into(), serde_json::to_value(&record.enrichment).unwrap());
            assert_eq!(output.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
            assert_eq!(output, expected);
        }
    }

    #[test]
    fn unknown_fields_pass_through_as_received() {
        // Values serde_json would rewrite (or refuse) if parsed: digits beyond f64, big
        // integers, a trailing zero, an exponent out of f64's range, escapes, inner spacing.
        let members = [
            r#""ratio":0.1000000000000000055511151231257827"#,
            r#""views":123456789012345678901234567890"#,
            r#""price":1.50"#,
            r#""huge":1e400"#,
            r#""esc":"caf\u00e9 \/ \ud83d\ude00""#,
            r#""meta":{ "b" : [1, 2.0 ,{}] , "a":null }"#,
        ];
        let input = format!(r#"{{"id":"a","title":"Taiwan","body":"Taipei \u00e9",{}}}"#, members.join(","));
        let record = enricher().enrich(decode(&input).unwrap());
        let output = String::from_utf8(record.to_json()).unwrap();
        let prefix =
            format!(r#"{{"id":"a","title":"Taiwan","body":"Taipei \u00e9",{},"enrichment":{{"#, members.join(","));
        assert!(output.starts_with(&prefix), "{output}");
        // Spacing between the top-level members is not kept.
        let spaced = r#" { "id" : "a" , "title" : "T" , "n" : 1.50 } "#;
        let output = String::from_utf8(enricher().enrich(decode(spaced).unwrap()).to_json()).unwrap();
        assert!(output.starts_with(r#"{"id":"a","title":"T","n":1.50,"enrichment":{"#), "{output}");
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
