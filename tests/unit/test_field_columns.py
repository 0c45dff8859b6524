"""The naming rule of the custom-field columns (tap_heymarket/field_columns.py), in process.

Property-based: whatever titles a team gives its fields, the names are unique, lowercase,
safe identifiers of at most 63 characters, never a built-in column, and the same for the
same fields in any order; adding a field never renames another.
"""

from __future__ import annotations

import inspect
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.streams import Stream

from tap_heymarket.contact_feed import ContactChild, ContactFeed
from tap_heymarket.contact_streams import (
    ContactFieldValuesStream,
    ContactsStream,
    ContactStatusStream,
)
from tap_heymarket.cursor_stream import UpdatedCursorStream
from tap_heymarket.field_columns import (
    MAX_NAME_LENGTH,
    as_text,
    column_names,
    columns_in,
    field_key,
    schema_with_columns,
    slug,
)
from tap_heymarket.swept_stream import SweptStream
from tests.support.tap_runner import REPO_ROOT

SAFE = re.compile(r"^[a-z][a-z0-9_]*$")
FULL_WIDTH_ID = "\uff29\uff24"  # "ID" in full-width letters
CONTACTS_SCHEMA = json.loads((REPO_ROOT / "tap_heymarket/schemas/contacts.json").read_text())
BUILT_IN = frozenset(CONTACTS_SCHEMA["properties"])

#: Titles as teams write them: any text, plus the awkward cases on purpose.
titles = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ["", " ", "Birthday", "birthday ", "BIRTHDAY", "email", "Email", "id", "Región", "顧客ID"]
    ),
    st.sampled_from(["🎂", "cf_email", "3012", "Loyalty tier", "a" * 200, "Straße", FULL_WIDTH_ID]),
    st.none(),
)
ids = st.one_of(st.integers(min_value=1, max_value=10**12).map(str), st.text(max_size=30))
fields = st.lists(st.tuples(ids, titles), max_size=40, unique_by=lambda f: f[0])


def test_the_sandbox_titles() -> None:
    names = column_names(
        [
            ("3012", "Loyalty tier"),
            ("3004", "Birthday"),
            ("3017", "birthday "),
            ("3020", ""),
            ("3021", "🎂"),
            ("3022", "Email"),
            ("3023", "Región"),
            ("3024", "顧客ID"),
            ("3025", "Notes 📝"),
            ("3026", "Lifetime value ($)"),
        ],
        reserved=BUILT_IN,
    )
    assert names == {
        "3004": "cf_birthday",  # the older field keeps the plain name
        "3012": "cf_loyalty_tier",
        "3017": "cf_birthday_3017",
        "3020": "cf_3020",
        "3021": "cf_3021",
        "3022": "cf_email",
        "3023": "cf_region",
        "3024": "cf_id",
        "3025": "cf_notes",
        "3026": "cf_lifetime_value",
    }


def test_slug_folds_to_ascii() -> None:
    assert slug("  Región de Ventas!! ") == "region_de_ventas"
    assert slug("Straße") == "strasse"
    assert slug(FULL_WIDTH_ID) == "id"
    assert slug("顧客") == ""
    assert slug(None) == ""


def test_long_titles_fit_postgres() -> None:
    long = "x" * 300
    names = column_names([("1", long), ("2", long), ("3", long)])
    assert all(len(n) <= MAX_NAME_LENGTH for n in names.values())
    assert len(set(names.values())) == 3
    assert names["2"].endswith("_2") and names["3"].endswith("_3")


def test_a_title_equal_to_a_taken_name_gets_the_id() -> None:
    # A title that slugs to another field's suffixed name, and one equal to an id.
    names = column_names([("1", "a"), ("2", "A"), ("3", "a 2"), ("4", ""), ("5", "4")])
    assert names == {"1": "cf_a", "2": "cf_a_2", "3": "cf_a_2_3", "4": "cf_4", "5": "cf_4_5"}
    # A built-in column is never given, even to a title that equals it with the prefix.
    assert column_names([("7", "x")], reserved={"cf_x"}) == {"7": "cf_x_7"}


@settings(max_examples=300, deadline=None)
@given(fields)
def test_names_are_unique_safe_and_never_built_in(pairs: list[tuple[str, str | None]]) -> None:
    names = column_names(pairs, reserved=BUILT_IN)
    assert set(names) == {k for k, _ in pairs}
    values = list(names.values())
    assert len(set(values)) == len(values), "unique"
    for name in values:
        assert SAFE.match(name), name
        assert name == name.lower()
        assert name.startswith("cf_")
        assert len(name) <= MAX_NAME_LENGTH
        assert name not in BUILT_IN


@settings(max_examples=200, deadline=None)
@given(fields, st.randoms(use_true_random=False))
def test_names_are_stable_for_the_same_fields(pairs: list, random) -> None:
    shuffled = list(pairs)
    random.shuffle(shuffled)
    assert column_names(shuffled) == column_names(pairs) == column_names(pairs)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 10**6), titles), max_size=25, unique_by=lambda f: f[0]),
    titles,
)
def test_a_new_field_renames_no_existing_column(existing: list, title: str | None) -> None:
    """Heymarket gives new fields higher ids: adding one changes no other name."""
    pairs = [(str(i), t) for i, t in existing]
    newest = str(max((i for i, _ in existing), default=0) + 1)
    before = column_names(pairs)
    after = column_names([*pairs, (newest, title)])
    assert {k: after[k] for k in before} == before


def test_schema_columns_round_trip() -> None:
    api = [{"id": 3012, "title": "Loyalty tier"}, {"id": 7, "title": 'Say "hi" \\ ü'}]
    schema = schema_with_columns(CONTACTS_SCHEMA, api)
    assert set(schema["properties"]) - BUILT_IN == {"cf_loyalty_tier", "cf_say_hi_u"}
    column = schema["properties"]["cf_loyalty_tier"]
    assert column["type"] == ["string", "null"]
    assert column["title"] == "Loyalty tier"
    assert columns_in(schema) == {"cf_loyalty_tier": "3012", "cf_say_hi_u": "7"}
    # Built-in properties are never taken for columns, whatever their description says.
    assert field_key(CONTACTS_SCHEMA["properties"]["custom"]) is None
    assert columns_in(CONTACTS_SCHEMA) == {}
    # The catalog keeps `title` and `description` (the SDK drops other keywords).
    from singer_sdk.singerlib import Schema

    assert Schema.from_dict(column).to_dict() == column


def test_values_become_text() -> None:
    assert as_text("Gold") == "Gold"
    assert as_text(None) is None
    assert as_text(42) == "42"
    assert as_text(True) == "true"
    assert as_text({"a": [1, "é"]}) == '{"a":[1,"é"]}'


def test_the_sdk_internals_the_contact_streams_rely_on() -> None:
    """Private SDK methods the child streams override, and the tap's own hook that feeds
    them: an upgrade that renames one fails here instead of changing the output."""
    for name in ("_write_schema_message", "_increment_stream_state", "_write_state_message"):
        assert callable(getattr(Stream, name)), name
    assert list(inspect.signature(Stream._increment_stream_state).parameters) == [
        "self",
        "latest_record",
        "context",
    ]
    assert list(inspect.signature(UpdatedCursorStream._checkpoint).parameters) == [
        "self",
        "walker",
    ]
    # One line of descent; the feed is a collaborator the stream holds, not a base.
    assert ContactsStream.__bases__ == (SweptStream,)
    assert SweptStream.__bases__ == (UpdatedCursorStream,)
    assert ContactFeed not in ContactsStream.__mro__
    for child in (ContactFieldValuesStream, ContactStatusStream):
        assert issubclass(child, ContactChild) and child.parent_stream_type is ContactsStream
    assert ContactStatusStream.selected_by_default is False
    assert ContactFieldValuesStream.selected_by_default is True
