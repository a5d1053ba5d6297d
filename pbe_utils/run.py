"""Execute the book's notebooks: ``notebooks/NN_x.py`` (Jupytext percent) -> papermill -> ``book/NN_x.ipynb``.

    python -m pbe_utils.run                      # every chapter of _toc.yml, default profile
    python -m pbe_utils.run notebooks/01_*.py --profile smoke -p n_eval=100 -p "seeds=[0, 1]"

Parameters reach the notebook as ``profile`` and ``overrides`` (a dict validated by ``get_profile`` in its first
cell). ``-p key=value`` values are read with ``ast.literal_eval`` (numbers, lists, None, True), never ``eval``; any
other text stays a string. Failures are collected and reported at the end; the exit status is non-zero if any.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat

from pbe_utils import labs, scoreboard
from pbe_utils.cache import (
    CorruptFileError,
    atomic_write_bytes,
    bound_onednn_cache,
    cache_dir,
    current_commit,
    project_root,
    results_dir,
)
from pbe_utils.claims import PUBLISHED_RUN, load_all, run_dir, run_id
from pbe_utils.profiles import get_profile
from pbe_utils.toc import toc_notebooks

ROOT = project_root()


def parse_overrides(items: list[str]) -> dict:
    """``-p key=value`` items as a dict of Python literals; a value that does not parse is refused."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"-p {item!r} is not accepted; write -p key=value")
        key, raw = item.split("=", 1)
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            if raw.strip()[:1] in "[({" or raw.strip().lower() in ("nan", "inf", "-inf"):
                raise ValueError(
                    f"-p {item!r} does not parse: the value must be a Python literal (numbers, strings in quotes, "
                    "lists, None, True/False; nan and inf are not accepted)"
                ) from None
            value = raw
        out[key.strip()] = value
    return out


class ChapterFailed(RuntimeError):
    """A chapter failed; the previous executed notebook is untouched and the failed run is kept beside it."""


def failed_path(output: Path) -> Path:
    """Where a failed run of ``output`` is kept (beside it, ``<name>.failed.ipynb``)."""
    return output.with_name(f"{output.stem}.failed.ipynb")


FOLD_LINES = 8  # code cells longer than this are folded in the HTML (hide-input: a click shows them)
PLUMBING = ("plt.", "sns.", "plots.", "display(", "scoreboard.", ".pivot(", ".groupby(")
BOOKKEEPING = ("claims.record", "glue_claim", "glue(")  # always folded: a record or a glued number, not the method


def _is_plumbing(source: str) -> bool:
    """A cell a reader need not see by default, folded behind a "show code" toggle the same way in every chapter:
    the recording of a verdict (``claims.record``) and the numbers the prose quotes (``glue``), figure and table
    formatting, and long cells; the experiment call (``chapters.``) stays visible unless it is very long."""
    if any(p in source for p in BOOKKEEPING):
        return True
    if "chapters." in source:
        return len(source.splitlines()) > 3 * FOLD_LINES
    return len(source.splitlines()) > FOLD_LINES or any(p in source for p in PLUMBING)


def tidy(nb, show_parameters: bool = False) -> None:
    """Reader-facing cell tags: the parameters cell and papermill's injected copy are removed from the HTML; long cells
    and figure or table formatting are folded (the experiment call and the verdict stay visible). With
    ``show_parameters`` (a run whose parameters differ from the published profile's) the injected parameters stay
    visible at the top of the chapter. Idempotent; code is unchanged."""
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"] = [o for o in (_without_progress(o) for o in cell.get("outputs", [])) if o is not None]
        tags = list(cell.metadata.get("tags", []))
        if show_parameters and "injected-parameters" in tags:
            continue
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
        elif _is_plumbing(cell.source) and not {"hide-input", "remove-input", "remove-cell"} & set(tags):
            tags.append("hide-input")
        if tags:
            cell.metadata["tags"] = tags


# tqdm's progress bars, optuna's, and tqdm.auto's notice that a kernel without ipywidgets gets text bars
_PROGRESS = re.compile(
    r"(\d+%\|)|(\d+/\d+ \[)|(it/s\])|(s/it\])|(Best trial: \d+\. Best value)|(TqdmWarning: IProgress not found)"
    r"|(from \.autonotebook import tqdm)"
)


def _without_progress(output):
    """A stored output without its progress-bar lines (tqdm writes them to stderr while a chapter runs; the terminal
    shows them, the book does not); None when nothing else is left."""
    if output.get("output_type") != "stream" or output.get("name") != "stderr":
        return output
    lines = [ln for ln in re.split(r"[\r\n]", output.get("text", "")) if ln.strip() and not _PROGRESS.search(ln)]
    if not lines:
        return None
    output["text"] = "\n".join(lines) + "\n"
    return output


def tidy_file(path: Path, show_parameters: bool = False) -> None:
    """Apply :func:`tidy` to an executed notebook in place (atomically)."""
    nb = nbformat.read(path, as_version=4)
    tidy(nb, show_parameters)
    tmp = path.with_name(f".{path.stem}.tidy.ipynb")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)


def execute(
    source: Path,
    output: Path,
    profile: str,
    overrides: dict,
    cwd: Path = ROOT,
    log: bool = True,
    show_parameters: bool = False,
) -> float:
    """Convert one Jupytext source and execute it with papermill; returns the seconds it took.

    The executed notebook replaces ``output`` only when it ran to the end (one atomic rename); a failed run is
    written to ``<name>.failed.ipynb`` beside it and named in the :class:`ChapterFailed` error, and the previous
    ``output`` stays byte-identical."""
    import papermill as pm

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / source.with_suffix(".ipynb").name
        jupytext.write(nb, src)
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(f".{output.stem}.partial.ipynb")
        try:
            pm.execute_notebook(
                str(src),
                str(partial),
                parameters={"profile": profile, "overrides": overrides},
                cwd=str(cwd),
                kernel_name="python3",
                progress_bar=False,
                log_output=log,
                request_save_on_cell_execute=False,
                # the kernel's own log (ipykernel 7 warns on every start that its local TCP link is unencrypted)
                # stays quiet; a cell's warnings and errors still reach the notebook and this log
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except Exception as err:
            failed = failed_path(output)
            if partial.exists():
                os.replace(partial, failed)
            last = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
            raise ChapterFailed(
                f"{source.name} failed ({last}); the failed run is in {failed}, and {output} was left as it was"
            ) from err
        tidy_file(partial, show_parameters)
        os.replace(partial, output)  # ran to the end: published in one step
        failed_path(output).unlink(missing_ok=True)
    return time.perf_counter() - start


def _writable(folder: Path, what: str) -> None:
    """Create ``folder`` and write and remove a probe file in it; raise ``OSError`` naming it and ``what`` it is."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".pbe-probe-"):
            pass
    except OSError as err:
        raise OSError(
            f"{what} {str(folder)!r} is not writable ({err.strerror or err}); choose another folder"
        ) from None


def check_folders(out: Path, records: Path) -> None:
    """Before any chapter runs: the output folder, the run's records folder ($PBE_RESULTS), the cache ($PBE_CACHE)
    are writable and a $PBE_DATA_DIR, when set, is a readable folder."""
    _writable(records, "the results folder ($PBE_RESULTS)")
    _writable(out, "the output folder (--out)")
    _writable(cache_dir(), "the cache folder ($PBE_CACHE)")
    data = os.environ.get("PBE_DATA_DIR")
    if data and not (Path(data).is_dir() and os.access(data, os.R_OK | os.X_OK)):
        raise OSError(f"$PBE_DATA_DIR {data!r} is not a readable folder; unset it or point it at Fashion-MNIST")


def main(argv: list[str] | None = None) -> int:
    """``python -m pbe_utils.run``: validate everything, then execute the chapters (see the module docstring)."""
    bound_onednn_cache()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path, help="sources (default: every chapter in _toc.yml)")
    ap.add_argument("--profile", default="default")
    ap.add_argument("-p", dest="params", action="append", default=[], help="override: key=value (repeatable)")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder of the executed notebooks (default: book/ for the published profile as it is, else the run's "
        "own folder results/runs/<run>/notebooks, so that a re-run never replaces the published chapters)",
    )
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--debug", action="store_true", help="show the traceback of a refused parameter")
    ap.add_argument(
        "--times-to",
        type=Path,
        default=None,
        help="after a full run, write the time per chapter to this file (e.g. book/_smoke_run_time.md)",
    )
    ap.add_argument(
        "--ship",
        action="store_true",
        help="after a complete smoke run, ship its labs, claim records and scoreboard in brief to book/data/smoke "
        "(what `make smoke-times` does; a plain smoke run leaves the book's files alone)",
    )
    args = ap.parse_args(argv)
    try:
        overrides = parse_overrides(args.params)
        resolved = get_profile(args.profile, **overrides)  # fail fast, before any notebook starts
        if resolved.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ValueError("device='cuda' is not accepted here: this machine has no CUDA GPU; use -p device=cpu")
    except (ValueError, CorruptFileError, FileNotFoundError) as err:  # a bad value, a broken or missing zoo manifest
        if args.debug:
            raise
        print(f"pbe_utils.run: error: {err}", file=sys.stderr)
        return 2

    os.environ["PBE_RESULTS"] = str(results_dir())  # one absolute results root for this command and its kernels
    run = run_id(resolved)
    if args.out is None:
        # only a complete run of the published profile writes book/: a chapter re-run on its own goes to the run's
        # folder and compares itself with the shipped record (the scoreboard refuses an incomplete set of records)
        full = run == PUBLISHED_RUN and not args.notebooks
        args.out = ROOT / "book" if full else run_dir(run).resolve() / "notebooks"
    try:
        check_folders(args.out, run_dir(run))
    except OSError as err:
        print(f"pbe_utils.run: error: {err}", file=sys.stderr)
        return 2
    published = args.out.resolve() == (ROOT / "book").resolve()
    print(f"[pbe] run {run}: executed notebooks go to {args.out}, claim records to {run_dir(run).resolve() / 'claims'}")
    sources = args.notebooks or toc_notebooks(ROOT)
    if not sources:
        print("no notebooks to run", file=sys.stderr)
        return 2
    failures = []
    times: dict[str, float] = {}
    for src in sources:
        if not src.exists():
            failures.append((src, "source not found"))
            continue
        print(f"[pbe] {src.name} (profile={args.profile}, overrides={overrides})", flush=True)
        try:
            secs = execute(
                src,
                args.out / src.with_suffix(".ipynb").name,
                args.profile,
                overrides,
                log=not args.quiet,
                show_parameters=run != PUBLISHED_RUN,
            )
            print(f"[pbe] {src.name}: ok in {secs:.0f} s", flush=True)
            times[src.stem] = secs
        except Exception as err:  # ChapterFailed, naming the failed notebook and the cause
            failures.append((src, str(err).strip().splitlines()[0] if str(err).strip() else repr(err)))
            print(f"[pbe] {src.name}: FAILED", flush=True)
    for src, why in failures:
        print(f"[pbe] failed: {src}: {why}", file=sys.stderr)
    if not failures and not args.notebooks and published and run == PUBLISHED_RUN:
        write_run_record(times, args.profile, overrides)
    if not failures and args.notebooks and published and run == PUBLISHED_RUN and RUN_RECORD.exists():
        atomic_write_bytes(RUN_RECORD, add_partial_times(RUN_RECORD.read_text(), times).encode())
    if not failures and not args.notebooks and args.times_to is not None:
        write_run_record(times, args.profile, overrides, args.times_to)
    if not failures and not args.notebooks and run == labs.SMOKE_RUN and args.ship:
        print(f"[pbe] smoke run complete: its labs, claim records and scoreboard ship to {ship_smoke(run)}")
    return 1 if failures else 0


def smoke_headline(run: str = labs.SMOKE_RUN, folder: Path | None = None) -> str:
    """The smoke run's scoreboard in brief (MyST, for the instructors' page): its counts and each claim's label."""
    board = load_all(run, folder=folder)
    stamp = sorted(str(t) for t in board["time"].dropna())
    commits = sorted({str(c) for c in board["commit"].dropna() if c})
    lines = [
        f"**{scoreboard.counts_sentence(board)}** (run `{run}`, commit {', '.join(commits) or '?'}, "
        f"{stamp[-1][:10] if stamp else '?'}).",
        "",
        "```{table} The shipped smoke run's label of each claim, with its supporting cells: what students see after "
        "a smoke run of every chapter.",  # no backticks: a fence's info string cannot hold them
        ":name: table-smoke-labels",
        "",
        "| claim | smoke run's label (supporting cells) |",
        "| --- | --- |",
    ]
    lines += [f"| {r['id']} | {r['verdict']} ({scoreboard.share_text(r)}) |" for r in board.to_dict("records")]
    return "\n".join([*lines, "```", ""])


def ship_smoke(run: str = labs.SMOKE_RUN) -> Path:
    """After a complete smoke run: its lab records and claim records into book/data/smoke (:func:`labs.ship`) and
    its scoreboard in brief (``headline.md``), so the book shows what a student's smoke run prints."""
    out = labs.ship(run)
    atomic_write_bytes(out / "headline.md", smoke_headline(run, folder=out / "claims").encode())
    return out


def run_time_markdown(times: dict[str, float], profile: str, overrides: dict, note: str = "") -> str:
    """The measured time per chapter of a full run, with the command, machine, commit and date (a MyST include);
    ``note`` is appended to its first sentence."""
    commit = current_commit(ROOT)
    total = sum(times.values())
    lines = [
        f"The last full run (`python -m pbe_utils.run --profile {profile}`"
        + (f" with {overrides}" if overrides else "")
        + f") executed every chapter in **{total / 60:.1f} min** "
        f"on {os.cpu_count()} CPU cores ({platform.machine()}, commit {commit or '?'}, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}){note}.",
        "",
        f"```{{table}} Minutes per chapter of the last full run of the {profile} profile.",
        "",
        "| chapter | minutes |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {secs / 60:.1f} |" for name, secs in times.items()]
    return "\n".join([*lines, "```"]) + "\n"


def write_run_record(times: dict[str, float], profile: str, overrides: dict, path: Path | None = None) -> None:
    """After a full run: the time per chapter into ``path`` (default ``book/_run_time.md``, for the intro and the
    re-run page), written atomically."""
    note = ", plus a minute or two for the HTML build" if path is None else ""
    text = run_time_markdown(times, profile, overrides, note)
    atomic_write_bytes(path or RUN_RECORD, text.encode())


RUN_RECORD = ROOT / "book" / "_run_time.md"
_PARTIAL = "<!-- chapters re-executed on their own since the full run -->"


def add_partial_times(record: str, times: dict[str, float]) -> str:
    """The run record ``record`` (:func:`run_time_markdown` of the last full run) with the chapters of a later run
    of some chapters of the published profile: their times (latest wins) with commit and date, and what a full run
    would take with each chapter's latest time. The full run's own table stays as it was measured."""
    full_part, _, partial_part = record.partition(_PARTIAL)
    full = {m[0]: float(m[1]) for m in re.findall(r"^\| (\w+) \| ([\d.]+) \|$", full_part, re.M)}
    if not full:
        raise ValueError("the run record holds no per-chapter table of a full run")
    later = {m[0]: m[1:] for m in re.findall(r"^\| (\w+) \| ([\d.]+) \| (\w*) \| ([\d-]+) \|$", partial_part, re.M)}
    commit, day = current_commit(ROOT) or "?", time.strftime("%Y-%m-%d", time.gmtime())
    for name, secs in times.items():
        later[name] = (f"{secs / 60:.1f}", commit, day)
    latest = {**full, **{k: float(v[0]) for k, v in later.items()}}
    lines = [
        full_part.rstrip("\n"),
        "",
        _PARTIAL,
        "Re-executed on their own since then (`python -m pbe_utils.run notebooks/<chapter>.py`, published profile):",
        "",
        "```{table} Chapters re-executed on their own since the last full run: minutes, commit and date.",
        "",
        "| chapter | minutes | commit | date |",
        "| --- | --- | --- | --- |",
        *[f"| {k} | {v[0]} | {v[1]} | {v[2]} |" for k, v in later.items()],
        "```",
        "",
        f"With each chapter's latest time, a full run would take about **{sum(latest.values()):.1f} min**.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
