"""The REST client in-process: Retry-After, the retry loop with its pacing, answers.

Fast unit tests (no tap subprocess): `retry_after_seconds` in both of its forms, the
retry loop's budgets and its calls to the tap-wide pacer around every attempt, the count
request's own path, and how answers are decoded and checked.
"""

from __future__ import annotations

import json
import logging
import re
import typing as t
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from heymarket_sandbox import Sandbox
from tap_heymarket import __version__
from tap_heymarket.answers import MAX_RETRY_AFTER_SECONDS, retry_after_seconds
from tap_heymarket.client import FIRST_CONTACT_RETRIES, USER_AGENT
from tap_heymarket.errors import HeymarketFatalError, MalformedResponseError
from tap_heymarket.tap import TapHeymarket
from tests.support.tap_runner import sandbox_config

OFFLINE = "http://127.0.0.1:9"  # nothing listens: these tests answer requests themselves


def _response(
    status: int = 200,
    body: t.Any = (),
    *,
    headers: dict[str, str] | None = None,
    path: str = "/v1/contacts",
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers.update({"X-Request-Id": "req_test", **(headers or {})})
    response.request = requests.Request("POST", OFFLINE + path).prepare()
    response.url = str(response.request.url)
    return response


def _http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


# -- Retry-After --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("1.5", 1.5), ("0", 0.0), ("-3", 0.0), ("86400", MAX_RETRY_AFTER_SECONDS)],
    ids=["seconds", "fraction", "zero", "negative", "capped"],
)
def test_retry_after_in_seconds(header: str, expected: float) -> None:
    assert retry_after_seconds(_response(429, headers={"Retry-After": header})) == expected


def test_retry_after_as_an_http_date() -> None:
    wait = retry_after_seconds(_response(429, headers={"Retry-After": _http_date(120)}))
    assert wait is not None
    assert 118.0 <= wait <= 120.0  # the date has whole seconds


def test_retry_after_http_date_in_the_past_means_now() -> None:
    assert retry_after_seconds(_response(429, headers={"Retry-After": _http_date(-600)})) == 0.0


def test_retry_after_http_date_far_ahead_is_capped() -> None:
    wait = retry_after_seconds(_response(429, headers={"Retry-After": _http_date(10**6)}))
    assert wait == MAX_RETRY_AFTER_SECONDS


@pytest.mark.parametrize("header", ["soon", "Tue, 99 Foo 2024", "", "1 minute"])
def test_retry_after_garbage_is_ignored(header: str) -> None:
    assert retry_after_seconds(_response(429, headers={"Retry-After": header})) is None


def test_retry_after_absent() -> None:
    assert retry_after_seconds(_response(429)) is None
    assert retry_after_seconds(None) is None


# -- the retry loop and the pacer ---------------------------------------------------------


class RecordingPacer:
    """Stands in for the tap's RequestPacer and records what the client tells it."""

    def __init__(self) -> None:
        self.calls: list[t.Any] = []

    @property
    def answers(self) -> int:
        return sum(c == "succeeded" or c[0] == "throttled" for c in self.calls)

    def wait(self) -> None:
        self.calls.append("wait")

    def succeeded(self) -> None:
        self.calls.append("succeeded")

    def throttled(self, wait: float) -> None:
        self.calls.append(("throttled", wait))

    def pause(self, seconds: float) -> None:
        self.calls.append(("pause", seconds))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr("tap_heymarket.client.time.sleep", slept.append)
    return slept


def _stream(name: str = "contacts", **config: t.Any) -> t.Any:
    tap = TapHeymarket(config=sandbox_config(OFFLINE, **config), parse_env_config=False)
    return tap.streams[name]


def _scripted(stream: t.Any, answers: list[requests.Response | Exception]) -> t.Callable:
    """A request function that gives `answers` in turn, checked like real answers."""
    queue = list(answers)

    def send(prepared: requests.PreparedRequest, context: t.Any) -> requests.Response:
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        stream.validate_response(answer)
        return answer

    return send


def _prepared() -> requests.PreparedRequest:
    return requests.Request("POST", OFFLINE + "/v1/contacts", json={}).prepare()


def test_http_date_retry_after_is_honoured(sleeps: list[float]) -> None:
    stream = _stream()
    pacer = stream.pacer = RecordingPacer()
    limited = _response(429, {"error": "rate_limited"}, headers={"Retry-After": _http_date(90)})
    ok = _response(200, [])
    send = stream.request_decorator(_scripted(stream, [limited, ok]))
    assert send(_prepared(), None) is ok
    assert len(sleeps) == 1 and 88.0 <= sleeps[0] <= 90.0
    assert pacer.calls[0] == "wait"
    kind, paused = pacer.calls[1]
    assert kind == "pause" and paused == sleeps[0], "the pacer holds every stream back too"
    assert pacer.calls[2] == ("throttled", sleeps[0]), "the pacer counts the wait"
    assert pacer.calls[3:] == ["wait", "succeeded"]


def test_seconds_retry_after_is_honoured(sleeps: list[float]) -> None:
    stream = _stream()
    stream.pacer = RecordingPacer()
    limited = _response(429, {"error": "rate_limited"}, headers={"Retry-After": "4"})
    send = stream.request_decorator(_scripted(stream, [limited, _response(200, [])]))
    send(_prepared(), None)
    assert sleeps == [4.0]


def test_pacer_waits_before_every_attempt_and_hears_every_answer(
    sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    stream = _stream()
    pacer = stream.pacer = RecordingPacer()
    answers: list[requests.Response | Exception] = [
        _response(503, {"error": "internal_error"}),
        requests.exceptions.ConnectionError("reset"),
        _response(429, {"error": "rate_limited"}),  # no Retry-After: backoff
        _response(200, b"<html>", headers={"Content-Type": "text/html"}),  # malformed
        _response(200, [{"id": 1, "updated": "2024-05-01T00:00:00Z"}]),
    ]
    with caplog.at_level(logging.WARNING):
        response = stream.request_decorator(_scripted(stream, answers))(_prepared(), None)
    assert response.status_code == 200
    assert pacer.calls == [
        "wait",
        "succeeded",  # 503: an answer, and not a 429
        "wait",  # the connection error: no answer, nothing to tell
        "wait",
        ("throttled", sleeps[2]),
        "wait",
        "succeeded",  # the malformed 200
        "wait",
        "succeeded",
    ]
    assert len(sleeps) == 4
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 4
    assert any("HTTP 503 (X-Request-Id: req_test)" in line for line in retries)
    assert any("ConnectionError (no answer)" in line for line in retries)
    assert any("body that is not JSON (text/html, 6 bytes)" in line for line in retries)


def _refused() -> requests.exceptions.ConnectionError:
    """A real refused connection, as requests raises it (nothing listens on OFFLINE)."""
    try:
        requests.post(OFFLINE + "/v1/contacts", timeout=5)
    except requests.exceptions.ConnectionError as exc:
        return exc
    raise AssertionError(f"something answers on {OFFLINE}")


def test_before_any_answer_a_refused_connection_fails_after_a_few_seconds(
    sleeps: list[float],
) -> None:
    """A wrong api_url: three short retries (a server may be starting), then one line that
    names the address and the setting."""
    stream = _stream()
    stream.pacer = RecordingPacer()
    send = stream.request_decorator(_scripted(stream, [_refused() for _ in range(9)]))
    with pytest.raises(HeymarketFatalError) as raised:
        send(_prepared(), None)
    assert str(raised.value) == (
        "cannot reach the Heymarket API: 127.0.0.1:9 refused the connection (api_url "
        f"{OFFLINE}); check the api_url setting"
    )
    assert len(sleeps) == FIRST_CONTACT_RETRIES and sum(sleeps) < 4.0


def test_once_the_api_answered_a_refused_connection_gets_the_whole_budget(
    sleeps: list[float],
) -> None:
    """A drop in the middle of a run (a deploy, a load balancer) keeps `max_retries`."""
    stream = _stream(max_retries=8)
    stream.pacer = RecordingPacer()
    stream.request_decorator(_scripted(stream, [_response(200, [])]))(_prepared(), None)
    ok = _response(200, [])
    answers: list[requests.Response | Exception] = [*(_refused() for _ in range(8)), ok]
    assert stream.request_decorator(_scripted(stream, answers))(_prepared(), None) is ok
    assert len(sleeps) == 8


def test_failure_budget_is_separate_from_the_rate_limit_budget(sleeps: list[float]) -> None:
    stream = _stream(max_retries=2)
    stream.pacer = RecordingPacer()
    limited = _response(429, {"error": "rate_limited"}, headers={"Retry-After": "1"})
    failed = _response(500, {"error": "internal_error"})
    answers: list[requests.Response | Exception] = [limited, failed, limited, failed, limited]
    answers += [failed, failed]
    send = stream.request_decorator(_scripted(stream, answers))
    with pytest.raises(HeymarketFatalError, match=r"failed 3 times; giving up.*HTTP 500"):
        send(_prepared(), None)
    assert len(sleeps) == 5  # three 429s and two of the three 500s were waited out


def test_rate_limit_budget_gives_up(sleeps: list[float]) -> None:
    stream = _stream(max_rate_limit_wait=10)
    stream.pacer = RecordingPacer()
    limited = _response(429, {"error": "rate_limited"}, headers={"Retry-After": "6"})
    send = stream.request_decorator(_scripted(stream, [limited, limited]))
    with pytest.raises(HeymarketFatalError, match=r"POST /v1/contacts failed 2 times.*HTTP 429"):
        send(_prepared(), None)
    assert sleeps == [6.0]


def test_fatal_status_is_not_retried(sleeps: list[float]) -> None:
    stream = _stream()
    pacer = stream.pacer = RecordingPacer()
    denied = _response(403, {"error": "forbidden"})
    send = stream.request_decorator(_scripted(stream, [denied]))
    with pytest.raises(HeymarketFatalError, match="HTTP 403"):
        send(_prepared(), None)
    assert sleeps == []
    assert pacer.calls == ["wait", "succeeded"]


def test_streams_share_the_tap_s_pacer() -> None:
    tap = TapHeymarket(config=sandbox_config(OFFLINE), parse_env_config=False)
    pacers = {id(stream.pacer) for stream in tap.streams.values()}
    assert pacers == {id(tap.pacer)}


# -- the count request --------------------------------------------------------------------


def test_count_request_has_its_own_path() -> None:
    """`{"count": n}` is not a page: it is paced and status-checked, never decoded as one."""
    with Sandbox(contacts=57, seed=4) as sb:
        tap = TapHeymarket(config=sandbox_config(sb.url), parse_env_config=False)
        stream = tap.streams["contacts"]
        pacer = stream.pacer = RecordingPacer()
        assert stream.api_count() == 57
        assert stream._decoded is None
        assert pacer.calls == ["wait", "succeeded"]
        assert sb.stats()["by_path"].get("/v1/contacts/count") == {"200": 1}


def test_count_request_failure_is_a_warning(
    sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    with Sandbox(contacts=5, force_status=500) as sb:
        tap = TapHeymarket(config=sandbox_config(sb.url, max_retries=1), parse_env_config=False)
        stream = tap.streams["contacts"]
        with caplog.at_level(logging.WARNING):
            assert stream.api_count() is None
    assert any("could not read the API's count" in r.getMessage() for r in caplog.records)


# -- answers ------------------------------------------------------------------------------


def test_cursor_stream_rejects_an_unparsable_updated() -> None:
    stream = _stream("contacts")
    body = [{"id": 1, "updated": "2024-05-01T00:00:00Z"}, {"id": 2, "updated": "not-a-date"}]
    with pytest.raises(MalformedResponseError) as caught:
        stream.decode(_response(200, body))
    message = str(caught.value)
    assert message.startswith("POST /v1/contacts (X-Request-Id: req_test) returned record 2")
    assert "'not-a-date'" in message and "not an RFC 3339 date-time" in message


def test_cursor_stream_parses_updated_and_keeps_a_bad_created() -> None:
    stream = _stream("tags")
    body = [
        {"id": "12", "updated": "2024-05-01T12:00:00Z", "created": "yesterday"},
        {"id": 11, "updated": "2024-05-01T11:00:00.5+02:00", "created": "2024-01-01T00:00:00Z"},
    ]
    page = stream.decode(_response(200, body, path="/v1/tags"))
    assert [r["id"] for r in page.records] == [12, 11]
    assert [r["updated"] for r in page.records] == [
        "2024-05-01T12:00:00.000000+00:00",
        "2024-05-01T09:00:00.500000+00:00",
    ]
    assert page.updated == [
        datetime(2024, 5, 1, 12, tzinfo=UTC),
        datetime(2024, 5, 1, 9, 0, 0, 500000, tzinfo=UTC),
    ]
    # Other date-times are conformed when emitted (conformance.py): a bad one is kept as sent.
    first, second = (stream.conformer().conform(r) for r in page.records)
    assert first["created"] is None
    assert first["extra_fields"] == {"created": "yesterday"}
    assert second["created"] == "2024-01-01T00:00:00.000000+00:00"


def test_full_table_stream_has_no_cursor() -> None:
    stream = _stream("contact_fields")
    page = stream.decode(_response(200, [{"id": 1, "title": "Plan"}], path="/v1/contact-fields"))
    assert page.records == [{"id": 1, "title": "Plan"}]
    assert page.updated == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>oops</html>", "answered a body that is not JSON (no Content-Type, 17 bytes)"),
        ({"data": []}, "answered a JSON dict where the API documents a list"),
        ([1], "returned a list item that is a int, not an object"),
        ([{"id": "x1"}], "returned a record whose id is 'x1', not an integer"),
        ([{"id": True}], "returned a record whose id is True, not an integer"),
    ],
    ids=["not-json", "object", "not-an-object", "bad-id", "bool-id"],
)
def test_malformed_answers(body: t.Any, expected: str) -> None:
    stream = _stream("contact_fields")
    with pytest.raises(MalformedResponseError, match=re.escape(expected)):
        stream.decode(_response(200, body, path="/v1/contact-fields"))


def test_decode_json_names_the_documented_shape() -> None:
    stream = _stream("contact_fields")
    with pytest.raises(
        MalformedResponseError, match="a JSON list where the API documents an object"
    ):
        stream.decode_json(_response(200, []), expect=dict)
    assert stream.decode_json(_response(200, {"id": 1}), expect=dict) == {"id": 1}


def test_validate_response_decodes_once_for_parse_response() -> None:
    stream = _stream("contact_fields")
    response = _response(200, [{"id": 3, "title": "Plan"}], path="/v1/contact-fields")
    stream.validate_response(response)
    assert stream._decoded is not None and stream._decoded[0] is response
    assert list(stream.parse_response(response)) == [{"id": 3, "title": "Plan"}]


# -- the version ---------------------------------------------------------------------------


def test_one_version_everywhere() -> None:
    assert TapHeymarket.plugin_version == __version__
    assert f"tap-heymarket/{__version__}" == USER_AGENT
    assert _stream().http_headers["User-Agent"] == USER_AGENT
