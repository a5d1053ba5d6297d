"""The scoreboard generated from claim records: the headline escaped and rendered one row per claim, the matrix one
cell per claim and model, the sensitivity table re-deciding from the stored differences."""

from __future__ import annotations

import numpy as np
from conftest import WIN, write_claim

from pbe_utils import claims, scoreboard
from pbe_utils.profiles import get_profile


def test_headline_is_escaped_and_renders_one_row_per_claim(results):
    from markdown_it import MarkdownIt

    write_claim(get_profile("default"))
    write_claim(get_profile("default"), cid="C1")
    board = claims.load_all()
    text = scoreboard.headline_markdown(board, "default")
    table = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    html = MarkdownIt("commonmark").enable("table").render(table)
    body = html.split("<tbody>")[1]
    rows = body.split("<tr>")[1:]
    assert len(rows) == 2
    for r in rows:
        assert r.count("<td>") == 6  # claim, label, confirmation, primary, also asked, chapter: no cell split by "|"
    assert "|R|" in html and "(MAG)" in html  # shown literally, not as Markdown
    assert "Of 2 claims of the paper: 2 hold in part" in text
    assert "1 of 2 cells" in text  # the label's share of supporting cells


def test_matrix_has_one_cell_per_claim_and_model(results):
    write_claim(get_profile("default"))
    write_claim(get_profile("default"), cid="C1", diffs={("vgg", "conv"): WIN, ("resnet", "conv"): WIN})
    board = claims.load_all()
    cols = scoreboard.matrix_columns(board)
    assert cols == [("vgg", "conv"), ("resnet", "conv"), ("vit", "neurons")]  # order of first appearance (C1, C2b)
    html = scoreboard.matrix_html(board)
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    rows = body.split("<tr>")[1:]
    assert len(rows) == 2 and all(r.count("<td") == 3 for r in rows)
    assert 'class="m-win"' in html and 'class="m-tie"' in html and 'class="m-none"' in html


def test_sensitivity_table_from_records(results):
    borderline = list(0.012 + 0.0005 * np.sin(np.arange(10)))
    write_claim(get_profile("default"), diffs={("vgg", "conv"): borderline})
    table = scoreboard.sensitivity_table(claims.load_all())
    row = table.loc["C2b"]
    assert row["published (×1, gate 0.03)"] == "holds" and row["margins ×2"] == "does not hold"
    assert "margin ×2, gate 0.03" in row["settings that change it"]
    assert row["Holm per comparison"] == "holds"


def test_unclear_cells_say_how_many_seeds_a_decision_would_need(results):
    noisy = list(0.005 + 0.04 * np.sin(1.7 * np.arange(10)))  # a small mean in a large spread: unclear
    write_claim(get_profile("default"), diffs={("vgg", "conv"): noisy})
    table = scoreboard.unclear_cells(claims.load_all())
    assert list(table["claim"]) == ["C2b"] and table["n now"].iloc[0] == "10 tasks"
    needed = table["tasks for a decision"].iloc[0]
    from pbe_utils.verdicts import MARGIN, tasks_needed

    expected = tasks_needed(float(np.mean(noisy)), float(np.std(noisy, ddof=1)), MARGIN)  # the same planning rule
    assert 10 < expected and needed == ("more than 1000" if expected > 1000 else int(expected)), (needed, expected)
