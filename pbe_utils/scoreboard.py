"""The scoreboard as a reader sees it, generated from the claim records of one run (:mod:`pbe_utils.claims`): the
headline counts, the claims x models matrix, the designed table with each comparison's verdict, the intro page's
headline (escaped Markdown) and the sensitivity of every verdict to the margins and the gate."""

from __future__ import annotations

import html
import re

import pandas as pd

from pbe_utils.claims import BEYOND, evidence, is_beyond
from pbe_utils.verdicts import GATE, VERDICTS, ComparisonVerdict, counts_text, sensitivity

CHAPTER_DOCS = {
    "00": "00_data_and_models",
    "01": "01_lrp_epsilon_vs_zplus",
    "02": "02_optimised_composites",
    "03": "03_cnn_vs_vit",
    "04": "04_reference_samples",
    "05": "05_explanations_after_pruning",
    "06": "06_classic_criteria",
    "07": "07_what_pruning_buys",
    "08": "08_search_cost",
    "09": "09_explanation_vs_pruning",
    "10": "10_transfer",
}


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


def _badge_html(verdict: str) -> str:
    """The verdict as the scoreboard's coloured badge (inline HTML, which MyST passes through)."""
    return f'<span class="verdict {_BADGE.get(verdict, "verdict-undecided")}">{html.escape(verdict)}</span>'


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell: ``|``, ``*``, ``_``, backticks and brackets escaped."""
    return re.sub(r"([|*_`\[\]<>\\])", r"\\\1", str(text))


def comparison_summary(entry: dict | pd.Series) -> str:
    """'vs weight: holds (4 wins); vs Taylor: holds in part (2 wins, 1 tie, 1 unclear)'."""
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
            f"| {md_escape(r['id'])}: {md_escape(r['claim'])} | {_badge_html(str(r['verdict']))} | "
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


def unclear_cells(board: pd.DataFrame) -> pd.DataFrame:
    """Every unclear cell of every claim, with its difference and the number of paired seeds a decision would need
    at the observed mean and spread (a guide for a new, pre-registered run, never a reason to add seeds to this one)."""
    rows = []
    for r in board.to_dict("records"):
        for c in r["evidence"] or []:
            if c.get("outcome") == "unclear":
                needed = c.get("tasks needed")
                rows.append(
                    {
                        "claim": r["id"],
                        "comparison": c.get("comparison"),
                        "model / kind": f"{c.get('model')} / {c.get('kind')}",
                        "difference": c.get("difference"),
                        "seeds now": c.get("n"),
                        "seeds for a decision": "more than 1000" if needed is None or needed > 1000 else int(needed),
                    }
                )
    return pd.DataFrame(
        rows, columns=["claim", "comparison", "model / kind", "difference", "seeds now", "seeds for a decision"]
    )
