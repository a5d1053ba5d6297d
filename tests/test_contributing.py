"""The CONTRIBUTING.md recipe "add a model to the registry", end to end on a toy model."""

import re

import pytest
import torch
from torch import nn

from pbe_utils.components import find_components, layer_groups, masked
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.families import CNN_FAMILY
from pbe_utils.models import REGISTRY, ModelSpec, build_model, register_model
from pbe_utils.pruning import global_masks, pruning_curve
from pbe_utils.relevance import compute_scores


class ToyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1),
            nn.BatchNorm2d(6),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


@pytest.fixture
def toy_registered():
    spec = register_model(ModelSpec("toy_cnn", CNN_FAMILY, ToyCNN, "embedded", "a toy CNN for the recipe"))
    yield spec
    REGISTRY.pop("toy_cnn")


def test_a_registered_toy_model_runs_through_the_pipeline(toy_registered, toy_data):
    torch.manual_seed(0)
    model = build_model("toy_cnn")
    comps = find_components(model)
    assert [c.size for c in comps] == [6, 8] and comps[0].mask_name == "features.1"
    assert layer_groups(model)["FCL"] == ["classifier.1"]
    scores = compute_scores(model, comps, toy_data, "lrp", LRP_EPSILON)
    assert [s.numel() for s in scores] == [6, 8]
    with masked(model, comps, global_masks(scores, 0.5)):
        model(toy_data.x)
    curve = pruning_curve(model, comps, scores, toy_data, rates=[0.0, 0.5, 0.9])
    assert curve.shape == (3,) and ((0 <= curve) & (curve <= 1)).all()


def test_register_model_rejects_unknown_family():
    with pytest.raises(ValueError, match="family='rnn'"):
        register_model(ModelSpec("x", "rnn", ToyCNN, "embedded", ""))


def _tree_hash(folder):
    import hashlib

    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
def test_rerunning_one_published_chapter_then_the_scoreboard_leaves_the_book_as_it_is(tmp_path):
    """CONTRIBUTING's recipe on a fresh copy of the repository (no results, no cache): one chapter of the published
    run, then the scoreboard. The chapter prints its label beside the shipped one; the scoreboard refuses an
    incomplete set of records (exit code 1); book/ is byte-identical afterwards."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if not (root / "book" / "data" / "claims" / "C6.json").exists():
        pytest.skip("no claim records shipped with the book")
    copy = tmp_path / "repo"
    skip = {".venv", ".git", "results", ".cache", "_build", "test-artifacts", ".pytest_cache", ".mypy_cache"}
    shutil.copytree(root, copy, ignore=lambda d, names: [n for n in names if n in skip])
    before = _tree_hash(copy / "book")
    env = {**os.environ, "PYTHONPATH": str(copy), "PBE_RESULTS": str(copy / "results")}
    env.pop("PBE_CACHE", None)
    chapter = subprocess.run(
        [sys.executable, "-m", "pbe_utils.run", "notebooks/05_explanations_after_pruning.py", "--quiet"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert chapter.returncode == 0, chapter.stderr[-2000:]
    run_folder = (copy / "results" / "runs" / "default").resolve()
    assert f"executed notebooks go to {run_folder / 'notebooks'}" in chapter.stdout
    assert (run_folder / "notebooks" / "05_explanations_after_pruning.ipynb").exists()
    import nbformat

    nb = nbformat.read(run_folder / "notebooks" / "05_explanations_after_pruning.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    assert re.search(r"C6: this run .+; shipped with the book .+: the (same cells|cells differ)", printed), printed
    board = subprocess.run(
        [sys.executable, "-m", "pbe_utils.run", "notebooks/99_scoreboard.py", "--quiet"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert board.returncode != 0 and "only from a complete run" in board.stderr
    assert _tree_hash(copy / "book") == before
