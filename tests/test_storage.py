"""The grid's queue on one in-process study (no worker processes): points enqueued once and in grid order, a queue
kept short and topped up, the counts a worker prints, a trial left RUNNING by a dead worker failed and its point
enqueued again, a trial whose objective raised not retried, and the handle on optuna's trial record."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from pbe_utils import storage as ST
from pbe_utils.composites import grid_points, params_key, parse_restrict, space_for

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
SPACE = space_for("cnn", parse_restrict("LLL=epsilon;MLL=epsilon;HLL=epsilon,zplus"))  # 4 x 2 x 2 = 16 points


@pytest.fixture
def study(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    return optuna.create_study(study_name="s", storage=ST.storage_for(url, 1, 2), direction="maximize")


def _run(study: optuna.Study, n: int, state=TrialState.COMPLETE, error: bool = False) -> list[int]:
    numbers = []
    for _ in range(n):
        t = study.ask()
        for k, v in SPACE.items():
            t.suggest_categorical(k, v)
        if error:
            t.set_user_attr("error", "ValueError: planted")
        if state == TrialState.RUNNING:  # one heartbeat, then the worker "dies" (a trial never beaten never goes stale)
            ST.beat(t)
            numbers.append(t.number)
            continue
        study.tell(t, 0.5 if state == TrialState.COMPLETE else None, state=state)
        numbers.append(t.number)
    return numbers


def test_the_queue_holds_every_point_once_in_grid_order_and_can_be_kept_short(study):
    assert len(grid_points(SPACE)) == 16
    assert ST.enqueue_missing(study, SPACE, limit=3) == 3
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert [ST.trial_point(t) for t in waiting] == [params_key(p) for p in grid_points(SPACE)[:3]]
    assert ST.enqueue_missing(study, SPACE, limit=3) == 0  # already three waiting: nothing to top up
    _run(study, 2)  # two workers' trials pop two queued points
    assert ST.enqueue_missing(study, SPACE, limit=3) == 2  # topped up to three again, with the next points
    counts = ST.grid_counts(study, SPACE)
    assert counts == {"completed": 2, "pending": 3, "failed": 0, "missing": 11, "points": 16}
    assert ST.enqueue_missing(study, SPACE) == 11  # no limit (a server database): the rest at once
    assert ST.enqueue_missing(study, SPACE) == 0
    keys = [ST.trial_point(t) for t in study.get_trials()]
    assert len(keys) == len(set(keys)) == 16


def test_a_dead_workers_trial_is_failed_and_its_point_enqueued_again_but_a_raising_one_is_not(study):
    ST.enqueue_missing(study, SPACE, limit=2)
    (dead,) = _run(study, 1, state=TrialState.RUNNING)  # its worker "dies": no heartbeat after this one
    (raised,) = _run(study, 1, state=TrialState.FAIL, error=True)  # its objective raised: recorded, not retried
    said: list[str] = []
    ST.settle_running(study, SPACE, wait_s=10, say=said.append)  # the heartbeat goes stale after 2 s
    trials = {t.number: t for t in study.get_trials()}
    assert trials[dead].state == TrialState.FAIL
    assert "waiting up to 10 s" in said[0] and "grid point(s) enqueued again" in said[-1]
    waiting = {ST.trial_point(t) for t in study.get_trials(states=(TrialState.WAITING,))}
    assert ST.trial_point(trials[dead]) in waiting and ST.trial_point(trials[raised]) not in waiting
    assert ST.grid_counts(study, SPACE)["failed"] == 1  # the raising trial's point: failed, and not queued again


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_failed_and_enqueued_again(study):
    # optuna finds only trials with a heartbeat stale; a worker killed between ``ask`` and its heartbeat thread's
    # first beat left such a trial RUNNING for ever, and its grid point was never completed (seen once in CI)
    ST.enqueue_missing(study, SPACE, limit=2)
    unbeaten = study.ask()  # RUNNING, never beaten: its worker "died" at once
    (beaten,) = _run(study, 1, state=TrialState.RUNNING)  # one heartbeat, then its worker died
    assert ST.never_beaten(study) == {unbeaten.number}
    said: list[str] = []
    ST.settle_running(study, SPACE, wait_s=3, say=said.append)
    trials = {t.number: t for t in study.get_trials()}
    assert trials[unbeaten.number].state == trials[beaten].state == TrialState.FAIL
    assert "(1 never beaten)" in said[-1] and said[-1].endswith("; 0 still running")
    waiting = {ST.trial_point(t) for t in study.get_trials(states=(TrialState.WAITING,))}
    assert {ST.trial_point(trials[unbeaten.number]), ST.trial_point(trials[beaten])} <= waiting
    assert ST.never_beaten(study) == set()


def test_a_live_trial_that_beats_late_is_not_failed(study, monkeypatch):
    ST.enqueue_missing(study, SPACE, limit=1)
    live = study.ask()  # no heartbeat yet when the wait starts; it beats during the wait, as a live worker does
    said: list[str] = []
    real = ST.never_beaten
    calls = []

    def beat_after_first_look(s):
        out = real(s)
        if not calls:
            ST.beat(live)
        calls.append(out)
        return out

    monkeypatch.setattr(ST, "never_beaten", beat_after_first_look)
    ST.settle_running(study, SPACE, wait_s=1, say=said.append)  # shorter than the 2 s grace: not stale yet
    assert study.get_trials()[live.number].state == TrialState.RUNNING
    assert "(0 never beaten)" in said[-1] and said[-1].endswith("; 1 still running")


def test_the_handle_on_a_trials_record_and_its_heartbeat(study):
    study.enqueue_trial(grid_points(SPACE)[0])
    queued, free = study.ask(), None
    storage, trial_id = ST.trial_handle(queued)
    assert storage.get_trial(trial_id).number == queued.number
    assert ST.is_enqueued(queued)
    free = study.ask()
    assert not ST.is_enqueued(free)
    ST.beat(queued)  # a heartbeat now: the trial is not stale within the grace period
    optuna.storages.fail_stale_trials(study)
    assert study.get_trials(states=(TrialState.RUNNING,))[0].number == queued.number


def test_a_trial_finished_by_another_worker_is_recognised():
    assert ST.finished_elsewhere(optuna.exceptions.UpdateFinishedTrialError("x"))
    assert ST.finished_elsewhere(ValueError("Cannot tell a FAIL trial."))
    assert not ST.finished_elsewhere(ValueError("something else"))
