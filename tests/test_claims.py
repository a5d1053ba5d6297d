"""Claim records: one folder per run (a re-run with other parameters never replaces the published records), the
headline and the matrix generated from them (escaped, one cell per claim and model), the sensitivity table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pbe_utils import claims, scoreboard, verdicts
from pbe_utils.profiles import get_profile


def _cells(diffs: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    rows = []
    for (model, kind), ds in diffs.items():
        for s, d in enumerate(ds):
            rows.append({"model": model, "kind": kind, "seed": s, "method": "a", "A_PR": 0.6 + d + 0.001 * (s % 3)})
            rows.append({"model": model, "kind": kind, "seed": s, "method": "b", "A_PR": 0.6 + 0.001 * (s % 3)})
            rows.append({"model": model, "kind": kind, "seed": s, "method": "random", "A_PR": 0.3})
    return verdicts.compare(pd.DataFrame(rows), "a", "b")


WIN = list(0.05 + 0.004 * np.sin(np.arange(10)))
TIE = list(0.001 * np.cos(np.arange(10)))


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("PBE_RESULTS", str(tmp_path))
    return tmp_path


def _write(profile, cid="C9", claim="Ranking by |R| (MAG) *beats* signed_R", diffs=None):
    v = verdicts.judge(_cells(diffs or {("vgg", "conv"): WIN, ("vit", "neurons"): TIE}))
    return claims.record(cid, "02", claim, "paper | text", "ours", v, profile)


def test_records_go_to_the_run_of_their_parameters(results):
    default = get_profile("default")
    assert claims.run_id(default) == "default"
    other = get_profile("default", seeds=[0, 1, 2])
    assert claims.run_id(other).startswith("default-") and claims.run_id(other) != "default"
    assert claims.run_id(get_profile("default", seeds=[0, 1, 2])) == claims.run_id(other)  # stable
    pub = _write(default)
    mine = _write(other, diffs={("vgg", "conv"): TIE, ("vit", "neurons"): TIE})
    assert (results / "runs" / "default" / "claims" / "C9.json").exists()
    assert (results / "runs" / claims.run_id(other) / "claims" / "C9.json").exists()
    # the published record is untouched by the re-run
    assert json.loads((results / "runs" / "default" / "claims" / "C9.json").read_text())["verdict"] == pub["verdict"]
    assert mine["parameters"]["seeds"] == [0, 1, 2] and pub["parameters"]["seeds"] == list(range(10))
    assert pub["zoo"] and all(len(h) == 16 for h in pub["zoo"].values())
    board = claims.load_all()
    assert list(board["run"]) == ["default"]
    side = claims.side_by_side(claims.run_id(other))
    row = side.iloc[0]
    assert row[f"verdict ({claims.run_id(other)})"] == "does not hold" and row["verdict (default)"] == "holds in part"
    assert not row["same"] and "seeds=[0, 1, 2]" in row["parameters that differ"]


def test_headline_is_escaped_and_renders_one_row_per_claim(results):
    from markdown_it import MarkdownIt

    _write(get_profile("default"))
    _write(get_profile("default"), cid="C8", claim="Plain claim")
    board = claims.load_all()
    text = scoreboard.headline_markdown(board, "default")
    table = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    html = MarkdownIt("commonmark").enable("table").render(table)
    body = html.split("<tbody>")[1]
    rows = body.split("<tr>")[1:]
    assert len(rows) == 2
    for r in rows:
        assert r.count("<td>") == 4  # claim, verdict, comparisons, chapter: no cell split by a "|"
    assert "|R|" in html and "*beats*" in html and "signed_R" in html  # shown literally, not as Markdown
    assert "Of 2 claims of the paper: 2 hold in part" in text


def test_matrix_has_one_cell_per_claim_and_model(results):
    _write(get_profile("default"))
    _write(get_profile("default"), cid="C8", diffs={("vgg", "conv"): WIN, ("resnet", "conv"): WIN})
    board = claims.load_all()
    cols = scoreboard.matrix_columns(board)
    assert cols == [("vgg", "conv"), ("resnet", "conv"), ("vit", "neurons")]  # order of first appearance (C8, C9)
    html = scoreboard.matrix_html(board)
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    rows = body.split("<tr>")[1:]
    assert len(rows) == 2 and all(r.count("<td") == 3 for r in rows)
    assert 'class="m-win"' in html and 'class="m-tie"' in html and 'class="m-none"' in html


def test_sensitivity_table_from_records(results):
    borderline = list(0.012 + 0.0005 * np.sin(np.arange(10)))
    _write(get_profile("default"), diffs={("vgg", "conv"): borderline})
    table = scoreboard.sensitivity_table(claims.load_all())
    row = table.loc["C9"]
    assert row["published (×1, gate 0.03)"] == "holds" and row["margins ×2"] == "does not hold"
    assert "margin ×2, gate 0.03" in row["settings that change it (of 9)"]
