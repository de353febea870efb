"""A static scan of a candidate's code for constructs that could rewrite probe verdicts.

Runs in the runner's own (trusted) process, on the workspace copy made for a probe run, before
any candidate code runs there. It reads every ``.py`` file and the code cells of every notebook
(parsed, never executed) and reports each construct that reaches into the interpreter's
machinery or rewrites output: exit hooks, tracing, frame and object-graph walks, ctypes, signal
handlers, raw file descriptors, the probe and output paths, monkeypatching of standard or
measured libraries, and dynamic code. Honest modelling code needs none of these; the six
shipped scaffolds' starters and references raise nothing (tests/test_probe_tamper.py).

A finding reads ``tampering suspected: <file>:<line> <construct>``. It is a reason for the
interviewer to read that line, not proof.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

SKIP_DIRS = {"artifacts", "__pycache__", ".ipynb_checkpoints", ".git"}
MAX_FILE_BYTES = 1 << 20
MAX_FILES = 2000
MAX_FINDINGS = 20
BINARY_CODE = (".so", ".pyd", ".pyc", ".pyo", ".pth", ".dylib")
IMPORTS = {"atexit", "ctypes", "_ctypes", "cffi", "builtins", "__builtin__", "probekit", "scaffold_probes",
           "probes", "__main__", "marshal", "pty", "gc_hooks"}
CALLS = {
    "sys": {"_getframe", "settrace", "setprofile", "modules", "addaudithook", "_current_frames", "meta_path",
            "path_hooks", "excepthook", "__stdout__", "__stderr__"},
    "threading": {"settrace", "setprofile", "settrace_all_threads", "setprofile_all_threads"},
    "gc": {"get_objects", "get_referrers", "get_referents", "callbacks"},
    "inspect": {"stack", "currentframe", "getouterframes", "getinnerframes", "trace", "getclosurevars"},
    "os": {"write", "writev", "pwrite", "pwritev", "dup", "dup2", "fdopen", "open", "openpty", "kill", "killpg",
           "fork", "forkpty", "_exit", "system", "popen", "close", "closerange", "set_inheritable", "ftruncate",
           "truncate", "sendfile", "execv", "execve", "execl", "execlp", "execvp", "execvpe", "spawnv", "spawnl",
           "posix_spawn", "posix_spawnp", "register_at_fork"},
    "signal": {"signal", "setitimer", "alarm", "pthread_kill", "set_wakeup_fd", "sigaction"},
    "atexit": {"register"},
    "importlib": {"import_module", "reload", "__import__"},
    "faulthandler": {"enable", "register", "dump_traceback_later"},
    "subprocess": {"Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"},
    "io": {"open", "FileIO"},
}
ATTRS = {"f_locals", "f_globals", "f_back", "f_builtins", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
         "__closure__", "__globals__", "__code__", "cell_contents", "__builtins__", "__subclasses__",
         "PROBES", "co_consts"}
NAMES = {"__builtins__", "__import__", "PROBES", "scaffold_probes", "probekit"}
DYNAMIC = {"exec", "eval", "compile", "__import__"}
PATCHABLE = {"builtins", "json", "os", "sys", "io", "atexit", "pickle", "joblib", "skops", "hmac", "hashlib",
             "probekit", "sklearn", "torch", "numpy", "pandas", "runpy", "importlib", "traceback", "contextlib",
             "base64", "select", "signal", "time", "threading"}
PATCH_OK = ("torch.backends.", "pd.options.", "pandas.options.", "np.random.", "numpy.random.")
SHADOWS = {"json", "os", "sys", "atexit", "io", "builtins", "pickle", "hmac", "hashlib", "signal", "gc", "inspect",
           "importlib", "runpy", "traceback", "contextlib", "ctypes", "threading", "select", "base64", "time",
           "probekit", "probes", "scaffold_probes", "sitecustomize", "usercustomize", "pandas", "numpy",
           "sklearn", "torch", "joblib", "skops", "copyreg", "abc", "types", "functools", "encodings"}
STRINGS = re.compile(r"probes\.json|probekit|PROBES|scaffold_probes|pitfalls-probe|/proc/|"
                     r"(^|[\s'\"=:]|\.\.)/(out|probes|harness)(/|$)", re.MULTILINE)


def scan_workspace(root: Path) -> list[str]:
    """Every suspicious construct in the candidate's files under ``root`` (at most ~20 findings)."""
    found: list[str] = []
    files = sorted(p for p in root.rglob("*") if not (SKIP_DIRS & set(p.relative_to(root).parts[:-1])))
    if len(files) > MAX_FILES:
        return [f"tampering suspected: {len(files)} files, more than the {MAX_FILES} the scan reads"]
    for path in files:
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() or not path.is_file() or SKIP_DIRS & set(path.relative_to(root).parts):
            continue
        if path.name.endswith(BINARY_CODE):
            found.append(f"{rel}:0 compiled or binary code the scan cannot read ({path.suffix})")
        elif path.suffix in (".py", ".ipynb"):
            if path.suffix == ".py" and path.stem in SHADOWS:
                found.append(f"{rel}:0 a module that shadows {path.stem!r}")
            if path.stat().st_size > MAX_FILE_BYTES:
                found.append(f"{rel}:0 code too large to scan ({path.stat().st_size} bytes)")
                continue
            text = path.read_text(errors="replace")
            found += scan_notebook(text, rel) if path.suffix == ".ipynb" else scan_source(text, rel)
    for pkg in sorted(p for p in root.iterdir() if p.is_dir() and p.name in SHADOWS):
        found.append(f"{pkg.name}/:0 a package that shadows {pkg.name!r}")
    return [f"tampering suspected: {f}" for f in found[:MAX_FINDINGS]]


def scan_notebook(text: str, rel: str) -> list[str]:
    """Findings in a notebook's code cells (lines starting with % or ! are magics, skipped)."""
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return []
    found = []
    for i, cell in enumerate(cells if isinstance(cells, list) else [], 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        src = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())
        found += scan_source(src, f"{rel}[cell {i}]")
    return found


def scan_source(text: str, rel: str) -> list[str]:
    """Findings in one piece of Python source (unparsable source yields none: it cannot run)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    visitor = _Visitor(rel)
    visitor.visit(tree)
    return visitor.found


class _Visitor(ast.NodeVisitor):
    def __init__(self, rel: str) -> None:
        self.rel, self.found = rel, []
        self.modules: dict[str, str] = {}  # local name -> root module it came from

    def flag(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.rel}:{getattr(node, 'lineno', 0)} {what}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            root = alias.name.split(".")[0]
            self.modules[alias.asname or root] = root if alias.asname is None else alias.name
            if root in IMPORTS:
                self.flag(node, f"import {alias.name}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        mod = node.module or ""
        root = mod.split(".")[0]
        for alias in node.names:
            self.modules[alias.asname or alias.name] = mod
            if root in IMPORTS or alias.name in CALLS.get(root, ()) or alias.name == "*" and root in CALLS:
                self.flag(node, f"from {mod} import {alias.name}")
        self.generic_visit(node)

    def _dotted(self, node: ast.AST) -> str:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts))
        return ""

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in ATTRS:
            self.flag(node, f".{node.attr}")
        elif isinstance(node.value, ast.Name):
            root = self.modules.get(node.value.id, node.value.id).split(".")[0]
            if node.attr in CALLS.get(root, ()):
                self.flag(node, f"{node.value.id}.{node.attr}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in NAMES:
            self.flag(node, node.id)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, (str, bytes)):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            if STRINGS.search(text):
                self.flag(node, f"the string {text[:40]!r}")

    def visit_Call(self, node: ast.Call) -> None:
        fn = node.func
        name = fn.id if isinstance(fn, ast.Name) else ""
        literal = bool(node.args) and isinstance(node.args[0], ast.Constant)
        if name in DYNAMIC and not literal:
            self.flag(node, f"{name}() of a computed string")
        dotted = self._dotted(fn)
        if dotted.endswith("import_module") and not literal:
            self.flag(node, "import_module() of a computed name")
        if name in ("getattr", "setattr", "delattr") and len(node.args) >= 2:
            self._reflective(node, name)
        if name == "open" and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, int):
            self.flag(node, "open() of a file descriptor")
        self.generic_visit(node)

    def _reflective(self, node: ast.Call, name: str) -> None:
        target, attr = node.args[0], node.args[1]
        base = self._dotted(target).split(".")[0]
        root = self.modules.get(base, "").split(".")[0]
        if not root:
            return
        literal = isinstance(attr, ast.Constant) and isinstance(attr.value, str)
        if name != "getattr" and root in PATCHABLE:
            self.flag(node, f"{name}() on {base}")
        elif not literal and root in CALLS:
            self.flag(node, f"getattr() of a computed name on {base}")
        elif literal and attr.value in CALLS.get(root, ()):
            self.flag(node, f"getattr({base}, {attr.value!r})")

    def _patched(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._patched(t)
            return
        if not isinstance(target, ast.Attribute):
            return
        dotted = self._dotted(target)
        base = dotted.split(".")[0]
        root = self.modules.get(base, "").split(".")[0]
        if root in PATCHABLE and not (dotted + ".").startswith(PATCH_OK):
            self.flag(target, f"assignment to {dotted} (monkeypatching {root})")

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self._patched(t)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._patched(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            self._patched(t)
        self.generic_visit(node)
