"""The one verdict module of the study: every comparison and every claim of the book is decided here.

**Cells.** A comparison of method ``a`` with method ``b`` is made per *cell* (a model and component kind, or another
grouping). Its evidence is the per-seed difference d = value(a) - value(b), paired over seeds (the same task,
reference samples and evaluation images). From d a cell gets its mean, the 90 % t-interval (the two-sided
interval whose ends are the one-sided tests at alpha = 0.05 that decide: superiority, inferiority and TOST
equivalence), and three raw one-sided p-values: ``p_win`` (H0: mean <= 0), ``p_loss`` (H0: mean >= 0) and ``p_tie``
(TOST, H0: |mean| >= margin). Cells that cannot be evidence are set aside before any test:

* ``identical``: the two methods give the same pruning order on every seed (e.g. ranking by |R| or by R when R is
  never negative), so their difference is zero by construction, not by measurement;
* ``not discriminating`` (the gate): the best method of the cell is within ``GATE`` A_PR of random pruning;
* ``too few seeds``: fewer than ``MIN_SEEDS`` paired seeds.

**Outcomes** of the other cells: ``tie`` (equivalent within the margin), ``win`` / ``loss`` (a significant
difference, not a tie), ``unclear`` (none of the three).

**Comparisons and claims.** A claim is a list of comparisons; each comparison has a goal: ``win`` ("a beats b") or
``tie`` ("a is as good as b": the cell supports the claim when it ties, and a win or a loss counts against it).
One comparison over its cells:

* **holds**: every decidable cell supports the goal;
* **holds in part**: at least one cell supports it and none goes against it (the others tie or are unclear);
* **does not hold**: a cell goes against it, or none supports it (e.g. only ties for a "beats" comparison);
* **undecided**: nothing decidable, or only unclear cells.

**The label of a claim is the verdict of its primary comparison** (:mod:`pbe_utils.registry` names it: the
comparison the paper's own statement makes, in the paper's unit; two where the statement has two halves, combined:
holds when both hold, does not hold when one does not). It is printed with the share of the primary's decidable
cells that support it ("holds in part: 4 of 5 cells"). The other comparisons are *also asked*: each has its own
verdict, shown under the label, and none changes it.

**Statistics that fit the rule.** "Every cell supports the goal" is an intersection of hypotheses, so it is tested
as an intersection-union test: each cell at alpha, with no correction. Every other outcome of a cell (a loss, a
win that stands alone) is read with Holm's correction over its *family*: the primary comparisons' cells are one
family, the also-asked cells another (so that secondaries never weaken the test of the label; error is controlled
per claim for the label). A correlation ("x goes with y", C6 and B1) is a cell like any other, against a threshold
instead of 0: it supports the claim when its interval lies above ``R_MIN`` = 0.3 and goes against it when it lies
below. Every cell shows the interval that agrees with its outcome (:func:`decision_interval`).

**Margins and the gate** (their reasons are on the method page; :func:`sensitivity` recomputes every claim under
other values from the stored per-seed differences, without a re-run):

* ``MARGIN`` = 0.01 A_PR: a quarter of the smallest gain the paper reports for its optimised composites (about
  0.04 A_PR), and one point of accuracy averaged over the curve;
* ``MARGIN_TOP_PR`` = 0.05: one step of the rate grid, the resolution of Top-PR;
* ``GATE`` = 0.03 A_PR: three margins; a cell whose best method is closer than that to random pruning has no room
  for a difference of the size the claims are about;
* ``R_MIN`` = 0.3: Cohen's "medium" correlation; anything weaker would not be called "tracks" or "goes with".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
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


def discrimination_gate(
    frame: pd.DataFrame,
    by: Sequence[str] = ("model", "kind"),
    random: str = "random",
    value: str = "A_PR",
    method: str = "method",
    threshold: float = GATE,
) -> pd.DataFrame:
    """Per group: the best method's mean ``value``, random pruning's, the gap, and whether the group discriminates
    (gap >= ``threshold``). Groups without a random baseline are taken as discriminating (gap NaN)."""
    rows = []
    for key, g in frame.groupby(list(by), sort=False):
        means = g.groupby(method)[value].mean()
        rnd = float(means.get(random, np.nan))
        best = float(means.drop(random, errors="ignore").max())
        gap = best - rnd if np.isfinite(rnd) else np.nan
        rows.append(
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                "best": best,
                "random": rnd,
                "gap": gap,
                "discriminates": bool(not np.isfinite(gap) or gap >= threshold),
            }
        )
    return pd.DataFrame(rows)


def compare(
    frame: pd.DataFrame,
    a: str | Sequence[str],
    b: str | Sequence[str],
    value: str = "A_PR",
    by: Sequence[str] | str = ("model", "kind"),
    method: str = "method",
    seed: str = "seed",
    margin: float | None = None,
    gate: pd.DataFrame | None = None,
    goal: str = "win",
    order: str = "order",
) -> pd.DataFrame:
    """The cells of comparing ``a`` with ``b`` per group of ``by``, paired over ``seed``. ``b`` (or ``a``, not both)
    may list several methods: one comparison per pair. ``gate``: a frame of :func:`discrimination_gate` (computed
    from ``frame`` when it holds a ``random`` method; ``gate=False``-like empty frame: no gate). ``order``: a column
    with a fingerprint of each (method, seed)'s pruning order; equal fingerprints on every seed make a cell
    ``identical`` (without the column, a difference that is exactly 0 on every seed does). ``margin``: default
    ``MARGIN`` for A_PR, ``MARGIN_TOP_PR`` for Top-PR. Outcomes are decided with this frame as the claim
    (:func:`decide`); pass the cells of several calls to :func:`judge` to decide them as one claim."""
    if goal not in ("win", "tie"):
        raise ValueError(f"goal={goal!r} is not accepted; use 'win' (a beats b) or 'tie' (a is as good as b)")
    if not isinstance(a, str) and not isinstance(b, str):
        raise ValueError("compare: a and b cannot both list several methods; give one of them as a single method")
    if margin is None:
        margin = MARGIN_TOP_PR if value == "Top-PR" else MARGIN
    pairs = [(x, b) for x in a] if not isinstance(a, str) else [(a, y) for y in ([b] if isinstance(b, str) else b)]
    by = [by] if isinstance(by, str) else list(by)
    by = [c for c in by if c in frame.columns]
    if gate is None and "random" in set(frame[method]):
        gate = discrimination_gate(frame, by, value="A_PR" if "A_PR" in frame.columns else value, method=method)
    rows = []
    for this, other in pairs:
        for key, g in frame.groupby(by, sort=False):
            ga, gb = g[g[method] == this], g[g[method] == other]
            pa, pb = ga.groupby(seed)[value].mean(), gb.groupby(seed)[value].mean()
            diff = (pa - pb).dropna()
            labels = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
            gap = np.nan
            if gate is not None and len(gate):
                match = gate
                for c in by:
                    if c in gate.columns:
                        match = match[match[c] == labels[c]]
                if len(match):
                    gap = float(match["gap"].min())
            if order in frame.columns and len(diff):
                oa, ob = ga.groupby(seed)[order].first(), gb.groupby(seed)[order].first()
                identical = bool((oa.reindex(diff.index) == ob.reindex(diff.index)).all())
            else:
                identical = bool(len(diff) >= 1 and (diff.to_numpy() == 0).all())
            rows.append(
                {
                    **labels,
                    "a": this,
                    "b": other,
                    "comparison": f"{this} vs {other}",
                    "goal": goal,
                    "value": value,
                    "margin": margin,
                    "gap": gap,
                    "identical": identical,
                    "d": [float(v) for v in diff.to_numpy()],
                    **paired_tests(diff.to_numpy(dtype=float), margin),
                }
            )
    return decide(pd.DataFrame(rows))


def above_threshold(
    frame: pd.DataFrame,
    value: str,
    by: Sequence[str] | str = ("model", "kind"),
    threshold: float = R_MIN,
    seed: str = "seed",
    label: str | None = None,
) -> pd.DataFrame:
    """Cells for "``value`` lies above ``threshold``" per group of ``by``, one value per seed (e.g. a correlation
    computed per task): d = value - threshold, tested like a paired difference with no equivalence margin."""
    by = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, g in frame.groupby(by, sort=False):
        v = g.groupby(seed)[value].mean().dropna()
        d = v.to_numpy(dtype=float) - threshold
        labels = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        rows.append(
            {
                **labels,
                "a": label or value,
                "b": f"{threshold:g}",
                "comparison": f"{label or value} above {threshold:g}",
                "goal": "win",
                "value": value,
                "margin": 0.0,
                "gap": np.nan,
                "identical": False,
                "d": [float(x) for x in d],
                **paired_tests(d, 0.0),
            }
        )
    out = pd.DataFrame(rows)
    for c in ("difference", "ci_low", "ci_high"):  # shown as the value itself, not its excess over the threshold
        out[c] = out[c] + threshold
    out["threshold"] = threshold
    return decide(out)


def correlation_cell(
    x, y, method: str = "spearman", threshold: float = R_MIN, label: str = "correlation", **labels
) -> dict:
    """One cell for "x goes with y": a rank (``spearman``) or linear (``pearson``) correlation over the paired
    observations, its 90 % interval and one-sided p-values against ``threshold`` from Fisher's z (standard error
    1/sqrt(n-3), times sqrt(1.06) for Spearman, Fieller et al. 1957)."""
    if method not in ("spearman", "pearson"):
        raise ValueError(f"method={method!r} is not accepted; use 'spearman' or 'pearson'")
    xv, yv = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[ok], yv[ok]
    n = int(len(xv))
    nan = float("nan")
    base = {
        **labels,
        "a": label,
        "b": f"{threshold:g}",
        "comparison": f"{label} above {threshold:g}",
        "goal": "win",
        "value": f"{method} r",
        "margin": 0.0,
        "gap": nan,
        "identical": False,
        "d": None,
        "n": n,
        "threshold": threshold,
        "method": method,
        "scale": "fisher",
    }
    if n < 5 or np.ptp(xv) == 0 or np.ptp(yv) == 0:
        return {**base, "difference": nan, "SE": nan, "sd": nan, "ci_low": nan, "ci_high": nan} | dict(
            p_win=nan, p_loss=nan, p_tie=nan
        )
    fn = stats.spearmanr if method == "spearman" else stats.pearsonr
    r = float(fn(xv, yv).statistic)
    se = math.sqrt((1.06 if method == "spearman" else 1.0) / (n - 3))
    z = math.atanh(max(min(r, 1 - 1e-12), -1 + 1e-12))
    zt = math.atanh(threshold)
    q = stats.norm.ppf(1 - ALPHA)
    return {
        **base,
        "difference": r,
        "SE": se,
        "sd": nan,
        "ci_low": math.tanh(z - q * se),
        "ci_high": math.tanh(z + q * se),
        "p_win": float(stats.norm.sf((z - zt) / se)),
        "p_loss": float(stats.norm.cdf((z - zt) / se)),
        "p_tie": 1.0,
    }


def bootstrap_correlation_cell(
    per_image: np.ndarray,
    y,
    threshold: float = R_MIN,
    n_boot: int = 1000,
    seed: int = 0,
    label: str = "correlation",
    **labels,
) -> dict:
    """One cell for "x goes with y" where x is a mean over images that carries measurement noise (B1: a
    composite's faithfulness, the mean over images of its pixel-flipping score) and y is known per item (A_PR from
    the grid): Spearman's rho over the items (rows of ``per_image``, items x images), its distribution from
    ``n_boot`` resamples of the images (``seed``), the percentile interval and one-sided p-values against
    ``threshold`` (the share of resampled rhos on the other side). The items are a designed set, not a sample: the
    interval is about the noise of the measure, and the verdict about these items."""
    x = np.asarray(per_image, dtype=float)
    yv = np.asarray(y, dtype=float)
    n_items, n_img = x.shape
    nan = float("nan")
    base = {
        **labels,
        "a": label,
        "b": f"{threshold:g}",
        "comparison": label,
        "goal": "win",
        "value": "Spearman rho (bootstrap over images)",
        "margin": 0.0,
        "gap": nan,
        "identical": False,
        "d": None,
        "n": int(n_items),
        "threshold": threshold,
        "method": "spearman",
        "scale": "bootstrap",
        "SE": nan,
        "sd": nan,
        "p_tie": 1.0,
    }
    if n_items < 5 or n_img < 2 or np.ptp(yv) == 0:
        return {**base, "difference": nan, "ci_low": nan, "ci_high": nan, "p_win": nan, "p_loss": nan, "boot": None}
    rng = np.random.default_rng(seed)
    r_obs = float(stats.spearmanr(np.nanmean(x, 1), yv).statistic)
    boot = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n_img, n_img)
        boot[b] = stats.spearmanr(np.nanmean(x[:, idx], 1), yv).statistic
    boot = np.sort(np.nan_to_num(boot, nan=0.0))
    lo, hi = np.quantile(boot, [ALPHA, 1 - ALPHA], method="inverted_cdf")
    return {
        **base,
        "difference": r_obs,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_win": float(np.mean(boot <= threshold)),
        "p_loss": float(np.mean(boot >= threshold)),
        "boot": [round(float(v), 4) for v in boot],
    }


def censored_cells(
    frame: pd.DataFrame,
    a: str,
    b: Sequence[str] | str,
    time: str,
    censored: str = "censored",
    by: Sequence[str] | str = ("model", "kind"),
    method: str = "method",
) -> pd.DataFrame:
    """Cells for "``a`` needs more ``time`` than each of ``b``" when some runs never got there (``censored``: the
    time is a lower bound): the log-rank test (``scipy.stats.logrank``), one-sided both ways; the difference is
    that of the Kaplan-Meier medians (``scipy.stats.ecdf`` on censored data; NaN where a median is not reached).
    No equivalence margin: such a cell is a win, a loss or unclear."""
    by = [by] if isinstance(by, str) else list(by)
    rows = []

    def data(g):
        return stats.CensoredData(
            uncensored=g.loc[~g[censored].astype(bool), time].to_numpy(float),
            right=g.loc[g[censored].astype(bool), time].to_numpy(float),
        )

    def median(cd) -> float:
        sf = stats.ecdf(cd).sf
        below = sf.quantiles[sf.probabilities <= 0.5]
        return float(below.min()) if len(below) else float("nan")

    for other in [b] if isinstance(b, str) else list(b):
        for key, g in frame.groupby(by, sort=False):
            ga, gb = g[g[method] == a], g[g[method] == other]
            da, db = data(ga), data(gb)
            labels = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
            # scipy's alternative "less": the first sample's times are stochastically greater (it needs more time);
            # identical event times leave the statistic undefined (0/0): no evidence either way
            with np.errstate(invalid="ignore", divide="ignore"):
                slower = stats.logrank(da, db, alternative="less").pvalue
                faster = stats.logrank(da, db, alternative="greater").pvalue
            slower, faster = (float(p) if np.isfinite(p) else 1.0 for p in (slower, faster))
            rows.append(
                {
                    **labels,
                    "a": a,
                    "b": other,
                    "comparison": f"{a} vs {other}",
                    "goal": "win",
                    "value": f"{time} (log-rank)",
                    "margin": 0.0,
                    "gap": np.nan,
                    "identical": False,
                    "d": None,
                    "n": int(min(len(ga), len(gb))),
                    "difference": median(da) - median(db),
                    "SE": np.nan,
                    "sd": np.nan,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    # a needs more time: a win for "b is faster than a"
                    "p_win": float(slower),
                    "p_loss": float(faster),
                    "p_tie": 1.0,
                }
            )
    return decide(pd.DataFrame(rows))


def _retest(cells: pd.DataFrame, margin_scale: float, gate: float | None) -> pd.DataFrame:
    """The cells recomputed from their stored per-seed differences under scaled margins and another gate."""
    out = cells.copy()
    for i, r in out.iterrows():
        if r.get("d") is None or (isinstance(r.get("d"), float) and r.get("d") != r.get("d")):
            continue
        if "threshold" in out.columns and np.isfinite(r.get("threshold", np.nan)):
            continue  # a threshold cell has no margin to scale
        margin = float(r["margin"]) * margin_scale
        new = paired_tests(np.asarray(r["d"], dtype=float), margin)
        for k, v in new.items():
            out.at[i, k] = v
        out.at[i, "margin"] = margin
    if gate is not None:
        out["gate"] = gate
    return out


def decide(cells: pd.DataFrame, alpha: float = ALPHA, gate: float = GATE) -> pd.DataFrame:
    """Outcome of every cell, the claim being all of ``cells`` (one Holm family; see the module docstring).
    Adds ``p_*_holm``, ``outcome``, ``decided by`` and ``tasks needed`` (for unclear cells)."""
    out = cells.copy().reset_index(drop=True)
    if out.empty:
        for c in ("outcome", "decided by"):
            out[c] = pd.Series(dtype=object)
        return out
    g = out["gate"].astype(float) if "gate" in out.columns else pd.Series(gate, index=out.index)
    gap = out["gap"].astype(float)
    out["discriminates"] = ~(np.isfinite(gap) & (gap < g))
    status = np.where(
        out["identical"].astype(bool),
        "identical",
        np.where(~out["discriminates"], "not discriminating", np.where(out["n"] < MIN_SEEDS, "too few seeds", "")),
    )
    if "aside" in out.columns:  # a chapter's own reason why a cell cannot carry evidence
        own = out["aside"].fillna("").astype(str).to_numpy()
        status = np.where((status == "") & (own != ""), own, status)
    decidable = status == ""
    for p in ("p_win", "p_loss", "p_tie"):
        adj = np.full(len(out), np.nan)
        adj[decidable] = holm(out.loc[decidable, p].to_numpy(dtype=float))
        out[p + "_holm"] = adj

    def level(r, suffix: str) -> str:
        if r["p_tie" + suffix] < alpha:
            return "tie"
        if r["p_win" + suffix] < alpha:
            return "win"
        if r["p_loss" + suffix] < alpha:
            return "loss"
        return "unclear"

    outcome = [s or level(r, "_holm") for s, (_, r) in zip(status, out.iterrows(), strict=True)]
    by = ["Holm over its family" if not s else "" for s in status]
    # intersection-union test: a comparison whose every decidable cell supports its goal at alpha holds
    for _, idx in out.groupby("comparison", sort=False).groups.items():
        rows = [i for i in idx if decidable[i]]
        if not rows:
            continue
        goal = out.at[rows[0], "goal"]
        raw = [level(out.loc[i], "") for i in rows]
        if all(o == goal for o in raw):
            for i in rows:
                outcome[i], by[i] = goal, "intersection-union test"
    out["outcome"] = outcome
    out["decided by"] = by

    def _needed(r) -> float:
        shift = r.get("threshold", np.nan) if "threshold" in out.columns else np.nan
        mean = r["difference"] - (shift if np.isfinite(shift) else 0.0)
        return tasks_needed(mean, r["sd"], r["margin"])

    out["tasks needed"] = [
        _needed(r) if o == "unclear" and np.isfinite(r.get("sd", np.nan)) else np.nan
        for o, (_, r) in zip(outcome, out.iterrows(), strict=True)
    ]
    lows, highs, levels = [], [], []
    for r, o, b in zip(out.to_dict("records"), outcome, by, strict=True):
        lo, hi, lev = decision_interval(r, o, b, alpha)
        lows.append(lo)
        highs.append(hi)
        levels.append(lev)
    out["lo"], out["hi"], out["interval level"] = lows, highs, levels
    return out


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


_PLURAL = {"win": "wins", "loss": "losses", "tie": "ties", "unclear": "unclear"}


def counts_text(counts: dict[str, int]) -> str:
    """'2 wins, 1 tie, 1 unclear' in a fixed order."""
    keys: tuple[str, ...] = ("win", "tie", "loss", "unclear", "identical", "not discriminating", "too few seeds")
    keys += tuple(k for k in counts if k not in keys)  # a chapter's own reasons for setting cells aside
    return ", ".join(f"{counts[k]} {_PLURAL.get(k, k) if counts[k] > 1 else k}" for k in keys if counts.get(k))


@dataclass(frozen=True)
class ComparisonVerdict:
    """The verdict of one comparison of a claim, with the count of each cell outcome, and its role: ``primary``
    (its verdict is the claim's label) or ``also asked`` (shown under the label, never changing it)."""

    comparison: str
    goal: str
    verdict: str
    counts: dict[str, int]
    role: str = "primary"

    @property
    def sentence(self) -> str:
        """'a vs b: holds in part (2 wins, 1 tie)'."""
        return f"{self.comparison}: {self.verdict} ({counts_text(self.counts)})"


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict: its label (one of ``VERDICTS``, the verdict of its primary comparison), why, the verdict
    of each comparison (primary and also asked), and the decided cells."""

    text: str
    reason: str
    comparisons: tuple[ComparisonVerdict, ...] = ()
    cells: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)

    @property
    def holds(self) -> bool | None:
        """True (holds), False (does not hold), None (holds in part or undecided)."""
        return {"holds": True, "does not hold": False}.get(self.text)

    @property
    def primary(self) -> tuple[ComparisonVerdict, ...]:
        """The comparisons that decide the label."""
        return tuple(c for c in self.comparisons if c.role == "primary")

    @property
    def also_asked(self) -> tuple[ComparisonVerdict, ...]:
        """The secondary comparisons, shown under the label."""
        return tuple(c for c in self.comparisons if c.role != "primary")

    @property
    def support(self) -> tuple[int, int]:
        """(cells of the primary comparisons that support their goal, decidable cells of the primary comparisons)."""
        return support_of(self.cells)

    @property
    def share(self) -> str:
        """'4 of 5 cells': how many decidable cells of the primary comparisons support the claim."""
        k, n = self.support
        return f"{k} of {n} cell{'s' if n != 1 else ''}"

    @property
    def label(self) -> str:
        """'holds in part: 4 of 5 cells'."""
        return f"{self.text}: {self.share}"


def support_of(cells: pd.DataFrame) -> tuple[int, int]:
    """(supporting, decidable) cells of the primary comparisons of decided ``cells``."""
    if cells is None or cells.empty or "outcome" not in cells.columns:
        return 0, 0
    c = cells[cells["role"] == "primary"] if "role" in cells.columns else cells
    dec = c[c["outcome"].isin(DECIDED)]
    return int((dec["outcome"] == dec["goal"]).sum()), int(len(dec))


def comparison_verdict(cells: pd.DataFrame) -> str:
    """The verdict of one comparison from its decided cells (see the module docstring)."""
    goal = str(cells["goal"].iloc[0]) if len(cells) else "win"
    dec = cells[cells["outcome"].isin(DECIDED)]
    if dec.empty or (dec["outcome"] == "unclear").all():
        return "undecided"
    against = {"loss"} if goal == "win" else {"win", "loss"}
    if dec["outcome"].isin(against).any():
        return "does not hold"
    support = (dec["outcome"] == goal).sum()
    if support == len(dec):
        return "holds"
    if support == 0:
        return "does not hold"
    return "holds in part"


def combine(verdicts_: Sequence[str]) -> str:
    """The label from the verdicts of a claim's primary comparisons (usually one; two where the paper's statement
    has two halves, e.g. C4): holds when all hold, does not hold when one does not, undecided when all are."""
    v = list(verdicts_)
    if not v:
        return "undecided"
    if all(x == "holds" for x in v):
        return "holds"
    if any(x == "does not hold" for x in v):
        return "does not hold"
    if all(x == "undecided" for x in v):
        return "undecided"
    return "holds in part"


FAMILIES = ("role", "claim", "comparison")


def judge(
    *cells: pd.DataFrame,
    alpha: float = ALPHA,
    gate: float = GATE,
    decided: bool = False,
    primary: Sequence[str] | None = None,
    family: str = "role",
) -> Verdict:
    """The verdict on a claim from its cells (frames of :func:`compare`, :func:`above_threshold`,
    :func:`correlation_cell` rows or :func:`censored_cells`, concatenated).

    ``primary``: the names of the comparisons whose verdict is the claim's label (from
    :mod:`pbe_utils.registry`); the other comparisons are *also asked*. None: the cells' ``role`` column when they
    have one (stored records), else every comparison is primary. ``family`` (Holm's correction): ``role`` (default:
    the primary cells are one family, the also-asked cells another, so that secondaries never weaken the test of the
    label), ``claim`` (every cell of the claim in one family) or ``comparison`` (one family per comparison)."""
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} is not accepted; use one of {list(FAMILIES)}")
    frames = [c for c in cells if c is not None and len(c)]
    if not frames:
        return Verdict("undecided", "no comparison could be made")
    allc = pd.concat(frames, ignore_index=True)
    names = list(dict.fromkeys(str(n) for n in allc["comparison"]))
    if primary is None:
        prim = (
            list(dict.fromkeys(allc.loc[allc["role"] == "primary", "comparison"].astype(str)))
            if "role" in allc.columns
            else names
        )
    else:
        prim = [n for n in names if n in set(primary)]
        if not prim:
            raise ValueError(f"primary={list(primary)} names no comparison of this claim; its comparisons: {names}")
    prim = prim or names
    allc["role"] = np.where(allc["comparison"].astype(str).isin(prim), "primary", "also asked")
    if not decided:
        if family == "claim":
            groups = [allc.index]
        elif family == "comparison":
            groups = [g.index for _, g in allc.groupby("comparison", sort=False)]
        else:
            groups = [g.index for _, g in allc.groupby("role", sort=False)]
        allc = pd.concat([decide(allc.loc[i], alpha, gate) for i in groups], ignore_index=True)
    parts = []
    for name, g in allc.groupby("comparison", sort=False):
        counts = {k: int(v) for k, v in g["outcome"].value_counts().items()}
        role = "primary" if str(name) in prim else "also asked"
        parts.append(ComparisonVerdict(str(name), str(g["goal"].iloc[0]), comparison_verdict(g), counts, role))
    parts.sort(key=lambda p: p.role != "primary")  # the primary comparisons first
    text = combine([p.verdict for p in parts if p.role == "primary"])
    reason = "; ".join(p.sentence for p in parts if p.role == "primary")
    also = [p.sentence for p in parts if p.role != "primary"]
    if also:
        reason += "; also asked: " + "; ".join(also)
    return Verdict(text, reason, tuple(parts), allc)


def sensitivity(
    claims_cells: dict[str, pd.DataFrame],
    margin_scales: Sequence[float] = (0.5, 1.0, 2.0),
    gates: Sequence[float] = (0.02, GATE, 0.05),
    families: Sequence[str] = ("claim", "comparison"),
    variants: Mapping[str, Sequence[tuple[str, Sequence[str]]]] | None = None,
) -> pd.DataFrame:
    """Every claim's label recomputed from its stored cells (per-seed differences, gate gaps, roles) under scaled
    margins (x 0.5, 1, 2: 0.005 / 0.01 / 0.02 A_PR), other gates, and other Holm families (every cell of the claim
    in one family; one family per comparison) and other choices of the primary comparison (``variants``: claim id
    -> (what varies, primary names), from :mod:`pbe_utils.registry`), without re-running anything. One row per
    claim, one column per setting, and ``changes``: the settings whose label differs from the published one."""
    rows = []
    for cid, cells in claims_cells.items():
        row: dict = {"claim": cid}
        base = judge(cells).text
        changed = []
        for s in margin_scales:
            for g in gates:
                text = judge(_retest(cells, s, g), gate=g).text
                col = f"margin ×{s:g}, gate {g:g}"
                row[col] = text
                if text != base:
                    changed.append(col)
        for fam in families:
            text = judge(cells, family=fam).text
            col = f"Holm per {fam}"
            row[col] = text
            if text != base:
                changed.append(col)
        names = set(cells["comparison"].astype(str)) if "comparison" in cells.columns else set()
        for what, prim in (variants or {}).get(cid, ()):
            if set(prim) <= names:  # another choice of the primary, e.g. C3 in parameters, C6 at a fixed rate
                text = judge(cells, primary=list(prim)).text
                row[what] = text
                if text != base:
                    changed.append(what)
        row["published"] = base
        row["changes"] = ", ".join(changed) if changed else "none"
        rows.append(row)
    return pd.DataFrame(rows)


def describe(
    comparisons: pd.DataFrame, label: Sequence[str] = ("model", "kind"), digits: int = 3, methods: bool = True
) -> str:
    """One clause per cell: 'vgg/conv: +0.012 [0.004, 0.020] (win)', with the interval that decided the cell
    (:func:`decision_interval`; the 90 % interval for cells decided before any correction). ``methods``: name the
    compared methods where they vary between cells (not when ``label`` already says which cell it is)."""
    parts = []
    for r in comparisons.to_dict("records"):
        name = "/".join(str(r[c]) for c in label if c in r and r[c] == r[c])
        vs = f" vs {r['b']}" if methods and comparisons["b"].nunique() > 1 else ""
        if methods and comparisons["a"].nunique() > 1 and str(r["a"]) != name:
            vs = f" {r['a']}" + vs
        lo, hi = r.get("lo", r.get("ci_low", np.nan)), r.get("hi", r.get("ci_high", np.nan))
        ci = f" [{lo:+.{digits}f}, {hi:+.{digits}f}]" if lo is not None and np.isfinite(lo) else ""
        diff = r["difference"]
        shown = f"{diff:+.{digits}f}" if diff is not None and np.isfinite(diff) else "n/a"
        parts.append(f"{name}{vs}: {shown}{ci} ({r['outcome']})")
    return "; ".join(parts)


CELL_COLUMNS = {
    "role": "role",
    "difference": "difference",
    "lo": "interval low",
    "hi": "interval high",
    "interval level": "one-sided level",
    "n": "n",
    "p_win_holm": "p (win, Holm)",
    "outcome": "outcome",
    "decided by": "decided by",
    "tasks needed": "n for a decision",
}


def cell_table(cells: pd.DataFrame, labels: Sequence[str] = ("model", "kind")) -> pd.DataFrame:
    """The cells of a claim as a reader's table: human column names, and the interval that agrees with each cell's
    outcome (:func:`decision_interval`: the 90 % interval where no correction decided, else the interval at the
    level Holm's correction tested it); ``n`` counts tasks (seeds), or composites for a correlation over composites;
    a number of tasks for a decision is given for unclear cells only."""
    keep = [c for c in (*labels, "comparison") if c in cells.columns]
    keep += [c for c in CELL_COLUMNS if c in cells.columns]
    return cells[keep].rename(columns=CELL_COLUMNS)
