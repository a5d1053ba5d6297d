"""The tasks of the protocol (book/method.md, "Tasks and seeds"): the data splits of a profile, and per seed a
k-class task with its reference samples (train split), search images (search split) and evaluation images (test
split)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pbe_utils import data as D
from pbe_utils.profiles import Profile


@lru_cache(maxsize=4)
def _fashion(split: str, data_dir: str | None) -> D.ImageSet:
    return D.load_fashion_mnist(split, data_dir)


def splits(profile: Profile, data_dir: str | None = None) -> dict[str, D.ImageSet]:
    """The embedded data: ``train`` (models are trained and reference samples drawn here), ``search`` (held-out
    training images that score composites) and ``test`` (final evaluation)."""
    if profile.data != "fashion_mnist":
        raise ValueError("splits() serves the embedded data; the paper profile uses paper_task()")
    return {s: _fashion(s, data_dir) for s in D.SPLITS}


@dataclass
class Task:
    """A k-class task of one seed: its classes, reference samples (train), search and evaluation images."""

    classes: list[int]
    ref: D.ImageSet
    search: D.ImageSet
    test: D.ImageSet
    seed: int
    ref_indices: np.ndarray

    @property
    def restrict(self) -> list[int] | None:
        """The task's classes when it is a subset of the dataset's (the argmax runs over them), else None."""
        return None if len(self.classes) == len(self.test.classes) else self.classes


def make_task(profile: Profile, seed: int, n_classes: int | None = None, n_ref: int | None = None) -> Task:
    """The paper's protocol: the seed draws the task's classes, its reference samples (train split) and its
    ``n_eval`` evaluation images (test split) and ``n_search`` search images (search split); the logits are
    restricted to the task's classes."""
    k = n_classes or profile.n_classes
    n_ref = n_ref or profile.n_ref
    if profile.data == "imagenet":
        ref, test, classes, search = D.load_imagenet_task(
            profile.imagenet_root, k, seed, n_ref, profile.eval_transform, profile.n_eval, profile.n_search
        )
        return Task(classes, ref, search if search is not None else test, test, seed, np.arange(len(ref)))
    s = splits(profile)
    classes = D.choose_task_classes(len(D.FASHION_CLASSES), k, seed)
    ref_idx = D.select_reference_samples(s["train"].y, n_ref, classes, seed)
    return Task(
        classes,
        s["train"].subset(ref_idx),
        s["search"].subset(D.task_indices(s["search"].y, classes, profile.n_search, seed)),
        s["test"].subset(D.task_indices(s["test"].y, classes, profile.n_eval, seed)),
        seed,
        ref_idx,
    )
