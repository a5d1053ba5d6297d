"""Chapter 06 (claim C6): do explanations survive relevance-guided pruning, and does their change track the loss of
confidence (per task, over the pruning rates)?"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pbe_utils import verdicts
from pbe_utils.chapters.common import Result
from pbe_utils.components import find_components, kinds_for, masked
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.models import get_spec, model_device
from pbe_utils.profiles import Profile
from pbe_utils.pruning import global_masks
from pbe_utils.relevance import input_heatmaps
from pbe_utils.study import evaluate_method, get_model
from pbe_utils.tasks import make_task


def task_confidence(logits: torch.Tensor, y: torch.Tensor, classes: list[int] | None) -> torch.Tensor:
    """The probability of the true class under the softmax over the task's classes only (all when ``classes`` is
    None): the confidence a k-class task's model has in its answer."""
    if classes is not None:
        idx = torch.as_tensor(classes, device=logits.device)
        logits = logits[:, idx]
        y = (y.view(-1, 1).to(logits.device) == idx.view(1, -1)).float().argmax(1)
    return logits.softmax(-1)[torch.arange(len(y)), y.to(logits.device)]


def explanations_after_pruning(profile: Profile, n_images: int = 64, rates=None, progress: bool = True) -> Result:
    """C6 at the paper's granularity, for every model and component kind (CNN channels, ViT heads and neurons) and
    every evaluation task: LRP-ε input heatmaps of ``n_images`` test images before and after masking the least
    relevant components (LRP-ε scores) at ``rates`` (default: the profile's nonzero rates up to 50 %), and the
    confidence of the task-restricted softmax in the true class.

    Frames: ``per_image`` (model, kind, seed, rate, cosine similarity, heatmap change = 1 - cosine, confidence
    loss), ``per_rate`` (their means per task and rate), ``per_task`` (Pearson r over the rates between the mean
    heatmap change and the mean confidence loss: the paper's statistic, one per task), ``preservation`` (mean cosine
    at the largest rate of LRP-guided and of random pruning, per task).
    Verdict (one claim): LRP-guided pruning keeps heatmaps closer than random pruning at the largest rate (paired
    over tasks, margin 0.01 cosine), and the per-task correlation lies above ``verdicts.R_MIN`` (interval over
    tasks), in every cell."""
    rates = list(rates or [r for r in profile.rates if 0 < r <= 0.5] or [r for r in profile.rates if r > 0])
    rows, pres, examples = [], [], {}
    for name in profile.models:
        model, _ = get_model(profile, name, progress=False)
        dev = model_device(model)
        for kind in kinds_for(get_spec(name).family):
            comps = find_components(model, kind)
            for seed in tqdm(profile.seeds, desc=f"{name} ({kind}): heatmaps after pruning", disable=not progress):
                task = make_task(profile, seed)
                x, y = task.test.x[:n_images], task.test.y[:n_images]

                def conf(net) -> torch.Tensor:
                    with torch.no_grad():
                        return task_confidence(net(x.to(dev)), y, task.restrict).cpu()

                p0 = conf(model)
                h0 = input_heatmaps(model, x, y, LRP_EPSILON).flatten(1)
                for method in ("lrp", "random"):
                    comp = LRP_EPSILON if method == "lrp" else None
                    scores = evaluate_method(model, comps, task, method, comp, profile)["scores"]
                    for rate in rates if method == "lrp" else rates[-1:]:
                        with masked(model, comps, global_masks(scores, rate)):
                            p1 = conf(model)
                            h1 = input_heatmaps(model, x, y, LRP_EPSILON).flatten(1)
                        cos = torch.nn.functional.cosine_similarity(h0, h1, dim=1)
                        if rate == rates[-1]:  # heatmap preservation: both criteria at the largest rate
                            label = "LRP-ε scores" if method == "lrp" else "random scores"
                            pres.append(
                                {
                                    "model": name,
                                    "kind": kind,
                                    "seed": seed,
                                    "method": label,
                                    "cosine": float(cos.mean()),
                                }
                            )
                        if method == "random":
                            continue
                        if rate == rates[-1]:
                            if seed == profile.seeds[0]:
                                shape = (-1, *x.shape[2:])
                                examples[f"{name} / {kind}"] = (x[:4], h0[:4].view(shape), h1[:4].view(shape), rate)
                        rows += [
                            {
                                "model": name,
                                "kind": kind,
                                "seed": seed,
                                "image": i,
                                "rate": rate,
                                "cosine similarity": float(c),
                                "heatmap change": 1 - float(c),
                                "confidence loss": float(a - b),
                            }
                            for i, (c, a, b) in enumerate(zip(cos, p0, p1, strict=True))
                        ]
    res = pd.DataFrame(rows)
    res["model / components"] = res["model"] + " / " + res["kind"]
    per_rate = (
        res.drop(columns="image")
        .groupby(["model", "kind", "model / components", "seed", "rate"], as_index=False)
        .mean(numeric_only=True)
    )
    per_task = per_task_correlation(per_rate)
    preservation = pd.DataFrame(pres)
    kept = verdicts.compare(
        preservation, "LRP-ε scores", "random scores", value="cosine", gate=pd.DataFrame(), margin=COSINE_MARGIN
    )
    tracks = verdicts.above_threshold(per_task, "r", label="r(heatmap change, confidence loss) per task")
    verdict = verdicts.judge(kept, tracks)
    pooled = [
        {"model": m, "kind": k, **verdicts.correlation_cell(g["heatmap change"], g["confidence loss"], "pearson")}
        for (m, k), g in res.groupby(["model", "kind"], sort=False)
    ]
    frames = {
        "per_image": res,
        "per_rate": per_rate,
        "per_task": per_task,
        "preservation": preservation,
        "pooled": pd.DataFrame(pooled)[["model", "kind", "n", "difference", "ci_low", "ci_high"]].rename(
            columns={"difference": "r"}
        ),
    }
    return Result(frames, verdict.cells, verdict, {"examples": examples, "rates": rates})


def per_task_correlation(per_rate: pd.DataFrame) -> pd.DataFrame:
    """C6's statistic: per model, kind and task (seed), Pearson r over the rates between the mean heatmap change and
    the mean confidence loss (NaN with fewer than 3 rates, or when either is constant)."""
    rows = []
    for (m, k, seed), g in per_rate.groupby(["model", "kind", "seed"], sort=False):
        x, y = g["heatmap change"].to_numpy(float), g["confidence loss"].to_numpy(float)
        ok = len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0
        rows.append({"model": m, "kind": k, "seed": seed, "r": float(np.corrcoef(x, y)[0, 1]) if ok else np.nan})
    return pd.DataFrame(rows)


#: C6's margin for mean cosine similarity (0-1 scale, like A_PR): a hundredth is below what a reader sees in a heatmap
COSINE_MARGIN = 0.01
