"""Python reference timings for docs/benchmarks.md: Booster.predict on the
same golden models and the same inputs as native/bench_test.go."""
import json
import pickle
import struct
import sys
import time
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def load(name):
    case = json.loads((GOLDEN / "cases" / f"{name}.json").read_text())
    sha = case["sha"]
    booster = pickle.loads((GOLDEN / "artifacts" / sha[:2] / f"{sha}.pkl").read_bytes())["booster"]
    rows = np.array([[struct.unpack(">d", bytes.fromhex(h))[0] for h in r] for r in case["inputs"]])
    return booster, rows


def best_of(fn, repeat, number):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


for name in ("trees500", "binary", "multiclass"):
    booster, rows = load(name)
    singles = [rows[i:i + 1] for i in range(len(rows))]  # cycle rows like the Go benchmark
    it = {"i": 0}

    def one_row():
        booster.predict(singles[it["i"] % len(singles)])
        it["i"] += 1

    batch = np.ascontiguousarray(np.resize(rows, (10_000, rows.shape[1])))  # tiles rows like benchRows
    single = best_of(one_row, 5, 2000)
    many = best_of(lambda: booster.predict(batch), 5, 5)
    print(json.dumps({"model": name, "single_row_us": round(single * 1e6, 2),
                      "batch10k_ms": round(many * 1e3, 3), "batch_ns_per_row": round(many / 10_000 * 1e9, 1)}))
    sys.stdout.flush()
