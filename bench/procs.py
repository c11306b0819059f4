"""Server processes for the benchmark: started pinned to one core, waited for, measured (CPU
time, peak RSS over the process and its children), stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.lifetime import die_with_parent

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


class Server:
    """One target: `argv` run from the repo root, pinned to `cpu`, output kept in `log`."""

    def __init__(self, name: str, argv: list[str], port: int, cpu: int | None, env: dict | None = None, log: Path | None = None):
        self.name, self.argv, self.port, self.cpu = name, argv, port, cpu
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        cpu = self.cpu
        self._log_file = self.log.open("ab") if self.log else subprocess.DEVNULL
        tie = die_with_parent()  # a benchmark (or a test of it) killed outright takes its servers along

        def prepare() -> None:  # in the child, between fork and exec
            if tie is not None:
                tie()
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT, preexec_fn=prepare,
            start_new_session=True,
        )
        return self

    def wait_ready(self, path: str = "/readyz", timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log}")

    def pids(self) -> list[int]:
        """The process and its descendants (gunicorn's worker, say)."""
        if self.proc is None:
            return []
        parents: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry))
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(parents.get(pid, []))
        return found

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / TICKS
        return total

    def memory_kib(self, field: str = "VmRSS") -> int:
        """Summed over the process tree: VmRSS now, or VmHWM (the peak)."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.log:
            self._log_file.close()
        self.proc = None


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
