"""The chapters beyond the paper: the replayed search equals a real one, the shipped grid recomputes, the experiment
functions return their documented frames, and their verdicts follow planted data."""

import numpy as np
import pandas as pd
import pytest

from pbe_utils import chapters as E
from pbe_utils import grid as G
from pbe_utils import replay as RP
from pbe_utils import search as S
from pbe_utils import verdicts
from pbe_utils.chapters import c09_explanation_vs_pruning as C09
from pbe_utils.composites import LRP_EPSILON, YEOM_ZPLUS, Composite, grid_points, params_key, parse_restrict, space_for
from pbe_utils.families import CNN_FAMILY
from pbe_utils.profiles import get_profile

ROOT = G.SHIPPED_GRIDS.parent.parent


def test_compare_accepts_several_a_against_one_b():
    frame = pd.DataFrame(
        [
            {"model": "m", "method": m, "seed": s, "A_PR": v + 0.001 * s}
            for s in range(6)
            for m, v in (("base", 0.5), ("good", 0.6), ("same", 0.5))
        ]
    )
    out = verdicts.compare(frame, ["good", "same"], "base")
    # two copies of one method: identical by construction, set aside (never a tie or a win)
    assert list(out["a"]) == ["good", "same"] and list(out["outcome"]) == ["win", "identical"]
    assert out["difference"].iloc[0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="cannot both list"):
        verdicts.compare(frame, ["good"], ["base"])


# ------------------------------------------------------------------------------------------------------ replay
def _table(space, seed=0):
    rng = np.random.default_rng(seed)
    return {params_key(p): float(rng.random()) for p in grid_points(space)}


def test_replay_proposes_only_grid_points_and_counts_distinct_evaluations():
    space = space_for("cnn", {"LLL": ["epsilon"], "MLL": ["epsilon"]})  # 32 points
    values = _table(space)
    for sampler in ("tpe", "random"):
        tr = RP.replay(values, space, sampler, seed=1, n_trials=60)
        assert len(tr) == 60 and tr["evaluations"].is_monotonic_increasing
        assert tr["evaluations"].iloc[-1] <= 32 and (tr["best"].cummax() == tr["best"]).all()
        assert set(tr["value"]) <= set(values.values())
    best = max(values.values())
    tr = RP.replay(values, space, "random", seed=1, n_trials=500, stop_at=best)
    assert tr["best"].iloc[-1] == best and (tr["best"].iloc[:-1] < best).all()
    assert RP.evaluations_to_reach(tr, best) == tr["evaluations"].iloc[-1]
    assert np.isnan(RP.evaluations_to_reach(tr, best + 1))
    tpe = RP.replay(values, space, "tpe", seed=1, n_trials=2)  # a Bayesian search starts from LRP-ε
    assert tpe["value"].iloc[0] == values[params_key(LRP_EPSILON.as_params())]
    with pytest.raises(KeyError, match="complete grid"):
        RP.replay(dict(list(values.items())[:3]), space, "random", seed=0, n_trials=40)


@pytest.mark.slow
def test_replayed_search_proposes_what_the_real_search_proposes(smoke, tmp_path):
    """A TPE search run for real (scores computed) and the same sampler replayed against the grid's values make the
    same proposals, in the same order: replaying is exact because the objective is deterministic."""
    restrict = {"LLL": ["epsilon"], "MLL": ["epsilon"], "HLL": ["epsilon", "zplus"], "FCL": ["epsilon", "zplus"]}
    url = f"sqlite:///{tmp_path / 'r.db'}"
    grid = S.run_search(smoke, "vgg", storage=url, sampler="grid", restrict=restrict, progress=False)
    space = space_for("cnn", restrict)
    values = G.grid_values(S.grid_frame(grid), space)
    real = S.run_search(smoke, "vgg", storage=url, sampler="tpe", n_trials=5, restrict=restrict, seed=7, progress=False)
    done = sorted(real.get_trials(deepcopy=False), key=lambda t: t.number)
    proposals = [params_key(t.params) for t in done if t.params]
    replayed = RP.replay(values, space, "tpe", seed=7, n_trials=len(proposals))
    real_values = [t.value for t in done if t.params]
    assert list(replayed["value"]) == pytest.approx(real_values, abs=1e-12)
    assert proposals[0] == params_key(LRP_EPSILON.as_params())


# ----------------------------------------------------------------------------------------------- shipped grid


# --------------------------------------------------------------------------------------- experiment functions
@pytest.mark.slow
def test_search_cost_on_the_smoke_profile(smoke):
    restrict = parse_restrict(smoke.grid_restrict)
    R = E.search_cost(smoke, "vgg", sampler_seeds=(0, 1, 2), max_proposals=20, restrict=restrict, progress=False)
    grid, cost, tr = R.frames["grid"], R.frames["cost"], R.frames["traces"]
    assert len(grid) == len(grid_points(space_for("cnn", restrict)))
    assert {"composite", "A_PR", "seconds", "MAG", "FCL"} <= set(grid.columns)
    assert {"method", "seed", "evaluations", "evaluations to best", "search seconds"} <= set(cost.columns)
    assert set(cost["method"]) == {"TPE", "GP", "random sampling"} and len(cost) == 9
    assert (tr.groupby(["sampler", "seed"])["best"].max() <= R.info["grid best"] + 1e-12).all()
    c = R.comparisons
    assert set(c["b"]) == {"TPE", "GP"} and set(c["value"]) == {"evaluations (log-rank)"}
    assert set(c["outcome"]) <= {"win", "loss", "unclear", "within the random start"}
    assert R.verdict.text == verdicts.judge(c).text
    assert R.info["record"]["source"].startswith(("computed now", "read from"))
    from pbe_utils.claims import resolved_parameters, zoo_hashes

    assert R.info["record"]["parameters"] == resolved_parameters(smoke)  # the grid carries what produced it
    assert R.info["record"]["zoo"] == {"vgg": zoo_hashes(smoke)["vgg"]}
    again = E.search_cost(smoke, "vgg", sampler_seeds=(0,), max_proposals=5, restrict=restrict, progress=False)
    assert again.info["record"]["source"].startswith("read from")  # the written file is read back
    with pytest.raises(ValueError, match="samplers"):
        E.search_cost(smoke, "vgg", samplers=("annealing",), restrict=restrict)


def test_explanation_composites_span_the_space():
    comps = E.explanation_composites(CNN_FAMILY, optimised=Composite(hll="gamma", fcl="zplus", mag=False, lll="zplus"))
    assert len(comps) == 32 + 1 + 1 and {"LRP-ε", "z+ (Yeom)", "optimised"} <= set(comps)
    same = E.explanation_composites(CNN_FAMILY, optimised=YEOM_ZPLUS)
    assert "optimised = z+ (Yeom)" in same and "z+ (Yeom)" not in same and len(same) == 33
    assert list(comps.values()).count(LRP_EPSILON) == 1


@pytest.mark.slow
@pytest.mark.parametrize("planted, expected", [(+1, "holds"), (-1, "does not hold")])
def test_explanation_vs_pruning_follows_planted_faithfulness(smoke, monkeypatch, planted, expected):
    """Metrics planted as a monotone function of each composite's A_PR: the verdict follows their sign."""
    apr = {
        params_key(c.as_params()): 0.5 + 0.01 * i for i, c in enumerate(E.explanation_composites(CNN_FAMILY).values())
    }
    by_rules = {}
    for c in E.explanation_composites(CNN_FAMILY).values():
        by_rules.setdefault(c.rules, []).append(apr[params_key(c.as_params())])

    state = {}

    def planted_metrics(model, x, y, a, features_in_step):
        rules = state["rules"]
        v = float(np.mean(by_rules[rules]))
        n = len(y)
        return {
            "pixel-flipping AUC": np.full(n, -planted * v),
            "complexity": np.full(n, 1.0),
            "sparseness": np.full(n, 0.5),
        }

    real_heatmaps = C09.input_heatmaps

    def heat(model, x, y, composite):
        state["rules"] = composite.rules
        return real_heatmaps(model, x[:2], y[:2], composite)

    monkeypatch.setattr(C09, "input_heatmaps", heat)
    monkeypatch.setattr(C09, "faithfulness_metrics", planted_metrics)
    R = E.explanation_vs_pruning(smoke, "vgg", grid_values=apr, n_images=2, progress=False)
    frame = R.frames["composites"]
    assert len(frame) == 33 and {"A_PR", "faithfulness", "complexity", "sparseness", "A_PR rank"} <= set(frame)
    assert R.verdict.text == expected
    # one correlation per ranking (|R| and signed R share each heatmap): every composite counted once
    assert R.comparisons["n"].sum() == 33 and set(R.comparisons["ranking"]) == {"|R|", "signed R"}


@pytest.mark.slow
def test_transfer_cells_on_the_smoke_profile(smoke):
    opt = {"vgg": Composite(fcl="zplus"), "vit_timm": LRP_EPSILON}
    R = E.transfer(smoke, optimised=opt, progress=False)
    cmp = R.comparisons
    # one family member each in the smoke profile: 2 targets x 2 task sizes x 1 source
    assert len(cmp) == 4 and set(cmp["task_size"]) == {3, 10}
    assert cmp["home"].sum() == 2 and set(cmp["source"]) == {"vgg", "vit_timm"}
    vit = cmp[cmp.target == "vit_timm"]
    assert (vit["difference"] == 0).all() and set(vit["outcome"]) == {"identical"}  # ε vs itself: set aside
    s = R.frames["summaries"]
    assert {"target", "task_size", "method", "seed", "A_PR"} <= set(s.columns)
    assert set(s["method"]) == {"LRP-ε", "random", "optimised on vgg", "optimised on vit_timm"}


# ----------------------------------------------------------------------------- the chapters of the paper's claims
@pytest.fixture
def planted_vgg(smoke_vgg):
    """The smoke VGG with 25 % of the channels of every convolution dead (BatchNorm scale and shift zeroed): the
    channels with the smallest BatchNorm scale, so that the network stays accurate."""
    import copy

    import torch

    planted = copy.deepcopy(smoke_vgg)
    for m in planted.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            dead = m.weight.detach().abs().argsort()[: m.num_features // 4]
            with torch.no_grad():
                m.weight[dead] = 0.0
                m.bias[dead] = 0.0
    return planted


@pytest.mark.slow
def test_uniform_composites_find_planted_dead_channels(monkeypatch, planted_vgg):
    """A criterion that sees the dead channels beats random: LRP-ε prunes exactly the dead ones first."""
    from pbe_utils import study

    monkeypatch.setattr(study, "get_model", lambda p, name, progress=True: (planted_vgg, {}))
    P = get_profile("smoke", vit_models=[], seeds=list(range(8)))
    R = E.uniform_composites(P, progress=False)
    s, c = R.frames["summaries"], R.comparisons
    assert {"method", "model", "kind", "seed", "A_PR", "Top-PR", "model / components"} <= set(s.columns)
    assert set(s["method"]) == {"LRP-ε", "z+ (Yeom)", "α2β1", "γ", "random"} and len(c) == 1
    vs_random = verdicts.compare(s, "LRP-ε", "random")
    assert (vs_random["outcome"] == "win").all(), vs_random
    eps = R.frames["curves"].query("method == 'LRP-ε'").pivot_table(index="seed", columns="rate", values="accuracy")
    assert np.allclose(eps[0.2], eps[0.0])  # 20 % < 25 % dead: nothing alive was pruned
    rnd = R.frames["curves"].query("method == 'random'").pivot_table(index="seed", columns="rate", values="accuracy")
    assert (rnd[0.2] < eps[0.2]).all()


@pytest.mark.slow
def test_reference_samples_and_explanations_after_pruning_on_smoke(smoke):
    R = E.reference_samples(smoke, progress=False)
    res, stab = R.frames["results"], R.frames["stability"]
    assert {"model", "family", "n_ref", "seed", "A_PR", "Top-PR"} <= set(res.columns)
    assert len(res) == len(smoke.models) * len(smoke.ref_sweep) * len(smoke.seeds)
    top = stab[stab.n_ref == max(smoke.ref_sweep)]["Spearman"]
    assert np.allclose(top, 1.0)  # the most references agree with themselves
    # the plateau on the smoke sweep (1, 3): CNN 3 beats 1 (a win goal), ViT 1 is as good as 3 (a tie goal)
    assert set(R.comparisons["comparison"]) == {"CNN: n=3 vs n=1", "ViT: n=1 vs n=3"}
    assert dict(zip(R.comparisons["comparison"], R.comparisons["goal"], strict=True)) == {
        "CNN: n=3 vs n=1": "win",
        "ViT: n=1 vs n=3": "tie",
    }
    X = E.explanations_after_pruning(smoke, n_images=8, rates=[0.1, 0.3, 0.5], progress=False)
    per = X.frames["per_image"]
    # (vgg conv, vit_timm neurons, vit_timm heads) x seeds x rates x images
    assert len(per) == 3 * len(smoke.seeds) * 3 * 8
    assert len(X.frames["per_task"]) == 3 * len(smoke.seeds)
    assert X.frames["per_task"]["r"].between(-1, 1).all()
    pres = X.frames["preservation"]
    assert set(pres["method"]) == {"LRP-ε scores", "random scores"} and len(pres) == 2 * 3 * len(smoke.seeds)
    assert set(X.comparisons["comparison"]) == {
        "heatmaps kept at Top-PR: LRP-ε vs random",
        "tracks at Top-PR (over images)",
        "r over rates (the paper's statistic) above 0.3",
        "heatmaps kept at 50 %: LRP-ε vs random",
        "tracks at 50 % (over images)",
    }
    top = X.frames["at_top_pr"]
    assert len(top) == 3 * len(smoke.seeds) and top["Top-PR"].between(0, 1).all()
    # the label comes from the two primary halves; the paper's statistic over rates is also asked
    assert [c.role for c in X.verdict.comparisons].count("primary") == 2


def test_c6_statistic_is_one_for_a_planted_linear_relation():
    """Heatmap change a linear function of confidence loss over the rates: r = 1 per task; reversed: r = -1."""
    rows = []
    for seed in range(4):
        for i, rate in enumerate((0.1, 0.2, 0.3, 0.4)):
            loss = 0.05 * i + 0.01 * seed
            rows.append(
                {
                    "model": "m",
                    "kind": "conv",
                    "seed": seed,
                    "rate": rate,
                    "confidence loss": loss,
                    "heatmap change": 0.2 + 3 * loss,
                }
            )
    per_rate = pd.DataFrame(rows)
    assert np.allclose(E.per_task_correlation(per_rate)["r"], 1.0)
    flipped = per_rate.assign(**{"heatmap change": 1 - per_rate["heatmap change"]})
    assert np.allclose(E.per_task_correlation(flipped)["r"], -1.0)
    cells = verdicts.above_threshold(E.per_task_correlation(per_rate).assign(r=lambda f: f.r - 0.01 * f.seed), "r")
    assert cells.outcome.iloc[0] == "win"


def test_c3_compares_each_vit_with_each_cnn_in_parameters():
    """Planted: the ViT sheds 60 % of its parameters at Top-PR, the CNN 30 %: the ViT wins in parameters (heads
    are compared as well as neurons)."""
    rows = []
    for seed in range(6):
        rows.append({"model": "vit", "kind": "neurons", "seed": seed, "parameters removed": 0.6 + 0.01 * (seed % 2)})
        rows.append({"model": "cnn", "kind": "conv", "seed": seed, "parameters removed": 0.3 + 0.01 * (seed % 3)})
    cells = E.vit_vs_cnn(pd.DataFrame(rows), "parameters removed", "ViT vs CNN")
    v = verdicts.judge(cells)
    assert v.text == "holds" and list(v.cells["comparison"]) == ["ViT vs CNN"] and list(v.cells["b"]) == ["cnn/conv"]
    assert v.cells["model"].iloc[0] == "vit" and v.cells["difference"].iloc[0] == pytest.approx(0.3, abs=0.02)


def test_reference_plateau_on_planted_data():
    """CNN: a gain from 1 to 10 per class and none after; ViT flat: C4 holds. A CNN still gaining at 30: it fails."""
    rows = []
    for seed in range(8):
        j = 0.002 * (seed % 3)
        for n, cnn, vit in ((1, 0.70, 0.80), (3, 0.75, 0.80), (10, 0.80, 0.80), (30, 0.80, 0.80)):
            wobble = 0.0003 * (seed % 2) * (n == 30)  # a measured tie at 30, not an identical copy of 10
            rows.append({"model": "c", "kind": "CNN", "method": f"n={n}", "seed": seed, "A_PR": cnn + j + wobble})
            rows.append({"model": "v", "kind": "VIT", "method": f"n={n}", "seed": seed, "A_PR": vit + j + 0.0001 * n})
    f = pd.DataFrame(rows)
    v, plan = E.reference_verdict(f, (1, 3, 10, 30))
    assert v.text == "holds" and plan == {"lo": 1, "mid": 10, "plateau": 30}
    gaining = f.copy()
    gaining.loc[(gaining.kind == "CNN") & (gaining.method == "n=30"), "A_PR"] += 0.05
    still = E.reference_verdict(gaining, (1, 3, 10, 30))[0]
    # the plateau (30 vs 10) is also asked: it fails, the label (10 beats 1 on CNNs, 1 ties 10 on ViTs) stands
    assert still.text == "holds"
    assert {c.comparison: c.verdict for c in still.also_asked}["CNN: n=30 vs n=10"] == "does not hold"
    flat_cnn = f.copy()
    flat_cnn.loc[(flat_cnn.kind == "CNN") & (flat_cnn.method == "n=1"), "A_PR"] += 0.10  # 1 per class as good
    assert E.reference_verdict(flat_cnn, (1, 3, 10, 30))[0].text == "does not hold"


@pytest.fixture(scope="module")
def tiny_paper(tmp_path_factory):
    """A paper-like profile on CPU: a synthetic ImageNet-layout folder, torchvision's ResNet-18 at random weights."""
    from pbe_utils.data import make_synthetic_imagefolder

    root = make_synthetic_imagefolder(
        tmp_path_factory.mktemp("imagenet"), n_classes=4, train_per_class=3, val_per_class=2, size=(230, 250)
    )
    return get_profile(
        "paper",
        imagenet_root=str(root),
        cnn_models=["resnet18"],
        vit_models=[],
        n_ref=1,
        n_search=2,
        seeds=[0, 1, 2],
        search_seeds=[100],
        ref_sweep=[1, 2],
        task_sizes=[2, 3],
        rates=(0.0, 0.3, 0.6),
        weights="random",
        device="cpu",
        batch_size=4,
    )


@pytest.mark.slow
def test_experiments_run_under_a_paper_like_profile(tiny_paper):
    """The library handles the paper profile's data (no embedded splits) and device: the experiments of chapters
    01, 04, 06 and 07 run end to end on ImageNet-layout folders."""
    R1 = E.uniform_composites(tiny_paper, progress=False)
    assert len(R1.frames["summaries"]) == 5 * 3 and R1.frames["curves"]["accuracy"].between(0, 1).all()
    R4 = E.reference_samples(tiny_paper, progress=False)
    assert len(R4.frames["results"]) == 2 * 3
    R6 = E.explanations_after_pruning(tiny_paper, n_images=4, progress=False)
    # the profile's nonzero rates up to 50 % (0.3) x seeds x images (each 3-class task has 6 val images)
    assert len(R6.frames["per_image"]) == 1 * 3 * 4
    assert R6.frames["per_task"]["r"].isna().all()  # one rate: no correlation over rates, so nothing is decided
    over_rates = R6.comparisons["comparison"].str.startswith("r over rates")
    assert set(R6.comparisons.loc[over_rates, "outcome"]) == {"too few seeds"}
    R7 = E.what_pruning_buys(tiny_paper, rates=(0.0, 0.3), finetune_steps=2)
    res = R7.frames["results"]
    assert (res["accuracy (masked)"] == res["accuracy (removed)"]).all() and res["max |Δ logit|"].max() < 1e-3


def test_across_models_concatenates_frames_and_judges_every_model_as_one_claim():
    """Two models, one cell each: the frames gain a model column (a named index is kept), the cells of both models
    form one Holm family (a p that passes alone fails once doubled), info is keyed by model."""
    from pbe_utils.chapters.common import Result, across_models

    def one(model: str, p_win: float) -> Result:
        cells = pd.DataFrame(
            [
                {"model": model, "kind": "k", "a": "x", "b": "y", "comparison": "x vs y", "goal": "win",
                 "value": "A_PR", "margin": 0.0, "gap": np.nan, "identical": False, "d": None, "n": 10,
                 "difference": 0.1, "SE": np.nan, "sd": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                 "p_win": p_win, "p_loss": 0.9, "p_tie": 1.0}
            ]
        )  # fmt: skip
        summary = pd.DataFrame({"value": [1.0]}, index=pd.Index(["x"], name="method"))
        frames = {"summary": summary, "plain": pd.DataFrame({"v": [2]})}
        return Result(frames, cells, verdicts.judge(cells), {"m": model})

    alone = one("a", 0.03)
    assert alone.verdict.text == "holds"  # 0.03 < 0.05 on its own
    both = across_models({"a": alone, "b": one("b", 0.2)})
    assert list(both.frames["summary"].columns) == ["method", "value", "model"]
    assert list(both.frames["plain"]["model"]) == ["a", "b"] and both.info == {"a": {"m": "a"}, "b": {"m": "b"}}
    out = both.comparisons.set_index("model")
    assert out.loc["a", "p_win_holm"] == pytest.approx(0.06) and out.loc["a", "outcome"] == "unclear"
    assert both.verdict.text == "undecided"


def test_per_model_figures_have_one_panel_per_model():
    import matplotlib.pyplot as plt

    from pbe_utils import plots

    grids = {m: pd.DataFrame({"A_PR": np.linspace(0.5, 0.7, 9)}) for m in ("a", "b", "c")}
    fig = plots.grid_landscape(grids, {"a": {"LRP-ε": 0.6}})
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["a: 9 composites", "b: 9 composites",
                                                                         "c: 9 composites"]  # fmt: skip
    progress = pd.DataFrame(
        [{"model": m, "sampler": s, "seed": 0, "evaluations": e, "best": e / 10} for m in "ab" for s in ("TPE", "GP")
         for e in (1, 2, 3)]
    )  # fmt: skip
    fig = plots.search_progress(progress, {"a": 0.2, "b": 0.25})
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["a", "b"]
    plt.close("all")
