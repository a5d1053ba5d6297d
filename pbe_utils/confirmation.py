"""The confirmation run as the book reads it: the committed plan, the shipped records, each claim's confirmation
label beside its published one, and the Confirmation page's tables (``book/_confirmation.md``). The run itself
(planning, computing, shipping) is :mod:`pbe_utils.confirm`.

A claim's **confirmation label** is its rule (:func:`pbe_utils.verdicts.judge`) applied to its published primary
cells with each confirmed cell's outcome replaced by the confirmation's; a cell the published run decided keeps its
outcome, and a cell that could not be confirmed stays unclear."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pbe_utils import registry, verdicts
from pbe_utils.cache import project_root
from pbe_utils.claims import SHIPPED as SHIPPED_CLAIMS
from pbe_utils.plots import md_escape
from pbe_utils.toc import chapter_docs

ROOT = project_root()
PLAN = ROOT / "book" / "data" / "confirm" / "plan.json"
SHIPPED = ROOT / "book" / "data" / "confirm" / "claims"
PAGE = ROOT / "book" / "_confirmation.md"
CHAPTER_DOCS = chapter_docs()


def load_plan(plan: Path = PLAN) -> dict:
    """The committed plan; refuses a missing one."""
    if not plan.is_file():
        raise FileNotFoundError(f"no confirmation plan at {plan}: write it with `python -m pbe_utils.confirm plan`")
    return json.loads(plan.read_text())


def load_records(folder: Path = SHIPPED) -> dict[str, dict]:
    """The confirmation records (default: shipped with the book), by claim id ({} when there are none)."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def combined_label(published: dict, confirmed: list[dict]) -> verdicts.Verdict:
    """The claim's rule on its published primary cells with each confirmed cell's outcome replaced (module doc)."""
    new = {(c["comparison"], c["model"], c["kind"]): c["outcome"] for c in confirmed}
    prim = [dict(c) for c in published["evidence"] if c.get("role") == "primary"]
    for c in prim:
        c["outcome"] = new.get((c["comparison"], c["model"], c["kind"]), c["outcome"])
    return verdicts.judge(pd.DataFrame(prim), decided=True, primary=registry.claim(published["id"]).primary)


def labels(board: pd.DataFrame, records: dict[str, dict] | None = None) -> pd.DataFrame:
    """Per claim of ``board``: the published label, the confirmation label (the published one where nothing was
    confirmed: no unclear primary cell, or none within the cap), the confirmed cells and whether the labels agree."""
    records = load_records() if records is None else records
    rows = []
    for r in board.to_dict("records"):
        rec = records.get(str(r["id"]))
        conf = rec["confirmation"] if rec else None
        rows.append(
            {
                "id": r["id"],
                "published": r["verdict"],
                "confirmation": conf["verdict"] if conf else r["verdict"],
                "confirmed cells": len(rec["cells"]) if rec else 0,
                "decided cells": sum(c["outcome"] in ("win", "tie", "loss") for c in rec["cells"]) if rec else 0,
                "agree": (conf["verdict"] == r["verdict"]) if conf else True,
            }
        )
    return pd.DataFrame(rows, columns=["id", "published", "confirmation", "confirmed cells", "decided cells", "agree"])


def attach(board: pd.DataFrame, records: dict[str, dict] | None = None) -> pd.DataFrame:
    """``board`` with the columns the scoreboard shows the confirmation from: ``confirmation`` (the label),
    ``confirmed cells`` and ``decided cells`` (see :func:`labels`)."""
    lab = labels(board, records)
    out = board.copy()
    for col in ("confirmation", "confirmed cells", "decided cells"):
        out[col] = lab[col].to_numpy()
    return out


def _interval(c: dict) -> str:
    diff, lo, hi = (c.get(k) for k in ("difference", "lo", "hi"))
    if diff is None or not np.isfinite(diff):
        return "n/a"
    ci = f" [{lo:+.3f}, {hi:+.3f}]" if lo is not None and hi is not None and np.isfinite(lo) else ""
    count = str(c.get("value", "")).endswith("(log-rank)") and float(diff).is_integer()  # evaluations: a count
    return f"{diff:+.0f}{ci}" if count else f"{diff:+.3f}{ci}"


def _key(claim: str, c: dict) -> tuple:
    return claim, c["comparison"], c["model"], c["kind"]


def cells_table(plan: dict, records: dict[str, dict]) -> pd.DataFrame:
    """One row per unclear primary cell of the published run: its published difference and interval, the tasks
    planned (or why none), and the confirmation's tasks, difference, interval and outcome."""
    rows: list[dict] = []
    seen: dict[tuple, int] = {}
    published = {cid: json.loads((SHIPPED_CLAIMS / f"{cid}.json").read_text()) for cid in {p["claim"] for p in
                 plan["cells"]}}  # fmt: skip
    for p in plan["cells"]:
        key = (p["claim"], p["comparison"], p["model"], p["kind"])
        seen[key] = seen.get(key, -1) + 1  # two cells of one model and kind (B1: two faithfulness metrics)
        pub = published[p["claim"]]
        olds = [c for c in pub["evidence"] if c.get("role") == "primary" and c.get("outcome") == "unclear"
                and _key(p["claim"], c) == key]  # fmt: skip
        old: dict = olds[seen[key]] if seen[key] < len(olds) else {}
        news = [c for c in records.get(p["claim"], {}).get("cells", []) if _key(p["claim"], c) == key]
        new = news[0] if news else None
        rows.append(
            {
                "claim": p["claim"],
                "comparison": p["comparison"],
                "model / kind": f"{p['model']} / {p['kind']}",
                "published": f"n={p['published n']}: {_interval(old)} ({old.get('outcome', '?')})",
                "tasks planned": p["tasks"] if p["tasks"] is not None else p["status"].replace("not confirmable here: ",
                                                                                                  "none: "),
                "confirmation": f"n={new['n']}: {_interval(new)} ({new['outcome']})" if new else "–",
                "seconds": str(round(float(new["seconds"]))) if new and new.get("seconds") is not None else "–",
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def page_markdown(board: pd.DataFrame, plan: dict | None = None, records: dict[str, dict] | None = None) -> str:
    """The Confirmation page's generated part (MyST): what the confirmation decided, the labels side by side, every
    unclear primary cell, the cost and the provenance."""
    plan = load_plan() if plan is None else plan
    records = load_records() if records is None else records
    lab = labels(board, records)
    cells = cells_table(plan, records)
    planned = [c for c in plan["cells"] if c["status"] == "planned"]
    done, decided = int(lab["confirmed cells"].sum()), int(lab["decided cells"].sum())
    changed = lab[~lab["agree"]]
    seconds = max((float(r.get("run seconds", 0)) for r in records.values()), default=0.0)
    commits = sorted({str(r.get("commit")) for r in records.values()})
    lines = [
        f"**The confirmation decided {decided} of the {len(planned)} planned cells** "
        f"({done} computed; {len(plan['cells']) - len(planned)} unclear primary cells could not be planned "
        f"here). " + (
            "It changed the label of " + ", ".join(f"{r['id']} ({r['published']} → {r['confirmation']})"
                                                   for r in changed.to_dict("records")) + "."
            if len(changed) else "It changed no claim's label."
        ),
        "",
        "```{table} Each claim's label in the published (exploratory) run and after the confirmation, and whether "
        "they agree (a claim without a confirmed cell keeps its published label).",
        ":name: table-confirmation-labels",
        "",
        "| claim | published label | confirmation label | confirmed cells | agree |",
        "| --- | --- | --- | --- | --- |",
    ]  # fmt: skip
    for r in lab.to_dict("records"):
        lines.append(
            f"| {md_escape(str(r['id']))} | {r['published']} | {r['confirmation']} | {r['confirmed cells']} | "
            f"{'yes' if r['agree'] else '**no**'} |"
        )
    lines += [
        "```",
        "",
        "```{table} Every planned cell: its difference with the interval that decided it and its outcome on the "
        "published tasks, the fresh tasks the plan gave it, and the confirmation's difference, interval and outcome "
        "on those tasks, with the seconds it took (C6: the mean r over tasks, judged against the threshold 0.3).",
        ":name: table-confirmation-cells",
        "",
        "| " + " | ".join(cells.columns) + " |",
        "| " + " | ".join("---" for _ in cells.columns) + " |",
    ]
    for r in cells[cells["confirmation"] != "–"].to_dict("records"):
        lines.append("| " + " | ".join(md_escape(str(v)) for v in r.values()) + " |")
    aside = cells[cells["confirmation"] == "–"][["claim", "comparison", "model / kind", "published", "tasks planned"]]
    lines += [
        "```",
        "",
        "```{table} The unclear primary cells the plan could not give fresh tasks, with their published difference, "
        "interval and outcome, and why (B1: a correlation, judged against the threshold 0.3).",
        ":name: table-confirmation-aside",
        "",
        "| claim | comparison | model / kind | published | why not confirmable here |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in aside.to_dict("records"):
        r["tasks planned"] = str(r["tasks planned"]).removeprefix("none: ")
        lines.append("| " + " | ".join(md_escape(str(v)) for v in r.values()) + " |")
    per_chapter: dict[str, float] = {}
    for cid, rec in records.items():
        chapter = CHAPTER_DOCS.get(registry.claim(cid).chapter, registry.claim(cid).chapter)
        per_chapter[chapter] = per_chapter.get(chapter, 0.0) + sum(float(c.get("seconds") or 0) for c in rec["cells"])
    lines += [
        "```",
        "",
        "```{table} The confirmation's cost per chapter whose claims it tested: seconds of its cells on 2 CPU cores "
        "(cells of one model share the scores and curves of their common tasks, computed once).",
        ":name: table-confirmation-cost",
        "",
        "| chapter | seconds |",
        "| --- | --- |",
        *[f"| {{doc}}`{ch}` | {round(sec)} |" for ch, sec in per_chapter.items()],
    ]
    lines += [
        "```",
        "",
        f"*Plan: `book/data/confirm/plan.json` (fresh task seeds {plan['seeds'][0]}-{plan['seeds'][-1]}, cap "
        f"{plan['rules']['cap']} tasks). Run: `{next(iter(records.values()))['command'] if records else '?'}`, "
        f"commit {', '.join(commits) or '?'}, {seconds / 60:.1f} min on 2 CPU cores.*",
        "",
    ]
    return "\n".join(lines)
