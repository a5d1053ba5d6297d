"""seaborn figures of the study: curves with SEM bands, A_PR per rule, search traces. Colour-blind-safe palette."""

from __future__ import annotations

import base64
import html
import itertools
import re

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython import get_ipython
from IPython.display import HTML
from matplotlib.ticker import NullFormatter

from pbe_utils.composites import GROUPS, RULES, SYMBOL

#: one colour (Okabe-Ito, colour-blind safe) and one marker per method, the same in every chapter
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
METHOD_STYLE: dict[str, tuple[str, str]] = {
    "optimised": ("#0072B2", "o"),
    "LRP-ε": ("#009E73", "s"),
    "z+ (Yeom)": ("#D55E00", "v"),
    "faithful": ("#CC79A7", "D"),
    "α2β1": ("#E69F00", "^"),
    "γ": ("#56B4E9", "P"),
    "IG": ("#F0E442", "X"),
    "random": ("#000000", "."),
    "weight": ("#E69F00", "^"),
    "activation": ("#56B4E9", "P"),
    "gradient": ("#CC79A7", "D"),
    "Taylor": ("#F0E442", "X"),
}


def style_for(names) -> tuple[dict, dict]:
    """Colours and markers for the given hue levels: the fixed ones of METHOD_STYLE, others from Okabe-Ito."""
    colours, markers, spare = {}, {}, iter(OKABE_ITO * 4)
    fallback = iter(["o", "s", "^", "D", "v", "P", "X", "*"] * 4)
    for n in names:
        c, m = METHOD_STYLE.get(str(n), (None, None))
        colours[n] = c or next(spare)
        markers[n] = m or next(fallback)
    return colours, markers


def _whole_numbers(col: pd.Series) -> bool:
    """A float column whose every value is a whole number (epochs, heads, MACs stored as floats)."""
    if not pd.api.types.is_float_dtype(col):
        return False
    values = col.dropna()
    return len(values) > 0 and bool(((values % 1) == 0).all()) and bool((values.abs() < 1e15).all())


def _styled(df: pd.DataFrame, precision: int = 3):
    """Tables for people: no 0..n index, ``precision`` decimals, '—' for missing values."""
    sty = df.style.format(precision=precision, na_rep="—", thousands=",")
    whole = [c for c in df.columns if _whole_numbers(df[c])]  # counts stored as floats print as integers
    if whole:
        sty = sty.format("{:,.0f}", subset=whole, na_rep="—")
    mixed = [c for c in df.columns if df[c].dtype == object]  # a cell that holds a whole float prints as an integer
    if mixed:

        def cell(v, _p=precision):
            if isinstance(v, float) and v == v and v.is_integer() and abs(v) < 1e15:
                return f"{v:,.0f}"
            return f"{v:,.{_p}f}" if isinstance(v, float) and v == v else ("—" if v is None or v != v else str(v))

        sty = sty.format(cell, subset=mixed)
    if isinstance(df.index, pd.RangeIndex):
        sty = sty.hide(axis="index")
    return sty


def _table_html(df: pd.DataFrame) -> str:
    return _styled(df).to_html()


_table_numbers = itertools.count(1)
_chapter: int | str | None = None
#: a table longer than FOLD_ROWS rows shows its first TOP_ROWS rows; the rest is folded and offered as a CSV
FOLD_ROWS = 15
TOP_ROWS = 10


def table(df: pd.DataFrame, caption: str, precision: int = 3):
    """A numbered, captioned table of a chapter: ``<figure class="pbe-table">`` with a ``<figcaption>``
    ("Table 3.1. caption" in chapter 3, numbered from 1 after :func:`setup`, styled like the book's figure
    captions) above the formatted table. The caption wraps to the page while a wide table scrolls in its own box.
    The caption says what
    the table shows, never a finding."""

    if not caption.strip():
        raise ValueError("caption must say what the table shows")
    n = next(_table_numbers)
    number = f"{_chapter}.{n}" if _chapter is not None else f"{n}"
    head = f'<figcaption><span class="caption-number">Table {number}. </span>{html.escape(caption)}</figcaption>'
    if len(df) <= FOLD_ROWS:
        return HTML(f'<figure class="pbe-table">{head}{_styled(df, precision).to_html()}</figure>')
    # a long table: its top rows, the whole table folded below them, and the whole table as a CSV download
    csv = base64.b64encode(df.to_csv(index=not isinstance(df.index, pd.RangeIndex)).encode()).decode()
    name = f"table-{str(number).replace('.', '-')}.csv"
    return HTML(
        f'<figure class="pbe-table">{head}{_styled(df.head(TOP_ROWS), precision).to_html()}'
        f'<p class="pbe-table-more">The first {TOP_ROWS} of {len(df)} rows. '
        f'<a download="{name}" href="data:text/csv;base64,{csv}">Download all rows (CSV)</a></p>'
        f'<details class="pbe-table-all"><summary>Show all {len(df)} rows</summary>'
        f"{_styled(df, precision).to_html()}</details></figure>"
    )


def setup(chapter: int | str | None = None) -> None:
    """Theme, 150 dpi figures with text that stays readable on a phone, DataFrames rendered as formatted tables, and
    table numbers restarted: "Table 3.1" in chapter 3, "Table 1" where ``chapter`` is None (an unnumbered page)."""
    global _table_numbers, _chapter
    _table_numbers = itertools.count(1)
    _chapter = chapter
    sns.set_theme(style="whitegrid", context="notebook", palette=OKABE_ITO, font_scale=1.15)
    plt.rcParams.update({"figure.dpi": 150, "savefig.dpi": 150, "legend.frameon": False})
    try:
        ip = get_ipython()
    except ImportError:  # pragma: no cover
        ip = None
    if ip is not None:
        ip.display_formatter.formatters["text/html"].for_type(pd.DataFrame, _table_html)


def curves(
    frame: pd.DataFrame,
    hue: str = "method",
    col: str | None = "model",
    title: str | None = None,
    col_wrap: int | None = None,
    **kw,
):
    """Accuracy vs pruning rate, mean over seeds with a standard-error band; one colour and marker per method
    across all chapters, a shared y axis (0 to 1) so that panels compare, the legend outside the data."""
    levels = list(dict.fromkeys(frame[hue]))
    colours, markers = style_for(levels)
    g = sns.relplot(
        data=frame,
        x="rate",
        y="accuracy",
        hue=hue,
        style=hue,
        markers=markers,
        dashes=False,
        col=col,
        kind="line",
        errorbar="se",
        markersize=5,
        height=3.0,
        aspect=1.2,
        col_wrap=col_wrap,
        palette=colours,
        facet_kws={"sharey": True},
        **kw,
    )
    g.set(ylim=(0, 1.02))
    if col is not None:
        g.set_titles(col_template="{col_name}")  # short panel titles that do not collide
    g.set_axis_labels("pruning rate", "top-1 accuracy")
    if title:
        g.figure.suptitle(title, y=1.03)
    return g


def bars(frame: pd.DataFrame, y: str = "A_PR", x: str = "model", hue: str = "method", title: str | None = None):
    """A summary statistic per model and method, mean with standard-error bars."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    colours, _ = style_for(list(dict.fromkeys(frame[hue])))
    sns.barplot(data=frame, x=x, y=y, hue=hue, errorbar="se", palette=colours, ax=ax)
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


def heatmaps(maps: dict[str, tuple], title: str | None = None):
    """Input images and their relevance heatmaps: per block (a model), one row of inputs and one row per heatmap
    label, one column per image; red positive, blue negative relevance, each image on its own symmetric scale.
    ``maps``: name -> (images (N, C, H, W), {label: heatmaps (N, H, W)})."""
    blocks = list(maps.items())
    n_rows = sum(1 + len(heat) for _, (_, heat) in blocks)
    n_cols = max(len(x) for _, (x, _) in blocks)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.3 * n_cols + 1.4, 1.3 * n_rows), squeeze=False)
    row = 0
    for name, (x, heat) in blocks:
        for j in range(n_cols):
            axes[row, j].imshow(x[j, 0], cmap="gray_r")
            for i, h in enumerate(heat.values(), start=1):
                v = float(h[j].abs().max()) or 1.0
                axes[row + i, j].imshow(h[j], cmap="bwr", vmin=-v, vmax=v)
        for i, label in enumerate(["input", *heat]):
            axes[row + i, 0].set_ylabel(f"{name}\n{label}" if i == 0 else label, fontsize=9)
        row += 1 + len(heat)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images: list, names: list[str], per_class: int, title: str | None = None):
    """Images class by class: one column per class (its name on top), ``per_class`` rows."""
    cols = len(images) // per_class
    fig, axes = plt.subplots(per_class, cols, figsize=(0.95 * cols + 0.6, 1.05 * per_class + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for k, img in enumerate(images[: per_class * cols]):
        axes[k % per_class, k // per_class].imshow(img, cmap="gray_r")
    for ax, name in zip(axes[0], names[:cols], strict=True):
        ax.set_title(name, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def training_curves(histories: pd.DataFrame, epochs: pd.DataFrame):
    """Training loss per step (log scale) and test accuracy per epoch, one colour per model, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    sns.lineplot(data=histories, x="step", y="loss", hue="model", ax=axes[0])
    axes[0].set(xlabel="training step", ylabel="cross-entropy (training batch)", yscale="log", title="Training loss")
    sns.lineplot(data=epochs, x="epoch", y="test accuracy", hue="model", marker="o", ax=axes[1], legend=False)
    axes[1].set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy during training")
    fig.tight_layout()
    return fig


RULE_SYMBOLS = {r: SYMBOL[r] for r in RULES}  # the rules of a layer group, in the book's notation


def search_trace(trials: pd.DataFrame):
    """Each trial's A_PR on the search tasks (points) and the best so far (lines), per model, in trial order."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    sns.scatterplot(data=trials, x="number", y="A_PR", hue="model", alpha=0.45, s=18, ax=ax, legend=False)
    sns.lineplot(data=trials, x="number", y="best so far", hue="model", ax=ax)
    ax.set(
        xlabel="trial", ylabel="A_PR on the search split", title="Search trace: each trial's A_PR and the best so far"
    )
    fig.tight_layout()
    return fig


def rules_by_group(trials: pd.DataFrame):
    """A_PR of every trial split by the rule chosen for each layer group (columns) and model (rows)."""
    long = trials.melt(id_vars=["model", "A_PR"], value_vars=list(GROUPS), var_name="group", value_name="rule")
    long["rule"] = long["rule"].map(RULE_SYMBOLS)
    g = sns.catplot(
        data=long,
        x="rule",
        y="A_PR",
        col="group",
        row="model",
        kind="strip",
        height=2.1,
        aspect=1.25,
        alpha=0.6,
        order=list(RULE_SYMBOLS.values()),
        sharey="row",
    )
    g.set_titles("{row_name} / {col_name}")
    g.figure.suptitle("A_PR by the rule of each layer group", y=1.01)
    return g


def _panels(n: int, height: float):
    """``n`` panels, at most two per row (readable on a phone), as a flat list of axes (spare ones hidden)."""
    cols = 1 if n == 1 else 2
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7.5 if cols == 1 else 9.0, height * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def grid_landscape(grids: dict[str, pd.DataFrame], marks: dict[str, dict[str, float]]):
    """One panel per model: histogram of the search A_PR of every composite of its grid, with vertical lines at
    the marked composites (``marks[model]``: label -> A_PR)."""
    fig, axes = _panels(len(grids), 3.4)
    for ax, (model, grid) in zip(axes, grids.items(), strict=True):
        ax.hist(grid["A_PR"], bins=40, color="#999999")
        for (label, value), colour in zip(marks.get(model, {}).items(), OKABE_ITO, strict=False):
            ax.axvline(value, color=colour, lw=2, label=f"{label}: {value:.3f}")
        ax.set(xlabel="A_PR on the search tasks", ylabel="composites", title=f"{model}: {len(grid)} composites")
        if marks.get(model):
            ax.legend(frameon=False, loc="upper left", fontsize=9)
    fig.tight_layout()
    return fig


def search_progress(progress: pd.DataFrame, targets: dict[str, float]):
    """One panel per model (``progress`` has a ``model`` column): best A_PR so far against the distinct
    composites evaluated, per sampler (mean, band: middle half of the sampler seeds), the target (``targets[model]``)
    as a dashed line."""
    fig, axes = _panels(len(targets), 3.6)
    for i, (ax, (model, target)) in enumerate(zip(axes, targets.items(), strict=True)):
        sub = progress[progress["model"] == model]
        sns.lineplot(data=sub, x="evaluations", y="best", hue="sampler", errorbar=("pi", 50), ax=ax, legend=i == 0)
        ax.axhline(target, ls="--", color="k", lw=1)
        ax.set(xscale="log", xlabel="distinct composites evaluated", ylabel="best A_PR so far", title=model)
        ax.xaxis.set_minor_formatter(NullFormatter())  # no crowded minor labels on a short log axis
        if i == 0:
            ax.legend(frameon=False, loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def explanation_scatter(comp: pd.DataFrame, x: str = "faithfulness"):
    """One panel per model (``comp`` has a ``model`` column): pruning A_PR against ``x`` (``faithfulness`` or
    ``complexity``) of each composite's input heatmaps; colour: FCL rule, marker: MAG; stars mark the heuristics
    and the optimised composite."""
    short = {"LRP-ε": "ε", "z+ (Yeom)": "z+"}
    label = {"faithfulness": "faithfulness (− pixel-flipping AUC)", "complexity": "complexity (entropy)"}[x]
    models = list(dict.fromkeys(comp["model"]))
    fig, axes = _panels(len(models), 3.8)
    for i, (ax, model) in enumerate(zip(axes, models, strict=True)):
        sub = comp[comp["model"] == model]
        sns.scatterplot(
            data=sub[~sub.heuristic], x=x, y="A_PR", hue="FCL", style="MAG", ax=ax, s=40, legend=i == len(models) - 1
        )
        for r in sub[sub.heuristic].itertuples():
            ax.scatter(getattr(r, x), r.A_PR, marker="*", s=200, color="k", zorder=3)
            ax.annotate(
                short.get(str(r.composite), "opt."),
                (getattr(r, x), r.A_PR),
                xytext=(6, -10),
                textcoords="offset points",
                fontsize=9,
            )
        ax.set(xlabel=label, ylabel="A_PR (search tasks)", title=model)
    handles, labels = axes[-1].get_legend_handles_labels()
    if axes[-1].legend_ is not None:
        axes[-1].legend_.remove()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0.08 if len(models) > 2 else 0.12, 1, 1))
    return fig


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell or a glued inline: ``|``, ``*``, ``_``, backticks and brackets
    escaped."""
    return re.sub(r"([|*_`\[\]<>\\])", r"\\\1", str(text))
