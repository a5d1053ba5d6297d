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
# # Explanations after pruning
#
# ```{admonition} In this chapter
# **You will** check whether explanations survive pruning and whether their change tracks the loss of confidence.
#
# **Prerequisites:** chapter 01.
#
# **Time:** 15 min reading; re-running it: see the table on the re-run page.
# ```
#
# **Claim** {cite}`hatefi2024pruning` (Sec. 4.4): pruning the least relevant components leaves the model's
# explanations nearly intact; how much an input heatmap changes tracks how much confidence the model loses
# (correlation 0.99 in the paper's head-pruning experiment on a "corgi" task, secondary source).
#
# **Set-up.** For one CNN (channels) and one ViT (heads) we prune with LRP-ε scores, and with random scores for
# contrast, at increasing rates. For test images of the task we compute input heatmaps (LRP-ε composite) of the
# unpruned and the pruned model, their cosine similarity, and the drop of the softmax probability of the true class.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from pbe_utils import claims, experiments, plots
from pbe_utils.profiles import get_profile

P = get_profile(profile, **overrides)
plots.setup()

# %%
R = experiments.explanations_after_pruning(P, n_images=64)
res, examples, RATES = R.frames["per_image"], R.info["examples"], R.info["rates"]

# %%
for name, (xs, h0, h1, rate) in examples.items():
    fig, axes = plt.subplots(3, 4, figsize=(7, 5.4))
    for j in range(4):
        v = float(max(h0[j].abs().max(), h1[j].abs().max())) or 1.0
        axes[0, j].imshow(xs[j, 0], cmap="gray_r")
        axes[1, j].imshow(h0[j], cmap="bwr", vmin=-v, vmax=v)
        axes[2, j].imshow(h1[j], cmap="bwr", vmin=-v, vmax=v)
    for i, label in enumerate(["input", "unpruned", f"pruned {rate:.0%}"]):
        axes[i, 0].set_ylabel(label)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"{name}: LRP-ε heatmaps before and after pruning the least relevant components")
    plt.show()

# %% mystnb={"figure": {"caption": "Cosine similarity between each image's LRP-ε heatmap before and after pruning, against the pruning rate, for LRP-guided and random pruning (mean over images).", "name": "fig-06-cosine"}}
g = sns.relplot(data=res.groupby(["model", "scores", "rate"], as_index=False).mean(numeric_only=True),
                x="rate", y="cosine similarity", hue="scores", col="model", kind="line", marker="o", height=3.2)
g.set_axis_labels("pruning rate", "cosine similarity of heatmaps")
g.figure.suptitle("Cosine similarity of heatmaps before and after pruning: LRP-guided vs random", y=1.04)
plt.show()

# %%
agg = res.groupby(["model", "scores", "rate"], as_index=False).mean(numeric_only=True)
corr = {m: float(np.corrcoef(d["heatmap change"], d["confidence loss"])[0, 1]) for m, d in agg.groupby("model")}
fig, ax = plt.subplots(figsize=(6, 3.6))
sns.scatterplot(data=agg, x="heatmap change", y="confidence loss", hue="model", style="scores", s=50, ax=ax)
ax.set(xlabel="1 − cosine similarity (mean over images)", ylabel="drop of true-class probability",
       title="Heatmap change vs confidence loss")
plt.show()
pd.Series(corr, name="Pearson r (means per method and rate)")

# %% [markdown]
# ## Verdict

# %%
at, cis, holds = R.frames["cosine at the largest rate"], R.comparisons, R.verdict.holds
display(plots.table(cis, "Paired differences in heatmap change between pruning criteria: 95 % interval and outcome."))
ours = ("Pearson r(heatmap change, confidence loss) over images and rates [95 % CI]: "
        + ", ".join(f"{r.model} {r.r:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" for r in cis.itertuples())
        + f"; cosine at {RATES[-1]:.0%}: " + ", ".join(f"{m} LRP {at.loc[m, 'lrp']:.2f} vs random "
                                                        f"{at.loc[m, 'random']:.2f}" for m in at.index))
claims.record("C6", "06",
              "Heatmaps change little after relevance-guided pruning, and their change tracks confidence loss",
              "correlation 0.99 between heatmap change and confidence loss, ViT-B/16 heads (secondary source)",
              ours, holds, P.name, reason=R.verdict.reason)
display(Markdown(f"**Verdict: {claims.verdict(holds)}.** The claim needs LRP-guided pruning to keep heatmaps closer "
                 f"than random pruning and a correlation above 0.5 for every model (its 95 % interval). {ours}."))

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-06-1
# The correlation above is computed over (method, rate) means. Compute it per image instead. Is it still high?
# Why might the two differ?
# ```
#
# ```{solution} ex-06-1
# :class: dropdown
# Use `np.corrcoef(res['heatmap change'], res['confidence loss'])` per model. Per-image values are much noisier
# (some confident images lose nothing while their heatmap shifts), so the correlation is lower; averaging over
# images removes that noise, which is also what a correlation of 0.99 across conditions suggests.
# ```
