"""Exact apportionment: totals are split with the largest-remainder method, so the parts always add up
to the total, whatever the weights. Ties break by position, so results are deterministic."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence


class CalibrationError(RuntimeError):
    """The simulation could not place a target exactly (a profile asks for something impossible)."""


def apportion(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    n = len(weights)
    if n == 0:
        if total:
            raise CalibrationError(f"cannot place {total} on nothing")
        return []
    rest = total - minimum * n
    if rest < 0:
        raise CalibrationError(f"cannot give {n} parts at least {minimum} each out of {total}")
    wsum = float(sum(weights))
    if wsum <= 0:
        weights, wsum = [1.0] * n, float(n)
    quotas = [w / wsum * rest for w in weights]
    parts = [math.floor(q) for q in quotas]
    left = rest - sum(parts)
    order = sorted(range(n), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [p + minimum for p in parts]


def lag(rng: random.Random, lo: float, hi: float, scale: float) -> dt.timedelta:
    """A random delay of lo..hi days, scaled by the profile's time scale (at least one day)."""
    return dt.timedelta(days=max(1, round(rng.uniform(lo, hi) * scale)))


def add_months(day: dt.date, months: int) -> dt.date:
    m = day.month - 1 + months
    y, m = day.year + m // 12, m % 12 + 1
    last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(y, m, min(day.day, last))


def weighted_choice(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]
