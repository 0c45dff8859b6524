"""Hard deletes, as `DELETE /v1/contact/{id}`, `/v1/tag/{id}` and `/v1/template/{id}` do.

The real API has no feed of deletions: a deleted record simply stops appearing in every
answer. `POST /__sandbox/delete {"stream": "contacts", "n": 7}` (or `"ids": [...]`) does
that to the sandbox's data: the records leave the stream's answers, counts and `truth`
(`streams.<name>.ids`), and their ids are listed under `streams.<name>.deleted` and
`truth["deleted"]`. Which records go is deterministic from the seed (a generator of its
own per stream). A deleted id never comes back: new contacts get ids above every deleted
one.
"""

from __future__ import annotations

from collections.abc import Sequence
from random import Random

#: The streams the sandbox can delete from (the API's hard deletes).
DELETABLE = ("contacts", "tags", "templates")


def delete_rng(seed: int, stream: str) -> Random:
    """The generator that picks the records `delete` removes, per seed and stream."""
    return Random(f"heymarket-delete-{stream}-{seed}")


def choose(
    rng: Random, ids: Sequence[int], n: int | None, wanted: Sequence[int] | None
) -> list[int]:
    """Positions in `ids` to delete, ascending: `n` drawn at random, or those of `wanted`
    that exist (unknown ids are ignored, as a repeated DELETE would answer 404)."""
    if wanted is not None:
        want = set(wanted)
        return [i for i, record_id in enumerate(ids) if record_id in want]
    return sorted(rng.sample(range(len(ids)), min(n or 0, len(ids))))
