//! Typed settings: built-in defaults, then the TOML file, then `NEWS_ENRICHER_<SECTION>__<KEY>`
//! environment variables (later wins). Unknown keys are errors. [`Settings::validate`] checks
//! every value once at start-up so the worker never fails later on a typo; the binary reports
//! failures as `Invalid configuration: <key>: <problem>` and exits 64 (EX_USAGE).

use crate::enrich::sentiment::ModelKind;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Prefix of environment overrides; `__` separates nesting levels.
pub const ENV_PREFIX: &str = "NEWS_ENRICHER_";
/// The config file read when `--config` is not given, if it exists in the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "config/default.toml";
/// `kafka.brokers` value that starts the in-process development broker.
pub const EMBEDDED_BROKERS: &str = "embedded";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub kafka: KafkaSettings,
    /// Per-tag routes: a copy of each enriched record carrying the tag goes to the route's topic.
    pub routes: Vec<Route>,
    pub limits: Limits,
    pub taxonomy: TaxonomySettings,
    pub sentiment: SentimentSettings,
    pub enrich: EnrichSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
    pub embedded: EmbeddedSettings,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// Bootstrap servers (`host:port,host:port`), or `embedded` for the in-process dev broker.
    pub brokers: String,
    pub group_id: String,
    /// Topics to consume. Accepts a list or a comma-separated string (handy in env vars).
    #[serde(deserialize_with = "string_or_list")]
    pub input_topics: Vec<String>,
    pub output_topic: String,
    pub dlq_topic: String,
    /// Whether the enriched record and its route copies carry the input record's headers
    /// (trace context, producer metadata). Dead letters always carry them: they are the input.
    pub forward_headers: bool,
    /// What an input with a key and a null value (a tombstone: "delete this key") becomes.
    pub tombstones: Tombstones,
    /// The timestamp of enriched records, route copies and tombstones: the time they are written
    /// or the input record's own.
    pub output_timestamp: OutputTimestamp,
    /// Whether the enriched record, its route copies and tombstones carry where their input was
    /// (`news_enricher.source.topic`, `.partition`, `.offset` headers), which tells a copy made
    /// by re-processing from a new version of the article.
    pub source_headers: bool,
    /// Passed to librdkafka as is (security.protocol, sasl.*, ssl.*, tuning). Nested tables are
    /// flattened with dots, so `sasl.password = "…"` and `[kafka.properties.sasl] password = "…"`
    /// and `NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__PASSWORD` all mean `sasl.password`.
    pub properties: BTreeMap<String, serde_json::Value>,
    /// Like `properties`, for the consumer only (e.g. `session.timeout.ms`); wins over
    /// `properties`. Keeps consumer settings from being warned about by the producer.
    pub consumer_properties: BTreeMap<String, serde_json::Value>,
    /// Like `properties`, for the producer only (e.g. `linger.ms`, `compression.type`).
    pub producer_properties: BTreeMap<String, serde_json::Value>,
    /// Upper bound on messages read but not yet fully acknowledged; reading pauses at the bound.
    pub max_in_flight: usize,
    /// Upper bound on the key, payload and header bytes of those messages; reading pauses at the
    /// bound too (one message always fits). Memory for in-flight work is about three times this.
    pub max_in_flight_bytes: usize,
    /// How long a revoked partition's in-flight work may take to drain before it is released
    /// anyway. Must stay below the session timeout.
    pub drain_timeout_ms: u64,
    /// How long SIGTERM/SIGINT may take to drain, flush and commit before exiting.
    pub shutdown_timeout_secs: u64,
}

/// Written by hand so that no `{:?}` (a panic message, a test failure) shows a credential: the
/// property tables are shown flattened, secret values as `<redacted>`.
impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |table: &BTreeMap<String, serde_json::Value>| -> BTreeMap<String, String> {
            flatten_properties(&[table])
                .into_iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(&k) { REDACTED.to_owned() } else { v };
                    (k, v)
                })
                .collect()
        };
        let KafkaSettings {
            brokers,
            group_id,
            input_topics,
            output_topic,
            dlq_topic,
            forward_headers,
            tombstones,
            output_timestamp,
            source_headers,
            properties,
            consumer_properties,
            producer_properties,
            max_in_flight,
            max_in_flight_bytes,
            drain_timeout_ms,
            shutdown_timeout_secs,
        } = self;
        f.debug_struct("KafkaSettings")
            .field("brokers", brokers)
            .field("group_id", group_id)
            .field("input_topics", input_topics)
            .field("output_topic", output_topic)
            .field("dlq_topic", dlq_topic)
            .field("forward_headers", forward_headers)
            .field("tombstones", tombstones)
            .field("output_timestamp", output_timestamp)
            .field("source_headers", source_headers)
            .field("properties", &shown(properties))
            .field("consumer_properties", &shown(consumer_properties))
            .field("producer_properties", &shown(producer_properties))
            .field("max_in_flight", max_in_flight)
            .field("max_in_flight_bytes", max_in_flight_bytes)
            .field("drain_timeout_ms", drain_timeout_ms)
            .field("shutdown_timeout_secs", shutdown_timeout_secs)
            .finish()
    }
}

/// `kafka.tombstones`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tombstones {
    /// A tombstone with the same key to the output topic and every route topic, so compacted
    /// outputs delete the article too.
    #[default]
    Forward,
    /// Dead-lettered as `not_json`, like any message that is not a JSON object.
    DeadLetter,
}

/// `kafka.output_timestamp`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum OutputTimestamp {
    /// Stamped by the producer when written. The default because time-based retention counts
    /// from the timestamp: a backlog re-processed months later, stamped with its inputs' times,
    /// may be deleted by the output topic's retention soon after it is written.
    #[default]
    Write,
    /// The input record's timestamp (its create or log-append time), as Kafka Streams does, for
    /// readers that window or join on event time. An input without one is stamped when written.
    Input,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Tag id from the taxonomy.
    pub tag: String,
    pub topic: String,
    /// Only copy when the tag's score is at least this.
    #[serde(default)]
    pub min_score: f64,
}

/// Largest accepted `limits.max_message_bytes`: a hundred times any real article. Each record
/// is held whole while it is enriched, with its parsed text and its output beside it (about
/// seven times its size in `enrich`), so a larger limit would let one line or message take
/// gigabytes.
pub const MAX_MESSAGE_BYTES_LIMIT: usize = 100 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Messages larger than this go to the DLQ as `too_large` without being parsed.
    pub max_message_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TaxonomySettings {
    /// Taxonomy file; when unset or empty, the built-in default taxonomy (a copy of
    /// config/taxonomy.toml). Empty lets an environment override
    /// (`NEWS_ENRICHER_TAXONOMY__PATH=`) go back to the built-in one.
    #[serde(deserialize_with = "empty_as_none")]
    pub path: Option<PathBuf>,
    /// Seconds between checks of the taxonomy file for a new content, which is then reloaded
    /// while the worker runs (as on SIGHUP, see `crate::reload`); 0 (the default) checks only
    /// on SIGHUP. Needs `path`.
    pub watch_secs: u64,
    /// `[taxonomy.remote]`: an optional remote tag classifier whose tags are merged with the
    /// taxonomy's (see `docs/remote-model.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::remote::TagRemoteSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SentimentSettings {
    pub model: ModelKind,
    /// `[sentiment.remote]`: an optional remote model for article-level sentiment, with the
    /// built-in `model` as its fallback (see `docs/remote-model.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::remote::SentimentRemoteSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EnrichSettings {
    /// Threads that run enrichment; 0 means one per CPU core.
    pub threads: usize,
    /// `title` and `body` are HTML: enrichment reads the text a browser shows
    /// ([`crate::html`]). The record keeps both fields as received.
    pub html: bool,
}

/// More enrichment threads than any machine has cores gains nothing, and each costs a stack:
/// a mistyped value must be refused, not abort the worker when the threads cannot be made.
pub const MAX_ENRICH_THREADS: usize = 1024;

impl EnrichSettings {
    /// Threads for CPU-bound enrichment: `threads`, or one per core when 0.
    pub fn thread_count(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address of the /metrics, /healthz and /readyz endpoint; empty disables it.
    pub listen: String,
    /// A worker holding partitions with lag that completes nothing for this long is "stalled":
    /// not ready, and `news_enricher_stalled` is 1.
    pub stall_timeout_secs: u64,
    /// A stall that goes on this much longer than `stall_timeout_secs` stops the worker with
    /// exit 1, for a supervisor to restart it; 0 never does.
    pub stall_exit_secs: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when stderr is not a terminal (containers), human-readable otherwise.
    #[default]
    Auto,
    Json,
    Text,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// Filter in `RUST_LOG` syntax; `RUST_LOG`, when set, wins.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedSettings {
    /// Partitions of each topic created on the embedded broker.
    pub partitions: i32,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: EMBEDDED_BROKERS.into(),
            group_id: "news-enricher".into(),
            input_topics: vec!["news.raw".into()],
            output_topic: "news.enriched".into(),
            dlq_topic: "news.dlq".into(),
            forward_headers: true,
            tombstones: Tombstones::Forward,
            output_timestamp: OutputTimestamp::Write,
            source_headers: true,
            properties: BTreeMap::new(),
            consumer_properties: BTreeMap::new(),
            producer_properties: BTreeMap::new(),
            max_in_flight: 2000,
            max_in_flight_bytes: 64 << 20,
            drain_timeout_ms: 10_000,
            shutdown_timeout_secs: 30,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_message_bytes: crate::article::DEFAULT_MAX_MESSAGE_BYTES }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings { listen: "127.0.0.1:9464".into(), stall_timeout_secs: 60, stall_exit_secs: 0 }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings { format: LogFormat::Auto, level: "info".into() }
    }
}

impl Default for EmbeddedSettings {
    fn default() -> Self {
        EmbeddedSettings { partitions: 4 }
    }
}

/// A configuration problem, reported once at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Values that do not fit the settings (a wrong type, an unknown key or name) or a file that
    /// does not parse: one line per problem, `key: message (where the value came from)` (see
    /// [`describe_load_error`]).
    #[error("{}", .0.join("\n"))]
    Load(Vec<String>),
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

/// Whether an input topic is a subscription pattern: librdkafka reads a name starting with `^` as
/// a regular expression over topic names.
pub fn is_topic_pattern(topic: &str) -> bool {
    topic.starts_with('^')
}

/// Why `name` cannot name a Kafka topic, if it cannot: Kafka takes 1 to 249 ASCII letters,
/// digits, `.`, `_` and `-`, other than `.` and `..`. Checked at start-up so that a typo (a
/// space, a slash) is a configuration error, not a topic the broker refuses at the first record.
fn topic_name_problem(name: &str) -> Option<String> {
    if name == "." || name == ".." {
        return Some("`.` and `..` are not allowed".into());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Some(format!("{bad:?} is not allowed (only ASCII letters, digits, `.`, `_` and `-`)"));
    }
    // ASCII from here: bytes are characters.
    (name.len() > 249).then(|| format!("{} characters, over Kafka's limit of 249", name.len()))
}

/// librdkafka properties the delivery guarantees rest on: a user value must be one of the
/// accepted ones. The worker sets them itself; they are listed so that an override that would
/// lose or silently duplicate articles, or blind the health checks, is refused at start-up.
/// Compared under their canonical names ([`canonical_property_name`]), so each stands for its
/// aliases and `topic.` spellings too (`acks` for `request.required.acks`).
const DELIVERY_PROPERTIES: [(&str, &[&str], &str); 7] = [
    (
        "enable.auto.offset.store",
        &["false"],
        "offsets are stored only once an article's records are acknowledged; automatic storing would commit unprocessed articles",
    ),
    ("enable.auto.commit", &["true"], "stored offsets are committed by librdkafka every second"),
    ("enable.idempotence", &["true"], "retried writes must not duplicate or reorder records"),
    ("message.timeout.ms", &["0"], RETRY_UNTIL_DELIVERED),
    ("acks", &["all", "-1"], ACKS_ALL),
    (
        "auto.offset.reset",
        &["earliest", "smallest", "beginning"],
        "a group without a usable committed offset must start at the oldest record, not skip the backlog",
    ),
    ("enable.partition.eof", &["false"], "the worker reads on past the end of a partition and has no use for the event"),
];

/// librdkafka properties the worker's own settings give, or that it cannot work with: refused
/// in every property table, with what to do instead. A `group.id` there would silently replace
/// `kafka.group_id` (the user's properties win over the worker's), and a transactional producer
/// fails at its first record (the worker writes outside transactions).
const REFUSED_PROPERTIES: [(&str, &str); 3] = [
    ("group.id", "set kafka.group_id instead (a value here would silently replace it)"),
    ("metadata.broker.list", "set kafka.brokers instead (a value here would silently replace it)"),
    (
        "transactional.id",
        "the worker does not write in transactions (its delivery rests on storing an input's offset once its records are acknowledged); a transactional producer would fail at its first record",
    ),
];

/// The name librdkafka keeps a property under: the `topic.` prefix of a topic-level property
/// dropped (librdkafka takes `topic.acks` for `acks`; `topic.metadata.*` and `topic.blacklist`
/// are global properties of their own) and aliases resolved (`linger.ms` is
/// `queue.buffering.max.ms`, `acks` is `request.required.acks`). Two spellings of one property
/// must never both reach librdkafka: rdkafka's `ClientConfig` is a hash map, so which of them
/// librdkafka applied last would change from one start to the next.
pub fn canonical_property_name(key: &str) -> &str {
    let key = match key.strip_prefix("topic.") {
        Some(rest) if !rest.starts_with("metadata.") && rest != "blacklist" => rest,
        _ => key,
    };
    match key {
        "bootstrap.servers" => "metadata.broker.list",
        "max.in.flight" => "max.in.flight.requests.per.connection",
        "sasl.mechanism" => "sasl.mechanisms",
        "sasl.oauthbearer.client.credentials.client.id" => "sasl.oauthbearer.client.id",
        "sasl.oauthbearer.client.credentials.client.secret" => "sasl.oauthbearer.client.secret",
        "max.partition.fetch.bytes" => "fetch.message.max.bytes",
        "linger.ms" => "queue.buffering.max.ms",
        "retries" => "message.send.max.retries",
        "compression.type" => "compression.codec",
        "acks" => "request.required.acks",
        "delivery.timeout.ms" => "message.timeout.ms",
        other => other,
    }
}

const RETRY_UNTIL_DELIVERED: &str = "records are retried until the broker has them; a record that timed out would be sent again after later ones, out of per-key order and possibly twice";

const ACKS_ALL: &str = "a record counts as written only when every in-sync replica has it";

/// A librdkafka value as compared with [`DELIVERY_PROPERTIES`]: librdkafka reads booleans
/// case-insensitively and takes `t`/`1` and `f`/`0` for them, and enum values ignore case.
fn normalized_property_value(value: &str) -> String {
    match value.trim().to_ascii_lowercase().as_str() {
        "t" | "1" => "true".into(),
        "f" | "0" => "false".into(),
        other => other.into(),
    }
}

/// Longest accepted `statistics.interval.ms`: consumer lag, the stall watchdog and an idle
/// worker's broker health come from librdkafka's statistics, so they must arrive (0 turns them
/// off) and often enough.
const MAX_STATISTICS_INTERVAL_MS: u32 = 60_000;

/// Largest configuration, taxonomy or CA file read: far above any real one (the built-in
/// taxonomy is about 55 KB), small enough that a wrong path (a log, a dump) fails at once instead
/// of filling memory.
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 << 20;

/// Reads a configuration-type file whole, refusing one over [`MAX_CONFIG_FILE_BYTES`].
pub fn read_config_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(MAX_CONFIG_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("over the limit of {MAX_CONFIG_FILE_BYTES} bytes for a configuration file"),
        ));
    }
    Ok(bytes)
}

/// Why `path` cannot be read as a configuration-type file, if it cannot: missing, a directory or
/// another file that is not a regular one, or not readable (the system's reason).
pub fn unreadable_file(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("no such file".into()),
        Err(e) => Some(e.to_string()),
        Ok(m) if m.is_dir() => Some("is a directory, not a file".into()),
        Ok(m) if !m.is_file() => Some("not a regular file".into()),
        Ok(_) => std::fs::File::open(path).err().map(|e| e.to_string()),
    }
}

/// Whether an environment `value` for the setting at `key` (a lower-case dotted path) is text,
/// taken as written: librdkafka properties (all strings to librdkafka), the text settings that
/// have no default (remote tokens, URLs, names, file paths), those whose default is a string, and
/// those whose default is a list of strings (topic lists: `007` or `a,b`) unless the value is
/// written as a list (`[a, b]`).
fn is_text_setting(key: &str, value: &str) -> bool {
    static DEFAULTS: std::sync::LazyLock<Figment> =
        std::sync::LazyLock::new(|| Figment::from(Serialized::defaults(Settings::default())));
    ["kafka.properties.", "kafka.consumer_properties.", "kafka.producer_properties."]
        .iter()
        .any(|table| key.starts_with(table))
        || [".token", ".url", ".name", ".path", ".ca_file"].iter().any(|suffix| key.ends_with(suffix))
        || match DEFAULTS.find_value(key) {
            Ok(figment::value::Value::String(..)) => true,
            Ok(figment::value::Value::Array(_, items)) => {
                items.iter().all(|item| matches!(item, figment::value::Value::String(..)))
                    && !value.trim_start().starts_with('[')
            }
            _ => false,
        }
}

/// A file's syntax error without the excerpt of the file that the TOML parser quotes
/// (`2 | "sasl.password" = ...` and its caret line): the line may hold a credential, and the
/// line and column say where to look.
fn without_source_excerpt(message: &str) -> String {
    let is_excerpt =
        |line: &str| line.trim_start().trim_start_matches(|c: char| c.is_ascii_digit()).trim_start().starts_with('|');
    let lines: Vec<&str> = message.lines().filter(|line| !is_excerpt(line)).collect();
    lines.join("\n")
}

/// Where a value came from, for error messages.
enum Origin {
    /// `NEWS_ENRICHER_...`, the variable's name.
    Env(String),
    /// The configuration file, as given.
    File(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Env(name) => write!(f, "from environment variable {name}"),
            Origin::File(path) => write!(f, "in {path}"),
        }
    }
}

/// Figment's errors as our lines, one per error it reports: `kafka.tombstones: unknown variant
/// `drop`, expected `forward` or `dead_letter` (from environment variable
/// NEWS_ENRICHER_KAFKA__TOMBSTONES)`. The key is the dotted setting (`routes[0].topic`) without
/// figment's profile, the message says what was found and what is accepted in the words of the
/// configuration (no Rust type names), and the origin is the environment variable or the file
/// that gave the value (never a source location of this program). A value of a secret setting is
/// not quoted, and neither is a line of a file that does not parse.
fn describe_load_error(error: figment::Error, file: Option<&Path>, env_keys: &[String]) -> Vec<String> {
    let file_values = file.map(|f| Figment::from(Toml::file(f)));
    error
        .into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            // The path of an unknown key ends with it; that of a missing one does not.
            if let figment::error::Kind::MissingField(field) = &e.kind {
                path.push(field.to_string());
            }
            let key = display_key(&path);
            let message = describe_kind(&e.kind, is_secret_key(&key));
            let origin = origin_of(&path, env_keys, file, file_values.as_ref()).or_else(|| {
                // Without a key (a file that does not parse), the provider says.
                let source = e.metadata.as_ref()?.source.as_ref()?;
                let figment::Source::File(read) = source else { return None };
                let same = |given: &Path| std::fs::canonicalize(given).ok() == std::fs::canonicalize(read).ok();
                Some(Origin::File(match file {
                    Some(given) if same(given) => given.display().to_string(),
                    _ => source.to_string(), // relative to the working directory when within it
                }))
            });
            let mut line = if key.is_empty() { message } else { format!("{key}: {message}") };
            // A list set item by item (`NEWS_ENRICHER_ROUTES__0__TAG`) arrives as a table.
            let list_in_parts = matches!(
                (&e.kind, &origin),
                (figment::error::Kind::InvalidType(figment::error::Actual::Map, expected), Some(Origin::Env(_)))
                    if expected == "a sequence"
            );
            if let Some(origin) = origin {
                line = format!("{line} ({origin})");
            }
            if list_in_parts {
                let var = format!("{ENV_PREFIX}{}", path.join("__").to_ascii_uppercase());
                let example =
                    if key == "routes" { r#"[{tag="taiwan", topic="news.tag.taiwan"}]"# } else { r#"["a", "b"]"# };
                line = format!("{line}; a list is set whole, in one variable: {var}='{example}'");
            }
            line
        })
        .collect()
}

/// `routes[0].min_score` from figment's `["routes", "0", "min_score"]`.
fn display_key(path: &[String]) -> String {
    let mut key = String::new();
    for segment in path {
        if !key.is_empty() && !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            key.push_str(&format!("[{segment}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(segment);
        }
    }
    key
}

/// Which source gave the value at `path` (or the table holding it, or, for a list or table the
/// environment gave in parts, one of its parts): the environment wins over the file, as when
/// the settings are merged.
fn origin_of(
    path: &[String],
    env_keys: &[String],
    file: Option<&Path>,
    file_values: Option<&Figment>,
) -> Option<Origin> {
    let env_name = |key: &str| format!("{ENV_PREFIX}{}", key.replace('.', "__").to_ascii_uppercase());
    let dotted = path.join(".").to_ascii_lowercase();
    if let Some(key) = env_keys.iter().find(|k| k.starts_with(&format!("{dotted}."))) {
        return Some(Origin::Env(env_name(key)));
    }
    for end in (1..=path.len()).rev() {
        let prefix = path[..end].join(".");
        if env_keys.iter().any(|k| *k == prefix.to_ascii_lowercase()) {
            return Some(Origin::Env(env_name(&prefix)));
        }
        if let (Some(file), Some(values)) = (file, file_values) {
            if values.find_value(&prefix).is_ok() {
                return Some(Origin::File(file.display().to_string()));
            }
        }
    }
    None
}

/// Figment's error kind in the words of the configuration. `secret`: the value is not quoted.
fn describe_kind(kind: &figment::error::Kind, secret: bool) -> String {
    use figment::error::{Kind, OneOf};
    let found = |actual: &figment::error::Actual| describe_actual(actual, secret);
    match kind {
        Kind::Message(message) => {
            let shown = without_source_excerpt(message);
            let lines: Vec<&str> = shown.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            lines.join(": ")
        }
        Kind::InvalidType(actual, expected) => {
            format!("invalid type: found {}, expected {}", found(actual), describe_expected(expected))
        }
        Kind::InvalidValue(actual, expected) => {
            format!("invalid value: found {}, expected {}", found(actual), describe_expected(expected))
        }
        Kind::InvalidLength(length, expected) => {
            format!("invalid length {length}, expected {}", describe_expected(expected))
        }
        Kind::UnknownVariant(name, expected) => format!("unknown variant `{name}`, expected {}", OneOf(expected)),
        Kind::UnknownField(_, expected) => format!("unknown key, expected {}", OneOf(expected)),
        Kind::MissingField(_) => "missing: this key is required".into(),
        Kind::DuplicateField(_) => "given more than once".into(),
        Kind::ISizeOutOfRange(n) => format!("number {n} is out of range"),
        Kind::USizeOutOfRange(n) => format!("number {n} is out of range"),
        Kind::Unsupported(actual) => format!("unsupported value: {}", found(actual)),
        Kind::UnsupportedKey(actual, expected) => {
            format!("unsupported key: found {}, expected {}", found(actual), describe_expected(expected))
        }
    }
}

fn describe_actual(actual: &figment::error::Actual, secret: bool) -> String {
    use figment::error::Actual;
    match actual {
        Actual::Str(_) if secret => "a string".into(),
        Actual::Bool(_) | Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_) | Actual::Char(_) if secret => {
            "a value of another type".into()
        }
        Actual::Bool(b) => format!("boolean `{b}`"),
        Actual::Unsigned(n) => format!("integer `{n}`"),
        Actual::Signed(n) => format!("integer `{n}`"),
        Actual::Float(n) => format!("number `{n}`"),
        Actual::Char(c) => format!("string {:?}", c.to_string()),
        Actual::Str(s) => format!("string {s:?}"),
        Actual::Bytes(_) => "bytes".into(),
        Actual::Unit | Actual::Option => "an empty value".into(),
        Actual::Seq => "a list".into(),
        Actual::Map | Actual::NewtypeStruct | Actual::StructVariant => "a table".into(),
        other => other.to_string(),
    }
}

/// serde's description of what was expected, without Rust type names (`usize`, `struct Route`).
fn describe_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "a list".into(),
        "a map" | "map" => "a table".into(),
        "a boolean" | "a string" | "a character" => expected.into(),
        other if other.starts_with("struct ") || other.starts_with("a map") => "a table".into(),
        other if other.starts_with("enum ") || other.starts_with("variant identifier") => "a name".into(),
        other if other.starts_with("tuple") || other.starts_with("a sequence") => "a list".into(),
        other if other.contains("::") => "a value of another type".into(),
        other => other.into(),
    }
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), message: message.into() }
}

impl Settings {
    /// Loads settings: defaults, then `path` (or [`DEFAULT_CONFIG_PATH`] if it exists), then
    /// the environment. An explicitly given file must exist.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(path, Env::prefixed(ENV_PREFIX).split("__"))
    }

    fn load_with_env(path: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let file = match path {
            Some(p) => {
                if let Some(problem) = unreadable_file(p) {
                    return Err(invalid("--config", format!("{}: {problem}", p.display())));
                }
                Some(p)
            }
            None => Some(Path::new(DEFAULT_CONFIG_PATH)).filter(|p| p.is_file()),
        };
        if let Some(file) = file {
            // Size-checked here; figment reads the file itself, so its errors name it.
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            if size > MAX_CONFIG_FILE_BYTES {
                return Err(invalid(
                    "--config",
                    format!("{}: {size} bytes, over the limit of {MAX_CONFIG_FILE_BYTES}", file.display()),
                ));
            }
            figment = figment.merge(Toml::file(file));
        }
        // Figment reads an environment value as TOML-like data ("007" as the number 7, "[a,b]" as
        // a list). Values meant as text (passwords, user names, topic names) keep their spelling.
        let env_keys: Vec<String> = env.iter().map(|(key, _)| key.as_str().to_ascii_lowercase()).collect();
        let text: Vec<(String, String)> = env
            .iter()
            .map(|(key, value)| (key.as_str().to_ascii_lowercase(), value))
            .filter(|(key, value)| is_text_setting(key, value))
            .collect();
        let text_keys: std::collections::HashSet<String> = text.iter().map(|(key, _)| key.clone()).collect();
        figment = figment.merge(env.filter(move |key| !text_keys.contains(&key.as_str().to_ascii_lowercase())));
        for (key, value) in text {
            figment = figment.merge(Serialized::default(&key, value));
        }
        let mut settings: Settings =
            figment.extract().map_err(|e| ConfigError::Load(describe_load_error(e, file, &env_keys)))?;
        settings.kafka.flatten_property_tables(&env_keys)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value; the first problem is returned with its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.kafka;
        if k.brokers.trim().is_empty() {
            return Err(invalid("kafka.brokers", "must not be empty (use \"embedded\" for the development broker)"));
        }
        for (key, value) in [
            ("kafka.group_id", &k.group_id),
            ("kafka.output_topic", &k.output_topic),
            ("kafka.dlq_topic", &k.dlq_topic),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(key, "must not be empty"));
            }
        }
        if k.input_topics.is_empty() {
            return Err(invalid("kafka.input_topics", "must list at least one topic"));
        }
        if let Some(i) = k.input_topics.iter().position(|t| t.trim().is_empty()) {
            return Err(invalid(format!("kafka.input_topics[{i}]"), "must not be an empty topic name"));
        }
        let named_topics = k
            .input_topics
            .iter()
            .enumerate()
            .filter(|(_, t)| !is_topic_pattern(t))
            .map(|(i, t)| (format!("kafka.input_topics[{i}]"), t))
            .chain([("kafka.output_topic".to_owned(), &k.output_topic), ("kafka.dlq_topic".to_owned(), &k.dlq_topic)])
            .chain(self.routes.iter().enumerate().map(|(i, r)| (format!("routes[{i}].topic"), &r.topic)));
        for (key, topic) in named_topics {
            if let Some(problem) = topic_name_problem(topic) {
                return Err(invalid(key, format!("{topic:?} is not a valid Kafka topic name: {problem}")));
            }
        }
        let mut patterns = Vec::new();
        for (i, input) in k.input_topics.iter().enumerate().filter(|(_, t)| is_topic_pattern(t)) {
            let pattern = regex::Regex::new(input)
                .map_err(|e| invalid(format!("kafka.input_topics[{i}]"), format!("is not a valid pattern: {e}")))?;
            patterns.push((i, input, pattern));
        }
        let outputs = [("output topic", &k.output_topic), ("dead-letter topic", &k.dlq_topic)]
            .into_iter()
            .chain(self.routes.iter().map(|r| ("route topic", &r.topic)));
        for (kind, out) in outputs {
            if k.input_topics.contains(out) {
                return Err(invalid(
                    "kafka.input_topics",
                    format!("must not contain the {kind} {out:?} (that would loop)"),
                ));
            }
            for (i, input, pattern) in &patterns {
                if pattern.is_match(out) {
                    return Err(invalid(
                        format!("kafka.input_topics[{i}]"),
                        format!("the pattern {input:?} matches the {kind} {out:?}: the worker would consume its own records, which loops"),
                    ));
                }
            }
        }
        if k.output_topic == k.dlq_topic {
            return Err(invalid("kafka.dlq_topic", "must differ from kafka.output_topic"));
        }
        if k.max_in_flight == 0 {
            return Err(invalid("kafka.max_in_flight", "must be at least 1"));
        }
        if k.max_in_flight_bytes == 0 {
            return Err(invalid("kafka.max_in_flight_bytes", "must be at least 1"));
        }
        if k.shutdown_timeout_secs == 0 || k.shutdown_timeout_secs > MAX_DURATION_MS / 1000 {
            return Err(invalid(
                "kafka.shutdown_timeout_secs",
                format!("must be between 1 and {}", MAX_DURATION_MS / 1000),
            ));
        }
        // Each property's own checks first: they name its table and what librdkafka makes of it.
        self.validate_client_properties()?;
        self.check_oauthbearer_token()?;
        crate::pipeline::check_producer_queue(self).map_err(|m| {
            const QUEUE: &str = "queue.buffering.max.kbytes";
            let tables = [
                ("kafka.properties", &self.kafka.properties),
                ("kafka.producer_properties", &self.kafka.producer_properties),
            ];
            let key = property_setting(&tables, QUEUE).map(|(key, _)| key);
            invalid(key.unwrap_or_else(|| format!("kafka.producer_properties.{QUEUE}")), m)
        })?;
        let session_timeout_ms = self
            .consumer_kafka_properties()
            .get("session.timeout.ms")
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    invalid("kafka.consumer_properties.session.timeout.ms", "must be a whole number of milliseconds")
                })
            })
            .transpose()?
            .unwrap_or(45_000);
        if k.drain_timeout_ms == 0 || k.drain_timeout_ms >= session_timeout_ms {
            return Err(invalid(
                "kafka.drain_timeout_ms",
                format!("must be between 1 and the session timeout ({session_timeout_ms} ms), or the group evicts the worker while it drains"),
            ));
        }
        for (i, route) in self.routes.iter().enumerate() {
            if route.tag.trim().is_empty() || route.topic.trim().is_empty() {
                return Err(invalid(format!("routes[{i}]"), "needs a non-empty `tag` and `topic`"));
            }
            if !(0.0..=1.0).contains(&route.min_score) {
                return Err(invalid(format!("routes[{i}].min_score"), "must be between 0 and 1"));
            }
            if route.topic == k.dlq_topic {
                return Err(invalid(
                    format!("routes[{i}].topic"),
                    "must differ from kafka.dlq_topic: the dead-letter topic holds dead letters only",
                ));
            }
            if route.topic == k.output_topic {
                return Err(invalid(
                    format!("routes[{i}].topic"),
                    "must differ from kafka.output_topic: every enriched record is written there already, and a copy would be a duplicate",
                ));
            }
            if let Some(first) = self.routes[..i].iter().position(|r| r.tag == route.tag && r.topic == route.topic) {
                return Err(invalid(
                    format!("routes[{i}]"),
                    format!(
                        "repeats routes[{first}] (tag {:?} to {:?}): each record would be copied twice",
                        route.tag, route.topic
                    ),
                ));
            }
        }
        if !(1..=MAX_MESSAGE_BYTES_LIMIT).contains(&self.limits.max_message_bytes) {
            return Err(invalid(
                "limits.max_message_bytes",
                format!("must be 1 to {MAX_MESSAGE_BYTES_LIMIT} (100 MiB): a record is held whole, several times over, while it is enriched"),
            ));
        }
        if self.enrich.threads > MAX_ENRICH_THREADS {
            return Err(invalid(
                "enrich.threads",
                format!("must be at most {MAX_ENRICH_THREADS} (0 means one per CPU core)"),
            ));
        }
        if !self.http.listen.is_empty() && self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "http.listen",
                format!("{:?} is not an address like 0.0.0.0:9464 (empty disables the endpoint)", self.http.listen),
            ));
        }
        if self.http.stall_exit_secs > MAX_DURATION_MS / 1000 {
            return Err(invalid("http.stall_exit_secs", format!("must be at most {}", MAX_DURATION_MS / 1000)));
        }
        if self.http.stall_timeout_secs == 0 || self.http.stall_timeout_secs > MAX_DURATION_MS / 1000 {
            return Err(invalid(
                "http.stall_timeout_secs",
                format!("must be between 1 and {}", MAX_DURATION_MS / 1000),
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(invalid("log.level", e.to_string()));
        }
        if self.embedded.partitions < 1 {
            return Err(invalid("embedded.partitions", "must be at least 1"));
        }
        if self.taxonomy.watch_secs > MAX_DURATION_MS / 1000 {
            return Err(invalid("taxonomy.watch_secs", format!("must be at most {}", MAX_DURATION_MS / 1000)));
        }
        if self.taxonomy.watch_secs > 0 && self.taxonomy.path.is_none() {
            return Err(invalid(
                "taxonomy.watch_secs",
                "needs taxonomy.path: the built-in taxonomy is part of the binary and cannot change",
            ));
        }
        if let Some(path) = &self.taxonomy.path {
            if let Some(problem) = unreadable_file(path) {
                return Err(invalid("taxonomy.path", format!("{}: {problem}", path.display())));
            }
        }
        if let Some(remote) = self.sentiment.remote.as_ref() {
            validate_remote(remote, k.drain_timeout_ms)?;
        }
        if let Some(remote) = self.taxonomy.remote.as_ref() {
            validate_remote(remote, k.drain_timeout_ms)?;
        }
        Ok(())
    }

    /// Whether the in-process development broker is configured.
    pub fn is_embedded(&self) -> bool {
        self.kafka.brokers.trim() == EMBEDDED_BROKERS
    }

    /// `kafka.properties` flattened to librdkafka's `key = string value` form.
    pub fn kafka_properties(&self) -> BTreeMap<String, String> {
        flatten_properties(&[&self.kafka.properties])
    }

    /// The consumer's librdkafka properties: `kafka.properties`, then `kafka.consumer_properties`.
    pub fn consumer_kafka_properties(&self) -> BTreeMap<String, String> {
        flatten_properties(&[&self.kafka.properties, &self.kafka.consumer_properties])
    }

    /// With the embedded broker, which speaks only PLAINTEXT, a `security.protocol` other than
    /// `plaintext` cannot work: with TLS the clients retry a handshake it cannot answer and the
    /// worker only ever logs "all brokers are unreachable"; with SASL authentication fails. The
    /// warning `run` logs and `check-config` prints, naming the setting. It is not an error,
    /// because a failing authentication is itself worth trying out on the embedded broker;
    /// `demo` drops those settings instead ([`Settings::drop_security_properties`]).
    pub fn embedded_security_warning(&self) -> Option<String> {
        if !self.is_embedded() {
            return None;
        }
        self.property_tables().into_iter().find_map(|(table, properties)| {
            let protocol = flatten_properties(&[properties]).remove("security.protocol")?;
            (!protocol.eq_ignore_ascii_case("plaintext")).then(|| {
                format!(
                    "{table}.security.protocol is {protocol:?}, but the embedded broker speaks only PLAINTEXT: its \
                     clients cannot connect or authenticate; unset it, or set kafka.brokers to your cluster"
                )
            })
        })
    }

    /// The three librdkafka property tables, with their keys.
    fn property_tables(&self) -> [(&'static str, &BTreeMap<String, serde_json::Value>); 3] {
        [
            ("kafka.properties", &self.kafka.properties),
            ("kafka.consumer_properties", &self.kafka.consumer_properties),
            ("kafka.producer_properties", &self.kafka.producer_properties),
        ]
    }

    /// Removes the connection-security settings (`security.protocol`, `sasl.*`, `ssl.*`) from
    /// the librdkafka properties, for the embedded broker, which speaks only PLAINTEXT. Returns
    /// the keys removed (their values may be secrets; the keys are not).
    pub fn drop_security_properties(&mut self) -> Vec<String> {
        let is_security = |key: &str| key == "security.protocol" || key.starts_with("sasl.") || key.starts_with("ssl.");
        let mut dropped = Vec::new();
        for table in
            [&mut self.kafka.properties, &mut self.kafka.consumer_properties, &mut self.kafka.producer_properties]
        {
            let (security, kept): (BTreeMap<_, _>, BTreeMap<_, _>) =
                flatten_properties(&[table]).into_iter().partition(|(k, _)| is_security(k));
            if !security.is_empty() {
                dropped.extend(security.into_keys());
                *table = kept.into_iter().map(|(k, v)| (k, v.into())).collect();
            }
        }
        dropped.sort();
        dropped.dedup();
        dropped
    }

    /// The producer's librdkafka properties: `kafka.properties`, then `kafka.producer_properties`.
    pub fn producer_kafka_properties(&self) -> BTreeMap<String, String> {
        flatten_properties(&[&self.kafka.properties, &self.kafka.producer_properties])
    }

    /// `text` with every credential of these settings (secret librdkafka properties, remote
    /// tokens, remote URL queries) replaced by [`REDACTED`] (see [`hide_secrets`]): for
    /// messages that may quote a configured value, such as librdkafka's "invalid value" errors.
    pub fn redact(&self, text: &str) -> String {
        hide_secrets(text, &self.secrets())
    }

    /// Every credential in the settings, as text to hide wherever it appears, longest first (so
    /// that a secret containing another is hidden whole): the values of secret librdkafka
    /// properties, the remote models' tokens and their URLs' queries. Of the values made of
    /// `name=value` pairs (`sasl.oauthbearer.config`, whose parser quotes the rest of the value
    /// from a pair it refuses, and URL queries) each pair's value is a secret too, when it has
    /// at least 8 characters.
    pub fn secrets(&self) -> Vec<String> {
        let tables = [&self.kafka.properties, &self.kafka.consumer_properties, &self.kafka.producer_properties];
        let mut secrets = Vec::new();
        let mut pairs = Vec::new();
        for (key, value) in tables.into_iter().flat_map(|table| flatten_properties(&[table])) {
            if key == "sasl.oauthbearer.config" {
                pairs.extend(value.split_whitespace().map(str::to_owned));
            }
            if is_secret_key(&key) {
                secrets.push(value);
            }
        }
        for remote_token in [
            self.sentiment.remote.as_ref().and_then(|r| r.token.as_ref()),
            self.taxonomy.remote.as_ref().and_then(|r| r.token.as_ref()),
        ]
        .into_iter()
        .flatten()
        {
            secrets.push(remote_token.expose().to_owned());
        }
        // A remote model's URL query may hold a credential (`?api_key=`).
        let urls = [self.sentiment.remote.as_ref().map(|r| &r.url), self.taxonomy.remote.as_ref().map(|r| &r.url)];
        for query in urls.into_iter().flatten().filter_map(|url| crate::remote::settings::url_query(url)) {
            secrets.push(query.to_owned());
            pairs.extend(query.split('&').map(str::to_owned));
        }
        const MIN_PAIR_VALUE_CHARS: usize = 8;
        secrets.extend(
            pairs
                .iter()
                .filter_map(|pair| pair.split_once('=').map(|(_, value)| value))
                .filter(|value| value.chars().count() >= MIN_PAIR_VALUE_CHARS)
                .map(str::to_owned),
        );
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        secrets
    }

    /// Checks each librdkafka property the way librdkafka reads it, so that a misspelt property
    /// or a bad value is a configuration error at start-up (exit 64, in `check-config` too) and
    /// not a failure to make the clients. Combinations are checked when the clients are made
    /// (`pipeline::check_client_configs`, before `run`, `demo` and `check-config` do anything).
    fn validate_client_properties(&self) -> Result<(), ConfigError> {
        for (table, props) in [
            ("kafka.properties", &self.kafka.properties),
            ("kafka.consumer_properties", &self.kafka.consumer_properties),
            ("kafka.producer_properties", &self.kafka.producer_properties),
        ] {
            for (key, value) in flatten_properties(&[props]) {
                if value.contains(REDACTED) {
                    return Err(invalid(format!("{table}.{key}"), REDACTED_PLACEHOLDER));
                }
                if let Some((_, instead)) =
                    REFUSED_PROPERTIES.iter().find(|(name, _)| *name == canonical_property_name(&key))
                {
                    return Err(invalid(format!("{table}.{key}"), format!("is not accepted: {instead}")));
                }
                if let Some(read) = read_as_another_whole_number(&key, &value) {
                    return Err(invalid(
                        format!("{table}.{key}"),
                        format!(
                            "must be a whole number in decimal digits: librdkafka reads this property as one and would take {} as {read}",
                            self.redact(value.trim())
                        ),
                    ));
                }
                let mut config = rdkafka::ClientConfig::new();
                config.set(&key, &value);
                if let Err(e) = config.create_native_config() {
                    // librdkafka's own description, without the value rdkafka appends to it: the
                    // value of a misspelt secret ("sasl.pasword") would not be recognised as one.
                    let message = match e {
                        rdkafka::error::KafkaError::ClientConfig(_, description, _, _) => description,
                        other => other.to_string(),
                    };
                    return Err(invalid(format!("{table}.{key}"), self.redact(&message)));
                }
                let normalized = normalized_property_value(&value);
                if let Some((_, required, why)) = DELIVERY_PROPERTIES.iter().find(|(name, required, _)| {
                    // "0" is also a boolean's false, so numbers are compared as written too.
                    canonical_property_name(name) == canonical_property_name(&key)
                        && !required.contains(&normalized.as_str())
                        && !required.contains(&value.trim())
                }) {
                    return Err(invalid(
                        format!("{table}.{key}"),
                        format!("must be {} (or left out): {why}", required.join(" or ")),
                    ));
                }
                if canonical_property_name(&key) == "statistics.interval.ms"
                    && !value.trim().parse::<u32>().is_ok_and(|ms| (1..=MAX_STATISTICS_INTERVAL_MS).contains(&ms))
                {
                    return Err(invalid(
                        format!("{table}.{key}"),
                        format!(
                            "must be 1 to {MAX_STATISTICS_INTERVAL_MS}: consumer lag, the stall watchdog and broker health come from librdkafka's statistics"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `OAUTHBEARER` needs a token, and this build can only make librdkafka's unsecured one
    /// (`enable.sasl.oauthbearer.unsecure.jwt`; the OIDC fetch needs libcurl). Without it,
    /// librdkafka waits for the application to set a token, which the worker never does: it
    /// would never connect, and only ever say that no broker connection is up.
    fn check_oauthbearer_token(&self) -> Result<(), ConfigError> {
        let shared = ("kafka.properties", &self.kafka.properties);
        let consumer = [shared, ("kafka.consumer_properties", &self.kafka.consumer_properties)];
        let producer = [shared, ("kafka.producer_properties", &self.kafka.producer_properties)];
        for client in [consumer, producer] {
            let setting = |name: &str| property_setting(&client, name);
            let sasl =
                setting("security.protocol").is_some_and(|(_, v)| v.trim().to_ascii_lowercase().starts_with("sasl"));
            let Some((key, mechanism)) = setting("sasl.mechanisms") else { continue };
            let unsecured_token = setting("enable.sasl.oauthbearer.unsecure.jwt")
                .is_some_and(|(_, v)| normalized_property_value(&v) == "true");
            if sasl && mechanism.trim().eq_ignore_ascii_case("OAUTHBEARER") && !unsecured_token {
                return Err(invalid(
                    key,
                    "OAUTHBEARER needs a token source, and this build has only librdkafka's unsecured development \
                     token (enable.sasl.oauthbearer.unsecure.jwt = true; no OIDC fetch, which needs libcurl): \
                     without one the clients wait for a token for good and never connect",
                ));
            }
        }
        Ok(())
    }

    /// The effective settings as TOML with secrets replaced by `"<redacted>"`.
    pub fn to_redacted_toml(&self) -> String {
        let redact = |props: BTreeMap<String, String>| -> BTreeMap<String, serde_json::Value> {
            props
                .into_iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(&k) { REDACTED.to_owned() } else { v };
                    (k, serde_json::Value::String(v))
                })
                .collect()
        };
        let mut shown = self.clone();
        shown.kafka.properties = redact(self.kafka_properties());
        shown.kafka.consumer_properties = redact(flatten_properties(&[&self.kafka.consumer_properties]));
        shown.kafka.producer_properties = redact(flatten_properties(&[&self.kafka.producer_properties]));
        // The remote model's token serialises as "<redacted>" by construction (remote::Secret);
        // made explicit here so the rule is visible where redaction happens.
        if let Some(token) = shown.sentiment.remote.as_mut().and_then(|r| r.token.as_mut()) {
            *token = crate::remote::Secret::new(REDACTED);
        }
        for url in
            [shown.sentiment.remote.as_mut().map(|r| &mut r.url), shown.taxonomy.remote.as_mut().map(|r| &mut r.url)]
                .into_iter()
                .flatten()
        {
            *url = crate::remote::settings::shown_url(url);
        }
        if let Some(token) = shown.taxonomy.remote.as_mut().and_then(|r| r.token.as_mut()) {
            *token = crate::remote::Secret::new(REDACTED);
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
    }
}

/// Checks a remote model's section (when enabled) and that its timeout fits in a drain.
fn validate_remote<L: crate::remote::LabelTarget>(
    remote: &crate::remote::RemoteSettings<L>,
    drain_timeout_ms: u64,
) -> Result<(), ConfigError> {
    if !remote.enabled {
        return Ok(());
    }
    let section = L::SECTION;
    remote.validate().map_err(|(key, message)| invalid(format!("{section}.{key}"), message))?;
    // A revoke drains in-flight work within drain_timeout_ms; an article waits for a remote
    // model at most its timeout_ms, so that must fit.
    if remote.timeout_ms >= drain_timeout_ms {
        return Err(invalid(
            format!("{section}.timeout_ms"),
            format!("must be below kafka.drain_timeout_ms ({drain_timeout_ms} ms)"),
        ));
    }
    Ok(())
}

/// When librdkafka would read `value` for `key` as a whole number other than the one written
/// (`5.5` as 5, `1e3` as 1, `60000abc` as 60000, `010` as 8, `0x7530` as 30000: it parses
/// whole-number properties with C's `strtol` in base 0, which takes a leading `0` for octal and
/// `0x` for hexadecimal and stops at the first character it cannot read, and so either accepts
/// the value so read or reports a range error for the number read): that number. `None` for
/// plain decimal whole numbers, whole values written as decimals (`15000.0`), values that do not
/// start like a number (librdkafka judges those), and properties that keep the fraction
/// (`linger.ms`) or the text (`client.id`).
fn read_as_another_whole_number(key: &str, value: &str) -> Option<String> {
    let text = value.trim();
    let digits_from = usize::from(text.starts_with(['-', '+']));
    if !text[digits_from..].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let written: Option<f64> = text.parse().ok().filter(|n: &f64| n.is_finite());
    // How librdkafka takes a value for this property: what it reads back, or why it refuses.
    let take = |candidate: &str| {
        let mut config = rdkafka::ClientConfig::new();
        config.set(key, candidate);
        match config.create_native_config() {
            Ok(native) => Ok(native.get(key).ok()),
            Err(rdkafka::error::KafkaError::ClientConfig(_, description, _, _)) => Err(description),
            Err(other) => Err(other.to_string()),
        }
    };
    match take(text) {
        // A property that keeps the text or the fraction reads back what was written.
        Ok(Some(read)) => {
            let read: i64 = read.trim().parse().ok()?;
            (written != Some(read as f64)).then(|| read.to_string())
        }
        Ok(None) => None,
        // Refused as its decimal whole part is (a range error for the number read), and not as
        // any value would be (a boolean refuses both as "invalid").
        Err(refused) => {
            let end = digits_from + text[digits_from..].bytes().take_while(u8::is_ascii_digit).count();
            let whole = &text[..end];
            let whole_number: i64 = whole.parse().ok()?;
            let cut = end < text.len() && written != Some(whole_number as f64);
            let alike = take(whole) == Err(refused.clone()) && take("not a number") != Err(refused);
            (cut && alike).then(|| whole_number.to_string())
        }
    }
}

/// The longest time any setting may name (a day, in milliseconds): longer is a mistake, and far
/// longer overflows the clock when added to the present.
pub const MAX_DURATION_MS: u64 = 86_400_000;

/// Secrets shorter than this are hidden only as whole words (not inside a longer run of
/// letters and digits): a password such as `kafka` must not turn every `librdkafka` into
/// `librd<redacted>`.
const MIN_ANYWHERE_SECRET_CHARS: usize = 8;

/// `text` with each of `secrets` (longest first) replaced by [`REDACTED`]; see
/// [`MIN_ANYWHERE_SECRET_CHARS`] for short ones.
pub fn hide_secrets(text: &str, secrets: &[String]) -> String {
    let mut shown = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if !shown.contains(secret.as_str()) {
            continue;
        }
        if secret.chars().count() >= MIN_ANYWHERE_SECRET_CHARS {
            shown = shown.replace(secret.as_str(), REDACTED);
            continue;
        }
        let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        let mut out = String::with_capacity(shown.len());
        let mut rest = shown.as_str();
        while let Some(at) = rest.find(secret.as_str()) {
            let end = at + secret.len();
            let whole = !is_word(rest[..at].chars().next_back()) && !is_word(rest[end..].chars().next());
            out.push_str(&rest[..at]);
            out.push_str(if whole { REDACTED } else { secret });
            rest = &rest[end..];
        }
        out.push_str(rest);
        shown = out;
    }
    shown
}

/// What secrets are replaced with in logs and `check-config`.
pub const REDACTED: &str = "<redacted>";

/// Why a setting holding [`REDACTED`] is refused: `check-config` prints the placeholder for a
/// secret, and a configuration saved from its output would otherwise load and then fail to
/// authenticate at run time.
pub const REDACTED_PLACEHOLDER: &str =
    "holds \"<redacted>\", the placeholder check-config prints for a secret: give the real value (from the environment)";

/// Whether a librdkafka property holds a credential (passwords, secrets, private keys, tokens).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token", "key.pem", "private", "sasl.jaas", "sasl.oauthbearer.config", "credentials"]
        .iter()
        .any(|s| k.contains(s))
}

/// Where the librdkafka property `name` (its canonical spelling) is set among a client's
/// `tables` (name and table, in the order the client's configuration applies them, so the last
/// one to set it wins): its key as `table.key` and its value.
fn property_setting(tables: &[(&str, &BTreeMap<String, serde_json::Value>)], name: &str) -> Option<(String, String)> {
    tables.iter().rev().find_map(|(table, props)| {
        flatten_properties(&[props])
            .into_iter()
            .find(|(key, _)| canonical_property_name(key) == name)
            .map(|(key, value)| (format!("{table}.{key}"), value))
    })
}

impl KafkaSettings {
    /// Rewrites each librdkafka property table in its flat form (`"sasl.username" = "…"`), so
    /// that one property is one entry whichever way it was written. The file may write a
    /// property as a quoted dotted key or as a nested table, and the environment always gives a
    /// nested one (`…__PROPERTIES__SASL__USERNAME`); merged, both spellings would be in the
    /// table, and which reached librdkafka would depend on how the keys sort. The environment
    /// wins, as for every other setting; a property the file itself sets twice is an error.
    fn flatten_property_tables(&mut self, env_keys: &[String]) -> Result<(), ConfigError> {
        for (name, table) in [
            ("kafka.properties", &mut self.properties),
            ("kafka.consumer_properties", &mut self.consumer_properties),
            ("kafka.producer_properties", &mut self.producer_properties),
        ] {
            let from_env = |key: &str| env_keys.iter().any(|k| *k == format!("{name}.{key}"));
            // Each flat key with its value and whether it was written as a nested table.
            let mut flat: BTreeMap<String, (String, bool)> = BTreeMap::new();
            for (key, value) in table.iter() {
                if let Some(list) = first_list(key, value) {
                    return Err(invalid(
                        format!("{name}.{list}"),
                        "must be a string, a number or a boolean (librdkafka takes a list as one comma-separated string)",
                    ));
                }
                let nested = is_nested_table(value);
                let mut entries = BTreeMap::new();
                flatten_property(key, value, &mut entries);
                for (flat_key, flat_value) in entries {
                    match flat.get(&flat_key) {
                        Some((_, earlier_nested)) if *earlier_nested == nested || !from_env(&flat_key) => {
                            let (dotted, table_form) = spellings(name, &flat_key);
                            return Err(invalid(
                                format!("{name}.{flat_key}"),
                                format!("is set twice, as {dotted} and as {table_form}: keep one"),
                            ));
                        }
                        // The environment's value came as the nested table.
                        Some(_) if !nested => {}
                        _ => {
                            flat.insert(flat_key, (flat_value, nested));
                        }
                    }
                }
            }
            *table = flat.into_iter().map(|(k, (v, _))| (k, serde_json::Value::String(v))).collect();
        }
        Ok(())
    }
}

/// Whether a property value is a table of further properties (not a TOML date or time).
fn is_nested_table(value: &serde_json::Value) -> bool {
    matches!(value, serde_json::Value::Object(map) if !(map.len() == 1 && map.contains_key(TOML_DATETIME)))
}

/// The dotted key of the first list among a property value's leaves, if any.
fn first_list(key: &str, value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Array(_) => Some(key.to_owned()),
        serde_json::Value::Object(map) if is_nested_table(value) => {
            map.iter().find_map(|(k, v)| first_list(&format!("{key}.{k}"), v))
        }
        _ => None,
    }
}

/// How a property is written as a quoted dotted key and as a nested table, for messages:
/// `"sasl.password"` and `[kafka.properties.sasl] password`. Only a dotted key can be written
/// both ways.
fn spellings(table: &str, flat_key: &str) -> (String, String) {
    let (parent, leaf) = flat_key.rsplit_once('.').unwrap_or((flat_key, ""));
    (format!("\"{flat_key}\""), format!("[{table}.{parent}] {leaf}"))
}

/// Flattens property tables (later tables win) to librdkafka's `key = string value` form.
fn flatten_properties(tables: &[&BTreeMap<String, serde_json::Value>]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for table in tables {
        for (key, value) in *table {
            flatten_property(key, value, &mut out);
        }
    }
    out
}

/// The key under which the `toml` crate hands a date or time to serde.
const TOML_DATETIME: &str = "$__toml_private_datetime";

fn flatten_property(key: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        // A TOML date or time (`"sasl.password" = 2024-01-01` unquoted) is a one-entry table
        // to serde; librdkafka gets it as written.
        serde_json::Value::Object(map) if map.len() == 1 && map.contains_key(TOML_DATETIME) => {
            flatten_property(key, &map[TOML_DATETIME], out);
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten_property(&format!("{key}.{k}"), v, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(key.to_owned(), s.clone());
        }
        serde_json::Value::Null => {}
        other => {
            out.insert(key.to_owned(), other.to_string());
        }
    }
}

fn empty_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let path = Option::<PathBuf>::deserialize(d)?;
    Ok(path.filter(|p| !p.as_os_str().is_empty()))
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let value = OneOrMany::deserialize(d).map_err(|_| {
        // serde's own message would name this function's enum.
        serde::de::Error::custom("expected a topic name, a comma-separated string of names or a list of names")
    })?;
    Ok(match value {
        OneOrMany::One(s) => s.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `toml` as the config file with `env` set, isolated in a figment Jail (its own
    /// working directory and environment, serialised across tests).
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
    fn load_str(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            jail.create_file("test.toml", toml)?;
            for (k, v) in env {
                jail.set_env(k, v);
            }
            result = Some(Settings::load(Some(Path::new("test.toml"))));
            Ok(())
        });
        result.unwrap()
    }

    #[test]
    fn defaults_are_valid_and_embedded() {
        let s = Settings::default();
        s.validate().unwrap();
        assert!(s.is_embedded());
    }

    #[test]
    fn file_then_env_overrides() {
        let s = load_str("[kafka]\nbrokers = \"a:9092\"\n", &[("NEWS_ENRICHER_KAFKA__BROKERS", "kafka:9092")]).unwrap();
        assert_eq!(s.kafka.brokers, "kafka:9092");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = load_str("[kafka]\nbrokrs = \"a\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("brokrs"), "{e}");
        let e = load_str("[kafak]\n", &[]).unwrap_err();
        assert!(e.to_string().contains("kafak"), "{e}");
    }

    #[test]
    fn empty_output_topic_is_named() {
        let e = load_str("[kafka]\noutput_topic = \"\"\n", &[]).unwrap_err();
        assert_eq!(e.to_string(), "kafka.output_topic: must not be empty");
    }

    #[test]
    fn input_topics_from_comma_string() {
        let s = load_str("[kafka]\ninput_topics = \"a, b\"\n", &[]).unwrap();
        assert_eq!(s.kafka.input_topics, ["a", "b"]);
    }

    #[test]
    fn properties_flatten_and_secrets_are_redacted() {
        let s = load_str(
            "[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\nsasl.password = \"hunter2\"\n\"queue.buffering.max.ms\" = 5\n",
            &[],
        )
        .unwrap();
        let props = s.kafka_properties();
        assert_eq!(props["sasl.password"], "hunter2");
        assert_eq!(props["queue.buffering.max.ms"], "5");
        let shown = s.to_redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains(REDACTED));
        assert!(shown.contains("SASL_SSL"));
    }

    #[test]
    fn environment_values_meant_as_text_keep_their_spelling() {
        let s = load_str(
            "",
            &[
                ("NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__USERNAME", "007"),
                ("NEWS_ENRICHER_KAFKA__PRODUCER_PROPERTIES__SSL__KEY__PASSWORD", "0042"),
                ("NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__PASSWORD", "[a,b]"),
                ("NEWS_ENRICHER_KAFKA__GROUP_ID", "1.50"),
                ("NEWS_ENRICHER_KAFKA__INPUT_TOPICS", "007, 1.5"),
                ("NEWS_ENRICHER_TAXONOMY__PATH", "test.toml"),
                ("NEWS_ENRICHER_SENTIMENT__REMOTE__URL", "http://tei/predict"),
                ("NEWS_ENRICHER_SENTIMENT__REMOTE__TOKEN", "000123"),
                // Typed settings still parse.
                ("NEWS_ENRICHER_KAFKA__MAX_IN_FLIGHT", "77"),
                ("NEWS_ENRICHER_SENTIMENT__REMOTE__ENABLED", "true"),
            ],
        )
        .unwrap();
        let props = s.kafka_properties();
        assert_eq!(props["sasl.username"], "007");
        assert_eq!(props["sasl.password"], "[a,b]");
        assert_eq!(s.producer_kafka_properties()["ssl.key.password"], "0042");
        assert_eq!(s.kafka.group_id, "1.50");
        assert_eq!(s.kafka.input_topics, ["007", "1.5"]);
        let listed = load_str("", &[("NEWS_ENRICHER_KAFKA__INPUT_TOPICS", "[\"007\", \"news.raw\"]")]).unwrap();
        assert_eq!(listed.kafka.input_topics, ["007", "news.raw"]);
        assert_eq!(s.taxonomy.path.as_deref(), Some(Path::new("test.toml")));
        assert_eq!(s.sentiment.remote.as_ref().unwrap().token.as_ref().unwrap().expose(), "000123");
        assert_eq!(s.kafka.max_in_flight, 77);
    }

    #[test]
    fn the_environment_wins_over_a_property_the_file_writes_as_a_dotted_key() {
        let file = "[kafka.properties]\n\"sasl.username\" = \"file-user\"\n\"sasl.password\" = \"file-secret\"\n";
        let env = [
            ("NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__USERNAME", "env-user"),
            ("NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__PASSWORD", "env-secret"),
        ];
        let s = load_str(file, &env).unwrap();
        let props = s.kafka_properties();
        assert_eq!(props["sasl.username"], "env-user");
        assert_eq!(props["sasl.password"], "env-secret");
        assert_eq!(s.kafka.properties.len(), 2, "one entry per property: {:?}", s.kafka);
        // Without the environment, the file's value stands.
        assert_eq!(load_str(file, &[]).unwrap().kafka_properties()["sasl.username"], "file-user");
    }

    #[test]
    fn a_property_the_file_sets_twice_or_as_a_list_is_refused_without_its_value() {
        let twice = "[kafka.properties]\n\"sasl.password\" = \"one-secret\"\n[kafka.properties.sasl]\npassword = \"other-secret\"\n";
        let e = load_str(twice, &[]).unwrap_err().to_string();
        assert!(e.contains("kafka.properties.sasl.password: is set twice"), "{e}");
        assert!(e.contains("[kafka.properties.sasl] password"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let list = "[kafka.producer_properties]\n\"sasl.password\" = [\"list-secret\"]\n";
        let e = load_str(list, &[]).unwrap_err().to_string();
        assert!(e.contains("kafka.producer_properties.sasl.password: must be a string, a number or a boolean"), "{e}");
        assert!(!e.contains("secret\""), "{e}");
    }

    #[test]
    fn a_bad_librdkafka_property_is_a_configuration_error_without_the_secret() {
        let e = load_str(
            "[kafka.properties]\n\"security.protocol\" = \"SASL_SSLX\"\n\"sasl.password\" = \"hunter2\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("kafka.properties.security.protocol: "), "{e}");
        assert!(e.contains("Invalid value"), "{e}");
        let e = load_str("[kafka.producer_properties]\n\"sasl.pasword\" = \"hunter2\"\n", &[]).unwrap_err().to_string();
        assert!(e.starts_with("kafka.producer_properties.sasl.pasword: "), "{e}");
        // librdkafka's message quotes the value; a secret value is hidden.
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_security_protocol_with_the_embedded_broker_is_warned_about_and_the_demo_drops_the_security_settings() {
        let env = [
            ("NEWS_ENRICHER_KAFKA__PROPERTIES__SECURITY__PROTOCOL", "SASL_SSL"),
            ("NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__MECHANISMS", "SCRAM-SHA-512"),
            ("NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__PASSWORD", "hunter2"),
        ];
        let mut s =
            load_str("[kafka.producer_properties]\n\"ssl.ca.location\" = \"/ca.pem\"\n\"linger.ms\" = 7\n", &env)
                .unwrap();
        assert!(s.is_embedded());
        let warning = s.embedded_security_warning().unwrap();
        assert!(
            warning.starts_with(
                "kafka.properties.security.protocol is \"SASL_SSL\", but the embedded broker speaks only PLAINTEXT"
            ),
            "{warning}"
        );
        assert!(!warning.contains("hunter2"), "{warning}");
        let plain = load_str("[kafka.consumer_properties]\n\"security.protocol\" = \"PlainText\"\n", &[]).unwrap();
        assert_eq!(plain.embedded_security_warning(), None);
        let consumer = load_str("[kafka.consumer_properties]\n\"security.protocol\" = \"ssl\"\n", &[]).unwrap();
        assert!(consumer
            .embedded_security_warning()
            .unwrap()
            .starts_with("kafka.consumer_properties.security.protocol is \"ssl\""));
        let real = load_str("[kafka]\nbrokers = \"kafka-1:9092\"\n", &env).unwrap();
        assert_eq!(real.embedded_security_warning(), None, "a real cluster may use any protocol");

        assert_eq!(
            s.drop_security_properties(),
            ["sasl.mechanisms", "sasl.password", "security.protocol", "ssl.ca.location"]
        );
        assert_eq!(s.embedded_security_warning(), None);
        assert!(s.kafka_properties().is_empty(), "{:?}", s.kafka_properties());
        let producer = s.producer_kafka_properties();
        assert_eq!(producer.into_iter().collect::<Vec<_>>(), [("linger.ms".to_owned(), "7".to_owned())]);
        assert!(s.drop_security_properties().is_empty(), "nothing left to drop");
    }

    #[test]
    fn a_fraction_librdkafka_would_cut_off_is_refused_with_the_number_as_given() {
        for (toml, env, shown, read) in [
            ("\"socket.timeout.ms\" = 5.5", None, "5.5", "5"),
            ("\"socket.timeout.ms\" = 15000.5", None, "15000.5", "15000"),
            ("\"socket.timeout.ms\" = 2e4", None, "20000.0", ""),
            ("", Some("15000.5"), "15000.5", "15000"),
            ("", Some("1e4"), "1e4", "1"),
        ] {
            let env: Vec<(&str, &str)> =
                env.into_iter().map(|v| ("NEWS_ENRICHER_KAFKA__PROPERTIES__SOCKET__TIMEOUT__MS", v)).collect();
            let result = load_str(&format!("[kafka.properties]\n{toml}\n"), &env);
            if read.is_empty() {
                let s = result.unwrap();
                assert_eq!(s.kafka_properties()["socket.timeout.ms"], shown, "passed on as written");
                continue;
            }
            let e = result.unwrap_err().to_string();
            assert_eq!(
                e,
                format!(
                    "kafka.properties.socket.timeout.ms: must be a whole number in decimal digits: librdkafka reads this property \
                     as one and would take {shown} as {read}"
                )
            );
        }
        // Numbers keep their digits on the way to librdkafka, and a property that takes a
        // fraction (linger.ms) or text (client.id) is given one.
        let s = load_str("[kafka.producer_properties]\n\"linger.ms\" = 5.5\n\"client.id\" = 1.25\n", &[]).unwrap();
        let producer = s.producer_kafka_properties();
        assert_eq!((producer["linger.ms"].as_str(), producer["client.id"].as_str()), ("5.5", "1.25"));
        // A boolean given a number is librdkafka's to refuse, in its words.
        let e = load_str("[kafka.properties]\n\"enable.sasl.oauthbearer.unsecure.jwt\" = 1.5\n", &[]).unwrap_err();
        assert!(e.to_string().contains("Expected bool value"), "{e}");
    }

    #[test]
    fn overrides_that_would_break_delivery_are_refused() {
        for (table, property, value) in [
            ("properties", "enable.auto.offset.store", "true"),
            ("consumer_properties", "enable.auto.commit", "false"),
            ("producer_properties", "enable.idempotence", "false"),
            ("producer_properties", "acks", "1"),
            ("properties", "statistics.interval.ms", "0"),
            ("consumer_properties", "statistics.interval.ms", "600000"),
            ("consumer_properties", "auto.offset.reset", "latest"),
            ("properties", "enable.auto.offset.store", "1"),
            ("producer_properties", "message.timeout.ms", "300000"),
            ("properties", "delivery.timeout.ms", "60000"),
            // librdkafka takes a topic-level property with a `topic.` prefix too.
            ("consumer_properties", "topic.auto.offset.reset", "latest"),
            ("producer_properties", "topic.acks", "1"),
            ("producer_properties", "topic.request.required.acks", "1"),
            ("properties", "topic.message.timeout.ms", "5000"),
            ("properties", "topic.delivery.timeout.ms", "5000"),
            ("consumer_properties", "enable.partition.eof", "true"),
        ] {
            let e = load_str(&format!("[kafka.{table}]\n\"{property}\" = \"{value}\"\n"), &[]).unwrap_err().to_string();
            assert!(e.starts_with(&format!("kafka.{table}.{property}: must be ")), "{e}");
        }
        // The values the worker uses itself, spelt out, are accepted.
        let toml = "[kafka.producer_properties]\nacks = \"-1\"\n\"enable.idempotence\" = \"TRUE\"\n\
                    [kafka.consumer_properties]\n\"statistics.interval.ms\" = \"1000\"\n\"enable.auto.commit\" = \"1\"\n\
                    \"auto.offset.reset\" = \"smallest\"\n\"message.timeout.ms\" = \"0\"\n";
        load_str(toml, &[]).unwrap();
    }

    #[test]
    fn properties_the_worker_sets_itself_or_cannot_use_are_refused_with_what_to_do() {
        for (table, property, instead) in [
            ("consumer_properties", "group.id", "set kafka.group_id instead"),
            ("properties", "bootstrap.servers", "set kafka.brokers instead"),
            ("producer_properties", "metadata.broker.list", "set kafka.brokers instead"),
            ("producer_properties", "transactional.id", "the worker does not write in transactions"),
        ] {
            let e = load_str(&format!("[kafka.{table}]\n\"{property}\" = \"x\"\n"), &[]).unwrap_err().to_string();
            assert!(e.starts_with(&format!("kafka.{table}.{property}: is not accepted: {instead}")), "{e}");
        }
    }

    #[test]
    fn a_whole_number_property_not_in_decimal_digits_is_named_as_librdkafka_would_read_it() {
        for (property, value, read) in [
            ("socket.timeout.ms", "60000abc", "60000"),
            ("socket.timeout.ms", "0x7530", "30000"),
            ("reconnect.backoff.ms", "010", "8"),
            ("socket.timeout.ms", "1e3", "1"),
        ] {
            let toml = format!("[kafka.properties]\n\"{property}\" = \"{value}\"\n");
            let e = load_str(&toml, &[]).unwrap_err().to_string();
            assert_eq!(
                e,
                format!(
                    "kafka.properties.{property}: must be a whole number in decimal digits: librdkafka reads this property as one and would take {value} as {read}"
                )
            );
        }
        // Text properties keep their text, and whole numbers written as decimals are whole.
        let toml = "[kafka.properties]\n\"client.id\" = \"010abc\"\n\"socket.timeout.ms\" = \"60000.0\"\n\
                    \"socket.keepalive.enable\" = \"1\"\n";
        load_str(toml, &[]).unwrap();
    }

    #[test]
    fn review_findings_get_named_errors_or_work() {
        let e = load_str("[enrich]\nthreads = 100000\n", &[]).unwrap_err().to_string();
        assert_eq!(e, "enrich.threads: must be at most 1024 (0 means one per CPU core)");
        load_str("[enrich]\nthreads = 1024\n", &[]).unwrap();
        // An empty path (how an environment override unsets one) is the built-in taxonomy.
        let s = load_str("[taxonomy]\npath = \"config/taxonomy.toml\"\n", &[("NEWS_ENRICHER_TAXONOMY__PATH", "")]);
        assert_eq!(s.unwrap().taxonomy.path, None);
        // A TOML date is passed on as written, not as serde's private table.
        let s = load_str("[kafka.properties]\n\"sasl.password\" = 2024-01-01\n", &[]).unwrap();
        assert_eq!(s.kafka_properties()["sasl.password"], "2024-01-01");
        let e = load_str("[kafka]\ninput_topics = [\"news.raw\", \" \"]\n", &[]).unwrap_err().to_string();
        assert_eq!(e, "kafka.input_topics[1]: must not be an empty topic name");
        let e = load_str("[kafka]\ninput_topics = []\n", &[]).unwrap_err().to_string();
        assert_eq!(e, "kafka.input_topics: must list at least one topic");
        // A property is named with the table it is in.
        let e = load_str("[kafka.consumer_properties]\n\"session.timeout.ms\" = 15000.5\n", &[]).unwrap_err();
        assert!(
            e.to_string().starts_with("kafka.consumer_properties.session.timeout.ms: must be a whole number"),
            "{e}"
        );
    }

    #[test]
    fn the_build_supports_sasl_ssl_scram_and_every_compression_codec() {
        let mut toml = String::from("[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n");
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tls/ca.pem");
        toml += &format!("\"sasl.mechanisms\" = \"SCRAM-SHA-512\"\n\"ssl.ca.location\" = \"{ca}\"\n");
        toml += "\"sasl.username\" = \"news-enricher\"\n\"sasl.password\" = \"pw\"\n";
        toml += "[kafka.producer_properties]\n\"compression.type\" = \"zstd\"\n";
        let s = load_str(&toml, &[]).unwrap();
        for codec in ["gzip", "snappy", "lz4", "zstd"] {
            let mut config = rdkafka::ClientConfig::new();
            config.set("compression.type", codec);
            assert!(config.create_native_config().is_ok(), "{codec}");
        }
        // Making the clients runs librdkafka's checks of the combination (SCRAM needs SSL).
        let mut config = rdkafka::ClientConfig::new();
        for (k, v) in s.producer_kafka_properties() {
            config.set(k, v);
        }
        config.set("bootstrap.servers", "127.0.0.1:1");
        let producer: Result<rdkafka::producer::BaseProducer, _> = config.create();
        assert!(producer.is_ok(), "{:?}", producer.err());
    }

    #[test]
    fn redact_hides_every_credential_in_a_message() {
        let s = load_str(
            "[kafka.properties]\n\"sasl.password\" = \"hunter2\"\n[kafka.consumer_properties]\n\"ssl.key.password\" = \"keypw\"\n",
            &[
                ("NEWS_ENRICHER_SENTIMENT__REMOTE__URL", "http://tei/predict"),
                ("NEWS_ENRICHER_SENTIMENT__REMOTE__TOKEN", "tok-123"),
            ],
        )
        .unwrap();
        let shown = s.redact("bad hunter2, keypw and tok-123; sasl.username stays");
        assert_eq!(shown, "bad <redacted>, <redacted> and <redacted>; sasl.username stays");
    }

    #[test]
    fn the_parts_of_a_structured_secret_that_librdkafka_may_quote_are_secrets_too() {
        let s = load_str(
            "[kafka.properties]\n\"sasl.oauthbearer.config\" = \"principal=bob scope=news extension_key=S3cretV4lue\"\n",
            &[],
        )
        .unwrap();
        let secrets = s.secrets();
        assert_eq!(secrets[0], "principal=bob scope=news extension_key=S3cretV4lue", "the whole value first");
        // What librdkafka's parser quotes when it refuses a pair.
        let quoted = "Unrecognized sasl.oauthbearer.config beginning at: extension_key=S3cretV4lue";
        assert_eq!(s.redact(quoted), "Unrecognized sasl.oauthbearer.config beginning at: extension_key=<redacted>");
        assert_eq!(s.redact("value S3cretV4lue"), "value <redacted>");
        // Short values (`news`) are not hidden everywhere: they would garble every log line.
        assert_eq!(secrets.len(), 2, "{secrets:?}");
    }

    #[test]
    fn short_secrets_are_hidden_as_whole_words_only() {
        let s = load_str("[kafka.properties]\n\"sasl.password\" = \"kafka\"\n", &[]).unwrap();
        assert_eq!(
            s.redact("librdkafka: password kafka refused (kafka)"),
            "librdkafka: password <redacted> refused (<redacted>)"
        );
        // A passphrase is one secret, not a list of words to hide everywhere.
        let s = load_str("[kafka.properties]\n\"sasl.password\" = \"my partition password\"\n", &[]).unwrap();
        assert_eq!(s.redact("partition=3 password: my partition password"), "partition=3 password: <redacted>");
    }

    #[test]
    fn a_syntax_error_names_the_place_but_does_not_quote_the_line() {
        let e = load_str("[kafka.properties]\n\"sasl.password\" = \"Pa\\ss%w0rd\"\n", &[]).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(!e.contains("Pa\\ss") && !e.contains("w0rd"), "{e}");
        let e = load_str("[kafka.properties]\n\"sasl.password\" = \"unterminated\n", &[]).unwrap_err().to_string();
        assert!(!e.contains("unterminated"), "{e}");
    }

    #[test]
    fn a_remote_url_with_a_credential_is_never_echoed() {
        for url in [
            "ftp://bob:S3cretPW@tei/predict",
            "http://bob:S3cretPW@tei:99999/x",
            "http://bob:S3cretPW@/x",
            "http://bob:S3cretPW@tei/x",
            "http://S3cretPW@tei/x",
        ] {
            let e = load_str("", &[("NEWS_ENRICHER_SENTIMENT__REMOTE__URL", url)]).unwrap_err().to_string();
            assert!(e.starts_with("sentiment.remote.url: "), "{e}");
            assert!(!e.contains("S3cretPW"), "{e}");
        }
    }

    #[test]
    fn client_specific_properties_layer_over_shared_ones() {
        let s = load_str(
            "[kafka.properties]\n\"client.rack\" = \"a\"\n\"linger.ms\" = 1\n[kafka.consumer_properties]\n\"session.timeout.ms\" = 60000\n[kafka.producer_properties]\n\"linger.ms\" = 20\n\"ssl.key.password\" = \"pw\"\n",
            &[],
        )
        .unwrap();
        let consumer = s.consumer_kafka_properties();
        let producer = s.producer_kafka_properties();
        assert_eq!(consumer["session.timeout.ms"], "60000");
        assert!(!producer.contains_key("session.timeout.ms"));
        assert_eq!(producer["linger.ms"], "20");
        assert_eq!(consumer["linger.ms"], "1");
        assert_eq!(consumer["client.rack"], "a");
        assert!(!s.to_redacted_toml().contains("\"pw\""));
    }

    #[test]
    fn invalid_values_are_named() {
        for (toml, key) in [
            ("[http]\nlisten = \"nope\"\n", "http.listen"),
            ("[kafka]\ndrain_timeout_ms = 60000\n", "kafka.drain_timeout_ms"),
            ("[kafka]\ninput_topics = [\"news.enriched\"]\n", "kafka.input_topics"),
            ("[[routes]]\ntag = \"taiwan\"\ntopic = \"t\"\nmin_score = 2.0\n", "routes[0].min_score"),
            ("[sentiment]\nmodel = \"bert\"\n", "model"),
            ("[taxonomy]\npath = \"/nonexistent.toml\"\n", "taxonomy.path"),
            ("[taxonomy]\nwatch_secs = 5\n", "taxonomy.watch_secs: needs taxonomy.path"),
            (
                "[taxonomy]\npath = \"config/taxonomy.toml\"\nwatch_secs = 99999999\n",
                "taxonomy.watch_secs: must be at most",
            ),
        ] {
            let e = load_str(toml, &[]).unwrap_err().to_string();
            assert!(e.contains(key), "{toml:?} -> {e}");
        }
    }

    #[test]
    fn remote_model_is_off_by_default_and_on_with_a_section() {
        assert_eq!(Settings::default().sentiment.remote, None);
        assert_eq!(load_str("", &[]).unwrap().sentiment.remote, None);
        let s = load_str(
            "[sentiment.remote]\nurl = \"http://tei:8080/predict\"\nbatch_size = 8\n[sentiment.remote.labels]\n\"1 star\" = -1.0\n\"5 stars\" = 1.0\n",
            &[("NEWS_ENRICHER_SENTIMENT__REMOTE__BREAKER__OPEN_MS", "2500")],
        )
        .unwrap();
        let r = s.sentiment.remote.unwrap();
        assert_eq!((r.url.as_str(), r.batch_size, r.breaker.open_ms), ("http://tei:8080/predict", 8, 2500));
        assert_eq!(
            r.timeout_ms,
            crate::remote::SentimentRemoteSettings::default().timeout_ms,
            "unset keys keep defaults"
        );
        assert_eq!(r.labels.keys().collect::<Vec<_>>(), ["1 star", "5 stars"], "the label map replaces the default");
        // The whole section from the environment alone.
        let s = load_str("", &[("NEWS_ENRICHER_SENTIMENT__REMOTE__URL", "https://model.example/predict")]).unwrap();
        assert_eq!(s.sentiment.remote.unwrap().api, crate::remote::Api::Tei);
    }

    #[test]
    fn times_are_bounded_to_a_day() {
        for (key, value) in [
            ("NEWS_ENRICHER_KAFKA__SHUTDOWN_TIMEOUT_SECS", "18446744073709551615"),
            ("NEWS_ENRICHER_HTTP__STALL_TIMEOUT_SECS", "86401"),
        ] {
            let e = load_str("", &[(key, value)]).unwrap_err().to_string();
            assert!(e.contains("must be between 1 and 86400"), "{key}: {e}");
        }
        let remote = "[sentiment.remote]\nurl = \"http://tei/predict\"\n";
        for (key, setting) in [
            ("breaker.open_ms", "[sentiment.remote.breaker]\nopen_ms = 86400001\n"),
            ("retry.max_retry_after_ms", "[sentiment.remote.retry]\nmax_retry_after_ms = 9223372036854775807\n"),
        ] {
            let e = load_str(&format!("{remote}{setting}"), &[]).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("at most 86400000"), "{e}");
        }
    }

    /// A producer queue smaller than the largest record wedged the worker: that record was
    /// refused as "queue full" on every try, and its partition and then all intake waited.
    #[test]
    fn a_producer_queue_smaller_than_the_largest_record_is_refused() {
        let key = "NEWS_ENRICHER_KAFKA__PRODUCER_PROPERTIES__QUEUE__BUFFERING__MAX__KBYTES";
        let e = load_str("", &[(key, "1000")]).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "kafka.producer_properties.queue.buffering.max.kbytes: is 1000 KiB, below the largest record"
            ) && e.contains("(message.max.bytes, 2097152 bytes)")
                && e.ends_with("raise it to at least 2048"),
            "{e}"
        );
        assert!(load_str("", &[(key, "2048")]).is_ok());
        // Named in the table where it was set.
        let shared = "NEWS_ENRICHER_KAFKA__PROPERTIES__QUEUE__BUFFERING__MAX__KBYTES";
        let e = load_str("", &[(shared, "100")]).unwrap_err().to_string();
        assert!(e.starts_with("kafka.properties.queue.buffering.max.kbytes: is 100 KiB"), "{e}");
        // The records' bound follows the input limit, and a smaller one makes room.
        assert!(load_str("[limits]\nmax_message_bytes = 400000\n", &[(key, "1000")]).is_ok());
        let e = load_str("[limits]\nmax_message_bytes = 300000000\n", &[]).unwrap_err().to_string();
        assert!(e.starts_with("limits.max_message_bytes: must be 1 to 104857600"), "{e}");
    }

    /// OAUTHBEARER without the unsecured token: the worker never connected and only ever said
    /// that no broker connection was up.
    #[test]
    fn oauthbearer_without_a_token_source_is_refused() {
        let sasl =
            "[kafka.properties]\n\"security.protocol\" = \"SASL_PLAINTEXT\"\n\"sasl.mechanism\" = \"OAUTHBEARER\"\n";
        let e = load_str(sasl, &[]).unwrap_err().to_string();
        assert!(e.starts_with("kafka.properties.sasl.mechanism: OAUTHBEARER needs a token source"), "{e}");
        let unsecured = "NEWS_ENRICHER_KAFKA__PROPERTIES__ENABLE__SASL__OAUTHBEARER__UNSECURE__JWT";
        assert!(load_str(sasl, &[(unsecured, "true")]).is_ok());
        // The producer's own table may set it for the producer only.
        let producer = "NEWS_ENRICHER_KAFKA__PRODUCER_PROPERTIES__ENABLE__SASL__OAUTHBEARER__UNSECURE__JWT";
        assert!(load_str(sasl, &[(producer, "true")]).is_err(), "the consumer has no token");
        // Without SASL the mechanism is not used; other mechanisms need no token.
        assert!(load_str("[kafka.properties]\n\"sasl.mechanism\" = \"OAUTHBEARER\"\n", &[]).is_ok());
        assert!(load_str(&sasl.replace("OAUTHBEARER", "SCRAM-SHA-512"), &[]).is_ok());
    }

    #[test]
    fn a_route_to_the_dead_letter_topic_is_refused() {
        let e = load_str("[[routes]]\ntag = \"taiwan\"\ntopic = \"news.dlq\"\n", &[]).unwrap_err().to_string();
        assert!(e.starts_with("routes[0].topic: must differ from kafka.dlq_topic"), "{e}");
    }

    #[test]
    fn a_route_to_the_output_topic_or_a_repeated_route_is_refused() {
        let e = load_str("[[routes]]\ntag = \"taiwan\"\ntopic = \"news.enriched\"\n", &[]).unwrap_err().to_string();
        assert!(e.starts_with("routes[0].topic: must differ from kafka.output_topic"), "{e}");
        let route = |tag: &str, topic: &str| format!("[[routes]]\ntag = \"{tag}\"\ntopic = \"{topic}\"\n");
        let repeated = route("taiwan", "news.tag.taiwan")
            + &route("fentanyl", "news.tag.taiwan")
            + &route("taiwan", "news.tag.taiwan");
        let e = load_str(&repeated, &[]).unwrap_err().to_string();
        assert_eq!(
            e,
            "routes[2]: repeats routes[0] (tag \"taiwan\" to \"news.tag.taiwan\"): each record would be copied twice"
        );
        // Two tags to one topic, and one tag to two topics, are routes of their own.
        load_str(&(route("taiwan", "news.asia") + &route("fentanyl", "news.asia") + &route("taiwan", "news.tw")), &[])
            .unwrap();
    }

    #[test]
    fn topic_names_kafka_refuses_are_configuration_errors() {
        for (toml, key) in [
            ("[kafka]\noutput_topic = \"bad topic!\"\n", "kafka.output_topic"),
            ("[kafka]\ndlq_topic = \"news/dlq\"\n", "kafka.dlq_topic"),
            ("[kafka]\ninput_topics = [\"news.raw\", \"..\"]\n", "kafka.input_topics[1]"),
            ("[[routes]]\ntag = \"taiwan\"\ntopic = \"taïwan\"\n", "routes[0].topic"),
        ] {
            let e = load_str(toml, &[]).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{key}: ")) && e.contains("is not a valid Kafka topic name"), "{e}");
        }
        let long = "t".repeat(250);
        let e = load_str(&format!("[kafka]\noutput_topic = \"{long}\"\n"), &[]).unwrap_err().to_string();
        assert!(e.ends_with("250 characters, over Kafka's limit of 249"), "{e}");
        // Patterns are regular expressions, not names.
        load_str("[kafka]\ninput_topics = [\"^news\\\\.raw\\\\..*\"]\noutput_topic = \"news_enriched-2.v1\"\n", &[])
            .unwrap();
    }

    /// A configuration saved from `check-config` holds "<redacted>" where the secrets were; it
    /// loaded, and the worker then presented "<redacted>" as its password or token.
    #[test]
    fn the_redacted_output_of_check_config_does_not_load_as_credentials() {
        let remote = "[sentiment.remote]\nurl = \"https://model.example/predict\"\n";
        for (toml, env, key) in [
            ("", ("NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__PASSWORD", "pw"), "kafka.properties.sasl.password"),
            (remote, ("NEWS_ENRICHER_SENTIMENT__REMOTE__TOKEN", "tok-123"), "sentiment.remote.token"),
            (
                remote,
                ("NEWS_ENRICHER_SENTIMENT__REMOTE__URL", "https://model.example/predict?key=K3y"),
                "sentiment.remote.url",
            ),
        ] {
            let shown = load_str(toml, &[env]).unwrap().to_redacted_toml();
            let e = load_str(&shown, &[]).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("placeholder check-config prints"), "{key}: {e}\n{shown}");
        }
    }

    #[test]
    fn a_remote_url_query_is_a_credential() {
        let s = load_str("[sentiment.remote]\nurl = \"https://tags.example/v1?api_key=K3yK3yK3y&model=big#x\"\n", &[])
            .unwrap();
        let shown = s.to_redacted_toml();
        assert!(shown.contains("url = \"https://tags.example/v1?<redacted>\""), "{shown}");
        assert_eq!(s.redact("GET /v1?api_key=K3yK3yK3y&model=big failed"), "GET /v1?<redacted> failed");
        assert_eq!(s.redact("refused api_key=K3yK3yK3y"), "refused api_key=<redacted>");
        assert!(!format!("{s:?}").contains("K3y"), "Debug hides it too");
        let e = load_str("[sentiment.remote]\nurl = \"ftp://tags.example/v1?api_key=K3yK3yK3y\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ftp://tags.example/v1?<redacted>") && !e.contains("K3y"), "{e}");
    }

    #[test]
    fn remote_token_comes_from_the_environment_and_is_never_shown() {
        let s = load_str(
            "[sentiment.remote]\nurl = \"http://tei:8080/predict\"\n",
            &[("NEWS_ENRICHER_SENTIMENT__REMOTE__TOKEN", "s3cr3t-token")],
        )
        .unwrap();
        let remote = s.sentiment.remote.as_ref().unwrap();
        assert_eq!(remote.token.as_ref().unwrap().expose(), "s3cr3t-token");
        let shown = s.to_redacted_toml();
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains(&format!("token = \"{REDACTED}\"")), "{shown}");
        assert!(!format!("{s:?}").contains("s3cr3t"), "Debug redacts too");
        let s = load_str("[kafka.properties.sasl]\npassword = \"hunter2\"\nusername = \"bob\"\n", &[]).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && shown.contains("sasl.password") && shown.contains("bob"), "{shown}");
        // A numeric-looking token from the environment is still text.
        let s = load_str(
            "[sentiment.remote]\nurl = \"http://tei:8080/predict\"\n",
            &[("NEWS_ENRICHER_SENTIMENT__REMOTE__TOKEN", "123456")],
        )
        .unwrap();
        assert_eq!(s.sentiment.remote.unwrap().token.unwrap().expose(), "123456");
    }

    #[test]
    fn remote_settings_are_validated_with_their_key() {
        for (extra, key) in [
            ("", ""),
            ("url = \"tei:8080\"\n", "sentiment.remote.url"),
            ("url = \"ftp://tei/predict\"\n", "sentiment.remote.url"),
            ("url = \"http://user:pw@tei/predict\"\n", "sentiment.remote.url"),
            ("url = \"\"\n", "sentiment.remote.url"),
            ("timeout_ms = 0\n", "sentiment.remote.timeout_ms"),
            ("timeout_ms = 20000\n", "sentiment.remote.timeout_ms"),
            ("batch_size = 0\n", "sentiment.remote.batch_size"),
            ("linger_ms = 5000\n", "sentiment.remote.linger_ms"),
            ("max_concurrent_requests = 0\n", "sentiment.remote.max_concurrent_requests"),
            ("queue_size = 0\n", "sentiment.remote.queue_size"),
            ("name = \"my model\"\n", "sentiment.remote.name"),
            ("token = \"a b\"\n", "sentiment.remote.token"),
            ("api = \"openai\"\n", "api"),
            ("bogus = 1\n", "bogus"),
            ("[sentiment.remote.breaker]\nfailure_threshold = 0\n", "sentiment.remote.breaker.failure_threshold"),
            ("[sentiment.remote.retry]\nmax_backoff_ms = 1\n", "sentiment.remote.retry.max_backoff_ms"),
            ("[sentiment.remote.labels]\npositive = 2.0\n", "sentiment.remote.labels.positive"),
        ] {
            let url = if extra.starts_with("url") { "" } else { "url = \"http://tei:8080/predict\"\n" };
            assert_loads_or_names(&format!("[sentiment.remote]\n{url}{extra}"), key);
        }
        // Disabled: its settings are not checked, and it is off.
        let s = load_str("[sentiment.remote]\nenabled = false\n", &[]).unwrap();
        assert!(!s.sentiment.remote.unwrap().enabled);
    }

    /// `toml` loads when `expected` is empty; otherwise its error message contains `expected`.
    fn assert_loads_or_names(toml: &str, expected: &str) {
        let result = load_str(toml, &[]);
        if expected.is_empty() {
            result.unwrap();
        } else {
            let e = result.unwrap_err().to_string();
            assert!(e.contains(expected), "{toml:?} -> {e}");
        }
    }

    #[test]
    fn remote_tag_classifier_has_the_same_shape_with_tag_ids_and_a_threshold() {
        assert_eq!(load_str("", &[]).unwrap().taxonomy.remote, None);
        let s = load_str(
            "[taxonomy.remote]\nname = \"topics\"\nurl = \"http://tei:8081/predict\"\n[taxonomy.remote.labels]\n\"Taiwan\" = \"taiwan\"\n",
            &[
                ("NEWS_ENRICHER_TAXONOMY__REMOTE__TOKEN", "tag-s3cr3t"),
                ("NEWS_ENRICHER_TAXONOMY__REMOTE__RETRY__MAX_RETRIES", "0"),
            ],
        )
        .unwrap();
        let r = s.taxonomy.remote.as_ref().unwrap();
        assert_eq!(r.labels["Taiwan"], "taiwan");
        assert_eq!((r.threshold, r.retry.max_retries), (Some(0.5), 0), "default threshold, env override");
        assert_eq!(r.token.as_ref().unwrap().expose(), "tag-s3cr3t");
        let shown = s.to_redacted_toml();
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("[taxonomy.remote]") && shown.contains("threshold = 0.5"), "{shown}");
        // check-config output loads back as the same settings with the secret from the
        // environment again; without it, its placeholder is refused.
        let back = load_str(&shown, &[("NEWS_ENRICHER_TAXONOMY__REMOTE__TOKEN", "tag-s3cr3t")]).unwrap();
        assert_eq!(back, s);
        assert!(load_str(&shown, &[]).unwrap_err().to_string().starts_with("taxonomy.remote.token: holds"));
    }

    #[test]
    fn remote_tag_settings_are_validated_with_their_key() {
        let base = "[taxonomy.remote]\nurl = \"http://tei:8081/predict\"\n";
        for (extra, key) in [
            ("[taxonomy.remote.labels]\nTaiwan = \"taiwan\"\n", ""),
            ("", "taxonomy.remote.labels: must map at least one model label"),
            ("threshold = 0.0\n[taxonomy.remote.labels]\nTaiwan = \"taiwan\"\n", "taxonomy.remote.threshold"),
            ("threshold = 1.5\n[taxonomy.remote.labels]\nTaiwan = \"taiwan\"\n", "taxonomy.remote.threshold"),
            ("[taxonomy.remote.labels]\nTaiwan = \" \"\n", "taxonomy.remote.labels.Taiwan: must name a tag id"),
            ("[taxonomy.remote.labels]\nTaiwan = 1.0\n", "labels"),
            ("[taxonomy.remote.labels]\nTaiwan = \"taiwan\"\ntaiwan = \"taiwan\"\n", "taxonomy.remote.labels.taiwan"),
            ("timeout_ms = 20000\n[taxonomy.remote.labels]\nTaiwan = \"taiwan\"\n", "taxonomy.remote.timeout_ms"),
            (
                "ca_file = \"/nonexistent/ca.pem\"\n[taxonomy.remote.labels]\nTaiwan = \"taiwan\"\n",
                "taxonomy.remote.ca_file: /nonexistent/ca.pem: cannot read",
            ),
        ] {
            assert_loads_or_names(&format!("{base}{extra}"), key);
        }
        // A threshold means nothing for sentiment.
        let e = load_str("[sentiment.remote]\nurl = \"http://tei/predict\"\nthreshold = 0.5\n", &[]).unwrap_err();
        assert!(e.to_string().starts_with("sentiment.remote.threshold: only a tag classifier"), "{e}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
    fn a_ca_file_must_hold_usable_pem_certificates() {
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tls/ca.pem");
        let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tls/server.key");
        let section = |path: &str| format!("[sentiment.remote]\nurl = \"https://tei/predict\"\nca_file = \"{path}\"\n");
        let s = load_str(&section(ca), &[]).unwrap();
        assert_eq!(s.sentiment.remote.unwrap().ca_file.unwrap(), Path::new(ca));
        let damaged = "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
        let not_a_cert = "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
        for (contents, message) in [
            (None, "no \"BEGIN CERTIFICATE\" block found"), // a private key, not a certificate
            (Some(""), "no \"BEGIN CERTIFICATE\" block found"),
            (Some(damaged), "not a PEM certificate bundle"),
            (Some(not_a_cert), "not usable as CA certificates"),
        ] {
            let mut result = None;
            figment::Jail::expect_with(|jail| {
                let path = match contents {
                    Some(text) => {
                        jail.create_file("ca.pem", text)?;
                        "ca.pem"
                    }
                    None => key,
                };
                jail.create_file("test.toml", &section(path))?;
                result = Some(Settings::load(Some(Path::new("test.toml"))));
                Ok(())
            });
            let e = result.unwrap().unwrap_err().to_string();
            assert!(e.starts_with("sentiment.remote.ca_file: ") && e.contains(message), "{contents:?} -> {e}");
        }
    }

    #[test]
    fn load_errors_name_the_key_and_where_the_value_came_from_in_plain_words() {
        let e = load_str("", &[("NEWS_ENRICHER_KAFKA__TOMBSTONES", "drop")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "kafka.tombstones: unknown variant `drop`, expected `forward` or `dead_letter` \
             (from environment variable NEWS_ENRICHER_KAFKA__TOMBSTONES)"
        );
        let e = load_str("[kafka]\nmax_in_flight = \"x\"\n", &[]).unwrap_err().to_string();
        assert_eq!(
            e,
            "kafka.max_in_flight: invalid type: found string \"x\", expected a whole number, 0 or more (in test.toml)"
        );
        let e = load_str("", &[("NEWS_ENRICHER_KAFKA__MAX_IN_FLIGHT", "-3")]).unwrap_err().to_string();
        assert!(e.starts_with("kafka.max_in_flight: invalid value: found integer `-3`, expected a whole number, 0 or more (from environment variable NEWS_ENRICHER_KAFKA__MAX_IN_FLIGHT)"), "{e}");
        let e = load_str("[[routes]]\ntag = \"taiwan\"\n", &[]).unwrap_err().to_string();
        assert_eq!(e, "routes[0].topic: missing: this key is required (in test.toml)");
        let e = load_str("[[routes]]\ntag = \"taiwan\"\ntopic = \"t\"\nmin_score = \"high\"\n", &[])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "routes[0].min_score: invalid type: found string \"high\", expected a number (in test.toml)");
        let e = load_str("[kafka]\nbrokerz = \"x\"\n", &[]).unwrap_err().to_string();
        assert!(e.starts_with("kafka.brokerz: unknown key, expected one of `brokers`, `group_id`, "), "{e}");
        assert!(e.ends_with(" (in test.toml)"), "{e}");
        let e = load_str("", &[("NEWS_ENRICHER_KAFAK__BROKERS", "x")]).unwrap_err().to_string();
        assert!(
            e.starts_with("kafak: unknown key, expected one of `kafka`, ")
                && e.ends_with("(from environment variable NEWS_ENRICHER_KAFAK__BROKERS)"),
            "{e}"
        );
        let e = load_str("[kafka]\ninput_topics = 5\n", &[]).unwrap_err().to_string();
        assert_eq!(e, "kafka.input_topics: expected a topic name, a comma-separated string of names or a list of names (in test.toml)");
        let e =
            load_str("[sentiment.remote]\nurl = \"http://tei/predict\"\ntoken = 1.5\n", &[]).unwrap_err().to_string();
        assert_eq!(e, "sentiment.remote.token: expected a string (in test.toml)");
        // A file that does not parse: the place, not the line.
        let e = load_str("[kafka]\nbrokers = \"unterminated\n", &[]).unwrap_err().to_string();
        assert!(e.starts_with("TOML parse error at line 2, column ") && e.ends_with(" (in test.toml)"), "{e}");
        assert!(!e.contains("unterminated") && !e.contains('\n'), "{e}");
        // Never figment's internals.
        for internal in ["default.", "src/", ".rs:", "alloc::", "TOML file", "usize", "OneOrMany", "Raw"] {
            assert!(!e.contains(internal), "{e}");
        }
    }

    #[test]
    fn routes_come_from_the_environment_as_one_list() {
        let s = load_str(
            "[[routes]]\ntag = \"sanctions\"\ntopic = \"news.tag.sanctions\"\n",
            &[(
                "NEWS_ENRICHER_ROUTES",
                r#"[{tag="taiwan", topic="007", min_score=0.5}, {tag=fentanyl, topic=news.tag.fentanyl}]"#,
            )],
        )
        .unwrap();
        assert_eq!(
            s.routes,
            [
                Route { tag: "taiwan".into(), topic: "007".into(), min_score: 0.5 },
                Route { tag: "fentanyl".into(), topic: "news.tag.fentanyl".into(), min_score: 0.0 },
            ],
            "the environment's list replaces the file's"
        );
        let e = load_str("", &[("NEWS_ENRICHER_ROUTES__0__TAG", "taiwan")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "routes: invalid type: found a table, expected a list (from environment variable \
             NEWS_ENRICHER_ROUTES__0__TAG); a list is set whole, in one variable: \
             NEWS_ENRICHER_ROUTES='[{tag=\"taiwan\", topic=\"news.tag.taiwan\"}]'"
        );
        // A map whose keys are no variable names, as the configuration file header shows.
        let s = load_str(
            "",
            &[
                ("NEWS_ENRICHER_SENTIMENT__REMOTE__URL", "http://tei/predict"),
                ("NEWS_ENRICHER_SENTIMENT__REMOTE__LABELS", r#"{"1 star"=-1.0, "5 stars"=1.0}"#),
            ],
        )
        .unwrap();
        let labels = s.sentiment.remote.unwrap().labels;
        assert_eq!(labels.into_iter().collect::<Vec<_>>(), [("1 star".to_owned(), -1.0), ("5 stars".to_owned(), 1.0)]);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
    fn every_error_figment_reports_gets_its_line() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("a.toml", "[kafka\n")?;
            jail.create_file("b.toml", "x = \"\n")?;
            let e = Figment::from(Toml::file("a.toml")).merge(Toml::file("b.toml")).extract::<Settings>().unwrap_err();
            let lines = describe_load_error(e, Some(Path::new("a.toml")), &[]);
            assert_eq!(lines.len(), 2, "{lines:?}");
            assert!(lines.iter().any(|l| l.ends_with("(in a.toml)")), "{lines:?}");
            assert!(lines.iter().any(|l| l.ends_with("(in b.toml)")), "{lines:?}");
            assert!(lines.iter().all(|l| l.starts_with("TOML parse error at line ")), "{lines:?}");
            Ok(())
        });
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let e = Settings::load(Some(Path::new("/nonexistent/config.toml"))).unwrap_err();
        assert!(e.to_string().contains("no such file"));
    }

    #[test]
    fn a_directory_for_a_file_is_named_as_such() {
        let dir = std::env::temp_dir();
        let e = Settings::load(Some(&dir)).unwrap_err().to_string();
        assert_eq!(e, format!("--config: {}: is a directory, not a file", dir.display()));
        let mut s = Settings::default();
        s.taxonomy.path = Some(dir.clone());
        let e = s.validate().unwrap_err().to_string();
        assert_eq!(e, format!("taxonomy.path: {}: is a directory, not a file", dir.display()));
    }
}
