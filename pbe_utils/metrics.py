"""Summary statistics of an accuracy-vs-pruning-rate curve (book/method.md, "Pruning and the curve"): pure
functions on arrays."""

from __future__ import annotations

import numpy as np

#: the paper's 20 pruning rates 0, 0.05, ..., 0.95
DEFAULT_RATES = tuple(round(0.05 * i, 2) for i in range(20))


def validate_rates(rates) -> np.ndarray:
    """Rates as an increasing array in [0, 1); raises naming the bad value otherwise."""
    arr = np.asarray(list(rates), dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("rates must be a non-empty list of pruning rates in [0, 1)")
    if not np.isfinite(arr).all():
        raise ValueError(
            f"rate={float(arr[~np.isfinite(arr)][0])!r} is not accepted; a pruning rate is a number in [0, 1)"
        )
    bad = arr[(arr < 0) | (arr >= 1)]
    if bad.size:
        raise ValueError(
            f"rate={float(bad[0])!r} is outside [0, 1); a pruning rate is the fraction of components removed"
        )
    if np.any(np.diff(arr) <= 0):
        raise ValueError("rates must be strictly increasing")
    return arr


def a_pr(accuracies) -> float:
    """A_PR, the paper's area under the curve: the mean accuracy over the pruning rates."""
    acc = np.asarray(accuracies, dtype=float)
    return float(acc.mean())


def trapezoid_area(accuracies, rates=DEFAULT_RATES) -> float:
    """The authors' code's ``top1_auc``: trapezoid area over [rates[0], rates[-1]] (``numpy.trapezoid``)."""
    return float(np.trapezoid(np.asarray(accuracies, dtype=float), np.asarray(rates, dtype=float)))


def top_pr(accuracies, rates=DEFAULT_RATES, keep: float = 0.95) -> float:
    """Top-PR: the highest pruning rate whose accuracy is still >= ``keep`` x the unpruned accuracy (rates[0]
    must be 0). Literal reading of the paper: the highest such rate, even after an earlier dip."""
    acc = np.asarray(accuracies, dtype=float)
    r = np.asarray(rates, dtype=float)
    if r[0] != 0:
        raise ValueError("top_pr needs the unpruned accuracy: rates[0] must be 0")
    ok = np.flatnonzero(acc >= keep * acc[0])
    return float(r[ok.max()])


def summarise(accuracies, rates=DEFAULT_RATES) -> dict[str, float]:
    """A_PR, trapezoid area and Top-PR of one curve."""
    return {
        "A_PR": a_pr(accuracies),
        "trapezoid": trapezoid_area(accuracies, rates),
        "Top-PR": top_pr(accuracies, rates),
    }


def sem(values) -> float:
    """Standard error of the mean (0 for a single value)."""
    v = np.asarray(values, dtype=float)
    return float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
