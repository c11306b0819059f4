"""Property-based fuzzing (hypothesis) of everything that parses what strangers send: the XML
channel parser, the AES layer, the signature check, the reply writer and the platform event
receiver. The properties: only our own refusal exceptions ever come out (never a KeyError, an
ExpatError, a struct.error...), and what a person typed survives the trip unchanged apart from
the characters XML cannot carry.

`make test` runs the bounded "ci" profile (the whole file in well under a minute); `make fuzz`
runs the same properties with HYPOTHESIS_PROFILE=fuzz (many more examples), beside the
coverage-guided atheris harnesses in fuzz/. Every finding is kept below as an explicit
@example, so it is tried on every run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time

import pytest
import xmltodict
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from wechatpy.crypto import WeChatCrypto

from bot.web.channels.wechat import MAX_TEXT, Rejected, WeChatChannel, render_text_reply, sha1_signature, to_incoming
from bot.web.channels.xmlsafe import MalformedXML, cdata, clean_text, parse_xml
from bot.settings import load_settings
from dialogs.engine import Incoming
from integrations.platform.events import sign_event
from tests.support import AES_KEY, APPID, ROOT, TOKEN

#: Failing examples are remembered under var/ (ignored by git) and tried first next time.
_SEEN = DirectoryBasedExampleDatabase(str(ROOT / "var" / "hypothesis"))
hsettings.register_profile("ci", max_examples=300, deadline=None, database=_SEEN, suppress_health_check=[HealthCheck.too_slow])
hsettings.register_profile("fuzz", max_examples=20_000, deadline=None, database=_SEEN, suppress_health_check=[HealthCheck.too_slow])
hsettings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: HTTP properties run fewer examples (each is a real request through the app and Redis).
HTTP = hsettings(
    max_examples=max(20, hsettings.default.max_examples // 5), deadline=None, database=_SEEN,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

USER = "oFuzzUser000000000000000001"
CHANNEL = WeChatChannel(load_settings(env="dev", wechat_token=TOKEN, wechat_appid=APPID, wechat_aes_key=AES_KEY, redis_url="redis://127.0.0.1:1/0"), None)
CRYPTO = WeChatCrypto(TOKEN, AES_KEY, APPID)

FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey", "Encrypt",
          "Location_X", "Location_Y", "Label", "PicUrl", "MediaId"]
MSG_TYPES = ["text", "event", "image", "voice", "video", "location", "link", "shortvideo", "file", "miniprogrampage", ""]

#: Text as people (and attackers) type it: any code point but surrogates, XML's own
#: metacharacters and CDATA terminators, control characters WeChat has been seen to deliver.
typed = st.lists(
    st.one_of(st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
              st.sampled_from(["]]>", "<![CDATA[", "&", "<", "\x1d", "\r", "\r\n", "\ufffe", "&lt;", " "])),
    max_size=20,
).map("".join)
user_ids = st.from_regex(r"[A-Za-z0-9_\-@.]{1,64}", fullmatch=True)


def _element(name: str, value: str, wrap: bool) -> str:
    return f"<{name}><![CDATA[{cdata(value)}]]></{name}>" if wrap else f"<{name}>{xml_escape(value)}</{name}>"


def xml_escape(value: str) -> str:
    return clean_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def wechat_messages(draw) -> tuple[str, dict]:
    """A message WeChat could send, with any values in its fields, and those values."""
    fields = {"ToUserName": draw(st.text(max_size=30)), "FromUserName": draw(st.one_of(user_ids, typed)),
              "CreateTime": draw(st.one_of(st.integers(-10, 10**13).map(str), typed)), "MsgType": draw(st.sampled_from(MSG_TYPES))}
    for name in draw(st.lists(st.sampled_from(FIELDS[4:]), max_size=5, unique=True)):
        fields[name] = draw(typed)
    order = draw(st.permutations(list(fields)))
    wrap = draw(st.booleans())
    return "<xml>" + "".join(_element(k, fields[k], wrap) for k in order) + "</xml>", fields


def _normalised(text: str) -> str:
    """What an XML parser hands back for `text`: XML-invalid characters dropped, line ends
    normalised, surrounding whitespace stripped (xmltodict strips it)."""
    return clean_text(text).replace("\r\n", "\n").replace("\r", "\n").strip()


# The XML parser ---------------------------------------------------------------------------------


@given(st.binary(max_size=2000))
@example(b"<xml><MsgType>text</MsgType></xml>")  # no FromUserName
@example(b"<!DOCTYPE xml><xml/>")
@example(b"<xml><FromUserName><a>o</a></FromUserName></xml>")  # a field that is an element
@example(b"<xml><FromUserName>o1</FromUserName><FromUserName>o2</FromUserName><MsgType>text</MsgType></xml>")
@example(b"\xef\xbb\xbf<xml><FromUserName>oBom</FromUserName><MsgType>text</MsgType></xml>")  # a UTF-8 BOM
@example(b"<xml><FromUserName>o\x1d</FromUserName><MsgType>text</MsgType><Content>\x00</Content></xml>")
@example(b"<xml><MsgType>text</MsgType><FromUserName>oA</FromUserName><CreateTime>\xd9\xa1</CreateTime></xml>")  # an Arabic digit
def test_any_bytes_parse_to_a_message_or_a_refusal(body):
    try:
        incoming = to_incoming(parse_xml(body))
    except MalformedXML:
        return
    assert isinstance(incoming, Incoming) and incoming.user and incoming.kind
    assert isinstance(incoming.created, int) and (incoming.msg_id == "" or incoming.msg_id.isdigit())


@given(wechat_messages())
@example(("<xml><FromUserName><![CDATA[oA]]></FromUserName><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[a]]]]><![CDATA[>b]]></Content></xml>",
          {"FromUserName": "oA", "MsgType": "text", "Content": "a]]>b"}))
@pytest.mark.slow  # long fuzzing
@example(("<xml><FromUserName>0 </FromUserName><MsgType>text</MsgType></xml>", {"FromUserName": "0 ", "MsgType": "text"}))  # trimmed, found by `make fuzz`
def test_what_a_person_typed_survives_parsing(message):
    xml, fields = message
    try:
        incoming = to_incoming(parse_xml(xml))
    except MalformedXML:
        # refused only for what WeChat never sends: a bad sender, no type
        assert not re.fullmatch(r"[A-Za-z0-9_\-@.]{1,64}", _normalised(fields["FromUserName"])) or not fields["MsgType"]
        return
    assert incoming.user == _normalised(fields["FromUserName"])
    if fields["MsgType"] == "text":
        assert incoming.kind == "text"
        assert incoming.text == _normalised(fields.get("Content", ""))[:MAX_TEXT]


@given(st.recursive(st.text(max_size=20), lambda inner: st.dictionaries(st.sampled_from(FIELDS + ["xml", "a"]), inner, max_size=4), max_leaves=20))
def test_any_nested_document_maps_to_a_message_or_a_refusal(tree):
    doc = {"xml": tree if isinstance(tree, dict) else {"Content": tree}}
    try:
        xml = xmltodict.unparse(doc)
    except ValueError:
        return
    try:
        to_incoming(parse_xml(xml))
    except MalformedXML:
        pass


# The reply writer -------------------------------------------------------------------------------


@given(typed, user_ids, st.text(max_size=40))
@example("a]]><MsgType><![CDATA[image]]></MsgType>", USER, "gh_x")
@example("]]]]>>", USER, "]]>")
def test_any_reply_text_is_one_well_formed_text_reply(text, user, account):
    incoming = Incoming(channel="wechat", user=user, kind="text", extra={"account": account})
    reply = xmltodict.parse(render_text_reply(incoming, text))["xml"]
    assert set(reply) == {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"}
    assert reply["MsgType"] == "text" and reply["ToUserName"] == user
    assert _normalised(reply["Content"] or "") == _normalised(text)


# The signature check and the AES layer -------------------------------------------------------------


@given(st.dictionaries(st.sampled_from(["signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature"]), typed, max_size=6))
def test_any_query_is_verified_or_refused(query):
    try:
        timestamp, nonce = CHANNEL._check_signature(query)
    except Rejected as exc:
        assert exc.status == 403
    else:  # only a genuine signature over a fresh timestamp passes
        assert query["signature"].lower() == sha1_signature(TOKEN, timestamp, nonce)


def _signed_query(encrypt: str) -> tuple[dict, str, str]:
    timestamp, nonce = str(int(time.time())), "n0nce"
    return {"msg_signature": sha1_signature(TOKEN, timestamp, nonce, encrypt)}, timestamp, nonce


@given(st.one_of(st.binary(max_size=600).map(lambda b: base64.b64encode(b).decode()), typed))
@example("")
@example("AAAA")  # decrypts to too few bytes for the length header (struct.error in wechatpy)
@example("A" * 44)
@example("%%%")
def test_any_signed_encrypt_field_decrypts_or_is_refused(encrypt):
    query, timestamp, nonce = _signed_query(encrypt)
    body = f"<xml><Encrypt><![CDATA[{cdata(encrypt)}]]></Encrypt></xml>".encode()
    try:
        xml = CHANNEL._decrypt(body, query, timestamp, nonce)
    except Rejected as exc:
        assert exc.status in (400, 403)
    else:
        assert isinstance(xml, str)


@given(typed)
def test_whatever_wechat_encrypts_we_decrypt_unchanged(xml):
    envelope = xmltodict.parse(CRYPTO.encrypt_message(xml, "n0nce", str(int(time.time()))))["xml"]
    query, timestamp, nonce = _signed_query(envelope["Encrypt"])
    body = f"<xml><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>".encode()
    assert CHANNEL._decrypt(body, query, timestamp, nonce) == xml


@given(st.binary(min_size=16, max_size=400))
def test_tampered_ciphertext_is_refused_never_crashes(noise):
    envelope = xmltodict.parse(CRYPTO.encrypt_message("<xml><Content>hi</Content></xml>", "n0nce", str(int(time.time()))))["xml"]
    raw = bytearray(base64.b64decode(envelope["Encrypt"]))
    for i, byte in enumerate(noise[: len(raw)]):
        raw[i] ^= byte
    encrypt = base64.b64encode(bytes(raw)).decode()
    query, timestamp, nonce = _signed_query(encrypt)
    try:
        CHANNEL._decrypt(f"<xml><Encrypt>{encrypt}</Encrypt></xml>".encode(), query, timestamp, nonce)
    except Rejected as exc:
        assert exc.status in (400, 403)


# Over HTTP: the webhook and the platform event receiver -----------------------------------------


@HTTP
@given(body=st.one_of(st.binary(max_size=3000), wechat_messages().map(lambda m: m[0].encode())), encrypted=st.booleans())
async def test_any_signed_webhook_body_gets_an_answer_never_a_5xx(client, peer, body, encrypted):
    timestamp, nonce = str(int(time.time())), os.urandom(8).hex()
    path = f"/wechat?signature={sha1_signature(TOKEN, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
    if encrypted:
        envelope = xmltodict.parse(CRYPTO.encrypt_message(body.decode("utf-8", "replace"), nonce, timestamp))["xml"]
        path += f"&encrypt_type=aes&msg_signature={sha1_signature(TOKEN, timestamp, nonce, envelope['Encrypt'])}"
        body = f"<xml><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>".encode()
    resp = await client.post(path, data=body)
    text = await resp.text(errors="replace")
    assert resp.status in (200, 400, 403), text[:200]
    assert "Traceback" not in text


def _json_values():
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), typed)
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=15)


@st.composite
def case_events(draw) -> bytes:
    """Mostly-valid case events with one field changed to anything."""
    event = {"id": draw(st.from_regex(r"evt_[a-z0-9]{1,12}", fullmatch=True)), "type": draw(st.sampled_from(["accepted", "approved", "materials_requested", "weird"])),
             "case_no": draw(st.one_of(st.just("51160220261128100001"), typed)), "at": draw(st.one_of(st.just("2026-11-28T09:00:00+08:00"), typed)),
             "matter_name": draw(typed), "department": draw(typed)}
    if draw(st.booleans()):
        event[draw(st.sampled_from(list(event) + ["extra"]))] = draw(_json_values())
    return json.dumps(event, ensure_ascii=draw(st.booleans())).encode()


@HTTP
@given(body=st.one_of(case_events(), _json_values().map(lambda v: json.dumps(v).encode()), st.binary(max_size=1000)))
async def test_any_signed_case_event_is_queued_or_refused_never_a_5xx(client, redis, settings, body):
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Ywtb-Timestamp": ts, "X-Ywtb-Signature": sign_event("events-s3cret", ts, body)}
    before = await redis.xlen(f"{settings.key_prefix}events")
    resp = await client.post("/platform/events", data=body, headers=headers)
    answer = await resp.json()
    assert resp.status in (200, 202, 400), answer
    queued = await redis.xlen(f"{settings.key_prefix}events") - before
    assert queued == (1 if resp.status == 202 else 0)
