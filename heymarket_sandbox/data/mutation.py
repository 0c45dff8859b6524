"""One mutation of the data set, as a value: what `POST /__sandbox/mutate`, the
`mutate_every` switches and `Sandbox.mutate(...)` ask `World.mutate` to change
(docs/sandbox.md, "Mutations")."""

from __future__ import annotations

from dataclasses import dataclass


class BadMutation(ValueError):
    """A mutation that names a record that is not there; nothing was changed."""


@dataclass(frozen=True)
class Mutation:
    """How much of each resource one mutation changes; every count defaults to none.

    The control endpoint's JSON names (`n`, `new`, ...) map onto these fields in control.py.
    """

    #: contacts edited (JSON `n`): a new rev and a fresh, maximal `updated` each
    contacts: int = 0
    #: contacts created (JSON `new`)
    new_contacts: int = 0
    #: templates edited
    templates: int = 0
    #: random messages whose status changes
    messages: int = 0
    #: messages sent
    new_messages: int = 0
    #: messages whose status changes, by id (unknown ids are ignored)
    message_ids: tuple[int, ...] = ()
    #: contact fields renamed (`<title> (renamed <n>)`)
    fields: int = 0
    #: conversations reopened, closed or touched
    conversations: int = 0
    #: conversations opened
    new_conversations: int = 0
    #: contacts written again within their `updated`'s clock unit (BadMutation if unknown)
    rewrite_ids: tuple[int, ...] = ()
