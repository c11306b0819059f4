"""What the platform accepts as a 补正 file, shared by the bot (to refuse before uploading) and the
simulator (to refuse on receipt): a JPEG, PNG or PDF of at most MAX_BYTES, judged by the content's
own signature, never by a declared type or a file name.

Three fixed signatures need no library: each is the first bytes its format's specification
requires (JPEG SOI + marker, the PNG signature followed by its IHDR chunk, the PDF header)."""

from __future__ import annotations

from integrations.platform.models import ErrorCode

MAX_BYTES = 10 * 1024 * 1024
ACCEPTED = ("image/jpeg", "image/png", "application/pdf")

_PNG = b"\x89PNG\r\n\x1a\n"


def sniff(content: bytes) -> str | None:
    """The media type the content really is, among ACCEPTED; None for anything else."""
    if content[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if content[:8] == _PNG and content[12:16] == b"IHDR":
        return "image/png"
    if content[:5] == b"%PDF-":
        return "application/pdf"
    return None


def refusal(content: bytes) -> ErrorCode | None:
    """Why the platform would refuse this file, or None when it would take it."""
    if len(content) > MAX_BYTES:
        return ErrorCode.media_too_large
    return None if sniff(content) else ErrorCode.media_type_refused
