"""What the ViT families share: numbered transformer blocks whose attention is adapted for the ViT engine
(:mod:`pbe_utils.families.attention`, activation x gradient convention), MLP neurons and attention heads as
components, blocks split into quarters for the layer groups, AdamW. A ViT family says how its blocks are named,
which attention modules it adapts and how their projections are reached."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from pbe_utils.composites import FAITHFUL_VIT, Composite
from pbe_utils.families.attention import is_adapted, stabilise, vit_lrp
from pbe_utils.families.base import ComponentLayer, Family, quarter_groups


class ViTFamily(Family):
    """A vision transformer; subclasses set :attr:`attention_type`, :attr:`block_pattern` and the projections."""

    group = "vit"
    noun = "ViT"
    specificity = 1
    kinds = ("neurons", "heads")
    faithful = FAITHFUL_VIT
    #: the attention module class the family adapts
    attention_type: type[nn.Module] = nn.Module
    #: a regular expression whose first group is the block number in a module name
    block_pattern = ""

    def matches(self, model: nn.Module) -> bool:
        return any(isinstance(m, self.attention_type) for m in model.modules())

    def adapt(self, model: nn.Module) -> nn.Module:
        found = 0
        for mod in model.modules():
            if isinstance(mod, self.attention_type):
                self.adapt_module(mod)
                found += 1
        if not found:
            raise ValueError(f"the {self.name} family found no {self.attention_type.__name__} module to adapt")
        return model

    def adapt_module(self, mod: nn.Module) -> None:
        """Give one attention module the engine's hookable forward."""
        raise NotImplementedError

    def check(self, model: nn.Module) -> None:
        raw = [n for n, m in model.named_modules() if isinstance(m, self.attention_type) and not is_adapted(m)]
        if raw:
            raise ValueError(
                f"the model has attention modules without the LRP adapter ({raw[0]!r}, ...): call "
                f"pbe_utils.families.adapt(model) first (build_model does it for registry models); "
                "supported are torchvision's MultiheadAttention (batch_first) and timm's Attention"
            )

    def block(self, name: str) -> int | None:
        """The number of the transformer block a module belongs to (None outside the blocks)."""
        m = re.search(self.block_pattern, name)
        return int(m.group(1)) if m else None

    def attention_modules(self, model: nn.Module) -> Iterator[tuple[str, Any]]:
        return ((n, m) for n, m in model.named_modules() if is_adapted(m))

    def layer_groups(self, model: nn.Module) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {g: [] for g in ("LLL", "MLL", "HLL", "FCL")}
        groups["FCL"] = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and self.block(n) is None]
        blocks = sorted({b for n, _ in model.named_modules() if (b := self.block(n)) is not None})
        gmap = dict(zip(blocks, quarter_groups(len(blocks)), strict=True))
        for name, mod in model.named_modules():
            b = self.block(name)
            if b is not None and isinstance(mod, nn.Linear):
                groups[gmap[b]].append(name)
        return groups

    def components(self, model: nn.Module, kind: str) -> list[ComponentLayer]:
        group_of = {n: g for g, names in self.layer_groups(model).items() for n in names}
        out: list[ComponentLayer] = []
        if kind == "neurons":
            for name, mod in model.named_modules():
                if isinstance(mod, nn.Linear) and ".mlp." in f".{name}." and self.block(name) is not None:
                    block = self.block(name) or 0
                    out.append(ComponentLayer(name, "neurons", mod.out_features, name, name, group_of[name], block))
        else:
            for name, mod in self.attention_modules(model):
                proj_group = group_of.get(next((n for n in group_of if n.startswith(name + ".")), ""), "MLL")
                out.append(
                    ComponentLayer(
                        f"{name}.pbe_probs",
                        "heads",
                        int(mod.num_heads),
                        f"{name}.pbe_probs",
                        f"{name}.pbe_context",
                        proj_group,
                        self.block(name) or 0,
                    )
                )
        return out

    def lrp(self, model: nn.Module, composite: Composite, groups: dict[str, list[str]], fast_epsilon: bool = True):
        return vit_lrp(model, composite, groups)

    def output_gradient(self, logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return onehot / stabilise(logits.detach())  # relevance = logit x gradient = the one-hot

    def relevance_reader(self, activation: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        act = activation.detach().clone()
        return lambda grad: grad * act

    def hidden_macs(self, attention: Any, tokens: int, width: int) -> float:
        h, dh = int(attention.num_heads), int(attention.head_dim)
        return 2 * h * tokens * tokens * dh  # q.k^T and A.V

    def optimizer(self, params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
