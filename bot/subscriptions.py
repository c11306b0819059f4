"""Who hears about a case: people subscribed to it, and people bound to its enterprise.

STUB with the interface the notifier uses; [Progress & notifications] fills in the rest
(verified cases remembered per user, lockout of wrong second factors, subscribe / unsubscribe,
enterprise binding with verification).

Redis layout (see bot.keys): `sub:case:{case_no}` SET of openids, `sub:user:{openid}` SET of
case numbers; `ent:binders:{credit_code}` SET of openids, `ent:user:{openid}` SET of codes.
"""

from __future__ import annotations

from typing import Any


class Subscriptions:
    def __init__(self, redis: Any, keys: Any):
        self.redis, self.keys = redis, keys

    async def recipients(self, case_no: str, credit_code: str | None) -> dict[str, str]:
        """Everyone who should hear about this case: openid -> why ("case" or "enterprise")."""
        found: dict[str, str] = {}
        if credit_code:
            async for user in self.redis.sscan_iter(self.keys.enterprise_binders(credit_code)):
                found[_s(user)] = "enterprise"
        if case_no:
            async for user in self.redis.sscan_iter(self.keys.case_subscribers(case_no)):
                found[_s(user)] = "case"
        return found


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
