"""Where the composite search's trials live: the storage (any SQLAlchemy URL, SQLite by default), SQLite's
serialised transactions and the file lock beside it, and the exhaustive grid's queue (topped up as workers pop it,
settled when a worker dies). :mod:`pbe_utils.search` runs studies on it."""

from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from filelock import FileLock
from optuna.trial import TrialState
from sqlalchemy import event

from pbe_utils.cache import results_dir as default_results
from pbe_utils.composites import grid_points, params_key


def default_storage(results_dir: str | Path | None = None) -> str:
    """The SQLite storage of the search under the results folder (created if missing)."""
    folder = Path(results_dir) if results_dir is not None else default_results()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(
            f"the results folder ($PBE_RESULTS) {str(folder)!r} cannot hold the search's storage ({err.strerror}); "
            "choose another folder or pass --storage"
        ) from None
    return f"sqlite:///{folder / 'search.db'}"


class StorageError(ValueError):
    """The ``--storage`` URL cannot be used (bad URL, missing driver, missing folder, server unreachable)."""


def check_storage(url: str) -> None:
    """Open the storage URL's driver and location before any model is loaded; errors name the URL and the option."""
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except Exception as err:
        raise StorageError(
            f"--storage {url!r} is not an SQLAlchemy URL (e.g. sqlite:///results/search.db or "
            f"postgresql+psycopg2://user@host/db): {err}"
        ) from err
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        folder = Path(db).resolve().parent if db and db != ":memory:" else None
        if folder is not None and not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            raise StorageError(f"--storage {url!r}: {str(folder)!r} {what}")
    try:
        parsed.get_dialect()
    except Exception as err:
        raise StorageError(
            f"--storage {url!r}: its database driver cannot be imported ({err}); install it, e.g. "
            "`pip install -e .[postgres]` for postgresql+psycopg2"
        ) from err
    try:
        engine = sqlalchemy.create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as err:
        raise StorageError(f"--storage {url!r} cannot be opened: {str(err).splitlines()[0]}") from err


def storage_for(
    url: str, heartbeat_interval: int = 30, grace_period: int = 90, retry: bool = True
) -> optuna.storages.BaseStorage:
    """An RDB storage with heartbeats, so trials of a killed worker are failed. With ``retry`` optuna re-enqueues
    a failed stale trial with the params it had stored; the grid does its own re-enqueueing (by the enqueued point,
    which a trial killed between two ``suggest`` calls has not fully stored), so it passes ``retry=False``."""
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sqlite = url.startswith("sqlite")
    storage = optuna.storages.RDBStorage(
        url,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3) if retry else None,
        # the driver's own transaction handling off, so that the ``begin`` hook below decides how transactions start
        engine_kwargs={"connect_args": {"timeout": 60, "isolation_level": None}} if sqlite else None,
    )
    if sqlite:
        _serialise_sqlite(storage.engine)
    return storage


def _serialise_sqlite(engine) -> None:
    """Start every SQLite transaction with ``BEGIN IMMEDIATE``. SQLite ignores ``SELECT ... FOR UPDATE``, so without
    this two workers can both read a WAITING trial and both set it RUNNING (optuna's queue pop is a read, then a
    write): both run it and the second fails with "Cannot tell a COMPLETE trial". An immediate transaction takes the
    write lock at its start, so the read and the write of a pop are one atomic step."""

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _lock_path(url: str) -> str:
    """The SQLite database file of ``url``, beside which :func:`creation_lock` keeps its lock; "" when the storage
    has no such lock (a server database, an in-memory one)."""
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
    return "" if path == ":memory:" else path


@contextlib.contextmanager
def creation_lock(url: str):
    """A file lock beside a SQLite database (``<file>.lock``); nothing for other storages."""
    path = _lock_path(url)
    if not path:
        yield
        return

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path + ".lock", timeout=600):
        yield


def trial_point(t: optuna.trial.FrozenTrial) -> tuple:
    """The grid point of a trial: the point it was enqueued with (a trial killed between two ``suggest`` calls
    has stored only part of its params, but its ``fixed_params`` are whole)."""
    return params_key(t.system_attrs.get("fixed_params") or t.params)


#: grid points kept WAITING ahead of the workers on a SQLite storage. optuna reads every WAITING trial at each
#: ``ask`` (and the grid's stop check reads them again), so a queue of all 2,048 ViT points cost 29 % of a worker's
#: time (py-spy); the queue is topped up under the file lock instead. A server database has no such lock and gets
#: the whole grid at once (two workers topping up at the same instant could enqueue a point twice).
QUEUE_AHEAD = 8


def queue_ahead(storage: str) -> int | None:
    """How many grid points to keep queued on ``storage`` (None: all of them; see :data:`QUEUE_AHEAD`)."""
    return QUEUE_AHEAD if _lock_path(storage) else None  # topping up is safe only under the file lock


def _present(trials: list[optuna.trial.FrozenTrial]) -> set[tuple]:
    """Grid points that need no new trial: a COMPLETE, WAITING or RUNNING one, or one that failed by raising (a
    trial whose objective raised is recorded with its error and not retried; one failed because its worker died
    is)."""
    return {
        trial_point(t)
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
        or (t.state == TrialState.FAIL and "error" in t.user_attrs)
    }


def enqueue_missing(study: optuna.Study, space: dict, limit: int | None = None) -> int:
    """Enqueue the grid points that need a trial (not in :func:`_present`), in grid order; with ``limit``, only until
    ``limit`` points are WAITING. Returns how many were enqueued."""
    trials = study.get_trials(deepcopy=False)
    present = _present(trials)
    missing = [p for p in grid_points(space) if params_key(p) not in present]
    if limit is not None:
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        missing = missing[: max(0, limit - waiting)]
    for point in missing:
        study.enqueue_trial(point)
    return len(missing)


def grid_counts(study: optuna.Study, space: dict) -> dict[str, int]:
    """Grid points completed, pending (waiting or running), failed (no completed trial, at least one failure) and
    missing (a trial is still needed and none is queued: what :func:`enqueue_missing` would enqueue)."""
    trials = study.get_trials(deepcopy=False)
    by_state: dict[TrialState, set] = {s: set() for s in TrialState}
    for t in trials:
        by_state[t.state].add(trial_point(t))
    points = {params_key(p) for p in grid_points(space)}
    done = points & by_state[TrialState.COMPLETE]
    pending = (points & (by_state[TrialState.WAITING] | by_state[TrialState.RUNNING])) - done
    failed = (points & by_state[TrialState.FAIL]) - done - pending
    missing = points - _present(trials)
    return {
        "completed": len(done),
        "pending": len(pending),
        "failed": len(failed),
        "missing": len(missing),
        "points": len(points),
    }


def settle_running(study: optuna.Study, space: dict, wait_s: float, say=print, storage: str = "") -> None:
    """Trials left RUNNING by a worker that died: wait until each either completes (a live worker) or its heartbeat
    goes stale (a dead one), at most ``wait_s`` seconds; fail the stale ones and enqueue their points again (under
    the lock of ``storage``, so that two workers settling at once do not enqueue a point twice).

    A worker killed between optuna's ``ask`` (the trial is RUNNING) and its heartbeat thread's first beat leaves a
    trial that optuna never finds stale (it looks only at trials with a heartbeat). A live worker beats within
    milliseconds of ``ask``, so a trial without any heartbeat at the start of the wait and still without one after
    ``wait_s`` (more than the grace period) belongs to a dead worker: it is failed too."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return
    say(
        f"[search] {len(running)} trial(s) RUNNING, of live workers or of a worker that died: waiting up to "
        f"{wait_s:.0f} s for each to complete or for its heartbeat to go stale"
    )
    unbeaten = never_beaten(study)
    deadline = time.monotonic() + wait_s
    while True:
        optuna.storages.fail_stale_trials(study)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not running or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    dead = unbeaten & never_beaten(study) if running else set()
    for number in sorted(dead):
        study.tell(number, state=TrialState.FAIL)
    with creation_lock(storage):
        n = enqueue_missing(study, space)
    say(
        f"[search] stale trials failed ({len(dead)} never beaten); {n} grid point(s) enqueued again; "
        f"{len(running) - len(dead)} still running"
    )


def never_beaten(study: optuna.Study) -> set[int]:
    """Numbers of the study's RUNNING trials that have no heartbeat record at all (empty when the storage keeps no
    heartbeats). optuna has no public query for this; it reads its RDB schema's ``trials``, ``studies`` and
    ``trial_heartbeats`` tables (stable across optuna's versions, which migrate them with alembic)."""
    storage, _ = optuna_handle(study)
    rdb = getattr(storage, "_backend", storage)  # optuna wraps an RDB storage in a cache
    if not getattr(rdb, "get_heartbeat_interval", lambda: None)():
        return set()
    query = sqlalchemy.text(
        "SELECT t.number FROM trials t JOIN studies s ON s.study_id = t.study_id "
        "LEFT JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
        "WHERE s.study_name = :name AND t.state = 'RUNNING' AND h.trial_id IS NULL"
    )
    with rdb.engine.connect() as conn:
        return {row[0] for row in conn.execute(query, {"name": study.study_name})}


def finished_elsewhere(err: Exception) -> bool:
    """Whether ``err`` is optuna refusing to store a trial that is already finished: another worker failed it as
    stale (``Cannot tell a FAIL trial``, or a write to it raising ``UpdateFinishedTrialError``)."""
    return isinstance(err, optuna.exceptions.UpdateFinishedTrialError) or str(err).startswith("Cannot tell a FAIL")


def optuna_handle(study: optuna.Study, trial: optuna.Trial | None = None) -> tuple[Any, int | None]:
    """The storage of ``study`` and the storage id of ``trial`` (None without one). optuna gives a study no public
    handle on its storage and a trial none on its own record, which the study needs three times (is this trial one
    of the enqueued grid points? beat its heartbeat now; which RUNNING trials never beat?); this is the one place
    it reaches into optuna's private attributes (``Study._storage``, ``Trial._trial_id``, the same in optuna 3 to
    5; the version is pinned in constraints.txt, and the grid tests fail if they move)."""
    return study._storage, (None if trial is None else trial._trial_id)


def trial_handle(trial: optuna.Trial) -> tuple[Any, int]:
    """The storage and id of a running trial (:func:`optuna_handle`)."""
    storage, trial_id = optuna_handle(trial.study, trial)
    assert trial_id is not None
    return storage, trial_id


def is_enqueued(trial: optuna.Trial) -> bool:
    """Whether ``trial`` runs a point of the grid's queue (optuna records an enqueued point as ``fixed_params``)."""
    storage, trial_id = trial_handle(trial)
    return "fixed_params" in storage.get_trial(trial_id).system_attrs


def beat(trial: optuna.Trial) -> None:
    """Record a heartbeat of ``trial`` now (when its storage keeps heartbeats): optuna's heartbeat thread may not
    have beaten yet, and a RUNNING trial without any heartbeat is never detected as stale."""
    storage, trial_id = trial_handle(trial)
    if getattr(storage, "get_heartbeat_interval", lambda: None)():
        storage.record_heartbeat(trial_id)
