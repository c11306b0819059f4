"""Matters (办事指南): find the matter from how people speak, show a short guide card, and tell
each person exactly which materials THEIR situation needs.

The search (bot/search) ranks every matter and 一件事 bundle and gives a verdict: one clear
matter (its card), a bundle (its own card: dialogs.bundles), candidates when unsure
("您要办的是不是：" 1-5), out of scope (say so, offer 人工 and 12345) or junk (just ask again). It runs on the catalog's search thread: the prepare rows
(`PREPARE`) await it once per message, before any guard, and the guards read its verdict. A
card's follow-up word, a number picked from a list and an answer to a situation question are
not searched.

```
asking   --text: clear match--> guide          --text: a bundle--> (bundles)     --text: unsure--> choosing
choosing --text: a number--> guide (a bundle's number: the bundle's card, dialogs.bundles)
choosing --预约: which one?--> choosing --a number--> (booking: dialogs.booking)   --预约2 / 预约办护照--> (booking)
(start with a matter carried, from a bundle's card) --> guide
         (any other text searches again)
guide    --材料清单: situations matter--> situation --answers, one question at a time--> guide
guide    --材料清单 / 办理流程 / 在哪办 / 预约 / 在线办理--> guide   (the answer alone: the card listed
         the follow-ups once, and they stay open; 预约 is listed only for a matter that takes bookings)
guide    --订阅通知 / 取消通知--> guide   (policy notices for this matter and its department: staff broadcasts)
```
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from dialogs.engine import Dialog, P, Reply, T, guide_halls, hall_names, normalise
from dialogs.smalltalk import mark_unused
from dialogs.understand.answers import AFTER_A_DEATH, asks_what_it_means, choice, needs_time
from dialogs.understand.appointments import about_my_appointments, booking_query
from dialogs.understand.numerals import number
from dialogs.understand.halls import asks_about_halls
from dialogs.understand.kinds import first_clause
from dialogs.understand.vocabulary import vocabulary
from integrations.platform.identifiers import mask_in_text

MAX_CANDIDATES = 5
#: 您要办的是不是 answered yes and no more (not 确认: a booking paused at its summary confirms with it).
LIST_AGREES = frozenset({"是", "是的", "是滴", "对", "对的", "对对", "对对对", "嗯", "嗯嗯", "恩", "没错", "就是", "就是的", "yes", "yeah"})
#: Said to a list of candidates, a message this short may narrow it (新办的, 丢了那个) rather than ask anew.
REFINE_CHARS = 8
#: A statement (no question in it) said to a list or a card, this short, is read with the question
#: they answer before it is taken for a new one (我们公司已经开过户了, 他有残疾证，一级的).
TOLD_CHARS = 30
MIN_QUESTION = 4  # characters of a question of its own typed at a step (as dialogs.conversation reads them)
ECHO_CHARS = 24  # of a question quoted back in a reply
# The search's verdicts (bot.search.hybrid), and outcomes counted for operators (bot.search.outcomes).
MATTER, CANDIDATES, OUT_OF_SCOPE = "matter", "candidates", "out_of_scope"
PICKED, NONE, JUNK = "picked", "none", "junk"


def echo(query: str) -> str:
    """A question as quoted back (没找到和“…”相关的): its ID and phone numbers masked, cut to ECHO_CHARS."""
    query = mask_in_text(query)
    return query if len(query) <= ECHO_CHARS else query[:ECHO_CHARS] + "…"


def kept(text: str) -> str:
    """A person's words as the session keeps them (the question a list or a card answers): cut to
    200 characters, an ID, mobile, bank card or passport number pasted into them masked as a reply
    would quote it, so the stored session never holds one whole."""
    return mask_in_text(text)[:200]


STATES = ["asking", "choosing", "guide", "situation"]
SEARCHING = ["asking", "choosing", "guide"]
TRANSITIONS = [
    #  trigger  source       dest         when              then
    T("start", "*",         "guide",     "returns_quietly", "show_follow_ups"),  # after 不需要预约 (dialogs.booking)
    T("start", "*",         "guide",     "carries_matter", "show_card"),
    T("start", "*",         "choosing",  "bundle_match",   ["keep_winner", "show_bundle"]),
    T("start", "*",         "situation", "clear_match_asking_materials_with_situations", ["keep_winner", "show_card"]),
    T("start", "*",         "guide",     "clear_match_asking_materials", ["keep_winner", "show_card_and_materials"]),
    T("start", "*",         "guide",     "clear_match",    ["keep_winner", "show_card"]),
    T("start", "*",         "asking",    "asks_about_halls", "open_halls"),
    T("start", "*",         "choosing",  "has_candidates", "show_candidates"),
    T("start", "*",         "asking",    None,             "ask_or_not_found"),
    T("text",  "choosing",  "asking",    "none_fits",      "say_none_fits"),
    # 材料清单 / 在哪办 at a list: which one first, the same list (it was searched again and came back reordered)
    T("text",  "choosing",  "choosing",  "asks_follow_up_of_list", "say_pick_first"),
    # 8 with five listed, or a bare 是 / 对: which one is asked, the same list (8 was searched and reordered it)
    T("text",  "choosing",  "choosing",  "picks_number_not_listed", "say_pick_listed"),
    T("text",  "choosing",  "choosing",  "only_agrees",    "say_pick_listed"),
    T("text",  "choosing",  "choosing",  "picks_to_book",  ["keep_pick", "book_pick"]),
    T("text",  "choosing",  "choosing",  "asks_which_to_book", "ask_which_to_book"),
    # 明天 / 下午 / 北辰那边 while asked which to book: kept for that booking, the same list asked again
    T("text",  "choosing",  "choosing",  "tells_when_to_book", ["keep_when", "ask_which_to_book"]),
    T("text",  "choosing",  "choosing",  "asks_to_book_other", "book_other"),
    T("text",  "choosing",  "choosing",  "picks_bundle",   ["keep_pick", "show_bundle"]),
    # a pick from a list that asked what to bring (社保卡丢了要补办 要带什么材料 → 1): the card and the list or its question
    T("text",  "choosing",  "situation", "picks_candidate_asked_materials_with_situations", ["keep_pick", "show_card"]),
    T("text",  "choosing",  "guide",     "picks_candidate_asked_materials", ["keep_pick", "show_card_and_materials"]),
    T("text",  "choosing",  "guide",     "picks_candidate", ["keep_pick", "show_card"]),
    T("text",  "guide",     "guide",     "asks_bundle",    "open_bundle"),  # 一件事: the bundle the card offers
    T("text",  "guide",     "guide",     "asks_materials_listed", "show_listed_again"),  # 材料清单 after the list: the same list
    T("text",  "guide",     "situation", "asks_materials_with_situations", "ask"),
    T("text",  "guide",     "guide",     "asks_materials", "show_materials"),
    T("text",  "guide",     "guide",     "asks_process",   "show_process"),
    T("text",  "guide",     "guide",     "asks_where",     "show_where"),
    T("text",  "guide",     "guide",     "asks_booking",   "show_booking"),
    T("text",  "guide",     "guide",     "asks_online",    "show_online"),
    T("text",  "guide",     "guide",     "asks_notify",    "notify"),
    T("text",  "guide",     "guide",     "asks_time",      "show_time"),
    T("text",  "guide",     "guide",     "asks_fee",       "show_fee"),
    T("text",  "guide",     "guide",     "asks_post",      "show_post"),  # 能寄过来吗
    T("text",  "guide",     "guide",     "asks_hukou",     "show_hukou"),     # 我是外地户口呢
    T("text",  "guide",     "guide",     "asks_department", "show_department"),  # 那找哪个部门问
    T("text",  "guide",     "guide",     "asks_home_visit", "show_home_visit"),  # 我走不了路，能上门办吗
    T("text",  "guide",     "guide",     "asks_anywhere",  "show_anywhere"),  # 可以在成都办吗
    T("text",  "guide",     "guide",     "asks_brings",    "show_brings"),  # 要带照片吗
    T("text",  "guide",     "guide",     "asks_agent",     "show_agent"),  # 可以让家里人代办吗
    T("text",  "guide",     "guide",     "asks_unnotify",  "unnotify"),
    # 点错了 不是这个 on a card picked from a list: the list again
    # after the material list: an answer put right (不对，我们没结婚): the list again, as now told;
    # 刚才点错了 / 返回: the last question again, the other answers kept
    T("text",  "guide",     "guide",     "corrects_listed", "show_corrected_list"),
    T("text",  "guide",     "situation", "takes_back_listed", "ask_last_again"),
    T("text",  "guide",     "choosing",  "picked_wrongly", "ask"),
    # 要带什么 / 多久到账 right after being told where an unserved need is met: that place's, said again
    T("text",  "asking",    "asking",    "follows_up_elsewhere", "say_elsewhere_again"),
    T("text",  SEARCHING,   "asking",    "asks_unnotify_all", "open_notices_off"),  # 取消通知 at a list: every matter's
    T("text",  "situation", "guide",     "answers_last_question", "show_materials"),
    T("text",  "situation", "situation", "answers_question", "ask"),
    # an earlier answer put right (不对 不是头一回办 是过期了换): changed, and the question asked again
    T("text",  "situation", "situation", "corrects_answer", "say_corrected"),
    # 选错了 / 刚才点错了: the latest answer is taken back and its question asked again
    T("text",  "situation", "situation", "takes_back_answer", "ask_again"),
    # 等一下 / 我问下家里人: no hurry, the question waits
    T("text",  "situation", "situation", "needs_time",     "say_take_your_time"),
    # 这是什么意思 / 不知道: what the question is for and what a yes adds, then the question again
    T("text",  "situation", "situation", "asks_what_it_means", "explain_question"),
    # 都不是 / 没有我这种情况 at a question of several options: who can say what then applies
    T("text",  "situation", "situation", "none_fits_the_options", "say_no_option_fits"),
    # the card's other follow-ups asked at its question: answered, and the question asked again (多少钱
    # mid-questions, then 2 for 否 opened 办理流程: the card's numbers were back on screen)
    T("text",  "situation", "situation", "asks_materials", "say_situation_first"),
    T("text",  "situation", "situation", "asks_process",   ["show_process", "ask"]),
    T("text",  "situation", "situation", "asks_where",     ["show_where", "ask"]),
    T("text",  "situation", "guide",     "asks_booking",   "show_booking"),
    T("text",  "situation", "situation", "asks_online",    ["show_online", "ask"]),
    T("text",  "situation", "situation", "asks_time",      ["show_time", "ask"]),
    T("text",  "situation", "situation", "asks_fee",       ["show_fee", "ask"]),
    T("text",  "situation", "situation", "asks_post",      ["show_post", "ask"]),
    T("text",  "situation", "situation", "asks_hukou",     ["show_hukou", "ask"]),
    T("text",  "situation", "situation", "asks_department", ["show_department", "ask"]),
    T("text",  "situation", "situation", "asks_home_visit", ["show_home_visit", "ask"]),
    T("text",  "situation", "situation", "asks_anywhere",  ["show_anywhere", "ask"]),
    T("text",  "situation", "situation", "asks_brings",    ["show_brings", "ask"]),
    T("text",  "situation", "situation", "asks_agent",     ["show_agent", "ask"]),  # 要本人去吗 at a question: answered, asked again
    # another need asked at the question: what the search finds for it, as on the card
    T("text",  "situation", "choosing",  "bundle_match",   ["keep_winner", "show_bundle"]),
    T("text",  "situation", "guide",     "clear_match",    ["keep_winner", "show_card"]),
    T("text",  "situation", "choosing",  "has_candidates", "show_candidates"),
    # 预约 in a sentence about the card on screen (那我想预约去办，周五上午可以吗): this matter's booking
    T("text",  "guide",     "guide",     "asks_to_book_this", "show_booking"),
    # 预约 another matter, with its day, hall or details (预约 居民身份证办理 北辰 12月10日上午 刘桂芳 …): that booking
    T("text",  ["guide", "asking"], "guide", "books_another_matter", "book_other"),
    # a matter without a guide yet: another of the list it was picked from
    T("text",  "guide",     "guide",     "picks_another_candidate", ["keep_pick", "show_card"]),
    # 材料清单 / 在哪办 on a matter without a guide yet: said it has none yet, the list it came from kept
    T("text",  "guide",     "guide",     "asks_guideless_follow_up", "say_no_guide"),
    # a circumstance told at a card (他有残疾证，一级的) that the search reads with the card's question
    # as the card's own: noted (what it answers of the card's questions, kept), the card's numbers again
    T("text",  "guide",     "guide",     "tells_of_the_card", ["note_told", "ask"]),
    T("text",  SEARCHING,   "choosing",  "bundle_match",   ["keep_winner", "show_bundle"]),
    # a matter asked for with its materials (生育津贴要啥材料): the card, then the list or its question
    T("text",  SEARCHING,   "situation", "clear_match_asking_materials_with_situations", ["keep_winner", "show_card"]),
    T("text",  SEARCHING,   "guide",     "clear_match_asking_materials", ["keep_winner", "show_card_and_materials"]),
    T("text",  SEARCHING,   "guide",     "clear_match",    ["keep_winner", "show_card"]),
    T("text",  SEARCHING,   "asking",    "asks_about_halls", "open_halls"),
    # a question about the card itself (我的店就30平米，也要办这个吗) that the search is unsure of: the card's
    T("text",  "guide",     "guide",     "asks_of_the_card", "say_not_found_at_card"),
    # the list on screen found again for what was said of it (我不会用智能手机): its first is meant
    T("text",  "choosing",  "choosing",  "same_list_again_led_by_bundle", ["keep_top_of_list", "say_top_taken", "show_bundle"]),
    T("text",  "choosing",  "guide",     "same_list_again", ["keep_top_of_list", "say_top_taken", "show_card"]),
    T("text",  SEARCHING,   "choosing",  "has_candidates", "show_candidates"),
    # nothing found for a question asked at a card: said so, and the card's numbers still work
    T("text",  "guide",     "guide",     "found_nothing",  "say_not_found_at_card"),
    T("text",  SEARCHING,   "asking",    None,             "ask_or_not_found"),
]
PREPARE = [
    #  trigger  source       action
    P("start", "*",         "search_carried"),
    P("text",  SEARCHING,   "search_typed"),
    P("text",  "situation", "read_answer"),
]

#: Asked to be done faster (能加急吗): the guide's time, and that it does not speak of a rush.
RUSH = ("加急", "加快", "快点办", "急着用")
#: The guide card's follow-ups: key -> (title, the words that ask for it). Their numbers depend
#: on the card (`follow_ups_for`).
FOLLOW_UPS = {
    "materials": ("材料清单", ("材料", "材料清单", "要带什么", "带什么", "需要什么材料", "要什么材料", "materials to bring")),
    "process": ("办理流程", ("流程", "办理流程", "怎么办理", "步骤")),
    "where": ("在哪办", ("在哪办", "在哪里办", "地址", "哪里办", "去哪办", "where to go", "where do i go", "where should i go")),
    "booking": ("预约", ("预约", "预约办理", "我要预约", "book an appointment")),
    "online": ("在线办理", ("在线办理", "网上办", "网上办理", "网办", "链接", "apply online")),
    "notify": ("订阅通知", ("订阅通知", "订阅事项通知", "订阅政策通知", "通知我", "有新政策通知我", "get notified of news", "notify me")),
}
#: A short question about the card on screen in people's words (要带啥材料, 几点上班, 网上能办吗):
#: a cue of one follow-up, and nothing else said but these filler characters.
FOLLOW_UP_CUES = {
    "materials": ("材料", "要带", "带什么", "带啥", "准备什么", "准备啥", "要准备", "证件", "东西"),
    "process": ("流程", "步骤", "怎么办理", "咋办理", "手续怎么", "怎么申请", "如何申请", "如何办理", "怎么弄", "咋弄", "怎么搞", "咋个办"),
    "where": ("在哪", "哪里办", "哪儿办", "去哪", "地址", "几点", "上班", "开门", "下班", "办公时间", "营业时间", "周末", "周六", "位置",
              "最近的办理点", "办理点", "最近的", "离我近", "离我最近", "办公室", "哪个窗口", "几号窗口"),
    "online": ("网上", "在线", "手机上", "线上", "链接", "不想跑", "不用跑", "少跑", "不去现场", "不到现场", "不用去", "跑几趟", "跑几次",
               "去几次", "去几趟"),
    "booking": ("预约", "约个号", "约个时间", "约时间", "约号", "排号", "取号", "先约", "提前约", "约一下"),
    # not on the card's menu, but on the card itself: its 办理时限 and 收费 lines, said again; and
    # how the result reaches one (领取, 邮寄, 电子证照)
    "post": ("邮寄", "寄过来", "寄回来", "寄给我", "寄到家", "寄到", "寄", "快递", "送到家", "送上门", "送过来", "包邮"),
    # (好久 is 多久 in Sichuan: 要好久才办得下来)
    "time": ("多久", "多长时间", "好久", "好长时间", "几天", "多少天", "时限", "工作日", "办下来", "办得下来", "拿到", "出证", "当场", "当天",
             "办好", "啥时候", "什么时候",
             *RUSH),
    # who does it and how to reach them (那找哪个部门问: 没找到, after the card named it)
    "department": ("哪个部门", "什么部门", "哪个单位", "什么单位", "找谁", "归谁管", "谁管", "哪个局", "咨询电话", "电话多少", "打哪个电话",
                   "联系电话", "电话号码", "打电话问"),
    "fee": ("多少钱", "收费", "收钱", "要钱", "费用", "几块钱", "交钱", "免费", "工本费", "价格", "花钱", "好多钱", "几多钱", "能领多少", "领多少",
            "收不收费", "收不收钱", "要不要钱", "交多少", "花多少", "标准"),
}
#: Money asked about that one receives (生育津贴能领多少钱), not a fee one pays.
RECEIVING = re.compile(r"[领拿发补给]+(?:到|了)?(?:大概|大约|一共)?(?:多少|好多|几多)|能领|可以领|补贴(?:多少|好多)|补助(?:多少|好多)|津贴(?:多少|好多)|(?<!收费)标准")
#: ... or asked by the month or year without a word of paying (多少钱一个月, 每个月有多少): a
#: benefit's amount, not the fee (一个月交多少 pays).
PER_PERIOD = re.compile(r"(?:多少|好多|几多)钱?(?:一个月|一月|每月|每个月|一年|每年|一天)|(?:一个月|每月|每个月|一年|每年)(?:能|可以)?(?:有|领|发|拿|给)?(?:多少|好多|几多)")
_PAYS = re.compile(r"交|缴|付|花|扣")
#: What one pays each year or month (新农合一年交多少钱): a premium or contribution, not the matter's fee.
_PAID_BY_PERIOD = re.compile(r"(?:一年|每年|一个月|每个月|每月|一月)[^，,。]{0,3}(?:交|缴|扣)|(?:交|缴)[^，,。]{0,3}(?:一年|每年|一个月|每个月|每月)")
#: 都不是, said to the candidates.
NONE_FITS = frozenset({"都不是", "都不对", "都不是的", "不是这些", "没有我要的", "没有我要办的", "都没有", "不是", "不对", "错了", "都错了",
                       "不是这个", "不是这几个", "没有对的", "一个都不是"})
#: The same said of a question's options (没有我这种情况, 我的情况不在里面, 其他情况).
NONE_OF_THESE = re.compile(r"(?:没有|不是)(?:我|我们)?(?:这|这种|这个|说的|的)?(?:情况|这种)|不在(?:这|里面|上面)|其他情况|别的情况|都不符合|都不对")
#: A question pointing at the card on screen (也要办这个吗, 这项能代办吗, 它要钱吗); 不是这个 is a wrong pick.
_OF_THE_CARD = re.compile(r"(?<!不是)(?:这个|这项|这一项|这件事|这个事|这证|这个证)|^它|[，, ]它")
#: A card picked by mistake from a list (点错了 不是这个, 选错了).
_PICKED_WRONGLY = re.compile(r"点错|选错|按错|不是这个|不是这项|不是这一个|不是我要的")
#: Words that ask what to bring, in a question that names a matter (生育津贴要啥材料).
MATERIAL_CUES = ("材料", "要带", "带什么", "带啥", "准备什么", "准备啥", "要准备", "需要啥东西", "要啥东西", "需要什么东西")
# besides asking words, who it is for (给我妈办, 带他去办) and 啥子 (Sichuan's 什么): the card's matter still
FOLLOW_UP_FILLER = frozenset("的了吗呢啊呀吧嘛请问需要要我你们这那个都些哪里什么啥能可以办还有哦嗯就不去得该"
                             "子他她它人妈爸孩老家给帮替带花大概一般多少够好行想领拿发钱在开弄先提前用一下个申交"
                             "怎么咋样是每月才到问找年")
#: Whether someone else may do it for one, asked on a card (可以让家里人代办吗, 我儿子能帮我去办不).
AGENT_ASKED = re.compile(r"(?:代办|代领|代交|代理|委托|替我|帮我(?:去)?办|(?:家里人|家人|儿子|女儿|孩子|老伴|老公|老婆|亲戚|朋友|别人|他人)"
                         r"(?:帮我|替我|代我)?(?:去)?(?:办|代|领|交)"
                         # 我可以帮他去办吗, 我帮他办行不行: one acting for another; 本人不到场可以吗: the same asked
                         r"|[帮替代](?:他|她|老人|家人|我妈|我爸|我老公|我老婆|老伴)(?:去)?(?:办|领|交)|本人(?:不|没法|没办法|来不了|去不了)(?:到场|去|来|到)?)"
                         r"[^，。,]{0,6}(?:吗|不|么|没|行|可以|能)"
                         # 要不要本人去, 必须本人去吗, 本人要到场不, 我自己要去不: whether one must go in person
                         r"|(?:要不要|用不用|需不需要|必须|一定要|非得|得|要|需要)(?:我)?(?:本人|自己|亲自)(?:去|来|到场|到|跑)"
                         r"|(?:本人|自己|亲自)(?:要|得|必须|需要|一定要)(?:去|来|到场|到|跑)(?:吗|不|么|没|一趟)?"
                         r"|\bin person\b")
#: Who may go for one, as people name them.
_OTHERS = ("家里人|家人|子女|儿女|儿子|女儿|闺女|孩子|老伴|老公|老婆|媳妇|爱人|亲戚|朋友|老乡|同事|邻居|别人|他人|其他人|孙子|孙女|外孙|外孙女|"
           "我妈|我爸|妈妈|爸爸|父母")
#: Someone else doing it, said rather than asked, on a card (女儿帮我办, 让我儿子去办吧).
AGENT_SAID = re.compile(rf"(?:我)?(?:让|叫|由)?(?:我)?(?:{_OTHERS})(?:帮我|替我|代我|给我)?(?:去)?(?:办|弄|跑|代办|来办)(?:一下|一趟)?(?:吧|的|啊|哈)?")
#: Someone else going, asked in other orders (我儿子能替我去吗, 我老婆帮我去行不行, 能不能别人代我去).
AGENT_ASKED_TOO = re.compile(rf"(?:{_OTHERS})[^，。,]{{0,3}}[帮替代](?:我|他|她|俺)?(?:去|来)?(?:办|领|交|跑)?"
                             r"(?:一下|一趟)?(?:行不行|可以吗|可不可以|能行吗|行吗|成不|吗|不|么)")
#: The same in English (can my mother go for me, can I apply for her, can someone else collect it).
EN_AGENT_ASKED = re.compile(r"\b(?:can|could|may)\s+(?:my\s+\w+|someone(?: else)?|somebody(?: else)?|a (?:friend|relative|family member))\s+"
                            r"(?:go|apply|do it|collect|come|submit|pick)\b|\b(?:can|could|may) i (?:apply|go|do it|collect it|come) for "
                            r"(?:her|him|them|my \w+)\b|\bon (?:my|his|her|their) behalf\b|\bin person\b")
EN_AGENT_WORDS = 12  # an English question longer than this asks something of its own
FOLLOW_UP_CHARS = 16
ELSEWHERE_CHARS = 24  # 我在成都工作，可以在成都办吗 tells why before it asks
#: Whether one must book, asked (要先预约吗, 需不需要预约, do I need an appointment?), not 预约 said.
BOOKING_ASKED = re.compile(r"[吗么嘛不？?]$|要不要|需不需要|用不用|是否|必须|\bdo i need\b|\bmust i\b|\bneed to\b")
#: Whether it can be done in another place, asked on a card (我在成都工作，可以在成都办吗, 在外地能办不,
#: 异地可以办吗): the guide's own line on 全国通办 / 跨省通办 answers it, or where to ask.
_ELSEWHERE_PLACES = ("外地|外省|异地|老家|省外|市外|那边|那里|那儿|别的地方|其他地方|其它地方|别的城市|其他城市|工作的地方|打工的地方|"
                     "成都|重庆|北京|上海|广州|深圳|杭州|武汉|西安|长沙|南京|苏州|天津|郑州|昆明|贵阳|南充|达州|绵阳|遂宁|"
                     "眉山|宜宾|泸州|自贡|乐山|内江|资阳|德阳|巴中|雅安|攀枝花")
ANYWHERE_ASKED = re.compile(rf"(?:在|去|回|到)(?:{_ELSEWHERE_PLACES})(?:那边|那里|当地|那儿)?(?:也)?(?:能|可以|可不可以|能不能)?"
                            r"(?:去)?(?:办|弄|申请|补|换|领)[^，,。]{0,6}(?:吗|不|么|没|行|可以|能)"
                            r"|(?:异地|跨省|外地|全国)(?:也)?(?:能|可以|能不能|可不可以)?(?:办|通办|办理)(?:吗|不|么|没)?$|通办")
#: Whether staff come to one who cannot get out (能不能上门办, 我走不了路 能来家里办吗, 卧床的老人咋办).
HOME_VISIT_ASKED = re.compile(r"上门|到家(?:里)?(?:来)?办|来家里|到家里来|走不了路|出不了门|下不了床|行动不便|腿脚不(?:好|便|方便)|瘫痪|卧床")
#: Whether one whose household is registered elsewhere may do it (我是外地户口呢, 她户口在老家 能办不,
#: 外地人可以办吗): answered from the guide's conditions and situations.
HUKOU_ASKED = re.compile(r"(?:外地|外省|外市|外县|农村|老家|非本地|不是本地|不是广安|不是这里|不是这边|不在本地|不在广安|不在这里|不在这边|别的地方)的?(?:户口|户籍)"
                         r"|(?:户口|户籍)(?:不在|不是|在外地|在老家|在农村|在外省|在外面|在别)|外地人|非本地户籍|新市民")
#: A question that is itself about the household's registration (你们两人的户口都不在广安吗): answered, not asked about.
_OF_HUKOU = re.compile(r"户口|户籍|本地|外地")
#: A guide's line or situation on whose household may apply (户籍在广安区, 含在广安居住的外地户籍老年人, 有外地缴费经历).
HUKOU_SAID = re.compile(r"户籍|户口|常住|居住地|外地|异地")
#: ... of those, a line that asks for a local household (具有广安区户籍, 常住户口在广安区).
LOCAL_ONLY = re.compile(r"(?:具有|持有)?(?:广安区?|本区|本市|本地)户籍|(?:户籍|常住户口|户口)在广安")
_ELSE_TOO = re.compile(r"居住证|外地户籍|经常居住地")  # 持有广安区户籍，或持居住证在本地居住的: not local only
#: A guide's line that says where else it is done (not 天府通办, a platform's name).
ANYWHERE_SAID = re.compile(r"全国通办|跨省通办|省内通办|全国任一|任一方?户籍地|异地(?:办理|受理|申请)")

#: Whether one paper is to be brought, asked on a card (要带照片吗, 户口本要不要带, 需要结婚证吗): the
#: card's materials say, by name.
BRINGS_ASKED = re.compile(r"^(?:那|那么|请问)?(?:是不是|是否)?(?:还)?(?:要|需要|得|用不用|要不要|需不需要|必须)(?P<verb>带|交|准备|提供|拿|复印)?(?:上|着|个|张|份)?"
                          r"(?P<what>[\u4e00-\u9fff]{2,8}?)(?:原件|复印件)?(?:吗|么|不|没|嘛|呢)$"
                          r"|^(?:那|请问)?(?P<what2>[\u4e00-\u9fff]{2,8}?)(?:原件|复印件)?(?:也)?(?:要不要|需不需要|用不用|要|需要|得)(?:带|交|提供|准备)(?:吗|么|不|没|嘛|呢)?$")
#: Everyday names of papers and the guides' names for them.
_PAPER_NAMES = {"户口本": "户口簿", "相片": "照片", "寸照": "照片", "证件照": "照片", "身份证件": "身份证", "房产证": "不动产权证",
                "结婚证书": "结婚证", "营业证": "营业执照", "执照": "营业执照"}
#: A medical check asked about (要体检不, 需要体检吗), and the papers that come of one in the guides.
_CHECKUP_SAID = frozenset({"体检", "检查身体", "身体检查", "健康检查", "做体检"})
_PAPERS_OF_A_STEP = {"体检": ("身体条件", "体检", "健康证明", "健康证")}
#: How the names of papers end (结婚证, 户口簿, 照片, 证明, 申请表).
_A_PAPER = re.compile(r"(?:证|簿|本|照|片|件|书|表|明|单|卡|据|函)$")
#: Words of a question that are not the paper it asks about.
_NOT_A_PAPER = re.compile(r"什|啥|些|多少|几|本人|自己|预约|排队|钱|费|办|弄|去|来")  # (要带些什么: 些什 is no paper)


def paper_asked(text: str) -> str | None:
    """The paper a question at a card asks whether to bring (要带照片吗: 照片), or None."""
    found = BRINGS_ASKED.search(text)
    what = found and (found["what"] or found["what2"])
    if not what or _NOT_A_PAPER.search(what):
        return None
    if what in _CHECKUP_SAID:
        return "体检"  # 要体检不: a step whose paper the guide names (身体条件证明, 健康证明), or none
    if found["what"] and not found["verb"] and not _A_PAPER.search(what):
        return None  # 需要办居住证吗 asks about a step, not a paper to bring
    return _PAPER_NAMES.get(what, what)


def materials_naming(materials, paper: str) -> list:
    """The materials that are the paper asked about: named whole in them (照片 in 近期免冠彩色照片,
    户口簿 in 居民户口簿); else, for a longer name, sharing two pairs of characters in a row with it."""
    if paper in _PAPERS_OF_A_STEP:
        return [m for m in materials if any(word in m.name for word in _PAPERS_OF_A_STEP[paper])]
    whole = [m for m in materials if paper in m.name]
    if whole or len(paper) < 3:
        return whole
    pairs = {paper[i:i + 2] for i in range(len(paper) - 1)}
    return [m for m in materials if sum(pair in m.name for pair in pairs) >= 2]


#: A place near home asked about without a hall's name (能去街道办吗, 社区能办不): where it is done.
NEAR_PLACE = re.compile(r"街道|社区|镇上|镇里|乡里|乡镇|附近|家门口|就近|村里|便民服务")


#: The same follow-ups asked in a few English words (what documents?, how long does it take).
EN_FOLLOW_UP_CUES = {
    "materials": re.compile(r"\b(?:documents?|materials?|papers|what (?:do i|to|should i) bring|bring|what (?:do i|do we) need"
                            r"|what(?: is|'s) (?:needed|required)|requirements?)\b"),
    "process": re.compile(r"\b(?:steps?|process|procedure|how (?:do i|to|can i) apply|what (?:should|do) i do(?: first| next)?)\b"),
    "where": re.compile(r"\b(?:where|address|location|opening hours|office hours)\b"),
    "online": re.compile(r"\b(?:online|website|internet|link)\b"),
    "booking": re.compile(r"\b(?:book|appointment|reserve)\b"),
    "time": re.compile(r"\b(?:how long|how many days|how soon|when will|processing time)\b"),
    "fee": re.compile(r"\b(?:cost|costs|fee|fees|how much|price|charge|free)\b"),
    "post": re.compile(r"\b(?:post|mail|posted|mailed|deliver|delivered|courier)\b"),
    "department": re.compile(r"\b(?:which (?:department|office|bureau)|who (?:handles|is in charge)|phone number|contact number|who do i call)\b"),
}
EN_FILLER = frozenset("what which do does did i we you it is are there to the a an for this that can could should need needed "
                      "take takes how much long many any please me my of on in do it's i'm will be so and or want like would i'd now here "
                      "nearest closest near office offices hall halls place first next".split())  # where is the nearest office: this card's halls
EN_FOLLOW_UP_WORDS = 7  # an English question longer than this is a question of its own, not the card's


#: What opens a question on the side (对了, 顺便问下, 另外): not part of what it asks.
_BY_THE_WAY = re.compile(r"^(?:哦|噢|啊)?(?:对了|还有|另外|顺便问一?下|顺便问问|顺带问一?下|我想问一?下|想问一?下|问一?下|请问一?下?"
                         # 到时候要带啥子, 那天要带什么: when, of the visit the question is about
                         r"|(?:那|我)?(?:到时候|到时|那天|当天|去的时候|过去的时候|去办的时候|去之前))[，,。.!！\s]*")


def follow_up_asked(text: str, named: str = "") -> str | None:
    """The card's follow-up a question asks for: the card's own words for it (材料清单, Apply online),
    or a short question in other words that asks for one only; the words of the matter `named` (the
    card's) say nothing more (能在手机上认证吗, on 养老保险待遇领取资格认证's card, asks only how online)."""
    text = _BY_THE_WAY.sub("", text) or text  # 对了，要带什么材料 / 顺便问下要带哪些东西
    if text in _FOLLOW_UP_WORDS:
        return _FOLLOW_UP_WORDS[text]
    if text.isascii() and any(ch.isalpha() for ch in text):
        if len(text.split()) > EN_FOLLOW_UP_WORDS:
            return None
        asked = [key for key, cue in EN_FOLLOW_UP_CUES.items() if cue.search(text)]
        if len(asked) != 1:
            return None
        rest = EN_FOLLOW_UP_CUES[asked[0]].sub(" ", text)
        # only asking words besides the cue: "book a passport" names something else to book
        return asked[0] if all(word in EN_FILLER for word in re.findall(r"[a-z']+", rest)) else None
    if len(text) > FOLLOW_UP_CHARS:
        return None
    asked = {key for key, cues in FOLLOW_UP_CUES.items() if any(cue in text for cue in cues)}
    if len(asked) != 1:
        return None
    key = asked.pop()
    # every character some cue covers is the cue's: cues may overlap (邮寄 and 寄到家 in 可以邮寄到家吗,
    # where taking the longer away first left 邮 standing as a word of its own)
    covered = [False] * len(text)
    for cue in FOLLOW_UP_CUES[key]:
        for found in re.finditer(re.escape(cue), text):
            covered[found.start():found.end()] = [True] * len(cue)
    rest = "".join(ch for ch, cue in zip(text, covered) if not cue)
    return key if all(ch in FOLLOW_UP_FILLER or ch in named or not "\u4e00" <= ch <= "\u9fff" for ch in rest) else None


UNNOTIFY = frozenset({"取消通知", "退订通知", "不要通知", "取消订阅通知", "不用通知了"})  # not 取消订阅: that is 我的订阅's
#: The same said in a sentence (不想收居住证的通知了, 别再给我发通知了); a case's or an appointment's
#: notices are 我的订阅's and 我的预约's.
UNNOTIFY_SAID = re.compile(r"^(?:我)?(?:不想|不要|不用|别|不再)(?:再)?(?:收到?|接收|发|推送?|给我发|给我推)?"
                           r"(?:(?!办件|进度|预约)[^，,。]){0,8}(?:通知|推送)了?(?:吧|啊|哈)?$")


def unnotify_asked(word: str) -> bool:
    """Whether a message asks to stop the policy notices a card offered."""
    return word in UNNOTIFY or UNNOTIFY_SAID.search(word) is not None
_FOLLOW_UP_WORDS = {normalise(w): key for key, (title, words) in FOLLOW_UPS.items() for w in (title, *words)}
#: What opens the 一件事 bundle a card offers (templates/matters/card.j2).
BUNDLE_ASKED = frozenset({"一件事", "一件事一次办", "一次办", "一起办", "一次办齐", "一起办吧", "看看一件事", "一件事呢", "bundle", "the bundle"})
#: The longest day, time or hall said to a list of what to book (明天下午, 周四上午北辰那边).
WHEN_CHARS = 16
#: How many cards opened one after another 返回 goes back through.
EARLIER_CARDS = 3
YES = frozenset({"1", "是", "是的", "对", "对的", "嗯", "有", "需要", "要", "yes", "y", "有的", "有嘞", "有啊", "是啊", "是嘞", "对头"})
NO = frozenset({"2", "否", "不是", "不", "没有", "不用", "不需要", "no", "n", "莫得", "木有", "没得", "没有的", "无"})
#: Words that take note of a question without answering it. To a question of fact (是由他人代您
#: 办理吗, 是家庭成员共同经营吗) they are no answer; to an offer (要同时办水电气过户吗) they accept it.
ACKNOWLEDGED = frozenset({"好的", "好", "好滴", "好嘞", "好吧", "行", "行的", "可以", "可以的", "没问题", "收到", "知道了", "明白",
                          "明白了", "ok", "okay", "👌", "同意", "确认", "确定", "就这样", "妥了"})
_OFFERED = re.compile(r"要[^吗]*吗")


@dataclass(frozen=True, slots=True)
class Question:
    key: str  # "g:<group>" for a choice among situations, "s:<code>" for a yes/no
    text: str
    options: tuple  # situations to choose from; empty for yes/no


#: data key: the list a follow-up was told to pick from first (asked again of it: told shortly).
PICK_FIRST_SAID = "pick_first_said"
#: Ways guides name an expiry (有效期满换证, 证件到期换发, 有效期届满换发): said any way, it names each.
_EXPIRED = "期满到期届满"
#: Ways guides name a loss (证件丢失补领, 遗失补证): said any way (搞丢了, 掉了), it names each.
_LOST = "遗失丢失"
#: Words people pick an option with that its name says otherwise (第一次 for 首次申领).
#: Working for an employer, said (在厂里上班, 国企上班的): 单位在职, before 上班 reads as 就业 (which
#: named 灵活就业人员 to 单位在职职工 or 灵活就业, and left out the employer's list of names).
_AT_AN_EMPLOYER = tuple((f"{place}{verb}", "单位在职") for place in ("厂里", "工厂", "厂子", "单位", "公司", "国企", "企业", "机关", "学校", "医院", "厂")
                        for verb in ("上班", "打工", "做事", "工作"))
OPTION_WORDS = (("第一次", "首次"), ("头一次", "首次"), ("头一回", "首次"), ("初次", "首次"), ("丢了", _LOST),
                ("丢失", _LOST), ("弄丢", _LOST), ("搞丢", _LOST), ("掉了", _LOST), ("被偷", _LOST), ("偷了", _LOST), ("被盗", _LOST),
                ("不见了", _LOST), ("找不到了", _LOST),
                ("买房", "购买住房"), ("买了房", "购买住房"), ("购房", "购买住房"), ("还房贷", "偿还住房贷款"), ("还贷", "偿还住房贷款"), ("坏了", "损坏"), ("妈妈", "母"), ("母亲", "母"), ("爸爸", "父"),
                ("父亲", "父"), ("跟", "随"), *_AT_AN_EMPLOYER, ("上班", "就业"), ("打工", "就业"), ("上学", "就读"), ("读书", "就读"), ("租房", "住所"), ("租的房", "住所"), ("过期", _EXPIRED), ("自己交", "个人缴费"), ("自己缴", "个人缴费"), ("到期", _EXPIRED), ("届满", _EXPIRED), ("期满", _EXPIRED),
                ("去世", "死亡"), ("过世", "死亡"), ("逝世", "死亡"), ("离世", "死亡"), ("病故", "死亡"))
#: Words that say an answer was wrong (不对, 说错了): with them, a message that names an option of an
#: earlier question changes that answer even when it also reads as an answer to this one.
CORRECTION = re.compile(r"不对|错了|搞错|说错|选错|点错|弄错|更正|改成|改为|改一下|其实是|应该是")
#: Words that take back the answer just given without saying the right one (选错了, 刚才点错了,
#: 不对 上一题说错了): that question is asked again. Bare 不对 / 错了 stay answers to a yes/no
#: question (孩子是在医院外出生的吗？不对), and naming the right option is a correction (above).
TAKE_BACK = re.compile(r"[选点按答说填回]错|搞错|弄错|刚才(?:的|那个|那题)?(?:不对|错)|上一[个题步](?:不对|错)|重新选|重选|选岔")


def flipped_answer(text: str, asked: list[Question], answers: dict[str, str], current: Question | None) -> tuple[str, str, str] | None:
    """(key, new answer, what it now says) when `text` (normalised) puts right an earlier yes/no
    answer in that question's own words (不对，我们其实没领结婚证 after 已登记结婚吗 was answered 是):
    it says a correction, shares no words with the question on screen, and is not a bare yes or no
    (不对 alone answers the question on screen). An earlier question the rest answers otherwise in
    its own terms (不对，孩子是在家里生的 to 是在医院外出生的吗: yes) is the one put right; else the
    one sharing the most of its words (the latest on a tie), whose answer becomes the other one: 孩子
    alone is shared by every question about a birth, 户口不在广安 by one."""
    if CORRECTION.search(text) is None or text in YES or text in NO or text in vocabulary().no:
        return None
    if current is not None and shares_words(current.text, text):
        return None
    earlier = [q for q in reversed(asked)
               if not q.options and q.key in answers and (current is None or q.key != current.key)]
    said = CORRECTION.sub("", text).strip("，,。 ")
    agreeing = set()  # 不对，其实还没到一个月 to 超过一个月了吗 answered 否: that answer stands, never flipped
    for question in earlier if said else ():
        yes = said_in_its_terms(question.text, said)
        if yes is not None and ("yes" if yes else "no") != answers[question.key]:
            return question.key, "yes" if yes else "no", _stated(question, yes)
        if yes is not None:
            agreeing.add(question.key)
    earlier = [q for q in earlier if q.key not in agreeing]
    best = max(earlier, key=lambda q: shared_words(q.text, text), default=None)  # max keeps the first (latest) of a tie
    if best is None or not shared_words(best.text, text):
        return None
    new = answers[best.key] != "yes"
    return best.key, "yes" if new else "no", _stated(best, new)


def _stated(question: Question, yes: bool) -> str:
    return f"{re.sub(r'[吗？?]+$', '', question.text)}：{'是' if yes else '否'}"


def said_in_its_terms(question: str, text: str) -> bool | None:
    """Yes or no to `question` read from its own terms in `text` (the place it is outside of, an
    amount against its limit, an age boundary, its words denied or said back); None when `text`
    does not speak of it. A plain yes or no is left out: it says nothing of which question."""
    for reader in (outside_said, by_amount, age_said_back, denied_back, verb_said_back):
        yes = reader(question, text)
        if yes is not None:
            return yes
    return None


def correction_of(text: str, asked: list[Question], answers: dict[str, str], current: Question | None) -> tuple[str, str, str] | None:
    """(key, new answer, what it now says) when `text` puts an earlier answer right: another
    option of an earlier choice named with a correction word (不对 应该是租房提取), or an earlier
    yes/no denied in its own words (`flipped_answer`). `current`: the question on screen, whose
    own options are an answer to it, not a correction (None once the list is shown)."""
    if CORRECTION.search(text) and not (current is not None and current.options and named_option(current.options, text)):
        for question in reversed(asked):
            if question.key not in answers or not question.options or (current is not None and question.key == current.key):
                continue
            code = named_option(question.options, text)
            if code is not None and code != answers[question.key]:
                return question.key, code, next(o.name for o in question.options if o.code == code)
    return flipped_answer(text, asked, answers, current)


def reopen_listed(data: dict, correction: tuple[str, str, str] | None = None) -> bool | str:
    """The answers a material list was made from (data["listed"]) being answered again: with
    `correction` (key, answer, what it says) applied, returning what it says; else with the last
    answer taken back, returning whether there was one (its question is asked next)."""
    answers = data.pop("listed")
    data["answers"] = answers
    if correction is None:
        return drop_last_answer(data)
    key, answer, said = correction
    answers[key] = answer
    return said


class ListedAnswers:
    """What a guide's card (Matters) and a bundle's card (Bundles) do with the answers their
    material list was made from: an answer put right gives the list again (`show_corrected_list`),
    刚才点错了 asks the last question again (`ask_last_again`). Each dialog says which correction
    the message makes (`_listed_correction`) and how its list is shown (`show_materials`)."""

    __slots__ = ()

    def corrects_listed(self) -> bool:
        return self._listed_correction() is not None

    def show_corrected_list(self):
        self.say("matters/corrected.j2", option=reopen_listed(self.data, self._listed_correction()))
        self.show_materials()

    def takes_back_listed(self) -> bool:
        return bool(self.data.get("listed")) and TAKE_BACK.search(self.word) is not None

    def ask_last_again(self):
        self.say("matters/asked_again.j2", earlier=reopen_listed(self.data))
        Dialog.ask(self)  # the situation question: never read as an answer to it


def explained(question: Question, guides) -> dict:
    """What a situation question is for, to tell someone who asks what it means or does not know:
    the situation a yes/no asks about and the materials a yes adds (from `guides`), or that a
    choice's options need different materials."""
    if question.options:
        return {"situation": "", "adds": [], "choice": True}
    code = question.key[2:]
    name = next((s.name for g in guides for s in g.situations if s.code == code), "")
    adds = list(dict.fromkeys(m.name for g in guides for m in g.materials if m.required == "situational" and code in m.situations))
    return {"situation": name, "adds": adds, "choice": False}


def drop_last_answer(data: dict) -> bool:
    """Forget the latest answer to a situation question (asked again next): False when none was given."""
    answers = data.get("answers")
    if not answers:
        return False
    answers.pop(next(reversed(answers)))
    return True
#: A negated option (不是头一回办, 并不是丢了): left out when options are named, so the other one counts.
_NEGATED = re.compile(r"(?:并不是|而不是|不是|没有|没得|没)[^是，,。.！!？?\s]{1,8}")


def _guide_says(guide, words: str) -> bool:
    """Whether any line of the guide (conditions, process, materials' notes) says `words`."""
    return any(words in line for line in (*guide.conditions, *guide.process, *(m.note for m in guide.materials)))


def agent_of(guide) -> dict:
    """For matters/agent.j2: whether the guide lets someone else do it (a 委托他人代办 situation)
    and what that adds to the list."""
    codes = {s.code for s in guide.situations if "代" in s.name or "委托" in s.name}
    return {"allowed": bool(codes),
            "materials": [m for m in guide.materials if m.required == "situational" and codes.intersection(m.situations)]}


def answer_to(question: Question, dialog: Dialog) -> str | None:
    """What this message answers `question`: an option's code, "yes" or "no"; None when it is no
    answer. An option by its number (2, 第二个), by its name or a word of two characters or more
    of it that no other option has (第一次办 租的房子 -> 首次申领); yes / no in any words the
    understanding reads as one (是的, 不用了)."""
    text = dialog.word
    if question.options:
        options = question.options
        n = int(text) if text.isascii() and text.isdigit() else dialog.slot("choice")
        if n is not None:
            n = len(options) if n == -1 else n
            return options[n - 1].code if 1 <= n <= len(options) else None
        return named_option(options, text)
    if asks_what_it_means(text):
        return None  # 不知道 / 不确定 / 这是什么意思: no answer (not a no for its 不), explained
    if text in YES or text in NO:
        return "yes" if text in YES else "no"
    if (hedged := _HEDGED.fullmatch(text)) is not None:  # 那就按是吧, 算是吧, 应该没有吧, 就按否
        return "yes" if hedged["word"] in YES else "no"
    if (excluded := _NOT_THIS.search(question.text)) is not None and (at := text.find(excluded[1][0])) >= 0 \
            and text[at - 1:at] not in ("不", "没"):
        return "no"  # 结婚证是破损了吗（不是丢失）？ answered 丢了 找不到了 / 没破 是丢了 (它 was read as 是)
    if _THANKS_TAIL.sub("", text) in ACKNOWLEDGED and not _OFFERED.search(question.text):
        return None  # 好的(谢谢你啊) to 是由他人代您办理吗 says nothing of who goes: asked again
    if len(text) <= SAID_BACK_CHARS and _SHORT_OF.search(question.text) and _SAYS_SHORT.search(text):
        return "yes"  # 缴费年限不足15年吗 answered 不够 (not "no": it agrees), 我只交了十年 不够十五年
    if _DROPS_IT.match(text) and ASKING.search(text):
        return None  # 算了 先问下 户口本丢了咋办: another question, not 算了 (否) to this one
    yes = outside_said(question.text, text)  # before a plain 不是: 不是在医院生的 to 是在医院外出生的吗 is a yes
    if yes is None:
        yes = dialog.slot("yes_no")
    if yes is None:  # a yes or no first, then why (不是 我自己去, 没有 才两周, no, just me)
        first = first_clause(text)
        vocab = vocabulary()
        if first != text and (first in YES or first in vocab.yes) != (first in NO or first in vocab.no):
            yes = first in YES or first in vocab.yes
        elif first != text and (hedged := _HEDGED.fullmatch(first)) is not None:
            yes = hedged["word"] in YES  # 应该不是吧 卡是我自己的
    if yes is None and any(cue in question.text for cue in BY_ANOTHER_ASKED):
        yes = by_another(text)  # 是由他人代您办理吗 answered with who goes: 我自己 (no), 我儿子去 (yes)
        if yes and _KIN_SAID.search(text) and not _SENDS.search(text) and _about_the_dead(dialog):
            yes = False  # 身后一件事 answered 我是他儿子: the family applies; nobody acts for them
    if yes is None:
        yes = by_age(question.text, text)  # 您年满70周岁了吗 answered 我今年46
    if yes is None:
        yes = age_said_back(question.text, text)  # 办证的人未满16周岁吗 answered 宝宝当然未满啊
    if yes is None:
        yes = by_amount(question.text, text)  # 缴费年限不足15年吗 answered 交了12年, 超过一个月了吗 answered 才半个月
    if yes is None:
        yes = denied_back(question.text, text)  # 已登记结婚吗 answered 没结婚, 未婚, 还没领证
    if yes is None:
        yes = had_said_back(question.text, text)  # 家中有重度残疾人吗 answered 我儿子有残疾证
    if yes is None and len(text) <= SHORT_DENIAL and text[:1] in "不没" and not shares_words(question.text, text):
        yes = False  # 没变过, 不消, 没得 (not 没结婚 to 已登记结婚吗: that says the question's words)
    if yes is None:  # 已登记结婚吗 answered 结了 (结了 后来离了: its first clause; 在广东打过几年工 交过: its last)
        yes = verb_said_back(question.text, text)
        if yes is None and (first := first_clause(text)) != text:
            yes = verb_said_back(question.text, first)
            if yes is None:
                yes = verb_said_back(question.text, _LAST_CLAUSE.split(text)[-1])
    if yes is None and any(w in question.text for w in ("共同", "配偶", "一起", "同时提取")):
        if _ALONE.search(text):
            yes = False  # 就我一个人开
        elif _TOGETHER.search(text):
            yes = _DENIAL.search(text) is None  # 是家庭成员共同经营吗 answered 我和老婆一起开
    return None if yes is None else "yes" if yes else "no"


#: A yes or no said with a hedge or as a choice (那就按是吧, 算是吧, 应该没有吧, 就选否).
_HEDGED = re.compile(r"(?:那|那就|就|那我|我)?(?:算|应该|应该是|大概|估计|好像|按|选|当)+(?P<word>是|否|有|没有|不是|对|不对|不)(?:的)?(?:吧|呗|啊|哦|了)?")

#: What a question says it is not about (是破损了吗（不是丢失）): an answer naming that is a no.
_NOT_THIS = re.compile(r"[（(]不是([^）)]+)[）)]")
#: A message that drops the question for another (算了 先问下…, 等等 我想问…, 对了…).
_DROPS_IT = re.compile(r"(?:算了|等等|等一下|先不说这个|先不管这个|对了|顺便问下|先问下|先问一下)[，,。\s]+\S")
_LAST_CLAUSE = re.compile(r"[，,。！!；;\s]+")
#: Thanks after a mere acknowledgement (好的谢谢你啊): still no answer.
_THANKS_TAIL = re.compile(r"[，,\s]*(?:谢谢|多谢|感谢|谢了|谢啦)(?:你|您)?(?:啊|呀|哈|了|啦|哦)?$")
#: A question asking whether something falls short (不足15年, 不够, 未满) ...
_SHORT_OF = re.compile(r"不足|不够|不满|未满|不到|少于|低于")
#: ... answered by saying it does: a yes, though it is said with 不 (不够, 没满, 差两年).
_SAYS_SHORT = re.compile(r"不够|不足|不满|没满|未满|不到|没到|少于|低于|差[一二两三四五六七八九十几\d]")
#: An amount asked about against a limit (不足15年, 超过一个月, 满6个月) and one said (交了12年, 才半个月).
_AMOUNT_ASKED = re.compile(r"(不足|未满|不满|不到|少于|低于|超过|满|已满|达到)\s*(\d{1,3}|[零〇一二两三四五六七八九十]{1,3})\s*(?:个)?(年|月|天|周)")
_AMOUNT_SAID = re.compile(r"(\d{1,3}|[零〇一二两三四五六七八九十]{1,3}|半)\s*(?:个)?(多)?(年|月|天|周|礼拜|星期)")
_DAYS = {"年": 365, "月": 30, "天": 1, "周": 7, "礼拜": 7, "星期": 7}


def by_amount(question: str, text: str) -> bool | None:
    """An amount of time said to a question about a limit (缴费年限不足15年吗 answered 交了12年: yes;
    孩子出生超过一个月了吗 answered 才半个月: no); None when none is said or the units differ much."""
    asked = _AMOUNT_ASKED.search(question)
    said = _AMOUNT_SAID.search(text) if asked is not None and len(text) <= SAID_BACK_CHARS else None
    if said is None:
        return None
    limit = number(asked[2])
    told = 0.5 if said[1] == "半" else number(said[1])
    if limit is None or told is None:
        return None
    days, limit_days = told * _DAYS[said[3]] + (1 if said[2] else 0), limit * _DAYS[asked[3]]
    return days < limit_days if asked[1] in ("不足", "未满", "不满", "不到", "少于", "低于") else days > limit_days if asked[1] == "超过" else days >= limit_days


#: A question whether something happened outside a place (是在医院外出生的吗): the place it names.
_OUTSIDE_ASKED = re.compile(r"在(\w{2,4}?)外")
#: Somewhere else named instead (在家里生的, 路上生的, 车上就生了).
_ELSEWHERE = re.compile(r"在家|家里|家中|屋头|屋里|路上|车上|半路|途中|救护车|出租车")
_CLAUSES = re.compile(r"[，,。.！!？?；;、\s]+")


def outside_said(question: str, text: str) -> bool | None:
    """An answer to whether something happened outside a place (是在医院外出生的吗) that names the
    place: in the clause naming it, the place denied (不是在医院生的, 没去医院, 来不及去医院) or its
    outside said (医院外面) is a yes, the place alone (在县医院生的; 不是，在医院生的) a no; another
    place named (在家里生的, 路上生的) is a yes. None for a question of another kind, or no place said."""
    asked = _OUTSIDE_ASKED.search(question)
    if asked is None:
        return None
    place = asked[1]
    for clause in _CLAUSES.split(text):
        if place in clause:
            at = clause.index(place)
            return f"{place}外" in clause or "外面" in clause or _DENIAL.search(clause[:at]) is not None
    return True if _ELSEWHERE.search(text) else None
#: Words of a question too common to count as shared with its answer (您, 是, 吗 ...).
_QUESTION_FILLER = re.compile(r"[您你的吗呢是否了？?，,。\s]|请问|需要|是否|有没有|是不是")
_DENIAL = re.compile(r"[不没非无别]")


def shares_words(question: str, text: str) -> bool:
    """Whether `text` says two characters or more of the question's own words."""
    return shared_words(question, text) > 0


def shared_words(question: str, text: str) -> int:
    """How many pairs of characters of the question's own words `text` says."""
    core = _QUESTION_FILLER.sub(" ", question)
    pieces = {w[i:i + 2] for w in core.split() for i in range(len(w) - 1)}
    return sum(piece in text for piece in pieces if all("\u4e00" <= c <= "\u9fff" for c in piece))


_HAS = re.compile(r"(?<![没不])有")
_HAS_NOT = re.compile(r"没有|没得|莫得|无")


def had_said_back(question: str, text: str) -> bool | None:
    """A question whether there is something (家中有重病患者或重度残疾人吗) answered by saying one has
    it in the question's own words (我儿子有残疾证: yes) or has not (家里没有残疾人: no)."""
    if "有" not in question or not shares_words(question, text):
        return None
    if _HAS_NOT.search(text):
        return False
    return True if _HAS.search(text) else None


def age_said_back(question: str, text: str) -> bool | None:
    """A question about an age boundary (未满16周岁吗) answered with its word said back: 宝宝当然未满啊,
    还没满16 (yes); None otherwise. Only the boundary word counts, and nothing else denied."""
    asked = _AGE_ASKED.search(question)
    if asked is None or len(text) > SAID_BACK_CHARS:
        return None
    said = text.replace("没满", "未满").replace("不到", "未满").replace("不满", "未满")
    word = "未满" if asked[1] in ("未满", "不满", "不到") else asked[1]
    if word not in said:
        return None
    return _DENIAL.search(said.replace(word, "")) is None


#: Doing something together, said for 共同 (我和老婆一起开).
_TOGETHER = re.compile(r"一起|一块|一块儿|合伙|两口子|夫妻")
#: Doing it alone, said for no to 共同 (就我一个人开).
_ALONE = re.compile(r"(?:我|俺|自己)一个人|一个人(?:开|干|做|经营|搞)|就我自己|光我自己|就我一个|只有我|^(?:就|只)?(?:我|俺)(?:自己)?$|只(?:取|提|办)?我(?:自己)?的")


def verb_said_back(question: str, text: str) -> bool | None:
    """A yes/no question answered with one of its own characters and 了 (已登记结婚吗: 结了, 办了):
    yes; with 没 or 不 before it (没结), no. Only a message of two or three characters."""
    if not 2 <= len(text) <= 3 or text[-1] not in "了过啦咯":
        return None
    core = _QUESTION_FILLER.sub("", question)
    verb = text[-2]
    if verb not in core or not "\u4e00" <= verb <= "\u9fff":
        return None
    return text[0] not in "没不未" if len(text) == 3 else True


#: A denial said with the question's own word (没结婚, 还没有登记, 未参保) ...
_DENIED_WORD = re.compile(r"^(?:我们|我俩|俺们|他们|孩子|我)?(?:还|都|也|从来)?(?:没有?|未曾?|不曾|没得|莫得)(?:去|有)?(\w{2})")
#: ... and marriage, asked of so many matters, in the words people use for it.
_MARRIAGE_ASKED = re.compile(r"结婚|婚姻|已婚|配偶|夫妻")
_UNMARRIED = re.compile(r"未婚|单身|没(?:有)?(?:领|扯|拿|办)(?:结婚)?证|没(?:有)?结(?:过)?婚|还没(?:有)?结|非婚"
                        # a wedding still to come (准备下个月领证, 打算明年结婚): not married yet
                        r"|(?:准备|打算|计划|要去|想|过几天|过段时间|下个?月|下周|明年|年底)[^，,。]{0,6}(?:领|扯|拿|办)?(?:结婚)?(?:证|结婚|办酒)")
_MARRIED = re.compile(r"已婚|已经(?:领|扯|拿)|(?:领|扯|拿)了(?:结婚)?证|(?:领|扯|拿)(?:结婚)?证了|结了婚|结婚了")


def denied_back(question: str, text: str) -> bool | None:
    """A short answer that denies with the question's own word (已登记结婚吗: 没结婚, 还没有登记):
    no; to a question about marriage, its everyday words (未婚, 还没领证: no; 已婚, 领证了: yes).
    None otherwise. Only a message of a few words: a longer one tells more."""
    if len(text) > SAID_BACK_CHARS:
        return None
    if _MARRIAGE_ASKED.search(question):
        if _UNMARRIED.search(text):
            return False
        if _MARRIED.search(text) and _DENIAL.search(text) is None:
            return True
    denied = _DENIED_WORD.match(text)
    if denied is not None and denied[1] in _QUESTION_FILLER.sub("", question):
        return False
    return None


#: An answer said back is short: a longer message says more than yes or no.
SAID_BACK_CHARS = 12
#: A denial of a few characters (没变过, 不消) answers a yes/no question with no.
SHORT_DENIAL = 4


#: What makes a message at a situation question a question of its own (社保能转过来不, 在哪办): an
#: answer in one's own words (在市人民医院生的, 单位帮我报) has none, and is not searched, so the
#: answers given so far are not lost to a list of matters.
ASKING = re.compile(r"[吗么呢？?]|怎么|咋|如何|能不能|可不可以|可以|能[^，,。 ]{0,8}不|哪|什么|啥|多少|几|多久|多长|何时|要不要|是否|有没有|"
                    r"行不行|成不成|好不好|对不对|是不是|想办|想问|办理|申请|(?:能|可以|行)[^，,。 ]{0,4}吧")


#: A correction of what the card is (不是，我是要注销不是办新的; 不对，是补办不是新办).
_CORRECTS = re.compile(r"^(?:不是|不对|错了|搞错了|说错了|弄错了)|不是要?(?:办|新办|申请)?[^，,。]{0,4}[，, ]*(?:是|我是|而是)要?|是要?[^，,。]{1,4}不是")
#: What a matter's name says it does (设立登记, 新办, 补办 …) and its qualifiers: the rest is its subject.
_WHAT_IT_DOES = re.compile(r"（[^）]*）|\([^)]*\)|设立登记|注销登记|变更登记|挂失补办|新办|注销|变更|补办|挂失|换领|补领|申领|核发|延续|首次|"
                           r"签发|备案|登记|申请|办理|审批|发放|认定")


def _subject(name: str) -> str:
    """A matter's subject without what is done to it (公司设立登记 -> 公司, 残疾人证新办 -> 残疾人证)."""
    return _WHAT_IT_DOES.sub("", name) or name

#: Who someone is or what they have, told (我是外地户口, 我们有居住证, 他有残疾证, 她已经退休了, 孩子才3个月):
#: a circumstance, never a request for the paper it names.
_STATUS = re.compile(r"(?:我|我们|他|她|他们|俺|咱|孩子|娃|小孩|老人|我爸|我妈|爸爸|妈妈|老公|老婆|我老公|我老婆|儿子|女儿|家里)?"
                     r"(?:俩|两个|两口子)?(?:都|也|还|本来)?(?:是|有了?|满|已经|才|刚|没有|没得|不是)")

#: A household's circumstances, told in a sentence of their own (我老公生病了，两个孩子在读书; 她
#:一个人住，儿女都在外地打工): a situation, read with the card's question like a status.
_CIRCUMSTANCE = re.compile(r"生病|病了|患了|住院|残疾|瘫|卧床|去世|走了|过世|失业|下岗|没工作|没有工作|离婚|离异|单亲|怀孕|"
                           r"在读|读书|上学|打工|退休|困难|没钱|收入|一个人住|独居|孤寡|无儿无女|欠债")
#: The last character of a paper's name (身份证, 社保卡, 户口本, 户口簿, 营业执照).
_PAPER_ENDS = frozenset("证卡本簿照")
#: A new need announced (对了…, 还有…, 另外…) or wanted (想…, 要办…): never a circumstance of the card.
_NEW_NEED = re.compile(r"对了|还有|另外|顺便|想|要办|要去|要给|办个|办张|补个")

#: Something set against another (我是开公司的，不是个体户): what it is not, said.
_CONTRAST = re.compile(r"不是|而是|并非|并不是")


#: How far down what a few words find alone a listed matter may be for the words to name it
#: (先补身份证: second): 出租房登记 found 住房保障家庭租赁补贴发放 fourth, and opened it.
NAMES_LISTED_RANK = 2
#: A circumstance told of someone (他户口不在广安, 我没有工作): not the name of a listed matter,
#: though it shares a word with one (户口迁移审批).
_SOMEONES_CIRCUMSTANCE = re.compile(r"(?:我|他|她|俺|咱|孩子|老人)[^，,。]{0,6}(?:不|没)")


def _tells(text: str) -> bool:
    """Whether a short message tells a circumstance rather than asks (我们公司已经开过户了); one that
    sets something against another (我是开公司的，不是个体户) says what it is not, and is searched."""
    return len(text) <= TOLD_CHARS and ASKING.search(text) is None and _CONTRAST.search(text) is None



#: Words of a question that asks whether someone else acts for the applicant (是由他人代您办理吗).
BY_ANOTHER_ASKED = ("代您", "代办", "代为", "委托")
_MYSELF = re.compile(r"^(?:是|就|都是|还是)?(?:我|我们|俺|咱)?(?:自己|本人|亲自|自个|自个儿)|^(?:我|俺|咱)(?:去|来|办|过去)")
# Not 孩子: a parent doing a child's matter (给孩子上户口) is its guardian, not an agent for it.
_FOR_ANOTHER = re.compile(r"[帮替给代](?:我)?(?:妈|爸|父亲|母亲|老人|家人|儿子|女儿|老公|老婆|爱人|媳妇|丈夫|妻子|公公|婆婆|岳父|岳母|爷爷|奶奶|外公|外婆|朋友|亲戚|他|她)")
#: Someone sent in one's place (让我儿子去办, 叫闺女来): another acts, whatever else is said of oneself.
_SENDS = re.compile(r"[让叫请派托喊](?:我|俺)?(?:的|家)?(?:儿子|女儿|闺女|孩子|老伴|老婆|老公|爱人|媳妇|丈夫|妻子|家人|亲戚|朋友|同事|哥|姐|弟|妹|侄|外甥|孙|他|她|别人)"
                    r"[^，,。]{0,4}?(?:去|来|帮|代|办|跑)")
#: The applicant cannot go (她卧床去不了，我去办可以吗, 我腿脚不好去不了): someone else acts for them.
_CANNOT_GO = re.compile(r"去不了|来不了|走不了|走不动|下不了床|卧床|瘫痪|瘫在床|行动不便|腿脚不便|出不了门|不方便(?:去|过去|出门|走)")
_I_GO = re.compile(r"(?:我|俺|咱)(?:自己|本人|亲自)(?:去|来|过去)?(?:办|去|来)|我本人(?:去|来|办)|本人亲自")
_ANOTHER = re.compile(r"儿子|女儿|闺女|老伴|老婆|老公|爱人|媳妇|丈夫|妻子|家人|家里人|亲戚|朋友|同事|父亲|母亲|爸|妈|哥|姐|弟|妹"
                      r"|帮我|替我|代我|委托|别人|他人|代办")


_AGE_ASKED = re.compile(r"(年满|满|超过|已满|未满|不满|不到)(\d{1,3})(?:周岁|岁)")
_AGE_SAID = re.compile(r"^(?:我|他|她|老人|孩子|办卡人|申请人)?(?:今年|现在|已经)?(\d{1,3})(?:岁|周岁)?(?:了|啦)?$")
#: An age told inside a sentence (不是小孩 我七十八了, 俺42了 不是娃娃, 宝宝才一个月): in years, or in
#: months or days (under one year).
_AGE_TOLD = re.compile(r"(?:我|俺|他|她|老人|孩子|宝宝|娃|娃娃|小孩|今年|现在|已经|都|才|刚)(?:今年|现在|已经|都|才|刚)?"
                       r"([\d一二三四五六七八九十两百]{1,4})(?:周岁|岁|个多月|个月|多天|天)?(?:多)?(?:了|啦|咯)"
                       r"|([\d一二三四五六七八九十两]{1,3})(个多月|个月|多天|天)(?:了|啦|大|的)?")
_MONTHS = ("个多月", "个月", "多天", "天")


def _age_in_text(text: str) -> int | None:
    """The age (in whole years) a sentence tells, when it tells one."""
    told = _AGE_TOLD.search(text)
    if told is None:
        return None
    if told[2]:  # 一个月, 二十天: under a year
        return 0
    unit = text[told.end(1):told.end()]
    value = number(told[1])
    if value is None:
        return None
    return 0 if unit.startswith(_MONTHS) else value


def by_age(question: str, text: str) -> bool | None:
    """An age said to a question about one (您年满70周岁了吗 answered 我今年46, 不是小孩 我七十八了: no)."""
    asked, said = _AGE_ASKED.search(question), _AGE_SAID.match(text.replace(" ", ""))
    if asked is None:
        return None
    told = int(said[1]) if said is not None else _age_in_text(text)
    if told is None or not 0 <= told <= 120 or (said is not None and told == 0):
        return None
    age, limit = told, int(asked[2])
    return age < limit if asked[1] in ("未满", "不满", "不到") else age > limit if asked[1] == "超过" else age >= limit


#: One's kinship to the person a matter is about, told (我是他儿子, 我是她老伴).
_KIN_SAID = re.compile(r"^(?:我|俺)是(?:他|她|死者|逝者|老人|亡者)?(?:的)?(?:儿子|女儿|闺女|老伴|老婆|老公|爱人|媳妇|丈夫|妻子|家属|亲属|孙子|孙女|外孙|父亲|母亲|哥|姐|弟|妹)")


def _about_the_dead(dialog: Dialog) -> bool:
    """Whether the bundle or matter being asked about is about someone who died: its applicant
    is the family, and telling one's kinship says who applies, not that someone acts for them."""
    catalog = dialog.services.catalog
    bundle = catalog.bundles.get(dialog.data.get("bundle") or "")
    if bundle is not None:
        return AFTER_A_DEATH.search(bundle.name) is not None
    guide = catalog.guide(dialog.data.get("code") or "")
    return guide is not None and AFTER_A_DEATH.search(guide.name) is not None


def by_another(text: str, told_ahead: bool = False) -> bool | None:
    """Who goes, read as the answer to whether another acts for the applicant: oneself (我自己, 本人
    去) is no, someone named (我儿子去, 让我女儿帮我办) is yes; None when neither or both are said.
    Saying one goes oneself (我是他女儿 我自己去办) decides it, whoever else is named."""
    if _FOR_ANOTHER.search(text) or _SENDS.search(text) or _CANNOT_GO.search(text):
        return True  # 帮我妈办 我自己去: the one writing acts for someone else; 让我儿子去办, 她卧床去不了: another goes
    if _I_GO.search(text):
        return False
    if told_ahead:  # a question told with its circumstances: someone named (我和老伴都退休了) is no answer
        return None
    mine, theirs = _MYSELF.search(text) is not None, _ANOTHER.search(text) is not None
    return None if mine == theirs else theirs



def _questions_left(guide, told: str) -> bool:
    """Whether `guide` (None: no) has situation questions the words `told` do not answer already."""
    if guide is None:
        return False
    answered = answers_told(guide, normalise(told))
    return any(q.key not in answered for q in questions_for(guide))


#: A question this short (社保卡丢了) names an option by one of its words; a longer one by two.
SHORT_TOLD = 10


def answers_told(guide, text: str) -> dict[str, str]:
    """The guide's situation questions that a question told with its circumstances answers
    already (我妈68岁…我代她去办: 代办 yes; 身份证丢了: the loss option): only what is said
    outright (who goes, an age, an option named), never a yes or no guessed from other words."""
    found: dict[str, str] = {}
    # what the matter itself is about names no option of it (单位交了生育保险 is no 灵活就业参加生育保险)
    common = frozenset(_pieces(normalise(guide.name + "".join(guide.conditions))))
    named = frozenset(_pieces(normalise(guide.name)))  # (生育津贴要什么材料 names no option with 生育)
    least = 1 if len(text) <= SHORT_TOLD else 2  # 社保卡丢了 says the loss in one word; a letter must say more
    for question in questions_for(guide):
        if question.options:
            # in a short question a word only one option has tells it apart, even where the conditions
            # list every option (社保卡丢了: 遗失 is in 社会保障卡遗失、损坏、有效期满… and in 遗失补领 alone)
            pieces = [_pieces(normalise(o.name)) for o in question.options]
            own = {p for i, mine in enumerate(pieces) for p in mine if not any(p in other for j, other in enumerate(pieces) if j != i)}
            code = named_option(question.options, text, least=least, common=named | (common - own) if least == 1 else common)
        else:
            said = by_another(text, told_ahead=True) if any(cue in question.text for cue in BY_ANOTHER_ASKED) else None
            said = by_age(question.text, text) if said is None else said
            code = None if said is None else "yes" if said else "no"
        if code is not None:
            found[question.key] = code
    return found


#: Everyday words for what guides say otherwise, read before a question is matched to its guide.
GUIDE_WORDS = (("走不动", "行动不便"), ("腿脚不好", "行动不便"), ("腿脚不方便", "行动不便"), ("下不了楼", "行动不便"),
               ("出不了门", "行动不便"), ("瘫痪", "行动不便"), ("卧床", "行动不便"), ("上门来", "上门"), ("到家里", "上门"),
               ("寄过来", "邮寄"), ("寄给我", "邮寄"), ("快递", "邮寄"), ("当天", "当场"), ("马上", "当场"))
#: Two-character pieces that say nothing of a question's subject (怎么, 可以, 需要 ...).
_ASKING_PIECES = frozenset(("怎么", "可以", "能不", "不能", "需要", "什么", "办理", "一下", "我的", "是不", "不是", "要不", "有没",
                            "没有", "能否", "如何", "请问", "这个", "那个", "给我", "我们", "你们", "的话", "时候", "现在"))
GUIDE_PIECES = 2  # the fewest such pieces a question shares with a guide's line for the line to answer it
SHORT_ASKED = 6  # a question this short needs one piece only


def _pieces(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1) if all("\u4e00" <= c <= "\u9fff" for c in text[i:i + 2])}


def guide_passage(guide, text: str) -> str | None:
    """The line of a guide (a condition, a step, a material and its note) that a question asked at
    its card is about (我走不动路 能不能上门来办: 行动不便的…可申请上门服务), when one clearly is:
    it shares GUIDE_PIECES pieces or more with the question, beyond the matter's own name, and more
    than any other line."""
    said = text
    for word, meant in GUIDE_WORDS:
        said = said.replace(word, meant)
    asked = _pieces(said) - _pieces(guide.name) - _ASKING_PIECES
    if not asked:
        return None
    lines = [*guide.conditions, *guide.process, *(f"{m.name}：{m.note}" if m.note else m.name for m in guide.materials)]
    scored = sorted(((len(asked & _pieces(line)), line) for line in lines), key=lambda pair: -pair[0])
    # a short question (要带照片吗, 要体检吗) names one thing: one piece shared, by one line alone, says it
    least = 1 if len(said) <= SHORT_ASKED else GUIDE_PIECES
    if not scored or scored[0][0] < least or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]


def named_option(options: tuple, text: str, least: int = 1, common: frozenset[str] = frozenset()) -> str | None:
    """The code of the one option that `text` (normalised) names by its words, or None: the option
    the words name most (期满换证: 有效期满换证 holds it whole, 损毁换证 only shares 换证); what is
    said to be not the case (不是头一回办 是过期了换) does not name. `least`: the fewest of the
    option's two-character pieces that must be said (a letter, read ahead, must say more than one).
    `common`: pieces that name no option (the matter's own words: 生育保险 of 生育津贴's conditions)."""
    plain = _NEGATED.sub(" ", text).strip()  # 不是第一次 alone names nothing
    said = plain
    for word, meant in OPTION_WORDS:
        said = said.replace(word, meant)
    # said as the person put it, or in the guide's words (租房提取 is an option's own name; 租房 is 住所 to another)
    scores = [(max(_names(said, normalise(s.name), common), _names(plain, normalise(s.name), common)), s.code) for s in options] if said else []
    best = max((score for score, _ in scores), default=0)
    named = [code for score, code in scores if score == best and best >= least]
    return named[0] if len(named) == 1 else None


def _names(said: str, name: str, common: frozenset[str] = frozenset()) -> int:
    """How strongly `said` names the option called `name` (0: not at all): the one in the other
    beats any number of the name's two-character pieces it holds (首次 of 首次申领), `common` ones aside."""
    if said in name or name in said:
        return 1000
    return sum(name[i:i + 2] in said for i in range(len(name) - 1)
               if all("\u4e00" <= c <= "\u9fff" for c in name[i:i + 2]) and name[i:i + 2] not in common)


def questions_for(guide) -> list[Question]:
    """The questions that change this guide's material list, in the guide's order: one choice
    per group of exclusive situations, one yes/no per independent situation. Situations that no
    material depends on are not asked."""
    used = {code for m in guide.materials if m.required == "situational" for code in m.situations}
    asked: list[Question] = []
    seen_groups: set[str] = set()
    for situation in guide.situations:
        if situation.group:
            if situation.group in seen_groups:
                continue
            seen_groups.add(situation.group)
            members = tuple(s for s in guide.situations if s.group == situation.group)
            if any(s.code in used for s in members):
                asked.append(Question(f"g:{situation.group}", "请问您是哪种情况？", members))
        elif situation.code in used:
            asked.append(Question(f"s:{situation.code}", situation.question, ()))
    return asked


def follow_ups_for(guide) -> list[tuple[str, str, str]]:
    """The card's follow-ups as (number, title, key), numbered in order: 预约 only for a matter
    that takes window appointments (the catalog's `bookable`), so none is offered in vain."""
    keys = [key for key in FOLLOW_UPS if key != "booking" or guide is None or guide.bookable]
    return [(str(n), FOLLOW_UPS[key][0], key) for n, key in enumerate(keys, 1)]


def online_way(guide) -> str:
    """How far a matter can be done online, the one answer both the card and 在线办理 give:
    "full" (全程网办), "apply" (apply online, then go once) or "offline". The platform's depth is
    the fact; a missing entry link changes where to find the entry, not the answer."""
    if guide.online_depth >= 4:
        return "full"
    return "apply" if guide.online_depth >= 2 else "offline"


def situations_key(code: str) -> str:
    """Where a session remembers the situation answered on a guide (or a bundle) by its code
    (`Dialog.remember`): a booking of it made later lists what to bring for that situation."""
    return f"situations:{code}"


def materials_for(guide, chosen: set[str]) -> list:
    return [m for m in guide.materials if m.required == "always" or chosen.intersection(m.situations)]


class Matters(ListedAnswers, Dialog):
    name = "matters"
    title = "办事指南"
    JUST_LOOKING = True
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    PROMPTS = {"asking": "matters/ask.j2", "choosing": "matters/choose_again.j2", "guide": "matters/follow_ups.j2", "situation": "matters/question.j2"}
    EXPECTS = {"choosing": frozenset({"choice"}), "guide": frozenset({"choice"}), "situation": frozenset({"choice", "yes_no"})}
    DONE = frozenset({"guide"})
    FREE_TEXT = frozenset(STATES)  # every step searches what it does not understand (a question: what answers none of it)
    NOT_RESUMED = frozenset({"asking", "choosing"})  # a search's list is asked again, never offered as work left

    __slots__ = ("_found", "_answered", "_corrected", "_taken_back", "_outcome", "_read_follow_up", "_refined", "_told_of_card",
                 "_asked_of_card")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._found = None  # the search's verdict on this message (prepared), or None: not searched
        self._answered = False  # this message answered the situation question (prepared)
        self._corrected: str | None = None  # the option an earlier answer was changed to (prepared)
        self._taken_back = False  # this message takes back the latest answer without a new one (prepared)
        self._outcome: tuple[str, str] | None = None  # (outcome, query) to count for operators
        self._read_follow_up: tuple[str | None, str | None] | None = None  # (the card's code, the follow-up asked) this turn
        self._refined: str | None = None  # the list's question with this message's words added, when they narrowed it
        self._told_of_card: str | None = None  # the card's question with a circumstance told at it, when it is still the card's (prepared)
        self._asked_of_card = False  # a question at a card that, read with the card's question, is the card's (prepared)

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """预约 / 约个时间 on a card books the card's matter: never a dialog paused before it (the
        hall list the card was reached from) taking the word back."""
        if state == "choosing":  # 是 / 对的 / 8 at the list: about the list (small talk answered 好的。)
            word = normalise(text)
            return word in LIST_AGREES or (word.isascii() and word.isdigit() and len(word) <= 3)
        if state != "guide" or "我的预约" in text or about_my_appointments(text):
            return False  # 我的预约: theirs, wherever it is said
        return booking_query(text) is not None or follow_up_asked(normalise(text)) == "booking"

    def prompt_context(self):
        guide = self._guide()
        guideless = self.state == "guide" and guide is None  # no follow-ups to offer: the list it came from, if any
        return {"follow_ups": [] if guideless else follow_ups_for(guide), "guide": guide, "question": self._next_question(),
                "hits": self._candidate_rows() if self.state == "choosing" or (guideless and self.data.get("candidates")) else []}

    def _candidate_rows(self) -> list[dict]:
        """The list on screen as names (返回 from a card, or a miss at the list, shows it again)."""
        catalog, rows = self.services.catalog, []
        for code in self.data.get("candidates", []):
            bundle = catalog.bundles.get(code) if catalog is not None else None
            summary = catalog.summary(code) if catalog is not None and bundle is None else None
            if bundle is not None:
                rows.append({"name": bundle.name, "department": "一件事一次办"})
            elif summary is not None:
                rows.append({"name": summary.name, "department": summary.department})
        return rows

    def ask(self):
        if self.state != "choosing":
            self.data.pop(PICK_FIRST_SAID, None)  # a list reached again later is told in full once more
        catalog = self.services.catalog
        if self.state == "guide" and catalog is not None and self._guide() is not None:  # one follow-up list per kind of card: rendered once per catalog
            render = self.services.render
            follow_ups = follow_ups_for(self._guide())
            key = ("prompt", "guide", tuple(k for _, _, k in follow_ups))
            self.replies.append(Reply(catalog.derived(key, lambda: render(self.PROMPTS["guide"], follow_ups=follow_ups))))
            return
        super().ask()

    # Searching -------------------------------------------------------------------------------

    def _query(self) -> str:
        """What to search: the text carried in from another dialog on start, else what was typed."""
        return self.data["query"] if "query" in self.data else self.text

    # Prepare: the I/O a message needs, once, before the guards read what it found.

    async def search_carried(self):
        """On start, only a text carried in is searched (the message that opened us was a menu choice)."""
        self.data.setdefault("query", "")
        await self._search()

    async def search_typed(self):
        """A typed text is searched, unless it is the card's follow-up word or a number picked
        from the list on screen (those rows answer it without the search)."""
        self.data.pop("query", None)  # what a start carried (预约办老年人优待证) is not what is typed now
        if self.state == "guide" and (self._follow_up() is not None or self.asks_unnotify() or self.asks_guideless_follow_up()
                                      or self.corrects_listed() or self.takes_back_listed()):
            return
        if self.state == "choosing" and (self._picked() is not None or booking_query(self.text) is not None or self.tells_when_to_book()
                                         or self.asks_follow_up_of_list() or self.picks_number_not_listed() or self.only_agrees()):
            return  # a pick, or 预约 (of one of them, or of something named: the booking searches), or when
        await self._search()

    async def _search(self):
        query = self._query().strip()
        self._found = await self.services.catalog.find(query, top=MAX_CANDIDATES) if query else None
        if self.state == "choosing" and self._found is not None and not self._names_another_matter(self._found):
            await self._narrow(query)
        elif self.state == "guide" and self._found is not None and _CORRECTS.search(query) and self._guide_name():
            # 不是，我是要注销不是办新的 at 公司设立登记's card listed every kind of deregistration
            # but the company's: what is corrected is said of the card's subject (公司)
            found = await self.services.catalog.find(f"{_subject(self._guide_name())} {query}", top=MAX_CANDIDATES)
            if found.verdict in (MATTER, CANDIDATES) and found.hits and found.hits[0].code != self.data.get("code"):
                self._found = found
        elif (self.state == "guide" and self._found is not None and _tells(query) and not query.isdigit()
              and (_STATUS.match(query) or (_CIRCUMSTANCE.search(query) and not _NEW_NEED.search(query))
                   or (self._found.verdict != MATTER
                       and (not self._found.shown or self.data.get("code") in {h.code for h in self._found.hits})))):
            # 他有残疾证，一级的 on 重度残疾人护理补贴's card listed 残疾人证新办 first: a statement of
            # who one is or what one has (我们有居住证 was a clear card for 居住证办理), or one that comes
            # near the card alone (or near nothing), read with the question that opened the card, is
            # still the card's. One that names another need (对了我社保卡丢了) finds it, not the card.
            about = f"{self.data.get('about') or self._guide_name()} {query}"
            found = await self.services.catalog.find(about, top=MAX_CANDIDATES)
            if found.verdict in (MATTER, CANDIDATES) and found.hits and found.hits[0].code == self.data.get("code"):
                self._told_of_card = about
        elif (self.state == "guide" and self._found is not None and _tells(query) and not _NEW_NEED.search(query)
              and not self._names_another_paper(query) and self._answers_the_cards_questions(query)):
            # 我要买房 at 住房公积金提取's card listed house-buying bundles: it names the card's own
            # 购房 purpose and no paper but the card's: a circumstance of the card (身份证丢了 at
            # 居住证's card names its loss option too, but of another paper).
            self._told_of_card = query  # (read alone: what it answers of the card's questions is kept)
        elif (self.state == "guide" and self._found is not None and self._found.verdict == CANDIDATES
              and self.data.get("code") and ASKING.search(query) and not _NEW_NEED.search(query)):
            # 我走路不方便，能让我儿子帮我去办吗 at 残疾人证's card listed retirement and school matters:
            # a question that, read with the question that opened the card, comes back to the card
            # is asked of it (answered from its guide, or said the guide does not say).
            # (a list led by the card on screen is about it already: 狗要带过去吗 at 犬类准养证核发)
            if self._found.hits[0].code == self.data["code"]:
                self._asked_of_card = True
                return
            about = f"{self.data.get('about') or self._guide_name()} {query}"
            found = await self.services.catalog.find(about, top=MAX_CANDIDATES)
            self._asked_of_card = found.verdict in (MATTER, CANDIDATES) and bool(found.hits) and found.hits[0].code == self.data["code"]

    def _names_another_paper(self, said: str) -> bool:
        """Whether words name a card, certificate or book the card's matter does not (身份证 at
        居住证办理): by the paper's last two characters (份证, 口本, 保卡)."""
        name = self._guide_name()
        return any(said[i - 1:i + 1] not in name for i, ch in enumerate(said) if ch in _PAPER_ENDS and i > 0)

    def _answers_the_cards_questions(self, said: str) -> bool:
        """Whether words told at a card name an option of one of its own questions (我要买房 at the
        housing fund's withdrawal: its 购房 purpose): a circumstance of the card."""
        guide = self._guide()
        return guide is not None and any(key.startswith("g:") for key in answers_told(guide, normalise(said)))

    def _guide_name(self) -> str:
        guide = self._guide()
        return guide.name if guide is not None else ""

    def _names_another_matter(self, found) -> bool:
        """The words said to a list name a matter of their own that the list does not have: clearly,
        or asked as a question whose hits share none of the list's (公司怎么注销, 企业年报在哪里报 at
        the list for 招了第一个员工: a new question, not a narrowing of the old; 个体户的 narrows)."""
        listed = set(self.data.get("candidates", ()))
        if not found.hits or found.verdict not in (MATTER, CANDIDATES):
            return False
        if found.verdict == MATTER:
            return found.hits[0].code not in listed
        return ASKING.search(self.word) is not None and not listed & {h.code for h in found.hits[:3]}

    async def _narrow(self, said: str):
        """A few words said to the list (新办的, 个体户的, 丢了那个) narrow it: the list's question
        with them added is searched, and taken when it leads to one of the candidates on screen
        (then it is that question's answer, not a new one drifting elsewhere)."""
        asked = self.data.get("asked") or ""
        if not asked or len(said) > (TOLD_CHARS if _tells(said) else REFINE_CHARS):
            return
        refined = f"{asked} {said}"
        alone = self._found  # the message searched alone
        found = await self.services.catalog.find(refined, top=MAX_CANDIDATES)
        listed = self.data.get("candidates") or []
        if found.verdict in (MATTER, CANDIDATES) and found.hits and found.hits[0].code in listed:
            self._found, self._refined = found, refined
        if not listed or alone is None or alone.verdict not in (MATTER, CANDIDATES):
            return
        within = tuple(h for h in alone.hits if h.code in listed)
        if alone.verdict == MATTER and within and within[0].code == alone.hits[0].code:
            self._found, self._refined = alone, None  # 社保卡挂失 at that list: it names one of them clearly
        elif ((self._found is alone or self._found.hits[0].code == listed[0]) and within and within[0].code != listed[0]
              and within[0] in alone.hits[:NAMES_LISTED_RANK] and _SOMEONES_CIRCUMSTANCE.search(said) is None):
            # 身份证 said to a list of everything lost with a wallet, led by 驾驶证: read with the
            # list's question it found the same list (and its first opened). The listed matters
            # the words find alone are what they name: those, in the order the words found them.
            self._found = dataclasses.replace(alone, verdict=MATTER if len(within) == 1 else CANDIDATES, hits=within)
            self._refined = refined

    # Guards: they read the verdict.

    def returns_quietly(self) -> bool:
        """Started with a matter whose card was just spoken of (its booking said 不需要预约)."""
        return bool(self.data.get("quiet")) and self._guide() is not None

    def show_follow_ups(self):
        self.data.pop("quiet", None)
        self.ask()

    def carries_matter(self) -> bool:
        """Started with a matter to show (a bundle's card opened one of its matters)."""
        return bool(self.data.get("code")) and not self.data.get("query")

    def bundle_match(self) -> bool:
        return self._winner(bundle=True)

    def clear_match(self) -> bool:
        return self._winner(bundle=False)

    def _winner(self, bundle: bool) -> bool:
        """One clear winner of the kind asked for."""
        found = self._found
        return found is not None and found.verdict == MATTER and (found.hits[0].kind == "bundle") == bundle

    def asks_about_halls(self) -> bool:
        """Where a service hall is or when it opens (服务大厅在哪, 你们周六上班吗), with no matter the
        search is sure of: the halls answer it, not a list of matters or 没找到."""
        return self._found is not None and asks_about_halls(self._query(), hall_names(self.services.catalog))

    def open_halls(self):
        self.start("halls", query=self._query())

    def clear_match_asking_materials(self) -> bool:
        """One clear matter, asked for with what to bring (生育津贴要啥材料)."""
        return self._materials_asked_of_winner() is not None

    def clear_match_asking_materials_with_situations(self) -> bool:
        """The same, with questions left that the words did not answer already (show_card reads them)."""
        return _questions_left(self._materials_asked_of_winner(), self._query())

    def _materials_asked_of_pick(self):
        """The picked matter's guide when the list's question asked what to bring, else None."""
        code = self._picked()
        asked = self.data.get("asked") or ""
        if code is None or code in self.services.catalog.bundles or not any(cue in asked for cue in MATERIAL_CUES):
            return None
        return self.services.catalog.guide(code)

    def picks_candidate_asked_materials(self) -> bool:
        return self._materials_asked_of_pick() is not None

    def picks_candidate_asked_materials_with_situations(self) -> bool:
        return _questions_left(self._materials_asked_of_pick(), self.data.get("asked") or "")

    def _materials_asked_of_winner(self):
        """The winner's guide when the message asks for its materials, else None."""
        if not self._winner(bundle=False) or not any(cue in self._query() for cue in MATERIAL_CUES):
            return None
        return self.services.catalog.guide(self._found.hits[0].code)

    def asks_to_book_this(self) -> bool:
        """预约 said about the card on screen: no other matter is named (the search found none)."""
        found, asked = self._found, booking_query(self.text)
        return (self._guide() is not None and asked is not None
                and (asked == "" or found is None or found.verdict not in (MATTER, CANDIDATES)  # 约 alone: nothing else named
                     or (found.verdict == MATTER and found.hits[0].code == self.data.get("code"))))  # 预约办护照 on its card

    def has_candidates(self) -> bool:
        found = self._found
        return found is not None and found.verdict == CANDIDATES

    def picks_bundle(self) -> bool:
        code = self._picked()
        return code is not None and code in self.services.catalog.bundles

    def picks_candidate(self) -> bool:
        return self._picked() is not None

    def none_fits(self) -> bool:
        """都不是 (or a plain no) to the candidates: another wording is asked for."""
        return self.word in NONE_FITS or (self._picked() is None and self.slot("yes_no") is False)

    def say_none_fits(self):
        self.data.pop("candidates", None)
        self.say("matters/none_fits.j2")

    def _listed_correction(self) -> tuple[str, str, str] | None:
        listed = self.data.get("listed")
        guide = self._guide()
        return correction_of(self.word, questions_for(guide), listed, None) if listed and guide is not None else None


    def asks_guideless_follow_up(self) -> bool:
        """A card's follow-up (材料清单, 怎么办理, 在哪办) asked of a matter that has no guide yet."""
        if not self.data.get("code") or self._guide() is not None or self.word.isdigit():
            return False
        return follow_up_asked(self.word) is not None

    def say_no_guide(self):
        self.say("matters/no_guide.j2", matter=self.services.catalog.summary(self.data["code"]),
                 others=bool(self.data.get("candidates")), asked=True)

    def picks_another_candidate(self) -> bool:
        return self._guide() is None and bool(self.data.get("candidates")) and self._picked() is not None

    def picks_to_book(self) -> bool:
        """A pick that books: 预约2, or a number after 预约 asked which one."""
        return self._picked() is not None and (self.data.get("book") or booking_query(self.text) is not None)

    def asks_which_to_book(self) -> bool:
        """预约 alone at the list: which of them?"""
        return booking_query(self.text) == ""

    def asks_to_book_other(self) -> bool:
        """预约 with something else named (预约办护照): the booking searches for it."""
        return bool(booking_query(self.text))

    def books_another_matter(self) -> bool:
        """The same, said at a card or the question: unless a matter named with 预约 in its name
        is what the search clearly found (结婚登记预约: that matter's card)."""
        found = self._found
        named = found is not None and found.verdict == MATTER and "预约" in found.hits[0].name
        return self.asks_to_book_other() and not named

    # Actions.

    def _say_also_elsewhere(self):
        """What of the message is met elsewhere, before the matters found for the rest (我身份证掉了，
        银行卡也没了: the bank card is the bank's to stop)."""
        told = getattr(self._found, "told", "")
        if told == "banks":
            self.say("matters/bank_too.j2")
        elif told == "foreign_nationals":
            self.say("matters/foreigner_too.j2")  # I lost my passport: if it is another country's, where

    def keep_winner(self):
        """The search's winner is what the card (or bundle list) shows; counted as found."""
        self._say_also_elsewhere()
        winner = self._found.hits[0]
        self.data.pop("candidates", None)  # a list shown before is not this card's way back
        shown = self.data.get("code")
        if winner.kind != "bundle" and shown and shown != winner.code:  # the card before it is 返回 away
            self.data["earlier"] = [*(self.data.get("earlier") or []), shown][-EARLIER_CARDS:]
        self.data["bundle" if winner.kind == "bundle" else "code"] = winner.code
        self._outcome = (MATTER, self._query())

    def keep_pick(self):
        """The number picked from the list is what is shown; counted for the question that listed it."""
        code = self._picked()
        shown = self.data.get("code")
        if code not in self.services.catalog.bundles and shown and shown != code:  # a card shown before the list: 返回 away
            self.data["earlier"] = [*(self.data.get("earlier") or []), shown][-EARLIER_CARDS:]
        self.data["bundle" if code in self.services.catalog.bundles else "code"] = code
        self._outcome = (PICKED, self.data.pop("asked", ""))
        self.data["told"] = self._outcome[1]  # the question the list answered: it may answer the card's questions

    async def _count(self):
        """Count the outcome kept by this message's actions (bot.search.outcomes)."""
        if self._outcome is not None:
            outcome, query = self._outcome
            self._outcome = None
            await self.services.catalog.record(query, outcome)

    async def show_candidates(self):
        await self._record(CANDIDATES)
        self.data["asked"] = kept(self._refined or self._query())  # a pick from the list is counted for this question
        self.data.pop("query", None)
        hits = self._found.hits
        self.data.pop("book", None)  # 预约 was said of the list this one replaces
        self.data["candidates"] = [h.code for h in hits]
        self._say_also_elsewhere()
        self.say("matters/candidates.j2", hits=hits)

    def same_list_again(self) -> bool:
        """The list just shown, found again for what was said of it (an elderly tester had the same
        three matters back five times): led by the same matter, two of its first three again."""
        found = self._found
        return found is not None and bool(found.hits) and found.hits[0].kind != "bundle" and self._same_list(found)

    def same_list_again_led_by_bundle(self) -> bool:
        """The same, led by a 一件事 (wo xiang ban ge ti hu, then 我想办个体户): the bundle's card
        (the matter's card had no matter to show, and the turn failed)."""
        found = self._found
        if found is None or not found.hits or found.hits[0].kind != "bundle":
            return False
        return self._same_list(found)

    def _same_list(self, found) -> bool:
        listed = self.data.get("candidates")
        if found.verdict != CANDIDATES or not isinstance(listed, list) or not listed:
            return False
        return listed[0] == found.hits[0].code and len(set(listed[:3]) & {h.code for h in found.hits[:3]}) >= 2

    def keep_top_of_list(self):
        """The list's first is what the card shows; the list stays its way back (返回, 点错了)."""
        self.keep_winner()
        self.data["candidates"] = [h.code for h in self._found.hits]

    def say_top_taken(self):
        self.say("matters/top_taken.j2", matter=self._found.hits[0].name)

    def asks_follow_up_of_list(self) -> bool:
        """A card's follow-up (材料清单, 在哪办, 要多久) asked of a list: of which one?"""
        if not self.data.get("candidates") or self._picked() is not None:
            return False
        asked = follow_up_asked(self.word)
        if asked is None and len(self.word) <= FOLLOW_UP_CHARS and (paper_asked(self.word) is not None
                                                               or AGENT_ASKED.search(self.word) or AGENT_ASKED_TOO.search(self.word)):
            # 要带户口本吗: searched, it opened 户口簿补领 in place of the list's matters; 子女可以帮我办吗
            # listed 收养子女登记
            return True
        return asked is not None and asked != "booking"  # 预约 at a list has its own rows

    def say_pick_first(self):
        """Which one first; asked again of the same list, said shortly (the list is just above), with
        a way on for someone who cannot tell which: their situation, searched."""
        listed = list(self.data.get("candidates") or ())
        again = self.data.get(PICK_FIRST_SAID) == listed
        self.say("matters/pick_first.j2", paper=paper_asked(self.word) if len(self.word) <= FOLLOW_UP_CHARS else None,
                 again=again, count=len(listed))
        if not again:
            self.ask()
        self.data[PICK_FIRST_SAID] = listed

    def picks_number_not_listed(self) -> bool:
        text = self.word
        return text.isascii() and text.isdigit() and len(text) <= 3 and self._picked() is None

    def only_agrees(self) -> bool:
        """是 / 对 / 嗯 to 您要办的是不是 with several listed: says nothing of which (with one listed, it
        is that one: `_picked`)."""
        return self.word in LIST_AGREES and self._picked() is None

    def say_pick_listed(self):
        self.say("matters/pick_listed.j2", count=len(self.data.get("candidates", ())), number=self.word if self.word.isdigit() else "")
        self.ask()

    def tells_when_to_book(self) -> bool:
        """A day, a time or a hall said, and nothing else, while asked which of the list to book
        (明天, 周四下午, 北辰那边): it is for the booking, not a search that reorders the list."""
        if not self.data.get("book") or self._picked() is not None or len(self.word) > WHEN_CHARS:
            return False
        understood = self.understood
        slots = [slot for kind in ("date", "time", "hall") for slot in understood.found(kind) if slot.valid]
        if not slots:
            return False
        rest = understood.text
        for slot in sorted(slots, key=lambda slot: slot.start, reverse=True):
            rest = rest[:slot.start] + rest[slot.end:]
        return all(ch in FOLLOW_UP_FILLER or not "\u4e00" <= ch <= "\u9fff" for ch in rest)

    def keep_when(self):
        self.data["book_said"] = f"{self.data.get('book_said', '')} {self.text}".strip()[:100]

    def ask_which_to_book(self):
        self.data["book"] = True
        catalog = self.services.catalog
        named = [catalog.summary(code) or catalog.bundles.get(code) for code in self.data.get("candidates", [])]
        self.say("matters/which_to_book.j2", hits=[{"name": n.name, "department": getattr(n, "department", "")} for n in named if n is not None],
                 when=self.data.get("book_said", ""))

    async def book_pick(self):
        """The picked matter's booking (which says so when it takes none); a bundle's own card."""
        await self._count()
        self.data.pop("book", None)
        if self.data.get("bundle"):
            await self.show_bundle()
            return
        said = self.data.pop("book_said", None)  # 明天下午 said before the pick: the booking reads it
        self.start("booking", code=self.data["code"], **({"said": said} if said else {}))

    def book_other(self):
        self.start("booking", query=booking_query(self.text))

    async def show_bundle(self):
        """A bundle has a card of its own (dialogs.bundles): what it covers, one material list,
        one booking."""
        self.data.pop("told", None)  # read ahead by a matter's card only
        await self._count()
        self.data.pop("query", None)
        self.start("bundles", bundle=self.data.pop("bundle"))

    def _picked(self) -> str | None:
        """The candidate picked by its number (2) or in words (第二个, 就第一个吧, 最后一个); with 预约
        (预约2, 预约第一个) only what is to be booked is read."""
        text = self.word
        booking = booking_query(text)
        candidates = self.data.get("candidates", [])
        if booking is not None:
            text = normalise(booking)
            n = int(text) if text.isascii() and text.isdigit() else choice(text, vocabulary()) if text else None
        elif text.isascii() and text.isdigit():
            n = int(text)
        elif len(candidates) == 1 and text in LIST_AGREES:
            n = 1  # 是 to 您要办的是不是 with one listed
        else:
            n = self.slot("choice")
        n = len(candidates) if n == -1 else n
        return candidates[n - 1] if n is not None and 1 <= n <= len(candidates) else None

    async def ask_or_not_found(self):
        """Nothing to show: out of scope (say so, offer a person and 12345), junk (ask again)."""
        query = self._query().strip()
        self.data.pop("query", None)
        found = self._found
        if query and found is not None:
            junk = found.verdict not in (OUT_OF_SCOPE, CANDIDATES, MATTER)
            await self._record(JUNK if junk else NONE)
            self.data.pop("elsewhere", None)
            if not junk:
                elsewhere = self._elsewhere(found)
                self.say("matters/not_found.j2", query=echo(query), **elsewhere)
                if elsewhere["told"]:
                    self.data["elsewhere"] = elsewhere  # a follow-up next (要带什么) is that place's
            mark_unused(self.data, offered=not junk)  # not_found.j2 names 人工 and 12345
        self.ask()

    def follows_up_elsewhere(self) -> bool:
        """A card's follow-up (要带什么, 多久到账, 能在手机上办吗) asked just after the need was
        told to be met elsewhere: it was searched alone, and 多久到账 got the credit report's place."""
        # (English counts its words itself: "what documents do I need?" got 出生一件事 and 档案接收)
        return bool(self.data.get("elsewhere")) and (len(self.word) <= FOLLOW_UP_CHARS or self.word.isascii()) and (
            follow_up_asked(self.word) is not None or self.word.isdigit())

    def say_elsewhere_again(self):
        self.say("matters/elsewhere_again.j2", **self.data["elsewhere"])

    def _elsewhere(self, found) -> dict:
        """Where a need the catalog does not serve is met instead, when its topic says so
        (外国人居留许可: the exit-entry hall, 被骗了: 110): `told` and the hall to show."""
        told = getattr(found, "told", "")
        hall = self.services.catalog.halls.get(getattr(found, "hall", "")) if told else None
        return {"told": told, "hall": {"name": hall.name, "address": hall.address, "hours": hall.hours_text, "phone": hall.phone} if hall else None}

    def asks_of_the_card(self) -> bool:
        """A question at a card that points at it (这个, 这项, 它) and names no matter clearly: about
        the card, whatever unsure candidates its other words bring (店就30平米 is not 开店一件事)."""
        found = self._found
        return (self.data.get("code") is not None and found is not None and found.verdict == CANDIDATES
                and (_OF_THE_CARD.search(self.word) is not None or self._asked_of_card))

    def found_nothing(self) -> bool:
        """A question the search found nothing for (not junk: that is small talk's), at a card."""
        found = self._found
        return self.data.get("code") is not None and found is not None and found.verdict == OUT_OF_SCOPE

    async def say_not_found_at_card(self):
        query = self._query().strip()
        self.data.pop("query", None)
        guide = self._guide()
        if guide is not None and self._asked_of_card and (AGENT_ASKED.search(query) or AGENT_ASKED_TOO.search(query)):
            self.show_agent()  # 我走路不方便，能让我儿子帮我去办吗: the card's answer on an agent
            self.ask()
            return
        line = guide_passage(guide, normalise(query)) if guide is not None else None
        if line is not None:  # asked of the card, and its guide says it: that line
            self.say("matters/from_guide.j2", guide=guide, line=line)
            self.ask()
            return
        if guide is not None and self._asked_of_card:
            await self._record(NONE)
            self.say("matters/not_in_guide.j2", query=echo(query), guide=guide)
            mark_unused(self.data, offered=True)
            self.ask()
            return
        await self._record(NONE)
        # a short question at a card is about it: where a topic near its words is done (要体检吗 came
        # near a foreigner's work permit) is no answer to it
        elsewhere = self._elsewhere(self._found) if len(query) > FOLLOW_UP_CHARS else {}
        self.say("matters/not_found.j2", query=echo(query), card=self.services.catalog.summary(self.data["code"]) if guide is not None else None,
                 **elsewhere)
        mark_unused(self.data, offered=True)
        self.ask()

    async def _record(self, outcome: str, query: str | None = None) -> None:
        await self.services.catalog.record(self._query() if query is None else query, outcome)

    # The guide card ---------------------------------------------------------------------------

    async def show_card(self):
        await self._count()
        code = self.data["code"]
        guide = self.services.catalog.guide(code)
        told = self.data.pop("told", "") or (self._query() if self.incoming.kind == "text" and not self.word.isdigit() else "")
        self.data["about"] = kept(told)  # what the card answers: a circumstance told at it is read with it
        for key in ("query", "answers", "listed", "chosen", "asked", "book"):
            self.data.pop(key, None)  # the list it was picked from stays: 返回 shows it again (no guide yet: pick another)
        if guide is not None and told:
            # 我妈68岁…我代她去办: what the question already told answers its questions ahead
            told_answers = answers_told(guide, normalise(told))
            if told_answers:
                self.data["answers"] = told_answers
        if guide is None:
            self.say("matters/no_guide.j2", matter=self.services.catalog.summary(code), others=bool(self.data.get("candidates")))
            return
        self._say_card(guide)
        self.ask()

    def _say_card(self, guide):
        # The card depends on the guide and the catalog's halls and bundles only: rendered once per
        # catalog. Opened from its bundle, it does not offer that bundle again.
        render = self.services.render
        inside = bool(self.data.get("from_bundle"))
        card = self.services.catalog.derived(("card", guide.code, inside),
                                             lambda: render("matters/card.j2", guide=guide, halls=self._halls(guide), online=online_way(guide),
                                                            bundles=[] if inside else self._bundles_of(guide.code)))
        self.replies.append(Reply(card))

    def _bundles_of(self, code: str) -> list:
        """The 一件事 bundles a matter is part of (开饭馆 found the food licence alone, and the person
        never heard that 个体工商户开办一件事 does it with the rest in one visit)."""
        return [b for b in self.services.catalog.bundles.values() if code in b.matters]

    def asks_bundle(self) -> bool:
        """一件事 (or the bundle's name) on a card that offers one."""
        guide = self._guide()
        if guide is None or self.data.get("from_bundle"):
            return False
        bundles = self._bundles_of(guide.code)
        return bool(bundles) and (self.word in BUNDLE_ASKED or any(self.word == normalise(b.name) for b in bundles))

    def open_bundle(self):
        self.start("bundles", bundle=self._bundles_of(self._guide().code)[0].code)

    async def show_card_and_materials(self):
        await self.show_card()
        if self._guide() is not None:
            self.show_materials()

    def _guide(self):
        code = self.data.get("code")
        return self.services.catalog.guide(code) if code else None

    def _halls(self, guide) -> list:
        return guide_halls(self.services.catalog, guide)

    def _follow_up(self) -> str | None:
        """The card's follow-up this message asks for: read once per card a turn reaches (the
        card's eight guards and the search all ask)."""
        code = self.data.get("code")
        if self._read_follow_up is None or self._read_follow_up[0] != code:
            self._read_follow_up = (code, self._which_follow_up())
        return self._read_follow_up[1]

    def _which_follow_up(self) -> str | None:
        guide = self._guide()
        if guide is None:
            return None
        text = self.word
        if self.state != "situation" and not text.isdigit() and (picked := choice(text, vocabulary())) is not None and picked > 0:
            text = str(picked)  # 一 / 第一个 / 第1个 on the card: its first follow-up (the matter was forgotten)
        if text.isascii() and text.isdigit():  # a card's number; at a question, numbers are its options
            return None if self.state == "situation" else next((key for number, _, key in follow_ups_for(guide) if number == text), None)
        asked = follow_up_asked(text, guide.name)
        if asked is None and len(text) <= ELSEWHERE_CHARS:
            # 能不能网上办，我上班请不了假: one clause asks the card's follow-up, the rest says why
            clauses = [c for c in re.split(r"[，,。！!；;\s]+", text) if c]
            read = [follow_up_asked(c, guide.name) for c in clauses]
            if len(clauses) > 1 and sum(r is not None for r in read) == 1 and all(
                    r is not None or ASKING.search(c) is None for c, r in zip(clauses, read)):
                asked = next(r for r in read if r is not None)
        if asked is None and len(text) <= FOLLOW_UP_CHARS and (AGENT_ASKED.search(text) or AGENT_SAID.fullmatch(text)
                                                               or AGENT_ASKED_TOO.search(text)):
            return "agent"
        if asked is None and text.isascii() and len(text.split()) <= EN_AGENT_WORDS and EN_AGENT_ASKED.search(text):
            return "agent"
        if (asked is None and len(text) <= ELSEWHERE_CHARS and HOME_VISIT_ASKED.search(text) and ASKING.search(text)
                and not _guide_says(guide, "上门")):  # 行动不便的…可申请上门服务: that line answers (from_guide.j2)
            return "home_visit"  # 我现在走不了路，能不能上门办: 没太明白
        if (asked is None and len(text) <= ELSEWHERE_CHARS and HUKOU_ASKED.search(text)
                and not (self.state == "situation" and _OF_HUKOU.search(getattr(self._next_question(), "text", "")))):
            return "hukou"  # 我是外地户口呢: what the guide's conditions say of it (it was searched, or 没写到)
        if asked is None and len(text) <= ELSEWHERE_CHARS and ANYWHERE_ASKED.search(text):
            return "anywhere"  # 我在成都工作，可以在成都办吗: the card's answer, not another city's 没找到
        if asked is None and len(text) <= FOLLOW_UP_CHARS and paper_asked(text) is not None and guide.materials:
            return "brings"  # 要带照片吗: whether its materials name it (it was searched: 没找到)
        if (asked is None and "办" in text and len(text) <= FOLLOW_UP_CHARS
                and (self.slot("hall") is not None or NEAR_PLACE.search(text))):
            return "where"  # 在北辰那里能办不, 能去街道办吗: where it is done (the card's halls)
        return asked

    def asks_materials_listed(self) -> bool:
        """材料清单 again after this card's list was shown: its questions were answered (it asked them all again)."""
        return self._follow_up() == "materials" and "listed" in self.data and not self.data.get("answers")

    def show_listed_again(self):
        self.data["answers"] = dict(self.data["listed"])
        self.show_materials()

    def asks_materials_with_situations(self) -> bool:
        return self._follow_up() == "materials" and self._next_question() is not None

    def asks_materials(self) -> bool:
        return self._follow_up() == "materials"

    def say_situation_first(self):
        """材料清单 asked again at the question that lists them: the question is the way there."""
        self.say("matters/situation_first.j2")
        self.ask()

    def asks_process(self) -> bool:
        return self._follow_up() == "process"

    def asks_where(self) -> bool:
        return self._follow_up() == "where"

    def asks_booking(self) -> bool:
        return self._follow_up() == "booking"

    def asks_online(self) -> bool:
        return self._follow_up() == "online"

    def asks_time(self) -> bool:
        return self._follow_up() == "time"

    def asks_fee(self) -> bool:
        return self._follow_up() == "fee"

    def tells_of_the_card(self) -> bool:
        return self._told_of_card is not None

    def note_told(self):
        """A circumstance told at the card: what it answers of the card's questions is kept (so the
        list asks no more), and the card is said to still be the one."""
        guide = self._guide()
        told = answers_told(guide, normalise(self._told_of_card)) if guide is not None else {}
        if told:
            self.data["answers"] = {**told, **self.data.get("answers", {})}
        name = guide.name if guide is not None else self.services.catalog.summary(self.data["code"]).name
        self.say("matters/told.j2", matter=name, guided=guide is not None)

    def asks_anywhere(self) -> bool:
        return self._follow_up() == "anywhere"

    def asks_brings(self) -> bool:
        return self._follow_up() == "brings"

    def show_brings(self):
        """要带照片吗: the card's materials that name it, or that none does (and 材料清单 offered:
        what to bring may depend on one's situation)."""
        guide = self._guide()
        paper = paper_asked(self.word)
        named = materials_naming(guide.materials, paper)
        always = [m.name for m in named if m.required != "situational"]
        self.say("matters/brings.j2", guide=guide, paper=paper, always=always[:3],
                 sometimes=[m.name for m in named if m.required == "situational"][:3],
                 situational=any(m.required == "situational" for m in guide.materials))

    def show_anywhere(self):
        """可以在成都办吗: the guide's lines on where else it is done (全国通办, 跨省通办), or that it
        says none and where to ask."""
        guide = self._guide()
        lines = [line.rstrip("。；;") for line in (*guide.conditions, *guide.process) if ANYWHERE_SAID.search(line)]
        self.say("matters/anywhere.j2", guide=guide, lines=lines[:2])

    def asks_department(self) -> bool:
        return self._follow_up() == "department"

    def show_department(self):
        self.say("matters/department.j2", guide=self._guide())

    def asks_home_visit(self) -> bool:
        return self._follow_up() == "home_visit"

    def show_home_visit(self):
        """能不能上门办: guides do not say they come to the home; what may be done instead (someone
        else goes, online) and whom to ask."""
        guide = self._guide()
        self.say("matters/home_visit.j2", guide=guide, online=online_way(guide), **agent_of(guide))

    def asks_hukou(self) -> bool:
        return self._follow_up() == "hukou"

    def show_hukou(self):
        """我是外地户口呢: the guide's conditions on whose household may apply, and what its
        situations for another place add to the list; or that it asks for none."""
        guide = self._guide()
        lines = [line.rstrip("。；;") for line in guide.conditions if HUKOU_SAID.search(line)]
        codes = {s.code for s in guide.situations if re.search(r"外地|非本|户籍不在|外省|外市|异地", s.name)}
        extra = [m for m in guide.materials if m.required == "situational" and codes.intersection(m.situations)]
        self.say("matters/hukou.j2", guide=guide, lines=lines[:2], local_only=any(LOCAL_ONLY.search(line) and not _ELSE_TOO.search(line) for line in lines),
                 situations=[s.name for s in guide.situations if s.code in codes], materials=extra)

    def asks_post(self) -> bool:
        return self._follow_up() == "post"

    def asks_notify(self) -> bool:
        return self._follow_up() == "notify"

    def asks_agent(self) -> bool:
        return self._follow_up() == "agent"

    def show_agent(self):
        """可以让家里人代办吗: what the guide says of an agent (its 委托他人代办 situation and what that
        adds to the list), or that it does not say (ask the department)."""
        guide = self._guide()
        self.say("matters/agent.j2", guide=guide, **agent_of(guide))

    def asks_unnotify(self) -> bool:
        return self._guide() is not None and unnotify_asked(self.word)

    def picked_wrongly(self) -> bool:
        return bool(self.data.get("candidates")) and _PICKED_WRONGLY.search(self.word) is not None

    def asks_unnotify_all(self) -> bool:
        return unnotify_asked(self.word)

    def open_notices_off(self):
        self.start("subscriptions", mode="notices_off")

    async def notify(self):
        await self._notices(True)

    async def unnotify(self):
        await self._notices(False)

    async def _notices(self, on: bool):
        """Staff broadcasts to this matter's (and its department's) subscribers reach this person, or no longer."""
        guide, subscriptions = self._guide(), self.services.subscriptions
        if subscriptions is None:
            self.say("matters/notify.j2", guide=guide, on=on, unavailable=True)
        else:
            change = subscriptions.follow_matter if on else subscriptions.unfollow_matter
            await change(self.incoming.user, guide.code, guide.department)
            self.say("matters/notify.j2", guide=guide, on=on, unavailable=False)

    def show_process(self):
        self.say("matters/process.j2", guide=self._guide())

    def show_where(self):
        guide = self._guide()
        self.say("matters/where.j2", guide=guide, halls=self._halls(guide))

    def show_booking(self):
        """Bookable: the booking dialog takes over with the matter and the situation answered
        (so "what to bring" is theirs); otherwise say no booking is needed."""
        guide = self._guide()
        if guide.bookable:
            if BOOKING_ASKED.search(self.word):  # 要先预约吗: whether one must, told before the halls
                self.say("matters/booking_asked.j2", matter=guide.name)
            self.start("booking", code=guide.code, chosen=self.data.get("chosen"))
            return
        self.say("booking/not_bookable.j2", matter=guide.name, halls=self._halls(guide), online=online_way(guide), url=guide.online_url)
        self.ask()  # what else the card offers (材料清单 …), as after 不需要预约 told by the booking dialog

    def show_time(self):
        """办下来要多久: the card's 办理时限, said again on its own."""
        self.say("matters/time.j2", guide=self._guide(), rush=any(cue in self.word for cue in RUSH))

    def show_post(self):
        """能寄过来吗: how the result reaches one (the guide's 送达方式: collected, posted, electronic)."""
        self.say("matters/post.j2", guide=self._guide())

    def show_fee(self):
        """要多少钱: the card's 收费, said again on its own; 能领多少钱 (of a benefit) is told that the
        amount is set case by case, and where to ask, before the fee."""
        receiving = RECEIVING.search(self.word) is not None or (PER_PERIOD.search(self.word) is not None and not _PAYS.search(self.word))
        self.say("matters/fee.j2", guide=self._guide(), receiving=receiving,
                 periodic=not receiving and _PAID_BY_PERIOD.search(self.word) is not None)

    def show_online(self):
        guide = self._guide()
        self.say("matters/online.j2", guide=guide, online=online_way(guide))

    # Situations and materials -------------------------------------------------------------------

    def _next_question(self) -> Question | None:
        guide = self._guide()
        if guide is None:
            return None
        answers = self.data.get("answers", {})
        return next((q for q in questions_for(guide) if q.key not in answers), None)

    async def read_answer(self):
        """Prepare: record the answer to the current question, if this message is one; else,
        when it asks for something else in words of its own (社保能转过来不), search it."""
        aside = _BY_THE_WAY.match(self.word)  # 顺便问一下社保卡丢了咋补: a question on the side, no answer
        # 对了我户口本也丢了 (at 身份证's 哪种情况): another thing, told on the side, is no answer either
        aside = aside is not None and bool(ASKING.search(self.word[aside.end():]) or "也" in self.word[aside.end():])
        self._answered = False if aside else self._record_answer()
        if (not self._answered and self._corrected is None and not self._taken_back and self._follow_up() is None
                and (aside or self._asks_something_else())):
            await self._search()

    def _asks_something_else(self) -> bool:
        """A question of its own: words (no detail, no yes or no, no pick), Chinese, not a few characters."""
        understood = self.understood
        return (understood.kind == "other" and not understood.slots and len(self.word) >= MIN_QUESTION
                and any("\u4e00" <= ch <= "\u9fff" for ch in self.word) and ASKING.search(self.word) is not None)

    def answers_question(self) -> bool:
        return self._answered

    def _correction(self, question: Question) -> tuple[str, object] | None:
        """(key, option) when this message names, in words, another option of a question answered
        before `question` than the one recorded: the person puts their earlier answer right."""
        answers = self.data.get("answers") or {}
        for earlier in questions_for(self._guide()):
            if earlier.key == question.key:
                return None
            if not earlier.options or earlier.key not in answers:
                continue
            code = named_option(earlier.options, self.word)
            if code is not None and code != answers[earlier.key]:
                return earlier.key, next(o for o in earlier.options if o.code == code)
        return None

    def corrects_answer(self) -> bool:
        return self._corrected is not None

    def say_corrected(self):
        self.say("matters/corrected.j2", option=self._corrected)
        self.ask()

    def takes_back_answer(self) -> bool:
        return self._taken_back

    def needs_time(self) -> bool:
        return not self._answered and needs_time(self.word)

    def say_take_your_time(self):
        self.say("booking/take_your_time.j2", step="situation")
        self.ask()

    def asks_what_it_means(self) -> bool:
        return not self._answered and asks_what_it_means(self.word) and self._next_question() is not None

    def none_fits_the_options(self) -> bool:
        question = self._next_question()
        return (not self._answered and question is not None and len(question.options) >= 2
                and (self.word in NONE_FITS or NONE_OF_THESE.search(self.word) is not None))

    def say_no_option_fits(self):
        self.say("matters/no_option_fits.j2")
        self.ask()

    def explain_question(self):
        guide = self._guide()
        self.say("matters/explained.j2", **explained(self._next_question(), [guide] if guide else []))
        self.ask()

    def ask_again(self):
        self.say("matters/asked_again.j2", earlier=drop_last_answer(self.data))
        self.ask()

    def step_back(self) -> bool:
        """返回 at a situation question: the question before it again; at the first, the card's
        follow-ups (the card may have come with the question: 生育津贴要什么材料). On a card opened
        by typing while another was shown: that card again; on a card opened from a bundle's
        list: the bundle's card."""
        if self.state == "situation":
            if not drop_last_answer(self.data):
                self.state = "guide"
            return True
        if self.state in ("asking", "choosing"):  # a list or a question after a card (护照 -> 身份证丢了 -> 返回): that card
            guide = self._guide()
            if guide is None:
                return False
            self.state = "guide"
            self._say_card(guide)
            return True
        if self.state != "guide":
            return False
        if self.data.get("listed"):  # the material list was the last thing shown: its last question again
            reopen_listed(self.data)
            self.state = "situation"
            return True
        earlier = self.data.get("earlier") or []
        guide = self.services.catalog.guide(earlier[-1]) if earlier else None
        if guide is not None:
            self.data["code"] = earlier.pop()
            for key in ("answers", "listed", "chosen"):
                self.data.pop(key, None)
            self._say_card(guide)
            return True
        if self.data.get("from_bundle"):
            self.start("bundles", bundle=self.data["from_bundle"])
            return True
        return False

    def answers_last_question(self) -> bool:
        return self.answers_question() and self._next_question() is None

    def _record_answer(self) -> bool:
        question = self._next_question()
        if question is None:
            return False
        answer = answer_to(question, self)
        if answer is None or CORRECTION.search(self.word):
            corrected = self._correction(question)
            if corrected is not None:
                key, option = corrected
                self.data["answers"][key] = option.code
                self._corrected = option.name
                return False
            flipped = flipped_answer(self.word, questions_for(self._guide()), self.data.get("answers") or {}, question)
            if flipped is not None:
                key, self.data["answers"][key], self._corrected = flipped
                return False
        if TAKE_BACK.search(self.word):
            self._taken_back = True
            return False
        if answer is None:
            return False
        self.data.setdefault("answers", {})[question.key] = answer
        return True

    def show_materials(self):
        guide = self._guide()
        answers = self.data.pop("answers", {})
        self.data["listed"] = answers  # what the list was made from: 不对… or 返回 after it reopens them
        chosen = {value for key, value in answers.items() if key.startswith("g:")}
        chosen |= {key[2:] for key, value in answers.items() if key.startswith("s:") and value == "yes"}
        situations = [s.name for s in guide.situations if s.code in chosen]
        self.data["chosen"] = sorted(chosen)  # a booking made next brings this list
        self.remember(situations_key(guide.code), sorted(chosen))  # and one made later in the session
        self.say("matters/materials.j2", guide=guide, materials=materials_for(guide, chosen), situations=situations)
