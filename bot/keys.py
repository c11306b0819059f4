"""Every Redis key the bot uses, built in one place.

Keys start with the configured prefix and name their owner first. Per-user keys put the user id
in a hash tag (`{...}`) so a Redis Cluster keeps one user's keys in one slot, which the per-turn
Lua scripts need.
"""

from __future__ import annotations

import re

#: What a WeChat openid / WeCom userid may look like before we build a key from it.
USER_ID = re.compile(r"[A-Za-z0-9_\-@.]{1,64}")


class Keys:
    __slots__ = ("prefix",)

    def __init__(self, prefix: str = "ywtb:"):
        self.prefix = prefix

    def session(self, user: str) -> str:
        return f"{self.prefix}sess:{{{user}}}"

    def session_trace(self, user: str) -> str:
        """Outlives the session so an expired conversation can be mentioned on the next message."""
        return f"{self.prefix}sess:{{{user}}}:trace"

    def lock(self, user: str) -> str:
        return f"{self.prefix}lock:{{{user}}}"

    def dedup(self, user: str, message: str) -> str:
        return f"{self.prefix}dedup:{{{user}}}:{message}"

    def held(self, user: str) -> str:
        """Replies that could not be pushed; they go out with the user's next answer."""
        return f"{self.prefix}held:{{{user}}}"

    def events(self) -> str:
        """The stream of case events from the platform, read by the notifier workers."""
        return f"{self.prefix}events"

    def event_seen(self, event_id: str) -> str:
        return f"{self.prefix}event:{event_id}"

    def nonce(self, timestamp: str, nonce: str) -> str:
        return f"{self.prefix}nonce:{timestamp}:{nonce}"
