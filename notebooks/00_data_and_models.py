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
# ```{admonition} In this chapter
# **You will** tell the three ingredients of attribution-based pruning (data, reference samples, trained models) and
# check that a model is in the regime where pruning criteria can be compared.
#
# **Prerequisites:** Python and PyTorch basics.
#
# **Terms** (see the {doc}`glossary`): {term}`task`, {term}`reference samples`, {term}`pruning rate`.
#
# **Time:** 15 min reading; re-running it: see the table on the re-run page.
# ```
#
# Everything in this study stands on three choices: the data, the reference samples that relevance is computed
# on, and the trained models that are pruned. This chapter shows all three for the profile the book was run with.
#
# The paper {cite}`hatefi2024pruning` prunes ImageNet classifiers (VGG-16, ResNet-18/50, ViT-B/16). The embedded
# default replaces them by four small models trained on Fashion-MNIST {cite}`xiao2017fashion` and shipped with the
# study (`zoo/`, safetensors weights with a manifest), built from the same torchvision and timm classes so that the
# same LRP machinery applies.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from pbe_utils import plots
from pbe_utils.chapters import c00_data_and_models as c00
from pbe_utils.profiles import get_profile

P = get_profile(profile, **overrides)
plots.setup(chapter="D")  # tables D.1, D.2, ...: this page has no chapter number
print(f"profile={P.name}: models {P.models}, {P.n_ref} reference samples per class, seeds {P.seeds}")

# %% [markdown]
# ## The data and its splits
#
# Fashion-MNIST has 60,000 training and 10,000 test images of 28x28 grey clothes in 10 classes. We hold the last
# 5,000 training images out of training: the composite search (chapter 02) scores composites on them, so that the
# final comparison on the test split does not grade the search's own choices. Reference samples, the images LRP
# runs on, are drawn from the training split, as in the paper.

# %%
plots.table(c00.split_counts(P), "Images per class in each split.")

# %% mystnb={"figure": {"caption": "Two reference samples per class of the training split, drawn stratified and seeded for the first evaluation seed.", "name": "fig-00-references"}, "image": {"alt": "Two reference samples per class of the training split, drawn stratified and seeded for the first evaluation seed."}}
images, names = c00.reference_images(P, per_class=2)
plots.image_grid(images, names, per_class=2, title=f"Two reference samples per class (seed {P.seeds[0]})")
plt.show()

# %% [markdown]
# Reference samples are drawn per class with a seeded generator: the same seed always yields the same images,
# grouped by class, and different seeds give different (overlapping only by chance) sets. The paper uses 10 per
# class; chapter 04 varies that number.

# %%
draws = c00.reference_draws(P)
print(f"same seed, same indices: {draws['same seed, same indices']}; seeds 0 and 1 share "
      f"{draws['shared by seeds 0 and 1']} of {draws['drawn']}")

# %% [markdown]
# ## The model zoo
#
# The default profile loads the shipped weights (`zoo/`), checking each file's sha256 against the manifest; nothing
# is trained and nothing is unpickled. `make zoo` retrains them by the recorded recipes (SGD with Nesterov momentum
# and OneCycle for the CNNs, AdamW with OneCycle for the ViTs; random shifts of up to 2 pixels and horizontal flips;
# every random choice from one seeded generator). The two ViTs are different variants: torchvision's has a class
# token (4 blocks, MLP 256), timm's classifies the mean of its patch tokens (6 blocks, MLP 128). The prunable
# components follow the paper's definitions: every convolution's output channels for CNNs, the output neurons of
# both MLP layers of every block for ViTs, and, separately, the attention heads.

# %%
Z = c00.zoo_overview(P)
zoo, regime = Z["zoo"], Z["regime"]
plots.table(zoo, "The models of the profile: size, prunable components, training and test accuracy.")

# %% [markdown]
# Training curves, read from the manifest (written when the weights were trained; not recomputed here):

# %% mystnb={"figure": {"caption": "Training of the shipped models, read from the zoo's manifest: training loss per step (left, log scale) and test accuracy per epoch (right).", "name": "fig-00-training"}, "image": {"alt": "Training of the shipped models, read from the zoo's manifest: training loss per step (left, log scale) and test accuracy per epoch (right)."}}
if len(Z["histories"]):
    plots.training_curves(Z["histories"], Z["epochs"])
    plt.show()

# %%
missing = sorted(set(zoo["model"]) - set(Z["histories"]["model"]))
if missing:
    display(Markdown(f"No training log was recorded for {', '.join(missing)} (see `zoo/manifest.json`)."))

# %% [markdown]
# **The regime check.** The paper prunes converged networks whose components matter. A model on which pruning half
# of the components *at random* costs little cannot separate good criteria from bad ones, so we require a drop of
# at least 10 points of accuracy for every model and component kind a claim uses (mean of 3 random draws, test
# split, all 10 classes; recorded in the manifest and re-checked by the tests):

# %%
display(plots.table(regime, "How much each model depends on each kind of component: the regime checks of the zoo.")
        if len(regime) else Markdown("The models of this profile have no regime record."))

# %% [markdown]
# The summary below is computed from the two tables above: the range of test accuracies, the number of prunable
# components of each family, and whether every model and component kind passed the regime check. A claim on a model
# or kind that fails the check is not decided: the chapters set such cells aside rather than count them.

# %%
display(Markdown(c00.zoo_summary(zoo, regime)))

# %% [markdown]
# ## Lab: your turn
#
# Set up and check the zoo yourself: the smoke profile loads the same shipped models on fewer images. The table puts
# what the smoke run shipped with the book printed beside this run's numbers: a student who runs the command on a
# laptop should see the smoke column, and can then change one thing and watch it move.

# %%
from pbe_utils import labs

measured = zoo[zoo["test accuracy"].notna()].rename(columns={"test accuracy": "acc"})  # the paper profile's carry none
numbers = {f"test accuracy, {r.model}": float(r.acc) for r in measured.itertuples()}
labs.show("00_data_and_models", P, **numbers)

# %% [markdown]
# The solutions of the exercises below quote numbers of this run; the next cell computes them.

# %%
import json

from pbe_utils.chapters import glue
from pbe_utils.zoo import ZOO_DIR

cpu = json.loads((ZOO_DIR / "reproduction.json").read_text())["models"]["vgg"]  # make zoo's VGG recipe on 2 CPU cores
glue("ex00_cpu_minutes", round(cpu["train_seconds"] / 60, 1), display=False)
glue("ex00_cpu_accuracy", round(cpu["test_accuracy"], 4), display=False)
glue("ex00_shipped_accuracy", round(cpu["shipped_test_accuracy"], 4), display=False)

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-00-1
# *default profile · about 5 min (half of the VGG recipe; the whole recipe takes about 9 min on 2 CPU cores).*
#
# Retrain the VGG with half the epochs (`-p zoo=retrain -p train_scale=0.5`). How much test accuracy does it
# lose, and does the checkpoint cache retrain or reuse the model on a second run?
# ```
#
# ```{solution} ex-00-1
# :class: dropdown
# `python -m pbe_utils.run notebooks/00_data_and_models.py -p zoo=retrain -p train_scale=0.5` trains the VGG for
# 15 of its 30 epochs. The zoo's own CPU re-run of the whole recipe took {glue:text}`ex00_cpu_minutes` min and
# reached {glue:text}`ex00_cpu_accuracy` test accuracy against the shipped model's
# {glue:text}`ex00_shipped_accuracy` (`zoo/reproduction.json`), so the model is trained, not memorised: expect half
# the epochs to lose a fraction of a point to a point, which the zoo table of the re-run shows. The cache key
# contains the training settings and an exact hash of the data, so the different `train_scale` trains a new model
# and caches it beside the first; a second run with the same settings loads it from the cache in seconds.
# ```
#
# ```{exercise}
# :label: ex-00-2
# *no run · about 5 min.*
#
# Why does the study hold 5,000 training images out of training instead of searching composites on the test set?
# ```
#
# ```{solution} ex-00-2
# :class: dropdown
# A search that picks the best of many composites on the test set reports an optimistically biased score (it
# grades its own homework). Scoring on held-out training images and reporting the winner on the test split keeps
# the final comparison honest.
# ```
#
# ```{exercise}
# :label: ex-00-3
# *no run · about 5 min.*
#
# Why does each seed draw its own task (classes, reference samples and evaluation images) instead of reusing one
# task with different random pruning?
# ```
#
# ```{solution} ex-00-3
# :class: dropdown
# Because the claims are about criteria, not about one task: the spread of a difference over tasks is what a reader
# must generalise from. Pairing over the same tasks removes the task-to-task variation from the comparison of two
# methods, while the variation of the *difference* across tasks is what the interval measures.
# ```
