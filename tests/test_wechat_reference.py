"""The WeChat channel's own reply writer and AES layer against wechatpy, their reference: the
reply is byte for byte TextReply(...).render(), and messages cross between our MessageCipher and
wechatpy's WeChatCrypto both ways, with the same refusals (another AppID: 403; garbage: 400)."""

from __future__ import annotations

import base64
import time
from unittest import mock

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import example, given, settings, strategies as st
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.replies import TextReply

from bot.web.channels.wechat import ForeignAppId, MessageCipher, Rejected, WeChatChannel, render_text_reply, sha1_signature
from bot.web.channels.xmlsafe import cdata, parse_xml
from bot.settings import load_settings
from dialogs.engine import Incoming
from tests.support import AES_KEY, APPID, TOKEN

KEY = base64.b64decode(AES_KEY + "=")
WECHATPY = WeChatCrypto(TOKEN, AES_KEY, APPID)
OURS = MessageCipher(AES_KEY, APPID)
AWKWARD = ["", "hi", "]]>", "a]]>b]]>", "]]]]>>", "<![CDATA[x]]>", "\x1d\x00\x08\x0b\ufffe\uffff", "😀 我要办护照", " \r\n\t ", "{content}", "%s %d %%", "&lt;<&>"]
typed = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


# The reply writer ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", AWKWARD)
@settings(max_examples=30, deadline=None)
@given(user=typed, account=typed)
def test_text_reply_is_wechatpys_byte_for_byte(text, user, account):
    for content, to, source in ((text, "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "gh_123"), (user + text, text + user, account)):
        incoming = Incoming(channel="wechat", user=to, kind="text", extra={"account": source})
        with mock.patch.object(time, "time", lambda: 1700000000.9):
            ours = render_text_reply(incoming, content)
        assert ours == TextReply(source=cdata(source), target=cdata(to), content=cdata(content), time=1700000000).render()


# AES ------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(typed)
@example("")
@example("<xml><Content><![CDATA[我要办护照]]></Content></xml>")
def test_messages_cross_between_wechatpy_and_us_both_ways(xml):
    ts, nonce = "1700000000", "n0nce"
    ours = OURS.encrypt_message(xml, TOKEN, nonce, ts)
    fields = parse_xml(ours)
    assert WECHATPY.decrypt_message(ours, fields["MsgSignature"], ts, nonce) == xml
    # the same envelope wechatpy writes, given the same 16 random bytes
    sealed = base64.b64decode(fields["Encrypt"])
    decryptor = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).decryptor()
    prefix = (decryptor.update(sealed) + decryptor.finalize())[:16].decode()
    with mock.patch.object(PrpCrypto, "get_random_string", lambda self: prefix):
        assert WECHATPY.encrypt_message(xml, nonce, ts) == ours
    theirs = parse_xml(WECHATPY.encrypt_message(xml, nonce, ts))["Encrypt"]
    assert OURS.decrypt(theirs) == xml


def _seal(plain: bytes) -> str:
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def _result(decrypt, encrypt: str):
    try:
        return decrypt(encrypt)
    except (ForeignAppId, InvalidAppIdException):
        return 403
    except Exception:
        return 400


def _frames():
    """Well-sealed frames with anything inside: lengths, AppIDs and padding that lie."""
    body = st.binary(max_size=40)
    appid = st.sampled_from([APPID.encode(), b"wxSomeoneElse00000", b"", b"\xff\xfe", APPID.encode() + b"\x00"])
    length = st.one_of(st.none(), st.integers(0, 2**32 - 1))
    pad = st.one_of(st.none(), st.integers(0, 255))

    @st.composite
    def frame(draw):
        data, sender, size, padding = draw(body), draw(appid), draw(length), draw(pad)
        raw = draw(st.binary(min_size=16, max_size=16)) + (len(data) if size is None else size).to_bytes(4, "big") + data + sender
        n = 32 - len(raw) % 32
        raw += bytes([n if padding is None else padding]) * n
        return _seal(raw)

    return frame()


@settings(max_examples=400, deadline=None)
@given(st.one_of(_frames(), st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()), typed))
@example("")
@example("AAAA")
@example("%%%")
@example(_seal(b"0" * 16 + (5).to_bytes(4, "big") + b"<xml>" + b"wxSomeoneElse00000" + bytes([21]) * 21))  # another AppID
def test_garbage_gets_the_refusal_wechatpy_gave(encrypt):
    assert _result(OURS.decrypt, encrypt) == _result(lambda e: PrpCrypto(KEY).decrypt(e, APPID), encrypt)


def test_channel_refuses_another_appid_with_403_and_garbage_with_400():
    channel = WeChatChannel(load_settings(env="dev", wechat_token=TOKEN, wechat_appid=APPID, wechat_aes_key=AES_KEY, redis_url="redis://127.0.0.1:1/0"), None)
    ts, nonce = str(int(time.time())), "n0nce"

    def decrypt(encrypt: str) -> str:
        body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
        return channel._decrypt(body, {"msg_signature": sha1_signature(TOKEN, ts, nonce, encrypt)}, ts, nonce)

    other = WeChatCrypto(TOKEN, AES_KEY, "wx0000000000000bad")
    with pytest.raises(Rejected) as refused:
        decrypt(parse_xml(other.encrypt_message("<xml/>", nonce, ts))["Encrypt"])
    assert refused.value.status == 403
    for garbage in ("AAAA", "A" * 44, _seal(b"\x00" * 32), base64.b64encode(b"x" * 17).decode()):
        with pytest.raises(Rejected) as refused:
            decrypt(garbage)
        assert refused.value.status == 400
    assert decrypt(parse_xml(WECHATPY.encrypt_message("<xml>ok</xml>", nonce, ts))["Encrypt"]) == "<xml>ok</xml>"
