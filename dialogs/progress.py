"""Case progress (查进度): case number, a second factor, and a timeline card in plain words;
then 订阅 / 退订 for that case. A 一件事 application's number (YJS…, dialogs.bundles) opens the
same way and shows one view: each member case's state and the steps of all of them as one
timeline; 订阅 on it hears each step of each of its cases once (bot.workers.notifier).

```
number   --text: a case number--> factor           (or straight to shown when verified before)
choosing --text: the number of a case verified before--> shown
factor   --text: last 4 digits of the phone, or the ID number--> shown
factor   --text: wrong factor--> factor             (the 5th in 10 minutes locks that number)
shown    --订阅 / 退订 / 刷新--> shown                 (factor when this person no longer has it verified)
shown    --a photo or PDF, the case awaiting materials (补正)--> shown (uploaded, counted) | material
material --text: which requested material it is--> shown (uploaded, counted)
any      --text: another case number--> factor | shown
```

补正: on the card of a case awaiting materials, a photo or file the person sends is fetched
(services.attachments: size and type judged before anything is kept), and uploaded to the
platform against the requested material (the only one still missing, else the one the person
picks from a numbered list), with the factor remembered for this person, asked for again at
that moment (`verified_case`); the platform adds it to the case's timeline. A file too big or
of another type, a case not awaiting materials, or one whose materials all came, is refused
politely and nothing is uploaded.

Two numbers live in the session and are never mixed: `pending`, the number being asked about
(typed, picked or carried in, not verified), and `case_no`, the case on the card, set only when
it opened with its second factor this turn. Every action on the card asks the subscriptions store
(`verified_case`) at the moment of the action whether THIS person verified THIS case, so neither
a session reached by 返回 nor one saved by an older version can act on a number nobody verified.

A wrong factor, a case that does not exist and a case whose phone digits are refused (too many
wrong factors for it from anyone: only the ID number opens it for a while) get the same answer.
Verified cases are remembered per person (bot.services.subscriptions), so the next 查进度 goes straight
to the card.

The guards only read: each event's prepare action (`PREPARE`) makes the one lookup the message
calls for (opening the number typed, picked or carried in, the factor's check, 订阅, the card's
check) and records what it saw as (where the number came from, the outcome); the guards compare.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from dialogs.engine import Dialog, P, T, guide_halls, normalise
from dialogs.matters import agent_of
from dialogs.ports import AttachmentRefused
from dialogs.rating import SHOWN_CASE
from dialogs.understand.answers import misread_digits, needs_time, number_groups, whole_identifier
from dialogs.understand.identity import phone_digits
from dialogs.understand.model import DEFAULT_CASE_PATTERN
from dialogs.understand.vocabulary import spoken_digits
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.identifiers import valid_id_number
from integrations.platform.models import BundleApplication, Case, CaseState, ErrorCode, MaterialUpload

TZ = ZoneInfo("Asia/Shanghai")
_SHORT_NUMBER = re.compile(r"\d{6,10}")
#: The number not at hand (没得编号, 短信删了, 回执丢了), or asked for another way in (用身份证查得到不).
#: Factors typed in a form that cannot be one, since the last case number (2: a person is offered).
FORMAT_MISSES = "factor_format_misses"
WITHOUT_NUMBER = re.compile(r"(?:没有|没得|没|不知道|找不到|忘了|忘记|记不得|不记得)(?:办件)?(?:编号|号码|受理号|回执|短信)"
                            r"|(?:编号|号码|回执|短信)(?:找不到|丢了|删了|没了|忘了|不见了|弄丢)|短信删了|回执丢了"
                            r"|(?:用|拿|凭)(?:身份证|名字|姓名|手机号?)(?:号码?)?(?:能|可以)?查"
                            # where it is to be found (编号在哪里看, 去哪找受理号)
                            r"|(?:编号|号码|受理号|回执)(?:在|去|从)?(?:哪|啥地方)|(?:哪|啥地方)[里儿]?(?:能)?(?:看|找|查)(?:到)?(?:办件)?(?:编号|号码|受理号)")
#: An ID number or a mobile number standing alone in a message (not part of a longer run).
_AN_ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dX](?![\dX])")
_A_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
#: What separates the groups of a number typed as printed (188 7703 2398): read together.
_IN_GROUPS = re.compile(r"(?<=\d)[\s\-－—](?=\d)")
#: A run of digits, maybe with letters before it, typed where a case number is asked for.
_NUMBER_LIKE = re.compile(r"[A-Z]{0,6}\d{4,}")
#: In an opening message, a token that can only be meant as a number for the case (GA20241203000123,
#: a run of ten digits or more): not a year or a day (2024年, 15号).
_CODE_LIKE = re.compile(r"(?<![A-Z])[A-Z]{1,6}\d{6,}|(?<!\d)\d{10,}(?!\d)")
MAX_STEPS = 6  # the card shows the latest steps; older ones are counted
MAX_BUNDLE_STEPS = 8  # a bundle's one timeline: the latest steps over all its cases

SUBSCRIBE = frozenset({"订阅", "订阅进度", "订阅这个", "关注", "提醒我", "通知我"})
UNSUBSCRIBE = frozenset({"退订", "取消订阅", "不用通知了", "不要通知"})
#: The same in a sentence (帮我订阅, 订阅一下, 有进展了通知我; 不用再通知我了, 别给我发了).
SUBSCRIBE_SAID = re.compile(r"^(?:帮我|给我|我要|我想|要|请|那就)?(?:订阅|关注)(?:一下|下|吧|这个|它|进度|一下吧)?$"
                            r"|有(?:进展|进度|消息|变化|结果|动静)(?:了)?(?:就|请|麻烦|记得)?(?:通知|告诉|提醒|推送给?)我"
                            # the card's own English word (To hear of each step, reply "subscribe")
                            r"|^(?:please )?(?:subscribe|follow it|follow this|notify me|keep me (?:posted|updated))(?: please)?$")
UNSUBSCRIBE_SAID = re.compile(r"(?:不用|不要|别|不必|不想)(?:再)?(?:通知|推送|提醒|发消息给|发给)(?:我)?|别(?:再)?给我发|不要(?:再)?给我发"
                              r"|^(?:帮我|我要|我想)?(?:取消|退掉|关掉)(?:订阅|通知|推送)"
                              r"|^(?:please )?(?:unsubscribe|stop (?:notifying me|the notices|notifications))(?: please)?$")
#: Whether it is done, or how it stands, asked on its card (办好了没, 好了吗, 现在什么情况, 批下来没有):
#: the card again, as it stands now.
STATUS_ASKED = re.compile(r"^(?:现在|那)?(?:办|弄|批)?(?:好|完|下来)了?(?:吗|没|没有|不|嘛|么)$|(?:办|弄)(?:好|完)了(?:吗|没|没有|不)"
                          r"|现在(?:是)?(?:(?:什么|啥|啥子)(?:情况|状态|进度|样子)|怎么样|咋样)|进度(?:怎么样|如何|咋样)|到哪(?:一步|了|儿了)"
                          r"|批(?:下来|好)?了?(?:吗|没|没有)|有(?:进展|结果)了?(?:吗|没)|\bis it (?:done|ready|finished)\b|\bany news\b")
#: ID numbers asked for as the factor (可以用身份证号查吗, 能用身份证吗): yes, said so.
ID_INSTEAD = re.compile(r"(?:用|拿|输|发)?身份证(?:号|号码)?(?:可以|行|能)?(?:查|吗|不|嘛|行不行|可不可以|可以不)"
                        r"|(?:可以|能|可不可以|能不能)(?:用|拿|输)身份证|\bid (?:card|number)\b.*\?|\buse my id\b")
#: States in which a case is done (办结) and may be rated.
DONE_STATES = frozenset({CaseState.approved, CaseState.not_approved, CaseState.ready_for_collection, CaseState.posted,
                         CaseState.collected, CaseState.refused})
REFRESH = frozenset({"刷新", "再查一次", "重新查询", "最新进度", "2", "刷新进度", "刷新一下", "再刷新", "再刷新一下", "更新一下", "再查一下",
                     "refresh"})
#: When the case will be done, asked on its card (啥时候办好, 要等多久): its promised day, said again.
WHEN_DONE_ASKED = re.compile(r"(?:啥|什么)时候(?:能|可以|才)?(?:办好|办完|办结|好|批|下来|出来|拿到)|多久(?:能|才|可以)?(?:办好|办完|好|下来|拿到)"
                             r"|要等多久|还要多久|还得多久|几号(?:能|可以)?(?:办好|好|拿)|\bwhen will it be (?:done|ready)\b|\bhow long\b")
#: Why it takes so long, or a push to hurry (为什么这么慢, 怎么还没办好, 催一下): its standing against the
#: promised day, with a way to press when it is overdue.
WHY_SLOW_ASKED = re.compile(r"(?:为什么|为啥|咋|怎么)(?:这么|那么|还)?(?:慢|久)|怎么还没(?:有)?(?:办)?(?:好|完|下来|批)|为什么还没|为啥还没|太慢了|好慢|慢死"
                            r"|催(?:一下|一催|催|办)|能不能快点|能快点吗|加急|\bwhy (?:is it )?(?:so slow|taking so long)\b|\bhurry\b")
#: Why it was refused (为什么不批准, 为啥没通过): the reason the card gave, again, and what may be done.
WHY_REFUSED_ASKED = re.compile(r"(?:为什么|为啥|咋|怎么)(?:会)?(?:不|没)(?:批|给|通过|予|受理|同意|办)|为什么(?:被)?(?:拒|驳回|退回)|\bwhy (?:was it )?(?:refused|rejected|not approved)\b")
#: Where the result is collected, or whether it is posted, asked on its card (去哪里领, 能不能寄给我).
COLLECT_ASKED = re.compile(r"(?:去|到)?(?:哪里|哪儿|哪|什么地方)(?:去)?(?:领|拿|取)|在哪(?:里)?(?:领|拿|取)|(?:能|可以|可不可以)(?:不能)?(?:邮寄|寄|快递)|寄给我|邮寄"
                           r"|\bpick (?:it )?up\b|\bcollect\b|\bmail (?:it|them)\b|\bpost (?:it|them)\b")
#: Whether someone else may collect the result (我在外地 能不能让我儿子帮我拿, 可以代领吗).
OTHER_COLLECTS = re.compile(r"(?:儿子|女儿|孩子|老伴|老公|老婆|爱人|家里人|家人|亲戚|朋友|别人|他人|同事)[^，,。]{0,5}(?:领|拿|取)"
                            r"|代领|代取|代拿|帮我(?:去)?(?:领|拿|取)|替我(?:去)?(?:领|拿|取)"
                            r"|\b(?:someone else|my (?:son|daughter|wife|husband|friend))\b[^.?]{0,20}\b(?:collect|pick)")
#: Those questions, asked short on a card, are the card's (a longer message may name another matter).
CARD_QUESTIONS = (WHEN_DONE_ASKED, WHY_SLOW_ASKED, WHY_REFUSED_ASKED, COLLECT_ASKED, OTHER_COLLECTS)
CARD_QUESTION_CHARS = 12

STATES = ["number", "choosing", "factor", "shown", "material"]
ANY = STATES
#: How to send the materials asked for (我要补材料, 材料怎么上传, 在哪交材料).
SEND_ASKED = re.compile(r"补(?:交|充|个|点)?(?:一下)?材料|(?:交|发|传|上传|提交)(?:一下)?材料|材料(?:怎么|咋|如何|在哪)?(?:交|发|传|上传|提交)|怎么上传|补正"
                        r"|要补(?:什么|啥|哪些)|补(?:什么|啥|哪些)|(?:照片|图片|文件|材料)(?:怎么|咋|如何)(?:发|传|给)|怎么(?:发|传)(?:照片|图片|文件)"
                        r"|(?:可以|能)拍照|拍照(?:可以|行|能)|拍(?:照片|个照|张照|张照片)(?:可以|行|能)|(?:照片|复印件)(?:可以|行)(?:吗|不)"
                        r"|都要拍|每(?:一)?页都|要拍几|拍几张|要原件|还是原件|原件(?:吗|呢)")
#: The photos of the materials said to be all sent (好了就这些, 发完了).
SENT_ALL = re.compile(r"发完了|传完了|就这些|都发了|都传了|没有了|没了|齐了|好了")
#: Rating the case on the card asked for (我要评价, 给这个打个差评, 好评): the rating dialog, for it.
RATE_ASKED = re.compile(r"评价|打分|评分|评个分|打个分|给个分|差评|好评|点评|几颗星|五星|一星")
ASKING = ["number", "choosing", "factor", "material"]
#: Where a photo or file of a requested material is taken: on the card, or asked which one.
RECEIVING = ["shown", "material"]
#: Why an upload did not happen (each has its own polite answer in progress/material_refused.j2).
UPLOAD_REFUSALS = frozenset({"too_large", "wrong_type", "gone", "unavailable", "not_awaiting", "all_received", "not_requested", "bundle", "down"})
#: What the platform's refusal of an upload means to the person.
_UPLOAD_ERRORS = {
    ErrorCode.media_too_large: "too_large", ErrorCode.media_type_refused: "wrong_type",
    ErrorCode.case_not_awaiting_materials: "not_awaiting", ErrorCode.material_not_requested: "not_requested",
}
TRANSITIONS = [
    #  trigger  source      dest        when                     then
    # A case number carried in (typed anywhere), else the cases this person verified before.
    T("start", "*",        "shown",    "carried_opens",         "show_case"),
    T("start", "*",        "number",   "carried_locked",        "say_locked"),
    T("start", "*",        "number",   "carried_trouble",       "say_busy"),
    T("start", "*",        "factor",   "carried_wrong",         "say_wrong"),  # <number> 1234 (wrong digits beside it): said, counted
    T("start", "*",        "factor",   "carried_digits_paused", "say_digits_paused"),
    T("start", "*",        "factor",   "carried_number",        "ask_factor"),
    T("start", "*",        "shown",    "only_verified_opens",   "show_case"),
    T("start", "*",        "choosing", "has_verified",          "ask"),
    # 办件编号忘了怎么查进度: where the number is found and who can help, not 请输入办件编号
    T("start", "*",        "number",   "opened_without_number", "say_without_number"),
    # 我的办件号是 GA20241203000123 进度怎么样了: what a case number looks like, not 请输入 as if none was sent
    T("start", "*",        "number",   "opened_with_a_wrong_number", "say_number_format"),
    T("start", "*",        "number",   None,                    "ask"),
    # A case number typed in any state.
    T("text",  ANY,        "shown",    "typed_opens",           "show_case"),
    T("text",  ANY,        "number",   "typed_locked",          "say_locked"),
    T("text",  ANY,        "number",   "typed_trouble",         "say_busy"),
    T("text",  ANY,        "factor",   "typed_wrong",           "say_wrong"),
    T("text",  ANY,        "factor",   "typed_digits_paused",   "say_digits_paused"),
    T("text",  ANY,        "factor",   "typed_number",          "ask_factor"),
    T("text",  ["number", "factor"], "=", "needs_time",           "say_take_your_time"),  # 等一下 我找找: it waits
    T("text",  "number",   "number",   "looks_like_a_number",   "say_number_format"),
    # 没有编号 / 短信删了 / 用身份证查得到不: where the number is found, and who can help without it
    T("text",  "number",   "number",   "has_no_number",         "say_without_number"),
    # One of the cases verified before.
    T("text",  "choosing", "shown",    "picked_opens",          "show_case"),
    T("text",  "choosing", "choosing", "picked_trouble",        "say_busy"),
    T("text",  "choosing", "number",   "picked_locked",         "say_locked"),
    T("text",  "choosing", "factor",   "picked_needs_factor",   "ask_factor"),
    # The second factor.
    T("text",  "factor",   "number",   "nothing_asked",         "ask"),
    T("text",  "factor",   "factor",   "asks_id_instead",       "say_id_is_fine"),  # 可以用身份证号查吗: yes
    # 编号找不到了 after all: where it is found, and who helps without it
    T("text",  "factor",   "number",   "has_no_number",         "say_without_number"),
    # a case number mistyped (5116022026120849) where its factor is asked: what a case number is
    T("text",  "factor",   "factor",   "mistypes_a_number",     "say_number_format"),
    T("text",  "factor",   "factor",   "factor_malformed",      "say_factor_format"),
    T("text",  "factor",   "shown",    "factor_opens",          "show_case"),
    T("text",  "factor",   "number",   "factor_locks",          "say_locked"),
    T("text",  "factor",   "factor",   "factor_wrong",          "say_wrong"),
    # phone digits for a number strangers kept getting wrong: the ID number asked for, nothing counted
    T("text",  "factor",   "factor",   "factor_digits_paused",  "say_digits_paused"),
    T("text",  "factor",   "factor",   "factor_trouble",        "say_busy"),
    # After the card: each action checks the card's case is this person's, now.
    T("text",  "shown",    "shown",    "asks_to_rate_a_bundle", "say_how_a_bundle_is_rated"),  # 评价 on a 一件事: not here
    T("text",  "shown",    "shown",    "asks_to_rate_too_early", "say_rate_when_done"),  # 评价 before it is done: said so, no stars offered
    T("text",  "shown",    "shown",    "asks_to_rate",          "open_rating"),  # 我要评价 / 给这个打差评
    T("text",  "shown",    "shown",    "asks_how_to_send",      "say_how_to_send"),  # 我要补材料 / 怎么上传
    T("text",  "shown",    "shown",    "asks_why_refused",      "say_why_refused"),  # 为什么不批准: the reason again
    T("text",  "shown",    "shown",    "asks_why_slow",         "say_why_slow"),  # 为什么这么慢 / 催一下: its standing, and how to press
    T("text",  "shown",    "shown",    "asks_when_done",        "say_when_done"),  # 啥时候办好: the promised day again
    T("text",  "shown",    "shown",    "asks_other_to_collect", "say_who_may_collect"),  # 能不能让我儿子帮我拿
    T("text",  "shown",    "shown",    "asks_where_to_collect", "say_where_to_collect"),  # 去哪里领 / 能不能寄给我
    T("text",  "shown",    "shown",    "finished_sending",      "say_all_sent"),  # 好了就这些, after the photos
    T("text",  "shown",    "shown",    "subscribes",            "say_subscribed"),
    T("text",  "shown",    "shown",    "unsubscribes",          "unsubscribe"),
    T("text",  "shown",    "shown",    "refresh_opens",         "show_case"),
    T("text",  "shown",    "shown",    "refresh_trouble",       "say_busy"),
    T("text",  "shown",    "number",   "refresh_locked",        "say_locked"),
    T("text",  "shown",    "factor",   "card_needs_factor",     "ask_factor"),
    T("text",  ASKING,     "number",   "names_subscribe",       "open_subscriptions"),
    T("text",  ASKING,     "number",   "asks_unsubscribe",      "open_unsubscribe"),
    # 补正: which requested material the file just sent is.
    T("text",  "material", "shown",    "material_counted",      "say_counted"),
    T("text",  "material", "shown",    "material_refused",      "say_upload_refused"),
    T("text",  "material", "factor",   "upload_needs_factor",   "ask_factor"),
    # 补正: a photo or a file of a requested material, on the card (or while asked which one).
    *(row for kind in ("image", "file") for row in (
        T(kind, RECEIVING, "shown",    "upload_counted",        "say_counted"),
        T(kind, RECEIVING, "material", "upload_asks_which",     "ask"),
        T(kind, RECEIVING, "shown",    "upload_refused",        "say_upload_refused"),
        T(kind, RECEIVING, "factor",   "upload_needs_factor",   "ask_factor"),
    )),
]
#: The one lookup of each event, before its guards are asked.
PREPARE = [
    #  trigger  source  action
    P("start", "*",    "look_up_on_start"),
    P("text",  ANY,    "look_up_text"),
    P("image", RECEIVING, "receive_material"),
    P("file",  RECEIVING, "receive_material"),
]


# Recognising what people type --------------------------------------------------------------


@lru_cache(maxsize=8)
def _case_regex(pattern: str) -> re.Pattern:
    return re.compile(rf"(?<![0-9A-Z])(?:{pattern})(?![0-9A-Z])")


#: What may separate the groups of a typed case number (after NFKC: full-width ones are folded).
_SEPARATORS = re.compile(r"[\s\-－—]")
#: Eight ASCII digits anywhere (possessive: no backtracking on a text without them). The default
#: pattern's lookahead needs eight in a row; folding neither adds ASCII digits (NFKC is applied
#: before this check, the separators removed are not digits, upper() makes none) nor removes any.
_EIGHT_DIGITS = re.compile(r"(?:[^0-9]*+[0-9]){8}")
EIGHT_DIGITS = _EIGHT_DIGITS  # dialogs.conversation checks the text it has normalised already


def find_case_number(text: str, settings: Any = None) -> str | None:
    """A case number in what someone typed (full-width digits, spaces and dashes allowed)."""
    if len(text) > 120:
        return None
    folded = unicodedata.normalize("NFKC", text)
    pattern = getattr(settings, "case_number_pattern", None) or DEFAULT_CASE_PATTERN
    if pattern == DEFAULT_CASE_PATTERN and _EIGHT_DIGITS.match(folded) is None:
        return None  # most messages: no case number possible, so no folding or search
    folded = _WHOLE_DETAIL.sub(_fenced, folded)
    regex = _case_regex(pattern)
    # A case number typed whole, then something else (<number> 8071: the phone's last digits): not
    # glued to it; a number typed in groups (5116 0220 2611 …) is glued.
    # O for 0 and I or L for 1 among the digits (…310OO1, copied by eye) read as the digits meant,
    # as the understanding reads them in a sentence: never a verification try spent on a number
    # nobody has.
    for token in folded.split():
        whole = regex.fullmatch(misread_digits(_SEPARATORS.sub("", token).upper()))
        if whole is not None:
            return whole.group(0)
    match = regex.search(_SEPARATORS.sub("", folded).upper())
    return misread_digits(match.group(0)) if match else None


#: An ID number or a mobile number typed as one group: fenced off, so the groups either side of
#: it are never glued to it (李晓燕 511602199305120028 13981234567: two details, no case number).
_WHOLE_DETAIL = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|1\d{10})(?![0-9A-Za-z])")


def _fenced(match: re.Match) -> str:
    return f"|{match.group(0)}|" if whole_identifier(match.group(0)) else match.group(0)


#: A 一件事 application number (dialogs.bundles): YJS and 18 digits, one number for all its cases.
_BUNDLE_NO = re.compile(r"(?<![0-9A-Z])YJS\d{18}(?![0-9])")


def find_bundle_number(text: str) -> str | None:
    """A 一件事 application number in what someone typed (any case, full-width, spaces allowed)."""
    if len(text) > 120 or "yjs" not in (folded := unicodedata.normalize("NFKC", text)).lower():
        return None
    match = _BUNDLE_NO.search(_SEPARATORS.sub("", folded).upper())
    return match.group(0) if match else None


def _pairs(text: str) -> set[str]:
    """The pairs of adjacent characters of a text (its bigrams)."""
    return {text[i:i + 2] for i in range(len(text) - 1)}


def is_bundle_number(number: str) -> bool:
    return number.startswith("YJS")


def parse_factor(text: str) -> dict[str, str] | None:
    """{"phone_last4": ...} or {"id_number": ...}; a full phone number gives its last 4 digits."""
    text = spoken_digits(unicodedata.normalize("NFKC", text))  # 五六七八 said by voice
    folded = re.sub(r"\s", "", text).upper()
    if re.fullmatch(r"\d{4}", folded):
        return {"phone_last4": folded}
    if re.fullmatch(r"1[3-9]\d{9}", folded):
        return {"phone_last4": folded[-4:]}
    if re.fullmatch(r"\d{17}[\dX]", folded) and valid_id_number(folded):
        return {"id_number": folded}
    said = phone_digits(text)  # 尾号是5678, 手机后四位 5678
    if said:
        return {"phone_last4": said}
    # Pasted among other words (身份证号是…, 李晓燕 5116… 139…): the ID number, else the mobile's last 4.
    details = [value.upper() for _, _, value in number_groups(unicodedata.normalize("NFKC", text).lower()) if whole_identifier(value)]
    ids = [value for value in details if len(value) == 18]
    if ids:
        return {"id_number": ids[0]}
    if details:
        return {"phone_last4": details[0][-4:]}
    # The only digits said are four (不对，是7766): the last four asked for.
    digits = re.findall(r"\d+", folded)
    if re.search(r"\d[年月日号]", folded):  # a date, not a phone's digits
        return None
    return {"phone_last4": digits[0]} if len(digits) == 1 and len(digits[0]) == 4 else None


# Working days ---------------------------------------------------------------------------------


def working_days_left(today: date, promised: date, holidays=(), makeup_workdays=()) -> int:
    """Working days after today up to and including the promised date; negative when overdue."""
    off, on = set(holidays), set(makeup_workdays)

    def working(day: date) -> bool:
        return day in on or (day.weekday() < 5 and day not in off)

    if promised >= today:
        return sum(1 for i in range(1, (promised - today).days + 1) if working(today + timedelta(days=i)))
    return -sum(1 for i in range(1, (today - promised).days + 1) if working(promised + timedelta(days=i)))


def case_view(case: Case, settings: Any = None, today: date | None = None) -> dict[str, Any]:
    """What the card template needs, with times in Beijing time and the days left counted."""
    today = today or datetime.now(TZ).date()
    days_left = None
    if case.promised_date is not None and case.result is None:
        days_left = working_days_left(today, case.promised_date, getattr(settings, "holidays", ()), getattr(settings, "makeup_workdays", ()))
    steps = [
        {"when": s.at, "name": s.name, "department": s.department, "note": s.note}
        for s in case.timeline
    ]
    return {"case": case, "state": case.state.value, "steps": steps[-MAX_STEPS:], "earlier": max(0, len(steps) - MAX_STEPS), "days_left": days_left}


def bundle_view(application: BundleApplication, settings: Any = None, today: date | None = None) -> dict[str, Any]:
    """One view of a 一件事 application: each member case's state, and the steps of every case
    as one timeline, latest last (each step says which matter it belongs to)."""
    today = today or datetime.now(TZ).date()
    days_left = None
    if not application.done:
        days_left = working_days_left(today, application.promised_date, getattr(settings, "holidays", ()), getattr(settings, "makeup_workdays", ()))
    steps = sorted(
        ({"when": s.at, "name": s.name, "department": s.department, "note": s.note, "matter": c.matter_name} for c in application.cases for s in c.timeline),
        key=lambda step: step["when"],
    )
    cases = [{"case": c, "state": c.state.value} for c in application.cases]
    finished = sum(1 for c in application.cases if c.result is not None)
    return {"application": application, "cases": cases, "finished": finished, "steps": steps[-MAX_BUNDLE_STEPS:],
            "earlier": max(0, len(steps) - MAX_BUNDLE_STEPS), "days_left": days_left,
            "requested": [c for c in application.cases if c.state.value == "materials_requested"]}


# The dialog -------------------------------------------------------------------------------------


class Progress(Dialog):
    name = "progress"
    title = "查办件进度"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    PROMPTS = {
        "number": "progress/ask_number.j2",
        "choosing": "progress/choose.j2",
        "factor": "progress/ask_factor.j2",
        "shown": "progress/follow_ups.j2",
        "material": "progress/which_material.j2",
    }
    #: Words this dialog understands itself, before they mean anything globally.
    OWN_WORDS = SUBSCRIBE | UNSUBSCRIBE | (REFRESH - {"2"})
    EXPECTS = {"number": frozenset({"case_number"}), "choosing": frozenset({"choice"}), "factor": frozenset({"id_number", "phone"}),
               "shown": frozenset({"choice"}), "material": frozenset({"choice"})}
    DONE = frozenset({"shown"})
    #: Which material a file is may be said by its name (租赁合同): never a question about a matter.
    FREE_TEXT = frozenset({"material"})

    __slots__ = ("_seen", "_asked", "_case", "_added", "_locked", "_failures", "_upload")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: What this event's prepare looked up, and what came of it: ("typed", "ok"), ("card", "unverified"), ...
        self._seen: tuple[str, str] = ("", "")
        self._asked: str | None = None  # the number this turn tried to open
        self._case: Case | None = None
        self._added: Any = None  # what 订阅 did
        self._locked = 0
        self._failures = 0
        self._upload: MaterialUpload | None = None  # what the platform counted a file as

    def prompt_context(self):
        return {"data": self.data, "choices": self.data.get("choices", []), "asked": self._asked_about(),
                "materials": (self.data.get("upload") or {}).get("materials", [])}

    def ask(self) -> None:
        """Ask the current state's question. 返回 (dialogs.conversation) re-enters a state through
        here too: only the factor question keeps a number that is being asked about, and only
        the question which material it is keeps the file waiting for its answer."""
        if self.state != "factor":
            self.data.pop("pending", None)
        if self.state != "material":
            self.data.pop("upload", None)
        if self.data.pop("waited", False):
            self.say("progress/sorry_for_the_wait.j2")
        super().ask()

    @property
    def _store(self):
        return self.services.subscriptions

    def _asked_about(self) -> str | None:
        """The number the factor question is about: the one pending, else the card's own case
        (返回 from the card to the factor question)."""
        return self.data.get("pending") or self.data.get("case_no")

    # Opening a case --------------------------------------------------------------------------

    async def _open(self, case_no: str | None, factor: dict[str, str] | None = None) -> str:
        """Try to open a case: "ok", "locked", "down", "wrong" (a wrong factor, counted),
        "needs_factor" (never verified, or no longer opens with the remembered factor), or
        "none" (no case number)."""
        if not case_no:
            return "none"
        return await self._try(case_no, factor)

    async def _try(self, case_no: str, factor: dict[str, str] | None) -> str:
        self._asked = case_no
        lock = await self._store.factor_lock(self.user, case_no)
        if lock.seconds:
            self._locked = lock.seconds
            return "locked"
        remembered = None
        if factor is None:
            remembered = await self._store.verified_case(self.user, case_no)
            if remembered is None:
                case = await self._bound_enterprise_case(case_no)
                if case is None:
                    return "needs_factor"
                self._case = case  # an enterprise's case, to one bound to it now: nothing to verify
                return "ok"
            factor = remembered.factor
        elif lock.digits_refused and "phone_last4" in factor:
            # Not even asked, and not counted against this person: the owner typing the right
            # digits was told they were wrong and locked out by strangers' tries. Saying the phone
            # check is paused for this number tells nothing of the case (any number pauses alike).
            return "digits_paused"
        lookup = self.services.platform.bundle_application if is_bundle_number(case_no) else self.services.platform.case
        try:
            case = await lookup(case_no, **factor)
        except PlatformUnavailable:
            return "down"
        except PlatformError as exc:
            if exc.code not in (ErrorCode.case_not_verified, ErrorCode.not_found, ErrorCode.invalid_request):
                return "down"
            if remembered is not None:
                await self._store.forget(self.user, case_no)
                return "needs_factor"
            return await self._wrong(case_no)
        self._case = case
        if remembered is None:
            name = case.bundle_name if isinstance(case, BundleApplication) else case.matter_name
            await self._store.remember(self.user, case_no, name, **factor)
            await self._store.succeeded(self.user, case_no)
        return "ok"

    async def _bound_enterprise_case(self, case_no: str) -> Case | None:
        """The case, when it is an enterprise's this person is bound to now (the binding verified
        them, as 企业办件 reads it): a company case has no applicant's phone to give, and 查进度, as
        the notices say, asked for one. None for anyone else, and when the platform cannot say."""
        if is_bundle_number(case_no):
            return None
        for code, _ in await self._store.enterprises(self.user):
            offset: int | None = 0
            try:
                while offset is not None:
                    page = await self.services.platform.enterprise_cases_page(code, None, offset=offset, limit=100)
                    found = next((c for c in page.items if c.case_no == case_no), None)
                    if found is not None:
                        return found if (found.credit_code or "").upper() == code.upper() else None
                    offset = page.next_offset
            except (PlatformUnavailable, PlatformError):
                return None
        return None

    async def _wrong(self, case_no: str) -> str:
        self._failures, self._locked = await self._store.failed(self.user, case_no)
        return "locked" if self._locked else "wrong"

    # The lookups (prepare actions) -----------------------------------------------------------

    async def look_up_on_start(self) -> None:
        """Start: a case number carried in (typed elsewhere; dialogs.conversation carries it as
        `case_no`, here it is only asked about until it opens), else the cases verified before
        (the only one is opened)."""
        if "case_no" in self.data:
            self.data["pending"] = self.data.pop("case_no")
        pending = self.data.get("pending")
        if pending:
            self._seen = ("carried", await self._open(pending, self._factor_beside(pending)))
            return
        verified = await self._store.verified(self.user)
        self.data["choices"] = [[c.case_no, c.matter_name] for c in verified.values()]
        if len(self.data["choices"]) == 1:
            self._seen = ("verified", await self._open(self.data["choices"][0][0]))

    async def look_up_text(self) -> None:
        """A case number typed in any state; else what the state's message asks: the case picked
        from the list, the factor given, or on the card 订阅 / 退订 / 刷新 (each asks the store,
        now, whether the card's case is this person's)."""
        typed = self._typed()
        if typed is not None:
            self._seen = ("typed", await self._open(typed, self._factor_beside(typed)))
        elif self.state == "choosing":
            picked = self._picked()
            if picked is not None:
                self._seen = ("picked", await self._open(picked))
        elif self.state == "factor":
            asked, factor = self._asked_about(), parse_factor(self.word)
            if asked and factor is not None:
                self._seen = ("factor", await self._open(asked, factor))
        elif self.state == "shown":
            case_no = self.data.get("case_no") or ""
            if self.asks_status():
                self._seen = ("refresh", await self._open(case_no))
            elif self.asks_of_the_card():
                # 要补啥材料 after a 补正 notice: the card as it stands now, not as first shown
                if await self._open(case_no) == "ok" and isinstance(self._case, Case):  # a 一件事's view keeps no case's card
                    self._keep_card(self._case)
            elif self.asks_subscribe():
                self._added = await self._store.subscribe(self.user, case_no)
                self._seen = ("subscribe", self._added.value)
            elif self.asks_unsubscribe():
                verified = await self._store.verified_case(self.user, case_no) is not None
                self._seen = ("unsubscribe", "verified" if verified else "unverified")
            elif self.word in REFRESH:
                self._seen = ("refresh", await self._open(self.data.get("case_no")))
        elif self.state == "material":
            waiting = self.data.get("upload") or {}
            picked = self._picked_material(waiting.get("materials") or [])
            if picked is not None and waiting.get("media_id"):
                self._seen = ("material", await self._receive(waiting["media_id"], picked))

    # 补正: a photo or file of a requested material ----------------------------------------------

    async def receive_material(self) -> None:
        """Prepare (a photo or file on the card): upload it for the only material still missing,
        or keep its media_id and ask which material it is."""
        self.data.pop("upload", None)
        media_id = self.incoming.extra.get("media_id")
        self._seen = ("upload", await self._receive(media_id, None) if media_id else "gone")

    async def _receive(self, media_id: str, material_id: str | None) -> str:
        """Upload the file for `material_id` (None: the only one still missing, else "which").
        Each step asks, now: is this person still verified for the card's case, is it awaiting
        materials, is the file one the platform takes (fetched and judged before any upload)."""
        case_no = self.data.get("case_no") or ""
        if not case_no or is_bundle_number(case_no):
            return "bundle"  # a 一件事 takes materials by each member case's own number
        remembered = await self._store.verified_case(self.user, case_no)
        if remembered is None:
            # An enterprise's case, sent by one bound to it now: the binding is their proof (a company
            # has no applicant's phone or ID number to give, and its 补正 card said 在这里发照片).
            case = await self._bound_enterprise_case(case_no)
            if case is None or not case.credit_code:
                self._asked = case_no
                return "needs_factor"
            factor = {"credit_code": case.credit_code}
        else:
            factor = remembered.factor
            try:
                case = await self.services.platform.case(case_no, **factor)
            except PlatformUnavailable:
                return "down"
            except PlatformError as exc:
                if exc.code in (ErrorCode.case_not_verified, ErrorCode.not_found):
                    await self._store.forget(self.user, case_no)
                    self._asked = case_no
                    return "needs_factor"
                return "down"
        if case.state != CaseState.materials_requested:
            return "not_awaiting"
        missing = [[m.id, m.name] for m in case.requested_materials if m.status != "received"]
        # A document of several pages (an ID card's two sides, a contract's pages) comes as several
        # photos: the material counted last on this card takes more pages, offered beside the rest.
        last = self.data.get("last_material")
        more = [[last[0], f"{last[1]}（再加一页）"]] if last and last[0] not in {m[0] for m in missing} and any(
            m.id == last[0] for m in case.requested_materials) else []
        options = missing + more
        if material_id is None:
            if not options:
                return "all_received"
            if len(options) > 1:
                try:  # judged now, so a file that cannot be used is refused before the question
                    await self.services.attachments.fetch(media_id)
                except AttachmentRefused as refused:
                    return refused.reason
                self.data["upload"] = {"media_id": media_id, "materials": options}
                return "which"
            material_id = options[0][0]
        try:
            attachment = await self.services.attachments.fetch(media_id)
        except AttachmentRefused as refused:
            return refused.reason
        key = hashlib.sha256(f"{self.user}|{case_no}|{material_id}|{attachment.sha256}".encode()).hexdigest()[:48]
        try:
            self._upload = await self.services.platform.upload_material(
                case_no, material_id, attachment.content, filename=attachment.filename, content_type=attachment.media_type,
                idempotency_key=key, **factor)
        except PlatformUnavailable:
            return "down"
        except PlatformError as exc:
            if exc.code in (ErrorCode.case_not_verified, ErrorCode.not_found):
                if remembered is not None:
                    await self._store.forget(self.user, case_no)
                self._asked = case_no
                return "needs_factor"
            return _UPLOAD_ERRORS.get(exc.code, "down")
        self.data.pop("upload", None)
        self.data["last_material"] = [material_id, self._upload.material_name]
        return "counted"

    def _picked_material(self, materials: list) -> str | None:
        """The id of the material picked by its number in the list (2, 第二个, 最后一个), or by its name."""
        text = self.word
        n = int(text) if text.isascii() and text.isdigit() else self.slot("choice")
        n = len(materials) if n == -1 else n
        if n is not None and 1 <= n <= len(materials):
            return materials[n - 1][0]
        # By name, as people say it (是租赁合同, 身份证那张): the material sharing the most pairs of
        # characters with the message, when one clearly does (two pairs at least, and no tie).
        said = _pairs(text)
        shared = sorted(((len(said & _pairs(normalise(m[1]))), m[0]) for m in materials), reverse=True)
        if shared and shared[0][0] >= 2 and (len(shared) == 1 or shared[1][0] < shared[0][0]):
            return shared[0][1]
        return None

    # The guards ------------------------------------------------------------------------------------

    # On start: a case number carried in, or the cases verified before.
    def carried_opens(self) -> bool:
        return self._seen == ("carried", "ok")

    def carried_locked(self) -> bool:
        return self._seen == ("carried", "locked")

    def carried_trouble(self) -> bool:
        return self._seen == ("carried", "down")

    def carried_wrong(self) -> bool:
        return self._seen == ("carried", "wrong")

    def carried_number(self) -> bool:
        return self._seen[0] == "carried"

    def only_verified_opens(self) -> bool:
        return self._seen == ("verified", "ok")

    def has_verified(self) -> bool:
        return bool(self.data.get("choices"))

    # A case number typed.
    def _factor_beside(self, case_no: str) -> dict[str, str] | None:
        """The second factor given in the same message as the case number (查下办件 <number> 手机尾号
        5678; <number> 身份证 5116…): read from what is left once the number is taken out, so its
        own digits are never taken for the phone's. None when the message gives none (it is asked)."""
        text = unicodedata.normalize("NFKC", self.text or "")
        spelled = r"[\s-]*".join(re.escape(ch) for ch in case_no)
        rest = re.sub(spelled, " ", text, count=1, flags=re.IGNORECASE)
        if rest == text or not re.search(r"\d", rest):
            return None
        return parse_factor(rest)

    def _typed(self) -> str | None:
        return find_bundle_number(self.text) or find_case_number(self.text, self.services.settings)

    def typed_opens(self) -> bool:
        return self._seen == ("typed", "ok")

    def typed_locked(self) -> bool:
        return self._seen == ("typed", "locked")

    def typed_trouble(self) -> bool:
        return self._seen == ("typed", "down")

    def typed_wrong(self) -> bool:
        return self._seen == ("typed", "wrong")

    def typed_number(self) -> bool:
        return self._seen[0] == "typed"

    # One of the cases verified before, by its number in the list.
    def _picked(self) -> str | None:
        text = self.word
        choices = self.data.get("choices", [])
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(choices):
            return choices[int(text) - 1][0]
        return None

    def picked_opens(self) -> bool:
        return self._seen == ("picked", "ok")

    def picked_trouble(self) -> bool:
        return self._seen == ("picked", "down")

    def picked_locked(self) -> bool:
        return self._seen == ("picked", "locked")

    def picked_needs_factor(self) -> bool:
        return self._seen == ("picked", "needs_factor")

    # The second factor.
    def nothing_asked(self) -> bool:
        return not self._asked_about()

    def asks_id_instead(self) -> bool:
        return parse_factor(self.word) is None and len(self.word) <= CARD_QUESTION_CHARS and ID_INSTEAD.search(self.word) is not None

    def say_id_is_fine(self):
        self.say("progress/id_is_fine.j2")

    def factor_malformed(self) -> bool:
        return parse_factor(self.word) is None

    def mistypes_a_number(self) -> bool:
        """A run of ten digits or more that is neither a case number nor an ID number."""
        return parse_factor(self.word) is None and re.fullmatch(r"\d{10,17}|\d{19,}", self.word) is not None

    def factor_opens(self) -> bool:
        return self._seen == ("factor", "ok")

    def factor_locks(self) -> bool:
        return self._seen == ("factor", "locked")

    def factor_wrong(self) -> bool:
        return self._seen == ("factor", "wrong")

    def factor_trouble(self) -> bool:
        return self._seen == ("factor", "down")

    def factor_digits_paused(self) -> bool:
        return self._seen == ("factor", "digits_paused")

    def carried_digits_paused(self) -> bool:
        return self._seen == ("carried", "digits_paused")

    def typed_digits_paused(self) -> bool:
        return self._seen == ("typed", "digits_paused")

    # Acting on the card's case: the store said, in the lookup, whether it is this person's.
    def subscribes(self) -> bool:
        """订阅 (or "1" on the card): the store refuses a case this person has not verified."""
        return self._seen[0] == "subscribe" and self._seen[1] != "unverified"

    def unsubscribes(self) -> bool:
        return self._seen == ("unsubscribe", "verified")

    def refresh_opens(self) -> bool:
        return self._seen == ("refresh", "ok")

    def refresh_trouble(self) -> bool:
        return self._seen == ("refresh", "down")

    def refresh_locked(self) -> bool:
        return self._seen == ("refresh", "locked")

    def upload_counted(self) -> bool:
        return self._seen == ("upload", "counted")

    def upload_asks_which(self) -> bool:
        return self._seen == ("upload", "which")

    def upload_refused(self) -> bool:
        return self._seen[0] == "upload" and self._seen[1] in UPLOAD_REFUSALS

    def upload_needs_factor(self) -> bool:
        return self._seen[0] in ("upload", "material") and self._seen[1] == "needs_factor"

    def material_counted(self) -> bool:
        return self._seen == ("material", "counted")

    def material_refused(self) -> bool:
        return self._seen[0] == "material" and self._seen[1] in UPLOAD_REFUSALS

    def card_needs_factor(self) -> bool:
        """订阅 / 退订 / 刷新 on a card whose case this person has not verified (any more)."""
        return self._seen in (("subscribe", "unverified"), ("unsubscribe", "unverified"), ("refresh", "needs_factor"))

    # Answers ------------------------------------------------------------------------------------

    async def show_case(self):
        self._say_also()
        case = self._case
        self.data.pop("choices", None)
        if isinstance(case, BundleApplication):  # a 一件事: its cases as one view, one subscription for all
            self.data["case_no"] = case.bundle_no
            # what an earlier case's card said is not this application's (啥时候办好 answered its day)
            self.data.update(promised=case.promised_date.isoformat(), collect=None, matter_code=None, done=None)
            self.data["subscribed"] = await self._store.is_subscribed(self.user, case.bundle_no)
            self.say("progress/bundle_card.j2", **bundle_view(case, self.services.settings))
            self.ask()
            return
        if self.data.get("case_no") != case.case_no:
            self.data.pop("last_material", None)  # pages go on only for the card they started on
        view = self._keep_card(case)
        self.data["subscribed"] = await self._store.is_subscribed(self.user, case.case_no)
        self.say("progress/card.j2", **view)
        self.ask()

    def _keep_card(self, case) -> dict:
        """What the card says of `case`, kept for the questions asked of it later (its view)."""
        self.data["case_no"] = case.case_no  # the only place a case number becomes the card's
        self.data["matter_name"] = case.matter_name  # named when the card's case is rated
        # what the card said of when it is done and where its result is collected, asked again later
        self.data["promised"] = case.promised_date.isoformat() if case.promised_date and not case.result else None
        self.data["collect"] = (case.result.collection if case.result and case.result.collection else None)
        self.data["matter_code"] = case.matter_code
        self.data["done"] = case.state in DONE_STATES
        if self.data["done"]:  # 评价 after a question asked meanwhile rates this one
            self.remember(SHOWN_CASE, {"case_no": case.case_no, "matter_name": case.matter_name})
        view = case_view(case, self.services.settings)
        # what the card said, for the questions asked of it later (为什么这么慢, 还要补什么, 为什么不批准)
        self.data["standing"] = {"state": case.state.value, "days_left": view["days_left"],
                                 "missing": [m.name for m in case.requested_materials if m.status != "received"]
                                 if case.state == CaseState.materials_requested else [],
                                 "reason": case.result.reason if case.result and case.result.outcome in ("not_approved", "refused") else ""}
        return view

    def asks_why_slow(self) -> bool:
        """为什么这么慢; and 为什么不批准 of a case not refused (still in hand): where it stands."""
        return bool(self.data.get("standing")) and (WHY_SLOW_ASKED.search(self.word) is not None
                                                    or WHY_REFUSED_ASKED.search(self.word) is not None)

    def say_why_slow(self):
        self.say("progress/why_slow.j2", standing=self.data["standing"],
                 promised=date.fromisoformat(self.data["promised"]) if self.data.get("promised") else None)
        self.ask()

    def asks_why_refused(self) -> bool:
        standing = self.data.get("standing") or {}
        return standing.get("state") in ("not_approved", "refused") and WHY_REFUSED_ASKED.search(self.word) is not None

    def say_why_refused(self):
        self.say("progress/why_refused.j2", reason=self.data["standing"].get("reason", ""))
        self.ask()

    def asks_when_done(self) -> bool:
        return bool(self.data.get("case_no")) and WHEN_DONE_ASKED.search(self.word) is not None

    def say_when_done(self):
        promised = self.data.get("promised")
        self.say("progress/when_done.j2", promised=date.fromisoformat(promised) if promised else None)
        self.ask()

    def asks_where_to_collect(self) -> bool:
        return bool(self.data.get("case_no")) and COLLECT_ASKED.search(self.word) is not None

    def asks_other_to_collect(self) -> bool:
        return bool(self.data.get("case_no")) and len(self.word) <= CARD_QUESTION_CHARS * 2 and OTHER_COLLECTS.search(self.word) is not None

    def say_who_may_collect(self):
        """能不能让我儿子帮我拿: what the case's guide says of someone acting for the applicant (it
        listed matters with 异地 in their names), and where it is collected."""
        catalog, code = self.services.catalog, self.data.get("matter_code")
        guide = catalog.guide(code) if catalog is not None and code else None
        self.say("progress/other_collects.j2", matter=self.data.get("matter_name") or "", collect=self.data.get("collect"),
                 phone=guide.consult_phone if guide else "", **(agent_of(guide) if guide else {"allowed": None, "materials": []}))
        self.ask()

    def say_where_to_collect(self):
        catalog, code = self.services.catalog, self.data.get("matter_code")
        guide = catalog.guide(code) if catalog is not None and code else None
        halls = guide_halls(catalog, guide) if catalog is not None else []
        self.say("progress/collect.j2", collect=self.data.get("collect"), halls=halls)
        self.ask()

    def looks_like_a_number(self) -> bool:
        """Something like a number that is not a case number here (受理号GA20261128003, 12345):
        what a case number looks like is said, not 没太明白."""
        return _NUMBER_LIKE.search(self.word.upper()) is not None

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """我没有编号 用身份证查得到不 at the number's step is about the number, and 我要评价 on a
        card is about its case: never searched, nor a rating of another case."""
        word = normalise(text)
        if state == "shown":
            if len(word) <= CARD_QUESTION_CHARS and any(p.search(word) for p in CARD_QUESTIONS):
                return True  # 为什么不批准, 怎么还没办好, 去哪里领: this case's, whatever the search makes of it
            if len(word) <= CARD_QUESTION_CHARS * 2 and OTHER_COLLECTS.search(word):
                return True  # 我在外地 能不能让我儿子帮我拿: this case's result (异地 listed matters)
            if len(word) <= CARD_QUESTION_CHARS and STATUS_ASKED.search(word):
                return True  # 办好了没: this case's (it was 好的 or 再见)
            if SUBSCRIBE_SAID.search(word) or UNSUBSCRIBE_SAID.search(word):
                return True  # 有进展了通知我 / 别给我发了: this case's notices (it was searched)
            return (RATE_ASKED.search(word) is not None and "修改" not in word) or SEND_ASKED.search(word) is not None
        if state == "factor" and len(word) <= CARD_QUESTION_CHARS and ID_INSTEAD.search(word):
            return True  # 可以用身份证号查吗: the factor's question (it listed ID card matters)
        return state == "number" and WITHOUT_NUMBER.search(word) is not None

    def asks_to_rate_a_bundle(self) -> bool:
        """评价 on a 一件事 application's card: its cases are rated one by one, and not in this chat
        (it opened 请为「」打分 and then said the case was rated already)."""
        return is_bundle_number(self.data.get("case_no") or "") and self.asks_to_rate()

    def say_how_a_bundle_is_rated(self):
        self.say("progress/rate_bundle.j2")
        self.ask()

    def asks_to_rate_too_early(self) -> bool:
        return self.data.get("done") is False and self.asks_to_rate()

    def say_rate_when_done(self):
        self.say("progress/rate_when_done.j2")
        self.ask()

    def asks_to_rate(self) -> bool:
        return bool(self.data.get("case_no")) and RATE_ASKED.search(self.word) is not None and "修改" not in self.word

    def asks_how_to_send(self) -> bool:
        return bool(self.data.get("case_no")) and SEND_ASKED.search(self.word) is not None

    def say_how_to_send(self):
        standing = self.data.get("standing")
        self.say("progress/how_to_send.j2", missing=standing.get("missing", []) if standing else None,
                 original="原件" in self.word)

    def finished_sending(self) -> bool:
        return bool(self.data.get("last_material")) and SENT_ALL.search(self.word) is not None

    def say_all_sent(self):
        self.say("progress/all_sent.j2")

    def open_rating(self):
        """The card's case rated (the ratings store checks, when rating, that it is done and that
        this person verified it): with the level said, at once; else its level is asked."""
        self.start("rating", case_no=self.data["case_no"], matter_name=self.data.get("matter_name", ""))

    def needs_time(self) -> bool:
        return needs_time(self.word)

    def say_take_your_time(self):
        self.say("progress/take_your_time.j2", step=self.state)

    def opened_without_number(self) -> bool:
        return self.incoming.kind == "text" and self.has_no_number()

    def opened_with_a_wrong_number(self) -> bool:
        return self.incoming.kind == "text" and _CODE_LIKE.search(unicodedata.normalize("NFKC", self.word).upper()) is not None

    def has_no_number(self) -> bool:
        return WITHOUT_NUMBER.search(self.word) is not None

    def say_without_number(self):
        self.say("progress/without_number.j2")

    def say_number_format(self):
        # a short run of digits is often the 预约号 of an appointment (12070001): where that is looked up
        word = unicodedata.normalize("NFKC", self.word).upper()
        glued = _IN_GROUPS.sub("", word)  # 188 7703 2398: a phone typed in groups
        id_number, phone = _AN_ID_NUMBER.search(glued) is not None, _A_PHONE.search(glued) is not None
        if id_number or phone:
            # 用身份证号能查吗 5116…098X / 5116…4027 王秀英 139… 办好没有: told "not a case number (you
            # sent 17 / 29 digits)", the ID number's X not counted and the two numbers run together
            self.say("progress/not_a_case_number.j2", id_number=id_number, phone=phone)
            self.say("progress/without_number.j2")
            return
        digits = "".join(re.findall(r"\d+", word))
        self.say("progress/number_format.j2", short=_SHORT_NUMBER.fullmatch(self.word) is not None,
                 bundle="YJS" in word, digits=len(digits))  # how many were sent: one short or long is told so

    def _say_also(self) -> None:
        """Several case numbers sent at once (帮我查两个件：A 和 B): the first is looked at, and the
        person is told how to ask about the others, once."""
        also = self.data.pop("also", None)
        if also:
            self.say("progress/also.j2", also=also)

    def ask_factor(self):
        """Ask for the factor of the number just tried (none tried: the card's own case, which
        this person no longer has verified); a card whose case needs its factor again is gone
        from the session."""
        self._say_also()
        asked = self.data["pending"] = self._asked or self.data.get("case_no")
        self.data.pop(FORMAT_MISSES, None)
        if asked == self.data.get("case_no"):
            self.data.pop("case_no", None)
            self.data.pop("subscribed", None)
        self.ask()

    def say_counted(self):
        upload = self._upload
        self.say("progress/material_counted.j2", upload=upload, pdf=upload.media_type == "application/pdf")

    def say_upload_refused(self):
        self.say("progress/material_refused.j2", reason=self._seen[1])

    def say_locked(self):
        self.say("progress/locked.j2", minutes=max(1, -(-self._locked // 60)))
        self.ask()

    def say_wrong(self):
        self.data["pending"] = self._asked or self.data.get("pending")  # (a number typed with wrong digits beside it)
        left = int(getattr(self.services.settings, "progress_max_failures", 5)) - self._failures
        self.say("progress/wrong.j2", left=left)
        self.ask()

    def say_digits_paused(self):
        self.data["pending"] = self._asked or self.data.get("pending")
        self.say("progress/digits_paused.j2")
        self.ask()

    def say_factor_format(self):
        self.say("progress/factor_format.j2")
        # said twice and still not usable: a person may help (the same line every step has then)
        self.data[FORMAT_MISSES] = self.data.get(FORMAT_MISSES, 0) + 1
        if self.data[FORMAT_MISSES] >= 2:
            self.say("common/way_out.j2")
        self.ask()

    def say_busy(self):
        self.say("progress/busy.j2")
        self.ask()

    # 订阅 / 退订 ------------------------------------------------------------------------------------

    def asks_subscribe(self) -> bool:
        """On the card "1" subscribes too (the follow-ups list it)."""
        text = self.word
        return (text in SUBSCRIBE or (text == "1" and not self.data.get("subscribed"))
                or (SUBSCRIBE_SAID.search(text) is not None and not self.asks_unsubscribe()))

    def asks_status(self) -> bool:
        """办好了没 / 现在什么情况 on the card, said short: the card again, as it stands now."""
        return len(self.word) <= CARD_QUESTION_CHARS and STATUS_ASKED.search(self.word) is not None

    def asks_of_the_card(self) -> bool:
        """One of the card's questions (要补啥材料, 为什么不批准, 去哪领): answered as the case stands now."""
        return SEND_ASKED.search(self.word) is not None or any(p.search(self.word) for p in CARD_QUESTIONS)

    def names_subscribe(self) -> bool:
        return self.word in SUBSCRIBE

    def asks_unsubscribe(self) -> bool:
        return self.word in UNSUBSCRIBE or UNSUBSCRIBE_SAID.search(self.word) is not None

    def say_subscribed(self):
        self.data["subscribed"] = self._added.value != "full"
        self.say("progress/subscribed.j2", added=self._added.value, case_no=self.data["case_no"],
                 limit=getattr(self.services.settings, "max_subscriptions", 50))

    async def unsubscribe(self):
        case_no = self.data["case_no"]
        removed = await self._store.unsubscribe(self.user, case_no)
        self.data["subscribed"] = False
        self.say("progress/unsubscribed.j2", removed=removed, case_no=case_no)

    def open_subscriptions(self):
        self.start("subscriptions")

    def open_unsubscribe(self):
        self.start("subscriptions", mode="unsubscribe")

