#!/usr/bin/env python3
"""Freshness and memory of a running server on a large store (issue 15, points 2 and 3).

On a private copy of a store (e.g. the 10M-incident demo made with
`saferplaces demo --no-serve --incidents 10000000`), with a release build:

1. start-up: seconds from `serve` to `/health` answering, and resident memory then (idle);
2. imports: the real January 2023 police.uk street file, imported N times with the month
   rewritten (so each import stores 12,566 new incidents instead of none), each from a
   separate `saferplaces import` process; for each, seconds from the import's exit until
   `/api/v1/hexagons` counts its rows (and the tile layers, served from the same snapshot,
   with them);
3. users: N `saferplaces user add`; seconds from each command's exit until its token is
   accepted by `/api/v1/meta`;
4. risk: N one-incident imports dated the day after the as-of day; seconds until
   `/api/v1/risk-windows` lists the new incident's cell;
5. memory: resident memory after each step and the peak (`VmHWM`, reset after start-up
   through `/proc/PID/clear_refs`) during all updates, against the idle figure.

    .venv/bin/python benches/issue15_freshness.py --data /tmp/b10m [--runs 20]

Needs h3 (the reference virtual environment `make test` creates) and ../shared/realdata.
"""

import argparse
import threading
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import datetime as dt

import h3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STREET = os.path.join(ROOT, "..", "shared", "realdata", "police_street_avon-and-somerset_2023-01.csv")


def get(base, path, token=None, timeout=120):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(base + path, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def status(base, path, token):
    try:
        req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def rss_mb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def summary(name, times):
    print(f"{name}: median {statistics.median(times):.3f} s, worst {max(times):.3f} s over {len(times)}")


def run(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {out.stderr}")
    return out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="store directory (copied, not changed)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/saferplaces"))
    ap.add_argument("--port", type=int, default=18097)
    args = ap.parse_args()
    if not os.path.exists(STREET):
        sys.exit(f"skipped: {STREET} is absent")
    work = tempfile.mkdtemp(prefix="issue15-")
    data = os.path.join(work, "data")
    shutil.copytree(args.data, data)
    env = dict(os.environ, SAFERPLACES_DATA_DIR=data, SAFERPLACES_ADDR=f"127.0.0.1:{args.port}",
               SAFERPLACES_GEODATA_DIR=os.path.join(ROOT, "geodata"), RUST_LOG="info",
               SAFERPLACES_EQUALITY_MONTHLY="off", SAFERPLACES_AUDIT_DIR=os.path.join(work, "audit"))
    token = run([args.bin, "user", "add", "--name", "bench-analyst", "--role", "vru_analyst",
                 "--data-dir", data], env).strip().splitlines()[-1]
    base = f"http://127.0.0.1:{args.port}"
    log = open(os.path.join(work, "serve.log"), "w")
    t0 = time.perf_counter()
    server = subprocess.Popen([args.bin, "serve", "--data-dir", data], env=env,
                              stdout=log, stderr=log)
    try:
        while True:
            try:
                get(base, "/health", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if server.poll() is not None:
                    sys.exit("the server exited")
                time.sleep(0.05)
        started = time.perf_counter() - t0
        peak_start = rss_mb(server.pid, "VmHWM")
        time.sleep(2)
        idle = rss_mb(server.pid)
        meta = get(base, "/api/v1/meta", token)
        n0 = meta["counts"]["incidents_indexed"]
        print(f"start-up {started:.2f} s; {n0} incidents indexed; resident {idle:.0f} MB idle "
              f"({idle * 1048576 / max(n0, 1):.0f} B per incident), peak during start-up {peak_start:.0f} MB")
        with open(f"/proc/{server.pid}/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident size
        # The peak resident memory of each phase, sampled every 20 ms.
        phase = {"name": "idle"}
        peaks = {}
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    now = rss_mb(server.pid)
                except OSError:
                    return
                peaks[phase["name"]] = max(peaks.get(phase["name"], 0.0), now)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        time.sleep(1)
        phase["name"] = "imports"

        # 2. Police imports, each a month not in the store.
        rows = open(STREET).read().splitlines()
        header, body = rows[0], rows[1:]
        imports = []
        for k in range(args.runs):
            month = f"{2000 + k // 12:04d}-{k % 12 + 1:02d}"
            path = os.path.join(work, f"street-{month}.csv")
            with open(path, "w") as f:
                f.write(header + "\n")
                for line in body:
                    f.write(line.replace(",2023-01,", f",{month},", 1) + "\n")
            before = get(base, "/health")["data_version"]
            t_import = time.perf_counter()
            run([args.bin, "import", "police-street", "--data-dir", data, path], env)
            done = time.perf_counter()
            while get(base, "/health")["data_version"] == before:
                time.sleep(0.005)
            seen = time.perf_counter() - done
            last_day = (dt.date(2000 + k // 12, k % 12 + 1, 28)).isoformat()
            hex_total = sum(f["properties"]["count"] for f in get(
                base, f"/api/v1/hexagons?res=5&bbox=-180,-90,180,90&from={month}-01&to={last_day}",
                token)["features"])
            imports.append(seen)
            print(f"import {k + 1} ({month}): {done - t_import:.2f} s to import, served {seen:.3f} s after; "
                  f"hexagons count {hex_total} for the month; resident {rss_mb(server.pid):.0f} MB; "
                  f"runs {get(base, '/health')['incident_runs']}")
        summary("police import to hexagons", imports)

        # 3. New users.
        phase["name"] = "users"
        users = []
        for k in range(args.runs):
            new = run([args.bin, "user", "add", "--name", f"bench-user-{k}", "--role", "vru_analyst",
                       "--data-dir", data], env).strip().splitlines()[-1]
            done = time.perf_counter()
            while status(base, "/api/v1/meta", new) != 200:
                time.sleep(0.005)
            users.append(time.perf_counter() - done)
        summary("new user's token accepted", users)

        # 4. Risk windows.
        phase["name"] = "risk"
        first = get(base, "/api/v1/risk-windows", token, timeout=600)
        as_of = dt.date.fromisoformat(first["as_of"])
        risk = []
        for k in range(min(args.runs, 5)):
            day = as_of + dt.timedelta(days=1 + k)
            lat, lon = 51.47 + 0.004 * k, -2.62
            cell = h3.latlng_to_cell(lat, lon, 9)
            csv = os.path.join(work, f"new-{k}.csv")
            with open(csv, "w") as f:
                f.write("ref,category,date,lon,lat,involves_child\n")
                f.write(f"FRESH-{k},burglary,{day},{lon},{lat},false\n")
            run([args.bin, "import", "incidents", "--agency", "bench", "--data-dir", data, csv], env)
            done = time.perf_counter()
            while not any(w["h3"] == cell for w in get(base, "/api/v1/risk-windows", token)["windows"]):
                if time.perf_counter() - done > 120:
                    sys.exit(f"risk run {k}: no window for {cell} after 120 s")
                time.sleep(0.01)
            risk.append(time.perf_counter() - done)
        summary("risk window for a new incident", risk)

        phase["name"] = "after"
        time.sleep(2)
        stop.set()
        print("peak resident memory by phase (MB): "
              + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()))
        steady = rss_mb(server.pid)
        peak = rss_mb(server.pid, "VmHWM")
        n1 = get(base, "/api/v1/meta", token)["counts"]["incidents_indexed"]
        print(f"after the updates: {n1} incidents; resident {steady:.0f} MB "
              f"({steady * 1048576 / n1:.0f} B per incident); peak during updates {peak:.0f} MB "
              f"= {peak / idle:.2f} x idle")
    finally:
        server.terminate()
        server.wait()
        log.close()
        shutil.copy(os.path.join(work, "serve.log"), "/tmp/issue15-serve.log")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
