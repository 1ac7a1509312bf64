//! Compiles the validated [`Model`] into one Aho-Corasick automaton over the phrases of every
//! tag, so that matching costs one pass over the text however many tags there are.
//!
//! The automaton is leftmost-longest and ASCII case-insensitive, and it is run *anchored at word
//! starts* (see `matcher`): every phrase starts with a letter or digit and must begin a word, so
//! this finds exactly the matches an unanchored search followed by a boundary check would, while
//! a small [`StartFilter`] lets most words be skipped without touching the automaton.
//!
//! Spelling variants are expanded here, at start-up, instead of normalising each article: a
//! written hyphen matches a hyphen, a space or an en dash, and an apostrophe matches both `'`
//! and `’`. A written space is a space here: making spaces flexible too would multiply the
//! patterns of every multi-word phrase (and the automaton with them). Text with other white
//! space between words is matched as its copy with each run one space instead
//! (`Taxonomy::run`, [`crate::enrich::text::NormalizedCopy`]); that copy also has its accents
//! composed (NFC), and so have the phrases.
//! Each variant is a pattern of its own, matched ASCII case-insensitively and leftmost-longest;
//! word boundaries are checked after matching.
//!
//! Leftmost-longest over *all* tags would let one tag's long phrase hide another tag's shorter
//! phrase inside it ("south china sea" hiding "china"). To keep every tag's view independent,
//! each pattern carries a precomputed list of [`Entry`]s: for every tag, the leftmost-longest
//! parse of the pattern text using only that tag's phrases and exclusions. A tag's exclusion
//! ("made in taiwan") thus vetoes that tag's phrases inside it and nobody else's.

use super::spec::{Ctx, Model, Pos};
use super::words::{boundary_after, boundary_before, needs_boundary_after};
use super::TaxonomyError;
use crate::swar::HIGH;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::HashMap;

/// `Entry::term` value of an exclusion.
pub(super) const EXCLUDE: u32 = u32::MAX;

/// Above this many variants a phrase gets only its written form plus the forms with every
/// hyphen written alike, so that a long phrase cannot blow up the automaton.
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
    /// All phrase variants of all tags: leftmost-longest, ASCII case-insensitive, walked
    /// anchored from word starts. A contiguous NFA: within a few percent of a DFA's speed for
    /// these short anchored walks at a twentieth of the memory (≈0.2 MB instead of ≈4 MB).
    pub nfa: NFA,
    /// Which words can start a phrase (see [`StartFilter`]).
    pub filter: StartFilter,
    /// Per pattern: whether its last character is a word character, so the character after a
    /// match must not be one (the first character always is; validation ensures it).
    pub check_right: Vec<bool>,
    /// Per pattern: its entries, `entries[start..end]`.
    pub pattern_entries: Vec<(u32, u32)>,
    pub entries: Vec<Entry>,
    pub terms: Vec<TermInfo>,
}

/// A Bloom-style filter over the places where a phrase can begin, in two steps.
///
/// First, keyed by the word's leading run of ASCII letters and digits: its length, first three
/// and last bytes, lower-cased. A phrase can only match where the text's run has the same key as
/// the phrase's own leading run (the phrase's next character, if any, is not an ASCII letter or
/// digit, so the text must stop its run at the same place), so skipping words whose key is
/// absent loses nothing. About one word in twenty gets through.
///
/// Most of those are the first words of longer phrases ("people" of "people's liberation army",
/// "one" of "one china") followed by something else. So when every phrase with that leading run
/// goes on for at least three more bytes, the run's key and those three bytes (with `| 0x20`,
/// which maps a byte and its ASCII case variant alike) must also be in a second set; where fewer
/// than three bytes follow the run in the text, none of those phrases fits.
#[derive(Debug)]
pub(super) struct StartFilter {
    /// Leading-run keys of all phrases.
    starts: Box<[u64]>,
    /// Leading-run keys of the phrases that end less than three bytes after their run.
    short: Box<[u64]>,
    /// Keys of the leading run and the next three bytes of the other phrases.
    continued: Box<[u64]>,
    /// The UTF-8 lead bytes of the phrases that start with a non-ASCII letter ("台湾", "Пентагон",
    /// "Ürümqi"), one bit per byte value. Those phrases have no ASCII run to key on: a text that
    /// holds one of these bytes takes the matcher's exact, slower scan (see
    /// [`StartFilter::needs_exact_scan`]); other texts, most of them, the fast one.
    leads: [u64; 4],
}

const FILTER_BITS: u32 = 16;

/// Bytes after the leading run that the second step of [`StartFilter`] keys on.
const NEXT: usize = 3;

fn new_bits() -> Box<[u64]> {
    vec![0u64; 1 << (FILTER_BITS - 6)].into_boxed_slice()
}

fn set(bits: &mut [u64], k: usize) {
    bits[k >> 6] |= 1 << (k & 63);
}

#[inline]
fn is_set(bits: &[u64], k: usize) -> bool {
    bits[k >> 6] >> (k & 63) & 1 == 1
}

impl StartFilter {
    fn new(patterns: &[String]) -> Self {
        let (mut starts, mut short, mut continued) = (new_bits(), new_bits(), new_bits());
        let mut leads = [0u64; 4];
        for p in patterns {
            let p = p.as_bytes();
            let run = p.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
            if run == 0 {
                if let Some(&lead) = p.first() {
                    leads[usize::from(lead >> 6)] |= 1 << (lead & 63);
                }
                continue;
            }
            let k = Self::key(p, run);
            set(&mut starts, k);
            match p.get(run..run + NEXT) {
                Some(next) => set(&mut continued, Self::continued_key(k, next)),
                None => set(&mut short, k),
            }
        }
        StartFilter { starts, short, continued, leads }
    }

    /// Bit index for a run of `run` ASCII letters/digits at the start of `word`: its length,
    /// first three and last byte ("military" and "millions" differ in the last), lower-cased
    /// (`| 0x20` lower-cases ASCII letters and leaves digits as they are). Branch-light: it runs
    /// at every word start of every article.
    #[inline]
    fn key(word: &[u8], run: usize) -> usize {
        let head = match word.get(..4) {
            Some(four) => u32::from_le_bytes(four.try_into().expect("four bytes")),
            None => word.iter().rev().fold(0, |acc, &b| acc << 8 | u32::from(b)),
        };
        let head = (head | 0x2020_2020) & (u32::MAX >> (8 * (4 - run.min(3))));
        let last = u64::from(word[run - 1] | 0x20);
        let k = u64::from(head) | last << 32 | (run.min(255) as u64) << 40;
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS)) as usize
    }

    /// Bit index for a leading run's key `k` and the [`NEXT`] bytes after the run.
    #[inline]
    fn continued_key(k: usize, next: &[u8]) -> usize {
        let next = next.iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b | 0x20));
        ((k as u64) << 24 | next).wrapping_mul(0xD6E8_FEB8_6659_FD93) as usize >> (64 - FILTER_BITS)
    }

    /// Whether some phrase starts with a non-ASCII letter.
    pub fn has_non_ascii_starts(&self) -> bool {
        self.leads != [0; 4]
    }

    /// Whether `text` holds the first byte of a phrase that starts with a non-ASCII letter, so
    /// that only the exact scan finds every phrase. Eight bytes at a time, looking only at
    /// UTF-8 lead bytes (an English article has a few dozen, from typographic quotes).
    pub fn needs_exact_scan(&self, text: &[u8]) -> bool {
        if !self.has_non_ascii_starts() {
            return false;
        }
        let is_lead_of_phrase = |b: u8| self.leads[usize::from(b >> 6)] >> (b & 63) & 1 == 1;
        let mut chunks = text.chunks_exact(8);
        for chunk in &mut chunks {
            let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            // Lead bytes have their two high bits set: bit 7 of the lane and, shifted up, bit 6.
            let mut leads = x & (x << 1) & HIGH;
            while leads != 0 {
                let lane = leads.trailing_zeros() / 8;
                if is_lead_of_phrase(chunk[lane as usize]) {
                    return true;
                }
                leads &= leads - 1;
            }
        }
        chunks.remainder().iter().any(|&b| is_lead_of_phrase(b))
    }

    /// Whether a phrase may start with the run of `run` ASCII letters/digits at `word[0..]`
    /// (`word` goes on to the end of the text).
    #[inline]
    pub fn may_start(&self, word: &[u8], run: usize) -> bool {
        let k = Self::key(word, run);
        if !is_set(&self.starts, k) {
            return false;
        }
        is_set(&self.short, k)
            || word.get(run..run + NEXT).is_some_and(|next| is_set(&self.continued, Self::continued_key(k, next)))
    }
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
    /// A case form the phrase was not written in ([`case_forms`]).
    case_form: bool,
}

pub(super) fn compile(ctx: &Ctx<'_>, model: &Model) -> Result<Compiled, TaxonomyError> {
    let mut patterns: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut owners: Vec<Vec<Owner>> = Vec::new();
    let mut terms: Vec<TermInfo> = Vec::new();

    for (ti, tag) in model.tags.iter().enumerate() {
        let ti = ti as u16;
        let mut add = |text: &str, term: u32, exact: bool, pos: Pos| -> Result<(), TaxonomyError> {
            let spellings = variants(text);
            let forms = spellings.iter().flat_map(|v| {
                let forms = if exact { vec![v.clone()] } else { case_forms(v) };
                forms.into_iter().map(move |f| {
                    // Patterns are keyed ASCII case folded: a form that folds to the spelling's
                    // key is the spelling itself ("Zürich" of "zürich").
                    let case_form = !f.eq_ignore_ascii_case(v);
                    (f, case_form)
                })
            });
            for (variant, case_form) in forms {
                let key = variant.to_ascii_lowercase();
                let pid = *index.entry(key.clone()).or_insert_with(|| {
                    patterns.push(key);
                    owners.push(Vec::new());
                    (patterns.len() - 1) as u32
                });
                let list = &mut owners[pid as usize];
                if let Some(at) = list.iter().position(|o| o.tag == ti) {
                    let other = &list[at];
                    if other.term == term || case_form {
                        // Two variants of one phrase coincide, or a case form of this phrase
                        // is another phrase's (as written or as a case form).
                        continue;
                    }
                    if other.case_form {
                        // This phrase is written in another's case form (taxonomies written
                        // before case forms were found list both "тайвань" and "Тайвань"):
                        // as written, it is its own, with its own group and weight.
                        list.swap_remove(at);
                    } else {
                        let what = |t: u32| if t == EXCLUDE { "exclusion" } else { "phrase" };
                        return Err(ctx.err_at(
                            pos,
                            Some(&tag.id),
                            format!(
                                "{} \"{}\" duplicates {} \"{}\" on line {} (identical once case, spaces and hyphens are ignored)",
                                what(term),
                                text,
                                what(other.term),
                                other.phrase,
                                other.pos.line
                            ),
                        ));
                    }
                }
                list.push(Owner {
                    tag: ti,
                    term,
                    exact: exact.then(|| variant.clone().into_bytes().into_boxed_slice()),
                    phrase: text.to_owned(),
                    pos,
                    case_form,
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
        // An exclusion must contain a phrase of its own tag, or it vetoes nothing. Checked on
        // its spellings as written: its case forms may miss a case-sensitive phrase.
        for o in owners[pid].iter().filter(|o| o.term == EXCLUDE && !o.case_form) {
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
        cands.sort_unstable_by_key(|c| (c.0, c.1, std::cmp::Reverse(c.2)));
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
    let nfa = aho_corasick::nfa::contiguous::Builder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .ascii_case_insensitive(true)
        .build(&patterns)
        .map_err(|e| ctx.err_at(Pos { line: 1, column: 1 }, None, format!("cannot build the phrase automaton: {e}")))?;
    let filter = StartFilter::new(&patterns);
    Ok(Compiled { nfa, filter, check_right, pattern_entries, entries, terms })
}

/// Spelling variants of a normalised phrase (see the module documentation).
pub(super) fn variants(phrase: &str) -> Vec<String> {
    // Split into literal pieces and the slots between them.
    let mut pieces: Vec<String> = vec![String::new()];
    let mut slots: Vec<&'static [&'static str]> = Vec::new();
    for c in phrase.chars() {
        let options: Option<&'static [&'static str]> = match c {
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
        for sep in ["-", " "] {
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

/// The forms of a spelling that case-insensitive matching must find besides those the automaton's
/// ASCII case folding finds: with letters beyond ASCII, also its lower-case, upper-case and
/// capitalised forms ("Тайвань", "тайвань", "ТАЙВАНЬ"; "taiwán" in a headline "TAIWÁN"). Full
/// Unicode folding of every text would cost a copy of each article; these are three more
/// patterns for the few phrases that need them. Mixed case beyond these is not found.
fn case_forms(spelling: &str) -> Vec<String> {
    if spelling.is_ascii() {
        return vec![spelling.to_owned()];
    }
    let mut capitalised = String::with_capacity(spelling.len());
    let mut word_start = true;
    for c in spelling.chars() {
        if word_start {
            capitalised.extend(c.to_uppercase());
        } else {
            capitalised.extend(c.to_lowercase());
        }
        word_start = !c.is_alphanumeric();
    }
    let mut forms = vec![spelling.to_lowercase(), spelling.to_uppercase(), capitalised, spelling.to_owned()];
    forms.sort();
    forms.dedup();
    forms
}

/// Whether a match of phrase `s` must be followed by a word boundary.
fn ends_in_word(s: &str) -> bool {
    s.chars().next_back().is_some_and(needs_boundary_after)
}
