"""Plays the WeChat server: builds signed (and, with an AES key, encrypted) webhook requests and
reads the answers. The console, `python -m bot chat`, the tests and the benchmark all use it, so
they exercise exactly the path real WeChat traffic takes."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import PrpCrypto as WeComPrpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from bot.web.channels.wechat import sha1_signature
from bot.web.channels.xmlsafe import cdata, parse_xml

_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


@dataclass(slots=True)
class SignedRequest:
    path: str  # /wechat?signature=...
    body: bytes


@dataclass(slots=True)
class Answer:
    status: int
    body: str
    text: str | None  # the reply's Content, when it was a text reply
    fields: dict | None


class WeChatServerPeer:
    def __init__(self, token: str, appid: str = "", aes_key: str = "", account: str = "gh_ywtb_dev"):
        self.token = token
        self.appid = appid
        self.account = account
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None

    # Messages ---------------------------------------------------------------------------

    def text(self, user: str, content: str, msg_id: int | None = None, created: int | None = None) -> str:
        return self._xml(user, "text", created, Content=content, MsgId=str(msg_id or next(_msg_ids)))

    def event(self, user: str, event: str, key: str = "", created: int | None = None) -> str:
        fields = {"Event": event}
        if key:
            fields["EventKey"] = key
        return self._xml(user, "event", created, **fields)

    def message(self, user: str, msg_type: str, msg_id: int | None = None, **fields: str) -> str:
        return self._xml(user, msg_type, None, MsgId=str(msg_id or next(_msg_ids)), **fields)

    def _xml(self, user: str, msg_type: str, created: int | None, **fields: str) -> str:
        parts = [
            f"<ToUserName><![CDATA[{cdata(self.account)}]]></ToUserName>",
            f"<FromUserName><![CDATA[{cdata(user)}]]></FromUserName>",
            f"<CreateTime>{created or int(time.time())}</CreateTime>",
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>",
        ]
        for name, value in fields.items():
            parts.append(f"<{name}><![CDATA[{cdata(value)}]]></{name}>")
        return "<xml>" + "".join(parts) + "</xml>"

    # Signing ----------------------------------------------------------------------------

    def sign(self, xml: str, encrypt: bool | None = None, timestamp: int | None = None, nonce: str | None = None, path: str = "/wechat") -> SignedRequest:
        """Sign like WeChat does; encrypt (safe mode) when asked, or by default when we have a key."""
        timestamp_s = str(timestamp or int(time.time()))
        nonce = nonce or secrets.token_hex(8)
        query = {"signature": sha1_signature(self.token, timestamp_s, nonce), "timestamp": timestamp_s, "nonce": nonce, "openid": "-"}
        encrypt = self.crypto is not None if encrypt is None else encrypt
        if encrypt:
            envelope = parse_xml(self.crypto.encrypt_message(xml, nonce, timestamp_s))
            encrypted = envelope["Encrypt"]
            query.update(encrypt_type="aes", msg_signature=sha1_signature(self.token, timestamp_s, nonce, encrypted))
            body = f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        else:
            body = xml
        return SignedRequest(f"{path}?{urlencode(query)}", body.encode())

    def verification(self, echostr: str, timestamp: int | None = None, nonce: str | None = None) -> str:
        timestamp_s = str(timestamp or int(time.time()))
        nonce = nonce or secrets.token_hex(8)
        return "/wechat?" + urlencode({"signature": sha1_signature(self.token, timestamp_s, nonce), "timestamp": timestamp_s, "nonce": nonce, "echostr": echostr})

    # Answers ----------------------------------------------------------------------------

    def read(self, status: int, body: str) -> Answer:
        """Decrypt (when encrypted) and parse the bot's answer."""
        if status != 200 or not body.startswith("<xml"):
            return Answer(status, body, None, None)
        fields = parse_xml(body)
        if "Encrypt" in fields and self.crypto is not None:
            fields = parse_xml(self.crypto.decrypt_message(body, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]))
        text = fields.get("Content") if fields.get("MsgType") == "text" else None
        return Answer(status, body, text, fields)


class WeComServerPeer:
    """Plays the WeCom server for the /wecom callback of a self-built app: messages are always
    encrypted, with the corp id as ReceiveId, and signed over the ciphertext."""

    def __init__(self, token: str, aes_key: str, corpid: str, agentid: int = 1000002):
        self.token, self.corpid, self.agentid = token, corpid, agentid
        self.crypto = WeComCrypto(token, aes_key, corpid)

    def text(self, userid: str, content: str, msg_id: int | None = None, created: int | None = None) -> str:
        return self._xml(userid, "text", created, Content=content, MsgId=str(msg_id or next(_msg_ids)))

    def event(self, userid: str, event: str, key: str = "", created: int | None = None) -> str:
        fields = {"Event": event}
        if key:
            fields["EventKey"] = key
        return self._xml(userid, "event", created, **fields)

    def message(self, userid: str, msg_type: str, msg_id: int | None = None, **fields: str) -> str:
        return self._xml(userid, msg_type, None, MsgId=str(msg_id or next(_msg_ids)), **fields)

    def _xml(self, userid: str, msg_type: str, created: int | None, **fields: str) -> str:
        parts = [
            f"<ToUserName><![CDATA[{cdata(self.corpid)}]]></ToUserName>",
            f"<FromUserName><![CDATA[{cdata(userid)}]]></FromUserName>",
            f"<CreateTime>{created or int(time.time())}</CreateTime>",
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>",
        ]
        for name, value in fields.items():
            parts.append(f"<{name}><![CDATA[{cdata(value)}]]></{name}>")
        parts.append(f"<AgentID>{self.agentid}</AgentID>")
        return "<xml>" + "".join(parts) + "</xml>"

    def sign(self, xml: str, timestamp: int | None = None, nonce: str | None = None, path: str = "/wecom") -> SignedRequest:
        timestamp_s = str(timestamp or int(time.time()))
        nonce = nonce or secrets.token_hex(8)
        encrypted = parse_xml(self.crypto.encrypt_message(xml, nonce, timestamp_s))["Encrypt"]
        query = {"msg_signature": sha1_signature(self.token, timestamp_s, nonce, encrypted), "timestamp": timestamp_s, "nonce": nonce}
        body = (f"<xml><ToUserName><![CDATA[{self.corpid}]]></ToUserName><AgentID><![CDATA[{self.agentid}]]></AgentID>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        return SignedRequest(f"{path}?{urlencode(query)}", body.encode())

    def verification(self, echo: str, timestamp: int | None = None, nonce: str | None = None) -> str:
        """The URL check: `echo` encrypted as echostr; the bot must answer `echo`."""
        timestamp_s = str(timestamp or int(time.time()))
        nonce = nonce or secrets.token_hex(8)
        echostr = WeComPrpCrypto(self.crypto.key).encrypt(echo, self.corpid)
        echostr = echostr.decode() if isinstance(echostr, bytes) else echostr
        signature = sha1_signature(self.token, timestamp_s, nonce, echostr)
        return "/wecom?" + urlencode({"msg_signature": signature, "timestamp": timestamp_s, "nonce": nonce, "echostr": echostr})

    def read(self, status: int, body: str) -> Answer:
        if status != 200 or not body.startswith("<xml"):
            return Answer(status, body, None, None)
        envelope = parse_xml(body)
        fields = parse_xml(self.crypto.decrypt_message(body, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]))
        text = fields.get("Content") if fields.get("MsgType") == "text" else None
        return Answer(status, body, text, fields)
