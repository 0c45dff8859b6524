"""The one report of tie groups a walk could not read in full, and what that may cost.

A tie group is read in full unless the API clamps `limit` below the group's size and also
ignores `page` (tie_groups.py): then the walker reads what one answer holds and records the
group in `WalkMemory.incomplete_groups`. Every walk (contacts, tags, templates, each
conversations walk, messages) reports such groups here at its end. When the caller could
count the records (a full walk, not resumed, with a count endpoint), the report gives the
exact shortfall, or clears a false alarm when nothing is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence


def listed_groups(groups: Sequence[tuple[str, int]], shown: int = 5) -> str:
    """The groups as `<updated> (<n> read)`, the first few of them."""
    listed = ", ".join(f"{at} ({read} read)" for at, read in groups[:shown])
    if len(groups) > shown:
        listed += f" and {len(groups) - shown} more"
    return listed


def report_incomplete_groups(
    logger: logging.Logger | logging.LoggerAdapter,
    label: str,
    groups: Sequence[tuple[str, int]],
    *,
    emitted: int,
    total: int | None,
    noun: str = "record",
) -> int | None:
    """Log what the groups may cost; return how many records are missing.

    `total` is the API's count for the walk (None when it was not counted). Returns 0 when
    the count shows every record was read (an INFO line, no warning), the number missing
    when counted, and None when it is unknown (a WARNING in both cases).
    """
    missing = None if total is None else max(total - emitted, 0)
    if missing == 0:
        logger.info(
            "%s: the API counts %d and all %d were extracted; the tie groups that could "
            "not be paged through were complete",
            label,
            total,
            emitted,
        )
        return 0
    how_many = (
        f"{missing} {noun}(s) are missing (the API counts {total}, {emitted} were extracted)"
        if missing is not None
        else f"an unknown number of {noun}s may be missing (a full sync counts them)"
    )
    logger.warning(
        "%s: %d tie group(s) could not be read in full because the API clamps `limit` "
        "and ignores `page`: %s; %s",
        label,
        len(groups),
        listed_groups(groups),
        how_many,
    )
    return missing
