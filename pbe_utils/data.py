"""Datasets, reference-sample selection and class tasks.

The embedded default is Fashion-MNIST, read straight from its IDX files (Debian's ``dataset-fashion-mnist`` ships
them gzipped with checksums torchvision rejects, so we never hand them to torchvision's loader). The paper's own
setting is an ImageNet ``ImageFolder`` with ``train/`` and ``val/``.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.datasets import FashionMNIST, ImageFolder

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: the last images of the official train split are held out of training: the composite search is scored on them,
#: so the final evaluation on the test split never grades the search's own choices.
SEARCH_HOLDOUT = 5000
SPLITS = ("train", "search", "test")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class DataNotFoundError(FileNotFoundError):
    """Raised when no copy of a dataset can be found or downloaded."""


def _candidates(data_dir: str | os.PathLike | None) -> list[Path]:
    places: list[Path] = []
    if data_dir is not None:
        places.append(Path(data_dir))
    if os.environ.get("PBE_DATA_DIR"):
        env = Path(os.environ["PBE_DATA_DIR"])
        if not env.is_dir():
            raise DataNotFoundError(
                f"PBE_DATA_DIR={str(env)!r} does not exist; set it to a folder with the Fashion-MNIST IDX files "
                "or unset it"
            )
        given = places[0] if places else None
        if _find_file(env, "train-images-idx3-ubyte") is None and (
            given is None or _find_file(given, "train-images-idx3-ubyte") is None
        ):  # an explicit data_dir that holds the data wins over an empty $PBE_DATA_DIR
            raise DataNotFoundError(
                f"PBE_DATA_DIR={str(env)!r} holds no Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz], ...); set "
                "it to a folder with them or unset it"
            )
        places.append(env)
    places.append(DEBIAN_DIR)
    places.append(Path.home() / ".cache" / "pbe" / "data" / "FashionMNIST" / "raw")
    return places


def _find_file(folder: Path, stem: str) -> Path | None:
    for sub in (folder, folder / "FashionMNIST" / "raw", folder / "fashion-mnist"):
        for name in (stem, stem + ".gz"):
            if (sub / name).is_file():
                return sub / name
    return None


def find_fashion_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Return a folder holding the four Fashion-MNIST IDX files (plain or gzipped).

    Searched in order: ``data_dir``, ``$PBE_DATA_DIR``, Debian's ``/usr/share/datasets/fashion-mnist`` and
    ``~/.cache/pbe/data``; if none has the files and ``download`` is true, torchvision downloads them (online only).
    """
    if data_dir is not None and not Path(data_dir).exists():
        raise DataNotFoundError(
            f"data_dir={str(data_dir)!r} does not exist; pass a folder with the Fashion-MNIST IDX files"
        )
    places = _candidates(data_dir)
    for folder in places:
        if all(_find_file(folder, s) for pair in _FILES.values() for s in pair):
            return folder
    if download:
        try:
            root = Path.home() / ".cache" / "pbe" / "data"
            FashionMNIST(root, train=True, download=True)
            FashionMNIST(root, train=False, download=True)
            return root / "FashionMNIST" / "raw"
        except Exception as err:  # offline, or the mirror refused
            reason = f"torchvision download failed: {err}"
    else:
        reason = "download=False"
    raise DataNotFoundError(
        "Fashion-MNIST not found. Searched: "
        + ", ".join(str(p) for p in places)
        + f" ({reason}). Fix: `apt-get install dataset-fashion-mnist` (Debian), or set PBE_DATA_DIR / data_dir to a "
        "folder with train-images-idx3-ubyte[.gz] and the three other IDX files, or run once online."
    )


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {arr.size}")
    return arr.reshape(shape)


@dataclass(frozen=True)
class ImageSet:
    """Normalised images ``x`` (N, C, H, W) and integer labels ``y`` (N,), kept in memory."""

    x: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, indices: np.ndarray | torch.Tensor | list[int]) -> "ImageSet":
        """The images and labels at ``idx`` (same class names)."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        return ImageSet(self.x[idx], self.y[idx], self.classes)


def load_fashion_mnist(split: str = "train", data_dir: str | os.PathLike | None = None) -> ImageSet:
    """Load a split of Fashion-MNIST: ``train`` (55,000 training images), ``search`` (the 5,000 held-out training
    images used to score composites) or ``test`` (the 10,000 official test images, final evaluation)."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not accepted; use one of {SPLITS}")
    folder = find_fashion_mnist(data_dir)
    which = "test" if split == "test" else "train"
    img_path, lab_path = (_find_file(folder, s) for s in _FILES[which])
    images, labels = read_idx(img_path), read_idx(lab_path)  # type: ignore[arg-type]
    if split == "train":
        images, labels = images[:-SEARCH_HOLDOUT], labels[:-SEARCH_HOLDOUT]
    elif split == "search":
        images, labels = images[-SEARCH_HOLDOUT:], labels[-SEARCH_HOLDOUT:]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    x = (x - FASHION_MEAN) / FASHION_STD
    return ImageSet(x, torch.from_numpy(labels.astype(np.int64)), FASHION_CLASSES)


def choose_task_classes(n_total: int, k: int, seed: int) -> list[int]:
    """The classes of a k-class task, as the authors' code draws them (``torch.randperm`` after seeding); sorted."""
    if not 1 <= k <= n_total:
        raise ValueError(f"n_classes={k} is not accepted; use an integer in [1, {n_total}]")
    if k == n_total:
        return list(range(n_total))
    gen = torch.Generator().manual_seed(int(seed))
    return sorted(torch.randperm(n_total, generator=gen)[:k].tolist())


def select_reference_samples(
    labels: np.ndarray | torch.Tensor, n_per_class: int, classes: list[int] | None = None, seed: int = 0
) -> np.ndarray:
    """Indices of ``n_per_class`` reference samples of each class, drawn without replacement with a seeded
    generator. Stratified and deterministic: the same seed gives the same indices, grouped by class."""
    labels = np.asarray(labels)
    if not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise ValueError(f"n_ref={n_per_class!r} is not accepted; use a positive integer (samples per class)")
    classes = sorted(set(labels.tolist())) if classes is None else list(classes)
    rng = np.random.default_rng(int(seed))
    out = []
    for c in classes:
        pool = np.flatnonzero(labels == c)
        if len(pool) < n_per_class:
            raise ValueError(f"n_ref={n_per_class} exceeds the {len(pool)} images of class {c}")
        out.append(np.sort(rng.choice(pool, size=n_per_class, replace=False)))
    return np.concatenate(out)


def task_indices(
    labels: np.ndarray | torch.Tensor, classes: list[int], limit: int | None = None, seed: int | None = None
) -> np.ndarray:
    """Indices of the images whose label is in ``classes``: all of them, or ``limit`` of them, drawn at random
    for ``seed`` (sorted), or the first ``limit`` when ``seed`` is None."""
    labels = np.asarray(labels)
    idx = np.flatnonzero(np.isin(labels, classes))
    if limit is not None:
        if limit < 1:
            raise ValueError(f"n_eval={limit} is not accepted; use a positive integer or None")
        if seed is None or limit >= len(idx):
            idx = idx[:limit]
        else:
            idx = np.sort(np.random.default_rng(10_000 + int(seed)).choice(idx, limit, replace=False))
    return idx


# --------------------------------------------------------------------------------------------------- ImageNet
def imagenet_transform(kind: str = "crop"):
    """The paper's evaluation transforms: ``crop`` (Resize 256 + CenterCrop 224, torchvision's standard, and the
    authors' transform for reference samples) or ``squash`` (Resize to 224x224 ignoring the aspect ratio, the
    authors' evaluation transform, see book/deviations.md)."""
    norm = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    if kind == "crop":
        return T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), norm])
    if kind == "squash":
        return T.Compose([T.ToTensor(), T.Resize((224, 224)), norm])
    raise ValueError(f"transform={kind!r} is not accepted; use 'crop' or 'squash'")


def find_imagenet(root: str | os.PathLike | None = None) -> Path:
    """The ImageNet root (with ``train/`` and ``val/`` class folders): ``root`` or ``$PBE_IMAGENET``."""
    root = root if root is not None else os.environ.get("PBE_IMAGENET")
    if root is None:
        raise DataNotFoundError(
            "imagenet_root is not set: pass imagenet_root=/path (or set PBE_IMAGENET) to a folder with train/ and "
            "val/, each holding one sub-folder per class (n01440764/ ...), as torchvision's ImageFolder expects"
        )
    missing = [s for s in ("train", "val") if not (Path(root) / s).is_dir()]
    if missing:
        raise DataNotFoundError(f"imagenet_root={str(root)!r} lacks {missing}: it needs train/ and val/ class folders")
    return Path(root)


def load_imagenet_task(
    root: str | os.PathLike | None,
    n_classes: int,
    seed: int,
    n_ref: int = 10,
    transform: str = "squash",
    max_eval: int | None = None,
    n_search: int = 0,
) -> tuple[ImageSet, ImageSet, list[int], ImageSet | None]:
    """The paper's protocol (book/method.md, "Tasks and seeds"): k random classes, ``n_ref`` reference images per
    class from ``train``
    (crop transform), all ``val`` images of those classes (``transform``); optionally ``n_search`` further train
    images of the task (not reference samples) to score composites on. Returns (reference, evaluation, classes,
    search)."""
    base = find_imagenet(root)
    train = ImageFolder(base / "train", transform=imagenet_transform("crop"))
    val = ImageFolder(base / "val", transform=imagenet_transform(transform))
    classes = choose_task_classes(len(train.classes), n_classes, seed)
    ref_idx = select_reference_samples(np.array(train.targets), n_ref, classes, seed)
    eval_idx = task_indices(np.array(val.targets), classes, max_eval)

    def materialise(ds, idx) -> ImageSet:
        xs, ys = zip(*(ds[int(i)] for i in idx), strict=True)
        return ImageSet(torch.stack(xs), torch.tensor(ys), tuple(ds.classes))

    search = None
    if n_search:
        pool = np.setdiff1d(task_indices(np.array(train.targets), classes), ref_idx)
        search_idx = np.random.default_rng(int(seed) + 1).choice(pool, size=min(n_search, len(pool)), replace=False)
        search_set = ImageFolder(base / "train", transform=imagenet_transform(transform))
        search = materialise(search_set, np.sort(search_idx))
    return materialise(train, ref_idx), materialise(val, eval_idx), classes, search


def make_synthetic_imagefolder(
    root: str | os.PathLike,
    n_classes: int = 4,
    train_per_class: int = 3,
    val_per_class: int = 2,
    size: tuple[int, int] = (64, 80),
    seed: int = 0,
) -> Path:
    """Write a tiny ImageFolder with ImageNet's layout (``train/`` and ``val/``, one folder per class, random PNGs):
    for testing the paper profile where ImageNet is absent. Returns ``root``."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for split, n in (("train", train_per_class), ("val", val_per_class)):
        for c in range(n_classes):
            folder = root / split / f"n{c:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root
