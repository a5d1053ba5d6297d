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
    import time

    commit = current_commit()
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


def current_commit() -> str:
    """The short hash of HEAD, or "" outside a git checkout."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


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
    rows.sort(key=lambda e: (is_beyond(e.get("claim", "")), str(e.get("chapter")), str(e.get("id"))))
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
BEYOND = "(beyond the paper)"


def is_beyond(claim: str) -> bool:
    """A question the paper does not test (its claim text starts with "(beyond the paper)")."""
    return str(claim).startswith(BEYOND)


_BADGE = {
    True: ("holds", "verdict-holds"),
    False: ("does not hold", "verdict-fails"),
    None: ("undecided", "verdict-undecided"),
}


def _holds(v) -> bool | None:
    return None if v is None or (isinstance(v, float) and v != v) else bool(v)


def counts_sentence(board: pd.DataFrame) -> str:
    """'2 of 7 claims of the paper hold, ...; of 4 questions beyond the paper, ...' (on the embedded default)."""
    beyond = board["claim"].map(is_beyond)
    paper = [_holds(v) for v in board.loc[~beyond, "holds"]]
    extra = [_holds(v) for v in board.loc[beyond, "holds"]]
    text = (
        f"{paper.count(True)} of {len(paper)} claims of the paper hold, {paper.count(False)} do not, and "
        f"{paper.count(None)} cannot be decided here"
    )
    if extra:
        text += (
            f"; of {len(extra)} questions beyond the paper, {extra.count(True)} hold, {extra.count(False)} do not, "
            f"and {extra.count(None)} cannot be decided"
        )
    return text


def headline_markdown(board: pd.DataFrame, profile: str) -> str:
    """The study's headline for the intro page (MyST), generated from the claim records."""
    lines = [
        f"**{counts_sentence(board)}** (profile `{profile}`; every verdict is paired over the evaluation tasks, "
        "with 95 % intervals, an equivalence margin and a Holm correction; see {doc}`99_scoreboard`).",
        "",
    ]
    lines += ["| claim | verdict | chapter |", "| --- | --- | --- |"]
    for r in board.itertuples():
        text, _ = _BADGE[_holds(r.holds)]
        doc = CHAPTER_DOCS.get(str(r.chapter), "99_scoreboard")
        lines.append(f"| {r.id}: {r.claim} | **{text}** | {{doc}}`{doc}` |")
    stamp = sorted(str(t) for t in board["time"].dropna())
    commits = sorted({str(c) for c in board["commit"].dropna() if c})
    lines += [
        "",
        f"*Generated from the claim records written by the chapters (commit {', '.join(commits) or '?'}, "
        f"{stamp[-1] if stamp else '?'}).*",
        "",
    ]
    return "\n".join(lines)


def _claim_cell(claim: str) -> str:
    import html

    if is_beyond(claim):
        rest = claim[len(BEYOND) :].strip()
        return f'<span class="beyond">beyond the paper</span> {html.escape(rest)}'
    return html.escape(claim)


def scoreboard_html(board: pd.DataFrame) -> str:
    """The scoreboard as a designed table: verdict badges, chapter links, the reason, and the measured evidence."""
    import html

    rows = []
    for r in board.itertuples():
        text, cls = _BADGE[_holds(r.holds)]
        doc = CHAPTER_DOCS.get(str(r.chapter), "99_scoreboard")
        rows.append(
            "<tr>"
            f"<td><b>{html.escape(str(r.id))}</b></td>"
            f"<td>{_claim_cell(str(r.claim))}</td>"
            f'<td><span class="verdict {cls}">{text}</span><br><small>{html.escape(str(r.reason or ""))}</small></td>'
            f'<td><a href="{doc}.html">{html.escape(str(r.chapter))}</a></td>'
            f'<td class="wide"><small>{html.escape(str(r.ours))}</small></td>'
            f'<td class="wide"><small>{html.escape(str(r.paper))}</small></td>'
            "</tr>"
        )
    head = (
        "<tr><th>id</th><th>claim</th><th>verdict</th><th>chapter</th><th class='wide'>measured here</th>"
        "<th class='wide'>paper (secondary source)</th></tr>"
    )
    return f'<table class="scoreboard"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
