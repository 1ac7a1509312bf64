//! The taxonomy file format (TOML) and its validation.
//!
//! Parsing keeps the span of every value (`toml::Spanned`) so that each error can name the file,
//! the tag and the line; unknown keys are errors (`deny_unknown_fields`) because a misspelt key
//! that is silently ignored is a tag that silently stops working. The output is a [`Model`]:
//! plain validated data, no automata yet (see `compile`).

use super::TaxonomyError;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use toml::Spanned;

/// Defaults of the `[scoring]` table; the commented default taxonomy explains each.
const DEFAULT_HALF_SATURATION: f64 = 4.0;
const DEFAULT_REFERENCE_LENGTH: u64 = 3000;
const DEFAULT_MIN_LENGTH: u64 = 2000;
const DEFAULT_MAX_LENGTH: u64 = 24_000;
const DEFAULT_LENGTH_EXPONENT: f64 = 0.5;
const DEFAULT_THRESHOLD: f64 = 0.5;
const DEFAULT_TITLE_WEIGHT: f64 = 1.0;
const DEFAULT_MAX_EVIDENCE: u32 = 12;

/// Limits that keep the compiled form compact (offsets in `u16`, group sets in a `u64`).
pub(super) const MAX_GROUPS_PER_TAG: usize = 64;
const MAX_PHRASE_BYTES: usize = 200;
const MAX_WINDOW: u32 = 10;
const MAX_WEIGHT: f64 = 100.0;
/// Examples are sentences or short articles; every one is enriched at each compilation.
const MAX_EXAMPLE_BYTES: usize = 20_000;

// ---------------------------------------------------------------------------------------------
// Raw file structure, as written by users.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    version: Spanned<String>,
    #[serde(default)]
    scoring: ScoringSpec,
    #[serde(default)]
    tag: Vec<TagSpec>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScoringSpec {
    half_saturation: Option<Spanned<f64>>,
    reference_length: Option<Spanned<u64>>,
    min_length: Option<Spanned<u64>>,
    max_length: Option<Spanned<u64>>,
    length_exponent: Option<Spanned<f64>>,
    threshold: Option<Spanned<f64>>,
    title_weight: Option<Spanned<f64>>,
    max_evidence: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagSpec {
    id: Spanned<String>,
    label: Spanned<String>,
    description: Spanned<String>,
    threshold: Option<Spanned<f64>>,
    title_weight: Option<Spanned<f64>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    terms: BTreeMap<Spanned<String>, GroupSpec>,
    #[serde(default)]
    context: Vec<ContextSpec>,
    #[serde(default)]
    example: Vec<ExampleSpec>,
}

/// `[[tag.example]]`: a text the tag must (`tagged = true`) or must not get, checked whenever
/// the taxonomy is compiled.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleSpec {
    #[serde(default)]
    title: Option<Spanned<String>>,
    text: Spanned<String>,
    tagged: Spanned<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    weight: Option<Spanned<f64>>,
    #[serde(default)]
    case_sensitive: bool,
    #[serde(default)]
    phrases: Vec<Spanned<String>>,
    #[serde(default)]
    regex: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextSpec {
    groups: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    unless: Vec<Spanned<String>>,
    window: Option<Spanned<u32>>,
    weight: Option<Spanned<f64>>,
}

// ---------------------------------------------------------------------------------------------
// Validated model.

/// A position in the taxonomy file, for error messages raised after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug)]
pub(super) struct Model {
    pub version: String,
    pub scoring: Scoring,
    pub tags: Vec<TagDef>,
}

/// Global scoring parameters (see `config/taxonomy.toml` for their meaning).
#[derive(Debug, Clone, Copy)]
pub(super) struct Scoring {
    pub half_saturation: f64,
    pub reference_length: f64,
    pub min_length: f64,
    pub max_length: f64,
    pub length_exponent: f64,
    /// At most this many evidence entries per tag in the output, strongest first.
    pub max_evidence: usize,
}

#[derive(Debug)]
pub(super) struct TagDef {
    pub id: String,
    /// Where the id is written: tag-level errors point here.
    pub pos: Pos,
    pub label: String,
    pub description: String,
    pub threshold: f64,
    pub title_weight: f64,
    pub groups: Vec<GroupDef>,
    pub rules: Vec<RuleDef>,
    pub exclude: Vec<PhraseDef>,
    pub examples: Vec<ExampleDef>,
}

/// A `[[tag.example]]`, checked once the taxonomy is compiled (`Taxonomy::failing_examples`).
#[derive(Debug)]
pub(super) struct ExampleDef {
    pub title: String,
    pub text: String,
    pub tagged: bool,
    /// Where `text` is written: a failing example points here.
    pub pos: Pos,
}

#[derive(Debug)]
pub(super) struct GroupDef {
    pub name: String,
    pub weight: f64,
    pub case_sensitive: bool,
    pub phrases: Vec<PhraseDef>,
    pub regexes: Vec<RegexDef>,
}

/// A phrase with its white space normalised (trimmed, runs collapsed to one space) and its
/// decomposed accents composed.
#[derive(Debug)]
pub(super) struct PhraseDef {
    pub text: String,
    pub pos: Pos,
}

#[derive(Debug)]
pub(super) struct RegexDef {
    pub regex: regex::Regex,
    pub pos: Pos,
}

/// A context rule: fires in a sentence when every group of `groups` (a bit set of group
/// indices) has a hit within `window` sentences of it, and no group of `unless` does.
#[derive(Debug, Clone, Copy)]
pub(super) struct RuleDef {
    pub groups: u64,
    pub unless: u64,
    pub window: u32,
    pub weight: f64,
}

/// Error construction with the file's name and text at hand.
pub(super) struct Ctx<'a> {
    pub origin: &'a str,
    pub src: &'a str,
    /// Byte offsets where the lines of `src` start: every phrase records its position, so
    /// positions are looked up, not counted from the start of the file each time.
    line_starts: Vec<usize>,
}

impl<'a> Ctx<'a> {
    pub fn new(origin: &'a str, src: &'a str) -> Self {
        let line_starts = std::iter::once(0).chain(src.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Ctx { origin, src, line_starts }
    }

    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.src.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line - 1];
        Pos { line, column: self.src[line_start..offset].chars().count() + 1 }
    }

    pub fn err_at(&self, pos: Pos, tag: Option<&str>, message: impl Into<String>) -> TaxonomyError {
        TaxonomyError::Invalid {
            origin: self.origin.to_owned(),
            line: pos.line,
            column: pos.column,
            tag: tag.map(str::to_owned),
            message: message.into(),
        }
    }

    fn err(&self, span: Range<usize>, tag: Option<&str>, message: impl Into<String>) -> TaxonomyError {
        self.err_at(self.pos(span.start), tag, message)
    }

    /// The id of the `[[tag]]` section that contains byte `offset`, found by scanning the text.
    /// Used for errors from the TOML parser itself, which come before any id is known.
    fn enclosing_tag(&self, offset: usize) -> Option<String> {
        let mut current: Option<usize> = None; // byte offset of the enclosing `[[tag]]` header
        let mut at = 0;
        for line in self.src.split_inclusive('\n') {
            if at > offset {
                break;
            }
            let t = line.trim();
            if t.starts_with('[') {
                let header: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                if header.starts_with("[[tag]]") {
                    current = Some(at);
                } else if !header.starts_with("[tag.") && !header.starts_with("[[tag.") {
                    current = None;
                }
            }
            at += line.len();
        }
        let start = current?;
        // The id is the first `id = "…"` line of that section.
        for line in self.src[start..].lines().skip(1) {
            let t = line.trim();
            if t.starts_with('[') {
                break;
            }
            if let Some(rest) = t.strip_prefix("id") {
                let rest = rest.trim_start();
                if let Some(value) = rest.strip_prefix('=') {
                    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                    return Some(value.to_owned());
                }
            }
        }
        None
    }
}

/// A TOML error's message as a taxonomy author reads it: no Rust type names ("expected u64"),
/// and a huge number written as such (`1e300` is not spelt out in 301 digits).
fn without_rust_types(message: &str) -> String {
    use std::sync::LazyLock;
    static RUST_TYPE: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"expected (?:u8|u16|u32|u64|usize|f32|f64)\b").expect("valid"));
    static LONG_NUMBER: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"`(-?[0-9]{16,}(?:\.[0-9]+)?)`").expect("valid"));
    let message = RUST_TYPE.replace_all(message, |c: &regex::Captures<'_>| match &c[0] {
        "expected f32" | "expected f64" => "expected a number".to_owned(),
        _ => "expected a whole number, 0 or more".to_owned(),
    });
    LONG_NUMBER
        .replace_all(&message, |c: &regex::Captures<'_>| match c[1].parse::<f64>() {
            Ok(n) => format!("`{n:e}`"),
            Err(_) => c[0].to_owned(),
        })
        .into_owned()
}

/// Parses and validates a taxonomy file.
pub(super) fn parse(ctx: &Ctx<'_>) -> Result<Model, TaxonomyError> {
    let file: FileSpec = toml::from_str(ctx.src).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let tag = ctx.enclosing_tag(span.start);
        ctx.err(span, tag.as_deref(), without_rust_types(&e.message().trim_end().replace('\n', "; ")))
    })?;

    let version = file.version.get_ref().trim();
    if version.is_empty() {
        return Err(ctx.err(file.version.span(), None, "`version` must not be empty"));
    }

    let s = &file.scoring;
    let scoring = Scoring {
        half_saturation: positive(ctx, None, "half_saturation", s.half_saturation.as_ref(), DEFAULT_HALF_SATURATION)?,
        reference_length: length(ctx, "reference_length", s.reference_length.as_ref(), DEFAULT_REFERENCE_LENGTH)?,
        min_length: length(ctx, "min_length", s.min_length.as_ref(), DEFAULT_MIN_LENGTH)?,
        max_length: length(ctx, "max_length", s.max_length.as_ref(), DEFAULT_MAX_LENGTH)?,
        length_exponent: in_range(
            ctx,
            None,
            "length_exponent",
            s.length_exponent.as_ref(),
            DEFAULT_LENGTH_EXPONENT,
            0.0,
            1.0,
        )?,
        max_evidence: match &s.max_evidence {
            None => DEFAULT_MAX_EVIDENCE as usize,
            Some(v) if (1..=1000).contains(v.get_ref()) => *v.get_ref() as usize,
            Some(v) => return Err(ctx.err(v.span(), None, "`max_evidence` must be between 1 and 1000")),
        },
    };
    if scoring.max_length < scoring.min_length {
        let at = s.max_length.as_ref().or(s.min_length.as_ref()).map_or(0..0, Spanned::span);
        return Err(ctx.err(
            at,
            None,
            format!("`max_length` ({}) must not be below `min_length` ({})", scoring.max_length, scoring.min_length),
        ));
    }
    let default_threshold = threshold(ctx, None, s.threshold.as_ref(), DEFAULT_THRESHOLD)?;
    let default_title_weight = weight(ctx, None, "title_weight", s.title_weight.as_ref(), DEFAULT_TITLE_WEIGHT)?;

    if file.tag.is_empty() {
        return Err(ctx.err(file.version.span(), None, "the taxonomy defines no tags (add `[[tag]]` sections)"));
    }

    let mut seen_ids: HashMap<String, Pos> = HashMap::new();
    let mut tags = Vec::with_capacity(file.tag.len());
    for spec in file.tag {
        let tag = tag_def(ctx, spec, default_threshold, default_title_weight)?;
        if let Some(first) = seen_ids.insert(tag.id.clone(), tag.pos) {
            return Err(ctx.err_at(
                tag.pos,
                Some(&tag.id),
                format!("duplicate tag id `{}` (first defined on line {})", tag.id, first.line),
            ));
        }
        tags.push(tag);
    }
    Ok(Model { version: version.to_owned(), scoring, tags })
}

fn tag_def(
    ctx: &Ctx<'_>,
    spec: TagSpec,
    default_threshold: f64,
    default_title_weight: f64,
) -> Result<TagDef, TaxonomyError> {
    let id = spec.id.get_ref().trim().to_owned();
    let id_span = spec.id.span();
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        // Ids end up in Kafka topic names (`news.tag.<id>`) and metric labels: keep them plain.
        return Err(ctx.err(
            id_span,
            Some(&id),
            "tag id must be 1 to 64 characters of lower-case ASCII letters, digits and `_`",
        ));
    }
    let tag = Some(id.as_str());
    let label = spec.label.get_ref().trim().to_owned();
    if label.is_empty() {
        return Err(ctx.err(spec.label.span(), tag, "`label` must not be empty"));
    }
    let description = spec.description.get_ref().trim().to_owned();
    if description.is_empty() {
        return Err(ctx.err(
            spec.description.span(),
            tag,
            "`description` must not be empty (it is the definition editors tune against)",
        ));
    }
    let threshold = threshold(ctx, tag, spec.threshold.as_ref(), default_threshold)?;
    let title_weight = weight(ctx, tag, "title_weight", spec.title_weight.as_ref(), default_title_weight)?;

    if spec.terms.is_empty() {
        return Err(ctx.err(id_span, tag, "tag has no term groups (add a `[tag.terms.<name>]` table)"));
    }
    if spec.terms.len() > MAX_GROUPS_PER_TAG {
        return Err(ctx.err(id_span, tag, format!("tag has more than {MAX_GROUPS_PER_TAG} term groups")));
    }

    let mut groups = Vec::with_capacity(spec.terms.len());
    let mut group_index: HashMap<String, usize> = HashMap::new();
    let mut any_regex = false;
    for (name, g) in spec.terms {
        let name_span = name.span();
        let name = name.into_inner();
        let group_tag = tag;
        if name.trim().is_empty() {
            return Err(ctx.err(name_span, group_tag, "term group name must not be empty"));
        }
        // A negative weight makes the group counter-evidence.
        let weight = in_range(ctx, tag, "weight", g.weight.as_ref(), 1.0, -MAX_WEIGHT, MAX_WEIGHT)?;
        if g.phrases.is_empty() && g.regex.is_empty() {
            return Err(ctx.err(name_span, tag, format!("term group `{name}` has neither `phrases` nor `regex`")));
        }
        let mut phrases = Vec::with_capacity(g.phrases.len());
        for p in &g.phrases {
            phrases.push(phrase(ctx, tag, p)?);
        }
        let mut regexes = Vec::with_capacity(g.regex.len());
        for r in &g.regex {
            regexes.push(regex_def(ctx, tag, r, g.case_sensitive)?);
        }
        any_regex |= !regexes.is_empty();
        group_index.insert(name.clone(), groups.len());
        groups.push(GroupDef { name, weight, case_sensitive: g.case_sensitive, phrases, regexes });
    }
    if any_regex && !groups.iter().any(|g| g.weight > 0.0 && !g.phrases.is_empty()) {
        // Regexes run only for tags that already have a hit of a phrase of positive weight (that
        // keeps the hot path to one automaton pass), so without such phrases they never run.
        return Err(ctx.err(
            id_span,
            tag,
            "tag has regex terms but no phrases of positive weight; regexes only run once such a phrase has matched",
        ));
    }

    let mut rules = Vec::with_capacity(spec.context.len());
    let mut referenced = 0u64;
    let group_bit = |g: &Spanned<String>| -> Result<u64, TaxonomyError> {
        match group_index.get(g.get_ref().as_str()) {
            Some(&i) => Ok(1u64 << i),
            None => {
                let known: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
                Err(ctx.err(
                    g.span(),
                    tag,
                    format!(
                        "context rule refers to unknown term group `{}` (known: {})",
                        g.get_ref(),
                        known.join(", ")
                    ),
                ))
            }
        }
    };
    for rule in &spec.context {
        let mut mask = 0u64;
        for g in rule.groups.get_ref() {
            let bit = group_bit(g)?;
            if groups[bit.trailing_zeros() as usize].weight < 0.0 {
                return Err(ctx.err(
                    g.span(),
                    tag,
                    format!(
                        "group `{}` is counter-evidence (negative weight): it can be in `unless`, not in `groups`",
                        g.get_ref()
                    ),
                ));
            }
            if mask & bit != 0 {
                return Err(ctx.err(g.span(), tag, format!("context rule lists group `{}` twice", g.get_ref())));
            }
            mask |= bit;
        }
        if mask.count_ones() < 2 {
            return Err(ctx.err(rule.groups.span(), tag, "context rule needs at least two term groups in `groups`"));
        }
        let mut unless = 0u64;
        for g in &rule.unless {
            let bit = group_bit(g)?;
            if mask & bit != 0 {
                return Err(ctx.err(
                    g.span(),
                    tag,
                    format!("group `{}` is both required and in `unless`", g.get_ref()),
                ));
            }
            unless |= bit;
        }
        let window = match &rule.window {
            Some(w) if *w.get_ref() > MAX_WINDOW => {
                return Err(ctx.err(w.span(), tag, format!("context `window` must be at most {MAX_WINDOW} sentences")))
            }
            Some(w) => *w.get_ref(),
            None => 0,
        };
        let weight = weight(ctx, tag, "weight", rule.weight.as_ref(), 1.0)?;
        referenced |= mask | unless;
        rules.push(RuleDef { groups: mask, unless, window, weight });
    }

    // A group of weight 0 only counts through context rules: if no rule uses it, it is dead.
    for (i, g) in groups.iter().enumerate() {
        if g.weight == 0.0 && referenced & (1 << i) == 0 {
            let pos = g
                .phrases
                .first()
                .map(|p| p.pos)
                .or_else(|| g.regexes.first().map(|r| r.pos))
                .unwrap_or(ctx.pos(id_span.start));
            return Err(ctx.err_at(
                pos,
                tag,
                format!("term group `{}` has weight 0 and no context rule uses it, so it can never count", g.name),
            ));
        }
    }
    if !groups.iter().any(|g| g.weight > 0.0) && rules.iter().all(|r| r.weight == 0.0) {
        return Err(ctx.err(id_span, tag, "no group or context rule has a positive weight: the tag can never score"));
    }

    let mut exclude = Vec::with_capacity(spec.exclude.len());
    for e in &spec.exclude {
        exclude.push(phrase(ctx, tag, e)?);
    }

    let mut examples = Vec::with_capacity(spec.example.len());
    for e in spec.example {
        let title = e.title.map(Spanned::into_inner).unwrap_or_default();
        let text = e.text.get_ref();
        // As an article: it needs a title or a body, and both count against the size limit.
        if title.trim().is_empty() && text.trim().is_empty() {
            return Err(ctx.err(e.text.span(), tag, "example has no text: `title` and `text` are both empty"));
        }
        if title.len() + text.len() > MAX_EXAMPLE_BYTES {
            return Err(ctx.err(
                e.text.span(),
                tag,
                format!("example is over {MAX_EXAMPLE_BYTES} bytes (`title` and `text` together)"),
            ));
        }
        examples.push(ExampleDef {
            title,
            text: text.to_owned(),
            tagged: *e.tagged.get_ref(),
            pos: ctx.pos(e.text.span().start),
        });
    }

    Ok(TagDef {
        id,
        pos: ctx.pos(id_span.start),
        label,
        description,
        threshold,
        title_weight,
        groups,
        rules,
        exclude,
        examples,
    })
}

/// Validates and normalises one phrase: white space as [`PhraseDef`] says, accents composed as
/// they are in the texts it is matched against ([`crate::enrich::text::NormalizedCopy`]).
fn phrase(ctx: &Ctx<'_>, tag: Option<&str>, p: &Spanned<String>) -> Result<PhraseDef, TaxonomyError> {
    let pos = ctx.pos(p.span().start);
    let text = p.get_ref().split_whitespace().collect::<Vec<_>>().join(" ");
    let text = crate::enrich::text::NormalizedCopy::of(&text, 0).map_or(text, |copy| copy.text);
    if text.is_empty() {
        return Err(ctx.err_at(pos, tag, "empty phrase"));
    }
    if text.len() > MAX_PHRASE_BYTES {
        return Err(ctx.err_at(pos, tag, format!("phrase longer than {MAX_PHRASE_BYTES} bytes")));
    }
    if !text.chars().next().is_some_and(char::is_alphanumeric) {
        // Matches are whole words; a phrase starting with punctuation has no word to anchor on.
        return Err(ctx.err_at(pos, tag, format!("phrase \"{text}\" must start with a letter or digit")));
    }
    if text.chars().any(char::is_control) {
        return Err(ctx.err_at(pos, tag, format!("phrase \"{text}\" contains a control character")));
    }
    let seps = |c: char| matches!(c, ' ' | '-' | '–');
    let chars: Vec<char> = text.chars().collect();
    if chars.windows(2).any(|w| seps(w[0]) && seps(w[1])) || chars.last().copied().is_some_and(seps) {
        return Err(ctx.err_at(pos, tag, format!("phrase \"{text}\" has a dangling or doubled space/hyphen")));
    }
    Ok(PhraseDef { text, pos })
}

fn regex_def(
    ctx: &Ctx<'_>,
    tag: Option<&str>,
    r: &Spanned<String>,
    case_sensitive: bool,
) -> Result<RegexDef, TaxonomyError> {
    let pos = ctx.pos(r.span().start);
    let src = r.get_ref();
    if src.trim().is_empty() {
        return Err(ctx.err_at(pos, tag, "empty regex"));
    }
    let regex = regex::RegexBuilder::new(src)
        .case_insensitive(!case_sensitive)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| ctx.err_at(pos, tag, format!("invalid regex `{src}`: {e}")))?;
    if regex.is_match("") {
        return Err(ctx.err_at(pos, tag, format!("regex `{src}` matches the empty string")));
    }
    Ok(RegexDef { regex, pos })
}

fn threshold(ctx: &Ctx<'_>, tag: Option<&str>, v: Option<&Spanned<f64>>, default: f64) -> Result<f64, TaxonomyError> {
    match v {
        None => Ok(default),
        Some(v) => {
            let x = *v.get_ref();
            if x > 0.0 && x < 1.0 {
                Ok(x)
            } else {
                Err(ctx.err(
                    v.span(),
                    tag,
                    format!("`threshold` must be strictly between 0 and 1 (scores lie in [0, 1)), got {x}"),
                ))
            }
        }
    }
}

fn weight(
    ctx: &Ctx<'_>,
    tag: Option<&str>,
    key: &str,
    v: Option<&Spanned<f64>>,
    default: f64,
) -> Result<f64, TaxonomyError> {
    in_range(ctx, tag, key, v, default, 0.0, MAX_WEIGHT)
}

fn positive(
    ctx: &Ctx<'_>,
    tag: Option<&str>,
    key: &str,
    v: Option<&Spanned<f64>>,
    default: f64,
) -> Result<f64, TaxonomyError> {
    let x = in_range(ctx, tag, key, v, default, 0.0, 1e6)?;
    if x == 0.0 {
        let span = v.map_or(0..0, |v| v.span());
        return Err(ctx.err(span, tag, format!("`{key}` must be greater than 0")));
    }
    Ok(x)
}

fn in_range(
    ctx: &Ctx<'_>,
    tag: Option<&str>,
    key: &str,
    v: Option<&Spanned<f64>>,
    default: f64,
    min: f64,
    max: f64,
) -> Result<f64, TaxonomyError> {
    match v {
        None => Ok(default),
        Some(v) => {
            let x = *v.get_ref();
            if x.is_finite() && x >= min && x <= max {
                Ok(x)
            } else {
                Err(ctx.err(v.span(), tag, format!("`{key}` must be between {min} and {max}, got {x}")))
            }
        }
    }
}

fn length(ctx: &Ctx<'_>, key: &str, v: Option<&Spanned<u64>>, default: u64) -> Result<f64, TaxonomyError> {
    match v {
        None => Ok(default as f64),
        Some(v) if *v.get_ref() == 0 || *v.get_ref() > 10_000_000 => {
            Err(ctx.err(v.span(), None, format!("`{key}` must be between 1 and 10000000 bytes")))
        }
        Some(v) => Ok(*v.get_ref() as f64),
    }
}
