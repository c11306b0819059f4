"""Async clients for the WeChat Official Account API and a WeCom self-built app.

Both speak the real wire format (JSON bodies in UTF-8, the access token as a query parameter,
errors as HTTP 200 with an errcode), so production points them at the platform and embedded mode
at our simulator. The access token is one per app for ALL processes: it lives in Redis, and only
the process holding a short lock fetches a new one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import LockError, WatchError

from .errors import TOKEN_ERRCODES, MediaTooLarge, WeChatTimeout, WeChatUnavailable, error_for
from .models import Article, MassSendResult, Media, MenuMessage, Tag, WeComSendResult, menu_from_text

log = logging.getLogger(__name__)

WECHAT_API = "https://api.weixin.qq.com"
WECOM_API = "https://qyapi.weixin.qq.com"

#: batchtagging / batchuntagging take at most this many openids per call.
TAG_BATCH = 50

FetchToken = Callable[[bool], Awaitable[tuple[str, int]]]


class SharedToken:
    """One access token for every process of one app, kept in Redis until shortly before it expires.

    A process that finds no usable token takes a short lock and fetches one; the others poll
    Redis for it instead of fetching too (force refreshes are limited to 20 a day, and the
    classic endpoint rotates the token on every fetch).

    The lock is redis-py's documented `Lock` (SET NX PX, released only by the token that took
    it), not bot.stores.Lease: integrations import nothing of the bot's (integrations < dialogs <
    bot), and here one object takes and releases the lock, which is what `Lock` is for.
    """

    def __init__(
        self, redis: Redis, key: str, lock_key: str, fetch: FetchToken, *,
        margin: int = 300, lock_ttl: float = 12.0, wait: float = 15.0, poll: float = 0.05,
    ):
        self.redis, self.key, self.lock_key, self.fetch = redis, key, lock_key, fetch
        self.margin, self.lock_ttl, self.wait, self.poll = margin, lock_ttl, wait, poll

    async def get(self) -> str:
        return await self._read() or await self.refresh()

    async def refresh(self, rejected: str | None = None) -> str:
        """A token other than `rejected`: one another process just stored, or one we fetch under the lock."""
        if rejected:
            await self._forget(rejected)
        deadline = time.monotonic() + self.wait
        while True:
            token = await self._read()
            if token and token != rejected:
                return token
            lock = self.redis.lock(self.lock_key, timeout=self.lock_ttl, blocking=False)
            if await lock.acquire(token=secrets.token_hex(8)):
                try:
                    token = await self._read()
                    if token and token != rejected:
                        return token
                    token, expires_in = await self.fetch(False)
                    if token == rejected:
                        # stable_token hands back the token it still considers valid; only a force
                        # refresh replaces one that an API call has just refused.
                        token, expires_in = await self.fetch(True)
                    await self.redis.set(self.key, token, ex=max(expires_in - self.margin, 1))
                    return token
                finally:
                    try:
                        await lock.release()
                    except LockError:  # it ran out (a very slow fetch): whoever holds it now keeps it
                        pass
            if time.monotonic() > deadline:
                raise WeChatUnavailable("timed out waiting for another process to refresh the access token")
            await asyncio.sleep(self.poll)

    async def _forget(self, rejected: str) -> None:
        """Delete the stored token if it is still `rejected`, so no process hands it out again;
        one another process stored meanwhile is kept (WATCH: the delete happens only if the key
        did not change since it was read)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(self.key)
                stored = await pipe.get(self.key)
                if (stored.decode() if isinstance(stored, bytes) else stored) == rejected:
                    pipe.multi()
                    pipe.delete(self.key)
                    await pipe.execute()
            except WatchError:
                pass  # a new token came meanwhile: the rejected one is gone already

    async def _read(self) -> str | None:
        token = await self.redis.get(self.key)
        return token.decode() if isinstance(token, bytes) else token


class _APIClient:
    """HTTP, JSON and errcode handling shared by the WeChat and WeCom clients."""

    _token: SharedToken

    def __init__(self, base_url: str, session: aiohttp.ClientSession | None, timeout: float):
        self.base_url = base_url.rstrip("/")
        self._session, self._owns_session = session, session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def access_token(self) -> str:
        return await self._token.get()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
                       form: Callable[[], aiohttp.FormData] | None = None) -> dict:
        """One call: `body` goes as JSON, or `form()` as multipart (built per attempt: a sent form
        cannot be sent again)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        data: Any
        if form is not None:
            data, headers = form(), None
        else:
            # WeChat shows \uXXXX escapes literally to the user: send real UTF-8.
            data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
            headers = None if data is None else {"Content-Type": "application/json; charset=utf-8"}
        try:
            async with self._session.request(method, self.base_url + path, params=params, data=data, headers=headers, timeout=self._timeout) as resp:
                status, raw = resp.status, await resp.read()
        except TimeoutError:
            raise WeChatTimeout(f"{path}: no answer within {self._timeout.total} s") from None
        except aiohttp.ClientError as error:
            # Not str(error): it can carry the URL, and the URL carries the token or secret.
            raise WeChatUnavailable(f"{path}: {type(error).__name__}") from None
        if status != 200:
            raise WeChatUnavailable(f"{path}: HTTP {status}")
        try:
            answer = json.loads(raw)
        except ValueError:
            raise WeChatUnavailable(f"{path}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise WeChatUnavailable(f"{path}: the answer is not a JSON object")
        return answer

    async def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
                    form: Callable[[], aiohttp.FormData] | None = None, accept: frozenset[int] = frozenset()) -> dict:
        """Call an API with the shared token; a refused token is refreshed once, never more."""
        token = await self._token.get()
        answer = await self._request(method, path, params={**(params or {}), "access_token": token}, body=body, form=form)
        if answer.get("errcode") in TOKEN_ERRCODES:
            log.warning("%s refused the access token (errcode %s); refreshing it once", path, answer["errcode"])
            token = await self._token.refresh(rejected=token)
            answer = await self._request(method, path, params={**(params or {}), "access_token": token}, body=body, form=form)
        _raise_for(answer, accept)
        return answer


    # Temporary media (the same paths on WeChat and WeCom) ---------------------------------

    async def get_media(self, media_id: str, max_bytes: int) -> Media:
        """A temporary media file by its media_id (a photo a person sent). Nothing beyond
        `max_bytes` is read: a larger file is MediaTooLarge as soon as that is known (its
        Content-Length, or the bytes read so far), before anything is kept."""
        token = await self._token.get()
        answer = await self._fetch(media_id, token, max_bytes)
        if isinstance(answer, dict) and answer.get("errcode") in TOKEN_ERRCODES:
            token = await self._token.refresh(rejected=token)
            answer = await self._fetch(media_id, token, max_bytes)
        if isinstance(answer, dict):
            _raise_for(answer)
            raise WeChatUnavailable("/cgi-bin/media/get: a JSON answer without the file")
        return answer

    async def _fetch(self, media_id: str, token: str, max_bytes: int) -> Media | dict:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        path = "/cgi-bin/media/get"
        try:
            async with self._session.get(self.base_url + path, params={"access_token": token, "media_id": media_id}, timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise WeChatUnavailable(f"{path}: HTTP {resp.status}")
                content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if content_type in ("application/json", "text/plain"):  # an error, as JSON
                    try:
                        answer = json.loads(await resp.content.read(64 * 1024))
                    except ValueError:
                        raise WeChatUnavailable(f"{path}: the answer is neither a file nor JSON") from None
                    return answer if isinstance(answer, dict) else {"errcode": -1}
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise MediaTooLarge(max_bytes)
                body = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > max_bytes:
                        raise MediaTooLarge(max_bytes)
                return Media(bytes(body), content_type, _filename(resp.headers.get("Content-Disposition", "")))
        except TimeoutError:
            raise WeChatTimeout(f"{path}: no answer within {self._timeout.total} s") from None
        except aiohttp.ClientError as error:
            raise WeChatUnavailable(f"{path}: {type(error).__name__}") from None

    async def upload_media(self, kind: str, content: bytes, *, filename: str, content_type: str) -> str:
        """Upload a temporary media file (`kind`: image, voice, video, file); returns its media_id."""
        path = "/cgi-bin/media/upload"

        def form() -> aiohttp.FormData:
            built = aiohttp.FormData()
            built.add_field("media", content, filename=filename, content_type=content_type)
            return built

        answer = await self._call("POST", path, params={"type": kind}, form=form)
        if not answer.get("media_id"):
            raise WeChatUnavailable(f"{path}: no media_id in the answer")
        return str(answer["media_id"])


def _filename(disposition: str) -> str:
    """The file name of a Content-Disposition header, or ""."""
    for part in disposition.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "filename":
            return value.strip().strip('"')[:120]
    return ""


def _raise_for(answer: dict, accept: frozenset[int] = frozenset()) -> None:
    errcode = answer.get("errcode") or 0
    if errcode and errcode not in accept:
        raise error_for(int(errcode), str(answer.get("errmsg", "")))


def _values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Template data as WeChat wants it: {"keyword1": {"value": "..."}}; plain values are wrapped."""
    return {key: value if isinstance(value, Mapping) else {"value": str(value)} for key, value in data.items()}


def _chunks(items: Iterable[str], size: int) -> Iterable[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class WeChatClient(_APIClient):
    """The Official Account API: customer-service, template, subscription and mass messages, tags, followers."""

    def __init__(
        self, appid: str, secret: str, redis: Redis, *, key_prefix: str = "ywtb:", base_url: str = WECHAT_API,
        session: aiohttp.ClientSession | None = None, timeout: float = 5.0, token_margin: int = 300,
    ):
        super().__init__(base_url, session, timeout)
        self.appid, self._secret = appid, secret
        self._token = SharedToken(
            redis, f"{key_prefix}wechat:token:{appid}", f"{key_prefix}wechat:token-lock:{appid}", self._fetch_token,
            margin=token_margin, lock_ttl=2 * timeout + 2, wait=2 * timeout + 5,
        )

    async def _fetch_token(self, force: bool) -> tuple[str, int]:
        body = {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret, "force_refresh": force}
        answer = await self._request("POST", "/cgi-bin/stable_token", body=body)
        _raise_for(answer)
        log.info("fetched a WeChat access token (force_refresh=%s)", force)
        return str(answer["access_token"]), int(answer["expires_in"])

    # Customer-service messages: only within 48 h of the user's last interaction, a few per interaction.

    async def send_text(self, openid: str, text: str) -> None:
        await self._call("POST", "/cgi-bin/message/custom/send", body={"touser": openid, "msgtype": "text", "text": {"content": text}})

    async def send_menu(self, openid: str, menu: MenuMessage) -> None:
        """A msgmenu: the choices are items the person taps; a tap comes back as their text
        message, with the item's id as `bizmsgmenuid`."""
        await self._call("POST", "/cgi-bin/message/custom/send", body={"touser": openid, "msgtype": "msgmenu", "msgmenu": menu.wire()})

    async def send_reply(self, openid: str, text: str) -> None:
        """One of the bot's replies: with numbered choices, as a msgmenu people can tap; else text."""
        menu = menu_from_text(text)
        if menu is None:
            await self.send_text(openid, text)
        else:
            await self.send_menu(openid, menu)

    async def send_image(self, openid: str, media_id: str) -> None:
        """A picture uploaded with `upload_media("image", …)`, as a customer-service message."""
        await self._call("POST", "/cgi-bin/message/custom/send", body={"touser": openid, "msgtype": "image", "image": {"media_id": media_id}})

    async def send_news(self, openid: str, articles: list[Article | Mapping[str, Any]]) -> None:
        items = [Article.model_validate(a).model_dump() for a in articles]
        await self._call("POST", "/cgi-bin/message/custom/send", body={"touser": openid, "msgtype": "news", "news": {"articles": items}})

    # Template and subscription messages.

    async def send_template(
        self, openid: str, template_id: str, data: Mapping[str, Any], *, url: str | None = None,
        miniprogram: Mapping[str, str] | None = None, client_msg_id: str | None = None,
    ) -> int:
        """Send a template message; returns its msgid. The same client_msg_id for the same user
        within 10 minutes sends nothing new."""
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": _values(data)}
        if url:
            body["url"] = url
        if miniprogram:
            body["miniprogram"] = dict(miniprogram)
        if client_msg_id:
            body["client_msg_id"] = client_msg_id
        answer = await self._call("POST", "/cgi-bin/message/template/send", body=body)
        return int(answer.get("msgid") or 0)

    async def send_subscription(
        self, openid: str, template_id: str, data: Mapping[str, Any], *, page: str | None = None,
        miniprogram: Mapping[str, str] | None = None,
    ) -> None:
        """Send a subscription notification (bizsend) the user has accepted."""
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": _values(data)}
        if page:
            body["page"] = page
        if miniprogram:
            body["miniprogram"] = dict(miniprogram)
        await self._call("POST", "/cgi-bin/message/subscribe/bizsend", body=body)

    # Tags.

    async def create_tag(self, name: str) -> Tag:
        answer = await self._call("POST", "/cgi-bin/tags/create", body={"tag": {"name": name}})
        return Tag.model_validate(answer["tag"])

    async def tags(self) -> list[Tag]:
        answer = await self._call("GET", "/cgi-bin/tags/get")
        return [Tag.model_validate(t) for t in answer.get("tags", [])]

    async def tag_users(self, tag_id: int, openids: Iterable[str]) -> None:
        for chunk in _chunks(openids, TAG_BATCH):
            await self._call("POST", "/cgi-bin/tags/members/batchtagging", body={"openid_list": chunk, "tagid": tag_id})

    async def untag_users(self, tag_id: int, openids: Iterable[str]) -> None:
        for chunk in _chunks(openids, TAG_BATCH):
            await self._call("POST", "/cgi-bin/tags/members/batchuntagging", body={"openid_list": chunk, "tagid": tag_id})

    def tag_members(self, tag_id: int) -> AsyncIterator[str]:
        """Every openid with the tag, fetched a page (10,000) at a time."""
        return self._pages(lambda after: self._call("POST", "/cgi-bin/user/tag/get", body={"tagid": tag_id, "next_openid": after}))

    def followers(self) -> AsyncIterator[str]:
        """Every follower's openid, fetched a page (10,000) at a time."""
        return self._pages(lambda after: self._call("GET", "/cgi-bin/user/get", params={"next_openid": after}))

    @staticmethod
    async def _pages(fetch: Callable[[str], Awaitable[dict]]) -> AsyncIterator[str]:
        after = ""
        while True:
            answer = await fetch(after)
            openids = (answer.get("data") or {}).get("openid") or []
            for openid in openids:
                yield openid
            following = answer.get("next_openid") or ""
            if not openids or not following or following == after:
                return
            after = following

    # Mass send: each user receives at most 4 a month; a clientmsgid makes a retry harmless.

    async def mass_send_to_tag(self, tag_id: int | None, *, clientmsgid: str, text: str | None = None, media_id: str | None = None) -> MassSendResult:
        """Mass-send to everyone with the tag (tag_id=None: to every follower)."""
        scope = {"is_to_all": True} if tag_id is None else {"is_to_all": False, "tag_id": tag_id}
        body = {"filter": scope, **_mass_content(text, media_id), "clientmsgid": clientmsgid}
        return _mass_result(await self._call("POST", "/cgi-bin/message/mass/sendall", body=body, accept=frozenset({45065})))

    async def mass_send(self, openids: list[str], *, clientmsgid: str, text: str | None = None, media_id: str | None = None) -> MassSendResult:
        """Mass-send to a list of 2 to 10,000 openids (WeChat refuses a single one with 40130)."""
        body = {"touser": list(openids), **_mass_content(text, media_id), "clientmsgid": clientmsgid}
        return _mass_result(await self._call("POST", "/cgi-bin/message/mass/send", body=body, accept=frozenset({45065})))


def _mass_content(text: str | None, media_id: str | None) -> dict[str, Any]:
    if (text is None) == (media_id is None):
        raise ValueError("give exactly one of text and media_id")
    if text is not None:
        return {"msgtype": "text", "text": {"content": text}}
    return {"msgtype": "mpnews", "mpnews": {"media_id": media_id}, "send_ignore_reprint": 0}


def _mass_result(answer: dict) -> MassSendResult:
    return MassSendResult(msg_id=int(answer["msg_id"]), msg_data_id=answer.get("msg_data_id"), duplicate=answer.get("errcode") == 45065)


class WeComClient(_APIClient):
    """A WeCom self-built app: its token (per app, 7200 s) and app messages to staff."""

    def __init__(
        self, corpid: str, corpsecret: str, agentid: int, redis: Redis, *, key_prefix: str = "ywtb:",
        base_url: str = WECOM_API, session: aiohttp.ClientSession | None = None, timeout: float = 5.0, token_margin: int = 300,
    ):
        super().__init__(base_url, session, timeout)
        self.corpid, self.agentid, self._secret = corpid, agentid, corpsecret
        self._token = SharedToken(
            redis, f"{key_prefix}wecom:token:{corpid}:{agentid}", f"{key_prefix}wecom:token-lock:{corpid}:{agentid}", self._fetch_token,
            margin=token_margin, lock_ttl=2 * timeout + 2, wait=2 * timeout + 5,
        )

    async def _fetch_token(self, force: bool) -> tuple[str, int]:
        # WeCom has no force refresh: within its lifetime gettoken returns the same token.
        answer = await self._request("GET", "/cgi-bin/gettoken", params={"corpid": self.corpid, "corpsecret": self._secret})
        _raise_for(answer)
        log.info("fetched a WeCom access token for agent %s", self.agentid)
        return str(answer["access_token"]), int(answer["expires_in"])

    async def send_text(self, userids: Iterable[str], text: str, *, safe: bool = False) -> WeComSendResult:
        """Send an app text message to staff (at most 1000 userids). WeCom silently drops messages
        beyond 30 a minute / 1000 an hour per member."""
        body = {"touser": "|".join(userids), "msgtype": "text", "agentid": self.agentid, "text": {"content": text}, "safe": int(safe)}
        answer = await self._call("POST", "/cgi-bin/message/send", body=body)
        invalid = [u for u in str(answer.get("invaliduser") or "").split("|") if u]
        return WeComSendResult(msgid=str(answer.get("msgid") or ""), invalid_users=invalid)

    async def send_image(self, userids: Iterable[str], media_id: str) -> WeComSendResult:
        """An app image message (a picture uploaded with `upload_media("image", …)`) to staff."""
        body = {"touser": "|".join(userids), "msgtype": "image", "agentid": self.agentid, "image": {"media_id": media_id}}
        answer = await self._call("POST", "/cgi-bin/message/send", body=body)
        invalid = [u for u in str(answer.get("invaliduser") or "").split("|") if u]
        return WeComSendResult(msgid=str(answer.get("msgid") or ""), invalid_users=invalid)
