"""Global pruning by masking and accuracy-vs-pruning-rate curves (book/method.md, "Pruning and the curve")."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pbe_utils.components import ComponentLayer, masked
from pbe_utils.compress import IncrementalRemoval
from pbe_utils.data import ImageSet
from pbe_utils.metrics import DEFAULT_RATES, validate_rates
from pbe_utils.models import accuracy, model_device


def prune_order(scores: list[torch.Tensor]) -> torch.Tensor:
    """Global order of all components, least relevant first; ties broken by position (deterministic)."""
    flat = torch.cat([s.flatten().double() for s in scores])
    return torch.from_numpy(np.argsort(flat.numpy(), kind="stable"))


def global_masks(scores: list[torch.Tensor], rate: float, order: torch.Tensor | None = None) -> list[torch.Tensor]:
    """0/1 masks removing the floor(rate * p) least relevant components across all layers."""
    validate_rates([rate])
    order = prune_order(scores) if order is None else order
    p = int(order.numel())
    keep = torch.ones(p)
    keep[order[: int(p * rate)]] = 0.0
    return list(torch.split(keep, [s.numel() for s in scores]))


def pruning_curve(
    model: nn.Module,
    components: list[ComponentLayer],
    scores: list[torch.Tensor],
    data: ImageSet,
    rates=DEFAULT_RATES,
    classes: list[int] | None = None,
    batch_size: int = 1000,
    progress: bool = False,
    physical: bool = True,
) -> np.ndarray:
    """Top-1 accuracy of ``model`` on ``data`` with the least relevant components pruned, for each rate.

    Masks are nested (one global order, growing prefix). With ``physical`` (default) one copy of the model is made
    smaller along the curve (:class:`pbe_utils.compress.IncrementalRemoval`): each rate runs only the components it
    keeps, and components that cannot be removed exactly stay zeroed. It computes the masked model's function
    (tested: the same accuracies at every rate on every model of the zoo). ``physical=False`` masks with forward
    hooks on the full model instead (hooks registered once for the whole sweep)."""
    rates = validate_rates(rates)
    if len(scores) != len(components) or any(s.numel() != c.size for s, c in zip(scores, components, strict=True)):
        raise ValueError("scores do not match the components (one tensor of size c.size per component layer)")
    order = prune_order(scores)
    accs = []
    if physical:
        remover = IncrementalRemoval(model, components, data.x[:1].to(model_device(model)))
        for rate in tqdm(rates, desc="curve", disable=not progress, leave=False):
            small = remover.update(global_masks(scores, float(rate), order))
            accs.append(accuracy(small, data, classes, batch_size))
        return np.asarray(accs)
    with masked(model, components) as masks:
        for rate in tqdm(rates, desc="curve", disable=not progress, leave=False):
            for m, new in zip(masks, global_masks(scores, float(rate), order), strict=True):
                m.copy_(new)
            accs.append(accuracy(model, data, classes, batch_size))
    return np.asarray(accs)
