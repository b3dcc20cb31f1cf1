"""The percentile every server bench reports: nearest rank, NaN for no values."""

from __future__ import annotations


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
