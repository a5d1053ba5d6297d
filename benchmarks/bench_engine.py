#!/usr/bin/env python
"""Speed and memory of the engine, as ratios measured in one run (timings on a shared 2-core VM vary up to 4x
between runs, so only ratios within one run mean anything).

* relevance: one LRP-ε pass over a batch of reference samples vs a plain forward + backward (gradient x input)
  of the same model and batch (target <= 1.5x);
* curve: a 20-rate pruning curve vs 20 plain inference passes of the unpruned model over the same evaluation images
  (target <= 0.75x for the CNNs, <= 1.0x for the ViTs), on the incrementally pruned copy (the default) and, for
  reference, with masks on the full model;
* search trial: one trial of the default protocol vs one LRP pass + 20 inferences over the same images (<= 1.2x);
* search: trials per minute (relevance + 20-rate curve on 500 images), one worker vs two worker processes;
* compression: CPU speed-up and MAC reduction at 30 % and 50 % of the channels / neurons removed.

    python benchmarks/bench_engine.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time

import torch

from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.compress import count_macs, latency_ms, remove_components, time_in_turns
from pbe_utils.data import ImageSet
from pbe_utils.models import build_model, predict
from pbe_utils.pruning import global_masks, pruning_curve
from pbe_utils.relevance import lrp_scores
from pbe_utils.search import worker_command

MODELS = ["vgg", "resnet", "vit_timm", "vit_tv"]


def bench_relevance(name: str, data: ImageSet, repeats: int) -> tuple[float, float, float]:
    model = build_model(name)
    comps = find_components(model)

    def plain():
        x = data.x.clone().requires_grad_(True)
        out = model(x)
        (g,) = torch.autograd.grad(out, x, torch.nn.functional.one_hot(data.y, 10).float())
        return g * x

    def lrp():
        return lrp_scores(model, comps, data, LRP_EPSILON, batch_size=len(data))

    t = time_in_turns({"plain": plain, "lrp": lrp}, repeats)
    return t["plain"], t["lrp"], t["lrp"] / t["plain"]


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


def bench_trial(name: str, repeats: int) -> tuple[float, float, float, dict]:
    """One search trial of the default protocol (the search objective over its search tasks: LRP on each task's
    reference samples, then a 20-rate curve on each task's search images) vs its arithmetic floor (one LRP pass over
    the same reference samples plus 20 plain inference passes over the same images). Returns (floor, trial, ratio,
    where the trial's time goes)."""
    from pbe_utils.profiles import get_profile
    from pbe_utils.search import make_objective, space_for
    from pbe_utils.study import get_model, make_task

    P = get_profile("default")
    model, _ = get_model(P, name, progress=False)
    comps = find_components(model)
    tasks = [make_task(P, s) for s in P.search_seeds]
    ref = ImageSet(torch.cat([t.ref.x for t in tasks]), torch.cat([t.ref.y for t in tasks]), ())
    images = torch.cat([t.search.x for t in tasks])

    def floor():
        lrp_scores(model, comps, ref, LRP_EPSILON, batch_size=len(ref))
        for _ in range(20):
            predict(model, images)

    import optuna

    space = space_for("vit" if name.startswith("vit") else "cnn")
    objective = make_objective(model, comps, tasks, P, space, name.startswith("vit"), grid=False)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    parts: dict = {}

    def trial():
        study = optuna.create_study(direction="maximize")
        study.enqueue_trial(LRP_EPSILON.as_params(vit=name.startswith("vit")))
        study.optimize(objective, n_trials=1)
        t = study.trials[0]
        parts["scores"] = t.user_attrs["seconds_scores"]
        parts["curves"] = t.user_attrs["seconds_curve"]

    t = time_in_turns({"floor": floor, "trial": trial}, repeats)
    return t["floor"], t["trial"], t["trial"] / t["floor"], dict(parts)


def bench_workers(n_points: int = 16) -> tuple[float, float]:
    """Wall time of a small grid study on the smoke VGG with one worker vs two worker processes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    restrict = "LLL=epsilon;MLL=epsilon;HLL=epsilon,zplus"
    out = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/b.db"
            base = worker_command(url, "bench", "smoke", "vgg", "grid", restrict=restrict)
            subprocess.run(base + ["--create-only"], check=True, capture_output=True, env=env)  # create + enqueue
            t = time.perf_counter()
            procs = [subprocess.Popen(base + ["--join"], env=env, stdout=subprocess.DEVNULL) for _ in range(workers)]
            for p in procs:
                p.wait()
            out.append(time.perf_counter() - t)
    return n_points / out[0] * 60, n_points / out[1] * 60


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no worker benchmark")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    repeats = 3 if args.quick else 7
    ref = ImageSet(torch.randn(100, 1, 28, 28), torch.arange(100) % 10, ())
    ev = ImageSet(torch.randn(1000, 1, 28, 28), torch.arange(1000) % 10, ())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print(
        f"{'model':9s} | {'fwd+bwd':>8s} {'LRP-ε':>8s} {'ratio':>6s} | {'20 infer':>8s} {'curve':>8s} {'ratio':>6s}"
        f" | {'masked':>8s} {'ratio':>6s}"
    )
    for name in MODELS:
        a, b, r = bench_relevance(name, ref, repeats)
        c, d, m = bench_curve(name, ev, max(1, repeats // 2))
        print(
            f"{name:9s} | {a * 1e3:7.1f}ms {b * 1e3:7.1f}ms {r:5.2f}x | {c:7.2f}s {d:7.2f}s {d / c:5.2f}x"
            f" | {m:7.2f}s {m / c:5.2f}x"
        )
    print("\nsearch trial (default protocol: 2 search tasks) vs one LRP pass + 20 inferences over the same images")
    for name in MODELS:
        a, b, r, parts = bench_trial(name, max(1, repeats // 2))
        print(
            f"{name:9s} | floor {a:6.2f}s trial {b:6.2f}s ratio {r:5.2f}x | scores {parts['scores']:.2f}s, "
            f"curves {parts['curves']:.2f}s, other {b - parts['scores'] - parts['curves']:.2f}s"
        )
    x = ev.x[:128]
    print("\ncompression (random scores; ratios vs the unpruned model, interleaved timing)")
    for name in MODELS:
        model = build_model(name)
        kind = "neurons" if name.startswith("vit") else "conv"
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
        one, two = bench_workers()
        print(
            f"\nsearch (smoke VGG, 16-point grid): {one:.1f} trials/min with 1 worker, {two:.1f} with 2 "
            f"(speed-up {two / one:.2f}x)"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
