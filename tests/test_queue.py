"""The hall queue (取号, 排到哪了, 叫号): a number in chat at the hall, by the hall's 签到码 or the
person's location; priority for an appointment of the day; a walk-in number for a matter; how
many are ahead; and the push "请到 X 办理" when a window calls it. Dialog logic in the harness
(`h`); the whole of it once over the real webhook (`chat`)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.web.appkeys import CATALOG
from tests.support import person
from tests.test_booking import appointments_of, drive
from tests.test_notifier import notices, notices_count

HALL = "gaq-zwzx"  # 广安区政务服务中心: serves the ID card matters and the passport
SHANGHAI = ZoneInfo("Asia/Shanghai")


def next_weekday(after: date) -> date:
    day = after + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def set_clock(sims, at: datetime) -> None:
    resp = await sims.post("/sim/platform/_admin/clock", json={"at": at.isoformat()})
    assert resp.status == 200, await resp.text()


async def open_hours(sims) -> None:
    """The platform's now: a weekday at 10:00, when every hall is open."""
    await set_clock(sims, datetime.combine(next_weekday(datetime.now(SHANGHAI).date()), datetime.min.time(), SHANGHAI).replace(hour=10))


async def checkin(sims, hall: str = HALL) -> dict:
    resp = await sims.get(f"/sim/platform/_admin/halls/{hall}/checkin-code")
    assert resp.status == 200
    return await resp.json()


async def walk_in_for(talk, matter: str, named: str) -> str:
    """Name the matter; when candidates come, pick the one whose name has `named`."""
    reply = await talk.say(matter)
    if "回复序号" in reply:
        reply = await talk.say(next(line.split(".")[0] for line in reply.splitlines() if named in line))
    return reply


async def at_the_hall(talk, reply: str, hall_name: str = "广安区政务服务中心") -> str:
    """Several halls serve the matter: the code alone does not say which; name ours."""
    if "您在哪个大厅" in reply:
        reply = await talk.say(next(line.split(".")[0] for line in reply.splitlines() if line.endswith(hall_name)))
    return reply


async def call_until(sims, number: str, hall: str = HALL) -> dict:
    """Windows call their next numbers until `number` is called; returns that ticket."""
    for _ in range(60):
        resp = await sims.post(f"/sim/platform/_admin/halls/{hall}/call-next", json={})
        called = (await resp.json())["called"]
        assert called is not None, f"nobody left to call before {number}"
        if called["number"] == number:
            return called
    raise AssertionError(f"{number} never called")


@pytest.mark.parametrize("said", ["我到大厅了 怎么取号", "在哪拿号啊", "我要取个号", "拿个号", "我在大厅，怎么排队", "帮我抽个号"])
async def test_a_number_asked_for_in_a_sentence_is_the_queue(h, sims, said):
    await open_hours(sims)
    asked = await h.say(said)
    assert "要办什么事" in asked and "没太明白" not in asked, asked
    assert (await h.session()).dialog == "queue"


@pytest.mark.parametrize(("said", "matter"), [("取号办护照", "普通护照签发"), ("我到大厅了，要取个号办社保卡补办", "社会保障卡补领")])
async def test_a_number_asked_for_with_its_matter_takes_that_matter(h, sims, said, matter):
    """取号办身份证 opened the 身份证 guide, and 签到码 typed after it got 请说说您想办什么事."""
    await open_hours(sims)
    await h.catalog_ready()
    asked = await h.say(said)
    session = await h.session()
    assert session.dialog == "queue", asked
    if "签到码" not in asked:  # several matters fit: the one meant among them
        assert matter in asked, asked
        asked = await h.say("1")
    assert "签到码" in asked, asked
    ticket = await at_the_hall(h, await h.say((await checkin(sims))["code"]))
    assert "您的排队号：" in ticket, ticket


@pytest.mark.parametrize("said", ["办护照要排队吗", "身份证号码在哪看", "取号码"])
async def test_a_question_about_queueing_or_a_number_is_no_request_for_one(h, said):
    await h.catalog_ready()
    await h.say(said)
    assert (await h.session()).dialog != "queue"


async def test_a_walk_in_number_by_the_checkin_code_says_how_many_are_ahead(h, sims):
    await open_hours(sims)
    asked = await h.say("现场取号")
    assert "要办什么事" in asked
    where = await walk_in_for(h, "护照", "护照")
    assert "签到码" in where and "位置" in where
    ticket = await at_the_hall(h, await h.say((await checkin(sims))["code"]))
    assert "您的排队号：" in ticket and "（预约优先）" not in ticket
    assert "前面还有" in ticket and "预计" in ticket and "分钟" in ticket


async def test_a_wrong_code_or_a_place_far_away_gets_the_reason_and_no_number(h, sims):
    await open_hours(sims)
    await h.say("现场取号")
    assert "签到码" in await walk_in_for(h, "补办身份证", "居民身份证")
    code = (await checkin(sims))["code"]
    wrong = "%06d" % ((int(code) + 1) % 10**6)
    assert "签到码不对" in await at_the_hall(h, await h.say(wrong))
    far = await h.message({"MsgType": "location", "Location_X": "30.00", "Location_Y": "104.00", "Scale": "15", "Label": "成都"})
    assert "还有点远" in far and "排队号" not in far
    assert "没有取号" in await h.say("排到哪了")


async def test_an_appointment_of_the_day_becomes_a_priority_number_by_location(h, sims):
    me = person(41)
    assert (await drive(h, "2", me)).startswith("预约成功")
    [appointment] = await appointments_of(sims, me)
    # Not the day yet (the platform's today is before the appointment's day): the platform says
    # so, and a walk-in number is offered instead
    refused = await h.say("取号")
    assert "签到码" in refused and appointment["matter_name"] in refused
    not_today = await h.say((await checkin(sims, appointment["hall_id"]))["code"])
    assert "请当天到大厅取号" in not_today and "现场取号" in not_today and "要办什么事" in not_today
    await h.say("菜单")
    start = datetime.fromisoformat(f"{appointment['date']}T{appointment['start']}:00+08:00")
    await set_clock(sims, max(start - timedelta(minutes=10), start.replace(hour=9, minute=0)))  # on the day, the hall open
    where = await h.say("取号")
    assert appointment["matter_name"] in where and "签到码" in where
    hall = await checkin(sims, appointment["hall_id"])
    ticket = await h.message({"MsgType": "location", "Location_X": str(hall["lat"]), "Location_Y": str(hall["lng"]), "Scale": "15", "Label": "大厅"})
    assert "您的排队号：Y" in ticket and "（预约优先）" in ticket
    # 取号 again gives the same number, never a second one
    number = ticket.split("您的排队号：")[1][:4]
    assert f"您的排队号：{number}" in await h.say("取号")


async def test_take_a_number_ask_where_it_stands_and_be_called_to_a_window(chat, client, redis, settings):
    """Over the real webhook: 取号 -> 排到哪了 -> called to a window (the simulator's control)."""
    await asyncio.wait_for(client.app[CATALOG].ready.wait(), timeout=90)
    await open_hours(client)
    assert "要办什么事" in await chat.say("取号")  # no appointment: a walk-in number
    where = await walk_in_for(chat, "护照", "护照")
    ticket = await at_the_hall(chat, await chat.say((await checkin(client))["code"]))
    assert "您的排队号：" in ticket
    number = ticket.split("您的排队号：")[1].split("\n")[0][:4]

    standing = await chat.say("排到哪了")
    assert f"您的排队号：{number}" in standing and "前面还有" in standing and "分钟" in standing

    called = await call_until(client, number)
    pushed = await notices_count(client, chat.user, 1)
    assert len(pushed) == 1 and f"请到 {called['window_name']} 办理" in pushed[0] and number in pushed[0]
    now = await chat.say("排到哪了")
    assert f"已叫到您的号 {number}" in now and called["window_name"] in now
    assert await notices(client, chat.user) == pushed  # told once


async def test_a_walk_in_number_for_a_whole_bundle(h, sims):
    await open_hours(sims)
    await h.say("现场取号")
    where = await walk_in_for(h, "企业开办一件事", "企业开办")
    assert "签到码" in where
    ticket = await at_the_hall(h, await h.say((await checkin(sims))["code"]))
    assert "您的排队号：" in ticket and "企业开办一件事" in ticket


@pytest.mark.parametrize("asked", ["我前面还有几个人", "轮到我了没", "排到我了吗"])
async def test_where_one_stands_asked_in_a_sentence_is_the_queue(h, asked):
    """我前面还有几个人 got 没太明白 (only 排到哪了 and a few fixed words worked)."""
    await h.catalog_ready()
    told = await h.say(asked)
    assert "没有取号" in told and "没太明白" not in told, told
