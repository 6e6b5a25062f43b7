#!/bin/bash
# Load held (issue 14, point 3). A release server pinned to core 0 on a demo store; oha on
# core 1 sends an open-loop mix (benches/load_urls.py: tiles 50 %, hexagons 15 %, area
# comparison 10 %, hot spots 15 %, health 10 %, all anonymous and from the fixed releases) at
# RATE requests/s over CONNS connections for DURATION seconds, with latency corrected for
# coordinated omission, after one warm-up pass at a low rate (the first requests of each month
# and analysis compute them once per data version). Then 100 distinct anonymous expensive
# requests at once (emerging hot spots over 100 different month windows and resolutions), with
# the server's resident memory before, at its peak and after.
#
# Usage: BIN=target/release/saferplaces STORE=/tmp/bn2 OHA=/work/tools/bin/oha \
#        [RATE=1000 CONNS=200 DURATION=60 WARM=30] benches/issue14_load.sh
set -u
: "${BIN:?set BIN}" "${STORE:?set STORE}"
OHA=${OHA:-oha}; RATE=${RATE:-1000}; CONNS=${CONNS:-200}; DURATION=${DURATION:-60}; WARM=${WARM:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-18444}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
SAFERPLACES_GEODATA_DIR=$ROOT/geodata SAFERPLACES_WEB_DIR=/tmp SAFERPLACES_EQUALITY_MONTHLY=off RUST_LOG=warn \
  taskset -c 0 "$BIN" serve --data-dir "$STORE" --addr 127.0.0.1:$PORT > "$WORK/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.25; done
rss() { ps -o rss= -p $pid | awk '{printf "%.0f", $1/1024}'; }
python3 "$ROOT/benches/load_urls.py" http://127.0.0.1:$PORT 20000 > "$WORK/urls.txt"
summary() {
  python3 - "$1" "$2" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
s, p = v["summary"], v["latencyPercentiles"]
codes = v.get("statusCodeDistribution", {})
dist = v.get("errorDistribution", {})
# oha counts the requests still in flight when the duration ends as "aborted due to deadline".
cut = sum(n for e, n in dist.items() if "deadline" in e)
errors = sum(dist.values()) - cut + sum(n for c, n in codes.items() if not c.startswith(("2", "3")))
print(f"{sys.argv[2]}: {s['requestsPerSec']:.0f} requests/s, errors {errors}, "
      f"p50 {p['p50']*1000:.2f} ms, p99 {p['p99']*1000:.2f} ms, p99.9 {p['p99.9']*1000:.2f} ms, "
      f"status {codes}, cut at the deadline {cut}, other errors {dict((e, n) for e, n in dist.items() if 'deadline' not in e)}")
PY
}
echo "idle resident memory: $(rss) MB"
taskset -c 1 "$OHA" --no-tui -q 100 -c 20 -z "${WARM}s" --latency-correction --urls-from-file "$WORK/urls.txt" \
  --output-format json > "$WORK/warm.json" 2>/dev/null
summary "$WORK/warm.json" "warm-up (100/s, ${WARM} s)"
taskset -c 1 "$OHA" --no-tui -q "$RATE" -c "$CONNS" -z "${DURATION}s" --latency-correction \
  --urls-from-file "$WORK/urls.txt" --output-format json > "$WORK/load.json" 2>/dev/null
summary "$WORK/load.json" "load (${RATE}/s, ${CONNS} connections, ${DURATION} s)"
echo "resident memory after the load: $(rss) MB"
# 100 distinct anonymous expensive requests at once.
python3 - "$ROOT" http://127.0.0.1:$PORT > "$WORK/expensive.txt" <<'PY'
import json, sys, urllib.request
base = sys.argv[2]
last = json.load(urllib.request.urlopen(base + "/api/v1/meta"))["data_to"]
y, m = int(last[:4]), int(last[5:7])
months = [((y * 12 + m - 1 - k) // 12, (y * 12 + m - 1 - k) % 12 + 1) for k in range(1, 25)][::-1]
urls = []
for res in (6, 7, 8):
    for a in range(len(months)):
        for b in range(a + 5, len(months), 6):
            (ya, ma), (yb, mb) = months[a], months[b]
            urls.append(f"{base}/api/v1/emerging?res={res}&from={ya:04d}-{ma:02d}-01&to={yb:04d}-{mb:02d}-28")
print("\n".join(urls[:100]))
PY
before=$(rss); peak=$before
( while kill -0 $pid 2>/dev/null; do r=$(rss); echo "$r"; sleep 0.2; done ) > "$WORK/rss.txt" &
sampler=$!
start=$(date +%s.%N)
xargs -P 100 -n 1 curl -s -o /dev/null -w '%{http_code}\n' < "$WORK/expensive.txt" | sort | uniq -c | tr '\n' ' '
echo " (status counts of the 100 requests, $(echo "$(date +%s.%N) - $start" | bc) s)"
sleep 1; kill $sampler
peak=$(sort -n "$WORK/rss.txt" | tail -1)
echo "resident memory: before the 100 requests $before MB, peak $peak MB, after $(rss) MB"
kill $pid; wait $pid 2>/dev/null
