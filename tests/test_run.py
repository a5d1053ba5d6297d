"""The runner's output hygiene: progress bars never reach a stored output while real warnings do, a run with
parameters other than the published profile's shows them at the top of each chapter, and the run record keeps the
full run's times while adding those of chapters re-executed on their own."""

from __future__ import annotations

import nbformat
import pytest

from pbe_utils.run import _without_progress, tidy


def test_progress_bars_are_dropped_and_warnings_kept():
    bar = {"output_type": "stream", "name": "stderr", "text": "vgg (conv):  12%|█▏   | 6/50 [00:03<00:24,  1.79it/s]\r"}
    assert _without_progress(dict(bar)) is None
    mixed = {"output_type": "stream", "name": "stderr", "text": bar["text"] + "\nUserWarning: something real\n"}
    assert _without_progress(mixed)["text"] == "UserWarning: something real\n"
    notice = (
        "/x/tqdm/auto.py:21: TqdmWarning: IProgress not found. Please update jupyter and ipywidgets.\n"
        "  from .autonotebook import tqdm as notebook_tqdm\n"
    )
    assert _without_progress({"output_type": "stream", "name": "stderr", "text": notice}) is None
    out = {"output_type": "stream", "name": "stdout", "text": "10%|"}
    assert _without_progress(dict(out)) == out


def _nb():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("profile = 'default'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "profile = 'default'\noverrides = {'seeds': [0]}", metadata={"tags": ["injected-parameters"]}
        ),
        nbformat.v4.new_code_cell("\n".join(f"x{i} = {i}" for i in range(12))),
        nbformat.v4.new_code_cell("plots.table(frame, 'A caption.')"),
        nbformat.v4.new_code_cell("R = chapters.uniform_composites(P)"),
    ]
    return nb


def test_tidy_hides_parameters_of_the_published_run_and_shows_those_of_another():
    nb = _nb()
    tidy(nb)
    assert [c.metadata.get("tags") for c in nb.cells] == [
        ["parameters", "remove-cell"],
        ["injected-parameters", "remove-cell"],
        ["hide-input"],
        ["hide-input"],  # table formatting folds away
        None,  # the experiment call stays visible
    ]
    other = _nb()
    tidy(other, show_parameters=True)
    assert other.cells[1].metadata["tags"] == ["injected-parameters"]  # visible: the chapter ran with other values


def test_a_partial_run_adds_its_chapter_times_without_touching_the_full_runs_table():
    from pbe_utils.run import add_partial_times, run_time_markdown

    full = run_time_markdown({"00_a": 60.0, "01_b": 600.0, "99_c": 6.0}, "default", {})
    once = add_partial_times(full, {"01_b": 300.0})
    assert once.startswith(full.rstrip("\n")) and "| 01_b | 10.0 |" in once  # the full run's table as measured
    assert "| 01_b | 5.0 |" in once and "about **6.1 min**" in once  # 1.0 + 5.0 + 0.1
    twice = add_partial_times(once, {"01_b": 120.0, "99_c": 60.0})  # the latest time of a chapter wins
    assert twice.count("| 01_b | 2.0 |") == 1 and "| 01_b | 5.0 |" not in twice and "about **4.0 min**" in twice
    with pytest.raises(ValueError, match="no per-chapter table"):
        add_partial_times("nothing measured", {"01_b": 1.0})
