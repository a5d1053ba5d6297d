"""The exhaustive grid of the composite search as a recorded result: written once with its provenance (command,
commit, time span, study) by ``python -m pbe_utils.grid --model vgg``, read back by chapters 08 and 09, and each
point recomputable from scratch."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from pbe_utils import search as S
from pbe_utils.cache import (
    CorruptFileError,
    atomic_write_bytes,
    bound_onednn_cache,
    current_commit,
    project_root,
    results_dir,
)
from pbe_utils.components import find_components
from pbe_utils.composites import Composite, grid_points, params_key, parse_restrict
from pbe_utils.models import get_spec
from pbe_utils.profiles import Profile, get_profile, resolved_parameters, zoo_hashes
from pbe_utils.storage import grid_counts
from pbe_utils.study import get_model
from pbe_utils.tasks import make_task


def grid_file(profile: Profile, model: str, folder: str | Path) -> Path:
    """Where the grid of ``model`` under ``profile`` is written in ``folder``."""
    return Path(folder) / f"search_grid_{profile.name}_{model}.json"


def export_grid(
    study, profile: Profile, model: str, path: Path, restrict: dict | None = None, frame: pd.DataFrame | None = None
) -> dict:
    """Write the grid's values with their provenance (the command that runs the same search, the commit, the time
    span of the trials, the resolved parameters of the profile and the model's zoo hash) atomically to ``path``;
    returns the record."""
    frame = S.grid_frame(study) if frame is None else frame
    trials = study.get_trials(deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    command = f"python -m pbe_utils.search --profile {profile.name} --model {model} --sampler grid"
    if restrict:
        command += " --restrict '" + ";".join(f"{k}={','.join(map(str, v))}" for k, v in restrict.items()) + "'"
    record = {
        "study": study.study_name,
        "profile": profile.name,
        "model": model,
        "restrict": restrict,
        "command": command,
        "commit": current_commit(),
        "trials_from": min(starts).isoformat(timespec="seconds") if starts else None,
        "trials_to": max(ends).isoformat(timespec="seconds") if ends else None,
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "search_seeds": list(profile.search_seeds),
        "parameters": resolved_parameters(profile),
        "zoo": {k: v for k, v in zoo_hashes(profile).items() if k == model},
        "points": json.loads(frame.to_json(orient="records", double_precision=15)),
    }
    atomic_write_bytes(path, json.dumps(record, indent=0).encode())
    return record


def point_key(row: dict | pd.Series, space: dict) -> tuple:
    """A grid point's key (the sorted search variables) from a row of a grid frame or a params dict."""
    return params_key({k: (bool(row[k]) if k == "MAG" else row[k]) for k in space})


def grid_values(grid: pd.DataFrame, space: dict) -> dict[tuple, float]:
    """Grid point -> A_PR, from a grid frame of :func:`load_grid` (the table :func:`pbe_utils.replay.replay` reads)."""
    return {point_key(r, space): float(r["A_PR"]) for _, r in grid.iterrows()}


SHIPPED_GRIDS = project_root() / "book" / "data"


#: the largest grid a chapter computes itself (the smoke profile's restricted grids); a larger one is a long run,
#: written with its provenance by ``python -m pbe_utils.grid`` and read back by the chapters
COMPUTE_MAX = 128


def _study(profile: Profile, model: str, restrict: dict | None) -> tuple[str, dict]:
    """(study name, space) of the model's exhaustive grid."""
    net, _ = get_model(profile, model, progress=False)
    kind = find_components(net)[0].kind
    name = S.study_name_for(profile, model, net, kind, "grid", profile.search_seeds[0], restrict)
    return name, get_spec(model).family.space(restrict)


def find_grid(profile: Profile, model: str, restrict: dict | None = None) -> tuple[Path, dict] | None:
    """The written grid of this study (same weights, tasks and space): the one shipped in ``book/data``, else one
    under ``$PBE_RESULTS/grids``, as (path, record); None when there is none."""
    name, space = _study(profile, model, restrict)
    for folder in (SHIPPED_GRIDS, results_dir() / "grids"):
        path = grid_file(profile, model, folder)
        if path.exists():
            record = json.loads(path.read_text())
            if record.get("study") == name and len(record["points"]) == len(grid_points(space)):
                return path, record
    return None


def grid_available(profile: Profile, model: str, restrict: dict | None = None) -> bool:
    """Whether a chapter can use the model's grid: it has been written (:func:`find_grid`), or it has at most
    :data:`COMPUTE_MAX` points and the chapter computes it."""
    space = get_spec(model).family.space(restrict)
    return len(grid_points(space)) <= COMPUTE_MAX or find_grid(profile, model, restrict) is not None


def missing_grids_note(profile: Profile, used: list[str] | tuple[str, ...]) -> str:
    """A sentence for the models of ``profile`` not in ``used`` (no grid available, :func:`grid_available`): what is
    missing and the command that writes it; "" when every model is used."""
    missing = [m for m in profile.models if m not in used]
    if not missing:
        return ""
    return (
        f"**Not covered here:** {', '.join(f'`{m}`' for m in missing)}: no exhaustive grid of this profile has been "
        f"written for {'it' if len(missing) == 1 else 'them'} (a chapter computes a grid of at most {COMPUTE_MAX} "
        "composites itself; a larger one is a long run, written with its provenance by "
        + " and ".join(f"`python -m pbe_utils.grid --profile {profile.name} --model {m}`" for m in missing)
        + f"); the question is answered on {', '.join(used)}."
    )


def load_grid(
    profile: Profile, model: str, restrict: dict | None = None, progress: bool = True
) -> tuple[pd.DataFrame, dict]:
    """The exhaustive grid of ``model``: read from a file written by :func:`export_grid` for the same study
    (:func:`find_grid`); else run (or resume) it with the study's own search (:func:`pbe_utils.search.run_search`,
    sampler ``grid``) and write it under ``$PBE_RESULTS/grids``. Returns (one row per point, record with its
    provenance and ``source``)."""
    found = find_grid(profile, model, restrict)
    if found is not None:
        path, record = found
        shown = f"book/data/{path.name}" if path.parent == SHIPPED_GRIDS else str(path)
        return pd.DataFrame(record["points"]), {**record, "source": f"read from {shown}"}
    _, space = _study(profile, model, restrict)
    study = S.run_search(profile, model, sampler="grid", restrict=restrict, progress=progress)
    frame = S.grid_frame(study)
    if len(frame) != len(grid_points(space)):
        raise RuntimeError(f"the grid of {model} has {len(frame)} of {len(grid_points(space))} points completed")
    path = grid_file(profile, model, results_dir() / "grids")
    record = export_grid(study, profile, model, path, restrict, frame)
    return pd.DataFrame(record["points"]), {**record, "source": f"computed now (written to {path})"}


def recompute_grid_point(profile: Profile, model: str, point: dict) -> float:
    """The search objective of one grid point computed from scratch (the mean A_PR over the search tasks)."""
    net, _ = get_model(profile, model, progress=False)
    comps = find_components(net)
    composite = Composite.from_params(point)
    tasks = [make_task(profile, s) for s in profile.search_seeds]
    return S.search_apr(S.search_results(net, comps, tasks, composite, profile))


def default_out(profile_name: str) -> Path:
    """Where ``python -m pbe_utils.grid`` writes a grid: ``book/data`` for the published profile (it ships with the
    book), the run folder's ``grids`` for any other (a smoke grid never lands in the book)."""
    return SHIPPED_GRIDS if profile_name == "default" else results_dir() / "grids"


def main(argv: list[str] | None = None) -> int:
    """``python -m pbe_utils.grid --profile default --model vgg``: run (or resume) the exhaustive grid of chapter 08
    with the study's search and write it, with its provenance, to ``book/data`` for the book to read."""
    bound_onednn_cache()
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--model", default="vgg")
    ap.add_argument("--out", default=None, help="default: book/data for the published profile, else the run folder")
    args = ap.parse_args(argv)
    try:
        profile = get_profile(args.profile)
        get_spec(args.model)
    except ValueError as err:
        ap.error(str(err))
    args.out = args.out or str(default_out(args.profile))
    restrict = parse_restrict(profile.grid_restrict)
    try:
        study = S.run_search(profile, args.model, sampler="grid", restrict=restrict)
    except (ValueError, CorruptFileError, FileNotFoundError) as err:  # a storage, study or zoo that cannot be used
        line = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        print(f"pbe_utils.grid: error: {line}", file=sys.stderr)
        return 2
    space = get_spec(args.model).family.space(restrict)
    counts = grid_counts(study, space)
    if counts["completed"] != counts["points"]:
        print(f"grid incomplete: {counts}; run the command again to resume")
        return 1
    path = grid_file(profile, args.model, args.out)
    export_grid(study, profile, args.model, path, restrict)
    print(f"wrote {path} ({counts['points']} points)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
