"""Try several architectures per zoo model in parallel and record accuracy and the regime check of each.

    python scripts/zoo_sweep.py --out results/zoo_sweep --device cuda [--scale 1.0] [--only c1 c4]

Each candidate is trained by :func:`pbe_utils.zoo.train_entry` in its own process (one CPU thread each); its
weights and manifest entry go to ``<out>/<candidate>/``. ``--scale`` multiplies the epochs (0.01 for a dry run).
The candidates tried and what they gave are recorded in ``zoo/SWEEP.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import traceback
from dataclasses import replace
from pathlib import Path

from pbe_utils.training import DEFAULT_TRAIN

VIT_T = DEFAULT_TRAIN["vit_tv"]
CANDIDATES: dict[str, tuple[str, dict, object]] = {
    "c1": ("vgg", {}, DEFAULT_TRAIN["vgg"]),
    "c2": ("vgg", {"widths": (32, 32, 64, 64, 128, 128)}, DEFAULT_TRAIN["vgg"]),
    "c3": ("resnet", {}, DEFAULT_TRAIN["resnet"]),
    "c4": ("vit_tv", {"dim": 128, "depth": 4, "heads": 4, "mlp": 256, "patch": 7}, VIT_T),
    "c5": ("vit_tv", {"dim": 128, "depth": 4, "heads": 4, "mlp": 128, "patch": 7}, VIT_T),
    "c7": ("vit_timm", {"dim": 96, "depth": 6, "heads": 4, "mlp_ratio": 2.0, "patch": 7, "global_pool": "avg"}, VIT_T),
    "c8": ("vit_timm", {"dim": 128, "depth": 6, "heads": 4, "mlp_ratio": 1.0, "patch": 7, "global_pool": "avg"}, VIT_T),
    "c10": ("vit_timm", {"dim": 64, "depth": 6, "heads": 4, "mlp_ratio": 2.0, "patch": 7, "global_pool": "avg"}, VIT_T),
    "c11": ("vit_tv", {"dim": 64, "depth": 4, "heads": 4, "mlp": 128, "patch": 7}, VIT_T),
}


def run_one(cid: str, out: str, device: str, scale: float) -> None:
    import torch

    from pbe_utils.data import load_fashion_mnist
    from pbe_utils.zoo import train_entry

    torch.set_num_threads(1)
    name, arch, config = CANDIDATES[cid]
    config = replace(config, epochs=config.epochs * scale)  # type: ignore[type-var]
    folder = Path(out) / cid
    folder.mkdir(parents=True, exist_ok=True)
    try:
        train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
        entry = train_entry(name, train, test, folder, config, device=device, progress=False, **arch)
        entry["candidate"] = cid
        (folder / "entry.json").write_text(json.dumps(entry, indent=1))
        print(
            f"{cid} {name} {arch}: acc {entry['test_accuracy']:.4f} in {entry['train_seconds']} s, "
            f"regime { {k: round(v['drop'], 3) for k, v in entry['regime'].items()} }",
            flush=True,
        )
    except Exception:
        (folder / "error.txt").write_text(traceback.format_exc())
        print(f"{cid} failed:\n{traceback.format_exc()}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/zoo_sweep")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    ids = args.only or list(CANDIDATES)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=run_one, args=(c, args.out, args.device, args.scale)) for c in ids]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
