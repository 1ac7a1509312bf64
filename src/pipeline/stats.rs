//! Counters the pipeline keeps about itself: read by the demo summary, tests and the metrics
//! endpoint. Plain atomics on the hot path; maps only for per-tag and per-topic counts.

use crate::article::EnrichedArticle;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Stats {
    pub consumed: AtomicU64,
    pub enriched: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub produced: AtomicU64,
    pub commits_ok: AtomicU64,
    pub commits_failed: AtomicU64,
    pub assigned_partitions: AtomicUsize,
    processing_nanos: AtomicU64,
    by_tag: Mutex<BTreeMap<String, u64>>,
    by_dlq_reason: Mutex<BTreeMap<&'static str, u64>>,
    by_topic: Mutex<BTreeMap<String, u64>>,
    by_sentiment: Mutex<BTreeMap<&'static str, u64>>,
    rebalances: Mutex<BTreeMap<&'static str, u64>>,
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub consumed: u64,
    pub enriched: u64,
    pub dead_lettered: u64,
    pub produced: u64,
    pub by_tag: BTreeMap<String, u64>,
    pub by_dlq_reason: BTreeMap<&'static str, u64>,
    pub by_topic: BTreeMap<String, u64>,
    pub by_sentiment: BTreeMap<&'static str, u64>,
    pub rebalances: BTreeMap<&'static str, u64>,
    pub processing_seconds: f64,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    *map.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default() += 1;
}

impl Stats {
    pub fn record_consumed(&self) {
        self.consumed.fetch_add(1, Relaxed);
    }

    pub fn record_enriched(&self, article: &EnrichedArticle) {
        self.enriched.fetch_add(1, Relaxed);
        for tag in &article.enrichment.tags {
            bump(&self.by_tag, tag.id.clone());
        }
        bump(&self.by_sentiment, article.enrichment.sentiment.label);
    }

    pub fn record_dlq(&self, reason: &'static str) {
        self.dead_lettered.fetch_add(1, Relaxed);
        bump(&self.by_dlq_reason, reason);
    }

    pub fn record_produced(&self, topic: &str) {
        self.produced.fetch_add(1, Relaxed);
        let mut map = self.by_topic.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(topic) {
            Some(n) => *n += 1,
            None => {
                map.insert(topic.to_owned(), 1);
            }
        }
    }

    pub fn record_rebalance(&self, kind: &'static str) {
        bump(&self.rebalances, kind);
    }

    pub fn record_commit(&self, ok: bool) {
        if ok { &self.commits_ok } else { &self.commits_failed }.fetch_add(1, Relaxed);
    }

    pub fn observe_processing(&self, elapsed: Duration) {
        self.processing_nanos.fetch_add(elapsed.as_nanos() as u64, Relaxed);
    }

    pub fn set_assigned(&self, n: usize) {
        self.assigned_partitions.store(n, Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let copy = |m: &Mutex<BTreeMap<&'static str, u64>>| m.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Snapshot {
            consumed: self.consumed.load(Relaxed),
            enriched: self.enriched.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            produced: self.produced.load(Relaxed),
            by_tag: self.by_tag.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            by_dlq_reason: copy(&self.by_dlq_reason),
            by_topic: self.by_topic.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            by_sentiment: copy(&self.by_sentiment),
            rebalances: copy(&self.rebalances),
            processing_seconds: self.processing_nanos.load(Relaxed) as f64 / 1e9,
        }
    }
}
