#!/usr/bin/env python3
"""Markdown tables from run.sh's runs.jsonl: per config, cache and connection count, the
median over the repeats (ABBA slots) of each server, and the saferplaces/Martin ratio.

Usage: summarize.py runs.jsonl
"""

import collections
import json
import statistics
import sys


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    groups = collections.defaultdict(list)
    for r in rows:
        groups[(r["config"], r["cache"], r["conns"], r["server"])].append(r)
    for cfg in sorted({r["config"] for r in rows}):
        print(f"\n### Config {cfg}\n")
        print("| Cache | Conns | Server | Runs | Tiles/s (median; each run) | p50 ms | p99 ms | p99.9 ms "
              "| Errors | Server CPU s / 1,000 tiles | saferplaces ÷ Martin tiles/s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for cache in ("off", "on"):
            for c in sorted({r["conns"] for r in rows if r["config"] == cfg}):
                rps = {}
                for server in ("saferplaces", "martin"):
                    g = groups.get((cfg, cache, c, server), [])
                    if not g:
                        continue
                    rps[server] = med([r["rps"] for r in g])
                    errs = sum(r["non2xx"] + r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
                               for r in g)
                    ratio = ""
                    each = ", ".join(f"{r['rps']:,.0f}" for r in g)
                    if server == "martin" and "saferplaces" in rps:
                        ratio = f"**{rps['saferplaces'] / rps['martin']:.2f}×**"
                    print(f"| {cache} | {c} | {server} | {len(g)} | {rps[server]:,.0f} "
                          f"({each}) "
                          f"| {med([r['p50_ms'] for r in g]):.2f} | {med([r['p99_ms'] for r in g]):.2f} "
                          f"| {med([r['p999_ms'] for r in g]):.2f} | {errs} "
                          f"| {med([r['cpu_s_per_1000'] for r in g]):.3f} | {ratio} |")


if __name__ == "__main__":
    main()
