"""Staff: WeCom users listed in settings with roles, and the admin API's bearer tokens.

Built once at start-up from `settings.staff`. Roles: `agent` (human hand-off), `broadcaster`
(writes broadcasts), `approver` (approves someone else's broadcast), `admin` (everything).
"""

from __future__ import annotations

import hmac
from typing import Iterable, Literal

from pydantic import BaseModel, Field, SecretStr

Role = Literal["agent", "broadcaster", "approver", "admin"]


class StaffMember(BaseModel):
    userid: str = Field(description="the WeCom userid")
    name: str
    roles: set[Role] = Field(default_factory=set)
    token: SecretStr = Field(default=SecretStr(""), description="bearer token for /admin/api/; empty = no API access")

    def can(self, role: Role) -> bool:
        return role in self.roles or "admin" in self.roles


class Staff:
    def __init__(self, members: Iterable[StaffMember]):
        self.members = list(members)
        self._by_userid = {m.userid: m for m in self.members}
        self._tokens = [(m.token.get_secret_value().encode(), m) for m in self.members if m.token.get_secret_value()]

    def by_userid(self, userid: str) -> StaffMember | None:
        return self._by_userid.get(userid)

    def by_token(self, token: str) -> StaffMember | None:
        """The member whose token this is; every token is compared, in constant time."""
        given = token.encode()
        found = None
        for expected, member in self._tokens:
            if hmac.compare_digest(given, expected):
                found = member
        return found

    def with_role(self, role: Role) -> list[StaffMember]:
        return [m for m in self.members if m.can(role)]
