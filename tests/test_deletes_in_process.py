"""The delete sweep (`tap_heymarket/deletes.py`) in process, in the fast suite.

tests/test_deletes.py proves the sweep end to end through tap subprocesses (slow); these
run the same tap class in this process against small sandboxes, so that `make unit` and
the mutation run (`make mutate`, docs/testing.md) see the sweep's rounds, its proof of
completeness and its end: exactly the deleted records marked when the walk proves it read
everything, nothing activated when it cannot.
"""

from __future__ import annotations

import typing as t

import pytest

from heymarket_sandbox import Sandbox
from tap_heymarket.tap import TapHeymarket
from tests.tap_runner import parse_messages, sandbox_config, stream_truth
from tests.test_deletes import (
    PostgresModel,
    activations,
    assert_exactly_deleted,
    delete_some,
    swept,
)

Messages = list[dict[str, t.Any]]


def sync(
    capfdbinary: pytest.CaptureFixture[bytes],
    config: dict[str, t.Any],
    state: dict[str, t.Any] | None = None,
) -> Messages:
    """One run of the tap in this process: the Singer messages it wrote."""
    capfdbinary.readouterr()
    TapHeymarket(config=config, state=state, parse_env_config=False).sync_all()
    return parse_messages(capfdbinary.readouterr().out.decode())


def last_state(messages: Messages) -> dict[str, t.Any]:
    return [m["value"] for m in messages if m["type"] == "STATE"][-1]


def test_a_sweep_marks_exactly_the_deleted_records(
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    with Sandbox(contacts=240, seed=21, max_limit=50) as sb:
        config = sandbox_config(sb.url, page_size=50)
        full = sync(capfdbinary, config)
        deleted = delete_some(sb, contacts=6, tags=2, templates=1)
        # Contacts and templates change and are created while the sweep reads them.
        sb.configure(mutate_every=2, mutate_count=5, create_count=1, mutate_templates=1)
        sweep = sync(capfdbinary, swept(config), last_state(full))
        sb.configure(mutate_every=0)
        truth = sb.truth()
        mutations = sb.stats()["mutations"]
        after = sync(capfdbinary, config, last_state(sweep))
    model = PostgresModel()
    model.apply(full)
    model.apply(sweep)
    assert mutations >= 3, "contacts should have changed during the sweep"
    assert_exactly_deleted(model, deleted, truth)
    assert set(activations(sweep)) == {"contacts", "tags", "templates"}
    # What changed during the sweep reached it at its latest rev (the catch-up rounds).
    for stream in ("contacts", "templates"):
        live = {i: row["rev"] for i, row in model.tables[stream].items() if not row["deleted"]}
        assert live == stream_truth(truth, stream), stream
    sweeps = {
        m["record"]["stream"]: m["record"]
        for m in sweep
        if m["type"] == "RECORD" and m["stream"] == "delete_sweeps"
    }
    assert set(sweeps) == {"contacts", "tags", "templates"}
    state = last_state(sweep)["bookmarks"]["contacts"]
    assert state["last_sweep"]["activated"] is True
    # A regular run afterwards marks nothing more and activates nothing.
    model.apply(after)
    assert_exactly_deleted(model, deleted, truth)
    assert not activations(after)


def test_a_sweep_that_cannot_read_a_tie_group_activates_nothing_of_it(
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    """`limit` clamped below a tie group and `page` ignored: contacts cannot be proven
    complete, so none is marked; tags and templates, read in full, are activated."""
    with Sandbox(contacts=600, seed=11, max_limit=40, page="ignore") as sb:
        config = sandbox_config(sb.url, page_size=60)
        full = sync(capfdbinary, config)
        deleted = delete_some(sb, contacts=3, tags=1, templates=1)
        sweep = sync(capfdbinary, swept(config), last_state(full))
    model = PostgresModel()
    model.apply(full)
    model.apply(sweep)
    assert set(activations(sweep)) == {"tags", "templates"}
    assert not model.marked("contacts")
    assert model.marked("tags") == deleted["tags"]
    assert model.marked("templates") == deleted["templates"]
    assert last_state(sweep)["bookmarks"]["contacts"]["last_sweep"]["activated"] is False
