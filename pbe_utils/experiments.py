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
    margin: float = 5.0,
    restrict: dict | None = None,
    progress: bool = True,
) -> Result:
    """The exhaustive grid of ``model`` (:func:`load_grid`), then each sampler replayed against it
    (:func:`pbe_utils.search.replay`) for at most ``max_proposals`` proposals per sampler seed.

    Frames: ``grid`` (one row per point: rules, MAG, A_PR, seconds), ``traces`` (sampler, seed, trial, evaluations,
    value, best), ``cost`` (per sampler and seed: evaluations to reach ``target`` x the grid's best and to reach the
    best itself, NaN when not reached; and what those evaluations cost at the grid's median trial time).
    Verdict: random sampling needs more evaluations than each Bayesian sampler to reach the target (paired over
    sampler seeds, margin ``margin`` evaluations, Holm over the samplers)."""
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
    if "random" in samplers and bayes:
        comps = verdicts.compare(
            cost_frame.assign(model=model, kind=f"{len(values)}-point grid"),
            "random sampling",
            bayes,
            value="evaluations",
            margin=margin,
        )
    verdict = verdicts.claim_verdict(comps) if len(comps) else verdicts.Verdict(None, "no comparison")
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
    margin: float = 0.3,
    progress: bool = True,
) -> Result:
    """For each composite of :func:`explanation_composites`: its pruning A_PR on the search tasks (from
    ``grid_values`` when given, else computed) and the Quantus metrics of its input heatmaps on ``n_images`` images
    of each search task (pixel flipping in 28 steps unless ``features_in_step`` is given). Frames: ``per_image`` and
    ``composites`` (one row each: A_PR, mean metrics).
    Verdict (:func:`pbe_utils.verdicts.correlation_verdict`): the rank correlation between faithfulness (negated
    pixel-flipping AUC) and A_PR over the composites, bootstrap 95 % interval; holds when above 0, does not hold
    when below ``margin``."""
    import torch
    from tqdm.auto import tqdm

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
    corr = verdicts.correlation(frame["faithfulness"], frame["A_PR"], method="spearman")
    corr_cx = verdicts.correlation(-frame["complexity"], frame["A_PR"], method="spearman")
    comparisons = pd.DataFrame(
        [
            {"model": model, "x": "faithfulness (−pixel-flipping AUC)", "y": "A_PR", **corr},
            {"model": model, "x": "simplicity (−complexity)", "y": "A_PR", **corr_cx},
        ]
    )
    torch.set_grad_enabled(True)
    verdict = verdicts.correlation_verdict(corr, margin)
    return Result({"per_image": pd.DataFrame(rows), "composites": frame}, comparisons, verdict)


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
    each source's composite vs LRP-ε, paired over seeds (Holm within the cell; gate from random pruning). Verdict:
    the optimised composite transfers (beats LRP-ε) in every decidable cell."""
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
    verdict = verdicts.claim_verdict(comp[~comp["home"]])
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
    from tqdm.auto import tqdm

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
    lo, hi = min(profile.ref_sweep), (10 if 10 in profile.ref_sweep else max(profile.ref_sweep))
    labelled = res.assign(method=res["n_ref"].map(lambda n: f"n={n}"), kind=res["family"])
    c4 = verdicts.compare(labelled, f"n={hi}", f"n={lo}", by=("model", "kind"))
    cnn, vit = c4[c4.kind == "CNN"], c4[c4.kind == "VIT"]
    v_cnn = verdicts.claim_verdict(cnn) if len(cnn) else verdicts.Verdict(None, "no CNN")
    vit_ties = bool(len(vit)) and bool((vit.outcome == "tie").all())  # ViTs are insensitive: equivalence
    vit_moves = bool(vit.outcome.isin(["win", "loss"]).any())
    holds = True if v_cnn.holds and vit_ties else False if v_cnn.holds is False or vit_moves else None
    reason = f"CNNs: {v_cnn.reason}; ViTs: " + (", ".join(vit.outcome) or "none")
    return Result({"results": res, "stability": corr}, c4, verdicts.Verdict(holds, reason), {"lo": lo, "hi": hi})


# ------------------------------------------------------------------------------ explanations after pruning (06)
def explanations_after_pruning(profile: Profile, n_images: int = 64, rates=None) -> Result:
    """C6: LRP-ε input heatmaps of ``n_images`` test images of the first evaluation task, before and after masking
    the least relevant components (LRP-ε scores) or random ones, at ``rates`` (default: every other rate up to 50 %).
    Models: the first CNN (filters) and the first ViT (heads). Frames: ``per_image`` (model, scores, rate, cosine
    similarity, heatmap change = 1 - cosine, confidence loss = drop of the true class's probability), ``correlation``
    (per model: Pearson r of heatmap change and confidence loss over images and rates, 95 % interval). Verdict:
    LRP-guided pruning keeps heatmaps closer than random at the largest rate, and every r > 0.5 (its interval)."""
    import torch
    from scipy.stats import pearsonr

    from pbe_utils.components import masked
    from pbe_utils.models import model_device
    from pbe_utils.pruning import global_masks
    from pbe_utils.relevance import input_heatmaps
    from pbe_utils.study import evaluate_method

    rates = list(rates or [r for r in profile.rates if r <= 0.5][1::2])
    rows, examples = [], {}
    pairs = [(m, "conv") for m in profile.cnn_models[:1]] + [(m, "heads") for m in profile.vit_models[:1]]
    for name, kind in pairs:
        model, _ = get_model(profile, name, progress=False)
        dev = model_device(model)
        comps = find_components(model, kind)
        task = make_task(profile, profile.seeds[0])
        x, y = task.test.x[:n_images], task.test.y[:n_images]

        def prob(net) -> torch.Tensor:
            with torch.no_grad():
                return net(x.to(dev)).softmax(-1)[torch.arange(len(y)), y.to(dev)].cpu()

        p0 = prob(model)
        h0 = input_heatmaps(model, x, y, LRP_EPSILON).flatten(1)
        for method in ("lrp", "random"):
            comp = LRP_EPSILON if method == "lrp" else None
            scores = evaluate_method(model, comps, task, method, comp, profile)["scores"]
            for rate in rates:
                with masked(model, comps, global_masks(scores, rate)):
                    p1 = prob(model)
                    h1 = input_heatmaps(model, x, y, LRP_EPSILON).flatten(1)
                cos = torch.nn.functional.cosine_similarity(h0, h1, dim=1)
                if method == "lrp" and rate == rates[-1]:
                    examples[name] = (x[:4], h0[:4].view(-1, *x.shape[2:]), h1[:4].view(-1, *x.shape[2:]), rate)
                rows += [
                    {
                        "model": f"{name} / {kind}",
                        "scores": method,
                        "rate": rate,
                        "cosine similarity": float(c),
                        "heatmap change": 1 - float(c),
                        "confidence loss": float(a - b),
                    }
                    for c, a, b in zip(cos, p0, p1)
                ]
    res = pd.DataFrame(rows)
    agg = res.groupby(["model", "scores", "rate"], as_index=False).mean(numeric_only=True)
    at = agg[agg.rate == rates[-1]].pivot(index="model", columns="scores", values="cosine similarity")
    preserved = bool((at["lrp"] > at["random"]).all())
    ci_rows = []
    for m, d in res[res.scores == "lrp"].groupby("model"):  # over images and rates, with its 95 % interval
        r = pearsonr(d["heatmap change"], d["confidence loss"])
        lo, hi = r.confidence_interval(0.95)
        ci_rows.append({"model": m, "r": float(r.statistic), "ci_low": float(lo), "ci_high": float(hi), "n": len(d)})
    cis = pd.DataFrame(ci_rows)
    holds = (
        True
        if preserved and (cis.ci_low > 0.5).all()
        else False
        if not preserved or (cis.ci_high < 0.5).any()
        else None
    )
    reason = "holds if LRP keeps heatmaps closer than random and every r > 0.5 (CI)"
    frames = {"per_image": res, "means": agg, "cosine at the largest rate": at, "correlation": cis}
    return Result(frames, cis, verdicts.Verdict(holds, reason), {"examples": examples, "rates": rates})


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
    return Result({"results": pd.DataFrame(rows)}, pd.DataFrame(), verdicts.Verdict(None, "no claim"), {})


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
    c1 = verdicts.compare(summaries, "LRP-ε", "z+ (Yeom)")
    return Result({"curves": curves, "summaries": summaries}, c1, verdicts.claim_verdict(c1))


def cnn_vs_vit(profile: Profile, progress: bool = True) -> Result:
    """C3 and C3b: LRP-ε and random pruning on every model and kind, and LRP-ε on the first CNN and ViT for every
    task size of ``profile.task_sizes``. Frames: ``curves``, ``summaries``, ``task curves``, ``task summaries``.
    Comparisons: Top-PR of each ViT's neurons vs each CNN's channels (margin 0.05), and Top-PR of the smallest vs the
    largest task size per model (``info['C3b']``). Verdicts: ``verdict`` (C3), ``info['C3b verdict']``."""
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
    keys = list(dict.fromkeys(s_eps["model / components"]))
    cnn_keys = [k for k in keys if k.endswith("/ conv")]
    vit_keys = [k for k in keys if k.endswith("/ neurons")]
    pairs = s_eps.assign(method=s_eps["model / components"], claim="C3")
    parts = [verdicts.compare(pairs, vk, cnn_keys, value="Top-PR", by="claim", margin=0.05) for vk in vit_keys]
    c3 = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["outcome"])
    kk = ts.assign(method=ts["n_classes"].map(lambda k: f"k={k}"))
    small, large = f"k={min(profile.task_sizes)}", f"k={max(profile.task_sizes)}"
    c3b = verdicts.compare(kk, small, large, value="Top-PR", by="model", margin=0.05)
    frames = {"curves": curves, "summaries": summaries, "task curves": tc, "task summaries": ts}
    info = {"C3b": c3b, "C3b verdict": verdicts.claim_verdict(c3b), "small": small, "large": large}
    return Result(frames, c3, verdicts.claim_verdict(c3), info)


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
    c5 = verdicts.compare(summaries, "optimised", ["weight", "activation", "gradient", "Taylor"])
    return Result({"curves": curves, "summaries": summaries}, c5, verdicts.claim_verdict(c5))


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
                    "trials better": int((f["A_PR"] > apr).sum()),
                    "of": len(f),
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
    c2 = verdicts.compare(summ[~ablation], "optimised", others)
    mag = pd.concat(
        [
            verdicts.compare(
                summ[summ.method.isin([f"{label} (|R|)", f"{label} (signed)"])], f"{label} (|R|)", f"{label} (signed)"
            )
            for label in ("optimised", "LRP-ε", "z+ (Yeom)")
        ],
        ignore_index=True,
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
    info = {"studies": studies, "best": best, "C2b": mag, "C2b verdict": verdicts.claim_verdict(mag)}
    return Result(frames_out, c2, verdicts.claim_verdict(c2), info)
