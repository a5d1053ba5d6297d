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
