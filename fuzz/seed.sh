#!/usr/bin/env bash
# Builds the seed corpora for the fuzz targets in fuzz/corpus/<target>/ (gitignored).
#
# Seeds come from the repository's own test fixtures (tests/fixtures/) and, when present,
# small slices of the real sample files in ../shared (realdata/ and geodata/ons/): the first
# rows of the police CSVs and a few whole features of the ONS boundary files. Nothing large is
# copied: libFuzzer mutates small inputs far faster, and the slices keep the real quirks (CRLF,
# quoting, the real headers).
#
# Usage: fuzz/seed.sh [SHARED_DIR]    (default: ../shared beside the repository, then
#                                      /work/shared)
# Existing corpus files are kept (libFuzzer names them by content hash, so re-seeding only
# adds). Needs bash, coreutils and python3 (for the GeoJSON seeds).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
fixtures="$repo/tests/fixtures"
shared="${1:-}"
if [[ -z "$shared" ]]; then
  for d in "$repo/../shared" /work/shared; do
    if [[ -d "$d/realdata" ]]; then shared="$d"; break; fi
  done
fi
corpus="$here/corpus"

# seed TARGET NAME [PREFIX_BYTE_OCTAL] < bytes: writes one seed, optionally prefixed by a
# selector byte (agency format, ONS options, GTFS flags).
seed() {
  local dir="$corpus/$1"
  mkdir -p "$dir"
  if [[ $# -ge 3 ]]; then
    { printf "\\$3"; cat; } > "$dir/$2"
  else
    cat > "$dir/$2"
  fi
}

# --- police ------------------------------------------------------------------------------
for f in "$fixtures"/police/street_*.csv; do
  seed police_street "$(basename "$f")" < "$f"
done
for f in "$fixtures"/police/stop_search_*.csv; do
  seed police_stop_search "$(basename "$f")" < "$f"
done
if [[ -n "$shared" ]]; then
  street="$shared/realdata/police_street_avon-and-somerset_2023-01.csv"
  stop="$shared/realdata/police_stop-and-search_avon-and-somerset_2023-01.csv"
  # Header plus the first rows, CRLF kept (head counts \n, so lines stay whole).
  [[ -f "$street" ]] && head -n 40 "$street" | seed police_street real_head40.csv
  [[ -f "$street" ]] && tail -n 20 "$street" | cat <(head -n 1 "$street") - \
    | seed police_street real_tail20.csv
  [[ -f "$stop" ]] && head -n 60 "$stop" | seed police_stop_search real_head60.csv
fi

# --- GIAS, NaPTAN --------------------------------------------------------------------------
for f in "$fixtures"/gias/*.csv; do
  seed gias "$(basename "$f")" < "$f"
done
for f in "$fixtures"/naptan/*.csv; do
  seed naptan "$(basename "$f")" < "$f"
done

# --- agency kinds: byte 0 even = CSV, odd = GeoJSON ------------------------------------------
for kind in incidents places services people links; do
  for f in "$fixtures"/agency/"$kind"*.csv; do
    seed "agency_$kind" "$(basename "$f")" 000 < "$f"
  done
  for f in "$fixtures"/agency/"$kind"*.geojson; do
    [[ -f "$f" ]] && seed "agency_$kind" "$(basename "$f")" 001 < "$f"
  done
  # Kinds with no GeoJSON fixture: the CSV fixtures as FeatureCollections (lon/lat become the
  # Point, every other column a property).
  for f in "$fixtures"/agency/"$kind"*.csv; do
    python3 - "$f" <<'PY' | seed "agency_$kind" "$(basename "$f" .csv).from-csv.geojson" 001
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8-sig")))
features = []
for r in rows:
    lon, lat = r.pop("lon", None), r.pop("lat", None)
    geometry = None
    if lon and lat:
        geometry = {"type": "Point", "coordinates": [float(lon), float(lat)]}
    features.append({"type": "Feature", "geometry": geometry, "properties": r})
json.dump({"type": "FeatureCollection", "features": features}, sys.stdout)
PY
  done
done

# --- GTFS ------------------------------------------------------------------------------------
# gtfs_feed: flag byte, then stops, routes, trips, shapes, stop_times joined by NUL bytes.
feed="$fixtures/gtfs/feed"
joined() {
  local first=1
  for f in stops routes trips shapes stop_times; do
    [[ $first -eq 1 ]] || printf '\0'
    first=0
    cat "$feed/$f.txt"
  done
}
joined | seed gtfs_feed zip_stored 000
joined | seed gtfs_feed zip_deflate 002
joined | seed gtfs_feed folder 001
joined | seed gtfs_feed zip_no_shapes 040   # bit 5: drop shapes.txt (lines from stop times)
# gtfs_zip_raw: real archives, stored (the fixture) and deflated.
seed gtfs_zip_raw feed.zip < "$fixtures/gtfs/feed.zip"
python3 - "$feed" <<'PY' | seed gtfs_zip_raw feed_deflate.zip
import io, os, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(sys.argv[1])):
        z.write(os.path.join(sys.argv[1], name), name)
sys.stdout.buffer.write(buf.getvalue())
PY

# --- ONS boundaries: byte 0 bit 0 clear = fields by pattern, set = LSOA11CD/LSOA11NM -----
# A few whole small features per vintage; LAD outlines are one huge feature each, so their
# rings are thinned (every 40th vertex, ring closed again) to keep the seed small.
if [[ -n "$shared" && -d "$shared/geodata/ons" ]]; then
  for f in "$shared"/geodata/ons/{lsoa11_E06000023,msoa11_E06000022,wards_E06000023,lad_bristol}.geojson; do
    [[ -f "$f" ]] || continue
    base="$(basename "$f" .geojson)"
    python3 - "$f" <<'PY' > "$corpus/.ons_tmp"
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
def thin(ring, step=40):
    if len(ring) <= 200:
        return ring
    out = ring[::step]
    if out[-1] != ring[0]:
        out.append(ring[0])
    return out
def thin_geom(g):
    if g["type"] == "Polygon":
        g["coordinates"] = [thin(r) for r in g["coordinates"]]
    elif g["type"] == "MultiPolygon":
        g["coordinates"] = [[thin(r) for r in p] for p in g["coordinates"]]
    return g
feats = sorted(doc["features"], key=lambda f: len(json.dumps(f)))[:2]
for f in feats:
    f["geometry"] = thin_geom(f["geometry"])
doc["features"] = feats
json.dump(doc, sys.stdout)
PY
    seed ons_boundaries "$base.geojson" 000 < "$corpus/.ons_tmp"
    [[ "$base" == lsoa11_* ]] && seed ons_boundaries "$base.explicit.geojson" 001 < "$corpus/.ons_tmp"
  done
  rm -f "$corpus/.ons_tmp"
fi

for d in "$corpus"/*/; do
  printf '%-22s %3d files %8d bytes\n' "$(basename "$d")" "$(find "$d" -type f | wc -l)" \
    "$(find "$d" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')"
done
