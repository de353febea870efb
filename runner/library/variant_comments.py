"""A variant's starter without the reference's explanations of the fixes it does not plant.

A variant whose ``bug_pool`` leaves a bug out ships that bug's fixed lines: the reference's, which
explain the fix in comments ("# 'balanced' weights each class by the inverse of its frequency").
Those comments would tell the candidate what the shipped scaffold gets wrong there, so they are
dropped from the lines of each unplanted bug's ``old`` texts; the code stays token for token the
same (checked: the file's syntax tree is unchanged, else the file is left as it was).
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable
from pathlib import Path

from pitfalls.library.schema import MutantEdit


def strip_fix_comments(folder: Path, edits: Iterable[MutantEdit]) -> None:
    """In ``folder``, remove the ``#`` comments on the lines each edit's ``old`` text spans (where
    that text occurs exactly once in a ``.py`` file); a line that held only a comment goes."""
    for edit in edits:
        path = folder / edit.file
        if path.suffix != ".py" or not path.is_file() or "#" not in edit.old:
            continue
        text = path.read_text()
        if text.count(edit.old) != 1:
            continue
        first = text.count("\n", 0, text.index(edit.old)) + 1
        last = first + edit.old.rstrip("\n").count("\n")
        path.write_text(without_comments(text, first, last))


def without_comments(text: str, first: int, last: int) -> str:
    """``text`` with the comments that start on lines ``first`` .. ``last`` (1-based) removed; ``text``
    itself if it does not tokenize or the removal would change its syntax tree."""
    try:
        comments = [t.start for t in tokenize.generate_tokens(io.StringIO(text).readline)
                    if t.type == tokenize.COMMENT and first <= t.start[0] <= last]
        before = ast.dump(ast.parse(text))
    except (SyntaxError, tokenize.TokenError, IndentationError):
        return text
    lines = text.splitlines(keepends=True)
    gone: set[int] = set()
    for row, col in comments:
        line = lines[row - 1]
        end = line[len(line.rstrip("\r\n")):]
        if line[:col].strip():
            lines[row - 1] = line[:col].rstrip() + end
        else:
            gone.add(row - 1)
    out = "".join(line for i, line in enumerate(lines) if i not in gone)
    try:
        return out if ast.dump(ast.parse(out)) == before else text
    except SyntaxError:
        return text
