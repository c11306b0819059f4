"""Booking a window (预约办事): which matter, a hall that serves it, a day, a time, who comes,
and a summary to confirm. Reached from the menu, from a matter's guide card ("预约", with the
matter and the person's situation carried), or from words like "我想预约办护照".

```
(start)   --online booking paused (missed appointments)--> (done: told until when, and how to go instead)
matter    --text: clear match--> hall            --text: some candidates--> choosing
choosing  --text: a number--> hall               (any other text searches again)
hall      --text: a hall--> day                  --location--> hall (nearest first)
day       --text: a day--> slot
slot      --text: a time--> who (someone remembered) | name
day, slot --更多 / 下一页--> the same (the next page of days or times: dialogs.paging)
who       --1: the remembered person--> summary  --2: someone else--> name
name --> id_number --> phone --> consent --> summary
summary   --确认: booked--> (menu "booked": "预约成功…"; another 确认 hears it is done)
          --确认: refused--> slot (time just taken) | day (day refused) | id_number | (done, explained)
```

The guards only read: what a guard needs from the platform or the stores (the picked hall's days,
the picked day's times, the remembered applicant, the booking itself) is fetched by the prepare
action of that state (`PREPARE`), which records what it found for the guards to read.

The platform's Idempotency-Key is the draft id set when the summary is shown: a double tap, a
WeChat retry or a crash between the platform's answer and our reply books one appointment.
The applicant's details sit in the session only sealed (bot.services.bookings.Sealer) and are shown
masked.
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import date, time, timedelta
from typing import Any

from dialogs import paging
from dialogs.bundles import agent_asked, agent_help, bundle_guides, merged_materials, paid_fees, settled_for
from dialogs.engine import Dialog, P, T, guide_halls, hall_names, normalise
from dialogs.matters import CANDIDATES as CANDIDATES_VERDICT, MATTER as CLEAR_VERDICT, REFINE_CHARS, by_age, echo, follow_up_asked, materials_for
from dialogs.matters import ASKING, agent_of, kept, online_way, situations_key
from dialogs.understand.answers import needs_time
from dialogs.understand.appointments import booking_query
from dialogs.understand.identity import birth_date
from dialogs.understand.halls import asks_about_its_hall
from dialogs.understand.model import part_of
from dialogs.understand.reading import shanghai_today, understand
from dialogs.understand.when import bare_weekday
from dialogs.understand.vocabulary import vocabulary
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.identifiers import mask_id_number, mask_name, mask_phone
from integrations.platform.models import Applicant, Appointment, AppointmentRequest, ErrorCode

CLEAR_LEAD = 1.6  # as in dialogs.matters: the best hit is taken when it leads this much
MAX_CANDIDATES = 5

CONFIRM = frozenset({"确认", "确定", "确认预约", "提交", "确认提交", "是", "是的", "对", "好", "好的", "ok", "yes", "1", "confirm", "submit"})
#: 确认 in a sentence (对头 确认, 对的，确认预约, 没问题 提交吧): a confirmation, unless it says no.
#: Words that confirm the booking itself, never a yes to keeping the applicant's details.
_CONFIRMS_BOOKING = re.compile(r"确认|确定|提交|confirm|submit")
CONFIRM_SAID = re.compile(r"确认|确定|提交|没问题|就这样|就这个|可以了|对头|对的|没错")
#: ... and unless it asks something (确认一下是几点的？, 确定是周四吗): then the summary is shown again.
_ASKS = re.compile(r"[?？]|吗|几点|几号|哪|什么|啥|多少|是不是|对不对|有没有|了没"
                   # 确认一下地址 / 帮我确认下时间: something on the summary to check, not a yes
                   r"|(?:确认|确定)(?:一?下|一下子)?(?:地址|地点|时间|日期|大厅|几楼|楼层|信息|材料|要带)"
                   # 我确定一下 是周三吧: something to check follows; 确认一下(吧) alone is a yes
                   r"|(?:确认|确定)一?下(?![吧啊呀哈]?$)|是[^，,。\s]{1,6}吧$|对吧|是吧|对不|没错吧")
CONFIRM_NOT = re.compile(rf"不|别|没(?!问题|错)|先不|等等|等一下|改|换|取消|算了|{_ASKS.pattern}")
#: An ID card's number or a mobile number in a message: what a booking paused at that step waits for.
_ID_IN_TEXT = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
#: The saved details taken, and more said after it (用这个 但是手机号换了…).
USE_KNOWN_FIRST = re.compile(r"^(?:就|那就|还是)?(?:用这个|用上次的?|用保存的|用原来的|用吧|用)(?:信息)?(?:吧)?[，,。\s]*(?:但是|不过|只是|就是)?")
USE_KNOWN = frozenset({"1", "使用", "用这个", "是", "是的", "好", "好的", "本人", "就是我", "用", "用吧", "用这个吧", "就用这个", "用上次的",
                       "用上次的信息", "还是我", "一样", "一样的"})
SOMEONE_ELSE = frozenset({"2", "新的", "填写新的", "重新填写", "换人", "不是", "其他人", "别人", "不用", "换一个", "换个人", "填别人", "填其他人",
                          "别的人", "不是他", "不是她", "不是我"})
REMEMBER = frozenset({"1", "记住", "记住信息", "是", "是的", "好", "好的", "要", "需要", "可以", "保存"})
DONT_REMEMBER = frozenset({"2", "不用", "不用记住", "不记住", "否", "不", "不要", "不需要", "不保存"})
OTHER_HALL = re.compile(r"(?:换|改)(?:个|一个|到别的|别的)?(?:大厅|地方|地点|网点)|别的大厅|其他大厅|近一点的"
                        r"|\b(?:another|other|different) (?:hall|place|office)\b|\bchange the (?:hall|place)\b")
#: What an opening message may say ahead of the steps (`Booking._take_opening`), and where it is kept.
OPENING_KINDS = frozenset({"date", "time", "hall", "name", "id_number", "phone"})
PERSONAL_KINDS = ("name", "id_number", "phone")
OPENING_KEY = "opening"
#: data key: the summary was shown with the whole applicant (a detail put right later returns to it).
COMPLETE = "complete"
OPENING_CHARS = 300
#: A phone number after its label, in the shape of one (the understanding reads only numbers it knows).
_LABELLED_PHONE = re.compile(r"(?:电话|手机)号?码?[:：是]?\s*(1\d{10})(?!\d)")
#: A label put just before a detail (我叫, 身份证号, 电话): left out of the matter's search with it.
_DETAIL_LABEL = re.compile(r"(?:我叫|我的名字[是叫]?|姓名|名字|身份证号?码?|电话号?码?|手机号?码?|联系方式|办事人|经办人)[:：是为]?\s*$")
#: Someone else to come, said at the summary (是孩子奶奶去办, 办事人要换一下, 不是我去).
CHANGE_APPLICANT = re.compile(r"(?:换|改)(?:一?个|一下)?(?:办事人|人去|人办)|办事人(?:要|得|应该)?(?:写|填|改|换)"
                              r"|(?:是|让|换成?)[^，,。]{0,4}(?:奶奶|爷爷|外婆|外公|妈|爸|老公|老婆|爱人|儿子|女儿|孩子|家人|别人|朋友)(?:去办|去|来办|来)"
                              r"|不是我(?:去|办|本人)")
#: A detail given before said to be wrong (身份证填错了, 名字写错了): that step again.
ID_WAS_WRONG = re.compile(r"(?:身份证|证件)号?码?(?:填|输|写|打)错")
NAME_WAS_WRONG = re.compile(r"(?:名字|姓名)(?:填|输|写|打)错")
#: A day asked for in place of the one chosen, at a step that asks for something else (换周四吧, 改成周三).
_DAY_WORD = r"(?:下周|这周|周|星期|礼拜|明天|后天|大后天|\d{1,2}[月号日])"
#: A day of the month said alone (14号, 15日吧).
_DAY_OF_MONTH = re.compile(r"(?<![\d月])(\d{1,2})\s*[号日](?!\d)")
#: 换成14号 / 改到周一: a change of the day asked in words (约下周一 may book another matter).
_CHANGES_TO_DAY = re.compile(rf"[换改](?:成|到|为|在)?{_DAY_WORD}")
CHANGE_DAY = re.compile(rf"{_CHANGES_TO_DAY.pattern}|还是(?:想|要)?(?:约|订|改|换)?(?:到|成|在)?{_DAY_WORD}|约(?:到|在|成)?{_DAY_WORD}")
# No mainland ID card to book with: a foreigner, a passport, a Hong Kong, Macao or Taiwan permit.
NO_ID = re.compile(r"没有?(?:中国|大陆|内地)?(?:的)?身份证|无身份证|外国人|外籍|老外|护照|港澳|台湾|台胞|回乡证|居留证|永居|"
                   r"passport|foreigner|not (?:a )?chinese|(?:no|don'?t have (?:a|an)?) ?(?:chinese )?id\b")
#: No card yet, but a citizen's number on the household register (孩子还没办身份证, 用户口本可以吗).
NOT_ISSUED = re.compile(r"户口本|户口簿|户口页|孩子|小孩|宝宝|娃|儿子|女儿|没办过|还没办|未满16|还小|上户口")
FOREIGN = re.compile(r"外国|外籍|老外|护照|港澳|台湾|台胞|回乡证|居留|永居|passport|foreign", re.I)
#: A wish to change the time or the day at the summary, with none named (换个时间, 日期不对).
OTHER_TIME = re.compile(r"(?:换|改|调)(?:个|一个|一下)?(?:时间|时段|钟点)|时间不对|时间不行|时间不合适|其他时间|别的时间"
                        r"|\b(?:another|other|different) time\b|\bchange the time\b")
OTHER_DAY = re.compile(r"(?:换|改|调)(?:个|一个|一下)?(?:日子|日期|天)|换一天|日期不对|那天不行|别的日子|其他日子|改天"
                       # English, as the summary itself suggests ("another day")
                       r"|\b(?:another|other|different) (?:day|date)\b|\bchange the (?:day|date)\b")
#: A question about what is open, with no day or time named (有哪些时间, 最近哪天有空, 哪天人少, 还有号吗):
#: the list on screen answers it, said so (at the halls: the hall first). Read after every pick.
ASKS_WHEN_OPEN = re.compile(
    r"(?:哪天|哪一天|哪几天|哪些天|什么时候|啥时候|啥子时候|几时|几号|哪些时间|什么时间|几点)(?:有空|有号|能约|可以约|可约|能预约|可以预约|能去|可以去|能办|可以办|人少|有位|有时间|空着)"
    r"|(?:有|还有)(?:哪些|什么|啥|啥子|几个)(?:时间|时段|日子|日期|号|天)|(?:还有|有没有|有)号(?:吗|没|不|嘛)?$|能约(?:哪天|几号|几点|什么时候)"
    r"|可以约(?:哪天|几号|几点|什么时候)|最(?:近|快|早)(?:哪天|什么时候|啥时候)|人少|人多不多|人多吗|排队多吗|要排队吗|约得到吗"
    r"|\bwhen (?:is|are) (?:it|they|you) (?:open|free|available)\b|\bwhat (?:days|dates|times) (?:are )?(?:free|available|open)\b|\bany (?:slots|times|days) (?:left|free|available)\b")
#: Of those, a question about crowds (哪天人少): a booked time needs no queue, said first.
CROWDS = re.compile(r"人少|人多|排队")
#: Not able to come on the day in mind, no other day named (算了 我那天要上班去不了, 那天没空): another day.
CANNOT_GO = re.compile(r"去不了|来不了|去不成|没空|没时间|走不开|不方便|要上班|得上班|在上班|要加班|有事|赶不上|不在家|出差|回不来"
                       r"|\bcan(?:'|no)t (?:make it|come|go)\b|\bi'?m (?:busy|working)\b")
#: The same answers in a sentence (记住吧, 帮我记下来, 别保存了, 不用记了): a wish to keep, or not to.
REMEMBER_SAID = re.compile(r"^(?:好的?|行|可以|那就|帮我|请|麻烦|你)*(?:记住|记下|记着|记一下|保存|存着|存一下|存下)")
DONT_REMEMBER_SAID = re.compile(r"(?:不用|不要|别|不必|无需|不想|不)(?:帮我|给我)?(?:记|保存|存)")
#: At the main menu just after a booking (dialogs.menu), these are a second tap on 确认, not a search.
CONFIRM_AGAIN = CONFIRM - {"1"}
#: Carried to the menu by a booking or move that just succeeded.
JUST_BOOKED = "just_booked"
#: Words that open 我的预约 from anywhere (dialogs.menu.SHORTCUTS).
MY_APPOINTMENTS = frozenset({"我的预约", "查预约", "查看预约", "预约记录", "取消预约", "改约", "改期", "修改预约", "更改预约"})
#: A bundle asked for by its kind (预约出生一件事): the whole search, which finds bundles, answers,
#: so the bundle is booked rather than the first of its matters.
BUNDLE_NAMED = "一件事"
#: Codes that say the chosen time is gone, and those that say the day itself will not do.
SLOT_GONE = frozenset({ErrorCode.slot_full, ErrorCode.slot_not_found})
DAY_REFUSED = frozenset({ErrorCode.too_soon, ErrorCode.too_far_ahead, ErrorCode.one_per_day})

_NAME = re.compile(r"[\u3400-\u9fff·•]{2,20}|[A-Za-z][A-Za-z .'-]{1,39}")
#: A Chinese name the understanding step does not recognise is taken as typed up to this long
#: (longer names come with a known surname, or with a ·, and are found by it).
MAX_HAN_NAME = 4
_PHONE = re.compile(r"1[3-9]\d{9}")

STATES = ["matter", "choosing", "hall", "day", "slot", "who", "name", "id_number", "phone", "consent", "summary"]
MATTER = ["matter", "choosing"]
#: The steps after the matter is chosen.
#: A question about the matter asked at a booking's step (how long, how much, on one's behalf).
_TIME_ASKED = re.compile(r"多久|多长时间|多少天|几天(?:能|可以|就)?(?:办|拿|好|出|下来)|办下来|办得下来|拿到证|出证|几个工作日")
_FEE_ASKED = re.compile(r"多少钱|收费|收钱|要钱|费用|几块钱|交钱|免费|工本费|花钱|好多钱|几多钱|一本多少")
MATTER_ASKED_CHARS = 24  # longer: a message of its own, not a side question
CHOSEN = ["hall", "day", "slot", "who", "name", "id_number", "phone", "consent", "summary"]
HALL_CHOSEN = CHOSEN[1:]
#: States (of booking and of moving, dialogs.appointments) that list days; the others list times.
DAY_STATES = frozenset({"day", "move_day"})
#: States that list the times of a day.
SLOT_STATES = frozenset({"slot", "move_slot"})
#: data key: the first and last number of the times on screen when only part of the day is listed.
PART_SHOWN = "part_shown"
TRANSITIONS = [
    #  trigger     source       dest         when                      then
    T("start",    "*",         "matter",    "is_paused",              "say_paused"),
    T("start",    "*",         "hall",      "carried_bookable",       "ask"),
    T("start",    "*",         "matter",    "carried_unbookable",     "ask_matter"),
    T("start",    "*",         "hall",      "clear_match",            ["take_best", "ask"]),
    T("start",    "*",         "choosing",  "has_candidates",         "show_candidates"),
    T("start",    "*",         "matter",    "was_busy",               "say_busy"),
    T("start",    "*",         "matter",    None,                     "ask_matter"),
    T("text",     "choosing",  "hall",      "picks_candidate",        ["take_candidate", "ask"]),
    T("text",     MATTER,      "matter",    "clear_unbookable",       "ask_matter"),
    T("text",     MATTER,      "hall",      "clear_match",            ["take_best", "ask"]),
    T("text",     MATTER,      "choosing",  "has_candidates",         "show_candidates"),
    T("text",     MATTER,      "matter",    "was_busy",               "say_busy"),
    T("text",     MATTER,      "matter",    None,                     "ask_matter"),
    # 要带什么材料 at any step once the matter is chosen: what to bring for it, and the step again
    T("text",     CHOSEN,      "=",         "asks_what_to_bring",     ["say_what_to_bring", "ask"]),
    # 办下来要多久 / 多少钱 / 能代办吗 at any step once the matter is chosen: the guide's answer, and the step again
    T("text",     CHOSEN,      "=",         "asks_about_the_matter",  ["say_about_the_matter", "ask"]),
    # 地址在哪 / 怎么去 / 能停车吗 / 几点下班 once a hall is chosen: that hall's (or the one named), and the step again
    T("text",     HALL_CHOSEN, "=",         "asks_about_its_hall",    ["say_its_hall", "ask"]),
    T("location", "hall",      "hall",      "shares_location",        ["keep_location", "ask"]),
    T("text",     "hall",      "day",       "hall_has_days",          "ask"),
    T("text",     "hall",      "hall",      "hall_is_full",           "say_hall_full"),
    T("text",     ["day", "slot"], "=",     "asks_more",              "show_next_page"),
    # 换个大厅 / 换到出入境大厅 at the days or times (a day the hall is closed on: told where else opens)
    T("text",     ["day", "slot"], "hall",  "names_other_hall",       "ask"),
    T("text",     ["day", "slot"], "hall",  "wants_other_hall",       "ask"),
    T("text",     "hall",      "hall",      "names_hall_not_offered", "say_hall_not_offered"),
    # 周四 / 明天下午 at the halls: kept for the day and time steps, the hall asked again
    T("text",     "hall",      "hall",      "says_when_first",        "keep_when_for_later"),
    T("text",     "day",       "slot",      "picks_day_with_slots",   "ask"),
    T("text",     "day",       "day",       "day_was_full",           "say_day_full"),
    T("text",     "day",       "day",       "names_day_not_offered",  "say_not_offered"),
    T("text",     "day",       "day",       "names_time_first",       "say_day_first"),  # 下午的有几个时段 at the days
    T("text",     "slot",      "slot",      "picks_other_day_with_slots", "ask"),
    T("text",     "slot",      "day",       "day_was_full",           "say_day_full"),
    T("text",     "slot",      "day",       "wants_other_day",        "ask"),  # 换一天 at the times: the days again
    T("text",     "slot",      "summary",   "picks_slot_applicant_given", ["take_slot", "show_summary"]),  # the time changed at the summary
    T("text",     "slot",      "who",       "picks_slot_someone_known", ["take_slot", "keep_known", "ask"]),
    T("text",     "slot",      "name",      "picks_slot",             ["take_slot", "drop_known", "ask"]),
    T("text",     "slot",      "slot",      "names_time_not_offered", "say_not_offered"),
    T("text",     "slot",      "slot",      "picks_number_not_shown", "say_pick_shown"),  # 1 with only 下午's 6-11 listed
    T("text",     "slot",      "day",       "names_day_not_offered",  "say_not_offered"),  # 周末能去吗 at the times: why not, the days
    T("text",     "who",       "summary",   "uses_known_with_new_phone", ["use_known", "keep_phone", "say_phone_changed", "show_summary"]),
    T("text",     "who",       "summary",   "uses_known",             ["use_known", "show_summary"]),
    T("text",     "who",       "name",      "someone_else",           ["drop_applicant", "ask"]),
    T("text",     "who",       "name",      "gives_details",          ["drop_applicant", "ask"]),
    # 身份证没带 等会儿 at a detail's step: no hurry, the booking waits here (not a search for 身份证)
    # 等下 周三要面试 换周四吧 at a detail's step: the day changes (its times), the details wait
    T("text",     ["name", "id_number", "phone"], "slot", "picks_other_day_with_slots", "ask"),
    T("text",     ["name", "id_number", "phone"], "day",  "changes_to_day_not_offered", "say_not_offered"),
    # 不对 上午十点吧 there: another time of the day (said which), the detail asked again; not offered: the times
    T("text",     ["name", "id_number", "phone"], "=", "names_free_time", ["take_slot", "ask"]),
    T("text",     ["name", "id_number", "phone"], "slot", "names_time_not_offered", "ask"),
    T("text",     ["name", "id_number", "phone"], "=", "needs_time",     "say_take_your_time"),
    T("text",     ["hall", "day", "slot"], "=", "needs_time",            "say_take_your_time"),  # 我问下家里人哪天有空
    # 有哪些时间 / 哪天人少 at the halls, days or times: the list on screen answers it (the halls: a hall first)
    T("text",     ["hall", "day", "slot"], "=", "asks_when_open",        "say_whats_open"),
    # 算了 我那天要上班去不了 there: another day (at the halls: the days come once a hall is chosen)
    T("text",     ["hall", "day"], "=",     "cannot_go",              "say_another_day"),
    T("text",     "slot",      "day",       "cannot_go",              "say_another_day"),
    T("text",     ["hall", "day", "slot"], "=", "only_details_ahead",    "say_details_kept"),  # 511602… at the times: kept, the times again
    # 换一天 / 换个时间 there: the days, or the day's times, again (never taken for a name)
    T("text",     ["name", "id_number", "phone"], "day",  "wants_other_day",  "ask"),
    T("text",     ["name", "id_number", "phone"], "slot", "wants_other_time", "ask"),
    # 身份证填错了 / 名字写错了 at a later step or the summary: back to that detail
    T("text",     ["phone", "consent", "summary"], "id_number", "says_id_was_wrong", "ask"),
    T("text",     ["id_number", "phone", "consent", "summary"], "name", "says_name_was_wrong", "ask"),
    # a detail put right after the summary (名字写错了, 身份证也错了, 手机号写错了 应该是…): the summary
    # again once the rest is known (it asked the phone and whether to remember them all over again)
    T("text",     "name",      "summary",   "valid_name_rest_known",  ["keep_name", "show_summary"]),
    T("text",     "id_number", "summary",   "valid_id_rest_known",    ["keep_id", "show_summary"]),
    T("text",     "phone",     "summary",   "valid_phone_rest_known", ["keep_phone", "show_summary"]),
    T("text",     "name",      "id_number", "valid_name",             ["keep_name", "ask"]),
    T("text",     "name",      "name",      None,                     "explain_name"),
    T("text",     "id_number", "phone",     "valid_id",               ["keep_id", "ask"]),
    T("text",     "id_number", "id_number", "has_no_id",              "say_no_id"),  # a foreigner's passport: where else to go
    T("text",     "id_number", "id_number", None,                     "explain_id"),
    T("text",     "phone",     "consent",   "valid_phone",            ["keep_phone", "ask"]),
    T("text",     "phone",     "phone",     None,                     "explain_phone"),
    T("text",     "consent",   "consent",   "confirms_before_consent", "say_consent_first"),
    T("text",     "consent",   "summary",   "answers_consent",        ["keep_consent", "show_summary"]),
    T("text",     "summary",   "name",      "applicant_lost",         "say_applicant_lost"),
    # 等下 是孩子奶奶去办 / 办事人要换 at the summary: someone else's details, from the name on
    T("text",     "summary",   "name",      "changes_applicant",      ["drop_applicant", "say_new_applicant", "ask"]),
    # 改到4点 / 改到周三 / 换个时间 at the summary: the change, not a walk back through every step
    # 手机号改成139… / 手机号错了 应该是138… at the summary (the saved details were used): that number
    T("text",     "summary",   "summary",   "gives_new_phone",        ["keep_phone", "say_phone_changed", "show_summary"]),
    T("text",     "summary",   "summary",   "changes_remembering",    ["keep_remembering", "show_summary"]),  # 不用记住了: not kept after all
    T("text",     "summary",   "summary",   "names_free_time",        ["take_slot", "show_summary"]),
    T("text",     "summary",   "slot",      "picks_other_day_with_slots", "ask"),
    T("text",     "summary",   "day",       "day_was_full",           "say_day_full"),
    # (the step reached reads the same message: it says the time or day is not offered, once)
    T("text",     "summary",   "slot",      "names_time_not_offered", "ask"),
    T("text",     "summary",   "day",       "names_day_not_offered",  "ask"),
    T("text",     "summary",   "hall",      "names_other_hall",       "ask"),  # 还是换到区政务服务中心吧
    T("text",     "summary",   "hall",      "wants_other_hall",       "ask"),
    T("text",     "summary",   "slot",      "wants_other_time",       "ask"),
    T("text",     "summary",   "day",       "wants_other_day",        "ask"),
    T("text",     "summary",   "=",         "needs_time",             "say_take_your_time"),  # 等一下 我问下老板: it waits
    T("text",     "summary",   "summary",   "checks_summary",         "ask"),  # 确认一下是几点的？: the summary again, nothing submitted
    T("text",     "summary",   "summary",   "confirmed_and_done",     "show_success"),
    T("text",     "summary",   "slot",      "slot_was_taken",         "say_refused_and_ask"),
    T("text",     "summary",   "day",       "day_was_refused",        "say_refused_and_ask"),
    T("text",     "summary",   "id_number", "id_was_refused",         "say_refused_and_ask"),
    T("text",     "summary",   "summary",   "was_refused",            "say_refused_and_leave"),
    T("text",     STATES,      "=",         "was_busy",               "say_busy"),
]
#: What each (trigger, state) fetches before its guards are asked: the only I/O before a guard.
PREPARE = [
    #  trigger  source     action
    P("start", "*",       "carry_query_and_check_pause"),
    P("text",  MATTER,    "find_matter"),
    P("text",  "hall",    "load_days_at_picked_hall"),
    P("text",  "day",     "load_slots_of_picked_day"),
    P("text",  "slot",    "prepare_time"),
    P("text",  "who",     "look_up_known_if_used"),
    P("text",  ["name", "id_number", "phone"], "load_day_changed_to"),
    P("text",  "summary", "submit_or_load_other_day"),
]


#: The steps that ask for one of the applicant's details.
DETAIL_STEPS = frozenset({"name", "id_number", "phone"})


def confirm_said(word: str) -> bool:
    """A confirmation in a short sentence of one's own (对头 确认, 确认提交, 对的，确认预约)."""
    return len(word) <= 16 and CONFIRM_SAID.search(word) is not None and CONFIRM_NOT.search(word) is None


def _personal_said(said) -> tuple[dict[str, Any], dict | None]:
    """The applicant's details a message holds (name, ID number, mobile), and what bad_id.j2 says
    of an ID number that fails its check, masked (None when there is none, or a good one)."""
    personal = {kind: value for kind in PERSONAL_KINDS if (value := said.value(kind)) is not None}
    mistyped = said.invalid("id_number") if "id_number" not in personal else None
    return personal, None if mistyped is None else {"earlier": mask_id_number(mistyped.value), **_id_problem(mistyped.value)}


def _id_problem(value: str) -> dict:
    """What bad_id.j2 needs to say what is wrong with an ID number typed: its length, and whether
    its first 17 characters are digits (if so, the check digit is wrong)."""
    return {"length": len(value), "digits": value.isascii() and value[:17].isdigit()}


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def shared_location(incoming) -> list[float] | None:
    """[lat, lng] of a location message (WeChat's Location_X / Location_Y), else None."""
    try:
        return [float(incoming.extra["lat"]), float(incoming.extra["lng"])]
    except (KeyError, TypeError, ValueError):
        return None


class Picking(Dialog):
    """What booking and moving share: choosing a day and a time at one hall for one matter
    (`data["code"]`, `data["hall"]`), submitting, and explaining the platform's refusals.
    Subclasses define `submit()`.

    What this turn's prepare action found, for the guards to read: `_busy` (the platform could
    not answer), `_outcome` (what became of the submission), `_found` (a word for what was
    loaded: "days", "full", "slots", "offer_slots", "offer_days")."""

    __slots__ = ("_busy", "_outcome", "_found", "_part")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._busy = False
        self._outcome: Appointment | PlatformError | None = None
        self._found: str | None = None
        self._part = ""  # a part of the day asked about (下午有几个时段): the list shows its times

    def prompt_context(self):
        return self.choice_context()

    def choice_context(self) -> dict:
        days = [{"day": date.fromisoformat(d), "remaining": n} for d, n in self.data.get("days", [])]
        slots = [{"start": s, "end": e, "remaining": n} for s, e, n in self.data.get("slots", [])]
        chosen_day = self.data.get("day")
        page = int(self.data.get(paging.PAGE_KEY, 0))
        slots_page = paging.window(slots, page)
        fitting = [i for i, s in enumerate(slots) if part_of(time.fromisoformat(s["start"])) == self._part] if self._part else []
        others = 0
        if fitting:  # times run in order, so a part of the day is one stretch of the list
            slots_page = paging.span(slots, fitting[0], len(fitting))
            others = len(slots) - len(slots_page.items)
            self.data[paging.PAGE_KEY] = -1  # 更多 then shows the whole day from its first page
            # the numbers on screen (6-11): 1 then is no time shown, and 第一个 is the first shown
            self.data[PART_SHOWN] = [fitting[0] + 1, fitting[0] + len(slots_page.items), self._part]
        elif self.state in SLOT_STATES:
            self.data.pop(PART_SHOWN, None)
        return {"data": self.data, "days": days, "slots": slots, "day": chosen_day or "", "others": others,
                "days_page": paging.window(days, page), "slots_page": slots_page,
                "hall": self.hall(), "matter": self.matter_name()}

    # Long lists of days and times: a page at a time (dialogs.paging).

    def asks_more(self) -> bool:
        return paging.asks_more(self.text)

    def show_next_page(self):
        listed = self.data.get("days" if self.state in DAY_STATES else "slots", [])
        paging.next_page(self.data, len(listed))
        self.ask()

    # Helpers ----------------------------------------------------------------------------------

    def number(self, count: int) -> int | None:
        """The 1-based choice the person typed (2, 第二个, ②, 最后一个), if it is one of `count`."""
        text = self.word
        # the step the message answers: after a transition (take_slot) the state is already the next one
        answering = next(reversed(self.answered), self.state) if self.answered else self.state
        if answering in getattr(self, "_opened_at", ()):  # (我的预约 shares this, without an opening)
            return None  # answered from the opening message: the 1 typed picked at the step before
        if text.isascii() and text.isdigit():
            return int(text) if 1 <= int(text) <= count else None
        if answering == "hall" and ASKS_WHEN_OPEN.search(text):
            return None  # 最快哪天 at the halls asks when, not which hall: the first is no nearer
        picked = self.slot("choice") if "choice" in self.EXPECTS.get(answering, ()) else None
        if picked == -1 and count:
            return count
        return picked if picked is not None and 1 <= picked <= count else None

    def picked_day(self) -> int | None:
        """The 1-based day of `data["days"]` picked by its number or named (下周二, 12月8号)."""
        days = self.data.get("days", [])
        n = self.number(len(days))
        if n is not None:
            return n
        named = self.slot("date")
        named = named.isoformat() if named is not None else None
        return next((i for i, (day, _) in enumerate(days, 1) if day == named), None)

    def picked_slot(self) -> int | None:
        """The 1-based time of `data["slots"]` picked by its number, its start (9点半, 14:00), or
        the part of the day (下午) when only one time of the list falls in it."""
        slots = self.data.get("slots", [])
        n = self.number(len(slots))
        shown = self.data.get(PART_SHOWN)
        answering = next(reversed(self.answered), self.state) if self.answered else self.state  # (take_slot runs at the next step)
        if n is not None and shown and answering in SLOT_STATES and self.incoming.kind == "text":
            first, last, _ = shown  # only part of the day (下午) is on screen, numbered as in the whole day
            if not self.word.isdigit():  # 第一个 / 最后一个: of the times on screen
                n = last if self.slot("choice") == -1 else first + n - 1
            return n if first <= n <= last else None  # 1 with 6-11 shown: no time the person saw
        if n is not None:
            return n
        said = self.slot("time")
        if said is None:
            return None
        if said.at is not None:
            starts = [said.at.strftime("%H:%M")]
            if said.at.hour < 8:  # 2:30 / 两点半: no hall opens at night, so the afternoon's
                starts.append(said.at.replace(hour=said.at.hour + 12).strftime("%H:%M"))
            return next((i for start in starts for i, (begin, _, _) in enumerate(slots, 1) if begin == start), None)
        fitting = [i for i, (begin, _, _) in enumerate(slots, 1) if part_of(time.fromisoformat(begin)) == said.part]
        return fitting[0] if len(fitting) == 1 else None

    def picks_number_not_shown(self) -> bool:
        """A number typed that is none of the times on screen while only part of the day is listed
        (1 with 下午's 6-11 shown): it named a time the person never saw."""
        return bool(self.data.get(PART_SHOWN)) and self.number(len(self.data.get("slots", []))) is not None

    def say_pick_shown(self):
        first, last, self._part = self.data[PART_SHOWN]  # the same part of the day listed again
        self.say("booking/pick_shown.j2", first=first, last=last)
        self.ask()

    def says(self, words: frozenset[str]) -> bool:
        return self.word in words

    def hall(self):
        hall_id = self.data.get("hall")
        return self.services.catalog.halls.get(hall_id) if hall_id else None

    def bundle(self):
        """The 一件事 bundle being booked whole (`data["bundle"]`), or None for one matter."""
        code = self.data.get("bundle")
        return self.services.catalog.bundles.get(code) if code else None

    def asks_what_to_bring(self) -> bool:
        return follow_up_asked(self.word) == "materials"

    def say_what_to_bring(self):
        self.say("booking/what_to_bring.j2", matter=self.matter_name(), booked=self.name == "appointments", **self._what_to_bring())

    def _matter_asked(self) -> str | None:
        """What a question at a step asks of the matter being booked: how long it takes, what it
        costs, whether someone else may do it (it was 没太明白, or read as a name: 姓名好像不太对)."""
        text = self.word
        if ASKING.search(text) is None or len(text) > MATTER_ASKED_CHARS:
            return None
        if _TIME_ASKED.search(text):
            return "time"
        if _FEE_ASKED.search(text):
            return "fee"
        return "agent" if agent_asked(text) else None

    def asks_about_the_matter(self) -> bool:
        return self._matter_asked() is not None

    def say_about_the_matter(self):
        asked, bundle = self._matter_asked(), self.bundle()
        if bundle is not None:
            guides = bundle_guides(self.services.catalog, bundle)
            if asked == "agent":
                self.say("bundles/agent.j2", bundle=bundle, **agent_help(guides))
            else:
                self.say("bundles/time_and_fee.j2", bundle=bundle, time=asked == "time", fee=asked == "fee", fees=paid_fees(guides))
            return
        code = self.data.get("code")
        guide = self.services.catalog.guide(code) if code else None
        if guide is None:
            self.say("booking/no_guide_to_ask.j2", matter=self.matter_name())
        elif asked == "agent":
            self.say("matters/agent.j2", guide=guide, **agent_of(guide))
        else:
            self.say(f"matters/{asked}.j2", guide=guide)

    def _what_to_bring(self) -> dict:
        """The materials for what is being booked (a bundle's merged), for the situation told on
        its guide (`situations` names it); `partial` when that was never asked and some depend on it."""
        bundle = self.bundle()
        if bundle is not None:
            guides = bundle_guides(self.services.catalog, bundle)
            known = self._situation(bundle.code)
            chosen = set(known) if known is not None else self._by_applicants_age(guides)
            return {"materials": merged_materials(guides, chosen, settled_for(bundle)),
                    "situations": list(dict.fromkeys(s.name for g in guides for s in g.situations if s.code in chosen)),
                    "partial": known is None and any(m.required == "situational" for g in guides for m in g.materials)}
        code = self.data.get("code")
        guide = self.services.catalog.guide(code) if code else None
        known = self._situation(code) if code else None  # None: the person's situation was not asked
        chosen = set(known) if known is not None else self._by_applicants_age([guide] if guide else [])
        return {"materials": materials_for(guide, chosen) if guide else [],
                "situations": [s.name for s in guide.situations if s.code in chosen] if guide else [],
                "partial": bool(guide) and known is None and any(m.required == "situational" for m in guide.materials)}

    def _by_applicants_age(self, guides) -> set[str]:
        """Situations the applicant's ID number answers when they were never asked (申请人未满16周岁吗
        for a child's passport: the guardian's ID and proof of guardianship; 您年满70周岁了吗 for a
        licence renewal: the medical certificate): the list brought is then theirs."""
        id_number = self.applicant().get("id_number", "")
        age = age_on(id_number, shanghai_today())
        if age is None:
            return set()
        return {s.code for g in guides for s in g.situations if not s.group and by_age(s.question, f"{age}岁") is True}

    def _situation(self, code: str) -> list[str] | None:
        """The situations answered for what was booked: on the card the booking started from, or
        earlier in the session on its guide (then 驾驶证 to renew lists the medical certificate
        even when the booking was asked for anew after a side question)."""
        known = self.data.get("chosen")
        return known if known is not None else self.recalled(situations_key(code))

    def applicant(self) -> dict:
        """The applicant's details as far as known (a booking's: what was typed or remembered)."""
        return {}

    def matter_name(self) -> str:
        bundle = self.bundle()
        if bundle is not None:
            return bundle.name
        code = self.data.get("code")
        summary = self.services.catalog.summary(code) if code else None
        return summary.name if summary else ""

    async def platform(self, call, *args):
        """A platform call; None (and the busy flag) when the platform cannot answer now."""
        try:
            return await call(*args)
        except PlatformUnavailable:
            self._busy = True
            return None

    async def load_days(self, skip: str | None = None) -> bool:
        """The next bookable days with free places at the chosen hall; False if busy."""
        if self.data.get("bundle"):
            days = await self.platform(self.services.platform.bundle_booking_days, self.data["bundle"], self.data["hall"])
        else:
            days = await self.platform(self.services.platform.booking_days, self.data["code"], self.data["hall"])
        if days is None:
            return False
        self.data["days"] = [[d.isoformat(), n] for d, n in days if n > 0 and d.isoformat() != skip]
        self.data.pop(paging.PAGE_KEY, None)  # a new list starts at its first page
        return True

    async def load_slots(self) -> bool:
        """The chosen day's times that still have places; False if busy."""
        day = date.fromisoformat(self.data["day"])
        if self.data.get("bundle"):
            slots = await self.platform(self.services.platform.bundle_slots, self.data["bundle"], self.data["hall"], day)
        else:
            slots = await self.platform(self.services.platform.slots, self.data["code"], self.data["hall"], day)
        if slots is None:
            return False
        self.data["slots"] = [[s.start, s.end, s.remaining] for s in slots if s.remaining > 0]
        self.data.pop(paging.PAGE_KEY, None)
        return True

    # Day and time ------------------------------------------------------------------------------

    async def load_slots_of_picked_day(self) -> None:
        """Prepare: the picked day's times ("slots"); none left, the other days ("full")."""
        n = self.picked_day()
        if n is None:
            return
        self.data["day"] = self.data["days"][n - 1][0]
        if not await self.load_slots():
            return
        if self.data["slots"]:
            self._found = "slots"
            self._keep_part_said()
        elif await self.load_days(skip=self.data["day"]):  # taken meanwhile: day_was_full says so
            self._found = "full"

    def picks_day_with_slots(self) -> bool:
        return self._found == "slots"

    def _keep_part_said(self) -> None:
        """A day picked with a time or a part of it (周五三点, 换成周三下午吧): its times are listed from
        that part of the day, so 1 next is an afternoon time, not 9:00 (the part was dropped)."""
        said = understand(self.word, shanghai_today(), expects=("time",)).value("time")
        if said is None:
            return
        at = said.at
        if at is not None and at.hour < 8:
            at = at.replace(hour=at.hour + 12)  # 三点: no hall opens at night, so the afternoon's
        part = part_of(at) if at is not None else said.part
        if part and any(part_of(time.fromisoformat(begin)) == part for begin, _, _ in self.data.get("slots", [])):
            self._part = part

    def slot(self, kind: str) -> Any:
        value = super().slot(kind)
        return self._next_listed(value) if kind == "date" and value is not None else value

    def _next_listed(self, day: date) -> date:
        """周一 said on a Monday names today; when today is not on the list of days and next
        Monday is, a person choosing from the list means that one (下周一 or 今天 are taken as said)."""
        if day != shanghai_today() or self.incoming.kind != "text":
            return day
        listed = {d for d, _ in self.data.get("days", [])}
        later = day + timedelta(weeks=1)
        if not listed or day.isoformat() in listed or later.isoformat() not in listed:
            return day
        said = [self.understood.text[s.start:s.end] for s in self.understood.found("date")]
        return later if said and all(bare_weekday(w.strip()) for w in said) else day

    def _day_changed_to(self) -> date | None:
        """The day a change asks for (换周四吧), read from the change on: 周三要面试 换周四吧 names two."""
        change = CHANGE_DAY.search(self.word)
        if change is None:
            return None
        return understand(self.word[change.start():], shanghai_today(), expects=("date",)).value("date")

    async def load_slots_of_other_day(self, named: date | None = None) -> bool:
        """Another day of the list named at the time step (or `named`): it becomes the day, its
        times are loaded ("other_day"), or the other days if none is left ("full"). False: no such day."""
        # 明天去不了 能改到后天吗 names two days: the one changed to is meant
        named = named or self._day_changed_to() or self.slot("date") or self._listed_day_as_number()
        if named is None:
            return False
        if named.isoformat() == self.data.get("day"):
            if self.state in SLOT_STATES and self.data.get("slots") and self.slot("time") is None and self.number(len(self.data["slots"])) is None:
                self._found = "other_day"  # 换成14号 at the 14th's times: they are listed again, not 没太明白
                return True
            return False
        if not any(day == named.isoformat() for day, _ in self.data.get("days", [])):
            return False  # not a day on offer: names_time_not_offered / the miss say so
        self.data["day"] = named.isoformat()
        if await self.load_slots():
            if self.data["slots"]:
                self._found = "other_day"
                self._keep_part_said()
            elif await self.load_days(skip=self.data["day"]):
                self._found = "full"
        return True

    def _listed_day_as_number(self) -> date | None:
        """14号 / 要不15号吧 at the times, which read it as the 14th time (its expectations: 3号
        there picks the third): a listed day of that date when no time has the number, or when
        the message asks for a change (换成14号). It got 没太明白, or a search (换成14号)."""
        said = _DAY_OF_MONTH.search(self.word)
        if said is None or (self.number(len(self.data.get("slots", []))) is not None and CHANGE_DAY.search(self.word) is None):
            return None
        return next((d for day, _ in self.data.get("days", []) if (d := date.fromisoformat(day)).day == int(said[1])), None)

    def picks_other_day_with_slots(self) -> bool:
        return self._found == "other_day"

    def wants_other_day(self) -> bool:
        """换一天 / 日期不对 with no day named: the days again."""
        return OTHER_DAY.search(self.word) is not None and bool(self.data.get("days"))

    def day_was_full(self) -> bool:
        return self._found == "full"

    def say_day_full(self):
        self.say("booking/day_full.j2", **self.choice_context())
        self.ask()

    def picks_slot(self) -> bool:
        return self.picked_slot() is not None

    def names_day_not_offered(self) -> bool:
        """A day named that the list does not have (closed, full, too far ahead)."""
        return self.slot("date") is not None and self.picked_day() is None

    def names_time_first(self) -> bool:
        """A time or part of the day asked about at the days, with no day named: the day first."""
        return self.slot("date") is None and understand(self.text, shanghai_today(), expects=frozenset({"time"})).value("time") is not None

    def say_day_first(self):
        self.say("booking/day_first.j2")
        self.ask()

    def names_free_time(self) -> bool:
        """A time of the chosen day named at a summary (a booking's or a move's) (时间改成4点那个): it replaces the one shown."""
        named = self.slot("date")
        picked = self.picked_slot() if self.slot("time") is not None and (named is None or named.isoformat() == self.data.get("day")) else None
        if picked is None:
            return False
        # the time just taken, read again at the next step (10点半 picks the time, then the name step
        # reached in the same turn reads it): no change, and the details told ahead are not lost
        return self.state in ("summary", "move_confirm") or self.data["slots"][picked - 1][0] != self.data.get("start")

    def wants_other_time(self) -> bool:
        """换个时间 / 时间不对 with no time named: the times of the day again."""
        return OTHER_TIME.search(self.word) is not None and bool(self.data.get("slots"))

    def names_time_not_offered(self) -> bool:
        """A time named that no time of the list starts at (or a part of the day with several)."""
        return self.slot("time") is not None and self.picked_slot() is None

    def say_not_offered(self):
        named, said = self.slot("date"), self.slot("time")
        if named is not None and named.isoformat() == self.data.get("day"):
            named = None  # 明天下午: the day step took 明天; at the time step only 下午 is in question
        part = said.part if said is not None and said.at is None else ""
        several = part and any(part_of(time.fromisoformat(begin)) == part for begin, _, _ in self.data.get("slots", []))
        if several and self.state in ("slot", "move_slot"):
            self._part = part
        self.say("booking/not_offered.j2", day=named, at=said.at if said is not None else None, part=part, several=bool(several),
                 hall=self.hall(), **(self._why_not_offered(named) if named is not None else {"why": "", "hours": [], "others": [], "last": None, "first": None}))
        self.ask()

    def _why_not_offered(self, day: date) -> dict:
        """Why a day named is not on the list (`why`: past, holiday, closed, ahead, or the hall is
        open but has nothing to book for this matter), the hall's hours that day, and the other
        halls serving the matter that open on that weekday: 周六 at a hall closed on Saturdays is
        told so, and where else opens then."""
        hall, weekday = self.hall(), day.isoweekday()
        settings = self.services.settings
        listed = [date.fromisoformat(d) for d, _ in self.data.get("days", [])]
        hours = [h for h in getattr(hall, "hours", []) if h.weekday == weekday]
        if day < shanghai_today():
            why = "past"
        elif day == shanghai_today():
            why = "today"  # today is not on the list: not bookable online; the hall's walk-in numbers are
        elif day in (getattr(settings, "holidays", None) or ()):
            why = "holiday"
        elif hall is not None and not hours:
            why = "closed"
        elif listed and day > max(listed):
            why = "ahead"
        else:
            why = "not_bookable"
        others = []
        halls = getattr(self, "halls", None)  # booking offers another hall; moving an appointment keeps its hall
        if why in ("closed", "not_bookable") and halls is not None:
            # Halls this day was refused at already are not offered again: 周六 at one hall pointed
            # to the other, and there back to the first.
            refused = self.data.setdefault("refused_at", {}).setdefault(day.isoformat(), [])
            if hall is not None and hall.id not in refused:
                refused.append(hall.id)
            others = [row["hall"].name for row in halls() if row["hall"] is not hall and row["hall"].id not in refused
                      and any(h.weekday == weekday for h in getattr(row["hall"], "hours", []))]
        return {"why": why, "hours": hours, "others": others, "last": max(listed) if listed else None,
                "first": min(listed) if listed else None}

    def take_slot(self):
        self.data["start"], self.data["end"], _ = self.data["slots"][self.picked_slot() - 1]
        off_page = self.word.isdigit() and self.data.get(paging.PAGE_KEY) not in (None, 0)
        if self.incoming.kind == "text" and (not self.word.isdigit() or off_page) and self.state not in ("summary", "move_confirm"):
            # picked in words (周二上午十点, 越早越好), or by a number while only part of the day (下午) or
            # a later page was listed (2 then is the day's second time, maybe not one on screen): which time
            self.say("booking/slot_taken.j2", day=date.fromisoformat(self.data["day"]), start=self.data["start"], end=self.data["end"])

    # Submitting ----------------------------------------------------------------------------------

    async def submit(self) -> Appointment:
        raise NotImplementedError

    def checks_summary(self) -> bool:
        """A question about what is on the summary, in the words of a confirmation (确认一下是
        几点的？, 确定是这个大厅吗): not a yes."""
        return CONFIRM_SAID.search(self.word) is not None and _ASKS.search(self.word) is not None

    def confirms(self) -> bool:
        """A yes to the summary; never a question (好的，是几点？ asks, it does not confirm), nor a
        message naming a time, a day or a hall (确定下午两点: a change, shown before any yes)."""
        if _ASKS.search(self.word) is not None or any(self.slot(kind) is not None for kind in ("time", "date", "hall")):
            return False
        return self.says(CONFIRM) or self.slot("yes_no") is True or confirm_said(self.word)

    async def attempt(self) -> None:
        """Submit: `_outcome` is the appointment or the platform's refusal; `_busy` when the
        platform could not answer."""
        try:
            self._outcome = await self.submit()
        except PlatformUnavailable:
            self._busy = True
        except PlatformError as error:
            self._outcome = error

    def needs_time(self) -> bool:
        """等一下 / 我问问我老婆: a detail or a decision not at hand (dialogs.understand.answers)."""
        return needs_time(self.word)

    def asks_when_open(self) -> bool:
        """有哪些时间 / 哪天人少 / 还有号吗, naming no day or time (those are picks, read before)."""
        return ASKS_WHEN_OPEN.search(self.word) is not None and self.slot("date") is None

    def say_whats_open(self):
        self.say("booking/whats_open.j2", step=self.state, crowds=CROWDS.search(self.word) is not None)
        self.ask()

    def cannot_go(self) -> bool:
        """那天去不了 / 要上班: no day named (a day named is a pick, or told it is not offered, before)."""
        return CANNOT_GO.search(self.word) is not None and self.slot("date") is None

    def say_another_day(self):
        self.say("booking/another_day.j2", step=self.state)
        self.ask()

    def may_submit(self) -> bool:
        """Whether what the summary showed can still be submitted (the booking checks its applicant)."""
        return True

    async def submit_if_confirmed(self) -> None:
        """Prepare: on 确认, submit; when refused for the time or the day, load what else there
        is to offer ("offer_slots": the day's other times; "offer_days": the other days)."""
        if not self.confirms() or not self.may_submit():
            return
        await self.attempt()
        error = self.refusal()
        if error is None:
            return
        if error.code in SLOT_GONE and await self.load_slots() and self.data["slots"]:
            self._found = "offer_slots"
        elif error.code in DAY_REFUSED | SLOT_GONE and not self._busy and await self.load_days(skip=self.data.get("day")) and self.data["days"]:
            self._found = "offer_days"

    def refusal(self) -> PlatformError | None:
        return self._outcome if isinstance(self._outcome, PlatformError) else None

    def confirmed_and_done(self) -> bool:
        return isinstance(self._outcome, Appointment)

    def slot_was_taken(self) -> bool:
        """The time just went: offer the day's other times, if it has any."""
        return self._found == "offer_slots"

    def day_was_refused(self) -> bool:
        """The day will not do (or has no time left): offer the other days."""
        return self._found == "offer_days"

    def was_refused(self) -> bool:
        return self.refusal() is not None

    def _refusal_context(self) -> dict:
        """What the refusal says, with how often this account cancelled for the applicant when
        that is why (bot.services.bookings.CancelledTooOften)."""
        return {**self.choice_context(), "cancelled": getattr(self._outcome, "cancelled", 0), "window": getattr(self._outcome, "window", 0)}

    def say_refused_and_ask(self):
        self.say("booking/refused.j2", code=self._outcome.code.value, message=self._outcome.message, **self._refusal_context())
        self.ask()

    def say_refused_and_leave(self):
        self.say("booking/refused.j2", code=self._outcome.code.value, message=self._outcome.message, **self._refusal_context())
        self.finish()

    def was_busy(self) -> bool:
        return self._busy

    def say_busy(self):
        self.say("booking/busy.j2", confirming=self.state in ("summary", "move_confirm"))
        self.ask()


#: Whether one must book, asked in the message that opened the booking (办护照需要预约吗, 要先约吗).
MUST_BOOK_ASKED = re.compile(r"(?:要不要|需不需要|用不用|是否需要|是不是要|必须|需要|要|得|用)(?:先|提前)?(?:预约|约)(?:一下)?(?:吗|么|不|没|嘛|呢|\?|$)")
#: What is left of a request to book once the matter's name is gone (预约办理…, 我想预约去办…).
_BARE_ACT = re.compile(r"办理|办|去|来|一下|个|的|\s")
#: What names a hall but no matter (广安区政务服务中心, 北辰街道便民服务中心): what is left names one (不动产登记).
_HALL_WORDS = re.compile(r"广安[市区]?|..(?:街道|镇|乡)|政务|便民|服务|中心|大厅|大楼|窗口")


def _without(text: str, slots) -> str:
    """`text` less the slots (the applicant's details with their labels: 身份证511602…, not 身份证 of
    办身份证 elsewhere)."""
    for slot in sorted(slots, key=lambda slot: slot.start, reverse=True):
        start = slot.start
        label = _DETAIL_LABEL.search(text[:start]) if slot.kind.value in PERSONAL_KINDS else None
        if label is not None:
            start = label.start()
        text = text[:start] + " " + text[slot.end:]
    return text


class Booking(Picking):
    name = "booking"
    title = "预约办事"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    PROMPTS = {
        "matter": "booking/ask_matter.j2", "choosing": "booking/candidates.j2", "hall": "booking/halls.j2",
        "day": "booking/days.j2", "slot": "booking/slots.j2", "who": "booking/who.j2", "name": "booking/ask_name.j2",
        "id_number": "booking/ask_id.j2", "phone": "booking/ask_phone.j2", "consent": "booking/consent.j2",
        "summary": "booking/summary.j2",
    }
    #: What each step reads from free text (the engine's policy: dialogs.conversation). The
    #: name step takes the applicant's details all at once; each detail fills its own step.
    EXPECTS = {
        "choosing": frozenset({"choice"}), "hall": frozenset({"hall", "choice"}), "day": frozenset({"date", "choice", "hall"}),
        "slot": frozenset({"time", "choice", "hall"}), "who": frozenset({"choice", "yes_no", "name", "id_number", "phone"}),
        "name": frozenset({"name", "id_number", "phone"}), "id_number": frozenset({"id_number"}), "phone": frozenset({"phone"}),
        "consent": frozenset({"choice", "yes_no"}), "summary": frozenset({"yes_no", "date", "time", "hall"}),
    }
    FREE_TEXT = frozenset(MATTER)
    FILLS = {"hall": "hall", "day": "date", "slot": "time", "name": "name", "id_number": "id_number", "phone": "phone"}
    KEPT_WHEN_CANCELLED = True  # 算了 不约了, then 哎 还是约吧: the answers given are not lost
    #: 算了 to 下次预约时要直接使用…吗 declines being remembered: it threw the whole booking away.
    CANCEL_ANSWERS = {"consent": ("算了",)}

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """别保存了 / 帮我记下来 at 下次预约时要直接使用…吗 answer it, and 身份证没带 等会儿 at a
        detail's step is about that detail: never a question to search."""
        word = normalise(text)
        if state in CHOSEN and follow_up_asked(word) == "materials":
            return True  # 要带什么材料: for the matter being booked, not a search for 材料
        if state in HALL_CHOSEN and asks_about_its_hall(text):
            return True  # 地址在哪 / 能停车吗: the hall being booked, not a search (地址: 变更住所) nor every hall
        if state in ("day", "slot") and len(word) <= 12 and _CHANGES_TO_DAY.search(word):
            return True  # 换成14号 / 改15号 at the days or times: the booking's day, never a search (变更, 15年)
        if (state in ("id_number", "phone", "consent", "summary") and (ID_WAS_WRONG.search(word) or NAME_WAS_WRONG.search(word))
                or state == "summary" and CHANGE_APPLICANT.search(word)):
            return True  # 身份证填错了, 是孩子奶奶去办: the booking's details, never a search
        if state == "id_number" and NO_ID.search(word) and not re.search(r"\d{15}", word):
            return True  # 我是外国人 只有护照: no ID card to give, never a search for 护照
        if state == "id_number" and _ID_IN_TEXT.search(word):
            return True  # 找到了 511602…: the number this booking waited for, even after a question meanwhile
        if state == "phone" and _MOBILE_IN_TEXT.search(word):
            return True
        if state in DETAIL_STEPS:
            return needs_time(word)
        if state == "summary":  # 确认提交 / 对头 确认 / 确认一下是几点的: the booking's, never a search for matters named 确认
            return word in CONFIRM or CONFIRM_SAID.search(word) is not None or needs_time(word) or remembering_changed(word) is not None
        if state != "consent":
            return False
        return (DONT_REMEMBER_SAID.search(word) is not None or REMEMBER_SAID.match(word) is not None
                or (len(word) <= 6 and _CONFIRMS_BOOKING.search(word) is not None))  # 确认: asked again, never a search

    def say_take_your_time(self):
        self.say("booking/take_your_time.j2", step=self.state)

    __slots__ = ("_hits", "_known", "_lost", "_paused_until", "_sure", "_opened", "_opened_at", "_kept_ahead")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._opened: dict = {}  # what the opening message said, taken this turn (`slot`)
        self._opened_at: set[str] = set()  # the steps answered from it this turn: a number typed was for another
        self._hits = None  # the catalog's answer to this turn's query, read once
        self._sure = None  # the whole search's word on whether its best hit is clear (None: the lexicon's hits)
        self._known: dict | None = None  # the remembered applicant, when a prepare looked
        self._lost = False  # 确认, but the applicant can no longer be read
        self._paused_until = None  # online booking is paused for this person until this day (prepared on start)
        self._kept_ahead: tuple[list[str], bool] | None = None  # details typed ahead this turn: kinds kept, an ID mistyped

    def prompt_context(self):
        catalog_halls = self.services.catalog.halls if self.services.catalog is not None else {}
        already = [{**a, "day": date.fromisoformat(a["date"]), "hall": catalog_halls.get(a["hall_id"])} for a in self.data.get("already") or ()]
        return {**super().prompt_context(), "halls": self.halls(), "located": "location" in self.data, "candidates": self.data.get("candidates", []),
                "known": self.data.get("known"), "applicant": self.masked_applicant(), "already": already}

    # The matter ----------------------------------------------------------------------------------

    def _query(self) -> str:
        """What to search: the text carried in on start, else what was typed."""
        return self.data["query"] if "query" in self.data else self.text

    async def carry_query_and_check_pause(self) -> None:
        """Prepare (start): only a carried text counts (the message that opened us was a menu
        choice); and whether online booking is paused for this person (missed appointments), so
        they hear it now, not after answering every question."""
        self.data.setdefault("query", "")
        said = self.data.pop("said", None)  # 明天下午, said to a list of what to book before the pick
        if said:
            self._take_opening(said)
        elif self.data["query"] and self.incoming.kind == "text":
            self._take_opening()
        bookings = self.services.bookings
        self._paused_until = await bookings.blocked_until(self.user) if bookings is not None else None
        await self.find_matter()

    async def find_matter(self) -> None:
        """Prepare (a text while the matter is sought; and on start): the catalog's hits for the
        query. The whole search (off the event loop, as it answers a question to the bot) says
        whether the catalog serves it at all; the lexicon's index reads a named need, and when none
        of its hits takes a booking (a sentence it cannot read whole: 您好，我身份证到期了，麻烦帮我约
        一个时间), the whole search's hits are the ones to book from."""
        query = self._query().strip()
        catalog = self.services.catalog
        if not query or not catalog.ready.is_set():
            return
        if self.state == "choosing" and await self._narrow(query):
            return
        bundles = catalog.bundles
        # The lexicon reads 一次办完 as every bundle's: a bundle comes from the whole search only.
        hits = [h for h in catalog.search(query, top=MAX_CANDIDATES * 2) if h.code not in bundles]
        found = await catalog.find(query, top=MAX_CANDIDATES * 2)
        if found.verdict not in (CLEAR_VERDICT, CANDIDATES_VERDICT):
            # The lexicon found a word of a matter in what the catalog does not serve (预约九价疫苗
            # is 预防接种证's 接种, a residence permit's renewal a ride-hailing licence's 预约 and
            # 换证): nothing to book is better than the wrong matter.
            hits = []
        elif not any(self.bookable(h.code) for h in hits) or BUNDLE_NAMED in query:
            hits = list(found.shown)
            self._sure = found.verdict == CLEAR_VERDICT
        elif not self.bookable(hits[0].code):
            # The lexicon's best takes no booking (补办身份证 read as 挂失): when the whole search puts
            # a bookable matter first (居民身份证办理), its reading is the one to book from.
            if self.bookable(found.shown[0].code):
                hits = list(found.shown)
                self._sure = found.verdict == CLEAR_VERDICT
            elif found.verdict == CANDIDATES_VERDICT:
                # Both readings lead with matters that take no booking, the whole search unsure
                # among them (养老保险转移: the 关系转移接续 ones): that is what was asked, said to take
                # none; the bookable one behind them in the lexicon's reading (正常退休申请) was
                # booked at once. (A clear one, 预约社保卡挂失, keeps the lexicon's list of what can be.)
                hits = list(found.shown)
                self._sure = False
        elif (self._clear([h for h in hits if self.bookable(h.code)]) is None and found.verdict == CLEAR_VERDICT
              and self.bookable(found.shown[0].code)):
            # The lexicon is unsure between bookable matters (预约社保卡申领: 社会保障卡申领 beside
            # 供养亲属抚恤金申领 for the shared 申领): the whole search's clear reading is taken, so a
            # booking asks no more than the guide search would.
            hits = list(found.shown)
            self._sure = True
        self._hits = hits

    async def _narrow(self, said: str) -> bool:
        """A few words said to the list of matters (补办, 丢了的那个, 新办的) narrow it, as they do the
        guide search's list: the list's question with them added is searched, and the candidates on
        screen it still finds are kept, in its order (补办 alone found 残疾人证挂失补办 and booked it)."""
        asked = self.data.get("asked") or ""
        listed = [c[0] for c in self.data.get("candidates", ())]
        if not asked or not listed or len(said) > REFINE_CHARS or said.isdigit():
            return False
        found = await self.services.catalog.find(f"{asked} {said}", top=MAX_CANDIDATES * 2)
        kept = [h for h in found.hits if h.code in listed]
        if found.verdict not in (CLEAR_VERDICT, CANDIDATES_VERDICT) or not found.hits or found.hits[0].code not in listed:
            return False
        self._hits = kept
        self._sure = found.verdict == CLEAR_VERDICT or len(kept) == 1
        return True

    def is_paused(self) -> bool:
        return self._paused_until is not None

    def say_paused(self):
        code = self.data.get("code")
        guide = self.services.catalog.guide(code) if code else None
        self.say("booking/paused.j2", until=self._paused_until, halls=guide_halls(self.services.catalog, guide))
        self.finish()

    def bookable(self, code: str) -> bool:
        """A matter that takes bookings, or a bundle the platform books whole."""
        bundle = self.services.catalog.bundles.get(code)
        if bundle is not None:
            return bool(getattr(bundle, "bookable", False))
        summary = self.services.catalog.summary(code)
        return bool(summary and summary.bookable)

    def hits(self) -> list:
        """Bookable matters for what was typed (or carried in)."""
        return [h for h in self.all_hits() if self.bookable(h.code)][:MAX_CANDIDATES]

    def all_hits(self) -> list:
        """The catalog's hits for the query (read once a turn; none while it is loading)."""
        if self._hits is None:
            query = self._query().strip()
            self._hits = []
            if query and self.services.catalog.ready.is_set():
                bundles = self.services.catalog.bundles
                self._hits = [h for h in self.services.catalog.search(query, top=MAX_CANDIDATES * 2) if h.code not in bundles]
        return self._hits

    def was_busy(self) -> bool:
        """The platform could not answer, or (looking for the matter) the catalog is still loading."""
        return self._busy or (self.state in MATTER and bool(self._query().strip()) and not self.services.catalog.ready.is_set())

    def carried_bookable(self) -> bool:
        """A matter that takes bookings, or a bundle the platform books whole at one of its halls."""
        if self.data.get("bundle"):
            return bool(getattr(self.bundle(), "bookable", False))
        code = self.data.get("code")
        return bool(code) and self.bookable(code)

    def carried_unbookable(self) -> bool:
        return bool(self.data.get("code")) and not self.carried_bookable() or self.clear_unbookable()

    def _clear(self, hits: list):
        if self._sure is not None:  # the whole search's verdict, not the lexicon's scores
            return hits[0] if hits and self._sure else None
        if len(hits) == 1 or (len(hits) > 1 and hits[0].score >= CLEAR_LEAD * hits[1].score):
            return hits[0]
        return None

    def clear_unbookable(self) -> bool:
        """What they typed is clearly one matter, and it takes no booking: say so."""
        best = self._unbookable_best()
        return best is not None and not self.bookable(best.code)

    def _unbookable_best(self):
        """The clear best of the hits; or, when none of them takes a booking (社保转移: every
        关系转移接续 matter), the first: said to take none, not 没找到."""
        hits = self.all_hits()
        best = self._clear(hits)
        if best is None and hits and not any(self.bookable(h.code) for h in hits):
            return hits[0]
        return best

    def clear_match(self) -> bool:
        return self._clear(self.hits()) is not None

    def take_best(self):
        best = self._clear(self.hits())
        if self.incoming.kind == "text" and MUST_BOOK_ASKED.search(normalise(self.incoming.text)):
            # 办护照需要预约吗: whether one must, answered before the halls (it went straight to them)
            self.say("matters/booking_asked.j2", matter=best.name)
        self.take_matter(best.code)

    # A booking asked for in one message with its details (帮我约个护照 明天上午 区政务服务中心 我叫
    # 罗秀英 身份证… 电话…): what the steps ask for is taken from it as each step is reached, even
    # when a question came between (which matter, which hall); never asked again.

    def _take_opening(self, text: str | None = None) -> None:
        """Read the opening message (or `text`, said before the booking began) once: the matter
        is searched without the details; the applicant's details are kept sealed; the day, time and
        hall words are kept (`OPENING_KEY`) to be read by their steps. Each is offered to its step
        once (`slot`)."""
        text = (self.incoming.text if text is None else text)[:OPENING_CHARS]
        catalog = self.services.catalog
        said = understand(text, shanghai_today(), hall_names(catalog), expects=OPENING_KINDS)
        slots = [slot for slot in said.slots if slot.kind in OPENING_KINDS]
        if not slots and _LABELLED_PHONE.search(text) is None:
            return
        personal, mistyped = _personal_said(said)
        labelled = _LABELLED_PHONE.search(text)
        if "phone" not in personal and labelled is not None:  # 电话1943… that the number plan does not know yet: the platform decides
            personal["phone"] = labelled[1]
        if personal and self.services.bookings is not None:
            self.keep(**personal)
        pending = sorted({slot.kind.value for slot in slots if slot.kind.value not in PERSONAL_KINDS} | personal.keys())
        words = " ".join(text[slot.start:slot.end] for slot in slots if slot.kind.value not in PERSONAL_KINDS)
        self.data[OPENING_KEY] = {"pending": pending, "words": words}
        if mistyped is not None:  # told at the ID step, masked: never asked for as if never given
            self.data[OPENING_KEY]["mistyped_id"] = mistyped
        rest = _LABELLED_PHONE.sub(" ", text) if labelled is not None else text
        query = booking_query(_without(rest, slots))
        if (any(slot.kind.value == "hall" and len(_HALL_WORDS.sub("", text[slot.start:slot.end])) >= 2 for slot in slots)
                and len(_BARE_ACT.sub("", query or "")) < 2):
            # 预约办理不动产登记: the hall's name (不动产登记中心) named the matter too, and 办理 alone
            # was searched; the matter is searched with it (the hall is still taken)
            query = booking_query(_without(rest, [slot for slot in slots if slot.kind.value != "hall"]))
        if query is not None:
            self.data["query"] = " ".join(query.split())

    def slot(self, kind: str) -> Any:
        """The message's value of `kind`; at the step that asks for it, when the message has none,
        what the opening message said (once: the step takes it or says why not, then it is gone)."""
        value = super().slot(kind)
        if kind in self._opened:  # taken this turn (the action that keeps it runs at the next step)
            return self._opened[kind]
        if kind != self.FILLS.get(self.state):
            return value
        opening = self.data.get(OPENING_KEY)
        if not opening or kind not in opening["pending"]:
            return value
        opening["pending"].remove(kind)
        if value is None:
            if kind in PERSONAL_KINDS:
                value = self.applicant().get(kind)
            else:
                value = understand(opening["words"], shanghai_today(), hall_names(self.services.catalog),
                                   expects=frozenset({kind})).value(kind)
            if value is not None:
                self._opened_at.add(self.state)
        self._opened[kind] = value
        return value

    def has_candidates(self) -> bool:
        return bool(self.hits())

    def show_candidates(self):
        self.data["asked"] = kept(self._query().strip())  # what the list answers: a few words said to it narrow it
        self.data.pop("query", None)
        best = self.all_hits()[0]
        if not self.bookable(best.code):  # what they most likely meant takes no booking: say so
            self.say_not_bookable(best.code, best.name)
        self.data["candidates"] = [[h.code, h.name, h.department] for h in self.hits()]
        self.ask()

    def picks_candidate(self) -> bool:
        return self.number(len(self.data.get("candidates", []))) is not None

    def take_candidate(self):
        candidates = self.data["candidates"]
        self.take_matter(candidates[self.number(len(candidates)) - 1][0])
        self.data["candidates"] = candidates  # 返回 from the halls shows this list again (it showed none)

    def take_matter(self, code: str) -> None:
        """The matter (or, found by the search, the bundle booked whole) to book."""
        if code != (self.data.get("bundle") or self.data.get("code")):
            self.data.pop("chosen", None)  # situations answered for another matter
        bundle = code in self.services.catalog.bundles
        for key in ("query", "candidates", "bundle", "code"):
            self.data.pop(key, None)
        self.data["bundle" if bundle else "code"] = code

    def ask_matter(self):
        query = self._query().strip()
        code = self.data.pop("code", None)
        self.data.pop("query", None)
        best = self._unbookable_best() if query else None
        unbookable = code if code and not self.bookable(code) else best.code if best is not None and not self.bookable(best.code) else None
        if unbookable is not None:
            self.say_not_bookable(unbookable, self.services.catalog.summary(unbookable).name)
            if self.services.catalog.guide(unbookable) is not None:
                # 老年证要预约吗: no; its card's follow-ups next (那要带啥 is about it), not "what to book?"
                self.start("matters", code=unbookable, quiet=True)
                return
        elif query:
            self.say("matters/not_found.j2", query=echo(query))
        self.ask()

    def say_not_bookable(self, code: str, name: str) -> None:
        """No window appointment for this matter: how to go instead (where, or online)."""
        guide = self.services.catalog.guide(code)
        self.say("booking/not_bookable.j2", matter=name, halls=guide_halls(self.services.catalog, guide), online=online_way(guide) if guide else "offline",
                 url=guide.online_url if guide else "")

    # The hall -------------------------------------------------------------------------------------

    def halls(self) -> list[dict]:
        """Halls that serve the matter (for a bundle: where one visit covers all of it), nearest
        first once the person shared where they are."""
        catalog = self.services.catalog
        halls = guide_halls(catalog, self.bundle() or catalog.guide(self.data.get("code") or ""))
        here = self.data.get("location")
        rows = [{"hall": h, "km": distance_km(here, (h.lat, h.lng)) if here else None} for h in halls]
        if here:
            rows.sort(key=lambda r: r["km"])
        return rows

    def shares_location(self) -> bool:
        return shared_location(self.incoming) is not None

    def keep_location(self):
        self.data["location"] = shared_location(self.incoming)

    def _picked_hall(self):
        halls = [r["hall"] for r in self.halls()]
        n = self.number(len(halls))
        if n is not None:
            return halls[n - 1]
        named_ids = self.slot("hall") or ()
        meant = [h for h in halls if h.id in named_ids]
        if len(meant) == 1:  # a hall by its name, or a district with one hall for this matter
            return meant[0]
        text = self.word
        named = [h for h in halls if len(text) >= 2 and text in normalise(h.name)]
        return named[0] if len(named) == 1 else None

    def _sole_hall(self):
        """The one hall serving the matter, when `ask` just took it for the person (once)."""
        if self.data.get("sole_hall") is not True:
            return None
        self.data["sole_hall"] = "taken"  # said with the days or times that follow (`ask`)
        halls = self.halls()
        return halls[0]["hall"] if len(halls) == 1 else None

    def says_when_first(self) -> bool:
        """A day or a time said at the halls, and no hall (周四, 明天下午)."""
        if self.slot("hall") is not None or self._picked_hall() is not None:
            return False
        return any(slot.valid for kind in ("date", "time") for slot in self.understood.found(kind))

    def keep_when_for_later(self):
        understood = self.understood
        slots = [slot for kind in ("date", "time") for slot in understood.found(kind) if slot.valid]
        opening = self.data.setdefault(OPENING_KEY, {"pending": [], "words": ""})
        opening["pending"] = sorted(set(opening["pending"]) | {slot.kind.value for slot in slots})
        said = " ".join(understood.text[slot.start:slot.end] for slot in sorted(slots, key=lambda slot: slot.start))
        opening["words"] = f"{opening['words']} {said}".strip()
        self.say("booking/when_kept.j2", said=said)
        self.ask()

    def _keep_details_ahead(self) -> None:
        """Prepare (hall, day, time steps): the applicant's details typed ahead with the answer
        (北辰 后天下午 张伟 身份证… 电话…) are kept for their steps, as an opening message's are, and
        an ID number that fails its check is told at the ID step; they were asked for again as if
        never given. Only with an ID or mobile number in it: a hall's or a day's words are no name."""
        if self.incoming.kind != "text" or self.services.bookings is None:
            return
        if sum(ch.isdigit() for ch in self.incoming.text[:OPENING_CHARS]) < 11:
            return  # no ID or mobile number in it (the commonest answer, 1 or 周四): not read a second time
        said = understand(self.incoming.text[:OPENING_CHARS], shanghai_today(), hall_names(self.services.catalog), expects=OPENING_KINDS)
        personal, mistyped = _personal_said(said)
        if not ({"id_number", "phone"} & personal.keys() or mistyped is not None):
            return
        if personal:
            self.keep(**personal)
        opening = self.data.setdefault(OPENING_KEY, {"pending": [], "words": ""})
        opening["pending"] = sorted(set(opening["pending"]) | personal.keys())
        if mistyped is not None:
            opening["mistyped_id"] = mistyped
        self._kept_ahead = ([kind for kind in PERSONAL_KINDS if kind in personal], mistyped is not None)

    def only_details_ahead(self) -> bool:
        """Details typed at the hall, day or time step and no answer to it (511602…, then 1842…):
        told they are kept (it said 没太明白, then 还是没能看明白, and kept them silently)."""
        return self._kept_ahead is not None

    def say_details_kept(self):
        kinds, mistyped = self._kept_ahead
        self.say("booking/details_kept.j2", kinds=kinds, mistyped=mistyped, step=self.state)
        self.ask()

    async def load_slots_of_picked_day(self) -> None:
        self._keep_details_ahead()
        await super().load_slots_of_picked_day()

    async def load_days_at_picked_hall(self) -> None:
        """Prepare: the picked hall's bookable days ("days"), or that it has none ("full")."""
        self._keep_details_ahead()
        hall = self._sole_hall() or self._picked_hall()
        if hall is None:
            return
        self.data["hall"] = hall.id
        if await self.load_days():
            self._found = "days" if self.data["days"] else "full"

    def hall_has_days(self) -> bool:
        return self._found == "days"

    def hall_is_full(self) -> bool:
        return self._found == "full"

    def names_hall_not_offered(self) -> bool:
        """A hall (or district) named that does not serve this matter, or more than one hall."""
        return self.slot("hall") is not None and self._picked_hall() is None

    def say_hall_not_offered(self):
        named = self.slot("hall")
        serving = [r["hall"] for r in self.halls() if r["hall"].id in named]
        self.say("booking/hall_not_offered.j2", several=len(serving) > 1)
        self.ask()

    def say_hall_full(self):
        self.say("booking/hall_full.j2", hall=self.hall())
        self.ask()

    # Changing the time at the summary ------------------------------------------------------------

    async def submit_or_load_other_day(self) -> None:
        """Prepare at the summary: 确认 submits; another day of the list named (改到周三) loads its times."""
        if self.confirms():
            await self.submit_if_confirmed()
        else:
            await self.load_slots_of_other_day()

    def asks_about_its_hall(self) -> bool:
        return asks_about_its_hall(self.text) and self._hall_asked_about() is not None

    def _hall_asked_about(self):
        """The hall a question in passing is about: the one it names, else the one chosen."""
        named = self.slot("hall")
        hall_id = named[0] if named and len(named) == 1 else self.data.get("hall")
        return self.services.catalog.halls.get(hall_id) if hall_id else None

    def say_its_hall(self):
        hall = self._hall_asked_about()
        view = {"name": hall.name, "address": hall.address, "hours": hall.hours_text, "phone": hall.phone, "transit": hall.transit}
        # 换到… is read at the days, the times and the summary: offered there
        self.say("booking/its_hall.j2", hall=view, other=hall.id != self.data.get("hall") and self.state in ("day", "slot", "summary"))

    def names_other_hall(self) -> bool:
        """Another hall named at the summary, the days or the times: its days are asked (the hall
        step reads the message)."""
        named = self.slot("hall")
        return named is not None and self.data.get("hall") not in named

    def wants_other_hall(self) -> bool:
        """换个大厅 with none named: the halls again."""
        return OTHER_HALL.search(self.word) is not None

    # Who comes -------------------------------------------------------------------------------------

    async def prepare_time(self) -> None:
        """Prepare at the time step: another of the listed days named (不对，是周三下午), its times;
        else a time picked, whom this person had us remember."""
        self._keep_details_ahead()
        if not await self.load_slots_of_other_day():
            await self.look_up_known_for_slot()
            await self._look_up_same_matter_booked()

    async def _look_up_same_matter_booked(self) -> None:
        """Once a booking, when its time is picked: this person's upcoming appointments of the same
        matter (`data["already"]`), which the summary warns of (社保卡那个 能不能换到万盛街道 booked
        a second one and kept the first, a no-show to be)."""
        if "already" in self.data or self.picked_slot() is None or self.services.bookings is None:
            return
        target = ("bundle_code", self.data["bundle"]) if self.data.get("bundle") else ("matter_code", self.data.get("code"))
        try:
            upcoming = await self.services.bookings.upcoming(self.user)
        except (PlatformUnavailable, PlatformError):
            return  # not known now: the summary says nothing of it
        self.data["already"] = [{"date": a.date.isoformat(), "start": a.start, "hall_id": a.hall_id} for a in upcoming
                                if getattr(a, target[0]) == target[1]]

    async def load_day_changed_to(self) -> None:
        """Prepare at a detail's step: a day asked for instead (换周四吧, 改成周三), its times."""
        named = self._day_changed_to()
        if named is not None:
            await self.load_slots_of_other_day(named)

    def changes_to_day_not_offered(self) -> bool:
        """A change to a day the list does not have, asked at a detail's step: why, and the days."""
        named = self._day_changed_to()
        return named is not None and not any(day == named.isoformat() for day, _ in self.data.get("days", []))

    async def look_up_known_for_slot(self) -> None:
        """Prepare: a time picked, whom this person had us remember (if anyone)."""
        if self.picks_slot():
            self._known = await self.services.bookings.remembered(self.user)

    async def look_up_known_if_used(self) -> None:
        """Prepare: "use the remembered person", whom we remember (it may have expired)."""
        if self._uses_known_said() or USE_KNOWN_FIRST.match(self.word) is not None:
            self._known = await self.services.bookings.remembered(self.user)

    def picks_slot_applicant_given(self) -> bool:
        """A time picked once the applicant is complete (the summary sent us back to change the
        time or the day): the summary again, the details are not asked twice."""
        return self.picks_slot() and "remember" in self.data and bool(self.data.get("applicant"))

    def picks_slot_someone_known(self) -> bool:
        return self.picks_slot() and bool(self._known)

    def keep_known(self):
        self.data["known"] = mask_applicant(self._known)

    def drop_known(self):
        self.data.pop("known", None)

    def uses_known(self) -> bool:
        return self._uses_known_said() and bool(self._known)

    def _uses_known_said(self) -> bool:
        """用这个 / 1, or any plain yes (是的是的, 对对对) to 办事人用上次保存的信息吗."""
        return self.says(USE_KNOWN) or (self.word not in SOMEONE_ELSE and self.slot("yes_no") is True)

    def uses_known_with_new_phone(self) -> bool:
        """用这个 但是手机号换了 现在是138…: the saved details, with the number given."""
        return bool(self._known) and USE_KNOWN_FIRST.match(self.word) is not None and self._new_phone() is not None

    def gives_new_phone(self) -> bool:
        return self._new_phone() is not None

    def _new_phone(self) -> str | None:
        """A mobile number in the message (guards only read: the sealed applicant is not opened to compare)."""
        return self.slot("phone") or None

    def say_phone_changed(self):
        self.say("booking/phone_changed.j2", phone=mask_phone(self.applicant().get("phone", "")))

    def use_known(self):
        self.data["applicant"] = self.services.bookings.seal(self.user, self._known)
        self.data["remember"] = True

    def someone_else(self) -> bool:
        return self.says(SOMEONE_ELSE) or (self.word not in USE_KNOWN and self.slot("yes_no") is False)

    def gives_details(self) -> bool:
        """Someone's details typed instead of an answer: someone else comes (the details fill the
        name step and those after it)."""
        return self.slot("name") is not None

    def drop_applicant(self):
        self.data.pop("applicant", None)
        self.data.pop(COMPLETE, None)

    def changes_applicant(self) -> bool:
        return CHANGE_APPLICANT.search(self.word) is not None

    def say_new_applicant(self):
        self.say("booking/new_applicant.j2")

    def says_id_was_wrong(self) -> bool:
        return ID_WAS_WRONG.search(self.word) is not None and self.slot("id_number") is None

    def says_name_was_wrong(self) -> bool:
        return NAME_WAS_WRONG.search(self.word) is not None and self.slot("name") is None

    def applicant(self) -> dict:
        return self.services.bookings.unseal(self.user, self.data.get("applicant")) or {}

    def keep(self, **fields: str) -> None:
        self.data["applicant"] = self.services.bookings.seal(self.user, {**self.applicant(), **fields})

    def masked_applicant(self) -> dict | None:
        applicant = self.applicant()
        return mask_applicant(applicant) if applicant.keys() >= {"name", "id_number", "phone"} else None

    def _typed_name(self) -> str | None:
        """The name found in the message; else the whole message, when it is nothing but a
        name-shaped word the understanding step does not know (a rare surname, a Latin name)."""
        found = self.slot("name")
        if found:
            return found
        understood = self.understood
        if understood.slots or understood.kind not in ("other", "details"):
            return None
        name = re.sub(r"\s+", " ", self.text.strip())
        if paging.asks_more(name) or set(name) & vocabulary().never_in_names:
            return None  # 更多, 等等, 咋办: words of the chat, not a name
        return name if _NAME.fullmatch(name) and (len(name) <= MAX_HAN_NAME or name.isascii()) else None

    def valid_name(self) -> bool:
        return self._typed_name() is not None

    def valid_name_rest_known(self) -> bool:
        """A detail put right after the summary was shown with the whole applicant (`complete`)."""
        return self.valid_name() and bool(self.data.get(COMPLETE))

    def valid_id_rest_known(self) -> bool:
        return self.valid_id() and bool(self.data.get(COMPLETE))

    def valid_phone_rest_known(self) -> bool:
        return self.valid_phone() and bool(self.data.get(COMPLETE))

    def keep_name(self):
        self.keep(name=self._typed_name())

    def explain_name(self):
        self.say("booking/bad_name.j2")

    def _typed_id(self) -> str | None:
        return self.slot("id_number")

    def valid_id(self) -> bool:
        return self._typed_id() is not None

    def keep_id(self):
        self.keep(id_number=self._typed_id())

    def has_no_id(self) -> bool:
        """No Chinese ID card to give (a foreigner's passport, 港澳台 permits): said, with no ID number."""
        return self.slot("id_number") is None and NO_ID.search(self.word) is not None

    def say_no_id(self):
        # a child (or anyone) not yet issued a card has the number on the household register:
        # 孩子还没有身份证 用户口本可以吗 is no foreigner
        self.say("booking/no_id.j2", no_card_yet=NOT_ISSUED.search(self.word) is not None and not FOREIGN.search(self.word))
        self.ask()

    def explain_id(self):
        mistyped = self.understood.invalid("id_number")
        if mistyped is not None:  # 18 characters, a real birth date, a wrong check digit
            value = mistyped.value
        else:  # what was typed of an ID number, whatever surrounds it (我的身份证号是…)
            value = "".join(re.findall(r"[0-9x]", self.word)).upper() or re.sub(r"[\s-]", "", self.word)
        self.say("booking/bad_id.j2", **_id_problem(value))

    def ask(self) -> None:
        """The step's question; at the ID step after an opening message whose ID number failed
        its check, what was wrong with that one (the step then waits for it typed again)."""
        opening = self.data.get(OPENING_KEY) or {}
        if self.state == "hall" and "sole_hall" not in self.data and len(self.halls()) == 1:
            # One hall serves the matter (婚姻登记): it is taken, not asked; the message is given to
            # the hall step, whose prepare takes it (`_sole_hall`). Once: 返回 there lists it.
            self.data["sole_hall"] = True
            self.again = True
            return
        if self.state == "id_number" and "mistyped_id" in opening and not self.answered_ahead():
            self.say("booking/bad_id.j2", **opening.pop("mistyped_id"))
            return
        super().ask()
        if self.state in ("day", "slot") and self.data.get("sole_hall") == "taken" and not self.again:
            self.data["sole_hall"] = "said"  # the days (or times) named the matter and its one hall, once

    def _typed_phone(self) -> str | None:
        """The mobile number found in the message; else the whole message when it has the shape
        of one (1 and ten digits) that libphonenumber does not know yet: the platform decides."""
        found = self.slot("phone")
        if found or self.understood.conflict("phone") is not None:
            return found
        value = re.sub(r"[\s-]", "", self.word)
        if value.startswith("+86"):
            value = value[3:]
        return value if _PHONE.fullmatch(value) else None

    def valid_phone(self) -> bool:
        return self._typed_phone() is not None

    def keep_phone(self):
        self.keep(phone=self._typed_phone())

    def explain_phone(self):
        self.say("booking/bad_phone.j2")

    def _remembers(self) -> bool | None:
        """The answer to 下次预约时要直接使用…吗: its words, or any plain yes or no (可以, 行, 没问题);
        never 确认 / 提交, which confirm the booking, not consent to keeping the details."""
        if self.confirms_before_consent():
            return None
        if self.says(REMEMBER):
            return True
        if self.says(DONT_REMEMBER):
            return False
        if DONT_REMEMBER_SAID.search(self.word) or self.word.startswith("算了"):
            return False
        if REMEMBER_SAID.match(self.word):
            return True
        return self.slot("yes_no")

    def changes_remembering(self) -> bool:
        """不用记住了 / 还是记住吧 at the summary, after 下次预约时要直接使用…吗 was answered: the
        answer changed. It went to 删除我的信息, which said nothing was kept (true then), and the
        booking kept the details anyway."""
        return "remember" in self.data and remembering_changed(self.word) is not None

    def keep_remembering(self):
        self.data["remember"] = remembering_changed(self.word)
        self.say("booking/remembering.j2", remember=self.data["remember"])

    def confirms_before_consent(self) -> bool:
        """确认 / 确定提交 at 下次预约时要直接使用…吗: the booking confirmed before its summary. It was
        read as a yes, and the person's ID number was kept though they never chose 记住."""
        return self.word not in REMEMBER and _CONFIRMS_BOOKING.search(self.word) is not None

    def say_consent_first(self):
        self.say("booking/consent_first.j2")

    def answers_consent(self) -> bool:
        return self._remembers() is not None

    def keep_consent(self):
        self.data["remember"] = self._remembers() is True

    # The summary and the booking ------------------------------------------------------------------------

    def show_summary(self):
        # A new draft for every summary: its id is the platform's Idempotency-Key, the same for
        # every repeat of this confirmation and different for any changed one.
        self.data["draft"] = secrets.token_hex(12)
        self.data[COMPLETE] = True  # the whole applicant was shown: a detail put right later comes back here
        self.ask()

    def may_submit(self) -> bool:
        """What was typed can no longer be read (the data key changed meanwhile): not submitted."""
        self._lost = self.masked_applicant() is None
        return not self._lost

    def applicant_lost(self) -> bool:
        """确认, and the applicant could not be read: ask again."""
        return self._lost

    def say_applicant_lost(self):
        self.data.pop(COMPLETE, None)  # asked for from the name on, each step in turn
        self.say("booking/applicant_lost.j2")
        self.ask()

    async def submit(self) -> Appointment:
        applicant = self.applicant()
        target = {"bundle_code": self.data["bundle"]} if self.data.get("bundle") else {"matter_code": self.data["code"]}
        request = AppointmentRequest(
            **target, hall_id=self.data["hall"], date=date.fromisoformat(self.data["day"]),
            start=self.data["start"], applicant=Applicant(**applicant),
        )
        appointment = await self.services.bookings.book(self.user, request, f"chat-{self.data['draft']}", self.hall())
        if self.data.get("remember"):
            await self.services.bookings.remember(self.user, applicant)
        else:
            await self.services.bookings.forget(self.user)
        return appointment

    def id_was_refused(self) -> bool:
        error = self.refusal()
        return error is not None and error.code == ErrorCode.invalid_id_number

    def show_success(self):
        appointment: Appointment = self._outcome
        self.say("booking/success.j2", appointment=appointment, day=appointment.date, hall=self.hall(),
                 bundle=self.bundle(), **self._what_to_bring())
        self.start("menu", **{JUST_BOOKED: True})  # a second tap on 确认 is then told it is done, not searched


def remembering_changed(word: str) -> bool | None:
    """Whether a short message asks for the applicant to be kept (记住吧) or not (不用记住了, 别保存);
    None when it says neither."""
    if len(word) > 12:
        return None
    if DONT_REMEMBER_SAID.search(word):
        return False
    return True if REMEMBER_SAID.match(word) else None


def age_on(id_number: str, today: date) -> int | None:
    """Age in whole years on `today` from an 18-digit ID number's birth date; None when it has none."""
    born = birth_date(id_number)
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def mask_applicant(applicant: dict) -> dict:
    return {"name": mask_name(applicant["name"]), "id_number": mask_id_number(applicant["id_number"]), "phone": mask_phone(applicant["phone"])}
