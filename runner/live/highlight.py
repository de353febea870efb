"""Syntax highlighting for the dashboard's file view, as data: ``[[kind, text], ...]``.

The dashboard builds one ``<span class="tk-KIND">`` per token and sets its text with ``textContent``:
no markup from the candidate's file (or from the highlighter) is ever parsed. Pygments does the
lexing when it is installed (it comes with JupyterLab's dependencies); without it, or for a file too
large to lex quickly, there are no tokens and the view shows plain text.
"""

from __future__ import annotations

import functools
from typing import Any

MAX_CHARS = 100 * 1024
"""Files larger than this are shown plain (the view shows at most this much anyway)."""
MAX_TOKENS = 60_000
KINDS = ("k", "s", "c", "n", "o", "f", "d", "b")
"""Token kinds the dashboard colours: keyword, string, comment, number, operator, function or class
name, decorator, builtin. Anything else is plain text (kind "")."""


def _kind(ttype: Any) -> str:
    from pygments import token as t

    for parent, kind in ((t.Comment, "c"), (t.String, "s"), (t.Keyword, "k"), (t.Number, "n"),
                         (t.Name.Decorator, "d"), (t.Name.Builtin, "b"), (t.Name.Function, "f"),
                         (t.Name.Class, "f"), (t.Operator, "o")):
        if ttype in parent:
            return kind
    return ""


LEXERS = {".py": "python", ".ipynb": "python", ".toml": "toml", ".md": "markdown", ".json": "json",
          ".yaml": "yaml", ".yml": "yaml", ".cfg": "ini", ".ini": "ini", ".sh": "bash"}
"""The only lexers used, by file suffix: the candidate names the files, and some of Pygments' lexers
are slow on crafted input; anything else is shown plain."""


def tokens(text: str, path: str) -> list[list[str]] | None:
    """``text`` as ``[[kind, piece], ...]`` (pieces concatenate to ``text``), or None: no lexer for
    ``path``, no Pygments, or too large. Cached: the view polls an unchanged file every few seconds."""
    name = LEXERS.get("." + path.rsplit(".", 1)[-1].lower()) if "." in path.rsplit("/", 1)[-1] else None
    if name is None or len(text) > MAX_CHARS:
        return None
    found = _tokens(text, name)
    return None if found is None else [list(t) for t in found]


@functools.lru_cache(maxsize=256)
def _tokens(text: str, name: str) -> tuple[tuple[str, str], ...] | None:
    try:
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound
    except ImportError:
        return None
    try:
        lexer = get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None
    out: list[list[str]] = []
    for ttype, piece in lexer.get_tokens(text):
        kind = _kind(ttype)
        if out and out[-1][0] == kind:
            out[-1][1] += piece
        else:
            out.append([kind, piece])
        if len(out) > MAX_TOKENS:
            return None
    if "".join(p for _, p in out) != text:  # a lexer that changed the text: show it plain
        return None
    return tuple((k, p) for k, p in out)
