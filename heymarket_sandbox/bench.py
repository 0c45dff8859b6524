"""Scale check: python -m heymarket_sandbox.bench [--contacts 1000000] [--pages 200] [--full]

Starts `python -m heymarket_sandbox` as a subprocess and reports startup time, RSS and the
time per 500-contact page (first read and cached re-read), as recorded in docs/sandbox.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .auth import make_jwt

REPO = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--pages", type=int, default=200, help="500-contact pages to time")
    ap.add_argument("--full", action="store_true", help="page through every contact")
    args = ap.parse_args()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heymarket_sandbox",
            "--port",
            "0",
            "--contacts",
            str(args.contacts),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip().split("=", 1)[1]
    startup = time.perf_counter() - t0
    out: dict[str, object] = {
        "contacts": args.contacts,
        "startup_s": round(startup, 2),
        "rss_mb_start": round(rss_mb(proc.pid)),
    }

    def page(date: str | None) -> tuple[float, list[dict[str, object]]]:
        body = {"limit": 500} if date is None else {"limit": 500, "date": date}
        req = urllib.request.Request(
            url + "/v1/contacts",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {make_jwt()}", "Content-Type": "application/json"},
        )
        t = time.perf_counter()
        with opener.open(req) as resp:
            raw = resp.read()
        ms = (time.perf_counter() - t) * 1000
        return ms, json.loads(raw)

    try:
        first, again, date, seen = [], [], None, 0
        limit = args.contacts // 500 + 1 if args.full else args.pages
        dates: list[str | None] = []
        for _ in range(limit):
            dates.append(date)
            ms, rows = page(date)
            first.append(ms)
            seen += len(rows)
            if not rows:
                break
            date = str(rows[-1]["updated"])
        for d in dates[-61:-1]:  # the most recent pages are still in the JSON cache
            again.append(page(d)[0])
        q = statistics.quantiles
        out.update(
            {
                "pages": len(first),
                "contacts_read": seen,
                "page_ms_first_median": round(statistics.median(first), 1),
                "page_ms_first_p95": round(q(first, n=20)[-1], 1),
                "page_ms_cached_median": round(statistics.median(again), 1),
                "rss_mb_after_paging": round(rss_mb(proc.pid)),
            }
        )
        t = time.perf_counter()
        with opener.open(url + "/__sandbox/truth") as resp:
            resp.read()
        out["truth_s"] = round(time.perf_counter() - t, 2)
        out["rss_mb_after_truth"] = round(rss_mb(proc.pid))
        hwm = [
            ln
            for ln in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
            if ln.startswith("VmHWM:")
        ]
        out["rss_mb_high_water"] = round(int(hwm[0].split()[1]) / 1024) if hwm else None
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
