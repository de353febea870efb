"""A static scan of a candidate's code for constructs that could rewrite probe verdicts.

Runs in the runner's own (trusted) process, on the workspace copy made for a probe run, before
any candidate code runs there. It reads every ``.py`` file and the code cells of every notebook
(parsed, never executed) and reports each construct that reaches into the interpreter's
machinery or rewrites output: exit hooks, tracing, frame and object-graph walks, ctypes, signal
handlers, raw file descriptors, the probe and output paths, monkeypatching of standard or
measured libraries, dynamic code, any use of ``gc`` but ``gc.collect()``, import machinery and
``sys.path`` changes, function and frame internals (``__code__``, ``__dict__``, ``f_globals``...),
``getattr``/``setattr``/``delattr`` of a computed name, aliases of flagged modules (``g = gc``);
and every archive, pickle or compiled file outside data/ and artifacts/ (importable code the scan
cannot read). Honest modelling code needs none of these; the six shipped scaffolds' starters and
references raise nothing (tests/test_probe_tamper.py). Source too deep to parse is a finding,
never a crash.

A finding reads ``tampering suspected: <file>:<line> <construct>``. It is a reason for the
interviewer to read that line, not proof.
"""

from __future__ import annotations

import json
from pathlib import Path

from pitfalls.probes.tamper_ast import SHADOWS, scan_source

SKIP_DIRS = {"artifacts", "__pycache__", ".ipynb_checkpoints", ".git"}
MAX_FILE_BYTES = 1 << 20
MAX_FILES = 2000
MAX_FINDINGS = 20
BINARY_CODE = (".so", ".pyd", ".pyc", ".pyo", ".pth", ".dylib")
ARCHIVES = (".zip", ".egg", ".whl", ".pth", ".so", ".pyd", ".pyc", ".pyo", ".dylib", ".pkl", ".pickle", ".joblib",
            ".pt", ".dill", ".cloudpickle", ".tar", ".gz", ".bz2", ".xz")
MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"\x7fELF")
DATA_DIRS = {"data", "artifacts"}


def scan_workspace(root: Path) -> list[str]:
    """Every suspicious construct in the candidate's files under ``root`` (at most ~20 findings).

    Never raises: a file the scan cannot read or parse safely is itself a finding.
    """
    try:
        found = _scan_files(root)
    except Exception as exc:  # noqa: BLE001 - a scan that fails must say so, never fail the run
        found = [f".:0 the workspace could not be scanned ({type(exc).__name__})"]
    return [f"tampering suspected: {f}" for f in found[:MAX_FINDINGS]]


def _scan_files(root: Path) -> list[str]:
    found: list[str] = []
    files = sorted(p for p in root.rglob("*") if not (SKIP_DIRS & set(p.relative_to(root).parts[:-1])))
    if len(files) > MAX_FILES:
        return [f".:0 {len(files)} files, more than the {MAX_FILES} the scan reads"]
    for path in files:
        rel = path.relative_to(root).as_posix()
        parts = path.relative_to(root).parts
        if path.is_symlink() or not path.is_file() or SKIP_DIRS & set(parts):
            continue
        if parts[0] not in DATA_DIRS and _loadable(path):
            found.append(f"{rel}:0 compiled or binary code, an archive or a pickle outside data/ and "
                         "artifacts/ (code in it can be imported or unpickled and is never scanned)")
        elif path.name.endswith(BINARY_CODE):
            found.append(f"{rel}:0 compiled or binary code the scan cannot read ({path.suffix})")
        if path.suffix in (".py", ".ipynb"):
            if path.suffix == ".py" and path.stem in SHADOWS:
                found.append(f"{rel}:0 a module that shadows {path.stem!r}")
            if path.stat().st_size > MAX_FILE_BYTES:
                found.append(f"{rel}:0 code too large to scan ({path.stat().st_size} bytes)")
                continue
            text = path.read_text(errors="replace")
            found += scan_notebook(text, rel) if path.suffix == ".ipynb" else scan_source(text, rel)
    for pkg in sorted(p for p in root.iterdir() if p.is_dir() and p.name in SHADOWS):
        found.append(f"{pkg.name}/:0 a package that shadows {pkg.name!r}")
    return found


def _loadable(path: Path) -> bool:
    """A file Python could import or unpickle code from: by its name, or by its bytes (zip, pickle, ELF)."""
    if path.name.lower().endswith(ARCHIVES):
        return True
    with path.open("rb") as fh:
        head = fh.read(4)
        size = fh.seek(0, 2)
        fh.seek(max(0, size - 65558))  # a zip's end record sits in its last 64 KiB + 22 bytes
        tail = fh.read()
    return head.startswith(MAGIC) or b"PK\x05\x06" in tail


def scan_notebook(text: str, rel: str) -> list[str]:
    """Findings in a notebook's code cells (lines starting with % or ! are magics, skipped)."""
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError, RecursionError):
        return []
    found = []
    for i, cell in enumerate(cells if isinstance(cells, list) else [], 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(map(str, src)) if isinstance(src, list) else str(src)
        src = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())
        found += scan_source(src, f"{rel}[cell {i}]")
    return found
