"""The claims scoreboard: each chapter records its verdict on a claim; the scoreboard chapter reads them back.

Records are small JSON files under ``$PBE_RESULTS/claims`` (default ``results/claims``), written atomically;
every value in them is computed by the chapter that wrote it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from pbe_utils.cache import atomic_write_bytes


def results_dir() -> Path:
    return Path(os.environ.get("PBE_RESULTS", "results"))


def record(claim_id: str, chapter: str, claim: str, paper: str, ours: str, holds: bool | None, profile: str) -> dict:
    """Store one verdict. ``holds`` is True/False, or None when the run cannot decide (e.g. within noise)."""
    entry = {
        "id": claim_id,
        "chapter": chapter,
        "claim": claim,
        "paper": paper,
        "ours": ours,
        "holds": None if holds is None else bool(holds),
        "profile": profile,
    }
    atomic_write_bytes(results_dir() / "claims" / f"{claim_id}.json", json.dumps(entry, indent=1).encode())
    return entry


def verdict(holds: bool | None) -> str:
    return {True: "holds", False: "does not hold", None: "undecided"}[holds]


def load_all(profile: str | None = None) -> pd.DataFrame:
    rows = []
    for path in sorted((results_dir() / "claims").glob("*.json")):
        entry = json.loads(path.read_text())
        if profile is None or entry.get("profile") == profile:
            rows.append(entry)
    cols = ["id", "chapter", "claim", "paper", "ours", "holds", "profile"]
    return pd.DataFrame(rows, columns=cols)


def paired_outcome(
    summaries: pd.DataFrame,
    a: str,
    b: str,
    value: str = "A_PR",
    by: str = "model",
    method: str = "method",
    z: float = 2.0,
) -> pd.DataFrame:
    """Compare method ``a`` with ``b`` per ``by`` over seeds: the mean difference of ``value``, its standard error
    (from the per-seed differences, seeds paired) and an outcome: ``win`` (difference > z SE), ``loss``
    (< -z SE) or ``tie``."""
    import numpy as np

    rows = []
    for key, g in summaries.groupby(by, sort=False):
        pa = g[g[method] == a].set_index("seed")[value]
        pb = g[g[method] == b].set_index("seed")[value]
        d = (pa - pb).dropna()
        se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
        mean = float(d.mean())
        outcome = "tie" if not np.isfinite(se) else ("win" if mean > z * se else "loss" if mean < -z * se else "tie")
        if np.isfinite(se) and se == 0.0:
            outcome = "win" if mean > 0 else "loss" if mean < 0 else "tie"
        rows.append({by: key, "difference": mean, "SE": se, "outcome": outcome})
    return pd.DataFrame(rows)


def verdict_from(outcomes: pd.DataFrame) -> bool | None:
    """True if ``a`` never loses and wins at least once; False if it loses anywhere; None if all ties."""
    if (outcomes["outcome"] == "loss").any():
        return False
    if (outcomes["outcome"] == "win").any():
        return True
    return None
