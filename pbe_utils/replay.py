"""Replaying a sampler against a grid whose values are known (chapter 08): the study's own sampler proposes
exactly what it would in a real search, and only the evaluations are looked up."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pandas as pd

from pbe_utils.composites import params_key
from pbe_utils.families import CNN_FAMILY, Family
from pbe_utils.workers import heuristic_starts, quiet_optuna, sampler_for


@quiet_optuna
def replay(
    values: dict[tuple, float],
    space: dict[str, list],
    sampler: str,
    seed: int,
    n_trials: int,
    family: Family = CNN_FAMILY,
    start_from_heuristics: bool = True,
    stop_at: float | None = None,
) -> pd.DataFrame:
    """Run the study's own sampler (``sampler``, ``seed``) for ``n_trials`` proposals against a table of known
    objective values (``values``: grid point -> A_PR, from the exhaustive grid). The objective is deterministic, so
    the sampler proposes exactly what it would propose in a real search; only the evaluations are looked up. As in
    :func:`run_search`, a Bayesian search starts from LRP-ε and Yeom's z+, and a repeated point is not evaluated
    again; the replay ends early once the best reaches ``stop_at``. Returns one row per proposal: ``trial``,
    ``evaluations`` (distinct points so far, the search's cost),
    ``value``, ``best`` (so far) and ``sampler_seconds`` (the sampler's own time for the proposal)."""
    study = optuna.create_study(direction="maximize", sampler=sampler_for(sampler, space, seed))
    if start_from_heuristics and sampler != "random":
        for params in heuristic_starts(space, family):
            study.enqueue_trial(params)
    rows, seen, best = [], set(), -np.inf
    for i in range(n_trials):
        t0 = time.perf_counter()
        trial = study.ask()
        params = {k: trial.suggest_categorical(k, v) for k, v in space.items()}
        seconds = time.perf_counter() - t0
        point = params_key(params)
        if point not in values:
            raise KeyError(f"replay: the table has no value for {dict(point)}; pass the complete grid")
        value = float(values[point])
        study.tell(trial, value)
        seen.add(point)
        best = max(best, value)
        rows.append(
            {"trial": i + 1, "evaluations": len(seen), "value": value, "best": best, "sampler_seconds": seconds}
        )
        if stop_at is not None and best >= stop_at:
            break
    return pd.DataFrame(rows)


def evaluations_to_reach(trace: pd.DataFrame, target: float) -> float:
    """The number of distinct evaluations a replayed search needed until its best reached ``target`` (NaN: never)."""
    hit = trace[trace["best"] >= target]
    return float(hit["evaluations"].iloc[0]) if len(hit) else float("nan")
