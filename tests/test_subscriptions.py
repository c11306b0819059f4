"""订阅 after a query, 我的订阅, 退订; 企业绑定 verified by a code texted to the enterprise's
registered contact, several binders per enterprise, and 解绑.

All dialog logic: it runs in the in-memory harness (`h`, tests/harness.py)."""

from __future__ import annotations

import pytest

from bot.services.subscriptions import Added
from integrations.platform.identifiers import credit_check_char
from tests.support import Chat
from tests.harness import Harness, Speaker
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


async def bind(chat: Chat | Harness | Speaker, client) -> str:
    await chat.say("企业绑定")
    sent = await chat.say(CREDIT_CODE)
    assert "验证码已发送" in sent
    return await chat.say(await texted_code(client))


async def test_the_binding_prompt_never_shows_digits_that_open_the_enterprises_cases(h, sims):
    """验证码已发送到企业登记的联系人手机 193****5549: anyone who typed a credit code learnt its contact
    phone's last 4 digits, the second factor of the company's cases (a stranger opened one, followed
    it, uploaded to it and rated it)."""
    await enterprise_case(sims)  # the platform knows the enterprise from its case
    await h.say("企业绑定")
    sent = await h.say(CREDIT_CODE)
    enterprises = (await (await sims.get("/sim/platform/_admin/enterprises")).json())["items"]
    phone = next(e["contact_phone"] for e in enterprises if e["profile"]["credit_code"] == CREDIT_CODE)
    assert "验证码已发送" in sent and phone[-4:] not in sent and phone[3:7] not in sent, sent


async def test_a_credit_code_typed_alone_starts_binding_that_enterprise(h, sims):
    """91511602… typed alone at the menu (or after a card) listed 供电报装 and 住房公积金提取."""
    await enterprise_case(sims)
    sent = await h.say(CREDIT_CODE)
    assert "验证码已发送" in sent and "您要办的是不是" not in sent, sent
    assert "绑定成功" in await h.say(await texted_code(sims))


async def test_subscribe_after_a_query_list_and_unsubscribe(h, sims):
    case_no = await new_case(sims)
    await h.say(case_no)
    await h.say("5678")
    subscribed = await h.say("订阅")
    assert "订阅成功" in subscribed and case_no in subscribed
    assert "已经订阅" in await h.say("订阅")
    subscriptions = h.services.subscriptions
    assert await subscriptions.recipients(case_no, None) == {h.user: "case"}

    listing = await h.say("我的订阅")
    assert "您订阅的办件" in listing and f"1. " in listing and case_no in listing

    await h.say("菜单")
    listing = await h.say("退订")
    assert case_no in listing and "回复序号退订" in listing
    asked = await h.say("1")
    assert "确定退订办件" in asked and case_no in asked and "2. 保留" in asked, asked
    assert await subscriptions.recipients(case_no, None) != {}  # nothing removed before the yes
    removed = await h.say("1")
    assert "已退订" in removed and case_no in removed
    assert await subscriptions.recipients(case_no, None) == {}
    assert "还没有订阅" in await h.say("我的订阅")


async def test_a_number_tapped_by_mistake_in_my_subscriptions_removes_nothing(h, sims):
    """我的订阅 → 1 asks first; 点错了 / 2 / 保留 keeps the subscription and says so."""
    case_no = await new_case(sims)
    await h.say(case_no)
    await h.say("5678")
    assert "订阅成功" in await h.say("1")
    await h.say("我的订阅")
    for keep in ("哎呀点错了", "2"):
        assert "确定退订办件" in await h.say("1")
        kept = await h.say(keep)
        assert "照常推送" in kept and "已退订" not in kept, (keep, kept)
    assert h.user in await h.services.subscriptions.recipients(case_no, None)
    assert "确定退订办件" in await h.say("1")
    left = await h.say("算了")  # it said 预约没有任何改动: this was no appointment
    assert "没有改动" in left and "预约没有" not in left, left
    assert h.user in await h.services.subscriptions.recipients(case_no, None)
    await h.say("我的订阅")
    assert "没有改动" in await h.say("啊点错了")  # at the list: nothing removed, and it closes
    await h.say("我的订阅")
    assert "确定退订办件" in await h.say("把这个退订了")  # the only one listed, in words
    assert "已退订" in await h.say("确定")


async def test_unsubscribe_from_the_card(h, sims):
    case_no = await new_case(sims)
    await h.say(case_no)
    await h.say("5678")
    assert "订阅成功" in await h.say("1")
    card = await h.say("刷新")
    assert "已订阅" in card
    assert "已退订" in await h.say("退订")
    assert await h.services.subscriptions.recipients(case_no, None) == {}


async def test_subscribing_needs_a_verified_case(h, sims):
    case_no = await new_case(sims)
    reply = await h.say("订阅")
    assert "还没有订阅" in reply and "查进度" in reply
    await h.say(case_no)
    await h.say("0000")  # wrong factor: no card, nothing to subscribe to
    await h.say("订阅")
    assert await h.services.subscriptions.recipients(case_no, None) == {}


async def test_enterprise_binding_with_a_code_sent_to_the_registered_contact(h, sims):
    first = await enterprise_case(sims)
    await h.say("企业绑定")
    wrong_digit = CREDIT_CODE[:-1] + ("0" if CREDIT_CODE[-1] != "0" else "1")
    assert "校验码" in await h.say(wrong_digit)
    sent = await h.say(CREDIT_CODE.lower())
    assert "验证码已发送" in sent and "136********" in sent and "1234" not in sent
    code = await texted_code(sims)
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    reply = await h.say(wrong)
    assert "验证码不正确" in reply and "还可以再试 4 次" in reply
    bound = await h.say(code)
    assert "绑定成功" in bound and "广安市思源科技有限公司" in bound and "1 件办件" in bound

    later = await enterprise_case(sims)  # a case filed after binding is covered too
    subscriptions = h.services.subscriptions
    for case_no in (first, later):
        assert await subscriptions.recipients(case_no, CREDIT_CODE) == {h.user: "enterprise"}
    assert "绑定的企业" in await h.say("我的订阅")
    await h.say("企业绑定")
    assert "已经绑定" in await h.say(CREDIT_CODE)


async def test_waiting_said_while_binding_waits_and_is_never_searched(h, sims):
    """稍等 我问下老板 at the code's step listed 企业开办一件事 and labour arbitration."""
    await enterprise_case(sims)
    await h.say("企业绑定")
    waiting = await h.say("稍等，我问下老板代码是多少")
    assert "不着急" in waiting and "您要办的是不是" not in waiting, waiting
    assert "验证码已发送" in await h.say(CREDIT_CODE)
    waiting = await h.say("验证码在财务手机上 等一下")
    assert "6 位数字" in waiting and "验证码不正确" not in waiting, waiting
    assert "绑定成功" in await h.say(await texted_code(sims))


async def test_several_people_bind_one_enterprise_and_one_unbinds(h, sims):
    case_no = await enterprise_case(sims)
    colleague = h.as_user(OTHER)
    assert "绑定成功" in await bind(h, sims)
    assert "绑定成功" in await bind(colleague, sims)
    subscriptions = h.services.subscriptions
    assert await subscriptions.recipients(case_no, CREDIT_CODE) == {h.user: "enterprise", OTHER: "enterprise"}

    listing = await h.say("解绑")
    assert "广安市思源科技有限公司" in listing and "回复序号解除绑定" in listing
    assert "确定解除与「广安市思源科技有限公司」的绑定吗" in await h.say("1")
    assert "已解除" in await h.say("确定")
    assert await subscriptions.recipients(case_no, CREDIT_CODE) == {OTHER: "enterprise"}
    assert "还没有绑定企业" in await h.say("解绑")


async def test_the_confirmations_own_words_typed_answer_it(h, sims):
    """确定解除 typed at 确定解除…吗 (1. 确定解除 2. 保留) listed 抵押备案解除 and unbound nothing."""
    case_no = await enterprise_case(sims)
    assert "绑定成功" in await bind(h, sims)
    await h.say("解绑")
    assert "确定解除与「广安市思源科技有限公司」的绑定吗" in await h.say("1")
    kept = await h.say("还是保留吧")
    assert "您要办的是不是" not in kept and "已解除" not in kept, kept
    assert h.user in await h.services.subscriptions.recipients(case_no, CREDIT_CODE)
    await h.say("解绑")
    await h.say("1")
    assert "已解除" in await h.say("确定解除")
    assert h.user not in await h.services.subscriptions.recipients(case_no, CREDIT_CODE)


async def test_yes_to_the_only_binding_listed_asks_to_confirm_and_not_wanting_to_unbind_keeps_it(h, sims):
    """确定 at 回复序号解除绑定 with one enterprise listed said 好的，有需要随时找我 and unbound nothing (the
    person thought it had); 不想解绑 at the confirmation was not understood."""
    case_no = await enterprise_case(sims)
    assert "绑定成功" in await bind(h, sims)
    assert "回复序号解除绑定" in await h.say("解绑")
    assert "确定解除与「广安市思源科技有限公司」的绑定吗" in await h.say("确定")
    kept = await h.say("我就想不要那么多通知，不想解绑")
    assert "没太明白" not in kept and "已解除" not in kept, kept
    assert h.user in await h.services.subscriptions.recipients(case_no, CREDIT_CODE)


async def test_code_used_up_after_five_wrong_tries_and_resend(make_harness):
    h = await make_harness(code_text_seconds=0)  # asked again at once (the wait between texts: below)
    sims = h.sims
    await enterprise_case(sims)
    await h.say("企业绑定")
    await h.say(CREDIT_CODE)
    code = await texted_code(sims)
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    for _ in range(4):
        assert "验证码不正确" in await h.say(wrong)
    assert "已失效" in await h.say(wrong)
    assert "已失效" in await h.say(code)  # the right code no longer works either
    assert "验证码已发送" in await h.say("重新发送")
    assert "绑定成功" in await h.say(await texted_code(sims))


async def test_codes_are_texted_once_a_minute_and_a_few_an_hour_per_person_so_strangers_cannot_use_up_an_enterprises(make_harness):
    """重新发送 five times in seconds used up the platform's texts for the enterprise (its limit is
    per enterprise): its own administrator then could not bind. One person now gets a code a
    minute and a few an hour; the enterprise's contact can still be texted for someone else."""
    h = await make_harness()
    sims = h.sims
    await enterprise_case(sims)
    texts = f"/sim/platform/_admin/enterprises/{CREDIT_CODE}/texts"
    await h.say("企业绑定")
    assert "验证码已发送" in await h.say(CREDIT_CODE)
    for _ in range(5):
        told = await h.say("重新发送")
        assert "秒后可以再发一次" in told and "已重新发送" not in told, told
    assert len((await (await sims.get(texts)).json())["items"]) == 1
    admin = h.as_user("the-real-admin")
    await admin.say("企业绑定")
    assert "验证码已发送" in await admin.say(CREDIT_CODE)
    assert "绑定成功" in await admin.say(await texted_code(sims))

    hourly = await make_harness(code_text_seconds=0, code_texts_per_hour=2)
    await enterprise_case(hourly.sims)
    hourly = hourly.as_user("someone-new")
    await hourly.say("企业绑定")
    assert "验证码已发送" in await hourly.say(CREDIT_CODE)
    assert "已重新发送" in await hourly.say("重新发送")
    assert "分钟后再试" in await hourly.say("重新发送")


async def test_an_unregistered_enterprise_is_refused_politely(h, sims):
    await h.say("企业绑定")
    reply = await h.say(UNKNOWN_FIRM)
    assert "没有查到这个企业" in reply


async def test_enterprise_binder_sees_movements_through_recipients_only_while_bound(h, sims):
    case_no = await enterprise_case(sims)
    await bind(h, sims)
    await advance(sims, case_no, "accepted")
    subscriptions = h.services.subscriptions
    assert h.user in await subscriptions.recipients(case_no, CREDIT_CODE)
    await h.say("解绑")
    await h.say("1")
    await h.say("1")
    assert h.user not in await subscriptions.recipients(case_no, CREDIT_CODE)


async def test_the_store_subscribes_nobody_to_a_case_they_never_opened(h, sims):
    """Whatever a dialog believes, `subscribe` asks whether this person verified this case, and a
    notice goes only to subscribers whose verification still holds."""
    store = h.services.subscriptions
    case_no = await new_case(sims)
    assert await store.subscribe(h.user, case_no) == Added.unverified
    assert await store.recipients(case_no, None) == {} and await store.subscribed(h.user) == []

    await h.say(case_no)
    await h.say("5678")
    assert await store.subscribe(h.user, case_no) == Added.added
    assert await store.recipients(case_no, None) == {h.user: "case"}
    await store.forget(h.user, case_no)  # the remembered factor stopped opening it
    assert await store.recipients(case_no, None) == {} and await store.subscribed(h.user) == []


async def test_a_long_list_of_subscriptions_comes_a_page_at_a_time(h):
    subscriptions = h.services.subscriptions
    cases = [f"5116022026112810{n:04d}" for n in range(1, 10)]
    for case_no in cases:  # as nine 查进度 + 订阅 would leave them
        await subscriptions.remember(h.user, case_no, "居民身份证办理", phone_last4="5678")
        await subscriptions.subscribe(h.user, case_no)
    first = await h.say("我的订阅")
    listed = [line for line in first.splitlines() if line[:1].isdigit()]
    assert len(listed) == 6 and "还有 3 项" in first and "更多" in first
    rest = await h.say("更多")
    assert [line.split(".")[0] for line in rest.splitlines() if line[:1].isdigit()] == ["7", "8", "9"]
    assert "更多" not in rest.split("9.")[1].split("\n", 1)[-1]  # the last page offers no further page
    assert "确定退订" in await h.say("8")  # a number from the page on screen means the same item
    gone = await h.say("1")
    assert "已退订" in gone
    assert len(await subscriptions.subscribed(h.user)) == 8


async def test_a_code_said_with_the_wish_to_bind_starts_the_binding_at_once(h, sims):
    """帮我绑定企业，信用代码是… from anywhere: the code is sent for at once; in a sentence at the
    code step it is read too."""
    await enterprise_case(sims)  # the platform knows the enterprise
    sent = await h.say(f"你好 我们公司想绑定一下 信用代码{CREDIT_CODE}")
    assert "验证码已发送" in sent, sent
    assert "绑定成功" in await h.say(await texted_code(sims))

    other = h.as_user(OTHER)
    await other.say("企业绑定")
    sent = await other.say(f"代码是 {CREDIT_CODE} 谢谢")
    assert "验证码已发送" in sent, sent


async def test_binding_asked_in_words_starts_it_and_the_code_is_sent_again_when_asked_in_a_sentence(make_harness):
    """我想绑定我公司 is the binding (it was searched as a matter); 没收到啊 再发一次 at the code
    step sends a new code (it was read as a wrong answer)."""
    h = await make_harness(code_text_seconds=0)  # asked again at once (the wait between texts: below)
    sims = h.sims
    await enterprise_case(sims)
    await h.catalog_ready()
    letter = await h.as_user("clerk-letter").say("您好，我是公司行政，想把我们公司绑定一下，以后好看办件进度")
    assert "统一社会信用代码" in letter and "您要办的是不是" not in letter, letter
    asked = await h.as_user("clerk-short").say("我们公司想绑定一下")
    assert "统一社会信用代码" in asked and "您要办的是不是" not in asked, asked
    asked = await h.say("我想绑定我公司")
    assert "统一社会信用代码" in asked and "您要办的是不是" not in asked, asked
    assert "验证码已发送" in await h.say(CREDIT_CODE)
    texts = f"/sim/platform/_admin/enterprises/{CREDIT_CODE}/texts"
    sent = len((await (await sims.get(texts)).json())["items"])
    again = await h.say("没收到啊 再发一次")
    assert "已重新发送" in again and "验证码已发送" in again and "验证码不正确" not in again, again
    assert len((await (await sims.get(texts)).json())["items"]) == sent + 1  # a new text went out
    assert "绑定成功" in await h.say(await texted_code(sims))


async def test_leaving_the_binding_in_ones_own_words_leaves_it(h):
    await h.say("企业绑定")
    reply = await h.say("算了先不绑了")
    assert "代码好像不对" not in reply and "已取消" in reply, reply


@pytest.mark.parametrize("typed", ["验证码是{a} {b}", "{a}-{b}", "我的验证码：{a}{b}"])
async def test_the_code_typed_in_a_sentence_or_split_for_reading_binds(h, sims, typed):
    """验证码是836 967: the six digits, split or in a sentence, are the code (it was told 6 位数字)."""
    await enterprise_case(sims)
    await h.say("企业绑定")
    assert "验证码已发送" in await h.say(CREDIT_CODE)
    code = await texted_code(sims)
    bound = await h.say(typed.format(a=code[:3], b=code[3:]))
    assert "绑定成功" in bound, bound


async def test_a_wish_to_bind_with_a_mistyped_code_opens_the_binding_and_says_what_is_wrong(h, sims):
    """想绑定一下我们公司，统一社会信用代码 …(wrong check character): the binding, told the code is not
    right; it was searched as a matter (注销税务登记 …)."""
    await enterprise_case(sims)
    wrong = CREDIT_CODE[:-1] + ("0" if CREDIT_CODE[-1] != "0" else "1")
    reply = await h.say(f"想绑定一下我们公司，统一社会信用代码是{wrong}，麻烦了")
    assert "校验码" in reply and "您要办的是不是" not in reply, reply
    assert "验证码已发送" in await h.say(CREDIT_CODE)


async def test_a_need_asked_at_the_binding_is_searched_and_the_binding_waits(h, sims):
    """社保增员在哪办 at the credit code's step is a need of its own: searched (it was told the code
    looked wrong, again and again), and 继续 comes back to the binding."""
    await h.catalog_ready()
    assert "统一社会信用代码" in await h.say("企业绑定")
    reply = await h.say("员工入职了社保增员在哪办")
    assert "校验码" not in reply and ("参保" in reply or "社会保险" in reply), reply
    assert "统一社会信用代码" in await h.say("继续")


async def test_a_pick_from_a_list_asked_about_during_the_binding_picks_and_does_not_resume_it(h, sims):
    """Digits are the binding's own at its steps; but 2 typed at a list of matters asked about
    meanwhile picks from that list, not the paused binding's code."""
    await h.catalog_ready()
    assert "统一社会信用代码" in await h.say("企业绑定")
    listed = await h.say("员工入职了社保增员在哪办")
    assert "您要办的是不是" in listed, listed
    picked = await h.say("2")
    assert "【" in picked and "统一社会信用代码" not in picked, picked


async def test_a_credit_code_put_right_at_the_code_step_is_the_one_verified(h, sims):
    """不对，代码输错了 / another credit code at 请输入收到的 6 位验证码: 验证码是 6 位数字 (only 返回 got out)."""
    await enterprise_case(sims)
    other = "91511602MA6XK3P2Y"
    other = other[:17] + credit_check_char(other[:17])
    body = {"enterprise": {"name": "广安市另一家有限公司", "credit_code": other, "phone": "13698760000"}}
    assert (await sims.post("/sim/platform/_admin/cases", json=body)).status == 201
    await h.say("企业绑定")
    assert "验证码已发送" in await h.say(other)
    again = await h.say("不对，代码输错了")
    assert "统一社会信用代码" in again and "6 位数字" not in again, again
    assert "验证码已发送" in await h.say(CREDIT_CODE)
    assert "绑定成功" in await h.say(await texted_code(sims))

    someone = h.as_user("someone-else")
    await someone.say("企业绑定")
    assert "验证码已发送" in await someone.say(other)
    switched = await someone.say(CREDIT_CODE)  # the right one, typed at the code's step
    assert "换成这家企业" in switched and "验证码已发送" in switched and "6 位数字" not in switched, switched
    assert "绑定成功" in await someone.say(await texted_code(sims))
    assert await h.services.subscriptions.is_bound("someone-else", CREDIT_CODE)


async def test_my_subscriptions_mention_the_matters_whose_notices_one_follows(h):
    """订阅通知 on a card, then 我的订阅: 您还没有订阅办件，也没有绑定企业 (nothing about the notices)."""
    await h.catalog_ready()
    assert (await h.say("居住证办理")).startswith("【居住证办理")
    assert "会第一时间告诉您" in await h.say("订阅通知")
    listing = await h.say("我的订阅")
    assert "关注了 1 个事项的政策通知" in listing and "取消通知" in listing, listing


@pytest.mark.parametrize("said", ["退订", "取消订阅"])
async def test_unsubscribing_with_only_a_matters_notices_followed_stops_those(h, said):
    """订阅通知 on a card, then 退订 / 取消订阅: 您还没有订阅办件, and the notices went on."""
    await h.catalog_ready()
    assert (await h.say("居住证办理")).startswith("【居住证办理")
    assert "会第一时间告诉您" in await h.say("订阅通知")
    stopped = await h.say(said)
    assert "已退订" in stopped and "还没有订阅" not in stopped, stopped
    assert await h.services.subscriptions.followed_matters(h.user) == 0


async def test_a_binder_asking_after_the_enterprises_case_by_number_sees_it_at_once(h, sims):
    """The enterprise's notices say 回复「查进度」可随时查看; 查进度 with the case's number then asked
    its binder for the applicant's phone digits, which a company case has none of. Someone not
    bound is still asked."""
    case_no = await enterprise_case(sims)
    await enterprise_case(sims)  # another of its cases, so the one asked about is looked for
    assert "绑定成功" in await bind(h, sims)
    assert "请输入办件编号" in await h.say("查进度")
    card = await h.say(case_no)
    assert "【办件进度】" in card and case_no in card, card
    stranger = await h.as_user("not-bound").say(case_no)
    assert "【办件进度】" not in stranger and "后 4 位" in stranger, stranger


async def test_a_credit_code_with_o_for_zero_is_read_as_meant(h, sims):
    """…O for 0 and I for 1 (letters no credit code has) got 代码好像不对."""
    await enterprise_case(sims)
    await h.say("企业绑定")
    sent = await h.say(CREDIT_CODE.replace("0", "O").replace("1", "I"))
    assert "验证码已发送" in sent, sent


@pytest.mark.parametrize("said", ["收不到短信，那个手机号是以前的会计的，已经停机了", "手机号已经换了怎么办", "号码停用了",
                                  "我们登记的手机号早换了 收不到验证码怎么办"])
async def test_a_registered_phone_no_longer_in_use_is_told_how_the_contact_is_changed(h, sims, said):
    """收不到短信 那个手机号…已经停机了 got 60 秒后可以再发一次; 手机号已经换了怎么办 got 验证码是 6 位数字."""
    await enterprise_case(sims)
    await h.say("企业绑定")
    assert "验证码已发送" in await h.say(CREDIT_CODE)
    reply = await h.say(said)
    assert "变更" in reply and "人工" in reply and "6 位数字" not in reply and "再发" not in reply, reply


@pytest.mark.parametrize("asked", ["不知道信用代码在哪看", "代码去哪查啊", "我找不到我们公司的代码"])
async def test_where_the_credit_code_is_found_is_said_not_that_it_is_wrong(h, asked):
    """不知道信用代码在哪看 got 这个统一社会信用代码好像不对, twice in a row."""
    await h.say("企业绑定")
    reply = await h.say(asked)
    assert "营业执照" in reply and "gsxt" in reply and "好像不对" not in reply, reply
    assert (await h.session()).state == "code"


async def test_an_unbinding_left_unconfirmed_is_never_carried_out_by_a_later_解绑(h, sims):
    """解绑 → 1 → 确定解除…吗？ → 算了 先看看企业证照; later 解绑 resumed the confirmation and took
    its own word as 确定: the enterprise was unbound with no question asked."""
    case_no = await enterprise_case(sims)
    assert "绑定成功" in await bind(h, sims)
    await h.say("解绑")
    assert "确定解除" in await h.say("1")
    await h.say("算了 先看看企业证照")
    again = await h.say("解绑")
    assert "已解除" not in again, again
    assert h.user in await h.services.subscriptions.recipients(case_no, CREDIT_CODE)
