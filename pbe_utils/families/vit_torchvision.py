"""torchvision's ViT: ``nn.MultiheadAttention`` (batch first) in ``encoder_layer_N`` blocks, with a fused
in-projection that is a bare parameter (not an ``nn.Linear``: its LRP rule is applied by the adapter, forward hooks
do not count its multiply-accumulates, and head slicing cuts the parameter itself)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pbe_utils.families.attention import adapt_attention, lrp_linear
from pbe_utils.families.base import register_family
from pbe_utils.families.vit import ViTFamily


def _qkv(self: nn.MultiheadAttention, x: torch.Tensor, rule: str | None) -> torch.Tensor:
    if rule is not None:
        return lrp_linear(x, self.in_proj_weight, self.in_proj_bias, rule)
    return F.linear(x, self.in_proj_weight, self.in_proj_bias)


def _qk_norm(self: nn.MultiheadAttention, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return q, k


def _out(self: nn.MultiheadAttention, context: torch.Tensor, x: torch.Tensor):
    return self.out_proj(context), None  # (output, attention weights) as nn.MultiheadAttention returns


class TorchvisionViT(ViTFamily):
    name = "vit_tv"
    description = "torchvision VisionTransformer (nn.MultiheadAttention, class token)"
    attention_type = nn.MultiheadAttention
    block_pattern = r"encoder_layer_(\d+)"

    def adapt_module(self, mod: nn.Module) -> None:
        if not mod.batch_first:
            raise ValueError("only batch_first nn.MultiheadAttention (torchvision ViT) is supported")
        adapt_attention(mod, _qkv, _qk_norm, _out)

    def out_projection(self, attention: Any) -> nn.Linear:
        return attention.out_proj

    def hidden_macs(self, attention: Any, tokens: int, width: int) -> float:
        h, dh = int(attention.num_heads), int(attention.head_dim)
        return super().hidden_macs(attention, tokens, width) + tokens * width * 3 * h * dh  # the fused projection

    def slice_heads(self, attention, source, qkv_rows, rows, slice_module) -> None:
        attention.in_proj_weight.data = source.in_proj_weight.detach()[qkv_rows]  # a bare parameter, not a module
        if source.in_proj_bias is not None:
            attention.in_proj_bias.data = source.in_proj_bias.detach()[qkv_rows]
        slice_module(attention.out_proj, source.out_proj, {1: rows})


VIT_TORCHVISION = register_family(TorchvisionViT())
