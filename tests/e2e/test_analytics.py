"""The dbt package (transform/) through Meltano, compared with figures computed in Python
straight from the sandbox's messages.

`meltano --environment=sandbox run tap-heymarket target-duckdb dbt-duckdb:build` against a
sandbox whose messages are threaded (`threads`: conversations with both directions,
broadcasts answered within and after 72 hours, opt-out keywords in several spellings), into
a private DuckDB file. `dbt build` runs every model, its data tests and its unit tests (reply
pairing, the 72-hour window, keyword parsing, first responses, resolutions). Then each mart
named below is read back and compared, row by row, with the same definition applied in Python
to the messages the sandbox serves (`MessageStore.message`), never to the tap's output:

* heymarket__broadcasts: messages, recipients, delivered, failed, responded, opted out;
* heymarket__conversation_metrics: the conversations with messages, and for each its first
  inbound message, first response and the minutes between; and its resolution (closed, last
  `updated` at or after the first inbound message), from the conversations the sandbox
  serves (`ConversationStore.obj`), whose threads of messages it links to them
  (heymarket_sandbox/data/links.py);
* heymarket__opt_outs: each keyword reply and the broadcast it is attributed to, and each
  contact whose status is `unsubscribed` (the run selects contact_status, with
  read_contact_status on) and the broadcast that is attributed to (the status answers the
  sandbox serves, `data.contact_status.answer`);
* heymarket__message_enhanced: one row per message, directions as `type` says;
* heymarket__contact_custom_fields: one row per contact, a column per field of CUSTOM_FIELDS
  (the var heymarket_custom_fields, given to a second build of that model), named from the
  field's title in contact_fields, holding the contact's value (the contacts the sandbox
  serves, `ContactStore.contact`);
* stg_heymarket__contact_channels: one row per contact and channel of the contacts'
  `contact_channels` arrays, none for a contact whose array is empty.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from heymarket_dev.doc_commands import section_blocks
from heymarket_dev.meltano import (
    MELTANO,
    ROOT,
    clean_env,
    run_logged,
    selected_streams,
    tail,
)
from heymarket_sandbox import Sandbox
from heymarket_sandbox.data.contact_status import answer
from heymarket_sandbox.state import State
from tests.support.warehouse_truth import warehouse_rows

SWITCHES = {"contacts": 300, "seed": 17, "messages": 2000, "conversations": 60, "threads": True}
#: The runs read contact_status too (off by default: one request per contact, 300 here), so
#: that heymarket__opt_outs has status opt-outs; the README's path (tests/e2e/
#: test_readme_path.py) builds without that table.
STATUS_RUN = {
    "TAP_HEYMARKET__SELECT": json.dumps(
        [f"{stream}.*" for stream in sorted(selected_streams())] + ["contact_status.*"]
    ),
    "TAP_HEYMARKET_READ_CONTACT_STATUS": "true",
    "TAP_HEYMARKET_MAX_REQUESTS_PER_MINUTE": "1000000",
}
WINDOW = timedelta(hours=72)
DELIVERED, FAILED = {"delivered", "read"}, {"failed", "undelivered"}
OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
MARTS = "heymarket_analytics"
#: The custom fields (contact_fields titles) the test lists in heymarket_custom_fields: a
#: space and an accent in the names, and the columns they become.
CUSTOM_FIELDS = {"Company": "company", "Loyalty tier": "loyalty_tier", "Región": "región"}


def loaded(text: str) -> datetime:
    """A timestamp as a warehouse prints it (`2024-01-01 10:00:00.123`, maybe `+00`)."""
    text = text.replace(" ", "T")
    if text.endswith("+00"):
        text += ":00"
    return datetime.fromisoformat(text).replace(tzinfo=None)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def as_loaded(value: str | None) -> str | None:
    """A text as the tap sends it (replace_nul_characters, on by default: U+0000 becomes
    U+FFFD), and "" as null (target-duckdb loads "" as null; the models say null for both)."""
    return value.replace("\x00", "\ufffd") if value else None


def real(value: Any) -> int | None:
    return None if value in (None, 0, "", "0") else int(value)


# --------------------------------------------------------------------------- Python figures


def broadcast_figures(messages: list[dict]) -> dict[int, dict[str, int]]:
    inbound = [m for m in messages if m["type"] == "inbound"]
    figures: dict[int, dict[str, int]] = {}
    sent: dict[int, list[dict]] = defaultdict(list)
    for m in messages:
        if real(m["broadcast_id"]) and m["type"] == "outbound":
            sent[int(m["broadcast_id"])].append(m)
    for bid, group in sent.items():
        recipients: dict[tuple, list[dict]] = defaultdict(list)
        for m in group:
            recipients[(m["target"], real(m["conversation"]["inbox"]))].append(m)
        responded = opted_out = 0
        for (phone, inbox), mine in recipients.items():
            start = min(at(m["date"]) for m in mine)
            answers = [
                m
                for m in inbound
                if m["target"] == phone
                and real(m["conversation"]["inbox"]) == inbox
                and start <= at(m["date"]) <= start + WINDOW
            ]
            responded += bool(answers)
            opted_out += any(m["text"].strip().upper() in OPT_OUT for m in answers)
        figures[bid] = {
            "messages": len(group),
            "recipients": len(recipients),
            "delivered": sum(m["status"] in DELIVERED for m in group),
            "failed": sum(m["status"] in FAILED for m in group),
            "responded": responded,
            "opted_out": opted_out,
        }
    return figures


def first_responses(messages: list[dict]) -> dict[int, tuple[datetime | None, float | None]]:
    """conversation -> (first inbound, minutes to the first response) for every conversation
    with messages (None, None when it has no inbound message)."""
    by_conversation: dict[int, list[dict]] = defaultdict(list)
    for m in messages:
        cid = real(m["conversation"]["id"])
        if cid is not None:
            by_conversation[cid].append(m)
    out: dict[int, tuple[datetime | None, float | None]] = {}
    for cid, group in by_conversation.items():
        inbound = [at(m["date"]) for m in group if m["type"] == "inbound"]
        if not inbound:
            out[cid] = (None, None)
            continue
        first = min(inbound)
        replies = [
            at(m["date"])
            for m in group
            if m["type"] == "outbound" and not real(m["broadcast_id"]) and at(m["date"]) >= first
        ]
        out[cid] = (first, (min(replies) - first).total_seconds() / 60 if replies else None)
    return out


# --------------------------------------------------------------------------- the runs


class Built:
    """One warehouse after `meltano run tap-heymarket <loader> <dbt utility>:build`."""

    def __init__(self, kind: str, database: Path | None, env: dict[str, str], log: str) -> None:
        self.kind, self.database, self.env, self.log = kind, database, env, log
        self.marts = env.get("DBT_POSTGRES_SCHEMA", MARTS)

    def query(self, *sql: str) -> list[list[list]]:
        return warehouse_rows(self.kind, *sql, database=self.database, env=self.env)

    def rows(self, sql: str) -> list[list]:
        (rows,) = self.query(sql.replace("{marts}", self.marts))
        return rows


def meltano_build(tmp: Path, sb: Sandbox, loader: str, utility: str, env: dict) -> str:
    log = tmp / "meltano.log"
    (tmp / "empty.env").write_text("")
    cmd = [str(MELTANO), "--env-file", str(tmp / "empty.env"), "--environment=sandbox", "run"]
    started = time.monotonic()
    proc = run_logged(
        [*cmd, "tap-heymarket", loader, f"{utility}:build"],
        cwd=ROOT,
        env=clean_env(
            {
                "HEYMARKET_SANDBOX_URL": sb.url,
                "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
                **STATUS_RUN,
                **env,
            }
        ),
        log=log,
    )
    took = time.monotonic() - started
    assert proc.returncode == 0, tail(log, 80)
    text = log.read_text(errors="replace")
    assert "PASS=" in text and " ERROR=0 " in text, tail(log, 40)
    print(f"meltano run tap-heymarket {loader} {utility}:build: {took:.0f} s")
    # The custom-fields model again, with the fields listed (a var: dbt's --vars).
    fields = json.dumps({"heymarket_custom_fields": list(CUSTOM_FIELDS)}, ensure_ascii=False)
    select = ["--select", "heymarket__contact_custom_fields", "--vars", fields]
    proc = run_logged(
        [*cmd[:-1], "invoke", utility, "build", *select],
        cwd=ROOT,
        env=clean_env(
            {
                "HEYMARKET_SANDBOX_URL": sb.url,
                "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
                **env,
            }
        ),
        log=tmp / "custom-fields.log",
    )
    assert proc.returncode == 0, tail(tmp / "custom-fields.log", 40)
    return text


@pytest.fixture(scope="module")
def served() -> State:
    """The sandbox's data and configuration, as every warehouse's run reads them (same seed,
    same switches): what the Python figures are computed from, never the tap's output."""
    with Sandbox(**SWITCHES) as sb:
        assert sb.server is not None
        return sb.server.state


@pytest.fixture(scope="module")
def messages(served: State) -> list[dict]:
    """The messages the sandbox serves."""
    store = served.world.messages
    return [store.message(i) for i in range(len(store))]


@pytest.fixture(scope="module")
def conversations(served: State) -> list[dict]:
    """Every conversation as POST /v1/conversations serves it (`status`, `updated`)."""
    store = served.world.conversations
    types = served.config["conversation_types"]
    return [store.obj(c, 0, types) for c in store.items]


Contacts = tuple[list[dict], dict[str, str], list[dict]]


@pytest.fixture(scope="module")
def contacts(served: State) -> Contacts:
    """The contacts the sandbox serves, the titles of its contact fields by id, and each
    contact's status answer (POST /v1/contact/status)."""
    world = served.world
    store = world.contacts
    rows = [store.contact(i) for i in range(len(store))]
    return rows, world.fields.titles(), [answer(store, i) for i in range(len(store))]


@pytest.fixture(scope="module")
def duckdb_built(meltano_plugins: None, tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("analytics-duckdb")
    database = tmp / "analytics.duckdb"
    env = {"TARGET_DUCKDB_FILEPATH": str(database), "DBT_DUCKDB_PATH": str(database)}
    with Sandbox(**SWITCHES) as sb:
        log = meltano_build(tmp, sb, "target-duckdb", "dbt-duckdb", env)
    return Built("duckdb", database, clean_env(), log)


@pytest.fixture(scope="module")
def postgres_built(
    meltano_plugins: None, postgres_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("analytics-postgres")
    raw = f"heymarket_e2e_dbt_{uuid.uuid4().hex[:10]}"
    pg = {
        "host": postgres_env.get("PGHOST", "127.0.0.1"),
        "port": postgres_env.get("PGPORT", "5432"),
        "user": postgres_env.get("PGUSER", "postgres"),
        "password": postgres_env.get("PGPASSWORD", ""),
        "database": postgres_env.get("PGDATABASE", "postgres"),
    }
    env = {f"TARGET_POSTGRES_{k.upper()}": v for k, v in pg.items()}
    env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = raw
    env.update({f"DBT_POSTGRES_{k.upper()}": v for k, v in pg.items() if k != "database"})
    env.update({"DBT_POSTGRES_DBNAME": pg["database"], "DBT_POSTGRES_SCHEMA": f"{raw}_marts"})
    env["HEYMARKET_RAW_SCHEMA"] = raw
    built = Built("postgres", None, {**clean_env(postgres_env), **env}, "")
    try:
        with Sandbox(**SWITCHES) as sb:
            built.log = meltano_build(tmp, sb, "target-postgres", "dbt-postgres", env)
        yield built
    finally:
        for schema in (f"{raw}_marts", raw):
            built.query(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(request: pytest.FixtureRequest) -> Built:
    return request.getfixturevalue(f"{request.param}_built")


def test_dbt_build_passes_every_model_and_test(built: Built) -> None:
    done = [line for line in built.log.splitlines() if "Done. PASS=" in line][-1]
    passed = int(done.split("PASS=")[1].split()[0])
    assert "WARN=0 ERROR=0 SKIP=0" in done, done
    assert passed >= 50, done


def test_broadcasts_equal_the_python_figures(built: Built, messages: list[dict]) -> None:
    want = broadcast_figures(messages)
    rows = built.rows(
        "SELECT broadcast_id, messages, recipients, delivered, failed, responded, opted_out "
        "FROM {marts}.heymarket__broadcasts"
    )
    names = ("messages", "recipients", "delivered", "failed", "responded", "opted_out")
    got = {int(r[0]): dict(zip(names, r[1:], strict=True)) for r in rows}
    assert got == want
    assert sum(f["responded"] for f in want.values()) > 20
    assert sum(f["opted_out"] for f in want.values()) > 5
    print(f"broadcasts: {len(want)}, {sum(f['messages'] for f in want.values())} messages")


def test_conversation_metrics_equal_the_python_figures(built: Built, messages: list[dict]) -> None:
    want = first_responses(messages)
    rows = built.rows(
        "SELECT conversation_id, CAST(first_inbound_at AS VARCHAR), "
        "CAST(first_response_minutes AS DOUBLE PRECISION) "
        "FROM {marts}.heymarket__conversation_metrics"
    )
    got = {int(r[0]): (r[1], r[2]) for r in rows}
    assert set(got) == set(want)
    answered = 0
    for cid, (first, minutes) in want.items():
        loaded_first, loaded_minutes = got[cid]
        assert (loaded_first is None) == (first is None), cid
        if first is not None:
            assert loaded(loaded_first) == first, cid
        if minutes is None:
            assert loaded_minutes is None, cid
        else:
            answered += 1
            assert loaded_minutes == pytest.approx(minutes, abs=1e-6), cid
    assert answered > 50
    print(f"conversations: {len(want)}, answered: {answered}")


def resolutions(
    messages: list[dict], conversations: list[dict]
) -> dict[int, tuple[datetime | None, float | None]]:
    """conversation -> (resolved at, minutes from the first inbound message) for every
    conversation with messages: resolved when the conversation the sandbox serves under that
    id is closed and was last updated at or after its first inbound message, else (None,
    None) (open, closed before it, no inbound message, or no such conversation served)."""
    served = {int(c["id"]): c for c in conversations}
    out: dict[int, tuple[datetime | None, float | None]] = {}
    for cid, (first, _) in first_responses(messages).items():
        c = served.get(cid)
        updated = at(c["updated"]) if c is not None and c["status"] == "closed" else None
        if updated is not None and first is not None and updated >= first:
            out[cid] = (updated, (updated - first).total_seconds() / 60)
        else:
            out[cid] = (None, None)
    return out


def test_conversation_resolutions_equal_the_python_figures(
    built: Built, messages: list[dict], conversations: list[dict]
) -> None:
    want = resolutions(messages, conversations)
    rows = built.rows(
        "SELECT conversation_id, status, CAST(resolved_at AS VARCHAR), "
        "CAST(resolution_minutes AS DOUBLE PRECISION) "
        "FROM {marts}.heymarket__conversation_metrics"
    )
    got = {int(r[0]): (r[1], r[2], r[3]) for r in rows}
    assert set(got) == set(want)
    served = {int(c["id"]): c for c in conversations}
    firsts = first_responses(messages)
    cases: dict[str, int] = defaultdict(int)
    for cid, (resolved_at, minutes) in want.items():
        status, loaded_at, loaded_minutes = got[cid]
        assert status == (served[cid]["status"] if cid in served else None), cid
        if resolved_at is None:
            assert (loaded_at, loaded_minutes) == (None, None), cid
        else:
            assert loaded(loaded_at) == resolved_at, cid
            assert loaded_minutes == pytest.approx(minutes, abs=1e-6), cid
        if cid in served:  # a thread the sandbox linked to a served conversation
            first = firsts[cid][0]
            assert first is not None, cid  # (links.py links threads with an inbound message)
            cases["linked"] += 1
            if status == "open":
                cases["open"] += 1
            elif resolved_at is not None:
                cases["resolved"] += 1
            else:
                cases["closed before the first inbound"] += 1
    # Each case the definition tells apart is met, so the comparison can fail.
    assert all(cases[k] for k in ("open", "resolved", "closed before the first inbound")), cases
    answered = sum(minutes is not None for _, minutes in firsts.values())
    print(f"conversations with messages: {len(want)}, answered: {answered}, {dict(cases)}")


def agent_day_figures(messages: list[dict]) -> dict[tuple[str, int], tuple[int, int, int, int]]:
    """(day, agent) -> (messages in, messages out, conversations started, failures): in and
    started attributed to the agent of the conversation's first response (by date, then id)."""
    by_conversation: dict[int, list[dict]] = defaultdict(list)
    for m in messages:
        cid = real(m["conversation"]["id"])
        if cid is not None:
            by_conversation[cid].append(m)
    figures: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for group in by_conversation.values():
        inbound = [m for m in group if m["type"] == "inbound"]
        if not inbound:
            continue
        first = min(at(m["date"]) for m in inbound)
        replies = sorted(
            (at(m["date"]), int(m["id"]), real(m["user"]))
            for m in group
            if m["type"] == "outbound" and not real(m["broadcast_id"]) and at(m["date"]) >= first
        )
        agent = replies[0][2] if replies else None
        if agent is None:
            continue
        figures[(first.date().isoformat(), agent)][2] += 1
        for m in inbound:
            figures[(at(m["date"]).date().isoformat(), agent)][0] += 1
    for m in messages:
        user = real(m["user"])
        if m["type"] == "outbound" and user is not None:
            day = (at(m["date"]).date().isoformat(), user)
            figures[day][1] += 1
            figures[day][3] += m["status"] in FAILED
    return {k: (a, b, c, d) for k, (a, b, c, d) in figures.items()}


def test_agent_daily_equals_the_python_figures(built: Built, messages: list[dict]) -> None:
    want = agent_day_figures(messages)
    rows = built.rows(
        "SELECT CAST(day AS VARCHAR), user_id, messages_in, messages_out, "
        "conversations_started, failures FROM {marts}.heymarket__agent_daily"
    )
    got = {(r[0][:10], int(r[1])): (int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows}
    assert got == want
    totals = [sum(v[i] for v in want.values()) for i in range(4)]
    assert all(totals), totals  # (every figure is met: the comparison can fail)
    print(f"agent days: {len(want)}; in, out, started, failures: {totals}")


def test_opt_outs_are_attributed_as_in_python(built: Built, messages: list[dict]) -> None:
    sends = [
        (m["target"], real(m["conversation"]["inbox"]), at(m["date"]), int(m["broadcast_id"]))
        for m in messages
        if real(m["broadcast_id"]) and m["type"] == "outbound"
    ]
    want = {}
    for m in messages:
        if m["type"] == "inbound" and m["text"].strip().upper() in OPT_OUT:
            when, inbox = at(m["date"]), real(m["conversation"]["inbox"])
            before = [
                (t, b)
                for phone, box, t, b in sends
                if phone == m["target"] and box == inbox and t <= when <= t + WINDOW
            ]
            want[m["id"]] = max(before)[1] if before else None
    rows = built.rows(
        "SELECT opt_out_message_id, attributed_broadcast_id FROM {marts}.heymarket__opt_outs "
        "WHERE opt_out_kind = 'keyword'"
    )
    got = {int(r[0]): (int(r[1]) if r[1] is not None else None) for r in rows}
    assert got == want
    assert any(got.values()) and None in got.values()


def test_status_opt_outs_are_attributed_as_in_python(
    built: Built, messages: list[dict], contacts: Contacts
) -> None:
    """A contact whose status answer says `unsubscribed` is one opt-out, dated at the
    contact's `updated` (contact_status's contact_updated), attributed to the latest
    broadcast to its phone, from any inbox, within 72 hours before it."""
    served, _, statuses = contacts
    sends = [
        (at(m["date"]), int(m["broadcast_id"]), real(m["conversation"]["inbox"]), m["target"])
        for m in messages
        if real(m["broadcast_id"]) and m["type"] == "outbound"
    ]
    want = {}
    for contact, status in zip(served, statuses, strict=True):
        assert status["id"] == contact["id"]
        if status["unsubscribed"]:
            when = at(contact["updated"])
            before = [s for s in sends if s[3] == status["phone"] and s[0] <= when <= s[0] + WINDOW]
            latest = max(before) if before else None
            want[int(contact["id"])] = (
                when,
                status["phone"],
                latest[1] if latest else None,
                latest[2] if latest else None,
            )
    rows = built.rows(
        "SELECT contact_id, CAST(opted_out_at AS VARCHAR), contact_phone, "
        "attributed_broadcast_id, inbox_id, opt_out_status, opt_out_message_id, keyword "
        "FROM {marts}.heymarket__opt_outs WHERE opt_out_kind = 'status'"
    )
    assert {(r[5], r[6], r[7]) for r in rows} <= {("unsubscribed", None, None)}
    got = {int(r[0]): (loaded(r[1]), r[2], r[3], r[4]) for r in rows}
    assert got == want
    assert len(want) >= 5
    attributed = sum(v[2] is not None for v in want.values())
    print(f"status opt-outs: {len(want)}, attributed to a broadcast: {attributed}")


def test_message_enhanced_has_every_message_with_its_direction(
    built: Built, messages: list[dict]
) -> None:
    rows = built.rows(
        "SELECT direction, count(*) FROM {marts}.heymarket__message_enhanced GROUP BY 1"
    )
    want: dict[str | None, int] = defaultdict(int)
    for m in messages:
        want[m["type"] if m["type"] in ("inbound", "outbound") else None] += 1
    assert {r[0]: r[1] for r in rows} == dict(want)


def test_contact_custom_fields_equal_the_contacts_values(built: Built, contacts: Contacts) -> None:
    """One row per contact; per listed field, the contact's value for the field of that
    title (null where it holds none, or an empty one: target-duckdb cannot load "" apart
    from null, so the model says null for both)."""
    served, titles, _ = contacts
    ids = {title: key for key, title in titles.items() if title in CUSTOM_FIELDS}
    assert set(ids) == set(CUSTOM_FIELDS), titles
    want = {
        int(c["id"]): tuple(as_loaded(c["custom"].get(ids[title])) for title in CUSTOM_FIELDS)
        for c in served
    }
    columns = ", ".join(f'"{name}"' for name in CUSTOM_FIELDS.values())
    rows = built.rows(
        f"SELECT contact_id, {columns} FROM {{marts}}.heymarket__contact_custom_fields"
    )
    got = {int(r[0]): tuple(r[1:]) for r in rows}
    assert got == want
    filled = sum(v is not None for values in want.values() for v in values)
    assert filled > 20 and any(all(v is None for v in values) for values in want.values())
    print(f"contact custom fields: {len(want)} contacts, {filled} values in {len(ids)} columns")


def test_contact_channels_are_one_row_per_contact_and_channel(
    built: Built, contacts: Contacts
) -> None:
    served, _, _ = contacts
    want = sorted(
        (
            int(c["id"]),
            real(ch["id"]),
            ch["channel_type"].lower(),
            as_loaded(ch["channel_id"]),
            as_loaded(ch["channel_handle"]),
        )
        for c in served
        for ch in c["contact_channels"]
    )
    rows = built.rows(
        "SELECT contact_id, contact_channel_id, channel_type, channel_id, channel_handle "
        "FROM {marts}.stg_heymarket__contact_channels"
    )
    got = sorted((int(r[0]), int(r[1]), r[2], r[3], r[4]) for r in rows)
    assert got == want
    without = [c["id"] for c in served if not c["contact_channels"]]
    assert without and len({r[0] for r in want}) == len(served) - len(without)
    types = {r[2] for r in want}
    assert {"phone", "email"} <= types
    print(f"contact channels: {len(want)} rows, {len(without)} contacts with none, {types}")


#: Every mart, read the same way from both warehouses (floats rounded, rows sorted).
MART_QUERIES = {
    name: f"SELECT * FROM {{marts}}.{name}"
    for name in (
        "heymarket__broadcasts",
        "heymarket__conversation_metrics",
        "heymarket__opt_outs",
        "heymarket__delivery_failures",
        "heymarket__inbox_daily",
        "heymarket__agent_daily",
        "heymarket__contacts_daily",
        "heymarket__message_enhanced",
        "heymarket__contact_custom_fields",
        "stg_heymarket__contact_channels",
    )
}


def normalised(rows: list[list]) -> list[tuple]:
    """Rows sorted by their values other than floats (which may differ in the last bits
    between the warehouses), timestamps in one text form."""

    def value(v: Any) -> Any:
        if isinstance(v, str) and v[:4].isdigit() and len(v) >= 10 and v[4] == "-":
            return v.replace("T", " ").removesuffix("+00:00").removesuffix("+00")
        return v

    out = [tuple(value(v) for v in row) for row in rows]
    return sorted(out, key=lambda row: repr([v for v in row if not isinstance(v, float)]))


def same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6)
        if isinstance(x, float) and isinstance(y, float)
        else x == y
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("mart", sorted(MART_QUERIES))
def test_duckdb_and_postgres_marts_are_equal(
    duckdb_built: Built, postgres_built: Built, mart: str
) -> None:
    duck = normalised(duckdb_built.rows(MART_QUERIES[mart]))
    pg = normalised(postgres_built.rows(MART_QUERIES[mart]))
    assert len(duck) == len(pg) and duck, (mart, len(duck), len(pg))
    differ = [(d, p) for d, p in zip(duck, pg, strict=True) if not same(d, p)]
    assert not differ, (mart, len(differ), differ[:2])


def readme_queries() -> list[str]:
    """The statements of the README's "Analytics" SQL block, as written."""
    (block,) = [b for b in section_blocks(ROOT / "README.md", "Analytics") if b.language == "sql"]
    lines = [line for line in block.text.splitlines() if not line.startswith("--")]
    return [q.strip() for q in "\n".join(lines).split(";") if q.strip()]


def test_the_readme_queries_answer_on_both_warehouses(
    duckdb_built: Built, postgres_built: Built
) -> None:
    """Each query of the README's Analytics section, as written, on both warehouses: rows,
    and the same rows (the marts schema is the README's on DuckDB; on Postgres this test's)."""
    queries = readme_queries()
    assert len(queries) == 4
    for sql in queries:
        assert "heymarket_analytics." in sql
        duck = normalised(duckdb_built.rows(sql))
        pg = normalised(postgres_built.rows(sql.replace("heymarket_analytics.", "{marts}.")))
        assert duck, sql
        assert len(duck) == len(pg) and all(same(d, p) for d, p in zip(duck, pg, strict=True)), sql
