#!/usr/bin/env python3
"""Structural and cross-file checks of deploy/, run by scripts/check-deploy.sh.

Each subcommand checks one aspect and exits non-zero with one line per problem:

  dockerfile        the image contract (user, env, port, healthcheck, entrypoint, config path)
  compose           depends_on targets, bind-mounted files, loopback-only ports, worker settings,
                    topics created vs topics used, Prometheus/Grafana mounts
  config            every config file and NEWS_ENRICHER_* variable names a documented key
                    (config/default.toml)
  binary-config BIN `BIN check-config` accepts the compose and Kubernetes configurations
  k8s [--render]    core manifests against the Kubernetes OpenAPI schemas (kubernetes-validate,
                    strict), the CRDs (KEDA ScaledObject, ServiceMonitor, PrometheusRule)
                    structurally, and the references between them; --render validates the
                    output of `kubectl kustomize deploy/k8s` the same way
  prometheusrule [--write]
                    deploy/k8s/prometheusrule.yaml carries exactly the groups of alerts.yml
                    (--write regenerates it)
  dashboard OUT     dashboard.json structure; writes every panel query as a recording rule to
                    OUT so that `promtool check rules OUT` parses them all
  metrics           every metric the alerts and the dashboard query is one the worker exports;
                    the remote model families of the contract match src/remote/metrics.rs
  live BIN          runs the real worker on its embedded broker: /healthz, /readyz, the metric
                    families it exposes vs the contract, and exit 0 on SIGTERM

Needs PyYAML and, for `k8s`, kubernetes-validate.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
K8S = DEPLOY / "k8s"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROM_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboard.json"
PROMETHEUSRULE = K8S / "prometheusrule.yaml"
DEFAULT_CONFIG = ROOT / "config" / "default.toml"

# The metrics the worker exports (name -> labels), the contract of the alerts and the dashboard.
# Prometheus adds job/instance (and, on Kubernetes, namespace/pod/...) when scraping.
COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"
METRICS: dict[str, tuple[str, set[str]]] = {
    "news_enricher_messages_consumed_total": (COUNTER, {"topic"}),
    "news_enricher_records_produced_total": (COUNTER, {"topic"}),
    "news_enricher_dlq_records_total": (COUNTER, {"reason"}),
    "news_enricher_tombstones_total": (COUNTER, set()),
    "news_enricher_processing_duration_seconds": (HISTOGRAM, set()),
    "news_enricher_article_age_seconds": (HISTOGRAM, set()),
    "news_enricher_messages_in_flight": (GAUGE, set()),
    "news_enricher_consumer_lag": (GAUGE, {"topic", "partition"}),
    "news_enricher_consumer_lag_seconds": (GAUGE, {"topic", "partition"}),
    "news_enricher_rebalances_total": (COUNTER, {"kind"}),
    "news_enricher_tags_total": (COUNTER, {"tag"}),
    "news_enricher_sentiment_total": (COUNTER, {"label"}),
    "news_enricher_build_info": (GAUGE, {"version"}),
    "news_enricher_stalled": (GAUGE, set()),
    "news_enricher_ready": (GAUGE, set()),
    "news_enricher_broker_up": (GAUGE, set()),
    "news_enricher_commits_total": (COUNTER, {"result"}),
    "news_enricher_revocations_uncommitted_total": (COUNTER, set()),
    "news_enricher_revocations_undrained_total": (COUNTER, set()),
    "news_enricher_partitions_not_fetched_total": (COUNTER, {"action"}),
    "news_enricher_assigned_partitions": (GAUGE, set()),
    "news_enricher_intake_paused": (GAUGE, set()),
    "news_enricher_taxonomy_info": (GAUGE, {"version"}),
    "news_enricher_taxonomy_reloads_total": (COUNTER, {"result"}),
    "news_enricher_taxonomy_last_reload_successful": (GAUGE, set()),
    # The optional remote models (src/remote/metrics.rs), registered only when one is configured;
    # `cmd_metrics` checks these against that source, since `live` runs without a remote model.
    "news_enricher_remote_requests_total": (COUNTER, {"model", "task", "result"}),
    "news_enricher_remote_request_duration_seconds": (HISTOGRAM, {"model", "task"}),
    "news_enricher_remote_errors_total": (COUNTER, {"model", "task", "kind"}),
    "news_enricher_remote_batch_size": (HISTOGRAM, {"model", "task"}),
    "news_enricher_remote_breaker_state": (GAUGE, {"model", "task"}),
    "news_enricher_remote_fallbacks_total": (COUNTER, {"model", "task", "reason"}),
    "news_enricher_remote_retries_total": (COUNTER, {"model", "task"}),
    "news_enricher_remote_scored_total": (COUNTER, {"model", "task"}),
}
REMOTE_PREFIX = "news_enricher_remote_"
REMOTE_METRICS_SOURCE = ROOT / "src" / "remote" / "metrics.rs"
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "service", "endpoint"}
# Series from elsewhere that the alerts may use: Prometheus itself and kube-state-metrics.
EXTERNAL_METRICS = {
    "up": set(),
    "kube_pod_container_status_restarts_total": {"container"},
}

# Topic partitions news.raw must have everywhere (compose topics, KEDA maxReplicaCount).
INPUT_PARTITIONS = 8
PORT = 9464
MIN_GRACE_MARGIN_SECS = 10  # grace period >= kafka.shutdown_timeout_secs + this

problems: list[str] = []


def fail(msg: str) -> None:
    problems.append(msg)


def expect(cond: bool, msg: str) -> bool:
    if not cond:
        fail(msg)
    return cond


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def load_yaml(path: Path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_yaml_all(path: Path) -> list:
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def dig(obj, *keys, default=None):
    for k in keys:
        if isinstance(obj, dict) and k in obj:
            obj = obj[k]
        elif isinstance(obj, list) and isinstance(k, int) and -len(obj) <= k < len(obj):
            obj = obj[k]
        else:
            return default
    return obj


# --------------------------------------------------------------------------------------------
# configuration keys

def documented_keys() -> dict[str, set[str]]:
    """Section -> keys documented in config/default.toml, including commented-out examples
    (`# path = ...`). kafka.properties is free-form and not listed."""
    keys: dict[str, set[str]] = {}
    section = None
    header = re.compile(r"^#?\s*\[\[?\s*([a-z_.]+)\s*\]\]?\s*$")
    entry = re.compile(r"^#?\s*([a-z_]+)\s*=")
    for line in DEFAULT_CONFIG.read_text(encoding="utf-8").splitlines():
        m = header.match(line)
        if m:
            section = m.group(1)
            keys.setdefault(section, set())
            continue
        m = entry.match(line)
        if m and section is not None:
            keys[section].add(m.group(1))
    # Also what the file sets for real (belt and braces for the regexes above).
    for sect, table in tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8")).items():
        if isinstance(table, dict):
            keys.setdefault(sect, set()).update(k for k, v in table.items() if not isinstance(v, dict))
    return keys


def check_toml_keys(path: Path, known: dict[str, set[str]]) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        fail(f"{rel(path)}: not valid TOML: {e}")
        return {}
    for sect, table in data.items():
        if sect not in known:
            fail(f"{rel(path)}: unknown section [{sect}] (not in config/default.toml)")
            continue
        tables = table if isinstance(table, list) else [table]
        for t in tables:
            for k, v in t.items():
                if sect == "kafka" and k == "properties":
                    continue
                if k not in known[sect]:
                    fail(f"{rel(path)}: unknown key {sect}.{k} (not in config/default.toml)")
    return data


def check_env_names(env: dict[str, str], where: str, known: dict[str, set[str]]) -> None:
    for name in env:
        if not name.startswith("NEWS_ENRICHER_"):
            continue
        parts = name[len("NEWS_ENRICHER_"):].lower().split("__")
        if len(parts) < 2:
            fail(f"{where}: {name}: expected NEWS_ENRICHER_<SECTION>__<KEY>")
            continue
        sect, key = parts[0], parts[1]
        if sect == "kafka" and key == "properties":
            expect(len(parts) >= 3, f"{where}: {name}: names no librdkafka property")
            continue
        if sect not in known:
            fail(f"{where}: {name}: unknown section {sect!r}")
        elif key not in known[sect] or len(parts) != 2:
            fail(f"{where}: {name}: unknown key {sect}.{'.'.join(parts[1:])}")


def compose_env(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def container_env(container: dict) -> dict[str, str]:
    return {e["name"]: str(e.get("value", "")) for e in container.get("env", [])}


def dockerfile_env() -> dict[str, str]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    env = {}
    for line in text.splitlines():
        if line.strip().startswith("ENV "):
            for k, v in re.findall(r"(\w+)=(\S+)", line):
                env[k] = v
    return env


def cmd_config(_args) -> None:
    known = documented_keys()
    expect("kafka" in known and "brokers" in known["kafka"],
           "config/default.toml: could not read the documented keys")
    check_toml_keys(K8S / "config.toml", known)
    check_toml_keys(DEPLOY / "compose" / "worker.toml", known)
    compose = load_yaml(COMPOSE)
    for name, svc in compose["services"].items():
        check_env_names(compose_env(svc), f"docker-compose.yml service {name}", known)
    check_env_names(dockerfile_env(), "Dockerfile ENV", known)
    for doc in k8s_source_docs():
        for c in dig(doc, "spec", "template", "spec", "containers", default=[]) or []:
            check_env_names(container_env(c), f"k8s {doc['kind']}/{doc['metadata']['name']}", known)


def cmd_binary_config(args) -> None:
    """Runs the real parser (`news-enricher check-config`) on the deployment configurations."""
    binary = str(Path(args[0]).resolve())
    compose = load_yaml(COMPOSE)
    worker = compose["services"]["worker"]
    mounts = {target: src for src, target in bind_mounts(worker)}
    config_arg = worker["command"][worker["command"].index("--config") + 1]
    cases = [
        ("compose worker", DEPLOY / mounts[config_arg], compose_env(worker)),
    ]
    deploy = next(d for d in k8s_source_docs() if d["kind"] == "Deployment")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    env = {k: v for k, v in container_env(container).items() if v}
    cases.append(("k8s Deployment", K8S / "config.toml", env))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWS_ENRICHER_")}
    for label, config, env in cases:
        r = subprocess.run([binary, "check-config", "--config", str(config)], env={**base_env, **env},
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            fail(f"{label}: `news-enricher check-config --config {rel(config)}` exited "
                 f"{r.returncode}: {(r.stderr or r.stdout).strip()}")
        elif re.search(r'^brokers = "embedded"', r.stdout, re.M):
            fail(f"{label}: effective kafka.brokers is \"embedded\": deployments need real brokers")


# --------------------------------------------------------------------------------------------
# Dockerfile

def cmd_dockerfile(_args) -> None:
    path = DEPLOY / "Dockerfile"
    text = path.read_text(encoding="utf-8")
    joined = text.replace("\\\n", " ")
    lines = [l.strip() for l in joined.splitlines() if l.strip() and not l.strip().startswith("#")]
    froms = [l for l in lines if l.upper().startswith("FROM ")]
    expect(len(froms) >= 2, "Dockerfile: expected a multi-stage build (builder + runtime)")
    expect(bool(froms) and "slim" in froms[-1], "Dockerfile: the runtime stage should be a -slim image")
    runtime = joined[joined.rfind("\nFROM "):]
    expect("cargo build --locked --release" in joined, "Dockerfile: expected `cargo build --locked --release`")
    expect(re.search(r"^USER 10001(:10001)?$", runtime, re.M) is not None,
           "Dockerfile: the runtime stage must run as numeric USER 10001")
    env = dockerfile_env()
    expect(env.get("NEWS_ENRICHER_HTTP__LISTEN") == f"0.0.0.0:{PORT}",
           f"Dockerfile: ENV NEWS_ENRICHER_HTTP__LISTEN must be 0.0.0.0:{PORT}")
    expect(env.get("NEWS_ENRICHER_LOG__FORMAT") == "json", "Dockerfile: ENV NEWS_ENRICHER_LOG__FORMAT must be json")
    expect(re.search(rf"^EXPOSE {PORT}\b", runtime, re.M) is not None, f"Dockerfile: EXPOSE {PORT} missing")
    expect(re.search(r"^HEALTHCHECK .*/healthz", runtime, re.M) is not None,
           "Dockerfile: HEALTHCHECK on /healthz missing")
    for label in ("title", "description", "licenses", "version", "revision", "created"):
        expect(f"org.opencontainers.image.{label}=" in runtime, f"Dockerfile: OCI label image.{label} missing")
    m = re.search(r"^ENTRYPOINT (\[.*\])$", runtime, re.M)
    expect(m is not None and json.loads(m.group(1)) == ["news-enricher"],
           'Dockerfile: ENTRYPOINT must be ["news-enricher"]')
    m = re.search(r"^CMD (\[.*\])$", runtime, re.M)
    if expect(m is not None, "Dockerfile: CMD missing"):
        cmd = json.loads(m.group(1))
        expect(cmd[:2] == ["run", "--config"] and len(cmd) == 3, "Dockerfile: CMD must be run --config FILE")
        copy = re.search(r"^COPY config/ (\S+)/$", runtime, re.M)
        if expect(copy is not None, "Dockerfile: COPY config/ <dir>/ missing in the runtime stage"):
            target = cmd[2]
            expect(target.startswith(copy.group(1) + "/")
                   and (ROOT / "config" / target[len(copy.group(1)) + 1:]).is_file(),
                   f"Dockerfile: CMD config {target} is not a file copied from config/")
    # Every COPY source of the build context must exist, and the builder must copy everything
    # the build reads: the manifest's targets and the files the sources include at compile time.
    builder = joined[:joined.rfind("\nFROM ")]
    copied = set()
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", joined, re.M):
        for s in src.split():
            expect((ROOT / s).exists(), f"Dockerfile: COPY source {s} does not exist in the build context")
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", builder, re.M):
        copied.update(Path(s.rstrip("/")).parts[0] for s in src.split())
    needed = {"Cargo.toml": "the manifest", "Cargo.lock": "the lock file (--locked)"}
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    default_dirs = {"bench": "benches", "test": "tests", "example": "examples", "bin": "src/bin"}
    for kind, targets in [("lib", [manifest.get("lib", {})])] + \
            [(k, manifest.get(k, [])) for k in ("bin", "bench", "test", "example")]:
        for t in targets:
            path = t.get("path") or (f"{default_dirs[kind]}/{t['name']}.rs" if kind in default_dirs and t.get("name")
                                     else "src/lib.rs" if kind == "lib" else None)
            if path:
                needed[path] = f"[{kind}] target {t.get('name', '')}".strip()
    for rs in (ROOT / "src").rglob("*.rs"):
        for inc in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)', rs.read_text(encoding="utf-8")):
            target = (rs.parent / inc).resolve()
            if target.is_relative_to(ROOT):
                needed[str(target.relative_to(ROOT))] = f"include in {rel(rs)}"
    for path, why in sorted(needed.items()):
        expect(Path(path).parts[0] in copied,
               f"Dockerfile: the builder stage does not COPY {path} ({why}): the build would fail")
    check_dockerignore(sorted(copied | {"Cargo.toml", "Cargo.lock"}))


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: the last pattern matching the path or one of its parents
    decides; `!pattern` re-includes."""
    import fnmatch

    ignored = False
    parts = Path(path).parts
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat.lstrip("!").strip("/")
        pat = pat[3:] if pat.startswith("**/") else pat
        if any(fnmatch.fnmatch(p, pat) for p in prefixes):
            ignored = not neg
    return ignored


def check_dockerignore(copied: list[str]) -> None:
    """The build context is the repository root, so /.dockerignore decides what is sent."""
    path = ROOT / ".dockerignore"
    if not path.exists():
        print("note: no /.dockerignore: `docker build -f deploy/Dockerfile .` would send target/ "
              "(gigabytes) as build context")
        return
    patterns = [l.strip() for l in path.read_text(encoding="utf-8").splitlines()
                if l.strip() and not l.strip().startswith("#")]
    expect(dockerignored("target", patterns), ".dockerignore: target/ must be excluded from the build context")
    for src in copied:
        expect(not dockerignored(src, patterns), f".dockerignore excludes {src}, which the Dockerfile copies")


# --------------------------------------------------------------------------------------------
# docker compose

def bind_mounts(svc: dict) -> list[tuple[str, str]]:
    """(source, target) of the service's bind mounts (sources starting with . or /)."""
    out = []
    for v in svc.get("volumes", []) or []:
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) >= 2 and parts[0].startswith((".", "/", "~")):
                out.append((parts[0], parts[1]))
        elif isinstance(v, dict) and v.get("type") == "bind":
            out.append((v["source"], v["target"]))
    return out


def named_volumes(svc: dict) -> list[str]:
    out = []
    for v in svc.get("volumes", []) or []:
        if isinstance(v, str):
            src = v.split(":")[0]
            if ":" in v and not src.startswith((".", "/", "~")):
                out.append(src)
        elif isinstance(v, dict) and v.get("type") == "volume" and v.get("source"):
            out.append(v["source"])
    return out


def created_topics(compose: dict) -> dict[str, int]:
    cmd = compose["services"]["kafka-init"]["command"]
    script = "\n".join(cmd) if isinstance(cmd, list) else str(cmd)
    return {t: int(n) for t, n in re.findall(r"\b(news\.[a-z0-9._-]+):(\d+)\b", script)}


def parse_duration(s) -> float:
    if isinstance(s, (int, float)):
        return float(s)
    total = 0.0
    for n, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(s)):
        total += float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


def cmd_compose(_args) -> None:
    compose = load_yaml(COMPOSE)
    base = COMPOSE.parent
    services = compose.get("services", {})
    declared_volumes = set((compose.get("volumes") or {}).keys())
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        for dep, spec in (deps.items() if isinstance(deps, dict) else ((d, None) for d in deps)):
            expect(dep in services, f"service {name}: depends_on unknown service {dep!r}")
            if isinstance(spec, dict):
                expect(spec.get("condition") in ("service_started", "service_healthy",
                                                 "service_completed_successfully"),
                       f"service {name}: depends_on {dep}: bad condition {spec.get('condition')!r}")
                if spec.get("condition") == "service_healthy":
                    expect("healthcheck" in services.get(dep, {}),
                           f"service {name}: waits for {dep} to be healthy but {dep} has no healthcheck")
        for src, target in bind_mounts(svc):
            p = (base / src).resolve()
            expect(p.exists(), f"service {name}: bind mount source {src} does not exist ({rel(p)})")
        for vol in named_volumes(svc):
            expect(vol in declared_volumes, f"service {name}: volume {vol!r} is not declared under volumes:")
        if "build" in svc:
            b = svc["build"]
            ctx = (base / (b if isinstance(b, str) else b.get("context", "."))).resolve()
            expect(ctx.is_dir(), f"service {name}: build context {rel(ctx)} does not exist")
            if isinstance(b, dict) and "dockerfile" in b:
                expect((ctx / b["dockerfile"]).is_file(), f"service {name}: dockerfile {b['dockerfile']} not found")
        for port in svc.get("ports", []) or []:
            spec = port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port.get('published')}"
            expect(str(spec).startswith("127.0.0.1:"), f"service {name}: port {spec} is not bound to 127.0.0.1")

    worker = services.get("worker")
    if not expect(worker is not None, "no `worker` service"):
        return
    env = compose_env(worker)
    expect(worker.get("read_only") is True, "worker: read_only: true missing")
    expect(env.get("NEWS_ENRICHER_KAFKA__BROKERS", "embedded") not in ("", "embedded"),
           "worker: NEWS_ENRICHER_KAFKA__BROKERS must name the real broker, not the embedded one")
    expect(env.get("NEWS_ENRICHER_HTTP__LISTEN") == f"0.0.0.0:{PORT}",
           f"worker: NEWS_ENRICHER_HTTP__LISTEN must be 0.0.0.0:{PORT}")
    expect(dig(worker, "deploy", "replicas", default=1) >= 2, "worker: expected at least 2 replicas")
    expect("healthcheck" in worker, "worker: healthcheck missing")
    expect(parse_duration(worker.get("stop_grace_period", "10s")) >= 40,
           "worker: stop_grace_period must be at least 40s (shutdown drains for up to 30 s)")
    expect(dig(worker, "depends_on", "kafka-init", "condition") == "service_completed_successfully",
           "worker: must depend on kafka-init with condition service_completed_successfully")

    # Topics: the ones the workers read and write must be created by kafka-init.
    topics = created_topics(compose)
    expect(topics.get("news.raw") == INPUT_PARTITIONS,
           f"kafka-init: news.raw must have {INPUT_PARTITIONS} partitions (got {topics.get('news.raw')})")
    used = set(env.get("NEWS_ENRICHER_KAFKA__INPUT_TOPICS", "news.raw").split(","))
    used |= {env.get("NEWS_ENRICHER_KAFKA__OUTPUT_TOPIC", "news.enriched"),
             env.get("NEWS_ENRICHER_KAFKA__DLQ_TOPIC", "news.dlq")}
    mounts = {target: src for src, target in bind_mounts(worker)}
    cmd = worker.get("command") or []
    if "--config" in cmd:
        cfg_path = cmd[cmd.index("--config") + 1]
        if expect(cfg_path in mounts, f"worker: --config {cfg_path} is not a mounted file"):
            cfg = tomllib.loads((base / mounts[cfg_path]).read_text(encoding="utf-8"))
            used |= {r["topic"] for r in cfg.get("routes", [])}
    for t in sorted(used):
        expect(t in topics, f"worker uses topic {t} but kafka-init does not create it")

    # Prometheus: its config and every rule file it names are mounted side by side.
    prom = services.get("prometheus", {})
    pmounts = {target: src for src, target in bind_mounts(prom)}
    conf_target = next((a.split("=", 1)[1] for a in prom.get("command", []) if a.startswith("--config.file=")),
                       "/etc/prometheus/prometheus.yml")
    if expect(conf_target in pmounts, f"prometheus: {conf_target} is not mounted"):
        expect((base / pmounts[conf_target]).resolve() == PROM_CONFIG.resolve(),
               f"prometheus: {conf_target} should be {rel(PROM_CONFIG)}")
        for rf in load_yaml(PROM_CONFIG).get("rule_files", []):
            target = rf if rf.startswith("/") else str(Path(conf_target).parent / rf)
            expect(target in pmounts, f"prometheus: rule file {target} is not mounted")
        jobs = [j["job_name"] for j in load_yaml(PROM_CONFIG).get("scrape_configs", [])]
        expect("news-enricher" in jobs, "prometheus.yml: no scrape job named news-enricher")
        names = [n for j in load_yaml(PROM_CONFIG)["scrape_configs"] for sd in j.get("dns_sd_configs", [])
                 for n in sd.get("names", [])]
        expect("worker" in names, "prometheus.yml: the workers (service `worker`) are not scraped")

    # Grafana: provisioning directories mounted, and the dashboard file inside the provider path.
    graf = services.get("grafana", {})
    gmounts = {target: src for src, target in bind_mounts(graf)}
    for kind in ("datasources", "dashboards"):
        expect(f"/etc/grafana/provisioning/{kind}" in gmounts, f"grafana: provisioning/{kind} is not mounted")
    prov_dir = DEPLOY / "grafana" / "provisioning" / "dashboards"
    for f in sorted(prov_dir.glob("*.y*ml")):
        for p in load_yaml(f).get("providers", []):
            path = dig(p, "options", "path")
            dash_mounts = [t for t, s in gmounts.items() if t.startswith(f"{path}/") and s.endswith(".json")]
            expect(bool(dash_mounts), f"grafana: nothing mounted under the dashboard path {path} of {rel(f)}")
            for t in dash_mounts:
                expect((base / gmounts[t]).resolve() == DASHBOARD.resolve(), f"grafana: {t} is not dashboard.json")
    for f in sorted((DEPLOY / "grafana" / "provisioning" / "datasources").glob("*.y*ml")):
        for ds in load_yaml(f).get("datasources", []):
            host = re.match(r"https?://([^:/]+)", ds.get("url", ""))
            expect(host is not None and host.group(1) in services,
                   f"{rel(f)}: data source URL {ds.get('url')} is not a compose service")


# --------------------------------------------------------------------------------------------
# Kubernetes

def k8s_source_docs() -> list[dict]:
    """The base's resources plus the ConfigMaps its generator would make (names without the
    hash suffix kustomize adds; references use the same unsuffixed name)."""
    kust = load_yaml(K8S / "kustomization.yaml")
    docs = []
    for r in kust.get("resources", []):
        path = K8S / r
        if expect(path.is_file(), f"kustomization.yaml: resource {r} does not exist"):
            docs.extend(load_yaml_all(path))
    for gen in kust.get("configMapGenerator", []):
        data = {}
        for f in gen.get("files", []):
            key, _, src = f.partition("=") if "=" in f else (Path(f).name, "", f)
            if expect((K8S / src).is_file(), f"kustomization.yaml: configMapGenerator file {src} missing"):
                data[key] = (K8S / src).read_text(encoding="utf-8")
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data})
    return docs


def rendered_docs() -> list[dict] | None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    r = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail(f"kubectl kustomize deploy/k8s failed: {r.stderr.strip()}")
        return []
    return [d for d in yaml.safe_load_all(r.stdout) if d]


CRD_KINDS = {"ScaledObject", "ServiceMonitor", "PrometheusRule"}
K8S_VERSIONS = ["1.29.0", None]  # oldest supported we claim, and the newest schemas installed


def validate_core(docs: list[dict], label: str) -> None:
    import kubernetes_validate

    versions = [v or kubernetes_validate.latest_version() for v in K8S_VERSIONS]
    for doc in docs:
        if doc.get("kind") in CRD_KINDS:
            continue
        name = f"{label}: {doc.get('kind')}/{dig(doc, 'metadata', 'name')}"
        for v in versions:
            try:
                kubernetes_validate.validate(doc, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = "/".join(str(p) for p in e.path)
                fail(f"{name} (Kubernetes {v}, strict): {path}: {e.message}")
            except Exception as e:  # SchemaNotFoundError, InvalidSchemaError
                fail(f"{name} (Kubernetes {v}): {type(e).__name__}: {e}")


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_k8s_structure(docs: list[dict], label: str, config_name_prefix: str) -> None:
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        for key in ("apiVersion", "kind"):
            expect(key in d, f"{label}: a document has no {key}")
        expect(bool(dig(d, "metadata", "name")), f"{label}: {d.get('kind')} without metadata.name")
        by_kind.setdefault(d.get("kind"), []).append(d)
    for kind in ("Deployment", "ConfigMap", "Service", "PodDisruptionBudget", "ScaledObject", "ServiceMonitor",
                 "PrometheusRule"):
        expect(len(by_kind.get(kind, [])) == 1, f"{label}: expected exactly one {kind}")
    if problems:
        return
    dep, = by_kind["Deployment"]
    cm, = by_kind["ConfigMap"]
    svc, = by_kind["Service"]
    pdb, = by_kind["PodDisruptionBudget"]
    so, = by_kind["ScaledObject"]
    sm, = by_kind["ServiceMonitor"]
    pr, = by_kind["PrometheusRule"]
    where = f"{label}: Deployment/{dep['metadata']['name']}"

    # Deployment
    pod = dep["spec"]["template"]
    pod_labels = dig(pod, "metadata", "labels", default={})
    expect(matches(dig(dep, "spec", "selector", "matchLabels"), pod_labels),
           f"{where}: selector does not match the pod labels")
    spec = pod["spec"]
    psc = spec.get("securityContext", {})
    expect(psc.get("runAsNonRoot") is True, f"{where}: pod securityContext.runAsNonRoot must be true")
    expect(dig(psc, "seccompProfile", "type") == "RuntimeDefault", f"{where}: seccompProfile RuntimeDefault missing")
    containers = spec.get("containers", [])
    expect(len(containers) == 1, f"{where}: expected one container")
    c = containers[0]
    sc = c.get("securityContext", {})
    expect(sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem must be true")
    expect(sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation must be false")
    expect(dig(sc, "capabilities", "drop") == ["ALL"], f"{where}: capabilities must drop ALL")
    expect(sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{where}: container must run as non-root")
    for kind in ("requests", "limits"):
        for res in ("cpu", "memory"):
            expect(dig(c, "resources", kind, res) is not None, f"{where}: resources.{kind}.{res} missing")
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    expect(ports.get("metrics") == PORT, f"{where}: container port `metrics` must be {PORT}")
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        expect(dig(c, probe, "httpGet", "path") == path, f"{where}: {probe} must GET {path}")
        expect(dig(c, probe, "httpGet", "port") in ("metrics", PORT), f"{where}: {probe} must use the metrics port")
    env = {e["name"]: e for e in c.get("env", [])}
    expect(env.get("NEWS_ENRICHER_HTTP__LISTEN", {}).get("value") == f"0.0.0.0:{PORT}",
           f"{where}: NEWS_ENRICHER_HTTP__LISTEN must be 0.0.0.0:{PORT}")
    secret_refs = [e for e in env.values() if dig(e, "valueFrom", "secretKeyRef")]
    expect(any(dig(e, "valueFrom", "secretKeyRef", "optional") is True for e in secret_refs)
           and "NEWS_ENRICHER_KAFKA__PROPERTIES__SASL__PASSWORD" in env,
           f"{where}: the SASL password must come from an optional Secret reference")
    # Config: --config FILE lies in a volume mounted from the generated ConfigMap.
    cfg = None
    args = c.get("args", [])
    config_file = args[args.index("--config") + 1] if "--config" in args else None
    if expect(config_file is not None, f"{where}: args must pass --config"):
        mount = next((m for m in c.get("volumeMounts", []) if config_file.startswith(m["mountPath"].rstrip("/") + "/")),
                     None)
        if expect(mount is not None, f"{where}: {config_file} is not on a volume mount"):
            vol = next((v for v in spec.get("volumes", []) if v["name"] == mount["name"]), {})
            cm_name = dig(vol, "configMap", "name", default="")
            expect(cm_name == cm["metadata"]["name"] and cm_name.startswith(config_name_prefix),
                   f"{where}: volume {mount['name']} does not use ConfigMap {cm['metadata']['name']}")
            key = config_file[len(mount["mountPath"].rstrip("/")) + 1:]
            if expect(key in cm.get("data", {}), f"{label}: ConfigMap has no key {key}"):
                cfg = tomllib.loads(cm["data"][key])
                expect(cfg["kafka"].get("brokers", "embedded") != "embedded",
                       f"{label}: config.toml must set real kafka.brokers")
                grace = spec.get("terminationGracePeriodSeconds", 30)
                shutdown = cfg["kafka"].get("shutdown_timeout_secs", 30)
                expect(grace >= shutdown + MIN_GRACE_MARGIN_SECS and grace >= 40,
                       f"{where}: terminationGracePeriodSeconds {grace} must be >= 40 and >= "
                       f"kafka.shutdown_timeout_secs ({shutdown}) + {MIN_GRACE_MARGIN_SECS}")

    # Service and PDB select the pods.
    expect(matches(dig(svc, "spec", "selector"), pod_labels), f"{label}: Service selector does not match the pods")
    expect(any(p.get("name") == "metrics" and p.get("targetPort") in ("metrics", PORT) for p in svc["spec"]["ports"]),
           f"{label}: Service needs a `metrics` port to the container's metrics port")
    expect(matches(dig(pdb, "spec", "selector", "matchLabels"), pod_labels),
           f"{label}: PodDisruptionBudget selector does not match the pods")
    expect(("minAvailable" in pdb["spec"]) != ("maxUnavailable" in pdb["spec"]),
           f"{label}: PodDisruptionBudget needs exactly one of minAvailable and maxUnavailable")

    # KEDA ScaledObject
    w = f"{label}: ScaledObject/{so['metadata']['name']}"
    expect(so.get("apiVersion") == "keda.sh/v1alpha1", f"{w}: apiVersion must be keda.sh/v1alpha1")
    expect(dig(so, "spec", "scaleTargetRef", "name") == dep["metadata"]["name"], f"{w}: scaleTargetRef is not the Deployment")
    expect(dig(so, "spec", "scaleTargetRef", "kind", default="Deployment") == "Deployment", f"{w}: scaleTargetRef kind")
    mx, mn = dig(so, "spec", "maxReplicaCount"), dig(so, "spec", "minReplicaCount", default=0)
    expect(mx == INPUT_PARTITIONS, f"{w}: maxReplicaCount must equal the partitions of news.raw ({INPUT_PARTITIONS})")
    expect(isinstance(mn, int) and isinstance(mx, int) and 0 <= mn <= mx, f"{w}: need 0 <= minReplicaCount <= maxReplicaCount")
    triggers = dig(so, "spec", "triggers", default=[])
    expect(len(triggers) >= 1, f"{w}: no triggers")
    for t in triggers:
        expect(t.get("type") == "kafka", f"{w}: trigger type must be kafka")
        md = t.get("metadata", {})
        for k in ("bootstrapServers", "consumerGroup", "topic", "lagThreshold"):
            expect(isinstance(md.get(k), str) and md.get(k) != "", f"{w}: trigger metadata.{k} must be a non-empty string")
        expect(str(md.get("lagThreshold", "")).isdigit() and int(md["lagThreshold"]) > 0,
               f"{w}: lagThreshold must be a positive integer (as a string)")
        if cfg is not None:
            group_id = cfg["kafka"].get("group_id", "news-enricher")
            expect(md.get("consumerGroup") == group_id,
                   f"{w}: consumerGroup {md.get('consumerGroup')} != kafka.group_id {group_id}")
            expect(md.get("topic") in cfg["kafka"].get("input_topics", ["news.raw"]),
                   f"{w}: topic {md.get('topic')} is not an input topic")
            expect(md.get("bootstrapServers") == cfg["kafka"].get("brokers"), f"{w}: bootstrapServers != kafka.brokers")
        for k, v in md.items():
            expect(isinstance(v, str), f"{w}: trigger metadata.{k} must be a string (KEDA reads strings)")

    # ServiceMonitor
    w = f"{label}: ServiceMonitor/{sm['metadata']['name']}"
    expect(sm.get("apiVersion") == "monitoring.coreos.com/v1", f"{w}: apiVersion must be monitoring.coreos.com/v1")
    expect(matches(dig(sm, "spec", "selector", "matchLabels"), dig(svc, "metadata", "labels", default={})),
           f"{w}: selector does not match the Service labels")
    svc_ports = {p.get("name") for p in svc["spec"]["ports"]}
    eps = dig(sm, "spec", "endpoints", default=[])
    expect(len(eps) >= 1, f"{w}: no endpoints")
    for ep in eps:
        expect(ep.get("port") in svc_ports, f"{w}: endpoint port {ep.get('port')} is not a Service port")
        expect(ep.get("path", "/metrics") == "/metrics", f"{w}: endpoint path must be /metrics")
    job_label = dig(sm, "spec", "jobLabel")
    job = dig(svc, "metadata", "labels", job_label) if job_label else svc["metadata"]["name"]
    expect(job == "news-enricher", f"{w}: scraped series get job={job!r}; the alerts and dashboard expect news-enricher")

    # PrometheusRule
    w = f"{label}: PrometheusRule/{pr['metadata']['name']}"
    expect(pr.get("apiVersion") == "monitoring.coreos.com/v1", f"{w}: apiVersion must be monitoring.coreos.com/v1")
    expect(dig(pr, "spec", "groups") == load_yaml(ALERTS)["groups"],
           f"{w}: spec.groups differ from deploy/prometheus/alerts.yml "
           f"(regenerate: python3 deploy/tests/check_deploy.py prometheusrule --write)")


def cmd_k8s(args) -> None:
    if "--render" in args:
        docs = rendered_docs()
        if docs is None:
            print("kubectl not found: nothing to render")
            return
        validate_core(docs, "kustomize build")
        # kustomize suffixes generated ConfigMaps with a content hash and rewrites references.
        check_k8s_structure(docs, "kustomize build", "news-enricher-config-")
        return
    docs = k8s_source_docs()
    validate_core(docs, "deploy/k8s")
    check_k8s_structure(docs, "deploy/k8s", "news-enricher-config")


# --------------------------------------------------------------------------------------------
# PrometheusRule <- alerts.yml

class _BlockDumper(yaml.SafeDumper):
    pass


def _str_rep(dumper, s):
    style = "|" if "\n" in s else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)


_BlockDumper.add_representer(str, _str_rep)


def prometheusrule_text() -> str:
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "news-enricher", "labels": {"app.kubernetes.io/name": "news-enricher"}},
        "spec": {"groups": load_yaml(ALERTS)["groups"]},
    }
    header = ("# GENERATED from deploy/prometheus/alerts.yml, do not edit: regenerate with\n"
              "#   python3 deploy/tests/check_deploy.py prometheusrule --write\n"
              "# The Prometheus Operator loads these rules (your Prometheus's ruleSelector may need a\n"
              "# label, e.g. `release: <name>`: add it in an overlay).\n")
    return header + yaml.dump(doc, Dumper=_BlockDumper, sort_keys=False, width=4096, allow_unicode=True)


def cmd_prometheusrule(args) -> None:
    text = prometheusrule_text()
    if "--write" in args:
        PROMETHEUSRULE.write_text(text, encoding="utf-8")
        print(f"wrote {rel(PROMETHEUSRULE)}")
        return
    current = load_yaml(PROMETHEUSRULE) if PROMETHEUSRULE.exists() else None
    expect(current == yaml.safe_load(text),
           f"{rel(PROMETHEUSRULE)} is out of date with alerts.yml: "
           "run python3 deploy/tests/check_deploy.py prometheusrule --write")


# --------------------------------------------------------------------------------------------
# dashboard and PromQL

# Grafana variables -> a value that keeps the query valid PromQL for the parser.
GRAFANA_VARS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "job": ".*", "instance": ".*"}


def dashboard_panels(dash: dict) -> list[dict]:
    out = []
    for p in dash.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))  # collapsed rows hold their panels
    return out


def substitute_vars(expr: str) -> str:
    def repl(m):
        name = m.group(1) or m.group(2)
        return GRAFANA_VARS.get(name, m.group(0))
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def dashboard_exprs() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out = []
    for p in dashboard_panels(dash):
        for t in p.get("targets", []):
            if t.get("expr"):
                out.append((f"panel {p.get('id')} ({p.get('title')}) target {t.get('refId')}", t["expr"]))
    return out


def cmd_dashboard(args) -> None:
    out_path = Path(args[0])
    try:
        dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        fail(f"dashboard.json does not parse: {e}")
        return
    for k in ("uid", "title", "panels", "schemaVersion", "templating"):
        expect(k in dash, f"dashboard.json: top-level {k!r} missing")
    variables = {v["name"]: v for v in dig(dash, "templating", "list", default=[])}
    expect(dig(variables, "datasource", "type") == "datasource" and dig(variables, "datasource", "query") == "prometheus",
           "dashboard.json: a `datasource` variable of Prometheus data sources is expected")
    for v in variables.values():
        if v.get("type") == "query":
            expect(dig(v, "datasource", "uid") == "${datasource}",
                   f"dashboard.json variable {v['name']}: datasource must be ${{datasource}}")
    ids = [p.get("id") for p in dashboard_panels(dash)]
    expect(len(ids) == len(set(ids)) and None not in ids, "dashboard.json: panel ids must be present and unique")
    rules = []
    for p in dashboard_panels(dash):
        where = f"dashboard.json panel {p.get('id')} ({p.get('title')})"
        gp = p.get("gridPos", {})
        expect(all(isinstance(gp.get(k), int) for k in "xywh") and gp.get("x", 0) + gp.get("w", 0) <= 24,
               f"{where}: bad gridPos {gp}")
        if p.get("type") == "row":
            continue
        expect(bool(p.get("title")), f"{where}: no title")
        expect(dig(p, "datasource", "uid") == "${datasource}", f"{where}: datasource must be ${{datasource}}")
        targets = p.get("targets", [])
        expect(len(targets) >= 1, f"{where}: no queries")
        refs = [t.get("refId") for t in targets]
        expect(len(refs) == len(set(refs)), f"{where}: duplicate refIds")
        for t in targets:
            expr = t.get("expr", "")
            if not expect(bool(expr.strip()), f"{where}: target {t.get('refId')} has no expr"):
                continue
            for var in re.findall(r"\$\{?(\w+)", expr):
                expect(var.startswith("__") or var in variables, f"{where}: uses undefined variable ${var}")
            concrete = substitute_vars(expr)
            expect("$" not in concrete, f"{where}: unsubstituted variable in {expr!r}")
            rules.append({"record": f"dashboard:panel_{p.get('id')}:{t.get('refId')}", "expr": concrete})
    # Variable queries are PromQL too, inside label_values(...).
    for v in variables.values():
        q = dig(v, "query", "query") if isinstance(v.get("query"), dict) else None
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q or "")
        if q is not None and expect(m is not None, f"dashboard.json variable {v['name']}: expected label_values(SELECTOR, LABEL)"):
            rules.append({"record": f"dashboard:variable:{v['name']}", "expr": substitute_vars(m.group(1))})
    out_path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, sort_keys=False),
                        encoding="utf-8")
    print(f"{len(rules)} dashboard queries written to {out_path}")


METRIC_RE = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "absent", "absent_over_time",
    "max_over_time", "min_over_time", "avg_over_time", "sum_over_time", "count_over_time", "last_over_time",
    "label_values", "label_replace", "vector", "scalar", "time", "clamp_min", "clamp_max", "abs", "round", "humanize",
    "le", "inf", "nan", "predict_linear", "changes", "resets", "ceil", "floor", "sort", "sort_desc",
}


def referenced_series(expr: str) -> list[tuple[str, str]]:
    """(metric name, matcher text) of every vector selector in expr (a light-weight scan:
    string contents, label lists of by/without/on and durations are removed first, so the
    matcher text keeps the label names only)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    out = []
    for m in METRIC_RE.finditer(e):
        name = m.group(1)
        if name.lower() in PROMQL_WORDS or re.fullmatch(r"\d.*|e\d*", name):
            continue
        # A name followed by "(" is a function call, not a selector.
        if re.match(r"\s*\(", e[m.end(1):]) and not m.group(2):
            continue
        out.append((name, m.group(2) or ""))
    return out


def source_remote_metrics() -> dict[str, tuple[str, set[str]]]:
    """The remote families as src/remote/metrics.rs registers them (name as queried -> type,
    labels), read from its `r.register("name", "help", self.field.clone())` calls, the field
    types of `RemoteMetrics` and the fields of the label structs."""
    text = REMOTE_METRICS_SOURCE.read_text(encoding="utf-8")
    label_structs = {name: set(re.findall(r"(\w+)\s*:", body))
                     for name, body in re.findall(r"struct (\w+)\s*\{([^}]*)\}", text)}
    aliases = dict(re.findall(r"^type (\w+) = (Family<.*>);", text, re.M))
    struct = re.search(r"pub struct RemoteMetrics\s*\{([^}]*)\}", text)
    fields = {}
    for field, ty in re.findall(r"^\s*(\w+): ([\w<>, ]+),", struct.group(1) if struct else "", re.M):
        m = re.fullmatch(r"Family<(\w+), (\w+)(?:, .*)?>", aliases.get(ty, ty))
        if m:
            fields[field] = (m.group(2).lower(), label_structs.get(m.group(1), set()) - {"pub"})
    out = {}
    for name, field in re.findall(r'\.register\(\s*"(\w+)",\s*"(?:[^"\\]|\\.)*",\s*self\.(\w+)\.clone\(\)', text):
        if field not in fields:
            fail(f"{rel(REMOTE_METRICS_SOURCE)}: cannot tell the type of field {field} (family {name})")
            continue
        kind, labels = fields[field]
        out[REMOTE_PREFIX + name + ("_total" if kind == COUNTER else "")] = (kind, labels)
    return out


def cmd_metrics(_args) -> None:
    # The remote families of the contract are the ones the source registers (the live check
    # cannot see them: it runs without a remote model).
    source = source_remote_metrics()
    contract = {k: v for k, v in METRICS.items() if k.startswith(REMOTE_PREFIX)}
    if expect(bool(source), f"{rel(REMOTE_METRICS_SOURCE)}: found no registered family"):
        for name in sorted(set(source) | set(contract)):
            expect(source.get(name) == contract.get(name),
                   f"remote family {name}: {rel(REMOTE_METRICS_SOURCE)} registers {source.get(name)}, "
                   f"the contract (METRICS) says {contract.get(name)}")
    alert_groups = load_yaml(ALERTS)["groups"]
    recorded = {r["record"] for g in alert_groups for r in g["rules"] if "record" in r}
    sources = [(f"alerts.yml {r.get('alert') or r.get('record')}", r["expr"]) for g in alert_groups for r in g["rules"]]
    sources += [(f"dashboard.json {w}", substitute_vars(e)) for w, e in dashboard_exprs()]
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for v in dig(dash, "templating", "list", default=[]):
        m = re.fullmatch(r"label_values\((.+),\s*\w+\)", dig(v, "query", "query", default="") or "") \
            if isinstance(v.get("query"), dict) else None
        if m:
            sources.append((f"dashboard.json variable {v['name']}", substitute_vars(m.group(1))))
    used = set()
    for where, expr in sources:
        for name, matchers in referenced_series(expr):
            base = name
            labels = None
            if name in METRICS:
                labels = METRICS[name][1]
            elif re.sub(r"_(bucket|sum|count)$", "", name) in METRICS and \
                    METRICS[re.sub(r"_(bucket|sum|count)$", "", name)][0] == HISTOGRAM:
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                labels = METRICS[base][1] | ({"le"} if name.endswith("_bucket") else set())
            elif name in EXTERNAL_METRICS:
                labels = EXTERNAL_METRICS[name] | TARGET_LABELS
            elif name in recorded:
                continue
            else:
                fail(f"{where}: {name} is not a metric the worker exports (nor a recording rule)")
                continue
            used.add(base)
            for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers):
                expect(label in labels or label in TARGET_LABELS,
                       f"{where}: {name} has no label {label!r} (labels: {sorted(labels) or 'none'})")
    unused = sorted(set(METRICS) - used)
    if unused:
        print("note: exported metrics not shown anywhere: " + ", ".join(unused))


# --------------------------------------------------------------------------------------------
# the real worker: probes, metric names, SIGTERM

def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return 0, str(e)


def exposed_families(text: str) -> dict[str, tuple[str, set[str]]]:
    """Family name (as queried: counters with _total) -> (type, label names) from the exposition
    (OpenMetrics or Prometheus text)."""
    families: dict[str, tuple[str, set[str]]] = {}
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        query_name = name + "_total" if kind == "counter" and not name.endswith("_total") else name
        families[query_name] = (kind, set())
    for name, labels in re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? ", text, re.M):
        base = re.sub(r"_(bucket|sum|count|created)$", "", name)
        fam = name if name in families else base if base in families else None
        if fam:
            families[fam][1].update(re.findall(r"(\w+)=\"", labels or ""))
    return families


def cmd_live(args) -> None:
    """Starts `BIN run` on the embedded development broker (in-process, no network) with the
    endpoint on a free loopback port, checks /healthz, /readyz and the metric families against
    the contract above, then sends SIGTERM and expects exit 0 within the grace period."""
    import signal
    import threading
    import time

    binary = str(Path(args[0]).resolve())
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWS_ENRICHER_")}
    env.update(NEWS_ENRICHER_KAFKA__BROKERS="embedded", NEWS_ENRICHER_HTTP__LISTEN="127.0.0.1:0",
               NEWS_ENRICHER_LOG__FORMAT="json", NEWS_ENRICHER_LOG__LEVEL="info")
    proc = subprocess.Popen([binary, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, cwd="/")
    log: list[str] = []
    addr: list[str] = []

    def reader():
        for line in proc.stderr:
            log.append(line.rstrip())
            m = re.search(r"serving /metrics.*?(127\.0\.0\.1:\d+)", line)
            if m and not addr:
                addr.append(m.group(1))

    threading.Thread(target=reader, daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while not addr and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if not expect(bool(addr), f"worker did not report its endpoint (exit {proc.poll()}); log: {log[-5:]}"):
            return
        base = f"http://{addr[0]}"
        expect(http_get(base + "/healthz")[0] == 200, "/healthz is not 200")
        status, body = 0, ""
        while time.monotonic() < deadline:
            status, body = http_get(base + "/readyz")
            if status == 200:
                break
            time.sleep(0.5)
        expect(status == 200, f"/readyz did not become 200 within 30 s on the embedded broker: {status} {body.strip()}")
        status, text = http_get(base + "/metrics")
        if expect(status == 200 and "# TYPE" in text, f"/metrics: {status}"):
            families = exposed_families(text)
            for name, (kind, labels) in sorted(families.items()):
                if not expect(name in METRICS, f"/metrics exposes {name}, which the contract (METRICS) lacks"):
                    continue
                want_kind, want_labels = METRICS[name]
                expect(kind == want_kind, f"/metrics: {name} is a {kind}, the contract says {want_kind}")
                expect(labels - {"le", "quantile"} <= want_labels,
                       f"/metrics: {name} has labels {sorted(labels)}, the contract says {sorted(want_labels)}")
            # The remote families are registered only with a remote model (none here).
            lazy = sorted(n for n in set(METRICS) - set(families) if not n.startswith(REMOTE_PREFIX))
            if lazy:
                print("note: not exposed before their first event: " + ", ".join(lazy))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=45)
                expect(rc == 0, f"SIGTERM: exit status {rc}, expected 0; log: {log[-5:]}")
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                fail("SIGTERM: the worker did not exit within 45 s (terminationGracePeriodSeconds)")
        else:
            fail(f"the worker exited early with status {proc.returncode}; log: {log[-5:]}")


# --------------------------------------------------------------------------------------------

COMMANDS = {
    "dockerfile": cmd_dockerfile,
    "compose": cmd_compose,
    "config": cmd_config,
    "binary-config": cmd_binary_config,
    "k8s": cmd_k8s,
    "prometheusrule": cmd_prometheusrule,
    "dashboard": cmd_dashboard,
    "metrics": cmd_metrics,
    "live": cmd_live,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        COMMANDS[argv[0]](argv[1:])
    except Exception as e:  # a crash is a failed check, with the reason
        fail(f"{argv[0]}: {type(e).__name__}: {e}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
