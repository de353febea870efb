"""The source half of the tamper scan (:mod:`pitfalls.probes.tamper`): what, in one piece of Python
source, could rewrite probe verdicts, found by walking its syntax tree (never executed).

The rules are the sets below; :class:`_Visitor` applies them node by node. A finding reads
``<file>:<line> <construct>``.
"""

from __future__ import annotations

import ast
import re

IMPORTS = {"atexit", "ctypes", "_ctypes", "cffi", "builtins", "__builtin__", "probekit", "scaffold_probes",
           "probes", "__main__", "marshal", "pty", "gc_hooks", "inspect", "faulthandler", "importlib", "zipimport",
           "pkgutil", "runpy", "_imp", "imp", "sitecustomize", "usercustomize", "_thread", "code", "codeop"}
REFERENCED = IMPORTS | {"gc"}  # any use of a name bound to one of these (but gc.collect()) is a finding
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
