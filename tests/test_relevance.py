import copy

import numpy as np
import pytest
import torch
from conftest import hook_count
from torch import nn

from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON, UNIFORM, YEOM_ZPLUS, Composite
from pbe_utils.data import ImageSet
from pbe_utils.families import adapt
from pbe_utils.families.attention import _ZPlusSoftmax
from pbe_utils.pruning import pruning_curve
from pbe_utils.relevance import cached_scores, compute_scores, input_heatmaps, lrp_scores
from pbe_utils.study import evaluate_method
from pbe_utils.tasks import make_task


def _biasfree_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 28 * 28, 10, bias=False),
    ).eval()


def test_lrp_epsilon_conserves_relevance_in_a_biasfree_cnn(toy_data):
    model = _biasfree_cnn()
    comps = find_components(model)
    scores = lrp_scores(model, comps, toy_data, Composite(mag=False))
    # one-hot output relevance: every layer receives a total of 1 per sample (mean over samples)
    for s in scores:
        assert float(s.sum()) == pytest.approx(1.0, abs=1e-3)
    heat = input_heatmaps(model, toy_data.x, toy_data.y, LRP_EPSILON)
    assert torch.allclose(heat.sum((1, 2)), torch.ones(len(toy_data)), atol=1e-3)


def _biasfree_vit():
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    model = VisionTransformer(
        img_size=28, patch_size=7, in_chans=1, num_classes=10, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2
    )
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") and not name.startswith("patch_embed"):
                p.zero_()
    return adapt(model).eval()


def test_cp_lrp_conserves_relevance_through_a_biasfree_vit(toy_data):
    model = _biasfree_vit()
    from pbe_utils.components import layer_groups
    from pbe_utils.families.attention import vit_lrp

    got = {}

    def pre(_m, inp):
        inp[0].register_hook(lambda g: got.__setitem__("R", (g * inp[0]).detach()))

    h = model.blocks[0].register_forward_pre_hook(pre)
    with vit_lrp(model, Composite(attention="cp"), layer_groups(model)):
        x = toy_data.x.clone().requires_grad_(True)
        out = model(x)
        torch.autograd.grad(out, x, torch.nn.functional.one_hot(toy_data.y, 10).float() / out.detach())
    h.remove()
    assert torch.allclose(got["R"].sum((1, 2)), torch.ones(len(toy_data)), atol=1e-3)
    # the MLP neurons of the last block receive the whole relevance too (fc2 output: the residual branch's share)
    s = lrp_scores(model, find_components(model, "neurons"), toy_data, Composite(attention="cp", mag=False))
    assert all(np.isfinite(float(v.sum())) for v in s)


def test_zplus_relevance_is_nonnegative(smoke_vgg, smoke, toy_data):
    scores = lrp_scores(smoke_vgg, find_components(smoke_vgg), toy_data, Composite(*["zplus"] * 4, mag=False))
    assert min(float(s.min()) for s in scores) >= -1e-6


@pytest.mark.parametrize("vbias", [False, True])
def test_zplus_softmax_closed_form_matches_brute_force(vbias):
    torch.manual_seed(2)
    x = torch.randn(3, 6).requires_grad_(True)
    s = _ZPlusSoftmax.apply(x, vbias)
    assert torch.allclose(s, x.softmax(-1))
    r_out = torch.rand(3, 6)
    (g,) = torch.autograd.grad(s, x, r_out / s.detach())
    got = x.detach() * g
    xs, ss = x.detach(), s.detach()
    c = xs[:, None, :] * ss[:, :, None] * (torch.eye(6)[None] - ss[:, None, :])  # c[b, i, j]
    den = c.clamp(min=0).sum(-1)
    if vbias:
        den = den + (ss - c.sum(-1)).clamp(min=0)
    want = (c.clamp(min=0) / (den[..., None] + 1e-6) * r_out[..., None]).sum(1)
    assert torch.allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("model_fixture,kinds", [("smoke_vgg", ["conv"]), ("smoke_vit", ["neurons", "heads"])])
def test_lrp_leaves_model_and_hooks_unchanged(request, model_fixture, kinds, toy_data):
    model = request.getfixturevalue(model_fixture)
    state = copy.deepcopy(model.state_dict())
    before_hooks = hook_count(model)
    out = model(toy_data.x)
    for kind in kinds:
        for comp in (LRP_EPSILON, YEOM_ZPLUS, Composite(attention="cp"), UNIFORM["gamma"]):
            lrp_scores(model, find_components(model, kind), toy_data, comp)
    assert hook_count(model) == before_hooks
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert torch.equal(out, model(toy_data.x))
    assert not any(hasattr(m, "_pbe_lrp") for m in model.modules())


def test_resnet_canonizer_is_reverted(toy_data):
    from pbe_utils.models import build_model

    model = build_model("resnet")
    before = model(toy_data.x)
    scores = lrp_scores(model, find_components(model), toy_data, LRP_EPSILON)
    assert len(scores) == 20 and torch.equal(before, model(toy_data.x))


def test_relevance_beats_random_on_planted_dead_channels(smoke):
    """A VGG trained with half of the channels of every conv but the first forced dead (output exactly 0): LRP
    must find and prune exactly those first, and so beat random pruning."""
    from pbe_utils.components import masked
    from pbe_utils.models import build_model
    from pbe_utils.tasks import splits

    torch.manual_seed(0)
    model = build_model("vgg")
    comps = find_components(model)
    dead = [
        torch.cat([torch.zeros(c.size // 2), torch.ones(c.size - c.size // 2)]) if i else torch.ones(c.size)
        for i, c in enumerate(comps)
    ]
    train = splits(smoke)["train"]
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    with masked(model, comps, dead):
        for step in range(150):
            idx = torch.arange(step * 64, (step + 1) * 64) % len(train)
            loss = nn.functional.cross_entropy(model(train.x[idx]), train.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    mods = dict(model.named_modules())
    with torch.no_grad():
        for c, m in zip(comps, dead, strict=True):
            mods[c.mask_name].weight[m == 0] = 0
            mods[c.mask_name].bias[m == 0] = 0
    task = make_task(smoke, 0)
    lrp = evaluate_method(model, comps, task, "lrp", LRP_EPSILON, smoke, cache=False)
    rnd = evaluate_method(model, comps, task, "random", None, smoke, cache=False)
    assert lrp["curve"][0] > 0.5  # the planted model works
    dead_share = sum(int((m == 0).sum()) for m in dead) / sum(c.size for c in comps)
    safe = [i for i, r in enumerate(smoke.rates) if r <= dead_share]
    assert np.all(lrp["curve"][safe] == lrp["curve"][0])  # LRP removes exactly the dead channels first
    assert lrp["A_PR"] > rnd["A_PR"] + 0.05


def test_scores_are_deterministic_and_cached(smoke_vgg, smoke):
    comps = find_components(smoke_vgg)
    task = make_task(smoke, 1)
    a = evaluate_method(smoke_vgg, comps, task, "lrp", LRP_EPSILON, smoke, cache=False)
    b = evaluate_method(smoke_vgg, comps, task, "lrp", LRP_EPSILON, smoke, cache=False)
    assert np.array_equal(a["curve"], b["curve"])
    calls = []

    def compute():
        calls.append(1)
        return a["scores"]

    first = cached_scores(smoke_vgg, comps, task.ref, "lrp", LRP_EPSILON, seed=1, compute=compute)
    second = cached_scores(smoke_vgg, comps, task.ref, "lrp", LRP_EPSILON, seed=1, compute=compute)
    assert len(calls) == 1 and all(torch.equal(x, y) for x, y in zip(first, second, strict=True))


@pytest.mark.parametrize("method", ["random", "weight", "activation", "gradient", "taylor", "ig"])
@pytest.mark.parametrize(
    "model_fixture,kind", [("smoke_vgg", "conv"), ("smoke_vit", "heads"), ("smoke_vit", "neurons")]
)
def test_every_baseline_gives_one_score_per_component(request, model_fixture, kind, method, toy_data):
    model = request.getfixturevalue(model_fixture)
    comps = find_components(model, kind)
    scores = compute_scores(model, comps, toy_data, method, ig_steps=3)
    assert [s.numel() for s in scores] == [c.size for c in comps]
    assert all(torch.isfinite(s).all() and (s >= 0).all() for s in scores)


def test_bad_arguments_are_named(smoke_vgg, toy_data):
    comps = find_components(smoke_vgg)
    with pytest.raises(ValueError, match="method='saliency' is not accepted"):
        compute_scores(smoke_vgg, comps, toy_data, "saliency")
    with pytest.raises(ValueError, match="needs a composite"):
        compute_scores(smoke_vgg, comps, toy_data, "lrp")
    with pytest.raises(ValueError, match="rule for LLL='flat' is not accepted"):
        Composite(lll="flat")
    with pytest.raises(ValueError, match="scores do not match"):
        pruning_curve(smoke_vgg, comps, [torch.ones(3)], ImageSet(toy_data.x, toy_data.y, ()))


def test_composite_prints_like_the_paper():
    assert str(Composite("epsilon", "epsilon", "zplus", "epsilon", True)) == "LLL=ε MLL=ε HLL=z+ FCL=ε, |R|"
    assert Composite(mag=False, attention="cp").label(vit=True) == "LLL=ε MLL=ε HLL=ε FCL=ε Attn=CP-LRP, R"


def _trained_like(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random BatchNorm statistics, so that merging BatchNorm into the convolutions really changes the weights."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
    return model.eval()


@pytest.mark.parametrize("arch", ["zoo_vgg", "zoo_resnet", "vgg11", "vgg11_bn", "resnet18", "resnet50"])
@pytest.mark.parametrize("mag", [True, False])
def test_epsilon_as_one_backward_pass_is_zennit_bit_for_bit(arch, mag):
    """The uniform LRP-ε composite computed as a modified gradient (one plain backward pass) must give exactly
    zennit's relevance: the shipped zoo CNNs, and torchvision's VGG (with and without BatchNorm, ReLU in place) and
    ResNets (BasicBlock and Bottleneck: residual sums, average pooling) at random weights."""
    import torchvision

    from pbe_utils.composites import LRP_EPSILON, with_mag

    torch.manual_seed(0)
    if arch.startswith("zoo_"):
        from pbe_utils.profiles import get_profile
        from pbe_utils.study import get_model
        from pbe_utils.tasks import make_task

        P = get_profile("default")
        model, _ = get_model(P, arch[4:], progress=False)
        data = make_task(P, P.search_seeds[0]).ref
    else:
        model = _trained_like(getattr(torchvision.models, arch)(weights=None, num_classes=10))
        data = ImageSet(torch.randn(6, 3, 32, 32), torch.arange(6) % 10, ())
    comps = find_components(model)
    composite = with_mag(LRP_EPSILON, mag)
    want = lrp_scores(model, comps, data, composite, fast_epsilon=False)
    got = lrp_scores(model, comps, data, composite)
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True)), max(
        float((a - b).abs().max()) for a, b in zip(got, want, strict=True)
    )
    assert any(float(a.abs().max()) > 0 for a in want)


def test_epsilon_fast_path_is_used_only_for_the_uniform_epsilon_composite(smoke_vgg, toy_data, monkeypatch):
    import pbe_utils.families.cnn as cnn
    from pbe_utils.composites import FAITHFUL_CNN, LRP_EPSILON

    calls = []
    original = cnn.epsilon_as_gradient
    monkeypatch.setattr(cnn, "epsilon_as_gradient", lambda *a: calls.append(1) or original(*a))
    comps = find_components(smoke_vgg)
    data = ImageSet(toy_data.x, toy_data.y, ())
    lrp_scores(smoke_vgg, comps, data, FAITHFUL_CNN)
    assert calls == []
    lrp_scores(smoke_vgg, comps, data, LRP_EPSILON)
    assert calls == [1]
