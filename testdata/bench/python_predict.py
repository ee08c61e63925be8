"""Python reference timings for docs/benchmarks.md: Booster.predict on the
same golden models and the same inputs as native/bench_test.go."""
import json
import pickle
import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from python_predict_common import GOLDEN, best_of, load  # noqa: E402


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


def ensemble_predict_proba(ens, X: pd.DataFrame) -> np.ndarray:
    """The trainer's predict_proba_ensemble (mean of members' predict_proba)."""
    parts = []
    for f in ens.models:
        if f.scaler is not None:
            parts.append(f.model.predict_proba(f.scaler.transform(X.to_numpy(dtype="float64"))))
        else:
            parts.append(f.model.predict_proba(X))
    return np.mean(np.stack(parts, axis=0), axis=0)


for name in ("xgb_multiclass", "ensemble"):
    case = json.loads((GOLDEN / "cases" / f"{name}.json").read_text())
    sha = case["sha"]
    ens = pickle.loads((GOLDEN / "artifacts" / sha[:2] / f"{sha}.pkl").read_bytes())["ensemble"]
    rows = np.array([[struct.unpack(">d", bytes.fromhex(h))[0] for h in r] for r in case["inputs"]])
    cols = case["feature_names"]
    singles = [pd.DataFrame(rows[i:i + 1], columns=cols) for i in range(len(rows))]
    batch = pd.DataFrame(np.resize(rows, (10_000, rows.shape[1])), columns=cols)
    it = {"i": 0}

    def one():
        ensemble_predict_proba(ens, singles[it["i"] % len(singles)])
        it["i"] += 1

    single = best_of(one, 5, 300)
    many = best_of(lambda: ensemble_predict_proba(ens, batch), 5, 3)
    print(json.dumps({"model": name, "single_row_us": round(single * 1e6, 2),
                      "batch10k_ms": round(many * 1e3, 3), "batch_ns_per_row": round(many / 10_000 * 1e9, 1)}))
    sys.stdout.flush()
