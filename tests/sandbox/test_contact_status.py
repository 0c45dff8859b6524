"""The sandbox's `POST /v1/contact/status` endpoint, its `status_missing` switch and the
mutations of custom fields, in process (`truth(status=True)`, `truth(custom=True)`). The
contact_status stream, run as the tap: tests/tap/test_contact_status.py."""

from __future__ import annotations

from typing import Any

import requests

from heymarket_sandbox import Sandbox
from tests.support.contact_status import STATUS, status_requests


def _post(sb: Sandbox, path: str, body: Any, **headers: str) -> requests.Response:
    return requests.post(
        sb.url + path, json=body, headers={**sb.auth_headers(), **headers}, timeout=30
    )


def test_sandbox_status_endpoint() -> None:
    with Sandbox(contacts=60, seed=50) as sb:
        truth = sb.truth(status=True)
        ids = [int(i) for i in truth["contacts"]]
        answers = [_post(sb, STATUS, {"id": i}) for i in ids]
        assert all(r.status_code == 200 and r.headers["X-Request-Id"] for r in answers)
        assert {a.json()["id"]: a.json() for a in answers} == {
            int(k): v for k, v in truth["statuses"].items()
        }
        first = answers[0].json()
        assert set(first) >= {"id", "phone", "unsubscribed", "blocked"}
        assert any("locked" in a.json() for a in answers)
        assert any("locked" not in a.json() for a in answers)
        by_phone = _post(sb, STATUS, {"phone": "+" + first["phone"]})
        assert by_phone.json() == first
        # unknown contact, bad bodies, no credentials
        missing = _post(sb, STATUS, {"id": 1})
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        for bad in ({}, {"id": "12"}, {"id": True}, {"phone": 5}, [1]):
            assert _post(sb, STATUS, bad).status_code == 400, bad
        unauthorized = requests.post(sb.url + STATUS, json={"id": ids[0]}, timeout=30)
        assert unauthorized.status_code == 401
        # a changed contact answers from its new rev: its opt-out follows the contact
        changed = sb.mutate(n=30, new=0)["updated_ids"]
        contacts = requests.post(
            sb.url + "/v1/contacts", json={"limit": 100}, headers=sb.auth_headers(), timeout=30
        ).json()
        opted = {c["id"]: c["is_opted_out"] for c in contacts}
        after = sb.truth(status=True)["statuses"]
        assert all(after[str(i)]["unsubscribed"] == opted[i] for i in changed)
        assert any(after[str(i)] != truth["statuses"][str(i)] for i in changed)
        assert status_requests(sb.stats()) == {"200": 61, "404": 1, "400": 5, "401": 1}


def test_sandbox_missing_statuses_and_truth_flags() -> None:
    with Sandbox(contacts=300, seed=56, status_missing=0.2) as sb:
        plain = sb.truth()
        truth = sb.truth(status=True, custom=True)
        assert "statuses" not in plain and "contact_status" not in plain["streams"]
        listed = set(truth["statuses"])
        assert 30 <= 300 - len(listed) <= 90  # about 20 % answer 404
        assert truth["streams"]["contact_status"]["count"] == len(listed)
        for cid in list(truth["contacts"])[:40]:
            status = _post(sb, STATUS, {"id": int(cid)}).status_code
            assert status == (200 if cid in listed else 404)
        values = truth["streams"]["contact_field_values"]
        assert values["count"] == sum(len(m) for m in truth["custom"].values())
        assert values["count"] == len(values["ids"])


def test_sandbox_mutations_clear_values_and_rename_fields() -> None:
    with Sandbox(contacts=200, seed=57) as sb:
        before = sb.truth(custom=True)["custom"]
        fields = _post(sb, "/v1/contact-fields", {}).json()
        titles = [f["title"] for f in fields]
        for awkward in ("Birthday", "birthday ", "", "🎂", "Email", "Región"):
            assert awkward in titles
        changed = sb.mutate(n=60, new=0, fields=2)
        after = sb.truth(custom=True)["custom"]
        lost = [i for i in changed["updated_ids"] if set(before[str(i)]) - set(after[str(i)])]
        assert len(lost) >= 10, "a mutated contact may lose a custom key"
        renamed = _post(sb, "/v1/contact-fields", {}).json()
        assert len(changed["field_ids"]) == 2
        new_titles = {f["id"]: f["title"] for f in renamed}
        for fid in changed["field_ids"]:
            assert new_titles[fid].endswith(f"(renamed {changed['field_ids'].index(fid) + 1})")
        r = requests.post(sb.url + "/__sandbox/mutate", json={"fields": -1}, timeout=30)
        assert r.status_code == 400
