"""长辈模式 (#17 item 6): switched on by 长辈模式 / 大字 / 老人 and the like, or offered after a
confused exchange; kept per person across sessions; 标准模式 switches back. In elder mode every
answer offers at most four numbered choices, has no Latin letters of its own, and ends with the
hotline, 人工 and voice; lists page four at a time.

Harness tests (`h`) walk the main journeys (menu, search, booking, progress); the last ones go
through the real webhook (`chat`)."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.web.appkeys import CATALOG
from bot.templating import Renderer, elder_numbering
from dialogs.language import LANGUAGE, before_turn, mode_word, of_profile
from tests.support import person
from tests.test_progress import advance, new_case

ENDING = "需要帮忙，回复「人工」，或打 12345 热线。也可以直接发语音。"
NUMBERED = re.compile(r"^\s*\d{1,3}\s*[.．、)）](?!\d)", re.M)
#: What may carry Latin letters in an elder reply: data, not the bot's words (links, a 一件事's
#: number, licence numbers).
DATA = re.compile(r"https?://\S+|YJS\d+|[A-Z0-9*]{6,}")


def follows_the_rules(reply: str) -> None:
    """An elder-mode answer: at most four numbered choices, no Latin letters of its own, the ending."""
    assert reply.rstrip().endswith(ENDING), reply
    assert "12345" in reply and "人工" in reply
    assert len(NUMBERED.findall(reply)) <= 4, reply
    assert not re.search(r"[A-Za-z]", DATA.sub("", reply)), reply


def choices(reply: str) -> list[str]:
    return NUMBERED.findall(reply)


# The words -------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["长辈模式", "大字", "老人", "我是老人", "字太小了", "请切换长辈模式", "老年模式吧", "关怀模式", "大字版", "看不清楚",
                                   "字太小了能不能大一点", "能把字弄大点吗", "字能不能大点"])
def test_words_that_switch_elder_mode_on(typed):
    assert mode_word(typed) is True


@pytest.mark.parametrize("typed", ["标准模式", "普通模式", "退出长辈模式", "关闭大字", "恢复正常"])
def test_words_that_switch_back(typed):
    assert mode_word(typed) is False


@pytest.mark.parametrize("typed", ["老年人优待证怎么办", "老人补贴", "大字报", "办护照", "标准是什么", "1", "身份证上的字看不清了要换吗",
                                   "名字写错了", "签字大一点可以吗"])
def test_a_need_that_mentions_elders_is_not_a_switch(typed):
    assert mode_word(typed) is None


async def test_bigger_text_asked_for_in_a_sentence_switches_elder_mode_on(h):
    """你好 我眼睛不好 字太小了 能不能把字弄大一点 was searched (没找到); 能把字弄大点吗 listed 宗教活动场所 matters."""
    assert "已换成长辈模式" in await h.say("你好 我眼睛不好 字太小了 能不能把字弄大一点")


def test_the_mode_is_kept_in_the_profile_and_pins_chinese():
    on = before_turn({}, "长辈模式", at_rest=True)
    assert on.elder and on.mode_switched and on.code == "zh"
    profile = on.remembered({})
    assert of_profile(profile).elder
    assert before_turn(profile, "hello", at_rest=True).elder  # a Latin greeting does not switch elders to English
    off = before_turn(profile, "标准模式", at_rest=True)
    assert not off.elder and off.mode_switched and not of_profile(off.remembered(profile)).elder


def test_only_the_last_list_of_an_answer_is_numbered_and_never_more_than_four():
    card = "【材料】\n1. 身份证\n2. 户口簿\n3. 照片"
    question = "选哪个？\n1. 甲\n2. 乙"
    assert elder_numbering([card, question]) == ["【材料】\n· 身份证\n· 户口簿\n· 照片", question]
    long_list = "\n".join(f"{n}. 项目{n}" for n in range(1, 7))
    assert NUMBERED.findall(elder_numbering([long_list])[0]) == []  # six to read, none to pick
    halls = "1. 甲大厅\n   人民路 1 号\n2. 乙大厅\n   人民路 2 号"
    assert elder_numbering([halls]) == [halls]  # an item's second line keeps its list together


def test_the_renderer_caps_choices_and_ends_the_turn_only_in_elder_mode():
    render = Renderer()
    hits = [type("Hit", (), {"name": f"事项{n}", "department": "区民政局"})() for n in range(6)]
    assert len(choices(render("matters/candidates.j2", hits=hits))) == 6
    assert render.elder_turn(["你好"]) == ["你好"]
    token = LANGUAGE.set(before_turn({}, "长辈模式", at_rest=True))
    try:
        assert len(choices(render("matters/candidates.j2", hits=hits))) == 4
        assert render.elder_turn(["你好"]) == ["你好", ENDING]
        assert render.elder_turn([]) == []
    finally:
        LANGUAGE.reset(token)


# The journeys (harness) -------------------------------------------------------------------------


async def test_elder_mode_at_the_menu_shows_four_choices_and_the_hotline(h):
    on = await h.say("长辈模式")
    assert "长辈模式" in on and "标准模式" in on
    follows_the_rules(on)
    assert [c.strip()[0] for c in choices(on)] == ["1", "2", "3", "4"]
    menu = await h.say("菜单")
    follows_the_rules(menu)
    help_ = await h.say("帮助")
    follows_the_rules(help_)


async def test_voice_that_cannot_be_heard_in_elder_mode_does_not_end_with_send_voice(h):
    """听不了语音 and then 也可以直接发语音 in the same answer contradicted itself."""
    await h.say("长辈模式")
    answer = await h.message({"MsgType": "voice", "MediaId": "voice-media-1", "Format": "amr"})
    assert "听不了语音" in answer and "也可以直接发语音" not in answer and "12345" in answer, answer
    assert (await h.say("菜单")).rstrip().endswith(ENDING)  # other answers still offer voice


async def test_search_in_elder_mode_offers_four_at_most(h):
    await h.catalog_ready()
    await h.say("大字")
    for text in ("身份证丢了", "1", "1"):
        follows_the_rules(await h.say(text))


async def test_booking_in_elder_mode_pages_four_at_a_time_and_books(h, sims):
    await h.catalog_ready()
    await h.say("老人")
    who = person(7)
    reply = await h.say("我想预约办护照")
    seen_days = False
    for _ in range(20):
        follows_the_rules(reply)
        if reply.startswith("预约成功"):
            break
        if "请选择日期" in reply and not seen_days:
            seen_days = True
            assert len(choices(reply)) == 4 and "回复「更多」" in reply
            more = await h.say("更多")
            follows_the_rules(more)
            assert "5." in more and "1." not in more  # the next four, numbered on
            reply = await h.say("5")
            continue
        if "姓名" in reply:
            answer = who["name"]
        elif "身份证号码" in reply:
            answer = who["id_number"]
        elif "手机号码" in reply:
            answer = who["phone"]
        elif "请核对预约信息" in reply:
            answer = "确认"
        else:
            answer = "1"
        reply = await h.say(answer)
    assert reply.startswith("预约成功") and seen_days


async def test_the_halls_in_elder_mode_are_paged_four_at_a_time(h):
    """Nine halls: four numbered at a time, 更多 shows the next four, and their numbers pick them."""
    await h.catalog_ready()
    await h.say("长辈模式")
    first = await h.say("服务大厅")
    follows_the_rules(first)
    assert len(choices(first)) == 4 and "回复「更多」" in first, first
    more = await h.say("更多")
    follows_the_rules(more)
    assert "5." in more and "1." not in more, more
    fifth = next(line for line in more.splitlines() if line.strip().startswith("5."))[3:].strip()
    assert f"【{fifth}】" in await h.say("5")


async def test_progress_in_elder_mode(h, sims):
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted")
    await h.say("长辈模式")
    asked = await h.say("查进度")
    follows_the_rules(asked)
    factor = await h.say(case_no)
    follows_the_rules(factor)
    assert "身份证" not in factor  # one question at a time: the phone digits only
    card = await h.say("5678")
    follows_the_rules(card)
    assert "【办件进度】" in card


async def test_standard_mode_switches_back(h):
    await h.say("长辈模式")
    back = await h.say("标准模式")
    assert "标准模式" in back and ENDING not in back
    menu = await h.say("菜单")
    assert "10. 我的证照" in menu and ENDING not in menu


async def test_asking_for_the_mode_already_on_says_so_and_does_not_claim_a_switch(h):
    assert "已换成长辈模式" in await h.say("字太小了")
    again = await h.say("字太小了")  # still hard to read: told it is on, and where more help is
    assert "已经是长辈模式" in again and "已换成" not in again and "人工" in again, again
    await h.say("标准模式")
    assert "现在就是标准模式" in await h.say("标准模式")


async def test_english_in_elder_mode_says_that_elder_mode_is_off_and_how_to_get_it_back(h):
    """English ends 长辈模式 (it speaks Chinese): said, not silently; a plain switch to English says nothing of it."""
    await h.say("长辈模式")
    english = await h.say("English")
    assert "Senior mode" in english and "长辈模式" in english, english
    assert "Senior mode" not in await h.as_user("never-elder").say("English")


async def test_elder_mode_outlives_the_session(h):
    await h.say("长辈模式")
    h.idle(3 * 3600)  # the session has long expired
    assert await h.session() is None
    follows_the_rules(await h.say("你好"))


async def test_elder_mode_is_offered_after_a_confused_exchange(h):
    replies = [await h.say(junk) for junk in ("asdfgh", "qwerty", "zxcvbn")]
    offer = next((r for r in replies if "长辈模式" in r), None)
    assert offer is not None and "12345" in offer and "人工" in offer
    follows_the_rules(await h.say("长辈模式"))


async def test_elder_mode_is_offered_once_after_a_slow_answer_that_was_not_understood(h):
    assert "办件编号" in await h.say("查进度")

    async def minutes_ago(session):
        session.updated_at -= 5 * 60  # the person took five minutes over the question
        return session

    await h.store.change(h.user, minutes_ago)
    slow = await h.say("这个我不太会弄")
    assert "不着急" in slow and "长辈模式" in slow and "办件编号" in slow  # the offer, and the question again
    await h.store.change(h.user, minutes_ago)
    assert "不着急" not in await h.say("还是不会")  # once a session (the way out may name it, as it always does)
    follows_the_rules(await h.say("长辈模式"))


async def test_a_quick_miss_offers_nothing_and_elders_are_not_offered_again(h):
    await h.say("查进度")
    assert "不着急" not in await h.say("这个我不太会弄")
    await h.say("长辈模式")

    async def minutes_ago(session):
        session.updated_at -= 5 * 60
        return session

    await h.store.change(h.user, minutes_ago)
    assert "长辈模式」" not in await h.say("这个我不太会弄")


# Over the real webhook ---------------------------------------------------------------------------


async def test_elder_mode_over_the_webhook_is_kept_and_switched_back(chat, client, app):
    await asyncio.wait_for(app[CATALOG].ready.wait(), timeout=60)
    on = await chat.say("大字")
    follows_the_rules(on)
    found = await chat.say("身份证丢了")  # search
    follows_the_rules(found)
    assert choices(found)
    follows_the_rules(await chat.say("菜单"))
    follows_the_rules(await chat.say("3"))  # 查办件进度, asked the elder way
    follows_the_rules(await chat.say("菜单"))
    back = await chat.say("标准模式")
    assert ENDING not in back
    assert "10. 我的证照" in await chat.say("菜单")


async def test_a_photo_in_elder_mode_is_answered_by_the_rules(h):
    """Where a photo is not taken (no 补正 card open), the answer says what photos are for, in
    the elder way: no Latin letters (not even 「TA」), at most four choices, the ending."""
    await h.say("长辈模式")
    told = await h.message({"MsgType": "image", "PicUrl": "http://mmbiz.invalid/p.jpg", "MediaId": "photo-1"})
    assert "补正" in told and "人工" in told
    follows_the_rules(told)


async def test_a_card_shown_in_elder_mode_is_not_shown_to_others_and_back(h):
    """A guide card is rendered once per catalog and kept, but in each mode apart: an elder
    asking first does not give everyone the short card, nor the reverse."""
    await h.catalog_ready()
    elder, other, later = h.as_user("oElderCard0001"), h.as_user("oStandardCard01"), h.as_user("oElderCard0002")
    await elder.say("长辈模式")
    short = await elder.say("我要办护照")
    assert "要多久" in short and "办理时限" not in short, short
    full = await other.say("我要办护照")
    assert "办理时限" in full and "要多久" not in full, full
    await later.say("长辈模式")
    assert "要多久" in await later.say("我要办护照")
