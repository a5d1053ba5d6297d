import pytest
import torch

from pbe_utils.cache import CorruptFileError
from pbe_utils.models import REGISTRY, build_model, load_weights
from pbe_utils.training import TrainConfig, get_trained_model

EMBEDDED = [n for n, s in REGISTRY.items() if s.profile == "embedded"]


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_models_forward_shape(name):
    model = build_model(name)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize("factory", ["_small_vit_timm", "_small_vit_torchvision"])
def test_attention_adapter_keeps_the_function(factory):
    from pbe_utils import models
    from pbe_utils.families import adapt

    torch.manual_seed(0)
    model = getattr(models, factory)().eval()
    torch.nn.init.normal_(model.heads.head.weight if hasattr(model, "heads") else model.head.weight)
    x = torch.randn(4, 1, 28, 28)
    before = model(x)
    adapt(model)
    assert torch.allclose(before, model(x), atol=1e-5)
    assert set(model.state_dict()) == set(getattr(models, factory)().state_dict())  # no new parameters


def test_unknown_model_lists_registry():
    with pytest.raises(ValueError, match=r"model='alexnet' is not in the registry; accepted: \["):
        build_model("alexnet")


def test_training_is_deterministic_and_checkpoint_round_trips(smoke):
    from pbe_utils.tasks import splits
    from pbe_utils.training import train_model

    data = splits(smoke)["train"]
    cfg = TrainConfig(epochs=0.05, max_train=1000, seed=3)
    a, _ = train_model("vgg", data, cfg, progress=False)
    b, _ = train_model("vgg", data, cfg, progress=False)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    m1, h1 = get_trained_model("vgg", data, cfg, progress=False)
    m2, h2 = get_trained_model("vgg", data, cfg, progress=False)
    assert not h1["cached"] and h2["cached"]
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(m1(x), m2(x))


def test_corrupt_and_mismatched_checkpoints_get_clear_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CorruptFileError, match="bad.pt.*corrupt"):
        load_weights(build_model("vgg"), bad, "vgg")
    other = tmp_path / "resnet.pt"
    torch.save(build_model("resnet").state_dict(), other)
    with pytest.raises(CorruptFileError, match="does not match architecture 'vgg'"):
        load_weights(build_model("vgg"), other, "vgg")


def test_checkpoints_are_loaded_with_weights_only(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": Evil()}, path)
    with pytest.raises(CorruptFileError):
        load_weights(build_model("vgg"), path, "vgg")
