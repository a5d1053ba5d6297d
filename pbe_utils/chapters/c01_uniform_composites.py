"""Chapter 01 (claim C1): LRP-ε against z+ and the other uniform composites as pruning criteria."""

from __future__ import annotations

from pbe_utils import verdicts
from pbe_utils.chapters.common import Result, compare_all
from pbe_utils.composites import LRP_EPSILON, UNIFORM, YEOM_ZPLUS
from pbe_utils.profiles import Profile


def uniform_composites(profile: Profile, progress: bool = True) -> Result:
    """C1: the four uniform composites (ε, z+, α2β1, γ) and random pruning on every model and component kind (ViTs:
    MLP neurons and attention heads). Frames: ``curves`` and ``summaries`` (see
    :func:`pbe_utils.study.compare_methods`). Comparisons: A_PR(LRP-ε) - A_PR(z+) per model and kind. Verdict:
    LRP-ε beats z+ everywhere it can be decided."""
    methods = {
        "LRP-ε": ("lrp", LRP_EPSILON),
        "z+ (Yeom)": ("lrp", YEOM_ZPLUS),
        "α2β1": ("lrp", UNIFORM["alpha2beta1"]),
        "γ": ("lrp", UNIFORM["gamma"]),
        "random": ("random", None),
    }
    curves, summaries = compare_all(profile, lambda _: methods, progress)
    verdict = verdicts.judge(verdicts.compare(summaries, "LRP-ε", "z+ (Yeom)"))
    return Result({"curves": curves, "summaries": summaries}, verdict.cells, verdict)
