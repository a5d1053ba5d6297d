#!/usr/bin/env python
"""A short check of the paper profile on the real architectures: random (or locally present) weights, a synthetic
ImageFolder with the ImageNet layout, one task, LRP-ε relevance and a pruning curve per model. Prints per-image
costs of relevance and evaluation, the numbers the runbook's estimates need.

    python scripts/paper_check.py --models vgg16 resnet18 vit_b_16 --device cuda
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.data import make_synthetic_imagefolder
from pbe_utils.models import build_model, get_spec
from pbe_utils.profiles import get_profile
from pbe_utils.study import evaluate_method, make_task


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["vgg16", "resnet18", "vit_b_16"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--weights", default="random", help="random, pretrained, or a state-dict file")
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--per-class", type=int, default=4)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_synthetic_imagefolder(
            tmp,
            n_classes=max(args.classes, 3),
            train_per_class=args.per_class + 2,
            val_per_class=args.per_class,
            size=(240, 260),
        )
        profile = get_profile(
            "paper",
            imagenet_root=str(root),
            n_ref=args.per_class,
            n_search=args.per_class,
            rates=(0.0, 0.25, 0.5, 0.75),
            weights=args.weights,
            device=args.device,
            batch_size=16,
        )
        task = make_task(profile, seed=0, n_classes=args.classes)
        print(
            f"device={args.device} ({torch.cuda.get_device_name() if args.device == 'cuda' else 'CPU'}), "
            f"{len(task.ref)} reference and {len(task.test)} evaluation images of 224x224"
        )
        for name in args.models:
            model = build_model(name, weights=args.weights).to(args.device)
            for kind in get_spec(name).family.kinds:
                comps = find_components(model, kind)
                evaluate_method(model, comps, task, "lrp", LRP_EPSILON, profile, cache=False)  # warm-up
                if args.device == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                res = evaluate_method(model, comps, task, "lrp", LRP_EPSILON, profile, cache=False)
                wall = time.perf_counter() - t0
                n_eval = len(task.test) * len(profile.rates)
                print(
                    f"{name:10s} {kind:8s} {sum(c.size for c in comps):6d} components | relevance "
                    f"{1000 * res['seconds_scores'] / len(task.ref):7.1f} ms/image | evaluation "
                    f"{1000 * res['seconds_curve'] / n_eval:7.1f} ms/image | curve {res['curve'].round(3).tolist()}"
                    f" | {wall:.1f} s"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
