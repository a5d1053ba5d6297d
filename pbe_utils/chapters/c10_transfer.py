"""Chapter 10 (B2, beyond the paper): does a composite optimised on one model and task transfer to other tasks and
architectures?"""

from __future__ import annotations

import pandas as pd

from pbe_utils import registry, verdicts
from pbe_utils import search as S
from pbe_utils.chapters.common import Result
from pbe_utils.composites import LRP_EPSILON, Composite
from pbe_utils.models import REGISTRY, get_spec
from pbe_utils.profiles import Profile
from pbe_utils.study import compare_methods


def transfer(
    profile: Profile,
    models: tuple[str, ...] | None = None,
    task_sizes: tuple[int, ...] | None = None,
    optimised: dict[str, Composite] | None = None,
    progress: bool = True,
) -> Result:
    """Each model's optimised composite (its TPE study, k = ``profile.n_classes`` tasks of the search seeds)
    evaluated on the evaluation seeds (other seeds) of every model of its family and every task size of
    ``task_sizes`` (default: the profile's and the largest of chapter 03's), next to LRP-ε and random pruning on
    the same tasks.

    Frames: ``summaries`` (target model, task size, method, seed, A_PR). Comparisons: per cell (target, task size),
    each source's composite vs LRP-ε, paired over seeds (gate from random pruning). Verdict
    (:func:`pbe_utils.verdicts.judge`, one Holm family over all cells away from home): the optimised composite
    transfers (beats LRP-ε)."""
    models = tuple(models or profile.models)
    task_sizes = tuple(task_sizes or sorted({profile.n_classes, max(profile.task_sizes)}))
    unknown = [m for m in models if m not in REGISTRY]
    if unknown:
        raise ValueError(f"models={unknown} is not accepted; use some of {sorted(REGISTRY)}")
    if optimised is None:
        optimised = {m: S.best_composite(S.run_search(profile, m, progress=progress)) for m in models}
    summaries, comparisons = [], []
    for target in models:
        group = get_spec(target).family.group  # transfer within CNNs, within ViTs
        sources = [m for m in models if get_spec(m).family.group == group]
        methods: dict[str, tuple[str, Composite | None]] = {"LRP-ε": ("lrp", LRP_EPSILON), "random": ("random", None)}
        for s in sources:
            methods[f"optimised on {s}"] = ("lrp", optimised[s])
        for k in task_sizes:
            _, summ = compare_methods(profile, target, methods, n_classes=k, progress=progress)
            summ = summ.assign(target=target, family=group.upper(), task_size=k)
            summaries.append(summ)
            cmp = verdicts.compare(summ, [f"optimised on {s}" for s in sources], "LRP-ε", by=("model", "kind"))
            cmp = cmp.assign(
                target=target,
                task_size=k,
                source=[a.removeprefix("optimised on ") for a in cmp["a"]],
                home=[(a.removeprefix("optimised on ") == target and k == profile.n_classes) for a in cmp["a"]],
            )
            comparisons.append(cmp)
    comp = pd.concat(comparisons, ignore_index=True)
    off, home = away_from_home(comp)
    verdict = verdicts.judge(off, primary=registry.claim("B2").primary)  # one Holm family over the claim's cells
    comp = pd.concat([verdict.cells, home.assign(role="at home")], ignore_index=True)
    info = {"optimised": optimised, "home": home}
    return Result({"summaries": pd.concat(summaries, ignore_index=True)}, comp, verdict, info, claims={"B2": verdict})


def away_from_home(comp: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """B2's cells away from home, and the home cells decided on their own (one Holm family): at home, each composite
    against LRP-ε on fresh tasks of the kind it was optimised for. A source without a win at home has no gain to
    transfer, and its cells away from home are set aside ("nothing to transfer")."""
    home = verdicts.decide(comp[comp["home"]])
    gained = set(home.loc[home["outcome"] == "win", "source"])
    off = comp[~comp["home"]].assign(
        aside=lambda f: ["" if s in gained else "nothing to transfer" for s in f["source"]],
        comparison=registry.claim("B2").primary[0],
    )
    return off, home
