//! Compiles the validated [`Model`] into one Aho-Corasick automaton over the phrases of every
//! tag, so that matching costs one pass over the text however many tags there are.
//!
//! Spelling variants are expanded here, at start-up, instead of normalising each article: a
//! written space or hyphen matches a space, a hyphen or (for hyphens) an en dash, and an
//! apostrophe matches both `'` and `’`. Each variant is a pattern of its own, matched ASCII
//! case-insensitively and leftmost-longest; word boundaries are checked after matching.
//!
//! Leftmost-longest over *all* tags would let one tag's long phrase hide another tag's shorter
//! phrase inside it ("south china sea" hiding "china"). To keep every tag's view independent,
//! each pattern carries a precomputed list of [`Entry`]s: for every tag, the leftmost-longest
//! parse of the pattern text using only that tag's phrases and exclusions. A tag's exclusion
//! ("made in taiwan") thus vetoes that tag's phrases inside it and nobody else's.

use super::spec::{Ctx, Model, Pos};
use super::TaxonomyError;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind, StartKind};
use std::collections::HashMap;

/// `Entry::term` value of an exclusion.
pub(super) const EXCLUDE: u32 = u32::MAX;

/// Above this many variants a phrase gets only its written form plus the all-space and
/// all-hyphen forms, so that a long phrase cannot blow up the automaton.
const MAX_VARIANTS: usize = 32;

/// What a match of one pattern means for one tag.
#[derive(Debug)]
pub(super) struct Entry {
    pub tag: u16,
    /// Index into [`Compiled::terms`], or [`EXCLUDE`].
    pub term: u32,
    /// Position of this term inside the matched pattern.
    pub off: u16,
    pub len: u16,
    /// For case-sensitive terms, the exact bytes the text must show at this position.
    pub exact: Option<Box<[u8]>>,
}

/// One phrase term, as reported in evidence.
#[derive(Debug)]
pub(super) struct TermInfo {
    pub group: u8,
    /// The phrase as written in the taxonomy (not as matched): evidence stays stable across
    /// spelling variants.
    pub name: Box<str>,
}

#[derive(Debug)]
pub(super) struct Compiled {
    pub ac: AhoCorasick,
    /// Per pattern: whether its last character is a word character, so the character after a
    /// match must not be one (the first character always is; validation ensures it).
    pub check_right: Vec<bool>,
    /// Per pattern: its entries, `entries[start..end]`.
    pub pattern_entries: Vec<(u32, u32)>,
    pub entries: Vec<Entry>,
    pub terms: Vec<TermInfo>,
}

/// Who owns one pattern within one tag (before parses are computed).
struct Owner {
    tag: u16,
    term: u32,
    /// The variant in its written case, for case-sensitive terms.
    exact: Option<Box<[u8]>>,
    /// For error messages.
    phrase: String,
    pos: Pos,
}

pub(super) fn compile(ctx: &Ctx<'_>, model: &Model) -> Result<Compiled, TaxonomyError> {
    let mut patterns: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut owners: Vec<Vec<Owner>> = Vec::new();
    let mut terms: Vec<TermInfo> = Vec::new();

    for (ti, tag) in model.tags.iter().enumerate() {
        let ti = ti as u16;
        let mut add = |text: &str, term: u32, exact: bool, pos: Pos| -> Result<(), TaxonomyError> {
            for variant in variants(text) {
                let key = variant.to_ascii_lowercase();
                let pid = *index.entry(key.clone()).or_insert_with(|| {
                    patterns.push(key);
                    owners.push(Vec::new());
                    (patterns.len() - 1) as u32
                });
                let list = &mut owners[pid as usize];
                if let Some(other) = list.iter().find(|o| o.tag == ti) {
                    if other.term == term {
                        continue; // two variants of one phrase coincide
                    }
                    let what = |t: u32| if t == EXCLUDE { "exclusion" } else { "phrase" };
                    return Err(ctx.err_at(
                        pos,
                        Some(&tag.id),
                        format!(
                            "{} \"{}\" duplicates {} \"{}\" on line {} (same words once case, spaces and hyphens are ignored)",
                            what(term),
                            text,
                            what(other.term),
                            other.phrase,
                            other.pos.line
                        ),
                    ));
                }
                list.push(Owner {
                    tag: ti,
                    term,
                    exact: exact.then(|| variant.clone().into_bytes().into_boxed_slice()),
                    phrase: text.to_owned(),
                    pos,
                });
            }
            Ok(())
        };
        for (gi, group) in tag.groups.iter().enumerate() {
            for p in &group.phrases {
                let term = terms.len() as u32;
                terms.push(TermInfo { group: gi as u8, name: p.text.clone().into_boxed_str() });
                add(&p.text, term, group.case_sensitive, p.pos)?;
            }
        }
        for p in &tag.exclude {
            add(&p.text, EXCLUDE, false, p.pos)?;
        }
    }

    // Per-tag parses of every pattern, from an overlapping search of the patterns over themselves.
    let overlapping =
        AhoCorasick::builder().match_kind(MatchKind::Standard).ascii_case_insensitive(true).build(&patterns).map_err(
            |e| ctx.err_at(Pos { line: 1, column: 1 }, None, format!("cannot build the phrase automaton: {e}")),
        )?;
    let mut entries = Vec::new();
    let mut pattern_entries = Vec::with_capacity(patterns.len());
    let mut cands: Vec<(u16, usize, usize, u32, u32)> = Vec::new(); // tag, start, end, term, inner pid
    for (pid, pattern) in patterns.iter().enumerate() {
        cands.clear();
        for m in overlapping.find_overlapping_iter(pattern.as_str()) {
            let (s, e) = (m.start(), m.end());
            let inner = m.pattern().as_usize();
            if !(boundary_before(pattern.as_bytes(), s)
                && (!ends_in_word(&patterns[inner]) || boundary_after(pattern.as_bytes(), e)))
            {
                continue;
            }
            for o in &owners[inner] {
                cands.push((o.tag, s, e, o.term, inner as u32));
            }
        }
        // An exclusion must contain a phrase of its own tag, or it vetoes nothing.
        for o in owners[pid].iter().filter(|o| o.term == EXCLUDE) {
            let tag = &model.tags[o.tag as usize];
            let hides_phrase = cands.iter().any(|c| c.0 == o.tag && c.3 != EXCLUDE);
            let has_regex = tag.groups.iter().any(|g| !g.regexes.is_empty());
            if !hides_phrase && !has_regex {
                return Err(ctx.err_at(
                    o.pos,
                    Some(&tag.id),
                    format!(
                        "exclusion \"{}\" contains none of the tag's phrases, so it vetoes nothing \
                         (write the whole expression, e.g. \"made in taiwan\" to veto \"taiwan\")",
                        o.phrase
                    ),
                ));
            }
        }
        // Leftmost-longest per tag.
        cands.sort_unstable_by(|a, b| (a.0, a.1, std::cmp::Reverse(a.2)).cmp(&(b.0, b.1, std::cmp::Reverse(b.2))));
        let first = entries.len() as u32;
        let mut last: Option<(u16, usize)> = None; // (tag, end of last taken)
        for &(tag, s, e, term, inner) in &cands {
            if let Some((t, end)) = last {
                if t == tag && s < end {
                    continue;
                }
            }
            last = Some((tag, e));
            let exact = owners[inner as usize].iter().find(|o| o.tag == tag).and_then(|o| o.exact.clone());
            entries.push(Entry { tag, term, off: s as u16, len: (e - s) as u16, exact });
        }
        entries[first as usize..].sort_by_key(|e| e.off);
        pattern_entries.push((first, entries.len() as u32));
    }

    let check_right = patterns.iter().map(|p| ends_in_word(p)).collect();
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .ascii_case_insensitive(true)
        // Anchored searches retry a shorter phrase when the longest one fails its word boundary.
        .start_kind(StartKind::Both)
        // A DFA is several times faster than the NFA on this workload; with a few thousand
        // patterns it stays within a few megabytes.
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .or_else(|_| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(true)
                .start_kind(StartKind::Both)
                .build(&patterns)
        })
        .map_err(|e| ctx.err_at(Pos { line: 1, column: 1 }, None, format!("cannot build the phrase automaton: {e}")))?;
    Ok(Compiled { ac, check_right, pattern_entries, entries, terms })
}

/// Spelling variants of a normalised phrase (see the module documentation).
pub(super) fn variants(phrase: &str) -> Vec<String> {
    // Split into literal pieces and the slots between them.
    let mut pieces: Vec<String> = vec![String::new()];
    let mut slots: Vec<&'static [&'static str]> = Vec::new();
    for c in phrase.chars() {
        let options: Option<&'static [&'static str]> = match c {
            ' ' => Some(&[" ", "-"]),
            '-' | '–' => Some(&["-", " ", "–"]),
            '\'' | '’' => Some(&["'", "’"]),
            _ => None,
        };
        match options {
            Some(o) => {
                slots.push(o);
                pieces.push(String::new());
            }
            None => pieces.last_mut().expect("non-empty").push(c),
        }
    }
    let total = slots.iter().try_fold(1usize, |acc, s| acc.checked_mul(s.len())).unwrap_or(usize::MAX);
    let mut out: Vec<String>;
    if total <= MAX_VARIANTS {
        // Cartesian product, slot by slot.
        out = vec![pieces[0].clone()];
        for (slot, piece) in slots.iter().zip(&pieces[1..]) {
            out = out.iter().flat_map(|prefix| slot.iter().map(move |o| format!("{prefix}{o}{piece}"))).collect();
        }
    } else {
        out = vec![phrase.to_owned()];
        for sep in [" ", "-"] {
            for apostrophe in ["'", "’"] {
                let mut v = pieces[0].clone();
                for (slot, piece) in slots.iter().zip(&pieces[1..]) {
                    v.push_str(if slot[0] == "'" { apostrophe } else { sep });
                    v.push_str(piece);
                }
                out.push(v);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether `c` counts as part of a word for whole-word matching.
#[inline]
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn ends_in_word(s: &str) -> bool {
    s.chars().next_back().is_some_and(is_word_char)
}

/// Whether a word may start at byte `at` of `hay`: `at` is 0 or follows a non-word character.
#[inline]
pub(super) fn boundary_before(hay: &[u8], at: usize) -> bool {
    if at == 0 {
        return true;
    }
    let b = hay[at - 1];
    if b.is_ascii() {
        return !b.is_ascii_alphanumeric();
    }
    // Walk back to the start of the UTF-8 sequence that ends at `at`.
    let mut start = at - 1;
    while start > 0 && at - start < 4 && hay[start] & 0xC0 == 0x80 {
        start -= 1;
    }
    match std::str::from_utf8(&hay[start..at]) {
        Ok(s) => !s.chars().next_back().is_some_and(is_word_char),
        Err(_) => true,
    }
}

/// Whether a word may end at byte `at` of `hay`: `at` is the end or a non-word character follows.
#[inline]
pub(super) fn boundary_after(hay: &[u8], at: usize) -> bool {
    let Some(&b) = hay.get(at) else { return true };
    if b.is_ascii() {
        return !b.is_ascii_alphanumeric();
    }
    let end = (at + 4).min(hay.len());
    let s = match std::str::from_utf8(&hay[at..end]) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&hay[at..at + e.valid_up_to()]).unwrap_or(""),
    };
    !s.chars().next().is_some_and(is_word_char)
}
