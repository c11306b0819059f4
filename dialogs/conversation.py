"""One turn of a conversation: global intents, the active dialog, digressions, re-asks,
hand-overs.

Pure logic over a `Session`: no network, no Redis, no XML. Only citizens' dialogs
(`dialogs.engine.CITIZEN_DIALOGS`) are reachable from here: a session naming a staff dialog is
treated as unknown (back to the menu). The bot's dispatcher loads the
session under the user's lock, calls `Conversation.step`, and saves what it returns.

The interruption policy lives here, the same for every dialog (docs/dialogs.md has the table):
a text is, in this order,
1. a global word (菜单, 取消, 返回, 帮助, 人工, and 继续: back to a paused dialog; 中文 / English and
   长辈模式 / 标准模式, read before the turn by dialogs.language, are said and the step asked again);
2. the answer to a rating invitation, when it is a bare number and the invitation came after
   the question the person saw last (the latest prompt owns bare numbers);
3. an answer to the current step, when it holds a slot the step expects (`Dialog.EXPECTS`):
   then no global detector outranks it (a number at the ID step is no case number);
4. another intent (a shortcut word like 查进度, a case number in its real format, a rating
   word on a progress card, a question that clearly names a matter at a step asking for data):
   it pauses the current dialog on a small stack in the session and
   runs; when it ends, the bot offers 继续, which resumes the paused step with its answers;
5. anything else: the current step's (which re-asks, and after a few misses offers help); a
   name, ID or phone number it cannot use that answers a step already passed corrects that one.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from dialogs.engine import (CITIZEN_DIALOGS, GRIEVANCE_KEY, MEDIA_KINDS, MEMORY, MEMORY_KEY, Dialog, Incoming, Reply, Services, Session, hall_names,
                            now, understanding)
from dialogs.handoff import HANDOFF, MISSED_KEY, context_of
from dialogs.language import LANGUAGE
from dialogs.matters import CANDIDATES, MATTER, unnotify_asked
from dialogs.enterprise import looks_like_a_credit_code, parse_credit_code
from dialogs.menu import MENU_KEYS, OPTIONS, SHORTCUTS, option_named
from dialogs.privacy import privacy_asked
from dialogs.progress import DEFAULT_CASE_PATTERN, EIGHT_DIGITS, find_bundle_number
from dialogs.rating import invitation_answered
from dialogs.smalltalk import SmallTalk, read
from dialogs.understand import SlotKind, Understanding
from dialogs.understand.answers import without_refused
from dialogs.understand.appointments import about_my_appointments, about_this_appointment, booking_query, changes_hall
from dialogs.understand.halls import asks_about_halls
from dialogs.understand.kinds import first_clause
from dialogs.understand.vocabulary import vocabulary
from integrations.platform.identifiers import carries_personal_number, mask_id_number, mask_name, mask_phone, tells_card_number, valid_id_number

# Words that mean the same thing in every state. Matched after normalising (full-width to
# half-width, lower case, trailing punctuation dropped), against the whole message.
GLOBAL_INTENTS: dict[str, frozenset[str]] = {
    "menu": frozenset({"菜单", "主菜单", "首页", "开始", "menu", "0"}),
    "help": frozenset({"帮助", "怎么用", "使用说明", "help", "?"}),
    "cancel": frozenset({"取消", "退出", "不办了", "算了", "结束", "cancel"}),
    "back": frozenset({"返回", "上一步", "后退", "back"}),
    "human": frozenset({"人工", "人工服务", "转人工", "客服", "人工客服", "找人工"}),
    "resume": frozenset({"继续", "接着", "继续办", "接着办", "继续办理", "继续预约", "接着刚才的", "回到刚才", "resume", "continue"}),
}
_INTENT_BY_WORD = {word: intent for intent, words in GLOBAL_INTENTS.items() for word in words}
#: The understanding's global words the conversation acts on (language and 长辈模式 switch before
#: the turn, dialogs.language).
_SAID_GLOBALS = frozenset(GLOBAL_INTENTS) | {"grievance"}
#: Giving up the errand itself (不约了, 不想办了, 先不查了): never a mere no to the question on screen
#: (算了，不约了 at 下次预约时要直接使用…吗 went on to the booking's summary).
_QUITS_THE_ERRAND = re.compile(r"(?:不|先不|不想|不用)(?:预约|约|办|查|绑定?|弄|搞)了")
_LEADING_SIGH = re.compile(r"^(?:算了|哎|唉|那|那就|还是|我)+")
#: Where frustration vented is the step's own answer (a rating, why it was bad), not a digression.
_HEARS_GRIEVANCES = frozenset({"rating", HANDOFF})
BACK_KEY = "_back"
MISSES_KEY = "_misses"
MAX_HANDOVERS = 4  # a dialog may start another, which may start another; never loop forever
#: Dialogs kept paused at once: a digression from a digression is still resumable, no more.
MAX_PAUSED = 2
#: Steps one message may answer (the one it was sent to and those it fills ahead).
MAX_FILLED = 8
#: Slot kinds that are data a step may ask for; a step expecting one of them is never
#: interrupted by a case number (a long number typed at the ID step is a wrong ID, not a case).
NUMBER_KINDS = frozenset({"id_number", "phone", "case_number"})
#: The most digits a pick from a list has: a longer number at a list (a case number) is not a pick.
CHOICE_DIGITS = 3
#: Four digits in a row (any script: NFKC folds full-width ones): what a number step's answer carries.
DIGIT_RUN = re.compile(r"\d{4}")
_MASKS = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}
#: Slots a step answered earlier that a later message may correct (手机号写错了，是…): details a
#: person knows for sure. A day or a time is not among them: changing one means choosing from
#: the lists again, which 返回 does.
CORRECTABLE = frozenset({"name", "id_number", "phone"})
#: Characters a message needs before it may be a question about a matter (办护照 is three).
INITIALS_CHARS = 12  # letters the search may read as pinyin initials (sbk, shebaoka buban)
MIN_QUESTION = 4
#: Words about the dialog's own details (换个时间, 改一下日期, 手机号填错了, 时间不合适): never a
#: question about a matter, whatever the guides' search finds for them (时间 is in matter names).
ABOUT_ITS_DETAILS = re.compile(
    r"(换|改|调)(个|一个|一下|成|到|为)?(别的|其他|另外)?(的)?(时间|日期|天|时段|大厅|地方|地点|号|手机|电话|号码|名字|姓名|身份证|办事人|人)"
    r"|(时间|日期|时段|大厅|地点|手机|电话|号码|名字|姓名|身份证).{0,2}(填|写|输|打|选|弄)错"
    r"|(时间|日期|时段|大厅|地点).{0,2}(不合适|不方便|不行|来不了|去不了)")
#: Where a case stands, asked in words (我交的材料办到哪了, 不是 我是查进度, 受理号是…): the
#: progress dialog, with the case number if one was said.
PROGRESS_ASKED = re.compile(r"办到哪|到哪一步|(?:办的|交的|申请的|报的)(?:事|东西|材料|业务|手续)?(?:到哪|走到哪)|查进读|进读|到哪个环节|审到哪|批到哪|办好了没|办完了没|办下来没|批下来没|查进度|查一下进度|查下进度"
                            r"|查哈进度|查个进度|看下进度|看看进度|查询进度|办理进度|^进度$"
                            # 办完了吗 alone (it was 再见: 办完了 says one is done)
                            r"|^(?:我的?|那个|我那个)?(?:事|件|事情|东西)?(?:办|弄|批)(?:完|好|下来)了(?:吗|没有|没|么|嘛)$"
                            # someone else's (帮我爸查一下他办的事进度, 我帮我老汉儿查哈他办的那个进度)
                            r"|(?:查|看)(?:一下|一哈|哈|下)?[^，,。！!？?]{0,5}(?:办的|交的|申请的|报的)[^，,。！!？?]{0,4}进度|(?:查|看)(?:个|一下|下|看)?(?:办件|案件|申请|业务)的?进度|check (?:the |my )?(?:case'?s? |application'?s? )?progress|^progress$|case status|track my case"
                            # English: the status of one's application, and where it is
                            r"|(?:application|case|file) status|status of (?:my|the|our) (?:application|case|file)"
                            r"|where(?:'s| is) my (?:application|case|file)|track (?:my|the) application|(?:my|the) application (?:status|progress)"
                            r"|进度怎么样|进度如何|什么进度|啥进度|受理号|办件编号|办件号|进度(?:要|该)?(?:怎么|咋|如何|在哪|去哪)(?:里|儿)?(?:查|看)"
                            # the case itself named (查办件, 办件查询, 我的办件, 查件): no matter is 办件
                            r"|办件进度|查(?:一下|一哈|下|询|查)?(?:我的)?办件|办件查询|我的办件|^查件$|(?:看看|查查|查下|查一下)我的件"
                            # a case waited on, told (办了半个月了还没好, 怎么还没批下来, 到底还要等多久, 问进度)
                            r"|(?:办|交|申请|递|报)了[^，,。！!？?]{0,8}(?:还没|咋还没|怎么还没|都没)(?:好|下来|办好|办完|批|出来|消息|动静)"
                            # 上个月去大厅办的营业执照，到现在还没消息: what was handed in, then the wait
                            r"|(?:办|交|申请|递|报)(?:了|的)[^。！!？?]{0,12}?(?:还没|咋还没|怎么还没|都没|一直没)有?(?:消息|动静|通知|批下来|办下来|办好)"
                            r"|(?:怎么|咋|为啥|为什么)还没(?:办好|办完|批下来|下来|出来|审核|审批|消息|动静)|问进度|是问进度"
                            # one's own case asked after in a word (我的件办好没有, 我那个件咋样了)
                            r"|(?:办好|办完|批下来|办下来)(?:了)?没有?|(?:我的|我那个|俺的|我家的)件")
#: The words around a change of mind (不是申领 是补办): what is left is what was refused and what is wanted.
_CHANGE_WORDS = re.compile(r"^(?:算了|不对|错了|哦|噢|嗯)|[，,。.！!？?\s]|^(?:我|俺)?(?:不是|不要|不办|不用|别)|^(?:就|只|而是|是|要|办|改成|换成|改|换|我要|我想|想|还是|帮我)+|(?:了|啦|吧|的|咯)+$")


def _cases_carried(read: Understanding) -> dict:
    """What 查进度 is started with for the case numbers a message holds: the one, or with several
    (帮我查两个件：A 和 B) the first and the others to be said how to ask about; {} for none."""
    case_no = read.value("case_number")
    if case_no:
        return {"case_no": case_no}
    several = read.conflict("case_number")
    if several is None:
        return {}
    numbers = list(dict.fromkeys(slot.value for slot in several.slots))
    return {"case_no": numbers[0], "also": numbers[1:4]}


def _bare(said: str) -> str:
    """`said` without the words around a change of mind, taken off until none is left."""
    while (bare := _CHANGE_WORDS.sub("", said)) != said:
        said = bare
    return said


#: A long wait told (办了半个月了还没好, 怎么还没批下来): said sorry for before the case is looked up.
WAITED = re.compile(r"还没(?:好|下来|办好|办完|批|出来|消息|动静)|等了[^，,。]{0,4}(?:天|周|星期|礼拜|月)|到底|破系统|太慢")
#: A number at the hall asked for in a sentence (我到大厅了 怎么取号, 在哪拿号): the queue (取号).
QUEUE_ASKED = re.compile(r"(?:取|拿|领|抽|排)(?:个|一个|一下|张|一张)?号(?!码)|(?:我要|我想|怎么|咋|如何|在哪|哪里|去哪)(?:样)?排(?:个|下)?队"
                         r"|(?:到|在)(?:大厅|窗口|政务中心|服务中心)了?[^，,。]{0,6}(?:排队)")
#: What a number is asked for with it (取号办身份证, 我到大厅了，要取个号办身份证): the matter, read by the queue.
QUEUE_MATTER = re.compile(r"(?:取|拿|领|抽|排)(?:个|一个|一下|张|一张)?号(?!码)[，, ]*(?:办|弄|搞|交|领|补)?(.{2,})$")
#: Where one stands in a hall's queue, asked in a sentence (我前面还有几个人, 轮到我了没).
QUEUE_STATUS_ASKED = re.compile(r"前面(?:还有|还剩)?(?:几|多少)(?:个)?人|排到(?:哪|几号|我)|叫到我|轮到我(?:了)?(?:吗|没|了没)|还要等几个")
#: A person's own enterprise asked about in words (我想绑定我公司, 看下公司的办件, 我们单位的证照):
#: its binding, or the enterprise desk's cases or licences (shortcut words name them exactly).
ENTERPRISE_BIND_ASKED = re.compile(r"绑定?(?:一下)?(?:我的|我们的?|我|自己的?|本)?(?:公司|企业|单位|营业执照)"
                                   r"|把(?:我的|我们的?|我|自己的?|本)?(?:公司|企业|单位)[^，,。]{0,4}绑定"
                                   r"|(?:公司|企业|单位)(?:怎么|如何|要|想|能)?绑定?$"
                                   r"|(?:我们|我的|咱们?|本)(?:公司|企业|单位)(?:怎么|如何|要|想|能)?绑定(?:一下|下)?[吧呢啊]?$")
ENTERPRISE_DESK_ASKED = re.compile(r"(?:我们|我的|本|咱们?|这个|这家)(?:公司|企业|单位)[^，,。]{0,4}(?:有哪些|有什么|有几个)(?P<what>在办的|办件|件)"
                                   # 我们的证照有快到期的吗, 公司的许可证什么时候到期: its licences and their validity
                                   r"|(?:我们|我们公司|公司|企业|单位|我们单位)的?(?P<what3>证照|许可证|证)[^，,。]{0,6}(?:到期|过期|有效期)"
                                   r"|(?:公司|企业|单位)的?(?:所有的?)?(?P<what2>办件|案件|申请|件|证照|许可证|执照)"
                                   r"(?:办到哪|到哪|进度|情况|都|有哪些|列表|怎么查|怎么看|在哪[查看]|$)")
#: One's own enterprise's yearly report asked after (年报报了没, 我们公司今年的年报交了吗): the desk
#: says whether it is filed. How to file one, asked by anyone (企业年报怎么报), is the search's.
ANNUAL_REPORT_ASKED = re.compile(r"年报(?:已经)?(?:报|交|填|提交|弄)(?:了|好)?(?:没|吗|没有|了没|么|不)"
                                 r"|(?:我们|我的|本|咱们?)(?:公司|企业|单位|店)的?(?:今年|去年|\d{4}年)?的?年报(?:$|状态|情况|怎么样)"
                                 r"|(?:查|看)(?:一下|下)?(?:我们|我的|本|咱们?)?(?:公司|企业|单位)?的?年报(?:状态|情况)?$")
#: Typed after a conversation lapsed, this many characters or fewer answered its last question
#: (1, 是的, 不用了) rather than ask a new one.
ANSWER_CHARS = 3
log = logging.getLogger(__name__)


def _enterprise_asked(word: str) -> tuple[str, dict] | None:
    """The enterprise dialog a message about one's own company asks for, in words; None for a
    matter's question (公司怎么注销), a number (a case's: 查进度 reads it) or an unbinding."""
    if "解绑" in word or "解除" in word or EIGHT_DIGITS.match(word) is not None or len(word) > 48:
        return None
    if ENTERPRISE_BIND_ASKED.search(word):
        return "enterprise", {}  # 您好，我是公司行政，想把我们公司绑定一下: a letter may say it too
    if len(word) > 24:
        return None
    if ANNUAL_REPORT_ASKED.search(word):
        return "enterprise_desk", {"action": "annual"}  # 今年年报报了吗: the enterprise's own, filed or not
    desk = ENTERPRISE_DESK_ASKED.search(word)
    what = desk and (desk["what"] or desk["what2"] or ("证照" if desk["what3"] else None))
    if desk is not None and (what != "件" or desk["what"] or any(w in word for w in ("看", "查", "到哪", "进度"))):
        return "enterprise_desk", {"action": "licences" if what in ("证照", "许可证", "执照") else "cases"}
    return None


#: Dialogs that never ask for an ID, mobile, card or passport number: one pasted into a message
#: read by them (before and after) is told it was not needed (booking, progress, policies, the
#: desk and the rest ask).
NUMBERS_NOT_ASKED = frozenset({"matters", "menu", "halls", "bundles"})
NUMBERS_NOTED = "numbers_noted"  # in the conversation's memory: the note was given
#: A death in the family told (我爸上周走了, 老伴去世了要办什么): condolences before the matters, once.
BEREAVED = re.compile(r"(?:爸|妈|父亲|母亲|老伴|老公|丈夫|妻子|老婆|爱人|爷爷|奶奶|外公|外婆|姥姥|姥爷|公公|婆婆|岳父|岳母|儿子|女儿|"
                      r"家人|亲人|家里老人|老人|哥|姐|弟|妹)[^，,。！!？?]{0,5}(?:去世|过世|病逝|离世|逝世|不在了|走了|没了|过身|仙逝)(?!多)")
CONDOLED = "condoled"  # in the conversation's memory: condolences were said
#: Thoughts of ending one's life (我不想活了, 活着没意思, 想自杀): met with care and a helpline every
#: time, never with 没找到 or a list of matters. 想死你了 and 笑死 are not.
SELF_HARM = re.compile(r"不想活|活不下去|活着(?:真|还)?(?:没|有什么)(?:意思|意义|劲)|(?:想|准备|打算)(?:去)?死(?![你您])"
                       r"|(?:想|要|准备|打算)(?:去)?(?:自杀|跳楼|跳河|割腕|轻生|寻死)"
                       r"|自杀|轻生|寻短见|结束(?:自己的?)?生命|了结自己|不如死了")
#: Violence at home told (老公打我, 被家暴了, 他威胁要杀我): where to get safe first (110, 12338, a
#: protection order), once a conversation, then whatever else was asked (the divorce).
ABUSED = re.compile(r"家暴|家庭暴力|虐待我|人身安全保护令"
                    r"|(?:老公|丈夫|老婆|妻子|媳妇|男人|对象|男朋友|女朋友|前夫|前妻|公公|婆婆|儿子|女儿|继父|后爸|后妈|家里人|他|她)"
                    r"[^，,。！!？?]{0,4}(?:打我|打了我|揍我|动手打|殴打|打伤|威胁(?:要)?(?:杀|弄死)|掐我|踢我)"
                    r"(?![^，,。]{0,4}(?:电话|手机|号码|微信|视频))"
                    r"|被(?:老公|丈夫|老婆|媳妇|男人|对象|男朋友|前夫|家里人|家人|继父|后爸|儿子)[^，,。！!？?]{0,2}(?:打|殴打|虐待|揍|威胁)")
#: A call or text that is a scam told (电话说我医保卡被冻结 要我转账, 让我把钱转到安全账户, 冒充公安, 让我开
#: 屏幕共享, someone pretending to be the police): a warning and 110 / 96110, never the cards its
#: words name (医保卡, 快递). Every time it is told (shorter the second time); the step stays.
SCAM = re.compile(r"安全账户|屏幕共享|共享屏幕|涉嫌洗钱|冒充(?:公安|警察|民警|公检法|法院|检察院|客服|领导|医保|社保|银行|快递|老师|政府)"
                  r"|(?:让|要|叫|逼)我[^，,。！!？?]{0,8}(?:转账|转钱|汇款|打钱|把钱转|下载(?:一个|个)?(?:app|APP|软件|应用)"
                  r"|(?:告诉|说|报|发)[^，,。]{0,3}验证码|点(?:开)?(?:这个|那个)?链接|开(?:启)?屏幕)"
                  r"|(?:电话|短信|来电|有人|自称|陌生人|客服)[^。！!？?]{0,20}(?:是不是|是)(?:诈骗|骗子|骗人|骗局)"
                  r"|(?:短信|电话|来电|微信)[^。！!？?]{0,20}(?:点(?:开)?|发(?:来|了)?(?:一个|个)?)链接"
                  r"|(?:电话|短信|来电)[^。！!？?]{0,24}(?:诈骗|骗子|骗人|骗局)"
                  r"|\bscam|\bfraud|pretend(?:ed|ing|s)? to be|safe account|screen[ -]?shar|transfer(?:red)? (?:the )?money to (?:a|an|their)")
SCAM_WARNED = "scam_warned"  # in the conversation's memory: the warning was given
SAFETY_SAID = "safety_said"  # in the conversation's memory: where to get safe was said
CRISIS_SAID = "crisis_said"  # ... and the helpline, to someone thinking of ending their life
#: Distress said after one of those (没人在乎我, 我不知道该怎么办, 我怕他知道): the same care again,
#: never 没找到 or a matter's card.
DISTRESSED = re.compile(r"没人(?:在乎|管|关心|理)我|不知道(?:该)?怎么办|受不了|撑不下去|好累|太累了|绝望|崩溃|痛苦|想哭|好难受|害怕|怕他|怕她"
                        r"|他会(?:打|杀)|不敢回家|没地方去|孤单|没意思")
DISTRESS_CHARS = 20  # longer messages ask something of their own
#: A need beside the violence told (我想离婚, 怎么申请保护令, 要办什么手续).
_ASKS_SOMETHING = re.compile(r"离婚|办|手续|申请|登记|怎么|如何|哪里|能不能|可以|吗|么|\?|？")


class Conversation:
    """Applies one `Incoming` to one `Session`; stateless itself, so one serves all users."""

    def __init__(self, services: Services):
        self.services = services
        self.talk = SmallTalk(services)

    async def step(self, session: Session | None, incoming: Incoming, expired: bool = False) -> tuple[Session | None, list[Reply]]:
        """Returns the session to save (None: forget it) and the replies, in order."""
        # What the person told earlier (`Dialog.remember`) is out of the dialog's data during the
        # turn, so whichever dialog ends up in the session gets it back.
        memory = None
        if session is not None and MEMORY_KEY in session.data:  # a copy: the caller's session stays as it was
            data = dict(session.data)
            memory = data.pop(MEMORY_KEY)
            session = Session(session.dialog, session.state, data, session.updated_at, session.paused)
        if expired:
            memory = None
        token = MEMORY.set(dict(memory) if isinstance(memory, dict) else {})
        try:
            after, replies = await self._step(session, incoming, expired)
            kept = MEMORY.get()
        finally:
            MEMORY.reset(token)
        if (replies and incoming.kind == "text" and (session is None or session.dialog in NUMBERS_NOT_ASKED)
                and (after is None or after.dialog in NUMBERS_NOT_ASKED) and not kept.get(NUMBERS_NOTED)
                and carries_personal_number(incoming.text)):
            # 你好，我叫…，身份证5116…，电话139…，养老金怎么还没到账: the answer quotes them masked and the
            # session keeps them masked; the person is told so (once a conversation), and not to send
            # them where none is asked.
            self._say(replies, "common/personal_numbers.j2")
            kept[NUMBERS_NOTED] = True
        if (replies and incoming.kind == "text" and (after is None or after.dialog in NUMBERS_NOT_ASKED)
                and not kept.get(CONDOLED) and BEREAVED.search(incoming.text)):
            # 我爸上周走了，要办哪些手续: a word of sympathy first (once a conversation), then the matters
            self._say(replies, "common/condolence.j2")
            replies.insert(0, replies.pop())
            kept[CONDOLED] = True
        if after is not None and kept:
            after.data[MEMORY_KEY] = kept
        return after, replies

    async def _step(self, session: Session | None, incoming: Incoming, expired: bool) -> tuple[Session | None, list[Reply]]:
        replies: list[Reply] = []
        if incoming.heard:  # a voice message, recognised: say what was understood, then treat it as typed
            self._say(replies, "common/heard.j2", text=incoming.text)
        kind = incoming.kind
        if kind != "text" or expired:  # a text in a live session (most messages) skips these
            if kind == "unsubscribe":
                return None, replies
            if kind in ("view", "notice"):  # a menu link opened, or an event that needs no answer
                return session, replies
            if kind in ("subscribe", "scan"):
                session = await self._enter("menu", {}, incoming, replies, greet="common/welcome.j2")
                return self._stamp(session), replies
            if expired:
                self._say(replies, "common/expired.j2")
                route = await self._route(Session(), incoming, incoming.word) if kind == "text" else None
                if route is None and kind == "text" and len(incoming.word) > ANSWER_CHARS:
                    session = Session()  # a new question (儿子能替我去办吗) is answered as at the menu
                else:  # an answer to the question that lapsed (1, 是的): the menu
                    session = await self._enter(*(route or ("menu", {})), incoming, replies)
                    return self._stamp(session), replies

        if session is None or (cls := CITIZEN_DIALOGS.get(session.dialog)) is None:
            session = Session()
            cls = CITIZEN_DIALOGS[session.dialog]
        if session.state in cls.CAPTURES:
            # English (#20 item 9): 中文 / English alone switched the language (dialogs.language);
            # it is said and the talk goes on, nothing is relayed to the person at the other end.
            if kind == "text" and LANGUAGE.get().switched:
                return self._stamp(await self._global("language", session, incoming, replies)), replies
            if kind == "text" and LANGUAGE.get().mode_switched:  # 长辈模式 / 标准模式 likewise
                return self._stamp(await self._global("mode", session, incoming, replies)), replies
            # End English.
            # Talking to (or waiting for) a person: every word is for them, global words too.
            after = self._keep_paused(session, await self._dialog_turn(session, incoming, replies, cls))
            if after is not None:
                self._offer_resume(after, replies)  # the queue left (取消): 继续 the booking it interrupted
            return self._stamp(after), replies

        kept = MEMORY.get()
        if kind == "text" and (SELF_HARM.search(incoming.text) or (kept.get(CRISIS_SAID) and len(incoming.text) <= DISTRESS_CHARS
                                                                   and DISTRESSED.search(incoming.text))):
            # 我不想活了, then 没人在乎我: care and a helpline, whatever the step; the step stays
            self._say(replies, "common/crisis.j2", again=bool(kept.get(CRISIS_SAID)))
            kept[CRISIS_SAID] = True
            return self._stamp(session), replies
        if kind == "text" and SCAM.search(incoming.text):
            # 有人说我涉嫌洗钱 让我把钱转到安全账户: a warning and where to report it, not 征信's place
            self._say(replies, "common/scam.j2", again=bool(kept.get(SCAM_WARNED)))
            kept[SCAM_WARNED] = True
            return self._stamp(session), replies
        if (kind == "text" and kept.get(SAFETY_SAID) and len(incoming.text) <= DISTRESS_CHARS and DISTRESSED.search(incoming.text)
                and not ABUSED.search(incoming.text)):
            # 我怕他知道 / 我不知道该怎么办 after violence at home was told: where to get safe, again
            self._say(replies, "common/safety.j2", again=True)
            return self._stamp(session), replies
        if kind == "text" and ABUSED.search(incoming.text) and not kept.get(SAFETY_SAID):
            # 老公打我，我想离婚: getting safe comes first (once a conversation), then the divorce;
            # 他天天喝酒打我 我受不了了 asks nothing else: no matter's card after it
            self._say(replies, "common/safety.j2")
            kept[SAFETY_SAID] = True
            if not _ASKS_SOMETHING.search(incoming.text):
                return self._stamp(session), replies
        if kind == "text":
            word = incoming.word  # once per message: global words and routes match it
            if (session.paused and not self._step_uses(session, cls, incoming, word)
                    and (resumed := self._claimed_by_paused(session, cls, incoming)) is not None):
                # 确认 at a list of matters asked about meanwhile: the booking paused at its summary
                # is what it confirms (it was answered 好的 and nothing was booked).
                session, cls = resumed, CITIZEN_DIALOGS[resumed.dialog]
                self._say(replies, "common/resumed.j2", title=cls.title)
                blind = _blind_answer(session, word)
                if _INTENT_BY_WORD.get(word) == "resume" or blind:
                    # 继续 itself: resumed just now, said once. A bare 否 / 2 after 人工 and its rating
                    # answers a question no longer on screen: it is asked again (the base prompt: a
                    # questionnaire's own `ask` would take the message as its answer), not answered blind.
                    if not session.at_rest:
                        model = self._model(session, incoming, replies)
                        Dialog.ask(model) if blind else model.ask()
                    session.updated_at = now()
                    return session, replies
            intent = _INTENT_BY_WORD.get(word)
            if intent == "cancel" and _answers_cancel(cls, session.state, word):
                intent = None  # 取消 answers this step (我的预约: cancel this appointment)
            # English (#20 item 9): 中文 / English switched the language before the turn (dialogs.language).
            if intent is None and LANGUAGE.get().switched:
                intent = "language"
            # End English.
            # 长辈模式 / 标准模式 switched the mode before the turn (dialogs.language): said, and the question asked again.
            if intent is None and LANGUAGE.get().mode_switched:
                intent = "mode"
            reading = None
            if intent is None:
                reading = read(incoming)  # once: global words in other words, the rating, small talk and junk
                intent = self._said_global(session, cls, incoming, word, reading)
            route = None
            if intent in (None, "cancel") and await self._changes_their_appointment(session, incoming, word):
                # 还是取消吧, 改到周三 at rest: their appointment; 换到区政务服务中心去办: how a hall is changed
                intent, route = None, ("appointments", {"hall_change": True} if changes_hall(word) else {})
            if intent == "grievance" and (route := await self._route(session, incoming, word, cls, reading)) is not None:
                if route[0] == "matters":
                    route = None  # the words of a grievance searched (破系统: 税控系统): sorry instead
                else:  # 破系统！！我的驾驶证换证办了半个月了还没好: where it stands (sorry said there)
                    intent = None
            if intent is not None:
                after = await self._global(intent, session, incoming, replies)
            else:
                route = route or await self._route(session, incoming, word, cls, reading)
                if route is not None:
                    after = await self._digress(session, route, incoming, replies)
                else:  # small talk, junk, or the step's; turns it could not use are counted (dialogs.smalltalk)
                    after = await self.talk.turn(session, incoming, reading, replies, cls, self._dialog_turn)
            if intent != "resume":
                after = self._keep_paused(session, after)
            self._offer_resume(after, replies)
            after.updated_at = now()  # `_stamp`: never None here
            return after, replies

        intent = None
        if kind == "click":
            intent = MENU_KEYS.get(incoming.text)
            if intent is None:  # a menu button leaves whatever was in progress
                session = Session(paused=session.paused)
                cls = CITIZEN_DIALOGS[session.dialog]
        if intent is not None:
            after = await self._global(intent, session, incoming, replies)
        else:
            after = await self._dialog_turn(session, incoming, replies, cls)
        return self._stamp(self._keep_paused(session, after)), replies

    def _said_global(self, session: Session, cls: type[Dialog], incoming: Incoming, word: str, reading: Understanding) -> str | None:
        """A global word said in other words (config/understanding.toml: 请帮我转人工吧, 算了，不约了),
        unless the dialog claims the word or the step can use the message as its answer; and a
        plain no (不用了，谢谢) to a step that asks no yes / no question and lists nothing to pick
        (there 不是 is about the list: 都不是): the person is leaving it."""
        intent = reading.global_word
        expects = cls.EXPECTS.get(session.state, frozenset())
        if (intent is None and not session.at_rest and session.state not in cls.DONE
                and _QUITS_THE_ERRAND.fullmatch(_LEADING_SIGH.sub("", first_clause(word))) and not cls.claims(session.state, incoming.text)
                and not self._answers(incoming, expects)):
            return "cancel"  # 不想约了 孩子生病了 改天再说: the errand given up, with its reason
        if intent is None:
            if (not session.at_rest and session.state not in cls.DONE and not expects & {"yes_no", "choice"}
                    and reading.value(SlotKind.YES_NO) is False):
                return "cancel"
            return None
        if (intent == "cancel" and _QUITS_THE_ERRAND.search(word) and cls.CANCEL_ANSWERS.get(session.state) != ""
                and word not in cls.OWN_WORDS and not cls.claims(session.state, incoming.text)):
            return intent  # 算了，不约了 at 下次预约时要直接使用…吗: the booking given up, not a no to being remembered
        if intent == "cancel" and _answers_cancel(cls, session.state, word):
            return None
        if intent not in _SAID_GLOBALS or word in cls.OWN_WORDS or (expects and self._answers(incoming, expects)):
            return None
        if intent == "grievance" and (session.dialog in _HEARS_GRIEVANCES or session.state in cls.KEEPS_TEXT
                                      or reading.value(SlotKind.RATING) is not None):
            return None  # 窗口态度太差了 差评: the rating's (and why it was bad, there)
        return intent

    async def _changes_their_appointment(self, session: Session, incoming: Incoming, word: str) -> bool:
        """At rest (or waiting for anything new), moving or cancelling said without naming an
        appointment (还是取消吧, 周一去不了 能改到周三吗) by someone who has one: 我的预约 acts on it
        (with its confirmation). Asked of Redis only for messages with such words."""
        cls = CITIZEN_DIALOGS.get(session.dialog)
        # the menu on screen, a card, or 请说说您想办什么事 after a miss wait for anything new, as at rest
        open_to_anything = (session.at_rest or session.dialog == "menu" or (cls is not None and session.state in cls.DONE)
                            or (session.dialog == "matters" and session.state == "asking"))
        if not open_to_anything or not about_this_appointment(word) or _INTENT_BY_WORD.get(word) == "cancel":
            return False  # 取消 / 算了 alone leaves whatever was going on: it cancels no appointment
        bookings = getattr(self.services, "bookings", None)
        try:
            return bookings is not None and await bookings.has_upcoming(incoming.user)
        except Exception:  # noqa: BLE001  (not knowing leaves the message to the usual routes)
            log.warning("could not tell whether a person has appointments", exc_info=True)
            return False

    async def _route(self, session: Session, incoming: Incoming, word: str, cls: type[Dialog] | None = None,
                     reading: Understanding | None = None) -> tuple[str, dict] | None:
        """Where a text goes other than to the current step (None: to the step). `word` is the
        text normalised, `reading` the message read with a rating expected (dialogs.smalltalk's
        `read`). Steps 2-4 of the policy (see the module's docstring)."""
        cls = cls or CITIZEN_DIALOGS[session.dialog]
        if word in cls.OWN_WORDS:
            return None
        if session.dialog != "rating":
            # A rating invitation's answer (dialogs.rating: a bare number only when the
            # invitation came after the question the person saw last; its own words anywhere).
            route = await invitation_answered(self.services, session, incoming, reading or read(incoming))
            if route is not None:
                return route
        expects = cls.EXPECTS.get(session.state, frozenset())
        if (session.dialog == "booking" and expects and not word.isdigit() and (query := booking_query(incoming.text))
                and not cls.claims(session.state, incoming.text) and await self._books_another_matter(session, query)):
            # 约下周一上午办护照 at another booking's days: the passport's booking, not that day for this one
            return "booking", {"query": query}
        if self._step_uses(session, cls, incoming, word):
            return None  # an item of the list on screen (the commonest answer: no need to read it)
        if cls.claims(session.state, incoming.text):
            return None  # 那个预约取消掉, 改到周四 at an appointment: the step's
        route = self._opens(session.dialog, incoming, word, expects)
        if (route is None and session.dialog not in ("enterprise", "enterprise_desk") and not expects and len(word) == 18
                and not valid_id_number(word.upper()) and (code := parse_credit_code(incoming.text)) is not None):
            route = "enterprise", {"carried": code}  # a credit code alone (it was searched as a matter): the binding
        if route is None and session.state == cls.machine.initial and session.state in cls.FREE_TEXT:
            # A menu option's name typed where a dialog first asks what the person wants (预约 at
            # 请说说您想办什么事): that option, not a search for its name.
            option = option_named(word)
            if option is not None and option.dialog not in (None, session.dialog):
                route = option.dialog, {}
        if (route is None and session.dialog not in ("halls", "matters", "menu") and session.state not in cls.KEEPS_TEXT
                and self._asks_about_halls(incoming)):
            # 大厅几点开门 mid-booking: answered, the booking waits; never at a step any text answers
            # (差评's reason: 窗口的人态度很差…电话也没人接 is the complaint, not a question about halls)
            route = "halls", {"query": incoming.text}
        if (route is None and expects and session.state not in cls.FREE_TEXT and session.dialog not in ("matters", "halls")
                and (query := booking_query(incoming.text)) and await self._names_a_matter(query)):
            route = "booking", {"query": query}  # 再帮我约个办护照的 mid-dialog: that booking (a half-made one gives way)
        if (route is None and session.dialog == "booking" and session.state not in cls.FREE_TEXT
                and (wanted := without_refused(incoming.text)) != incoming.text):
            wanted = self._instead_of(session, incoming.text, wanted)
            if await self._names_a_matter(wanted):
                route = "booking", {"query": wanted}  # 算了不办护照了 就社保卡 mid-booking: that one booked instead
        if (route is None and (expects or session.state in cls.SEARCHED) and session.state not in cls.FREE_TEXT
                and await self._asks_about_a_matter(incoming, expects)):
            route = "matters", {"query": incoming.text}
        if (route is None and reading is not None and reading.kind == "junk" and (session.at_rest or session.dialog == "matters")
                and await self._initials_name_a_matter(incoming)):
            route = "matters", {"query": incoming.text}
        return route

    def _instead_of(self, session: Session, text: str, wanted: str) -> str:
        """What a change of mind asks for, read against the matter being booked: 不是申领 是补办
        while booking 社会保障卡申领 asks for 社会保障卡补办 (补办 alone names any card's)."""
        code = session.data.get("code")
        summary = self.services.catalog.summary(code) if code and self.services.catalog is not None else None
        refused, instead = _bare(text[:len(text) - len(wanted)]), _bare(wanted)
        # only the act a name ends with (申领, 签发): 不办护照了 就社保卡 refuses the thing itself
        if summary is None or len(refused) < 2 or not instead or not summary.name.endswith(refused):
            return wanted
        return summary.name[:-len(refused)] + instead

    def _asks_about_halls(self, incoming: Incoming) -> bool:
        """Where a service hall is or when it opens (大厅几点开门, 明天开门吗), asked in another
        dialog at a step the message does not answer: the halls answer it (at rest the matters
        dialog reads such questions, a matter named first: 办护照在哪个大厅 is the passport's card)."""
        catalog = self.services.catalog
        return catalog is not None and catalog.ready.is_set() and asks_about_halls(incoming.text, hall_names(catalog))

    async def _initials_name_a_matter(self, incoming: Incoming) -> bool:
        """A few Latin letters read as junk that the search reads as a matter's pinyin initials
        (sbk, jzz, yyzz): searched, not answered 没看懂. Only a short run of letters gets here."""
        text = incoming.text.strip()
        if not (0 < len(text) <= INITIALS_CHARS and text.isascii() and text.replace(" ", "").isalpha()):
            return False
        return await self._names_a_matter(text)

    async def _asks_about_a_matter(self, incoming: Incoming, expects: frozenset[str]) -> bool:
        """A question that clearly names a matter (开个店需要办什么), typed at a step that asks for
        data: a need of its own, not a wrong answer. Only messages the step cannot use get here,
        so the search runs rarely."""
        catalog = self.services.catalog
        if expects & NUMBER_KINDS and DIGIT_RUN.search(incoming.text):
            return False  # digits at a step asking for a number are an answer, right or wrong (尾号是0817)
        understood = understanding(incoming, self.services, expects)
        if (catalog is None or not catalog.ready.is_set() or understood.kind != "other" or understood.slots
                or len(understood.text) < MIN_QUESTION or not any("\u4e00" <= ch <= "\u9fff" for ch in understood.text)
                or ABOUT_ITS_DETAILS.search(understood.text)):
            return False
        return await self._names_a_matter(incoming.text.strip())

    async def _books_another_matter(self, session: Session, query: str) -> bool:
        """Whether a booking wish said mid-booking names a matter clearly, and not the one booked."""
        if not any("\u4e00" <= ch <= "\u9fff" for ch in query):
            return False
        found = await self._search_one(query)
        booked = session.data.get("bundle") or session.data.get("code")
        return found is not None and found.verdict in (MATTER, CANDIDATES) and bool(found.hits) and found.hits[0].code != booked

    async def _names_a_matter(self, text: str) -> bool:
        """Whether the search finds a matter (or candidates) for `text`: a need of its own."""
        found = await self._search_one(text)
        return found is not None and found.verdict in (MATTER, CANDIDATES)

    async def _search_one(self, text: str):
        """The search's verdict on `text` (its best hit), or None while the catalog loads or when
        the search fails: the message is then left to the step or to small talk."""
        catalog = self.services.catalog
        if catalog is None or not catalog.ready.is_set():
            return None
        try:
            return await catalog.find(text, top=1)
        except Exception:  # noqa: BLE001
            log.warning("the search failed on a message typed to the bot", exc_info=True)
            return None

    def _answers(self, incoming: Incoming, expects: frozenset[str]) -> bool:
        """Whether the message holds a slot the current step expects (or a value of such a kind
        that needs explaining, a mistyped ID number), or two of them that disagree."""
        understood = understanding(incoming, self.services, expects)
        return any(kind in understood or understood.found(kind) for kind in expects)

    def _opens(self, dialog: str, incoming: Incoming, word: str, expects: frozenset[str] = frozenset()) -> tuple[str, dict] | None:
        """A shortcut word, or a case number in its real format (outside the progress dialog,
        which reads its own, and never where the step asks for an ID, a phone or a case number)."""
        shortcut = SHORTCUTS.get(word)
        if shortcut is not None:
            return shortcut[0], dict(shortcut[1])
        if dialog != "enterprise" and "绑定" in word and "解绑" not in word:
            if code := parse_credit_code(incoming.text):
                return "enterprise", {"carried": code}  # 帮我绑定企业 9151…: the binding, with its code taken
            if looks_like_a_credit_code(incoming.text):
                return "enterprise", {"malformed": True}  # the same with the code mistyped: the binding says so
        if dialog != "enterprise" and not (expects & NUMBER_KINDS) and (asked := _enterprise_asked(word)):
            return asked  # at the desk too: 我们单位的证照 typed at its cases is its licences, not a search
        # (at a step asking for a number, one typed with these words is its answer: 查进度 alone is not)
        if (dialog not in ("progress", "enterprise_desk") and not (expects & NUMBER_KINDS and any(ch.isdigit() for ch in word))
                and PROGRESS_ASKED.search(word)):
            carry = _cases_carried(understanding(incoming, self.services, expects))
            if WAITED.search(word):
                carry["waited"] = True  # 办了半个月了还没好: sorry for the wait, first
            return "progress", carry  # 办到哪了, 我是查进度
        if dialog not in ("queue", HANDOFF) and QUEUE_ASKED.search(word):
            # 我到大厅了 怎么取号 / 拿个号: a number, with the appointment's when there is one; 取号办身份证: for that
            wanted = QUEUE_MATTER.search(word)
            return "queue", {"query": wanted[1]} if wanted else {}
        if dialog not in ("queue", HANDOFF) and QUEUE_STATUS_ASKED.search(word):
            return "queue", {"mode": "status"}  # 我前面还有几个人: the hall's queue (人工's own queue answers there)
        if dialog != "appointments" and about_my_appointments(incoming.text):
            return "appointments", {}  # 我想改一下预约的时间: theirs, not a new booking or a search
        if unnotify_asked(word) and dialog != "matters":
            return "subscriptions", {"mode": "notices_off"}  # 取消通知, as a card's notice promised, from anywhere
        if not (expects & NUMBER_KINDS) and (privacy := privacy_asked(word)):
            return "privacy", {"mode": privacy}  # 删除我的信息 / 会存我的身份证吗: what is kept, deleted when asked
        # Under the default pattern a case number needs eight ASCII digits, and `word` has those
        # of the folded text (normalising neither adds nor drops any): most messages stop here.
        if dialog != "progress" and not (expects & NUMBER_KINDS):
            if "yjs" in word and (bundle_no := find_bundle_number(word)):  # a 一件事 application's number
                return "progress", {"case_no": bundle_no}
            settings = self.services.settings
            if ((EIGHT_DIGITS.match(word) is not None
                    or (getattr(settings, "case_number_pattern", None) or DEFAULT_CASE_PATTERN) != DEFAULT_CASE_PATTERN)
                    and not tells_card_number(incoming.text)):  # 银行卡6222… is a bank's, never a case's
                carried = _cases_carried(understanding(incoming, self.services, expects))
                if carried:
                    return "progress", carried
        return None

    # Digressions ------------------------------------------------------------------------

    async def _digress(self, session: Session, route: tuple[str, dict], incoming: Incoming, replies: list[Reply]) -> Session:
        """Run another dialog; the current one, if it was asking something, waits on the stack."""
        paused = list(session.paused)
        cls = CITIZEN_DIALOGS[session.dialog]
        if (not session.at_rest and session.dialog not in ("menu", route[0]) and session.state not in cls.DONE
                and session.state not in cls.NOT_RESUMED):
            paused = _paused_with(session)
        after = await self._enter(*route, incoming, replies)
        after.paused = paused
        return after

    def _keep_paused(self, before: Session, after: Session | None) -> Session | None:
        """The paused dialogs outlive every turn of the session (a new Session carries none),
        except one the person has started afresh meanwhile (a new booking replaces the old)."""
        if after is not None and not after.paused and before.paused:
            after.paused = [entry for entry in before.paused if entry.get("dialog") != after.dialog or after.dialog == before.dialog]
        return after

    def _offer_resume(self, session: Session, replies: list[Reply]) -> None:
        """Once the digression has ended (back at the menu, or a card shown), offer 继续 once."""
        if not session.paused or session.paused[-1].get("offered") or session.dialog == HANDOFF:
            return  # while a person is awaited or talking, 继续 waits until the hand-off ends
        cls = CITIZEN_DIALOGS.get(session.dialog)
        if session.dialog == "menu" or cls is None or session.state in cls.DONE:
            top = session.paused[-1]
            paused_cls = CITIZEN_DIALOGS.get(top["dialog"])
            top["offered"] = True
            self._say(replies, "common/resume_offer.j2", title=paused_cls.title if paused_cls else "")

    def _step_uses(self, session: Session, cls: type[Dialog], incoming: Incoming, word: str) -> bool:
        """Whether the message holds what the current step expects: a pick from its list, a slot."""
        expects = cls.EXPECTS.get(session.state, frozenset())
        return bool(expects) and ((word.isdigit() and len(word) <= CHOICE_DIGITS and "choice" in expects) or self._answers(incoming, expects))

    @staticmethod
    def _claimed_by_paused(session: Session, cls: type[Dialog], incoming: Incoming) -> Session | None:
        """The latest paused dialog, resumed, when only its step claims this message (`claims`:
        a confirmation at a booking's summary) and the current step does not."""
        top = session.paused[-1]
        paused_cls = CITIZEN_DIALOGS.get(top.get("dialog"))
        state = top.get("state")
        if (paused_cls is None or state not in paused_cls.machine.states or paused_cls is cls
                or cls.claims(session.state, incoming.text) or not paused_cls.claims(state, incoming.text)):
            return None
        return Session(top["dialog"], state, dict(top.get("data") or {}), paused=session.paused[:-1])

    async def _resume(self, session: Session, incoming: Incoming, replies: list[Reply]) -> Session:
        """继续: back to the latest paused dialog, at the step it was paused on, with its answers."""
        paused = list(session.paused)
        while paused:
            top = paused.pop()
            cls = CITIZEN_DIALOGS.get(top.get("dialog"))
            if cls is not None and top.get("state") in cls.machine.states:
                resumed = Session(top["dialog"], top["state"], dict(top.get("data") or {}), paused=paused)
                self._say(replies, "common/resumed.j2", title=cls.title)
                self._model(resumed, incoming, replies).ask()
                return resumed
        session.paused = []
        current = CITIZEN_DIALOGS.get(session.dialog)
        if (session.at_rest or session.dialog == "menu") and "约" in incoming.word:
            # 之前约的那个呢 with no booking left half-made: the appointments made
            return await self._enter("appointments", {}, incoming, replies)
        if session.at_rest or session.dialog == "menu" or current is None or session.state in current.DONE:
            self._say(replies, "common/nothing_to_resume.j2", in_dialog=not session.at_rest)
        else:  # 拜拜 mid-booking, then 继续: the dialog never stopped; it goes on where it is
            self._say(replies, "common/resumed.j2", title=CITIZEN_DIALOGS[session.dialog].title)
        if not session.at_rest:
            self._model(session, incoming, replies).ask()
        return session

    # Global intents ---------------------------------------------------------------------

    async def _global(self, intent: str, session: Session, incoming: Incoming, replies: list[Reply]) -> Session:
        if intent == "resume":
            return await self._resume(session, incoming, replies)
        if intent == "menu":
            return await self._enter("menu", {}, incoming, replies)
        if intent == "cancel":
            if session.at_rest:
                return await self._enter("menu", {}, incoming, replies)
            left = CITIZEN_DIALOGS[session.dialog]
            # A half-made booking given up (算了 不约了) can be taken up again (哎 还是约吧):
            # kept as paused, and 继续 offered here, once.
            kept = left.KEPT_WHEN_CANCELLED and session.state not in left.DONE
            self._say(replies, "common/cancelled.j2", title=left.title, unchanged=left.LEAVING_CHANGES_NOTHING, kept=kept,
                      looking=left.JUST_LOOKING)
            after = await self._enter("menu", {}, incoming, replies)
            if kept:
                after.paused = _paused_with(session, offered=True)
            return after
        if intent == "grievance":
            # 你们这什么破系统 我跑了三趟了: sorry, and a person offered; what was said goes to the
            # agent if 人工 follows (dialogs.handoff.context_of), so it need not be said again.
            pending = not session.at_rest and session.state not in CITIZEN_DIALOGS[session.dialog].DONE
            session.data[GRIEVANCE_KEY] = incoming.text[:200]
            self._say(replies, "common/grievance.j2", in_dialog=pending)
            if pending:
                self._model(session, incoming, replies).ask()
            return session
        if intent == "help":
            self._say(replies, "common/help.j2", in_dialog=not session.at_rest, options=OPTIONS)
            self._model(session, incoming, replies).ask()
            return session
        # English (#20 item 9): say which language it is now, and ask the current question again in it.
        if intent == "language":
            self._say(replies, "common/language.j2", elder_off=LANGUAGE.get().mode_switched)
            self._model(session, incoming, replies).ask()
            return session
        # End English.
        if intent == "mode":
            self._say(replies, "common/mode.j2", elder=LANGUAGE.get().elder, kept=LANGUAGE.get().mode_kept)
            self._model(session, incoming, replies).ask()
            return session
        if intent == "back":
            turn = self._model(session, incoming, replies)
            if turn.step_back():
                history = turn.data.get(BACK_KEY)
                if history and history[-1] == turn.state:
                    history.pop()  # that step, reached by the dialog itself, is not 返回 away a second time
                if turn.switch_to is not None:  # back to the dialog this one was opened from
                    return await self._follow(turn, Session(session.dialog, turn.state, turn.data), incoming, replies)
                turn.ask()
                return Session(session.dialog, turn.state, turn.data)
            history = session.data.get(BACK_KEY) or []
            if not history:
                return await self._enter("menu", {}, incoming, replies)
            session.state = history.pop()
            self._model(session, incoming, replies).ask()
            return session
        # human: a person takes over (dialogs.handoff), told where this person was, and what the
        # person said when it was more than 人工 (能找个工作人员问下吗 补正的委托书有模板吗).
        context = context_of(session)
        if incoming.kind == "text" and _INTENT_BY_WORD.get(incoming.word) is None:
            context["said"] = [*context.get("said", []), incoming.text[:200]][-3:]
        # A half-made booking waits on the stack: leaving the queue (取消) offers 继续, not a fresh start.
        return await self._digress(session, (HANDOFF, context), incoming, replies)

    # The active dialog ------------------------------------------------------------------

    async def _dialog_turn(self, session: Session, incoming: Incoming, replies: list[Reply], cls: type[Dialog] | None = None,
                           correcting: bool = False) -> Session:
        """`cls`: the session's dialog class, when the caller has looked it up already.
        `correcting`: the turn goes back to an earlier step the message corrects (no further back)."""
        cls = cls or CITIZEN_DIALOGS[session.dialog]
        turn = cls(session.state, session.data, incoming, self.services, replies)
        before = turn.state
        if incoming.kind == "text" and self._asks_about_conflict(turn):
            return Session(session.dialog, turn.state, turn.data)
        if await self._fire(turn, incoming.kind):
            turn.data.pop(MISSES_KEY, None)
            turn.data.pop(MISSED_KEY, None)
            if turn.state != before:  # every step this message answered is one 返回 away
                turn.data.setdefault(BACK_KEY, []).extend(state for state in turn.answered if state != turn.state)
            session = Session(turn.__class__.name, turn.state, turn.data)
            if turn.switch_to is None and not turn.finished:
                return session  # what `_follow` returns then, without the call
            return await self._follow(turn, session, incoming, replies)

        if incoming.kind == "text" and not correcting and (earlier := self._corrected_step(turn)) is not None:
            # A detail answered at an earlier step, typed again: it replaces the old answer, and
            # the steps from there on are asked again (each answer after it is kept in the data).
            history = turn.data[BACK_KEY]
            del history[len(history) - 1 - history[::-1].index(earlier):]
            return await self._dialog_turn(Session(session.dialog, earlier, turn.data), incoming, replies, cls, correcting=True)
        if incoming.kind in MEDIA_KINDS:
            # No step here takes it: say what a photo or file is for here (补正, an agent), that
            # voice cannot be heard yet, or (a video, a link) that only words are read.
            template = {"voice": "common/voice_unheard.j2", "image": "common/media_help.j2", "file": "common/media_help.j2"}
            self._say(replies, template.get(incoming.kind, "common/media_unsupported.j2"), kind=incoming.kind,
                      agent=session.dialog == HANDOFF and session.state, progress=session.dialog == "progress")
            turn.ask()
        elif incoming.kind not in ("text", "click"):
            self._say(replies, "common/unknown_type.j2")
        else:
            misses = int(turn.data.get(MISSES_KEY, 0)) + 1
            if incoming.kind == "text":  # an agent taking over sees what was not understood
                turn.data[MISSED_KEY] = [*(turn.data.get(MISSED_KEY) or [])[-2:], incoming.text[:200]]
            # The way out (人工, 12345) is offered by dialogs.smalltalk, which counts misses anywhere.
            turn.data[MISSES_KEY] = misses
            self._say(replies, "common/miss.j2", misses=misses)
            turn.ask()
        return Session(session.dialog, turn.state, turn.data)

    @staticmethod
    def _corrected_step(turn: Dialog) -> str | None:
        """The latest step answered before this one whose detail (`CORRECTABLE`) the message holds
        again, when the current step had no use for the message."""
        understood = turn.understood
        for state in reversed(turn.data.get(BACK_KEY) or []):
            kind = turn.FILLS.get(state)
            if kind in CORRECTABLE and kind in understood:
                return state
        return None

    async def _fire(self, turn: Dialog, trigger: str) -> bool:
        """Fire `trigger`; then, while the message also answers the step it led to (`Dialog.ask`
        found that step's `FILLS` slot in it), give the message to that step too, each step
        once. The last step reached asks its question."""
        turn.answered[turn.state] = None
        fired = await turn.fire(trigger)
        for _ in range(MAX_FILLED):
            if not turn.again or turn.switch_to is not None or turn.finished:
                break
            turn.again = False
            turn.answered[turn.state] = None
            if not self._asks_about_conflict(turn) and not await turn.fire("text"):
                turn.ask()  # the step has no use for it after all: it asks, as it would have
        return fired

    def _asks_about_conflict(self, turn: Dialog) -> bool:
        """Two values of a kind the step reads that disagree (two phone numbers): ask which,
        never guess. True when it asked."""
        # A step that fills one slot minds only that one: the others of the message fill their
        # own steps first, and the step whose values disagree asks when it is reached.
        kinds = {turn.FILLS[turn.state]} if turn.state in turn.FILLS else set(turn.EXPECTS.get(turn.state, ()))
        if not kinds:
            return False
        understood = turn.understood
        for kind in sorted(kinds):
            conflict = understood.conflict(kind)
            if conflict is not None:
                values = [shown(slot.kind, slot.value, self.services.catalog) for slot in conflict.slots]
                self._say(turn.replies, "common/conflict.j2", kind=kind, values=list(dict.fromkeys(values)))
                turn.answered[turn.state] = None
                turn.ask()
                return True
        return False

    async def _follow(self, turn: Dialog, session: Session, incoming: Incoming, replies: list[Reply]) -> Session:
        """Apply what the dialog asked for at the end of its turn: finish, or hand over."""
        for _ in range(MAX_HANDOVERS):
            if turn.switch_to is not None:
                name, carry = turn.switch_to
                turn = await self._start(name, carry, incoming, replies)
                session = Session(name, turn.state, turn.data)
            elif turn.finished:
                return Session()
            else:
                return session
        return Session()

    async def _enter(self, name: str, carry: dict, incoming: Incoming, replies: list[Reply], greet: str | None = None) -> Session:
        if greet:
            self._say(replies, greet)
        turn = await self._start(name, carry, incoming, replies)
        return await self._follow(turn, Session(name, turn.state, turn.data), incoming, replies)

    async def _start(self, name: str, carry: dict, incoming: Incoming, replies: list[Reply]) -> Dialog:
        cls = CITIZEN_DIALOGS[name]
        turn = cls(cls.STATES[0], dict(carry), incoming, self.services, replies)
        await self._fire(turn, "start")
        return turn

    def _model(self, session: Session, incoming: Incoming, replies: list[Reply]) -> Dialog:
        return CITIZEN_DIALOGS[session.dialog](session.state, session.data, incoming, self.services, replies)

    def _say(self, replies: list[Reply], template: str, **context) -> None:
        replies.append(Reply(self.services.render(template, **context)))

    @staticmethod
    def _stamp(session: Session | None) -> Session | None:
        if session is not None:
            session.updated_at = now()
        return session


def _blind_answer(session: Session, word: str) -> bool:
    """A bare yes, no or number for a paused step other than a summary to confirm (确认 there is
    what the person meant): the question it would answer was not on screen."""
    vocab = vocabulary()
    return session.state != "summary" and ((word.isdigit() and len(word) <= CHOICE_DIGITS) or word in vocab.yes or word in vocab.no)


def _paused_with(session: Session, offered: bool = False) -> list[dict[str, Any]]:
    """The session's paused dialogs with its current one on top (its answers, not its misses);
    `offered`: 继续 has been offered for it already."""
    data = {k: v for k, v in session.data.items() if k != MISSES_KEY}
    entry = {"dialog": session.dialog, "state": session.state, "data": data, **({"offered": True} if offered else {})}
    return [*session.paused, entry][-MAX_PAUSED:]


def _answers_cancel(cls: type[Dialog], state: str, word: str) -> bool:
    """Whether a cancel word in `word` is the answer of `state` (Dialog.CANCEL_ANSWERS)."""
    needed = cls.CANCEL_ANSWERS.get(state)
    if isinstance(needed, tuple):  # any of these (取消, cancel)
        return any(each in word for each in needed)
    return needed is not None and needed in word


def shown(kind: str, value: Any, catalog: Any = None) -> Any:
    """A slot's value as a reply may show it: personal data masked, halls by name."""
    if kind == "hall":
        halls = getattr(catalog, "halls", None) or {}
        return "、".join(halls[h].name if h in halls else h for h in value)
    mask = _MASKS.get(kind)
    return mask(value) if mask is not None else value
