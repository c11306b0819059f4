"""Finding a matter the way people ask, and being told exactly what THEIR situation needs.

All dialog logic: it runs in the in-memory harness (`h`, tests/harness.py)."""

from __future__ import annotations

import asyncio
import datetime
import json
import re

import pytest

from bot.web.appkeys import CATALOG
from dialogs.engine import normalise
from dialogs.matters import by_age, by_another, guide_passage, named_option, questions_for, verb_said_back
from tests.support import open_card, to_question


async def test_lost_id_card_from_the_main_menu_finds_the_matter(h):
    reply = await h.say("身份证丢了")
    assert "居民身份证挂失申报、丢失招领" in reply or "居民身份证办理" in reply


async def test_guide_card_and_materials_for_my_situation_only(h):
    reply = await h.say("补办身份证")
    if "回复序号" in reply and "【" not in reply:  # several candidates: pick the ID card matter
        lines = [line for line in reply.splitlines() if "居民身份证办理" in line]
        reply = await h.say(lines[0].split(".")[0])
    assert "【居民身份证办理（包括临时）】" in reply
    assert "办理时限" in reply and "收费" in reply and "1. 材料清单" in reply

    question = await h.say("材料清单")
    assert "请问您是哪种情况" in question and "首次申领" in question and "证件丢失补领" in question
    lost = [line for line in question.splitlines() if "证件丢失补领" in line][0].split(".")[0]
    question = await h.say(lost)
    assert "户口登记信息变更" in question  # the next question, one at a time
    question = await h.say("否")
    assert "未满16周岁" in question
    materials = await h.say("2")

    assert "证件丢失补领" in materials
    assert "居民身份证申领登记表" in materials and "数码相片回执" in materials
    # nothing that only other situations need
    for other in ("原居民身份证", "监护人居民身份证", "户口登记项目变更证明", "居民户口簿"):
        assert other not in materials


async def test_a_minor_applying_for_the_first_time_needs_the_guardian(h):
    await h.say("办身份证")
    await h.event("CLICK", "MENU_HOME")
    reply = await h.say("第一次办身份证")
    if "【" not in reply:
        pick = [line for line in reply.splitlines() if "居民身份证办理" in line][0].split(".")[0]
        reply = await h.say(pick)
    await h.say("1")  # 材料清单
    await h.say("首次申领")
    await h.say("否")
    materials = await h.say("是")  # under 16
    assert "监护人居民身份证" in materials and "居民户口簿" in materials
    assert "原居民身份证" not in materials


async def test_follow_ups_process_where_and_online(h):
    reply = await h.say("个体户注册")
    if "【" not in reply:
        reply = await h.say("1")
    assert "【" in reply
    assert "办理流程" in await h.say("办理流程")
    where = await h.say("3")
    assert "地址" in where
    online = await h.say("在线办理")
    assert "http" in online or "暂不支持网上办理" in online


async def test_the_card_and_online_answer_agree_for_every_guide(make_harness):
    """Whatever the card says about doing a matter online, 在线办理 says the same thing, links or not."""
    h = await make_harness(rate_limit_user_messages=0)  # two messages per guide, every guide
    for code in sorted(h.app[CATALOG].guides):
        await h.put_session("matters", "choosing", {"candidates": [code]})
        card = await h.say("1")
        line = next(line for line in card.splitlines() if line.startswith("网上办理："))
        online = await h.say("在线办理")
        if "需到现场办理" in line:
            assert "需要到现场办理" in online, (card, online)
        else:
            assert "暂不支持" not in online and "需要到现场" not in online, (card, online)
            assert ("可全程网上办理" in line) == ("可全程网上办理" in online), (card, online)
            assert "http" in online or "咨询" in online


async def test_a_matter_without_window_appointments_offers_no_booking_and_says_how_to_go(h):
    catalog = h.app[CATALOG]
    guide = next(g for g in catalog.guides.values() if not g.bookable and g.halls and g.halls[0] in catalog.halls)
    await h.put_session("matters", "choosing", {"candidates": [guide.code]})
    card = await h.say("1")
    assert "预约" not in card.split(f"【{guide.name}】")[1].replace(guide.name, "")
    listed = {line.split(". ", 1)[1]: line.split(".")[0] for line in card.splitlines() if line[:1].isdigit() and ". " in line}
    assert "在线办理" in listed and "预约" not in listed
    assert "网上" in await h.say(listed["在线办理"])
    told = await h.say("预约")
    assert "不需要预约" in told and catalog.halls[guide.halls[0]].name in told


async def test_a_follow_up_answer_does_not_repeat_the_card_menu(h):
    catalog = h.app[CATALOG]
    guide = next(g for g in catalog.guides.values() if g.bookable and g.process)
    await h.put_session("matters", "choosing", {"candidates": [guide.code]})
    card = await h.say("1")
    assert card.count("回复序号了解更多") == 1 and "随时回复其他序号" in card  # said once, with the card
    for word in ("办理流程", "在哪办", "在线办理"):
        answer = await h.say(word)
        assert "回复序号了解更多" not in answer and "1. 材料清单" not in answer, answer
    assert "办理流程" in await h.say("2")  # the card's numbers still work after the answers


async def test_out_of_scope_says_so_and_offers_a_person(h):
    reply = await h.say("今天天气怎么样")
    assert "没找到" in reply and "人工" in reply and "12345" in reply and "请说说您想办什么事" in reply
    assert "【" not in reply and "您要办的是不是" not in reply


@pytest.mark.parametrize("question", ["小区物业费太贵了能不能不交", "驾校报名哪家便宜", "退休金今年涨了多少"])
async def test_a_near_domain_question_the_catalog_does_not_serve_says_so_and_offers_a_person(h, question):
    """The catalog has 物业, 驾驶证 and 退休 matters, but not these needs: no matter is guessed."""
    reply = await h.say(question)
    assert "没找到" in reply and "人工" in reply and "12345" in reply
    assert "【" not in reply and "您要办的是不是" not in reply


@pytest.mark.parametrize("question", ["人民医院几点开门", "工商银行几点下班", "What time does the bank close?"])
async def test_another_places_hours_are_not_answered_with_the_service_halls(h, question):
    """怎么挂号看病，人民医院几点开门 and 工商银行几点下班 got the service halls and their hours."""
    await h.catalog_ready()
    reply = await h.say(question)
    halls = h.app[CATALOG].halls.values()
    assert not any(hall.name in reply for hall in halls) and "办公时间" not in reply, reply


@pytest.mark.parametrize(("question", "told"), [("我老婆是外国人，外籍配偶的居留证件到期了去哪里换", "出入境"),
                                              ("老外来我们厂工作，外国人工作许可怎么办", "出入境"),
                                              ("电动车在楼下被偷了怎么办", "110"), ("被人告到法院了，收到传票怎么办", "诉讼服务中心"),
                                              ("我是德国人，护照丢了，在这里能补办吗", "使领馆"),
                                              ("我要和外国人结婚，在哪登记", "涉外婚姻登记"),
                                              # a foreigner in few words: it got the residence permits' office
                                              ("我老婆中国人 我要结婚 外国人 去哪里", "涉外婚姻登记")])
async def test_a_need_met_elsewhere_is_told_where(h, question, told):
    """A foreign spouse's residence permit got 没找到 and 12345 alone, though one office serves it:
    out of scope, and where (with the hall when the city has one), then 人工 / 12345."""
    await h.catalog_ready()
    reply = await h.say(question)
    assert "没找到" in reply and told in reply and "12345" in reply and "您要办的是不是" not in reply, reply
    if told == "出入境":
        hall = h.app[CATALOG].halls["gas-crj"]
        assert hall.address in reply, reply


@pytest.mark.parametrize(("question", "told"), [
    ("信用卡逾期了会不会影响征信", "征信中心"), ("房贷想提前还一部分去哪办", "开户银行"),
    ("我想在建设银行办张储蓄卡", "开户银行"), ("爸爸去世了，他存折里的钱怎么取", "开户银行"),
    ("我们这片停电了找谁", "95598"), ("宽带三天两头断网", "10086"), ("想给自己的发明申请个专利", "国家知识产权局"),
    ("个税退税怎么还没到账", "个人所得税"), ("驾驶证被扣了6分怎么消", "12123"), ("医院的专家号怎么预约", "医院"),
    ("快递丢了快递公司不管", "12305"), ("公务员考试什么时候报名", "人事考试网"), ("想去当兵怎么报名", "征兵网"),
    ("坐公交把包忘在车上了", "失物招领"), ("钱包丢了", "挂失和补办"), ("河里好多死鱼是不是有人偷偷排污", "12369"), ("家里种了十几亩水稻，听说种粮有补贴", "农业服务中心"),
    # new users: 个体户没收入需要零申报吗 got 最低生活保障; 年报 a tax agent's report; 我要复议 没找到 alone
    ("公司今年的年报还没报会怎么样", "国家企业信用信息公示系统"), ("小店没有收入还用申报纳税吗", "12366"),
    ("对城管的罚款决定不服，想申请复议", "行政复议"), ("借条没写还款日期有法律效力吗", "12348"),
])
async def test_an_out_of_scope_need_with_one_place_that_serves_it_is_told_that_place(h, question, told):
    """Banks, carriers, utilities, tax, traffic police, hospitals, couriers, exams, the army, lost
    property, pollution: each had 没找到 and 12345 alone, though everyone knows whose they are."""
    await h.catalog_ready()
    reply = await h.say(question)
    assert "没找到" in reply and told in reply and "12345" in reply and "您要办的是不是" not in reply, reply


async def test_a_bank_card_named_with_a_catalog_paper_is_still_the_catalogs(h):
    """A social security card is a bank card too: 银行卡 said of it keeps its matters."""
    await h.catalog_ready()
    reply = await h.say("社保卡丢了，银行卡功能怎么办")
    assert "没找到" not in reply and "社会保障卡挂失" in reply, reply


@pytest.mark.parametrize("lost", ["我身份证掉了，钱包一起丢的，银行卡也没了", "钱包丢了，身份证和银行卡都在里面"])
async def test_a_lost_id_card_told_with_a_lost_bank_card_is_still_the_catalogs(h, lost):
    """The bank card won: 没找到…请联系您的开户银行, and the ID card, the tester's main need, was never
    reached. A bank card kept to open an account with (外地身份证行不行) is still the bank's."""
    await h.catalog_ready()
    reply = await h.say(lost)
    assert "没找到" not in reply and "居民身份证" in reply, reply
    assert reply.startswith("银行卡丢了的话，请先打开户银行的客服电话挂失"), reply  # the bank card's place, too
    bank = await h.as_user("opener").say("在广安开张工商银行的卡，外地身份证行不行")
    assert "开户银行" in bank and "您要办的是不是" not in bank, bank


async def test_a_complaint_about_nothing_named_is_not_sent_to_the_courts(h):
    """投诉找谁 was told the court's litigation service centre (its nearest topic had been the courts')."""
    await h.catalog_ready()
    reply = await h.say("想投诉，找谁")
    assert "12345" in reply and "法院" not in reply, reply


async def test_an_out_of_scope_need_of_no_one_place_is_not_sent_somewhere_wrong(h):
    """A broken phone screen is nobody's office: no carrier's number (its topic was split from
    the carriers' services so that only those name them)."""
    await h.catalog_ready()
    reply = await h.say("手机屏幕摔碎了去哪修")
    assert "没找到" in reply and "12345" in reply and "10086" not in reply, reply


@pytest.mark.parametrize("question, matter", [
    ("您好，我们夫妻俩在镇上开了个小饭馆，最近想把店名改一下，营业执照上的名字要怎么改，需要本人去吗，谢谢", "个体工商户变更登记"),
    ("我家孩子明年上小学，户口不在这边，要准备些啥", "义务教育阶段入学办理"),
    ("想在自家院子里盖两间房", "乡村建设规划许可证核发"),
])
async def test_an_in_domain_question_it_is_unsure_of_gets_candidates_never_nothing(h, question, matter):
    reply = await h.say(question)
    assert "没找到" not in reply
    shown = [reply.splitlines()[0]] if reply.startswith("【") else listed(reply)[:3]
    assert any(matter in line for line in shown), reply


def listed(reply: str) -> list[str]:
    """The numbered lines of a reply, without their numbers: 1. 名称（部门） -> 名称（部门）."""
    return [line.split(". ", 1)[1] for line in reply.splitlines() if line[:1].isdigit() and ". " in line]


@pytest.mark.parametrize("question", ["我想卖烟花", "过年想摆个摊卖烟花爆竹要办什么证照", "开个卖烟花的店"])
async def test_fireworks_however_it_is_asked(h, question):
    reply = await h.say(question)
    shown = [reply.splitlines()[0]] if reply.startswith("【") else listed(reply)[:3]
    assert any("烟花爆竹经营（零售）许可证核发" in line for line in shown), reply


@pytest.mark.parametrize("letter, matters", [
    # Run on, as voice input writes it: no punctuation at all.
    ("喂你好我想问一下我婆婆今年快七十了身体不好一个人住在乡下也没有退休金平时就靠种点菜过日子"
     "村里说可以帮她申请低保我不知道要去哪里办要准备些什么麻烦你说一下", {"最低生活保障"}),
    ("你好我是开早餐店的以前一直在路边摆摊现在租了个门面准备正式开张了听别人说卖吃的要办一个食品的许可证"
     "我想问一下这个证要去哪里申请要多久", {"食品(含保健食品)经营许可核发", "食品小经营店备案发放"}),
    # Spoken with spaces for pauses.
    ("你好 我上个礼拜在菜市场把钱包弄丢了 身份证也在里面 下周要坐火车回老家 现在能不能先办个临时的身份证 要去哪里办",
     {"临时身份证明", "居民身份证办理（包括临时）"}),
    # The need in the middle of the story.
    ("您好，我在镇上开了一家小饭馆，生意还行，最近忙不过来，想招两个帮工，听说招人以后要给他们交社保，"
     "单位还要先去开户登记，请问要去哪里办，要带什么？谢谢。", {"企业社会保险登记", "单位参保登记"}),
    # Only implied: what happened, not what to do.
    ("你好，我外公前天晚上在家里去世了，我们家里人从来没经历过这种事，不知道后面还要办哪些手续，麻烦告诉一下。",
     {"身后一件事", "户口注销"}),
])
async def test_a_letter_finds_its_matter_however_it_is_written(h, letter, matters):
    reply = await h.say(letter)
    shown = [reply.splitlines()[0]] if reply.startswith("【") else listed(reply)[:3]
    assert any(name in line for line in shown for name in matters), reply


@pytest.mark.parametrize("text, answer", [("bye", "再见"), ("qq", "没看懂"), ("asdf", "没看懂"), ("😂😂😂", "还有什么可以帮您")])
async def test_junk_gets_no_matter(h, text, answer):
    reply = await h.say(text)  # junk or small talk: answered as such (dialogs/smalltalk.py), never searched
    assert "【" not in reply and "您要办的是不是" not in reply and "没找到" not in reply and answer in reply


async def test_an_english_question_finds_the_id_card_matters(h):
    reply = await h.say("how to renew my ID card")
    assert any("居民身份证" in line for line in listed(reply)[:3]) or reply.startswith("【居民身份证")
    assert "Did you mean" in reply or "Department:" in reply  # answered in English, the names as the platform has them


async def test_a_bundle_lists_its_matters_and_opens_one(h):
    reply = await h.say("企业开办一件事")
    assert reply.startswith("【企业开办一件事】")
    matters = listed(reply)
    assert any("公司设立登记" in line for line in matters)
    pick = next(i for i, line in enumerate(matters, 1) if "公司设立登记" in line)
    assert (await h.say(str(pick))).startswith("【公司设立登记】")


async def test_a_candidates_reply_answered_with_a_number_opens_that_candidate(h):
    reply = await h.say("社保卡")
    assert reply.startswith("您要办的是不是：")
    second = listed(reply)[1].rsplit("（", 1)[0]
    assert (await h.say("2")).startswith(f"【{second}】")


@pytest.mark.parametrize("said, index", [("第一个", 0), ("就第二个吧", 1), ("第2个", 1), ("最后一个", -1)])
async def test_a_candidate_picked_in_words_opens_it_and_is_not_searched(h, said, index):
    """An elder (or anyone) says 第一个 rather than 1, as the booking steps already take it."""
    reply = await h.say("社保卡")
    assert reply.startswith("您要办的是不是：")
    picked = listed(reply)[index].rsplit("（", 1)[0]
    assert (await h.say(said)).startswith(f"【{picked}】")


async def test_searches_are_counted_for_operators_without_personal_data(chat, client):
    """Through the real webhook: the counts ride on each turn's commit to Redis."""
    await asyncio.wait_for(client.app[CATALOG].ready.wait(), timeout=90)
    await chat.say("我电话13812345678，想问问怎么炒股")
    await chat.say("社保卡")
    await chat.say("1")
    outcomes = client.app[CATALOG].outcomes
    misses = await outcomes.misses(datetime.date.today() - datetime.timedelta(days=1))
    assert [m.query for m in misses] == ["我电话###想问问怎么炒股"]
    assert not any("138" in m.query for m in misses)


async def test_candidates_when_unsure_are_numbered_with_departments(h):
    reply = await h.say("社保卡")
    if "回复序号" in reply and "【" not in reply:
        assert "（" in reply and "1. " in reply
        assert "【" in await h.say("1")
    else:
        assert "社会保障卡" in reply


@pytest.mark.parametrize(("typed", "whole"), [
    ("帮我查下13981234567这个号码是谁的", "13981234567"),
    ("511602193910150236 股票怎么买", "511602193910150236"),
])
async def test_a_question_quoted_back_never_shows_an_id_or_phone_number_whole(h, typed, whole):
    await h.catalog_ready()
    reply = await h.say(typed)
    assert "没找到和“" in reply and whole not in reply and whole[-4:] in reply, reply


@pytest.mark.parametrize(("typed", "whole"), [
    ("我的手机13911112222银行卡6222021234567890123怎么解绑", "6222021234567890123"),
    ("护照号E12345678，签证到期了怎么续", "E12345678"),
])
async def test_a_bank_card_or_passport_number_told_as_one_is_never_quoted_whole_nor_taken_for_a_case(h, typed, whole):
    """银行卡6222… was taken for a case number (办件编号：6222021234567890123, one verification try
    spent) and a passport's number was quoted back whole."""
    await h.catalog_ready()
    reply = await h.say(typed)
    assert whole not in reply and "办件编号" not in reply, reply


async def _at_the_first_question(h) -> str:
    """The 居住证 card's 材料清单: its first question (which situation) on screen."""
    await h.catalog_ready()
    reply = await h.say("居住证办理")
    if "【" not in reply:
        pick = [line for line in reply.splitlines() if "居住证办理" in line][0].split(".")[0]
        reply = await h.say(pick)
    question = await h.say("要带啥材料")  # the card's 材料清单 in other words
    assert "请问您是哪种情况" in question, question
    return question


async def test_an_option_said_in_other_words_answers_the_question(h):
    first = await _at_the_first_question(h)
    reply = await h.say("第一次办 租的房子")
    assert reply != first and "没太明白" not in reply, reply  # 首次申领: the next question, or the list


async def test_another_need_asked_at_a_question_is_searched_not_refused(h):
    await _at_the_first_question(h)
    reply = await h.say("那社保能转过来不 我在老家交过")
    assert "没太明白" not in reply and "关系转移接续" in reply, reply


async def test_the_cards_other_follow_ups_asked_at_a_question_are_answered(h):
    await _at_the_first_question(h)
    reply = await h.say("在哪办")
    assert "没太明白" not in reply and "广安区政务服务中心" in reply, reply


async def test_materials_asked_again_at_their_question_ask_it_again_without_a_miss(h):
    first = await _at_the_first_question(h)
    reply = await h.say("材料清单")
    assert "没太明白" not in reply and "选好您的情况" in reply and first.splitlines()[0] in reply, reply


async def test_a_yes_or_no_followed_by_why_answers_the_question(h):
    """People answer 是的 我们领了证 and 不是 都是本地的, and name an option in their words (跟妈妈)."""
    await h.catalog_ready()
    card = await h.say("出生登记")
    assert "【户口登记】" in card, card
    married = await h.say("材料清单")
    assert "是否已登记结婚" in married, married
    which = await h.say("是的 我们领了证")
    assert "随母亲落户" in which and "没太明白" not in which, which
    local = await h.say("跟妈妈")
    assert "没太明白" not in local and "随母亲落户" not in local, local
    after = await h.say("不是 都是本地的")
    assert "没太明白" not in after and after != local, after


@pytest.mark.parametrize("said", ["不知道", "不太清楚", "啥意思"])
async def test_not_knowing_a_guides_yes_or_no_explains_it_and_answers_nothing(h, said):
    """不知道 to 上户口's 是否已登记结婚 was read as 否 (starting with 不): the list would leave out 结婚证."""
    await h.catalog_ready()
    await h.say("出生登记")
    question = await h.say("材料清单")
    assert "是否已登记结婚" in question, question
    reply = await h.say(said)
    assert "结婚证" in reply and "是否已登记结婚" in reply and "没太明白" not in reply, reply
    assert not (await h.session()).data.get("answers"), (await h.session()).data


@pytest.mark.parametrize("said", ["没结婚", "未婚", "还没领证", "我们没扯证", "还没有登记", "准备下个月领证"])
async def test_not_married_said_in_everyday_words_is_a_no(h, said):
    """上户口's 是否已登记结婚 answered 没结婚 or 未婚 got 没太明白 (only 没有, 否 or 2 worked): 没结婚
    says the question's own word, which kept it from being read as a short denial."""
    await h.catalog_ready()
    await h.say("出生登记")
    assert "是否已登记结婚" in await h.say("材料清单")
    reply = await h.say(said)
    assert "没太明白" not in reply and "是否已登记结婚" not in reply, reply
    assert "no" in (await h.session()).data["answers"].values()


async def test_a_matter_asked_for_with_its_materials_shows_them_or_their_question(h):
    """生育津贴要啥材料: the card and at once the list, or the question that decides it."""
    await h.catalog_ready()
    catalog = h.app[CATALOG]

    async def sure(guide, asking: str) -> bool:  # a question the search is sure of: what this test is about
        found = await catalog.find(guide.name + asking, top=1)
        return found.verdict == "matter" and found.hits[0].code == guide.code

    plain = [g for g in catalog.guides.values() if g.materials and not questions_for(g) and await sure(g, "要带什么材料")][0]
    asked = [g for g in catalog.guides.values() if questions_for(g) and await sure(g, "需要准备啥")][0]
    reply = await h.say(f"{plain.name}要带什么材料")
    assert f"【{plain.name}】" in reply and "需要准备的材料" in reply and plain.materials[0].name in reply, reply
    await h.say("菜单")
    reply = await h.say(f"{asked.name}需要准备啥")
    assert f"【{asked.name}】" in reply and questions_for(asked)[0].text in reply, reply


async def test_booking_asked_for_in_a_sentence_at_a_card_books_that_matter(h):
    await h.catalog_ready()
    assert "【普通护照签发】" in await h.say("办护照")
    reply = await h.say("好的谢谢 那我想预约去办 这周五上午可以吗")
    assert "预约「普通护照签发」" in reply, reply


async def test_a_matter_without_a_guide_yet_offers_a_person_and_keeps_the_list_open(h):
    await h.catalog_ready()
    catalog = h.app[CATALOG]
    missing = next(s for s in catalog.summaries.values() if catalog.guide(s.code) is None)
    guided = next(g for g in catalog.guides.values())
    await h.put_session("matters", "choosing", {"candidates": [missing.code, guided.code]})
    reply = await h.say("1")
    assert f"【{missing.name}】" in reply and "还在整理中" in reply and "「人工」" in reply and "其他序号" in reply, reply
    again = await h.say("2")
    assert f"【{guided.name}】" in again and "办理部门" in again, again


async def test_where_and_when_asked_on_a_card_are_the_cards_halls(h):
    await h.catalog_ready()
    assert "【普通护照签发】" in await h.say("办护照")
    reply = await h.say("要去哪里办，几点开门")
    assert "本区服务大厅：" not in reply and "出入境接待大厅" in reply, reply


@pytest.mark.parametrize("none", ["都不是", "不是", "错了", "一个都不是"])
async def test_none_of_the_candidates_asks_for_other_words_and_leaves_nothing(h, none):
    await h.catalog_ready()
    assert "您要办的是不是" in await h.say("身份证")
    reply = await h.say(none)
    assert "换个说法" in reply and "已取消" not in reply and "没太明白" not in reply, reply
    again = await h.say("身份证丢了")  # searched as at the start
    assert "您要办的是不是" in again or "【" in again, again


@pytest.mark.parametrize("pick", ["2嘛", "2撒", "选2吧"])
async def test_a_pick_said_with_a_particle_picks_from_the_list(h, pick):
    """2嘛 / 2撒 at a list is item 2, as 2 is (it started a new search)."""
    await h.catalog_ready()
    listed = await h.say("身份证")
    second = [line for line in listed.splitlines() if line.startswith("2. ")][0][3:].split("（")[0]
    reply = await h.say(pick)
    assert f"【{second}" in reply or second in reply.splitlines()[0], reply


async def _on_the_passport_card(h) -> None:
    await h.catalog_ready()
    card = await h.say("普通护照签发")
    assert "【普通护照签发】" in card and "办理时限" in card, card


@pytest.mark.parametrize("asking", ["办下来要多久", "大概几天能拿到"])
async def test_how_long_asked_on_a_card_is_answered_from_it(h, asking):
    """The card says 办理时限; asked again in words, it is said again, not searched as a matter."""
    await _on_the_passport_card(h)
    reply = await h.say(asking)
    assert "7 个工作日" in reply and "没找到" not in reply and "您要办的是不是" not in reply, reply


@pytest.mark.parametrize("asking", ["要花多少钱", "收费吗"])
async def test_what_it_costs_asked_on_a_card_is_answered_from_it(h, asking):
    await _on_the_passport_card(h)
    reply = await h.say(asking)
    assert "120元" in reply and "没找到" not in reply, reply


@pytest.mark.parametrize("asking", ["要带啥子东西嘛", "我带他去办要准备些什么材料", "给我妈办需要带什么"])
async def test_what_to_bring_asked_on_a_card_in_ones_own_words_opens_its_materials(h, asking):
    await _on_the_passport_card(h)
    reply = await h.say(asking)
    assert "请问您是哪种情况" in reply or "材料" in reply, reply
    assert "没找到" not in reply and "您要办的是不是" not in reply, reply


@pytest.mark.parametrize("asking", ["可以预约吗", "我要预约", "能约个时间吗"])
async def test_booking_asked_on_a_card_books_that_matter_not_one_named_after_booking(h, asking):
    """可以预约吗 on the passport card: the passport's booking, not 结婚登记预约 (a matter named 预约)."""
    await _on_the_passport_card(h)
    reply = await h.say(asking)
    assert "预约「普通护照签发」" in reply and "结婚" not in reply, reply


async def test_another_matter_named_with_booking_on_a_card_is_that_matter(h):
    await _on_the_passport_card(h)
    reply = await h.say("结婚登记预约")
    assert "【结婚登记预约】" in reply, reply


@pytest.mark.parametrize(("asked", "narrowing", "topic"), [("身份证", "新办的", "身份证"), ("社保卡", "丢了那个", "社会保障卡"),
                                                          ("营业执照", "个体户的", "个体工商户")])
async def test_a_few_words_said_to_the_candidates_narrow_them_instead_of_searching_anew(h, asked, narrowing, topic):
    """新办的 said to the 身份证 list is about those, not a search of 新办 (it listed 采矿权 and 取水许可)."""
    await h.catalog_ready()
    listed = await h.say(asked)
    assert "您要办的是不是" in listed, listed
    reply = await h.say(narrowing)
    names = [line for line in reply.splitlines() if line[:1].isdigit() or line.startswith("【")]
    assert names and topic in names[0], reply
    assert "没找到" not in reply, reply


@pytest.mark.parametrize(("who", "agent"), [("我自己", False), ("是我本人去办", False), ("我儿子帮我去", True), ("让我女儿替我办", True),
                                             ("我是他女儿 我自己去办", False), ("帮我妈办的 我自己跑一趟", True)])
async def test_whether_another_acts_for_one_is_answered_by_saying_who_goes(h, who, agent):
    """是由他人代您办理吗 answered 我自己 or 我儿子帮我去: no or yes, not 没太明白."""
    await h.catalog_ready()
    catalog = h.app[CATALOG]
    guide = next(g for g in sorted(catalog.guides.values(), key=lambda g: g.code)
                 if len(questions_for(g)) == 1 and "代您" in questions_for(g)[0].text)
    card = await h.say(guide.name)
    if "【" not in card:
        card = await h.say([line for line in card.splitlines() if guide.name in line][0].split(".")[0])
    assert "代您办理" in await h.say("材料清单")
    materials = await h.say(who)
    assert "需要准备的材料" in materials and "没太明白" not in materials, materials
    assert ("代理人" in materials or "委托" in materials) == agent, materials


async def test_an_option_named_by_most_of_its_words_and_an_age_answer_their_questions(h):
    """期满换证 names 有效期满换证 (not 损毁换证, which shares only 换证); 我今年46 answers 您年满70周岁了吗."""
    await h.catalog_ready()
    guide = next(g for g in h.app[CATALOG].guides.values() if g.name == "机动车驾驶证换证、补证")
    questions = questions_for(guide)
    assert [o.name for o in questions[0].options][:1] == ["有效期满换证"]
    card = await h.say(guide.name)
    if "【" not in card:
        await h.say([line for line in card.splitlines() if guide.name in line][0].split(".")[0])
    assert "请问您是哪种情况" in await h.say("材料清单")
    age = await h.say("期满换证")
    assert "年满70周岁" in age and "您要办的是不是" not in age, age
    after = await h.say("我今年46")
    assert "没太明白" not in after and "年满70周岁" not in after, after


async def test_an_earlier_answer_put_right_changes_the_materials(h):
    """不对 不是头一回办 是过期了换 at the next question changes the first answer, asks that question
    again, and the list is the one for renewing (the old card), not for a first card (户口簿)."""
    await h.catalog_ready()
    await open_card(h, "居民身份证办理")
    assert "请问您是哪种情况" in await h.say("材料清单")
    second = await h.say("头一回办")
    assert "请问您是哪种情况" not in second and "没太明白" not in second, second
    corrected = await h.say("不对 不是头一回办 是过期了换")
    assert "有效期满或临近期满换领" in corrected and second.splitlines()[0] in corrected, corrected
    assert "您要办的是不是" not in corrected
    reply = corrected
    for _ in range(3):
        if "需要准备的材料" in reply:
            break
        reply = await h.say("否")
    assert "原居民身份证" in reply and "居民户口簿" not in reply, reply


async def test_an_expiry_said_any_way_names_the_renewal_option(h):
    await h.catalog_ready()
    guides = {g.name: g for g in h.app[CATALOG].guides.values()}
    for name, said in (("居民身份证办理（包括临时）", "过期了"), ("机动车驾驶证换证、补证", "驾照到期了"),
                       ("普通护照签发", "护照过期了要换"), ("往来港澳通行证及签注签发", "过期了")):
        options = questions_for(guides[name])[0].options
        code = named_option(options, normalise(said))
        assert code is not None and "期" in next(o.name for o in options if o.code == code), (name, said)
    assert named_option(questions_for(guides["居民身份证办理（包括临时）"])[0].options, normalise("不是第一次")) is None
    for name in ("居民身份证办理（包括临时）", "机动车驾驶证换证、补证"):  # 证件丢失补领 / 遗失补证: a loss said any way
        options = questions_for(guides[name])[0].options
        code = named_option(options, normalise("搞丢了"))
        assert code is not None and any(w in next(o.name for o in options if o.code == code) for w in ("丢失", "遗失")), name


async def test_an_answer_in_ones_own_words_at_a_question_is_not_searched_and_the_answers_stay(h):
    """在市人民医院生的 at a situation question is an answer, not a need: it once listed matters
    (医疗机构执业审批) and the answers given so far were lost."""
    first = await _at_the_first_question(h)
    reply = await h.say("在市人民医院生的")
    assert "您要办的是不是" not in reply and first.splitlines()[0] in reply, reply
    assert (await h.session()).state == "situation"


async def test_an_age_said_back_and_a_short_denial_answer_their_questions(h):
    """办证的人未满16周岁吗 answered 宝宝当然未满啊 (yes), …变更过吗 answered 没变过 (no): the list is the
    minor's, without the change certificate; neither was 没太明白."""
    await h.catalog_ready()
    await open_card(h, "居民身份证办理")
    assert "请问您是哪种情况" in await h.say("材料清单")
    reply = await h.say("头一回办")
    for _ in range(4):
        if "需要准备的材料" in reply:
            break
        question = reply.splitlines()[0]
        answer = "没变过" if "变更过" in question else "宝宝当然未满啊" if "未满16" in question else "否"
        reply = await h.say(answer)
        assert "没太明白" not in reply, (question, reply)
    assert "监护人居民身份证" in reply and "户口登记项目变更证明" not in reply, reply


def test_answers_in_ones_own_words_to_yes_no_questions():
    """Who goes, an age told in a sentence (in words or in months), a verb of the question said back
    with 了: each read as the yes or no it means, and nothing read where nothing is said."""
    assert by_another(normalise("我自己腿脚不方便 让我儿子去办")) is True
    assert by_another(normalise("俺自己去")) is False
    assert by_another(normalise("她卧床去不了，我去办可以吗")) is True
    assert by_another(normalise("我腿脚不便出不了门")) is True
    assert by_age("办证的人未满16周岁吗？", normalise("不是小孩 我七十八了")) is False
    assert by_age("申请人是未成年人（未满18周岁）吗？", normalise("俺42了 不是娃娃")) is False
    assert by_age("办卡人未满16周岁吗？", normalise("宝宝才一个月 当然是啊")) is True
    assert by_age("办卡人未满16周岁吗？", normalise("在医院生的")) is None
    assert verb_said_back("孩子父母已登记结婚吗？", "结了") is True
    assert verb_said_back("孩子父母已登记结婚吗？", "好了") is None  # 好 is not the question's
    assert verb_said_back("以前结过婚吗？", "结了") is True


async def test_what_the_question_told_answers_the_cards_questions_ahead(h):
    """我妈68岁了，想办老年人优待证，我代她去办，需要带什么材料？ → the card → 材料清单: 代办 is not
    asked again (the question said so); the list is the one for an agent."""
    await h.catalog_ready()
    listed = await h.say("我妈68岁了，想办老年人优待证，我代她去办，需要带什么材料？")
    if "【" not in listed:
        await h.say([line for line in listed.splitlines() if "优待证" in line][0].split(".")[0])
    materials = await h.say("材料清单")
    assert "是由他人代您办理吗" not in materials and "代理人居民身份证" in materials and "委托他人代办" in materials, materials


async def test_the_applicant_unable_to_go_answers_that_another_acts_for_them(h):
    """是由他人代您办理吗 answered 她卧床去不了，我去办可以吗 searched anew and listed 流浪乞讨人员救助:
    the one who cannot go is the applicant, so another acts: the agent's materials."""
    await h.catalog_ready()
    await to_question(h, "80周岁以上老年人高龄津贴发放", "是由他人代您办理吗")
    after = await h.say("她卧床去不了，我去办可以吗")
    assert "流浪乞讨" not in after and "是由他人代您办理吗" not in after, after
    for _ in range(4):
        if "需要准备的材料" in after:
            break
        after = await h.say("否")
    assert "代理人" in after, after


async def test_doing_it_together_answers_whether_a_family_runs_it(h):
    """是家庭成员共同经营吗 answered 我和老婆一起开: yes, not 没太明白."""
    await h.catalog_ready()
    await to_question(h, "个体工商户设立登记", "是家庭成员共同经营吗")
    after = await h.say("我和老婆一起开")
    assert "没太明白" not in after and "是家庭成员共同经营吗" not in after, after
    other = h.as_user("shop-alone")
    await to_question(other, "个体工商户设立登记", "是家庭成员共同经营吗")
    alone = await other.say("就我一个人开")
    assert "没太明白" not in alone and "是家庭成员共同经营吗" not in alone, alone


async def test_a_card_picked_by_mistake_from_a_list_goes_back_to_the_list(h):
    await h.catalog_ready()
    listed = await h.say("社保卡")
    assert "您要办的是不是" in listed, listed
    await h.say("2")
    again = await h.say("点错了 不是这个")
    assert "没找到" not in again and listed.splitlines()[1].split("（")[0] in again, again
    assert (await h.session()).state == "choosing"


async def test_a_question_the_search_cannot_answer_is_answered_from_the_cards_guide(h):
    """我走不动路 能不能上门来给我办 on the ID card's card: its guide says 行动不便的…可申请上门服务;
    that line is the answer, not 没找到. A question its guide does not speak of still gets 没找到."""
    await h.catalog_ready()
    await open_card(h, "居民身份证办理（包括临时）")
    reply = await h.say("我走不动路 能不能上门来给我办")
    assert "办事指南里写着" in reply and "上门服务" in reply and "没找到" not in reply, reply
    assert "1. 材料清单" in reply  # the card's numbers still work after it


def test_a_guide_line_answers_only_when_one_clearly_shares_the_question():
    from types import SimpleNamespace
    guide = SimpleNamespace(name="居民身份证办理", conditions=["本人须到场采集人像和指纹（行动不便的老年人、残疾人可申请上门服务）"],
                            process=["取号或凭预约号到户籍窗口"], materials=[])
    assert "上门服务" in guide_passage(guide, normalise("腿脚不好 能上门来办吗"))
    assert guide_passage(guide, normalise("今天天气怎么样")) is None
    assert guide_passage(guide, normalise("身份证办理要多久")) is None  # only the matter's own name shared


async def test_a_card_answers_questions_in_other_words_and_outlives_one_it_cannot_answer(h):
    """On a card: a hall named (在北辰那里能办不) asks where, 不想跑 online, 好多钱 the fee, 好 预约
    books; a question nothing answers is said so, and the card's numbers still work after it."""
    await h.catalog_ready()
    await open_card(h, "普通护照签发")
    assert "可以在这些地方办理" in await h.say("在北辰那里能办不")
    assert "网上申请" in await h.say("能网上办不 不想跑")
    assert "120元" in await h.say("好多钱一个人")
    lost = await h.say("窗口能刷信用卡不")
    assert "没找到" in lost and "「普通护照签发」的内容还可以接着看" in lost and "1. 材料清单" in lost, lost
    assert "请问您是哪种情况" in await h.say("1")


async def test_back_from_a_card_picked_from_a_list_shows_the_list_and_its_numbers_work(h):
    """返回 at a card picked from candidates shows the list again (it said 请回复上面事项前的序号 with
    the list long gone, and a number then was 请说说您想办什么事)."""
    await h.catalog_ready()
    listed = await h.say("身份证")
    assert "您要办的是不是" in listed
    third = [line for line in listed.splitlines() if line.startswith("3. ")][0][3:].split("（")[0]
    assert "【" in await h.say("2")
    again = await h.say("返回")
    assert "您要办的是不是" in again and third in again, again
    assert f"【{third}" in await h.say("3")


async def test_how_much_a_benefit_pays_is_not_answered_with_its_fee(h):
    """大概能领多少钱呀 on a benefit's card: the amount is set case by case, and where to ask; not
    only 不收费 (a fee is what one pays)."""
    await h.catalog_ready()
    await open_card(h, "生育津贴支付")
    amount = await h.say("大概能领多少钱呀")
    assert "按您的情况核定" in amount and "12345" in amount, amount
    fee = await h.say("要交钱不")
    assert "不收费" in fee and "核定" not in fee, fee
    # by the month (多少钱一个月) it was answered 不收费，免费办理 alone
    monthly = await h.say("多少钱一个月")
    assert "按您的情况核定" in monthly, monthly
    # in Sichuan words (每个月发好多钱) it was 不收费，免费办理 again
    sichuan = await h.say("每个月发好多钱")
    assert "按您的情况核定" in sichuan, sichuan


@pytest.mark.parametrize("asked", ["要好久", "好久能拿到钱", "要好久才办得下来"])
async def test_how_long_asked_in_sichuan_words_is_the_time_it_takes(h, asked):
    """好久 is 多久 in Sichuan: 要好久 on a card was read as 好 (好的，明白了)."""
    await h.catalog_ready()
    await open_card(h, "生育津贴支付")
    reply = await h.say(asked)
    assert "办理时限" in reply or "工作日" in reply or "办结" in reply, reply
    assert "明白了" not in reply, reply


async def test_an_option_named_in_the_guides_own_words_or_denied_is_read_so(h):
    """应该是租房提取 names the option 租房提取 (租房 was rewritten to another guide's 住所 and named
    nothing); 我没有单位，自己交的 is not the option with 单位 in it."""
    await h.catalog_ready()
    await h.say("公积金提取")
    reasons = await h.say("材料清单")
    assert "租房提取" in reasons, reasons
    await h.say("2")
    fixed = await h.say("不对 刚才选错了，应该是租房提取")
    assert "已改为「租房提取」" in fixed, fixed
    assert (await h.session()).data["answers"]["g:reason"] == "rent"

    await h.say("企业职工基本养老保险正常退休申请")
    kinds = await h.say("材料清单")
    assert "灵活就业" in kinds, kinds
    await h.say("我没有单位，自己交的")
    assert (await h.session()).data["answers"]["g:kind"] == "flexible"


async def test_ok_to_a_question_of_fact_is_no_answer(h):
    """好的 to 是由他人代您办理吗 said nothing of who goes: it added the agent's ID card and letter."""
    await h.catalog_ready()
    await h.say("出生一件事")
    question = await h.say("材料清单")
    while "代您办理" not in question.splitlines()[0]:
        question = await h.say("否")
    again = await h.say("好的")
    assert "代您办理" in again, again
    assert "s:agent" not in (await h.session()).data["answers"]


async def test_back_goes_to_the_card_before_the_list_the_matter_or_the_bundle_it_came_from(h):
    """返回 after a second matter typed on a card showed the menu; after a list typed on a card,
    the follow-ups with no matter's name (3 then opened the passport, unseen); from a matter
    opened on a bundle's card, the menu, not the bundle."""
    await h.catalog_ready()
    first = (await h.say("护照")).splitlines()[0]
    assert first.startswith("【") and "护照" in first, first
    second = (await h.say("居住证")).splitlines()[0]
    assert second.startswith("【") and second != first
    assert (await h.say("返回")).startswith(first)
    await h.say("身份证丢了")
    assert (await h.say("返回")).startswith(first)
    await h.say("菜单")
    assert (await h.say("失业一件事")).startswith("【失业一件事】")
    assert (await h.say("2")).startswith("【")
    assert (await h.say("返回")).startswith("【失业一件事】")


async def test_a_card_answers_whether_someone_else_may_do_it_and_how_to_apply(h):
    """可以让家里人代办吗 on a card listed 身后一件事 and 抚恤金; 怎么申请 and 能在手机上开不 found nothing."""
    await h.catalog_ready()
    assert (await h.say("开无犯罪证明")).startswith("【")
    agent = await h.say("可以让家里人代办吗")
    assert "代办" in agent and "授权委托书" in agent and "您要办的是不是" not in agent, agent
    assert "办理流程" in await h.say("怎么申请")
    online = await h.say("能在手机上开不")
    assert "网上" in online and "没找到" not in online, online


@pytest.mark.parametrize(("card", "asked", "said"), [
    ("普通护照签发", "我在成都工作，可以在成都办吗", "全国通办"),
    ("中国内地公民婚姻登记", "我们俩都在外地打工，能在那边领证吗", "全国通办"),
    ("个体工商户设立登记", "在老家那边也能办不", "没有写"),
])
async def test_whether_it_can_be_done_in_another_city_is_answered_from_the_card(h, card, asked, said):
    """办护照 → 我在成都工作，可以在成都办吗 got 没找到 and "ask that city's centre", though the card
    says 全国通办: the guide's own line answers, or it says the guide does not say."""
    await h.catalog_ready()
    await open_card(h, card)
    reply = await h.say(asked)
    assert said in reply and "没找到" not in reply and "您要办的是不是" not in reply, reply


@pytest.mark.parametrize(("card", "asked", "said"), [
    ("残疾人证新办", "我走路不方便，能让我儿子帮我去办吗", "代理人"),
    ("犬类准养证核发", "狗要带过去吗", "办事指南里没有写到"),
    ("申领《四川省老年人优待证》", "她户口在南充，在这边跟我住，也能办吧", "「申领《四川省老年人优待证》」"),
    ("个体工商户注销登记", "能不能网上办，我上班请不了假", "网上"),
    ("个体工商户注销登记", "网上怎么办", "网上"),
    ("最低生活保障", "低保标准是多少钱一个月", "核定"),
])
async def test_a_question_asked_of_the_card_is_answered_about_it_not_searched_anew(h, card, asked, said):
    """Two rounds of new users: 我走路不方便，能让我儿子帮我去办吗 at 残疾人证's card listed retirement
    and school matters, 狗要带过去吗 at the dog licence listed tax and bridge permits, 网上怎么办 was
    asked what they wanted, 低保标准是多少钱 was told the matter is free. A question that, read with
    the card's own question, comes back to the card is the card's: its answer, or that its guide
    does not say (and whom to ask)."""
    await h.catalog_ready()
    await open_card(h, card)
    reply = await h.say(asked)
    assert said in reply and "您要办的是不是" not in reply and "请说说您想办什么事" not in reply and "不收费，免费办理" not in reply, reply


async def test_a_new_need_asked_at_a_card_still_gets_its_own_matters(h):
    await h.catalog_ready()
    await open_card(h, "最低生活保障")
    reply = await h.say("那孩子上学的学费能减免吗")
    assert "没有写到" not in reply and ("您要办的是不是" in reply or reply.startswith("【")), reply
    assert "最低生活保障" not in reply.splitlines()[0], reply


async def test_asking_whether_it_can_be_done_on_the_phone_at_a_question_is_answered(h):
    """能不能在手机上办 at 是由他人代您办理吗 was read as "the detail is on a phone, wait" (不着急)."""
    await h.catalog_ready()
    await to_question(h, "申领《四川省老年人优待证》", "是由他人代您办理吗")
    online = await h.say("能不能在手机上办")
    assert "不着急" not in online and "网上" in online, online


async def test_a_death_in_the_family_is_met_with_condolences_once(h):
    """我爸上周走了，要办哪些手续 got a list of matters and not a word of sympathy."""
    await h.catalog_ready()
    first = await h.say("我爸上周走了，要办哪些手续")
    assert first.startswith("请您节哀") and "身后一件事" in first, first
    assert "节哀" not in await h.say("他的养老保险怎么处理")
    assert "节哀" not in await h.as_user("walker").say("我走了两个小时才到大厅，社保卡怎么补办")


async def test_a_card_without_a_guide_never_points_at_its_materials(h):
    """1, 2 at a card whose guide is being prepared got 好的，明白了…可以看材料清单里的说明: there is
    no list; 那你们能干嘛 got it too, where it asks what the bot can do."""
    await h.catalog_ready()
    assert "还在整理中" in await h.say("高校毕业生报到")
    for typed in ("1", "2", "我是今年的毕业生"):
        reply = await h.say(typed)
        assert "材料清单" not in reply, reply
    assert "我能帮您" in await h.say("那你们能干嘛")


async def test_whether_to_bring_a_paper_is_answered_from_the_cards_materials(h):
    """要带照片吗 / 户口本要不要带 at a card found nothing (没找到), or opened 户口簿补领's card."""
    await h.catalog_ready()
    await open_card(h, "中国内地公民婚姻登记")
    book = await h.say("户口本要不要带")
    assert book.startswith("要的") and "居民户口簿" in book and "【居民户口簿补领" not in book, book
    photo = await h.say("要带照片吗")
    assert "照片" in photo and "没找到" not in photo and "回复「材料清单」" in photo, photo
    await h.say("菜单")
    await open_card(h, "护照")
    absent = await h.say("要带房产证吗")
    assert "没有写到不动产权证" in absent and "回复「材料清单」" in absent, absent


async def test_a_card_answers_a_statement_of_who_goes_by_post_and_in_its_own_words(h):
    """On a card, 女儿帮我办 found nothing (a statement, not 可以…吗), 能寄过来吗 asked what to do,
    and 能在手机上申领吗 (the matter's own word 申领 beside 手机上) was searched anew."""
    await h.catalog_ready()
    assert (await h.say("开无犯罪证明")).startswith("【")
    agent = await h.say("女儿帮我办")
    assert "代办" in agent and "没找到" not in agent, agent
    post = await h.say("能寄过来吗")
    assert ("邮寄" in post or "领取" in post or "网上" in post) and "没找到" not in post and "想办什么" not in post, post
    post = await h.say("可以邮寄到家吗")  # two cues in one (邮寄, 寄到家): 没找到
    assert ("邮寄" in post or "领取" in post or "网上" in post) and "没找到" not in post and "想办什么" not in post, post
    assert (await h.say("社保卡申领")).startswith("【")
    online = await h.say("能在手机上申领吗")
    assert "网上" in online and "您要办的是不是" not in online and "没找到" not in online, online


async def test_a_circumstance_told_at_a_card_keeps_the_card_and_another_need_still_moves_on(h):
    """他有残疾证，一级的 at 重度残疾人护理补贴's card listed 残疾人证新办 first (a family that holds
    the card walked into applying for a new one): read with the card's question, it is the card's."""
    await h.catalog_ready()
    assert (await h.say("重度残疾人护理补贴")).startswith("【")
    told = await h.say("他有残疾证，一级的")
    assert "重度残疾人护理补贴" in told and "您要办的是不是" not in told and "残疾人证新办" not in told, told
    moved = await h.say("对了我社保卡丢了")
    assert "社会保障卡" in moved and "重度残疾人护理补贴" not in moved.split("\n")[0], moved


@pytest.mark.parametrize(("asked", "told"), [("我想申请公租房", "我有居住证"), ("我想申请公租房", "我是外地户口，在这边打工三年了"),
                                            ("给我爸办个老年证，他今年68了", "他是外地户口，跟我住"),
                                            ("家里困难，想申请低保", "我老公生病了，两个孩子在读书"),
                                            ("重度残疾人护理补贴", "她一直卧床，我辞了工作在家照顾")])
async def test_who_one_is_or_what_one_has_told_at_a_card_keeps_the_card(h, asked, told):
    """我有居住证 at 公租房's card was a clear card for 居住证办理 (he already has one), and 我是外地户口
    listed the ID card and school matters: a circumstance, not a request for the paper it names.
    我老公生病了，两个孩子在读书 at 最低生活保障's card listed school matters: a household's
    circumstances are the card's too."""
    await h.catalog_ready()
    card = await h.say(asked)
    if not card.startswith("【"):
        card = await h.say("1")
    name = card.split("】")[0].lstrip("【")
    reply = await h.say(told)
    # 外地户口 told: what the card's conditions say of it (dialogs.matters.HUKOU_ASKED)
    assert (f"好的，明白了。「{name}」" in reply or f"「{name}」的办理条件" in reply) and "您要办的是不是" not in reply, reply
    asked = await h.say("钱多久到账")  # a question, not a circumstance
    assert "符不符合条件" not in asked, asked


async def test_who_one_is_that_the_card_cannot_serve_is_not_kept_on_it(h):
    """我是外国人 at a citizen's ID card is no circumstance of it: the card is not said to still be theirs."""
    await h.catalog_ready()
    card = await h.say("居民身份证办理（包括临时）")
    assert card.startswith("【"), card
    reply = await h.say("我是外国人")
    assert "符不符合条件" not in reply, reply


@pytest.mark.parametrize(("card", "said", "not_kept"), [("个体工商户设立登记", "我是开公司的，不是个体户", "个体工商户设立登记"),
                                                        ("重度残疾人护理补贴", "女儿帮我办行不行", "重度残疾人护理补贴")])
async def test_a_contrast_or_a_question_at_a_card_is_no_circumstance_of_it(h, card, said, not_kept):
    """我是开公司的，不是个体户 at the sole trader's card, and 女儿帮我办行不行, were answered 明白了，这种情况
    还是办「…」 (a third round of new users): one says what it is not, the other asks."""
    await h.catalog_ready()
    assert (await h.say(card)).startswith("【")
    reply = await h.say(said)
    assert "符不符合条件" not in reply, reply


async def test_a_circumstance_told_to_a_list_narrows_it_instead_of_searching_anew(h):
    """我们公司已经开过户了, said to the list for enrolling new employees, listed 机动车转移登记 (过户)
    and 二手房转移登记: a statement said to a list is read with the list's question."""
    await h.catalog_ready()
    listed = await h.say("我是公司人事，新招了几个员工，要给他们交社保，怎么操作")
    assert "参保登记" in listed, listed
    told = await h.say("我们公司已经开过户了")
    assert "机动车" not in told and "二手房" not in told and "参保" in told, told


@pytest.mark.parametrize("asked", ["我老婆帮我去行不行", "我儿子能替我去吗", "可以让我老乡帮我去办吗"])
async def test_someone_else_going_asked_in_any_order_on_a_card_is_the_agent_question(h, asked):
    """我儿子能替我去吗 and 我老婆帮我去行不行 on a card listed 出生一件事 and 生育医疗费支付."""
    await h.catalog_ready()
    assert (await h.say("开无犯罪证明")).startswith("【")
    agent = await h.say(asked)
    assert "代办" in agent and "您要办的是不是" not in agent and "出生" not in agent, agent


@pytest.mark.parametrize(("card", "correction", "meant"), [("公司设立登记", "不是，我是要注销不是办新的", "公司注销登记"),
                                                         ("残疾人证新办", "不对，是补办不是新办", "残疾人证挂失补办")])
async def test_a_correction_at_a_card_is_said_of_its_subject(h, card, correction, meant):
    """不是，我是要注销不是办新的 at 公司设立登记's card listed every kind of deregistration but the
    company's; 不对，是补办不是新办 at 残疾人证新办 listed the teaching cars' and tobacco licences' too."""
    await h.catalog_ready()
    assert (await h.say(card)).startswith("【")
    reply = await h.say(correction)
    first = reply.split("\n")[0] if reply.startswith("【") else next(line for line in reply.split("\n") if line.startswith("1. "))
    assert first.startswith((f"【{meant}", f"1. {meant}（")) and "教练车" not in reply and "艺术品" not in reply, reply


async def test_a_short_question_at_a_card_about_one_thing_its_guide_names_is_answered_from_it(h):
    """要带照片吗 on a card whose materials list a photo, and 要体检吗 on the driving licence's, got
    抱歉，没找到 (the second with a foreigner's work permit's office beside it)."""
    await h.catalog_ready()
    catalog = h.app[CATALOG]
    guide = next(g for g in sorted(catalog.guides.values(), key=lambda g: g.code)
                 if sum("照片" in m.name for m in g.materials) == 1 and not any("照片" in line for line in (*g.conditions, *g.process)))
    photo = next(m.name for m in guide.materials if "照片" in m.name)
    assert (await h.say(guide.name)).startswith("【")
    reply = await h.say("要带照片吗")
    assert photo in reply and "没找到" not in reply, reply


async def test_whether_there_is_something_is_answered_by_saying_one_has_it(h):
    """家中有重病患者或重度残疾人吗？ answered 我儿子有残疾证 got 没太明白, then 还是没能看明白."""
    await h.catalog_ready()
    assert (await h.say("最低生活保障")).startswith("【")
    reply = await h.say("材料")
    for _ in range(8):
        if "重病患者或重度残疾人" in reply:
            break
        reply = await h.say("1")
    else:
        pytest.fail(f"never asked: {reply}")
    answered = await h.say("我儿子有残疾证")
    assert "没太明白" not in answered and "重病患者或重度残疾人" not in answered, answered


async def test_asking_for_it_faster_at_a_card_is_told_its_time_and_whom_to_ask(h):
    """能加急吗 on the passport's card got 抱歉，没找到."""
    await h.catalog_ready()
    card = await h.say("普通护照签发")
    assert card.startswith("【"), card
    reply = await h.say("能加急吗")
    assert "加急" in reply and "工作日" in reply and "没找到" not in reply, reply


async def test_the_nearest_place_asked_at_a_card_is_its_halls(h):
    """最近的办理点在哪 on a card got 抱歉，没找到 (a third round of new users)."""
    await h.catalog_ready()
    card = await h.say("普通护照签发")
    assert card.startswith("【"), card
    reply = await h.say("最近的办理点在哪")
    hall = h.app[CATALOG].guide(next(s.code for s in h.app[CATALOG].summaries.values() if s.name == "普通护照签发")).halls[0]
    assert h.app[CATALOG].halls[hall].name in reply and "没找到" not in reply, reply


async def test_the_matters_own_words_told_ahead_name_no_option(h):
    """单位交了生育保险 told with 生育津贴 answered 个人申报（灵活就业参加生育保险） ahead, unasked:
    生育保险 is what the matter is about, not the option."""
    await h.catalog_ready()
    await h.say("我是宝妈，单位交了生育保险，生育津贴能领多少钱")
    asked = await h.say("材料")
    assert "哪种情况" in asked and "个人申报（灵活就业参加生育保险）" in asked and "需要准备的材料" not in asked, asked


async def test_asking_a_matter_without_a_guide_for_its_materials_keeps_the_list(h):
    """材料清单 on a matter whose guide is not written yet asked 请说说您想办什么事, and the list
    it was picked from was gone (its numbers no longer worked)."""
    await h.catalog_ready()
    catalog = h.app[CATALOG]
    listed = await h.say("公司新招了几个员工，要给他们交社保，怎么办理")
    names = [line.split(". ", 1)[1].rsplit("（", 1)[0] for line in listed.splitlines() if line[:1].isdigit() and ". " in line]
    codes = (await h.session()).data["candidates"]
    guideless = [n for n, code in enumerate(codes, 1) if catalog.guide(code) is None]
    assert guideless and len(names) > 1, listed  # the sample catalog lists one without a guide yet
    await h.say(str(guideless[0]))
    asked = await h.say("材料清单")
    assert "整理中" in asked and "请说说您想办什么事" not in asked, asked
    other = next(n for n in range(1, len(names) + 1) if n != guideless[0])
    assert (await h.say(str(other))).startswith(f"【{names[other - 1]}")


async def test_asked_whether_a_card_needs_booking_it_says_no_and_stays_on_the_card(h):
    """老年证要预约吗 on its card: 不需要预约, then 请告诉我您要预约办理什么事, and 那要带啥 was searched (没找到)."""
    await h.catalog_ready()
    assert (await h.say("老年人优待证")).startswith("【")
    told = await h.say("老年证要预约吗")
    assert "不需要预约" in told and "要预约办理什么事" not in told and "材料清单" in told, told
    materials = await h.say("那要带啥")
    assert "没找到" not in materials and ("吗？" in materials or "需要准备的材料" in materials), materials


async def test_after_booking_a_matter_that_needs_none_another_booking_asked_for_is_that_one(h):
    """预约办老年人优待证 (needs no booking), then 预约补办社保卡 said the 老年人优待证 needs no booking
    again, and so on for every later booking wish until 菜单."""
    await h.catalog_ready()
    assert "不需要预约" in await h.say("预约办老年人优待证")
    other = await h.say("预约补办社保卡")
    assert "老年人优待证" not in other and "社会保障卡" in other, other


@pytest.mark.parametrize("asked", ["要先预约吗", "需不需要提前约"])
async def test_asked_whether_a_bookable_card_needs_booking_it_says_booking_is_optional_then_offers_it(h, asked):
    """要先预约吗 on 居住证's card: told a booking is optional (a priority number) before the halls;
    要提前约吗 was searched (结婚登记预约 first)."""
    await h.catalog_ready()
    assert (await h.say("居住证办理")).startswith("【居住证办理")
    told = await h.say(asked)
    assert "可以预约" in told and "不约也能到现场取号" in told and "请选择办理大厅" in told, told


@pytest.mark.parametrize("asked", ["北辰街道能办吗", "能去街道办吗", "社区能办不"])
async def test_a_place_near_home_asked_on_a_card_lists_where_it_is_done(h, asked):
    """北辰街道能办吗 / 能去街道办吗 on 居住证's card: the halls that do it (没找到 before)."""
    await h.catalog_ready()
    assert (await h.say("居住证办理")).startswith("【居住证办理")
    told = await h.say(asked)
    assert "可以在这些地方办理" in told and "北辰街道便民服务中心" in told, told


@pytest.mark.parametrize(("said", "short"), [("不够", True), ("我只交了十年 不够十五年", True), ("交了12年", True), ("交了20年", False),
                                           ("是", True), ("否", False)])
async def test_a_shortfall_asked_about_is_read_from_how_people_say_it(h, said, short):
    """您的缴费年限不足15年吗 answered 不够 was read as 否 (不…): the list left out 补缴申请."""
    await h.catalog_ready()
    assert "不足15年吗" in await h.say("领城乡居民养老金要啥材料")
    assert "代您办理吗" in await h.say(said)
    listed = await h.say("否")
    assert "需要准备的材料" in listed and ("补缴申请" in listed) == short, listed


@pytest.mark.parametrize("alone", ["就我一个", "我自己", "只取我的"])
async def test_drawing_ones_own_fund_alone_answers_whether_the_spouses_is_drawn_too(h, alone):
    """还要同时提取配偶的公积金吗 answered 就我一个 / 我自己: 没太明白."""
    await h.catalog_ready()
    await h.say("公积金提取要带什么材料")
    assert "配偶" in await h.say("1")
    assert "代您办理吗" in await h.say(alone)
    listed = await h.say("否")
    assert "需要准备的材料" in listed and "配偶" not in listed.split("\n", 1)[0], listed


async def test_an_acknowledgement_with_thanks_is_no_answer_to_a_question_of_fact(h):
    """好的谢谢你啊 to 是由他人代您办理吗 was a yes: the list asked for an agent's ID and a letter of authority."""
    await h.catalog_ready()
    await h.say("领城乡居民养老金要啥材料")
    assert "代您办理吗" in await h.say("否")
    again = await h.say("好的谢谢你啊")
    assert "代您办理吗" in again and "需要准备的材料" not in again, again


async def test_a_parent_doing_a_childs_matter_is_not_taken_for_an_agent(h):
    """给孩子上户口 answered 是由他人代您办理吗 with yes, unasked: the list asked for 代理人居民身份证 and
    授权委托书, and 不是别人代办 could not undo it."""
    await h.catalog_ready()
    await h.say("给孩子上户口")
    asked = [await h.say("材料清单")]
    for _ in range(8):
        if "需要准备的材料" in asked[-1]:
            break
        asked.append(await h.say("1" if "哪种情况" in asked[-1] else "否"))
    assert any("代您办理" in reply for reply in asked), asked
    assert "授权委托书" not in asked[-1], asked[-1]


async def test_after_a_guides_list_an_answer_put_right_gives_the_list_again(h):
    """不对 我说错了 应该是丢了 after the list was searched (没找到); 上一步 went to the first question."""
    await h.catalog_ready()
    await h.say("办身份证")
    reply = await h.say("材料清单")
    assert "哪种情况" in reply, reply
    options = [line for line in reply.splitlines() if line[:1].isdigit()]
    first_kind = options[0].split(". ", 1)[1]
    reply = await h.say("1")
    while "需要准备的材料" not in reply:
        reply = await h.say("否")
    fixed = await h.say("不对 我说错了 应该是丢了")
    assert "已改为" in fixed and "需要准备的材料" in fixed and "没找到" not in fixed and first_kind not in fixed.split("需要准备的材料")[1], fixed
    back = await h.say("上一步")
    assert "吗？" in back or "哪种情况" in back, back
    assert (await h.session()).data.get("answers"), "the answers before the last were erased"


async def test_a_cards_follow_up_asked_of_a_list_asks_which_one_and_keeps_its_order(h):
    """材料清单 at a list of matters searched again: the list came back in another order (3 was
    挂失 and became 临时身份证明), so a number read from the first list opened another matter."""
    await h.catalog_ready()
    first = await h.say("我想办身份证")
    assert "您要办的是不是" in first, first
    rows = [line for line in first.splitlines() if line[:1].isdigit()]
    again = await h.say("材料清单")
    assert "先选一个事项" in again and [line for line in again.splitlines() if line[:1].isdigit()] == rows, again


async def test_whether_to_bring_a_paper_or_send_someone_asked_of_a_list_asks_which_one_first(h):
    """要带户口本吗 at a list of ID card matters was searched and opened 户口簿补领's card."""
    await h.catalog_ready()
    first = await h.say("我想办身份证")
    rows = [line for line in first.splitlines() if line[:1].isdigit()]
    again = await h.say("要带户口本吗")
    assert "先选一个事项" in again and "户口" in again.splitlines()[0], again
    assert [line for line in again.splitlines() if line[:1].isdigit()] == rows, again
    # whether someone else may go: of which one, too (子女可以帮我办吗 listed 收养子女登记)
    listed = (await h.session()).data["candidates"]
    agent = await h.say("我腿脚不方便，子女可以帮我办吗")
    # asked again of the same list: said shortly (the list is just above), the list unchanged
    assert f"回复 1-{len(rows)} 的序号" in agent and "说说您的情况" in agent, agent
    assert (await h.session()).data["candidates"] == listed


@pytest.mark.parametrize("said", ["都不是", "没有我这种情况"])
async def test_none_of_a_questions_options_fitting_is_told_who_can_say_and_the_question_stays(h, said):
    """都不是 at 请问您是哪种情况？ (户口迁移's five kinds) got 没太明白, then 还是没能看明白: no way on."""
    await h.catalog_ready()
    await open_card(h, "户口迁移审批")
    asked = await h.say("1")
    assert "哪种情况" in asked, asked
    reply = await h.say(said)
    assert "人工" in reply and "12345" in reply and "没太明白" not in reply and "哪种情况" in reply, reply
    assert "哪种情况" not in await h.say("1")  # the question still takes its answer (the next is asked)


async def test_what_to_bring_asked_of_a_list_in_other_words_is_not_echoed_as_a_paper(h):
    """要带些什么 at a list was answered 选好后再问我要不要带些什: 些什 read as a paper's name."""
    await h.catalog_ready()
    await h.say("社保转移")
    reply = await h.say("要带些什么")
    assert "先选一个事项" in reply and "些什" not in reply and "要不要带" not in reply, reply


async def test_follow_ups_asked_again_of_one_list_are_answered_shortly_and_a_new_list_in_full(h):
    """要带什么, 多久能办好, 在哪里办 at one list each repeated 先选一个事项吧 and the whole list again."""
    await h.catalog_ready()
    first = await h.say("社保卡")
    rows = [line for line in first.splitlines() if line[:1].isdigit()]
    assert len(rows) >= 2, first
    assert "先选一个事项" in await h.say("要带什么")
    for asked in ("多久能办好", "在哪里办"):
        again = await h.say(asked)
        assert "先选一个事项" not in again and not [line for line in again.splitlines() if line[:1].isdigit()], again
        assert "说说您的情况" in again, again
    other = await h.say("我想办身份证")
    assert "您要办的是不是" in other, other
    assert "先选一个事项" in await h.say("要带什么")
    card = await h.say("1")
    assert "【" in card, card


async def test_a_question_of_the_card_asked_mid_questions_is_answered_and_the_question_asked_again(h):
    """多少钱 at a situation question answered the fee and left the questions: 2 (for 否) then
    opened 办理流程, the card's second follow-up."""
    await h.catalog_ready()
    await h.say("居住证")
    question = await h.say("材料清单")
    assert "哪种情况" in question, question
    fee = await h.say("多少钱")
    assert ("免费" in fee or "收费" in fee or "元" in fee) and "哪种情况" in fee, fee
    assert "办理流程" not in await h.say("2")
    assert (await h.session()).state == "situation"


@pytest.mark.parametrize(("asked", "expected"), [("公司怎么注销", "公司注销登记"), ("营业执照怎么注销", "注销")])
async def test_a_short_new_question_at_a_list_is_searched_not_taken_to_narrow_the_list(h, asked, expected):
    """公司怎么注销 at the list for 招了第一个员工，要办啥 gave that list again (read as narrowing it)."""
    await h.catalog_ready()
    listed = await h.say("招了第一个员工，要办啥")
    assert "就业登记" in listed, listed
    again = await h.say(asked)
    assert expected in "".join(again.split("\n")[:2]) and "就业登记" not in again, again


async def test_a_question_on_the_side_at_a_situation_question_is_no_answer_to_it(h):
    """顺便问一下社保卡丢了咋补 at 居住证's 哪种情况 (首次申领 / 年度签注 / 遗失补领) was taken for
    遗失补领 without a word: the list that followed was for a lost 居住证."""
    await h.catalog_ready()
    await h.say("居住证办理")
    assert "遗失补领" in await h.say("材料清单")
    aside = await h.say("顺便问一下社保卡丢了咋补")
    assert "社会保障卡" in aside and "以就业" not in aside, aside
    assert not (await h.session()).data.get("answers"), "the side question was recorded as an answer"


async def test_a_card_without_a_guide_offers_no_follow_ups_it_cannot_give_and_its_list_keeps_its_numbers(h):
    """A question not found on a card whose guide is not written yet offered 1. 材料清单 … 4. 预约;
    4 then opened the 4th matter of the list it came from (the numbers on screen were the card's)."""
    await h.catalog_ready()
    catalog = h.app[CATALOG]
    listed = await h.say("公司新招了几个员工，要给他们交社保，怎么办理")
    codes = (await h.session()).data["candidates"]
    guideless = [n for n, code in enumerate(codes, 1) if catalog.guide(code) is None]
    assert guideless and len(codes) > 1, listed
    await h.say(str(guideless[0]))
    told = await h.say("我的店就30平米，也要办这个吗")
    assert "材料清单" not in told and "预约" not in told, told
    other = next(n for n in range(1, len(codes) + 1) if n != guideless[0])
    name = (catalog.summary(codes[other - 1]) or catalog.bundles[codes[other - 1]]).name
    assert f"{other}. {name}" in told, told
    assert (await h.say(str(other))).startswith(f"【{name}")


@pytest.mark.parametrize(("said", "option"), [("社保卡丢了", "遗失补领"), ("社保卡坏了", "损坏换领")])
async def test_a_short_question_that_names_an_option_is_not_asked_it_again(h, said, option):
    """社保卡丢了 → 材料清单 asked 1. 遗失补领 2. 损坏换领 …: the loss was said (the guide's conditions
    list every option, so their words were taken for the matter's own)."""
    await h.catalog_ready()
    assert (await h.say(said)).startswith("【社会保障卡补领")
    asked = await h.say("材料清单")
    assert "哪种情况" not in asked, asked
    for _ in range(4):
        if "需要准备的材料" in asked:
            break
        asked = await h.say("否")
    assert f"需要准备的材料（{option}" in asked, asked


@pytest.mark.parametrize(("asked", "told"), [("不去现场行不行", "网上"), ("地址发一下", "可以在这些地方办理"), ("收不收费", "收费"),
                                             ("要交多少钱", "收费"), ("啥时候能办好", "个工作日"), ("要跑几趟", "网上"),
                                             ("在哪个位置", "可以在这些地方办理"), ("我老公是盲人，我可以帮他去办吗", "代"),
                                             ("他本人不到场可以吗", "代"), ("要不要本人去", "代"), ("必须本人去吗", "代"),
                                             ("我自己要去不", "代"), ("第一个", "哪种情况"), ("一", "哪种情况")])
async def test_everyday_questions_on_a_card_are_answered_from_it(h, asked, told):
    """不去现场行不行 dropped the card; 地址发一下 listed address-change matters; 收不收费, 啥时候能办好,
    本人不到场可以吗: 没找到; 我可以帮他去办吗 listed 盲人保健按摩培训; 要不要本人去 and 一 / 第一个 (its
    first follow-up, 材料清单, and its first question) forgot the matter."""
    await h.catalog_ready()
    assert (await h.say("居住证办理")).startswith("【居住证办理")
    reply = await h.say(asked)
    assert told in reply and "没找到" not in reply and "您要办的是不是" not in reply, reply


async def test_someone_merely_named_in_the_question_is_not_taken_for_an_agent(h):
    """我和老伴都退休了，想把公积金取出来 answered 是由他人代您办理吗 with yes, unasked: the list asked
    for 授权委托书 (代办须公证委托) of a person going in person."""
    await h.catalog_ready()
    await h.say("我和老伴都退休了，想把公积金取出来，要带啥")
    replies = [await h.say("4")]
    for _ in range(3):
        if "代您办理吗" in replies[-1] or "需要准备的材料" in replies[-1]:
            break
        replies.append(await h.say("否"))
    assert "代您办理吗" in replies[-1], replies


async def test_a_pick_from_a_list_that_asked_what_to_bring_goes_on_to_the_materials(h):
    """社保卡丢了要补办 要带什么材料 → 1 showed the card only: what to bring was asked, and lost."""
    await h.catalog_ready()
    listed = await h.say("社保卡丢了要补办 要带什么材料")
    assert "您要办的是不是" in listed, listed
    picked = await h.say("1")
    assert picked.startswith("【") and ("哪种情况" in picked or "吗？" in picked or "需要准备的材料" in picked), picked


async def test_asking_for_the_materials_again_after_the_list_gives_the_same_list(h):
    """材料清单 again after the list asked every question again."""
    await h.catalog_ready()
    await h.say("社保卡丢了")
    asked = await h.say("材料清单")
    for _ in range(4):
        if "需要准备的材料" in asked:
            break
        asked = await h.say("否")
    again = await h.say("材料清单")
    assert again == asked, (asked, again)


@pytest.mark.parametrize("said", ["我在厂里上班的", "在国企上班", "我工厂上班"])
async def test_working_for_an_employer_is_the_employees_option_not_flexible_work(h, said):
    """退休一件事's 单位在职职工 / 灵活就业人员 answered 我在厂里上班的 took 灵活就业 (上班 read as 就业),
    and the list left out the employer's 单位申报名单."""
    await h.catalog_ready()
    guide = next(g for g in h.app[CATALOG].guides.values() if g.name == "企业职工基本养老保险正常退休申请")
    question = next(q for q in questions_for(guide) if q.options)
    chosen = named_option(question.options, said)
    assert chosen is not None and "单位" in next(o.name for o in question.options if o.code == chosen)


async def test_a_bare_yes_or_a_number_not_on_the_list_asks_which_and_keeps_the_list(h):
    """是 / 对 to 您要办的是不是 showed the list again unexplained, and 8 with five listed was searched
    and reordered it (社会保障卡应用状态查询 came in)."""
    await h.catalog_ready()
    listed = await h.say("社保卡")
    assert "您要办的是不是" in listed
    names = [line for line in listed.splitlines() if line[:1].isdigit()]
    count = len(names)
    for said in ("是", "对的", "8"):
        reply = await h.say(said)
        assert f"1 到 {count}" in reply and [line for line in reply.splitlines() if line[:1].isdigit()] == names, (said, reply)
    assert "没有第 8 项" in reply
    assert "【" in await h.say("2")


async def test_whether_one_must_go_in_person_asked_at_a_situation_question_is_answered_and_it_is_asked_again(h):
    """也要本人去办这个吗 at 请问您是哪种情况 (公积金提取's) got 没太明白; it is answered from the guide,
    and the question comes again."""
    await h.catalog_ready()
    await h.say("公积金怎么提取")
    asked = await h.say("1")
    assert "请问您是哪种情况" in asked, asked
    reply = await h.say("也要本人去办这个吗")
    assert "没太明白" not in reply and "请问您是哪种情况" in reply, reply
    assert reply.index("请问您是哪种情况") > 0, reply  # the answer first, then the question again


@pytest.mark.parametrize("follow_up", ["我是退休工人", "每个月15号发的，这个月没发"])
async def test_personal_numbers_pasted_into_a_question_are_never_kept_whole_in_the_session(h, follow_up):
    """你好，我叫…，身份证5116…，电话139…，我想问一下养老金: the question was kept in the session
    whole (what the card answers, what the list answered), ID and mobile numbers with it. The
    session keeps a person's words only as the bot may quote them back: those numbers masked."""
    await h.catalog_ready()
    first = await h.say("你好，我叫李秀英，身份证511602194811203317，电话13908261234，我想问一下我的养老金怎么还没到账")
    assert first and "511602194811203317" not in first and "13908261234" not in first, first
    assert "已为您隐去" in first + "".join(h.pushed), first  # and told they were not needed
    kept = json.dumps((await h.session()).data, ensure_ascii=False)
    await h.say(follow_up)
    kept += json.dumps((await h.session()).data, ensure_ascii=False)
    for number in ("511602194811203317", "194811203317", "13908261234", "08261234"):
        assert number not in kept, kept


async def test_the_hidden_number_note_is_given_once_a_conversation(h):
    await h.catalog_ready()
    first = await h.say("我电话13908261234，社保卡丢了怎么补")
    assert "已为您隐去" in first + "".join(h.pushed), first
    again = await h.say("我身份证511602194811203317，户口本丢了呢")
    assert "已为您隐去" not in again + "".join(h.pushed) and "13908261234" not in again, again


async def test_details_pasted_where_they_are_asked_for_get_no_warning(h):
    """A booking takes an ID number and a mobile: no 不要发送 note there."""
    await h.catalog_ready()
    reply = await h.say("我要预约办居住证，李秀英，511602194811203317，13908261234")
    assert "已为您隐去" not in (reply or "") + "".join(h.pushed), reply
    reply = await h.say("身份证号码是511602194811203317")
    assert "已为您隐去" not in (reply or "") and not any("已为您隐去" in text for text in h.pushed), (reply, h.pushed)
    other = h.as_user("policies-id")
    await other.say("订阅政策")
    reply = await other.say("511602194811203317")  # the policies' ID step (wrong phone digits end it later)
    assert "已为您隐去" not in (reply or ""), reply


@pytest.mark.parametrize("said", ["那就按是吧", "算是吧", "应该没有吧", "就按否", "应该不是吧 我的情况不一样"])
async def test_a_yes_or_no_said_with_a_hedge_is_an_answer(h, said):
    """A second round of new users: 那就按是吧 and 可能吧 were 没太明白 at a yes/no question."""
    await h.catalog_ready()
    await to_question(h, "居民身份证办理（包括临时）", "变更过吗", answer="1")
    reply = await h.say(said)
    assert "没太明白" not in reply and "变更过吗" not in reply, reply


async def test_maybe_at_a_yes_or_no_question_is_told_what_it_decides(h):
    await h.catalog_ready()
    await to_question(h, "居民身份证办理（包括临时）", "变更过吗", answer="1")
    reply = await h.say("可能吧")
    assert "没太明白" not in reply and "拿不准也没关系" in reply, reply


@pytest.mark.parametrize(("said", "shown"), [("被偷了啊，刚才说了", "变更过吗"), ("对了我户口本也丢了", "居民户口簿"),
                                             ("办公室在哪里，几点上班", "地址")])
async def test_at_a_which_case_question_a_theft_a_second_need_or_where_is_understood(h, said, shown):
    """At 身份证's 哪种情况: 被偷了 was 没太明白 (丢失 is its option); 对了我户口本也丢了 was taken as
    丢失 for the ID card; 办公室在哪里，几点上班 was 没太明白."""
    await h.catalog_ready()
    await open_card(h, "居民身份证办理（包括临时）")
    assert "哪种情况" in await h.say("材料清单")
    reply = await h.say(said)
    assert shown in reply and "没太明白" not in reply, reply


async def test_words_at_a_card_that_name_one_of_its_own_options_keep_it_and_answer_it(h):
    """公积金怎么提取 → 我要买房 listed house-buying bundles and the card was gone: 买房 is the card's
    own 购买自住住房 purpose. The card stays, and its list does not ask the purpose again."""
    await h.catalog_ready()
    await open_card(h, "住房公积金提取")
    reply = await h.say("我要买房")
    assert "「住房公积金提取」的内容可以接着看" in reply and "您要办的是不是" not in reply, reply
    listed = await h.say("材料清单")
    assert "是买房后提取吗" not in listed and "请问您是哪种情况" not in listed, listed


async def test_thoughts_of_ending_ones_life_are_met_with_care_not_a_search(h):
    """我不想活了 got 抱歉，没找到和“我不想活了”相关的政务服务事项: a helpline, every time it is said,
    wherever the conversation is, and the step the person was at stays."""
    await h.catalog_ready()
    reply = await h.say("我不想活了")
    assert "12356" in reply and "没找到" not in reply, reply
    await h.as_user("booker").say("预约办身份证")
    again = await h.as_user("booker").say("活着真没意思")
    assert "12356" in again and "没太明白" not in again, again
    # what is said next in distress is met with the same care, not 没找到
    for after in ("没人在乎我", "好累"):
        cared = await h.say(after)
        assert "12356" in cared and "没找到" not in cared, (after, cared)
    assert "12356" not in await h.as_user("fan").say("想死你了，小助手")
    assert "12356" not in await h.as_user("hot").say("排队排得烦得要死，身份证怎么补办")


async def test_violence_at_home_is_told_where_to_get_safe_before_the_matters(h):
    """老公打我 我想离婚 got the marriage matters and nothing about the danger the person is in."""
    await h.catalog_ready()
    reply = await h.say("老公打我 我想离婚")
    first, _, rest = reply.partition("\n\n")
    assert "110" in first and "12338" in first, reply
    assert "离婚" in rest, reply
    assert "12338" not in await h.say("离婚要带什么材料")  # once a conversation
    assert "12338" not in await h.as_user("son").say("儿子打我电话也不接，户口本在他那怎么办")
    # told at a list, with nothing else asked: no matter's card after it (it opened the marriage
    # registration's); and fear said after it is met with the same care, not a card or 没找到
    listed = h.as_user("listed")
    await listed.say("离婚手续怎么办")
    safe = await listed.say("他天天喝酒打我 我真的受不了了")
    assert "110" in safe and "【" not in safe and "您问的应该是" not in safe, safe
    for afraid in ("我怕他知道", "我不知道该怎么办"):
        again = await listed.say(afraid)
        assert "12338" in again and "没找到" not in again and "【" not in again, (afraid, again)


@pytest.mark.parametrize("told", [
    "刚接到一个电话说我医保卡被冻结了要我转账 是不是诈骗",
    "有人说我涉嫌洗钱 让我把钱转到安全账户",
    "有人冒充公安打电话给我 让我下载一个app 我已经转了五千块了 怎么办",
    "有个电话说我快递里有违禁品 要我配合调查转账",
    "收到短信说我社保卡要年检 点链接 是真的吗",
    "自称客服说要退款给我 让我开屏幕共享",
    "I got a call saying my bank account is frozen and I must move my money, is it a scam?",
])
async def test_a_scam_call_told_is_warned_of_and_sent_to_110_not_shown_its_words_matters(h, told):
    """A scam call told (医保卡被冻结 要我转账, 安全账户, 冒充公安) got the cards its words name
    (社会保障卡挂失, 征信's place, 快递's hotline) or 没找到: no warning, no 110, money gone."""
    await h.catalog_ready()
    reply = await h.say(told)
    assert "110" in reply and "96110" in reply, reply
    assert "【" not in reply and "您要办的是不是" not in reply and "没找到" not in reply, reply
    # in a booking, too, and the step stays
    booker = h.as_user("booker")
    await booker.say("预约办护照")
    warned = await booker.say(told)
    assert "110" in warned and (await h.session("booker")).dialog == "booking", warned


@pytest.mark.parametrize("asked", ["医保卡被冻结了怎么办", "单位让我下载个人参保证明", "社保卡密码忘了", "手机验证码收不到"])
async def test_ordinary_questions_with_a_scams_words_are_not_warned_of(h, asked):
    await h.catalog_ready()
    assert "96110" not in await h.say(asked)


@pytest.mark.parametrize("said", ["先补身份证", "身份证"])
async def test_a_listed_paper_named_at_a_list_narrows_it_to_that_paper_not_the_first(h, said):
    """钱包掉了 身份证 社保卡 驾驶证… listed 驾驶证 first; 先补身份证 / 身份证 then opened the driving
    licence's card (read with the list's question, the same list came back, and its first opened)."""
    await h.catalog_ready()
    listed = await h.say("钱包掉了 身份证 社保卡 驾驶证 银行卡全在里面 咋办啊")
    first = re.search(r"^1\. (.+?)（", listed, re.M)[1]
    assert "驾驶证" in first and "身份证" in listed, listed  # (what the test is about)
    narrowed = await h.say(said)
    assert "驾驶证" not in narrowed and "身份证" in narrowed, narrowed
    # a listed matter named outright opens
    h2 = h.as_user("clear")
    await h2.say("钱包掉了 身份证 社保卡 驾驶证 银行卡全在里面 咋办啊")
    assert "【社会保障卡挂失】" in await h2.say("社保卡挂失")


@pytest.mark.parametrize("first, said, wrong", [("我们两口子要离婚，协议离婚去哪里办", "他户口不在广安", "户口迁移审批"),
                                                 ("房屋租赁备案", "出租房登记", "住房保障家庭租赁补贴发放")])
async def test_a_word_shared_with_a_listed_matter_does_not_open_it(h, first, said, wrong):
    """他户口不在广安 said to a divorce's list opened 户口迁移审批 (listed third): the divorce then
    took "3 working days, free". 出租房登记 opened a housing subsidy listed fourth of what it finds."""
    await h.catalog_ready()
    assert wrong in await h.say(first)
    reply = await h.say(said)
    assert f"【{wrong}】" not in reply and "应该是「" + wrong not in reply, reply


async def test_the_same_list_found_again_opens_its_first_matter(h):
    """An elderly tester got the same three matters back five times: what he said of the list
    (我不会用智能手机) was searched and led to the same list. The second time, its first is opened,
    and 点错了 goes back to the list."""
    await h.catalog_ready()
    listed = await h.say("喂 你好 我是老王 今年78了 我的养老金每年都要认证，今年又到时间了，咋个弄哦")
    first = re.search(r"^1\. (.+?)（", listed, re.M)[1]
    opened = await h.say("我不会用智能手机")
    assert f"您问的应该是「{first}」" in opened and f"【{first}】" in opened, opened
    back = await h.say("点错了")
    assert "1. " in back and first in back, back


async def test_a_follow_up_after_being_told_where_a_need_is_met_is_that_places(h):
    """要带什么 / 多久到账 right after a need was told to be met elsewhere were searched alone: 多久到账
    got the credit report's place, 要带什么 a bare 请说说您想办什么事."""
    await h.catalog_ready()
    told = await h.say("我想在建设银行办张储蓄卡")
    assert "开户银行" in told, told
    for follow_up in ("要带什么", "多久能办好"):
        again = await h.say(follow_up)
        assert "开户银行" in again and "征信" not in again and "没找到" not in again, (follow_up, again)
    assert "居民身份证" in await h.say("身份证丢了怎么补")
    # in English: "what documents do I need?" after the residence permit's office got 出生一件事
    english = h.as_user("en")
    assert "exit-entry" in await english.say("residence permit")
    documents = await english.say("what documents do I need?")
    assert "exit-entry" in documents and "一件事" not in documents, documents


@pytest.mark.parametrize("said", ["丢了 找不到了", "没破 是丢了"])
async def test_naming_what_a_question_says_it_is_not_about_answers_no(h, said):
    """结婚证是破损了吗（不是丢失）？ answered 丢了 找不到了 was taken as 是: the list asked for the
    damaged certificate the person no longer has; 没破 是丢了 was 没太明白."""
    await h.catalog_ready()
    await h.say("结婚证丢了咋办")
    assert "（不是丢失）" in await h.say("1")
    reply = await h.say(said)
    for _ in range(4):
        if "需要准备的材料" in reply:
            break
        assert "没太明白" not in reply, reply
        reply = await h.say("否")
    assert "需要准备的材料" in reply and "损毁的结婚证" not in reply, reply


async def test_a_household_registered_elsewhere_is_answered_from_the_guides_conditions(h):
    """我是外地户口呢 on 残疾人证新办's card was 办事指南里没有写到, though its conditions say 户籍在广安区;
    at 失业保险金申领's question it listed 身份证 and 户口 matters, and the question was lost."""
    await h.catalog_ready()
    assert "【残疾人证新办】" in await h.say("残疾人证新办")
    told = await h.say("我是外地户口呢")
    assert "户籍在广安区" in told and "一般办不了" in told and "没有写到" not in told, told
    h2 = h.as_user("elsewhere")
    await h2.say("失业保险金申领")
    question = await h2.say("1")
    assert "吗" in question.splitlines()[0], question
    told = await h2.say("我是外地户口呢")
    assert "没有写要本地户口" in told and "失业保险关系转移凭证" in told and question.splitlines()[0] in told, told
    assert "您要办的是不是" not in told
    h3 = h.as_user("low")
    await h3.say("最低生活保障")
    told = await h3.say("外地户口能办吗")
    assert "居住证" in told and "一般办不了" not in told, told


async def test_a_list_led_by_a_bundle_found_again_opens_the_bundle(h):
    """wo xiang ban ge ti hu listed 个体工商户开办一件事 first; 我想办个体户 found the same list, and
    opening its first as a matter's card failed the turn (系统繁忙)."""
    await h.catalog_ready()
    listed = await h.say("wo xiang ban ge ti hu")
    assert listed.splitlines()[1].startswith("1. 个体工商户开办一件事"), listed
    reply = await h.say("我想办个体户")
    assert "【个体工商户开办一件事】" in reply and "系统繁忙" not in reply, reply


async def test_which_department_and_a_home_visit_asked_of_a_card_are_answered(h):
    """那找哪个部门问 right after a card naming it was 没找到; 我现在走不了路，能不能上门办 at a
    question was 没太明白, and the question was lost."""
    await h.catalog_ready()
    assert "【残疾人证新办】" in await h.say("残疾人证新办")
    who = await h.say("那找哪个部门问")
    assert "区残联" in who and "0826-2335285" in who and "没找到" not in who, who
    question = await h.say("1")
    home = await h.say("我现在走不了路，能不能上门办")
    assert "上门" in home and "没太明白" not in home and question.splitlines()[0] in home, home


async def test_what_is_paid_each_year_is_not_answered_with_the_registrations_free(h):
    """新农合 一年交多少钱 was 没找到, and 收费吗 said 免费: a person asking for the yearly premium was
    told it is free. The registration is free; the premium follows the year's rate."""
    await h.catalog_ready()
    await open_card(h, "城乡居民参保登记")
    reply = await h.say("一年交多少钱")
    assert "不收费" in reply and "当年" in reply and "没找到" not in reply, reply


async def test_another_question_after_算了_at_a_question_is_not_taken_as_no(h):
    """您或对方以前结过婚吗？ answered 算了 先问下 户口本丢了咋办 was read as 否 (算了) and the next
    question came: the person's new question was lost."""
    await h.catalog_ready()
    await h.say("婚姻登记")
    await h.say("1")
    assert "结过婚" in await h.say("1")
    reply = await h.say("算了 先问下 户口本丢了咋办")
    assert "户口簿" in reply and "户口都不在广安" not in reply, reply


@pytest.mark.parametrize("asked", ["要体检不", "需要体检吗"])
async def test_a_medical_check_asked_of_a_card_is_answered_from_the_papers_it_yields(h, asked):
    """要体检不 on the driving licence's card was 好的，明白了 (a circumstance), 需要体检吗 没找到:
    its materials name the 身体条件证明 a check yields."""
    await h.catalog_ready()
    await open_card(h, "机动车驾驶证换证、补证")
    reply = await h.say(asked)
    assert "身体条件证明" in reply and "没找到" not in reply and "好的，明白了" not in reply, reply
