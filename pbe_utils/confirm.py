"""The confirmation run: a plan fixed before any new number exists, tasks never used before, and the cells that the
published (exploratory) run left unclear decided on them (book/confirmation, "Confirmation").

1. ``python -m pbe_utils.confirm plan`` writes :data:`PLAN` from the shipped claim records: for every unclear cell
   of a claim's primary comparison, the fresh tasks it needs for :data:`POWER` power at the published run's observed
   mean and spread (:func:`pbe_utils.verdicts.tasks_needed`, at least the published run's count, at most
   :data:`CAP`), or "not confirmable here" with the number it would need; the fresh task seeds; the optimised
   composites of the published search; the margins, gate, alpha and Holm family, unchanged. The plan is committed
   before the run (the run refuses an uncommitted plan).
2. ``python -m pbe_utils.confirm run`` computes every planned cell on the first ``tasks`` seeds of the plan, with
   the chapters' own code (:func:`pbe_utils.study.compare_methods` and :func:`pbe_utils.verdicts.compare` for A_PR
   pairs; chapters 04 and 06's experiments for their cells), decides each claim's cells as one Holm family and
   writes one record per claim to ``results/runs/confirm/claims`` with the plan's commit, the command, the commit,
   the time and the seconds per cell. Cells of one model and task share their scores and curves (the cache).
3. ``python -m pbe_utils.confirm ship`` copies a complete set of records into the book (:data:`SHIPPED`).

A claim's **confirmation label** is its rule (:func:`pbe_utils.verdicts.judge`) applied to its published primary
cells with each confirmed cell's outcome replaced by the confirmation's; a cell the published run decided keeps
its outcome, and a cell that could not be confirmed stays unclear."""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from pbe_utils import claims, registry, verdicts
from pbe_utils import search as S
from pbe_utils.cache import atomic_write_bytes, current_commit
from pbe_utils.chapters.c04_reference_samples import reference_samples
from pbe_utils.chapters.c05_explanations_after_pruning import explanations_after_pruning
from pbe_utils.composites import LRP_EPSILON, YEOM_ZPLUS, Composite, with_mag
from pbe_utils.confirmation import PLAN, ROOT, SHIPPED, combined_label, load_plan
from pbe_utils.models import REGISTRY
from pbe_utils.profiles import PROFILES, Profile, get_profile
from pbe_utils.study import compare_methods

RUN = "confirm"
#: the most fresh tasks one cell may use: about 1 s per pruning curve on 2 CPU cores, so that 100 tasks of a cell's
#: three curves take about 5 minutes and the whole confirmation stays within an hour; a cell needing more is listed
#: as not confirmable here, with the number it would need
CAP = 100
POWER = verdicts.POWER
#: fresh task seeds: ``SEED_BASE + i``; far from every seed of the published run (evaluation 0-9, search 100-101)
SEED_BASE = 20_000
#: the decision columns a cell gets from :func:`pbe_utils.verdicts.decide`, dropped before the confirmation decides
_DECISION = ["p_win_holm", "p_loss_holm", "p_tie_holm", "outcome", "decided by", "tasks needed", "lo", "hi"]
_DECISION += ["interval level", "role", "discriminates"]


def _pair(a: tuple[str, str, str | None], b: tuple[str, str, str | None]):
    """A recipe for an A_PR comparison of two methods ``(label, method, composite: None | 'optimised' | 'epsilon' |
    'zplus' | 'optimised |R|' | 'optimised signed')`` with random pruning beside them (the gate's baseline)."""

    def cells(profile: Profile, model: str, kind: str, optimised: Composite | None) -> pd.DataFrame:
        comps = {"epsilon": LRP_EPSILON, "zplus": YEOM_ZPLUS, "optimised": optimised, None: None}
        if optimised is not None:
            comps |= {"optimised |R|": with_mag(optimised, True), "optimised signed": with_mag(optimised, False)}
        methods = {lab: (m, comps[c]) for lab, m, c in (a, b)} | {"random": ("random", None)}
        _, summ = compare_methods(profile, model, methods, kind=kind, progress=False)
        return verdicts.compare(summ, a[0], b[0])

    return cells


def _c4(profile: Profile, model: str, kind: str, optimised: Composite | None) -> pd.DataFrame:
    p = get_profile("default", seeds=list(profile.seeds), cnn_models=[model], vit_models=[], ref_sweep=[1, 10])
    return reference_samples(p, progress=False).claims["C4"].cells


def _c6(profile: Profile, model: str, kind: str, optimised: Composite | None) -> pd.DataFrame:
    models: dict[str, list[str]] = {"cnn_models": [], "vit_models": []}
    models[REGISTRY[model].family.profile_list] = [model]  # the model alone, in its family's list
    p = get_profile("default", seeds=list(profile.seeds), **models)
    return explanations_after_pruning(p, n_images=64, kinds=(kind,), progress=False).claims["C6"].cells


#: how a primary comparison's cell is recomputed on fresh tasks (the chapters' code, same methods and statistics)
RECIPES = {
    "LRP-ε vs z+ (Yeom)": _pair(("LRP-ε", "lrp", "epsilon"), ("z+ (Yeom)", "lrp", "zplus")),
    "optimised vs LRP-ε": _pair(("optimised", "lrp", "optimised"), ("LRP-ε", "lrp", "epsilon")),
    "optimised (|R|) vs optimised (signed)": _pair(
        ("optimised (|R|)", "lrp", "optimised |R|"), ("optimised (signed)", "lrp", "optimised signed")
    ),
    "optimised vs Taylor": _pair(("optimised", "lrp", "optimised"), ("Taylor", "taylor", None)),
    "CNN: n=10 vs n=1": _c4,
    "tracks at Top-PR (over images)": _c6,
}
#: why the other unclear primary cells have no number of tasks to plan: their unit is not a task
NOT_OVER_TASKS = {
    "faithfulness ~ A_PR": "a correlation over composites on the search tasks, not a difference over tasks",
    "random sampling vs TPE": "evaluations to a near-best composite over sampler seeds of one search, not tasks",
}
#: the comparisons whose cells use chapter 02's optimised composite of the cell's model and kind
OPTIMISED = ("optimised vs LRP-ε", "optimised (|R|) vs optimised (signed)", "optimised vs Taylor")


def used_seeds() -> set[int]:
    """Every task seed the published run, its search and the named profiles use."""
    seen: set[int] = set()
    for p in PROFILES.values():
        seen |= set(p.seeds) | set(p.search_seeds)
    for path in sorted(claims.SHIPPED.glob("*.json")):
        par = json.loads(path.read_text()).get("parameters") or {}
        seen |= set(par.get("seeds") or []) | set(par.get("search_seeds") or [])
    return seen


def _published_optimised(model: str, kind: str) -> dict:
    """The optimised composite of chapter 02's published search for ``model`` and ``kind`` (its parameters)."""
    p = get_profile("default")
    study = S.run_search(p, model, kind="heads" if kind == "heads" else "auto", progress=False)
    if any(t.value is None for t in study.trials) or len(study.trials) < p.n_trials:
        raise RuntimeError(f"the published search of {model} ({kind}) is not complete; run chapter 02 first")
    return REGISTRY[model].family.point(S.best_composite(study))


def make_plan(cap: int = CAP) -> dict:
    """The plan (see the module docstring), from the shipped records of the published run."""
    board = claims.load_all(claims.PUBLISHED_RUN, folder=claims.SHIPPED)
    if claims.missing_claims(board):
        raise ValueError(f"the shipped records lack {claims.missing_claims(board)}: plan from a complete run")
    cells: list[dict] = []
    composites: dict[str, dict] = {}
    for r in board.to_dict("records"):
        for c in r["evidence"]:
            if c.get("role") != "primary" or c.get("outcome") != "unclear":
                continue
            needed, n = c.get("tasks needed"), int(c.get("n") or 0)
            row = {k: c.get(k) for k in ("comparison", "model", "kind", "goal", "margin", "threshold")}
            row |= {"claim": r["id"], "published n": n, "difference": c.get("difference"), "sd": c.get("sd")}
            row |= {"tasks needed": needed, "tasks": None}
            if c["comparison"] not in RECIPES:
                unit = NOT_OVER_TASKS.get(c["comparison"], "its unit is not a difference paired over tasks")
                row["status"] = f"not confirmable here: {unit}"
            elif needed is None or needed != needed or needed > cap:
                shown = "more than 1000" if needed is None or needed > 1000 else str(int(needed))
                row["status"] = f"not confirmable here: needs {shown} tasks, above the cap of {cap}"
            else:
                row["status"] = "planned"
                row["tasks"] = max(int(needed), n)
                if c["comparison"] in OPTIMISED:
                    key = f"{c['model']} / {c['kind']}"
                    composites.setdefault(key, _published_optimised(c["model"], c["kind"]))
            cells.append(row)
    seeds = [SEED_BASE + i for i in range(cap)]
    clash = sorted(set(seeds) & used_seeds())
    if clash:
        raise ValueError(f"fresh seeds {clash} are used by the published run or a profile")
    return {
        "made by": "python -m pbe_utils.confirm plan",
        "made at commit": current_commit(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "published run": {r["id"]: r["commit"] for r in board.to_dict("records")},
        "rules": {
            "alpha": verdicts.ALPHA,
            "power": POWER,
            "gate": verdicts.GATE,
            "cap": cap,
            "tasks": "the tasks a cell needs for 80 % power at the published mean and spread (the easier of a sign "
            "and an equivalence decision), at least the published run's count, at most the cap",
            "margins": "each cell's margin as published (0.01 A_PR; C6: threshold r = 0.3)",
            "gate rule": "the published threshold (0.03 A_PR), the better of the cell's methods against random "
            "pruning on the same fresh tasks",
            "Holm family": "per claim: its confirmed cells (the published rule: one family for a claim's primary "
            "cells)",
        },
        "seeds": seeds,
        "composites": composites,
        "cells": cells,
    }


def git(*args: str) -> str:
    """A git command's output in the checkout ('' when it fails)."""
    out = subprocess.run(["git", *args], capture_output=True, text=True, check=False, cwd=ROOT)
    return out.stdout.strip() if out.returncode == 0 else ""


def plan_commit(plan: Path = PLAN) -> str:
    """The last commit that changed the plan file ('' when it was never committed)."""
    return git("log", "-1", "--format=%h", "--", str(plan.relative_to(ROOT)))


def confirm_cells(plan: dict, only: list[str] | None = None, progress: bool = True) -> dict[str, dict]:
    """Compute and decide every planned cell (of the claims in ``only``, default all). Returns per claim its
    decided cells (with the seeds and seconds per cell)."""
    out: dict[str, list] = {}
    todo = [c for c in plan["cells"] if c["status"] == "planned" and (not only or c["claim"] in only)]
    for i, cell in enumerate(todo, 1):
        seeds = plan["seeds"][: cell["tasks"]]
        prof = get_profile("default", seeds=seeds)
        key = f"{cell['model']} / {cell['kind']}"
        opt = Composite.from_params(plan["composites"][key]) if key in plan["composites"] else None
        t0 = time.perf_counter()
        got = RECIPES[cell["comparison"]](prof, cell["model"], cell["kind"], opt)
        mine = got[(got["model"] == cell["model"]) & (got["kind"] == cell["kind"])]
        same = mine[mine["comparison"] == cell["comparison"]]
        mine = same if len(same) else mine
        if len(mine) != 1:
            raise RuntimeError(f"the recipe of {cell['comparison']!r} gave {len(mine)} cells for {key}")
        row = mine.drop(columns=[c for c in _DECISION if c in mine.columns]).assign(comparison=cell["comparison"])
        row = row.assign(seeds=[seeds], seconds=time.perf_counter() - t0)
        out.setdefault(cell["claim"], []).append(row)
        if progress:
            print(f"[confirm] {i}/{len(todo)} {cell['claim']} {cell['comparison']} {key}: n={len(seeds)}, "
                  f"{row['seconds'].iloc[0]:.0f} s", flush=True)  # fmt: skip
    return {cid: decide_claim(cid, pd.concat(rows, ignore_index=True)) for cid, rows in out.items()}


def decide_claim(claim_id: str, cells: pd.DataFrame) -> dict:
    """A claim's confirmed cells decided as one Holm family (its primary comparison, the published rule)."""
    v = verdicts.judge(cells, primary=registry.claim(claim_id).primary)
    return {"cells": claims._jsonable(v.cells.to_dict("records"))}


def write_records(
    plan: dict, decided: dict[str, dict], seconds: float, command: str, commit: str, started: str
) -> list[Path]:
    """One record per claim with confirmed cells, in ``results/runs/confirm/claims`` (atomic writes); ``commit``
    and ``started``: the checkout's commit and the time when the run started."""
    paths = []
    plan_from = {"plan commit": plan_commit(), "plan sha256": hashlib.sha256(PLAN.read_bytes()).hexdigest()[:16]}
    for cid, d in decided.items():
        pub = json.loads((claims.SHIPPED / f"{cid}.json").read_text())
        v = combined_label(pub, d["cells"])
        rec = {
            "id": cid,
            "claim": pub["claim"],
            "primary": pub["primary"],
            "published": {"verdict": pub["verdict"], "support": pub["support"], "commit": pub["commit"]},
            "confirmation": {"verdict": v.text, "support": list(v.support), "reason": v.reason},
            "agree": v.text == pub["verdict"],
            "cells": d["cells"],
            **plan_from,
            "command": command,
            "commit": commit,
            "started": started,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "run seconds": seconds,
        }
        path = claims.run_dir(RUN) / "claims" / f"{cid}.json"
        atomic_write_bytes(path, json.dumps(rec, indent=1).encode())
        paths.append(path)
    return paths


def ship() -> Path:
    """Copy the confirmation run's records into the book (:data:`SHIPPED`); refuses an incomplete set."""
    plan = load_plan()
    want = sorted({c["claim"] for c in plan["cells"] if c["status"] == "planned"})
    src = claims.run_dir(RUN) / "claims"
    have = sorted(p.stem for p in src.glob("*.json"))
    if have != want:
        raise ValueError(f"the confirmation run has records for {have}, the plan for {want}: run it in full first")
    for old in SHIPPED.glob("*.json"):
        old.unlink()
    for p in sorted(src.glob("*.json")):
        atomic_write_bytes(SHIPPED / p.name, p.read_bytes())
    return SHIPPED


def main(argv: list[str] | None = None) -> int:
    """``python -m pbe_utils.confirm plan|run|ship``."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=("plan", "run", "ship"))
    ap.add_argument("--claims", nargs="*", default=None, help="run: only these claims' cells")
    ap.add_argument("--cap", type=int, default=CAP, help="plan: the most fresh tasks a cell may use")
    args = ap.parse_args(argv)
    if args.step == "plan":
        if args.cap < 3:
            print(f"pbe_utils.confirm: error: --cap={args.cap} is not accepted; use an integer >= 3", file=sys.stderr)
            return 2
        atomic_write_bytes(PLAN, json.dumps(make_plan(args.cap), indent=1, ensure_ascii=False).encode())
        print(f"[confirm] plan written to {PLAN}; commit it before `python -m pbe_utils.confirm run`")
        return 0
    if args.step == "ship":
        print(f"[confirm] records shipped to {ship()}")
        return 0
    plan = load_plan()
    rel = str(PLAN.relative_to(ROOT))
    if not plan_commit() or git("status", "--porcelain", "--", rel):
        print(f"pbe_utils.confirm: error: {rel} is not committed as it is; commit the plan before the run",
              file=sys.stderr)  # fmt: skip
        return 2
    unknown = sorted(set(args.claims or []) - {c["claim"] for c in plan["cells"] if c["status"] == "planned"})
    if unknown:
        print(f"pbe_utils.confirm: error: --claims {unknown} have no planned cell", file=sys.stderr)
        return 2
    if git("status", "--porcelain", "--untracked-files=no"):
        print("pbe_utils.confirm: error: the checkout has uncommitted changes; a record names the commit that ran it",
              file=sys.stderr)  # fmt: skip
        return 2
    commit, started = current_commit(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    t0 = time.perf_counter()
    decided = confirm_cells(plan, args.claims)
    command = "python -m pbe_utils.confirm run" + (f" --claims {' '.join(args.claims)}" if args.claims else "")
    for p in write_records(plan, decided, time.perf_counter() - t0, command, commit, started):
        print(f"[confirm] wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
