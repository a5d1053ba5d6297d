import pytest
import torch
from torch import nn

from pbe_utils.components import count_components, find_components, layer_groups, masked
from pbe_utils.models import build_model
from pbe_utils.pruning import global_masks


@pytest.mark.parametrize(
    "name,kind,count",
    [
        ("vgg16", "conv", 4224),
        ("vgg16_bn", "conv", 4224),
        ("resnet18", "conv", 4800),
        ("resnet50", "conv", 26560),
        ("vit_b_16", "neurons", 46080),
        ("vit_b_16", "heads", 144),
    ],
)
def test_paper_component_counts(name, kind, count):
    assert count_components(build_model(name), kind) == count


def test_paper_layer_groups():
    g = layer_groups(build_model("vgg16_bn"))
    assert g["LLL"] == ["features.0", "features.3", "features.7", "features.10"]
    assert g["HLL"] == ["features.30", "features.34", "features.37", "features.40"]
    assert g["FCL"] == ["classifier.0", "classifier.3", "classifier.6"]
    r = layer_groups(build_model("resnet18"))
    assert len(r["LLL"]) == 5 and len(r["MLL"]) == 10 and len(r["HLL"]) == 5 and r["FCL"] == ["fc"]
    assert "layer3.0.downsample.0" in r["MLL"] and "layer4.0.downsample.0" in r["HLL"]


def test_classifier_is_never_a_component():
    comps = find_components(build_model("resnet"))
    assert all(isinstance(dict(build_model("resnet").named_modules())[c.name], nn.Conv2d) for c in comps)
    assert comps[0].mask_name == "bn1"
    assert any(c.name.endswith("downsample.0") and c.mask_name.endswith("downsample.1") for c in comps)


def test_kind_errors():
    with pytest.raises(ValueError, match="kind='heads' does not apply to a CNN"):
        find_components(build_model("vgg"), "heads")
    with pytest.raises(ValueError, match="kind='filters' is not accepted"):
        find_components(build_model("vit_timm"), "filters")


@pytest.mark.parametrize(
    "name,kind",
    [
        ("vgg", "conv"),
        ("resnet", "conv"),
        ("vit_timm", "neurons"),
        ("vit_tv", "neurons"),
        ("vit_timm", "heads"),
        ("vit_tv", "heads"),
    ],
)
def test_masking_zeroes_exactly_the_chosen_components(name, kind):
    torch.manual_seed(0)
    model = build_model(name)
    comps = find_components(model, kind)
    mods = dict(model.named_modules())
    seen = {}

    def grab(key):
        return lambda m, i, o: seen.__setitem__(key, o.detach().clone())

    x = torch.randn(3, 1, 28, 28)
    scores = [torch.rand(c.size, generator=torch.Generator().manual_seed(i)) for i, c in enumerate(comps)]
    masks = global_masks(scores, 0.3)
    with masked(model, comps, masks):
        hs = [mods[c.mask_name].register_forward_hook(grab(("masked", c.mask_name))) for c in comps]
        model(x)
        for h in hs:
            h.remove()
    hs = [mods[c.mask_name].register_forward_hook(grab(("plain", c.mask_name))) for c in comps]
    model(x)
    for h in hs:
        h.remove()
    # the first masked layer sees the same input, so it differs from the unmasked output only in pruned components
    first, m = comps[0], masks[0]
    out_m, out_p = seen[("masked", first.mask_name)], seen[("plain", first.mask_name)]
    axis = -1 if kind == "neurons" else 1
    pruned = (m == 0).nonzero().flatten()
    kept = (m == 1).nonzero().flatten()
    assert torch.count_nonzero(out_m.index_select(axis, pruned)) == 0
    assert torch.equal(out_m.index_select(axis, kept), out_p.index_select(axis, kept))
    for c, mk in zip(comps, masks, strict=True):  # every layer: pruned components are exactly zero
        assert torch.count_nonzero(seen[("masked", c.mask_name)].index_select(axis, (mk == 0).nonzero().flatten())) == 0


def test_global_masks_are_global_nested_and_exact_in_count():
    scores = [torch.tensor([5.0, 0.1, 3.0]), torch.tensor([0.2, 4.0]), torch.tensor([0.05])]
    m = global_masks(scores, 0.5)  # floor(0.5 * 6) = 3 least relevant: 0.05, 0.1, 0.2
    assert [t.tolist() for t in m] == [[1, 0, 1], [0, 1], [0]]
    prev = None
    for r in [0.0, 0.2, 0.4, 0.6, 0.8]:
        cur = torch.cat(global_masks(scores, r))
        assert int((cur == 0).sum()) == int(6 * r)
        if prev is not None:
            assert torch.all(cur <= prev)  # nested: once pruned, stays pruned
        prev = cur
    with pytest.raises(ValueError, match="outside"):
        global_masks(scores, 1.0)


def test_masking_context_leaves_no_hooks():
    from conftest import hook_count

    model = build_model("vgg")
    before = hook_count(model)
    with masked(model, find_components(model)):
        assert hook_count(model) > before
    assert hook_count(model) == before
