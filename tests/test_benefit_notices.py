"""免申即享 (#18 item 4): a benefit the platform grants by itself reaches the people it concerns as
one notice saying what was granted, that nothing needs applying for, and how to query or object.

Through the real webhook: the binder binds in chat, the platform's signed benefit_granted event
comes to /platform/events, and the bot's own notifier worker sends the notice."""

from __future__ import annotations

import logging

from tests.support import Chat
from tests.test_notifier import notices, notices_count, settled
from tests.test_enterprise_desk import platform_reachable
from tests.test_subscriptions import CREDIT_CODE, bind, enterprise_case

BYSTANDER = "oUser0000000000000000000008"


async def grant(client, benefit_code: str, **holder) -> dict:
    resp = await client.post("/sim/platform/_admin/benefits", json={"benefit_code": benefit_code, **holder})
    assert resp.status in (200, 201), await resp.text()
    return await resp.json()


async def test_a_benefit_granted_to_an_enterprise_is_one_notice_to_each_binder(chat, client, redis, settings, caplog, app):
    await platform_reachable(app)
    await enterprise_case(client)  # the platform knows the enterprise from its case
    assert "绑定成功" in await bind(chat, client)
    colleague = Chat(client, chat.peer, "oUser0000000000000000000006")
    assert "绑定成功" in await bind(colleague, client)
    await Chat(client, chat.peer, BYSTANDER).say("你好")

    with caplog.at_level(logging.INFO):
        benefit = (await grant(client, "WGFH", credit_code=CREDIT_CODE))["event"]["benefit"]
        for person in (chat, colleague):
            received = await notices_count(client, person.user, 1)
            assert len(received) == 1
            notice = received[0]
            assert notice.startswith(f"【免申即享】{benefit['name']}") and "无需申请" in notice  # what, and nothing to apply for
            assert benefit["how_to_query"] in notice and benefit["how_to_object"] in notice  # how to query or object
        assert await settled(redis, settings)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    for person in (chat, colleague):
        assert len(await notices(client, person.user)) == 1  # one notice, not one per retry or worker
    assert await notices(client, BYSTANDER) == []
