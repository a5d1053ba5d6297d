"""LRP for Vision Transformers: a hookable attention adapter and the rules of the ViT engine.

The ViT engine works in the *activation x gradient* convention (as AttnLRP / LXT's efficient mode): every tensor's
relevance is ``t * t.grad`` after a backward pass whose gradients have been modified so that this product
follows the LRP rules. The tricks are all of the form ``y.detach() + (f - f.detach()) * c.detach()``, which keeps
the forward value *exactly* and changes only the gradient:

* linear layers: plain gradient = LRP-ε; z+, α2β1 and γ by the gradient trick on the rule's own pre-activations;
* LayerNorm: the standard deviation is treated as constant (identity rule); GELU: identity rule;
* attention, one of (book/method.md, "The composite"): ``cp`` (CP-LRP, attention probabilities constant:
  relevance flows only through
  the values), ``attnlrp`` (AttnLRP softmax rule = input x gradient of the softmax, and the uniform rule on both
  bilinear products), ``attnlrp_zplus[_vb]`` (the softmax linearised and only positive contributions kept, with or
  without the virtual bias).

Unlike LXT we patch per instance (the ViT families adapt torchvision's ``nn.MultiheadAttention``, whose fused path
bypasses hooks on ``out_proj``, and timm's ``Attention``), never class-wide: other models in the process are
untouched. This module is the engine shared by the ViT families; what differs between them is in their modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import MethodType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pbe_utils.composites import EPSILON, GAMMA_LINEAR, Composite


# ------------------------------------------------------------------------------------- gradient primitives
def stop_gradient(x: torch.Tensor) -> torch.Tensor:
    """Same value, zero gradient (the tensor stays in the graph, so hooks on it still fire)."""
    return x.detach() + (x - x.detach()) * 0.0


def divide_gradient(x: torch.Tensor, n: float) -> torch.Tensor:
    """Same value, gradient divided by ``n`` (the uniform rule on an n-ary product)."""
    return x.detach() + (x - x.detach()) / n


def stabilise(z: torch.Tensor, eps: float = EPSILON) -> torch.Tensor:
    """``z`` moved away from 0 by ``eps`` (sign of ``z``, ``+eps`` at 0): bit-identical to zennit's
    ``stabilize(z, eps)`` in every float dtype, in four kernels instead of six."""
    return torch.where(z >= 0, z + eps, z - eps)


def _redistribute(out: torch.Tensor, parts: list[tuple[torch.Tensor, torch.Tensor | float]]) -> torch.Tensor:
    """Value of ``out``; gradient such that the relevance ``out * grad`` is redistributed through each
    pre-activation ``z`` of ``parts`` in proportion to its contributions, weighted by ``coef`` (a number or a mask):
    the input x gradient of the result is sum_k x * dz_k/dx^T (coef_k * R / stab(z_k)), zennit's ``BasicHook``."""
    result = out.detach()
    for z, coef in parts:
        result = result + (z - z.detach()) * (coef * out / stabilise(z)).detach()
    return result


def lrp_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, rule: str, gamma: float = GAMMA_LINEAR
) -> torch.Tensor:
    """A linear map whose input x gradient is the LRP rule ``rule`` (value identical to ``F.linear``).

    Each rule computes exactly what zennit 0.5.1's rule of the same name computes on the same ``nn.Linear`` (tested):
    ``zplus`` = ZPlus, ``alpha2beta1`` = AlphaBeta(2, 1), ``gamma`` = the generalised, sign-aware Gamma; the bias
    enters the denominators as in zennit (its positive part with the positive weights, its negative part with the
    negative ones); ``epsilon`` is the plain gradient (zennit's Epsilon up to its 1e-6 stabiliser)."""
    out = F.linear(x, weight, bias)
    if rule == "epsilon":
        return out
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    wp, wn = weight.clamp(min=0), weight.clamp(max=0)
    bp = None if bias is None else bias.clamp(min=0)
    bn = None if bias is None else bias.clamp(max=0)
    if rule == "zplus":
        return _redistribute(out, [(F.linear(xp, wp, bp) + F.linear(xn, wn), 1.0)])
    if rule == "alpha2beta1":
        zp = F.linear(xp, wp, bp) + F.linear(xn, wn)
        zn = F.linear(xp, wn, bn) + F.linear(xn, wp)
        return _redistribute(out, [(zp, 2.0), (zn, -1.0)])
    if rule == "gamma":
        up, un = weight + gamma * wp, weight + gamma * wn  # weights with their positive / negative part amplified
        bup = None if bias is None else bias + gamma * bp  # type: ignore[operator]
        bun = None if bias is None else bias + gamma * bn  # type: ignore[operator]
        z_pos = F.linear(xp, up, bup) + F.linear(xn, un)  # explains positive outputs
        z_neg = F.linear(xp, un, bun) + F.linear(xn, up)  # explains negative outputs
        pos, neg = (out > 0).to(out.dtype), (out < 0).to(out.dtype)
        return _redistribute(out, [(z_pos, pos), (z_neg, neg)])
    raise ValueError(f"rule={rule!r} is not accepted by lrp_linear")


class _ZPlusSoftmax(torch.autograd.Function):
    """Softmax forward; backward = the AttnLRP-z+ softmax rule in the input x gradient convention.

    Contributions of key j to output i of the linearised softmax are c_ij = x_j s_i (delta_ij - s_j); only the
    positive ones redistribute relevance, normalised per output (plus the clipped "virtual bias" s_i - sum_j c_ij
    when ``vbias``). Closed form in O(N^2) per head, no N^3 tensor."""

    @staticmethod
    def forward(ctx, x, vbias: bool):
        s = x.softmax(-1)
        ctx.save_for_backward(x, s)
        ctx.vbias = vbias
        return s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        r = s * grad  # relevance at the softmax output
        xpos, xneg = x.clamp(min=0), (-x).clamp(min=0)
        nneg = (s * xneg).sum(-1, keepdim=True)
        pos = s * ((1 - s) * xpos + nneg - s * xneg)  # sum_j (c_ij)+
        denom = pos
        if ctx.vbias:
            denom = denom + (s - s * (x - (s * x).sum(-1, keepdim=True))).clamp(min=0)
        q = r / (denom + EPSILON)
        qs = (s * q).sum(-1, keepdim=True)
        r_in = xpos * (1 - s) * s * q + xneg * s * (qs - s * q)
        return r_in / stabilise(x), None


# ------------------------------------------------------------------------------------------ the adapter
@dataclass
class _LRPState:
    attention: str
    proj_rule: str | None  # rule of a fused in-projection that is not an nn.Linear (torchvision)


def _attention_forward(self, x: torch.Tensor, *args, **kwargs):
    """Self-attention with explicit probabilities (``pbe_probs``) and per-head context (``pbe_context``). What
    differs between torchvision's and timm's modules (the in-projection, q/k normalisation, the output) comes from
    the family that adapted the module (:func:`adapt_attention`)."""
    B, N, C = x.shape
    H = self.num_heads
    lrp: _LRPState | None = getattr(self, "_pbe_lrp", None)
    qkv = self._pbe_qkv(x, lrp.proj_rule if lrp is not None else None)
    head_dim = int(self.head_dim)
    q, k, v = qkv.reshape(B, N, 3, H, head_dim).permute(2, 0, 3, 1, 4)
    q, k = self._pbe_qk_norm(q, k)
    scale = head_dim**-0.5
    treat = lrp.attention if lrp is not None else None
    if treat is not None and treat != "cp":
        q, k = divide_gradient(q, 2), divide_gradient(k, 2)  # uniform rule on q.k^T
    logits = (q * scale) @ k.transpose(-2, -1)
    if treat in ("attnlrp_zplus", "attnlrp_zplus_vb"):
        probs = _ZPlusSoftmax.apply(logits, treat == "attnlrp_zplus_vb")
    else:
        probs = logits.softmax(-1)
    if treat == "cp":
        probs = stop_gradient(probs)
    probs = self.pbe_probs(probs)
    if treat is not None and treat != "cp":
        probs, v = divide_gradient(probs, 2), divide_gradient(v, 2)  # uniform rule on A.V
    ctx = self.pbe_context(probs @ v)
    return self._pbe_out(ctx.transpose(1, 2).reshape(B, N, H * head_dim), x)


def adapt_attention(
    mod: nn.Module,
    qkv: Callable[..., torch.Tensor],
    qk_norm: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    out: Callable[..., Any],
) -> None:
    """Give one attention module an explicit, hookable forward (in place, per instance; its parameters and the
    function it computes are unchanged): ``qkv(mod, x, rule)`` the fused q/k/v projection (``rule``: the LRP rule
    of a projection that is not an ``nn.Linear``, or None), ``qk_norm(mod, q, k)``, ``out(mod, context, x)`` the
    module's output. A module adapted before is left as it is."""
    if hasattr(mod, "pbe_probs"):
        return
    mod.add_module("pbe_probs", nn.Identity())
    mod.add_module("pbe_context", nn.Identity())
    for attr, fn in (("_pbe_qkv", qkv), ("_pbe_qk_norm", qk_norm), ("_pbe_out", out)):
        setattr(mod, attr, MethodType(fn, mod))
    mod.forward = MethodType(_attention_forward, mod)


def is_adapted(mod: nn.Module) -> bool:
    """Whether ``mod`` is an attention module with the adapter's hookable forward."""
    return hasattr(mod, "pbe_probs")


# ------------------------------------------------------------------------------------------ LRP context
def _layernorm_hook(mod: nn.LayerNorm, inp, out):
    x = inp[0]
    mean = x.mean(-1, keepdim=True)
    std = (x.var(-1, keepdim=True, unbiased=False) + mod.eps).sqrt().detach()
    y = (x - mean) / std
    if mod.weight is not None:
        y = y * mod.weight
    if mod.bias is not None:
        y = y + mod.bias
    return out.detach() + (y - y.detach())


def _identity_rule_hook(_mod, inp, out):
    x = inp[0]
    return out.detach() + (x - x.detach()) * (out / stabilise(x)).detach()


@contextmanager
def vit_lrp(model: nn.Module, composite: Composite, groups: dict[str, list[str]]) -> Iterator[nn.Module]:
    """Attach the ViT composite while the context is open (all hooks and states removed on exit)."""
    rule_of = {n: composite.rule_for(g) for g, names in groups.items() for n in names}
    handles = []
    attn_mods = []
    try:
        for name, mod in model.named_modules():
            if hasattr(mod, "pbe_probs"):
                proj = composite.attn_proj
                block_rule = rule_of.get(next((n for n in rule_of if n.startswith(name + ".")), ""), "epsilon")
                mod._pbe_lrp = _LRPState(composite.attention, proj or block_rule)
                attn_mods.append(mod)
                if proj is not None:
                    for child_name, child in mod.named_children():
                        if isinstance(child, nn.Linear):
                            rule_of[f"{name}.{child_name}"] = proj
        for name, mod in model.named_modules():
            if isinstance(mod, nn.Linear) and rule_of.get(name, "epsilon") != "epsilon":
                rule = rule_of[name]

                def hook(m, inp, out, rule=rule):
                    return lrp_linear(inp[0], m.weight, m.bias, rule)

                handles.append(mod.register_forward_hook(hook))
            elif isinstance(mod, nn.LayerNorm):
                handles.append(mod.register_forward_hook(_layernorm_hook))
            elif isinstance(mod, nn.GELU):
                handles.append(mod.register_forward_hook(_identity_rule_hook))
        yield model
    finally:
        for h in handles:
            h.remove()
        for mod in attn_mods:
            del mod._pbe_lrp
