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
# **Terms** (see the {doc}`glossary`): {term}`Top-PR`, {term}`pruning rate`, {term}`task`, {term}`margin`.
#
# **Time:** 15 min reading; re-running it: see the table on the re-run page.
# ```
#
# **Claim** {cite}`hatefi2024pruning` (the registry's C3 and C3b): transformers are more over-parameterised than CNNs.
# ViT-B/16 loses no
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
from IPython.display import Markdown, display

from pbe_utils import chapters, claims, figures, plots, verdicts
from pbe_utils.profiles import get_profile
from pbe_utils.study import mean_sem_table

P = get_profile(profile, **overrides)
plots.setup(chapter=3)

# %%
R = chapters.cnn_vs_vit(P)
curves, summaries = R.frames["curves"], R.frames["summaries"]

# %% mystnb={"figure": {"caption": "LRP-ε pruning curves of every model and component kind (mean over seeds, band: one standard error).", "name": "fig-03-curves"}, "image": {"alt": "LRP-ε pruning curves of every model and component kind (mean over seeds, band: one standard error)."}}
figures.line_curves(curves[curves.method == "LRP-ε"], hue="model / components", ylabel="top-1 accuracy",
                    title="LRP-ε pruning curves per model and component kind",
                    xlabel="pruning rate (fraction of components removed)")
plt.show()

# %% [markdown]
# How to read the figure: the x axis is the share of a model's components of one kind that are removed, so curves of
# different architectures and kinds share one scale even though a ViT head and a CNN channel are very different
# amounts of model. A curve that stays flat further to the right has more components it does not need: that is the
# paper's notion of over-parameterisation, and Top-PR measures it as the last rate within 95 % of the unpruned
# accuracy. The tables give Top-PR and $A_{PR}$ per model and component kind with their standard errors.

# %%
s_eps = summaries[summaries.method == "LRP-ε"]
display(plots.table(mean_sem_table(s_eps, "Top-PR", index="model / components", columns="method"),
                    "Top-PR of LRP-ε pruning per model and component kind, mean ± SEM over seeds."))
display(plots.table(mean_sem_table(s_eps, "A_PR", index="model / components", columns="method"),
                    "A_PR of LRP-ε pruning per model and component kind, mean ± SEM over seeds."))

# %% [markdown]
# ## Smaller tasks expose more redundancy
#
# A task of $k$ classes uses only the part of the model that separates those classes; the rest of its components
# are, for that task, redundant. The paper's second claim (C3b) is that fewer classes therefore leave more to prune.
# Each curve below restricts the model's output to the $k$ classes drawn for a seed, explains and prunes with
# reference samples of those classes only, and measures the accuracy on their test images.

# %% mystnb={"figure": {"caption": "LRP-ε pruning curves by task size (number of classes drawn per seed) for the first CNN and the first ViT (mean over seeds, band: one standard error).", "name": "fig-03-tasks"}, "image": {"alt": "LRP-ε pruning curves by task size (number of classes drawn per seed) for the first CNN and the first ViT (mean over seeds, band: one standard error)."}}
task_curves, task_sum = R.frames["task curves"], R.frames["task summaries"]
plots.curves(task_curves, hue="n_classes", col="model", col_wrap=2,
             title="LRP-ε pruning curves by task size (number of classes)")
plt.show()

# %%
plots.table(mean_sem_table(task_sum, "Top-PR", index="n_classes", columns="model"),
            "Top-PR of LRP-ε pruning by task size (number of classes) and model, mean ± SEM over seeds.")

# %% [markdown]
# Read the task-size table across a row: if C3b holds, Top-PR rises as the number of classes falls, for every
# model. The verdict below compares the smallest task size with the largest, paired over seeds.
#
# ## Components or parameters?
#
# Top-PR counts *components*, the paper's unit: the claim's primary comparison is made in it. A component is not the
# same amount of model in every architecture: a ViT's MLP neuron frees its fc1 row and fc2 column, a head its slices
# of the attention projections, a CNN channel its filters *and* the next layer's inputs. So pruning every component
# of a kind removes at most a *ceiling* share of the parameters, and the comparison in parameters (also asked) is
# made on the share of the **removable** parameters removed at each seed's Top-PR, counted on the physically pruned
# copy:

# %%
removed = R.frames["removed"]
display(plots.table(
    removed.groupby(["model", "kind"])[["Top-PR", "parameters removed", "ceiling",
                                        "share of removable parameters removed", "MACs removed"]].mean().reset_index(),
    "Mean over seeds of Top-PR (share of components), the share of parameters removed at that rate, the kind's "
    "ceiling (the share removed when every component of the kind is pruned), the share of the removable parameters "
    "removed, and the share of MACs removed, per model and component kind (physically pruned copy).", 3))

# %% [markdown]
# The ceiling column is the key to this table: it is the largest share of the model's parameters that pruning can
# free with components of that kind, and it is far below one for a ViT's neurons and heads (its embeddings, norms,
# attention projections or MLP weights stay). Dividing by it puts a ViT and a CNN on one scale: the share of what
# *could* be removed that *was* removed at Top-PR.
#
# ## Verdict
#
# C3 compares each ViT kind with each CNN's channels, C3b each model's smallest task with its largest. Both are
# paired over the evaluation seeds, with a margin of 0.05, one step of the rate grid.

# %%
v3, v3b, small, large = R.claims["C3"], R.claims["C3b"], R.info["small"], R.info["large"]
c3, c3b = v3.cells, v3b.cells
display(plots.table(verdicts.cell_table(c3, labels=("model", "kind", "b")),
                    "C3's cells: each ViT kind − each CNN's channels, paired over seeds; primary in Top-PR "
                    "(components), also asked in the share of removable parameters removed (interval as decided, "
                    "margin 0.05).", 3))
ours = "Δ ViT − CNN [interval as decided]: " + verdicts.describe(c3, label=("model", "kind", "b"), digits=2)
ours_b = (f"ΔTop-PR {small} − {large} [interval as decided]: "
          + verdicts.describe(c3b, label=("model", "kind"), digits=2))
ceil = removed.groupby(["model", "kind"])["ceiling"].first()
claims.record("C3", ours, v3, P, extra={"ceilings": {f"{m}/{k}": float(c) for (m, k), c in ceil.items()}})
claims.record("C3b", ours_b, v3b, P)
display(Markdown(
    f"**C3 label: {v3.label}** ({v3.reason}).\n\n"
    f"**C3b label: {v3b.label}** ({v3b.reason}; Top-PR moves in steps of 0.05, so differences within ±0.05 "
    f"are ties). {ours_b}."
))
tp = s_eps.groupby("kind")["Top-PR"].mean()
vit_ceil = ceil[[k != "conv" for _, k in ceil.index]]
chapters.glue_claim("C3", v3, vit_neurons=float(tp.get("neurons", float("nan"))),
                    vit_heads=float(tp.get("heads", float("nan"))), cnn=float(tp.get("conv", float("nan"))),
                    ceil_min=float(vit_ceil.min()), ceil_max=float(vit_ceil.max()))
chapters.glue_claim("C3b", v3b)

# %% [markdown]
# ## How this compares with the paper
#
# The paper reports {glue:md}`C3_paper`. Here, averaged over models and tasks, LRP-ε pruning reaches a Top-PR of
# {glue:text}`C3_vit_neurons:.2f` of the ViTs' MLP neurons and
# {glue:text}`C3_vit_heads:.2f` of their heads, against {glue:text}`C3_cnn:.2f` of the CNNs' channels. Per cell:
# {glue:md}`C3_evidence`. For task size the paper reports {glue:md}`C3b_paper`; here {glue:md}`C3b_evidence`.
#
# ## What this means
#
# In the paper's unit, components, C3's label is **{glue:md}`C3_label`** ({glue:md}`C3_share` support it). Also asked,
# in parameters:
# {glue:md}`C3_also`. Pruning a ViT kind can free at most {glue:text}`C3_ceil_min:.0%` to
# {glue:text}`C3_ceil_max:.0%` of its parameters, while a CNN's channels carry nearly all of it, which is why the raw
# share of parameters (the table above) cannot carry the claim: it would decide it before any pruning. C3b's label
# is **{glue:md}`C3b_label`** ({glue:md}`C3b_share` support it).
#
# Both measures are read at each task's own Top-PR, so a model that loses accuracy early is compared at an early
# rate. What pruning saves in compute, rather than in components, is the question of {doc}`07_what_pruning_buys`,
# where the pruned models are physically smaller and timed.

# %% [markdown]
# ## Lab: your turn
#
# Measure how far each architecture can be pruned. The table puts what the smoke run shipped with the book printed
# beside this run's numbers: a student who runs the command on a laptop should see the smoke column, and can then
# change one thing and watch it move.

# %%
from pbe_utils import labs

labs.show("03_cnn_vs_vit", P, **{"C3": f"{v3.text} ({v3.share})", "C3b": f"{v3b.text} ({v3b.share})"})

# %% [markdown]
# The solutions of the exercises below quote numbers of this run; the next cell computes them.

# %%
from pbe_utils.chapters import glue

by_size = task_sum.groupby(["model", "n_classes"])["Top-PR"].mean().unstack()
glue("ex03_sizes", "; ".join(f"{m}: " + ", ".join(f"{v:.2f} ({k} classes)" for k, v in row.items())
                             for m, row in by_size.iterrows()), display=False)
glue("ex03_monotone", ", ".join(m for m, row in by_size.iterrows() if row.is_monotonic_decreasing) or "none",
     display=False)

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-03-1
# *no run, design only · about 20 min.*
#
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
#
# ```{exercise}
# :label: ex-03-2
# *no run · about 15 min.*
#
# Top-PR counts components; the parameter comparison counts parameters. Construct a toy pair of networks where the
# ViT-like one
# has the higher Top-PR in components but the lower share of parameters removed at it.
# ```
#
# ```{solution} ex-03-2
# :class: dropdown
# Give the ViT-like network many MLP neurons that each carry few parameters (a narrow hidden dimension) and the CNN
# few channels that each carry many (wide kernels feeding a large classifier). Removing 60 % of the small neurons
# can remove less of the total parameter count than removing 30 % of the heavy channels. The table of this chapter
# shows the same effect on the zoo.
# ```
#
# ```{exercise}
# :label: ex-03-3
# *smoke profile · about 3 min.*
#
# Re-run this chapter with `-p "task_sizes=[2, 3, 10]"`. Does the ordering of Top-PR by task size stay monotone?
# ```
#
# ```{solution} ex-03-3
# :class: dropdown
# Run `python -m pbe_utils.run notebooks/03_cnn_vs_vit.py --profile smoke -p "task_sizes=[2, 3, 10]"`. In the
# published run, the mean Top-PR by task size is {glue:text}`ex03_sizes`; it never rises with the number of classes
# for {glue:text}`ex03_monotone`. The verdict of C3b compares only the smallest with the largest size, so an
# intermediate size can break monotonicity without changing the verdict. Look at the standard
# errors before reading a non-monotone step as real.
# ```
