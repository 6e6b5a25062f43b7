#!/usr/bin/env python3
"""URL list for the issue 14 load mix (point 3), one URL per line, in the proportions of the
issue: tiles 50 %, hexagons 15 %, area comparison 10 %, hot spots 15 %, health 10 %. Every
request is one an anonymous user may send and asks for a fixed release (whole months, fixed
resolutions, schemes' areas), so the server answers them from its caches once warm.

Usage: benches/load_urls.py BASE_URL [N] > urls.txt   (BASE_URL like http://127.0.0.1:18444)
It reads the data's months and the ward codes from the running server.
"""
import json
import math
import random
import sys
import urllib.request


def get(base, path):
    with urllib.request.urlopen(base + path) as r:
        return json.load(r)


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def main():
    base = sys.argv[1].rstrip("/")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    rnd = random.Random(14)
    meta = get(base, "/api/v1/meta")
    last = meta["data_to"]
    y, m = int(last[:4]), int(last[5:7])
    # The twelve whole months before the last month of the data.
    months = []
    for k in range(1, 13):
        mm = (y * 12 + (m - 1) - k)
        months.append((mm // 12, mm % 12 + 1))
    months.reverse()

    def month_end(yy, mm):
        nxt = yy * 12 + mm  # next month index
        ny, nm = nxt // 12, nxt % 12 + 1
        import datetime
        return (datetime.date(ny, nm, 1) - datetime.timedelta(days=1)).isoformat()

    def window():
        a = rnd.randrange(12)
        b = rnd.randrange(a, min(12, a + 3))
        (ya, ma), (yb, mb) = months[a], months[b]
        return f"from={ya:04d}-{ma:02d}-01&to={month_end(yb, mb)}"

    wards = [f["properties"]["code"] for f in get(base, "/api/v1/boundaries?scheme=ward")["features"]]
    categories = ["", "&category=violent-crime", "&category=anti-social-behaviour", "&category=burglary"]
    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.50:
            z = rnd.choice([11, 12, 13, 14])
            lon = rnd.uniform(-2.70, -2.50)
            lat = rnd.uniform(51.40, 51.52)
            x, yy = tile_of(lon, lat, z)
            out.append(f"{base}/tiles/hexagons/{z}/{x}/{yy}?{window()}{rnd.choice(categories)}")
        elif r < 0.65:
            res = rnd.choice([6, 7, 8])
            out.append(f"{base}/api/v1/hexagons?res={res}&bbox=-2.70,51.40,-2.50,51.52&{window()}{rnd.choice(categories)}")
        elif r < 0.75:
            a, b = rnd.sample(wards, 2)
            out.append(f"{base}/api/v1/areas/compare?scheme=ward&a={a}&b={b}&{window()}{rnd.choice(categories)}")
        elif r < 0.90:
            res = rnd.choice([7, 8])
            out.append(f"{base}/api/v1/hotspots?res={res}&{window()}")
        else:
            out.append(f"{base}/health")
    print("\n".join(out))


if __name__ == "__main__":
    main()
