"""Atomic, content-addressed files and the provenance helpers: a failed write leaves no partial file, a corrupt
cache entry is named instead of unpickled, hashes do not depend on key order."""

from __future__ import annotations

import os

import pytest
import torch

from pbe_utils.cache import (
    CorruptFileError,
    atomic_write_bytes,
    current_commit,
    load_or_compute,
    results_dir,
    stable_hash,
)


def test_stable_hash_ignores_key_order_and_sees_values():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2}) and len(stable_hash({}, 8)) == 8


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    atomic_write_bytes(path, b"old")

    def full(_fd):  # the disk fills up while the new content is flushed
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"cannot write .*x\.json.*No space"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_load_or_compute_computes_once_and_refuses_a_corrupt_entry(tmp_path):
    calls = []
    path = tmp_path / "c.pt"
    for _ in range(2):
        value = load_or_compute(path, lambda: calls.append(1) or torch.arange(3), "curve cache")
        assert torch.equal(value, torch.arange(3))
    assert len(calls) == 1
    path.write_bytes(b"not a tensor file")
    with pytest.raises(CorruptFileError, match=str(path)):
        load_or_compute(path, lambda: torch.zeros(1), "curve cache")


def test_results_dir_and_commit(monkeypatch, tmp_path):
    monkeypatch.setenv("PBE_RESULTS", str(tmp_path))
    assert results_dir() == tmp_path
    monkeypatch.delenv("PBE_RESULTS")
    from pbe_utils.cache import project_root

    assert results_dir() == project_root() / "results" and results_dir().is_absolute()
    monkeypatch.setenv("PBE_RESULTS", "relative")  # taken from the working directory, made absolute
    monkeypatch.chdir(tmp_path)
    assert results_dir() == tmp_path / "relative"
    commit = current_commit()
    assert commit == "" or (len(commit) >= 7 and all(ch in "0123456789abcdef" for ch in commit))
    monkeypatch.setenv("PATH", os.devnull)  # no git on the path: an empty commit, no error
    assert current_commit() == ""


def test_importing_the_package_changes_no_global_state():
    """Importing pbe_utils and every module leaves the environment, torch's grad mode and logging as they were."""
    import subprocess
    import sys

    code = (
        "import os, logging, pkgutil, importlib, torch\n"
        # the third-party libraries first: their own import-time settings are not ours
        "import optuna, zennit, timm, torchvision, pandas, matplotlib, seaborn, scipy, sqlalchemy, torch_pruning\n"
        "env = dict(os.environ); levels = {n: logging.getLogger(n).level for n in ('optuna', '')}\n"
        "import pbe_utils\n"
        "for m in pkgutil.walk_packages(pbe_utils.__path__, 'pbe_utils.'):\n"
        "    importlib.import_module(m.name)\n"
        "assert dict(os.environ) == env, set(os.environ.items()) ^ set(env.items())\n"
        "assert torch.is_grad_enabled()\n"
        "assert {n: logging.getLogger(n).level for n in ('optuna', '')} == levels\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_an_atomic_write_gets_the_permissions_of_a_plain_open(tmp_path):
    from pbe_utils.cache import atomic_write_bytes

    atomic_write_bytes(tmp_path / "a.json", b"{}")
    (tmp_path / "b.json").write_bytes(b"{}")
    assert (tmp_path / "a.json").stat().st_mode == (tmp_path / "b.json").stat().st_mode
