"""Counting a skops artifact (scikit-learn) from its schema and its ``.npy`` members.

The rule is in README ("What counts as a parameter") and :mod:`pitfalls.budget.bits`: a counted
parameter is worth at most 32 bits. Nothing here unpickles or instantiates anything. In detail:
an array costs what its values carry (:mod:`pitfalls.budget.skops_arrays`); a JSON float one, an integer
one per 32 bits, a string one per 4 bytes of UTF-8; an attribute name (an identifier) one per 5
characters; every element of a list, tuple, set or object array but None counts at least one
(past the first ``FREE_ELEMENTS`` plain containers), so values free alone (empty containers,
class references) are not free in bulk; None elements count one per ``NULLS_PER_PARAM`` past the
first ``FREE_ELEMENTS`` (where they sit among the other elements is a bit each); a node naming a
class that costs nothing else counts one (the choice of class, about 17 bits: see
:mod:`pitfalls.budget.skops_classes`), unless it is a plain container or a setting's default; a dict key
whose type is not ``str`` counts one for its type; a JsonNode's text must be ``json.dumps`` of its
value; the keys skops writes about a node (``STRUCTURE``, a dict's ``key_types``) must hold what
skops writes there, class names spelled as skops spells them.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from pitfalls.budget.artifact_defaults import constructor_defaults, is_default, library_attribute
from pitfalls.budget.bits import check_name, int_cost, name_cost, string_cost
from pitfalls.budget.skops_arrays import load_npy, npy_cost
from pitfalls.budget.skops_classes import check_spelling, is_plain
from pitfalls.budget.types import ArtifactError, ParamCount

MAX_SCHEMA_BYTES, MAX_PROTOCOL = 8 * 1024 * 1024, 99
FREE_ELEMENTS = 64  # zero-cost elements free per file: sklearn writes a few (an empty remainder)
NULLS_PER_PARAM = 32  # a None element's position among the others carries at most one bit
NULLS, CLASSES, KEY_TYPES = "(null elements)", "(class choices)", "(key types)"


def _cost(value: object) -> int:
    """Counted parameters a JSON value carries: 1 per float or bool, an integer per 32 bits, a
    string per 4 bytes of UTF-8."""
    if value is None:
        return 0
    if isinstance(value, (bool, float)):
        return 1
    if isinstance(value, int):
        return int_cost(value)
    if isinstance(value, str):
        return string_cost(value)
    if isinstance(value, list):
        return sum(_cost(v) for v in value)
    if isinstance(value, dict):
        return sum(_cost(k) + _cost(v) for k, v in value.items())
    return string_cost(str(value))


NAMES = "(attribute names)"
KNOWN_KEYS = {"NdArrayNode": {"content"}, "JsonNode": {"content"}, "ObjectNode": {"content"},
              "DictNode": {"content", "key_types"}}
NODE_KEYS = ("__class__", "__module__", "__loader__", "__id__")
REDUCED = frozenset({"TreeNode", "ReduceNode"})  # __reduce__ args, then the state for __setstate__
STRUCTURE = (*NODE_KEYS, "is_json", "type", "file")  # about a node, not its value: checked, not counted


def _where(path: str) -> str:
    return path[:80] or "the root"


def _check_structure(node: dict, path: str) -> None:
    """Each structural key must hold what skops writes there (free keys would carry data)."""
    loader = node.get("__loader__")
    for key in filter(node.__contains__, STRUCTURE):
        value = node[key]
        if key == "__id__":
            ok = type(value) is int
        elif key in ("__class__", "__module__"):  # spelling here; canonical.py resolves the class
            check_spelling(node, _where(path))
            ok = True
        elif key == "__loader__":
            ok = isinstance(value, str)
        elif key == "is_json":
            ok = loader == "JsonNode" and value is True
        elif key == "type":
            ok = loader == "NdArrayNode" and value in ("numpy", "json")
        else:
            ok = loader == "NdArrayNode" and node.get("type") == "numpy" and isinstance(value, str)
        if not ok:  # e.g. a `file` on anything but a numeric array: bytes, a sparse matrix
            raise ArtifactError(f"The skops node at {_where(path)} must hold in `{key}` what skops.io.dump "
                                f"writes there. Got {json.dumps(value)[:40]} on a {str(loader)[:30]} instead. "
                                "Store numbers in numpy arrays and leave schema.json as skops wrote it.")


def _check_key_types(key_types: object, keys: list, path: str) -> int:
    """A dict's ``key_types`` must be one TypeNode per key, as skops writes it; returns how many
    are not ``builtins.str`` (each counts one: the choice of a key's type)."""
    types = key_types.get("content") if isinstance(key_types, dict) else None
    if not (isinstance(types, list) and len(types) == len(keys) and key_types.get("__loader__") == "ListNode"
            and set(key_types) <= {*NODE_KEYS, "content"}
            and all(isinstance(t, dict) and t.get("__loader__") == "TypeNode" and set(t) <= set(NODE_KEYS)
                    for t in types)):
        raise ArtifactError(f"The dict at {_where(path)} must list one key type per key (skops's "
                            f"key_types). Got {json.dumps(key_types)[:60]} for {len(keys)} keys instead. "
                            "Save with skops.io.dump and leave schema.json as written.")
    for node in (key_types, *types):
        _check_structure(node, path)
    if not is_plain(key_types):
        raise ArtifactError(f"The dict at {_where(path)} must list its key types in a plain list. Got "
                            f"{key_types.get('__module__')}.{key_types.get('__class__')} instead.")
    return sum(not _free_key_type(t, k) for t, k in zip(types, keys))


def _free_key_type(node: dict, key: str) -> bool:
    """str, or a builtin int/float/bool whose text is exactly the key (then the type adds ~2 bits
    to a key that costs at least one); any other key type counts one."""
    module, cls = node.get("__module__"), node.get("__class__")
    if module != "builtins" or cls not in ("str", "int", "float", "bool"):
        return False
    try:
        return cls == "str" or str({"int": int, "float": float, "bool": lambda t: t == "True"}[cls](key)) == key
    except (ValueError, OverflowError):
        return False


class _SkopsWalker:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf, self.breakdown, self.files, self.total = zf, {}, set(), 0
        self.free_elements, self.nulls = FREE_ELEMENTS, 0

    def add(self, path: str, n: int) -> None:
        if n:
            self.breakdown[path or "(root)"] = self.breakdown.get(path or "(root)", 0) + n
            self.total += n

    def items(self, items: list, path: str, *, indexed: bool = True) -> None:
        """Elements of a list, tuple, set or object array: at least one each (None, FREE_ELEMENTS aside)."""
        for i, item in enumerate(items):
            sub = f"{path}[{i}]" if indexed else path
            before = self.total
            self.walk(item, sub)
            if self._null(item):
                self.nulls += 1
            elif self.total == before:
                self.free_elements -= 1
                self.add(sub, 1 if self.free_elements < 0 else 0)

    def finish(self) -> None:
        """The file-wide charges: None elements past the free ones, in bulk."""
        self.add(NULLS, -(-max(0, self.nulls - FREE_ELEMENTS) // NULLS_PER_PARAM))

    def walk(self, node: object, path: str, defaults: dict | None = None, key: str | None = None) -> None:
        if isinstance(node, list):
            self.items(node, path)
            return
        if not isinstance(node, dict):
            self.add(path, _cost(node))
            return
        _check_structure(node, path)
        before = self.total
        self._node(node, path, defaults, key)
        if self.total == before and "__class__" in node and not is_plain(node) and not (
                defaults is not None and key in defaults and _is_default_class(node, defaults[key])):
            self.add(path or CLASSES, 1)  # its choice of class is all it carries: ~17 bits

    def _node(self, node: dict, path: str, defaults: dict | None, key: str | None) -> None:
        loader = node.get("__loader__")
        if loader in KNOWN_KEYS:  # anything skops does not write there still counts
            for k, child in node.items():
                if k not in STRUCTURE and k not in KNOWN_KEYS[loader]:
                    self.walk(child, f"{path}.{k}" if path else k)
        if loader == "NdArrayNode":
            self._array(node, path)
        elif loader == "JsonNode":
            value = self._json(node, path)
            if not (defaults is not None and key in defaults and is_default(value, defaults[key])):
                self.add(path, _cost(value))
        elif loader == "ObjectNode":
            self._object(node, path)
        elif loader == "DictNode":
            self._dict(node, path)
        elif loader in REDUCED and isinstance(node.get("content"), dict):  # a Tree: content is its state
            for k, child in node.items():
                if k == "content" and child.get("__loader__") == "DictNode":
                    self._dict(child, path, None, attributes=True)  # keys are attribute names
                elif k not in STRUCTURE:
                    self.walk(child, path if k in ("content", "__reduce__", "args") else f"{path}.{k}")
        else:  # lists, tuples, reduce/type/function nodes and plain schema dicts
            for k, child in node.items():
                if k not in STRUCTURE:
                    self.walk(child, path if k in ("content", "__reduce__", "args", "state") else f"{path}.{k}")

    @staticmethod
    def _null(item: object) -> bool:  # None, or a JsonNode of it (checked to read exactly "null")
        return item is None or isinstance(item, dict) and (item.get("__loader__"), item.get("content")) == (
            "JsonNode", "null")

    @staticmethod
    def _json(node: dict, path: str) -> object:
        """A JsonNode's value; its text must be ``json.dumps`` of it (other digits would go uncounted)."""
        content = node.get("content")
        value = json.loads(content) if isinstance(content, str) else content
        if not isinstance(content, str) or json.dumps(value) != content:
            raise ArtifactError(f"The JsonNode at {_where(path)} must hold its value as json.dumps writes "
                                f"it. Got {str(content)[:40]!r} instead. Save with skops.io.dump.")
        return value

    def _array(self, node: dict, path: str) -> None:
        content = node.get("content")
        if node.get("type") == "numpy":
            name = node.get("file")
            if not isinstance(name, str) or name not in self.zf.namelist():
                raise ArtifactError(f"array at {path or 'the root'} must be stored in the file. "
                                    f"Got a reference to {str(name)[:40]!r}, which is missing.")
            self.files.add(name)
            self.add(path, npy_cost(load_npy(self.zf, name)))
            if "content" in node:  # skops writes none beside a file: it still counts
                self.walk(content, path)
        else:  # an object array stored as JSON nodes, e.g. feature_names_in_
            self.items(content if isinstance(content, list) else [content], path, indexed=False)

    def _dict(self, node: dict, path: str, defaults: dict | None = None, *, attributes: bool = False) -> None:
        """A DictNode's keys and values; an object's attributes cost their names, settings aside."""
        _check_structure(node, path)
        content = node.get("content")
        if not isinstance(content, dict):
            raise ArtifactError(f"The dict at {_where(path)} must hold a JSON object. Got "
                                f"{type(content).__name__} instead. Save with skops.io.dump.")
        other_types = _check_key_types(node.get("key_types"), list(content), path)
        if attributes and other_types:
            raise ArtifactError(f"The attributes at {_where(path)} must be keyed by str, as skops writes "
                                f"them. Got {other_types} keys of another type instead.")
        self.add(KEY_TYPES, other_types)
        for k, child in content.items():
            if not attributes:
                self.add(path, _cost(k))
                self.walk(child, f"{path}[{k}]")
                continue
            check_name(k, f"an attribute at {_where(path)}")
            if defaults is None or k not in defaults:
                self.add(NAMES, name_cost(k))  # an attribute costs its name, unless it is a setting
            self.walk(child, f"{path}.{k}" if path else str(k), defaults, k)

    def _object(self, node: dict, path: str) -> None:
        content = node.get("content")
        defaults = constructor_defaults(str(node.get("__module__", "")), str(node.get("__class__", "")))
        if isinstance(content, dict) and content.get("__loader__") == "DictNode":
            for k, child in content.items():  # anything beside the attributes and their key types
                if k not in STRUCTURE and k not in KNOWN_KEYS["DictNode"]:
                    self.walk(child, path)
            self._dict(content, path, defaults, attributes=True)
        else:
            self.walk(content, path)


def _is_default_class(node: dict, default: object) -> bool:
    """Whether a type or function node names exactly a constructor setting's default."""
    if node.get("__loader__") not in ("TypeNode", "FunctionNode"):
        return False
    return library_attribute(str(node["__module__"]), str(node["__class__"])) is default


def _pop_format_fields(schema: object) -> None:
    """Drop the two root fields skops writes about its own format, once they look like it."""
    if not isinstance(schema, dict):
        raise ArtifactError("schema.json must hold a JSON object. Got something else instead.")
    protocol, version = schema.pop("protocol", None), schema.pop("_skops_version", None)
    if not (type(protocol) is int and 0 <= protocol <= MAX_PROTOCOL and isinstance(version, str)
            and len(version) <= 20 and all(c.isdigit() or c in ".rcabdevpost" for c in version)):
        raise ArtifactError("schema.json must carry skops's integer `protocol` and its version "
                            f"string. Got protocol={str(protocol)[:20]!r}, _skops_version="
                            f"{str(version)[:20]!r} instead.")


def _open_zip(path: Path, max_unpacked_mb: int) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(path)
    except Exception:  # noqa: BLE001 - a damaged central directory raises many types
        raise ArtifactError(f"{path.name} must be a skops file (a zip archive). Got something "
                            "else instead. Save with `skops.io.dump(model, path)`.") from None
    infos = zf.infolist()
    names = [i.filename for i in infos]
    problems = []
    if len(set(names)) != len(names):
        problems.append("duplicate member names")
    if zf.comment or any(i.extra or i.comment for i in infos):
        problems.append("zip comments or extra fields")
    if infos and min(i.header_offset for i in infos) != 0:
        problems.append("bytes before the archive")
    if sum(i.file_size for i in infos) > max_unpacked_mb * 1024 * 1024:
        problems.append(f"more than {max_unpacked_mb} MiB unpacked")
    if "schema.json" not in names:
        problems.append("no schema.json")
    elif zf.getinfo("schema.json").file_size > MAX_SCHEMA_BYTES:
        problems.append(f"a schema.json over {MAX_SCHEMA_BYTES // 2**20} MiB")
    if problems:
        zf.close()
        raise ArtifactError(f"{path.name} must be a plain skops archive written by skops.io.dump. "
                            f"Got {', '.join(problems)} instead.")
    return zf


def count_skops(path: Path, *, max_unpacked_mb: int = 64) -> ParamCount:
    """Count the numbers stored in a skops file by reading its schema and ``.npy`` headers."""
    with _open_zip(path, max_unpacked_mb) as zf:
        try:
            schema = json.loads(zf.read("schema.json"))
        except Exception:  # noqa: BLE001 - zip, zlib and json raise many types on bad bytes
            raise ArtifactError(f"{path.name}: schema.json must be JSON. Got unreadable text instead.") from None
        walker = _SkopsWalker(zf)
        try:
            _pop_format_fields(schema)
            walker.walk(schema, "")
            walker.finish()
        except ArtifactError:
            raise
        except (TypeError, KeyError, AttributeError, ValueError, RecursionError) as exc:
            raise ArtifactError(f"{path.name}: schema.json must follow the skops format. Got a "
                                f"malformed node instead ({type(exc).__name__}).") from None
        stray = set(zf.namelist()) - walker.files - {"schema.json"}
        if stray:
            raise ArtifactError(f"{path.name} must contain only schema.json and the arrays it "
                                f"references. Got {sorted(stray)[:3]} as well.")
    return ParamCount(total=sum(walker.breakdown.values()), breakdown=walker.breakdown)
