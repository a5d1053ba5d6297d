"""The verdict function on synthetic frames: each situation gives the outcome it must."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pbe_utils.verdicts import claim_verdict, compare, describe, discrimination_gate, holm


def frame(diffs: dict[str, list[float]], base: float = 0.6, random: float | None = 0.3) -> pd.DataFrame:
    """Per model: method a = base + diff per seed, b = base, random = ``random``."""
    rows = []
    for model, ds in diffs.items():
        for s, d in enumerate(ds):
            rows.append({"model": model, "kind": "conv", "seed": s, "method": "a", "A_PR": base + d})
            rows.append({"model": model, "kind": "conv", "seed": s, "method": "b", "A_PR": base + 0.001 * (s % 3)})
            if random is not None:
                rows.append({"model": model, "kind": "conv", "seed": s, "method": "random", "A_PR": random})
    df = pd.DataFrame(rows)
    df.loc[df.method == "a", "A_PR"] += 0.001 * (df.loc[df.method == "a", "seed"] % 3)
    return df


def outcome(df, **kw) -> str:
    return compare(df, "a", "b", **kw).outcome.iloc[0]


def test_clear_win_loss_tie():
    rng = np.random.default_rng(0)
    assert outcome(frame({"m": list(0.05 + 0.005 * rng.standard_normal(10))})) == "win"
    assert outcome(frame({"m": list(-0.05 + 0.005 * rng.standard_normal(10))})) == "loss"
    assert outcome(frame({"m": list(0.001 + 0.002 * rng.standard_normal(10))})) == "tie"
    assert outcome(frame({"m": list(0.01 + 0.05 * rng.standard_normal(10))})) == "unclear"


def test_zero_variance_is_decided_by_the_margin_only():
    df = frame({"m": [0.004] * 6})
    df.loc[:, "A_PR"] = df["A_PR"].round(6)
    df.loc[df.method == "b", "A_PR"] = 0.6
    df.loc[df.method == "a", "A_PR"] = 0.604
    r = compare(df, "a", "b").iloc[0]
    assert r.SE == 0 and r.outcome == "tie"  # a constant +0.004 is inside the margin: no win
    df.loc[df.method == "a", "A_PR"] = 0.65
    assert outcome(df) == "win"


def test_single_seed_and_gate():
    assert outcome(frame({"m": [0.2]})) == "too few seeds"
    flat = frame({"m": [0.02, 0.021, 0.019, 0.02]}, base=0.6, random=0.6)
    gate = discrimination_gate(flat)
    assert not gate.discriminates.iloc[0]
    assert outcome(flat) == "not discriminating"
    assert claim_verdict(compare(flat, "a", "b")).holds is None


def test_claim_verdict_and_holm():
    rng = np.random.default_rng(1)
    win = list(0.05 + 0.005 * rng.standard_normal(8))
    tie = list(0.0005 * rng.standard_normal(8))
    assert claim_verdict(compare(frame({"x": win, "y": win}), "a", "b")).holds is True
    assert claim_verdict(compare(frame({"x": win, "y": tie}), "a", "b")).holds is False
    noisy = list(0.01 + 0.03 * rng.standard_normal(8))
    assert claim_verdict(compare(frame({"x": win, "y": noisy}), "a", "b")).holds is None
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert "x/conv: +0.05" in describe(compare(frame({"x": win}), "a", "b"))
    assert (
        claim_verdict(compare(frame({"x": [-v for v in win], "y": [-v for v in win]}), "a", "b")).reason == "2 losses"
    )


@pytest.mark.parametrize("n", [3, 5, 20])
def test_interval_covers_a_planted_difference(n):
    rng = np.random.default_rng(n)
    hits = 0
    for _ in range(200):
        r = compare(frame({"m": list(0.02 + 0.01 * rng.standard_normal(n))}, random=None), "a", "b").iloc[0]
        hits += r.ci_low <= 0.02 <= r.ci_high
    assert hits >= 180  # about 95 % coverage
