"""政策找人, 我的授权 and 免申即享 for residents (#18 items 3 and 5), end to end.

People subscribe to policy pushes over the real webhook (their ID number checked by the platform
simulator against their phone's last 4 digits); staff write a policy through the admin API over
real HTTP; the bot's own sender sends it through the WeChat simulator; the platform simulator's
resident register says who is 80 or older."""

from __future__ import annotations

import json
import logging

import pytest

from bot.app import create_app
from bot.services.broadcasts.policies import PolicyDraft, parse_terms
from bot.web.admin.api import OPENAPI
from integrations.platform.simulator import World
from tests.support import Chat, wait_for
from tests.test_admin_api import schema_of
from tests.test_enterprise_desk import platform_reachable
from tests.test_broadcasts import FAST, STAFF, WECOM, Staffer, audit_entries, until_status
from tests.test_notifier import notices, settled

WORLD = World.load()
MATTER = next(iter(WORLD.summaries.values()))
TITLE = "高龄津贴"


@pytest.fixture
async def bot(aiohttp_client, bot_server, make_settings, redis):
    """A bot with staff and its workers, once its platform client talks to the simulator (a call
    made while the server was still starting may have opened the client's circuit)."""
    settings = make_settings(staff=STAFF, **WECOM, **FAST)
    app = create_app(settings, redis)
    client = await aiohttp_client(await bot_server(app, port=settings.port))
    client.settings = settings
    await platform_reachable(app)
    return client


async def residents(client, **ages) -> list[dict]:
    resp = await client.get("/sim/platform/_admin/residents", params={k: str(v) for k, v in ages.items()})
    return (await resp.json())["items"]


async def subscribe(person: Chat, resident: dict) -> str:
    """订阅政策 with consent: the ID number, then the phone's last 4 digits."""
    asked = await person.say("订阅政策")
    assert "身份证" in asked, asked
    assert "手机" in await person.say(resident["id_number"])
    return await person.say(resident["phone"][-4:])


def policy(**extra) -> dict:
    return {"title": TITLE, "summary": "年满 80 周岁的老人可按月领取高龄津贴。", "matter_code": MATTER.code,
            "rules": [{"kind": "age", "min": 80}], **extra}


async def write_policy(staffer: Staffer, body: dict) -> dict:
    """Create, waiting for the bot's catalog (the matter must be known) on a freshly started bot."""

    async def created():
        status, data = await staffer.call("POST", "/policies", body)
        return data if status == 201 else None if data.get("error") == "unknown_matter" else pytest.fail(str(data))

    found = await wait_for(created, timeout=90, every=0.5)
    assert found, "the catalog never loaded"
    return found


async def policy_notices(client, user: str) -> list[str]:
    return [n for n in await notices(client, user) if TITLE in n]


async def test_a_policy_for_80_and_over_reaches_exactly_the_opted_in_elders_once_each_after_a_second_persons_approval(bot, peer, redis, caplog):
    elders, young = await residents(bot, min_age=80), await residents(bot, max_age=60)
    assert len(elders) >= 5 and young
    people = {name: Chat(bot, peer, f"oPolicy{name}000000000000000000"[:28]) for name in ("a", "b", "c", "d", "e", "f")}
    chosen = {"a": elders[0], "b": elders[1], "c": elders[2], "d": elders[3], "e": young[0], "f": elders[4]}
    with caplog.at_level(logging.DEBUG):
        for name in ("a", "b", "c", "e", "f"):
            assert "已为您订阅政策推送" in await subscribe(people[name], chosen[name])
        assert "退订" in await people["b"].say("退订政策")  # b stops the pushes, keeps the consent
        assert "已撤回授权" in await people["c"].say("撤回授权")  # c takes the consent back
        await people["d"].say("你好")  # d never opted in

    wangwu, lisi = Staffer(bot, "wangwu"), Staffer(bot, "lisi")
    created = await write_policy(wangwu, policy())
    pid = created["id"]
    shown = await wangwu.ok("POST", f"/policies/{pid}/preview")
    assert shown["total"] == 2  # exactly a and f: opted in, consenting, 80 or older
    assert shown["sample"] == []  # a count, never a list of the people a policy found
    assert all(chosen[n]["id_number"] not in json.dumps(shown) for n in chosen)
    assert MATTER.name in shown["text"] and "无需" not in shown["text"]

    status, refused = await lisi.call("POST", f"/policies/{pid}/approve")  # not submitted yet
    assert status == 409, refused
    await wangwu.ok("POST", f"/policies/{pid}/submit")
    status, refused = await wangwu.call("POST", f"/policies/{pid}/approve")  # the author may not approve
    assert (status, refused["error"]) == (403, "own_broadcast")
    for person in people.values():
        assert await policy_notices(bot, person.user) == []  # nothing before the approval

    await lisi.ok("POST", f"/policies/{pid}/approve")
    done = await until_status(lisi, pid, "done")
    assert done["sent"] == 2 and done["approved_by"] == "lisi"
    status, _ = await lisi.call("POST", f"/policies/{pid}/approve")  # a second click sends nothing more
    assert status == 409
    for name in ("a", "f"):
        got = await policy_notices(bot, people[name].user)
        assert len(got) == 1 and MATTER.name in got[0], got
    for name in ("b", "c", "d", "e"):
        assert await policy_notices(bot, people[name].user) == []

    counts = await lisi.ok("GET", "/consents")
    assert counts == {"consented": 4, "subscribed": 3}  # a, b, e, f consent; a, e, f subscribe
    actions = [e["action"] for e in await audit_entries(redis, bot.settings.key_prefix) if e["target"] == pid]
    assert actions[:4] == ["broadcast.create", "broadcast.preview", "broadcast.approve", "broadcast.submit"]
    assert "broadcast.approve" in actions[4:]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(chosen[n]["id_number"] in logged for n in chosen)  # never logged unmasked


async def test_withdrawing_consent_or_unsubscribing_after_the_preview_still_keeps_the_notice_away(bot, peer):
    elders = await residents(bot, min_age=80)
    stays, leaves, withdraws = (Chat(bot, peer, f"oPolicyLate{i}00000000000000000"[:28]) for i in range(3))
    for person, resident in zip((stays, leaves, withdraws), elders):
        assert "已为您订阅政策推送" in await subscribe(person, resident)
    zhang, li = Staffer(bot, "zhangsan"), Staffer(bot, "lisi")
    pid = (await write_policy(zhang, policy()))["id"]
    assert (await zhang.ok("POST", f"/policies/{pid}/preview"))["total"] == 3
    await zhang.ok("POST", f"/policies/{pid}/submit")
    await leaves.say("退订政策")
    await withdraws.say("撤回授权")
    await li.ok("POST", f"/policies/{pid}/approve")
    done = await until_status(li, pid, "done")
    assert done["sent"] == 1 and done["failed"] == {"withdrawn": 2}
    assert len(await policy_notices(bot, stays.user)) == 1
    assert await policy_notices(bot, leaves.user) == [] and await policy_notices(bot, withdraws.user) == []


async def test_my_consent_shows_what_is_used_masked_and_withdrawing_takes_it_all_back(bot, peer):
    elder = (await residents(bot, min_age=80))[0]
    person = Chat(bot, peer, "oPolicyMine00000000000000000")
    assert "还没有授权" in await person.say("我的授权")
    assert "不一致" in (await person.say("订阅政策"), await person.say(elder["id_number"]),
                        await person.say("0000" if elder["phone"][-4:] != "0000" else "1111"))[-1]
    assert "已为您订阅政策推送" in await person.say(elder["phone"][-4:])
    shown = await person.say("我的授权")
    masked = elder["id_number"][:3] + "*" * 11 + elder["id_number"][-4:]
    assert masked in shown and elder["id_number"] not in shown and "已订阅" in shown
    assert "已撤回授权" in await person.say("1")
    assert "还没有授权" in await person.say("我的授权")
    counts = await Staffer(bot, "lisi").ok("GET", "/consents")
    assert counts == {"consented": 0, "subscribed": 0}


async def test_a_benefit_granted_to_a_resident_is_one_notice_to_whoever_verified_that_id_number(bot, peer, redis):
    elders = await residents(bot, min_age=80)
    verified, withdrawn, stranger = (Chat(bot, peer, f"oBenefit{i}0000000000000000000"[:28]) for i in range(3))
    assert "已为您订阅政策推送" in await subscribe(verified, elders[0])
    await verified.say("退订政策")  # 免申即享 notices rest on the consent, not on policy pushes
    assert "已为您订阅政策推送" in await subscribe(withdrawn, elders[1])
    await withdrawn.say("撤回授权")
    await stranger.say("你好")

    async def grant(id_number: str) -> dict:
        resp = await bot.post("/sim/platform/_admin/benefits", json={"benefit_code": "GLJT", "id_number": id_number})
        assert resp.status in (200, 201), await resp.text()
        return (await resp.json())["event"]["benefit"]

    benefit = await grant(elders[0]["id_number"])
    await grant(elders[1]["id_number"])

    async def told():
        found = [n for n in await notices(bot, verified.user) if "免申即享" in n]
        return found or None

    got = await wait_for(told, timeout=20)
    assert got and len(got) == 1
    assert benefit["name"] in got[0] and "无需申请" in got[0]
    assert benefit["how_to_query"] in got[0] and benefit["how_to_object"] in got[0]
    assert elders[0]["id_number"] not in got[0]
    assert await settled(redis, bot.settings)  # every event handled: no second notice is still on its way
    assert len([n for n in await notices(bot, verified.user) if "免申即享" in n]) == 1
    assert [n for n in await notices(bot, withdrawn.user) if "免申即享" in n] == []
    assert await notices(bot, stranger.user) == []


# The rules as data -------------------------------------------------------------------------------


def test_rules_typed_in_chat_become_typed_rules_and_nonsense_is_named_not_run():
    terms = parse_terms("餐饮业 + 小微企业 + 事项 高龄津贴申领")
    draft = PolicyDraft.model_validate({"title": "餐饮补贴", "summary": "小微餐饮企业可申请补贴。", "matter_code": terms.matter, "rules": terms.rules})
    assert [r.kind for r in draft.rules] == ["industry", "enterprise_size"] and terms.matter == "高龄津贴申领"
    assert {s.value for s in draft.rules[1].sizes} == {"micro", "small"}
    assert parse_terms("80周岁以上；事项 GLJT").rules == [{"kind": "age", "min": 80}]
    assert parse_terms("年龄 60-70岁").rules == [{"kind": "age", "min": 60, "max": 70}]
    assert parse_terms("年满80周岁，户籍 511602").rules == [{"kind": "age", "min": 80}, {"kind": "district", "codes": ["511602"]}]
    assert parse_terms("__import__('os').system('x')").unknown  # never evaluated, only not understood
    with pytest.raises(ValueError):
        PolicyDraft.model_validate({"title": "x", "summary": "y", "matter_code": "z", "rules": [{"kind": "age"}]})
    with pytest.raises(ValueError):
        PolicyDraft.model_validate({"title": "x", "summary": "y", "matter_code": "z", "rules": [{"kind": "age", "min": 90, "max": 80}]})


async def test_policy_answers_match_the_document_and_bad_policies_are_400(bot):
    wangwu = Staffer(bot, "wangwu")
    broadcast, preview = schema_of("#/components/schemas/Broadcast"), schema_of("#/components/schemas/Preview")
    created = await write_policy(wangwu, policy(rules=[{"kind": "age", "min": 80}, {"kind": "district", "codes": ["5116"]}]))
    broadcast.validate(created)
    preview.validate(await wangwu.ok("POST", f"/policies/{created['id']}/preview"))
    listed = await wangwu.ok("GET", "/policies")
    assert [p["id"] for p in listed["policies"]] == [created["id"]]
    for p in listed["policies"]:
        broadcast.validate(p)
    schema_of("#/components/schemas/ConsentCounts").validate(await wangwu.ok("GET", "/consents"))
    for bad in (policy(rules=[]), policy(rules=[{"kind": "eval", "code": "1"}]), policy(matter_code="NO-SUCH-MATTER"),
                {**policy(), "extra": 1}, policy(rules=[{"kind": "age", "min": 200}])):
        status, body = await wangwu.call("POST", "/policies", bad)
        assert status == 400, (bad, body)
        schema_of("#/components/schemas/Error").validate(body)
    status, body = await wangwu.call("POST", "/broadcasts", {"title": "x", "body": "y", "audience": {"kind": "policy", "rules": [{"kind": "age", "min": 80}]}})
    assert status == 400  # a policy is written through /policies, with its matter
    plain = await wangwu.ok("POST", "/broadcasts", {"title": "x", "body": "y", "audience": {"kind": "all"}}, status=201)
    status, _ = await wangwu.call("GET", f"/policies/{plain['id']}")
    assert status == 404
    status, _ = await Staffer(bot, "zhaoliu").call("POST", "/policies", policy())  # an agent may not write policies
    assert status == 403
    assert "/policies" in OPENAPI.read_text()


async def test_the_consent_dialog_in_the_harness_skips_the_id_number_for_enterprise_policies_only(h, sims):
    """跳过: consent for the bound enterprises only; a person rule then never matches them."""
    assert "身份证" in await h.say("订阅政策")
    assert "已为您订阅政策推送" in await h.say("跳过")
    shown = await h.say("我的授权")
    assert "身份证号：未提供" in shown and "已订阅" in shown
    assert "已为您退订政策推送" in await h.say("退订政策")
    assert "您没有订阅政策推送" in await h.say("退订政策")
    assert "已撤回授权" in await h.say("撤回授权")
    assert "身份证" in await h.say("订阅政策")  # no consent now: asked again
    assert "好像不对" in await h.say("123456789012345678")  # a wrong check digit


def _code_for(trade: str, sizes: set[str], seed: int) -> str:
    """A credit code the simulator registers as an enterprise of one of `sizes` (the size follows
    from the code), different for each seed."""
    import random
    from datetime import date

    from integrations.platform.simulator.enterprises import credit_code_for, new_enterprise

    rng = random.Random(seed)
    while True:
        code = credit_code_for(rng)
        if new_enterprise(code, trade, "13698761234", None, date.today()).profile.size.value in sizes:
            return code


async def bind_enterprise(person: Chat, client, name: str, code: str) -> None:
    body = {"enterprise": {"name": name, "credit_code": code, "phone": "13698761234"}}
    resp = await client.post("/sim/platform/_admin/cases", json=body)  # the platform knows it from a case
    assert resp.status == 201, await resp.text()
    await person.say("企业绑定")
    assert "验证码已发送" in await person.say(code)
    texts = (await (await client.get(f"/sim/platform/_admin/enterprises/{code}/texts")).json())["items"]
    assert "绑定成功" in await person.say(texts[-1]["code"])


async def test_a_policy_for_small_restaurants_reaches_the_people_bound_to_one_without_an_id_number(bot, peer):
    """餐饮业 + 小微企业: matched on the enterprise each person bound, after 订阅政策 with 跳过."""
    small_restaurant, large_restaurant, small_tech = (
        Chat(bot, peer, f"oPolicyFirm{i}0000000000000000"[:28]) for i in range(3))
    firms = [(small_restaurant, "广安市川味餐饮管理有限公司", _code_for("川味餐饮管理有限公司", {"micro", "small"}, 1)),
             (large_restaurant, "广安市渠江餐饮管理有限公司", _code_for("渠江餐饮管理有限公司", {"medium", "large"}, 2)),
             (small_tech, "广安市思源科技有限公司", _code_for("思源科技有限公司", {"micro", "small"}, 3))]
    for person, name, code in firms:
        await bind_enterprise(person, bot, name, code)
        assert "身份证" in await person.say("订阅政策")
        assert "已为您订阅政策推送" in await person.say("跳过")
    zhang, li = Staffer(bot, "zhangsan"), Staffer(bot, "lisi")
    terms = parse_terms("餐饮业 + 小微企业")
    pid = (await write_policy(zhang, {**policy(), "title": "小微餐饮补贴", "rules": terms.rules}))["id"]
    shown = await zhang.ok("POST", f"/policies/{pid}/preview")
    assert shown["total"] == 1 and "住宿和餐饮业" not in shown["audience_text"] and "餐饮业" in shown["audience_text"]
    await zhang.ok("POST", f"/policies/{pid}/submit")
    await li.ok("POST", f"/policies/{pid}/approve")
    assert (await until_status(li, pid, "done"))["sent"] == 1
    got = [n for n in await notices(bot, small_restaurant.user) if "小微餐饮补贴" in n]
    assert len(got) == 1
    for person in (large_restaurant, small_tech):
        assert [n for n in await notices(bot, person.user) if "小微餐饮补贴" in n] == []


async def test_the_id_number_and_digits_said_aloud_give_consent(h, sims):
    """Recognition ends what it heard with 。: an ID number and 4 digits said aloud are taken."""
    someone = (await (await sims.get("/sim/platform/_admin/residents")).json())["items"][0]

    async def voice(recognition: str) -> str | None:
        return await h.message({"MsgType": "voice", "MediaId": "voice-media-1", "Format": "amr", "Recognition": recognition})

    assert "身份证" in await voice("订阅政策。")
    assert "手机号码后 4 位" in await voice(f"{someone['id_number']}。")
    done = await voice(f"{someone['phone'][-4:]}。")
    assert "已为您订阅政策推送" in done and someone["id_number"][-4:] in done


async def test_phone_digits_cannot_be_guessed_by_starting_consent_over_again(h, sims):
    """订阅政策 asks the platform whether 4 digits belong to an ID number, as 我的证照 does: the
    wrong tries count in one place, so starting over does not give fresh tries, and five wrong in
    ten minutes pause that ID number for this person in both (else anyone's phone digits could be
    found here and then open their licences)."""
    someone = (await (await sims.get("/sim/platform/_admin/residents")).json())["items"][1]
    right = someone["phone"][-4:]
    wrong = iter(f"{n:04d}" for n in range(20) if f"{n:04d}" != right)
    await h.say("订阅政策")
    await h.say(someone["id_number"])
    for _ in range(3):
        await h.say(next(wrong))
    assert "身份证" in await h.say("订阅政策")
    await h.say(someone["id_number"])
    assert "不一致" in await h.say(next(wrong))
    assert "暂停" in await h.say(next(wrong))  # the fifth
    await h.say("订阅政策")
    await h.say(someone["id_number"])
    paused = await h.say(right)
    assert "已为您订阅政策推送" not in paused and "暂停" in paused and "分钟" in paused
    assert "身份证号：" not in await h.say("我的授权")  # nothing was kept
    await h.say("我的证照")
    await h.say(someone["id_number"])
    assert "暂停" in await h.say(right)
