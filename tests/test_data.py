import gzip
import struct

import numpy as np
import pytest
import torch

from pbe_utils import data as D


def _write_idx(path, arr, gz=False):
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    blob = header + arr.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(blob)


@pytest.fixture
def fake_fashion(tmp_path):
    rng = np.random.default_rng(0)
    for split, n, gz in (("train", 5100, True), ("t10k", 300, False)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte{'.gz' if gz else ''}", rng.integers(0, 255, (n, 28, 28)), gz)
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte{'.gz' if gz else ''}", np.arange(n) % 10, gz)
    return tmp_path


def test_reads_plain_and_gzipped_idx(fake_fashion):
    train = D.load_fashion_mnist("train", fake_fashion)
    search = D.load_fashion_mnist("search", fake_fashion)
    test = D.load_fashion_mnist("test", fake_fashion)
    assert len(train) == 100 and len(search) == D.SEARCH_HOLDOUT and len(test) == 300
    assert train.x.shape == (100, 1, 28, 28) and train.x.dtype == torch.float32
    assert test.y.tolist()[:3] == [0, 1, 2]


def test_explicit_data_dir_wins_over_env(fake_fashion, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("PBE_DATA_DIR", str(tmp_path_factory.mktemp("empty")))
    assert D.find_fashion_mnist(fake_fashion, download=False) == fake_fashion


def test_env_var_is_searched(fake_fashion, monkeypatch):
    monkeypatch.setenv("PBE_DATA_DIR", str(fake_fashion))
    monkeypatch.setattr(D, "DEBIAN_DIR", fake_fashion / "nowhere")
    assert D.find_fashion_mnist(download=False) == fake_fashion


def test_missing_data_error_lists_places_and_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("PBE_DATA_DIR", raising=False)
    monkeypatch.setattr(D, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(D.DataNotFoundError) as err:
        D.find_fashion_mnist(tmp_path, download=False)
    msg = str(err.value)
    assert str(tmp_path / "no-debian") in msg and "apt-get install dataset-fashion-mnist" in msg


def test_nonexistent_data_dir_is_named(tmp_path):
    with pytest.raises(D.DataNotFoundError, match="data_dir="):
        D.find_fashion_mnist(tmp_path / "typo", download=True)


def test_truncated_idx_is_rejected(tmp_path):
    p = tmp_path / "bad-idx1-ubyte"
    p.write_bytes(struct.pack(">HBBI", 0, 8, 1, 10) + b"\x01\x02")
    with pytest.raises(ValueError, match="truncated"):
        D.read_idx(p)


def test_unknown_split_is_rejected(fake_fashion):
    with pytest.raises(ValueError, match="split='val'"):
        D.load_fashion_mnist("val", fake_fashion)


def test_reference_samples_are_stratified_and_deterministic():
    labels = np.repeat(np.arange(10), 50)
    a = D.select_reference_samples(labels, 5, seed=3)
    b = D.select_reference_samples(labels, 5, seed=3)
    c = D.select_reference_samples(labels, 5, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.bincount(labels[a]).tolist() == [5] * 10
    assert len(set(a.tolist())) == 50
    sub = D.select_reference_samples(labels, 2, classes=[7, 3], seed=0)
    assert labels[sub].tolist() == [7, 7, 3, 3]


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_reference_sample_count_is_validated(bad):
    with pytest.raises(ValueError, match="n_ref="):
        D.select_reference_samples(np.arange(20) % 2, bad)


def test_too_many_reference_samples():
    with pytest.raises(ValueError, match="exceeds"):
        D.select_reference_samples(np.arange(20) % 2, 11)


def test_task_classes_and_restriction():
    cls = D.choose_task_classes(1000, 3, seed=0)
    assert len(cls) == 3 and cls == sorted(cls) and cls == D.choose_task_classes(1000, 3, seed=0)
    assert D.choose_task_classes(10, 10, 5) == list(range(10))
    with pytest.raises(ValueError, match="n_classes=11"):
        D.choose_task_classes(10, 11, 0)
    labels = np.array([0, 1, 2, 1, 0, 2, 1])
    assert D.task_indices(labels, [1]).tolist() == [1, 3, 6]
    assert D.task_indices(labels, [1, 2], limit=2).tolist() == [1, 2]


def _image_folder(root, classes=("n01", "n02", "n03", "n04"), per=3):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", per + 2), ("val", per)):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    return root


def test_imagenet_task_follows_the_protocol(tmp_path):
    root = _image_folder(tmp_path / "imagenet")
    ref, ev, classes, search = D.load_imagenet_task(root, n_classes=2, seed=0, n_ref=2, transform="squash", n_search=3)
    assert search is not None and len(search) == 3 and set(search.y.tolist()) <= set(classes)
    assert len(classes) == 2 and ref.x.shape == (4, 3, 224, 224)
    assert np.bincount(ref.y.numpy(), minlength=4)[classes].tolist() == [2, 2]
    assert len(ev) == 6 and set(ev.y.tolist()) == set(classes)  # all val images of the task's classes
    ref2, _, _, _ = D.load_imagenet_task(root, n_classes=2, seed=0, n_ref=2, transform="crop")
    assert torch.equal(ref.x, ref2.x)  # reference samples always use the crop transform


def test_imagenet_errors_say_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.delenv("PBE_IMAGENET", raising=False)
    with pytest.raises(D.DataNotFoundError, match="imagenet_root is not set"):
        D.find_imagenet(None)
    (tmp_path / "train").mkdir()
    with pytest.raises(D.DataNotFoundError, match=r"lacks \['val'\]"):
        D.find_imagenet(tmp_path)
    with pytest.raises(ValueError, match="transform='zoom'"):
        D.imagenet_transform("zoom")
