"""Console entry point: the SDK's CLI, with failures reported as one readable line.

A data engineer reading a Meltano log wants the cause, not a traceback: which setting
is wrong, or which request failed with which X-Request-Id. Set
`TAP_HEYMARKET_TRACEBACK=1` to see the full traceback as well.
"""

from __future__ import annotations

import gc

# The SDK's import builds objects that live as long as the process; the cyclic collector
# would scan them over and over while they load (about 30 ms of every run's start, a tenth
# of the import). `main` freezes them once loaded (see there).
_COLLECTING = gc.isenabled()
gc.disable()

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from singer_sdk.exceptions import ConfigValidationError, FatalAPIError  # noqa: E402
from singer_sdk.logging import StructuredFormatter  # noqa: E402

from tap_heymarket.settings import InvalidConfigError  # noqa: E402
from tap_heymarket.state import InvalidStateError  # noqa: E402
from tap_heymarket.tap import TapHeymarket  # noqa: E402

if _COLLECTING:
    gc.enable()

EXIT_FAILURE = 1


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ConfigValidationError):
        return "invalid config: " + "; ".join(exc.errors or [str(exc)])
    if isinstance(exc, (InvalidStateError, InvalidConfigError)):
        return str(exc)
    if isinstance(exc, ValueError) and "JSON" in type(exc).__name__:  # json or simplejson
        # input_file_error names the file first; this is for JSON read anywhere else.
        return f"could not read a JSON input file (--config/--state/--catalog): {exc}"
    if isinstance(exc, FatalAPIError):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


#: The options whose value is a JSON file the tap reads (`--config ENV` reads the environment).
FILE_OPTIONS = ("--config", "--state", "--catalog")


def input_file_error(argv: list[str]) -> str | None:
    """The first `--config`/`--state`/`--catalog` file that is missing or not JSON, named
    with its option (`--state state.json: not JSON: ...`), before the SDK reads it and
    reports the problem without saying which file it was."""
    for option, value in _file_arguments(argv):
        if option == "--config" and value == "ENV":
            continue
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return f"{option} {value}: no such file"
        except (OSError, UnicodeDecodeError) as exc:
            return f"{option} {value}: cannot be read: {exc}"
        try:
            json.loads(text)
        except ValueError as exc:
            return f"{option} {value}: not JSON: {exc}"
    return None


def _file_arguments(argv: list[str]) -> list[tuple[str, str]]:
    found = []
    for n, arg in enumerate(argv):
        option, sep, value = arg.partition("=")
        if option not in FILE_OPTIONS:
            continue
        if not sep and n + 1 < len(argv):
            value = argv[n + 1]
        if value:
            found.append((option, value))
    return found


def report(line: str) -> None:
    """The fatal line, once: as a structured ERROR record when the log is structured (Meltano
    configures the SDK's JSON logging, and reads each record's level), else as plain text on
    stderr, where a person or a script finds it as the last line."""
    logger = logging.getLogger("tap-heymarket")
    handlers = [h for lg in (logger, logging.getLogger()) for h in lg.handlers]
    if any(isinstance(h.formatter, StructuredFormatter) for h in handlers):
        logger.error("%s", line)
        return
    print(line, file=sys.stderr, flush=True)


def main() -> None:
    """Run the tap; on failure print `tap-heymarket: error: <cause>` and exit 1."""
    # Everything imported so far lives as long as the process: keep it out of the cyclic
    # collector's scans, which a sync's many short-lived records trigger (docs/benchmarks.md).
    gc.freeze()
    traceback = bool(os.environ.get("TAP_HEYMARKET_TRACEBACK"))
    problem = None if traceback else input_file_error(sys.argv[1:])
    if problem:
        report(f"tap-heymarket: error: {problem}")
        sys.exit(EXIT_FAILURE)
    try:
        # standalone_mode=False lets errors reach us; click then returns exit codes.
        code = TapHeymarket.cli.main(prog_name="tap-heymarket", standalone_mode=False)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except BaseException as exc:
        if traceback:
            raise
        sys.stdout.flush()
        report(f"tap-heymarket: error: {_one_line(exc)}")
        sys.exit(EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)
