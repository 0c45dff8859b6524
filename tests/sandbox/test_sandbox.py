"""Tests of the Heymarket API sandbox (heymarket_sandbox)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from http.client import HTTPConnection
from urllib.parse import urlsplit

import pytest
import requests

from heymarket_sandbox import API_KEY, SECRET_ID, SECRET_KEY, Sandbox
from heymarket_sandbox.__main__ import build_parser
from heymarket_sandbox.config import coerce
from tests.support.tap_runner import REPO_ROOT

MILLIS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SECONDS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CONTACT_KEYS = {
    "id",
    "display_name",
    "first",
    "last",
    "email",
    "phone",
    "custom",
    "team_id",
    "creator_id",
    "inbox_id",
    "parent_id",
    "assigned_user_id",
    "shared",
    "created",
    "updated",
    "rev",
    "op",
    "tags",
    "is_opted_out",
    "avatar",
    "external_id",
    "external_ref",
    "type",
    "note",
    "contact_channels",
}

INBOX_KEYS = {
    "id",
    "name",
    "team",
    "members",
    "phone",
    "phones",
    "auto_assignable",
    "forward_number",
    "widget_code",
    "widget_settings",
    "allowed_domains",
    "invited",
    "bco_chats",
    "op",
    "rev",
}
TEMPLATE_KEYS = {
    "id",
    "name",
    "local_id",
    "content",
    "team_id",
    "creator_id",
    "shared",
    "created",
    "updated",
    "rev",
    "archived",
}
SURVEY_KEYS = {"id", "name", "type", "question", "created", "updated"}
NEW_ENDPOINTS = [
    ("GET", "/v1/inboxes"),
    ("GET", "/v1/team"),
    ("POST", "/v1/templates"),
    ("POST", "/v1/surveys"),
]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(
    secret_id: str = SECRET_ID,
    secret_key: str = SECRET_KEY,
    iat: float | None = None,
    alg: str = "HS256",
) -> str:
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(
        json.dumps({"iss": secret_id, "iat": int(time.time() if iat is None else iat)}).encode()
    )
    sig = hmac.new(
        f"{secret_id}||{secret_key}".encode(), f"{head}.{body}".encode(), hashlib.sha256
    ).digest()
    return f"{head}.{body}.{b64url(sig)}"


def auth(token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or jwt()}"}


@pytest.fixture
def http():
    with requests.Session() as s:
        s.trust_env = False  # never route 127.0.0.1 through a proxy
        yield s


@pytest.fixture(scope="module")
def shared():
    """A read-only sandbox shared by the tests that do not reconfigure it."""
    with Sandbox(contacts=1000, seed=1) as sb:
        yield sb


def post(http, sb, path, body=None, headers=None, **kw):
    return http.post(
        sb.url + path,
        json={} if body is None else body,
        headers=auth() if headers is None else headers,
        timeout=30,
        **kw,
    )


def contacts(http, sb, **body):
    r = post(http, sb, "/v1/contacts", body)
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------- endpoints
def test_contacts_default_page_newest_first_ties_id_desc(http, shared):
    page = contacts(http, shared)
    assert isinstance(page, list)
    assert len(page) == 30
    big = contacts(http, shared, limit=1000)
    assert len(big) == 1000
    keys = [(c["updated"], c["id"]) for c in big]
    assert keys == sorted(keys, reverse=True)
    assert len({c["id"] for c in big}) == 1000
    assert contacts(http, shared, limit=5000) == big  # past the end: everything, no more


def test_contact_object_shape_and_variety(http, shared):
    team = http.get(shared.url + "/v1/team", headers=auth(), timeout=30).json()
    members = {m["id"] for m in team["members"]}
    tags = {t["id"]: t for t in post(http, shared, "/v1/tags", {"limit": 30}).json()}
    field_ids = {f["id"] for f in post(http, shared, "/v1/contact-fields").json()}
    truth = shared.truth()
    all_tag_ids = {int(k) for k in truth["tags"]}
    page = contacts(http, shared, limit=1000)
    without_uuid = 0
    string_contact_ids = deleted_field_keys = rtl = emoji = null_first = 0
    emails = set()
    for c in page:
        assert set(c) >= CONTACT_KEYS, set(c) ^ CONTACT_KEYS
        assert set(c) <= CONTACT_KEYS | {"uuid"}
        without_uuid += "uuid" not in c
        assert isinstance(c["id"], int)
        assert c["phone"].isdigit()
        assert c["creator_id"] in members
        assert c["assigned_user_id"] is None or c["assigned_user_id"] in members
        assert c["rev"] >= 1
        assert c["op"] in ("create", "update", "import")
        assert MILLIS_RE.match(c["created"]) and MILLIS_RE.match(c["updated"])
        assert c["created"] <= c["updated"]
        assert 0 <= len(c["tags"]) <= 5
        for t in c["tags"]:
            assert set(t) == {"id", "name", "color"}
            assert t["id"] in all_tag_ids
        for k, v in c["custom"].items():
            assert isinstance(k, str) and isinstance(v, str)
            deleted_field_keys += int(k) not in field_ids
        assert 0 <= len(c["note"]) <= 3
        for n in c["note"]:
            assert set(n) == {"date", "id", "name", "text", "user_id"}
        assert 0 <= len(c["contact_channels"]) <= 3
        for ch in c["contact_channels"]:
            assert ch["channel_type"] in ("phone", "email", "facebook", "instagram", "whatsapp")
            assert str(ch["contact_id"]) == str(c["id"])
            string_contact_ids += isinstance(ch["contact_id"], str)
        name = f"{c['display_name']} {c['first']} {c['last']}"
        rtl += bool(re.search("[\u0590-\u06ff]", name))
        emoji += bool(re.search("[\U0001f300-\U0001faff]", name))
        null_first += c["first"] is None
        emails.add(c["email"])
    assert 40 <= without_uuid <= 200  # ~10%
    assert string_contact_ids and deleted_field_keys and rtl and emoji and null_first
    assert None in emails and "" in emails
    assert tags  # the first page of tags was not empty


def test_count_fields_inboxes_team(http, shared):
    assert post(http, shared, "/v1/contacts/count").json() == {"count": 1000}
    fields = post(http, shared, "/v1/contact-fields").json()
    assert isinstance(fields, list) and len(fields) == 12
    # `duplicate` as the create endpoint answers it: a field the list's docs do not show.
    assert all(set(f) == {"id", "title", "duplicate"} and isinstance(f["id"], int) for f in fields)
    inboxes = http.get(shared.url + "/v1/inboxes", headers=auth(), timeout=30).json()
    assert len(inboxes) == 4  # the inboxes switch; shapes in test_inboxes_shape
    assert all(set(i) >= INBOX_KEYS for i in inboxes)
    team = http.get(shared.url + "/v1/team", headers=auth(), timeout=30).json()
    assert set(team) == {"id", "name", "list_size", "members"}
    assert len(team["members"]) == 8  # the members switch
    assert all(set(m) == {"id", "name", "role"} for m in team["members"])


def test_tags_paging(http, shared):
    truth = shared.truth()
    first = post(http, shared, "/v1/tags").json()
    assert len(first) == 30
    assert len(post(http, shared, "/v1/tags", {"limit": 500}).json()) == 30  # clamped
    assert set(first[0]) == {"id", "tag", "color", "team_id", "created", "updated", "rev"}
    assert all(re.fullmatch(r"#[0-9A-F]{6}", t["color"]) for t in first)
    updated = [t["updated"] for t in first]
    assert updated == sorted(updated, reverse=True)
    rest = post(http, shared, "/v1/tags", {"date": first[-1]["updated"], "limit": 30}).json()
    assert all(t["updated"] < first[-1]["updated"] for t in rest)
    # inclusive cursor with de-duplication reaches every tag
    shared.configure(cursor="inclusive")
    try:
        seen: dict[int, int] = {}
        date = None
        for _ in range(20):
            body = {"limit": 30} if date is None else {"limit": 30, "date": date}
            page = post(http, shared, "/v1/tags", body).json()
            new = [t for t in page if t["id"] not in seen]
            if not new:
                break
            seen.update({t["id"]: t["rev"] for t in page})
            date = page[-1]["updated"]
    finally:
        shared.configure(cursor="strict")
    assert {str(k): v for k, v in seen.items()} == truth["tags"]
    assert truth["tag_count"] >= 40
    shared_updates = max(list(map(lambda t: t["updated"], first)).count(u) for u in updated)
    assert 2 <= shared_updates <= 8


# --------------------------------------------------------------------------- switches
def test_cursor_strict_vs_inclusive(http):
    with Sandbox(contacts=600, seed=3) as sb:
        page = contacts(http, sb, limit=50)
        pivot = page[20]["updated"]
        strict = contacts(http, sb, limit=50, date=pivot)
        assert all(c["updated"] < pivot for c in strict)
        assert strict[0] == page[21] or strict[0]["updated"] < pivot
        sb.configure(cursor="inclusive")
        inclusive = contacts(http, sb, limit=50, date=pivot)
        assert inclusive[0]["updated"] == pivot
        assert all(c["updated"] <= pivot for c in inclusive)


def test_date_parsing_is_exact(http):
    with Sandbox(contacts=300, seed=4) as sb:
        c = contacts(http, sb, limit=10)[3]
        upd = c["updated"]  # 2024-05-01T12:34:56.789Z
        base = upd[:-1]
        # one microsecond later: strictly after it, so the contact is included
        after = contacts(http, sb, limit=1, date=base + "001Z")
        assert after[0]["id"] == c["id"]
        after_ns = contacts(http, sb, limit=1, date=base + "000001Z")
        assert after_ns[0]["id"] == c["id"]
        same = contacts(http, sb, limit=1, date=base + "000000Z")
        assert same[0]["updated"] < upd
        # the same instant in another offset
        t = time.strptime(upd[:19], "%Y-%m-%dT%H:%M:%S")
        shifted = time.strftime(
            "%Y-%m-%dT%H:%M:%S", time.gmtime(time.mktime(t) - time.timezone + 7200)
        )
        plus2 = contacts(http, sb, limit=1, date=f"{shifted}{upd[19:23]}+02:00")
        assert plus2 == same
        for bad in (
            "yesterday",
            "2024-05-01",
            "2024-05-01T12:34:56",
            "2024-13-01T00:00:00Z",
            "2024-05-01T12:34:56.1234567890Z",
        ):
            r = post(http, sb, "/v1/contacts", {"date": bad})
            assert r.status_code == 400, bad
            assert r.json()["error"] == "bad_data"


def test_precision_seconds_vs_millis(http):
    with Sandbox(contacts=300, seed=1, precision="seconds") as sb:
        page = contacts(http, sb, limit=100)
        assert all(SECONDS_RE.match(c["updated"]) and SECONDS_RE.match(c["created"]) for c in page)
        tags = post(http, sb, "/v1/tags").json()
        assert all(SECONDS_RE.match(t["updated"]) for t in tags)
        sb.configure(precision="millis")
        page = contacts(http, sb, limit=100)
        assert all(MILLIS_RE.match(c["updated"]) for c in page)
        assert any(not c["updated"].endswith(".000Z") for c in page)


def test_max_limit_clamp(http):
    with Sandbox(contacts=300, seed=1, max_limit=25) as sb:
        page = contacts(http, sb, limit=100)
        assert len(page) == 25  # short page, but not the last one
        assert len(contacts(http, sb, limit=100, date=page[-1]["updated"])) == 25
        assert len(contacts(http, sb, limit=10)) == 10


def test_page_modes(http):
    with Sandbox(contacts=300, seed=1) as sb:
        everything = contacts(http, sb, limit=300)
        assert contacts(http, sb, limit=10, page=3) == everything[:10]  # ignore
        assert contacts(http, sb, limit=10, page="x") == everything[:10]  # not even validated
        sb.configure(page="zero")
        assert contacts(http, sb, limit=10, page=0) == everything[:10]
        assert contacts(http, sb, limit=10, page=2) == everything[20:30]
        sb.configure(page="one")
        assert contacts(http, sb, limit=10) == everything[:10]
        assert contacts(http, sb, limit=10, page=1) == everything[:10]
        assert contacts(http, sb, limit=10, page=3) == everything[20:30]
        assert contacts(http, sb, limit=10, page=40) == []
        # offsets count within the date filter and use the clamped limit
        date = everything[99]["updated"]
        below = [c for c in everything if c["updated"] < date]
        assert contacts(http, sb, limit=10, page=2, date=date) == below[10:20]
        for bad in ("x", -1, 1.5):
            assert post(http, sb, "/v1/contacts", {"page": bad}).status_code == 400
        sb.configure(max_limit=5)
        assert contacts(http, sb, limit=10, page=2) == everything[5:10]


def test_tie_groups(http, shared):
    truth = shared.truth()
    groups = truth["tie_groups"]
    assert len(groups) >= 2
    assert groups[0]["size"] > 200
    assert all(50 <= g["size"] <= 300 for g in groups)
    assert [g["size"] for g in groups] == sorted((g["size"] for g in groups), reverse=True)
    everything = contacts(http, shared, limit=1000)
    in_group = [c for c in everything if c["updated"] == groups[0]["updated"]]
    assert len(in_group) == groups[0]["size"]
    ids = [c["id"] for c in in_group]
    assert ids == sorted(ids, reverse=True)
    # a strict timestamp cursor loses the rest of a group that spans a page boundary
    start = everything.index(in_group[0])
    page = contacts(http, shared, limit=start + 10)
    nxt = contacts(http, shared, limit=1000, date=page[-1]["updated"])
    assert len(page) + len(nxt) < 1000


def test_tie_groups_scale():
    with Sandbox(contacts=12_000, seed=9) as sb:
        groups = sb.truth()["tie_groups"]
        assert len(groups) >= 4
        assert groups[0]["size"] > 200


def test_rate_limit_and_retry_after(http):
    with Sandbox(contacts=100, rate_limit=20, rate_window=60) as sb:  # bucket of 2
        codes = [post(http, sb, "/v1/contacts/count").status_code for _ in range(4)]
        assert codes == [200, 200, 429, 429]
        r = post(http, sb, "/v1/contacts/count")
        assert r.status_code == 429
        assert r.json()["error"] == "rate_limited"
        assert "Retry-After" not in r.headers
        assert http.get(sb.url + "/__sandbox/stats", timeout=30).status_code == 200  # control
        sb.configure(retry_after=7)
        post(http, sb, "/v1/contacts/count")
        r = post(http, sb, "/v1/contacts/count")
        assert r.status_code == 429 and r.headers["Retry-After"] == "7"
        sb.configure(retry_after="auto")
        post(http, sb, "/v1/contacts/count")
        r = post(http, sb, "/v1/contacts/count")
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 3
        stats = sb.stats()
        assert stats["by_status"]["429"] >= 4
        assert stats["peak_rate"] == stats["requests"]
        sb.configure(rate_limit=600, rate_window=1)  # 600/s refill, bucket 60
        assert all(post(http, sb, "/v1/contacts/count").status_code == 200 for _ in range(30))


def test_latency(http):
    with Sandbox(contacts=100, latency_ms=150) as sb:
        # A lower bound only: the sandbox sleeps at least that long, however slow the machine.
        t = time.perf_counter()
        assert post(http, sb, "/v1/contacts/count").status_code == 200
        assert time.perf_counter() - t >= 0.15
        # Control calls are never delayed. Proven without timing them: with ten minutes of
        # latency, a delayed control call would time out instead of answering.
        sb.configure(latency_ms=600_000)
        assert http.get(sb.url + "/__sandbox/stats", timeout=30).status_code == 200
        assert sb.config()["latency_ms"] == 600_000


def test_fault_5xx(http):
    with Sandbox(contacts=100, fault_5xx=1.0) as sb:
        kinds = set()
        for _ in range(30):
            r = post(http, sb, "/v1/contacts")
            assert r.status_code in (500, 502, 503)
            assert r.headers["X-Request-Id"]
            kinds.add(r.headers["Content-Type"].split(";")[0])
        assert kinds == {"application/json", "text/html"}
        assert http.get(sb.url + "/__sandbox/truth", timeout=30).status_code == 200


def test_fault_truncate(http):
    with Sandbox(contacts=100, fault_truncate=1.0) as sb:
        r = post(http, sb, "/v1/contacts", {"limit": 20})
        assert r.status_code == 200
        assert len(r.content) == int(r.headers["Content-Length"])
        with pytest.raises(ValueError):
            json.loads(r.content)
        # the connection stays usable
        sb.configure(fault_truncate=0.0)
        assert len(contacts(http, sb, limit=20)) == 20


def test_fault_drop(http):
    with Sandbox(contacts=100, fault_drop=1.0) as sb:
        with pytest.raises(requests.ConnectionError):
            post(http, sb, "/v1/contacts")
        assert sb.stats()["by_status"] == {"drop": 1}
        sb.configure(fault_drop=0.0)
        assert post(http, sb, "/v1/contacts").status_code == 200


def test_faults_reproducible(http):
    def run():
        with Sandbox(contacts=100, fault_5xx=0.3, fault_truncate=0.2, fault_seed=42) as sb:
            out = []
            for _ in range(40):
                r = post(http, sb, "/v1/contacts/count")
                try:
                    r.json()
                    out.append(r.status_code)
                except ValueError:
                    out.append(-r.status_code)
            return out

    first = run()
    assert first == run()
    assert {200, -200} <= set(first) and set(first) & {500, 502, 503, -502, -503, -500}


def test_fail_after_answers_503_from_the_chosen_request_on(http):
    with Sandbox(contacts=100, fail_after=2) as sb:
        assert [post(http, sb, "/v1/contacts").status_code for _ in range(4)] == [
            200,
            200,
            503,
            503,
        ]
        sb.configure(fail_after=1)  # counts again from when it is set
        assert [post(http, sb, "/v1/tags").status_code for _ in range(3)] == [200, 503, 503]
        r = post(http, sb, "/v1/tags")
        assert r.json()["error"] == "internal_error"
        assert r.json()["request_id"] == r.headers["X-Request-Id"]
        sb.configure(fail_after=0)
        assert post(http, sb, "/v1/contacts").status_code == 200


def test_force_status(http):
    with Sandbox(contacts=100, force_status=403) as sb:
        r = post(http, sb, "/v1/contacts")
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        r = post(http, sb, "/v1/contacts", headers={})  # even without credentials
        assert r.status_code == 403
        for code, error in (
            (400, "bad_data"),
            (401, "unauthorized"),
            (404, "not_found"),
            (500, "internal_error"),
        ):
            sb.configure(force_status=code)
            r = post(http, sb, "/v1/tags")
            assert r.status_code == code and r.json()["error"] == error
            assert r.json()["request_id"] == r.headers["X-Request-Id"]
        sb.configure(force_status=0)
        assert post(http, sb, "/v1/tags").status_code == 200


def test_force_body(http):
    with Sandbox(contacts=100, force_body="html") as sb:
        r = post(http, sb, "/v1/contacts")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
        assert b"<html" in r.content
        sb.configure(force_body="object")
        body = post(http, sb, "/v1/contacts", {"limit": 3}).json()
        assert isinstance(body, dict) and len(body["data"]) == 3
        assert isinstance(post(http, sb, "/v1/tags").json(), dict)
        assert post(http, sb, "/v1/contacts/count").json() == {"count": 100}


def test_mutate_every(http):
    with Sandbox(contacts=200, seed=2, mutate_every=2, mutate_count=3, create_count=2) as sb:
        before = sb.truth()
        first = contacts(http, sb, limit=5)
        assert sb.truth() == before
        second = contacts(http, sb, limit=10)  # mutation happens before answering
        after = sb.truth()
        assert after["count"] == 202
        created = set(after["contacts"]) - set(before["contacts"])
        changed = {k for k in before["contacts"] if before["contacts"][k] != after["contacts"][k]}
        assert len(created) == 2 and len(changed) == 3
        assert all(after["contacts"][k] == before["contacts"][k] + 1 for k in changed)
        assert {str(c["id"]) for c in second[:5]} == created | changed
        assert second[0]["updated"] > first[0]["updated"]
        assert after["max_updated"] == second[0]["updated"]
        assert sb.stats()["list_requests"] == 2


def test_jwt_ttl_and_clock(http):
    with Sandbox(contacts=50, jwt_ttl=60) as sb:
        assert post(http, sb, "/v1/contacts/count", headers=auth(jwt())).status_code == 200
        old = jwt(iat=time.time() - 120)
        assert post(http, sb, "/v1/contacts/count", headers=auth(old)).status_code == 401
        sb.configure(jwt_ttl=300)
        assert post(http, sb, "/v1/contacts/count", headers=auth(old)).status_code == 200
        future = jwt(iat=time.time() + 120)
        assert post(http, sb, "/v1/contacts/count", headers=auth(future)).status_code == 401
        sb.configure(clock_offset=400)  # the server clock runs ahead
        r = post(http, sb, "/v1/contacts/count", headers=auth(jwt()))
        assert r.status_code == 401 and "expired" in r.json()["message"]


# --------------------------------------------------------------------------- auth
def test_auth_accept(http, shared):
    assert post(http, shared, "/v1/contacts/count", headers=auth(jwt())).status_code == 200
    assert post(http, shared, "/v1/contacts/count", headers=auth(API_KEY)).status_code == 200
    assert (
        http.get(shared.url + "/v1/inboxes", headers=shared.auth_headers(), timeout=30).status_code
        == 200
    )


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Basic " + base64.b64encode(b"a:b").decode(),
        "Bearer garbage",
        "Bearer " + jwt(secret_key="wrong-key"),
        "Bearer " + jwt(secret_id="other-id"),
        "Bearer " + jwt(iat=time.time() - 3600),
        "Bearer " + jwt(alg="none"),
        "Bearer a.b.c",
        "Bearer not-the-api-key",
    ],
)
def test_auth_reject(http, shared, header):
    headers = {} if header is None else {"Authorization": header}
    r = post(http, shared, "/v1/contacts", headers=headers)
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "unauthorized" and body["message"]
    assert body["request_id"] == r.headers["X-Request-Id"]
    token = (header or "").partition(" ")[2]
    if len(token) > 6:
        assert token not in r.text


def test_custom_credentials(http):
    with Sandbox(contacts=10, secret_id="id2", secret_key="key2", api_key="") as sb:
        ok = post(http, sb, "/v1/contacts/count", headers=auth(jwt("id2", "key2")))
        assert ok.status_code == 200
        assert post(http, sb, "/v1/contacts/count", headers=auth(jwt())).status_code == 401
        assert post(http, sb, "/v1/contacts/count", headers=auth(API_KEY)).status_code == 401


# --------------------------------------------------------------------------- errors
def test_not_found(http, shared):
    for method, path in (
        ("GET", "/v1/nope"),
        ("GET", "/v1/contacts"),
        ("POST", "/v1/inboxes"),
        ("DELETE", "/v1/contacts"),
        ("GET", "/"),
        ("POST", "/__sandbox/nope"),
    ):
        r = http.request(method, shared.url + path, headers=auth(), timeout=30)
        assert r.status_code == 404, (method, path)
        assert r.json()["error"] == "not_found"
        assert r.json()["request_id"] == r.headers["X-Request-Id"]


def test_protocol_errors_are_json(shared):
    u = urlsplit(shared.url)
    for raw in (b"GARBAGE\r\n\r\n", b"BREW /v1/contacts HTTP/1.1\r\nHost: x\r\n\r\n"):
        with socket.create_connection((u.hostname, u.port), timeout=30) as sock:
            sock.sendall(raw)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.split()[1] in (b"400", b"404")
        assert b"X-Request-Id: req_" in head
        assert "request_id" in json.loads(body)


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b'{"limit": 0}',
        b'{"limit": -5}',
        b'{"limit": "30"}',
        b'{"limit": 2.5}',
        b'{"limit": true}',
        b'{"date": 12345}',
        b'{"date": "soon"}',
    ],
)
def test_bad_data(http, shared, data):
    r = http.post(
        shared.url + "/v1/contacts",
        data=data,
        headers={**auth(), "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 400
    assert r.json()["error"] == "bad_data"
    assert r.json()["request_id"] == r.headers["X-Request-Id"]


def test_empty_body_and_ignored_fields(http, shared):
    r = http.post(shared.url + "/v1/contacts", headers=auth(), timeout=30)
    assert r.status_code == 200 and len(r.json()) == 30
    odd = contacts(
        http,
        shared,
        limit=7,
        ascending=True,
        order="name",
        archived=False,
        assigned=123,
        filter={"x": 1},
        id=5,
        parent_id=9,
    )
    assert odd == contacts(http, shared, limit=7)


def test_request_id_on_every_response(http):
    with Sandbox(contacts=20, rate_limit=10) as sb:
        ids = set()
        responses = [
            post(http, sb, "/v1/contacts"),
            post(http, sb, "/v1/contacts", headers={}),
            http.get(sb.url + "/v1/missing", headers=auth(), timeout=30),
            post(http, sb, "/v1/contacts", {"limit": 0}),
            http.get(sb.url + "/__sandbox/stats", timeout=30),
            http.get(sb.url + "/__sandbox/nothing", timeout=30),
            post(http, sb, "/v1/contacts/count"),  # 429 by now
        ]
        assert responses[-1].status_code == 429
        for r in responses:
            rid = r.headers["X-Request-Id"]
            assert rid.startswith("req_")
            ids.add(rid)
        assert len(ids) == len(responses)


def test_keep_alive():
    with Sandbox(contacts=50) as sb:
        u = urlsplit(sb.url)
        conn = HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            for path in ("/v1/contacts", "/v1/nothing", "/v1/tags"):
                conn.request("POST", path, body=b"{}", headers=auth())
                r = conn.getresponse()
                r.read()
                assert r.getheader("Content-Length") is not None
                assert not r.will_close
            assert sb.stats()["requests"] == 3
        finally:
            conn.close()


#: One request of each way the sandbox answers: (switches set first, path, headers, status).
ANSWERS = (
    ({}, "/v1/contacts", True, "200"),
    ({}, "/v1/nothing", True, "404"),
    ({}, "/v1/tags", False, "401"),
    ({"force_status": 503}, "/v1/contacts", True, "503"),
    ({"force_status": 0, "rate_limit": 1, "rate_window": 600}, "/v1/contacts/count", True, "200"),
    ({}, "/v1/contacts/count", True, "429"),  # the bucket of 1 is empty now
    ({"rate_limit": 0, "fault_5xx": 1.0}, "/v1/contacts", True, "5xx"),
    ({"fault_5xx": 0.0, "fault_truncate": 1.0}, "/v1/contacts", True, "200"),
    ({"fault_truncate": 0.0, "fault_drop": 1.0}, "/v1/contacts", True, "drop"),
)


def test_stats_count_a_request_before_its_answer_leaves(http, monkeypatch):
    """Every way of answering (data, error, 401, forced status, 429, fault, truncated
    body, dropped connection) is in the stats before the client can see the answer, so
    a test reading the stats right after its request never races the handler thread."""
    from heymarket_sandbox.server import Handler

    at_answer: list[int] = []  # stats["requests"] when each API answer started to leave

    def seen(handler: Handler) -> None:
        if handler.api:
            at_answer.append(handler.server.state.stats.snapshot()["requests"])

    flush_headers = Handler.flush_headers

    def flush(self: Handler) -> None:
        seen(self)
        flush_headers(self)

    class Connection:
        """The handler's socket, noting the moment a drop shuts it."""

        def __init__(self, handler: Handler, sock: socket.socket) -> None:
            self._handler, self._sock = handler, sock

        def shutdown(self, how: int) -> None:
            seen(self._handler)
            self._sock.shutdown(how)

        def __getattr__(self, name: str):
            return getattr(self._sock, name)

    setup = Handler.setup

    def setup_with_proxy(self: Handler) -> None:
        setup(self)
        self.connection = Connection(self, self.connection)

    monkeypatch.setattr(Handler, "flush_headers", flush)
    monkeypatch.setattr(Handler, "setup", setup_with_proxy)
    with Sandbox(contacts=50) as sb:
        for n, (switches, path, authorized, status) in enumerate(ANSWERS, start=1):
            if switches:
                sb.configure(**switches)
            try:
                r = post(http, sb, path, headers=None if authorized else {})
                got = r.status_code
                answered = "5xx" if status == "5xx" and got in (500, 502, 503) else str(got)
            except requests.ConnectionError:
                answered = "drop"
            assert answered == status, path
            assert at_answer == list(range(1, n + 1)), (path, status)
            assert sb.stats()["requests"] == n  # right after the answer: no race
        by_status = sb.stats()["by_status"]
    assert sum(by_status.values()) == len(ANSWERS)
    assert by_status["200"] == 3 and by_status["drop"] == by_status["429"] == 1


# --------------------------------------------------------------------------- determinism
def test_determinism_by_seed(http):
    with (
        Sandbox(contacts=400, seed=5) as a,
        Sandbox(contacts=400, seed=5) as b,
        Sandbox(contacts=400, seed=6) as c,
    ):
        pa = post(http, a, "/v1/contacts", {"limit": 400}).content
        assert pa == post(http, b, "/v1/contacts", {"limit": 400}).content
        assert pa != post(http, c, "/v1/contacts", {"limit": 400}).content
        for path in ("/v1/tags", "/v1/contact-fields"):
            assert post(http, a, path).content == post(http, b, path).content
            assert post(http, a, path).content != post(http, c, path).content
        ta = a.truth(updated=True)
        assert ta == b.truth(updated=True)
        assert ta != c.truth(updated=True)
        assert min(ta["updated"].values()) >= "2023-01-01"
        assert max(ta["updated"].values()) < "2026-06-01"


# --------------------------------------------------------------------------- control
def test_control_endpoints(http):
    with Sandbox(contacts=100, seed=1) as sb:
        truth = sb.truth()
        assert truth["count"] == 100 and len(truth["contacts"]) == 100
        assert truth["contact_field_count"] == len(truth["contact_fields"]) == 12
        assert truth["tag_count"] == len(truth["tags"])
        assert "updated" not in truth
        full = sb.truth(updated=True)
        assert max(full["updated"].values()) == full["max_updated"]
        assert min(full["updated"].values()) == full["min_updated"]

        post(http, sb, "/v1/contacts")
        post(http, sb, "/v1/contacts", headers={})
        post(http, sb, "/v1/tags")
        stats = sb.stats()
        assert stats["requests"] == 3
        assert stats["by_path"]["/v1/contacts"] == {"200": 1, "401": 1}
        assert stats["by_status"] == {"200": 2, "401": 1}
        assert stats["list_requests"] == 2 and stats["unauthorized"] == 1
        assert stats["peak_rate"] == 3
        sb.reset_stats()
        assert sb.stats()["requests"] == 0

        out = sb.mutate(n=4, new=3)
        assert len(out["updated_ids"]) == 4 and len(out["created_ids"]) == 3
        assert min(out["created_ids"]) > max(int(k) for k in truth["contacts"])
        after = sb.truth(updated=True)
        assert after["count"] == 103
        for cid in out["updated_ids"]:
            assert after["contacts"][str(cid)] == truth["contacts"][str(cid)] + 1
            assert after["updated"][str(cid)] > truth["max_updated"]
        for cid in out["created_ids"]:
            assert after["contacts"][str(cid)] == 1
        page = contacts(http, sb, limit=7)
        assert {c["id"] for c in page} == set(out["updated_ids"]) | set(out["created_ids"])
        assert all(c["op"] in ("update", "create") for c in page)
        assert sum(c["updated"] == c["created"] for c in page) >= 3
        assert len({c["updated"] for c in page}) == 7  # millis: distinct, increasing

        cfg = sb.configure(cursor="inclusive", max_limit=10)
        assert cfg["cursor"] == "inclusive" and cfg["max_limit"] == 10
        assert sb.config()["max_limit"] == 10
        for bad in ({"cursor": "maybe"}, {"nope": 1}, {"max_limit": -1}, {"fault_5xx": 2}):
            r = http.post(sb.url + "/__sandbox/config", json=bad, timeout=30)
            assert r.status_code == 400 and r.json()["error"] == "bad_data"
        sb.configure(contacts=50, seed=2)  # rebuild
        assert sb.truth()["count"] == 50


def test_mutation_seconds_precision_stays_ordered(http):
    with Sandbox(contacts=100, precision="seconds") as sb:
        before = sb.truth()
        sb.mutate(n=5, new=2)
        sb.mutate(n=5, new=2)
        page = contacts(http, sb, limit=100)
        keys = [(c["updated"], c["id"]) for c in page]
        assert keys == sorted(keys, reverse=True)
        assert page[0]["updated"] > before["max_updated"]


def test_rewrite_ids_bump_rev_and_keep_updated(http):
    with Sandbox(contacts=100, precision="seconds") as sb:
        before = {c["id"]: c for c in contacts(http, sb, limit=100)}
        picked = sorted(before)[10:13]
        answer = sb.mutate(n=0, new=0, rewrite_ids=picked)
        assert answer["rewritten_ids"] == picked and answer["updated_ids"] == []
        after = {c["id"]: c for c in contacts(http, sb, limit=100)}
        for cid, contact in after.items():
            old = before[cid]
            assert contact["updated"] == old["updated"]
            if cid in picked:
                assert contact["rev"] == old["rev"] + 1 and contact["op"] == "update"
                assert contact["custom"] != old["custom"]
            else:
                assert contact == old
        assert sb.truth()["contacts"] == {str(i): c["rev"] for i, c in after.items()}
        # An unknown id changes nothing.
        with pytest.raises(ValueError, match="no contact 1"):
            sb.mutate(n=0, new=0, rewrite_ids=[picked[0], 1])
        assert sb.truth()["contacts"][str(picked[0])] == after[picked[0]]["rev"]
        with pytest.raises(ValueError, match="rewrite_ids must be a list of integers"):
            sb.mutate(n=0, new=0, rewrite_ids=["x"])


def test_constructor_rejects_bad_switch():
    with pytest.raises(ValueError):
        Sandbox(cursor="sideways")
    with pytest.raises(ValueError):
        Sandbox(colour="red")


# --------------------------------------------------------------------------- CLI
def test_cli(http, tmp_path):
    url_file = tmp_path / "url"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heymarket_sandbox",
            "--port",
            "0",
            "--contacts",
            "100",
            "--url-file",
            str(url_file),
            "--precision",
            "seconds",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert re.fullmatch(r"SANDBOX_URL=http://127\.0\.0\.1:\d+\n", line)
        url = line.strip().split("=", 1)[1]
        assert url_file.read_text().strip() == url
        r = http.post(url + "/v1/contacts/count", json={}, headers=auth(), timeout=30)
        assert r.json() == {"count": 100}
        r = http.post(url + "/v1/contacts", json={"limit": 1}, headers=auth(), timeout=30)
        assert SECONDS_RE.match(r.json()[0]["updated"])
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out == ""


def test_cli_sigint():
    proc = subprocess.Popen(
        [sys.executable, "-m", "heymarket_sandbox", "--port", "0", "--contacts", "10"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith("SANDBOX_URL=http://127.0.0.1:")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


def test_cli_rejects_bad_flag():
    r = subprocess.run(
        [sys.executable, "-m", "heymarket_sandbox", "--cursor", "maybe"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "cursor" in r.stderr


def test_sandbox_process_mode(http):
    with Sandbox(process=True, contacts=120, seed=3, cursor="inclusive") as sb:
        assert post(http, sb, "/v1/contacts/count").json() == {"count": 120}
        assert sb.config()["cursor"] == "inclusive"
        assert sb.mutate(n=1, new=0)["updated_ids"]
        assert sb.stats()["requests"] == 1


# --------------------------------------------------------------------------- other resources
def call(http, sb, method, path, body=None, headers=None):
    if method == "GET":
        return http.get(sb.url + path, headers=auth() if headers is None else headers, timeout=30)
    return post(http, sb, path, body, headers)


def get(http, sb, path):
    r = call(http, sb, "GET", path)
    assert r.status_code == 200, r.text
    return r.json()


def templates(http, sb, **body):
    r = post(http, sb, "/v1/templates", body)
    assert r.status_code == 200, r.text
    return r.json()


def surveys(http, sb, **body):
    r = post(http, sb, "/v1/surveys", body)
    assert r.status_code == 200, r.text
    return r.json()


def all_templates(http, sb):
    """Every listed template, by page offsets inside one (absent) date filter."""
    sb.configure(page="zero")
    out = []
    for page in range(100):
        chunk = templates(http, sb, page=page)
        if not chunk:
            return out
        out += chunk
    raise AssertionError("templates never ended")


@pytest.mark.parametrize(("method", "path"), NEW_ENDPOINTS)
def test_new_endpoints_auth(http, shared, method, path):
    for headers in ({}, {"Authorization": "Bearer " + jwt(secret_key="wrong-key")}):
        r = call(http, shared, method, path, headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        assert r.json()["request_id"] == r.headers["X-Request-Id"]
    ok = call(http, shared, method, path)
    assert ok.status_code == 200 and ok.headers["X-Request-Id"].startswith("req_")
    assert call(http, shared, method, path, headers=auth(API_KEY)).status_code == 200
    other = "POST" if method == "GET" else "GET"
    assert call(http, shared, other, path).status_code == 404


def test_new_endpoints_share_the_plumbing(http):
    with Sandbox(contacts=20, force_status=503) as sb:
        for method, path in NEW_ENDPOINTS:
            r = call(http, sb, method, path, headers={})
            assert r.status_code == 503 and r.json()["request_id"] == r.headers["X-Request-Id"]
        sb.configure(force_status=0, force_body="object")
        for method, path in NEW_ENDPOINTS:
            body = call(http, sb, method, path).json()
            assert isinstance(body, dict) and ("data" in body) == (path != "/v1/team")
        sb.configure(force_body="html")
        r = call(http, sb, "POST", "/v1/surveys")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
        sb.configure(force_body="", fault_5xx=1.0)
        for method, path in NEW_ENDPOINTS:
            assert call(http, sb, method, path).status_code in (500, 502, 503)
        sb.configure(fault_5xx=0.0, rate_limit=10)  # a bucket of one token
        codes = [call(http, sb, method, path).status_code for method, path in NEW_ENDPOINTS]
        assert codes == [200, 429, 429, 429]
        by_path = sb.stats()["by_path"]
        assert all(path in by_path for _, path in NEW_ENDPOINTS)


def test_inboxes_shape(http, shared):
    team = get(http, shared, "/v1/team")
    member_ids = {m["id"] for m in team["members"]}
    inboxes = get(http, shared, "/v1/inboxes")
    assert isinstance(inboxes, list) and len(inboxes) == 4
    for i in inboxes:
        assert set(i) >= INBOX_KEYS
        assert set(i) - INBOX_KEYS >= {"business_hours", "auto_close"}  # undocumented extras
        assert isinstance(i["id"], int) and i["team"] == team["id"]
        assert i["members"] and set(i["members"]) <= member_ids
        assert i["phone"].isdigit() and i["phone"] in i["phones"]
        assert all(isinstance(p, str) and p.isdigit() for p in i["phones"])
        assert i["forward_number"] is None or i["forward_number"].isdigit()
        assert isinstance(i["widget_code"], str) and isinstance(i["widget_settings"], dict)
        assert all(isinstance(d, str) for d in i["allowed_domains"])
        assert isinstance(i["auto_assignable"], bool) and isinstance(i["bco_chats"], bool)
        assert isinstance(i["op"], str) and i["rev"] >= 1
        assert isinstance(i["invited"], bool) or all(isinstance(x, str) for x in i["invited"])
    assert {type(i["invited"]) for i in inboxes} == {bool, list}
    assert {i["forward_number"] is None for i in inboxes} == {True, False}
    assert len({i["id"] for i in inboxes}) == 4
    inbox_ids = {c["inbox_id"] for c in contacts(http, shared, limit=1000)}
    assert inbox_ids <= {i["id"] for i in inboxes}
    assert shared.truth()["streams"]["inboxes"] == {
        "count": 4,
        "ids": {str(i["id"]): i["rev"] for i in inboxes},
        "without_members": [],
    }


def test_team_object(http, shared):
    team = get(http, shared, "/v1/team")
    assert isinstance(team, dict) and set(team) == {"id", "name", "list_size", "members"}
    assert team["list_size"] == 1000
    ids = [m["id"] for m in team["members"]]
    assert len(set(ids)) == len(ids) == 8
    assert all(set(m) == {"id", "name", "role"} for m in team["members"])
    assert all(isinstance(m["role"], str) and isinstance(m["name"], str) for m in team["members"])
    streams = shared.truth()["streams"]
    assert streams["team"] == {"count": 1, "ids": {str(team["id"]): None}}
    assert streams["team_members"] == {"count": 8, "ids": {str(i): None for i in ids}}


def test_inbox_and_member_switches(http):
    with Sandbox(contacts=300, seed=2) as sb:
        page = post(http, sb, "/v1/contacts", {"limit": 300}).content
        inboxes = get(http, sb, "/v1/inboxes")
        assert len(inboxes) == 4 and all(i["members"] for i in inboxes)
        sb.configure(empty_inbox=True)
        more = get(http, sb, "/v1/inboxes")
        assert len(more) == 5 and more[:4] == inboxes and more[4]["members"] == []
        assert sb.truth()["streams"]["inboxes"]["without_members"] == [more[4]["id"]]
        sb.configure(inboxes=12, members=20, empty_inbox=0)
        inboxes = get(http, sb, "/v1/inboxes")
        team = get(http, sb, "/v1/team")
        member_ids = {m["id"] for m in team["members"]}
        assert len(member_ids) == 20 and len({i["id"] for i in inboxes}) == 12
        assert all(i["members"] and set(i["members"]) <= member_ids for i in inboxes)
        sb.configure(inboxes=0, members=2)
        assert get(http, sb, "/v1/inboxes") == []
        assert len(get(http, sb, "/v1/team")["members"]) == 2
        # contacts never depend on these switches
        assert post(http, sb, "/v1/contacts", {"limit": 300}).content == page
        for bad in ({"empty_inbox": "maybe"}, {"members": 0}, {"inboxes": -1}):
            r = http.post(sb.url + "/__sandbox/config", json=bad, timeout=30)
            assert r.status_code == 400 and r.json()["error"] == "bad_data"


def test_templates_shape_and_cap(http, shared):
    team = get(http, shared, "/v1/team")
    members = {m["id"] for m in team["members"]}
    first = templates(http, shared)
    assert len(first) == 30
    assert templates(http, shared, limit=500) == first  # at most 30, whatever limit says
    assert templates(http, shared, limit=7) == first[:7]  # a smaller limit is honoured
    keys = [(t["updated"], t["id"]) for t in first]
    assert keys == sorted(keys, reverse=True)
    for t in first:
        assert set(t) == TEMPLATE_KEYS
        assert set(t["content"]) == {"text", "gallery"} and isinstance(t["content"]["text"], str)
        assert all(isinstance(g, str) for g in t["content"]["gallery"])
        assert MILLIS_RE.match(t["created"]) and MILLIS_RE.match(t["updated"])
        assert t["created"] <= t["updated"] and t["rev"] >= 1
        assert isinstance(t["archived"], bool) and isinstance(t["shared"], bool)
        assert t["team_id"] == team["id"] and t["creator_id"] in members
        assert isinstance(t["local_id"], str)
    for bad in ({"limit": 0}, {"limit": "5"}, {"date": "soon"}, {"date": 5}):
        assert post(http, shared, "/v1/templates", bad).status_code == 400


def test_templates_ties_across_pages(http):
    with Sandbox(contacts=10, seed=1, template_tie=36) as sb:
        truth = sb.truth()["streams"]["templates"]
        every = all_templates(http, sb)
        assert len(every) == truth["count"] == 75
        assert {str(t["id"]): t["rev"] for t in every} == truth["ids"]
        counts = Counter(t["updated"] for t in every)
        big = max(counts, key=counts.__getitem__)
        assert counts[big] > 30  # a tie group larger than a page
        assert every[29]["updated"] == every[30]["updated"]  # one straddles the first boundary
        # strict cursor: each group a page boundary cuts loses the rest of its members
        sb.configure(page="ignore")
        seen, date = set(), None
        for _ in range(20):
            page = templates(http, sb, **({} if date is None else {"date": date}))
            if not page:
                break
            assert all(date is None or t["updated"] < date for t in page)
            seen |= {t["id"] for t in page}
            date = page[-1]["updated"]
        by_id = {t["id"]: t for t in every}
        missing = set(by_id) - seen
        assert every[30]["id"] in missing
        assert all(counts[by_id[m]["updated"]] > 1 for m in missing)  # lost only in ties
        # inclusive cursor: the big group fills the page and the cursor never moves
        sb.configure(cursor="inclusive")
        page = templates(http, sb, date=big)
        assert [t["updated"] for t in page] == [big] * 30
        assert templates(http, sb, date=page[-1]["updated"]) == page
        # page offsets inside the date filter reach the whole group
        sb.configure(page="one")
        group = templates(http, sb, date=big, page=1) + templates(http, sb, date=big, page=2)
        assert {t["id"] for t in group if t["updated"] == big} == {
            t["id"] for t in every if t["updated"] == big
        }
        sb.configure(cursor="strict")
        below = templates(http, sb, date=big)
        assert below and all(t["updated"] < big for t in below)


def test_archived_templates_switch(http):
    with Sandbox(contacts=10, seed=4) as sb:
        listed = all_templates(http, sb)
        archived = {t["id"] for t in listed if t["archived"]}
        assert archived and len(archived) < len(listed)
        truth = sb.truth()["streams"]["templates"]
        assert truth["archived_templates"] == "listed" and truth["not_listed"] == []
        assert truth["archived"] == sorted(archived)
        assert set(truth["ids"]) == {str(t["id"]) for t in listed}
        sb.configure(archived_templates="hidden")
        hidden = all_templates(http, sb)
        assert not any(t["archived"] for t in hidden)
        assert {t["id"] for t in hidden} == {t["id"] for t in listed} - archived
        truth = sb.truth()["streams"]["templates"]
        assert truth["archived_templates"] == "hidden"
        assert truth["not_listed"] == truth["archived"] == sorted(archived)
        assert truth["ids"] == {str(t["id"]): t["rev"] for t in hidden}
        assert truth["count"] == len(hidden)


def test_tie_order_shuffled(http):
    """`tie_order=shuffled`: every answer is a slice of a fresh permutation of each tie
    group, so two reads of one offset differ, while a page still holds only members of the
    groups there, and `stable` brings the id order back."""
    with Sandbox(contacts=300, seed=5, precision="seconds") as sb:
        sb.mutate(n=120, new=0)  # one mutation at `seconds`: a tie group of 120 on top

        def page(offset: int) -> list[dict]:
            body = {"limit": 50, "page": offset // 50}
            answer = http.post(
                sb.url + "/v1/contacts", json=body, headers=sb.auth_headers(), timeout=30
            )
            answer.raise_for_status()
            return answer.json()

        stable = [c["id"] for c in page(0)]
        sb.configure(tie_order="shuffled", page="zero")
        first, again = page(0), page(0)
        top = {c["updated"] for c in first} | {c["updated"] for c in again}
        assert len(top) == 1, "the first page holds only the newest tie group"
        assert [c["id"] for c in first] != [c["id"] for c in again]
        sb.configure(tie_order="stable", page="ignore")
        assert [c["id"] for c in page(0)] == stable


def test_mutate_templates(http):
    with Sandbox(contacts=50, seed=2) as sb:
        before = sb.truth(updated=True)
        newest = max(before["streams"]["templates"]["updated"].values())
        out = sb.mutate(n=0, new=0, templates=4)
        assert out["updated_ids"] == [] and out["created_ids"] == []
        assert len(set(out["template_ids"])) == 4
        after = sb.truth()
        assert after["contacts"] == before["contacts"]
        old_revs, new_revs = before["streams"]["templates"]["ids"], after["streams"]["templates"]
        for tid in out["template_ids"]:
            assert new_revs["ids"][str(tid)] == old_revs[str(tid)] + 1
        first = templates(http, sb, limit=4)
        assert {t["id"] for t in first} == set(out["template_ids"])
        assert all(t["updated"] > newest for t in first)
        assert len({t["updated"] for t in first}) == 4  # millis: distinct, increasing
        # the mutate_templates switch is the default, also for contacts-only calls
        sb.configure(mutate_templates=2)
        assert len(sb.mutate(n=1, new=0)["template_ids"]) == 2
        assert sb.stats()["mutations"] == 2
        r = http.post(sb.url + "/__sandbox/mutate", json={"templates": -1}, timeout=30)
        assert r.status_code == 400
        # rebuilding templates keeps the contacts and their mutations
        mutated = sb.truth()["contacts"]
        sb.configure(templates=10)
        truth = sb.truth()
        assert truth["streams"]["templates"]["count"] == 10 and truth["contacts"] == mutated


def test_surveys_paging(http):
    with Sandbox(contacts=10, seed=1) as sb:
        pages = [surveys(http, sb, page=p) for p in (1, 2, 3, 4)]
        assert [len(p) for p in pages] == [10, 10, 3, 0]  # default limit 10, then empty
        every = pages[0] + pages[1] + pages[2]
        for s in every:
            assert set(s) == SURVEY_KEYS and s["type"] in ("nps", "csat")
            assert isinstance(s["question"], str) and isinstance(s["id"], int)
            assert MILLIS_RE.match(s["created"]) and s["created"] <= s["updated"]
        assert {s["type"] for s in every} == {"nps", "csat"}
        keys = [(s["created"], s["id"]) for s in every]
        assert keys == sorted(keys, reverse=True)
        assert sb.truth()["streams"]["surveys"] == {
            "count": 23,
            "ids": {str(s["id"]): None for s in every},
        }
        assert surveys(http, sb) == surveys(http, sb, page=0) == pages[0]  # survey_page0=first
        assert surveys(http, sb, limit=5, page=2) == every[5:10]
        sb.configure(max_limit=4)  # clamped: a short page is not the last one
        assert surveys(http, sb, limit=10, page=1) == every[:4]
        assert surveys(http, sb, limit=10, page=2) == every[4:8]
        sb.configure(max_limit=0, survey_page0="error")
        for body in ({}, {"page": 0}, {"limit": 5}):
            r = post(http, sb, "/v1/surveys", body)
            assert r.status_code == 400 and r.json()["error"] == "bad_data"
        assert surveys(http, sb, page=1) == pages[0]
        for bad in ({"page": -1}, {"page": "1"}, {"page": 1.5}, {"page": 1, "limit": 0}):
            assert post(http, sb, "/v1/surveys", bad).status_code == 400
        sb.configure(surveys=0)
        assert surveys(http, sb, page=1) == []


def test_truth_streams(http, shared):
    truth = shared.truth()
    streams = truth["streams"]
    assert set(streams) == {
        "contacts",
        "contact_fields",
        "tags",
        "inboxes",
        "team",
        "team_members",
        "templates",
        "surveys",
        "messages",
        "conversations",
    }
    for name, entry in streams.items():
        assert entry["count"] == len(entry["ids"]), name
        assert all(isinstance(k, str) and k.isdigit() for k in entry["ids"]), name
        # Messages and conversations have no rev: their truth holds each `updated` string.
        kind = str if name in ("messages", "conversations") else int
        assert all(v is None or isinstance(v, kind) for v in entry["ids"].values()), name
    # `deleted`: ids removed by POST /__sandbox/delete (tests/sandbox/test_sandbox_deletes.py).
    assert streams["contacts"] == {"count": truth["count"], "ids": truth["contacts"], "deleted": []}
    assert streams["tags"] == {"count": truth["tag_count"], "ids": truth["tags"], "deleted": []}
    fields = post(http, shared, "/v1/contact-fields").json()
    assert streams["contact_fields"]["ids"] == {str(f["id"]): None for f in fields}
    assert streams["contact_fields"]["deleted"] == truth["deleted_contact_fields"]
    assert all(v is not None for v in streams["templates"]["ids"].values())
    full = shared.truth(updated=True)["streams"]
    assert full["contacts"]["updated"] == shared.truth(updated=True)["updated"]
    for name in ("contacts", "tags", "templates", "surveys"):
        assert set(full[name]["updated"]) == set(full[name]["ids"]), name
    assert "updated" not in streams["templates"]


def test_nul_characters_in_contacts(http, shared):
    r = post(http, shared, "/v1/contacts", {"limit": 1000})
    assert b"\\u0000" in r.content  # JSON escapes U+0000
    page = r.json()
    nul = set(shared.truth()["nul_contacts"])
    assert 5 <= len(nul) <= 60  # about 1 in 50
    names = ("first", "last", "display_name")
    in_names = {c["id"] for c in page if any("\x00" in (c[k] or "") for k in names)}
    assert in_names == nul
    assert any("\x00" in v for c in page for v in c["custom"].values())
    assert any("\x00" in n["text"] for c in page for n in c["note"])
    assert all(c["id"] in nul for c in page if "\\u0000" in json.dumps(c))


def test_switch_parsing():
    p = build_parser()
    assert p.parse_args(["--empty-inbox"]).empty_inbox is True
    assert p.parse_args(["--empty-inbox", "0"]).empty_inbox is False
    assert p.parse_args([]).empty_inbox is False
    flags = ["--inboxes", "2", "--members", "3", "--templates", "40", "--surveys", "5"]
    flags += ["--archived-templates", "hidden", "--survey-page0", "error"]
    flags += ["--mutate-templates", "1"]
    args = p.parse_args(flags)
    assert (args.inboxes, args.members, args.templates, args.surveys) == (2, 3, 40, 5)
    assert (args.archived_templates, args.survey_page0, args.mutate_templates) == (
        "hidden",
        "error",
        1,
    )
    assert coerce("empty_inbox", "True") is True and coerce("empty_inbox", 0) is False
    for name, bad in (("empty_inbox", "maybe"), ("empty_inbox", 2), ("survey_page0", "zero")):
        with pytest.raises(ValueError):
            coerce(name, bad)


def test_new_resources_deterministic(http):
    with (
        Sandbox(contacts=10, seed=5) as a,
        Sandbox(contacts=10, seed=5) as b,
        Sandbox(contacts=10, seed=6, precision="seconds") as c,
    ):
        for method, path in NEW_ENDPOINTS:
            ra = call(http, a, method, path).content
            assert ra == call(http, b, method, path).content, path
            assert ra != call(http, c, method, path).content, path
        for item in templates(http, c) + surveys(http, c) + get(http, c, "/v1/inboxes"):
            assert SECONDS_RE.match(item["created"])
