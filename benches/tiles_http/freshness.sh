#!/usr/bin/env bash
# Freshness (maps.md §9.7 step 6), both servers with their caches on (defaults), whole box.
#
# saferplaces: import 100 agency incidents at one point (central Bristol) into the running
# server's store with `saferplaces import incidents`, then poll the z14 tile holding the point
# every 100 ms until its bytes change; time from the end of the import command.
# Martin: add 100 to the counts of the cells holding the same point (res 5..10) in PostGIS,
# then poll the same tile for POLL_S seconds.
#
# It writes to $DATA's store and to bench.hotspot_cells: run it last, after the timed runs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SP_BIN=${SP_BIN:-$REPO/target/release/saferplaces}
MARTIN_BIN=${MARTIN_BIN:-/tmp/bench-martin-root/bin/martin}
DATA=${DATA:-/tmp/bench-sp10m}
RES=${RES:-/tmp/bench-tiles-http}
SP_PORT=${SP_PORT:-18501}
MARTIN_PORT=${MARTIN_PORT:-18502}
POLL_S=${POLL_S:-60}
export PGDIR=${PGDIR:-/tmp/bench-pg} PGPORT=${PGPORT:-55432}
LON=-2.5833 LAT=51.4545
TOK=$(cat "$RES/token")
read -r Z X Y < <(python3 -c "
import math
lon, lat, z = $LON, $LAT, 14
n = 2 ** z
s = math.sin(math.radians(lat))
print(z, int((lon + 180) / 360 * n), int((0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n))")
SP_URL=http://127.0.0.1:$SP_PORT/tiles/hexagons/$Z/$X/$Y
M_URL=http://127.0.0.1:$MARTIN_PORT/hexagons/$Z/$X/$Y

SP_PID= MARTIN_PID=
cleanup() { for p in $SP_PID $MARTIN_PID; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1 600); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; return 1; }
digest() { curl -s -H 'Accept-Encoding: gzip' ${2:+-H "Authorization: Bearer $2"} "$1" | md5sum | cut -c1-32; }
now() { date +%s.%N; }

RUST_LOG=warn "$SP_BIN" serve --data-dir "$DATA" --addr "127.0.0.1:$SP_PORT" >>"$RES/saferplaces.log" 2>&1 &
SP_PID=$!
sed -e "s/\${PGPORT}/$PGPORT/" -e "s/\${MARTIN_POOL}/4/" "$HERE/martin.yaml" >"$RES/martin.yaml"
RUST_LOG=warn "$MARTIN_BIN" --config "$RES/martin.yaml" -W 2 --listen-addresses "127.0.0.1:$MARTIN_PORT" >>"$RES/martin.log" 2>&1 &
MARTIN_PID=$!
wait_http "http://127.0.0.1:$SP_PORT/health"
wait_http "http://127.0.0.1:$MARTIN_PORT/health"
sleep 20 # start-up work (retention sweep) done
echo "tile $Z/$X/$Y"

# saferplaces
before=$(digest "$SP_URL" "$TOK"); digest "$SP_URL" "$TOK" >/dev/null # second fetch is a cache hit
csv=$RES/fresh.csv
echo "ref,category,date,month,time,lon,lat,location_precision,involves_child,grade" >"$csv"
for i in $(seq -w 1 100); do echo "FRESH-$i-$RANDOM,Drugs,2026-06-15,,12:00,$LON,$LAT,exact,false," >>"$csv"; done
"$SP_BIN" import incidents "$csv" --data-dir "$DATA" --agency bench-freshness --json | tail -1
t0=$(now)
while :; do
  d=$(digest "$SP_URL" "$TOK")
  if [ "$d" != "$before" ]; then
    echo "saferplaces: tile changed $(echo "$(now) - $t0" | bc) s after the import committed"
    break
  fi
  if [ "$(echo "$(now) - $t0 > $POLL_S" | bc)" = 1 ]; then echo "saferplaces: unchanged after $POLL_S s"; break; fi
  sleep 0.1
done

# Martin
before=$(digest "$M_URL"); digest "$M_URL" >/dev/null
cells=$("$HERE/.venv/bin/python" -c "
import h3
print(','.join(repr(h3.latlng_to_cell($LAT, $LON, r)) for r in range(5, 11)))")
"$HERE/pg.sh" psql -c "UPDATE bench.hotspot_cells SET count = count + 100 WHERE h3 IN ($cells)"
t0=$(now)
while :; do
  d=$(digest "$M_URL")
  if [ "$d" != "$before" ]; then
    echo "martin: tile changed $(echo "$(now) - $t0" | bc) s after the UPDATE committed"
    break
  fi
  if [ "$(echo "$(now) - $t0 > $POLL_S" | bc)" = 1 ]; then echo "martin (cache on): unchanged after $POLL_S s"; break; fi
  sleep 0.1
done
"$HERE/pg.sh" psql -c "UPDATE bench.hotspot_cells SET count = count - 100 WHERE h3 IN ($cells)"
