"""The delete sweep (`tap_heymarket/sweep.py`, `swept_stream.py`) in process, in the fast suite.

tests/tap/test_deletes.py proves the sweep end to end through tap subprocesses (slow); these
run the same tap class in this process against small sandboxes, so that `make unit` and
the mutation run (`make mutate`, docs/testing.md) see the sweep's rounds, its proof of
completeness and its end: exactly the deleted records marked when the walk proves it read
everything, nothing activated when it cannot.
"""

from __future__ import annotations

import logging
import typing as t

import pytest

from heymarket_sandbox import Sandbox
from tap_heymarket.tap import TapHeymarket
from tests.support.sweeps import (
    PostgresModel,
    activations,
    assert_exactly_deleted,
    delete_some,
    swept,
)
from tests.support.tap_runner import parse_messages, sandbox_config, stream_truth

Messages = list[dict[str, t.Any]]


class Runs:
    """Runs of the tap in this process against a sandbox: what each wrote and logged."""

    def __init__(self, out: pytest.CaptureFixture[bytes], log: pytest.LogCaptureFixture) -> None:
        self.out, self.log = out, log
        # In process nothing has configured the tap's logger (the CLI would, to INFO).
        log.set_level(logging.INFO, logger="tap-heymarket")

    def __call__(self, config: dict[str, t.Any], state: dict[str, t.Any] | None = None) -> Messages:
        return self.logged(config, state)[0]

    def logged(
        self,
        config: dict[str, t.Any],
        state: dict[str, t.Any] | None = None,
        *,
        fails: bool = False,
    ) -> tuple[Messages, str]:
        """The run's messages and its log. `fails`: the run must end on an error (the
        sandbox's `fail_after`), as a killed run would, after what it wrote."""
        self.out.readouterr()
        self.log.clear()
        tap = TapHeymarket(config=config, state=state, parse_env_config=False)
        if fails:
            with pytest.raises(Exception, match="503"):
                tap.sync_all()
        else:
            tap.sync_all()
        return parse_messages(self.out.readouterr().out.decode()), self.log.text


@pytest.fixture
def sync(capfdbinary: pytest.CaptureFixture[bytes], caplog: pytest.LogCaptureFixture) -> Runs:
    return Runs(capfdbinary, caplog)


def contact_records(messages: Messages) -> Messages:
    return [m for m in messages if m["type"] == "RECORD" and m["stream"] == "contacts"]


def last_state(messages: Messages) -> dict[str, t.Any]:
    return [m["value"] for m in messages if m["type"] == "STATE"][-1]


@pytest.mark.parametrize("created", [1, 0], ids=["changed-and-created", "changed-only"])
def test_a_sweep_marks_exactly_the_deleted_records(sync: Runs, created: int) -> None:
    """With nothing created, only a changed rev can tell the proof of completeness that a
    record moved since the sweep emitted it (a new id would tell it anyway)."""
    with Sandbox(contacts=240, seed=21, max_limit=50) as sb:
        config = sandbox_config(sb.url, page_size=50)
        full = sync(config)
        deleted = delete_some(sb, contacts=6, tags=2, templates=1)
        # Contacts and templates change and are created while the sweep reads them.
        sb.configure(mutate_every=2, mutate_count=5, create_count=created, mutate_templates=1)
        sweep = sync(swept(config), last_state(full))
        sb.configure(mutate_every=0)
        truth = sb.truth()
        mutations = sb.stats()["mutations"]
        after = sync(config, last_state(sweep))
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
    sync: Runs,
) -> None:
    """`limit` clamped below a tie group and `page` ignored: contacts cannot be proven
    complete, so none is marked; tags and templates, read in full, are activated."""
    with Sandbox(contacts=600, seed=11, max_limit=40, page="ignore") as sb:
        config = sandbox_config(sb.url, page_size=60)
        full = sync(config)
        deleted = delete_some(sb, contacts=3, tags=1, templates=1)
        sweep = sync(swept(config), last_state(full))
    model = PostgresModel()
    model.apply(full)
    model.apply(sweep)
    assert set(activations(sweep)) == {"tags", "templates"}
    assert not model.marked("contacts")
    assert model.marked("tags") == deleted["tags"]
    assert model.marked("templates") == deleted["templates"]
    assert last_state(sweep)["bookmarks"]["contacts"]["last_sweep"]["activated"] is False


def test_a_failed_sweep_marks_nothing_and_its_resumption_marks_exactly_the_deleted(
    sync: Runs,
) -> None:
    """The sweep fails mid-walk (every request answers 503 from the 6th contacts request
    on), as a killed one would: nothing is activated. Resumed from its last STATE, it
    continues below its cursor with the same version, starts the streams it had not begun,
    and the rows of both runs together mark exactly the deleted records."""
    with Sandbox(contacts=900, seed=43) as sb:
        config = sandbox_config(sb.url, page_size=50, max_retries=0)
        full = sync(config)
        deleted = delete_some(sb, contacts=5, tags=2, templates=1)
        sb.reset_stats()
        sb.configure(fail_after=6)
        failed, _ = sync.logged(swept(config), last_state(full), fails=True)
        sb.configure(fail_after=0)
        sb.reset_stats()
        resumed, log = sync.logged(swept(config), last_state(failed))
        resumed_requests = sum(sb.stats()["by_path"]["/v1/contacts"].values())
        truth = sb.truth()
    assert activations(failed) == {}, "a failed sweep must mark nothing"
    before = contact_records(failed)
    assert len(before) >= 100, "the failure should come mid-walk"
    assert last_state(failed)["bookmarks"]["contacts"]["sweep"]["walk"]["cursor"]
    model = PostgresModel()
    model.apply(full)
    model.apply(failed)
    assert model.marked("contacts") == set()
    assert "continuing the unfinished delete sweep" in log
    version = before[0]["version"]
    acts = activations(resumed)
    assert acts["contacts"] == [version]
    assert set(acts) == {"contacts", "tags", "templates"}
    assert acts["tags"] == acts["templates"] and acts["tags"][0] > version
    # It went on from where it stopped: fewer requests than a walk of all 900 from the top.
    assert resumed_requests < 900 // 50, "the resumed sweep started over"
    assert {m["version"] for m in contact_records(resumed)} == {version}
    model.apply(resumed)
    assert_exactly_deleted(model, deleted, truth)


def test_a_regular_run_drops_an_unfinished_sweep(
    sync: Runs,
) -> None:
    """Rows a regular run writes carry no version, so a sweep pending across it could mark
    them: the regular run drops it, and the next sweep starts over with a newer version."""
    with Sandbox(contacts=600, seed=44) as sb:
        config = sandbox_config(sb.url, page_size=50, max_retries=0)
        full = sync(config)
        deleted = delete_some(sb, contacts=4, tags=1, templates=1)
        sb.configure(fail_after=5)
        failed, _ = sync.logged(swept(config), last_state(full), fails=True)
        sb.configure(fail_after=0)
        changed = sb.mutate(n=6, new=2)
        regular, log = sync.logged(config, last_state(failed))
        sweep = sync(swept(config), last_state(regular))
        truth = sb.truth()
    assert activations(failed) == {}
    assert "an unfinished delete sweep is dropped" in log
    assert "sweep" not in last_state(regular)["bookmarks"]["contacts"]
    assert set(changed["updated_ids"]) <= {m["record"]["id"] for m in contact_records(regular)}
    old = contact_records(failed)[0]["version"]
    assert activations(sweep)["contacts"][0] > old
    model = PostgresModel()
    for run in (full, failed, regular, sweep):
        model.apply(run)
    assert_exactly_deleted(model, deleted, truth)


def test_a_sweep_in_a_state_of_its_own_starts_over(
    sync: Runs,
) -> None:
    """A sweep whose state has no regular bookmark (another Meltano state id, say) never
    continues: its rows could not be told from a regular run's."""
    with Sandbox(contacts=400, seed=45) as sb:
        config = sandbox_config(sb.url, page_size=50, max_retries=0)
        sb.configure(fail_after=4)
        alone, _ = sync.logged(swept(config), None, fails=True)
        sb.configure(fail_after=0)
        again, log = sync.logged(swept(config), last_state(alone))
    assert activations(alone) == {}
    assert "starting a new delete sweep rather than continuing" in log
    first = contact_records(alone)[0]["version"]
    assert activations(again)["contacts"][0] > first
    assert len({m["record"]["id"] for m in contact_records(again)}) == 400


def test_records_that_never_stop_changing_are_not_activated(
    sync: Runs,
) -> None:
    """Every contacts request changes contacts: no answer can show them all emitted."""
    with Sandbox(contacts=300, seed=12, mutate_every=1, mutate_count=3, create_count=1) as sb:
        sweep, log = sync.logged(swept(sandbox_config(sb.url, page_size=100)))
    assert "contacts" not in activations(sweep)
    assert {"tags", "templates"} <= set(activations(sweep))
    assert "catch-up rounds did not settle" in log
    assert last_state(sweep)["bookmarks"]["contacts"]["last_sweep"]["activated"] is False


def test_an_empty_stream_is_not_activated(sync: Runs) -> None:
    """An empty answer cannot be told from a deleted team: no row is marked on it."""
    with Sandbox(contacts=120, seed=13, templates=0) as sb:
        sweep, log = sync.logged(swept(sandbox_config(sb.url)))
    assert set(activations(sweep)) == {"contacts", "tags"}
    assert "templates: deletes were not detected this run" in log
    assert "read no record at all" in log


def test_a_new_sweep_versions_above_every_sweep_before_it(sync: Runs) -> None:
    """Versions are times, but a sweep run on a machine whose clock ran ahead left a later
    one: the next sweep's version must still be above it, or its ACTIVATE_VERSION would
    mark every row that sweep wrote."""
    with Sandbox(contacts=150, seed=46) as sb:
        config = sandbox_config(sb.url)
        first = sync(swept(config))
        state = last_state(first)
        ahead = state["bookmarks"]["contacts"]["last_sweep"]["version"] + 10**9
        state["bookmarks"]["contacts"]["last_sweep"]["version"] = ahead
        second = sync(swept(config), state)
    assert activations(second)["contacts"] == [ahead + 1]
    assert {m["version"] for m in contact_records(second)} == {ahead + 1}
