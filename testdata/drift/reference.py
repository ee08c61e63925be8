"""The production sidecar's /monitoring/drift PSI rule, restated in plain
Python from its description (issue 19): a reference the Go tests compare
against, never our output.

stdin: {"comparisons": [{"baseline": [...], "live": [...]}, ...],
        "reports": [{"features": [{"feature": name, "baseline": [...], "live": [...]}, ...]}, ...]}
Values arrive as decimal strings (what NUMERIC(28,10) holds) and are read
with float(), which is correctly rounded as PostgreSQL's ::float8 is.
stdout: {"comparisons": [{edges, baseline_counts, live_counts, psi, verdict}],
         "reports": [{max_psi, drift_count, warn_count, retrain_recommended, note,
                      features: [{feature, psi, verdict, baseline_n, live_n}]}]}
Floats go out as repr() strings, so nothing is lost on the way back.
"""
import json
import math
import sys

BINS = 10
FLOOR = 1e-6
MIN_BASELINE = 20
MIN_LIVE = 5


def compare(baseline, live):
    if len(baseline) < MIN_BASELINE or len(live) < MIN_LIVE:
        return {"edges": None, "baseline_counts": None, "live_counts": None, "psi": 0.0, "verdict": "INSUFFICIENT"}
    s = sorted(baseline)
    n = len(s)
    edges = []
    for i in range(1, BINS):
        e = s[min(n - 1, (i * n) // BINS)]
        if not edges or e > edges[-1]:
            edges.append(e)

    def counts(values):
        c = [0] * (len(edges) + 1)
        for v in values:
            b = len(edges)
            for k, e in enumerate(edges):
                if e >= v:  # the first bin whose edge is >= the value
                    b = k
                    break
            c[b] += 1
        return c

    bc, lc = counts(baseline), counts(live)
    total = 0.0
    for b in range(len(bc)):
        base = max(bc[b] / len(baseline), FLOOR)
        cur = max(lc[b] / len(live), FLOOR)
        total += (cur - base) * math.log(cur / base)
    psi = abs(total)
    verdict = "OK" if psi < 0.10 else ("WARN" if psi < 0.25 else "DRIFT")
    return {"edges": edges, "baseline_counts": bc, "live_counts": lc, "psi": psi, "verdict": verdict}


def report(features):
    out = []
    for f in features:
        base = [float(v) for v in f["baseline"]]
        live = [float(v) for v in f["live"]]
        c = compare(base, live)
        out.append({"feature": f["feature"], "psi": round(c["psi"], 6), "verdict": c["verdict"],
                    "baseline_n": len(base), "live_n": len(live), "_psi": c["psi"]})
    out.sort(key=lambda r: r["psi"], reverse=True)  # stable: ties keep the request's order
    d = sum(1 for r in out if r["verdict"] == "DRIFT")
    w = sum(1 for r in out if r["verdict"] == "WARN")
    i = sum(1 for r in out if r["verdict"] == "INSUFFICIENT")
    max_psi = round(max([r["_psi"] for r in out], default=0.0), 6)
    for r in out:
        del r["_psi"]
    note = "OK" if d == w == i == 0 else f"{d} drift, {w} warn, {i} insufficient-data"
    return {"max_psi": max_psi, "drift_count": d, "warn_count": w, "retrain_recommended": d >= 1,
            "note": note, "features": out}


def reprs(x):
    if isinstance(x, float):
        return repr(x)
    if isinstance(x, list):
        return [reprs(v) for v in x]
    if isinstance(x, dict):
        return {k: reprs(v) for k, v in x.items()}
    return x


def main():
    req = json.load(sys.stdin)
    comparisons = [compare([float(v) for v in c["baseline"]], [float(v) for v in c["live"]])
                   for c in req.get("comparisons", [])]
    reports = [report(r["features"]) for r in req.get("reports", [])]
    json.dump(reprs({"comparisons": comparisons, "reports": reports}), sys.stdout)


if __name__ == "__main__":
    main()
