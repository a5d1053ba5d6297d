"""What a pruned model costs: multiply-accumulates of one forward pass, the bytes of its activations, and its
latency, timed in turns so that two models see the same machine state (chapter 07, the benchmark)."""

from __future__ import annotations

import functools
import statistics
import time

import torch
from torch import nn

from pbe_utils.families import family_of


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

    family = family_of(model)

    def attention(m, i, o):  # what no module hook sees: the products of attention, a fused projection
        nonlocal macs
        b, n, c = i[0].shape
        macs += family.hidden_macs(m, n, c)

    attention_modules = {id(m) for _, m in family.attention_modules(model)}
    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear))
        elif id(m) in attention_modules:
            handles.append(m.register_forward_hook(attention))
    try:
        with torch.inference_mode():
            model(example[:1])
    finally:
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
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total


def time_in_turns(fns: dict, rounds: int, inner: int = 1) -> dict[str, float]:
    """Median seconds per call of each function, timed in turns (a, b, c, a, b, c, ...) after one warm-up call each,
    so that the machine's drift during the measurement hits all of them alike; ``inner`` calls per turn."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter()
            for _ in range(inner):
                fn()
            times[k].append((time.perf_counter() - t) / inner)
    return {k: statistics.median(v) for k, v in times.items()}


def latency_ms(models: dict[str, nn.Module], x: torch.Tensor, rounds: int = 10, inner: int = 3) -> dict[str, float]:
    """Median milliseconds per forward pass of a batch, the models measured in turns in one run (so that the
    machine's drift hits all of them alike)."""
    with torch.inference_mode():
        for m in models.values():
            m.eval()
        seconds = time_in_turns({k: functools.partial(m, x) for k, m in models.items()}, rounds, inner)
    return {k: s * 1000 for k, s in seconds.items()}
