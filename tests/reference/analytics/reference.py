"""Reference computations for saferplaces' analytics (analytics.md §10).

Usage: reference.py <check> <input.json>; prints one JSON object on stdout.

The Rust tests in src/analysis/reference_tests.rs write seeded synthetic inputs to a
temporary directory, run this script with the pinned packages of requirements.txt and
compare. Everything here is computed with the reference packages or straight from the
definitions in analytics.md, never by calling saferplaces. Checks:

  gistar    cells, counts and Gi* via h3 + libpysal + esda G_Local(transform='B', star=True);
            two-sided p; bins with the ArcGIS FDR procedure of analytics.md §1.3
  stgistar  space-time cube from raw events, space-time Gi* (backward window, whole-cube
            global window) with esda, Mann-Kendall of each cell's z series with
            pymannkendall, and the 17 categories of analytics.md §2.4
  mk        pymannkendall.original_test on given series
  kde       KDEpy NaiveKDE biweight (bw = r / sqrt(7), norm = 2) times the total weight, and
            the ArcGIS default radius from its definition
  knox      pointpats Knox (global, inclusive bounds) for every (delta, tau) pair given
  bench     timings of the reference packages on the benchmark inputs (docs/BENCHMARKS.md)
"""

import json
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def arcgis_bins(z, p, fdr):
    """bin = sign(z) * level; levels by BH step-up per alpha as ArcGIS applies it."""
    z = np.asarray(z, dtype=float)
    p = np.asarray(p, dtype=float)
    valid = ~np.isnan(p)
    level = np.zeros(len(p), dtype=int)
    if fdr:
        ps = np.sort(p[valid])
        m = len(ps)
        for lvl, alpha in ((1, 0.10), (2, 0.05), (3, 0.01)):
            if m == 0:
                continue
            k = np.arange(1, m + 1)
            ok = np.nonzero(ps <= alpha * k / m)[0]
            if len(ok) == 0:
                continue
            cut = ps[ok[-1]]
            level[valid & (p <= cut)] = lvl
    else:
        for lvl, alpha in ((1, 0.10), (2, 0.05), (3, 0.01)):
            level[valid & (p <= alpha)] = lvl
    return (np.sign(np.nan_to_num(z)) * level).astype(int)


def universe_cells(h3, spec, res):
    """Cells whose centre lies in the study area, computed with h3-py."""
    if spec["kind"] == "polygon":
        outer = [(lat, lon) for lon, lat in spec["outer"]]
        holes = [[(lat, lon) for lon, lat in ring] for ring in spec.get("holes", [])]
        return sorted(h3.polygon_to_cells(h3.LatLngPoly(outer, *holes), res))
    # A box, edges included: candidates from a grown box, then the inclusive centre test.
    lo_x, lo_y, hi_x, hi_y = spec["bbox"]
    m = 0.02
    grown = [(lo_y - m, lo_x - m), (lo_y - m, hi_x + m), (hi_y + m, hi_x + m), (hi_y + m, lo_x - m)]
    out = []
    for c in h3.polygon_to_cells(h3.LatLngPoly(grown), res):
        lat, lon = h3.cell_to_latlng(c)
        if lo_x <= lon <= hi_x and lo_y <= lat <= hi_y:
            out.append(c)
    return sorted(out)


def neighbour_lists(h3, cells, k):
    pos = {c: i for i, c in enumerate(cells)}
    return {
        i: sorted(pos[d] for d in h3.grid_disk(c, k) if d in pos and d != c)
        for i, c in enumerate(cells)
    }


def gi_star(y, neighbours):
    import esda
    from libpysal.weights import W
    from scipy import stats

    w = W(neighbours, silence_warnings=True)
    g = esda.G_Local(np.asarray(y, dtype=float), w, transform="B", star=True, permutations=0)
    z = np.asarray(g.Zs, dtype=float)
    p = 2 * stats.norm.sf(np.abs(z))
    return z, p


def check_gistar(inp):
    import h3

    res, k = inp["res"], inp["k"]
    pts = inp["points"]
    occupied = [h3.latlng_to_cell(lat, lon, res) for lon, lat in pts]
    if inp["area"]["kind"] == "data_extent":
        cent = [h3.cell_to_latlng(c) for c in set(occupied)]
        lats = [c[0] for c in cent]
        lons = [c[1] for c in cent]
        spec = {"kind": "box", "bbox": [min(lons), min(lats), max(lons), max(lats)]}
    else:
        spec = inp["area"]
    cells = universe_cells(h3, spec, res)
    pos = {c: i for i, c in enumerate(cells)}
    counts = np.zeros(len(cells))
    outside = 0
    for c in occupied:
        if c in pos:
            counts[pos[c]] += 1
        else:
            outside += 1
    values = counts.copy()
    if inp.get("population"):
        pop = inp["population"]
        keep = [i for i, c in enumerate(cells) if pop.get(c, 0) >= inp["min_population"] and pop.get(c, 0) > 0]
        cells = [cells[i] for i in keep]
        counts = counts[keep]
        values = np.array([counts[j] / pop[c] * inp["per"] for j, c in enumerate(cells)])
    neigh = neighbour_lists(h3, cells, k)
    z, p = gi_star(values, neigh)
    # Undefined where analytics.md §1.1 says so: only itself, or every cell a neighbour.
    n = len(cells)
    for i in range(n):
        wi = len(neigh[i]) + 1
        if wi <= 1 or wi >= n:
            z[i] = np.nan
            p[i] = np.nan
    bins = arcgis_bins(z, p, inp["fdr"])
    return {
        "cells": cells,
        "counts": counts.tolist(),
        "z": [None if np.isnan(v) else float(v) for v in z],
        "p": [None if np.isnan(v) else float(v) for v in p],
        "bins": bins.tolist(),
        "n_neighbours": [len(neigh[i]) + 1 for i in range(n)],
        "outside": outside,
    }


def classify(hot, cold, trend):
    """analytics.md §2.4, written from the table, independently of the Rust code."""
    t = len(hot)
    need = -(-9 * t // 10)

    def rule(same, other, up, down):
        n_same = sum(same)
        trailing = 0
        for s in reversed(same):
            if not s:
                break
            trailing += 1
        if n_same == 1:
            return 1
        if n_same >= need:
            return 3 if trend == up else 5 if trend == down else 4
        if trailing >= 2 and trailing == n_same:
            return 2
        if any(other[:-1]):
            return 7
        return 6

    if hot[-1]:
        return rule(hot, cold, "increasing", "decreasing")
    if cold[-1]:
        return -rule(cold, hot, "decreasing", "increasing")
    if sum(hot) >= need:
        return 8
    if sum(cold) >= need:
        return -8
    return 0


def check_stgistar(inp):
    import h3
    import pymannkendall as mk

    res, k, kt = inp["res"], inp["k"], inp["time_k"]
    cells = inp["cells"]
    t_len = inp["steps"]
    pos = {c: i for i, c in enumerate(cells)}
    cube = np.zeros((len(cells), t_len))
    for lon, lat, step in inp["events"]:
        c = h3.latlng_to_cell(lat, lon, res)
        if c in pos and 0 <= step < t_len:
            cube[pos[c], step] += 1
    spatial = neighbour_lists(h3, cells, k)
    neigh = {}
    for i in range(len(cells)):
        for t in range(t_len):
            nb = []
            for j in spatial[i] + [i]:
                for s in range(max(0, t - kt), t + 1):
                    if (j, s) != (i, t):
                        nb.append(j * t_len + s)
            neigh[i * t_len + t] = sorted(nb)
    y = cube.reshape(-1)
    z, p = gi_star(y, neigh)
    n = len(y)
    for b in range(n):
        wi = len(neigh[b]) + 1
        if wi <= 1 or wi >= n:
            z[b] = np.nan
            p[b] = np.nan
    bins = arcgis_bins(z, p, True)
    mks = []
    cats = []
    for i in range(len(cells)):
        series = z[i * t_len:(i + 1) * t_len]
        r = mk.original_test(series[~np.isnan(series)], alpha=inp["alpha_trend"])
        mks.append({"s": float(r.s), "var_s": float(r.var_s), "z": float(r.z), "p": float(r.p), "tau": float(r.Tau)})
        b = bins[i * t_len:(i + 1) * t_len]
        hot = [int(v) >= inp["hot_level"] for v in b]
        cold = [int(v) <= -inp["hot_level"] for v in b]
        trend = r.trend if r.h else "no trend"
        cats.append(classify(hot, cold, trend))
    return {
        "counts": y.tolist(),
        "z": [None if np.isnan(v) else float(v) for v in z],
        "bins": bins.tolist(),
        "mk": mks,
        "categories": cats,
    }


def check_mk(inp):
    import pymannkendall as mk

    out = []
    for s in inp["series"]:
        r = mk.original_test(np.asarray(s, dtype=float))
        out.append({"s": float(r.s), "var_s": float(r.var_s), "z": float(r.z), "p": float(r.p), "tau": float(r.Tau)})
    return {"results": out}


def default_radius(x, y, w):
    n = w.sum()
    mx, my = (w * x).sum() / n, (w * y).sum() / n
    d = np.hypot(x - mx, y - my)
    sd = np.sqrt((w * d * d).sum() / n)
    order = np.argsort(d, kind="stable")
    ds, ws = d[order], w[order]
    cum = np.cumsum(ws)
    half = n / 2
    exact = np.nonzero(cum == half)[0]
    if len(exact):
        i = exact[0]
        nxt = next((ds[j] for j in range(i + 1, len(ds)) if ws[j] > 0), ds[i])
        med = (ds[i] + nxt) / 2
    else:
        med = ds[np.nonzero(cum > half)[0][0]]
    return 0.9 * min(sd, np.sqrt(1 / np.log(2)) * med) * n ** -0.2


def check_kde(inp):
    from KDEpy import NaiveKDE

    pts = np.asarray(inp["points"], dtype=float)
    w = np.asarray(inp["weights"], dtype=float)
    grid = np.asarray(inp["grid"], dtype=float)
    r = inp["radius_m"]
    kde = NaiveKDE(kernel="biweight", bw=r / np.sqrt(7), norm=2).fit(pts, weights=w)
    # KDEpy adds machine epsilon to every value (BaseKDE.evaluate, "helps contour plotting");
    # take it off before scaling by the total weight.
    dens = (kde.evaluate(grid) - np.finfo(float).eps) * w.sum()
    return {
        "density": dens.tolist(),
        "default_radius_m": float(default_radius(pts[:, 0], pts[:, 1], w)),
    }


def check_knox(inp):
    from pointpats import Knox

    xy = np.asarray(inp["xy"], dtype=float)
    t = np.asarray(inp["days"], dtype=float).reshape(-1, 1)
    out = []
    for delta, tau, perms in inp["cases"]:
        np.random.seed(inp["seed"])
        k = Knox(xy, t.copy(), delta=delta, tau=tau, permutations=perms)
        out.append(
            {
                "delta": delta,
                "tau": tau,
                "nst": float(k.nst),
                "expected": np.asarray(k.expected).tolist(),
                "observed": np.asarray(k.observed).tolist(),
                "p_poisson": float(k.p_poisson),
                "p_sim": None if perms == 0 else float(k.p_sim),
            }
        )
    return {"cases": out}


def check_bench(inp):
    """Times the reference packages on the benchmark inputs (see docs/BENCHMARKS.md)."""
    import esda
    import h3
    import pymannkendall as mk
    from libpysal.weights import W
    from KDEpy import NaiveKDE
    from pointpats import Knox

    out = {}
    what = inp["what"]
    if what == "gistar":
        cells = inp["cells"]
        y = np.asarray(inp["values"], dtype=float)
        t0 = time.perf_counter()
        neigh = neighbour_lists(h3, cells, 1)
        w = W(neigh, silence_warnings=True)
        t1 = time.perf_counter()
        esda.G_Local(y, w, transform="B", star=True, permutations=0)
        t2 = time.perf_counter()
        out = {"weights_s": t1 - t0, "g_local_s": t2 - t1}
    elif what == "ehsa":
        cells = inp["cells"]
        t_len = inp["steps"]
        y = np.asarray(inp["values"], dtype=float)
        t0 = time.perf_counter()
        spatial = neighbour_lists(h3, cells, 1)
        neigh = {}
        for i in range(len(cells)):
            for t in range(t_len):
                nb = []
                for j in spatial[i] + [i]:
                    for s in range(max(0, t - 1), t + 1):
                        if (j, s) != (i, t):
                            nb.append(j * t_len + s)
                neigh[i * t_len + t] = nb
        w = W(neigh, silence_warnings=True)
        t1 = time.perf_counter()
        g = esda.G_Local(y, w, transform="B", star=True, permutations=0)
        t2 = time.perf_counter()
        z = np.asarray(g.Zs).reshape(len(cells), t_len)
        for i in range(len(cells)):
            mk.original_test(z[i])
        t3 = time.perf_counter()
        out = {"weights_s": t1 - t0, "g_local_s": t2 - t1, "mann_kendall_s": t3 - t2}
    elif what == "kde":
        pts = np.asarray(inp["points"], dtype=float)
        grid = np.asarray(inp["grid"], dtype=float)
        r = inp["radius_m"]
        t0 = time.perf_counter()
        NaiveKDE(kernel="biweight", bw=r / np.sqrt(7), norm=2).fit(pts).evaluate(grid)
        out = {"kde_s": time.perf_counter() - t0}
    elif what == "knox":
        xy = np.asarray(inp["xy"], dtype=float)
        t = np.asarray(inp["days"], dtype=float).reshape(-1, 1)
        np.random.seed(1)
        t0 = time.perf_counter()
        Knox(xy, t, delta=inp["delta"], tau=inp["tau"], permutations=inp["permutations"])
        out = {"knox_s": time.perf_counter() - t0, "permutations": inp["permutations"]}
    return out


CHECKS = {
    "gistar": check_gistar,
    "stgistar": check_stgistar,
    "mk": check_mk,
    "kde": check_kde,
    "knox": check_knox,
    "bench": check_bench,
}

if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        data = json.load(f)
    json.dump(CHECKS[sys.argv[1]](data), sys.stdout)
