"""The engine's interruption policy (issue 20, items 1-3): each message is first an answer to the
step in progress (several details at once fill several steps), then a global word, another intent
or a case number in its real format; another intent pauses the dialog, and 继续 resumes it at the
same step with what was answered; two values that disagree are asked about; a bare number answers
the question the person saw last.

What the issue asks to see through the real webhook runs over HTTP (`chat`); the rest runs in
the in-memory harness (`h`)."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta

import pytest

from bot.web.appkeys import CATALOG, SERVICES
from dialogs.understand import shanghai_today
from tests.support import open_card, person
from tests.test_booking import appointments_of, drive
from tests.test_progress import ID_NUMBER, new_case
from tests.test_ratings import feedback, finished_case
from tests.test_subscriptions import advance

ASK_NAME = "请输入办事人的姓名"
ASK_ID = "请输入办事人的 18 位身份证号码"
ASK_PHONE = "请输入办事人的手机号码"
CONSENT = "下次预约时要直接使用"
SUMMARY = "请核对预约信息"


@pytest.fixture
async def chat(chat, app):
    await asyncio.wait_for(app[CATALOG].ready.wait(), timeout=90)
    return chat


async def to_name_step(chat) -> str:
    """A booking for a passport, up to the question "who comes": the name."""
    reply = await drive(chat, "预约", person(0), stop=ASK_NAME)
    assert ASK_NAME in reply
    return reply


def spaced(number: str) -> str:
    """An ID number as people type it from the card: groups of 6, 8 and 4, full-width digits."""
    wide = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    return f"{wide[:6]} {wide[6:14]} {wide[14:]}"


# Through the real webhook ------------------------------------------------------------------


async def test_details_pasted_at_the_name_step_fill_name_id_and_phone(chat, client):
    me = person(31)
    await to_name_step(chat)
    reply = await chat.say(f"{me['name']} {me['id_number']} {me['phone']}")
    assert CONSENT in reply  # name, ID and phone taken: on to the consent, nothing asked twice
    assert ASK_ID not in reply and ASK_PHONE not in reply and "办件" not in reply
    summary = await chat.say("2")
    assert SUMMARY in summary and me["phone"][-4:] in summary and me["id_number"][-4:] in summary
    assert (await chat.say("确认")).startswith("预约成功")
    assert len(await appointments_of(client, me)) == 1  # booked under the pasted details


async def test_an_id_number_inside_a_sentence_is_accepted(chat):
    me = person(32)
    await to_name_step(chat)
    assert ASK_ID in await chat.say(me["name"])
    assert ASK_PHONE in await chat.say(f"我的身份证号是{me['id_number']}")


async def test_a_mistyped_id_number_in_a_sentence_is_explained_by_its_check_digit(chat):
    await to_name_step(chat)
    await chat.say("张三")
    # The number: 18 characters whose check digit is wrong (its right one is 1).
    reply = await chat.say("我的身份证号是51160219800101123X")
    assert "校验不通过" in reply and "25 位" not in reply and "办件" not in reply


async def test_progress_mid_booking_then_continue_returns_to_the_same_step(chat, client):
    me = person(33)
    await to_name_step(chat)
    assert ASK_ID in await chat.say(me["name"])
    asked = await chat.say("查进度")
    assert "办件编号" in asked  # the progress dialog runs
    case_no = await new_case(client)
    card = await chat.say(case_no)
    assert "手机号的后 4 位" in card
    shown = await chat.say("5678")
    assert "【办件进度】" in shown and "回复「继续」接着刚才的预约" in shown
    back = await chat.say("继续")
    assert ASK_ID in back  # the step it was paused on
    await chat.say(me["id_number"])
    await chat.say(me["phone"])
    summary = await chat.say("2")
    assert SUMMARY in summary and me["name"][0] in summary  # the name answered before the digression is kept


async def test_a_case_number_at_the_phone_or_id_step_is_not_a_case_number(chat, client):
    case_no = await new_case(client)
    me = person(34)
    await to_name_step(chat)
    await chat.say(me["name"])
    at_id = await chat.say(case_no)
    assert ASK_ID in at_id or "身份证号码应为 18 位" in at_id
    assert "【办件进度】" not in at_id and "手机号的后 4 位" not in at_id
    await chat.say(me["id_number"])
    at_phone = await chat.say(case_no)
    assert "手机号码应为 11 位" in at_phone and "手机号的后 4 位" not in at_phone


async def test_two_different_phone_numbers_are_asked_about(chat):
    me = person(35)
    await to_name_step(chat)
    await chat.say(me["name"])
    await chat.say(me["id_number"])
    reply = await chat.say("13800138000 或者 13912345678")
    assert "2个不同的手机号" in reply and "138****8000" in reply and "139****5678" in reply
    assert ASK_PHONE in reply and CONSENT not in reply  # not guessed: asked again
    assert CONSENT in await chat.say("13912345678")


async def test_a_rating_invitation_mid_booking_is_answered_in_its_words_and_the_booking_resumes(chat, client):
    """A case's "done" notice invites a rating while the person books: 五星好评 rates it (the
    booking waits), 继续 comes back to the question it was on, and the booking completes."""
    me = person(57)
    case_no = await finished_case(client)
    await chat.say(case_no)
    await chat.say("5678")
    await chat.say("菜单")
    await to_name_step(chat)
    assert ASK_ID in await chat.say(me["name"])
    await client.server.app[SERVICES].ratings.invite(chat.user, case_no, "个体工商户设立登记")
    rated = await chat.say("五星好评")
    assert "★★★★★ 非常满意" in rated and "回复「继续」接着刚才的预约" in rated
    assert [r["level"] for r in (await feedback(client, case_no))["ratings"]] == ["very_satisfied"]
    assert ASK_ID in await chat.say("继续")
    assert ASK_PHONE in await chat.say(me["id_number"])
    assert CONSENT in await chat.say(me["phone"])
    assert SUMMARY in await chat.say("2")
    assert (await chat.say("确认")).startswith("预约成功")
    assert len(await appointments_of(client, me)) == 1


async def test_a_phone_corrected_at_the_summary_is_the_one_booked(chat, client):
    """The elderly applicant pastes everything, notices the wrong phone at the summary, says the
    right one in a sentence: the booking goes through under the corrected phone."""
    me, right = person(58), person(59)["phone"]
    await to_name_step(chat)
    assert CONSENT in await chat.say(f"{me['name']}，{me['id_number']}，{me['phone']}")
    assert SUMMARY in await chat.say("2")
    summary = await chat.say(f"电话写错了，应该是 {right[:3]}-{right[3:7]}-{right[7:]}")  # the summary again, as corrected
    assert right[-4:] in summary and me["phone"][-4:] not in summary
    assert (await chat.say("确认")).startswith("预约成功")
    assert len(await appointments_of(client, {**me, "phone": right})) == 1


# In the harness ------------------------------------------------------------------------------


async def test_details_in_any_form_fill_their_steps(h):
    await h.catalog_ready()
    me = person(36)
    await to_name_step(h)
    reply = await h.say(f"我叫{me['name']}，身份证 {spaced(me['id_number'])}，电话 +86 {me['phone'][:3]}-{me['phone'][3:7]}-{me['phone'][7:]}")
    assert CONSENT in reply
    session = await h.session()
    assert session.state == "consent"
    applicant = h.services.bookings.unseal(h.user, session.data["applicant"])
    assert applicant == {"name": me["name"], "id_number": me["id_number"], "phone": me["phone"]}


async def test_details_told_first_survive_a_time_picked_in_words(h):
    """我想预约…，周三上午，罗秀英 5116… 1842… then 10点半 at the times: 好的，约在… twice, and the
    name asked for (the time read again at the name step as a change of time took the details' turn)."""
    await h.catalog_ready()
    me = person(33)
    reply = await h.say(f"我想预约办护照，{me['name']} {me['id_number']} 电话{me['phone']}")
    for _ in range(4):
        if "可以预约的时段" in reply:
            break
        reply = await h.say("1")
    start = (await h.session()).data["slots"][1][0]
    hour, minute = int(start[:2]), start[3:]
    said = f"{hour}点" + {"00": "", "30": "半"}.get(minute, f"{int(minute)}分")
    taken = await h.say(said)
    assert taken.count("好的，约在") == 1 and ASK_NAME not in taken and CONSENT in taken, (said, taken)
    assert (await h.session()).data["start"] == start


async def test_details_typed_alone_at_the_times_are_said_to_be_kept(h):
    """511602… then 1842… at the times: 没太明白, then 还是没能看明白 (kept silently all the same)."""
    await h.catalog_ready()
    me = person(36)
    await drive(h, "预约", me, stop="广安区政务服务中心，请选择日期")
    await h.say("1")
    for detail, said in ((me["id_number"], "身份证号先记下了"), (me["phone"], "手机号先记下了")):
        told = await h.say(detail)
        assert said in told and "没太明白" not in told and "没能看明白" not in told and "可以预约的时段" in told, told
    assert ASK_NAME in await h.say("1")
    assert CONSENT in await h.say(me["name"])  # the ID and the phone told ahead are not asked for


async def test_some_details_fill_their_steps_and_the_next_missing_one_is_asked(h):
    await h.catalog_ready()
    me = person(37)
    await to_name_step(h)
    reply = await h.say(f"{me['name']} {me['id_number']}")
    assert ASK_PHONE in reply and ASK_ID not in reply
    assert (await h.session()).state == "phone"


async def test_two_names_for_the_applicant_are_asked_about_not_guessed(h):
    await h.catalog_ready()
    await to_name_step(h)
    reply = await h.say("我叫张伟 申请人王芳")
    assert "2个不同的姓名" in reply and ASK_NAME in reply
    assert (await h.session()).state == "name"


async def test_a_digression_from_a_choice_step_offers_continue_and_resumes_with_the_choices(h, sims):
    await h.catalog_ready()
    halls = await drive(h, "预约", person(38), stop="预约「")
    session = await h.session()
    step, data = session.state, dict(session.data)
    case_no = await new_case(sims)
    assert "手机号的后 4 位" in await h.say(f"我的办件 {case_no}")
    assert "回复「继续」接着刚才的预约" in await h.say("5678")
    back = await h.say("继续")
    resumed = await h.session()
    assert (resumed.dialog, resumed.state) == ("booking", step)
    assert {k: v for k, v in resumed.data.items() if not k.startswith("_")} == {k: v for k, v in data.items() if not k.startswith("_")}
    assert halls.splitlines()[-1] in back  # the same question, asked again


async def test_continue_with_nothing_paused_says_so(h):
    assert "没有暂停的事项" in await h.say("继续")


@pytest.mark.parametrize("back", ["继续", "刚才那个预约继续", "我回来了，继续约"])
async def test_continue_after_goodbye_mid_booking_goes_on_where_it_was(h, back):
    """拜拜 at a booking's step, then 继续: the booking never stopped, so it goes on at that step
    (not "nothing is paused"). 刚才那个预约继续 and 我回来了，继续约 searched 继续 (会计…继续教育)
    and the booking was gone."""
    await h.catalog_ready()
    await to_name_step(h)
    await h.say("拜拜")
    back = await h.say(back)
    assert "没有暂停的事项" not in back and "接着刚才的预约办事" in back and ASK_NAME in back, back
    assert (await h.session()).state == "name"


@pytest.mark.parametrize("back", ["先把预约弄完", "算了 先约完再说"])
async def test_finishing_the_booking_first_after_a_side_question_goes_back_to_it(h, back):
    """单位证明去哪开 mid-booking (a list of matters), then 先把预约弄完: the booking at its step; it
    was read as a booking of 弄完 (建设工程设计方案审定不需要预约), and the matter was lost."""
    await h.catalog_ready()
    await to_name_step(h)
    await h.say("单位证明去哪开")
    reply = await h.say(back)
    assert "接着刚才的预约办事" in reply and ASK_NAME in reply and "不需要预约" not in reply, reply
    assert (await h.session()).state == "name"


async def test_the_id_number_a_paused_booking_waits_for_resumes_it_after_a_question_meanwhile(h):
    """等我去找一下 at the ID step, then 社保卡密码忘了咋整 (a list), then 找到了 511602…: the number
    was masked and answered 查办事指南用不到身份证号; the booking kept waiting for it."""
    await h.catalog_ready()
    me = person(44)
    await drive(h, "预约办护照", me, stop=ASK_ID)
    await h.say("等我去找一下身份证")
    assert "您要办的是不是" in await h.say("社保卡密码忘了咋整")
    reply = await h.say(f"找到了 {me['id_number']}")
    assert "接着刚才的预约办事" in reply and ASK_PHONE in reply, reply
    session = await h.session()
    assert session.dialog == "booking" and session.state == "phone"


async def test_预约_on_a_card_reached_from_the_hall_list_books_the_cards_matter(h):
    """服务大厅几点开门 → a matter named → its card → 预约: the card's matter is booked; the hall list
    paused before the card must not take 预约 back and ask what to book."""
    await h.catalog_ready()
    await h.say("服务大厅几点开门")
    assert (await h.session()).dialog == "halls"
    assert "【劳动人事争议仲裁申请】" in await open_card(h, "劳动人事争议仲裁申请")
    reply = await h.say("预约")
    assert "预约「劳动人事争议仲裁申请」" in reply and "要预约办理什么事" not in reply, reply


async def test_a_list_of_matters_left_for_something_else_is_not_offered_as_work_to_resume(h, sims):
    """A search's list of matters, left for a case's progress, is not unfinished work: no 回复「继续」
    接着刚才的办事指南 at the card, and 继续 later finds nothing paused."""
    await h.catalog_ready()
    listed = await h.say("社保")
    assert "您要办的是不是" in listed, listed
    case_no = await new_case(sims)
    await h.say(case_no)
    card = await h.say("5678")
    assert "【办件进度】" in card and "接着刚才的办事指南" not in card, card
    assert "没有暂停的事项" in await h.say("继续")


async def test_a_paused_booking_expires_with_the_session(h):
    await h.catalog_ready()
    await to_name_step(h)
    await h.say("查进度")
    assert (await h.session()).paused
    h.idle(h.settings.session_ttl_seconds + 1)
    await h.say("你好")
    assert "没有暂停的事项" in await h.say("继续")


async def test_the_stack_of_paused_dialogs_is_bounded(h):
    await h.catalog_ready()
    await to_name_step(h)
    await h.say("查进度")
    await h.say("我的订阅")
    await h.say("我的预约")
    await h.say("评价")
    session = await h.session()
    assert 1 <= len(session.paused) <= 2


async def test_a_number_answers_the_invitation_only_when_it_came_after_the_question(h, sims):
    """The latest prompt owns bare numbers: a rating invitation that arrived while the person
    looked at 我的订阅 takes their "1"; once they asked for the list again, "1" is the list's."""
    ratings = h.services.ratings
    case_no = await finished_case(sims)
    await h.say(case_no)
    await h.say("5678")
    await h.say("订阅")
    listing = await h.say("我的订阅")
    assert "1." in listing
    await ratings.invite(h.user, case_no, "个体工商户注销登记")
    rated = await h.say("1")
    assert "感谢您的评价" in rated or "评价" in rated
    assert (await feedback(sims, case_no))["ratings"], "the number rated the case"
    assert case_no in await h.say("我的订阅")  # still subscribed: the number did not unsubscribe


async def test_a_number_meant_for_the_dialog_is_not_taken_by_an_older_invitation(h, sims):
    ratings = h.services.ratings
    case_no = await finished_case(sims)
    await h.say(case_no)
    await h.say("5678")
    await h.say("订阅")
    await ratings.invite(h.user, case_no, "个体工商户注销登记")
    assert "1." in await h.say("我的订阅")  # the list is the latest question now
    await h.say("1")
    assert not (await feedback(sims, case_no))["ratings"]  # no rating sent


def test_the_steps_table_in_the_docs_matches_the_dialogs():
    """docs/dialogs.md's table is generated from the dialogs' own tables (`python -m bot
    diagrams`): a step added, or a kind it expects changed, shows here until it is regenerated."""
    from pathlib import Path

    from bot.dev.diagrams import TABLE_BEGIN, TABLE_END, step_table

    doc = (Path(__file__).parent.parent / "docs" / "dialogs.md").read_text(encoding="utf-8")
    assert doc.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0].strip() == step_table().strip()
    for name in ("booking", "progress", "matters", "appointments", "rating"):
        assert f"| {name} |" in doc
    assert "| booking | id_number | slots: `id_number`" in doc


async def test_a_hall_day_and_time_named_in_words_answer_their_steps(h):
    """At the hall step a hall by its name, at the day step a day as people write it, at the time
    step a clock time: each answers its question like its number would."""
    await h.catalog_ready()
    halls = await drive(h, "预约", person(39), stop="预约「")
    second_hall = re.search(r"^2\. (\S+)", halls, re.M)
    assert second_hall, "the simulated catalog serves this matter at several halls"
    days = await h.say(f"我去{second_hall.group(1)}吧")
    assert days.startswith(second_hall.group(1)) and "请选择日期" in days
    month, day = map(int, re.search(r"^2\. (\d+)月(\d+)日", days, re.M).groups())
    slots = await h.say(f"{month}月{day}号")
    assert f"{month}月{day}日" in slots and "可以预约的时段" in slots
    start = re.search(r"^2\. (\d\d):(\d\d)-", slots, re.M).groups()
    reply = await h.say(f"{int(start[0])}点{'半' if start[1] == '30' else start[1] + '分' if start[1] != '00' else ''}")
    assert ASK_NAME in reply or "直接使用" in reply
    session = await h.session()
    assert (session.data["day"], session.data["start"]) == (f"{session.data['day'][:4]}-{month:02d}-{day:02d}", ":".join(start))


async def test_a_day_and_a_part_of_the_day_at_once_fill_both_steps_when_they_are_clear(h):
    await h.catalog_ready()
    await drive(h, "预约", person(40), stop="预约「")
    assert "请选择日期" in await h.say("1")
    session = await h.session()
    # The first day the hall offers, said the way people say it: 明天 / 后天 when it is one of
    # those (the halls close on some days, so tomorrow is not always bookable), else its date.
    first = date.fromisoformat(session.data["days"][0][0])
    said = {1: "明天", 2: "后天"}.get((first - shanghai_today()).days, f"{first.month}月{first.day}号")
    reply = await h.say(f"{said}下午")
    session = await h.session()
    assert session.data["day"] == first.isoformat()
    afternoon = [s for s in session.data["slots"] if s[0] >= "13:00"]
    if len(afternoon) == 1:
        assert ASK_NAME in reply
    else:
        assert "可以预约的时段" in reply and session.state == "slot"


async def test_a_day_and_a_part_of_the_day_at_once_never_call_the_day_just_taken_unbookable(h):
    """明天下午 (or 12月8号下午) at the day step takes the day; the time step, given the same
    message, reads only its part of the day: it must not say the day just taken cannot be booked."""
    await h.catalog_ready()
    await drive(h, "预约", person(45), stop="预约「")
    await h.say("1")
    first = date.fromisoformat((await h.session()).data["days"][0][0])
    reply = await h.say(f"{first.month}月{first.day}号下午")
    session = await h.session()
    assert session.data["day"] == first.isoformat()
    if session.state != "slot":  # one afternoon time only: it was taken at once
        assert ASK_NAME in reply or "直接使用" in reply
        return
    assert f"{first.month}月{first.day}日" in reply and "可以预约的时段" in reply
    assert "不能预约" not in reply
    afternoon = [s for s in session.data["slots"] if s[0] >= "13:00"]
    assert ("下午有这几个时段" if afternoon else "下午没有可以预约的时段") in reply


async def test_a_part_of_the_day_asked_at_the_time_step_lists_that_part_with_its_numbers(h):
    """下午有几个时段 at the time step lists the afternoon's times, not the morning's first; the
    numbers are those of the whole list, so the one typed books the time it showed."""
    await h.catalog_ready()
    await drive(h, "预约", person(48), stop="预约「")
    await h.say("1")
    first = await h.say("下午的有几个时段")  # at the days: a day first
    assert "先选一天" in first and "请选择日期" in first and "没太明白" not in first, first
    await h.say("1")
    session = await h.session()
    assert session.state == "slot"
    slots = session.data["slots"]
    afternoon = [i for i, s in enumerate(slots, 1) if "13:00" <= s[0] < "18:00"]
    reply = await h.say("下午有几个时段")
    if len(afternoon) < 2:  # none: said so over the whole list; one: taken at once
        assert ASK_NAME in reply if afternoon else "下午没有可以预约的时段" in reply
        return
    assert "下午有这几个时段" in reply
    for i, (start, end, _) in enumerate(slots, 1):
        shown = f"{i}. {start}-{end}" in reply
        assert shown == (i in afternoon[:6]), (start, reply)
    if len(slots) > len(afternoon[:6]):  # the rest of the day is a 更多 away, from its start
        assert f"这天其余 {len(slots) - len(afternoon[:6])} 个时段" in reply, reply
        assert f"1. {slots[0][0]}-{slots[0][1]}" in await h.say("更多")
    assert ASK_NAME in await h.say(str(afternoon[1]))
    assert (await h.session()).data["start"] == slots[afternoon[1] - 1][0]


async def test_with_only_the_afternoon_listed_a_number_off_screen_is_asked_again_and_first_is_the_first_shown(h):
    """周四下午 listed the afternoon as 6-11; 1 then booked 09:00, a time never shown: now the
    numbers on screen are asked for, and 第一个 is the first time shown."""
    await h.catalog_ready()
    await drive(h, "预约", person(49), stop="预约「")
    await h.say("1")
    days = (await h.session()).data["days"]
    for n in range(1, len(days) + 1):  # a day with morning times and at least two in the afternoon
        await h.say(str(n))
        slots = (await h.session()).data["slots"]
        afternoon = [i for i, s in enumerate(slots, 1) if "13:00" <= s[0] < "18:00"]
        if len(afternoon) >= 2 and afternoon[0] > 1:
            break
        await h.say("换一天")
    else:  # the simulator leaves each time free with odds of one in two or better: five such days never lack one
        pytest.fail("no day offered has morning times and two in the afternoon")
    assert "下午有这几个时段" in await h.say("下午有几个时段")
    asked = await h.say("1")
    assert "请回复上面列出的序号" in asked and f"{afternoon[0]}. {slots[afternoon[0] - 1][0]}" in asked, asked
    assert not re.search(r"^1\. ", asked, re.M), asked  # the afternoon again, not the morning
    assert (await h.session()).data.get("start") is None
    assert ASK_NAME in await h.say("第一个")
    assert (await h.session()).data["start"] == slots[afternoon[0] - 1][0]


@pytest.mark.parametrize("asked", ["对了，要带什么材料", "顺便问下要带哪些东西", "材料清单"])
async def test_what_to_bring_asked_on_the_side_at_the_name_step_is_answered(h, asked):
    """对了，要带什么材料 at the name step: 姓名好像不太对 (要带什么材料 alone was answered)."""
    await h.catalog_ready()
    await to_name_step(h)
    told = await h.say(asked)
    assert "请带好" in told and ASK_NAME in told and "姓名好像不太对" not in told, told


async def test_words_of_the_chat_at_the_name_step_are_not_taken_as_a_name(h):
    """更多 or 等等 typed at the name step is no name: it is asked for again, not booked under."""
    await h.catalog_ready()
    await to_name_step(h)
    for said in ("更多", "等等", "咋办"):
        assert "姓名好像不太对" in await h.say(said)
    assert ASK_ID in await h.say(person(49)["name"])
    assert (await h.session()).state == "id_number"


async def test_a_name_corrected_in_a_sentence_at_the_name_step_is_the_name_not_a_search(h):
    """People correct themselves in words (写错了，应该是…): the name step takes the name; the
    sentence is no question about a matter."""
    await h.catalog_ready()
    me = person(46)
    await to_name_step(h)
    reply = await h.say(f"刚才名字写错了，应该是{me['name']}")
    assert ASK_ID in reply
    session = await h.session()
    assert (session.dialog, session.state, session.paused) == ("booking", "id_number", [])


@pytest.mark.parametrize("at", ["consent", "summary"])
async def test_a_detail_typed_again_after_its_step_replaces_the_earlier_answer(h, at):
    """The person notices a wrong phone number at a later question and types the right one: it
    replaces the old one (the steps after it are asked again), it is not "没太明白"."""
    await h.catalog_ready()
    me, other = person(47), person(48)
    await to_name_step(h)
    await h.say(me["name"])
    await h.say(me["id_number"])
    assert CONSENT in await h.say(me["phone"])
    if at == "summary":
        assert SUMMARY in await h.say("2")
    reply = await h.say(f"不对，电话是{other['phone'][:3]} {other['phone'][3:7]} {other['phone'][7:]}")
    assert "没太明白" not in reply and (CONSENT in reply) == (at == "consent"), reply  # after the summary: the summary again
    summary = await h.say("2") if at == "consent" else reply
    assert SUMMARY in summary and other["phone"][-4:] in summary and me["phone"][-4:] not in summary
    applicant = h.services.bookings.unseal(h.user, (await h.session()).data["applicant"])
    assert applicant == {"name": me["name"], "id_number": me["id_number"], "phone": other["phone"]}


@pytest.mark.parametrize("wish", ["换个时间", "我想改一下日期", "手机号填错了", "能换个大厅吗", "时间不合适"])
async def test_wanting_to_change_the_booking_at_its_summary_is_no_question_about_a_matter(h, wish):
    """Words about the booking's own details (its time, hall, phone) are the booking's: the
    guides' search must not take them for a matter and pause the booking."""
    await h.catalog_ready()
    me = person(49)
    await to_name_step(h)
    await h.say(f"{me['name']} {me['id_number']} {me['phone']}")
    assert SUMMARY in await h.say("2")
    reply = await h.say(wish)
    session = await h.session()
    assert (session.dialog, session.paused) == ("booking", []), reply
    assert "您要办的是不是" not in reply, reply
    # the time or the day wished changed: their list at once; anything else: the summary's way back
    assert any(shown in reply for shown in ("可以预约的时段", "请选择日期", "请选择办理大厅", "返回")), reply


async def test_a_question_about_a_matter_mid_booking_is_answered_and_the_booking_waits(h):
    await h.catalog_ready()
    me = person(41)
    await to_name_step(h)
    assert ASK_ID in await h.say(me["name"])
    answer = await h.say("开个体户需要办什么手续")
    assert "没太明白" not in answer and ASK_ID not in answer
    session = await h.session()
    assert session.dialog in ("matters", "bundles") and [p["dialog"] for p in session.paused] == ["booking"]
    for _ in range(3):  # a list (or a bundle) to choose from first: the guide card ends the digression
        if "回复「继续」" in answer:
            break
        answer = await h.say("1")
    assert "回复「继续」接着刚才的预约" in answer
    assert ASK_ID in await h.say("继续")
    await h.say(me["id_number"])
    assert CONSENT in await h.say(me["phone"])


@pytest.mark.parametrize("question", ["对了 我那个公积金怎么提取", "不动产登记要带什么材料"])
async def test_a_question_naming_a_halls_service_at_the_days_is_that_matter_not_a_hall(h, question):
    """公积金 and 不动产 are also what people call two halls: asked how to do them at the days of an
    ID card's booking, the matter's guide answers and the booking waits (it said the hall does
    not serve the ID card and listed the halls again)."""
    await h.catalog_ready()
    assert "请选择日期" in await drive(h, "预约办身份证", person(42), stop="广安区政务服务中心，请选择日期")
    answer = await h.say(question)
    assert "不办理这项业务" not in answer and "请选择办理大厅" not in answer, answer
    session = await h.session()
    assert session.dialog in ("matters", "bundles") and [p["dialog"] for p in session.paused] == ["booking"]
    assert "请选择日期" in await h.say("继续")


async def test_words_that_are_no_matter_at_a_data_step_are_the_step_s(h):
    await h.catalog_ready()
    await to_name_step(h)
    reply = await h.say("啊啊啊啊啊")
    assert ASK_NAME in reply or "姓名好像不太对" in reply
    assert (await h.session()).dialog == "booking"


async def test_starting_the_paused_dialog_afresh_replaces_the_paused_one(h):
    await h.catalog_ready()
    await to_name_step(h)
    await h.say("查进度")
    assert [p["dialog"] for p in (await h.session()).paused] == ["booking"]
    await h.say("菜单")
    await h.say("预约")  # a new booking: the old one is not offered back when it ends
    session = await h.session()
    assert session.dialog == "booking" and session.paused == []


async def test_a_paused_dialog_is_kept_in_the_session_json(h, redis, settings):
    await h.catalog_ready()
    await to_name_step(h)
    await h.say("查进度")
    raw = (await h.session()).to_json()
    assert raw["paused"][0]["dialog"] == "booking" and raw["paused"][0]["state"] == "name"
    from dialogs.engine import Session

    assert Session.from_json(raw).paused == raw["paused"]
    assert "paused" not in Session().to_json()  # an ordinary session's JSON is as before


async def test_details_pasted_with_two_phone_numbers_fill_the_rest_and_ask_which_phone(h):
    await h.catalog_ready()
    me = person(42)
    await to_name_step(h)
    reply = await h.say(f"{me['name']} {me['id_number']} 13800138000 13912345678")
    assert "2个不同的手机号" in reply and ASK_PHONE in reply and ASK_ID not in reply
    session = await h.session()
    assert session.state == "phone"
    assert h.services.bookings.unseal(h.user, session.data["applicant"]) == {"name": me["name"], "id_number": me["id_number"]}
    assert CONSENT in await h.say("13912345678")


async def test_back_after_details_filled_at_once_steps_back_one_question(h):
    await h.catalog_ready()
    me = person(43)
    await to_name_step(h)
    assert CONSENT in await h.say(f"{me['name']} {me['id_number']} {me['phone']}")
    assert ASK_PHONE in await h.say("返回")
    assert ASK_ID in await h.say("返回")


async def test_a_day_or_time_the_list_does_not_have_is_said_so_and_the_list_shown_again(h):
    await h.catalog_ready()
    await drive(h, "预约", person(44), stop="预约「")
    days = await h.say("1")
    session = await h.session()
    offered = {d for d, _ in session.data["days"]}
    missing = next(shanghai_today() + timedelta(days=n) for n in range(1, 60) if (shanghai_today() + timedelta(days=n)).isoformat() not in offered)
    reply = await h.say(f"{missing.month}月{missing.day}号")
    assert f"{missing.month}月{missing.day}日" in reply and "不能预约" in reply and "没太明白" not in reply
    assert days.splitlines()[1] in reply  # the same list again
    slots = await h.say("1")
    assert "可以预约的时段" in slots
    starts = {s[0] for s in (await h.session()).data["slots"]}
    hour = next(hour for hour in range(6, 23) if f"{hour:02d}:00" not in starts)
    reply = await h.say(f"{hour}:00")
    assert "没有可以预约的时段" in reply and "没太明白" not in reply
    assert (await h.session()).state == "slot"


async def test_someone_else_s_details_typed_at_the_remembered_person_question_are_taken(h):
    await h.catalog_ready()
    me, other = person(45), person(46)
    await drive(h, "预约", me, remember="1")
    asked = await drive(h, "预约", me, matter="居住证", stop="办事人用上次保存的信息吗")
    assert "办事人用上次保存的信息吗" in asked
    reply = await h.say(f"办事人{other['name']}，身份证{other['id_number']}，手机{other['phone']}")
    assert CONSENT in reply
    session = await h.session()
    assert h.services.bookings.unseal(h.user, session.data["applicant"]) == {k: other[k] for k in ("name", "id_number", "phone")}


async def test_a_hall_that_does_not_serve_the_matter_is_said_so(h):
    await h.catalog_ready()
    halls = await drive(h, "预约", person(47), stop="预约「")
    session = await h.session()
    serving = {row for row in re.findall(r"^\d+\. (\S+)", halls, re.M)}
    other = next((hall for hall in h.services.catalog.halls.values() if hall.name not in serving), None)
    assert other, "the simulated catalog has a hall that does not serve this matter"
    reply = await h.say(other.name)
    assert ("不办理这项业务" in reply or "有几个大厅" in reply) and "没太明白" not in reply
    assert (await h.session()).state == session.state == "hall"


async def test_a_confirmation_after_a_side_question_at_the_summary_books_the_paused_booking(h, sims):
    """At the summary, a question of another matter lists candidates; 确认 then confirms the booking
    waiting at its summary (it was answered 好的 at the list and nothing was booked)."""
    me = person(6)
    summary = await drive(h, "预约", me, stop="请核对预约信息")
    assert "请核对预约信息" in summary
    listed = await h.say("我爸的身份证找不到了 还能办吗")
    assert "请核对预约信息" not in listed
    reply = await h.say("确认")
    assert "预约成功" in reply, reply
    assert len([a for a in await appointments_of(sims, me) if a["status"] == "booked"]) == 1
    # and once booked, nothing is left paused to confirm again
    assert "预约成功" not in (await h.say("确认") or "")


async def test_an_id_and_a_phone_said_by_voice_in_chinese_digits_are_taken(h):
    """五一一六零二… at the ID step: 身份证号码前 17 位应为数字; 幺八四二… at the phone step: 应为 11 位数字."""
    await h.catalog_ready()
    me = person(31)
    spoken = str.maketrans("0123456789", "零一二三四五六七八九")
    await to_name_step(h)
    assert ASK_ID in await h.say(me["name"])
    assert ASK_PHONE in await h.say(me["id_number"].translate(spoken))
    assert CONSENT in await h.say("幺" + me["phone"][1:].translate(spoken))
    applicant = h.services.bookings.unseal(h.user, (await h.session()).data["applicant"])
    assert applicant == {"name": me["name"], "id_number": me["id_number"], "phone": me["phone"]}


async def test_a_detail_put_right_at_the_summary_shows_the_summary_again(h):
    """哎呀手机号写错了 应该是139… at the summary asked whether to remember the details again;
    身份证也错了 是… asked for the phone again too."""
    await h.catalog_ready()
    me, other = person(30), person(29)
    assert SUMMARY in await drive(h, "预约", me, remember="2", stop=SUMMARY)
    for said in (f"哎呀手机号写错了 应该是{other['phone']}", f"身份证也错了 是{other['id_number']}"):
        reply = await h.say(said)
        assert SUMMARY in reply and CONSENT not in reply and ASK_PHONE not in reply, (said, reply)
    applicant = h.services.bookings.unseal(h.user, (await h.session()).data["applicant"])
    assert applicant == {"name": me["name"], "id_number": other["id_number"], "phone": other["phone"]}


async def test_asking_after_the_booking_in_progress_goes_back_to_it(h):
    """刚才那个预约呢 after a question about the hall was searched (结婚登记预约, 离婚登记预约…)
    and the booking was left; with none in progress, it shows the appointments made."""
    await h.catalog_ready()
    await to_name_step(h)
    await h.say("政务中心那边好停车吗")
    back = await h.say("刚才那个预约呢")
    assert "您要办的是不是" not in back and ASK_NAME in back, back
    newcomer = h.as_user("newcomer")
    made = await newcomer.say("之前约的那个呢")
    assert "没有暂停的事项" not in made and "预约" in made and "您要办的是不是" not in made, made
    assert "还没有待办理的预约" in made, made


async def test_another_errand_said_with_a_wait_is_done_first_and_the_booking_waits(h):
    """等下 我先查个办件进度 at the ID step got 好的，不着急…把 18 位号码发给我就行: the progress
    lookup asked for was never opened."""
    await h.catalog_ready()
    await to_name_step(h)
    await h.say("张三")
    other = await h.say("等下 我先查个办件进度")
    assert "办件编号" in other and "不着急" not in other, other
    assert ASK_ID in await h.say("继续")
