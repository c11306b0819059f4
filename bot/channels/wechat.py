"""The Official Account webhook at /wechat: plaintext, compatible and safe (AES) modes.

Every request is checked before any work: the signature (constant time), the timestamp window,
the body size, and (in the dispatcher) the nonce. Anything wrong gets a clear 4xx; nothing that
a request carries can produce a 500 or a traceback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time

from aiohttp import web
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.replies import TextReply

from bot.channels.xmlsafe import MalformedXML, cdata, parse_xml
from bot.dispatcher import Dispatcher, Outcome, Replayed
from bot.keys import USER_ID
from bot.logs import user_ref
from bot.settings import Settings
from dialogs.engine import MEDIA_KINDS, Incoming

log = logging.getLogger(__name__)

_NONCE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII only: str.isdigit() also accepts "²", which int() refuses
_MSG_ID = re.compile(r"[0-9]{1,24}")
_EVENTS = {"subscribe": "subscribe", "unsubscribe": "unsubscribe", "scan": "scan", "click": "click", "view": "view"}
MAX_TEXT = 4000  # characters of one text message we look at (WeChat caps them far lower)


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class WeChatChannel:
    def __init__(self, settings: Settings, dispatcher: Dispatcher):
        self.settings = settings
        self.dispatcher = dispatcher
        self.token = settings.wechat_token.get_secret_value()
        self.appid = settings.wechat_appid
        aes_key = settings.wechat_aes_key.get_secret_value()
        self.crypto = WeChatCrypto(self.token, aes_key, self.appid) if aes_key else None
        self.aes = PrpCrypto(base64.b64decode(aes_key + "=")) if aes_key else None
        self.safe_only = settings.wechat_mode == "safe"

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/wechat", self.verify), web.post("/wechat", self.receive)]

    # GET: the admin page checks that the URL is ours --------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        try:
            self._check_signature(request.query)
        except Rejected as exc:
            return _reject(exc)
        return web.Response(text=request.query.get("echostr", ""), content_type="text/plain")

    # POST: a message or event -------------------------------------------------------------

    async def receive(self, request: web.Request) -> web.Response:
        try:
            query = request.query
            timestamp, nonce = self._check_signature(query)
            body = await request.read()  # bounded by the app's client_max_size (413 beyond)
            encrypted = query.get("encrypt_type", "raw").lower() == "aes"
            if encrypted:
                xml = self._decrypt(body, query, timestamp, nonce)
            elif self.safe_only:
                raise Rejected(403, "plaintext messages are refused: this account runs in safe mode")
            else:
                xml = body
            try:
                incoming = to_incoming(parse_xml(xml))
            except MalformedXML as exc:
                raise Rejected(400, f"malformed message: {exc}") from exc
            digest = hashlib.sha256(body).hexdigest()[:32]
            try:
                outcome = await self.dispatcher.receive(incoming, self.dispatcher.keys.nonce(timestamp, nonce), digest)
            except Replayed:
                raise Rejected(403, "replayed request") from None
        except Rejected as exc:
            return _reject(exc)
        return self._answer(outcome, incoming, encrypted, nonce)

    def _check_signature(self, query) -> tuple[str, str]:
        signature, timestamp, nonce = query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", "")
        if not (signature and timestamp and nonce):
            raise Rejected(403, "missing signature, timestamp or nonce")
        if not _NONCE.fullmatch(nonce) or not _TIMESTAMP.fullmatch(timestamp):
            raise Rejected(403, "bad timestamp or nonce")
        if not same(sha1_signature(self.token, timestamp, nonce), signature.lower()):
            raise Rejected(403, "bad signature")
        if abs(time.time() - int(timestamp)) > self.settings.timestamp_window_seconds:
            raise Rejected(403, "stale timestamp")
        return timestamp, nonce

    def _decrypt(self, body: bytes, query, timestamp: str, nonce: str) -> str:
        if self.aes is None:
            raise Rejected(400, "encrypted message but no AES key is configured")
        encrypt = encrypted_field(body)
        if not same(sha1_signature(self.token, timestamp, nonce, encrypt), query.get("msg_signature", "").lower()):
            raise Rejected(403, "bad msg_signature")
        try:
            return self.aes.decrypt(encrypt, self.appid)
        except Exception as exc:  # wechatpy raises anything from struct.error to its own AppId error
            if type(exc).__name__ == "InvalidAppIdException":
                raise Rejected(403, "message is for another AppID") from exc
            raise Rejected(400, "cannot decrypt message") from exc

    def _answer(self, outcome: Outcome, incoming: Incoming, encrypted: bool, nonce: str) -> web.Response:
        log.info("%s %s from %s: %s", incoming.channel, incoming.kind, user_ref(incoming.user), outcome.how)
        if not outcome.texts:
            return web.Response(text="success", content_type="text/plain")
        xml = render_text_reply(incoming, outcome.texts[0])
        if encrypted:
            xml = self.crypto.encrypt_message(xml, nonce, str(int(time.time())))
        return web.Response(text=xml, content_type="application/xml")


def encrypted_field(body: bytes) -> str:
    """The `Encrypt` field of a safe-mode envelope (WeChat's and WeCom's are the same), or a 400."""
    try:
        envelope = parse_xml(body)
    except MalformedXML as exc:
        raise Rejected(400, f"malformed envelope: {exc}") from exc
    encrypt = envelope.get("Encrypt")
    if not isinstance(encrypt, str) or not encrypt:
        raise Rejected(400, "no Encrypt field")
    return encrypt


def render_text_reply(incoming: Incoming, text: str) -> str:
    reply = TextReply(source=cdata(incoming.extra.get("account", "")), target=cdata(incoming.user), content=cdata(text), time=int(time.time()))
    return reply.render()


def to_incoming(msg: dict) -> Incoming:
    """Map a WeChat message dict to a channel-neutral `Incoming`, or raise MalformedXML."""
    user, account, mtype = msg.get("FromUserName"), msg.get("ToUserName") or "", msg.get("MsgType")
    if not isinstance(user, str) or not USER_ID.fullmatch(user):
        raise MalformedXML("missing or invalid FromUserName")
    if not isinstance(mtype, str) or not mtype:
        raise MalformedXML("missing MsgType")
    if not isinstance(account, str):
        raise MalformedXML("invalid ToUserName")
    created = msg.get("CreateTime") or "0"
    created = int(created) if isinstance(created, str) and _TIMESTAMP.fullmatch(created) else 0
    msg_id = msg.get("MsgId") or ""
    msg_id = msg_id if isinstance(msg_id, str) and _MSG_ID.fullmatch(msg_id) else ""
    incoming = Incoming(channel="wechat", user=user, kind="unknown", msg_id=msg_id, created=created, extra={"account": account})
    mtype = mtype.lower()
    if mtype == "text":
        incoming.kind, incoming.text = "text", _text(msg.get("Content"))
    elif mtype == "event":
        event = _text(msg.get("Event")).lower()
        key = _text(msg.get("EventKey"))
        incoming.kind = _EVENTS.get(event, "notice")
        incoming.text = key
        if event == "subscribe" and key.startswith("qrscene_"):
            incoming.extra["scene"], incoming.text = key[len("qrscene_"):], ""
    elif mtype in MEDIA_KINDS:
        incoming.kind = mtype
        if mtype == "location":
            incoming.extra.update(lat=_text(msg.get("Location_X")), lng=_text(msg.get("Location_Y")), label=_text(msg.get("Label")))
    return incoming


def _text(value: object) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def _reject(exc: Rejected) -> web.Response:
    log.warning("wechat request rejected: %s", exc.reason)
    return web.Response(status=exc.status, text=exc.reason, content_type="text/plain")
