"""The property tests' list model (tests/support/list_model.py) answers as the sandbox does.

The walker's and the messages walk's property tests trust `ListSemantics` to be the API
behaviours the sandbox serves as switches. Here both answer the same requests over the
same contacts, for every reading of the cursor, `date`'s precision, the clamp and `page`,
and must return the same ids in the same order.
"""

from __future__ import annotations

import itertools
import typing as t

import pytest
import requests

from heymarket_sandbox import Sandbox
from tap_heymarket import timestamps
from tests.support.list_model import ListSemantics

EPOCH = timestamps.parse("1970-01-01T00:00:00Z")


def micros(text: str) -> int:
    delta = timestamps.parse(text) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@pytest.fixture(scope="module")
def sandbox() -> t.Iterator[Sandbox]:
    # Seconds precision and a small data set: tie groups larger than every page asked.
    with Sandbox(contacts=400, seed=5, precision="seconds") as sb:
        yield sb


CASES = list(
    itertools.product(
        ["strict", "inclusive"], ["exact", "seconds"], [0, 7], ["ignore", "zero", "one"]
    )
)


@pytest.mark.parametrize(("cursor", "date_precision", "max_limit", "page"), CASES)
def test_the_model_answers_as_the_sandbox_does(
    sandbox: Sandbox, cursor: str, date_precision: str, max_limit: int, page: str
) -> None:
    sandbox.configure(cursor=cursor, date_precision=date_precision, max_limit=max_limit, page=page)
    truth = sandbox.truth(updated=True)["updated"]
    rows = [(int(i), micros(u), micros(u)) for i, u in truth.items()]
    model = ListSemantics(
        inclusive=cursor == "inclusive",
        date_unit=1_000_000 if date_precision == "seconds" else 1,
        max_limit=max_limit or None,
        page_mode=t.cast("t.Any", page),
    )
    newest_first = sorted(rows, key=lambda r: (r[1], r[0]), reverse=True)
    # Dates at a record, half a second after one (inside its second), and none at all.
    at = [timestamps.parse(truth[str(newest_first[k][0])]) for k in (0, 30, 200)]
    half = timestamps.MILLISECOND * 500
    dates: list[str | None] = [None]
    dates += [timestamps.to_api(when, timestamps.MILLISECOND) for when in at]
    dates.append(timestamps.to_api(at[1] + half, timestamps.MILLISECOND))
    compared = 0
    with requests.Session() as http:
        for date, limit, page_no in itertools.product(dates, [5, 40], [None, 0, 1, 2, 3]):
            body: dict[str, t.Any] = {"limit": limit}
            if date is not None:
                body["date"] = date
            if page_no is not None:
                body["page"] = page_no
            answer = http.post(
                sandbox.url + "/v1/contacts", json=body, headers=sandbox.auth_headers()
            )
            assert answer.status_code == 200, answer.text
            expected = model.answer(
                rows,
                cut=micros(date) if date is not None else None,
                limit=limit,
                page=page_no,
            )
            assert [c["id"] for c in answer.json()] == expected, body
            compared += 1
    assert compared == 50
