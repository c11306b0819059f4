"""Signing of case events, shared by the platform side (the simulator) and the bot's receiver.

The platform POSTs a CaseEvent as JSON with `X-Ywtb-Timestamp` (Unix seconds) and
`X-Ywtb-Signature: sha256=<hex>`, the HMAC-SHA256 of "<timestamp>.<raw body>" under the
shared secret."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Ywtb-Signature"
TIMESTAMP_HEADER = "X-Ywtb-Timestamp"


def sign_event(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def valid_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    # A header that is not ASCII is no signature (and aiohttp hands its stray bytes over as surrogates that cannot be encoded).
    return signature.isascii() and hmac.compare_digest(sign_event(secret, timestamp, body).encode(), signature.encode())
