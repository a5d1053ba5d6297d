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


def record(
    claim_id: str,
    chapter: str,
    claim: str,
    paper: str,
    ours: str,
    holds: bool | None,
    profile: str,
    evidence: pd.DataFrame | None = None,
    reason: str = "",
) -> dict:
    """Store one verdict. ``holds`` is True/False, or None when the run cannot decide. ``evidence``: the rows of
    :func:`pbe_utils.verdicts.compare` behind it (interval, margin, gate per comparison), stored with the verdict."""
    import subprocess
    import time

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    entry = {
        "id": claim_id,
        "chapter": chapter,
        "claim": claim,
        "paper": paper,
        "ours": ours,
        "holds": None if holds is None else bool(holds),
        "profile": profile,
        "reason": reason,
        "evidence": [] if evidence is None else _jsonable(evidence),
        "commit": commit,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic_write_bytes(results_dir() / "claims" / f"{claim_id}.json", json.dumps(entry, indent=1).encode())
    return entry


def _jsonable(frame: pd.DataFrame) -> list[dict]:
    keep = [
        c
        for c in (
            "model",
            "kind",
            "a",
            "b",
            "n",
            "difference",
            "ci_low",
            "ci_high",
            "margin",
            "outcome",
            "discriminates",
        )
        if c in frame.columns
    ]
    rows = frame[keep].to_dict("records")
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in rows]


def verdict(holds: bool | None) -> str:
    return {True: "holds", False: "does not hold", None: "undecided"}[holds]


def load_all(profile: str | None = None) -> pd.DataFrame:
    rows = []
    for path in sorted((results_dir() / "claims").glob("*.json")):
        entry = json.loads(path.read_text())
        if profile is None or entry.get("profile") == profile:
            rows.append(entry)
    cols = ["id", "chapter", "claim", "paper", "ours", "holds", "profile", "reason", "evidence", "commit", "time"]
    return pd.DataFrame(rows, columns=cols)


def paired_outcome(
    summaries: pd.DataFrame,
    a: str,
    b: str,
    value: str = "A_PR",
    by: str | tuple[str, ...] = ("model", "kind"),
    method: str = "method",
) -> pd.DataFrame:
    """Compare method ``a`` with ``b`` per model (and kind) through the study's one verdict function,
    :func:`pbe_utils.verdicts.compare`: paired over seeds, 95 % interval, equivalence margin, Holm correction and the
    discrimination gate. Outcomes: win, loss, tie, unclear, too few seeds, not discriminating."""
    from pbe_utils.verdicts import compare

    return compare(summaries, a, b, value=value, by=by, method=method)


def verdict_from(outcomes: pd.DataFrame) -> bool | None:
    """True / False / None from comparisons (see :func:`pbe_utils.verdicts.claim_verdict`)."""
    from pbe_utils.verdicts import claim_verdict

    return claim_verdict(outcomes).holds
