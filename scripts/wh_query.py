"""Run SQL queries against a loader's warehouse and print the rows as JSON.

Runs under the *loader's* interpreter, the only venv with the database driver:

    .meltano/loaders/target-duckdb/venv/bin/python scripts/wh_query.py \
        duckdb output/warehouse.duckdb
    .meltano/loaders/target-postgres/venv/bin/python scripts/wh_query.py postgres

Postgres connection parameters come from libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD and
PGDATABASE. Standard input: a JSON list of {"sql": "...", "params": [...]} (placeholders:
`?` for duckdb, `%s` for postgres); standard output: a JSON list with, per query, its rows as
lists. JSON columns come back as DuckDB text (json.loads it) or Postgres jsonb (already parsed);
other values that JSON cannot hold (timestamps, decimals) are printed with str().
"""

from __future__ import annotations

import argparse
import json
import sys


def run_duckdb(path: str, queries: list[dict]) -> list[list]:
    import duckdb

    con = duckdb.connect(path, read_only=True)
    try:
        return [
            [list(r) for r in con.execute(q["sql"], q.get("params") or []).fetchall()]
            for q in queries
        ]
    finally:
        con.close()


def run_postgres(queries: list[dict]) -> list[list]:
    import psycopg

    with psycopg.connect("", autocommit=True) as con:
        out = []
        for q in queries:
            cur = con.execute(q["sql"], q.get("params") or None)
            out.append([list(r) for r in cur.fetchall()] if cur.description else [])
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("duckdb", "postgres"))
    parser.add_argument("database", nargs="?", help="DuckDB file (duckdb only)")
    args = parser.parse_args(argv)
    queries = json.load(sys.stdin)
    if args.kind == "duckdb":
        if not args.database:
            parser.error("duckdb needs the database file")
        result = run_duckdb(args.database, queries)
    else:
        result = run_postgres(queries)
    json.dump(result, sys.stdout, default=str)  # ASCII: \u escapes survive any locale
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
