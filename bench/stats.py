"""The one percentile the benches print (linear interpolation between the closest ranks)."""

from __future__ import annotations

__all__ = ["percentile"]


def percentile(values: list[float], p: float) -> float:
    """The ``p`` quantile (0–1) of ``values``; NaN if there are none (nothing measured)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
