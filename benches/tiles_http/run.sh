#!/usr/bin/env bash
# Driver of the issue-5 benchmark: saferplaces against Martin 1.14 + PostGIS, hexagon tiles,
# one viewport trace, wrk closed loop. See README.md for the order of the steps.
#
#   run.sh trace            write $RES/trace.txt (trace.py, seed $SEED)
#   run.sh token            create a vru_analyst user in $DATA, token to $RES/token
#   run.sh export           serve $DATA, export res 5..10 cells to $RES/cells.csv
#   run.sh pg               throwaway PostGIS cluster, load the cells, function source
#   run.sh gate             both servers up, correctness gate + trace statistics
#   run.sh matrix A|B       cache off/on x ABBA (ours, Martin, Martin, ours) x connections
#
# Config A (maps.md §9.6): server and PostgreSQL on core 0, wrk on core 1, saferplaces with
# TOKIO_WORKER_THREADS=1, Martin -W 1; connections 1, 8, 32. Config B: whole box, two
# workers each, wrk unpinned, connections 1, 8, 16 ("load generator competes").
# ORDER (default "saferplaces martin martin saferplaces") and REP_BASE (default 0) let a
# later pass add repeats, e.g. ORDER="saferplaces martin" REP_BASE=4 for a third of each.
# Every run appends one JSON line to $RES/runs.jsonl: wrk's figures, the server's CPU
# seconds (utime+stime from /proc/PID/stat, and every PostgreSQL process for Martin).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SP_BIN=${SP_BIN:-$REPO/target/release/saferplaces}
MARTIN_BIN=${MARTIN_BIN:-/tmp/bench-martin-root/bin/martin}
DATA=${DATA:-/tmp/bench-sp10m}
RES=${RES:-/tmp/bench-tiles-http}
SEED=${SEED:-7}
SP_PORT=${SP_PORT:-18501}
MARTIN_PORT=${MARTIN_PORT:-18502}
DUR=${DUR:-30}
WARM=${WARM:-5}
MARTIN_POOL=${MARTIN_POOL:-4}
export PGDIR=${PGDIR:-/tmp/bench-pg} PGPORT=${PGPORT:-55432}
PY=$HERE/.venv/bin/python
TICK=$(getconf CLK_TCK)
mkdir -p "$RES"

SP_PID= MARTIN_PID=

log() { echo "[$(date +%T)] $*" >&2; }

wait_http() { # url
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.2
  done
  log "timeout waiting for $1"; return 1
}

pg_pids() {
  local pm
  pm=$(head -1 "$PGDIR/data/postmaster.pid")
  echo "$pm" $(pgrep -P "$pm" || true)
}

cpu_ticks() { # pids... -> utime+stime ticks summed
  local t=0 p f
  for p in "$@"; do
    if [ -r "/proc/$p/stat" ]; then
      f=$(sed 's/^.*) //' "/proc/$p/stat")
      set -- $f
      t=$((t + ${12} + ${13}))
    fi
  done
  echo "$t"
}

box_ticks() { # busy ticks of the whole box (user nice system irq softirq steal)
  awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

settle() { # pids...: wait until they use under 2 % of a core over a second (start-up work done)
  local a b
  for _ in $(seq 1 120); do
    a=$(cpu_ticks "$@"); sleep 1; b=$(cpu_ticks "$@")
    [ $((b - a)) -le $((TICK / 50)) ] && return 0
  done
  log "warning: $* still busy"
}

start_sp() { # config cache_mb
  local cfg=$1 cache=$2 pin=() workers=1 t0
  [ "$cfg" = A ] && pin=(taskset -c 0) || workers=2
  t0=$(date +%s.%N)
  SAFERPLACES_TILE_CACHE_MB=$cache TOKIO_WORKER_THREADS=$workers RUST_LOG=warn \
    "${pin[@]}" "$SP_BIN" serve --data-dir "$DATA" --addr "127.0.0.1:$SP_PORT" \
    >>"$RES/saferplaces.log" 2>&1 &
  SP_PID=$!
  wait_http "http://127.0.0.1:$SP_PORT/health"
  log "saferplaces pid $SP_PID ready in $(echo "$(date +%s.%N) - $t0" | bc) s (cache $cache MB, workers $workers)"
  settle "$SP_PID"
}

start_martin() { # config cache_mb|default
  local cfg=$1 cache=$2 pin=() workers=1 cflag=()
  [ "$cfg" = A ] && pin=(taskset -c 0) || workers=2
  [ "$cache" = default ] || cflag=(-C "$cache")
  sed -e "s/\${PGPORT}/$PGPORT/" -e "s/\${MARTIN_POOL}/$MARTIN_POOL/" "$HERE/martin.yaml" >"$RES/martin.yaml"
  RUST_LOG=warn "${pin[@]}" "$MARTIN_BIN" --config "$RES/martin.yaml" -W "$workers" "${cflag[@]}" \
    --listen-addresses "127.0.0.1:$MARTIN_PORT" >>"$RES/martin.log" 2>&1 &
  MARTIN_PID=$!
  wait_http "http://127.0.0.1:$MARTIN_PORT/health"
  log "martin pid $MARTIN_PID ready (cache $cache, workers $workers, pool $MARTIN_POOL)"
}

pin_pg() { # config
  local p
  for p in $(pg_pids); do
    # A backend may exit between listing and pinning: not an error.
    if [ "$1" = A ]; then taskset -cp 0 "$p" >/dev/null 2>&1; else taskset -cp 0-1 "$p" >/dev/null 2>&1; fi || true
  done
}

stop_servers() {
  [ -n "$SP_PID" ] && kill "$SP_PID" 2>/dev/null && wait "$SP_PID" 2>/dev/null || true
  [ -n "$MARTIN_PID" ] && kill "$MARTIN_PID" 2>/dev/null && wait "$MARTIN_PID" 2>/dev/null || true
  SP_PID= MARTIN_PID=
}
trap stop_servers EXIT

token() { cat "$RES/token"; }

prime() { # base prefix auth
  local n=0
  while read -r t; do
    curl -s -o /dev/null -H 'Accept-Encoding: gzip' ${3:+-H "Authorization: Bearer $3"} "$1$2$t"
    n=$((n + 1))
  done < <(sort -u "$RES/trace.txt")
  log "primed $n distinct tiles on $1"
}

one_run() { # config server cache conns rep
  local cfg=$1 server=$2 cache=$3 c=$4 rep=$5 base prefix auth pids wpin=() before after out
  if [ "$server" = saferplaces ]; then
    base=http://127.0.0.1:$SP_PORT prefix=/tiles/hexagons/ auth=$(token) pids=$SP_PID
  else
    base=http://127.0.0.1:$MARTIN_PORT prefix=/hexagons/ auth= pids="$MARTIN_PID $(pg_pids)"
  fi
  [ "$cfg" = A ] && wpin=(taskset -c 1)
  "${wpin[@]}" wrk -t1 -c8 -d"${WARM}s" -s "$HERE/trace.lua" "$base" -- "$prefix" "$RES/trace.txt" "$SEED" "$auth" >/dev/null
  before=$(cpu_ticks $pids) box0=$(box_ticks)
  out=$(/usr/bin/time -f "%U %S" -o "$RES/wrk.time" "${wpin[@]}" wrk -t1 -c"$c" -d"${DUR}s" --timeout 10s \
    -s "$HERE/trace.lua" "$base" -- "$prefix" "$RES/trace.txt" "$SEED" "$auth")
  after=$(cpu_ticks $pids) box1=$(box_ticks)
  # CPU the rest of the box used meanwhile: busy time of the whole box less the server's (and
  # PostgreSQL's) and wrk's — other jobs on a shared machine, plus kernel softirq time.
  local wrk_cpu others
  wrk_cpu=$(awk '{print $1 + $2}' "$RES/wrk.time")
  others=$(awk -v b="$((box1 - box0 - (after - before)))" -v t="$TICK" -v w="$wrk_cpu" 'BEGIN{printf "%.2f", b / t - w}')
  echo "$out" >>"$RES/wrk-raw.txt"
  echo "$out" | grep '^{' | jq -c --arg cfg "$cfg" --arg server "$server" --arg cache "$cache" \
    --argjson conns "$c" --argjson rep "$rep" --argjson cpu "$(awk -v d="$((after - before))" -v t="$TICK" 'BEGIN{printf "%.3f", d / t}')" \
    --argjson wrk_cpu "$wrk_cpu" --argjson others "$others" --arg load "$(cut -d' ' -f1 /proc/loadavg)" \
    --arg non2xx "$(echo "$out" | sed -n 's/.*Non-2xx or 3xx responses: \([0-9]*\).*/\1/p')" \
    '. + {config: $cfg, server: $server, cache: $cache, conns: $conns, rep: $rep, server_cpu_s: $cpu,
         non2xx: ($non2xx | if . == "" then 0 else tonumber end),
         cpu_s_per_1000: ($cpu * 1000 / .requests), wrk_cpu_s: $wrk_cpu, other_jobs_cpu_s: $others,
         loadavg1: ($load | tonumber)}' | tee -a "$RES/runs.jsonl" >&2
}

case "${1:-}" in
  trace)
    python3 "$HERE/trace.py" --seed "$SEED" --out "$RES/trace.txt"
    ;;
  token)
    "$SP_BIN" user add --data-dir "$DATA" --name bench-vru-analyst --role vru_analyst | tail -1 >"$RES/token"
    log "token in $RES/token"
    ;;
  export)
    start_sp B 0
    "$PY" "$HERE/export_cells.py" --base "http://127.0.0.1:$SP_PORT" --token "$(token)" --out "$RES/cells.csv"
    ;;
  pg)
    [ -d "$PGDIR/data" ] || "$HERE/pg.sh" init
    "$HERE/pg.sh" load "$RES/cells.csv"
    ;;
  gate)
    start_sp B 0
    start_martin B 0
    "$PY" "$HERE/gate.py" --trace "$RES/trace.txt" --ours "http://127.0.0.1:$SP_PORT" --token "$(token)" \
      --martin "http://127.0.0.1:$MARTIN_PORT" --json "$RES/gate.json"
    ;;
  matrix)
    cfg=${2:?A or B}
    if [ "$cfg" = A ]; then conns=${CONNS:-"1 8 32"}; else conns=${CONNS:-"1 8 16"}; fi
    for cache in ${CACHES:-off on}; do
      pin_pg "$cfg"
      if [ "$cache" = off ]; then start_sp "$cfg" 0; start_martin "$cfg" 0
      else start_sp "$cfg" 256; start_martin "$cfg" default
        prime "http://127.0.0.1:$SP_PORT" /tiles/hexagons/ "$(token)"
        prime "http://127.0.0.1:$MARTIN_PORT" /hexagons/ ""
      fi
      rep=${REP_BASE:-0}
      for server in ${ORDER:-saferplaces martin martin saferplaces}; do
        rep=$((rep + 1))
        for c in $conns; do
          log "config $cfg cache $cache slot $rep $server c=$c"
          one_run "$cfg" "$server" "$cache" "$c" "$rep"
        done
      done
      grep -h VmHWM /proc/"$SP_PID"/status | sed "s/^/saferplaces cache=$cache /" >>"$RES/memory.txt"
      grep -h VmHWM /proc/"$MARTIN_PID"/status | sed "s/^/martin cache=$cache /" >>"$RES/memory.txt"
      stop_servers
    done
    ;;
  *)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac
