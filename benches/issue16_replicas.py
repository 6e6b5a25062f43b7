#!/usr/bin/env python3
"""Two stateless servers on one PostgreSQL database (issue 16, points 3, 4 and 7).

Starts a throwaway PostgreSQL 15 + PostGIS cluster (initdb/pg_ctl on a Unix socket in a
temporary directory, as the `postgres` user when run as root), then with a release build:

1. seed: `saferplaces demo --no-serve --incidents N` into the database (the demo's incidents go
   in as one import, through binary COPY): seconds and rows/s;
2. cold start: two `serve` processes on the database, each with its own data directory (audit
   log only); seconds from start to `/health` answering, and resident memory once idle;
3. imports: the real January 2023 police.uk street file, imported RUNS times with the month
   rewritten (12,566 new incidents each), alternately through server A's and server B's CLI;
   for each, seconds from the import's exit until each server's `/health` data version moves
   and its `/api/v1/hexagons` counts the month's rows;
4. users and revocations: RUNS `user add` (alternating CLIs), seconds until the token works on
   both servers; then RUNS `user revoke`, seconds until it is refused (401) on both;
5. erasure: RUNS people on investigation cases read through `/api/v1/people/{id}` by an assigned
   analyst on both servers, each removed by `review record --outcome remove` through one CLI;
   seconds until both servers refuse them as an unknown id (403);
6. tiles (with --oha): analyst hexagon tiles under open-loop oha load through one server, then
   split over both servers, requests/s and p50/p99 side by side.

    .venv/bin/python benches/issue16_replicas.py [--incidents 1000000] [--runs 20] [--oha oha]

Needs ../shared/realdata (the police.uk file) and PostgreSQL 15 + PostGIS 3 installed.
"""

import argparse
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STREET = os.path.join(ROOT, "..", "shared", "realdata", "police_street_avon-and-somerset_2023-01.csv")
PGBIN = "/usr/lib/postgresql/15/bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_tool(args, as_postgres, **kw):
    cmd = (["runuser", "-u", "postgres", "--"] if as_postgres else []) + args
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def start_cluster():
    as_postgres = os.geteuid() == 0
    d = tempfile.mkdtemp(prefix="sp-pgb-", dir="/tmp")
    if as_postgres:
        pw = pwd.getpwnam("postgres")
        os.chown(d, pw.pw_uid, pw.pw_gid)
    port = free_port()
    data = os.path.join(d, "data")
    pg_tool([f"{PGBIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--data-checksums"],
            as_postgres, cwd=d)
    opts = f"-k {d} -c listen_addresses='' -p {port} -c shared_buffers=1GB -c max_wal_size=4GB"
    pg_tool([f"{PGBIN}/pg_ctl", "-D", data, "-l", os.path.join(d, "log"), "-o", opts, "-w", "start"],
            as_postgres, cwd=d)
    pg_tool([f"{PGBIN}/psql", "-h", d, "-p", str(port), "-U", "postgres", "-c",
             "CREATE DATABASE saferplaces"], as_postgres, cwd=d)
    return d, port, as_postgres


def stop_cluster(d, as_postgres):
    try:
        pg_tool([f"{PGBIN}/pg_ctl", "-D", os.path.join(d, "data"), "-m", "fast", "stop"], as_postgres, cwd=d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def psql(d, port, as_postgres, sql):
    return pg_tool([f"{PGBIN}/psql", "-h", d, "-p", str(port), "-U", "postgres", "-d", "saferplaces",
                    "-At", "-c", sql], as_postgres, cwd=d).stdout


def status(base, path, headers=None):
    try:
        req = urllib.request.Request(base + path, headers=headers or {})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, ConnectionError):
        return None


def get(base, path, headers=None, timeout=120):
    req = urllib.request.Request(base + path, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def summary(name, times):
    print(f"{name}: median {statistics.median(times):.3f} s, worst {max(times):.3f} s over {len(times)}",
          flush=True)


def wait_both(bases, check, limit=120):
    """Seconds until check(base) holds on each base, measured from now."""
    t0 = time.perf_counter()
    seen = []
    for base in bases:
        while not check(base):
            if time.perf_counter() - t0 > limit:
                sys.exit(f"not seen on {base} after {limit} s")
            time.sleep(0.005)
        seen.append(time.perf_counter() - t0)
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--incidents", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/saferplaces"))
    ap.add_argument("--oha", default=None, help="oha binary: also measure tile throughput")
    ap.add_argument("--seconds", type=int, default=15)
    args = ap.parse_args()
    if not os.path.exists(STREET):
        sys.exit(f"skipped: {STREET} is absent")
    d, port, as_postgres = start_cluster()
    work = tempfile.mkdtemp(prefix="issue16-")
    servers = []
    try:
        url = f"host={d} port={port} user=postgres dbname=saferplaces"
        dirs = [os.path.join(work, "a"), os.path.join(work, "b")]
        # Polling an erased person counts as refusals: lift the per-address refusal budget.
        env = dict(os.environ, SAFERPLACES_DATABASE_URL=url, RUST_LOG="info",
                   SAFERPLACES_REFUSALS_PER_MINUTE="1000000", SAFERPLACES_REFUSAL_COALESCE_MS="0",
                   SAFERPLACES_GEODATA_DIR=os.path.join(ROOT, "geodata"),
                   SAFERPLACES_EQUALITY_MONTHLY="off", SAFERPLACES_WEB_DIR="/tmp")

        def cli(i, *a):
            out = subprocess.run([args.bin, *a, "--data-dir", dirs[i]], env=env, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"{a} failed: {out.stderr}")
            return out.stdout

        t = time.perf_counter()
        cli(0, "demo", "--no-serve", "--incidents", str(args.incidents))
        seeded = time.perf_counter() - t
        print(f"seed: {args.incidents} demo incidents into PostgreSQL in {seeded:.1f} s", flush=True)

        bases = []
        for i in range(2):
            p = free_port()
            log = open(os.path.join(work, f"serve{i}.log"), "w")
            t = time.perf_counter()
            proc = subprocess.Popen([args.bin, "serve", "--data-dir", dirs[i], "--addr", f"127.0.0.1:{p}"],
                                    env=env, stdout=log, stderr=log)
            servers.append(proc)
            base = f"http://127.0.0.1:{p}"
            while status(base, "/health") != 200:
                if proc.poll() is not None:
                    sys.exit(f"server {i} exited; see {log.name}")
                time.sleep(0.02)
            print(f"cold start from PostgreSQL, server {'AB'[i]}: {time.perf_counter() - t:.2f} s", flush=True)
            bases.append(base)
        time.sleep(2)
        for i, proc in enumerate(servers):
            print(f"server {'AB'[i]} resident {rss_mb(proc.pid):.0f} MB idle", flush=True)

        token = cli(0, "user", "add", "--name", "bench", "--role", "vru_analyst").strip().splitlines()[-1]
        auth = {"Authorization": f"Bearer {token}"}
        wait_both(bases, lambda b: status(b, "/api/v1/meta", auth) == 200)

        # 3. Imports through alternating CLIs.
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
            before = [get(b, "/health")["data_version"] for b in bases]
            t = time.perf_counter()
            cli(k % 2, "import", "police-street", path)
            took = time.perf_counter() - t
            seen = wait_both(bases, lambda b: get(b, "/health")["data_version"] != before[bases.index(b)])
            counts = [sum(f["properties"]["count"] for f in get(
                b, f"/api/v1/hexagons?res=5&bbox=-180,-90,180,90&from={month}-01&to={month}-28", auth)["features"])
                for b in bases]
            imports.extend(seen)
            print(f"import {k + 1} via {'AB'[k % 2]}: {took:.2f} s ({len(body) / took:.0f} rows/s), "
                  f"served by A {seen[0]:.3f} s, B {seen[1]:.3f} s after; hexagons {counts}", flush=True)
        summary("import to both servers' hexagons", imports)

        # 4. Users and revocations.
        added, revoked = [], []
        names = []
        for k in range(args.runs):
            name = f"bench-user-{k}"
            tok = cli(k % 2, "user", "add", "--name", name, "--role", "vru_analyst").strip().splitlines()[-1]
            h = {"Authorization": f"Bearer {tok}"}
            added.extend(wait_both(bases, lambda b: status(b, "/api/v1/meta", h) == 200))
            names.append((name, h))
        summary("new user's token accepted on both", added)
        for k, (name, h) in enumerate(names):
            cli(1 - k % 2, "user", "revoke", name)
            revoked.extend(wait_both(bases, lambda b: status(b, "/api/v1/meta", h) == 401))
        summary("revoked token refused on both", revoked)

        # 5. Erasures of people on investigation cases.
        pairs = [line.split("|") for line in psql(d, port, as_postgres,
            "SELECT reference, subjects->>0 FROM people.cases WHERE kind = 'investigation' "
            f"ORDER BY reference LIMIT {3 * args.runs}").split()]
        ptok = cli(0, "user", "add", "--name", "bench-police", "--role", "police_analyst",
                   "--org", "synthetic-police").strip().splitlines()[-1]
        erased = []
        for k, (case, person) in enumerate(pairs):
            cli(k % 2, "case", "assign", "--case", case, "--user", "bench-police")
            h = {"Authorization": f"Bearer {ptok}", "X-Purpose": "disrupting_exploitation",
                 "X-Case-Ref": case, "X-Legal-Basis": "dpa_2018_s35_law_enforcement"}
            # A subject the policy does not show for this purpose (a child victim) is skipped.
            try:
                wait_both(bases, lambda b: status(b, f"/api/v1/people/{person}", h) == 200, limit=5)
            except SystemExit:
                print(f"case {case}: subject {person} not readable for this purpose; skipped", flush=True)
                continue
            cli(1 - k % 2, "review", "record", "--person", person, "--outcome", "remove",
                "--rationale", "Benchmark: no longer proportionate to hold this record.",
                "--decided-by", "A. Reviewer")
            # Refused as an id never stored is (403: existence is not revealed).
            erased.extend(wait_both(bases, lambda b: status(b, f"/api/v1/people/{person}", h) == 403))
            if len(erased) >= 2 * args.runs:
                break
        if erased:
            summary(f"erasure gone from both ({len(erased) // 2} people)", erased)

        if args.oha:
            tiles(args, bases, token, work)
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait()
        for i in range(len(servers)):
            shutil.copy(os.path.join(work, f"serve{i}.log"), f"/tmp/issue16-serve{i}.log")
        shutil.rmtree(work, ignore_errors=True)
        stop_cluster(d, as_postgres)


def tiles(args, bases, token, work):
    ports = [b.rsplit(":", 1)[1] for b in bases]
    urls = []
    for p in ports:
        path = os.path.join(work, f"urls{p}.txt")
        with open(path, "w") as f:
            subprocess.run([sys.executable, os.path.join(ROOT, "benches/hexagon_tile_urls.py"), p, token],
                           check=True, stdout=f)
        urls.append(path)

    def oha(url_file, rate, out):
        return subprocess.Popen([args.oha, "--no-tui", "-q", str(rate), "-z", f"{args.seconds}s", "-c", "64",
                                 "-H", f"Authorization: Bearer {token}", "--urls-from-file", url_file,
                                 "--output-format", "json"], stdout=open(out, "w"), stderr=subprocess.DEVNULL)

    def read(out):
        v = json.load(open(out))
        s, p = v["summary"], v["latencyPercentiles"]
        return s["requestsPerSec"], (p["p50"] or 0) * 1000, (p["p99"] or 0) * 1000, s["successRate"]

    for rate in (1000, 2000, 4000):
        one = os.path.join(work, "one.json")
        oha(urls[0], rate, one).wait()
        r1 = read(one)
        outs = [os.path.join(work, f"two{i}.json") for i in range(2)]
        procs = [oha(urls[i], rate // 2, outs[i]) for i in range(2)]
        for p in procs:
            p.wait()
        r2 = [read(o) for o in outs]
        rps2 = sum(r[0] for r in r2)
        print(f"tiles at {rate}/s offered: one server {r1[0]:.0f} req/s p50 {r1[1]:.1f} ms p99 {r1[2]:.1f} ms "
              f"ok {r1[3]:.3f}; two servers {rps2:.0f} req/s p50 {max(r[1] for r in r2):.1f} ms "
              f"p99 {max(r[2] for r in r2):.1f} ms ok {min(r[3] for r in r2):.3f}; ratio {rps2 / r1[0]:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
