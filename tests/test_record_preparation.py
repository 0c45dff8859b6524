"""The tap's fast record preparation gives exactly what the SDK's own code gives.

`tap_heymarket/records.py` skips the SDK's per-record selection walk and recursive type
conformance where they provably change nothing (see docs/benchmarks.md), by overriding the
SDK's private `Stream._generate_record_messages` and using private helpers. These tests
fail loudly when an SDK upgrade changes what it relies on:

* the names and signatures of the private functions and the method it overrides;
* what the SDK's `_generate_record_messages` does (the names it uses: a new step there
  would be missing from the fast path);
* the behaviour: the fast path's output against the SDK's `conform_record_data_types` and
  `pop_deselected_record_properties`, and against the SDK's own RECORD messages, on the
  sandbox's records, on random records and on random schemas, selections and levels.
"""

from __future__ import annotations

import copy
import inspect
import logging
import random
import typing as t

import pytest
import requests
from singer_sdk.helpers import _catalog, _typing
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import SelectionMask
from singer_sdk.streams import Stream

from heymarket_sandbox import Sandbox
from tap_heymarket import records
from tap_heymarket.records import FastRecordMessages, RecordPreparation
from tap_heymarket.tap import TapHeymarket
from tests.tap_runner import sandbox_config

LOGGER = logging.getLogger("test-record-preparation")
RECURSIVE = TypeConformanceLevel.RECURSIVE
OFFLINE = "http://127.0.0.1:9"  # building a tap makes no request


def _tap(catalog: dict | None = None) -> TapHeymarket:
    return TapHeymarket(config=sandbox_config(OFFLINE), catalog=catalog, parse_env_config=False)


def _typed(value: t.Any) -> t.Any:
    """`value` with every leaf's type, so that True != 1 and 1.0 != 1 in comparisons."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


# -- the SDK internals the fast path relies on -------------------------------------------

#: Every private SDK name records.py uses, with the signature it was written against.
PINNED_SIGNATURES: dict[str, tuple[t.Callable, str]] = {
    "pop_deselected_record_properties": (
        _catalog.pop_deselected_record_properties,
        "(record: 'dict[str, t.Any]', schema: 'dict', mask: 'SelectionMask', "
        "breadcrumb: 'tuple[str, ...]' = ()) -> 'None'",
    ),
    "conform_record_data_types": (
        _typing.conform_record_data_types,
        "(stream_name: 'str', record: 'dict[str, t.Any]', schema: 'dict', "
        "level: 'conform.TypeConformanceLevel', logger: 'logging.Logger') -> 'dict[str, t.Any]'",
    ),
    "_is_exclusive_boolean_type": (
        _typing._is_exclusive_boolean_type,
        "(property_schema: 'dict') -> 'bool'",
    ),
    "_warn_unmapped_properties": (
        _typing._warn_unmapped_properties,
        "(stream_name: 'str', property_names: 'tuple[str]', logger: 'logging.Logger') -> 'None'",
    ),
    "is_object_type": (_typing.is_object_type, "(property_schema: 'dict') -> 'bool | None'"),
    "is_uniform_list": (_typing.is_uniform_list, "(property_schema: 'dict') -> 'bool | None'"),
    "Stream._generate_record_messages": (
        Stream._generate_record_messages,
        "(self, record: 'types.Record') -> 't.Generator[singer.RecordMessage, None, None]'",
    ),
}

#: The names the SDK's `Stream._generate_record_messages` uses. The fast path reproduces
#: exactly these steps; a new one (say, a datetime fix-up) must be added there too.
SDK_RECORD_STEPS = {
    "effective_schema",
    "pop_deselected_record_properties",
    "schema",
    "mask",
    "conform_record_data_types",
    "name",
    "TYPE_CONFORMANCE_LEVEL",
    "logger",
    "stream_maps",
    "transform",
    "singer",
    "RecordMessage",
    "stream_alias",
    "_stream_version",
    "utc_now",
}


@pytest.mark.parametrize("name", PINNED_SIGNATURES)
def test_private_sdk_signatures_are_unchanged(name: str) -> None:
    function, expected = PINNED_SIGNATURES[name]
    assert str(inspect.signature(function)) == expected, (
        f"singer_sdk changed {name}; review tap_heymarket/records.py against it"
    )


def test_records_module_uses_the_pinned_functions() -> None:
    """records.py calls the very objects pinned above (not copies under other names)."""
    assert records.pop_deselected_record_properties is _catalog.pop_deselected_record_properties
    assert records.conform_record_data_types is _typing.conform_record_data_types
    assert records._is_exclusive_boolean_type is _typing._is_exclusive_boolean_type
    assert records._warn_unmapped_properties is _typing._warn_unmapped_properties
    assert "_generate_record_messages" in FastRecordMessages.__dict__


def test_sdk_record_messages_still_do_what_the_fast_path_reproduces() -> None:
    names = set(Stream._generate_record_messages.__code__.co_names)
    assert names == SDK_RECORD_STEPS, (
        "singer_sdk's Stream._generate_record_messages changed: "
        f"new {sorted(names - SDK_RECORD_STEPS)}, gone {sorted(SDK_RECORD_STEPS - names)}; "
        "review FastRecordMessages._generate_record_messages in tap_heymarket/records.py"
    )


def test_tap_streams_use_the_fast_path() -> None:
    tap = _tap()
    for stream in tap.streams.values():
        assert isinstance(stream, FastRecordMessages)
        stream.selected = True  # contact_status is not selected by default
        plan = stream.record_preparation()
        assert plan.skip_selection and plan.fast_conform, stream.name


# -- behaviour on the sandbox's records ---------------------------------------------------


def _distort(record: dict, rng: random.Random) -> dict:
    record = copy.deepcopy(record)
    if rng.random() < 0.3:
        record["surprise_field"] = {"nested": [1, 2]}
    for key in ("shared", "is_opted_out"):
        if key in record and rng.random() < 0.3:
            record[key] = rng.choice([0, 1, "yes", "", 2.5, None, True])
    return record


@pytest.mark.parametrize("stream_name", ["contacts", "tags", "contact_fields"])
def test_fast_path_equals_sdk_conformance(stream_name: str) -> None:
    rng = random.Random(5)
    with Sandbox(contacts=1500, seed=19) as sb:
        tap = TapHeymarket(config=sandbox_config(sb.url), parse_env_config=False)
        stream = tap.streams[stream_name]
        raw = requests.post(
            sb.url + str(stream.path), json={"limit": 1500}, headers=sb.auth_headers(), timeout=60
        ).json()
    plan = RecordPreparation(stream.schema, stream.mask, RECURSIVE)
    assert plan.skip_selection and plan.fast_conform, "the fast path should apply here"
    assert len(raw) > 10
    for original in raw + [_distort(r, rng) for r in raw]:
        expected = conform_record_data_types(
            stream_name, copy.deepcopy(original), stream.schema, RECURSIVE, LOGGER
        )
        got = plan.conform(stream_name, copy.deepcopy(original), LOGGER)
        assert _typed(got) == _typed(expected)


def test_deselected_property_falls_back_to_the_sdk() -> None:
    stream = _tap().streams["contacts"]
    stream.mask[("properties", "email")] = False
    plan = RecordPreparation(stream.schema, stream.mask, RECURSIVE)
    assert not plan.skip_selection


# -- behaviour on random schemas and records ----------------------------------------------


def _random_value(rng: random.Random, depth: int = 0) -> t.Any:
    kinds = ["str", "int", "float", "bool", "none", "zero", "one"]
    if depth < 3:
        kinds += ["list", "dict"]
    kind = rng.choice(kinds)
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        return {
            rng.choice("abcxyz"): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))
        }
    return {
        "str": rng.choice(["", "x", "true", "0", "2024-05-01T00:00:00Z"]),
        "int": rng.randint(-5, 5),
        "float": rng.choice([0.0, 1.0, 2.5, -1.5]),
        "bool": rng.random() < 0.5,
        "none": None,
        "zero": 0,
        "one": 1,
    }[kind]


def _random_property(rng: random.Random, depth: int = 0) -> dict:
    simple: list[dict] = [
        {"type": "string"},
        {"type": ["string", "null"]},
        {"type": ["integer", "null"]},
        {"type": ["number", "null"]},
        {"type": "boolean"},
        {"type": ["boolean", "null"]},
        {"type": ["null", "boolean"]},
        {"type": ["boolean", "string"]},
        {"type": ["string", "null"], "format": "date-time"},
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
        {},
    ]
    if depth >= 2 or rng.random() < 0.6:
        return copy.deepcopy(rng.choice(simple))
    if rng.random() < 0.5:
        return {"type": ["array", "null"], "items": _random_property(rng, depth + 1)}
    return _random_object(rng, depth + 1)


def _random_object(rng: random.Random, depth: int = 0) -> dict:
    names = rng.sample(["a", "b", "c", "x", "y"], rng.randint(0, 4))
    schema: dict = {
        "type": ["object", "null"] if depth else "object",
        "properties": {name: _random_property(rng, depth) for name in names},
    }
    if rng.random() < 0.5:
        schema["additionalProperties"] = rng.random() < 0.7
    return schema


def _random_record(schema: dict, rng: random.Random) -> dict:
    record = {name: _random_value(rng) for name in schema["properties"] if rng.random() < 0.8}
    if rng.random() < 0.3:
        record[rng.choice(["extra", "z"])] = _random_value(rng)
    return record


def test_fast_path_equals_sdk_conformance_on_random_schemas() -> None:
    rng = random.Random(20240501)
    fast = 0
    for _ in range(400):
        schema = _random_object(rng)
        plan = RecordPreparation(schema, SelectionMask(), RECURSIVE)  # everything selected
        if not plan.fast_conform:
            continue
        fast += 1
        for _ in range(25):
            record = _random_record(schema, rng)
            expected = conform_record_data_types(
                "s", copy.deepcopy(record), schema, RECURSIVE, LOGGER
            )
            got = plan.conform("s", copy.deepcopy(record), LOGGER)
            assert _typed(got) == _typed(expected), (schema, record)
    assert fast > 50, "too few random schemas took the fast path to prove anything"


# -- the whole message, against the SDK's own method ---------------------------------------


def _catalog_with(schema_change: t.Callable[[dict], None], deselect: str | None) -> dict:
    catalog = _tap().catalog_dict
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] != "contacts":
            continue
        schema_change(entry["schema"])
        for item in entry["metadata"]:
            if item["breadcrumb"] == [] or (
                deselect is None or item["breadcrumb"] != ["properties", deselect]
            ):
                item["metadata"]["selected"] = True
            else:
                item["metadata"]["selected"] = False
    return catalog


def _nested_boolean(schema: dict) -> None:
    schema["properties"]["custom"] = {
        "type": ["object", "null"],
        "properties": {"vip": {"type": ["boolean", "null"]}},
    }


def _closed_top_level(schema: dict) -> None:
    schema.pop("additionalProperties", None)


CATALOG_CASES = {
    "as-discovered": (lambda schema: None, None),
    "deselected-email": (lambda schema: None, "email"),
    "nested-boolean-override": (_nested_boolean, None),
    "nested-boolean-and-deselected": (_nested_boolean, "note"),
    "closed-top-level": (_closed_top_level, "tags"),
}


@pytest.mark.parametrize("level", list(TypeConformanceLevel), ids=lambda lv: lv.name)
@pytest.mark.parametrize("case", CATALOG_CASES)
def test_record_messages_equal_the_sdk_s(case: str, level: TypeConformanceLevel) -> None:
    schema_change, deselect = CATALOG_CASES[case]
    stream = _tap(_catalog_with(schema_change, deselect)).streams["contacts"]
    stream.TYPE_CONFORMANCE_LEVEL = level
    rng = random.Random(f"{case}-{level.name}")
    names = list(stream.effective_schema["properties"])
    for _ in range(150):
        record = {name: _random_value(rng) for name in names if rng.random() < 0.7}
        record["id"] = rng.randint(1, 10**6)
        if rng.random() < 0.3:
            record["custom"] = {"vip": rng.choice([0, 1, True, None, "y"]), "other": 1}
        if rng.random() < 0.2:
            record["unexpected"] = _random_value(rng)
        fast = list(stream._generate_record_messages(copy.deepcopy(record)))
        sdk = list(Stream._generate_record_messages(stream, copy.deepcopy(record)))
        assert len(fast) == len(sdk) == 1
        for got, expected in zip(fast, sdk, strict=True):
            assert (got.stream, got.version) == (expected.stream, expected.version)
            assert _typed(got.record) == _typed(expected.record), (case, record)
            assert got.time_extracted is not None and got.time_extracted.tzinfo is not None


def test_selection_walk_matches_the_sdk_when_a_property_is_deselected() -> None:
    stream = _tap(_catalog_with(lambda schema: None, "email")).streams["contacts"]
    record = {"id": 1, "email": "a@b.c", "first": "A"}
    popped = copy.deepcopy(record)
    pop_deselected_record_properties(popped, stream.schema, stream.mask)
    (message,) = stream._generate_record_messages(copy.deepcopy(record))
    assert "email" not in message.record
    assert message.record == popped
