"""The shipped model zoo: weights trained by one recipe per model, committed as safetensors with a manifest.

``python -m pbe_utils.zoo train`` runs the recipes of :data:`pbe_utils.training.DEFAULT_TRAIN` (``make zoo``) and
writes ``zoo/<model>.safetensors`` and ``zoo/manifest.json`` (sha256, test accuracy measured on CPU, parameters,
epochs, training seconds, device, library versions, training curve, and the regime check).
``python -m pbe_utils.zoo verify`` checks every file against the manifest and its accuracy on CPU.
The default profile loads these files (:func:`load_zoo_model`); nothing is ever unpickled.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import timm
import torch
import torchvision
from safetensors import SafetensorError
from safetensors.torch import load, save
from torch import nn

from pbe_utils.cache import CorruptFileError, atomic_write_bytes, bound_onednn_cache
from pbe_utils.components import find_components, masked
from pbe_utils.data import ImageSet, load_fashion_mnist
from pbe_utils.families import family_of
from pbe_utils.manifest import MANIFEST, ZOO_DIR, read_manifest, sha256_file
from pbe_utils.models import accuracy, build_model, count_parameters
from pbe_utils.pruning import global_masks
from pbe_utils.training import DEFAULT_TRAIN, TrainConfig, train_model

REBUILD = "python -m pbe_utils.zoo train --models {name}   (or: make zoo)"
EMBEDDED = tuple(DEFAULT_TRAIN)
#: the regime check: the accuracy lost when this fraction of a model's components is pruned at random
REGIME_RATE = 0.5
REGIME_MIN_DROP = 0.10


def save_weights(model: nn.Module, path: str | Path) -> str:
    """Write the state dict as safetensors (atomically); return the file's sha256."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, save(state))
    return sha256_file(path)


def load_zoo_model(name: str, zoo_dir: str | Path = ZOO_DIR) -> tuple[nn.Module, dict]:
    """The shipped, trained ``name`` (CPU, eval mode) and its manifest entry. The file's sha256 must match the
    manifest; a missing, corrupt, truncated or mismatched file raises an error naming the file and the command
    that rebuilds it."""
    entry = read_manifest(zoo_dir).get("models", {}).get(name)
    if entry is None:
        raise FileNotFoundError(
            f"model={name!r} is not in the zoo manifest of {str(zoo_dir)!r}; accepted: "
            f"{sorted(read_manifest(zoo_dir).get('models', {}))}. Rebuild: {REBUILD.format(name=name)}"
        )
    path = Path(zoo_dir) / entry["file"]
    fix = f"Rebuild it with: {REBUILD.format(name=name)}"
    if not path.is_file():
        raise FileNotFoundError(f"zoo weights {str(path)!r} are missing. {fix}")
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != entry["sha256"]:
        raise CorruptFileError(
            f"zoo weights {str(path)!r} do not match the manifest (sha256 {digest[:12]}... != "
            f"{entry['sha256'][:12]}...): the file is corrupt, truncated or from another run. {fix}"
        )
    try:
        state = load(blob)
    except (SafetensorError, ValueError, OSError) as err:
        raise CorruptFileError(f"zoo weights {str(path)!r} cannot be read as safetensors ({err}). {fix}") from err
    bad = sorted(k for k, t in state.items() if t.is_floating_point() and not bool(t.isfinite().all()))
    if bad:  # whatever the hash says: a model with NaN or Inf weights cannot give a meaningful number
        raise CorruptFileError(
            f"zoo weights {str(path)!r} hold non-finite values (NaN or Inf) in {bad[:3]}"
            f"{' and more' if len(bad) > 3 else ''}. {fix}"
        )
    model = build_model(name)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CorruptFileError(
            f"zoo weights {str(path)!r} do not fit architecture {name!r}: {str(err)[:300]}. {fix}"
        ) from err
    return model.eval(), entry


# ------------------------------------------------------------------------------------------- regime check
def random_pruning_accuracy(
    model: nn.Module, data: ImageSet, kind: str, rate: float = REGIME_RATE, draws: int = 3
) -> float:
    """Mean accuracy over ``draws`` random global prunings of ``rate`` of the components of ``kind``."""
    comps = find_components(model, kind)
    accs = []
    for d in range(draws):
        gen = torch.Generator().manual_seed(1000 + d)
        scores = [torch.rand(c.size, generator=gen) for c in comps]
        with masked(model, comps, global_masks(scores, rate)):
            accs.append(accuracy(model, data))
    return float(np.mean(accs))


def kinds_of(model: nn.Module) -> tuple[str, ...]:
    """The component kinds of ``model``: those of its family."""
    return family_of(model).kinds


def regime(model: nn.Module, data: ImageSet, base: float | None = None) -> dict[str, dict]:
    """Per component kind: accuracy at 50 % random pruning, the drop, and whether the drop is >= 10 points."""
    base = accuracy(model, data) if base is None else base
    out = {}
    for kind in kinds_of(model):
        acc = random_pruning_accuracy(model, data, kind)
        out[kind] = {"accuracy": acc, "drop": base - acc, "ok": bool(base - acc >= REGIME_MIN_DROP)}
    return out


# ------------------------------------------------------------------------------------------------ train
def versions() -> dict:
    """The versions of the libraries that trained and evaluated the zoo."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
    }


def train_entry(
    name: str,
    train: ImageSet,
    test: ImageSet,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    device: str = "cpu",
    progress: bool = True,
    eval_every: int = 5,
    **arch,
) -> dict:
    """Train ``name`` by its recipe, save ``<out_dir>/<name>.safetensors``, and return its manifest entry (test
    accuracy and regime measured on CPU after saving)."""
    if device == "cuda":  # full-precision matmuls, so the CPU evaluation sees the numbers training saw
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    config = config or DEFAULT_TRAIN[name]
    model, hist = train_model(name, train, config, test, progress, device=device, eval_every=eval_every, **arch)
    path = Path(out_dir) / f"{name}.safetensors"
    digest = save_weights(model, path)
    model = model.cpu().eval()
    acc = accuracy(model, test)
    return {
        "file": path.name,
        "sha256": digest,
        "bytes": path.stat().st_size,
        "test_accuracy": acc,
        "parameters": count_parameters(model),
        "arch": arch,
        "recipe": asdict(config),
        "epochs": config.epochs,
        "train_seconds": round(hist["seconds"], 1),
        "device": device if device == "cpu" else torch.cuda.get_device_name(0),
        "versions": versions(),
        "history": {k: hist[k] for k in ("step", "loss", "epoch", "epoch_test_accuracy")},
        "regime": regime(model, test, acc),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_manifest(entries: dict[str, dict], zoo_dir: str | Path = ZOO_DIR) -> Path:
    """Write the manifest of ``entries`` atomically; returns its path."""
    path = Path(zoo_dir) / MANIFEST
    old = json.loads(path.read_text()) if path.is_file() else {"models": {}}
    old["models"].update(entries)
    old["command"] = "python -m pbe_utils.zoo train"
    old["data"] = "Fashion-MNIST: train = first 55,000 training images; accuracy on the 10,000 test images"
    atomic_write_bytes(path, (json.dumps(old, indent=1, sort_keys=True) + "\n").encode())
    return path


def verify(zoo_dir: str | Path = ZOO_DIR, models: tuple[str, ...] | None = None) -> dict[str, float]:
    """Check every shipped model: sha256, loadable, and its CPU test accuracy equal to the manifest's."""
    test = load_fashion_mnist("test")
    out = {}
    for name in models or tuple(read_manifest(zoo_dir)["models"]):
        model, entry = load_zoo_model(name, zoo_dir)
        acc = accuracy(model, test)
        if acc != entry["test_accuracy"]:
            raise AssertionError(f"{name}: CPU test accuracy {acc:.4f} != manifest {entry['test_accuracy']:.4f}")
        out[name] = acc
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m pbe_utils.zoo train|verify``: retrain the zoo by its recipes, or check the shipped files."""
    bound_onednn_cache()
    ap = argparse.ArgumentParser(prog="python -m pbe_utils.zoo", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the recipes and write zoo/ (weights + manifest)")
    t.add_argument("--models", nargs="+", default=list(EMBEDDED), choices=list(EMBEDDED))
    t.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    t.add_argument("--out", default=str(ZOO_DIR), help="folder for the weights and manifest (default: zoo/)")
    v = sub.add_parser("verify", help="check sha256 and CPU test accuracy of the shipped weights")
    v.add_argument("--zoo", default=str(ZOO_DIR))
    args = ap.parse_args(argv)
    if args.cmd == "verify":
        try:
            checked = verify(args.zoo)
        except (AssertionError, ValueError, OSError, CorruptFileError) as err:  # a bad manifest, hash, accuracy
            line = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
            print(f"pbe_utils.zoo: error: {line}", file=sys.stderr)
            return 1
        for name, acc in checked.items():
            print(f"{name}: ok, test accuracy {acc:.4f}")
        return 0
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device is available; use --device cpu")

    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for name in args.models:
        entry = train_entry(name, train, test, args.out, device=args.device)
        write_manifest({name: entry}, args.out)
        print(
            f"{name}: test accuracy {entry['test_accuracy']:.4f} in {entry['train_seconds']} s; "
            f"regime {entry['regime']}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
