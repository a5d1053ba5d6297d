"""The criteria that are not LRP (chapter 06 and the paper's baselines): random scores, weight norms, activations,
gradients, Taylor (|activation x gradient|) and latent Integrated Gradients, one score per component."""

from __future__ import annotations

import torch
from torch import nn

from pbe_utils.components import ComponentLayer, keeps_mode
from pbe_utils.data import ImageSet
from pbe_utils.families import family_of
from pbe_utils.models import model_device

METHODS = ("lrp", "random", "weight", "weight_raw", "activation", "gradient", "taylor", "ig")


def check_method(method: str) -> None:
    """Refuse an unknown scoring method, naming the accepted ones."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not accepted; use one of {METHODS}")


def _batches(data: ImageSet, batch_size: int, device: torch.device | None = None):
    for i in range(0, len(data), batch_size):
        yield data.x[i : i + batch_size].to(device), data.y[i : i + batch_size].to(device)


def _onehot(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(y, logits.shape[-1]).to(logits.dtype)


def _probe(
    model: nn.Module, components: list[ComponentLayer], x: torch.Tensor, y: torch.Tensor, grads: bool = True
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Activations (at each layer's ``act_name``) and the gradients of the target logit with respect to them."""
    mods = dict(model.named_modules())
    acts: dict[int, torch.Tensor] = {}
    gs: dict[int, torch.Tensor] = {}
    handles = []
    for i, comp in enumerate(components):

        def fwd(_m, _inp, out, i=i):
            # a copy: later in-place operations (ReLU(inplace=True), a ResNet's ``out += identity``) overwrite ``out``
            acts[i] = out.detach().clone()
            if grads and out.requires_grad:
                out.register_hook(lambda g, i=i: gs.__setitem__(i, g))

        handles.append(mods[comp.act_name].register_forward_hook(fwd))
    try:
        with torch.set_grad_enabled(grads):
            xx = x.clone().requires_grad_(grads)
            out = model(xx)
            if grads:
                torch.autograd.grad(out, xx, _onehot(out, y))
    finally:
        for h in handles:
            h.remove()
    A = [acts[i].detach() for i in range(len(components))]
    G = [gs[i].detach() for i in range(len(components))] if grads else []
    return A, G


def _positions(t: torch.Tensor, kind: str) -> torch.Tensor:
    """Sum a per-position quantity to (batch, components): conv (B,C,H,W); neurons (B,N,F); heads (B,H,N,Dh)."""
    if kind == "conv":
        return t.sum((2, 3))
    if kind == "neurons":
        return t.sum(1)
    return t.sum((2, 3))


def weight_scores(model: nn.Module, components: list[ComponentLayer], normalise: bool = True) -> list[torch.Tensor]:
    """L1 norm of the weights that produce each component (Li et al. 2017): a conv filter, a neuron's weight row,
    or a head's columns of the attention output projection.

    Li et al. rank filters *within* a layer; raw L1 norms are not comparable across layers (a first-layer filter
    has 9 weights, a last-layer one hundreds), so a global ranking of raw norms prunes the first layers first. With
    ``normalise`` (method ``weight``) each layer's norms are divided by their layer's L2 norm, the layer-wise
    normalisation Molchanov et al. (2017, Sec. 2.3) apply to make a criterion comparable across layers for global
    pruning; ``weight_raw`` keeps the raw global L1 norms."""
    mods = dict(model.named_modules())
    family = family_of(model)
    out = []
    for comp in components:
        if comp.kind == "heads":
            attn = mods[comp.name.rsplit(".", 1)[0]]
            proj = family.out_projection(attn)
            w = proj.weight.detach().abs()  # (C_out, C_in): columns grouped by head
            out.append(w.view(w.shape[0], comp.size, -1).sum((0, 2)))
        else:
            w = mods[comp.name].weight.detach().abs()
            out.append(w.reshape(w.shape[0], -1).sum(1))
    if normalise:
        out = [o / o.norm().clamp_min(1e-12) for o in out]
    return [o.float().cpu() for o in out]


def latent_ig(
    model: nn.Module, components: list[ComponentLayer], x: torch.Tensor, y: torch.Tensor, steps: int = 20
) -> list[torch.Tensor]:
    """Signed latent Integrated Gradients (conductance, Dhamdhere et al. 2018) per sample and component, (B, C) per
    layer: along the straight path from a zero image, sum_{k<m} g(alpha_k x) . (a(alpha_{k+1} x) - a(alpha_k x))
    with alpha_k = k/m, m = ``steps``: exactly captum's ``LayerConductance(method='riemann_trapezoid',
    n_steps=m)`` (tested). Summed over the components of a layer that every path crosses, it approaches
    f_y(x) - f_y(0) as ``steps`` grows (completeness)."""
    prev_a, prev_g = _probe(model, components, torch.zeros_like(x), y)
    acc = [torch.zeros(len(x), c.size, device=x.device) for c in components]
    for k in range(1, steps + 1):
        A, G = _probe(model, components, x * (k / steps), y, grads=k < steps)
        for i, comp in enumerate(components):
            acc[i] += _positions(prev_g[i] * (A[i] - prev_a[i]), comp.kind)
        prev_a, prev_g = A, G
    return acc


@keeps_mode
def baseline_scores(
    model: nn.Module,
    components: list[ComponentLayer],
    data: ImageSet,
    method: str,
    batch_size: int = 128,
    seed: int = 0,
    ig_steps: int = 20,
) -> list[torch.Tensor]:
    """Scores of the non-LRP criteria (larger = more important; pruned lowest first)."""
    check_method(method)
    if method == "random":
        gen = torch.Generator().manual_seed(int(seed))
        return [torch.rand(c.size, generator=gen) for c in components]
    if method in ("weight", "weight_raw"):
        return weight_scores(model, components, normalise=method == "weight")
    model.eval()
    sums = [torch.zeros(c.size, dtype=torch.float64) for c in components]
    for x, y in _batches(data, batch_size, model_device(model)):
        if method == "ig":
            per = [a.abs() for a in latent_ig(model, components, x, y, ig_steps)]
        else:
            A, G = _probe(model, components, x, y, grads=method != "activation")
            if method == "activation":
                per = [_positions(a.abs(), c.kind) for a, c in zip(A, components, strict=True)]
            elif method == "gradient":
                per = [_positions(g, c.kind).abs() for g, c in zip(G, components, strict=True)]
            else:  # taylor: |activation x gradient| (Molchanov et al. 2017)
                per = [_positions(a * g, c.kind).abs() for a, g, c in zip(A, G, components, strict=True)]
        for i in range(len(components)):
            sums[i] += per[i].sum(0).double().cpu()
    return [(s / len(data)).float() for s in sums]
