"""Chapters 00, 02, 03 and 05 (classic criteria) on planted data: each experiment function, with the measurements
it would make replaced by planted ones, reaches the verdict the planted data dictates, and its opposite when the
data is reversed (CONTRIBUTING's recipe for a chapter)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from pbe_utils.chapters import c00_data_and_models as C00
from pbe_utils.chapters import c02_optimised_composites as C02
from pbe_utils.chapters import c03_cnn_vs_vit as C03
from pbe_utils.chapters import c06_classic_criteria as C06
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.profiles import get_profile

SMOKE = get_profile("smoke", seeds=list(range(8)))
KINDS = (("vgg", "conv"), ("vit_timm", "neurons"), ("vit_timm", "heads"))


def _summaries(values: dict[str, float], kinds=KINDS, value: str = "A_PR", spread: float = 0.002) -> pd.DataFrame:
    """Per model, kind, method and seed: the planted ``values[method]`` plus a small seed-dependent wobble."""
    rows = []
    for model, kind in kinds:
        for m, v in values.items():
            for s in SMOKE.seeds:
                x = v + spread * ((s * 7 + len(m)) % 5) / 4
                rows.append(
                    {"model": model, "kind": kind, "method": m, "seed": s, value: x, "order": f"{model}{kind}{m}{s}"}
                )
    f = pd.DataFrame(rows)
    if value != "A_PR":
        f["A_PR"] = f["method"].map(lambda m: 0.5 if m == "random" else 0.8)
    return f


# ----------------------------------------------------------------------------------- chapter 05: classic criteria
@pytest.mark.parametrize("taylor, expected", [(0.70, "holds"), (0.90, "does not hold")])
def test_classic_criteria_follow_planted_curves(monkeypatch, taylor, expected):
    """The optimised composite at 0.80 A_PR against weight, activation and gradient at 0.60 and Taylor at
    ``taylor``: it beats every criterion (holds), or Taylor beats it (does not hold)."""
    values = {"optimised": 0.80, "LRP-ε": 0.78, "weight": 0.60, "activation": 0.60, "gradient": 0.60}
    values |= {"Taylor": taylor, "random": 0.40}
    planted = _summaries(values, kinds=(("vgg", "conv"),))
    monkeypatch.setattr(C06, "compare_all", lambda profile, methods_for, progress, kinds=None: (None, planted))
    v = C06.classic_criteria(SMOKE, progress=False).claims["C5"]
    assert v.text == expected
    assert {c.comparison for c in v.primary} == {"optimised vs Taylor"}


# ----------------------------------------------------------------------------------------- chapter 03: C3, C3b
@pytest.mark.parametrize("vit_top, expected", [(0.60, "holds"), (0.20, "does not hold")])
def test_cnn_vs_vit_follows_planted_top_pr(monkeypatch, vit_top, expected):
    """ViT components prunable to ``vit_top`` at Top-PR, the CNN's to 0.40: C3 holds when the ViT's are higher and
    fails when lower; a 2-class task prunable further than a 10-class one: C3b holds."""
    top = {"vgg": 0.40, "vit_timm": vit_top}

    def planted_all(profile, methods_for, progress, kinds=None):
        f = _summaries({"LRP-ε": 0.8, "random": 0.5})
        f["Top-PR"] = f["model"].map(top) + 0.01 * (f["seed"] % 3)
        return None, f

    def planted_tasks(profile, name, methods, n_classes=None, progress=True, **_):
        f = _summaries({"LRP-ε": 0.8}, kinds=((name, "conv" if name == "vgg" else "neurons"),))
        f["Top-PR"] = (0.7 if n_classes == 2 else 0.3) + 0.01 * (f["seed"] % 2)
        f["order"] += f"k={n_classes}"  # another task size prunes in another order
        return f.assign(n_classes=n_classes), f.assign(n_classes=n_classes)

    def planted_removed(profile, s_eps):
        share = s_eps["model"].map({"vgg": 0.3, "vit_timm": 0.3 if vit_top < 0.4 else 0.6})
        return s_eps.assign(**{"share of removable parameters removed": share + 0.01 * (s_eps["seed"] % 2)})

    monkeypatch.setattr(C03, "compare_all", planted_all)
    monkeypatch.setattr(C03, "compare_methods", planted_tasks)
    monkeypatch.setattr(C03, "removed_at_top_pr", planted_removed)
    r = C03.cnn_vs_vit(SMOKE, progress=False)
    c3, c3b = r.claims["C3"], r.claims["C3b"]
    assert c3.text == expected and c3.support[1] == 2  # neurons and heads of the ViT, each against the CNN
    assert c3b.text == "holds" and c3b.support == (2, 2)


# --------------------------------------------------------------------------------------------- chapter 02: C2, C2b
class _Study:
    """A finished search as ``run_search`` returns it (only what chapter 02 reads)."""

    def __init__(self, value: float):
        self.trials: list = []
        self.best_value = value


@pytest.mark.parametrize("optimised, expected", [(0.85, "holds"), (0.70, "does not hold")])
def test_optimised_composites_follow_planted_curves(monkeypatch, optimised, expected):
    """The optimised composite at ``optimised`` A_PR against LRP-ε at 0.78 on the held-out tasks: C2's label
    holds when it is higher, fails when lower; ranking by |R| planted 0.05 above signed R: C2b holds."""
    prof = get_profile("smoke", seeds=list(range(8)), vit_models=[])
    trials = pd.DataFrame({"number": [0, 1], "A_PR": [0.8, 0.7], "Top-PR": [0.5, 0.4], "MAG": [True, False],
                           "composite": ["a", "b"]})  # fmt: skip
    monkeypatch.setattr(C02.S, "run_search", lambda *a, **k: _Study(0.8))
    monkeypatch.setattr(C02.S, "trials_frame", lambda study: trials.copy())
    monkeypatch.setattr(C02.S, "search_results", lambda *a, **k: None)
    monkeypatch.setattr(C02.S, "search_apr", lambda results: 0.75)
    monkeypatch.setattr(C02.S, "best_composite", lambda study: LRP_EPSILON)
    monkeypatch.setattr(C02, "get_model", lambda profile, name, progress=False: (nn.Linear(2, 2), {}))
    monkeypatch.setattr(C02, "find_components", lambda model: [])
    monkeypatch.setattr(C02, "make_task", lambda profile, seed: None)
    values = {"optimised": optimised, "LRP-ε": 0.78, "z+ (Yeom)": 0.70, "faithful": 0.72, "IG": 0.65, "random": 0.5}
    for label in ("optimised", "LRP-ε", "z+ (Yeom)"):
        values[f"{label} (|R|)"] = values[label] + 0.05
        values[f"{label} (signed)"] = values[label]

    def planted(profile, name, methods, kind="auto", **_):
        f = _summaries({m: values[m] for m in methods}, kinds=((name, "conv"),))
        return f, f

    monkeypatch.setattr(C02, "compare_methods", planted)
    r = C02.optimised_composites(prof, progress=False)
    assert r.claims["C2"].text == expected
    assert r.claims["C2b"].text == "holds"
    assert r.frames["gap"]["test margin over LRP-ε"].iloc[0] == pytest.approx(optimised - 0.78, abs=0.003)


# --------------------------------------------------------------------------------------- chapter 00: the zoo
def test_zoo_overview_reports_the_planted_regime_and_counts(monkeypatch):
    """A planted CNN with a drop of 25 points at 50 % random pruning is in the regime, one with 4 points is not;
    the table counts its parameters and channels."""
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    net(torch.zeros(1, 1, 8, 8))
    infos = {
        "vgg": {"test_accuracy": 0.9, "regime": {"conv": {"accuracy": 0.65, "drop": 0.25, "ok": True}}},
        "resnet": {"test_accuracy": 0.9, "regime": {"conv": {"accuracy": 0.86, "drop": 0.04, "ok": False}}},
    }
    monkeypatch.setattr(C00, "get_model", lambda profile, name, progress=False: (net, infos[name]))
    monkeypatch.setattr(C00, "count_components", lambda model, kind: 3)
    out = C00.zoo_overview(get_profile("default", vit_models=[]))
    regime = out["regime"].set_index("model")
    assert regime.loc["vgg", "regime (drop >= 10 points)"] == "yes" and regime.loc["vgg", "drop (points)"] == 25
    assert regime.loc["resnet", "regime (drop >= 10 points)"] == "no"
    zoo = out["zoo"].set_index("model")
    assert zoo.loc["vgg", "parameters"] == sum(p.numel() for p in net.parameters())
    assert zoo.loc["vgg", "component type"] == "conv channels"


def test_reference_draws_are_reproducible_and_differ_between_seeds(monkeypatch):
    """On planted labels (10 classes of 50): one seed draws the same indices twice; two seeds share few."""
    y = torch.as_tensor(np.repeat(np.arange(10), 50))

    class _Set:
        def __init__(self, labels):
            self.y = labels

    monkeypatch.setattr(C00, "splits", lambda profile: {"train": _Set(y)})
    out = C00.reference_draws(get_profile("default"))
    assert out["same seed, same indices"] and out["drawn"] == 10 * get_profile("default").n_ref
    assert out["shared by seeds 0 and 1"] < out["drawn"]
