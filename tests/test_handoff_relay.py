"""人工服务: what a citizen writes reaches their agent even past WeCom's rate, which the WeCom
simulator enforces as WeCom does (30 app messages a minute per member, the rest dropped without
a word). Its minute is shortened to 10 s here, for the bot and the simulator alike."""

from __future__ import annotations

import re

import pytest

from tests.support import Chat
from tests.support import wait_for
from tests.wecom_support import WECOM_SETTINGS, StaffChat

MINUTE = 10.0


@pytest.fixture
def settings(make_settings):
    return make_settings(**WECOM_SETTINGS, wecom_rate_minute_seconds=MINUTE)


async def test_a_burst_past_wecoms_rate_reaches_the_agent_in_batches_and_the_citizen_is_told(client, chat: Chat):
    (await client.post("/sim/wechat/_admin/config", json={"wecom_minute_seconds": MINUTE})).release()
    zhang = StaffChat(client, "zhangsan")
    number = int(re.search(r"#(\d+)", await chat.say("人工")).group(1))
    assert f"已接入 #{number}" in await zhang.say(f"接 {number}")

    said = [f"第{i}条：材料里的照片要几寸的？" for i in range(1, 36)]
    answers = [await chat.say(text) for text in said]

    relayed_prefix = f"#{number} 市民："

    async def relayed() -> list[str]:
        return [line[len(relayed_prefix):] for message in await zhang.inbox() for line in message.split("\n")
                if line.startswith(relayed_prefix)]

    async def everything_relayed():
        return len(await relayed()) >= len(said)

    await wait_for(everything_relayed, timeout=4 * MINUTE)
    stats = await (await client.get("/sim/wechat/_admin/stats")).json()
    got = await relayed()
    assert stats["wecom_dropped"] == 0 and got == said, f"{len(got)} of {len(said)} relayed, {stats['wecom_dropped']} dropped by WeCom"
    # What waited went out joined: fewer app messages than texts, and never more than WeCom takes.
    assert len(await zhang.inbox()) <= 2 * 30
    told = [a for a in answers if a]
    assert len(told) == 1 and "一并转给工作人员" in told[0], answers  # told once, when the burst began to wait


async def test_when_the_agents_hour_is_spent_the_citizen_is_told_how_long_it_will_be(serve, peer):
    """WeCom's hourly cap (3 here, its hour shrunk to 60 s): the citizen hears it will be about a
    minute, and WeCom is never asked to take what it would drop."""
    client = await serve(**WECOM_SETTINGS, wecom_member_messages_per_hour=3, wecom_rate_minute_seconds=1.0)
    (await client.post("/sim/wechat/_admin/config", json={"wecom_per_member_hour": 3, "wecom_minute_seconds": 1.0})).release()
    chat, zhang = Chat(client, peer), StaffChat(client, "zhangsan")
    number = int(re.search(r"#(\d+)", await chat.say("人工")).group(1))  # the agents' first app message
    assert f"已接入 #{number}" in await zhang.say(f"接 {number}")
    answers = [await chat.say(f"第{i}条") for i in range(1, 5)]
    assert answers[:2] == [None, None]  # the second and third app messages of the hour
    assert answers[2] and "约 1 分钟后" in answers[2] and answers[3] is None, answers
    relayed = [m for m in await zhang.inbox() if m.startswith(f"#{number} 市民：")]
    assert relayed == [f"#{number} 市民：第1条", f"#{number} 市民：第2条"]
    assert (await (await client.get("/sim/wechat/_admin/stats")).json())["wecom_dropped"] == 0
