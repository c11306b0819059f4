"""What a citizen sees when chatting: menu, halls, global words, re-asks, events.

Dialog logic runs in the in-memory harness (`h`, tests/harness.py); what only the webhook
decides (the "success" WeChat expects, the session as Redis keeps it) goes over HTTP."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.web.appkeys import CATALOG
from dialogs.understand.reading import shanghai_today
from tests.support import open_card, person, to_question
from tests.test_booking import to_summary


async def test_greeting_gets_the_menu(h):
    reply = await h.say("你好")
    assert "您好" in reply
    assert "1. 办事指南" in reply and "4. 服务大厅地址和时间" in reply


async def test_halls_dialog_end_to_end(h):  # the platform's halls: the harness waits for its catalog
    listing = await h.say("4")
    assert "本区服务大厅" in listing and "1. 广安区政务服务中心" in listing
    detail = await h.say("1")
    assert "洪洲大道二段55号" in detail and "9:00-17:30" in detail
    other = await h.say("浓洄")
    assert "渠江北路215号" in other


async def test_halls_nearest_first_once_a_location_is_shared(h):
    assert "发送您的位置" in await h.say("4")
    answer = await h.location("30.4560", "106.6490", "浓洄")
    lines = [line for line in answer.splitlines() if line[:1].isdigit()]
    assert "由近到远" in answer and "浓洄街道" in lines[0] and "公里" in lines[0]
    kms = [float(line.split("约 ")[1].split(" 公里")[0]) for line in lines]
    assert kms == sorted(kms) and len(kms) > 3
    assert "渠江北路215号" in await h.say("1")  # numbers follow the order shown


async def test_halls_from_the_settings_while_the_platform_catalog_is_not_loaded(make_harness):
    h = await make_harness(platform_url="http://127.0.0.1:9", catalog=False)  # nothing listens there
    assert "1. 广安区政务服务中心" in await h.say("4")
    assert "洪洲大道二段55号" in await h.say("1")


async def test_a_question_before_the_guides_have_loaded_is_told_to_ask_again_shortly(make_harness):
    h = await make_harness(platform_url="http://127.0.0.1:9", catalog=False)  # the catalog never loads
    answer = await h.say("身份证丢了怎么办")
    assert "办事指南正在更新" in answer and "系统繁忙" not in answer
    assert "请回复序号选择" in await h.say("菜单")  # the conversation goes on


async def test_menu_button_opens_a_dialog_from_anywhere(h):
    await h.say("4")
    reply = await h.event("CLICK", "MENU_HALLS")
    assert "本区服务大厅" in reply
    reply = await h.event("CLICK", "MENU_HOME")
    assert "请回复序号选择" in reply


async def test_back_steps_back_one_question(h):
    await h.say("4")
    await h.say("2")
    back = await h.say("返回")
    assert "回复序号查看地址" in back
    back_again = await h.say("返回")
    assert "请回复序号选择" in back_again


async def test_cancel_leaves_the_dialog(h):
    """取消 at the halls (only looked at) leaves off reading: 已取消「服务大厅」 read as if something
    had been undone."""
    await h.say("4")
    reply = await h.say("取消")
    assert "先不看了" in reply and "已取消" not in reply and "请回复序号选择" in reply, reply


@pytest.mark.parametrize("leaving", ["算了，不约了", "不办了，谢谢", "不用了谢谢", "先不弄了", "算了 不用预约了", "取消掉"])
async def test_leaving_a_booking_in_ones_own_words_cancels_it(h, leaving):
    """People quit in sentences (算了，不约了) and with a plain no where no yes / no was asked."""
    await h.catalog_ready()
    await h.say("预约")
    reply = await h.say(leaving)
    assert "已取消「预约办事」" in reply and "请回复序号选择" in reply, reply
    assert "没找到" not in reply and "没太明白" not in reply


@pytest.mark.parametrize("again", ["继续", "哎 还是约吧", "哎还是约吧，刚才那个"])
async def test_a_booking_given_up_can_be_taken_up_again_where_it_was(h, again):
    """算了 不约了 then 哎还是约吧，刚才那个: 没找到 (the hall and day chosen were gone)."""
    await h.catalog_ready()
    await h.say("预约办护照")
    await h.say("1")
    times = await h.say("1")
    assert "可以预约的时段" in times
    left = await h.say("算了 不约了")
    assert "已取消「预约办事」" in left and "继续" in left, left
    back = await h.say(again)
    assert "可以预约的时段" in back and "没找到" not in back, back
    session = await h.session()
    assert session.dialog == "booking" and session.state == "slot"


@pytest.mark.parametrize("asking", ["请帮我转人工吧", "你好，转人工", "我要转人工", "有没有人工", "查不到啊 找人工",
                                    "转人工服务", "有没有工作人员", "我想找个真人问一下", "我要找人工问问"])
async def test_asking_for_a_person_in_ones_own_words_hands_over(h, asking):
    await h.say("4")
    reply = await h.say(asking)
    assert "工作人员" in reply and "没找到" not in reply and "回复序号查看地址" not in reply, reply  # in or out of office hours


@pytest.mark.parametrize("asking", ["can I talk to a real person please", "I need a human"])
async def test_asking_for_a_person_in_english_hands_over(h, asking):
    reply = await h.say(asking)
    assert "found no government service" not in reply and "没找到" not in reply, reply
    assert "staff" in reply or "工作人员" in reply, reply


@pytest.mark.parametrize("asking", ["字太小了看不清", "我年纪大了看不清字"])
async def test_saying_the_text_is_too_small_turns_on_elder_mode(h, asking):
    await h.catalog_ready()
    reply = await h.say(asking)
    assert "长辈模式" in reply and "没找到" not in reply, reply


async def test_a_menu_option_named_where_a_need_is_asked_opens_it(h):
    """预约 typed at 请说说您想办什么事 is the booking, not a search for the word."""
    await h.catalog_ready()
    await h.say("1")
    assert "要预约办理什么事" in await h.say("预约")
    assert "请说说您想办什么事" in await h.say("办事指南")


async def test_materials_asked_with_no_matter_named_asks_which_matter(h):
    await h.catalog_ready()
    reply = await h.say("材料清单")
    assert "请说说您想办什么事" in reply and "您要办的是不是" not in reply, reply


async def test_a_hall_asked_about_in_words_is_shown(h):
    """Where a hall is and when it opens, asked in one's own words, anywhere a need is asked."""
    await h.catalog_ready()
    listing = await h.say("服务大厅在哪")
    assert "本区服务大厅" in listing and "没找到" not in listing
    tomorrow = "一二三四五六天"[(shanghai_today() + timedelta(days=1)).weekday()]  # the two agree whatever today is
    hours = await h.say(f"我不会弄手机，能去现场吗，明天礼拜{tomorrow}开门不")  # the halls open that day, with their hours
    assert "开门的大厅" in hours and "09:00" in hours and "没太明白" not in hours, hours
    await h.say("菜单")
    detail = await h.say("万盛街道便民服务中心几点上班")
    assert "【广安区万盛街道便民服务中心】" in detail and "时间：" in detail
    await h.say("菜单")
    by_alias = await h.say("车管所在哪里")
    assert "车辆管理所" in by_alias and "地址：" in by_alias
    await h.say("菜单")
    card = await h.say("办护照在哪个大厅")  # a matter named: its card says where (the search is sure of it)
    assert "护照" in card and "办理部门" in card


@pytest.mark.parametrize("asked", ["政务服务中心坐几路公交", "政务中心停车方便不"])
async def test_how_to_reach_a_hall_or_park_there_is_answered_from_the_halls_it_names(h, asked):
    """政务服务中心坐几路公交 got 没找到 and 政务中心停车方便不 all nine halls, though each hall's card
    says its buses and parking: 政务中心 names the district's and the city's, and both are shown."""
    await h.catalog_ready()
    reply = await h.say(asked)
    assert "【广安区政务服务中心】" in reply and "【广安市政务服务中心】" in reply and "交通：" in reply, reply
    assert "便民服务中心" not in reply and "没找到" not in reply, reply


@pytest.mark.parametrize("asking", ["可以预约吗", "我要预约"])
async def test_booking_asked_at_a_hall_starts_the_booking_not_a_matter_named_after_booking(h, asking):
    await h.catalog_ready()
    await h.say("4")
    assert "【" in await h.say("1")
    reply = await h.say(asking)
    assert "要预约办理什么事" in reply and "【" not in reply, reply  # not 【结婚登记预约】's card


async def test_a_hall_question_in_the_middle_of_a_booking_is_answered_and_the_booking_waits(h):
    await h.catalog_ready()
    assert "要预约办理什么事" in await h.say("预约")
    hours = await h.say("大厅几点开门")
    assert "周一至周五" in hours and "没找到" not in hours, hours
    assert "要预约办理什么事" in await h.say("继续")


async def test_whether_the_halls_open_on_a_day_is_answered_with_those_open_that_day(h):
    """周六大厅开门吗, or 礼拜天开门不 at the hall list: the halls open that day with that day's
    hours, not every hall's week again; a hall closed that day is not listed."""
    await h.catalog_ready()
    halls = list(h.app[CATALOG].halls.values())
    saturday = [hall.name for hall in halls if any(o.weekday == 6 for o in hall.hours)]
    closed = [hall.name for hall in halls if not any(o.weekday == 6 for o in hall.hours)]
    assert saturday and closed  # the data has both kinds
    reply = await h.say("周六大厅开门吗")
    assert "（周六）开门的大厅" in reply and all(name in reply for name in saturday), reply
    assert not any(name in reply for name in closed), reply
    await h.say("4")
    sunday = await h.say("礼拜天开门不")
    assert "（周日）" in sunday and "周一至周五" not in sunday, sunday


async def test_saying_one_works_that_day_mid_booking_is_not_a_question_about_hall_hours(h):
    """明天要上班 tells something of oneself: not answered with every hall's hours (周六上班吗 is)."""
    await h.catalog_ready()
    await to_summary(h, "预约", person(8))
    reply = await h.say("我老公明天要上班")
    assert "周一至周五" not in reply, reply
    hours = await h.as_user("someone-asking").say("你们周六上班吗")
    assert "（周六）开门的大厅" in hours and "09:00" in hours, hours


async def test_work_said_at_the_residence_permits_question_picks_employment(h):
    """上班 answers 以就业为条件 at the 居住证 question of its basis (it showed where to apply)."""
    await h.catalog_ready()
    await to_question(h, "居住证办理", "以就业为条件", answer="1", tries=3)
    after = await h.say("在这边上班")
    assert "以就业为条件" not in after and "办理地点" not in after and "没太明白" not in after, after


async def test_a_no_that_answers_the_question_is_not_leaving(h):
    """At a yes / no question 不用了 is the answer, and a no at rest is small talk, not a cancel."""
    assert "已取消" not in await h.say("不用了谢谢")
    await h.catalog_ready()
    await to_summary(h, "预约", person(7))
    reply = await h.say("不用了")
    assert "已取消「预约办事」" not in reply and "预约成功" not in reply


async def test_help_keeps_the_place(h):
    await h.say("4")
    reply = await h.say("帮助")
    assert "我的订阅" in reply and "评价" in reply and "回复序号查看地址" in reply
    assert "区政务服务中心" in await h.say("1")


async def test_human_is_honest_until_staff_lands(h):
    reply = await h.say("人工")
    assert "12345" in reply


async def test_two_misses_in_a_row_offer_a_person_and_12345(h):
    await h.say("4")
    first = await h.say("随便说点什么")
    assert "没太明白" in first and "回复序号查看地址" in first and "人工" not in first
    second = await h.say("还是不懂")
    assert "再说一遍" in second and "回复序号查看地址" in second  # not understanding, said: the question again
    assert "「人工」" in second and "12345" in second
    # the count starts again after the offer, and a turn the bot could use breaks the run
    assert "12345" not in await h.say("随便说点别的")
    assert "地址" in await h.say("1")
    assert "12345" not in await h.say("乱七八糟的话")


async def test_full_width_and_punctuation_are_understood(h):
    assert "本区服务大厅" in await h.say("４")
    assert "请回复序号选择" in await h.say("菜单！")


async def test_media_gets_a_polite_answer_for_its_kind(h):
    photo = await h.message({"MsgType": "image", "PicUrl": "http://x.invalid/a.jpg", "MediaId": "m1"})
    assert "补正" in photo and "「人工」" in photo and "文字" not in photo  # what photos are for here
    assert "听不了语音" in await h.message({"MsgType": "voice", "MediaId": "m2", "Format": "amr"})
    assert "只能看懂文字" in await h.message({"MsgType": "video", "MediaId": "m3", "ThumbMediaId": "t3"})
    heard = await h.message({"MsgType": "voice", "MediaId": "m4", "Format": "amr", "Recognition": "帮助"})
    assert heard.startswith("您说的是：帮助") and heard == "您说的是：帮助\n\n" + await h.say("帮助")


async def test_unknown_message_type_is_answered_politely(h):
    assert "暂时处理不了" in await h.message({"MsgType": "hologram", "Data": "x"})


async def test_subscribe_welcomes_and_unsubscribe_forgets(h):
    reply = await h.event("subscribe")
    assert "欢迎关注" in reply and "请回复序号选择" in reply
    await h.say("4")
    assert await h.event("unsubscribe") is None
    assert await h.session() is None


async def test_events_that_need_no_answer_get_success(chat, peer):
    answer = await chat.post(peer.event(chat.user, "TEMPLATESENDJOBFINISH"))
    assert answer.status == 200 and answer.body == "success"
    answer = await chat.post(peer.event(chat.user, "VIEW", "https://example.invalid"))
    assert answer.body == "success"


async def test_session_is_json_with_idle_ttl(chat, redis, settings):
    await chat.say("4")
    key = f"{settings.key_prefix}sess:{{{chat.user}}}"
    session = json.loads(await redis.get(key))
    assert session["dialog"] == "halls" and session["state"] == "pick"
    assert set(session) == {"dialog", "state", "data", "updated_at"}
    assert 0 < await redis.ttl(key) <= settings.session_ttl_seconds


async def test_expired_conversation_is_mentioned_once(h):
    await h.say("4")
    h.idle(h.settings.session_ttl_seconds + 1)  # the session lapses, the trace of it does not yet
    reply = await h.say("1")
    assert "自动结束" in reply and "请回复序号选择" in reply
    assert "自动结束" not in await h.say("你好")


async def test_a_new_question_after_the_conversation_lapsed_is_answered(h):
    await h.catalog_ready()
    await h.say("预约")
    h.idle(h.settings.session_ttl_seconds + 1)
    reply = await h.say("身份证丢了怎么补办")
    assert "自动结束" in reply and "居民身份证" in reply and "请回复序号选择" not in reply, reply


async def test_users_do_not_share_conversations(h):
    await h.say("4", user="oAlice")
    assert "区政务服务中心" in await h.say("1", user="oAlice")
    assert "请说说您想办什么事" in await h.say("1", user="oBob")


def test_a_case_number_opens_progress_exactly_when_the_understanding_finds_one():
    """`Conversation` looks for eight digits in the text it has normalised before it reads the
    message (fast path): for every pattern it must route what the understanding step finds as a
    case number in its real format, and nothing glued from digit groups (issue 20: an ID number
    and a phone number pasted together are no 29-digit case number)."""
    import random
    from datetime import date
    from types import SimpleNamespace

    from dialogs.conversation import PROGRESS_ASKED, Conversation
    from dialogs.engine import Incoming, Services, normalise
    from dialogs.menu import SHORTCUTS
    from dialogs.understand import understand
    from tests.test_case_number_precheck import PATTERNS, messages, real_messages

    texts = real_messages() + messages(random.Random(20261129), 3000)
    texts += ["１２３４５６７８ ", "12345678。", " 1234５６７８！！", "⑳⑳⑳⑳", "㉑㉑㉑㉑x", "张三 110101199003078515 13800138000"]
    found = 0
    for pattern in PATTERNS:
        settings = None if pattern is None else SimpleNamespace(case_number_pattern=pattern)
        conversation = Conversation(Services(render=lambda *a, **k: "", settings=settings))
        for text in texts:
            word = normalise(text)
            read = understand(text, date.today(), case_pattern=pattern)
            case_no = read.value("case_number")
            several = read.conflict("case_number")  # several numbers: the first, the others said how to ask
            numbers = list(dict.fromkeys(slot.value for slot in several.slots)) if several else []
            if word in SHORTCUTS:
                expected = (SHORTCUTS[word][0], dict(SHORTCUTS[word][1]))
            elif PROGRESS_ASKED.search(word):  # 办到哪了: progress, with the number when one is in it
                expected = ("progress", {"case_no": numbers[0], "also": numbers[1:4]} if numbers
                            else {"case_no": case_no} if case_no else {})
            elif numbers:
                expected = ("progress", {"case_no": numbers[0], "also": numbers[1:4]})
            else:
                expected = ("progress", {"case_no": case_no}) if case_no else None
            incoming = Incoming(channel="wechat", user="oUser", kind="text", text=text)
            assert conversation._opens("menu", incoming, word) == expected, (pattern, text)
            incoming = Incoming(channel="wechat", user="oUser", kind="text", text=text)
            assert conversation._opens("progress", incoming, word) == (expected if word in SHORTCUTS else None)
            incoming = Incoming(channel="wechat", user="oUser", kind="text", text=text)
            at_id_step = conversation._opens("booking", incoming, word, frozenset({"id_number"}))
            assert at_id_step == (expected if word in SHORTCUTS else None)  # a number there is the ID's
            found += case_no is not None
    assert found > 500
    for glued in ("5116 0220 2611 2847 0001", "张三 110101199003078515 13800138000", "110101199003078515 13800138000"):
        assert conversation._opens("menu", Incoming(channel="wechat", user="oUser", kind="text", text=glued), normalise(glued)) is None


@pytest.mark.parametrize("asked", ["我上礼拜交的材料，办到哪了", "不是 我是查进度", "我的件审到哪一步了",
                                   "你们这什么破系统！！我的驾驶证换证办了半个月了还没好，到底还要等多久？？", "我不是要办！！我是问进度！！", "查一下我办的事到哪了", "查进读",
                                   "查办件", "办件查询", "我的办件", "我想查办件进度", "查件", "看看我的件"])
async def test_where_a_case_stands_asked_in_words_opens_progress(h, asked):
    await h.catalog_ready()
    reply = await h.say(asked)
    assert "办件编号" in reply and "没找到" not in reply, reply
    assert ("让您久等了" in reply) == ("还没好" in asked), reply  # a long wait told: sorry first
    told = await h.say("GA20261128003")  # not a case number here: what one looks like is said
    assert "好像不是办件编号" in told and "没太明白" not in told, told


async def test_thanks_with_a_form_of_address_is_small_talk(h):
    reply = await h.say("好的谢谢你啊闺女")
    assert "不客气" in reply and "没找到" not in reply, reply


async def test_leaving_the_queue_in_a_sentence_leaves_it(h):
    await h.say("人工")
    reply = await h.say("算了不等了，我自己去大厅问")  # in office hours a queue, else a message to leave
    assert ("退出" in reply or "不留言" in reply) and "已记下" not in reply and "留言已收到" not in reply, reply


@pytest.mark.parametrize("copied", ["「我的预约」", "“我的预约”", "【我的预约】"])
async def test_a_word_copied_from_a_reply_with_its_quotes_is_that_word(h, copied):
    """「我的预约」 copied with the quotes the replies put around it: 我的预约 (it searched 我的)."""
    await h.catalog_ready()
    assert "广安区北辰街道便民服务中心" in await h.say("大厅在哪")
    reply = await h.say(copied)
    assert "没找到" not in reply and "还没有待办理的预约" in reply, reply


@pytest.mark.parametrize("home", ["回首页", "回主页", "从头来", "go back to the menu", "start over"])
async def test_going_home_in_other_words_shows_the_menu(h, home):
    """回首页 opened 居民户口簿补领 (首页 is what the bot's own text calls the menu); start over searched."""
    await h.catalog_ready()
    await h.say("身份证丢了")
    menu = await h.say(home)
    assert ("请回复序号选择" in menu or "Please reply with a number" in menu) and "【" not in menu, menu
