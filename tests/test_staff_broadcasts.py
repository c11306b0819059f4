"""Broadcasts written in WeCom chat, step by step, and the audiences citizens join themselves:
订阅通知 on a guide card (a matter and its department) and binding an enterprise (its industry).

Staff chat through the real /wecom callback (signed and encrypted), citizens through /wechat;
the sender worker sends through the embedded WeChat simulator; everything lives in the real Redis."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.web.appkeys import CATALOG
from tests.support import get_session, wait_for
from tests.test_subscriptions import CREDIT_CODE, texted_code
from tests.wecom_support import WECOM_SETTINGS, StaffChat, audit_log

STAFF = [
    {"userid": "zhangsan", "name": "张三", "roles": ["broadcaster"]},
    {"userid": "lisi", "name": "李四", "roles": ["approver"]},
    {"userid": "wangwu", "name": "王五", "roles": ["broadcaster", "approver"]},
    {"userid": "zhaoliu", "name": "赵六", "roles": ["agent"]},
]
#: Small chunks and short waits, so the sender finishes within a test.
FAST = dict(broadcast_template_batch=10, broadcast_mass_batch=20, broadcast_lease_seconds=2.0, broadcast_poll_seconds=0.05,
            broadcast_retry_seconds=0.1, broadcast_rate_backoff_seconds=0.2, broadcast_template_per_second=2000)


@pytest.fixture
def settings(make_settings):
    return make_settings(**{**WECOM_SETTINGS, "staff": STAFF, **FAST})


@pytest.fixture
def zhang(client) -> StaffChat:
    return StaffChat(client, "zhangsan")


@pytest.fixture
def li(client) -> StaffChat:
    return StaffChat(client, "lisi")


@pytest.fixture
def wang(client) -> StaffChat:
    return StaffChat(client, "wangwu")


def followers(n: int, tag: str = "F") -> list[str]:
    return [f"o{tag}{i:07d}xxxxxxxxxxxxxxxxxx" for i in range(n)]


async def follow(client, openids: list[str]) -> None:
    async with client.post("/sim/wechat/_admin/followers", json={"openids": openids}) as resp:
        assert resp.status == 200, await resp.text()


async def messages(client, kind: str, openid: str | None = None) -> list[dict]:
    params = {"kind": kind, **({"openid": openid} if openid else {})}
    async with client.get("/sim/wechat/_admin/messages", params=params) as resp:
        return (await resp.json())["messages"]


def broadcast_number(text: str) -> str:
    return re.search(r"群发 b(\d+)", text).group(1)


async def compose(staff: StaffChat, audience: list[str], *, title="国庆期间办事大厅安排", body="10月1日至7日大厅休息，网上办事照常。") -> str:
    """Write a broadcast in chat up to its preview; returns the preview."""
    assert "标题" in await staff.say("发通知")
    assert "正文" in await staff.say(title)
    assert "发给谁" in await staff.say(body)
    reply = ""
    for answer in audience:
        reply = await staff.say(answer)
    return reply


async def until_done(staff: StaffChat, number: str) -> str:
    async def done():
        reply = await staff.say(f"进度 {number}")
        return reply if "已完成" in reply and "已提交微信" not in reply else None  # and WeChat has reported on its mass sends

    found = await wait_for(done, timeout=30, every=0.2)
    assert found, await staff.say(f"进度 {number}")
    return found


# Writing, submitting and approving in chat -----------------------------------------------------


async def test_a_broadcast_written_in_chat_is_approved_by_another_person_and_reaches_every_follower(client, zhang, li, wang, redis, settings):
    people = followers(45)
    await follow(client, people)

    preview = await compose(zhang, ["1"])
    assert "【国庆期间办事大厅安排】\n10月1日至7日大厅休息，网上办事照常。" in preview
    assert "全部关注用户，共 45 人" in preview and "群发消息" in preview
    number = broadcast_number(preview)
    submitted = await zhang.say("提交")
    assert f"已提交群发 b{number}" in submitted and "共 45 人" in submitted and "李四" in submitted
    assert not await messages(client, "mass")  # nothing goes out before approval
    # Those who may approve it are told it waits (they never were); its author is not asked.
    for approver in ("lisi", "wangwu"):
        asked = await wait_for(lambda: messages(client, "wecom", approver))
        assert any(f"b{number}" in m["content"] and "等您审批" in m["content"] and f"批准 {number}" in m["content"] for m in asked), asked
    assert not any("等您审批" in m["content"] for m in await messages(client, "wecom", "zhangsan"))

    # The author may not approve (no role); an approver who wrote nothing sees it pending and approves.
    assert "没有审批群发的权限" in await zhang.say(f"批准 {number}")
    pending = await li.say("待审批")
    assert f"b{number}「国庆期间办事大厅安排」" in pending and "45 人" in pending and "张三撰写" in pending
    approved = await li.say(f"批准 b{number}")
    assert f"已批准群发 b{number}" in approved and "审批：李四" in approved

    done = await until_done(zhang, number)
    assert "已送达 45 人" in done and "剩余 0 人" in done and "进度 100%" in done
    got = [m["openid"] for m in await messages(client, "mass")]
    assert sorted(got) == sorted(people)  # every follower, once
    assert await wait_for(lambda: messages(client, "wecom", "zhangsan"))  # the report to its author
    assert "没有待审批" in await li.say("待审批")

    trail = [(e["actor"], e["action"], e["outcome"]) for e in await audit_log(redis, settings) if e["target"] == f"b{number}"]
    assert trail[:5] == [("zhangsan", "broadcast.create", "ok"), ("zhangsan", "broadcast.preview", "ok"),
                         ("zhangsan", "broadcast.submit", "ok"), ("system", "broadcast.approvers.wecom", "ok"),
                         ("lisi", "broadcast.approve", "ok")]


async def test_approving_ones_own_broadcast_in_chat_is_refused_and_audited(client, wang, li, redis, settings):
    await follow(client, followers(3))
    number = broadcast_number(await compose(wang, ["1"]))
    await wang.say("提交")
    refused = await wang.say(f"批准 {number}")
    assert "不能审批自己撰写的群发" in refused
    assert "待审批" in await wang.say(f"进度 {number}")
    entries = [e for e in await audit_log(redis, settings) if e["action"] == "broadcast.approve"]
    assert [(e["actor"], e["outcome"], e["detail"]["reason"]) for e in entries] == [("wangwu", "refused", "own broadcast")]
    # Anyone else with the role may; and the cancel of a broadcast already sent is refused politely.
    assert "已批准" in await li.say(f"批准 {number}")
    await until_done(li, number)
    assert "不能这样操作" in await wang.say(f"撤销 {number}")


async def test_steps_can_be_corrected_backed_out_of_and_cancelled(client, zhang, redis, settings):
    await follow(client, followers(4))
    assert "标题" in await zhang.say("发通知")
    assert "1 到 40 个字" in await zhang.say("长" * 41)
    assert "正文" in await zhang.say("大厅停电通知")
    assert "标题" in await zhang.say("返回")  # back to the title
    await zhang.say("大厅停电通知")
    assert "发给谁" in await zhang.say("明天上午大厅停电，请改天办理。")
    assert "1 到 7 之间的序号" in await zhang.say("9")
    assert "行政区划代码" in await zhang.say("5")
    assert "2 到 6 位数字" in await zhang.say("广安区")
    nobody = await zhang.say("511699")  # no bound enterprise there
    assert "目前没有人" in nobody
    assert "发给谁" in await zhang.say("返回")
    preview = await zhang.say("1")
    assert "共 4 人" in preview
    first = broadcast_number(preview)
    assert "发给谁" in await zhang.say("修改")  # the previewed draft is dropped
    assert "已放弃" in await zhang.say("取消")
    assert "「发通知」" in await zhang.say("帮助")  # back at the desk
    assert "已取消" in await zhang.say(f"进度 {first}")
    # Nothing was submitted, nothing sent; dropped drafts are cancelled in the audit log.
    actions = [(e["action"], e["outcome"]) for e in await audit_log(redis, settings) if e["action"].startswith("broadcast.")]
    assert ("broadcast.submit", "ok") not in actions and ("broadcast.cancel", "ok") in actions
    assert not await messages(client, "mass")


async def test_pause_resume_and_cancel_from_chat(client, zhang, li, redis, settings):
    await follow(client, followers(5))
    number = broadcast_number(await compose(zhang, ["1"]))
    await zhang.say("提交")
    assert "不能这样操作" in await li.say(f"暂停 {number}")  # not sending yet
    assert f"已撤销群发 b{number}" in await li.say(f"撤销 {number}")
    assert "已取消" in await zhang.say(f"进度 {number}")
    assert "不能这样操作" in await li.say(f"批准 {number}")
    recent = await zhang.say("群发")
    assert f"b{number}「国庆期间办事大厅安排」" in recent and "已取消" in recent
    assert "没有这条群发" in await zhang.say("进度 999")
    # An agent without any broadcast role is told so, and cannot write one.
    zhao = StaffChat(client, "zhaoliu")
    assert "没有撰写群发的权限" in await zhao.say("发通知")


async def test_a_paused_broadcast_resumes_where_it_stopped(serve, make_settings, redis):
    # Template messages at 20 a second: the broadcast is still going when the approver pauses it.
    overrides = {**WECOM_SETTINGS, "staff": STAFF, **FAST, "broadcast_template_per_second": 20, "broadcast_concurrency": 2}
    client = await serve(**overrides)
    people = followers(60, "P")
    await follow(client, people)
    prefix = make_settings(**overrides).key_prefix
    await redis.sadd(f"{prefix}sub:dept:区医疗保障局", *people)
    zhang, li = StaffChat(client, "zhangsan"), StaffChat(client, "lisi")
    preview = await compose(zhang, ["4", "区医疗保障局"])
    assert "订阅「区医疗保障局」的用户，共 60 人" in preview and "模板消息" in preview
    number = broadcast_number(preview)
    await zhang.say("提交")
    await li.say(f"批准 {number}")
    paused = await li.say(f"暂停 {number}")
    assert f"已暂停群发 b{number}" in paused and "继续" in paused
    await asyncio.sleep(0.5)  # whatever was in flight lands
    progress = await zhang.say(f"进度 {number}")
    sent_so_far = len(await messages(client, "template"))
    assert "已暂停" in progress and sent_so_far < 60 and re.search(r"剩余 (\d+) 人", progress).group(1) != "0"
    assert f"已继续发送群发 b{number}" in await li.say(f"继续 {number}")
    assert "已送达 60 人" in await until_done(zhang, number)
    got = [m["openid"] for m in await messages(client, "template")]
    assert sorted(got) == sorted(people)  # nobody twice, nobody left out


# Audiences citizens join themselves --------------------------------------------------------------


@pytest.fixture
async def chat(chat, app):
    await asyncio.wait_for(app[CATALOG].ready.wait(), timeout=90)
    await follow(chat.client, [chat.user])
    return chat


async def guide_card(chat) -> str:
    reply = await chat.say("个体户注册")
    if "【" not in reply:
        reply = await chat.say("1")
    assert "【" in reply and "6. 订阅通知" in reply
    return reply


async def test_subscribing_to_a_matters_notices_on_the_guide_card_brings_its_broadcasts(chat, client, app, zhang, li, redis, settings):
    await guide_card(chat)
    guide = app[CATALOG].guide((await get_session(redis, settings, chat.user))["data"]["code"])
    subscribed = await chat.say("6")
    assert "会第一时间告诉您" in subscribed and f"「{guide.name}」和{guide.department}" in subscribed
    assert "回复「取消通知」可随时退订" in subscribed and "6. 订阅通知" not in subscribed  # the answer alone, no menu again
    assert "会第一时间告诉您" in await chat.say("订阅通知")  # saying it twice does no harm

    preview = await compose(zhang, ["3", guide.code], title="个体户登记新规", body="12月1日起个体户登记可全程网办。")
    assert "共 1 人" in preview
    number = broadcast_number(preview)
    await zhang.say("提交")
    await li.say(f"批准 {number}")
    assert "已送达 1 人" in await until_done(zhang, number)
    sent = await messages(client, "template", chat.user)
    assert len(sent) == 1 and "个体户登记新规" in str(sent[0]["content"])

    # Its department's subscribers are the same person; after 取消通知 neither audience has them.
    dept = await compose(zhang, ["4", guide.department])
    assert "共 1 人" in dept
    await zhang.say("取消")
    assert "不再给您发送" in await chat.say("取消通知")
    assert "目前没有人" in await compose(zhang, ["3", guide.code])
    await zhang.say("取消")


async def test_取消通知_away_from_the_card_stops_the_notices_the_card_promised(chat, app, zhang, redis, settings):
    """回复「取消通知」可随时退订: after leaving the card (菜单) 取消通知 still stops them (it was
    searched as a matter); said again, there is nothing left to stop."""
    await guide_card(chat)
    guide = app[CATALOG].guide((await get_session(redis, settings, chat.user))["data"]["code"])
    assert "会第一时间告诉您" in await chat.say("6")
    await chat.say("菜单")
    stopped = await chat.say("不想收这个事的通知了")  # said in a sentence: searched as a matter
    assert "已退订" in stopped and "1 个事项" in stopped and "您要办的是不是" not in stopped, stopped
    assert "目前没有人" in await compose(zhang, ["3", guide.code])
    await zhang.say("取消")
    assert "没有订阅事项的政策通知" in await chat.say("取消通知")


async def test_binding_an_enterprise_files_it_under_its_industry_for_broadcasts(chat, client, zhang, li):
    body = {"enterprise": {"name": "广安市川味餐饮管理有限公司", "credit_code": CREDIT_CODE, "phone": "13698761234",
                           "industry": "住宿和餐饮业"}}
    async with client.post("/sim/platform/_admin/cases", json=body) as resp:
        assert resp.status == 201, await resp.text()
    await chat.say("企业绑定")
    assert "验证码已发送" in await chat.say(CREDIT_CODE)
    assert "绑定成功" in await chat.say(await texted_code(client))

    preview = await compose(zhang, ["6", "住宿和餐饮业"], title="餐饮企业燃气安全检查", body="请于本周内完成燃气安全自查。")
    assert "已绑定企业（行业「住宿和餐饮业」）的联系人，共 1 人" in preview
    number = broadcast_number(preview)
    await zhang.say("提交")
    await li.say(f"批准 {number}")
    assert "已送达 1 人" in await until_done(zhang, number)
    sent = await messages(client, "template", chat.user)
    assert len(sent) == 1 and "燃气安全" in str(sent[0]["content"])
    assert "目前没有人" in await compose(zhang, ["6", "建筑业"])  # another industry: nobody


async def test_a_policy_written_in_chat_finds_the_opted_in_elders_and_staff_see_only_counts(chat, client, app, peer, zhang, li):
    """政策找人 in WeCom: the rules and the matter typed in one line, the exact count at preview,
    approval by another person; 授权统计 gives counts, never people."""
    from tests.support import Chat
    from tests.test_enterprise_desk import platform_reachable
    from tests.test_policies import residents, subscribe

    await platform_reachable(app)
    elders, young = await residents(client, min_age=80), await residents(client, max_age=50)
    elder, other = Chat(client, peer, "oPolicyWeCom0000000000000001"), Chat(client, peer, "oPolicyWeCom0000000000000002")
    assert "已为您订阅政策推送" in await subscribe(elder, elders[0])
    assert "已为您订阅政策推送" in await subscribe(other, young[0])
    matter = next(iter(app[CATALOG].summaries.values()))

    assert "政策找人" in await compose(zhang, ["7"], title="高龄津贴", body="年满 80 周岁的老人可按月领取高龄津贴。")
    puzzled = await zhang.say("会跳舞的人")
    assert "没有读懂「会跳舞的人」" in puzzled and "申请事项" in puzzled
    preview = await zhang.say(f"80周岁以上；事项 {matter.name}")
    assert "共 1 人" in preview and "80 周岁以上" in preview and matter.name in preview
    number = re.search(r"政策 b(\d+)", preview).group(1)
    await zhang.say("提交")
    assert not await messages(client, "template", elder.user)  # nothing before the approval
    await li.say(f"批准 {number}")
    assert "已送达 1 人" in await until_done(zhang, number)
    sent = await messages(client, "template", elder.user)
    assert len(sent) == 1 and "高龄津贴" in str(sent[0]["content"])
    assert await messages(client, "template", other.user) == []

    counts = await li.say("授权统计")
    assert "授权匹配的 2 人" in counts and "订阅政策推送的 2 人" in counts
    assert elders[0]["id_number"] not in counts and elder.user not in counts
