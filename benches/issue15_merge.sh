#!/bin/bash
# Tile throughput while incident runs merge into a new base (issue 15, point 3), loopback only.
# On a private copy of a large store (e.g. the 10M-incident demo) with a release build:
#   1. closed-loop tile load (oha, CONNS connections, SECONDS s) at steady state;
#   2. one import large enough that its run passes the merge threshold (an eighth of the base:
#      REPEAT months of the real January 2023 police.uk file, 12,566 rows each, in one file),
#      which starts the background merge;
#   3. the same tile load while the merge runs (from the moment the import is served until
#      /health reports no runs), and again afterwards.
# Prints requests/s, p50 and p99 of each phase and how long the merge took.
#
# Usage: BIN=target/release/saferplaces STORE=/tmp/b10m OHA=/work/tools/bin/oha \
#        [REPEAT=110 CONNS=50 SECONDS=10 SLICES=15] benches/issue15_merge.sh
set -u
: "${BIN:?set BIN to a release binary}" "${STORE:?set STORE to a store directory}"
OHA=${OHA:-oha}
REPEAT=${REPEAT:-110}; CONNS=${CONNS:-50}; SECONDS_=${SECONDS:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
STREET=$SHARED/realdata/police_street_avon-and-somerset_2023-01.csv
[ -f "$STREET" ] || { echo "skipped: $STREET is absent"; exit 0; }
PORT=${PORT:-18556}
WORK=$(mktemp -d)
trap 'kill "$(cat "$WORK/pid" 2>/dev/null)" 2>/dev/null; rm -rf "$WORK"' EXIT
cp -a "$STORE" "$WORK/data"
# The tile cache is off and the tiles are an analyst's (exact counts from the index), so every
# request queries the incident layer: what a merge competes with. (Cached tiles are keyed by
# the data version, which a merge does not move.)
export SAFERPLACES_GEODATA_DIR=${SAFERPLACES_GEODATA_DIR:-$ROOT/geodata} SAFERPLACES_WEB_DIR=/tmp \
  SAFERPLACES_EQUALITY_MONTHLY=off RUST_LOG=info SAFERPLACES_AUDIT_DIR=$WORK/audit \
  SAFERPLACES_TILE_CACHE_MB=0
TOKEN=$("$BIN" user add --name merge-bench --role vru_analyst --data-dir "$WORK/data" 2>/dev/null | tail -1)

${WRAP:-} "$BIN" serve --data-dir "$WORK/data" --addr 127.0.0.1:$PORT > "$WORK/serve.log" 2>&1 &
echo $! > "$WORK/pid"
for _ in $(seq 1 240); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.25; done

# Hexagon tiles over Bristol at zooms 11-14 for the last year of the data.
python3 "$ROOT/benches/hexagon_tile_urls.py" "$PORT" "$TOKEN" > "$WORK/urls.txt"

load() { # $1 = phase, $2 = seconds
  "$OHA" --no-tui -c "$CONNS" -z "${2}s" -H "Authorization: Bearer $TOKEN" --urls-from-file "$WORK/urls.txt" --output-format json \
    > "$WORK/load.$1.json" 2>/dev/null
  python3 - "$WORK/load.$1.json" "$1" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
s, p = v["summary"], v["latencyPercentiles"]
codes = v.get("statusCodeDistribution", {})
if p.get("p50") is None:
    sys.exit(f"{sys.argv[2]}: no request succeeded: {v.get('errorDistribution')}")
print(f"{sys.argv[2]:<8} requests/s {s['requestsPerSec']:.0f}  p50 {p['p50']*1000:.2f} ms  p99 {p['p99']*1000:.2f} ms  status {codes}")
PY
}

load warm 5 > /dev/null
load steady "$SECONDS_"
python3 - "$STREET" "$REPEAT" > "$WORK/big.csv" <<'PY'
import sys
rows = open(sys.argv[1]).read().splitlines()
print(rows[0])
for k in range(int(sys.argv[2])):
    month = f"{1990 + k // 12:04d}-{k % 12 + 1:02d}"
    for line in rows[1:]:
        print(line.replace(",2023-01,", f",{month},", 1))
PY
# Resident memory: steady now; the peak (VmHWM, reset here) covers the import, the merge and
# the load during and after it.
SPID=$(cat "$WORK/pid")
rss() { awk "/$1/ {print int(\$2 / 1024)}" /proc/$SPID/status; }
steady_rss=$(rss VmRSS)
# Resident memory every 0.2 s from here on, for the timeline printed at the end.
timeline_start=$(date -u +%H:%M:%S.%N)
( start=$(date +%s.%N); while kill -0 "$SPID" 2>/dev/null; do
    echo "$(echo "$(date +%s.%N) - $start" | bc) $(rss VmRSS) $(rss RssAnon)"; sleep 0.2; done ) > "$WORK/rss.txt" 2>/dev/null &
sampler=$!
echo 5 > /proc/$SPID/clear_refs 2>/dev/null || echo "cannot reset the peak (VmHWM is since start)"
before=$(curl -sf http://127.0.0.1:$PORT/health | python3 -c 'import json,sys; print(json.load(sys.stdin)["data_version"])')
t0=$(date +%s.%N)
"$BIN" import police-street --data-dir "$WORK/data" "$WORK/big.csv" > /dev/null 2>&1
t1=$(date +%s.%N)
while [ "$(curl -sf http://127.0.0.1:$PORT/health | python3 -c 'import json,sys; print(json.load(sys.stdin)["data_version"])')" = "$before" ]; do sleep 0.01; done
t2=$(date +%s.%N)
echo "import of $(( REPEAT * 12566 )) rows: $(echo "$t1 - $t0" | bc) s; served $(echo "$t2 - $t1" | bc) s after"
# Load while the merge runs; the merge ends when /health reports no runs.
( while [ "$(curl -sf http://127.0.0.1:$PORT/health | python3 -c 'import json,sys; print(json.load(sys.stdin)["incident_runs"])')" != 0 ]; do sleep 0.05; done
  echo "merge done $(echo "$(date +%s.%N) - $t2" | bc) s after the import was served" ) &
watcher=$!
if [ -n "${SLICES:-}" ]; then
  # SLICES=N: the same load as N one-second loads in a row, to see which part of the window
  # (update, calibrations, merge steps) costs throughput.
  for k in $(seq 1 "$SLICES"); do load "second-$k" 1; done
else
  load merging "$SECONDS_"
fi
wait $watcher
load after "$SECONDS_"
peak_rss=$(rss VmHWM)
echo "resident memory: steady $steady_rss MB, peak during the import and merge $peak_rss MB ($(echo "scale=2; $peak_rss / $steady_rss" | bc) x), after $(rss VmRSS) MB"
kill $sampler 2>/dev/null
echo "resident memory over time (second since $timeline_start UTC: largest sample, MB, (anonymous)):"
awk '{ s = int($1); if (!(s in m) || $2 > m[s]) { m[s] = $2; a[s] = $3 } if (s > last) last = s }
     END { line = ""; for (i = 0; i <= last; i++) if (i in m) line = line sprintf(" %d:%d(%d)", i, m[i], a[i]); print line }' "$WORK/rss.txt" | fold -s -w 120
grep -a "incident runs merged\|memory\|calibrated" "$WORK/serve.log" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-200
