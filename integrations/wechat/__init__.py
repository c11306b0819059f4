"""The WeChat Official Account and WeCom APIs: an async client, its errors, and a simulator that
enforces the platform's quotas and error codes (integrations.wechat.simulator, imported on its
own so `python -m` runs it cleanly and production never loads it)."""

from .client import WECHAT_API, WECOM_API, SharedToken, WeChatClient, WeComClient
from .errors import (
    AccessTokenRejected, DailyQuotaExceeded, InvalidOpenID, IPNotWhitelisted, MassQuotaExhausted, MassRetryTooSoon, MediaGone, MediaTooLarge,
    MinuteRateLimited, NotFollowing, OutsideServiceWindow, ServiceMessageLimit, SubscriptionRefused, SystemBusy,
    WeChatAPIError, WeChatError, WeChatTimeout, WeChatUnavailable, error_for,
)
from .models import Article, MassSendJobFinished, MassSendResult, Media, Tag, WeComSendResult
from .pusher import WeChatPusher

__all__ = [
    "WECHAT_API", "WECOM_API", "SharedToken", "WeChatClient", "WeComClient", "WeChatPusher",
    "Article", "MassSendJobFinished", "MassSendResult", "Media", "Tag", "WeComSendResult", "MediaGone", "MediaTooLarge",
    "WeChatError", "WeChatUnavailable", "WeChatTimeout", "WeChatAPIError", "error_for", "SystemBusy",
    "AccessTokenRejected", "InvalidOpenID", "IPNotWhitelisted", "NotFollowing", "SubscriptionRefused",
    "DailyQuotaExceeded", "MinuteRateLimited", "OutsideServiceWindow", "MassQuotaExhausted",
    "ServiceMessageLimit", "MassRetryTooSoon",
]
