"""Claim records: one folder per run (a re-run with other parameters never replaces the published records), the
headline and the matrix generated from them (escaped, one cell per claim and model), the sensitivity table."""

from __future__ import annotations

import json

from conftest import TIE, write_claim

from pbe_utils import claims
from pbe_utils.profiles import get_profile


def test_records_go_to_the_run_of_their_parameters(results):
    default = get_profile("default")
    assert claims.run_id(default) == "default"
    other = get_profile("default", seeds=[0, 1, 2])
    assert claims.run_id(other).startswith("default-") and claims.run_id(other) != "default"
    assert claims.run_id(get_profile("default", seeds=[0, 1, 2])) == claims.run_id(other)  # stable
    pub = write_claim(default)
    mine = write_claim(other, diffs={("vgg", "conv"): TIE, ("vit", "neurons"): TIE})
    assert (results / "runs" / "default" / "claims" / "C2b.json").exists()
    assert (results / "runs" / claims.run_id(other) / "claims" / "C2b.json").exists()
    # the published record is untouched by the re-run
    assert json.loads((results / "runs" / "default" / "claims" / "C2b.json").read_text())["verdict"] == pub["verdict"]
    assert mine["parameters"]["seeds"] == [0, 1, 2] and pub["parameters"]["seeds"] == list(range(10))
    assert pub["zoo"] and all(len(h) == 16 for h in pub["zoo"].values())
    board = claims.load_all()
    assert list(board["run"]) == ["default"]
    side = claims.side_by_side(claims.run_id(other))
    row = side.iloc[0]
    assert row[f"verdict ({claims.run_id(other)})"] == "does not hold" and row["verdict (default)"] == "holds in part"
    assert not row["same"] and "seeds=[0, 1, 2]" in row["parameters that differ"]
