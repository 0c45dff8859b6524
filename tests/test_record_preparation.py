"""The tap's fast record preparation gives exactly what the SDK's conformance gives.

`tap_heymarket/records.py` skips the SDK's per-record selection walk and recursive type
conformance where they provably change nothing (see docs/benchmarks.md). This compares
its output with the SDK's own function, record by record, on the sandbox's contacts, tags
and fields, also after distorting them with unknown fields and non-boolean booleans.
"""

from __future__ import annotations

import copy
import logging
import random

import pytest
import requests
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from heymarket_sandbox import Sandbox
from tap_heymarket.records import RecordPreparation
from tap_heymarket.tap import TapHeymarket
from tests.tap_runner import sandbox_config

LOGGER = logging.getLogger("test-record-preparation")


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
        path = stream.path
        raw = requests.post(
            sb.url + path, json={"limit": 1500}, headers=sb.auth_headers(), timeout=60
        ).json()
    plan = RecordPreparation(stream.schema, stream.mask, TypeConformanceLevel.RECURSIVE)
    assert plan.skip_selection and plan.fast_conform, "the fast path should apply here"
    assert len(raw) > 10
    for original in raw + [_distort(r, rng) for r in raw]:
        expected = conform_record_data_types(
            stream_name,
            copy.deepcopy(original),
            stream.schema,
            TypeConformanceLevel.RECURSIVE,
            LOGGER,
        )
        got = plan.conform(stream_name, copy.deepcopy(original), LOGGER)
        assert got == expected
        assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def test_deselected_property_falls_back_to_the_sdk() -> None:
    with Sandbox(contacts=10) as sb:
        tap = TapHeymarket(config=sandbox_config(sb.url), parse_env_config=False)
    stream = tap.streams["contacts"]
    stream.mask[("properties", "email")] = False
    plan = RecordPreparation(stream.schema, stream.mask, TypeConformanceLevel.RECURSIVE)
    assert not plan.skip_selection
