"""Asking for an appointment, and asking about one already made: "我想预约办护照" (a booking, with
what is left to search), "我想改一下预约的时间" (我的预约). Read by the menu, the conversation's
routes and the candidate list (dialogs.matters), so it lives below all of them.
"""

from __future__ import annotations

import re

_ASKS_TO_BOOK = re.compile(r"(我|帮我|给我|替我|请|想|要|需要|能不能|能否|可以|怎么|如何)*(在线|网上)?"
                           r"((?<!我的)预约(?![号码单]|记录|信息)|预订|(?<!预)约号|约个号|约个时间|约一个时间|约时间|约一?个(?=[办去])"
                           # 帮我约个办护照的, 给我约一下: asked of the bot, 约 alone books (帮我约的那天 is one made)
                           r"|(?<=[帮给替]我)约(?:一?个)?(?![的好了过到])"
                           # 帮我兄弟约一个, 给我妈约: for someone; 约 / 约吧 / 重新约 alone: book (on a card: its matter)
                           r"|[帮给替][我他她]?(?:兄弟|弟弟|哥哥|姐姐|妹妹|妈|爸|老人|老公|老婆|爱人|儿子|女儿|孩子|朋友|家人)约(?:一?个)?(?![的好了过到])"
                           r"|^重新约|^约(?=(?:一下|一个|吧|呗|啊)?$)"
                           # 约一下办社保卡, 再约一个 周五上午办护照, 约个身份证换领: 约 opening the message
                           r"|^(?:再|那就?|就|先|我再|再帮我)?约(?:一下|下(?![周个午礼星])|一?个(?![月]))(?![^，,。]{0,3}[的好了过到])"
                           # 我想约周三上午…办社保卡: 约 with a time after it
                           r"|(?:(?<=[想要先再])|^(?:再|那就?|就|先|我再)?)约(?=(?:一?个)?(?:周|星期|礼拜|明天|后天|今天|下周|这周|下个|\d{1,2}[月号日]|上午|下午)))"
                           r"(一下|个号|个时间)?(去|来)?")
# English (#20 item 9): "I want to book an appointment (for a passport)", "can I make an appointment".
_ASKS_TO_BOOK_EN = re.compile(
    r"\b(?:(?:i|we)(?:\s+(?:want|would\s+like|need)|'d\s+like)\s+to\s+|(?:can|could|may|how\s+do)\s+(?:i|we)\s+|please\s+)?"
    r"(?:(?:book|reserve)(?:\s+(?:an?\s+)?(?:appointment|visit|slot))?|(?:make|schedule|get)\s+(?:an?\s+)?(?:appointment|visit))"
    r"(?:\s+(?:for|to)(?:\s+an?)?)?(?:\s+please)?\b|\bplease\b|^appointment$",
    re.IGNORECASE)
# End English.


#: What a wish to book leaves that names no matter (可以预约吗, 这里能预约办护照吗 -> 办护照): asking
#: words and particles at either end, never inside a word.
_LEFT_OVER = re.compile(r"^(?:[\s，,。.!！?？]|能不能|可不可以|可以|(?:能|想|要|我|再|还)(?=[\s，,]|$)|在这里|这里|这边|在这边|你们|请问)+"
                        r"|^(?:我|我们)?(?:要|想|能)?(?:在这儿?|在这里|在这边|这里|这边)\s*$"
                        r"|(?:[\s，,。.!！?？]|吗|呢|吧|啊|呀|嘛|么|不|没|(?<=[\u4e00-\u9fff]{2})的(?:时间|号)?)+$")


def booking_query(text: str) -> str | None:
    """For words like "我想预约办护照": what is left to search ("办护照", or "" for no matter).
    None when the text does not ask to book."""
    if _ASKS_TO_BOOK.search(text):
        return _LEFT_OVER.sub("", _ASKS_TO_BOOK.sub(" ", text)).strip()
    # English (#20 item 9)
    if text.isascii() and (english := _ASKS_TO_BOOK_EN.search(text)) and english.group().strip().lower() != "please":
        return " ".join(_ASKS_TO_BOOK_EN.sub(" ", text).split()).strip(" ,.!?")
    # End English.
    return None


#: Words about an appointment already made ("我想改一下预约的时间", "预约那天去不了", "取消我的预约",
#: "reschedule my appointment"): 我的预约 from anywhere, never a new booking or a search. A verb of
#: change must be about the appointment itself: "预约改名" books a name change and "提前预约" is
#: booking ahead, so a change verb before 预约 excludes 提前, and one after it must end the phrase
#: or take a particle (改到, 改一下, 能改吗), not an object.
_CHANGE = r"(?:改|换|调|挪|推迟|推后|延后|往后推|更改|修改|变更|取消|退掉|撤销|撤回)"
#: After 预约 (预约提前到明天, 约的时间往后挪一天) bringing it forward or back is a change too.
_CHANGE_AFTER = r"(?:改|换|调|挪|推迟|推后|延后|往后推|往后挪|往前挪|提前|延期|更改|修改|变更|取消|退掉|撤销|撤回)"
_MINE = r"(?:我的|我|已有的|之前的|原来的|原先的|约好的|已经约的|那个|这个)?"
_ABOUT_MY_APPOINTMENT = re.compile(
    _CHANGE + r"(?:一下|下|个)?" + _MINE + r"(?:预约|约)(?:的)?(?:时间|日期|号)?(?:$|[，,。.！!？?吗呢吧]|一下|到)"
    r"|(?:预约|约好|约了|我约)(?:的|好的|了)?(?:时间|日期|那天|那个)?(?:是)?"
    r"(?:能|能不能|可以|可不可以|想|要|得|需要|怎么|如何)?" + _CHANGE_AFTER + r"(?:一下|下|到|成|掉|吗|呢|了|$)"
    r"|(?:预约|约好|约了|我约)[^，,。.！!？?]{0,8}(?:去不了|来不了|去不成|赶不上|没空去|没时间去|不去了|不来了|不想去了)"
    r"|我(?:预约|约)的?(?:是)?(?:几点|几号|哪天|哪一天|什么时候|时间)|我(?:预约|约)(?:上|到)?了(?:吗|没|没有)"
    # 我约的护照是几号来着, 我预约的社保卡在哪个大厅: the matter named between
    r"|我(?:预约|约)的[^，,。.！!？?]{1,10}?(?:是|在)?(?:几点|几号|哪天|哪一天|什么时候|哪个大厅|哪个地方|在哪)"
    r"|查(?:一下|下|询|看)?(?:我的)?预约"
    r"|预约(?:号|码|单|记录|信息)")  # 预约号12070001: the number of one made
_ABOUT_MY_APPOINTMENT_EN = re.compile(
    r"\b(?:change|move|reschedule|cancel|postpone|check)\b.{0,20}\bappointments?\b|\bmy\s+appointments?\b", re.IGNORECASE)


#: Whether an appointment still stands, asked (我的预约取消了吗, 预约被取消了？, 我的预约还在吗):
#: its state to be shown, never a wish to cancel it.
STATUS_ASKED = re.compile(r"(?:取消|退)(?:掉)?了(?:吗|没|没有|么|嘛|[?？])|被(?:取消|退)"
                          # 取消了吧 asks (是不是取消了吧), unless it decides (算了 还是取消了吧, 那就取消了吧)
                          r"|(?<!还是)(?<!算了)(?<!那就)(?<!就)(?<!干脆)(?<!直接)(?<!帮我)(?:取消|退)(?:掉)?了吧|还在(?:吗|不|没|么|嘛|[?？])|还有效|还算数"
                          r"|没(?:被)?取消吧|取消成功了?(?:吗|没)|(?:是不是|有没有|是否)(?:被|已经|已)?(?:取消|退)|还在不在")


def about_my_appointments(text: str) -> bool:
    """Whether the message is about the person's existing appointments (see the patterns above)."""
    if "约" in text:
        return _ABOUT_MY_APPOINTMENT.search(text) is not None or ("预约" in text and STATUS_ASKED.search(text) is not None)
    return "ppointment" in text and _ABOUT_MY_APPOINTMENT_EN.search(text) is not None


#: Cancelling, and keeping, said in a sentence (那个预约取消掉, 嗯 取消吧; 不取消了, 还是保留吧).
#: Not going (去不了) may mean moving too: where no appointment is open yet it opens the one meant
#: with both choices; at an appointment it is a cancel that is then confirmed.
SAID_CANCEL = ("取消", "退约", "退掉", "不约了", "不要了", "cancel")
CANT_GO = ("不去了", "去不了", "去不成", "来不了")
CANCEL_WORDS = SAID_CANCEL + CANT_GO
KEEP_WORDS = ("不取消", "别取消", "先不取消", "不要取消", "不想取消", "不用取消", "无需取消", "保留", "不退")

MOVE_SAID = re.compile(r"(改|换|调|挪|推迟|延后|往后推|往后挪|往前挪|推后|提前|延期)(一下|下|个|成|到|为)?(别的|其他|另外)?(的)?"
                       r"(时间|日期|天|时段|下下?个?(?:周|星期|礼拜)|这个?(?:周|星期|礼拜)|本周|周|星期|礼拜|明天|后天|大后天|下午|上午|\d"
                       r"|[一两二三四五六七八九十几]+(?:天|个?小时|周|个?星期|个?礼拜))"
                       r"|(时间|日期|那天)(改|换|调)|改约|改期")


#: The hall of an appointment changed (能不能换到区政务服务中心去办, 换个大厅): a move keeps the hall.
HALL_CHANGE = re.compile(r"(?:换|改|调|挪)(?:个|一个|到|成|去|在)?(?:别的|另一个|其他|另外的?)?(?:大厅|地方办|网点)"
                         r"|(?:换|改|调|挪)(?:到|成|去|在)[^，,。]{1,14}(?:服务中心|大厅|便民服务|出入境|车管所)"
                         r"|(?:换|改|调|挪)(?:到|成|去|在)[^，,。\d]{1,8}(?:那边|那里|那儿)(?:去)?办")


def changes_hall(text: str) -> bool:
    return HALL_CHANGE.search(text) is not None


def about_this_appointment(text: str) -> bool:
    """Whether a message typed at an appointment moves or cancels it in words (改到周四, 取消掉):
    the step's, never a search; and at rest, for someone with an appointment, about theirs
    (dialogs.conversation)."""
    return MOVE_SAID.search(text) is not None or any(word in text for word in CANCEL_WORDS) or changes_hall(text)
