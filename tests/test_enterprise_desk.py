"""The enterprise desk (#18 item 1): a person bound to an enterprise lists its cases (newest
first, by state, a page at a time) and opens each one's timeline card, and lists its licences;
several binders see the same desk, and 解绑 closes it at once.

The first tests drive the dialog in the in-memory harness (`h`); the last ones go through the
real webhook (`chat`), as the issue asks."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.web.appkeys import CATALOG
from dialogs.understand import shanghai_today
from tests.support import Chat
from tests.test_progress import advance
from tests.test_subscriptions import CREDIT_CODE, OTHER, bind, enterprise_case, texted_code

BEIJING = ZoneInfo("Asia/Shanghai")


async def platform_reachable(app) -> None:
    """The bot has loaded the catalog: its platform client is talking to the simulator (a call
    made while the test server was still starting may have opened the client's circuit)."""
    await asyncio.wait_for(app[CATALOG].ready.wait(), timeout=90)


async def test_a_binder_lists_the_cases_newest_first_a_page_at_a_time_and_filters_them(h, sims):
    cases = [await enterprise_case(sims) for _ in range(8)]
    await advance(sims, cases[1], "accepted")
    await advance(sims, cases[1], "materials_requested", materials=["章程"])
    await advance(sims, cases[2], "accepted")
    await advance(sims, cases[2], "approved")
    await bind(h, sims)

    listing = await h.say("企业办件")
    assert "共 8 件" in listing and "还有 2 件" in listing
    shown = [c for c in reversed(cases) if c in listing]
    assert shown == list(reversed(cases))[:6]  # newest first, six to a page
    assert listing.index(cases[7]) < listing.index(cases[6])
    following = await h.say("更多")
    assert cases[1] in following and cases[0] in following and "7. " in following and cases[7] not in following

    needing = await h.say("需补正")
    assert "共 1 件" in needing and cases[1] in needing and cases[0] not in needing
    done = await h.say("已办结")
    assert "共 1 件" in done and cases[2] in done
    card = await h.say("1")
    assert "【办件进度】" in card and cases[2] in card and "准予" in card
    everything = await h.say("全部")
    assert "共 8 件" in everything


async def test_subscribing_at_the_enterprise_cases_says_a_binder_is_told_already_and_unbinds_nothing(h, sims):
    """订阅 on a case of the enterprise opened 我的订阅: its 1 then asked to unbind the enterprise, and
    好的 unbound it."""
    case_no = await enterprise_case(sims)
    await bind(h, sims)
    await h.say("企业办件")
    assert case_no in await h.say("1")
    told = await h.say("订阅")
    assert "不用再订阅" in told and "解除" not in told, told
    await h.say("1")
    await h.say("好的")
    assert await h.services.subscriptions.is_bound(h.user, CREDIT_CODE)


async def test_no_binding_no_desk_and_unbinding_closes_it_at_once(h, sims):
    case_no = await enterprise_case(sims)
    refused = await h.say("企业办件")
    assert "请先绑定企业" in refused and case_no not in refused and "统一社会信用代码" in refused

    await bind(h, sims)
    colleague = h.as_user(OTHER)
    await bind(colleague, sims)
    assert case_no in await colleague.say("企业办件")  # several binders, one desk
    assert case_no in await h.say("企业办件")

    await colleague.say("解绑")
    await colleague.say("1")
    assert "已解除" in await colleague.say("1")
    # the colleague's session still holds the list; picking from it asks the store now
    await colleague.say("企业办件")
    after = await colleague.say("1")
    assert case_no not in (after or "")
    assert case_no in await h.say("1")  # the other binder keeps the desk


async def test_the_list_on_screen_opens_nothing_once_the_binding_is_gone(h, sims):
    case_no = await enterprise_case(sims)
    await bind(h, sims)
    assert case_no in await h.say("企业办件")
    await h.services.subscriptions.unbind(h.user, CREDIT_CODE)  # e.g. 解绑 from another device
    refused = await h.say("1")
    assert "没有绑定这家企业" in refused and "【办件进度】" not in refused


async def test_licences_show_their_validity_and_what_renews_them(h, sims):
    enterprises = (await (await sims.get("/sim/platform/_admin/enterprises")).json())["items"]
    code, licence = next((e["profile"]["credit_code"], l) for e in enterprises for l in e["licences"] if l["renewal_matter_name"])
    await sims.post(f"/sim/platform/_admin/licences/{licence['id']}", json={"valid_until": days_from_today(20)})
    await h.say("企业绑定")
    await h.say(code)
    texts = (await (await sims.get(f"/sim/platform/_admin/enterprises/{code}/texts")).json())["items"]
    assert "绑定成功" in await h.say(texts[-1]["code"])

    listing = await h.say("企业证照")
    assert licence["name"] in listing and licence["licence_no"] in listing
    assert "即将到期" in listing and licence["renewal_matter_name"] in listing and "还有 20 天" in listing


async def test_the_menu_option_opens_the_desk_and_mutes_reminders(h, sims):
    await enterprise_case(sims)  # the platform knows the enterprise from its first case
    await bind(h, sims)
    await h.say("菜单")
    home = await h.say("8")
    assert "【企业服务】" in home and "企业办件" in home
    assert "已静音" in await h.say("4")
    assert await h.services.subscriptions.is_muted(CREDIT_CODE)
    assert "已恢复" in await h.say("恢复提醒")
    assert not await h.services.subscriptions.is_muted(CREDIT_CODE)


def days_from_today(days: int) -> str:
    """A date `days` from the simulator's today (its clock runs on real time unless moved)."""
    return (datetime.now(BEIJING).date() + timedelta(days=days)).isoformat()


# Through the real webhook ------------------------------------------------------------------------


async def test_chat_a_binder_lists_the_enterprise_cases_and_opens_one_then_unbinds(chat, client, app):
    await platform_reachable(app)
    first = await enterprise_case(client)
    second = await enterprise_case(client)
    assert "绑定成功" in await bind(chat, client)

    listing = await chat.say("企业办件")
    assert "【企业办件】" in listing and listing.index(second) < listing.index(first)
    card = await chat.say("2")
    assert "【办件进度】" in card and first in card and "办理过程" in card

    await chat.say("解绑")
    await chat.say("1")
    assert "已解除" in await chat.say("1")
    refused = await chat.say("企业办件")
    assert "请先绑定企业" in refused and first not in refused and second not in refused
    bystander = Chat(client, chat.peer, "oUser0000000000000000000007")
    assert first not in await bystander.say("企业办件")


async def test_an_enterprise_case_typed_at_progress_opens_for_a_binder_and_points_others_to_the_desk(h, sims):
    """A binder typing the enterprise's case number at 查进度 sees it at once (a company case has no
    phone digits to give); for anyone else the factor step says how a binder opens it, and
    企业办件 typed there lists it once bound."""
    case_no = await enterprise_case(sims)
    other = h.as_user("not-yet-bound")
    await other.say("查进度")
    asked = await other.say(case_no)
    assert "后 4 位" in asked and "「企业办件」" in asked
    await bind(h, sims)
    await h.say("查进度")
    card = await h.say(case_no)
    assert "【办件进度】" in card and "后 4 位" not in card, card
    listing = await h.say("企业办件")
    assert case_no in listing and "后 4 位" not in listing


async def test_the_enterprise_cases_and_licences_asked_in_words_open_the_desk(h, sims):
    case_no = await enterprise_case(sims)
    await bind(h, sims)
    await h.catalog_ready()
    listing = await h.say("看下公司的办件")
    assert case_no in listing and "您要办的是不是" not in listing, listing
    await h.say("菜单")
    listing = await h.say("我们公司现在有哪些在办的")
    assert case_no in listing and "您要办的是不是" not in listing, listing
    assert "您要办的是不是" not in await h.say("我们单位的证照")
    for asked in ("我们公司的办件怎么查", "这个公司有哪些办件在办"):  # searched (没找到, a list of matters)
        await h.say("菜单")
        listing = await h.say(asked)
        assert case_no in listing and "您要办的是不是" not in listing and "没找到" not in listing, listing
    question = await h.say("公司怎么注销")  # a matter's question is still searched
    assert "注销" in question and case_no not in question, question


async def test_an_enterprise_and_a_case_are_picked_in_words(h, sims):
    """渠江那家 at 您绑定了 2 家企业，要看哪一家？ and 第二个 at the case list: 没太明白 (only digits worked)."""
    from integrations.platform.identifiers import credit_check_char

    second = "91511602MA6XQJ2" + "K8"
    second = second[:17] + credit_check_char(second[:17])
    body = {"enterprise": {"name": "广安市渠江物流有限公司", "credit_code": second, "phone": "13698765432"}}
    assert (await sims.post("/sim/platform/_admin/cases", json=body)).status == 201
    cases = [await enterprise_case(sims) for _ in range(2)]
    await bind(h, sims)
    await h.say("企业绑定")
    await h.say(second)
    assert "绑定成功" in await h.say(await texted_code(sims, second))
    asked = await h.say("企业办件")
    assert "渠江物流" in asked and "思源科技" in asked, asked
    listing = await h.say("思源那家")
    assert all(c in listing for c in cases), listing
    card = await h.say("第二个")
    assert "【办件进度】" in card and cases[0] in card, card  # newest first: the second is the older
    # the one picked is kept for the desk's next item (要看哪一家？ was asked each time); the home still asks
    licences = await h.say("企业证照")
    assert "要看哪一家" not in licences and "思源" in licences, licences
    assert "要看哪一家" in await h.say("企业服务")


async def test_a_binder_asks_whether_last_years_annual_report_is_filed_in_words_or_at_the_home(h, sims):
    """年报报了没 / 今年年报报了吗 were searched (a tax agent's yearly report), though the platform
    knows and the bot reminds of it. A binder is told whether last year's is filed; anyone asking
    how to file one is told where."""
    await enterprise_case(sims)
    await bind(h, sims)
    year = shanghai_today().year - 1
    (await sims.post(f"/sim/platform/_admin/enterprises/{CREDIT_CODE}/annual-reports/{year}", json={"filed": False})).release()
    unfiled = await h.say("今年年报报了吗")
    assert f"{year} 年度的企业年报" in unfiled and ("还没报送" in unfiled or "没有按时报送" in unfiled), unfiled
    (await sims.post(f"/sim/platform/_admin/enterprises/{CREDIT_CODE}/annual-reports/{year}",
                     json={"filed": True, "filed_on": f"{year + 1}-03-01"})).release()
    await h.say("企业服务")
    filed = await h.say("5")
    assert "已报送" in filed and "3月1日" in filed, filed
    # the home's items by their words: 证照 at the home was 没明白
    await h.say("企业服务")
    licences = await h.say("证照")
    assert "没明白" not in licences and "没太明白" not in licences and "证照" in licences, licences
    # how to file one, asked by someone bound to none: where it is filed
    told = await h.as_user("stranger").say("企业年报怎么报")
    assert "国家企业信用信息公示系统" in told, told


@pytest.mark.parametrize("asked", ["我们的证照有快到期的吗", "公司的许可证什么时候到期"])
async def test_a_binder_asking_when_the_companys_licences_expire_gets_its_licences(h, sims, asked):
    """我们的证照有快到期的吗 and 公司的许可证什么时候到期 were searched; only 企业证照 worked."""
    await enterprise_case(sims)
    await bind(h, sims)
    reply = await h.say(asked)
    assert "有效期" in reply or "到期" in reply, reply
    assert "您要办的是不是" not in reply and "没找到" not in reply, reply


async def test_a_binder_asking_where_the_companys_cases_are_gets_its_cases(h, sims):
    """我们公司的件办到哪了 asked for a case number."""
    case_no = await enterprise_case(sims)
    await bind(h, sims)
    reply = await h.say("我们公司的件办到哪了")
    assert case_no in reply and "请输入办件编号" not in reply, reply


@pytest.mark.parametrize("asked", ["企业年报怎么报", "年报截止时间是什么时候"])
async def test_the_annual_report_asked_in_words_at_the_home_is_answered(h, sims, asked):
    """企业年报怎么报 at the desk's home was 没太明白; its annual item says how and by when."""
    await enterprise_case(sims)
    assert "绑定成功" in await bind(h, sims)
    await h.say("企业服务")
    reply = await h.say(asked)
    assert "年度的企业年报" in reply and "没太明白" not in reply, reply


async def test_the_english_homes_labels_typed_do_what_they_say(h, sims):
    """mute reminders / unmute reminders / annual report at the English home: Sorry, I didn't
    quite understand, four times."""
    await enterprise_case(sims)
    assert "绑定成功" in await bind(h, sims)
    await h.say("english")
    assert "[Company services]" in await h.say("企业服务")
    muted = await h.say("mute reminders")
    assert "didn't quite understand" not in muted and await h.services.subscriptions.is_muted(CREDIT_CODE), muted
    await h.say("unmute reminders")
    assert not await h.services.subscriptions.is_muted(CREDIT_CODE)
    annual = await h.say("annual report")
    assert "didn't quite understand" not in annual and "2025" in annual, annual
