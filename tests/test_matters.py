"""Finding a matter the way people ask, and being told exactly what THEIR situation needs."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import CATALOG


@pytest.fixture
async def chat(chat, app):
    await asyncio.wait_for(app[CATALOG].ready.wait(), timeout=20)
    return chat


async def test_lost_id_card_from_the_main_menu_finds_the_matter(chat):
    reply = await chat.say("身份证丢了")
    assert "居民身份证挂失申报、丢失招领" in reply or "居民身份证办理" in reply


async def test_guide_card_and_materials_for_my_situation_only(chat):
    reply = await chat.say("补办身份证")
    if "回复序号" in reply and "【" not in reply:  # several candidates: pick the ID card matter
        lines = [line for line in reply.splitlines() if "居民身份证办理" in line]
        reply = await chat.say(lines[0].split(".")[0])
    assert "【居民身份证办理（包括临时）】" in reply
    assert "办理时限" in reply and "收费" in reply and "1. 材料清单" in reply

    question = await chat.say("材料清单")
    assert "请问您是哪种情况" in question and "首次申领" in question and "证件丢失补领" in question
    lost = [line for line in question.splitlines() if "证件丢失补领" in line][0].split(".")[0]
    question = await chat.say(lost)
    assert "户口登记信息变更" in question  # the next question, one at a time
    question = await chat.say("否")
    assert "未满16周岁" in question
    materials = await chat.say("2")

    assert "证件丢失补领" in materials
    assert "居民身份证申领登记表" in materials and "数码相片回执" in materials
    # nothing that only other situations need
    for other in ("原居民身份证", "监护人居民身份证", "户口登记项目变更证明", "居民户口簿"):
        assert other not in materials


async def test_a_minor_applying_for_the_first_time_needs_the_guardian(chat):
    await chat.say("办身份证")
    await chat.event("CLICK", "MENU_HOME")
    reply = await chat.say("第一次办身份证")
    if "【" not in reply:
        pick = [line for line in reply.splitlines() if "居民身份证办理" in line][0].split(".")[0]
        reply = await chat.say(pick)
    await chat.say("1")  # 材料清单
    await chat.say("首次申领")
    await chat.say("否")
    materials = await chat.say("是")  # under 16
    assert "监护人居民身份证" in materials and "居民户口簿" in materials
    assert "原居民身份证" not in materials


async def test_follow_ups_process_where_and_online(chat):
    reply = await chat.say("个体户注册")
    if "【" not in reply:
        reply = await chat.say("1")
    assert "【" in reply
    assert "办理流程" in await chat.say("办理流程")
    where = await chat.say("3")
    assert "地址" in where
    online = await chat.say("在线办理")
    assert "http" in online or "暂不支持网上办理" in online


async def test_nonsense_finds_nothing_and_says_so(chat):
    reply = await chat.say("今天天气怎么样")
    assert "没找到" in reply and "请说说您想办什么事" in reply


async def test_candidates_when_unsure_are_numbered_with_departments(chat):
    reply = await chat.say("社保卡")
    if "回复序号" in reply and "【" not in reply:
        assert "（" in reply and "1. " in reply
        assert "【" in await chat.say("1")
    else:
        assert "社会保障卡" in reply
