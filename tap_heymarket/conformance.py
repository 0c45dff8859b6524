"""One conformance path for every record of every stream, driven by the stream's schema.

Heymarket's docs are thin on types (docs/warehouses.md, "Unexpected types"): a field typed
one way may come another way (`media` a string or a list, booleans as `0`/`1`, ids as digit
strings, an unset id as `0`). A record that breaks its SCHEMA message breaks the load, and
then no STATE is stored, so the next run fails the same way. So every record leaves the tap
through `Conformer.conform`, which guarantees that it validates against the schema the tap
sent, and that no value is lost:

* a value that fits its declared type is emitted as it is;
* a value that fits after a lossless coercion is emitted coerced: `0`/`1`, `"true"`,
  `"no"`... to a boolean column; a digit string or an integral float to an integer column;
  a numeric string to a number column; a number to a string column; an RFC 3339 timestamp
  in any precision or zone to the tap's one UTC form (`timestamps.normalize`), and `""` to
  null in a date-time column (the API's zero value for "unset"); an object keyed exactly
  `"0"`, `"1"`, ... (or empty) to the list it stands for. Where several scalar types are
  declared, the first is preferred (`12` for `"12"` under `["integer", "string"]`).
  Coercion goes into objects and lists at any depth;
* a value that does not fit, even after coercion, is emitted as null in its column and kept
  as sent in the record's `extra_fields`, under its own name. One WARNING per stream and
  field per run names the declared type and the type seen, and the `values_not_conformed`
  METRIC counts them. The unit is the top-level field: when anything inside a JSON column
  does not fit, the whole column goes to `extra_fields`, untouched;
* a field the schema does not list goes to `extra_fields` too (the API's own field named
  `extra_fields`, renamed at decode to `API_EXTRA_FIELDS`, lands there as `extra_fields`);
* declared alternates: where the API may send two shapes (inboxes' `invited`, a boolean or
  a list; messages' `media`, a string or a list), a value that does not fit the column but
  fits its alternate (`invited_list`, `media_list`) goes there;
* with `replace_nul_characters` (on by default), U+0000 in any string at any depth, object
  keys included, becomes U+FFFD: Postgres text and jsonb reject it and most loaders have no
  switch for it. The streams tell the conformer when an answer holds no `\\u0000` at all,
  and then strings are not searched.

Fields the stream itself guarantees (`trusted`: the primary key, the replication key and
what decode parses strictly, such as messages' `date`) are not looked at again. A field the
schema declares non-nullable that does not fit raises `ConformanceError`.

Where the fields that need work can all be checked inline, a check compiled from their
schemas (fast_checks.py) first says whether they fit as they are; then the fitter is not
called. The per-record cost is one dictionary pass: every field has a precomputed set of Python
types that fit as they are (`Fitter.fast`); only the rest goes through the slow path.
tests/test_conformance.py proves the guarantee on arbitrary JSON values (Hypothesis).
"""

from __future__ import annotations

import logging
import math
import operator
import re
import typing as t
from collections import Counter
from dataclasses import dataclass, field

from tap_heymarket import timestamps
from tap_heymarket.fast_checks import compile_check
from tap_heymarket.metrics import log_counter

#: The tap's column for what does not fit, or is not in the schema.
EXTRA_FIELDS = "extra_fields"
#: Where decode moves a field the API itself calls `extra_fields` (it is kept under that
#: name inside the tap's `extra_fields`). NUL cannot come from JSON text, so no clash.
API_EXTRA_FIELDS = "\x00api:extra_fields"
NUL = "\x00"
REPLACEMENT = "\ufffd"
#: Integers beyond a signed 64-bit column do not load into BIGINT (Postgres, DuckDB).
INT64 = range(-(2**63), 2**63)
_MIN, _MAX = -(2**63), 2**63 - 1

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
        if prefers_int and type(value) is str and value.isdigit() and len(value) < 19:
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
    if any(not k.isdigit() or (len(k) > 1 and k[0] == "0") for k in value):
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
                    or (type(v) is int and not _MIN <= v <= _MAX)
                ):
                    break
            else:
                continue
            break
        else:
            return value
    if kinds <= fast and (
        int not in kinds or (kinds == {int} and min(value) >= _MIN and max(value) <= _MAX)
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
            if fast is None or type(v) not in fast or (type(v) is int and not _MIN <= v <= _MAX):
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


#: A compiled check of a record (fast_checks.py).
_Check = t.Callable[[dict[str, t.Any]], bool]


@dataclass(frozen=True)
class _Plan:
    """What one (keys, value types) combination of records needs (`Conformer.conform`)."""

    #: The int values to range-check (a tuple of them), or None.
    ints: t.Callable[[dict[str, t.Any]], tuple[t.Any, ...]] | None
    #: The str values to search for U+0000, or None.
    strings: t.Callable[[dict[str, t.Any]], tuple[t.Any, ...]] | None
    #: The fields that need work (`Conformer._slow` does it all).
    work: tuple[str, ...]
    #: (column, its fit) of `work`, when `work` can be done without `Conformer._slow`.
    fits: tuple[tuple[str, t.Callable[[t.Any, bool], t.Any]], ...] | None
    #: A compiled check (fast_checks.py) that every field of `fits` fits as it is, if any.
    check: _Check | None
    #: The fields of `work` with no column (to extra_fields).
    unknown: tuple[str, ...]
    #: Whether `extra_fields` must be added (as null) when nothing else is done.
    add_extra: bool


def _getter(keys: list[str]) -> t.Callable[[dict[str, t.Any]], tuple[t.Any, ...]] | None:
    """`itemgetter` that always returns a tuple; None for no keys."""
    if not keys:
        return None
    if len(keys) == 1:
        (key,) = keys
        return lambda record: (record[key],)
    return operator.itemgetter(*keys)


@dataclass
class Conformer:
    """The conformance plan of one stream's schema, and what it met this run."""

    stream: str
    schema: dict[str, t.Any]
    logger: logging.Logger
    #: Fields the stream checked before (keys, cursors): emitted as they are.
    trusted: frozenset[str] = frozenset()
    #: column -> alternate column for a second shape (see the module docstring).
    alternates: t.Mapping[str, str] = field(default_factory=dict)
    replace_nul: bool = True
    #: The selection mask the stream checked `all_selected` against (records.py).
    mask: t.Any = None
    all_selected: bool = False
    fitters: dict[str, Fitter] = field(init=False)
    has_extra: bool = field(init=False)
    not_conformed: Counter[str] = field(init=False, default_factory=Counter)
    _plans: dict[tuple[bool, tuple[str, ...], tuple[type, ...]], _Plan] = field(
        init=False, default_factory=dict
    )
    _checks: dict[tuple[str, ...], _Check | None] = field(init=False, default_factory=dict)
    _warned: set[str] = field(init=False, default_factory=set)
    _unknown_seen: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        props = self.schema.get("properties") or {}
        self.fitters = {k: compile_schema(v) for k, v in props.items() if k not in self.trusted}
        self.has_extra = EXTRA_FIELDS in props

    def conform(self, record: dict[str, t.Any], *, clean: bool = False) -> dict[str, t.Any]:
        """`record`, conformed in place (see the module docstring); returned for chaining.

        `clean`: the answer the record came from holds no `\\u0000`, so no string is
        searched for one.

        The hot path: records of one answer share their keys and, mostly, their value
        types, so what the types call for is decided once per (keys, types) and cached
        (`_Plan`); per record that leaves two C-level passes (a range check of the ints, a
        NUL search of the strings) and the fields that need real work.
        """
        scrubbing = self.replace_nul and not clean
        signature = (scrubbing, tuple(record), tuple(map(type, record.values())))
        plan = self._plans.get(signature)
        if plan is None:
            plan = self._plan(signature)
        if plan.ints is not None:
            ints = plan.ints(record)
            if not (min(ints) >= _MIN and max(ints) <= _MAX):
                self._slow(record, self._untrusted(record), scrubbing)  # (rare) beyond BIGINT
                return record
        if plan.strings is not None and NUL in "".join(plan.strings(record)):
            self._slow(record, self._untrusted(record), scrubbing)
            return record
        if plan.fits is None:
            if plan.work:
                self._slow(record, list(plan.work), scrubbing)
            elif plan.add_extra:
                record[EXTRA_FIELDS] = None  # every record has the column, as the catalog says
            return record
        # Columns of a type that needs work: fit each; the first that does not fit hands
        # everything to `_slow` (fitting is idempotent, and a failed fit changes nothing, so
        # what `_slow` keeps is as sent).
        if plan.check is None or not plan.check(record):
            try:
                for key, fit in plan.fits:
                    record[key] = fit(record[key], scrubbing)
            except Unfit:
                self._slow(record, list(plan.work), scrubbing)
                return record
        if plan.unknown:
            # Fields with no column, into an `extra_fields` that nothing else fills.
            extra = {key: record.pop(key) for key in plan.unknown}
            record[EXTRA_FIELDS] = scrub_any(extra) if scrubbing else extra
            self._unknown_seen.update(plan.unknown)
        elif plan.add_extra:
            record[EXTRA_FIELDS] = None
        return record

    def _untrusted(self, record: dict[str, t.Any]) -> list[str]:
        return [key for key in record if key not in self.trusted]

    def _plan(self, signature: tuple[bool, tuple[str, ...], tuple[type, ...]]) -> _Plan:
        """What records of these keys and value types need (see `conform`)."""
        scrubbing, keys, kinds = signature
        ints: list[str] = []
        strings: list[str] = []
        work: list[str] = []
        for key, kind in zip(keys, kinds, strict=True):
            fitter = self.fitters.get(key)
            if fitter is None:
                if key not in self.trusted:
                    work.append(key)  # not in the schema: to extra_fields
                continue
            if kind is int and int in fitter.fast:
                ints.append(key)
            elif scrubbing and kind is str and str in fitter.fast:
                strings.append(key)
            elif kind not in (fitter.fast_scrub if scrubbing else fitter.fast):
                work.append(key)
        simple = (
            self.has_extra
            and EXTRA_FIELDS not in keys
            and API_EXTRA_FIELDS not in keys
            and not any(k in self.alternates for k in work)
        )
        if len(self._plans) >= 4096:
            self._plans.clear()  # (types that vary without end: stay bounded)
        # The fast way needs an `extra_fields` column nothing else fills, and columns.
        fits = (
            tuple((k, self.fitters[k].fit) for k in work if k in self.fitters)
            if work and simple
            else None
        )
        props = self.schema.get("properties") or {}
        check = None
        if fits and not scrubbing:
            # The check depends on the fields only: compiled once per set of them.
            wanted = tuple(k for k, _ in fits)
            if wanted not in self._checks:
                self._checks[wanted] = compile_check({k: props[k] for k in wanted})
            check = self._checks[wanted]
        plan = self._plans[signature] = _Plan(
            ints=_getter(ints),
            strings=_getter(strings),
            work=tuple(work),
            fits=fits,
            check=check,
            unknown=tuple(k for k in work if k not in self.fitters),
            add_extra=self.has_extra and EXTRA_FIELDS not in keys,
        )
        return plan

    def _slow(self, record: dict[str, t.Any], keys: list[str], scrubbing: bool) -> None:
        extra: dict[str, t.Any] = {}
        mine = record.get(EXTRA_FIELDS)  # what the stream itself put there, if anything
        for key in keys:
            if key == EXTRA_FIELDS:
                continue
            value = record[key]
            fitter = self.fitters.get(key)
            if fitter is None:
                del record[key]
                name = "extra_fields" if key == API_EXTRA_FIELDS else key
                extra[name] = value
                self._note_unknown(name)
                continue
            try:
                record[key] = fitter.fit(value, scrubbing)
                continue
            except Unfit:
                pass
            # The other shape goes to the alternate column, unless the API filled that too.
            alternate = self.alternates.get(key)
            alt = self.fitters.get(alternate) if alternate else None
            if (
                alternate is not None
                and alt is not None
                and record.get(alternate) is None
                and alternate not in extra
            ):
                try:
                    record[alternate] = alt.fit(value, scrubbing)
                    record[key] = None
                    continue
                except Unfit:
                    pass
            if not fitter.nullable:
                msg = (
                    f"{self.stream}: `{key}` came as a {json_type(value)} where the schema "
                    f"declares {fitter.declared}, and the column cannot be null"
                )
                raise ConformanceError(msg)
            self._not_conformed(key, fitter, value)
            record[key] = None
            extra[key] = value
        if EXTRA_FIELDS in keys or extra:
            if isinstance(mine, dict):
                extra = {**mine, **extra}
            elif mine is not None:
                extra = {"extra_fields": mine, **extra}
            if not self.has_extra:
                if extra:
                    self._drop(extra)
                record.pop(EXTRA_FIELDS, None)
                return
            if scrubbing:
                extra = scrub_any(extra)
            record[EXTRA_FIELDS] = extra or None
        elif self.has_extra:
            record.setdefault(EXTRA_FIELDS, None)

    def _not_conformed(self, key: str, fitter: Fitter, value: t.Any) -> None:
        self.not_conformed[key] += 1
        if key not in self._warned:
            self._warned.add(key)
            self.logger.warning(
                "%s: `%s` came as %s where the schema declares %s: the column is null and "
                "the value is kept as sent in extra_fields.%s (said once per field and run)",
                self.stream,
                key,
                _a(json_type(value)),
                fitter.declared,
                key,
            )

    def _note_unknown(self, key: str) -> None:
        if key not in self._unknown_seen and self.has_extra:
            self._unknown_seen.add(key)
            self.logger.debug("%s: `%s` has no column: kept in extra_fields", self.stream, key)

    def _drop(self, extra: dict[str, t.Any]) -> None:
        for key in extra:
            if key not in self._unknown_seen:
                self._unknown_seen.add(key)
                self.logger.warning(
                    "%s: `%s` has no column and this schema has no extra_fields: dropped",
                    self.stream,
                    key,
                )

    def flush_metrics(self) -> None:
        """One `values_not_conformed` counter per field met since the last flush."""
        for key, count in sorted(self.not_conformed.items()):
            log_counter("values_not_conformed", count, stream=self.stream, field=key)
        self.not_conformed.clear()


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
