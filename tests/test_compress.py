"""Physical removal of masked components: the forward pass keeps working, logits match the masked model, the
parameter count follows from the kept components, and a saved pruned model reloads to the same logits."""

import pytest
import torch

from pbe_utils.components import find_components, masked
from pbe_utils.compress import count_macs, latency_ms, load_pruned, remove_components, save_pruned
from pbe_utils.models import build_model
from pbe_utils.pruning import global_masks

CASES = [
    ("vgg", "conv"),
    ("resnet", "conv"),
    ("vit_timm", "neurons"),
    ("vit_timm", "heads"),
    ("vit_tv", "neurons"),
    ("vit_tv", "heads"),
]


def _setup(name, kind, rate, seed=0):
    torch.manual_seed(seed)
    model = build_model(name)
    if hasattr(model, "heads"):  # torchvision zero-initialises its ViT head: make the logits informative
        torch.nn.init.normal_(model.heads.head.weight, std=0.1)
    comps = find_components(model, kind)
    gen = torch.Generator().manual_seed(seed)
    masks = global_masks([torch.rand(c.size, generator=gen) for c in comps], rate)
    return model, comps, masks


@pytest.mark.parametrize("name,kind", CASES)
@pytest.mark.parametrize("rate", [0.3, 0.9])
def test_removed_model_matches_the_masked_model(name, kind, rate):
    model, comps, masks = _setup(name, kind, rate)
    x = torch.randn(8, 1, 28, 28)
    with masked(model, comps, masks), torch.no_grad():
        want = model(x)
    small, report = remove_components(model, comps, masks, x[:1])
    with torch.no_grad():
        got = small(x)
    assert torch.allclose(got, want, atol=1e-4), float((got - want).abs().max())
    assert report.removed + report.zeroed >= report.masked and report.removed > 0
    assert count_macs(small, x)[0] < count_macs(model, x)[0]


def test_vgg_parameter_count_follows_the_kept_channels():
    model, comps, masks = _setup("vgg", "conv", 0.5)
    small, report = remove_components(model, comps, masks, torch.randn(1, 1, 28, 28))
    kept = [int(m.sum()) for m in masks]
    assert report.removed == report.masked and report.zeroed == 0
    c_in, expected = 1, 0
    for k in kept:  # conv (3x3 + bias) and BatchNorm (weight + bias) per layer
        expected += k * c_in * 9 + k + 2 * k
        c_in = k
    expected += (c_in * 3 * 3) * 128 + 128 + 128 * 10 + 10  # classifier on the flattened 3x3 map
    assert sum(p.numel() for p in small.parameters()) == expected


def test_vit_head_removal_updates_the_attention_shapes():
    model, comps, masks = _setup("vit_timm", "heads", 0.5)
    small, _ = remove_components(model, comps, masks, torch.randn(1, 1, 28, 28))
    for comp, mask in zip(comps, masks):
        attn = small.get_submodule(comp.name.rsplit(".", 1)[0])
        kept = max(1, int(mask.sum()))
        assert attn.num_heads == kept and attn.qkv.out_features == 3 * kept * attn.head_dim
        assert attn.proj.in_features == kept * attn.head_dim


@pytest.mark.parametrize("name,kind", [("resnet", "conv"), ("vit_tv", "heads")])
def test_saved_pruned_model_reloads_to_the_same_logits(tmp_path, name, kind):
    model, comps, masks = _setup(name, kind, 0.4)
    x = torch.randn(4, 1, 28, 28)
    small, _ = remove_components(model, comps, masks, x[:1])
    save_pruned(tmp_path / "p.pt", name, kind, masks, small)
    again = load_pruned(tmp_path / "p.pt", x[:1])
    with torch.no_grad():
        assert torch.equal(small(x), again(x))


def test_latency_reports_every_model():
    model, comps, masks = _setup("vgg", "conv", 0.5)
    small, _ = remove_components(model, comps, masks, torch.randn(1, 1, 28, 28))
    lat = latency_ms({"base": model, "pruned": small}, torch.randn(16, 1, 28, 28), rounds=2, inner=1)
    assert set(lat) == {"base", "pruned"} and all(v > 0 for v in lat.values())
