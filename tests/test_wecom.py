"""The WeCom callback at /wecom: the URL check, encrypted messages bound to our corp id, staff
only, and the same dedup as /wechat."""

from __future__ import annotations

import time

import pytest

from tests.wecom_support import WECOM_SETTINGS, StaffChat, audit_log, wecom_peer


@pytest.fixture
def settings(make_settings):
    return make_settings(**WECOM_SETTINGS)


@pytest.fixture
def zhang(client) -> StaffChat:
    return StaffChat(client, "zhangsan")


async def test_url_verification_answers_the_decrypted_echostr(client):
    resp = await client.get(wecom_peer().verification("1616140317555161061"))
    assert resp.status == 200
    assert await resp.text() == "1616140317555161061"  # no quotes, BOM or newline


async def test_url_verification_with_a_forged_signature_is_refused(client):
    path = wecom_peer().verification("hello").replace("msg_signature=", "msg_signature=0")
    resp = await client.get(path)
    assert resp.status == 403 and "msg_signature" in await resp.text()


async def test_url_verification_for_another_corp_is_refused(client):
    resp = await client.get(wecom_peer("wwsomeoneelse000000").verification("hello"))
    assert resp.status == 403 and "another corp" in await resp.text()


async def test_staff_member_gets_the_desk(zhang):
    reply = await zhang.say("帮助")
    assert "张三，您好" in reply and "「接」" in reply


async def test_forged_signature_is_refused_with_403(client, zhang):
    signed = zhang.peer.sign(zhang.peer.text("zhangsan", "队列"))
    forged = signed.path.replace("msg_signature=", "msg_signature=f")
    resp = await client.post(forged, data=signed.body)
    assert resp.status == 403 and "bad msg_signature" in await resp.text()

    # a signature over other ciphertext does not carry over to this body
    other = zhang.peer.sign(zhang.peer.text("zhangsan", "结束"))
    resp = await client.post(other.path, data=signed.body)
    assert resp.status == 403


async def test_message_for_another_corp_id_is_refused(client):
    stranger_corp = StaffChat(client, "zhangsan", wecom_peer("wwanothercorp000000"))
    answer = await stranger_corp.post(stranger_corp.peer.text("zhangsan", "队列"))
    assert answer.status == 403 and "another corp id" in answer.body


async def test_stale_timestamp_and_missing_parameters_are_refused(client, zhang):
    answer = await zhang.post(zhang.peer.text("zhangsan", "队列"), timestamp=int(time.time()) - 3600)
    assert answer.status == 403 and "stale" in answer.body
    signed = zhang.peer.sign(zhang.peer.text("zhangsan", "队列"))
    resp = await client.post("/wecom", data=signed.body)
    assert resp.status == 403
    resp = await client.post(signed.path, data=b"<xml><Encrypt></Encrypt></xml>")
    assert resp.status == 400
    resp = await client.post(signed.path, data=b"not xml at all")
    assert resp.status == 400


@pytest.mark.parametrize("body", [
    # a billion laughs with its declarations hidden by a character the parser's clean-up drops
    '<?xml version="1.0"?><!\x01DOCTYPE xml [<!\x01ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!\x01ENTITY a{i} "{("&a" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 9))
    + ']><xml><Encrypt>&a8;</Encrypt></xml>',
    "<xml>" + "<a>" * 5000 + "</a>" * 5000 + "</xml>",
], ids=["hidden-laughs", "deep"])
async def test_a_hostile_envelope_is_refused_before_its_signature_is_checked(client, caplog, body):
    """The envelope is read before its signature can be checked: no login is needed to send it."""
    resp = await client.post("/wecom", data=body.encode())
    assert resp.status == 400
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_replayed_nonce_with_another_body_is_refused(client, zhang):
    first = zhang.peer.sign(zhang.peer.text("zhangsan", "队列"), nonce="samenonce1")
    assert (await client.post(first.path, data=first.body)).status == 200
    second = zhang.peer.sign(zhang.peer.text("zhangsan", "结束"), nonce="samenonce1", timestamp=int(first.path.split("timestamp=")[1].split("&")[0]))
    resp = await client.post(second.path, data=second.body)
    assert resp.status == 403 and "replayed" in await resp.text()


async def test_non_staff_get_a_polite_refusal_only_and_it_is_audited(client, redis, settings):
    stranger = StaffChat(client, "zhaoliu")
    xml = stranger.peer.text("zhaoliu", "接 1", msg_id=777000111)
    reply = (await stranger.post(xml)).text
    assert "仅限登记的工作人员" in reply
    again = (await stranger.post(xml)).text  # WeCom's retry of the same message
    assert again == reply
    assert "仅限登记的工作人员" in await stranger.say("队列")

    refusals = [e for e in await audit_log(redis, settings) if e["actor"] == "zhaoliu"]
    assert [(e["action"], e["outcome"]) for e in refusals] == [("wecom.message", "refused")] * 2  # the retry is not a new attempt
    assert await redis.get(f"{settings.key_prefix}wecom:sess:{{zhaoliu}}") is None  # no conversation, nothing else


async def test_a_retry_gets_the_first_answer(zhang):
    xml = zhang.peer.text("zhangsan", "队列", msg_id=123456789)
    first = (await zhang.post(xml)).text
    assert "没有排队" in first
    assert (await zhang.post(xml)).text == first


async def test_media_from_staff_gets_a_text_only_note(zhang):
    answer = await zhang.post(zhang.peer.message("zhangsan", "image", PicUrl="http://x.invalid/a.jpg", MediaId="m1"))
    assert answer.status == 200 and "文字" in answer.text


async def test_unconfigured_wecom_app_says_so(serve):
    client = await serve(wecom_token="", wecom_aes_key="")
    resp = await client.get(wecom_peer().verification("hello"))
    assert resp.status == 503 and "not configured" in await resp.text()
