"""The engine checked against independent implementations: out-of-place networks, zennit's rules, conservation,
IG completeness, captum's layer attributions, and the layer-normalised weight criterion."""

from __future__ import annotations

import copy
from types import MethodType

import numpy as np
import pytest
import torch
from torch import nn

from pbe_utils.baselines import baseline_scores, latent_ig, weight_scores
from pbe_utils.components import find_components, layer_groups
from pbe_utils.composites import GAMMA_LINEAR, Composite, zennit_rule
from pbe_utils.families import adapt
from pbe_utils.families.attention import lrp_linear, vit_lrp


def _out_of_place(model: nn.Module) -> nn.Module:
    """The same network with every in-place operation replaced by its out-of-place form."""
    from torchvision.models.resnet import BasicBlock

    twin = copy.deepcopy(model)

    def block_forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)

    for m in twin.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
        if isinstance(m, BasicBlock):
            m.forward = MethodType(block_forward, m)
    return twin


@pytest.fixture(scope="module")
def fashion_batch():
    from pbe_utils.data import load_fashion_mnist

    test = load_fashion_mnist("test")
    return test.subset(np.arange(16))


@pytest.mark.parametrize("name", ["resnet", "vgg"])
@pytest.mark.parametrize("method", ["activation", "gradient", "taylor", "ig"])
def test_baselines_equal_those_of_the_out_of_place_network(name, method, fashion_batch):
    from pbe_utils.zoo import load_zoo_model

    model, _ = load_zoo_model(name)
    twin = _out_of_place(model)
    x = fashion_batch.x[:4]
    assert torch.allclose(model(x), twin(x), atol=1e-5)
    comps = find_components(model)
    got = baseline_scores(model, comps, fashion_batch, method, ig_steps=4)
    want = baseline_scores(twin, comps, fashion_batch, method, ig_steps=4)
    for c, g, w in zip(comps, got, want, strict=True):
        assert torch.allclose(g, w, rtol=1e-4, atol=1e-6), f"{name} {c.name}: {method} scores differ"


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("rule", ["epsilon", "zplus", "alpha2beta1", "gamma"])
def test_vit_linear_rules_equal_zennit(rule, bias):
    """Relevance at the input of an nn.Linear: the ViT engine's rule == zennit's rule of the same name."""
    torch.manual_seed(3)
    lin = nn.Linear(7, 5, bias=bias)
    with torch.no_grad():
        if bias:
            lin.bias.normal_()
    x = torch.randn(6, 7)  # signed inputs (a ViT's LayerNorm output)
    r_out = torch.randn(6, 5)
    handle = zennit_rule(rule, "linear").register(lin)
    xz = x.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(lin(xz), xz, r_out)  # zennit: the gradient is the relevance
    handle.remove()
    xo = x.clone().requires_grad_(True)
    out = lrp_linear(xo, lin.weight, lin.bias, rule, GAMMA_LINEAR)
    assert torch.equal(out, lin(x))
    (g,) = torch.autograd.grad(out, xo, r_out / out.detach())
    # float tolerance, scaled: an output near 0 (here |z| = 0.006) magnifies the 1e-6 stabiliser, which the ViT
    # engine's epsilon (the plain gradient) leaves out
    assert torch.allclose(xo.detach() * g, want, rtol=1e-3, atol=1e-4 * float(want.abs().max()))


def _biasfree(model: nn.Module, keep: tuple[str, ...]) -> nn.Module:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") and not name.startswith(keep):
                p.zero_()
    return adapt(model).eval()


def _vit(kind: str):
    from pbe_utils.models import _small_vit_timm, _small_vit_torchvision

    torch.manual_seed(0)
    if kind == "timm":
        m = _small_vit_timm(dim=32, depth=2, heads=2, mlp_ratio=2.0)
        return _biasfree(m, ("patch_embed",)), m.blocks[0]
    m = _small_vit_torchvision(dim=32, depth=2, heads=2, mlp=64)
    nn.init.normal_(m.heads.head.weight)  # torchvision initialises the classifier to zero
    return _biasfree(m, ("conv_proj",)), m.encoder.layers[0]


def _total_at_first_block(model, first, composite, x, y) -> torch.Tensor:
    got = {}

    def pre(_m, inp):
        inp[0].register_hook(lambda g: got.__setitem__("R", (g * inp[0]).detach()))

    h = first.register_forward_pre_hook(pre)
    try:
        with vit_lrp(model, composite, layer_groups(model)):
            xx = x.clone().requires_grad_(True)
            out = model(xx)
            torch.autograd.grad(out, xx, nn.functional.one_hot(y, 10).float() / out.detach())
    finally:
        h.remove()
    return got["R"].sum((1, 2))


CONSERVING = ["cp", "attnlrp_zplus"]
# measured on these bias-free ViTs (mean total relevance at the first block): AttnLRP's softmax rule
# (input x gradient) and the z+ softmax rule with its virtual bias do not conserve by construction
NOT_CONSERVING = ["attnlrp", "attnlrp_zplus_vb"]


@pytest.mark.parametrize("kind", ["timm", "torchvision"])
@pytest.mark.parametrize("rule", ["epsilon", "zplus", "alpha2beta1", "gamma"])
@pytest.mark.parametrize("attention", CONSERVING)
def test_conservation_in_biasfree_vits(kind, rule, attention, toy_data):
    model, first = _vit(kind)
    total = _total_at_first_block(
        model, first, Composite(*[rule] * 4, mag=False, attention=attention), toy_data.x, toy_data.y
    )
    # the mean total within 1e-3; single samples within 5e-3 (the z+ softmax rule's 1e-6 stabiliser on
    # near-empty positive parts loses up to 2e-3 on one of these random images)
    assert abs(float(total.mean()) - 1) < 1e-3 and float((total - 1).abs().max()) < 5e-3, (kind, rule, attention, total)


@pytest.mark.parametrize("kind", ["timm", "torchvision"])
@pytest.mark.parametrize("attention", NOT_CONSERVING)
def test_non_conserving_attention_rules_are_named_and_measured(kind, attention, toy_data):
    model, first = _vit(kind)
    total = _total_at_first_block(model, first, Composite(mag=False, attention=attention), toy_data.x, toy_data.y)
    loss = float((1 - total).abs().mean())
    print(f"{kind} {attention}: mean |1 - total relevance| = {loss:.4f}")
    assert np.isfinite(loss) and loss > 1e-3


def test_ig_completeness(fashion_batch):
    """The sum of latent IG over a layer every path crosses approaches f_y(x) - f_y(0) as the steps grow."""
    from pbe_utils.zoo import load_zoo_model

    model, _ = load_zoo_model("vgg")
    comps = find_components(model)
    x, y = fashion_batch.x[:8], fashion_batch.y[:8]
    with torch.no_grad():
        delta = (model(x) - model(torch.zeros_like(x))).gather(1, y[:, None]).squeeze(1)
    errs = []
    for steps in (2, 8, 64):
        ig = latent_ig(model, comps, x, y, steps)
        errs.append(max(float((a.sum(1) - delta).abs().max() / delta.abs().max()) for a in ig))
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.1, errs


def test_gradient_taylor_ig_agree_with_captum(fashion_batch):
    """Per-component scores vs captum's layer attributions on the same (BatchNorm output) layers. Conventions:
    ours sum over positions per sample, then |.|, then average over samples (captum returns per-position maps).
    Gradient, Taylor and IG (= LayerConductance with ``method='riemann_trapezoid'``: the grid k/m, k = 0..m, and
    the gradient at the start of each interval) must agree to float tolerance."""
    from captum.attr import LayerConductance, LayerGradientXActivation

    from pbe_utils.zoo import load_zoo_model

    model, _ = load_zoo_model("vgg")
    model = _out_of_place(model)  # captum keeps layer outputs too
    comps = find_components(model)
    mods = dict(model.named_modules())
    data = fashion_batch.subset(np.arange(8))
    ours = {m: baseline_scores(model, comps, data, m, ig_steps=16) for m in ("gradient", "taylor", "ig")}
    for i, c in enumerate(comps):
        layer = mods[c.act_name]
        gxa = LayerGradientXActivation(model, layer).attribute(data.x, target=data.y)
        grad = LayerGradientXActivation(model, layer, multiply_by_inputs=False).attribute(data.x, target=data.y)
        cond = LayerConductance(model, layer).attribute(
            data.x, baselines=torch.zeros_like(data.x), target=data.y, n_steps=16, method="riemann_trapezoid"
        )
        for name, ref in (("taylor", gxa), ("gradient", grad), ("ig", cond)):
            want = ref.sum((2, 3)).abs().mean(0).detach()
            assert torch.allclose(ours[name][i], want, rtol=1e-3, atol=1e-5), (c.name, name)


def test_layer_normalised_weight_criterion_keeps_every_layer():
    from pbe_utils.pruning import global_masks
    from pbe_utils.zoo import load_zoo_model

    model, _ = load_zoo_model("vgg")
    comps = find_components(model)
    for method, normalise in (("weight", True), ("weight_raw", False)):
        scores = baseline_scores(model, comps, None, method)  # type: ignore[arg-type]  # no data needed
        assert all(torch.equal(a, b) for a, b in zip(scores, weight_scores(model, comps, normalise), strict=True))
        masks = global_masks(scores, 0.05)
        kept = [float(m.mean()) for m in masks]
        if normalise:
            assert min(kept) >= 0.5, kept
        else:  # the raw global L1 ranking empties the first layer (its filters have 9 weights)
            assert kept[0] < 0.5, kept
