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
# One row per claim, written by the chapter that tested it when the book was built (`pbe_utils.claims`): the
# claim, what the paper reports (secondary source where marked), what we measured, and whether it holds here.
# Every verdict comes from one function (`pbe_utils.verdicts`): differences paired over the evaluation tasks (each
# seed draws a 3-class task: classes, reference samples, evaluation images), 95 % t-intervals, ties within a margin
# (0.01 A_PR; 0.05 Top-PR), Holm's correction over the comparisons of a claim, and a gate that refuses to decide on a
# model where no method beats random pruning by 0.03 A_PR. "undecided" means the data here cannot tell.

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Markdown, display

from pbe_utils import claims
from pbe_utils.profiles import get_profile

P = get_profile(profile, **overrides)
board = claims.load_all(P.name)
if board.empty:
    raise RuntimeError(f"no claim records for profile {P.name!r} under {claims.results_dir()}: run the chapters first")
board["verdict"] = board["holds"].map(claims.verdict)
pd.set_option("display.max_colwidth", None)
display(Markdown(f"**{claims.counts_sentence(board)}** (profile `{P.name}`)."))
display(HTML(claims.scoreboard_html(board)))
if P.name == "default":  # the intro page's headline, generated from the same records
    (Path("book") / "_headline.md").write_text(claims.headline_markdown(board, P.name))

# %% [markdown]
# Where each record came from (the commit and time of the run that wrote it):

# %%
board[["id", "commit", "time", "profile"]]
