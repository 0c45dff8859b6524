"""The sandbox's hard deletes: `POST /__sandbox/delete` and `Sandbox.delete` (docs/sandbox.md)."""

from __future__ import annotations

import pytest
import requests

from heymarket_sandbox import Sandbox


def _list(sb: Sandbox, path: str, **body: object) -> list[dict]:
    resp = requests.post(sb.url + path, json=body, headers=sb.auth_headers(), timeout=30)
    resp.raise_for_status()
    return list(resp.json())


def test_deleted_records_leave_every_answer_and_the_truth() -> None:
    with Sandbox(contacts=700, seed=3) as sb:
        before = sb.truth()
        contacts = sb.delete("contacts", 7)
        tags = sb.delete("tags", 3)
        templates = sb.delete("templates", 2)
        assert (len(contacts), len(tags), len(templates)) == (7, 3, 2)
        truth = sb.truth()
        listed = {c["id"] for c in _list(sb, "/v1/contacts", limit=10_000)}
        count = requests.post(
            sb.url + "/v1/contacts/count", json={}, headers=sb.auth_headers(), timeout=30
        ).json()
        status = requests.post(
            sb.url + "/v1/contact/status",
            json={"id": contacts[0]},
            headers=sb.auth_headers(),
            timeout=30,
        )
        tag_ids = {t["id"] for t in _list(sb, "/v1/tags", limit=100)}
        template_ids = {t["id"] for t in _list(sb, "/v1/templates", limit=100)}
    assert set(contacts) <= {int(i) for i in before["contacts"]}
    assert not set(contacts) & listed and not set(contacts) & {int(i) for i in truth["contacts"]}
    assert truth["count"] == before["count"] - 7 == len(listed) == count["count"]
    assert status.status_code == 404
    assert truth["deleted"] == {
        "contacts": sorted(contacts),
        "tags": sorted(tags),
        "templates": sorted(templates),
    }
    for stream, gone in (("contacts", contacts), ("tags", tags), ("templates", templates)):
        entry = truth["streams"][stream]
        assert entry["deleted"] == sorted(gone)
        assert not {str(i) for i in gone} & set(entry["ids"])
        assert entry["count"] == len(before["streams"][stream]["ids"]) - len(gone)
    assert not set(tags) & tag_ids and not set(templates) & template_ids
    # Everything else is as it was: the remaining records keep their revs.
    for stream in ("contacts", "tags", "templates"):
        kept = {
            k: v
            for k, v in before["streams"][stream]["ids"].items()
            if k in truth["streams"][stream]["ids"]
        }
        assert kept == truth["streams"][stream]["ids"]


def test_delete_by_id_is_deterministic_and_ids_never_come_back() -> None:
    with Sandbox(contacts=400, seed=5) as a, Sandbox(contacts=400, seed=5) as b:
        assert a.delete("contacts", 3) == b.delete("contacts", 3)
        newest = max(int(i) for i in a.truth()["contacts"])
        assert a.delete("contacts", ids=[newest, 1]) == [newest]  # unknown ids are ignored
        created = a.mutate(n=0, new=3)["created_ids"]
        assert min(created) > newest
        assert a.delete("tags", 0) == []
        # Mutations still work after deletes (the store's indices were rebuilt).
        changed = a.mutate(n=5, new=0)["updated_ids"]
        truth = a.truth(updated=True)
        assert all(str(i) in truth["contacts"] for i in changed)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"stream": "inboxes", "n": 1}, "stream must be one of"),
        ({"stream": "contacts"}, "n (an integer >= 0) or ids is required"),
        ({"stream": "contacts", "n": -1}, "n (an integer >= 0) or ids is required"),
        ({"stream": "contacts", "ids": ["1"]}, "ids must be a list of integers"),
    ],
)
def test_bad_delete_requests_are_refused(body: dict, message: str) -> None:
    with Sandbox(contacts=50, seed=1) as sb:
        resp = requests.post(sb.url + "/__sandbox/delete", json=body, timeout=30)
    assert resp.status_code == 400
    assert message in resp.json()["message"]
