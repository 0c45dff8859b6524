"""Fitting one value to its JSON schema: the coercions conformance.py applies, compiled once.

`compile_schema` turns a field's schema into a `Fitter`: `fit(value)` returns the value as
it fits the schema (itself, or a lossless coercion of it, at any depth) or raises `Unfit`;
`fast` is the set of Python types that fit as they are, so the conformer can skip the call
for most values. The rules (which coercions are lossless, which type wins where several are
declared, the one UTC form of a timestamp, NUL replacement) are listed in conformance.py's
docstring; tests/unit/test_conformance.py proves them on arbitrary JSON values (Hypothesis).
"""

from __future__ import annotations

import math
import re
import typing as t
from dataclasses import dataclass

from tap_heymarket import timestamps

#: The tap's column for what does not fit, or is not in the schema.
EXTRA_FIELDS = "extra_fields"
#: Where decode moves a field the API itself calls `extra_fields` (it is kept under that
#: name inside the tap's `extra_fields`). NUL cannot come from JSON text, so no clash.
API_EXTRA_FIELDS = "\x00api:extra_fields"
NUL = "\x00"
REPLACEMENT = "\ufffd"
#: Integers beyond a signed 64-bit column do not load into BIGINT (Postgres, DuckDB).
INT64 = range(-(2**63), 2**63)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NONE = type(None)
#: The key of `fast_items` for keys that are not properties (no JSON key holds NUL).
_OTHER_KEYS = "\x00other"
_DICT = {dict}
_SCALARS = ("boolean", "integer", "number", "string")
_PYTHON = {"boolean": bool, "integer": int, "number": float, "string": str}
_JSON_TYPES = (
    ("null", _NONE),
    ("boolean", bool),
    ("integer", int),
    ("number", float),
    ("string", str),
    ("array", list),
    ("object", dict),
)


class Unfit(Exception):
    """A value that its schema cannot hold, even after a lossless coercion."""


class ConformanceError(ValueError):
    """A value of a non-nullable field that does not fit: the record cannot be emitted."""


def is_ascii_digits(text: str) -> bool:
    """Whether `text` is a run of 0-9: `str.isdigit` alone also takes `²` (which `int`
    refuses) and other scripts' digits (which `int` reads, but whose text is then lost)."""
    return text.isascii() and text.isdigit()


def json_type(value: t.Any) -> str:
    """The JSON name of a decoded value's type (`integer` for an int, never for a bool)."""
    for name, kind in _JSON_TYPES:
        if type(value) is kind:
            return name
    return type(value).__name__


def scrub(text: str) -> str:
    """`text` with U+0000 replaced by U+FFFD."""
    return text.replace(NUL, REPLACEMENT) if NUL in text else text


def scrub_any(value: t.Any) -> t.Any:
    """`value` with U+0000 replaced in every string and key at any depth (a copy if changed)."""
    if type(value) is str:
        return scrub(value)
    if type(value) is dict:
        pairs = [(scrub(k), scrub_any(v)) for k, v in value.items()]
        same = all(
            k2 is k and v2 is v for (k2, v2), (k, v) in zip(pairs, value.items(), strict=True)
        )
        return value if same else dict(pairs)
    if type(value) is list:
        items = [scrub_any(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _types_of(schema: dict[str, t.Any]) -> frozenset[str] | None:
    """The declared JSON types; None when the schema does not restrict them."""
    declared = schema.get("type")
    if declared is None:
        return None
    return frozenset([declared] if isinstance(declared, str) else declared)


@dataclass
class Fitter:
    """How one schema fits values: `fast` types fit as they are; `fit` does the rest."""

    declared: str
    nullable: bool
    #: Python types that fit with no work, when strings need no NUL search.
    fast: frozenset[type]
    #: The same when they do (no str, no containers).
    fast_scrub: frozenset[type]
    fit: t.Callable[[t.Any, bool], t.Any]
    #: For an object schema: per property (and `_OTHER_KEYS`), the types that fit as they are.
    fast_items: dict[str, frozenset[type]] | None = None


def compile_schema(schema: t.Any) -> Fitter:
    """The `Fitter` of one (sub)schema. Keywords other than `type`, `format`,
    `properties`, `additionalProperties` and `items` do not restrict values here."""
    if not isinstance(schema, dict):
        schema = {}
    kinds = _types_of(schema)
    if kinds is None or any(k in schema for k in ("anyOf", "oneOf", "allOf", "$ref")):
        return _any_fitter()
    nullable = "null" in kinds
    declared = " or ".join(sorted(kinds))
    is_datetime = "string" in kinds and schema.get("format") == "date-time"
    prop_fitters: dict[str, Fitter] | None = None
    extra_fitter: Fitter | None = None
    closed = False
    if "object" in kinds:
        props = schema.get("properties")
        addl = schema.get("additionalProperties", True)
        if isinstance(props, dict) and props:
            prop_fitters = {k: compile_schema(v) for k, v in props.items()}
        if isinstance(addl, dict):
            extra_fitter = compile_schema(addl)
        closed = addl is False
    item_fitter = compile_schema(schema.get("items", {})) if "array" in kinds else None
    any_object = prop_fitters is None and extra_fitter is None and not closed
    #: Per property, the types that fit as they are (no NUL search): `_fit_object`'s fast way.
    fast_items: dict[str, frozenset[type]] | None = None
    if "object" in kinds and not closed:
        fast_items = {k: f.fast for k, f in (prop_fitters or {}).items()}
        fast_items[_OTHER_KEYS] = extra_fitter.fast if extra_fitter else _any_fitter().fast
    any_items = item_fitter is None or item_fitter.declared == "any"
    # Several scalar types (`["integer", "string", "null"]`): the first listed is the one
    # the column prefers, and a value of another that converts to it losslessly is
    # converted, so that one column does not mix `12` and `"12"`.
    order = [schema["type"]] if isinstance(schema["type"], str) else list(schema["type"])
    scalars = [k for k in order if k in _SCALARS]
    preferred = frozenset(scalars[:1]) if len(scalars) > 1 else None
    prefers_int = preferred == {"integer"}

    fast: set[type] = set()
    if nullable:
        fast.add(_NONE)
    if "boolean" in kinds:
        fast.add(bool)
    if "integer" in kinds or "number" in kinds:
        fast.add(int)  # range-checked in `fit` only when it is not fast: see below
    if "number" in kinds:
        fast.add(float)
    fast_scrub = set(fast)
    if "string" in kinds and not is_datetime:
        fast.add(str)
    if "object" in kinds and any_object:
        fast.add(dict)
    if "array" in kinds and any_items:
        fast.add(list)
    if preferred is not None:
        others = {_PYTHON[k] for k in scalars[1:]} - {_PYTHON[k] for k in preferred}
        fast -= others
        fast_scrub -= others
    # An int is fast only inside INT64: every caller checks the range next to `fast`.

    def fit(value: t.Any, scrubbing: bool) -> t.Any:
        if (
            prefers_int
            and type(value) is str
            and value.isascii()
            and value.isdigit()
            and len(value) < 19
        ):
            if value[0] != "0" or value == "0":
                value = int(value)  # the usual case of the conversion below, at C speed
        elif preferred is not None and value is not None:
            try:
                converted = _coerce(value, preferred, is_datetime)
            except Unfit:
                converted = value
            # From a string, only when nothing is lost ("007" and "1.50" stay strings).
            if type(value) is not str or _canonical(converted) == value:
                value = converted
        kind = type(value)
        if value is None:
            if nullable:
                return None
            raise Unfit
        if kind is bool:
            if "boolean" in kinds:
                return value
        elif kind is int:
            if "integer" in kinds or "number" in kinds:
                if value in INT64 or ("number" in kinds and "integer" not in kinds):
                    return value
                raise Unfit
        elif kind is float:
            if "number" in kinds and math.isfinite(value):
                return value
            if "integer" in kinds and value.is_integer() and int(value) in INT64:
                return int(value)
        elif kind is str:
            if "string" in kinds:
                if is_datetime:
                    return _fit_datetime(value, nullable)
                return scrub(value) if scrubbing else value
        elif kind is list:
            if item_fitter is not None:
                return _fit_list(value, item_fitter, scrubbing)
        elif kind is dict:
            if "object" in kinds:
                return _fit_object(value, prop_fitters, extra_fitter, closed, scrubbing, fast_items)
            if item_fitter is not None:
                as_list = _indexed_list(value)
                if as_list is not None:
                    return _fit_list(as_list, item_fitter, scrubbing)
        return _coerce(value, kinds, is_datetime)

    return Fitter(
        declared=declared,
        nullable=nullable,
        fast=frozenset(fast),
        fast_scrub=frozenset(fast_scrub),
        fit=fit,
        fast_items=fast_items,
    )


def _any_fitter() -> Fitter:
    def fit(value: t.Any, scrubbing: bool) -> t.Any:
        if type(value) is int and value not in INT64:
            raise Unfit
        return scrub_any(value) if scrubbing else value

    return Fitter(
        declared="any",
        nullable=True,
        fast=frozenset({_NONE, bool, int, float, str, dict, list}),
        fast_scrub=frozenset({_NONE, bool, int, float}),
        fit=fit,
    )


def _canonical(value: t.Any) -> str | None:
    """The one text of a scalar that a string converted from it must equal."""
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return repr(value)
    return None


def _fit_datetime(value: str, nullable: bool) -> str | None:
    if value == "" and nullable:
        return None
    try:
        return timestamps.normalize_text(value, timestamps.parse(value))
    except (TypeError, ValueError, OverflowError):
        raise Unfit from None


def _indexed_list(value: dict) -> list | None:
    """`{"0": a, "1": b}` as `[a, b]` (and `{}` as `[]`); None for any other object."""
    if not value:
        return []
    try:
        if sorted(int(k) for k in value) != list(range(len(value))):
            return None
    except (TypeError, ValueError):
        return None
    if any(not is_ascii_digits(k) or (len(k) > 1 and k[0] == "0") for k in value):
        return None
    return [value[str(i)] for i in range(len(value))]


def _fit_list(value: list, item: Fitter, scrubbing: bool) -> list:
    fast = item.fast_scrub if scrubbing else item.fast
    if not value:
        return value
    kinds = set(map(type, value))
    if kinds == _DICT and item.fast_items is not None and not scrubbing:
        # Objects whose every value fits as it is (the usual case), checked without a call.
        items = item.fast_items
        default: frozenset[type] | None = items.get(_OTHER_KEYS)
        for entry in value:
            for k, v in entry.items():
                fits_as_is = items.get(k, default)
                if (
                    fits_as_is is None
                    or type(v) not in fits_as_is
                    or (type(v) is int and not INT64_MIN <= v <= INT64_MAX)
                ):
                    break
            else:
                continue
            break
        else:
            return value
    if kinds <= fast and (
        int not in kinds or (kinds == {int} and min(value) >= INT64_MIN and max(value) <= INT64_MAX)
    ):
        return value  # every item fits as it is (checked in C)
    out: list | None = None
    for i, v in enumerate(value):
        if type(v) in fast and not (type(v) is int and v not in INT64):
            if out is not None:
                out.append(v)
            continue
        fitted = item.fit(v, scrubbing)
        if out is None:
            if fitted is v:
                continue
            out = value[:i]
        out.append(fitted)
    return value if out is None else out


def _fit_object(
    value: dict,
    props: dict[str, Fitter] | None,
    extra: Fitter | None,
    closed: bool,
    scrubbing: bool,
    fast_items: dict[str, frozenset[type]] | None = None,
) -> dict:
    if fast_items is not None and not scrubbing:
        # Every value of a type that fits as it is (the usual case): nothing to do.
        default = fast_items.get(_OTHER_KEYS)
        for k, v in value.items():
            fast: frozenset[type] | None = fast_items.get(k, default)
            if (
                fast is None
                or type(v) not in fast
                or (type(v) is int and not INT64_MIN <= v <= INT64_MAX)
            ):
                break
        else:
            return value
    out: dict | None = None
    for k, v in value.items():
        fitter = props.get(k) if props is not None else None
        if fitter is None:
            if closed:
                raise Unfit
            fitter = extra
        key = scrub(k) if scrubbing else k
        if fitter is None:
            fitted = scrub_any(v) if scrubbing else v
            if type(fitted) is int and fitted not in INT64:
                raise Unfit
        else:
            fast = fitter.fast_scrub if scrubbing else fitter.fast
            if type(v) in fast and not (type(v) is int and v not in INT64):
                fitted = v
            else:
                fitted = fitter.fit(v, scrubbing)
        if out is None and (fitted is not v or key is not k):
            out = {}
            for k2, v2 in value.items():
                if k2 == k:
                    break
                out[scrub(k2) if scrubbing else k2] = v2
        if out is not None:
            out[key] = fitted
    return value if out is None else out


def _coerce(value: t.Any, kinds: frozenset[str], is_datetime: bool) -> t.Any:
    """The lossless coercions, in the order boolean, integer, number, string."""
    kind = type(value)
    text = value.strip() if kind is str else None
    if "boolean" in kinds:
        if kind in (int, float) and value in (0, 1):
            return bool(value)
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
    if text is not None and ("integer" in kinds or "number" in kinds):
        if _INTEGER.fullmatch(text) and (int(text) in INT64 or "integer" not in kinds):
            return int(text)
        if "number" in kinds and _NUMBER.fullmatch(text) and math.isfinite(float(text)):
            return float(text)
    numeric = kind is int or (kind is float and math.isfinite(value))
    if "string" in kinds and not is_datetime and numeric:
        return str(value)
    raise Unfit
