"""The package layout holds (README.md, "Layout"): no import cycles, layers imported downwards only,
self-contained packages, no data found by walking up from ``__file__``, and every subpackage
documented in its ``__init__`` and in the README's map.

Fast: the sources are parsed with :mod:`ast`; nothing of pitfalls is imported (so a broken import
cannot hide a cycle either). Every import counts, wherever it is written: at module level, inside a
function (a "lazy" import is still a dependency) and under ``if TYPE_CHECKING:``.
Each checker returns its findings, so a planted fault (a synthetic graph or a tmp copy) proves it can fail.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDERS = {"pitfalls": "runner", "pitfalls.datasets": "datasets", "pitfalls.bugs": "bugs"}
"""Import name -> folder, as [tool.setuptools.package-dir] of pyproject.toml maps them."""
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",), ("fs", "sched"), ("library", "budget", "sandbox"), ("scoring",), ("probes",),
    ("checks", "service"), ("live",), ("cli",),
)
"""Subpackages of ``pitfalls``, lowest first: a module imports its own subpackage and lower layers only.
Subpackages of one layer are independent: none imports another (no exception is granted). An
import of a package's ``__init__`` implied by importing one of its modules is not an edge."""
DATA_PACKAGES = ("pitfalls.datasets", "pitfalls.bugs")
"""Below every layer: anyone may import them, and they import nothing outside themselves."""
SELF_CONTAINED = ("pitfalls.datasets", "pitfalls.bugs", "pitfalls.bugs.probekit", "pitfalls.sandbox.harness")
"""Packages that import nothing of pitfalls outside themselves (the harness and probekit run inside
sandboxes where only their own folder is mounted)."""
ENTRY = {"pitfalls", "pitfalls.__main__"}
"""The root package and ``python -m pitfalls``: above every layer."""
WALKS_UP = re.compile(r"__file__\)?(?:\.resolve\(\))?\s*\.\s*(?:parent\s*\.\s*parent|parents\s*\[)"
                      r"|dirname\(\s*(?:os\.path\.)?dirname\(\s*(?:os\.path\.)?(?:abspath\(|realpath\()?\s*__file__"
                      r"|__file__[^\n]*[\"']\.\.[\"']")
CHECKOUT_ONLY: dict[str, str] = {}
"""Modules allowed to walk up from ``__file__``, and why (none now: the candidate image's build context
is found without it)."""
TOP_FOLDERS = ("datasets/", "bugs/", "scaffolds/", "tests/", "bench/", "deploy/")


def modules(repo: Path) -> dict[str, Path]:
    """Every module of the package folders of ``repo``, by import name."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in sorted((repo / folder).rglob("*.py")):
            parts = list(path.relative_to(repo / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _imported(name: str, path: Path) -> set[str]:
    """The dotted names ``path`` (module ``name``) imports, relative imports resolved."""
    out = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            out.update(f"{module}.{a.name}" for a in node.names)  # a submodule, else an attribute of module
    return out


def import_graph(repo: Path) -> dict[str, set[str]]:
    """Module -> the modules of pitfalls it imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    mods = modules(repo)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = set()
        for dotted in _imported(name, path):
            if not (dotted == "pitfalls" or dotted.startswith("pitfalls.")):
                continue
            while dotted not in mods and "." in dotted:  # `from pkg.mod import attr` is pkg.mod
                dotted = dotted.rsplit(".", 1)[0]
            if dotted in mods and dotted != name:
                targets.add(dotted)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[str]:
    """One cycle per strongly connected component of ``graph``, each as ``a -> b -> ... -> a``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:  # Tarjan; the package is small, recursion depth is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(" -> ".join(_cycle_through(min(component), component, graph)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _cycle_through(start: str, component: set[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest path from ``start`` back to itself inside ``component`` (breadth first)."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & component):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"{start} is in a strongly connected component, so a cycle must pass through it")


def _subpackage(module: str) -> str:
    if module in ENTRY:
        return module
    for data in DATA_PACKAGES:
        if module == data or module.startswith(f"{data}."):
            return data
    return module.split(".")[1]


def _rank(subpackage: str) -> int:
    if subpackage in ENTRY:
        return len(LAYERS)
    if subpackage in DATA_PACKAGES:
        return -1
    for rank, layer in enumerate(LAYERS):
        if subpackage in layer:
            return rank
    raise AssertionError(f"pitfalls.{subpackage} must be in LAYERS (tests/unit/test_layout.py) and in the README's "
                         "Layout map. Got a subpackage with no layer instead: add it to both.")


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a higher layer or of a sibling subpackage of the same layer."""
    found = []
    for module, targets in sorted(graph.items()):
        here = _subpackage(module)
        for target in sorted(targets):
            there = _subpackage(target)
            if there == here:
                continue
            if _rank(there) > _rank(here):
                found.append(f"{module} -> {target}: {here} must not import the higher layer {there}")
            elif _rank(there) == _rank(here):
                found.append(f"{module} -> {target}: {here} must not import its same-layer sibling {there}")
    return found


def escapes(graph: dict[str, set[str]]) -> list[str]:
    """Imports out of a :data:`SELF_CONTAINED` package."""
    found = []
    for module, targets in sorted(graph.items()):
        for package in SELF_CONTAINED:
            if module == package or module.startswith(f"{package}."):
                found += [f"{module} -> {t}: {package} must import nothing of pitfalls outside itself"
                          for t in sorted(targets) if not (t == package or t.startswith(f"{package}."))]
    return found


def walks_up(repo: Path) -> list[str]:
    """Modules that find files by walking up from ``__file__`` (use pitfalls.core.resources.package_folder)."""
    found = []
    for folder in FOLDERS.values():
        for path in sorted((repo / folder).rglob("*.py")):
            rel = path.relative_to(repo).as_posix()
            for match in WALKS_UP.finditer(path.read_text()):
                if rel not in CHECKOUT_ONLY:
                    found.append(f"{rel}: {match.group(0)!r}")
    return found


def subpackages(repo: Path) -> list[Path]:
    """Every package folder (one with an ``__init__.py``) of the package folders."""
    return sorted(p.parent for folder in FOLDERS.values() for p in (repo / folder).rglob("__init__.py"))


def undocumented(repo: Path) -> list[str]:
    """Package folders whose ``__init__.py`` has no docstring opening with a one-line sentence."""
    found = []
    for folder in subpackages(repo):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text())) or ""
        first = doc.split("\n", 1)[0].strip()
        if not first.endswith("."):
            found.append(f"{(folder / '__init__.py').relative_to(repo)}: must open with a one-line docstring "
                         f"ending in a full stop. Got {first!r} instead.")
    return found


def layout_section(readme: str) -> str:
    """The README's ``## Layout`` section."""
    start = re.search(r"^## Layout$", readme, re.M)
    assert start, "README.md must have a '## Layout' section. Got none instead."
    end = readme.find("\n## ", start.end())
    return readme[start.start():end if end != -1 else None]


def map_problems(repo: Path, readme: str) -> list[str]:
    """Subpackages or top folders missing from the README's map, or a "may import" that is not LAYERS'."""
    section = layout_section(readme)
    found = [f"The Layout map must have a line for {folder}. Got none instead."
             for folder in TOP_FOLDERS if not re.search(rf"^\s*(?:- )?`?{re.escape(folder)}", section, re.M)]
    for sub in sorted({p.relative_to(repo / "runner").parts[0] for p in (repo / "runner").glob("*/__init__.py")}):
        line = re.search(rf"^- `runner/{sub}/`.*$", section, re.M)
        if line is None:
            found.append(f"The Layout map must have a line `- `runner/{sub}/` ...`. Got none instead.")
            continue
        said = re.search(r"May import: ([^.]*)\.", line.group(0))
        allowed = [s for layer in LAYERS[:_rank(sub)] for s in layer]
        got = sorted(s.strip(" `") for s in said.group(1).split(",")) if said else None
        if said and said.group(1).strip() == "nothing of pitfalls":
            got = []
        if got != sorted(allowed):
            found.append(f"runner/{sub}/ in the Layout map must say 'May import: {', '.join(allowed) or 'nothing of pitfalls'}.' "
                         f"(LAYERS). Got {said.group(0) if said else 'no May import'} instead.")
    return found


def unlisted_checks(repo: Path) -> list[str]:
    """Check functions (decorated ``@check``) of runner/checks/ missing from their module's ``CHECKS =
    specs_of(...)``, or listed out of definition order: the suite composes those tuples, so a check
    left out would silently never run."""
    found = []
    for path in sorted((repo / "runner" / "checks").glob("*.py")):
        tree = ast.parse(path.read_text())
        decorated = [f.name for f in tree.body if isinstance(f, ast.FunctionDef) and any(
            isinstance(d, ast.Call) and getattr(d.func, "id", "") == "check" for d in f.decorator_list)]
        listed = [a.id for node in tree.body if isinstance(node, ast.Assign)
                  and any(getattr(t, "id", "") == "CHECKS" for t in node.targets)
                  and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "specs_of"
                  for a in node.value.args if isinstance(a, ast.Name)]
        if decorated != listed:
            found.append(f"{path.relative_to(repo)}: CHECKS must list {decorated} in this order. Got {listed} instead.")
    return found


# The repository itself.


def test_the_package_has_no_import_cycles():
    assert cycles(import_graph(REPO)) == []


def test_each_subpackage_imports_only_itself_and_lower_layers():
    assert layer_violations(import_graph(REPO)) == []


def test_datasets_bugs_probekit_and_the_harness_import_nothing_of_pitfalls_outside_themselves():
    graph = import_graph(REPO)
    for package in SELF_CONTAINED:
        assert package in graph, f"{package} must exist (SELF_CONTAINED names a package that is gone)"
    assert escapes(graph) == []


def test_no_module_finds_files_by_walking_up_from_its_own_file():
    assert walks_up(REPO) == []
    for rel in CHECKOUT_ONLY:  # an exception that is no longer needed goes
        assert WALKS_UP.search((REPO / rel).read_text()), f"{rel} no longer walks up: drop it from CHECKOUT_ONLY"


def test_every_subpackage_has_a_docstring_and_a_line_in_the_readme_map():
    assert undocumented(REPO) == []
    assert map_problems(REPO, (REPO / "README.md").read_text()) == []


def test_every_check_is_listed_in_its_modules_checks_in_order():
    assert unlisted_checks(REPO) == []


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph(REPO)
    assert "pitfalls.budget.types" in graph["pitfalls.budget.skops_count"]  # module level
    assert "pitfalls.live.record" in graph["pitfalls.live.process"]  # under TYPE_CHECKING
    assert "pitfalls.bugs.probekit.sk" in graph["pitfalls.bugs.probekit.temporal"]  # relative
    assert len(graph) > 100


# Each check can fail: planted faults.


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    for folder in FOLDERS.values():
        (tmp_path / folder).mkdir(exist_ok=True)
    return tmp_path


def test_a_planted_cycle_through_a_function_level_import_is_named(tmp_path):
    repo = _tree(tmp_path, {
        "runner/__init__.py": '"""Root."""\n',
        "runner/budget/__init__.py": '"""Budget."""\n',
        "runner/budget/artifacts.py": "def count():\n    from pitfalls.budget.skops_count import count_skops\n",
        "runner/budget/skops_count.py": "from .artifacts import count\n",
    })
    assert cycles(import_graph(repo)) == [
        "pitfalls.budget.artifacts -> pitfalls.budget.skops_count -> pitfalls.budget.artifacts"]


def test_a_cycle_under_type_checking_and_a_longer_cycle_are_named():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "x": {"y"}, "y": {"x"}}
    assert cycles(graph) == ["a -> b -> c -> a", "x -> y -> x"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_an_upward_or_sideways_import_is_refused():
    graph = {"pitfalls.core.errors": {"pitfalls.fs.safefs"}, "pitfalls.fs.safefs": set(),
             "pitfalls.library.scaffold": {"pitfalls.budget.types", "pitfalls.core.errors", "pitfalls.datasets"},
             "pitfalls.budget.types": set(), "pitfalls.datasets": set(),
             "pitfalls.checks.suite": {"pitfalls.service.api"}, "pitfalls.service.api": set(),
             "pitfalls.__main__": {"pitfalls.cli.main"}, "pitfalls.cli.main": set()}
    assert layer_violations(graph) == [
        "pitfalls.checks.suite -> pitfalls.service.api: checks must not import its same-layer sibling service",
        "pitfalls.core.errors -> pitfalls.fs.safefs: core must not import the higher layer fs",
        "pitfalls.library.scaffold -> pitfalls.budget.types: library must not import its same-layer sibling budget",
    ]


def test_the_harness_or_the_data_library_importing_pitfalls_is_refused():
    graph = {"pitfalls.sandbox.harness.predict": {"pitfalls.core.errors", "pitfalls.sandbox.harness.probe"},
             "pitfalls.datasets.shift": {"pitfalls.datasets.registry", "pitfalls.library.scaffold"},
             "pitfalls.bugs.probekit.sk": {"pitfalls.bugs.probekit.common"}}
    assert escapes(graph) == [
        "pitfalls.datasets.shift -> pitfalls.library.scaffold: pitfalls.datasets must import nothing of pitfalls "
        "outside itself",
        "pitfalls.sandbox.harness.predict -> pitfalls.core.errors: pitfalls.sandbox.harness must import nothing of "
        "pitfalls outside itself",
    ]


def test_walking_up_from_file_is_found_in_its_spellings(tmp_path):
    repo = _tree(tmp_path, {
        "runner/a.py": 'ROOT = Path(__file__).parent.parent / "bugs"\n',
        "runner/b.py": "REPO = Path(__file__).resolve().parents[2]\n",
        "runner/c.py": "ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n",
        "runner/d.py": 'DATA = os.path.join(os.path.dirname(__file__), "..", "datasets")\n',
        "runner/ok.py": 'HERE = Path(__file__).parent / "templates"\n',
    })
    assert [f.split(":")[0] for f in walks_up(repo)] == ["runner/a.py", "runner/b.py", "runner/c.py", "runner/d.py"]


def test_an_undocumented_subpackage_or_a_wrong_map_line_is_found(tmp_path):
    repo = _tree(tmp_path, {"runner/__init__.py": '"""Root."""\n', "runner/core/__init__.py": "",
                            "runner/scoring/__init__.py": '"""Scoring."""\n'})
    assert undocumented(repo) == ["runner/core/__init__.py: must open with a one-line docstring ending in a full "
                                  "stop. Got '' instead."]
    readme = ("## Layout\n\n- `runner/core/`: errors. May import: nothing of pitfalls.\n"
              "- `runner/scoring/`: scoring. May import: core, fs.\n"
              + "".join(f"- `{f}` ...\n" for f in TOP_FOLDERS[1:]) + "\n## Next\n")
    problems = map_problems(repo, readme)
    assert problems[0] == "The Layout map must have a line for datasets/. Got none instead."
    assert problems[1].startswith("runner/scoring/ in the Layout map must say 'May import: core, fs, sched, library, "
                                  "budget, sandbox.'")
    assert len(problems) == 2


def test_a_check_left_out_of_checks_is_found(tmp_path):
    repo = _tree(tmp_path, {"runner/checks/data.py": (
        "@check('a')\ndef a(ctx): ...\n\n@check('b', heavy=True)\ndef b(ctx): ...\n\nCHECKS = specs_of(a)\n"),
        "runner/checks/runs.py": "@check('c')\ndef c(ctx): ...\n@check('d')\ndef d(ctx): ...\nCHECKS = specs_of(d, c)\n",
        "runner/checks/suite.py": "CHECKS = (*data.CHECKS,)\n"})
    assert unlisted_checks(repo) == [
        "runner/checks/data.py: CHECKS must list ['a', 'b'] in this order. Got ['a'] instead.",
        "runner/checks/runs.py: CHECKS must list ['c', 'd'] in this order. Got ['d', 'c'] instead.",
    ]
