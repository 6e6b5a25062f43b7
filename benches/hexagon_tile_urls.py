"""Hexagon tile URLs over Bristol at zooms 11-14 for the last year of a running server's data.

Usage: python3 benches/hexagon_tile_urls.py PORT TOKEN > urls.txt  (used by the issue 15 scripts)
"""
import datetime as dt
import json
import math
import sys
import urllib.request

port, token = sys.argv[1], sys.argv[2]
req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/meta", headers={"Authorization": f"Bearer {token}"})
to = dt.date.fromisoformat(json.load(urllib.request.urlopen(req))["data_to"])
window = f"from={to - dt.timedelta(days=364)}&to={to}"


def tile(lon, lat, z):
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


for z in (11, 12, 13, 14):
    x0, y0 = tile(-2.70, 51.50, z)
    x1, y1 = tile(-2.50, 51.40, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            print(f"http://127.0.0.1:{port}/tiles/hexagons/{z}/{x}/{y}?{window}")
