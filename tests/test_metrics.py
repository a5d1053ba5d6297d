import numpy as np
import pytest

from pbe_utils.metrics import DEFAULT_RATES, a_pr, sem, summarise, top_pr, trapezoid_area, validate_rates


def test_default_rates_are_the_papers_twenty():
    assert len(DEFAULT_RATES) == 20 and DEFAULT_RATES[0] == 0 and DEFAULT_RATES[-1] == 0.95


def test_a_pr_is_the_mean_accuracy():
    assert a_pr([1.0, 0.5, 0.0]) == pytest.approx(0.5)


def test_trapezoid_matches_hand_computation():
    acc = np.linspace(1.0, 0.05, 20)
    # authors' code: 0.05 * (sum - (first + last) / 2)
    expected = 0.05 * (acc.sum() - (acc[0] + acc[-1]) / 2)
    assert trapezoid_area(acc, DEFAULT_RATES) == pytest.approx(expected)
    assert trapezoid_area(np.ones(20), DEFAULT_RATES) == pytest.approx(0.95)


def test_top_pr_highest_rate_keeping_95_percent():
    rates = [0.0, 0.1, 0.2, 0.3, 0.4]
    acc = [0.80, 0.79, 0.761, 0.70, 0.20]  # 0.95 * 0.8 = 0.76
    assert top_pr(acc, rates) == 0.2
    assert top_pr([0.8, 0.5, 0.77, 0.1, 0.1], rates) == 0.2  # literal: highest such rate, even after a dip
    assert top_pr([0.8, 0.1, 0.1, 0.1, 0.1], rates) == 0.0
    with pytest.raises(ValueError, match="rates\\[0\\] must be 0"):
        top_pr([1, 1], [0.1, 0.2])


def test_summarise_and_sem():
    s = summarise([1.0, 1.0], [0.0, 0.5])
    assert s == {"A_PR": 1.0, "trapezoid": 0.5, "Top-PR": 0.5}
    assert sem([1.0]) == 0.0
    assert sem([1.0, 3.0]) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [[0.0, 1.0], [-0.1, 0.2], [0.0, 0.2, 0.1], []])
def test_rates_outside_unit_interval_are_rejected(bad):
    with pytest.raises(ValueError):
        validate_rates(bad)


def test_rate_error_names_the_value():
    with pytest.raises(ValueError, match=r"rate=1\.0 is outside \[0, 1\)"):
        validate_rates([0.0, 1.0])


def test_tables_are_numbered_captioned_and_without_index_noise():
    import pandas as pd
    import pytest

    from pbe_utils import plots

    plots.setup()
    df = pd.DataFrame({"method": ["LRP-ε", "random"], "A_PR": [0.71234, None]})
    first = plots.table(df, "A_PR per method.").data
    second = plots.table(df, "Again & <more>.", precision=1).data
    assert '<span class="caption-number">Table 1. </span>A_PR per method.</figcaption>' in first
    assert '<span class="caption-number">Table 2. </span>Again &amp; &lt;more&gt;.</figcaption>' in second
    assert "0.712" in first and "0.71234" not in first and "—" in first and 'class="pbe-table"' in first
    assert ">0<" not in first  # the 0..n index is hidden
    plots.setup()
    assert "Table 1. " in plots.table(df, "Restarted.").data
    with pytest.raises(ValueError, match="caption"):
        plots.table(df, " ")
