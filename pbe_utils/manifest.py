"""The zoo's manifest (``zoo/manifest.json``): where the shipped weights are, and the reader that validates the
manifest. On the ground floor, so that configuration (profiles) and provenance (claim records, grids) can read it
without standing on the zoo's loader and the engine below it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pbe_utils.cache import CorruptFileError, project_root


def _zoo_dir() -> Path:
    """The shipped zoo: ``$PBE_ZOO``, else ``zoo/`` of the checkout (:func:`pbe_utils.cache.project_root`)."""
    return Path(os.environ["PBE_ZOO"]) if os.environ.get("PBE_ZOO") else project_root() / "zoo"


ZOO_DIR = _zoo_dir()
MANIFEST = "manifest.json"


def sha256_file(path: str | Path) -> str:
    """The sha256 of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object that names no key twice (a model listed twice in the manifest would silently keep the last)."""
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise json.JSONDecodeError(f"duplicate key(s) {dup}", "", 0)
    return dict(pairs)


def read_manifest(zoo_dir: str | Path = ZOO_DIR) -> dict:
    """The zoo's manifest (``zoo/manifest.json``); a missing one names the command that rebuilds it."""
    path = Path(zoo_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"the zoo manifest {str(path)!r} is missing; rebuild it with `make zoo`")
    try:
        manifest = json.loads(path.read_text(), object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as err:
        raise CorruptFileError(
            f"the zoo manifest {str(path)!r} is not valid JSON ({err}); rebuild it with `make zoo`"
        ) from None
    models = manifest.get("models") if isinstance(manifest, dict) else None
    bad = (
        ["models"]
        if not isinstance(models, dict)
        else [
            f"models.{name}.{key}"
            for name, entry in models.items()
            for key in ("file", "sha256")
            if not isinstance(entry, dict) or not isinstance(entry.get(key), str)
        ]
    )
    if bad:
        raise CorruptFileError(
            f"the zoo manifest {str(path)!r} lacks {bad[:3]} (each model needs a 'file' and a 'sha256'); "
            "rebuild it with `make zoo`"
        )
    return manifest
