"""The CONTRIBUTING.md recipe "add a model to the registry", end to end on a toy model."""

import pytest
import torch
from torch import nn

from pbe_utils.components import find_components, layer_groups, masked
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.models import REGISTRY, ModelSpec, build_model, register_model
from pbe_utils.pruning import global_masks, pruning_curve
from pbe_utils.relevance import compute_scores


class ToyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1),
            nn.BatchNorm2d(6),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


@pytest.fixture
def toy_registered():
    spec = register_model(ModelSpec("toy_cnn", "cnn", ToyCNN, "embedded", "a toy CNN for the recipe"))
    yield spec
    REGISTRY.pop("toy_cnn")


def test_a_registered_toy_model_runs_through_the_pipeline(toy_registered, toy_data):
    torch.manual_seed(0)
    model = build_model("toy_cnn")
    comps = find_components(model)
    assert [c.size for c in comps] == [6, 8] and comps[0].mask_name == "features.1"
    assert layer_groups(model)["FCL"] == ["classifier.1"]
    scores = compute_scores(model, comps, toy_data, "lrp", LRP_EPSILON)
    assert [s.numel() for s in scores] == [6, 8]
    with masked(model, comps, global_masks(scores, 0.5)):
        model(toy_data.x)
    curve = pruning_curve(model, comps, scores, toy_data, rates=[0.0, 0.5, 0.9])
    assert curve.shape == (3,) and ((0 <= curve) & (curve <= 1)).all()


def test_register_model_rejects_unknown_family():
    with pytest.raises(ValueError, match="family='rnn'"):
        register_model(ModelSpec("x", "rnn", ToyCNN, "embedded", ""))
