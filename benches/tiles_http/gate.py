#!/usr/bin/env python3
"""Correctness gate (maps.md §9.4) and per-trace tile statistics for both servers.

Fetches every distinct tile of the trace (or a seeded sample of --sample of them) from
saferplaces and Martin with `Accept-Encoding: gzip`, decodes them with mapbox-vector-tile and
checks, tile by tile: the same status (200/204), the same layer names, extent 4096, feature
counts equal within 1 %, the same property keys with the same Python types, and the same set of
`h3` ids and counts. Then, weighting each tile by how often the trace asks for it, it reports
the status mix and the mean and p95 tile size, gzipped (as sent) and raw.

Exit status 1 when the gate fails. Writes a JSON summary with --json.

Usage: gate.py --trace trace.txt --ours http://127.0.0.1:P1 --token T --martin http://127.0.0.1:P2
"""

import argparse
import collections
import gzip
import json
import random
import sys
import urllib.error
import urllib.request

import mapbox_vector_tile


def get(url, token=None):
    headers = {"Accept-Encoding": "gzip"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            body = r.read()
            enc = r.headers.get("Content-Encoding")
            status = r.status
    except urllib.error.HTTPError as e:
        return e.code, b"", b""
    raw = gzip.decompress(body) if enc == "gzip" else body
    return status, body, raw


def summary(tile):
    """layer -> (extent, feature count, {h3: count}, set of (key, type))."""
    out = {}
    for name, layer in tile.items():
        cells = {}
        keys = set()
        for f in layer["features"]:
            p = f["properties"]
            keys.update((k, type(v).__name__) for k, v in p.items())
            cells[p.get("h3")] = p.get("count")
        out[name] = (layer["extent"], len(layer["features"]), cells, keys)
    return out


def pct(values, q):
    if not values:
        return 0
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--martin", required=True)
    ap.add_argument("--sample", type=int, default=0, help="distinct tiles to check (0 = all)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()

    lines = [l.strip() for l in open(a.trace) if l.strip()]
    weight = collections.Counter(lines)
    tiles = sorted(weight)
    if a.sample and a.sample < len(tiles):
        tiles = sorted(random.Random(a.seed).sample(tiles, a.sample))

    servers = {
        "saferplaces": (a.ours + "/tiles/hexagons/", a.token),
        "martin": (a.martin + "/hexagons/", None),
    }
    stats = {s: {"status": collections.Counter(), "gz": [], "raw": [], "features": []} for s in servers}
    failures = []
    feat_diff = []
    for t in tiles:
        got = {}
        for s, (prefix, tok) in servers.items():
            status, body, raw = get(prefix + t, tok)
            w = weight[t]
            st = stats[s]
            st["status"][status] += w
            if status == 200:
                dec = summary(mapbox_vector_tile.decode(raw))
                st["gz"] += [len(body)] * w
                st["raw"] += [len(raw)] * w
                st["features"] += [sum(v[1] for v in dec.values())] * w
            else:
                dec = {}
            got[s] = (status, dec)
        (s1, d1), (s2, d2) = got["saferplaces"], got["martin"]
        if s1 != s2:
            failures.append(f"{t}: status {s1} vs {s2}")
            continue
        if set(d1) != set(d2):
            failures.append(f"{t}: layers {sorted(d1)} vs {sorted(d2)}")
            continue
        for name in d1:
            e1, n1, c1, k1 = d1[name]
            e2, n2, c2, k2 = d2[name]
            if e1 != 4096 or e2 != 4096:
                failures.append(f"{t}: extent {e1} vs {e2}")
            if abs(n1 - n2) > 0.01 * max(n1, n2):
                failures.append(f"{t}: {n1} vs {n2} features")
            if n1 != n2:
                feat_diff.append((t, n1, n2, sorted(set(c1) ^ set(c2))[:4]))
            if k1 != k2:
                failures.append(f"{t}: keys {sorted(k1)} vs {sorted(k2)}")
            common = set(c1) & set(c2)
            bad = [h for h in common if c1[h] != c2[h]]
            if bad:
                failures.append(f"{t}: {len(bad)} cells with different counts, e.g. {bad[0]}")

    report = {"tiles_checked": len(tiles), "trace_requests": len(lines), "failures": failures,
              "tiles_with_feature_count_difference": len(feat_diff), "servers": {}}
    for s, st in stats.items():
        n = sum(st["status"].values())
        report["servers"][s] = {
            "status_mix_by_trace_weight": {str(k): round(v / n, 4) for k, v in sorted(st["status"].items())},
            "mean_gzip_bytes_200": round(sum(st["gz"]) / max(1, len(st["gz"]))),
            "p95_gzip_bytes_200": pct(st["gz"], 95),
            "mean_raw_bytes_200": round(sum(st["raw"]) / max(1, len(st["raw"]))),
            "p95_raw_bytes_200": pct(st["raw"], 95),
            "mean_features_200": round(sum(st["features"]) / max(1, len(st["features"])), 1),
            "max_features": max(st["features"] or [0]),
        }
    print(json.dumps(report, indent=1))
    for d in feat_diff[:10]:
        print("feature count differs:", d, file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    if failures:
        print(f"GATE FAILED: {len(failures)} problems", file=sys.stderr)
        for x in failures[:20]:
            print("  " + x, file=sys.stderr)
        sys.exit(1)
    print(f"GATE PASSED on {len(tiles)} tiles", file=sys.stderr)


if __name__ == "__main__":
    main()
