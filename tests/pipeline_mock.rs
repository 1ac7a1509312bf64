//! The Kafka worker end to end on librdkafka's mock cluster (a real Kafka-protocol broker,
//! in-process): delivery, dead-lettering, faults and group changes.

mod common;

use common::*;
use news_enricher::pipeline::{output::headers, Worker, WorkerError};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn all_ids(articles: &[(String, String)]) -> BTreeSet<String> {
    articles.iter().map(|(id, _)| id.clone()).collect()
}

/// Asserts that every partition's committed offset reached its end offset.
async fn assert_all_committed(fx: &Fixture) {
    let end = fx.end_offsets();
    let ok = eventually(Duration::from_secs(10), || fx.committed() == end).await;
    assert!(ok, "committed {:?} != end offsets {:?}", fx.committed(), end);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enriches_every_article_in_order_and_commits() {
    let fx = Fixture::new("happy");
    let mut settings = fx.settings.clone();
    // Seven of these 300 articles are about sanctions.
    settings.routes.push(route("sanctions", "news.tag.sanctions"));
    let articles = corpus(300);
    fx.produce_articles(&articles);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    let (ids, dups) = ids_of(&out);
    assert_eq!(ids, all_ids(&articles), "every input id appears downstream");
    assert_eq!(dups, 0);
    // Each record is the raw article plus `enrichment`, keyed by id.
    for r in &out {
        let v = r.json();
        assert_eq!(v["id"].as_str(), r.key.as_deref());
        assert_eq!(v["enrichment"]["schema_version"], 1);
        assert!(v["enrichment"]["sentiment"]["label"].is_string());
    }
    // Per-key (here: per-input-partition) order: the corpus ids were produced in order with
    // distinct keys, so check order within each output partition matches production order.
    // Keys are partitioned as a Java producer would (Kafka's own test vectors pin the hash).
    for (key, hash) in [(&b"21"[..], -973_932_308), (b"foobar", -790_332_482), (b"abc", 479_470_107)] {
        assert_eq!(murmur2(key), hash);
    }
    assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58_897_971);
    for r in &out {
        let key = r.key.as_deref().unwrap().as_bytes();
        assert_eq!(r.partition, java_partition(key, PARTITIONS), "{:?} is not where Java puts it", r.key);
    }
    let position: std::collections::HashMap<&str, usize> =
        articles.iter().enumerate().map(|(i, (id, _))| (id.as_str(), i)).collect();
    for p in 0..PARTITIONS {
        let seq: Vec<usize> =
            out.iter().filter(|r| r.partition == p).map(|r| position[r.key.as_deref().unwrap()]).collect();
        assert!(seq.windows(2).all(|w| w[0] < w[1]), "output partition {p} out of order: {seq:?}");
    }
    let summary = worker.shutdown().await.unwrap();
    assert_eq!(summary.stats.enriched, articles.len() as u64);
    let sanctions = summary.stats.by_tag.get("sanctions").copied().unwrap_or(0) as usize;
    assert!(sanctions > 0, "the route's tag occurs in the input");
    let routed = fx.read("news.tag.sanctions", sanctions, Duration::from_secs(20));
    assert_eq!(routed.len(), sanctions, "every sanctions-tagged article is copied to its route");
    let tagged: BTreeSet<String> = out
        .iter()
        .filter(|r| r.json()["enrichment"]["tags"].as_array().unwrap().iter().any(|t| t["id"] == "sanctions"))
        .map(|r| r.key.clone().unwrap())
        .collect();
    assert_eq!(ids_of(&routed).0, tagged, "the route carries exactly the tagged articles");
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_input_is_dead_lettered_with_its_reason_and_committed() {
    let fx = Fixture::new("bad-input");
    let mut settings = fx.settings.clone();
    settings.limits.max_message_bytes = 4096;
    let nested = format!("{}{}", "[".repeat(500), "]".repeat(500));
    // (expected DLQ reason, key, payload)
    type BadInput = (&'static str, Option<Vec<u8>>, Vec<u8>);
    let bad: Vec<BadInput> = vec![
        ("not_json", Some(b"k-not-json".to_vec()), b"this is not json".to_vec()),
        ("not_utf8", Some(b"k-not-utf8".to_vec()), b"{\"id\":\"x\",\"title\":\"\xff\xfe\"}".to_vec()),
        (
            "too_large",
            Some(b"k-too-large".to_vec()),
            format!("{{\"id\":\"big\",\"body\":\"{}\"}}", "a".repeat(5000)).into_bytes(),
        ),
        ("missing_id", None, br#"{"title":"no id and no key"}"#.to_vec()),
        ("no_text", Some(b"k-no-text".to_vec()), br#"{"id":"e","title":"","body":"  "}"#.to_vec()),
        ("wrong_type", Some(b"k-wrong-type".to_vec()), br#"{"id":"w","title":"T","body":{"text":"x"}}"#.to_vec()),
        ("too_deep", Some(b"k-too-deep".to_vec()), nested.into_bytes()),
        ("not_object", Some(b"k-array".to_vec()), b"[1,2,3]".to_vec()),
    ];
    let good = synthetic("good", 20);
    let mut records: Vec<(Option<Vec<u8>>, Vec<u8>)> = bad.iter().map(|(_, k, p)| (k.clone(), p.clone())).collect();
    records.extend(good.iter().map(|(id, json)| (Some(id.clone().into_bytes()), json.clone().into_bytes())));
    fx.produce(&records);

    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let dlq = fx.read(DLQ, bad.len(), WAIT);
    let out = fx.read(OUTPUT, good.len(), WAIT);
    let summary = worker.shutdown().await.unwrap();

    assert_eq!(ids_of(&out).0, all_ids(&good), "good articles around bad ones all come through");
    assert_eq!(dlq.len(), bad.len(), "one DLQ record per bad input: {dlq:#?}");
    for (class, key, payload) in &bad {
        let r = dlq
            .iter()
            .find(|r| r.key.as_deref().map(str::as_bytes) == key.as_deref())
            .unwrap_or_else(|| panic!("no DLQ record for {class}"));
        assert_eq!(&r.payload, payload, "{class}: original bytes unchanged");
        assert_eq!(r.headers[headers::CLASS], *class);
        assert_eq!(r.headers[headers::TOPIC], INPUT);
        assert_eq!(r.headers[headers::STAGE], "decode");
        assert!(!r.headers[headers::MESSAGE].is_empty());
        assert!(r.headers[headers::OFFSET].parse::<i64>().is_ok());
        assert!(r.headers.contains_key(headers::PARTITION));
    }
    assert_eq!(summary.stats.dead_lettered, bad.len() as u64);
    assert_all_committed(&fx).await;
}

/// With `enrich.html`, the worker reads title and body as the text of their HTML: a phrase split
/// by markup is found, one inside a script is not, and an article of markup only is dead-lettered
/// as `no_text` with the reason. The records keep the fields as received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_articles_are_read_as_their_text_when_configured() {
    let fx = Fixture::new("html");
    let mut settings = fx.settings.clone();
    settings.enrich.html = true;
    let body = "<p>Military hotline talks between the <b>People's Liberation Army</b> and the Pentagon resumed.</p><p>Defense chiefs held a video call to keep lines of communication open.</p><script>/* Fentanyl seizures at the border rose sharply. Fentanyl precursor chemicals were shipped from China. Fentanyl overdoses killed thousands. */</script>";
    let article = serde_json::json!({"id": "h1", "title": "US and China restore <em>military-to-military</em> communication", "body": body});
    let markup_only = serde_json::json!({"id": "h2", "title": "<img src=x>", "body": "<p>&#32;</p>"});
    fx.produce(&[
        (Some(b"h1".to_vec()), article.to_string().into_bytes()),
        (Some(b"h2".to_vec()), markup_only.to_string().into_bytes()),
    ]);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, 1, WAIT);
    let dlq = fx.read(DLQ, 1, WAIT);
    worker.shutdown().await.unwrap();

    let record = out[0].json();
    assert_eq!(record["body"], body, "the record keeps the body as received");
    let tags: Vec<&str> =
        record["enrichment"]["tags"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert!(tags.contains(&"military_communications"), "{tags:?}");
    // Read as plain text, the script's comment makes it a fentanyl article.
    assert!(!tags.contains(&"fentanyl"), "a script is not text: {tags:?}");
    assert_eq!(dlq[0].key.as_deref(), Some("h2"));
    assert_eq!(dlq[0].headers[headers::CLASS], "no_text");
    assert!(dlq[0].headers[headers::MESSAGE].contains("only HTML markup"), "{:?}", dlq[0].headers);
    assert_all_committed(&fx).await;
}

/// Input headers (trace context, producer metadata, names that are not UTF-8, null values)
/// reach the enriched record and the dead letter unchanged and in order, then (on the enriched
/// record) where the input was, replacing an earlier enrichment's source headers; error headers
/// of an earlier dead-lettering go nowhere. A name that is not UTF-8 made rdkafka's header
/// reader panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_headers_are_passed_on_to_enriched_records_and_dead_letters() {
    let fx = Fixture::new("headers");
    let stale_class: &[u8] = headers::CLASS.as_bytes();
    let stale_source: &[u8] = headers::SOURCE_OFFSET.as_bytes();
    let input_headers: Vec<RawHeader<'_>> = vec![
        (b"traceparent", Some(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")),
        (b"\xff\xfe binary name", Some(b"\x00\x01")),
        (stale_class, Some(b"missing_id")),
        (stale_source, Some(b"1234")),
        (b"null-valued", None),
        (b"traceparent", Some(b"a repeated name keeps both")),
    ];
    let forwarded: Vec<(Vec<u8>, Option<Vec<u8>>)> = input_headers
        .iter()
        .filter(|(name, _)| *name != stale_class && *name != stale_source)
        .map(|(name, value)| (name.to_vec(), value.map(<[u8]>::to_vec)))
        .collect();
    let good = r#"{"id":"with-headers","title":"Taiwan","body":"Taiwan's president spoke in Taipei."}"#;
    append_record_with_headers(&fx.bootstrap(), INPUT, 0, b"with-headers", good.as_bytes(), &input_headers);
    append_record_with_headers(&fx.bootstrap(), INPUT, 0, b"bad-with-headers", b"not json", &input_headers);
    let plain = synthetic("plain", 10);
    fx.produce_articles(&plain);

    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, plain.len() + 1, WAIT);
    fx.read(DLQ, 2, WAIT);
    // One more than expected, briefly: an extra dead letter would show.
    let dlq = fx.read(DLQ, 3, Duration::from_secs(2));
    let summary = worker.shutdown().await.expect("headers of any bytes never stop the worker");

    let enriched = out.iter().find(|r| r.key.as_deref() == Some("with-headers")).expect("the article is enriched");
    let source = |r: &Record| -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        [
            (headers::SOURCE_TOPIC, INPUT.to_owned()),
            (headers::SOURCE_PARTITION, "0".into()),
            (headers::SOURCE_OFFSET, r.headers[headers::SOURCE_OFFSET].clone()),
        ]
        .map(|(k, v)| (k.as_bytes().to_vec(), Some(v.into_bytes())))
        .to_vec()
    };
    assert_eq!(enriched.header_list[..forwarded.len()], forwarded[..], "the input's headers first");
    assert_eq!(enriched.header_list[forwarded.len()..], source(enriched)[..], "then where the input was");
    assert_eq!(enriched.headers[headers::SOURCE_OFFSET], "0", "the first record of partition 0");
    for r in out.iter().filter(|r| r.key.as_deref() != Some("with-headers")) {
        assert_eq!(r.headers[headers::SOURCE_TOPIC], INPUT, "{r:?}");
        assert_eq!(r.header_list.len(), 3, "only where the input was: {r:?}");
        let (partition, offset) = (&r.headers[headers::SOURCE_PARTITION], &r.headers[headers::SOURCE_OFFSET]);
        assert_eq!(partition.parse::<i32>().unwrap(), r.partition, "output partitioned as its input: {r:?}");
        assert!(offset.parse::<i64>().is_ok(), "{r:?}");
    }
    let coordinates: BTreeSet<(&String, &String)> =
        out.iter().map(|r| (&r.headers[headers::SOURCE_PARTITION], &r.headers[headers::SOURCE_OFFSET])).collect();
    assert_eq!(coordinates.len(), out.len(), "each record names its own input");
    assert_eq!(dlq.len(), 1, "{dlq:#?}");
    let dead = &dlq[0];
    assert_eq!(dead.payload, b"not json");
    // The input's headers first, less the stale error header only: a dead letter is the input.
    let kept: Vec<(Vec<u8>, Option<Vec<u8>>)> = input_headers
        .iter()
        .filter(|(name, _)| *name != stale_class)
        .map(|(name, value)| (name.to_vec(), value.map(<[u8]>::to_vec)))
        .collect();
    assert_eq!(dead.header_list[..kept.len()], kept[..], "the input's headers first");
    let own: Vec<&[u8]> = dead.header_list[kept.len()..].iter().map(|(name, _)| name.as_slice()).collect();
    assert!(own.iter().all(|name| name.starts_with(b"__connect.errors.")), "then the error headers: {own:?}");
    let classes: Vec<_> = dead.header_list.iter().filter(|(name, _)| name == stale_class).collect();
    assert_eq!(classes, [&(stale_class.to_vec(), Some(b"not_json".to_vec()))], "this failure's class only, once");
    assert_eq!(summary.stats.dead_lettered, 1);
    assert_all_committed(&fx).await;
}

/// The size limit covers the whole message: a value within `limits.max_message_bytes` whose key
/// and headers take it over, and a message with more than `MAX_HEADERS` headers (passing on
/// many headers after removing stale error headers costs more than their number), go to the DLQ
/// as `too_large`; the worker goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_headers_count_against_the_size_limit() {
    let fx = Fixture::new("envelope");
    let mut settings = fx.settings.clone();
    settings.limits.max_message_bytes = 10_000;
    let article = |id: &str| format!(r#"{{"id":"{id}","title":"Taiwan","body":"{}"}}"#, "word ".repeat(1000));
    let big_header = vec![b'h'; 6_000];
    append_record_with_headers(
        &fx.bootstrap(),
        INPUT,
        0,
        b"big-header",
        article("big-header").as_bytes(),
        &[(b"trace", Some(&big_header))],
    );
    let names: Vec<String> =
        (0..=news_enricher::pipeline::MAX_HEADERS).map(|i| format!("__connect.errors.h{i}")).collect();
    let many: Vec<RawHeader<'_>> = names.iter().map(|n| (n.as_bytes(), Some(&b"x"[..]))).collect();
    append_record_with_headers(
        &fx.bootstrap(),
        INPUT,
        0,
        b"many-headers",
        br#"{"id":"many-headers","title":"T"}"#,
        &many,
    );
    append_record_with_headers(
        &fx.bootstrap(),
        INPUT,
        0,
        b"fine",
        article("fine").as_bytes(),
        &[(b"trace", Some(b"1"))],
    );
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let dlq = fx.read(DLQ, 2, WAIT);
    let out = fx.read(OUTPUT, 1, WAIT);
    let summary = worker.shutdown().await.unwrap();
    assert_eq!(ids_of(&out).0, ["fine".to_owned()].into());
    let reason = |key: &str| {
        let r = dlq.iter().find(|r| r.key.as_deref() == Some(key)).unwrap_or_else(|| panic!("{key}: {dlq:#?}"));
        (r.headers[headers::CLASS].clone(), r.headers[headers::MESSAGE].clone())
    };
    let (class, message) = reason("big-header");
    assert_eq!(class, "too_large");
    assert!(
        message.starts_with("message key, headers and value are ")
            && message.ends_with("over the limit of 10000 bytes"),
        "{message}"
    );
    let (class, message) = reason("many-headers");
    assert_eq!(class, "too_large");
    assert_eq!(message, "message has 1001 headers, over the limit of 1000");
    assert_eq!(summary.stats.dead_lettered, 2);
}

/// A tombstone (a key, a null value) goes on as a tombstone to the output and every route
/// topic, so compacted outputs delete the article too; without a key, or with a blank one that
/// names no article, it is dead-lettered with its null value; with `kafka.tombstones =
/// "dead_letter"` every one is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tombstones_are_passed_on_to_the_output_and_route_topics() {
    let fx = Fixture::new("tombstones");
    let mut settings = fx.settings.clone();
    settings.routes.push(route("taiwan", "news.tag.taiwan"));
    let articles = synthetic("live", 10);
    fx.produce_articles(&articles);
    fx.produce_tombstones(&[Some("deleted-1"), None, Some("  "), Some("deleted-2")]);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len() + 2, WAIT);
    let tagged = out
        .iter()
        .filter(|r| {
            !r.tombstone && r.json()["enrichment"]["tags"].as_array().unwrap().iter().any(|t| t["id"] == "taiwan")
        })
        .count();
    let routed = fx.read("news.tag.taiwan", tagged + 2, Duration::from_secs(20));
    fx.read(DLQ, 2, WAIT);
    // One more than expected, briefly: an extra dead letter would show.
    let dlq = fx.read(DLQ, 3, Duration::from_secs(2));
    let summary = worker.shutdown().await.unwrap();

    let deleted = |records: &[Record]| -> BTreeSet<String> {
        records.iter().filter(|r| r.tombstone).map(|r| r.key.clone().unwrap()).collect()
    };
    let expected: BTreeSet<String> = ["deleted-1".to_owned(), "deleted-2".to_owned()].into();
    assert_eq!(deleted(&out), expected, "{out:#?}");
    assert_eq!(deleted(&routed), expected, "every route topic gets the tombstones");
    assert_eq!(out.iter().filter(|r| !r.tombstone).count(), articles.len());
    assert_eq!(dlq.len(), 2, "{dlq:#?}");
    let keyless = dlq.iter().find(|r| r.key.is_none()).expect("the keyless null value is dead-lettered as it was");
    let blank = dlq.iter().find(|r| r.key.as_deref() == Some("  ")).expect("so is the blank key's");
    for dead in &dlq {
        assert!(dead.tombstone, "{dead:?}");
        assert_eq!(dead.headers[headers::CLASS], "not_json");
        assert!(dead.headers[headers::MESSAGE].contains("no value"), "{:?}", dead.headers);
    }
    assert!(!keyless.headers[headers::MESSAGE].contains("key names"), "{:?}", keyless.headers);
    assert!(blank.headers[headers::MESSAGE].contains("key names no article"), "{:?}", blank.headers);
    assert_eq!((summary.stats.tombstones, summary.stats.dead_lettered), (2, 2));
    assert_all_committed(&fx).await;

    // The other policy, on the same input, by a new group.
    settings.kafka.group_id = "tombstones-dead-letter".into();
    settings.kafka.tombstones = news_enricher::config::Tombstones::DeadLetter;
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let dlq = fx.read(DLQ, 6, WAIT);
    let summary = worker.shutdown().await.unwrap();
    assert_eq!(dlq.iter().filter(|r| r.tombstone).count(), 6, "the first worker's two and four more: {dlq:#?}");
    assert_eq!((summary.stats.tombstones, summary.stats.dead_lettered), (0, 4));
}

/// Until librdkafka's first statistics after an assignment (every 5 s by default; a minute
/// here) a partition's lag is unknown: its gauges are left out, where they read 0 ("caught up")
/// while a backlog waited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_lag_is_left_out_until_it_is_known() {
    let fx = Fixture::new("lag-unknown");
    let mut settings = fx.settings.clone();
    settings.kafka.consumer_properties.insert("statistics.interval.ms".into(), "60000".into());
    let articles = synthetic("lag-unknown", 20);
    fx.produce_articles(&articles);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert!(eventually(WAIT, || worker.stats().enriched == articles.len() as u64).await);
    // The gauges are recomputed every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let text = worker.shared().metrics_text();
    worker.shutdown().await.unwrap();
    assert!(text.contains("news_enricher_assigned_partitions 4"), "{text}");
    assert!(!text.contains("news_enricher_consumer_lag{"), "{text}");
    assert!(!text.contains("news_enricher_consumer_lag_seconds{"), "{text}");
}

/// `consumer_lag_seconds` of a partition with lag and nothing read yet counts from when the lag
/// was first seen: its next message was in the log by then. It used to report the age of the
/// partition's last completed message, which after a quiet spell is far older than the backlog
/// (an hour-old figure for seconds-old messages, a false alert).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_seconds_of_a_partition_with_nothing_read_does_not_count_its_quiet_spell() {
    let fx = Fixture::new("lag-quiet");
    let mut settings = fx.settings.clone();
    settings.kafka.consumer_properties.insert("statistics.interval.ms".into(), "1000".into());
    // One message in flight at a time: while it waits, the other partitions' backlog is unread.
    settings.kafka.max_in_flight = 1;
    let first = synthetic("lag-quiet-1", 20);
    fx.produce_articles(&first);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert!(eventually(WAIT, || worker.stats().enriched == first.len() as u64).await);
    let quiet = Duration::from_secs(8);
    tokio::time::sleep(quiet).await;
    // The next Produce requests are answered 10 s late (the records are in the log at once):
    // this test's own (librdkafka may split its 40 records over several), then the worker's,
    // whose record stays the only one in flight.
    fx.broker.delay_requests(1, RDKafkaApiKey::Produce, 10, 10_000);
    let bootstrap = fx.bootstrap();
    let second: Vec<_> =
        synthetic("lag-quiet-2", 40).into_iter().map(|(id, json)| (Some(id.into_bytes()), json.into_bytes())).collect();
    let producing = std::thread::spawn(move || produce_to(&bootstrap, INPUT, &second));
    let produced = std::time::Instant::now();
    let gauges = |name: &str, text: &str| -> Vec<f64> {
        text.lines()
            .filter(|l| l.starts_with(&format!("news_enricher_{name}{{")))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect()
    };
    let mut text = String::new();
    let behind = eventually(Duration::from_secs(8), || {
        text = worker.shared().metrics_text();
        gauges("consumer_lag", &text).iter().filter(|lag| **lag > 0.0).count() >= 3
    })
    .await;
    assert!(behind, "three partitions or more with unread lag:\n{text}");
    let bound = produced.elapsed().as_secs_f64() + 1.0;
    assert!(bound < quiet.as_secs_f64(), "the check came too late to tell the quiet spell apart");
    let seconds = gauges("consumer_lag_seconds", &text);
    assert!(seconds.iter().all(|s| *s <= bound), "ages over {bound:.1} s: {seconds:?}\n{text}");
    worker.shutdown().await.unwrap();
    producing.join().unwrap();
}

/// With `kafka.output_timestamp = "input"` the enriched records, their route copies and
/// tombstones carry their input's timestamp; dead letters are stamped when written. With the
/// default (`write`) every output record is stamped when written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_records_carry_the_input_timestamp_when_asked() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let fx = Fixture::new("timestamps");
    // 2020-01-01T00:00:00Z plus the record's index in seconds: far from any write time.
    const STAMPED_FROM: i64 = 1_577_836_800_000;
    let articles = synthetic("stamped", 6);
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", fx.bootstrap())
        .set("partitioner", "murmur2_random")
        .create()
        .unwrap();
    let mut sent = std::collections::HashMap::new();
    let mut stamp = |key: &str, i: usize| {
        let ts = STAMPED_FROM + i as i64 * 1000;
        sent.insert(key.to_owned(), ts);
        ts
    };
    for (i, (id, json)) in articles.iter().enumerate() {
        producer.send(BaseRecord::to(INPUT).key(id.as_str()).payload(json.as_str()).timestamp(stamp(id, i))).unwrap();
    }
    let ts = stamp("gone-1", 6);
    producer.send(BaseRecord::<str, str>::to(INPUT).key("gone-1").timestamp(ts)).unwrap();
    let ts = stamp("bad-1", 7);
    producer.send(BaseRecord::to(INPUT).key("bad-1").payload("not json").timestamp(ts)).unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();

    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut settings = fx.settings.clone();
    settings.kafka.output_timestamp = news_enricher::config::OutputTimestamp::Input;
    settings.routes.push(route("taiwan", "news.tag.taiwan"));
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len() + 1, WAIT);
    let dlq = fx.read(DLQ, 1, WAIT);
    let tagged = out.iter().filter(|r| !r.tombstone && r.json()["enrichment"]["tags"].to_string().contains("taiwan"));
    let routed = fx.read("news.tag.taiwan", tagged.count() + 1, Duration::from_secs(20));
    worker.shutdown().await.unwrap();

    assert_eq!(out.len(), articles.len() + 1, "{out:#?}");
    assert!(routed.len() >= 2 && routed.iter().any(|r| r.tombstone), "a tagged article and the tombstone: {routed:#?}");
    for r in out.iter().chain(&routed) {
        let key = r.key.as_deref().unwrap();
        assert_eq!(r.timestamp, Some(sent[key]), "{} {key} keeps its input's timestamp", r.topic);
    }
    assert_eq!(dlq.len(), 1);
    assert!(dlq[0].timestamp.unwrap() >= started, "a dead letter is stamped when written: {:?}", dlq[0].timestamp);

    // The default, on the same input, by a new group, to a new output topic.
    settings.kafka.group_id = "timestamps-write".into();
    settings.kafka.output_topic = "news.enriched.write-time".into();
    settings.kafka.output_timestamp = Default::default();
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read("news.enriched.write-time", articles.len() + 1, WAIT);
    worker.shutdown().await.unwrap();
    assert_eq!(out.len(), articles.len() + 1, "{out:#?}");
    for r in &out {
        assert!(r.timestamp.unwrap() >= started, "{:?} is stamped when written: {:?}", r.key, r.timestamp);
    }
}

/// `run` checks at start that the topics it reads and writes exist: a route to a topic the
/// brokers do not have (and will not create) is named before anything is consumed, instead of
/// stopping the worker at the first article for it, after every restart; a misspelt input topic
/// is named instead of leaving the worker ready and idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_topics_are_named_at_start() {
    let fx = Fixture::new("topic-check");
    let mut settings = fx.settings.clone();
    settings.routes = vec![route("taiwan", "news.tag.taiwan"), route("taiwan", "news.tag.missing")];
    let check = |settings: &news_enricher::config::Settings| {
        news_enricher::pipeline::check_topics(settings, &fx.bootstrap(), WAIT, Duration::from_secs(2))
    };
    // An input topic is never created on request, even by brokers that would create it.
    settings.kafka.input_topics = vec![INPUT.into(), "news.raw.typo".into(), "^news\\.raw\\..*".into()];
    let problem = check(&settings).unwrap_err();
    assert_eq!(problem, "kafka.input_topics[1]: topic `news.raw.typo` does not exist (nor came to exist within 2 s)");
    settings.kafka.input_topics.remove(1);
    // Brokers that create topics on request (the producer asks, as librdkafka's does by default).
    check(&settings).expect("created on request, as the first write would");
    settings.routes[1] = route("taiwan", "news.tag.missing-too");
    settings.kafka.producer_properties.insert("allow.auto.create.topics".into(), "false".into());
    let problem = check(&settings).unwrap_err();
    assert_eq!(problem, "routes[1].topic: topic `news.tag.missing-too` does not exist (nor came to exist within 2 s)");
    settings.routes.pop();
    check(&settings).expect("every topic exists");
    // Brokers that do not answer are retried by the worker, not refused here.
    let unreachable = news_enricher::pipeline::check_topics(
        &settings,
        "127.0.0.1:9",
        Duration::from_secs(1),
        Duration::from_secs(30),
    );
    assert_eq!(unreachable, Ok(()));
}

/// Producers compress with any codec Kafka knows; the worker reads them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_compressed_with_every_kafka_codec_is_enriched() {
    let fx = Fixture::new("codecs");
    let mut all = Vec::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let articles = synthetic(codec, 10);
        let records: Vec<_> =
            articles.iter().map(|(id, json)| (Some(id.clone().into_bytes()), json.clone().into_bytes())).collect();
        produce_to_with(&fx.bootstrap(), INPUT, &records, &[("compression.type", codec)]);
        all.extend(articles);
    }
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, all.len(), WAIT);
    let summary = worker.shutdown().await.unwrap();
    assert_eq!(ids_of(&out).0, all_ids(&all));
    assert_eq!(summary.stats.dead_lettered, 0);
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_for_ten_seconds_mid_stream_loses_nothing() {
    let fx = Fixture::new("broker-down");
    let first = synthetic("before", 300);
    let second = synthetic("after", 300);
    fx.produce_articles(&first);
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert_eq!(fx.read(OUTPUT, 50, WAIT).len(), 50, "processing started");
    fx.broker.broker_down(1);
    tokio::time::sleep(Duration::from_secs(10)).await;
    fx.broker.broker_up(1);
    fx.produce_articles(&second);
    let want = first.len() + second.len();
    let out = fx.read(OUTPUT, want, Duration::from_secs(90));
    let expected: BTreeSet<String> = all_ids(&first).into_iter().chain(all_ids(&second)).collect();
    let (ids, dups) = ids_of(&out);
    let missing: Vec<_> = expected.difference(&ids).collect();
    assert!(missing.is_empty(), "lost {} articles, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    eprintln!("broker outage: {dups} duplicates");
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}

/// SIGTERM while the brokers are unreachable: nothing can be committed, and the worker still
/// stops within `kafka.shutdown_timeout_secs`, without loss: the uncommitted work is
/// re-processed after a restart. The consumer's close (which waits for the coordinator for the
/// whole session timeout) is abandoned at the deadline: before, with the session timeout at
/// 30 s, the shutdown took 30 s more than its budget, and an orchestrator's grace period of 45 s
/// killed the worker with the default 45 s session timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_the_brokers_down_keeps_its_deadline() {
    let fx = Fixture::new("shutdown-broker-down");
    let mut settings = fx.settings.clone();
    settings.kafka.shutdown_timeout_secs = 4;
    settings.kafka.consumer_properties.insert("session.timeout.ms".into(), "30000".into());
    let articles = synthetic("down", 200);
    fx.produce_articles(&articles);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert_eq!(fx.read(OUTPUT, 20, WAIT).len(), 20, "processing started");
    shutdown_with_the_broker_down_within_8_s(&fx, worker).await;
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    assert_eq!(ids_of(&out).0, all_ids(&articles), "a restart loses nothing");
    worker.shutdown().await.unwrap();
}

/// The same when everything was committed before the brokers went away: the final commit has
/// nothing to send, and the consumer's close (a last commit, leaving the group) cannot reach the
/// coordinator. It is abandoned at the deadline; before, it blocked for the session timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_after_a_full_commit_with_the_brokers_down_keeps_its_deadline() {
    let fx = Fixture::new("shutdown-committed-broker-down");
    let mut settings = fx.settings.clone();
    settings.kafka.shutdown_timeout_secs = 4;
    settings.kafka.consumer_properties.insert("session.timeout.ms".into(), "30000".into());
    let articles = synthetic("committed", 50);
    fx.produce_articles(&articles);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert_eq!(fx.read(OUTPUT, articles.len(), WAIT).len(), articles.len());
    assert_all_committed_while_running(&fx).await;
    shutdown_with_the_broker_down_within_8_s(&fx, worker).await;
}

/// Takes the broker down, shuts `worker` down (its `shutdown_timeout_secs` is 4), asserts that
/// it stopped cleanly within 8 s, and brings the broker back.
async fn shutdown_with_the_broker_down_within_8_s(fx: &Fixture, worker: Worker) {
    fx.broker.broker_down(1);
    let started = std::time::Instant::now();
    let stopped = worker.shutdown().await;
    let took = started.elapsed();
    assert!(stopped.is_ok(), "an unreachable broker is not a fatal error: {stopped:?}");
    eprintln!("shutdown with the broker down took {took:?}");
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}, shutdown_timeout is 4 s");
    fx.broker.broker_up(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retriable_produce_errors_are_retried_without_loss() {
    let fx = Fixture::new("produce-errors");
    let articles = synthetic("retry", 200);
    fx.produce_articles(&articles);
    use RDKafkaRespErr::*;
    fx.broker.push_request_errors(
        RDKafkaApiKey::Produce,
        &[
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        ],
    );
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    let summary = worker.shutdown().await.unwrap();
    assert_eq!(ids_of(&out).0, all_ids(&articles));
    assert_eq!(summary.stats.dead_lettered, 0, "retriable errors never dead-letter");
    assert_all_committed(&fx).await;
}

/// The worker's first Produce request is answered with `error`, permanent for its records:
/// their inputs are dead-lettered with the broker's reason (in which one of `reason_words`
/// appears), the rest is enriched, and the worker keeps going.
async fn a_rejected_batch_goes_to_the_dlq(
    group: &str,
    settings_for: impl Fn(&mut news_enricher::config::Settings),
    error: RDKafkaRespErr,
    reason_words: &[&str],
) {
    let fx = Fixture::new(group);
    let mut settings = fx.settings.clone();
    settings_for(&mut settings);
    let articles = synthetic(group, 50);
    fx.produce_articles(&articles);
    fx.broker.push_request_errors(RDKafkaApiKey::Produce, &[error]);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let ok = eventually(WAIT, || {
        let stats = worker.stats();
        stats.enriched + stats.dead_lettered == articles.len() as u64 && worker.shared().in_flight() == 0
    })
    .await;
    assert!(ok);
    let summary = worker.shutdown().await.unwrap();
    let rejected = summary.stats.by_dlq_reason.get("produce_failed").copied().unwrap_or(0) as usize;
    assert!(rejected > 0, "the rejected batch's inputs were dead-lettered");
    // An article whose record was refused is dead-lettered, not enriched, in the statistics too.
    assert_eq!(summary.stats.enriched as usize, articles.len() - rejected);
    assert_eq!(summary.stats.dead_lettered as usize, rejected);
    let sentiments: u64 = summary.stats.by_sentiment.values().sum();
    assert_eq!(sentiments as usize, articles.len() - rejected, "{:?}", summary.stats.by_sentiment);
    let out = fx.read(OUTPUT, articles.len() - rejected, WAIT);
    let dlq = fx.read(DLQ, rejected, WAIT);
    let mut seen = ids_of(&out).0;
    for r in &dlq {
        assert_eq!(r.headers[headers::CLASS], "produce_failed");
        assert_eq!(r.headers[headers::STAGE], "produce");
        let message = r.headers[headers::MESSAGE].to_lowercase();
        assert!(reason_words.iter().any(|w| message.contains(w)), "{:?}", r.headers);
        seen.insert(r.key.clone().unwrap());
    }
    assert_eq!(seen, all_ids(&articles), "every input is either enriched or dead-lettered");
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_broker_rejects_sends_its_input_to_the_dlq() {
    let error = RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
    a_rejected_batch_goes_to_the_dlq("rejected", |_| {}, error, &["too large", "size"]).await;
}

/// With `kafka.output_timestamp = "input"`, a broker whose topic refuses old timestamps
/// (`message.timestamp.before.max.ms`) answers `INVALID_TIMESTAMP`: that input goes to the DLQ
/// with the reason instead of stopping the worker on the same offset after every restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timestamp_the_broker_refuses_sends_its_input_to_the_dlq() {
    let input_time = |s: &mut news_enricher::config::Settings| {
        s.kafka.output_timestamp = news_enricher::config::OutputTimestamp::Input;
    };
    let error = RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP;
    a_rejected_batch_goes_to_the_dlq("refused-timestamp", input_time, error, &["timestamp"]).await;
}

/// An input just under the default `limits.max_message_bytes` (1 MiB) is valid, and so its
/// enriched record is written: the producer's own size check (librdkafka's `message.max.bytes`,
/// 1,000,000 by default) must not refuse what the input limit accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_just_under_the_size_limit_is_enriched() {
    let fx = Fixture::new("near-limit");
    let limit = fx.settings.limits.max_message_bytes;
    assert_eq!(limit, 1 << 20, "the default limit");
    let body = "Officials in Taipei met again. ".repeat((limit - 2_000) / 31);
    let article = format!(r#"{{"id":"near-limit","title":"Talks","body":"{body}"}}"#);
    assert!((1_000_000..limit).contains(&article.len()), "{}", article.len());
    fx.produce(&[(Some(b"near-limit".to_vec()), article.into_bytes())]);
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let ok = eventually(WAIT, || worker.stats().enriched == 1 && worker.shared().in_flight() == 0).await;
    let summary = worker.shutdown().await.unwrap();
    assert!(ok);
    assert_eq!(summary.stats.dead_lettered, 0, "{:?}", summary.stats.by_dlq_reason);
    let out = fx.read(OUTPUT, 1, WAIT);
    assert_eq!(out.len(), 1);
    let enrichment = &out[0].json()["enrichment"];
    assert!(out[0].payload.len() > 1_000_000 && enrichment["word_count"].as_u64() > Some(150_000), "{enrichment}");
    assert_all_committed(&fx).await;
}

/// An input near the size limit makes a dead letter the producer cannot write (its bytes plus
/// the error headers): it goes to the DLQ without its payload instead of stopping the worker,
/// which would stop again on the same offset after every restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_too_large_to_write_goes_without_its_payload() {
    let fx = Fixture::new("dlq-too-large");
    let mut settings = fx.settings.clone();
    settings.kafka.producer_properties.insert("message.max.bytes".into(), "2500".into());
    settings.limits.max_message_bytes = 2400;
    let article =
        |id: &str, body_len: usize| format!(r#"{{"id":"{id}","title":"T","body":"{}"}}"#, "word ".repeat(body_len / 5));
    // Over the input limit: a `too_large` dead letter of its 2,450 bytes plus headers.
    let too_large = article("big-input", 2420);
    // Within the input limit, but its enriched record is over the producer's limit, and so is
    // the `produce_failed` dead letter of its 2,300 bytes.
    let big_output = article("big-output", 2270);
    assert!(too_large.len() > 2400 && (2000..=2400).contains(&big_output.len()));
    let good = synthetic("after", 20);
    let mut records = vec![
        (Some(b"big-input".to_vec()), too_large.clone().into_bytes()),
        (Some(b"big-output".to_vec()), big_output.clone().into_bytes()),
    ];
    records.extend(good.iter().map(|(id, json)| (Some(id.clone().into_bytes()), json.clone().into_bytes())));
    fx.produce(&records);

    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, good.len(), WAIT);
    let dlq = fx.read(DLQ, 2, WAIT);
    let summary = worker.shutdown().await.expect("a dead letter that does not fit must not stop the worker");

    assert_eq!(ids_of(&out).0, all_ids(&good), "articles after the oversized ones all come through");
    assert_eq!(dlq.len(), 2, "{dlq:#?}");
    for (key, class, input) in [("big-input", "too_large", &too_large), ("big-output", "produce_failed", &big_output)] {
        let r = dlq.iter().find(|r| r.key.as_deref() == Some(key)).unwrap_or_else(|| panic!("no DLQ record for {key}"));
        assert_eq!(r.headers[headers::CLASS], class);
        assert!(r.payload.is_empty(), "{key}: the bytes that did not fit are left out");
        let omitted = &r.headers[headers::PAYLOAD_OMITTED];
        assert!(omitted.starts_with(&format!("payload of {} bytes omitted: ", input.len())), "{omitted}");
        assert!(omitted.to_lowercase().contains("size"), "the reason is the size: {omitted}");
        assert!(r.headers[headers::OFFSET].parse::<i64>().is_ok(), "where to read the input again");
    }
    assert_eq!(summary.stats.by_dlq_reason.get("too_large").copied(), Some(1));
    assert_eq!(summary.stats.by_dlq_reason.get("produce_failed").copied(), Some(1));
    assert_eq!(
        summary.stats.enriched as usize,
        good.len(),
        "the article whose record did not fit is not counted enriched"
    );
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_produce_error_stops_without_committing_and_a_restart_loses_nothing() {
    let fx = Fixture::new("fatal");
    let articles = synthetic("fatal", 100);
    fx.produce_articles(&articles);
    fx.broker
        .push_request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED]);
    let result =
        news_enricher::pipeline::run(&fx.settings, &fx.bootstrap(), fx.enricher.clone(), std::future::pending()).await;
    match result {
        Err(WorkerError::Fatal(reason)) => assert!(reason.to_lowercase().contains("authoriz"), "{reason}"),
        other => panic!("expected a fatal error, got {other:?}"),
    }
    let committed: i64 = fx.committed().values().sum();
    let end: i64 = fx.end_offsets().values().sum();
    assert!(committed < end, "the failed work is not committed ({committed} of {end})");
    // A restart processes what was not committed. Records the first run produced before the
    // fatal error are in the output already, so the output can be complete while the restarted
    // worker is still re-reading them: wait for its commits before stopping it.
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    assert_eq!(ids_of(&out).0, all_ids(&articles));
    assert_all_committed_while_running(&fx).await;
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_failing_past_its_grace_stops_the_worker() {
    let fx = Fixture::new("auth");
    fx.produce_articles(&synthetic("auth", 20));
    let mut settings = fx.settings.clone();
    for (name, value) in FAILING_OAUTHBEARER {
        settings.kafka.properties.insert(name.into(), value.into());
    }
    let bootstrap = fx.bootstrap();
    let run = news_enricher::pipeline::run(&settings, &bootstrap, fx.enricher.clone(), std::future::pending());
    let result = tokio::time::timeout(WAIT, run).await.expect("the worker stops instead of retrying for ever");
    match result {
        Err(WorkerError::Fatal(reason)) => assert!(reason.contains("authentication"), "{reason}"),
        other => panic!("expected a fatal error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_markers_at_the_end_of_partitions_are_committed_past() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283, "CRC-32C check value");
    let fx = Fixture::new("txn-marker");
    let articles = synthetic("txn", 40);
    fx.produce_articles(&articles);
    // What a transactional producer leaves after its last records: a commit marker, an offset
    // the consumer skips. The group must still commit every partition to its end.
    for partition in 0..PARTITIONS {
        append_commit_marker(&fx.bootstrap(), INPUT, partition);
    }
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    assert_eq!(ids_of(&out).0, all_ids(&articles));
    assert_all_committed_while_running(&fx).await;
    let summary = worker.shutdown().await.unwrap();
    assert_eq!((summary.stats.enriched, summary.stats.dead_lettered), (articles.len() as u64, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_holding_only_a_marker_past_its_commit_is_committed_past_it() {
    let fx = Fixture::new("txn-marker-only");
    let articles = synthetic("txn-only", 20);
    fx.produce_articles(&articles);
    // A previous owner processed every article and committed them, then died before it stored
    // its position past the commit marker that followed: the group is one short of the end.
    let mut processed = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        let marker = append_commit_marker(&fx.bootstrap(), INPUT, partition);
        processed.add_partition_offset(INPUT, partition, Offset::Offset(marker)).unwrap();
    }
    let previous_owner: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", fx.bootstrap())
        .set("group.id", &fx.settings.kafka.group_id)
        .create()
        .unwrap();
    previous_owner.commit(&processed, CommitMode::Sync).expect("committing as the previous owner");
    drop(previous_owner);
    assert_ne!(fx.committed(), fx.end_offsets());

    // This worker gets nothing but the markers: it must still commit past them, or the group
    // shows lag 1 for ever and the worker is marked stalled.
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert_all_committed_while_running(&fx).await;
    let summary = worker.shutdown().await.unwrap();
    assert_eq!(summary.stats.consumed, 0, "nothing was re-processed");
    assert_all_committed(&fx).await;
}

/// A shutdown whose deadline passes with work in flight, then the process ending (its runtime
/// dropped, the unfinished tasks cancelled, the consumer closed by the last reference): what was
/// not finished must not be committed, so a restart processes it.
#[test]
fn work_abandoned_at_the_shutdown_deadline_is_processed_after_a_restart() {
    let fx = Fixture::new("abandoned");
    let articles = synthetic("abandoned", 40);
    fx.produce_articles(&articles);
    let mut settings = fx.settings.clone();
    settings.kafka.shutdown_timeout_secs = 2;
    // The first worker's output writes are refused (retriably) past its shutdown deadline; the
    // broker appends nothing, so the abandoned articles are in no output.
    fx.broker.push_request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 30]);
    let first = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    first.block_on(async {
        let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
        assert!(eventually(WAIT, || worker.shared().in_flight() > 0).await, "work in flight");
        worker.shutdown().await.unwrap();
    });
    first.shutdown_timeout(Duration::from_secs(1));
    // The restarted worker works through what is left of the refusals (retried) first.
    let second = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    second.block_on(async {
        let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
        let out = fx.read(OUTPUT, articles.len(), WAIT);
        assert_eq!(ids_of(&out).0, all_ids(&articles), "every abandoned article is processed after the restart");
        worker.shutdown().await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_errors_are_retried() {
    let fx = Fixture::new("commit-errors");
    let articles = synthetic("commit", 100);
    fx.produce_articles(&articles);
    use RDKafkaRespErr::*;
    fx.broker.push_request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        ],
    );
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, articles.len(), WAIT);
    assert_eq!(ids_of(&out).0, all_ids(&articles));
    assert_all_committed_while_running(&fx).await;
    worker.shutdown().await.unwrap();
    assert_all_committed(&fx).await;
}

/// A revocation whose commit fails every attempt (here: the coordinator answers "rebalance in
/// progress", as it does when the group rebalances again before the commit arrives) releases the
/// partitions uncommitted, counts it, and loses nothing: their next owner re-processes the work
/// since the last commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_whose_commit_fails_is_counted_and_loses_nothing() {
    let fx = Fixture::new("revoke-uncommitted");
    let first = synthetic("unc-a", 100);
    fx.produce_articles(&first);
    let a = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert!(eventually(WAIT, || a.stats().enriched == 100).await);
    assert_all_committed_while_running(&fx).await;
    let second = synthetic("unc-b", 100);
    fx.produce_articles(&second);
    assert!(eventually(WAIT, || a.stats().enriched == 200 && a.shared().in_flight() == 0).await);
    // Enough failures for every attempt of the revocation's commit, and the auto-commits around it.
    fx.broker.push_request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS; 40],
    );
    let b = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let ok =
        eventually(WAIT, || b.shared().stats.assigned_partitions.load(std::sync::atomic::Ordering::Relaxed) > 0).await;
    assert!(ok, "the second member got partitions");
    assert!(eventually(WAIT, || a.stats().revocations_uncommitted > 0).await, "{:?}", a.stats());
    let text = a.shared().stats.encode();
    let counted = (text.lines().find_map(|l| l.strip_prefix("news_enricher_revocations_uncommitted_total ")))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert!(counted.is_some_and(|n| n >= 1.0), "{text}");
    let all: BTreeSet<String> = all_ids(&first).into_iter().chain(all_ids(&second)).collect();
    let out = fx.read(OUTPUT, all.len(), WAIT);
    b.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
    assert_eq!(ids_of(&out).0, all, "nothing lost");
}

async fn assert_all_committed_while_running(fx: &Fixture) {
    let end = fx.end_offsets();
    let ok = eventually(Duration::from_secs(30), || fx.committed() == end).await;
    assert!(
        ok,
        "the running worker commits every partition to its end: committed {:?} != end {:?}",
        fx.committed(),
        end
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_member_joining_and_leaving_mid_stream_loses_nothing() {
    let fx = Fixture::new("rebalance");
    let batches: Vec<_> = (0..4).map(|b| synthetic(&format!("reb{b}"), 150)).collect();
    fx.produce_articles(&batches[0]);
    let a = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert_eq!(fx.read(OUTPUT, 20, WAIT).len(), 20);
    let b = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    fx.produce_articles(&batches[1]);
    let ok =
        eventually(WAIT, || b.shared().stats.assigned_partitions.load(std::sync::atomic::Ordering::Relaxed) > 0).await;
    assert!(ok, "the second member got partitions");
    fx.produce_articles(&batches[2]);
    let ok = eventually(WAIT, || b.stats().consumed > 0).await;
    assert!(ok, "the second member consumed");
    let b_summary = b.shutdown().await.unwrap();
    fx.produce_articles(&batches[3]);
    let all: BTreeSet<String> = batches.iter().flat_map(|b| all_ids(b)).collect();
    let out = fx.read(OUTPUT, all.len(), Duration::from_secs(90));
    let a_summary = a.shutdown().await.unwrap();
    let (ids, dups) = ids_of(&out);
    let missing: Vec<_> = all.difference(&ids).collect();
    assert!(missing.is_empty(), "lost {} articles: {:?}", missing.len(), &missing[..missing.len().min(5)]);
    eprintln!(
        "rebalance: a consumed {}, b consumed {}, {dups} duplicates",
        a_summary.stats.consumed, b_summary.stats.consumed
    );
    // The commit on revoke can fail when the group is rebalancing again by the time it is sent
    // (librdkafka's cooperative protocol, on a host so busy that the drain took seconds): the
    // partitions' next owner then re-processes their work since the last commit, and the
    // worker counts it. Otherwise, there is no duplicate at all.
    let uncommitted = a_summary.stats.revocations_uncommitted + b_summary.stats.revocations_uncommitted;
    if uncommitted == 0 {
        assert_eq!(dups, 0, "a member joining and leaving drains and commits on revoke: no duplicates");
    } else {
        eprintln!("{uncommitted} revocation(s) released uncommitted: {dups} duplicates");
    }
    assert!(b_summary.stats.rebalances.contains_key("assign"));
    assert_all_committed(&fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_and_commits_and_a_restart_resumes_without_loss() {
    let fx = Fixture::new("restart");
    let mut settings = fx.settings.clone();
    settings.kafka.max_in_flight = 50;
    let first = corpus(400);
    fx.produce_articles(&first);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let ok = eventually(WAIT, || worker.stats().enriched >= 100).await;
    assert!(ok);
    let s1 = worker.shutdown().await.unwrap().stats;
    // Everything that was enriched before shutdown was delivered and committed: the committed
    // offsets cover exactly what the first run produced.
    let committed: i64 = fx.committed().values().sum();
    assert_eq!(committed as u64, s1.enriched, "shutdown committed all the work it drained");

    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let out = fx.read(OUTPUT, first.len(), WAIT);
    let s2 = worker.shutdown().await.unwrap().stats;
    let (ids, dups) = ids_of(&out);
    assert_eq!(ids, all_ids(&first));
    assert_eq!(dups, 0, "a clean shutdown leaves no duplicates");
    assert_eq!(s1.enriched + s2.enriched, first.len() as u64);
    assert_all_committed(&fx).await;
}

/// Small fetches, so that what librdkafka prefetched before a pause is a few messages at most.
fn with_small_fetches(settings: &mut news_enricher::config::Settings) {
    for (k, v) in [
        ("fetch.max.bytes", "8192"),
        ("message.max.bytes", "8192"),
        ("max.partition.fetch.bytes", "1024"),
        ("queued.max.messages.kbytes", "1"),
    ] {
        settings.kafka.properties.insert(k.into(), v.into());
    }
}

/// Waits until `articles` are enriched and nothing is in flight (asserting it happens), and
/// returns the highest message count and byte count seen in flight meanwhile.
async fn peaks_in_flight_until_done(worker: &Worker, articles: usize) -> (usize, usize) {
    let (mut peak, mut peak_bytes) = (0, 0);
    let done = eventually(WAIT, || {
        peak = peak.max(worker.shared().in_flight());
        peak_bytes = peak_bytes.max(worker.shared().in_flight_bytes());
        worker.stats().enriched == articles as u64 && worker.shared().in_flight() == 0
    })
    .await;
    assert!(done, "all work completed");
    (peak, peak_bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_pauses_intake_at_the_in_flight_bound() {
    let fx = Fixture::new("backpressure");
    let mut settings = fx.settings.clone();
    settings.kafka.max_in_flight = 20;
    with_small_fetches(&mut settings);
    let articles = synthetic("bp", 300);
    fx.produce_articles(&articles);
    // The broker answers output writes slowly: work piles up behind the producer.
    fx.broker.delay_requests(1, RDKafkaApiKey::Produce, 30, 300);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let (peak, _) = peaks_in_flight_until_done(&worker, articles.len()).await;
    // Partitions waiting behind the bound are not mistaken for partitions librdkafka stopped.
    assert_eq!(worker.stats().fetch_restarts, 0);
    worker.shutdown().await.unwrap();
    assert!(peak >= 20, "the bound was reached (peak {peak})");
    assert!(peak <= 20 + 4 * 8, "in flight stayed near the bound of 20 (peak {peak})");
    assert_eq!(ids_of(&fx.read(OUTPUT, articles.len(), WAIT)).0, all_ids(&articles));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_pauses_intake_at_the_in_flight_byte_bound() {
    let fx = Fixture::new("backpressure-bytes");
    let articles = synthetic("bpb", 300);
    let largest = articles.iter().map(|(id, json)| id.len() + json.len()).max().unwrap();
    let mut settings = fx.settings.clone();
    // The message count allows everything; the byte bound allows about 20 articles.
    settings.kafka.max_in_flight = 100_000;
    settings.kafka.max_in_flight_bytes = 20 * largest;
    with_small_fetches(&mut settings);
    fx.produce_articles(&articles);
    fx.broker.delay_requests(1, RDKafkaApiKey::Produce, 30, 300);
    let worker = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let (peak, peak_bytes) = peaks_in_flight_until_done(&worker, articles.len()).await;
    assert_eq!(worker.shared().in_flight_bytes(), 0, "every byte counted in is counted out");
    worker.shutdown().await.unwrap();
    let bound = settings.kafka.max_in_flight_bytes;
    assert!(peak_bytes >= bound * 3 / 4, "the byte bound was approached (peak {peak_bytes} of {bound})");
    assert!(peak <= 20 + 4 * 8, "in flight stayed near the 20 articles the byte bound allows (peak {peak})");
    assert_eq!(ids_of(&fx.read(OUTPUT, articles.len(), WAIT)).0, all_ids(&articles));
}

/// A partition revoked while intake is paused and assigned back after intake resumed is
/// consumed again. librdkafka keeps an application's pause on a partition across its revocation
/// and reassignment, so a partition paused by a backpressure pause and given back later would
/// never be fetched again, with lag and readiness showing nothing (found by a chaos soak on
/// Tansu).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_revoked_while_intake_is_paused_is_consumed_when_assigned_back() {
    use std::sync::atomic::Ordering::Relaxed;
    let fx = Fixture::new("paused-revoke");
    let mut settings = fx.settings.clone();
    settings.kafka.max_in_flight = 20;
    settings.kafka.drain_timeout_ms = 500;
    with_small_fetches(&mut settings);
    let first = synthetic("pr1", 200);
    let second = synthetic("pr2", 200);
    fx.produce_articles(&first);
    // The first write is answered after 10 s: A's in-flight bound stays reached and it pauses.
    fx.broker.delay_requests(1, RDKafkaApiKey::Produce, 1, 10_000);
    let delayed = std::time::Instant::now();
    let a = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let paused = |w: &Worker| w.shared().stats.intake_paused();
    assert!(eventually(WAIT, || paused(&a)).await, "intake paused at the in-flight bound");
    // B joins: A gives up partitions while paused (its write is still unanswered, so it cannot
    // have resumed before).
    let b = Worker::start(&settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let assigned = |w: &Worker| w.shared().stats.assigned_partitions.load(Relaxed);
    assert!(eventually(WAIT, || assigned(&a) < PARTITIONS as usize).await, "A gave up partitions");
    assert!(
        delayed.elapsed() < Duration::from_secs(10),
        "A gave them up after its write was answered: the test would prove nothing"
    );
    assert!(eventually(WAIT, || assigned(&b) > 0).await, "the second member got partitions");
    // A's write is answered, A resumes, and both finish the first batch.
    let done = eventually(WAIT, || {
        a.stats().enriched + b.stats().enriched >= first.len() as u64 && a.shared().in_flight() == 0
    })
    .await;
    assert!(done, "A resumed and both members worked through the first batch");
    assert!(!paused(&a), "A's intake resumed before the partitions come back");
    // B leaves: its partitions go back to A, which must fetch them again.
    b.shutdown().await.unwrap();
    assert!(eventually(WAIT, || assigned(&a) == PARTITIONS as usize).await, "A owns every partition again");
    fx.produce_articles(&second);
    assert_all_committed_while_running(&fx).await;
    let want: BTreeSet<String> = all_ids(&first).into_iter().chain(all_ids(&second)).collect();
    let mut got = BTreeSet::new();
    let complete = eventually(WAIT, || {
        got = ids_of(&fx.read(OUTPUT, usize::MAX, Duration::from_secs(2))).0;
        got.is_superset(&want)
    })
    .await;
    assert!(complete, "missing: {:?}", want.difference(&got).take(5).collect::<Vec<_>>());
    a.shutdown().await.unwrap();
}

/// Starts a worker with `settings` on 100 articles, waits until they are enriched (and, with
/// `committed`, committed), has librdkafka stop fetching partition 1 behind the worker's back,
/// then produces 200 more. Returns the worker and both batches.
async fn worker_with_a_lost_resume(
    fx: &Fixture,
    settings: &news_enricher::config::Settings,
    prefix: &str,
    committed: bool,
) -> (Worker, Vec<(String, String)>, Vec<(String, String)>) {
    let first = synthetic(&format!("{prefix}1"), 100);
    let second = synthetic(&format!("{prefix}2"), 200);
    fx.produce_articles(&first);
    let worker = Worker::start(settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert!(eventually(WAIT, || worker.stats().enriched == 100).await, "the first batch was enriched");
    if committed {
        assert_all_committed_while_running(fx).await;
    }
    worker.lose_resume_of(INPUT, 1);
    fx.produce_articles(&second);
    (worker, first, second)
}

/// A partition librdkafka stopped fetching behind the worker's back (a resume lost in one of
/// librdkafka's pause/resume races around rebalances) is found, because records wait past its
/// position while it does not move, and its fetcher is restarted: nothing is left behind, and
/// the restart is counted and warned about. Without the check the partition is never fetched
/// again and librdkafka's lag for it stays at zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_librdkafka_stopped_fetching_is_found_and_restarted() {
    let fx = Fixture::new("lost-resume");
    let (worker, first, second) = worker_with_a_lost_resume(&fx, &fx.settings, "lr", true).await;
    assert_all_committed_while_running(&fx).await;
    assert_eq!(worker.stats().fetch_restarts, 1, "{:?}", worker.stats());
    let text = worker.shared().stats.encode();
    assert!(text.contains("news_enricher_partitions_not_fetched_total{action=\"restarted\"} 1"), "{text}");
    let want: BTreeSet<String> = all_ids(&first).into_iter().chain(all_ids(&second)).collect();
    let (got, _) = ids_of(&fx.read(OUTPUT, usize::MAX, Duration::from_secs(3)));
    assert!(got.is_superset(&want), "missing: {:?}", want.difference(&got).take(5).collect::<Vec<_>>());
    worker.shutdown().await.unwrap();
}

/// With an eager assignor a partition cannot be taken out of the assignment alone, so one
/// librdkafka stopped fetching is reported (warning, `partitions_not_fetched_total{action=
/// "reported"}`) rather than restarted; the other partitions go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_eager_assignor_a_partition_not_fetched_is_reported() {
    let fx = Fixture::new("lost-resume-eager");
    let mut settings = fx.settings.clone();
    settings.kafka.properties.insert("partition.assignment.strategy".into(), "range".into());
    let (worker, _, _) = worker_with_a_lost_resume(&fx, &settings, "lre", false).await;
    assert!(eventually(WAIT, || worker.stats().fetch_stalls_reported == 1).await, "{:?}", worker.stats());
    let text = worker.shared().stats.encode();
    assert!(text.contains("news_enricher_partitions_not_fetched_total{action=\"reported\"} 1"), "{text}");
    assert_eq!(worker.stats().fetch_restarts, 0);
    let end = fx.end_offsets();
    let others_done = eventually(WAIT, || [0, 2, 3].iter().all(|p| fx.committed().get(p) == end.get(p))).await;
    assert!(others_done, "the other partitions go on: {:?} against {end:?}", fx.committed());
    assert!(fx.committed().get(&1) < end.get(&1), "partition 1 stays unfetched: {:?} against {end:?}", fx.committed());
    worker.shutdown().await.unwrap();
}

/// The group session timing out (the coordinator answers no heartbeat for longer than
/// `session.timeout.ms`, as with a frozen broker) takes the worker's partitions away: it says
/// so (warning, `rebalances{kind="lost"}`), is not ready while it rejoins instead of claiming
/// readiness with nothing assigned, and then carries on without loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_group_session_is_reported_and_rejoined_without_loss() {
    let fx = Fixture::new("session-lost");
    let first = synthetic("sl1", 100);
    let second = synthetic("sl2", 100);
    fx.produce_articles(&first);
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert!(eventually(WAIT, || worker.stats().enriched == 100).await, "the first batch was enriched");
    assert!(eventually(WAIT, || worker.shared().not_ready_reason().is_none()).await, "ready");
    // The rejoin is answered after 3 s, so that the state in between can be seen.
    fx.broker.delay_requests(1, RDKafkaApiKey::JoinGroup, 1, 3000);
    fx.broker.delay_requests(1, RDKafkaApiKey::Heartbeat, 1, 8000);
    let rejoining = eventually(Duration::from_secs(30), || {
        worker.shared().not_ready_reason().is_some_and(|r| r.starts_with("rejoining the consumer group"))
    })
    .await;
    assert!(rejoining, "not ready while rejoining: {:?}", worker.shared().not_ready_reason());
    assert!(eventually(WAIT, || worker.shared().not_ready_reason().is_none()).await, "ready again after rejoining");
    assert_eq!(worker.stats().rebalances.get("lost"), Some(&1));
    fx.produce_articles(&second);
    assert_all_committed_while_running(&fx).await;
    let want: BTreeSet<String> = all_ids(&first).into_iter().chain(all_ids(&second)).collect();
    let (got, _) = ids_of(&fx.read(OUTPUT, usize::MAX, Duration::from_secs(3)));
    assert!(got.is_superset(&want), "missing: {:?}", want.difference(&got).take(5).collect::<Vec<_>>());
    worker.shutdown().await.unwrap();
}

/// Retention (or a deletion of records) emptied a quiet partition past the group's committed
/// offset: librdkafka resets to the log start and finds nothing to read. The worker stores that
/// log start, so the commit catches up; before, the committed offset stayed behind for good,
/// and the group showed lag (to the worker's stall check, to lag-based autoscalers) until the
/// partition's next record, whether the worker was running or restarted.
///
/// The mock cluster empties a partition when one record batch is over its 5 MiB log limit:
/// appending it removes the older batches and moves the log start to the log end, past the big
/// batch itself, as if retention had deleted every record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_emptied_past_its_commit_gets_its_log_start_committed() {
    let mut fx = Fixture::new("emptied");
    // Commits seconds apart: the log start must stay stored until one comes (the position of
    // an idle partition, stored every second, is still its last article's).
    fx.settings.kafka.consumer_properties.insert("auto.commit.interval.ms".into(), "5000".into());
    let articles = synthetic("emptied", 40);
    fx.produce_articles(&articles);
    let partition = 0;
    let empty_the_partition = || {
        append_record_with_headers(&fx.bootstrap(), INPUT, partition, b"big", &vec![b'x'; 6 << 20], &[]);
        let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", fx.bootstrap()).create().unwrap();
        let (low, high) = consumer.fetch_watermarks(INPUT, partition, Duration::from_secs(5)).unwrap();
        assert_eq!(low, high, "premise: the partition's log is empty");
        assert!(fx.committed()[&partition] < low, "premise: the committed offset is behind the log start");
    };

    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert_eq!(ids_of(&fx.read(OUTPUT, articles.len(), WAIT)).0, all_ids(&articles));
    assert_all_committed_while_running(&fx).await;
    assert!(fx.committed()[&partition] > 0, "premise: the partition had articles");
    // While the worker runs: its position is that of its last article, behind the log start.
    empty_the_partition();
    assert_all_committed_while_running(&fx).await;
    worker.shutdown().await.unwrap();

    // After a restart: no article is read from the partition, so the worker has no position.
    empty_the_partition();
    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    assert_all_committed_while_running(&fx).await;
    let summary = worker.shutdown().await.unwrap();
    assert_eq!(summary.stats.consumed, 0, "nothing was left to read");
    assert_all_committed(&fx).await;
}

/// A dead letter the broker refuses with and without its payload cannot be written at all: a
/// compacted dead-letter topic refuses the keyless dead letter of a keyless input
/// (`INVALID_RECORD`) both times. The worker stops with an error naming the topic and commits
/// nothing past that input, so a restart (once the topic takes it) dead-letters it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_refused_even_without_its_payload_is_fatal_and_kept_for_a_restart() {
    let fx = Fixture::new("dlq-refused");
    fx.produce(&[(None, b"not json".to_vec())]);
    fx.broker.push_request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_RECORD; 2]);
    let result =
        news_enricher::pipeline::run(&fx.settings, &fx.bootstrap(), fx.enricher.clone(), std::future::pending()).await;
    match result {
        Err(WorkerError::Fatal(reason)) => {
            assert!(reason.contains("cannot write to the dead-letter topic news.dlq"), "{reason}")
        }
        other => panic!("expected a fatal error, got {other:?}"),
    }
    let committed: i64 = fx.committed().values().sum();
    let end: i64 = fx.end_offsets().values().sum();
    assert!(committed < end, "the input is not committed ({committed} of {end})");

    let worker = Worker::start(&fx.settings, &fx.bootstrap(), fx.enricher.clone()).unwrap();
    let dlq = fx.read(DLQ, 1, WAIT);
    assert_all_committed_while_running(&fx).await;
    worker.shutdown().await.unwrap();
    assert_eq!(dlq.len(), 1, "{dlq:#?}");
    assert_eq!(dlq[0].headers[headers::CLASS], "not_json");
    assert_eq!(dlq[0].payload, b"not json", "written whole once the topic takes it");
}
