//! What goes out: building the records for one input message (enriched record, per-tag route
//! copies, or a dead-letter record) and producing them with the idempotent producer, classifying
//! delivery failures into "this record can never be written" (→ DLQ) and fatal (→ exit).

use super::record_headers::{forwardable, is_error_header, raw_headers};
use crate::article::{DecodeError, EnrichedArticle};
use crate::config::{OutputTimestamp, Route, Settings};
use crate::enrich::text::prefix_within;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use std::sync::Arc;
use std::time::Duration;

/// DLQ header names, in the style of Kafka Connect's dead-letter headers so existing tooling
/// (and people) recognise them.
pub mod headers {
    pub const TOPIC: &str = "__connect.errors.topic";
    pub const PARTITION: &str = "__connect.errors.partition";
    pub const OFFSET: &str = "__connect.errors.offset";
    /// `decode` (the input was bad) or `produce` (the output could not be written).
    pub const STAGE: &str = "__connect.errors.stage";
    /// Machine-readable reason: `not_json`, `too_large`, … (see `DecodeError::class`), or
    /// `produce_failed`.
    pub const CLASS: &str = "__connect.errors.exception.class.name";
    pub const MESSAGE: &str = "__connect.errors.exception.message";
    /// The consumer group (Connect's connector name).
    pub const CONNECTOR: &str = "__connect.errors.connector.name";
    pub const WORKER_VERSION: &str = "__connect.errors.worker.version";
    /// Ours, not Connect's: present when the dead letter could not carry the input's bytes
    /// (see [`super::OutRecord::without_payload`]); says how many bytes were left out and why.
    pub const PAYLOAD_OMITTED: &str = "news_enricher.errors.payload.omitted";

    /// Prefixes of the headers above. An input's own headers with these names (a dead letter
    /// replayed into the input topic) are never passed on, so that a record's error headers
    /// always describe its own failure and an enriched record carries none.
    pub const ERROR_PREFIXES: [&str; 2] = ["__connect.errors.", "news_enricher.errors."];

    /// Where the input of an enriched record, route copy or tombstone was (`kafka.source_headers`):
    /// the same in every copy written for one input, so re-processing after a crash is told apart
    /// from a new version of the article (which has the same key but another offset).
    pub const SOURCE_TOPIC: &str = "news_enricher.source.topic";
    pub const SOURCE_PARTITION: &str = "news_enricher.source.partition";
    pub const SOURCE_OFFSET: &str = "news_enricher.source.offset";
    /// Their prefix: an input's own headers with it (an enriched record enriched again) are
    /// replaced, never passed on beside this worker's.
    pub const SOURCE_PREFIX: &str = "news_enricher.source.";
}

/// A dead letter keeps the input's key when it falls back to [`OutRecord::without_payload`] only up
/// to this size: a key this long is as suspect as the payload.
const MAX_FALLBACK_KEY_BYTES: usize = 4096;

/// Longest error message a dead letter carries (in bytes, cut at a character boundary): the
/// message may quote the producer's data or a broker's reason, and the error headers must stay
/// small enough that the dead letter without its payload can always be written.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 1024;

/// `message` cut to [`MAX_ERROR_MESSAGE_BYTES`], with `…` where it was cut.
fn bounded_message(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= MAX_ERROR_MESSAGE_BYTES {
        return message.into();
    }
    format!("{}…", prefix_within(message, MAX_ERROR_MESSAGE_BYTES - '…'.len_utf8())).into()
}

/// One record to produce.
#[derive(Debug, Clone)]
pub struct OutRecord {
    pub topic: Arc<str>,
    pub key: Option<Arc<[u8]>>,
    /// `None` for a tombstone (a null value: "delete this key" on a compacted topic).
    pub payload: Option<Arc<[u8]>>,
    pub headers: Option<OwnedHeaders>,
    /// Milliseconds since the epoch; `None`: stamped by the producer when written.
    pub timestamp: Option<i64>,
}

impl OutRecord {
    /// The record in the producer's terms (borrowing its bytes).
    pub fn to_future_record(&self) -> FutureRecord<'_, [u8], [u8]> {
        let mut record = FutureRecord::to(&self.topic);
        if let Some(payload) = &self.payload {
            record = record.payload(&**payload);
        }
        if let Some(key) = &self.key {
            record = record.key(&**key);
        }
        if let Some(headers) = &self.headers {
            record = record.headers(headers.clone());
        }
        if let Some(timestamp) = self.timestamp {
            record = record.timestamp(timestamp);
        }
        record
    }

    /// This dead letter without the input's bytes, for when the producer or the broker refused it
    /// (`reason`): an input near the size limit makes a dead letter over it, and a dead letter
    /// that cannot be written would otherwise stop the worker on every restart. The headers
    /// still say where the input is, so it can be read again from its topic; a
    /// [`headers::PAYLOAD_OMITTED`] header says what was left out and why. The input's own
    /// headers are left out too (they may be what made it too large); only the error headers
    /// stay.
    pub fn without_payload(&self, reason: &str) -> OutRecord {
        let key_len = self.key.as_ref().map_or(0, |k| k.len());
        let keep_key = key_len <= MAX_FALLBACK_KEY_BYTES;
        let mut error_headers = OwnedHeaders::new();
        let mut input_headers = 0;
        for (name, value) in self.headers.iter().flat_map(raw_headers) {
            // Error headers are the worker's own, so their names are UTF-8.
            match std::str::from_utf8(name) {
                Ok(key) if is_error_header(name) => error_headers = error_headers.insert(Header { key, value }),
                _ => input_headers += 1,
            }
        }
        // A tombstone's dead letter has no value to leave out, and stays a null one.
        let mut omitted: Vec<String> = self.payload.iter().map(|p| format!("payload of {} bytes", p.len())).collect();
        if !keep_key {
            omitted.push(format!("key of {key_len} bytes"));
        }
        if input_headers > 0 {
            omitted.push(format!("{input_headers} input headers"));
        }
        let omitted = match omitted.split_last() {
            Some((last, [])) => format!("{last} omitted: {reason}"),
            Some((last, rest)) => format!("{} and {last} omitted: {reason}", rest.join(", ")),
            None => format!("nothing omitted (no value, key or input headers to leave out): {reason}"),
        };
        let headers = error_headers.insert(Header { key: headers::PAYLOAD_OMITTED, value: Some(&omitted) });
        OutRecord {
            topic: self.topic.clone(),
            key: if keep_key { self.key.clone() } else { None },
            payload: self.payload.as_ref().map(|_| Arc::from(&[][..])),
            headers: Some(headers),
            timestamp: self.timestamp,
        }
    }
}

/// Topics and routes, resolved once from settings.
#[derive(Debug)]
pub struct Topics {
    pub output: Arc<str>,
    pub dlq: Arc<str>,
    pub routes: Vec<(Route, Arc<str>)>,
    pub group_id: String,
    /// `kafka.forward_headers`: enriched records and route copies carry the input's headers.
    pub forward_headers: bool,
    /// `kafka.tombstones`.
    pub tombstones: crate::config::Tombstones,
    /// `kafka.output_timestamp`.
    pub output_timestamp: OutputTimestamp,
    /// `kafka.source_headers`: records written for an input (its dead letter aside, which has
    /// its own) carry [`headers::SOURCE_TOPIC`], [`headers::SOURCE_PARTITION`] and
    /// [`headers::SOURCE_OFFSET`].
    pub source_headers: bool,
}

impl Topics {
    pub fn from_settings(settings: &Settings) -> Self {
        Topics {
            output: settings.kafka.output_topic.as_str().into(),
            dlq: settings.kafka.dlq_topic.as_str().into(),
            routes: settings.routes.iter().map(|r| (r.clone(), r.topic.as_str().into())).collect(),
            group_id: settings.kafka.group_id.clone(),
            forward_headers: settings.kafka.forward_headers,
            tombstones: settings.kafka.tombstones,
            output_timestamp: settings.kafka.output_timestamp,
            source_headers: settings.kafka.source_headers,
        }
    }

    /// Every topic the worker writes to.
    pub fn all(&self) -> Vec<Arc<str>> {
        let mut all = vec![self.output.clone(), self.dlq.clone()];
        for (_, t) in &self.routes {
            if !all.contains(t) {
                all.push(t.clone());
            }
        }
        all
    }

    /// The enriched record of `input` and one copy per matching route, all keyed by the
    /// article id, with the input's headers when `kafka.forward_headers` is on.
    pub fn enriched_records(&self, article: &EnrichedArticle, input: &OwnedMessage) -> Vec<OutRecord> {
        let payload: Arc<[u8]> = article.to_json().into();
        let key: Arc<[u8]> = article.key().as_bytes().into();
        let headers = self.output_headers(input);
        let timestamp = self.output_timestamp_of(input);
        let mut out = vec![OutRecord {
            topic: self.output.clone(),
            key: Some(key.clone()),
            payload: Some(payload.clone()),
            headers: headers.clone(),
            timestamp,
        }];
        for (route, topic) in &self.routes {
            let matched = article.enrichment.tags.iter().any(|t| t.id == route.tag && t.score >= route.min_score);
            if matched && !out.iter().any(|r| r.topic == *topic) {
                out.push(OutRecord {
                    topic: topic.clone(),
                    key: Some(key.clone()),
                    payload: Some(payload.clone()),
                    headers: headers.clone(),
                    timestamp,
                });
            }
        }
        out
    }

    /// For a tombstone (`input` has a key and a null value): a tombstone with its key to the
    /// output topic and to every route topic, since any of them may hold a record of that key.
    pub fn tombstone_records(&self, input: &OwnedMessage) -> Vec<OutRecord> {
        let key: Option<Arc<[u8]>> = input.key().map(Into::into);
        let headers = self.output_headers(input);
        let timestamp = self.output_timestamp_of(input);
        let mut topics = vec![self.output.clone()];
        for (_, topic) in &self.routes {
            if !topics.contains(topic) {
                topics.push(topic.clone());
            }
        }
        topics
            .into_iter()
            .map(|topic| OutRecord { topic, key: key.clone(), payload: None, headers: headers.clone(), timestamp })
            .collect()
    }

    /// The headers of records written for `input` other than its dead letter: its own (when
    /// forwarded), then where it was (when `kafka.source_headers` is on).
    pub fn output_headers(&self, input: &OwnedMessage) -> Option<OwnedHeaders> {
        let forwarded =
            input.headers().filter(|_| self.forward_headers).and_then(|h| forwardable(h, self.source_headers));
        if !self.source_headers {
            return forwarded;
        }
        let (partition, offset) = (input.partition().to_string(), input.offset().to_string());
        let headers = forwarded
            .unwrap_or_else(|| OwnedHeaders::new_with_capacity(3))
            .insert(Header { key: headers::SOURCE_TOPIC, value: Some(input.topic()) })
            .insert(Header { key: headers::SOURCE_PARTITION, value: Some(&partition) })
            .insert(Header { key: headers::SOURCE_OFFSET, value: Some(&offset) });
        Some(headers)
    }

    /// The timestamp of records written for `input` other than its dead letter.
    pub fn output_timestamp_of(&self, input: &OwnedMessage) -> Option<i64> {
        match self.output_timestamp {
            OutputTimestamp::Write => None,
            OutputTimestamp::Input => input.timestamp().to_millis(),
        }
    }

    /// The dead-letter record for `input`: its original bytes, key and headers, unchanged,
    /// followed by the error headers (as Kafka Connect writes them). It is stamped when
    /// written, whatever `kafka.output_timestamp` says, so the dead-letter topic's retention
    /// counts from the failure.
    pub fn dlq_record(&self, input: &OwnedMessage, stage: &str, class: &str, message: &str) -> OutRecord {
        let partition = input.partition().to_string();
        let offset = input.offset().to_string();
        let headers = input
            .headers()
            .and_then(|h| forwardable(h, false))
            .unwrap_or_default()
            .insert(Header { key: headers::TOPIC, value: Some(input.topic()) })
            .insert(Header { key: headers::PARTITION, value: Some(&partition) })
            .insert(Header { key: headers::OFFSET, value: Some(&offset) })
            .insert(Header { key: headers::STAGE, value: Some(stage) })
            .insert(Header { key: headers::CLASS, value: Some(class) })
            .insert(Header { key: headers::MESSAGE, value: Some(&*bounded_message(message)) })
            .insert(Header { key: headers::CONNECTOR, value: Some(&self.group_id) })
            .insert(Header { key: headers::WORKER_VERSION, value: Some(env!("CARGO_PKG_VERSION")) });
        OutRecord {
            topic: self.dlq.clone(),
            key: input.key().map(Into::into),
            payload: input.payload().map(Into::into),
            headers: Some(headers),
            timestamp: None,
        }
    }

    pub fn decode_failure(&self, input: &OwnedMessage, error: &DecodeError) -> OutRecord {
        self.dlq_record(input, "decode", error.class(), &error.to_string())
    }
}

/// How a failed delivery is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// This record can never be written (too large, its timestamp or contents rejected as
    /// invalid): dead-letter the input.
    Permanent(String),
    /// Nothing can be written (authentication, authorisation, fenced producer, unknown topic):
    /// stop without committing so a restart loses nothing.
    Fatal(String),
}

/// Classifies a producer error for `record` that librdkafka did not retry away.
pub fn classify(error: &KafkaError, record: &OutRecord) -> DeliveryFailure {
    use RDKafkaErrorCode as C;
    match error.rdkafka_error_code() {
        Some(C::MessageSizeTooLarge | C::InvalidMessageSize | C::InvalidMessage | C::InvalidRecord | C::BadMessage) => {
            DeliveryFailure::Permanent(error.to_string())
        }
        // A topic's `message.timestamp.before.max.ms` (or `after.max.ms`, or before Kafka 3.6
        // `difference.max.ms`) refusing the input's timestamp this record carries
        // (`kafka.output_timestamp = "input"`) is about this record. Refusing the producer's
        // own "now" means this host's clock is off, which every record would meet: fatal, or
        // every input would be dead-lettered.
        Some(C::InvalidTimestamp) if record.timestamp.is_some() => DeliveryFailure::Permanent(error.to_string()),
        Some(C::InvalidTimestamp) => DeliveryFailure::Fatal(format!(
            "{error} (the broker refused the time this host stamped the record with: check its clock)"
        )),
        _ => DeliveryFailure::Fatal(error.to_string()),
    }
}

/// Whether an error means "try the same record again": the local queue is full, a message
/// timed out (only at shutdown: `message.timeout.ms` is 0), or the broker refused the batch
/// because of another record in it (`_INVALID_DIFFERENT_RECORD`: Kafka names the records it
/// refuses, librdkafka fails the others of the batch with this code). A record sent again goes
/// behind the records of its partition written meanwhile.
pub fn is_retriable(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(error.rdkafka_error_code(), Some(C::MessageTimedOut | C::QueueFull | C::InvalidDifferentRecord))
}

/// Produces `record` and waits for the broker's acknowledgement. Retries what can be retried
/// (queue full, timeouts) with a capped backoff; returns the failure otherwise.
pub async fn deliver(
    producer: &FutureProducer<super::events::ProducerEvents>,
    record: &OutRecord,
) -> Result<(), DeliveryFailure> {
    let mut backoff = Duration::from_millis(10);
    loop {
        let error = match producer.send_result(record.to_future_record()) {
            Ok(delivery) => match delivery.await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err((e, _))) => e,
                Err(_canceled) => return Err(DeliveryFailure::Fatal("producer was shut down".into())),
            },
            Err((e, _)) => e,
        };
        if !is_retriable(&error) {
            return Err(classify(&error, record));
        }
        tracing::debug!(topic = %record.topic, %error, "retrying delivery");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers;
    use rdkafka::Timestamp;

    fn topics() -> Topics {
        let s = Settings {
            routes: vec![Route { tag: "taiwan".into(), topic: "news.tag.taiwan".into(), min_score: 0.5 }],
            ..Settings::default()
        };
        Topics::from_settings(&s)
    }

    #[test]
    fn dlq_record_keeps_bytes_and_key_and_names_the_error() {
        let input = OwnedMessage::new(
            Some(b"\xffraw".to_vec()),
            Some(b"k".to_vec()),
            "news.raw".into(),
            Timestamp::NotAvailable,
            3,
            42,
            None,
        );
        let r = topics().dlq_record(&input, "decode", "not_utf8", "message is not valid UTF-8");
        assert_eq!(r.payload.as_deref(), Some(&b"\xffraw"[..]));
        assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(&*r.topic, "news.dlq");
        let h = r.headers.unwrap();
        let get = |name: &str| {
            h.iter().find(|x| x.key == name).and_then(|x| x.value).map(|v| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(get(headers::TOPIC).as_deref(), Some("news.raw"));
        assert_eq!(get(headers::PARTITION).as_deref(), Some("3"));
        assert_eq!(get(headers::OFFSET).as_deref(), Some("42"));
        assert_eq!(get(headers::CLASS).as_deref(), Some("not_utf8"));
        assert_eq!(get(headers::WORKER_VERSION).as_deref(), Some(env!("CARGO_PKG_VERSION")));
    }

    /// An input that carries a trace context, a null-valued header, a name given twice and the
    /// error headers of an earlier dead-lettering (a replayed dead letter).
    fn input_with_headers() -> OwnedMessage {
        let headers = OwnedHeaders::new()
            .insert(Header { key: "traceparent", value: Some("00-4bf92f3577b34da6-00f067aa0ba902b7-01") })
            .insert(Header { key: headers::CLASS, value: Some("not_json") })
            .insert(Header { key: "tombstone", value: None::<&str> })
            .insert(Header { key: "source", value: Some("wire") })
            .insert(Header { key: headers::PAYLOAD_OMITTED, value: Some("payload of 9 bytes omitted") })
            .insert(Header { key: "source", value: Some("desk") });
        OwnedMessage::new(
            Some(b"{}".to_vec()),
            Some(b"k".to_vec()),
            "news.raw".into(),
            Timestamp::NotAvailable,
            0,
            7,
            Some(headers),
        )
    }

    fn header_list(headers: &OwnedHeaders) -> Vec<(String, Option<String>)> {
        raw_headers(headers)
            .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.map(|v| String::from_utf8_lossy(v).into_owned())))
            .collect()
    }

    fn forwarded_list() -> Vec<(String, Option<String>)> {
        [
            ("traceparent", Some("00-4bf92f3577b34da6-00f067aa0ba902b7-01")),
            ("tombstone", None),
            ("source", Some("wire")),
            ("source", Some("desk")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
        .collect()
    }

    #[test]
    fn output_records_carry_the_input_headers_less_stale_error_headers() {
        let input = input_with_headers();
        let topics = || Topics { source_headers: false, ..topics() };
        let forwarded = topics().output_headers(&input).expect("headers forwarded by default");
        assert_eq!(header_list(&forwarded), forwarded_list());

        let off = Topics { forward_headers: false, ..topics() };
        assert!(off.output_headers(&input).is_none());
        let only_errors = OwnedMessage::new(
            Some(b"{}".to_vec()),
            None,
            "news.raw".into(),
            Timestamp::NotAvailable,
            0,
            8,
            Some(OwnedHeaders::new().insert(Header { key: headers::STAGE, value: Some("decode") })),
        );
        assert!(topics().output_headers(&only_errors).is_none(), "nothing left to forward");
    }

    #[test]
    fn output_records_say_where_their_input_was_after_its_headers() {
        let stale = OwnedHeaders::new()
            .insert(Header { key: "traceparent", value: Some("00-4bf92f3577b34da6-00f067aa0ba902b7-01") })
            .insert(Header { key: headers::SOURCE_OFFSET, value: Some("3") });
        let input = OwnedMessage::new(
            Some(b"{}".to_vec()),
            None,
            "news.raw".into(),
            Timestamp::NotAvailable,
            2,
            9,
            Some(stale),
        );
        let source = |partition: &str, offset: &str| {
            [
                (headers::SOURCE_TOPIC, "news.raw"),
                (headers::SOURCE_PARTITION, partition),
                (headers::SOURCE_OFFSET, offset),
            ]
            .map(|(k, v)| (k.to_owned(), Some(v.to_owned())))
        };
        let list = header_list(&topics().output_headers(&input).unwrap());
        assert_eq!(list[0].0, "traceparent");
        assert_eq!(list[1..], source("2", "9"), "the earlier input's offset is replaced");
        let not_forwarded = Topics { forward_headers: false, ..topics() };
        assert_eq!(header_list(&not_forwarded.output_headers(&input).unwrap()), source("2", "9"));
        let bare = OwnedMessage::new(None, None, "news.raw".into(), Timestamp::NotAvailable, 0, 41, None);
        assert_eq!(header_list(&topics().output_headers(&bare).unwrap()), source("0", "41"));
        let off = Topics { forward_headers: false, source_headers: false, ..topics() };
        assert!(off.output_headers(&input).is_none());
        // Without source headers of its own, the worker passes the input's on as they are.
        let forwarding = Topics { source_headers: false, ..topics() };
        let list = header_list(&forwarding.output_headers(&input).unwrap());
        assert_eq!(list[1], (headers::SOURCE_OFFSET.to_owned(), Some("3".to_owned())));
        // A dead letter keeps the input's headers unchanged, these too.
        let dead = header_list(topics().dlq_record(&input, "decode", "not_json", "x").headers.as_ref().unwrap());
        assert_eq!(dead[1], (headers::SOURCE_OFFSET.to_owned(), Some("3".to_owned())), "{dead:?}");
    }

    #[test]
    fn dlq_record_keeps_the_input_headers_before_its_own_error_headers() {
        // Even with forwarding off: a dead letter is the input, for replay.
        let topics = Topics { forward_headers: false, ..topics() };
        let r = topics.dlq_record(&input_with_headers(), "decode", "missing_id", "no id");
        let list = header_list(r.headers.as_ref().unwrap());
        assert_eq!(list[..4], forwarded_list()[..]);
        let errors: Vec<&str> = list[4..].iter().map(|(k, _)| k.as_str()).collect();
        assert!(errors.iter().all(|k| is_error_header(k.as_bytes())), "{errors:?}");
        assert_eq!(list.iter().filter(|(k, _)| k == headers::CLASS).count(), 1, "only this failure's class");
        assert!(!list.iter().any(|(k, _)| k == headers::PAYLOAD_OMITTED), "the stale omission note is gone");
        assert_eq!(list.iter().find(|(k, _)| k == headers::CLASS).unwrap().1.as_deref(), Some("missing_id"));

        // The fallback without payload leaves the input's headers out too.
        let fallback = r.without_payload("Broker: Message size too large");
        let list = header_list(fallback.headers.as_ref().unwrap());
        assert!(list.iter().all(|(k, _)| is_error_header(k.as_bytes())), "{list:?}");
        assert_eq!(list.len(), errors.len() + 1);
        let omitted = list.last().unwrap().1.clone().unwrap();
        assert_eq!(omitted, "payload of 2 bytes and 4 input headers omitted: Broker: Message size too large");
        let long_key = OutRecord { key: Some(vec![b'k'; MAX_FALLBACK_KEY_BYTES + 1].into()), ..r };
        let omitted = header_list(long_key.without_payload("too large").headers.as_ref().unwrap()).pop().unwrap().1;
        assert_eq!(
            omitted.as_deref(),
            Some("payload of 2 bytes, key of 4097 bytes and 4 input headers omitted: too large")
        );
        // A tombstone's dead letter stays a tombstone: no value, none said to be left out.
        let tombstone = OutRecord { payload: None, ..long_key };
        let fallback = tombstone.without_payload("too large");
        assert_eq!(fallback.payload, None);
        let omitted = header_list(fallback.headers.as_ref().unwrap()).pop().unwrap().1;
        assert_eq!(omitted.as_deref(), Some("key of 4097 bytes and 4 input headers omitted: too large"));
    }

    #[test]
    fn dead_letter_error_messages_are_bounded() {
        assert_eq!(bounded_message("short"), "short");
        let long = "é".repeat(MAX_ERROR_MESSAGE_BYTES);
        let cut = bounded_message(&long);
        assert!(cut.len() <= MAX_ERROR_MESSAGE_BYTES && cut.ends_with('…'), "{}", cut.len());
        let r = topics().dlq_record(&input_with_headers(), "produce", "produce_failed", &long);
        let list = header_list(r.headers.as_ref().unwrap());
        let message = list.iter().find(|(k, _)| k == headers::MESSAGE).unwrap().1.clone().unwrap();
        assert_eq!(message, cut);
    }

    #[test]
    fn classifies_errors() {
        let record =
            OutRecord { topic: "news.enriched".into(), key: None, payload: None, headers: None, timestamp: None };
        let error = |code| KafkaError::MessageProduction(code);
        let too_large = error(RDKafkaErrorCode::MessageSizeTooLarge);
        assert!(matches!(classify(&too_large, &record), DeliveryFailure::Permanent(_)));
        let auth = error(RDKafkaErrorCode::TopicAuthorizationFailed);
        assert!(matches!(classify(&auth, &record), DeliveryFailure::Fatal(_)));
        assert!(is_retriable(&error(RDKafkaErrorCode::MessageTimedOut)));
        // Refused for another record of its batch: this one is sent again.
        assert!(is_retriable(&error(RDKafkaErrorCode::InvalidDifferentRecord)));
        // A refused timestamp is the record's own when it carries its input's, else the clock's.
        let refused = error(RDKafkaErrorCode::InvalidTimestamp);
        let stamped = OutRecord { timestamp: Some(1_577_836_800_000), ..record.clone() };
        assert!(matches!(classify(&refused, &stamped), DeliveryFailure::Permanent(_)));
        match classify(&refused, &record) {
            DeliveryFailure::Fatal(reason) => assert!(reason.contains("check its clock"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
