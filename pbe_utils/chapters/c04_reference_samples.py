"""Chapter 04 (claim C4): how many reference samples the relevance needs, tested as a plateau."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from tqdm import tqdm

from pbe_utils import verdicts
from pbe_utils.chapters.common import Result
from pbe_utils.components import find_components
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.models import REGISTRY
from pbe_utils.profiles import Profile
from pbe_utils.study import evaluate_method, get_model
from pbe_utils.tasks import make_task


def reference_samples(profile: Profile, progress: bool = True) -> Result:
    """C4: LRP-ε relevance from n reference samples per class, n in ``profile.ref_sweep``, a new stratified draw per
    n and seed. Frames: ``results`` (model, family, n_ref, seed, A_PR, Top-PR on the test split) and ``stability``
    (Spearman correlation of the component scores from n references with those from the most references, same task).
    Comparisons: A_PR(10 per class) - A_PR(1 per class) per model, paired over seeds. Verdict: every CNN gains (a
    win) and every ViT is flat (a tie within the margin)."""
    rows, corr_rows = [], []
    for name in profile.models:
        model, _ = get_model(profile, name, progress=False)
        comps = find_components(model)
        family = REGISTRY[name].family.group.upper()
        flat = {}
        jobs = [(n, s) for n in profile.ref_sweep for s in profile.seeds]
        for n, seed in tqdm(jobs, desc=f"{name}: reference samples", disable=not progress):
            task = make_task(profile, seed, n_ref=n)
            res = evaluate_method(model, comps, task, "lrp", LRP_EPSILON, profile)
            rows.append(
                {
                    "model": name,
                    "family": family,
                    "n_ref": n,
                    "seed": seed,
                    "A_PR": res["A_PR"],
                    "Top-PR": res["Top-PR"],
                }
            )
            flat[n, seed] = np.concatenate([s.cpu().numpy() for s in res["scores"]])
        n_max = max(profile.ref_sweep)
        for n, seed in jobs:  # rank stability: agreement with the ranking from the most references, same task
            rho = spearmanr(flat[n, seed], flat[n_max, seed]).statistic
            corr_rows.append({"model": name, "family": family, "n_ref": n, "seed": seed, "Spearman": float(rho)})
    res = pd.DataFrame(rows)
    corr = pd.DataFrame(corr_rows)
    labelled = res.assign(method=res["n_ref"].map(lambda n: f"n={n}"), kind=res["family"])
    verdict, plan = reference_verdict(labelled, profile.ref_sweep)
    return Result({"results": res, "stability": corr}, verdict.cells, verdict, plan, claims={"C4": verdict})


def _family(cells: pd.DataFrame, family: str) -> pd.DataFrame:
    """Name each comparison after its family ("CNN: n=30 vs n=10"): the CNN plateau and ViT flatness stay apart."""
    return cells.assign(comparison=family + ": " + cells["comparison"])


def reference_verdict(labelled: pd.DataFrame, sweep: tuple[int, ...]) -> tuple[verdicts.Verdict, dict]:
    """C4 as the paper's plateau, one claim (one Holm family): for CNNs, 10 per class beat 1 (a win) and 30 per class
    are as good as 10 (a tie); for ViTs, every other size of the sweep is as good as 10 (ties: flat)."""
    mid = 10 if 10 in sweep else sorted(sweep)[len(sweep) // 2]
    lo = min(sweep)
    above = [n for n in sorted(sweep) if n > mid]
    cnn, vit = labelled[labelled.kind == "CNN"], labelled[labelled.kind == "VIT"]
    cells, primary = [], []
    if len(cnn) and lo < mid:
        primary.append(f"CNN: n={mid} vs n={lo}")
        cells.append(verdicts.compare(cnn, f"n={mid}", f"n={lo}", by=("model", "kind")).pipe(_family, "CNN"))
    if len(cnn) and above:
        cells.append(
            verdicts.compare(cnn, f"n={above[0]}", f"n={mid}", by=("model", "kind"), goal="tie").pipe(_family, "CNN")
        )
    if len(vit):
        others = [f"n={n}" for n in sorted(sweep) if n != mid]
        primary.append(f"ViT: {others[0]} vs n={mid}")
        cells.append(verdicts.compare(vit, others, f"n={mid}", by=("model", "kind"), goal="tie").pipe(_family, "ViT"))
    # the label: the two halves of the paper's statement (registry C4): 10 per class beat 1 on CNNs, 1 is as good as
    # 10 on ViTs; the plateau (30 vs 10) and the other sizes are also asked
    verdict = verdicts.judge(*cells, primary=primary or None)
    return verdict, {"lo": lo, "mid": mid, "plateau": above[0] if above else None}
