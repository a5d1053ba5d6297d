"""Real compression: turn masked components into a physically smaller model and measure what it buys.

The paper only masks. Here the masked components are removed:

* CNN channels with torch-pruning's dependency graph {cite}`fang2023depgraph` (the following BatchNorm, the next
  layer's inputs and the classifier's flattened inputs follow). A channel of a residual group (ResNet: the
  shortcut stream shared by several convolutions) is removed only if it is masked in *every* coupled convolution;
  otherwise removing it would also cut the shortcut, which masking does not. Such channels are instead zeroed
  (BatchNorm weight and bias set to 0), which is exactly the masked function, at no saving.
* ViT MLP neurons of ``fc1`` (removed with their ``fc2`` input columns: exact, as GELU(0) = 0); masked ``fc2``
  outputs write into the residual stream and are zeroed, not removed.
* ViT attention heads: the head's q/k/v rows and its output-projection columns are removed and ``num_heads``
  updated (exact: a masked head contributes nothing but the projection bias, which stays).

So the removed model computes the same logits as the masked one (up to float rounding), and the report says how
many masked components could really be removed.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pbe_utils.cache import atomic_torch_save, safe_torch_load
from pbe_utils.components import ComponentLayer


@dataclass
class RemovalReport:
    masked: int = 0  # components masked
    removed: int = 0  # physically removed
    zeroed: int = 0  # masked but kept (zeroed) because removal would not be exact
    notes: list[str] = field(default_factory=list)


def _pruned_idx(mask: torch.Tensor) -> list[int]:
    return (mask == 0).nonzero().flatten().tolist()


def _zero_conv_channels(mods: dict, comp: ComponentLayer, idx: list[int]) -> None:
    target = mods[comp.mask_name]
    with torch.no_grad():
        if isinstance(target, nn.BatchNorm2d):
            target.weight[idx] = 0
            target.bias[idx] = 0
        else:
            target.weight[idx] = 0
            if target.bias is not None:
                target.bias[idx] = 0


def _remove_conv(
    model: nn.Module,
    components: list[ComponentLayer],
    masks: list[torch.Tensor],
    example: torch.Tensor,
    report: RemovalReport,
) -> None:
    import torch_pruning as tp

    mods = dict(model.named_modules())
    pruned = {c.name: set(_pruned_idx(m)) for c, m in zip(components, masks)}
    comp_of = {id(mods[c.name]): c for c in components}
    name_of = {id(m): n for n, m in model.named_modules()}
    DG = tp.DependencyGraph().build_dependency(model, example_inputs=example)
    handled: set[str] = set()
    plan = []
    for comp in components:
        if comp.name in handled or not pruned[comp.name]:
            continue
        conv = mods[comp.name]
        group = DG.get_pruning_group(conv, tp.prune_conv_out_channels, idxs=sorted(pruned[comp.name]))
        coupled = [
            name_of[id(dep.target.module)]
            for dep, _ in group
            if isinstance(dep.target.module, nn.Conv2d)
            and dep.handler.__name__ == "prune_out_channels"
            and id(dep.target.module) in comp_of
        ]
        coupled = list(dict.fromkeys(coupled)) or [comp.name]
        handled.update(coupled)
        exact = set.intersection(*(pruned[n] for n in coupled))
        for n in coupled:
            keep_zeroed = sorted(pruned[n] - exact)
            if keep_zeroed:
                _zero_conv_channels(mods, comp_of[id(mods[n])], keep_zeroed)
                report.zeroed += len(keep_zeroed)
        if len(coupled) > 1:
            report.notes.append(
                f"residual group {coupled[0]} (+{len(coupled) - 1} coupled convs): "
                f"{len(exact)} channels removable of those masked"
            )
        if exact:
            size = conv.out_channels
            if len(exact) >= size:  # keep one channel so the layer still exists; zero it instead
                keep = min(exact)
                exact.discard(keep)
                for n in coupled:
                    _zero_conv_channels(mods, comp_of[id(mods[n])], [keep])
                report.zeroed += len(coupled)
            plan.append((conv, sorted(exact), coupled))
    for conv, idx, coupled in plan:
        if idx:
            group = DG.get_pruning_group(conv, tp.prune_conv_out_channels, idxs=idx)
            if DG.check_pruning_group(group):
                group.prune()
                report.removed += len(idx) * len(coupled)


def _linear_keep(
    layer: nn.Linear, keep_out: torch.Tensor | None = None, keep_in: torch.Tensor | None = None
) -> nn.Linear:
    w = layer.weight.detach()
    b = layer.bias.detach() if layer.bias is not None else None
    if keep_out is not None:
        w = w[keep_out]
        b = b[keep_out] if b is not None else None
    if keep_in is not None:
        w = w[:, keep_in]
    new = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
    with torch.no_grad():
        new.weight.copy_(w)
        if b is not None:
            new.bias.copy_(b)
    return new


def _set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def _remove_neurons(model, components, masks, report: RemovalReport) -> None:
    mods = dict(model.named_modules())
    by_block: dict[int, list] = {}
    for comp, mask in zip(components, masks):
        by_block.setdefault(comp.block, []).append((comp, mask))
    for _, layers in by_block.items():
        (fc1, m1), (fc2, m2) = layers  # forward order: fc1 then fc2
        idx2 = _pruned_idx(m2)
        if idx2:  # outputs into the residual stream: zero, do not remove
            with torch.no_grad():
                mods[fc2.name].weight[idx2] = 0
                if mods[fc2.name].bias is not None:
                    mods[fc2.name].bias[idx2] = 0
            report.zeroed += len(idx2)
        keep = (m1 == 1).nonzero().flatten()
        if len(keep) == 0:
            keep = torch.tensor([0])
            with torch.no_grad():
                mods[fc2.name].weight[:, 0] = 0
            report.zeroed += 1
        report.removed += fc1.size - len(keep)
        new_fc2 = _linear_keep(mods[fc2.name], keep_in=keep)
        _set_module(model, fc1.name, _linear_keep(mods[fc1.name], keep_out=keep))
        _set_module(model, fc2.name, new_fc2)


def _remove_heads(model, components, masks, report: RemovalReport) -> None:
    mods = dict(model.named_modules())
    for comp, mask in zip(components, masks):
        attn = mods[comp.name.rsplit(".", 1)[0]]
        keep = (mask == 1).nonzero().flatten()
        H, Dh = int(attn.num_heads), int(attn.head_dim)
        silent = len(keep) == 0
        if silent:  # a block keeps one head, silenced, so that the attention module stays well-formed
            keep = torch.tensor([0])
            report.zeroed += 1
        rows = torch.cat([torch.arange(h * Dh, (h + 1) * Dh) for h in keep.tolist()])
        qkv_rows = torch.cat([rows + s * H * Dh for s in range(3)])
        with torch.no_grad():
            if hasattr(attn, "qkv"):  # timm
                attn.qkv = _linear_keep(attn.qkv, keep_out=qkv_rows)
                attn.proj = _linear_keep(attn.proj, keep_in=rows)
                attn.attn_dim = len(rows)
            else:  # torchvision nn.MultiheadAttention
                attn.in_proj_weight = nn.Parameter(attn.in_proj_weight.detach()[qkv_rows])
                if attn.in_proj_bias is not None:
                    attn.in_proj_bias = nn.Parameter(attn.in_proj_bias.detach()[qkv_rows])
                attn.out_proj = _linear_keep(attn.out_proj, keep_in=rows)
        if silent:
            with torch.no_grad():
                (attn.proj if hasattr(attn, "proj") else attn.out_proj).weight.zero_()
        attn.num_heads = len(keep)
        report.removed += H - len(keep)


def remove_components(
    model: nn.Module, components: list[ComponentLayer], masks: list[torch.Tensor], example: torch.Tensor
) -> tuple[nn.Module, RemovalReport]:
    """A physically smaller copy of ``model`` without the masked components (see the module docstring)."""
    pruned = copy.deepcopy(model).eval()
    report = RemovalReport(masked=int(sum(int((m == 0).sum()) for m in masks)))
    kind = components[0].kind
    if kind == "conv":
        _remove_conv(pruned, components, masks, example, report)
    elif kind == "neurons":
        _remove_neurons(pruned, components, masks, report)
    else:
        _remove_heads(pruned, components, masks, report)
    return pruned.eval(), report


def save_pruned(path: str | Path, model_name: str, kind: str, masks: list[torch.Tensor], pruned: nn.Module) -> None:
    """Save what rebuilds the pruned model: registry name, component kind, masks and the pruned state dict."""
    atomic_torch_save(
        {"model": model_name, "kind": kind, "masks": [m.clone() for m in masks], "state_dict": pruned.state_dict()},
        path,
    )


def load_pruned(path: str | Path, example: torch.Tensor) -> nn.Module:
    """Rebuild a saved pruned model (``weights_only`` load; the surgery is replayed on a fresh architecture)."""
    from pbe_utils.components import find_components
    from pbe_utils.models import build_model

    blob = safe_torch_load(path, "pruned model")
    base = build_model(blob["model"])
    pruned, _ = remove_components(base, find_components(base, blob["kind"]), blob["masks"], example)
    pruned.load_state_dict(blob["state_dict"])
    return pruned.eval()


def count_macs(model: nn.Module, example: torch.Tensor) -> tuple[float, int]:
    """(multiply-accumulates for one input, parameters): convolutions, linear layers, and for ViTs the fused
    in-projection and both attention matrix products (q.k^T and A.V), counted by forward hooks."""
    macs = 0.0

    def conv(m, i, o):
        nonlocal macs
        macs += o.numel() / o.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear(m, i, o):
        nonlocal macs
        macs += o.numel() / o.shape[0] * m.in_features

    def attention(m, i, o):
        nonlocal macs
        b, n, c = i[0].shape
        h, dh = int(m.num_heads), int(m.head_dim)
        macs += 2 * h * n * n * dh  # q.k^T and A.V
        if not hasattr(m, "qkv"):  # torchvision: the fused in-projection is not a module
            macs += n * c * 3 * h * dh

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear))
        elif hasattr(m, "pbe_probs"):
            handles.append(m.register_forward_hook(attention))
    with torch.inference_mode():
        model(example[:1])
    for h in handles:
        h.remove()
    return macs, sum(p.numel() for p in model.parameters())


def activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of all leaf-module outputs of one forward pass: an upper bound on the activation memory."""
    total = 0

    def hook(_m, _i, out):
        nonlocal total
        if isinstance(out, torch.Tensor):
            total += out.numel() * out.element_size()

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    with torch.inference_mode():
        model(x)
    for h in handles:
        h.remove()
    return total


def latency_ms(models: dict[str, nn.Module], x: torch.Tensor, rounds: int = 10, inner: int = 3) -> dict[str, float]:
    """Median milliseconds per forward pass of a batch, the models measured interleaved in one run (so that the
    machine's drift hits all of them alike)."""
    times: dict[str, list[float]] = {k: [] for k in models}
    with torch.inference_mode():
        for m in models.values():
            m.eval()
            m(x)  # warm-up
        for _ in range(rounds):
            for k, m in models.items():
                t = time.perf_counter()
                for _ in range(inner):
                    m(x)
                times[k].append((time.perf_counter() - t) / inner * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


def finetune(model: nn.Module, data, steps: int, lr: float = 0.01, batch_size: int = 128, seed: int = 0) -> nn.Module:
    """A short recovery fine-tuning (SGD with momentum) of a pruned model; deterministic for ``seed``."""
    if steps <= 0:
        return model
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(data), (batch_size,), generator=gen)
        loss = nn.functional.cross_entropy(model(data.x[idx]), data.y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()
