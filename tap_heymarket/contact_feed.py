"""What `contacts` does for the streams built from its records.

`ContactsStream` (contact_streams.py) holds a `ContactFeed`, which adds:

* the custom-field columns (`cf_...`, see field_columns.py): read from
  `POST /v1/contact-fields` when `--discover` runs with credentials, filled from
  `custom` by `post_process`; a column whose field no longer exists stays null;
* the feed of its child streams (`contact_field_values`, `contact_status`, in
  contact_streams.py). They are SDK child streams (`parent_stream_type`), so the SDK
  syncs `contacts` when only a child is selected and finalizes their state, but they
  are not synced once per contact: `generate_child_contexts` yields no context, it
  only notes the contact (id, updated, custom). After each contacts answer, before
  the walk's STATE moves past it (`_checkpoint`), every selected child is synced once
  with that answer's contacts (`ContactChild.feed`). A run killed at any point has
  therefore delivered the children's rows of every contact its last STATE covers.
  With no child selected nothing is noted and nothing is synced;
* which streams a bookmark fed (`selected_at_bookmark` in the contacts state): a run
  in which a stream of the three is selected that was not when the bookmark was set
  reads every contact again, so a newly selected child starts complete. A state
  without the entry (written before it existed) is trusted as it is.
"""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import AbortedSyncFailedException, AbortedSyncPausedException

from tap_heymarket import field_columns
from tap_heymarket.client import HeymarketStream
from tap_heymarket.settings import InvalidConfigError, has_credentials, semantic_config_errors
from tap_heymarket.state_keys import BOOKMARK_KEY, REVS_KEY, SELECTED_KEY, WALK_KEY

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context
    from singer_sdk.pagination import BaseAPIPaginator

#: Reads the team's custom fields (`POST /v1/contact-fields`), through a stream's own
#: request path: paced, retried and checked like every request.
FieldsReader = t.Callable[[], list[dict[str, t.Any]]]


class FedContact(t.NamedTuple):
    """What the child streams need of one contact the run read."""

    id: int
    updated: str
    custom: dict[str, t.Any]


def fields_for_discovery(tap: Tap, read_fields: FieldsReader) -> list[dict[str, t.Any]] | None:
    """The fields that get columns, when this tap is running `--discover`.

    None when it is not, or when no credentials are configured (the checked-in
    catalog, a catalog built offline): then `contacts` has no custom-field columns.
    With credentials, settings that cannot work fail here, as they would in a sync.
    """
    if not getattr(tap, "discovering", False):
        return None
    if not has_credentials(tap.config):
        tap.logger.info(
            "No credentials configured: the catalog has no custom-field columns "
            "(contacts.custom and contact_field_values hold the values)"
        )
        return None
    errors = semantic_config_errors(tap.config)
    if errors:
        raise InvalidConfigError("invalid config: " + "; ".join(errors))
    fields = read_fields()
    tap.logger.info("Custom-field columns: %d fields read from the API", len(fields))
    return fields


class ContactChild(HeymarketStream):
    """A stream built from the contacts the contacts walk reads, fed one answer at a time.

    Incremental in the sense that matters: each run emits rows for the contacts that
    run read, i.e. those updated since the contacts bookmark. The bookmark is the
    contacts walk's, so this stream keeps none of its own.
    """

    is_sorted = False

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        # One state entry for the stream, not one per contacts answer.
        self.state_partitioning_keys = []
        #: The contacts of the answer being delivered (set by `ContactFeed`).
        self.feed: list[FedContact] = []
        self._schema_written = False

    # Private override, no public hook: the SDK writes a SCHEMA message on every
    # `sync()`, and this stream is synced once per contacts answer. Targets such as
    # target-duckdb flush every batch on each SCHEMA message; one per run is enough.
    def _write_schema_message(self) -> None:
        if not self._schema_written:
            super()._write_schema_message()
            self._schema_written = True

    # Private override, as in UpdatedCursorStream: the contacts walk owns the bookmark.
    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        """No bookmark of its own: the contacts walk's bookmark decides what is read."""

    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> t.Iterable[Context | None]:
        """No children: skip the SDK's per-record child-context work."""
        return ()

    def enabled(self) -> bool:
        """Whether the feed may sync this stream when it is selected (a costly stream may
        need a setting too; it says so here when it is selected without one)."""
        return True

    def get_new_paginator(self) -> BaseAPIPaginator:
        """Never used: rows come from the feed (`get_records`)."""
        raise NotImplementedError

    def parse_response(self, response: t.Any) -> t.Iterable[dict]:
        """Never used: rows come from the feed (`get_records`)."""
        raise NotImplementedError


class ContactFeed:
    """Held by `ContactsStream`: the custom-field columns and the feed of its children
    (see the module docstring). The stream calls it at the start of a sync (`start`),
    for every record (`fill_columns`, `note`) and at the end of every answer (`deliver`,
    before the answer's STATE)."""

    def __init__(self, stream: HeymarketStream, read_fields: FieldsReader) -> None:
        self._stream = stream
        self._read_fields = read_fields
        self._with_columns: dict | None = None
        self._feed: list[FedContact] = []
        self._fed: list[ContactChild] = []
        self._answers = 0
        #: (column, field key or None for a field that no longer exists) per column.
        self._columns: list[tuple[str, str | None]] = []

    def schema(self, base: dict[str, t.Any]) -> dict:
        """The contacts schema, plus the custom-field columns when `--discover` runs with
        credentials. Built on first use: `--discover` builds the streams (to check the
        state) before it starts discovering, and first asks for schemas after."""
        if self._with_columns is None:
            fields = fields_for_discovery(self._stream.heymarket_tap, self._read_fields)
            self._with_columns = field_columns.schema_with_columns(base, fields) if fields else base
        return self._with_columns

    # -- the start of a sync ----------------------------------------------------

    def start(self) -> None:
        """Decide what this run feeds and fills (before the walk starts)."""
        stream = self._stream
        self._fed = [
            c
            for c in stream.child_streams
            if isinstance(c, ContactChild)
            and (c.selected or c.has_selected_descendents)
            and c.enabled()
        ]
        self._feed = []
        self._check_selection()
        self._columns = self._plan_columns() if stream.selected else []

    def stop_feeding(self) -> None:
        """Feed no child this run (a delete sweep: the children follow the regular runs)."""
        self._fed = []

    def _check_selection(self) -> None:
        """A stream that the bookmark did not feed makes this run read every contact."""
        stream = self._stream
        state = stream.get_context_state(None)
        selected = sorted(([stream.name] if stream.selected else []) + [c.name for c in self._fed])
        recorded = state.get(SELECTED_KEY)
        started = state.get(BOOKMARK_KEY) or state.get(WALK_KEY)
        if isinstance(recorded, list) and started:
            added = sorted(set(selected) - set(recorded))
            if added:
                stream.logger.info(
                    "%s: %s was not selected when the bookmark was set; reading every "
                    "contact so that it starts complete",
                    stream.name,
                    " and ".join(added),
                )
                for key in (BOOKMARK_KEY, REVS_KEY, WALK_KEY):
                    state.pop(key, None)
        elif recorded is not None and not isinstance(recorded, list):
            stream.logger.warning(
                "%s: ignoring a malformed %s in the state", stream.name, SELECTED_KEY
            )
        state[SELECTED_KEY] = selected

    def _plan_columns(self) -> list[tuple[str, str | None]]:
        """The catalog's custom-field columns, checked against the team's current fields."""
        stream = self._stream
        schema = stream.effective_schema
        columns = field_columns.columns_in(schema)
        if not columns:
            return []
        live = {str(f["id"]): f.get("title") for f in self._read_fields()}
        titles = {name: schema["properties"][name].get("title") for name in columns}
        for name, key in sorted(columns.items()):
            if key not in live:
                stream.logger.info(
                    "%s: column %s: field %s no longer exists; the column stays null",
                    stream.name,
                    name,
                    key,
                )
            elif live[key] != titles[name]:
                stream.logger.info(
                    "%s: column %s: field %s is now titled %r; the column keeps its values "
                    "until the catalog is discovered again (then it is named from the new title)",
                    stream.name,
                    name,
                    key,
                    live[key],
                )
        without = sorted(set(live) - set(columns.values()), key=field_columns.slug)
        if without:
            stream.logger.info(
                "%s: %d custom field(s) have no column in this catalog (%s); their values are "
                "in custom and contact_field_values; discover again to add columns",
                stream.name,
                len(without),
                ", ".join(repr(live[k]) for k in without[:5])
                + (" ..." if len(without) > 5 else ""),
            )
        return [(name, key if key in live else None) for name, key in columns.items()]

    # -- every record ---------------------------------------------------------------

    def fill_columns(self, row: dict) -> dict:
        """Fill the custom-field columns from `custom`."""
        if self._columns:
            custom = row.get("custom")
            if not isinstance(custom, dict):
                custom = {}
            for name, key in self._columns:
                row[name] = None if key is None else field_columns.as_text(custom.get(key))
        return row

    def note(self, record: dict) -> None:
        """Note the contact for the children, fed once per answer."""
        if self._fed and self._stream.stream_maps[0].get_filter_result(record):
            custom = record.get("custom")
            self._feed.append(
                FedContact(
                    record["id"],
                    record["updated"],
                    dict(custom) if isinstance(custom, dict) else {},
                )
            )

    # -- the end of every answer ----------------------------------------------------

    def deliver(self) -> None:
        """Sync every fed child once with the answer's contacts (before its STATE)."""
        if not self._feed:
            return
        batch, self._feed = self._feed, []
        self._answers += 1
        for child in self._fed:
            child.feed = batch
            try:
                child.sync(context={"contacts_answer": self._answers})
            except (AbortedSyncFailedException, AbortedSyncPausedException):
                continue  # a record limit (dry runs), as the SDK's own child syncs
            finally:
                child.feed = []
