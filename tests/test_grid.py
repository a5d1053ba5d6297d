"""The exhaustive grid as a recorded result: the shipped file is complete and carries its provenance, random points
recompute from scratch, and the grid command refuses bad input before any compute."""

import json
import subprocess
import sys

import numpy as np
import pytest

from pbe_utils import grid as G
from pbe_utils.composites import grid_points
from pbe_utils.profiles import get_profile

ROOT = G.SHIPPED_GRIDS.parent.parent


#: the models whose grid is shipped (chapters 08 and 09 answer B1 and B3 on these and name the others)
MODELS = sorted(p.stem.removeprefix("search_grid_default_") for p in G.SHIPPED_GRIDS.glob("search_grid_default_*.json"))


def test_the_cnn_grids_are_shipped():
    assert {"vgg", "resnet"} <= set(MODELS)


def _shipped(model: str) -> dict:
    path = G.grid_file(get_profile("default"), model, G.SHIPPED_GRIDS)
    if not path.exists():
        pytest.fail(f"{path} is missing: chapters 08 and 09 read it (python -m pbe_utils.grid --model {model})")
    return json.loads(path.read_text())


def _space(model: str) -> dict:
    from pbe_utils.models import get_spec

    return get_spec(model).family.space()


@pytest.mark.parametrize("model", MODELS)
def test_shipped_grid_is_complete_and_carries_its_provenance(model):
    rec, space = _shipped(model), _space(model)
    n = len(grid_points(space))  # 512 for a CNN, 2,048 for a ViT
    assert len(rec["points"]) == n and rec["model"] == model
    assert {"command", "commit", "trials_from", "trials_to", "study", "search_seeds"} <= set(rec)
    assert rec["command"].startswith("python -m pbe_utils.search") and f"--model {model}" in rec["command"]
    assert rec["commit"] and rec["study"].startswith(f"default-{model}-")
    assert len({G.point_key(p, space) for p in rec["points"]}) == n
    if "zoo" in rec:  # written since grids carry it (the ResNet's predates it): the weights it was computed with
        from pbe_utils.claims import zoo_hashes

        assert rec["zoo"] == {model: zoo_hashes(get_profile("default"))[model]}
        assert rec["parameters"]["search_seeds"] == list(get_profile("default").search_seeds)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_three_random_points_of_the_shipped_grid_recompute_exactly(model):
    rec, space = _shipped(model), _space(model)
    P = get_profile("default")
    rng = np.random.default_rng(2026)
    for i in rng.choice(len(rec["points"]), size=3, replace=False):
        point = rec["points"][int(i)]
        params = {k: (bool(point[k]) if k == "MAG" else point[k]) for k in space}
        assert G.recompute_grid_point(P, model, params) == pytest.approx(point["A_PR"], abs=1e-9), params


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


def test_a_chapter_uses_a_written_grid_or_computes_a_small_one(tmp_path, monkeypatch):
    smoke, default = get_profile("smoke"), get_profile("default")
    assert G.grid_available(smoke, "vit_timm", G.parse_restrict(smoke.grid_restrict))  # 32 points: computed
    assert G.grid_available(default, "vgg")  # 512 points, shipped
    monkeypatch.setattr(G, "SHIPPED_GRIDS", tmp_path)  # nothing shipped, nothing written
    monkeypatch.setenv("PBE_RESULTS", str(tmp_path))
    assert not G.grid_available(default, "vgg") and G.find_grid(default, "vgg") is None
    note = G.missing_grids_note(default, ["resnet"])
    assert note.startswith("**Not covered here:** `vgg`, `vit_timm`, `vit_tv`")
    assert "python -m pbe_utils.grid --profile default --model vit_tv" in note and note.endswith("on resnet.")
    assert G.missing_grids_note(default, list(default.models)) == ""
