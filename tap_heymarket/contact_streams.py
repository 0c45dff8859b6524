"""`contacts`, and the streams built from the contacts its walk reads (contact_feed.py).

* `contacts`: `POST /v1/contacts`, newest first by `updated`, incremental, swept for
  deletes (swept_stream.py); its `ContactFeed` adds the custom-field columns and feeds
  the two streams below once per answer.

* `contact_field_values`: one row per contact and `custom` key, from the contact records
  themselves (no request). A cleared value reaches an upserting warehouse as a row with
  a null value: for each contact it emits, the stream also emits a null row for every
  key it has emitted a value for in an earlier run (kept in STATE as `field_keys`, the
  keys of the team's fields, deleted ones included: tens, not one per contact) that the
  contact no longer holds. So a key the warehouse may hold a value for is always
  overwritten when the contact comes again.
* `contact_status`: `POST /v1/contact/status` `{id}` for each contact the run reads,
  one request per contact; not selected by default.
"""

from __future__ import annotations

import typing as t

from singer_sdk import StreamSchema

from tap_heymarket.account_streams import ContactFieldsStream
from tap_heymarket.client import SCHEMAS
from tap_heymarket.contact_feed import ContactChild, ContactFeed, FedContact
from tap_heymarket.errors import HeymarketFatalError, describe_request, request_id
from tap_heymarket.field_columns import as_text, id_order
from tap_heymarket.progress import RequestProgress
from tap_heymarket.state_keys import FIELD_KEYS_KEY as KEYS_KEY
from tap_heymarket.swept_stream import SweptStream

if t.TYPE_CHECKING:
    import requests
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context
    from singer_sdk.pagination import BaseAPIPaginator

    from tap_heymarket.pagination import UpdatedCursorPaginator
    from tap_heymarket.walk_state import PageRequest


class ContactsStream(SweptStream):
    """Contacts, from `POST /v1/contacts`, incremental on `updated`.

    Its `feed` (contact_feed.py) adds the custom-field columns and feeds the child
    streams (contact_field_values, contact_status) once per answer, in `_checkpoint`:
    after each answer's records and before its STATE.
    """

    name = "contacts"
    path = "/v1/contacts"
    count_path = "/v1/contacts/count"
    primary_keys = ("id",)
    #: Without custom-field columns; `ContactFeed.schema` adds them.
    base_schema = StreamSchema(SCHEMAS, key="contacts")

    def __init__(self, tap: Tap, *args: t.Any, **kwargs: t.Any) -> None:
        # Built first: the SDK reads the schema while it builds the stream.
        self.feed = ContactFeed(self, self._read_contact_fields)
        super().__init__(tap, *args, **kwargs)

    def _read_contact_fields(self) -> list[dict[str, t.Any]]:
        """`POST /v1/contact-fields`, through the contact_fields stream's request path."""
        return list(ContactFieldsStream(self.heymarket_tap).request_records(None))

    @property
    def schema(self) -> dict:
        """The contacts schema, with a column per custom field once discovered."""
        return self.feed.schema(self.base_schema)

    def get_new_paginator(self) -> BaseAPIPaginator[PageRequest]:
        """Plan the feed and the columns, then start the walk (or the sweep)."""
        self.feed.start()
        if self.sweeping:
            # The streams fed from contacts follow the regular runs, not a sweep.
            self.feed.stop_feeding()
        return super().get_new_paginator()

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Fill the custom-field columns from `custom`."""
        return self.feed.fill_columns(row)

    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> t.Iterable[Context | None]:
        """No child sync per contact: the contact is noted for the children, fed per answer."""
        self.feed.note(record)
        return ()

    def _checkpoint(self, walker: UpdatedCursorPaginator) -> None:
        """Deliver the answer's contacts to the children, then write the walk's STATE."""
        self.feed.deliver()
        super()._checkpoint(walker)


class ContactFieldValuesStream(ContactChild):
    """`(contact_id, field_id) -> value`, from each contact's `custom` (no request)."""

    name = "contact_field_values"
    parent_stream_type = ContactsStream
    primary_keys = ("contact_id", "field_id")
    replication_key = "updated"
    schema = StreamSchema(SCHEMAS)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: Keys emitted with a value, this run or before (saved in STATE).
        self._known: set[str] | None = None
        #: Keys emitted with a value before this run: the ones a contact may need a null
        #: row for. (A key first seen in this run cannot have a value in the warehouse
        #: for another contact of this run: each contact comes once per run.)
        self._nullable: frozenset[str] = frozenset()

    def _known_keys(self) -> set[str]:
        if self._known is None:
            recorded = self.stream_state.get(KEYS_KEY)
            if isinstance(recorded, list) and all(isinstance(k, str) for k in recorded):
                self._known = set(recorded)
            else:
                if recorded is not None:
                    self.logger.warning(
                        "%s: ignoring a malformed %s in the state (no null rows this run)",
                        self.name,
                        KEYS_KEY,
                    )
                self._known = set()
            self._nullable = frozenset(self._known)
        return self._known

    def rows(self, contact: FedContact) -> list[dict[str, t.Any]]:
        """The contact's rows: each key it holds, and a null row for each key it lacks
        that an earlier run emitted a value for."""
        custom = contact.custom
        keys = sorted(set(custom) | self._nullable, key=id_order)
        return [
            {
                "contact_id": contact.id,
                "field_id": key,
                "value": as_text(custom.get(key)),
                "updated": contact.updated,
            }
            for key in keys
        ]

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Rows of the contacts of one contacts answer."""
        known = self._known_keys()
        rows = [row for contact in self.feed for row in self.rows(contact)]
        new = {r["field_id"] for r in rows if r["value"] is not None} - known
        if new:
            # Recorded in STATE before the rows: a resumed run must know these keys to
            # null them on a contact that has lost one meanwhile.
            known |= new
            self.stream_state[KEYS_KEY] = sorted(known, key=id_order)
            self.write_state_now()
        yield from rows


#: This many 404s in a row with no status read at all: the endpoint, not the contacts.
MISSING_ENDPOINT_AFTER = 10


class ContactStatusStream(ContactChild):
    """Messaging status of each contact the run read: `POST /v1/contact/status` `{id}`.

    One request per contact (no bulk read exists), paced, retried and reported like every
    request. A 404 means the contact was deleted after the list answer: it is skipped and
    counted (log line and `contacts_not_found` metric), not a failure.
    """

    name = "contact_status"
    path = "/v1/contact/status"
    parent_stream_type = ContactsStream
    primary_keys = ("id",)
    replication_key = "contact_updated"
    schema = StreamSchema(SCHEMAS)
    #: One request per contact: 10,000 contacts take about 21 minutes at 480/minute. Read
    #: only with the `read_contact_status` setting as well (`enabled`).
    selected_by_default = False
    #: The team's contacts: the most status requests a run can make (progress.py).
    count_path = ContactsStream.count_path

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.found = 0
        self.not_found = 0
        self.progress: RequestProgress | None = None

    def enabled(self) -> bool:
        """Only with `read_contact_status`: a selection alone (Meltano's `*.*`) must never
        start one request per contact."""
        if self.settings.read_contact_status:
            return True
        self.logger.warning(
            "%s is selected but read_contact_status is off: no contact status is read (it "
            "takes one request per contact; set read_contact_status to true to read them)",
            self.name,
        )
        return False

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The status of each contact of one contacts answer."""
        if self.progress is None:
            self.progress = RequestProgress(
                self.logger,
                self.name,
                total=self.count({}),
                per_minute=self.settings.max_requests_per_minute,
            )
            self.progress.start("contact the run reads")
        skipped = 0
        for contact in self.feed:
            answer = self.read_status(contact.id)
            self.progress.advance()
            if answer is None:
                skipped += 1
                continue
            yield self.status_row(contact, answer)
        if skipped:
            self.logger.info(
                "%s: %d contact(s) answered 404 (deleted after they were listed): skipped",
                self.name,
                skipped,
            )
            self.metric("contacts_not_found", skipped)

    def read_status(self, contact_id: int) -> dict[str, t.Any] | None:
        """One contact's status, or None if the API no longer knows the contact (404)."""
        return self.call(self.path, {"id": contact_id}, self._read_status)

    def _read_status(self, response: requests.Response) -> dict[str, t.Any] | None:
        """One status answer; for this stream only, 404 is an answer, not an error.

        Other statuses go through `check_status` (429/5xx retried, other 4xx fatal), and
        a body that is not a JSON object is retried like a 5xx.
        """
        if response.status_code == 404:
            self.not_found += 1
            if self.found == 0 and self.not_found >= MISSING_ENDPOINT_AFTER:
                msg = (
                    f"{describe_request(response.request)} answered 404 for the first "
                    f"{self.not_found} contacts (X-Request-Id: {request_id(response)}): the "
                    "endpoint is missing for these credentials or this api_url; deselect "
                    "contact_status or check api_url"
                )
                raise HeymarketFatalError(msg)
            return None
        self.check_status(response)
        answer = self.decode_json(response, expect=dict)
        self.found += 1
        return answer

    def status_row(self, contact: FedContact, answer: dict[str, t.Any]) -> dict[str, t.Any]:
        """`id` is the contact asked about (an answer naming another id keeps it in
        `extra_fields.id`); conformance.py fits the flags and keeps unknown fields."""
        row = dict(answer)
        answered_id = row.pop("id", contact.id)
        row["id"] = contact.id
        row["contact_updated"] = contact.updated
        if str(answered_id) != str(contact.id):
            row["extra_fields"] = {"id": answered_id}
        for key in self.schema["properties"]:
            row.setdefault(key, None)  # every flag in every row, answered or not
        return row
