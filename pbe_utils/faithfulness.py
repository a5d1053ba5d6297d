"""Explanation metrics of input heatmaps through Quantus (chapter 09): pixel flipping, complexity, sparseness."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch


def faithfulness_metrics(model, x: np.ndarray, y: np.ndarray, a: np.ndarray, features_in_step: int) -> dict:
    """Quantus metrics of input heatmaps ``a`` (B, 1, H, W) for the labels ``y``: pixel-flipping AUC (most relevant
    first, replaced by the image's darkest value; the curve is the softmax probability of the label after each step;
    lower = more faithful), Complexity (entropy; lower = simpler) and Sparseness (Gini; higher = sparser)."""
    import quantus  # imported here: it takes seconds to import, and only chapter 09 needs it

    grad_was = torch.is_grad_enabled()  # Quantus switches gradients off for its perturbations; give them back
    try:
        with warnings.catch_warnings():
            # flipping a pixel that already has the image's darkest value (the black background of Fashion-MNIST)
            # changes nothing, which Quantus reports as a warning per step: expected here, not a fault
            warnings.filterwarnings("ignore", message=".*didn't cause change in input.*", category=UserWarning)
            return _metrics(quantus, model, x, y, a, features_in_step)
    finally:
        torch.set_grad_enabled(grad_was)


def _metrics(quantus, model, x: np.ndarray, y: np.ndarray, a: np.ndarray, features_in_step: int) -> dict:
    device = str(next(model.parameters()).device)
    kw = {"model": model, "x_batch": x, "y_batch": y, "a_batch": a, "device": device, "channel_first": True}
    # Quantus 0.6.0 integrates with ``np.trapz``, which numpy 2.4 removed: take its per-sample curves (the softmax
    # probability of the label after each step of flipping the most relevant pixels) and integrate them here
    curves: Any = quantus.PixelFlipping(
        features_in_step=features_in_step,
        perturb_baseline="black",
        return_auc_per_sample=False,
        abs=False,
        normalise=False,
        disable_warnings=True,
        display_progressbar=False,
    )(**kw)
    steps = np.asarray(curves, dtype=float)
    flip = np.trapezoid(steps, dx=1.0 / (steps.shape[1] - 1), axis=1)
    cx = quantus.Complexity(abs=True, normalise=False, disable_warnings=True)(**kw)
    sp = quantus.Sparseness(abs=True, normalise=False, disable_warnings=True)(**kw)
    return {
        "pixel-flipping AUC": np.asarray(flip, dtype=float),
        "complexity": np.asarray(cx, dtype=float),
        "sparseness": np.asarray(sp, dtype=float),
    }
