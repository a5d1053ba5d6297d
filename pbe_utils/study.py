"""The experiment protocol in one place: the models of a profile, one method's pruning curve on a task
(:mod:`pbe_utils.tasks`), tidy results frames. Notebooks and the composite search both call these, so every
chapter runs the same protocol."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from pbe_utils.cache import cache_dir, load_or_compute, stable_hash
from pbe_utils.components import ComponentLayer, find_components
from pbe_utils.composites import Composite
from pbe_utils.metrics import sem, summarise
from pbe_utils.models import build_model, get_spec
from pbe_utils.profiles import Profile
from pbe_utils.pruning import prune_order, pruning_curve
from pbe_utils.relevance import cached_scores, compute_scores, model_fingerprint
from pbe_utils.tasks import Task, make_task, splits
from pbe_utils.training import DEFAULT_TRAIN, get_trained_model
from pbe_utils.zoo import load_zoo_model


def train_config(profile: Profile, name: str):
    """The recipe of ``name`` scaled by the profile (epochs, training images)."""
    base = DEFAULT_TRAIN[name]
    return replace(base, epochs=base.epochs * profile.train_scale, max_train=profile.max_train)


def get_model(profile: Profile, name: str, progress: bool = True) -> tuple[nn.Module, dict]:
    """A ready model. Embedded profiles load the shipped zoo (``zoo/``, sha256-checked) when ``profile.zoo ==
    'shipped'``, or train by the recipe (cached by content) when ``'retrain'``; the paper profile builds the model
    with its pretrained weights."""
    if profile.data == "fashion_mnist":
        if profile.zoo == "shipped":
            model, entry = load_zoo_model(name)
            return model, {**entry, "cached": True, "shipped": True}
        s = splits(profile)
        return get_trained_model(name, s["train"], train_config(profile, name), s["test"], progress)
    model = build_model(name, weights=profile.weights)
    return model.to(profile.device), {"weights": profile.weights}


def evaluate_method(
    model: nn.Module,
    components: list[ComponentLayer],
    task: Task,
    method: str = "lrp",
    composite: Composite | None = None,
    profile: Profile | None = None,
    split: str = "test",
    cache: bool = True,
) -> dict:
    """Scores on the task's reference samples, then the pruning curve on ``split`` (``test`` or ``search``)."""
    p = profile or Profile(name="adhoc")
    t0 = time.perf_counter()
    kwargs: dict[str, Any] = {"batch_size": p.batch_size, "ig_steps": p.ig_steps}
    if cache:
        scores = cached_scores(
            model,
            components,
            task.ref,
            method,
            composite,
            seed=task.seed,
            data_key=[task.ref_indices.tolist(), task.classes],
            **kwargs,
        )
    else:
        scores = compute_scores(model, components, task.ref, method, composite, seed=task.seed, **kwargs)
    t1 = time.perf_counter()
    data = task.test if split == "test" else task.search
    if cache:  # the same scores on the same images give the same curve: chapters share them
        key = stable_hash(
            {
                "model": model_fingerprint(model),
                "scores": hashlib.sha256(b"".join(s.detach().numpy().tobytes() for s in scores)).hexdigest(),
                "data": [data.y.tolist(), float(data.x.double().sum())],
                "rates": list(p.rates),
                "classes": task.restrict,
                "components": [c.mask_name for c in components],
                "v": 1,
            }
        )
        curve = load_or_compute(
            cache_dir() / "curves" / f"{key}.pt",
            lambda: torch.from_numpy(pruning_curve(model, components, scores, data, p.rates, task.restrict)),
            "curve cache",
        ).numpy()
    else:
        curve = pruning_curve(model, components, scores, data, p.rates, task.restrict)
    t2 = time.perf_counter()
    return {
        "curve": curve,
        "scores": scores,
        "order": order_fingerprint(scores),
        **summarise(curve, p.rates),
        "seconds_scores": t1 - t0,
        "seconds_curve": t2 - t1,
    }


def order_fingerprint(scores: list[torch.Tensor]) -> str:
    """A fingerprint of the global pruning order the scores give (two methods with the same fingerprint prune the
    same components at every rate: their comparison is identical by construction)."""
    return hashlib.sha256(prune_order(scores).numpy().tobytes()).hexdigest()[:16]


def curve_rows(result: dict, rates, **labels) -> list[dict]:
    """Tidy rows (one per rate) for a results frame: labels + rate + accuracy."""
    return [{**labels, "rate": float(r), "accuracy": float(a)} for r, a in zip(rates, result["curve"], strict=True)]


def summary_rows(result: dict, **labels) -> dict:
    """One tidy summary row (labels + A_PR, trapezoid, Top-PR, pruning-order fingerprint)."""
    return {
        **labels,
        "A_PR": result["A_PR"],
        "trapezoid": result["trapezoid"],
        "Top-PR": result["Top-PR"],
        "order": result.get("order", ""),
    }


def compare_methods(
    profile: Profile,
    model_name: str,
    methods: dict[str, tuple[str, Composite | None]],
    kind: str = "auto",
    seeds=None,
    n_classes: int | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run several methods over several seeds on one model. Returns (curves, summaries) tidy frames with columns
    method, composite, model, kind, seed, (rate, accuracy) / (A_PR, trapezoid, Top-PR)."""
    model, _ = get_model(profile, model_name, progress=progress)
    components = find_components(model, kind)
    comp_kind = components[0].kind
    family = get_spec(model_name).family
    curves, summaries = [], []
    jobs = [(s, m) for s in (seeds or profile.seeds) for m in methods]
    for seed, label in tqdm(jobs, desc=f"{model_name} ({comp_kind})", disable=not progress):
        task = make_task(profile, seed, n_classes)
        method, composite = methods[label]
        res = evaluate_method(model, components, task, method, composite, profile)
        labels = dict(
            method=label,
            composite=family.label(composite) if composite else method,
            model=model_name,
            kind=comp_kind,
            seed=seed,
            n_classes=len(task.classes),
        )
        curves += curve_rows(res, profile.rates, **labels)
        summaries.append(summary_rows(res, **labels))
    return pd.DataFrame(curves), pd.DataFrame(summaries)


def mean_sem_table(
    summaries: pd.DataFrame, value: str = "A_PR", index: str = "method", columns: str = "model"
) -> pd.DataFrame:
    """A table of 'mean ± SEM' strings over seeds (rows: ``index``, columns: ``columns``)."""
    g = summaries.groupby([index, columns], sort=False)[value]
    cell = g.agg(lambda v: f"{v.mean():.3f} ± {sem(v):.3f}")
    return cell.unstack(columns)


def mean_by(
    summaries: pd.DataFrame, value: str = "A_PR", index: str = "method", columns: str = "model"
) -> pd.DataFrame:
    """Means of ``value`` over seeds as a table (rows ``index``, columns ``columns``)."""
    return summaries.groupby([index, columns], sort=False)[value].mean().unstack(columns)
