"""What can be pruned in each architecture (book/method.md, "Components"), the layer groups of a composite
(book/method.md, "The composite"), and masking.

A *component layer* is a module whose output channels / neurons / heads are the prunable components:
every ``Conv2d`` of a CNN (masked after its BatchNorm, so the channel's output is exactly 0), the two MLP linear
layers of every ViT block (``neurons``), or the attention probabilities of every ViT block (``heads``, masked on
the adapter's ``pbe_probs`` so the head's contribution A.V is 0). Classifier heads are never pruned.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.fx
from timm.models.vision_transformer import Attention as TimmAttention
from torch import nn

KINDS = ("conv", "neurons", "heads")
FAMILY_KINDS = {"cnn": ("conv",), "vit": ("neurons", "heads")}


def keeps_mode(fn):
    """Decorate a function whose first argument is a model: it may switch the model to eval mode, and every module's
    train/eval mode is restored when it returns or raises (explaining a model leaves it as it was)."""

    @functools.wraps(fn)
    def wrapper(model: nn.Module, *args, **kwargs):
        modes = [(m, m.training) for m in model.modules()]
        try:
            return fn(model, *args, **kwargs)
        finally:
            for m, training in modes:
                m.training = training

    return wrapper


def kinds_for(family: str) -> tuple[str, ...]:
    """The component kinds of a model family: convolution channels for CNNs; MLP neurons and heads for ViTs."""
    if family not in FAMILY_KINDS:
        raise ValueError(f"family={family!r} is not accepted; use one of {sorted(FAMILY_KINDS)}")
    return FAMILY_KINDS[family]


@dataclass(frozen=True)
class ComponentLayer:
    """One layer of prunable components.

    ``name``: the module that produces the components (relevance is read at its output);
    ``mask_name``: where the 0/1 mask multiplies the output (the BatchNorm after a conv);
    ``act_name``: where activation-based baselines read (a head's context A.V for heads);
    ``axis``: the channel / neuron / head axis of those outputs; ``group``: LLL, MLL or HLL.
    """

    name: str
    kind: str
    size: int
    mask_name: str
    act_name: str
    group: str
    block: int


def _quarter_groups(n: int) -> list[str]:
    """First ~25 % LLL, last ~25 % HLL, the rest MLL (VGG-16: 4/5/4 convs, ViT-B: 3/6/3 blocks)."""
    q = max(1, math.ceil(n / 4)) if n >= 3 else 1
    out = []
    for i in range(n):
        out.append("LLL" if i < q else ("HLL" if i >= n - q and n - q >= q else "MLL"))
    return out


def _resnet_group(name: str) -> str | None:
    if not name.startswith("layer"):
        return "LLL" if name.startswith(("conv1", "bn1")) else None
    stage = int(name[5])
    return {1: "LLL", 2: "MLL", 3: "MLL"}.get(stage, "HLL")


def is_vit(model: nn.Module) -> bool:
    """Whether ``model`` is a vision transformer (it has transformer blocks with attention)."""
    return any(hasattr(m, "pbe_probs") for m in model.modules())


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


def check_model(model: nn.Module) -> None:
    """Refuse, with what is supported and how to proceed, a model the engine cannot explain: a ViT whose attention
    is not adapted, a CNN with residual additions no canonizer covers, or a model with nothing prunable."""
    raw = [
        n
        for n, m in model.named_modules()
        if isinstance(m, (nn.MultiheadAttention, TimmAttention)) and not hasattr(m, "pbe_probs")
    ]
    if raw:
        raise ValueError(
            f"the model has attention modules without the LRP adapter ({raw[0]!r}, ...): call "
            "pbe_utils.attention.adapt_vit(model) first (build_model does it for registry ViTs); supported are "
            "torchvision's MultiheadAttention (batch_first) and timm's Attention"
        )
    if not is_vit(model):
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
        if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
            raise ValueError(
                "the model has no prunable components: CNNs need nn.Conv2d layers, ViTs need torchvision or timm "
                "attention blocks (adapted with adapt_vit) with MLPs named '.mlp.'"
            )


def _vit_block(name: str) -> int | None:
    m = re.search(r"(?:blocks\.|encoder_layer_)(\d+)", name)
    return int(m.group(1)) if m else None


def classifier_names(model: nn.Module) -> list[str]:
    """Fully connected layers outside the convolutional trunk / transformer blocks (the FCL group)."""
    names = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear):
            if is_vit(model):
                if _vit_block(name) is None:
                    names.append(name)
            else:
                names.append(name)
    return names


def layer_groups(model: nn.Module) -> dict[str, list[str]]:
    """Module names per layer group, for assigning a composite's rules (book/method.md, "The composite")."""
    groups: dict[str, list[str]] = {g: [] for g in ("LLL", "MLL", "HLL", "FCL")}
    groups["FCL"] = classifier_names(model)
    if is_vit(model):
        blocks = sorted({b for n, _ in model.named_modules() if (b := _vit_block(n)) is not None})
        gmap = dict(zip(blocks, _quarter_groups(len(blocks)), strict=True))
        for name, mod in model.named_modules():
            b = _vit_block(name)
            if b is not None and isinstance(mod, nn.Linear):
                groups[gmap[b]].append(name)
        return groups
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if any(n.startswith("layer") for n in convs):  # torchvision ResNet layout
        for n in convs:
            groups[_resnet_group(n) or "MLL"].append(n)
    else:
        for n, g in zip(convs, _quarter_groups(len(convs)), strict=True):
            groups[g].append(n)
    return groups


def find_components(model: nn.Module, kind: str = "auto") -> list[ComponentLayer]:
    """The component layers of ``model``: ``conv`` for CNNs; ``neurons`` or ``heads`` for ViTs (``auto``: conv
    for CNNs, neurons for ViTs). Order follows the forward pass."""
    check_model(model)
    vit = is_vit(model)
    if kind == "auto":
        kind = "neurons" if vit else "conv"
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not accepted; use 'auto' or one of {KINDS}")
    if vit == (kind == "conv"):
        raise ValueError(
            f"kind={kind!r} does not apply to a {'ViT' if vit else 'CNN'}; use {'neurons or heads' if vit else 'conv'}"
        )
    groups = layer_groups(model)
    group_of = {n: g for g, names in groups.items() for n in names}
    modules = list(model.named_modules())
    out: list[ComponentLayer] = []
    if kind == "conv":
        leaves = [(n, m) for n, m in modules if not list(m.children())]
        for i, (name, mod) in enumerate(leaves):
            if not isinstance(mod, nn.Conv2d):
                continue
            mask = name
            nxt = leaves[i + 1] if i + 1 < len(leaves) else None
            if nxt is not None and isinstance(nxt[1], nn.BatchNorm2d) and nxt[1].num_features == mod.out_channels:
                mask = nxt[0]
            out.append(ComponentLayer(name, "conv", mod.out_channels, mask, mask, group_of.get(name, "MLL"), len(out)))
    elif kind == "neurons":
        for name, mod in modules:
            if isinstance(mod, nn.Linear) and ".mlp." in f".{name}." and _vit_block(name) is not None:
                out.append(
                    ComponentLayer(
                        name, "neurons", mod.out_features, name, name, group_of.get(name, "MLL"), _vit_block(name) or 0
                    )
                )
    else:
        for name, mod in modules:
            if hasattr(mod, "pbe_probs"):
                blk = _vit_block(name) or 0
                heads = int(mod.num_heads)
                proj_group = group_of.get(next((n for n in group_of if n.startswith(name + ".")), ""), "MLL")
                out.append(
                    ComponentLayer(
                        f"{name}.pbe_probs", "heads", heads, f"{name}.pbe_probs", f"{name}.pbe_context", proj_group, blk
                    )
                )
    if not out:
        raise ValueError(
            f"the model has no prunable components of kind={kind!r}: ViT MLP neurons are the nn.Linear layers of "
            "modules named '.mlp.' inside numbered blocks; conv channels are nn.Conv2d outputs"
        )
    return out


def count_components(model: nn.Module, kind: str = "auto") -> int:
    """The number of prunable components of ``model`` per kind."""
    return sum(c.size for c in find_components(model, kind))


def channel_view(mask: torch.Tensor, kind: str) -> torch.Tensor:
    """Shape a (C,) mask so it broadcasts over a component layer's output."""
    if kind == "conv":
        return mask.view(1, -1, 1, 1)
    if kind == "heads":
        return mask.view(1, -1, 1, 1)
    return mask  # neurons: last axis


@contextmanager
def masked(
    model: nn.Module, components: list[ComponentLayer], masks: list[torch.Tensor] | None = None
) -> Iterator[list[torch.Tensor]]:
    """Zero pruned components with forward hooks while the context is open; the model is unchanged afterwards.

    Yields the list of mask tensors (1 = keep); change them in place (``mask.copy_(...)``) to move along a curve
    without re-registering hooks."""
    mods = dict(model.named_modules())
    if masks is None:
        masks = [torch.ones(c.size) for c in components]
    views = [channel_view(m, c.kind) for m, c in zip(masks, components, strict=True)]
    handles = []
    for comp, view in zip(components, views, strict=True):

        def hook(_mod, _inp, out, view=view):
            return out * view.to(device=out.device, dtype=out.dtype)

        handles.append(mods[comp.mask_name].register_forward_hook(hook))
    try:
        yield masks
    finally:
        for h in handles:
            h.remove()
