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
# # LRP-ε vs z+: the nicer explanation is not the better pruning criterion
#
# ```{admonition} In this chapter
# **You will** explain what an LRP composite is, compare uniform composites as pruning criteria, and read a paired
# verdict with its interval.
#
# **Prerequisites:** chapter 00; LRP at the level of Montavon et al. (2019).
#
# **Terms** (see the {doc}`glossary`): {term}`LRP`, {term}`rule`, {term}`composite`, {term}`layer group`, {term}`A_PR`,
# {term}`random pruning`, {term}`gate`, {term}`margin`.
#
# **Time:** 25 min reading, 45 min with the exercises; re-running it: see the table on the re-run page.
# ```
#
# **Claim** {cite}`hatefi2024pruning`: composites that give clean input heatmaps (z+ everywhere, as in Yeom et al.
# {cite}`yeom2021pruning`, or the "faithful" best-practice composites {cite}`kohlbrenner2020towards`) are not the
# best pruning criteria; LRP-ε everywhere, noisy in input space, is a strong general recipe.
#
# **Set-up.** For every model of the profile we compute the relevance of every component on the reference samples
# (10 per class from the training split, one-hot output relevance at the true label, |R| per sample, mean over
# samples) under four *uniform* composites, the same rule in all four layer groups: ε, z+, α2β1 and γ. Components
# are ranked globally, least relevant first, and masked at the 20 rates 0, 5, ..., 95 %; each curve is the test
# accuracy, without any fine-tuning. Random pruning is the floor. As in the paper, each seed draws a new 3-class
# task: its classes, reference samples and evaluation images. ViTs are pruned twice: MLP neurons and attention heads.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from pbe_utils import chapters, claims, plots, verdicts
from pbe_utils.profiles import get_profile
from pbe_utils.study import mean_sem_table
from pbe_utils.verdicts import GATE, MARGIN

P = get_profile(profile, **overrides)
plots.setup(chapter=1)

# %%
R = chapters.uniform_composites(P)
curves, summaries = R.frames["curves"], R.frames["summaries"]

# %% mystnb={"figure": {"caption": "Test accuracy against the fraction of components pruned, for the four uniform composites and random pruning, per model and component kind (mean over the evaluation seeds).", "name": "fig-01-curves"}, "image": {"alt": "Test accuracy against the fraction of components pruned, for the four uniform composites and random pruning, per model and component kind (mean over the evaluation seeds)."}}
plots.curves(curves, col="model / components", col_wrap=2, title="Pruning with uniform composites (mean over seeds)")
plt.show()

# %% [markdown]
# $A_{PR}$ is the mean accuracy over the 20 rates (higher is better), given as mean ± standard error over seeds:

# %%
plots.table(mean_sem_table(summaries, "A_PR", columns="model / components"),
            "A_PR (mean accuracy over the 20 pruning rates) per method and model, mean ± SEM over seeds.")

# %% [markdown]
# The table of means hides the pairing: every method is evaluated on the same tasks, and a task that is hard for
# one rule is usually hard for the other. The verdict therefore works with the difference per task, which varies
# much less than either mean; the next table gives those paired differences per model and component kind.

# %%
vs_zplus = R.comparisons
display(plots.table(verdicts.cell_table(vs_zplus),
                    "Paired A_PR differences LRP-ε − z+ over seeds: mean, 90 % interval (the level of the one-sided "
                    "tests at 5 %), Holm-adjusted p over the claim, outcome, and how many seeds an unclear cell "
                    "would need.", 4))
display(Markdown(
    "A_PR(LRP-ε) − A_PR(z+) per model and component kind, paired over seeds; a difference shown to lie within "
    f"±{MARGIN} is a tie, and a model where no method beats random by {GATE} A_PR is *not discriminating*: "
    + verdicts.describe(vs_zplus) + "."
))

# %% [markdown]
# ## The same composites in input space
#
# Input heatmaps of the same composites on test images (red: positive relevance, blue: negative). z+ gives the
# tidy, positive-only maps that make it popular for explanation; ε is noisier. We also measure how much of the
# absolute relevance falls on the garment itself (pixels brighter than the background) as a crude "looks right"
# score.

# %%
heat_table, heat_maps = chapters.heatmap_study(P)

# %% mystnb={"figure": {"caption": "Five test images of the first task (top row of each block) and their input heatmaps under LRP-ε, z+ (Yeom) and the faithful composite, for the first CNN and the first ViT; red is positive relevance, blue negative, each image on its own scale.", "name": "fig-01-heatmaps"}, "image": {"alt": "Five test images of the first task (top row of each block) and their input heatmaps under LRP-ε, z+ (Yeom) and the faithful composite, for the first CNN and the first ViT; red is positive relevance, blue negative, each image on its own scale."}}
plots.heatmaps(heat_maps, title="Input heatmaps of the composites compared above")
plt.show()

# %%
plots.table(heat_table, "Share of absolute relevance on the object and share of negative relevance of each "
                        "composite's heatmaps, over the 64 test images of the first task.")

# %% [markdown]
# ## Verdict

# %%
hr = heat_table
zplus_cleaner = bool((hr[hr.composite == "z+ (Yeom)"]["negative share"].values
                      <= hr[hr.composite == "LRP-ε"]["negative share"].values).all())
v = R.verdict
ours = "ΔA_PR ε − z+ [90 % CI]: " + verdicts.describe(vs_zplus)
claims.record("C1", ours, v, P)
display(Markdown(
    f"**Label: {v.label}** ({v.reason}). {ours}. "
    f"z+ heatmaps {'carry no more negative relevance than' if zplus_cleaner else 'are not uniformly cleaner than'} "
    "ε heatmaps on the models shown."
))
eps_mean = summaries[summaries.method == "LRP-ε"]["A_PR"].mean()
zp_mean = summaries[summaries.method == "z+ (Yeom)"]["A_PR"].mean()
chapters.glue_claim("C1", v, eps=eps_mean, zplus=zp_mean, gain=eps_mean - zp_mean)
chapters.glue_confirmation("C1")

# %% [markdown]
# ## How this compares with the paper
#
# The paper reports {glue:md}`C1_paper`. Here, averaged over every model, component kind and task, LRP-ε reaches
# A_PR {glue:text}`C1_eps:.3f` and z+ {glue:text}`C1_zplus:.3f` (a gap of {glue:text}`C1_gain:.3f`); per cell, with
# the interval that decided it: {glue:md}`C1_evidence`.
#
# ## What this means
#
# C1's label here is **{glue:md}`C1_label`** ({glue:md}`C1_share` support it; the others are unclear or set aside):
# the criterion whose
# heatmaps look cleaner is not the better pruning criterion. Where a cell is *not discriminating*, no rule beats
# random pruning by the gate, and that model and component kind says nothing about the claim either way.
#
# ## On fresh tasks
#
# A cell left *unclear* by the 10 evaluation tasks was tested again by the study's {doc}`confirmation`: a plan
# committed before the run gave it the tasks a decision needs at its observed mean and spread, drawn from seeds the
# published run never used, under the same margin, gate and Holm correction. For C1 the confirmation gives
# {glue:md}`C1_confirmed`; with that outcome in place of the unclear one, the label is **{glue:md}`C1_confirmation`**.
# Read the two labels together: the published one is what 10 tasks show, the confirmation's is what the same rule
# concludes once the planned cells are decided. A cell the confirmation still leaves unclear needs more tasks than
# its plan could give; a tie means the two rules rank that model's components about equally well, within the
# margin; a loss would mean z+ is the better criterion there.
#
# Why does one cell need many more tasks than another? Either its mean difference lies close to zero or to the
# margin, or it varies more from task to task: the interval of a mean shrinks with the spread over tasks divided by
# the square root of their number, so a cell whose spread is twice another's needs four times the tasks for the same
# decision.

# %% [markdown]
# ## Lab: your turn
#
# Decide C1 on your own run. The table puts what the smoke run shipped with the book printed beside this run's
# numbers: a student who runs the command on a laptop should see the smoke column, and can then change one thing and
# watch it move.

# %%
from pbe_utils import labs

numbers = {
    "C1": f"{v.text} ({v.share})",
    "mean A_PR, LRP-ε": eps_mean,
    "mean A_PR, z+": zp_mean,
}
labs.show("01_lrp_epsilon_vs_zplus", P, **numbers)

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-01-1
# *no run · about 5 min.*
#
# Why can the rule of the lowest layer group (LLL) matter less than the FCL rule for the pruning scores?
# ```
#
# ```{solution} ex-01-1
# :class: dropdown
# A component's relevance is read at its output, so it depends only on the rules of the layers *above* it. The
# first convolution's rule never affects any score, while the FCL rule shapes every score in the network.
# ```
#
# ```{exercise}
# :label: ex-01-2
# *default profile · about 10 min.*
#
# Re-run this chapter with `-p "seeds=[0, 1, 2, 3, 4]"` (half of the default's 10 seeds). Do the standard errors
# grow as expected (by about $\sqrt{10/5} \approx 1.4$)?
# ```
#
# ```{solution} ex-01-2
# :class: dropdown
# Roughly: the SEM scales with $1/\sqrt{n}$ if the per-seed spread stays the same, so halving the seeds multiplies
# it by about 1.4. With few seeds the estimate of the spread itself is noisy, so individual cells can move either
# way. The re-run writes its records into its own run folder; `claims.side_by_side(run)` puts its verdict beside
# the published one.
# ```
#
# ```{exercise}
# :label: ex-01-3
# *smoke profile · about 30 min (code).*
#
# Extend the code: add a fifth uniform composite to the comparison (for example α1β0, `Composite("alpha2beta1",
# ...)` replaced by your own rule name after adding it to `RULES`). Which test of `tests/test_composites.py` tells
# you that the zennit mapping of your rule is right?
# ```
#
# ```{solution} ex-01-3
# :class: dropdown
# `test_mixed_composites_equal_zennit_per_group` builds a zennit reference from zennit's own rule classes per layer
# group; add your rule to its reference map and to one of the mixed composites. If the builder maps the rule to the
# wrong group or with other hyperparameters, the heatmaps differ and the test fails.
# ```
