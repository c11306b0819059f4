"""订阅 after a query, 我的订阅, 退订; 企业绑定 verified by a code texted to the enterprise's
registered contact, several binders per enterprise, and 解绑."""

from __future__ import annotations

from bot.app import SERVICES
from bot.services.subscriptions import Added
from integrations.platform.identifiers import credit_check_char
from tests.support import Chat
from tests.test_progress import advance, new_case

FIRM17 = "91511602MA6XK3P2T"
CREDIT_CODE = FIRM17 + credit_check_char(FIRM17)
UNKNOWN17 = "91511602MA6XK3P9Q"
UNKNOWN_FIRM = UNKNOWN17 + credit_check_char(UNKNOWN17)
OTHER = "oUser0000000000000000000002"


async def enterprise_case(client, credit_code: str = CREDIT_CODE) -> str:
    body = {"enterprise": {"name": "广安市思源科技有限公司", "credit_code": credit_code, "phone": "13698761234"}}
    resp = await client.post("/sim/platform/_admin/cases", json=body)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["case_no"]


async def texted_code(client, credit_code: str = CREDIT_CODE) -> str:
    """The latest code the platform texted to the enterprise's contact phone."""
    texts = (await (await client.get(f"/sim/platform/_admin/enterprises/{credit_code}/texts")).json())["items"]
    return texts[-1]["code"]


async def bind(chat: Chat, client) -> str:
    await chat.say("企业绑定")
    sent = await chat.say(CREDIT_CODE)
    assert "验证码已发送" in sent
    return await chat.say(await texted_code(client))


async def test_subscribe_after_a_query_list_and_unsubscribe(chat, client, app):
    case_no = await new_case(client)
    await chat.say(case_no)
    await chat.say("5678")
    subscribed = await chat.say("订阅")
    assert "订阅成功" in subscribed and case_no in subscribed
    assert "已经订阅" in await chat.say("订阅")
    subscriptions = app[SERVICES].subscriptions
    assert await subscriptions.recipients(case_no, None) == {chat.user: "case"}

    listing = await chat.say("我的订阅")
    assert "您订阅的办件" in listing and f"1. " in listing and case_no in listing

    await chat.say("菜单")
    listing = await chat.say("退订")
    assert case_no in listing and "回复序号退订" in listing
    removed = await chat.say("1")
    assert "已退订" in removed and case_no in removed
    assert await subscriptions.recipients(case_no, None) == {}
    assert "还没有订阅" in await chat.say("我的订阅")


async def test_unsubscribe_from_the_card(chat, client, app):
    case_no = await new_case(client)
    await chat.say(case_no)
    await chat.say("5678")
    assert "订阅成功" in await chat.say("1")
    card = await chat.say("刷新")
    assert "已订阅" in card
    assert "已退订" in await chat.say("退订")
    assert await app[SERVICES].subscriptions.recipients(case_no, None) == {}


async def test_subscribing_needs_a_verified_case(chat, client, app):
    case_no = await new_case(client)
    reply = await chat.say("订阅")
    assert "还没有订阅" in reply and "查进度" in reply
    await chat.say(case_no)
    await chat.say("0000")  # wrong factor: no card, nothing to subscribe to
    await chat.say("订阅")
    assert await app[SERVICES].subscriptions.recipients(case_no, None) == {}


async def test_enterprise_binding_with_a_code_sent_to_the_registered_contact(chat, client, app):
    first = await enterprise_case(client)
    await chat.say("企业绑定")
    wrong_digit = CREDIT_CODE[:-1] + ("0" if CREDIT_CODE[-1] != "0" else "1")
    assert "校验码" in await chat.say(wrong_digit)
    sent = await chat.say(CREDIT_CODE.lower())
    assert "验证码已发送" in sent and "136****1234" in sent
    code = await texted_code(client)
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    reply = await chat.say(wrong)
    assert "验证码不正确" in reply and "还可以再试 4 次" in reply
    bound = await chat.say(code)
    assert "绑定成功" in bound and "广安市思源科技有限公司" in bound and "1 件办件" in bound

    later = await enterprise_case(client)  # a case filed after binding is covered too
    subscriptions = app[SERVICES].subscriptions
    for case_no in (first, later):
        assert await subscriptions.recipients(case_no, CREDIT_CODE) == {chat.user: "enterprise"}
    assert "绑定的企业" in await chat.say("我的订阅")
    await chat.say("企业绑定")
    assert "已经绑定" in await chat.say(CREDIT_CODE)


async def test_several_people_bind_one_enterprise_and_one_unbinds(chat, client, app, peer):
    case_no = await enterprise_case(client)
    colleague = Chat(client, peer, OTHER)
    assert "绑定成功" in await bind(chat, client)
    assert "绑定成功" in await bind(colleague, client)
    subscriptions = app[SERVICES].subscriptions
    assert await subscriptions.recipients(case_no, CREDIT_CODE) == {chat.user: "enterprise", OTHER: "enterprise"}

    listing = await chat.say("解绑")
    assert "广安市思源科技有限公司" in listing and "回复序号解除绑定" in listing
    assert "已解除" in await chat.say("1")
    assert await subscriptions.recipients(case_no, CREDIT_CODE) == {OTHER: "enterprise"}
    assert "还没有绑定企业" in await chat.say("解绑")


async def test_code_used_up_after_five_wrong_tries_and_resend(chat, client):
    await enterprise_case(client)
    await chat.say("企业绑定")
    await chat.say(CREDIT_CODE)
    code = await texted_code(client)
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    for _ in range(4):
        assert "验证码不正确" in await chat.say(wrong)
    assert "已失效" in await chat.say(wrong)
    assert "已失效" in await chat.say(code)  # the right code no longer works either
    assert "验证码已发送" in await chat.say("重新发送")
    assert "绑定成功" in await chat.say(await texted_code(client))


async def test_an_unregistered_enterprise_is_refused_politely(chat, client):
    await chat.say("企业绑定")
    reply = await chat.say(UNKNOWN_FIRM)
    assert "没有查到这个企业" in reply


async def test_enterprise_binder_sees_movements_through_recipients_only_while_bound(chat, client, app):
    case_no = await enterprise_case(client)
    await bind(chat, client)
    await advance(client, case_no, "accepted")
    subscriptions = app[SERVICES].subscriptions
    assert chat.user in await subscriptions.recipients(case_no, CREDIT_CODE)
    await chat.say("解绑")
    await chat.say("1")
    assert chat.user not in await subscriptions.recipients(case_no, CREDIT_CODE)


async def test_the_store_subscribes_nobody_to_a_case_they_never_opened(chat, client, app):
    """Whatever a dialog believes, `subscribe` asks whether this person verified this case, and a
    notice goes only to subscribers whose verification still holds."""
    store = app[SERVICES].subscriptions
    case_no = await new_case(client)
    assert await store.subscribe(chat.user, case_no) == Added.unverified
    assert await store.recipients(case_no, None) == {} and await store.subscribed(chat.user) == []

    await chat.say(case_no)
    await chat.say("5678")
    assert await store.subscribe(chat.user, case_no) == Added.added
    assert await store.recipients(case_no, None) == {chat.user: "case"}
    await store.forget(chat.user, case_no)  # the remembered factor stopped opening it
    assert await store.recipients(case_no, None) == {} and await store.subscribed(chat.user) == []
