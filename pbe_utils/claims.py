"""The claims scoreboard: each chapter records its verdict on a claim; the scoreboard chapter reads them back.

Records are small JSON files, written atomically, one folder per *run*: ``$PBE_RESULTS/runs/<run>/claims/<id>.json``
(default ``results/``). A run is named by what produced it: the profile's name when the resolved parameters are the
published profile's (``default``: the run the book reads), else the profile's name and a hash of the resolved
parameters (``default-3f2a9c1e``), so that a re-run with other parameters never replaces the published records.
Every record carries the profile, the full resolved parameters, the commit, the zoo's hashes and the time; every
value in it is computed by the chapter that wrote it (:mod:`pbe_utils.verdicts`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pbe_utils import registry
from pbe_utils.cache import atomic_write_bytes, current_commit, results_dir, stable_hash
from pbe_utils.profiles import PROFILES, Profile, resolved_parameters, zoo_hashes
from pbe_utils.verdicts import Verdict

BEYOND = "(beyond the paper)"
PUBLISHED_RUN = "default"
#: the published run's claim records, shipped with the book (written by a complete published run)
SHIPPED = Path(__file__).resolve().parent.parent / "book" / "data" / "claims"


def run_id(profile: Profile) -> str:
    """The run a profile's results belong to: its name when its parameters are the named profile's, else the name
    and a hash of the resolved parameters."""
    base = PROFILES.get(profile.name)
    if base is not None and resolved_parameters(base) == resolved_parameters(profile):
        return profile.name
    return f"{profile.name}-{stable_hash(resolved_parameters(profile), 8)}"


def run_dir(run: str) -> Path:
    """The folder of one run's results: ``$PBE_RESULTS/runs/<run>``."""
    return results_dir() / "runs" / run


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if np.isfinite(v) else None
    return value


def record(
    claim_id: str,
    ours: str,
    verdict: Verdict,
    profile: Profile,
    extra: dict | None = None,
) -> dict:
    """Store one claim's verdict in the profile's run folder, with every cell behind it (per-seed differences,
    gate gaps, p-values, outcomes, roles), so that the scoreboard can show and re-decide it without a re-run. The
    claim's texts (statement, the paper's result, figure and setting, unit, primary comparison) come from
    :mod:`pbe_utils.registry`; ``ours`` is the chapter's measured summary."""
    c = registry.claim(claim_id)
    k, n = verdict.support
    entry = {
        "id": claim_id,
        "chapter": c.chapter,
        "claim": c.statement,
        "exploratory": c.exploratory,
        "paper": c.paper_result,
        "unit": c.unit,
        "primary": [p.comparison for p in verdict.primary],
        "ours": ours,
        "verdict": verdict.text,
        "support": [k, n],
        "reason": verdict.reason,
        "comparisons": [
            {"comparison": x.comparison, "goal": x.goal, "verdict": x.verdict, "counts": x.counts, "role": x.role}
            for x in verdict.comparisons
        ],
        "evidence": _jsonable(verdict.cells.to_dict("records")),
        "extra": _jsonable(extra or {}),
        "run": run_id(profile),
        "profile": profile.name,
        "parameters": resolved_parameters(profile),
        "zoo": zoo_hashes(profile),
        "commit": current_commit(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = run_dir(entry["run"]) / "claims" / f"{claim_id}.json"
    atomic_write_bytes(path, json.dumps(entry, indent=1).encode())
    shipped = SHIPPED / f"{claim_id}.json"
    if entry["run"] == PUBLISHED_RUN and shipped.is_file():
        print(compare_with_shipped(entry, json.loads(shipped.read_text())))
    return entry


def compare_with_shipped(entry: dict, shipped: dict) -> str:
    """One line: this run's label of a claim beside the shipped (published) one, and whether the cells differ."""

    def cells(e: dict) -> list:
        keys = ("comparison", "model", "kind", "b", "outcome", "difference")
        return [
            tuple(round(v, 9) if isinstance(v, float) else v for v in (c.get(k) for k in keys)) for c in e["evidence"]
        ]

    same = cells(entry) == cells(shipped)
    mine, pub = (f"{e['verdict']} ({e['support'][0]} of {e['support'][1]} cells)" for e in (entry, shipped))
    return f"{entry['id']}: this run {mine}; shipped with the book {pub} (commit {shipped.get('commit') or '?'}): " + (
        "the same cells" if same else "the cells differ"
    )


COLUMNS = ["id", "chapter", "claim", "exploratory", "paper", "unit", "primary", "ours", "verdict", "support", "reason"]
COLUMNS += ["comparisons", "evidence", "extra", "run"]
COLUMNS += ["profile", "parameters", "zoo", "commit", "time"]


def records_dir(run: str = PUBLISHED_RUN) -> Path:
    """Where the claim records of ``run`` are read from: the run's folder under ``$PBE_RESULTS``, or, for the
    published run when that folder has none, the records shipped with the book (``book/data/claims``)."""
    mine = run_dir(run) / "claims"
    if run == PUBLISHED_RUN and not any(mine.glob("*.json")) and SHIPPED.is_dir():
        return SHIPPED
    return mine


def load_all(run: str = PUBLISHED_RUN, folder: Path | None = None) -> pd.DataFrame:
    """The claim records of one run (default: the published one, see :func:`records_dir`), in the registry's
    order: the paper's claims first."""
    rows = [json.loads(p.read_text()) for p in sorted((folder or records_dir(run)).glob("*.json"))]
    order = {cid: i for i, cid in enumerate(registry.ORDER)}
    rows.sort(key=lambda e: (is_beyond(e), order.get(str(e.get("id")), len(order)), str(e.get("id"))))
    return pd.DataFrame(rows, columns=COLUMNS)


def evidence(entry: dict | pd.Series) -> pd.DataFrame:
    """A record's cells as a frame (missing numbers as NaN)."""
    cells = pd.DataFrame(entry["evidence"])
    for c in ("gap", "difference", "ci_low", "ci_high", "sd", "SE", "p_win", "p_loss", "p_tie", "threshold"):
        if c in cells.columns:
            cells[c] = pd.to_numeric(cells[c], errors="coerce")
    return cells


def side_by_side(run: str, published: str = PUBLISHED_RUN) -> pd.DataFrame:
    """One row per claim: the verdict of ``run`` beside the published one, and the parameters that differ."""
    mine, pub = load_all(run), load_all(published)
    if mine.empty:
        raise ValueError(f"run={run!r} has no claim records under {records_dir(run)}; run its chapters first")
    if pub.empty:
        raise ValueError(
            f"the published run {published!r} has no claim records (neither {run_dir(published)} nor {SHIPPED})"
        )
    mine, pub = mine.set_index("id"), pub.set_index("id")
    rows = []
    for cid in sorted(set(mine.index) | set(pub.index)):
        a = mine.loc[cid] if cid in mine.index else None
        b = pub.loc[cid] if cid in pub.index else None
        diff = ""
        if a is not None and b is not None:
            pa, pb = a["parameters"] or {}, b["parameters"] or {}
            diff = ", ".join(f"{k}={pa.get(k)!r}" for k in sorted(pa) if pa.get(k) != pb.get(k))
        rows.append(
            {
                "claim": cid,
                f"verdict ({run})": None if a is None else a["verdict"],
                f"verdict ({published})": None if b is None else b["verdict"],
                "same": a is not None and b is not None and a["verdict"] == b["verdict"],
                "parameters that differ": diff,
            }
        )
    return pd.DataFrame(rows)


def is_beyond(entry: dict | pd.Series | str) -> bool:
    """A question the paper does not test (exploratory in :mod:`pbe_utils.registry`); ``entry``: a record or an id."""
    if isinstance(entry, str):
        return registry.is_exploratory(entry)
    flag = entry.get("exploratory")
    if flag is None or flag != flag:
        return registry.is_exploratory(str(entry.get("id")))
    return bool(flag)


def missing_claims(board: pd.DataFrame) -> list[str]:
    """The registered claims that ``board`` (records of one run) has no record for."""
    have = set(board["id"].astype(str)) if len(board) else set()
    return [c for c in registry.ORDER if c not in have]


def ship_records(run: str = PUBLISHED_RUN) -> Path:
    """Copy the complete set of ``run``'s claim records into the book (``book/data/claims``), where the published
    scoreboard, the headline and the tests read them on a fresh clone. Refuses an incomplete set (one line)."""
    src = run_dir(run) / "claims"
    board = load_all(run, folder=src)
    missing = missing_claims(board)
    if missing:
        raise ValueError(f"run {run!r} has no record for {missing}: only a complete run's records ship with the book")
    for p in sorted(src.glob("*.json")):
        atomic_write_bytes(SHIPPED / p.name, p.read_bytes())
    return SHIPPED
