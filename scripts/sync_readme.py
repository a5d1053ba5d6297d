"""Copy the generated headline (book/_headline.md: the counts, the confirmation's sentence and the claims table) into
the README's "What the study found", links as paths: `python scripts/sync_readme.py` after the scoreboard ran.
tests/test_confirm.py checks that the README holds what this writes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_block(headline: str) -> str:
    """The README's part of the headline: its bold counts, the confirmation's sentence and the claims table."""
    lines = headline.splitlines()
    counts = re.match(r"\*\*(.+?)\*\*", lines[0])
    if counts is None:
        raise ValueError("book/_headline.md does not start with the bold counts; run the scoreboard chapter first")
    out = [f"**{counts.group(1)}**", ""]
    sentence = next((x for x in lines if x.startswith("A confirmation run") or x.startswith("No confirmation")), "")
    if sentence:
        out += [sentence, ""]
    out += [x for x in lines if x.startswith("| ")]
    text = "\n".join(out)
    text = re.sub(r"\{doc\}`confirmation`", "`book/confirmation.md`", text)
    return re.sub(r"\{doc\}`([\w-]+)`", r"`book/\1`", text)


def sync(readme: Path = ROOT / "README.md", headline: Path = ROOT / "book" / "_headline.md") -> None:
    """Replace the README's block between the bold counts and the scoreboard picture by :func:`readme_block`."""
    text = readme.read_text()
    start = text.index("**Of ")
    end = text.index("![The headline", start)
    readme.write_text(text[:start] + readme_block(headline.read_text()) + "\n\n" + text[end:])


if __name__ == "__main__":
    sync()
