"""A fleet of distinct LightGBM models on the demo's inputs, for the tests and
benchmarks of many models at one bar close (issue 28).

Trains one binary booster with real Python LightGBM on the demo's per-bar
BTCUSDT 1h inputs, then writes COUNT distinct models of the same shape: the
i-th scales every leaf value by (1 + (i+1)·2⁻³⁰), so each is a model of its
own (its own trees' values, its own content sha) and costs what that shape
costs to load, hold and evaluate. Each is wrapped and pickled exactly as the
golden corpus wraps the trainer's artifacts (generate.py's payload_for and
dump), into OUT/artifacts/<sha[:2]>/<sha>.pkl; OUT/fleet.json lists their
names and shas, in order, and, with --bars N, N hourly bars of inputs ending
at --last (values rounded to 6 decimals, as feature_values holds them) with
every model's Booster.predict on them as float64 bit patterns: what the
service must write for those bars, from Python itself, in the same run.
The models are built on every core, in fleet order whatever the count.

    python testdata/fleet/fleet.py OUT --count 1000 --trees 400 --leaves 31 --inputs 36
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "golden"))
import generate as g  # noqa: E402  (pins the CPU paths, then imports lightgbm)

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402

LEAF = re.compile(r"^leaf_value=(.*)$", re.M)


def variant(text: str, i: int) -> str:
    """text with every leaf value scaled, and tree_sizes (each tree block's
    length, which LightGBM and our reader both use) recomputed."""
    scale = 1.0 + (i + 1) * 2.0 ** -30

    def one(m: re.Match) -> str:
        return "leaf_value=" + " ".join(repr(float(v) * scale) for v in m.group(1).split())

    start, end = text.index("Tree=0\n"), text.index("end of trees")
    blocks = [LEAF.sub(one, b) for b in re.split(r"(?=^Tree=\d+\n)", text[start:end], flags=re.M) if b]
    sizes = " ".join(str(len(b.encode())) for b in blocks)
    head = re.sub(r"^tree_sizes=.*$", "tree_sizes=" + sizes, text[:start], count=1, flags=re.M)
    return head + "".join(blocks) + text[end:]


_job = None


def _init(job, inputs) -> None:
    global _job
    _job = (*job, inputs)


def one_model(i: int) -> dict:
    """Model i: built, pickled into the artifact tree, and its predictions."""
    base, fn, args, inputs = _job
    name = f"fleet_{i:04d}"
    booster = lgb.Booster(model_str=variant(base, i))
    spec = g.ModelSpec(name, "directional", "label_up_4h", 1, "binary",
                       hyperparams={"num_leaves": args.leaves, "n_estimators": args.trees})
    sha, payload = g.payload_for(spec, fn, booster, feature_versions={f: 1 for f in fn})
    g.write_bytes(args.out / "artifacts" / sha[:2] / f"{sha}.pkl", g.dump(payload))
    model = {"name": name, "sha": sha}
    if args.bars:
        model["predict"] = g.hexbits(booster.predict(inputs))
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--trees", type=int, default=20)
    ap.add_argument("--leaves", type=int, default=15)
    ap.add_argument("--inputs", type=int, default=8)
    ap.add_argument("--bars", type=int, default=0)
    ap.add_argument("--last", default="2026-11-26T12:00:00+00:00")
    args = ap.parse_args()
    if not 1 <= args.inputs <= 39:
        sys.exit("--inputs: 1 to 39 (the demo's per-bar inputs)")
    fn = [f"btc_f{i:02d}" for i in range(args.inputs)]
    rng = np.random.default_rng(28)
    X = rng.uniform(-1, 1, size=(4000, args.inputs))
    y = (X[:, 0] + 0.5 * X[:, min(1, args.inputs - 1)] + rng.normal(scale=0.5, size=4000) > 0).astype(int)
    params = {**g.BASE, "objective": "binary", "num_leaves": args.leaves, "learning_rate": 0.05,
              "min_data_in_leaf": 5}
    base = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=args.trees).model_to_string()
    last = dt.datetime.fromisoformat(args.last)
    bars = [last - dt.timedelta(hours=args.bars - 1 - k) for k in range(args.bars)]
    inputs = np.round(rng.uniform(-1, 1, size=(args.bars, args.inputs)), 6)
    job = (base, fn, args)
    with ProcessPoolExecutor(os.cpu_count() or 1, initializer=_init, initargs=(job, inputs)) as pool:
        fleet = list(pool.map(one_model, range(args.count), chunksize=8))
    g.write_json(args.out / "fleet.json", {
        "inputs": fn, "trees": args.trees, "leaves": args.leaves, "models": fleet,
        "bars": [{"ts": b.isoformat().replace("+00:00", "Z"), "values": [float(v) for v in row]} for b, row in zip(bars, inputs)],
    })


if __name__ == "__main__":
    main()
