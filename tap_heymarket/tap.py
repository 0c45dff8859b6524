"""The Heymarket tap: settings, their validation, and the stream list."""

from __future__ import annotations

import typing as t
from datetime import datetime
from functools import cached_property
from pathlib import PurePath
from urllib.parse import urlparse

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_heymarket import (
    __version__,
    account_streams,
    contact_streams,
    conversation_streams,
    deletes,
    message_streams,
    streams,
)
from tap_heymarket.pacing import RequestPacer
from tap_heymarket.state import InvalidStateError, state_errors
from tap_heymarket.writer import BufferedMsgSpecWriter

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

DEFAULT_API_URL = "https://api.heymarket.com"


class InvalidConfigError(ValueError):
    """Settings that cannot work; the message names each setting and the problem."""


#: Heymarket allows 500 requests a minute per team; stay a little under it.
DEFAULT_MAX_REQUESTS_PER_MINUTE = 480


class TapHeymarket(Tap):
    """Singer tap for Heymarket: contacts, their fields and tags, and the account around them."""

    name = "tap-heymarket"
    #: msgspec encodes RECORD messages several times faster than the default (simplejson)
    #: writer; same JSON values, UTF-8 instead of \u escapes; flushed at every message but
    #: RECORD (writer.py). See docs/benchmarks.md.
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_url",
            th.StringType,
            default=DEFAULT_API_URL,
            title="API URL",
            description="Base URL of the Heymarket API. Change it only to reach a sandbox.",
        ),
        th.Property(
            "api_secret_id",
            th.StringType,
            secret=True,
            title="API Secret ID",
            description=(
                "ID of a Heymarket API secret (Settings > Integrations > API). Used with "
                "`api_secret_key` to sign a short-lived JWT for every request (recommended)."
            ),
        ),
        th.Property(
            "api_secret_key",
            th.StringType,
            secret=True,
            title="API Secret Key",
            description="The secret key that belongs to `api_secret_id`.",
        ),
        th.Property(
            "api_key",
            th.StringType,
            secret=True,
            title="Legacy API Key",
            description=(
                "Legacy team API key, sent as a bearer token. Heymarket plans to deprecate "
                "it: prefer `api_secret_id` + `api_secret_key`. Configure exactly one method."
            ),
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start Date",
            description=(
                "Only records updated at or after this date-time are extracted. A saved "
                "bookmark later than it takes precedence. A `detect_deletes` run reads every "
                "record of the streams it sweeps."
            ),
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=500,
            title="Page Size",
            description=(
                "`limit` asked for on each contacts and messages request. The API's default is "
                "30 and its maximum is not documented; the tap copes with a server that "
                "returns fewer."
            ),
        ),
        th.Property(
            "max_requests_per_minute",
            th.IntegerType,
            default=DEFAULT_MAX_REQUESTS_PER_MINUTE,
            title="Max Requests per Minute",
            description=(
                "Client-side pace. Heymarket allows 500 requests a minute per team; lower "
                "it if other clients share the team's quota."
            ),
        ),
        th.Property(
            "request_timeout",
            th.IntegerType,
            default=60,
            title="Request Timeout",
            description="Seconds to wait for one API answer before retrying.",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            title="Max Retries",
            description=(
                "Retries for one request after a 5xx, timeout, dropped connection or "
                "malformed body, with exponential backoff (0.5 s doubling, up to 30 s)."
            ),
        ),
        th.Property(
            "max_rate_limit_wait",
            th.IntegerType,
            default=900,
            title="Max Rate-Limit Wait",
            description=(
                "Seconds one request may spend waiting out HTTP 429 answers (honouring "
                "Retry-After when sent) before the sync fails."
            ),
        ),
        th.Property(
            "messages_lookback_hours",
            th.IntegerType,
            default=72,
            title="Messages Lookback (hours)",
            description=(
                "Only when the API offers no way to walk messages by `updated`: each "
                "incremental run re-reads the messages created this many hours before the "
                "last one read, to catch their status changes. A change to an older message "
                "is caught by the next full sync (see the README)."
            ),
        ),
        th.Property(
            "detect_deletes",
            th.BooleanType,
            default=False,
            title="Detect Deletes",
            description=(
                "Sweep for deletes: walk all of `contacts`, `tags` and `templates` from the "
                "top (about one request per `page_size` contacts, as a full sync) and, once "
                "the walk is proven complete, send ACTIVATE_VERSION so that the target marks "
                "the rows of records deleted in Heymarket (target-postgres: `_sdc_deleted_at`). "
                "Schedule it beside the regular runs, under the same state id (see the README)."
            ),
        ),
        th.Property(
            "replace_nul_characters",
            th.BooleanType,
            default=True,
            title="Replace NUL Characters",
            description=(
                "Replace U+0000 with U+FFFD in every string of every record, at any depth "
                "and in object keys too. Heymarket text can hold U+0000, which PostgreSQL "
                "text and jsonb columns (and most SQL loaders) reject, failing the load. "
                "Turn off only for a loader that keeps U+0000 and a need for it."
            ),
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        state = kwargs.get("state")
        if state is not None and not isinstance(state, (dict, str, PurePath)):
            # The SDK would take a list for a file path; say what is wrong instead.
            raise InvalidStateError(state_errors(state, [])[0])
        super().__init__(*args, **kwargs)

    @classmethod
    def get_plugin_version(cls) -> str:
        """`tap_heymarket.__version__`, the one place the version is written."""
        return __version__

    @cached_property
    def pacer(self) -> RequestPacer:
        """The one pacer every stream shares (built on first use: the SDK builds the
        streams inside `Tap.__init__`, once the config is set)."""
        return RequestPacer(
            float(self.config.get("max_requests_per_minute", DEFAULT_MAX_REQUESTS_PER_MINUTE))
        )

    # Private override: the SDK's only config-validation hook (0.54 has no public one).
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """JSON-schema checks, then the rules a schema cannot express, as one error."""
        try:
            errors = super()._validate_config(raise_errors=True)
        except ConfigValidationError as exc:
            errors = list(exc.errors)
        errors += semantic_config_errors(self.config)
        if errors and raise_errors:
            raise InvalidConfigError("invalid config: " + "; ".join(errors))
        return errors

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Refuse a corrupt or foreign state file before any request is made."""
        incremental = [s.name for s in self.streams.values() if s.replication_key]
        errors = state_errors(state, incremental) + message_streams.message_state_errors(state)
        errors += conversation_streams.conversation_state_errors(state)
        if errors:
            raise InvalidStateError("invalid --state: " + "; ".join(errors))
        super().load_state(state)

    #: True while `--discover` runs: with credentials, contacts then reads the team's
    #: custom fields for its `cf_` columns (see contact_feed.fields_for_discovery).
    discovering = False

    def run_discovery(self) -> str:
        """The catalog; with credentials, `contacts` has a column per custom field."""
        self.discovering = True
        return super().run_discovery()

    def discover_streams(self) -> list[Stream]:
        """Every stream the tap offers."""
        return [
            streams.ContactsStream(self),
            streams.ContactFieldsStream(self),
            contact_streams.ContactFieldValuesStream(self),
            contact_streams.ContactStatusStream(self),
            streams.TagsStream(self),
            account_streams.InboxesStream(self),
            account_streams.TeamMembersStream(self),
            account_streams.TemplatesStream(self),
            account_streams.SurveysStream(self),
            message_streams.MessagesStream(self),
            deletes.DeleteSweepsStream(self),
            conversation_streams.ConversationsStream(self),
        ]


def semantic_config_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """Errors that name the setting; never the secret values themselves."""
    errors: list[str] = []
    url = str(config.get("api_url") or DEFAULT_API_URL)
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        errors.append(f"api_url must be an http(s) URL such as {DEFAULT_API_URL}, got {url!r}")

    jwt_parts = [bool(config.get("api_secret_id")), bool(config.get("api_secret_key"))]
    has_key = bool(config.get("api_key"))
    if any(jwt_parts) and not all(jwt_parts):
        missing = "api_secret_key" if jwt_parts[0] else "api_secret_id"
        errors.append(f"api_secret_id and api_secret_key go together: {missing} is missing")
    elif all(jwt_parts) and has_key:
        errors.append(
            "configure exactly one auth method: api_secret_id + api_secret_key, or api_key, "
            "not both"
        )
    elif not any(jwt_parts) and not has_key:
        errors.append("no credentials: set api_secret_id + api_secret_key (recommended) or api_key")

    start_date = config.get("start_date")
    if start_date is not None:
        try:
            datetime.fromisoformat(str(start_date))
        except ValueError:
            errors.append(f"start_date must be an ISO 8601 date or date-time, got {start_date!r}")
    if config.get("detect_deletes") and config.get("batch_config"):
        # BATCH messages go out after the records are read, so an ACTIVATE_VERSION at the
        # end of the stream would reach the target before its last batch.
        errors.append("detect_deletes does not work with batch_config: unset one of them")
    for name, minimum in (
        ("page_size", 1),
        ("max_requests_per_minute", 1),
        ("request_timeout", 1),
        ("max_retries", 0),
        ("max_rate_limit_wait", 0),
        ("messages_lookback_hours", 0),
    ):
        value = config.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{name} must be a whole number, got {value!r}")
        elif value < minimum:
            errors.append(f"{name} must be at least {minimum}, got {value}")
    return errors


if __name__ == "__main__":
    TapHeymarket.cli()
