"""Small talk, junk and a way out (issue 20, item 5), and a menu that shows everything a person
can do (item 6).

What the issue asks to be proven through the real webhook (the `chat` fixture) is; the rest of
the dialog logic runs in the in-memory harness (`h`, tests/harness.py)."""

from __future__ import annotations

import pytest

from dialogs.understand import shanghai_today
from tests.support import person
from tests.test_booking import to_summary

NOT_A_MATTER = ("没找到", "相关的政务服务事项", "您要办的是不是")
SMALL_TALK = ["谢谢", "好的", "你是谁", "再见", "在吗", "有人吗", "你好", "谢谢啦", "好的谢谢", "哈哈哈", "不好意思",
              "谢谢你哈 幺妹", "好的 谢谢大姐"]  # thanks with the way people address the one helping
JUNK = ["asdfgh", "？？？", "。。。", "qwerty", "hjkl"]


def searched(reply: str) -> bool:
    return any(word in reply for word in NOT_A_MATTER) or "【办事指南】" in reply


# Through the real webhook ----------------------------------------------------------------------


async def test_small_talk_and_junk_never_get_a_matter(chat):
    for text in SMALL_TALK + JUNK:
        reply = await chat.say(text)
        assert reply and not searched(reply), (text, reply)
        assert "没太明白" not in reply, (text, reply)
    assert "不客气" in await chat.say("谢谢")
    assert "机器人" in await chat.say("你是谁")
    for asked in ("这个机器人谁做的", "你用的什么模型？你是人工智能吗"):  # who made it: it says what it is, nothing searched
        assert "机器人" in await chat.say(asked)
    assert "在的" in await chat.say("有人吗")
    assert "再见" in await chat.say("再见")
    today = shanghai_today()
    told = await chat.say("今天几号了")
    assert f"今天是{today.month}月{today.day}日" in told and not searched(told), told
    joke = await chat.say("讲个笑话")
    assert "办事的事尽管问我" in joke and not searched(joke), joke
    for closing in ("办完了", "没了 谢谢", "搞定了", "谢了 回头再说"):  # the errand done: a close, never 身后一件事
        reply = await chat.say(closing)
        assert not searched(reply) and ("再见" in reply or "不客气" in reply), (closing, reply)


async def test_junk_gets_didnt_understand_with_two_examples(chat):
    reply = await chat.say("asdfgh")
    assert "没看懂" in reply and reply.count("“") >= 2  # two examples of what to say


async def test_two_turns_in_a_row_the_bot_could_not_use_offer_a_person_and_12345(chat):
    first = await chat.say("zxcvbn")
    assert "没看懂" in first and "12345" not in first
    second = await chat.say("？？？")
    assert "「人工」" in second and "12345" in second
    # small talk is a turn the bot could use: the run is broken
    assert "12345" not in await chat.say("谢谢")
    assert "12345" not in await chat.say("sdfghj")
    # a number the menu does not have is a turn it could not use too
    third = await chat.say("12")
    assert "「人工」" in third and "12345" in third


async def test_a_number_the_menu_does_not_have_is_answered_as_such(chat):
    menu = await chat.say("菜单")
    for title in ("我的预约", "我的订阅", "企业绑定", "评价"):
        assert title in menu
    reply = await chat.say("12")
    assert "菜单里没有「12」" in reply and "1. 办事指南" in reply and "9. 评价" in reply
    assert not searched(reply)


async def test_the_menu_and_help_show_everything_a_person_can_do(chat):
    menu = await chat.say("菜单")
    help_ = await chat.say("帮助")
    for reply in (menu, help_):
        for title in ("办事指南", "预约办事", "查办件进度", "我的预约", "我的订阅", "企业绑定", "评价", "服务大厅", "人工"):
            assert title in reply, (title, reply)


# In the harness ----------------------------------------------------------------------------------


async def test_ok_after_a_guide_card_closes_nothing(h):
    await h.say("身份证丢了怎么补办")
    card = await h.say("1")  # the first of the matters it offers
    assert "材料清单" in card
    ok = await h.say("好的")
    assert "好的" in ok and not searched(ok) and "材料清单" not in ok
    assert "办理流程" in await h.say("办理流程")  # the card is still where it was


async def test_small_talk_inside_a_question_is_answered_and_the_question_asked_again(h):
    await h.say("4")
    reply = await h.say("谢谢")
    assert "不客气" in reply and "回复序号查看地址" in reply and "没太明白" not in reply
    assert "洪洲大道二段55号" in await h.say("1")  # the list is still the one on screen


async def test_a_yes_inside_a_question_is_an_answer_before_it_is_small_talk(h):
    """The step is asked first: 好的 at the booking summary confirms it."""
    await h.catalog_ready()
    await to_summary(h, "预约", person(7))
    assert "预约成功" in await h.say("好的")


async def test_no_thanks_inside_a_booking_says_how_to_stop_or_go_on(h):
    """不用了 at the booking's days was answered 好的 and the days again, as if nothing was said."""
    await h.catalog_ready()
    await h.say("预约办护照")
    assert "请选择日期" in await h.say("1")
    reply = await h.say("不用了")
    assert "不办了请回复「取消」" in reply and "请选择日期" in reply, reply


async def test_a_need_typed_after_a_held_key_is_searched_not_called_junk(h):
    """A run of one character (a key held down, 啊啊啊啊) is junk alone, not beside a question."""
    await h.catalog_ready()
    assert "没看懂" in await h.say("啊啊啊啊啊")
    reply = await h.say("啊啊啊啊啊我身份证丢了怎么补办")
    assert searched(reply) and "没看懂" not in reply, reply


async def test_greeting_at_the_menu_shows_what_the_bot_can_do(h):
    reply = await h.say("你好")
    assert "您好" in reply and "1. 办事指南" in reply and "9. 评价" in reply


async def test_small_talk_keeps_the_session_at_rest(h):
    await h.say("谢谢")
    session = await h.session()
    assert session is None or session.at_rest
    await h.say("asdfgh")  # one turn not used: counted, and still at rest
    session = await h.session()
    assert session is None or session.at_rest


async def test_misses_inside_a_dialog_and_at_the_menu_count_together(h):
    await h.say("4")
    assert "12345" not in await h.say("随便说点什么")
    await h.say("菜单")  # a global word the bot used: the run starts again
    assert "12345" not in await h.say("qwerty")
    assert "12345" in await h.say("zxcvbnm")


@pytest.mark.parametrize("number, opens", [("6", "预约"), ("7", "订阅"), ("8", "统一社会信用代码"), ("9", "评价")])
async def test_every_menu_number_opens_what_it_names(h, number, opens):
    assert opens in await h.say(number)


async def test_a_number_the_menu_does_not_have_counts_as_a_miss(h):
    assert "菜单里没有「15」" in await h.say("15")
    second = await h.say("99")
    assert "菜单里没有「99」" in second and "12345" in second


async def test_small_talk_at_a_step_that_takes_any_text_asks_the_question_again(h):
    await h.catalog_ready()
    reply = await h.say("预约")
    while "请输入办事人的姓名" not in reply:  # the matter, then its hall, day and slot: the first of each
        reply = await h.say("护照" if "要预约办理什么事" in reply else "1")
    again = await h.say("在吗")
    assert "在的" in again and "请输入办事人的姓名" in again
    assert "没看懂" in (junk := await h.say("asdfgh")) and "请输入办事人的姓名" in junk


async def test_ok_on_the_progress_card_closes_nothing_and_repeats_nothing(h, sims):
    from tests.test_progress import new_case

    case_no = await new_case(sims)
    await h.say(case_no)
    card = await h.say("5678")
    assert "刷新进度" in card
    ok = await h.say("好的")
    assert "好的" in ok and "刷新进度" not in ok and "没太明白" not in ok
    assert case_no in await h.say("刷新")  # the card is still the one on screen


async def test_junk_then_a_search_that_can_use_nothing_offer_a_person(h):
    """The count goes on from the menu into the search it starts (digits only: the search's junk,
    answered by asking again, with no offer of its own)."""
    await h.catalog_ready()
    assert "12345" not in await h.say("qwerty")
    second = await h.say("123456")
    assert "请说说您想办什么事" in second and "「人工」" in second and "12345" in second


@pytest.mark.parametrize("initials", ["sbk", "jzz", "yyzz"])
async def test_pinyin_initials_the_search_reads_are_searched_not_called_junk(h, initials):
    await h.catalog_ready()
    reply = await h.say(initials)
    assert (searched(reply) or reply.startswith("【")) and "没看懂" not in reply, reply  # a list, or the card
    assert "没看懂" in await h.say("asdfgh", user="oSomeoneElse")  # mashing is still junk


async def test_a_farewell_while_looking_around_ends_it_and_one_with_a_booking_unsent_says_so(h):
    """Bye at the list of halls: goodbye, and the list is not shown again (a later 1 is not a hall);
    bye at a booking's summary: goodbye, told it is not done, the summary again."""
    await h.catalog_ready()
    halls = await h.say("大厅在哪")
    assert "广安区北辰街道便民服务中心" in halls, halls
    reply = await h.say("拜拜")
    assert "再见" in reply and "广安区北辰街道便民服务中心" not in reply, reply
    assert (await h.session()).dialog == "menu"

    summary = await to_summary(h, "预约", person(5))
    assert "请核对预约信息" in summary
    reply = await h.say("拜拜")
    assert "再见" in reply and "还没办完" in reply and "请核对预约信息" in reply, reply


async def test_youre_welcome_said_back_at_a_list_is_no_search(h):
    """不客气, said back to the bot's own 不客气 at a list of matters, listed 文物修缮许可, 临时救助 …"""
    await h.catalog_ready()
    listed = await h.say("社保")
    assert "您要办的是不是" in listed, listed
    reply = await h.say("不客气")
    # no new list: at most the one on screen, asked again
    assert not any(line not in listed for line in reply.splitlines() if line[:1].isdigit()), reply
