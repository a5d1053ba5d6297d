"""The exhaustive grid as a recorded result: the shipped file is complete and carries its provenance, random points
recompute from scratch, and the grid command refuses bad input before any compute."""

import json
import subprocess
import sys

import numpy as np
import pytest

from pbe_utils import grid as G
from pbe_utils.composites import space_for
from pbe_utils.profiles import get_profile

ROOT = G.SHIPPED_GRIDS.parent.parent


def _shipped():
    path = G.grid_file(get_profile("default"), "vgg", G.SHIPPED_GRIDS)
    if not path.exists():
        pytest.fail(f"{path} is missing: chapter 08 reads it (python -m pbe_utils.grid)")
    return json.loads(path.read_text())


def test_shipped_grid_is_complete_and_carries_its_provenance():
    rec = _shipped()
    assert len(rec["points"]) == 512
    assert {"command", "commit", "trials_from", "trials_to", "study", "search_seeds"} <= set(rec)
    assert rec["command"].startswith("python -m pbe_utils.search") and rec["commit"]
    keys = {G.point_key(p, space_for("cnn")) for p in rec["points"]}
    assert len(keys) == 512


@pytest.mark.slow
def test_three_random_points_of_the_shipped_grid_recompute_exactly():
    rec = _shipped()
    P = get_profile("default")
    space = space_for("cnn")
    rng = np.random.default_rng(2026)
    for i in rng.choice(len(rec["points"]), size=3, replace=False):
        point = rec["points"][int(i)]
        params = {k: (bool(point[k]) if k == "MAG" else point[k]) for k in space}
        assert G.recompute_grid_point(P, "vgg", params) == pytest.approx(point["A_PR"], abs=1e-9), params


def test_grid_command_refuses_bad_input_before_any_compute():
    out = subprocess.run(
        [sys.executable, "-m", "pbe_utils.grid", "--model", "alexnet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 2 and "model='alexnet'" in out.stderr
    with pytest.raises(ValueError, match="grid_restrict"):
        get_profile("smoke", grid_restrict="XLL=epsilon")
