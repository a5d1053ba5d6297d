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
# # Claims scoreboard
#
# One row per claim, written by the chapter that tested it (`pbe_utils.claims`), read back from one *run* (the
# published run `default` unless this chapter is run with other parameters). Every verdict comes from one module,
# `pbe_utils.verdicts` (rules and reasons on the {doc}`method` page): each claim is a set of comparisons, each
# comparison a set of cells (a model and component kind), each cell a difference paired over the evaluation tasks.
# A cell is a win, a tie, a loss or unclear; cells where no method beats random pruning (*not discriminating*) or
# where both methods prune the same components by construction (*identical*) are set aside. A comparison **holds**
# when every decidable cell supports it, **holds in part** when some do and none goes against it, **does not
# hold** when one goes against it or none supports it, and is **undecided** when nothing can be decided.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
from pathlib import Path

from IPython.display import HTML, Markdown, display

from pbe_utils import claims, plots, scoreboard
from pbe_utils.profiles import get_profile

P = get_profile(profile, **overrides)
plots.setup()
RUN = claims.run_id(P)
board = claims.load_all(RUN)
if board.empty:
    raise RuntimeError(f"no claim records for run {RUN!r} under {claims.run_dir(RUN)}: run the chapters first")
display(Markdown(f"**{scoreboard.counts_sentence(board)}** (run `{RUN}`)."))

# %% [markdown]
# ## The evidence at a glance
#
# One row per claim, one column per model and component kind. A cell's colour is the outcome of its comparisons
# there (green: wins; red: a loss; grey: ties; amber: unclear; light: not discriminating or identical); the number
# is the difference when the claim makes one comparison there, otherwise the count of each outcome. Hover a cell
# for its comparisons.

# %%
display(HTML(scoreboard.matrix_html(board)))

# %% [markdown]
# ## Every claim

# %%
display(HTML(scoreboard.scoreboard_html(board)))
if RUN == claims.PUBLISHED_RUN:  # the intro page's headline, generated from the same records
    (Path("book") / "_headline.md").write_text(scoreboard.headline_markdown(board, RUN))

# %% [markdown]
# ## How much do the verdicts depend on the margins and the gate?
#
# The margins (0.01 A_PR, 0.05 Top-PR and share of parameters, 0.01 cosine) and the gate (0.03 A_PR) are choices,
# argued on the {doc}`method` page. The table re-decides every claim from its stored per-seed differences, without
# re-running anything, with every margin halved or doubled and the gate at 0.02, 0.03 or 0.05. Correlations and the
# log-rank test have no margin; they change only through the Holm family they share with a claim's other cells.

# %%
sens = scoreboard.sensitivity_table(board)
plots.table(sens,
            "Each claim's verdict as published, with every margin halved or doubled, and with the gate at 0.02 or "
            "0.05 A_PR; the last column lists every one of the 9 combinations (margins ×0.5, ×1, ×2 by gates 0.02, "
            "0.03, 0.05) that changes the verdict.")

# %% [markdown]
# ## What more data would decide
#
# An *unclear* cell is one where the interval is too wide for any of the three tests. For each, the number of paired
# seeds (evaluation tasks) that a one-sided test at 5 % would need for 80 % power at the observed mean difference and
# spread: a guide for planning a new run with its parameters fixed in advance. The published run keeps its 10
# seeds; adding seeds after seeing a result would bias the verdict.

# %%
plots.table(scoreboard.unclear_cells(board),
            "Every unclear cell of the claims: its mean difference, the seeds it has, and the seeds a decision would "
            "need at the observed mean and spread (80 % power, one-sided 5 %).")

# %% [markdown]
# ## Where each record came from

# %%
plots.table(board[["id", "run", "profile", "commit", "time"]].set_index("id"),
            "The run, profile, commit and time of the chapter run that wrote each claim record.")
