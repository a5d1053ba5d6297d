"""The confirmation run (book/confirmation): the plan came first and lists every unclear primary cell, its seeds are
fresh, every recipe recomputes the published cells, the records decide as the rules say and recompute, and the
book shows what they hold."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import subprocess

import pandas as pd
import pytest

from pbe_utils import claims, confirm, confirmation, scoreboard
from pbe_utils.composites import Composite
from pbe_utils.profiles import get_profile

PLAN = confirmation.load_plan()
RECORDS = confirmation.load_records()
PUBLISHED = {p.stem: json.loads(p.read_text()) for p in claims.SHIPPED.glob("*.json")}


def _key(claim: str, c: dict) -> tuple:
    return claim, c["comparison"], c["model"], c["kind"]


def test_the_plan_came_first_and_every_record_names_it():
    assert RECORDS, "no confirmation record ships with the book"
    if confirm.git("rev-parse", "--is-shallow-repository") == "true":
        pytest.skip("a shallow clone has no history to check the plan's commit against")
    plan_commit = confirm.git("log", "-1", "--format=%H", "--", str(confirmation.PLAN.relative_to(confirm.ROOT)))
    assert plan_commit, "the plan is not committed"
    want = sorted({c["claim"] for c in PLAN["cells"] if c["status"] == "planned"})
    assert sorted(RECORDS) == want
    sha = hashlib.sha256(confirmation.PLAN.read_bytes()).hexdigest()[:16]
    for cid, rec in RECORDS.items():
        # the plan's last commit is the one the record names (abbreviations differ between clones: a prefix)
        assert plan_commit.startswith(rec["plan commit"]) and rec["plan sha256"] == sha, cid
        # the commit that ran the confirmation contains the plan's last change (the plan came first)
        ok = subprocess.run(["git", "merge-base", "--is-ancestor", plan_commit, rec["commit"]], cwd=confirm.ROOT)
        assert ok.returncode == 0, (cid, plan_commit, rec["commit"])
        planned = confirm.git("log", "-1", "--format=%cI", plan_commit)
        assert planned and pd.Timestamp(planned) <= pd.Timestamp(rec["started"]), (cid, planned, rec["started"])


def test_the_plan_lists_every_unclear_primary_cell_with_its_tasks():
    unclear = sorted(
        _key(cid, c)
        for cid, r in PUBLISHED.items()
        for c in r["evidence"]
        if c.get("role") == "primary" and c.get("outcome") == "unclear"
    )
    assert sorted(_key(c["claim"], c) for c in PLAN["cells"]) == unclear
    cap = PLAN["rules"]["cap"]
    for c in PLAN["cells"]:
        needed = c["tasks needed"]
        if c["status"] == "planned":
            assert c["comparison"] in confirm.RECIPES
            assert c["tasks"] == max(int(needed), c["published n"]) <= cap, c
        else:
            assert c["tasks"] is None and c["status"].startswith("not confirmable here"), c
            assert c["comparison"] not in confirm.RECIPES or needed is None or needed > cap, c


def test_the_confirmation_uses_only_fresh_seeds():
    seeds = PLAN["seeds"]
    assert len(set(seeds)) == len(seeds) == PLAN["rules"]["cap"]
    assert not set(seeds) & confirm.used_seeds()
    planned = {_key(c["claim"], c): c["tasks"] for c in PLAN["cells"] if c["status"] == "planned"}
    for cid, rec in RECORDS.items():
        assert not set(rec.get("seeds", [])) & confirm.used_seeds()
        for cell in rec["cells"]:
            assert cell["seeds"] == seeds[: planned[_key(cid, cell)]], _key(cid, cell)
            assert cell["n"] == len(cell["seeds"])


def test_the_records_decide_and_label_as_the_rules_say():
    for cid, rec in RECORDS.items():
        raw = pd.DataFrame(rec["cells"]).drop(columns=[c for c in confirm._DECISION if c in rec["cells"][0]])
        again = confirm.decide_claim(cid, raw)["cells"]
        assert [c["outcome"] for c in again] == [c["outcome"] for c in rec["cells"]], cid
        v = confirmation.combined_label(PUBLISHED[cid], rec["cells"])
        assert rec["confirmation"]["verdict"] == v.text and rec["confirmation"]["support"] == list(v.support), cid
        assert rec["published"]["verdict"] == PUBLISHED[cid]["verdict"]
        assert rec["agree"] == (v.text == PUBLISHED[cid]["verdict"])


@pytest.mark.slow
def test_every_recipe_reproduces_the_published_cell_on_a_published_task():
    """Each planned cell's recipe, run on the published run's first task (seed 0), gives the per-task difference the
    published record holds for that task: the confirmation computes what the chapters computed."""
    for cell in (c for c in PLAN["cells"] if c["status"] == "planned"):
        key = f"{cell['model']} / {cell['kind']}"
        opt = Composite.from_params(PLAN["composites"][key]) if key in PLAN["composites"] else None
        got = confirm.RECIPES[cell["comparison"]](get_profile("default", seeds=[0]), cell["model"], cell["kind"], opt)
        mine = got[(got["model"] == cell["model"]) & (got["kind"] == cell["kind"])]
        same = mine[mine["comparison"] == cell["comparison"]]
        mine = same if len(same) else mine
        pub = next(c for c in PUBLISHED[cell["claim"]]["evidence"] if _key(cell["claim"], c) == _key(cell["claim"],
                   cell))  # fmt: skip
        assert len(mine) == 1 and math.isclose(mine["d"].iloc[0][0], pub["d"][0], abs_tol=1e-9), key


@pytest.mark.slow
def test_a_confirmation_cell_is_recomputed_from_scratch():
    """The C2b cell on vit_timm neurons, recomputed on its first two fresh tasks, gives the record's differences."""
    rec = next(c for c in RECORDS["C2b"]["cells"] if (c["model"], c["kind"]) == ("vit_timm", "neurons"))
    opt = Composite.from_params(PLAN["composites"]["vit_timm / neurons"])
    recipe = confirm.RECIPES["optimised (|R|) vs optimised (signed)"]
    got = recipe(get_profile("default", seeds=rec["seeds"][:2]), "vit_timm", "neurons", opt)
    assert got["d"].iloc[0] == pytest.approx(rec["d"][:2], abs=1e-9)


def test_the_run_refuses_an_uncommitted_plan_and_ship_an_incomplete_run(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(confirm, "plan_commit", lambda plan=None: "")
    assert confirm.main(["run"]) == 2
    assert "commit the plan before the run" in capsys.readouterr().err
    monkeypatch.setenv("PBE_RESULTS", str(tmp_path))
    with pytest.raises(ValueError, match="run it in full first"):
        confirm.ship()
    assert confirm.main(["plan", "--cap", "2"]) == 2 and "--cap=2 is not accepted" in capsys.readouterr().err


def test_the_plan_rule_on_planted_records(monkeypatch, tmp_path):
    """A cell needing 5 tasks gets the published 10; one needing 150 is not confirmable under a cap of 100; a
    decided cell is not planned."""
    for cid, r in PUBLISHED.items():
        (tmp_path / f"{cid}.json").write_text(json.dumps(r))
    r = json.loads((tmp_path / "C1.json").read_text())
    prim = [c for c in r["evidence"] if c["role"] == "primary"]
    prim[0].update(outcome="unclear", **{"tasks needed": 5.0})
    prim[1].update(outcome="unclear", **{"tasks needed": 150.0})
    for c in prim[2:]:
        c["outcome"] = "win"
    (tmp_path / "C1.json").write_text(json.dumps(r))
    monkeypatch.setattr(claims, "SHIPPED", tmp_path)
    monkeypatch.setattr(confirm, "_published_optimised", lambda model, kind: {"planted": True})
    plan = confirm.make_plan(cap=100)
    c1 = [c for c in plan["cells"] if c["claim"] == "C1"]
    assert [(c["model"], c["tasks"]) for c in c1] == [(prim[0]["model"], 10), (prim[1]["model"], None)]
    assert "needs 150 tasks, above the cap of 100" in c1[1]["status"]


def test_the_scoreboard_and_the_intro_show_both_labels():
    board = claims.load_all()
    lab = confirmation.labels(board)
    assert len(lab) == len(board) and set(lab["id"]) == set(board["id"])
    for cid, rec in RECORDS.items():
        row = lab[lab["id"] == cid].iloc[0]
        assert row["confirmation"] == rec["confirmation"]["verdict"] and row["confirmed cells"] == len(rec["cells"])
    board = confirmation.attach(board)
    head = (confirm.ROOT / "book" / "_headline.md").read_text()
    assert head == scoreboard.headline_markdown(board, claims.PUBLISHED_RUN)
    assert scoreboard.confirmation_sentence(board) in head
    page = (confirm.ROOT / "book" / "_confirmation.md").read_text()
    assert page == confirmation.page_markdown(board)
    # the README copies the headline's counts, its sentence on the confirmation and its table (scripts/sync_readme.py)
    spec = importlib.util.spec_from_file_location("sync_readme", confirm.ROOT / "scripts" / "sync_readme.py")
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    block = sync.readme_block(head)
    assert scoreboard.confirmation_sentence(board).split(" (see")[0] in block
    assert sum(x.startswith(("| C", "| B")) for x in block.splitlines()) == len(board)
    assert block in (confirm.ROOT / "README.md").read_text()
