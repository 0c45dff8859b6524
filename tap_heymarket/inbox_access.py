"""Who a conversations walk reads an inbox as: its members in order, then `id: 0`.

`POST /v1/conversations` requires `id`, the user id of a member of the inbox, and scopes
its answer to that user (docs/api.md, "Conversations"). `InboxAccess` holds the user ids to
try for one inbox (members still in the team first, then `0`) and which were refused
(HTTP 403); `Walk` names one of the inbox's two walks (open, closed) and its STATE key.
conversation_streams.py runs the walks.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from tap_heymarket.errors import HeymarketFatalError


class MemberRejected(HeymarketFatalError):
    """HTTP 403 from a conversations request: the user id may not read the inbox."""


@dataclass(frozen=True)
class Walk:
    """One inbox's open or closed conversations."""

    inbox_id: int
    closed: bool

    @property
    def key(self) -> str:
        """The walk's key in STATE."""
        return f"{self.inbox_id}/{'closed' if self.closed else 'open'}"

    @property
    def label(self) -> str:
        return f"conversations (inbox {self.inbox_id}, {'closed' if self.closed else 'open'})"


@dataclass
class InboxAccess:
    """The user ids to try for one inbox, and what the API said to each."""

    inbox_id: int
    name: str | None
    members: list[int]
    candidates: list[int]
    position: int = 0
    rejected: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, inbox: dict[str, t.Any], team: list[int]) -> InboxAccess:
        """The inbox's members, those still in the team first, then id 0."""
        raw = inbox.get("members")
        members: list[int] = []
        for value in raw if isinstance(raw, list) else []:
            member = as_int(value)
            if member is not None and member not in members:
                members.append(member)
        in_team = set(team)
        ordered = [m for m in members if m in in_team or not in_team]
        ordered += [m for m in members if m not in ordered]
        name = inbox.get("name")
        return cls(
            inbox_id=inbox["id"],
            name=name if isinstance(name, str) else None,
            members=members,
            candidates=[*(m for m in ordered if m != 0), 0],
        )

    def current(self, *, skip_zero: bool) -> int | None:
        """The user id to ask as, or None when every one has been refused."""
        while self.position < len(self.candidates):
            member = self.candidates[self.position]
            if member == 0 and skip_zero:
                self.position += 1
                continue
            return member
        return None

    def reject(self, member: int) -> None:
        self.rejected.append(member)
        self.position += 1

    def describe(self) -> str:
        name = f" ({self.name!r})" if self.name else ""
        return f"inbox {self.inbox_id}{name}"


def as_int(value: t.Any) -> int | None:
    """An integer id: an int, or a string of digits; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None
