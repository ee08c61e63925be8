"""Realized-performance metrics as blackheart-train computes them, restated
with the pinned Python stack (sklearn, pandas, numpy): the reference the Go
tests compare against, never our output.

- binary: shadow_analytics.py's _binary_metrics (AUC only when both classes are
  present; Brier; log-loss with predictions clipped to [1e-15, 1 - 1e-15];
  accuracy@0.5 = mean((p >= 0.5) == (y >= 0.5)); mean and std (ddof 0) of the
  predictions), its _calibration_bins (pandas.cut over numpy.linspace(0, 1, 11),
  right-closed, lowest included, empty bins omitted) and ECE. Where the trainer's
  report crashes (log-loss of a one-class window), labels=[0, 1] is passed so the
  value is the one the formula gives.
- multiclass: train.py's _evaluate (clip at 1e-7, renormalise each row, log-loss
  over labels [0, 1, 2]; accuracy of the argmax; macro one-vs-rest AUC only when
  every class is present), labels -1/0/+1 encoded 0/1/2.
- regression: RMSE, MAE, Pearson's r (NaN when either std is 0).
- the gate's bands: values > 0.70 and < 0.30, their count and mean label.

stdin: {"cases": [{"kind": "binary"|"multiclass"|"regression", "p": [...], "y": [...]}]}
(multiclass p is flat, three per row). stdout: per case the metrics, floats as
repr() strings, null where undefined.
"""
import json
import math
import sys

import numpy as np
import pandas as pd
from sklearn.metrics import (accuracy_score, brier_score_loss, log_loss, mean_absolute_error,
                             mean_squared_error, roc_auc_score)


def f(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else repr(float(x))


def bands(v, y):
    out = {}
    for name, mask in (("above", v > 0.70), ("below", v < 0.30)):
        n = int(mask.sum())
        out[name] = {"n": n, "label_rate": f(y[mask].mean()) if n else None}
    return out


def binary(p, y):
    out = {"n": len(p), "positives": int((y >= 0.5).sum())}
    if len(p) == 0:
        return out
    out.update(label_rate=f(y.mean()), pred_mean=f(p.mean()), pred_std=f(p.std()),
               brier=f(brier_score_loss(y, p, pos_label=1, labels=[0, 1])),
               log_loss=f(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
               accuracy=f(((p >= 0.5) == (y >= 0.5)).mean()),
               auc=f(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None)
    edges = np.linspace(0.0, 1.0, 11)
    df = pd.DataFrame({"predicted": p, "actual": y})
    df["bin"] = pd.cut(df["predicted"], bins=edges, labels=False, include_lowest=True)
    g = df.groupby("bin", observed=True).agg(count=("predicted", "size"), mean_pred=("predicted", "mean"),
                                             actual_rate=("actual", "mean"))
    g["abs_gap"] = (g["mean_pred"] - g["actual_rate"]).abs()
    out["calibration"] = [{"bin": int(b), "count": int(r["count"]), "mean_pred": f(r["mean_pred"]),
                           "actual": f(r["actual_rate"]), "gap": f(r["abs_gap"])} for b, r in g.iterrows()]
    out["ece"] = f((g["abs_gap"] * g["count"]).sum() / g["count"].sum()) if len(g) else None
    out.update(bands(p, y))
    return out


def multiclass(p, y):
    out = {"n": len(y)}
    if len(y) == 0:
        return out
    proba = p.reshape(-1, 3)
    yk = y.astype(int) + 1
    clipped = np.clip(proba, 1e-7, 1 - 1e-7)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    out.update(log_loss=f(log_loss(yk, clipped, labels=[0, 1, 2])), accuracy=f(accuracy_score(yk, proba.argmax(axis=1))),
               macro_auc=f(roc_auc_score(yk, proba, multi_class="ovr", average="macro", labels=[0, 1, 2]))
               if len(set(yk)) == 3 else None)
    out.update(bands(proba[:, 2] - proba[:, 0], y))
    return out


def regression(p, y):
    out = {"n": len(p)}
    if len(p) == 0:
        return out
    pearson = None if np.std(y) == 0.0 or np.std(p) == 0.0 else np.corrcoef(y, p)[0, 1]
    out.update(rmse=f(math.sqrt(mean_squared_error(y, p))), mae=f(mean_absolute_error(y, p)), pearson=f(pearson))
    out.update(bands(p, y))
    return out


def main():
    req = json.load(sys.stdin)
    kinds = {"binary": binary, "multiclass": multiclass, "regression": regression}
    out = [kinds[c["kind"]](np.asarray(c["p"] or [], dtype=np.float64), np.asarray(c["y"] or [], dtype=np.float64))
           for c in req["cases"]]
    json.dump({"cases": out}, sys.stdout)


if __name__ == "__main__":
    main()
