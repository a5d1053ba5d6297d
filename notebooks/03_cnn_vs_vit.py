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
# # CNNs vs ViTs: which is more over-parameterised?
#
# ```{admonition} In this chapter
# **You will** measure over-parameterisation with Top-PR and compare it across architectures and task sizes.
#
# **Prerequisites:** chapter 01.
#
# **Time:** 15 min reading; re-running it: see the table on the re-run page.
# ```
#
# **Claim** {cite}`hatefi2024pruning`: transformers are more over-parameterised than CNNs. ViT-B/16 loses no
# meaningful accuracy with about 20 % of its MLP neurons pruned even on the full 1,000-class task, and restricting
# the task to fewer classes (100, 3) exposes more redundancy.
#
# **Set-up.** The same protocol for every model: LRP-ε relevance on the reference samples, global ranking, masking
# at 20 rates, test accuracy, several seeds. For the ViTs we prune MLP neurons and, in a separate experiment,
# attention heads. Top-PR is the highest rate that keeps at least 95 % of the unpruned accuracy. The task-size
# effect restricts the evaluation to k classes (the argmax runs over the task's classes; reference samples come
# from those classes only).

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from pbe_utils import claims, experiments, plots, verdicts
from pbe_utils.profiles import get_profile
from pbe_utils.study import mean_by, mean_sem_table

P = get_profile(profile, **overrides)
plots.setup()

# %%
R = experiments.cnn_vs_vit(P)
curves, summaries = R.frames["curves"], R.frames["summaries"]

# %% mystnb={"figure": {"caption": "LRP-ε pruning curves of every model and component kind (mean over seeds, band: one standard error).", "name": "fig-03-curves"}}
eps = curves[curves.method == "LRP-ε"]
fig, ax = plt.subplots(figsize=(7.5, 3.8))
sns.lineplot(data=eps, x="rate", y="accuracy", hue="model / components", errorbar="se", marker="o", markersize=4,
             ax=ax)
ax.set(xlabel="pruning rate (fraction of components removed)", ylabel="top-1 accuracy",
       title="LRP-ε pruning curves per model and component kind")
ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False)
plt.show()

# %%
s_eps = summaries[summaries.method == "LRP-ε"]
display(plots.table(mean_sem_table(s_eps, "Top-PR", index="model / components", columns="method"),
                    "Top-PR of LRP-ε pruning per model and component kind, mean ± SEM over seeds."))
display(plots.table(mean_sem_table(s_eps, "A_PR", index="model / components", columns="method"),
                    "A_PR of LRP-ε pruning per model and component kind, mean ± SEM over seeds."))

# %% [markdown]
# ## Smaller tasks expose more redundancy

# %%
task_curves, task_sum = R.frames["task curves"], R.frames["task summaries"]
plots.curves(task_curves, hue="n_classes", col="model", title="LRP-ε pruning curves by task size (number of classes)")
plt.show()
plots.table(mean_sem_table(task_sum, "Top-PR", index="n_classes", columns="model"),
            "Top-PR of LRP-ε pruning by task size (number of classes) and model, mean ± SEM over seeds.")

# %% [markdown]
# ## Verdict

# %%
top = mean_by(s_eps, "Top-PR", index="model / components", columns="method")["LRP-ε"]
apr = mean_by(s_eps, "A_PR", index="model / components", columns="method")["LRP-ε"]
c3, v3 = R.comparisons, R.verdict
c3b, v3b, small, large = R.info["C3b"], R.info["C3b verdict"], R.info["small"], R.info["large"]
ours = "ΔTop-PR ViT neurons − CNN channels [95 % CI]: " + "; ".join(
    f"{r.a} vs {r.b}: {r.difference:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}] ({r.outcome})" for r in c3.itertuples())
ours_b = f"ΔTop-PR {small} − {large} [95 % CI]: " + verdicts.describe(c3b, label=("model",), digits=2)
claims.record("C3", "03", "ViTs are more over-parameterised than CNNs (higher Top-PR)",
              "ViT-B/16 keeps accuracy at about 20 % of neurons pruned on 1000 classes; Top-PR 57 % for neurons "
              "on 3 classes (secondary source)", ours, v3.holds, P.name, evidence=c3, reason=v3.reason)
claims.record("C3b", "03", "Smaller tasks (fewer classes) can be pruned further",
              "3-class tasks prune further than 100 and 1000 classes (secondary source)",
              ours_b, v3b.holds, P.name, evidence=c3b, reason=v3b.reason)
display(plots.table(pd.DataFrame({
    "unpruned accuracy": curves[(curves.rate == 0) & (curves.method == "LRP-ε")]
    .groupby("model / components")["accuracy"].mean(),
    "Top-PR LRP-ε": top,
    "Top-PR random": summaries[summaries.method == "random"].groupby("model / components")["Top-PR"].mean(),
}), "Unpruned accuracy and mean Top-PR of LRP-ε and random pruning per model and component kind."))
display(Markdown(
    f"**C3 verdict: {v3.text}** ({v3.reason}; Top-PR in steps of 0.05, so differences within ±0.05 are ties). "
    f"{ours}.\n\n**C3b verdict: {v3b.text}** ({v3b.reason}). {ours_b}."
))

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-03-1
# The small ViTs have about as many parameters as the narrow ResNet. Is "more components" the explanation for
# their higher Top-PR, or is it something about the architecture? Design an experiment with the registry.
# ```
#
# ```{solution} ex-03-1
# :class: dropdown
# Vary width at fixed architecture (e.g. register a ResNet of width 32 and a ViT with `mlp_ratio=1`) and compare
# Top-PR against the number of components. If Top-PR follows the architecture rather than the count, the
# residual stream (which lets a block be skipped) is a better explanation than sheer size.
# ```
