"""One scaffold standard, strictly parsed (pitfalls.library.schema, .manifest, .catalogs).

Every key of every table of scaffold.toml, mutants.toml and a catalog entry is misspelt in turn in
a copy of a real file: loading must refuse it with an error naming the key, the table and the key
meant. scaffolds/STANDARD.md and the declarations in runner/library/schema.py must list the same
keys, with MUST exactly for the keys without a default. Fast: nothing trains, nothing is sandboxed.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO
from pitfalls.cli.main import cli
from pitfalls.core.errors import ManifestError
from pitfalls.library import schema
from pitfalls.library.catalogs import bugs, load_catalog, quirks
from pitfalls.library.manifest import load_manifest, load_mutants
from pitfalls.library.scaffold import _dataset, _load, load_scaffold, scaffold_names

TEMPLATE = REPO / "scaffolds" / "_template"
STANDARD = REPO / "scaffolds" / "STANDARD.md"
CATALOGS = {"bugs": REPO / "bugs" / "catalog", "quirks": REPO / "datasets" / "catalog"}


def _typo(key: str) -> str:
    """A plausible misspelling: the last two letters swapped (``seed`` -> ``sede``, ``path`` -> ``paht``)."""
    return key[:-2] + key[-1] + key[-2]


def _copy(tmp_path: Path, source: Path = TEMPLATE) -> Path:
    root = tmp_path / "lib" / source.name
    shutil.copytree(source, root, ignore=shutil.ignore_patterns("__pycache__"))
    _load.cache_clear()
    _dataset.cache_clear()
    return root


def _insert(text: str, table: str, line: str) -> str:
    """``line`` added at the top of ``[table]`` (``""``: the top level, before the first table)."""
    if not table:
        return line + "\n" + text
    header = f"\n{table}" if table.startswith("[[") else f"\n[{table}]"  # an array of tables: its first entry
    if header not in text:  # a table the template leaves out ([variants])
        return text.rstrip("\n") + f"\n{header}\n{line}\n"
    at = text.index(header) + len(header)
    at = text.index("\n", at) + 1
    return text[:at] + line + "\n" + text[at:]


def _refused(call, *, field: str, table_label: str, typo: str, meant: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        call()
    exc, message = info.value, str(info.value)
    assert exc.field == field, message
    assert table_label in message and f"Got {typo!r} instead." in message, message
    assert f"Did you mean {meant!r}?" in message and "scaffolds/STANDARD.md" in message, message
    return exc


SCAFFOLD_KEYS = [(table, key) for table, cls in schema.TABLES["scaffold.toml"].items() for key in schema.keys(cls)]


@pytest.mark.parametrize(("table", "key"), SCAFFOLD_KEYS, ids=[f"{t or 'top'}.{k}" for t, k in SCAFFOLD_KEYS])
def test_a_misspelt_key_of_any_scaffold_toml_table_is_refused_with_the_key_meant(tmp_path, table, key):
    """`[dataset] sede = 1` (and every other key of every table, misspelt) stops loading."""
    root = _copy(tmp_path)
    toml = root / "scaffold.toml"
    toml.write_text(_insert(toml.read_text(), table, f"{_typo(key)} = 1"))
    label = f"[{table}]" if table else "the top level of scaffold.toml"
    field = f"{table}.{_typo(key)}" if table else _typo(key)
    if table.startswith("[["):  # [[rubric]]: the first criterion
        label, field = f"a {table} criterion", f"{table.strip('[]')}[0].{_typo(key)}"
    _refused(lambda: load_manifest(toml), field=field, table_label=f"one of the keys of {label}", typo=_typo(key),
             meant=key)


def test_the_issue_s_three_typos_no_longer_pass_the_quick_checks(tmp_path):
    """`sead`, `paht` and `predict_filez` passed `check --quick` before; now manifest_valid fails,
    alone, and every check that depends on it is skipped."""
    from pitfalls.checks.suite import run_checks

    for table, old, new in (("dataset", "seed = ", "sead = "), ("artifact", "path = ", "paht = "),
                            ("workspace", "predict_files = ", "predict_filez = ")):
        root = _copy(tmp_path / table)
        toml = root / "scaffold.toml"
        toml.write_text(toml.read_text().replace(f"\n[{table}]\n{old}", f"\n[{table}]\n{new}", 1))
        report = run_checks(scaffold=root, quick=True)
        failed = [r for r in report.results if r.status == "failed"]
        assert [r.name for r in failed] == ["manifest_valid"], report.results
        assert f"Got {new.split()[0]!r} instead. Did you mean {old.split()[0]!r}?" in failed[0].message
        assert all(r.status in ("passed", "skipped") for r in report.results if r.name != "manifest_valid")


def test_a_missing_required_key_is_named_with_its_table(tmp_path):
    root = _copy(tmp_path)
    toml = root / "scaffold.toml"
    toml.write_text(toml.read_text().replace("\nseed = 7301", "\n", 1))
    with pytest.raises(ManifestError) as info:
        load_manifest(toml)
    assert info.value.field == "dataset.seed"
    assert "must be set ([dataset] requires it). Got nothing (the key is missing) instead." in str(info.value)


@pytest.mark.parametrize("key", schema.keys(schema.MutantEdit))
def test_a_misspelt_key_of_a_mutant_edit_is_refused_at_load(tmp_path, key):
    """A typo in a [[bug_id]] edit of mutants.toml stops load_scaffold (so `list` and `practice` too)."""
    root = _copy(tmp_path)
    path = root / "mutants.toml"
    text = path.read_text()
    path.write_text(text.replace(f"\n{key} = ", f"\n{_typo(key)} = ", 1))
    _refused(lambda: load_scaffold(root), field=f"inverted_class_weights[0].{_typo(key)}",
             table_label="one of the keys of a [[inverted_class_weights]] edit", typo=_typo(key), meant=key)


def test_a_mutant_table_named_after_no_planted_bug_is_refused_with_the_id_meant(tmp_path):
    root = _copy(tmp_path)
    path = root / "mutants.toml"
    path.write_text(path.read_text().replace("[[inverted_class_weights]]", "[[inverted_class_weight]]", 1))
    _refused(lambda: load_scaffold(root), field="inverted_class_weight",
             table_label="(the bug ids of scaffold.toml's `bugs`)", typo="inverted_class_weight",
             meant="inverted_class_weights")


def test_a_mutant_written_as_a_single_table_is_refused(tmp_path):
    """`[bug]` instead of `[[bug]]` would be a dict, not a list of edits."""
    root = _copy(tmp_path)
    path = root / "mutants.toml"
    text = path.read_text()
    first = text.index("[[inverted_class_weights]]")
    second = text.index("[[inverted_class_weights]]", first + 1)
    path.write_text(text[:second].replace("[[inverted_class_weights]]", "[inverted_class_weights]"))
    with pytest.raises(ManifestError, match=r"must be an array of tables \(\[\[inverted_class_weights\]\]"):
        load_mutants(path, ("inverted_class_weights",))


CATALOG_KEYS = [(kind, key) for kind, cls in (("bugs", schema.BugEntry), ("quirks", schema.QuirkEntry))
                for key in schema.keys(cls)]


@pytest.mark.parametrize(("kind", "key"), CATALOG_KEYS, ids=[f"{k}.{key}" for k, key in CATALOG_KEYS])
def test_a_misspelt_key_of_a_catalog_entry_is_refused_with_the_key_meant(tmp_path, kind, key):
    """`silent_no` (and every other key of a bug or quirk entry, misspelt) stops the catalog loading."""
    folder = tmp_path / kind
    shutil.copytree(CATALOGS[kind], folder)
    path = folder / "core.toml"
    entry = next(iter(tomllib.loads(path.read_text())))
    path.write_text(_insert(path.read_text(), entry, f'{_typo(key)} = "x"'))
    _refused(lambda: load_catalog(folder, kind), field=f"{entry}.{_typo(key)}",
             table_label=f"one of the keys of a {kind[:-1]} catalog entry", typo=_typo(key), meant=key)


@pytest.mark.parametrize(("kind", "text", "says"), [
    ("bugs", 'silent_on = ["accuracyy"]', "`label_misalignment.silent_on` must be a list of metric names"),
    ("bugs", 'framework = "keras"', "`label_misalignment.framework` must be one of ['sklearn', 'torch'"),
    ("quirks", 'title = " "', "`class_imbalance.title` must be a non-empty string"),
])
def test_catalog_values_are_checked_too(tmp_path, kind, text, says):
    folder = tmp_path / kind
    shutil.copytree(CATALOGS[kind], folder)
    path = folder / "core.toml"
    data = path.read_text()
    key, entry = text.split(" = ")[0], next(iter(tomllib.loads(data)))
    if key in tomllib.loads(data)[entry]:  # the first entry's own line (the first such line of the file)
        data = re.sub(rf"(?m)^{key} = .*$", lambda _: text, data, count=1)
    else:
        data = _insert(data, entry, text)
    path.write_text(data)
    with pytest.raises(ManifestError) as info:
        load_catalog(folder, kind)
    assert says in str(info.value), str(info.value)


def test_an_id_defined_in_two_catalog_files_is_refused(tmp_path):
    folder = tmp_path / "quirks"
    shutil.copytree(CATALOGS["quirks"], folder)
    entry = next(iter(tomllib.loads((folder / "core.toml").read_text())))
    (folder / "zz_more.toml").write_text(f'[{entry}]\nref = "x"\ntitle = "x"\ndescription = "x"\n'
                                         'detect = "x"\nhandle = "x"\n')
    with pytest.raises(ManifestError, match=rf"Got '{entry}' in both core\.toml and zz_more\.toml instead"):
        load_catalog(folder, "quirks")


def test_every_shipped_scaffold_its_mutants_and_both_catalogs_load():
    """The standard is what the library already follows: nothing shipped is refused."""
    _load.cache_clear()
    for name in [*scaffold_names(), TEMPLATE]:
        scaffold = load_scaffold(name)
        edits = load_mutants(scaffold.root / "mutants.toml", scaffold.manifest.bugs)
        assert set(edits) == set(scaffold.manifest.bugs), scaffold.name
    assert len(bugs()) >= 19 and len(quirks()) >= 18
    for kind, folder in CATALOGS.items():
        assert load_catalog(folder, kind) == (bugs() if kind == "bugs" else quirks())


# -- scaffolds/STANDARD.md and the declarations agree --------------------------------------------
def _standard_tables() -> dict[tuple[str, str], dict[str, tuple[str, str]]]:
    """``### FILE: TABLE`` sections of STANDARD.md -> key -> (requirement, default)."""
    out: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    current = None
    for line in STANDARD.read_text().splitlines():
        heading = re.match(r"^### (\S+): (.+)$", line)
        if heading:
            current = (heading[1], "" if heading[2] == "top level" else heading[2].strip("[]"))
            out[current] = {}
        row = re.match(r"^\| `([a-z_]+)` \| ([^|]+) \| ([^|]+) \|", line)
        if row and current:
            out[current][row[1]] = (row[2].strip(), row[3].strip())
    return out


def _declared() -> dict[tuple[str, str], type]:
    return {(f, t.strip("[]")): cls for f, tables in schema.TABLES.items() for t, cls in tables.items()}


def test_standard_md_documents_exactly_the_declared_tables_and_keys():
    documented, declared = _standard_tables(), _declared()
    assert set(documented) == set(declared)
    for table, cls in declared.items():
        assert list(documented[table]) == schema.keys(cls), table


def test_standard_md_says_must_exactly_for_the_keys_loading_requires():
    """MUST: no default (loading refuses its absence). Anything else (MAY, MUST (check), MUST if ...)
    has a default, and a default written as a TOML value is the declared one."""
    documented = _standard_tables()
    for table, cls in _declared().items():
        for f in dataclasses.fields(cls):
            requirement, default = documented[table][f.name]
            assert (requirement == "MUST") == (f.name in schema.required(cls)), (table, f.name, requirement)
            assert requirement == "MUST" or requirement.startswith(("MAY", "MUST (check)", "MUST if ")), requirement
            if requirement != "MUST" and default.startswith("`"):
                value = tomllib.loads(f"v = {default.strip('`')}")["v"]
                declared = f.default if f.default is not dataclasses.MISSING else f.default_factory()
                expected = list(declared) if isinstance(declared, tuple) else declared
                assert value == expected, (table, f.name, value, declared)


def test_the_checker_of_standard_md_can_fail(tmp_path, monkeypatch):
    """A key dropped from STANDARD.md, or documented as MAY while required, is found."""
    text = STANDARD.read_text()
    broken = tmp_path / "STANDARD.md"
    monkeypatch.setitem(globals(), "STANDARD", broken)
    broken.write_text(text.replace("| `seed` | MUST |", "| `seed` | MAY |", 1))
    with pytest.raises(AssertionError, match="'seed', 'MAY'"):
        test_standard_md_says_must_exactly_for_the_keys_loading_requires()
    broken.write_text(text.replace("| `max_artifact_mb` | MAY | `16` |", "| `max_artifact_mb` | MAY | `32` |", 1))
    with pytest.raises(AssertionError, match="'max_artifact_mb', 32, 16"):
        test_standard_md_says_must_exactly_for_the_keys_loading_requires()
    broken.write_text(text.replace("| `window_minutes` | MAY |", "| `window_minute` | MAY |", 1))
    with pytest.raises(AssertionError):
        test_standard_md_documents_exactly_the_declared_tables_and_keys()


# -- the CLI refuses a misspelt scaffold at load ---------------------------------------------------
def test_list_refuses_a_library_with_a_misspelt_key_in_one_message(tmp_path, monkeypatch):
    root = _copy(tmp_path, REPO / "scaffolds" / "tumor_triage")
    toml = root / "scaffold.toml"
    toml.write_text(toml.read_text().replace("\n[dataset]\nseed = ", "\n[dataset]\nsead = ", 1))
    monkeypatch.setenv("PITFALLS_SCAFFOLDS", str(root.parent))
    result = CliRunner().invoke(cli, ["list"])
    assert isinstance(result.exception, ManifestError), result.output  # main() prints it as one `error:` line
    assert "`dataset.sead` must be one of the keys of [dataset]: ['seed']. Got 'sead' instead. Did you mean " \
           "'seed'?" in str(result.exception)


def test_a_misspelt_check_name_in_check_xfail_fails_manifest_valid(tmp_path):
    """`[check] xfail = { bug_bitez = ... }` would declare nothing; the check names the one meant."""
    from pitfalls.checks.suite import run_checks

    for key, meant in (("bug_bitez", "bug_bites"),
                       ("bug_bites:inverted_class_weight", "bug_bites:inverted_class_weights")):
        root = _copy(tmp_path / key.replace(":", "_"))
        toml = root / "scaffold.toml"
        toml.write_text(toml.read_text().replace("xfail = {}", f'xfail = {{ "{key}" = "on purpose" }}', 1))
        result = next(r for r in run_checks(scaffold=root, quick=True).results if r.name == "manifest_valid")
        assert result.status == "failed", result
        assert f"Got {key!r} instead. Did you mean {meant!r}?" in result.message, result.message
    root = _copy(tmp_path / "ok")
    toml = root / "scaffold.toml"
    toml.write_text(toml.read_text().replace("xfail = {}", 'xfail = { "bug_bites:inverted_class_weights" = "x" }', 1))
    results = run_checks(scaffold=root, quick=True).results
    assert next(r for r in results if r.name == "manifest_valid").status == "passed"
