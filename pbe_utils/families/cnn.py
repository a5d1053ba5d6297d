"""Convolutional networks: every ``nn.Conv2d``'s output channels are the components (masked after their BatchNorm);
the layer groups are quarters of the convolutions, or a torchvision ResNet's stages; relevance comes from zennit
(canonizers merge BatchNorm and split ResNet's residual sums; the gradient *is* the relevance), or, for the uniform
LRP-ε composite, from one plain backward pass that computes the same (:func:`epsilon_as_gradient`)."""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.fx
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck
from zennit import layer as zl
from zennit import types as zt
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.core import Composite as ZennitComposite
from zennit.torchvision import ResNetCanonizer

from pbe_utils.composites import FAITHFUL_CNN, Composite, zennit_composite
from pbe_utils.families.attention import stabilise
from pbe_utils.families.base import ComponentLayer, Family, quarter_groups, register_family

#: residual blocks whose additions no zennit canonizer splits: LRP through them is not defined by our composites
#: (the names are the fallback for a model that torch.fx cannot trace)
UNSUPPORTED_RESIDUAL = ("InvertedResidual", "MBConv", "FusedMBConv", "ResBottleneckBlock", "BottleneckTransform")
#: the residual blocks whose additions the engine's canonizer splits (torchvision's ResNet blocks)
SUPPORTED_RESIDUAL = ("BasicBlock", "Bottleneck")
_RESIDUALS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def residual_blocks(model: nn.Module) -> set[str] | None:
    """The module types whose forward adds two computed tensors (a residual connection), found by tracing the model
    with torch.fx: one rule for every residual, torchvision's, timm's or a reader's own. The model itself names an
    addition in its own forward. None when the model cannot be traced (the caller falls back to block names)."""
    if model in _RESIDUALS:
        return _RESIDUALS[model]
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # data-dependent control flow and the like: no structural answer
        return None
    owners: set[str] = set()
    for node in graph.nodes:
        add = (node.op == "call_function" and node.target in (operator.add, operator.iadd, torch.add)) or (
            node.op == "call_method" and node.target in ("add", "add_")
        )
        computed = [a for a in node.args if isinstance(a, torch.fx.Node) and a.op != "get_attr"]
        if not add or len(computed) < 2:
            continue
        stack = list(node.meta.get("nn_module_stack", {}).values())
        owner = stack[-1][1] if stack else type(model)
        owners.add(owner.__name__ if isinstance(owner, type) else str(owner).rsplit(".", 1)[-1])
    _RESIDUALS[model] = owners
    return owners


def canonizers_for(model: nn.Module) -> list:
    """zennit canonizers: the ResNet canonizer for torchvision ResNets, BatchNorm merging for BN models."""
    if any(isinstance(m, (BasicBlock, Bottleneck)) for m in model.modules()):
        return [ResNetCanonizer()]
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        return [SequentialMergeBatchNorm()]
    return []


def _resnet_group(name: str) -> str | None:
    if not name.startswith("layer"):
        return "LLL" if name.startswith(("conv1", "bn1")) else None
    stage = int(name[5])
    return {1: "LLL", 2: "MLL", 3: "MLL"}.get(stage, "HLL")


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


class CNN(Family):
    name = "cnn"
    group = "cnn"
    noun = "CNN"
    kinds = ("conv",)
    faithful = FAITHFUL_CNN
    description = "convolutional network (sequential conv nets and torchvision ResNets)"

    def matches(self, model: nn.Module) -> bool:
        return any(isinstance(m, nn.Conv2d) for m in model.modules())

    def check(self, model: nn.Module) -> None:
        owners = residual_blocks(model)
        if owners is not None:
            bad = sorted(owners - set(SUPPORTED_RESIDUAL))
        else:
            bad = sorted(
                {
                    type(m).__name__
                    for m in model.modules()
                    if type(m).__name__ in UNSUPPORTED_RESIDUAL or hasattr(m, "use_res_connect")
                }
            )
        if bad:
            raise ValueError(
                f"the model has residual blocks {bad} whose additions no canonizer covers, so LRP relevance through "
                "them is not defined here (it can explode). Supported CNNs: sequential conv nets (VGG-like) and "
                "torchvision ResNets (BasicBlock, Bottleneck); register a canonizer for the block, or use a "
                "supported architecture"
            )

    def layer_groups(self, model: nn.Module) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {g: [] for g in ("LLL", "MLL", "HLL", "FCL")}
        groups["FCL"] = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        if any(n.startswith("layer") for n in convs):  # torchvision ResNet layout
            for n in convs:
                groups[_resnet_group(n) or "MLL"].append(n)
        else:
            for n, g in zip(convs, quarter_groups(len(convs)), strict=True):
                groups[g].append(n)
        return groups

    def components(self, model: nn.Module, kind: str) -> list[ComponentLayer]:
        group_of = {n: g for g, names in self.layer_groups(model).items() for n in names}
        leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
        out: list[ComponentLayer] = []
        for i, (name, mod) in enumerate(leaves):
            if not isinstance(mod, nn.Conv2d):
                continue
            mask = name
            nxt = leaves[i + 1] if i + 1 < len(leaves) else None
            if nxt is not None and isinstance(nxt[1], nn.BatchNorm2d) and nxt[1].num_features == mod.out_channels:
                mask = nxt[0]
            out.append(ComponentLayer(name, "conv", mod.out_channels, mask, mask, group_of.get(name, "MLL"), len(out)))
        return out

    def lrp(self, model: nn.Module, composite: Composite, groups: dict[str, list[str]], fast_epsilon: bool = True):
        if is_uniform_epsilon(composite) and fast_epsilon:
            return epsilon_as_gradient(model, groups, canonizers_for(model))
        return zennit_composite(composite, groups, canonizers_for(model), set(groups["FCL"])).context(model)

    def output_gradient(self, logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return onehot  # zennit: the gradient is the relevance

    def relevance_reader(self, activation: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda grad: grad

    def optimizer(self, params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay, nesterov=True)


CNN_FAMILY = register_family(CNN())
