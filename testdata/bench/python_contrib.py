"""Python reference timings for docs/benchmarks.md (issue 21): Booster.predict(
X, pred_contrib=True) on the same golden models and the same 10 000 tiled rows
as native/bench_test.go's BenchmarkContributions10k."""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from python_predict_common import best_of, load  # noqa: E402

for name in ("demo", "binary", "multiclass"):
    booster, rows = load(name)
    batch = np.ascontiguousarray(np.resize(rows, (10_000, rows.shape[1])))  # tiles rows like benchRows
    many = best_of(lambda: booster.predict(batch, pred_contrib=True), 3, 1)
    print(json.dumps({"model": name, "contrib10k_ms": round(many * 1e3, 1), "contrib_ns_per_row": round(many / 10_000 * 1e9, 1)}))
    sys.stdout.flush()
