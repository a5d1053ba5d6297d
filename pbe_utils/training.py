"""Training the study's models: recipes (:data:`DEFAULT_TRAIN`), deterministic augmentation, the training loop and
content-addressed checkpoints (a model is trained once per recipe and data, then loaded)."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pbe_utils.cache import atomic_torch_save, cache_dir, safe_torch_load, stable_hash
from pbe_utils.data import ImageSet
from pbe_utils.models import accuracy, build_model, get_spec, load_weights


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe. Every random choice (order, shifts, flips) comes from one CPU generator seeded with
    ``seed``, so a run is deterministic on CPU and draws the same batches on any device."""

    epochs: float = 3
    batch_size: int = 128
    lr: float = 0.05
    weight_decay: float = 5e-4
    seed: int = 0
    max_train: int | None = None  # use only the first n training images (smoke profile)
    shift: int = 0  # random translation by up to ``shift`` pixels (pad and crop), 0 = none
    flip: bool = False  # random horizontal flips
    label_smoothing: float = 0.0
    warmup: float = 0.15  # fraction of the steps in OneCycle's warm-up


#: the zoo's recipes (``python -m pbe_utils.zoo train`` runs them; see ``zoo/manifest.json`` for what they gave)
DEFAULT_TRAIN = {
    "vgg": TrainConfig(epochs=30, lr=0.05, shift=2, flip=True),
    "resnet": TrainConfig(epochs=30, lr=0.05, shift=2, flip=True),
    "vit_tv": TrainConfig(epochs=80, batch_size=256, lr=2e-3, weight_decay=0.05, shift=2, flip=True, warmup=0.1),
    "vit_timm": TrainConfig(epochs=80, batch_size=256, lr=2e-3, weight_decay=0.05, shift=2, flip=True, warmup=0.1),
    "deit": TrainConfig(epochs=80, batch_size=256, lr=2e-3, weight_decay=0.05, shift=2, flip=True, warmup=0.1),
}


def augment(x: torch.Tensor, shifts: torch.Tensor, flips: torch.Tensor, pad: int, fill: float) -> torch.Tensor:
    """Translate each image of ``x`` (B, C, H, W) by ``shifts[b] - pad`` pixels (rows, cols), filling with
    ``fill``, and mirror the rows of the images where ``flips`` is true. Pure indexing: exact on any device."""
    if pad > 0:
        B, _, H, W = x.shape
        xp = nn.functional.pad(x, (pad, pad, pad, pad), value=fill)
        rows = shifts[:, 0, None] + torch.arange(H, device=x.device)  # (B, H)
        cols = shifts[:, 1, None] + torch.arange(W, device=x.device)  # (B, W)
        b = torch.arange(B, device=x.device)[:, None, None]
        x = xp[b, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)
    if bool(flips.any()):
        x = torch.where(flips.view(-1, 1, 1, 1), x.flip(-1), x)
    return x


def train_model(
    name: str,
    train: ImageSet,
    config: TrainConfig,
    test: ImageSet | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
    eval_every: int = 0,
    **arch,
) -> tuple[nn.Module, dict]:
    """Train a registry model from scratch; deterministic for ``config.seed`` on CPU. Returns (model, history).

    ``history`` holds the training loss every 20 steps, the test accuracy every ``eval_every`` epochs (0 = at the
    end only), and the seconds spent. ``arch`` overrides the architecture's defaults (the zoo sweep uses it)."""
    torch.manual_seed(config.seed)
    dev = torch.device(device)
    model = build_model(name, **arch).to(dev)
    model.train()
    data = train if config.max_train is None else train.subset(np.arange(min(config.max_train, len(train))))
    steps_per_epoch = math.ceil(len(data) / config.batch_size)
    total = max(1, int(round(config.epochs * steps_per_epoch)))
    opt = get_spec(name).family.optimizer(model.parameters(), config.lr, config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total, pct_start=config.warmup)
    gen = torch.Generator().manual_seed(config.seed)
    fill = float(data.x.min())  # the background value of the normalised images
    xs, ys = data.x.to(dev), data.y.to(dev)
    history: dict = {"step": [], "loss": [], "epoch": [], "epoch_test_accuracy": [], "test_accuracy": None}
    start, step = time.perf_counter(), 0
    bar = tqdm(total=total, desc=f"train {name}", disable=not progress, leave=False)
    while step < total:
        order = torch.randperm(len(data), generator=gen)
        for i in range(0, len(order), config.batch_size):
            if step >= total:
                break
            idx = order[i : i + config.batch_size]
            shifts = torch.randint(0, 2 * config.shift + 1, (len(idx), 2), generator=gen)
            flips = torch.rand(len(idx), generator=gen) < (0.5 if config.flip else 0.0)
            idx = idx.to(dev)
            xb = augment(xs[idx], shifts.to(dev), flips.to(dev), config.shift, fill)
            out = model(xb)
            loss = nn.functional.cross_entropy(out, ys[idx], label_smoothing=config.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 20 == 0 or step == total:
                history["step"].append(step)
                history["loss"].append(float(loss.detach()))
            bar.update(1)
        epoch = step / steps_per_epoch
        if test is not None and eval_every and (round(epoch) % eval_every == 0 or step >= total):
            history["epoch"].append(round(epoch, 3))
            history["epoch_test_accuracy"].append(accuracy(model, test))
            model.train()
    bar.close()
    model.eval()
    history["seconds"] = time.perf_counter() - start
    if test is not None:
        history["test_accuracy"] = accuracy(model, test)
    return model, history


def checkpoint_path(name: str, config: TrainConfig, data_fingerprint: str) -> Path:
    """Where a content-addressed checkpoint with ``key`` lives in the cache."""
    key = stable_hash({"model": name, "train": asdict(config), "data": data_fingerprint, "v": 1})
    return cache_dir() / "checkpoints" / f"{name}-{key}.pt"


def data_fingerprint(data: ImageSet) -> str:
    """An exact content fingerprint of a dataset: the sha256 of its pixel and label bytes (independent of the
    number of threads, unlike a floating-point sum)."""
    h = hashlib.sha256(np.ascontiguousarray(data.x.numpy()).tobytes())
    h.update(np.ascontiguousarray(data.y.numpy()).tobytes())
    return stable_hash([len(data), h.hexdigest()])


def get_trained_model(
    name: str,
    train: ImageSet,
    config: TrainConfig | None = None,
    test: ImageSet | None = None,
    progress: bool = True,
) -> tuple[nn.Module, dict]:
    """Return a trained embedded model, from the checkpoint cache when the same (architecture, data, settings)
    was trained before; otherwise train it and write the checkpoint atomically."""
    spec = get_spec(name)
    if spec.profile != "embedded":
        raise ValueError(f"model={name!r} is a paper-profile model; use build_model({name!r}, weights=...)")
    config = config or DEFAULT_TRAIN[name]
    path = checkpoint_path(name, config, data_fingerprint(train))
    if path.exists():
        blob = safe_torch_load(path)
        model = load_weights(build_model(name), path, name)
        meta = blob.get("meta", {}) if isinstance(blob, dict) else {}
        history = {k: meta.get(k) for k in ("step", "loss", "test_accuracy", "seconds")}
        history["cached"] = True
        return model, history
    model, history = train_model(name, train, config, test, progress)
    atomic_torch_save({"state_dict": model.state_dict(), "meta": history}, path)
    history["cached"] = False
    return model, history
