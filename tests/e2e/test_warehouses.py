"""End to end into real warehouses: Meltano runs tap-heymarket -> DuckDB and -> Postgres.

Each warehouse (parametrized) gets, against one local sandbox (heymarket_sandbox), exactly what a
Meltano user runs: `meltano --environment=sandbox run tap-heymarket target-<warehouse>` with the
project's meltano.yml. Everything that could leak between runs is private to the module: a
temporary Meltano system database (MELTANO_DATABASE_URI, which holds the state), a unique
--state-id-suffix, an empty --env-file instead of the project's .env, no TAP_HEYMARKET_* /
TARGET_* / MELTANO_* variables from the outer environment, a temporary DuckDB file and a
throwaway Postgres schema (dropped afterwards).

Postgres: the server's address comes from libpq's variables (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE), which `.ci/run` exports after starting its own server, so the tests
also run against any Postgres a developer already has (they only create and drop schemas
named heymarket_e2e_*). Without PGHOST the session starts a throwaway server itself with
scripts/postgres_ci.sh if the PostgreSQL binaries are installed; without those it FAILS.

The sandbox puts U+0000 in some contacts' names, custom values and note texts
(`truth()["nul_contacts"]`): the tap replaces each with U+FFFD (`replace_nul_characters`, on by
default), so both warehouses must hold U+FFFD in their place (docs/warehouses.md, "NUL
characters"), and every row must load.

The warehouses are read with scripts/wh_query.py under each loader's own venv (the project's
.venv has neither duckdb nor psycopg). The plugins are installed by `meltano install` (the
`meltano_plugins` fixture, tests/conftest.py; so is `postgres_env`).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
import socket
import subprocess
import sys
import time
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from heymarket_dev.meltano import (
    DUCKDB_SCHEMA,
    MELTANO,
    ROOT,
    clean_env,
    meltano_cmd,
    meltano_run,
    tail,
)
from heymarket_sandbox import Sandbox
from tests.support.warehouse_truth import (
    COUNTS,
    FIELD_VALUE_COUNTS,
    FIELD_VALUES,
    WH_QUERY,
    as_emitted,
    assert_matches_truth,
    has_nul,
    nul_contact_ids,
)

CONTACTS = 3000
SEED = 7
WAREHOUSES = ("duckdb", "postgres")
CATALOG = json.loads((ROOT / "catalog" / "catalog.json").read_text())
LOADER_PYTHON = {
    "duckdb": ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python",
    "postgres": ROOT / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin" / "python",
}


def documented_filter_sql() -> dict[str, str]:
    """The two "Loyalty tier = Gold AND tag VIP" queries of docs/warehouses.md, with the three
    literals as parameters and the schema as `{schema}`: the test runs what the doc shows."""
    text = (ROOT / "docs" / "warehouses.md").read_text()
    found = {}
    for label, kind, ph in (("DuckDB", "duckdb", "?"), ("PostgreSQL", "postgres", "%s")):
        match = re.search(rf"^{label}:\n\n```sql\n(.*?)```", text, re.S | re.M)
        assert match, f"docs/warehouses.md lacks the {label} query"
        sql = match.group(1).strip().rstrip(";")
        for literal in ("'Loyalty tier'", "'Gold'", "'VIP'"):
            assert sql.count(literal) == 1, (label, literal)
            sql = sql.replace(literal, ph)
        assert sql.count("heymarket.") == 2, (label, "expected heymarket.contacts, .contact_fields")
        found[kind] = sql.replace("heymarket.", "{schema}.")
    return found


# --------------------------------------------------------------------------- one warehouse


class Warehouse:
    """A private Meltano project state plus one warehouse destination, for one sandbox."""

    def __init__(self, kind: str, tmp: Path, sandbox_url: str, pg: dict[str, str]) -> None:
        self.kind = kind
        self.loader = f"target-{kind}"
        self.tmp = tmp
        self.log = tmp / "meltano.log"
        self.env_file = tmp / "empty.env"
        self.env_file.write_text("")
        self.state_id_suffix = f"e2e-{uuid.uuid4().hex}"
        self.query_env = clean_env()
        extra = {
            "HEYMARKET_SANDBOX_URL": sandbox_url,
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
        }
        if kind == "duckdb":
            # Named like the project's file: the catalog is `warehouse`, so the two-part
            # `heymarket.contacts` of the docs names the table (no ambiguity).
            self.db = tmp / "warehouse.duckdb"
            self.schema = DUCKDB_SCHEMA
            extra["TARGET_DUCKDB_FILEPATH"] = str(self.db)
            self.prefix = f'"{self.schema}"'
        else:
            self.schema = f"heymarket_e2e_{uuid.uuid4().hex[:12]}"
            self.query_env.update(pg)
            extra.update(
                {
                    "TARGET_POSTGRES_HOST": pg.get("PGHOST", "127.0.0.1"),
                    "TARGET_POSTGRES_PORT": pg.get("PGPORT", "5432"),
                    "TARGET_POSTGRES_USER": pg.get("PGUSER", "postgres"),
                    "TARGET_POSTGRES_PASSWORD": pg.get("PGPASSWORD", ""),
                    "TARGET_POSTGRES_DATABASE": pg.get("PGDATABASE", "postgres"),
                    "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": self.schema,
                }
            )
            self.prefix = f'"{self.schema}"'
        self.env = clean_env(extra)

    def table(self, name: str) -> str:
        return f'{self.prefix}."{name}"'

    def placeholder(self) -> str:
        return "?" if self.kind == "duckdb" else "%s"

    def invoke_loader(
        self, messages: list[dict], check: bool = True
    ) -> subprocess.CompletedProcess:
        """`meltano invoke target-<kind>` with these Singer messages on stdin."""
        proc = subprocess.run(
            meltano_cmd("invoke", self.loader, env_file=self.env_file),
            cwd=ROOT,
            env=self.env,
            input="".join(json.dumps(m) + "\n" for m in messages),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check:
            assert proc.returncode == 0, f"{self.loader} failed:\n{proc.stderr[-4000:]}"
        return proc

    def run(self) -> None:
        proc = meltano_run(
            env=self.env,
            env_file=self.env_file,
            log=self.log,
            state_id_suffix=self.state_id_suffix,
            loader=self.loader,
            timeout=600,
        )
        assert proc.returncode == 0, f"meltano run ({self.loader}) failed:\n{tail(self.log, 80)}"

    def query(self, *queries: tuple[str, list]) -> list[list[list]]:
        """Run (sql, params) pairs in one loader-venv process; rows per query."""
        cmd = [str(LOADER_PYTHON[self.kind]), str(WH_QUERY), self.kind]
        if self.kind == "duckdb":
            cmd.append(str(self.db))
        proc = subprocess.run(
            cmd,
            input=json.dumps([{"sql": s, "params": p} for s, p in queries]),
            capture_output=True,
            text=True,
            env=self.query_env,
            check=False,
        )
        assert proc.returncode == 0, f"{self.kind} query failed:\n{proc.stderr[-3000:]}"
        return json.loads(proc.stdout)

    def json_value(self, value: object) -> object:
        """A JSON column's value as Python (DuckDB returns text; Postgres jsonb is parsed)."""
        return json.loads(value) if self.kind == "duckdb" and isinstance(value, str) else value

    def drop(self) -> None:
        if self.kind == "postgres":
            self.query((f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE', []))

    # ---- checks

    def tables(self) -> list[str]:
        (rows,) = self.query(
            (
                "SELECT table_name FROM information_schema.tables "
                f"WHERE table_schema = {self.placeholder()} ORDER BY table_name",
                [self.schema],
            )
        )
        return [name for (name,) in rows]

    def table_stats(self) -> dict:
        names = self.tables()
        values = self.table(FIELD_VALUES)
        results = self.query(
            *[
                (f"SELECT {FIELD_VALUE_COUNTS if t == FIELD_VALUES else COUNTS} "
                 f"FROM {self.table(t)}", [])
                for t in names
            ],
            (f"SELECT id, rev FROM {self.table('contacts')}", []),
            (f"SELECT id, rev FROM {self.table('tags')}", []),
            (f"SELECT id FROM {self.table('contact_fields')}", []),
            (f"SELECT CAST(max(_sdc_batched_at) AS VARCHAR) FROM {self.table('contacts')}", []),
            (f"SELECT contact_id, field_id, value FROM {values}"
             if FIELD_VALUES in names else "SELECT 1 WHERE 1 = 0", []),
        )  # fmt: skip
        counts = {
            t: dict(zip(("rows", "distinct_ids", "null_ids"), r[0], strict=True))
            for t, r in zip(names, results, strict=False)
        }
        rest = results[len(names) :]
        return {
            "tables": counts,
            "contact_revs": {str(i): r for i, r in rest[0]},
            "tag_revs": {str(i): r for i, r in rest[1]},
            "contact_field_ids": sorted(int(i) for (i,) in rest[2]),
            "max_batched_at": rest[3][0][0],
            "field_values": {f"{c}/{f}": v for c, f, v in rest[4]},
        }


def api_contacts(sb: Sandbox) -> list[dict]:
    """Every contact exactly as the sandbox serves it over the API (one unclamped page)."""
    resp = requests.post(
        f"{sb.url}/v1/contacts",
        json={"limit": 10 * CONTACTS},
        headers=sb.auth_headers(),
        timeout=60,
    )
    resp.raise_for_status()
    contacts = resp.json()
    assert len(contacts) == int(sb.truth()["count"])
    return contacts


def api_list(sb: Sandbox, path: str) -> list[dict]:
    resp = requests.post(f"{sb.url}{path}", json={}, headers=sb.auth_headers(), timeout=60)
    resp.raise_for_status()
    return resp.json()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # Plain shapes: these tests read the sandbox's own answers as the API's; every shape
    # into every loader is tests/e2e/test_own_project.py's (and the README path's).
    with Sandbox(contacts=CONTACTS, seed=SEED, messages=600, conversations=120) as sb:
        yield sb


@pytest.fixture(scope="module", params=WAREHOUSES)
def synced(
    request: pytest.FixtureRequest,
    meltano_plugins: None,
    sandbox: Sandbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Warehouse]:
    """A warehouse after one full `meltano run` from the module's sandbox."""
    kind = request.param
    pg = request.getfixturevalue("postgres_env") if kind == "postgres" else {}
    wh = Warehouse(kind, tmp_path_factory.mktemp(f"wh-{kind}"), sandbox.url, pg)
    wh.run()
    try:
        yield wh
    finally:
        wh.drop()


# --------------------------------------------------------------------------- tests
# Module order matters: the incremental test mutates the sandbox, so it runs last per
# warehouse; the others compare against the sandbox as it is when they run.


def test_full_run_matches_truth(synced: Warehouse, sandbox: Sandbox) -> None:
    truth = sandbox.truth(updated=True, custom=True)
    stats = synced.table_stats()
    assert_matches_truth(stats, truth)
    # Timestamps land as UTC wall time (naive TIMESTAMP columns in both warehouses).
    (rows,) = synced.query(
        (f"SELECT id, CAST(updated AS VARCHAR) FROM {synced.table('contacts')}", [])
    )
    got = {str(i): dt.datetime.fromisoformat(u) for i, u in rows}
    want = {
        str(i): dt.datetime.fromisoformat(u).astimezone(dt.UTC).replace(tzinfo=None)
        for i, u in truth["updated"].items()
    }
    wrong = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    assert not wrong, (
        f"{len(wrong)} contacts' updated differ (got, want): {list(wrong.items())[:5]}"
    )


def test_custom_and_tags_queryable(synced: Warehouse, sandbox: Sandbox) -> None:
    contacts = api_contacts(sandbox)
    titles = {str(f["id"]): f["title"] for f in api_list(sandbox, "/v1/contact-fields")}
    # The most common (field title, value, tag) combination, so the filter matches several
    # contacts but far from all; ties broken by sorting, so the choice is deterministic.
    combos: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for c in contacts:
        for key, value in (c.get("custom") or {}).items():
            if key not in titles or value is None:
                continue
            for tag in c.get("tags") or []:
                combos[(titles[key], value, tag["name"])] += 1
    assert combos, "the sandbox served no contact with both a custom value and a tag"
    (title, value, tag), n = max(sorted(combos.items()), key=lambda kv: kv[1])
    assert 2 <= n < len(contacts) / 4, (title, value, tag, n)
    field_ids = {k for k, v in titles.items() if v == title}
    want = sorted(
        c["id"]
        for c in contacts
        if any((c.get("custom") or {}).get(k) == value for k in field_ids)
        and any(t.get("name") == tag for t in c.get("tags") or [])
    )
    sql = documented_filter_sql()[synced.kind].replace("{schema}", synced.prefix)
    (rows,) = synced.query((sql, [title, value, tag]))
    assert [int(r[0]) for r in rows] == want, (title, value, tag)  # SELECT c.id, c.display_name


def documented_custom_field_queries() -> list[str]:
    """docs/streams.md's two "contacts whose Loyalty tier is Gold" queries ("Custom fields as
    columns" and "`contact_field_values`"), as written: a plain WHERE on the
    `cf_loyalty_tier` column, and the same through contact_field_values."""
    from heymarket_dev.doc_commands import fenced_blocks

    blocks = [
        b.text
        for b in fenced_blocks(ROOT / "docs" / "streams.md")
        if b.language == "sql" and "'Gold'" in b.text
    ]
    assert any("WHERE cf_loyalty_tier = 'Gold'" in b for b in blocks), "streams.md lacks the query"
    assert any("contact_field_values AS v" in b for b in blocks), "streams.md lacks the join"
    return blocks


def test_custom_field_as_a_column(synced: Warehouse, sandbox: Sandbox) -> None:
    """`WHERE cf_loyalty_tier = 'Gold'` (docs/streams.md) returns exactly the contacts whose
    field titled "Loyalty tier" holds "Gold", in both warehouses; so does the join."""
    fields = api_list(sandbox, "/v1/contact-fields")
    (field_id,) = [str(f["id"]) for f in fields if f["title"] == "Loyalty tier"]
    want = sorted(
        int(cid)
        for cid, custom in sandbox.truth(custom=True)["custom"].items()
        if custom.get(field_id) == "Gold"
    )
    assert len(want) >= 2, "the sandbox should hold several Gold contacts"
    for sql in documented_custom_field_queries():
        (rows,) = synced.query(
            (sql.strip().rstrip(";").replace("heymarket.", f"{synced.prefix}."), [])
        )
        assert [int(r[0]) for r in rows] == want, sql


def _has(category: str, text: str) -> bool:
    if category == "emoji":
        return any(ord(ch) >= 0x1F000 or 0x2600 <= ord(ch) < 0x2800 for ch in text)
    if category == "rtl":
        return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)
    # accents: a Latin letter that is not ASCII (é, ñ, ü, ...)
    return any(ord(ch) > 127 and "LATIN" in unicodedata.name(ch, "") for ch in text)


def test_unicode_survives(synced: Warehouse, sandbox: Sandbox) -> None:
    """Names, `custom` and `note` as served: non-ASCII names byte for byte, and the contacts
    with U+0000 (U+FFFD in both warehouses: the tap replaces it), every one of them loaded."""
    fields = ("display_name", "first", "last")
    nul_ids = nul_contact_ids(sandbox.truth())
    served = {
        c["id"]: c
        for c in api_contacts(sandbox)
        if any(not (c.get(f) or "").isascii() for f in fields) or c["id"] in nul_ids
    }
    assert nul_ids <= set(served), "a contact in nul_contacts was not served"
    for cid in nul_ids:
        assert has_nul(served[cid]), f"contact {cid} is in nul_contacts but holds no U+0000"
    texts = [c.get(f) or "" for c in served.values() for f in fields]
    for category in ("emoji", "rtl", "accents"):
        assert any(_has(category, s) for s in texts), f"sandbox served no {category} names"
    ph = synced.placeholder()
    ids = sorted(served)
    (rows,) = synced.query(
        (
            f"SELECT id, display_name, first, last, custom, note FROM {synced.table('contacts')} "
            f"WHERE id IN ({', '.join([ph] * len(ids))})",
            ids,
        )
    )
    got = {int(r[0]): r for r in rows}
    assert set(got) == set(served)
    diffs = []
    empty_as_null = 0
    kind = synced.kind
    for cid, c in served.items():
        _, display_name, first, last, custom, note = got[cid]
        loaded = {"display_name": display_name, "first": first, "last": last}
        for f in fields:
            if loaded[f] == as_emitted(c.get(f)):
                continue
            if kind == "duckdb" and c.get(f) == "" and loaded[f] is None:
                # Known target-duckdb 0.8.0 limitation (docs/warehouses.md): it loads
                # batches as CSV, where "" and NULL are the same empty field.
                empty_as_null += 1
                continue
            diffs.append((cid, f, c.get(f), loaded[f]))
        if synced.json_value(custom) != as_emitted(c.get("custom")):
            diffs.append((cid, "custom", c.get("custom"), custom))
        if synced.json_value(note) != as_emitted(c.get("note")):
            diffs.append((cid, "note", c.get("note"), note))
    assert not diffs, f"{len(diffs)} values changed on the way in, e.g. {diffs[:5]}"
    if kind == "postgres":
        assert empty_as_null == 0
    # Byte-for-byte: the UTF-8 encodings are equal too (no normalization on the way).
    for cid, c in served.items():
        for i, f in enumerate(fields, start=1):
            if c.get(f):
                assert got[cid][i].encode() == as_emitted(c[f]).encode(), (cid, f)


def test_incremental_run_upserts(synced: Warehouse, sandbox: Sandbox) -> None:
    truth1 = sandbox.truth(custom=True)
    before = synced.table_stats()
    assert_matches_truth(before, truth1)

    changes = sandbox.mutate(n=5, new=3)
    truth2 = sandbox.truth(custom=True)
    changed = {str(i) for i in changes["updated_ids"] + changes["created_ids"]}
    assert len(changed) == 8
    assert int(truth2["count"]) == int(truth1["count"]) + 3

    synced.run()
    after = synced.table_stats()
    assert_matches_truth(after, truth2)  # counts = truth: no duplicate rows, keyed on id
    revs = after["contact_revs"]
    assert {k: revs[k] for k in changed} == {k: truth2["contacts"][k] for k in changed}
    for k in changes["updated_ids"]:
        assert truth2["contacts"][str(k)] == truth1["contacts"][str(k)] + 1
    # Incremental: the run resumed from the saved bookmark instead of re-reading everything.
    (rows,) = synced.query(
        (
            f"SELECT count(*) FROM {synced.table('contacts')} "
            f"WHERE _sdc_batched_at > CAST({synced.placeholder()} AS TIMESTAMP)",
            [before["max_batched_at"]],
        )
    )
    written = rows[0][0]
    assert len(changed) <= written < len(revs) / 2, (
        f"second run wrote {written} contacts; expected an incremental sync"
    )


# --------------------------------------------------------------------------- U+0000

NUL_RECORDS = [
    {
        "id": 1,
        "updated": "2024-05-01T12:34:56.789000+00:00",
        "first": "Ann\x00e",
        "last": "\x00",
        "display_name": "Ann\x00e \x00",
        "custom": {"3238": "Go\x00ld", "k\x00ey": "v"},
        "note": [{"id": 7, "name": "N\x00", "text": "call\x00back", "user_id": 3}],
        "tags": [{"id": 5, "name": "V\x00IP", "color": "#ff0000"}],
        "contact_channels": [{"id": 9, "channel_type": "sms", "channel_handle": "a\x00b"}],
    },
    {
        # No NUL: loaded unchanged, including text that merely looks like an escape.
        "id": 2,
        "updated": "2024-05-01T12:34:56.789000+00:00",
        "first": "Zoë 😀",
        "last": "back\\u0000slash",
        "display_name": "Zoë",
        "custom": {"1": "lit\\u0000eral \\ end"},
        "note": [],
        "tags": None,
        "contact_channels": None,
    },
]
NUL_COLUMNS = ("first", "last", "display_name", "custom", "note", "tags", "contact_channels")


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_nul_characters_load(
    kind: str, meltano_plugins: None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Records with U+0000 in text columns, in `custom` (a key too), and deep in `note`,
    `tags` and `contact_channels`, as the tap emits them (`replace_nul_characters`, on by
    default: every U+0000 is U+FFFD; the tap's side is tests/unit/test_conformance.py and the
    end-to-end tests above), load through the project's loader config, which has no NUL
    setting: every value lands as emitted, a literal `\\u0000` text included.

    As the API sent them (`replace_nul_characters: false`), DuckDB keeps each U+0000 and
    Postgres refuses the load (docs/warehouses.md, "NUL characters")."""
    pg = request.getfixturevalue("postgres_env") if kind == "postgres" else {}
    wh = Warehouse(kind, tmp_path, "http://127.0.0.1:9", pg)
    (contacts,) = [s for s in CATALOG["streams"] if s["tap_stream_id"] == "contacts"]

    def messages(records: list[dict]) -> list[dict]:
        schema = {"type": "SCHEMA", "stream": "contacts", "schema": contacts["schema"]}
        return [
            {**schema, "key_properties": ["id"]},
            *({"type": "RECORD", "stream": "contacts", "record": r} for r in records),
        ]

    select = f"SELECT id, {', '.join(NUL_COLUMNS)} FROM {wh.table('contacts')} ORDER BY id"
    emitted = [as_emitted(r) for r in NUL_RECORDS]
    assert not has_nul(emitted) and emitted[1] == NUL_RECORDS[1]
    try:
        wh.invoke_loader(messages(emitted))
        (rows,) = wh.query((select, []))
        wh.drop()
        if kind == "duckdb":
            wh.db.unlink()
        raw = wh.invoke_loader(messages(NUL_RECORDS), check=False)
        (raw_rows,) = wh.query((select, [])) if raw.returncode == 0 else ([],)
    finally:
        wh.drop()

    def values(row: list) -> list:
        return [
            wh.json_value(v) if c not in ("first", "last", "display_name") else v
            for c, v in zip(NUL_COLUMNS, row[1:], strict=True)
        ]

    assert [int(r[0]) for r in rows] == [1, 2]
    for row, sent in zip(rows, emitted, strict=True):
        assert values(row) == [sent[c] for c in NUL_COLUMNS], sent["id"]
    assert rows[0][1] == "Ann\ufffde" and not has_nul(rows)
    if kind == "duckdb":
        assert raw.returncode == 0, raw.stderr[-3000:]
        for row, sent in zip(raw_rows, NUL_RECORDS, strict=True):
            assert values(row) == [sent[c] for c in NUL_COLUMNS], sent["id"]
    else:
        assert raw.returncode != 0, "Postgres loaded U+0000: docs/warehouses.md says it cannot"
        assert "0x00" in raw.stderr or "\\u0000" in raw.stderr, raw.stderr[-3000:]


# --------------------------------------------------------------------------- meltano config test


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config_test(sb: Sandbox, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    env = clean_env(
        {
            "HEYMARKET_SANDBOX_URL": sb.url,
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            **extra,
        }
    )
    return subprocess.run(
        meltano_cmd("--environment=sandbox", "config", "test", "tap-heymarket", env_file=env_file),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_meltano_config_test(meltano_plugins: None, tmp_path: Path) -> None:
    assert MELTANO.exists()
    with Sandbox(contacts=50, seed=SEED) as sb:
        good = _config_test(sb, tmp_path)
        assert good.returncode == 0, good.stdout + good.stderr[-3000:]
        assert "Plugin configuration is valid" in good.stdout

        # Environment variables beat the sandbox environment's config: a wrong key.
        bad = _config_test(sb, tmp_path, TAP_HEYMARKET_API_SECRET_KEY="not-the-key")
        out = bad.stdout + bad.stderr
        assert bad.returncode != 0, out[-3000:]
        assert "Plugin configuration is invalid" in out, out[-3000:]
        assert "401" in out and "check api_secret_id/api_secret_key" in out, out[-3000:]
        assert "not-the-key" not in out, "the secret was echoed"

        # A wrong api_url answers within seconds, naming the host and the setting.
        for url, host in (
            ("https://api.heymarket.invalid", "api.heymarket.invalid does not resolve"),
            (f"http://127.0.0.1:{_closed_port()}", "refused the connection"),
        ):
            started = time.monotonic()
            unreachable = _config_test(sb, tmp_path, TAP_HEYMARKET_API_URL=url)
            took = time.monotonic() - started
            out = unreachable.stdout + unreachable.stderr
            assert unreachable.returncode != 0, out[-3000:]
            assert f"{host} (api_url {url}); check the api_url setting" in out, out[-3000:]
            assert took < 30, f"meltano config test took {took:.0f} s for {url}"

        # A malformed start_date reaches the tap as written, and the tap names it.
        for written in ("2024-13-01", "01/02/2024", "yesterday"):
            wrong = _config_test(sb, tmp_path, TAP_HEYMARKET_START_DATE=written)
            out = wrong.stdout + wrong.stderr
            assert wrong.returncode != 0, out[-3000:]
            assert f"start_date must be an ISO 8601 date or date-time, got {written!r}" in out, out[
                -3000:
            ]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
