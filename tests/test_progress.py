"""查进度: a case number, a second factor, and a timeline card in plain words; refusals that do
not say whether a case exists, the lockout after 5 wrong tries, and remembered cases.

All dialog logic: it runs in the in-memory harness (`h`, tests/harness.py), against the platform
simulator (`sims`); the notifications a case's events bring are tests/test_progress_notifications_e2e.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dialogs.progress import find_case_number, working_days_left
from dialogs.understand.reading import shanghai_today
from integrations.platform.identifiers import id_check_digit
from integrations.platform.simulator import World

ID17 = "51160219850315123"
ID_NUMBER = ID17 + id_check_digit(ID17)
OTHER = "oUser0000000000000000000002"


async def new_case(client, matter_code: str | None = None, phone: str = "13812345678", id_number: str = ID_NUMBER) -> str:
    body = {"applicant": {"name": "王芳", "phone": phone, "id_number": id_number}}
    if matter_code:
        body["matter_code"] = matter_code
    resp = await client.post("/sim/platform/_admin/cases", json=body)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["case_no"]


async def advance(client, case_no: str, *states: str, **extra) -> None:
    for state in states:
        resp = await client.post(f"/sim/platform/_admin/cases/{case_no}/advance", json={"to": state, **extra})
        assert resp.status == 200, await resp.text()


def slow_matter() -> str:
    """A matter promised in several working days, so a card counts the days left."""
    return next(g.code for g in sorted(World.load().guides.values(), key=lambda g: g.code) if g.promised_days >= 5)


async def test_two_case_numbers_in_one_message_look_at_the_first_and_say_how_to_ask_the_other(h, sims):
    first, second = await new_case(sims), await new_case(sims)
    asked = await h.say(f"帮我查两个件：{first}（手机尾号见下）和 {second}")
    assert "手机号的后 4 位" in asked and first in asked and f"回复另一个编号（{second}）" in asked, asked
    assert first in await h.say("5678")
    asked = await h.say(second)
    assert second in asked and ("手机号的后 4 位" in asked or "【办件进度】" in asked), asked
    await h.say("菜单")
    asked = await h.say(f"{first} {second} 这两个办到哪了")
    assert first in asked and f"回复另一个编号（{second}）" in asked, asked


async def test_a_case_number_typed_with_the_letter_o_for_zero_is_read_as_meant(h, sims):
    """5116…OOO1 copied by eye from a receipt (O for 0, l for 1): the number meant is asked about
    and verified, never a failed try against a number that does not exist."""
    case_no = await new_case(sims)
    typed = case_no.replace("0", "O").replace("1", "l")
    factor = await h.say(f"单子上号是{typed}")
    assert "手机号的后 4 位" in factor and case_no in factor, factor
    assert "【办件进度】" in await h.say("5678")


async def test_a_case_number_with_letters_for_digits_at_its_prompt_is_read_as_meant_and_stays_chinese(h, sims):
    """At 请输入办件编号, …310OO1 was taken as typed and 5678 then spent a try on a number nobody
    has; sent first, 5116…I2O7… switched the chat to English (I and O read as English words)."""
    case_no = await new_case(sims)
    assert "请输入办件编号" in await h.say("查进度")
    factor = await h.say(case_no[:-3] + case_no[-3:].replace("0", "O"))
    assert "手机号的后 4 位" in factor and case_no in factor, factor
    assert "【办件进度】" in await h.say("5678")
    other = h.as_user("first-message")
    factor = await other.say(case_no.replace("1", "I").replace("0", "O"))
    assert "手机号的后 4 位" in factor and case_no in factor, factor


async def test_menu_option_case_number_and_phone_digits_show_the_timeline(h, sims):
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted", "handed_over", "materials_requested")

    asked = await h.say("3")
    assert "请输入办件编号" in asked
    factor = await h.say(case_no)
    assert "手机号的后 4 位" in factor and case_no in factor
    card = await h.say("5678")

    assert "【办件进度】" in card and case_no in card
    assert "需要补充材料" in card and "暂停" in card and "恢复后继续计时" in card
    assert "接件" in card and "受理" in card and "转办" in card  # every step, with its department
    assert "区行政审批局" in card or "局" in card
    assert "现在您需要：补充以下材料" in card
    assert "1. 订阅" in card


async def test_asking_for_progress_without_the_number_says_where_it_is_found(h):
    """办件编号忘了怎么查进度 was asked 请输入办件编号, and again, until 我说了我忘了编号."""
    await h.catalog_ready()
    told = await h.say("办件编号忘了怎么查进度")
    assert "请输入办件编号" not in told and ("回执" in told or "短信" in told), told


async def test_a_number_of_the_wrong_length_is_told_how_long_it_should_be(h):
    """受理编号是 20241115000123 was told 办件编号…是一串数字 (it was one), and YJS20261201001 that a
    一件事 number begins with YJS (it did): what was wrong, its length, was never said."""
    await h.catalog_ready()
    assert "办件编号" in await h.say("查进度")
    told = await h.say("受理编号是 20241115000123")
    assert "好像不是办件编号" in told and "14 位" in told, told
    told = await h.say("YJS20261201001")
    assert "YJS 加 18 位数字" in told and "YJS 加 11 位" in told, told


async def test_an_id_number_or_phone_for_a_case_number_is_told_what_they_are_and_where_the_number_is(h):
    """用身份证号能查吗 5116…098X was told 不是办件编号（您发的是 17 位）: its X not counted; an ID
    number and a phone pasted into 帮我看看办好没有 were run together as 29 digits."""
    await h.catalog_ready()
    assert "办件编号" in await h.say("查进度")
    told = await h.say("用身份证号能查吗 51160219820306098X")
    assert "您发的是身份证号码" in told and "17 位" not in told and "受理回执" in told, told
    assert "098X" not in told
    pasted = await h.as_user("elder").say("511602195506124027 王秀英 13981234567 帮我看看我那个东西办好没有")
    assert "身份证号和手机号" in pasted and "29 位" not in pasted and "受理回执" in pasted, pasted
    assert "13981234567" not in pasted and "511602195506124027" not in pasted
    # a phone typed in groups (188 7703 2398) at the number's step was told only 您发的是 11 位
    grouped = h.as_user("grouped")
    assert "办件编号" in await grouped.say("查进度")
    phone = await grouped.say("188 7703 2398")
    assert "您发的是手机号码" in phone and "11 位" not in phone, phone


async def test_an_appointment_number_at_progress_points_to_my_appointments_and_books_nothing(h, sims):
    """12070001 at 查进度 is no case number: it may be a 预约号, so 我的预约 is named; 预约号12070001
    is about an appointment made (it was read as a wish to book 号12070001)."""
    await h.catalog_ready()
    assert "办件编号" in await h.say("查进度")
    told = await h.say("12070001")
    assert "好像不是办件编号" in told and "我的预约" in told, told
    long = await h.say("GA20261128003")
    assert "好像不是办件编号" in long and "我的预约" not in long, long
    mine = await h.say("预约号12070001")
    assert "预约" in mine and "不需要预约" not in mine and "请选择办理大厅" not in mine and "可以预约的事项" not in mine, mine


async def test_a_case_number_typed_anywhere_opens_its_progress(h, sims):
    case_no = await new_case(sims)
    await h.say("4")  # in the halls dialog
    factor = await h.say(f"我的办件 {case_no} 到哪一步了")
    assert "手机号的后 4 位" in factor
    card = await h.say(ID_NUMBER)  # the ID number works as the second factor too
    assert "【办件进度】" in card and "材料已接收" in card


async def test_a_case_number_alone_at_a_list_of_matters_opens_its_progress(h, sims):
    """At a list (a pick by number expected), a case number is not a pick: its progress opens
    (it was taken for item 51160… of the list)."""
    await h.catalog_ready()
    case_no = await new_case(sims)
    listed = await h.say("身份证")
    assert "请回复序号" in listed, listed
    assert "手机号的后 4 位" in await h.say(case_no)
    assert "【办件进度】" in await h.say(ID_NUMBER)


async def test_a_case_number_still_opens_after_the_conversation_timed_out(h, sims):
    case_no = await new_case(sims)
    await h.say("4")
    h.idle(h.settings.session_ttl_seconds + 1)  # the session expired mid-dialog
    reply = await h.say(case_no)
    assert "自动结束" in reply and "手机号的后 4 位" in reply


async def test_a_wrong_factor_reads_exactly_like_a_case_that_does_not_exist(h, sims):
    case_no = await new_case(sims)
    missing = case_no[:-4] + "9999"
    first, second = "oUserWrongFactor0000000001", "oUserWrongFactor0000000002"
    await h.say(case_no, user=first)
    await h.say(missing, user=second)
    wrong = await h.say("0000", user=first)
    absent = await h.say("0000", user=second)
    assert wrong.replace(case_no, "N") == absent.replace(missing, "N")
    assert "没有查到匹配的办件" in wrong and "还可以尝试 4 次" in wrong


async def test_five_wrong_tries_lock_that_case_number_for_that_person_only(h, sims):
    case_no = await new_case(sims)
    await h.say(case_no)
    for _ in range(4):
        assert "没有查到匹配的办件" in await h.say("1111")
    locked = await h.say("1111")
    assert "查询已暂停" in locked and "分钟后再试" in locked

    again = await h.say(case_no)  # even the right factor waits out the lock
    assert "查询已暂停" in again
    assert "查询已暂停" in await h.say(f"查一下 {case_no}")

    await h.say(case_no, user=OTHER)
    assert "【办件进度】" in await h.say("5678", user=OTHER)


async def test_malformed_factor_is_explained_and_not_counted(h, sims):
    case_no = await new_case(sims)
    await h.say(case_no)
    for _ in range(5):
        assert "格式好像不对" in await h.say("12")
    assert "还可以尝试 4 次" in await h.say("0000")
    assert "格式好像不对" in await h.say(ID17 + ("0" if id_check_digit(ID17) != "0" else "1"))  # wrong check digit


async def test_at_the_factor_a_mistyped_number_or_no_number_is_answered_and_a_person_offered(h, sims):
    """At 请输入手机号后 4 位, a case number mistyped (16 digits), 编号找不到了 and 我也不知道 each got
    the same 格式好像不对, three times over, with no way out offered."""
    case_no = await new_case(sims)
    await h.say(case_no)
    mistyped = await h.say(case_no[:16])
    assert "不是办件编号" in mistyped and "16 位" in mistyped, mistyped
    assert "没有办件编号的话" in await h.say("编号找不到了怎么办")
    await h.say(case_no)
    first = await h.say("123")
    assert "格式好像不对" in first and "人工" not in first, first
    again = await h.say("手机号换过了")
    assert "格式好像不对" in again and "回复「人工」" in again, again
    assert "【办件进度】" in await h.say("5678")


async def test_a_verified_case_is_remembered_so_the_next_query_does_not_ask(h, sims):
    case_no = await new_case(sims)
    await h.say(case_no)
    await h.say("5678")
    await advance(sims, case_no, "accepted")
    await h.say("菜单")

    card = await h.say("查进度")
    assert "【办件进度】" in card and "已受理" in card and "手机号" not in card

    second = await new_case(sims, phone="13900001111")
    await h.say(second)
    await h.say("1111")
    listing = await h.say("查进度")
    assert "您查询过这些办件" in listing and case_no in listing and second in listing
    number = next(line.split(".")[0] for line in listing.splitlines() if case_no in line)
    picked = await h.say(number)
    assert "【办件进度】" in picked and case_no in picked and "已受理" in picked

    again = await h.say(case_no)  # typed again: straight to the card
    assert "【办件进度】" in again and case_no in again


async def test_card_counts_working_days_left_and_says_how_to_collect(h, sims):
    case_no = await new_case(sims, matter_code=slow_matter())
    await advance(sims, case_no, "accepted")
    await h.say(case_no)
    card = await h.say("5678")
    assert "承诺办结" in card and "个工作日" in card
    assert "无需操作" in card

    await advance(sims, case_no, "processing", "reviewing", "approved")
    done = await h.say("刷新")
    assert "已办结，准予办理" in done and "领取结果" in done
    assert "个工作日" not in done


async def test_special_procedure_shows_the_clock_paused(h, sims):
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted", "processing", "special_procedure")
    await h.say(case_no)
    card = await h.say("5678")
    assert "特别程序" in card and "暂停" in card and "保持电话畅通" in card


async def test_platform_down_is_a_polite_busy_answer(h, sims):
    case_no = await new_case(sims)
    await h.say(case_no)
    await sims.post("/sim/platform/_admin/faults", json={"status": 503})
    try:
        busy = await h.say("5678")
    finally:
        await sims.post("/sim/platform/_admin/faults", json={})
    assert "系统繁忙" in busy


def test_working_days_skip_weekends_and_holidays_and_count_makeup_days():
    friday = date(2026, 12, 25)
    assert working_days_left(friday, date(2026, 12, 31)) == 4  # Mon-Thu
    assert working_days_left(date(2026, 12, 30), date(2027, 1, 4), holidays=[date(2027, 1, 1)]) == 2  # Thu, Mon
    assert working_days_left(friday, date(2026, 12, 27), makeup_workdays=[date(2026, 12, 27)]) == 1
    assert working_days_left(date(2026, 12, 31), date(2026, 12, 29)) == -2
    assert working_days_left(friday, friday) == 0


def test_case_numbers_are_found_but_id_numbers_and_credit_codes_are_not(settings):
    assert find_case_number("查一下５１１６０２２０２６１１２８４７０００１", settings) == "51160220261128470001"
    assert find_case_number("5116 0220 2611 2847 0001", settings) == "51160220261128470001"
    assert find_case_number(ID_NUMBER, settings) is None
    assert find_case_number("91511602R2MAYK76D5", settings) is None
    assert find_case_number("ABCDEFGHIJKLMNOPQRSTUV", settings) is None


async def test_back_from_another_numbers_question_returns_to_ones_own_card_and_acts_only_on_it(h, sims):
    own = await new_case(sims)
    other = await new_case(sims, phone="13900002468")
    await h.say(own)
    await h.say("5678")
    assert other in await h.say(other)  # asked for its factor
    assert "2. 刷新进度" in await h.say("返回")  # back on the card of the case verified
    subscribed = await h.say("订阅")
    assert "订阅成功" in subscribed and own in subscribed and other not in subscribed
    store = h.services.subscriptions
    assert await store.recipients(other, None) == {} and await store.recipients(own, None) == {h.user: "case"}


async def test_a_card_whose_case_is_no_longer_verified_asks_for_the_factor_before_acting(h, sims):
    case_no = await new_case(sims)
    await h.say(case_no)
    await h.say("5678")
    await h.services.subscriptions.forget(h.user, case_no)  # the remembered factor stopped opening it
    asked = await h.say("订阅")
    assert "手机号的后 4 位" in asked and case_no in asked and "订阅成功" not in asked
    assert await h.services.subscriptions.recipients(case_no, None) == {}
    assert "【办件进度】" in await h.say("5678")
    assert "订阅成功" in await h.say("订阅")


async def test_a_case_number_and_its_phone_digits_said_aloud_open_the_card(h, sims):
    """Recognition ends what it heard with 。: the phone digits said aloud open the case."""
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted")

    async def voice(recognition: str) -> str | None:
        return await h.message({"MsgType": "voice", "MediaId": "voice-media-1", "Format": "amr", "Recognition": recognition})

    await h.say("查进度")
    assert "手机号的后 4 位" in await voice(f"{case_no}。")
    card = await voice("5678。")
    assert "【办件进度】" in card and case_no in card


async def test_the_phone_digits_said_with_words_around_them_open_the_card(h, sims):
    """尾号是5678 at the factor step is the answer, not a question for the search (it once opened
    a matter whose name holds 手机)."""
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted")
    await h.say("查进度")
    assert "手机号的后 4 位" in await h.say(case_no)
    card = await h.say("手机尾号是5678")
    assert "【办件进度】" in card and case_no in card


async def test_details_pasted_together_at_the_factor_step_open_the_card_and_are_no_case_number(h, sims):
    """A name, an ID number and a phone pasted in one line answer the question asked; glued
    together they once read as a 29-digit case number, which replaced the real one."""
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted")
    await h.say("查进度")
    assert "手机号的后 4 位" in await h.say(case_no)
    card = await h.say(f"王芳 {ID_NUMBER} 138 1234 5678")
    assert "【办件进度】" in card and case_no in card, card
    assert ID_NUMBER not in card


async def test_the_last_four_said_in_a_correction_open_the_card(h, sims):
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted")
    await h.say("查进度")
    await h.say(case_no)
    card = await h.say("不对，是5678")
    assert "【办件进度】" in card and case_no in card, card


async def test_a_case_number_typed_in_groups_as_printed_opens_its_progress_from_anywhere(h, sims):
    case_no = await new_case(sims)
    printed = " ".join(case_no[i:i + 4] for i in range(0, len(case_no), 4))
    factor = await h.say(f"回执上写的{printed}，办到哪了")
    assert "手机号的后 4 位" in factor and case_no in factor, factor
    # with dashes between its region, date and serial (511602-20261208-290003): 请输入办件编号
    dashed = f"{case_no[:6]}-{case_no[6:14]}-{case_no[14:]}"
    other = h.as_user("dashed")
    factor = await other.say(f"我的件办到哪了 编号 {dashed}")
    assert "手机号的后 4 位" in factor and case_no in factor, factor


@pytest.mark.parametrize("said", ["帮我查下办件 {case} 手机尾号5678", "{case} 5678", "查进度 {case}，身份证 {id}"])
async def test_a_case_number_and_its_factor_in_one_message_open_the_card_at_once(h, sims, said):
    """People give both at once: asking for the last four digits again would be an extra turn."""
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted")
    card = await h.say(said.format(case=case_no, id=ID_NUMBER))
    assert "【办件进度】" in card and case_no in card, card
    assert ID_NUMBER not in card


async def test_a_wrong_factor_beside_the_case_number_opens_nothing(h, sims):
    case_no = await new_case(sims)
    card = await h.say(f"查下办件 {case_no} 手机尾号1111")
    assert "【办件进度】" not in card and "手机号的后 4 位" in card, card
    assert "【办件进度】" in await h.say("5678")


async def test_a_case_number_and_factor_typed_mid_dialog_open_the_card(h, sims):
    case_no = await new_case(sims)
    await h.say("查进度")
    card = await h.say(f"{case_no} 尾号5678")
    assert "【办件进度】" in card and case_no in card, card


@pytest.mark.parametrize("said", ["进度", "查哈进度"])
async def test_progress_asked_in_a_word_or_dialect_opens_it_and_no_number_is_helped(h, said):
    """进度 alone and 查哈进度 open 查进度 (they listed matters); 没得编号 短信删了 there is told where the
    number is and who helps without it, not 没太明白, and the step still waits for a number."""
    await h.catalog_ready()
    assert "请输入办件编号" in await h.say(said)
    helped = await h.say("没得编号 短信删了")
    assert "回执" in helped and "人工" in helped and "没太明白" not in helped, helped
    asked = await h.say("我没有编号 用身份证查得到不")
    assert "您要办的是不是" not in asked and "回执" in asked, asked
    assert (await h.session()).dialog == "progress"


@pytest.mark.parametrize("said", ["我的件办好没有", "我那个件咋样了", "社保卡办好没",
                                  # someone else's case (普通公路项目信息（进度）查询 was listed)
                                  "帮我爸查一下他办的事进度", "我帮我老汉儿查哈他办的那个进度", "办完了吗"])
async def test_ones_own_case_asked_after_in_a_word_opens_progress_and_where_the_number_is_told(h, said):
    """我的件办好没有 was searched (没找到…相关的政务服务事项), and 编号在哪里看 我找不到 at the number
    step got 没太明白."""
    await h.catalog_ready()
    assert "请输入办件编号" in await h.say(said)
    helped = await h.say("编号在哪里看 我找不到")
    assert "回执" in helped and "没太明白" not in helped, helped
    assert (await h.session()).dialog == "progress"


async def test_a_case_number_with_the_phone_digits_pasted_at_the_digits_step_opens_the_case(h, sims):
    """<number> 5678 at 请输入…后 4 位 glued the two into a 24-digit number nobody has, and the
    right digits after it were counted wrong."""
    case_no = await new_case(sims)
    assert "后 4 位" in await h.say(case_no)
    card = await h.say(f"{case_no} 5678")
    assert "【办件进度】" in card and case_no in card, card


async def test_wrong_phone_digits_beside_the_case_number_are_told_wrong(h, sims):
    """<number> 1234 (wrong) as the first message was taken as <number> alone: nothing said of the digits."""
    case_no = await new_case(sims)
    told = await h.say(f"{case_no} 1234")
    assert "没有查到匹配的办件" in told and "【办件进度】" not in told, told
    assert "【办件进度】" in await h.say("5678")


@pytest.mark.parametrize(("asked", "told"), [("啥时候办好", "前办结"), ("还要多久", "前办结"), ("去哪里领", "领取结果"),
                                             ("能不能寄给我", "邮寄"), ("要补什么", "不用补材料"), ("刷新进度", "【办件进度】")])
async def test_questions_on_the_card_are_answered_from_it(h, sims, asked, told):
    """啥时候办好 / 去哪里领 / 能不能寄给我 / 要补什么 / 刷新进度 on a case's card: 没太明白, or a search
    (刷新进度 listed road-project queries)."""
    case_no = await new_case(sims)
    await h.say(case_no)
    assert "【办件进度】" in await h.say("5678")
    reply = await h.say(asked)
    assert told in reply and "没太明白" not in reply and "您要办的是不是" not in reply, reply


async def test_the_phone_digits_said_by_voice_open_the_case(h, sims):
    """五六七八 (voice input) at the digits step: 格式好像不对."""
    case_no = await new_case(sims)
    await h.say(case_no)
    assert "【办件进度】" in await h.say("五六七八")


@pytest.mark.parametrize("said", ["等一下", "等一下我找找"])
async def test_waiting_at_the_case_number_step_is_told_no_hurry(h, said):
    """等一下 at 请输入办件编号 got 没太明白, 等一下我找找 got 格式好像不对."""
    assert "请输入办件编号" in await h.say("查进度")
    reply = await h.say(said)
    assert "不着急" in reply and "没太明白" not in reply and "格式" not in reply, reply
    assert (await h.session()).dialog == "progress"


async def test_the_owner_is_never_locked_out_by_strangers_guessing_the_phone_digits(make_harness, sims):
    """Nine other accounts guessed the digits of one case number: its owner, typing the right ones,
    was told 没有查到匹配的办件 and counted down to a lock (5 tries), and then the ID number that
    still opens it was read as a case number. Now the owner is told the phone check is paused, nothing
    is counted, and the ID number opens the case."""
    h = await make_harness(progress_case_max_failures=3)
    case_no = await new_case(h.sims)
    for n in range(3):
        stranger = h.as_user(f"stranger-{n}")
        await stranger.say(case_no)
        assert "没有查到" in await stranger.say("0000")
    await h.say(case_no)
    for _ in range(6):  # more than the person's own 5 tries
        paused = await h.say("5678")
        assert "暂停" in paused and "身份证" in paused and "没有查到" not in paused and "已暂停，请" not in paused, paused
    card = await h.say(ID_NUMBER)
    assert "【办件进度】" in card and case_no in card, card


async def test_questions_asked_of_a_card_are_answered_from_its_case(h, sims):
    """为什么这么慢 on an overdue case, 还要补什么材料 on any, 为什么不批准 on a refused one got 没太明白
    (then 长辈模式 offered), a generic how-to-send, or a search; 为什么不批准 on one still in hand says
    where it stands."""
    today = shanghai_today()
    await sims.post("/sim/platform/_admin/clock", json={"at": f"{today - timedelta(days=60)}T10:00:00+08:00"})
    late = await new_case(sims, slow_matter())
    await advance(sims, late, "accepted", "processing")
    await sims.post("/sim/platform/_admin/clock", json={"real": True})
    await h.say(late)
    assert "【办件进度】" in await h.say("5678")
    slow = await h.say("为什么这么慢")
    assert "超过承诺办结时间" in slow and "人工" in slow and "没太明白" not in slow, slow
    assert "不用补材料" in await h.say("还要补什么材料")
    not_refused = await h.say("为什么不批准")  # it was not refused: where it stands, not a list of matters
    assert "超过承诺办结时间" in not_refused and "您要办的是不是" not in not_refused, not_refused

    waiting = await new_case(sims)
    await advance(sims, waiting, "accepted", "materials_requested", materials=["结清原户水费凭证"])
    await h.say(waiting)
    await h.say("5678")
    missing = await h.say("还要补什么材料")
    assert "还要补：1) 结清原户水费凭证" in missing, missing
    assert "补正" in await h.say("怎么还没办好")

    refused = await new_case(sims)
    await advance(sims, refused, "accepted", "not_approved", note="申请人学历不符合要求")
    await h.say(refused)
    await h.say("5678")
    why = await h.say("为什么不批准")
    assert "申请人学历不符合要求" in why and "12345" in why and "没太明白" not in why, why


@pytest.mark.parametrize(("opening", "wrong"), [("我的办件号是 GA20241203000123 进度怎么样了", "14 位"),
                                                ("上个月去大厅办的营业执照，到现在还没消息，怎么查", None),
                                                ("2024年办的营业执照，进度怎么查", None)])
async def test_progress_asked_in_a_sentence_opens_progress_and_a_wrong_number_in_it_is_told(h, opening, wrong):
    """New users: 上个月去大厅办的营业执照，到现在还没消息，怎么查 got the halls' opening hours, and a
    number of another format typed with 查进度 was ignored and asked for as if none was sent."""
    reply = await h.say(opening)
    assert "办公时间" not in reply and "办件编号" in reply, reply
    if wrong:
        assert "好像不是办件编号" in reply and wrong in reply, reply
    else:
        assert "好像不是办件编号" not in reply, reply


async def test_a_case_waiting_for_materials_past_its_promised_date_does_not_read_overdue(h):
    """The demo 补正 case (an on-the-spot matter received on 2 Nov) showed 承诺办结：11月2日（周一）
    （暂停期间不计时…）: read weeks later, five weeks overdue. Its date is said to be worked out again."""
    from integrations.platform.simulator.world import DEMO_CASE

    await h.catalog_ready()
    await h.say(DEMO_CASE["case_no"])
    card = await h.say(DEMO_CASE["phone"][-4:])
    promised = next(line for line in card.splitlines() if line.startswith("承诺办结"))
    assert "重新推算" in promised and "月" not in promised, card


async def test_questions_asked_of_a_card_after_its_case_moved_are_answered_as_it_stands_now(h, sims):
    """A 补正 notice arrived while the card was open; 要补啥材料 then said 不用补材料 (the card as first
    shown), and 为啥不给批 after a refusal notice counted the days left. Each question now reads the
    case as it stands."""
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted")
    await h.say(case_no)
    assert "【办件进度】" in await h.say("5678")
    await advance(sims, case_no, "materials_requested", materials=["授权委托书"])
    missing = await h.say("要补啥材料")
    assert "授权委托书" in missing and "不用补" not in missing, missing
    await advance(sims, case_no, "processing", "not_approved", note="申请材料不真实")
    why = await h.say("为啥不给批")
    assert "申请材料不真实" in why and "工作日" not in why, why


@pytest.mark.parametrize("asked", ["办好了没", "好了吗", "现在什么情况", "批下来没有"])
async def test_whether_it_is_done_asked_on_a_card_shows_it_as_it_stands_now(h, sims, asked):
    """办好了没 on a card was 没太明白, 好了吗 got 好的, 批下来没有 a list of matters."""
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted")
    await h.say(case_no)
    await h.say("5678")
    await advance(sims, case_no, "processing", "approved")
    card = await h.say(asked)
    assert "【办件进度】" in card and "没太明白" not in card, card
    assert "已办结" in card or "办结" in card, card


@pytest.mark.parametrize(("on", "off"), [("帮我订阅", "不用再通知我了"), ("订阅一下", "别给我发了"), ("有进展了通知我", "取消订阅")])
async def test_notices_of_a_card_are_asked_for_and_stopped_in_a_sentence(h, sims, on, off):
    """订阅一下 / 帮我订阅 were 没太明白, 有进展了通知我 and 不用再通知我了 listed 验资账户通知书."""
    case_no = await new_case(sims)
    await h.say(case_no)
    await h.say("5678")
    subscribed = await h.say(on)
    assert "订阅" in subscribed and "您要办的是不是" not in subscribed and "没太明白" not in subscribed, subscribed
    assert (await h.session()).data.get("subscribed") is True
    stopped = await h.say(off)
    assert "您要办的是不是" not in stopped and "没太明白" not in stopped, stopped
    assert (await h.session()).data.get("subscribed") is False


@pytest.mark.parametrize("asked", ["可以用身份证号查吗", "能用身份证吗"])
async def test_whether_the_id_number_will_do_at_the_factor_is_answered_and_the_step_stays(h, sims, asked):
    """可以用身份证号查吗 where the phone digits or ID are asked listed ID card matters; the ID sent
    next then opened 居民身份证办理's card and the lookup was lost."""
    case_no = await new_case(sims)
    await h.say(f"查下{case_no}")
    reply = await h.say(asked)
    assert "身份证号码" in reply and "您要办的是不是" not in reply and "【" not in reply, reply
    assert "【办件进度】" in await h.say(ID_NUMBER)


async def test_someone_else_collecting_the_result_is_answered_on_the_card(h, sims):
    """我在外地 能不能让我儿子帮我拿 on a case's card listed matters with 异地 in their names."""
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted", "processing", "approved", "ready_for_collection")
    await h.say(case_no)
    assert "【办件进度】" in await h.say("5678")
    reply = await h.say("我在外地 能不能让我儿子帮我拿")
    assert "代领" in reply and "您要办的是不是" not in reply, reply
