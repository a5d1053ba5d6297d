"""Shared fixtures: an isolated cache and results folder for the whole session, tiny trained models, toy data."""

from __future__ import annotations

import os
from pathlib import Path

# the tests bound oneDNN's primitive cache as the study's commands do (pbe_utils.cache.bound_onednn_cache), before torch
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "128")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def isolated_dirs(tmp_path_factory):
    """Checkpoints, score caches and claim records of the tests never touch the user's .cache/ or results/."""
    base = tmp_path_factory.mktemp("pbe")
    old = {k: os.environ.get(k) for k in ("PBE_CACHE", "PBE_RESULTS")}
    os.environ["PBE_CACHE"] = str(base / "cache")
    os.environ["PBE_RESULTS"] = str(base / "results")
    torch.set_num_threads(2)
    yield base
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def smoke():
    from pbe_utils.profiles import get_profile

    return get_profile("smoke")


@pytest.fixture(scope="session")
def smoke_vgg(smoke):
    from pbe_utils.study import get_model

    model, _ = get_model(smoke, "vgg", progress=False)
    return model


@pytest.fixture(scope="session")
def smoke_vit(smoke):
    from pbe_utils.study import get_model

    model, _ = get_model(smoke, "vit_timm", progress=False)
    return model


@pytest.fixture
def toy_data():
    from pbe_utils.data import ImageSet

    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 1, 28, 28, generator=g)
    y = torch.arange(12) % 10
    return ImageSet(x, y, tuple(str(i) for i in range(10)))


def hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


#: a 16-point corner of the CNN grid (LLL and MLL fixed to ε, HLL ε or z+), for the search-worker tests
GRID_RESTRICT = "LLL=epsilon;MLL=epsilon;HLL=epsilon,zplus"


@pytest.fixture
def grid_worker():
    """Start one ``python -m pbe_utils.search`` grid worker on the smoke VGG (output piped, heartbeat 1 s)."""
    import subprocess

    from pbe_utils.search import worker_command

    def start(url: str, name: str, join: bool = False, grace: int = 3, kill_at_trial: int | None = None):
        cmd = worker_command(
            url, name, "smoke", "vgg", "grid", restrict=GRID_RESTRICT, heartbeat=1, grace=grace, join=join
        )
        if kill_at_trial is not None:  # the same worker, dying inside that trial (pbe_utils.testing)
            cmd = [cmd[0], "-m", "pbe_utils.testing", "--kill-at-trial", str(kill_at_trial), *cmd[3:]]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))

    return start


@pytest.fixture
def grid_restrict() -> dict:
    """:data:`GRID_RESTRICT` as the dict that ``create_study`` takes."""
    from pbe_utils.search import parse_restrict

    return parse_restrict(GRID_RESTRICT)


# ------------------------------------------------------------------------------- claim records (claims, scoreboard)
def claim_cells(diffs: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """Cells of "a beats b" with per-seed differences ``diffs`` per (model, kind), random pruning far below."""
    from pbe_utils import verdicts

    rows = []
    for (model, kind), ds in diffs.items():
        for s, d in enumerate(ds):
            rows.append({"model": model, "kind": kind, "seed": s, "method": "a", "A_PR": 0.6 + d + 0.001 * (s % 3)})
            rows.append({"model": model, "kind": kind, "seed": s, "method": "b", "A_PR": 0.6 + 0.001 * (s % 3)})
            rows.append({"model": model, "kind": kind, "seed": s, "method": "random", "A_PR": 0.3})
    return verdicts.compare(pd.DataFrame(rows), "a", "b")


WIN = list(0.05 + 0.004 * np.sin(np.arange(10)))
TIE = list(0.001 * np.cos(np.arange(10)))


@pytest.fixture
def results(tmp_path, monkeypatch):
    """A fresh, empty ``$PBE_RESULTS`` for one test."""
    monkeypatch.setenv("PBE_RESULTS", str(tmp_path))
    return tmp_path


def write_claim(profile, cid="C2b", diffs=None):
    """Record a registered claim (default C2b, whose text holds Markdown-active characters: |R|) decided on planted
    cells."""
    from pbe_utils import claims, verdicts

    v = verdicts.judge(claim_cells(diffs or {("vgg", "conv"): WIN, ("vit", "neurons"): TIE}))
    return claims.record(cid, "ours | *measured*", v, profile)
