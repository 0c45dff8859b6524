"""What the tap reads off an HTTP answer before its records are a page.

Its description in an error (`describe_answer`, with its `X-Request-Id`), its JSON text
with U+0000 replaced (`json_text`, for `replace_nul_characters`), the timestamps a walk
orders it by (`parsed_times`: one that does not parse makes the answer malformed) and how
long a 429 asks to wait (`retry_after_seconds`). client.py's `HeymarketStream` uses them.
"""

from __future__ import annotations

import time
from datetime import datetime
from email.utils import parsedate_to_datetime

import requests

from tap_heymarket import timestamps
from tap_heymarket.errors import MalformedResponseError, describe_request, request_id
from tap_heymarket.walk_state import Page

#: Never wait longer than this for one Retry-After, whatever the server says.
MAX_RETRY_AFTER_SECONDS = 300.0


def describe_answer(response: requests.Response) -> str:
    """`POST /v1/contacts (X-Request-Id: ...)`: how error messages name an answer."""
    return f"{describe_request(response.request)} (X-Request-Id: {request_id(response)})"


#: The JSON escape of U+0000, as `without_nul` looks for it.
_NUL = b"\\u0000"
_BACKSLASH = b"\\"


def without_nul(content: bytes) -> bytes:
    """JSON text with every `\\u0000` escape (U+0000 in a string or key) made `\\ufffd`.

    An escape is one preceded by an even run of backslashes (`\\\\u0000` is the text
    backslash-u-0-0-0-0, left as it is). Found with `bytes.find`: an answer has few.
    """
    found: list[int] = []
    at = content.find(_NUL)
    while at != -1:
        before = at
        while before > 0 and content[before - 1] == 0x5C:  # backslash
            before -= 1
        if (at - before) % 2 == 0:
            found.append(at)
            at = content.find(_NUL, at + len(_NUL))
        else:
            at = content.find(_NUL, at + 1)
    return _replaced(content, found)


def _replaced(content: bytes, found: list[int]) -> bytes:
    """`content` with the `\\u0000` escape at each offset of `found` made `\\ufffd`."""
    if not found:
        return content
    parts: list[bytes] = []
    start = 0
    for at in found:
        parts += (content[start:at], b"\\ufffd")
        start = at + len(_NUL)
    parts.append(content[start:])
    return b"".join(parts)


def _nul_escapes(content: bytes) -> list[int] | None:
    """Where the `\\u0000` escapes of a JSON text start, found by stepping from escape to
    escape; None when backslashes are too dense for that to pay.

    In JSON text a backslash only occurs in a string, where it starts an escape: stepping
    over each escape (two bytes; a `\\uXXXX` holds no backslash) never mistakes an escaped
    backslash for the start of one. A backslash is found by `bytes.find` of one byte, which is
    several times faster than a search for the six bytes of the escape, so an answer with
    few escapes (the usual one: a newline or a quote here and there) is read at that speed.
    """
    find = content.find
    budget = 8 + (len(content) >> 9)  # past about one escape per 512 bytes, search instead
    found: list[int] = []
    at = find(_BACKSLASH)
    while at != -1:
        if content[at + 1 : at + 6] == b"u0000":
            found.append(at)
        budget -= 1
        if not budget:
            return None
        at = find(_BACKSLASH, at + 2)
    return found


def json_text(content: bytes, replace_nul: bool) -> tuple[bytes, bool]:
    """An answer's JSON text to decode, and whether its strings may hold U+0000 (one
    pass over the text). With `replace_nul`, U+0000 is replaced in every string and key at
    once, in the text itself (conformance.py does it again only for values that do not come
    from here). A raw NUL byte is not valid JSON (the decoder refuses it): only the escape
    can occur."""
    found = _nul_escapes(content)
    if found is None:  # (dense escapes) the search of the escape itself
        if _NUL not in content:
            return content, False
        return (without_nul(content), False) if replace_nul else (content, True)
    if not found:
        return content, False
    if not replace_nul:
        return content, True
    return _replaced(content, found), False


def parsed_times(
    page: Page, response: requests.Response, name: str, noun: str = "record"
) -> list[datetime]:
    """Every record's timestamp `name` parsed, and normalised in place.

    A walk depends on every value of its keys, so one that is missing or not an RFC 3339
    date-time makes the answer malformed (retried, then fatal): such a record can be
    neither skipped (silent loss) nor emitted.
    """
    read = timestamps.read
    values: list[datetime] = []
    append = values.append
    try:
        for record in page.records:
            value, record[name] = read(record[name])
            append(value)
    except (KeyError, TypeError, ValueError):
        bad = page.records[len(values)]
        msg = (
            f"{describe_answer(response)} returned {noun} {bad['id']} with {name}="
            f"{bad.get(name)!r}, which is not an RFC 3339 date-time; the walk cannot place it"
        )
        raise MalformedResponseError(msg, response) from None
    return values


def with_cursor_values(page: Page, response: requests.Response) -> Page:
    """`page` with every record's `updated` parsed, for streams walked by that cursor."""
    return Page(records=page.records, updated=parsed_times(page, response, "updated"))


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
