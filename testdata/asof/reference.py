"""The training-time feature rule, as an independent reference for the service.

blackheart-train's loader builds each input column of a bar grid like this
(rfkih/blackheart-train, loader.py), and this file restates that rule with
pandas, written from its description rather than from our Go code:

- a per-bar feature (registry symbols and intervals both non-empty) is read
  at the model's symbol/interval and reindexed onto the bar grid: only a
  value stamped exactly at the bar counts;
- a global feature (symbol = interval = '') with ffill_policy 'last_value'
  is merged with pandas.merge_asof(direction="backward", tolerance=cap):
  the newest row with ts <= bar and bar - ts <= cap (inclusive), cap =
  max_ffill_age_hours or 168 h; the newest row is used even when its value
  is NULL (NaN), which leaves the bar without that input;
- any other global is reindexed onto the grid (exact match);
- interval_indicator (stacked training) is {5m:0, 15m:1, 1h:2, 4h:3}[spec.interval];
- NUMERIC values become float through Decimal, as psycopg hands them over;
- a bar with any NaN input is dropped (training) / refused (serving).

The ready rows are then predicted by the artifact's own Booster.predict.

    python reference.py IN.json OUT.json

IN is written by the Go differential test (cmd/blackheart-inference); every
timestamp is an integer count of microseconds since the Unix epoch, so
nothing is lost on the way. OUT gives, per case and bar, either the input
vector and the predicted value as IEEE-754 bit patterns, or the names of the
missing inputs.
"""
from __future__ import annotations

import json
import pickle
import struct
import sys
from decimal import Decimal

import numpy as np
import pandas as pd

INDICATOR = {"5m": 0, "15m": 1, "1h": 2, "4h": 3}
DEFAULT_CAP_HOURS = 24 * 7


def hexbits(x: float) -> str:
    return struct.pack(">d", float(x)).hex()


def to_ts(micros) -> pd.DatetimeIndex:
    return pd.to_datetime(pd.Series(micros, dtype="int64"), unit="us")


def series_for(rows, symbol: str, interval: str) -> pd.Series:
    """One feature version's rows at one (symbol, interval), NULL as NaN, by ts."""
    picked = [(ts, value) for (sym, itv, ts, value) in rows if sym == symbol and itv == interval]
    if not picked:
        return pd.Series(dtype="float64")
    picked.sort()
    values = [float(Decimal(v)) if v is not None else float("nan") for _, v in picked]
    return pd.Series(values, index=to_ts([ts for ts, _ in picked]), dtype="float64")


def column(col: dict, rows, bars: pd.DatetimeIndex, symbol: str, interval: str, spec_interval: str) -> pd.Series:
    if col["indicator"]:
        return pd.Series(float(INDICATOR[spec_interval]), index=bars)
    if col["per_bar"]:
        return series_for(rows, symbol, interval).reindex(bars)
    series = series_for(rows, "", "")
    if series.empty:
        return pd.Series(float("nan"), index=bars)
    if col["ffill_policy"] != "last_value":
        return series.reindex(bars)
    cap = col["max_ffill_age_hours"] or DEFAULT_CAP_HOURS
    merged = pd.merge_asof(
        pd.DataFrame({"ts": bars}),
        series.to_frame("value").rename_axis("ts").reset_index(),
        on="ts", direction="backward", tolerance=pd.Timedelta(hours=cap),
    )
    return pd.Series(merged["value"].to_numpy(), index=bars)


def run_case(case: dict) -> dict:
    with open(case["artifact"], "rb") as f:
        payload = pickle.load(f)
    booster = payload["booster"]
    spec_interval = payload["spec"]["interval"]
    bars = pd.DatetimeIndex(to_ts(case["bars_us"]))
    by_ref: dict[tuple[str, int], list] = {}
    for name, version, sym, itv, ts, value in case["values"]:
        by_ref.setdefault((name, version), []).append((sym, itv, ts, value))
    cols = [column(c, by_ref.get((c["name"], c["version"]), []), bars, case["symbol"], case["interval"], spec_interval)
            for c in case["columns"]]
    X = np.column_stack([c.to_numpy(dtype="float64") for c in cols])
    ready = ~np.isnan(X).any(axis=1)
    pred = np.asarray(booster.predict(X[ready])) if ready.any() else np.empty(0)
    out, k = [], 0
    for i in range(len(bars)):
        if ready[i]:
            out.append({"ready": True, "vector": [hexbits(v) for v in X[i]], "value": hexbits(pred[k])})
            k += 1
        else:
            out.append({"ready": False, "missing": [c["name"] for j, c in enumerate(case["columns"]) if np.isnan(X[i, j])]})
    return {"seed": case["seed"], "bars": out}


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        cases = json.load(f)["cases"]
    with open(dst, "w") as f:
        json.dump({"cases": [run_case(c) for c in cases]}, f)


if __name__ == "__main__":
    main()
