"""inboxes, team_members, templates and surveys equal the sandbox's truth, under every
answer the docs leave open (docs/api.md, "Inboxes" to "Surveys")."""

from __future__ import annotations

import itertools

import pytest

from heymarket_sandbox import Sandbox
from tests.support.singer_check import check_messages
from tests.support.tap_runner import (
    assert_streams_match_truth,
    run_tap,
    sandbox_config,
    stream_truth,
)

ACCOUNT = ("inboxes", "team_members", "templates", "surveys")
CURSORS = list(itertools.product(("strict", "inclusive"), ("seconds", "millis")))


def test_every_account_stream_equals_truth() -> None:
    with Sandbox(contacts=200, seed=21, empty_inbox=True) as sb:
        truth = sb.truth()
        run = run_tap(sandbox_config(sb.url))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "WARNING" not in run.stderr
    for stream in ACCOUNT:
        assert run.duplicates(stream) == {}, stream
    assert_streams_match_truth({s: run.revs(s) for s in ACCOUNT}, truth, ACCOUNT)
    # Every record is valid against its schema, whatever shape `invited` has.
    check_messages(run.messages)
    inboxes = run.records["inboxes"]
    # `invited` comes both ways; each form has its own column of one type.
    assert any(isinstance(i["invited"], bool) for i in inboxes)
    assert any(isinstance(i.get("invited_list"), list) for i in inboxes)
    assert all(i.get("invited") is None or i.get("invited_list") is None for i in inboxes)
    # The fields the docs do not list are kept, not dropped.
    assert any(i["extra_fields"] for i in inboxes)
    assert truth["streams"]["inboxes"]["without_members"], "the sandbox should have one"
    empty = set(truth["streams"]["inboxes"]["without_members"])
    assert all(i["members"] == [] for i in inboxes if i["id"] in empty)
    team_id = next(iter(stream_truth(truth, "team")))
    assert {m["team_id"] for m in run.records["team_members"]} == {team_id}


@pytest.mark.parametrize(("cursor", "precision"), CURSORS, ids=["-".join(c) for c in CURSORS])
def test_templates_full_then_incremental(cursor: str, precision: str) -> None:
    """Ties across the 30-per-answer pages, then changes arrive with the next run."""
    with Sandbox(contacts=50, seed=22, cursor=cursor, precision=precision) as sb:
        full = run_tap(sandbox_config(sb.url))
        assert full.returncode == 0, full.stderr[-3000:]
        assert full.duplicates("templates") == {}
        assert_streams_match_truth(
            {"templates": full.revs("templates")}, sb.truth(), ("templates",)
        )

        changed = sb.mutate(n=0, new=0, templates=7)["template_ids"]
        incremental = run_tap(sandbox_config(sb.url), state=full.final_state)
        truth = sb.truth()
    assert incremental.returncode == 0, incremental.stderr[-3000:]
    assert "WARNING" not in full.stderr + incremental.stderr
    emitted = incremental.revs("templates")
    assert set(changed) <= set(emitted)
    # An unchanged record is not emitted again (the bookmark keeps the ids and revs at it).
    assert set(emitted) == set(changed)
    merged = {**full.revs("templates"), **emitted}
    assert_streams_match_truth({"templates": merged}, truth, ("templates",))


@pytest.mark.parametrize("mode", ["listed", "hidden"])
def test_templates_archived_either_way(mode: str) -> None:
    with Sandbox(contacts=20, seed=23, archived_templates=mode) as sb:
        truth = sb.truth()
        run = run_tap(sandbox_config(sb.url))
    assert run.returncode == 0, run.stderr[-3000:]
    assert_streams_match_truth({"templates": run.revs("templates")}, truth, ("templates",))
    archived = [t for t in run.records["templates"] if t["archived"]]
    assert bool(archived) == (mode == "listed")


@pytest.mark.parametrize("page0", ["first", "error"])
@pytest.mark.parametrize("clamp", [0, 7], ids=["honoured-limit", "clamped-limit"])
def test_surveys_page_from_one_to_an_empty_page(page0: str, clamp: int) -> None:
    """Pages start at 1 (page 0 may be an error), and a clamped short page is not the end."""
    with Sandbox(contacts=20, seed=24, survey_page0=page0, max_limit=clamp) as sb:
        truth = sb.truth()
        run = run_tap(sandbox_config(sb.url))
        requests_made = sum(sb.stats()["by_path"]["/v1/surveys"].values())
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.duplicates("surveys") == {}
    assert_streams_match_truth({"surveys": run.revs("surveys")}, truth, ("surveys",))
    surveys = len(stream_truth(truth, "surveys"))
    expected_requests = -(-surveys // clamp) + 1 if clamp else 2
    assert requests_made == expected_requests


@pytest.mark.parametrize("page", ["zero", "one", "ignore"])
def test_templates_tie_group_larger_than_an_answer(page: str) -> None:
    """36 templates share one `updated`: read by page offsets, or reported, never silent."""
    with Sandbox(contacts=20, seed=25, template_tie=36, page=page) as sb:
        truth = sb.truth()
        run = run_tap(sandbox_config(sb.url))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.duplicates("templates") == {}
    expected = stream_truth(truth, "templates")
    missing = set(expected) - set(run.revs("templates"))
    if page == "ignore":
        assert missing, "30 per answer and `page` ignored: the group cannot be read in full"
        assert "could not be read in full" in run.stderr
        assert run.metric("tie_groups_incomplete")["value"] == 1
    else:
        assert missing == set()
        assert "WARNING" not in run.stderr
