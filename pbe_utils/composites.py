"""LRP composites: one rule per layer group (LLL, MLL, HLL, FCL), the MAG option and, for ViTs, the attention rule.

A :class:`Composite` is a frozen description that prints the way the paper writes it; the CNN engine turns it into
a zennit ``NameLayerMapComposite`` and the ViT engine (``pbe_utils.families.attention``) into rule hooks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from zennit import layer as zl
from zennit import rules as zr
from zennit import types as zt
from zennit.composites import NameLayerMapComposite

RULES = ("epsilon", "zplus", "alpha2beta1", "gamma")
ATTENTION_RULES = ("cp", "attnlrp", "attnlrp_zplus_vb", "attnlrp_zplus")
GROUPS = ("LLL", "MLL", "HLL", "FCL")
SYMBOL = {
    "epsilon": "ε",
    "zplus": "z+",
    "alpha2beta1": "α2β1",
    "gamma": "γ",
    "cp": "CP-LRP",
    "attnlrp": "AttnLRP",
    "attnlrp_zplus_vb": "AttnLRP-z+ (vbias)",
    "attnlrp_zplus": "AttnLRP-z+",
}
#: fixed hyperparameters of the rules (book/method.md, "The composite"); not searched, as in the paper.
EPSILON = 1e-6
GAMMA_CONV, GAMMA_LINEAR = 0.25, 0.05


def _check(value: str, accepted: tuple[str, ...], what: str) -> None:
    if value not in accepted:
        raise ValueError(f"{what}={value!r} is not accepted; use one of {accepted}")


@dataclass(frozen=True)
class Composite:
    """An LRP composite of the paper's search space.

    ``mag=True`` ranks components by |R| (per sample, as the authors' code), ``False`` by signed relevance.
    ``attention`` is the ViT softmax treatment (ignored for CNNs); ``attn_proj`` optionally overrides the rule of
    the q/k/v/out projections (used only by the "faithful" ViT composite of the AttnLRP paper).
    """

    lll: str = "epsilon"
    mll: str = "epsilon"
    hll: str = "epsilon"
    fcl: str = "epsilon"
    mag: bool = True
    attention: str = "attnlrp"
    attn_proj: str | None = None

    def __post_init__(self) -> None:
        for group, rule in zip(GROUPS, self.rules, strict=True):
            _check(rule, RULES, f"rule for {group}")
        _check(self.attention, ATTENTION_RULES, "attention")
        if self.attn_proj is not None:
            _check(self.attn_proj, RULES, "attn_proj")

    @property
    def rules(self) -> tuple[str, str, str, str]:
        """The rules of the four layer groups, LLL to FCL."""
        return (self.lll, self.mll, self.hll, self.fcl)

    def rule_for(self, group: str) -> str:
        """The rule of one layer group (``LLL``, ``MLL``, ``HLL`` or ``FCL``)."""
        _check(group, GROUPS, "group")
        return self.rules[GROUPS.index(group)]

    def label(self, vit: bool = False) -> str:
        """The paper's notation, e.g. ``LLL=ε MLL=ε HLL=z+ FCL=ε, |R|``."""
        parts = " ".join(f"{g}={SYMBOL[r]}" for g, r in zip(GROUPS, self.rules, strict=True))
        if vit:
            parts += f" Attn={SYMBOL[self.attention]}"
            if self.attn_proj:
                parts += f" QKVO={SYMBOL[self.attn_proj]}"
        return parts + (", |R|" if self.mag else ", R")

    def __str__(self) -> str:
        return self.label(vit=False)

    def as_params(self, vit: bool = False) -> dict:
        """The composite as a point of the search space (ViTs add the softmax rule)."""
        params: dict = {g: r for g, r in zip(GROUPS, self.rules, strict=True)}
        params["MAG"] = self.mag
        if vit:
            params["attention"] = self.attention
        return params

    @classmethod
    def from_params(cls, params: dict) -> "Composite":
        """The composite of a point of the search space (the inverse of :meth:`as_params`)."""
        return cls(
            lll=params["LLL"],
            mll=params["MLL"],
            hll=params["HLL"],
            fcl=params["FCL"],
            mag=bool(params["MAG"]),
            attention=params.get("attention", "attnlrp"),
        )


#: the heuristic and reference composites the paper compares against (book/method.md, "The composite")
LRP_EPSILON = Composite("epsilon", "epsilon", "epsilon", "epsilon", True, "attnlrp")
YEOM_ZPLUS = Composite("zplus", "zplus", "zplus", "zplus", True, "attnlrp_zplus_vb")
FAITHFUL_CNN = Composite("zplus", "zplus", "zplus", "epsilon", True)  # Kohlbrenner et al. 2020 (EpsilonPlus)
FAITHFUL_VIT = Composite("gamma", "gamma", "gamma", "epsilon", True, "attnlrp_zplus_vb", attn_proj="epsilon")
UNIFORM = {r: Composite(r, r, r, r, True) for r in RULES}


def search_space(family: str) -> dict[str, list]:
    """The paper's search space (book/method.md, "The composite search"): a rule per layer group and MAG, 4^4 x 2 =
    512 CNN points; for ViTs also the softmax rule, 4^4 x 2 x 4 = 2,048 points."""
    _check(family, ("cnn", "vit"), "family")
    space: dict[str, list] = {g: list(RULES) for g in GROUPS}
    space["MAG"] = [True, False]
    if family == "vit":
        space["attention"] = list(ATTENTION_RULES)
    return space


def space_for(family: str, restrict: dict | None = None) -> dict[str, list]:
    """The search space of ``family``, optionally restricted (``restrict={'LLL': ['epsilon']}``) for a quick study;
    a key or value outside the space raises a ``ValueError`` naming it."""
    space = search_space(family)
    for key, values in (restrict or {}).items():
        if key not in space:
            raise ValueError(f"restrict key {key!r} is not a search variable; use {list(space)}")
        bad = [v for v in values if v not in space[key]]
        if bad:
            raise ValueError(f"restrict[{key!r}] has {bad}; accepted {space[key]}")
        space[key] = list(values)
    return space


def parse_restrict(text: str | None) -> dict | None:
    """``LLL=epsilon,zplus;MAG=True`` -> {"LLL": ["epsilon", "zplus"], "MAG": [True]}; malformed text raises a
    ValueError that names ``--restrict`` and the accepted form."""
    if not text:
        return None
    out: dict = {}
    for part in text.split(";"):
        if part.count("=") != 1 or not part.split("=")[0].strip() or not part.split("=")[1].strip():
            raise ValueError(
                f"--restrict {text!r}: {part!r} is not GROUP=rule[,rule...]; e.g. 'LLL=epsilon,zplus;MAG=True'"
            )
        key, vals = part.split("=")
        out[key.strip()] = [v == "True" if v in ("True", "False") else v.strip() for v in vals.split(",")]
    return out


def with_mag(composite: Composite, mag: bool) -> Composite:
    """The same composite with components ranked by |R| (``mag=True``) or by signed R."""
    return replace(composite, mag=mag)


# ------------------------------------------------------------------------------------------ zennit (CNNs)
def zennit_rule(rule: str, layer: str = "conv"):
    """The zennit rule object of a rule name (``layer`` picks gamma: 0.25 for convs, 0.05 for linear layers).
    A real gamma rule, not the authors' no-rule bug (book/deviations.md, "γ rule")."""
    _check(rule, RULES, "rule")
    if rule == "epsilon":
        return zr.Epsilon(epsilon=EPSILON)
    if rule == "zplus":
        return zr.ZPlus()
    if rule == "alpha2beta1":
        return zr.AlphaBeta(alpha=2.0, beta=1.0)
    return zr.Gamma(gamma=GAMMA_CONV if layer == "conv" else GAMMA_LINEAR)


def zennit_composite(composite: Composite, groups: dict[str, list[str]], canonizers: list, linear_names: set[str]):
    """Build the zennit composite: the group rules by module name, and the fixed parts of every CNN composite
    (activations and BatchNorm pass, residual sums and average pooling normalise; book/method.md, "The composite")."""
    name_map = []
    for group in GROUPS:
        names = groups.get(group, [])
        rule = composite.rule_for(group)
        conv = tuple(n for n in names if n not in linear_names)
        lin = tuple(n for n in names if n in linear_names)
        if conv:
            name_map.append((conv, zennit_rule(rule, "conv")))
        if lin:
            name_map.append((lin, zennit_rule(rule, "linear")))
    layer_map = [
        (zt.Activation, zr.Pass()),
        (zl.Sum, zr.Norm()),
        (zt.AvgPool, zr.Norm()),
        (zt.BatchNorm, zr.Pass()),
    ]
    return NameLayerMapComposite(name_map=name_map, layer_map=layer_map, canonizers=canonizers)


def grid_points(space: dict[str, list]) -> list[dict]:
    """Every point of ``space`` (one dict per combination)."""
    return [dict(zip(space, values, strict=True)) for values in itertools.product(*space.values())]


def params_key(params: dict) -> tuple:
    """A grid point's key: its (variable, value) pairs, sorted (hashable, whatever the order of the dict)."""
    return tuple(sorted(params.items()))
