"""Content-addressed, atomic storage of expensive results (checkpoints, relevance scores)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch


def cache_dir() -> Path:
    """``$PBE_CACHE`` or ``.cache/pbe`` under the current repository checkout."""
    return Path(os.environ.get("PBE_CACHE", Path.cwd() / ".cache" / "pbe"))


def results_dir() -> Path:
    """``$PBE_RESULTS`` (a relative path is taken from the working directory) or the checkout's ``results/``, as an
    absolute path: claim records, grids, the search db. One root per run wherever a command starts (the runner
    passes it on to the chapters' kernels, which run in the checkout)."""
    env = os.environ.get("PBE_RESULTS")
    return Path(env).resolve() if env else project_root() / "results"


def current_commit(cwd: str | os.PathLike | None = None) -> str:
    """The short hash of HEAD (of the checkout at ``cwd``, default the working directory), or "" outside a git
    checkout: the provenance of every recorded result."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False, cwd=cwd
        )
    except OSError:
        return ""
    return out.stdout.strip()


def stable_hash(obj: Any, length: int = 16) -> str:
    """A hash of a JSON-serialisable description (keys sorted), stable across processes and machines."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: a reader never sees a half-written file, and a
    failed write (a full disk, a read-only folder) leaves no partial file and names the file it could not write.
    The file gets the permissions a plain ``open`` would give it (the umask's)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise OSError(err.errno, f"cannot write {str(path)!r}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the mode of a plain open(), not mkstemp's private 0600
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(err.errno, f"cannot write {str(path)!r}: {err.strerror or err}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """Save ``obj`` with ``torch.save`` to a temporary file beside ``path``, then rename it into place; a failed
    save (torch reports a full disk as "basic_ios::clear: iostream error") names the file and leaves no partial one."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)  # serialise in memory: the file is written by atomic_write_bytes, with its errors
    atomic_write_bytes(path, buffer.getvalue())


class CorruptFileError(RuntimeError):
    """A cached or user-supplied file cannot be read back."""


def safe_torch_load(path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """``torch.load(weights_only=True)`` with an error that names the file instead of an unpickling trace."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise CorruptFileError(
            f"{what} {str(path)!r} is corrupt or not a tensor file ({type(err).__name__}: {err}); delete it to "
            "recompute it, or pass a file saved with torch.save(state_dict)"
        ) from err


def load_or_compute(path: str | os.PathLike, compute, what: str = "cache entry") -> Any:
    """The object stored at ``path`` (``weights_only`` load), or ``compute()`` saved there atomically first."""
    if Path(path).exists():
        return safe_torch_load(path, what)
    value = compute()
    atomic_torch_save(value, path)
    return value


def bound_onednn_cache(capacity: int = 128) -> None:
    """Bound oneDNN's primitive cache for this process and the kernels it starts (an environment setting wins).

    Pruning curves run each rate on a physically smaller model, so every rate has new layer shapes, and oneDNN keeps a
    primitive per shape with its scratch memory: its default cache (1,024 primitives) grew to 2.5 GB after a few VGG
    curves at batch 1000. 128 bounds it and still holds the primitives that a model's fixed-shape work reuses (with
    32, an unpruned and a pruned ResNet timed in turns evicted each other's). Called by every command-line entry
    point before any computation (it must precede oneDNN's first primitive), not at import."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(capacity))


def project_root() -> Path:
    """The study's checkout (notebooks, book, zoo): the folder above the package when it holds ``_toc.yml`` (a
    checkout, an editable install), else the working directory (a ``pip install .`` run from the checkout)."""
    beside = Path(__file__).resolve().parent.parent
    return beside if (beside / "_toc.yml").exists() else Path.cwd()
