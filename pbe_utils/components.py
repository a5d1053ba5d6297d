"""What can be pruned in a model (book/method.md, "Components"), the layer groups of a composite (book/method.md,
"The composite"), and masking. What differs between architectures is answered by the model's family
(:mod:`pbe_utils.families`); this module is the one interface the rest of the package uses.

A *component layer* is a module whose output channels / neurons / heads are the prunable components:
every ``Conv2d`` of a CNN (masked after its BatchNorm, so the channel's output is exactly 0), the two MLP linear
layers of every ViT block (``neurons``), or the attention probabilities of every ViT block (``heads``, masked on
the adapter's ``pbe_probs`` so the head's contribution A.V is 0). Classifier heads are never pruned.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from pbe_utils.families import KINDS, ComponentLayer, Family, family_of, keeps_mode

__all__ = [
    "KINDS",
    "ComponentLayer",
    "channel_view",
    "check_model",
    "classifier_names",
    "count_components",
    "find_components",
    "keeps_mode",
    "layer_groups",
    "masked",
]


def check_model(model: nn.Module) -> Family:
    """Refuse, with what is supported and how to proceed, a model the engine cannot explain: a ViT whose attention
    is not adapted, a CNN with residual additions no canonizer covers, or a model with nothing prunable. Returns the
    model's family."""
    try:
        family = family_of(model)
    except ValueError as err:
        raise ValueError(
            "the model has no prunable components: CNNs need nn.Conv2d layers, ViTs need torchvision or timm "
            f"attention blocks (adapted by their family) with MLPs named '.mlp.' ({err})"
        ) from None
    family.check(model)
    return family


def classifier_names(model: nn.Module) -> list[str]:
    """Fully connected layers outside the convolutional trunk / transformer blocks (the FCL group)."""
    return layer_groups(model)["FCL"]


def layer_groups(model: nn.Module) -> dict[str, list[str]]:
    """Module names per layer group, for assigning a composite's rules (book/method.md, "The composite")."""
    return family_of(model).layer_groups(model)


def find_components(model: nn.Module, kind: str = "auto") -> list[ComponentLayer]:
    """The component layers of ``model``: ``conv`` for CNNs; ``neurons`` or ``heads`` for ViTs (``auto``: the
    family's first kind, conv for CNNs, neurons for ViTs). Order follows the forward pass."""
    family = check_model(model)
    if kind != "auto" and kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not accepted; use 'auto' or one of {KINDS}")
    kind = family.kinds[0] if kind == "auto" else kind
    if kind not in family.kinds:
        raise ValueError(
            f"kind={kind!r} does not apply to a {family.noun} (the {family.name} family); use "
            f"{' or '.join(family.kinds)}"
        )
    out = family.components(model, kind)
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
