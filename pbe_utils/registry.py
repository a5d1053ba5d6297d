"""The one registry of the study's claims: the only place a claim's text lives.

Per claim: its id, the paper's statement (or the question, for one beyond the paper), the paper's figures and
setting, what the paper reports, the unit in which it is judged, its **primary comparison** (the label of the claim is
that comparison's verdict) and why it is primary, the comparisons that are also asked (shown under the label, never
changing it), the chapter that tests it, and whether it is a question beyond the paper (exploratory).

Chapters, the scoreboard, the headline, the README and the method page read claim texts from here
(:func:`claim`); a test fails when a notebook types a claim's text itself.

**How the primary comparison is chosen** (stated on the method page): it is the comparison the paper's own statement
makes, in the paper's unit. Where a claim names several baselines ("beats A, B and C"), the primary is the strongest
baseline the paper reports beside it (the closest competitor); where a claim has two halves that the paper states
together (C4: CNNs gain from 10 samples, ViTs do not; C6: heatmaps change little, and their change tracks the
confidence loss), both halves are primary and the label combines them (holds only when both hold).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, or one question beyond it."""

    id: str
    statement: str
    chapter: str
    unit: str
    primary: tuple[str, ...]
    why_primary: str
    secondary: tuple[str, ...] = ()
    paper_result: str = ""
    paper_figure: str = ""
    setting: str = ""
    exploratory: bool = False
    #: other choices of the primary that the sensitivity table re-decides the label with: (what varies, primaries)
    variants: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def title(self) -> str:
        """'C1: LRP-ε is ...' as the scoreboard's row title."""
        return f"{self.id}: {self.statement}"


CLAIMS: dict[str, Claim] = {
    c.id: c
    for c in (
        Claim(
            id="C1",
            statement="LRP-ε is a better pruning criterion than z+ (Yeom), although z+ gives cleaner heatmaps",
            chapter="01",
            unit="A_PR (area under the accuracy-vs-pruning-rate curve, higher is better)",
            primary=("LRP-ε vs z+ (Yeom)",),
            why_primary="the paper's statement is this one comparison",
            paper_result="ViT-B/16, 3 classes: A_PR 0.83 (ε) vs 0.77 (z+) for neurons, 0.85 vs 0.74 for heads",
            paper_figure="Fig. 3 / Table 1 (uniform composites, ViT-B/16 and ResNet-18)",
            setting="ImageNet, k = 3 classes, 10 reference samples per class, pretrained ViT-B/16 and CNNs",
        ),
        Claim(
            id="C2",
            statement="An LRP composite optimised for pruning beats LRP-ε, z+, faithful LRP, IG and random",
            chapter="02",
            unit="A_PR on held-out tasks",
            primary=("optimised vs LRP-ε",),
            why_primary="LRP-ε is the strongest baseline the paper reports beside the optimised composite "
            "(0.83 vs 0.87): beating it is what optimising buys",
            secondary=("optimised vs z+ (Yeom)", "optimised vs faithful", "optimised vs IG", "optimised vs random"),
            paper_result="ViT-B/16, 3 classes: A_PR 0.87 (optimised) vs 0.83 (ε), 0.77 (z+), 0.70 (IG), "
            "0.59 (random) for neurons; heads: optimised 0.85, ε 0.85, z+ 0.74, random 0.76",
            paper_figure="Fig. 4 and Table 2 (optimised composites, neurons and heads)",
            setting="ImageNet, k = 3, GP-based Bayesian search over layer-group rules",
        ),
        Claim(
            id="C2b",
            statement="Ranking by |R| (MAG) beats signed relevance",
            chapter="02",
            unit="A_PR on held-out tasks",
            primary=("optimised (|R|) vs optimised (signed)",),
            why_primary="the paper's point is that the best (optimised) composites rank components by |R|",
            secondary=("LRP-ε (|R|) vs LRP-ε (signed)", "z+ (Yeom) (|R|) vs z+ (Yeom) (signed)"),
            paper_result="MAG = True is chosen by almost every best composite of the search",
            paper_figure="the search results (best composites' MAG flag)",
            setting="the composite search of Fig. 4",
        ),
        Claim(
            id="C3",
            statement="ViTs are more over-parameterised than CNNs: more of their components can be pruned at Top-PR",
            chapter="03",
            unit="Top-PR (share of components pruned while keeping 95 % of the accuracy)",
            primary=("ViT vs CNN: Top-PR (components)",),
            why_primary="the paper states and measures over-parameterisation in components (Top-PR of neurons and "
            "heads against CNN channels); parameters are also asked, against each kind's ceiling",
            secondary=("ViT vs CNN: share of removable parameters",),
            variants=(("unit: removable parameters", ("ViT vs CNN: share of removable parameters",)),),
            paper_result="ViT-B/16 keeps accuracy at about 20 % of neurons pruned on 1000 classes; Top-PR 57 % for "
            "neurons on 3 classes",
            paper_figure="Fig. 5 (Top-PR per model and task size)",
            setting="ImageNet, k = 3 / 100 / 1000, optimised composites",
        ),
        Claim(
            id="C3b",
            statement="Smaller tasks (fewer classes) can be pruned further",
            chapter="03",
            unit="Top-PR",
            primary=("k=2 vs k=10",),
            why_primary="the paper compares its smallest task with its largest",
            paper_result="3-class tasks prune further than 100 and 1000 classes",
            paper_figure="Fig. 5",
            setting="ImageNet, k = 3 / 100 / 1000",
        ),
        Claim(
            id="C4",
            statement="CNNs need ~10 reference samples per class; ViTs are insensitive to the number",
            chapter="04",
            unit="A_PR",
            primary=("CNN: n=10 vs n=1", "ViT: n=1 vs n=10"),
            why_primary="the paper's statement has two halves: 10 samples per class beat 1 on CNNs, and 1 is as "
            "good as 10 on ViTs",
            secondary=("CNN: n=30 vs n=10", "ViT: n=3 vs n=10", "ViT: n=30 vs n=10", "ViT: n=100 vs n=10"),
            paper_result="CNN: >= 10 per class suffices; ViT: flat between 1 and 100",
            paper_figure="App. Fig. A.2 (CNNs), Fig. 5 (ViT)",
            setting="ImageNet, k = 3",
        ),
        Claim(
            id="C6",
            statement="Heatmaps change little after relevance-guided pruning, and their change tracks confidence loss",
            chapter="05",
            unit="cosine similarity of input heatmaps at the task's Top-PR; correlation over images",
            primary=("heatmaps kept at Top-PR: LRP-ε vs random", "tracks at Top-PR (over images)"),
            why_primary="the paper's statement has two halves: heatmaps change little (here: less than after "
            "random pruning of as many components, at each task's Top-PR) and their change goes with the loss of "
            "confidence (here: across images at one rate, so that the shared trend over rates cannot pass it)",
            secondary=(
                "r over rates (the paper's statistic) above 0.3",
                "heatmaps kept at 50 %: LRP-ε vs random",
                "tracks at 50 % (over images)",
            ),
            variants=(("rate: 50 %", ("heatmaps kept at 50 %: LRP-ε vs random", "tracks at 50 % (over images)")),),
            paper_result="correlation 0.99 between heatmap change and confidence loss (ViT-B/16 heads); the "
            "paper's heatmaps are CRP (concept-relevance) maps",
            paper_figure="Fig. 6",
            setting="ImageNet, ViT-B/16, pruning rates up to Top-PR",
        ),
        Claim(
            id="C5",
            statement="LRP-based criteria beat weight, activation, gradient and Taylor criteria",
            chapter="06",
            unit="A_PR",
            primary=("optimised vs Taylor",),
            why_primary="Taylor (gradient × activation) is the strongest classic criterion in the literature "
            "(Molchanov et al. 2019; Yeom et al. 2021)",
            secondary=("optimised vs weight", "optimised vs activation", "optimised vs gradient"),
            paper_result="not compared in the paper; Yeom et al. 2021 report LRP ahead on CNNs",
            exploratory=True,
        ),
        Claim(
            id="B3",
            statement="A Bayesian search (TPE, GP) finds a near-best composite in fewer evaluations than random "
            "sampling",
            chapter="08",
            unit="evaluations to reach 99 % of the exhaustive grid's best A_PR",
            primary=("random sampling vs TPE",),
            why_primary="TPE is the sampler of this study's own search (chapter 02)",
            secondary=("random sampling vs GP",),
            paper_result="not reported: GP-BO then grid search, number of trials not given",
            exploratory=True,
        ),
        Claim(
            id="B1",
            statement="Composites with more faithful input heatmaps make better pruning criteria",
            chapter="09",
            unit="Spearman rank correlation over composites (faithfulness vs A_PR)",
            primary=("faithfulness ~ A_PR",),
            why_primary="the question is this one correlation",
            paper_result="open question (the paper optimises for pruning, not for explanation)",
            exploratory=True,
        ),
        Claim(
            id="B2",
            statement="A composite optimised on one model and task beats LRP-ε on other task sizes and on the other "
            "architecture of its family",
            chapter="10",
            unit="A_PR",
            primary=("optimised (transferred) vs LRP-ε",),
            why_primary="the question is this one comparison, away from the composite's home",
            paper_result="not studied (stated as a limitation)",
            exploratory=True,
        ),
    )
}

#: the scoreboard's order: the paper's claims, then the questions beyond it
ORDER = tuple(CLAIMS)


def claim(claim_id: str) -> Claim:
    """The registered claim ``claim_id``; a clear error for an unknown id."""
    if claim_id not in CLAIMS:
        raise ValueError(f"claim_id={claim_id!r} is not accepted; use one of {list(CLAIMS)}")
    return CLAIMS[claim_id]


def is_exploratory(claim_id: str) -> bool:
    """A question beyond the paper (unknown ids count as the paper's)."""
    return claim_id in CLAIMS and CLAIMS[claim_id].exploratory
