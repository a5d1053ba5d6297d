"""The paper profile on CPU: a generated ImageFolder with ImageNet's layout and the real torchvision
architectures at random weights, end to end to a pruning curve; and its errors."""

import pytest
import torch

from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.data import DataNotFoundError, make_synthetic_imagefolder
from pbe_utils.models import build_model
from pbe_utils.profiles import get_profile
from pbe_utils.study import evaluate_method
from pbe_utils.tasks import make_task


@pytest.fixture(scope="module")
def imagenet_like(tmp_path_factory):
    return make_synthetic_imagefolder(
        tmp_path_factory.mktemp("imagenet"), n_classes=5, train_per_class=4, val_per_class=2, size=(230, 250)
    )


def _profile(root, **kw):
    return get_profile(
        "paper",
        imagenet_root=str(root),
        n_ref=2,
        n_search=2,
        rates=(0.0, 0.3, 0.6),
        weights="random",
        device="cpu",
        batch_size=4,
        **kw,
    )


def test_task_selection_follows_the_protocol(imagenet_like):
    p = _profile(imagenet_like)
    task = make_task(p, seed=0, n_classes=3)
    assert len(task.classes) == 3 and task.classes == make_task(p, seed=0, n_classes=3).classes
    assert torch.bincount(task.ref.y, minlength=5)[task.classes].tolist() == [2, 2, 2]  # n_ref per class, train
    assert len(task.test) == 6 and set(task.test.y.tolist()) == set(task.classes)  # all val images of the task
    assert task.ref.x.shape[1:] == (3, 224, 224) and task.test.x.shape[1:] == (3, 224, 224)
    assert set(task.search.y.tolist()) <= set(task.classes)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,kind", [("resnet18", "conv"), ("vgg16", "conv"), ("vit_b_16", "neurons"), ("vit_b_16", "heads")]
)
def test_paper_architectures_end_to_end(imagenet_like, name, kind):
    p = _profile(imagenet_like)
    task = make_task(p, seed=1, n_classes=2)
    torch.manual_seed(0)
    model = build_model(name, weights="random")
    res = evaluate_method(model, find_components(model, kind), task, "lrp", LRP_EPSILON, p, cache=False)
    assert res["curve"].shape == (3,) and all(0 <= a <= 1 for a in res["curve"])
    assert all(torch.isfinite(s).all() for s in res["scores"])


def test_missing_data_and_weights_say_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.delenv("PBE_IMAGENET", raising=False)
    p = get_profile("paper")
    with pytest.raises(DataNotFoundError, match="train/ and val/"):
        make_task(p, seed=0)
    with pytest.raises(FileNotFoundError, match="does not exist; pass the path of a state-dict file"):
        build_model("resnet18", weights=str(tmp_path / "missing.pth"))
    with pytest.raises(FileNotFoundError, match="hub/checkpoints"):  # deterministic online or offline
        build_model("resnet18", weights="IMAGENET1K_V9")
