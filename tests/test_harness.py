"""The in-memory harness (tests/harness.py) keeps the promises dialog tests rely on: the answer
a person sees at once, the rest of a long answer pushed through the WeChat API, the session
as the store keeps it, and one conversation per person."""

from __future__ import annotations

import re

import tests.support  # noqa: F401  (registers the test-only dialogs: test_long)
from tests.support import pushed


async def test_a_long_answer_is_split_and_its_rest_pushed_as_over_http(make_harness):
    h = await make_harness(catalog=False)
    await h.put_session("test_long", "talking")
    first = await h.say("讲讲")
    assert first.startswith("第0行") and h.pushed  # as much as fits one passive reply, then pushes
    assert h.pushed == await pushed(h.sims, h.user)
    assert len(first.encode()) <= h.settings.passive_reply_max_bytes
    lines = [int(n) for n in re.findall(r"第(\d+)行", "\n".join([first, *h.pushed]))]
    assert lines == sorted(set(lines)) and lines[0] == 0  # in order, nothing said twice


async def test_the_session_is_what_the_last_turn_left(make_harness):
    h = await make_harness(catalog=False)
    assert await h.session() is None
    await h.say("4")
    session = await h.session()
    assert (session.dialog, session.state) == ("halls", "pick")
    await h.say("取消")
    assert (await h.session()).dialog == "menu"


async def test_people_talk_to_the_bot_separately(make_harness):
    h = await make_harness(catalog=False)
    other = h.as_user("oUser0000000000000000000009")
    await h.say("4")
    assert "请回复序号选择" in await other.say("菜单")
    assert (await h.session()).dialog == "halls"
    assert (await h.session(other.user)).dialog == "menu"


async def test_the_same_click_twice_is_two_clicks_not_a_retry(make_harness):
    h = await make_harness(catalog=False)
    assert "本区服务大厅" in await h.event("CLICK", "MENU_HALLS")
    await h.say("菜单")
    assert "本区服务大厅" in await h.event("CLICK", "MENU_HALLS")
