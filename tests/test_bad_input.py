"""Re-runs never replace the published verdicts, and no bad input yields a silent wrong number: each bad input is
refused within seconds of the command's start, in one line that names the parameter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pbe_utils import claims
from pbe_utils.profiles import get_profile
from pbe_utils.run import main as run_main

ROOT = Path(__file__).resolve().parent.parent


def _cli(args: list[str], env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})}
    )
    return proc, time.perf_counter() - t0


RUNNER_CASES = [
    (["-p", "seeds=[0, 0, 0]"], "seeds=[0, 0, 0] is not accepted: [0] repeated"),
    (["-p", "vit_models=['vit_timm', 'vit_timm']"], "vit_models=['vit_timm', 'vit_timm'] is not accepted"),
    (["-p", "rates=[0.0, nan]"], "does not parse"),
    (["-p", "seeds=[1180591620717411303424]"], "seeds=[1180591620717411303424] is not accepted"),
    (["-p", "task_sizes=[1, 3]"], "task_sizes entry=1 is not accepted"),
    (["-p", "rates=[0, 1.5]"], "rate=1.5 is outside"),
    (["-p", "n_ref"], "write -p key=value"),
]


@pytest.mark.parametrize(("args", "message"), RUNNER_CASES)
def test_runner_refuses_bad_parameters_in_one_line(args, message):
    proc, secs = _cli(["pbe_utils.run", "--profile", "smoke", *args])
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert secs < 30  # loosely: the refusal comes before any chapter (about 5 s here, mostly imports)


def test_runner_refuses_unusable_folders_before_any_chapter(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root can write anywhere: make it a file instead
            ro.chmod(0o700)
            ro.rmdir()
            ro.write_text("not a folder")
        proc, secs = _cli(["pbe_utils.run", "--profile", "smoke"], env={"PBE_RESULTS": str(ro)})
        assert proc.returncode == 2 and "$PBE_RESULTS" in proc.stderr and str(ro) in proc.stderr, proc.stderr
        proc, _ = _cli(["pbe_utils.run", "--profile", "smoke"], env={"PBE_DATA_DIR": str(tmp_path / "nowhere")})
        assert proc.returncode == 2 and "$PBE_DATA_DIR" in proc.stderr, proc.stderr
        assert secs < 30
    finally:
        if ro.is_dir():
            ro.chmod(0o700)


SEARCH_CASES = [
    (["--n-trials", "-3"], "--n-trials -3 is not accepted"),
    (["--heartbeat", "0"], "--heartbeat 0 is not accepted"),
    (["--grace", "-1"], "--grace -1 is not accepted"),
]


@pytest.mark.parametrize(("args", "message"), SEARCH_CASES)
def test_search_cli_refuses_bad_ranges_before_loading_anything(args, message, tmp_path):
    proc, secs = _cli(
        [
            "pbe_utils.search",
            "--profile",
            "smoke",
            "--model",
            "vgg",
            "--storage",
            f"sqlite:///{tmp_path / 's.db'}",
            *args,
        ]
    )
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert secs < 30


def test_rerun_with_overrides_writes_its_own_run_and_folder(tmp_path, monkeypatch, capsys):
    """A re-run of the published profile with other parameters goes to its own run folder by default."""
    monkeypatch.setenv("PBE_RESULTS", str(tmp_path / "results"))
    missing = str(tmp_path / "98_missing.py")
    assert run_main([missing, "--profile", "default", "-p", "seeds=[0]", "--quiet"]) == 1  # the source is missing
    line = capsys.readouterr().out.splitlines()[0]
    run = claims.run_id(get_profile("default", seeds=[0]))
    assert f"[pbe] run {run}: executed notebooks go to {claims.run_dir(run) / 'notebooks'}," in line


def test_non_finite_weights_are_refused_whatever_the_hash(tmp_path):
    from safetensors.torch import load_file, save_file

    from pbe_utils.zoo import MANIFEST, ZOO_DIR, CorruptFileError, load_zoo_model, sha256_file

    man = json.loads((ZOO_DIR / MANIFEST).read_text())
    entry = man["models"]["vgg"]
    shutil.copy(ZOO_DIR / entry["file"], tmp_path / entry["file"])
    state = load_file(tmp_path / entry["file"])
    first = next(k for k, t in state.items() if t.is_floating_point())
    state[first] = torch.full_like(state[first], float("nan"))
    save_file(state, tmp_path / entry["file"])
    entry["sha256"] = sha256_file(tmp_path / entry["file"])  # the hash matches: only the values are wrong
    (tmp_path / MANIFEST).write_text(json.dumps(man))
    with pytest.raises(CorruptFileError, match=r"non-finite values.*make zoo|non-finite values.*zoo train"):
        load_zoo_model("vgg", tmp_path)


def test_input_heatmaps_refuses_unsupported_and_unadapted_models():
    import timm
    import torchvision

    from pbe_utils.composites import LRP_EPSILON
    from pbe_utils.relevance import input_heatmaps

    x, y = torch.randn(2, 3, 32, 32), torch.tensor([0, 1])
    mobile = torchvision.models.mobilenet_v2(num_classes=10).eval()
    with pytest.raises(ValueError):
        input_heatmaps(mobile, x, y, LRP_EPSILON)
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10, img_size=32, patch_size=8).eval()
    with pytest.raises(ValueError):
        input_heatmaps(vit, x, y, LRP_EPSILON)


@pytest.mark.slow
@pytest.mark.parametrize("repeat", range(5))
def test_four_workers_started_at_once_on_a_new_sqlite_file(repeat, tmp_path, grid_worker):
    """Four fresh workers on a new SQLite file at the same instant: all succeed, every grid point once."""
    import optuna
    from optuna.trial import TrialState

    url, name = f"sqlite:///{tmp_path / 'fresh.db'}", f"fresh-{repeat}"
    procs = [grid_worker(url, name) for _ in range(4)]
    outs = [p.communicate(timeout=600)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    study = optuna.load_study(study_name=name, storage=url)
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    keys = [tuple(sorted(t.params.items())) for t in done]
    assert len(keys) == 16 and len(set(keys)) == 16


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ('{"models": []}', r"lacks \['models'\]"),
        ('{"models": {"vgg": {}}}', "models.vgg.file"),
    ],
)
def test_a_malformed_manifest_is_named(tmp_path, text, match):
    from pbe_utils.zoo import CorruptFileError, load_zoo_model

    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(CorruptFileError, match=match):
        load_zoo_model("vgg", tmp_path)


def test_a_full_disk_names_the_file_and_leaves_nothing(tmp_path):
    """A tiny tmpfs (when the test runs as root and may mount) fills up: one clear message, no partial file."""
    from pbe_utils.cache import atomic_torch_save, atomic_write_bytes

    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)]).returncode:
        pytest.skip("mounting a tmpfs needs root and the permission to mount")
    try:
        with pytest.raises(OSError, match=r"cannot write .*big\.bin.*No space left"):
            atomic_write_bytes(disk / "big.bin", b"x" * 1_000_000)
        with pytest.raises(OSError, match=r"cannot write .*scores\.pt.*No space left"):  # a full cache disk
            atomic_torch_save(torch.zeros(300_000), disk / "scores.pt")
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)])
