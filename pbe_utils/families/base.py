"""What every architecture family answers (:class:`Family`), the component layer it returns, and the family
registry. One module per family subclasses :class:`Family` and registers an instance (:func:`register_family`);
nothing outside ``pbe_utils.families`` asks which architecture a model is (a test greps for it).

A family owns what differs between architectures: how a model is recognised and adapted for the LRP engine, its
layer groups (which rule of a composite applies where), its prunable components, the LRP engine's context and
convention, the search space and the notation of a composite, the multiply-accumulates its modules hide from
forward hooks, the attention projections that head slicing and the weight criterion touch, and its optimiser.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pbe_utils.composites import Composite, space_for

KINDS = ("conv", "neurons", "heads")


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


def quarter_groups(n: int) -> list[str]:
    """First ~25 % LLL, last ~25 % HLL, the rest MLL (VGG-16: 4/5/4 convs, ViT-B: 3/6/3 blocks)."""
    q = max(1, math.ceil(n / 4)) if n >= 3 else 1
    out = []
    for i in range(n):
        out.append("LLL" if i < q else ("HLL" if i >= n - q and n - q >= q else "MLL"))
    return out


class Family:
    """An architecture family. Subclasses set the class attributes and implement the methods that raise here.

    ``name``: the family's key; ``group``: the profile list it belongs to (``cnn`` -> ``cnn_models``, ``vit`` ->
    ``vit_models``) and its search space (:func:`pbe_utils.composites.space_for`); ``noun``: its name in prose;
    ``kinds``: its component kinds, the first being the default; ``faithful``: the composite that explains it most
    faithfully in the literature (chapter 01's third heatmap); ``description``: one line for the book and errors."""

    name: str = ""
    group: str = ""
    noun: str = ""  # how the book and errors call a model of the group: "CNN", "ViT"
    kinds: tuple[str, ...] = ()
    faithful: Composite
    description: str = ""
    #: families that recognise a model are asked most specific first (every ViT has a convolution; a DeiT is a ViT)
    specificity: int = 0

    # -- recognising and preparing a model ----------------------------------------------------------------------
    def matches(self, model: nn.Module) -> bool:
        """Whether ``model`` belongs to this family (a structural test; families are asked most specific first)."""
        raise NotImplementedError

    def adapt(self, model: nn.Module) -> nn.Module:
        """Prepare a freshly built model for the engine, in place (the function it computes is unchanged)."""
        return model

    def check(self, model: nn.Module) -> None:
        """Refuse, with what is supported and how to proceed, a model of this family the engine cannot explain."""

    # -- what a composite and the pruning see -------------------------------------------------------------------
    def layer_groups(self, model: nn.Module) -> dict[str, list[str]]:
        """Module names per layer group (LLL, MLL, HLL, FCL), for assigning a composite's rules."""
        raise NotImplementedError

    def components(self, model: nn.Module, kind: str) -> list[ComponentLayer]:
        """The component layers of ``kind`` (one of :attr:`kinds`), in forward order."""
        raise NotImplementedError

    def space(self, restrict: dict | None = None) -> dict[str, list]:
        """The composite search space of this family, optionally restricted."""
        return space_for(self.group, restrict)

    @property
    def profile_list(self) -> str:
        """The profile's list of this family's models: ``cnn_models`` or ``vit_models``."""
        return f"{self.group}_models"

    def point(self, composite: Composite) -> dict:
        """``composite`` as a point of :meth:`space`."""
        return composite.as_params(vit=self.group == "vit")

    def label(self, composite: Composite) -> str:
        """``composite`` in the paper's notation, with the attention rules where the family has attention."""
        return composite.label(vit=self.group == "vit")

    # -- the LRP engine -----------------------------------------------------------------------------------------
    def lrp(
        self, model: nn.Module, composite: Composite, groups: dict[str, list[str]], fast_epsilon: bool = True
    ) -> AbstractContextManager:
        """A context in which a backward pass through ``model`` computes the composite's relevance."""
        raise NotImplementedError

    def output_gradient(self, logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """The gradient that starts a backward pass with relevance 1 at the true class (``onehot``)."""
        raise NotImplementedError

    def relevance_reader(self, activation: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """How the relevance of a tensor is read from its gradient in the engine's convention (``activation`` is
        the tensor, read now: a later in-place operation may overwrite it before the backward pass)."""
        raise NotImplementedError

    # -- attention (families without it keep these defaults) ---------------------------------------------------
    def attention_modules(self, model: nn.Module) -> Iterator[tuple[str, Any]]:
        """The (adapted) attention modules of ``model``, by name."""
        return iter(())

    def out_projection(self, attention: Any) -> nn.Linear:
        """An attention module's output projection (its input columns are grouped by head)."""
        raise ValueError(f"the {self.name} family has no attention heads")

    def hidden_macs(self, attention: Any, tokens: int, width: int) -> float:
        """Multiply-accumulates of an attention module that no ``nn.Linear`` / ``nn.Conv2d`` hook sees: q.k^T,
        A.V and a fused in-projection that is a bare parameter."""
        return 0.0

    def slice_heads(
        self,
        attention: nn.Module,
        source: nn.Module,
        qkv_rows: torch.Tensor,
        rows: torch.Tensor,
        slice_module: Callable[[nn.Module, nn.Module, dict[int, torch.Tensor]], None],
    ) -> None:
        """Keep the q/k/v rows ``qkv_rows`` and the output-projection columns ``rows`` of ``source`` in
        ``attention``; ``slice_module(dst, src, {0: rows, 1: columns})`` slices one module."""
        raise ValueError(f"the {self.name} family has no attention heads")

    # -- training -----------------------------------------------------------------------------------------------
    def optimizer(self, params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        """The optimiser of the family's training recipe."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<family {self.name}: {self.description}>"


FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add ``family`` to the registry (:func:`family_of` asks the most specific families first)."""
    if not family.name or family.group not in ("cnn", "vit") or not family.kinds:
        raise ValueError(f"family {family!r} needs a name, a group ('cnn' or 'vit') and its component kinds")
    if any(k not in KINDS for k in family.kinds):
        raise ValueError(f"family {family.name!r} has kinds {family.kinds}; accepted are {KINDS}")
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    """The registered family ``name``; an unknown name raises a ``ValueError`` listing the registry."""
    if name not in FAMILIES:
        raise ValueError(f"family={name!r} is not accepted; use one of {sorted(FAMILIES)}")
    return FAMILIES[name]


def adapt(model: nn.Module) -> nn.Module:
    """Prepare ``model`` for the engine by its family (a ViT's attention gets the hookable adapter), in place."""
    return family_of(model).adapt(model)


def family_of(model: nn.Module) -> Family:
    """The family of ``model``: the most specific registered family that recognises it."""
    for family in sorted(FAMILIES.values(), key=lambda f: -f.specificity):
        if family.matches(model):
            return family
    raise ValueError(
        f"no architecture family recognises {type(model).__name__}: supported are {sorted(FAMILIES)} "
        "(CNNs with nn.Conv2d layers; ViTs with torchvision MultiheadAttention or timm Attention); see "
        "CONTRIBUTING.md, 'Add an architecture family'"
    )
