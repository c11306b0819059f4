"""好差评: a finished case's invitation answered in one reply (a word or 1-5), bad ratings asked
what went wrong and filed as complaints, everything passed to the platform, and one reminder
after 3 days for a case still unrated.

The rating dialog runs in the in-memory harness (`h`, tests/harness.py); what needs the
workers (the reminder, the "done" notice a case's event brings) runs over HTTP."""

from __future__ import annotations

import pytest

import time

from bot.web.appkeys import SCHEDULER, SERVICES
from bot.services.delivery import template_text
from bot.services.ratings import reminder_job
from tests.support import wait_for
from tests.test_progress import advance, new_case

MATTER = "个体工商户注销登记"


async def follow(client, *users: str) -> None:
    """The person follows the account, so WeChat accepts notices to them."""
    assert (await client.post("/sim/wechat/_admin/followers", json={"openids": list(users)})).status == 200


async def finished_case(client) -> str:
    case_no = await new_case(client)
    await advance(client, case_no, "accepted", "processing", "reviewing", "approved")
    return case_no


async def invited(chat, client, ratings) -> str:
    """A finished case this person opened with its second factor, and the invitation to rate
    that its "done" notice brings (as the notifier sends it)."""
    case_no = await finished_case(client)
    await chat.say(case_no)
    await chat.say("5678")
    await chat.say("菜单")
    await ratings.invite(chat.user, case_no, MATTER)
    return case_no


async def feedback(client, case_no: str) -> dict:
    return await (await client.get(f"/sim/platform/_admin/cases/{case_no}/ratings")).json()


async def messages(client, user: str) -> list[str]:
    resp = await client.get("/sim/wechat/_admin/messages", params={"openid": user})
    return [template_text(m["content"]["data"]) if m["kind"] == "template" else m["content"] for m in (await resp.json())["messages"]]


async def test_one_word_answers_the_invitation_and_reaches_the_platform(h, sims):
    case_no = await invited(h, sims, h.services.ratings)
    thanks = await h.say("满意")
    assert "感谢您的评价：★★★★☆ 满意" in thanks
    ratings = (await feedback(sims, case_no))["ratings"]
    assert [(r["level"], r["follow_up_required"]) for r in ratings] == [("satisfied", False)]
    assert h.user not in str(ratings)  # the platform gets a pseudonym, never the openid


async def test_a_bare_number_at_the_menu_rates_only_when_just_invited(h, sims):
    assert "感谢您的评价" not in await h.say("1")  # no invitation: 1 is the first menu option
    await h.say("菜单")
    case_no = await invited(h, sims, h.services.ratings)
    assert "感谢您的评价：★★★★★ 非常满意" in await h.say("5")  # stars: 5 is best
    assert [r["level"] for r in (await feedback(sims, case_no))["ratings"]] == ["very_satisfied"]


async def test_dissatisfied_asks_what_went_wrong_and_files_a_complaint(h, sims):
    case_no = await invited(h, sims, h.services.ratings)
    question = await h.say("2")  # two stars
    assert "不满意" in question and "哪里没做好" in question
    filed = await h.say("窗口让我来回跑了三趟，材料清单也没说清楚")
    assert "投诉编号" in filed and "回访" in filed

    recorded = await feedback(sims, case_no)
    assert [(r["level"], r["follow_up_required"]) for r in recorded["ratings"]] == [("dissatisfied", True)]
    assert [c["text"] for c in recorded["complaints"]] == ["窗口让我来回跑了三趟，材料清单也没说清楚"]
    assert recorded["complaints"][0]["rating_id"] == recorded["ratings"][0]["id"]


async def test_a_complaint_about_the_hall_or_its_phone_is_filed_not_answered_with_the_halls(h, sims):
    """差评's reason 窗口的人态度很差…电话也没人接 was read as a question about halls: the hall list, no complaint."""
    case_no = await invited(h, sims, h.services.ratings)
    await h.say("差评")
    reason = "窗口的人态度很差，让我跑了三趟，电话也没人接"
    filed = await h.say(reason)
    assert "投诉编号" in filed and "服务大厅" not in filed, filed
    assert [c["text"] for c in (await feedback(sims, case_no))["complaints"]] == [reason]


@pytest.mark.parametrize("skipped", ["跳过", "不说了 跳过", "不想说了", "算了 没啥好说的"])
async def test_skipping_the_reason_still_files_the_complaint(h, sims, skipped):
    """A bad rating is followed up all the same (the platform's rule); the words that skip it were
    filed as the complaint's text (不说了 跳过, 不想说了), and the answer read as if a reason was
    given. It now says no reason is needed, and the platform records none."""
    case_no = await invited(h, sims, h.services.ratings)
    await h.say("非常不满意")
    filed = await h.say(skipped)
    assert "投诉编号" in filed and "不说原因也没关系" in filed, filed
    recorded = await feedback(sims, case_no)
    assert recorded["ratings"][0]["level"] == "very_dissatisfied" and len(recorded["complaints"]) == 1
    assert recorded["complaints"][0]["text"] == "评价人未说明具体原因"


async def test_one_reminder_after_three_days_if_unrated_and_no_more(chat, client, app):
    ratings, scheduler = app[SERVICES].ratings, app[SCHEDULER]
    await follow(client, chat.user)
    case_no = await invited(chat, client, app[SERVICES].ratings)
    await ratings.invite(chat.user, case_no, MATTER)  # a repeated invitation does not move the reminder
    due = await scheduler.due_at(reminder_job(chat.user, case_no))
    assert due is not None and abs(due - (time.time() + 3 * 86400)) < 60

    scheduler.clock = lambda: time.time() + 3 * 86400 + 5
    reminders = await wait_for(lambda: _reminders(client, chat.user))
    assert len(reminders) == 1 and MATTER in reminders[0] and case_no in reminders[0]
    await ratings.remind({"user": chat.user, "case_no": case_no})  # run again: sent once per case, never twice
    assert len(await _reminders(client, chat.user)) == 1
    assert await scheduler.due_at(reminder_job(chat.user, case_no)) is None

    assert "感谢您的评价" in await chat.say("4")  # the reminder made a bare number a rating again


async def test_a_rated_case_gets_no_reminder_and_no_second_invitation(h, sims):
    ratings, scheduler = h.services.ratings, h.app[SCHEDULER]
    await follow(sims, h.user)
    case_no = await invited(h, sims, h.services.ratings)
    await h.say("基本满意")
    assert await scheduler.due_at(reminder_job(h.user, case_no)) is None
    await ratings.remind({"user": h.user, "case_no": case_no})
    assert await _reminders(sims, h.user) == []

    await ratings.invite(h.user, case_no, MATTER)  # the same "done" event again
    assert await ratings.pending(h.user) is None
    assert "没有待评价" in await h.say("评价")


async def test_the_done_notice_of_a_subscribed_case_invites_a_rating(chat, client):
    await follow(client, chat.user)
    case_no = await new_case(client)
    await chat.say(case_no)
    await chat.say("5678")
    await chat.say("订阅")
    await chat.say("菜单")
    await advance(client, case_no, "accepted", "processing", "reviewing", "approved")

    async def invited():
        reply = await chat.say("评价")
        return reply if "没有待评价" not in reply else None

    question = await wait_for(invited, timeout=10)
    assert question and case_no in question and "非常满意" in question
    assert "感谢您的评价：★★★★☆ 满意" in await chat.say("4")
    assert [r["level"] for r in (await feedback(client, case_no))["ratings"]] == ["satisfied"]


async def _reminders(client, user: str) -> list[str]:
    return [m for m in await messages(client, user) if "邀请评价" in m]


async def test_a_rating_may_be_changed_once(h, sims):
    case_no = await invited(h, sims, h.services.ratings)
    assert "修改评价" in await h.say("满意")
    question = await h.say("修改评价")
    assert case_no in question and "非常满意" in question
    changed = await h.say("5")
    assert "感谢您的评价：★★★★★ 非常满意" in changed and "修改评价" not in changed
    assert "不能再改" in await h.say("修改评价")
    ratings = (await feedback(sims, case_no))["ratings"]
    assert [(r["level"], r["revision"]) for r in ratings] == [("satisfied", 1), ("very_satisfied", 2)]


# Only a person who may act on the case rates it --------------------------------------------------


async def test_an_invitation_alone_lets_nobody_rate_a_case_they_never_opened(h, sims):
    case_no = await finished_case(sims)
    await h.services.ratings.invite(h.user, case_no, MATTER)  # as if sent to the wrong person
    refused = await h.say("满意")
    assert "感谢您的评价" not in refused and "查进度" in refused
    assert await feedback(sims, case_no) == {"ratings": [], "complaints": []}


async def test_a_complaint_is_filed_only_while_the_case_is_still_theirs(h, sims):
    case_no = await invited(h, sims, h.services.ratings)
    assert "哪里没做好" in await h.say("不满意")
    await h.services.subscriptions.forget(h.user, case_no)  # the remembered factor stopped opening it meanwhile
    refused = await h.say("窗口让我来回跑了三趟")
    assert "投诉编号" not in refused and "查进度" in refused
    assert (await feedback(sims, case_no))["complaints"] == []


async def test_a_binder_rates_a_case_of_their_enterprise_from_its_notice(chat, client, app):
    from tests.test_notifier import notices_count
    from tests.test_subscriptions import bind, enterprise_case

    await follow(client, chat.user)
    case_no = await enterprise_case(client)
    assert "绑定成功" in await bind(chat, client)
    await advance(client, case_no, "accepted", "processing", "reviewing", "approved")
    done = (await notices_count(client, chat.user, 2))[-1]
    assert "请为这次办事打个分" in done
    # The notifier records the invitation just after WeChat has the notice.
    assert await wait_for(lambda: app[SERVICES].ratings.pending(chat.user), timeout=10)
    assert "感谢您的评价：★★★★☆ 满意" in await chat.say("满意")
    assert [r["level"] for r in (await feedback(client, case_no))["ratings"]] == ["satisfied"]


# Stars, the rating's own words, and who owns a bare number (issue 20, item 4) ---------------------


async def test_five_star_praise_through_the_webhook_records_very_satisfied(chat, client, app):
    case_no = await invited(chat, client, app[SERVICES].ratings)
    thanks = await chat.say("五星好评")
    assert "★★★★★ 非常满意" in thanks and MATTER in thanks  # says which case it rated
    assert [r["level"] for r in (await feedback(client, case_no))["ratings"]] == ["very_satisfied"]


async def test_dissatisfied_asks_why_before_any_complaint_is_filed(chat, client, app):
    case_no = await invited(chat, client, app[SERVICES].ratings)
    question = await chat.say("不满意")
    assert "哪里没做好" in question and "★★☆☆☆" in question
    recorded = await feedback(client, case_no)
    assert [r["level"] for r in recorded["ratings"]] == ["dissatisfied"] and recorded["complaints"] == []
    assert "投诉编号" in await chat.say("材料清单和窗口说的不一样")
    assert [c["text"] for c in (await feedback(client, case_no))["complaints"]] == ["材料清单和窗口说的不一样"]


async def test_a_rating_invitation_never_changes_a_subscription(chat, client, app):
    """Looking at 我的订阅 (回复序号退订) when the invitation arrives: the 1 that follows is the
    invitation's (the latest thing the person saw), and the subscription stays."""
    services = app[SERVICES]
    case_no = await finished_case(client)
    await chat.say(case_no)
    await chat.say("5678")
    await chat.say("订阅")
    listing = await chat.say("我的订阅")
    assert "1." in listing and case_no in listing
    await services.ratings.invite(chat.user, case_no, MATTER)
    reply = await chat.say("1")
    assert "★☆☆☆☆ 非常不满意" in reply and "哪里没做好" in reply and "退订" not in reply
    assert case_no in await services.subscriptions.subscribed(chat.user)
    assert [r["level"] for r in (await feedback(client, case_no))["ratings"]] == ["very_dissatisfied"]


async def test_after_the_list_was_shown_again_a_bare_number_is_the_lists_and_rating_words_still_rate(h, sims):
    services = h.services
    case_no = await finished_case(sims)
    await h.say(case_no)
    await h.say("5678")
    await h.say("订阅")
    await services.ratings.invite(h.user, case_no, MATTER)
    assert case_no in await h.say("我的订阅")  # seen after the invitation: its numbers are the list's
    assert "感谢您的评价" in await h.say("评价 4")  # the rating's own words rate from the list
    assert case_no in await services.subscriptions.subscribed(h.user)
    assert [r["level"] for r in (await feedback(sims, case_no))["ratings"]] == ["satisfied"]


async def test_a_bare_number_on_the_progress_card_is_the_cards_unless_the_invitation_came_after_it(h, sims):
    case_no = await finished_case(sims)
    await h.say(case_no)
    await h.say("5678")
    await h.services.ratings.invite(h.user, case_no, MATTER)
    assert "★★★★★ 非常满意" in await h.say("5")  # the invitation came after the card: it is the latest


async def test_stars_thumbs_and_five_star_words_rate_on_the_progress_card(h, sims):
    for said, level in (("👍", "very_satisfied"), ("5星", "very_satisfied"), ("⭐⭐⭐", "basically_satisfied")):
        await h.say("菜单")
        case_no = await finished_case(sims)
        await h.say(case_no)
        await h.say("5678")
        await h.services.ratings.invite(h.user, case_no, MATTER)
        await h.say("刷新")  # the card again: the invitation is no longer the latest thing seen
        assert "感谢您的评价" in await h.say(said), said
        assert [r["level"] for r in (await feedback(sims, case_no))["ratings"]] == [level]


async def test_a_verified_finished_case_is_rated_from_its_card_without_an_invitation(h, sims):
    """我要评价 on the card of a finished case asks its level; 差评 … said there rates that case
    (no invitation needed: the person verified it, and it is done)."""
    case_no = await finished_case(sims)
    await h.say(case_no)
    await h.say("5678")
    asked = await h.say("我要评价")
    assert "非常满意" in asked and "没有待评价" not in asked, asked
    assert "感谢您的评价：★★★★☆ 满意" in await h.say("4")
    other = await finished_case(sims)
    await h.say(other)
    await h.say("5678")
    reply = await h.say("给这个打差评 办好了都不通知")
    assert "★☆☆☆☆" in reply or "★★☆☆☆" in reply, reply
    assert [r["level"] for r in (await feedback(sims, other))["ratings"]] in (["dissatisfied"], ["very_dissatisfied"])


async def test_a_bare_number_in_a_dialog_stays_the_dialogs_when_the_invitation_is_older(h, sims):
    case_no = await invited(h, sims, h.services.ratings)
    await h.say("菜单")  # the menu came after the invitation: its numbers are the menu's
    listing = await h.say("4")
    assert "本区服务大厅" in listing
    assert "洪洲大道二段55号" in await h.say("1")
    assert (await feedback(sims, case_no))["ratings"] == []


async def test_the_rating_question_shows_stars_best_first(h, sims):
    case_no = await invited(h, sims, h.services.ratings)
    question = await h.say("评价")
    assert case_no in question and question.index("5 ★★★★★ 非常满意") < question.index("1 ★☆☆☆☆ 非常不满意")
    assert "★★★☆☆ 基本满意" in await h.say("3")


async def test_rating_words_with_nothing_to_rate_are_told_so_not_searched(h):
    reply = await h.say("五星好评")
    assert "没有待评价" in reply and "没找到" not in reply


async def test_a_question_that_mentions_stars_is_searched_when_nothing_is_to_rate(h):
    reply = await h.say("开五星级酒店要办什么证")
    assert "没有待评价" not in reply


async def test_rating_a_case_not_done_yet_says_when_it_can_be_rated(h, sims):
    """评价 on a case still being handled offered the stars, then 差评 got 这件办件已经评价过了（或还没有办结）."""
    case_no = await new_case(sims)
    await advance(sims, case_no, "accepted")
    await h.say(case_no)
    assert "【办件进度】" in await h.say("5678")
    told = await h.say("评价")
    assert "还没有办结" in told and "5 星最好" not in told, told
    assert (await h.session()).dialog == "progress"


async def test_rating_the_case_just_shown_after_a_question_asked_meanwhile(h, sims):
    """A finished case opened, then 周六开门吗: 评价 got 您目前没有待评价的办件…请先回复「查进度」打开它,
    though it had just been opened."""
    await h.catalog_ready()
    case_no = await finished_case(sims)
    await h.say(case_no)
    assert "【办件进度】" in await h.say("5678")
    await h.say("周六开门吗")
    asked = await h.say("评价")
    assert "没有待评价" not in asked and "非常满意" in asked, asked
    assert "感谢您的评价" in await h.say("5")
    assert [r["level"] for r in (await feedback(sims, case_no))["ratings"]] == ["very_satisfied"]
    # someone who never opened it has nothing to rate
    assert "没有待评价" in await h.as_user("stranger").say("评价")
