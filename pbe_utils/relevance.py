"""Per-component scores: LRP relevance under a composite, and the baselines, all through one interface.

LRP (book/method.md, "Relevance of a component"): the output relevance is the one-hot of the true label; relevance
is read at each component's
output and reduced over positions (conv: sum over (h, w); ViT neuron: per token; ViT head: sum over keys, per
query); with MAG the absolute value is taken per sample at that granularity (as the authors' code), and the score
is the mean over the reference samples (the paper's Eq. 1).

CNNs go through zennit (canonizers merge BatchNorm and split residual sums); zennit's convention is that the
gradient *is* the relevance, so it is read with tensor hooks (its ``Gradient`` uses ``autograd.grad``, so
``retain_grad`` would see nothing). ViTs go through :mod:`pbe_utils.attention`, whose convention is
activation x gradient.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import numpy as np
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck
from tqdm import tqdm
from zennit import layer as zl
from zennit import types as zt
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.core import Composite as ZennitComposite
from zennit.torchvision import ResNetCanonizer

from pbe_utils.attention import stabilise, vit_lrp
from pbe_utils.baselines import _batches, _onehot, baseline_scores, check_method
from pbe_utils.cache import cache_dir, load_or_compute, stable_hash
from pbe_utils.components import ComponentLayer, check_model, classifier_names, is_vit, keeps_mode, layer_groups
from pbe_utils.composites import Composite, zennit_composite
from pbe_utils.data import ImageSet
from pbe_utils.models import model_device


def canonizers_for(model: nn.Module) -> list:
    """zennit canonizers: the ResNet canonizer for torchvision ResNets, BatchNorm merging for BN models."""
    if any(isinstance(m, (BasicBlock, Bottleneck)) for m in model.modules()):
        return [ResNetCanonizer()]
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        return [SequentialMergeBatchNorm()]
    return []


def _per_sample(t: torch.Tensor, kind: str, mag: bool) -> torch.Tensor:
    """Reduce a relevance tensor at a component layer's output to (batch, components)."""
    if kind == "conv":
        r = t.sum((2, 3))
        return r.abs() if mag else r
    if kind == "neurons":  # (B, tokens, features): |.| per token
        return (t.abs() if mag else t).sum(1)
    r = t.sum(-1)  # heads: (B, H, queries, keys) -> sum over keys, |.| per query
    return (r.abs() if mag else r).sum(-1)


def _init_gradient(logits: torch.Tensor, y: torch.Tensor, vit: bool) -> torch.Tensor:
    """The output gradient that starts LRP with relevance 1 at the true class (book/method.md, "Relevance of a
    component"): the one-hot itself for
    zennit (gradient = relevance), one-hot / logit in the activation x gradient convention of the ViT engine."""
    onehot = _onehot(logits, y)
    if not vit:
        return onehot
    z = logits.detach()
    return onehot / stabilise(z)


# ------------------------------------------------------------------------------------------ LRP-ε as a gradient
class _TimesInput(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by the input (the ε / Norm rules' reducer)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return x * g


class _DivideStabilised(torch.autograd.Function):
    """Identity forward; backward divides the gradient by the stabilised output (the ε / Norm rules' mapper)."""

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return z.clone()

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g / stabilise(z)


class _PassThrough(torch.autograd.Function):
    """Forward: the module's output; backward: the gradient goes to the module's input unchanged (zennit's Pass)."""

    @staticmethod
    def forward(ctx, x, out):
        return out.clone()

    @staticmethod
    def backward(ctx, g):
        return g, None


def is_uniform_epsilon(composite: Composite) -> bool:
    """Whether ``composite`` is LRP-ε in every group (the case explained in one plain backward pass)."""
    return all(rule == "epsilon" for rule in composite.rules)


@contextmanager
def epsilon_as_gradient(model: nn.Module, groups: dict[str, list[str]], canonizers: list) -> Iterator[None]:
    """The uniform LRP-ε composite of :func:`zennit_composite` computed in one plain backward pass.

    With ε (and Norm) on every layer, a rule is ``R_x = x * W^T (R_z / stab(z))``: the plain gradient with the
    incoming gradient divided by the stabilised output and the result multiplied by the input. So instead of
    zennit's rule hooks, which re-run each layer's forward in the backward pass, each ε/Norm module gets two
    identity functions whose backward does exactly that; BatchNorm passes relevance unchanged (zennit's Pass), and
    activations, max-pooling and flattening keep their gradient, as in zennit. The same canonizers are applied, so
    the forward is zennit's. Tested equal to zennit's composite on the zoo's CNNs and torchvision's VGG-16 and
    ResNets."""
    eps_names = {n for names in groups.values() for n in names}
    handles = []

    def times_input(_m, inputs):
        return tuple(_TimesInput.apply(x) if isinstance(x, torch.Tensor) else x for x in inputs)

    def divide(_m, _inputs, out):
        return _DivideStabilised.apply(out)

    def pass_through(_m, inputs, out):
        return _PassThrough.apply(inputs[0], out.detach())

    with ZennitComposite(canonizers=canonizers).context(model):  # canonizers only, no rule hooks
        for name, mod in model.named_modules():
            if name in eps_names or isinstance(mod, (zl.Sum, zt.AvgPool)):
                handles += [mod.register_forward_pre_hook(times_input), mod.register_forward_hook(divide)]
            elif isinstance(mod, zt.BatchNorm):
                handles.append(mod.register_forward_hook(pass_through))
        try:
            yield
        finally:
            for h in handles:
                h.remove()


@keeps_mode
def lrp_scores(
    model: nn.Module,
    components: list[ComponentLayer],
    data: ImageSet,
    composite: Composite,
    batch_size: int = 128,
    progress: bool = False,
    fast_epsilon: bool = True,
) -> list[torch.Tensor]:
    """Mean LRP relevance of every component over the reference samples ``data`` (one tensor per layer).

    A CNN under the uniform LRP-ε composite is explained in one plain backward pass (:func:`epsilon_as_gradient`);
    ``fast_epsilon=False`` uses zennit's rule hooks instead (same relevance, the reference of the tests)."""
    model.eval()
    vit = is_vit(model)
    groups = layer_groups(model)
    sums = [torch.zeros(c.size, dtype=torch.float64) for c in components]
    store: dict[int, torch.Tensor] = {}
    mods = dict(model.named_modules())
    with ExitStack() as stack:
        if vit:
            stack.enter_context(vit_lrp(model, composite, groups))
        elif is_uniform_epsilon(composite) and fast_epsilon:
            stack.enter_context(epsilon_as_gradient(model, groups, canonizers_for(model)))
        else:
            zc = zennit_composite(composite, groups, canonizers_for(model), set(classifier_names(model)))
            stack.enter_context(zc.context(model))
        handles = []
        for i, comp in enumerate(components):

            def fwd(_m, _inp, out, i=i):
                if out.requires_grad:
                    # zennit: the gradient is the relevance; ViT engine: activation x gradient, with the activation
                    # copied now (a later in-place operation may overwrite ``out`` before the backward pass)
                    act = out.detach().clone() if vit else None
                    out.register_hook(lambda g, i=i, act=act: store.__setitem__(i, g * act if vit else g))

            handles.append(mods[comp.name].register_forward_hook(fwd))
        stack.callback(lambda: [h.remove() for h in handles])
        dev = model_device(model)
        for x, y in tqdm(list(_batches(data, batch_size, dev)), desc="relevance", disable=not progress, leave=False):
            x = x.clone().requires_grad_(True)
            out = model(x)
            store.clear()
            torch.autograd.grad(out, x, _init_gradient(out, y, vit))
            for i, comp in enumerate(components):
                sums[i] += _per_sample(store[i].detach(), comp.kind, composite.mag).sum(0).double().cpu()
    return [(s / len(data)).float() for s in sums]


@keeps_mode
def compute_scores(
    model: nn.Module,
    components: list[ComponentLayer],
    data: ImageSet,
    method: str = "lrp",
    composite: Composite | None = None,
    batch_size: int = 128,
    seed: int = 0,
    ig_steps: int = 20,
    progress: bool = False,
) -> list[torch.Tensor]:
    """One score per component, by ``method`` (``lrp`` needs a ``composite``)."""
    check_method(method)
    check_model(model)
    if method == "lrp":
        if composite is None:
            raise ValueError("method='lrp' needs a composite (e.g. pbe_utils.composites.LRP_EPSILON)")
        return lrp_scores(model, components, data, composite, batch_size, progress)
    return baseline_scores(model, components, data, method, batch_size, seed, ig_steps)


def model_fingerprint(model: nn.Module) -> str:
    """A hash of the architecture's state (parameter names, shapes and values)."""
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(np.ascontiguousarray(v.detach().cpu().float().numpy()).tobytes())
    return h.hexdigest()[:16]


def cached_scores(
    model: nn.Module,
    components: list[ComponentLayer],
    data: ImageSet,
    method: str = "lrp",
    composite: Composite | None = None,
    seed: int = 0,
    data_key: object = None,
    compute: Callable[[], list[torch.Tensor]] | None = None,
    **kwargs,
) -> list[torch.Tensor]:
    """:func:`compute_scores` with a content-addressed cache keyed by (model weights, components, method,
    composite, reference data, seed); written atomically."""
    key = stable_hash(
        {
            "model": model_fingerprint(model),
            "components": [c.name for c in components],
            "method": method,
            "composite": repr(composite) if method == "lrp" else None,
            "seed": seed,
            "data": data_key if data_key is not None else stable_hash([data.y.tolist(), float(data.x.sum())]),
            "kwargs": kwargs,
            "v": 2,  # 2: activations copied before in-place operations, layer-normalised weight criterion
        }
    )

    def run() -> list[torch.Tensor]:
        scores = (
            compute() if compute else compute_scores(model, components, data, method, composite, seed=seed, **kwargs)
        )
        return [s.contiguous() for s in scores]

    return list(load_or_compute(cache_dir() / "scores" / f"{method}-{key}.pt", run, "score cache"))


@keeps_mode
def input_heatmaps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, composite: Composite) -> torch.Tensor:
    """Input-space LRP heatmaps (B, H, W) of ``composite`` for the labels ``y`` (summed over colour channels). The
    model passes the same check as every other entry point that explains one (a supported CNN or an adapted ViT)."""
    check_model(model)
    model.eval()
    x = x.clone().to(model_device(model)).requires_grad_(True)
    y = y.to(x.device)
    if is_vit(model):
        with vit_lrp(model, composite, layer_groups(model)):
            out = model(x)
            (g,) = torch.autograd.grad(out, x, _init_gradient(out, y, True))
        rel = g * x.detach()
    else:
        zc = zennit_composite(composite, layer_groups(model), canonizers_for(model), set(classifier_names(model)))
        with zc.context(model):
            out = model(x)
            (rel,) = torch.autograd.grad(out, x, _onehot(out, y))
    return rel.detach().sum(1).cpu()
