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
# published run `default` unless this chapter is run with other parameters; its records ship with the book in
# `book/data/claims`). Claim texts come from one registry (`pbe_utils.registry`), every verdict from one module,
# `pbe_utils.verdicts` (rules and reasons on the {doc}`method` page). Each claim has a **primary comparison**, the
# one the paper's statement makes in the paper's unit, and its **label is that comparison's verdict**, shown with
# the share of its decidable cells that support it; the other comparisons are *also asked* and never change the
# label. Each comparison is a set of cells (a model and component kind), each cell a difference paired over the
# evaluation tasks. A cell is a win, a tie, a loss or unclear; cells that cannot carry evidence are set aside with
# the reason (*not discriminating*: no method beats random pruning by the gate; *identical*: both methods prune the
# same components by construction; *nothing to transfer*, *within the random start*, *no confidence lost*). A
# comparison **holds** when every decidable cell supports it, **holds in part** when some do and none goes against
# it, **does not hold** when one goes against it or none supports it, and is **undecided** when nothing can be
# decided. Questions beyond the paper are exploratory.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
from pathlib import Path

from IPython.display import HTML, Markdown, display

from pbe_utils import claims, confirmation, plots, scoreboard
from pbe_utils.profiles import get_profile

P = get_profile(profile, **overrides)
plots.setup(chapter="S")  # tables S.1, S.2, ...: this page has no chapter number
RUN = claims.run_id(P)
board = claims.load_all(RUN)
if board.empty:
    raise RuntimeError(f"no claim records for run {RUN!r} under {claims.records_dir(RUN)}: run the chapters first")
if RUN == claims.PUBLISHED_RUN and claims.missing_claims(board):
    raise RuntimeError(f"the published run's records in {claims.records_dir(RUN)} lack {claims.missing_claims(board)}: "
                       "the published scoreboard is regenerated only from a complete run")
if RUN == claims.PUBLISHED_RUN:  # the confirmation run's label beside each published one (book/confirmation)
    board = confirmation.attach(board)
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
if RUN == claims.PUBLISHED_RUN:  # the intro page's headline and the shipped records, from the same complete run
    (Path("book") / "_headline.md").write_text(scoreboard.headline_markdown(board, RUN))
    (Path("book") / "_primaries.md").write_text(scoreboard.primaries_markdown())
    (Path("book") / "_confirmation.md").write_text(confirmation.page_markdown(board))
    if claims.records_dir(RUN) != claims.SHIPPED:
        claims.ship_records(RUN)

# %% [markdown]
# ## How much do the labels depend on the margins, the gate and the Holm family?
#
# The margins (0.01 A_PR, 0.05 Top-PR and share of parameters, 0.01 cosine), the gate (0.03 A_PR) and the Holm
# family (the primary comparison's cells; the also-asked cells apart) are choices, argued on the {doc}`method` page.
# The table re-decides every label from its stored per-seed differences, without re-running anything, with every
# margin halved or doubled, the gate at 0.02, 0.03 or 0.05, Holm's correction over the whole claim or per
# comparison, and another choice of primary where the paper's statement leaves room for one: C3 in the share of
# removable parameters instead of components, C6 at a fixed 50 % instead of each task's Top-PR. Correlations and the
# log-rank test have no margin; they change only through their Holm family.

# %%
sens = scoreboard.sensitivity_table(board)
plots.table(sens,
            "Each claim's label as published, with every margin halved or doubled, with the gate at 0.02 or 0.05 "
            "A_PR, with Holm's correction over the whole claim or per comparison, and with another choice of the "
            "primary (C3 in the share of removable parameters, C6 at a fixed 50 % instead of each task's Top-PR); "
            "the last column lists every setting (of the 9 margin and gate combinations, the two families and the "
            "other primaries) that changes the label.")

# %% [markdown]
# ## What more data would decide
#
# An *unclear* cell is one where the interval is too wide for any of the three tests. For each, the number of paired
# tasks that a one-sided test at 5 % would need for 80 % power at the observed mean difference and spread: a guide
# for planning a new run with its parameters fixed in advance ("n/a" where no such number exists: a correlation over
# a designed set of composites, a log-rank test). The published run keeps its 10 tasks; adding tasks after seeing a
# result would bias the verdict. The {doc}`confirmation` page does it the other way: a plan fixed in advance from
# this table, tasks never used before, and each planned cell decided on them beside its published outcome.

# %%
plots.table(scoreboard.unclear_cells(board),
            "Every unclear cell of the claims (primary or also asked): its mean difference, its n (tasks, or "
            "composites for a correlation over composites), and the tasks a decision would need at the observed mean "
            "and spread (80 % power, one-sided 5 %; n/a where undefined).")

# %% [markdown]
# ## Where each record came from

# %%
plots.table(board[["id", "run", "profile", "commit", "time"]].set_index("id"),
            "The run, profile, commit and time of the chapter run that wrote each claim record.")

# %% [markdown]
# ## Lab: your turn
#
# Build the scoreboard of your own run. The table puts what the smoke run shipped with the book printed beside this
# run's numbers: a student who runs the command on a laptop should see the smoke column, and can then change one thing
# and watch it move.

# %%
from pbe_utils import labs

labs.show("99_scoreboard", P, **{str(e["id"]): str(e["verdict"]) for _, e in board.iterrows()})
