"""Global pruning: a mask removes exactly floor(rate * p) components, the least relevant first across layers, masks
are nested along the rates, and the curve of the physically pruned copy equals the masked one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pbe_utils.components import find_components
from pbe_utils.pruning import global_masks, prune_order, pruning_curve


def test_masks_remove_exactly_the_least_relevant_components():
    scores = [torch.tensor([5.0, 1.0, 3.0]), torch.tensor([0.5, 4.0]), torch.tensor([2.0, 2.0, 6.0])]
    order = prune_order(scores)
    assert order.tolist()[:3] == [3, 1, 5]  # 0.5, then 1.0, then the first 2.0 (ties by position)
    for rate, removed in ((0.0, 0), (0.25, 2), (0.5, 4), (0.9, 7)):
        masks = global_masks(scores, rate)
        flat = torch.cat(masks)
        assert int((flat == 0).sum()) == removed == int(8 * rate)
        assert set(torch.nonzero(flat == 0).flatten().tolist()) == set(order[:removed].tolist())
    low, high = torch.cat(global_masks(scores, 0.25)), torch.cat(global_masks(scores, 0.5))
    assert bool((high <= low).all())  # nested: what 25 % removes, 50 % removes too
    with pytest.raises(ValueError, match="rate"):
        global_masks(scores, 1.0)


def test_physical_curve_equals_the_masked_curve(smoke_vgg, toy_data):
    comps = find_components(smoke_vgg)
    gen = torch.Generator().manual_seed(0)
    scores = [torch.rand(c.size, generator=gen) for c in comps]
    rates = (0.0, 0.2, 0.5, 0.8)
    physical = pruning_curve(smoke_vgg, comps, scores, toy_data, rates)
    masked = pruning_curve(smoke_vgg, comps, scores, toy_data, rates, physical=False)
    np.testing.assert_array_equal(physical, masked)
    with pytest.raises(ValueError, match="scores do not match"):
        pruning_curve(smoke_vgg, comps, scores[:-1], toy_data, rates)
