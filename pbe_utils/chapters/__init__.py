"""One module per chapter of the book, each named after its claim; every chapter function takes a profile, runs the
experiment over the profile's models, component kinds and seeds, and returns a :class:`Result` (tidy frames, the
decided cells and the verdict from :mod:`pbe_utils.verdicts`). The notebooks call them, plot and explain.

=========  =====================================  ==================================================
chapter    function                               claim
=========  =====================================  ==================================================
01         :func:`uniform_composites`             C1: LRP-ε beats z+ as a pruning criterion
02         :func:`optimised_composites`           C2 (optimised composite), C2b (|R| vs signed R)
03         :func:`cnn_vs_vit`                     C3 (ViTs more over-parameterised), C3b (task size)
04         :func:`reference_samples`              C4: about 10 reference samples per class suffice
05         :func:`classic_criteria`               C5 (beyond): LRP vs classic criteria
06         :func:`explanations_after_pruning`     C6: heatmaps survive pruning and track confidence
07         :func:`what_pruning_buys`              (beyond) physical removal: no claim
08         :func:`search_cost_models`             B3 (beyond): Bayesian vs random search
09         :func:`explanation_vs_pruning_models`  B1 (beyond): faithful heatmaps vs pruning
10         :func:`transfer`                       B2 (beyond): transfer of an optimised composite
=========  =====================================  ==================================================
"""

from pbe_utils.chapters.c01_uniform_composites import heatmap_study, object_share, uniform_composites
from pbe_utils.chapters.c02_optimised_composites import grid_ranks, optimised_composites
from pbe_utils.chapters.c03_cnn_vs_vit import cnn_vs_vit, removed_at_top_pr, vit_vs_cnn
from pbe_utils.chapters.c04_reference_samples import reference_samples, reference_verdict
from pbe_utils.chapters.c05_explanations_after_pruning import (
    CONFIDENCE_FLOOR,
    COSINE_MARGIN,
    explanations_after_pruning,
    per_task_correlation,
    task_confidence,
)
from pbe_utils.chapters.c06_classic_criteria import classic_criteria
from pbe_utils.chapters.c07_what_pruning_buys import what_pruning_buys
from pbe_utils.chapters.c08_search_cost import (
    SAMPLER_LABEL,
    b3_evidence,
    grid_sources,
    landscape_summary,
    search_cost,
    search_cost_models,
)
from pbe_utils.chapters.c09_explanation_vs_pruning import (
    HEURISTIC_LABELS,
    b1_evidence,
    explanation_composites,
    explanation_vs_pruning,
    explanation_vs_pruning_models,
)
from pbe_utils.chapters.c10_transfer import transfer
from pbe_utils.chapters.common import Result, across_models, compare_all, glue, glue_claim, glue_confirmation

__all__ = [
    "CONFIDENCE_FLOOR",
    "COSINE_MARGIN",
    "HEURISTIC_LABELS",
    "SAMPLER_LABEL",
    "Result",
    "across_models",
    "b1_evidence",
    "b3_evidence",
    "classic_criteria",
    "cnn_vs_vit",
    "compare_all",
    "explanation_composites",
    "explanation_vs_pruning",
    "explanation_vs_pruning_models",
    "explanations_after_pruning",
    "glue",
    "glue_claim",
    "glue_confirmation",
    "grid_sources",
    "heatmap_study",
    "landscape_summary",
    "object_share",
    "optimised_composites",
    "grid_ranks",
    "per_task_correlation",
    "reference_samples",
    "reference_verdict",
    "removed_at_top_pr",
    "search_cost",
    "search_cost_models",
    "task_confidence",
    "transfer",
    "uniform_composites",
    "vit_vs_cnn",
    "what_pruning_buys",
]
