"""Syntax highlighting for the dashboard's file view, as data: ``[[kind, text], ...]``.

The dashboard builds one ``<span class="tk-KIND">`` per token and sets its text with ``textContent``:
no markup from the candidate's file (or from the highlighter) is ever parsed. Pygments does the
lexing when it is installed (it comes with JupyterLab's dependencies); without it, or for a file too
large to lex quickly, there are no tokens and the view shows plain text.
"""

from __future__ import annotations

from typing import Any

MAX_CHARS = 200 * 1024
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


def tokens(text: str, path: str) -> list[list[str]] | None:
    """``text`` as ``[[kind, piece], ...]`` (pieces concatenate to ``text``), or None: no lexer for
    ``path``, no Pygments, or too large."""
    if len(text) > MAX_CHARS:
        return None
    try:
        from pygments.lexers import get_lexer_for_filename
        from pygments.util import ClassNotFound
    except ImportError:
        return None
    name = "x.py" if path.endswith(".ipynb") else path.rsplit("/", 1)[-1]
    try:
        lexer = get_lexer_for_filename(name, stripnl=False, ensurenl=False)
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
    return out
