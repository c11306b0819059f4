"""[Progress & notifications], done means, driven through the chat like a person would: query a
case (查进度 -> number -> last 4 phone digits), reply 订阅, and hear each step of the case once,
in order, from the WeChat simulator; rate the finished case in one reply. And an enterprise
bound in chat (企业绑定 -> credit code -> texted code) hears every case of that enterprise.

The bot here is the one the `chat` fixture starts: its own notifier worker takes the platform's
signed events from the Redis stream and sends the notices."""

from __future__ import annotations

from tests.support import Chat
from tests.test_notifier import advance, notices, notices_count, settled
from tests.test_progress import new_case
from tests.test_subscriptions import CREDIT_CODE, enterprise_case, texted_code

BYSTANDER = "oUser0000000000000000000009"

#: Each step the platform announces, and the title of the notice a person gets for it.
STEPS = [
    ("accepted", {}, "【办件已受理】"),
    ("handed_over", {}, "【办件转交办理】"),
    ("materials_requested", {"materials": ["户口簿", "近期免冠照片"]}, "【需要补正材料】"),
    ("approved", {}, "【办件已办结】"),
]


def title(notice: str) -> str:
    return notice.split("】")[0] + "】"


async def step(client, user: str, case_no: str, to: str, count: int, **extra) -> list[str]:
    """Move the case one step and wait until `user` has `count` notices in all."""
    await advance(client, case_no, to, **extra)
    return await notices_count(client, user, count)


async def ratings_of(client, case_no: str) -> list[dict]:
    return (await (await client.get(f"/sim/platform/_admin/cases/{case_no}/ratings")).json())["ratings"]


async def test_query_subscribe_and_hear_every_step_once_in_order_then_rate(chat, client, redis, settings):
    case_no = await new_case(client)
    await Chat(client, chat.peer, BYSTANDER).say("你好")  # follows the account, subscribes to nothing

    assert "请输入办件编号" in await chat.say("查进度")
    assert "手机号的后 4 位" in await chat.say(case_no)
    card = await chat.say("5678")
    assert "【办件进度】" in card and case_no in card
    subscribed = await chat.say("订阅")
    assert "订阅成功" in subscribed and case_no in subscribed
    assert await notices(client, chat.user) == []

    for count, (to, extra, _) in enumerate(STEPS, start=1):
        received = await step(client, chat.user, case_no, to, count, **extra)
        assert [title(n) for n in received] == [t for _, _, t in STEPS[:count]], f"after {to}"

    assert await settled(redis, settings)  # every event handled: nothing more is on its way
    received = await notices(client, chat.user)
    assert [title(n) for n in received] == [t for _, _, t in STEPS]  # exactly one per step, in order
    assert all(f"您的办件 {case_no}" in n for n in received)
    assert "继续办理" in received[1] and "无需重新提交材料" in received[1]
    assert "1. 户口簿\n2. 近期免冠照片" in received[2]

    done = received[3]
    assert "结果：准予" in done
    # the 好差评 invitation, in stars where 5 is best, answered in its own words
    assert "请为这次办事打个分" in done and "「评价 5」（★★★★★ 非常满意）" in done and "「评价 1」（★ 非常不满意）" in done

    thanks = await chat.say("满意")
    assert "感谢您的评价：★★★★☆ 满意" in thanks
    assert [(r["level"], r["case_no"]) for r in await ratings_of(client, case_no)] == [("satisfied", case_no)]
    assert await notices(client, chat.user) == received  # nothing else arrived for them
    assert await notices(client, BYSTANDER) == []


async def test_an_enterprise_bound_in_chat_hears_about_each_of_its_cases(chat, client, redis, settings):
    first = await enterprise_case(client)
    second = await enterprise_case(client)

    assert "统一社会信用代码" in await chat.say("企业绑定")
    sent = await chat.say(CREDIT_CODE)
    assert "验证码已发送" in sent
    bound = await chat.say(await texted_code(client))
    assert "绑定成功" in bound and "广安市思源科技有限公司" in bound

    moves = [(first, "accepted", "【办件已受理】"), (second, "accepted", "【办件已受理】"),
             (second, "handed_over", "【办件转交办理】"), (first, "approved", "【办件已办结】")]
    for count, (case_no, to, _) in enumerate(moves, start=1):
        await step(client, chat.user, case_no, to, count)

    assert await settled(redis, settings)
    received = await notices(client, chat.user)
    assert [(title(n), case_no) for n, (case_no, _, _) in zip(received, moves)] == [(t, c) for c, _, t in moves]
    assert len(received) == len(moves)
    for notice, (case_no, _, _) in zip(received, moves):
        assert f"贵单位的办件 {case_no}" in notice
    assert "请为这次办事打个分" in received[3]
