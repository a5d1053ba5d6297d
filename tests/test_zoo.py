"""The shipped model zoo: files match the manifest, accuracies are reproduced exactly on CPU, the regime holds,
training is bit-reproducible, and broken weight files are refused with an error that says how to rebuild them."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from pbe_utils.cache import CorruptFileError
from pbe_utils.models import REGISTRY, accuracy
from pbe_utils.zoo import (
    REGIME_MIN_DROP,
    ZOO_DIR,
    load_zoo_model,
    random_pruning_accuracy,
    read_manifest,
    sha256_file,
)

MANIFEST = read_manifest()
SHIPPED = sorted(MANIFEST["models"])
TARGET = {"cnn": 0.93, "vit": 0.90}


@pytest.fixture(scope="module")
def test_split():
    from pbe_utils.data import load_fashion_mnist

    return load_fashion_mnist("test")


def test_every_model_of_the_study_is_shipped_and_small():
    """The published profiles' models are shipped; an embedded model outside the zoo (the family added last, an
    example of CONTRIBUTING's recipe) has a training recipe, says so, and the default profile refuses it."""
    from pbe_utils.profiles import PROFILES, get_profile
    from pbe_utils.training import DEFAULT_TRAIN

    study = {m for name in ("default", "smoke") for m in PROFILES[name].models}
    assert set(SHIPPED) == study
    outside = sorted(n for n, s in REGISTRY.items() if s.profile == "embedded" and n not in SHIPPED)
    assert outside == ["deit"]
    for name in outside:
        assert name in DEFAULT_TRAIN and "not shipped" in REGISTRY[name].description
        with pytest.raises(ValueError, match=f"zoo='shipped' but \\['{name}'\\] have no shipped weights"):
            get_profile("smoke", vit_models=[name])
        assert get_profile("smoke", vit_models=[name], zoo="retrain").models == ("vgg", name)
    total = sum((ZOO_DIR / e["file"]).stat().st_size for e in MANIFEST["models"].values())
    assert total <= 10 * 2**20, f"the zoo weighs {total / 2**20:.1f} MiB, over the 10 MiB budget"


@pytest.mark.parametrize("name", SHIPPED)
def test_manifest_matches_files(name):
    entry = MANIFEST["models"][name]
    path = ZOO_DIR / entry["file"]
    assert path.suffix == ".safetensors"
    assert sha256_file(path) == entry["sha256"]
    for key in ("test_accuracy", "parameters", "recipe", "epochs", "regime"):
        assert key in entry, key


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reproduces_its_accuracy_and_regime_on_cpu(name, test_split):
    model, entry = load_zoo_model(name)
    acc = accuracy(model, test_split)
    assert acc == entry["test_accuracy"]
    assert acc >= TARGET[REGISTRY[name].family.group]
    for kind, rec in entry["regime"].items():
        at_half = random_pruning_accuracy(model, test_split, kind)
        assert at_half == pytest.approx(rec["accuracy"], abs=1e-6)
        assert acc - at_half >= REGIME_MIN_DROP, f"{name}/{kind}: random 50 % pruning costs only {acc - at_half:.3f}"


def test_short_retrain_is_bit_identical_with_augmentation():
    from dataclasses import replace

    from pbe_utils.profiles import get_profile
    from pbe_utils.tasks import splits
    from pbe_utils.training import DEFAULT_TRAIN, train_model

    data = splits(get_profile("smoke"))["train"]
    for name in ("vgg", "vit_timm"):
        cfg = replace(DEFAULT_TRAIN[name], epochs=0.02, max_train=2000, seed=5)
        assert cfg.shift > 0 and cfg.flip
        a, _ = train_model(name, data, cfg, progress=False)
        b, _ = train_model(name, data, cfg, progress=False)
        for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(va, vb), f"{name}: {k} differs between two runs"


def test_augmentation_shifts_and_flips_exactly():
    from pbe_utils.training import augment

    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    shifts = torch.tensor([[1, 1], [2, 0]])  # pad 1: (1, 1) = identity; (2, 0) = down one row, right one col
    out = augment(x, shifts, torch.tensor([False, True]), pad=1, fill=-1.0)
    assert torch.equal(out[0], x[0])
    want = torch.full((4, 4), -1.0)
    want[:3, 1:] = x[1, 0, 1:, :3]
    assert torch.equal(out[1, 0], want.flip(-1))


def _zoo_copy(tmp_path, name):
    for f in ("manifest.json", MANIFEST["models"][name]["file"]):
        shutil.copy(ZOO_DIR / f, tmp_path / f)
    return tmp_path / MANIFEST["models"][name]["file"]


def test_corrupt_truncated_and_mismatched_weights_are_refused(tmp_path):
    path = _zoo_copy(tmp_path, "vgg")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        CorruptFileError, match=r"vgg\.safetensors.*corrupt, truncated.*pbe_utils\.zoo train --models vgg"
    ):
        load_zoo_model("vgg", tmp_path)
    # a file that matches its (edited) manifest but holds another architecture's weights
    shutil.copy(ZOO_DIR / MANIFEST["models"]["resnet"]["file"], path)
    man = json.loads((tmp_path / "manifest.json").read_text())
    man["models"]["vgg"]["sha256"] = sha256_file(path)
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(CorruptFileError, match=r"(?s)do not fit architecture 'vgg'.*make zoo"):
        load_zoo_model("vgg", tmp_path)
    path.unlink()
    with pytest.raises(FileNotFoundError, match=r"vgg\.safetensors.*missing.*make zoo"):
        load_zoo_model("vgg", tmp_path)


def test_garbage_that_matches_its_hash_is_not_unpickled(tmp_path):
    """A pickle in place of the safetensors file (hash updated to match) fails to parse and runs nothing."""
    path = _zoo_copy(tmp_path, "vgg")

    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle executed')",))

    torch.save({"w": Evil()}, path)
    man = json.loads((tmp_path / "manifest.json").read_text())
    man["models"]["vgg"]["sha256"] = sha256_file(path)
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(CorruptFileError, match="cannot be read as safetensors"):
        load_zoo_model("vgg", tmp_path)


def test_default_profile_loads_the_shipped_zoo():
    from pbe_utils.profiles import get_profile
    from pbe_utils.study import get_model

    model, info = get_model(get_profile("default"), "vgg", progress=False)
    assert info["shipped"] and info["sha256"] == MANIFEST["models"]["vgg"]["sha256"]
    with pytest.raises(ValueError, match="zoo='bogus' is not accepted"):
        get_profile("default", zoo="bogus")


def test_readme_zoo_table_matches_the_manifest():
    import re

    text = (ZOO_DIR.parent / "README.md").read_text()
    for name, entry in MANIFEST["models"].items():
        row = re.search(rf"^\| `{name}` \|.*$", text, re.M)
        assert row, f"README has no zoo row for {name}"
        cells = [c.strip() for c in row.group(0).strip("|").split("|")]
        assert cells[2] == f"{entry['parameters']:,}"
        assert cells[3] == f"{100 * entry['test_accuracy']:.2f} %"
        drops = ", ".join(f"{k} {100 * v['drop']:.1f}" for k, v in sorted(entry["regime"].items()))
        assert cells[4] == drops
