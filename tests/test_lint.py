"""`make lint` is part of `make test`; this shows the lint gate can fail: a planted error is caught."""

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUFF = shutil.which("ruff") or str(ROOT / ".venv" / "bin" / "ruff")


def _ruff(*args):
    return subprocess.run([RUFF, *args, "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True)


def test_the_repository_passes_lint():
    proc = _ruff("check", str(ROOT / "pbe_utils"), str(ROOT / "tests"), str(ROOT / "notebooks"))
    assert proc.returncode == 0, proc.stdout


def test_a_planted_lint_error_fails(tmp_path):
    clean = tmp_path / "metrics.py"
    shutil.copy(ROOT / "pbe_utils" / "metrics.py", clean)
    assert _ruff("check", str(clean)).returncode == 0
    planted = tmp_path / "planted.py"
    planted.write_text("import os\n\n\ndef f(x):\n    return undefined_name + x\n")
    proc = _ruff("check", str(planted))
    assert proc.returncode != 0 and "F401" in proc.stdout and "F821" in proc.stdout


def test_notebook_lines_fit_except_figure_headers():
    """Notebook sources keep the 120-character limit; only a cell header carrying a figure's caption may be longer."""
    long = [
        f"{p.name}:{i}"
        for p in sorted((ROOT / "notebooks").glob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), start=1)
        if len(line) > 120 and not line.startswith("# %% mystnb=")
    ]
    assert not long, long


def test_every_figure_caption_is_numbered_and_named():
    import jupytext

    names = []
    for p in sorted((ROOT / "notebooks").glob("*.py")):
        for cell in jupytext.read(p).cells:
            fig = cell.metadata.get("mystnb", {}).get("figure")
            if fig:
                assert fig.get("caption") and fig.get("name", "").startswith(f"fig-{p.stem[:2]}-"), (p.name, fig)
                names.append(fig["name"])
    assert len(names) >= 10 and len(set(names)) == len(names)


def test_the_package_keeps_its_layers():
    """The import-linter layers contract of pyproject.toml holds (no upward import, no import circle)."""
    exe = shutil.which("lint-imports") or str(ROOT / ".venv" / "bin" / "lint-imports")
    proc = subprocess.run([exe], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "1 kept, 0 broken" in proc.stdout, proc.stdout[-2000:]


def test_a_planted_upward_import_breaks_the_layers(tmp_path):
    """A copy of the package where a foundation module imports a chapter: the contract fails."""
    pkg = tmp_path / "pbe_utils"
    shutil.copytree(ROOT / "pbe_utils", pkg)
    (pkg / "metrics.py").write_text((pkg / "metrics.py").read_text() + "\nfrom pbe_utils import chapters  # noqa\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    exe = shutil.which("lint-imports") or str(ROOT / ".venv" / "bin" / "lint-imports")
    proc = subprocess.run(
        [exe], capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    )
    assert proc.returncode != 0 and "BROKEN" in proc.stdout.upper(), proc.stdout[-2000:]


def test_every_chapter_has_three_to_five_exercises_with_solutions_and_the_instructors_page_links_it():
    import re

    from pbe_utils.run import toc_notebooks

    instructors = (ROOT / "book" / "instructors.md").read_text()
    for src in toc_notebooks():
        if src.stem.startswith("99"):
            continue
        text = src.read_text()
        labels = re.findall(r"^# ```\{exercise\}\n# :label: (ex-\d\d-\d+)", text, flags=re.M)
        solved = re.findall(r"^# ```\{solution\} (ex-\d\d-\d+)", text, flags=re.M)
        assert 3 <= len(labels) <= 5 and sorted(labels) == sorted(solved), (src.name, labels, solved)
        assert all(label.startswith(f"ex-{src.stem[:2]}-") for label in labels), (src.name, labels)
        assert f"{{doc}}`{src.stem}`" in instructors, f"the instructors' page does not link {src.stem}"


def test_every_figure_is_drawn_by_the_package():
    """A chapter calls a figure function of pbe_utils.plots or pbe_utils.figures and shows it; no axis plumbing."""
    raw = re.compile(r"plt\.(subplots|figure|plot|imshow)\(|\bsns\.|\bax\.|\baxes\[|\bfig\.|\bg\.set")
    for p in sorted((ROOT / "notebooks").glob("*.py")):
        bad = [f"{i}: {ln}" for i, ln in enumerate(p.read_text().splitlines(), 1) if raw.search(ln)]
        assert not bad, (p.name, bad[:3])


def test_every_chapter_has_at_least_as_many_prose_lines_as_code_lines():
    """Narrative first: figure and table code lives in pbe_utils.plots, pbe_utils.figures and the chapter modules, so
    a chapter's visible code is the experiment call and one line per figure or table. The exercises (the last
    section, from "## Exercises" on) are not counted as prose: the chapter's own text must carry it."""
    import jupytext

    for p in sorted((ROOT / "notebooks").glob("*.py")):
        prose = code = 0
        exercises = False
        for c in jupytext.read(p).cells:
            n = len([ln for ln in c.source.splitlines() if ln.strip()])
            exercises = exercises or (c.cell_type == "markdown" and "## Exercises" in c.source)
            if c.cell_type == "markdown" and not exercises:
                prose += n
            elif c.cell_type == "code" and "parameters" not in c.metadata.get("tags", []):
                code += n
        assert prose >= code, (p.name, prose, code)


def _layers() -> list[list[str]]:
    import tomllib

    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    return [[m.strip() for m in layer.split("|")] for layer in contract["layers"]]


def test_the_layers_contract_names_every_module_once_and_has_at_most_eleven_floors():
    """Exhaustive: every module and subpackage of pbe_utils sits in exactly one floor, so a new module cannot
    escape the contract; the house has at most 11 floors."""
    pkg = ROOT / "pbe_utils"
    modules = {p.stem for p in pkg.glob("*.py") if p.stem not in ("__init__", "__main__")}
    modules |= {p.parent.name for p in pkg.glob("*/__init__.py")}
    named = [m for layer in _layers() for m in layer]
    assert sorted(named) == sorted(set(named)), "a module is named twice"
    assert set(named) == modules, {"missing": modules - set(named), "unknown": set(named) - modules}
    assert len(_layers()) <= 11


def test_no_module_of_the_package_is_above_400_lines():
    long = {p.relative_to(ROOT).as_posix(): n for p in (ROOT / "pbe_utils").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}  # fmt: skip
    assert not long, long


def test_test_helpers_and_optunas_private_api_have_one_home_each():
    """No environment kill switch or test server in the study's modules (they live in pbe_utils/testing.py), and
    optuna's private attributes are reached in one documented function (storage.optuna_handle)."""
    for path in (ROOT / "pbe_utils").rglob("*.py"):
        text = path.read_text()
        if path.name != "testing.py":
            assert "PBE_TEST" not in text and "def throwaway_postgres" not in text, path.name
        uses = [ln for ln in text.splitlines() if ("._storage" in ln or "._trial_id" in ln) and "``" not in ln]
        if path.name == "storage.py":
            assert uses == ["    return study._storage, (None if trial is None else trial._trial_id)"], uses
        else:
            assert not uses, (path.name, uses)


def test_each_shared_fact_has_one_home():
    from pbe_utils import components, composites, plots, scoreboard, toc

    assert scoreboard.KINDS is components.KINDS
    assert plots.RULE_SYMBOLS == {r: composites.SYMBOL[r] for r in composites.RULES}
    assert scoreboard.CHAPTER_DOCS == toc.chapter_docs() and scoreboard.CHAPTER_DOCS["08"] == "08_search_cost"
    transfer = (ROOT / "notebooks" / "10_transfer.py").read_text()
    assert "from pbe_utils.scoreboard import LETTER" in transfer and '"win": "W"' not in transfer
    assert '["LLL", "MLL", "HLL", "FCL"]' not in (ROOT / "pbe_utils" / "plots.py").read_text()


#: what asks which architecture a model is: a CNN/ViT flag or name comparison, an attribute probe of an attention
#: module, a type test of an architecture's building block, a pattern over its module names
FAMILY_BRANCHING = re.compile(
    r"is_vit\(|\.family\s*[!=]=|family\s*[!=]=\s*[\"'](cnn|vit)|\.family\.name\s*[!=]=|\bvit=(?!=)|\bvit:\s*bool"
    r"|hasattr\([^)]*[\"'](qkv|proj|out_proj|in_proj_weight|pbe_probs|use_res_connect)[\"']"
    r"|isinstance\([^)]*(MultiheadAttention|Attention|VisionTransformer|BasicBlock|Bottleneck)"
    r"|blocks\\\\\.|encoder_layer_"
)


def test_family_branching_lives_only_in_the_family_modules():
    """Nothing outside ``pbe_utils/families`` (package, notebooks, scripts, benchmarks) asks which architecture a
    model is (composites' own notation takes the ``vit`` flag that only the families pass); every site the families
    replaced is caught by the pattern."""
    replaced = [  # lines of the package before the families (one per kind of branching)
        'vit = REGISTRY[name].family == "vit"',
        'return kinds_for("vit" if is_vit(model) else "cnn")',
        'if not hasattr(m, "qkv"):  # torchvision: the fused in-projection is not a module',
        'proj = attn.proj if hasattr(attn, "proj") else attn.out_proj',
        'm = re.search(r"(?:blocks\\.|encoder_layer_)(\\d+)", name)',
        "if any(isinstance(m, (BasicBlock, Bottleneck)) for m in model.modules()):",
        'point = comp.as_params(vit=REGISTRY[name].family == "vit")',
        "    vit: bool,",
    ]
    assert all(FAMILY_BRANCHING.search(line) for line in replaced)
    assert not FAMILY_BRANCHING.search('if family == "claim":')  # a Holm family is not an architecture
    hits = []
    sources = [*(ROOT / "pbe_utils").rglob("*.py"), *(ROOT / "notebooks").glob("*.py")]
    sources += [*(ROOT / "scripts").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    for path in sorted(sources):
        if "families" in path.relative_to(ROOT).parts or path.name == "composites.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if FAMILY_BRANCHING.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not hits, hits
