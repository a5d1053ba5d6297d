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
# # Do good explanations make good pruning criteria?
#
# ```{admonition} In this chapter
# **You will** score input heatmaps with the field's metrics library (Quantus) and see whether the composites that
# explain best are the ones that prune best.
#
# **Prerequisites:** chapters 01, 02 and 08.
#
# **Terms** (see the {doc}`glossary`): {term}`composite`, {term}`MAG`, {term}`A_PR`.
#
# **Time:** 15 min reading; re-running it: see the table on the re-run page.
# ```
#
# **Question.** The paper tunes the composite for pruning, not for explanation, and leaves open how the two relate.
# For the composites that span the search space (the four rules of HLL × the four of FCL × MAG, with ε in the
# lower groups: 32 points, LRP-ε among them), plus Yeom's z+ and chapter 02's optimised composite where they are
# not already among them (33 or 34 per model), we measure
#
# * the **faithfulness** of the input heatmaps: pixel flipping {cite}`samek2017evaluating`, most relevant pixels
#   first, 28 pixels per step, replaced by the image's darkest value; the area under the curve of the model's softmax
#   probability for the label (lower = more faithful; we report its negative as "faithfulness");
# * their **complexity** (entropy of the relevance shares) and **sparseness** (Gini index), all with Quantus
#   {cite}`hedstrom2023quantus`;
# * the composite's pruning $A_{PR}$ on the same search tasks (read from chapter 08's grid of the same model).
#
# We ask it on each of the four models; on the ViTs every composite keeps the softmax rule of LRP-ε (AttnLRP).
#
# MAG changes how component scores are aggregated, not the heatmap, so the two MAG variants of a composite share
# their explanation metrics. In the table, every composite has ε in LLL and MLL unless it is named.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from pbe_utils import chapters, claims, plots, verdicts
from pbe_utils.composites import parse_restrict
from pbe_utils.grid import grid_available, missing_grids_note
from pbe_utils.profiles import get_profile
from pbe_utils.search import best_composite, run_search

P = get_profile(profile, **overrides)
plots.setup(chapter=9)
MODELS = [m for m in P.models if grid_available(P, m, parse_restrict(P.grid_restrict))]  # as chapter 08
optimised = {m: best_composite(run_search(P, m, progress=False)) for m in MODELS}  # chapter 02's studies (cached)
R = chapters.explanation_vs_pruning_models(P, MODELS, optimised, parse_restrict(P.grid_restrict),
                                          n_images=P.n_explain, progress=False)
comp = R.frames["composites"]
print("; ".join(f"{m}: {int((comp.model == m).sum())} composites, A_PR of {i['from grid']} read from chapter 8's "
                "grid, the others computed now" for m, i in R.info.items())
      + f"; heatmaps of {P.n_explain} images from each of {len(P.search_seeds)} search tasks")

if missing_grids_note(P, MODELS):
    display(Markdown(missing_grids_note(P, MODELS)))

# %% [markdown]
# The cell above gathers the composites of each model: those of chapter 08's exhaustive grid whose pruning $A_{PR}$
# is read from the grid, and the named ones (LRP-ε, z+, the optimised composite of chapter 02) computed here. For
# each it computes the input heatmaps of the search tasks' images and scores them with Quantus: faithfulness (does
# removing the pixels the heatmap ranks highest change the output most?), complexity and sparseness.
#
# ## Faithfulness against pruning quality
#
# Each point of the figure below is one composite. If more faithful heatmaps made better pruning criteria, the
# points of a panel would rise from left to right; a cloud without direction, or one that falls, says the two
# qualities are independent or opposed for that model.

# %% mystnb={"figure": {"caption": "Pruning A_PR against the faithfulness of each composite's input heatmaps, one panel per model; colour: FCL rule, marker: MAG; stars mark LRP-ε, z+ and the optimised composite.", "name": "fig-09-scatter"}, "image": {"alt": "Pruning A_PR against the faithfulness of each composite's input heatmaps, one panel per model; colour: FCL rule, marker: MAG; stars mark LRP-ε, z+ and the optimised composite."}}
plots.explanation_scatter(comp, "faithfulness")
plt.show()

# %% [markdown]
# {numref}`fig-09-complexity` shows the same composites against the complexity of their heatmaps. Complexity is
# the entropy of the shares of relevance over the pixels: a heatmap that puts its relevance on few pixels is simple.
# A simple heatmap is easier to read, but simplicity says nothing about which components matter.

# %% mystnb={"figure": {"caption": "Pruning A_PR against the complexity (entropy of the relevance shares) of each composite's input heatmaps, one panel per model; stars mark LRP-ε, z+ and the optimised composite.", "name": "fig-09-complexity"}, "image": {"alt": "Pruning A_PR against the complexity (entropy of the relevance shares) of each composite's input heatmaps, one panel per model; stars mark LRP-ε, z+ and the optimised composite."}}
plots.explanation_scatter(comp, "complexity")
plt.show()

# %%
plots.table(R.frames["ranked"].set_index(["model", "composite"]),
            "Every composite (LLL = MLL = ε) of each model by pruning A_PR, with its faithfulness, complexity and "
            "sparseness and the ranks of A_PR and faithfulness.", 3)

# %% [markdown]
# The table lists every composite with the ranks of its $A_{PR}$ and of its faithfulness: a composite ranked high
# in one and low in the other is a counter-example to the question. The verdict summarises each model by one rank
# correlation over its composites.
#
# ## Verdict

# %%
c, v = R.comparisons, R.claims.get("B1", R.verdict)
display(plots.table(
    c[["model", "ranking", "n", "difference", "lo", "hi", "outcome"]].rename(
        columns={"ranking": "scores ranked by", "n": "composites", "difference": "Spearman ρ", "lo": "interval low",
                 "hi": "interval high"}),
    "Spearman correlation between faithfulness and pruning A_PR over the composites, one per model and ranking "
    "(|R| and signed R share each heatmap, so each explanation counts once); interval as decided, from 1,000 "
    "bootstrap resamples of the images (the noise of the faithfulness measure; the composites are a designed set).",
    2))
ours = chapters.b1_evidence(R)
claims.record("B1", ours, v, P)
display(Markdown(
    f"**Label: {v.label}** ({v.reason}). A cell supports the question where the rank correlation between "
    f"faithfulness and pruning A_PR lies above {verdicts.R_MIN} (its interval) and goes against it where it lies "
    "below."
))
chapters.glue_claim("B1", v, rho_mean=float(c["difference"].mean()))

# %% [markdown]
# ## What this means
#
# This question is beyond the paper (exploratory; {glue:md}`B1_paper`). Its label is **{glue:md}`B1_label`**
# ({glue:md}`B1_share` support it): {glue:md}`B1_evidence`. The mean rank correlation over the cells is
# {glue:text}`B1_rho_mean:.2f`. A faithful explanation and a good pruning criterion ask different things of the
# same relevance: the first wants input pixels in order, the second wants components in order, and a composite can
# do one without the other.
#
# A correlation over a designed set of composites is not a sample of tasks: more tasks would not make it narrower,
# which is why the study's {doc}`confirmation` could not plan fresh tasks for this question; a larger or differently
# designed set of composites could.

# %% [markdown]
# ## Lab: your turn
#
# Score the composites' heatmaps for faithfulness. The table puts what the smoke run shipped with the book printed
# beside this run's numbers: a student who runs the command on a laptop should see the smoke column, and can then
# change one thing and watch it move.

# %%
from pbe_utils import labs

numbers = {
    "B1": f"{v.text} ({v.share})",
    "mean Spearman ρ": float(c["difference"].mean()),
}
labs.show("09_explanation_vs_pruning", P, **numbers)

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-09-1
# *no run · about 10 min.*
#
# Pixel flipping replaces pixels by the darkest value. On Fashion-MNIST most of the background already has that
# value. What does that mean for heatmaps that put relevance on the background?
# ```
#
# ```{solution} ex-09-1
# :class: dropdown
# Flipping a background pixel to the darkest value changes nothing, so relevance placed on the background is
# "wasted" steps: the curve stays flat and the AUC is high (unfaithful). Pixel flipping thus rewards heatmaps that
# concentrate on the garment, whatever the sign of the relevance there.
# ```
#
# ```{exercise}
# :label: ex-09-2
# *no run · about 5 min.*
#
# |R| and signed R give the same input heatmap. Why must each explanation be counted once in the correlation between
# faithfulness and A_PR?
# ```
#
# ```{solution} ex-09-2
# :class: dropdown
# Counting both copies doubles the number of points without adding information: every faithfulness value appears
# twice, once beside each of two A_PR values. The correlation's interval, computed as if the points were
# independent, would be too narrow (pseudo-replication). One correlation per ranking counts each heatmap once.
# ```
#
# ```{exercise}
# :label: ex-09-3
# *smoke profile · about 30 min (code).*
#
# Extend the code: add Quantus's `MaxSensitivity` (robustness) to `faithfulness_metrics` and correlate it with A_PR.
# What must you check about its direction before reading the sign of the correlation?
# ```
#
# ```{solution} ex-09-3
# :class: dropdown
# MaxSensitivity is lower for more robust explanations, so negate it (as the chapter negates the pixel-flipping AUC)
# before correlating with A_PR, where higher is better. Check on a planted case (a constant explanation has zero
# sensitivity) that the wrapper returns what you expect.
# ```
