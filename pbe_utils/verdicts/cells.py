"""The cell builders: every kind of evidence a claim is made of becomes :class:`Cell` rows with the same columns,
decided by :func:`pbe_utils.verdicts.decision.decide`: paired differences over tasks (:func:`compare`), a value
against a threshold (:func:`above_threshold`), correlations (:func:`correlation_cell`,
:func:`bootstrap_correlation_cell`) and censored times (:func:`censored_cells`); and the gate
(:func:`discrimination_gate`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .decision import decide
from .stats import ALPHA, GATE, MARGIN, MARGIN_TOP_PR, R_MIN, paired_tests

NAN = float("nan")
#: the statistics of a cell that no test could be made for
NO_TESTS = {"difference": NAN, "SE": NAN, "sd": NAN, "ci_low": NAN, "ci_high": NAN, "p_win": NAN, "p_loss": NAN}


@dataclass(frozen=True)
class Cell:
    """One cell of a comparison before its outcome is decided, in the one shape every builder writes: the grouping
    (``labels``, e.g. model and kind), ``a`` compared with ``b`` as ``comparison`` with its ``goal`` (win or tie),
    the measured ``value`` and its ``margin``, the gate's ``gap`` to random pruning, whether the two are
    ``identical`` by construction, the per-seed differences ``d`` (None where the evidence is not a paired
    difference), the statistics of its tests (``tests``: n, difference, SE, sd, ci_low, ci_high, p_win, p_loss,
    p_tie) and what a kind of cell adds (``extra``: a correlation's threshold, method and scale, a bootstrap's
    resamples). :meth:`row` is the row :func:`~pbe_utils.verdicts.decision.decide` reads."""

    labels: Mapping[str, object]
    a: str
    b: str
    comparison: str
    tests: Mapping[str, object]
    goal: str = "win"
    value: str = "A_PR"
    margin: float = 0.0
    gap: float = NAN
    identical: bool = False
    d: list[float] | None = None
    extra: Mapping[str, object] = field(default_factory=dict)

    def row(self) -> dict:
        """The cell as one row of a cells frame."""
        return {
            **self.labels,
            "a": self.a,
            "b": self.b,
            "comparison": self.comparison,
            "goal": self.goal,
            "value": self.value,
            "margin": self.margin,
            "gap": self.gap,
            "identical": self.identical,
            "d": self.d,
            **self.tests,
            **self.extra,
        }


def _labels(by: Sequence[str], key) -> dict:
    return dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))


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
                **_labels(by, key),
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
            labels = _labels(by, key)
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
            tests = paired_tests(diff.to_numpy(dtype=float), margin)
            d = [float(v) for v in diff.to_numpy()]
            cell = Cell(
                labels, str(this), str(other), f"{this} vs {other}", tests, goal, value, margin, gap, identical, d
            )
            rows.append(cell.row())
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
        name = label or value
        tests = paired_tests(d, 0.0)
        diffs = [float(x) for x in d]
        cell = Cell(
            _labels(by, key), name, f"{threshold:g}", f"{name} above {threshold:g}", tests, value=value, d=diffs
        )
        rows.append(cell.row())
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
    extra = {"threshold": threshold, "method": method, "scale": "fisher"}

    def cell(tests: dict) -> dict:
        name = f"{label} above {threshold:g}"
        return Cell(labels, label, f"{threshold:g}", name, {"n": n, **tests}, value=f"{method} r", extra=extra).row()

    if n < 5 or np.ptp(xv) == 0 or np.ptp(yv) == 0:
        return cell({**NO_TESTS, "p_tie": NAN})
    fn = stats.spearmanr if method == "spearman" else stats.pearsonr
    r = float(fn(xv, yv).statistic)
    se = math.sqrt((1.06 if method == "spearman" else 1.0) / (n - 3))
    z = math.atanh(max(min(r, 1 - 1e-12), -1 + 1e-12))
    zt = math.atanh(threshold)
    q = stats.norm.ppf(1 - ALPHA)
    return cell(
        {
            "difference": r,
            "SE": se,
            "sd": NAN,
            "ci_low": math.tanh(z - q * se),
            "ci_high": math.tanh(z + q * se),
            "p_win": float(stats.norm.sf((z - zt) / se)),
            "p_loss": float(stats.norm.cdf((z - zt) / se)),
            "p_tie": 1.0,
        }
    )


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

    def cell(tests: dict, boot: list[float] | None) -> dict:
        extra = {"threshold": threshold, "method": "spearman", "scale": "bootstrap", "boot": boot}
        value = "Spearman rho (bootstrap over images)"
        tests = {"n": int(n_items), **NO_TESTS, **tests, "p_tie": 1.0}
        return Cell(labels, label, f"{threshold:g}", label, tests, value=value, extra=extra).row()

    if n_items < 5 or n_img < 2 or np.ptp(yv) == 0:
        return cell({}, None)
    rng = np.random.default_rng(seed)
    r_obs = float(stats.spearmanr(np.nanmean(x, 1), yv).statistic)
    boot = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n_img, n_img)
        boot[b] = stats.spearmanr(np.nanmean(x[:, idx], 1), yv).statistic
    boot = np.sort(np.nan_to_num(boot, nan=0.0))
    lo, hi = np.quantile(boot, [ALPHA, 1 - ALPHA], method="inverted_cdf")
    tests = {
        "difference": r_obs,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_win": float(np.mean(boot <= threshold)),
        "p_loss": float(np.mean(boot >= threshold)),
    }
    return cell(tests, [round(float(v), 4) for v in boot])


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
            # scipy's alternative "less": the first sample's times are stochastically greater (it needs more time);
            # identical event times leave the statistic undefined (0/0): no evidence either way
            with np.errstate(invalid="ignore", divide="ignore"):
                slower = stats.logrank(da, db, alternative="less").pvalue
                faster = stats.logrank(da, db, alternative="greater").pvalue
            slower, faster = (float(p) if np.isfinite(p) else 1.0 for p in (slower, faster))
            tests = {
                "n": int(min(len(ga), len(gb))),
                **NO_TESTS,
                "difference": median(da) - median(db),
                # a needs more time: a win for "b is faster than a"
                "p_win": float(slower),
                "p_loss": float(faster),
                "p_tie": 1.0,
            }
            comparison = f"{a} vs {other}"
            rows.append(Cell(_labels(by, key), a, other, comparison, tests, value=f"{time} (log-rank)").row())
    return decide(pd.DataFrame(rows))
