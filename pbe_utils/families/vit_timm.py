"""timm's ViT: ``Attention`` modules with a ``qkv`` linear layer, q/k normalisation and an output ``norm`` and
``proj`` in ``blocks.N``; a class token or global average pooling."""

from __future__ import annotations

from typing import Any

import torch
from timm.models.vision_transformer import Attention
from torch import nn

from pbe_utils.families.attention import adapt_attention
from pbe_utils.families.base import register_family
from pbe_utils.families.vit import ViTFamily


def _qkv(self: Attention, x: torch.Tensor, rule: str | None) -> torch.Tensor:
    return self.qkv(x)  # an nn.Linear: its rule is set by the engine's hooks like every other linear layer


def _qk_norm(self: Attention, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return self.q_norm(q), self.k_norm(k)


def _out(self: Attention, context: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    out = self.norm(context)
    gate = getattr(self, "gate", None)
    if gate is not None:
        out = out * gate(x).sigmoid()
    return self.proj_drop(self.proj(out))


class TimmViT(ViTFamily):
    name = "vit_timm"
    description = "timm VisionTransformer (Attention with a qkv linear layer; class token or average pooling)"
    attention_type = Attention
    block_pattern = r"blocks\.(\d+)"

    def adapt_module(self, mod: nn.Module) -> None:
        adapt_attention(mod, _qkv, _qk_norm, _out)

    def out_projection(self, attention: Any) -> nn.Linear:
        return attention.proj

    def slice_heads(self, attention, source, qkv_rows, rows, slice_module) -> None:
        slice_module(attention.qkv, source.qkv, {0: qkv_rows})
        slice_module(attention.proj, source.proj, {1: rows})
        attention.attn_dim = len(rows)


VIT_TIMM = register_family(TimmViT())
