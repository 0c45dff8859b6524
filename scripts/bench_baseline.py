"""The benchmark's baseline: the least a client can do to page through POST /v1/contacts.

    .venv/bin/python scripts/bench_baseline.py --url URL --out contacts.jsonl [--page-size 500]
        [--path /v1/messages/all --cursor created_at --cursor-from date]

Plain `requests` (one keep-alive session) + the standard `json` module. Each request carries
a freshly minted JWT, as the tap's does (HS256 {"iss": id, "iat": now}, key "<id>||<key>").
The body is `{"limit": page}` and then `{"limit": page, "date": <updated of the last contact
of the previous page>}`; the first empty page ends the walk. Every contact is written to
`--out` as one JSON line.

With `--path /v1/messages/all --cursor created_at --cursor-from date` it pages messages the
same way (the docs' reading: `created_at` = created before, newest first).

It stands for what this machine can do at all, not for a correct client: a tie group of
contacts sharing one `updated` that straddles a page boundary loses its members beyond the
page (strict `date`), and nothing is retried. Prints one JSON summary line to stdout.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time

import requests

SECRET_ID = "sandbox-secret-id"
SECRET_KEY = "sandbox-secret-key"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_HEADER = _b64url(b'{"alg":"HS256","typ":"JWT"}')


def mint_jwt(secret_id: str, secret_key: str) -> str:
    payload = _b64url(json.dumps({"iss": secret_id, "iat": int(time.time())}).encode())
    signing_input = f"{_HEADER}.{payload}".encode("ascii")
    key = f"{secret_id}||{secret_key}".encode()
    return f"{_HEADER}.{payload}.{_b64url(hmac.new(key, signing_input, hashlib.sha256).digest())}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="API base URL, e.g. the sandbox's")
    ap.add_argument("--out", required=True, help="JSON-lines output file")
    ap.add_argument("--page-size", type=int, default=500)
    ap.add_argument("--path", default="/v1/contacts", help="the list endpoint")
    ap.add_argument("--cursor", default="date", help="the body field of the cursor")
    ap.add_argument("--cursor-from", default="updated", help="the record field it is read from")
    ap.add_argument("--secret-id", default=SECRET_ID)
    ap.add_argument("--secret-key", default=SECRET_KEY)
    args = ap.parse_args()

    url = args.url.rstrip("/") + args.path
    session = requests.Session()
    body: dict = {"limit": args.page_size}
    records = requests_made = 0
    t0 = time.perf_counter()
    with open(args.out, "w", encoding="utf-8") as out:
        while True:
            headers = {
                "Authorization": f"Bearer {mint_jwt(args.secret_id, args.secret_key)}",
                "Accept": "application/json",
            }
            response = session.post(url, json=body, headers=headers, timeout=60)
            requests_made += 1
            response.raise_for_status()
            page = json.loads(response.content)
            if not page:
                break
            for contact in page:
                out.write(json.dumps(contact))
                out.write("\n")
            records += len(page)
            body = {"limit": args.page_size, args.cursor: page[-1][args.cursor_from]}
    elapsed = time.perf_counter() - t0
    print(json.dumps({"records": records, "requests": requests_made, "loop_s": round(elapsed, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
