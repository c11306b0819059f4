"""我的证照 (#17 item 5): a case that finishes with a licence says so in its notice, and the
person sees the licence in 我的证照 after proving who they are (ID number, then the phone's last
4 digits, checked by the platform at each action): its number masked, its issuer, its validity
and a link that shows it (亮证), soonest to expire first. Refusals (wrong digits, none held,
the platform down) are answered politely.

The first tests drive the dialog in the in-memory harness (`h`); the last one goes through the
real webhook (`chat`) with the notifier delivering the finish notice."""

from __future__ import annotations

import re

from integrations.platform.identifiers import id_check_digit, mask_licence_no
from integrations.platform.simulator import World
from tests.test_notifier import advance as advance_delivered, notices_count
from tests.test_progress import advance, new_case

ID17 = "51160219750315002"
ID_NUMBER = ID17 + id_check_digit(ID17)
PHONE = "13912340817"


def licence_matter() -> tuple[str, str]:
    """A matter whose approval issues a person's e-licence, and that licence's name."""
    world = World.load()
    for guide in sorted(world.guides.values(), key=lambda g: g.code):
        kind = world.licences.type_for_result(guide.result)
        if kind is not None and kind.holder == "citizen" and kind.valid_years:
            return guide.code, kind.name
    raise AssertionError("no matter issues a personal licence")


async def held(sims) -> list[dict]:
    """The licences the platform holds for the test's person, in its order."""
    resp = await sims.post("/sim/platform/licences/lookup", json={"id_number": ID_NUMBER, "phone_last4": PHONE[-4:]})
    return (await resp.json())["items"]


async def finished_case(sims, id_number: str = ID_NUMBER, phone: str = PHONE) -> tuple[str, str]:
    code, licence = licence_matter()
    case_no = await new_case(sims, code, phone=phone, id_number=id_number)
    await advance(sims, case_no, "accepted", "approved")
    return case_no, licence


async def test_my_licences_after_id_and_phone_digits_show_number_masked_issuer_validity_and_a_working_link(h, sims):
    case_no, name = await finished_case(sims)

    asked = await h.say("我的证照")
    assert "身份证号码" in asked
    assert "手机号的后 4 位" in await h.say(ID_NUMBER)
    listing = await h.say(PHONE[-4:])
    assert "【我的证照】" in listing and name in listing
    licence = (await held(sims))[0]
    assert licence["licence_no"] not in listing and mask_licence_no(licence["licence_no"]) in listing  # masked
    assert f"发证机关：{licence['issuer']}" in listing and "有效期至" in listing
    link = re.search(r"亮证或下载：(\S+)", listing).group(1)
    page = await sims.get(link[link.index("/sim/platform"):])
    assert page.status == 200 and licence["licence_no"] in await page.text()  # the page shows it whole
    assert "30 分钟" in listing
    card = await h.say(case_no)  # the case's own card says its licence was issued
    assert "手机号的后 4 位" in card
    assert f"电子证照「{name}」已发放" in await h.say(PHONE[-4:])


async def test_licences_list_soonest_to_expire_first_and_one_can_be_picked(h, sims):
    await finished_case(sims)
    world = World.load()
    first = (await held(sims))[0]
    other_matter = next(g.code for g in sorted(world.guides.values(), key=lambda g: g.code)
                        if (kind := world.licences.type_for_result(g.result)) is not None and kind.holder == "citizen" and kind.name != first["name"])
    other = await new_case(sims, other_matter, phone=PHONE, id_number=ID_NUMBER)
    await advance(sims, other, "accepted", "approved")
    # the first licence lapses sooner than any other now
    await sims.post(f"/sim/platform/_admin/licences/{first['id']}", json={"valid_until": "2026-12-31"})
    items = await held(sims)
    assert len(items) == 2 and items[0]["id"] == first["id"]

    await h.say("我的证照")
    await h.say(ID_NUMBER)
    listing = await h.say(PHONE[-4:])
    names = [item["name"] for item in items]  # the platform's order: soonest to expire first
    assert listing.index(names[0]) < listing.index(names[1])
    one = await h.say("2")
    assert names[1] in one and names[0] not in one and "亮证或下载" in one


async def test_wrong_digits_are_refused_politely_and_counted_and_nothing_held_is_said(h, sims):
    await new_case(sims, phone=PHONE, id_number=ID_NUMBER)  # a case, not finished: no licence yet

    await h.say("我的证照")
    await h.say(ID_NUMBER)
    wrong = await h.say("0000")
    assert "对不上" in wrong and "还可以尝试 4 次" in wrong
    assert "4 位数字" in await h.say("一二三四")
    none = await h.say(PHONE[-4:])
    assert "没有查到您名下的电子证照" in none
    assert (await h.session()).dialog == "menu"


async def test_digits_guessed_from_many_accounts_stop_being_tried_for_that_id_number(h, sims):
    """Wrong digits locked one account after 5, but the limit for everyone was never applied:
    with a few accounts the 4 digits could be guessed, and the licences' links shown."""
    await finished_case(sims)
    guesses = iter(f"{n:04d}" for n in range(1, 100) if f"{n:04d}" != PHONE[-4:])
    for account in ("g1", "g2", "g3"):
        stranger = h.as_user(account)
        await stranger.say("我的证照")
        await stranger.say(ID_NUMBER)
        for _ in range(3):
            await stranger.say(next(guesses))
    # past the limit the right digits open nothing either, for anyone (the same answer as wrong
    # ones would get), and they are not counted against the one who typed them
    for account in ("g4", "owner"):
        person = h.as_user(account)
        await person.say("我的证照")
        await person.say(ID_NUMBER)
        paused = await person.say(PHONE[-4:])
        assert "暂停了半小时" in paused and "有效期" not in paused and "http" not in paused, paused


async def test_a_mistyped_id_number_is_explained_and_the_platform_down_is_said(h, sims):
    await finished_case(sims)
    await h.say("我的证照")
    assert "18 位" in await h.say("51160219750315")
    await h.say(ID_NUMBER)
    (await sims.post("/sim/platform/_admin/faults", json={"status": 503, "times": 3})).release()
    busy = await h.say(PHONE[-4:])
    assert "系统繁忙" in busy
    assert (await h.session()).state == "phone"  # the digits can be sent again


async def test_the_list_checks_the_factors_again_at_each_action(h, sims):
    """Nothing in the session opens the licences: each action asks the platform with both factors
    (a session whose digits do not belong to the ID number, however it came about, opens nothing)."""
    await finished_case(sims)
    await h.put_session("licences", "shown", {"id_number": ID_NUMBER, "phone_last4": "0000", "total": 1})
    again = await h.say("刷新")
    assert "对不上" in again and "身份证号码" in again and "亮证" not in again
    assert "phone_last4" not in (await h.session()).data
    await h.put_session("licences", "shown", {"id_number": ID_NUMBER, "phone_last4": "0000", "total": 1})
    assert "亮证" not in await h.say("1")


async def test_menu_and_help_name_my_licences(h):
    menu = await h.say("菜单")
    assert "10. 我的证照" in menu
    assert "身份证号码" in await h.say("10")


async def test_a_finished_case_notice_names_its_licence_and_my_licences_shows_it(chat, client):
    """Over the real webhook: subscribe to a case, hear it finish with its licence named, then
    open 我的证照."""
    code, name = licence_matter()
    case_no = await new_case(client, code, phone=PHONE, id_number=ID_NUMBER)
    await chat.say("查进度")
    await chat.say(case_no)
    await chat.say(PHONE[-4:])
    assert "订阅成功" in await chat.say("订阅")
    await advance_delivered(client, case_no, "accepted")
    await advance_delivered(client, case_no, "approved")
    received = await notices_count(client, chat.user, 2)
    done = next(n for n in received if "【办件已办结】" in n)
    assert f"电子证照「{name}」已发放" in done and "我的证照" in done

    assert "身份证号码" in await chat.say("我的证照")
    await chat.say(ID_NUMBER)
    listing = await chat.say(PHONE[-4:])
    assert name in listing and "发证机关" in listing and "有效期至" in listing and "亮证或下载：http" in listing


async def voice(h, recognition: str) -> str | None:
    """A voice message WeChat's speech recognition heard: it ends its sentences with 。"""
    return await h.message({"MsgType": "voice", "MediaId": "voice-media-1", "Format": "amr", "Recognition": recognition})


async def test_the_id_number_and_digits_said_aloud_open_my_licences(h, sims):
    """Recognition writes "0817。": the 4 digits said aloud are the digits, not a wrong format."""
    _, name = await finished_case(sims)
    assert "身份证号码" in await voice(h, "我的证照。")
    assert "手机号的后 4 位" in await voice(h, f"{ID_NUMBER}。")
    listing = await voice(h, f"{PHONE[-4:]}。")
    assert "【我的证照】" in listing and name in listing


async def test_the_digits_said_with_words_around_them_are_the_digits(h, sims):
    """后四位是0817, 尾号0817: the 4 digits, not 「格式好像不对」 (elders say what they type)."""
    _, name = await finished_case(sims)
    await h.say("我的证照")
    await h.say(ID_NUMBER)
    listing = await h.say(f"手机后四位是{PHONE[-4:]}")
    assert "【我的证照】" in listing and name in listing
    await h.say("订阅政策")
    await h.say(ID_NUMBER)
    assert "已为您订阅政策推送" in await h.say(f"尾号{PHONE[-4:]}")


async def test_words_at_the_id_step_are_told_what_it_needs_not_counted_as_digits(h):
    """不是我个人的，是公司的证照 at 请输入您的身份证号码 was told 应为 18 位，您输入的是 13 位."""
    await h.say("我的证照")
    reply = await h.say("不是我个人的，是公司的证照")
    assert "您输入的是" not in reply and "18 位身份证号码" in reply and "企业证照" in reply, reply
