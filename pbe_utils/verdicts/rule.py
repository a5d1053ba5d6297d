"""The claim rule: a comparison's verdict from its decided cells, the label from the primary comparisons'
verdicts, and :func:`judge`, which decides a claim's cells in their Holm families and returns its :class:`Verdict`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .decision import decide
from .stats import ALPHA, DECIDED, GATE

_PLURAL = {"win": "wins", "loss": "losses", "tie": "ties", "unclear": "unclear"}


def counts_text(counts: dict[str, int]) -> str:
    """'2 wins, 1 tie, 1 unclear' in a fixed order."""
    keys: tuple[str, ...] = ("win", "tie", "loss", "unclear", "identical", "not discriminating", "too few seeds")
    keys += tuple(k for k in counts if k not in keys)  # a chapter's own reasons for setting cells aside
    return ", ".join(f"{counts[k]} {_PLURAL.get(k, k) if counts[k] > 1 else k}" for k in keys if counts.get(k))


@dataclass(frozen=True)
class ComparisonVerdict:
    """The verdict of one comparison of a claim, with the count of each cell outcome, and its role: ``primary``
    (its verdict is the claim's label) or ``also asked`` (shown under the label, never changing it)."""

    comparison: str
    goal: str
    verdict: str
    counts: dict[str, int]
    role: str = "primary"

    @property
    def sentence(self) -> str:
        """'a vs b: holds in part (2 wins, 1 tie)'."""
        return f"{self.comparison}: {self.verdict} ({counts_text(self.counts)})"


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict: its label (one of ``VERDICTS``, the verdict of its primary comparison), why, the verdict
    of each comparison (primary and also asked), and the decided cells."""

    text: str
    reason: str
    comparisons: tuple[ComparisonVerdict, ...] = ()
    cells: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)

    @property
    def holds(self) -> bool | None:
        """True (holds), False (does not hold), None (holds in part or undecided)."""
        return {"holds": True, "does not hold": False}.get(self.text)

    @property
    def primary(self) -> tuple[ComparisonVerdict, ...]:
        """The comparisons that decide the label."""
        return tuple(c for c in self.comparisons if c.role == "primary")

    @property
    def also_asked(self) -> tuple[ComparisonVerdict, ...]:
        """The secondary comparisons, shown under the label."""
        return tuple(c for c in self.comparisons if c.role != "primary")

    @property
    def support(self) -> tuple[int, int]:
        """(cells of the primary comparisons that support their goal, decidable cells of the primary comparisons)."""
        return support_of(self.cells)

    @property
    def share(self) -> str:
        """'4 of 5 cells': how many decidable cells of the primary comparisons support the claim."""
        k, n = self.support
        return f"{k} of {n} cell{'s' if n != 1 else ''}"

    @property
    def label(self) -> str:
        """'holds in part: 4 of 5 cells'."""
        return f"{self.text}: {self.share}"


def support_of(cells: pd.DataFrame) -> tuple[int, int]:
    """(supporting, decidable) cells of the primary comparisons of decided ``cells``."""
    if cells is None or cells.empty or "outcome" not in cells.columns:
        return 0, 0
    c = cells[cells["role"] == "primary"] if "role" in cells.columns else cells
    dec = c[c["outcome"].isin(DECIDED)]
    return int((dec["outcome"] == dec["goal"]).sum()), int(len(dec))


def comparison_verdict(cells: pd.DataFrame) -> str:
    """The verdict of one comparison from its decided cells (see the module docstring)."""
    goal = str(cells["goal"].iloc[0]) if len(cells) else "win"
    dec = cells[cells["outcome"].isin(DECIDED)]
    if dec.empty or (dec["outcome"] == "unclear").all():
        return "undecided"
    against = {"loss"} if goal == "win" else {"win", "loss"}
    if dec["outcome"].isin(against).any():
        return "does not hold"
    support = (dec["outcome"] == goal).sum()
    if support == len(dec):
        return "holds"
    if support == 0:
        return "does not hold"
    return "holds in part"


def combine(verdicts_: Sequence[str]) -> str:
    """The label from the verdicts of a claim's primary comparisons (usually one; two where the paper's statement
    has two halves, e.g. C4): holds when all hold, does not hold when one does not, undecided when all are."""
    v = list(verdicts_)
    if not v:
        return "undecided"
    if all(x == "holds" for x in v):
        return "holds"
    if any(x == "does not hold" for x in v):
        return "does not hold"
    if all(x == "undecided" for x in v):
        return "undecided"
    return "holds in part"


FAMILIES = ("role", "claim", "comparison")


def judge(
    *cells: pd.DataFrame,
    alpha: float = ALPHA,
    gate: float = GATE,
    decided: bool = False,
    primary: Sequence[str] | None = None,
    family: str = "role",
) -> Verdict:
    """The verdict on a claim from its cells (frames of :func:`compare`, :func:`above_threshold`,
    :func:`correlation_cell` rows or :func:`censored_cells`, concatenated).

    ``primary``: the names of the comparisons whose verdict is the claim's label (from
    :mod:`pbe_utils.registry`); the other comparisons are *also asked*. None: the cells' ``role`` column when they
    have one (stored records), else every comparison is primary. ``family`` (Holm's correction): ``role`` (default:
    the primary cells are one family, the also-asked cells another, so that secondaries never weaken the test of the
    label), ``claim`` (every cell of the claim in one family) or ``comparison`` (one family per comparison)."""
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} is not accepted; use one of {list(FAMILIES)}")
    frames = [c for c in cells if c is not None and len(c)]
    if not frames:
        return Verdict("undecided", "no comparison could be made")
    allc = pd.concat(frames, ignore_index=True)
    names = list(dict.fromkeys(str(n) for n in allc["comparison"]))
    if primary is None:
        prim = (
            list(dict.fromkeys(allc.loc[allc["role"] == "primary", "comparison"].astype(str)))
            if "role" in allc.columns
            else names
        )
    else:
        prim = [n for n in names if n in set(primary)]
        if not prim:
            raise ValueError(f"primary={list(primary)} names no comparison of this claim; its comparisons: {names}")
    prim = prim or names
    allc["role"] = np.where(allc["comparison"].astype(str).isin(prim), "primary", "also asked")
    if not decided:
        if family == "claim":
            groups = [allc.index]
        elif family == "comparison":
            groups = [g.index for _, g in allc.groupby("comparison", sort=False)]
        else:
            groups = [g.index for _, g in allc.groupby("role", sort=False)]
        allc = pd.concat([decide(allc.loc[i], alpha, gate) for i in groups], ignore_index=True)
    parts = []
    for name, g in allc.groupby("comparison", sort=False):
        counts = {k: int(v) for k, v in g["outcome"].value_counts().items()}
        role = "primary" if str(name) in prim else "also asked"
        parts.append(ComparisonVerdict(str(name), str(g["goal"].iloc[0]), comparison_verdict(g), counts, role))
    parts.sort(key=lambda p: p.role != "primary")  # the primary comparisons first
    text = combine([p.verdict for p in parts if p.role == "primary"])
    reason = "; ".join(p.sentence for p in parts if p.role == "primary")
    also = [p.sentence for p in parts if p.role != "primary"]
    if also:
        reason += "; also asked: " + "; ".join(also)
    return Verdict(text, reason, tuple(parts), allc)
