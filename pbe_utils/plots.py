"""seaborn figures of the study: curves with SEM bands, A_PR per rule, search traces. Colour-blind-safe palette."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

PALETTE = "colorblind"


def setup() -> None:
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)


def curves(
    frame: pd.DataFrame,
    hue: str = "method",
    col: str | None = "model",
    title: str | None = None,
    col_wrap: int | None = None,
    **kw,
):
    """Accuracy vs pruning rate, mean over seeds with a standard-error band."""
    g = sns.relplot(
        data=frame,
        x="rate",
        y="accuracy",
        hue=hue,
        col=col,
        kind="line",
        errorbar="se",
        marker="o",
        markersize=4,
        height=3.2,
        aspect=1.15,
        col_wrap=col_wrap,
        palette=PALETTE,
        facet_kws={"sharey": False},
        **kw,
    )
    g.set_axis_labels("pruning rate (fraction of components removed)", "top-1 accuracy")
    if title:
        g.figure.suptitle(title, y=1.03)
    return g


def bars(frame: pd.DataFrame, y: str = "A_PR", x: str = "model", hue: str = "method", title: str | None = None):
    """A summary statistic per model and method, mean with standard-error bars."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    sns.barplot(data=frame, x=x, y=y, hue=hue, errorbar="se", palette=PALETTE, ax=ax)
    ax.set_ylabel(
        y
        + (
            " (mean accuracy over rates)"
            if y == "A_PR"
            else " (highest rate keeping 95 % accuracy)"
            if y == "Top-PR"
            else ""
        )
    )
    ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
