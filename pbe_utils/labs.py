"""A lab per chapter: one "your turn" experiment on the ``smoke`` profile, with what the shipped smoke run printed.

Each chapter ends with :func:`show`: the lab's brief (what to run, what to change, what to look at), and a table of
the chapter's lab numbers, from the smoke run shipped with the book (``book/data/smoke/labs``: what a student on a
laptop will see) beside this run's. :func:`show` also keeps this run's numbers under the run's folder
(``$PBE_RESULTS/runs/<run>/labs/<chapter>.json``, with the command, commit and time); a complete smoke run of every
chapter ships them (:func:`ship`, called by the runner), so the expected output in the book is always the output of
a real smoke run of the same code.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import SupportsFloat, cast

import pandas as pd

from . import plots
from .cache import atomic_write_bytes, current_commit
from .claims import run_dir, run_id
from .profiles import Profile

SHIPPED_SMOKE = Path(__file__).resolve().parent.parent / "book" / "data" / "smoke"
SMOKE_RUN = "smoke"


@dataclass(frozen=True)
class Lab:
    """One chapter's lab: ``task`` (what the student does), ``change`` (the one thing to vary and what to watch),
    and the ``parameters`` of the re-run (``-p key=value`` overrides of the smoke profile; empty: the plain smoke
    run, whose output is shipped)."""

    task: str
    change: str
    parameters: tuple[str, ...] = ()

    def command(self, chapter: str) -> str:
        extra = "".join(f" -p {p!r}" if " " in p else f" -p {p}" for p in self.parameters)
        return f"python -m pbe_utils.run notebooks/{chapter}.py --profile smoke{extra}"


LABS: dict[str, Lab] = {
    "00_data_and_models": Lab(
        "Run the chapter on the smoke profile and read the zoo table: which models and component kinds it loads, and "
        "their test accuracy.",
        'Re-run with a second evaluation seed (`-p "seeds=[0, 1]"`) and check that the reference samples of seed 0 '
        "are the same images as before: the draws are seeded.",
    ),
    "00_lrp_from_scratch": Lab(
        "Run the chapter on the smoke profile: it trains the small MLP, checks the hand-written rules against zennit "
        "and prunes it by hand.",
        "In `lrp_by_hand`, change `EPS` from 1e-6 to 0.25 and re-run the cells: the conservation table loses "
        "relevance at every layer (ε absorbs it), and the ε curve moves.",
    ),
    "01_lrp_epsilon_vs_zplus": Lab(
        "Re-run chapter 01 on the smoke profile and compare its label for C1 with the published one.",
        "Add seeds (`-p \"seeds=[0, 1, 2, 3, 4]\"`): the cells move from 'too few seeds' or 'unclear' towards a "
        "decision, and the label can change; never add seeds to the published run after seeing its result.",
    ),
    "02_optimised_composites": Lab(
        "Re-run chapter 02 on the smoke profile: a short composite search, then the optimised composite against "
        "LRP-ε on held-out tasks.",
        "Change the sampler (`-p sampler=random`) and compare the best composite found and its A_PR on the search "
        "split with TPE's.",
    ),
    "03_cnn_vs_vit": Lab(
        "Re-run chapter 03 on the smoke profile and read each model's Top-PR in components and the share of its "
        "removable parameters that goes at Top-PR.",
        'Compare task sizes (`-p "task_sizes=[2, 10]"`): does a 10-class task let less of each model go (C3b)?',
    ),
    "04_reference_samples": Lab(
        "Re-run chapter 04 on the smoke profile and read the A_PR per number of reference samples.",
        'Restrict the sweep (`-p "ref_sweep=[1, 10]"`) and see whether the label of C4 changes.',
    ),
    "05_explanations_after_pruning": Lab(
        "Re-run chapter 05 on the smoke profile and read how much of the heatmaps is kept at Top-PR, LRP-ε against "
        "random pruning.",
        "Compare the two statistics of 'tracks': r over pruning rates (the paper's) and r across images at one rate. "
        "Why is the first one high on almost every task?",
    ),
    "06_classic_criteria": Lab(
        "Re-run chapter 06 on the smoke profile and rank the criteria (LRP, Taylor, gradient, weight magnitude, "
        "random) by A_PR.",
        "Add a criterion of your own to `pbe_utils.study` beside the classic ones (the final project) and re-run.",
    ),
    "07_what_pruning_buys": Lab(
        "Re-run chapter 07 on the smoke profile: the masked models are physically pruned and timed.",
        "Compare the parameter ratio with the speed-up at 50 %: which component kind buys real speed on a CPU?",
    ),
    "08_search_cost": Lab(
        "Re-run chapter 08 on the smoke profile: the samplers are replayed against the smoke grid.",
        "Change the target (99 % of the grid's best) in your head: which sampler's median evaluations would move "
        "most, and why do censored runs matter?",
    ),
    "09_explanation_vs_pruning": Lab(
        "Re-run chapter 09 on the smoke profile: faithfulness of every composite against its A_PR.",
        "Read the bootstrap interval of ρ: is the smoke run's interval wide enough to decide anything?",
    ),
    "10_transfer": Lab(
        "Re-run chapter 10 on the smoke profile: the composite chosen on one task size or model, used on another.",
        "Count the cells set aside as 'nothing to transfer' and say what a transfer test needs first.",
    ),
    "99_scoreboard": Lab(
        "After a smoke run of every chapter (`python -m pbe_utils.run --profile smoke`), read the smoke scoreboard "
        "(`results/runs/smoke/notebooks/99_scoreboard.ipynb`).",
        "Find a label that the sensitivity table says would change with the margin halved, and argue which margin "
        "the claim's text supports.",
    ),
}


def _record_path(run_folder: Path, chapter: str) -> Path:
    return run_folder / "labs" / f"{chapter}.json"


def keep(chapter: str, profile: Profile, numbers: dict[str, object]) -> Path:
    """Write this run's lab numbers of ``chapter`` (with command, commit and time) under the run's folder."""
    if chapter not in LABS:
        raise ValueError(f"chapter {chapter!r} has no lab; known: {sorted(LABS)}")
    run = run_id(profile)
    entry = {
        "chapter": chapter,
        "run": run,
        "profile": profile.name,
        "numbers": {k: (v if isinstance(v, (int, str)) else float(cast(SupportsFloat, v))) for k, v in numbers.items()},
        "command": LABS[chapter].command(chapter),
        "commit": current_commit(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = _record_path(run_dir(run), chapter)
    atomic_write_bytes(path, (json.dumps(entry, indent=1, sort_keys=True) + "\n").encode())
    return path


def shipped(chapter: str, folder: Path | None = None) -> dict | None:
    """The shipped smoke run's lab record of ``chapter``, or None."""
    path = _record_path(folder or SHIPPED_SMOKE, chapter)
    return json.loads(path.read_text()) if path.exists() else None


def brief(chapter: str) -> str:
    """The lab's brief as Markdown: task, exact command, what to change."""
    lab = LABS[chapter]
    return (
        f"**Your turn (smoke profile, a minute or two on a laptop).** {lab.task}\n\n"
        f"```\n{lab.command(chapter)}\n```\n\n**Then change one thing.** {lab.change}"
    )


def comparison(chapter: str, profile: Profile, numbers: dict[str, object], folder: Path | None = None) -> pd.DataFrame:
    """Quantity | the shipped smoke run | this run."""
    ref = shipped(chapter, folder)
    expected = (ref or {}).get("numbers", {})
    return pd.DataFrame(
        {
            "quantity": list(numbers),
            "shipped smoke run": [expected.get(k, "—") for k in numbers],
            f"this run ({profile.name})": list(numbers.values()),
        }
    )


def show(chapter: str, profile: Profile, **numbers: object):
    """Keep this run's lab numbers and display the brief and the table that a student compares with."""
    from IPython.display import Markdown, display

    keep(chapter, profile, numbers)
    display(Markdown(brief(chapter)))
    ref = shipped(chapter)
    when = f" (commit {ref['commit']}, {ref['time'][:10]})" if ref else " (none shipped yet: run `make smoke-times`)"
    return plots.table(
        comparison(chapter, profile, numbers),
        f"Lab of this chapter: what the shipped smoke run{when} printed, beside this run.",
    )


def ship(run: str = SMOKE_RUN, chapters: list[str] | None = None) -> Path:
    """Copy a complete smoke run's lab records and claim records into the book (``book/data/smoke``). Refuses a run
    that lacks a lab record of any chapter in ``chapters`` (default: every lab)."""
    src = run_dir(run)
    want = chapters or list(LABS)
    missing = [c for c in want if not _record_path(src, c).exists()]
    if missing:
        raise ValueError(f"run {run!r} has no lab record for {missing}: only a complete smoke run ships")
    out = SHIPPED_SMOKE
    for c in want:
        atomic_write_bytes(_record_path(out, c), _record_path(src, c).read_bytes())
    (out / "claims").mkdir(parents=True, exist_ok=True)
    for p in sorted((src / "claims").glob("*.json")):
        atomic_write_bytes(out / "claims" / p.name, p.read_bytes())
    return out


__all__ = ["LABS", "Lab", "SHIPPED_SMOKE", "brief", "comparison", "keep", "ship", "shipped", "show"]
