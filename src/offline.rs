//! `news-enricher enrich`: JSON Lines raw articles in (files or stdin), JSON Lines enriched records
//! out on stdout, in input order, using every core, in constant memory.
//!
//! A reader thread cuts the input into batches of lines; worker threads enrich batches; the
//! calling thread writes results in sequence order. A fixed pool of batch permits bounds the
//! batches that exist at once (queued, in work, or waiting to be written), and a batch closes at
//! 64 lines or 1 MiB of input, so memory stays constant (a few MiB per thread) whatever the
//! input size, the line sizes and however uneven the work. Lines longer than the message
//! size limit are skipped while being read, never buffered whole.
//!
//! With remote models configured (`[sentiment.remote]`, `[taxonomy.remote]`), each worker
//! thread, after enriching a batch, hands all its articles to them at once (so they share
//! requests) and waits — at most the models' `timeout_ms` — on a small runtime owned by the
//! run; records are marked as in the worker (`sentiment.source`, `tags_source`). Order, the
//! memory bound and the per-line error behaviour are unchanged: bad lines never reach a model,
//! and a slow or failing model only delays a batch by its timeout (then by nothing once its
//! breaker is open), with the built-in results kept.

use crate::article::{DecodeError, Decoding, EnrichedArticle};
use crate::enrich::Enricher;
use crate::remote::Remote;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;

/// Lines per batch: large enough to amortise channel traffic, small enough to spread work.
const BATCH_LINES: usize = 64;
/// Bytes of input per batch: a batch closes at [`BATCH_LINES`] lines or once it holds this much,
/// so the memory bound is permits × (this + one line), not permits × 64 × the line limit
/// (≈ 0.5 GB per thread with 1 MiB lines). News articles average a few KB: 64 of them are far
/// below it, and batching is unchanged for them.
const BATCH_BYTES: usize = 1 << 20;
/// Batch permits per worker thread.
const PERMITS_PER_THREAD: usize = 4;

/// Outcome of an `enrich` or `explain` run: its good and bad input lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Lines enriched (`enrich`) or explained (`explain`).
    pub good: u64,
    pub bad: u64,
}

impl Summary {
    /// Exit status: 0 when every line was good, 2 when some were not.
    pub fn exit_code(&self) -> i32 {
        if self.bad == 0 {
            0
        } else {
            2
        }
    }
}

/// Where a line came from, for error messages (`file:line`).
struct Line {
    source: usize,
    number: u64,
    /// `Err(size)` when the line was over the limit and skipped.
    bytes: Result<Vec<u8>, usize>,
}

type Batch = (u64, Vec<Line>);
/// (source index, line number, the enriched record or why the line was bad)
type LineResult = (usize, u64, Result<Vec<u8>, DecodeError>);
type Done = (u64, Vec<LineResult>);

/// The inputs of a run, all opened before any output: a file that cannot be opened is a usage
/// error reported before the first record.
pub struct Inputs {
    names: Vec<String>,
    readers: Vec<Box<dyn Read + Send>>,
}

impl Inputs {
    /// Opens `paths` (stdin when empty or `-`); the error names the file.
    pub fn open(paths: &[PathBuf]) -> io::Result<Self> {
        let mut inputs = Inputs { names: Vec::new(), readers: Vec::new() };
        if paths.is_empty() {
            inputs.push_stdin();
        }
        for path in paths {
            if path.as_os_str() == "-" {
                inputs.push_stdin();
            } else {
                let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
                let file = std::fs::File::open(path).map_err(named)?;
                // Opening a directory succeeds on Unix; reading it fails only later, mid-run.
                if file.metadata().map_err(named)?.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::IsADirectory,
                        format!("{}: is a directory, not a file", path.display()),
                    ));
                }
                inputs.names.push(path.display().to_string());
                inputs.readers.push(Box::new(file));
            }
        }
        Ok(inputs)
    }

    /// The inputs' names (a path, or `<stdin>`) and readers, in order.
    pub fn into_parts(self) -> (Vec<String>, Vec<Box<dyn Read + Send>>) {
        (self.names, self.readers)
    }

    fn push_stdin(&mut self) {
        self.names.push("<stdin>".into());
        self.readers.push(Box::new(io::stdin()));
    }
}

/// Runs the `enrich` command over `inputs`, writing records to `out` and one line per bad input
/// line to `errors`. `remote`: the remote models to apply to every enriched article, if any.
pub fn run(
    enricher: &Enricher,
    remote: Option<&Remote>,
    inputs: Inputs,
    decoding: Decoding,
    threads: usize,
    out: &mut dyn Write,
    errors: &mut dyn Write,
) -> io::Result<Summary> {
    let Inputs { names, readers } = inputs;
    let threads = threads.max(1);
    let permits = threads * PERMITS_PER_THREAD;
    let (permit_tx, permit_rx) = bounded::<()>(permits);
    for _ in 0..permits {
        permit_tx.send(()).expect("channel has room for every permit");
    }
    let (batch_tx, batch_rx) = bounded::<Batch>(permits);
    let (done_tx, done_rx) = bounded::<Done>(permits);
    // The remote models' waits need a tokio timer; their requests run on their own I/O threads,
    // so one runtime thread is plenty. Worker threads enter it with `Handle::block_on`.
    let runtime = match remote {
        Some(_) => Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("enrich-remote")
                .enable_all()
                .build()?,
        ),
        None => None,
    };
    let remote = remote.zip(runtime.as_ref().map(|rt| rt.handle().clone()));

    std::thread::scope(|scope| {
        let names = &names;
        let reader = scope.spawn(move || read_batches(readers, names, decoding.max_bytes, &permit_rx, &batch_tx));
        for _ in 0..threads {
            let batch_rx = batch_rx.clone();
            let done_tx = done_tx.clone();
            let remote = remote.clone();
            scope.spawn(move || enrich_batches(enricher, remote, decoding, &batch_rx, &done_tx));
        }
        drop(done_tx);
        drop(batch_rx);
        let written = write_in_order(&done_rx, &permit_tx, names, out, errors);
        // On a write error (e.g. a closed pipe) stop the reader by dropping the receivers.
        drop(done_rx);
        drop(permit_tx);
        let read = reader.join().expect("reader thread panicked");
        let summary = written?;
        read?;
        Ok(summary)
    })
}

fn read_batches(
    readers: Vec<Box<dyn Read + Send>>,
    names: &[String],
    max_bytes: usize,
    permits: &Receiver<()>,
    batches: &Sender<Batch>,
) -> io::Result<()> {
    let mut seq = 0u64;
    let mut batch = Vec::with_capacity(BATCH_LINES);
    let mut batch_bytes = 0usize;
    let mut send = |batch: &mut Vec<Line>| -> bool {
        if permits.recv().is_err() {
            return false;
        }
        let full = std::mem::replace(batch, Vec::with_capacity(BATCH_LINES));
        let ok = batches.send((seq, full)).is_ok();
        seq += 1;
        ok
    };
    for (source, reader) in readers.into_iter().enumerate() {
        for line in NumberedLines::new(reader, &names[source], max_bytes) {
            let (number, bytes) = line?;
            batch_bytes += bytes.as_ref().map_or(0, Vec::len);
            batch.push(Line { source, number, bytes });
            if batch.len() == BATCH_LINES || batch_bytes >= BATCH_BYTES {
                batch_bytes = 0;
                if !send(&mut batch) {
                    return Ok(());
                }
            }
        }
    }
    if !batch.is_empty() {
        send(&mut batch);
    }
    Ok(())
}

/// The non-blank lines of one JSON Lines input, numbered from 1 (blank lines, empty or JSON white
/// space only, count in the numbering but are skipped: they separate nothing in JSON Lines). Each item is the line's
/// number and its bytes, or the size of a line over the limit (consumed, not kept); a read
/// error names the input.
pub(crate) struct NumberedLines<'n, R> {
    reader: BufReader<R>,
    name: &'n str,
    number: u64,
    max_bytes: usize,
}

impl<'n, R: Read> NumberedLines<'n, R> {
    pub(crate) fn new(reader: R, name: &'n str, max_bytes: usize) -> Self {
        NumberedLines { reader: BufReader::with_capacity(256 * 1024, reader), name, number: 0, max_bytes }
    }
}

impl<R: Read> Iterator for NumberedLines<'_, R> {
    type Item = io::Result<(u64, Result<Vec<u8>, usize>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let mut buf = Vec::new();
            let read = match read_line_limited(&mut self.reader, &mut buf, self.max_bytes) {
                Ok(read) => read?,
                Err(e) => return Some(Err(io::Error::new(e.kind(), format!("{}: {e}", self.name)))),
            };
            self.number += 1;
            // JSON's white space only: a form feed is no blank, and the line gets its report.
            if read.is_ok() && buf.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
                continue;
            }
            return Some(Ok((self.number, read.map(|()| buf))));
        }
    }
}

/// Reads one line (without its `\n`/`\r\n`) into `buf`. Returns `None` at end of input,
/// `Some(Err(size))` when the line exceeds `limit` (its bytes are consumed, not kept).
fn read_line_limited(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<Result<(), usize>>> {
    let mut size = 0usize;
    let mut saw_any = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        saw_any = true;
        let (part, found_newline) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        size += part.len();
        if size <= limit + 1 {
            buf.extend_from_slice(part); // +1 leaves room for a trailing '\r'
        }
        let consumed = part.len() + usize::from(found_newline);
        reader.consume(consumed);
        if found_newline {
            break;
        }
    }
    if !saw_any {
        return Ok(None);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
        size -= 1;
    }
    if size > limit {
        buf.clear();
        return Ok(Some(Err(size)));
    }
    Ok(Some(Ok(())))
}

fn enrich_batches(
    enricher: &Enricher,
    remote: Option<(&Remote, tokio::runtime::Handle)>,
    decoding: Decoding,
    batches: &Receiver<Batch>,
    done: &Sender<Done>,
) {
    for (seq, lines) in batches {
        let mut enriched: Vec<(usize, u64, Result<EnrichedArticle, DecodeError>)> = lines
            .into_iter()
            .map(|line| {
                let result = match line.bytes {
                    Ok(bytes) => decoding.decode(&bytes, None).map(|raw| enricher.enrich(raw)),
                    Err(size) => Err(DecodeError::TooLarge { size, limit: decoding.max_bytes }),
                };
                (line.source, line.number, result)
            })
            .collect();
        if let Some((remote, runtime)) = &remote {
            // The whole batch at once: its articles share requests, and the batch waits for
            // the slowest answer (at most the timeout), not for the sum.
            let applying = enriched
                .iter_mut()
                .filter_map(|(_, _, r)| r.as_mut().ok())
                .map(|a| remote.apply(a, enricher.taxonomy()));
            runtime.block_on(futures::future::join_all(applying));
        }
        let results =
            enriched.into_iter().map(|(source, number, r)| (source, number, r.map(|a| a.to_json()))).collect();
        if done.send((seq, results)).is_err() {
            return;
        }
    }
}

fn write_in_order(
    done: &Receiver<Done>,
    permits: &Sender<()>,
    names: &[String],
    out: &mut dyn Write,
    errors: &mut dyn Write,
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    let mut next = 0u64;
    let mut waiting: BTreeMap<u64, Vec<LineResult>> = BTreeMap::new();
    for (seq, results) in done {
        waiting.insert(seq, results);
        while let Some(results) = waiting.remove(&next) {
            for (source, number, result) in results {
                match result {
                    Ok(json) => {
                        out.write_all(&json).and_then(|()| out.write_all(b"\n")).map_err(stdout_error)?;
                        summary.good += 1;
                    }
                    Err(e) => {
                        // A report that cannot be written is lost, not the run: the bad line is
                        // still counted, in the summary and the exit status.
                        let _ = writeln!(errors, "{}:{number}: {}: {e}", names[source], e.class());
                        summary.bad += 1;
                    }
                }
            }
            next += 1;
            let _ = permits.send(());
        }
    }
    out.flush().map_err(stdout_error)?;
    Ok(summary)
}

/// A write error of standard output, named as such (same kind, so a broken pipe is still one).
pub fn stdout_error(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("stdout: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_lines_skip_blank_lines_and_size_long_ones() {
        let input: &[u8] = b"{}\n\n \t\r\n\x0c\n0123456789abc\n{\"a\":1}";
        let lines: Vec<_> = NumberedLines::new(input, "in", 10).map(Result::unwrap).collect();
        assert_eq!(
            lines,
            [(1, Ok(b"{}".to_vec())), (4, Ok(b"\x0c".to_vec())), (5, Err(13)), (6, Ok(b"{\"a\":1}".to_vec()))]
        );
    }

    #[test]
    fn reads_lines_with_a_limit() {
        let mut input = io::Cursor::new(b"short\r\n0123456789abc\nlast".to_vec());
        let mut reader = BufReader::with_capacity(4, &mut input);
        let mut buf = Vec::new();
        assert_eq!(read_line_limited(&mut reader, &mut buf, 10).unwrap(), Some(Ok(())));
        assert_eq!(buf, b"short");
        buf.clear();
        assert_eq!(read_line_limited(&mut reader, &mut buf, 10).unwrap(), Some(Err(13)));
        assert!(buf.is_empty());
        assert_eq!(read_line_limited(&mut reader, &mut buf, 10).unwrap(), Some(Ok(())));
        assert_eq!(buf, b"last");
        buf.clear();
        assert_eq!(read_line_limited(&mut reader, &mut buf, 10).unwrap(), None);
    }
}
