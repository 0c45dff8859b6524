"""Every private singer-sdk method or attribute the tap relies on still exists as used.

The tap uses the SDK's public API wherever one serves. Where none does, the module says
why next to the use (records.py holds the RECORD path, pinned at the end of this file).
An SDK upgrade that renames or reshapes one of these fails here, by name, instead of
misbehaving quietly in a sync.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
import singer_sdk
from singer_sdk import Stream, Tap
from singer_sdk.helpers import _catalog
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator

from tap_heymarket import records
from tap_heymarket.records import ConformedRecordMessages
from tap_heymarket.tap import TapHeymarket
from tests.support.tap_runner import REPO_ROOT, sandbox_config

#: (owner, name, parameters after `self`) -> where the tap uses it and why.
PRIVATE_METHODS = {
    # cursor_stream.py, message_streams.py, contact_feed.py: the walks own the bookmark
    # (the SDK's per-record bookmarking assumes ascending order; these are newest first).
    (Stream, "_increment_stream_state"): ["latest_record", "context"],
    # client.py (HeymarketStream.write_state_now, used by every walk): STATE after every
    # page; a Stream has no public method that writes its STATE message.
    (Stream, "_write_state_message"): [],
    # contact_feed.py (one SCHEMA per run for the fed children) and swept_stream.py (no
    # SCHEMA for delete_sweeps until a sweep completes): the SDK sends it unconditionally.
    (Stream, "_write_schema_message"): [],
    # swept_stream.py: ACTIVATE_VERSION only after a sweep proved the walk complete; the
    # SDK's public switch sends it at the start of a full-table stream.
    (Stream, "_write_activate_version_message"): ["full_table_version"],
    # records.py: the fast path replaces this method (see its module docstring).
    (Stream, "_generate_record_messages"): ["record"],
    # records.py: the direct RECORD write (no message object) replaces this method.
    (Stream, "_write_record_message"): ["record"],
    # tap.py: the only config-validation hook in 0.54; the tap adds semantic checks.
    (Tap, "_validate_config"): ["raise_errors"],
}

#: Private SDK attributes the tap reads or writes -> where and why.
PRIVATE_ATTRIBUTES = {
    # records.py, swept_stream.py: the table version RECORD and ACTIVATE_VERSION carry (the
    # SDK has no public setter; a sweep sets its own version).
    "_stream_version": Stream,
    # records.py: the tap's message writer, written to directly by the RECORD fast path.
    "_tap": Stream,
    # swept_stream.py (SweepPages.advance, a whole sweep as one SDK paginator): the token,
    # the page count and the end flag that the SDK's own `advance` keeps.
    "_value": BaseAPIPaginator,
    "_page_count": BaseAPIPaginator,
    "_finished": BaseAPIPaginator,
}

#: Private SDK modules the tap imports from -> the names (records.py: the selection walk).
PRIVATE_IMPORTS = {"singer_sdk.helpers._catalog": {"pop_deselected_record_properties"}}

PACKAGE = REPO_ROOT / "tap_heymarket"
SDK = Path(singer_sdk.__file__).parent


def _sdk_private_names() -> set[str]:
    """Every private name the SDK's stream, tap and paginator classes define or set."""
    names: set[str] = set()
    for cls in (Stream, Tap, BaseAPIPaginator):
        for base in cls.__mro__:
            if base.__module__.startswith("singer_sdk"):
                names |= {n for n in vars(base) if n.startswith("_") and not n.startswith("__")}
                source = ast.parse(inspect.getsource(base))
                for node in ast.walk(source):
                    if (
                        isinstance(node, ast.Attribute)
                        and isinstance(node.ctx, ast.Store)
                        and isinstance(node.value, ast.Name)
                        and node.value.id == "self"
                        and node.attr.startswith("_")
                        and not node.attr.startswith("__")
                    ):
                        names.add(node.attr)
    return names


def _tap_uses() -> tuple[set[str], dict[str, set[str]]]:
    """(private names the tap reads, writes or overrides; private SDK modules it imports
    from, with the names)."""
    used: set[str] = set()
    imports: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                used.add(node.attr)
            elif isinstance(node, ast.FunctionDef) and node.name.startswith("_"):
                used.add(node.name)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
                module = str(node.module)
                if any(part.startswith("_") for part in module.split(".")):
                    imports.setdefault(module, set()).update(a.name for a in node.names)
    return used, imports


def test_every_private_sdk_name_the_tap_uses_is_pinned() -> None:
    """The tables above list exactly the SDK's private names the tap touches: a new use
    fails here until it is pinned with its reason, and a pin no longer used goes."""
    used, imports = _tap_uses()
    touched = used & _sdk_private_names()
    pinned = {name for _, name in PRIVATE_METHODS} | set(PRIVATE_ATTRIBUTES)
    # The tap's own private names that happen to be the SDK's too would show up here: the
    # tap names its own things otherwise, so none is expected.
    assert touched == pinned, (
        f"unpinned: {sorted(touched - pinned)}; pinned but unused: {sorted(pinned - touched)}"
    )
    assert imports == PRIVATE_IMPORTS


def test_the_discovery_sees_a_new_private_use() -> None:
    """The names found are the SDK's: a private name it sets in `__init__` is among them."""
    sdk = _sdk_private_names()
    assert {"_page_count", "_finished", "_value", "_stream_version", "_tap"} <= sdk
    assert "_write_record_message" in sdk
    assert "_no_such_name" not in sdk


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
    """Each attribute of PRIVATE_ATTRIBUTES, on the objects the tap uses it on, with the
    meaning it relies on."""
    tap = TapHeymarket(config=sandbox_config("http://127.0.0.1:9"), parse_env_config=False)
    stream = tap.streams["contacts"]
    assert hasattr(stream, "_stream_version")
    assert stream._tap is tap
    assert stream._tap.message_writer is tap.message_writer
    paginator: BaseAPIPaginator = SinglePagePaginator()
    assert paginator.current_value is paginator._value
    assert (paginator._page_count, paginator._finished) == (0, False)
    assert paginator.count == paginator._page_count
    paginator.advance(None)  # type: ignore[arg-type]  # a single page: its answer ends it
    assert (paginator._page_count, paginator._finished) == (1, True)
    assert paginator.finished is paginator._finished


#: What the SDK's `BaseAPIPaginator.advance` does, which swept_stream.SweepPages.advance
#: reproduces for a sweep's rounds: count the page, end, or move the token on.
SDK_ADVANCE_STEPS = {"_page_count", "has_more", "_finished", "get_next", "_value", "RuntimeError"}


def test_sdk_paginator_advance_still_does_what_the_sweep_reproduces() -> None:
    names = set(BaseAPIPaginator.advance.__code__.co_names)
    assert names == SDK_ADVANCE_STEPS, (
        "singer_sdk's BaseAPIPaginator.advance changed: "
        f"new {sorted(names - SDK_ADVANCE_STEPS)}, gone {sorted(SDK_ADVANCE_STEPS - names)}; "
        "review SweepPages.advance in tap_heymarket/swept_stream.py"
    )


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
