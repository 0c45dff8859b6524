"""tap_heymarket/writer.py and the RECORD fast path in records.py, in a process of their own.

What the writer holds is written at exit. A stream map (alias, flattening) sends records
through the SDK's path instead, and still conformed. The writer in process:
tests/unit/test_writer.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t

import pytest

from heymarket_sandbox import Sandbox
from tests.support.tap_runner import REPO_ROOT, run_tap, sandbox_config


def test_what_is_held_is_written_at_exit() -> None:
    """A process that ends after a RECORD and before any STATE still writes it, with
    stdout unbuffered (`PYTHONUNBUFFERED`, as many containers set)."""
    code = (
        "from datetime import UTC, datetime\n"
        "from tap_heymarket.writer import BufferedMsgSpecWriter\n"
        "w = BufferedMsgSpecWriter()\n"
        "w.write_record('tags', {'id': 7}, None, datetime(2026, 1, 1, tzinfo=UTC))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-u", "-c", code],
        capture_output=True,
        cwd=REPO_ROOT,
        check=True,
        env={"PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"},
    )
    assert json.loads(proc.stdout) == {
        "type": "RECORD",
        "stream": "tags",
        "record": {"id": 7},
        "time_extracted": "2026-01-01T00:00:00Z",
    }


@pytest.fixture(scope="module")
def sandbox() -> t.Iterator[Sandbox]:
    with Sandbox(contacts=30, seed=3, shapes="all") as sb:
        yield sb


def _catalog_with(stream: str) -> dict[str, t.Any]:
    catalog = json.loads((REPO_ROOT / "catalog" / "catalog.json").read_text())
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == stream
    return dict(catalog)


def test_stream_maps_take_the_sdk_path_conformed(sandbox: Sandbox) -> None:
    """An alias and flattening (which the direct path cannot do) still apply, and the
    records are the plain run's, conformed the same way."""
    catalog = _catalog_with("inboxes")
    plain = run_tap(sandbox_config(sandbox.url), catalog=catalog)
    assert plain.returncode == 0, plain.stderr[-2000:]
    rows = plain.records["inboxes"]
    assert rows, "the plain run emitted no inboxes"

    aliased = run_tap(
        sandbox_config(sandbox.url, stream_maps={"inboxes": {"__alias__": "phone_lines"}}),
        catalog=catalog,
    )
    assert aliased.returncode == 0, aliased.stderr[-2000:]
    assert "inboxes" not in aliased.records
    assert aliased.records["phone_lines"] == rows

    flat = run_tap(
        sandbox_config(sandbox.url, flattening_enabled=True, flattening_max_depth=1),
        catalog=catalog,
    )
    assert flat.returncode == 0, flat.stderr[-2000:]
    nested = [k for k, v in rows[0].items() if isinstance(v, dict)]
    assert nested, "no JSON object column in inboxes to flatten"
    flattened = flat.records["inboxes"][0]
    assert not any(k in flattened for k in nested)
    assert any(k.startswith(f"{nested[0]}__") for k in flattened)
