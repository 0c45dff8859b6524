"""What the delete-sweep tests share: a model of what target-postgres makes of the tap's
messages, and the sweep's bookkeeping (tests/tap/test_deletes.py,
tests/sandbox/test_deletes_in_process.py)."""

from __future__ import annotations

from typing import Any

from heymarket_sandbox import Sandbox
from tests.support.tap_runner import (
    TapRun,
    stream_truth,
)

SWEPT = ("contacts", "tags", "templates")


class PostgresModel:
    """What target-postgres 0.8.1 (upsert, activate_version, soft deletes) makes of the
    tap's messages, per stream: id -> {"version", "deleted", "rev"}."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[int, dict[str, Any]]] = {s: {} for s in SWEPT}

    def apply(self, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            table = self.tables.get(m.get("stream", ""))
            if table is None:
                continue
            if m["type"] == "RECORD":
                table[m["record"]["id"]] = {
                    "version": m.get("version"),
                    "deleted": False,
                    "rev": m["record"].get("rev"),
                }
            elif m["type"] == "ACTIVATE_VERSION":
                for row in table.values():
                    if row["version"] is None or row["version"] < m["version"]:
                        row["deleted"] = True

    def marked(self, stream: str) -> set[int]:
        return {i for i, row in self.tables[stream].items() if row["deleted"]}

    def live(self, stream: str) -> set[int]:
        return {i for i, row in self.tables[stream].items() if not row["deleted"]}


def activations(run: TapRun | list[dict[str, Any]]) -> dict[str, list[int]]:
    messages = run.messages if isinstance(run, TapRun) else run
    out: dict[str, list[int]] = {}
    for m in messages:
        if m["type"] == "ACTIVATE_VERSION":
            out.setdefault(m["stream"], []).append(m["version"])
    return out


def assert_exactly_deleted(model: PostgresModel, deleted: dict[str, set[int]], truth: dict) -> None:
    """The rows marked are exactly the records deleted; none of them exists."""
    for stream in SWEPT:
        existing = set(stream_truth(truth, stream))
        marked = model.marked(stream)
        assert marked == deleted[stream], (stream, sorted(marked ^ deleted[stream])[:10])
        assert not marked & existing, f"{stream}: false deletes {sorted(marked & existing)}"
        assert model.live(stream) <= existing


def delete_some(sb: Sandbox, contacts: int = 7, tags: int = 3, templates: int = 2) -> dict:
    return {
        "contacts": set(sb.delete("contacts", contacts)),
        "tags": set(sb.delete("tags", tags)),
        "templates": set(sb.delete("templates", templates)),
    }


def swept(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "detect_deletes": True}
