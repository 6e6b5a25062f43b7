#!/bin/bash
# Side by side: two release binaries (OLD, NEW), public role, tile cache off, each on its own demo
# store (/tmp/bo for OLD, /tmp/bn for NEW; generate each with its own binary:
#   SAFERPLACES_GEODATA_DIR=geodata $OLD demo --no-serve --data-dir /tmp/bo).
# Usage: OLD=path/to/old/saferplaces NEW=path/to/new/saferplaces [OLD_DIR=/tmp/bo NEW_DIR=/tmp/bn] \
#        benches/issue13_public_paths.sh
set -u
: "${OLD:?set OLD to the old release binary}" "${NEW:?set NEW to the new release binary}"
GEODATA=${SAFERPLACES_GEODATA_DIR:-$(cd "$(dirname "$0")/.." && pwd)/geodata}
W="from=2026-08-01&to=2026-10-31"
Y="from=2025-11-01&to=2026-10-31"
declare -A Q=(
  [hex_general_res8]="/api/v1/hexagons?res=8&$W"
  [hex_general_res8_12m]="/api/v1/hexagons?res=8&$Y"
  [hex_general_res8_all]="/api/v1/hexagons?res=8"
  [hex_child_res7]="/api/v1/hexagons?res=7&$W&category=child-exploitation-concern"
  [tile_hexagons_z12]="/tiles/hexagons/12/2018/1362?$W"
  [tile_hexagons_z12_violent]="/tiles/hexagons/12/2018/1362?$W&category=violent-crime"
  [compare_wards_12m]="/api/v1/areas/compare?scheme=ward&a=E05001972&b=E05001974&$Y&category=public-order"
)
for round in 1 2; do
  for v in OLD NEW; do
    bin=${!v}; if [ $v = OLD ]; then dir=${OLD_DIR:-/tmp/bo}; else dir=${NEW_DIR:-/tmp/bn}; fi
    SAFERPLACES_GEODATA_DIR=$GEODATA SAFERPLACES_WEB_DIR=/tmp SAFERPLACES_TILE_CACHE_MB=0 SAFERPLACES_EQUALITY_MONTHLY=off RUST_LOG=warn \
      taskset -c 0 $bin serve --data-dir $dir --addr 127.0.0.1:18444 > /dev/null 2>&1 &
    pid=$!
    for i in $(seq 1 60); do curl -sf http://127.0.0.1:18444/health >/dev/null && break; sleep 0.5; done
    for name in hex_general_res8 hex_general_res8_12m hex_general_res8_all hex_child_res7 tile_hexagons_z12 tile_hexagons_z12_violent compare_wards_12m; do
      url="http://127.0.0.1:18444${Q[$name]}"
      # The first request computes the protected layer (cold); later ones hit its cache.
      cold=$(curl -s -o /dev/null -w '%{time_total}' "$url")
      bytes=$(curl -s "$url" | wc -c)
      r=$(taskset -c 1 wrk -t1 -c8 -d8s --latency "$url" 2>&1)
      rps=$(echo "$r" | awk '/Requests\/sec/ {print $2}')
      p50=$(echo "$r" | awk '$1=="50%" {print $2}')
      p99=$(echo "$r" | awk '$1=="99%" {print $2}')
      echo "round $round $v $name cold=${cold}s rps=$rps p50=$p50 p99=$p99 bytes=$bytes"
    done
    kill $pid; wait $pid 2>/dev/null
  done
done
