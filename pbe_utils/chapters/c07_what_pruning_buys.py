"""Chapter 07 (beyond the paper): what physically removing the pruned components buys (parameters, MACs, speed,
memory, fine-tuning). It measures; it tests no claim."""

from __future__ import annotations

import copy

import pandas as pd

from pbe_utils import verdicts
from pbe_utils.chapters.common import Result
from pbe_utils.components import find_components, masked
from pbe_utils.composites import LRP_EPSILON
from pbe_utils.compress import finetune, remove_components
from pbe_utils.cost import activation_bytes, count_macs, latency_ms
from pbe_utils.models import REGISTRY, accuracy, model_device
from pbe_utils.profiles import Profile
from pbe_utils.pruning import global_masks
from pbe_utils.study import evaluate_method, get_model
from pbe_utils.tasks import make_task, splits


def what_pruning_buys(profile: Profile, rates=(0.0, 0.1, 0.3, 0.5, 0.7, 0.9), finetune_steps: int = 100) -> Result:
    """Physical removal (torch-pruning) of the components LRP-ε masks, per model and component kind, at ``rates``:
    masked and removed accuracy, the largest logit difference between them, parameters, MACs, measured CPU speed-up,
    activation memory, and (at 30 % and 50 %) the accuracy after ``finetune_steps`` steps of fine-tuning on the
    training split (embedded data) or the task's search images (paper profile). No claim: no verdict."""
    rows = []
    for name in profile.models:
        model, _ = get_model(profile, name, progress=False)
        dev = model_device(model)
        task = make_task(profile, profile.seeds[0])
        batch = task.test.x[:128].to(dev)
        tune_data = splits(profile)["train"] if profile.data == "fashion_mnist" else task.search
        for kind in REGISTRY[name].family.kinds:
            comps = find_components(model, kind)
            scores = evaluate_method(model, comps, task, "lrp", LRP_EPSILON, profile)["scores"]
            macs0, params0 = count_macs(model, batch)
            for rate in rates:
                masks = global_masks(scores, rate)
                with masked(model, comps, masks):
                    acc_masked = accuracy(model, task.test, task.restrict)
                    ref_logits = model(batch[:16]).detach()
                small, report = remove_components(model, comps, masks, batch[:1])
                diff = float((small(batch[:16]).detach() - ref_logits).abs().max())
                macs, params = count_macs(small, batch)
                lat = latency_ms({"base": model, "pruned": small}, batch, rounds=7)
                tune = finetune_steps if rate in (0.3, 0.5) else 0
                tuned = finetune(copy.deepcopy(small), tune_data, tune) if tune else small
                rows.append(
                    {
                        "model": name,
                        "components": kind,
                        "rate": rate,
                        "masked": report.masked,
                        "removed": report.removed,
                        "zeroed": report.zeroed,
                        "accuracy (masked)": acc_masked,
                        "accuracy (removed)": accuracy(small, task.test, task.restrict),
                        "accuracy (fine-tuned)": accuracy(tuned, task.test, task.restrict) if tune else None,
                        "max |Δ logit|": diff,
                        "parameters": params,
                        "parameter ratio": params / params0,
                        "MACs": macs,
                        "MAC ratio": macs / macs0,
                        "speed-up": lat["base"] / lat["pruned"],
                        "activation MB": activation_bytes(small, batch) / 2**20,
                    }
                )
    return Result(
        {"results": pd.DataFrame(rows)},
        pd.DataFrame(),
        verdicts.Verdict("undecided", "no claim: chapter 07 measures, it does not test"),
        {},
    )


def summary_at(res: pd.DataFrame, rate: float, finetune_steps: int) -> str:
    """The chapter's summary of :func:`what_pruning_buys`' results (with a ``model / components`` column) at one
    ``rate``: what each model removes, keeps and gains, and, after a fine-tuning of ``finetune_steps`` (0: none),
    how its accuracy changes."""
    at = res[res.rate == rate].set_index("model / components")
    text = (
        f"At {rate:.0%} of the components masked: "
        + "; ".join(f"**{k}** removes {int(r.removed)} of {int(r.masked)} masked components, keeps "
                    f"{r['MAC ratio']:.0%} of the MACs, runs {r['speed-up']:.2f}× faster, accuracy "
                    f"{r['accuracy (removed)']:.3f}" for k, r in at.iterrows())
        + ". Speed-ups are smaller than MAC reductions: small layers leave the CPU's per-call overhead, odd widths "
        "are less efficient, and zeroed residual channels cost as much as before. "
    )  # fmt: skip
    if finetune_steps:
        tuned = res[res["accuracy (fine-tuned)"].notna()].set_index("model / components")
        text += (
            f"After a {finetune_steps}-step fine-tuning (last table column; the paper's setting deliberately does "
            "not fine-tune), the change in accuracy of the removed model: "
            + "; ".join(f"{k} at {r.rate:.0%}: {r['accuracy (removed)']:.3f} → {r['accuracy (fine-tuned)']:.3f}"
                        for k, r in tuned.iterrows()) + "."
        )  # fmt: skip
    return text


def first_speedup(res: pd.DataFrame, above: float = 1.5) -> str:
    """Per model and component kind, the first rate whose measured speed-up exceeds ``above``, with its MAC ratio."""
    first = []
    for key, g in res.sort_values("rate").groupby("model / components", sort=False):
        fast = g[g["speed-up"] > above]
        first.append(f"{key}: never up to {g['rate'].max():.0%}" if fast.empty else
                     f"{key}: {fast['rate'].iloc[0]:.0%} (MAC ratio {fast['MAC ratio'].iloc[0]:.2f}, "
                     f"speed-up {fast['speed-up'].iloc[0]:.2f}×)")  # fmt: skip
    return "; ".join(first)
