"""The WeCom (企业微信) self-built app's callback at /wecom, for staff.

GET is the URL check: `msg_signature` over the encrypted `echostr`, which we decrypt and answer
in plain text. POST carries an encrypted message: the signature (constant time) over its
`Encrypt` field, the timestamp window, AES with the corp id as ReceiveId (a message for another
corp is refused), then the same dedup, nonce, lock and deadline as /wechat through a dispatcher
of its own (keys under `<prefix>wecom:`) whose conversation is the staff desk.

Only WeCom users listed in settings as staff get further than a polite refusal, and each refusal
is in the audit log.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from redis.exceptions import RedisError
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.replies import TextReply

from bot.audit import Audit
from bot.channels.wechat import _NONCE, _TIMESTAMP, Rejected, dispatch, encrypted_field, sha1_signature, same, to_incoming
from bot.channels.xmlsafe import MalformedXML, cdata, parse_xml
from bot.dispatcher import Dispatcher, Outcome, message_key
from bot.logs import user_ref
from bot.settings import Settings
from bot.staff import Staff
from dialogs.engine import Incoming
from integrations.wechat.errors import WeChatError

log = logging.getLogger(__name__)

MAX_ECHOSTR = 1024


class WeComChannel:
    def __init__(self, settings: Settings, dispatcher: Dispatcher, staff: Staff, audit: Audit):
        self.settings = settings
        self.dispatcher = dispatcher
        self.staff = staff
        self.audit = audit
        self.token = settings.wecom_token.get_secret_value()
        self.corpid = settings.wecom_corpid
        aes_key = settings.wecom_aes_key.get_secret_value()
        configured = bool(self.token and self.corpid and aes_key)
        self.crypto = WeChatCrypto(self.token, aes_key, self.corpid) if configured else None
        self.aes = PrpCrypto(self.crypto.key) if configured else None
        self._refusal = dispatcher.conversation.services.render("staff/not_staff.j2")

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/wecom", self.verify), web.post("/wecom", self.receive)]

    # GET: the WeCom admin page checks that the URL is ours --------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        try:
            self._configured()
            echostr = request.query.get("echostr", "")
            if not echostr or len(echostr) > MAX_ECHOSTR:
                raise Rejected(400, "missing or oversized echostr")
            self._check_signature(request.query, echostr)
            plain = self._decrypt(echostr)
        except Rejected as exc:
            return _reject(exc)
        return web.Response(text=plain, content_type="text/plain")  # no quotes, BOM or newline

    # POST: a message or event from a staff member ------------------------------------------

    async def receive(self, request: web.Request) -> web.Response:
        try:
            self._configured()
            body = await request.read()  # bounded by the app's client_max_size (413 beyond)
            encrypt = encrypted_field(body)
            timestamp, nonce = self._check_signature(request.query, encrypt)
            try:
                incoming = to_incoming(parse_xml(self._decrypt(encrypt)))
            except MalformedXML as exc:
                raise Rejected(400, f"malformed message: {exc}") from exc
            incoming.channel = "wecom"
            if self.staff.by_userid(incoming.user) is None:
                return await self._refuse(incoming, nonce)
            outcome = await dispatch(self.dispatcher, incoming, body, timestamp, nonce, self.settings.timestamp_window_seconds)
        except Rejected as exc:
            return _reject(exc)
        return self._answer(outcome, incoming, nonce)

    def _configured(self) -> None:
        if self.crypto is None:
            raise Rejected(503, "the WeCom app is not configured (wecom_corpid, wecom_token, wecom_aes_key)")

    def _check_signature(self, query, encrypted: str) -> tuple[str, str]:
        signature, timestamp, nonce = query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", "")
        if not (signature and timestamp and nonce):
            raise Rejected(403, "missing msg_signature, timestamp or nonce")
        if not _NONCE.fullmatch(nonce) or not _TIMESTAMP.fullmatch(timestamp):
            raise Rejected(403, "bad timestamp or nonce")
        if not same(sha1_signature(self.token, timestamp, nonce, encrypted), signature.lower()):
            raise Rejected(403, "bad msg_signature")
        if abs(time.time() - int(timestamp)) > self.settings.timestamp_window_seconds:
            raise Rejected(403, "stale timestamp")
        return timestamp, nonce

    def _decrypt(self, encrypted: str) -> str:
        try:
            return self.aes.decrypt(encrypted, self.corpid)
        except Exception as exc:  # wechatpy raises anything from binascii / struct errors to its own
            if type(exc).__name__ == "InvalidCorpIdException":
                raise Rejected(403, "message is for another corp id (ReceiveId)") from exc
            raise Rejected(400, "cannot decrypt message") from exc

    async def _refuse(self, incoming: Incoming, nonce: str) -> web.Response:
        """Anyone not listed as staff: a polite refusal and nothing else (no session, no
        dialog), each new message in the audit log (WeCom's retries are not recorded again)."""
        if incoming.kind not in ("view", "notice", "unsubscribe"):
            try:
                key = self.dispatcher.keys.dedup(incoming.user, message_key(incoming))
                if await self.dispatcher.redis.set(key, "refused", nx=True, ex=self.settings.dedup_ttl_seconds):
                    await self.audit.record(incoming.user, "wecom.message", "", outcome="refused", detail={"reason": "not staff", "kind": incoming.kind})
            except RedisError as exc:
                log.warning("could not record a refused WeCom user: %s", exc)
            log.info("wecom %s from non-staff %s refused", incoming.kind, user_ref(incoming.user))
            return self._reply(incoming, self._refusal, nonce)
        return web.Response(text="", content_type="text/plain")

    def _answer(self, outcome: Outcome, incoming: Incoming, nonce: str) -> web.Response:
        log.info("wecom %s from %s: %s", incoming.kind, user_ref(incoming.user), outcome.how)
        if not outcome.texts:
            return web.Response(text="", content_type="text/plain")  # WeCom's "no passive reply"
        return self._reply(incoming, outcome.texts[0], nonce)

    def _reply(self, incoming: Incoming, text: str, nonce: str) -> web.Response:
        reply = TextReply(source=cdata(self.corpid), target=cdata(incoming.user), content=cdata(text), time=int(time.time()))
        xml = self.crypto.encrypt_message(reply.render(), nonce, str(int(time.time())))
        return web.Response(text=xml, content_type="application/xml")


class WeComPusher:
    """Late and long replies to staff, as WeCom app messages (bot.outbox.Pusher)."""

    def __init__(self, client):
        self.client = client

    async def push(self, incoming: Incoming, texts: list[str]) -> list[str]:
        for sent, text in enumerate(texts):
            try:
                await self.client.send_text([incoming.user], text)
            except WeChatError as error:
                log.warning("could not push %d message(s) to staff %s: %s", len(texts) - sent, user_ref(incoming.user), type(error).__name__)
                return texts[sent:]
        return []


def _reject(exc: Rejected) -> web.Response:
    log.warning("wecom request rejected: %s", exc.reason)
    return web.Response(status=exc.status, text=exc.reason, content_type="text/plain")
