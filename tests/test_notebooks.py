"""Every chapter executes with the smoke profile (papermill, parameters injected), and the scoreboard it feeds
has one row per claim."""

import json
import os
from pathlib import Path

import nbformat
import pytest

from pbe_utils.run import main as run_main
from pbe_utils.run import toc_notebooks

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = {"C1", "C2", "C2b", "C3", "C3b", "C4", "C5", "C6", "B1", "B2", "B3"}


def _errors(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    status = run_main(["--profile", "smoke", "--out", str(out), "--quiet"])
    return status, out


@pytest.mark.slow
def test_every_chapter_runs_with_the_smoke_profile(smoke_book):
    status, out = smoke_book
    assert status == 0
    for src in toc_notebooks():
        nb = nbformat.read(out / src.with_suffix(".ipynb").name, as_version=4)
        assert nb.metadata.papermill.parameters["profile"] == "smoke"
        assert not _errors(nb), src.name


@pytest.mark.slow
def test_scoreboard_has_one_row_per_claim(smoke_book):
    _, out = smoke_book
    records = [json.loads(p.read_text()) for p in (Path(os.environ["PBE_RESULTS"]) / "claims").glob("*.json")]
    assert {r["id"] for r in records if r["profile"] == "smoke"} == CLAIMS
    assert all(r["holds"] in (True, False, None) and r["ours"] for r in records)
    board = nbformat.read(out / "99_scoreboard.ipynb", as_version=4)
    html = "".join(
        o.get("data", {}).get("text/html", "")
        for c in board.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert all(f"<td><b>{cid}</b></td>" in html for cid in CLAIMS)  # one row per claim in the designed table
