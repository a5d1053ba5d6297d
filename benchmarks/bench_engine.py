#!/usr/bin/env python
"""Speed and memory of the engine, as ratios measured in one run (timings on a shared 2-core VM vary up to 4x
between runs, so only ratios within one run mean anything).

* relevance: one LRP pass over a batch of reference samples vs a plain forward + backward (gradient x input)
  of the same model and batch, for uniform LRP-ε (target <= 1.3x), uniform z+ and each model's best composite of
  its shipped exhaustive grid (<= 1.7x), uniform α2β1 (reported);
* curve: a 20-rate pruning curve vs 20 plain inference passes of the unpruned model over the same evaluation images
  (target <= 0.75x for the CNNs, <= 1.0x for the ViTs), on the incrementally pruned copy (the default) and, for
  reference, with masks on the full model;
* search trial: one trial of the default protocol vs one LRP pass + 20 inferences over the same images (<= 1.2x),
  for LRP-ε and for the model's best (mixed) composite;
* search: trials per minute of a 32-point grid of the default protocol on the torchvision ViT (the real trial), one
  worker vs two worker processes (one thread each), over the wall time and over the span
  of the trials (start-up excluded), so that start-up and contention are told apart (target: 2 workers >= 1.7x), on
  SQLite and on a throwaway PostgreSQL server;
* exhaustive grids: the trial time of each shipped grid (``book/data``), as measured when it was written;
* compression: CPU speed-up and MAC reduction at 30 % and 50 % of the channels / neurons removed.

    python benchmarks/bench_engine.py [--quick | --workers-only] [--worker-storage sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import tempfile
import time

import torch

from pbe_utils.cache import bound_onednn_cache
from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON, Composite
from pbe_utils.compress import remove_components
from pbe_utils.cost import count_macs, latency_ms, time_in_turns
from pbe_utils.data import ImageSet
from pbe_utils.models import build_model, get_spec, predict
from pbe_utils.pruning import global_masks, pruning_curve
from pbe_utils.relevance import lrp_scores
from pbe_utils.search import worker_command

MODELS = ["vgg", "resnet", "vit_timm", "vit_tv"]


def composites_for(name: str) -> dict[str, Composite]:
    """The composites whose LRP pass is timed: uniform ε, z+ and α2β1, and the best point of the model's shipped
    exhaustive grid (when there is one)."""
    softmax = "attnlrp_zplus" if "heads" in get_spec(name).family.kinds else "attnlrp"
    out = {
        "ε": LRP_EPSILON,
        "z+": Composite("zplus", "zplus", "zplus", "zplus", True, softmax),
        "α2β1": Composite("alpha2beta1", "alpha2beta1", "alpha2beta1", "alpha2beta1", True),
    }
    best = grid_best(name)
    if best is not None:
        out["best"] = best
    return out


def grid_best(name: str) -> Composite | None:
    """The best composite of the model's shipped grid (default profile), or None."""
    import json

    from pbe_utils.grid import SHIPPED_GRIDS, grid_file
    from pbe_utils.profiles import get_profile

    path = grid_file(get_profile("default"), name, SHIPPED_GRIDS)
    if not path.exists():
        return None
    points = json.loads(path.read_text())["points"]
    top = max(points, key=lambda p: p["A_PR"])
    return Composite.from_params({k: top[k] for k in get_spec(name).family.space()})


def bench_relevance(name: str, data: ImageSet, repeats: int) -> tuple[float, dict[str, float]]:
    """(plain forward + backward seconds, LRP seconds per composite of :func:`composites_for`)."""
    model = build_model(name)
    comps = find_components(model)

    def plain():
        x = data.x.clone().requires_grad_(True)
        out = model(x)
        (g,) = torch.autograd.grad(out, x, torch.nn.functional.one_hot(data.y, 10).float())
        return g * x

    def lrp(c: Composite):
        return lambda: lrp_scores(model, comps, data, c, batch_size=len(data))

    fns = {"plain": plain, **{k: lrp(c) for k, c in composites_for(name).items()}}
    t = time_in_turns(fns, repeats)
    return t["plain"], {k: v for k, v in t.items() if k != "plain"}


def bench_curve(name: str, data: ImageSet, repeats: int) -> tuple[float, float, float]:
    """(20 plain inferences, the curve on the pruned copy, the curve with masks), seconds."""
    model = build_model(name)
    comps = find_components(model)
    scores = [torch.rand(c.size, generator=torch.Generator().manual_seed(i)) for i, c in enumerate(comps)]

    def plain():
        for _ in range(20):
            predict(model, data.x)

    def curve():
        pruning_curve(model, comps, scores, data)

    def curve_masked():
        pruning_curve(model, comps, scores, data, physical=False)

    t = time_in_turns({"plain": plain, "curve": curve, "masked": curve_masked}, repeats)
    return t["plain"], t["curve"], t["masked"]


def bench_trial(name: str, repeats: int, composite: Composite = LRP_EPSILON) -> tuple[float, float, float, dict]:
    """One search trial of the default protocol (the search objective over its search tasks: LRP on each task's
    reference samples, then a 20-rate curve on each task's search images) vs its arithmetic floor (one LRP pass of the
    same composite over the same reference samples plus 20 plain inference passes over the same images). Returns
    (floor, trial, ratio, where the trial's time goes)."""
    from pbe_utils.profiles import get_profile
    from pbe_utils.search import make_objective
    from pbe_utils.study import get_model
    from pbe_utils.tasks import make_task

    P = get_profile("default")
    model, _ = get_model(P, name, progress=False)
    comps = find_components(model)
    tasks = [make_task(P, s) for s in P.search_seeds]
    ref = ImageSet(torch.cat([t.ref.x for t in tasks]), torch.cat([t.ref.y for t in tasks]), ())
    images = torch.cat([t.search.x for t in tasks])

    def floor():
        lrp_scores(model, comps, ref, composite, batch_size=len(ref))
        for _ in range(20):
            predict(model, images)

    import optuna

    space = get_spec(name).family.space()
    objective = make_objective(model, comps, tasks, P, space, grid=False)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    parts: dict = {}

    def trial():
        study = optuna.create_study(direction="maximize")
        study.enqueue_trial(get_spec(name).family.point(composite))
        study.optimize(objective, n_trials=1)
        t = study.trials[0]
        parts["scores"] = t.user_attrs["seconds_scores"]
        parts["curves"] = t.user_attrs["seconds_curve"]

    t = time_in_turns({"floor": floor, "trial": trial}, repeats)
    return t["floor"], t["trial"], t["trial"] / t["floor"], dict(parts)


#: the worker benchmark's 32 points of the torchvision ViT's space (HLL x MAG x FCL x attention, 4 x 2 x 2 x 2)
WORKER_RESTRICT = "LLL=epsilon;MLL=epsilon;FCL=epsilon,zplus;attention=attnlrp,cp"


@contextlib.contextmanager
def _worker_storage(kind: str):
    """A fresh storage for one worker measurement: a SQLite file in a temporary folder, or a throwaway PostgreSQL."""
    if kind == "postgresql":
        from pbe_utils.testing import throwaway_postgres

        with throwaway_postgres() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/b.db"


def bench_workers(
    storage: str = "sqlite", model: str = "vit_tv", profile: str = "default", restrict: str = WORKER_RESTRICT
) -> dict[int, tuple[float, float]]:
    """A 32-point grid study of ``profile`` on ``model`` (the search's real trials) on a fresh ``storage`` (``sqlite``
    or ``postgresql``) with one worker vs two worker processes of one thread each: trials per minute over the wall
    time (start-up included) and over the span from the first trial's start to the last trial's end (start-up
    excluded)."""
    import optuna

    from pbe_utils.composites import grid_points, parse_restrict

    n = len(grid_points(get_spec(model).family.space(parse_restrict(restrict))))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = {}
    for workers in (1, 2):
        with _worker_storage(storage) as url:
            base = worker_command(url, "bench", profile, model, "grid", restrict=restrict)
            subprocess.run(base + ["--create-only"], check=True, capture_output=True, env=env)  # create + enqueue
            t = time.perf_counter()
            procs = [subprocess.Popen(base + ["--join"], env=env, stdout=subprocess.DEVNULL) for _ in range(workers)]
            for p in procs:
                p.wait()
            wall = time.perf_counter() - t
            trials = optuna.load_study(study_name="bench", storage=url).get_trials(deepcopy=False)
            done = [t for t in trials if t.datetime_complete]
            span = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
            out[workers] = (n / wall * 60, len(done) / span * 60)
    return out


def print_workers(storages: list[str]) -> None:
    for storage in storages:
        try:
            w = bench_workers(storage)
        except (FileNotFoundError, ImportError, subprocess.CalledProcessError) as err:
            print(f"\nsearch workers on {storage}: not measured ({err})")
            continue
        print(
            f"\nsearch workers (default protocol, vit_tv, 32-point grid, {storage}, 1 thread per worker): trials/min "
            f"over the wall time {w[1][0]:.1f} with 1 worker, {w[2][0]:.1f} with 2 ({w[2][0] / w[1][0]:.2f}x); over "
            f"the trials' span {w[1][1]:.1f} and {w[2][1]:.1f} ({w[2][1] / w[1][1]:.2f}x)"
        )


def grid_times() -> list[str]:
    """Per shipped grid: points, the sum and median of its trial times, and the wall span of its trials."""
    import json
    import statistics
    from datetime import datetime

    from pbe_utils.grid import SHIPPED_GRIDS

    lines = []
    for path in sorted(SHIPPED_GRIDS.glob("search_grid_default_*.json")):
        rec = json.loads(path.read_text())
        sec = [p["seconds"] for p in rec["points"]]
        span = datetime.fromisoformat(rec["trials_to"]) - datetime.fromisoformat(rec["trials_from"])
        lines.append(
            f"{rec['model']:9s} | {len(sec):5d} points | trial time {sum(sec) / 60:6.1f} min (median "
            f"{statistics.median(sec):.2f} s) | wall {span.total_seconds() / 60:6.1f} min | commit {rec['commit']}"
        )
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no worker benchmark")
    ap.add_argument("--workers-only", action="store_true", help="only the worker benchmark")
    ap.add_argument(
        "--worker-storage",
        default="sqlite,postgresql",
        help="storages of the worker benchmark, comma-separated (sqlite, postgresql; default both)",
    )
    args = ap.parse_args(argv)
    storages = [x.strip() for x in args.worker_storage.split(",") if x.strip()]
    bad = [x for x in storages if x not in ("sqlite", "postgresql")]
    if bad or not storages:
        ap.error(f"--worker-storage {args.worker_storage!r} is not accepted; use sqlite, postgresql or both")
    bound_onednn_cache()
    if args.workers_only:
        print_workers(storages)
        return 0
    torch.manual_seed(0)
    repeats = 3 if args.quick else 7
    ref = ImageSet(torch.randn(100, 1, 28, 28), torch.arange(100) % 10, ())
    ev = ImageSet(torch.randn(1000, 1, 28, 28), torch.arange(1000) % 10, ())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print("LRP pass / plain forward + backward (gradient x input), per composite; 20-rate curve / 20 inferences")
    print(
        f"{'model':9s} | {'fwd+bwd':>8s} | LRP per composite (ratio) | {'20 infer':>8s} {'curve':>7s} {'ratio':>6s}"
        f" | {'masked':>7s} {'ratio':>6s}"
    )
    for name in MODELS:
        a, lrp = bench_relevance(name, ref, repeats)
        c, d, m = bench_curve(name, ev, max(1, repeats // 2))
        per = ", ".join(f"{k} {v * 1e3:.1f}ms ({v / a:.2f}x)" for k, v in lrp.items())
        print(f"{name:9s} | {a * 1e3:6.1f}ms | {per} | {c:7.2f}s {d:6.2f}s {d / c:5.2f}x | {m:6.2f}s {m / c:5.2f}x")
    for name in MODELS:
        best = grid_best(name)
        if best is not None:
            print(f"  best composite of {name}'s grid: {get_spec(name).family.label(best)}")
    print("\nsearch trial (default protocol: 2 search tasks) vs one LRP-ε pass + 20 inferences over the same images")
    for name in MODELS:
        for label, comp in (("LRP-ε", LRP_EPSILON), ("best", grid_best(name))):
            if comp is None:
                continue
            a, b, r, parts = bench_trial(name, max(1, repeats // 2), comp)
            other = b - parts["scores"] - parts["curves"]
            print(
                f"{name:9s} {label:6s}| floor {a:6.2f}s trial {b:6.2f}s ratio {r:5.2f}x | scores "
                f"{parts['scores']:.2f}s, curves {parts['curves']:.2f}s, other {other:.2f}s"
            )
    x = ev.x[:128]
    print("\ncompression (random scores; ratios vs the unpruned model, interleaved timing)")
    for name in MODELS:
        model = build_model(name)
        kind = get_spec(name).family.kinds[0]
        comps = find_components(model, kind)
        scores = [torch.rand(c.size) for c in comps]
        macs0, _ = count_macs(model, x)
        for rate in (0.3, 0.5):
            small, rep = remove_components(model, comps, global_masks(scores, rate), x[:1])
            lat = latency_ms({"base": model, "pruned": small}, x, rounds=5 if args.quick else 10)
            mac_ratio = count_macs(small, x)[0] / macs0
            print(
                f"{name:9s} {kind:8s} {rate:.0%}: removed {rep.removed}/{rep.masked}, MACs x{mac_ratio:.2f},"
                f" speed-up {lat['base'] / lat['pruned']:.2f}x"
            )
    if not args.quick:
        print_workers(storages)
    print("\nexhaustive grids shipped in book/data (trial times as measured when each was written)")
    for line in grid_times():
        print(line)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
