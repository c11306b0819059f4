"""The append-only audit log of staff actions (who, what, when, to whom, outcome), a Redis
stream nobody edits: broadcasts, approvals, refusals, hand-offs, admin API calls."""

from __future__ import annotations

import json
import time
from typing import Any


class Audit:
    def __init__(self, redis: Any, keys: Any, maxlen: int = 1_000_000):
        self.redis, self.keys, self.maxlen = redis, keys, maxlen

    async def record(self, actor: str, action: str, target: str = "", *, outcome: str = "ok", detail: dict[str, Any] | None = None) -> str:
        """Append one entry; returns its stream id. `actor` is a staff userid or "anonymous"."""
        fields = {"at": f"{time.time():.3f}", "actor": actor, "action": action, "target": target, "outcome": outcome,
                  "detail": json.dumps(detail or {}, ensure_ascii=False)}
        entry = await self.redis.xadd(self.keys.audit(), fields, maxlen=self.maxlen, approximate=True)
        return entry.decode() if isinstance(entry, bytes) else entry

    async def read(self, count: int = 100, after: str = "-") -> list[dict[str, Any]]:
        """Entries in order, oldest first, starting after stream id `after`."""
        start = "-" if after == "-" else f"({after}"
        rows = await self.redis.xrange(self.keys.audit(), min=start, count=count)
        out = []
        for entry_id, fields in rows:
            item = {_s(k): _s(v) for k, v in fields.items()}
            item["detail"] = json.loads(item.get("detail") or "{}")
            item["id"] = _s(entry_id)
            out.append(item)
        return out


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
