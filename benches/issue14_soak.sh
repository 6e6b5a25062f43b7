#!/bin/bash
# Soak test for issue 14, point 7: bounded in time, loopback only. Against a release build on a
# private copy of a demo store, an open-loop load mix (benches/load_urls.py, oha at RATE
# requests/s over CONNS connections) runs for DURATION seconds while, one after another, a
# police.uk file is imported, a retention sweep runs and the server is restarted. Every second
# the server's resident memory is sampled. Prints the load's summary (errors, latency
# percentiles) per phase and the memory over time.
#
# Usage: BIN=target/release/saferplaces STORE=/tmp/bn OHA=/work/tools/bin/oha \
#        [RATE=500 CONNS=100 DURATION=60] benches/issue14_soak.sh
set -u
: "${BIN:?set BIN to a release binary}" "${STORE:?set STORE to a demo store directory}"
OHA=${OHA:-oha}
RATE=${RATE:-500}; CONNS=${CONNS:-100}; DURATION=${DURATION:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
STREET=$SHARED/realdata/police_street_avon-and-somerset_2023-01.csv
PORT=${PORT:-18555}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; kill "$(cat "$WORK/pid" 2>/dev/null)" 2>/dev/null; rm -rf "$WORK"' EXIT
if curl -sf http://127.0.0.1:$PORT/health >/dev/null; then echo "port $PORT is in use"; exit 1; fi
cp -a "$STORE" "$WORK/data"
export SAFERPLACES_GEODATA_DIR=${SAFERPLACES_GEODATA_DIR:-$ROOT/geodata} SAFERPLACES_WEB_DIR=/tmp \
  SAFERPLACES_EQUALITY_MONTHLY=off RUST_LOG=warn

start() {
  taskset -c 0 "$BIN" serve --data-dir "$WORK/data" --addr 127.0.0.1:$PORT > "$WORK/serve.$1.log" 2>&1 &
  echo $! > "$WORK/pid"
  for _ in $(seq 1 120); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && return 0; sleep 0.25; done
  echo "server did not start"; return 1
}

start 1
python3 "$ROOT/benches/load_urls.py" http://127.0.0.1:$PORT 20000 > "$WORK/urls.txt"
# Memory sampler: seconds since start, resident KB of whatever server runs now.
( t0=$(date +%s); while true; do
    pid=$(cat "$WORK/pid" 2>/dev/null)
    rss=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ')
    echo "$(( $(date +%s) - t0 )) ${rss:-0}"; sleep 1
  done ) > "$WORK/rss.txt" &
sampler=$!

run_load() { # $1 = phase name, $2 = seconds
  taskset -c 1 "$OHA" --no-tui -q "$RATE" -c "$CONNS" -z "${2}s" --latency-correction \
    --urls-from-file "$WORK/urls.txt" --output-format json > "$WORK/load.$1.json" 2>"$WORK/load.$1.err"
  python3 - "$WORK/load.$1.json" "$1" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
s, p = v["summary"], v["latencyPercentiles"]
codes = v.get("statusCodeDistribution", {})
dist = v.get("errorDistribution", {})
cut = sum(n for e, n in dist.items() if "deadline" in e)
other = {e: n for e, n in dist.items() if "deadline" not in e}
errors = sum(other.values()) + sum(n for c, n in codes.items() if not c.startswith(("2", "3")))
print(f"{sys.argv[2]:<10} requests/s {s['requestsPerSec']:.0f}  errors {errors}  "
      f"p50 {p['p50']*1000:.1f} ms  p99 {p['p99']*1000:.1f} ms  status {codes}  other {other}  cut {cut}")
PY
}

phase=$(( DURATION / 4 ))
run_load warm "$phase"
( sleep 2; "$BIN" import police-street "$STREET" --data-dir "$WORK/data" > "$WORK/import.log" 2>&1 ) &
run_load import "$phase"
( sleep 2; "$BIN" retention sweep --data-dir "$WORK/data" > "$WORK/sweep.log" 2>&1 ) &
run_load sweep "$phase"
( sleep 2; old=$(cat "$WORK/pid"); kill -TERM "$old"
  while kill -0 "$old" 2>/dev/null; do sleep 0.05; done; start 2 ) &
run_load restart "$phase"
kill $sampler
echo "import: $(tail -1 "$WORK/import.log")"
echo "sweep:  $(tail -1 "$WORK/sweep.log")"
echo "resident memory (seconds, MB):"
awk '{ printf "%s %.0f\n", $1, $2/1024 }' "$WORK/rss.txt" | awk 'NR % 5 == 1'
awk '{ if ($2 > m) m = $2 } END { printf "peak %.0f MB\n", m/1024 }' "$WORK/rss.txt"
