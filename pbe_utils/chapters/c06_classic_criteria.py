"""Chapter 05 (C5, beyond the paper): the optimised LRP composite against weight, activation, gradient and Taylor
criteria."""

from __future__ import annotations

from pbe_utils import registry, verdicts
from pbe_utils import search as S
from pbe_utils.chapters.common import Result, compare_all
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.profiles import Profile


def classic_criteria(profile: Profile, progress: bool = True) -> Result:
    """C5: chapter 02's optimised composite, LRP-ε, the weight, activation, gradient and Taylor criteria and random
    pruning on every model (default component kind). Frames: ``curves``, ``summaries``. Comparisons: A_PR(optimised)
    - A_PR(each classic criterion) per model, Holm over the criteria. Verdict: the optimised composite beats every
    classic criterion."""

    def methods_for(name: str) -> dict:
        best = S.best_composite(S.run_search(profile, name, progress=False))
        return {
            "optimised": ("lrp", best),
            "LRP-ε": ("lrp", LRP_EPSILON),
            "weight": ("weight", None),
            "activation": ("activation", None),
            "gradient": ("gradient", None),
            "Taylor": ("taylor", None),
            "random": ("random", None),
        }

    curves, summaries = compare_all(profile, methods_for, progress, kinds=lambda _: ("auto",))
    verdict = verdicts.judge(
        verdicts.compare(summaries, "optimised", ["weight", "activation", "gradient", "Taylor"]),
        primary=registry.claim("C5").primary,
    )
    return Result({"curves": curves, "summaries": summaries}, verdict.cells, verdict, claims={"C5": verdict})
