#!/usr/bin/env python3
"""How soon a new incident's near-repeat risk window is served (issue 6, point 4).

Starts `saferplaces demo` (release build) on a fresh data directory, asks for the risk
windows once (the first Knox calibration), then N times: imports one new incident dated the
day after the current as-of day with `saferplaces import incidents`, and polls
`/api/v1/risk-windows` every 10 ms from the moment the import command exits until the new
incident's res-9 cell is listed. Prints each time, the median and the worst, and how long the
current calibration took to follow.

    .venv/bin/python benches/risk_freshness.py [--runs 5] [--bin target/release/saferplaces]

Needs h3 (in the reference virtual environment `make test` creates).
"""

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import h3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def get(base, token, path):
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/saferplaces"))
    ap.add_argument("--port", type=int, default=18093)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="risk-fresh-")
    env = dict(os.environ, SAFERPLACES_DATA_DIR=data, SAFERPLACES_ADDR=f"127.0.0.1:{args.port}",
               SAFERPLACES_GEODATA_DIR=os.path.join(ROOT, "geodata"), RUST_LOG="warn")
    server = subprocess.Popen([args.bin, "demo"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    token = None
    for line in server.stdout:
        m = re.match(r"\s+vru_analyst\s+(spt_[0-9a-f]+)", line)
        if m:
            token = m.group(1)
        if "listening on" in line:
            break
    base = f"http://127.0.0.1:{args.port}"
    try:
        t0 = time.perf_counter()
        first = get(base, token, "/api/v1/risk-windows")
        print(f"first request (cold calibration over {first['study_incidents']} incidents): "
              f"{time.perf_counter() - t0:.3f} s; {len(first['windows'])} windows, as of {first['as_of']}")
        as_of = dt.date.fromisoformat(first["as_of"])
        times, follow = [], []
        for run in range(args.runs):
            day = as_of + dt.timedelta(days=1 + run)
            lat, lon = 51.47 + 0.004 * run, -2.62
            cell = h3.latlng_to_cell(lat, lon, 9)
            csv = os.path.join(data, f"new-{run}.csv")
            with open(csv, "w") as f:
                f.write("ref,category,date,lon,lat,involves_child\n")
                f.write(f"FRESH-{run},burglary,{day},{lon},{lat},false\n")
            subprocess.run([args.bin, "import", "incidents", "--agency", "bench",
                            "--data-dir", data, csv], check=True, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            done = time.perf_counter()
            while True:
                r = get(base, token, "/api/v1/risk-windows")
                if any(w["h3"] == cell for w in r["windows"]):
                    break
                if time.perf_counter() - done > 30:
                    sys.exit(f"run {run}: no window for {cell} after 30 s")
                time.sleep(0.01)
            seen = time.perf_counter() - done
            current = r["calibration"]["current"]
            while not r["calibration"]["current"]:
                time.sleep(0.02)
                r = get(base, token, "/api/v1/risk-windows")
            settled = time.perf_counter() - done
            times.append(seen)
            follow.append(settled)
            print(f"run {run + 1}: window served {seen:.3f} s after the import exited "
                  f"(calibration current at first sight: {current}); current calibration after {settled:.3f} s")
        print(f"median {statistics.median(times):.3f} s, worst {max(times):.3f} s; "
              f"current calibration median {statistics.median(follow):.3f} s, worst {max(follow):.3f} s")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
