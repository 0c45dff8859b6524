"""The SDK's standard tap tests, against a sandbox on a port chosen before collection.

`get_tap_test_class` builds the tap at collection time, so the config must be complete
then; it names a free local port, and the sandbox starts on it only when tests run.
Environment parsing is off, and conftest.py strips TAP_HEYMARKET_* variables.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

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
    with Sandbox(contacts=400, seed=9, port=PORT) as sb:
        yield sb


_Base = get_tap_test_class(
    TapHeymarket,
    config=CONFIG,
    parse_env_config=False,
    suite_config=SuiteConfig(max_records_limit=250),
)


class TestTapHeymarketStandard(_Base):  # type: ignore[valid-type,misc]
    """Discovery, sync, schema conformance and stream attribute checks."""
