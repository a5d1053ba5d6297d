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
# # How many reference samples?
#
# ```{admonition} In this chapter
# **You will** see how the number of reference samples affects pruning quality and the stability of the ranking.
#
# **Prerequisites:** chapter 01.
#
# **Time:** 15 min reading; re-running it: see the table on the re-run page.
# ```
#
# **Claim** {cite}`hatefi2024pruning`: about 10 reference samples per class suffice for CNNs (App. Fig. A.2), and
# ViTs are insensitive to the number between 1 and 100 per class (Fig. 5).
#
# **Set-up.** LRP-ε relevance from n reference samples per class, n in the profile's sweep; for each n and seed
# a new stratified draw. We measure the pruning quality ($A_{PR}$ on the test split) and the *stability* of the
# ranking: the Spearman correlation between the component scores obtained from two seeds' reference sets.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display
from scipy.stats import spearmanr

from pbe_utils import claims, plots, verdicts
from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.models import REGISTRY
from pbe_utils.profiles import get_profile
from pbe_utils.study import evaluate_method, get_model, make_task

P = get_profile(profile, **overrides)
plots.setup()

# %%
rows, corr_rows = [], []
for name in P.models:
    model, _ = get_model(P, name, progress=False)
    comps = find_components(model)
    family = REGISTRY[name].family.upper()
    flat = {}
    for n in P.ref_sweep:
        for seed in P.seeds:
            task = make_task(P, seed, n_ref=n)
            res = evaluate_method(model, comps, task, "lrp", LRP_EPSILON, P)
            rows.append({"model": name, "family": family, "n_ref": n, "seed": seed, "A_PR": res["A_PR"],
                         "Top-PR": res["Top-PR"]})
            flat[n, seed] = np.concatenate([s.numpy() for s in res["scores"]])
    n_max = max(P.ref_sweep)
    for n in P.ref_sweep:  # rank stability: agreement with the ranking from the most references, same task
        for seed in P.seeds:
            corr_rows.append({"model": name, "family": family, "n_ref": n, "seed": seed,
                              "Spearman": spearmanr(flat[n, seed], flat[n_max, seed]).statistic})
res = pd.DataFrame(rows)
corr = pd.DataFrame(corr_rows)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
sns.lineplot(data=res, x="n_ref", y="A_PR", hue="model", style="family", errorbar="se", marker="o", ax=axes[0])
axes[0].set(xscale="log", xlabel="reference samples per class", ylabel="A_PR (test)",
            title="Pruning quality vs number of reference samples")
sns.lineplot(data=corr, x="n_ref", y="Spearman", hue="model", style="family", errorbar="se", marker="o", ax=axes[1],
             legend=False)
axes[1].set(xscale="log", xlabel="reference samples per class", ylabel=f"rank correlation with n={max(P.ref_sweep)}",
            title="Ranking stability vs number of reference samples")
handles, labels = axes[0].get_legend_handles_labels()
axes[0].legend_.remove()  # one legend, outside the data
fig.tight_layout()
fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
plt.show()

# %%
table = res.groupby(["model", "n_ref"])["A_PR"].mean().unstack("n_ref")
table

# %% [markdown]
# ## Verdict

# %%
lo, hi = min(P.ref_sweep), (10 if 10 in P.ref_sweep else max(P.ref_sweep))
c4 = verdicts.compare(res.assign(method=res["n_ref"].map(lambda n: f"n={n}"), kind=res["family"]),
                      f"n={hi}", f"n={lo}", by=("model", "kind"))
cnn, vit = c4[c4.kind == "CNN"], c4[c4.kind == "VIT"]
v_cnn = verdicts.claim_verdict(cnn)  # CNNs gain from more references
vit_ties = bool(len(vit)) and bool((vit.outcome == "tie").all())  # ViTs are insensitive: equivalence
vit_moves = bool(vit.outcome.isin(["win", "loss"]).any())
holds = (True if v_cnn.holds and vit_ties else False if v_cnn.holds is False or vit_moves else None)
reason = f"CNNs: {v_cnn.reason}; ViTs: " + ", ".join(vit.outcome)
stab = corr.groupby(["family", "n_ref"])["Spearman"].mean().unstack("n_ref")
ours = (f"ΔA_PR {hi} − {lo} refs/class [95 % CI]: " + verdicts.describe(c4) + f"; rank correlation at {lo}/class with "
        f"the ranking from {max(P.ref_sweep)}/class: " + ", ".join(f"{f} {stab.loc[f, lo]:.2f}" for f in stab.index))
claims.record("C4", "04", "CNNs need ~10 reference samples per class; ViTs are insensitive to the number",
              "CNN: >= 10 per class suffices (App. Fig. A.2); ViT: flat between 1 and 100 (Fig. 5) (secondary source)",
              ours, holds, P.name, evidence=c4, reason=reason)
display(c4[["model", "kind", "n", "difference", "ci_low", "ci_high", "outcome"]].round(4))
display(Markdown(
    f"**Verdict: {claims.verdict(holds)}** ({reason}). The claim needs a gain for every CNN (a win) and no change "
    f"for every ViT (a tie within ±{verdicts.MARGIN}). {ours}."
))

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-04-1
# Why does the rank correlation between two seeds rise with n even when $A_{PR}$ no longer changes?
# ```
#
# ```{solution} ex-04-1
# :class: dropdown
# The score is a mean over reference samples; its sampling noise shrinks like $1/\sqrt{n}$, so rankings of
# components with similar relevance stabilise. Pruning quality depends mostly on the clearly irrelevant
# components, which are found already with few samples.
# ```
