"""The composite search on a real database server: a throwaway PostgreSQL (Debian's binaries, ``initdb`` and
``pg_ctl`` in a temporary folder, no system service) shared by two worker processes, one of them killed."""

from __future__ import annotations

import glob
import signal
import time

import optuna
import pytest
from optuna.trial import TrialState

BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


@pytest.fixture
def pg_url():
    if not BINS:
        pytest.skip("PostgreSQL binaries are absent (Debian package 'postgresql'; `make test` installs it as root)")
    pytest.importorskip("psycopg2", reason="the optional driver is absent: pip install -e .[postgres]")
    from pbe_utils.testing import throwaway_postgres

    with throwaway_postgres() as url:
        yield url


@pytest.mark.slow
def test_two_workers_on_postgres_one_killed_every_point_once(pg_url, grid_worker, grid_restrict):
    from pbe_utils.families import CNN_FAMILY
    from pbe_utils.search import create_study, space_for

    name = "pg-grid"
    create_study(name, pg_url, CNN_FAMILY, "grid", grid_restrict)
    assert len(space_for("cnn")) == 5
    a, b = grid_worker(pg_url, name, join=True), grid_worker(pg_url, name, join=True)
    deadline = time.time() + 240
    while time.time() < deadline:  # kill worker a once the study is under way
        time.sleep(0.5)
        done = optuna.load_study(study_name=name, storage=pg_url).get_trials(states=(TrialState.COMPLETE,))
        if len(done) >= 3:
            break
    a.send_signal(signal.SIGKILL)
    a.wait()
    out = b.communicate(timeout=400)[0].decode()
    assert b.returncode == 0, out
    study = optuna.load_study(study_name=name, storage=pg_url)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    keys = [tuple(sorted(t.params.items())) for t in done]
    assert len(keys) == 16 and len(set(keys)) == 16, out  # every grid point completed exactly once
    assert "16 of 16 completed, 0 pending" in out
