"""A full sync emits every contact in the sandbox's truth, once, under every paging behaviour.

The sandbox switches between the behaviours the API docs leave open: a strict or an
inclusive `date` cursor, seconds or milliseconds, a server that clamps `limit` below the
tap's page size, and `page` ignored, 0-based or 1-based. Its data always holds tie groups
(one `updated` shared by 50-300 contacts), at least one larger than 200, which is larger
than the clamped page of 100 used here.
"""

from __future__ import annotations

import itertools
import math
import re

import pytest

from heymarket_sandbox import Sandbox
from tests.support.tap_runner import run_tap, sandbox_config, truth_ids

CONTACTS = 1500
PAGE_SIZE = 150
CLAMP = 100

MATRIX = list(
    itertools.product(("strict", "inclusive"), ("seconds", "millis"), ("zero", "one", "ignore"))
)


@pytest.mark.parametrize("clamp", [0, CLAMP], ids=["honoured-limit", "clamped-limit"])
@pytest.mark.parametrize(("cursor", "precision", "page"), MATRIX, ids=["-".join(m) for m in MATRIX])
def test_full_sync_equals_truth(cursor: str, precision: str, page: str, clamp: int) -> None:
    with Sandbox(
        contacts=CONTACTS, seed=11, cursor=cursor, precision=precision, page=page, max_limit=clamp
    ) as sb:
        truth = sb.truth()
        biggest_group = truth["tie_groups"][0]["size"]
        assert biggest_group > 200, "the sandbox must hold a tie group larger than a page"

        run = run_tap(sandbox_config(sb.url, page_size=PAGE_SIZE))
        assert run.returncode == 0, run.stderr[-3000:]
        ids = run.ids()
        assert run.duplicates() == {}, "no contact may be emitted twice in a static sync"
        missing = truth_ids(truth) - set(ids)
        requests_made = sum(sb.stats()["by_path"]["/v1/contacts"].values())

    effective_page = clamp or PAGE_SIZE
    lower_bound = math.ceil(CONTACTS / effective_page)
    if page == "ignore" and clamp:
        # Nothing can reach past the first 100 of a larger tie group. The loss is not
        # silent: a WARNING names each group, and a metric counts exactly what is missing.
        assert missing, "the sandbox should make this case lossy"
        groups = [g for g in truth["tie_groups"] if g["size"] > clamp]
        for group in groups:
            assert _normalized(group["updated"]) in run.stderr
        assert run.metric("records_missed")["value"] == len(missing)
        assert run.metric("tie_groups_incomplete")["value"] == len(groups)
        assert "could not be read in full" in run.stderr
    else:
        assert missing == set()
        assert "could not be read in full" not in run.stderr
        assert "WARNING" not in run.stderr
    if clamp:
        # Oversized groups are read twice (a verifying pass) by offsets.
        assert requests_made <= 2 * lower_bound + 3
    else:
        assert requests_made <= lower_bound + 3


@pytest.mark.parametrize("cursor", ["strict", "inclusive"])
@pytest.mark.parametrize("page", ["zero", "ignore"])
def test_server_that_truncates_date_to_milliseconds(cursor: str, page: str) -> None:
    """A server that stores JavaScript dates reads `date` to the millisecond only."""
    with Sandbox(
        contacts=CONTACTS,
        seed=12,
        cursor=cursor,
        page=page,
        date_precision="millis",
        max_limit=CLAMP if page == "zero" else 0,
    ) as sb:
        truth = sb.truth()
        run = run_tap(sandbox_config(sb.url, page_size=PAGE_SIZE))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.duplicates() == {}
    assert set(run.ids()) == truth_ids(truth)


@pytest.mark.parametrize("contacts", [0, 1, 2, 31])
@pytest.mark.parametrize("page", ["ignore", "zero"])
def test_tiny_data_sets(contacts: int, page: str) -> None:
    """No false alarm and no loss when the whole list fits in one answer."""
    with Sandbox(contacts=contacts, seed=1, page=page) as sb:
        truth = sb.truth()
        run = run_tap(sandbox_config(sb.url, page_size=30))
        requests_made = sum(sb.stats()["by_path"].get("/v1/contacts", {}).values())
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(run.ids()) == sorted(truth_ids(truth))
    assert "WARNING" not in run.stderr
    assert requests_made <= 8


def test_all_streams_match_truth() -> None:
    with Sandbox(contacts=800, seed=5) as sb:
        truth = sb.truth()
        run = run_tap(sandbox_config(sb.url, page_size=500))
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(run.ids("contacts")) == sorted(truth_ids(truth))
    assert sorted(run.ids("tags")) == sorted(int(i) for i in truth["tags"])
    assert sorted(run.ids("contact_fields")) == sorted(truth["contact_fields"])
    revs = {r["id"]: r["rev"] for r in run.records["contacts"]}
    assert revs == {int(k): v for k, v in truth["contacts"].items()}


def test_updated_is_normalised_to_one_utc_format() -> None:
    with Sandbox(contacts=300, seed=2, precision="seconds") as sb:
        run = run_tap(sandbox_config(sb.url))
    pattern = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
    for stream in ("contacts", "tags"):
        for record in run.records[stream]:
            assert pattern.match(record["updated"]), record["updated"]
            assert record["created"] is None or pattern.match(record["created"])


def _normalized(api_value: str) -> str:
    from tap_heymarket import timestamps

    return timestamps.normalize(timestamps.parse(api_value))
