"""Statistics of one cell: the study's constants (margins, gate, alpha), Holm's correction, the paired tests
of one cell, the interval at a given level and the one that agrees with a decision, and the number of tasks a
decision would need. See :mod:`pbe_utils.verdicts` for the rules these serve."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

MARGIN = 0.01
MARGIN_TOP_PR = 0.05
GATE = 0.03
R_MIN = 0.3
ALPHA = 0.05
MIN_SEEDS = 3
POWER = 0.8
INTERVAL = 1 - 2 * ALPHA  # 90 %: the two-sided interval of the one-sided tests at ALPHA
EXCLUDED = ("identical", "not discriminating", "too few seeds")
#: the outcomes of a decidable cell; any other outcome is a reason the cell was set aside (``EXCLUDED`` or a
#: chapter's own, given in a cell's ``aside`` column: "nothing to transfer", "within the random start", ...)
DECIDED = ("win", "tie", "loss", "unclear")
VERDICTS = ("holds", "holds in part", "does not hold", "undecided")


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of p-values (NaN stays NaN)."""
    pv = np.asarray(p, dtype=float)
    out = np.full_like(pv, np.nan)
    ok = np.flatnonzero(np.isfinite(pv))
    order = ok[np.argsort(pv[ok], kind="stable")]
    m, running = len(order), 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * pv[idx]))
        out[idx] = running
    return out


def tasks_needed(mean: float, sd: float, margin: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """How many paired seeds a one-sided test at ``alpha`` would need for ``power`` at the observed mean and spread
    (normal approximation), for the easier of a decision on the sign (effect |mean|) and an equivalence decision
    (effect margin - |mean|). inf when neither is reachable (a zero effect)."""
    if not (np.isfinite(mean) and np.isfinite(sd)) or sd <= 0:
        return float("nan")
    z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)
    effects = [abs(mean)] + ([margin - abs(mean)] if margin > abs(mean) else [])
    best = max(effects)
    return float("inf") if best <= 0 else float(math.ceil((z * sd / best) ** 2))


def paired_tests(diffs: Sequence[float] | np.ndarray, margin: float) -> dict:
    """The statistics of one cell from its per-seed differences ``diffs`` (see the module docstring)."""
    d = np.asarray(diffs, dtype=float)
    n = len(d)
    mean = float(d.mean()) if n else float("nan")
    nan = float("nan")
    out = {"n": n, "difference": mean, "SE": nan, "sd": nan, "ci_low": nan, "ci_high": nan}
    if n < 2:
        return {**out, "p_win": nan, "p_loss": nan, "p_tie": nan}
    sd = float(d.std(ddof=1))
    se = sd / np.sqrt(n)
    if se == 0.0:  # a constant difference: decided by the margin alone
        return {
            **out,
            "SE": 0.0,
            "sd": 0.0,
            "ci_low": mean,
            "ci_high": mean,
            "p_win": 0.0 if mean >= margin else 1.0,
            "p_loss": 0.0 if mean <= -margin else 1.0,
            "p_tie": 0.0 if abs(mean) < margin else 1.0,
        }
    df = n - 1
    half = float(stats.t.ppf(1 - ALPHA, df)) * se
    p_tie = max(float(stats.t.sf((mean + margin) / se, df)), float(stats.t.cdf((mean - margin) / se, df)))
    return {
        **out,
        "SE": se,
        "sd": sd,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "p_win": float(stats.t.sf(mean / se, df)),
        "p_loss": float(stats.t.cdf(mean / se, df)),
        "p_tie": p_tie if margin > 0 else 1.0,
    }


def _multiplier(r: dict, test: str) -> float:
    """How much Holm's correction raised the p-value of ``test`` (win, loss or tie) of a cell: p_holm / p (>= 1)."""
    p, ph = r.get(f"p_{test}", np.nan), r.get(f"p_{test}_holm", np.nan)
    if p is None or ph is None or not (np.isfinite(p) and np.isfinite(ph)) or p <= 0:
        return 1.0
    return max(1.0, float(ph) / float(p))


def interval_at(r: dict, level: float) -> tuple[float, float]:
    """The two-sided interval of a cell whose ends are its one-sided bounds at ``level`` (0.05: the 90 % interval):
    a t-interval for paired differences and threshold cells, Fisher's z for correlations (``scale``), none (NaN)
    for log-rank cells."""
    nan = float("nan")
    mean, se, n = r.get("difference", nan), r.get("SE", nan), r.get("n", 0)
    if r.get("scale") != "bootstrap" and (mean is None or se is None or not (np.isfinite(mean) and np.isfinite(se))):
        return nan, nan
    scale = r.get("scale") or ("fisher" if str(r.get("value", "")).endswith(" r") else "t")
    if scale == "bootstrap":
        boot = r.get("boot")
        if boot is None or not len(boot):
            return nan, nan
        lo, hi = np.quantile(np.asarray(boot, dtype=float), [level, 1 - level], method="inverted_cdf")
        return float(lo), float(hi)
    if se == 0:
        return float(mean), float(mean)
    if scale == "fisher":
        z = math.atanh(max(min(float(mean), 1 - 1e-12), -1 + 1e-12))
        q = float(stats.norm.ppf(1 - level))
        return math.tanh(z - q * se), math.tanh(z + q * se)
    if scale != "t" or n is None or n < 2:
        return nan, nan
    half = float(stats.t.ppf(1 - level, int(n) - 1)) * float(se)
    return float(mean) - half, float(mean) + half


def decision_interval(r: dict, outcome: str, decided_by: str, alpha: float = ALPHA) -> tuple[float, float, float]:
    """The interval shown with a cell, one that agrees with its outcome: its one-sided bounds at the level at which
    the deciding test was made. A cell decided by the intersection-union test (no correction) shows the 90 %
    interval; a cell decided with Holm's correction shows the interval at alpha / k, where k = p_holm / p of the
    test that decided it (win: the lower bound lies above 0, or above the threshold; loss: the upper bound below;
    tie: both within the margin); an unclear cell shows the widest of its three tests' intervals, so that it lies
    neither above, nor below, nor within the margin. Returns (low, high, one-sided level)."""
    if decided_by != "Holm over its family" or outcome not in DECIDED:
        level = alpha
    elif outcome in ("win", "loss", "tie"):
        level = alpha / _multiplier(r, outcome)
    else:
        level = alpha / max(_multiplier(r, t) for t in ("win", "loss", "tie"))
    lo, hi = interval_at(r, level)
    return lo, hi, level
