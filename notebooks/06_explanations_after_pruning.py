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
import torch
from IPython.display import Markdown, display
from scipy.stats import pearsonr

from pbe_utils import claims, plots
from pbe_utils.components import find_components, masked
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.profiles import get_profile
from pbe_utils.pruning import global_masks
from pbe_utils.relevance import input_heatmaps
from pbe_utils.study import evaluate_method, get_model, make_task

P = get_profile(profile, **overrides)
plots.setup()
RATES = [r for r in P.rates if r <= 0.5][1::2]
N_IMAGES = 64

# %%
rows, examples = [], {}
for name, kind in [(P.cnn_models[0], "conv"), (P.vit_models[0], "heads")]:
    model, _ = get_model(P, name, progress=False)
    comps = find_components(model, kind)
    task = make_task(P, P.seeds[0])
    x, y = task.test.x[:N_IMAGES], task.test.y[:N_IMAGES]
    with torch.no_grad():
        p0 = model(x).softmax(-1)[torch.arange(len(y)), y]
    h0 = input_heatmaps(model, x, y, LRP_EPSILON).flatten(1)
    for method in ("lrp", "random"):
        scores = evaluate_method(model, comps, task, method, LRP_EPSILON if method == "lrp" else None, P)["scores"]
        for rate in RATES:
            with masked(model, comps, global_masks(scores, rate)):
                with torch.no_grad():
                    p1 = model(x).softmax(-1)[torch.arange(len(y)), y]
                h1 = input_heatmaps(model, x, y, LRP_EPSILON).flatten(1)
            cos = torch.nn.functional.cosine_similarity(h0, h1, dim=1)
            if method == "lrp" and rate == RATES[-1]:
                examples[name] = (x[:4], h0[:4].view(-1, *x.shape[2:]), h1[:4].view(-1, *x.shape[2:]), rate)
            rows += [{"model": f"{name} / {kind}", "scores": method, "rate": rate, "cosine similarity": float(c),
                      "heatmap change": 1 - float(c), "confidence loss": float(a - b)}
                     for c, a, b in zip(cos, p0, p1)]
res = pd.DataFrame(rows)

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

# %%
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
at = agg[agg.rate == RATES[-1]].pivot(index="model", columns="scores", values="cosine similarity")
preserved = bool((at["lrp"] > at["random"]).all())
ci_rows = []
for m, d in res[res.scores == "lrp"].groupby("model"):  # over images and rates, with its 95 % interval
    r = pearsonr(d["heatmap change"], d["confidence loss"])
    lo, hi = r.confidence_interval(0.95)
    ci_rows.append({"model": m, "r": float(r.statistic), "ci_low": float(lo), "ci_high": float(hi), "n": len(d)})
cis = pd.DataFrame(ci_rows)
display(cis.round(3))
holds = (True if preserved and (cis.ci_low > 0.5).all() else
         False if not preserved or (cis.ci_high < 0.5).any() else None)
ours = ("Pearson r(heatmap change, confidence loss) over images and rates [95 % CI]: "
        + ", ".join(f"{r.model} {r.r:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" for r in cis.itertuples())
        + f"; cosine at {RATES[-1]:.0%}: " + ", ".join(f"{m} LRP {at.loc[m, 'lrp']:.2f} vs random "
                                                        f"{at.loc[m, 'random']:.2f}" for m in at.index))
claims.record("C6", "06",
              "Heatmaps change little after relevance-guided pruning, and their change tracks confidence loss",
              "correlation 0.99 between heatmap change and confidence loss, ViT-B/16 heads (secondary source)",
              ours, holds, P.name, reason="holds if LRP keeps heatmaps closer than random and every r > 0.5 (CI)")
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
