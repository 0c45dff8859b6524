"""Print row statistics of the target-duckdb output as JSON.

Runs under the *loader's* interpreter (.meltano/loaders/target-duckdb/venv/bin/python),
the only venv that has the pinned duckdb module, e.g.:

    .meltano/loaders/target-duckdb/venv/bin/python scripts/duckdb_stats.py \
        output/heymarket.duckdb --schema heymarket --since 2026-01-01T00:00:00 --revs

Output: {"tables": {"<table>": {"exists", "rows", "distinct_ids", "null_ids",
"written_since"}}, "contact_revs": {"<id>": rev}}. Standard library + duckdb only.
"""

from __future__ import annotations

import argparse
import json
import sys

import duckdb

TABLES = ("contacts", "contact_fields", "tags")


def qualified_name(con, schema: str, table: str) -> str:
    # target-duckdb names the catalog after the file and the schema is usually the same name
    # ("heymarket"."heymarket"), so a two-part name would be ambiguous: qualify fully.
    (catalog,) = con.execute("SELECT current_database()").fetchone()
    return f'"{catalog}"."{schema}"."{table}"'


def table_stats(con, schema: str, table: str, since: str | None) -> dict:
    cols = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    }
    if not cols:
        return {"exists": False, "rows": 0, "distinct_ids": 0, "null_ids": 0}
    qualified = qualified_name(con, schema, table)
    rows, distinct_ids, null_ids = con.execute(
        f"SELECT count(*), count(DISTINCT id), count(*) - count(id) FROM {qualified}"
    ).fetchone()
    stats = {
        "exists": True,
        "rows": rows,
        "distinct_ids": distinct_ids,
        "null_ids": null_ids,
    }
    if since and "_sdc_batched_at" in cols:
        (written,) = con.execute(
            f"SELECT count(*) FROM {qualified} WHERE _sdc_batched_at >= CAST(? AS TIMESTAMP)",
            [since],
        ).fetchone()
        stats["written_since"] = written
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="path of the DuckDB file")
    parser.add_argument("--schema", default="heymarket")
    parser.add_argument(
        "--since", help="ISO timestamp (local, naive): count rows with _sdc_batched_at >= it"
    )
    parser.add_argument("--revs", action="store_true", help="include contacts' id -> rev")
    args = parser.parse_args(argv)

    con = duckdb.connect(args.database, read_only=True)
    try:
        out: dict = {"tables": {t: table_stats(con, args.schema, t, args.since) for t in TABLES}}
        if args.revs and out["tables"]["contacts"]["exists"]:
            out["contact_revs"] = {
                str(i): r
                for i, r in con.execute(
                    f"SELECT id, rev FROM {qualified_name(con, args.schema, 'contacts')}"
                ).fetchall()
            }
    finally:
        con.close()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
