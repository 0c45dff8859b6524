"""The SDK's standard tap tests, against a sandbox on a port of its own.

`get_tap_test_class` builds the tap at collection time, so the config must be complete
then. A port chosen then and bound later can be taken in between, so the config names a
closed port until the sandbox, bound where it chose its port, gives its URL: the SDK's
runner keeps this very dict (`TapTestRunner.config`) and builds each tap from it.
Environment parsing is off, and conftest.py strips TAP_HEYMARKET_* variables.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from heymarket_dev.generated import CATALOG
from heymarket_sandbox import Sandbox
from tap_heymarket.tap import TapHeymarket
from tests.support.tap_runner import sandbox_config

#: Port 1 answers nothing: a tap that ran before the sandbox started would fail loudly.
#: `read_contact_status`: every stream, contact_status included, returns records.
CONFIG = sandbox_config("http://127.0.0.1:1", page_size=100, read_contact_status=True)


@pytest.fixture(scope="module", autouse=True)
def sandbox() -> Iterator[Sandbox]:
    # Every stream must return records: messages and conversations are off by default.
    # Every field in each of its other plausible shapes (heymarket_sandbox/shapes.py), so
    # that the SDK's own schema checks see the records conformance.py makes of them.
    shapes = {"shapes": "all"}
    with Sandbox(contacts=400, seed=9, messages=300, conversations=300, **shapes) as sb:
        CONFIG["api_url"] = sb.url
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
    # delete_sweeps has rows only after a detect_deletes sweep (tests/tap/test_deletes.py).
    suite_config=SuiteConfig(
        max_records_limit=250, ignore_no_records_for_streams=["delete_sweeps"]
    ),
)


class TestTapHeymarketStandard(_Base):  # type: ignore[valid-type,misc]
    """Discovery, sync, schema conformance and stream attribute checks."""
