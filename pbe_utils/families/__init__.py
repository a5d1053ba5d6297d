"""One module per architecture family (see :mod:`pbe_utils.families.base`): ``cnn`` (sequential conv nets and
torchvision ResNets), ``vit_tv`` (torchvision's ViT), ``vit_timm`` (timm's ViT) and ``deit`` (timm's DeiT with a
distillation token), with the ViT engine they share (:mod:`pbe_utils.families.attention`). Importing the package
registers them."""

from pbe_utils.families.base import (
    FAMILIES,
    KINDS,
    ComponentLayer,
    Family,
    adapt,
    family_of,
    get_family,
    keeps_mode,
)
from pbe_utils.families.cnn import CNN_FAMILY
from pbe_utils.families.deit import DEIT
from pbe_utils.families.vit_timm import VIT_TIMM
from pbe_utils.families.vit_torchvision import VIT_TORCHVISION

__all__ = [
    "CNN_FAMILY",
    "DEIT",
    "FAMILIES",
    "KINDS",
    "VIT_TIMM",
    "VIT_TORCHVISION",
    "ComponentLayer",
    "Family",
    "adapt",
    "family_of",
    "get_family",
    "keeps_mode",
]
