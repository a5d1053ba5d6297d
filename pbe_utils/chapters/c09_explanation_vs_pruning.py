"""Chapter 09 (B1, beyond the paper): do composites with more faithful input heatmaps make better pruning criteria?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm import tqdm

from pbe_utils import registry, verdicts
from pbe_utils import search as S
from pbe_utils.chapters.common import Result, across_models
from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON, YEOM_ZPLUS, Composite
from pbe_utils.faithfulness import faithfulness_metrics
from pbe_utils.families import Family
from pbe_utils.grid import grid_available, load_grid, point_key
from pbe_utils.grid import grid_values as values_of
from pbe_utils.models import get_spec
from pbe_utils.profiles import Profile
from pbe_utils.relevance import input_heatmaps
from pbe_utils.study import get_model
from pbe_utils.tasks import make_task

HEURISTIC_LABELS = ("LRP-ε", "z+ (Yeom)", "optimised")


def explanation_composites(family: Family, optimised: Composite | None = None) -> dict[str, Composite]:
    """The 32 points HLL x FCL x MAG with LLL = MLL = ε, plus LRP-ε, Yeom's z+ and (if given) the optimised one."""
    rules = ("epsilon", "zplus", "alpha2beta1", "gamma")
    out: dict[str, Composite] = {}
    for hll in rules:
        for fcl in rules:
            for mag in (True, False):
                c = Composite(hll=hll, fcl=fcl, mag=mag)
                out[family.label(c)] = c
    named = {"LRP-ε": LRP_EPSILON, "z+ (Yeom)": YEOM_ZPLUS}
    if optimised is not None:
        same = [k for k, c in named.items() if c == optimised]
        if same:  # the search picked a heuristic: one point, both names
            named[f"optimised = {same[0]}"] = named.pop(same[0])
        else:
            named["optimised"] = optimised
    for name, c in named.items():
        out = {k: v for k, v in out.items() if v != c}
        out[name] = c
    return out


def explanation_vs_pruning(
    profile: Profile,
    model: str = "vgg",
    grid_values: dict[tuple, float] | None = None,
    optimised: Composite | None = None,
    n_images: int = 64,
    features_in_step: int | None = None,
    progress: bool = True,
) -> Result:
    """For each composite of :func:`explanation_composites`: its pruning A_PR on the search tasks (from
    ``grid_values`` when given, else computed) and the Quantus metrics of its input heatmaps on ``n_images`` images
    of each search task (pixel flipping in 28 steps unless ``features_in_step`` is given). Frames: ``per_image`` and
    ``composites`` (one row each: A_PR, mean metrics).
    Verdict (:func:`pbe_utils.verdicts.judge`): the rank correlation between faithfulness (negated pixel-flipping
    AUC) and A_PR over the composites, one cell per ranking (|R| and signed R share each heatmap, so each explanation
    is counted once per cell), against ``verdicts.R_MIN``."""
    family = get_spec(model).family
    net, _ = get_model(profile, model, progress=False)
    comps = find_components(net)
    tasks = [make_task(profile, s) for s in profile.search_seeds]
    space = family.space()
    composites = explanation_composites(family, optimised)
    side = tasks[0].search.x.shape[-1]
    steps = features_in_step or max(1, tasks[0].search.x.shape[-2] * side // 28)  # 28 steps of pixel flipping
    rows, summary = [], []
    heat_cache: dict[tuple, dict] = {}
    for label, c in tqdm(composites.items(), desc=f"{model}: heatmaps + Quantus", disable=not progress):
        params = family.point(c)
        key = point_key(params, space)
        if grid_values is not None and key in grid_values:
            apr = grid_values[key]
        else:
            apr = S.search_apr(S.search_results(net, comps, tasks, c, profile))
        hkey = (c.rules, c.attention)  # MAG changes how scores are aggregated, not the heatmap
        if hkey not in heat_cache:
            metrics: dict[str, list] = {}
            for t in tasks:
                x, y = t.search.x[:n_images], t.search.y[:n_images]
                heat = input_heatmaps(net, x, y, c)
                m = faithfulness_metrics(net, x.numpy(), y.numpy(), heat.unsqueeze(1).numpy().astype(np.float32), steps)
                for k, v in m.items():
                    metrics.setdefault(k, []).append(v)
            heat_cache[hkey] = {k: np.concatenate(v) for k, v in metrics.items()}
        m = heat_cache[hkey]
        for i in range(len(m["complexity"])):
            rows.append({"composite": label, **{k: float(v[i]) for k, v in m.items()}})
        summary.append(
            {
                "composite": label,
                "HLL": c.hll,
                "FCL": c.fcl,
                "MAG": c.mag,
                "heuristic": label in HEURISTIC_LABELS or label.startswith("optimised"),
                "A_PR": apr,
                **{k: float(np.nanmean(v)) for k, v in m.items()},
            }
        )
    frame = pd.DataFrame(summary)
    frame["faithfulness"] = -frame["pixel-flipping AUC"]
    frame["A_PR rank"] = frame["A_PR"].rank(ascending=False)
    frame["faithfulness rank"] = frame["faithfulness"].rank(ascending=False)
    kind = comps[0].kind

    # |R| and signed R share one heatmap (MAG only changes how scores are aggregated): one correlation per ranking,
    # each explanation counted once in it
    def per_ranking(x: pd.Series, label: str) -> list[dict]:
        return [
            verdicts.correlation_cell(
                x[g.index], g["A_PR"], label=label, model=model, kind=kind, ranking="|R|" if mag else "signed R"
            )
            for mag, g in frame.groupby("MAG", sort=False)
        ]

    # B1's cells: Spearman's rho over the composites of one ranking, its interval from a bootstrap over the images
    # (the noise of the faithfulness measure); the composites are a designed set, so nothing is assumed about them
    per_img = pd.DataFrame(rows)
    per_img["image"] = per_img.groupby("composite").cumcount()
    flip = per_img.pivot(index="composite", columns="image", values="pixel-flipping AUC")
    cells = [
        verdicts.bootstrap_correlation_cell(
            -flip.loc[g["composite"]].to_numpy(float),
            g["A_PR"].to_numpy(float),
            label=registry.claim("B1").primary[0],
            model=model,
            kind=kind,
            ranking="|R|" if mag else "signed R",
        )
        for mag, g in frame.groupby("MAG", sort=False)
    ]
    simplicity = per_ranking(-frame["complexity"], "simplicity ~ A_PR")
    verdict = verdicts.judge(pd.DataFrame(cells))
    comparisons = verdict.cells
    frames_extra = pd.DataFrame(simplicity)
    ranked = frame.sort_values(["A_PR", "composite"], ascending=[False, True], kind="stable").assign(
        composite=frame["composite"].str.replace("LLL=ε MLL=ε ", "", regex=False)
    )
    cols = ["composite", "A_PR", "A_PR rank", "faithfulness", "faithfulness rank", "complexity", "sparseness"]
    from_grid = sum(
        grid_values is not None and point_key(family.point(c), space) in grid_values for c in composites.values()
    )
    return Result(
        {
            "per_image": pd.DataFrame(rows),
            "composites": frame,
            "simplicity": frames_extra,
            "ranked": ranked[cols].reset_index(drop=True),
        },
        comparisons,
        verdict,
        {"from grid": int(from_grid)},
    )


def explanation_vs_pruning_models(
    profile: Profile,
    models: tuple[str, ...] | None = None,
    optimised: dict[str, Composite] | None = None,
    restrict: dict | None = None,
    **kwargs,
) -> Result:
    """:func:`explanation_vs_pruning` for each of ``models`` (default: every model of the profile whose grid is
    available, :func:`pbe_utils.grid.grid_available`), each composite's
    A_PR read from that model's exhaustive grid (:func:`pbe_utils.grid.load_grid`, chapter 08) where the grid holds
    it; judged as one claim (one Holm family over every model's cells). ``optimised``: chapter 02's result per
    model; ``kwargs`` go to :func:`explanation_vs_pruning`."""
    names = tuple(models or [m for m in profile.models if grid_available(profile, m, restrict)])
    if not names:
        raise ValueError("no model of the profile has an exhaustive grid; write one with python -m pbe_utils.grid")
    results = {}
    for m in names:
        grid, _ = load_grid(profile, m, restrict, progress=False)
        values = values_of(grid, get_spec(m).family.space(restrict))
        results[m] = explanation_vs_pruning(profile, m, values, (optimised or {}).get(m), **kwargs)
    return across_models(results, primary=registry.claim("B1").primary)


def b1_evidence(result: Result) -> str:
    """The B1 evidence sentence of an :func:`explanation_vs_pruning_models` result: each cell's Spearman ρ with its
    90 % interval, the simplicity correlations, and where the heuristics rank."""
    comp, c, simp = result.frames["composites"], result.comparisons, result.frames["simplicity"]
    pos = "; ".join(
        f"{r['model']} {r['composite']}: A_PR rank {r['A_PR rank']:.0f}, faithfulness rank "
        f"{r['faithfulness rank']:.0f} of {int((comp.model == r['model']).sum())}"
        for _, r in comp[comp.heuristic].iterrows()
    )
    return (
        "Spearman ρ(faithfulness, A_PR) [90 % CI]: "
        + "; ".join(
            f"{r.model} {r.ranking}: {r.difference:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}] over {r.n} composites"
            for r in c.itertuples()
        )
        + "; ρ(simplicity, A_PR): "
        + "; ".join(
            f"{r.model} {r.ranking}: {r.difference:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}]" for r in simp.itertuples()
        )
        + f". Where the heuristics stand: {pos}"
    )
