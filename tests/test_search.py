import signal
import time

import optuna
import pytest
from optuna.trial import TrialState

from pbe_utils import search as S
from pbe_utils import storage as ST
from pbe_utils import workers as W
from pbe_utils.composites import grid_points, params_key, space_for
from pbe_utils.families import CNN_FAMILY

RESTRICT = {"LLL": ["epsilon"], "MLL": ["epsilon"], "HLL": ["epsilon", "zplus"]}  # 2 x 4 x 2 = 16 points


def test_grid_has_the_papers_size():
    assert len(grid_points(space_for("cnn"))) == 512
    assert len(grid_points(space_for("vit"))) == 2048
    assert len(grid_points(space_for("cnn", RESTRICT))) == 16
    with pytest.raises(ValueError, match="restrict key 'XLL'"):
        space_for("cnn", {"XLL": ["epsilon"]})


def test_tiny_bayesian_study_records_everything(smoke, tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = S.run_search(smoke, "vgg", storage=url, sampler="tpe", n_trials=3, progress=False)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 3
    first = done[0]
    assert first.params["LLL"] == "epsilon" and first.params["FCL"] == "epsilon"  # starts from LRP-ε
    for t in done:
        assert len(t.user_attrs["curve"]) == len(smoke.rates)
        assert t.value == pytest.approx(sum(t.user_attrs["curve"]) / len(smoke.rates))
        assert {"trapezoid", "Top-PR", "composite"} <= set(t.user_attrs)
    # resuming with the same budget runs nothing new
    again = S.run_search(smoke, "vgg", storage=url, sampler="tpe", n_trials=3, progress=False)
    assert len(again.get_trials(states=(TrialState.COMPLETE,))) == 3


def _complete(url, name):
    study = optuna.load_study(study_name=name, storage=url)
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _assert_full_grid_once(trials):
    keys = [tuple(sorted(t.params.items())) for t in trials]
    assert len(keys) == 16 and len(set(keys)) == 16


@pytest.mark.slow
def test_killed_worker_resumes_without_losing_or_repeating(smoke, smoke_vgg, tmp_path, grid_worker):
    url, name = f"sqlite:///{tmp_path / 'kill.db'}", "kill-test"
    proc = grid_worker(url, name)
    deadline = time.time() + 240
    while time.time() < deadline:
        time.sleep(0.5)
        try:
            if len(_complete(url, name)) >= 4:
                break
        except Exception:  # the study is not created yet
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {t.number: (t.value, t.params) for t in _complete(url, name)}
    assert 4 <= len(before) < 16
    time.sleep(3.5)  # let the killed worker's heartbeat expire
    proc = grid_worker(url, name)
    out = proc.communicate(timeout=300)[0].decode()
    assert proc.returncode == 0, out
    after = _complete(url, name)
    _assert_full_grid_once(after)
    for t in after:  # completed trials survive unchanged
        if t.number in before:
            assert (t.value, t.params) == before[t.number]


@pytest.mark.slow
def test_two_workers_share_one_storage_without_duplicates(smoke, smoke_vgg, tmp_path, grid_worker):
    url, name = f"sqlite:///{tmp_path / 'two.db'}", "two-workers"
    S.create_study(name, url, CNN_FAMILY, "grid", RESTRICT)
    procs = [grid_worker(url, name, join=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    _assert_full_grid_once(_complete(url, name))


def _pop_all(url: str, queue) -> None:
    study = optuna.load_study(study_name="queue", storage=ST.storage_for(url))
    popped = []
    while (trial_id := study._pop_waiting_trial_id()) is not None:
        popped.append(trial_id)
    queue.put(popped)


def test_sqlite_queue_pops_each_waiting_trial_once(tmp_path):
    """Four processes empty one SQLite queue of 60 trials: each trial is popped exactly once (without the
    ``BEGIN IMMEDIATE`` hook about 10 of 60 are popped twice, and two workers run the same grid point)."""
    import multiprocessing as mp

    url = f"sqlite:///{tmp_path / 'queue.db'}"
    study = optuna.create_study(study_name="queue", storage=ST.storage_for(url))
    for i in range(60):
        study.enqueue_trial({"x": i})
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_pop_all, args=(url, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    popped = [i for _ in procs for i in queue.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
    assert sorted(popped) == sorted(t._trial_id for t in study.get_trials(deepcopy=False))


def test_failing_trial_is_recorded_and_the_study_goes_on(smoke, tmp_path, monkeypatch):
    real = S.evaluate_method

    def flaky(model, comps, task, method, composite, *a, **k):
        if composite.fcl == "zplus":
            raise RuntimeError("planted failure")
        return real(model, comps, task, method, composite, *a, **k)

    monkeypatch.setattr(S, "evaluate_method", flaky)
    url = f"sqlite:///{tmp_path / 'fail.db'}"
    restrict = {"LLL": ["epsilon"], "MLL": ["epsilon"], "HLL": ["epsilon"], "FCL": ["epsilon", "zplus"]}
    study = S.run_search(smoke, "vgg", storage=url, sampler="grid", restrict=restrict, progress=False)
    failed = study.get_trials(states=(TrialState.FAIL,))
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(failed) == 2 and all("planted failure" in t.user_attrs["error"] for t in failed)
    assert len(done) == 2 and all(t.params["FCL"] == "epsilon" for t in done)


@pytest.mark.parametrize("sampler", ["grid", "tpe"])
def test_a_trial_failed_as_stale_by_another_worker_does_not_stop_this_one(smoke, tmp_path, monkeypatch, sampler):
    """On a loaded machine another worker may fail this worker's trial as stale (its heartbeat came late): optuna
    then refuses to store the result ("Cannot tell a FAIL trial"). The worker goes on and the point is run again."""
    real = S.evaluate_method
    url, failed_once = f"sqlite:///{tmp_path / 'stale.db'}", []

    def late_heartbeat(*a, **k):
        if not failed_once:  # "another worker": its own connection fails the running trial
            other = optuna.load_study(study_name=names[0], storage=url)
            (running,) = other.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            other._storage.set_trial_state_values(running._trial_id, TrialState.FAIL)
            failed_once.append(running.params)
        return real(*a, **k)

    names: list[str] = []
    real_create = S.create_study

    def remember(name, *a, **k):
        names.append(name)
        return real_create(name, *a, **k)

    monkeypatch.setattr(S, "evaluate_method", late_heartbeat)
    monkeypatch.setattr(S, "create_study", remember)
    restrict = {"LLL": ["epsilon"], "MLL": ["epsilon"], "HLL": ["epsilon"], "FCL": ["epsilon", "zplus"]}
    study = S.run_search(smoke, "vgg", storage=url, sampler=sampler, n_trials=2, restrict=restrict, progress=False)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(failed_once) == 1 and len(study.get_trials(states=(TrialState.FAIL,))) == 1
    keys = [params_key(t.params) for t in done]
    assert len(keys) == len(set(keys))
    if sampler == "grid":  # every point once, the failed one run again
        assert len(keys) == len(grid_points(space_for("cnn", restrict)))
        assert failed_once[0] in [t.params for t in done]
    else:  # the budget of distinct points is still met
        assert S.distinct_complete(study) == 2


def test_a_sqlite_grid_keeps_a_short_queue_and_still_runs_every_point_once(smoke, tmp_path, monkeypatch):
    """optuna reads every WAITING trial at each ask: on SQLite the grid keeps QUEUE_AHEAD points queued and tops the
    queue up as it goes (a server database gets the whole grid at once)."""
    monkeypatch.setattr(ST, "QUEUE_AHEAD", 3)
    url = f"sqlite:///{tmp_path / 'q.db'}"
    assert ST.queue_ahead(url) == 3 and ST.queue_ahead("postgresql://u@h/db") is None
    study = S.create_study("q", url, CNN_FAMILY, "grid", RESTRICT)
    assert len(study.get_trials(states=(TrialState.WAITING,))) == 3
    seen = []
    real = ST.enqueue_missing

    def spy(study, space, limit=None):
        seen.append(len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,))))
        return real(study, space, limit)

    monkeypatch.setattr(W, "enqueue_missing", spy)  # the grid worker tops the queue up
    done = S.run_search(smoke, "vgg", storage=url, study_name="q", sampler="grid", restrict=RESTRICT, progress=False)
    keys = [params_key(t.params) for t in done.get_trials(states=(TrialState.COMPLETE,))]
    assert len(keys) == len(set(keys)) == len(grid_points(space_for("cnn", RESTRICT)))
    assert len(seen) > 3 and max(seen) <= 3  # topped up many times, never more than 3 queued
