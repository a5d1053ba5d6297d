# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data, reference samples and the model zoo
#
# Everything in this study stands on three choices: the data, the reference samples that relevance is computed
# on, and the trained models that are pruned. This chapter shows all three for the profile the book was run with.
#
# The paper {cite}`hatefi2024pruning` prunes ImageNet classifiers (VGG-16, ResNet-18/50, ViT-B/16). The embedded
# default replaces them by four small models trained here on Fashion-MNIST {cite}`xiao2017fashion`, built from the
# same torchvision and timm classes so that the same LRP machinery applies.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from pbe_utils import plots
from pbe_utils.components import count_components
from pbe_utils.data import FASHION_CLASSES, select_reference_samples
from pbe_utils.models import REGISTRY, count_parameters
from pbe_utils.profiles import get_profile
from pbe_utils.study import get_model, splits, train_config

P = get_profile(profile, **overrides)
plots.setup()
print(f"profile={P.name}: models {P.models}, {P.n_ref} reference samples per class, seeds {P.seeds}")

# %% [markdown]
# ## The data and its splits
#
# Fashion-MNIST has 60,000 training and 10,000 test images of 28x28 grey clothes in 10 classes. We hold the last
# 5,000 training images out of training: the composite search (chapter 02) scores composites on them, so that the
# final comparison on the test split does not grade the search's own choices. Reference samples, the images LRP
# runs on, are drawn from the training split, as in the paper.

# %%
data = splits(P)
counts = pd.DataFrame({s: np.bincount(d.y.numpy(), minlength=10) for s, d in data.items()}, index=FASHION_CLASSES)
counts.loc["total"] = counts.sum()
counts

# %%
ref_idx = select_reference_samples(data["train"].y, n_per_class=2, seed=P.seeds[0])
fig, axes = plt.subplots(2, 10, figsize=(12, 2.8))
for ax, i in zip(axes.T.flatten(), ref_idx):
    ax.imshow(data["train"].x[i, 0].numpy(), cmap="gray_r")
    ax.set_xticks([]), ax.set_yticks([])
for ax, name in zip(axes[0], FASHION_CLASSES):
    ax.set_title(name, fontsize=8)
fig.suptitle(f"Two reference samples per class (seed {P.seeds[0]}): stratified and seeded", y=1.02)
plt.show()

# %% [markdown]
# Reference samples are drawn per class with a seeded generator: the same seed always yields the same images,
# grouped by class, and different seeds give different (overlapping only by chance) sets. The paper uses 10 per
# class; chapter 04 varies that number.

# %%
a = select_reference_samples(data["train"].y, P.n_ref, seed=0)
b = select_reference_samples(data["train"].y, P.n_ref, seed=0)
c = select_reference_samples(data["train"].y, P.n_ref, seed=1)
print(f"same seed, same indices: {np.array_equal(a, b)}; seeds 0 and 1 share {len(np.intersect1d(a, c))} of {len(a)}")

# %% [markdown]
# ## The model zoo
#
# Each model is trained once per training configuration and cached under a hash of (architecture, data,
# settings); the checkpoints are loaded with `torch.load(weights_only=True)`. The prunable components follow the
# paper's definitions: every convolution's output channels for CNNs, the output neurons of both MLP layers of
# every block for ViTs, and, separately, the attention heads.

# %%
rows, histories = [], []
for name in P.models:
    model, hist = get_model(P, name)
    vit = REGISTRY[name].family == "vit"
    cfg = train_config(P, name)
    rows.append({
        "model": name, "description": REGISTRY[name].description, "parameters": count_parameters(model),
        "components": count_components(model, "neurons" if vit else "conv"),
        "component type": "MLP neurons" if vit else "conv channels",
        "heads": count_components(model, "heads") if vit else None,
        "epochs": cfg.epochs, "train seconds": round(hist["seconds"] or 0, 1),
        "test accuracy": hist["test_accuracy"],
    })
    histories += [{"model": name, "step": s, "loss": l} for s, l in zip(hist["step"], hist["loss"])]
zoo = pd.DataFrame(rows)
zoo

# %%
hist = pd.DataFrame(histories)
fig, ax = plt.subplots(figsize=(7, 3.2))
sns.lineplot(data=hist, x="step", y="loss", hue="model", ax=ax)
ax.set(xlabel="training step (batch of 128)", ylabel="cross-entropy (training batch)", yscale="log",
       title="All four models train to a low loss within a few epochs on 2 CPU cores")
plt.show()

# %%
best = zoo.sort_values("test accuracy", ascending=False).iloc[0]
display(Markdown(
    f"The zoo trains in {zoo['train seconds'].sum() / 60:.1f} min in total (when not cached). Test accuracies range "
    f"from {zoo['test accuracy'].min():.1%} to {zoo['test accuracy'].max():.1%} ({best['model']} best). "
    f"The CNNs have {int(zoo[zoo.heads.isna()]['components'].min())}-{int(zoo[zoo.heads.isna()]['components'].max())} "
    "prunable conv channels; each ViT has "
    f"{int(zoo[zoo.heads.notna()]['components'].max())} MLP neurons and {int(zoo['heads'].max())} heads. The paper's "
    "models are much larger (VGG-16: 4,224 channels; ResNet-50: 26,560; ViT-B/16: 46,080 neurons and 144 heads), "
    "and the tests check that our component enumeration gives exactly those counts on the real architectures."
))

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-00-1
# Train the VGG with half the epochs (`-p train_scale=0.5`). How much test accuracy does it lose, and does the
# checkpoint cache retrain or reuse the model?
# ```
#
# ```{solution} ex-00-1
# :class: dropdown
# The cache key contains the training settings, so a different `train_scale` trains a new model and caches it
# beside the first; the accuracy typically drops by about a point on Fashion-MNIST.
# ```
#
# ```{exercise}
# :label: ex-00-2
# Why does the study hold 5,000 training images out of training instead of searching composites on the test set?
# ```
#
# ```{solution} ex-00-2
# :class: dropdown
# A search that picks the best of many composites on the test set reports an optimistically biased score (it
# grades its own homework). Scoring on held-out training images and reporting the winner on the test split keeps
# the final comparison honest.
# ```
