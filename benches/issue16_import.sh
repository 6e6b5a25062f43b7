#!/bin/bash
# Import rate into PostgreSQL beside SQLite, side by side in one run (issue 16, point 3; target
# >= 200,000 police.uk rows/s end to end into PostgreSQL). One police.uk street file of about
# ROWS rows (the real January 2023 Avon and Somerset file, its month rewritten so every copy is
# new rows) is imported with the release binary's `saferplaces import police-street`, the
# whole process timed (read, hash, parse, store, commit), ROUNDS times into a fresh SQLite
# store and into a fresh database of a throwaway PostgreSQL 15 cluster (initdb/pg_ctl on a
# Unix socket under /tmp, default durability: fsync on), alternating SQLite, PostgreSQL,
# PostgreSQL, SQLite, ... Then the file is imported into PostgreSQL again (stores 0).
# Prints each run and the medians.
#
# Usage: [BIN=target/release/saferplaces ROWS=1000000 ROUNDS=3] benches/issue16_import.sh
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release/saferplaces}
ROWS=${ROWS:-1000000}; ROUNDS=${ROUNDS:-3}
STREET=$ROOT/../shared/realdata/police_street_avon-and-somerset_2023-01.csv
[ -f "$STREET" ] || { echo "skipped: $STREET is absent"; exit 0; }
PGBIN=/usr/lib/postgresql/15/bin
WORK=$(mktemp -d /tmp/sp-imp-XXXX)
AS=(); if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); chown postgres "$WORK"; fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres --data-checksums > /dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w start \
  -o "-k $WORK -c listen_addresses='' -p $PORT -c shared_buffers=1GB -c max_wal_size=4GB" > /dev/null
trap '"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop > /dev/null; rm -rf "$WORK"' EXIT
psql() { "$PGBIN/psql" -h "$WORK" -p "$PORT" -U postgres -q "$@"; }
python3 - "$STREET" "$ROWS" "$WORK/street.csv" <<'PY'
import sys
rows = open(sys.argv[1]).read().splitlines()
header, body, want = rows[0], rows[1:], int(sys.argv[2])
with open(sys.argv[3], "w") as f:
    f.write(header + "\n")
    k = 0
    while k * len(body) < want:
        month = f"{2001 + k // 12:04d}-{k % 12 + 1:02d}"
        for line in body:
            f.write(line.replace(",2023-01,", f",{month},", 1) + "\n")
        k += 1
PY
N=$(($(wc -l < "$WORK/street.csv") - 1))
export SAFERPLACES_GEODATA_DIR=$ROOT/geodata RUST_LOG=warn
one() { # $1 sqlite|postgres, $2 round
  rm -rf "$WORK/data"; mkdir -p "$WORK/data"
  if [ "$1" = postgres ]; then
    psql -c "DROP DATABASE IF EXISTS sp$2" -c "CREATE DATABASE sp$2"
    export SAFERPLACES_DATABASE_URL="host=$WORK port=$PORT user=postgres dbname=sp$2"
    "$BIN" migrate > /dev/null
  else
    unset SAFERPLACES_DATABASE_URL
    "$BIN" stats --data-dir "$WORK/data" > /dev/null   # creates the store: not timed
  fi
  t0=$(date +%s.%N)
  "$BIN" import police-street "$WORK/street.csv" --data-dir "$WORK/data" > "$WORK/out.txt"
  t1=$(date +%s.%N)
  python3 -c "import sys; t=$t1-$t0; print(f'$1 round $2: {t:.2f} s, {$N/t:,.0f} rows/s')" | tee -a "$WORK/results.txt"
  grep -o ', stored [0-9]*' "$WORK/out.txt" | head -1 | cut -c3-
}
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then one sqlite "$r"; one postgres "$r"; else one postgres "$r"; one sqlite "$r"; fi
done
t0=$(date +%s.%N)
"$BIN" import police-street "$WORK/street.csv" --data-dir "$WORK/data" > "$WORK/out.txt"
t1=$(date +%s.%N)
echo "postgres re-import (stores 0): $(python3 -c "print(f'{$t1-$t0:.2f}')") s; $(grep -o ', stored [0-9]*' "$WORK/out.txt" | head -1 | cut -c3-)"
python3 - "$WORK/results.txt" "$N" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for store in ("sqlite", "postgres"):
    ts = [float(r[3]) for r in rows if r[0] == store]
    print(f"{store}: median {statistics.median(ts):.2f} s = {int(sys.argv[2]) / statistics.median(ts):,.0f} rows/s over {len(ts)} rounds")
PY
