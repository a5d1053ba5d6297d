"""The models: one ``build_model(name)`` over a small registry, loading weights, prediction and accuracy (training
and cached checkpoints: :mod:`pbe_utils.training`).

Every architecture is built from torchvision or timm classes, so zennit's canonizers (torchvision ``BasicBlock``)
and our attention adapter (torchvision ``MultiheadAttention``, timm ``Attention``) recognise them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from timm.models.deit import VisionTransformerDistilled
from timm.models.vision_transformer import VisionTransformer as TimmViT
from torch import nn
from torchvision.models import get_model
from torchvision.models.resnet import BasicBlock, ResNet
from torchvision.models.vision_transformer import VisionTransformer as TorchvisionViT

from pbe_utils.cache import CorruptFileError, safe_torch_load
from pbe_utils.data import ImageSet
from pbe_utils.families import CNN_FAMILY, DEIT, VIT_TIMM, VIT_TORCHVISION, Family


# ------------------------------------------------------------------------------------------ architectures
class SmallVGG(nn.Module):
    """A VGG-style CNN for 28x28 grey images: six 3x3 convs with BatchNorm in three stages, a two-layer classifier."""

    def __init__(self, widths: tuple[int, ...] = (16, 16, 32, 32, 64, 64), num_classes: int = 10, in_chans: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_chans
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c_in, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c_in = w
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = 28 // 2 ** (len(widths) // 2)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * side * side, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images."""
        return self.classifier(self.features(x))


def _narrow_resnet(width: int = 16, layers: tuple[int, ...] = (2, 2, 2, 2), num_classes: int = 10, in_chans: int = 1):
    """torchvision's ResNet-18 layout (BasicBlocks, stages of width w, 2w, 4w, 8w) with a 3x3 stem and a 2x2
    max-pool for 28x28 input (stages at 14, 7, 4 and 2 pixels: a quarter of the compute of a stride-1 stem)."""
    model = ResNet(BasicBlock, list(layers), num_classes=num_classes)
    # rebuild the stages at the narrow width, reusing torchvision's own _make_layer
    model.inplanes = width
    model.conv1 = nn.Conv2d(in_chans, width, 3, 1, 1, bias=False)
    model.bn1 = nn.BatchNorm2d(width)
    model.maxpool = nn.MaxPool2d(2)
    model.layer1 = model._make_layer(BasicBlock, width, layers[0])
    model.layer2 = model._make_layer(BasicBlock, 2 * width, layers[1], stride=2)
    model.layer3 = model._make_layer(BasicBlock, 4 * width, layers[2], stride=2)
    model.layer4 = model._make_layer(BasicBlock, 8 * width, layers[3], stride=2)
    model.fc = nn.Linear(8 * width, num_classes)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return model


def _small_vit_torchvision(
    dim: int = 128, depth: int = 4, heads: int = 4, mlp: int = 256, patch: int = 7, num_classes: int = 10
):
    """torchvision's ViT (class token, learned position embedding) for 28x28 grey images."""
    model = TorchvisionViT(
        image_size=28,
        patch_size=patch,
        num_layers=depth,
        num_heads=heads,
        hidden_dim=dim,
        mlp_dim=mlp,
        num_classes=num_classes,
    )
    model.conv_proj = nn.Conv2d(1, dim, kernel_size=patch, stride=patch)  # grey input
    return model


def _small_vit_timm(
    dim: int = 128,
    depth: int = 6,
    heads: int = 4,
    mlp_ratio: float = 1.0,
    patch: int = 7,
    global_pool: str = "avg",
    num_classes: int = 10,
):
    """timm's ViT for 28x28 grey images; ``global_pool='avg'`` drops the class token and classifies the mean of
    the patch tokens (after a final LayerNorm), a different variant from torchvision's class-token ViT."""
    token = global_pool == "token"
    return _timm_grey28(
        TimmViT, dim, depth, heads, mlp_ratio, patch, num_classes, class_token=token, global_pool=global_pool
    )


def _small_deit(
    dim: int = 64, depth: int = 4, heads: int = 4, mlp_ratio: float = 2.0, patch: int = 7, num_classes: int = 10
):
    """timm's DeiT with a distillation token for 28x28 grey images. Trained here without a teacher: at training as
    at inference the model returns the mean of its two heads' logits, so both heads learn the labels."""
    return _timm_grey28(VisionTransformerDistilled, dim, depth, heads, mlp_ratio, patch, num_classes)


def _timm_grey28(cls, dim: int, depth: int, heads: int, mlp_ratio: float, patch: int, num_classes: int, **extra):
    """A timm vision transformer class built for 28x28 grey images (the embedded ViTs)."""
    return cls(
        img_size=28,
        patch_size=patch,
        in_chans=1,
        num_classes=num_classes,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        mlp_ratio=mlp_ratio,
        **extra,
    )


def _torchvision(name: str) -> Callable[..., nn.Module]:
    def build(weights: str | None = None, num_classes: int = 1000) -> nn.Module:

        if weights in (None, "random"):
            return get_model(name, weights=None, num_classes=num_classes)
        if weights == "pretrained":
            weights = "IMAGENET1K_V1"
        if Path(str(weights)).suffix in {".pt", ".pth", ".bin"}:
            if not Path(str(weights)).is_file():
                raise FileNotFoundError(
                    f"weights={str(weights)!r} for {name} does not exist; pass the path of a "
                    "state-dict file, 'pretrained' (torchvision's cache or download) or 'random'"
                )
            model = get_model(name, weights=None, num_classes=num_classes)
            load_weights(model, weights, name)
            return model
        try:
            return get_model(name, weights=weights)
        except Exception as err:
            raise FileNotFoundError(
                f"weights={weights!r} for {name} could not be loaded ({err}). Put the torchvision file in "
                f"$TORCH_HOME/hub/checkpoints/ (see torchvision.models.get_model_weights('{name}')), or pass "
                "weights=/path/to/state_dict.pth"
            ) from err

    return build


def _timm(name: str) -> Callable[..., nn.Module]:
    def build(weights: str | None = None, num_classes: int = 1000) -> nn.Module:

        if weights in (None, "random"):
            return timm.create_model(name, pretrained=False, num_classes=num_classes)
        if Path(str(weights)).suffix in {".pt", ".pth", ".bin", ".safetensors"}:
            return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(weights)})
        try:
            return timm.create_model(name, pretrained=True)
        except Exception as err:
            raise FileNotFoundError(
                f"weights={weights!r} for timm model {name} could not be loaded ({err}); pass weights=/path/to/file"
            ) from err

    return build


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry. ``family`` (:mod:`pbe_utils.families`) answers everything that differs between
    architectures: the engine, the components, the layer groups, the search space."""

    name: str
    family: Family
    builder: Callable[..., nn.Module]
    profile: str  # 'embedded' (trained here on Fashion-MNIST) or 'paper' (ImageNet weights)
    description: str


REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add an architecture to the registry (see CONTRIBUTING.md, "adding a model")."""
    if not isinstance(spec.family, Family):
        raise ValueError(
            f"family={spec.family!r} is not accepted; use a family object of pbe_utils.families, e.g. CNN_FAMILY"
        )
    REGISTRY[spec.name] = spec
    return spec


for _spec in (
    ModelSpec("vgg", CNN_FAMILY, SmallVGG, "embedded", "VGG-style CNN, 6 convs 16-64 with BatchNorm (147k params)"),
    ModelSpec(
        "resnet", CNN_FAMILY, _narrow_resnet, "embedded", "ResNet-18 layout, BasicBlocks, width 16 (0.7M params)"
    ),
    ModelSpec(
        "vit_tv",
        VIT_TORCHVISION,
        _small_vit_torchvision,
        "embedded",
        "torchvision ViT, patch 7, dim 128, depth 4, 4 heads, MLP 256, class token",
    ),
    ModelSpec(
        "vit_timm",
        VIT_TIMM,
        _small_vit_timm,
        "embedded",
        "timm ViT, patch 7, dim 128, depth 6, 4 heads, MLP 128, global average pooling (no class token)",
    ),
    ModelSpec(
        "deit",
        DEIT,
        _small_deit,
        "embedded",
        "timm DeiT, distillation token, patch 7, dim 64, depth 4, 4 heads, MLP 128 (not shipped: trained by recipe)",
    ),
    ModelSpec("vgg16", CNN_FAMILY, _torchvision("vgg16"), "paper", "torchvision VGG-16"),
    ModelSpec("vgg16_bn", CNN_FAMILY, _torchvision("vgg16_bn"), "paper", "torchvision VGG-16 with BatchNorm"),
    ModelSpec("resnet18", CNN_FAMILY, _torchvision("resnet18"), "paper", "torchvision ResNet-18"),
    ModelSpec("resnet50", CNN_FAMILY, _torchvision("resnet50"), "paper", "torchvision ResNet-50"),
    ModelSpec("vit_b_16", VIT_TORCHVISION, _torchvision("vit_b_16"), "paper", "torchvision ViT-B/16"),
    ModelSpec("vit_base_patch16_224", VIT_TIMM, _timm("vit_base_patch16_224"), "paper", "timm ViT-B/16"),
    ModelSpec("deit_small_patch16_224", VIT_TIMM, _timm("deit_small_patch16_224"), "paper", "timm DeiT-S/16"),
):
    register_model(_spec)


def get_spec(name: str) -> ModelSpec:
    """The registry entry of ``name``; an unknown name raises a ``ValueError`` listing the registry."""
    if name not in REGISTRY:
        raise ValueError(f"model={name!r} is not in the registry; accepted: {sorted(REGISTRY)}")
    return REGISTRY[name]


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registry model in eval mode, adapted by its family (ViTs: hookable probabilities per head)."""
    spec = get_spec(name)
    if kwargs.get("weights") == "random":  # the same random network in every call (seed 0), without touching the
        with torch.random.fork_rng(devices=[]):  # caller's random state
            torch.manual_seed(0)
            model = spec.builder(**kwargs)
    else:
        model = spec.builder(**kwargs)
    spec.family.adapt(model)
    return model.eval()


def load_weights(model: nn.Module, path: str | os.PathLike, name: str = "model") -> nn.Module:
    """Load a state dict with ``weights_only=True``; a corrupt or mismatched file gets an error naming it."""
    blob = safe_torch_load(path)
    state = blob.get("state_dict", blob) if isinstance(blob, dict) else blob
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise CorruptFileError(
            f"checkpoint {str(path)!r} does not match architecture {name!r}: {str(err)[:300]}"
        ) from err
    return model


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in batches (eval mode, no autograd)."""
    model.eval()
    dev = model_device(model)
    return torch.cat([model(x[i : i + batch_size].to(dev)).float().cpu() for i in range(0, len(x), batch_size)])


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    return next(model.parameters()).device


def accuracy(model: nn.Module, data: ImageSet, classes: list[int] | None = None, batch_size: int = 1000) -> float:
    """Top-1 accuracy; with ``classes``, the argmax runs over the task's classes only (our choice;
    book/deviations.md, "class tasks")."""
    logits = predict(model, data.x, batch_size)
    if classes is not None:
        cls = torch.as_tensor(classes)
        pred = cls[logits[:, cls].argmax(1)]
    else:
        pred = logits.argmax(1)
    return float((pred == data.y).float().mean())


def count_parameters(model: nn.Module) -> int:
    """The number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())
