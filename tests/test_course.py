"""The book as course material: exercises a student can do and check, a lab per chapter whose expected output comes
from the shipped smoke run, the formulas where a reader looks for them, integers printed as integers, and the re-run
instruction of the book followed exactly as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from pbe_utils import labs, plots
from pbe_utils.profiles import get_profile
from pbe_utils.run import toc_notebooks

ROOT = Path(__file__).resolve().parent.parent
SOURCES = toc_notebooks(ROOT)
EXERCISE = re.compile(r"# ```\{exercise\}\n# :label: (ex-[\d-]+)\n((?:# (?!```).*\n|#\n)*)# ```")
SOLUTION = re.compile(r"# ```\{solution\} (ex-[\d-]+)\n# :class: dropdown\n((?:# (?!```).*\n|#\n)*)# ```")
MARK = re.compile(r"^\*(no run|smoke profile|default profile)[^*]*· about \d+ min[^*]*\.\*$")


def _blocks(pattern: re.Pattern) -> dict[str, str]:
    found = {}
    for src in SOURCES:
        for m in pattern.finditer(src.read_text()):
            found[m.group(1)] = "\n".join(line[2:] for line in m.group(2).splitlines())
    return found


def test_every_exercise_states_its_profile_and_minutes():
    exercises = _blocks(EXERCISE)
    assert len(exercises) >= 36
    unmarked = [k for k, body in exercises.items() if not MARK.match(body.strip().splitlines()[0])]
    assert not unmarked, unmarked


def test_every_solution_is_an_answer():
    """No solution only points elsewhere ("Compare ..."); each exercise has one; the six the review found wrong or
    empty now answer with the run's numbers (glued) or the right statement."""
    exercises, solutions = _blocks(EXERCISE), _blocks(SOLUTION)
    assert set(exercises) == set(solutions)
    for key, body in solutions.items():
        first = body.strip().split()[0].lower()
        assert first not in {"compare", "see", "look", "read"}, (key, body[:80])
        assert len(body) > 150, (key, body)
    assert "{glue:text}`ex00_cpu_minutes`" in solutions["ex-00-1"]
    assert "{glue:text}`ex02_ranks`" in solutions["ex-02-1"] and "{glue:text}`ex02_gap`" in solutions["ex-02-1"]
    assert "{glue:text}`ex03_sizes`" in solutions["ex-03-3"]
    assert "tends to a·g as ε → 0" in exercises["ex-06-1"] and "10^{-6}" in solutions["ex-06-1"]
    assert "{glue:text}`ex07_first`" in solutions["ex-07-3"] and "ResNet it stays lowest" not in solutions["ex-07-3"]
    assert "nothing to transfer" in solutions["ex-10-3"]


def test_every_chapter_has_a_lab_whose_expected_output_is_the_shipped_smoke_run():
    for src in SOURCES:
        assert f'labs.show("{src.stem}", P' in src.read_text(), src.name
        assert src.stem in labs.LABS, src.stem
        shipped = labs.shipped(src.stem)
        assert shipped is not None, f"no shipped smoke lab record for {src.stem}"
        assert shipped["run"] == "smoke" and shipped["profile"] == "smoke" and shipped["numbers"]
        assert shipped["command"] == labs.LABS[src.stem].command(src.stem)
        assert re.fullmatch(r"[0-9a-f]{7,40}", shipped["commit"]) and shipped["time"].startswith("20")
        # the published chapter shows the shipped numbers in its lab table (none missing: "—")
        nb = nbformat.read(ROOT / "book" / f"{src.stem}.ipynb", as_version=4)
        tables = [
            o["data"]["text/html"]
            for c in nb.cells
            if c.cell_type == "code" and "labs.show" in c.source
            for o in c.get("outputs", [])
            if "text/html" in o.get("data", {})
        ]
        assert tables and "shipped smoke run" in tables[-1], src.stem
        frame = labs.comparison(src.stem, get_profile("smoke"), shipped["numbers"])
        assert "—" not in frame["shipped smoke run"].astype(str).tolist(), src.stem


def test_the_shipped_smoke_labs_agree_with_the_shipped_smoke_records():
    """A lab's claim labels are the smoke run's claim records', and the smoke scoreboard in brief lists them."""
    records = {p.stem: json.loads(p.read_text()) for p in (labs.SHIPPED_SMOKE / "claims").glob("*.json")}
    assert set(records) >= {"C1", "C2", "C3", "C4", "C5", "C6", "B1", "B2", "B3"}
    brief = (labs.SHIPPED_SMOKE / "headline.md").read_text()
    for chapter in labs.LABS:
        for key, value in (labs.shipped(chapter) or {"numbers": {}})["numbers"].items():
            if key in records:
                assert str(value).startswith(records[key]["verdict"]), (chapter, key, value)
                assert f"| {key} | {records[key]['verdict']} (" in brief, key


def test_ship_refuses_an_incomplete_smoke_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PBE_RESULTS", str(tmp_path))
    monkeypatch.setattr(labs, "SHIPPED_SMOKE", tmp_path / "shipped")
    P = get_profile("smoke")
    labs.keep("01_lrp_epsilon_vs_zplus", P, {"C1": "holds", "mean A_PR": 0.5})
    with pytest.raises(ValueError, match="no lab record for") as err:
        labs.ship("smoke")
    assert "00_data_and_models" in str(err.value) and not (tmp_path / "shipped").exists()
    with pytest.raises(ValueError, match="has no lab; known"):
        labs.keep("11_no_such_chapter", P, {})


def test_a_long_table_shows_its_top_rows_folds_the_rest_and_offers_a_csv():
    plots.setup(chapter=9)
    long = pd.DataFrame({"composite": [f"c{i}" for i in range(40)], "A_PR": [i / 40 for i in range(40)]})
    html = plots.table(long, "Every composite.").data
    top, _, folded = html.partition('<details class="pbe-table-all">')
    assert "Table 9.1. " in top and top.count("<tr") == plots.TOP_ROWS + 1 and "c9<" in top and "c10<" not in top
    assert folded.count("<tr") == 41 and "Show all 40 rows" in folded
    assert 'download="table-9-1.csv"' in top and "data:text/csv;base64," in top
    short = plots.table(long.head(5), "Five.").data
    assert "<details" not in short and "Table 9.2. " in short


def test_whole_numbers_print_as_integers():
    plots.setup()
    frame = pd.DataFrame({"epochs": [30.0, 20.0], "A_PR": [0.91, 1.0], "MACs": [7413248.0, 2.0], "what": [24.0, "x"]})
    cells = re.findall(r">([^<]*)</td>", plots.table(frame, "Counts.").data)
    assert cells == ["30", "0.910", "7,413,248", "24", "20", "1.000", "2", "x"], cells


WHOLE_WITH_DECIMALS = re.compile(r"^-?\d{1,3}(,\d{3})*\.0+$|^-?\d+\.0+$")


def _number(text: str) -> float:
    return abs(float(text.replace(",", "")))


def _columns(table_html: str) -> list[list[str]]:
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table_html, re.S)
    body = [re.findall(r"<td[^>]*>(.*?)</td>", r, re.S) for r in rows]
    body = [[re.sub(r"<[^>]+>", "", c).strip() for c in r] for r in body if r]
    width = max((len(r) for r in body), default=0)
    return [[r[i] for r in body if i < len(r)] for i in range(width)]


def test_no_integer_prints_with_decimals_in_any_executed_chapter():
    """In every table of every executed chapter, no column prints only whole numbers with decimals ("30.000"), and
    no text output prints a count like "heads 24.000" (0.000 and 1.000 are left alone: accuracies, shares and
    p-values that round to them are measurements, not counts)."""
    bad = []
    for src in SOURCES:
        nb = nbformat.read(ROOT / "book" / f"{src.stem}.ipynb", as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
                data = out.get("data", {})
                for table in re.findall(r"<table.*?</table>", data.get("text/html", ""), re.S):
                    for col in _columns(table):
                        values = [v for v in col if v not in ("", "—", "–")]
                        if len(values) >= 2 and all(WHOLE_WITH_DECIMALS.match(v) for v in values):
                            if max(_number(v) for v in values) >= 2:  # 0.000 / 1.000: a rounded measurement
                                bad.append((src.stem, values[:3]))
                text = out.get("text", "") + data.get("text/plain", "") + data.get("text/markdown", "")
                bad += [(src.stem, m) for m in re.findall(r"\b\d[\d,]*\.000+\b", text) if _number(m) >= 2]
    assert not bad, bad[:10]


GLOSSARY_TERMS = [
    "CP-LRP and AttnLRP",
    "virtual bias",
    "canonizer",
    "TPE and GP",
    "integrated gradients",
    "pixel flipping",
    "MACs",
    "Kaplan-Meier",
    "TOST",
    "paired test",
    "A_PR",
    "Top-PR",
    "component relevance",
    "layer group",
    "rule",
]


def test_the_formulas_are_on_the_method_page_and_in_the_glossary():
    method = (ROOT / "book" / "method.md").read_text()
    for label in (
        "formula-epsilon",
        "formula-zplus",
        "formula-component",
        "formula-apr",
        "formula-paired",
        "formula-tost",
    ):
        assert f"({label})=" in method, label
    for piece in (
        r"\varepsilon\,\mathrm{sign}(z_k)",
        "w^+_{jk}",
        r"\alpha \frac",
        r"\gamma w^+_{jk}",
        "A_{PR} =",
        "t_{-} =",
    ):
        assert piece in method, piece
    for word in ("LLL", "MLL", "HLL", "FCL", "CP-LRP", "AttnLRP-z+", "virtual bias"):
        assert word in method, word
    glossary = (ROOT / "book" / "glossary.md").read_text()
    terms = set(re.findall(r"^(\S.*)$", glossary.split("```{glossary}")[1], re.M))
    assert set(GLOSSARY_TERMS) <= terms, set(GLOSSARY_TERMS) - terms
    for key in ("montavon2019layer", "ali2022xai", "achtibat2024attnlrp"):
        assert f"{{cite}}`{key}`" in method + glossary, key
    assert "sphinx-mathjax-offline" in (ROOT / "_config.yml").read_text()  # MathJax ships with the book


@pytest.mark.slow
def test_the_binder_instruction_works_as_written():
    """rerun.md: in the executed chapter, set ``profile = "smoke"`` in the code cell that starts with
    ``# Parameters``, then run all cells. Done exactly so on chapter 00 (the quickest), it runs on the smoke profile."""
    from nbclient import NotebookClient

    text = (ROOT / "book" / "rerun.md").read_text()
    assert "the code cell that starts with\n`# Parameters`" in text and 'set\n`profile = "smoke"` there' in text
    nb = nbformat.read(ROOT / "book" / "00_data_and_models.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Parameters")]
    assert len(cells) == 1 and 'profile = "default"' in cells[0].source
    cells[0].source = cells[0].source.replace('profile = "default"', 'profile = "smoke"')
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "profile=smoke" in printed, printed[:500]


def test_the_instructors_page_has_a_module_a_check_per_chapter_and_a_project():
    text = (ROOT / "book" / "instructors.md").read_text()
    assert "## A two-week module" in text and "### Final project" in text and "**Grading**" in text
    days = re.findall(r"^\| (\d+) \| ", text, re.M)
    assert days == [str(d) for d in range(1, 11)]
    checks = re.findall(r"^```\{dropdown\} (.*)$", text, re.M)
    numbered = {int(m) for c in checks for m in re.findall(r"Chapter (\d+)", c)}
    assert numbered >= {int(s.stem[:2]) for s in SOURCES if s.stem[:2] != "99"}, checks
    assert any("scoreboard" in c for c in checks) and sum("Chapter 00" in c for c in checks) == 2
    for block in re.findall(r"^```\{dropdown\}.*?^```$", text, re.M | re.S):
        questions = re.findall(r"^\d\. ", block, re.M)
        assert 2 <= len(questions) <= 5 and block.count("*") >= 2 * len(questions), block[:80]  # each answered
