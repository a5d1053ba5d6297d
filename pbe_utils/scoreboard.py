"""The scoreboard as a reader sees it, generated from the claim records of one run (:mod:`pbe_utils.claims`): the
headline counts, the claims x models matrix, the designed table with each comparison's verdict, the intro page's
headline (escaped Markdown) and the sensitivity of every verdict to the margins and the gate."""

from __future__ import annotations

import html

import pandas as pd

from pbe_utils import registry
from pbe_utils.claims import evidence, is_beyond
from pbe_utils.components import KINDS
from pbe_utils.plots import md_escape
from pbe_utils.toc import chapter_docs
from pbe_utils.verdicts import GATE, VERDICTS, ComparisonVerdict, counts_text, sensitivity, support_of

#: chapter number -> its page, from _toc.yml (pbe_utils.toc)
CHAPTER_DOCS = chapter_docs()


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
    beyond = pd.Series([is_beyond(r) for r in board.to_dict("records")], index=board.index, dtype=bool)
    paper = [str(v) for v in board.loc[~beyond, "verdict"]]
    extra = [str(v) for v in board.loc[beyond, "verdict"]]
    text = f"Of {len(paper)} claims of the paper: {_count(paper)}"
    if extra:
        text += f"; of {len(extra)} questions beyond the paper: {_count(extra)}"
    return text


def _badge_html(verdict: str) -> str:
    """The verdict as the scoreboard's coloured badge (inline HTML, which MyST passes through)."""
    return f'<span class="verdict {_BADGE.get(verdict, "verdict-undecided")}">{html.escape(verdict)}</span>'


def _comparisons(entry: dict | pd.Series, role: str) -> list[ComparisonVerdict]:
    return [
        ComparisonVerdict(c["comparison"], c["goal"], c["verdict"], c["counts"], c.get("role", "primary"))
        for c in entry["comparisons"] or []
        if (c.get("role", "primary") == "primary") == (role == "primary")
    ]


def comparison_summary(entry: dict | pd.Series, role: str = "primary") -> str:
    """'optimised vs LRP-ε: holds (4 wins)' for the primary comparison(s) (``role='also asked'``: the others)."""
    return "; ".join(c.sentence for c in _comparisons(entry, role))


def share_text(entry: dict | pd.Series) -> str:
    """'4 of 5 cells': the primary comparison's decidable cells that support the claim (recomputed from the
    record's cells when it has no ``support``)."""
    sup = entry.get("support")
    if not isinstance(sup, (list, tuple)) or len(sup) != 2:
        sup = support_of(evidence(entry))
    k, n = int(sup[0]), int(sup[1])
    return f"{k} of {n} cell{'s' if n != 1 else ''}"


#: one letter per cell outcome and set-aside reason, in the claims matrix and the chapters' own matrices
LETTER = {"win": "W", "tie": "T", "loss": "L", "unclear": "?", "identical": "=", "not discriminating": "–"}
LETTER["too few seeds"] = "n"


def matrix_columns(board: pd.DataFrame) -> list[tuple[str, str]]:
    """The (model, component kind) columns of the claims x models matrix, in order of first appearance."""
    cols: list[tuple[str, str]] = []
    for entry in board.to_dict("records"):
        for c in entry["evidence"] or []:
            if c.get("role", "primary") != "primary":
                continue
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
            if cell.get("role", "primary") != "primary":
                continue
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
                text = " ".join(f"{outcomes.count(o)}{LETTER.get(o, '?')}" for o in LETTER if outcomes.count(o))
            title = "; ".join(f"{c.get('comparison')}: {c.get('outcome')}" for c in cells) or "not measured"
            tds.append(f'<td class="m-{_cell_class(outcomes)}" title="{html.escape(title)}">{html.escape(text)}</td>')
        badge = _BADGE.get(str(entry["verdict"]), "verdict-undecided")
        doc = CHAPTER_DOCS.get(str(entry["chapter"]), "99_scoreboard")
        rows.append(
            f'<tr><th><a href="{doc}.html">{html.escape(str(entry["id"]))}</a><br>'
            f'<span class="verdict {badge}">{html.escape(str(entry["verdict"]))}</span></th>{"".join(tds)}</tr>'
        )
    legend = " · ".join(
        f'<span class="m-{k.replace(" ", "-")}">{html.escape(LETTER[k])}</span> {html.escape(k)}' for k in LETTER
    )
    return (
        '<div class="claims-matrix"><table class="claims-matrix"><caption>The evidence at a glance: one row per '
        "claim, one column per model and component kind, each cell coloured by the outcome of its primary "
        "comparison there (legend below).</caption><thead><tr><th>claim</th>"
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="matrix-legend">{legend}; the cells of each claim\'s primary comparison; a number is the '
        "difference of the one comparison in that cell.</p></div>"
    )


def headline_markdown(board: pd.DataFrame, run: str) -> str:
    """The study's headline for the intro page (MyST), generated from the claim records of ``run``."""
    stamp = sorted(str(t) for t in board["time"].dropna())
    commits = sorted({str(c) for c in board["commit"].dropna() if c})
    lines = [
        f"**{counts_sentence(board)}** (run `{run}`; a claim's label is the verdict of its primary comparison, the "
        "one the paper's statement makes, in the paper's unit; its cells are paired over the evaluation tasks, with "
        "an equivalence margin, Holm's correction and a gate; see {doc}`99_scoreboard` and {doc}`method`).",
        "",
        *([confirmation_sentence(board), ""] if "confirmation" in board.columns else []),
        "```{raw} html",
        matrix_html(board),
        "```",
        "",
        "```{table} Each claim's label with its supporting cells, its primary comparison, what is also asked "
        "(folded: tap to open), and the chapter that tests it.",
        ":name: table-headline",
        ":class: headline",
        "",
        "| claim | label (supporting cells) | confirmation | primary comparison | also asked | chapter |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in board.to_dict("records"):
        doc = CHAPTER_DOCS.get(str(r["chapter"]), "99_scoreboard")
        tag = "(exploratory) " if is_beyond(r) else ""
        lines.append(
            f"| {md_escape(r['id'])}: {tag}{md_escape(r['claim'])} | {_badge_html(str(r['verdict']))} "
            f"{md_escape(share_text(r))} | {confirmation_cell(r)} | {md_escape(comparison_summary(r))} | "
            f"{_folded(comparison_summary(r, 'also asked'))} | {{doc}}`{doc}` |"
        )
    lines += [
        "```",
        "",
        f"*Generated from the claim records of run `{run}` (commit {', '.join(commits) or '?'}, "
        f"{stamp[-1] if stamp else '?'}).*",
        "",
    ]
    return "\n".join(lines)


def confirmation_cell(entry: dict) -> str:
    """A claim's confirmation label (a board with a ``confirmation`` column, see :mod:`pbe_utils.confirmation`):
    the badge when the confirmation changed the label, 'same' when it confirmed cells and kept it, '–' otherwise."""
    conf, cells = entry.get("confirmation"), entry.get("confirmed cells") or 0
    if not isinstance(conf, str) or not cells:
        return "–"
    return "same" if conf == entry["verdict"] else _badge_html(conf)


def confirmation_sentence(board: pd.DataFrame) -> str:
    """What the confirmation run (fresh tasks, a plan fixed in advance) did to the labels, from a board with a
    ``confirmation`` column."""
    done = board[board["confirmed cells"].fillna(0).astype(int) > 0]
    if done.empty:
        return "No confirmation run has shipped (see {doc}`confirmation`)."
    moved = [f"{r['id']} from {r['verdict']} to {r['confirmation']}" for r in done.to_dict("records")
             if r["confirmation"] != r["verdict"]]  # fmt: skip
    kept = [str(r["id"]) for r in done.to_dict("records") if r["confirmation"] == r["verdict"]]
    n, k = int(done["confirmed cells"].sum()), int(done["decided cells"].sum())
    text = f"A confirmation run on fresh tasks, planned before it ran, decided {k} of the {n} unclear primary cells "
    text += f"it could test ({len(done)} claims); it changed " + ("; ".join(moved) if moved else "no label")
    text += f", and kept the label of {', '.join(kept)}" if kept else ""
    return text + " (see {doc}`confirmation`)."


def _folded(text: str) -> str:
    """A long table cell folded behind its first words (inline HTML in a MyST table cell)."""
    if not text:
        return "–"
    parts = text.split("; ")
    summary = f"{len(parts)} comparison{'s' if len(parts) > 1 else ''}"
    return f"<details><summary>{summary}</summary>{md_escape(text)}</details>"


def _claim_cell(entry: dict) -> str:
    if is_beyond(entry):
        return f'<span class="beyond">beyond the paper (exploratory)</span> {html.escape(str(entry["claim"]))}'
    return html.escape(str(entry["claim"]))


def _li(c: ComparisonVerdict) -> str:
    return (
        f"<li>{html.escape(c.comparison)}: <b>{html.escape(c.verdict)}</b> ({html.escape(counts_text(c.counts))})</li>"
    )


def _confirmation_html(entry: dict) -> str:
    """The confirmation run's word on a claim (book/confirmation): 'confirmed' when it kept the label, else the new
    label's badge; nothing when it confirmed no cell."""
    if not entry.get("confirmed cells"):
        return ""
    conf = str(entry["confirmation"])
    if conf == entry["verdict"]:
        return " <small>· confirmed</small>"
    return (
        f' <small>· confirmation:</small> <span class="verdict {_BADGE.get(conf, "verdict-undecided")}">'
        f"{html.escape(conf)}</span>"
    )


def scoreboard_html(board: pd.DataFrame) -> str:
    """The scoreboard as a designed table: the label badge with the share of supporting cells, the primary
    comparison that decides it, the comparisons also asked (each with its own verdict), chapter links, and the
    measured evidence; the cell-by-cell intervals fold away under each claim."""
    rows = []
    for r in board.to_dict("records"):
        cls = _BADGE.get(str(r["verdict"]), "verdict-undecided")
        doc = CHAPTER_DOCS.get(str(r["chapter"]), "99_scoreboard")
        prim = "".join(_li(c) for c in _comparisons(r, "primary"))
        also = "".join(_li(c) for c in _comparisons(r, "also asked"))
        n_also = len(_comparisons(r, "also asked"))
        also_html = (
            f'<details class="also"><summary>also asked ({n_also})</summary><ul class="counts">{also}</ul></details>'
            if also
            else ""
        )
        rows.append(
            "<tr>"
            f"<td><b>{html.escape(str(r['id']))}</b></td>"
            f"<td>{_claim_cell(r)}</td>"
            f'<td><span class="verdict {cls}">{html.escape(str(r["verdict"]))}</span> '
            f"<small>{html.escape(share_text(r))}</small>{_confirmation_html(r)}"
            f'<ul class="counts">{prim}</ul>{also_html}</td>'
            f'<td><a href="{doc}.html">{html.escape(str(r["chapter"]))}</a></td>'
            f'<td class="wide"><details><summary>measured here</summary><small>{html.escape(str(r["ours"]))}'
            "</small></details></td>"
            f'<td class="wide"><small>{html.escape(str(r["paper"]))}</small></td>'
            "</tr>"
        )
    head = (
        "<tr><th>id</th><th>claim</th><th>label (primary comparison) and also asked</th><th>chapter</th>"
        "<th class='wide'>measured here (intervals as decided)</th><th class='wide'>paper (secondary source)</th></tr>"
    )
    caption = (
        "<caption>Every claim: its label from the primary comparison, with the share of supporting cells; the "
        "comparisons also asked (folded); the chapter; and, on wide screens, what was measured and the paper's "
        "result.</caption>"
    )
    return f'<table class="scoreboard">{caption}<thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def sensitivity_table(board: pd.DataFrame) -> pd.DataFrame:
    """Every claim's label re-decided under margins x0.5 / x1 / x2, gates 0.02 / 0.03 / 0.05, Holm families
    (whole claim, per comparison) and the registry's other choices of the primary (C3 in removable parameters, C6
    at a fixed 50 %) from its stored cells."""
    ids = [str(r["id"]) for r in board.to_dict("records")]
    variants = {c: registry.claim(c).variants for c in ids if c in registry.CLAIMS}
    full = sensitivity({str(r["id"]): evidence(r) for r in board.to_dict("records")}, variants=variants)
    other = [c for c in full.columns if c.startswith(("unit:", "rate:"))]
    if other:
        full["another primary (C3 unit, C6 rate)"] = full[other].apply(
            lambda r: "; ".join(f"{k}: {v}" for k, v in r.items() if isinstance(v, str)) or "–", axis=1
        )
    else:
        full["another primary (C3 unit, C6 rate)"] = "–"
    shown = {
        "published": "published (×1, gate 0.03)",
        "margin ×0.5, gate 0.03": "margins ×0.5",
        "margin ×2, gate 0.03": "margins ×2",
        "margin ×1, gate 0.02": "gate 0.02",
        "margin ×1, gate 0.05": "gate 0.05",
        "Holm per claim": "Holm over the whole claim",
        "Holm per comparison": "Holm per comparison",
        "another primary (C3 unit, C6 rate)": "another primary (C3 unit, C6 rate)",
        "changes": "settings that change it",
    }
    assert f"margin ×1, gate {GATE:g}" in full.columns
    return full.set_index("claim")[list(shown)].rename(columns=shown)


def unclear_cells(board: pd.DataFrame) -> pd.DataFrame:
    """Every unclear cell of every claim (primary or also asked), with its difference and the number of paired tasks
    a decision would need at the observed mean and spread (a guide for a new, pre-registered run, never a reason to
    add seeds to this one); "n/a" where that number is undefined (a correlation over composites, a log-rank test),
    "more than 1000" where it is finite but larger."""
    rows = []
    for r in board.to_dict("records"):
        for c in r["evidence"] or []:
            if c.get("outcome") == "unclear":
                needed = c.get("tasks needed")
                over_composites = c.get("d") is None and (
                    c.get("scale") in ("fisher", "bootstrap") or str(c.get("value", "")).endswith(" r")
                )
                shown: str | int
                if needed is None or needed != needed:
                    shown = "n/a"
                elif needed > 1000:
                    shown = "more than 1000"
                else:
                    shown = int(needed)
                rows.append(
                    {
                        "claim": r["id"],
                        "role": c.get("role", "primary"),
                        "comparison": c.get("comparison"),
                        "model / kind": f"{c.get('model')} / {c.get('kind')}",
                        "difference": c.get("difference"),
                        "n now": f"{c.get('n')} {'composites' if over_composites else 'tasks'}",
                        "tasks for a decision": shown,
                    }
                )
    return pd.DataFrame(
        rows,
        columns=["claim", "role", "comparison", "model / kind", "difference", "n now", "tasks for a decision"],
    )


def primaries_markdown() -> str:
    """The method page's table of every claim's primary comparison and why, and what is also asked, generated
    from :mod:`pbe_utils.registry` (written to ``book/_primaries.md``; a test checks it is current)."""
    lines = [
        "```{table} Every claim's primary comparison (which decides its label), in the claim's unit, why it is the "
        "primary, and what is also asked.",
        ":name: table-primaries",
        "",
        "| claim | unit | primary comparison (the label) | why | also asked |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in registry.CLAIMS.values():
        tag = " (exploratory)" if c.exploratory else ""
        lines.append(
            f"| {md_escape(c.id)}{tag}: {md_escape(c.statement)} | {md_escape(c.unit)} | "
            f"{md_escape('; '.join(c.primary))} | {md_escape(c.why_primary)} | "
            f"{md_escape('; '.join(c.secondary)) or '–'} |"
        )
    return "\n".join([*lines, "```"]) + "\n"
