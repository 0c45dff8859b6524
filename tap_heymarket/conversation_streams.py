"""The `conversations` stream: `POST /v1/conversations`, every inbox, open and closed.

The endpoint (docs/api.md, "Conversations") answers newest first by
`updated`, with `date` = "updated before", like contacts, but its body REQUIRES `id`, the
user id of a member of the inbox (the answer is scoped to that user: `read` and `unread`
are theirs), and `filters.inboxes`. What it does without `filters.closed` is not
documented (closing "archives" a conversation), nor whether `id: 0` lifts the
membership check. So the stream assumes neither:

* **Inboxes and users.** Each run first reads `GET /v1/inboxes` (their `members`) and
  `GET /v1/team`, through the inboxes and team_members streams' own request path (paced,
  retried, checked), whether or not those streams are selected.
* **Two walks per inbox**, `filters: {inboxes: [id], closed: false}` then `closed: true`,
  each the tie-safe walker of `pagination.py` (`<` or `<=`, clamped `limit`, `page`
  inside tie groups, all learned from the answers), with the body extended by
  `prepare_request_payload`. The unknown default of `closed` never matters.
* **The user id of an inbox** (inbox_access.py): its members in the order listed (members
  still in the team first), then `0`. A 403 moves on to the next, also mid-walk (the walk
  continues where it stood); once `0` has been refused it is not tried again in the run.
  An inbox that no user id can read is named in a WARNING and counted in the
  `inboxes_unreadable` METRIC: it is never skipped in silence. Each record says whom it
  was read as (`read_as_user_id`), since `read` is relative to that user.
* **One type per column.** `inbox`, `assigned` and `creator` come as ids or objects:
  `<field>_id` always, plus `<field>_name` (and `assigned_email`) from objects. `read`
  comes as a boolean or an integer: a boolean column (0/1 -> false/true). A value that
  does not fit its column is kept in `extra_fields` under its own name (the column is
  null), with one WARNING per field and run; fields the schema does not list go to
  `extra_fields` too.

STATE (`bookmarks.conversations`) holds one entry per walk under `walks`, keyed
`"<inbox id>/open"` or `"<inbox id>/closed"`:
`{"replication_key_value", "revs_at_bookmark", "walk"}`, each exactly what the contacts
stream keeps for its one walk (docs/paging-and-state.md, "Incremental state"): the
bookmark moves when that walk completes, to the newest `updated` it read; `walk` is the
unfinished walk, written after every page, from which a killed run resumes. An inbox seen
for the first time has no entry: its walks start from `start_date` (or the top). state.py's
`conversation_state_errors` checks every entry as it checks a stream's, before any request.

**Moving conversations.** Closing, reopening or new activity gives a conversation a new
`updated`, so it moves to the top of its (possibly other) list, above where that walk
began or its bookmark: the walk that has not yet passed it reads it in this run, or the
next run does. Within a run, the stream emits each conversation once per version (`id`,
`updated`, `status`): an API that ignores `filters.closed` answers both walks with the
same conversations, and the second copy is skipped; a conversation that moved while the
run was under way is emitted again at its newer `updated`, after the older one, so an
upserting target keeps the newer.
"""

from __future__ import annotations

import typing as t

from singer_sdk import StreamSchema

from tap_heymarket.account_streams import InboxesStream, TeamMembersStream
from tap_heymarket.bookmark import record_page, resume_walker, walk_floor
from tap_heymarket.client import SCHEMAS
from tap_heymarket.cursor_stream import UpdatedCursorStream
from tap_heymarket.errors import HeymarketFatalError, status_message
from tap_heymarket.inbox_access import InboxAccess, MemberRejected, Walk, as_int
from tap_heymarket.loss_report import report_incomplete_groups
from tap_heymarket.pagination import UpdatedCursorPaginator
from tap_heymarket.state_keys import WALKS_KEY

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.pagination import BaseAPIPaginator

    from tap_heymarket.walk_state import PageRequest

#: Fields sent as an id or as an object -> the columns of the object's keys.
REFERENCES: dict[str, dict[str, str]] = {
    "inbox": {"id": "inbox_id", "name": "inbox_name"},
    "assigned": {"id": "assigned_id", "name": "assigned_name", "email": "assigned_email"},
    "creator": {"id": "creator_id", "name": "creator_name"},
}


class ConversationsStream(UpdatedCursorStream):
    """Conversations of every inbox, open and closed, incremental on `updated`.

    See the module docstring for the walks, the user ids, the STATE and the columns.
    """

    name = "conversations"
    path = "/v1/conversations"
    count_path = "/v1/conversations/count"
    primary_keys = ("id",)
    schema = StreamSchema(SCHEMAS)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._walk: Walk | None = None
        self._walker_key: str | None = None
        self._member = 0
        #: Whether the API accepts `id: 0` (None: not asked yet this run).
        self._id0: bool | None = None
        #: id -> (updated, status) of every conversation emitted in this run.
        self._emitted: dict[int, tuple[t.Any, t.Any]] = {}
        self._repeats = 0
        self._closed_filter_noted = False
        self._type_warnings: set[tuple[str, str]] = set()
        self._groups_incomplete = 0
        self._missed: int | None = 0

    # -- the run: inboxes, user ids, two walks each ------------------------------------

    def request_records(self, context: Context | None) -> t.Iterable[dict]:
        """Every inbox's open walk, then its closed walk; then the run's report."""
        self._emitted = {}
        self._repeats = 0
        self._groups_incomplete, self._missed = 0, 0
        inboxes, team = self._read_account()
        self.logger.info(
            "%s: %d inboxes to read, open and closed conversations of each",
            self.name,
            len(inboxes),
        )
        unreadable: list[tuple[InboxAccess, bool]] = []
        for inbox in inboxes:
            access = InboxAccess.build(inbox, team)
            for closed in (False, True):
                read = yield from self._run_walk(Walk(access.inbox_id, closed), access, context)
                if not read:
                    unreadable.append((access, closed))
                    break
        self._report_run(unreadable)

    def _read_account(self) -> tuple[list[dict[str, t.Any]], list[int]]:
        """`GET /v1/inboxes` and `GET /v1/team`, whether or not their streams are selected."""
        tap = self.heymarket_tap
        inboxes = list(InboxesStream(tap).request_records(None))
        try:
            team = [m["id"] for m in TeamMembersStream(tap).request_records(None)]
        except HeymarketFatalError as exc:
            # The team only orders the user ids to try: read on without it.
            self.logger.warning(
                "%s: could not read the team (%s); each inbox's members are tried in the "
                "order it lists them",
                self.name,
                exc,
            )
            team = []
        return inboxes, team

    def _run_walk(
        self, walk: Walk, access: InboxAccess, context: Context | None
    ) -> t.Generator[dict, None, bool]:
        """One walk, asking as the inbox's user ids in turn; False if none may read it."""
        self._walk = walk
        while True:
            member = access.current(skip_zero=self._id0 is False)
            if member is None:
                return False
            self._member = member
            try:
                yield from super().request_records(context)
            except MemberRejected as exc:
                access.reject(member)
                if member == 0:
                    self._id0 = False
                self.logger.info(
                    "%s: the API refused user id %d for %s: %s",
                    walk.label,
                    member,
                    access.describe(),
                    exc,
                )
                continue
            if member == 0 and self._id0 is None:
                self._id0 = True
                self.logger.info(
                    "%s: the API accepts id 0 for %s, which no listed member could read",
                    walk.label,
                    access.describe(),
                )
            return True

    def _report_run(self, unreadable: list[tuple[InboxAccess, bool]]) -> None:
        for access, closed in unreadable:
            zero = "id 0" if 0 in access.rejected else "id 0 (refused earlier in this run)"
            if access.members:
                refused = ", ".join(str(m) for m in access.rejected if m != 0)
                why = f"the API refused (HTTP 403) every member it lists ({refused}) and {zero}"
            else:
                why = f"it lists no members, and the API refused (HTTP 403) {zero}"
            self.logger.warning(
                "%s: %s cannot be read: %s; its %s are not extracted. Add a member to the "
                "inbox in Heymarket.",
                self.name,
                access.describe(),
                why,
                "closed conversations" if closed else "conversations",
            )
        if unreadable:
            self.metric("inboxes_unreadable", len(unreadable))
        if self._groups_incomplete:
            self.metric("tie_groups_incomplete", self._groups_incomplete)
            if self._missed:
                self.metric("records_missed", self._missed)
        self.logger.info(
            "%s: %d conversations emitted; %d repeated at the same version (an API that "
            "ignores filters.closed) skipped",
            self.name,
            len(self._emitted),
            self._repeats,
        )

    # -- requests ----------------------------------------------------------------------

    def _filters(self) -> dict[str, t.Any]:
        walk = self._walk
        assert walk is not None
        return {"inboxes": [walk.inbox_id], "closed": walk.closed}

    def prepare_request_payload(
        self, context: Context | None, next_page_token: PageRequest | None
    ) -> dict | None:
        """The walk's `date`/`limit`/`page`, plus the user id and the walk's filters."""
        body = super().prepare_request_payload(context, next_page_token) or {}
        body["id"] = self._member
        body["filters"] = self._filters()
        return body

    def check_status(self, response: requests.Response) -> None:
        """A 403 is the user id's, not the tap's: the walk tries the next one."""
        if response.status_code == 403:
            raise MemberRejected(status_message(response))
        super().check_status(response)

    def count_body(self) -> dict[str, t.Any]:
        """`POST /v1/conversations/count` counts the walk's inbox, as its user id."""
        return {"id": self._member, "filters": self._filters()}

    # -- the walk and its STATE --------------------------------------------------------

    def _walk_entry(self, *, create: bool) -> dict[str, t.Any]:
        walk = self._walk
        assert walk is not None
        state = self.get_context_state(None)
        if not create:
            walks = state.get(WALKS_KEY)
            entry = walks.get(walk.key) if isinstance(walks, dict) else None
            return entry if isinstance(entry, dict) else {}
        return t.cast("dict", state.setdefault(WALKS_KEY, {}).setdefault(walk.key, {}))

    def get_new_paginator(self) -> BaseAPIPaginator[PageRequest]:
        """The walk's walker: from its saved position, its bookmark, or the top.

        After a 403 the same walker goes on, as another user id, from where it stood.
        """
        walk = self._walk
        assert walk is not None
        walker = self.walker
        if walker is not None and self._walker_key == walk.key and not walker.finished_walk:
            return walker
        entry = self._walk_entry(create=False)
        walker = resume_walker(
            entry,
            floor=walk_floor(entry, self.settings.start_date),
            page_size=self.page_size,
            logger=self.logger,
            label=walk.label,
        )
        self.walker, self._walker_key = walker, walk.key
        return walker

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The page's conversations new to this run (per version), then STATE."""
        walker = self.walker
        walk = self._walk
        assert walker is not None and walk is not None
        for record in walker.consume(self.decoded_page(response)):
            status = record.get("status")
            if status in ("open", "closed") and (status == "closed") != walk.closed:
                self._note_closed_filter(walk, status)
            version = (record["updated"], status)
            if self._emitted.get(record["id"]) == version:
                self._repeats += 1
                continue
            self._emitted[record["id"]] = version
            record["read_as_user_id"] = self._member
            yield record
        self._checkpoint(walker)

    def _note_closed_filter(self, walk: Walk, status: str) -> None:
        if not self._closed_filter_noted:
            self._closed_filter_noted = True
            self.logger.info(
                "%s: filters.closed=%s answered a conversation whose status is %s: the API "
                "may ignore the filter; each conversation is still emitted once per version",
                walk.label,
                str(walk.closed).lower(),
                status,
            )

    def _checkpoint(self, walker: UpdatedCursorPaginator) -> None:
        """The walk's entry after each page: its position, or its new bookmark at the end
        (`bookmark.record_page`)."""
        if record_page(self._walk_entry(create=True), walker):
            self._log_walk_summary(walker)
        self.write_state_now()

    def _log_walk_summary(self, walker: UpdatedCursorPaginator) -> None:
        walk = self._walk
        assert walk is not None
        self.logger.info(
            "%s: walk complete as user id %d: %s", walk.label, self._member, walker.summary()
        )
        if walker.memory.incomplete_groups:
            self._report_incomplete_groups(walk, walker)

    def _report_incomplete_groups(self, walk: Walk, walker: UpdatedCursorPaginator) -> None:
        """Name the tie groups the API would not page through, and count what is missing
        when a full walk can (the count endpoint, with the walk's user id and filters)."""
        groups = walker.memory.incomplete_groups
        full = walker.floor is None and not walker.resumed
        missing = report_incomplete_groups(
            self.logger,
            walk.label,
            groups,
            emitted=walker.emitted,
            total=self.api_count() if full else None,
            noun="conversation",
        )
        if missing == 0:
            return
        self._groups_incomplete += len(groups)
        if missing is None or self._missed is None:
            self._missed = None
        else:
            self._missed += missing

    # -- one type per column -----------------------------------------------------------

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Split the references into columns (see the module); conformance.py does the rest
        (one type per column, everything else in `extra_fields`)."""
        extra: dict[str, t.Any] = {}
        for name, columns in REFERENCES.items():
            if name in row:
                self._split_reference(row, name, columns, extra)
        members = row.get("members")
        if isinstance(members, list) and any(as_int(m) is not None for m in members):
            # Bare user ids, where the docs show `[{id, name}]`: the same members, as objects.
            row["members"] = [{"id": as_int(m)} if as_int(m) is not None else m for m in members]
        read = row.get("read")
        if type(read) is int and read not in (0, 1):
            # A read time (or count), where a flag is documented: read, and the number kept.
            row["read"] = True
            extra["read"] = read
        if extra:
            row["extra_fields"] = extra
        for key in self.schema["properties"]:
            # Every column in every record: an absent field and a null one land alike.
            row.setdefault(key, None)
        return row

    def _split_reference(
        self, row: dict, name: str, columns: dict[str, str], extra: dict[str, t.Any]
    ) -> None:
        value = row.pop(name)
        if value is None:
            row[columns["id"]] = None
        elif isinstance(value, dict):
            for key, column in columns.items():
                row[column] = value.get(key)
            if set(value) - set(columns):
                extra[name] = value  # more than the columns hold: kept whole
        elif as_int(value) is not None:
            row[columns["id"]] = as_int(value)
        else:
            self._warn_type(name, value)
            extra[name] = value

    def _warn_type(self, key: str, value: t.Any) -> None:
        kind = type(value).__name__
        if (key, kind) not in self._type_warnings:
            self._type_warnings.add((key, kind))
            self.logger.warning(
                "%s: `%s` came as a %s, which its column cannot hold: kept in "
                "extra_fields.%s (the column is null); this is said once per run",
                self.name,
                key,
                kind,
                key,
            )


__all__ = ["ConversationsStream"]
