"""Quantus through the project's wrapper: a hand computation on three pixels, and LRP-ε heatmaps scoring better
than random and reversed ones on the project's VGG."""

import numpy as np
import pytest

from pbe_utils.composites import LRP_EPSILON
from pbe_utils.faithfulness import faithfulness_metrics


def test_pixel_flipping_and_complexity_match_a_hand_computation_on_three_pixels():
    """Quantus through the project's wrapper on a 1x3 image: flip the most relevant pixel first, replace it with the
    image's darkest value, read the softmax probability of the label after each step, integrate over [0, 1]."""
    import torch

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    x = np.array([[[[1.0, 2.0, 0.5]]]], dtype=np.float32)
    a = np.array([[[[0.1, 0.9, 0.5]]]], dtype=np.float32)
    m = faithfulness_metrics(model.eval(), x, np.array([0]), a, features_in_step=1)

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    # pixel 1 -> 0.5: logit 1 + 1 + 1.5 = 3.5; pixel 2 is already 0.5: 3.5; pixel 0 -> 0.5: 0.5 + 1 + 1.5 = 3.0
    steps = [sigmoid(3.5), sigmoid(3.5), sigmoid(3.0)]
    auc = 0.5 * ((steps[0] + steps[1]) / 2 + (steps[1] + steps[2]) / 2)
    assert m["pixel-flipping AUC"][0] == pytest.approx(auc, rel=1e-6)
    p = np.array([0.1, 0.9, 0.5]) / 1.5
    assert m["complexity"][0] == pytest.approx(-(p * np.log(p)).sum(), rel=1e-4)


def test_faithful_relevance_scores_best_under_pixel_flipping(smoke, smoke_vgg):
    """On the project's model and its LRP-ε heatmaps: flipping the most relevant pixels first lowers the label's
    probability faster than flipping them last (the negated heatmap) or in a random order."""
    import torch

    from pbe_utils.relevance import input_heatmaps
    from pbe_utils.tasks import make_task

    task = make_task(smoke, smoke.search_seeds[0])
    x, y = task.search.x[:24], task.search.y[:24]
    heat = input_heatmaps(smoke_vgg, x, y, LRP_EPSILON).unsqueeze(1).numpy()
    rand = torch.rand(heat.shape, generator=torch.Generator().manual_seed(0)).numpy()
    auc = {
        name: float(np.mean(faithfulness_metrics(smoke_vgg, x.numpy(), y.numpy(), a, 28)["pixel-flipping AUC"]))
        for name, a in (("LRP-ε", heat), ("reversed", -heat), ("random", rand))
    }
    assert auc["LRP-ε"] < auc["random"] < auc["reversed"], auc
