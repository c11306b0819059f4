"""A stand-in for the WeChat Official Account API and a WeCom app, with the real rules.

It speaks the wire format of the endpoints our client uses and enforces what production would:
tokens that expire and are refused with 40001 / 42001, the 48 h customer-service window (45015)
and its per-interaction count (45047), unsubscribed users (43004), the template daily quota
(45009), the mass-send minute rate (45011) and per-user monthly quota (45028), clientmsgid /
client_msg_id idempotency, tag and paging limits, WeCom's silent per-member rate limits. It
records every message it accepts, so tests and the console can see what a user would have got.
Like WeChat, it reports on each mass send a moment later by posting a MASSSENDJOBFINISH event to
the account's webhook (`webhook_url`, signed with its token, encrypted with its EncodingAESKey
when one is given): how many it was asked to reach, how many were left after filtering (people
who unfollowed, or already had their 4 mass messages this month), how many were sent.

Temporary media (`/cgi-bin/media/get`, `/cgi-bin/media/upload`) live in two stores, the
Official Account's and the WeCom app's, told apart by the access token, as the two real APIs
share these paths: a photo a person sends the account (or an agent sends the app) is registered
with /_admin/media and fetched by its media_id; what the bot uploads can be sent as an image
message (`custom/send` and WeCom's `message/send` with `msgtype` image) and is recorded with its
size and sha256, so tests can see which picture reached whom.

Admin endpoints under /_admin/ (JSON in and out) play the part of the users and the operator:
a user writing to the account, following, unfollowing, accepting a subscription, sending a
photo (registering media); expiring the token; injecting faults; reading what was sent and how
often each endpoint was called.

Mount it with `app.add_subapp("/sim/wechat", create_wechat_simulator())`, or run it alone:
`python -m integrations.wechat.simulator --port 8091`. State is in memory and bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import dataclasses
import hashlib
import json
import re
import secrets
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from .models import Article, MenuMessage

BEIJING = 8 * 3600  # quotas reset at midnight Beijing time
DAY = 86400
OK = {"errcode": 0, "errmsg": "ok"}


@dataclass
class SimulatorConfig:
    """Numbers from the platform's documentation; tests shrink them to reach the limits quickly."""

    token_ttl: int = 7200
    token_renew_before: int = 300  # stable_token hands out a new token in the last 5 minutes
    force_refresh_per_day: int = 20
    force_refresh_interval: float = 30
    window_seconds: float = 48 * 3600
    messages_per_interaction: int = 5
    template_daily_quota: int = 100_000
    template_dedup_seconds: float = 600
    mass_per_minute: int = 60  # mass-send calls in any mass_window_seconds (a sliding window)
    mass_window_seconds: float = 60.0
    mass_per_user_per_month: int = 4
    mass_dedup_seconds: float = DAY
    page_size: int = 10_000
    max_tags: int = 100
    max_tags_per_user: int = 20
    #: The project's category may use long-term subscriptions: every user accepts every template
    #: unless /_admin/subscriptions says otherwise. False: only explicit grants are honoured.
    assume_long_term_subscriptions: bool = True
    wecom_per_member_minute: int = 30
    wecom_per_member_hour: int = 1000
    wecom_minute_seconds: float = 60.0  # the length of WeCom's minute (its hour is 60 of them)
    #: Where events about the account's jobs (MASSSENDJOBFINISH) are posted; "" = nowhere.
    webhook_url: str = ""
    webhook_token: str = ""
    webhook_aes_key: str = ""  # set: events are sent encrypted (safe mode), for `webhook_appid`
    webhook_appid: str = ""
    mass_report_seconds: float = 0.5  # how long after a mass send its report is posted
    #: appid -> secret; None accepts any pair (embedded mode).
    credentials: dict[str, str] | None = None
    #: corpid -> corpsecret; None accepts any pair.
    wecom_credentials: dict[str, str] | None = None
    keep_messages_per_user: int = 500
    #: Temporary media: WeChat keeps them 3 days; an image may be 10 MB, any other file 20 MB
    #: (what WeCom takes; the Official Account takes less, and the bot refuses more first).
    media_ttl_seconds: float = 3 * DAY
    media_image_max_bytes: int = 10 * 1024 * 1024
    media_file_max_bytes: int = 20 * 1024 * 1024
    max_media: int = 1_000
    max_users: int = 2_000_000
    max_message_users: int = 200_000


@dataclass
class SentMessage:
    id: int  # msgid; all recipients of one mass send share it
    kind: str  # custom | template | subscribe | mass | wecom
    openid: str  # the recipient (a WeCom userid for kind "wecom")
    content: Any  # the text, or a dict for news / template / subscribe / mpnews
    at: float
    menu: list[dict] | None = None  # a msgmenu's items ({"id", "content"}): what the person can tap


@dataclass
class Media:
    """A temporary media file (素材) of one realm ("mp" or "wecom")."""

    content: bytes
    content_type: str
    filename: str
    kind: str  # image | voice | video | file
    at: float

    def described(self, media_id: str) -> dict:
        """What a recorded image message shows of it: enough to tell which picture it was."""
        return {"media_id": media_id, "size": len(self.content), "sha256": hashlib.sha256(self.content).hexdigest(),
                "content_type": self.content_type, "filename": self.filename}


@dataclass
class _Grant:
    app: str
    expires_at: float
    revoked: bool = False


@dataclass
class _Window:
    opened_at: float
    sent: int = 0


@dataclass
class _Fault:
    errcode: int | None
    times: int
    delay: float
    status: int | None


class _Roster:
    """Openids in the order they joined, paged the way user/get pages them (after a given openid)."""

    __slots__ = ("members", "_list", "_index")

    def __init__(self) -> None:
        self.members: dict[str, None] = {}
        self._list: list[str] | None = None
        self._index: dict[str, int] = {}

    def __contains__(self, openid: str) -> bool:
        return openid in self.members

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self):
        return iter(self.members)

    def add(self, openid: str) -> bool:
        if openid in self.members:
            return False
        self.members[openid] = None
        self._list = None
        return True

    def remove(self, openid: str) -> bool:
        if openid not in self.members:
            return False
        del self.members[openid]
        self._list = None
        return True

    def page(self, after: str, size: int) -> list[str] | None:
        """Up to `size` openids after `after` ("" for the first page); None if `after` is unknown."""
        if self._list is None:
            self._list = list(self.members)
            self._index = {openid: i for i, openid in enumerate(self._list)}
        start = 0
        if after:
            if after not in self._index:
                return None
            start = self._index[after] + 1
        return self._list[start:start + size]


@dataclass
class SimulatorState:
    tokens: dict[str, _Grant] = field(default_factory=dict)
    app_tokens: dict[str, list[str]] = field(default_factory=dict)  # newest last, a few kept
    force_refreshes: dict[str, deque] = field(default_factory=dict)
    tokens_issued: Counter = field(default_factory=Counter)  # by app: token answers given
    tokens_minted: int = 0  # distinct tokens created
    calls: Counter = field(default_factory=Counter)
    known: set[str] = field(default_factory=set)  # every openid of this account, followers or not
    followers: _Roster = field(default_factory=_Roster)
    windows: dict[str, _Window] = field(default_factory=dict)
    messages: OrderedDict = field(default_factory=OrderedDict)  # openid -> deque[SentMessage]
    sent: Counter = field(default_factory=Counter)  # by kind
    next_id: int = 1_000_000_001
    template_day: int = 0
    template_count: int = 0
    template_ids: OrderedDict = field(default_factory=OrderedDict)  # (openid, client_msg_id) -> (msgid, at)
    subscriptions: dict[tuple[str, str], int | None] = field(default_factory=dict)  # None: long-term
    mass_calls: deque = field(default_factory=deque)
    mass_ids: OrderedDict = field(default_factory=OrderedDict)  # clientmsgid -> (msg_id, msg_data_id, at)
    mass_received: dict[str, tuple[str, int]] = field(default_factory=dict)  # openid -> (month, count)
    tags: dict[int, tuple[str, _Roster]] = field(default_factory=dict)
    user_tags: dict[str, set[int]] = field(default_factory=dict)
    next_tag_id: int = 100
    faults: dict[str, deque] = field(default_factory=dict)
    wecom_users: set[str] = field(default_factory=set)  # empty: every userid is valid
    wecom_recent: dict[str, deque] = field(default_factory=dict)
    wecom_dropped: int = 0
    mass_reports: Counter = field(default_factory=Counter)  # MASSSENDJOBFINISH posts: delivered / failed
    media: OrderedDict = field(default_factory=OrderedDict)  # (realm, media_id) -> Media, oldest first


def _check_credentials(known: dict | None, ident: str | None, secret: str | None, name: str, bad_secret: int) -> dict | None:
    """WeChat's answers to missing or wrong app credentials (None: they are fine)."""
    if not ident:
        return _error(41002, f"{name} missing")
    if not secret:
        return _error(41004, "appsecret missing" if name == "appid" else "corpsecret missing")
    if known is not None:
        if ident not in known:
            return _error(40013, f"invalid {name}")
        if known[ident] != secret:
            return _error(bad_secret, "invalid appsecret" if name == "appid" else "invalid secret")
    return None


def _answer(data: dict) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), content_type="application/json")


def _error(errcode: int, errmsg: str) -> dict:
    return {"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(4)}"}


class _AdminError(Exception):
    pass


# A \uXXXX escape in a request body reaches the user as those six characters on the real
# platform; keep it literal so a client that forgets ensure_ascii=False is caught here too.
_ESCAPE = re.compile(r"\\(.)", re.S)


def _wechat_json(raw: bytes) -> Any:
    text = raw.decode("utf-8")
    return json.loads(_ESCAPE.sub(lambda m: "\\\\u" if m.group(1) == "u" else m.group(0), text))


Handler = Callable[[web.Request, dict], dict]


class WeChatSimulator:
    def __init__(self, config: SimulatorConfig | None = None, clock: Callable[[], float] = time.time):
        self.config = config or SimulatorConfig()
        self.clock = clock
        self.state = SimulatorState()
        self._reporting: set[asyncio.Task] = set()
        self.endpoints: dict[str, tuple[str, str | None, Handler]] = {
            "/cgi-bin/stable_token": ("POST", None, self.stable_token),
            "/cgi-bin/message/custom/send": ("POST", "mp", self.custom_send),
            "/cgi-bin/message/template/send": ("POST", "mp", self.template_send),
            "/cgi-bin/message/subscribe/bizsend": ("POST", "mp", self.bizsend),
            "/cgi-bin/tags/create": ("POST", "mp", self.tags_create),
            "/cgi-bin/tags/get": ("GET", "mp", self.tags_get),
            "/cgi-bin/tags/members/batchtagging": ("POST", "mp", self.batch_tagging),
            "/cgi-bin/tags/members/batchuntagging": ("POST", "mp", self.batch_untagging),
            "/cgi-bin/user/tag/get": ("POST", "mp", self.tag_members),
            "/cgi-bin/user/get": ("GET", "mp", self.user_get),
            "/cgi-bin/message/mass/sendall": ("POST", "mp", self.mass_sendall),
            "/cgi-bin/message/mass/send": ("POST", "mp", self.mass_send),
            "/cgi-bin/gettoken": ("GET", None, self.wecom_gettoken),
            "/cgi-bin/message/send": ("POST", "wecom", self.wecom_send),
        }
        #: Binary endpoints, shared by both realms (the token says whose media it is).
        self.media_endpoints: dict[str, tuple[str, Callable[[web.Request], Awaitable[web.Response]]]] = {
            "/cgi-bin/media/get": ("GET", self.media_get),
            "/cgi-bin/media/upload": ("POST", self.media_upload),
        }

    # Plumbing: faults, token checks, body parsing, bookkeeping.

    def route(self, path: str, realm: str | None, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            self.state.calls[path] += 1
            fault = self._take_fault(path)
            if fault:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status:
                    return web.Response(status=fault.status, text="injected fault")
                if fault.errcode is not None:
                    return _answer(_error(fault.errcode, "injected fault"))
            if realm:
                refused = self._check_token(request.query.get("access_token", ""), realm)
                if refused:
                    return _answer(refused)
            body: Any = {}
            if request.method == "POST":
                raw = await request.read()
                try:
                    body = _wechat_json(raw) if raw.strip() else {}
                except ValueError:
                    return _answer(_error(47001, "data format error"))
                if not isinstance(body, dict):
                    return _answer(_error(47001, "data format error"))
            return _answer(handler(request, body))

        return handle

    def _take_fault(self, path: str) -> _Fault | None:
        queue = self.state.faults.get(path)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    def _check_token(self, token: str, realm: str) -> dict | None:
        if not token:
            return _error(41001, "access_token missing")
        grant = self.state.tokens.get(token)
        if grant is None or grant.revoked or not grant.app.startswith(realm + ":"):
            if realm == "wecom":
                return _error(40014, "invalid access_token")
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if grant.expires_at <= self.clock():
            return _error(42001, "access_token expired")
        return None

    def _issue(self, app: str, force: bool = False) -> dict:
        """The app's current token, or a new one when there is none, it is nearly expired, or force."""
        now = self.clock()
        held = self.state.app_tokens.setdefault(app, [])
        current = self.state.tokens.get(held[-1]) if held else None
        if force and current:
            current.revoked = True
        if force or current is None or current.revoked or current.expires_at - now <= self.config.token_renew_before:
            token = secrets.token_urlsafe(48)
            self.state.tokens[token] = _Grant(app, now + self.config.token_ttl)
            held.append(token)
            self.state.tokens_minted += 1
            while len(held) > 3:
                self.state.tokens.pop(held.pop(0), None)
            current = self.state.tokens[token]
        self.state.tokens_issued[app] += 1
        return {"access_token": held[-1], "expires_in": int(current.expires_at - now)}

    def _check_user(self, openid: Any, following: bool = True) -> dict | None:
        if not isinstance(openid, str) or openid not in self.state.known:
            return _error(40003, "invalid openid")
        if following and openid not in self.state.followers:
            return _error(43004, "require subscribe")
        return None

    def _record(self, kind: str, openid: str, content: Any, msg_id: int | None = None, menu: list[dict] | None = None) -> SentMessage:
        if msg_id is None:
            msg_id = self._new_id()
        message = SentMessage(msg_id, kind, openid, content, self.clock(), menu)
        log = self.state.messages.get(openid)
        if log is None:
            if len(self.state.messages) >= self.config.max_message_users:
                self.state.messages.popitem(last=False)
            log = self.state.messages[openid] = deque(maxlen=self.config.keep_messages_per_user)
        log.append(message)
        self.state.sent[kind] += 1
        return message

    def _new_id(self) -> int:
        self.state.next_id += 1
        return self.state.next_id

    def _day(self) -> int:
        return int((self.clock() + BEIJING) // DAY)

    def _month(self) -> str:
        t = time.gmtime(self.clock() + BEIJING)
        return f"{t.tm_year}-{t.tm_mon:02d}"

    @staticmethod
    def _forget_older(entries: OrderedDict, now: float, keep: float, at: Callable[[Any], float]) -> None:
        while entries:
            first = next(iter(entries.values()))
            if now - at(first) < keep:
                return
            entries.popitem(last=False)

    # Temporary media.

    _KINDS = frozenset({"image", "voice", "video", "file"})
    _IMAGE_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}

    async def _media_call(self, request: web.Request, path: str) -> tuple[str | None, web.Response | None]:
        """The realm of the token, after the faults and token checks every endpoint has."""
        self.state.calls[path] += 1
        fault = self._take_fault(path)
        if fault:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status:
                return None, web.Response(status=fault.status, text="injected fault")
            if fault.errcode is not None:
                return None, _answer(_error(fault.errcode, "injected fault"))
        token = request.query.get("access_token", "")
        grant = self.state.tokens.get(token)
        realm = grant.app.split(":", 1)[0] if grant is not None else "mp"
        refused = self._check_token(token, realm)
        if refused:
            return None, _answer(refused)
        return realm, None

    def _keep_media(self, realm: str, media: Media) -> str:
        media_id = secrets.token_urlsafe(32)
        store = self.state.media
        while len(store) >= self.config.max_media:
            store.popitem(last=False)
        store[(realm, media_id)] = media
        return media_id

    def _media(self, realm: str, media_id: str) -> Media | None:
        media = self.state.media.get((realm, media_id))
        if media is None or self.clock() - media.at > self.config.media_ttl_seconds:
            return None
        return media

    async def media_get(self, request: web.Request) -> web.Response:
        """The file itself, with its type and name as WeChat sends them; an unknown or expired
        media_id is errcode 40007 (as JSON, which is how a caller tells the two apart)."""
        realm, refused = await self._media_call(request, "/cgi-bin/media/get")
        if refused is not None:
            return refused
        media = self._media(realm, request.query.get("media_id", ""))
        if media is None:
            return _answer(_error(40007, "invalid media_id"))
        return web.Response(body=media.content, content_type=media.content_type,
                            headers={"Content-Disposition": f'attachment; filename="{media.filename}"'})

    async def media_upload(self, request: web.Request) -> web.Response:
        """A multipart upload (the `media` part) of a `type`; an image must really be a JPEG or
        PNG (40005 otherwise) and no larger than the limit (40006 / 40009)."""
        realm, refused = await self._media_call(request, "/cgi-bin/media/upload")
        if refused is not None:
            return refused
        kind = request.query.get("type", "")
        if kind not in self._KINDS:
            return _answer(_error(40004, "invalid media type"))
        limit = self.config.media_image_max_bytes if kind == "image" else self.config.media_file_max_bytes
        content, filename, declared = None, "", ""
        try:
            async for part in await request.multipart():
                if getattr(part, "name", None) != "media":
                    await part.release()
                    continue
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        return _answer(_error(40009 if kind == "image" else 40006, "invalid media size"))
                content, filename, declared = bytes(data), part.filename or "", part.headers.get("Content-Type", "")
        except (ValueError, AssertionError, RuntimeError, aiohttp.ClientPayloadError):
            return _answer(_error(41005, "media data missing"))
        if not content:
            return _answer(_error(41005, "media data missing"))
        content_type = declared or "application/octet-stream"
        if kind == "image":
            content_type = next((t for magic, t in self._IMAGE_TYPES.items() if content.startswith(magic)), "")
            if not content_type:
                return _answer(_error(40005, "invalid file type"))
        media_id = self._keep_media(realm, Media(content, content_type, filename[:120], kind, self.clock()))
        answer = {"type": kind, "media_id": media_id, "created_at": int(self.clock())}
        return _answer({**OK, **answer} if realm == "wecom" else answer)

    def _image(self, realm: str, body: dict) -> dict:
        """The image of an image message, described as recorded, or WeChat's refusal."""
        media_id = (body.get("image") or {}).get("media_id") if isinstance(body.get("image"), dict) else None
        media = self._media(realm, media_id) if isinstance(media_id, str) else None
        if media is None:
            return _error(40007, "invalid media_id")
        return {"image": media.described(media_id)}

    # Tokens.

    def stable_token(self, request: web.Request, body: dict) -> dict:
        appid, secret = body.get("appid"), body.get("secret")
        if body.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        refused = _check_credentials(self.config.credentials, appid, secret, "appid", bad_secret=40125)
        if refused:
            return refused
        app = f"mp:{appid}"
        force = bool(body.get("force_refresh"))
        if force:
            now = self.clock()
            recent = self.state.force_refreshes.setdefault(app, deque())
            while recent and now - recent[0] >= DAY:
                recent.popleft()
            if len(recent) >= self.config.force_refresh_per_day:
                return _error(45009, "reach max api daily quota limit")
            if recent and now - recent[-1] < self.config.force_refresh_interval:
                return _error(45011, "api minute-quota reach limit, force refresh too frequently")
            recent.append(now)
        return self._issue(app, force)

    def wecom_gettoken(self, request: web.Request, body: dict) -> dict:
        corpid, secret = request.query.get("corpid", ""), request.query.get("corpsecret", "")
        refused = _check_credentials(self.config.wecom_credentials, corpid, secret, "corpid", bad_secret=40001)
        if refused:
            return refused
        app = f"wecom:{corpid}:{hashlib.sha256(secret.encode()).hexdigest()[:12]}"
        return {**OK, **self._issue(app)}

    # Customer-service messages.

    def custom_send(self, request: web.Request, body: dict) -> dict:
        openid = body.get("touser")
        refused = self._check_user(openid)
        if refused:
            return refused
        msgtype = body.get("msgtype")
        if msgtype == "text":
            content = (body.get("text") or {}).get("content")
            if not isinstance(content, str) or not content:
                return _error(44004, "empty content")
        elif msgtype == "msgmenu":
            try:
                raw = body.get("msgmenu") or {}
                menu = MenuMessage(head_content=raw.get("head_content") or "", choices=raw.get("list") or [], tail_content=raw.get("tail_content") or "")
            except (ValueError, AttributeError):
                return _error(47001, "data format error")
        elif msgtype == "image":
            content = self._image("mp", body)
            if "errcode" in content:
                return content
        elif msgtype == "news":
            articles = (body.get("news") or {}).get("articles")
            if not isinstance(articles, list) or not articles:
                return _error(44003, "empty news data")
            if len(articles) > 1:
                return _error(45008, "article size out of limit")
            try:
                content = {"articles": [Article.model_validate(a).model_dump() for a in articles]}
            except ValueError:
                return _error(47001, "data format error")
        else:
            return _error(40008, "invalid message type")
        window = self.state.windows.get(openid)
        if window is None or self.clock() - window.opened_at > self.config.window_seconds:
            return _error(45015, "response out of time limit or subscription is canceled")
        if window.sent >= self.config.messages_per_interaction:
            return _error(45047, "out of response count limit")
        window.sent += 1
        if msgtype == "msgmenu":  # recorded as the person reads it, with the items they can tap beside it
            self._record("custom", openid, menu.text, menu=[c.model_dump() for c in menu.choices])
        else:
            self._record("custom", openid, content)
        return dict(OK)

    # Template and subscription messages.

    def _templated(self, body: dict, following: bool, bad_data: dict) -> tuple[str, str, dict] | dict:
        """The recipient, template and data of a template or subscription message, or WeChat's refusal."""
        openid = body.get("touser")
        refused = self._check_user(openid, following=following)
        if refused:
            return refused
        template_id, data = body.get("template_id"), body.get("data")
        if not isinstance(template_id, str) or not template_id:
            return _error(40037, "invalid template_id")
        if not _is_template_data(data):
            return bad_data
        return openid, template_id, data

    def template_send(self, request: web.Request, body: dict) -> dict:
        checked = self._templated(body, True, _error(47001, "data format error"))
        if isinstance(checked, dict):
            return checked
        openid, template_id, data = checked
        now = self.clock()
        client_msg_id = body.get("client_msg_id")
        if client_msg_id:
            self._forget_older(self.state.template_ids, now, self.config.template_dedup_seconds, lambda v: v[1])
            first = self.state.template_ids.get((openid, client_msg_id))
            if first:
                return {**OK, "msgid": first[0]}
        if self.state.template_day != self._day():
            self.state.template_day, self.state.template_count = self._day(), 0
        if self.state.template_count >= self.config.template_daily_quota:
            return _error(45009, "reach max api daily quota limit")
        self.state.template_count += 1
        content = {"template_id": template_id, "data": data}
        for extra in ("url", "miniprogram"):
            if body.get(extra):
                content[extra] = body[extra]
        message = self._record("template", openid, content)
        if client_msg_id:
            self.state.template_ids[(openid, client_msg_id)] = (message.id, now)
        return {**OK, "msgid": message.id}

    def bizsend(self, request: web.Request, body: dict) -> dict:
        checked = self._templated(body, False, _error(47003, "argument invalid! data.value invalid"))
        if isinstance(checked, dict):
            return checked
        openid, template_id, data = checked
        key = (openid, template_id)
        if key in self.state.subscriptions:
            remaining = self.state.subscriptions[key]
            if remaining is not None:
                if remaining <= 0:
                    return _error(43101, "user refuse to accept the msg")
                self.state.subscriptions[key] = remaining - 1
        elif not self.config.assume_long_term_subscriptions:
            return _error(43101, "user refuse to accept the msg")
        content = {"template_id": template_id, "data": data}
        if body.get("page"):
            content["page"] = body["page"]
        self._record("subscribe", openid, content)
        return dict(OK)

    # Tags.

    def tags_create(self, request: web.Request, body: dict) -> dict:
        name = (body.get("tag") or {}).get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 30:
            return _error(45158, "tag name too long")
        if any(existing == name for existing, _ in self.state.tags.values()):
            return _error(45157, "invalid tag name")
        if len(self.state.tags) >= self.config.max_tags:
            return _error(45056, "too many tags")
        tag_id = self.state.next_tag_id
        self.state.next_tag_id += 1
        self.state.tags[tag_id] = (name, _Roster())
        return {"tag": {"id": tag_id, "name": name}}

    def tags_get(self, request: web.Request, body: dict) -> dict:
        return {"tags": [{"id": i, "name": name, "count": len(members)} for i, (name, members) in self.state.tags.items()]}

    def _tagging(self, body: dict) -> tuple[int, list[str]] | dict:
        tag_id, openids = body.get("tagid"), body.get("openid_list")
        if tag_id not in self.state.tags:
            return _error(45159, "invalid tag id")
        if not isinstance(openids, list) or not openids or len(openids) > 50:
            return _error(40032, "invalid openid list size")
        for openid in openids:
            refused = self._check_user(openid, following=False)
            if refused:
                return refused
        return tag_id, openids

    def batch_tagging(self, request: web.Request, body: dict) -> dict:
        checked = self._tagging(body)
        if isinstance(checked, dict):
            return checked
        tag_id, openids = checked
        for openid in openids:
            tags = self.state.user_tags.get(openid, set())
            if tag_id not in tags and len(tags) >= self.config.max_tags_per_user:
                return _error(45059, "fans have too many tags")
        for openid in openids:
            self.state.user_tags.setdefault(openid, set()).add(tag_id)
            self.state.tags[tag_id][1].add(openid)
        return dict(OK)

    def batch_untagging(self, request: web.Request, body: dict) -> dict:
        checked = self._tagging(body)
        if isinstance(checked, dict):
            return checked
        tag_id, openids = checked
        for openid in openids:
            self.state.user_tags.get(openid, set()).discard(tag_id)
            self.state.tags[tag_id][1].remove(openid)
        return dict(OK)

    def tag_members(self, request: web.Request, body: dict) -> dict:
        tag_id = body.get("tagid")
        if tag_id not in self.state.tags:
            return _error(45159, "invalid tag id")
        return self._page(self.state.tags[tag_id][1], body.get("next_openid") or "", total=False)

    def user_get(self, request: web.Request, body: dict) -> dict:
        return self._page(self.state.followers, request.query.get("next_openid", ""), total=True)

    def _page(self, roster: _Roster, after: str, total: bool) -> dict:
        page = roster.page(after, self.config.page_size)
        if page is None:
            return _error(40003, "invalid next_openid")
        answer: dict[str, Any] = {"total": len(roster)} if total else {}
        answer["count"] = len(page)
        if page:
            answer["data"] = {"openid": page}
        answer["next_openid"] = page[-1] if page else ""
        return answer

    # Mass send.

    def mass_sendall(self, request: web.Request, body: dict) -> dict:
        scope = body.get("filter") or {}
        if scope.get("is_to_all"):
            return self._mass(body, list(self.state.followers), "all")
        tag_id = scope.get("tag_id")
        if tag_id not in self.state.tags:
            return _error(40050, "invalid tag id")
        return self._mass(body, list(self.state.tags[tag_id][1]), f"tag:{tag_id}")

    def mass_send(self, request: web.Request, body: dict) -> dict:
        touser = body.get("touser")
        if not isinstance(touser, list) or not 2 <= len(touser) <= 10_000 or not all(isinstance(o, str) for o in touser):
            return _error(40130, "invalid openid list size, at least two openid")
        return self._mass(body, list(dict.fromkeys(touser)), "openids:" + ",".join(sorted(touser)))

    def _mass(self, body: dict, targets: list[str], scope: str) -> dict:
        msgtype = body.get("msgtype")
        if msgtype == "text":
            content: Any = (body.get("text") or {}).get("content")
            if not isinstance(content, str) or not content:
                return _error(44004, "empty content")
        elif msgtype == "mpnews":
            media_id = (body.get("mpnews") or {}).get("media_id")
            if not isinstance(media_id, str) or not media_id:
                return _error(40007, "invalid media_id")
            content = {"mpnews": media_id}
        else:
            return _error(40008, "invalid message type")
        now = self.clock()
        calls = self.state.mass_calls
        while calls and now - calls[0] >= self.config.mass_window_seconds:
            calls.popleft()
        if len(calls) >= self.config.mass_per_minute:
            return _error(45011, "api minute-quota reach limit mustslower retry next minute")
        calls.append(now)
        # Without a clientmsgid WeChat uses a digest of the scope and the content.
        clientmsgid = body.get("clientmsgid") or hashlib.sha256(f"{scope}\n{json.dumps(content, ensure_ascii=False)}".encode()).hexdigest()[:32]
        if len(clientmsgid) > 64:
            return _error(45067, "clientmsgid size out of limit")
        self._forget_older(self.state.mass_ids, now, self.config.mass_dedup_seconds, lambda v: v[2])
        first = self.state.mass_ids.get(clientmsgid)
        if first:
            return {**_error(45065, "clientmsgid exist"), "msg_id": first[0], "msg_data_id": first[1]}
        month = self._month()
        reachable = [o for o in targets if o in self.state.followers]
        recipients = [o for o in reachable if self._mass_count(o, month) < self.config.mass_per_user_per_month]
        if reachable and not recipients:
            return _error(45028, "has no masssend quota")
        msg_id, msg_data_id = self._new_id(), self._new_id()
        for openid in recipients:
            self.state.mass_received[openid] = (month, self._mass_count(openid, month) + 1)
            self._record("mass", openid, content, msg_id)
        self.state.mass_ids[clientmsgid] = (msg_id, msg_data_id, now)
        self._report_later(_mass_job_finished(msg_id, int(now), total=len(targets), filtered=len(recipients), sent=len(recipients)))
        return {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id, "msg_data_id": msg_data_id}

    def _report_later(self, xml: str) -> None:
        """Post an event to the account's webhook in a moment, as WeChat does once a job is done."""
        if not self.config.webhook_url:
            return
        task = asyncio.get_running_loop().create_task(self._post_event(xml))
        self._reporting.add(task)
        task.add_done_callback(self._reporting.discard)

    async def _post_event(self, xml: str) -> None:
        await asyncio.sleep(self.config.mass_report_seconds)
        config = self.config
        for attempt in range(3):  # WeChat tries an event three times
            timestamp, nonce = str(int(self.clock())), secrets.token_hex(8)
            query = {"signature": _sha1(config.webhook_token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
            body = xml
            if config.webhook_aes_key:
                envelope = WeChatCrypto(config.webhook_token, config.webhook_aes_key, config.webhook_appid).encrypt_message(xml, nonce, timestamp)
                encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", envelope).group(1)
                query.update(encrypt_type="aes", msg_signature=_sha1(config.webhook_token, timestamp, nonce, encrypted))
                body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
                    async with http.post(config.webhook_url, params=query, data=body.encode()) as resp:
                        if resp.status == 200:
                            self.state.mass_reports["delivered"] += 1
                            return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(config.mass_report_seconds * (attempt + 1))
        self.state.mass_reports["failed"] += 1

    async def close(self) -> None:
        """Forget the reports not posted yet (the webhook is going away with us)."""
        for task in list(self._reporting):
            task.cancel()
        await asyncio.gather(*self._reporting, return_exceptions=True)

    def _mass_count(self, openid: str, month: str) -> int:
        seen_month, count = self.state.mass_received.get(openid, (month, 0))
        return count if seen_month == month else 0

    # WeCom app messages.

    def wecom_send(self, request: web.Request, body: dict) -> dict:
        if not isinstance(body.get("agentid"), int):
            return _error(40056, "invalid agentid")
        if body.get("msgtype") == "image":
            content = self._image("wecom", body)
            if "errcode" in content:
                return content
        elif body.get("msgtype") != "text":
            return _error(40008, "invalid message type")
        else:
            content = (body.get("text") or {}).get("content")
            if not isinstance(content, str) or not content:
                return _error(44004, "empty content")
        touser = str(body.get("touser") or "")
        directory = self.state.wecom_users
        named = sorted(directory) if touser == "@all" else [u for u in touser.split("|") if u]
        invalid = [u for u in named if directory and u not in directory]
        valid = [u for u in named if u not in invalid]
        if not valid:
            return _error(81013, "user & party & tag all invalid")
        now, msgid = self.clock(), self._new_id()
        minute = self.config.wecom_minute_seconds
        for userid in valid:
            recent = self.state.wecom_recent.setdefault(userid, deque())
            while recent and now - recent[0] >= 60 * minute:
                recent.popleft()
            last_minute = sum(1 for at in recent if now - at < minute)
            if last_minute >= self.config.wecom_per_member_minute or len(recent) >= self.config.wecom_per_member_hour:
                self.state.wecom_dropped += 1  # WeCom drops these silently
                continue
            recent.append(now)
            self._record("wecom", userid, content, msgid)
        return {**OK, "invaliduser": "|".join(invalid), "invalidparty": "", "invalidtag": "", "unlicenseduser": "", "msgid": str(msgid), "response_code": ""}

    # Admin: the users, the operator, and what a test wants to see.

    def _add_known(self, openids: list[str]) -> int:
        added = 0
        for openid in openids:
            if not isinstance(openid, str) or not openid:
                raise _AdminError("openids must be non-empty strings")
            if openid not in self.state.known and len(self.state.known) >= self.config.max_users:
                raise _AdminError(f"the simulator keeps at most {self.config.max_users} users")
            self.state.known.add(openid)
            added += self.state.followers.add(openid)
        return added

    def admin_messages(self, request: web.Request, body: dict) -> dict:
        openid, kind = request.query.get("openid"), request.query.get("kind")
        if openid is not None:
            logs = [self.state.messages.get(openid, ())]
        else:
            logs = list(self.state.messages.values())
        found = sorted((m for log in logs for m in log if kind is None or m.kind == kind), key=lambda m: (m.at, m.id))
        return {"messages": [dataclasses.asdict(m) for m in found]}

    def admin_interactions(self, request: web.Request, body: dict) -> dict:
        openid = body.get("openid")
        self._add_known([openid])
        at = float(body.get("at") or self.clock())
        self.state.windows[openid] = _Window(at)
        return {"openid": openid, "window_closes_at": at + self.config.window_seconds}

    def admin_followers(self, request: web.Request, body: dict) -> dict:
        openids = body.get("openids")
        if not isinstance(openids, list):
            raise _AdminError('give {"openids": [...]}')
        added = self._add_known(openids)
        return {"added": added, "followers": len(self.state.followers)}

    def admin_unfollow(self, request: web.Request, body: dict) -> dict:
        openids = body.get("openids")
        if not isinstance(openids, list):
            raise _AdminError('give {"openids": [...]}')
        removed = 0
        for openid in openids:
            removed += self.state.followers.remove(openid)
            self.state.windows.pop(openid, None)
        return {"removed": removed, "followers": len(self.state.followers)}

    def admin_subscriptions(self, request: web.Request, body: dict) -> dict:
        openid, template_id, times = body.get("openid"), body.get("template_id"), body.get("times")
        if not isinstance(openid, str) or not isinstance(template_id, str) or not (times is None or isinstance(times, int)):
            raise _AdminError('give {"openid", "template_id", "times": N (one-time, 0 = refused) or null (long-term)}')
        if openid not in self.state.known:
            if len(self.state.known) >= self.config.max_users:
                raise _AdminError(f"the simulator keeps at most {self.config.max_users} users")
            self.state.known.add(openid)
        self.state.subscriptions[(openid, template_id)] = times
        return {"openid": openid, "template_id": template_id, "times": times}

    def admin_wecom_users(self, request: web.Request, body: dict) -> dict:
        userids = body.get("userids")
        if not isinstance(userids, list) or not all(isinstance(u, str) for u in userids):
            raise _AdminError('give {"userids": [...]} (an empty list accepts every userid)')
        self.state.wecom_users = set(userids)
        return {"userids": len(self.state.wecom_users)}

    async def admin_media(self, request: web.Request) -> web.Response:
        """A person sends the account a photo or a file (realm "mp"), or an agent sends one in the
        WeCom app (realm "wecom"): the media is kept, and its media_id goes in the message XML.
        JSON `{"content_base64", "realm", "type", "content_type", "filename"}` for small files, or
        the raw bytes as the body with those fields (but the content) in the query string, streamed
        (a photo of several MB, past any limit the app puts on bodies it reads whole)."""
        try:
            if request.content_type == "application/json":
                fields = await request.json()
                if not isinstance(fields, dict):
                    raise _AdminError("the body must be a JSON object")
                try:
                    content = base64.b64decode(str(fields.get("content_base64") or ""), validate=True)
                except (binascii.Error, ValueError):
                    raise _AdminError("content_base64 must be base64") from None
            else:
                fields, data = dict(request.query), bytearray()
                while chunk := await request.content.read(256 * 1024):
                    data += chunk
                    if len(data) > self.config.media_file_max_bytes + 1024 * 1024:
                        raise _AdminError("the simulator keeps media of at most ~21 MB")
                content = bytes(data)
            realm, kind = fields.get("realm", "mp"), fields.get("type", "image")
            if realm not in ("mp", "wecom") or kind not in self._KINDS:
                raise _AdminError('give "realm": "mp" | "wecom" and "type": "image" | "voice" | "video" | "file"')
            if not content:
                raise _AdminError("no content")
            content_type = str(fields.get("content_type") or ("image/jpeg" if kind == "image" else "application/octet-stream"))
            filename = str(fields.get("filename") or ("photo.jpg" if kind == "image" else "file"))
            media = Media(content, content_type[:100], filename[:120], kind, self.clock())
            return _answer({"media_id": self._keep_media(realm, media), "realm": realm, "size": len(content)})
        except (_AdminError, ValueError, TypeError) as error:
            return web.json_response({"error": str(error)}, status=400)

    def admin_media_list(self, request: web.Request, body: dict) -> dict:
        """Every media file kept, without its content: what the bot uploaded and what was registered."""
        realm = request.query.get("realm")
        return {"media": [{"realm": r, **m.described(media_id), "type": m.kind} for (r, media_id), m in self.state.media.items()
                          if realm is None or r == realm]}

    def admin_expire_token(self, request: web.Request, body: dict) -> dict:
        token, appid, corpid = body.get("token"), body.get("appid"), body.get("corpid")
        expired = 0
        for value, grant in self.state.tokens.items():
            if token and value != token:
                continue
            if appid and grant.app != f"mp:{appid}":
                continue
            if corpid and not grant.app.startswith(f"wecom:{corpid}:"):
                continue
            grant.expires_at = min(grant.expires_at, self.clock() - 1)
            expired += 1
        return {"expired": expired}

    def admin_stats(self, request: web.Request, body: dict) -> dict:
        return {
            "tokens_issued": sum(self.state.tokens_issued.values()),
            "tokens_issued_by_app": dict(self.state.tokens_issued),
            "tokens_minted": self.state.tokens_minted,
            "calls": dict(self.state.calls),
            "messages": dict(self.state.sent),
            "followers": len(self.state.followers),
            "template_sent_today": self.state.template_count if self.state.template_day == self._day() else 0,
            "wecom_dropped": self.state.wecom_dropped,
            "mass_reports": dict(self.state.mass_reports),
        }

    def admin_reset(self, request: web.Request, body: dict) -> dict:
        self.state = SimulatorState()
        return {"reset": True}

    def admin_faults(self, request: web.Request, body: dict) -> dict:
        endpoint = body.get("endpoint")
        if endpoint not in self.endpoints and endpoint not in self.media_endpoints:
            raise _AdminError(f"endpoint must be one of {sorted([*self.endpoints, *self.media_endpoints])}")
        errcode, status = body.get("errcode"), body.get("status")
        times, delay = body.get("times", 1), body.get("delay", 0)
        if not (errcode is None or isinstance(errcode, int)) or not (status is None or isinstance(status, int)):
            raise _AdminError("errcode and status must be integers")
        if not isinstance(times, int) or times < 1 or not isinstance(delay, (int, float)) or delay < 0:
            raise _AdminError("times must be >= 1 and delay >= 0")
        self.state.faults.setdefault(endpoint, deque()).append(_Fault(errcode, times, float(delay), status))
        return {"endpoint": endpoint, "pending": sum(f.times for f in self.state.faults[endpoint])}

    def admin_config(self, request: web.Request, body: dict) -> dict:
        names = {f.name for f in dataclasses.fields(SimulatorConfig)}
        unknown = set(body) - names
        if unknown:
            raise _AdminError(f"unknown settings: {sorted(unknown)}")
        for name, value in body.items():
            current = getattr(self.config, name)
            if current is not None and not isinstance(current, dict) and not isinstance(value, type(current)):
                raise _AdminError(f"{name} must be a {type(current).__name__}")
        self.config = dataclasses.replace(self.config, **body)
        return dataclasses.asdict(self.config)

    def admin_route(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                body = await request.json() if request.method == "POST" and request.can_read_body else {}
                if not isinstance(body, dict):
                    raise _AdminError("the body must be a JSON object")
                return _answer(handler(request, body))
            except (_AdminError, ValueError, TypeError) as error:
                return web.json_response({"error": str(error)}, status=400)

        return handle


SIMULATOR = web.AppKey("wechat_simulator", WeChatSimulator)


def create_wechat_simulator(config: SimulatorConfig | None = None, clock: Callable[[], float] = time.time) -> web.Application:
    """The simulator as an aiohttp app: mount it as a sub-app or serve it alone."""
    sim = WeChatSimulator(config, clock)
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[SIMULATOR] = sim
    for path, (method, realm, handler) in sim.endpoints.items():
        app.router.add_route(method, path, sim.route(path, realm, handler))
    for path, (method, media_handler) in sim.media_endpoints.items():
        app.router.add_route(method, path, media_handler)
    admin = {
        ("GET", "messages"): sim.admin_messages,
        ("POST", "interactions"): sim.admin_interactions,
        ("POST", "followers"): sim.admin_followers,
        ("POST", "unfollow"): sim.admin_unfollow,
        ("POST", "subscriptions"): sim.admin_subscriptions,
        ("POST", "wecom-users"): sim.admin_wecom_users,
        ("GET", "media"): sim.admin_media_list,
        ("POST", "expire-token"): sim.admin_expire_token,
        ("GET", "stats"): sim.admin_stats,
        ("POST", "reset"): sim.admin_reset,
        ("POST", "faults"): sim.admin_faults,
        ("POST", "config"): sim.admin_config,
    }
    for (method, name), handler in admin.items():
        app.router.add_route(method, f"/_admin/{name}", sim.admin_route(handler))
    app.router.add_post("/_admin/media", sim.admin_media)  # its own: a body of several MB, streamed

    async def close(app: web.Application) -> None:
        await sim.close()

    app.on_cleanup.append(close)
    return app


ACCOUNT = "gh_simulated0001"  # the account's original id, ToUserName of what WeChat posts to it
MASS_HELPER = "mphelper"  # FromUserName of a mass send's report: WeChat's 群发助手


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _mass_job_finished(msg_id: int, created: int, *, total: int, filtered: int, sent: int, errors: int = 0) -> str:
    """WeChat's MASSSENDJOBFINISH event: TotalCount asked for, FilterCount left after filtering
    (about SentCount + ErrorCount), SentCount, ErrorCount."""
    status = "send success" if sent else "send fail"
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{MASS_HELPER}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[MASSSENDJOBFINISH]]></Event><MsgID>{msg_id}</MsgID><Status><![CDATA[{status}]]></Status>"
            f"<TotalCount>{total}</TotalCount><FilterCount>{filtered}</FilterCount><SentCount>{sent}</SentCount>"
            f"<ErrorCount>{errors}</ErrorCount></xml>")


def _is_template_data(data: Any) -> bool:
    return isinstance(data, dict) and all(isinstance(v, dict) and isinstance(v.get("value"), str) for v in data.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="WeChat / WeCom API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--template-quota", type=int, default=SimulatorConfig.template_daily_quota, help="template messages a day")
    parser.add_argument("--webhook", default="", help="the account's webhook URL, where mass-send reports are posted")
    parser.add_argument("--webhook-token", default="", help="the token the webhook checks signatures with")
    args = parser.parse_args(argv)
    config = SimulatorConfig(template_daily_quota=args.template_quota, webhook_url=args.webhook, webhook_token=args.webhook_token)
    web.run_app(create_wechat_simulator(config), host=args.host, port=args.port, print=lambda _: print(f"wechat simulator on http://{args.host}:{args.port}", flush=True))


if __name__ == "__main__":
    main()
