"""The understanding step (dialogs.understand): what it finds in messages typed the way people
type them, and how it classes whole messages. Pure functions: no bot, no Redis.

Today is Thursday 2026-12-03 unless a test says otherwise.
"""

from __future__ import annotations

import json
import random
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from dialogs.conversation import GLOBAL_INTENTS
from dialogs.understand import (
    LEVELS_BY_STARS, MAX_EXAMINED, HallName, HallNames, MessageClass, SlotKind, TimeOfDay, Understanding, understand,
)
from integrations.platform.identifiers import id_check_digit
from integrations.platform.models import Hall, RatingLevel

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 12, 3)  # a Thursday
K = SlotKind
C = MessageClass


@pytest.fixture(scope="module")
def halls() -> HallNames:
    raw = json.loads((ROOT / "integrations" / "platform" / "data" / "halls.json").read_text(encoding="utf-8"))
    return HallNames.of(Hall.model_validate(h) for h in raw)


def read(text: str, *expects: str, today: date = TODAY, halls: HallNames | None = None) -> Understanding:
    return understand(text, today, halls, expects=expects)


def an_id(first17: str) -> str:
    return first17 + id_check_digit(first17)


ID_1 = "110101199003078515"  # a valid check digit
ID_2 = an_id("51160219800101123")  # the issue's number with its right check digit (…1231)


# ID numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, expected", [
    (ID_1, ID_1),
    ("我的身份证号是" + ID_2, ID_2),
    ("身份证：110101 19900307 8515", ID_1),
    ("110101-19900307-8515", ID_1),
    ("1101 0119 9003 0785 15", ID_1),
    ("１１０１０１１９９００３０７８５１５", ID_1),  # full-width digits
    ("身份证号码为110101199003078515。", ID_1),
    ("id: 110101199003078515", ID_1),
    ("帮我查一下110101199003078515这个人的预约", ID_1),
])
def test_an_id_number_is_found_however_it_is_typed(typed, expected):
    understood = read(typed, "id_number")
    assert understood.value(K.ID_NUMBER) == expected
    assert K.CASE_NUMBER not in understood


def test_an_id_number_ending_in_x_is_read_in_either_case():
    number = next(n for n in (an_id(f"11010119900307{k:03d}") for k in range(1000)) if n.endswith("X"))
    assert read(number.lower()).value(K.ID_NUMBER) == number
    assert read(number[:6] + " " + number[6:14] + " " + number[14:].lower()).value(K.ID_NUMBER) == number
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)  # ０-９ and Ｘ
    assert read(full_width).value(K.ID_NUMBER) == number


def test_the_issues_id_number_is_found_and_its_wrong_check_digit_said():
    # 51160219800101123X (issue 20) has the check digit 1, not X: it is not refused as "25 位"
    # but found, as an ID number typed wrong, so the bot can say which digit to check.
    understood = read("我的身份证号是51160219800101123X", "id_number")
    assert understood.value(K.ID_NUMBER) is None
    mistyped = understood.invalid(K.ID_NUMBER)
    assert mistyped is not None and mistyped.value == "51160219800101123X"
    assert understood.text[mistyped.start:mistyped.end] == "51160219800101123x"
    assert understood.kind == C.DETAILS


@pytest.mark.parametrize("typed", [
    "11010119900307851",  # 17 digits
    "1101011990030785155",  # 19 digits
    "110101199013078515",  # month 13: no birth date, not an ID number
    "订单号123456789012345678",  # 18 digits with no birth date in them
])
def test_what_is_not_an_id_number(typed):
    understood = read(typed, "id_number")
    assert understood.value(K.ID_NUMBER) is None
    assert understood.invalid(K.ID_NUMBER) is None


# Phone numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [
    "13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "+86-13800138000",
    "+8613800138000", "0086 13800138000", "008613800138000", "１３８００１３８０００", "手机：13800138000",
    "我的电话是13800138000，有事打给我", "tel 138 0013 8000", "电话13800138000。",
])
def test_a_mobile_number_is_found_however_it_is_typed(typed):
    assert read(typed, "phone").value(K.PHONE) == "13800138000"


@pytest.mark.parametrize("typed", [
    "12345678901",  # no such mobile range
    "1380013800",  # 10 digits
    "138001380001",  # 12 digits
    "028-12345678",  # a landline
    "10086",
    "订单138001380001234",
])
def test_what_is_not_a_mobile_number(typed):
    assert K.PHONE not in read(typed, "phone")


def test_two_different_phone_numbers_are_a_conflict_not_a_guess():
    understood = read("电话13800138000，或者打13912345678")
    assert understood.value(K.PHONE) is None
    conflict = understood.conflict(K.PHONE)
    assert conflict is not None and [s.value for s in conflict.slots] == ["13800138000", "13912345678"]


def test_one_phone_number_typed_twice_is_no_conflict():
    understood = read("13800138000 对，就是138-0013-8000")
    assert understood.conflicts == () and understood.value(K.PHONE) == "13800138000"


# Pasted details -------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [
    "张三 110101199003078515 13800138000",
    "张三，110101199003078515，13800138000",
    "张三\n110101199003078515\n13800138000",
    "姓名：张三 身份证号：110101199003078515 手机号：13800138000",
    "姓名:张三;身份证:110101 19900307 8515;电话:138-0013-8000",
    "我叫张三，身份证是110101199003078515，手机13800138000",
    "13800138000 张三 110101199003078515",
    "张三 １１０１０１１９９００３０７８５１５ +86 138 0013 8000",
])
def test_a_paste_of_name_id_and_phone_fills_all_three_and_is_no_case_number(typed):
    for expects in (("name",), ("id_number",), ()):
        understood = read(typed, *expects)
        assert understood.value(K.NAME) == "张三"
        assert understood.value(K.ID_NUMBER) == "110101199003078515"
        assert understood.value(K.PHONE) == "13800138000"
        assert K.CASE_NUMBER not in understood
        assert understood.conflicts == ()
        assert understood.kind == C.DETAILS


def test_a_paste_with_two_names_asks_rather_than_guesses():
    understood = read("张三 13800138000 李四 110101199003078515")
    assert understood.conflict(K.NAME) is not None and understood.value(K.NAME) is None
    assert understood.value(K.PHONE) == "13800138000"


# Names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, name", [
    ("我叫张三", "张三"),
    ("姓名：李四", "李四"),
    ("姓名:王小明", "王小明"),
    ("名字是欧阳娜娜", "欧阳娜娜"),
    ("我叫王小明，想预约", "王小明"),
    ("我叫张三想预约明天", "张三"),
    ("我叫王小明今年三十", "王小明"),
    ("我叫李雷明天过来", "李雷"),
    ("申请人：诸葛亮", "诸葛亮"),
    ("联系人 陈红", "陈红"),
    ("本人王芳，想约下周三上午", "王芳"),
    ("李华，男，电话13512345678", "李华"),
    ("my name is John Smith", "John Smith"),
    ("Name: Li Lei, phone 13800138000", "Li Lei"),
    ("帮我妈预约，她叫李秀英，身份证110101199003078515", "李秀英"),
    ("张三的身份证110101199003078515", "张三"),
    ("李四电话13800138000", "李四"),
    ("我叫張三", "張三"),
    # a clerk's paste: the one who comes, not a word of the company's details (单位信用代码 is no 单位信)
    ("经办人罗秀英，身份证511602198008124060，手机18429780825，单位信用代码91511602B3PY0CUX0E", "罗秀英"),
    ("代办人：陈红 单位地址广安区建设路", "陈红"),
    # A correction names the right one (the person typed it wrong a moment ago).
    ("名字写错了，是李秀英", "李秀英"), ("姓名改成王小明", "王小明"), ("不对，应该是陈红", "陈红"), ("办事人改为赵刚", "赵刚"),
])
def test_a_name_after_a_cue_is_found_anywhere(typed, name):
    assert read(typed).value(K.NAME) == name


@pytest.mark.parametrize("typed, name", [
    ("张三", "张三"), ("王小明", "王小明"), ("欧阳娜娜", "欧阳娜娜"), ("司马光", "司马光"), ("高峰", "高峰"),
    ("买买提·艾力", "买买提·艾力"), (" 李四 ", "李四"), ("刘德华。", "刘德华"), ("张王小明", "张王小明"),
    ("张 三", "张三"),
])
def test_a_bare_name_counts_when_the_step_asks_for_one(typed, name):
    assert read(typed, "name").value(K.NAME) == name
    assert K.NAME not in read(typed) or "·" in typed  # not asked for, not in a paste: not a name


@pytest.mark.parametrize("typed", [
    "明天", "周五", "广安", "成都", "北京", "谢谢", "你好", "查进度", "我的预约", "不知道", "王先生", "李女士",
    "高兴", "程序", "金额", "菜单", "人工", "办护照", "开个店需要办什么", "没有", "怎么办", "张", "好的",
    "为什么", "在吗", "万盛街道", "满意", "高新区", "王家村", "李子坝路", "王某", "小王", "老李",
])
def test_a_place_a_time_or_a_common_word_is_never_a_name(typed, halls):
    assert K.NAME not in read(typed, "name", halls=halls)


# Dates and times --------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, day", [
    ("明天", date(2026, 12, 4)),
    ("后天", date(2026, 12, 5)),
    ("大后天", date(2026, 12, 6)),
    ("今天", TODAY),
    ("下周二", date(2026, 12, 8)),
    ("下个星期二", date(2026, 12, 8)),
    ("下礼拜一", date(2026, 12, 7)),
    ("周五上午", date(2026, 12, 4)),
    ("星期四", TODAY),
    ("这周六", date(2026, 12, 5)),
    ("本周日", date(2026, 12, 6)),
    ("下下周三", date(2026, 12, 16)),
    ("帮我约一下周五", date(2026, 12, 4)),  # 一下 is "a moment": this Friday, not next week's
    ("看一下下周五", date(2026, 12, 11)),
    ("周末", date(2026, 12, 5)),
    ("12月5号", date(2026, 12, 5)),
    ("12月5日", date(2026, 12, 5)),
    ("十二月五日", date(2026, 12, 5)),
    ("1月2号", date(2027, 1, 2)),  # past this year: next year
    ("11月20号", date(2026, 11, 20)),  # two weeks ago, not next year's: a booking says it has passed
    ("6月1号", date(2027, 6, 1)),  # the nearer of last June and next
    ("5号", date(2026, 12, 5)),
    ("2号", date(2027, 1, 2)),  # the 2nd has passed this month
    ("三十一号", date(2026, 12, 31)),
    ("2026-12-08", date(2026, 12, 8)),
    ("2026/12/8", date(2026, 12, 8)),
    ("2026年12月8日", date(2026, 12, 8)),
    ("12/25", date(2026, 12, 25)),
    ("12.14", date(2026, 12, 14)),  # where a day is asked: this month's or next
    ("12-14", date(2026, 12, 14)),
    ("1.5", date(2027, 1, 5)),
    ("9.30", None),  # half past nine, as likely as 30 September
    ("下个月3号", date(2027, 1, 3)),
    ("下月三号", date(2027, 1, 3)),
    ("明天下午三点", date(2026, 12, 4)),
    ("3天后", date(2026, 12, 6)),
    ("过两天", date(2026, 12, 5)),
    ("我想约下周一上午去办", date(2026, 12, 7)),
    ("那就后天吧", date(2026, 12, 5)),
    ("明早", date(2026, 12, 4)),
])
def test_a_day_is_read_relative_to_today(typed, day):
    assert read(typed, "date").value(K.DATE) == day


@pytest.mark.parametrize("today, typed, day", [
    (date(2026, 1, 31), "下个月3号", date(2026, 2, 3)),
    (date(2026, 1, 30), "下个月30号", None),  # February has none
    (date(2026, 12, 30), "5号", date(2027, 1, 5)),
    (date(2027, 1, 3), "12月28号", date(2026, 12, 28)),  # last week, across the new year
    (date(2026, 12, 30), "明天", date(2026, 12, 31)),
    (date(2026, 12, 31), "后天", date(2027, 1, 2)),
    (date(2026, 12, 7), "周一", date(2026, 12, 7)),  # a Monday: today
    (date(2026, 12, 6), "下周一", date(2026, 12, 7)),  # a Sunday: the week after is tomorrow's
    (date(2028, 2, 10), "2月29号", date(2028, 2, 29)),
    (date(2026, 2, 10), "2月30号", None),
    # English: "the day after tomorrow" booked tomorrow, and dates by the month's name were not read
    (date(2026, 12, 7), "the day after tomorrow", date(2026, 12, 9)),
    (date(2026, 12, 7), "in two days", date(2026, 12, 9)),
    (date(2026, 12, 7), "Dec 10", date(2026, 12, 10)),
    (date(2026, 12, 7), "10th December", date(2026, 12, 10)),
    (date(2026, 12, 30), "the 5th of January", date(2027, 1, 5)),
    (date(2026, 12, 7), "may I book", None),
])
def test_days_across_months_years_and_weeks(today, typed, day):
    assert read(typed, "date", today=today).value(K.DATE) == day


@pytest.mark.parametrize("typed, at, part", [
    ("下午3点", time(15), "afternoon"),
    ("下午三点", time(15), "afternoon"),
    ("明天下午三点", time(15), "afternoon"),
    ("上午十点半", time(10, 30), "morning"),
    ("9点", time(9), None),
    ("3点", time(15), None),  # office hours: the afternoon
    ("15:30", time(15, 30), None),
    ("三点一刻", time(15, 15), None),
    ("两点45分", time(14, 45), None),
    ("晚上8点", time(20), "evening"),
    ("中午12点", time(12), "noon"),
    ("10点钟", time(10), None),
    ("后天下午", None, "afternoon"),
    ("周五上午", None, "morning"),
    ("明早", None, "morning"),
    ("下午两点到三点", time(14), "afternoon"),  # a range: its start
    ("9点-10点", time(9), None),
    ("tomorrow at 3pm", time(15), None),
    ("10:30 am", time(10, 30), None),
    ("12 pm", time(12), None),
    ("周五三点", time(15), None),  # the weekday's numeral is not the hour's (53 o'clock found nothing)
    ("星期三十点", time(10), None),
    ("礼拜四两点半", time(14, 30), None),
])
def test_a_time_of_day(typed, at, part):
    assert read(typed).value(K.TIME) == TimeOfDay(at, part)


@pytest.mark.parametrize("typed", ["有一点问题", "快一点", "等了30分钟", "点击菜单", "我的号码", "1号窗口在哪", "坐2号线去"])
def test_words_that_only_look_like_times(typed):
    understood = read(typed)
    assert K.TIME not in understood
    assert K.DATE not in understood
    assert K.RATING not in understood


def test_two_days_that_disagree_are_a_conflict_but_one_day_said_twice_is_not():
    assert read("明天或者后天").conflict(K.DATE) is not None
    assert read("下周二，也就是12月8号").conflicts == ()
    assert read("上午3点").conflict(K.TIME) is None  # 上午3点 is one time, 03:00
    assert read("下午，3点").conflicts == ()
    assert read("上午，4点").conflict(K.TIME) is not None


def test_n_hao_is_an_item_when_the_step_offers_a_list_and_a_day_otherwise():
    assert read("2号", "choice").value(K.CHOICE) == 2
    assert K.DATE not in read("2号", "choice")
    assert read("5号", "date").value(K.DATE) == date(2026, 12, 5)
    assert read("5号", "date", "choice").value(K.DATE) == date(2026, 12, 5)


# Halls ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, hall", [
    ("广安区万盛街道便民服务中心", "gaq-ws"),
    ("万盛街道便民服务中心", "gaq-ws"),
    ("去万盛那个", "gaq-ws"),
    ("北辰街道", "gaq-bc"),
    ("浓洄", "gaq-nh"),
    ("车管所", "gas-cgs"),
    ("出入境", "gas-crj"),
    ("去公积金中心办", "gas-gjj"),
    ("不动产登记中心", "gas-bdc"),
    ("市政务中心", "gas-zwzx"),
    ("广安市政务服务中心", "gas-zwzx"),
    ("广安区政务服务中心", "gaq-zwzx"),
    ("明天上午去北辰", "gaq-bc"),
    # by its level: the district's hall told from the city's
    ("区政务服务中心", "gaq-zwzx"),
    ("还是去区政务中心吧", "gaq-zwzx"),
    ("市政务服务中心", "gas-zwzx"),
    ("市公安局出入境接待大厅", "gas-crj"),
])
def test_a_hall_by_its_name_a_short_name_or_an_alias(typed, hall, halls):
    assert read(typed, "hall", halls=halls).value(K.HALL) == (hall,)


def test_a_district_means_every_hall_in_it(halls):
    every = {h.id for h in halls.halls}
    assert set(read("广安区的", halls=halls).value(K.HALL)) == every
    assert read("广安区万盛街道那边", halls=halls).value(K.HALL) == ("gaq-ws",)


def test_two_halls_named_are_a_conflict(halls):
    understood = read("北辰或者万盛都行", halls=halls)
    assert understood.conflict(K.HALL) is not None


def test_halls_are_data_with_their_own_aliases():
    halls = HallNames.of([HallName("h1", "某某县人民路便民服务中心", "某某县", ("人民路大厅",)),
                          HallName("h2", "某某县政务服务中心", "某某县")], aliases={"h2": ["县大厅"]})
    assert read("人民路", halls=halls).value(K.HALL) == ("h1",)
    assert read("人民路大厅", halls=halls).value(K.HALL) == ("h1",)
    assert read("县大厅", halls=halls).value(K.HALL) == ("h2",)
    assert set(read("某某县", halls=halls).value(K.HALL)) == {"h1", "h2"}


# Case numbers ---------------------------------------------------------------------------------

CASE = "11510000MB1234567820261203001"


@pytest.mark.parametrize("typed", [
    CASE, CASE.lower(), f"办件编号：{CASE}", f"查一下{CASE}的进度", f"编号 {CASE} 手机尾号8000",
    "".join(chr(ord(c) + 0xFEE0) for c in CASE),
    # joined by dashes, as some receipts print it (the progress dialog's own reader glued them, the
    # conversation did not: 请输入办件编号)
    "11510000-MB12345678-20261203001",
])
def test_a_case_number_in_its_format_is_found(typed):
    assert read(typed).value(K.CASE_NUMBER) == CASE


@pytest.mark.parametrize("typed", [
    "张三 110101199003078515 13800138000",  # 29 digits only when glued: never
    "110101199003078515 13800138000",
    "11510000MB12345678 20261203001",  # two groups of a case number apart: not one token
    "110101199003078515",
    "13800138000",
    "1151000MB123",  # too short
])
def test_digit_groups_are_never_glued_into_a_case_number(typed):
    assert K.CASE_NUMBER not in read(typed)


def test_the_case_number_format_is_a_setting():
    pattern = r"SL\d{12}"
    assert understand("受理号sl202612030001", TODAY, case_pattern=pattern).value(K.CASE_NUMBER) == "SL202612030001"
    assert K.CASE_NUMBER not in understand(CASE, TODAY, case_pattern=pattern)


# Numbered choices, yes / no -------------------------------------------------------------------


@pytest.mark.parametrize("typed, item", [
    ("1", 1), ("2号", 2), ("第二个", 2), ("二", 2), ("②", 2), ("选3", 3), ("３", 3), ("第3项", 3),
    ("我选2", 2), ("我要第一个", 1), ("就第一个吧", 1), ("第一个", 1), ("最后一个", -1), ("最早的那个", 1), ("最晚的那个", -1), ("3.", 3), ("选第四个", 4), (" 12 ", 12), ("第三个大厅", 3),
])
def test_a_numbered_choice(typed, item):
    assert read(typed, "choice").value(K.CHOICE) == item


@pytest.mark.parametrize("typed", ["0", "100", "第", "一二三四", "选", "我有3个孩子", "2个人"])
def test_what_is_not_a_numbered_choice(typed):
    assert K.CHOICE not in read(typed, "choice")


@pytest.mark.parametrize("typed, said", [
    ("好的", True), ("好", True), ("可以", True), ("确认", True), ("对", True), ("是的", True), ("嗯", True),
    ("嗯嗯", True), ("对对对", True), ("好的谢谢", True), ("ok", True), ("OK的", True), ("没问题", True), ("确定！", True),
    ("不", False), ("不用", False), ("不用了", False), ("算了", False), ("不对", False), ("不要", False),
    ("不用了谢谢", False), ("no", False), ("否", False), ("不是", False),
])
def test_yes_or_no(typed, said):
    assert read(typed, "yes_no").value(K.YES_NO) is said


@pytest.mark.parametrize("typed", ["你好呀", "好不好", "不好意思我想问一下", "是不是要带户口本", "可以网上办吗"])
def test_what_is_not_a_yes_or_no(typed):
    assert K.YES_NO not in read(typed, "yes_no")


# Ratings --------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, stars", [
    ("五星好评", 5), ("5星", 5), ("五星", 5), ("⭐⭐⭐⭐⭐", 5), ("★★★★★", 5), ("👍", 5), ("非常满意", 5), ("很满意", 5),
    ("给个五星", 5), ("打5分", 5), ("五颗星", 5), ("这次服务很满意", 5), ("满意", 4), ("4星", 4), ("⭐⭐⭐⭐", 4),
    ("好评", 4), ("一般", 3), ("3分", 3), ("还行吧", 3), ("基本满意", 3), ("差评", 2), ("不满意", 2),
    ("不太满意", 2), ("非常不满意", 1), ("很不满意", 1), ("1星", 1), ("一星", 1), ("⭐", 1), ("👎", 1),
    ("对结果非常不满意，等太久了", 1), ("评价 5", 5), ("评价5", 5), ("评分：4", 4), ("评价 一", 1), ("rate 5", 5), ("太差了", 1), ("不怎么样", 2), ("[强]", 5), ("⭐️⭐️⭐️⭐️⭐️", 5),
])
def test_a_rating_in_peoples_words_five_is_best(typed, stars):
    assert read(typed).value(K.RATING) == stars


def test_stars_map_onto_the_platforms_levels_five_being_very_satisfied():
    assert LEVELS_BY_STARS[read("五星好评").value(K.RATING)] == RatingLevel.very_satisfied
    assert LEVELS_BY_STARS[read("非常不满意").value(K.RATING)] == RatingLevel.very_dissatisfied
    assert LEVELS_BY_STARS[read("5", "rating").value(K.RATING)] == RatingLevel.very_satisfied


def test_a_bare_number_rates_only_when_a_rating_is_asked():
    assert read("5", "rating").value(K.RATING) == 5
    assert read("1", "rating").value(K.RATING) == 1
    assert read("五", "rating").value(K.RATING) == 5
    assert K.RATING not in read("5")
    assert K.RATING not in read("5", "choice")
    assert K.RATING not in read("6", "rating")


def test_a_rating_word_inside_a_sentence_rates_only_when_it_says_so():
    assert K.RATING not in read("我差一份材料")
    assert K.RATING not in read("一般需要几天")
    assert K.RATING not in read("等了5分钟")
    assert K.RATING not in read("满意度调查在哪填")
    assert K.RATING not in read("我要评价一下")
    assert K.RATING not in read("评价一次要多久")
    assert read("五星 但是不满意").conflict(K.RATING) is not None


# Whole messages -------------------------------------------------------------------------------


@pytest.mark.parametrize("intent, words", sorted(GLOBAL_INTENTS.items()))
def test_every_global_word_of_the_conversation_keeps_its_meaning(intent, words):
    for word in words:
        understood = read(word)
        assert (understood.kind, understood.global_word) == (C.GLOBAL, intent), word


@pytest.mark.parametrize("typed, intent", [
    ("继续", "resume"), ("接着", "resume"), ("继续预约", "resume"), ("接着办吧", "resume"), ("continue", "resume"),
    ("我要转人工", "human"), ("转人工客服", "human"), ("请帮我转人工吧", "human"), ("找客服", "human"),
    ("菜单！", "menu"), ("回到菜单", "menu"), ("MENU", "menu"), ("主菜单吧", "menu"),
    ("取消吧", "cancel"), ("不办了", "cancel"), ("我不办了", "cancel"), ("人工客服在吗", "human"), ("？", "help"), ("你能做什么", "help"),
    ("那你能干啥", "help"), ("你有啥用", "help"),  # (那你能干啥 offered 长辈模式)
    ("返回上一步", "back"), ("English", "english"), ("中文", "chinese"),
])
def test_global_words_and_their_variants(typed, intent):
    understood = read(typed)
    assert (understood.kind, understood.global_word) == (C.GLOBAL, intent)


@pytest.mark.parametrize("typed", ["取消预约", "菜单在哪里", "人工审核要多久", "继续教育证书", "开始办理营业执照"])
def test_a_global_word_inside_a_request_is_not_the_global_word(typed):
    assert read(typed).kind != C.GLOBAL


@pytest.mark.parametrize("typed, kind", [
    ("你好", "greeting"), ("您好！", "greeting"), ("hi", "greeting"), ("hello", "greeting"), ("早上好", "greeting"),
    ("你好呀", "greeting"),
    ("谢谢", "thanks"), ("谢谢你！", "thanks"), ("多谢多谢", "thanks"), ("thx", "thanks"), ("辛苦了", "thanks"),
    ("好的谢谢", "thanks"), ("谢谢🙏", "thanks"), ("thank you", "thanks"),
    ("好的", "ack"), ("好", "ack"), ("ok", "ack"), ("嗯", "ack"), ("知道了", "ack"), ("收到", "ack"),
    ("👌", "ack"), ("👍", "ack"),
    ("你是谁", "identity"), ("你是人还是机器", "identity"), ("[抱拳]", "thanks"), ("你是机器人吗", "identity"), ("你是真人吗？", "identity"), ("who are you", "identity"),
    ("再见", "bye"), ("拜拜", "bye"), ("bye", "bye"), ("88", "bye"), ("谢谢，再见", "bye"),
    ("在吗", "presence"), ("有人吗", "presence"), ("在吗？？", "presence"), ("有人在吗", "presence"), ("人呢", "presence"),
    ("哈哈", "laughter"), ("哈哈哈哈", "laughter"), ("hh", "laughter"), ("hhh", "laughter"), ("233", "laughter"), ("😂", "laughter"), ("😂😂😂🤣", "laughter"),
    ("你真棒", "praise"), ("厉害", "praise"), ("666", "praise"), ("好用", "praise"),
    ("笨蛋", "insult"), ("垃圾", "insult"), ("傻逼机器人", "insult"), ("什么玩意", "insult"),
    ("不好意思", "apology"), ("对不起，发错了", "apology"),
    ("不知道", "unsure"), ("随便", "unsure"), ("都行", "unsure"), ("什么意思？", "unsure"), ("没听懂", "unsure"),
])
def test_small_talk_has_a_kind(typed, kind):
    understood = read(typed)
    assert (understood.kind, understood.small_talk) == (C.SMALL_TALK, kind)


@pytest.mark.parametrize("typed", [
    "qq", "nb", "xyz", "asdf", "jkl", "sdfsdf", "asdfghjkl", "qwer", "zxcv", "bbb", "kkk", "x",
    "🙂🙂", "🐶🐱", "🌹🌹🌹", "😅", "。。。", "？？？", "!!!", "……", "...", "~~~", ",", "啊啊啊啊啊", "[微笑]", "[微笑][微笑]", "/::)",
    "1111aaaa", "xx8888",
])
def test_junk(typed):
    assert read(typed).kind == C.JUNK


@pytest.mark.parametrize("typed", [
    "开个店需要办什么", "身份证丢了怎么补办", "你好，我想办护照", "护照", "how do i renew my passport", "营业执照",
    "我想预约", "查进度", "社保卡", "id card lost", "abc公司注册",
    # a held key or a number with a run of one digit, beside words that say something
    "啊啊啊啊啊身份证丢了怎么补办", "！！！！！护照过期了", "我的案件号是51160220261111000012怎么查不到",
    "门牌号1111号的房子怎么过户", "late-eee 护照",
])
def test_a_question_or_a_need_is_other(typed):
    assert read(typed).kind == C.OTHER


@pytest.mark.parametrize("typed", [
    "1", "第二个", "5号", "明天下午", "13800138000", "五星好评", "⭐⭐⭐", "不需要", "下周二",
    "我的身份证号是110101199003078515", "手机号：138 0013 8000", CASE, "是的，13800138000",
])
def test_nothing_but_details_is_details_not_a_query(typed):
    assert read(typed, "choice" if typed == "5号" else "date").kind == C.DETAILS


@pytest.mark.parametrize("typed, language", [
    ("How do I renew my passport?", "en"), ("I lost my ID card", "en"), ("book an appointment please", "en"),
    ("What documents do I need to start a business", "en"), ("thank you", "en"), ("where is the service hall", "en"),
    ("你好", "zh"), ("护照怎么办", "zh"), ("我要办passport", "zh"),
    # pinyin a syllable at a time is Chinese without its characters (ban, ge read as English)
    ("wo xiang ban ge ti hu", "zh"), ("shen fen zheng diu le", "zh"), ("can you help me", "en"),
    ("ok", ""), ("hi", ""), ("hello", ""), ("bye", ""), ("13800138000", ""), ("👍", ""), ("qq", ""), ("asdf", ""),
])
def test_the_language_of_a_message(typed, language):
    assert read(typed).language == language


# Bounds, privacy ------------------------------------------------------------------------------


def test_a_long_message_is_read_only_up_to_the_cap():
    pasted = "张三 110101199003078515 13800138000 " + "一网通办办事指南。" * 800
    understood = read(pasted, "name")
    assert understood.truncated and len(understood.text) <= MAX_EXAMINED
    assert understood.value(K.ID_NUMBER) == "110101199003078515"
    assert understood.kind == C.OTHER


def test_personal_data_never_shows_in_a_repr():
    understood = read("张三 110101199003078515 13800138000", "name")
    shown = repr(understood)
    for secret in ("张三", "110101199003078515", "13800138000"):
        assert secret not in shown
    assert "138****8000" in shown


def test_spans_point_at_what_was_typed():
    understood = read("姓名：李四，电话 138-0013-8000，明天下午3点")
    assert [understood.text[s.start:s.end] for s in understood.slots] == ["李四", "138-0013-8000", "明天", "下午3点"]


def test_a_misspelt_expected_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        read("张三", "names")


# Properties -----------------------------------------------------------------------------------

KINDS = [k.value for k in SlotKind]
PROPERTY = hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.text(max_size=600), st.lists(st.sampled_from(KINDS), max_size=3), st.dates())
def test_nothing_raises_and_every_span_is_in_the_text(text, expects, today):
    understood = understand(text, today, None, expects=expects)
    assert isinstance(understood.kind, MessageClass)
    for slot in understood.slots:
        assert 0 <= slot.start < slot.end <= len(understood.text)


@PROPERTY
@given(st.text(alphabet="0123456789 -+xX号月日天周点:：，,.星第选一二三四五六七八九十两明后下个上午号⭐👍", max_size=80),
       st.lists(st.sampled_from(KINDS), max_size=3))
def test_nothing_raises_on_digits_and_date_words(text, expects):
    understand(text, TODAY, None, expects=expects)


def _random_id(rng: random.Random) -> str:
    born = date(1940, 1, 1).toordinal() + rng.randrange(30000)
    first17 = f"{rng.randrange(110000, 659999)}{date.fromordinal(born):%Y%m%d}{rng.randrange(1000):03d}"
    return an_id(first17)


def _random_phone(rng: random.Random) -> str:
    return rng.choice(["138", "139", "150", "186", "199", "177"]) + f"{rng.randrange(10**8):08d}"


def _typed(number: str, rng: random.Random) -> str:
    """The number as people type it: whole, or in groups with spaces or dashes."""
    style = rng.randrange(4)
    if style == 0:
        return number
    sizes = [3, 4, 4] if len(number) == 11 else rng.choice([[6, 8, 4], [6, 4, 4, 4], [4, 4, 4, 4, 2]])
    groups, at = [], 0
    for size in sizes:
        groups.append(number[at:at + size])
        at += size
    return rng.choice([" ", "-"]).join(groups)


@PROPERTY
@given(st.randoms(use_true_random=False), st.lists(st.sampled_from(["", " ", "，", "张三", "电话", "身份证", "\n", "我叫李四 "]), min_size=3, max_size=3),
       st.lists(st.sampled_from(KINDS), max_size=2))
def test_an_id_number_or_a_phone_number_never_becomes_a_case_number(rng, glue, expects):
    id_number, phone = _random_id(rng), _random_phone(rng)
    parts = [_typed(id_number, rng), _typed(phone, rng)]
    rng.shuffle(parts)
    text = f"{glue[0]}{parts[0]} {glue[1]}{parts[1]} {glue[2]}"
    understood = understand(text, TODAY, None, expects=expects)
    assert K.CASE_NUMBER not in understood
    assert understood.invalid(K.CASE_NUMBER) is None
    assert understood.value(K.ID_NUMBER) == id_number
    assert understood.value(K.PHONE) == phone


WEEKDAY_NAMES = "一二三四五六日"


@PROPERTY
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 11, 30)), st.integers(0, 6))
def test_a_weekday_lands_on_that_day_of_the_right_week(today, weekday):
    name = WEEKDAY_NAMES[weekday]
    coming = read(f"周{name}", today=today).value(K.DATE)
    assert coming.weekday() == weekday and 0 <= (coming - today).days <= 6
    next_week = read(f"下周{name}", today=today).value(K.DATE)
    assert next_week.weekday() == weekday
    assert next_week.isocalendar()[:2] == (today + timedelta(weeks=1)).isocalendar()[:2]
    this_week = read(f"这周{name}", today=today).value(K.DATE)
    if today.weekday() == 6 and weekday < 6:  # on a Sunday (the week's first day to many), 这周六 is the coming one
        assert this_week == coming
    else:
        assert this_week.isocalendar()[:2] == today.isocalendar()[:2] and this_week.weekday() == weekday


@PROPERTY
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 11, 30)), st.integers(1, 31))
def test_relative_days_and_days_of_the_month_are_never_in_the_past(today, day):
    for word, days in (("今天", 0), ("明天", 1), ("后天", 2), ("大后天", 3)):
        assert read(word, today=today).value(K.DATE) == today + timedelta(days=days)
    found = read(f"{day}号", today=today).value(K.DATE)
    assert found.day == day and 0 <= (found - today).days < 62


def test_a_text_said_again_is_read_the_same_and_personal_data_is_never_kept():
    """Readings are kept by text and context (people say 好的, 1, 办护照 over and over), but a
    message in which an ID number, a phone number or a name was read is forgotten after it."""
    from dialogs.understand import reading

    first = understand("我要办护照", TODAY)
    assert understand("我要办护照", TODAY) is first
    assert understand("我要办护照", TODAY, expects=(K.CHOICE,)) is not first  # another step's reading is its own
    assert understand("我要办护照", TODAY + timedelta(days=1)) is not first  # so is tomorrow's
    number = "11010519491231002X"
    phone = "13812345678"
    said = [f"身份证{number}", f"手机{phone}", "张三"]
    for text in said:
        once = understand(text, TODAY, expects=(K.NAME,))
        assert once.slots and understand(text, TODAY, expects=(K.NAME,)) == once
    long = "我想问一下" * 20  # a long message is read each time, never kept
    assert understand(long, TODAY) == understand(long, TODAY)
    kept = repr(list(reading._UNDERSTOOD._kept)) + repr(list(reading._ANALYSES._kept))
    assert number not in kept and phone not in kept and long not in kept
    # 张三 read where a name is expected is a name: not kept (read elsewhere it is just text)
    readings = [value for _, value in reading._UNDERSTOOD._kept.values()]
    assert not any(slot.kind in (K.NAME, K.ID_NUMBER, K.PHONE) for kept_reading in readings for slot in kept_reading.slots)


@pytest.mark.parametrize("typed, expected", [
    ("tuesday", date(2026, 12, 8)), ("sorry actually wednesday is better", date(2026, 12, 9)),
    ("next tuesday morning", date(2026, 12, 15)), ("this fri", date(2026, 12, 11)), ("monday", date(2026, 12, 7)),
])
def test_english_weekdays_are_dates(typed, expected):
    assert understand(typed, date(2026, 12, 7), expects={"date", "choice"}).value("date") == expected


def test_words_that_hold_a_weekday_abbreviation_are_no_dates():
    for typed in ("some text about a sunset", "i want to register a company", "satisfied", "wednesdays"):
        assert understand(typed, date(2026, 12, 7), expects={"date"}).value("date") is None, typed


@pytest.mark.parametrize("typed, day", [("这个周六", date(2026, 12, 12)), ("这周五", date(2026, 12, 11)), ("本周日", date(2026, 12, 6)),
                                        ("this saturday", date(2026, 12, 12))])
def test_this_weeks_day_said_on_a_sunday_is_the_coming_one(typed, day):
    """On a Sunday (6 December 2026) 这个周六 means the coming Saturday: it was the day before."""
    assert read(typed, "date", today=date(2026, 12, 6)).value(K.DATE) == day
