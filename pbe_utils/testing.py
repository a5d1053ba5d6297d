"""Helpers for the tests and the benchmark, kept out of the study's own modules: a throwaway PostgreSQL server,
and a search worker that kills itself inside a chosen trial (to test that a killed worker loses nothing).

``python -m pbe_utils.testing --kill-at-trial 3 <the arguments of python -m pbe_utils.search>`` runs one search
worker that dies by SIGKILL right after the first suggestion of trial 3."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import optuna

from pbe_utils import search


def kill_at(number: int) -> Callable[[optuna.Trial], None]:
    """A hook for :func:`pbe_utils.search.make_objective` that kills this process (SIGKILL) inside trial
    ``number``, after its first suggestion: the trial is left RUNNING with partial parameters."""

    def hook(trial: optuna.Trial) -> None:
        if trial.number == number:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def main(argv: list[str] | None = None) -> int:
    """``python -m pbe_utils.testing --kill-at-trial N ...``: a search worker (the rest of the arguments are
    :func:`pbe_utils.search.main`'s) that dies inside trial N."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] != "--kill-at-trial" or not args[1].isdigit():
        print("pbe_utils.testing: error: use --kill-at-trial N <search arguments>", file=sys.stderr)
        return 2
    return search.main(args[2:], after_first_suggest=kill_at(int(args[1])))


@contextlib.contextmanager
def throwaway_postgres():
    """A temporary PostgreSQL server (Debian's ``initdb`` and ``pg_ctl`` in a temporary folder, no system service, a
    Unix socket only) for the tests and the benchmark; yields the SQLAlchemy URL of its database and removes it all
    on exit. Raises ``FileNotFoundError`` naming the Debian package when the binaries are absent."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        raise FileNotFoundError("PostgreSQL binaries are absent (Debian package 'postgresql')")
    bin_dir = Path(bins[-1])
    base = Path(tempfile.mkdtemp(prefix="pbe-pg-", dir="/tmp"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = str(54000 + os.getpid() % 1000)
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        subprocess.run(_as_postgres(initdb), check=True, capture_output=True)
        opts = f"-p {port} -k {sock} -c listen_addresses=''"
        start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l", str(base / "log"), "start"]
        subprocess.run(_as_postgres(start), check=True, capture_output=True)
        try:
            createdb = [str(bin_dir / "createdb"), "-h", str(sock), "-p", port, "-U", "postgres", "optuna"]
            subprocess.run(_as_postgres(createdb), check=True, capture_output=True)
            yield f"postgresql+psycopg2://postgres@/optuna?host={sock}&port={port}"
        finally:
            stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
            subprocess.run(_as_postgres(stop), capture_output=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: as root, run the server as the 'postgres' user Debian's package creates."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


if __name__ == "__main__":
    raise SystemExit(main())
