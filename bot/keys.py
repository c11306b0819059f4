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

    # Subscriptions and enterprise bindings ([Progress & notifications]) ------------------

    def case_subscribers(self, case_no: str) -> str:
        return f"{self.prefix}sub:case:{case_no}"

    def user_subscriptions(self, user: str) -> str:
        return f"{self.prefix}sub:user:{{{user}}}"

    def enterprise_binders(self, credit_code: str) -> str:
        return f"{self.prefix}ent:binders:{credit_code}"

    def user_enterprises(self, user: str) -> str:
        return f"{self.prefix}ent:user:{{{user}}}"

    # Bookings ([Booking]) --------------------------------------------------------------------

    def appointment_owner(self, appointment_id: str) -> str:
        return f"{self.prefix}appt:owner:{appointment_id}"

    # Scheduled jobs ---------------------------------------------------------------------------

    def scheduled(self) -> str:
        return f"{self.prefix}sched:due"

    def scheduled_job(self, job_id: str) -> str:
        return f"{self.prefix}sched:job:{job_id}"

    # Staff --------------------------------------------------------------------------------

    def audit(self) -> str:
        return f"{self.prefix}audit"

    # Add new keys below, in a section for your feature (one edit per section). ----------------
