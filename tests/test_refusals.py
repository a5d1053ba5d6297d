"""Inputs that cannot be honoured are refused in one line naming the parameter, before any compute."""

from __future__ import annotations

import json
import math

import pytest

from pbe_utils import claims, metrics, zoo
from pbe_utils.profiles import get_profile


def test_side_by_side_never_guesses(results, monkeypatch, tmp_path):
    from conftest import write_claim

    monkeypatch.setattr(claims, "SHIPPED", tmp_path / "nothing-shipped")
    write_claim(get_profile("default", seeds=[0, 1, 2]))
    other = claims.run_id(get_profile("default", seeds=[0, 1, 2]))
    with pytest.raises(ValueError, match="the published run 'default' has no claim records"):
        claims.side_by_side(other)
    write_claim(get_profile("default"))
    with pytest.raises(ValueError, match=r"run='default-typo' has no claim records"):
        claims.side_by_side("default-typo")
    assert len(claims.side_by_side(other)) == 1


def test_a_manifest_naming_a_model_twice_is_refused(tmp_path):
    text = (zoo.ZOO_DIR / zoo.MANIFEST).read_text()
    manifest = json.loads(text)
    name, entry = next(iter(manifest["models"].items()))
    body = json.dumps(entry)
    dup = text.replace('"models": {', f'"models": {{"{name}": {body},', 1)
    assert dup != text
    (tmp_path / zoo.MANIFEST).write_text(dup)
    with pytest.raises(zoo.CorruptFileError, match=rf"duplicate key\(s\) \['{name}'\]"):
        zoo.read_manifest(tmp_path)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_rates_are_refused_through_the_api(bad):
    with pytest.raises(ValueError, match="rate=(nan|inf) is not accepted"):
        metrics.validate_rates([0.0, bad])


def test_an_overflowing_train_scale_is_refused():
    with pytest.raises(ValueError, match="train_scale=inf is not accepted"):
        get_profile("default", zoo="retrain", train_scale=1e309)


def test_a_study_made_for_another_model_or_restriction_cannot_be_joined(tmp_path):
    from pbe_utils import search as S

    smoke = get_profile("smoke")
    url = f"sqlite:///{tmp_path / 'search.db'}"
    first = S.run_search(smoke, "vgg", url, "shared", "random", 1, progress=False)
    assert first.user_attrs["identity"]["model"] == "vgg"
    with pytest.raises(ValueError, match=r"study 'shared' was made for .*model='vgg' \(not 'vit_timm'\)"):
        S.run_search(smoke, "vit_timm", url, "shared", "random", 1, progress=False)
    with pytest.raises(ValueError, match=r"restrict=\{\} \(not \{'LLL': \['epsilon'\]\}\)"):
        S.run_search(smoke, "vgg", url, "shared", "random", 1, {"LLL": ["epsilon"]}, progress=False)
    again = S.run_search(smoke, "vgg", url, "shared", "random", 2, progress=False)  # the same search resumes
    assert len(again.trials) >= 2


@pytest.mark.slow
def test_a_run_started_from_another_directory_keeps_one_absolute_results_root(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PBE_RESULTS": "res"}  # relative: taken from where the command starts
    out = subprocess.run(
        [sys.executable, "-m", "pbe_utils.run", str(root / "notebooks" / "04_reference_samples.py"), "--profile",
         "smoke", "--quiet"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    run = (elsewhere / "res" / "runs" / "smoke").resolve()
    assert f"executed notebooks go to {run / 'notebooks'}, claim records to {run / 'claims'}" in out.stdout
    assert (run / "notebooks" / "04_reference_samples.ipynb").exists() and (run / "claims" / "C4.json").exists()
    assert not (root / "res").exists()


def test_the_profile_name_is_not_a_parameter():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['name'\]"):
        get_profile("default", name="default")


def test_cuda_without_a_gpu_is_refused_by_the_runner(capsys):
    import torch

    from pbe_utils.run import main

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(["notebooks/00_data_and_models.py", "-p", "device='cuda'"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pbe_utils.run: error: device='cuda' is not accepted here: this machine has no CUDA GPU; use -p "
                   "device=cpu"]  # fmt: skip


def test_a_data_folder_without_the_data_is_refused(tmp_path, monkeypatch):
    from pbe_utils import data

    monkeypatch.setenv("PBE_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataNotFoundError, match="holds no Fashion-MNIST IDX files"):
        data.find_fashion_mnist(download=False)


def test_a_smoke_grid_is_not_written_into_the_book(results):
    from pbe_utils import grid

    assert grid.default_out("default") == grid.SHIPPED_GRIDS
    assert grid.default_out("smoke") == results / "grids"


def test_the_binder_instruction_names_the_cell_that_decides_the_profile():
    """rerun.md tells a student where to set the smoke profile: the injected '# Parameters' cell of an executed
    chapter, which is indeed the second code cell and the one that runs last."""
    from pathlib import Path

    import nbformat

    root = Path(__file__).resolve().parent.parent
    assert "starts with\n`# Parameters`" in (root / "book" / "rerun.md").read_text()
    nb = nbformat.read(root / "book" / "01_lrp_epsilon_vs_zplus.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[1].source.startswith("# Parameters") and 'profile = "default"' in code[1].source
    assert "parameters" in code[0].metadata.get("tags", [])


def test_an_unusable_results_folder_or_storage_folder_is_named_in_one_line(tmp_path, monkeypatch, capsys):
    from pbe_utils import search as S
    from pbe_utils.storage import StorageError, check_storage

    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(StorageError, match="is a file, not a folder"):
        check_storage(f"sqlite:///{a_file / 'search.db'}")
    monkeypatch.setenv("PBE_RESULTS", str(a_file))
    with pytest.raises(SystemExit) as stop:
        S.main(["--profile", "smoke", "--model", "vgg", "--n-trials", "1"])
    assert stop.value.code == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    assert len(err) == 1 and "cannot hold the search's storage" in err[0]


def test_zoo_verify_reports_a_broken_manifest_in_one_line(tmp_path, capsys):
    text = (zoo.ZOO_DIR / zoo.MANIFEST).read_text()
    name = next(iter(json.loads(text)["models"]))
    (tmp_path / zoo.MANIFEST).write_text(text.replace('"models": {', f'"models": {{"{name}": {{}},', 1))
    assert zoo.main(["verify", "--zoo", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pbe_utils.zoo: error: ") and "duplicate key" in err[0]


def test_a_home_made_residual_block_and_mobilenet_v2_get_the_same_treatment():
    """One rule for every residual addition (found by tracing the forward): a reader's own block and torchvision's
    MobileNetV2 are refused alike; torchvision's ResNet (whose blocks the engine's canonizer splits) and a plain
    sequential CNN pass."""
    import torch
    import torchvision
    from torch import nn

    from pbe_utils.components import check_model
    from pbe_utils.families.cnn import residual_blocks

    class MyResidual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 3, padding=1)

        def forward(self, x):
            return x + torch.relu(self.conv(x))

    home = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), MyResidual(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 10))  # fmt: skip
    mobile = torchvision.models.mobilenet_v2(num_classes=10)
    assert residual_blocks(home) == {"MyResidual"} and residual_blocks(mobile) == {"InvertedResidual"}
    for model, block in ((home, "MyResidual"), (mobile, "InvertedResidual")):
        with pytest.raises(ValueError, match=rf"residual blocks \['{block}'\] whose additions no canonizer covers"):
            check_model(model)
    check_model(torchvision.models.resnet18(num_classes=10))  # BasicBlock: the canonizer splits it
    check_model(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10)))


def test_the_grid_command_reports_a_study_it_cannot_join_in_one_line(monkeypatch, capsys):
    from pbe_utils import grid

    def refuse(*a, **k):
        raise ValueError("study 'x' was made for model='vgg' (not 'resnet'): it cannot be joined by this search")

    monkeypatch.setattr(grid.S, "run_search", refuse)
    assert grid.main(["--profile", "smoke", "--model", "vgg"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pbe_utils.grid: error: study 'x' was made for model='vgg' (not 'resnet'): it cannot be joined "
                   "by this search"]  # fmt: skip
