"""The composite search on a real database server: a throwaway PostgreSQL (Debian's binaries, ``initdb`` and
``pg_ctl`` in a temporary folder, no system service) shared by two worker processes, one of them killed."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server as the 'postgres' user Debian's package creates."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture
def pg_url():
    if not BINS:
        pytest.skip("PostgreSQL binaries are absent (Debian package 'postgresql'; `make test` installs it as root)")
    pytest.importorskip("psycopg2", reason="the optional driver is absent: pip install -e .[postgres]")
    bin_dir = Path(BINS[-1])
    base = Path(tempfile.mkdtemp(prefix="pbe-pg-", dir="/tmp"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = str(54000 + os.getpid() % 1000)
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {sock} -c listen_addresses=''"
    subprocess.run(
        _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l", str(base / "log"), "start"]),
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            _as_postgres([str(bin_dir / "createdb"), "-h", str(sock), "-p", port, "-U", "postgres", "optuna"]),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg2://postgres@/optuna?host={sock}&port={port}"
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_on_postgres_one_killed_every_point_once(pg_url, grid_worker, grid_restrict):
    from pbe_utils.search import create_study, space_for

    name = "pg-grid"
    create_study(name, pg_url, "cnn", "grid", grid_restrict)
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
