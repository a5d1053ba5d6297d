"""Optimising LRP composites for pruning (book/method.md, "The composite search"): an optuna study over the
paper's grid.

* objective: A_PR of the pruning curve on the *search* split (held-out training images), never the test split;
* samplers: the exhaustive ``grid`` (every point enqueued once, workers pop the queue atomically), ``tpe``, ``gp``
  (optuna's GP sampler, when its dependencies are present) or ``random``, with a total budget;
* storage: any SQLAlchemy URL (SQLite file by default); heartbeats mark trials of a killed worker as failed, and
  ``RetryHeartbeatStaleTrialCallback`` re-enqueues their composite, so an interrupted study resumes without losing or
  repeating a completed trial; a trial that raises is recorded as failed with its error and the study goes on.

Run a worker from the shell (several on one storage share the work)::

    python -m pbe_utils.search --profile default --model vgg --storage sqlite:///results/search.db
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import traceback
from collections.abc import Callable

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from pbe_utils.cache import bound_onednn_cache
from pbe_utils.components import find_components
from pbe_utils.composites import (
    Composite,
    params_key,
    parse_restrict,
    space_for,
)
from pbe_utils.families import family_of
from pbe_utils.models import get_spec
from pbe_utils.profiles import Profile, get_profile
from pbe_utils.relevance import model_fingerprint
from pbe_utils.storage import (
    beat,
    check_storage,
    default_storage,
    grid_counts,
    is_enqueued,
    storage_for,
)
from pbe_utils.study import evaluate_method, get_model
from pbe_utils.tasks import make_task
from pbe_utils.workers import (
    check_identity,
    create_study,
    distinct_complete,
    quiet_optuna,
    run_budgeted,
    run_grid,
)

#: what the search's callers (chapters, grid, tests) import from here; the study itself is made in pbe_utils.workers
__all__ = [
    "best_composite",
    "check_identity",
    "create_study",
    "distinct_complete",
    "grid_frame",
    "main",
    "make_objective",
    "run_search",
    "search_apr",
    "search_results",
    "space_for",
    "study_identity",
    "study_name_for",
    "trials_frame",
    "worker_command",
]


def study_identity(profile: Profile, model_name: str, kind: str) -> dict:
    """What a search study is about, recorded in the study: the model, the component kind and the parameters of
    the profile that the objective depends on (the sampler and restriction are added by :func:`create_study`)."""
    return {
        "model": model_name,
        "kind": kind,
        "profile": profile.name,
        "objective": [list(profile.search_seeds), profile.n_classes, profile.n_search, profile.n_ref,
                      list(profile.rates)],
    }  # fmt: skip


def make_objective(
    model,
    components,
    tasks,
    profile: Profile,
    space: dict,
    grid: bool,
    after_first_suggest: Callable[[optuna.Trial], None] | None = None,
):
    """The objective: mean A_PR over the search tasks (``profile.search_seeds``, disjoint from the evaluation seeds),
    each scored on its own images of the held-out search split. ``after_first_suggest`` is called inside every trial
    after its first suggestion (the tests kill a worker there: :mod:`pbe_utils.testing`)."""
    tasks = tasks if isinstance(tasks, list) else [tasks]
    family = family_of(model)

    def objective(trial: optuna.Trial) -> float:
        if grid and not is_enqueued(trial):
            # the queue emptied between a worker's check and its ask: nothing left to do
            trial.study.stop()
            raise optuna.TrialPruned("grid exhausted")
        beat(trial)  # before anything can kill the worker
        params = {}
        for i, (k, v) in enumerate(space.items()):
            params[k] = trial.suggest_categorical(k, v)
            if i == 0 and after_first_suggest is not None:
                after_first_suggest(trial)
        composite = Composite.from_params(params)
        trial.set_user_attr("composite", family.label(composite))
        # a TPE/GP sampler may propose a point already scored: reuse it instead of recomputing (a grid point is
        # enqueued once, so the grid skips this read of every completed trial)
        for done in () if grid else trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if done.params == params and "curve" in done.user_attrs:
                for k, v in done.user_attrs.items():
                    trial.set_user_attr(k, v)
                trial.set_user_attr("reused_from", done.number)
                return float(done.value or 0.0)
        try:
            results = search_results(model, components, tasks, composite, profile)
        except Exception as err:
            trial.set_user_attr("error", "".join(traceback.format_exception_only(err)).strip())
            raise
        trial.set_user_attr("curve", [float(a) for a in np.mean([r["curve"] for r in results], axis=0)])
        trial.set_user_attr("rates", [float(r) for r in profile.rates])
        trial.set_user_attr("A_PR per task", [float(r["A_PR"]) for r in results])
        for k in ("A_PR", "trapezoid", "Top-PR"):
            trial.set_user_attr(k, float(np.mean([r[k] for r in results])))
        for k in ("seconds_scores", "seconds_curve"):
            trial.set_user_attr(k, float(sum(r[k] for r in results)))
        return search_apr(results)

    return objective


def search_results(model, components, tasks: list, composite: Composite, profile: Profile) -> list[dict]:
    """The search objective's evaluations: ``composite`` scored on each search task's held-out search images."""
    return [
        evaluate_method(model, components, t, "lrp", composite, profile, split="search", cache=False) for t in tasks
    ]


def search_apr(results: list[dict]) -> float:
    """The search objective: the mean A_PR over the search tasks."""
    return float(np.mean([r["A_PR"] for r in results]))


def study_name_for(
    profile: Profile, model_name: str, model, kind: str, sampler: str, seed: int, restrict: dict | None = None
) -> str:
    """The default study name: everything the objective depends on (the weights' fingerprint keeps a retrained model
    from reusing a stale study; a restricted grid is a different study)."""
    name = (
        f"{profile.name}-{model_name}-{model_fingerprint(model)[:8]}-{kind}-{sampler}-seed{seed}"
        f"-tasks{'_'.join(map(str, profile.search_seeds))}-k{profile.n_classes}-n{profile.n_search}"
    )
    if restrict:
        name += "-r" + hashlib.sha256(json.dumps(restrict, sort_keys=True).encode()).hexdigest()[:8]
    return name


@quiet_optuna
def run_search(
    profile: Profile,
    model_name: str,
    storage: str | None = None,
    study_name: str | None = None,
    sampler: str | None = None,
    n_trials: int | None = None,
    restrict: dict | None = None,
    kind: str = "auto",
    seed: int | None = None,
    progress: bool = True,
    heartbeat_interval: int = 30,
    grace_period: int = 90,
    create: bool = True,
    after_first_suggest: Callable[[optuna.Trial], None] | None = None,
) -> optuna.Study:
    """Run (or resume, or join) the composite search for one model: the study and its objective are set up here,
    then one of the two workers of :mod:`pbe_utils.workers` runs it: the grid worker (the queue until it is empty)
    or the budgeted worker (TPE/GP/random until ``n_trials`` distinct composites are complete)."""
    sampler = sampler or profile.sampler
    seed = profile.search_seeds[0] if seed is None else seed
    family = get_spec(model_name).family
    model, _ = get_model(profile, model_name, progress=False)
    components = find_components(model, kind)
    if study_name is None:
        study_name = study_name_for(profile, model_name, model, components[0].kind, sampler, seed, restrict)
    storage = storage or default_storage()
    if create:
        identity = study_identity(profile, model_name, components[0].kind)
        study = create_study(
            study_name, storage, family, sampler, restrict, seed, heartbeat_interval, grace_period, identity
        )
    else:
        study = optuna.load_study(study_name=study_name, storage=storage_for(storage, heartbeat_interval, grace_period))
        identity = study_identity(profile, model_name, components[0].kind)
        check_identity(study, {**identity, "sampler": sampler, "restrict": restrict or {}})
    space = family.space(restrict)
    tasks = [make_task(profile, s) for s in profile.search_seeds]
    objective = make_objective(model, components, tasks, profile, space, sampler == "grid", after_first_suggest)
    optuna.storages.fail_stale_trials(study)  # trials of a worker that died more than a grace period ago
    if sampler == "grid":
        run_grid(study, objective, space, storage, progress, heartbeat_interval, grace_period)
    else:
        run_budgeted(study, objective, n_trials or profile.n_trials, progress)
    return study


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per completed trial: number, composite, the group rules, MAG, A_PR, trapezoid, Top-PR."""
    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        rows.append(
            {
                "number": t.number,
                **t.params,
                "composite": t.user_attrs.get("composite"),
                "A_PR": t.value,
                "trapezoid": t.user_attrs.get("trapezoid"),
                "Top-PR": t.user_attrs.get("Top-PR"),
            }
        )
    return pd.DataFrame(rows).sort_values("number").reset_index(drop=True) if rows else pd.DataFrame()


def grid_frame(study: optuna.Study) -> pd.DataFrame:
    """:func:`trials_frame` of a grid study, one row per grid point (its first completed trial), with the trial's
    wall seconds and its per-search-task A_PR."""
    rows = []
    seen: set[tuple] = set()
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        point = params_key(t.params)
        if point in seen:
            continue
        seen.add(point)
        start, end = t.datetime_start, t.datetime_complete
        rows.append(
            {
                **t.params,
                "composite": t.user_attrs.get("composite"),
                "A_PR": t.value,
                "A_PR per task": t.user_attrs.get("A_PR per task"),
                "seconds": (end - start).total_seconds() if start and end else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def best_composite(study: optuna.Study) -> Composite:
    """The composite of the study's best trial."""
    return Composite.from_params(study.best_trial.params)


def worker_command(
    storage: str, study_name: str, profile: str = "default", model: str = "vgg", sampler: str = "grid", **options
) -> list[str]:
    """The command line of one search worker (``python -m pbe_utils.search``) for a subprocess: ``options`` are
    further flags by their Python name (``restrict="LLL=epsilon"``, ``heartbeat=1``, ``join=True``)."""
    cmd = [sys.executable, "-m", "pbe_utils.search", "--profile", profile, "--model", model, "--storage", storage]
    cmd += ["--study-name", study_name, "--sampler", sampler]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            cmd.append(flag)
        elif value not in (None, False):
            cmd += [flag, str(value)]
    return cmd


def main(argv: list[str] | None = None, after_first_suggest: Callable[[optuna.Trial], None] | None = None) -> int:
    """``python -m pbe_utils.search``: one worker of the composite search (resumable, shareable)."""
    bound_onednn_cache()
    ap = argparse.ArgumentParser(description="Run one worker of the LRP-composite search (resumable, shareable).")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--model", required=True)
    ap.add_argument("--storage", default=None, help="SQLAlchemy URL (default: sqlite:///results/search.db)")
    ap.add_argument("--study-name", default=None)
    ap.add_argument("--sampler", default=None, choices=["grid", "tpe", "gp", "random"])
    ap.add_argument("--n-trials", type=int, default=None)
    ap.add_argument("--kind", default="auto", choices=["auto", "conv", "neurons", "heads"])
    ap.add_argument("--restrict", default=None, help="e.g. LLL=epsilon,zplus;MAG=True")
    ap.add_argument("--heartbeat", type=int, default=30)
    ap.add_argument("--grace", type=int, default=90)
    ap.add_argument("--join", action="store_true", help="only join an existing study (do not create/enqueue)")
    ap.add_argument("--create-only", action="store_true", help="create the study (and enqueue the grid), run nothing")
    args = ap.parse_args(argv)
    try:
        restrict = parse_restrict(args.restrict)
        profile = get_profile(args.profile)
        family = get_spec(args.model).family
        family.space(restrict)
        if args.storage:
            check_storage(args.storage)
        else:  # the default storage under $PBE_RESULTS, checked (and its folder made) before any model is loaded
            args.storage = default_storage()
        for flag, value, low in (("--n-trials", args.n_trials, 1), ("--heartbeat", args.heartbeat, 1)):
            if value is not None and value < low:
                raise ValueError(f"{flag} {value} is not accepted; use an integer >= {low}")
        if args.grace <= args.heartbeat:
            raise ValueError(
                f"--grace {args.grace} is not accepted; use more seconds than --heartbeat ({args.heartbeat}), or a "
                "live worker's trials would be failed as stale"
            )
    except ValueError as err:  # before any model or data is loaded
        ap.error(str(err))
    if args.create_only:
        name = args.study_name or f"{profile.name}-{args.model}-{args.sampler or profile.sampler}"
        create_study(name, args.storage or default_storage(), family, args.sampler or profile.sampler, restrict)
        print(f"created {name}")
        return 0
    try:
        study = run_search(
            profile,
            args.model,
            args.storage,
            args.study_name,
            args.sampler,
            args.n_trials,
            restrict,
            args.kind,
            progress=False,
            heartbeat_interval=args.heartbeat,
            grace_period=args.grace,
            create=not args.join,
            after_first_suggest=after_first_suggest,
        )
    except ValueError as err:  # e.g. a study made for another model, profile or restriction
        print(f"pbe_utils.search: error: {err}", file=sys.stderr)
        return 2
    states = {s: len(study.get_trials(deepcopy=False, states=(s,))) for s in TrialState}
    done = states[TrialState.COMPLETE]
    line = f"{study.study_name}: {done} completed, {states[TrialState.FAIL]} failed trials"
    if (args.sampler or profile.sampler) == "grid":
        c = grid_counts(study, family.space(restrict))
        line += (
            f"; grid points: {c['completed']} of {c['points']} completed, {c['pending']} pending, {c['failed']} failed"
        )
    if done:
        line += f"; best A_PR {study.best_value:.4f} ({study.best_trial.user_attrs.get('composite')})"
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
