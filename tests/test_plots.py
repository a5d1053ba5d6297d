"""Numbered, captioned tables: each chapter's tables count from 1 after setup, and a table without a caption is
refused."""

from __future__ import annotations

import pandas as pd
import pytest

from pbe_utils import plots


def test_tables_are_numbered_within_a_chapter_and_need_a_caption():
    plots.setup()
    first = plots.table(pd.DataFrame({"a": [1.23456]}), "First table.").data
    second = plots.table(pd.DataFrame({"a": [1]}), "Second table.").data
    assert "Table 1. " in first and "Table 2. " in second and "1.235" in first
    plots.setup(chapter=3)
    assert "Table 3.1. " in plots.table(pd.DataFrame({"a": [1]}), "Again.").data
    with pytest.raises(ValueError, match="caption"):
        plots.table(pd.DataFrame({"a": [1]}), "  ")
