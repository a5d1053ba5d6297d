"""The claims registry and the label rule: a claim's text lives in one module, its label is its primary
comparison's verdict, secondaries never change it, cells that cannot carry evidence are set aside with the reason,
and no shown interval contradicts its outcome (on planted cells and on every shipped record)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pbe_utils import claims, registry, scoreboard, verdicts

ROOT = Path(__file__).resolve().parent.parent


def frame(diffs: dict[str, list[float]], a: str = "a", b: str = "b", random: float | None = 0.3) -> pd.DataFrame:
    rows = []
    for model, ds in diffs.items():
        for s, d in enumerate(ds):
            jit = 0.001 * (s % 3)
            rows.append({"model": model, "kind": "conv", "seed": s, "method": a, "A_PR": 0.6 + d + jit})
            rows.append({"model": model, "kind": "conv", "seed": s, "method": b, "A_PR": 0.6 + jit})
            if random is not None:
                rows.append({"model": model, "kind": "conv", "seed": s, "method": "random", "A_PR": random})
    return pd.DataFrame(rows)


RNG = np.random.default_rng(1)
WIN = list(0.05 + 0.005 * RNG.standard_normal(10))
LOSS = [-v for v in WIN]
TIE = list(0.001 + 0.002 * RNG.standard_normal(10))


# ------------------------------------------------------------------------------------------------- the registry
def test_no_notebook_or_scoreboard_types_a_claim_text():
    """The registry is the only place a claim's statement (or the paper's reported result) is written."""
    sources = [*sorted((ROOT / "notebooks").glob("*.py")), ROOT / "pbe_utils" / "scoreboard.py"]
    sources += sorted((ROOT / "pbe_utils" / "chapters").glob("*.py"))
    for c in registry.CLAIMS.values():
        for text in (c.statement, c.paper_result):
            probe = text[:60]
            for src in sources:
                assert probe not in src.read_text(), f"{src.name} types the text of {c.id}: {probe!r}"


def test_registry_names_every_claim_once_with_its_primary():
    assert list(registry.CLAIMS) == list(registry.ORDER) and len(registry.ORDER) == 11
    for c in registry.CLAIMS.values():
        assert c.primary and c.why_primary and c.statement and c.chapter
        assert not set(c.primary) & set(c.secondary)
    assert registry.claim("C3").primary == ("ViT vs CNN: Top-PR (components)",)
    assert registry.claim("C2b").primary == ("optimised (|R|) vs optimised (signed)",)
    with pytest.raises(ValueError, match="claim_id='C99' is not accepted"):
        registry.claim("C99")


# ---------------------------------------------------------------------------------------------- the label rule
def test_label_is_the_primary_comparisons_verdict_and_secondaries_never_change_it():
    prim = verdicts.compare(frame({"m1": WIN, "m2": WIN}), "a", "b")
    lost = verdicts.compare(frame({"m1": LOSS}, a="c", b="b"), "c", "b")
    v = verdicts.judge(prim, lost, primary=["a vs b"])
    assert v.text == "holds" and v.share == "2 of 2 cells" and v.label == "holds: 2 of 2 cells"
    assert [c.role for c in v.comparisons] == ["primary", "also asked"]
    assert v.also_asked[0].verdict == "does not hold" and "also asked: c vs b: does not hold" in v.reason
    # the other way round, the loss decides
    assert verdicts.judge(prim, lost, primary=["c vs b"]).text == "does not hold"
    # every comparison primary (no registry): the old rule, any failing comparison sinks the claim
    assert verdicts.judge(prim, lost).text == "does not hold"
    with pytest.raises(ValueError, match="names no comparison"):
        verdicts.judge(prim, primary=["x vs y"])


def test_secondaries_do_not_weaken_the_primary_holm_family():
    """Primary: a win at p = 0.01 beside an unclear cell (no intersection-union test); in its own family of 2 the
    win survives Holm, in one family with ten also-asked cells it does not."""
    one = pd.DataFrame(
        [{"model": m, "kind": "k", "a": "x", "b": "y", "comparison": "x vs y", "goal": "win", "value": "A_PR",
          "margin": 0.0, "gap": np.nan, "identical": False, "d": None, "n": 10, "difference": 0.1, "SE": np.nan,
          "sd": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_win": p, "p_loss": 1 - p, "p_tie": 1.0}
         for m, p in (("m", 0.01), ("n", 0.5))]
    )  # fmt: skip
    others = pd.concat([one.iloc[[1]].assign(model=f"o{i}", comparison="z vs y") for i in range(10)])
    assert verdicts.judge(one, others, primary=["x vs y"]).text == "holds in part"
    assert verdicts.judge(one, others, primary=["x vs y"], family="claim").text == "undecided"


def test_set_aside_cells_carry_their_reason_and_do_not_count():
    cells = verdicts.compare(frame({"m1": WIN, "m2": LOSS}), "a", "b")
    cells["aside"] = ["", "nothing to transfer"]
    v = verdicts.judge(cells)
    assert v.text == "holds" and v.share == "1 of 1 cell"
    assert "1 nothing to transfer" in v.reason


# ---------------------------------------------------------------------------------- intervals agree with labels
def agrees(r: dict) -> bool:
    """The shown interval (lo, hi) says what the outcome says."""
    lo, hi, thr = r["lo"], r["hi"], r.get("threshold")
    thr = 0.0 if thr is None or thr != thr else float(thr)
    margin = float(r.get("margin") or 0.0)
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return True  # no interval shown (a log-rank cell)
    o = r["outcome"]
    if o == "win":
        return lo > thr
    if o == "loss":
        return hi < thr
    if o == "tie":
        return -margin < lo - thr and hi - thr < margin
    if o == "unclear":
        return lo <= thr <= hi and not (-margin < lo - thr and hi - thr < margin and margin > 0)
    return True


def test_a_holm_decided_unclear_cell_shows_an_interval_that_includes_zero():
    """The review's example: a raw 90 % interval above 0 whose Holm-adjusted p is above 0.05 is unclear; the interval
    shown with it must not lie above 0."""
    rng = np.random.default_rng(3)
    close = list(0.012 + 0.02 * rng.standard_normal(10))
    cells = verdicts.compare(frame({"m1": close, "m2": list(0.003 + 0.05 * rng.standard_normal(10))}), "a", "b")
    cells = verdicts.judge(cells).cells
    for r in cells.to_dict("records"):
        assert agrees(r), r
    r = cells.iloc[0]
    if r["outcome"] == "unclear" and r["ci_low"] > 0:  # raw interval above 0, label unclear
        assert r["lo"] <= 0 < r["ci_low"]


@pytest.mark.parametrize("seed", range(12))
def test_intervals_agree_with_outcomes_on_random_claims(seed):
    rng = np.random.default_rng(seed)
    diffs = {f"m{i}": list(rng.normal(rng.choice([0.0, 0.01, 0.02, -0.015]), 0.02, 10)) for i in range(5)}
    v = verdicts.judge(verdicts.compare(frame(diffs), "a", "b"))
    for r in v.cells.to_dict("records"):
        assert agrees(r), r


def test_bootstrap_correlation_interval_agrees_with_its_outcome():
    rng = np.random.default_rng(0)
    y = np.linspace(0, 1, 16)
    strong = y[:, None] + 0.2 * rng.standard_normal((16, 40))
    noise = rng.standard_normal((16, 40))
    cells = pd.DataFrame(
        [
            verdicts.bootstrap_correlation_cell(strong, y, label="f ~ A", model="a", kind="k"),
            verdicts.bootstrap_correlation_cell(noise, y, label="f ~ A", model="b", kind="k"),
        ]
    )
    out = verdicts.judge(cells).cells
    assert out.iloc[0]["outcome"] == "win" and out.iloc[1]["outcome"] in ("unclear", "loss")
    for r in out.to_dict("records"):
        assert agrees(r), r


SHIPPED = sorted((ROOT / "book" / "data" / "claims").glob("*.json"))


@pytest.mark.skipif(not SHIPPED, reason="no claim records shipped with the book")
def test_no_shipped_interval_contradicts_its_label():
    for p in SHIPPED:
        entry = json.loads(p.read_text())
        for r in entry["evidence"]:
            assert agrees(r), (p.name, r.get("comparison"), r.get("model"), r.get("kind"))
        # the label is the verdict of the primary comparisons, recomputed from the stored cells
        again = verdicts.judge(claims.evidence(entry), decided=True)
        assert again.text == entry["verdict"], p.name
        assert [c.comparison for c in again.primary] == entry["primary"]


@pytest.mark.skipif(not SHIPPED, reason="no claim records shipped with the book")
def test_shipped_records_are_complete_and_name_the_registry_primaries():
    board = claims.load_all(folder=SHIPPED[0].parent)
    assert claims.missing_claims(board) == []
    for r in board.to_dict("records"):
        assert r["claim"] == registry.claim(r["id"]).statement
        assert tuple(r["primary"]) == registry.claim(r["id"]).primary, r["id"]


def test_unclear_cells_say_n_a_where_no_number_of_tasks_exists():
    cell = verdicts.correlation_cell(np.arange(8.0), np.r_[np.arange(7.0), -3.0], label="f ~ A", model="m", kind="k")
    board = pd.DataFrame([{"id": "B1", "evidence": [{**cell, "outcome": "unclear", "tasks needed": None}]}])
    table = scoreboard.unclear_cells(board)
    assert table["tasks for a decision"].iloc[0] == "n/a" and table["n now"].iloc[0] == "8 composites"


def test_only_a_complete_run_ships_its_records(results, monkeypatch, tmp_path):
    from conftest import write_claim

    from pbe_utils.profiles import get_profile

    monkeypatch.setattr(claims, "SHIPPED", tmp_path / "shipped")
    write_claim(get_profile("default"))
    with pytest.raises(ValueError, match=r"has no record for \['C1'"):
        claims.ship_records("default")
    assert not (tmp_path / "shipped").exists()


def test_readme_and_intro_quote_no_claim_text_that_the_registry_does_not_hold():
    head = (ROOT / "book" / "_headline.md").read_text()
    for cid, text in re.findall(r"^\| (C\d+b?|B\d): (?:\(exploratory\) )?(.+?) \| <span", head, re.M):
        assert text.replace("\\", "") == registry.claim(cid).statement, cid


# ------------------------------------------------------------------------- cells set aside by a chapter, planted
def test_b2_sets_aside_sources_without_a_gain_at_home():
    from pbe_utils.chapters.c10_transfer import away_from_home

    parts = []
    for source, home_diff in (("gains", WIN), ("ties", TIE)):
        for target, home in ((source, True), ("other", False)):
            c = verdicts.compare(
                frame({target: WIN}, a=f"optimised on {source}", b="LRP-ε"), f"optimised on {source}", "LRP-ε"
            )
            if home:
                c = verdicts.compare(
                    frame({target: home_diff}, a=f"optimised on {source}", b="LRP-ε"), f"optimised on {source}", "LRP-ε"
                )
            parts.append(c.assign(target=target, task_size=3, source=source, home=home))
    off, home = away_from_home(pd.concat(parts, ignore_index=True))
    assert dict(zip(home["source"], home["outcome"], strict=True)) == {"gains": "win", "ties": "tie"}
    assert dict(zip(off["source"], off["aside"], strict=True)) == {"gains": "", "ties": "nothing to transfer"}
    v = verdicts.judge(off, primary=registry.claim("B2").primary)
    assert v.text == "holds" and v.share == "1 of 1 cell" and "1 nothing to transfer" in v.reason


def test_b3_arms_draw_from_independent_seed_streams_and_shared_starts_are_set_aside():
    from pbe_utils.chapters.c08_search_cost import ARM_OFFSET, arm_seed, shared_start
    from pbe_utils.composites import space_for
    from pbe_utils.replay import replay

    assert len({arm_seed(s, 0) for s in ARM_OFFSET}) == len(ARM_OFFSET)
    space = space_for("cnn")
    import itertools

    values = {}
    keys = list(space)
    for combo in itertools.product(*(space[k] for k in keys)):
        from pbe_utils.composites import params_key

        values[params_key(dict(zip(keys, combo, strict=True)))] = float(len(values) % 7)
    same = [replay(values, space, s, 0, 4, start_from_heuristics=False)["value"].tolist() for s in ("tpe", "random")]
    assert same[0] == same[1]  # one seed: TPE's random start repeats random sampling's proposals
    apart = [
        replay(values, space, s, arm_seed(s, 0), 4, start_from_heuristics=False)["value"].tolist()
        for s in ("tpe", "random")
    ]
    assert apart[0] != apart[1]
    early = pd.DataFrame(
        {
            "method": ["random sampling"] * 4 + ["TPE"] * 4,
            "evaluations": [1, 2, 3, 9, 2, 1, 4, 30],
            "censored": [False] * 8,
        }
    )
    assert shared_start(early, "TPE") == "within the random start"
    late = early.assign(evaluations=[12, 20, 30, 9, 22, 15, 40, 30])
    assert shared_start(late, "TPE") == ""


def test_the_method_pages_table_of_primaries_is_generated_from_the_registry():
    assert (ROOT / "book" / "_primaries.md").read_text() == scoreboard.primaries_markdown()
    assert "{include} _primaries.md" in (ROOT / "book" / "method.md").read_text()


# ------------------------------------------------------------------------- closing sections quote computed numbers
CLOSING = {"01": "C1", "02": "C2", "03": "C3", "04": "C4", "05": "C6", "06": "C5", "08": "B3", "09": "B1", "10": "B2"}


def closing_sections(text: str) -> str:
    """The Markdown of a notebook's "How this compares with the paper" and "What this means" sections."""
    out, keep = [], False
    for line in text.splitlines():
        if line.startswith("# ## "):
            keep = line[5:].strip() in ("How this compares with the paper", "What this means")
        elif line.startswith("# %%"):
            keep = False
        if keep:
            out.append(line)
    return "\n".join(out)


def glue_calls(src: str) -> list[tuple[str, str]]:
    """(claim id, the call's text) of every ``glue_claim("<id>", ...)`` call, parentheses matched."""
    out = []
    for m in re.finditer(r"glue_claim\(\"(\w+)\"", src):
        depth, i = 1, m.end()
        while depth and i < len(src):
            depth += {"(": 1, ")": -1}.get(src[i], 0)
            i += 1
        body = src[m.end() : i - 1]
        # keyword names at the call's own level (not inside nested calls)
        level, top = 0, []
        for ch in body:
            level += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
            top.append(ch if level == 0 else " ")
        out.append((m.group(1), "".join(top)))
    return out


@pytest.mark.parametrize("chapter", sorted(CLOSING))
def test_closing_sections_quote_only_glued_numbers(chapter):
    src = next((ROOT / "notebooks").glob(f"{chapter}_*.py")).read_text()
    text = closing_sections(src)
    assert "## What this means" in text
    if chapter <= "05":
        assert "## How this compares with the paper" in text
    names = re.findall(r"\{glue:(?:md|text)\}`([\w]+)", text)
    assert names, "a closing section glues nothing"
    cid = CLOSING[chapter]
    # every glued name is one glue_claim makes for this chapter's claims (a text key or a keyword number)
    calls = glue_calls(src)
    made = {f"{c}_{k}" for c, _ in calls for k in ("label", "share", "primary", "also", "evidence", "paper")}
    made |= {f"{c}_{k}" for c, kw in calls for k in re.findall(r"(\w+)=(?!=)", kw)}
    assert cid in {c for c, _ in calls}
    missing = [n for n in names if n not in made]
    assert not missing, f"glued names no glue_claim call makes: {missing}"
    # no number typed by hand: with glue roles and claim ids removed, the prose holds no digit
    bare = re.sub(r"\{glue:(?:md|text)\}`[^`]*`", "", text)
    bare = re.sub(r"\b[CB]\d+b?\b", "", bare)
    bare = re.sub(r"\{doc\}`[^`]*`", "", bare)
    assert not re.search(r"\d", bare), re.findall(r".{30}\d.{10}", bare)


@pytest.mark.parametrize("chapter", sorted(CLOSING))
def test_executed_chapters_carry_every_glued_name(chapter):
    import nbformat

    path = next((ROOT / "book").glob(f"{chapter}_*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    glued = {
        o.get("metadata", {}).get("scrapbook", {}).get("name")
        for c in nb.cells
        for o in c.get("outputs", [])
        if c.cell_type == "code"
    }
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    names = set(re.findall(r"\{glue:(?:md|text)\}`([\w]+)", md))
    assert names and names <= glued, f"{path.name}: not glued: {sorted(names - glued)}"
