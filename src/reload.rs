//! Taxonomy reloads while `run` works, so that an edited taxonomy applies without a restart (and
//! without the rebalances a rolling restart costs): on SIGHUP, and, with `taxonomy.watch_secs`,
//! whenever the file's content has changed (a Kubernetes ConfigMap is updated in place, and
//! nothing there sends a signal). The watch puts a new content in use only when two checks in a
//! row read it, so that a file being written in place is not loaded half-written; SIGHUP loads
//! what it reads.
//!
//! A reload is all or nothing. The file is compiled and checked as at start-up (`[[routes]]` and
//! `[taxonomy.remote.labels]` must name tags it has), and only then replaces the taxonomy in use
//! ([`crate::enrich::CurrentEnricher`]). A file that fails leaves the worker on the taxonomy it
//! has, with an error logged (file, line and reason),
//! `news_enricher_taxonomy_reloads_total{result="failed"}` counted and
//! `news_enricher_taxonomy_last_reload_successful` at 0 until the file loads; the watch reports
//! a failing content once, not at every check. Messages being enriched finish with the taxonomy they
//! started with, and every record names the version that tagged it (`taxonomy_version`). Only the
//! taxonomy file is read again: routes, topics and every other setting stay as at start.

use crate::config::{read_config_file, unreadable_file, Settings};
use crate::enrich::sentiment::SentimentAnalyzer;
use crate::enrich::taxonomy::{source_digest, Taxonomy};
use crate::enrich::Enricher;
use crate::pipeline::Shared;
use std::sync::Arc;
use std::time::Duration;

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP: always tries, and reports, even a content that failed before.
    Signal,
    /// A periodic check (`taxonomy.watch_secs`): quiet unless the content changed.
    Watch,
}

impl Trigger {
    fn name(self) -> &'static str {
        match self {
            Trigger::Signal => "SIGHUP",
            Trigger::Watch => "taxonomy.watch_secs",
        }
    }
}

/// The result of one reload.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The new taxonomy is in use.
    Reloaded { from: String, to: String },
    /// The file holds the content in use: nothing to do.
    Unchanged,
    /// A watch check found a new content, which it compiles when the next check finds it again
    /// (a file written in place can be read half-written).
    Settling,
    /// A watch check found the content (or the read error) that failed last time; it is not
    /// compiled or reported again.
    StillFailing,
    /// The file cannot be read or is not a valid taxonomy for these settings; the taxonomy in
    /// use stays.
    Failed(String),
    /// `taxonomy.path` is not set: the built-in taxonomy cannot change.
    NoFile,
}

/// What failed last: the content's [`source_digest`] (none when the file could not be read)
/// and why.
struct Failure {
    content: Option<u64>,
    message: String,
}

/// Reloads the taxonomy of one running worker. See the module documentation.
pub struct Reloader {
    settings: Settings,
    shared: Arc<Shared>,
    failure: Option<Failure>,
    /// A new content a watch check found, compiled when the next check finds it unchanged.
    settling: Option<u64>,
}

impl Reloader {
    /// `shared` is the running worker's, whose taxonomy came from `settings`.
    pub fn new(settings: &Settings, shared: Arc<Shared>) -> Self {
        Reloader { settings: settings.clone(), shared, failure: None, settling: None }
    }

    /// Reads the taxonomy file and, when its content is new and valid, puts it in use. A watch
    /// check compiles a new content only when it found the same at the check before.
    pub fn reload(&mut self, trigger: Trigger) -> Outcome {
        let Some(path) = self.settings.taxonomy.path.clone() else {
            return Outcome::NoFile;
        };
        let origin = path.display().to_string();
        // A FIFO put in the file's place would block the read for good.
        let read = match unreadable_file(&path) {
            Some(problem) => Err(format!("{origin}: {problem}")),
            None => read_config_file(&path).map_err(|e| format!("{origin}: cannot read the taxonomy file: {e}")),
        };
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(message) => return self.fail(trigger, None, message),
        };
        let digest = source_digest(&bytes);
        // Compared with what the taxonomy in use was compiled from, not with the file as it was
        // when this started: an edit made while the worker started (the topic check can take
        // 40 s) is then not taken for the taxonomy in use.
        if digest == self.shared.enricher.get().taxonomy().digest() {
            // Back to the content in use (an edit undone): nothing is failing any more.
            (self.failure, self.settling) = (None, None);
            self.shared.stats.set_taxonomy_file_ok(true);
            return Outcome::Unchanged;
        }
        if trigger == Trigger::Watch {
            if self.failure.as_ref().is_some_and(|f| f.content == Some(digest)) {
                return Outcome::StillFailing;
            }
            if self.settling.replace(digest) != Some(digest) {
                return Outcome::Settling;
            }
        }
        self.settling = None;
        match self.put_in_use(&bytes, &origin) {
            Ok((from, to)) => {
                self.failure = None;
                self.shared.stats.record_taxonomy_reload(true);
                Outcome::Reloaded { from, to }
            }
            Err(message) => self.fail(trigger, Some(digest), message),
        }
    }

    /// Compiles and checks `bytes`, then makes them the taxonomy in use. Returns the versions
    /// before and after.
    fn put_in_use(&self, bytes: &[u8], origin: &str) -> Result<(String, String), String> {
        let taxonomy = Taxonomy::from_file_bytes(bytes, origin).map_err(|e| e.to_string())?;
        let enricher = Enricher::with_parts(taxonomy, SentimentAnalyzer::new(self.settings.sentiment.model));
        check_tag_references(&self.settings, &enricher)
            .map_err(|(key, message)| format!("{origin}: {key}: {message}"))?;
        let to = enricher.taxonomy().version().to_owned();
        let before = self.shared.enricher.replace(Arc::new(enricher));
        self.shared.stats.set_taxonomy_version(&to);
        Ok((before.taxonomy().version().to_owned(), to))
    }

    fn fail(&mut self, trigger: Trigger, content: Option<u64>, message: String) -> Outcome {
        let again = self.failure.as_ref().is_some_and(|f| f.content == content && f.message == message);
        self.failure = Some(Failure { content, message: message.clone() });
        if again && trigger == Trigger::Watch {
            return Outcome::StillFailing;
        }
        self.shared.stats.record_taxonomy_reload(false);
        Outcome::Failed(message)
    }

    fn version_in_use(&self) -> String {
        self.shared.enricher.get().taxonomy().version().to_owned()
    }
}

/// Checks that the tags the settings name exist in the enricher's taxonomy: `[[routes]]` and
/// `[taxonomy.remote.labels]` (so a typo fails loudly, at start-up or at a reload, instead of
/// silently routing nothing). Returns the offending key and message.
pub fn check_tag_references(settings: &Settings, enricher: &Enricher) -> Result<(), (String, String)> {
    enricher.check_routes(settings)?;
    crate::remote::tags::check_labels(settings, enricher.taxonomy())
}

/// SIGHUP, caught from the moment this is made: its default action (ending the process) no
/// longer applies, so that a SIGHUP during start-up is kept for the reload task instead.
pub struct Hangup {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Hangup {
    /// Made inside the runtime.
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        return Ok(Hangup { signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())? });
        #[cfg(not(unix))]
        Ok(Hangup {})
    }

    async fn recv(&mut self) -> Option<()> {
        #[cfg(unix)]
        return self.signal.recv().await;
        #[cfg(not(unix))]
        std::future::pending().await
    }
}

/// Reloads on each SIGHUP `hangup` delivers and, with `watch`, that often when the file changed,
/// logging each outcome, until the task is aborted. Compiling runs on a blocking thread.
pub fn spawn(
    mut reloader: Reloader,
    mut hangup: Option<Hangup>,
    watch: Option<Duration>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut checks = watch.map(|every| {
            let mut checks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            checks
        });
        loop {
            let trigger = tokio::select! {
                Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => Trigger::Signal,
                _ = async { match checks.as_mut() { Some(c) => c.tick().await, None => std::future::pending().await } } => Trigger::Watch,
                else => return,
            };
            let reloading = tokio::task::spawn_blocking(move || {
                // A bug in the compiler of taxonomies must not end the reloads for good.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reloader.reload(trigger)))
                    .unwrap_or_else(|panic| {
                        reloader.shared.stats.record_taxonomy_reload(false);
                        Outcome::Failed(format!("internal error while reloading: {}", panic_message(&panic)))
                    });
                (reloader, outcome)
            });
            let Ok((back, outcome)) = reloading.await else { return };
            reloader = back;
            log(trigger, &outcome, &reloader);
        }
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic")
}

fn log(trigger: Trigger, outcome: &Outcome, reloader: &Reloader) {
    let trigger_name = trigger.name();
    match outcome {
        Outcome::Reloaded { from, to } if from == to => tracing::warn!(
            trigger = trigger_name,
            from,
            to,
            "taxonomy reloaded, but its `version` is the same as before: records tagged by the two cannot be told \
             apart; bump it with every edit"
        ),
        Outcome::Reloaded { from, to } => {
            tracing::info!(trigger = trigger_name, from, to, "taxonomy reloaded: new messages are tagged by it")
        }
        Outcome::Unchanged if trigger == Trigger::Signal => {
            tracing::info!(trigger = trigger_name, version = reloader.version_in_use(), "taxonomy file unchanged")
        }
        Outcome::Unchanged | Outcome::Settling | Outcome::StillFailing => {}
        Outcome::Failed(error) => tracing::error!(
            trigger = trigger_name,
            error = %error,
            version = reloader.version_in_use(),
            "taxonomy reload failed: keeping the taxonomy in use"
        ),
        Outcome::NoFile => tracing::warn!(
            trigger = trigger_name,
            "no taxonomy.path is set: the built-in taxonomy is part of the binary and cannot be reloaded"
        ),
    }
}
