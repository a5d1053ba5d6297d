"""Every architecture family of the registry through what it owns: recognition and adaptation, components and layer
groups, the LRP engine's relevance, masking = physical removal, MACs (against torch's own FLOP counter), the
search space and notation, the optimiser; and the registry of families itself."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from pbe_utils.components import find_components, layer_groups, masked
from pbe_utils.composites import LRP_EPSILON, YEOM_ZPLUS
from pbe_utils.compress import remove_components
from pbe_utils.cost import count_macs
from pbe_utils.data import ImageSet
from pbe_utils.families import CNN_FAMILY, DEIT, FAMILIES, VIT_TIMM, VIT_TORCHVISION, adapt, family_of, get_family
from pbe_utils.families.base import Family, register_family
from pbe_utils.models import REGISTRY, build_model, predict
from pbe_utils.relevance import compute_scores

#: the embedded models, every family among them (random weights)
MODELS = {"vgg": CNN_FAMILY, "resnet": CNN_FAMILY, "vit_tv": VIT_TORCHVISION, "vit_timm": VIT_TIMM, "deit": DEIT}


def _random(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(name)
    with torch.no_grad():  # torchvision's ViT starts with a zero classifier: no relevance would reach anything
        for w in model.parameters():
            if w.dim() > 1 and not w.any():
                w.normal_(0, 0.02)
    return model


def test_every_registered_family_has_an_embedded_model_here():
    assert set(MODELS.values()) == set(FAMILIES.values())
    assert {n: REGISTRY[n].family for n in MODELS} == MODELS


@pytest.mark.parametrize("name", MODELS)
def test_a_family_recognises_adapts_and_describes_its_models(name):
    model = _random(name)
    family = MODELS[name]
    assert family_of(model) is family and get_family(family.name) is family
    assert family.kinds == (("conv",) if family.group == "cnn" else ("neurons", "heads"))
    assert set(family.space()) >= {"LLL", "MLL", "HLL", "FCL", "MAG"}
    assert ("attention" in family.space()) == ("heads" in family.kinds)
    assert family.point(YEOM_ZPLUS) == {k: family.point(YEOM_ZPLUS)[k] for k in family.space()}
    assert ("Attn=" in family.label(YEOM_ZPLUS)) == ("heads" in family.kinds)
    opt = family.optimizer([nn.Parameter(torch.zeros(1))], 0.1, 0.0)
    assert isinstance(opt, torch.optim.AdamW if family.group == "vit" else torch.optim.SGD)


def test_a_distilled_deit_is_its_own_family_and_both_heads_are_classifiers():
    model = _random("deit")
    assert family_of(model) is DEIT and VIT_TIMM.matches(model)  # a DeiT is a timm ViT too: the specific one wins
    assert {"head", "head_dist"} <= set(layer_groups(model)["FCL"])
    assert all(not c.name.startswith("head") for k in DEIT.kinds for c in find_components(model, k))


def test_an_unadapted_vit_is_refused_with_the_call_that_adapts_it():
    from timm.models.deit import VisionTransformerDistilled

    raw = VisionTransformerDistilled(img_size=28, patch_size=7, in_chans=1, num_classes=10, embed_dim=32, depth=1,
                                     num_heads=2)  # fmt: skip
    with pytest.raises(ValueError, match=r"pbe_utils\.families\.adapt\(model\)"):
        find_components(raw)
    assert find_components(adapt(raw), "heads")[0].size == 2


@pytest.mark.parametrize("name", MODELS)
def test_each_kind_relevance_masks_and_removal_agree(name, toy_data):
    torch.manual_seed(0)
    model = _random(name)
    data = ImageSet(toy_data.x[:16], toy_data.y[:16], ())
    for kind in MODELS[name].kinds:
        comps = find_components(model, kind)
        assert comps and all(c.kind == kind for c in comps)
        scores = compute_scores(model, comps, data, "lrp", LRP_EPSILON)
        assert [s.numel() for s in scores] == [c.size for c in comps]
        assert all(torch.isfinite(s).all() for s in scores) and any(float(s.abs().sum()) > 0 for s in scores)
        gen = torch.Generator().manual_seed(1)
        masks = [(torch.rand(c.size, generator=gen) > 0.3).float() for c in comps]
        with masked(model, comps, masks):
            want = predict(model, data.x)
        pruned, report = remove_components(model, comps, masks, data.x[:2])
        assert report.masked == sum(int((m == 0).sum()) for m in masks) and report.removed > 0
        assert torch.allclose(predict(pruned, data.x), want, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_macs_equal_torchs_own_flop_count(name):
    """count_macs counts by module hooks plus what each family says its modules hide (q.k^T, A.V and a fused
    projection that is a bare parameter); torch's FlopCounterMode counts every matrix product at the operator level:
    half its FLOPs must be the MACs, in every family."""
    model = _random(name)
    x = torch.randn(1, 1, 28, 28)
    macs, params = count_macs(model, x)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    assert macs == counter.get_total_flops() / 2 and params == sum(p.numel() for p in model.parameters())


def test_the_family_registry_refuses_an_incomplete_family_and_names_what_it_knows():
    class Half(Family):
        name = "half"
        group = "rnn"
        kinds = ("conv",)

    with pytest.raises(ValueError, match="group"):
        register_family(Half())
    with pytest.raises(ValueError, match="family='lstm' is not accepted; use one of"):
        get_family("lstm")
    with pytest.raises(ValueError, match="no architecture family recognises"):
        family_of(nn.Sequential(nn.Linear(3, 2)))
    assert "half" not in FAMILIES
