"""RECORD messages without per-record work that cannot change them.

The SDK prepares every record in `Stream._generate_record_messages`: it walks the record
against the catalog's selection mask (`pop_deselected_record_properties`), then rebuilds it
against the schema (`conform_record_data_types`, RECURSIVE by default). For a record decoded
from JSON both are almost always no-ops, and together they cost more than fetching,
decoding and writing the record (see docs/benchmarks.md).

`RecordPreparation` decides, once per stream and schema, what those two steps can do:

* selection: when every breadcrumb of the mask is selected (the mask resolves a missing
  breadcrumb to its parent, the stream to True), nothing can be popped: skip the walk.
* conformance: for JSON values (str, int, finite float, bool, None, list, dict) RECURSIVE
  conformance changes only (a) properties missing from an object schema without
  `additionalProperties`, which are dropped with a warning, and (b) values of properties
  typed exclusively boolean, which become `value != 0` (floats excepted). (NaN/inf
  cannot come out of the JSON decoder.) When (a) and (b) can only happen at the top
  level, the fast path does exactly those two things there; any other schema (e.g. a
  catalog that overrides it) goes through the SDK's own function, unchanged.

Anything else (another conformance level, a deselected property, stream maps) keeps the
SDK's behaviour: the fast path is taken only where the result is provably the same.

This module is the tap's ONLY use of the SDK's record internals: the private helpers it
imports and `Stream._generate_record_messages`, which `FastRecordMessages` overrides.
tests/test_record_preparation.py pins their names, signatures and behaviour, so an SDK
upgrade that changes them fails there, loudly, instead of changing the records.
"""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime

import singer_sdk.singerlib as singer
from singer_sdk.exceptions import EmptySchemaTypeError

# Private, no public equivalent: the SDK's selection walk, needed when a property is deselected.
from singer_sdk.helpers._catalog import pop_deselected_record_properties

# Private, no public equivalent: the SDK's conformance and the type tests that define it.
from singer_sdk.helpers._typing import (
    _is_exclusive_boolean_type,
    _warn_unmapped_properties,
    conform_record_data_types,
    is_object_type,
    is_uniform_list,
)
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import Stream

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.catalog import SelectionMask


def _exclusive_boolean(schema: dict) -> bool | None:
    """The SDK's "typed exclusively boolean" test; None when it cannot tell (odd `type`)."""
    try:
        return bool(_is_exclusive_boolean_type(schema))
    except TypeError:
        return None


def _nested_is_identity(prop: dict) -> bool:
    """True if RECURSIVE conformance leaves any JSON value of this property as it is."""
    if not isinstance(prop, dict) or _exclusive_boolean(prop) is not False:
        return False
    try:
        if is_uniform_list(prop):
            items = prop["items"]
            if _exclusive_boolean(items) is not False:
                return False
            if is_object_type(items) and not _object_is_identity(items):
                return False
        return not (is_object_type(prop) and "properties" in prop and not _object_is_identity(prop))
    except (EmptySchemaTypeError, TypeError):
        # A schema the SDK's type tests reject (e.g. `{}`, refused for a list value):
        # nothing is provable, so the SDK's own conformance decides.
        return False


def _object_is_identity(schema: dict) -> bool:
    """True if conforming a JSON object to `schema` (recursively) can change nothing."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not schema.get("additionalProperties"):
        return False
    return all(_nested_is_identity(p) for p in properties.values())


class RecordPreparation:
    """The SDK's selection + conformance of one stream's records, minus provable no-ops."""

    def __init__(self, schema: dict, mask: SelectionMask, level: TypeConformanceLevel) -> None:
        self.schema = schema
        self.mask = mask
        self.level = level
        self.skip_selection = all(mask.values())
        self.fast_conform = False
        self.allowed: frozenset[str] | None = None
        self.boolean_keys: tuple[str, ...] = ()
        properties = schema.get("properties")
        if level != TypeConformanceLevel.RECURSIVE or not isinstance(properties, dict):
            return
        booleans = []
        for name, prop in properties.items():
            boolean = _exclusive_boolean(prop) if isinstance(prop, dict) else False
            if boolean:
                booleans.append(name)
            elif boolean is None or not _nested_is_identity(prop):
                return  # nested changes (or errors) are possible: use the SDK's conformance
        self.fast_conform = True
        self.boolean_keys = tuple(booleans)
        self.allowed = None if schema.get("additionalProperties") else frozenset(properties)

    def conform(self, stream_name: str, record: dict[str, t.Any], logger: t.Any) -> dict:
        """What `conform_record_data_types(..., RECURSIVE)` returns for a JSON record.

        Like the SDK, returns a new dict when something changes and leaves the input as
        it is; returns the input itself when nothing changes.
        """
        allowed = self.allowed
        if allowed is not None and not allowed.issuperset(record):
            unmapped = [name for name in record if name not in allowed]
            _warn_unmapped_properties(stream_name, tuple(unmapped), logger)
            record = {k: v for k, v in record.items() if k in allowed}
        copied = False
        for name in self.boolean_keys:
            value = record.get(name)
            # (The SDK returns floats before its boolean rule, so they stay as they are.)
            if (
                value is not None
                and value is not True
                and value is not False
                and (not isinstance(value, float))
            ):
                if not copied:
                    record = dict(record)
                    copied = True
                record[name] = value != 0
        return record


class FastRecordMessages(Stream):
    """Stream mixin: the SDK's RECORD messages, minus per-record work that is a no-op.

    Put it before the SDK's stream class in the bases (`class S(FastRecordMessages,
    RESTStream)`). The plan is rebuilt whenever the schema, the mask or the conformance
    level changes (a catalog is applied after the stream is built).
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._preparation: RecordPreparation | None = None

    def record_preparation(self) -> RecordPreparation:
        """Selection/conformance plan for the current schema and mask (built once)."""
        schema, mask = self.effective_schema, self.mask
        plan = self._preparation
        if (
            plan is None
            or plan.schema is not schema
            or plan.mask is not mask
            or plan.level != self.TYPE_CONFORMANCE_LEVEL
        ):
            plan = self._preparation = RecordPreparation(schema, mask, self.TYPE_CONFORMANCE_LEVEL)
        return plan

    # Private override: the SDK selects and conforms inside it, and no public hook skips that.
    def _generate_record_messages(
        self, record: dict[str, t.Any]
    ) -> t.Generator[singer.RecordMessage, None, None]:
        """`Stream._generate_record_messages`, skipping steps that cannot change `record`."""
        plan = self.record_preparation()
        if not plan.skip_selection:
            pop_deselected_record_properties(record, self.schema, self.mask)
        if plan.fast_conform:
            record = plan.conform(self.name, record, self.logger)
        else:
            record = conform_record_data_types(
                stream_name=self.name,
                record=record,
                schema=self.effective_schema,
                level=self.TYPE_CONFORMANCE_LEVEL,
                logger=self.logger,
            )
        for stream_map in self.stream_maps:
            mapped_record = stream_map.transform(record)
            if mapped_record is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped_record,
                    # Private attribute: the SDK's table version, which has no public accessor.
                    version=self._stream_version,
                    time_extracted=datetime.now(UTC),
                )
