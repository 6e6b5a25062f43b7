#!/bin/bash
# Tile throughput of two binaries side by side (issue 15, point 5: "the tile benchmark, ratio to
# today's binary side by side in one run, within 5 %"), loopback only. On a private copy of a
# store, ROUNDS rounds alternate A and B (A B B A ...), each serving the same analyst hexagon
# tiles over Bristol at zooms 11-14 (last year of the data) under closed-loop oha load
# (CONNS connections, SECONDS s after a warm-up), once with the tile cache off (every request
# queries the incident layer) and once with it on (the default; most requests are cache hits).
# Prints each run and the median requests/s, p50 and p99 per binary and phase, and B/A.
#
# Usage: A=/tmp/saferplaces-old B=target/release/saferplaces STORE=/tmp/b10m OHA=oha \
#        [ROUNDS=4 CONNS=50 SECONDS=10 INDEX_B=/tmp/other/incidents.index] benches/issue15_tiles_ab.sh
set -u
: "${A:?set A to the baseline binary}" "${B:?set B to the binary under test}" "${STORE:?set STORE}"
OHA=${OHA:-oha}; ROUNDS=${ROUNDS:-4}; CONNS=${CONNS:-50}; SECONDS_=${SECONDS:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-18558}
WORK=$(mktemp -d)
trap 'kill "$(cat "$WORK/pid" 2>/dev/null)" 2>/dev/null; rm -rf "$WORK"' EXIT
cp -a "$STORE" "$WORK/data"
export SAFERPLACES_GEODATA_DIR=${SAFERPLACES_GEODATA_DIR:-$ROOT/geodata} SAFERPLACES_WEB_DIR=/tmp \
  SAFERPLACES_EQUALITY_MONTHLY=off RUST_LOG=warn SAFERPLACES_AUDIT_DIR=$WORK/audit
TOKEN=$("$B" user add --name ab-bench --role vru_analyst --data-dir "$WORK/data" 2>/dev/null | tail -1)

# INDEX_B: another saved index (incidents.index) of the same store for B, e.g. one cut into
# other chunks; B then serves a copy of the store with that file beside it.
if [ -n "${INDEX_B:-}" ]; then
  cp -a "$WORK/data" "$WORK/data_b" && cp "$INDEX_B" "$WORK/data_b/incidents.index"
fi
serve() { # $1 binary, $2 tile cache MB
  dir=$WORK/data
  if [ "$1" = "$B" ] && [ -n "${INDEX_B:-}" ]; then dir=$WORK/data_b; fi
  SAFERPLACES_TILE_CACHE_MB=$2 "$1" serve --data-dir "$dir" --addr 127.0.0.1:$PORT > "$WORK/serve.log" 2>&1 &
  echo $! > "$WORK/pid"
  until curl -sf http://127.0.0.1:$PORT/health >/dev/null; do
    kill -0 "$(cat "$WORK/pid")" 2>/dev/null || { echo "$1 did not start:"; tail -3 "$WORK/serve.log"; exit 1; }
    sleep 0.05
  done
}
stop() { kill "$(cat "$WORK/pid")"; wait "$(cat "$WORK/pid")" 2>/dev/null; }

serve "$B" 0
python3 "$ROOT/benches/hexagon_tile_urls.py" "$PORT" "$TOKEN" > "$WORK/urls.txt"
stop

run() { # $1 label, $2 binary, $3 cache MB
  serve "$2" "$3"
  "$OHA" --no-tui -c "$CONNS" -z 3s -H "Authorization: Bearer $TOKEN" --urls-from-file "$WORK/urls.txt" > /dev/null 2>&1
  "$OHA" --no-tui -c "$CONNS" -z "${SECONDS_}s" -H "Authorization: Bearer $TOKEN" --urls-from-file "$WORK/urls.txt" \
    --output-format json > "$WORK/r.json" 2>/dev/null
  stop
  python3 - "$WORK/r.json" "$1" >> "$WORK/results.txt" <<'PY'
import json, sys
v = json.load(open(sys.argv[1])); s, p = v["summary"], v["latencyPercentiles"]
print(sys.argv[2], round(s["requestsPerSec"]), round(p["p50"] * 1000, 2), round(p["p99"] * 1000, 2))
PY
  tail -1 "$WORK/results.txt"
}

for r in $(seq 1 "$ROUNDS"); do
  for cache in 0 64; do
    if [ $((r % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
    for side in $order; do
      if [ "$side" = A ]; then bin=$A; else bin=$B; fi
      run "$side-cache$cache" "$bin" "$cache"
    done
  done
done
python3 - "$WORK/results.txt" <<'PY'
import statistics as st, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    k, rps, p50, p99 = line.split(); rows[k].append((float(rps), float(p50), float(p99)))
for cache in ("cache0", "cache64"):
    a, b = rows[f"A-{cache}"], rows[f"B-{cache}"]
    med = lambda xs, i: st.median(x[i] for x in xs)
    print(f"{cache}: A {med(a,0):.0f} rps p50 {med(a,1)} ms p99 {med(a,2)} ms | "
          f"B {med(b,0):.0f} rps p50 {med(b,1)} ms p99 {med(b,2)} ms | B/A requests/s {med(b,0)/med(a,0):.3f}")
PY
