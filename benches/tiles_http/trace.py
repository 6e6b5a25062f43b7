#!/usr/bin/env python3
"""Seeded viewport trace: a random walk of map views expanded to the tiles each view needs.

Writes one `z/x/y` line per tile request, in walk order, repeats kept (a real client asks
for the same tile again when it pans back). Both servers get the same lines; the load
script prefixes them with each server's tile path.

Model: a MapLibre map of 1280x800 CSS px with 512-px vector tiles. At map zoom Z (fractional)
it asks for tiles of zoom floor(Z), each drawn 512 * 2^(Z - floor(Z)) px wide, covering the
viewport. The walk starts over central Bristol at Z 11 and per step pans by up to 0.8 of a
viewport, or zooms by +-1 or +-0.5 (drifting back to Z 12), or, 5 % of the time, jumps out to Z 5-7 and back
in. The centre stays over the data (lon -2.95..-2.35, lat 51.33..51.60, inside the study area
lon -3.12..-2.25, lat 51.27..51.69); views still reach past the data, so empty tiles (204) occur.

Usage: trace.py [--views 300] [--seed 5] [--out trace.txt]
"""

import argparse
import math
import random

STUDY = (-3.12, 51.27, -2.25, 51.69)
# Where the synthetic incidents are (the West of England authorities; the study box also holds
# the Bristol Channel and land outside the four authorities, with no data). View centres stay
# here so that most tiles carry hexagons, as for a user looking at the data.
CENTRES = (-2.95, 51.33, -2.35, 51.60)
VIEW_W, VIEW_H = 1280, 800
TILE_PX = 512


def world_px(lon, lat, z):
    """Web Mercator pixel position at zoom z (512-px tiles)."""
    size = TILE_PX * 2**z
    x = (lon + 180.0) / 360.0 * size
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * size
    return x, y


def tiles_for_view(lon, lat, zoom):
    tz = math.floor(zoom)
    scale = 2 ** (zoom - tz)  # how many screen px one tile px takes
    cx, cy = world_px(lon, lat, tz)
    half_w = VIEW_W / 2 / scale
    half_h = VIEW_H / 2 / scale
    n = 2**tz
    x0 = max(0, math.floor((cx - half_w) / TILE_PX))
    x1 = min(n - 1, math.floor((cx + half_w) / TILE_PX))
    y0 = max(0, math.floor((cy - half_h) / TILE_PX))
    y1 = min(n - 1, math.floor((cy + half_h) / TILE_PX))
    # MapLibre loads centre tiles first; order by distance from the centre.
    tiles = [(tz, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    tiles.sort(key=lambda t: ((t[1] + 0.5) * TILE_PX - cx) ** 2 + ((t[2] + 0.5) * TILE_PX - cy) ** 2)
    return tiles


def clamp(v, lo, hi):
    return max(lo, min(hi, v))


def walk(views, seed):
    rng = random.Random(seed)
    lon, lat, zoom = -2.59, 51.45, 11.0
    saved = None  # where to return after a jump out
    out = []
    for _ in range(views):
        out.append((lon, lat, zoom))
        r = rng.random()
        if saved is not None:
            lon, lat, zoom = saved
            saved = None
        elif r < 0.05:
            saved = (lon, lat, zoom)
            zoom = float(rng.choice([5, 6, 7]))
        elif r < 0.30:
            # Zoom in or out by a level (sometimes half), drifting back towards Z 12.
            step = rng.choice([-1.0, -0.5, 0.5, 1.0])
            if rng.random() < 0.3:
                step = math.copysign(abs(step), 12.0 - zoom) if zoom != 12.0 else step
            zoom = clamp(zoom + step, 8.0, 14.0)
        else:
            # Pan by up to 0.8 of a viewport in metres at this zoom.
            m_per_px = 156543.03 * math.cos(math.radians(lat)) / 2**zoom / 2  # 512-px tiles
            dx = rng.uniform(-0.8, 0.8) * VIEW_W * m_per_px
            dy = rng.uniform(-0.8, 0.8) * VIEW_H * m_per_px
            lon = clamp(lon + dx / (111320.0 * math.cos(math.radians(lat))), CENTRES[0], CENTRES[2])
            lat = clamp(lat + dy / 110540.0, CENTRES[1], CENTRES[3])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--views", type=int, default=300)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", default="trace.txt")
    a = ap.parse_args()
    lines = []
    zooms = {}
    for lon, lat, zoom in walk(a.views, a.seed):
        for z, x, y in tiles_for_view(lon, lat, zoom):
            lines.append(f"{z}/{x}/{y}")
            zooms[z] = zooms.get(z, 0) + 1
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{a.views} views -> {len(lines)} tile requests, {len(set(lines))} distinct")
    print("requests per zoom:", dict(sorted(zooms.items())))


if __name__ == "__main__":
    main()
