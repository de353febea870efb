"""Reading a scaffold's files as text for the authoring checks: the starter and the reference as
file maps, the reference with every mutant applied, the starter's lines that differ from the
solution, and Python's comments, strings and code tokens (no training, nothing imported)."""

from __future__ import annotations

import difflib
import io
import json
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

from pitfalls.library.schema import MutantEdit

WORDS = re.compile(r"\w+|[^\w\s]")


def text_files(folder: Path) -> dict[str, str]:
    """Every UTF-8 text file under ``folder`` (no ``__pycache__``), keyed by its relative path."""
    out: dict[str, str] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        try:
            out[path.relative_to(folder).as_posix()] = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
    return out


def reference_files(root: Path) -> dict[str, str]:
    """The reference as the runner builds it: workspace/ overlaid with solution/."""
    return {**text_files(root / "workspace"), **text_files(root / "solution")}


def apply_in_turn(files: dict[str, str], table: dict[str, list[MutantEdit]],
                  order: tuple[str, ...]) -> tuple[dict[str, str], str | None]:
    """``files`` with every bug's edits applied, bug after bug in ``order``; and the first edit that
    no longer applies (its ``old`` text not found exactly once), described, or None."""
    out = dict(files)
    for bug in order:
        for index, edit in enumerate(table.get(bug, [])):
            text = out.get(edit.file, "")
            count = text.count(edit.old)
            if count != 1:
                return out, (f"edit {index + 1} of {bug} ({edit.file}) finding its old text {count} times "
                             "once the mutants before it are applied")
            out[edit.file] = text.replace(edit.old, edit.new)
    return out, None


def first_difference(want: str, got: str) -> tuple[int, str, str]:
    """The 1-based number of the first line where ``got`` differs from ``want``, and both lines
    (``<end of file>`` past the end)."""
    a, b = want.splitlines(), got.splitlines()
    for number in range(1, max(len(a), len(b)) + 2):
        left = a[number - 1] if number <= len(a) else "<end of file>"
        right = b[number - 1] if number <= len(b) else "<end of file>"
        if left != right:
            return number, left, right
    return len(a) + 1, "<end of file>", "<end of file>"  # the texts differ only in line endings


def changed_lines(starter: str, solution: str | None) -> set[int]:
    """1-based numbers of the starter's lines that the solution does not have as they are (the
    planted lines); the line after a deletion counts too. None (no solution file): none changed."""
    if solution is None:
        return set()
    a, b = starter.splitlines(), solution.splitlines()
    out: set[int] = set()
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            out.update(range(i1 + 1, max(i2, i1 + 1) + 1))
    return out


def remarks(text: str, name: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every comment and string literal of a Python file; of every ``#`` comment of
    any other text file. A Python file that does not tokenize is read like the others."""
    if name.endswith(".py"):
        try:
            for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                if tok.type in (tokenize.COMMENT, tokenize.STRING) or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
                    yield tok.start[0], tok.string
            return
        except (tokenize.TokenError, SyntaxError, IndentationError):
            pass
    for number, line in enumerate(text.splitlines(), 1):
        if "#" in line:
            yield number, line[line.index("#"):]


def names(text: str, name: str) -> Iterator[tuple[int, str]]:
    """(line, identifier) of every name of a Python file (nothing for other files)."""
    if not name.endswith(".py"):
        return
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME:
                yield tok.start[0], tok.string
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return


def code_tokens(text: str, name: str) -> list[str]:
    """The words and marks of a file without ``#`` comments and layout, read the same way whatever
    the file's name (a notebook by its cells' sources): a copy that was renamed, re-indented,
    re-wrapped or stripped of its comments has the same tokens."""
    if name.endswith(".ipynb"):
        try:
            cells = json.loads(text).get("cells", [])
            text = "\n".join("".join(c.get("source", "")) for c in cells if isinstance(c, dict))
        except (ValueError, AttributeError, TypeError):
            pass
    return WORDS.findall(re.sub(r"#[^\n]*", "", text))


def shingles(tokens: list[str], k: int) -> set[tuple[str, ...]]:
    """Every run of ``k`` consecutive tokens."""
    return {tuple(tokens[i:i + k]) for i in range(max(0, len(tokens) - k + 1))}
