"""python -m heymarket_sandbox --port 8765 --contacts 5000 --seed 1 [switches]"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .config import SWITCHES, coerce
from .server import SandboxServer


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m heymarket_sandbox",
        description="Local Heymarket API sandbox (127.0.0.1 only).",
    )
    p.add_argument("--port", type=int, default=8765, help="TCP port (0 = pick a free one)")
    p.add_argument("--url-file", default=None, help="write the URL to this file once ready")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    for sw in SWITCHES.values():

        def conv(value: str, _name: str = sw.name) -> Any:
            try:
                return coerce(_name, value)
            except ValueError as e:
                raise argparse.ArgumentTypeError(str(e)) from None

        conv.__name__ = sw.name
        default = "off" if sw.default is None else sw.default
        # a bare `--empty-inbox` means true; `--empty-inbox 0` / `false` work too
        bare: dict[str, Any] = {"nargs": "?", "const": True} if sw.kind == "bool" else {}
        p.add_argument(
            sw.flag,
            dest=sw.name,
            type=conv,
            default=sw.default,
            help=f"{sw.help} (default: {default!r})",
            **bare,
        )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    switches = {name: getattr(args, name) for name in SWITCHES}
    try:
        server = SandboxServer(port=args.port, verbose=args.verbose, **switches)
    except ValueError as e:
        print(f"sandbox: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name="sandbox-server",
        daemon=True,
    )
    thread.start()
    url = server.url
    if args.url_file:
        tmp = Path(f"{args.url_file}.tmp{os.getpid()}")
        tmp.write_text(url + "\n")
        tmp.replace(args.url_file)
    print(f"SANDBOX_URL={url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
