"""Compiled "fits as it is" checks: one generated Python function per record shape.

conformance.py fits a value to its schema by walking it (`Fitter.fit`), a few calls per
nested object or list: per record of a stream with JSON columns (messages' `custom`,
`target_errors`), that walk was most of the conformance cost (docs/benchmarks.md). Almost
every value already fits, so the conformer first asks a check compiled from the schema:
`compile_check(schemas)` turns the schemas of the columns to look at into the source of one
function of the record, with every type test inlined (no call per value), and compiles it
once per stream and record shape. True means that every one of those values fits as it
is, exactly as `Fitter.fit` would leave it; False only means "ask the fitter", never that a
value is wrong. So a check may give up (False) wherever inlining gets complicated:
date-time strings (which are normalised), several scalar types (which are converted to
the first), objects with keys their schema does not list, and depth beyond `MAX_DEPTH`.

A check is only used when no string needs a U+0000 search. tests/unit/test_conformance.py
proves on arbitrary values that a True check never hides a change the fitter would make.
"""

from __future__ import annotations

import itertools
import math
import typing as t

#: How deep into objects and lists a check looks before it gives up (asks the fitter).
MAX_DEPTH = 4
_MIN, _MAX = -(2**63), 2**63 - 1
_SCALARS = ("boolean", "integer", "number", "string")


def compile_check(
    schemas: t.Mapping[str, t.Any],
) -> t.Callable[[dict[str, t.Any]], bool] | None:
    """A function of a record (which holds every field of `schemas`): True when each of
    those fields fits its schema as it is. None when one of them cannot be checked inline:
    then the fitter is quicker than a check that covers only some (measured)."""
    names = itertools.count()
    constants: dict[str, t.Any] = {
        "_MIN": _MIN,
        "_MAX": _MAX,
        "_INT": frozenset({int}),
        "_isfinite": math.isfinite,
    }
    body = []
    for key, schema in schemas.items():
        expr = _expr(schema, "v", 0, names, constants)
        if expr is None:
            return None
        body.append(f"    v = r[{key!r}]\n    if not {expr}:\n        return False\n")
    if not body:
        return None
    source = "def check(r):\n" + "".join(body) + "    return True\n"
    scope: dict[str, t.Any] = dict(constants)
    exec(compile(source, "<fast_checks>", "exec"), scope)  # noqa: S102 (our own source)
    check: t.Callable[[dict[str, t.Any]], bool] = scope["check"]
    check.__doc__ = source  # (what it checks, for tests and debugging)
    return check


def _expr(
    schema: t.Any,
    value: str,
    depth: int,
    names: t.Iterator[int],
    constants: dict[str, t.Any],
) -> str | None:
    """A Python expression over `value` (a name or subscript) that is True only when it
    fits `schema` as it is; None when this schema is not checked inline."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    if any(k in schema for k in ("anyOf", "oneOf", "allOf", "$ref")):
        return None
    declared = schema.get("type")
    if declared is None:
        return f"(type({value}) is not int or _MIN <= {value} <= _MAX)"  # any value
    kinds = [declared] if isinstance(declared, str) else list(declared)
    scalars = [k for k in kinds if k in _SCALARS]
    if len(scalars) > 1:
        # The fitter converts the others to the first scalar type: only that one (and the
        # rest of the declared types) fits as it is.
        kinds = [k for k in kinds if k not in _SCALARS or k == scalars[0]]
    if "string" in kinds and schema.get("format") == "date-time":
        return None  # the fitter normalises every timestamp
    options: list[str] = []
    if "null" in kinds:
        options.append(f"{value} is None")
    if "boolean" in kinds:
        options.append(f"type({value}) is bool")
    if "integer" in kinds or "number" in kinds:
        options.append(f"(type({value}) is int and _MIN <= {value} <= _MAX)")
    if "number" in kinds:
        options.append(f"(type({value}) is float and _isfinite({value}))")
    if "string" in kinds:
        options.append(f"type({value}) is str")
    if "array" in kinds:
        array = _array(schema.get("items", {}), value, depth, names, constants)
        if array is None:
            return None
        options.append(array)
    if "object" in kinds:
        obj = _object(schema, value, depth, names, constants)
        if obj is None:
            return None
        options.append(obj)
    if not options:
        return None
    return "(" + " or ".join(options) + ")"


def _array(
    items: t.Any, value: str, depth: int, names: t.Iterator[int], constants: dict[str, t.Any]
) -> str | None:
    if not isinstance(items, dict) or "type" not in items:
        return f"type({value}) is list"  # items of any type: the fitter takes any list
    types = _type_set(items)
    if types is not None:
        name = f"_types{next(names)}"
        constants[name] = types
        return f"(type({value}) is list and set(map(type, {value})) <= {name})"
    if _types(items) == ["integer"]:
        # Integers only: their types, then their range, in C.
        return (
            f"(type({value}) is list and (not {value} or (set(map(type, {value})) <= _INT "
            f"and min({value}) >= _MIN and max({value}) <= _MAX)))"
        )
    # Lists of objects are left to the fitter, whose own fast path (`_fit_list`) checks
    # them faster than an inlined loop would.
    return None


def _types(schema: t.Any) -> list[str] | None:
    declared = schema.get("type") if isinstance(schema, dict) else None
    if declared is None:
        return None
    return [declared] if isinstance(declared, str) else list(declared)


def _type_set(schema: dict[str, t.Any]) -> frozenset[type] | None:
    """The Python types of the values that fit `schema` as they are, when their type alone
    decides it (null, boolean, one string type that is not a date-time, any object, any
    list); None otherwise."""
    kinds = _types(schema)
    if kinds is None or any(k in schema for k in ("anyOf", "oneOf", "allOf", "$ref")):
        return None
    scalars = [k for k in kinds if k in _SCALARS]
    if scalars[1:] or scalars[:1] not in ([], ["boolean"], ["string"]):
        return None
    if "string" in kinds and schema.get("format") == "date-time":
        return None
    python: set[type] = set()
    if "null" in kinds:
        python.add(type(None))
    if "boolean" in kinds:
        python.add(bool)
    if "string" in kinds:
        python.add(str)
    if "object" in kinds:
        if schema.get("properties") or schema.get("additionalProperties", True) is not True:
            return None
        python.add(dict)
    if "array" in kinds:
        if "type" in (schema.get("items") or {}):
            return None
        python.add(list)
    return frozenset(python)


def _object(
    schema: dict[str, t.Any],
    value: str,
    depth: int,
    names: t.Iterator[int],
    constants: dict[str, t.Any],
) -> str | None:
    props = schema.get("properties") or {}
    addl = schema.get("additionalProperties", True)
    if not props and addl is True:
        return f"type({value}) is dict"  # any object: the fitter takes it as it is
    if not props and isinstance(addl, dict):
        # A map (`custom`: field id -> value): every value fits the one schema.
        types = _type_set(addl)
        if types is not None:
            name = f"_types{next(names)}"
            constants[name] = types
            return f"(type({value}) is dict and set(map(type, {value}.values())) <= {name})"
        item = f"_x{next(names)}"
        expr = _expr(addl, item, depth + 1, names, constants)
        if expr is None:
            return None
        return f"(type({value}) is dict and all({expr} for {item} in {value}.values()))"
    if not props or (addl is not True and addl is not False):
        return None  # a schema for the other keys beside named ones, or no key allowed
    known = f"_keys{next(names)}"
    constants[known] = frozenset(props)
    clauses = [f"type({value}) is dict", f"{value}.keys() <= {known}"]
    for key, sub in props.items():
        item = f"_v{next(names)}"
        expr = _expr(sub, item, depth + 1, names, constants)
        if expr is None:
            return None
        clauses.append(f"(({item} := {value}.get({key!r}, _ABSENT)) is _ABSENT or {expr})")
    constants["_ABSENT"] = _ABSENT
    return "(" + " and ".join(clauses) + ")"


class _Absent:
    """A key the object does not hold (a value no JSON can be)."""


_ABSENT = _Absent()
