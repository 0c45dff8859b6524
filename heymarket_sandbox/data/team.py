"""The team and its members (served by api/team.py as GET /v1/team: ONE object
{id, name, list_size, members: [{id, name, role}]})."""

from __future__ import annotations

from random import Random
from typing import Any

from .common import stream

MEMBER_NAMES = ("Alice Admin", "Bruno Díaz", "Chen Wei", "Dana Levi", "Émile Roy")
ROLES = ("admin", "member", "member", "manager", "member")
EXTRA_FIRST = (
    "Farah",
    "Gustavo",
    "Hana",
    "Ivan",
    "Jia",
    "Kofi",
    "Léa",
    "Mateo",
    "Noa",
    "Olga",
    "Pål",
    "Quynh",
    "Rania",
    "Sven",
    "Tariq",
    "Uma",
)
EXTRA_LAST = ("Öztürk", "Santos", "Kim", "Novak", "O'Neil", "Haddad", "Sato", "Ruiz", "Björk")
EXTRA_ROLES = ("member", "member", "member", "manager", "admin", "agent", "owner", "")


def core_members(r: Random) -> list[dict[str, Any]]:
    """The first five members, drawn from the shared meta generator (contacts use them)."""
    base = 700_000 + r.randrange(100_000)
    return [
        {"id": base + i * 7 + r.randrange(5), "name": MEMBER_NAMES[i], "role": ROLES[i]}
        for i in range(5)
    ]


class Team:
    """`members` switch: the first min(N, 5) core members, then more from their own generator.

    Contacts' creator/assigned/note users are always core members, so with members < 5 some
    contacts name users who are no longer in the team, as after a real user removal.
    """

    NAME = "Sandbox Team ✨"

    def __init__(self, team_id: int, core: list[dict[str, Any]], count: int, seed: int) -> None:
        self.id = team_id
        members = [dict(m) for m in core[:count]]
        r = Random(f"heymarket-team-{seed}")
        base = core[0]["id"]  # core ids lie in [b + 7i, b + 7i + 4], b <= base, i < 5
        for i in range(len(members), count):
            name = f"{r.choice(EXTRA_FIRST)} {r.choice(EXTRA_LAST)}"
            members.append(
                {"id": base + i * 7 + r.randrange(5), "name": name, "role": r.choice(EXTRA_ROLES)}
            )
        self.members = members

    @property
    def member_ids(self) -> list[int]:
        return [m["id"] for m in self.members]


def truth(team: Team) -> dict[str, dict[str, Any]]:
    return {
        "team": stream({str(team.id): None}),
        "team_members": stream({str(m["id"]): None for m in team.members}),
    }
