"""The chapters' own figures (one function each), drawn in the book's style (:mod:`pbe_utils.plots` sets it up): a
chapter's visible code is the call, never axis plumbing. Each returns the matplotlib figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


def line_curves(frame: pd.DataFrame, hue: str, title: str, xlabel: str, ylabel: str = "test accuracy") -> Figure:
    """Accuracy against pruning rate, one line per level of ``hue`` (mean over seeds with a standard-error band when
    a level has several seeds), one panel, the legend outside the data."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    sns.lineplot(data=frame, x="rate", y="accuracy", hue=hue, errorbar="se", marker="o", markersize=4, ax=ax)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False)
    return fig


def reference_sweep(res: pd.DataFrame, corr: pd.DataFrame, n_max: int) -> Figure:
    """Chapter 04: A_PR (left) and the rank correlation with the scores from ``n_max`` samples (right) against the
    number of reference samples per class, per model (line style: family); one legend outside."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    kw = {"x": "n_ref", "hue": "model", "style": "family", "errorbar": "se", "marker": "o"}
    sns.lineplot(data=res, y="A_PR", ax=axes[0], **kw)
    axes[0].set(xscale="log", xlabel="reference samples per class", ylabel="A_PR (test)",
                title="Pruning quality vs number of reference samples")  # fmt: skip
    sns.lineplot(data=corr, y="Spearman", ax=axes[1], legend=False, **kw)
    axes[1].set(xscale="log", xlabel="reference samples per class", ylabel=f"rank correlation with n={n_max}",
                title="Ranking stability vs number of reference samples")  # fmt: skip
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].legend_.remove()
    fig.tight_layout()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return fig


def change_vs_loss(per_rate: pd.DataFrame) -> Figure:
    """Chapter 06: mean heatmap change against mean confidence loss, one line per task through the pruning rates,
    one panel per model and component kind."""
    g = sns.relplot(data=per_rate, x="heatmap change", y="confidence loss", hue="seed", col="model / components",
                    col_wrap=2, kind="line", marker="o", markersize=3, height=2.6, aspect=1.2, legend=False,
                    facet_kws={"sharex": False, "sharey": False}, palette="viridis")  # fmt: skip
    g.set_axis_labels("heatmap change", "confidence loss")
    g.set_titles("{col_name}")
    g.figure.suptitle("Heatmap change vs confidence loss over the pruning rates (one line per task)", y=1.02)
    return g.figure


def r_per_task(per_task: pd.DataFrame, threshold: float) -> Figure:
    """Chapter 06: the paper's statistic, one point per task and model/kind, with the verdict's threshold."""
    fig, ax = plt.subplots(figsize=(6, 3))
    frame = per_task.assign(**{"model / components": per_task["model"] + " / " + per_task["kind"]})
    sns.stripplot(data=frame, x="r", y="model / components", ax=ax, size=5)
    ax.axvline(threshold, ls="--", c="grey")
    ax.set(xlabel="r over rates, per task", ylabel="", title="Correlation per task")
    return fig


def compute_kept(res: pd.DataFrame) -> Figure:
    """Chapter 07: accuracy of the physically pruned models against the MACs they keep (left) and their measured
    speed-up (right), one line per model and component kind."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    kw = {"y": "accuracy (removed)", "hue": "model / components", "marker": "o"}
    sns.lineplot(data=res, x="MAC ratio", ax=axes[0], **kw)
    axes[0].set(xlabel="MACs relative to the unpruned model", ylabel="test accuracy (no fine-tuning)",
                title="Accuracy vs compute kept")  # fmt: skip
    axes[0].invert_xaxis()
    sns.lineplot(data=res, x="speed-up", ax=axes[1], legend=False, **kw)
    axes[1].set(xlabel="CPU speed-up of a 128-image batch (×)", title="Accuracy vs measured speed-up")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def gain_matrix(num: pd.DataFrame, title: str, label: str) -> Figure:
    """Chapter 10: a matrix of gains (rows: sources, columns: targets), diverging colours centred on 0, each cell
    printed."""
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.9 * num.shape[0]))
    values = num.to_numpy(dtype=float)
    lim = float(np.nanmax(np.abs(values))) or 0.01
    im = ax.imshow(values, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(num.shape[1]), num.columns, rotation=30, ha="right")
    ax.set_yticks(range(num.shape[0]), [f"optimised on {s}" for s in num.index])
    ax.grid(False)
    for (i, j), val in np.ndenumerate(values):
        if np.isfinite(val):
            ax.text(j, i, f"{val:+.3f}", ha="center", va="center", fontsize=9,
                    color="white" if abs(val) > 0.6 * lim else "black")  # fmt: skip
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title)
    return fig
