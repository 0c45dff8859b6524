"""Every private singer-sdk method or attribute the tap relies on still exists as used.

The tap uses the SDK's public API wherever one serves. Where none does, the module says
why next to the use (records.py holds the RECORD path, pinned at the end of this file).
An SDK upgrade that renames or reshapes one of these fails here, by name, instead of
misbehaving quietly in a sync.
"""

from __future__ import annotations

import inspect

import pytest
from singer_sdk import Stream, Tap
from singer_sdk.helpers import _catalog
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator

from tap_heymarket import records
from tap_heymarket.records import ConformedRecordMessages
from tap_heymarket.tap import TapHeymarket
from tests.tap_runner import sandbox_config

#: (owner, name, parameters after `self`) -> where the tap uses it and why.
PRIVATE_METHODS = {
    # streams.py, message_streams.py, contact_feed.py: the walks own the bookmark (the
    # SDK's per-record bookmarking assumes ascending order; these lists are newest first).
    (Stream, "_increment_stream_state"): ["latest_record", "context"],
    # streams.py, message/conversation streams, contact_feed.py, deletes.py: STATE after
    # every page; a Stream has no public method that writes its STATE message.
    (Stream, "_write_state_message"): [],
    # contact_feed.py (one SCHEMA per run for the fed children) and deletes.py (no SCHEMA
    # for delete_sweeps until a sweep completes): the SDK sends it unconditionally.
    (Stream, "_write_schema_message"): [],
    # deletes.py: ACTIVATE_VERSION only after a sweep proved the walk complete; the SDK's
    # public switch sends it at the start of a full-table stream.
    (Stream, "_write_activate_version_message"): ["full_table_version"],
    # records.py: the fast path replaces this method (see its module docstring).
    (Stream, "_generate_record_messages"): ["record"],
    # records.py: the direct RECORD write (no message object) replaces this method.
    (Stream, "_write_record_message"): ["record"],
    # tap.py: the only config-validation hook in 0.54; the tap adds semantic checks.
    (Tap, "_validate_config"): ["raise_errors"],
}


@pytest.mark.parametrize(
    ("owner", "name"),
    list(PRIVATE_METHODS),
    ids=[f"{o.__name__}.{n}" for o, n in PRIVATE_METHODS],
)
def test_private_method_keeps_its_signature(owner: type, name: str) -> None:
    method = getattr(owner, name, None)
    assert callable(method), f"singer-sdk no longer has {owner.__name__}.{name}"
    params = list(inspect.signature(method).parameters)[1:]
    assert params == PRIVATE_METHODS[owner, name], (
        f"{owner.__name__}.{name}{inspect.signature(method)} changed"
    )


def test_private_attributes_still_exist() -> None:
    """`Stream._stream_version` (records.py, deletes.py: the RECORD/ACTIVATE_VERSION table
    version), `Stream._tap` (records.py: the tap's writer) and `BaseAPIPaginator._value`
    (deletes.py: a sweep round restarts its token)."""
    tap = TapHeymarket(config=sandbox_config("http://127.0.0.1:9"), parse_env_config=False)
    stream = tap.streams["contacts"]
    assert hasattr(stream, "_stream_version")
    assert stream._tap is tap
    assert stream._tap.message_writer is tap.message_writer
    paginator: BaseAPIPaginator = SinglePagePaginator()
    assert hasattr(paginator, "_value")
    assert paginator.current_value is paginator._value


#: The names the SDK's `Stream._generate_record_messages` uses. records.py reproduces these
#: steps with its own conformance in place of `conform_record_data_types` (and its logger,
#: level and schema): a new step (say, a datetime fix-up) must be added there too.
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


def test_sdk_record_messages_still_do_what_records_py_replaces() -> None:
    names = set(Stream._generate_record_messages.__code__.co_names)
    assert names == SDK_RECORD_STEPS, (
        "singer_sdk's Stream._generate_record_messages changed: "
        f"new {sorted(names - SDK_RECORD_STEPS)}, gone {sorted(SDK_RECORD_STEPS - names)}; "
        "review ConformedRecordMessages._generate_record_messages in tap_heymarket/records.py"
    )


#: What the SDK's `Stream._write_record_message` does, which records.py's direct write
#: reproduces: each message to the tap's writer, then STATE marked as not flushed.
SDK_WRITE_STEPS = {
    "_generate_record_messages",
    "_tap",
    "write_message",
    "state_manager",
    "is_flushed",
}


def test_sdk_record_write_still_does_what_records_py_replaces() -> None:
    names = set(Stream._write_record_message.__code__.co_names)
    assert names == SDK_WRITE_STEPS, (
        "singer_sdk's Stream._write_record_message changed: "
        f"new {sorted(names - SDK_WRITE_STEPS)}, gone {sorted(SDK_WRITE_STEPS - names)}; "
        "review ConformedRecordMessages._write_record_message in tap_heymarket/records.py"
    )
    assert "_write_record_message" in ConformedRecordMessages.__dict__


def test_selection_walk_keeps_its_signature() -> None:
    """records.py calls the SDK's private selection walk, the very object pinned here."""
    assert records.pop_deselected_record_properties is _catalog.pop_deselected_record_properties
    assert str(inspect.signature(_catalog.pop_deselected_record_properties)) == (
        "(record: 'dict[str, t.Any]', schema: 'dict', mask: 'SelectionMask', "
        "breadcrumb: 'tuple[str, ...]' = ()) -> 'None'"
    )
    assert "_generate_record_messages" in ConformedRecordMessages.__dict__


def test_every_stream_emits_through_the_conformance_path() -> None:
    tap = TapHeymarket(config=sandbox_config("http://127.0.0.1:9"), parse_env_config=False)
    for stream in tap.streams.values():
        assert isinstance(stream, ConformedRecordMessages), stream.name
        assert type(stream)._generate_record_messages is (
            ConformedRecordMessages._generate_record_messages
        ), stream.name
