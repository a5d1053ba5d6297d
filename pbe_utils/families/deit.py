"""timm's DeiT with a distillation token (``VisionTransformerDistilled``): a timm ViT with two prefix tokens, the
class token read by ``head`` and the distillation token by ``head_dist``; at inference the model returns the mean of
the two heads' logits. Both heads are classifier layers (the FCL group) and neither is pruned; everything else is
the timm ViT's, so this family differs from it only in how a model is recognised and described."""

from __future__ import annotations

from timm.models.deit import VisionTransformerDistilled
from torch import nn

from pbe_utils.families.base import register_family
from pbe_utils.families.vit_timm import TimmViT


class DeiT(TimmViT):
    name = "deit"
    specificity = 2
    description = "timm DeiT with a distillation token (two classifier heads, their logits averaged)"

    def matches(self, model: nn.Module) -> bool:
        return isinstance(model, VisionTransformerDistilled)


DEIT = register_family(DeiT())
