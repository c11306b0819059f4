"""Sending one notice to one person, exactly once, with the outcome recorded.

Used by every worker that reaches people outside a conversation: case notifications
(bot.notifier), appointment reminders (bot.bookings), rating reminders (bot.ratings),
broadcasts. STUB: the interface is fixed; [Progress & notifications] fills in channel choice
(customer-service message inside the 48 h window, else template message with client_msg_id),
idempotency per key, and delivery records.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

log = logging.getLogger(__name__)


class Outcome(str, Enum):
    sent = "sent"
    duplicate = "duplicate"  # this key was delivered before: nothing sent
    unreachable = "unreachable"  # permanent for this notice (unfollowed, refused, no quota): recorded, not retried


class TemporaryFailure(Exception):
    """Worth retrying later with backoff (WeChat busy, timeout, token trouble)."""


class Delivery:
    def __init__(self, redis: Any, keys: Any, wechat: Any, render: Any, settings: Any):
        self.redis, self.keys, self.wechat, self.render, self.settings = redis, keys, wechat, render, settings

    async def send(self, user: str, key: str, template: str, context: dict[str, Any], *, case_no: str | None = None,
                   kind: str = "notice") -> Outcome:
        """Render `template` with `context` and deliver it to `user` once per `key`.

        `key` is the idempotency key, e.g. f"{event_id}:{user}" or f"remind:{appointment_id}:day".
        `case_no` files the record under that case (`python -m bot deliveries --case N`).
        Raises TemporaryFailure when a retry may succeed."""
        text = self.render(template, **context)
        await self.wechat.send_text(user, text)
        return Outcome.sent
