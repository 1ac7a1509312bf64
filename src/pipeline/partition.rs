//! One task per assigned partition: enrich its messages in parallel, produce their records in
//! offset order (so per-key order is kept downstream), and store each input offset only once
//! every record for it — and for every lower offset — is acknowledged by the broker. Both stages
//! are `FuturesOrdered`, so completion is reported strictly in offset order: the stored offset is
//! a contiguous watermark by construction and never skips a gap.

use super::consumer::WorkerContext;
use super::output::{classify, deliver, is_retriable, DeliveryFailure, OutRecord};
use super::stats::Counted;
use super::{PartitionKey, Shared};
use crate::article::DecodeError;
use crate::config::Tombstones;
use futures::stream::{FuturesOrdered, StreamExt};
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::DeliveryFuture;
use rdkafka::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// Messages of one partition being enriched at once; more only adds memory, not speed.
const MAX_ENRICHING: usize = 64;

/// The outcome of enriching one input message.
struct Enriched {
    input: OwnedMessage,
    records: Vec<OutRecord>,
    /// For the statistics once the records are acknowledged; `None` for anything but an
    /// enriched article.
    counted: Option<Counted>,
}

/// Runs until the partition's sender is dropped (revoke, shutdown) and all its work is done.
pub(super) async fn run(
    shared: Arc<Shared>,
    consumer: Arc<BaseConsumer<WorkerContext>>,
    key: PartitionKey,
    generation: u64,
    mut input: UnboundedReceiver<OwnedMessage>,
) {
    let mut enriching = FuturesOrdered::new();
    let mut delivering = FuturesOrdered::new();
    let mut input_open = true;
    loop {
        tokio::select! {
            biased;
            Some((offset, bytes, result)) = delivering.next() => {
                let result: Result<(), String> = result;
                match result {
                    Ok(()) => shared.complete(&consumer, &key, generation, offset, bytes, true),
                    Err(fatal) => {
                        shared.fail(fatal);
                        shared.complete(&consumer, &key, generation, offset, bytes, false);
                    }
                }
            }
            Some(joined) = enriching.next() => {
                let enriched: Enriched = match joined {
                    Ok(e) => e,
                    Err(join_error) => {
                        // A panic in enrichment is a bug; stop rather than skip the message.
                        shared.fail(format!("enrichment task failed: {join_error}"));
                        continue;
                    }
                };
                let bytes = super::message_bytes(&enriched.input);
                if !shared.is_current(&key, generation) {
                    // Released with this message unfinished (the drain deadline passed): its
                    // next owner writes it, and a copy from here could land after that
                    // owner's newer records for the same key.
                    shared.complete(&consumer, &key, generation, enriched.input.offset(), bytes, false);
                    continue;
                }
                let pending = enqueue_all(&shared, enriched.records).await;
                let owner = Owner { key: key.clone(), generation };
                let delivered = await_deliveries(shared.clone(), owner, enriched.input, pending, enriched.counted);
                delivering.push_back(async move {
                    let (offset, result) = delivered.await;
                    (offset, bytes, result)
                });
            }
            msg = input.recv(), if input_open && enriching.len() < MAX_ENRICHING => match msg {
                Some(msg) => {
                    let shared = shared.clone();
                    enriching.push_back(tokio::spawn(async move { enrich(&shared, msg).await }));
                }
                None => input_open = false,
            },
            else => break,
        }
    }
}

/// Most headers a message may carry: far above what producers and tracing add (a handful), low
/// enough that passing them on, whose cost grows faster than their number when earlier error
/// headers are removed, stays cheap.
pub const MAX_HEADERS: usize = 1000;

/// What makes `input` too large besides its value, which decoding checks: more than
/// [`MAX_HEADERS`] headers, or key, headers and value over `max_bytes` together (the key and
/// headers are copied into the outputs and counted against the in-flight bound).
fn envelope_problem(input: &OwnedMessage, max_bytes: usize) -> Option<DecodeError> {
    use rdkafka::message::Headers;
    if input.payload().is_some_and(|p| p.len() > max_bytes) {
        return None; // decoding names the value as too large
    }
    let headers = input.headers();
    let count = headers.map_or(0, |h| h.count());
    if count > MAX_HEADERS {
        return Some(DecodeError::TooManyHeaders { count, limit: MAX_HEADERS });
    }
    let size = input.key().map_or(0, <[u8]>::len)
        + headers.map_or(0, super::record_headers::byte_size)
        + input.payload().map_or(0, <[u8]>::len);
    (size > max_bytes).then_some(DecodeError::EnvelopeTooLarge { size, limit: max_bytes })
}

/// Decodes and enriches one message. Async only for the remote models' wait, which is bounded
/// by their `timeout_ms` (so processing times include it when one is configured).
async fn enrich(shared: &Shared, input: OwnedMessage) -> Enriched {
    let started = std::time::Instant::now();
    if shared.processing == super::Processing::PassThrough {
        let records = vec![OutRecord {
            topic: shared.topics.output.clone(),
            key: input.key().map(Into::into),
            payload: input.payload().map(Into::into),
            headers: shared.topics.output_headers(&input),
            timestamp: shared.topics.output_timestamp_of(&input),
        }];
        return Enriched { input, records, counted: None };
    }
    let envelope = envelope_problem(&input, shared.decoding.max_bytes);
    // A key that can name an article: the only one a tombstone can delete.
    let article_key = crate::article::id_of_key(input.key()).is_some();
    if envelope.is_none() && input.payload().is_none() && article_key && shared.topics.tombstones == Tombstones::Forward
    {
        shared.stats.record_tombstone();
        let records = shared.topics.tombstone_records(&input);
        shared.stats.observe_processing(started.elapsed());
        return Enriched { input, records, counted: None };
    }
    let decoded = match (envelope, input.payload()) {
        (Some(error), _) => Err(error),
        (None, Some(payload)) => shared.decoding.decode(payload, input.key()),
        (None, None) if input.key().is_some() && !article_key => Err(DecodeError::NotJson {
            message: "the message has no value (a tombstone), and its key names no article (blank or not UTF-8)".into(),
        }),
        (None, None) => Err(DecodeError::NotJson { message: "the message has no value (a tombstone)".into() }),
    };
    let mut counted = None;
    let records = match decoded {
        Ok(raw) => {
            // Held until the remote classifier's tags are labelled too: one taxonomy per record,
            // also across a reload.
            let enricher = shared.enricher.get();
            let mut article = enricher.enrich(raw);
            // Remote models: with `[sentiment.remote]`, the article-level sentiment
            // comes from the remote model; with `[taxonomy.remote]`, the classifier's tags are
            // merged into the taxonomy's. Either keeps the built-in result (marked "builtin")
            // when its model is slow, failing or its breaker open. `apply` returns within the
            // configured timeouts and never fails, so this message is delayed at most that long
            // and never lost; the FuturesOrdered stages keep output order and the offset
            // watermark. It runs before routing and counting, which must see the
            // merged tags.
            if let Some(remote) = &shared.remote {
                remote.apply(&mut article, enricher.taxonomy()).await;
            }
            counted = Some(Counted::of(&article));
            shared.topics.enriched_records(&article, &input)
        }
        Err(error) => {
            shared.stats.record_dlq(error.class());
            if let Some(left_out) = shared.message_warnings.admit() {
                tracing::warn!(
                    topic = input.topic(), partition = input.partition(), offset = input.offset(),
                    reason = error.class(), error = %error, warnings_left_out = left_out,
                    "bad input sent to the dead-letter topic"
                );
            }
            vec![shared.topics.decode_failure(&input, &error)]
        }
    };
    shared.stats.observe_processing(started.elapsed());
    Enriched { input, records, counted }
}

/// A record handed to the producer, or refused by it outright.
enum Pending {
    Enqueued(OutRecord, DeliveryFuture),
    Refused(OutRecord, KafkaError),
}

/// Hands the records to the producer, in order. Waits (without blocking the thread) while the
/// producer's local queue is full; a record the producer refuses outright is kept as refused and
/// handled with the deliveries.
async fn enqueue_all(shared: &Shared, records: Vec<OutRecord>) -> Vec<Pending> {
    let mut pending = Vec::with_capacity(records.len());
    for record in records {
        loop {
            match shared.producer.send_result(record.to_future_record()) {
                Ok(future) => {
                    pending.push(Pending::Enqueued(record, future));
                    break;
                }
                Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => {
                    pending.push(Pending::Refused(record, e));
                    break;
                }
            }
        }
    }
    pending
}

/// The partition and assignment a message was read in (see [`Shared::is_current`]).
struct Owner {
    key: PartitionKey,
    generation: u64,
}

/// What became of one record handed to the producer: written, failed for good, or (its
/// partition released before a re-send) abandoned.
enum Retry {
    Delivered(OutRecord),
    Failed(OutRecord, DeliveryFailure),
    /// Not sent again: the partition was released meanwhile, and its next owner writes it.
    Abandoned,
}

/// Produces `record` again (after a retriable failure) and waits for it, unless its partition
/// was released meanwhile.
async fn redeliver(shared: &Shared, owner: &Owner, record: OutRecord) -> Retry {
    if !shared.is_current(&owner.key, owner.generation) {
        return Retry::Abandoned;
    }
    match deliver(&shared.producer, &record).await {
        Ok(()) => Retry::Delivered(record),
        Err(failure) => Retry::Failed(record, failure),
    }
}

/// Waits for every record of one input message. A record that can never be written sends the
/// input to the DLQ (with the reason), even when its other records were written; a fatal
/// failure is returned. An enriched article (`counted`) is counted once its enriched record is
/// written, so an input whose route copy alone was refused counts as enriched and dead-lettered.
async fn await_deliveries(
    shared: Arc<Shared>,
    owner: Owner,
    input: OwnedMessage,
    pending: Vec<Pending>,
    counted: Option<Counted>,
) -> (i64, Result<(), String>) {
    let offset = input.offset();
    let mut permanent: Option<String> = None;
    // Whether the enriched record itself was written (a route copy may still be refused).
    let mut published = false;
    for p in pending {
        let outcome = match p {
            Pending::Enqueued(record, future) => match future.await {
                Ok(Ok(_)) => Retry::Delivered(record),
                Ok(Err((e, _))) if is_retriable(&e) => redeliver(&shared, &owner, record).await,
                Ok(Err((e, _))) => {
                    let failure = classify(&e, &record);
                    Retry::Failed(record, failure)
                }
                Err(_canceled) => Retry::Failed(record, DeliveryFailure::Fatal("the producer shut down".into())),
            },
            Pending::Refused(record, e) if is_retriable(&e) => redeliver(&shared, &owner, record).await,
            Pending::Refused(record, e) => {
                let failure = classify(&e, &record);
                Retry::Failed(record, failure)
            }
        };
        match outcome {
            // The input's offset is not stored (its partition is no longer this worker's).
            Retry::Abandoned => return (offset, Ok(())),
            Retry::Delivered(record) => {
                published |= *record.topic == *shared.topics.output;
                shared.stats.record_produced(&record.topic);
            }
            Retry::Failed(record, DeliveryFailure::Permanent(reason)) => {
                if *record.topic == *shared.topics.dlq {
                    // The input's own dead letter (a decode failure) was refused.
                    if let Err(fatal) = dead_letter_without_payload(&shared, &input, &record, &reason).await {
                        return (offset, Err(fatal));
                    }
                    continue;
                }
                if let Some(left_out) = shared.message_warnings.admit() {
                    tracing::warn!(
                        topic = input.topic(), partition = input.partition(), offset,
                        output_topic = %record.topic, reason = %reason, warnings_left_out = left_out,
                        "output record rejected by the broker; sending the input to the dead-letter topic"
                    );
                }
                permanent.get_or_insert(format!("cannot write to {}: {reason}", record.topic));
            }
            Retry::Failed(record, DeliveryFailure::Fatal(reason)) => {
                return (offset, Err(format!("cannot write to {}: {reason}", record.topic)));
            }
        }
    }
    if let Some(counted) = counted.filter(|_| published) {
        shared.stats.record_enriched(&counted);
    }
    if permanent.is_some() && !shared.is_current(&owner.key, owner.generation) {
        return (offset, Ok(())); // its next owner dead-letters it
    }
    if let Some(reason) = permanent {
        shared.stats.record_dlq(super::stats::PRODUCE_FAILED);
        let record = shared.topics.dlq_record(&input, "produce", super::stats::PRODUCE_FAILED, &reason);
        match deliver(&shared.producer, &record).await {
            Ok(()) => shared.stats.record_produced(&record.topic),
            Err(DeliveryFailure::Permanent(refused)) => {
                if let Err(fatal) = dead_letter_without_payload(&shared, &input, &record, &refused).await {
                    return (offset, Err(fatal));
                }
            }
            Err(failure) => return (offset, Err(format!("cannot write to the dead-letter topic: {failure:?}"))),
        }
    }
    (offset, Ok(()))
}

/// Writes `dead_letter` without the input's bytes after it was refused for `reason` (see
/// [`OutRecord::without_payload`]). Failing that, nothing can be dead-lettered: the error is fatal.
async fn dead_letter_without_payload(
    shared: &Shared,
    input: &OwnedMessage,
    dead_letter: &OutRecord,
    reason: &str,
) -> Result<(), String> {
    if let Some(left_out) = shared.message_warnings.admit() {
        tracing::warn!(
            topic = input.topic(), partition = input.partition(), offset = input.offset(),
            dlq_topic = %dead_letter.topic, reason = %reason, warnings_left_out = left_out,
            "dead letter refused; writing it without the input's bytes"
        );
    }
    let fallback = dead_letter.without_payload(reason);
    match deliver(&shared.producer, &fallback).await {
        Ok(()) => {
            shared.stats.record_produced(&fallback.topic);
            Ok(())
        }
        Err(failure) => Err(format!("cannot write to the dead-letter topic {}: {failure:?}", fallback.topic)),
    }
}
