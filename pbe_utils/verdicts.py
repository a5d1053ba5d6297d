"""The one verdict function of the study: paired comparisons over seeds with intervals, an equivalence margin, a
Holm correction, a discrimination gate, and three verdicts (holds / does not hold / undecided).

A comparison of method ``a`` with method ``b`` on one group (a model and component kind) takes the per-seed
differences d = value(a) - value(b) (seeds paired: the same task, references and evaluation images) and gives

* the mean difference and its 95 % t-interval (``scipy.stats.t``),
* three one-sided tests: superiority (H0: mean <= 0), inferiority (H0: mean >= 0) and equivalence (TOST,
  H0: |mean| >= margin), each Holm-corrected over the groups of the claim (``scipy.stats`` p-values),
* an outcome: ``tie`` (equivalent within the margin), ``win`` / ``loss`` (significant, and not a tie),
  ``unclear`` (none significant), ``too few seeds`` (n < 3), or ``not discriminating`` (the gate: on this group the
  best method is within ``GATE`` A_PR of random pruning, so no method can be told apart from chance there).

A claim "a beats b" **holds** when every decidable group is a win, **does not hold** when any decidable group is a
loss or a tie, and is **undecided** otherwise (some unclear, or nothing decidable). A zero-variance difference is
decided only by the margin: a constant difference beyond it is a win or a loss, inside it a tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

MARGIN = 0.01  # |difference of A_PR| below this is a tie (one point of mean accuracy over the curve)
GATE = 0.03  # a group where the best method is within this A_PR of random cannot decide anything
ALPHA = 0.05
MIN_SEEDS = 3
OUTCOMES = ("win", "loss", "tie", "unclear", "too few seeds", "not discriminating")


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


def _tests(d: np.ndarray, margin: float, alpha: float) -> dict:
    n = len(d)
    mean = float(d.mean()) if n else float("nan")
    if n < 2:
        return {
            "n": n,
            "difference": mean,
            "SE": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p_win": np.nan,
            "p_loss": np.nan,
            "p_tie": np.nan,
        }
    sd = float(d.std(ddof=1))
    se = sd / np.sqrt(n)
    if se == 0.0:  # a constant difference: decided by the margin alone
        p_win = 0.0 if mean >= margin else 1.0
        p_loss = 0.0 if mean <= -margin else 1.0
        p_tie = 0.0 if abs(mean) < margin else 1.0
        return {
            "n": n,
            "difference": mean,
            "SE": 0.0,
            "ci_low": mean,
            "ci_high": mean,
            "p_win": p_win,
            "p_loss": p_loss,
            "p_tie": p_tie,
        }
    df = n - 1
    t = mean / se
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    p_win = float(stats.t.sf(t, df))
    p_loss = float(stats.t.cdf(t, df))
    # TOST: H0 mean <= -margin (p1) and H0 mean >= margin (p2); equivalence needs both rejected
    p_tie = max(float(stats.t.sf((mean + margin) / se, df)), float(stats.t.cdf((mean - margin) / se, df)))
    return {
        "n": n,
        "difference": mean,
        "SE": se,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "p_win": p_win,
        "p_loss": p_loss,
        "p_tie": p_tie,
    }


def discrimination_gate(
    frame: pd.DataFrame,
    by: Sequence[str] = ("model", "kind"),
    random: str = "random",
    value: str = "A_PR",
    method: str = "method",
    threshold: float = GATE,
) -> pd.DataFrame:
    """Per group: the best method's mean ``value``, random pruning's, and whether the group discriminates
    (best - random >= ``threshold``). Groups without a random baseline are taken as discriminating."""
    rows = []
    for key, g in frame.groupby(list(by), sort=False):
        means = g.groupby(method)[value].mean()
        rnd = float(means.get(random, np.nan))
        best = float(means.drop(random, errors="ignore").max())
        gap = best - rnd if np.isfinite(rnd) else np.nan
        rows.append(
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,))),
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
    margin: float = MARGIN,
    alpha: float = ALPHA,
    gate: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Compare methods ``a`` and ``b`` per group of ``by``, paired over ``seed`` (see the module docstring).
    ``gate``: a frame from :func:`discrimination_gate` (computed from ``frame`` when it holds a ``random``
    method, else no gate). ``b`` (or ``a``, not both) may list several methods: one family, Holm-corrected together.
    Returns one row per group and pair with n, difference (a - b), SE, ci_low, ci_high, the Holm-adjusted p-values
    and the outcome."""
    if not isinstance(a, str) and not isinstance(b, str):
        raise ValueError("compare: a and b cannot both list several methods; give one of them as a single method")
    pairs = [(x, b) for x in a] if not isinstance(a, str) else [(a, y) for y in ([b] if isinstance(b, str) else b)]
    by = [by] if isinstance(by, str) else list(by)
    by = [c for c in by if c in frame.columns]
    if gate is None and "random" in set(frame[method]):
        gate = discrimination_gate(frame, by, value=value, method=method)
    rows = []
    for this, other in pairs:
        for key, g in frame.groupby(by, sort=False):
            pa = g[g[method] == this].groupby(seed)[value].mean()
            pb = g[g[method] == other].groupby(seed)[value].mean()
            d = (pa - pb).dropna().to_numpy(dtype=float)
            labels = dict(zip(by, key if isinstance(key, tuple) else (key,)))
            ok = True
            if gate is not None and len(gate):
                match = gate
                for c in by:
                    if c in gate.columns:
                        match = match[match[c] == labels[c]]
                ok = bool(match["discriminates"].all()) if len(match) else True
            rows.append({**labels, "a": this, "b": other, **_tests(d, margin, alpha), "discriminates": ok})
    out = pd.DataFrame(rows)
    decidable = (out["n"] >= MIN_SEEDS) & out["discriminates"]
    for p in ("p_win", "p_loss", "p_tie"):
        adj = np.full(len(out), np.nan)
        adj[decidable.to_numpy()] = holm(out.loc[decidable, p].to_numpy())
        out[p + "_holm"] = adj
    outcome = []
    for r in out.itertuples():
        if not r.discriminates:
            outcome.append("not discriminating")
        elif r.n < MIN_SEEDS:
            outcome.append("too few seeds")
        elif r.p_tie_holm < alpha:
            outcome.append("tie")
        elif r.p_win_holm < alpha:
            outcome.append("win")
        elif r.p_loss_holm < alpha:
            outcome.append("loss")
        else:
            outcome.append("unclear")
    out["outcome"] = outcome
    out["margin"] = margin
    return out


@dataclass(frozen=True)
class Verdict:
    holds: bool | None
    reason: str

    @property
    def text(self) -> str:
        return {True: "holds", False: "does not hold", None: "undecided"}[self.holds]


def claim_verdict(comparisons: pd.DataFrame) -> Verdict:
    """The verdict on "a beats b" from the rows of :func:`compare` (one or several pairs, concatenated)."""
    dec = comparisons[comparisons.outcome.isin(["win", "loss", "tie", "unclear"])]
    if dec.empty:
        why = ", ".join(sorted(set(comparisons.outcome)))
        return Verdict(None, f"no comparison can decide ({why})")
    counts = dec.outcome.value_counts().to_dict()
    plural = {"win": "wins", "loss": "losses", "tie": "ties", "unclear": "unclear"}
    summary = ", ".join(
        f"{counts[k]} {plural[k] if counts[k] > 1 else k}" for k in ("win", "loss", "tie", "unclear") if k in counts
    )
    if counts.get("loss", 0) or counts.get("tie", 0):
        return Verdict(False, summary)
    if counts.get("win", 0) == len(dec):
        return Verdict(True, summary)
    return Verdict(None, summary)


def describe(comparisons: pd.DataFrame, label: Sequence[str] = ("model", "kind"), digits: int = 3) -> str:
    """One clause per comparison: 'vgg/conv: +0.012 [0.004, 0.020] (win)'."""
    parts = []
    for r in comparisons.to_dict("records"):
        name = "/".join(str(r[c]) for c in label if c in r)
        vs = f" vs {r['b']}" if comparisons["b"].nunique() > 1 else ""
        if comparisons["a"].nunique() > 1:
            vs = f" {r['a']}" + vs
        if np.isfinite(r["ci_low"]):
            ci = f" [{r['ci_low']:+.{digits}f}, {r['ci_high']:+.{digits}f}]"
        else:
            ci = ""
        parts.append(f"{name}{vs}: {r['difference']:+.{digits}f}{ci} ({r['outcome']})")
    return "; ".join(parts)


def correlation(x, y, method: str = "spearman", n_resamples: int = 2000, seed: int = 0) -> dict:
    """A rank (``spearman``) or linear (``pearson``) correlation with a percentile-bootstrap 95 % interval over the
    paired observations (``scipy.stats.bootstrap``, resampling pairs; seeded, so the interval is reproducible)."""
    if method not in ("spearman", "pearson"):
        raise ValueError(f"method={method!r} is not accepted; use 'spearman' or 'pearson'")
    xv, yv = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[ok], yv[ok]
    fn = stats.spearmanr if method == "spearman" else stats.pearsonr
    if len(xv) < 4 or np.ptp(xv) == 0 or np.ptp(yv) == 0:
        return {"n": int(len(xv)), "r": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "method": method}
    r = float(fn(xv, yv).statistic)

    def stat(a, b):
        return fn(a, b).statistic

    boot = stats.bootstrap(
        (xv, yv),
        stat,
        paired=True,
        vectorized=False,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    lo, hi = boot.confidence_interval
    return {"n": int(len(xv)), "r": r, "ci_low": float(lo), "ci_high": float(hi), "method": method}


def correlation_verdict(corr: dict, margin: float = 0.3) -> Verdict:
    """ "x goes with y" from :func:`correlation`: **holds** when the 95 % interval lies above 0, **does not hold**
    when it lies below ``margin`` (at most a weak association, or a negative one), **undecided** otherwise."""
    r, lo, hi = corr["r"], corr["ci_low"], corr["ci_high"]
    if not np.isfinite(r) or not np.isfinite(lo):
        return Verdict(None, f"no correlation can be computed (n = {corr['n']})")
    text = f"{corr['method']} r = {r:+.2f} [{lo:+.2f}, {hi:+.2f}], n = {corr['n']}"
    if lo > 0:
        return Verdict(True, text + ": the interval lies above 0")
    if hi < margin:
        return Verdict(False, text + f": the interval lies below {margin}")
    return Verdict(None, text + f": the interval straddles 0 and reaches {margin}")
