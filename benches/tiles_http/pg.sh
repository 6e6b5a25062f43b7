#!/usr/bin/env bash
# A throwaway PostgreSQL 15 + PostGIS 3 cluster for the Martin side of the benchmark.
#
#   pg.sh init            initdb in $PGDIR, settings of maps.md §9.6, start, create db + postgis
#   pg.sh load CELLS.csv  (re)load bench.hotspot_cells from export_cells.py's CSV, GiST index,
#                         VACUUM ANALYZE, and (re)create the function source bench.hexagons
#   pg.sh start | stop | psql [ARGS]
#
# Listens on 127.0.0.1:$PGPORT and a Unix socket in $PGDIR; never touches a system server.
# Runs as the unprivileged user `postgres` when invoked as root (initdb refuses root).
set -euo pipefail

PGDIR=${PGDIR:-/tmp/bench-pg}
PGPORT=${PGPORT:-55432}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
HERE=$(cd "$(dirname "$0")" && pwd)

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_psql() {
  as_pg "$PGBIN/psql" -v ON_ERROR_STOP=1 -h "$PGDIR" -p "$PGPORT" -d bench -X -q "$@"
}

case "${1:-}" in
  init)
    mkdir -p "$PGDIR"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
    as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    cat >>"$PGDIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGDIR'
max_connections = 20
shared_buffers = 1GB
max_parallel_workers_per_gather = 0
jit = off
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    "$0" start
    as_pg "$PGBIN/createdb" -h "$PGDIR" -p "$PGPORT" bench
    pg_psql -c 'CREATE EXTENSION postgis; CREATE SCHEMA bench;'
    pg_psql -At -c 'SELECT version(); SELECT postgis_full_version();'
    ;;
  start)
    as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w start >/dev/null
    ;;
  stop)
    as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null
    ;;
  psql)
    shift
    pg_psql "$@"
    ;;
  load)
    csv=$(realpath "$2")
    chmod a+r "$csv"
    pg_psql <<EOF
DROP TABLE IF EXISTS bench.cells_in;
CREATE UNLOGGED TABLE bench.cells_in (res smallint, h3 text, count integer, wkt text);
\copy bench.cells_in FROM '$csv' WITH (FORMAT csv)
DROP TABLE IF EXISTS bench.hotspot_cells;
CREATE TABLE bench.hotspot_cells AS
  SELECT res, h3, count, ST_Transform(ST_GeomFromText(wkt, 4326), 3857)::geometry(Polygon, 3857) AS geom
  FROM bench.cells_in;
DROP TABLE bench.cells_in;
CREATE INDEX hotspot_cells_geom ON bench.hotspot_cells USING gist (geom);
CREATE INDEX hotspot_cells_res ON bench.hotspot_cells (res);
VACUUM ANALYZE bench.hotspot_cells;
EOF
    pg_psql -f "$HERE/hexagons.sql"
    pg_psql -At -c 'SELECT res, count(*), sum(count) FROM bench.hotspot_cells GROUP BY res ORDER BY res'
    ;;
  *)
    echo "usage: $0 init | load CELLS.csv | start | stop | psql [ARGS]" >&2
    exit 2
    ;;
esac
