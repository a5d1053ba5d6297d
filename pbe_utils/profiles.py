"""Named parameter profiles: ``smoke`` (seconds, for tests), ``default`` (the published book, embedded data),
``paper`` (ImageNet and pretrained weights, a GPU). Every notebook starts with ``get_profile(profile, **overrides)``,
which validates every value before any compute."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from pbe_utils.composites import parse_restrict, space_for
from pbe_utils.manifest import read_manifest
from pbe_utils.metrics import DEFAULT_RATES, validate_rates
from pbe_utils.models import REGISTRY


@dataclass(frozen=True)
class Profile:
    """Every parameter of a run of the study; build one with :func:`get_profile`, which validates it."""

    name: str
    data: str = "fashion_mnist"  # or 'imagenet'
    cnn_models: tuple[str, ...] = ("vgg", "resnet")
    vit_models: tuple[str, ...] = ("vit_timm", "vit_tv")
    zoo: str = "shipped"  # 'shipped': load the committed weights of zoo/; 'retrain': train by the recipes (cached)
    train_scale: float = 1.0  # multiplies the recipes' epochs when zoo='retrain'
    max_train: int | None = None  # first n training images only (smoke)
    n_ref: int = 10  # reference samples per class (book/method.md, "Tasks and seeds")
    n_eval: int | None = 300  # evaluation images per task, drawn per seed (test split); None = all of the task's
    n_search: int = 150  # images of the held-out search split per search task
    n_classes: int = 3  # k-class tasks, as the paper's headline task (3 classes drawn per seed)
    task_sizes: tuple[int, ...] = (2, 5, 10)  # chapter 03's task-size effect
    seeds: tuple[int, ...] = tuple(range(10))  # evaluation tasks
    search_seeds: tuple[int, ...] = (100, 101)  # the composite search scores the mean A_PR over these tasks
    rates: tuple[float, ...] = DEFAULT_RATES
    n_trials: int = 32  # composite search budget per model (distinct composites)
    sampler: str = "tpe"  # grid | tpe | gp | random
    grid_restrict: str | None = None  # chapter 08's exhaustive grid: None = the paper's whole space, or a restriction
    # in the search command's --restrict form, e.g. "LLL=epsilon;MLL=epsilon" (the smoke profile has an 8-point grid)
    n_explain: int = 64  # images per search task whose input heatmaps chapter 09 scores with Quantus
    ref_sweep: tuple[int, ...] = (1, 3, 10, 30, 100)
    ig_steps: int = 20
    batch_size: int = 128
    imagenet_root: str | None = None
    weights: str = "pretrained"
    eval_transform: str = "squash"
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    @property
    def models(self) -> tuple[str, ...]:
        """The CNNs, then the ViTs."""
        return self.cnn_models + self.vit_models


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        cnn_models=("vgg",),
        vit_models=("vit_timm",),
        train_scale=0.5,
        max_train=3000,
        n_ref=2,
        n_eval=150,
        n_search=100,
        task_sizes=(2, 10),
        seeds=(0, 1, 2),
        search_seeds=(100,),
        rates=tuple(round(0.1 * i, 1) for i in range(10)),
        n_trials=4,
        grid_restrict="LLL=epsilon;MLL=epsilon;HLL=epsilon,zplus;FCL=epsilon,zplus",
        n_explain=12,
        ref_sweep=(1, 3),
        ig_steps=4,
    ),
    "default": Profile(name="default"),
    "paper": Profile(
        name="paper",
        data="imagenet",
        cnn_models=("vgg16", "vgg16_bn", "resnet18", "resnet50"),
        vit_models=("vit_b_16",),
        n_ref=10,
        n_eval=None,
        n_search=150,
        n_classes=3,
        task_sizes=(3, 100, 1000),
        seeds=tuple(range(20)),
        search_seeds=(100, 101, 102),
        n_trials=100,
        sampler="gp",
        ref_sweep=(1, 2, 5, 10, 20, 50, 100),
        batch_size=32,
        device="cuda",
    ),
}
SAMPLERS = ("grid", "tpe", "gp", "random")
MAX_SEED = 2**32 - 1  # numpy's SeedSequence and torch's manual_seed both take it


def _positive(name: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"{name}={value!r} is not accepted; use a positive integer" + (" or None" if allow_none else "")
        )


#: sizes of the embedded data, so that data-dependent ranges are checked before anything is loaded
FASHION_SIZES = {"classes": 10, "train_per_class_min": 5473, "search": 5000, "test_per_class": 1000}
_TUPLES = ("cnn_models", "vit_models", "task_sizes", "seeds", "search_seeds", "rates", "ref_sweep")


def _check_types(p: Profile) -> None:
    for name in _TUPLES:
        v = getattr(p, name)
        if not isinstance(v, tuple):
            raise ValueError(
                f"{name}={v!r} is not accepted; use a list, e.g. {name}={list(getattr(PROFILES['default'], name))!r}"
            )
    for name in ("data", "sampler", "zoo", "weights", "eval_transform", "device"):
        if not isinstance(getattr(p, name), str):
            raise ValueError(f"{name}={getattr(p, name)!r} is not accepted; use a string")


def validate(p: Profile) -> Profile:
    """Check every parameter; raise ``ValueError`` naming the parameter and the accepted values."""
    _check_types(p)
    if not p.models:
        raise ValueError("cnn_models and vit_models are both empty; name at least one model, e.g. cnn_models=['vgg']")
    if p.data not in ("fashion_mnist", "imagenet"):
        raise ValueError(f"data={p.data!r} is not accepted; use 'fashion_mnist' or 'imagenet'")
    for m in p.models:
        if m not in REGISTRY:
            raise ValueError(f"model={m!r} is not in the registry; accepted: {sorted(REGISTRY)}")
        fam = REGISTRY[m].family
        if any(m in getattr(p, lst) for lst in ("cnn_models", "vit_models") if lst != fam.profile_list):
            raise ValueError(f"model={m!r} is a {fam.noun}; list it under {fam.profile_list}")
        want = "embedded" if p.data == "fashion_mnist" else "paper"
        if REGISTRY[m].profile != want:
            raise ValueError(
                f"model={m!r} is a {REGISTRY[m].profile}-profile model but data={p.data!r}; "
                f"use one of {sorted(k for k, s in REGISTRY.items() if s.profile == want)}"
            )
    for name in _TUPLES:  # a repeated entry would count one task, model or rate twice (and shrink the errors)
        v = getattr(p, name)
        dup = sorted({x for x in v if list(v).count(x) > 1}, key=str)
        if dup:
            raise ValueError(f"{name}={list(v)!r} is not accepted: {dup} repeated; list each entry once")
    bad_rates = [r for r in p.rates if not isinstance(r, (int, float)) or isinstance(r, bool) or not math.isfinite(r)]
    if bad_rates:
        raise ValueError(
            f"rates={list(p.rates)!r} is not accepted: {bad_rates} not finite numbers; use rates in [0, 1)"
        )
    validate_rates(p.rates)
    if p.rates[0] != 0:
        raise ValueError("rates must start at 0 (the unpruned accuracy)")
    for name in ("n_ref", "n_search", "n_classes", "n_trials", "ig_steps", "batch_size", "n_explain"):
        _positive(name, getattr(p, name))
    _positive("n_eval", p.n_eval, allow_none=True)
    _positive("max_train", p.max_train, allow_none=True)
    for n in p.ref_sweep:
        _positive("ref_sweep entry", n)
    for k in p.task_sizes:
        _positive("task_sizes entry", k)
        if k < 2:
            raise ValueError(f"task_sizes entry={k} is not accepted; a task needs at least 2 classes")
    if p.n_classes < 2:
        raise ValueError(f"n_classes={p.n_classes} is not accepted; a task needs at least 2 classes")
    for name in ("seeds", "search_seeds"):
        v = getattr(p, name)
        if not v or any(not isinstance(s, int) or isinstance(s, bool) or not 0 <= s <= MAX_SEED for s in v):
            raise ValueError(
                f"{name}={list(v)!r} is not accepted; use a non-empty list of integers in [0, {MAX_SEED}] "
                "(the range numpy's and torch's generators take)"
            )
    if set(p.search_seeds) & set(p.seeds):
        raise ValueError(
            f"search_seeds={p.search_seeds!r} overlap seeds={p.seeds!r}; the search must not see the evaluation tasks"
        )
    if p.data == "fashion_mnist":
        F = FASHION_SIZES
        for name, k in [("n_classes", p.n_classes)] + [("task_sizes entry", k) for k in p.task_sizes]:
            if k > F["classes"]:
                raise ValueError(f"{name}={k} is not accepted; Fashion-MNIST has {F['classes']} classes")
        for name, n in [("n_ref", p.n_ref)] + [("ref_sweep entry", n) for n in p.ref_sweep]:
            if n > F["train_per_class_min"]:
                raise ValueError(
                    f"{name}={n} is not accepted; the training split has only "
                    f"{F['train_per_class_min']} images of its smallest class"
                )
        if p.n_search > F["search"]:
            raise ValueError(f"n_search={p.n_search} is not accepted; the search split has {F['search']} images")
    if p.grid_restrict is not None:
        if not isinstance(p.grid_restrict, str):
            raise ValueError(
                f"grid_restrict={p.grid_restrict!r} is not accepted; use None or e.g. 'LLL=epsilon;MAG=True'"
            )
        try:
            space_for("cnn", parse_restrict(p.grid_restrict))
        except ValueError as err:
            raise ValueError(f"grid_restrict={p.grid_restrict!r} is not accepted: {err}") from None
    if p.sampler not in SAMPLERS:
        raise ValueError(f"sampler={p.sampler!r} is not accepted; use one of {SAMPLERS}")
    if p.zoo not in ("shipped", "retrain"):
        raise ValueError(f"zoo={p.zoo!r} is not accepted; use 'shipped' (the committed weights) or 'retrain'")
    if p.zoo == "shipped" and p.data == "fashion_mnist":
        missing = sorted(set(p.models) - set(read_manifest().get("models", {})))
        if missing:
            raise ValueError(f"zoo='shipped' but {missing} have no shipped weights; use zoo='retrain' for them")
    if not (isinstance(p.train_scale, (int, float)) and 0 < p.train_scale <= 100):
        raise ValueError(f"train_scale={p.train_scale!r} is not accepted; use a finite number in (0, 100]")
    if p.eval_transform not in ("squash", "crop"):
        raise ValueError(f"eval_transform={p.eval_transform!r} is not accepted; use 'squash' or 'crop'")
    if p.device not in ("cpu", "cuda"):
        raise ValueError(f"device={p.device!r} is not accepted; use 'cpu' or 'cuda'")
    return p


def get_profile(name: str = "default", /, **overrides) -> Profile:
    """A validated profile, with ``overrides`` (e.g. from papermill ``-p``) applied on top."""
    if name not in PROFILES:
        raise ValueError(f"profile={name!r} is not accepted; use one of {sorted(PROFILES)}")
    known = {f.name for f in fields(Profile)} - {"name", "extra"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; accepted: {sorted(known)} (the profile's name is --profile)")
    fixed: dict[str, Any] = {}
    for k, v in overrides.items():
        fixed[k] = tuple(v) if isinstance(v, list) else v
    return validate(replace(PROFILES[name], **fixed))


def resolved_parameters(profile: Profile) -> dict[str, Any]:
    """Every parameter of ``profile`` as JSON values (tuples as lists): what a record or a grid file states it ran
    with."""
    return json.loads(json.dumps(asdict(profile), default=list))


def zoo_hashes(profile: Profile) -> dict[str, str]:
    """sha256 (first 16 hex digits) of the shipped weights of the profile's models, when it loads the zoo."""
    if profile.data != "fashion_mnist" or profile.zoo != "shipped":
        return {}
    models = read_manifest().get("models", {})
    return {m: str(models.get(m, {}).get("sha256", ""))[:16] for m in profile.models}
