"""What every chapter shares: the result it returns, and the loop over the profile's models and component kinds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pbe_utils import confirmation, verdicts
from pbe_utils.models import get_spec
from pbe_utils.plots import md_escape
from pbe_utils.profiles import Profile
from pbe_utils.study import compare_methods


@dataclass
class Result:
    """What an experiment returns: named tidy frames, the comparisons behind the verdict, the verdict, and every
    claim's verdict keyed by claim id (``claims``; the chapter's own claim alone when empty)."""

    frames: dict[str, pd.DataFrame]
    comparisons: pd.DataFrame
    verdict: verdicts.Verdict
    info: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, verdicts.Verdict] = field(default_factory=dict)


def compare_all(profile: Profile, methods_for, progress: bool, kinds=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``methods_for(model)`` (label -> (method, composite)) on every model of the profile and each of its component
    kinds (``kinds(model)``, default: its family's kinds), over the profile's seeds.
    Returns the tidy (curves, summaries) frames with a ``model / components`` label."""
    curves, summaries = [], []
    for name in profile.models:
        methods = methods_for(name)
        for kind in kinds(name) if kinds else get_spec(name).family.kinds:
            c, s = compare_methods(profile, name, methods, kind=kind, progress=progress)
            curves.append(c)
            summaries.append(s)
    curves_f, summ_f = pd.concat(curves, ignore_index=True), pd.concat(summaries, ignore_index=True)
    for f in (curves_f, summ_f):
        f["model / components"] = f["model"] + " / " + f["kind"]
    return curves_f, summ_f


def across_models(results: dict[str, Result], primary: tuple[str, ...] | None = None) -> Result:
    """One result from one per model (model name -> :class:`Result`): each frame concatenated with a ``model``
    column (a frame indexed by name keeps its index as a column), every model's cells judged as one claim (one Holm
    family, :func:`pbe_utils.verdicts.judge`), ``info`` keyed by model."""
    frames: dict[str, pd.DataFrame] = {}
    for name in dict.fromkeys(k for r in results.values() for k in r.frames):
        parts = []
        for model, r in results.items():
            if name not in r.frames:
                continue
            f = r.frames[name]
            f = f.reset_index() if f.index.name is not None else f
            parts.append(f if "model" in f.columns else f.assign(model=model))
        frames[name] = pd.concat(parts, ignore_index=True)
    verdict = verdicts.judge(*[r.comparisons for r in results.values()], primary=primary)
    return Result(frames, verdict.cells, verdict, {m: r.info for m, r in results.items()})


def glue(name: str, value: Any, display: bool = False) -> None:
    """myst-nb's ``glue`` (a number the book's prose pastes by name) where myst-nb is installed, as it is for the
    book; in a student's run-time-only install (Binder, ``make student``) there is no prose to paste into, and this
    does nothing."""
    try:
        from myst_nb import glue as myst_glue  # the book's tooling, absent from a run-time-only install
    except ImportError:
        return
    myst_glue(name, value, display=display)


def glue_claim(
    claim_id: str, verdict: verdicts.Verdict, labels: tuple[str, ...] | None = None, **numbers: float
) -> dict[str, Any]:
    """Glue (myst-nb) what a chapter's closing sections quote, computed here and never typed: ``<id>_label``
    (the label), ``<id>_share`` ('4 of 5 cells'), ``<id>_primary`` and ``<id>_also`` (each comparison's verdict),
    ``<id>_evidence`` (the primary cells with their intervals as decided), ``<id>_paper`` (the paper's result, from
    the registry), and every keyword number as ``<id>_<name>``; ``labels``: the cell columns that name a cell in the
    evidence (default model, kind and ranking). Returns what was glued."""
    from pbe_utils import registry

    c = registry.claim(claim_id)
    cells = verdict.cells
    prim = cells[cells["role"] == "primary"] if "role" in cells.columns else cells
    shown = list(labels) if labels else [x for x in ("model", "kind", "ranking") if x in prim.columns]
    texts = {
        "label": verdict.text,
        "share": verdict.share,
        "primary": "; ".join(p.sentence for p in verdict.primary) or "no comparison",
        "also": "; ".join(p.sentence for p in verdict.also_asked) or "nothing else",
        "evidence": verdicts.describe(prim, label=shown, methods=labels is None) if len(prim) else "no cell",
        "paper": c.paper_result,
    }
    out: dict[str, Any] = _glue_texts(claim_id, texts)
    for k, val in numbers.items():
        # plain Python numbers: a numpy scalar's text form ('np.float64(0.83)') cannot be formatted by the glue role
        num = int(val) if isinstance(val, (int, np.integer)) and not isinstance(val, bool) else float(val)
        glue(f"{claim_id}_{k}", num, display=False)
        out[f"{claim_id}_{k}"] = num
    return out


def glue_confirmation(claim_id: str) -> dict[str, Any]:
    """Glue what a chapter says about the published study's confirmation run of its claim (book/confirmation):
    ``<id>_confirmation`` (the label after the confirmation, or a sentence when it confirmed no cell of this claim)
    and ``<id>_confirmed`` (each confirmed cell: difference, interval as decided, outcome, fresh tasks)."""
    rec = confirmation.load_records().get(claim_id)
    if rec is None:
        texts = {"confirmation": "not tested again (no unclear primary cell within the cap)", "confirmed": "none"}
    else:
        cells = pd.DataFrame(rec["cells"])
        parts = verdicts.describe(cells, label=["model", "kind"], methods=False).split("; ")
        texts = {
            "confirmation": f"{rec['confirmation']['verdict']} (published: {rec['published']['verdict']})",
            "confirmed": "; ".join(f"{p}, on {n} fresh tasks" for p, n in zip(parts, cells["n"], strict=True)),
        }
    return _glue_texts(claim_id, texts)


def _glue_texts(claim_id: str, texts: dict[str, str]) -> dict[str, Any]:
    """Glue each text as Markdown (escaped) under ``<id>_<key>``; returns what was glued."""
    from IPython.display import Markdown

    for k, t in texts.items():
        glue(f"{claim_id}_{k}", Markdown(md_escape(t)), display=False)
    return {f"{claim_id}_{k}": t for k, t in texts.items()}
