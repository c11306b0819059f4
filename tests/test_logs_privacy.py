"""No full ID number, phone number or openid ever reaches the logs, and every log line can be
traced to the request that caused it, late replies and queued case events included.

The conversations run against a real `python -m bot serve` process logging JSON at DEBUG (every
library's chatter included) to a file, which is then searched for each secret in every form a
person types it. The redactor behind the logs (bot/logs.py) is the second line of defence; its
own cases come first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import time

import aiohttp
import pytest

from bot.logs import redact, setup_logging
from integrations.platform.events import sign_event
from tests.support import put_session
from tests.support import Chat
from tests.test_faults import EVENTS_SECRET, Bot, Remote, _records, bot_env, wechat_simulator

ID_NUMBERS = ["110101199003074514", "44030419851212002X", "32010619780513361x", "110101900307451"]
PHONES = ["13812345678", "15900001111", "19912340000"]
OPENIDS = ["oAbCdEfGhIjKlMnOpQrStUvWxYz1", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "oPrivacy-Test_000000000001"]


def typed_forms(id_number: str | None = None, phone: str | None = None) -> list[str]:
    """How people write them."""
    if id_number:
        if len(id_number) == 15:
            return [id_number]
        return [id_number, f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}", f"{id_number[:6]}-{id_number[6:14]}-{id_number[14:]}"]
    return [phone, f"+86{phone}", f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}", f"0086{phone}"]


def leaks(text: str) -> list[str]:
    """Every secret above found in `text`, in any typed form or as bare digits."""
    digits_only = re.sub(r"[ +\-]", "", text)
    found = []
    for value in ID_NUMBERS + PHONES + OPENIDS:
        if value in text or value.upper() in text or (value.isalnum() and value in digits_only):
            found.append(value)
    for value in ID_NUMBERS:
        found += [form for form in typed_forms(id_number=value) if form in text]
    for value in PHONES:
        found += [form for form in typed_forms(phone=value) if form in text]
    return found


# The redactor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [f for i in ID_NUMBERS for f in typed_forms(id_number=i)] + [f for p in PHONES for f in typed_forms(phone=p)] + OPENIDS)
def test_the_redactor_masks_every_form_people_type(secret):
    for text in (secret, f"我的是{secret}，谢谢", f"id={secret}&x=1", f'{{"v": "{secret}"}}'):
        assert not leaks(redact(text)), redact(text)


def test_a_bank_card_or_passport_number_told_as_one_is_masked_in_logs():
    line = redact("text 我的银行卡6222 0212 3456 7890 123丢了 护照号E12345678 my passport number is G87654321")
    assert "7890" not in line and "E1234" not in line and "G8765" not in line and "0123" in line and "5678" in line, line


def test_numbers_that_are_not_personal_stay_readable():
    line = "case 51160220261128100001 msg 24123456789012345678 at 1795852288123 hall 021-12345678"
    assert redact(line) == line


def test_nothing_personal_survives_in_messages_arguments_extras_or_tracebacks(capfd):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging("DEBUG", json=True)
    try:
        log = logging.getLogger("privacy")
        log.info("user %s phone %s", OPENIDS[0], "+86 138 1234 5678")
        log.warning("applicant", extra={"detail": {"id_number": ID_NUMBERS[0], "phones": [PHONES[1]]}, "who": OPENIDS[1]})
        try:
            raise ValueError(f"bad id {ID_NUMBERS[1]} for {OPENIDS[2]}")
        except ValueError:
            log.exception("lookup failed")
    finally:
        root.handlers[:], root.level = saved
    err = capfd.readouterr().err
    assert "applicant" in err and "lookup failed" in err and "110101********4514" in err
    assert not leaks(err), leaks(err)


# A real process, real conversations -------------------------------------------------------------

CONVERSATIONS = [
    # the matters search is handed whole sentences with numbers in them
    ["你好", "1", f"我的身份证{ID_NUMBERS[0]}丢了 电话{typed_forms(phone=PHONES[0])[2]}", "菜单"],
    # booking and progress ask for exactly these
    ["2", ID_NUMBERS[1], PHONES[1], "张三", "1", "1", "取消"],
    ["3", "51160220261128100001", ID_NUMBERS[2], "5678", typed_forms(phone=PHONES[2])[1], "菜单"],
    ["人工", f"我的手机是{typed_forms(phone=PHONES[0])[3]}，身份证{typed_forms(id_number=ID_NUMBERS[0])[1]}", "取消"],
    ["5", ID_NUMBERS[3], "菜单"],
]


@pytest.mark.slow  # a bot process
async def test_no_personal_data_in_a_real_bots_logs(tmp_path, key_prefix, redis_url, redis, peer, children):
    wechat = await wechat_simulator(children, tmp_path)
    bot = Bot(children, tmp_path, bot_env(tmp_path, redis_url, key_prefix, wechat, YWTB_LOG_LEVEL="DEBUG"), "privacy")
    await bot.ready()
    sent = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        remote = Remote(http, bot.base, wechat)
        for openid, script in zip(OPENIDS * 2, CONVERSATIONS):
            chat = Chat(remote, peer, openid)
            for text in script:
                answer = await chat.post(peer.text(openid, text))
                assert answer.status == 200
                sent += 1
            assert (await chat.post(peer.event(openid, "subscribe"))).status == 200
        # refused requests log why: none of it may carry what was in them
        for body in (f"<xml><FromUserName>{OPENIDS[0]}</FromUserName><Content>{ID_NUMBERS[0]}",
                     f"<!DOCTYPE x><xml><FromUserName>{OPENIDS[1]}</FromUserName><Content>{PHONES[0]}</Content></xml>"):
            signed = peer.sign(body, encrypt=False)
            async with http.post(bot.base + signed.path + f"&openid={OPENIDS[0]}", data=signed.body.decode()) as resp:
                assert resp.status == 400
        event = json.dumps({"id": "evt_privacy", "type": "accepted", "case_no": ID_NUMBERS[0], "at": "x", "phone": PHONES[0]}).encode()
        ts = str(int(time.time()))
        async with http.post(bot.base + "/platform/events", data=event, headers={
                "X-Ywtb-Timestamp": ts, "X-Ywtb-Signature": sign_event(EVENTS_SECRET, ts, event)}) as resp:
            assert resp.status == 400
    bot.child.signal(signal.SIGTERM)
    await asyncio.to_thread(bot.child.wait, 20)
    log = bot.child.log()
    records = _records(log)
    assert len(records) > 20 and sent >= 20
    assert not leaks(log), leaks(log)
    assert all("request_id" in r for r in records)


# Request ids carried into what happens later --------------------------------------------------


@pytest.mark.slow  # a bot process
async def test_a_late_reply_is_logged_under_the_request_that_asked_for_it(tmp_path, key_prefix, redis_url, redis, peer, children):
    wechat = await wechat_simulator(children, tmp_path)
    bot = Bot(children, tmp_path, bot_env(tmp_path, redis_url, key_prefix, wechat, YWTB_DEADLINE_SECONDS="0.3"), "late")
    await bot.ready()
    user = OPENIDS[2]
    await put_session(redis, type("S", (), {"key_prefix": key_prefix}), user, "test_ledger", "recording")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        chat = Chat(Remote(http, bot.base, wechat), peer, user)
        signed = peer.sign(peer.text(user, "slow1.0"))
        await chat.client.post("/sim/wechat/_admin/interactions", json={"openid": user})
        async with http.post(bot.base + signed.path, data=signed.body, headers={"X-Request-Id": "req-late-0001"}) as resp:
            assert resp.status == 200 and await resp.text() == "success"
        # a caller's id that could forge log text is replaced, not written
        async with http.post(bot.base + "/platform/events", data=b"{}", headers={"X-Request-Id": 'x" "level": "ERROR'}) as resp:
            assert resp.status == 403
        await asyncio.sleep(1.5)
    bot.child.signal(signal.SIGTERM)
    await asyncio.to_thread(bot.child.wait, 20)
    records = _records(bot.child.log())
    mine = [r for r in records if r.get("request_id") == "req-late-0001"]
    messages = " | ".join(r["message"] for r in mine)
    assert "wechat text from u_" in messages and ": late" in messages
    assert "pushed 1 message(s) to u_" in messages, messages  # the late push, seconds later, same id
    assert not any('"level": "ERROR' in r.get("request_id", "") for r in records)


async def test_a_case_event_carries_its_request_id_into_the_queue(client, redis, settings):
    body = json.dumps({"id": "evt_rid_1", "type": "accepted", "case_no": "51160220261128100001", "at": "2026-11-28T09:00:00+08:00",
                       "matter_name": "居民身份证办理", "department": "区公安分局"}).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Ywtb-Timestamp": ts, "X-Request-Id": "req-event-0001",
               "X-Ywtb-Signature": sign_event("events-s3cret", ts, body)}
    assert (await client.post("/platform/events", data=body, headers=headers)).status == 202
    [(_, fields)] = await redis.xrange(f"{settings.key_prefix}events")
    assert fields[b"rid"] == b"req-event-0001"  # the notifier sets it as its request id (see docs/reliability.md)


