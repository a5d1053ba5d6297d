"""The verdict module on planted frames: each situation gives the outcome and the claim verdict it must."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pbe_utils.verdicts import (
    above_threshold,
    censored_cells,
    combine,
    compare,
    correlation_cell,
    describe,
    discrimination_gate,
    holm,
    judge,
    sensitivity,
    tasks_needed,
)


def frame(diffs: dict[str, list[float]], base: float = 0.6, random: float | None = 0.3) -> pd.DataFrame:
    """Per model: method a = base + diff per seed, b = base, random = ``random``."""
    rows = []
    for model, ds in diffs.items():
        for s, d in enumerate(ds):
            jitter = 0.001 * (s % 3)
            rows.append({"model": model, "kind": "conv", "seed": s, "method": "a", "A_PR": base + d + jitter})
            rows.append({"model": model, "kind": "conv", "seed": s, "method": "b", "A_PR": base + jitter})
            if random is not None:
                rows.append({"model": model, "kind": "conv", "seed": s, "method": "random", "A_PR": random})
    return pd.DataFrame(rows)


def outcome(df, **kw) -> str:
    return compare(df, "a", "b", **kw).outcome.iloc[0]


RNG = np.random.default_rng(0)
WIN = list(0.05 + 0.005 * RNG.standard_normal(10))
LOSS = [-v for v in WIN]
TIE = list(0.001 + 0.002 * RNG.standard_normal(10))
NOISY = list(0.01 + 0.05 * RNG.standard_normal(10))


def test_clear_win_loss_tie_unclear():
    assert outcome(frame({"m": WIN})) == "win"
    assert outcome(frame({"m": LOSS})) == "loss"
    assert outcome(frame({"m": TIE})) == "tie"
    assert outcome(frame({"m": NOISY})) == "unclear"


def test_zero_variance_is_decided_by_the_margin_only():
    df = frame({"m": [0.004] * 6})
    df.loc[df.method == "b", "A_PR"] = 0.6
    df.loc[df.method == "a", "A_PR"] = 0.604
    r = compare(df, "a", "b").iloc[0]
    assert r.SE == 0 and r.outcome == "tie"  # a constant +0.004 is inside the margin: no win
    df.loc[df.method == "a", "A_PR"] = 0.65
    assert outcome(df) == "win"


def test_single_seed_and_gate():
    assert outcome(frame({"m": [0.2, 0.2]})) == "too few seeds"
    flat = frame({"m": [0.02, 0.021, 0.019, 0.02]}, base=0.6, random=0.6)
    assert not discrimination_gate(flat).discriminates.iloc[0]
    assert outcome(flat) == "not discriminating"
    assert judge(compare(flat, "a", "b")).text == "undecided"


def test_identical_by_construction_is_excluded():
    df = frame({"x": WIN, "y": [0.0] * 10})
    df.loc[(df.model == "y") & (df.method == "a"), "A_PR"] = df.loc[
        (df.model == "y") & (df.method == "b"), "A_PR"
    ].values
    cells = compare(df, "a", "b")
    assert list(cells.outcome) == ["win", "identical"]
    v = judge(cells)
    assert v.text == "holds" and "1 identical" in v.reason  # the identical cell neither helps nor hurts
    # with pruning-order fingerprints: equal orders on every seed make the cell identical, whatever the values
    df["order"] = np.where(df.model == "y", "same", df.method + df.seed.astype(str))
    assert list(compare(df, "a", "b").outcome) == ["win", "identical"]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"x": WIN, "y": WIN}, "holds"),
        ({"x": WIN, "y": TIE}, "holds in part"),
        ({"x": WIN, "y": NOISY}, "holds in part"),
        ({"x": WIN, "y": LOSS}, "does not hold"),
        ({"x": TIE, "y": TIE}, "does not hold"),
        ({"x": NOISY, "y": NOISY}, "undecided"),
    ],
)
def test_comparison_verdicts(cells, expected):
    assert judge(compare(frame(cells), "a", "b")).text == expected


def test_claim_verdict_from_comparisons():
    assert combine(["holds", "holds"]) == "holds"
    assert combine(["holds", "holds in part"]) == "holds in part"
    assert combine(["holds", "undecided"]) == "holds in part"
    assert combine(["holds", "does not hold"]) == "does not hold"
    assert combine(["undecided", "undecided"]) == "undecided"
    # C5's shape: three comparisons win everywhere, the fourth wins twice, ties once and is unclear once
    df = frame({"p": WIN, "q": WIN, "r": WIN, "s": WIN})
    parts = []
    for other, diffs in (("w", [WIN] * 4), ("t", [WIN, WIN, TIE, NOISY])):
        for m, d in zip("pqrs", diffs, strict=True):
            base = df[(df.model == m) & (df.method == "a")].copy()
            base["method"] = other
            base["A_PR"] = base["A_PR"].to_numpy() - np.asarray(d)  # a - other = d
            parts.append(base)
    full = pd.concat([df[df.method != "b"], *parts], ignore_index=True)
    v = judge(compare(full, "a", ["w", "t"]))
    assert v.text == "holds in part"
    counts = {c.comparison: (c.verdict, c.counts) for c in v.comparisons}
    assert counts["a vs w"] == ("holds", {"win": 4})
    assert counts["a vs t"][0] == "holds in part" and counts["a vs t"][1]["tie"] == 1


def test_intersection_union_needs_no_correction():
    """Five cells each at p = 0.03: the claim "every cell wins" holds (IUT), though Holm over 5 would not."""
    t = stats.t.isf(0.03, 9)
    z = RNG.standard_normal(10)
    d = (z - z.mean()) / z.std(ddof=1)  # mean 0, sd 1 exactly
    diffs = list(0.1 * (d + t / np.sqrt(10)))  # mean 0.1 t / sqrt(n), sd 0.1: p_win = 0.03, far from a tie
    cells = compare(frame({m: diffs for m in "abcde"}), "a", "b", margin=0.001)
    np.testing.assert_allclose(cells.p_win, 0.03, rtol=1e-6)
    assert (cells.p_win_holm > 0.05).all()
    v = judge(cells)
    assert v.text == "holds" and set(cells.outcome) == {"win"}
    assert set(cells["decided by"]) == {"intersection-union test"}


def test_holm_matches_a_worked_example():
    # Holm (1979) step-down on four p-values, worked by hand: 0.01*4, max(0.02*3, .04), max(0.03*2, .06), 0.04*1
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.02]), [0.04, 0.06, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert np.isnan(holm([np.nan, 0.01])[0])


def test_one_family_per_claim():
    """A loss in one comparison is corrected with every cell of the claim, not only its own comparison's."""
    weak_loss = list(-0.02 + 0.02 * RNG.standard_normal(10))
    a = compare(frame({"x": weak_loss}), "a", "b")
    together = judge(a, compare(frame({m: NOISY for m in "pqrstu"}), "a", "b"))
    assert together.cells.p_loss_holm.iloc[0] >= a.p_loss_holm.iloc[0]


def test_goal_tie():
    cells = compare(frame({"x": TIE, "y": TIE}), "a", "b", goal="tie")
    assert judge(cells).text == "holds"
    assert judge(compare(frame({"x": TIE, "y": WIN}), "a", "b", goal="tie")).text == "does not hold"


def test_above_threshold_and_correlation_cells():
    per_task = pd.DataFrame(
        {"model": "m", "kind": "conv", "seed": range(10), "r": 0.9 + 0.02 * RNG.standard_normal(10)}
    )
    cells = above_threshold(per_task, "r")
    assert cells.outcome.iloc[0] == "win" and 0.85 < cells.difference.iloc[0] < 0.95
    low = per_task.assign(r=0.05 + 0.02 * RNG.standard_normal(10))
    assert above_threshold(low, "r").outcome.iloc[0] == "loss"
    x = RNG.normal(size=40)
    strong = pd.DataFrame([correlation_cell(x, x + 0.3 * RNG.normal(size=40), model="m")])
    weak = pd.DataFrame([correlation_cell(x, -x + 0.3 * RNG.normal(size=40), model="m")])
    few = pd.DataFrame([correlation_cell(x[:6], x[:6] + 2 * RNG.normal(size=6), model="m")])
    assert judge(strong).text == "holds" and judge(weak).text == "does not hold" and judge(few).text == "undecided"
    flat = correlation_cell(x, np.ones(40), model="m")
    assert np.isnan(flat["difference"])


def test_censored_cells_log_rank():
    """One sampler strictly slower, with its slowest runs censored at the cap: a win for the claim."""
    rng = np.random.default_rng(3)
    slow = np.minimum(rng.integers(40, 120, size=20), 100)
    fast = rng.integers(5, 30, size=20)
    f = pd.DataFrame(
        {
            "method": ["random"] * 20 + ["TPE"] * 20,
            "evaluations": np.r_[slow, fast],
            "censored": np.r_[slow >= 100, [False] * 20],
        }
    ).assign(model="vgg", kind="grid")
    cells = censored_cells(f, "random", "TPE", "evaluations")
    assert cells.outcome.iloc[0] == "win" and cells.difference.iloc[0] > 0
    same = f.assign(method=["random"] * 20 + ["TPE"] * 20, evaluations=np.r_[fast, fast], censored=False)
    assert censored_cells(same, "random", "TPE", "evaluations").outcome.iloc[0] == "unclear"
    ones = f.assign(evaluations=1, censored=False)  # every run reaches the target at once: no variance at all
    cell = censored_cells(ones, "random", "TPE", "evaluations").iloc[0]
    assert cell.outcome == "unclear" and cell.p_win == 1.0 and cell.p_loss == 1.0


def test_sensitivity_recomputes_from_stored_differences():
    borderline = list(0.012 + 0.001 * RNG.standard_normal(10))  # a win beyond 0.01, a tie within 0.02
    cells = compare(frame({"x": borderline}), "a", "b")
    table = sensitivity({"C": cells})
    row = table.iloc[0]
    assert row["published"] == "holds"
    assert row["margin ×2, gate 0.03"] == "does not hold"  # now a tie: no win
    assert "margin ×2" in row["changes"]
    assert tasks_needed(0.01, 0.05, 0.01) > 10


def test_describe_and_interval_level():
    assert "x/conv: +0.05" in describe(compare(frame({"x": WIN}), "a", "b"))


@pytest.mark.parametrize("n", [3, 5, 20])
def test_interval_covers_a_planted_difference(n):
    rng = np.random.default_rng(n)
    hits = 0
    for _ in range(200):
        r = compare(frame({"m": list(0.02 + 0.01 * rng.standard_normal(n))}, random=None), "a", "b").iloc[0]
        hits += r.ci_low <= 0.02 <= r.ci_high
    assert 165 <= hits <= 195  # about 90 % coverage: the interval of the one-sided tests at 5 %
