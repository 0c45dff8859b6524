"""Compiled fitting: one generated Python function per record shape.

conformance.py fits a value to its schema by walking it (`Fitter.fit`), a few calls per
nested object or list: per record of a stream with JSON columns (messages' `custom`,
`target_errors`; contacts' `note`, `contact_channels`), that walk was most of the
conformance cost (docs/benchmarks.md). `compile_fit(schemas, fitters)` turns the schemas
of the columns that need work into the source of one function of the record, compiled
once per stream and set of columns, that does what the fitters would do, with the usual
cases inlined: a type test per value where it fits as it is (`_expr`: no call per value),
a date-time re-cut without dispatch, and a loop generated per list-of-objects schema that
also converts the digit-string ids the API may send where the schema prefers integers.
Whatever an inline path does not take for certain (several scalar types, objects with
keys their schema does not list, depth beyond `MAX_DEPTH`, any conversion other than
those) goes to the field's fitter, so the function's result is the fitter's.

conformance.py compiles one for all the fields of a record's keys (`Conformer._keyed`,
the whole record, `extra_fields` set to null at the end) and one per set of columns that
its plans send to work. It is only used when no string needs a U+0000 search.
tests/unit/test_conformance.py proves on arbitrary values that it leaves, converts and
refuses exactly as the fitters.
"""

from __future__ import annotations

import itertools
import math
import operator
import typing as t
from datetime import datetime

from tap_heymarket import timestamps

if t.TYPE_CHECKING:
    from tap_heymarket.fitting import Fitter

#: How deep into objects and lists a check looks before it gives up (asks the fitter).
MAX_DEPTH = 4
_MIN, _MAX = -(2**63), 2**63 - 1
_SCALARS = ("boolean", "integer", "number", "string")


def compile_fit(
    schemas: t.Mapping[str, t.Any],
    fitters: t.Mapping[str, Fitter],
    then_null: str | None = None,
) -> t.Callable[[dict[str, t.Any]], None]:
    """A function that fits every field of `schemas` of a record in place, exactly as
    `fitters[key].fit(value, False)` would (raising `Unfit` where it would), and then sets
    the field `then_null` (if any) to null, with the usual cases inlined:

    * a value the field's inline expression (`_expr`) says fits as it is, is left alone;
    * a date-time string is parsed and re-cut by `timestamps.read` (no dispatch);
    * a list of objects with typed properties (contacts' `note`, `contact_channels`) is
      walked by a loop generated for its schema, which also converts a digit-string id
      where the schema prefers an integer, copying only the objects it changes;

    anything else goes to the field's fitter. Used only when no string needs a U+0000
    search (the fitters' `False`).
    """
    names = itertools.count()
    constants: dict[str, t.Any] = {"_MIN": _MIN, "_MAX": _MAX, "_INT": frozenset({int})}
    constants["_isfinite"] = math.isfinite
    body = []
    for key, schema in schemas.items():
        fitter = fitters[key]
        slow = f"_fit{next(names)}"
        constants[slow] = fitter.fit
        expr = _expr(schema, "v", 0, names, constants)
        if expr is not None:
            body.append(
                f"    v = r[{key!r}]\n    if not {expr}:\n        r[{key!r}] = {slow}(v, False)\n"
            )
            continue
        datetime_fit = _datetime_fit(schema, fitter)
        if datetime_fit is not None:
            name = f"_special{next(names)}"
            constants[name] = datetime_fit
            constants["_fromiso"] = datetime.fromisoformat
            body.append(_RECUT.format(key=key, fit=name))
            continue
        special = _object_list_fit(schema, fitter)
        if special is not None:
            name = f"_special{next(names)}"
            constants[name] = special
            body.append(f"    r[{key!r}] = {name}(r[{key!r}])\n")
        else:
            # No inline check: the fitter, unless the value's type fits as it is (an int is
            # always the fitter's, which checks its range).
            fast = f"_fast{next(names)}"
            constants[fast] = fitter.fast - {int}
            body.append(
                f"    v = r[{key!r}]\n    if type(v) not in {fast}:\n"
                f"        r[{key!r}] = {slow}(v, False)\n"
            )
    if then_null is not None:
        body.append(f"    r[{then_null!r}] = None\n")
    source = "def fit(r):\n" + ("".join(body) or "    pass\n")
    return _compiled(source, "fit", constants)


def _compiled(source: str, name: str, constants: dict[str, t.Any]) -> t.Any:
    scope: dict[str, t.Any] = dict(constants)
    exec(compile(source, "<fast_checks>", "exec"), scope)  # noqa: S102 (our own source)
    function = scope[name]
    function.__doc__ = source  # (what it does, for tests and debugging)
    return function


#: A date-time column in the API's usual forms, `...SS.mmmZ` and `...SS.ffffffZ`, re-cut
#: inline (what `timestamps.read` does for them, without two calls per value): the text
#: must parse (a date such as February 30th does not), and the six separators are where
#: the calendar form has them (Python also parses week dates and `,` fractions). Any other
#: value goes to the column's `_datetime_fit`.
_RECUT = """\
    v = r[{key!r}]
    if (type(v) is str and v[4:20:3] == "--T::." and v[-1:] == "Z"
            and ((n := len(v)) == 24 or n == 27)):
        try:
            _fromiso(v)
        except (ValueError, OverflowError):
            r[{key!r}] = {fit}(v)
        else:
            r[{key!r}] = v[:23] + "000+00:00" if n == 24 else v[:26] + "+00:00"
    else:
        r[{key!r}] = {fit}(v)
"""


def _datetime_fit(schema: t.Any, fitter: Fitter) -> t.Callable[[t.Any], t.Any] | None:
    """For a date-time string schema: `fitter.fit`, with the parse and re-cut inlined."""
    kinds = _types(schema)
    if kinds is None or schema.get("format") != "date-time" or "string" not in kinds:
        return None
    if [k for k in kinds if k in _SCALARS] != ["string"]:
        return None
    read, slow = timestamps.read, fitter.fit

    def fit(value: t.Any) -> t.Any:
        if type(value) is str:
            try:
                return read(value)[1]
            except (ValueError, OverflowError):
                pass  # `""` is null; anything else does not fit: the fitter says which
        return slow(value, False)

    return fit


def _object_list_fit(schema: t.Any, fitter: Fitter) -> t.Callable[[t.Any], t.Any] | None:
    """For an array of objects with typed properties: `fitter.fit` as one generated loop
    (see `compile_fit`); None for any other schema."""
    kinds, items = _types(schema), schema.get("items") if isinstance(schema, dict) else None
    item_kinds = _types(items)
    if kinds is None or "array" not in kinds or item_kinds is None or "object" not in item_kinds:
        return None
    if not set(kinds) <= {"array", "null"} or not set(item_kinds) <= {"object", "null"}:
        return None
    assert isinstance(items, dict)
    props = items.get("properties")
    if (
        not isinstance(props, dict)
        or not props
        or items.get("additionalProperties", True) is not True
    ):
        return None
    # Every property present (the usual case): their values in one C call (one: a subscript).
    every = (
        f"{', '.join(f'x{j}' for j in range(len(props)))}, = _every(e)"
        if len(props) > 1
        else f"x0 = e[{next(iter(props))!r}]"
    )
    names = itertools.count()
    constants: dict[str, t.Any] = {"_MIN": _MIN, "_MAX": _MAX, "_INT": frozenset({int})}
    constants.update(_isfinite=math.isfinite, _ABSENT=_ABSENT, _slow=fitter.fit)
    constants["_keys"] = frozenset(props)
    lines = [
        "def fit(v):",
        "    if type(v) is not list:",
        "        return v if v is None and 'null' in _kinds else _slow(v, False)",
        "    out = None",
        "    for i, e in enumerate(v):",
        "        if type(e) is not dict:",
        "            if e is None and _null_items:",
        "                if out is not None:",
        "                    out.append(e)",
        "                continue",
        "            return _slow(v, False)",
        "        if not e.keys() <= _keys:",
        "            return _slow(v, False)  # (keys the schema does not list: the fitter's)",
        "        n = None",
        "        if len(e) == _count:",
        f"            {every}",
    ]
    constants.update(_kinds=frozenset(kinds), _null_items="null" in item_kinds)
    constants.update(_count=len(props), _every=operator.itemgetter(*props))
    for j, (key, sub) in enumerate(props.items()):
        check = _property_check(key, sub, f"x{j}", names, constants, absent=False)
        if check is None:
            return None
        lines += ["    " + line for line in check]
    lines.append("        else:")
    for key, sub in props.items():
        check = _property_check(key, sub, "x", names, constants, absent=True)
        assert check is not None  # (the same schemas as above)
        lines += [f"            x = e.get({key!r}, _ABSENT)"] + ["    " + line for line in check]
    lines += [
        "        if n is not None:",
        "            if out is None:",
        "                out = v[:i]",
        "            out.append(n)",
        "            continue",
        "        if out is not None:",
        "            out.append(e)",
        "    return v if out is None else out",
    ]
    return t.cast(
        "t.Callable[[t.Any], t.Any]", _compiled("\n".join(lines) + "\n", "fit", constants)
    )


def _property_check(
    key: str,
    sub: t.Any,
    var: str,
    names: t.Iterator[int],
    constants: dict[str, t.Any],
    *,
    absent: bool,
) -> list[str] | None:
    """The lines (at the loop's depth) that check one property of a list's object, held in
    `var` (`_ABSENT` when the object lacks it, if `absent`): left as it is when it fits,
    a digit string made an int where the schema prefers integers (in the object's copy
    `n`), anything else the fitter's; None when the schema is not checked inline."""
    expr = _expr(sub, var, 1, names, constants)
    if expr is None:
        return None
    lines = [
        f"        if not ({var} is _ABSENT or {expr}):" if absent else f"        if not {expr}:"
    ]
    sub_kinds = _types(sub) or []
    scalars = [k for k in sub_kinds if k in _SCALARS]
    if len(scalars) > 1 and scalars[0] == "integer" and "string" in scalars:
        # `Fitter.fit`'s own first step for a column that prefers integers.
        lines += [
            f"            if (type({var}) is str and {var}.isascii() and {var}.isdigit()",
            f"                    and len({var}) < 19 and ({var}[0] != '0' or {var} == '0')):",
            "                if n is None:",
            "                    n = dict(e)",
            f"                n[{key!r}] = int({var})",
            "            else:",
            "                return _slow(v, False)",
        ]
    else:
        lines.append("            return _slow(v, False)")
    return lines


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
