"""The declared dependencies suffice: ``pip install .`` into a fresh virtual environment (from ``pyproject.toml``
alone; pip's index and the constraints file allowed) runs the smoke profile's first chapter with the ``pbe`` command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_pip_install_in_a_fresh_environment_runs_a_smoke_chapter(tmp_path):
    venv, src = tmp_path / "venv", tmp_path / "src"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    # a copy of what the package is built from (setuptools builds inside the source folder, never in this checkout),
    # installed with its declared dependencies; no editable link to this checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "pbe_utils", src / "pbe_utils", ignore=shutil.ignore_patterns("__pycache__"))
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), str(src)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    site = subprocess.run(
        [str(py), "-c", "import pbe_utils; print(pbe_utils.__file__)"], capture_output=True, text=True, cwd=tmp_path
    )
    assert str(venv) in site.stdout, site.stdout + site.stderr  # the installed copy, not this checkout
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PBE_RESULTS=str(tmp_path / "results"), PBE_CACHE=str(tmp_path / "cache"))
    env["PATH"] = f"{venv}/bin:{env['PATH']}"
    run = subprocess.run(
        [str(venv / "bin" / "pbe"), "notebooks/00_data_and_models.py", "--profile", "smoke", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,  # the notebooks and the shipped zoo of the checkout
        env=env,
        timeout=1200,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    executed = list((tmp_path / "results").rglob("00_data_and_models.ipynb"))
    assert executed, run.stdout[-2000:]
