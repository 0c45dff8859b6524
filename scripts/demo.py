"""`make demo`: sync the local Heymarket sandbox into DuckDB with Meltano and check the result.

1. `meltano install` (tap-heymarket, target-duckdb, target-jsonl into .meltano/).
2. Start the sandbox API server (heymarket_sandbox) on a free port: 5000 contacts, seed 1. The seed
   is fixed, so every demo run serves the same data.
3. `meltano --environment=sandbox run tap-heymarket target-duckdb` with a fixed state id, into
   output/sandbox.duckdb (the sandbox environment's file: sandbox rows never land in
   output/warehouse.duckdb, where `meltano run` puts real data). The first run is a full sync;
   later runs resume from the bookmark Meltano saved in .meltano/ and upsert on the primary
   key, so they add no duplicate rows.
4. Print, per table, the DuckDB row count beside the sandbox's truth, distinct ids and OK or
   MISMATCH. The sandbox is always stopped, even on failure. Exit status 1 on any mismatch.
5. `meltano --environment=sandbox run dbt-duckdb:build` (the dbt package in transform/, on the
   same file; the sandbox's messages are threaded for it), then a few lines of its marts:
   the slowest inboxes to answer and the last broadcasts. A failed build is a failed demo.

Meltano's own output goes to output/logs/demo-<time>.log. Run with .venv/bin/python.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from heymarket_dev.meltano import (  # noqa: E402
    DUCKDB_PYTHON,
    DUCKDB_SCHEMA,
    MELTANO,
    SANDBOX_DUCKDB,
    TABLES,
    clean_env,
    duckdb_stats,
    meltano_cmd,
    meltano_install,
    meltano_run,
    run_logged,
    sandbox_state_id,
    tail,
    truth_counts,
)
from heymarket_sandbox import Sandbox  # noqa: E402

DEMO_MESSAGES = 2_000
DEMO_CONVERSATIONS = 300
DUCKDB_FILE = SANDBOX_DUCKDB  # target-duckdb `filepath` in meltano.yml's sandbox environment


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def status(ok: bool) -> str:
    return "OK" if ok else "MISMATCH"


def saved_state(state_id: str, env: dict[str, str], env_file: Path) -> str | None:
    proc = subprocess.run(
        meltano_cmd("--environment=sandbox", "state", "get", state_id, env_file=env_file),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    text = proc.stdout.strip()
    try:
        state = json.loads(text) if proc.returncode == 0 else {}
    except ValueError:
        return None
    # `meltano state get` prints {} for an unknown (or cleared) state id.
    return text if state.get("singer_state", {}).get("bookmarks") else None


#: A few lines of the dbt package's marts (transform/, docs/analytics.md).
MART_QUERIES = {
    "the three slowest inboxes to answer (median first response, minutes)": (
        "SELECT coalesce(i.inbox_name, CAST(m.inbox_id AS VARCHAR)), count(*), "
        "round(median(m.first_response_minutes), 1) "
        "FROM heymarket_analytics.heymarket__conversation_metrics m "
        "LEFT JOIN heymarket_analytics.stg_heymarket__inboxes i ON i.inbox_id = m.inbox_id "
        "WHERE m.first_response_minutes IS NOT NULL GROUP BY 1 ORDER BY 3 DESC LIMIT 3"
    ),
    "the last three broadcasts (sent, recipients, delivered, failed, responded, opted out)": (
        "SELECT CAST(first_sent_at AS DATE), recipients, delivered, failed, responded, opted_out "
        "FROM heymarket_analytics.heymarket__broadcasts ORDER BY first_sent_at DESC LIMIT 3"
    ),
}


def show_marts(env: dict[str, str], env_file: Path, log: Path) -> bool:
    """`meltano --environment=sandbox run dbt-duckdb:build`, then a few lines of the marts."""
    cmd = meltano_cmd("--environment=sandbox", "run", "dbt-duckdb:build", env_file=env_file)
    t0 = time.monotonic()
    proc = run_logged(cmd, cwd=ROOT, env=env, log=log)
    if proc.returncode != 0:
        print(tail(log), file=sys.stderr)
        print(f"dbt build FAILED (exit {proc.returncode}); full log: {rel(log)}", file=sys.stderr)
        return False
    print(f"\n== dbt build (transform/, docs/analytics.md): {time.monotonic() - t0:.1f}s")
    query = subprocess.run(
        [str(DUCKDB_PYTHON), str(ROOT / "scripts" / "wh_query.py"), "duckdb", str(DUCKDB_FILE)],
        input=json.dumps([{"sql": q, "params": []} for q in MART_QUERIES.values()]),
        capture_output=True,
        text=True,
        check=False,
    )
    if query.returncode != 0:
        print(query.stderr[-2000:], file=sys.stderr)
        return False
    for title, rows in zip(MART_QUERIES, json.loads(query.stdout), strict=True):
        print(f"{title}:")
        for row in rows:
            print("  " + "  ".join(str(v) for v in row))
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description="Meltano + sandbox demo for tap-heymarket")
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--state-id-suffix", help="keep this demo's state apart (default: the plain state id)"
    )
    parser.add_argument("--skip-install", action="store_true", help="skip `meltano install`")
    parser.add_argument(
        "--shapes",
        default="all",
        help="the sandbox's `shapes` switch: every field also in its other plausible JSON "
        "types (default all; '' for none; see docs/sandbox.md)",
    )
    args = parser.parse_args()

    if not MELTANO.exists():
        print(f"{rel(MELTANO)} not found: run `make venv` first", file=sys.stderr)
        return 2
    logs = ROOT / "output" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    log = logs / f"demo-{stamp}.log"
    sandbox_log = logs / f"demo-{stamp}-sandbox.log"
    # An empty env file: a developer's .env (real credentials) must not override the sandbox.
    env_file = logs / ".demo-empty.env"
    env_file.write_text("")

    env = clean_env()
    if not args.skip_install:
        t0 = time.monotonic()
        print("meltano install ...", flush=True)
        meltano_install(env, log=log)
        print(f"meltano install: {time.monotonic() - t0:.1f}s", flush=True)

    state_id = sandbox_state_id(suffix=args.state_id_suffix)
    state_before = saved_state(state_id, env, env_file)
    before = duckdb_stats(DUCKDB_FILE)["tables"] if DUCKDB_FILE.exists() else {}
    # State without its output (e.g. `rm -r output`) would resume past rows that are gone.
    full_refresh = bool(state_before) and not DUCKDB_FILE.exists()
    if full_refresh:
        kind = "full refresh (saved state ignored: no DuckDB file)"
    elif state_before:
        kind = "incremental (resumed from saved state)"
    else:
        kind = "full (no saved state)"

    shapes = f", shapes {args.shapes}" if args.shapes else ""
    print(f"starting sandbox ({args.contacts} contacts, seed {args.seed}{shapes}) ...", flush=True)
    sandbox = Sandbox(
        process=True,
        log=sandbox_log,
        contacts=args.contacts,
        seed=args.seed,
        # Off in the sandbox by default; the demo shows every stream meltano.yml selects.
        messages=DEMO_MESSAGES,
        conversations=DEMO_CONVERSATIONS,
        # The API's types are guesses: the tap must load every plausible one.
        shapes=args.shapes,
        # Conversations, broadcast replies and opt-outs, for the dbt marts shown at the end.
        threads=True,
    )
    with sandbox as sb:
        print(f"sandbox at {sb.url}; running meltano (log: {rel(log)}) ...", flush=True)
        run_env = clean_env({"HEYMARKET_SANDBOX_URL": sb.url})
        started = dt.datetime.now()  # naive local time, like target-duckdb's _sdc_batched_at
        t0 = time.monotonic()
        proc = meltano_run(
            env=run_env,
            env_file=env_file,
            log=log,
            state_id_suffix=args.state_id_suffix,
            full_refresh=full_refresh,
        )
        elapsed = time.monotonic() - t0
        truth = sb.truth(custom=True)
    # The sandbox is stopped here, whatever happened inside the block.

    if proc.returncode != 0:
        print(tail(log), file=sys.stderr)
        print(f"\nmeltano run FAILED (exit {proc.returncode}) after {elapsed:.1f}s; "
              f"full log: {rel(log)}", file=sys.stderr)  # fmt: skip
        return 1

    stats = duckdb_stats(DUCKDB_FILE, since=started.isoformat(sep=" "), revs=True)
    after = stats["tables"]
    state_after = saved_state(state_id, env, env_file)

    print()
    print(f"== tap-heymarket -> target-duckdb: sandbox, {args.contacts} contacts, seed {args.seed}")
    print(f"sync       : {kind}, state id {state_id!r}")
    print(f"meltano run: {elapsed:.1f}s   duckdb: {rel(DUCKDB_FILE)} (schema {DUCKDB_SCHEMA})")
    header = ("table", "rows before", "rows now", "truth", "distinct ids", "written", "status")
    print(f"{header[0]:<22}" + "".join(f"{h:>13}" for h in header[1:-1]) + f"  {header[-1]}")
    all_ok = True
    want_rows = truth_counts(truth)
    # contact_field_values: rows holding a value (a cleared one stays as a null row; DuckDB
    # loads "" as NULL too), against the truth's non-empty custom values.
    want_rows["contact_field_values"] = sum(
        1 for custom in truth["custom"].values() for value in custom.values() if value != ""
    )
    # Every stream meltano.yml selects; any other table the run loaded, beside its truth.
    for table in [*TABLES, *sorted(set(after) - set(TABLES))]:
        t = after.get(table, {"exists": False, "rows": 0, "distinct_ids": 0, "null_ids": 0})
        if table not in want_rows:
            print(f"{table:<22}{'(not in the sandbox truth)':>40}  MISMATCH")
            all_ok = False
            continue
        want = want_rows[table]
        rows = t.get("value_rows", t["rows"])
        ok = t["exists"] and rows == want and t["distinct_ids"] == t["rows"] and t["null_ids"] == 0
        all_ok &= ok
        row = (
            before.get(table, {}).get("value_rows", before.get(table, {}).get("rows", 0)),
            rows,
            want,
            t["distinct_ids"],
            t.get("written_since", "-"),
        )
        print(f"{table:<22}" + "".join(f"{v:>13}" for v in row) + f"  {status(ok)}")

    revs = stats.get("contact_revs", {})
    truth_revs = {str(k): v for k, v in truth["contacts"].items()}
    same = sum(1 for k, v in truth_revs.items() if k in revs and revs[k] == v)
    extra = len(set(revs) - set(truth_revs))
    revs_ok = same == len(truth_revs) and extra == 0
    all_ok &= revs_ok
    note = f", {extra} ids not in truth" if extra else ""
    print(f"contacts id+rev equal to truth: {same}/{len(truth_revs)}{note}  {status(revs_ok)}")
    if state_after:
        shown = state_after if len(state_after) <= 300 else state_after[:297] + "..."
        print(f"saved state: {shown}")
    print("(written = rows inserted or updated by this run, from _sdc_batched_at)")
    all_ok &= show_marts(env, env_file, log)
    print(f"RESULT: {status(all_ok)}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
