//! The binary as a user runs it: `enrich`, `check-config`, configuration errors, `run` on the
//! embedded broker with SIGTERM, and `demo`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_news-enricher"));
    // Run from an empty directory: the binary must not depend on the checkout.
    let dir = std::env::temp_dir();
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("NEWS_ENRICHER_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn write_temp(contents: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(contents).unwrap();
    f
}

#[test]
fn enrich_writes_records_in_input_order() {
    let articles = common::corpus(500);
    let input: String = articles.iter().map(|(_, l)| format!("{l}\n")).collect();
    let file = write_temp(input.as_bytes());
    let out = bin().arg("enrich").arg(file.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = articles.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, expected);
}

#[test]
fn enrich_reports_bad_lines_with_file_and_line_and_exits_2() {
    let big = format!("{{\"id\":\"big\",\"body\":\"{}\"}}", "x".repeat(3000));
    let lines = [
        r#"{"id":"a","title":"Taiwan talks","body":"Officials met in Taipei."}"#,
        "not json",
        r#"{"title":"no id"}"#,
        "",
        big.as_str(),
        r#"{"id":"b","body":"Fentanyl seizures rose again."}"#,
        r#"{"id":"c","body":7}"#,
    ];
    let file = write_temp(lines.join("\n").as_bytes());
    let out = bin()
        .args(["enrich"])
        .arg(file.path())
        .env("NEWS_ENRICHER_LIMITS__MAX_MESSAGE_BYTES", "2048")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = stdout.lines().map(|l| if l.contains("\"id\":\"a\"") { "a" } else { "b" }).collect();
    assert_eq!(ids, ["a", "b"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let name = file.path().display().to_string();
    for expected in [
        format!("{name}:2: not_json:"),
        format!("{name}:3: missing_id:"),
        format!("{name}:5: too_large: message is {} bytes, over the limit of 2048 bytes", big.len()),
        format!("{name}:7: wrong_type: field `body` has the wrong type: expected string, found number"),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(stderr.contains("4 of 6 lines were bad"), "{stderr}");
}

#[test]
fn enrich_reads_stdin_and_takes_env_overrides() {
    let mut child = bin()
        .arg("enrich")
        .env("NEWS_ENRICHER_SENTIMENT__MODEL", "vader")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"id\":\"s1\",\"title\":\"Great news\",\"body\":\"A wonderful day.\"}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["enrichment"]["sentiment"]["model"], "vader");
    assert_eq!(v["enrichment"]["sentiment"]["label"], "positive");
}

#[test]
fn enrich_missing_file_is_an_error() {
    let out = bin().args(["enrich", "/nonexistent/input.jsonl"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/input.jsonl"));
}

#[test]
fn check_config_redacts_secrets() {
    let out = bin()
        .arg("check-config")
        .env("NEWS_ENRICHER_KAFKA__BROKERS", "kafka-1:9092,kafka-2:9092")
        .env("NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__PASSWORD", "hunter2-secret")
        .env("NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__USERNAME", "enricher")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(stdout.contains("\"sasl.password\" = \"<redacted>\""), "{stdout}");
    assert!(stdout.contains("\"sasl.username\" = \"enricher\""), "{stdout}");
    assert!(stdout.contains("kafka-1:9092,kafka-2:9092"), "{stdout}");
}

#[test]
fn invalid_configuration_exits_64_naming_the_key() {
    let out = bin().arg("check-config").env("NEWS_ENRICHER_KAFKA__OUTPUT_TOPIC", "").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Invalid configuration: kafka.output_topic: must not be empty"
    );

    let file = write_temp(b"[kafka]\nbrokerz = \"x\"\n");
    let out = bin().arg("run").arg("--config").arg(file.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("Invalid configuration:") && stderr.contains("brokerz"), "{stderr}");

    let typo_route = write_temp(b"[[routes]]\ntag = \"taiwn\"\ntopic = \"news.tag.taiwan\"\n");
    let out = bin().arg("check-config").arg("--config").arg(typo_route.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("Invalid configuration: routes[0].tag: unknown tag \"taiwn\""), "{stderr}");

    let bad_taxonomy = write_temp(b"version = \"1\"\n[[tag]]\nid = \"\"\n");
    let out = bin().arg("check-config").env("NEWS_ENRICHER_TAXONOMY__PATH", bad_taxonomy.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Invalid configuration: taxonomy:"));
}

/// `run` on the embedded broker: logs the bootstrap address, enriches what another client
/// produces there, and exits 0 on SIGTERM after draining.
#[test]
fn run_on_the_embedded_broker_and_stop_with_sigterm() {
    let mut child = bin()
        .arg("run")
        .env("NEWS_ENRICHER_LOG__FORMAT", "json")
        .env("NEWS_ENRICHER_HTTP__LISTEN", "")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut bootstrap = None;
    let mut lines = Vec::new();
    let mut line = String::new();
    while bootstrap.is_none() && Instant::now() < deadline {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        lines.push(line.clone());
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            if let Some(b) = v["bootstrap"].as_str() {
                assert!(v["message"].as_str().unwrap().contains("EMBEDDED"), "{line}");
                bootstrap = Some(b.to_owned());
            }
        }
    }
    let bootstrap = bootstrap.unwrap_or_else(|| panic!("no bootstrap address logged:\n{}", lines.concat()));
    // Drain the rest of stderr in the background so the child never blocks on a full pipe.
    let rest = std::thread::spawn(move || stderr.lines().map_while(Result::ok).collect::<Vec<_>>());

    let articles = common::synthetic("cli-run", 5);
    let records: Vec<_> =
        articles.iter().map(|(id, j)| (Some(id.clone().into_bytes()), j.clone().into_bytes())).collect();
    common::produce_to(&bootstrap, "news.raw", &records);
    let out = common::read_topic(&bootstrap, "news.enriched", articles.len(), Duration::from_secs(30));
    assert_eq!(common::ids_of(&out).0.len(), articles.len());

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(30)).expect("worker exits after SIGTERM");
    let rest = rest.join().unwrap();
    assert_eq!(status.code(), Some(0), "{}", rest.join("\n"));
    let log = rest.join("\n");
    for step in ["shutdown requested", "offsets committed", "consumer closed", "shutdown complete"] {
        assert!(log.contains(step), "missing shutdown step {step:?} in:\n{log}");
    }
}

fn wait_timeout(child: &mut std::process::Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn demo_prints_records_and_a_summary() {
    let out = bin().arg("demo").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let enriched = records.iter().filter(|r| r.get("enrichment").is_some()).count();
    let dead = records.iter().filter(|r| r.get("dead_letter").is_some()).count();
    assert_eq!((enriched, dead), (6, 1), "{stdout}");
    assert!(stderr.contains("demo summary: 7 articles consumed, 6 enriched, 1 dead-lettered"), "{stderr}");
    assert!(stderr.contains("taiwan="), "{stderr}");
}
