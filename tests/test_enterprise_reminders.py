"""Reminders before things lapse (#18 item 2): a licence 60, 30 and 7 days before it expires and
last year's 企业年报 in January and June, to every binder, once, through a restart, never while
the enterprise is muted, each recorded as a delivery.

Through the real webhook: people bind in chat, the platform and WeChat simulators run beside
the bot (as in production, so the bot can restart), and the scheduler's clock is moved on to
make the next sweep due."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.keys import Keys
from bot.services.enterprise_reminders import licence_reminder_id, sweep_id, threshold
from bot.settings import new_data_key
from bot.web.appkeys import SCHEDULER
from integrations.platform.simulator import create_platform_simulator
from integrations.wechat.simulator import create_wechat_simulator
from tests.support import Chat, received, wait_for

BEIJING = ZoneInfo("Asia/Shanghai")
HOUR = 3600
SECOND_BINDER = "oUser0000000000000000000005"


def test_a_licence_is_due_for_the_nearest_reminder_it_has_reached():
    days = [60, 30, 7]
    assert threshold(61, days) is None
    assert threshold(60, days) == 60 and threshold(31, days) == 60
    assert threshold(30, days) == 30 and threshold(25, days) == 30  # first seen late: only the one it reached
    assert threshold(7, days) == 7 and threshold(0, days) == 7
    assert threshold(-1, days) is None  # lapsed: the desk says so, no reminder


class World:
    """The simulators apart from the bot, and a bot that can be started again."""

    def __init__(self, serve, platform, wechat, platform_url: str, wechat_url: str):
        self.serve, self.platform, self.wechat = serve, platform, wechat
        self.outside = {"platform_url": platform_url, "wechat_api_url": wechat_url, "booking_data_key": new_data_key(),
                        "scheduler_poll_seconds": 0.1, "enterprise_reminder_hours": [0, 24]}
        self.shift = 0.0

    async def start(self):
        self.bot = await self.serve(**self.outside)
        self.app = self.bot.server.app
        shift = self.shift
        self.app[SCHEDULER].clock = lambda: time.time() + shift
        return self.bot

    async def sweep(self) -> None:
        """Move the bot's clock to the next hour and wait until that hour's sweep has run."""
        self.shift += HOUR
        shift = self.shift
        self.app[SCHEDULER].clock = lambda: time.time() + shift
        following = sweep_id(int((time.time() + shift) // HOUR) + 1)
        # A sweep that ran puts the next hour's on the scheduler as its last act.
        assert await wait_for(lambda: self.app[SCHEDULER].due_at(following), timeout=15), "the sweep did not run"

    async def reminders(self, user: str, title: str = "【证照到期提醒】", about: str = "") -> list[str]:
        return [t for t in await received(self.wechat, user, path="") if title in t and about in t]


async def bind_in_chat(chat: Chat, platform, credit_code: str, wechat) -> None:
    (await wechat.post("/_admin/interactions", json={"openid": chat.user})).release()  # a follower WeChat knows
    await chat.say("企业绑定")
    assert "验证码已发送" in await chat.say(credit_code)
    texts = (await (await platform.get(f"/_admin/enterprises/{credit_code}/texts")).json())["items"]
    assert "绑定成功" in await chat.say(texts[-1]["code"])


async def an_enterprise_with_a_renewable_licence(platform) -> tuple[str, dict]:
    enterprises = (await (await platform.get("/_admin/enterprises")).json())["items"]
    return next((e["profile"]["credit_code"], licence) for e in enterprises for licence in e["licences"] if licence["renewal_matter_name"])


async def expires_in(platform, licence: dict, days: int) -> str:
    """Set the licence to lapse `days` from the platform's today; returns the reminder it is then due for."""
    today = datetime.fromisoformat((await (await platform.get("/_admin/clock")).json())["now"]).astimezone(BEIJING).date()
    until = (today + timedelta(days=days)).isoformat()
    resp = await platform.post(f"/_admin/licences/{licence['id']}", json={"valid_until": until})
    assert resp.status == 200, await resp.text()
    return licence_reminder_id(licence["id"], until, days)


async def world(serve, aiohttp_server, aiohttp_client) -> World:
    platform_server = await aiohttp_server(create_platform_simulator())
    wechat_server = await aiohttp_server(create_wechat_simulator())
    return World(serve, await aiohttp_client(platform_server), await aiohttp_client(wechat_server),
                 str(platform_server.make_url("")), str(wechat_server.make_url("")))


async def test_a_licence_30_days_from_expiry_reminds_each_binder_once_through_a_restart_and_not_while_muted(
        serve, peer, redis, key_prefix, aiohttp_server, aiohttp_client):
    w = await world(serve, aiohttp_server, aiohttp_client)
    code, licence = await an_enterprise_with_a_renewable_licence(w.platform)
    thirty_days = await expires_in(w.platform, licence, 30)
    bot = await w.start()
    first, second = Chat(bot, peer), Chat(bot, peer, SECOND_BINDER)
    for person in (first, second):
        await bind_in_chat(person, w.platform, code, w.wechat)

    await w.sweep()
    for person in (first, second):
        mine = await wait_for(lambda: w.reminders(person.user, about=licence["licence_no"]), timeout=10)
        assert len(mine) == 1, mine
        assert "还有 30 天" in mine[0] and licence["renewal_matter_name"] in mine[0] and f"预约{licence['renewal_matter_name']}" in mine[0]
        record = await redis.hgetall(Keys(key_prefix).delivery(person.user, thirty_days))  # recorded as a delivery
        assert record[b"state"] == b"sent" and record[b"kind"] == b"reminder"
    await bot.close()  # the bot (and its scheduler) stops, and starts again

    bot = await w.start()
    first, second = Chat(bot, peer), Chat(bot, peer, SECOND_BINDER)
    await w.sweep()
    await w.sweep()
    for person in (first, second):
        assert len(await w.reminders(person.user, about=licence["licence_no"])) == 1  # none twice
        everything = await w.reminders(person.user)
        assert len(everything) == len(set(everything))  # nor any other licence's

    muted = await second.say("静音提醒")  # for the whole enterprise, every binder: said so
    assert "已静音" in muted and "2 个人都不再收到" in muted, muted
    seven_days = await expires_in(w.platform, licence, 7)
    await w.sweep()
    assert not await redis.exists(Keys(key_prefix).enterprise_reminded(seven_days))  # the sweep passed the muted enterprise by
    assert await w.app[SCHEDULER].due_at(seven_days) is None
    for person in (first, second):
        assert len(await w.reminders(person.user, about=licence["licence_no"])) == 1  # muted: nothing

    assert "已恢复" in await first.say("恢复提醒")
    await w.sweep()
    for person in (first, second):
        mine = await wait_for(lambda: _at_least(w.reminders(person.user, about=licence["licence_no"]), 2), timeout=10)
        assert mine and len(mine) == 2 and "还有 7 天" in mine[1]


async def test_last_years_annual_report_is_reminded_in_january_while_it_is_not_filed(
        serve, peer, aiohttp_server, aiohttp_client):
    w = await world(serve, aiohttp_server, aiohttp_client)
    code, _ = await an_enterprise_with_a_renewable_licence(w.platform)
    january = datetime(datetime.now(BEIJING).year + 1, 1, 6, 10, tzinfo=BEIJING)
    (await w.platform.post("/_admin/clock", json={"at": january.isoformat()})).release()
    (await w.platform.post(f"/_admin/enterprises/{code}/annual-reports/{january.year - 1}", json={"filed": False})).release()
    w.shift = january.timestamp() - time.time() - HOUR
    bot = await w.start()
    chat = Chat(bot, peer)
    await bind_in_chat(chat, w.platform, code, w.wechat)

    await w.sweep()
    sent = await wait_for(lambda: w.reminders(chat.user, "【企业年报提醒】"), timeout=10)
    assert len(sent) == 1 and f"{january.year - 1} 年度企业年报还没有报送" in sent[0]
    await w.sweep()  # later in January: not again
    assert len(await w.reminders(chat.user, "【企业年报提醒】")) == 1


async def _at_least(texts, n: int):
    found = await texts
    return found if len(found) >= n else None
