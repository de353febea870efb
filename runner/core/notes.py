"""One validation for every note: the candidate's ``--note`` and the interviewer's notes.

A note is shown in the CLI's history, the dashboard and the report, and stored in SQLite; so it
must be text that every one of them can hold and show as written: bounded, valid Unicode (no
lone surrogates, which SQLite cannot encode and the CLI gets from undecodable argv bytes), and
free of control characters that would rewrite a terminal or reorder a line on screen.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from pitfalls.core.errors import PitfallsError

MAX_NOTE_CHARS = 2000
ALLOWED_CONTROLS = frozenset("\t\n")
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Characters that reorder how the rest of a line is displayed (a note could hide or fake text)."""


class NoteError(PitfallsError):
    """A note that cannot be recorded; the message says what is expected and how to fix it."""


def validate_note(text: Any, *, what: str = "The note", required: bool = False) -> str:
    """Return ``text`` ready to record (``\\r\\n`` becomes ``\\n``; a required note is stripped).

    Args:
        text: whatever the caller received (a JSON value, a CLI argument).
        what: how the message names it ("The note", "A note").
        required: whether an empty (or blank) note is refused.

    Raises:
        NoteError: not text, too long, blank when required, invalid Unicode or a control character.
    """
    def refuse(found: str, fix: str) -> NoteError:
        return NoteError(f"{what} must be {'non-empty ' if required else ''}text of at most {MAX_NOTE_CHARS} "
                         f"characters (valid UTF-8, no control characters but tab and newline). Got {found} "
                         f"instead. {fix}")

    if not isinstance(text, str):
        raise refuse(f"a value of type {type(text).__name__}", "Send the note as a string.")
    text = text.replace("\r\n", "\n")
    if len(text) > MAX_NOTE_CHARS:
        raise refuse(f"{len(text):,} characters", "Shorten it; longer notes belong in a file of the workspace.")
    if required and not text.strip():
        raise refuse("blank text" if text else "an empty note", "Write what you want to remember.")
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category == "Cs":
            raise refuse(f"an undecodable byte or lone surrogate (U+{ord(ch):04X}) at character {i}",
                         "Retype the note in a UTF-8 terminal or editor.")
        if (category == "Cc" and ch not in ALLOWED_CONTROLS) or ch in BIDI_CONTROLS:
            raise refuse(f"the control character U+{ord(ch):04X} at character {i}", "Remove it and send the note again.")
    return text.strip() if required else text
