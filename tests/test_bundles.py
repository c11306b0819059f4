"""一件事一次办: a bundle's card, one material list for the whole bundle, one booking, one
progress view of the application. Dialog logic in the harness (`h`); the whole journey once
over the real webhook (`chat`)."""

from __future__ import annotations

import asyncio

import pytest

from bot.web.appkeys import CATALOG
from tests.support import person, to_question
from tests.test_booking import appointments_of, drive
from tests.test_notifier import advance, notices, notices_count, settled


def listed(reply: str) -> list[str]:
    return [line.split(". ", 1)[1] for line in reply.splitlines() if line[:1].isdigit() and ". " in line]


async def answer_every_question(h, first: str, answers: dict[str, str], default: str = "否") -> str:
    """Answer the situation questions one at a time until the list comes; returns the list and
    records every question asked in `answers` (question text -> how many times asked)."""
    reply = first
    for _ in range(20):
        if "一次带齐" in reply:
            return reply
        question = reply.splitlines()[0]
        answers[question] = answers.get(question, 0) + 1
        reply = await h.say("1" if "哪种情况" in question else default)
    raise AssertionError(f"no material list after 20 answers: {reply}")


async def test_a_bundle_card_says_what_it_covers_who_and_how_long(h):
    card = await h.say("出生一件事")
    assert card.startswith("【出生一件事】")
    assert "涉及部门：" in card and "承诺时限：" in card and "个工作日" in card
    matters = listed(card)
    assert len(matters) >= 3 and any("户口登记" in m for m in matters) and any("社会保障卡" in m for m in matters)
    assert "材料清单" in card and "预约" in card and "查进度" in card


async def test_one_material_list_asks_each_question_once_and_lists_a_shared_document_once(h):
    await h.say("企业开办一件事")
    asked: dict[str, int] = {}
    materials = await answer_every_question(h, await h.say("材料清单"), asked, default="是")
    # 委托他人代办 matters to all five matters: asked once
    assert sum(n for q, n in asked.items() if "代" in q) == 1, asked
    assert all(n == 1 for n in asked.values()), asked
    lines = listed(materials)
    agent_ids = [line for line in lines if "代理人居民身份证" in line]
    assert len(agent_ids) == 1 and "共用于 5 个事项" in agent_ids[0]
    assert sum("授权委托书" in line for line in lines) == 1
    assert "带一份就行" in materials


async def test_a_situation_no_matter_needs_leaves_its_materials_out(h):
    await h.say("企业开办一件事")
    asked: dict[str, int] = {}
    materials = await answer_every_question(h, await h.say("材料清单"), asked, default="否")
    assert "代理人居民身份证" not in materials and "授权委托书" not in materials
    assert "公司登记（备案）申请书" in materials


async def test_one_booking_covers_the_whole_bundle_and_brings_the_merged_list(h, sims):
    card = await h.say("出生一件事")
    assert card.startswith("【出生一件事】")
    asked: dict[str, int] = {}
    await answer_every_question(h, await h.say("材料清单"), asked, default="否")
    days = await h.say("预约")
    assert "预约「出生一件事」：只在" in days and "请选择日期" in days, days  # one hall serves it: taken, not asked
    me = person(31)
    reply = await drive(h, "1", me)
    assert reply.startswith("预约成功") and "出生一件事" in reply and "个事项一个窗口办完" in reply
    # three of its matters ask for the birth certificate (under three names): one line
    names = [line.split(". ", 1)[1].split(" 原件")[0] for line in reply.splitlines() if line[:1].isdigit() and ". " in line]
    assert sum(name.strip("《》").removeprefix("儿童") == "出生医学证明" for name in names) == 1, names
    items = await appointments_of(sims, me)
    assert len(items) == 1 and items[0]["bundle_code"] == "YJS-511602-003" and items[0]["number"] in reply


async def test_a_bundle_from_search_to_one_list_one_booking_one_progress_view_with_notices(chat, client, redis, settings):
    """Over the real webhook: the whole 一件事 journey, as a person would make it."""
    await asyncio.wait_for(client.app[CATALOG].ready.wait(), timeout=90)
    card = await chat.say("孩子出生了要办哪些手续")
    if not card.startswith("【出生一件事】"):  # the search offered candidates: the bundle is among them
        pick = next(i for i, line in enumerate(listed(card), 1) if "出生一件事" in line)
        card = await chat.say(str(pick))
    assert card.startswith("【出生一件事】") and "涉及部门：" in card

    asked: dict[str, int] = {}
    materials = await answer_every_question(chat, await chat.say("材料清单"), asked, default="否")
    assert all(n == 1 for n in asked.values()), asked
    names = [line.split(". ", 1)[1].split("（")[0] for line in materials.splitlines() if line[:1].isdigit() and ". " in line]
    assert len(names) == len(set(names))  # nothing twice
    assert sum("出生医学证明" in line and "共用于" in line for line in materials.splitlines()) == 1

    me = person(32)
    assert "预约「出生一件事」" in await chat.say("预约")
    booked = await drive(chat, "1", me)
    assert booked.startswith("预约成功") and "出生一件事" in booked
    [appointment] = await appointments_of(client, me)
    assert appointment["bundle_code"] == "YJS-511602-003"

    # The application is made at the window; its number is what the person has.
    resp = await client.post("/sim/platform/_admin/bundle-applications",
                             json={"bundle_code": "YJS-511602-003", "applicant": {"name": me["name"], "phone": me["phone"], "id_number": me["id_number"]}})
    assert resp.status == 201, await resp.text()
    application = await resp.json()
    assert "手机号的后 4 位" in await chat.say(f"我的一件事申请编号是 {application['bundle_no']}")
    view = await chat.say(application["phone_last4"])
    assert view.startswith("【一件事进度】出生一件事") and application["bundle_no"] in view
    assert all(line in view for line in ("各事项：", "办理过程："))
    assert view.count(") ") >= len(application["case_nos"])  # every member case, one line each
    assert "订阅成功" in await chat.say("订阅")

    # Each step of each case reaches the bundle's subscriber once, naming the application; once
    # too for someone who follows one of its cases on its own as well.
    first, second = application["case_nos"][:2]
    assert "手机号的后 4 位" in await chat.say(first)
    assert "【办件进度】" in await chat.say(application["phone_last4"])
    assert "订阅成功" in await chat.say("订阅")
    await advance(client, first, "accepted")
    await advance(client, second, "accepted")
    received = await notices_count(client, chat.user, 2)
    assert await settled(redis, settings)
    received = await notices(client, chat.user)
    assert len(received) == 2 and all(application["bundle_no"] in n and "【办件已受理】" in n for n in received)


async def test_how_long_and_what_it_costs_asked_on_a_bundle_card_are_answered_from_it(h):
    """要多少天能办下来？要钱不 on the card: its 承诺时限 and the fees, not 没太明白."""
    await h.catalog_ready()
    assert "【出生一件事】" in await h.say("出生一件事")
    both = await h.say("要多少天能办下来？要钱不")
    assert ("工作日" in both or "当场" in both) and ("免费" in both or "收费" in both), both
    fee = await h.say("要花多少钱")
    assert ("免费" in fee or "收费" in fee) and "工作日" not in fee, fee


async def test_an_answer_in_ones_own_words_stays_with_the_question_and_the_answers_given_stay(h):
    """At a bundle's questions, an answer with words of one's own (是的 领了证的, 宝宝当然未满啊) is read
    or the question is asked again; it is never searched, which lost the answers to a list of matters."""
    await h.catalog_ready()
    await h.say("出生一件事")
    first = await h.say("材料清单")
    assert "吗" in first.splitlines()[0], first
    second = await h.say("是的 领了证的")
    assert second.splitlines()[0] != first.splitlines()[0] and "您要办的是不是" not in second, second
    unread = await h.say("这个嘛 说来话长")
    assert "您要办的是不是" not in unread and "没找到" not in unread, unread
    assert second.splitlines()[0] in unread  # the same question again
    session = await h.session()
    assert session.dialog == "bundles" and session.state == "situation" and len(session.data["answers"]) == 1
    asked: dict[str, int] = {}
    materials = await answer_every_question(h, await h.say("否"), asked)
    assert "一次带齐" in materials



def test_what_config_bundles_settles_names_real_bundles_situations_and_materials():
    """An operator's typo in config/bundles.toml would silently ask everything again: each
    bundle, situation code and material it names is one the catalog has."""
    from dialogs.bundles import settled_by_bundle
    from integrations.platform.simulator.world import World

    world = World.load()
    bundles = {b.name: b for b in world.bundles.values()}
    for name, settled in settled_by_bundle().items():
        assert name in bundles, name
        guides = [world.guides[code] for code in bundles[name].matters if code in world.guides]
        codes = {s.code for g in guides for s in g.situations}
        named = settled.given | settled.ruled_out | set().union(*settled.exclusive, *settled.same)
        assert named <= codes, (name, named - codes)
        materials = {m.name for g in guides for m in g.materials}
        for line, _, joined in settled.one:
            assert joined <= materials, (name, line, joined - materials)


async def test_a_bundle_never_asks_what_its_own_need_answers(h):
    """出生一件事 is about a newborn: whether the baby's social security card is for an elderly
    person, whether the (first) vaccination record was lost, whether it is the newborn being
    insured are never asked; and parents who said they are married are not asked whether the
    father's details are unknown. The newborn's materials are still listed."""
    await h.catalog_ready()
    await h.say("出生一件事")
    asked: dict[str, int] = {}
    materials = await answer_every_question(h, await h.say("材料清单"), asked, default="是")
    questions = "".join(asked)
    assert "老人" not in questions and "丢" not in questions and "刚出生的宝宝参保" not in questions, asked
    assert "未满16周岁" not in questions and "父亲的信息" not in questions, asked
    assert "结婚" in questions and "代您办理" in questions, asked
    assert "出生医学证明" in materials and "监护人" not in materials.split("：", 1)[0]
    # the parents' ID cards and household register: one line, not five
    lines = listed(materials)
    assert sum("居民身份证" in line and "代理人" not in line for line in lines) == 1, lines

    await h.say("出生一件事")
    first = await h.say("材料清单")
    assert "结婚" in first.splitlines()[0], first
    asked = {}
    await answer_every_question(h, await h.say("否"), asked, default="否")
    assert any("父亲的信息" in q for q in asked), asked


async def test_a_death_in_the_family_is_not_asked_why_the_household_is_cancelled(h):
    await h.catalog_ready()
    await h.say("身后一件事")
    asked: dict[str, int] = {}
    materials = await answer_every_question(h, await h.say("材料清单"), asked, default="否")
    assert not any("哪种情况" in q for q in asked), asked
    assert "死亡医学证明" in materials and "入伍通知书" not in materials
    lines = listed(materials)
    assert sum("逝者的居民身份证" in line for line in lines) == 1, lines


async def test_a_wrong_answer_to_a_bundle_question_is_taken_back_and_asked_again(h):
    await h.catalog_ready()
    await h.say("出生一件事")
    first = (await h.say("材料清单")).splitlines()[0]
    second = (await h.say("是")).splitlines()[0]
    assert second != first
    again = await h.say("不对 刚才选错了")
    assert "重新选" in again and first in again and "您要办的是不是" not in again, again
    assert not (await h.session()).data.get("answers")
    assert second in await h.say("否")
    assert first in await h.say("返回")
    session = await h.session()
    assert session.dialog == "bundles" and session.state == "situation" and not session.data.get("answers")


async def test_a_wrong_answer_on_a_guide_is_taken_back_not_read_as_no(h):
    """不对 刚才选错了 at the next question took back nothing and answered it 否; 上一步 at the
    first question left the guide for the menu."""
    await h.catalog_ready()
    first = await h.say("生育津贴要什么材料")
    assert "哪种情况" in first, first
    second = await h.say("1")
    again = await h.say("不对 刚才选错了")
    assert "重新选" in again and "哪种情况" in again and "需要准备的材料" not in again, again
    assert second.splitlines()[0] in await h.say("2")
    assert "哪种情况" in await h.say("上一步")
    follow_ups = await h.say("上一步")
    assert "材料清单" in follow_ups and "办事指南" not in follow_ups, follow_ups
    session = await h.session()
    assert session.dialog == "matters" and session.state == "guide"


async def test_an_earlier_yes_denied_in_its_own_words_is_changed_not_read_as_no_to_the_next(h):
    """不对，我们其实没领结婚证 two questions later: 已登记结婚 becomes 否 (so the father's details may be
    asked after all); it was read as 否 to the question on screen and the marriage stayed."""
    await h.catalog_ready()
    await h.say("出生一件事")
    assert "结婚" in (await h.say("材料清单")).splitlines()[0]
    await h.say("是")
    on_screen = (await h.say("不是")).splitlines()[0]
    fixed = await h.say("不对，我们其实没领结婚证")
    assert "已改为" in fixed and "结婚" in fixed and "否" in fixed, fixed
    answers = (await h.session()).data["answers"]
    assert answers["s:married"] == "no" and len(answers) == 2, answers
    assert "父亲的信息" in fixed or on_screen in fixed, fixed


async def test_a_bundle_card_answers_what_to_bring_where_and_online_in_other_words(h):
    """要带啥 / 材料有哪些 / 在哪办 / 能网上办吗 on a bundle card got 没太明白 (only 材料清单 was read);
    要钱吗 for a bundle of free matters listed them as 收费的有."""
    await h.catalog_ready()
    for asked in ("要带啥", "材料有哪些", "办这个要啥材料"):
        await h.say("菜单")
        await h.say("个体工商户开办一件事")
        reply = await h.say(asked)
        assert "没太明白" not in reply and ("吗？" in reply or "一次带齐" in reply), (asked, reply)
    await h.say("菜单")
    await h.say("个体工商户开办一件事")
    where = await h.say("在哪办")
    assert "一次办齐" in where and "地址：" in where, where
    online = await h.say("能网上办吗")
    assert "网上" in online and "没太明白" not in online, online
    await h.say("企业开办一件事")
    fee = await h.say("要钱吗")
    assert "收费的有" not in fee and "免费" in fee, fee


@pytest.mark.parametrize("said, outside", [("在医院生的", "no"), ("在市人民医院生的", "no"), ("医院里生的", "no"), ("在医院外面生的", "yes"),
                                           ("不是在医院生的", "yes"), ("没去医院 在家生的", "yes"), ("在家里生的 来不及去医院", "yes"),
                                           ("路上生的 没到医院", "yes"), ("不是，在医院生的", "no")])
async def test_where_the_baby_was_born_answers_whether_it_was_outside_a_hospital(h, said, outside):
    """是在医院外出生的吗 answered 在医院生的 got 没太明白; 不是在医院生的 was read as a no, and the list
    left out what a birth at home needs (the witnesses' statement, a parentage test)."""
    await h.catalog_ready()
    await h.say("出生一件事")
    assert "结婚" in await h.say("材料清单")
    assert "医院外" in await h.say("是")
    await h.say(said)
    assert (await h.session()).data["answers"]["s:outside"] == outside


async def test_after_the_list_an_answer_put_right_gives_the_list_again_or_the_question_it_opens(h):
    """不对，我们没结婚 after 出生一件事's list searched 结婚 matters; 刚才点错了 was not understood; 返回
    went back to the first question with every answer erased."""
    await h.catalog_ready()
    await h.say("出生一件事")
    asked: dict[str, int] = {}
    first = await h.say("材料清单")
    listed = await answer_every_question(h, await h.say("是"), asked, default="否")
    assert "结婚证" in listed
    reopened = await h.say("不对，我们没结婚")
    assert "已改为" in reopened and "父亲的信息" in reopened and "您要办的是不是" not in reopened, reopened
    again = await answer_every_question(h, await h.say("否"), {}, default="否")
    assert "结婚证" not in again, again
    last = await h.say("刚才点错了")
    assert "重新选" in last and "吗？" in last, last
    answers = (await h.session()).data["answers"]
    assert answers["s:married"] == "no" and len(answers) >= 3, answers
    assert "一次带齐" in await h.say("否")
    assert "吗？" in await h.say("返回") and (await h.session()).data["answers"], first


@pytest.mark.parametrize(("said", "key", "now"), [("不对，孩子是在家里生的", "s:outside", "yes"),
                                               ("不对，孩子妈妈户口不在广安", "s:other_place", "yes")])
async def test_after_the_list_a_detail_put_right_changes_the_question_it_speaks_of(h, said, key, now):
    """不对，孩子是在家里生的 after 出生一件事's list was confirmed as 「孩子出生已经超过一个月了：是」 (the
    latest question sharing 孩子), and the list left out what a birth at home needs."""
    await h.catalog_ready()
    await h.say("出生一件事")
    await h.say("材料清单")
    listed = await answer_every_question(h, await h.say("是"), {}, default="否")
    assert "一次带齐" in listed
    before = dict((await h.session()).data["listed"])
    assert before.get(key) == "no", before
    fixed = await h.say(said)
    assert "已改为" in fixed and "超过一个月" not in fixed.splitlines()[0], fixed
    after = (await h.session()).data
    answers = after.get("listed") or after.get("answers")
    assert answers[key] == now and {k: v for k, v in answers.items() if k != key} == {k: v for k, v in before.items() if k != key}, answers
    back = await h.say("不对，其实还没到一个月")  # says what was answered already: nothing flipped
    assert "超过一个月了：是" not in back, back


@pytest.mark.parametrize("said", ["不知道", "不清楚", "不确定", "这个是什么意思?", "我看不懂", "what does that mean"])
async def test_not_knowing_or_asking_what_a_question_means_explains_it_and_answers_nothing(h, said):
    """不知道 / 不确定 to 孩子父母已登记结婚吗 was taken as 否 (the list left out 结婚证 and asked for the
    father's details); 这个是什么意思 got 没太明白 twice."""
    await h.catalog_ready()
    await h.say("出生一件事")
    question = (await h.say("材料清单")).splitlines()[0]
    assert "结婚" in question
    reply = await h.say(said)
    assert "结婚证" in reply and question in reply and "没太明白" not in reply, reply
    assert "s:married" not in (await h.session()).data.get("answers", {})
    assert "医院外" in await h.say("是")


async def test_wait_a_moment_at_a_question_keeps_it_waiting(h):
    """等一下 / 我问下家里人 at a situation question got 没太明白."""
    await h.catalog_ready()
    await h.say("出生一件事")
    question = (await h.say("材料清单")).splitlines()[0]
    wait = await h.say("等一下")
    assert "不着急" in wait and question in wait and "没太明白" not in wait, wait
    await h.say("菜单")
    await h.say("居住证")
    await h.say("材料清单")
    wait = await h.say("我问下家里人")
    assert "不着急" in wait and "哪种情况" in wait and "没太明白" not in wait, wait


async def test_continue_after_a_question_on_the_side_says_it_resumed_once(h):
    """出生一件事's questions, a question on the side, then 继续: 好的，接着刚才的一件事一次办 came twice."""
    await h.catalog_ready()
    await h.say("出生一件事")
    asked = await h.say("材料清单")
    await h.say("顺便问下我身份证过期了要换，在哪里换")
    back = await h.say("继续")
    assert back.count("接着刚才的") == 1 and asked.splitlines()[0] in back, back


async def test_a_matters_card_offers_the_bundle_it_is_part_of(h):
    """开饭馆要办哪些手续 showed the food licence alone: nobody heard that 个体工商户开办一件事 does the
    licence with the rest in one visit. The card says so, and 一件事 opens it; opened from the
    bundle, a member's card does not offer it again."""
    await h.catalog_ready()
    assert "【个体工商户开办一件事】" in await h.say("开饭馆要办哪些手续")  # every procedure: the bundle itself
    card = await h.as_user("licence").say("开饭馆要办什么许可")
    assert card.startswith("【食品(含保健食品)经营许可核发】") and "「个体工商户开办一件事」" in card, card
    bundle = await h.as_user("licence").say("一件事")
    assert "【个体工商户开办一件事】" in bundle, bundle
    plain = await h.as_user("no-bundle").say("普通护照签发")
    assert plain.startswith("【普通护照签发】") and "一次办齐" not in plain, plain


@pytest.mark.parametrize("said", ["我是他儿子", "我是她老伴"])
async def test_family_telling_their_kinship_to_the_dead_apply_themselves(h, said):
    """身后一件事's 是由他人代您办理吗 answered 我是他儿子 read as 委托他人代办: the list asked for a
    power of attorney signed by the person who died."""
    await h.catalog_ready()
    await to_question(h, "身后一件事", "代您", tries=10)
    await h.say(said)
    answers = (await h.session()).data["answers"]
    assert "no" in [v for k, v in answers.items() if "agent" in k], answers


async def test_rating_asked_on_a_bundle_application_is_told_where_it_is_given(h, sims):
    """评价 on a 一件事 application's card opened 请为「」（YJS…）打分 and then said the case had been
    rated already; a bundle's follower is not invited to rate from its notices either."""
    me = person(4)
    resp = await sims.post("/sim/platform/_admin/bundle-applications",
                           json={"bundle_code": "YJS-511602-003", "applicant": {"name": me["name"], "phone": me["phone"], "id_number": me["id_number"]}})
    application = await resp.json()
    await h.say(application["bundle_no"])
    assert (await h.say(application["phone_last4"])).startswith("【一件事进度】")
    told = await h.say("评价")
    assert "逐件评价" in told and "请为「」" not in told and "已经评价过" not in told, told


@pytest.mark.parametrize("said", ["我想预约", "好的 那预约吧"])
async def test_booking_asked_in_a_sentence_on_a_bundle_card_books_the_bundle(h, said):
    """我想预约 on 出生一件事's card listed 结婚登记预约, 离婚登记预约 … (only the bare word 预约 booked it)."""
    await h.catalog_ready()
    assert "【出生一件事】" in await h.say("出生一件事")
    reply = await h.say(said)
    assert "您要办的是不是" not in reply and "出生一件事" in reply, reply


@pytest.mark.parametrize("asked, told", [("办下来要多久", "工作日"), ("在哪里办", "地址")])
async def test_what_the_card_tells_asked_mid_way_is_told_and_the_question_asked_again(h, asked, told):
    """个体工商户开办一件事's questions: 办下来要多久 got 没太明白, 在哪里办 then 人工."""
    await h.catalog_ready()
    await h.say("出生一件事")
    question = await h.say("材料清单")
    reply = await h.say(asked)
    assert "没太明白" not in reply and told in reply and question.splitlines()[-1] in reply, reply


async def test_asking_on_a_bundle_whether_someone_else_may_do_it_is_answered_from_its_guides(h):
    """可以找人代办不 on a bundle's card found 招聘服务 (找人); 能代办吗 at 是由他人代您办理吗？ was
    recorded as 是. Now the bundle's guides answer it, and the question on screen stays unanswered."""
    await h.catalog_ready()
    assert "【身后一件事】" in await h.say("身后一件事")
    told = await h.say("可以找人代办不")
    assert "代办" in told and "授权委托书" in told and "招聘" not in told and "您要办的是不是" not in told, told
    first = await h.say("材料清单")
    assert "他人代您办理" in first, first
    again = await h.say("能代办吗")
    assert "授权委托书" in again and again.rstrip().endswith("（回复序号）") and "他人代您办理" in again, again
    assert not (await h.session()).data.get("answers")
    assert "【企业开办一件事】" in await h.say("企业开办一件事")  # another bundle named mid-question opens


async def test_no_to_a_matters_choice_inside_a_bundle_says_what_that_means_not_unclear_again(h):
    """否 at 「食品经营许可」：请问您是哪种情况？ (a shop that sells no food) was 没太明白, five times."""
    await h.catalog_ready()
    await h.say("个体户开办一件事")
    reply = await h.say("材料清单")
    for _ in range(6):
        if "哪种情况" in reply:
            break
        reply = await h.say("否")
    assert "哪种情况" in reply, reply
    told = await h.say("否")
    assert "不在这几种里" in told and "没太明白" not in told and "人工" in told and "哪种情况" in told, told


async def test_online_asked_at_a_bundles_question_is_answered_and_the_question_stays(h):
    """能网上办吗 at 出生一件事's first question was 没太明白."""
    await h.catalog_ready()
    await h.say("出生一件事")
    first = (await h.say("材料清单")).splitlines()[0]
    reply = await h.say("能网上办吗")
    assert "没太明白" not in reply and "网上" in reply and first in reply, reply
    assert not (await h.session()).data.get("answers")


async def test_a_yes_said_after_the_circumstance_is_read_at_a_bundles_question(h):
    """您在外省市交过养老保险吗？ answered 在广东打过几年工 交过 listed matters (几 read as asking)."""
    await h.catalog_ready()
    await h.say("退休一件事")
    reply = await h.say("材料清单")
    for _ in range(6):
        if "外省" in reply.splitlines()[0]:
            break
        reply = await h.say("1" if "哪种情况" in reply else "否")
    asked = reply.splitlines()[0]
    assert "外省" in asked, reply
    after = await h.say("在广东打过几年工 交过")
    assert "您要办的是不是" not in after and asked not in after, after
    assert "yes" in (await h.session()).data["answers"].values()


async def test_a_question_asked_of_a_bundles_progress_view_is_answered_not_failed(h, sims):
    """会寄给我吗 还是要自己去拿 on a 一件事's progress view failed the turn (系统繁忙): the card's
    questions re-read the case, and a bundle's application is no case."""
    await h.catalog_ready()
    me = person(45)
    resp = await sims.post("/sim/platform/_admin/bundle-applications",
                           json={"bundle_code": "YJS-511602-003", "applicant": {"name": me["name"], "phone": me["phone"], "id_number": me["id_number"]}})
    application = await resp.json()
    await h.say(f"我的一件事申请编号是 {application['bundle_no']}")
    assert "【一件事进度】" in await h.say(application["phone_last4"])
    reply = await h.say("会寄给我吗 还是要自己去拿")
    assert "系统繁忙" not in reply and "领取" in reply, reply
