"""The composite search's study and its two workers. :func:`create_study` makes (or loads) a study safely when
several workers start at once, with its sampler, its identity and, for the grid, its queue; then one of two workers
runs it, sharing one objective (:func:`pbe_utils.search.make_objective`):

* :func:`run_grid`: the exhaustive grid; it pops points from the study's queue (topped up as it empties), and when
  the queue runs dry settles the trials a dead worker left RUNNING and runs the points they free;
* :func:`run_budgeted`: TPE, GP or random sampling until ``budget`` distinct composites are complete (a proposal
  that repeats a scored point is reused and does not count).

Both go on when another worker fails one of their trials as stale (a loaded machine whose heartbeat came late)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from pbe_utils.composites import LRP_EPSILON, YEOM_ZPLUS, grid_points, params_key
from pbe_utils.families import Family
from pbe_utils.storage import (
    creation_lock,
    enqueue_missing,
    finished_elsewhere,
    grid_counts,
    queue_ahead,
    settle_running,
    storage_for,
)

Objective = Callable[[optuna.Trial], float]


def quiet_optuna(fn):
    """Run ``fn`` with optuna's per-trial INFO lines off (they would fill a chapter's output), and restore the
    caller's verbosity afterwards: importing this module changes no global state."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            return fn(*args, **kwargs)
        finally:
            optuna.logging.set_verbosity(before)

    return wrapper


def sampler_for(kind: str, space: dict, seed: int) -> optuna.samplers.BaseSampler:
    if kind == "grid":
        return optuna.samplers.RandomSampler(seed=seed)  # all points are enqueued; it never chooses
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=4)
    if kind == "gp":
        return optuna.samplers.GPSampler(seed=seed)  # needs scipy, a dependency of the study
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"sampler={kind!r} is not accepted; use grid, tpe, gp or random")


@quiet_optuna
def create_study(
    name: str,
    storage: str,
    family: Family,
    sampler: str = "tpe",
    restrict: dict | None = None,
    seed: int = 0,
    heartbeat_interval: int = 30,
    grace_period: int = 90,
    identity: dict | None = None,
) -> optuna.Study:
    """Create or load a study; for the grid, enqueue every point not yet completed, waiting or running. Safe when
    several workers start at the same instant on a new storage: on SQLite the creation (schema, study, queue) is
    serialised by a file lock beside the database; on a server database a creation that loses a race with another
    worker (a duplicate schema or study row) is retried and then loads what the other created."""
    with creation_lock(storage):
        for attempt in range(5):
            try:
                return _create_study(
                    name, storage, family, sampler, restrict, seed, heartbeat_interval, grace_period, identity
                )
            except Exception as err:  # sqlalchemy's IntegrityError / ProgrammingError from a concurrent creation
                if attempt == 4 or type(err).__module__.split(".")[0] != "sqlalchemy":
                    raise
                time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _create_study(
    name: str,
    storage: str,
    family: Family,
    sampler: str,
    restrict: dict | None,
    seed: int,
    heartbeat_interval: int,
    grace_period: int,
    identity: dict | None = None,
) -> optuna.Study:
    space = family.space(restrict)
    study = optuna.create_study(
        study_name=name,
        storage=storage_for(storage, heartbeat_interval, grace_period, retry=sampler != "grid"),
        direction="maximize",
        sampler=sampler_for(sampler, space, seed),
        load_if_exists=True,
    )
    check_identity(study, {**(identity or {}), "sampler": sampler, "restrict": restrict or {}})
    study.set_user_attr("space", space)
    study.set_user_attr("sampler", sampler)
    if sampler == "grid":
        enqueue_missing(study, space, queue_ahead(storage))
    elif not study.trials:
        # the Bayesian search starts from the heuristic composites, so it can only improve on them
        for params in heuristic_starts(space, family):
            study.enqueue_trial(params)
    return study


def check_identity(study: optuna.Study, identity: dict) -> None:
    """Record ``identity`` in a new study; refuse (one line naming what differs) to join a study made for another
    model, kind, profile, sampler or restriction, whose results would be reported as this search's."""
    identity = json.loads(json.dumps(identity, sort_keys=True, default=list))  # as the storage gives it back
    known = study.user_attrs.get("identity")
    if known is None:
        if not study.trials:
            study.set_user_attr("identity", identity)
        return
    diff = [f"{k}={known.get(k)!r} (not {identity[k]!r})" for k in identity if k in known and known[k] != identity[k]]
    if diff:
        raise ValueError(
            f"study {study.study_name!r} was made for {', '.join(diff)}: it cannot be joined by this search; use "
            "another --study-name (or the default name)"
        )


def heuristic_starts(space: dict, family: Family) -> list[dict]:
    """The points a Bayesian search starts from: LRP-ε and Yeom's z+, where the (restricted) space holds them."""
    points = [family.point(comp) for comp in (LRP_EPSILON, YEOM_ZPLUS)]
    return [p for p in points if all(p[k] in space[k] for k in space)]


def distinct_complete(study: optuna.Study) -> int:
    """Completed trials at distinct points (a trial that repeats a scored point is reused and not counted)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return len({params_key(t.params) for t in done})


def run_grid(
    study: optuna.Study,
    objective: Objective,
    space: dict,
    storage: str,
    progress: bool = False,
    heartbeat_interval: int = 30,
    grace_period: int = 90,
) -> None:
    """Run the grid's queue to the end (see the module docstring); a bounded number of rounds."""
    ahead = queue_ahead(storage)

    def top_up_or_stop(study: optuna.Study, _t) -> None:
        waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
        if ahead is not None and waiting < ahead // 2:
            with creation_lock(storage):
                waiting += enqueue_missing(study, space, ahead)
        if not waiting:
            study.stop()

    for _ in range(10):
        with creation_lock(storage):
            enqueue_missing(study, space, queue_ahead(storage))
        if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            try:
                study.optimize(
                    objective,
                    n_trials=len(grid_points(space)),
                    callbacks=[top_up_or_stop],
                    catch=(Exception,),
                    show_progress_bar=progress,
                    gc_after_trial=False,
                )
            except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as err:
                if not finished_elsewhere(err):
                    raise
                # this worker's heartbeat came more than a grace period late (a loaded machine), so another worker
                # failed its trial as stale; its point is enqueued again at the next round
                print(
                    f"[search] a trial of this worker was failed as stale by another worker (no heartbeat for "
                    f"{grace_period} s); its grid point is enqueued again",
                    flush=True,
                )
                continue
            if grid_counts(study, space)["missing"]:
                continue  # other workers emptied the queue under this one while points remain: top up
        if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            break
        settle_running(study, space, grace_period + 2 * heartbeat_interval, storage=storage)


def run_budgeted(study: optuna.Study, objective: Objective, budget: int, progress: bool = False) -> None:
    """Sample until ``budget`` distinct composites are complete (see the module docstring)."""

    def stop_at_budget(study: optuna.Study, _t) -> None:  # repeated points do not use up the budget
        if distinct_complete(study) >= budget:
            study.stop()

    for _ in range(3):  # a trial failed as stale by another worker is retried by optuna's callback
        done = distinct_complete(study)
        if done >= budget:
            break
        try:
            study.optimize(
                objective,
                n_trials=3 * (budget - done) + 4,  # repeats are cheap (reused) and do not count; a cap on them
                callbacks=[stop_at_budget],
                catch=(Exception,),
                show_progress_bar=progress,
                gc_after_trial=False,
            )
            break
        except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as err:
            if not finished_elsewhere(err):
                raise
            print("[search] a trial of this worker was failed as stale by another worker; going on", flush=True)
