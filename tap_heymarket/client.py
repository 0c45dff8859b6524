"""The Heymarket REST client: auth, pacing, retries and response decoding for every stream."""

from __future__ import annotations

import logging
import random
import time
import typing as t
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from urllib.parse import urlparse

import msgspec
import requests
import singer_sdk.singerlib as singer
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers._util import utc_now
from singer_sdk.streams import RESTStream

from tap_heymarket import timestamps
from tap_heymarket.auth import authenticator_from_config
from tap_heymarket.errors import (
    HeymarketFatalError,
    HeymarketRetriableError,
    MalformedResponseError,
    describe_request,
    request_id,
    status_message,
)
from tap_heymarket.pacing import RequestPacer
from tap_heymarket.pagination import Page, PageRequest
from tap_heymarket.records import RecordPreparation

if t.TYPE_CHECKING:
    from requests.auth import AuthBase
    from singer_sdk.helpers.types import Context

#: Network failures that a retry can fix. (`requests` wraps resets and refused
#: connections in ConnectionError; truncated chunked bodies in ChunkedEncodingError.)
_RETRIABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

#: Never wait longer than this for one Retry-After, whatever the server says.
MAX_RETRY_AFTER_SECONDS = 300.0

_decoder = msgspec.json.Decoder()


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """Parse a `Retry-After` header (seconds or an HTTP date), if there is one."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


class HeymarketStream(RESTStream[PageRequest]):
    """Base class for Heymarket streams: every list endpoint is a JSON POST."""

    http_method = "POST"
    #: Whether records carry the `id`/`updated` pair the cursor walk depends on.
    cursor_fields = True
    #: Date-time fields normalised to the tap's one UTC format.
    datetime_fields: tuple[str, ...] = ("created", "updated")

    @property
    def url_base(self) -> str:
        """`api_url` without a trailing slash (paths start with one)."""
        return str(self.config["api_url"]).rstrip("/")

    @cached_property
    def authenticator(self) -> AuthBase:
        """JWT per request, or the legacy key: exactly one is configured."""
        return authenticator_from_config(self.config)

    @property
    def http_headers(self) -> dict:
        """Ask for JSON; the user agent names the tap for Heymarket's logs."""
        return {"Accept": "application/json", "User-Agent": "tap-heymarket/0.1"}

    @property
    def timeout(self) -> int:
        """Seconds to wait for one answer (`request_timeout`)."""
        return int(self.config.get("request_timeout", 60))

    @property
    def pacer(self) -> RequestPacer:
        """The tap-wide pacer: all streams share the one rate limit."""
        return t.cast("RequestPacer", self._tap.pacer)  # type: ignore[attr-defined]

    # -- requests and retries ---------------------------------------------------

    def _request(
        self,
        prepared_request: requests.PreparedRequest,
        context: Context | None,
    ) -> requests.Response:
        self.pacer.wait()
        response = super()._request(prepared_request, context)
        self.pacer.succeeded()
        return response

    def request_decorator(self, func: t.Callable) -> t.Callable:
        """Retry 429s (honouring Retry-After) and transient failures, with limits.

        The SDK's default gives up after 5 quick tries. Heymarket answers 429 whenever a
        team exceeds 500 requests a minute, which may be another client's doing, so
        429s are retried for up to `max_rate_limit_wait` seconds; 5xx, timeouts, resets
        and malformed bodies get `max_retries` retries with exponential backoff.
        """
        max_retries = int(self.config.get("max_retries", 8))
        rate_limit_budget = float(self.config.get("max_rate_limit_wait", 900))

        def with_retries(
            prepared_request: requests.PreparedRequest, context: Context | None
        ) -> t.Any:
            failures = 0
            throttled = 0
            waited_for_limit = 0.0
            while True:
                try:
                    return func(prepared_request, context)
                except _RETRIABLE_EXCEPTIONS as exc:
                    response = getattr(exc, "response", None)
                    if response is not None and response.status_code == 429:
                        throttled += 1
                        self.pacer.throttled()
                        wait = retry_after_seconds(response)
                        if wait is None:
                            wait = min(60.0, 1.0 * 2 ** min(throttled - 1, 6))
                            wait *= random.uniform(0.8, 1.2)
                        else:
                            self.pacer.pause(wait)
                        if waited_for_limit + wait > rate_limit_budget:
                            raise self._gave_up(prepared_request, exc, throttled) from None
                        waited_for_limit += wait
                    else:
                        failures += 1
                        if failures > max_retries:
                            raise self._gave_up(prepared_request, exc, failures) from None
                        wait = min(30.0, 0.5 * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)
                    self.logger.warning(
                        "%s: %s; retrying in %.1f s",
                        describe_request(prepared_request),
                        self._failure_summary(exc),
                        wait,
                    )
                    time.sleep(wait)

        return with_retries

    @staticmethod
    def _failure_summary(exc: BaseException) -> str:
        response = getattr(exc, "response", None)
        if isinstance(exc, MalformedResponseError):
            return str(exc)
        if response is not None:
            return f"HTTP {response.status_code} (X-Request-Id: {request_id(response)})"
        # Connection errors: the class name says enough; their text can be long.
        return f"{type(exc).__name__} (no answer)"

    def _gave_up(
        self,
        prepared_request: requests.PreparedRequest,
        exc: BaseException,
        attempts: int,
    ) -> HeymarketFatalError:
        return HeymarketFatalError(
            f"{describe_request(prepared_request)} failed {attempts} times; giving up. "
            f"Last failure: {self._failure_summary(exc)}"
        )

    # -- answers ----------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        """Classify the status, then decode and check the body (inside the retries).

        Decoding here, once, means a truncated or wrong-shape body is retried like a
        5xx instead of failing later, and `parse_response` reuses the decoded page.
        """
        status = response.status_code
        if status == 429 or status >= 500:
            raise HeymarketRetriableError(status_message(response), response)
        if status >= 400:
            raise HeymarketFatalError(status_message(response))
        # Only this stream's own endpoint (not the count endpoint); `api_url` may carry
        # a path prefix, so compare the end of the path.
        if response.request is not None and urlparse(response.url).path.endswith(str(self.path)):
            self._decoded = (response, self.decode(response))

    def response_error_message(self, response: requests.Response) -> str:
        """Never the SDK's default, which includes the whole body and header names."""
        return status_message(response)

    def decode(self, response: requests.Response) -> Page:
        """Decode and check one answer; raise MalformedResponseError when it is off."""
        where = f"{describe_request(response.request)} (X-Request-Id: {request_id(response)})"
        try:
            body = _decoder.decode(response.content)
        except msgspec.DecodeError:
            # Never quote the body: it may hold contact data.
            kind = response.headers.get("Content-Type") or "no Content-Type"
            msg = (
                f"{where} answered a body that is not JSON ({kind}, {len(response.content)} bytes)"
            )
            raise MalformedResponseError(msg, response) from None
        if not isinstance(body, list):
            msg = f"{where} answered a JSON {type(body).__name__} where the API documents a list"
            raise MalformedResponseError(msg, response)
        updated: list[datetime] = []
        for record in body:
            if not isinstance(record, dict):
                msg = (
                    f"{where} returned a list item that is a {type(record).__name__}, not an object"
                )
                raise MalformedResponseError(msg, response)
            self.conform(record, where, response)
            if self.cursor_fields:
                updated.append(self._cursor_value(record, where, response))
        return Page(records=body, updated=updated)

    def conform(self, record: dict, where: str, response: requests.Response) -> None:
        """Apply the tap's record policy (see README, "Unexpected values").

        * `id` must be an integer; a string of digits is converted.
        * Other date-time fields that do not parse become null, with a warning.
        """
        record_id = record.get("id")
        if not isinstance(record_id, int) or isinstance(record_id, bool):
            if isinstance(record_id, str) and record_id.strip().isdigit():
                record["id"] = int(record_id)
            else:
                msg = f"{where} returned a record whose id is {record_id!r}, not an integer"
                raise MalformedResponseError(msg, response)
        for name in self.datetime_fields:
            value = record.get(name)
            if value is None or (name == "updated" and self.cursor_fields):
                continue
            try:
                record[name] = timestamps.normalize(timestamps.parse(value))
            except (TypeError, ValueError):
                self.logger.warning(
                    "%s: record %s has an unparsable %s %r; emitting null",
                    self.name,
                    record["id"],
                    name,
                    value,
                )
                record[name] = None

    def _cursor_value(self, record: dict, where: str, response: requests.Response) -> datetime:
        try:
            updated = timestamps.parse(record["updated"])
        except (KeyError, TypeError, ValueError):
            msg = (
                f"{where} returned record {record['id']} with updated="
                f"{record.get('updated')!r}, which is not an RFC 3339 date-time; the "
                "cursor cannot move past it"
            )
            raise MalformedResponseError(msg, response) from None
        record["updated"] = timestamps.normalize(updated)
        return updated

    # -- RECORD messages --------------------------------------------------------

    def _record_preparation(self) -> RecordPreparation:
        """Selection/conformance plan for the current schema and mask (built once)."""
        schema, mask = self.effective_schema, self.mask
        plan: RecordPreparation | None = getattr(self, "_preparation", None)
        if (
            plan is None
            or plan.schema is not schema
            or plan.mask is not mask
            or plan.level != self.TYPE_CONFORMANCE_LEVEL
        ):
            plan = self._preparation = RecordPreparation(schema, mask, self.TYPE_CONFORMANCE_LEVEL)
        return plan

    def _generate_record_messages(
        self, record: dict[str, t.Any]
    ) -> t.Generator[singer.RecordMessage, None, None]:
        """The SDK's RECORD messages, skipping selection and conformance work that is a
        provable no-op for this schema and catalog (see `tap_heymarket.records`)."""
        plan = self._record_preparation()
        if not plan.skip_selection:
            pop_deselected_record_properties(record, self.schema, self.mask)
        if plan.fast_conform:
            record = plan.conform(self.name, record, self.logger)
        else:
            record = conform_record_data_types(
                stream_name=self.name,
                record=record,
                schema=self.effective_schema,
                level=self.TYPE_CONFORMANCE_LEVEL,
                logger=self.logger,
            )
        for stream_map in self.stream_maps:
            mapped_record = stream_map.transform(record)
            if mapped_record is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped_record,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    def decoded_page(self, response: requests.Response) -> Page:
        """The page `validate_response` decoded for this response."""
        cached = getattr(self, "_decoded", None)
        if cached is not None and cached[0] is response:
            return t.cast("Page", cached[1])
        return self.decode(response)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Records of a single-page endpoint."""
        yield from self.decoded_page(response).records


logging.getLogger("urllib3").setLevel(logging.WARNING)
