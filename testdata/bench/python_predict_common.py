"""What the Python benchmark scripts share: the golden models and inputs,
and a best-of timer."""
import json
import pickle
import struct
import sys
import time
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
sys.path.insert(0, str(GOLDEN))  # blackheart_train.ensemble, for unpickling ensembles


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
