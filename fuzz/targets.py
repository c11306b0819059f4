"""The fuzz targets, shared by the atheris harnesses. Each takes bytes and raises only when it
found a bug: an exception that is not one of our own refusals, or a broken property."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from unittest import mock

from bot.web.channels.wechat import Rejected, WeChatChannel, render_text_reply, sha1_signature, to_incoming
from bot.web.channels.xmlsafe import MalformedXML, clean_text, parse_xml
from bot.settings import load_settings
from dialogs.engine import Incoming

TOKEN, APPID, AES_KEY = "t0ken", "wx1234567890abcdef", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CHANNEL = WeChatChannel(load_settings(env="dev", wechat_token=TOKEN, wechat_appid=APPID, wechat_aes_key=AES_KEY, redis_url="redis://127.0.0.1:1/0"), None)


def xml_message(data: bytes) -> None:
    """Any body: a message, or MalformedXML."""
    try:
        incoming = to_incoming(parse_xml(data))
    except MalformedXML:
        return
    assert incoming.user and isinstance(incoming.created, int)


def aes_envelope(data: bytes) -> None:
    """Any signed Encrypt field (as text, and as the base64 of the bytes): decrypted or Rejected."""
    timestamp, nonce = str(int(time.time())), "n0nce"
    for encrypt in (data.decode("utf-8", "replace"), base64.b64encode(data).decode()):
        query = {"msg_signature": sha1_signature(TOKEN, timestamp, nonce, encrypt)}
        body = b"<xml><Encrypt><![CDATA[" + encrypt.replace("]]>", "").encode() + b"]]></Encrypt></xml>"
        try:
            CHANNEL._decrypt(body, query, timestamp, nonce)
        except Rejected:
            pass


def reply_text(data: bytes) -> None:
    """Any text we echo back is one well-formed text reply with that text in it."""
    import xmltodict

    text = data.decode("utf-8", "replace")
    xml = render_text_reply(Incoming(channel="wechat", user="oFuzz", kind="text", extra={"account": "gh"}), text)
    reply = xmltodict.parse(xml)["xml"]
    assert reply["MsgType"] == "text" and reply["ToUserName"] == "oFuzz"
    want = clean_text(text).replace("\r\n", "\n").replace("\r", "\n").strip()
    assert (reply["Content"] or "").replace("\r\n", "\n").replace("\r", "\n").strip() == want


_LOOP = asyncio.new_event_loop()
_RECEIVER = None


def case_event(data: bytes) -> None:
    """Any signed body at /platform/events: 202/200 queued, 400 malformed, 503 without Redis."""
    _LOOP.run_until_complete(_post_event(data))


async def _post_event(data: bytes) -> None:
    from aiohttp.streams import StreamReader
    from aiohttp.test_utils import make_mocked_request

    from integrations.platform.events import sign_event

    global _RECEIVER
    if _RECEIVER is None:  # built once, on the fuzzing loop
        from bot.web.events import CaseEventReceiver
        from bot.keys import Keys
        from bot.stores.client import connect

        url = os.environ.get("FUZZ_REDIS_URL", "redis://127.0.0.1:1/0")  # unset: Redis "down" (503); set: keys under ywtbfuzz:
        settings = load_settings(env="dev", platform_events_secret="fuzz", redis_url=url)
        _RECEIVER = CaseEventReceiver(settings, connect(url, wait=0.2), Keys("ywtbfuzz:"), max_stream=1000)
    ts = str(int(time.time()))
    payload = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(data)
    payload.feed_eof()
    headers = {"X-Ywtb-Timestamp": ts, "X-Ywtb-Signature": sign_event("fuzz", ts, data)}
    response = await _RECEIVER.receive(make_mocked_request("POST", "/platform/events", headers=headers, payload=payload))
    assert response.status in (200, 202, 400, 503), response.status
    json.loads(response.text)


TARGETS = {"xml_message": xml_message, "aes_envelope": aes_envelope, "reply_text": reply_text, "case_event": case_event}
