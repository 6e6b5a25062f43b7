#!/bin/bash
# Start-up with and without the saved incident index (issue 15, point 3: "Start-up at 10M:
# state the figure and halve it"), loopback only. On a private copy of a large store (e.g. the
# 10M-incident demo) with a release build, RUNS times each:
#   cold: the saved index removed, so the server decodes every stored incident and builds the
#         index (then saves it in the background: the run waits for "incident index saved");
#   warm: the saved index present, so the server reads it and the segments imported since.
# Prints seconds from `serve` to the first answer of /health and the resident memory then.
#
# Usage: BIN=target/release/saferplaces STORE=/tmp/b10m [RUNS=3] benches/issue15_startup.sh
set -u
: "${BIN:?set BIN to a release binary}" "${STORE:?set STORE to a store directory}"
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-18557}
WORK=$(mktemp -d)
trap 'kill "$(cat "$WORK/pid" 2>/dev/null)" 2>/dev/null; rm -rf "$WORK"' EXIT
cp -a "$STORE" "$WORK/data"
export SAFERPLACES_GEODATA_DIR=${SAFERPLACES_GEODATA_DIR:-$ROOT/geodata} SAFERPLACES_WEB_DIR=/tmp \
  SAFERPLACES_EQUALITY_MONTHLY=off RUST_LOG=info SAFERPLACES_AUDIT_DIR=$WORK/audit

start() { # $1 = label; prints seconds to /health and RSS
  local t0 t1 pid
  t0=$(date +%s.%N)
  "$BIN" serve --data-dir "$WORK/data" --addr 127.0.0.1:$PORT > "$WORK/serve.log" 2>&1 &
  pid=$!; echo $pid > "$WORK/pid"
  until curl -sf http://127.0.0.1:$PORT/health >/dev/null; do sleep 0.02; done
  t1=$(date +%s.%N)
  printf '%-5s start-up %.2f s  RSS %d MB  %s\n' "$1" "$(echo "$t1 - $t0" | bc)" \
    $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) \
    "$(grep -a -o 'incident index read from the saved file\|building the incident index from the store' "$WORK/serve.log" | head -1)"
}
stop() { kill "$(cat "$WORK/pid")"; wait "$(cat "$WORK/pid")" 2>/dev/null; }

for _ in $(seq 1 "$RUNS"); do
  rm -f "$WORK/data/incidents.index"
  start cold
  until grep -aq "incident index saved" "$WORK/serve.log"; do sleep 0.1; done
  grep -a "incident index saved" "$WORK/serve.log" | sed 's/\x1b\[[0-9;]*m//g' | grep -o 'write_ms=[0-9]*'
  stop
  start warm
  stop
done
ls -l "$WORK/data/incidents.index" | awk '{print "saved index:", $5, "bytes"}'
