"""What a reader sees of the verdicts: the sensitivity of every label to the margins, the gate, the Holm family and
the choice of the primary; one clause per cell; and the cells as a table with readable column names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .decision import retest
from .rule import judge
from .stats import GATE


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
                text = judge(retest(cells, s, g), gate=g).text
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
        count = str(r.get("value", "")).endswith("(log-rank)")  # a difference of medians of evaluations: a count
        whole = diff is not None and np.isfinite(diff) and float(diff).is_integer()
        places = 0 if count and whole else digits
        shown = f"{diff:+.{places}f}" if diff is not None and np.isfinite(diff) else "n/a"
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
