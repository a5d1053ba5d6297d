"""Composites: the search space and its restriction parser, and the riskiest mapping of the engine, rule per layer
group, checked on *mixed* composites against a zennit composite built here from zennit's own classes: a builder that
swapped two groups' rules would give other relevance and fail."""

from __future__ import annotations

import pytest
import torch
from zennit import rules as zr
from zennit.composites import NameMapComposite

from pbe_utils.components import classifier_names, layer_groups
from pbe_utils.composites import (
    GROUPS,
    LRP_EPSILON,
    YEOM_ZPLUS,
    Composite,
    parse_restrict,
    search_space,
    space_for,
    with_mag,
)
from pbe_utils.families.cnn import canonizers_for
from pbe_utils.relevance import input_heatmaps


def test_search_space_sizes_and_restriction():
    assert len(search_space("cnn")) == 5 and len(search_space("vit")) == 6
    restricted = space_for("cnn", parse_restrict("LLL=epsilon;MAG=True"))
    assert (
        restricted["LLL"] == ["epsilon"]
        and restricted["MAG"] == [True]
        and restricted["FCL"] == search_space("cnn")["FCL"]
    )
    with pytest.raises(ValueError, match="XLL"):
        space_for("cnn", {"XLL": ["epsilon"]})
    with pytest.raises(ValueError, match="--restrict"):
        parse_restrict("LLL")
    assert Composite.from_params(LRP_EPSILON.as_params()) == LRP_EPSILON
    assert with_mag(YEOM_ZPLUS, False).mag is False and with_mag(YEOM_ZPLUS, False).rules == YEOM_ZPLUS.rules


def _reference_rule(rule: str, linear: bool):
    """zennit's rule objects with the hyperparameters the method page states (ε 1e-6, γ 0.25 conv / 0.05 linear)."""
    return {
        "epsilon": lambda: zr.Epsilon(epsilon=1e-6),
        "zplus": zr.ZPlus,
        "alpha2beta1": lambda: zr.AlphaBeta(alpha=2.0, beta=1.0),
        "gamma": lambda: zr.Gamma(gamma=0.05 if linear else 0.25),
    }[rule]()


def _reference_heatmaps(model, x, y, composite: Composite) -> torch.Tensor:
    groups, linear = layer_groups(model), set(classifier_names(model))
    name_map = [
        ((name,), _reference_rule(composite.rule_for(group), name in linear))
        for group in GROUPS
        for name in groups.get(group, [])
    ]
    ref = NameMapComposite(name_map=name_map, canonizers=canonizers_for(model))
    x = x.clone().requires_grad_(True)
    with ref.context(model):
        out = model(x)
        (rel,) = torch.autograd.grad(out, x, torch.nn.functional.one_hot(y, out.shape[1]).float())
    return rel.detach().sum(1)


MIXED = [
    Composite("zplus", "epsilon", "gamma", "alpha2beta1", True),
    Composite("gamma", "alpha2beta1", "epsilon", "zplus", True),
    Composite("epsilon", "zplus", "zplus", "gamma", False),
]


@pytest.mark.parametrize("composite", MIXED, ids=lambda c: "-".join(c.rules))
def test_mixed_composites_equal_zennit_per_group(smoke_vgg, toy_data, composite):
    x, y = toy_data.x[:6], toy_data.y[:6]
    got = input_heatmaps(smoke_vgg, x, y, composite)
    want = _reference_heatmaps(smoke_vgg, x, y, composite)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-6)


def test_swapping_two_groups_changes_the_relevance(smoke_vgg, toy_data):
    """The check above can fail: the same composite with its LLL and HLL rules swapped gives other relevance."""
    x, y = toy_data.x[:6], toy_data.y[:6]
    c = MIXED[0]
    swapped = Composite(c.hll, c.mll, c.lll, c.fcl, c.mag)
    assert not torch.allclose(
        input_heatmaps(smoke_vgg, x, y, swapped), _reference_heatmaps(smoke_vgg, x, y, c), rtol=1e-3
    )
