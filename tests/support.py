"""What tests import: the test bot's credentials, `Chat` (a person over the real webhook), dialogs
that exist only in tests to make the dispatcher's guarantees observable, and helpers that wait
on conditions. Fixtures are in tests/conftest.py, which nothing imports."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from bot.dev.peer import WeChatServerPeer
from dialogs.engine import Dialog, Reply, T

TOKEN = "t0ken"
APPID = "wx1234567890abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ROOT = Path(__file__).resolve().parent.parent  # the repository
WAIT_MS = 5_000  # how long a browser test waits for what the page should show


class Chat:
    """A person chatting through the real webhook, like WeRoBot's WeTest but over HTTP.

    Like the real WeChat, it tells the (simulated) WeChat API that the person wrote, which opens
    the window in which the bot may push customer-service messages to them."""

    def __init__(self, client, peer: WeChatServerPeer, user: str = "oUser0000000000000000000001", encrypt: bool | None = None):
        self.client, self.peer, self.user, self.encrypt = client, peer, user, encrypt

    async def post(self, xml: str, **sign):
        (await self.client.post("/sim/wechat/_admin/interactions", json={"openid": self.user})).release()
        signed = self.peer.sign(xml, encrypt=self.encrypt, **sign)
        resp = await self.client.post(signed.path, data=signed.body)
        return self.peer.read(resp.status, await resp.text())

    async def say(self, text: str, **kwargs) -> str | None:
        answer = await self.post(self.peer.text(self.user, text, **kwargs))
        assert answer.status == 200, answer.body
        return answer.text

    async def event(self, event: str, key: str = "") -> str | None:
        answer = await self.post(self.peer.event(self.user, event, key))
        assert answer.status == 200, answer.body
        return answer.text


class Ledger(Dialog):
    """Records every text it is given, in the order turns are applied; "slow…" takes a while,
    "hold:<name>" until the test calls `release(name)` (in any process on this machine).
    A text the bot reads as junk or small talk never reaches it (dialogs.smalltalk): a name made
    of random letters carries Chinese words too (稍等), so it is never taken for a key mashed."""

    name = "test_ledger"
    STATES = ["recording"]
    TRANSITIONS = [T("text", "recording", "recording", None, "record")]

    async def record(self):
        if self.text.startswith("slow"):
            await asyncio.sleep(float(self.text[4:] or 0.3))
        if self.text.startswith("hold:"):
            while not released(self.text[5:]):
                await asyncio.sleep(0.02)
        if self.text.startswith("bounded"):  # a step with its own time limit, as platform calls have
            try:
                async with asyncio.timeout(0.1):
                    await asyncio.sleep(float(self.text[7:] or 1))
            except TimeoutError:
                self.replies.append(Reply("等太久了，先不等了"))
        seen = self.data.setdefault("seen", [])
        seen.append(self.text)
        self.replies.append(Reply(f"第{len(seen)}条:{self.text}"))


class Long(Dialog):
    name = "test_long"
    STATES = ["talking"]
    TRANSITIONS = [T("text", "talking", "talking", None, "lecture")]

    def lecture(self):
        self.replies.append(Reply("\n".join(f"第{i}行：" + "很长的说明" * 20 for i in range(60))))


def _release_file(name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"ywtb-test-release-{name}"


def release(name: str) -> None:
    """Let every "hold:<name>" turn go on, now and later."""
    _release_file(name).touch()


def released(name: str) -> bool:
    return _release_file(name).exists()


def forget_release(name: str) -> None:
    _release_file(name).unlink(missing_ok=True)


async def put_session(redis, settings, user: str, dialog: str, state: str, data: dict | None = None) -> None:
    body = {"dialog": dialog, "state": state, "data": data or {}, "updated_at": 0}
    await redis.set(f"{settings.key_prefix}sess:{{{user}}}", json.dumps(body), ex=600)


async def get_session(redis, settings, user: str) -> dict | None:
    raw = await redis.get(f"{settings.key_prefix}sess:{{{user}}}")
    return json.loads(raw) if raw else None


async def pushed(client, user: str) -> list[str]:
    """The texts the bot pushed to `user` through the (simulated) WeChat API, oldest first."""
    resp = await client.get("/sim/wechat/_admin/messages", params={"openid": user, "kind": "custom"})
    return [m["content"] for m in (await resp.json())["messages"]]


async def wait_for(predicate, timeout: float = 5.0, every: float = 0.05):
    """Poll an async predicate until it returns something truthy (bounded)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = await predicate()
        if value or loop.time() > end:
            return value
        await asyncio.sleep(every)


async def received(client, user: str, path: str = "/sim/wechat") -> list[str]:
    """Everything the (simulated) WeChat delivered to `user` outside a conversation, oldest
    first, as the person reads it: customer-service texts, and template messages' title and
    remark. `client` reaches the simulator at `path`."""
    resp = await client.get(f"{path}/_admin/messages", params={"openid": user})
    texts = []
    for m in (await resp.json())["messages"]:
        content = m["content"]
        if isinstance(content, dict):
            data = content.get("data", content)
            content = "\n".join(str(field.get("value", "")) for name, field in data.items() if isinstance(field, dict) and name in ("first", "remark"))
        texts.append(content)
    return texts


def person(n: int) -> dict:
    """A realistic applicant with a valid ID number (check digit and all), different for each n."""
    import random

    from integrations.platform.simulator.world import person_for

    return person_for(random.Random(f"booking-{n}"))


async def open_card(chat, name: str) -> str:
    """The guide card of the matter `name` names: typed, and picked from the list when the search
    offers several."""
    card = await chat.say(name)
    if "【" not in card:
        card = await chat.say([line for line in card.splitlines() if name in line][0].split(".")[0])
    return card


async def to_question(chat, name: str, asked: str, answer: str = "否", tries: int = 6) -> str:
    """The card of the matter `name` names, then 材料清单, each situation question answered
    `answer` until the one that says `asked` is on screen: that reply."""
    await open_card(chat, name)
    reply = await chat.say("材料清单")
    for _ in range(tries):
        if asked in reply:
            break
        reply = await chat.say(answer)
    assert asked in reply, reply
    return reply
