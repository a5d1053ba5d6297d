"""Chapter 06 (claim C6): do explanations survive relevance-guided pruning, and does their change track the loss of
confidence (per task, over the pruning rates)?"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pbe_utils import registry, verdicts
from pbe_utils.chapters.common import Result
from pbe_utils.components import find_components, masked
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


def explanations_after_pruning(
    profile: Profile, n_images: int = 64, rates=None, progress: bool = True, kinds: tuple[str, ...] | None = None
) -> Result:
    """C6 for every model and component kind (CNN channels, ViT heads and neurons) and every evaluation task: LRP-ε
    input heatmaps of ``n_images`` test images before and after masking the least relevant components (LRP-ε
    scores) at the task's own Top-PR and at ``rates`` (default: the profile's nonzero rates up to 50 %), the same
    number of components pruned at random at Top-PR, and the confidence of the task-restricted softmax in the true
    class. ``kinds``: only these component kinds (default: every kind of each model's family).

    Frames: ``per_image`` (model, kind, seed, rate, cosine similarity, heatmap change = 1 - cosine, confidence
    loss; ``at Top-PR`` marks the task's Top-PR), ``per_rate`` (means per task and rate over ``rates``),
    ``per_task`` (Pearson r over the rates: the paper's statistic), ``at_top_pr`` (per task: Top-PR, the Pearson r
    over images at Top-PR, the mean confidence loss), ``preservation`` (mean cosine at Top-PR of LRP-guided and of
    random pruning, per task), ``gate`` (A_PR of LRP-ε and of random pruning per model and kind).

    Verdict (:mod:`pbe_utils.registry` C6), two primary halves: LRP-guided pruning keeps heatmaps closer than
    random pruning at Top-PR (paired over tasks, margin 0.01 cosine, the gate of LRP-ε vs random in A_PR), and the
    per-image correlation at Top-PR lies above ``verdicts.R_MIN`` (one r per task, its interval over tasks), set
    aside where the mean confidence loss at Top-PR stays below ``CONFIDENCE_FLOOR`` (nothing to track). Also
    asked: the paper's statistic, r over the rates per task, above ``R_MIN``."""
    rates = list(rates or [r for r in profile.rates if 0 < r <= 0.5] or [r for r in profile.rates if r > 0])
    rows, pres, examples, top_rows, gate_rows, fixed = [], [], {}, [], [], []
    for name in profile.models:
        model, _ = get_model(profile, name, progress=False)
        dev = model_device(model)
        for kind in kinds or get_spec(name).family.kinds:
            comps = find_components(model, kind)
            for seed in tqdm(profile.seeds, desc=f"{name} ({kind}): heatmaps after pruning", disable=not progress):
                task = make_task(profile, seed)
                x, y = task.test.x[:n_images], task.test.y[:n_images]

                def conf(net) -> torch.Tensor:
                    with torch.no_grad():
                        return task_confidence(net(x.to(dev)), y, task.restrict).cpu()

                p0 = conf(model)
                h0 = input_heatmaps(model, x, y, LRP_EPSILON).flatten(1)
                lrp = evaluate_method(model, comps, task, "lrp", LRP_EPSILON, profile)
                rnd = evaluate_method(model, comps, task, "random", None, profile)
                top = float(lrp["Top-PR"])
                gate_rows += [
                    {"model": name, "kind": kind, "seed": seed, "method": m, "A_PR": float(r["A_PR"])}
                    for m, r in (("LRP-ε", lrp), ("random", rnd))
                ]
                for method, scores in (("lrp", lrp["scores"]), ("random", rnd["scores"])):
                    todo = [(r, False) for r in rates] + [(top, True)] if method == "lrp" else [(top, True)]
                    if method == "random":  # the fixed-rate variant (the largest of ``rates``) for the sensitivity
                        todo.append((rates[-1], False))
                    for rate, at_top in todo:
                        with masked(model, comps, global_masks(scores, rate)):
                            p1 = conf(model)
                            h1 = input_heatmaps(model, x, y, LRP_EPSILON).flatten(1)
                        cos = torch.nn.functional.cosine_similarity(h0, h1, dim=1)
                        if at_top:  # heatmap preservation: both criteria at the task's Top-PR
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
                        if rate == rates[-1] and not at_top:  # both criteria at the fixed largest rate
                            label = "LRP-ε scores" if method == "lrp" else "random scores"
                            fixed.append({"model": name, "kind": kind, "seed": seed, "method": label,
                                          "cosine": float(cos.mean())})  # fmt: skip
                        if method == "random":
                            continue
                        if at_top and seed == profile.seeds[0]:
                            shape = (-1, *x.shape[2:])
                            examples[f"{name} / {kind}"] = (x[:4], h0[:4].view(shape), h1[:4].view(shape), rate)
                        change, loss = (1 - cos).numpy(), (p0 - p1).numpy()
                        if at_top:
                            top_rows.append(
                                {
                                    "model": name,
                                    "kind": kind,
                                    "seed": seed,
                                    "Top-PR": top,
                                    "r over images": _pearson(change, loss, min_n=2),
                                    "mean heatmap change": float(change.mean()),
                                    "mean confidence loss": float(loss.mean()),
                                }
                            )
                            continue
                        rows += [
                            {
                                "model": name,
                                "kind": kind,
                                "seed": seed,
                                "image": i,
                                "rate": rate,
                                "cosine similarity": float(c),
                                "heatmap change": float(ch),
                                "confidence loss": float(lo),
                            }
                            for i, (c, ch, lo) in enumerate(zip(cos, change, loss, strict=True))
                        ]
    res = pd.DataFrame(rows)
    res["model / components"] = res["model"] + " / " + res["kind"]
    per_rate = (
        res.drop(columns="image")
        .groupby(["model", "kind", "model / components", "seed", "rate"], as_index=False)
        .mean(numeric_only=True)
    )
    per_task = per_task_correlation(per_rate)
    at_top = pd.DataFrame(top_rows)
    preservation = pd.DataFrame(pres)
    apr = pd.DataFrame(gate_rows)
    gate = verdicts.discrimination_gate(apr)  # the same gate as every A_PR claim: LRP-ε within 0.03 of random
    c6 = registry.claim("C6")
    kept = verdicts.compare(
        preservation, "LRP-ε scores", "random scores", value="cosine", gate=gate, margin=COSINE_MARGIN
    ).assign(comparison=c6.primary[0])
    tracks = verdicts.above_threshold(at_top, "r over images", label=c6.primary[1])
    tracks = _gated(tracks, gate).assign(comparison=c6.primary[1])
    lost = at_top.groupby(["model", "kind"], sort=False)["mean confidence loss"].mean()
    tracks["aside"] = [
        "no confidence lost" if lost.get((m, k), np.nan) < CONFIDENCE_FLOOR else ""
        for m, k in zip(tracks["model"], tracks["kind"], strict=True)
    ]
    over_rates = verdicts.above_threshold(per_task, "r", label="r over rates (the paper's statistic)")
    over_rates = over_rates.assign(comparison=c6.secondary[0])
    # the same two halves at the fixed largest rate instead of Top-PR: also asked, and the sensitivity table's
    # "rate" variant of the label
    at = f"{rates[-1]:.0%}".replace("%", " %")
    kept_fixed = verdicts.compare(
        pd.DataFrame(fixed), "LRP-ε scores", "random scores", value="cosine", gate=gate, margin=COSINE_MARGIN
    ).assign(comparison=f"heatmaps kept at {at}: LRP-ε vs random")
    last = res[res["rate"] == rates[-1]]
    by_image = pd.DataFrame(
        [
            {"model": m, "kind": k, "seed": sd, "r": _pearson(g["heatmap change"], g["confidence loss"])}
            for (m, k, sd), g in last.groupby(["model", "kind", "seed"], sort=False)
        ]
    )
    tracks_fixed = verdicts.above_threshold(by_image, "r", label=f"tracks at {at} (over images)")
    tracks_fixed = _gated(tracks_fixed, gate).assign(comparison=f"tracks at {at} (over images)")
    verdict = verdicts.judge(kept, tracks, over_rates, kept_fixed, tracks_fixed, primary=c6.primary)
    pooled = [
        {"model": m, "kind": k, **verdicts.correlation_cell(g["heatmap change"], g["confidence loss"], "pearson")}
        for (m, k), g in res.groupby(["model", "kind"], sort=False)
    ]
    frames = {
        "per_image": res,
        "per_rate": per_rate,
        "per_task": per_task,
        "at_top_pr": at_top,
        "preservation": preservation,
        "gate": gate,
        "pooled": pd.DataFrame(pooled)[["model", "kind", "n", "difference", "ci_low", "ci_high"]].rename(
            columns={"difference": "r"}
        ),
    }
    return Result(frames, verdict.cells, verdict, {"examples": examples, "rates": rates}, claims={"C6": verdict})


def _gated(cells: pd.DataFrame, gate: pd.DataFrame) -> pd.DataFrame:
    """Threshold cells given the gate gap of their model and kind (LRP-ε vs random in A_PR), as a comparison's."""
    gaps = cells[["model", "kind"]].merge(gate[["model", "kind", "gap"]], on=["model", "kind"], how="left")
    return cells.assign(gap=gaps["gap"].to_numpy())


def _pearson(x, y, min_n: int = 3) -> float:
    """Pearson r of two paired samples; NaN with fewer than ``min_n`` pairs or when either is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.corrcoef(x, y)[0, 1]) if len(x) >= min_n and np.ptp(x) > 0 and np.ptp(y) > 0 else float("nan")


def per_task_correlation(per_rate: pd.DataFrame) -> pd.DataFrame:
    """C6's statistic: per model, kind and task (seed), Pearson r over the rates between the mean heatmap change and
    the mean confidence loss (NaN with fewer than 3 rates, or when either is constant)."""
    rows = []
    for (m, k, seed), g in per_rate.groupby(["model", "kind", "seed"], sort=False):
        rows.append({"model": m, "kind": k, "seed": seed, "r": _pearson(g["heatmap change"], g["confidence loss"])})
    return pd.DataFrame(rows)


#: C6's margin for mean cosine similarity (0-1 scale, like A_PR): a hundredth is below what a reader sees in a heatmap
COSINE_MARGIN = 0.01
#: C6's floor: a cell whose mean confidence loss at Top-PR stays below one point of probability has no loss for the
#: heatmap change to track (its correlation would be noise), and is set aside
CONFIDENCE_FLOOR = 0.01
