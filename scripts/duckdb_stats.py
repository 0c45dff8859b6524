"""Print row statistics of the target-duckdb output as JSON.

Runs under the *loader's* interpreter (.meltano/loaders/target-duckdb/venv/bin/python),
the only venv that has the pinned duckdb module, e.g.:

    .meltano/loaders/target-duckdb/venv/bin/python scripts/duckdb_stats.py \
        output/sandbox.duckdb --schema heymarket --since 2026-01-01T00:00:00 --revs

Output: {"tables": {"<table>": {"exists", "rows", "distinct_ids", "null_ids",
"written_since"}}, "contact_revs": {"<id>": rev}}, for contacts, contact_fields, tags and
every other table in the schema. Standard library + duckdb only.
"""

from __future__ import annotations

import argparse
import json
import sys

import duckdb

TABLES = ("contacts", "contact_fields", "tags")


def qualified_name(con, schema: str, table: str) -> str:
    # target-duckdb names the catalog after the file. The project's files (warehouse.duckdb,
    # sandbox.duckdb) are not named like the schema, but any other file may be (a file
    # heymarket.duckdb makes `heymarket.contacts` ambiguous): qualify fully.
    (catalog,) = con.execute("SELECT current_database()").fetchone()
    return f'"{catalog}"."{schema}"."{table}"'


#: Tables whose primary key is not `id`: the expression of their key.
KEYS = {"contact_field_values": "CAST(contact_id AS VARCHAR) || '/' || field_id"}


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
    key = KEYS.get(table, "id")
    rows, distinct_ids, null_ids = con.execute(
        f"SELECT count(*), count(DISTINCT {key}), count(*) - count({key}) FROM {qualified}"
    ).fetchone()
    stats = {
        "exists": True,
        "rows": rows,
        "distinct_ids": distinct_ids,
        "null_ids": null_ids,
    }
    if "value" in cols:
        # contact_field_values: a cleared value stays as a row with a null value.
        (stats["value_rows"],) = con.execute(
            f"SELECT count(*) FROM {qualified} WHERE value IS NOT NULL"
        ).fetchone()
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
        present = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database() AND table_schema = ? "
                "ORDER BY table_name",
                [args.schema],
            ).fetchall()
        ]
        tables = [*TABLES, *(t for t in present if t not in TABLES)]
        out: dict = {"tables": {t: table_stats(con, args.schema, t, args.since) for t in tables}}
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
