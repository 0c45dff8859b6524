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

The fitting of one value to its schema is fitting.py's; the fields of a record that need
work are fitted by one function compiled from their schemas (fast_checks.py), which does
what the fitters do with the usual cases inlined. When no string needs a U+0000 search, a
record is first handed to one such function of all its keys (`Conformer._keyed`: compiled
once per set of keys); only a record with a value that does not fit goes on to the plans.
There, the per-record cost is one dictionary pass: every field has a precomputed set of
Python types that fit as they are (`Fitter.fast`); only the rest goes through the slow
path.
tests/unit/test_conformance.py proves the guarantee on arbitrary JSON values (Hypothesis).
"""

from __future__ import annotations

import logging
import operator
import typing as t
from collections import Counter
from dataclasses import dataclass, field

from tap_heymarket.fast_checks import compile_fit
from tap_heymarket.fitting import (
    API_EXTRA_FIELDS,
    EXTRA_FIELDS,
    INT64_MAX,
    INT64_MIN,
    NUL,
    ConformanceError,
    Fitter,
    Unfit,
    compile_schema,
    json_type,
    scrub_any,
)
from tap_heymarket.metrics import log_counter

_FitAll = t.Callable[[dict[str, t.Any]], None]
#: `Conformer._keyed` holds at most this many key sets.
_KEYED_MAX = 256
#: After this many records of one key set that did not fit, that set skips `_keyed`.
_KEYED_MISSES = 32
_UNSET: t.Any = object()


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
    #: `fits` compiled into one function (fast_checks.py), when no string needs a NUL search.
    fit_all: _FitAll | None
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
    _fit_alls: dict[tuple[str, ...], _FitAll] = field(init=False, default_factory=dict)
    #: keys -> the function that fits a record of these keys whole (`_keyed_fit`), or None.
    _keyed: dict[tuple[str, ...], _FitAll | None] = field(init=False, default_factory=dict)
    #: keys -> how many of its records that function handed back (`Unfit`).
    _keyed_misses: Counter[tuple[str, ...]] = field(init=False, default_factory=Counter)
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
        types. Without a NUL search, the function compiled for the record's keys
        (`_keyed_fit`) fits it whole, and only a record it hands back (`Unfit`: a value
        for `extra_fields`) goes on. Otherwise what the types call for is decided once per
        (keys, types) and cached (`_Plan`); per record that leaves two C-level passes (a
        range check of the ints, a NUL search of the strings) and the fields that need
        real work.
        """
        scrubbing = self.replace_nul and not clean
        if not scrubbing:
            # First, the one function of the record's keys, which fits every field as its
            # fitter would; a value that does not fit hands the record to the plans below.
            keys = tuple(record)
            fit = self._keyed.get(keys, _UNSET)
            if fit is _UNSET:
                fit = self._keyed_fit(keys)
            if fit is not None:
                try:
                    fit(record)
                    return record
                except Unfit:
                    self._keyed_missed(keys)
        signature = (scrubbing, tuple(record), tuple(map(type, record.values())))
        plan = self._plans.get(signature)
        if plan is None:
            plan = self._plan(signature)
        if plan.ints is not None:
            ints = plan.ints(record)
            if not (min(ints) >= INT64_MIN and max(ints) <= INT64_MAX):
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
        try:
            if plan.fit_all is not None:
                plan.fit_all(record)
            else:
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

    def _keyed_fit(self, keys: tuple[str, ...]) -> _FitAll | None:
        """The function that conforms a record of `keys` whole when every value fits (as it
        is or after a coercion), compiled once per keys; None where a record of them needs
        more than fitting: a field with no column, the API's own `extra_fields`, or one
        already filled."""
        if len(self._keyed) >= _KEYED_MAX:
            return None  # (keys that vary without end: the plans alone)
        fit: _FitAll | None = None
        if (
            self.has_extra
            and EXTRA_FIELDS not in keys
            and API_EXTRA_FIELDS not in keys
            and all(k in self.fitters or k in self.trusted for k in keys)
        ):
            fit = self._compiled([k for k in keys if k in self.fitters], then_null=EXTRA_FIELDS)
        self._keyed[keys] = fit
        return fit

    def _compiled(self, keys: t.Sequence[str], then_null: str | None = None) -> _FitAll:
        """`compile_fit` over the columns `keys` (see fast_checks.py)."""
        props = self.schema.get("properties") or {}
        return compile_fit(
            {k: props[k] for k in keys}, {k: self.fitters[k] for k in keys}, then_null
        )

    def _keyed_missed(self, keys: tuple[str, ...]) -> None:
        """A record of `keys` did not fit: after `_KEYED_MISSES` of them, records of these
        keys go straight to the plans (which would do the work twice otherwise)."""
        self._keyed_misses[keys] += 1
        if self._keyed_misses[keys] >= _KEYED_MISSES:
            self._keyed[keys] = None

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
        fit_all = None
        if fits and not scrubbing:
            # It depends on the fields only: compiled once per set of them.
            wanted = tuple(k for k, _ in fits)
            if wanted not in self._fit_alls:
                self._fit_alls[wanted] = self._compiled(wanted)
            fit_all = self._fit_alls[wanted]
        plan = self._plans[signature] = _Plan(
            ints=_getter(ints),
            strings=_getter(strings),
            work=tuple(work),
            fits=fits,
            fit_all=fit_all,
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
