"""The published book: executed notebooks match their sources and the default profile, and the HTML builds
without warnings and renders in a real browser."""

import functools
import http.server
import shutil
import subprocess
import threading
from pathlib import Path

import jupytext
import nbformat
import pytest

from pbe_utils.run import toc_notebooks

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SOURCES = toc_notebooks()


def _code(nb):
    return [
        c.source.strip()
        for c in nb.cells
        if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
    ]


@pytest.mark.parametrize("src", SOURCES, ids=[s.stem for s in SOURCES])
def test_published_notebook_is_current_and_default(src):
    executed = ROOT / "book" / src.with_suffix(".ipynb").name
    assert executed.exists(), f"{executed} missing: run `make book`"
    nb = nbformat.read(executed, as_version=4)
    assert _code(nb) == _code(jupytext.read(src)), "stale output: the source changed since the book was executed"
    params = nb.metadata.papermill.parameters
    assert params == {"profile": "default", "overrides": {}}, f"executed with {params}, not the default profile"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code" and c.source.strip())


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    jb = shutil.which("jupyter-book") or str(ROOT / ".venv" / "bin" / "jupyter-book")
    proc = subprocess.run(
        [jb, "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return proc, out / "_build" / "html"


def test_book_builds_without_warnings(built_book):
    proc, html = built_book
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "warning" not in proc.stderr.lower(), proc.stderr[-3000:]
    assert (html / "index.html").exists() or (html / "book" / "intro.html").exists()
    for src in SOURCES:
        assert (html / "book" / f"{src.stem}.html").exists()


PROBE = """<!doctype html><html><body><script>
const f = document.createElement('iframe'); f.src = '{page}'; f.width = 1200; f.height = 3000;
f.onload = () => setTimeout(() => {{
  const d = f.contentDocument;
  const imgs = [...d.querySelectorAll('article img')];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  const errs = d.querySelectorAll('.output.error, .output .ansi-red-fg, div.cell_output pre.traceback').length;
  const rows = d.querySelectorAll('table tbody tr').length;
  document.body.setAttribute('data-result', JSON.stringify({{imgs: imgs.length, ok: ok, errs: errs, rows: rows,
    title: d.title}}));
}}, 1500);
document.body.appendChild(f);
</script></body></html>"""


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (make test installs it as root)")
@pytest.mark.parametrize("page,min_imgs", [("book/01_lrp_epsilon_vs_zplus.html", 3), ("book/99_scoreboard.html", 0)])
def test_chapter_renders_in_headless_chromium(built_book, page, min_imgs):
    import json
    import re

    proc, html = built_book
    assert proc.returncode == 0
    (html / "probe.html").write_text(PROBE.format(page=page))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--user-data-dir=" + str(html.parent / f"chrome-{Path(page).stem}"),
    ]
    try:
        dom = subprocess.run(
            [_chromium(), *flags, "--virtual-time-budget=15000", "--dump-dom", f"{url}/probe.html"],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        ARTIFACTS.mkdir(exist_ok=True)
        subprocess.run(
            [
                _chromium(),
                *flags,
                "--window-size=1280,1600",
                f"--screenshot={ARTIFACTS / Path(page).stem}.png",
                f"{url}/{page}",
            ],
            capture_output=True,
            timeout=120,
        )
    finally:
        server.shutdown()
    m = re.search(r"data-result=\"([^\"]+)\"", dom)
    assert m, dom[-2000:]
    result = json.loads(m.group(1).replace("&quot;", '"'))
    assert result["errs"] == 0
    assert result["imgs"] >= min_imgs and result["ok"] == result["imgs"], result
    if page.endswith("99_scoreboard.html"):
        assert result["rows"] >= 8, result  # one row per claim
    assert (ARTIFACTS / f"{Path(page).stem}.png").stat().st_size > 10_000
