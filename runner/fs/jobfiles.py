"""Job folders a sandbox writes: handed to the sandbox's user, and read back without following links.

Used by the scoring pipeline, the warm predictor, batch runs and the probes (all above ``fs``),
so none of them imports another for these two helpers.
"""

from __future__ import annotations

from pathlib import Path

from pitfalls.fs.safecopy import hand_over


def prepare_dir(path: Path, uid: int) -> None:
    """Create ``path`` and hand it (recursively) to the sandbox's uid, so the sandbox may write there."""
    path.mkdir(parents=True, exist_ok=True)
    hand_over(path, uid)


def regular_file(root: Path, rel: str) -> Path | None:
    """``root/rel`` if it is a regular file reached without any symlink, else None.

    Training ran as another user in a writable copy: anything in it may be a link planted to
    make this (trusted) process read a host file. Nothing is read from ``work`` without this.
    """
    path = root
    for part in Path(rel).parts:
        path = path / part
        if path.is_symlink():
            return None
    return path if path.is_file() and not path.is_symlink() else None
