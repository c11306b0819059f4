"""The WeChat / WeCom client against the simulator over real HTTP, with tokens shared in a real Redis.

Each test plays what an operator would notice: what the user received, which error the bot got,
how many tokens WeChat had to issue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import time

import aiohttp
import pytest
from aiohttp import web

from bot.lifetime import die_with_parent
from integrations.wechat import (
    AccessTokenRejected, DailyQuotaExceeded, InvalidOpenID, IPNotWhitelisted, MassQuotaExhausted, MediaGone, MediaTooLarge, MinuteRateLimited,
    NotFollowing, OutsideServiceWindow, ServiceMessageLimit, SubscriptionRefused, SystemBusy, WeChatAPIError,
    WeChatClient, WeChatPusher, WeChatTimeout, WeChatUnavailable, WeComClient,
)
from integrations.wechat.pusher import user_ref
from integrations.wechat.simulator import SimulatorConfig, create_wechat_simulator
from tests.support import ROOT

APPID, SECRET = "wxsim00000000000001", "app-secret"
CORPID, CORPSECRET, AGENTID = "wwsim000000000001", "corp-secret", 1000002
ALICE = "oAlice000000000000000000001"
BOB = "oBob00000000000000000000001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """The simulator's idea of now, moved by the test (the 48 h window, the day's quota)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Admin:
    """The simulator's /_admin/ endpoints: the users' and the operator's side of WeChat."""

    def __init__(self, http: aiohttp.ClientSession, base: str):
        self.http, self.base = http, base.rstrip("/")

    async def post(self, name: str, body: dict | None = None) -> dict:
        async with self.http.post(f"{self.base}/_admin/{name}", json=body or {}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def get(self, name: str, **params) -> dict:
        async with self.http.get(f"{self.base}/_admin/{name}", params=params) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def received(self, openid: str) -> list[dict]:
        return (await self.get("messages", openid=openid))["messages"]

    async def texts(self, openid: str) -> list[str]:
        return [m["content"] for m in await self.received(openid)]

    async def user_writes(self, openid: str, at: float | None = None) -> None:
        await self.post("interactions", {"openid": openid, **({"at": at} if at else {})})

    async def follow(self, *openids: str) -> None:
        await self.post("followers", {"openids": list(openids)})

    async def fault(self, endpoint: str, **fault) -> None:
        await self.post("faults", {"endpoint": endpoint, **fault})

    async def calls(self, endpoint: str) -> int:
        return (await self.get("stats"))["calls"].get(endpoint, 0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig()


@pytest.fixture
async def sim(aiohttp_server, sim_config, clock):
    return await aiohttp_server(create_wechat_simulator(sim_config, clock=clock))


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def base_url(sim) -> str:
    return str(sim.make_url("/"))


@pytest.fixture
def admin(http, base_url) -> Admin:
    return Admin(http, base_url)


@pytest.fixture
def wechat(http, base_url, redis, key_prefix) -> WeChatClient:
    return WeChatClient(APPID, SECRET, redis, key_prefix=key_prefix, base_url=base_url, session=http, timeout=2.0)


@pytest.fixture
def wecom(http, base_url, redis, key_prefix) -> WeComClient:
    return WeComClient(CORPID, CORPSECRET, AGENTID, redis, key_prefix=key_prefix, base_url=base_url, session=http, timeout=2.0)


# Customer-service messages: what the user sees, and when WeChat refuses.


async def test_a_text_reaches_the_user_in_chinese(wechat, admin):
    await admin.user_writes(ALICE)
    await wechat.send_text(ALICE, "您的预约已确认：明天 9:30，市民中心 3 号窗口。")
    await wechat.send_news(ALICE, [{"title": "办事指南", "description": "营业执照办理", "url": "https://example.gov.cn/g/1"}])

    received = await admin.received(ALICE)
    assert [m["kind"] for m in received] == ["custom", "custom"]
    assert received[0]["content"] == "您的预约已确认：明天 9:30，市民中心 3 号窗口。"
    assert received[1]["content"]["articles"][0]["title"] == "办事指南"


async def test_a_reply_with_choices_arrives_as_a_menu_to_tap_and_one_without_as_text(wechat, admin):
    await admin.user_writes(ALICE)
    await wechat.send_reply(ALICE, "请选择日期（回复序号）：\n7. 12月8日（周二）\n8. 12月9日（周三）\n回复「更多」接着看。")
    await wechat.send_reply(ALICE, "已取消。\n1. 只有一项不算选择")
    menu, text = await admin.received(ALICE)
    assert menu["menu"] == [{"id": "7", "content": "12月8日（周二）"}, {"id": "8", "content": "12月9日（周三）"}]
    assert menu["content"].startswith("请选择日期") and "8. 12月9日（周三）" in menu["content"] and menu["content"].endswith("接着看。")
    assert text["menu"] is None and text["content"] == "已取消。\n1. 只有一项不算选择"


async def test_a_tap_on_a_menu_item_reaches_the_dialog_as_the_choice_number():
    from bot.web.channels.wechat import to_incoming

    tap = to_incoming({"FromUserName": ALICE, "ToUserName": "gh_1", "MsgType": "text", "Content": "12月9日（周三）",
                       "bizmsgmenuid": "8", "MsgId": "1", "CreateTime": "1"})
    assert tap.text == "8" and tap.extra["menu_label"] == "12月9日（周三）"
    typed = to_incoming({"FromUserName": ALICE, "ToUserName": "gh_1", "MsgType": "text", "Content": "8", "MsgId": "2", "CreateTime": "1"})
    assert typed.text == "8" and "menu_label" not in typed.extra


async def test_a_client_that_escapes_unicode_would_show_escapes_to_the_user(wechat, admin, http, base_url):
    await admin.user_writes(ALICE)
    token = await wechat.access_token()
    body = {"touser": ALICE, "msgtype": "text", "text": {"content": "你好"}}
    async with http.post(f"{base_url}cgi-bin/message/custom/send", params={"access_token": token}, data=json.dumps(body)) as resp:
        assert (await resp.json())["errcode"] == 0
    assert await admin.texts(ALICE) == ["\\u4f60\\u597d"]


async def test_customer_service_messages_only_within_48_hours_of_the_users_last_message(wechat, admin, clock):
    await admin.follow(ALICE)
    with pytest.raises(OutsideServiceWindow) as refused:
        await wechat.send_text(ALICE, "您好")
    assert refused.value.errcode == 45015 and not refused.value.retryable

    await admin.user_writes(ALICE)
    await wechat.send_text(ALICE, "您好")
    clock.advance(47 * 3600)
    await wechat.send_text(ALICE, "还在吗")

    clock.advance(2 * 3600)
    with pytest.raises(OutsideServiceWindow):
        await wechat.send_text(ALICE, "太晚了")
    assert await admin.texts(ALICE) == ["您好", "还在吗"]


async def test_at_most_five_customer_service_messages_per_interaction(wechat, admin):
    await admin.user_writes(ALICE)
    for i in range(5):
        await wechat.send_text(ALICE, f"第{i + 1}条")
    with pytest.raises(ServiceMessageLimit) as refused:
        await wechat.send_text(ALICE, "第6条")
    assert refused.value.errcode == 45047

    await admin.user_writes(ALICE)
    await wechat.send_text(ALICE, "用户又来消息了")
    assert len(await admin.texts(ALICE)) == 6


async def test_users_who_left_or_never_were_followers_are_refused(wechat, admin):
    await admin.user_writes(ALICE)
    await admin.post("unfollow", {"openids": [ALICE]})
    with pytest.raises(NotFollowing):
        await wechat.send_text(ALICE, "您好")
    with pytest.raises(InvalidOpenID):
        await wechat.send_text("oNobody00000000000000000000", "您好")
    assert await admin.texts(ALICE) == []


# Template and subscription messages.


@pytest.mark.parametrize("sim_config", [SimulatorConfig(template_daily_quota=3)])
async def test_template_messages_stop_at_the_daily_quota_until_the_next_day(wechat, admin, clock):
    await admin.follow(ALICE)
    for i in range(3):
        await wechat.send_template(ALICE, "TPL_CASE", {"case_no": f"2024-{i}", "status": "已受理"})
    with pytest.raises(DailyQuotaExceeded) as refused:
        await wechat.send_template(ALICE, "TPL_CASE", {"case_no": "2024-3", "status": "已受理"})
    assert refused.value.errcode == 45009 and not refused.value.retryable

    clock.advance(86400)
    await wechat.send_template(ALICE, "TPL_CASE", {"case_no": "2024-3", "status": "已受理"})
    assert len(await admin.received(ALICE)) == 4


async def test_a_retried_template_message_with_the_same_client_msg_id_is_sent_once(wechat, admin):
    await admin.follow(ALICE)
    data = {"first": "您的事项有新进展", "keyword1": {"value": "2024-0001", "color": "#173177"}}
    first = await wechat.send_template(ALICE, "TPL_CASE", data, url="https://example.gov.cn/c/1", client_msg_id="case-2024-0001-accepted")
    again = await wechat.send_template(ALICE, "TPL_CASE", data, url="https://example.gov.cn/c/1", client_msg_id="case-2024-0001-accepted")

    assert first == again
    [message] = await admin.received(ALICE)
    assert message["kind"] == "template" and message["id"] == first
    assert message["content"]["data"]["first"] == {"value": "您的事项有新进展"}
    assert message["content"]["url"] == "https://example.gov.cn/c/1"


async def test_subscription_notifications_honour_what_the_user_accepted(wechat, admin):
    await admin.follow(ALICE)
    await wechat.send_subscription(ALICE, "TPL_LONG", {"thing1": "预约提醒"}, page="pages/appt")
    await admin.post("subscriptions", {"openid": ALICE, "template_id": "TPL_ONCE", "times": 1})
    await wechat.send_subscription(ALICE, "TPL_ONCE", {"thing1": "办结通知"})
    with pytest.raises(SubscriptionRefused):
        await wechat.send_subscription(ALICE, "TPL_ONCE", {"thing1": "再发一次"})

    received = await admin.received(ALICE)
    assert [(m["kind"], m["content"]["template_id"]) for m in received] == [("subscribe", "TPL_LONG"), ("subscribe", "TPL_ONCE")]


# Tags and followers.


async def test_tags_group_followers_in_batches_of_fifty(wechat, admin):
    users = [f"oTag{i:024d}" for i in range(120)]
    await admin.follow(*users)
    tag = await wechat.create_tag("企业用户")
    await wechat.tag_users(tag.id, users)

    assert [(t.name, t.count) for t in await wechat.tags()] == [("企业用户", 120)]
    assert await admin.calls("/cgi-bin/tags/members/batchtagging") == 3
    assert [o async for o in wechat.tag_members(tag.id)] == users

    await wechat.untag_users(tag.id, users[:100])
    assert [o async for o in wechat.tag_members(tag.id)] == users[100:]
    with pytest.raises(WeChatAPIError) as refused:
        await wechat.create_tag("企业用户")
    assert refused.value.errcode == 45157


async def test_the_follower_list_is_read_page_by_page(wechat, admin):
    users = [f"oFan{i:024d}" for i in range(25_000)]
    for start in range(0, len(users), 5_000):
        await admin.post("followers", {"openids": users[start:start + 5_000]})

    followers = wechat.followers()
    assert await anext(followers) == users[0]
    assert await admin.calls("/cgi-bin/user/get") == 1  # only the first page has been fetched
    rest = [o async for o in followers]

    assert [users[0], *rest] == users
    assert await admin.calls("/cgi-bin/user/get") == 4  # 10,000 + 10,000 + 5,000, then an empty page


# Mass send.


async def test_a_retried_mass_send_with_the_same_clientmsgid_pushes_once(wechat, admin):
    await admin.follow(ALICE, BOB)
    tag = await wechat.create_tag("停水通知")
    await wechat.tag_users(tag.id, [ALICE, BOB])

    first = await wechat.mass_send_to_tag(tag.id, text="明日 9:00-17:00 停水", clientmsgid="broadcast-42")
    again = await wechat.mass_send_to_tag(tag.id, text="明日 9:00-17:00 停水", clientmsgid="broadcast-42")
    assert not first.duplicate and again.duplicate and again.msg_id == first.msg_id

    by_list = await wechat.mass_send([ALICE, BOB], text="政策解读", clientmsgid="broadcast-43")
    assert (await wechat.mass_send([ALICE, BOB], text="政策解读", clientmsgid="broadcast-43")).msg_id == by_list.msg_id

    for user in (ALICE, BOB):
        assert [(m["kind"], m["content"]) for m in await admin.received(user)] == [("mass", "明日 9:00-17:00 停水"), ("mass", "政策解读")]


async def test_a_mass_send_to_everyone_reaches_followers_only(wechat, admin):
    await admin.follow(ALICE, BOB)
    await admin.post("unfollow", {"openids": [BOB]})
    result = await wechat.mass_send_to_tag(None, media_id="MEDIA_POLICY_2024", clientmsgid="all-1")
    assert [m["content"] for m in await admin.received(ALICE)] == [{"mpnews": "MEDIA_POLICY_2024"}]
    assert (await admin.received(ALICE))[0]["id"] == result.msg_id
    assert await admin.received(BOB) == []


async def test_each_user_gets_at_most_four_mass_messages_a_month(wechat, admin):
    await admin.follow(ALICE, BOB)
    for i in range(4):
        await wechat.mass_send([ALICE, BOB], text=f"第{i + 1}期", clientmsgid=f"monthly-{i}")
    with pytest.raises(MassQuotaExhausted) as refused:
        await wechat.mass_send([ALICE, BOB], text="第5期", clientmsgid="monthly-4")
    assert refused.value.errcode == 45028
    assert len(await admin.received(ALICE)) == 4


@pytest.mark.parametrize("sim_config", [SimulatorConfig(mass_per_minute=2)])
async def test_mass_send_calls_are_limited_per_minute(wechat, admin, clock):
    await admin.follow(ALICE, BOB)
    await wechat.mass_send([ALICE, BOB], text="一", clientmsgid="m1")
    await wechat.mass_send([ALICE, BOB], text="二", clientmsgid="m2")
    with pytest.raises(MinuteRateLimited) as refused:
        await wechat.mass_send([ALICE, BOB], text="三", clientmsgid="m3")
    assert refused.value.retryable
    clock.advance(61)
    await wechat.mass_send([ALICE, BOB], text="三", clientmsgid="m3")


async def test_mass_send_to_one_openid_is_refused_like_wechat_does(wechat, admin):
    await admin.follow(ALICE)
    with pytest.raises(WeChatAPIError) as refused:
        await wechat.mass_send([ALICE], text="一个人", clientmsgid="solo")
    assert refused.value.errcode == 40130


# The access token: one for all processes, refreshed once when refused.


async def test_many_clients_share_one_token_through_redis(http, base_url, redis, key_prefix, admin):
    clients = [WeChatClient(APPID, SECRET, redis, key_prefix=key_prefix, base_url=base_url, session=http) for _ in range(10)]
    await admin.fault("/cgi-bin/stable_token", delay=0.2)  # everyone asks while the first fetch is in flight

    tokens = await asyncio.gather(*(c.access_token() for c in clients))

    assert len(set(tokens)) == 1
    assert (await admin.get("stats"))["tokens_issued"] == 1
    ttl = await redis.ttl(f"{key_prefix}wechat:token:{APPID}")
    assert 7200 - 300 - 5 <= ttl <= 7200 - 300


async def test_an_expired_token_is_refreshed_once_and_the_call_succeeds(wechat, admin):
    await admin.user_writes(ALICE)
    stale = await wechat.access_token()
    assert (await admin.post("expire-token", {"appid": APPID}))["expired"] == 1

    await wechat.send_text(ALICE, "令牌过期后照常送达")

    assert await admin.texts(ALICE) == ["令牌过期后照常送达"]
    assert await wechat.access_token() != stale
    stats = await admin.get("stats")
    assert stats["calls"]["/cgi-bin/message/custom/send"] == 2
    assert stats["calls"]["/cgi-bin/stable_token"] == 2


async def test_a_token_refused_again_after_the_refresh_raises_instead_of_looping(wechat, admin):
    await admin.user_writes(ALICE)
    await wechat.access_token()
    await admin.fault("/cgi-bin/message/custom/send", errcode=40001, times=10)

    with pytest.raises(AccessTokenRejected):
        await wechat.send_text(ALICE, "不会送达")

    stats = await admin.get("stats")
    assert stats["calls"]["/cgi-bin/message/custom/send"] == 2
    # the still-valid token came back from the normal fetch, so one forced refresh replaced it
    assert stats["calls"]["/cgi-bin/stable_token"] == 3
    assert await admin.texts(ALICE) == []


async def test_a_server_outside_the_ip_whitelist_gets_a_clear_error(wechat, admin):
    await admin.fault("/cgi-bin/stable_token", errcode=40164)
    with pytest.raises(IPNotWhitelisted):
        await wechat.access_token()


# Failures on the way: timeouts, busy system, broken answers.


async def test_a_slow_wechat_makes_the_client_fail_fast_with_its_timeout(http, base_url, redis, key_prefix, admin):
    client = WeChatClient(APPID, SECRET, redis, key_prefix=key_prefix, base_url=base_url, session=http, timeout=0.3)
    await admin.user_writes(ALICE)
    await client.access_token()
    await admin.fault("/cgi-bin/message/custom/send", delay=2)

    started = time.monotonic()
    with pytest.raises(WeChatTimeout) as failed:
        await client.send_text(ALICE, "慢")
    assert time.monotonic() - started < 1.0
    assert failed.value.retryable


async def test_busy_and_broken_answers_are_retryable_errors(wechat, admin):
    await admin.user_writes(ALICE)
    await admin.fault("/cgi-bin/message/custom/send", errcode=-1)
    with pytest.raises(SystemBusy) as busy:
        await wechat.send_text(ALICE, "一")
    assert busy.value.retryable

    await admin.fault("/cgi-bin/message/custom/send", status=502)
    with pytest.raises(WeChatUnavailable) as broken:
        await wechat.send_text(ALICE, "二")
    assert broken.value.retryable and "access_token" not in str(broken.value)

    await wechat.send_text(ALICE, "三")
    assert await admin.texts(ALICE) == ["三"]


# The bot's late replies.


class _Incoming:
    def __init__(self, user: str):
        self.user = user


async def test_the_pusher_delivers_late_replies_as_customer_service_messages(wechat, admin):
    await admin.user_writes(ALICE)
    await WeChatPusher(wechat).push(_Incoming(ALICE), ["查询结果如下：", "共 2 件在办事项。"])
    assert await admin.texts(ALICE) == ["查询结果如下：", "共 2 件在办事项。"]


async def test_the_pusher_hands_back_what_cannot_reach_the_user_now(wechat, admin, caplog):
    await admin.follow(BOB)
    await admin.user_writes(ALICE)
    pusher = WeChatPusher(wechat)
    with caplog.at_level(logging.WARNING, logger="integrations.wechat.pusher"):
        assert await pusher.push(_Incoming(BOB), ["窗口已关闭"]) == ["窗口已关闭"]
        assert await pusher.push(_Incoming(ALICE), [f"第{i + 1}段" for i in range(7)]) == ["第6段", "第7段"]

    assert await admin.texts(BOB) == []
    assert len(await admin.texts(ALICE)) == 5
    assert "45015" in caplog.text and "45047" in caplog.text and "2 of 7" in caplog.text
    assert user_ref(BOB) in caplog.text and BOB not in caplog.text and ALICE not in caplog.text


async def test_the_pusher_lets_other_errors_reach_the_caller(wechat, admin):
    await admin.user_writes(ALICE)
    await admin.fault("/cgi-bin/message/custom/send", errcode=-1)
    with pytest.raises(SystemBusy):
        await WeChatPusher(wechat).push(_Incoming(ALICE), ["稍后"])


# WeCom (staff).


async def test_wecom_app_messages_reach_staff_and_unknown_userids_are_reported(wecom, admin):
    await admin.post("wecom-users", {"userids": ["zhangsan", "lisi"]})
    result = await wecom.send_text(["zhangsan", "lisi", "nobody"], "新的人工服务请求：预约改期")

    assert result.invalid_users == ["nobody"]
    for userid in ("zhangsan", "lisi"):
        assert [(m["kind"], m["content"]) for m in await admin.received(userid)] == [("wecom", "新的人工服务请求：预约改期")]


async def test_wecom_drops_messages_beyond_thirty_a_minute_per_member_silently(wecom, admin):
    for i in range(31):
        await wecom.send_text(["zhangsan"], f"提醒{i}")
    assert len(await admin.received("zhangsan")) == 30
    assert (await admin.get("stats"))["wecom_dropped"] == 1


async def test_wecom_token_is_shared_and_refreshed_once_when_expired(http, base_url, redis, key_prefix, admin):
    a = WeComClient(CORPID, CORPSECRET, AGENTID, redis, key_prefix=key_prefix, base_url=base_url, session=http)
    b = WeComClient(CORPID, CORPSECRET, AGENTID, redis, key_prefix=key_prefix, base_url=base_url, session=http)
    assert await a.access_token() == await b.access_token()
    await admin.post("expire-token", {"corpid": CORPID})

    await b.send_text(["zhangsan"], "令牌过期后照常送达")

    stats = await admin.get("stats")
    assert stats["calls"]["/cgi-bin/gettoken"] == 2 and stats["calls"]["/cgi-bin/message/send"] == 2
    assert await admin.received("zhangsan")


# The simulator as the bot embeds it, and as a process of its own.


async def test_the_simulator_works_mounted_under_sim_wechat(aiohttp_server, http, redis, key_prefix):
    outer = web.Application()
    outer.add_subapp("/sim/wechat", create_wechat_simulator())
    server = await aiohttp_server(outer)
    base = str(server.make_url("/sim/wechat"))
    client = WeChatClient(APPID, SECRET, redis, key_prefix=key_prefix, base_url=base, session=http)
    admin = Admin(http, base)

    await admin.user_writes(ALICE)
    await client.send_text(ALICE, "嵌入模式")
    assert await admin.texts(ALICE) == ["嵌入模式"]
    assert (await admin.post("reset"))["reset"] is True
    assert await admin.texts(ALICE) == []


async def test_admin_refuses_faults_for_endpoints_it_does_not_have(http, base_url):
    async with http.post(f"{base_url}_admin/faults", json={"endpoint": "/cgi-bin/nope", "errcode": 1}) as resp:
        assert resp.status == 400
        assert "endpoint must be one of" in (await resp.json())["error"]


_TOKEN_SCRIPT = """
import asyncio, sys, time
from redis.asyncio import Redis
from integrations.wechat import WeChatClient

async def main(base, redis_url, prefix, start_at):
    redis = Redis.from_url(redis_url)
    async with WeChatClient("wxtwoprocesses00001", "secret", redis, key_prefix=prefix, base_url=base) as client:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        print(await client.access_token(), flush=True)
    await redis.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
"""


async def test_two_processes_asking_at_the_same_moment_make_wechat_issue_one_token(redis_url, redis, key_prefix, http):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YWTB_")}
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "integrations.wechat.simulator", "--port", str(port), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=die_with_parent(),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        admin = Admin(http, base)
        for _ in range(100):
            try:
                await admin.get("stats")
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        # The first fetch takes a while, so the second process surely arrives during it.
        await admin.fault("/cgi-bin/stable_token", delay=0.5)

        start_at = str(time.time() + 2.0)
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", _TOKEN_SCRIPT, base, redis_url, key_prefix, start_at, cwd=ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [await asyncio.wait_for(w.communicate(), 30) for w in workers]

        assert [w.returncode for w in workers] == [0, 0], [err.decode() for _, err in outputs]
        tokens = {out.decode().strip() for out, _ in outputs}
        assert len(tokens) == 1
        stats = await admin.get("stats")
        assert stats["tokens_issued"] == 1 and stats["calls"]["/cgi-bin/stable_token"] == 1
    finally:
        sim.terminate()
        await sim.wait()


# Temporary media ------------------------------------------------------------------------------


async def _sent_media(http, base_url: str, content: bytes, realm: str = "mp") -> str:
    async with http.post(f"{base_url.rstrip('/')}/_admin/media", data=content, params={"realm": realm, "type": "image"},
                         headers={"Content-Type": "application/octet-stream"}) as resp:
        return (await resp.json())["media_id"]


JPEG = b"\xff\xd8\xff\xe0" + b"\x42" * 5000


async def test_a_photo_a_person_sent_is_fetched_whole_and_a_larger_one_is_refused_before_it_is_read(wechat, http, base_url):
    media_id = await _sent_media(http, base_url, JPEG)
    media = await wechat.get_media(media_id, max_bytes=len(JPEG))
    assert media.content == JPEG and media.content_type == "image/jpeg"
    with pytest.raises(MediaTooLarge):
        await wechat.get_media(media_id, max_bytes=len(JPEG) - 1)
    with pytest.raises(MediaGone):
        await wechat.get_media("no-such-media", max_bytes=1024)


async def test_media_belong_to_their_app_and_a_refused_token_is_refreshed_once(wechat, wecom, http, base_url, admin):
    agents = await _sent_media(http, base_url, JPEG, realm="wecom")
    with pytest.raises(MediaGone):  # the Official Account does not see the WeCom app's media
        await wechat.get_media(agents, max_bytes=10_000)
    assert (await wecom.get_media(agents, max_bytes=10_000)).content == JPEG
    await admin.post("expire-token", {"appid": APPID})
    mine = await _sent_media(http, base_url, JPEG)
    assert (await wechat.get_media(mine, max_bytes=10_000)).content == JPEG


async def test_an_uploaded_picture_reaches_the_user_as_an_image_message_and_a_non_picture_is_refused(wechat, wecom, admin):
    await admin.user_writes(ALICE)
    media_id = await wechat.upload_media("image", JPEG, filename="photo.jpg", content_type="image/jpeg")
    await wechat.send_image(ALICE, media_id)
    [sent] = await admin.received(ALICE)
    assert sent["content"]["image"]["size"] == len(JPEG)
    with pytest.raises(WeChatAPIError) as refused:
        await wecom.upload_media("image", b"GIF89a" + b"\x00" * 10, filename="a.gif", content_type="image/gif")
    assert refused.value.errcode == 40005
    uploaded = await wecom.upload_media("image", JPEG, filename="photo.jpg", content_type="image/jpeg")
    assert (await wecom.send_image(["zhangsan"], uploaded)).msgid
    with pytest.raises(WeChatAPIError):  # WeChat's media id means nothing to WeCom
        await wecom.send_image(["zhangsan"], media_id)
