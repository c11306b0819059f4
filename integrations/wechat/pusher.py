"""The bot's late replies, delivered as customer-service messages: text, or a msgmenu when the
reply offers numbered choices (WeChatClient.send_reply).

`WeChatPusher` has the shape of bot.turn.outbox's `Pusher` (integrations may not import the bot): it
needs only `incoming.user`, the openid.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from .client import WeChatClient
from .errors import NotFollowing, OutsideServiceWindow, ServiceMessageLimit

log = logging.getLogger(__name__)

#: The user cannot be reached now; retrying will not help until they write again.
_UNREACHABLE = (OutsideServiceWindow, ServiceMessageLimit, NotFollowing)


def user_ref(user: str) -> str:
    """The same non-reversible reference the bot's logs use, so the two can be correlated."""
    return "u_" + hashlib.sha256(user.encode()).hexdigest()[:12]


class WeChatPusher:
    def __init__(self, client: WeChatClient):
        self.client = client

    async def push(self, incoming: Any, texts: list[str]) -> list[str]:
        """Send texts in order; returns those WeChat would not take now (the user cannot be
        reached until they write again), so the caller can keep them for that moment."""
        for sent, text in enumerate(texts):
            try:
                await self.client.send_reply(incoming.user, text)
            except _UNREACHABLE as error:
                log.warning(
                    "could not push %d of %d message(s) to %s: errcode %s (%s)",
                    len(texts) - sent, len(texts), user_ref(incoming.user), error.errcode, type(error).__name__,
                )
                return texts[sent:]
        log.info("pushed %d message(s) to %s", len(texts), user_ref(incoming.user))
        return []
