"""One experiment function per chapter beyond the paper: each returns tidy results frames and its verdict, computed
by the study's one verdict module; the notebooks call them, plot and explain.

* :func:`search_cost` (chapter 08): the exhaustive grid once, then how many evaluations TPE, GP and random sampling
  need to reach 99 % of the grid's best A_PR (replayed against the grid, over several sampler seeds);
* :func:`explanation_vs_pruning` (chapter 09): faithfulness and complexity of the input heatmaps of many composites
  (Quantus), next to the same composites' pruning A_PR;
* :func:`transfer` (chapter 10): a composite optimised on one (model, task size, seeds) evaluated on other seeds,
  another task size and the other architecture of its family.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pbe_utils import search as S
from pbe_utils import verdicts
from pbe_utils.cache import atomic_write_bytes
from pbe_utils.claims import current_commit
from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON, YEOM_ZPLUS, Composite
from pbe_utils.models import REGISTRY, get_spec
from pbe_utils.profiles import Profile
from pbe_utils.study import compare_methods, get_model, make_task

SAMPLER_LABEL = {"tpe": "TPE", "gp": "GP", "random": "random sampling"}


@dataclass
class Result:
    """What an experiment returns: named tidy frames, the comparisons behind the verdict, and the verdict."""

    frames: dict[str, pd.DataFrame]
    comparisons: pd.DataFrame
    verdict: verdicts.Verdict
    info: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- search cost (08)
def grid_file(profile: Profile, model: str, folder: str | Path) -> Path:
    return Path(folder) / f"search_grid_{profile.name}_{model}.json"


def export_grid(
    study, profile: Profile, model: str, path: Path, restrict: dict | None = None, frame: pd.DataFrame | None = None
) -> dict:
    """Write the grid's values with their provenance (the command that runs the same search, the commit, the time
    span of the trials) atomically to ``path``; returns the record."""
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
        "points": json.loads(frame.to_json(orient="records", double_precision=15)),
    }
    atomic_write_bytes(path, json.dumps(record, indent=0).encode())
    return record


def point_key(row: dict | pd.Series, space: dict) -> tuple:
    return S._key({k: (bool(row[k]) if k == "MAG" else row[k]) for k in space})


def grid_values(grid: pd.DataFrame, space: dict) -> dict[tuple, float]:
    """Grid point -> A_PR, from a grid frame of :func:`load_grid` (the table :func:`pbe_utils.search.replay` reads)."""
    return {point_key(r, space): float(r["A_PR"]) for _, r in grid.iterrows()}


SHIPPED_GRIDS = Path(__file__).resolve().parent.parent / "book" / "data"


def load_grid(
    profile: Profile, model: str, restrict: dict | None = None, progress: bool = True
) -> tuple[pd.DataFrame, dict]:
    """The exhaustive grid of ``model``: read from a file written by :func:`export_grid` for the same study (same
    weights, tasks and space): the one shipped in ``book/data`` (written by ``python -m pbe_utils.experiments
    grid``), else one under ``$PBE_RESULTS/grids``; else run (or resume) it with the study's own search
    (:func:`pbe_utils.search.run_search`, sampler ``grid``) and write it there. Returns (one row per point, record
    with its provenance and ``source``)."""
    from pbe_utils.claims import results_dir

    family = get_spec(model).family
    net, _ = get_model(profile, model, progress=False)
    kind = find_components(net)[0].kind
    name = S.study_name_for(profile, model, net, kind, "grid", profile.search_seeds[0], restrict)
    space = S.space_for(family, restrict)
    for folder in (SHIPPED_GRIDS, results_dir() / "grids"):
        path = grid_file(profile, model, folder)
        if path.exists():
            record = json.loads(path.read_text())
            if record.get("study") == name and len(record["points"]) == len(S.grid_points(space)):
                shown = f"book/data/{path.name}" if folder == SHIPPED_GRIDS else str(path)
                return pd.DataFrame(record["points"]), {**record, "source": f"read from {shown}"}
    study = S.run_search(profile, model, sampler="grid", restrict=restrict, progress=progress)
    frame = S.grid_frame(study)
    if len(frame) != len(S.grid_points(space)):
        raise RuntimeError(f"the grid of {model} has {len(frame)} of {len(S.grid_points(space))} points completed")
    path = grid_file(profile, model, results_dir() / "grids")
    record = export_grid(study, profile, model, path, restrict, frame)
    return pd.DataFrame(record["points"]), {**record, "source": f"computed now (written to {path})"}


def search_cost(
    profile: Profile,
    model: str = "vgg",
    samplers: tuple[str, ...] = ("tpe", "gp", "random"),
    sampler_seeds: tuple[int, ...] = tuple(range(20)),
    max_proposals: int = 100,
    target: float = 0.99,
    restrict: dict | None = None,
    progress: bool = True,
) -> Result:
    """The exhaustive grid of ``model`` (:func:`load_grid`), then each sampler replayed against it
    (:func:`pbe_utils.search.replay`) for at most ``max_proposals`` proposals per sampler seed.

    Frames: ``grid`` (one row per point: rules, MAG, A_PR, seconds), ``traces`` (sampler, seed, trial, evaluations,
    value, best), ``cost`` (per sampler and seed: evaluations to reach ``target`` x the grid's best and to reach the
    best itself, NaN when not reached; and what those evaluations cost at the grid's median trial time).
    Verdict: random sampling needs more evaluations than each Bayesian sampler to reach the target: a log-rank
    test per Bayesian sampler on the evaluations to the target, with the runs that never reached it within
    ``max_proposals`` as censored (:func:`pbe_utils.verdicts.censored_cells`); a log-rank test has no equivalence
    margin, so a sampler is faster, slower or unclear."""
    bad = [s for s in samplers if s not in SAMPLER_LABEL]
    if bad:
        raise ValueError(f"samplers={bad} is not accepted; use some of {list(SAMPLER_LABEL)}")
    if not 0 < target <= 1:
        raise ValueError(f"target={target!r} is not accepted; use a fraction of the grid's best in (0, 1]")
    if len(sampler_seeds) < 1 or max_proposals < 1:
        raise ValueError("sampler_seeds must list at least one seed and max_proposals must be >= 1")
    family = get_spec(model).family
    space = S.space_for(family, restrict)
    grid, record = load_grid(profile, model, restrict, progress)
    values = grid_values(grid, space)
    best = max(values.values())
    sec = float(grid["seconds"].median())
    traces, cost = [], []
    for sampler in samplers:
        for seed in sampler_seeds:
            # from scratch: chapter 02's search starts from LRP-ε and z+, which would hand the Bayesian samplers
            # the heuristics' values before their first proposal (reported separately in ``info``)
            tr = S.replay(
                values, space, sampler, seed, max_proposals, family, start_from_heuristics=False, stop_at=best
            )
            traces.append(tr.assign(sampler=SAMPLER_LABEL[sampler], seed=seed))
            n_target = S.evaluations_to_reach(tr, target * best)
            made = int(tr["evaluations"].iloc[-1])
            cost.append(
                {
                    "method": SAMPLER_LABEL[sampler],
                    "seed": seed,
                    # not reached within max_proposals: the evaluations made, a lower bound (flagged as censored)
                    "evaluations": n_target if np.isfinite(n_target) else float(made),
                    "censored": not np.isfinite(n_target),
                    "evaluations to best": S.evaluations_to_reach(tr, best),
                    "evaluations made": made,
                    "search seconds": (n_target if np.isfinite(n_target) else made) * sec,
                    "sampler seconds": float(tr["sampler_seconds"].sum()),
                }
            )
    cost_frame = pd.DataFrame(cost)
    traces_f = pd.concat(traces, ignore_index=True)
    # best so far on a common axis: evaluation 1..E for every sampler and seed, a run that stopped (it found the
    # best) or ran out of proposals keeps its last best, so means over seeds never fall
    horizon = int(traces_f["evaluations"].max())
    progress_rows = []
    for (sampler, seed), tr in traces_f.groupby(["sampler", "seed"], sort=False):
        best_at = tr.groupby("evaluations")["best"].max().reindex(range(1, horizon + 1)).ffill()
        progress_rows += [{"sampler": sampler, "seed": seed, "evaluations": e, "best": b} for e, b in best_at.items()]
    bayes = [SAMPLER_LABEL[s] for s in samplers if s != "random"]
    comps = pd.DataFrame()
    if "random" in samplers and bayes:  # time to the target, censored where a run never got there: log-rank
        kind = f"{len(values)}-point grid"
        comps = verdicts.censored_cells(
            cost_frame.assign(model=model, kind=kind), "random sampling", bayes, "evaluations", by=("model", "kind")
        )
    verdict = verdicts.judge(comps)
    comps = verdict.cells
    heuristics = {}
    for label, comp in (("LRP-ε", LRP_EPSILON), ("z+ (Yeom)", YEOM_ZPLUS)):
        key = point_key(comp.as_params(vit=family == "vit"), space)
        if key in values:
            value = values[key]
            heuristics[label] = {
                "A_PR": value,
                "share of best": value / best if best > 0 else float("nan"),
                "rank": 1 + sum(v > value for v in values.values()),  # ties share the best rank
            }
    info = {
        "heuristics": heuristics,
        "points at target": int((grid["A_PR"] >= target * best).sum()),
        "grid best": best,
        "grid best composite": grid.loc[grid["A_PR"].idxmax(), "composite"],
        "grid median": float(grid["A_PR"].median()),
        "grid seconds": float(grid["seconds"].sum()),
        "median trial seconds": sec,
        "target": target,
        "record": record,
    }
    frames = {"grid": grid, "traces": traces_f, "progress": pd.DataFrame(progress_rows), "cost": cost_frame}
    return Result(frames, comps, verdict, info)


def recompute_grid_point(profile: Profile, model: str, point: dict) -> float:
    """The search objective of one grid point computed from scratch (the mean A_PR over the search tasks)."""

    net, _ = get_model(profile, model, progress=False)
    comps = find_components(net)
    composite = Composite.from_params(point)
    tasks = [make_task(profile, s) for s in profile.search_seeds]
    return S.search_apr(S.search_results(net, comps, tasks, composite, profile))


# ---------------------------------------------------------------------------------- explanation vs pruning (09)
def faithfulness_metrics(model, x: np.ndarray, y: np.ndarray, a: np.ndarray, features_in_step: int) -> dict:
    """Quantus metrics of input heatmaps ``a`` (B, 1, H, W) for the labels ``y``: pixel-flipping AUC (most relevant
    first, replaced by the image's darkest value; the curve is the softmax probability of the label after each step;
    lower = more faithful), Complexity (entropy; lower = simpler) and Sparseness (Gini; higher = sparser)."""
    import quantus

    device = str(next(model.parameters()).device)
    kw = {"model": model, "x_batch": x, "y_batch": y, "a_batch": a, "device": device, "channel_first": True}
    # Quantus 0.6.0 integrates with ``np.trapz``, which numpy 2.4 removed: take its per-sample curves (the softmax
    # probability of the label after each step of flipping the most relevant pixels) and integrate them here
    curves: Any = quantus.PixelFlipping(
        features_in_step=features_in_step,
        perturb_baseline="black",
        return_auc_per_sample=False,
        abs=False,
        normalise=False,
        disable_warnings=True,
        display_progressbar=False,
    )(**kw)
    steps = np.asarray(curves, dtype=float)
    flip = np.trapezoid(steps, dx=1.0 / (steps.shape[1] - 1), axis=1)
    cx = quantus.Complexity(abs=True, normalise=False, disable_warnings=True)(**kw)
    sp = quantus.Sparseness(abs=True, normalise=False, disable_warnings=True)(**kw)
    return {
        "pixel-flipping AUC": np.asarray(flip, dtype=float),
        "complexity": np.asarray(cx, dtype=float),
        "sparseness": np.asarray(sp, dtype=float),
    }


HEURISTIC_LABELS = ("LRP-ε", "z+ (Yeom)", "optimised")


def explanation_composites(family: str, optimised: Composite | None = None) -> dict[str, Composite]:
    """The 32 points HLL x FCL x MAG with LLL = MLL = ε, plus LRP-ε, Yeom's z+ and (if given) the optimised one."""
    rules = ("epsilon", "zplus", "alpha2beta1", "gamma")
    out: dict[str, Composite] = {}
    for hll in rules:
        for fcl in rules:
            for mag in (True, False):
                c = Composite(hll=hll, fcl=fcl, mag=mag)
                out[c.label(family == "vit")] = c
    named = {"LRP-ε": LRP_EPSILON, "z+ (Yeom)": YEOM_ZPLUS}
    if optimised is not None:
        same = [k for k, c in named.items() if c == optimised]
        if same:  # the search picked a heuristic: one point, both names
            named[f"optimised = {same[0]}"] = named.pop(same[0])
        else:
            named["optimised"] = optimised
    for name, c in named.items():
        out = {k: v for k, v in out.items() if v != c}
        out[name] = c
    return out


def explanation_vs_pruning(
    profile: Profile,
    model: str = "vgg",
    grid_values: dict[tuple, float] | None = None,
    optimised: Composite | None = None,
    n_images: int = 64,
    features_in_step: int | None = None,
    progress: bool = True,
) -> Result:
    """For each composite of :func:`explanation_composites`: its pruning A_PR on the search tasks (from
    ``grid_values`` when given, else computed) and the Quantus metrics of its input heatmaps on ``n_images`` images
    of each search task (pixel flipping in 28 steps unless ``features_in_step`` is given). Frames: ``per_image`` and
    ``composites`` (one row each: A_PR, mean metrics).
    Verdict (:func:`pbe_utils.verdicts.judge`): the rank correlation between faithfulness (negated pixel-flipping
    AUC) and A_PR over the composites, one cell per ranking (|R| and signed R share each heatmap, so each explanation
    is counted once per cell), against ``verdicts.R_MIN``."""
    import torch
    from tqdm import tqdm

    from pbe_utils.relevance import input_heatmaps

    family = get_spec(model).family
    net, _ = get_model(profile, model, progress=False)
    comps = find_components(net)
    tasks = [make_task(profile, s) for s in profile.search_seeds]
    space = S.space_for(family)
    composites = explanation_composites(family, optimised)
    side = tasks[0].search.x.shape[-1]
    steps = features_in_step or max(1, tasks[0].search.x.shape[-2] * side // 28)  # 28 steps of pixel flipping
    rows, summary = [], []
    heat_cache: dict[tuple, dict] = {}
    for label, c in tqdm(composites.items(), desc=f"{model}: heatmaps + Quantus", disable=not progress):
        params = c.as_params(vit=family == "vit")
        key = point_key(params, space)
        if grid_values is not None and key in grid_values:
            apr = grid_values[key]
        else:
            apr = S.search_apr(S.search_results(net, comps, tasks, c, profile))
        hkey = (c.rules, c.attention)  # MAG changes how scores are aggregated, not the heatmap
        if hkey not in heat_cache:
            metrics: dict[str, list] = {}
            for t in tasks:
                x, y = t.search.x[:n_images], t.search.y[:n_images]
                heat = input_heatmaps(net, x, y, c)
                m = faithfulness_metrics(net, x.numpy(), y.numpy(), heat.unsqueeze(1).numpy().astype(np.float32), steps)
                for k, v in m.items():
                    metrics.setdefault(k, []).append(v)
            heat_cache[hkey] = {k: np.concatenate(v) for k, v in metrics.items()}
        m = heat_cache[hkey]
        for i in range(len(m["complexity"])):
            rows.append({"composite": label, **{k: float(v[i]) for k, v in m.items()}})
        summary.append(
            {
                "composite": label,
                "HLL": c.hll,
                "FCL": c.fcl,
                "MAG": c.mag,
                "heuristic": label in HEURISTIC_LABELS or label.startswith("optimised"),
                "A_PR": apr,
                **{k: float(np.nanmean(v)) for k, v in m.items()},
            }
        )
    frame = pd.DataFrame(summary)
    frame["faithfulness"] = -frame["pixel-flipping AUC"]
    frame["A_PR rank"] = frame["A_PR"].rank(ascending=False)
    frame["faithfulness rank"] = frame["faithfulness"].rank(ascending=False)
    kind = comps[0].kind
    # |R| and signed R share one heatmap (MAG only changes how scores are aggregated): one correlation per ranking,
    # each explanation counted once in it
    cells = [
        verdicts.correlation_cell(
            g["faithfulness"],
            g["A_PR"],
            label="faithfulness ~ A_PR",
            model=model,
            kind=kind,
            ranking="|R|" if mag else "signed R",
        )
        for mag, g in frame.groupby("MAG", sort=False)
    ]
    simplicity = [
        verdicts.correlation_cell(
            -g["complexity"],
            g["A_PR"],
            label="simplicity ~ A_PR",
            model=model,
            kind=kind,
            ranking="|R|" if mag else "signed R",
        )
        for mag, g in frame.groupby("MAG", sort=False)
    ]
    torch.set_grad_enabled(True)
    verdict = verdicts.judge(pd.DataFrame(cells))
    comparisons = verdict.cells
    frames_extra = pd.DataFrame(simplicity)
    return Result(
        {"per_image": pd.DataFrame(rows), "composites": frame, "simplicity": frames_extra}, comparisons, verdict
    )


# ------------------------------------------------------------------------------------------------ transfer (10)
def transfer(
    profile: Profile,
    models: tuple[str, ...] | None = None,
    task_sizes: tuple[int, ...] | None = None,
    optimised: dict[str, Composite] | None = None,
    progress: bool = True,
) -> Result:
    """Each model's optimised composite (its TPE study, k = ``profile.n_classes`` tasks of the search seeds)
    evaluated on the evaluation seeds (other seeds) of every model of its family and every task size of
    ``task_sizes`` (default: the profile's and the largest of chapter 03's), next to LRP-ε and random pruning on
    the same tasks.

    Frames: ``summaries`` (target model, task size, method, seed, A_PR). Comparisons: per cell (target, task size),
    each source's composite vs LRP-ε, paired over seeds (gate from random pruning). Verdict
    (:func:`pbe_utils.verdicts.judge`, one Holm family over all cells away from home): the optimised composite
    transfers (beats LRP-ε)."""
    models = tuple(models or profile.models)
    task_sizes = tuple(task_sizes or sorted({profile.n_classes, max(profile.task_sizes)}))
    unknown = [m for m in models if m not in REGISTRY]
    if unknown:
        raise ValueError(f"models={unknown} is not accepted; use some of {sorted(REGISTRY)}")
    if optimised is None:
        optimised = {m: S.best_composite(S.run_search(profile, m, progress=progress)) for m in models}
    summaries, comparisons = [], []
    for target in models:
        fam = get_spec(target).family
        sources = [m for m in models if get_spec(m).family == fam]
        methods: dict[str, tuple[str, Composite | None]] = {"LRP-ε": ("lrp", LRP_EPSILON), "random": ("random", None)}
        for s in sources:
            methods[f"optimised on {s}"] = ("lrp", optimised[s])
        for k in task_sizes:
            _, summ = compare_methods(profile, target, methods, n_classes=k, progress=progress)
            summ = summ.assign(target=target, family=fam.upper(), task_size=k)
            summaries.append(summ)
            cmp = verdicts.compare(summ, [f"optimised on {s}" for s in sources], "LRP-ε", by=("model", "kind"))
            cmp = cmp.assign(
                target=target,
                task_size=k,
                source=[a.removeprefix("optimised on ") for a in cmp["a"]],
                home=[(a.removeprefix("optimised on ") == target and k == profile.n_classes) for a in cmp["a"]],
            )
            comparisons.append(cmp)
    comp = pd.concat(comparisons, ignore_index=True)
    off = comp[~comp["home"]]
    verdict = verdicts.judge(off)  # one Holm family over every cell of the claim
    comp = pd.concat([verdict.cells, comp[comp["home"]]], ignore_index=True)
    return Result({"summaries": pd.concat(summaries, ignore_index=True)}, comp, verdict, {"optimised": optimised})


def main(argv: list[str] | None = None) -> int:
    """``python -m pbe_utils.experiments grid --profile default --model vgg``: run (or resume) the exhaustive grid of
    chapter 08 with the study's search and write it, with its provenance, to ``book/data`` for the book to read."""
    import argparse

    from pbe_utils.profiles import get_profile

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("what", choices=["grid"])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--model", default="vgg")
    ap.add_argument("--out", default=str(SHIPPED_GRIDS))
    args = ap.parse_args(argv)
    try:
        profile = get_profile(args.profile)
        get_spec(args.model)
    except ValueError as err:
        ap.error(str(err))
    restrict = S.parse_restrict(profile.grid_restrict)
    study = S.run_search(profile, args.model, sampler="grid", restrict=restrict)
    space = S.space_for(get_spec(args.model).family, restrict)
    counts = S.grid_counts(study, space)
    if counts["completed"] != counts["points"]:
        print(f"grid incomplete: {counts}; run the command again to resume")
        return 1
    path = grid_file(profile, args.model, args.out)
    export_grid(study, profile, args.model, path, restrict)
    print(f"wrote {path} ({counts['points']} points)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# ------------------------------------------------------------------------------------- reference samples (04)
def reference_samples(profile: Profile, progress: bool = True) -> Result:
    """C4: LRP-ε relevance from n reference samples per class, n in ``profile.ref_sweep``, a new stratified draw per
    n and seed. Frames: ``results`` (model, family, n_ref, seed, A_PR, Top-PR on the test split) and ``stability``
    (Spearman correlation of the component scores from n references with those from the most references, same task).
    Comparisons: A_PR(10 per class) - A_PR(1 per class) per model, paired over seeds. Verdict: every CNN gains (a
    win) and every ViT is flat (a tie within the margin)."""
    from scipy.stats import spearmanr
    from tqdm import tqdm

    from pbe_utils.study import evaluate_method

    rows, corr_rows = [], []
    for name in profile.models:
        model, _ = get_model(profile, name, progress=False)
        comps = find_components(model)
        family = REGISTRY[name].family.upper()
        flat = {}
        jobs = [(n, s) for n in profile.ref_sweep for s in profile.seeds]
        for n, seed in tqdm(jobs, desc=f"{name}: reference samples", disable=not progress):
            task = make_task(profile, seed, n_ref=n)
            res = evaluate_method(model, comps, task, "lrp", LRP_EPSILON, profile)
            rows.append(
                {
                    "model": name,
                    "family": family,
                    "n_ref": n,
                    "seed": seed,
                    "A_PR": res["A_PR"],
                    "Top-PR": res["Top-PR"],
                }
            )
            flat[n, seed] = np.concatenate([s.cpu().numpy() for s in res["scores"]])
        n_max = max(profile.ref_sweep)
        for n, seed in jobs:  # rank stability: agreement with the ranking from the most references, same task
            rho = spearmanr(flat[n, seed], flat[n_max, seed]).statistic
            corr_rows.append({"model": name, "family": family, "n_ref": n, "seed": seed, "Spearman": float(rho)})
    res = pd.DataFrame(rows)
    corr = pd.DataFrame(corr_rows)
    labelled = res.assign(method=res["n_ref"].map(lambda n: f"n={n}"), kind=res["family"])
    verdict, plan = reference_verdict(labelled, profile.ref_sweep)
    return Result({"results": res, "stability": corr}, verdict.cells, verdict, plan)


def reference_verdict(labelled: pd.DataFrame, sweep: tuple[int, ...]) -> tuple[verdicts.Verdict, dict]:
    """C4 as the paper's plateau, one claim (one Holm family): for CNNs, 10 per class beat 1 (a win) and 30 per class
    are as good as 10 (a tie); for ViTs, every other size of the sweep is as good as 10 (ties: flat)."""
    mid = 10 if 10 in sweep else sorted(sweep)[len(sweep) // 2]
    lo = min(sweep)
    above = [n for n in sorted(sweep) if n > mid]
    cnn, vit = labelled[labelled.kind == "CNN"], labelled[labelled.kind == "VIT"]
    cells = []
    if len(cnn) and lo < mid:
        cells.append(verdicts.compare(cnn, f"n={mid}", f"n={lo}", by=("model", "kind")))
    if len(cnn) and above:
        cells.append(verdicts.compare(cnn, f"n={above[0]}", f"n={mid}", by=("model", "kind"), goal="tie"))
    if len(vit):
        others = [f"n={n}" for n in sorted(sweep) if n != mid]
        cells.append(verdicts.compare(vit, others, f"n={mid}", by=("model", "kind"), goal="tie"))
    return verdicts.judge(*cells), {"lo": lo, "mid": mid, "plateau": above[0] if above else None}


# ------------------------------------------------------------------------------ explanations after pruning (06)
def task_confidence(logits: torch.Tensor, y: torch.Tensor, classes: list[int] | None) -> torch.Tensor:
    """The probability of the true class under the softmax over the task's classes only (all when ``classes`` is
    None): the confidence a k-class task's model has in its answer."""
    if classes is not None:
        idx = torch.as_tensor(classes, device=logits.device)
        logits = logits[:, idx]
        y = (y.view(-1, 1).to(logits.device) == idx.view(1, -1)).float().argmax(1)
    return logits.softmax(-1)[torch.arange(len(y)), y.to(logits.device)]


def explanations_after_pruning(profile: Profile, n_images: int = 64, rates=None, progress: bool = True) -> Result:
    """C6 at the paper's granularity, for every model and component kind (CNN channels, ViT heads and neurons) and
    every evaluation task: LRP-ε input heatmaps of ``n_images`` test images before and after masking the least
    relevant components (LRP-ε scores) at ``rates`` (default: the profile's nonzero rates up to 50 %), and the
    confidence of the task-restricted softmax in the true class.

    Frames: ``per_image`` (model, kind, seed, rate, cosine similarity, heatmap change = 1 - cosine, confidence
    loss), ``per_rate`` (their means per task and rate), ``per_task`` (Pearson r over the rates between the mean
    heatmap change and the mean confidence loss: the paper's statistic, one per task), ``preservation`` (mean cosine
    at the largest rate of LRP-guided and of random pruning, per task).
    Verdict (one claim): LRP-guided pruning keeps heatmaps closer than random pruning at the largest rate (paired
    over tasks, margin 0.01 cosine), and the per-task correlation lies above ``verdicts.R_MIN`` (interval over
    tasks), in every cell."""
    from tqdm import tqdm

    from pbe_utils.components import masked
    from pbe_utils.models import model_device
    from pbe_utils.pruning import global_masks
    from pbe_utils.relevance import input_heatmaps
    from pbe_utils.study import evaluate_method

    rates = list(rates or [r for r in profile.rates if 0 < r <= 0.5] or [r for r in profile.rates if r > 0])
    rows, pres, examples = [], [], {}
    for name in profile.models:
        model, _ = get_model(profile, name, progress=False)
        dev = model_device(model)
        for kind in _kinds(name):
            comps = find_components(model, kind)
            for seed in tqdm(profile.seeds, desc=f"{name} ({kind}): heatmaps after pruning", disable=not progress):
                task = make_task(profile, seed)
                x, y = task.test.x[:n_images], task.test.y[:n_images]

                def conf(net) -> torch.Tensor:
                    with torch.no_grad():
                        return task_confidence(net(x.to(dev)), y, task.restrict).cpu()

                p0 = conf(model)
                h0 = input_heatmaps(model, x, y, LRP_EPSILON).flatten(1)
                for method in ("lrp", "random"):
                    comp = LRP_EPSILON if method == "lrp" else None
                    scores = evaluate_method(model, comps, task, method, comp, profile)["scores"]
                    for rate in rates if method == "lrp" else rates[-1:]:
                        with masked(model, comps, global_masks(scores, rate)):
                            p1 = conf(model)
                            h1 = input_heatmaps(model, x, y, LRP_EPSILON).flatten(1)
                        cos = torch.nn.functional.cosine_similarity(h0, h1, dim=1)
                        if method == "random":
                            pres.append(
                                {
                                    "model": name,
                                    "kind": kind,
                                    "seed": seed,
                                    "method": "random scores",
                                    "cosine": float(cos.mean()),
                                }
                            )
                            continue
                        if rate == rates[-1]:
                            pres.append(
                                {
                                    "model": name,
                                    "kind": kind,
                                    "seed": seed,
                                    "method": "LRP-ε scores",
                                    "cosine": float(cos.mean()),
                                }
                            )
                            if seed == profile.seeds[0]:
                                shape = (-1, *x.shape[2:])
                                examples[f"{name} / {kind}"] = (x[:4], h0[:4].view(shape), h1[:4].view(shape), rate)
                        rows += [
                            {
                                "model": name,
                                "kind": kind,
                                "seed": seed,
                                "image": i,
                                "rate": rate,
                                "cosine similarity": float(c),
                                "heatmap change": 1 - float(c),
                                "confidence loss": float(a - b),
                            }
                            for i, (c, a, b) in enumerate(zip(cos, p0, p1))
                        ]
    res = pd.DataFrame(rows)
    res["model / components"] = res["model"] + " / " + res["kind"]
    per_rate = (
        res.drop(columns="image")
        .groupby(["model", "kind", "model / components", "seed", "rate"], as_index=False)
        .mean(numeric_only=True)
    )
    per_task = per_task_correlation(per_rate)
    preservation = pd.DataFrame(pres)
    kept = verdicts.compare(
        preservation, "LRP-ε scores", "random scores", value="cosine", gate=pd.DataFrame(), margin=COSINE_MARGIN
    )
    tracks = verdicts.above_threshold(per_task, "r", label="r(heatmap change, confidence loss) per task")
    verdict = verdicts.judge(kept, tracks)
    pooled = [
        {"model": m, "kind": k, **verdicts.correlation_cell(g["heatmap change"], g["confidence loss"], "pearson")}
        for (m, k), g in res.groupby(["model", "kind"], sort=False)
    ]
    frames = {
        "per_image": res,
        "per_rate": per_rate,
        "per_task": per_task,
        "preservation": preservation,
        "pooled": pd.DataFrame(pooled)[["model", "kind", "n", "difference", "ci_low", "ci_high"]].rename(
            columns={"difference": "r"}
        ),
    }
    return Result(frames, verdict.cells, verdict, {"examples": examples, "rates": rates})


def per_task_correlation(per_rate: pd.DataFrame) -> pd.DataFrame:
    """C6's statistic: per model, kind and task (seed), Pearson r over the rates between the mean heatmap change and
    the mean confidence loss (NaN with fewer than 3 rates, or when either is constant)."""
    rows = []
    for (m, k, seed), g in per_rate.groupby(["model", "kind", "seed"], sort=False):
        x, y = g["heatmap change"].to_numpy(float), g["confidence loss"].to_numpy(float)
        ok = len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0
        rows.append({"model": m, "kind": k, "seed": seed, "r": float(np.corrcoef(x, y)[0, 1]) if ok else np.nan})
    return pd.DataFrame(rows)


#: C6's margin for mean cosine similarity (0-1 scale, like A_PR): a hundredth is below what a reader sees in a heatmap
COSINE_MARGIN = 0.01


# ------------------------------------------------------------------------------------- what pruning buys (07)
def what_pruning_buys(profile: Profile, rates=(0.0, 0.1, 0.3, 0.5, 0.7, 0.9), finetune_steps: int = 100) -> Result:
    """Physical removal (torch-pruning) of the components LRP-ε masks, per model and component kind, at ``rates``:
    masked and removed accuracy, the largest logit difference between them, parameters, MACs, measured CPU speed-up,
    activation memory, and (at 30 % and 50 %) the accuracy after ``finetune_steps`` steps of fine-tuning on the
    training split (embedded data) or the task's search images (paper profile). No claim: no verdict."""
    import copy

    from pbe_utils.components import masked
    from pbe_utils.compress import activation_bytes, count_macs, finetune, latency_ms, remove_components
    from pbe_utils.models import accuracy, model_device
    from pbe_utils.pruning import global_masks
    from pbe_utils.study import evaluate_method, splits

    rows = []
    for name in profile.models:
        model, _ = get_model(profile, name, progress=False)
        dev = model_device(model)
        task = make_task(profile, profile.seeds[0])
        batch = task.test.x[:128].to(dev)
        tune_data = splits(profile)["train"] if profile.data == "fashion_mnist" else task.search
        for kind in ["neurons", "heads"] if REGISTRY[name].family == "vit" else ["conv"]:
            comps = find_components(model, kind)
            scores = evaluate_method(model, comps, task, "lrp", LRP_EPSILON, profile)["scores"]
            macs0, params0 = count_macs(model, batch)
            for rate in rates:
                masks = global_masks(scores, rate)
                with masked(model, comps, masks):
                    acc_masked = accuracy(model, task.test, task.restrict)
                    ref_logits = model(batch[:16]).detach()
                small, report = remove_components(model, comps, masks, batch[:1])
                diff = float((small(batch[:16]).detach() - ref_logits).abs().max())
                macs, params = count_macs(small, batch)
                lat = latency_ms({"base": model, "pruned": small}, batch, rounds=7)
                tune = finetune_steps if rate in (0.3, 0.5) else 0
                tuned = finetune(copy.deepcopy(small), tune_data, tune) if tune else small
                rows.append(
                    {
                        "model": name,
                        "components": kind,
                        "rate": rate,
                        "masked": report.masked,
                        "removed": report.removed,
                        "zeroed": report.zeroed,
                        "accuracy (masked)": acc_masked,
                        "accuracy (removed)": accuracy(small, task.test, task.restrict),
                        "accuracy (fine-tuned)": accuracy(tuned, task.test, task.restrict) if tune else None,
                        "max |Δ logit|": diff,
                        "parameters": params,
                        "parameter ratio": params / params0,
                        "MACs": macs,
                        "MAC ratio": macs / macs0,
                        "speed-up": lat["base"] / lat["pruned"],
                        "activation MB": activation_bytes(small, batch) / 2**20,
                    }
                )
    return Result(
        {"results": pd.DataFrame(rows)},
        pd.DataFrame(),
        verdicts.Verdict("undecided", "no claim: chapter 07 measures, it does not test"),
        {},
    )


# ------------------------------------------------------------------------------------------ method comparisons
def _kinds(name: str) -> tuple[str, ...]:
    return ("neurons", "heads") if REGISTRY[name].family == "vit" else ("conv",)


def _compare_all(profile: Profile, methods_for, progress: bool, kinds=_kinds) -> tuple[pd.DataFrame, pd.DataFrame]:
    curves, summaries = [], []
    for name in profile.models:
        methods = methods_for(name)
        for kind in kinds(name):
            c, s = compare_methods(profile, name, methods, kind=kind, progress=progress)
            curves.append(c)
            summaries.append(s)
    curves_f, summ_f = pd.concat(curves, ignore_index=True), pd.concat(summaries, ignore_index=True)
    for f in (curves_f, summ_f):
        f["model / components"] = f["model"] + " / " + f["kind"]
    return curves_f, summ_f


def uniform_composites(profile: Profile, progress: bool = True) -> Result:
    """C1: the four uniform composites (ε, z+, α2β1, γ) and random pruning on every model and component kind (ViTs:
    MLP neurons and attention heads). Frames: ``curves`` and ``summaries`` (see
    :func:`pbe_utils.study.compare_methods`). Comparisons: A_PR(LRP-ε) - A_PR(z+) per model and kind. Verdict:
    LRP-ε beats z+ everywhere it can be decided."""
    from pbe_utils.composites import UNIFORM

    methods = {
        "LRP-ε": ("lrp", LRP_EPSILON),
        "z+ (Yeom)": ("lrp", YEOM_ZPLUS),
        "α2β1": ("lrp", UNIFORM["alpha2beta1"]),
        "γ": ("lrp", UNIFORM["gamma"]),
        "random": ("random", None),
    }
    curves, summaries = _compare_all(profile, lambda _: methods, progress)
    verdict = verdicts.judge(verdicts.compare(summaries, "LRP-ε", "z+ (Yeom)"))
    return Result({"curves": curves, "summaries": summaries}, verdict.cells, verdict)


def cnn_vs_vit(profile: Profile, progress: bool = True) -> Result:
    """C3 and C3b: LRP-ε and random pruning on every model and kind, and LRP-ε on the first CNN and ViT for every
    task size of ``profile.task_sizes``. Frames: ``curves``, ``summaries``, ``task curves``, ``task summaries``,
    ``removed`` (share of parameters and MACs removed at each seed's Top-PR).
    Verdicts: ``verdict`` (C3, in parameters: the share of parameters removed at Top-PR, each ViT's neurons vs each
    CNN's channels, margin 0.05), ``info['C3 in components']`` (the same in Top-PR, components), and
    ``info['C3b verdict']`` (Top-PR of the smallest vs the largest task size per model)."""
    methods = {"LRP-ε": ("lrp", LRP_EPSILON), "random": ("random", None)}
    curves, summaries = _compare_all(profile, lambda _: methods, progress)
    task_curves, task_sum = [], []
    for name in profile.cnn_models[:1] + profile.vit_models[:1]:
        for k in profile.task_sizes:
            c, s = compare_methods(profile, name, {"LRP-ε": methods["LRP-ε"]}, n_classes=k, progress=progress)
            task_curves.append(c)
            task_sum.append(s)
    tc, ts = pd.concat(task_curves, ignore_index=True), pd.concat(task_sum, ignore_index=True)
    s_eps = summaries[summaries.method == "LRP-ε"]
    removed = removed_at_top_pr(profile, s_eps)
    # C3 in the unit the claim is about: the share of parameters removed at Top-PR, each ViT's neurons vs each CNN
    v3 = verdicts.judge(*vit_vs_cnn(removed, "parameters removed"))
    in_components = verdicts.judge(*vit_vs_cnn(s_eps, "Top-PR"))
    kk = ts.assign(method=ts["n_classes"].map(lambda k: f"k={k}"))
    small, large = f"k={min(profile.task_sizes)}", f"k={max(profile.task_sizes)}"
    v3b = verdicts.judge(verdicts.compare(kk, small, large, value="Top-PR", by=("model", "kind")))
    frames = {"curves": curves, "summaries": summaries, "task curves": tc, "task summaries": ts, "removed": removed}
    info = {
        "C3b": v3b.cells,
        "C3b verdict": v3b,
        "small": small,
        "large": large,
        "C3 in components": in_components,
    }
    return Result(frames, v3.cells, v3, info)


def vit_vs_cnn(frame: pd.DataFrame, value: str) -> list[pd.DataFrame]:
    """Cells "each ViT's MLP neurons vs each CNN's channels" in ``value`` (paired over seeds: the same tasks), one
    comparison per (ViT, CNN) pair; the cells carry the ViT's model and kind (the matrix shows them under the ViT).
    Margin: 0.05, a step of the rate grid (Top-PR) and 5 % of the parameters."""
    f = frame.assign(method=frame["model"] + "/" + frame["kind"], pair="all")
    cnn = [k for k in dict.fromkeys(f["method"]) if k.endswith("/conv")]
    vit = [k for k in dict.fromkeys(f["method"]) if k.endswith("/neurons")]
    out = []
    for vk in vit:
        cells = verdicts.compare(f, vk, cnn, value=value, by="pair", margin=verdicts.MARGIN_TOP_PR, gate=pd.DataFrame())
        model, kind = vk.split("/")
        out.append(cells.drop(columns=["pair"]).assign(model=model, kind=kind))
    return out


def removed_at_top_pr(profile: Profile, s_eps: pd.DataFrame) -> pd.DataFrame:
    """Per model, component kind and seed: the share of the model's parameters and of its MACs removed when the
    Top-PR share of components is pruned (LRP-ε order of that seed), counted on the physically pruned copy
    (:func:`pbe_utils.compress.remove_components`; a ResNet stream channel some writer still keeps stays, zeroed)."""
    from pbe_utils.compress import count_macs, remove_components
    from pbe_utils.models import model_device
    from pbe_utils.pruning import global_masks
    from pbe_utils.study import evaluate_method

    rows = []
    for (name, kind), g in s_eps.groupby(["model", "kind"], sort=False):
        model, _ = get_model(profile, name, progress=False)
        comps = find_components(model, kind)
        for r in g.to_dict("records"):
            task = make_task(profile, int(r["seed"]))
            example = task.test.x[:2].to(model_device(model))
            macs0, params0 = count_macs(model, example)
            scores = evaluate_method(model, comps, task, "lrp", LRP_EPSILON, profile)["scores"]
            small, _ = remove_components(model, comps, global_masks(scores, float(r["Top-PR"])), example[:1])
            macs, params = count_macs(small, example)
            rows.append(
                {
                    "model": name,
                    "kind": kind,
                    "seed": int(r["seed"]),
                    "method": "LRP-ε",
                    "Top-PR": float(r["Top-PR"]),
                    "parameters removed": 1 - params / params0,
                    "MACs removed": 1 - macs / macs0,
                }
            )
    return pd.DataFrame(rows)


def classic_criteria(profile: Profile, progress: bool = True) -> Result:
    """C5: chapter 02's optimised composite, LRP-ε, the weight, activation, gradient and Taylor criteria and random
    pruning on every model (default component kind). Frames: ``curves``, ``summaries``. Comparisons: A_PR(optimised)
    - A_PR(each classic criterion) per model, Holm over the criteria. Verdict: the optimised composite beats every
    classic criterion."""

    def methods_for(name: str) -> dict:
        best = S.best_composite(S.run_search(profile, name, progress=False))
        return {
            "optimised": ("lrp", best),
            "LRP-ε": ("lrp", LRP_EPSILON),
            "weight": ("weight", None),
            "activation": ("activation", None),
            "gradient": ("gradient", None),
            "Taylor": ("taylor", None),
            "random": ("random", None),
        }

    curves, summaries = _compare_all(profile, methods_for, progress, kinds=lambda _: ("auto",))
    verdict = verdicts.judge(verdicts.compare(summaries, "optimised", ["weight", "activation", "gradient", "Taylor"]))
    return Result({"curves": curves, "summaries": summaries}, verdict.cells, verdict)


# ------------------------------------------------------------------------------------ optimised composites (02)
def optimised_composites(profile: Profile, progress: bool = True) -> Result:
    """C2 and C2b: the composite search per model (:func:`pbe_utils.search.run_search`, the profile's sampler and
    budget; resumed from its storage), the heuristics scored with the same objective, and the held-out comparison on
    the evaluation tasks (test split) of the optimised composite with LRP-ε, z+, the faithful composite, IG and
    random, each LRP composite also ranked by |R| and by signed R.

    Frames: ``trials`` (one row per trial), ``timing``, ``ranks`` (heuristics' search A_PR and the trials that beat
    them), ``curves``, ``summaries``, ``gap`` (search vs test margin). Comparisons (C2): optimised - every other
    method per model. ``info``: ``studies``, ``best``, ``C2b`` (|R| - signed per composite) and ``C2b verdict``."""
    from pbe_utils.composites import FAITHFUL_CNN, FAITHFUL_VIT, with_mag

    studies, frames = {}, []
    for name in profile.models:
        study = S.run_search(profile, name, progress=progress)
        studies[name] = study
        f = S.trials_frame(study)
        f["model"] = name
        f["best so far"] = f["A_PR"].cummax()
        frames.append(f)
    trials = pd.concat(frames, ignore_index=True)
    timing = pd.DataFrame(
        [
            {
                "model": n,
                "trials": len(s.trials),
                "seconds per trial": pd.Series(
                    [
                        t.user_attrs.get("seconds_scores", 0) + t.user_attrs.get("seconds_curve", 0)
                        for t in s.trials
                        if t.value is not None
                    ]
                ).median(),
            }
            for n, s in studies.items()
        ]
    )
    timing["trials per minute"] = 60 / timing["seconds per trial"]
    rank_rows, curves, summaries, best = [], [], [], {}
    for name in profile.models:
        vit = REGISTRY[name].family == "vit"
        model, _ = get_model(profile, name, progress=False)
        comps = find_components(model)
        search_tasks = [make_task(profile, s) for s in profile.search_seeds]
        f = trials[trials.model == name]
        faithful = FAITHFUL_VIT if vit else FAITHFUL_CNN
        for label, comp in {"LRP-ε": LRP_EPSILON, "z+ (Yeom)": YEOM_ZPLUS, "faithful": faithful}.items():
            apr = S.search_apr(S.search_results(model, comps, search_tasks, comp, profile))
            rank_rows.append(
                {
                    "model": name,
                    "composite": label,
                    "search A_PR": apr,
                    "composites better": int((f.drop_duplicates("composite")["A_PR"] > apr).sum()),
                    "of": int(f["composite"].nunique()),
                }
            )
        best[name] = S.best_composite(studies[name])
        methods: dict[str, tuple[str, Composite | None]] = {
            "optimised": ("lrp", best[name]),
            "LRP-ε": ("lrp", LRP_EPSILON),
            "z+ (Yeom)": ("lrp", YEOM_ZPLUS),
            "faithful": ("lrp", faithful),
            "IG": ("ig", None),
            "random": ("random", None),
        }
        for label in ("optimised", "LRP-ε", "z+ (Yeom)"):  # C2b: each composite ranked by |R| and by signed R
            base = methods[label][1]
            assert base is not None
            methods[f"{label} (|R|)"] = ("lrp", with_mag(base, True))
            methods[f"{label} (signed)"] = ("lrp", with_mag(base, False))
        c, s = compare_methods(profile, name, methods, progress=progress)
        curves.append(c)
        summaries.append(s)
    ranks = pd.DataFrame(rank_rows)
    curves_f, summ = pd.concat(curves, ignore_index=True), pd.concat(summaries, ignore_index=True)
    ablation = summ.method.str.endswith(("(signed)", "(|R|)"))
    others = [m for m in summ[~ablation].method.unique() if m != "optimised"]
    v2 = verdicts.judge(verdicts.compare(summ[~ablation], "optimised", others))
    vb = verdicts.judge(
        *[
            verdicts.compare(
                summ[summ.method.isin([f"{label} (|R|)", f"{label} (signed)", "random"])],
                f"{label} (|R|)",
                f"{label} (signed)",
            )
            for label in ("optimised", "LRP-ε", "z+ (Yeom)")
        ]
    )
    test = summ.groupby(["method", "model"])["A_PR"].mean()
    eps_search = ranks[ranks.composite == "LRP-ε"].set_index("model")["search A_PR"]
    gap = pd.DataFrame(
        [
            {
                "model": m,
                "search A_PR (best trial)": studies[m].best_value,
                "test A_PR (same composite)": float(test.loc[("optimised", m)]),
                "search margin over LRP-ε": studies[m].best_value - float(eps_search[m]),
                "test margin over LRP-ε": float(test.loc[("optimised", m)] - test.loc[("LRP-ε", m)]),
            }
            for m in profile.models
        ]
    )
    frames_out = {
        "trials": trials,
        "timing": timing,
        "ranks": ranks,
        "curves": curves_f,
        "summaries": summ,
        "gap": gap,
    }
    info = {"studies": studies, "best": best, "C2b": vb.cells, "C2b verdict": vb}
    return Result(frames_out, v2.cells, v2, info)
