"""Console entry point: the SDK's CLI, with failures reported as one readable line.

A data engineer reading a Meltano log wants the cause, not a traceback: which setting
is wrong, or which request failed with which X-Request-Id. Set
`TAP_HEYMARKET_TRACEBACK=1` to see the full traceback as well.
"""

from __future__ import annotations

import gc
import os
import sys

from singer_sdk.exceptions import ConfigValidationError, FatalAPIError

from tap_heymarket.settings import InvalidConfigError
from tap_heymarket.state import InvalidStateError
from tap_heymarket.tap import TapHeymarket

EXIT_FAILURE = 1


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ConfigValidationError):
        return "invalid config: " + "; ".join(exc.errors or [str(exc)])
    if isinstance(exc, (InvalidStateError, InvalidConfigError)):
        return str(exc)
    if isinstance(exc, ValueError) and "JSON" in type(exc).__name__:  # json or simplejson
        return f"could not read a JSON input file (--config/--state/--catalog): {exc}"
    if isinstance(exc, FatalAPIError):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def main() -> None:
    """Run the tap; on failure print `tap-heymarket: error: <cause>` and exit 1."""
    # Everything imported so far lives as long as the process: keep it out of the cyclic
    # collector's scans, which a sync's many short-lived records trigger (docs/benchmarks.md).
    gc.freeze()
    try:
        # standalone_mode=False lets errors reach us; click then returns exit codes.
        code = TapHeymarket.cli.main(prog_name="tap-heymarket", standalone_mode=False)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except BaseException as exc:
        if os.environ.get("TAP_HEYMARKET_TRACEBACK"):
            raise
        sys.stdout.flush()
        print(f"tap-heymarket: error: {_one_line(exc)}", file=sys.stderr, flush=True)
        sys.exit(EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)
