"""Chapter 01 (claim C1): LRP-ε against z+ and the other uniform composites as pruning criteria."""

from __future__ import annotations

import pandas as pd
import torch

from pbe_utils import registry, verdicts
from pbe_utils.chapters.common import Result, compare_all
from pbe_utils.composites import LRP_EPSILON, UNIFORM, YEOM_ZPLUS
from pbe_utils.models import REGISTRY
from pbe_utils.profiles import Profile
from pbe_utils.relevance import input_heatmaps
from pbe_utils.study import get_model
from pbe_utils.tasks import make_task


def uniform_composites(profile: Profile, progress: bool = True) -> Result:
    """C1: the four uniform composites (ε, z+, α2β1, γ) and random pruning on every model and component kind (ViTs:
    MLP neurons and attention heads). Frames: ``curves`` and ``summaries`` (see
    :func:`pbe_utils.study.compare_methods`). Comparisons: A_PR(LRP-ε) - A_PR(z+) per model and kind. Verdict:
    LRP-ε beats z+ everywhere it can be decided."""
    methods = {
        "LRP-ε": ("lrp", LRP_EPSILON),
        "z+ (Yeom)": ("lrp", YEOM_ZPLUS),
        "α2β1": ("lrp", UNIFORM["alpha2beta1"]),
        "γ": ("lrp", UNIFORM["gamma"]),
        "random": ("random", None),
    }
    curves, summaries = compare_all(profile, lambda _: methods, progress)
    verdict = verdicts.judge(verdicts.compare(summaries, "LRP-ε", "z+ (Yeom)"), primary=registry.claim("C1").primary)
    return Result({"curves": curves, "summaries": summaries}, verdict.cells, verdict, claims={"C1": verdict})


def object_share(heat: torch.Tensor, images: torch.Tensor) -> float:
    """The share of absolute relevance on the object (pixels brighter than the image's background by 0.1): a crude
    "looks right" score of an input heatmap."""
    on = images[:, 0] > images.amin((1, 2, 3)).view(-1, 1, 1) + 0.1
    mass = heat.abs()
    return float((mass * on).sum() / mass.sum().clamp_min(1e-12))


def heatmap_study(profile: Profile, n_images: int = 64, shown: int = 5) -> tuple[pd.DataFrame, dict]:
    """Input heatmaps of LRP-ε, z+ (Yeom) and the faithful composite on ``n_images`` test images of the first task,
    for the first CNN and the first ViT. Returns a frame (model, composite, relevance on the object, negative share)
    and, per model, the first ``shown`` images with their heatmaps (for :func:`pbe_utils.plots.heatmaps`)."""
    rows, maps = [], {}
    for name in profile.cnn_models[:1] + profile.vit_models[:1]:
        model, _ = get_model(profile, name, progress=False)
        task = make_task(profile, profile.seeds[0])
        x, y = task.test.x[:n_images], task.test.y[:n_images]
        faithful = REGISTRY[name].family.faithful
        composites = {"LRP-ε": LRP_EPSILON, "z+ (Yeom)": YEOM_ZPLUS, "faithful": faithful}
        heat = {k: input_heatmaps(model, x, y, c) for k, c in composites.items()}
        for k, h in heat.items():
            rows.append(
                {
                    "model": name,
                    "composite": k,
                    "relevance on the object": object_share(h, x),
                    "negative share": float(h.clamp(max=0).abs().sum() / h.abs().sum().clamp_min(1e-12)),
                }
            )
        maps[name] = (x[:shown], {k: h[:shown] for k, h in heat.items()})
    return pd.DataFrame(rows), maps
