"""Per-component scores: LRP relevance under a composite, and the baselines, all through one interface.

LRP (book/method.md, "Relevance of a component"): the output relevance is the one-hot of the true label; relevance
is read at each component's
output and reduced over positions (conv: sum over (h, w); ViT neuron: per token; ViT head: sum over keys, per
query); with MAG the absolute value is taken per sample at that granularity (as the authors' code), and the score
is the mean over the reference samples (the paper's Eq. 1).

The model's family (:mod:`pbe_utils.families`) supplies the engine and its convention: CNNs go through zennit
(canonizers merge BatchNorm and split residual sums), whose convention is that the gradient *is* the relevance;
ViTs go through :mod:`pbe_utils.families.attention`, whose convention is activation x gradient. Either way the
relevance is read with tensor hooks (zennit's ``Gradient`` uses ``autograd.grad``, so ``retain_grad`` would see
nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import ExitStack

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pbe_utils.baselines import _batches, _onehot, baseline_scores, check_method
from pbe_utils.cache import cache_dir, load_or_compute, stable_hash
from pbe_utils.components import ComponentLayer, check_model, keeps_mode
from pbe_utils.composites import Composite
from pbe_utils.data import ImageSet
from pbe_utils.families import family_of
from pbe_utils.models import model_device


def _per_sample(t: torch.Tensor, kind: str, mag: bool) -> torch.Tensor:
    """Reduce a relevance tensor at a component layer's output to (batch, components)."""
    if kind == "conv":
        r = t.sum((2, 3))
        return r.abs() if mag else r
    if kind == "neurons":  # (B, tokens, features): |.| per token
        return (t.abs() if mag else t).sum(1)
    r = t.sum(-1)  # heads: (B, H, queries, keys) -> sum over keys, |.| per query
    return (r.abs() if mag else r).sum(-1)


@keeps_mode
def lrp_scores(
    model: nn.Module,
    components: list[ComponentLayer],
    data: ImageSet,
    composite: Composite,
    batch_size: int = 128,
    progress: bool = False,
    fast_epsilon: bool = True,
) -> list[torch.Tensor]:
    """Mean LRP relevance of every component over the reference samples ``data`` (one tensor per layer).

    A CNN under the uniform LRP-ε composite is explained in one plain backward pass (:func:`epsilon_as_gradient`);
    ``fast_epsilon=False`` uses zennit's rule hooks instead (same relevance, the reference of the tests)."""
    model.eval()
    family = family_of(model)
    groups = family.layer_groups(model)
    sums = [torch.zeros(c.size, dtype=torch.float64) for c in components]
    store: dict[int, torch.Tensor] = {}
    mods = dict(model.named_modules())
    with ExitStack() as stack:
        stack.enter_context(family.lrp(model, composite, groups, fast_epsilon))
        handles = []
        for i, comp in enumerate(components):

            def fwd(_m, _inp, out, i=i):
                if out.requires_grad:  # the family's convention reads the relevance from the gradient
                    read = family.relevance_reader(out)
                    out.register_hook(lambda g, i=i, read=read: store.__setitem__(i, read(g)))

            handles.append(mods[comp.name].register_forward_hook(fwd))
        stack.callback(lambda: [h.remove() for h in handles])
        dev = model_device(model)
        for x, y in tqdm(list(_batches(data, batch_size, dev)), desc="relevance", disable=not progress, leave=False):
            x = x.clone().requires_grad_(True)
            out = model(x)
            store.clear()
            torch.autograd.grad(out, x, family.output_gradient(out, _onehot(out, y)))
            for i, comp in enumerate(components):
                sums[i] += _per_sample(store[i].detach(), comp.kind, composite.mag).sum(0).double().cpu()
    return [(s / len(data)).float() for s in sums]


@keeps_mode
def compute_scores(
    model: nn.Module,
    components: list[ComponentLayer],
    data: ImageSet,
    method: str = "lrp",
    composite: Composite | None = None,
    batch_size: int = 128,
    seed: int = 0,
    ig_steps: int = 20,
    progress: bool = False,
) -> list[torch.Tensor]:
    """One score per component, by ``method`` (``lrp`` needs a ``composite``)."""
    check_method(method)
    check_model(model)
    if method == "lrp":
        if composite is None:
            raise ValueError("method='lrp' needs a composite (e.g. pbe_utils.composites.LRP_EPSILON)")
        return lrp_scores(model, components, data, composite, batch_size, progress)
    return baseline_scores(model, components, data, method, batch_size, seed, ig_steps)


def model_fingerprint(model: nn.Module) -> str:
    """A hash of the architecture's state (parameter names, shapes and values)."""
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(np.ascontiguousarray(v.detach().cpu().float().numpy()).tobytes())
    return h.hexdigest()[:16]


def cached_scores(
    model: nn.Module,
    components: list[ComponentLayer],
    data: ImageSet,
    method: str = "lrp",
    composite: Composite | None = None,
    seed: int = 0,
    data_key: object = None,
    compute: Callable[[], list[torch.Tensor]] | None = None,
    **kwargs,
) -> list[torch.Tensor]:
    """:func:`compute_scores` with a content-addressed cache keyed by (model weights, components, method,
    composite, reference data, seed); written atomically."""
    key = stable_hash(
        {
            "model": model_fingerprint(model),
            "components": [c.name for c in components],
            "method": method,
            "composite": repr(composite) if method == "lrp" else None,
            "seed": seed,
            "data": data_key if data_key is not None else stable_hash([data.y.tolist(), float(data.x.sum())]),
            "kwargs": kwargs,
            "v": 2,  # 2: activations copied before in-place operations, layer-normalised weight criterion
        }
    )

    def run() -> list[torch.Tensor]:
        scores = (
            compute() if compute else compute_scores(model, components, data, method, composite, seed=seed, **kwargs)
        )
        return [s.contiguous() for s in scores]

    return list(load_or_compute(cache_dir() / "scores" / f"{method}-{key}.pt", run, "score cache"))


@keeps_mode
def input_heatmaps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, composite: Composite) -> torch.Tensor:
    """Input-space LRP heatmaps (B, H, W) of ``composite`` for the labels ``y`` (summed over colour channels). The
    model passes the same check as every other entry point that explains one (a supported CNN or an adapted ViT)."""
    family = check_model(model)
    model.eval()
    x = x.clone().to(model_device(model)).requires_grad_(True)
    y = y.to(x.device)
    with family.lrp(model, composite, family.layer_groups(model), fast_epsilon=False):
        out = model(x)
        (g,) = torch.autograd.grad(out, x, family.output_gradient(out, _onehot(out, y)))
    rel = family.relevance_reader(x)(g)
    return rel.detach().sum(1).cpu()
