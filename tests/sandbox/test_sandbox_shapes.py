"""The sandbox's `shapes` switch: every field in its other plausible types (fast, in-process).

Each answer with a case on is compared with the same answer with shapes off, value by value:
every difference must be explained by a case that is on (`explain`), so a case can change
a value's JSON type or text form but never its meaning, and never which records come back.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

import heymarket_sandbox
from heymarket_sandbox import SHAPE_CASES, Sandbox
from heymarket_sandbox import shapes as shapes_module
from heymarket_sandbox.__main__ import build_parser
from heymarket_sandbox.config import coerce
from heymarket_sandbox.data.messages import fmt_trimmed
from heymarket_sandbox.shapes import TIME_FORMS, time_form
from heymarket_sandbox.timefmt import END_US, START_US, fmt, parse_date_ns

CASES = (
    "media_list",
    "bool_ints",
    "id_strings",
    "zero_values",
    "time_forms",
    "number_strings",
    "object_for_list",
    "strings_as_numbers",
)
#: The endpoints each case must visibly change (at least one record of the answer).
AFFECTED: dict[str, tuple[str, ...]] = {
    "media_list": ("messages",),
    "bool_ints": (
        "contacts",
        "contact_fields",
        "inboxes",
        "templates",
        "messages",
        "conversations",
        "status",
    ),
    "id_strings": (
        "contacts",
        "contact_fields",
        "tags",
        "inboxes",
        "team",
        "templates",
        "surveys",
        "messages",
        "conversations",
        "status",
    ),
    "zero_values": ("contacts", "inboxes", "messages", "conversations"),
    "time_forms": (
        "contacts",
        "tags",
        "inboxes",
        "templates",
        "surveys",
        "messages",
        "conversations",
    ),
    "number_strings": (
        "contacts",
        "tags",
        "inboxes",
        "team",
        "templates",
        "messages",
        "conversations",
    ),
    "object_for_list": ("contacts", "inboxes", "templates", "messages", "conversations"),
    "strings_as_numbers": ("contacts", "inboxes", "messages", "conversations", "status"),
}
ENDPOINTS = (
    "contacts",
    "contact_fields",
    "tags",
    "inboxes",
    "team",
    "templates",
    "surveys",
    "messages",
    "conversations",
    "status",
)
ID_REFS = {"id", "user", "inbox", "assigned", "creator", "team", "members"}
NEVER_ZERO = {"id", "updated", "date"}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(
        contacts=50, messages=60, conversations=20, templates=10, inboxes=8, seed=11
    ) as sandbox:
        yield sandbox


@pytest.fixture
def off(sb: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox with shapes off before and after the test."""
    sb.configure(shapes="")
    yield sb
    sb.configure(shapes="")


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def raw(http: requests.Session, sb: Sandbox, method: str, path: str, body: Any = None) -> bytes:
    r = http.request(method, sb.url + path, json=body, headers=sb.auth_headers(), timeout=30)
    assert r.status_code == 200, (path, r.text)
    return r.content


def requests_of(http: requests.Session, sb: Sandbox) -> dict[str, list[tuple[str, str, Any]]]:
    """Every endpoint's request(s), read from the sandbox with shapes off."""
    truth = sb.truth()
    inboxes = [i["id"] for i in json.loads(raw(http, sb, "GET", "/v1/inboxes"))]
    ids = sorted(int(i) for i in truth["contacts"])[:30]
    return {
        "contacts": [("POST", "/v1/contacts", {"limit": 100})],
        "contact_fields": [("POST", "/v1/contact-fields", {})],
        "tags": [("POST", "/v1/tags", {"limit": 30})],
        "inboxes": [("GET", "/v1/inboxes", None)],
        "team": [("GET", "/v1/team", None)],
        "templates": [("POST", "/v1/templates", {"limit": 30})],
        "surveys": [("POST", "/v1/surveys", {"limit": 30, "page": 1})],
        "messages": [("POST", "/v1/messages/all", {"limit": 100})],
        "conversations": [
            ("POST", "/v1/conversations", {"id": 0, "filters": {"inboxes": inboxes}, "limit": 100})
        ],
        "status": [("POST", "/v1/contact/status", {"id": i}) for i in ids],
    }


def records(http: requests.Session, sb: Sandbox, calls: list[tuple[str, str, Any]]) -> list[Any]:
    """The records of an endpoint's answers: a list's items, or the one object."""
    out: list[Any] = []
    for method, path, body in calls:
        doc = json.loads(raw(http, sb, method, path, body))
        out += doc if isinstance(doc, list) else [doc]
    return out


def j(value: Any) -> str:
    """Strict equality: `true` is not `1`, `"1"` is not `1`."""
    return json.dumps(value, ensure_ascii=False)


def instant(text: str) -> datetime:
    """An RFC 3339 timestamp (or one without a zone, meaning UTC) as an aware datetime."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def is_id(key: str) -> bool:
    return key in ID_REFS or (key.endswith("_id") and key not in ("external_id", "local_id"))


def leaf_case(case: str, key: str, o: Any, s: Any) -> bool:
    """Whether `case` turns the original leaf `o` (under `key`) into `s`."""
    if case == "media_list":
        return key == "media" and type(o) is str and j(s) == j([o] if o else [])
    if case == "bool_ints":
        return type(o) is bool and type(s) is int and s == int(o)
    if case == "id_strings":
        return type(o) is int and type(s) is str and s == str(o) and is_id(key)
    if case == "zero_values":
        zero = (type(s) is int and s == 0) or s == ""
        return o is None and zero and key not in NEVER_ZERO
    if case == "time_forms":
        return type(o) is str and type(s) is str and instant(o) == instant(s)
    if case == "number_strings":
        number = type(o) in (int, float) and not is_id(key)
        return number and type(s) is str and s == json.dumps(o)
    if case == "strings_as_numbers":
        return type(o) is str and type(s) is int and str(s) == o and len(o) <= 15
    return False


def explain(o: Any, s: Any, cases: set[str], used: Counter[str], key: str = "") -> None:
    """Assert that `s` is `o` with only the changes `cases` allow; count the cases used."""
    if j(o) == j(s):
        return
    if isinstance(o, dict):
        assert isinstance(s, dict) and list(s) == list(o), (key, o, s)
        if key == "custom" and "data" not in o:
            raise AssertionError(f"contacts' custom map changed: {o} -> {s}")
        for k in o:
            explain(o[k], s[k], cases, used, k)
        return
    if isinstance(o, list):
        items = s
        if isinstance(s, dict) and "object_for_list" in cases:
            assert list(s) == [str(i) for i in range(len(o))], (key, s)
            assert key not in ("members",) or all(isinstance(x, dict) for x in o), key
            used["object_for_list"] += 1
            items = list(s.values())
        assert isinstance(items, list) and len(items) == len(o), (key, o, s)
        for x, y in zip(o, items, strict=True):
            explain(x, y, cases, used, key)
        return
    explained = [c for c in sorted(cases) if leaf_case(c, key, o, s)]
    assert explained, f"{key}: {o!r} -> {s!r} is not one of {sorted(cases)}"
    used[explained[0]] += 1


def record_id(rec: dict[str, Any]) -> int:
    value = rec["id"]
    assert type(value) is int or (type(value) is str and value.isdigit()), value
    return int(value)


def compare(plain: list[Any], shaped: list[Any], cases: set[str]) -> tuple[int, int, Counter]:
    """(records changed, records as they were, cases used); asserts the same record ids."""
    assert [record_id(r) for r in shaped] == [record_id(r) for r in plain]
    used: Counter[str] = Counter()
    changed = 0
    for o, s in zip(plain, shaped, strict=True):
        explain(o, s, cases, used)
        changed += j(o) != j(s)
    return changed, len(plain) - changed, used


# --------------------------------------------------------------------------- switch
def test_cases_are_exported_and_listed(off: Sandbox, http: requests.Session) -> None:
    assert SHAPE_CASES == shapes_module.SHAPE_CASES == heymarket_sandbox.SHAPE_CASES == CASES
    assert "SHAPE_CASES" in heymarket_sandbox.__all__
    assert off.config()["shapes"] == ""
    listed = off.shapes()
    assert listed == {"cases": list(CASES), "active": [], "time_forms": list(TIME_FORMS)}
    r = http.get(off.url + "/__sandbox/shapes", timeout=30)
    assert r.status_code == 200 and r.json() == listed
    off.configure(shapes="time_forms, bool_ints")
    assert off.config()["shapes"] == "bool_ints,time_forms"
    assert off.shapes()["active"] == ["bool_ints", "time_forms"]


def test_coerce_and_bad_names(off: Sandbox, http: requests.Session) -> None:
    assert coerce("shapes", "") == "" and coerce("shapes", "off") == ""
    assert coerce("shapes", "all") == "all"
    assert coerce("shapes", " id_strings ,media_list,id_strings") == "media_list,id_strings"
    for bad in ("nope", "bool_ints,nope", "Bool_Ints", "all,nope"):
        with pytest.raises(ValueError, match="media_list") as err:
            coerce("shapes", bad)
        assert all(case in str(err.value) for case in CASES)
        r = http.post(off.url + "/__sandbox/config", json={"shapes": bad}, timeout=30)
        assert r.status_code == 400 and r.json()["error"] == "bad_data", bad
        assert "nope" in r.json()["message"] or "Bool_Ints" in r.json()["message"]
    with pytest.raises(ValueError):
        coerce("shapes", ["bool_ints"])
    with pytest.raises(ValueError, match="unknown case"):
        Sandbox(shapes="bools")
    parser = build_parser()
    assert parser.parse_args(["--shapes", "all"]).shapes == "all"
    assert parser.parse_args([]).shapes == ""
    with pytest.raises(SystemExit):
        parser.parse_args(["--shapes", "nope"])
    assert off.config()["shapes"] == ""


def test_all_turns_every_case_on(off: Sandbox, http: requests.Session) -> None:
    calls = requests_of(http, off)
    plain = {name: records(http, off, c) for name, c in calls.items()}
    off.configure(shapes="all")
    assert off.config()["shapes"] == "all" and off.shapes()["active"] == list(CASES)
    used: Counter[str] = Counter()
    for name, c in calls.items():
        changed, _, per = compare(plain[name], records(http, off, c), set(CASES))
        assert changed, name
        used += per
    assert set(used) == set(CASES), used


@pytest.mark.parametrize("case", CASES)
def test_each_case(off: Sandbox, http: requests.Session, case: str) -> None:
    calls = requests_of(http, off)
    plain = {name: records(http, off, c) for name, c in calls.items()}
    truth = off.truth(updated=True)
    off.configure(shapes=case)
    for name in ENDPOINTS:
        shaped = records(http, off, calls[name])
        changed, kept, _ = compare(plain[name], shaped, {case})
        if name in AFFECTED[case]:
            assert changed, f"{case} changed nothing in {name}"
            if len(plain[name]) >= 4:  # a mix: both shapes in one answer
                assert kept, f"{case} changed every record of {name}"
        else:
            assert not changed, f"{case} changed {name}"
        if name == "team" and case == "id_strings":
            kinds = {type(m["id"]) for m in shaped[0]["members"]}
            assert kinds == {int, str}, "team members are records of their own: a mix"
    # the control endpoints are never shaped
    assert off.truth(updated=True) == truth


def test_case_details(off: Sandbox, http: requests.Session) -> None:
    """Where each case lands: the fields the docs name, at any depth."""
    calls = requests_of(http, off)
    plain = {name: records(http, off, c) for name, c in calls.items()}
    messages = plain["messages"]
    # media's default is what the docs say: a string, "" or the URL
    assert all(type(m["media"]) is str for m in messages)
    assert {m["media"] == "" for m in messages} == {True, False}
    assert all(m["media"].startswith("https://") for m in messages if m["media"])

    def shaped(case: str, name: str) -> list[Any]:
        off.configure(shapes=case)
        return records(http, off, calls[name])

    media = [m["media"] for m in shaped("media_list", "messages")]
    assert any(x == [] for x in media) and any(type(x) is list and x for x in media)
    assert any(type(x) is str for x in media)
    # id_strings: nested ids too (tags in contacts, the conversation in messages)
    contacts = shaped("id_strings", "contacts")
    assert any(type(t["id"]) is str for c in contacts for t in c["tags"])
    assert any(type(m["conversation"]["id"]) is str for m in shaped("id_strings", "messages"))
    members = [x for i in shaped("id_strings", "inboxes") for x in i["members"]]
    assert {type(x) for x in members} == {int, str}
    # zero_values: never the primary key, updated or date
    for name in ("contacts", "messages"):
        for rec in shaped("zero_values", name):
            assert rec["id"] and rec["updated"] and rec.get("date", "x")
    zeroed = shaped("zero_values", "messages")
    assert any(m["user"] == 0 for m in zeroed) and any(m["link_url"] == "" for m in zeroed)
    assert any(c["assigned_user_id"] == 0 for c in shaped("zero_values", "contacts"))
    # number_strings: not ids; messages' custom.data items
    data = [x for m in shaped("number_strings", "messages") for x in m["custom"]["data"]]
    assert any(type(x) is str for x in data) and any(type(x) is int for x in data)
    assert type(shaped("number_strings", "team")[0]["list_size"]) is str
    # object_for_list: the structural lists stay lists
    team = shaped("object_for_list", "team")[0]
    assert isinstance(team["members"], list)
    inboxes = shaped("object_for_list", "inboxes")
    assert all(isinstance(i["members"], list) for i in inboxes)
    assert any(isinstance(i["phones"], dict) for i in inboxes)
    templates = shaped("object_for_list", "templates")
    assert any(isinstance(t["content"]["gallery"], dict) for t in templates)
    conversations = shaped("object_for_list", "conversations")
    assert any(isinstance(c["members"], dict) for c in conversations)
    # strings_as_numbers: phones and targets, losslessly
    numbers = shaped("strings_as_numbers", "contacts")
    assert any(type(c["phone"]) is int for c in numbers)
    pairs = zip(numbers, plain["contacts"], strict=True)
    assert all(str(c["phone"]) == o["phone"] for c, o in pairs)
    # time_forms: every form appears, each record in one form
    forms: Counter[str] = Counter()
    for name in AFFECTED["time_forms"]:
        for o, s in zip(plain[name], shaped("time_forms", name), strict=True):
            key = "created" if "created" in o else "date"
            if s[key] != o[key]:
                forms[form_of(s[key])] += 1
    assert set(forms) == set(TIME_FORMS), forms


def form_of(text: str) -> str:
    if text.endswith("+00:00"):
        return "padded"
    if text.endswith("+02:00"):
        return "offset"
    return "trimmed" if text.endswith("Z") else "naive"


def test_deterministic_for_a_seed(off: Sandbox, http: requests.Session) -> None:
    calls = requests_of(http, off)
    off.configure(shapes="all")
    first = {name: [raw(http, off, *c) for c in cs] for name, cs in calls.items()}
    off.configure(shapes="")
    off.configure(shapes="all")
    assert {name: [raw(http, off, *c) for c in cs] for name, cs in calls.items()} == first
    with Sandbox(
        contacts=50, messages=60, conversations=20, templates=10, inboxes=8, seed=11, shapes="all"
    ) as twin:
        assert {name: [raw(http, twin, *c) for c in cs] for name, cs in calls.items()} == first


def test_off_costs_nothing(
    off: Sandbox, http: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With shapes off, answers are the bytes they were, and shapes.apply never runs."""
    calls = requests_of(http, off)
    with Sandbox(
        contacts=50, messages=60, conversations=20, templates=10, inboxes=8, seed=11
    ) as fresh:
        before = {name: [raw(http, fresh, *c) for c in cs] for name, cs in calls.items()}
    assert {name: [raw(http, off, *c) for c in cs] for name, cs in calls.items()} == before
    off.configure(shapes="all")
    assert {name: [raw(http, off, *c) for c in cs] for name, cs in calls.items()} != before
    off.configure(shapes="")

    def boom(*args: Any) -> bytes:
        raise AssertionError("shapes.apply ran with shapes off")

    monkeypatch.setattr(shapes_module, "apply", boom)
    assert {name: [raw(http, off, *c) for c in cs] for name, cs in calls.items()} == before


def test_requests_accept_digit_string_ids(off: Sandbox, http: requests.Session) -> None:
    inboxes = json.loads(raw(http, off, "GET", "/v1/inboxes"))
    member, inbox = inboxes[0]["members"][0], inboxes[0]["id"]
    cid = min(int(i) for i in off.truth()["contacts"])
    as_ints = {"id": member, "filters": {"inboxes": [inbox]}, "limit": 100}
    as_strings = {"id": str(member), "filters": {"inboxes": [str(inbox)]}, "limit": 100}

    def post(path: str, body: Any) -> requests.Response:
        return http.post(off.url + path, json=body, headers=off.auth_headers(), timeout=30)

    # shapes off: ids are integers, as before
    assert post("/v1/conversations", as_strings).status_code == 400
    assert post("/v1/contact/status", {"id": str(cid)}).status_code == 400
    off.configure(shapes="id_strings")
    ints = post("/v1/conversations", as_ints)
    strings = post("/v1/conversations", as_strings)
    assert ints.status_code == strings.status_code == 200
    assert ints.content == strings.content and ints.json()
    status = post("/v1/contact/status", {"id": str(cid)})
    assert status.status_code == 200 and int(status.json()["id"]) == cid
    assert post("/v1/contact/status", {"id": cid}).content == status.content
    for bad in ("x1", "", True, "1.5"):
        assert post("/v1/contact/status", {"id": bad}).status_code == 400, bad


# --------------------------------------------------------------------------- time_forms
def test_time_forms_round_trip() -> None:
    """Every form of every timestamp the sandbox writes is the same microsecond instant."""
    r = random.Random(5)
    stamps = [START_US, END_US, START_US + 86_400_000_000 - 1, 1_700_000_000_000_000]
    stamps += [START_US + r.randrange(END_US - START_US) for _ in range(2000)]
    stamps += [s - s % 1000 for s in stamps[:300]] + [s - s % 1_000_000 for s in stamps[:300]]
    shapes = {
        "padded": re.compile(r".*T\d\d:\d\d:\d\d\.\d{6}\+00:00"),
        "naive": re.compile(r".*T\d\d:\d\d:\d\d(\.\d{1,6})?"),
        "offset": re.compile(r".*T\d\d:\d\d:\d\d(\.\d{1,6})?\+02:00"),
        "trimmed": re.compile(r".*T\d\d:\d\d:\d\d(\.\d{0,5}[1-9])?Z"),
    }
    for us in stamps:
        for text in (fmt_trimmed(us), fmt(us, True), fmt(us, False)):
            exact = parse_date_ns(text)
            for form in TIME_FORMS:
                out = time_form(text, form)
                assert shapes[form].fullmatch(out), (text, form, out)
                assert instant(out) == instant(text), (text, form, out)
                zoned = out if form != "naive" else out + "Z"
                assert parse_date_ns(zoned) == exact, (text, form, out)
    # the offset form shows the local time: across midnight, the next day
    assert time_form("2024-12-31T23:30:00.5Z", "offset") == "2025-01-01T01:30:00.5+02:00"
    assert time_form("2024-05-01T12:34:56.780Z", "trimmed") == "2024-05-01T12:34:56.78Z"
    assert time_form("2024-05-01T12:34:56.000Z", "trimmed") == "2024-05-01T12:34:56Z"
    assert time_form("2024-05-01T12:34:56Z", "padded") == "2024-05-01T12:34:56.000000+00:00"
    assert time_form("2024-05-01T12:34:56.1234567Z", "padded") == "2024-05-01T12:34:56.1234567Z"
    assert time_form("not a date", "naive") == "not a date"
