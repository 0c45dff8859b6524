"""The tap's METRIC lines: counters in the SDK's metric log format, for log-based monitoring.

Every counter the tap adds (`records_missed`, `tie_groups_incomplete`,
`values_not_conformed`, ...; README, "Monitoring") goes through `log_counter`, so each has
the SDK's shape: `METRIC: {"type": "counter", "metric": ..., "value": ..., "tags": ...}`.
"""

from __future__ import annotations

import json

from singer_sdk.metrics import get_metrics_logger


def log_counter(name: str, value: int, **tags: str) -> None:
    """One counter point, tagged (always with the stream's name)."""
    point = {"type": "counter", "metric": name, "value": value, "tags": tags}
    get_metrics_logger().info("METRIC: %s", json.dumps(point, separators=(",", ":")))
