//! The hot path: one automaton pass collects hits for every tag, then each tag with hits is
//! scored. Tags without a single hit cost nothing, regexes run only for tags that already have a
//! phrase hit, and all working memory lives in a per-thread [`Scratch`] reused across calls, so a
//! call allocates only its output.
//!
//! Scoring (the "substantially about" test), per tag:
//!
//! ```text
//! E = Σ_terms  w_group · (1 + ln count)          repeated mentions: diminishing returns
//!   + Σ_terms in title  title_weight · w_group    a headline mention is worth more
//!   + Σ_rules  w_rule · (1 + ln sentences)        context rules, per sentence where they fire
//!   + Σ_rules fired in title  title_weight · w_rule
//! e = E / (max(len, min_length) / reference_length) ^ length_exponent     density
//! score = e / (e + half_saturation)               in [0, 1); tagged when score ≥ threshold
//! ```
//!
//! A term of a weight-0 group counts only in sentences where a context rule using its group
//! fires ("talks" alone says nothing; "military … talks" does).

use super::compile::{boundary_after, boundary_before, Compiled, EXCLUDE};
use super::spec::{RuleDef, Scoring};
use super::{Evidence, TagMatch};
use crate::enrich::text::Document;
use aho_corasick::{Anchored, Input};
use std::cell::RefCell;

/// Terms at or above this index are regex hits (the index then identifies the hit that named
/// them, see [`aggregate`]).
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
    title_count: u32,
    first: u32,
    end: u32,
}

/// Per-call working memory, kept per thread and reused.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    hits: Vec<Hit>,
    /// Exclusion matches: (tag, start, end); they veto overlapping regex hits of their tag.
    excl: Vec<(u16, u32, u32)>,
    /// Per sentence with hits of the current tag: (sentence, groups present, groups fired).
    sents: Vec<(u32, u64, u64)>,
    aggs: Vec<Agg>,
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
    /// Tags of `doc`; with `all`, every tag with evidence, whether or not it passes.
    pub fn run(&self, doc: &Document<'_>, s: &mut Scratch, all: bool) -> Vec<TagMatch> {
        s.hits.clear();
        s.excl.clear();
        let hay = doc.full.as_bytes();
        self.scan(hay, s);
        if s.hits.is_empty() {
            return Vec::new();
        }
        s.hits.sort_unstable_by_key(|h| (h.tag, h.start));
        if self.any_regex {
            self.run_regexes(doc.full, s);
        }
        for h in &mut s.hits {
            h.sentence = sentence_of(doc, h.start as usize);
        }

        let len = (doc.full.len() as f64).max(self.scoring.min_length);
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
        // Strongest first; the sort is stable, so ties keep taxonomy order.
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out
    }

    /// One leftmost-longest pass of the automaton with word-boundary checks.
    fn scan(&self, hay: &[u8], s: &mut Scratch) {
        let c = self.compiled;
        let mut pos = 0;
        while pos < hay.len() {
            let Some(m) = c.ac.find(Input::new(hay).span(pos..hay.len())) else { break };
            let start = m.start();
            if !boundary_before(hay, start) {
                pos = start + 1;
                continue;
            }
            let mut pid = m.pattern().as_usize();
            let mut end = m.end();
            if c.check_right[pid] && !boundary_after(hay, end) {
                // The longest phrase runs into a longer word ("taiwan strait" in "taiwan straits"):
                // retry the longest shorter phrase at the same start.
                match self.shorter_match(hay, start, end) {
                    Some((p, e)) => (pid, end) = (p, e),
                    None => {
                        pos = start + 1;
                        continue;
                    }
                }
            }
            let (a, b) = c.pattern_entries[pid];
            for e in &c.entries[a as usize..b as usize] {
                let hs = start + e.off as usize;
                let he = hs + e.len as usize;
                if let Some(exact) = &e.exact {
                    if hay[hs..he] != exact[..] {
                        continue;
                    }
                }
                if e.term == EXCLUDE {
                    s.excl.push((e.tag, hs as u32, he as u32));
                } else {
                    let group = c.terms[e.term as usize].group;
                    s.hits.push(Hit {
                        tag: e.tag,
                        group,
                        counted: false,
                        term: e.term,
                        start: hs as u32,
                        end: he as u32,
                        sentence: 0,
                    });
                }
            }
            pos = end;
        }
    }

    fn shorter_match(&self, hay: &[u8], start: usize, mut end: usize) -> Option<(usize, usize)> {
        let c = self.compiled;
        while end > start + 1 {
            let m = c.ac.find(Input::new(hay).span(start..end - 1).anchored(Anchored::Yes))?;
            let pid = m.pattern().as_usize();
            if !c.check_right[pid] || boundary_after(hay, m.end()) {
                return Some((pid, m.end()));
            }
            end = m.end();
        }
        None
    }

    /// Regex terms of the tags that already have phrase hits. Expects hits sorted by tag.
    fn run_regexes(&self, text: &str, s: &mut Scratch) {
        let hay = text.as_bytes();
        let n = s.hits.len();
        let mut i = 0;
        while i < n {
            let tag = s.hits[i].tag;
            let j = i + s.hits[i..n].iter().position(|h| h.tag != tag).unwrap_or(n - i);
            for (k, (group, re)) in self.tags[tag as usize].regexes.iter().enumerate() {
                for m in re.find_iter(text) {
                    let (ms, me) = (m.start(), m.end());
                    let word_start = m.as_str().chars().next().is_some_and(char::is_alphanumeric);
                    let word_end = m.as_str().chars().next_back().is_some_and(char::is_alphanumeric);
                    if (word_start && !boundary_before(hay, ms)) || (word_end && !boundary_after(hay, me)) {
                        continue;
                    }
                    let overlaps = |a: u32, b: u32| (ms as u32) < b && a < me as u32;
                    if s.excl.iter().any(|&(t, a, b)| t == tag && overlaps(a, b))
                        || s.hits[i..j].iter().any(|h| overlaps(h.start, h.end))
                    {
                        continue; // vetoed, or already counted as a phrase
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
        aggregate(doc, &s.hits[range.clone()], range.start as u32, &mut s.aggs);
        for a in &s.aggs {
            let w = tag.group_weights[a.group as usize];
            evidence_mass += w * (1.0 + (a.count as f64).ln());
            if a.title_count > 0 {
                evidence_mass += tag.title_weight * w;
            }
        }
        if s.aggs.is_empty() {
            return None;
        }

        let e = evidence_mass / norm;
        let score = e / (e + self.scoring.half_saturation);
        if score < tag.threshold && !all {
            return None;
        }

        let mut evidence: Vec<(f64, Evidence)> = s
            .aggs
            .iter()
            .map(|a| {
                let term = if a.key & REGEX_TERM == 0 {
                    self.compiled.terms[a.key as usize].name.to_string()
                } else {
                    doc.full[a.first as usize..a.end as usize].to_lowercase()
                };
                let w = tag.group_weights[a.group as usize];
                let contribution = w * (1.0 + (a.count as f64).ln());
                let ev = Evidence { term, count: a.count, first_offset: a.first as usize, title_count: a.title_count };
                (contribution, ev)
            })
            .collect();
        evidence.sort_by(|a, b| {
            b.0.total_cmp(&a.0).then(b.1.count.cmp(&a.1.count)).then(a.1.first_offset.cmp(&b.1.first_offset))
        });
        let mut sentences: Vec<usize> =
            s.hits[range].iter().filter(|h| h.counted).map(|h| h.sentence as usize).collect();
        sentences.sort_unstable();
        sentences.dedup();
        Some(TagMatch {
            id: tag.id.clone(),
            label: tag.label.clone(),
            score,
            evidence: evidence.into_iter().map(|(_, e)| e).collect(),
            sentences,
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

/// Counts the counted hits per term (regex hits per distinct matched text) into `aggs`.
fn aggregate(doc: &Document<'_>, hits: &[Hit], base: u32, aggs: &mut Vec<Agg>) {
    aggs.clear();
    let text = doc.full.as_bytes();
    for (idx, h) in hits.iter().enumerate() {
        if !h.counted {
            continue;
        }
        let found = if h.term & REGEX_TERM == 0 {
            aggs.iter_mut().find(|a| a.key == h.term)
        } else {
            let me = &text[h.start as usize..h.end as usize];
            aggs.iter_mut().find(|a| {
                a.key & REGEX_TERM != 0
                    && a.group == h.group
                    && text[a.first as usize..a.end as usize].eq_ignore_ascii_case(me)
            })
        };
        let title = u32::from(doc.in_title(h.start as usize));
        match found {
            Some(a) => {
                a.count += 1;
                a.title_count += title;
            }
            None => aggs.push(Agg {
                key: if h.term & REGEX_TERM == 0 { h.term } else { REGEX_TERM | (base + idx as u32) },
                group: h.group,
                count: 1,
                title_count: title,
                first: h.start,
                end: h.end,
            }),
        }
    }
}

fn sentence_of(doc: &Document<'_>, offset: usize) -> u32 {
    let i = doc.sentence_at(offset).unwrap_or_else(|| {
        doc.sentences.partition_point(|r| r.end <= offset).min(doc.sentences.len().saturating_sub(1))
    });
    i as u32
}
