"""The account around the contacts: contact fields, tags, inboxes, team members, templates
and surveys.

These are the dimensions that messages and conversations point at. Each endpoint has
its own shape, and the docs leave parts of each unsaid (docs/api.md has what they say):

* `GET /v1/inboxes` answers every inbox in one bare array. The real API sends more
  fields than it documents; those land in `extra_fields` instead of being dropped, and
  `invited` (a boolean or a list) is split so each column keeps one type.
* `GET /v1/team` answers ONE object; its `members` become one row each.
* `POST /v1/templates` pages newest first by `updated` with at most 30 per answer, the
  same shape as tags: the tie-safe walker serves it.
* `POST /v1/surveys` pages by number from 1 with no date cursor. A short page is not
  the last one (the server may clamp `limit`): the walk stops on an empty page, and
  on a page of surveys already read (a server that ignores `page`), with a warning.
"""

from __future__ import annotations

import typing as t

from singer_sdk import StreamSchema
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator

from tap_heymarket.client import SCHEMAS, HeymarketStream
from tap_heymarket.swept_stream import SweptStream
from tap_heymarket.walk_state import Page

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context


class FullTableStream(HeymarketStream):
    """A stream read whole on every run: no bookmark, no date cursor."""

    replication_key = None


class ContactFieldsStream(FullTableStream):
    """Custom contact field definitions, from `POST /v1/contact-fields` (full table)."""

    name = "contact_fields"
    path = "/v1/contact-fields"
    primary_keys = ("id",)
    schema = StreamSchema(SCHEMAS)

    def get_new_paginator(self) -> BaseAPIPaginator:
        """One request returns every field."""
        return SinglePagePaginator()

    def prepare_request_payload(self, context: Context | None, next_page_token: t.Any) -> dict:
        """An empty JSON object."""
        return {}


class TagsStream(SweptStream):
    """Tags, from `POST /v1/tags` (30 per page, newest first), incremental on `updated`."""

    name = "tags"
    path = "/v1/tags"
    primary_keys = ("id",)
    schema = StreamSchema(SCHEMAS)
    fixed_page_size = 30


class SingleGetStream(FullTableStream):
    """One `GET` without a body answers everything (inboxes, the team): no paging."""

    http_method = "GET"

    def get_new_paginator(self) -> BaseAPIPaginator:
        """One request returns every record."""
        return SinglePagePaginator()

    def prepare_request_payload(self, context: Context | None, next_page_token: t.Any) -> None:
        """A GET without a body."""
        return None


class InboxesStream(SingleGetStream):
    """Inboxes, from `GET /v1/inboxes` (one answer, no paging), full table."""

    name = "inboxes"
    path = "/v1/inboxes"
    primary_keys = ("id",)
    schema = StreamSchema(SCHEMAS)
    #: `invited` is a boolean in the API's prose and a list of strings in its schema: the
    #: list goes to `invited_list`, so neither column ever changes type.
    alternate_columns = {"invited": "invited_list"}


class TeamMembersStream(SingleGetStream):
    """Team members, from `GET /v1/team`: one object whose `members` become rows."""

    name = "team_members"
    path = "/v1/team"
    primary_keys = ("id",)
    schema = StreamSchema(SCHEMAS)

    def decode(self, response: requests.Response) -> Page:
        """`{id, name, list_size, members: [...]}`: one record per member, with the team."""
        team = self.decode_json(response, expect=dict)
        members = team.get("members")
        if members is None:
            members = []
        if not isinstance(members, list):
            raise self.malformed(response, "a team whose `members` is not a list")
        rows = []
        for member in members:
            if not isinstance(member, dict):
                raise self.malformed(response, "a team member that is not an object")
            rows.append({**member, "team_id": team.get("id"), "team_name": team.get("name")})
        return self.checked_page(rows, response)


class TemplatesStream(SweptStream):
    """Templates, from `POST /v1/templates` (30 per page, newest first), incremental."""

    name = "templates"
    path = "/v1/templates"
    primary_keys = ("id",)
    schema = StreamSchema(SCHEMAS)
    #: The docs: "returns up to 30 of the most recent templates", whatever `limit` says.
    fixed_page_size = 30


class SurveyPages(BaseAPIPaginator[int]):
    """Page numbers from 1, until an empty page or a page of surveys already read."""

    def __init__(self) -> None:
        super().__init__(1)
        self.seen: set[int] = set()
        self.repeated_page = False
        self._more = True

    def observe(self, ids: list[int]) -> list[int]:
        """Take one page's ids; return those not read before, and decide whether to go on."""
        new = [i for i in ids if i not in self.seen]
        self.seen.update(new)
        self.repeated_page = bool(ids) and not new
        self._more = bool(new)
        return new

    def has_more(self, response: requests.Response) -> bool:
        return self._more

    def get_next(self, response: requests.Response) -> int:
        return self.current_value + 1


class SurveysStream(FullTableStream):
    """Surveys, from `POST /v1/surveys` `{limit, page}` (pages from 1), full table."""

    name = "surveys"
    path = "/v1/surveys"
    primary_keys = ("id",)
    schema = StreamSchema(SCHEMAS)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: SurveyPages | None = None

    def get_new_paginator(self) -> SurveyPages:
        """Page 1 first: what page 0 does is not documented."""
        self._pages = SurveyPages()
        return self._pages

    def prepare_request_payload(self, context: Context | None, next_page_token: t.Any) -> dict:
        """`{limit, page}`; the server may answer fewer than `limit`."""
        return {"limit": self.settings.page_size, "page": next_page_token or 1}

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The page's surveys not read before (a repeated page ends the walk)."""
        pages = self._pages
        assert pages is not None
        records = self.decoded_page(response).records
        new = set(pages.observe([r["id"] for r in records]))
        if pages.repeated_page:
            self.logger.warning(
                "%s: page %d repeated surveys already read, so the API ignores `page`; "
                "%d surveys were read and more may exist",
                self.name,
                pages.current_value,
                len(pages.seen),
            )
        yield from (r for r in records if r["id"] in new)
