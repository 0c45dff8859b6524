"""The next page, fetched while the records of this one are written.

A walk knows its next request as soon as it has read an answer (`consume` plans it), but
the SDK sends that request only after every record of the answer has been emitted, so the
tap waits for the API and the API waits for the tap, in turn. `PrefetchingSession` sends
the planned request from a background thread right away; when the SDK then sends the same
request (same method, URL and body), it gets that answer instead of asking again. On two
cores that hides most of the API's time (docs/benchmarks.md).

What does not change: which requests are made and in what order (the same request, only
earlier), the pacing (the prefetch waits for its slot in the one tap-wide pacer, and the
SDK's send of it does not wait again: `HeymarketStream.request_decorator`), retries (a
prefetched failure is raised where the SDK's send would have raised it, and the retry sends
afresh), and STATE, which is written after an answer's records, as before: a prefetched
answer is only read once the previous one is done. A prefetch the walk does not ask for
(it planned differently after all) is dropped. At most one is in flight per stream.
"""

from __future__ import annotations

import threading
import typing as t
from concurrent.futures import Future

import requests

#: What identifies a request: method, URL and body (never the credentials: a JWT is
#: minted for every request).
Key = tuple[str | None, str | None, t.Any]


def request_key(request: requests.PreparedRequest) -> Key:
    """The method, URL and body of a prepared request."""
    return (request.method, request.url, request.body)


class PrefetchingSession(requests.Session):
    """A `requests.Session` that can send one request ahead (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: tuple[Key, Future[requests.Response]] | None = None
        self.prefetched = 0
        self.used = 0

    def prefetch(
        self,
        request: requests.PreparedRequest,
        *,
        before: t.Callable[[], None],
        **send_kwargs: t.Any,
    ) -> None:
        """Send `request` from a background thread, after `before()` (the pacer's slot)."""
        future: Future[requests.Response] = Future()

        def run() -> None:
            try:
                before()
                future.set_result(super(PrefetchingSession, self).send(request, **send_kwargs))
            except BaseException as exc:  # raised in the thread that asks for the answer
                future.set_exception(exc)

        self._pending = (request_key(request), future)
        self.prefetched += 1
        # A daemon thread: a tap that stops never waits for an answer it will not read.
        threading.Thread(target=run, name="tap-heymarket-prefetch", daemon=True).start()

    def has_prefetched(self, request: requests.PreparedRequest) -> bool:
        """Whether `send(request)` will be answered by a prefetch."""
        pending = self._pending
        return pending is not None and pending[0] == request_key(request)

    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        """The prefetched answer to `request` if there is one, else `requests`' own send.

        Another request to the same URL means the walk planned otherwise: the prefetch is
        dropped. A request elsewhere (a count, say) leaves it waiting.
        """
        pending = self._pending
        if pending is not None:
            key = request_key(request)
            if pending[0] == key:
                self._pending = None
                self.used += 1
                return pending[1].result()
            if pending[0][1] == key[1]:
                self._pending = None
        return super().send(request, **kwargs)
