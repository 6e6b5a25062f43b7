#!/bin/bash
# Memory of a server holding 10M imported police.uk rows (issue 15, point 2): the real January
# 2023 Avon and Somerset street file (12,566 rows) imported MONTHS times with the month
# rewritten, in files of CHUNK months each, into a fresh store; then `serve` is started and its
# start-up time and resident memory (idle, and after a burst of tile and hexagon requests) are
# reported, with bytes per incident.
#
# Usage: BIN=target/release/saferplaces [MONTHS=800 CHUNK=40 STORE=/tmp/p10m] \
#        benches/issue15_police10m.sh
# STORE is kept (reused when it already holds the rows).
set -u
: "${BIN:?set BIN to a release binary}"
MONTHS=${MONTHS:-800}; CHUNK=${CHUNK:-40}; STORE=${STORE:-/tmp/p10m}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
STREET=$SHARED/realdata/police_street_avon-and-somerset_2023-01.csv
[ -f "$STREET" ] || { echo "skipped: $STREET is absent"; exit 0; }
PORT=${PORT:-18557}
export SAFERPLACES_GEODATA_DIR=${SAFERPLACES_GEODATA_DIR:-$ROOT/geodata} SAFERPLACES_WEB_DIR=/tmp \
  SAFERPLACES_EQUALITY_MONTHLY=off RUST_LOG=info SAFERPLACES_AUDIT_DIR=$STORE/audit
mkdir -p "$STORE"
stored=$("$BIN" stats --json --data-dir "$STORE" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("incidents", 0))' 2>/dev/null || echo 0)
if [ "${stored:-0}" -lt $(( MONTHS * 12000 )) ]; then
  t0=$(date +%s)
  for (( first = 0; first < MONTHS; first += CHUNK )); do
    python3 - "$STREET" "$first" "$CHUNK" > "$STORE/chunk.csv" <<'PY'
import sys
rows = open(sys.argv[1]).read().splitlines()
first, chunk = int(sys.argv[2]), int(sys.argv[3])
print(rows[0])
for k in range(first, first + chunk):
    month = f"{1971 + k // 12:04d}-{k % 12 + 1:02d}"
    for line in rows[1:]:
        print(line.replace(",2023-01,", f",{month},", 1))
PY
    "$BIN" import police-street --data-dir "$STORE" "$STORE/chunk.csv" > /dev/null 2>&1 \
      || { echo "import of months $first.. failed"; exit 1; }
  done
  rm -f "$STORE/chunk.csv"
  echo "imported $MONTHS months in $(( $(date +%s) - t0 )) s"
fi
"$BIN" serve --data-dir "$STORE" --addr 127.0.0.1:$PORT > "$STORE/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
t0=$(date +%s.%N)
until curl -sf http://127.0.0.1:$PORT/health >/dev/null; do sleep 0.05; done
echo "start-up $(echo "$(date +%s.%N) - $t0" | bc) s"
sed 's/\x1b\[[0-9;]*m//g' "$STORE/serve.log" | grep -a "indexes built" | cut -c1-220
sleep 3
n=$(sed 's/\x1b\[[0-9;]*m//g' "$STORE/serve.log" | grep -a "indexes built" | sed 's/.*incidents=\([0-9]*\).*/\1/')
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
idle=$(rss)
echo "resident $(( idle / 1024 )) MB idle: $(( idle * 1024 / n )) bytes per incident ($n located)"
# 81 public hexagon tiles at zoom 12 around Bristol, and one hexagon query.
for x in $(seq 2014 2022); do for y in $(seq 1358 1366); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/tiles/hexagons/12/$x/$y" || true
done; done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/api/v1/hexagons?res=7&bbox=-3,51,-2,52"
after=$(rss)
echo "resident $(( after / 1024 )) MB after requests: $(( after * 1024 / n )) bytes per incident; peak $(awk '/VmHWM/ {print $2}' /proc/$pid/status | awk '{print int($1/1024)}') MB"
