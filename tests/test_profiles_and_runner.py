import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pbe_utils.profiles import PROFILES, get_profile
from pbe_utils.run import main as run_main
from pbe_utils.run import parse_overrides, toc_notebooks

ROOT = Path(__file__).resolve().parent.parent


def test_profiles_validate():
    for name in PROFILES:
        assert get_profile(name).name == name


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"cnn_models": ["alexnet"]}, "model='alexnet' is not in the registry"),
        ({"cnn_models": ["vit_timm"]}, "list it under vit_models"),
        ({"rates": [0.0, 1.2]}, r"rate=1.2 is outside \[0, 1\)"),
        ({"rates": [0.1, 0.2]}, "rates must start at 0"),
        ({"n_ref": -1}, "n_ref=-1 is not accepted"),
        ({"n_eval": 0}, "n_eval=0 is not accepted"),
        ({"seeds": []}, "seeds=.* is not accepted"),
        ({"sampler": "cmaes"}, "sampler='cmaes' is not accepted"),
        ({"n_trails": 3}, r"unknown parameter\(s\) \['n_trails'\]"),
        ({"cnn_models": ["vgg16"]}, "paper-profile model but data='fashion_mnist'"),
    ],
)
def test_bad_parameters_name_the_parameter(overrides, match):
    with pytest.raises(ValueError, match=match):
        get_profile("default", **overrides)


def test_unknown_profile():
    with pytest.raises(ValueError, match="profile='huge' is not accepted"):
        get_profile("huge")


def test_overrides_are_literals_never_code():
    assert parse_overrides(["n_eval=100", "seeds=[0, 1]", "n_eval=None", "sampler=grid"]) == {
        "n_eval": None,
        "seeds": [0, 1],
        "sampler": "grid",
    }
    assert parse_overrides(["x=__import__('os').system('true')"]) == {"x": "__import__('os').system('true')"}
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["n_eval"])


def test_toc_lists_every_notebook_source():
    sources = toc_notebooks()
    assert [p.name for p in sources] == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


TINY = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
from pbe_utils.profiles import get_profile
P = get_profile(profile, **overrides)
print("n_eval", P.n_eval, "seeds", P.seeds)
"""


def test_runner_injects_parameters_and_collects_failures(tmp_path):
    src = tmp_path / "98_tiny.py"
    src.write_text(TINY)
    out = tmp_path / "out"
    assert (
        run_main([str(src), "--profile", "smoke", "-p", "n_eval=7", "-p", "seeds=[3]", "--out", str(out), "--quiet"])
        == 0
    )
    nb = nbformat.read(out / "98_tiny.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters == {"profile": "smoke", "overrides": {"n_eval": 7, "seeds": [3]}}
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "n_eval 7 seeds (3,)" in text
    # a failing notebook is reported, the others still run, and the exit status is non-zero
    bad = tmp_path / "97_bad.py"
    bad.write_text(TINY + "\n# %%\nget_profile(profile, n_ref=0)\n")
    assert run_main([str(bad), str(src), "--profile", "smoke", "--out", str(out), "--quiet"]) == 1
    assert (out / "98_tiny.ipynb").exists()


def test_runner_rejects_bad_overrides_before_running():
    proc = subprocess.run(
        [sys.executable, "-m", "pbe_utils.run", "--profile", "smoke", "-p", "rates=[0, 1.5]"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode != 0 and "rate=1.5 is outside" in proc.stderr


def test_environment_yml_matches_requirements():
    reqs = [
        l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines() if l.strip() and not l.startswith("#")
    ]
    env = [
        l.strip()[2:].strip()
        for l in (ROOT / "environment.yml").read_text().splitlines()
        if l.strip().startswith("- ") and "==" in l
    ]
    assert reqs == env
    assert "python=3.11" in (ROOT / "environment.yml").read_text()
    pins = dict(r.split("==") for r in reqs)
    assert pins["jupyter-book"].startswith("1.") and pins["zennit"] == "0.5.1"
    assert json.dumps(pins)  # all pinned with ==
