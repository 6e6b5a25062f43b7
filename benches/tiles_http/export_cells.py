#!/usr/bin/env python3
"""Export saferplaces' exact hexagon counts (res 5..10) as CSV for PostGIS.

Asks `GET /api/v1/hexagons?res=R&bbox=...` with an analyst token (exact counts, all dates:
no `from`/`to`, so the server's default window, the data's whole day range, as the tiles
use). A box holding more than the API's 60,000-cell limit is split in four until each part
fits; cells are de-duplicated by id. Each cell's boundary is computed with the `h3` package
(the same H3 algorithm as h3o) at full double precision and written as WKT in lon/lat; the
loader transforms it to EPSG:3857 in PostGIS.

Usage: export_cells.py --base http://127.0.0.1:PORT --token TOKEN --out cells.csv
"""

import argparse
import csv
import json
import sys
import urllib.error
import urllib.request

import h3

# Wider than the study area (-3.12, 51.27, -2.25, 51.69) so that no occupied cell is missed.
EXPORT_BOX = (-3.6, 51.0, -1.8, 52.0)


def fetch(base, token, res, box):
    url = f"{base}/api/v1/hexagons?res={res}&bbox={box[0]},{box[1]},{box[2]},{box[3]}"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        if e.code == 400 and "exceed" in body:
            return None
        raise RuntimeError(f"{url}: {e.code} {body}") from e


def cells_in(base, token, res, box, out):
    fc = fetch(base, token, res, box)
    if fc is None:
        mx, my = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        for part in (
            (box[0], box[1], mx, my),
            (mx, box[1], box[2], my),
            (box[0], my, mx, box[3]),
            (mx, my, box[2], box[3]),
        ):
            cells_in(base, token, res, part, out)
        return
    for f in fc["features"]:
        p = f["properties"]
        if p.get("suppressed"):
            raise RuntimeError("suppressed count: use an analyst token")
        prev = out.get(p["h3"])
        if prev is not None and prev != p["count"]:
            raise RuntimeError(f"cell {p['h3']} has two counts {prev} and {p['count']}")
        out[p["h3"]] = p["count"]


def wkt(cell):
    ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
    ring.append(ring[0])
    return "POLYGON((" + ",".join(f"{x!r} {y!r}" for x, y in ring) + "))"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--res", default="5,6,7,8,9,10")
    a = ap.parse_args()
    total = 0
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        for res in [int(r) for r in a.res.split(",")]:
            cells = {}
            cells_in(a.base, a.token, res, EXPORT_BOX, cells)
            for cell in sorted(cells):
                w.writerow([res, cell, cells[cell], wkt(cell)])
            incidents = sum(cells.values())
            print(f"res {res}: {len(cells)} cells, {incidents} incidents", file=sys.stderr)
            total += len(cells)
    print(f"{total} cells written to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
