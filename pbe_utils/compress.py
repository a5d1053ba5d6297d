"""Real compression: turn masked components into a physically smaller model and measure what it buys.

The paper only masks. Here the masked components are removed:

* CNN channels, following torch-pruning's dependency graph {cite}`fang2023depgraph` (the following BatchNorm, the
  next layer's inputs and the classifier's flattened inputs follow). A channel of a residual group (ResNet: the
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
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pbe_utils.cache import atomic_torch_save, safe_torch_load
from pbe_utils.components import ComponentLayer, find_components
from pbe_utils.families import family_of
from pbe_utils.models import build_model


@dataclass
class RemovalReport:
    """What a physical removal did: components masked, removed and kept zeroed."""

    masked: int = 0  # components masked
    removed: int = 0  # physically removed
    zeroed: int = 0  # masked but kept (zeroed) because removal would not be exact
    notes: list[str] = field(default_factory=list)


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


@dataclass
class _ConvPlan:
    """Which parameters each channel space of a CNN reaches, from torch-pruning's dependency graph (built once)."""

    units: list[list[int]]  # component layers sharing one channel space (a residual group couples several)
    unit_of: dict[int, int]
    #: module name -> {dim: (unit, target indices, root channel of each target index)}: dim 0 = outputs, 1 = inputs
    axes: dict[str, dict[int, tuple[int, torch.Tensor, torch.Tensor]]]
    fixed: set[int]  # units whose group reaches a module we cannot slice: their channels are zeroed, not removed


_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _conv_plan(model: nn.Module, components: list[ComponentLayer], example: torch.Tensor) -> _ConvPlan:
    """The slicing plan of ``model`` for ``components``, cached per model (it depends on the architecture only)."""
    key = tuple(components)
    cached = _PLANS.get(model, {}).get(key)
    if cached is not None:
        return cached
    import torch_pruning as tp

    traced = copy.deepcopy(model).eval()  # tracing runs a forward pass: never on the caller's model
    mods = dict(traced.named_modules())
    name_of = {id(m): n for n, m in mods.items()}
    index_of = {c.name: i for i, c in enumerate(components)}
    dg = tp.DependencyGraph().build_dependency(traced, example_inputs=example)
    plan = _ConvPlan([], {}, {}, set())
    for i, comp in enumerate(components):
        if i in plan.unit_of:
            continue
        u = len(plan.units)
        group = dg.get_pruning_group(mods[comp.name], tp.prune_conv_out_channels, idxs=list(range(comp.size)))
        unit = [i]
        for item in group.items:
            mod, handler = item.dep.target.module, item.dep.handler.__name__
            if not isinstance(mod, nn.Module) or not list(mod.parameters(recurse=False)):
                continue  # an operation (add, flatten, ...) or a module without parameters
            name = name_of[id(mod)]
            if not isinstance(mod, (nn.Conv2d, nn.BatchNorm2d, nn.Linear)) or getattr(mod, "groups", 1) != 1:
                plan.fixed.add(u)
                continue
            dim = 0 if handler == "prune_out_channels" or isinstance(mod, nn.BatchNorm2d) else 1
            if isinstance(mod, nn.Conv2d) and dim == 0 and name in index_of and index_of[name] not in unit:
                unit.append(index_of[name])
            idx = torch.as_tensor([int(j) for j in item.idxs])
            root = torch.as_tensor([int(j) for j in item.root_idxs])
            plan.axes.setdefault(name, {}).setdefault(dim, (u, idx, root))
        for j in unit:
            plan.unit_of[j] = u
        plan.units.append(unit)
    for u in plan.fixed:  # a fixed unit is never sliced
        for axes in plan.axes.values():
            for d in [d for d, (v, _, _) in axes.items() if v == u]:
                del axes[d]
    _PLANS.setdefault(model, {})[key] = plan
    return plan


def _slice_module(dst: nn.Module, src: nn.Module, keep: dict[int, torch.Tensor]) -> None:
    """Set ``dst``'s parameters to ``src``'s, restricted to the kept indices (``keep[0]``: outputs, ``keep[1]``:
    inputs; a dim not given is kept whole), in place. Conv2d, BatchNorm2d and Linear: the CNN plan's layers and the
    ViT's MLP and attention projections."""
    out, inp = keep.get(0), keep.get(1)

    def take(t: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
        t, copied = t.detach(), False
        for d, idx in zip((0, 1), (out, inp), strict=True):
            if idx is not None and d in dims:
                t, copied = t.index_select(d, idx.to(t.device)), True
        return t if copied else t.clone()

    with torch.no_grad():  # .data and object.__setattr__: nn.Module.__setattr__ is slow, and nothing is new here
        if isinstance(dst, nn.BatchNorm2d):
            for attr in ("weight", "bias", "running_mean", "running_var"):
                if getattr(src, attr) is not None:
                    getattr(dst, attr).data = take(getattr(src, attr), (0,))
            ref = dst.running_mean if dst.running_mean is not None else dst.weight
            object.__setattr__(dst, "num_features", int(ref.shape[0]))
            return
        assert isinstance(src, (nn.Conv2d, nn.Linear)) and isinstance(dst, (nn.Conv2d, nn.Linear))
        dst.weight.data = take(src.weight, (0, 1))
        if src.bias is not None and dst.bias is not None:
            dst.bias.data = take(src.bias, (0,))
        sizes = ("out_channels", "in_channels") if isinstance(dst, nn.Conv2d) else ("out_features", "in_features")
        for attr, n in zip(sizes, dst.weight.shape[:2], strict=True):
            object.__setattr__(dst, attr, int(n))


class IncrementalRemoval:
    """A copy of ``model`` from which masked components are removed physically, step by step along *nested*
    masks (each :meth:`update` may only add pruned components), as a pruning curve needs.

    * CNN channels: torch-pruning's dependency graph is read once per model into a slicing plan (which parameters
      each channel reaches); each update slices, from the original weights, the layers whose kept channels changed.
      Channels of a residual group are removed once they are masked in every coupled convolution and zeroed until
      then (see the module docstring).
    * ViT neurons and heads: each update slices the MLP and attention projections afresh from the original weights.

    The original model is never modified.

    The removed model computes the masked model's function; only the float summation order of the smaller layers
    differs."""

    def __init__(self, model: nn.Module, components: list[ComponentLayer], example: torch.Tensor) -> None:
        self.components = components
        self.kind = components[0].kind
        self.family = family_of(model)
        self._source = dict(model.named_modules())  # read only
        self.model = copy.deepcopy(model).eval()
        self._pruned = [torch.zeros(c.size, dtype=torch.bool) for c in components]
        if self.kind == "conv":
            self._init_conv(model, example)

    # -- CNN channels -------------------------------------------------------------------------------------------
    def _init_conv(self, model: nn.Module, example: torch.Tensor) -> None:
        self.plan = _conv_plan(model, self.components, example)
        self._keep = [torch.ones(self.components[u[0]].size, dtype=torch.bool) for u in self.plan.units]
        self._zero = [torch.zeros(c.size, dtype=torch.bool) for c in self.components]

    def _update_conv(self) -> None:
        mods = dict(self.model.named_modules())
        changed: set[int] = set()
        for u, unit in enumerate(self.plan.units):
            if u in self.plan.fixed:  # torch-pruning cannot remove this group: everything masked stays zeroed
                continue
            keep = ~torch.stack([self._pruned[i] for i in unit]).all(0)
            if not keep.any():  # one channel stays so that the layer exists; it is zeroed
                keep[0] = True
            if not torch.equal(keep, self._keep[u]):
                self._keep[u] = keep
                changed.add(u)
        rebuilt = set()
        for name, axes in self.plan.axes.items():
            if any(u in changed for u, _, _ in axes.values()):
                _slice_module(mods[name], self._source[name], {d: t[self._keep[u][r]] for d, (u, t, r) in axes.items()})
                rebuilt.add(name)
        for i, comp in enumerate(self.components):
            u = self.plan.unit_of[i]
            zero = self._pruned[i] & self._keep[u]  # masked, still present: partly masked residual channels
            if comp.mask_name in rebuilt or not torch.equal(zero, self._zero[i]):
                position = torch.cumsum(self._keep[u].long(), 0) - 1
                if zero.any():
                    _zero_conv_channels(mods, comp, position[zero].tolist())
                self._zero[i] = zero

    # -- ViT neurons and heads ----------------------------------------------------------------------------------
    def _update_neurons(self) -> None:
        mods = dict(self.model.named_modules())
        by_block: dict[int, list[int]] = {}
        for i, comp in enumerate(self.components):
            by_block.setdefault(comp.block, []).append(i)
        for i1, i2 in by_block.values():  # forward order: fc1 then fc2
            fc1, fc2 = self.components[i1], self.components[i2]
            keep = (~self._pruned[i1]).nonzero().flatten()
            silent = len(keep) == 0
            if silent:  # one neuron stays, with its fc2 column zeroed
                keep = torch.tensor([0])
            new_fc1, new_fc2 = mods[fc1.name], mods[fc2.name]
            _slice_module(new_fc1, self._source[fc1.name], {0: keep})
            _slice_module(new_fc2, self._source[fc2.name], {1: keep})
            idx2 = self._pruned[i2].nonzero().flatten()
            with torch.no_grad():
                if silent:
                    new_fc2.weight[:, 0] = 0
                if len(idx2):  # outputs into the residual stream: zeroed, not removed
                    new_fc2.weight[idx2] = 0
                    if new_fc2.bias is not None:
                        new_fc2.bias[idx2] = 0

    def _update_heads(self) -> None:
        mods = dict(self.model.named_modules())
        for i, comp in enumerate(self.components):
            name = comp.name.rsplit(".", 1)[0]
            src, attn = self._source[name], mods[name]
            keep = (~self._pruned[i]).nonzero().flatten()
            H, Dh = int(src.num_heads), int(src.head_dim)
            silent = len(keep) == 0
            if silent:  # a block keeps one head, silenced, so that the attention module stays well-formed
                keep = torch.tensor([0])
            rows = torch.cat([torch.arange(h * Dh, (h + 1) * Dh) for h in keep.tolist()])
            qkv_rows = torch.cat([rows + s * H * Dh for s in range(3)])
            with torch.no_grad():
                self.family.slice_heads(attn, src, qkv_rows, rows, _slice_module)
                if silent:
                    self.family.out_projection(attn).weight.zero_()
            attn.num_heads = len(keep)

    # -- common -------------------------------------------------------------------------------------------------
    def update(self, masks: list[torch.Tensor]) -> nn.Module:
        """Remove what ``masks`` (1 = keep) prune beyond the previous update; returns the smaller model."""
        if len(masks) != len(self.components) or any(
            m.numel() != c.size for m, c in zip(masks, self.components, strict=True)
        ):
            raise ValueError("masks do not match the components (one tensor of size c.size per component layer)")
        pruned = [m.detach().cpu().flatten() == 0 for m in masks]
        if any(bool((old & ~new).any()) for old, new in zip(self._pruned, pruned, strict=True)):
            raise ValueError("masks must be nested: a component pruned by an earlier update is kept now")
        self._pruned = pruned
        {"conv": self._update_conv, "neurons": self._update_neurons, "heads": self._update_heads}[self.kind]()
        return self.model

    def report(self) -> RemovalReport:
        """What the current model removes: components physically removed vs masked but kept (zeroed)."""
        report = RemovalReport(masked=int(sum(int(p.sum()) for p in self._pruned)))
        if self.kind == "conv":
            for u, unit in enumerate(self.plan.units):
                gone = int((~self._keep[u]).sum())
                report.removed += gone * len(unit)
                if len(unit) > 1:
                    report.notes.append(
                        f"residual group {self.components[unit[0]].name} (+{len(unit) - 1} coupled convs): "
                        f"{gone} channels removed, being masked in all of them; the others masked are zeroed"
                    )
        else:  # fc1 neurons and heads are removed (one stays per layer); fc2 outputs are only zeroed
            first: dict[int, int] = {}
            for i, comp in enumerate(self.components):
                first.setdefault(comp.block, i)
            removable = set(first.values()) if self.kind == "neurons" else set(range(len(self.components)))
            report.removed = sum(
                min(int(self._pruned[i].sum()), self.components[i].size - 1) for i in sorted(removable)
            )
        report.zeroed = report.masked - report.removed
        return report


def remove_components(
    model: nn.Module, components: list[ComponentLayer], masks: list[torch.Tensor], example: torch.Tensor
) -> tuple[nn.Module, RemovalReport]:
    """A physically smaller copy of ``model`` without the masked components (see the module docstring)."""
    remover = IncrementalRemoval(model, components, example)
    pruned = remover.update(masks)
    return pruned, remover.report()


def save_pruned(path: str | Path, model_name: str, kind: str, masks: list[torch.Tensor], pruned: nn.Module) -> None:
    """Save what rebuilds the pruned model: registry name, component kind, masks and the pruned state dict."""
    atomic_torch_save(
        {"model": model_name, "kind": kind, "masks": [m.clone() for m in masks], "state_dict": pruned.state_dict()},
        path,
    )


def load_pruned(path: str | Path, example: torch.Tensor) -> nn.Module:
    """Rebuild a saved pruned model (``weights_only`` load; the surgery is replayed on a fresh architecture)."""
    blob = safe_torch_load(path, "pruned model")
    base = build_model(blob["model"])
    pruned, _ = remove_components(base, find_components(base, blob["kind"]), blob["masks"], example)
    pruned.load_state_dict(blob["state_dict"])
    return pruned.eval()


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
