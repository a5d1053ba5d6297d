"""The book's table of contents (``_toc.yml``) as the package reads it: which chapters are executed notebooks, in
order, and which page holds each chapter number. The one home of that fact: the runner executes these chapters and
the scoreboard links claims to them."""

from __future__ import annotations

import re
from pathlib import Path

from pbe_utils.cache import project_root


def toc_names(root: Path | None = None) -> list[str]:
    """The executed chapters of ``_toc.yml`` (``book/NN_name`` entries), in the book's order."""
    text = ((root or project_root()) / "_toc.yml").read_text()
    return re.findall(r"file:\s*book/(\d\d_[\w-]+)", text)


def toc_notebooks(root: Path | None = None) -> list[Path]:
    """The chapters listed in ``_toc.yml`` that are executed notebooks (``book/NN_x``), as their sources."""
    root = root or project_root()
    return [root / "notebooks" / f"{n}.py" for n in toc_names(root) if (root / "notebooks" / f"{n}.py").exists()]


def chapter_docs(root: Path | None = None) -> dict[str, str]:
    """Chapter number ("01") -> its page ("01_lrp_epsilon_vs_zplus"); the first page of a number where two share it
    (chapter 00: the data and models, then LRP from scratch)."""
    docs: dict[str, str] = {}
    for name in toc_names(root):
        docs.setdefault(name[:2], name)
    return docs
