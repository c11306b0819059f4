"""Replies that cannot go back as a passive reply: late ones, and the tail of long ones, go
through a pusher (integrations.wechat.WeChatPusher: customer-service messages)."""

from __future__ import annotations

from typing import Protocol

from dialogs.engine import Incoming, Reply


class Pusher(Protocol):
    async def push(self, incoming: Incoming, texts: list[str]) -> list[str]:
        """Send texts to the user of `incoming` through the platform's messaging API; return
        the ones that cannot reach them now (kept for their next message)."""


def pack(replies: list[Reply], limit: int, most: int = 4, cut_note: str = "……") -> list[str]:
    """Join replies into as few messages as fit `limit` UTF-8 bytes each (WeChat's passive cap),
    at most `most` of them: WeChat refuses more than a few pushed messages per user message
    (45047), so anything beyond is cut, ending with `cut_note`."""
    texts = [r.text.lstrip("\n") for r in replies if r.text.strip()]  # (packing drops a text's leading blank lines)
    joined = "\n\n".join(texts)
    if len(joined) * 3 <= limit or len(joined.encode()) <= limit:  # the usual answer: one message, as is
        return [joined] if joined else []
    return _pack_and_cut(replies, limit, most, cut_note)


def _pack_and_cut(replies: list[Reply], limit: int, most: int, cut_note: str) -> list[str]:
    """`pack` for answers that do not fit one message (and the reference its shortcut is tested against)."""
    messages = _pack(replies, limit)
    if len(messages) <= most:
        return messages
    kept = messages[:most]
    room = limit - len(cut_note.encode()) - 1
    last = kept[-1]
    while len(last.encode()) > room:
        last = last[: len(last) - max(1, (len(last.encode()) - room) // 3)]
    kept[-1] = f"{last}\n{cut_note}"
    return kept


def _pack(replies: list[Reply], limit: int) -> list[str]:
    messages: list[str] = []
    current = ""
    for reply in replies:
        for piece in _split(reply.text, limit):
            joined = f"{current}\n\n{piece}" if current else piece
            if len(joined.encode()) <= limit:
                current = joined
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def _split(text: str, limit: int) -> list[str]:
    """Cut a text at line ends into pieces of at most `limit` bytes; cut inside a line only if it must."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        for part in _cut(line, limit):
            joined = f"{current}\n{part}" if current else part
            if len(joined.encode()) <= limit:
                current = joined
            else:
                pieces.append(current)
                current = part
    if current:
        pieces.append(current)
    return [p for p in pieces if p.strip()]


def _cut(line: str, limit: int) -> list[str]:
    parts, start, size = [], 0, 0
    for i, ch in enumerate(line):
        width = len(ch.encode())
        if size + width > limit:
            parts.append(line[start:i])
            start, size = i, 0
        size += width
    parts.append(line[start:])
    return parts
