"""The claims scoreboard: each chapter records its verdict on a claim; the scoreboard chapter reads them back.

Records are small JSON files, written atomically, one folder per *run*: ``$PBE_RESULTS/runs/<run>/claims/<id>.json``
(default ``results/``). A run is named by what produced it: the profile's name when the resolved parameters are the
published profile's (``default``: the run the book reads), else the profile's name and a hash of the resolved
parameters (``default-3f2a9c1e``), so that a re-run with other parameters never replaces the published records.
Every record carries the profile, the full resolved parameters, the commit, the zoo's hashes and the time; every
value in it is computed by the chapter that wrote it (:mod:`pbe_utils.verdicts`)."""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pbe_utils.cache import atomic_write_bytes, current_commit, results_dir, stable_hash
from pbe_utils.profiles import PROFILES, Profile
from pbe_utils.verdicts import VERDICTS, Verdict, counts_text

BEYOND = "(beyond the paper)"
PUBLISHED_RUN = "default"


def resolved_parameters(profile: Profile) -> dict[str, Any]:
    """Every parameter of ``profile`` as JSON values (tuples as lists)."""
    return json.loads(json.dumps(asdict(profile), default=list))


def run_id(profile: Profile) -> str:
    """The run a profile's results belong to: its name when its parameters are the named profile's, else the name
    and a hash of the resolved parameters."""
    base = PROFILES.get(profile.name)
    if base is not None and resolved_parameters(base) == resolved_parameters(profile):
        return profile.name
    return f"{profile.name}-{stable_hash(resolved_parameters(profile), 8)}"


def run_dir(run: str) -> Path:
    return results_dir() / "runs" / run


def zoo_hashes(profile: Profile) -> dict[str, str]:
    """sha256 (first 16 hex digits) of the shipped weights of the profile's models, when it loads the zoo."""
    if profile.data != "fashion_mnist" or profile.zoo != "shipped":
        return {}
    from pbe_utils.zoo import read_manifest

    manifest = read_manifest()
    models = manifest.get("models", {})
    return {m: str(models.get(m, {}).get("sha256", ""))[:16] for m in profile.models}


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
    chapter: str,
    claim: str,
    paper: str,
    ours: str,
    verdict: Verdict,
    profile: Profile,
    extra: dict | None = None,
) -> dict:
    """Store one claim's verdict in the profile's run folder, with every cell behind it (per-seed differences,
    gate gaps, p-values, outcomes), so that the scoreboard can show and re-decide it without a re-run."""
    entry = {
        "id": claim_id,
        "chapter": chapter,
        "claim": claim,
        "paper": paper,
        "ours": ours,
        "verdict": verdict.text,
        "reason": verdict.reason,
        "comparisons": [
            {"comparison": c.comparison, "goal": c.goal, "verdict": c.verdict, "counts": c.counts}
            for c in verdict.comparisons
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
    return entry


COLUMNS = ["id", "chapter", "claim", "paper", "ours", "verdict", "reason", "comparisons", "evidence", "extra", "run"]
COLUMNS += ["profile", "parameters", "zoo", "commit", "time"]


def load_all(run: str = PUBLISHED_RUN) -> pd.DataFrame:
    """The claim records of one run (default: the published one), the paper's claims first."""
    rows = [json.loads(p.read_text()) for p in sorted((run_dir(run) / "claims").glob("*.json"))]
    rows.sort(key=lambda e: (is_beyond(e.get("claim", "")), str(e.get("chapter")), str(e.get("id"))))
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
    mine, pub = load_all(run).set_index("id"), load_all(published).set_index("id")
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


CHAPTER_DOCS = {
    "00": "00_data_and_models",
    "01": "01_lrp_epsilon_vs_zplus",
    "02": "02_optimised_composites",
    "03": "03_cnn_vs_vit",
    "04": "04_reference_samples",
    "05": "05_classic_criteria",
    "06": "06_explanations_after_pruning",
    "07": "07_what_pruning_buys",
    "08": "08_search_cost",
    "09": "09_explanation_vs_pruning",
    "10": "10_transfer",
}


def is_beyond(claim: str) -> bool:
    """A question the paper does not test (its claim text starts with "(beyond the paper)")."""
    return str(claim).startswith(BEYOND)


_BADGE = {
    "holds": "verdict-holds",
    "holds in part": "verdict-part",
    "does not hold": "verdict-fails",
    "undecided": "verdict-undecided",
}


_PLURAL_VERDICT = {
    "holds": "hold",
    "holds in part": "hold in part",
    "does not hold": "do not hold",
    "undecided": "are undecided",
}
_SINGULAR_VERDICT = {"holds": "holds", "holds in part": "holds in part", "does not hold": "does not hold"}
_SINGULAR_VERDICT["undecided"] = "is undecided"


def _count(verdicts: list[str]) -> str:
    """'2 hold, 1 holds in part, 3 do not hold, 1 is undecided'."""
    parts = []
    for v in VERDICTS:
        n = verdicts.count(v)
        if n:
            parts.append(f"{n} {(_SINGULAR_VERDICT if n == 1 else _PLURAL_VERDICT)[v]}")
    return ", ".join(parts) if parts else "none"


def counts_sentence(board: pd.DataFrame) -> str:
    """'Of 7 claims of the paper, 2 hold, 1 holds in part, ...; of 4 questions beyond the paper, ...'."""
    beyond = board["claim"].map(is_beyond)
    paper = [str(v) for v in board.loc[~beyond, "verdict"]]
    extra = [str(v) for v in board.loc[beyond, "verdict"]]
    text = f"Of {len(paper)} claims of the paper: {_count(paper)}"
    if extra:
        text += f"; of {len(extra)} questions beyond the paper: {_count(extra)}"
    return text


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell: ``|``, ``*``, ``_``, backticks and brackets escaped."""
    return re.sub(r"([|*_`\[\]<>\\])", r"\\\1", str(text))


def comparison_summary(entry: dict | pd.Series) -> str:
    """'vs weight: holds (4 wins); vs Taylor: holds in part (2 wins, 1 tie, 1 unclear)'."""
    from pbe_utils.verdicts import ComparisonVerdict

    parts = [
        ComparisonVerdict(c["comparison"], c["goal"], c["verdict"], c["counts"]).sentence
        for c in entry["comparisons"] or []
    ]
    return "; ".join(parts)


KINDS = ("conv", "neurons", "heads")
_LETTER = {"win": "W", "tie": "T", "loss": "L", "unclear": "?", "identical": "=", "not discriminating": "–"}
_LETTER["too few seeds"] = "n"


def matrix_columns(board: pd.DataFrame) -> list[tuple[str, str]]:
    """The (model, component kind) columns of the claims x models matrix, in order of first appearance."""
    cols: list[tuple[str, str]] = []
    for entry in board.to_dict("records"):
        for c in entry["evidence"] or []:
            key = (str(c.get("model")), str(c.get("kind")))
            if c.get("model") and c.get("kind") in KINDS and key not in cols:
                cols.append(key)
    order = {k: i for i, k in enumerate(KINDS)}
    models = list(dict.fromkeys(m for m, _ in cols))
    return sorted(cols, key=lambda mk: (models.index(mk[0]), order[mk[1]]))


def _column_of(cell: dict, cols: list[tuple[str, str]]) -> tuple[str, str] | None:
    model, kind = str(cell.get("model")), str(cell.get("kind"))
    if (model, kind) in cols:
        return (model, kind)
    same = [c for c in cols if c[0] == model]  # another grouping (a grid, a task size): the model's first kind
    return same[0] if same else None


def _cell_class(outcomes: list[str]) -> str:
    if not outcomes:
        return "none"
    if "loss" in outcomes:
        return "loss"
    if len(set(outcomes)) == 1:
        return outcomes[0].replace(" ", "-")
    if "win" in outcomes:
        return "mixed"
    if "tie" in outcomes:
        return "tie"
    return "unclear"


def matrix_html(board: pd.DataFrame) -> str:
    """The claims x models matrix: one coloured cell per claim and (model, component kind), with the difference
    (one comparison) or the outcome letters (several), generated from the records' cells."""
    cols = matrix_columns(board)
    head = "".join(f"<th>{html.escape(m)}<br><small>{html.escape(k)}</small></th>" for m, k in cols)
    rows = []
    for entry in board.to_dict("records"):
        by: dict[tuple[str, str], list[dict]] = {c: [] for c in cols}
        for cell in entry["evidence"] or []:
            col = _column_of(cell, cols)
            if col is not None:
                by[col].append(cell)
        tds = []
        for col in cols:
            cells = by[col]
            outcomes = [str(c.get("outcome")) for c in cells]
            if len(cells) == 1 and cells[0].get("difference") is not None:
                text = f"{float(cells[0]['difference']):+.3f}"
            else:
                text = " ".join(f"{outcomes.count(o)}{_LETTER.get(o, '?')}" for o in _LETTER if outcomes.count(o))
            title = "; ".join(f"{c.get('comparison')}: {c.get('outcome')}" for c in cells) or "not measured"
            tds.append(f'<td class="m-{_cell_class(outcomes)}" title="{html.escape(title)}">{html.escape(text)}</td>')
        badge = _BADGE.get(str(entry["verdict"]), "verdict-undecided")
        doc = CHAPTER_DOCS.get(str(entry["chapter"]), "99_scoreboard")
        rows.append(
            f'<tr><th><a href="{doc}.html">{html.escape(str(entry["id"]))}</a><br>'
            f'<span class="verdict {badge}">{html.escape(str(entry["verdict"]))}</span></th>{"".join(tds)}</tr>'
        )
    legend = " · ".join(
        f'<span class="m-{k.replace(" ", "-")}">{html.escape(_LETTER[k])}</span> {html.escape(k)}' for k in _LETTER
    )
    return (
        '<div class="claims-matrix"><table class="claims-matrix"><thead><tr><th>claim</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="matrix-legend">{legend}; a number is the difference of the one comparison in that cell.</p></div>'
    )


def headline_markdown(board: pd.DataFrame, run: str) -> str:
    """The study's headline for the intro page (MyST), generated from the claim records of ``run``."""
    stamp = sorted(str(t) for t in board["time"].dropna())
    commits = sorted({str(c) for c in board["commit"].dropna() if c})
    lines = [
        f"**{counts_sentence(board)}** (run `{run}`; each claim's comparisons are paired over the evaluation tasks, "
        "with 90 % intervals, an equivalence margin, one Holm family per claim and a gate; see {doc}`99_scoreboard` "
        "and {doc}`method`).",
        "",
        "```{raw} html",
        matrix_html(board),
        "```",
        "",
        "| claim | verdict | comparisons | chapter |",
        "| --- | --- | --- | --- |",
    ]
    for r in board.to_dict("records"):
        doc = CHAPTER_DOCS.get(str(r["chapter"]), "99_scoreboard")
        lines.append(
            f"| {md_escape(r['id'])}: {md_escape(r['claim'])} | **{md_escape(r['verdict'])}** | "
            f"{md_escape(comparison_summary(r))} | {{doc}}`{doc}` |"
        )
    lines += [
        "",
        f"*Generated from the claim records of run `{run}` (commit {', '.join(commits) or '?'}, "
        f"{stamp[-1] if stamp else '?'}).*",
        "",
    ]
    return "\n".join(lines)


def _claim_cell(claim: str) -> str:
    if is_beyond(claim):
        rest = claim[len(BEYOND) :].strip()
        return f'<span class="beyond">beyond the paper</span> {html.escape(rest)}'
    return html.escape(claim)


def scoreboard_html(board: pd.DataFrame) -> str:
    """The scoreboard as a designed table: verdict badges, each comparison's verdict and counts, chapter links, and
    the measured evidence; the cell-by-cell intervals fold away under each claim."""
    rows = []
    for r in board.to_dict("records"):
        cls = _BADGE.get(str(r["verdict"]), "verdict-undecided")
        doc = CHAPTER_DOCS.get(str(r["chapter"]), "99_scoreboard")
        comps = "".join(
            f"<li>{html.escape(c['comparison'])}: <b>{html.escape(c['verdict'])}</b> "
            f"({html.escape(counts_text(c['counts']))})</li>"
            for c in r["comparisons"] or []
        )
        rows.append(
            "<tr>"
            f"<td><b>{html.escape(str(r['id']))}</b></td>"
            f"<td>{_claim_cell(str(r['claim']))}</td>"
            f'<td><span class="verdict {cls}">{html.escape(str(r["verdict"]))}</span>'
            f'<ul class="counts">{comps}</ul></td>'
            f'<td><a href="{doc}.html">{html.escape(str(r["chapter"]))}</a></td>'
            f'<td class="wide"><details><summary>measured here</summary><small>{html.escape(str(r["ours"]))}'
            "</small></details></td>"
            f'<td class="wide"><small>{html.escape(str(r["paper"]))}</small></td>'
            "</tr>"
        )
    head = (
        "<tr><th>id</th><th>claim</th><th>verdict and comparisons</th><th>chapter</th>"
        "<th class='wide'>measured here (90 % intervals)</th><th class='wide'>paper (secondary source)</th></tr>"
    )
    return f'<table class="scoreboard"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def sensitivity_table(board: pd.DataFrame) -> pd.DataFrame:
    """Every claim re-decided under margins x0.5 / x1 / x2 and gates 0.02 / 0.03 / 0.05 from its stored cells."""
    from pbe_utils.verdicts import GATE, sensitivity

    full = sensitivity({str(r["id"]): evidence(r) for r in board.to_dict("records")})
    shown = {
        "published": "published (×1, gate 0.03)",
        "margin ×0.5, gate 0.03": "margins ×0.5",
        "margin ×2, gate 0.03": "margins ×2",
        "margin ×1, gate 0.02": "gate 0.02",
        "margin ×1, gate 0.05": "gate 0.05",
        "changes": "settings that change it (of 9)",
    }
    assert f"margin ×1, gate {GATE:g}" in full.columns
    return full.set_index("claim")[list(shown)].rename(columns=shown)
