"""What can go wrong when talking to WeChat or WeCom, as exceptions a caller can act on.

WeChat answers almost every failure with HTTP 200 and `{"errcode": N, "errmsg": "..."}`;
`error_for` turns that into the matching class. `retryable` says whether trying the same call
again later can succeed without anything else changing (a busy system, a per-minute limit, a
network failure), not whether it is worth trying today (a daily quota is not retryable).
"""

from __future__ import annotations


class WeChatError(Exception):
    """Anything that kept a WeChat / WeCom call from succeeding."""

    retryable: bool = False


class WeChatUnavailable(WeChatError):
    """No usable answer: connection refused or reset, HTTP 5xx, a body that is not JSON."""

    retryable = True


class WeChatTimeout(WeChatUnavailable):
    """No answer within the client's timeout; the call may or may not have taken effect."""


class WeChatAPIError(WeChatError):
    """WeChat answered with a non-zero errcode."""

    errcode: int = 0

    def __init__(self, errcode: int, errmsg: str = ""):
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


class SystemBusy(WeChatAPIError):
    """-1: the platform is busy; try again in a moment."""

    errcode, retryable = -1, True


class AccessTokenRejected(WeChatAPIError):
    """40001 / 40014 / 42001: the token is invalid, not the latest, or expired."""

    errcode = 40001


class InvalidOpenID(WeChatAPIError):
    """40003: the openid does not belong to this account."""

    errcode = 40003


class IPNotWhitelisted(WeChatAPIError):
    """40164: this server's IP is not in the account's API whitelist."""

    errcode = 40164


class NotFollowing(WeChatAPIError):
    """43004: the user does not follow the account (any more)."""

    errcode = 43004


class SubscriptionRefused(WeChatAPIError):
    """43101: the user has not accepted (or has used up) this subscription template."""

    errcode = 43101


class DailyQuotaExceeded(WeChatAPIError):
    """45009: this API's daily quota is used up; it resets at midnight Beijing time."""

    errcode = 45009


class MinuteRateLimited(WeChatAPIError):
    """45011: too many calls this minute."""

    errcode, retryable = 45011, True


class OutsideServiceWindow(WeChatAPIError):
    """45015: more than 48 h since the user last interacted; customer-service messages refused."""

    errcode = 45015


class MassQuotaExhausted(WeChatAPIError):
    """45028: no mass-send quota left (each user may receive only a few mass messages a month)."""

    errcode = 45028


class ServiceMessageLimit(WeChatAPIError):
    """45047: the user has received as many customer-service messages as one interaction allows."""

    errcode = 45047


class MassRetryTooSoon(WeChatAPIError):
    """45066: the same clientmsgid was retried within a minute."""

    errcode, retryable = 45066, True


class MediaGone(WeChatAPIError):
    """40007: no such media_id (never one, or older than the 3 days temporary media live)."""

    errcode = 40007


class MediaTooLarge(WeChatError):
    """The media is larger than the caller will take: refused before more than the limit was read."""

    def __init__(self, limit: int):
        super().__init__(f"media larger than {limit} bytes")
        self.limit = limit


TOKEN_ERRCODES = frozenset({40001, 40014, 42001})

_BY_CODE: dict[int, type[WeChatAPIError]] = {
    cls.errcode: cls
    for cls in (
        SystemBusy, InvalidOpenID, IPNotWhitelisted, NotFollowing, SubscriptionRefused, DailyQuotaExceeded,
        MinuteRateLimited, OutsideServiceWindow, MassQuotaExhausted, ServiceMessageLimit, MassRetryTooSoon, MediaGone,
    )
}
_BY_CODE.update({code: AccessTokenRejected for code in TOKEN_ERRCODES})


def error_for(errcode: int, errmsg: str = "") -> WeChatAPIError:
    """The exception for an errcode; unknown codes give a plain WeChatAPIError."""
    return _BY_CODE.get(errcode, WeChatAPIError)(errcode, errmsg)
