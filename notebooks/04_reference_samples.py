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
# **Terms** (see the {doc}`glossary`): {term}`reference samples`, {term}`A_PR`, {term}`TOST`.
#
# **Time:** 15 min reading; re-running it: see the table on the re-run page.
# ```
#
# **Claim** {cite}`hatefi2024pruning`: about 10 reference samples per class suffice for CNNs (App. Fig. A.2), and
# ViTs are insensitive to the number between 1 and 100 per class (Fig. 5).
#
# **Set-up.** LRP-ε relevance from n reference samples per class, n in the profile's sweep; for each n and seed
# a new stratified draw. We measure the pruning quality ($A_{PR}$ on the test split) and the *stability* of the
# ranking: the Spearman correlation between the component scores from n references per class and those from the
# most references of the sweep, on the same task.
#
# **What "about 10 suffice" means as a test.** A plateau: for CNNs, 10 per class beat 1 per class (a win) and 30
# per class are no better than 10 (a tie within the margin); for ViTs, every size of the sweep is as good as 10
# (ties): flat.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from pbe_utils import chapters, claims, figures, plots, verdicts
from pbe_utils.profiles import get_profile

P = get_profile(profile, **overrides)
plots.setup(chapter=4)

# %%
R = chapters.reference_samples(P, progress=False)
res, corr = R.frames["results"], R.frames["stability"]

# %% mystnb={"figure": {"caption": "Left: A_PR on the test split against the number of reference samples per class. Right: rank correlation of the component scores with those from the most reference samples (mean over seeds, band: one standard error).", "name": "fig-04-references"}, "image": {"alt": "Left: A_PR on the test split against the number of reference samples per class. Right: rank correlation of the component scores with those from the most reference samples (mean over seeds, band: one standard error)."}}
figures.reference_sweep(res, corr, n_max=max(P.ref_sweep))
plt.show()

# %%
plots.table(res.groupby(["model", "n_ref"])["A_PR"].mean().unstack("n_ref").rename_axis(columns="references per class"),
            "Mean A_PR over seeds per model and number of reference samples per class.", 4)

# %% [markdown]
# ## Verdict

# %%
c4, v = R.comparisons, R.claims["C4"]
lo, mid, plateau = R.info["lo"], R.info["mid"], R.info["plateau"]
stab = corr.groupby(["family", "n_ref"])["Spearman"].mean().unstack("n_ref")
ours = ("ΔA_PR between reference-set sizes [interval as decided]: " + verdicts.describe(c4)
        + f"; rank correlation at {lo}/class with the ranking from {max(P.ref_sweep)}/class: "
        + ", ".join(f"{f} {stab.loc[f, lo]:.2f}" for f in stab.index))
claims.record("C4", ours, v, P)
display(plots.table(verdicts.cell_table(c4),
                    "Paired A_PR differences between reference-set sizes per model: mean, the interval as decided, "
                    "Holm-adjusted p, outcome; the primary rows are the two halves of the paper's statement.", 4))
display(Markdown(f"**Label: {v.label}** ({v.reason})."))
chapters.glue_claim("C4", v, lo=lo, mid=mid)
chapters.glue_confirmation("C4")

# %% [markdown]
# ## How this compares with the paper
#
# The paper reports {glue:md}`C4_paper`. Here the primary cells ({glue:text}`C4_mid` against
# {glue:text}`C4_lo` reference samples per class): {glue:md}`C4_evidence`.
#
# ## What this means
#
# C4's label is **{glue:md}`C4_label`** ({glue:md}`C4_share` support it): {glue:md}`C4_primary`. Also asked (the
# plateau beyond
# {glue:text}`C4_mid` per class and the other sizes on the ViTs): {glue:md}`C4_also`. An unclear CNN cell is not
# evidence that the CNNs do not need the samples: its interval still holds gains of the size the claim is about, and
# the scoreboard says how many tasks would decide it.
#
# ## On fresh tasks
#
# The study's {doc}`confirmation` tested the cells that 10 tasks left unclear again, on tasks from seeds the
# published run never used, with the number of tasks fixed in a plan committed before the run and the margin, gate
# and Holm correction unchanged. For C4: {glue:md}`C4_confirmed`. With those outcomes in place of the unclear
# ones, the label is **{glue:md}`C4_confirmation`**. A cell that stays unclear on many more tasks has a mean
# difference close to zero: the gain from 1 to 10 samples per class, if any, is smaller than the spread of $A_{PR}$
# from task to task, and deciding it would take more tasks than the plan's cap allowed.


# %% [markdown]
# ## Lab: your turn
#
# Vary the number of reference samples. The table puts what the smoke run shipped with the book printed beside this
# run's numbers: a student who runs the command on a laptop should see the smoke column, and can then change one thing
# and watch it move.

# %%
from pbe_utils import labs

labs.show("04_reference_samples", P, **{"C4": f"{v.text} ({v.share})"})

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-04-1
# *no run · about 10 min.*
#
# Why does the rank correlation with the largest reference set rise with n even when $A_{PR}$ no longer changes?
# ```
#
# ```{solution} ex-04-1
# :class: dropdown
# The score is a mean over reference samples; its sampling noise shrinks like $1/\sqrt{n}$, so rankings of
# components with similar relevance stabilise. Pruning quality depends mostly on the clearly irrelevant
# components, which are found already with few samples.
# ```
#
# ```{exercise}
# :label: ex-04-2
# *no run · about 10 min.*
#
# The plateau is tested as two comparisons for CNNs (10 vs 1 a win, 30 vs 10 a tie). Why is "30 vs 10 is not a
# significant win" not enough to claim a plateau?
# ```
#
# ```{solution} ex-04-2
# :class: dropdown
# Absence of a significant difference is not evidence of no difference: with few seeds and a large spread the test
# is simply underpowered. A plateau needs an equivalence test (TOST): the interval of the difference must lie inside
# the margin. The table gives, for each unclear cell, how many seeds a decision would need.
# ```
#
# ```{exercise}
# :label: ex-04-3
# *smoke profile · about 5 min.*
#
# Re-run with `-p "ref_sweep=[1, 10, 30, 100]" -p "seeds=[0, 1, 2, 3, 4]"`. Which cells change outcome, and why is
# that not a reason to publish the re-run instead?
# ```
#
# ```{solution} ex-04-3
# :class: dropdown
# Fewer seeds widen the intervals, so some ties become unclear; another sweep changes which sizes are compared.
# Choosing the run whose verdict one prefers after seeing both is the garden of forking paths: the published run's
# parameters were fixed before its results were seen. `claims.side_by_side` shows the two verdicts without replacing
# either.
# ```
