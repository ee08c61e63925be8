"""The two dataclasses blackheart-train pickles for ensembles (CONTRACT §3),
with the same module path, class names and fields. Fixture code only."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FittedBaseModel:
    kind: str
    model: Any
    scaler: Any = None


@dataclass
class Ensemble:
    models: list = field(default_factory=list)
