"""Chapter 08 (B3, beyond the paper): how much search it takes: TPE, GP and random sampling replayed against the
exhaustive grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pbe_utils import registry, verdicts
from pbe_utils.chapters.common import Result, across_models
from pbe_utils.composites import LRP_EPSILON, YEOM_ZPLUS, Composite
from pbe_utils.grid import grid_available, grid_values, load_grid, point_key
from pbe_utils.models import get_spec
from pbe_utils.profiles import Profile
from pbe_utils.replay import evaluations_to_reach, replay

SAMPLER_LABEL = {"tpe": "TPE", "gp": "GP", "random": "random sampling"}


def search_cost(
    profile: Profile,
    model: str = "vgg",
    samplers: tuple[str, ...] = ("tpe", "gp", "random"),
    sampler_seeds: tuple[int, ...] = tuple(range(20)),
    max_proposals: int = 100,
    target: float = 0.99,
    restrict: dict | None = None,
    progress: bool = True,
    optimised: Composite | None = None,
) -> Result:
    """The exhaustive grid of ``model`` (:func:`load_grid`), then each sampler replayed against it
    (:func:`pbe_utils.replay.replay`) for at most ``max_proposals`` proposals per sampler seed.

    ``optimised``: chapter 02's TPE result, marked among the heuristics when given.
    Frames: ``grid`` (one row per point: rules, MAG, A_PR, seconds), ``top ten``, ``cost summary``,
    ``traces`` (sampler, seed, trial, evaluations,
    value, best), ``cost`` (per sampler and seed: evaluations to reach ``target`` x the grid's best and to reach the
    best itself, NaN when not reached; and what those evaluations cost at the grid's median trial time).
    Verdict: random sampling needs more evaluations than each Bayesian sampler to reach the target: a log-rank
    test per Bayesian sampler on the evaluations to the target, with the runs that never reached it within
    ``max_proposals`` as censored (:func:`pbe_utils.verdicts.censored_cells`); a log-rank test has no equivalence
    margin, so a sampler is faster, slower or unclear."""
    bad = [s for s in samplers if s not in SAMPLER_LABEL]
    if bad:
        raise ValueError(f"samplers={bad} is not accepted; use some of {list(SAMPLER_LABEL)}")
    if not 0 < target <= 1:
        raise ValueError(f"target={target!r} is not accepted; use a fraction of the grid's best in (0, 1]")
    if len(sampler_seeds) < 1 or max_proposals < 1:
        raise ValueError("sampler_seeds must list at least one seed and max_proposals must be >= 1")
    family = get_spec(model).family
    space = family.space(restrict)
    grid, record = load_grid(profile, model, restrict, progress)
    values = grid_values(grid, space)
    best = max(values.values())
    sec = float(grid["seconds"].median())
    traces, cost = [], []
    for sampler in samplers:
        for seed in sampler_seeds:
            # from scratch: chapter 02's search starts from LRP-ε and z+, which would hand the Bayesian samplers
            # the heuristics' values before their first proposal (reported separately in ``info``)
            # each arm draws from its own seed stream: TPE's and GP's random start would otherwise propose exactly
            # what random sampling with the same seed proposes, and the arms would not be independent
            tr = replay(
                values,
                space,
                sampler,
                arm_seed(sampler, seed),
                max_proposals,
                family,
                start_from_heuristics=False,
                stop_at=best,
            )
            traces.append(tr.assign(sampler=SAMPLER_LABEL[sampler], seed=seed))
            n_target = evaluations_to_reach(tr, target * best)
            made = int(tr["evaluations"].iloc[-1])
            cost.append(
                {
                    "method": SAMPLER_LABEL[sampler],
                    "seed": seed,
                    # not reached within max_proposals: the evaluations made, a lower bound (flagged as censored)
                    "evaluations": n_target if np.isfinite(n_target) else float(made),
                    "censored": not np.isfinite(n_target),
                    "evaluations to best": evaluations_to_reach(tr, best),
                    "evaluations made": made,
                    "search seconds": (n_target if np.isfinite(n_target) else made) * sec,
                    "sampler seconds": float(tr["sampler_seconds"].sum()),
                }
            )
    cost_frame = pd.DataFrame(cost)
    traces_f = pd.concat(traces, ignore_index=True)
    # best so far on a common axis: evaluation 1..E for every sampler and seed, a run that stopped (it found the
    # best) or ran out of proposals keeps its last best, so means over seeds never fall
    horizon = int(traces_f["evaluations"].max())
    progress_rows = []
    for (sampler, seed), tr in traces_f.groupby(["sampler", "seed"], sort=False):
        best_at = tr.groupby("evaluations")["best"].max().reindex(range(1, horizon + 1)).ffill()
        progress_rows += [{"sampler": sampler, "seed": seed, "evaluations": e, "best": b} for e, b in best_at.items()]
    bayes = [SAMPLER_LABEL[s] for s in samplers if s != "random"]
    comps = pd.DataFrame()
    if "random" in samplers and bayes:  # time to the target, censored where a run never got there: log-rank
        kind = f"{len(values)}-point grid"
        comps = verdicts.censored_cells(
            cost_frame.assign(model=model, kind=kind), "random sampling", bayes, "evaluations", by=("model", "kind")
        )
        comps["aside"] = [shared_start(cost_frame, b) for b in comps["b"]]
    verdict = verdicts.judge(
        comps, primary=[c for c in registry.claim("B3").primary if c in set(comps.get("comparison", []))] or None
    )
    comps = verdict.cells
    heuristics = {}
    named = {"LRP-ε": LRP_EPSILON, "z+ (Yeom)": YEOM_ZPLUS}
    if optimised is not None:  # chapter 02's TPE result, passed in by the caller
        named["chapter 2 (TPE)"] = optimised
    for label, comp in named.items():
        key = point_key(family.point(comp), space)
        if key in values:
            value = values[key]
            heuristics[label] = {
                "A_PR": value,
                "share of best": value / best if best > 0 else float("nan"),
                "rank": 1 + sum(v > value for v in values.values()),  # ties share the best rank
            }
    info = {
        "heuristics": heuristics,
        "points at target": int((grid["A_PR"] >= target * best).sum()),
        "grid best": best,
        "grid best composite": grid.loc[grid["A_PR"].idxmax(), "composite"],
        "grid median": float(grid["A_PR"].median()),
        "grid seconds": float(grid["seconds"].sum()),
        "median trial seconds": sec,
        "target": target,
        "record": record,
    }
    ranked = grid.sort_values(["A_PR", "composite"], ascending=[False, True], kind="stable").reset_index(drop=True)
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    frames = {
        "grid": grid,
        "top ten": ranked[["rank", "composite", "A_PR", "seconds"]].head(10),
        "traces": traces_f,
        "progress": pd.DataFrame(progress_rows),
        "cost": cost_frame,
        "cost summary": cost_summary(cost_frame, target),
    }
    return Result(frames, comps, verdict, info)


def search_cost_models(
    profile: Profile,
    models: tuple[str, ...] | None = None,
    optimised: dict[str, Composite] | None = None,
    **kwargs,
) -> Result:
    """:func:`search_cost` for each of ``models`` (default: every model of the profile whose grid is available,
    :func:`pbe_utils.grid.grid_available`), judged as one claim: one cell per model and Bayesian sampler, all in one
    Holm family. ``optimised``: chapter 02's result per model; ``kwargs`` go to :func:`search_cost`. Frames carry a
    ``model`` column, ``info`` is keyed by model."""
    restrict = kwargs.get("restrict")
    names = tuple(models or [m for m in profile.models if grid_available(profile, m, restrict)])
    if not names:
        raise ValueError("no model of the profile has an exhaustive grid; write one with python -m pbe_utils.grid")
    results = {m: search_cost(profile, m, optimised=(optimised or {}).get(m), **kwargs) for m in names}
    return across_models(results, primary=registry.claim("B3").primary)


#: the proposals each Bayesian sampler draws at random before it models anything (search.sampler_for: TPE's
#: n_startup_trials; optuna's GPSampler default)
RANDOM_START = {"TPE": 4, "GP": 10}
#: each arm's seed stream: sampler seed s runs as s + offset, so that no two arms share a proposal by construction
ARM_OFFSET = {"tpe": 0, "gp": 100_000, "random": 200_000}


def arm_seed(sampler: str, seed: int) -> int:
    """The seed an arm of chapter 08's comparison runs with (:data:`ARM_OFFSET`)."""
    return int(seed) + ARM_OFFSET.get(sampler, 0)


def shared_start(cost: pd.DataFrame, sampler: str) -> str:
    """Why the cell "random sampling vs ``sampler``" cannot carry evidence, or "": when most runs of the two arms
    reach the target within the Bayesian sampler's random start (:data:`RANDOM_START`), both arms are random
    sampling where it matters, and a difference between them says nothing about the Bayesian model."""
    start = RANDOM_START.get(sampler, 0)
    both = cost[cost["method"].isin(["random sampling", sampler])]
    early = (~both["censored"].astype(bool)) & (both["evaluations"] <= start)
    return "within the random start" if len(both) and float(early.mean()) > 0.5 else ""


def cost_summary(cost: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per sampler: evaluations to the target (median, range, runs censored), runs that reached the grid's best,
    and what the search and the sampler itself cost."""
    g = cost.groupby("method")
    return pd.DataFrame(
        {
            f"evaluations to {target:.0%} of best (median)": g["evaluations"].median(),
            "range": g["evaluations"].agg(lambda v: f"{v.min():.0f}–{v.max():.0f}"),
            "not reached (censored)": g["censored"].sum(),
            "reached the best": g["evaluations to best"].agg(lambda v: f"{v.notna().sum()} of {len(v)} seeds"),
            "evaluations to best (median of those)": g["evaluations to best"].median(),
            "search time at the median trial (s)": g["search seconds"].median(),
            "sampler's own time (s, mean)": g["sampler seconds"].mean(),
        }
    )


def grid_sources(result: Result) -> str:
    """Markdown: per model of a :func:`search_cost_models` result, where its grid comes from and what it cost."""
    lines = []
    for m, i in result.info.items():
        rec = i["record"]
        lines.append(
            f"* `{m}`: {len(rec['points'])} composites, {rec['source']}; produced by `{rec['command']}` at commit "
            f"`{rec['commit'] or '?'}` ({rec['written']}), trials from {rec['trials_from']} to {rec['trials_to']} "
            f"(sum of trial times {i['grid seconds'] / 60:.1f} min, median {i['median trial seconds']:.2f} s per "
            "composite)."
        )
    return "Each model's grid, where it comes from and what it cost:\n\n" + "\n".join(lines)


def landscape_summary(result: Result) -> str:
    """Markdown: per model, the grid's best and median, the points at the target, where the heuristics stand."""
    lines = []
    for m, i in result.info.items():
        n = len(i["record"]["points"])
        heur = "; ".join(
            f"{k}: A_PR {h['A_PR']:.4f}, {h['share of best']:.1%} of the best, rank {h['rank']} of {n}"
            for k, h in i["heuristics"].items()
        )
        lines.append(
            f"* `{m}`: best composite {i['grid best composite']} (A_PR {i['grid best']:.4f}); median of the grid "
            f"{i['grid median']:.4f}; {i['points at target']} of {n} composites reach {i['target']:.0%} of the best. "
            f"{heur}."
        )
    return "\n".join(lines)


def b3_evidence(result: Result) -> str:
    """The B3 evidence sentence of a :func:`search_cost_models` result: per model, the runs that reached the target
    and the grid's best, then each cell's difference of medians and outcome."""
    cost = result.frames["cost"]
    share = next(iter(result.info.values()))["target"]
    parts = []
    for m, g in cost.groupby("model", sort=False):
        reached = g.groupby("method")["censored"].apply(lambda s: int((~s.astype(bool)).sum()))
        best = g.groupby("method")["evaluations to best"].count()
        info = result.info[m]
        parts.append(
            f"{m} ({len(info['record']['points'])} points, target {share * info['grid best']:.3f}): reached the "
            "target in "
            + ", ".join(f"{k} {reached[k]}" for k in reached.index)
            + " runs; the grid's best in "
            + ", ".join(f"{k} {int(best[k])}" for k in best.index)
            + " runs"
        )
    return (
        f"Over {cost.seed.nunique()} sampler seeds with at most {int(cost['evaluations made'].max())} proposals each, "
        "per model: "
        + "; ".join(parts)
        + ". Random − Bayesian (difference of the Kaplan-Meier medians, log-rank): "
        + verdicts.describe(result.comparisons, label=("model",), digits=1)
    )
