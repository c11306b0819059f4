"""The /wechat webhook against bad input and attackers, over real HTTP and a real Redis.

Each test asserts what an operator would notice: the HTTP status, the reply body, and that a
refused request left nothing behind (no session, no dedup claim). Two things hold for every
request in this file and are checked by `send` and the `no_internal_errors` fixture: no answer
is a 5xx or carries a traceback, and nothing was logged as an error (the app's catch-all would
hide a crash behind a 200 "success", a failed turn behind a "system busy" apology).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.web.channels.wechat import render_text_reply, sha1_signature
from bot.web.channels.xmlsafe import cdata
from bot.web.appkeys import WECHAT_CHANNEL
from dialogs.engine import Incoming
from tests.support import AES_KEY, APPID, TOKEN, Chat

ACCOUNT = "gh_ywtb_dev"  # the peer's default ToUserName: our Official Account
USER = "oSecurityTest0000000000001"
HALLS = "本区服务大厅"  # in the halls list ("4")
HALL_1_ADDRESS = "洪洲大道二段55号"  # in hall 1's details


# Helpers ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Got:
    status: int
    body: str
    content_type: str


async def send(client, path: str, body: bytes | str = b"", method: str = "POST") -> Got:
    """One request; whatever it was, the answer is never a 5xx nor a traceback."""
    data = body.encode() if isinstance(body, str) else body
    resp = await client.request(method, path, data=data if method == "POST" else None)
    text = await resp.text(errors="replace")
    assert resp.status < 500, f"{resp.status}: {text[:300]}"
    assert "Traceback" not in text
    return Got(resp.status, text, resp.content_type)


def query(timestamp: int | None = None, nonce: str | None = None, token: str = TOKEN, **extra: str) -> dict[str, str]:
    """The signed query string WeChat puts on every request (signature over token/timestamp/nonce)."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or secrets.token_hex(8)
    return {"signature": sha1_signature(token, ts, nonce), "timestamp": ts, "nonce": nonce, **extra}


def wechat_path(params: dict[str, str]) -> str:
    return "/wechat?" + urlencode(params)


def raw_xml(user: str = USER, msg_type: str | None = "text", content: str = "你好", msg_id: int | None = None, *, raw_user: str | None = None, extra: str = "") -> str:
    """A message built by hand, with nothing cleaned or escaped: `raw_user` goes in verbatim."""
    parts = ["<xml>", f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"]
    if raw_user is not None:
        parts.append(raw_user)
    elif user is not None:
        parts.append(f"<FromUserName><![CDATA[{user}]]></FromUserName>")
    parts.append(f"<CreateTime>{int(time.time())}</CreateTime>")
    if msg_type is not None:
        parts.append(f"<MsgType><![CDATA[{msg_type}]]></MsgType>")
    parts.append(f"<Content><![CDATA[{content}]]></Content>")
    parts.append(f"<MsgId>{msg_id or secrets.randbelow(10**15) + 10**15}</MsgId>")
    parts.append(extra)
    parts.append("</xml>")
    return "".join(parts)


def envelope(encrypt: str) -> str:
    return f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"


def encrypted_request(xml: str, crypto: WeChatCrypto, timestamp: int | None = None, nonce: str | None = None) -> tuple[str, str]:
    """(path, body) of a safe-mode request whose Encrypt was made by `crypto`, correctly signed."""
    params = query(timestamp, nonce)
    encrypt = xmltodict.parse(crypto.encrypt_message(xml, params["nonce"], params["timestamp"]))["xml"]["Encrypt"]
    params.update(encrypt_type="aes", msg_signature=sha1_signature(TOKEN, params["timestamp"], params["nonce"], encrypt))
    return wechat_path(params), envelope(encrypt)


def text_reply(got: Got) -> dict:
    """The fields of a plaintext XML text reply."""
    assert got.status == 200, got.body
    assert got.content_type == "application/xml", got.body
    fields = xmltodict.parse(got.body)["xml"]
    assert fields["MsgType"] == "text"
    return fields


def session_key(settings, user: str = USER) -> str:
    return f"{settings.key_prefix}sess:{{{user}}}"


async def stored_session(redis, settings, user: str = USER) -> dict | None:
    raw = await redis.get(session_key(settings, user))
    return json.loads(raw) if raw else None


async def keys_under_prefix(redis, settings) -> list[bytes]:
    return [k async for k in redis.scan_iter(match=f"{settings.key_prefix}*", count=1000)]


#: What handling a message writes. Background workers keep their own keys (the events stream's
#: consumer group, the scheduler) from start-up, whatever requests arrive.
PER_MESSAGE = ("sess:", "dedup:", "nonce:", "lock:", "held:")


async def assert_nothing_processed(redis, settings) -> None:
    """A refused request must leave no trace: no session, no dedup claim, no nonce."""
    written = [k for k in await keys_under_prefix(redis, settings) if k.decode()[len(settings.key_prefix):].startswith(PER_MESSAGE)]
    assert written == []


BILLION_LAUGHS = (
    '<?xml version="1.0"?>'
    '<!DOCTYPE xml ['
    '<!ENTITY lol "lol">'
    '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">'
    '<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">'
    '<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">'
    '<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">'
    '<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">'
    '<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">'
    ']>'
    f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{USER}]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content>&lol9;</Content><MsgId>1234567890123456</MsgId></xml>"
)

EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{USER}]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content>&xxe;</Content><MsgId>1234567890123457</MsgId></xml>"
)

PLAIN_DOCTYPE = f"<!DOCTYPE xml><xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{USER}</FromUserName><MsgType>text</MsgType><Content>hi</Content></xml>"

# A control character XML cannot carry, which the parser's clean-up drops, hid the declarations
# from a check made before it: expat then expanded the entities.
HIDDEN_LAUGHS = BILLION_LAUGHS.replace("<!", "<!\x01")
HIDDEN_ENTITY = EXTERNAL_ENTITY.replace('SYSTEM "file:///etc/passwd"', '"injected"').replace("<!", "<!\x01")
#: Nested 5000 deep: building the dict recursed past Python's limit (logged as a crash).
DEEP = f"<xml><FromUserName>{USER}</FromUserName>" + "<a>" * 5000 + "</a>" * 5000 + "</xml>"

DTD_PAYLOADS = pytest.mark.parametrize("payload", [PLAIN_DOCTYPE, BILLION_LAUGHS, EXTERNAL_ENTITY, HIDDEN_LAUGHS, HIDDEN_ENTITY, DEEP],
                                       ids=["doctype", "billion-laughs", "external-entity", "hidden-laughs", "hidden-entity", "deep"])


# Fixtures -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_internal_errors(caplog):
    """Crashes are hidden from WeChat on purpose (the app's catch-all answers "success", a failed
    turn answers "system busy"), so an HTTP status alone would not show them: fail any test in
    which something was logged as an error."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, f"{len(errors)} error(s) logged, first: {errors[0].name}: {errors[0].getMessage()}"


@pytest.fixture
def client_with(serve):
    """A second bot over real HTTP, with some settings changed."""
    return serve


@pytest.fixture
def crypto() -> WeChatCrypto:
    """WeChat's side of safe mode for our AppID."""
    return WeChatCrypto(TOKEN, AES_KEY, APPID)


# GET: server verification -------------------------------------------------------------------


async def test_signed_verification_echoes_echostr(client, plain_peer):
    got = await send(client, plain_peer.verification("echo-1234567890"), method="GET")
    assert got.status == 200
    assert got.body == "echo-1234567890"
    assert got.content_type == "text/plain"


async def test_verification_with_wrong_signature_is_refused(client):
    params = query(echostr="echo-1234567890")
    params["signature"] = sha1_signature("not-the-token", params["timestamp"], params["nonce"])
    got = await send(client, wechat_path(params), method="GET")
    assert got.status == 403
    assert "echo-1234567890" not in got.body


@pytest.mark.parametrize("missing", ["signature", "timestamp", "nonce", "all"])
async def test_verification_without_its_parameters_is_refused(client, missing):
    params = query(echostr="echo-1234567890")
    if missing == "all":
        params = {"echostr": "echo-1234567890"}
    else:
        del params[missing]
    got = await send(client, wechat_path(params), method="GET")
    assert got.status == 403
    assert "echo-1234567890" not in got.body


@pytest.mark.parametrize("age", [301 + 60, 3600, -(301 + 60)], ids=["6-minutes-old", "1-hour-old", "6-minutes-ahead"])
async def test_verification_with_timestamp_outside_window_is_refused(client, plain_peer, age):
    got = await send(client, plain_peer.verification("echo-1234567890", timestamp=int(time.time()) - age), method="GET")
    assert got.status == 403
    assert "echo-1234567890" not in got.body


async def test_verification_within_window_is_accepted(client, plain_peer):
    got = await send(client, plain_peer.verification("echo-1234567890", timestamp=int(time.time()) - 240), method="GET")
    assert got.status == 200 and got.body == "echo-1234567890"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("timestamp", "nonce"),
    [("abc", "n0nce"), ("-100", "n0nce"), ("1e9", "n0nce"), ("1" * 13, "n0nce"), ("²", "n0nce"), ("፩", "n0nce"),
     ("NOW", "a b"), ("NOW", "../x"), ("NOW", "x" * 65), ("NOW", "{x}")],
    ids=["letters", "negative", "exponent", "too-long", "superscript-digit", "ethiopic-digit",
         "nonce-space", "nonce-path", "nonce-too-long", "nonce-braces"],
)
async def test_malformed_timestamp_or_nonce_is_refused_even_when_signed(client, redis, settings, method, timestamp, nonce):
    """Correctly signed with our token, but not a timestamp / nonce WeChat would send: 403 before
    any work (str.isdigit() is true for "²" and "፩", which int() cannot read)."""
    if timestamp == "NOW":
        timestamp = str(int(time.time()))
    params = {"signature": sha1_signature(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, "echostr": "echo-1234567890"}
    got = await send(client, wechat_path(params), raw_xml(content="4") if method == "POST" else b"", method=method)
    assert got.status == 403, got.body
    assert "echo-1234567890" not in got.body
    await assert_nothing_processed(redis, settings)


# POST: the happy paths both modes must keep -------------------------------------------------


async def test_plaintext_message_gets_xml_text_reply_addressed_to_sender(client, plain_peer):
    signed = plain_peer.sign(plain_peer.text(USER, "你好"))
    reply = text_reply(await send(client, signed.path, signed.body))
    assert reply["ToUserName"] == USER
    assert reply["FromUserName"] == ACCOUNT
    assert "您好" in reply["Content"]


async def test_safe_mode_message_gets_encrypted_reply_addressed_to_sender(client, peer, crypto):
    signed = peer.sign(peer.text(USER, "你好"), encrypt=True)
    got = await send(client, signed.path, signed.body)
    assert got.status == 200, got.body
    outer = xmltodict.parse(got.body)["xml"]
    assert {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"} <= set(outer)
    assert "您好" not in got.body  # nothing in clear
    inner = xmltodict.parse(crypto.decrypt_message(got.body, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]))["xml"]
    assert inner["MsgType"] == "text"
    assert inner["ToUserName"] == USER
    assert inner["FromUserName"] == ACCOUNT
    assert "您好" in inner["Content"]


# POST: signatures and encryption ------------------------------------------------------------


async def test_post_with_wrong_signature_is_refused_and_not_processed(client, redis, settings):
    params = query()
    params["signature"] = sha1_signature("not-the-token", params["timestamp"], params["nonce"])
    got = await send(client, wechat_path(params), raw_xml(content="4"))
    assert got.status == 403
    await assert_nothing_processed(redis, settings)


async def test_post_without_signature_is_refused(client, redis, settings):
    params = query()
    del params["signature"]
    got = await send(client, wechat_path(params), raw_xml(content="4"))
    assert got.status == 403
    await assert_nothing_processed(redis, settings)


async def test_post_with_stale_timestamp_is_refused(client, redis, settings):
    got = await send(client, wechat_path(query(timestamp=int(time.time()) - 3600)), raw_xml(content="4"))
    assert got.status == 403
    await assert_nothing_processed(redis, settings)


@pytest.mark.parametrize("msg_signature", ["0" * 40, ""], ids=["wrong", "missing"])
async def test_encrypted_body_with_bad_msg_signature_is_refused(client, redis, settings, crypto, msg_signature):
    path, body = encrypted_request(raw_xml(content="4"), crypto)
    params = dict(parse_qsl(path.split("?", 1)[1]))
    if msg_signature:
        params["msg_signature"] = msg_signature
    else:
        del params["msg_signature"]
    got = await send(client, wechat_path(params), body)
    assert got.status == 403
    await assert_nothing_processed(redis, settings)


async def test_encrypted_body_swapped_under_a_valid_msg_signature_is_refused(client, redis, settings, crypto):
    """msg_signature binds the body: another message's Encrypt under this query is refused."""
    path, _ = encrypted_request(raw_xml(content="你好"), crypto)
    _, other_body = encrypted_request(raw_xml(content="4"), crypto)
    got = await send(client, path, other_body)
    assert got.status == 403
    await assert_nothing_processed(redis, settings)


@pytest.mark.parametrize(
    "garbage",
    ["this is not ciphertext", base64.b64encode(b"x" * 20).decode(), "=====", base64.b64encode(b"\x00" * 8).decode()],
    ids=["not-base64", "not-a-block-multiple", "only-padding", "too-short"],
)
async def test_garbage_in_encrypt_is_a_bad_request(client, redis, settings, garbage):
    params = query(encrypt_type="aes")
    params["msg_signature"] = sha1_signature(TOKEN, params["timestamp"], params["nonce"], garbage)
    got = await send(client, wechat_path(params), envelope(garbage))
    assert got.status == 400
    await assert_nothing_processed(redis, settings)


async def test_encrypted_envelope_without_encrypt_is_a_bad_request(client, redis, settings):
    params = query(encrypt_type="aes")
    params["msg_signature"] = sha1_signature(TOKEN, params["timestamp"], params["nonce"], "")
    got = await send(client, wechat_path(params), f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName></xml>")
    assert got.status == 400
    await assert_nothing_processed(redis, settings)


async def test_message_encrypted_for_another_appid_is_refused(client, redis, settings):
    other = WeChatCrypto(TOKEN, AES_KEY, "wx0000000000000bad")
    path, body = encrypted_request(raw_xml(content="4"), other)
    got = await send(client, path, body)
    assert got.status == 403
    await assert_nothing_processed(redis, settings)


async def test_message_encrypted_with_another_key_is_a_bad_request_or_refused(client, redis, settings):
    other = WeChatCrypto(TOKEN, "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj", APPID)
    path, body = encrypted_request(raw_xml(content="4"), other)
    got = await send(client, path, body)
    assert got.status in (400, 403)
    await assert_nothing_processed(redis, settings)


async def test_encrypted_message_without_configured_aes_key_is_a_bad_request(client_with, redis, settings, crypto):
    bot = await client_with(wechat_aes_key="")
    path, body = encrypted_request(raw_xml(content="4"), crypto)
    got = await send(bot, path, body)
    assert got.status == 400
    await assert_nothing_processed(redis, settings)


async def test_safe_mode_refuses_plaintext_messages(client_with, redis, settings, plain_peer):
    bot = await client_with(wechat_mode="safe")
    signed = plain_peer.sign(plain_peer.text(USER, "4"))
    got = await send(bot, signed.path, signed.body)
    assert got.status == 403
    await assert_nothing_processed(redis, settings)


async def test_safe_mode_accepts_encrypted_messages(client_with, peer):
    bot = await client_with(wechat_mode="safe")
    answer = await Chat(bot, peer, USER, encrypt=True).post(peer.text(USER, "4"))
    assert answer.status == 200, answer.body
    assert "<Encrypt>" in answer.body
    assert answer.fields["ToUserName"] == USER
    assert HALLS in answer.text


# Replays and re-deliveries ------------------------------------------------------------------


async def test_replayed_query_with_another_body_is_refused_and_not_processed(client, redis, settings, plain_peer):
    """Plaintext mode signs only token/timestamp/nonce: a captured query string could carry any
    body. The nonce is remembered with a digest of its body, so a second body under it is refused.

    An identical re-delivery (same nonce AND same body) is WeChat's own retry, not a replay: it is
    answered with the first reply (see the next test). The dispatcher binds each nonce to a
    digest of the body it came with."""
    ts, nonce = int(time.time()), secrets.token_hex(8)
    first = plain_peer.sign(plain_peer.text(USER, "4"), timestamp=ts, nonce=nonce)
    assert HALLS in text_reply(await send(client, first.path, first.body))["Content"]
    before = await stored_session(redis, settings)
    assert before["dialog"] == "halls" and before["state"] == "pick"

    forged_id = 987654321012345678
    forged = plain_peer.sign(plain_peer.text(USER, "1", msg_id=forged_id), timestamp=ts, nonce=nonce)
    assert forged.path == first.path  # the very same captured query string
    got = await send(client, forged.path, forged.body)
    assert got.status == 403
    assert HALL_1_ADDRESS not in got.body

    assert await stored_session(redis, settings) == before  # the forged "1" did not move the dialog
    assert await redis.exists(f"{settings.key_prefix}dedup:{{{USER}}}:m:{forged_id}") == 0

    # the forged message left no claim behind: the real one, properly signed, still goes through
    real = plain_peer.sign(plain_peer.text(USER, "1", msg_id=forged_id))
    assert HALL_1_ADDRESS in text_reply(await send(client, real.path, real.body))["Content"]


async def test_identical_redelivery_is_a_retry_answered_with_the_first_reply(client, redis, settings, plain_peer):
    """Same nonce, same timestamp, same body: WeChat retrying after a slow answer. Processed once,
    answered twice with the same reply."""
    signed = plain_peer.sign(plain_peer.text(USER, "4"))
    first = text_reply(await send(client, signed.path, signed.body))
    again = text_reply(await send(client, signed.path, signed.body))
    assert HALLS in first["Content"]
    assert again["Content"] == first["Content"]
    session = await stored_session(redis, settings)
    assert session["state"] == "pick" and "_misses" not in session["data"]


async def age_keys(redis, settings, seconds: float) -> None:
    """What `seconds` of waiting does to the keys under the test's prefix: each TTL shortened by
    that much, and those it would have outlived deleted (no sleeping)."""
    for key in await keys_under_prefix(redis, settings):
        left = await redis.pttl(key)
        if left > seconds * 1000:
            await redis.pexpire(key, int(left - seconds * 1000))
        elif left > 0:
            await redis.delete(key)


async def test_a_future_dated_request_is_never_run_twice_while_its_timestamp_is_accepted(app, client, redis, settings, plain_peer):
    """A timestamp up to the window ahead of the bot's clock is accepted (clocks differ), and
    stays acceptable until it is the window behind: 290 s ahead, until 590 s from now. A
    captured request replayed at any moment of that time must find its answer (or be refused),
    whatever "now + the answer's TTL" would say. Time passes here by the channel's clock and
    by the keys' TTLs, shortened as waiting would have."""
    window = settings.timestamp_window_seconds
    ahead = int(time.time()) + window - 10
    signed = plain_peer.sign(plain_peer.text(USER, "4"), timestamp=ahead)
    first = text_reply(await send(client, signed.path, signed.body))["Content"]
    assert HALLS in first
    channel, started, waited = app[WECHAT_CHANNEL], time.time(), 0
    for later in (window + 100, 2 * window - 10):  # past "now + 300 s"; the last moment the timestamp is accepted
        await age_keys(redis, settings, later - waited)
        waited = later
        channel.clock = lambda: started + later
        again = await send(client, signed.path, signed.body)
        assert again.status == 403 or text_reply(again)["Content"] == first, (later, again)
        session = await stored_session(redis, settings)
        assert session["dialog"] == "halls" and session["state"] == "pick" and "_misses" not in session["data"], later  # "4" ran once
    channel.clock = lambda: started + 2 * window - 9  # one second later the timestamp itself is refused
    assert (await send(client, signed.path, signed.body)).status == 403


async def test_same_msgid_twice_is_processed_once(client, redis, settings, plain_peer):
    chat = Chat(client, plain_peer, USER)
    msg_id = 555000111222333444
    first = await chat.say("4", msg_id=msg_id)  # each post has a fresh nonce
    second = await chat.say("4", msg_id=msg_id)
    assert HALLS in first
    assert second == first
    # processed twice, the second "4" would be a miss inside the halls dialog (there are 3 halls)
    session = await stored_session(redis, settings)
    assert session["dialog"] == "halls" and session["state"] == "pick"
    assert "_misses" not in session["data"]
    assert HALL_1_ADDRESS in await chat.say("1")


async def test_same_subscribe_event_twice_is_processed_once(client, redis, settings, plain_peer):
    chat = Chat(client, plain_peer, USER)
    created = int(time.time()) - 2
    first = await chat.post(plain_peer.event(USER, "subscribe", created=created))
    assert first.status == 200 and "欢迎关注" in first.text
    assert HALLS in await chat.say("4")
    again = await chat.post(plain_peer.event(USER, "subscribe", created=created))  # fresh nonce
    assert again.status == 200
    assert again.text == first.text
    # processed again, the welcome would have reset the conversation to the menu
    session = await stored_session(redis, settings)
    assert session["dialog"] == "halls"
    assert HALL_1_ADDRESS in await chat.say("1")


async def test_a_new_subscribe_event_is_processed(client, redis, settings, plain_peer):
    """The dedup key includes CreateTime: a later subscribe (user came back) is a new event."""
    chat = Chat(client, plain_peer, USER)
    await chat.post(plain_peer.event(USER, "subscribe", created=int(time.time()) - 10))
    await chat.say("4")
    again = await chat.post(plain_peer.event(USER, "subscribe", created=int(time.time())))
    assert "欢迎关注" in again.text
    assert (await stored_session(redis, settings))["dialog"] == "menu"


# Malformed and hostile XML ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not xml at all",
        '{"ToUserName": "gh", "MsgType": "text"}',
        f"<xml><FromUserName><![CDATA[{USER}]]></FromUserName><MsgType>text",  # truncated
        f"<xml><FromUserName>{USER}</FromUserName><MsgType>text</MsgType></xml><xml/>",  # two roots
        f"<xml><FromUserName>{USER}</FromUserName><MsgType>text</MsgType><Content>a & b</Content></xml>",
        f"<root><FromUserName>{USER}</FromUserName><MsgType>text</MsgType><Content>hi</Content></root>",
        "<xml>just text</xml>",
    ],
    ids=["empty", "text", "json", "truncated", "two-roots", "bare-ampersand", "wrong-root", "no-children"],
)
async def test_malformed_xml_is_a_bad_request(client, redis, settings, body):
    got = await send(client, wechat_path(query()), body)
    assert got.status == 400
    await assert_nothing_processed(redis, settings)


@DTD_PAYLOADS
async def test_dtd_in_plaintext_body_is_a_bad_request(client, redis, settings, payload):
    got = await send(client, wechat_path(query()), payload)
    assert got.status == 400
    assert "root:" not in got.body  # nothing of /etc/passwd
    await assert_nothing_processed(redis, settings)


@DTD_PAYLOADS
async def test_dtd_inside_encrypted_message_is_a_bad_request(client, redis, settings, crypto, payload):
    path, body = encrypted_request(payload, crypto)
    got = await send(client, path, body)
    assert got.status == 400
    assert "root:" not in got.body
    await assert_nothing_processed(redis, settings)


async def test_dtd_in_encrypted_envelope_is_a_bad_request(client, redis, settings, crypto):
    path, body = encrypted_request(raw_xml(content="4"), crypto)
    got = await send(client, path, '<!DOCTYPE xml [<!ENTITY e "x">]>' + body)
    assert got.status == 400
    await assert_nothing_processed(redis, settings)


async def test_message_without_msgtype_is_a_bad_request(client, redis, settings):
    got = await send(client, wechat_path(query()), raw_xml(msg_type=None, content="4"))
    assert got.status == 400
    await assert_nothing_processed(redis, settings)


@pytest.mark.parametrize(
    "raw_user",
    [
        "",
        "<FromUserName></FromUserName>",
        "<FromUserName><![CDATA[o{abc}]]></FromUserName>",
        f"<FromUserName><![CDATA[{cdata('o]]>x')}]]></FromUserName>",  # a well-formed "o]]>x"
        "<FromUserName>o]]&gt;&lt;evil/&gt;</FromUserName>",
        "<FromUserName><![CDATA[o user]]></FromUserName>",
        "<FromUserName><![CDATA[o*]]></FromUserName>",
        f"<FromUserName><![CDATA[{'o' * 65}]]></FromUserName>",
        f"<FromUserName>{USER}</FromUserName><FromUserName>oOther</FromUserName>",
        "<FromUserName><a>oNested</a></FromUserName>",
    ],
    ids=["missing", "empty", "braces", "cdata-end", "escaped-markup", "space", "star", "too-long", "twice", "nested"],
)
async def test_missing_or_invalid_fromusername_is_a_bad_request(client, redis, settings, raw_user):
    got = await send(client, wechat_path(query()), raw_xml(content="4", raw_user=raw_user))
    assert got.status == 400
    await assert_nothing_processed(redis, settings)


async def test_unescaped_cdata_end_in_fromusername_is_a_bad_request(client, redis, settings):
    raw_user = "<FromUserName><![CDATA[o]]>x]]></FromUserName>"
    got = await send(client, wechat_path(query()), raw_xml(content="4", raw_user=raw_user))
    assert got.status == 400
    await assert_nothing_processed(redis, settings)


@pytest.mark.parametrize("created", ["", "abc", "-5", "99999999999999", "²", "፩"],
                         ids=["empty", "letters", "negative", "too-long", "superscript-digit", "ethiopic-digit"])
async def test_unreadable_createtime_is_ignored_and_the_message_answered(client, plain_peer, created):
    """CreateTime is only used for dedup; one we cannot read counts as 0, it does not crash the
    handler (which the catch-all would turn into a silent "success": the person gets nothing)."""
    xml = raw_xml(content="4")
    xml = xml[: xml.index("<CreateTime>")] + f"<CreateTime>{created}</CreateTime>" + xml[xml.index("<MsgType>"):]
    signed = plain_peer.sign(xml)
    reply = text_reply(await send(client, signed.path, signed.body))
    assert HALLS in reply["Content"]


@pytest.mark.parametrize("encoding", ["gbk", "utf-16", "latin-1"])
async def test_non_utf8_body_is_a_bad_request(client, redis, settings, encoding):
    body = raw_xml(content="你好" if encoding != "latin-1" else "café").encode(encoding)
    got = await send(client, wechat_path(query()), body)
    assert got.status == 400
    await assert_nothing_processed(redis, settings)


async def test_body_over_the_size_limit_is_refused(client, redis, settings):
    body = raw_xml(content="4" * (settings.max_body_bytes + 1))
    assert len(body.encode()) > settings.max_body_bytes == 64 * 1024
    got = await send(client, wechat_path(query()), body)
    assert got.status == 413
    await assert_nothing_processed(redis, settings)


async def test_chunked_body_over_the_size_limit_is_refused(client, redis, settings):
    """No Content-Length to check up front: the limit must hold while reading."""

    async def chunks():
        yield raw_xml(content="").encode()
        for _ in range(settings.max_body_bytes // 4096 + 2):
            yield b" " * 4096

    resp = await client.post(wechat_path(query()), data=chunks())
    assert resp.status == 413
    assert "Traceback" not in await resp.text()
    await assert_nothing_processed(redis, settings)


async def test_body_of_exactly_the_size_limit_is_processed(client, plain_peer, settings):
    """The limit is on what is larger: a long (but legal) message is not refused."""
    xml = plain_peer.text(USER, "4")
    padding = settings.max_body_bytes - len(xml.encode())
    signed = plain_peer.sign(xml.replace("</xml>", " " * padding + "</xml>"))
    assert len(signed.body) == settings.max_body_bytes
    assert HALLS in text_reply(await send(client, signed.path, signed.body))["Content"]


# Characters XML cannot carry, and ]]> in replies --------------------------------------------


@pytest.mark.parametrize("char", ["\x1d", "\x08", "\x00", "\x0b"], ids=["x1d", "x08", "x00", "x0b"])
async def test_control_characters_in_content_are_dropped_and_the_message_answered(client, plain_peer, char):
    # built by hand: the peer's cdata() would strip the character before it ever reached us
    signed = plain_peer.sign(raw_xml(content=f"4{char}"))
    assert char.encode() in signed.body
    reply = text_reply(await send(client, signed.path, signed.body))
    assert reply["ToUserName"] == USER
    assert HALLS in reply["Content"]


async def test_control_characters_inside_encrypted_message_are_dropped_and_answered(client, peer, crypto):
    path, body = encrypted_request(raw_xml(content="4\x1d"), crypto)
    got = await send(client, path, body)
    assert got.status == 200, got.body
    answer = peer.read(got.status, got.body)
    assert answer.fields["ToUserName"] == USER
    assert HALLS in answer.text


@pytest.mark.parametrize("digit", ["፩", "𐩀", "᧚"], ids=["ethiopic-one", "kharoshthi-one", "new-tai-lue-one"])
async def test_non_decimal_digit_typed_in_a_dialog_is_a_miss_not_an_internal_error(client, plain_peer, redis, settings, digit):
    """Characters for which str.isdigit() is true but int() fails, typed where a number is
    expected: the person should be told we did not understand, not that the system is busy."""
    chat = Chat(client, plain_peer, USER)
    assert HALLS in await chat.say("4")
    reply = await chat.say(digit)
    assert "系统繁忙" not in reply
    assert "没太明白" in reply
    assert (await stored_session(redis, settings))["data"].get("_misses") == 1


def test_cdata_end_in_reply_text_cannot_inject_xml():
    incoming = Incoming(channel="wechat", user=USER, kind="text", extra={"account": ACCOUNT})
    xml = render_text_reply(incoming, "a]]><evil/>b")
    reply = xmltodict.parse(xml)["xml"]
    assert reply["Content"] == "a]]><evil/>b"
    assert "evil" not in reply
    assert set(reply) == {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"}


def test_cdata_end_in_reply_addresses_cannot_inject_xml():
    incoming = Incoming(channel="wechat", user="o]]><evil/>", kind="text", extra={"account": "gh]]><evil2/>"})
    reply = xmltodict.parse(render_text_reply(incoming, "hi\x1d]]>"))["xml"]
    assert reply["ToUserName"] == "o]]><evil/>"
    assert reply["FromUserName"] == "gh]]><evil2/>"
    assert reply["Content"] == "hi]]>"
    assert "evil" not in reply and "evil2" not in reply


async def test_user_text_with_cdata_end_gets_a_well_formed_reply(client, plain_peer):
    signed = plain_peer.sign(plain_peer.text(USER, "a]]><evil/>b"))
    reply = text_reply(await send(client, signed.path, signed.body))
    assert "evil" not in reply
    assert reply["ToUserName"] == USER
