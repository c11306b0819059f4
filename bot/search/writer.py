"""Who is writing, and where, where it decides which matters can be theirs: a foreign national;
a need to be met in another city (在成都办护照, 成都的出入境在哪里), which this catalog's
offices do not serve; and a need only a bank serves (`asks_a_bank`: 银行卡, 存折, a bank by name).

Some matters serve only citizens of the mainland: a passport, a travel permit for Hong Kong,
Macao or Taiwan, an identity card, a residence card, a household register, a sole trader's
registration (a foreigner's shop is a company); and the marriage,
divorce and adoption registrations of this catalog are those between mainland citizens (a
foreigner's marriage to a citizen is registered by the province, not here). A person who says
they are foreign (我是美国人, I'm British, my US passport, as a foreigner) and asks for one of
these for themselves is not served by it: "How do I renew my US passport" is not 普通护照签发,
"I'm British and want to marry my Chinese girlfriend" is not 中国内地公民婚姻登记. The search
leaves such matters out for them, so the decision reads what the catalog has for THEM (often
nothing: then 没找到, and where to go instead).

A citizen's paper may still be what a foreigner asks about for someone else: their Chinese wife's
passport, their child's household registration, an identity card they found. A message that
speaks of such a person keeps the citizens' matters (CITIZENS_ONLY); the registrations between
citizens (BETWEEN_CITIZENS) are left out all the same, since the writer is one of the couple.
"""

from __future__ import annotations

import re

import numpy as np

from bot.search.lexicon import NATIONALITIES

_NATIONS = ("美国|英国|加拿大|德国|法国|意大利|西班牙|葡萄牙|荷兰|比利时|瑞士|瑞典|挪威|丹麦|芬兰|波兰|俄罗斯|乌克兰|"
            "澳大利亚|新西兰|日本|韩国|朝鲜|泰国|越南|老挝|缅甸|柬埔寨|马来西亚|新加坡|印尼|印度尼西亚|菲律宾|印度|"
            "巴基斯坦|孟加拉|尼泊尔|斯里兰卡|蒙古|哈萨克斯坦|土耳其|伊朗|埃及|南非|尼日利亚|肯尼亚|埃塞俄比亚|巴西|"
            "阿根廷|墨西哥|智利|秘鲁|哥伦比亚")
# Nationalities in English, the glossary's (longest first, so a regex tries them whole).
_NATIONALS = "|".join(sorted(NATIONALITIES - {"us", "usa", "uk"}, key=len, reverse=True))
_COUNTRIES = "|".join(sorted(NATIONALITIES | {"u\\.s\\.", "foreign"}, key=len, reverse=True))  # whose passport it is

#: The writer says they are not a Chinese citizen.
SAYS_FOREIGN = re.compile(
    rf"我(?:是|们是)(?:一[名个位])?(?:来自)?(?:{_NATIONS})(?:籍|人|的)|我(?:是|们是)(?:一[名个位])?(?:外国|外籍|老外)|"
    rf"我(?:是|们是)?从(?:{_NATIONS})来的|我.{{0,3}}(?:{_NATIONS})护照|作为(?:一[名个])?(?:外国人|外籍|老外)|"
    rf"(?:外国人|外籍人士|外籍人员|老外)(?:可以|能不能|能|可不可以|也能|也可以)|"
    rf"\bi'?\s?a?m (?:an? )?(?:(?:{_NATIONALS})\b|foreign|expat)|\bas an? (?:foreigner|expat|foreign national)|"
    rf"\bwe(?:'re| are) (?:(?:{_NATIONALS})s?\b|foreigners|expats)|"
    rf"\bmy (?:{_COUNTRIES}) passport|\bmy chinese (?:wife|husband|girlfriend|boyfriend|fianc[ée]e?|partner|spouse)|"
    rf"\bmarried to an? chinese\b|\bmy (?:wife|husband|partner|spouse|girlfriend|boyfriend) is (?:a )?chinese\b",
    re.IGNORECASE)

_PARTNERS = "男友|女友|男朋友|女朋友|未婚夫|未婚妻|对象|丈夫|妻子|老公|老婆|先生|太太|小伙|姑娘|男人|女人"
#: A citizen marrying a foreigner (我要和外国人结婚, 女儿要嫁给一个美国人, my American fiancée): the
#: marriage is registered by the province's office for marriages with foreigners, not by the
#: catalog's registry, which registers mainland citizens together.
SAYS_FOREIGN_PARTNER = re.compile(
    rf"(?:和|跟|与|嫁给|娶了?|嫁)(?:一[个位名])?(?:个)?(?:外国|外籍|老外|洋|(?:{_NATIONS})(?:籍)?)|"
    rf"(?:外国|外籍|洋|(?:{_NATIONS})籍?)(?:的)?(?:{_PARTNERS})|"
    rf"\bmarry(?:ing)? (?:a |an )?(?:foreigner|foreign national|(?:{_NATIONALS})\b)|"
    rf"\bmy (?:{_NATIONALS}|foreign) (?:wife|husband|girlfriend|boyfriend|fianc[ée]e?|partner|spouse)\b|"
    rf"\bwith an? chinese (?:citizen|national|man|woman)\b",
    re.IGNORECASE)

_MARRYING = re.compile(r"结婚|领证|扯证|婚姻登记|嫁|娶|marry|marriage|wedding", re.IGNORECASE)
#: A child's papers asked about by a mixed couple (和外国人结婚后孩子上户口): the catalog's own.
_CHILDS_PAPERS = re.compile(r"户口|出生|落户|上学|入学|宝宝|小孩|孩子的|\b(?:baby|child|kid)\b", re.IGNORECASE)


#: A Chinese partner named by a foreign writer in few words (我老婆中国人 我要结婚 外国人).
_CHINESE_PARTNER = re.compile(rf"(?:{_PARTNERS})(?:是)?中国(?:人|籍)|中国(?:籍)?(?:的)?(?:{_PARTNERS})")
_FOREIGN_WORD = re.compile(r"外国|外籍|老外")


def marries_a_foreigner(message: str) -> bool:
    """Whether a citizen asks how to marry a foreigner (我要和外国人结婚，在哪登记), or a foreigner
    how to marry a citizen in few words (我老婆中国人 我要结婚 外国人): the province's office for
    marriages with foreigners registers it, never the catalog's registry."""
    if _MARRYING.search(message) is None or _CHILDS_PAPERS.search(message) is not None:
        return False
    return SAYS_FOREIGN_PARTNER.search(message) is not None or (
        _CHINESE_PARTNER.search(message) is not None and _FOREIGN_WORD.search(message) is not None)


#: Foreigners named at all (外国, 老外, a nation): a message about 外地人 that names none is about
#: people from elsewhere in China (hybrid.FOREIGNERS_CONFLICT).
NAMES_FOREIGNERS = re.compile(rf"外国|外籍|老外|国外|境外|海外|洋|{_NATIONS}")

#: What a foreigner's own permits are called in English (the glossary's unserved terms): asked
#: for by a foreign writer, they are the exit-entry office's, whatever the catalog's words near them.
PERMITS = re.compile(r"\b(?:visa|permit|residence|green card)\b")

#: Someone else in the message a citizen's paper may be for: a Chinese spouse, a child, a parent,
#: a stranger whose card was found.
SAYS_SOMEONE_ELSE = re.compile(
    r"中国籍|中国人|中国(?:妻子|丈夫|老婆|老公|太太|媳妇|爱人|女朋友|男朋友)|孩子|宝宝|儿子|女儿|小孩|娃|父母|爸|妈|"
    r"妻子|丈夫|老婆|老公|太太|媳妇|爱人|chinese (?:wife|husband|spouse|partner|girlfriend|boyfriend|citizen)|"
    r"\b(?:child|children|kid|kids|baby|son|daughter|parents?|mother|father|wife|husband)\b",
    re.IGNORECASE)

#: A citizen's own papers and registers, and a sole trader's business (个体工商户: only a citizen
#: may be one; a foreigner's shop is a company).
CITIZENS_ONLY = re.compile(r"护照|通行证及签注|居民身份证(?!明)|临时身份证明|居住证办理|户口|民族成份|个体工商户")
#: Registrations between citizens, the writer one of the parties.
BETWEEN_CITIZENS = re.compile(r"内地公民婚姻|结婚登记|离婚登记|补领结婚证|中国公民收养")


def not_theirs(message: str, citizens_only: np.ndarray, between_citizens: np.ndarray) -> np.ndarray | None:
    """Which documents cannot serve the writer of `message`, given which are a citizen's own
    (CITIZENS_ONLY) and which register citizens together (BETWEEN_CITIZENS) by name; None when
    all can (the writer does not say they are foreign)."""
    if SAYS_FOREIGN.search(message) is None:
        return None
    if SAYS_SOMEONE_ELSE.search(message) is not None:
        return between_citizens
    return between_citizens | citizens_only


_PLACES = ("北京|上海|天津|重庆|成都|南充|达州|绵阳|德阳|遂宁|内江|乐山|宜宾|泸州|自贡|眉山|资阳|巴中|雅安|攀枝花|广元|西昌|"
           "深圳|广州|杭州|南京|武汉|西安|长沙|郑州|昆明|贵阳|合肥|福州|厦门|济南|青岛|沈阳|大连|哈尔滨|长春|石家庄|太原|南昌|"
           "南宁|海口|兰州|西宁|银川|乌鲁木齐|拉萨|呼和浩特|苏州|东莞|佛山|宁波|无锡|温州|河南|河北|山东|山西|湖南|湖北|广东|"
           "广西|浙江|江苏|安徽|福建|江西|云南|贵州|陕西|甘肃|青海|辽宁|吉林|黑龙江|海南|新疆|西藏|内蒙古|宁夏")
#: Where the need is to be met: another city's office, or done there (在成都办护照, 回重庆补办,
#: 成都的出入境在哪里).
_DONE_ELSEWHERE = re.compile(
    rf"(?:在|去|回|到)(?:{_PLACES})(?:那边|那里|当地)?(?:去)?(?:办|补办|办理|补|换|申请|开|弄|领|考|报名)|"
    rf"(?:{_PLACES})(?:的|那边的|那里的|当地的)(?:出入境|派出所|社保局|人社局|医保局|公积金中心|政务中心|政务服务中心|税务局|"
    rf"民政局|婚姻登记处|车管所|办事大厅|大厅|不动产登记中心|市场监管局)")
#: Brought here, or done here: the catalog's (在成都办的执照想迁过来, 成都交的社保转到这边).
_BROUGHT_HERE = re.compile(r"迁过来|转过来|转到这|迁到这|迁回|转回|迁入|转入|过来办|这边|这里|本地|我们这|回来")


def done_elsewhere(message: str) -> bool:
    """Whether a message asks for something to be done in another city: this
    catalog's offices are this city's."""
    return _DONE_ELSEWHERE.search(message) is not None and _BROUGHT_HERE.search(message) is None


#: A bank's own product named as what the need is about (银行卡, 存折, 信用卡, a bank by name): the
#: bank serves it. Not when a paper of the catalog's is named with it: a social security card is a
#: bank card too, and housing-fund, pension or subsidy money is paid into one.
_BANKS_OWN = re.compile(r"银行卡|储蓄卡|借记卡|信用卡|存折|存单|定期存款|网银|U盾|"
                        r"(?:工商|建设|农业|中国|交通|招商|邮储|邮政储蓄|农商|民生|兴业|浦发|中信|光大)银行|信用社")
_CATALOGS_MONEY = re.compile(r"社保|社会保障|医保|公积金|养老金|养老保险|退休金|补贴|补助|低保|救助|抚恤|津贴|工资|贷款|税|"
                             r"营业执照|公司|企业|开户许可|基本存款账户")


_CLAUSE = re.compile(r"[，,。.；;！!？?、\s]+")


#: Papers the catalog issues, lost or asked about beside a bank card (钱包丢了，身份证和银行卡都在里面).
_CATALOGS_PAPERS = re.compile(r"身份证|户口本|户口簿|户口|驾驶证|驾照|行驶证|护照|通行证|社保卡|医保卡|居住证|残疾证|营业执照|结婚证|证件")


#: ... and lost, broken or run out (not one held to open a bank card with: 外地身份证行不行).
_PAPER_LOST = re.compile(r"丢|掉了|搞掉|没了|被偷|偷了|被盗|遗失|不见了|找不到|补办|补领|过期|坏了")


def without_bank_clauses(message: str) -> str:
    """`message` without its clauses about a bank's product, when the rest names a paper the
    catalog issues and the message says it was lost (我身份证掉了，钱包一起丢的，银行卡也没了: the ID
    card is still the catalog's); else "" (老伴银行卡的密码我不知道，里面的钱怎么取出来 and 开张工商
    银行的卡，外地身份证行不行 ask the bank only)."""
    rest = "，".join(c for c in _CLAUSE.split(message) if c and _BANKS_OWN.search(c) is None)
    if not _CATALOGS_PAPERS.search(rest):  # 钱包丢了，身份证和银行卡都在里面: one clause names both
        rest = _BANKS_OWN.sub("", message)
    return rest if _CATALOGS_PAPERS.search(rest) and _PAPER_LOST.search(message) else ""


def asks_a_bank(message: str) -> bool:
    """Whether a message is about a bank's own product (在广安开张工商银行的卡, 老伴银行卡的密码
    我不知道，钱怎么取出来): no catalog matter serves it, whatever ID-card or social-card words
    come near it."""
    # (a credit report is asked of the central bank's reference centre: its topic says so)
    return _BANKS_OWN.search(message) is not None and _CATALOGS_MONEY.search(message) is None and "征信" not in message
