//! Helpers shared by the integration tests: a mock-cluster fixture, producing raw articles,
//! reading what came out, and committed offsets. Every test gets its own broker.
#![allow(dead_code)]

use news_enricher::config::Settings;
use news_enricher::embedded::EmbeddedBroker;
use news_enricher::enrich::Enricher;
use news_enricher::pipeline::record_headers::raw_headers_of;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const INPUT: &str = "news.raw";
pub const OUTPUT: &str = "news.enriched";
pub const DLQ: &str = "news.dlq";
pub const PARTITIONS: i32 = 4;

/// The shared data folder (`NEWS_DATA_DIR`, default `../shared/data` beside the checkout).
pub fn data_dir() -> PathBuf {
    let dir = news_enricher::enrich::sentiment::eval::data_dir();
    assert!(dir.is_dir(), "shared data not found at {}: set NEWS_DATA_DIR to the shared/data folder", dir.display());
    dir
}

/// The first `n` corpus articles as (id, raw JSON line).
pub fn corpus(n: usize) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(data_dir().join("news/news_articles_2017.jsonl")).expect("reading the corpus");
    text.lines()
        .take(n)
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (v["id"].as_str().unwrap().to_owned(), line.to_owned())
        })
        .collect()
}

/// Short synthetic articles, fast to enrich: ids `{prefix}-{i}`.
pub fn synthetic(prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            let body = format!("Article {i}: officials in Taipei discussed cross-strait relations and the economy of Taiwan. Talks were calm.");
            (id.clone(), serde_json::json!({"id": id, "title": format!("Story {i}"), "body": body}).to_string())
        })
        .collect()
}

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

/// A `[[routes]]` entry copying every article with `tag` to `topic`.
pub fn route(tag: &str, topic: &str) -> news_enricher::config::Route {
    news_enricher::config::Route { tag: tag.into(), topic: topic.into(), min_score: 0.0 }
}

pub struct Fixture {
    pub broker: EmbeddedBroker,
    pub settings: Settings,
    pub enricher: Arc<Enricher>,
}

impl Fixture {
    pub fn new(group: &str) -> Self {
        init_logs();
        let broker = EmbeddedBroker::start(1).expect("starting the mock cluster");
        for (topic, partitions) in
            [(INPUT, PARTITIONS), (OUTPUT, PARTITIONS), (DLQ, 1), ("news.tag.taiwan", 1), ("news.tag.sanctions", 1)]
        {
            broker.create_topic(topic, partitions).unwrap();
        }
        let mut settings = Settings::default();
        settings.kafka.brokers = broker.bootstrap_servers().to_owned();
        settings.kafka.group_id = group.to_owned();
        settings.kafka.shutdown_timeout_secs = 20;
        settings.kafka.drain_timeout_ms = 5000;
        settings.kafka.consumer_properties.insert("session.timeout.ms".into(), "6000".into());
        settings.kafka.consumer_properties.insert("heartbeat.interval.ms".into(), "500".into());
        settings.kafka.properties.insert("topic.metadata.refresh.interval.ms".into(), "1000".into());
        let enricher = Arc::new(Enricher::from_config(&settings).unwrap());
        Fixture { broker, settings, enricher }
    }

    pub fn bootstrap(&self) -> String {
        self.broker.bootstrap_servers().to_owned()
    }

    /// Produces tombstones (null values) with these keys (or none) to the input topic.
    pub fn produce_tombstones(&self, keys: &[Option<&str>]) {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("partitioner", "murmur2_random")
            .create()
            .unwrap();
        for key in keys {
            let mut record = BaseRecord::<str, [u8]>::to(INPUT);
            if let Some(key) = key {
                record = record.key(*key);
            }
            producer.send(record).map_err(|(e, _)| e).unwrap();
        }
        producer.flush(Duration::from_secs(30)).expect("test producer flush");
    }

    /// Produces `(key, payload)` records to the input topic and waits for them to be acked.
    pub fn produce(&self, records: &[(Option<Vec<u8>>, Vec<u8>)]) {
        produce_to(&self.bootstrap(), INPUT, records);
    }

    pub fn produce_articles(&self, articles: &[(String, String)]) {
        let records: Vec<_> =
            articles.iter().map(|(id, json)| (Some(id.clone().into_bytes()), json.clone().into_bytes())).collect();
        self.produce(&records);
    }

    /// Reads `topic` from the beginning until records with `want` distinct keys arrived or
    /// `timeout` passed.
    pub fn read(&self, topic: &str, want: usize, timeout: Duration) -> Vec<Record> {
        read_topic(&self.bootstrap(), topic, want, timeout)
    }

    /// The group's committed offset per partition of the input topic.
    pub fn committed(&self) -> HashMap<i32, i64> {
        committed_offsets(&self.bootstrap(), &self.settings.kafka.group_id, INPUT, PARTITIONS)
    }

    /// The end offset (high watermark) per partition of the input topic.
    pub fn end_offsets(&self) -> HashMap<i32, i64> {
        let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", self.bootstrap()).create().unwrap();
        (0..PARTITIONS).map(|p| (p, consumer.fetch_watermarks(INPUT, p, Duration::from_secs(5)).unwrap().1)).collect()
    }
}

/// librdkafka properties under which authentication fails without any broker's help:
/// SASL/OAUTHBEARER with librdkafka's built-in unsecured token maker, configured without the
/// principal it needs, so getting a token fails and librdkafka reports an authentication error
/// (the mock cluster has no SASL of its own to refuse a password with).
pub const FAILING_OAUTHBEARER: [(&str, &str); 4] = [
    ("security.protocol", "SASL_PLAINTEXT"),
    ("sasl.mechanism", "OAUTHBEARER"),
    ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
    ("sasl.oauthbearer.config", "scope=news"),
];

pub fn produce_to(bootstrap: &str, topic: &str, records: &[(Option<Vec<u8>>, Vec<u8>)]) {
    produce_to_with(bootstrap, topic, records, &[]);
}

/// [`produce_to`] with extra producer properties (e.g. `compression.type`).
pub fn produce_to_with(bootstrap: &str, topic: &str, records: &[(Option<Vec<u8>>, Vec<u8>)], extra: &[(&str, &str)]) {
    let mut config = ClientConfig::new();
    // Partitioned as the worker partitions its output (as a Java producer does), so a key's
    // input and output partitions are the same and tests can compare orders per partition.
    config
        .set("bootstrap.servers", bootstrap)
        .set("message.max.bytes", "10000000")
        .set("linger.ms", "5")
        .set("partitioner", "murmur2_random");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    let producer: BaseProducer = config.create().unwrap();
    for (key, payload) in records {
        let mut record = BaseRecord::<Vec<u8>, Vec<u8>>::to(topic).payload(payload);
        if let Some(k) = key {
            record = record.key(k);
        }
        let mut record = Some(record);
        while let Some(r) = record.take() {
            if let Err((e, r)) = producer.send(r) {
                assert_eq!(e.rdkafka_error_code(), Some(rdkafka::error::RDKafkaErrorCode::QueueFull), "{e}");
                producer.poll(Duration::from_millis(50));
                record = Some(r);
            }
        }
    }
    producer.flush(Duration::from_secs(30)).expect("test producer flush");
}

#[derive(Debug, Clone)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    /// Empty for a tombstone (see `tombstone`).
    pub payload: Vec<u8>,
    /// Whether the value is null.
    pub tombstone: bool,
    /// By name (lossy UTF-8; the last of a repeated name; null as empty).
    pub headers: HashMap<String, String>,
    /// In order, as bytes, null values as `None`.
    pub header_list: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Milliseconds since the epoch, as the broker returned it.
    pub timestamp: Option<i64>,
}

impl Record {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).expect("output is JSON")
    }
}

pub fn read_topic(bootstrap: &str, topic: &str, want: usize, timeout: Duration) -> Vec<Record> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{}", uuid_ish()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let mut distinct = std::collections::HashSet::new();
    let deadline = Instant::now() + timeout;
    // Count distinct keys: re-processing after a fault may write an article twice.
    while distinct.len() < want && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let header_list: Vec<(Vec<u8>, Option<Vec<u8>>)> =
                raw_headers_of(&m).map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec))).collect();
            let headers = header_list
                .iter()
                .map(|(k, v)| {
                    (
                        String::from_utf8_lossy(k).into_owned(),
                        v.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned(),
                    )
                })
                .collect();
            let key = m
                .key()
                .map(|k| k.to_vec())
                .unwrap_or_else(|| format!("<no key {}:{}>", m.partition(), m.offset()).into_bytes());
            distinct.insert(key);
            out.push(Record {
                topic: m.topic().to_owned(),
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                payload: m.payload().unwrap_or_default().to_vec(),
                tombstone: m.payload().is_none(),
                headers,
                header_list,
                timestamp: m.timestamp().to_millis(),
            });
        }
    }
    out
}

pub fn committed_offsets(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> HashMap<i32, i64> {
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", bootstrap).set("group.id", group).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("reading committed offsets");
    committed
        .elements()
        .iter()
        .map(|e| (e.partition(), if let Offset::Offset(o) = e.offset() { o } else { 0 }))
        .collect()
}

fn uuid_ish() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Counts of each key among records: (distinct keys, duplicates).
pub fn ids_of(records: &[Record]) -> (std::collections::BTreeSet<String>, usize) {
    let mut set = std::collections::BTreeSet::new();
    let mut dups = 0;
    for r in records {
        if !set.insert(r.key.clone().unwrap_or_default()) {
            dups += 1;
        }
    }
    (set, dups)
}

/// Waits until `check` holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check()
}

/// Appends a transaction commit marker (a control record, as a transactional producer's commit
/// leaves in each partition it wrote) to `topic`/`partition` of a single-broker cluster.
/// librdkafka's producer never writes control records and the mock cluster's transactions
/// write none, so the batch is built here. Returns the marker's offset.
pub fn append_commit_marker(bootstrap: &str, topic: &str, partition: i32) -> i64 {
    // The control record: key = (version 0, type 1 = commit), value = (version 0, coordinator
    // epoch 0).
    let record = record_bytes(Some(&[0, 0, 0, 1]), Some(&[0, 0, 0, 0, 0, 0]), &[]);
    // attributes: transactional | control; an arbitrary producer id
    append_batch(bootstrap, topic, partition, 0x0030, 4242, &[record])
}

/// A header as a producer may send it: any bytes as its name, a value or null.
pub type RawHeader<'a> = (&'a [u8], Option<&'a [u8]>);

/// Appends one record with these exact header bytes (librdkafka's producer API only takes
/// UTF-8 names) to `topic`/`partition` of a single-broker cluster. Returns its offset.
pub fn append_record_with_headers(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    key: &[u8],
    value: &[u8],
    headers: &[RawHeader<'_>],
) -> i64 {
    append_batch(bootstrap, topic, partition, 0, -1, &[record_bytes(Some(key), Some(value), headers)])
}

/// A zigzag varint, as record fields are encoded.
fn varint(value: i64, out: &mut Vec<u8>) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

/// One record (the first of its batch: offset and timestamp deltas 0), its length first.
fn record_bytes(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[RawHeader<'_>]) -> Vec<u8> {
    let bytes = |field: Option<&[u8]>, out: &mut Vec<u8>| match field {
        Some(b) => {
            varint(b.len() as i64, out);
            out.extend_from_slice(b);
        }
        None => varint(-1, out),
    };
    let mut body = vec![0u8, 0, 0]; // attributes, timestamp delta, offset delta
    bytes(key, &mut body);
    bytes(value, &mut body);
    varint(headers.len() as i64, &mut body);
    for (name, value) in headers {
        bytes(Some(name), &mut body);
        bytes(*value, &mut body);
    }
    let mut record = Vec::new();
    varint(body.len() as i64, &mut record);
    record.extend_from_slice(&body);
    record
}

/// Sends the broker a Produce request (v3, acks=all) with one record batch of `records` (each
/// from [`record_bytes`], offset delta 0, so one record a batch) and returns its base offset.
fn append_batch(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    attributes: i16,
    producer_id: i64,
    records: &[Vec<u8>],
) -> i64 {
    use std::io::{Read, Write};
    assert_eq!(records.len(), 1, "offset deltas are 0: one record a batch");
    let mut after_crc = Vec::new();
    after_crc.extend_from_slice(&attributes.to_be_bytes());
    after_crc.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    after_crc.extend_from_slice(&now.to_be_bytes()); // first timestamp
    after_crc.extend_from_slice(&now.to_be_bytes()); // max timestamp
    after_crc.extend_from_slice(&producer_id.to_be_bytes());
    after_crc.extend_from_slice(&(if producer_id < 0 { -1i16 } else { 0 }).to_be_bytes()); // producer epoch
    after_crc.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    after_crc.extend_from_slice(&(records.len() as i32).to_be_bytes());
    for record in records {
        after_crc.extend_from_slice(record);
    }
    let mut batch = Vec::new();
    batch.extend_from_slice(&0i64.to_be_bytes()); // base offset (the broker assigns it)
    batch.extend_from_slice(&((4 + 1 + 4 + after_crc.len()) as i32).to_be_bytes()); // batch length
    batch.extend_from_slice(&0i32.to_be_bytes()); // partition leader epoch
    batch.push(2); // magic
    batch.extend_from_slice(&crc32c(&after_crc).to_be_bytes());
    batch.extend_from_slice(&after_crc);

    let string = |s: &str| [&(s.len() as i16).to_be_bytes()[..], s.as_bytes()].concat();
    let mut request = Vec::new();
    request.extend_from_slice(&0i16.to_be_bytes()); // api key: Produce
    request.extend_from_slice(&3i16.to_be_bytes()); // api version
    request.extend_from_slice(&7i32.to_be_bytes()); // correlation id
    request.extend_from_slice(&string("test-raw-batch"));
    request.extend_from_slice(&(-1i16).to_be_bytes()); // transactional id: null
    request.extend_from_slice(&(-1i16).to_be_bytes()); // acks: all
    request.extend_from_slice(&10_000i32.to_be_bytes()); // timeout
    request.extend_from_slice(&1i32.to_be_bytes()); // one topic
    request.extend_from_slice(&string(topic));
    request.extend_from_slice(&1i32.to_be_bytes()); // one partition
    request.extend_from_slice(&partition.to_be_bytes());
    request.extend_from_slice(&(batch.len() as i32).to_be_bytes());
    request.extend_from_slice(&batch);

    let address = bootstrap.split(',').next().unwrap();
    let mut stream = std::net::TcpStream::connect(address).expect("connecting to the broker");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(&[&(request.len() as i32).to_be_bytes()[..], &request].concat()).unwrap();
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).unwrap();
    let mut response = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut response).unwrap();
    // correlation id, topic count, topic name, partition count, partition, error code, base offset
    let name_end = 4 + 4 + 2 + topic.len();
    let error = i16::from_be_bytes(response[name_end + 8..name_end + 10].try_into().unwrap());
    assert_eq!(error, 0, "the broker refused the record batch (Kafka error code {error})");
    i64::from_be_bytes(response[name_end + 10..name_end + 18].try_into().unwrap())
}

/// The partition the Java producer's default partitioner picks for `key` (Kafka's
/// `Utils.murmur2`, made positive, modulo the partition count).
pub fn java_partition(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions
}

/// Kafka's `Utils.murmur2`.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes(chunk.try_into().unwrap()).wrapping_mul(M);
        k ^= k >> 24;
        h = h.wrapping_mul(M) ^ k.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u32::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// CRC-32C (Castagnoli), as record batches carry it.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

/// A minimal HTTP/1.0 GET against the worker's endpoint: (status code, body).
pub fn http_get(addr: impl std::net::ToSocketAddrs, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}
