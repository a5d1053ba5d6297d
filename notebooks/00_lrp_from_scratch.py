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
# # LRP from scratch: relevance, pruning and A_PR by hand
#
# ```{admonition} In this chapter
# **You will** write the LRP-ε and z+ rules yourself in a few lines of torch, check that relevance is conserved and
# that your code gives exactly what zennit gives, turn relevance into a score per component, prune globally by
# hand, draw the accuracy-vs-pruning-rate curve and compute its $A_{PR}$ and Top-PR; then do the same with
# `pbe_utils` and find the same numbers.
#
# **Prerequisites:** Python and PyTorch basics; {doc}`00_data_and_models` for the data.
#
# **Terms** (see the {doc}`glossary`): {term}`LRP`, {term}`composite`, {term}`A_PR`, {term}`Top-PR`,
# {term}`reference samples`, {term}`pruning rate`.
#
# **Time:** 30 min reading; the chapter runs in about a minute on a laptop CPU.
# ```
#
# Every later chapter calls the study's library. This one opens the box first, on a network small enough to read:
# a multilayer perceptron (784 → 100 → 50 → 10, ReLU, no biases) trained for a few seconds on Fashion-MNIST. Its
# *components* are the 150 hidden neurons.
#
# ## The rules
#
# Layer-wise Relevance Propagation {cite}`bach2015pixel,montavon2019layer` starts from the output and hands the
# *relevance* $R_k$ of each neuron $k$ of a layer down to the neurons $j$ of the layer below, in proportion to their
# contributions $z_{jk} = a_j w_{jk}$ to the pre-activation $z_k = \sum_j z_{jk}$:
#
# **LRP-ε**, with a small $\varepsilon$ that keeps the division stable:
#
# $$R_j = \sum_k \frac{a_j w_{jk}}{z_k + \varepsilon \,\mathrm{sign}(z_k)} \, R_k .$$
#
# **LRP-z+** (Yeom's criterion {cite}`yeom2021pruning`), which keeps only the contributions of the dominant sign
# (positive weights for positive inputs, negative weights for negative inputs):
#
# $$R_j = \sum_k \frac{a_j^+ w_{jk}^+ + a_j^- w_{jk}^-}{\sum_{j'} \left(a_{j'}^+ w_{j'k}^+ + a_{j'}^- w_{j'k}^-\right)}
# \, R_k .$$
#
# Both *conserve* relevance: $\sum_j R_j = \sum_k R_k$ (up to what $\varepsilon$ absorbs), so the relevance that
# reaches the input is the output score, redistributed. The output relevance is the one-hot of the true class.
#
# A **component's relevance** is its relevance summed over the $n$ reference samples of the task,
# $\; S_c = \sum_{i=1}^{n} R_c(x_i)$ (or of $|R_c|$ when components are ranked by magnitude). **Global pruning**
# removes the fraction $r$ of components with the lowest scores, across all layers at once. The **accuracy curve**
# $\mathrm{acc}(r)$ is measured at the rates $r_0 = 0 < r_1 < \dots < r_{m}$, and
#
# $$A_{PR} = \frac{1}{m+1}\sum_{i=0}^{m} \mathrm{acc}(r_i), \qquad
# \text{Top-PR} = \max \{ r_i : \mathrm{acc}(r_i) \ge 0.95\, \mathrm{acc}(0) \}.$$

# %% tags=["parameters"]
profile = "default"
overrides = {}

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display
from torch import nn
from zennit.attribution import Gradient
from zennit.composites import LayerMapComposite
from zennit.rules import Epsilon, Pass, ZPlus

from pbe_utils import figures, metrics, plots
from pbe_utils.data import load_fashion_mnist, select_reference_samples
from pbe_utils.profiles import get_profile
from pbe_utils.pruning import global_masks

P = get_profile(profile, **overrides)
plots.setup(chapter="L")  # tables L.1, L.2, ...: this page has no chapter number
torch.manual_seed(0)
torch.use_deterministic_algorithms(True)

# %% [markdown]
# The imports name everything this chapter uses: torch for the network and its training, zennit's `Gradient`
# attributor, `LayerMapComposite` and the `Epsilon`, `ZPlus` and `Pass` rules as the reference we check against,
# and three helpers of `pbe_utils` (the data loader, the reference-sample draw, the global masks) that the rest of
# the book uses too. The seed and torch's deterministic algorithms make every number of this page the same on
# every run of the same machine.
#
# ## A network small enough to read
#
# The network is trained for four passes over a few thousand training images with Adam: enough for a useful
# classifier, and fast (seconds on a laptop). It has no biases so that conservation holds exactly (up to ε) and the
# formulas above are the whole story; exercise {numref}`ex-00-4` puts the biases back. Its test accuracy is printed
# below: not a zoo model, but a real classifier whose neurons are not all equally useful, which is all pruning
# needs.

# %%
train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
n_train = 6000 if P.name != "smoke" else 2000
xs, ys = train.x[:n_train], train.y[:n_train]
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 100, bias=False), nn.ReLU(),
                    nn.Linear(100, 50, bias=False), nn.ReLU(), nn.Linear(50, 10, bias=False))
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
for _epoch in range(4):
    for i in torch.randperm(n_train).split(100):
        opt.zero_grad()
        nn.functional.cross_entropy(net(xs[i]), ys[i]).backward()
        opt.step()
net.eval()
x_test, y_test = test.x[:2000], test.y[:2000]
with torch.no_grad():
    acc0 = float((net(x_test).argmax(1) == y_test).float().mean())
print(f"test accuracy of the unpruned MLP: {acc0:.3f}")

# %% [markdown]
# Three things in that cell matter for what follows. The network has two hidden layers of 100 and 50 ReLU neurons:
# these 150 neurons are the *components* this chapter prunes, as channels, MLP neurons and heads are in the zoo's
# models. It is put in evaluation mode before anything is explained, so that explaining and pruning never change it.
# And the accuracy is measured on test images the network never saw, as every accuracy of the book is.
#
# ## LRP by hand
#
# The forward pass keeps every layer's input $a$; the backward pass applies the rule layer by layer. That is all of
# LRP for a ReLU network without biases: the ReLU passes relevance through unchanged (its output is its input where
# it is nonzero).
#
# Read the function below as the formula, one line at a time. `z = ai @ W.T` is $z_k = \sum_j a_j w_{jk}$ for every
# neuron $k$ of the layer above, for every image at once. `R / (z + ...)` divides each upper neuron's relevance by
# its stabilised pre-activation: this is the relevance per unit of contribution. `(...) @ W` sends it back through
# the same weights, which sums over $k$; multiplying by `ai` gives each lower neuron its share $a_j w_{jk}$. The z+
# branch does the same with the positive and negative parts kept apart, so that only contributions of the dominant
# sign count. The function returns the relevance of every layer's input, from the output down to the pixels.

# %%
EPS = 1e-6
NAME = {"epsilon": "LRP-ε", "zplus": "z+", "random": "random"}  # the book's notation for the rules


@torch.no_grad()
def lrp_by_hand(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, rule: str) -> list[torch.Tensor]:
    """Relevance of every layer's input, output layer first, for the true class (one-hot start)."""
    layers = [m for m in net if isinstance(m, nn.Linear)]
    a = [x.flatten(1)]
    for i, m in enumerate(layers):  # forward: keep each linear layer's input
        h = m(a[-1])
        a.append(torch.relu(h) if i < len(layers) - 1 else h)
    R = nn.functional.one_hot(y, a[-1].shape[1]).float()
    out = [R]
    for W, ai in zip([m.weight for m in layers][::-1], a[-2::-1], strict=True):
        if rule == "epsilon":
            z = ai @ W.T
            R = ai * ((R / (z + EPS * torch.where(z >= 0, 1.0, -1.0))) @ W)
        else:  # z+: the dominant-sign contributions only
            Wp, Wn, ap, an = W.clamp(min=0), W.clamp(max=0), ai.clamp(min=0), ai.clamp(max=0)
            z = ap @ Wp.T + an @ Wn.T
            c = R / (z + EPS * torch.where(z >= 0, 1.0, -1.0))
            R = ap * (c @ Wp) + an * (c @ Wn)
        out.append(R)
    return out


x5, y5 = x_test[:5], y_test[:5]
rows = []
for rule in ("epsilon", "zplus"):
    Rs = lrp_by_hand(net, x5, y5, rule)
    rows += [{"rule": NAME[rule], "layer (from the output)": i, "mean Σ relevance": float(R.sum(1).mean())}
             for i, R in enumerate(Rs)]
plots.table(pd.DataFrame(rows).pivot(index="layer (from the output)", columns="rule", values="mean Σ relevance"),
            "Conservation: the total relevance of each layer's input (mean over five test images), from the output "
            "(layer 0: the one-hot start) down to the pixels (layer 3), for LRP-ε and z+.", 6)

# %% [markdown]
# Before reading the numbers, note what the cell checks and what it does not. It sums each layer's relevance over
# that layer's neurons and averages over five images: a rule that conserves relevance gives the same sum at every
# depth. It does not check that the relevance is *useful*: a rule could conserve the total and still give every
# neuron the same share. Usefulness is what the pruning curves below measure.
#
# Read the table down a column: every layer holds the same total relevance, 1 (the one-hot start), up to the tiny
# share that ε absorbs. The two rules distribute that same total differently: z+ keeps only the contributions of
# the dominant sign, ε keeps all of them with their signs, which is why ε heatmaps look noisier.
#
# ## The same with zennit
#
# zennit {cite}`anders2021zennit` implements the rules as hooks on the modules of any network. A composite maps
# module types to rules; the attributor runs the modified backward pass. Our hand-written relevance must be the same
# number for every pixel of every image:
#
# zennit never computes the sums of the formula explicitly. It replaces each layer's gradient by the rule: the
# backward pass of a linear layer multiplies by $W$, so "divide by the stabilised $z$, multiply back by $W$, multiply
# by $a$" is a gradient times input with a modified gradient. That is why the study's engine can use torch's
# autograd for every architecture, and why it must collect the relevance of hidden components with tensor hooks
# during that backward pass (the chapter's `Rs[1]` and `Rs[2]`).

# %%
largest = {}
for rule, zrule in (("epsilon", Epsilon(epsilon=EPS)), ("zplus", ZPlus(stabilizer=EPS))):
    composite = LayerMapComposite([(nn.Linear, zrule), (nn.ReLU, Pass())])
    with Gradient(net, composite) as attributor:
        _, rel = attributor(x5.clone().requires_grad_(True), nn.functional.one_hot(y5, 10).float())
    mine = lrp_by_hand(net, x5, y5, rule)[-1].view_as(rel)
    largest[rule] = float((mine - rel).abs().max())
    assert torch.allclose(mine, rel, atol=1e-5), rule  # the chapter stops here if our LRP is not zennit's
display(Markdown("Largest difference between our input relevance and zennit's: "
                 + ", ".join(f"{NAME[k]} {v:.1e}" for k, v in largest.items()) + "."))

# %% [markdown]
# The assertion is the contract of the whole book: if the hand-written rules and zennit's disagreed on any pixel of
# any image by more than $10^{-5}$, the chapter would stop here with an error. The printed differences are of the
# order of floating-point rounding. Later chapters never repeat this check by hand; the test suite does it for every
# rule, every layer type and every model of the zoo (`tests/test_relevance.py`).
#
# ## From relevance to a score per component
#
# The components are the 150 hidden neurons. Their relevance is the relevance of the *inputs* of the second and
# third linear layers (the outputs of the two ReLU layers), summed over reference samples: 10 per class from the
# training split, as in the paper.
#
# Pruning a neuron here means multiplying its activation by 0: `accuracy_with` runs the network with a 0/1 mask on
# each hidden layer. `curve_by_hand` sorts all 150 scores together (a *global* ranking: a layer whose neurons all
# score low can lose most of them) and, for each rate $r$, masks the $\lfloor 150\,r \rfloor$ least relevant
# neurons. The masks are nested: a neuron pruned at 20 % stays pruned at 25 %. Random scores give the floor every
# criterion has to beat.

# %%
ref = select_reference_samples(train.y.numpy()[:n_train], n_per_class=10, seed=0)
x_ref, y_ref = xs[ref], ys[ref]


def component_scores(rule: str) -> list[torch.Tensor]:
    Rs = lrp_by_hand(net, x_ref, y_ref, rule)
    return [Rs[2].sum(0), Rs[1].sum(0)]  # hidden layer 1 (100 neurons), hidden layer 2 (50 neurons)


RATES = np.round(np.arange(0, 1, 0.05), 2)


def accuracy_with(keep: list[torch.Tensor]) -> float:
    with torch.no_grad():
        h = torch.relu(net[1](x_test.flatten(1))) * keep[0]
        h = torch.relu(net[3](h)) * keep[1]
        return float((net[5](h).argmax(1) == y_test).float().mean())


def curve_by_hand(scores: list[torch.Tensor]) -> list[float]:
    flat = torch.cat(scores)
    order = torch.argsort(flat, stable=True)  # least relevant first, across both layers
    accs = []
    for r in RATES:
        keep = torch.ones_like(flat)
        keep[order[: int(len(flat) * r)]] = 0
        accs.append(accuracy_with(list(keep.split([len(s) for s in scores]))))
    return accs


g = torch.Generator().manual_seed(0)
curves = {rule: curve_by_hand(component_scores(rule)) for rule in ("epsilon", "zplus")}
curves["random"] = curve_by_hand([torch.rand(100, generator=g), torch.rand(50, generator=g)])
frame = pd.DataFrame([{"criterion": NAME[k], "rate": r, "accuracy": a}
                      for k, v in curves.items() for r, a in zip(RATES, v, strict=True)])

# %% mystnb={"figure": {"caption": "Test accuracy of the hand-written MLP with the least relevant hidden neurons pruned globally, for LRP-ε and z+ scores and random scores, computed by hand.", "name": "fig-00-lrp-curves"}, "image": {"alt": "Test accuracy of the hand-written MLP with the least relevant hidden neurons pruned globally, for LRP-ε and z+ scores and random scores, computed by hand."}}
figures.line_curves(frame, hue="criterion", title="Pruning curves computed by hand",
                    xlabel="pruning rate (fraction of hidden neurons removed)")
plt.show()

# %% [markdown]
# How to read the figure: every curve starts at the unpruned accuracy (rate 0, nothing removed) and falls as more
# neurons are removed. A good criterion removes the neurons the network does not need first, so its curve stays
# flat for longer and falls late; the random curve shows what removing neurons blindly costs. The area under a
# curve, averaged over the rates, is $A_{PR}$; the largest rate whose accuracy stays within 95 % of the unpruned one
# is Top-PR. The table below computes both from the curves, by hand.

# %%
by_hand = pd.DataFrame(
    [{"criterion": NAME[k], "A_PR": float(np.mean(v)),
      "Top-PR": float(max(r for r, a in zip(RATES, v, strict=True) if a >= 0.95 * v[0]))} for k, v in curves.items()]
)
plots.table(by_hand, "A_PR (mean accuracy over the 20 rates) and Top-PR (the largest rate that keeps 95 % of the "
            "unpruned accuracy) of each criterion, computed by hand.", 4)

# %% [markdown]
# Compare the table with the figure: a criterion whose curve stays high longer has the larger $A_{PR}$, and the
# rate where its curve crosses 95 % of the start is its Top-PR. The random row is the floor; a criterion that does
# not clear it clearly is no criterion at all (the book calls such a cell *not discriminating*).
#
# ## The same with `pbe_utils`
#
# The library's global masks (`pbe_utils.pruning.global_masks`) and curve summary (`pbe_utils.metrics.summarise`)
# must give the same pruned neurons and the same numbers. The cell asserts it: the same accuracy at every rate (so
# the same neurons were pruned), the same $A_{PR}$ and the same Top-PR. If any of the three differed, the chapter
# would stop with an error, and the book could not be built.

# %%
rows = []
for rule in ("epsilon", "zplus"):
    scores = component_scores(rule)
    accs = [accuracy_with(global_masks(scores, float(r))) for r in RATES]
    lib = metrics.summarise(accs, RATES)
    assert accs == curves[rule]  # the same neurons pruned at every rate
    mine = by_hand.set_index("criterion").loc[NAME[rule]]
    assert abs(lib["A_PR"] - mine["A_PR"]) < 1e-12 and lib["Top-PR"] == mine["Top-PR"]
    rows.append({"criterion": NAME[rule], "A_PR (pbe_utils)": lib["A_PR"], "Top-PR (pbe_utils)": lib["Top-PR"]})
plots.table(pd.DataFrame(rows), "A_PR and Top-PR of the same curves computed with pbe_utils (equal to ours).", 4)

# %% [markdown]
# The library's `global_masks` receives the same two score vectors, one per hidden layer, and returns one 0/1 mask
# per layer, exactly as `curve_by_hand` does with its single sorted list. Equality at every rate means the two
# implementations break ties the same way (a stable sort: among equal scores the earlier neuron goes first), which
# matters more than it seems: z+ gives many neurons a score of exactly 0.
#
# ## What the toy already shows
#
# The conservation table is the first thing to check in any LRP implementation: a rule that leaks or creates
# relevance gives scores that depend on depth rather than on use. The curves are the object of the whole paper: a
# criterion is good when its curve stays high while components are removed, and $A_{PR}$ summarises the whole
# curve in one number, so that criteria can be compared over many tasks. Two criteria that rank the same neurons
# at the top but differ further down can share a Top-PR and still differ in $A_{PR}$; that is why the paper
# optimises $A_{PR}$ and reports Top-PR beside it.
#
# From here on the book uses the library: `pbe_utils.relevance.compute_scores` does what `component_scores` did,
# for convolution channels, ViT MLP neurons and attention heads, with zennit composites (a rule per layer group) and
# the attention rules of {doc}`method`; `pbe_utils.pruning.pruning_curve` does what `curve_by_hand` did, on a
# physically smaller copy of the model. Chapter {doc}`01_lrp_epsilon_vs_zplus` asks, on the shipped models, the
# question this toy already raises: which rule gives the better pruning criterion?

# %% [markdown]
# What the toy does not show: biases and batch normalisation absorb relevance (exercise {numref}`ex-00-4`),
# convolutions and residual additions need their own bookkeeping, and a ViT's softmax needs the attention rules of
# {doc}`method`. Those are the engine's job, tested against zennit in the test suite; the toy keeps to the case
# where every formula fits on one line. Keep the three steps in mind for the rest of the book: score every
# component from its relevance on the reference samples, rank all components together, and read the accuracy of
# the model with the lowest-ranked ones removed at every rate.
#
# ## Lab: your turn
#
# Write the rules, check them against zennit and prune by hand on your own machine. The table puts what the smoke run
# shipped with the book printed beside this run's numbers: a student who runs the command on a laptop should see the
# smoke column, and can then change one thing and watch it move.

# %%
from pbe_utils import labs

numbers = {
    "test accuracy of the MLP": acc0,
    **{f"A_PR, {k}": float(a) for k, a in zip(by_hand["criterion"], by_hand["A_PR"], strict=True)},
}
labs.show("00_lrp_from_scratch", P, **numbers)

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: ex-00-4
# *smoke profile · about 5 min.*
#
# Add biases to the MLP (`bias=True`) and re-run the conservation table. Where does the missing relevance go?
# ```
#
# ```{solution} ex-00-4
# :class: dropdown
# With biases, $z_k = \sum_j a_j w_{jk} + b_k$, and the ε rule hands each neuron $j$ only its share $a_j w_{jk} /
# z_k$: the share $b_k / z_k$ of $R_k$ stays with the bias. The total relevance then shrinks (or grows, for negative
# biases) from layer to layer by exactly the biases' shares; `lrp_by_hand` would have to add `+ b` to `z` to match
# zennit, which treats the bias the same way.
# ```
#
# ```{exercise}
# :label: ex-00-5
# *smoke profile · about 5 min.*
#
# Rank the components by $|S_c|$ instead of $S_c$ (the paper's MAG flag). Which rule's curve changes, and why does the
# other one not?
# ```
#
# ```{solution} ex-00-5
# :class: dropdown
# Replace `Rs[2].sum(0)` by `Rs[2].sum(0).abs()` (and the same for layer 2). z+ relevance of a ReLU network's hidden
# neurons is never negative (every factor of the rule is non-negative for non-negative activations), so $|S_c| = S_c$
# and its curve does not move; LRP-ε relevance can be negative, so ranking by magnitude keeps strongly negative
# neurons that the signed ranking would prune first.
# ```
#
# ```{exercise}
# :label: ex-00-6
# *smoke profile · about 5 min.*
#
# Make `EPS` 0.25 instead of 1e-6 and re-run the chapter. What happens to the
# conservation table, to the agreement with zennit, and to the LRP-ε curve?
# ```
#
# ```{solution} ex-00-6
# :class: dropdown
# The ε term now absorbs a visible share of the relevance at every layer, so the totals shrink from the output down
# to the pixels (conservation holds only for ε → 0). zennit still agrees to the last digit, as long as its `Epsilon`
# rule gets the same ε (the assert compares like with like). The LRP-ε scores change, because weak contributions are
# damped; whether the curve moves up or down is an empirical question, and chapter 02's search asks it for whole
# composites.
# ```
