"""The one verdict module of the study: every comparison and every claim of the book is decided here.

**Cells.** A comparison of method ``a`` with method ``b`` is made per *cell* (a model and component kind, or another
grouping). Its evidence is the per-seed difference d = value(a) - value(b), paired over seeds (the same task,
reference samples and evaluation images). From d a cell gets its mean, the 90 % t-interval (the two-sided
interval whose ends are the one-sided tests at alpha = 0.05 that decide: superiority, inferiority and TOST
equivalence), and three raw one-sided p-values: ``p_win`` (H0: mean <= 0), ``p_loss`` (H0: mean >= 0) and ``p_tie``
(TOST, H0: |mean| >= margin). Cells that cannot be evidence are set aside before any test:

* ``identical``: the two methods give the same pruning order on every seed (e.g. ranking by |R| or by R when R is
  never negative), so their difference is zero by construction, not by measurement;
* ``not discriminating`` (the gate): the best method of the cell is within ``GATE`` A_PR of random pruning;
* ``too few seeds``: fewer than ``MIN_SEEDS`` paired seeds.

**Outcomes** of the other cells: ``tie`` (equivalent within the margin), ``win`` / ``loss`` (a significant
difference, not a tie), ``unclear`` (none of the three).

**Comparisons and claims.** A claim is a list of comparisons; each comparison has a goal: ``win`` ("a beats b") or
``tie`` ("a is as good as b": the cell supports the claim when it ties, and a win or a loss counts against it).
One comparison over its cells:

* **holds**: every decidable cell supports the goal;
* **holds in part**: at least one cell supports it and none goes against it (the others tie or are unclear);
* **does not hold**: a cell goes against it, or none supports it (e.g. only ties for a "beats" comparison);
* **undecided**: nothing decidable, or only unclear cells.

**The label of a claim is the verdict of its primary comparison** (:mod:`pbe_utils.registry` names it: the
comparison the paper's own statement makes, in the paper's unit; two where the statement has two halves, combined:
holds when both hold, does not hold when one does not). It is printed with the share of the primary's decidable
cells that support it ("holds in part: 4 of 5 cells"). The other comparisons are *also asked*: each has its own
verdict, shown under the label, and none changes it.

**Statistics that fit the rule.** "Every cell supports the goal" is an intersection of hypotheses, so it is tested
as an intersection-union test: each cell at alpha, with no correction. Every other outcome of a cell (a loss, a
win that stands alone) is read with Holm's correction over its *family*: the primary comparisons' cells are one
family, the also-asked cells another (so that secondaries never weaken the test of the label; error is controlled
per claim for the label). A correlation ("x goes with y", C6 and B1) is a cell like any other, against a threshold
instead of 0: it supports the claim when its interval lies above ``R_MIN`` = 0.3 and goes against it when it lies
below. Every cell shows the interval that agrees with its outcome (:func:`decision_interval`).

**Margins and the gate** (their reasons are on the method page; :func:`sensitivity` recomputes every claim under
other values from the stored per-seed differences, without a re-run):

* ``MARGIN`` = 0.01 A_PR: a quarter of the smallest gain the paper reports for its optimised composites (about
  0.04 A_PR), and one point of accuracy averaged over the curve;
* ``MARGIN_TOP_PR`` = 0.05: one step of the rate grid, the resolution of Top-PR;
* ``GATE`` = 0.03 A_PR: three margins; a cell whose best method is closer than that to random pruning has no room
  for a difference of the size the claims are about;
* ``R_MIN`` = 0.3: Cohen's "medium" correlation; anything weaker would not be called "tracks" or "goes with".

The package: :mod:`.stats` (one cell's statistics), :mod:`.decision` (the outcome of each cell),
:mod:`.cells` (the cell builders, one :class:`Cell` shape), :mod:`.rule` (comparison verdicts, labels,
:func:`judge`) and :mod:`.report` (sensitivity, clauses, tables)."""

from __future__ import annotations

from .cells import (
    Cell,
    above_threshold,
    bootstrap_correlation_cell,
    censored_cells,
    compare,
    correlation_cell,
    discrimination_gate,
)
from .decision import decide, retest
from .report import CELL_COLUMNS, cell_table, describe, sensitivity
from .rule import FAMILIES, ComparisonVerdict, Verdict, combine, comparison_verdict, counts_text, judge, support_of
from .stats import (
    ALPHA,
    DECIDED,
    EXCLUDED,
    GATE,
    INTERVAL,
    MARGIN,
    MARGIN_TOP_PR,
    MIN_SEEDS,
    POWER,
    R_MIN,
    VERDICTS,
    decision_interval,
    holm,
    interval_at,
    paired_tests,
    tasks_needed,
)

__all__ = [
    "ALPHA",
    "CELL_COLUMNS",
    "Cell",
    "ComparisonVerdict",
    "DECIDED",
    "EXCLUDED",
    "FAMILIES",
    "GATE",
    "INTERVAL",
    "MARGIN",
    "MARGIN_TOP_PR",
    "MIN_SEEDS",
    "POWER",
    "R_MIN",
    "VERDICTS",
    "Verdict",
    "above_threshold",
    "bootstrap_correlation_cell",
    "cell_table",
    "censored_cells",
    "combine",
    "compare",
    "comparison_verdict",
    "correlation_cell",
    "counts_text",
    "decide",
    "decision_interval",
    "describe",
    "discrimination_gate",
    "holm",
    "interval_at",
    "judge",
    "paired_tests",
    "retest",
    "sensitivity",
    "support_of",
    "tasks_needed",
]
