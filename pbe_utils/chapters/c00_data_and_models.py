"""Chapter 00: the data, the reference samples and the model zoo of a profile (no claim, no verdict)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pbe_utils.components import count_components
from pbe_utils.data import FASHION_CLASSES, select_reference_samples
from pbe_utils.models import REGISTRY, count_parameters
from pbe_utils.profiles import Profile
from pbe_utils.study import get_model
from pbe_utils.tasks import make_task, splits

#: how the book names the first component kind of a family
KIND_NAMES = {"conv": "conv channels", "neurons": "MLP neurons", "heads": "attention heads"}


def split_counts(profile: Profile) -> pd.DataFrame:
    """Images per class in each split (embedded data), or in the first task's reference, search and evaluation
    images (the paper profile), with a total row."""
    if profile.data == "fashion_mnist":
        data = splits(profile)
        counts = pd.DataFrame(
            {s: np.bincount(d.y.numpy(), minlength=10) for s, d in data.items()}, index=list(FASHION_CLASSES)
        )
    else:
        task = make_task(profile, profile.seeds[0])
        counts = pd.DataFrame(
            {s: [int((getattr(task, s).y == k).sum()) for k in task.classes] for s in ("ref", "search", "test")},
            index=[f"class {k}" for k in task.classes],
        )
    counts.loc["total"] = counts.sum()
    return counts


def reference_images(profile: Profile, per_class: int = 2) -> tuple[list[np.ndarray], list[str]]:
    """``per_class`` reference samples per class for the first evaluation seed (class by class) and the class names;
    colour images are scaled to [0, 1] for display."""
    if profile.data == "fashion_mnist":
        train = splits(profile)["train"]
        idx = select_reference_samples(train.y, n_per_class=per_class, seed=profile.seeds[0])
        return [train.x[i, 0].numpy() for i in idx], list(FASHION_CLASSES)
    task = make_task(profile, profile.seeds[0])
    images = [((x - x.min()) / (x.max() - x.min() + 1e-12)).permute(1, 2, 0).numpy() for x in task.ref.x]
    return images[: per_class * len(task.classes)], [f"class {k}" for k in task.classes]


def reference_draws(profile: Profile) -> dict[str, int | bool]:
    """Whether one seed always draws the same reference samples, and how many two seeds share."""
    y = splits(profile)["train"].y if profile.data == "fashion_mnist" else make_task(profile, profile.seeds[0]).ref.y
    a, b = select_reference_samples(y, profile.n_ref, seed=0), select_reference_samples(y, profile.n_ref, seed=0)
    c = select_reference_samples(y, profile.n_ref, seed=1)
    return {
        "same seed, same indices": bool(np.array_equal(a, b)),
        "shared by seeds 0 and 1": int(len(np.intersect1d(a, c))),
        "drawn": int(len(a)),
    }


def zoo_overview(profile: Profile) -> dict[str, pd.DataFrame]:
    """The profile's models: ``zoo`` (size, prunable components, training, test accuracy), ``histories`` (training
    loss per step) and ``epochs`` (test accuracy per epoch) read from the zoo's manifest, and ``regime`` (the
    accuracy lost at 50 % random pruning per component kind)."""
    rows, histories, epochs, regime = [], [], [], []
    for name in profile.models:
        model, info = get_model(profile, name, progress=False)
        kinds = REGISTRY[name].family.kinds
        rows.append(
            {
                "model": name,
                "description": REGISTRY[name].description,
                "parameters": count_parameters(model),
                "components": count_components(model, kinds[0]),
                "component type": KIND_NAMES[kinds[0]],
                "heads": count_components(model, "heads") if "heads" in kinds else None,
                "epochs": info.get("epochs"),
                "trained on": info.get("device", "CPU (this machine)"),
                "train seconds": info.get("train_seconds", info.get("seconds")),
                "test accuracy": info.get("test_accuracy"),
            }
        )
        h = info.get("history") or info
        steps, losses = h.get("step") or [], h.get("loss") or []
        histories += [{"model": name, "step": s, "loss": loss} for s, loss in zip(steps, losses, strict=True)]
        accs = zip(h.get("epoch") or [], h.get("epoch_test_accuracy") or [], strict=True)
        epochs += [{"model": name, "epoch": e, "test accuracy": acc} for e, acc in accs]
        for kind, r in (info.get("regime") or {}).items():
            regime.append(
                {
                    "model": name,
                    "components": kind,
                    "accuracy": info.get("test_accuracy"),
                    "accuracy at 50 % random pruning": r["accuracy"],
                    "drop (points)": 100 * r["drop"],
                    "regime (drop >= 10 points)": "yes" if r["ok"] else "no",
                }
            )
    return {
        "zoo": pd.DataFrame(rows),
        "histories": pd.DataFrame(histories, columns=["model", "step", "loss"]),
        "epochs": pd.DataFrame(epochs, columns=["model", "epoch", "test accuracy"]),
        "regime": pd.DataFrame(regime),
    }


def _span(col: pd.Series) -> str:
    """'1,536' when every model has the same count, else 'min-max'."""
    lo, hi = int(col.min()), int(col.max())
    return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"


def zoo_summary(zoo: pd.DataFrame, regime: pd.DataFrame) -> str:
    """The chapter's summary of :func:`zoo_overview`'s tables: the range of test accuracies, the prunable components
    per family, the regime check, and the size of the paper's models for scale."""
    best = zoo.sort_values("test accuracy", ascending=False).iloc[0]
    cnn, vit_rows = zoo[zoo.heads.isna()], zoo[zoo.heads.notna()]
    failing = regime[regime["regime (drop >= 10 points)"] == "no"] if len(regime) else regime
    known = zoo["test accuracy"].notna().any()
    return (
        (f"Test accuracies range from {zoo['test accuracy'].min():.1%} to {zoo['test accuracy'].max():.1%} "
         f"({best['model']} best). " if known else "The profile's models carry no recorded test accuracy. ")
        + (f"The CNNs have {_span(cnn['components'])} prunable conv channels. " if len(cnn) else "")
        + (f"The ViTs have {_span(vit_rows['components'])} MLP neurons and {_span(vit_rows['heads'])} heads. "
           if len(vit_rows) else "")
        + ("Every model and component kind meets the regime check. " if len(regime) and failing.empty else
           f"The regime check fails for {', '.join(failing.model + ' / ' + failing.components)}: claims on those "
           "are undecided. " if len(regime) else "")
        + "The paper's models are much larger (VGG-16: 4,224 channels; ResNet-50: 26,560; ViT-B/16: 46,080 neurons "
        "and 144 heads), and the tests check that our component enumeration gives exactly those counts on the real "
        "architectures."
    )  # fmt: skip
