"""Chapter 03 (claims C3 and C3b): over-parameterisation of CNNs and ViTs, in components and in parameters, and the
task-size effect."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from pbe_utils import registry, verdicts
from pbe_utils.chapters.common import Result, compare_all
from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.compress import remove_components
from pbe_utils.cost import count_macs
from pbe_utils.models import model_device
from pbe_utils.profiles import Profile
from pbe_utils.pruning import global_masks
from pbe_utils.study import compare_methods, evaluate_method, get_model
from pbe_utils.tasks import make_task


def cnn_vs_vit(profile: Profile, progress: bool = True) -> Result:
    """C3 and C3b: LRP-ε and random pruning on every model and kind, and LRP-ε on the first CNN and ViT for every
    task size of ``profile.task_sizes``. Frames: ``curves``, ``summaries``, ``task curves``, ``task summaries``,
    ``removed`` (share of parameters and MACs removed at each seed's Top-PR).
    Verdicts (``claims``): ``C3`` (primary: Top-PR, each ViT's neurons and heads vs each CNN's channels, margin
    0.05; also asked: the share of removable parameters removed at Top-PR) and ``C3b`` (Top-PR of the smallest vs
    the largest task size per model)."""
    methods = {"LRP-ε": ("lrp", LRP_EPSILON), "random": ("random", None)}
    curves, summaries = compare_all(profile, lambda _: methods, progress)
    task_curves, task_sum = [], []
    for name in profile.cnn_models[:1] + profile.vit_models[:1]:
        for k in profile.task_sizes:
            c, s = compare_methods(profile, name, {"LRP-ε": methods["LRP-ε"]}, n_classes=k, progress=progress)
            task_curves.append(c)
            task_sum.append(s)
    tc, ts = pd.concat(task_curves, ignore_index=True), pd.concat(task_sum, ignore_index=True)
    s_eps = summaries[summaries.method == "LRP-ε"]
    removed = removed_at_top_pr(profile, s_eps)
    c3 = registry.claim("C3")
    # C3 in the paper's unit (primary): Top-PR, a share of components, each ViT's neurons and heads vs each CNN's
    # channels; also asked: the share of the *removable* parameters removed at Top-PR (each kind's ceiling: pruning
    # every ViT neuron frees only a third to a half of the parameters, every CNN channel nearly all of them)
    v3 = verdicts.judge(
        vit_vs_cnn(s_eps, "Top-PR", c3.primary[0]),
        vit_vs_cnn(removed, "share of removable parameters removed", c3.secondary[0]),
        primary=c3.primary,
    )
    kk = ts.assign(method=ts["n_classes"].map(lambda k: f"k={k}"))
    small, large = f"k={min(profile.task_sizes)}", f"k={max(profile.task_sizes)}"
    v3b = verdicts.judge(verdicts.compare(kk, small, large, value="Top-PR", by=("model", "kind")))
    frames = {"curves": curves, "summaries": summaries, "task curves": tc, "task summaries": ts, "removed": removed}
    info = {"small": small, "large": large}
    return Result(frames, v3.cells, v3, info, claims={"C3": v3, "C3b": v3b})


def vit_vs_cnn(frame: pd.DataFrame, value: str, name: str) -> pd.DataFrame:
    """Cells "each ViT kind (MLP neurons, attention heads) vs each CNN's channels" in ``value`` (paired over seeds:
    the same tasks), all in one comparison called ``name``; a cell carries the ViT's model and kind (the matrix shows
    it under the ViT) and the CNN in ``b``. Margin: 0.05, a step of the rate grid (Top-PR) and 5 % of the
    parameters."""
    f = frame.assign(method=frame["model"] + "/" + frame["kind"], pair="all")
    cnn = [k for k in dict.fromkeys(f["method"]) if k.endswith("/conv")]
    vit = [k for k in dict.fromkeys(f["method"]) if k.endswith(("/neurons", "/heads"))]
    out = []
    for vk in vit:
        cells = verdicts.compare(f, vk, cnn, value=value, by="pair", margin=verdicts.MARGIN_TOP_PR, gate=pd.DataFrame())
        model, kind = vk.split("/")
        out.append(cells.drop(columns=["pair"]).assign(model=model, kind=kind, comparison=name))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def removal_ceiling(model: nn.Module, comps: list, example: torch.Tensor, params0: int) -> float:
    """The largest share of ``model``'s ``params0`` parameters that pruning ``comps`` can remove: every component of
    the kind removed from the physically pruned copy (a ViT neuron frees its fc1 row and fc2 column, a head its
    slices of the attention projections; a CNN channel its filters and the next layer's inputs)."""
    small, _ = remove_components(model, comps, [torch.zeros(c.size) for c in comps], example[:1])
    return 1 - count_macs(small, example)[1] / params0


def removed_at_top_pr(profile: Profile, s_eps: pd.DataFrame) -> pd.DataFrame:
    """Per model, component kind and seed: the share of the model's parameters and of its MACs removed when the
    Top-PR share of components is pruned, the kind's ceiling (:func:`removal_ceiling`) and the share of the removable
    parameters removed (LRP-ε order of that seed), counted on the physically pruned copy
    (:func:`pbe_utils.compress.remove_components`; a ResNet stream channel some writer still keeps stays, zeroed)."""
    rows = []
    for (name, kind), g in s_eps.groupby(["model", "kind"], sort=False):
        model, _ = get_model(profile, name, progress=False)
        comps = find_components(model, kind)
        records = g.to_dict("records")
        # the unpruned model's counts depend on the input's shape only: once per model and kind
        first = make_task(profile, int(records[0]["seed"])).test.x[:2].to(model_device(model))
        macs0, params0 = count_macs(model, first)
        ceiling = removal_ceiling(model, comps, first, params0)
        for r in records:
            task = make_task(profile, int(r["seed"]))
            example = task.test.x[:2].to(model_device(model))
            scores = evaluate_method(model, comps, task, "lrp", LRP_EPSILON, profile)["scores"]
            small, _ = remove_components(model, comps, global_masks(scores, float(r["Top-PR"])), example[:1])
            macs, params = count_macs(small, example)
            rows.append(
                {
                    "model": name,
                    "kind": kind,
                    "seed": int(r["seed"]),
                    "method": "LRP-ε",
                    "Top-PR": float(r["Top-PR"]),
                    "parameters removed": 1 - params / params0,
                    "ceiling": ceiling,
                    "share of removable parameters removed": (1 - params / params0) / ceiling,
                    "MACs removed": 1 - macs / macs0,
                }
            )
    return pd.DataFrame(rows)
