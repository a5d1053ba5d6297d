"""Physical removal of masked components: the forward pass keeps working, logits match the masked model, the
parameter count follows from the kept components, and a saved pruned model reloads to the same logits."""

import itertools

import pytest
import torch

from pbe_utils.components import find_components, masked
from pbe_utils.compress import load_pruned, remove_components, save_pruned
from pbe_utils.cost import count_macs, latency_ms
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
    for comp, mask in zip(comps, masks, strict=True):
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


@pytest.mark.parametrize("name,kind", CASES)
def test_curve_on_the_pruned_model_equals_the_masked_curve_on_the_shipped_zoo(name, kind):
    """The curve prunes one copy physically along the nested masks; every rate's accuracy must be the masked
    model's, exactly, on the shipped (trained) zoo, the first search task and its own images, for the LRP-ε
    order and a random order."""
    import numpy as np

    from pbe_utils.composites import LRP_EPSILON
    from pbe_utils.profiles import get_profile
    from pbe_utils.pruning import pruning_curve
    from pbe_utils.relevance import lrp_scores
    from pbe_utils.study import get_model
    from pbe_utils.tasks import make_task

    P = get_profile("default")
    model, _ = get_model(P, name, progress=False)
    task = make_task(P, P.search_seeds[0])
    comps = find_components(model, kind)
    gen = torch.Generator().manual_seed(1)
    orders = [lrp_scores(model, comps, task.ref, LRP_EPSILON), [torch.rand(c.size, generator=gen) for c in comps]]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for scores in orders:
        want = pruning_curve(model, comps, scores, task.search, P.rates, task.restrict, physical=False)
        got = pruning_curve(model, comps, scores, task.search, P.rates, task.restrict)
        np.testing.assert_array_equal(got, want)
        assert want[0] > want[-1]  # the curve is not flat: pruning is really happening
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the source model is never modified


@pytest.mark.parametrize("name,kind", CASES)
def test_incremental_removal_follows_the_masked_logits_and_shrinks(name, kind):
    from pbe_utils.compress import IncrementalRemoval

    model, comps, _ = _setup(name, kind, 0.0)
    gen = torch.Generator().manual_seed(3)
    scores = [torch.rand(c.size, generator=gen) for c in comps]
    x = torch.randn(6, 1, 28, 28)
    remover = IncrementalRemoval(model, comps, x[:1])
    params = []
    for rate in (0.0, 0.2, 0.5, 0.8, 0.95):
        masks = global_masks(scores, rate)
        with masked(model, comps, masks), torch.no_grad():
            want = model(x)
        small = remover.update(masks)
        with torch.no_grad():
            got = small(x)
        assert torch.allclose(got, want, atol=1e-4), (rate, float((got - want).abs().max()))
        report = remover.report()
        assert report.masked == sum(int((m == 0).sum()) for m in masks)
        assert report.removed + report.zeroed == report.masked
        params.append(sum(p.numel() for p in small.parameters()))
    assert all(b <= a for a, b in itertools.pairwise(params)) and params[-1] < params[0]


def test_incremental_removal_refuses_masks_that_are_not_nested():
    from pbe_utils.compress import IncrementalRemoval

    model, comps, masks = _setup("vgg", "conv", 0.5)
    remover = IncrementalRemoval(model, comps, torch.randn(1, 1, 28, 28))
    remover.update(masks)
    with pytest.raises(ValueError, match="nested"):
        remover.update([torch.ones(c.size) for c in comps])
    with pytest.raises(ValueError, match="masks do not match"):
        remover.update(masks[:-1])


def test_incremental_vgg_removes_every_masked_channel_and_counts_parameters():
    from pbe_utils.compress import IncrementalRemoval

    model, comps, _ = _setup("vgg", "conv", 0.0)
    scores = [torch.rand(c.size, generator=torch.Generator().manual_seed(5)) for c in comps]
    remover = IncrementalRemoval(model, comps, torch.randn(1, 1, 28, 28))
    for rate in (0.25, 0.5):
        masks = global_masks(scores, rate)
        small = remover.update(masks)
        kept = [int(m.sum()) for m in masks]
        assert remover.report().removed == remover.report().masked
        assert [small.get_submodule(c.name).out_channels for c in comps] == kept


def test_building_the_slicing_plan_never_runs_the_callers_model():
    """Tracing the dependency graph runs a forward pass: on a model in train mode that would move its BatchNorm
    statistics, so the plan is traced on a copy."""
    from pbe_utils.compress import IncrementalRemoval

    model, comps, masks = _setup("resnet", "conv", 0.3)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    IncrementalRemoval(model, comps, torch.randn(2, 1, 28, 28)).update(masks)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and model.training
