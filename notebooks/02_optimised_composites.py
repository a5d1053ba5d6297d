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
# # Optimised vs heuristic composites
#
# **Claim** {cite}`hatefi2024pruning`: treating the LRP composite as a hyperparameter and optimising it for the
# pruning objective gives a better criterion than every heuristic choice: LRP-ε everywhere, z+ everywhere (Yeom
# et al.), the composites most faithful in input space, Integrated Gradients and random pruning.
#
# **Set-up.** The search space is the paper's: one rule per layer group (LLL, MLL, HLL, FCL) from {ε, z+, α2β1,
# γ}, and MAG (rank by |R| or by signed R); for ViTs also the attention rule (CP-LRP, AttnLRP, AttnLRP-z+ with or
# without virtual bias). That is 512 CNN and 2,048 ViT composites. The objective is $A_{PR}$ of the pruning curve
# on the **search split** (held-out training images, never the test set). An optuna study {cite}`akiba2019optuna`
# per model (SQLite storage under `results/`, resumable) explores it with the profile's sampler and budget. The
# winner is then compared with the heuristics on the **test split** over several seeds (new reference samples per
# seed).

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from pbe_utils import claims, plots
from pbe_utils.components import find_components
from pbe_utils.composites import FAITHFUL_CNN, FAITHFUL_VIT, LRP_EPSILON, YEOM_ZPLUS
from pbe_utils.models import REGISTRY
from pbe_utils.profiles import get_profile
from pbe_utils.search import best_composite, run_search, trials_frame
from pbe_utils.study import compare_methods, evaluate_method, get_model, make_task, mean_by, mean_sem_table

P = get_profile(profile, **overrides)
plots.setup()
print(f"sampler={P.sampler}, budget={P.n_trials} trials per model, search split: {P.n_search} images")

# %% [markdown]
# ## The search

# %%
studies, frames = {}, []
for name in P.models:
    study = run_search(P, name)
    studies[name] = study
    f = trials_frame(study)
    f["model"] = name
    f["best so far"] = f["A_PR"].cummax()
    frames.append(f)
trials = pd.concat(frames, ignore_index=True)
timing = pd.DataFrame([
    {"model": n, "trials": len(s.trials),
     "seconds per trial": pd.Series([t.user_attrs.get("seconds_scores", 0) + t.user_attrs.get("seconds_curve", 0)
                                     for t in s.trials if t.value is not None]).median()}
    for n, s in studies.items()])
timing["trials per minute"] = 60 / timing["seconds per trial"]
timing

# %%
fig, ax = plt.subplots(figsize=(7.5, 3.4))
sns.scatterplot(data=trials, x="number", y="A_PR", hue="model", alpha=0.45, s=18, ax=ax, legend=False)
sns.lineplot(data=trials, x="number", y="best so far", hue="model", ax=ax)
ax.set(xlabel="trial", ylabel="A_PR on the search split", title="The search improves quickly, then plateaus")
plt.show()

# %% [markdown]
# Which rule helps in which layer group? Each point below is one trial; the FCL rule shapes every component's
# relevance (all components lie below it), the LLL rule only that of the lowest layers.

# %%
long = trials.melt(id_vars=["model", "A_PR"], value_vars=["LLL", "MLL", "HLL", "FCL"], var_name="group",
                   value_name="rule")
g = sns.catplot(data=long, x="rule", y="A_PR", col="group", row="model", kind="strip", height=2.1, aspect=1.25,
                alpha=0.6, order=["epsilon", "zplus", "alpha2beta1", "gamma"], sharey="row")
g.set_titles("{row_name} / {col_name}")
g.figure.suptitle("A_PR by the rule of each layer group", y=1.01)
plt.show()

# %%
top = (trials.sort_values("A_PR", ascending=False).groupby("model").head(3)
       [["model", "composite", "A_PR", "Top-PR"]].reset_index(drop=True))
top

# %% [markdown]
# Where do the heuristic composites rank among the trials? We score them with the same objective (search split)
# and count the trials that beat them.

# %%
rank_rows = []
for name in P.models:
    model, _ = get_model(P, name, progress=False)
    comps = find_components(model)
    task = make_task(P, P.seeds[0])
    vit = REGISTRY[name].family == "vit"
    f = trials[trials.model == name]
    heur = {"LRP-ε": LRP_EPSILON, "z+ (Yeom)": YEOM_ZPLUS, "faithful": FAITHFUL_VIT if vit else FAITHFUL_CNN}
    for label, comp in heur.items():
        r = evaluate_method(model, comps, task, "lrp", comp, P, split="search", cache=False)
        rank_rows.append({"model": name, "composite": label, "search A_PR": r["A_PR"],
                          "trials better": int((f["A_PR"] > r["A_PR"]).sum()), "of": len(f)})
ranks = pd.DataFrame(rank_rows)
ranks

# %% [markdown]
# ## Held-out comparison on the test split

# %%
curves, summaries, best = [], [], {}
for name in P.models:
    vit = REGISTRY[name].family == "vit"
    best[name] = best_composite(studies[name])
    methods = {
        "optimised": ("lrp", best[name]),
        "LRP-ε": ("lrp", LRP_EPSILON),
        "z+ (Yeom)": ("lrp", YEOM_ZPLUS),
        "faithful": ("lrp", FAITHFUL_VIT if vit else FAITHFUL_CNN),
        "IG": ("ig", None),
        "random": ("random", None),
    }
    c, s = compare_methods(P, name, methods)
    curves.append(c)
    summaries.append(s)
curves, summaries = pd.concat(curves), pd.concat(summaries)
pd.DataFrame({"model": list(best), "optimised composite": [b.label(REGISTRY[m].family == "vit")
                                                           for m, b in best.items()]})

# %%
plots.curves(curves, col_wrap=2, title="Held-out test curves: the optimised composite against the heuristics")
plt.show()

# %%
plots.bars(summaries, "A_PR", title="A_PR on the test split (mean ± SEM over seeds)")
plt.show()

# %%
display(mean_sem_table(summaries, "A_PR"))
display(mean_sem_table(summaries, "Top-PR"))

# %% [markdown]
# ## Verdict

# %%
apr = mean_by(summaries, "A_PR")
others = [m for m in apr.index if m != "optimised"]
margin = {m: float(apr.loc["optimised", m] - apr.loc[others, m].max()) for m in apr.columns}
outcomes = pd.concat([claims.paired_outcome(summaries, "optimised", o).assign(against=o) for o in others])
display(outcomes.pivot(index="against", columns="model", values="outcome"))
holds_all = claims.verdict_from(outcomes)
mag_share = float(trials.sort_values("A_PR", ascending=False).groupby("model").head(5)["MAG"].mean())
ours = "; ".join(f"{m}: optimised {apr.loc['optimised', m]:.3f} vs best other "
                 f"{apr.loc[others, m].max():.3f} ({apr.loc[others, m].idxmax()})" for m in apr.columns)
claims.record(
    "C2", "02", "An LRP composite optimised for pruning beats LRP-ε, z+, faithful LRP, IG and random",
    "ViT-B/16, 3 classes: A_PR 0.87 (optimised) vs 0.83 (ε), 0.77 (z+), 0.70 (IG), 0.59 (random) for neurons "
    "(secondary source)", ours, holds_all, P.name,
)
claims.record(
    "C2b", "02", "Ranking by |R| (MAG) beats signed relevance",
    "MAG=True wins almost everywhere (secondary source)",
    f"{mag_share:.0%} of the 5 best trials per model use |R|", mag_share > 0.5, P.name,
)
display(Markdown(
    f"**Verdict: {claims.verdict(holds_all)}.** On the held-out test split (paired over seeds, win/loss beyond two "
    "standard errors, table above): "
    + ours + ". Margins over the best alternative: "
    + ", ".join(f"{m} {v:+.3f}" for m, v in margin.items())
    + f". Among the five best trials per model, {mag_share:.0%} rank by |R|, in line with the paper's MAG finding. "
    "The paper reports (secondary source, ViT-B/16, 3-class ImageNet, neurons) A_PR 0.87 optimised vs 0.83 for "
    "LRP-ε: a small gain over ε and a large one over z+, IG and random; gains of that size are within a few "
    "standard errors here, so read the margins with the error bars above."
))

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-02-1
# Run the exhaustive grid for the VGG: `python -m pbe_utils.search --model vgg --sampler grid`, or this chapter
# with `-p sampler=grid`. Does the Bayesian search's winner rank near the top of the full grid?
# ```
#
# ```{solution} ex-02-1
# :class: dropdown
# The grid has 512 points; at the default search split a trial of the VGG takes a few seconds, so the grid takes
# tens of minutes on two cores. Comparing `trials_frame(study)` of both studies shows where the TPE winner ranks;
# the TPE winner is usually within the top few percent, because many composites share the decisive FCL/HLL rules.
# ```
#
# ```{exercise}
# :label: ex-02-2
# Start two workers on the same storage in two terminals
# (`python -m pbe_utils.search --model vgg --sampler grid --storage sqlite:///results/shared.db`). Kill one with
# `kill -9` and restart it. What happens to the trial it was running?
# ```
#
# ```{solution} ex-02-2
# :class: dropdown
# Its heartbeat stops; after the grace period the next worker marks it failed and `RetryHeartbeatStaleTrialCallback`
# re-enqueues the same composite. No completed trial is lost or repeated.
# ```
