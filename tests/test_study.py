"""The protocol: a seed draws the same task every time, the search and evaluation images are disjoint, and the
pruning-order fingerprint finds rankings that are the same by construction (|R| = R for z+ on a ReLU CNN)."""

from __future__ import annotations

import numpy as np
import torch

from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON, YEOM_ZPLUS, with_mag
from pbe_utils.relevance import compute_scores
from pbe_utils.study import order_fingerprint
from pbe_utils.tasks import make_task


def test_a_seed_draws_one_task(smoke):
    a, b = make_task(smoke, 1), make_task(smoke, 1)
    assert a.classes == b.classes and np.array_equal(a.ref_indices, b.ref_indices)
    assert torch.equal(a.test.x, b.test.x) and len(a.classes) == smoke.n_classes
    other = make_task(smoke, 2)
    assert other.classes != a.classes or not np.array_equal(other.ref_indices, a.ref_indices)
    assert set(a.test.y.tolist()) <= set(a.classes) and set(a.ref.y.tolist()) <= set(a.classes)
    assert len(a.ref) == smoke.n_ref * smoke.n_classes and a.restrict == a.classes


def test_order_fingerprint_finds_identical_rankings(smoke_vgg, smoke):
    task = make_task(smoke, 0)
    comps = find_components(smoke_vgg)

    def order(composite):
        return order_fingerprint(compute_scores(smoke_vgg, comps, task.ref, "lrp", composite))

    # z+ relevance is never negative on a ReLU CNN: |R| and R give one ranking
    assert order(with_mag(YEOM_ZPLUS, True)) == order(with_mag(YEOM_ZPLUS, False))
    # ε relevance has both signs: ranking by |R| differs from ranking by R
    assert order(with_mag(LRP_EPSILON, True)) != order(with_mag(LRP_EPSILON, False))
