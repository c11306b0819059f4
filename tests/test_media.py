"""Voice, photos and files over the real webhook: a voice message WeChat recognised is answered
as its text (mid-dialog too), one it did not is answered politely; a 补正 photo is fetched from
the (simulated) WeChat media API, judged, uploaded to the platform against the material the
person names and shown on the case's timeline; a bad file is refused with nothing uploaded; in a
hand-off photos reach the agent in WeCom and the agent's reach the citizen; anywhere else a
photo is told what photos are for here."""

from __future__ import annotations

import asyncio
import base64
import logging
import hashlib
import re
import struct
import zlib

import pytest

from bot.web.appkeys import CATALOG
from tests.support import Chat, person, wait_for
from tests.test_booking import drive
from tests.wecom_support import WECOM_SETTINGS, StaffChat

CASE = "51160220261102470001"  # the simulator's case that always awaits M1 and M2 (README)
PHONE_LAST4 = "8000"


@pytest.fixture
def settings(make_settings):
    return make_settings(**WECOM_SETTINGS)


@pytest.fixture
async def chat(chat, app):
    await asyncio.wait_for(app[CATALOG].ready.wait(), timeout=60)  # the search index, on a busy machine
    return chat


def jpeg(size: int = 4096, seed: bytes = b"a") -> bytes:
    """Bytes that begin like a JPEG (SOI + APP0 marker) and are `size` long."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    return (head + hashlib.sha256(seed).digest() * (size // 32 + 1))[:size]


def png() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def register(client, content: bytes, *, realm: str = "mp", kind: str = "image", filename: str = "IMG_0001.jpg",
                   content_type: str = "image/jpeg") -> str:
    """Someone sends a file: the (simulated) WeChat or WeCom keeps it; its media_id goes in the message."""
    if len(content) < 32 * 1024:
        resp = await client.post("/sim/wechat/_admin/media", json={
            "content_base64": base64.b64encode(content).decode(), "realm": realm, "type": kind, "filename": filename, "content_type": content_type})
    else:
        resp = await client.post("/sim/wechat/_admin/media", data=content,
                                 params={"realm": realm, "type": kind, "filename": filename, "content_type": content_type},
                                 headers={"Content-Type": "application/octet-stream"})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["media_id"]


async def send_photo(chat: Chat, client, content: bytes, **kwargs) -> str | None:
    media_id = await register(client, content, **kwargs)
    answer = await chat.post(chat.peer.message(chat.user, "image", PicUrl="http://mmbiz.invalid/p.jpg", MediaId=media_id))
    assert answer.status == 200, answer.body
    return answer.text


async def send_voice(chat: Chat, recognition: str | None) -> str | None:
    fields = {"MediaId": "voice-media-1", "Format": "amr"}
    if recognition is not None:
        fields["Recognition"] = recognition
    answer = await chat.post(chat.peer.message(chat.user, "voice", **fields))
    assert answer.status == 200, answer.body
    return answer.text


async def uploads(client, case_no: str = CASE) -> dict:
    resp = await client.get(f"/sim/platform/_admin/cases/{case_no}/uploads")
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def open_case(chat: Chat) -> str:
    assert "手机号的后 4 位" in await chat.say(CASE)
    card = await chat.say(PHONE_LAST4)
    assert "【办件进度】" in card and "需要补充材料" in card
    return card


# Voice ---------------------------------------------------------------------------------------------


async def test_a_recognised_voice_message_is_answered_as_its_text_and_said_back_first(chat):
    typed = await chat.say("菜单")
    heard = await send_voice(chat, "菜单。")
    assert heard.startswith("您说的是：菜单。")
    assert heard.split("\n", 1)[1].strip() == typed.strip()  # the same answer a typed 菜单 gets


async def test_a_recognised_voice_message_answers_the_booking_step_it_was_sent_to(chat):
    who = person(7)
    asked = await drive(chat, "预约", who, stop="请输入办事人的姓名")
    assert asked.startswith("请输入办事人的姓名")
    answer = await send_voice(chat, f"{who['name']}。")
    assert answer.startswith(f"您说的是：{who['name']}")
    assert "身份证号码" in answer  # the name step took it, and the next step is asked
    answer = await send_voice(chat, "人工")  # a global word works said aloud too
    assert "您说的是：人工" in answer and "人工" in answer.split("\n", 1)[1]


async def test_a_voice_message_without_recognition_is_answered_politely_with_a_way_to_a_person(chat):
    for recognition in (None, "  ", "。"):
        answer = await send_voice(chat, recognition)
        assert "听不了语音" in answer and "「人工」" in answer and "打字" in answer
        assert "您说的是" not in answer


# Photos and files for 补正 ---------------------------------------------------------------------------


async def test_a_photo_on_a_case_awaiting_materials_is_uploaded_against_the_material_named_and_shown_on_its_timeline(chat, client, caplog):
    caplog.set_level(logging.INFO)
    card = await open_case(chat)
    assert "直接在这里发照片或 PDF" in card
    photo = jpeg(300 * 1024, b"lease")  # a real photo's size: past the app's 64 KiB body limit
    asked = await send_photo(chat, client, photo)
    assert "这份材料是哪一项" in asked and "1. 经营者居民身份证（正反面）" in asked and "2. 经营场所使用证明（租赁合同）" in asked
    assert (await uploads(client))["items"] == []  # nothing is uploaded before the person says which

    counted = await chat.say("2")
    assert "计为补正材料「经营场所使用证明（租赁合同）」" in counted and "还差 1 项" in counted and "经营者居民身份证" in counted
    received = (await uploads(client))["items"]
    assert [(u["upload"]["material_id"], u["upload"]["sha256"], u["upload"]["size"]) for u in received] == [
        ("M2", hashlib.sha256(photo).hexdigest(), len(photo))]
    assert received[0]["filename"] == "photo.jpg"  # the sender's own file name is not passed on

    refreshed = await chat.say("刷新")
    assert "收到补正材料" in refreshed and "已收到「经营场所使用证明（租赁合同）」" in refreshed
    assert "经营场所使用证明（租赁合同） ✓ 已收到" in refreshed

    # The one material still missing, or another page of the one just counted: asked which.
    last = await chat.post(chat.peer.message(chat.user, "file", MediaId=await register(client, PDF, kind="file", filename="身份证.pdf",
                                                                                         content_type="application/pdf")))
    assert "1. 经营者居民身份证（正反面）" in last.text and "2. 经营场所使用证明（租赁合同）（再加一页）" in last.text, last.text
    last = await chat.say("1")
    assert "已收到您的PDF 文件，计为补正材料「经营者居民身份证（正反面）」" in last and "材料已经齐了" in last
    state = await uploads(client)
    assert sorted(u["upload"]["material_id"] for u in state["items"]) == ["M1", "M2"]
    assert all(m["status"] == "received" for m in state["requested_materials"])
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")  # (the test server's own access log)
    assert CASE not in logged and hashlib.sha256(photo).hexdigest() not in logged  # nothing personal logged


async def test_a_document_of_several_pages_is_taken_page_by_page(chat, client):
    """The contract has three pages: each photo after the first is offered as another page of the
    material just counted, and once every material has come, more pages still count for it."""
    await open_case(chat)
    await send_photo(chat, client, jpeg(seed=b"page1"))
    assert "有几页的材料" in await chat.say("2")  # page 1 of the contract
    asked = await send_photo(chat, client, jpeg(seed=b"page2"))
    assert "经营场所使用证明（租赁合同）（再加一页）" in asked
    assert "计为补正材料「经营场所使用证明（租赁合同）」" in await chat.say("2")
    await send_photo(chat, client, jpeg(seed=b"id-card"))
    assert "材料已经齐了" in await chat.say("1")
    third = await send_photo(chat, client, jpeg(seed=b"page3"))  # all came: one more page of the last one counted
    assert "计为补正材料「经营者居民身份证（正反面）」" in third and "不用再发" not in third, third
    items = (await uploads(client))["items"]
    assert sorted(u["upload"]["material_id"] for u in items) == ["M1", "M1", "M2", "M2"]
    done = await chat.say("好了就这些")
    assert "都收到了" in done and "没太明白" not in done, done


async def test_asking_how_to_send_the_materials_on_the_card_is_told_how(chat, client):
    await open_case(chat)
    told = await chat.say("我要补材料")
    assert "直接在这里发" in told and "没太明白" not in told, told
    # how the photos are taken and whether the original is wanted (both were 没太明白)
    original = await chat.say("拍照片可以吗 还是要原件")
    assert "直接在这里发" in original and "原件" in original and "没太明白" not in original, original
    pages = await chat.say("合同有5页 都要拍吗")
    assert "一页一页" in pages and "没太明白" not in pages, pages


async def test_which_material_may_be_said_by_its_name(chat, client):
    await open_case(chat)
    assert "这份材料是哪一项" in await send_photo(chat, client, jpeg(seed=b"contract"))
    counted = await chat.say("是租赁合同")
    assert "计为补正材料「经营场所使用证明（租赁合同）」" in counted
    assert [u["upload"]["material_id"] for u in (await uploads(client))["items"]] == ["M2"]


async def test_a_file_the_platform_would_refuse_is_refused_politely_and_nothing_is_uploaded(chat, client):
    await open_case(chat)
    gif = b"GIF89a" + b"\x00" * 2000
    answer = await send_photo(chat, client, gif, filename="a.gif", content_type="image/jpeg")  # a declared type is not believed
    assert "只收 JPG、PNG 照片或 PDF 文件" in answer
    too_big = jpeg(10 * 1024 * 1024 + 1, b"big")
    answer = await send_photo(chat, client, too_big)
    assert "太大" in answer and "10 MB" in answer
    assert (await uploads(client))["items"] == []
    # Asked which material, then the file turns out to be gone by the time it is named: nothing uploaded either.
    assert "这份材料是哪一项" in await send_photo(chat, client, png())
    (await client.post("/sim/wechat/_admin/reset")).release()
    assert "取不到" in await chat.say("1")
    assert (await uploads(client))["items"] == []


async def test_a_photo_for_a_case_not_awaiting_materials_is_refused_and_a_lost_verification_asks_again(chat, client, redis, settings):
    await open_case(chat)
    (await client.post(f"/sim/platform/_admin/cases/{CASE}/resume")).release()  # staff carry on: no 补正 any more
    answer = await send_photo(chat, client, jpeg())
    assert "不需要补正材料" in answer
    assert (await uploads(client))["items"] == []

    # Verification is asked at the moment of the upload: forgotten, the factor is asked again.
    (await client.post("/sim/platform/_admin/reset")).release()
    assert "需要补充材料" in await chat.say(CASE)  # verified before: the card opens straight away
    keys = [k async for k in redis.scan_iter(f"{settings.key_prefix}prog:cases:*")]
    assert keys, "where verified cases are kept has moved: this test must follow it"
    await redis.delete(*keys)
    answer = await send_photo(chat, client, jpeg())
    assert "手机号的后 4 位" in answer
    assert (await uploads(client))["items"] == []


# Photos anywhere else ---------------------------------------------------------------------------------


async def test_a_photo_outside_any_step_that_takes_one_says_what_photos_are_for(chat, client):
    for before in ("菜单", "预约"):
        await chat.say(before)
        answer = await send_photo(chat, client, jpeg())
        assert "补正" in answer and "「查进度」" in answer and "「人工」" in answer
        assert "请用文字" not in answer and "只能看懂文字" not in answer
    assert "要预约办理什么事" in answer  # the step it interrupted is asked again


# Photos in a hand-off ---------------------------------------------------------------------------------


async def test_photos_are_relayed_both_ways_in_a_handoff(chat, client):
    zhang = StaffChat(client, "zhangsan")
    number = int(re.search(r"#(\d+)", await chat.say("人工")).group(1))
    assert f"已接入 #{number}" in await zhang.say(f"接 {number}")

    photo = jpeg(200 * 1024, b"certificate")
    assert await send_photo(chat, client, photo) is None  # relayed: nothing to say back

    async def agent_images():
        resp = await client.get("/sim/wechat/_admin/messages", params={"openid": "zhangsan", "kind": "wecom"})
        return [m["content"]["image"] for m in (await resp.json())["messages"] if isinstance(m["content"], dict)]

    shown = await wait_for(agent_images)
    assert [(i["sha256"], i["size"]) for i in shown] == [(hashlib.sha256(photo).hexdigest(), len(photo))]
    assert f"#{number} 市民发来一张照片：" in await zhang.inbox()

    # Words said aloud reach the agent as the words WeChat heard; the citizen hears what was passed on.
    assert (await send_voice(chat, "我发的是营业执照")) == "您说的是：我发的是营业执照"
    assert f"#{number} 市民：我发的是营业执照" in await zhang.inbox()

    # The agent's picture, sent in the WeCom app, reaches the citizen as an image message.
    agents = png()
    media_id = await register(client, agents, realm="wecom", filename="示意图.png", content_type="image/png")
    answer = await zhang.post(zhang.peer.message("zhangsan", "image", PicUrl="http://wework.invalid/p.png", MediaId=media_id))
    assert answer.status == 200 and answer.text is None  # sent: nothing to tell the agent

    async def citizen_images():
        resp = await client.get("/sim/wechat/_admin/messages", params={"openid": chat.user, "kind": "custom"})
        return [m["content"]["image"] for m in (await resp.json())["messages"] if isinstance(m["content"], dict) and "image" in m["content"]]

    got = await wait_for(citizen_images)
    assert [(i["sha256"], i["content_type"]) for i in got] == [(hashlib.sha256(agents).hexdigest(), "image/png")]

    # A picture that is not one is refused on either side, politely.
    assert "JPG 或 PNG" in await send_photo(chat, client, PDF, content_type="application/pdf")
    bad = await register(client, b"GIF89a" + b"\x00" * 100, realm="wecom")
    refused = await zhang.post(zhang.peer.message("zhangsan", "image", MediaId=bad))
    assert "只能转 JPG、PNG 图片" in refused.text
    assert len(await citizen_images()) == 1


async def test_a_photo_while_waiting_for_an_agent_says_it_can_be_sent_once_connected(chat, client):
    await chat.say("人工")
    answer = await send_photo(chat, client, jpeg())
    assert "工作人员接入后" in answer and "请用文字" not in answer


@pytest.mark.parametrize("said, material", [("第二个", "M2"), ("最后一个", "M2"), ("第一个", "M1")])
async def test_which_material_may_be_said_as_its_place_in_the_list(h, sims, said, material):
    """这份材料是哪一项: 第二个 answers it as 2 does (in the harness: the photo fetched from the
    simulated WeChat, uploaded to the simulated platform)."""
    await h.say(CASE)
    assert "需要补充材料" in await h.say(PHONE_LAST4)
    media_id = await register(sims, jpeg(seed=said.encode()))
    asked = await h.message({"MsgType": "image", "PicUrl": "http://mmbiz.invalid/p.jpg", "MediaId": media_id})
    assert "哪一项" in asked
    counted = await h.say(said)
    assert "已收到您的照片" in counted, counted
    assert [u["upload"]["material_id"] for u in (await uploads(sims))["items"]] == [material]


async def test_a_bound_enterprise_sends_its_cases_missing_material_here_without_an_applicants_phone(chat, client):
    """A company's 补正 card says 直接在这里发照片, but its binder's photo asked for the applicant's
    phone digits or ID number, which a company has none of: a dead end. The binding is their proof."""
    from tests.test_progress import advance
    from tests.test_subscriptions import bind, enterprise_case

    case_no = await enterprise_case(client)
    await advance(client, case_no, "accepted", "materials_requested", materials=["营业执照副本"])
    assert "绑定成功" in await bind(chat, client)
    card = await chat.say(case_no)
    assert "【办件进度】" in card and "需要补充材料" in card, card
    counted = await send_photo(chat, client, jpeg(8 * 1024, b"licence"))
    assert "计为补正材料「营业执照副本」" in counted, counted
    assert len((await uploads(client, case_no))["items"]) == 1
    stranger = Chat(client, chat.peer, "oStrangerOfTheCompany00001")
    assert "手机号的后 4 位" in await stranger.say(case_no)  # anyone else still proves who they are first
