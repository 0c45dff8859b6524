"""The Heymarket REST client: auth, pacing, retries and response decoding for every stream."""

from __future__ import annotations

import logging
import random
import sys
import time
import typing as t
from datetime import UTC, datetime
from functools import cached_property

import msgspec
import requests
from singer_sdk import SchemaDirectory
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.streams import RESTStream

from tap_heymarket import __version__, schemas
from tap_heymarket.answers import describe_answer, json_text, retry_after_seconds
from tap_heymarket.auth import authenticator_from_config
from tap_heymarket.errors import (
    REFUSED,
    UNRESOLVED,
    UNVERIFIED,
    HeymarketFatalError,
    HeymarketRetriableError,
    MalformedResponseError,
    connection_failure,
    describe_request,
    request_id,
    status_message,
    unreachable_message,
)
from tap_heymarket.fitting import API_EXTRA_FIELDS, EXTRA_FIELDS, is_ascii_digits
from tap_heymarket.metrics import log_counter
from tap_heymarket.pacing import RequestPacer
from tap_heymarket.records import ConformedRecordMessages
from tap_heymarket.run_log import StreamTally, drops_sdk_line, plural
from tap_heymarket.settings import InvalidConfigError, Settings
from tap_heymarket.state import InvalidStateError
from tap_heymarket.walk_state import Page, PageRequest

if t.TYPE_CHECKING:
    from requests.auth import AuthBase
    from singer_sdk import Tap
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

#: Sent with every request, so Heymarket's logs can tell the tap and its version apart.
USER_AGENT = f"tap-heymarket/{__version__}"
#: Retries of a refused connection before the API has answered once (0.5 + 1 + 2 s of
#: backoff): enough for a server that is starting, not a minute for a wrong api_url.
FIRST_CONTACT_RETRIES = 3
#: The errors the tap reports itself in one line (cli.py): no SDK "unhandled error" before.
HANDLED_ERRORS: tuple[type[BaseException], ...] = (
    FatalAPIError,
    InvalidStateError,
    InvalidConfigError,
)

_decoder = msgspec.json.Decoder()

#: What `HeymarketStream.decode_json` may be asked to expect.
_JSONT = t.TypeVar("_JSONT", list, dict)

#: What a `HeymarketStream.call` reads from its answer.
_T = t.TypeVar("_T")


class TapServices(t.Protocol):
    """What a stream needs of its tap (`TapHeymarket`, tap.py), shared by every stream."""

    @property
    def pacer(self) -> RequestPacer:
        """The one pacer for the team's rate limit."""

    @property
    def settings(self) -> Settings:
        """The settings, read once."""


#: `tap_heymarket/schemas/<stream name>.json`, read as package resources.
SCHEMAS = SchemaDirectory(schemas)


class HeymarketStream(ConformedRecordMessages, RESTStream[PageRequest]):
    """Base class for Heymarket streams: every list endpoint is a JSON POST."""

    http_method = "POST"
    #: The endpoint that counts the stream's records, if the API has one.
    count_path: str | None = None

    def __init__(self, tap: Tap, *args: t.Any, **kwargs: t.Any) -> None:
        services = t.cast("TapServices", tap)
        #: The tap, for what a stream asks of it besides its own config.
        self.heymarket_tap = tap
        #: The settings (tap_heymarket/settings.py), read once for the whole tap.
        self.settings: Settings = services.settings
        super().__init__(tap, *args, **kwargs)
        #: The tap-wide pacer: all streams share the one rate limit.
        self.pacer: RequestPacer = services.pacer
        #: What the stream did in the run, for its summary line (run_log.py).
        self.tally = StreamTally()
        #: The last answer `validate_response` decoded, for `parse_response` to reuse.
        self._decoded: tuple[requests.Response, Page] | None = None
        #: (the answer `decode_json` read last, whether its strings may hold U+0000)
        self._nul_in: tuple[requests.Response, bool] | None = None

    def log_sync_costs(self) -> None:
        """The SDK's end-of-run hook, called for every stream once all have synced: the
        stream's one summary line (run_log.py); the first to run it also says, once, what
        the API's 429s cost the run (pacing.py)."""
        super().log_sync_costs()
        line = self.tally.summary(self.name)
        if line:
            self.logger.info("%s", line)
        summary = self.pacer.throttle_summary()
        if summary:
            self.heymarket_tap.logger.warning("%s", summary)

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """The SDK's stream log, without the lines the tap says better (run_log.py)."""
        if drops_sdk_line(message, sys.exc_info()[1], HANDLED_ERRORS):
            return
        super().log(message, *args, level=level, **kwargs)

    def metric(self, name: str, value: int) -> None:
        """A counter of this stream in the SDK's METRIC log format (metrics.py)."""
        log_counter(name, value, stream=self.name)

    def write_state_now(self) -> None:
        """Emit this stream's STATE now, e.g. after a page's records (the SDK writes STATE
        only every 10,000 records and at the end of a stream)."""
        self.state_manager.is_flushed = False
        # Private SDK call: a Stream has no public method that writes its STATE message.
        self._write_state_message()

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never the SDK's ACTIVATE_VERSION: it comes at the START of a full-table stream,
        so a target would mark rows deleted before the records that prove them alive
        arrive, and a failed run would leave them marked. `detect_deletes` sends its own,
        once a walk is proven complete (sweep.py)."""
        return False

    @property
    def url_base(self) -> str:
        """`api_url` without a trailing slash (paths start with one)."""
        return self.settings.api_url

    @cached_property
    def authenticator(self) -> AuthBase:
        """JWT per request, or the legacy key: exactly one is configured."""
        return authenticator_from_config(self.config)

    @property
    def http_headers(self) -> dict:
        """Ask for JSON; the user agent names the tap for Heymarket's logs."""
        return {"Accept": "application/json", "User-Agent": USER_AGENT}

    @property
    def timeout(self) -> int:
        """Seconds to wait for one answer (`request_timeout`)."""
        return self.settings.request_timeout

    # -- requests and retries ---------------------------------------------------

    def request_decorator(self, func: t.Callable) -> t.Callable:
        """Pace every attempt; retry 429s (honouring Retry-After) and transient failures.

        The SDK's default gives up after 5 quick tries. Heymarket answers 429 whenever a
        team exceeds 500 requests a minute, which may be another client's doing, so
        429s are retried for up to `max_rate_limit_wait` seconds; 5xx, timeouts, resets
        and malformed bodies get `max_retries` retries with exponential backoff. Every
        attempt, retries included, first waits for the tap-wide pacer, which is told
        about each answer: a 429 slows it down, any other answer lets it recover.
        """
        max_retries = self.settings.max_retries
        rate_limit_budget = float(self.settings.max_rate_limit_wait)

        def with_retries(
            prepared_request: requests.PreparedRequest, context: Context | None
        ) -> t.Any:
            failures = 0
            throttled = 0
            waited_for_limit = 0.0
            while True:
                self.pacer.wait()
                self.tally.request()
                try:
                    response = func(prepared_request, context)
                except HeymarketFatalError:
                    self.pacer.succeeded()  # a 4xx: an answer, and not a 429
                    raise
                except _RETRIABLE_EXCEPTIONS as exc:
                    response = getattr(exc, "response", None)
                    if response is not None and response.status_code == 429:
                        throttled += 1
                        wait = retry_after_seconds(response)
                        if wait is None:
                            wait = min(60.0, 1.0 * 2 ** min(throttled - 1, 6))
                            wait *= random.uniform(0.8, 1.2)
                        else:
                            self.pacer.pause(wait)
                        self.pacer.throttled(wait)
                        if waited_for_limit + wait > rate_limit_budget:
                            raise self._gave_up(prepared_request, exc, throttled) from None
                        waited_for_limit += wait
                    else:
                        if response is not None:
                            self.pacer.succeeded()
                        failures += 1
                        if response is None and not self.pacer.answers:
                            self._check_first_contact(exc, failures)
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
                else:
                    self.pacer.succeeded()
                    self.tally.answer()
                    return response

        return with_retries

    def count(self, body: dict[str, t.Any]) -> int | None:
        """`POST <count_path>` with `body`: the API's count, or None (with a WARNING) when
        there is none to read. The answer may be a number, a numeric string (the docs'
        messages count) or `{"count": n}`; a count never fails the sync."""
        if self.count_path is None:
            return None
        try:
            value = self.side_request(self.count_path, body).json()
        except (HeymarketFatalError, ValueError) as exc:
            self.logger.warning("%s: could not read the API's count: %s", self.name, exc)
            return None
        if isinstance(value, dict):
            value = value.get("count")
        try:
            return int(value)
        except (TypeError, ValueError):
            self.logger.warning("%s: the API's count %r is not a number", self.name, value)
            return None

    def side_request(self, path: str, body: dict) -> requests.Response:
        """`POST <path>` outside the stream's pages (e.g. a count endpoint), its status
        checked (`check_status`); the caller reads the answer."""
        return self.call(path, body, self.checked)

    def checked(self, response: requests.Response) -> requests.Response:
        """The answer, once `check_status` let it through."""
        self.check_status(response)
        return response

    def call(self, path: str, body: dict, read: t.Callable[[requests.Response], _T]) -> _T:
        """`POST <path>` with `body` outside the stream's pages.

        Paced, authenticated and retried like every request (`request_decorator`);
        `read` takes the answer inside the retries: it applies the status rules (its own
        where an endpoint answers a status with meaning, else `checked`) and decodes it,
        so a malformed answer is retried like a page.
        """
        prepared = self.build_prepared_request(
            method="POST", url=self.url_base + path, json=body, headers=self.http_headers
        )

        def send(prepared_request: requests.PreparedRequest, context: Context | None) -> _T:
            response = self.requests_session.send(
                self.authenticator(prepared_request),
                timeout=self.timeout,
                allow_redirects=self.allow_redirects,
            )
            return read(response)

        answer: _T = self.request_decorator(send)(prepared, None)
        return answer

    @staticmethod
    def _failure_summary(exc: BaseException) -> str:
        response = getattr(exc, "response", None)
        if isinstance(exc, MalformedResponseError):
            return str(exc)
        if response is not None:
            return f"HTTP {response.status_code} (X-Request-Id: {request_id(response)})"
        # Connection errors: the class name says enough; their text can be long.
        return f"{type(exc).__name__} (no answer)"

    def _check_first_contact(self, exc: BaseException, failures: int) -> None:
        """Before the API has answered once in this run, a wrong `api_url` must fail fast:
        a name that does not resolve, or a certificate that does not verify (TLS is always
        verified), at once; a refused connection after a few seconds of retries (a server
        still starting). Once it has answered, a failure is a drop in
        the middle of a run and gets the whole `max_retries` budget."""
        failure = connection_failure(exc)
        if failure in (UNRESOLVED, UNVERIFIED) or (
            failure == REFUSED and failures > FIRST_CONTACT_RETRIES
        ):
            raise HeymarketFatalError(unreachable_message(self.settings.api_url, failure))

    def _gave_up(
        self,
        prepared_request: requests.PreparedRequest,
        exc: BaseException,
        attempts: int,
    ) -> HeymarketFatalError:
        return HeymarketFatalError(
            f"{describe_request(prepared_request)} failed {plural(attempts, 'time')}; giving up. "
            f"Last failure: {self._failure_summary(exc)}"
        )

    # -- answers ----------------------------------------------------------------

    def check_status(self, response: requests.Response) -> None:
        """Raise for a 429 or 5xx (retriable) and for any other 4xx (fatal)."""
        status = response.status_code
        if status == 429 or status >= 500:
            raise HeymarketRetriableError(status_message(response), response)
        if status >= 400:
            raise HeymarketFatalError(status_message(response))

    def validate_response(self, response: requests.Response) -> None:
        """Classify the status, then decode and check the page (inside the retries).

        Decoding here, once, means a truncated or wrong-shape body is retried like a
        5xx instead of failing later, and `parse_response` reuses the decoded page.
        """
        self.check_status(response)
        self._decoded = (response, self.decode(response))

    def response_error_message(self, response: requests.Response) -> str:
        """Never the SDK's default, which includes the whole body and header names."""
        return status_message(response)

    def decode(self, response: requests.Response) -> Page:
        """Decode and check one answer; raise MalformedResponseError when it is off.

        Subclasses whose endpoint answers another shape override this (and may call
        `decode_json` and `checked_page`); cursor streams add their cursor check.
        """
        return self.checked_page(self.decode_json(response, expect=list), response)

    def decode_json(self, response: requests.Response, *, expect: type[_JSONT]) -> _JSONT:
        """The JSON body, which must be a `list` or a `dict` as the endpoint documents."""
        content, has_nul = json_text(response.content, self.settings.replace_nul_characters)
        self._nul_in = (response, has_nul)  # (for `decoded_page`: one search per answer)
        try:
            body = _decoder.decode(content)
        except msgspec.DecodeError:
            # Never quote the body: it may hold contact data.
            kind = response.headers.get("Content-Type") or "no Content-Type"
            raise self.malformed(
                response, f"a body that is not JSON ({kind}, {len(response.content)} bytes)"
            ) from None
        if not isinstance(body, expect):
            documented = "a list" if expect is list else "an object"
            raise self.malformed(
                response, f"a JSON {type(body).__name__} where the API documents {documented}"
            )
        return body

    def malformed(self, response: requests.Response, what: str) -> MalformedResponseError:
        """`<request> (X-Request-Id: ...) answered <what>`, as a retriable error."""
        return MalformedResponseError(f"{describe_answer(response)} answered {what}", response)

    def checked_page(self, records: list, response: requests.Response) -> Page:
        """Check that every item is an object, and apply the record policy to each."""
        answer = describe_answer(response)
        for record in records:
            if not isinstance(record, dict):
                kind = type(record).__name__
                msg = f"{answer} returned a list item that is a {kind}, not an object"
                raise MalformedResponseError(msg, response)
            self.conform(record, answer, response)
        return Page(records=records, updated=[])

    def conform(self, record: dict, where: str, response: requests.Response) -> None:
        """The checks an answer's records need before the walk reads them.

        * `id` must be an integer; a string of digits is converted.
        * `rev`, which the walk compares with STATE, likewise when it is a digit string.
        * A field the API itself calls `extra_fields` is set aside (conformance.py keeps it
          inside the tap's `extra_fields`, under that name).

        Every other field is conformed to the schema when the record is emitted
        (conformance.py).
        """
        record_id = record.get("id")
        if not isinstance(record_id, int) or isinstance(record_id, bool):
            if isinstance(record_id, str) and is_ascii_digits(record_id.strip()):
                record["id"] = int(record_id)
            else:
                msg = f"{where} returned a record whose id is {record_id!r}, not an integer"
                raise MalformedResponseError(msg, response)
        rev = record.get("rev")
        if isinstance(rev, str) and is_ascii_digits(rev.strip()):
            record["rev"] = int(rev)
        if EXTRA_FIELDS in record:
            record[API_EXTRA_FIELDS] = record.pop(EXTRA_FIELDS)

    def decoded_page(self, response: requests.Response) -> Page:
        """The page `validate_response` decoded for this response, whose records are
        about to be emitted (so the conformer learns whether they may hold U+0000)."""
        cached = self._decoded
        page = cached[1] if cached is not None and cached[0] is response else self.decode(response)
        # An answer's strings hold no U+0000 when `decode_json` replaced it (or it holds
        # none): then conformance.py need not search them.
        nul_in = self._nul_in
        self.answer_is_clean = nul_in is not None and nul_in[0] is response and not nul_in[1]
        # The records of one answer were all observed when it arrived: one time for them.
        self.time_extracted = datetime.now(UTC)
        self.conformer()  # (checked once per answer: the records below use it as it is)
        return page

    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> t.Iterable[Context | None]:
        """No child streams, no child contexts: the SDK's default would copy every record
        for children that do not exist (see docs/benchmarks.md)."""
        if not self.child_streams:
            return ()
        return super().generate_child_contexts(record, context)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Records of a single-page endpoint."""
        yield from self.decoded_page(response).records


logging.getLogger("urllib3").setLevel(logging.WARNING)
