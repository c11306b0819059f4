"""好差评: inviting a rating when a case is done, one reminder after 3 days, passing ratings and
complaints to the platform. STUB with the interface the notifier uses; [Progress &
notifications] fills it in."""

from __future__ import annotations

from typing import Any


class Ratings:
    def __init__(self, redis: Any, keys: Any, platform: Any = None, scheduler: Any = None, settings: Any = None):
        self.redis, self.keys, self.platform, self.scheduler, self.settings = redis, keys, platform, scheduler, settings

    async def invite(self, user: str, case_no: str, matter_name: str) -> None:
        """Called by the notifier right after it delivered a "case done" notice to `user`."""
