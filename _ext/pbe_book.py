"""Small fixes to the book's HTML that the theme stack (jupyter-book 1, sphinx-book-theme 1.3, sphinx-thebe 0.3)
leaves, each one a JavaScript error in every page's console without it:

- sphinx-thebe adds its inline configuration script twice to every page ("Identifier 'THEBE_JS_URL' has already
  been declared"): duplicate scripts are dropped from each page's context;
- the theme's colour mode is left empty ("Got invalid theme mode"): it is set to follow the reader's system.
"""

from __future__ import annotations


def _one_of_each_script(app, pagename, templatename, context, doctree) -> None:
    seen: set[tuple[str, str]] = set()
    kept = []
    for js in context.get("script_files", []):
        key = (getattr(js, "filename", None) or "", str(getattr(js, "attributes", {}).get("body", "")))  # None or ""
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    context["script_files"] = kept
    if not context.get("default_mode"):  # the theme's colour mode follows the reader's system
        context["default_mode"] = "auto"


def setup(app):  # noqa: D103
    app.connect("html-page-context", _one_of_each_script, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

