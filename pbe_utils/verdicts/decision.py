"""The outcome of every cell of a claim: set-aside reasons first, then Holm's correction over the family and the
intersection-union test (:func:`decide`), and the cells re-tested under other margins and gates (:func:`retest`,
for the sensitivity table)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .stats import ALPHA, GATE, MIN_SEEDS, decision_interval, holm, paired_tests, tasks_needed


def retest(cells: pd.DataFrame, margin_scale: float, gate: float | None) -> pd.DataFrame:
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
