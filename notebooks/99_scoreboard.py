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

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
import pandas as pd
from IPython.display import Markdown, display

from pbe_utils import claims
from pbe_utils.profiles import get_profile

P = get_profile(profile, **overrides)
board = claims.load_all(P.name)
if board.empty:
    raise RuntimeError(f"no claim records for profile {P.name!r} under {claims.results_dir()}: run the chapters first")
board["verdict"] = board["holds"].map(claims.verdict)
pd.set_option("display.max_colwidth", None)
display(board[["id", "chapter", "claim", "paper", "ours", "verdict"]].set_index("id"))

# %%
n = len(board)
display(Markdown(f"{int((board.holds == True).sum())} of {n} claims hold in this run (profile `{P.name}`), "  # noqa: E712
                 f"{int((board.holds == False).sum())} do not."))  # noqa: E712
