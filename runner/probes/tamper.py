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
           "probes", "__main__", "marshal", "pty", "gc_hooks", "inspect", "faulthandler", "importlib", "zipimport",
           "pkgutil", "runpy", "_imp", "imp", "sitecustomize", "usercustomize", "_thread", "code", "codeop"}
REFERENCED = IMPORTS | {"gc"}  # any use of a name bound to one of these (but gc.collect()) is a finding
ARCHIVES = (".zip", ".egg", ".whl", ".pth", ".so", ".pyd", ".pyc", ".pyo", ".dylib", ".pkl", ".pickle", ".joblib",
            ".pt", ".dill", ".cloudpickle", ".tar", ".gz", ".bz2", ".xz")
MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"\x7fELF")
DATA_DIRS = {"data", "artifacts"}
CALLS = {
    "sys": {"_getframe", "settrace", "setprofile", "modules", "addaudithook", "_current_frames", "meta_path",
            "path_hooks", "path_importer_cache", "excepthook", "__stdout__", "__stderr__", "flags", "orig_argv",
            "_xoptions", "breakpointhook", "displayhook", "unraisablehook"},
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
    "types": {"FunctionType", "LambdaType", "CodeType", "MethodType", "FrameType", "CellType", "ModuleType",
              "TracebackType"},
}
ATTRS = {"f_locals", "f_globals", "f_back", "f_builtins", "f_code", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
         "__closure__", "__globals__", "__code__", "cell_contents", "__builtins__", "__subclasses__", "__dict__",
         "func_code", "func_globals", "__defaults__", "__kwdefaults__", "gi_code", "co_code", "PROBES", "co_consts",
         "__wrapped__", "__self__", "__func__"}
READERS = {"print", "len", "list", "tuple", "str", "repr", "sorted", "set", "any", "all", "enumerate", "iter"}
SYS_PATH_MUTATORS = {"insert", "append", "extend", "remove", "pop", "clear", "reverse", "sort", "__setitem__",
                     "__delitem__", "__iadd__"}
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


def scan_source(text: str, rel: str) -> list[str]:
    """Findings in one piece of Python source (source that is not Python yields none: it cannot run).

    Source too deep or too large for the parser or the visitor (RecursionError, MemoryError, ...)
    is a finding: the interpreter may still run what the scan could not read.
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    except Exception:  # noqa: BLE001 - RecursionError, MemoryError: never crash the runner
        return [f"{rel}:0 code too deeply nested to scan: {rel}"]
    try:
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                child.parent = parent  # type: ignore[attr-defined]
        visitor = _Visitor(rel)
        visitor.visit(tree)
    except Exception:  # noqa: BLE001
        return [f"{rel}:0 code too deeply nested to scan: {rel}"]
    return visitor.found


class _Visitor(ast.NodeVisitor):
    def __init__(self, rel: str) -> None:
        self.rel, self.found = rel, []
        self.modules: dict[str, str] = {}  # local name -> root module it came from
        self.allowed: set[int] = set()  # ids of gc.collect attribute nodes that are called directly

    def flag(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.rel}:{getattr(node, 'lineno', 0)} {what}")

    def _root(self, name: str) -> str:
        return self.modules.get(name, "").split(".")[0]

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
            if (root in IMPORTS or alias.name in CALLS.get(root, ()) or alias.name == "*" and root in CALLS
                    or root == "gc" and alias.name != "collect" or root == "sys" and alias.name == "path"):
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
            elif root == "gc" and id(node) not in self.allowed:
                self.flag(node, f"{node.value.id}.{node.attr} (only a direct gc.collect() call is expected)")
            elif root == "sys" and node.attr == "path" and self._mutated(node):
                self.flag(node, f"a change to {node.value.id}.path")
        self.generic_visit(node)

    def _mutated(self, node: ast.AST) -> bool:
        """``node`` (sys.path) is assigned, deleted, changed in place, aliased or passed on."""
        parent = getattr(node, "parent", None)
        if isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del)):
            return True
        if isinstance(parent, ast.Attribute):
            return parent.attr in SYS_PATH_MUTATORS
        if isinstance(parent, ast.Subscript):
            return not isinstance(parent.ctx, ast.Load)
        if isinstance(parent, ast.Call):  # passed on: only to functions that read it
            return not (isinstance(parent.func, ast.Name) and parent.func.id in READERS)
        return isinstance(parent, (ast.Assign, ast.AugAssign, ast.NamedExpr, ast.keyword, ast.Starred))

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in NAMES:
            self.flag(node, node.id)
        elif self._root(node.id) in REFERENCED and not isinstance(getattr(node, "parent", None), ast.Attribute) \
                and isinstance(node.ctx, ast.Load):
            self.flag(node, f"the module {self.modules[node.id]!r} used as a value ({node.id})")
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._alias(node.target, node.value)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, (str, bytes)):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            if STRINGS.search(text):
                self.flag(node, f"the string {text[:40]!r}")

    def visit_Call(self, node: ast.Call) -> None:
        fn = node.func
        if isinstance(fn, ast.Attribute) and fn.attr == "collect" and isinstance(fn.value, ast.Name) \
                and self._root(fn.value.id) == "gc":
            self.allowed.add(id(fn))
        name = fn.id if isinstance(fn, ast.Name) else ""
        literal = bool(node.args) and isinstance(node.args[0], ast.Constant)
        if name in DYNAMIC and not literal:
            self.flag(node, f"{name}() of a computed string")
        dotted = self._dotted(fn)
        if dotted.endswith("import_module") and not literal:
            self.flag(node, "import_module() of a computed name")
        if name in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
            self._reflective(node, name)
        elif name in ("getattr", "setattr", "delattr"):
            self.flag(node, f"{name}() with its arguments unpacked")
        if name == "vars" and not (len(node.args) == 1 and isinstance(node.args[0], ast.Name)
                                   and not self._root(node.args[0].id)
                                   and not self._mutated_result(node)):
            self.flag(node, "vars() of a module, of the caller's frame or changed in place")
        if name == "open" and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, int):
            self.flag(node, "open() of a file descriptor")
        self.generic_visit(node)

    def _mutated_result(self, node: ast.AST) -> bool:
        parent = getattr(node, "parent", None)
        if isinstance(parent, ast.Subscript):
            return not isinstance(parent.ctx, ast.Load)
        return isinstance(parent, ast.Attribute) and parent.attr in ("update", "pop", "setdefault", "clear",
                                                                     "__setitem__", "popitem", "__delitem__")

    def _reflective(self, node: ast.Call, name: str) -> None:
        target, attr = node.args[0], node.args[1]
        base = self._dotted(target).split(".")[0]
        root = self._root(base)
        literal = isinstance(attr, ast.Constant) and isinstance(attr.value, str)
        if not literal:
            if name != "hasattr":
                self.flag(node, f"{name}() of a computed attribute name")
        elif attr.value in ATTRS:
            self.flag(node, f"{name}(..., {attr.value!r})")
        elif name in ("setattr", "delattr") and attr.value.startswith("__"):
            self.flag(node, f"{name}(..., {attr.value!r})")
        elif name in ("setattr", "delattr") and root in PATCHABLE:
            self.flag(node, f"{name}() on {base}")
        elif attr.value in CALLS.get(root, ()):
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

    def _alias(self, target: ast.AST, value: ast.AST) -> None:
        """``target = value`` where value names a module: the alias is tracked, and is itself a
        finding when the module is one the scan flags (``g = gc``)."""
        if isinstance(target, ast.Name) and isinstance(value, ast.Name) and self._root(value.id):
            self.modules[target.id] = self.modules[value.id]

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self._patched(t)
            self._alias(t, node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._patched(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            self._patched(t)
        self.generic_visit(node)
