"""Reliability: a killed search loses nothing, a failed run overwrites nothing, bad input is refused up front,
unsupported models are refused before any relevance is computed, and cache keys do not depend on threads."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState
from torch import nn

from pbe_utils.profiles import get_profile

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_kill_between_two_suggests_then_resume_at_once(tmp_path, grid_worker):
    url, name = f"sqlite:///{tmp_path / 'k.db'}", "mid-suggest"
    proc = grid_worker(url, name, grace=40, kill_at_trial=3)
    proc.communicate(timeout=300)
    assert proc.returncode == -9  # died by SIGKILL inside trial 3, after its first suggest_categorical
    study = optuna.load_study(study_name=name, storage=url)
    running = study.get_trials(states=(TrialState.RUNNING,))
    assert len(running) == 1 and 0 < len(running[0].params) < 5  # a trial with partial params
    proc = grid_worker(url, name, grace=40)  # resume at once: the dead trial's heartbeat is still fresh
    out = proc.communicate(timeout=300)[0].decode()
    assert proc.returncode == 0, out
    assert "16 of 16 completed, 0 pending, 0 failed" in out, out  # the worker's final line
    # the 12 waiting points take less than the grace period: the worker then waits for the dead trial and says so
    assert "waiting up to 42 s" in out, out
    done = optuna.load_study(study_name=name, storage=url).get_trials(states=(TrialState.COMPLETE,))
    keys = [tuple(sorted(t.params.items())) for t in done]
    assert len(keys) == 16 and len(set(keys)) == 16  # every grid point exactly once
    dead = optuna.load_study(study_name=name, storage=url).trials[running[0].number]
    assert dead.state == TrialState.FAIL  # the dead worker's trial was failed, its point run again


def test_search_cli_refuses_bad_storage_and_restrict_fast(tmp_path):
    cases = [
        (["--storage", f"sqlite:///{tmp_path}/missing/dir/s.db"], "--storage.*does not exist"),
        (["--storage", "postgresql+nosuchdriver://u@localhost/db"], "--storage.*driver"),
        (["--restrict", "LLL:epsilon"], "--restrict.*GROUP=rule"),
        (["--restrict", "XLL=epsilon"], "restrict key 'XLL'"),
    ]
    for extra, match in cases:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pbe_utils.search", "--profile", "smoke", "--model", "vgg", *extra],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert proc.returncode == 2 and pytest.importorskip("re").search(match, proc.stderr), proc.stderr
        assert time.perf_counter() - start < 15
    assert not (tmp_path / "missing").exists()


def test_failed_chapter_leaves_the_published_notebook_byte_identical(tmp_path):
    from pbe_utils.run import main as run_main

    src = tmp_path / "98_tiny.py"
    head = '# %% tags=["parameters"]\nprofile = "default"\noverrides = {}\n\n# %%\nprint("ran", profile)\n'
    src.write_text(head)
    out = tmp_path / "out"
    assert run_main([str(src), "--profile", "smoke", "--out", str(out), "--quiet"]) == 0
    good = (out / "98_tiny.ipynb").read_bytes()
    src.write_text(head + '\n# %%\nraise RuntimeError("planted")\n')
    assert run_main([str(src), "--profile", "smoke", "--out", str(out), "--quiet"]) == 1
    assert (out / "98_tiny.ipynb").read_bytes() == good
    assert "planted" in (out / "98_tiny.failed.ipynb").read_text()


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"n_classes": 11}, "n_classes=11 is not accepted; Fashion-MNIST has 10 classes"),
        ({"n_ref": 6000}, "n_ref=6000 is not accepted; the training split has only"),
        ({"ref_sweep": [1, 9000]}, "ref_sweep entry=9000"),
        ({"cnn_models": [], "vit_models": []}, "cnn_models and vit_models are both empty"),
        ({"seeds": "0,1"}, r"seeds='0,1' is not accepted; use a list"),
        ({"search_seeds": [0]}, "overlap seeds"),
        ({"n_search": 6000}, "n_search=6000"),
    ],
)
def test_bad_values_fail_fast_naming_the_parameter(overrides, match):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        get_profile("default", **overrides)
    assert time.perf_counter() - start < 5


def test_missing_pbe_data_dir_is_an_error(monkeypatch, tmp_path):
    from pbe_utils.data import DataNotFoundError, find_fashion_mnist

    monkeypatch.setenv("PBE_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(DataNotFoundError, match="PBE_DATA_DIR=.*nope.*does not exist"):
        find_fashion_mnist()


def test_unsupported_models_are_refused_and_own_models_work(toy_data):
    from timm.models.vision_transformer import VisionTransformer
    from torchvision.models import mobilenet_v2

    from pbe_utils.components import find_components
    from pbe_utils.composites import LRP_EPSILON
    from pbe_utils.relevance import compute_scores

    raw_vit = VisionTransformer(
        img_size=28, patch_size=7, in_chans=1, num_classes=10, embed_dim=32, depth=1, num_heads=2
    )
    with pytest.raises(ValueError, match=r"families.adapt\(model\)"):
        find_components(raw_vit)
    mnet = mobilenet_v2(num_classes=10)
    with pytest.raises(ValueError, match="InvertedResidual.*no canonizer"):
        find_components(mnet)
    with pytest.raises(ValueError, match="no prunable components"):
        find_components(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
    # a small CNN of the user's own, not in the registry, is explained
    torch.manual_seed(0)
    own = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10)).eval()
    comps = find_components(own)
    scores = compute_scores(own, comps, toy_data, "lrp", LRP_EPSILON)
    assert scores[0].shape == (4,) and torch.isfinite(scores[0]).all()


def test_cache_keys_do_not_depend_on_threads():
    code = (
        "import torch,sys; torch.set_num_threads(int(sys.argv[1])); from pbe_utils.training import data_fingerprint;"
        "from pbe_utils.data import load_fashion_mnist; print(data_fingerprint(load_fashion_mnist('train')))"
    )
    keys = {
        subprocess.run([sys.executable, "-c", code, str(n)], capture_output=True, text=True, cwd=ROOT).stdout.strip()
        for n in (1, 2)
    }
    assert len(keys) == 1 and "" not in keys
