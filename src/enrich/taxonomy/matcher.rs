//! The hot path: one automaton pass collects hits for every tag, then each tag with hits is
//! scored. Tags without a single hit cost nothing, regexes run only for tags that already have a
//! hit of a phrase that counts on its own, and all working memory lives in a per-thread
//! [`Scratch`] reused across calls, so a call allocates only its output.
//!
//! Scoring (the "substantially about" test), per tag:
//!
//! ```text
//! E = Σ_groups  w_group · (1 + ln sentences)     sentences with a term of the group: diminishing
//!   + Σ_groups in title  title_weight · w_group   a headline mention is worth more
//!   + Σ_rules  w_rule · (1 + ln sentences)        context rules, per sentence where they fire
//!   + Σ_rules fired in title  title_weight · w_rule
//! (groups of negative weight, counter-evidence, subtract; E is at least 0)
//! e = E / (clamp(len, min_length, max_length) / reference_length) ^ length_exponent   density
//! score = e / (e + half_saturation)               in [0, 1); tagged when score ≥ threshold
//! ```
//!
//! Repeats are counted per sentence, not per occurrence: "deconfliction … deconfliction" in one
//! quote is one point made once. And per group, not per term: a group holds terms of one
//! strength, often synonyms ("North Korea", "Pyongyang"), which are one subject, not two. A term
//! of a weight-0 group counts only in sentences where a context rule using its group fires
//! ("talks" alone says nothing; "military … talks" does).

use super::compile::{Compiled, EXCLUDE};
use super::spec::{RuleDef, Scoring, MAX_GROUPS_PER_TAG};
use super::words::{boundary_after, boundary_before, is_unspaced, is_word_char, word_mask};
use super::{Evidence, TagMatch};
use crate::enrich::text::Document;
use aho_corasick::automaton::Automaton;
use aho_corasick::Anchored;
use std::cell::RefCell;
use std::collections::HashMap;

/// The bit that marks a regex in a term number; the rest means different things in the two
/// places it is used: in `Hit::term` the regex's index within its tag, in `Agg::key` (see
/// [`aggregate`]) the index of the first hit with that matched text.
const REGEX_TERM: u32 = 1 << 31;

/// A tag as the hot path needs it.
#[derive(Debug)]
pub(super) struct TagRt {
    pub id: String,
    pub label: String,
    pub description: String,
    pub threshold: f64,
    pub title_weight: f64,
    pub group_weights: Vec<f64>,
    pub rules: Vec<RuleDef>,
    pub regexes: Vec<(u8, regex::Regex)>,
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    tag: u16,
    group: u8,
    /// Whether this hit counts towards the score and evidence (see the module docs).
    counted: bool,
    /// Phrase term index, or `REGEX_TERM | index of the regex within its tag`.
    term: u32,
    start: u32,
    end: u32,
    sentence: u32,
}

#[derive(Debug, Clone, Copy)]
struct Agg {
    /// Phrase term index, or `REGEX_TERM | index of the first hit with this text`.
    key: u32,
    group: u8,
    count: u32,
    /// Distinct sentences with this term (hits come in text order, so `last` suffices); orders
    /// the evidence.
    sentences: u32,
    last_sentence: u32,
    title_count: u32,
    first: u32,
    end: u32,
}

/// The evidence of one tag, per term (see [`aggregate`]).
#[derive(Debug, Default)]
struct Aggs {
    list: Vec<Agg>,
    /// Where a term is found in `list` once it is long (see [`SCANNED_AGGS`]).
    phrases: HashMap<u32, u32>,
    regexes: HashMap<u64, u32>,
}

/// Per-call working memory, kept per thread and reused.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    hits: Vec<Hit>,
    /// Exclusion matches: (tag, start, end); they veto overlapping regex hits of their tag.
    excl: Vec<(u16, u32, u32)>,
    /// Per sentence with hits of the current tag: (sentence, groups present, groups fired).
    sents: Vec<(u32, u64, u64)>,
    aggs: Aggs,
    /// What a regex hit of the current tag must not overlap, sorted by start, and the furthest
    /// end among each prefix (see [`overlaps_any`]).
    spans: Vec<(u32, u32)>,
    reach: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch (a fresh one if it is already in use).
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

pub(super) struct Matcher<'a> {
    pub compiled: &'a Compiled,
    pub tags: &'a [TagRt],
    pub scoring: &'a Scoring,
    pub any_regex: bool,
}

impl Matcher<'_> {
    /// Tags of `doc`; with `all`, every tag with evidence, whether or not it passes. `text_len`
    /// is the length the scores are normalised by: the article's, also when `doc` is its copy
    /// with runs of white space collapsed.
    pub fn run(&self, doc: &Document<'_>, text_len: usize, s: &mut Scratch, all: bool) -> Vec<TagMatch> {
        s.hits.clear();
        s.excl.clear();
        let hay = doc.full.as_bytes();
        self.scan(hay, s);
        if s.hits.is_empty() {
            return if all { self.add_exclusions(doc, s, Vec::new()) } else { Vec::new() };
        }
        s.hits.sort_unstable_by_key(|h| (h.tag, h.start));
        if self.any_regex {
            self.run_regexes(doc.full, s);
        }
        for h in &mut s.hits {
            h.sentence = sentence_of(doc, h.start as usize);
        }

        let len = (text_len as f64).clamp(self.scoring.min_length, self.scoring.max_length);
        let norm = (len / self.scoring.reference_length).powf(self.scoring.length_exponent);
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.hits.len() {
            let tag = s.hits[i].tag;
            let j = i + s.hits[i..].iter().position(|h| h.tag != tag).unwrap_or(s.hits.len() - i);
            if let Some(m) = self.score_tag(doc, tag as usize, i..j, norm, s, all) {
                out.push(m);
            }
            i = j;
        }
        if all {
            out = self.add_exclusions(doc, s, out);
        }
        // Strongest first; the sort is stable, so ties keep taxonomy order.
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out
    }

    /// Adds the exclusions found (`s.excl`) to the matches of their tags, and a match of score 0
    /// without evidence for a tag that has nothing but exclusions. For `explain`, not the hot
    /// path: each distinct excluded text is counted (case folded) with its first offset.
    fn add_exclusions(&self, doc: &Document<'_>, s: &Scratch, mut out: Vec<TagMatch>) -> Vec<TagMatch> {
        for &(tag, start, end) in &s.excl {
            let rt = &self.tags[tag as usize];
            let index = match out.iter().position(|m| m.id == rt.id) {
                Some(index) => index,
                None => {
                    out.push(TagMatch {
                        id: rt.id.clone(),
                        label: rt.label.clone(),
                        score: 0.0,
                        evidence: Vec::new(),
                        sentences: Vec::new(),
                        excluded: Vec::new(),
                        counter: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let term = doc.full[start as usize..end as usize].to_lowercase();
            let in_title = u32::from(doc.in_title(start as usize));
            let excluded = &mut out[index].excluded;
            match excluded.iter_mut().find(|e| e.term == term) {
                Some(e) => {
                    e.count += 1;
                    e.title_count += in_title;
                }
                None => excluded.push(Evidence { term, count: 1, first_offset: start as usize, title_count: in_title }),
            }
        }
        out
    }

    /// The raw phrase hits of `hay` as (tag, term, start, end), by the fast or the exact scan.
    #[cfg(test)]
    pub(super) fn scan_for_test(&self, hay: &[u8], exact: bool) -> Vec<(u16, u32, u32, u32)> {
        let mut s = Scratch::default();
        if exact {
            self.scan_exact(hay, &mut s);
        } else {
            self.scan_fast(hay, &mut s);
        }
        s.hits.iter().map(|h| (h.tag, h.term, h.start, h.end)).collect()
    }

    /// Finds the phrases of all tags: at each word start, in order, the longest phrase that
    /// starts there and ends at a word boundary; the next search starts after it.
    fn scan(&self, hay: &[u8], s: &mut Scratch) {
        if self.compiled.filter.needs_exact_scan(hay) {
            self.scan_exact(hay, s);
        } else {
            self.scan_fast(hay, s);
        }
    }

    /// The fast scan: word starts come from a 64-byte mask of ASCII letters and digits, and the
    /// start filter rejects most words before the automaton is touched. Valid only when every
    /// phrase starts with an ASCII letter or digit.
    fn scan_fast(&self, hay: &[u8], s: &mut Scratch) {
        let c = self.compiled;
        let n = hay.len();
        let mut skip = 0; // end of the last match: matches do not overlap
        let mut carry = 0u64; // whether the byte before this chunk is an ASCII letter or digit
        let mut base = 0;
        while base < n {
            let end = (base + 64).min(n);
            let m = word_mask(&hay[base..end]);
            let mut starts = m & !((m << 1) | carry);
            carry = m >> 63;
            while starts != 0 {
                let bit = starts.trailing_zeros() as usize;
                starts &= starts - 1;
                let pos = base + bit;
                // A non-ASCII letter before the run ("naïve") means it is not a word start.
                if pos < skip || (pos > 0 && hay[pos - 1] >= 0x80 && !boundary_before(hay, pos)) {
                    continue;
                }
                let rest = !m >> bit;
                let mut run = if rest == 0 { 64 - bit } else { rest.trailing_zeros() as usize };
                if pos + run == end {
                    // The run continues into the next chunk.
                    run += hay[end..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
                }
                if !c.filter.may_start(&hay[pos..], run) {
                    continue;
                }
                if let Some((pid, e)) = self.longest_at(hay, pos) {
                    self.emit(hay, pid, pos, 0, s);
                    skip = e;
                }
            }
            base = end;
        }
    }

    /// The exact scan, character by character: for texts where a phrase may start with a
    /// non-ASCII letter, and as the reference the fast scan is tested against. A word starts at
    /// a letter or digit that does not join the character before it (see [`super::words`]):
    /// every character of an unspaced script starts one.
    fn scan_exact(&self, hay: &[u8], s: &mut Scratch) {
        let text = std::str::from_utf8(hay).expect("documents are UTF-8");
        let mut skip = 0;
        let mut prev_joins = false;
        for (pos, ch) in text.char_indices() {
            let word = is_word_char(ch);
            let unspaced = is_unspaced(ch);
            let joins = word && !unspaced;
            if word && !(prev_joins && joins) {
                if pos >= skip {
                    if let Some((pid, e)) = self.longest_at(hay, pos) {
                        self.emit(hay, pid, pos, 0, s);
                        skip = e;
                    }
                } else if unspaced {
                    // Inside an earlier match, where words have no spaces to end them: a phrase
                    // that starts here and runs past that match was hidden by it ("美国" hides
                    // "国防部" in "美国防部长"). The phrases wholly inside the earlier match
                    // were already counted with it.
                    if let Some((pid, e)) = self.longest_at(hay, pos).filter(|&(_, e)| e > skip) {
                        self.emit(hay, pid, pos, skip, s);
                        skip = e;
                    }
                }
            }
            prev_joins = joins;
        }
    }

    /// The longest phrase starting at `pos` that ends at a word boundary, walking the automaton
    /// anchored. Shorter phrases passed on the way are remembered, so "taiwan strait" in
    /// "taiwan straits" still yields "taiwan".
    #[inline]
    fn longest_at(&self, hay: &[u8], pos: usize) -> Option<(usize, usize)> {
        let nfa = &self.compiled.nfa;
        let mut sid = match nfa.start_state(Anchored::Yes) {
            Ok(sid) => sid,
            Err(_) => return None, // not built for anchored search: impossible by construction
        };
        let mut best = None;
        let mut at = pos;
        while at < hay.len() {
            sid = nfa.next_state(Anchored::Yes, sid, hay[at]);
            at += 1;
            if nfa.is_special(sid) {
                if nfa.is_dead(sid) {
                    break;
                }
                if nfa.is_match(sid) {
                    // A match state may also carry shorter matches copied from failure states,
                    // which start after `pos`; only a pattern spanning pos..at counts.
                    for i in 0..nfa.match_len(sid) {
                        let pid = nfa.match_pattern(sid, i);
                        if nfa.pattern_len(pid) == at - pos {
                            if !self.compiled.check_right[pid.as_usize()] || boundary_after(hay, at) {
                                best = Some((pid.as_usize(), at));
                            }
                            break;
                        }
                    }
                }
            }
        }
        best
    }

    /// Records what a match of pattern `pid` at `start` means for each tag: the phrases it holds
    /// that end after byte `counted_up_to` (what ends before was counted with an earlier match).
    #[inline]
    fn emit(&self, hay: &[u8], pid: usize, start: usize, counted_up_to: usize, s: &mut Scratch) {
        let c = self.compiled;
        let (a, b) = c.pattern_entries[pid];
        for e in &c.entries[a as usize..b as usize] {
            let hs = start + e.off as usize;
            let he = hs + e.len as usize;
            if he <= counted_up_to {
                continue;
            }
            if let Some(exact) = &e.exact {
                if hay[hs..he] != exact[..] {
                    continue;
                }
            }
            if e.term == EXCLUDE {
                s.excl.push((e.tag, hs as u32, he as u32));
            } else {
                s.hits.push(Hit {
                    tag: e.tag,
                    group: c.terms[e.term as usize].group,
                    counted: false,
                    term: e.term,
                    start: hs as u32,
                    end: he as u32,
                    sentence: 0,
                });
            }
        }
    }

    /// Regex terms of the tags that already have a hit of a phrase of positive weight. Expects
    /// hits sorted by tag.
    ///
    /// A regex hit is dropped when it overlaps an exclusion of its tag, a phrase hit of its tag
    /// or a hit of an earlier regex of its tag. Those spans are kept sorted with their running
    /// furthest end, so each check is a binary search: a broad user regex over a long article
    /// (a hundred thousand hits) stays linear rather than quadratic.
    fn run_regexes(&self, text: &str, s: &mut Scratch) {
        let hay = text.as_bytes();
        let n = s.hits.len();
        let mut i = 0;
        while i < n {
            let tag = s.hits[i].tag;
            let j = i + s.hits[i..n].iter().position(|h| h.tag != tag).unwrap_or(n - i);
            let rt = &self.tags[tag as usize];
            // Context-only words ("deaths", "export") do not open the gate: only a phrase that
            // counts on its own does.
            if rt.regexes.is_empty() || !s.hits[i..j].iter().any(|h| rt.group_weights[h.group as usize] > 0.0) {
                i = j;
                continue;
            }
            s.spans.clear();
            s.spans.extend(s.excl.iter().filter(|&&(t, _, _)| t == tag).map(|&(_, a, b)| (a, b)));
            s.spans.extend(s.hits[i..j].iter().map(|h| (h.start, h.end)));
            let tag_regex_hits = s.hits.len();
            for (k, (group, re)) in rt.regexes.iter().enumerate() {
                // The hits of the regexes before this one join the spans; this regex's own hits
                // cannot overlap each other.
                if k > 0 {
                    let previous = REGEX_TERM | (k as u32 - 1);
                    s.spans.extend(
                        s.hits[tag_regex_hits..].iter().filter(|h| h.term == previous).map(|h| (h.start, h.end)),
                    );
                }
                sort_spans(&mut s.spans, &mut s.reach);
                for m in re.find_iter(text) {
                    let (ms, me) = (m.start(), m.end());
                    let word_start = m.as_str().chars().next().is_some_and(char::is_alphanumeric);
                    let word_end = m.as_str().chars().next_back().is_some_and(char::is_alphanumeric);
                    if (word_start && !boundary_before(hay, ms)) || (word_end && !boundary_after(hay, me)) {
                        continue;
                    }
                    if overlaps_any(&s.spans, &s.reach, ms as u32, me as u32) {
                        continue; // vetoed, or already counted as a phrase or an earlier regex
                    }
                    s.hits.push(Hit {
                        tag,
                        group: *group,
                        counted: false,
                        term: REGEX_TERM | k as u32,
                        start: ms as u32,
                        end: me as u32,
                        sentence: 0,
                    });
                }
            }
            i = j;
        }
        if s.hits.len() > n {
            s.hits.sort_unstable_by_key(|h| (h.tag, h.start));
        }
    }

    fn evidence_of(&self, doc: &Document<'_>, a: &Agg) -> Evidence {
        Evidence {
            term: if a.key & REGEX_TERM == 0 {
                self.compiled.terms[a.key as usize].name.to_string()
            } else {
                doc.full[a.first as usize..a.end as usize].to_lowercase()
            },
            count: a.count,
            first_offset: a.first as usize,
            title_count: a.title_count,
        }
    }

    fn score_tag(
        &self,
        doc: &Document<'_>,
        tag_index: usize,
        range: std::ops::Range<usize>,
        norm: f64,
        s: &mut Scratch,
        all: bool,
    ) -> Option<TagMatch> {
        let tag = &self.tags[tag_index];
        let title_sentence = (doc.title_len > 0).then_some(0u32);

        // Groups present per sentence.
        s.sents.clear();
        for h in &s.hits[range.clone()] {
            match s.sents.last_mut() {
                Some(last) if last.0 == h.sentence => last.1 |= 1u64 << h.group,
                _ => s.sents.push((h.sentence, 1u64 << h.group, 0)),
            }
        }

        // Context rules.
        let mut evidence_mass = 0.0;
        for rule in &tag.rules {
            let (fired, in_title) = fire_rule(rule, &mut s.sents, title_sentence);
            if fired > 0 {
                evidence_mass += rule.weight * (1.0 + (fired as f64).ln());
                if in_title {
                    evidence_mass += tag.title_weight * rule.weight;
                }
            }
        }

        // Which hits count, then per-term aggregates.
        let mut k = 0;
        for h in &mut s.hits[range.clone()] {
            while s.sents[k].0 != h.sentence {
                k += 1;
            }
            h.counted = tag.group_weights[h.group as usize] > 0.0 || s.sents[k].2 & (1u64 << h.group) != 0;
        }
        // Per group: distinct sentences with a counted hit, and whether one is in the title.
        let mut group_sentences = [0u32; MAX_GROUPS_PER_TAG];
        let mut group_last = [u32::MAX; MAX_GROUPS_PER_TAG];
        let mut group_in_title = 0u64;
        // Counter-evidence (groups of negative weight) counts like evidence, per sentence, but
        // is never the tag's evidence or its sentences.
        let counts = |h: &&Hit| h.counted || tag.group_weights[h.group as usize] < 0.0;
        for h in s.hits[range.clone()].iter().filter(counts) {
            let g = h.group as usize;
            if group_last[g] != h.sentence {
                group_last[g] = h.sentence;
                group_sentences[g] += 1;
            }
            if doc.in_title(h.start as usize) {
                group_in_title |= 1 << g;
            }
        }
        for (g, &n) in group_sentences.iter().enumerate().take(tag.group_weights.len()) {
            if n > 0 {
                let w = tag.group_weights[g];
                evidence_mass += w * (1.0 + (n as f64).ln());
                if group_in_title & (1 << g) != 0 {
                    evidence_mass += tag.title_weight * w;
                }
            }
        }
        if evidence_mass <= 0.0 && !all {
            return None;
        }
        let evidence_mass = evidence_mass.max(0.0);
        aggregate(doc, &s.hits[range.clone()], range.start as u32, &mut s.aggs);
        if s.aggs.list.is_empty() {
            return None;
        }

        let e = evidence_mass / norm;
        let score = e / (e + self.scoring.half_saturation);
        if score < tag.threshold && !all {
            return None;
        }

        // Strongest first: by the term's own contribution, then count, then position.
        let weights = &tag.group_weights;
        let strength = |a: &Agg| weights[a.group as usize] * (1.0 + (a.sentences as f64).ln());
        s.aggs.list.sort_by(|a, b| {
            strength(b).total_cmp(&strength(a)).then(b.count.cmp(&a.count)).then(a.first.cmp(&b.first))
        });
        let evidence: Vec<Evidence> =
            s.aggs.list.iter().take(self.scoring.max_evidence).map(|a| self.evidence_of(doc, a)).collect();
        let mut sentences: Vec<usize> =
            s.hits[range.clone()].iter().filter(|h| h.counted).map(|h| h.sentence as usize).collect();
        sentences.sort_unstable();
        sentences.dedup();
        let mut counter = Vec::new();
        if all && tag.group_weights.iter().any(|&w| w < 0.0) {
            for h in &mut s.hits[range.clone()] {
                h.counted = tag.group_weights[h.group as usize] < 0.0;
            }
            aggregate(doc, &s.hits[range.clone()], range.start as u32, &mut s.aggs);
            counter = s.aggs.list.iter().map(|a| self.evidence_of(doc, a)).collect();
        }
        Some(TagMatch {
            id: tag.id.clone(),
            label: tag.label.clone(),
            score,
            evidence,
            sentences,
            excluded: Vec::new(),
            counter,
        })
    }
}

/// Marks the groups of `rule` as fired in every sentence where the rule holds; returns how many
/// sentences that is and whether the title is one of them.
fn fire_rule(rule: &RuleDef, sents: &mut [(u32, u64, u64)], title: Option<u32>) -> (u32, bool) {
    let w = rule.window;
    let mut fired = 0;
    let mut in_title = false;
    for i in 0..sents.len() {
        if sents[i].1 & rule.groups == 0 {
            continue;
        }
        let mut union = sents[i].1;
        if w > 0 {
            // Sentences within the window; `sents` is sorted by sentence index.
            let here = sents[i].0;
            for x in sents[..i].iter().rev().take_while(|x| x.0 + w >= here) {
                union |= x.1;
            }
            for x in sents[i + 1..].iter().take_while(|x| x.0 <= here + w) {
                union |= x.1;
            }
        }
        if union & rule.groups == rule.groups && union & rule.unless == 0 {
            fired += 1;
            sents[i].2 |= rule.groups;
            in_title |= Some(sents[i].0) == title;
        }
    }
    (fired, in_title)
}

/// Sorts `spans` by start and sets `reach[i]` to the furthest end among `spans[..=i]`.
pub(super) fn sort_spans(spans: &mut [(u32, u32)], reach: &mut Vec<u32>) {
    spans.sort_unstable();
    reach.clear();
    let mut furthest = 0;
    reach.extend(spans.iter().map(|&(_, end)| {
        furthest = furthest.max(end);
        furthest
    }));
}

/// Whether `start..end` overlaps one of `spans` (sorted by [`sort_spans`], which made `reach`).
/// The spans that start before `end` are a prefix; one of them reaches past `start` exactly
/// when the furthest end of that prefix does.
pub(super) fn overlaps_any(spans: &[(u32, u32)], reach: &[u32], start: u32, end: u32) -> bool {
    let starting_before_end = spans.partition_point(|&(a, _)| a < end);
    starting_before_end > 0 && reach[starting_before_end - 1] > start
}

/// Up to this many distinct terms, a term is found by a scan of the list (the common case:
/// a few terms); past it, through maps, so that a broad regex with thousands of distinct
/// matched texts does not make counting quadratic.
const SCANNED_AGGS: usize = 16;

/// A regex hit's key in `Aggs::regexes`: its group and its text, ASCII case folded, as
/// matched texts are compared (FNV-1a; a collision only costs a scan).
fn regex_text_key(group: u8, text: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ u64::from(group);
    for &b in text {
        hash = (hash ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Counts the counted hits per term (regex hits per distinct matched text) into `aggs`.
fn aggregate(doc: &Document<'_>, hits: &[Hit], base: u32, aggs: &mut Aggs) {
    let Aggs { list: aggs, phrases: phrase_aggs, regexes: regex_aggs } = aggs;
    aggs.clear();
    phrase_aggs.clear();
    regex_aggs.clear();
    let text = doc.full.as_bytes();
    let same_regex_text = |a: &Agg, group: u8, me: &[u8]| {
        a.key & REGEX_TERM != 0 && a.group == group && text[a.first as usize..a.end as usize].eq_ignore_ascii_case(me)
    };
    for (idx, h) in hits.iter().enumerate() {
        if !h.counted {
            continue;
        }
        let me = &text[h.start as usize..h.end as usize];
        let is_regex = h.term & REGEX_TERM != 0;
        let mapped = aggs.len() > SCANNED_AGGS;
        let found = match (is_regex, mapped) {
            (false, false) => aggs.iter().position(|a| a.key == h.term),
            (true, false) => aggs.iter().position(|a| same_regex_text(a, h.group, me)),
            (false, true) => phrase_aggs.get(&h.term).map(|&i| i as usize),
            (true, true) => match regex_aggs.get(&regex_text_key(h.group, me)) {
                Some(&i) if same_regex_text(&aggs[i as usize], h.group, me) => Some(i as usize),
                Some(_) => aggs.iter().position(|a| same_regex_text(a, h.group, me)),
                None => None,
            },
        };
        let title = u32::from(doc.in_title(h.start as usize));
        match found {
            Some(i) => {
                let a = &mut aggs[i];
                a.count += 1;
                a.title_count += title;
                if a.last_sentence != h.sentence {
                    a.sentences += 1;
                    a.last_sentence = h.sentence;
                }
            }
            None => {
                aggs.push(Agg {
                    key: if is_regex { REGEX_TERM | (base + idx as u32) } else { h.term },
                    group: h.group,
                    count: 1,
                    sentences: 1,
                    last_sentence: h.sentence,
                    title_count: title,
                    first: h.start,
                    end: h.end,
                });
                // From the list's first growth past the scan limit, every term is in a map.
                let newly_mapped = if aggs.len() == SCANNED_AGGS + 1 { 0 } else { aggs.len() - 1 };
                if aggs.len() > SCANNED_AGGS {
                    for (i, a) in aggs.iter().enumerate().skip(newly_mapped) {
                        if a.key & REGEX_TERM == 0 {
                            phrase_aggs.insert(a.key, i as u32);
                        } else {
                            let key = regex_text_key(a.group, &text[a.first as usize..a.end as usize]);
                            regex_aggs.entry(key).or_insert(i as u32);
                        }
                    }
                }
            }
        }
    }
}

fn sentence_of(doc: &Document<'_>, offset: usize) -> u32 {
    let i = doc.sentence_at(offset).unwrap_or_else(|| {
        doc.sentences.partition_point(|r| r.end <= offset).min(doc.sentences.len().saturating_sub(1))
    });
    i as u32
}
