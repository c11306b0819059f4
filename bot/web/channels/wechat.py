"""The Official Account webhook at /wechat: plaintext, compatible and safe (AES) modes.

Every request is checked before any work: the signature (constant time), the timestamp window,
the body size, and (in the dispatcher) the nonce. Anything wrong gets a clear 4xx; nothing that
a request carries can produce a 500 or a traceback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import time
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pydantic import ValidationError
from redis.exceptions import RedisError

from bot.web.channels.xmlsafe import MalformedXML, cdata, parse_xml
from bot.turn.dispatcher import Dispatcher, Outcome, Replayed
from bot.stores import Nonce
from bot.keys import USER_ID
from bot.logs import user_ref
from bot.settings import Settings
from dialogs.engine import MEDIA_KINDS, Incoming
from integrations.wechat.models import MassSendJobFinished

log = logging.getLogger(__name__)

_NONCE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII only: str.isdigit() also accepts "²", which int() refuses
_MSG_ID = re.compile(r"[0-9]{1,24}")
_MENU_ID = re.compile(r"\d{1,2}")  # the ids of the bot's own menu items: choice numbers
_MEDIA_ID = re.compile(r"[A-Za-z0-9_\-@.=]{1,256}")  # WeChat's and WeCom's media ids: URL-safe base64 and the like
_EVENTS = {"subscribe": "subscribe", "unsubscribe": "unsubscribe", "scan": "scan", "click": "click", "view": "view"}
MAX_TEXT = 4000  # characters of one text message we look at (WeChat caps them far lower)
MASS_SEND_FINISHED = "mass_send_finished"  # WeChat's report on a mass send: not a person's message
_MASS_REPORT_FIELDS = ("MsgID", "Status", "TotalCount", "FilterCount", "SentCount", "ErrorCount")


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
        self.aes = MessageCipher(aes_key, self.appid) if aes_key else None
        self.safe_only = settings.wechat_mode == "safe"
        self.window = settings.timestamp_window_seconds
        self.max_body = settings.max_body_bytes
        self.clock = time.time  # what the timestamp window is measured against
        self.mass_sends: Any = None  # bot.services.broadcasts.Broadcasts, once the app has started: takes WeChat's mass-send reports

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
            if incoming.kind == MASS_SEND_FINISHED:
                return await self._mass_send_finished(incoming, timestamp, nonce, hashlib.sha256(body).hexdigest()[:32])
            outcome = await dispatch(self.dispatcher, incoming, body, timestamp, nonce)
        except Rejected as exc:
            return _reject(exc)
        return self._answer(outcome, incoming, encrypted, nonce)

    async def _mass_send_finished(self, incoming: Incoming, timestamp: str, nonce: str, digest: str) -> web.Response:
        """WeChat's report on a mass send goes to the broadcast it belongs to
        (bot.services.broadcasts), not to a conversation. Its nonce is checked as a message's is
        (a captured plaintext query string must not carry made-up figures); WeChat's retry of
        the same body is recorded once. Redis trouble answers 503, so WeChat tries again."""
        if self.mass_sends is None:
            return web.Response(text="success", content_type="text/plain")
        try:
            if not await self.dispatcher.store.remember_nonce(Nonce(int(timestamp), nonce, digest)):
                return _reject(Rejected(403, "replayed request"))
            await self.mass_sends.job_finished(incoming.extra["report"])
        except RedisError as exc:
            log.warning("mass-send report %s not recorded: %s", incoming.extra["report"].msg_id, type(exc).__name__)
            return web.Response(status=503, text="temporarily unavailable", content_type="text/plain")
        return web.Response(text="success", content_type="text/plain")

    def _check_signature(self, query) -> tuple[str, str]:
        signature, timestamp, nonce = query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", "")
        if not (signature and timestamp and nonce):
            raise Rejected(403, "missing signature, timestamp or nonce")
        if not _NONCE.fullmatch(nonce) or not _TIMESTAMP.fullmatch(timestamp):
            raise Rejected(403, "bad timestamp or nonce")
        if not same(sha1_signature(self.token, timestamp, nonce), signature.lower()):
            raise Rejected(403, "bad signature")
        if abs(self.clock() - int(timestamp)) > self.window:
            raise Rejected(403, "stale timestamp")
        return timestamp, nonce

    def _decrypt(self, body: bytes, query, timestamp: str, nonce: str) -> str:
        if self.aes is None:
            raise Rejected(400, "encrypted message but no AES key is configured")
        encrypt = encrypted_field(body)
        if not same(sha1_signature(self.token, timestamp, nonce, encrypt), query.get("msg_signature", "").lower()):
            raise Rejected(403, "bad msg_signature")
        try:
            return self.aes.decrypt(encrypt)
        except ForeignAppId as exc:
            raise Rejected(403, "message is for another AppID") from exc
        except Exception as exc:  # anything from binascii.Error to IndexError, as with wechatpy
            raise Rejected(400, "cannot decrypt message") from exc

    def _answer(self, outcome: Outcome, incoming: Incoming, encrypted: bool, nonce: str) -> web.Response:
        # A message answered in time is counted by /metrics and logged at DEBUG only (a log line
        # per message costs ~23 µs of JSON and redaction); late, busy, limited, retried ones at INFO.
        level = logging.DEBUG if outcome.how == "passive" else logging.INFO
        if log.isEnabledFor(level):
            log.log(level, "%s %s from %s: %s", incoming.channel, incoming.kind, user_ref(incoming.user), outcome.how)
        if not outcome.texts:
            return web.Response(text="success", content_type="text/plain")
        xml = render_text_reply(incoming, outcome.texts[0])
        if encrypted:
            xml = self.aes.encrypt_message(xml, self.token, nonce, str(int(time.time())))
        return web.Response(text=xml, content_type="application/xml")


async def dispatch(dispatcher: Dispatcher, incoming: Incoming, body: bytes, timestamp: str, nonce: str) -> Outcome:
    """The dispatcher's outcome for a verified message (WeChat's and WeCom's alike): the nonce
    is remembered with a digest of the body, and a replayed request is a 403."""
    try:
        return await dispatcher.receive(incoming, Nonce(int(timestamp), nonce, hashlib.sha256(body).hexdigest()[:32]))
    except Replayed:
        raise Rejected(403, "replayed request") from None


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
    """wechatpy's TextReply(...).render(), byte for byte (tests/test_wechat_reference.py), as one format."""
    return _TEXT_REPLY % (cdata(text), cdata(incoming.extra.get("account", "")), cdata(incoming.user), int(time.time()))


_TEXT_REPLY = (
    "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[%s]]></Content>\n<FromUserName><![CDATA[%s]]></FromUserName>\n"
    "<ToUserName><![CDATA[%s]]></ToUserName>\n<CreateTime>%d</CreateTime>\n</xml>"
)
_ENVELOPE = (
    "<xml>\n<Encrypt><![CDATA[%s]]></Encrypt>\n<MsgSignature><![CDATA[%s]]></MsgSignature>\n<TimeStamp>%s</TimeStamp>\n"
    "<Nonce><![CDATA[%s]]></Nonce>\n</xml>"
)


class ForeignAppId(Exception):
    """The message decrypted, but it was sealed for another AppID."""


class MessageCipher:
    """WeChat's message encryption (AES-256-CBC, IV = key[:16], PKCS#7 to 32 bytes, plaintext
    framed as 16 random bytes, a 4-byte big-endian length, the XML, the AppID), as wechatpy's
    PrpCrypto and WeChatCrypto do it, with the cipher built once instead of on every message.
    wechatpy stays the reference: tests/test_wechat_reference.py round-trips against it both ways and
    checks that garbage is refused as it refuses it."""

    def __init__(self, encoding_aes_key: str, appid: str):
        key = base64.b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise ValueError("the AES key must be 43 characters of base64 (32 bytes)")
        self.cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))
        self.appid, self._appid = appid, appid.encode()

    def decrypt(self, encrypt: str) -> str:
        """The XML inside a base64 `Encrypt` field; ForeignAppId, or any other exception for garbage."""
        decryptor = self.cipher.decryptor()
        plain = decryptor.update(binascii.a2b_base64(encrypt.encode())) + decryptor.finalize()  # = b64decode: non-base64 skipped
        # As wechatpy: the pad length is the last byte, unchecked; a short frame is an error.
        content = plain[16:-plain[-1]]
        if len(content) < 4:
            raise ValueError("frame too short")
        length = int.from_bytes(content[:4], "big") + 4
        xml, appid = content[4:length].decode(), content[length:].decode()
        if appid != self.appid:
            raise ForeignAppId()
        return xml

    def encrypt(self, xml: str) -> str:
        data = xml.encode()
        framed = os.urandom(8).hex().encode() + len(data).to_bytes(4, "big") + data + self._appid
        pad = 32 - len(framed) % 32
        encryptor = self.cipher.encryptor()
        sealed = encryptor.update(framed + bytes((pad,)) * pad) + encryptor.finalize()
        return binascii.b2a_base64(sealed, newline=False).decode()  # = base64.b64encode, without its wrapper

    def encrypt_message(self, xml: str, token: str, nonce: str, timestamp: str) -> str:
        """wechatpy's WeChatCrypto.encrypt_message: the encrypted, signed reply envelope."""
        encrypt = self.encrypt(xml)
        return _ENVELOPE % (encrypt, sha1_signature(token, timestamp, nonce, encrypt), timestamp, nonce)


def to_incoming(msg: dict) -> Incoming:
    """Map a WeChat message dict to a channel-neutral `Incoming`, or raise MalformedXML."""
    user, account, mtype = msg.get("FromUserName"), msg.get("ToUserName") or "", msg.get("MsgType")
    if not isinstance(user, str) or not USER_ID.fullmatch(user):
        raise MalformedXML("missing or invalid FromUserName")
    if not isinstance(mtype, str) or not mtype:
        raise MalformedXML("missing MsgType")
    if not isinstance(account, str):
        raise MalformedXML("invalid ToUserName")
    created, msg_id = _text(msg.get("CreateTime")), _text(msg.get("MsgId"))
    incoming = Incoming(
        channel="wechat", user=user, kind="unknown",
        msg_id=msg_id if _MSG_ID.fullmatch(msg_id) else "",
        created=int(created) if _TIMESTAMP.fullmatch(created) else 0,
        extra={"account": account},
    )
    mtype = mtype.lower()
    if mtype == "text":
        incoming.kind, incoming.text = "text", _text(msg.get("Content"))
        choice = _text(msg.get("bizmsgmenuid"))
        if choice and _MENU_ID.fullmatch(choice):
            # A tap on a msgmenu item (WeChatClient.send_reply): the item's id is the choice's
            # number, the answer the person would have typed; the label stays in `extra`.
            incoming.extra["menu_label"], incoming.text = incoming.text, choice
        return incoming
    if mtype == "event":
        event = _text(msg.get("Event")).lower()
        key = _text(msg.get("EventKey"))
        incoming.kind = _EVENTS.get(event, "notice")
        incoming.text = key
        if event == "masssendjobfinish":
            try:
                incoming.extra["report"] = MassSendJobFinished.model_validate({k: msg.get(k) for k in _MASS_REPORT_FIELDS})
            except ValidationError as exc:
                raise MalformedXML(f"malformed mass-send report: {exc.errors()[0]['loc'][0]}") from None
            incoming.kind = MASS_SEND_FINISHED
        if event == "subscribe" and key.startswith("qrscene_"):
            incoming.extra["scene"], incoming.text = key[len("qrscene_"):], ""
    elif mtype == "voice" and _heard_words(heard := _text(msg.get("Recognition")).strip()):
        # Speech recognition is on and heard words: the message IS that text, everywhere (the
        # same understanding, dialogs and steps as typed words); the conversation says first
        # what it understood (`Incoming.heard`). Without them (or only punctuation: "。") it stays
        # a voice message.
        incoming.kind, incoming.text = "text", heard
        incoming.extra["heard"] = True
    elif mtype in MEDIA_KINDS:
        incoming.kind = mtype
        if mtype == "location":
            incoming.extra.update(lat=_text(msg.get("Location_X")), lng=_text(msg.get("Location_Y")), label=_text(msg.get("Label")))
        media_id = _text(msg.get("MediaId"))
        if media_id and _MEDIA_ID.fullmatch(media_id):  # a photo, file or voice the bot may fetch (media/get)
            incoming.extra["media_id"] = media_id
            name = _text(msg.get("FileName") or msg.get("Title"))
            if name:
                incoming.extra["filename"] = name[:120]
    return incoming


def _heard_words(heard: str) -> bool:
    """Whether speech recognition heard words, not just punctuation ("。")."""
    return any(ch.isalnum() for ch in heard)


def _text(value: object) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def _reject(exc: Rejected) -> web.Response:
    log.warning("wechat request rejected: %s", exc.reason)
    return web.Response(status=exc.status, text=exc.reason, content_type="text/plain")
