"""Every chapter executes with the smoke profile (papermill, parameters injected), and the scoreboard it feeds
has one row per claim."""

import json
import os
from pathlib import Path

import nbformat
import pytest

from pbe_utils.labs import SHIPPED_SMOKE
from pbe_utils.run import main as run_main
from pbe_utils.run import toc_notebooks
from pbe_utils.verdicts import VERDICTS

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = {"C1", "C2", "C2b", "C3", "C3b", "C4", "C5", "C6", "B1", "B2", "B3"}


def _errors(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    shipped = {q: q.read_bytes() for q in sorted(SHIPPED_SMOKE.rglob("*")) if q.is_file()}
    status = run_main(["--profile", "smoke", "--out", str(out), "--quiet"])
    # a smoke run without --ship (make smoke-times passes it) leaves the book's shipped smoke files alone
    assert {q: q.read_bytes() for q in sorted(SHIPPED_SMOKE.rglob("*")) if q.is_file()} == shipped
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
    claims_dir = Path(os.environ["PBE_RESULTS"]) / "runs" / "smoke" / "claims"
    records = [json.loads(p.read_text()) for p in claims_dir.glob("*.json")]
    assert {r["id"] for r in records} == CLAIMS
    assert all(r["verdict"] in VERDICTS and r["ours"] and r["comparisons"] for r in records)
    assert all(r["run"] == "smoke" and r["parameters"]["name"] == "smoke" and r["commit"] for r in records)
    board = nbformat.read(out / "99_scoreboard.ipynb", as_version=4)
    html = "".join(
        o.get("data", {}).get("text/html", "")
        for c in board.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert all(f"<td><b>{cid}</b></td>" in html for cid in CLAIMS)  # one row per claim in the designed table


@pytest.mark.slow
def test_every_chapter_runs_with_the_family_added_last(tmp_path):
    """The family added by CONTRIBUTING's recipe (timm's DeiT with a distillation token, not in the shipped zoo:
    trained by its recipe on the smoke profile's images) runs every chapter in place of the smoke ViT, and the
    chapters report it by name."""
    out = tmp_path / "book"
    args = ["--profile", "smoke", "--out", str(out), "--quiet", "-p", "vit_models=['deit']", "-p", "zoo='retrain'"]
    assert run_main(args) == 0
    for src in toc_notebooks():
        nb = nbformat.read(out / src.with_suffix(".ipynb").name, as_version=4)
        assert nb.metadata.papermill.parameters["overrides"]["vit_models"] == ["deit"]
        assert not _errors(nb), src.name
    zoo = nbformat.read(out / "00_data_and_models.ipynb", as_version=4)
    assert "timm DeiT, distillation token" in json.dumps([c.get("outputs", []) for c in zoo.cells])


#: a paper-like profile that runs on CPU in minutes: ImageNet's folder layout (synthetic images), torchvision's
#: ResNet-18 and timm's DeiT-S at random weights, 3 seeds, 3 rates, a 4-point grid
PAPER_LIKE = {
    "cnn_models": ["resnet18"],
    "vit_models": ["deit_small_patch16_224"],
    "weights": "random",
    "device": "cpu",
    "n_ref": 1,
    "n_search": 2,
    "seeds": [0, 1, 2],
    "search_seeds": [100],
    "ref_sweep": [1, 2],
    "task_sizes": [2, 3],
    "rates": [0.0, 0.3, 0.6],
    "batch_size": 4,
    "n_trials": 2,
    "ig_steps": 2,
    "grid_restrict": "LLL=epsilon;MLL=epsilon;HLL=epsilon;FCL=epsilon,zplus",
    "n_explain": 2,
}


@pytest.mark.slow
def test_every_chapter_runs_under_a_tiny_paper_profile(tmp_path):
    """The chapters run under the paper profile (no embedded splits, ImageNet's layout, the paper's architectures).
    Chapter 07 is left out for its cost here (it times every pruned model); its experiment function runs under a
    paper-like profile in tests/test_experiments.py."""
    from pbe_utils.data import make_synthetic_imagefolder

    root = make_synthetic_imagefolder(
        tmp_path / "imagenet", n_classes=4, train_per_class=3, val_per_class=2, size=(230, 250)
    )
    args = ["--profile", "paper", "--out", str(tmp_path / "book"), "--quiet", "-p", f"imagenet_root={str(root)!r}"]
    for key, value in PAPER_LIKE.items():
        args += ["-p", f"{key}={value!r}"]
    chapters = [str(s) for s in toc_notebooks() if not s.stem.startswith("07")]
    assert run_main(chapters + args) == 0
    for src in chapters:
        nb = nbformat.read(tmp_path / "book" / Path(src).with_suffix(".ipynb").name, as_version=4)
        assert nb.metadata.papermill.parameters["profile"] == "paper"
        assert not _errors(nb), src
