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
# # What pruning buys
#
# ```{admonition} In this chapter
# **You will** turn masks into a physically smaller network and measure what that buys in parameters, operations and
# latency.
#
# **Prerequisites:** chapters 00-01; torch-pruning in outline.
#
# **Terms** (see the {doc}`glossary`): {term}`pruning rate`, {term}`Top-PR`.
#
# **Time:** 20 min reading; re-running it: see the table on the re-run page.
# ```
#
# The paper *masks* components and reports accuracy; a user who prunes wants a smaller and faster model. Here the
# masked components are physically removed (torch-pruning's dependency graph {cite}`fang2023depgraph` for the
# CNNs, direct surgery for MLP neurons and attention heads) and we measure what that buys: parameters, MACs, CPU
# latency of a batch (median of interleaved runs against the unpruned model, in the same process) and activation
# memory, next to the accuracy. Components whose removal would not be exact (a ResNet shortcut channel still used
# by another convolution, an `fc2` neuron writing into a ViT's residual stream) stay in the model, zeroed, and are
# counted separately: masking numbers and real numbers are not the same thing.
#
# Relevance: LRP-ε on the reference samples of seed 0. An optional short fine-tuning shows what recovery costs,
# against the paper's no-fine-tuning setting.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from pbe_utils import chapters, figures, plots
from pbe_utils.chapters import c07_what_pruning_buys as c07
from pbe_utils.profiles import get_profile

P = get_profile(profile, **overrides)
plots.setup(chapter=7)
FINETUNE_STEPS = 0 if P.name == "smoke" else 100  # only at 30 % and 50 %, where it matters most

# %%
res = chapters.what_pruning_buys(P, finetune_steps=FINETUNE_STEPS).frames["results"]
plots.table(res, "Every pruned model: components removed and zeroed, parameter and MAC ratios, speed-up and "
            "accuracy.", 4)

# %% [markdown]
# The removed model computes the masked model's function: the largest logit difference over all rows is printed
# below, and its accuracy equals the masked accuracy.

# %%
print(f"max |Δ logit| over all models and rates: {res['max |Δ logit|'].max():.2e}; accuracies equal: "
      f"{bool((res['accuracy (masked)'] - res['accuracy (removed)']).abs().max() < 1e-6)}")

# %% [markdown]
# How to read the figure: on the left, the x axis runs from the whole model (1) down to the share of its
# multiply-accumulates the pruned copy keeps, so a curve moving right to left is pruning progressing. On the right,
# the same models against their measured speed-up. A point far to the left on the first panel but close to 1 on the
# second is a model whose saving the CPU does not turn into time.

# %% mystnb={"figure": {"caption": "Accuracy of the physically pruned models against the MACs they keep (left) and their measured CPU speed-up (right).", "name": "fig-07-compute"}, "image": {"alt": "Accuracy of the physically pruned models against the MACs they keep (left) and their measured CPU speed-up (right)."}}
res["model / components"] = res["model"] + " / " + res["components"]
figures.compute_kept(res)
plt.show()

# %%
summary = res[res.rate.isin([0.3, 0.5])][["model / components", "rate", "removed", "zeroed", "parameter ratio",
                                            "MAC ratio", "speed-up", "accuracy (removed)", "accuracy (fine-tuned)"]]
plots.table(summary, "The same at 30 % and 50 % pruning.")

# %% [markdown]
# The summary below reads the results table at 30 %: how many of the masked components each model can really
# remove, what share of its multiply-accumulates it keeps, how much faster it runs on this CPU, and its accuracy.

# %%
display(Markdown(c07.summary_at(res, 0.3, FINETUNE_STEPS)))

# %% [markdown]
# ## Lab: your turn
#
# Remove the pruned components for real and time the result. The table puts what the smoke run shipped with the book
# printed beside this run's numbers: a student who runs the command on a laptop should see the smoke column, and can
# then change one thing and watch it move.

# %%
from pbe_utils import labs

numbers = {
    "max |Δ logit| (removed vs masked)": float(res["max |Δ logit|"].max()),
    **{f"parameter ratio at 50 %, {k}": float(r)
       for k, r in summary[summary.rate == 0.5][["model / components", "parameter ratio"]].itertuples(index=False)},
}
labs.show("07_what_pruning_buys", P, **numbers)

# %% [markdown]
# The solutions of the exercises below quote numbers of this run; the next cell computes them.

# %%
from pbe_utils.chapters import glue

glue("ex07_first", c07.first_speedup(res, above=1.5), display=False)

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-07-1
# *no run · about 10 min.*
#
# Why can the ResNet not remove every masked channel, and what would a pruning criterion have to do to make all
# of its choices removable?
# ```
#
# ```{solution} ex-07-1
# :class: dropdown
# Channels of the shortcut stream are shared by the stem, every block's second convolution and the downsample
# convolutions of a stage. Masking one of those convolutions' outputs zeroes only that branch; removal would cut
# the channel from the whole stream. A criterion that scores *groups* of coupled channels (summing their
# relevance, as torch-pruning's group importance does) makes every choice removable.
# ```
#
# ```{exercise}
# :label: ex-07-2
# *no run · about 5 min.*
#
# Masking a component and removing it give the same accuracy here. Why do they not give the same speed?
# ```
#
# ```{solution} ex-07-2
# :class: dropdown
# A masked component still computes its output (then multiplied by zero), so the cost is that of the full model.
# Removal shrinks the layers, but small layers are dominated by per-call overhead on a CPU, odd widths are less
# efficient, and a ResNet stream channel that some convolution still writes can only be zeroed, not removed.
# ```
#
# ```{exercise}
# :label: ex-07-3
# *default profile, reading only · about 10 min.*
#
# From the first table of this chapter (rates 0, 10, 30, 50, 70 and 90 %): at which rate does the measured
# speed-up first exceed 1.5× for each model and component kind, and what share of the MACs is left there? For a
# finer answer, call `chapters.what_pruning_buys(P, rates=(0.0, 0.2, 0.4, 0.6, 0.8))` in a new cell.
# ```
#
# ```{solution} ex-07-3
# :class: dropdown
# In this run, the first rate with a speed-up above 1.5×, with the MAC ratio and the speed-up there:
# {glue:text}`ex07_first`. Where the speed-up is below the inverse of the MAC ratio, the pruned model does not turn
# all of the saved arithmetic into time: small layers are dominated by fixed costs (memory traffic, the framework's
# overhead per operation), and a residual stream that must stay as wide as its widest user keeps some layers whole.
# ```
