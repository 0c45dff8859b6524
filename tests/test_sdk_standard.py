"""The SDK's standard tap tests, against a sandbox on a port chosen before collection.

`get_tap_test_class` builds the tap at collection time, so the config must be complete
then; it names a free local port, and the sandbox starts on it only when tests run.
Environment parsing is off, and conftest.py strips TAP_HEYMARKET_* variables.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from heymarket_dev.generated import CATALOG
from heymarket_sandbox import Sandbox
from tap_heymarket.tap import TapHeymarket
from tests.tap_runner import sandbox_config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PORT = _free_port()
CONFIG = sandbox_config(f"http://127.0.0.1:{PORT}", page_size=100)


@pytest.fixture(scope="module", autouse=True)
def sandbox() -> Iterator[Sandbox]:
    # Every stream must return records: messages and conversations are off by default.
    # Every field in each of its other plausible shapes (heymarket_sandbox/shapes.py), so
    # that the SDK's own schema checks see the records conformance.py makes of them.
    shapes = {"shapes": "all"}
    with Sandbox(contacts=400, seed=9, port=PORT, messages=300, conversations=300, **shapes) as sb:
        yield sb


def _every_stream_selected() -> dict:
    """catalog/catalog.json with every stream selected, `contact_status` included.

    The SDK's dry run selects each stream only after the tap has built its stream maps,
    which would leave a stream not selected by default with an empty schema.
    """
    catalog = json.loads(CATALOG.read_text())
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    return dict(catalog)


_Base = get_tap_test_class(
    TapHeymarket,
    config=CONFIG,
    catalog=_every_stream_selected(),
    parse_env_config=False,
    # delete_sweeps has rows only after a detect_deletes sweep (tests/test_deletes.py).
    suite_config=SuiteConfig(
        max_records_limit=250, ignore_no_records_for_streams=["delete_sweeps"]
    ),
)


class TestTapHeymarketStandard(_Base):  # type: ignore[valid-type,misc]
    """Discovery, sync, schema conformance and stream attribute checks."""
