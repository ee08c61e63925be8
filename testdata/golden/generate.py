"""Golden corpus for blackheart-inference, produced by real Python LightGBM.

Trains small deterministic models with the pinned lightgbm (requirements.txt),
wraps each one the way blackheart-train's build_payload does (v2 single-booster
payloads, one v1), pickles them with protocol 5 into the content-addressed
layout, and records inputs plus Python's Booster.predict outputs (transformed
and raw) as exact float64 bit patterns.

Our Go code never writes anything here. CI re-runs this script into a scratch
directory and fails unless every file matches the committed one byte for byte.

    python testdata/golden/generate.py OUT_DIR
"""
from __future__ import annotations

import os
import subprocess
import sys


def _pin_cpu_paths() -> None:
    """numpy's float64 exp and OpenBLAS's dgemm pick their kernels from the CPU
    at run time, and the kernels round differently in the last bit: sklearn's
    predict_proba for the logistic member (hence every ensemble mean) is
    CPU-dependent in Python itself. Re-run this script on the AVX2 paths, which
    every x86-64 CPU with AVX2 has (Intel or AMD, with or without AVX-512), so
    the corpus reproduces byte for byte on any of them: OpenBLAS's Haswell
    kernel on one thread, and numpy's dispatch targets above X86_V3 (AVX2 +
    FMA) disabled — only those this CPU has, since numpy refuses to disable
    what is not there."""
    if os.environ.get("BLACKHEART_GOLDEN_PINNED") == "1":
        return
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NPY_", "OPENBLAS_"))}
    probe = subprocess.run(
        [sys.executable, "-c",
         "from numpy._core._multiarray_umath import __cpu_dispatch__ as d, __cpu_features__ as f;"
         "print(' '.join(x for x in d if f.get(x) and x != 'X86_V3'))"],
        env=clean, capture_output=True, text=True, check=True)
    env = {**clean, "BLACKHEART_GOLDEN_PINNED": "1", "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1"}
    if probe.stdout.strip():
        env["NPY_DISABLE_CPU_FEATURES"] = probe.stdout.strip()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


_pin_cpu_paths()  # before numpy is imported

import collections
import copyreg
import dataclasses
import datetime as dt
import hashlib
import io
import json
import pickle
import struct
from pathlib import Path

import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.linear_model import LogisticRegressionCV
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from blackheart_train.ensemble import Ensemble, FittedBaseModel  # noqa: E402

PROTOCOL = 5
warnings.filterwarnings("ignore", message=".*eval_set.*deprecated")
warnings.filterwarnings("ignore", category=FutureWarning)
K_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float, widened)
TRAINED_AT = "2026-06-15T00:00:00+00:00"
BASE = {
    "verbose": -1,
    "num_threads": 1,
    "deterministic": True,
    "force_col_wise": True,
    "seed": 7,
}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Field-for-field the shape of blackheart-train's ModelSpec (asdict is hashed)."""

    name: str
    purpose: str
    label_feature: str
    label_version: int
    objective: str
    symbol: str = "BTCUSDT"
    interval: str = "1h"
    train_start: dt.datetime = dt.datetime(2024, 12, 1)
    train_end: dt.datetime = dt.datetime(2026, 5, 31, 23, 0, 0, 500)
    val_fraction: float = 0.2
    hyperparams: dict = dataclasses.field(default_factory=dict)
    derived_features: tuple = ()
    base_models: tuple = ("lightgbm",)
    meta_label_enabled: bool = False
    training_intervals: tuple = ()
    feature_selection_enabled: bool = False
    extra_excluded_features: tuple = ()
    early_stopping_rounds: int = 0
    early_stopping_val_fraction: float = 0.15


def hexbits(values) -> list[str]:
    return [struct.pack(">d", float(v)).hex() for v in np.asarray(values, dtype=np.float64).ravel()]


def content_sha(spec: ModelSpec, feature_names, booster: lgb.Booster) -> str:
    content = {
        "spec": dataclasses.asdict(spec),
        "feature_names": list(feature_names),
        "objective": spec.objective,
        "label_feature": spec.label_feature,
        "label_version": spec.label_version,
        "booster_model_str": booster.model_to_string(),
    }
    canonical = json.dumps(content, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()


def payload_for(spec, feature_names, booster, *, version=2, feature_versions=None, walk_forward=None,
                ensemble=None, sha=None, extra=None):
    if sha is None:
        sha = content_sha(spec, feature_names, booster)
    metrics = {"auc": np.float64(0.61), "log_loss": np.float64(0.66), "n_rows": np.int64(1200)}
    payload = {
        "payload_version": version,
        "content_sha256": sha,
        "data_fingerprint": hashlib.sha256(spec.name.encode()).hexdigest(),
        "integrity": {"verdict": "PASS", "checks": [{"name": "monotonic_ts", "severity": "PASS", "message": "ok", "details": {}}]},
        "spec": dataclasses.asdict(spec),
        "feature_names": tuple(feature_names),
        "booster": booster,
        "ensemble": ensemble,
        "objective": spec.objective,
        "metrics": metrics,
        "eval_kind": "holdout_80_20",
        "trained_at": TRAINED_AT,
        "n_train_rows": 960,
        "n_val_rows": 240,
        "n_features": len(feature_names),
        "n_bar_slots_total": 1300,
        "n_bar_slots_dropped_nan": 100,
        "per_feature_non_null": {f: 1200 for f in feature_names},
        "per_feature_pct_non_null": {f: np.float64(0.923) for f in feature_names},
        "label_feature": spec.label_feature,
        "label_version": spec.label_version,
        "deployment_readiness": {
            "deployment_ready": not spec.derived_features,
            "unregistered_input_features": list(spec.derived_features),
            "unregistered_label": None,
        },
        "walk_forward": walk_forward,
    }
    if feature_versions is not None:
        payload["feature_versions"] = dict(feature_versions)
    payload.update(extra or {})
    if version == 1:
        del payload["payload_version"]
        del payload["ensemble"]
    return sha, payload


class _V1Pickler(pickle.Pickler):
    """Pickles Boosters with the LightGBM 3.x state key ``handle``, as v1 artifacts have it."""

    def reducer_override(self, obj):
        if isinstance(obj, lgb.Booster):
            state = obj.__getstate__()
            state["handle"] = state.pop("_handle")
            return copyreg.__newobj__, (type(obj),), state
        return NotImplemented


def dump(payload, legacy_handle=False) -> bytes:
    if not legacy_handle:
        return pickle.dumps(payload, protocol=PROTOCOL)
    buf = io.BytesIO()
    _V1Pickler(buf, protocol=PROTOCOL).dump(payload)
    return buf.getvalue()


def special_rows(d: int) -> list[list[float]]:
    tiny = [0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, K_ZERO, -K_ZERO,
            np.nextafter(K_ZERO, 1.0), -np.nextafter(K_ZERO, 1.0), 5e-324, 1e-300]
    rows = [[float("nan")] * d, [0.0] * d, [-0.0] * d, [float("inf")] * d, [float("-inf")] * d, [1e300] * d]
    for v in tiny:
        rows.append([v] * d)
    for j in range(d):
        r = [0.25] * d
        r[j] = float("nan")
        rows.append(r)
    return rows


DECIMAL_ROWS = 8


def inputs_for(rng, X_like: np.ndarray, n_random=48) -> np.ndarray:
    """Random rows, special rows, then DECIMAL_ROWS rows rounded to 6 decimal
    places: those survive NUMERIC(28,10) storage exactly, so the service
    tests can seed feature_values with them and still expect Python's bits."""
    d = X_like.shape[1]
    idx = rng.integers(0, X_like.shape[0], size=n_random // 2)
    picked = X_like[idx]
    fresh = rng.normal(size=(n_random - len(picked), d)) * np.nanstd(X_like, axis=0)
    decimal = np.round(rng.normal(size=(DECIMAL_ROWS, d)) * np.nanstd(X_like, axis=0), 6)
    return np.vstack([picked, fresh, np.array(special_rows(d)), decimal]).astype(np.float64)


def names(prefix, d):
    return [f"{prefix}_{i:02d}" for i in range(d)]


def feature_versions_for(feature_names):
    return {f: 1 + (i % 3) for i, f in enumerate(feature_names)}


# ---------------------------------------------------------------- cases

def case_binary(rng):
    d = 6
    X = rng.normal(size=(1200, d))
    y = (X[:, 0] - 0.7 * X[:, 1] + 0.3 * X[:, 2] * X[:, 3] + rng.normal(scale=0.8, size=1200) > 0).astype(int)
    params = {**BASE, "objective": "binary", "num_leaves": 15, "learning_rate": 0.1, "min_child_samples": 10}
    fn = names("btc_ret", d)
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=60)
    spec = ModelSpec("golden_binary_ü", "directional", "label_up_4h", 1, "binary",
                     hyperparams={"num_leaves": 15, "learning_rate": 0.1, "min_child_samples": 10, "reg_lambda": 1e-05, "n_estimators": 60})
    return spec, fn, b, X, {"feature_versions": feature_versions_for(fn)}


def case_regression(rng):
    d = 5
    X = rng.normal(size=(1000, d))
    y = 2.0 * X[:, 0] + np.sin(X[:, 1]) + 0.1 * rng.normal(size=1000)
    params = {**BASE, "objective": "regression", "num_leaves": 31, "learning_rate": 0.05}
    fn = names("eth_vol", d)
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=80)
    spec = ModelSpec("golden_regression", "flow", "fwd_return_1h", 2, "regression", symbol="ETHUSDT", interval="15m",
                     hyperparams={"num_leaves": 31, "learning_rate": 0.05, "n_estimators": 80, "big": 1e16, "small": 0.0001})
    return spec, fn, b, X, {"feature_versions": feature_versions_for(fn)}


def case_multiclass(rng):
    d = 6
    X = rng.normal(size=(1500, d))
    score = X[:, 0] + 0.5 * X[:, 1] - 0.5 * X[:, 2]
    y = np.digitize(score + rng.normal(scale=0.5, size=1500), [-0.6, 0.6])  # encoded 0/1/2 = -1/0/+1
    params = {**BASE, "objective": "multiclass", "num_class": 3, "num_leaves": 7, "learning_rate": 0.1}
    fn = names("dir", d)
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=40)
    spec = ModelSpec("golden_multiclass", "directional", "triple_barrier_4h", 1, "multiclass",
                     hyperparams={"num_leaves": 7, "learning_rate": 0.1, "n_estimators": 40})
    return spec, fn, b, X, {"feature_versions": feature_versions_for(fn)}


def case_missing_nan(rng):
    d = 4
    X = rng.normal(size=(1200, d))
    y = (X[:, 0] + X[:, 2] > 0).astype(int)
    X[rng.random(1200) < 0.2, 0] = np.nan  # NaN seen in training: missing_type NaN
    X[rng.random(1200) < 0.2, 1] = np.nan
    y[np.isnan(X[:, 0])] = 1
    params = {**BASE, "objective": "binary", "num_leaves": 15, "learning_rate": 0.2}
    fn = names("macro", d)
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=30)
    spec = ModelSpec("golden_missing_nan", "regime", "label_regime", 1, "binary", hyperparams={"num_leaves": 15})
    return spec, fn, b, X, {}


def case_missing_zero(rng):
    d = 4
    X = rng.normal(size=(1200, d))
    X[rng.random(1200) < 0.3, 0] = 0.0
    X[rng.random(1200) < 0.3, 1] = 0.0
    y = X[:, 0] * 3 + X[:, 1] + (X[:, 0] == 0) * 2.5 + 0.1 * rng.normal(size=1200)
    params = {**BASE, "objective": "regression", "num_leaves": 15, "learning_rate": 0.2, "zero_as_missing": True}
    fn = names("oi", d)
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=30)
    spec = ModelSpec("golden_missing_zero", "positioning", "oi_delta", 1, "regression", hyperparams={"zero_as_missing": True})
    return spec, fn, b, X, {}


def case_categorical(rng):
    n = 2000
    cat_small = rng.integers(0, 8, size=n).astype(float)
    cat_big = rng.integers(0, 60, size=n).astype(float)
    num = rng.normal(size=(n, 2))
    cat_small_train = cat_small.copy()
    cat_small_train[rng.random(n) < 0.1] = np.nan  # cat_small has missing_type NaN, cat_big None
    X = np.column_stack([cat_small_train, cat_big, num])
    effect_small = np.array([1.5, -1, 0.2, 0.8, -1.2, 0.0, 2.0, -0.5])
    effect_big = np.sin(np.arange(60))
    y = (effect_small[cat_small.astype(int)] + effect_big[cat_big.astype(int)] + num[:, 0] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    params = {**BASE, "objective": "binary", "num_leaves": 15, "learning_rate": 0.1, "min_data_per_group": 5,
              "cat_smooth": 1.0, "max_cat_to_onehot": 4, "max_cat_threshold": 64}
    fn = ["cat_session", "cat_hour", "num_a", "num_b"]
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn, categorical_feature=[0, 1]), num_boost_round=40)
    spec = ModelSpec("golden_categorical", "regime", "label_regime", 1, "binary", hyperparams={"max_cat_to_onehot": 4})
    extra = np.array([
        [float("nan"), float("nan"), 0.1, 0.1],
        [-1.0, -1.0, 0.1, 0.1],
        [-0.5, -0.9, 0.1, 0.1],
        [2.7, 59.9, 0.1, 0.1],
        [7.0, 59.0, 0.1, 0.1],
        [8.0, 60.0, 0.1, 0.1],
        [100.0, 1000.0, 0.1, 0.1],
        [1e10, 3e9, 0.1, 0.1],
        [2147483647.0, 2147483648.0, 0.1, 0.1],
        [float("inf"), float("-inf"), 0.1, 0.1],
        [0.0, 0.0, 0.1, 0.1],
        [-0.0, 31.0, 0.1, 0.1],
        [5.0, 32.0, 0.1, 0.1],
        [3.0, 33.0, float("nan"), 0.1],
    ])
    return spec, fn, b, X, {"extra_inputs": extra}


def case_early_stopped(rng):
    d = 5
    X = rng.normal(size=(1500, d))
    y = (X[:, 0] + 0.5 * rng.normal(size=1500) > 0).astype(int)
    fn = names("es", d)
    params = {**BASE, "objective": "binary", "num_leaves": 31, "learning_rate": 0.3}
    train = lgb.Dataset(X[:1000], y[:1000], feature_name=fn)
    valid = lgb.Dataset(X[1000:], y[1000:], reference=train)
    # keep_training_booster=True keeps every tree in the model text while
    # best_iteration points earlier: the trap the service must honour.
    b = lgb.train(params, train, num_boost_round=200, valid_sets=[valid],
                  callbacks=[lgb.early_stopping(5, verbose=False)], keep_training_booster=True)
    assert 0 < b.best_iteration < b.current_iteration(), (b.best_iteration, b.current_iteration())
    spec = ModelSpec("golden_early_stopped", "directional", "label_up_1h", 1, "binary",
                     early_stopping_rounds=5, hyperparams={"learning_rate": 0.3})
    return spec, fn, b, X, {}


def case_trees500(rng):
    d = 20
    X = rng.normal(size=(3000, d))
    y = (X[:, :5].sum(axis=1) + np.sin(X[:, 5] * 2) + rng.normal(scale=1.0, size=3000) > 0).astype(int)
    params = {**BASE, "objective": "binary", "num_leaves": 31, "learning_rate": 0.05, "min_child_samples": 20}
    fn = names("f", d)
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=500)
    spec = ModelSpec("golden_trees500", "directional", "label_up_4h", 3, "binary", interval="4h",
                     hyperparams={"num_leaves": 31, "learning_rate": 0.05, "n_estimators": 500})
    return spec, fn, b, X, {"feature_versions": feature_versions_for(fn)}


def case_linear_tree(rng):
    d = 3
    X = rng.normal(size=(1000, d))
    y = 3 * X[:, 0] + np.where(X[:, 1] > 0, 2 * X[:, 2], -X[:, 2]) + 0.05 * rng.normal(size=1000)
    params = {**BASE, "objective": "regression", "num_leaves": 4, "learning_rate": 0.3, "linear_tree": True}
    fn = names("lin", d)
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=20)
    spec = ModelSpec("golden_linear_tree", "flow", "fwd_return_1h", 1, "regression", hyperparams={"linear_tree": True})
    return spec, fn, b, X, {}


def case_tiny_values(rng):
    d = 3
    X = rng.normal(size=(1200, d))
    X[:, 0] *= 1e-34  # thresholds land at the scale of kZeroThreshold
    y = np.where(X[:, 0] > 2e-35, 1.0, 0.0) + np.where(X[:, 0] < -2e-35, -1.0, 0.0) + X[:, 1]
    params = {**BASE, "objective": "regression", "num_leaves": 15, "learning_rate": 0.3}
    fn = names("tiny", d)
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=20)
    spec = ModelSpec("golden_tiny_values", "flow", "fwd_return_1h", 1, "regression")
    grid = np.array([[s * m, 0.1, 0.1] for m in (1e-36, 5e-36, 9e-36, 1e-35, K_ZERO, 1.1e-35, 2e-35, 3e-35, 1e-34) for s in (1, -1)])
    return spec, fn, b, X, {"extra_inputs": grid}


def case_sklearn_classifier(rng):
    """The trainer's path: LGBMClassifier on a DataFrame with early stopping, payload gets booster_."""
    d = 6
    fn = names("btc_feat", d)
    X = pd.DataFrame(rng.normal(size=(1400, d)), columns=fn)
    y = (X.iloc[:, 0] * 0.8 - X.iloc[:, 3] + rng.normal(scale=0.7, size=1400) > 0).astype(int)
    hp = {"n_estimators": 300, "learning_rate": 0.08, "num_leaves": 15, "random_state": 11,
          "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.9, "verbose": -1,
          "n_jobs": 1, "deterministic": True, "force_col_wise": True}
    clf = lgb.LGBMClassifier(objective="binary", **hp)
    clf.fit(X.iloc[:1000], y.iloc[:1000], eval_set=[(X.iloc[1000:1200], y.iloc[1000:1200])],
            callbacks=[lgb.early_stopping(10, verbose=False)])
    spec = ModelSpec("golden_sklearn_classifier", "directional", "label_up_4h", 1, "binary",
                     hyperparams=hp, early_stopping_rounds=10, training_intervals=("1h",))
    wf = {"n_folds": 3, "folds": [{"fold": i, "train_end": dt.datetime(2026, 1 + i, 1), "features_selected": fn}
                                  for i in range(3)],
          "fold_metrics": collections.OrderedDict([("auc", [np.float64(0.6), np.float64(0.62)])])}
    return spec, fn, clf.booster_, X.to_numpy(), {"feature_versions": feature_versions_for(fn), "walk_forward": wf}


def case_regression_sqrt(rng):
    d = 3
    X = rng.normal(size=(800, d))
    y = np.abs(X[:, 0]) * 4 + 0.1 * rng.random(800)
    params = {**BASE, "objective": "regression", "reg_sqrt": True, "num_leaves": 7}
    fn = names("sq", d)
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=15)
    spec = ModelSpec("golden_regression_sqrt", "flow", "abs_return", 1, "regression", hyperparams={"reg_sqrt": True})
    return spec, fn, b, X, {}


def case_v1_binary(rng):
    d = 4
    X = rng.normal(size=(900, d))
    y = (X[:, 1] > 0.2).astype(int)
    params = {**BASE, "objective": "binary", "num_leaves": 7, "learning_rate": 0.2}
    fn = names("legacy", d)
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=25)
    spec = ModelSpec("golden_v1_binary", "regime", "label_regime", 1, "binary")
    return spec, fn, b, X, {"version": 1}


def case_stacked(rng):
    """Stacked training over 1h and 4h bars: the last column is interval_indicator."""
    d = 4
    n = 1600
    X = rng.normal(size=(n, d))
    indicator = np.where(rng.random(n) < 0.5, 2.0, 3.0)  # 1h -> 2, 4h -> 3
    y = (X[:, 0] + 0.4 * indicator - 1.0 + rng.normal(scale=0.6, size=n) > 0).astype(int)
    fn = names("stk", d) + ["interval_indicator"]
    Xs = np.column_stack([X, indicator])
    params = {**BASE, "objective": "binary", "num_leaves": 7, "learning_rate": 0.2}
    b = lgb.train(params, lgb.Dataset(Xs, y, feature_name=fn), num_boost_round=20)
    spec = ModelSpec("golden_stacked", "directional", "label_up_4h", 1, "binary", training_intervals=("1h", "4h"))
    return spec, fn, b, Xs, {"feature_versions": feature_versions_for(fn[:-1]), "indicator": 2.0}


def case_stacked_regression(rng):
    """Stacked 15m + 1h regression: interval_indicator with a raw (untransformed) output."""
    d = 5
    n = 1600
    X = rng.normal(size=(n, d))
    indicator = np.where(rng.random(n) < 0.5, 1.0, 2.0)  # 15m -> 1, 1h -> 2
    y = X[:, 0] - 0.5 * X[:, 1] * indicator + 0.3 * X[:, 2] + 0.1 * rng.normal(size=n)
    fn = names("sr", d) + ["interval_indicator"]
    Xs = np.column_stack([X, indicator])
    params = {**BASE, "objective": "regression", "num_leaves": 15, "learning_rate": 0.1}
    b = lgb.train(params, lgb.Dataset(Xs, y, feature_name=fn), num_boost_round=40)
    spec = ModelSpec("golden_stacked_regression", "flow", "fwd_return_1h", 1, "regression",
                     training_intervals=("15m", "1h"))
    return spec, fn, b, Xs, {"feature_versions": feature_versions_for(fn[:-1]), "indicator": 2.0}


def wf_folds(selected_by_fold, skipped_last):
    """A trainer-shaped walk_forward block: folds that ran carry their
    features_selected; a final fold skipped at run time carries [] and a reason."""
    folds = [{"fold": k, "train_start": dt.datetime(2025, 1 + k, 1).isoformat(), "train_end": dt.datetime(2026, 1 + k, 1).isoformat(),
              "n_train": 900, "n_test": 120, "metrics": {"auc": 0.6}, "skipped_reason": None,
              "features_selected": list(sel), "oof_predictions": [], "oof_timestamps": [],
              "feature_importances": {}}
             for k, sel in enumerate(selected_by_fold)]
    if skipped_last:
        k = len(folds)
        folds.append({"fold": k, "train_start": dt.datetime(2025, 1 + k, 1).isoformat(), "train_end": dt.datetime(2026, 1 + k, 1).isoformat(),
                      "n_train": 900, "n_test": 40, "metrics": {}, "skipped_reason": "single_class_test_set",
                      "features_selected": [], "oof_predictions": [], "oof_timestamps": [],
                      "feature_importances": {}})
    return {"spec_name": "wf", "primary_metric": "auc", "n_folds_configured": len(folds),
            "n_folds_generated": len(folds), "n_folds_run": len(selected_by_fold), "folds": folds}


def case_wf_skipped_last_fold(rng):
    """Walk-forward with feature selection whose final fold was skipped: the
    saved booster is the last fold that ran, fit on that fold's selection, in
    the selection's own order (not payload order)."""
    d = 7
    fn = names("wfs", d)
    selected = [fn[4], fn[0], fn[6], fn[2]]
    X = rng.normal(size=(1000, len(selected)))
    y = (X[:, 0] - X[:, 1] + 0.5 * X[:, 3] + rng.normal(scale=0.6, size=1000) > 0).astype(int)
    params = {**BASE, "objective": "binary", "num_leaves": 7, "learning_rate": 0.2}
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=selected), num_boost_round=20)
    spec = ModelSpec("golden_wf_skipped_last_fold", "regime", "label_regime", 1, "binary",
                     feature_selection_enabled=True)
    wf = wf_folds([[fn[1], fn[3]], selected], skipped_last=True)
    return spec, fn, b, X, {"feature_versions": feature_versions_for(fn), "walk_forward": wf, "input_names": selected}


def case_derived(rng):
    """A model with a train-time-only derived input: never servable."""
    d = 3
    X = rng.normal(size=(800, d))
    y = (X[:, 2] > 0).astype(int)
    fn = ["btc_ret_00", "btc_vol_00", "btc_ret_x_vol"]
    params = {**BASE, "objective": "binary", "num_leaves": 7}
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=10)
    spec = ModelSpec("golden_derived", "directional", "label_up_4h", 1, "binary", derived_features=("btc_ret_x_vol",))
    return spec, fn, b, X, {"feature_versions": {"btc_ret_00": 1, "btc_vol_00": 1}}


def case_demo(rng):
    """The `make demo` model: 39 per-bar BTCUSDT 1h inputs and one global daily
    macro input (forward-filled), 40 in all, like the service benchmark."""
    fn = [f"btc_f{i:02d}" for i in range(39)] + ["macro_dxy_1d"]
    X = rng.uniform(-1, 1, size=(4000, 40))
    y = (X[:, 0] + 0.5 * X[:, 1] - 0.4 * X[:, 39] + X[:, 2] * X[:, 3] + rng.normal(scale=0.5, size=4000) > 0).astype(int)
    params = {**BASE, "objective": "binary", "num_leaves": 15, "learning_rate": 0.1}
    b = lgb.train(params, lgb.Dataset(X, y, feature_name=fn), num_boost_round=80)
    spec = ModelSpec("demo_btc_direction_1h", "directional", "label_up_4h", 1, "binary",
                     hyperparams={"num_leaves": 15, "learning_rate": 0.1, "n_estimators": 80})
    return spec, fn, b, X, {"feature_versions": {f: 1 for f in fn}}


# ---------------------------------------------------------------- vintage (issue 26)
#
# Models trained the way blackheart-train trains them on a calendar: the
# trainer's own fold rule (walk_forward.generate_folds) over an hourly bar
# grid, each fold fit on its train slice and its out-of-fold predictions
# taken on its test slice, the saved estimator being the last fold that was
# fit; and the chronological 80/20 path. Each case records, from what this
# generator knows it did, the windows the saved model saw (`vintage`) and,
# for the point-in-time test, bars around honest_from with their inputs and
# the value an honest replay must write there (`pit`).

WF_TRAIN_DAYS, WF_EMBARGO_DAYS, WF_TEST_DAYS, WF_N_FOLDS = 365, 7, 21, 6


def trainer_folds(start, end):
    """The trainer's fold boundaries in [start, end): fold k tests
    [start + train + embargo + k*test, … + test), trains on the train_days
    before its test_start less the embargo; generation stops at the first
    fold whose test_end would pass end."""
    train, test, embargo = (dt.timedelta(days=d) for d in (WF_TRAIN_DAYS, WF_TEST_DAYS, WF_EMBARGO_DAYS))
    first = start + train + embargo
    folds = []
    for k in range(WF_N_FOLDS):
        test_start = first + k * test
        if test_start + test > end:
            break
        folds.append((k, test_start - embargo - train, test_start - embargo, test_start, test_start + test))
    return folds


def demo_grid(start, end, d):
    """Hourly bars in [start, end) and the demo's per-bar inputs btc_f00.. at
    each: the formula testdata/demo/seed.sql writes, rounded to 6 decimal
    places (so NUMERIC(28,10) storage keeps them exactly)."""
    ts = pd.date_range(start, end, freq="1h", inclusive="left")
    hours = (ts - pd.Timestamp("1970-01-01")) / pd.Timedelta(hours=1)
    X = np.column_stack([np.round(np.sin(np.asarray(hours) * (k + 1) * 0.0137 + k), 6) for k in range(d)])
    return ts, X


def iso(t) -> str:
    return pd.Timestamp(t).to_pydatetime().isoformat()


def walk_forward_train(spec, fn, ts, X, y, params, rounds):
    """run_walk_forward's shape: per fold a fit (or a skipped_reason) and its
    OOF predictions; returns the walk_forward dict and the saved booster."""
    folds, saved, saved_k = [], None, None
    classes = 3 if spec.objective == "multiclass" else 2
    for k, tr_s, tr_e, te_s, te_e in trainer_folds(spec.train_start, spec.train_end):
        tr = (ts >= tr_s) & (ts < tr_e)
        te = (ts >= te_s) & (ts < te_e)
        fold = {"fold": k, "train_start": tr_s.isoformat(), "train_end": tr_e.isoformat(),
                "test_start": te_s.isoformat(), "test_end": te_e.isoformat(),
                "n_train": int(tr.sum()), "n_test": int(te.sum()), "metrics": {}, "skipped_reason": None,
                "features_selected": [], "oof_predictions": [], "oof_timestamps": [], "feature_importances": {}}
        if len(np.unique(y[tr])) < classes:
            fold["skipped_reason"] = "single_class_train_set" if classes == 2 else "insufficient_classes_in_train_set"
        elif len(np.unique(y[te])) < 2:
            fold["skipped_reason"] = "single_class_test_set"
        if fold["skipped_reason"] is None:
            b = lgb.train(params, lgb.Dataset(X[tr], y[tr], feature_name=fn), num_boost_round=rounds)
            fold["metrics"] = {"auc" if classes == 2 else "macro_auc_ovr": np.float64(0.6)}
            fold["oof_predictions"] = np.asarray(b.predict(X[te])).tolist()
            fold["oof_timestamps"] = [iso(t) for t in ts[te]]
            saved, saved_k = b, k
        folds.append(fold)
    wf = {"spec_name": spec.name, "primary_metric": "auc" if classes == 2 else "macro_auc_ovr",
          "n_folds_configured": WF_N_FOLDS, "n_folds_generated": len(folds),
          "n_folds_run": sum(f["skipped_reason"] is None for f in folds), "folds": folds}
    return wf, saved, saved_k


def wf_vintage(spec, wf, saved_k):
    f = wf["folds"][saved_k]
    return {"rule": "walk_forward", "fold": saved_k, "train_start": f["train_start"], "train_end": f["train_end"],
            "honest_from": f["test_start"], "validated_from": f["test_start"], "validated_to": f["test_end"],
            "data_end": spec.train_end.isoformat()}


def pit_bars(wf, saved, saved_k, ts, X, y_hours_before, y_hours_after):
    """Bars around the saved fold's test_start: before it, the OOF value the
    artifact stores for the bar (the previous fold's test window); from it,
    the saved booster's own prediction. Every bar carries its inputs."""
    f = wf["folds"][saved_k]
    honest = pd.Timestamp(f["test_start"])
    oof = {}
    for fold in wf["folds"]:
        for t, p in zip(fold["oof_timestamps"], fold["oof_predictions"]):
            oof[t] = (fold["fold"], p)
    sel = (ts >= honest - pd.Timedelta(hours=y_hours_before)) & (ts < honest + pd.Timedelta(hours=y_hours_after))
    model_out = np.asarray(saved.predict(X[sel]))
    bars = []
    for i, (t, row) in enumerate(zip(ts[sel], X[sel])):
        if t < honest:
            k, p = oof[iso(t)]
            bars.append({"ts": iso(t), "inputs": hexbits(row), "kind": "oof", "fold": k, "expected": hexbits(p)})
        else:
            bars.append({"ts": iso(t), "inputs": hexbits(row), "kind": "model", "expected": hexbits(model_out[i])})
    return bars


def case_wf_demo(rng):
    """The demo's honest model: binary, six of the demo's per-bar inputs,
    walk-forward by the trainer's rule over the spec window, every fold fit."""
    spec = ModelSpec("demo_btc_regime_wf_1h", "regime", "label_up_4h", 1, "binary",
                     hyperparams={"num_leaves": 7, "learning_rate": 0.1, "n_estimators": 30})
    fn = [f"btc_f{i:02d}" for i in range(6)]
    ts, X = demo_grid(spec.train_start, spec.train_end, len(fn))
    y = (X[:, 0] + 0.5 * X[:, 1] - 0.4 * X[:, 2] + X[:, 3] * X[:, 4] + rng.normal(scale=0.5, size=len(ts)) > 0).astype(int)
    params = {**BASE, "objective": "binary", "num_leaves": 7, "learning_rate": 0.1}
    wf, saved, k = walk_forward_train(spec, fn, ts, X, y, params, 30)
    return spec, fn, saved, X, {
        "feature_versions": {f: 1 for f in fn}, "walk_forward": wf,
        "extra": {"eval_kind": "walk_forward_aggregate", "n_train_rows": wf["folds"][k]["n_train"],
                  "n_val_rows": wf["folds"][k]["n_test"], "last_fold_metrics": wf["folds"][k]["metrics"]},
        "case": {"vintage": wf_vintage(spec, wf, k), "pit": pit_bars(wf, saved, k, ts, X, 48, 24),
                 "oof_rows": sum(len(f["oof_predictions"]) for f in wf["folds"])}}


def case_wf_multiclass_skipped(rng):
    """Multiclass walk-forward whose final fold is skipped at run time (its
    test window holds one class): the saved model is the fold before it, and
    its OOF rows are probability vectors (D8 applies to them)."""
    spec = ModelSpec("golden_wf_multiclass_skipped", "directional", "triple_barrier_4h", 1, "multiclass",
                     train_start=dt.datetime(2025, 1, 1), train_end=dt.datetime(2026, 6, 20))
    fn = [f"btc_f{i:02d}" for i in range(4)]
    ts, X = demo_grid(spec.train_start, spec.train_end, len(fn))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.4, size=len(ts)), [-0.5, 0.5])
    last = trainer_folds(spec.train_start, spec.train_end)[-1]
    y[(ts >= last[3]) & (ts < last[4])] = 1  # the final test window holds one class
    params = {**BASE, "objective": "multiclass", "num_class": 3, "num_leaves": 7, "learning_rate": 0.1}
    wf, saved, k = walk_forward_train(spec, fn, ts, X, y, params, 15)
    assert wf["folds"][-1]["skipped_reason"] == "single_class_test_set" and k == len(wf["folds"]) - 2
    return spec, fn, saved, X, {
        "feature_versions": {f: 1 for f in fn}, "walk_forward": wf,
        "extra": {"eval_kind": "walk_forward_aggregate"},
        "case": {"vintage": wf_vintage(spec, wf, k), "pit": pit_bars(wf, saved, k, ts, X, 6, 6),
                 "oof_rows": sum(len(f["oof_predictions"]) for f in wf["folds"])}}


def case_holdout_80_20(rng):
    """The trainer's 80/20 path: fit on the chronological first 80 % of the
    spec window's rows, no embargo, no walk_forward; the split point is not
    stored, only the row counts."""
    spec = ModelSpec("golden_holdout_80_20", "regime", "label_up_4h", 1, "binary",
                     train_start=dt.datetime(2025, 3, 1), train_end=dt.datetime(2025, 9, 1))
    fn = [f"btc_f{i:02d}" for i in range(3)]
    ts, X = demo_grid(spec.train_start, spec.train_end, len(fn))
    y = (X[:, 0] - X[:, 2] + rng.normal(scale=0.5, size=len(ts)) > 0).astype(int)
    n_val = int(round(len(ts) * spec.val_fraction))
    params = {**BASE, "objective": "binary", "num_leaves": 7}
    b = lgb.train(params, lgb.Dataset(X[:-n_val], y[:-n_val], feature_name=fn), num_boost_round=15)
    embargo = dt.timedelta(days=WF_EMBARGO_DAYS)
    return spec, fn, b, X, {
        "feature_versions": {f: 1 for f in fn},
        "extra": {"eval_kind": "holdout_80_20", "n_train_rows": len(ts) - n_val, "n_val_rows": n_val},
        "case": {"vintage": {"rule": "holdout_80_20", "fold": None, "train_start": spec.train_start.isoformat(),
                             "train_end": spec.train_end.isoformat(),
                             "honest_from": (spec.train_end + embargo).isoformat(),
                             "validated_from": None, "validated_to": None, "data_end": spec.train_end.isoformat()}}}


# ---------------------------------------------------------------- ensembles (issue 4)

def ensemble_signature(ens) -> str:
    """CONTRACT §2: the content-sha input of an ensemble payload."""
    parts = []
    for fbm in ens.models:
        parts.append(f"=== {fbm.kind} ===")
        if fbm.kind == "lightgbm":
            parts.append(fbm.model.booster_.model_to_string())
        elif fbm.kind == "xgboost":
            parsed = json.loads(bytes(fbm.model.get_booster().save_raw(raw_format="json")).decode())
            parsed.pop("version", None)
            parts.append(json.dumps(parsed, sort_keys=True))
        else:
            c = fbm.model.C_
            parts.append(json.dumps({
                "coef_": fbm.model.coef_.tolist(), "intercept_": fbm.model.intercept_.tolist(),
                "C_": c.tolist() if hasattr(c, "tolist") else float(c),
                "scaler_mean_": fbm.scaler.mean_.tolist(), "scaler_scale_": fbm.scaler.scale_.tolist(),
            }, sort_keys=True))
    return "\n".join(parts)


def member_output(fbm, X: pd.DataFrame) -> np.ndarray:
    """One base model's (n, C) output, as the trainer's _predict_one computes it."""
    if fbm.scaler is not None:
        return np.asarray(fbm.model.predict_proba(fbm.scaler.transform(X.to_numpy(dtype="float64"))))
    if hasattr(fbm.model, "predict_proba"):
        return np.asarray(fbm.model.predict_proba(X))
    return np.asarray(fbm.model.predict(X)).reshape(len(X), 1)  # regressors


def booster_contributions(booster: lgb.Booster, inputs: np.ndarray) -> dict:
    """Booster.predict(X, pred_contrib=True) (best_iteration honoured, as
    predict does by default): per row, per class, one value per feature then
    the expected value. Where LightGBM itself cannot explain a model, its
    refusal is recorded instead."""
    try:
        contrib = np.asarray(booster.predict(inputs, pred_contrib=True))
    except lgb.basic.LightGBMError as e:
        return {"contrib_refused": str(e)}
    return {"contrib": [hexbits(row) for row in contrib.reshape(len(inputs), -1)]}


def member_contributions(fbm, X: pd.DataFrame) -> np.ndarray:
    """One member's contributions in its own space, (n, classes * (features + 1)),
    each class's block its features then its bias:
    - LightGBM: the sklearn wrapper's predict(X, pred_contrib=True);
    - XGBoost: Booster.predict(DMatrix, pred_contribs=True) over the iteration
      range the sklearn wrapper predicts with (best_iteration + 1 when set);
    - logistic: coef * ((x - mean) / scale) per feature, intercept as the bias
      (StandardScaler.transform, then one product per term: sklearn's own
      arithmetic up to the dot product's sum, which is not a contribution)."""
    n = len(X)
    if fbm.kind == "lightgbm":
        return np.asarray(fbm.model.predict(X, pred_contrib=True)).reshape(n, -1)
    if fbm.kind == "xgboost":
        booster = fbm.model.get_booster()
        best = booster.attr("best_iteration")
        end = int(best) + 1 if best is not None else 0
        # A DMatrix refuses a value that is ±inf as a float32 (missing is
        # NaN): such rows have no contributions in Python, recorded as NaN
        # here and refused in serving.
        with np.errstate(over="ignore"):
            finite = ~np.isinf(X.to_numpy(dtype="float64").astype(np.float32)).any(axis=1)
        got = np.asarray(booster.predict(xgb.DMatrix(X[finite]), pred_contribs=True, iteration_range=(0, end)))
        out = np.full((n, got[0].size), np.nan)
        out[finite] = got.reshape(int(finite.sum()), -1)
        return out.reshape(n, -1)
    xs = fbm.scaler.transform(X.to_numpy(dtype="float64"))
    coef, intercept = fbm.model.coef_, fbm.model.intercept_
    terms = xs[:, None, :] * coef[None, :, :]
    bias = np.broadcast_to(intercept[None, :, None], (n, coef.shape[0], 1))
    return np.concatenate([terms, bias], axis=2).reshape(n, -1)


def ensemble_output(ens, X: pd.DataFrame) -> np.ndarray:
    """The trainer's predict_proba_ensemble: unweighted mean of base-model outputs."""
    return np.mean(np.stack([member_output(f, X) for f in ens.models], axis=0), axis=0)


def ensemble_payload(spec, feature_names, ens, feature_versions, walk_forward=None):
    content = {
        "spec": dataclasses.asdict(spec), "feature_names": list(feature_names), "objective": spec.objective,
        "label_feature": spec.label_feature, "label_version": spec.label_version,
        "ensemble_signature": ensemble_signature(ens),
    }
    sha = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    return payload_for(spec, feature_names, None, feature_versions=feature_versions, walk_forward=walk_forward,
                       ensemble=ens, sha=sha)


ENSEMBLE_HP = {"n_estimators": 30, "learning_rate": 0.1, "num_leaves": 7, "random_state": 7, "min_child_samples": 20,
               "verbose": -1, "n_jobs": 1, "deterministic": True, "force_col_wise": True}


def xgb_params(hp):
    """blackheart-train's _xgboost_params_for_spec, plus n_jobs=1 for reproducible fixtures."""
    out = {k: hp[k] for k in ("learning_rate", "n_estimators", "subsample", "colsample_bytree", "min_child_samples",
                              "random_state", "reg_alpha", "reg_lambda") if k in hp}
    if "min_child_samples" in out:
        out["min_child_weight"] = out.pop("min_child_samples")
    return {**out, "verbosity": 0, "n_jobs": 1}


def multiclass_data(rng, n, d):
    X = rng.normal(size=(n, d))
    y = np.digitize(X[:, 0] - 0.6 * X[:, 1] + 0.4 * X[:, 2] + rng.normal(scale=0.6, size=n), [-0.5, 0.5])
    return X, y


def directional_ensemble(X, y, columns, hp=ENSEMBLE_HP):
    """The trainer's three members, each fit on the same DataFrame columns."""
    Xdf, yser = pd.DataFrame(X, columns=columns), pd.Series(y)
    lgbm = lgb.LGBMClassifier(objective="multiclass", **hp).fit(Xdf, yser)
    xgbm = xgb.XGBClassifier(objective="multi:softprob", **xgb_params(hp)).fit(Xdf, yser)
    scaler = StandardScaler()
    Xs = scaler.fit_transform(Xdf.to_numpy(dtype="float64"))
    lr = LogisticRegressionCV(l1_ratios=(1.0,), solver="saga", max_iter=2000, cv=3, random_state=7, n_jobs=1,
                              use_legacy_attributes=False).fit(Xs, yser)
    return Ensemble(models=[FittedBaseModel("lightgbm", lgbm), FittedBaseModel("xgboost", xgbm),
                            FittedBaseModel("logreg_l1", lr, scaler)])


def case_ensemble(rng):
    """The trainer's directional ensemble: LightGBM + XGBoost + logistic-L1, 3 classes."""
    d = 6
    fn = names("dir_ens", d)
    X, y = multiclass_data(rng, 900, d)
    ens = directional_ensemble(X, y, fn)
    spec = ModelSpec("golden_ensemble", "directional", "triple_barrier_4h", 1, "multiclass",
                     hyperparams=ENSEMBLE_HP, base_models=("lightgbm", "xgboost", "logreg_l1"))
    return spec, fn, ens, X


def case_stacked_ensemble(rng):
    """A directional ensemble over stacked 1h + 4h training: interval_indicator last."""
    d = 4
    X, y = multiclass_data(rng, 900, d)
    indicator = np.where(rng.random(900) < 0.5, 2.0, 3.0)
    fn = names("stk_ens", d) + ["interval_indicator"]
    Xs = np.column_stack([X, indicator])
    ens = directional_ensemble(Xs, y, fn)
    spec = ModelSpec("golden_stacked_ensemble", "directional", "triple_barrier_4h", 1, "multiclass",
                     hyperparams=ENSEMBLE_HP, base_models=("lightgbm", "xgboost", "logreg_l1"),
                     training_intervals=("1h", "4h"))
    return spec, fn, ens, Xs, {"indicator_col": d, "indicator": 2.0}


def case_wf_selected_ensemble(rng):
    """The trainer's locked directional shape: stacked intervals, walk-forward
    with feature selection, an ensemble. Members were fit on the last fold
    that ran's features_selected, where interval_indicator comes first; the
    payload lists it last. The final fold was skipped."""
    d = 6
    fn = names("wfe", d) + ["interval_indicator"]
    selected = ["interval_indicator", fn[3], fn[0], fn[5], fn[1]]
    X, y = multiclass_data(rng, 900, len(selected) - 1)
    indicator = np.where(rng.random(900) < 0.5, 2.0, 3.0)
    Xs = np.column_stack([indicator, X])
    ens = directional_ensemble(Xs, y, selected)
    spec = ModelSpec("golden_wf_selected_ensemble", "directional", "triple_barrier_4h", 1, "multiclass",
                     hyperparams=ENSEMBLE_HP, base_models=("lightgbm", "xgboost", "logreg_l1"),
                     training_intervals=("1h", "4h"), feature_selection_enabled=True)
    wf = wf_folds([[fn[2], "interval_indicator"], selected], skipped_last=True)
    return spec, fn, ens, Xs, {"indicator_col": 0, "indicator": 2.0, "walk_forward": wf, "input_names": selected}


def case_xgb_binary(rng):
    d = 5
    fn = names("xb", d)
    X = rng.normal(size=(800, d))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(scale=0.5, size=800) > 0).astype(int)
    X[rng.random(800) < 0.1, 3] = np.nan
    m = xgb.XGBClassifier(objective="binary:logistic", **xgb_params(ENSEMBLE_HP)).fit(pd.DataFrame(X, columns=fn), y)
    spec = ModelSpec("golden_xgb_binary", "regime", "label_regime", 1, "binary", base_models=("xgboost",))
    return spec, fn, Ensemble(models=[FittedBaseModel("xgboost", m)]), X


def case_xgb_multiclass(rng):
    d = 5
    fn = names("xm", d)
    X, y = multiclass_data(rng, 900, d)
    m = xgb.XGBClassifier(objective="multi:softprob", **xgb_params(ENSEMBLE_HP)).fit(pd.DataFrame(X, columns=fn), y)
    spec = ModelSpec("golden_xgb_multiclass", "directional", "triple_barrier_4h", 1, "multiclass", base_models=("xgboost",))
    return spec, fn, Ensemble(models=[FittedBaseModel("xgboost", m)]), X


def case_xgb_regression(rng):
    d = 4
    fn = names("xr", d)
    X = rng.normal(size=(800, d))
    y = 2 * X[:, 0] - X[:, 1] ** 2 + 0.1 * rng.normal(size=800)
    m = xgb.XGBRegressor(objective="reg:squarederror", **xgb_params(ENSEMBLE_HP)).fit(pd.DataFrame(X, columns=fn), y)
    spec = ModelSpec("golden_xgb_regression", "flow", "fwd_return_1h", 1, "regression", base_models=("xgboost",))
    return spec, fn, Ensemble(models=[FittedBaseModel("xgboost", m)]), X


def case_xgb_early_stopped(rng):
    d = 5
    fn = names("xe", d)
    X = rng.normal(size=(1200, d))
    y = (X[:, 0] + rng.normal(scale=0.8, size=1200) > 0).astype(int)
    Xdf = pd.DataFrame(X, columns=fn)
    params = {**xgb_params({**ENSEMBLE_HP, "n_estimators": 200, "learning_rate": 0.3})}
    m = xgb.XGBClassifier(objective="binary:logistic", early_stopping_rounds=5, **params)
    m.fit(Xdf.iloc[:800], y[:800], eval_set=[(Xdf.iloc[800:], y[800:])], verbose=False)
    assert m.best_iteration + 1 < m.get_booster().num_boosted_rounds(), "early stopping must have stopped early"
    spec = ModelSpec("golden_xgb_early_stopped", "regime", "label_regime", 1, "binary", base_models=("xgboost",),
                     early_stopping_rounds=5)
    return spec, fn, Ensemble(models=[FittedBaseModel("xgboost", m)]), X


ENSEMBLE_CASES = [
    ("ensemble", case_ensemble),
    ("stacked_ensemble", case_stacked_ensemble),
    ("wf_selected_ensemble", case_wf_selected_ensemble),
    ("xgb_binary", case_xgb_binary),
    ("xgb_multiclass", case_xgb_multiclass),
    ("xgb_regression", case_xgb_regression),
    ("xgb_early_stopped", case_xgb_early_stopped),
]


CASES = [
    ("binary", case_binary),
    ("regression", case_regression),
    ("multiclass", case_multiclass),
    ("missing_nan", case_missing_nan),
    ("missing_zero", case_missing_zero),
    ("categorical", case_categorical),
    ("early_stopped", case_early_stopped),
    ("trees500", case_trees500),
    ("linear_tree", case_linear_tree),
    ("tiny_values", case_tiny_values),
    ("sklearn_classifier", case_sklearn_classifier),
    ("regression_sqrt", case_regression_sqrt),
    ("v1_binary", case_v1_binary),
    ("stacked", case_stacked),
    ("stacked_regression", case_stacked_regression),
    ("wf_skipped_last_fold", case_wf_skipped_last_fold),
    ("derived", case_derived),
    ("demo", case_demo),
    ("wf_demo", case_wf_demo),
    ("wf_multiclass_skipped", case_wf_multiclass_skipped),
    ("holdout_80_20", case_holdout_80_20),
]


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_json(path: Path, obj) -> None:
    write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=True) + "\n").encode())


def hostile(out: Path) -> None:
    """Pickles that must be refused without running anything. Never unpickled here."""

    class _Reduce:
        def __init__(self, fn, args):
            self.fn, self.args = fn, args

        def __reduce__(self):
            return self.fn, self.args

    marker = "/tmp/blackheart-inference-pwned"
    samples = {
        "os_system": {"payload_version": 2, "booster": _Reduce(os.system, (f"touch {marker}",))},
        "builtins_eval": {"payload_version": 2, "booster": _Reduce(eval, (f"open('{marker}','w')",))},
        "subprocess_popen": _Reduce(__import__("subprocess").Popen, (["touch", marker],)),
    }
    for name, obj in samples.items():
        blob = pickle.dumps(obj, protocol=PROTOCOL)
        sha = hashlib.sha256(name.encode()).hexdigest()
        write_bytes(out / "hostile" / sha[:2] / f"{sha}.pkl", blob)


def numpy_fixtures(out: Path) -> None:
    """Arrays in every pickled form artifacts can hold: protocol 5
    (_frombuffer, in-band buffers) and protocol 3 (_reconstruct + BUILD),
    C and Fortran order, a transposed view, integers and an object array;
    plus the protocol-3 stream with numpy 1.x module names (numpy.core.*),
    made by renaming the text GLOBALs. Expected values in C order."""
    base = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
    arrays = {
        "c_f8": base,
        "f_f8": np.asfortranarray(base),
        "t_f8": base.T,
        "i8": np.array([-3, 0, 2**40], dtype=np.int64),
        "f4": np.array([0.1, -2.5], dtype=np.float32),
        "obj": np.array(["a", "bc"], dtype=object),
        "scalar_f8": np.float64(1) / 3,
    }
    expect = {}
    for k, v in arrays.items():
        a = np.asarray(v)
        expect[k] = {"shape": list(a.shape),
                     "values": [str(x) for x in a.ravel(order="C")] if a.dtype == object else hexbits(a.ravel(order="C"))}
    write_bytes(out / "numpy" / "arrays_p5.pkl", pickle.dumps(arrays, protocol=5))
    p3 = pickle.dumps(arrays, protocol=3)
    write_bytes(out / "numpy" / "arrays_p3.pkl", p3)
    assert b"numpy._core" in p3
    write_bytes(out / "numpy" / "arrays_p3_numpy1.pkl", p3.replace(b"numpy._core", b"numpy.core"))
    write_json(out / "numpy" / "expected.json", expect)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
    manifest = {"lightgbm": lgb.__version__, "xgboost": xgb.__version__, "numpy": np.__version__,
                "pickle_protocol": PROTOCOL, "cases": []}
    for name, fn in CASES:
        rng = np.random.default_rng(sum(map(ord, name)))
        spec, feature_names, booster, X, opts = fn(rng)
        version = opts.get("version", 2)
        sha, payload = payload_for(spec, feature_names, booster, version=version,
                                   feature_versions=opts.get("feature_versions"), walk_forward=opts.get("walk_forward"),
                                   extra=opts.get("extra"))
        blob = dump(payload, legacy_handle=(version == 1))
        write_bytes(out / "artifacts" / sha[:2] / f"{sha}.pkl", blob)

        # Predict through the artifact, exactly as a Python consumer would.
        loaded = pickle.loads(blob)["booster"]
        inputs = inputs_for(rng, X)
        n_decimal_from = len(inputs) - DECIMAL_ROWS
        if "indicator" in opts:  # a stacked model is served at its spec interval
            inputs[n_decimal_from:, -1] = opts["indicator"]
        if "extra_inputs" in opts:
            inputs = np.vstack([inputs, opts["extra_inputs"]])
        pred = np.asarray(loaded.predict(inputs))
        raw = np.asarray(loaded.predict(inputs, raw_score=True))
        width = 1 if pred.ndim == 1 else pred.shape[1]
        case = {
            "name": name,
            "sha": sha,
            "objective": spec.objective,
            "payload_version": version,
            "best_iteration": int(loaded.best_iteration),
            "num_trees": int(loaded.num_trees()),
            "num_class": int(width),
            "feature_names": list(opts.get("input_names", feature_names)),
            "decimal_rows": list(range(n_decimal_from, n_decimal_from + DECIMAL_ROWS)),
            "inputs": [hexbits(row) for row in inputs],
            "predict": [hexbits(row) for row in pred.reshape(len(inputs), width)],
            "raw": [hexbits(row) for row in raw.reshape(len(inputs), width)],
        }
        case.update(booster_contributions(loaded, inputs))
        case.update(opts.get("case", {}))
        write_json(out / "cases" / f"{name}.json", case)
        manifest["cases"].append({"name": name, "sha": sha, "objective": spec.objective, "rows": len(inputs)})
    for name, fn in ENSEMBLE_CASES:
        rng = np.random.default_rng(sum(map(ord, name)))
        spec, feature_names, ens, X, *more = fn(rng)
        opts = more[0] if more else {}
        versions = {f: 1 for f in feature_names if f != "interval_indicator"}
        sha, payload = ensemble_payload(spec, feature_names, ens, versions, walk_forward=opts.get("walk_forward"))
        blob = dump(payload)
        write_bytes(out / "artifacts" / sha[:2] / f"{sha}.pkl", blob)
        loaded = pickle.loads(blob)["ensemble"]
        inputs = inputs_for(rng, X)
        if any(f.kind == "logreg_l1" for f in loaded.models):
            inputs = inputs[np.isfinite(inputs).all(axis=1)]  # StandardScaler refuses NaN/inf, as serving does
        n_decimal_from = len(inputs) - DECIMAL_ROWS
        if "indicator_col" in opts:  # a stacked model is served at its spec interval
            inputs[n_decimal_from:, opts["indicator_col"]] = opts["indicator"]
        input_names = opts.get("input_names", feature_names)
        Xin = pd.DataFrame(inputs, columns=input_names)
        pred = ensemble_output(loaded, Xin)
        case = {
            "name": name, "sha": sha, "objective": spec.objective, "payload_version": 2, "kind": "ensemble",
            "best_iteration": 0, "num_trees": 0, "num_class": int(pred.shape[1]),
            "feature_names": list(input_names),
            "decimal_rows": list(range(n_decimal_from, n_decimal_from + DECIMAL_ROWS)),
            "inputs": [hexbits(row) for row in inputs],
            "predict": [hexbits(row) for row in pred],
            "raw": [],
            "parts": {f.kind: [hexbits(row) for row in member_output(f, Xin)] for f in loaded.models},
            "member_contrib": {f.kind: [hexbits(row) for row in member_contributions(f, Xin)] for f in loaded.models},
        }
        write_json(out / "cases" / f"{name}.json", case)
        manifest["cases"].append({"name": name, "sha": sha, "objective": spec.objective, "rows": len(inputs)})
    hostile(out)
    numpy_fixtures(out)
    write_json(out / "manifest.json", manifest)


if __name__ == "__main__":
    main()
