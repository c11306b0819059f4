"""Staff in WeCom for tests: settings for a WeCom app with agents, and an agent who chats through
the real /wecom callback (signed and encrypted like WeCom does) and reads the app messages the
bot sent them through the (simulated) WeCom API."""

from __future__ import annotations

from bot.services.audit import Audit
from bot.keys import Keys
from bot.dev.peer import WeComServerPeer

CORPID = "ww1234567890abcdef"
WECOM_TOKEN = "wec0mT0ken"
WECOM_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
AGENTID = 1000002

STAFF = [
    {"userid": "zhangsan", "name": "张三", "roles": ["agent"]},
    {"userid": "lisi", "name": "李四", "roles": ["agent"]},
    {"userid": "wangwu", "name": "王五", "roles": ["broadcaster"]},
]

#: A WeCom app with two agents and one broadcaster, agents on duty around the clock.
WECOM_SETTINGS = dict(
    wecom_corpid=CORPID, wecom_token=WECOM_TOKEN, wecom_aes_key=WECOM_AES_KEY, wecom_agentid=AGENTID,
    wecom_secret="wecom-s3cret", staff=STAFF, handoff_weekdays=[1, 2, 3, 4, 5, 6, 7], handoff_hours=["00:00-24:00"],
)


def wecom_peer(corpid: str = CORPID) -> WeComServerPeer:
    return WeComServerPeer(WECOM_TOKEN, WECOM_AES_KEY, corpid, AGENTID)


class StaffChat:
    """One staff member writing in the WeCom app."""

    def __init__(self, client, userid: str, peer: WeComServerPeer | None = None):
        self.client, self.userid, self.peer = client, userid, peer or wecom_peer()

    async def post(self, xml: str, **sign):
        signed = self.peer.sign(xml, **sign)
        resp = await self.client.post(signed.path, data=signed.body)
        return self.peer.read(resp.status, await resp.text())

    async def say(self, text: str, **kwargs) -> str | None:
        answer = await self.post(self.peer.text(self.userid, text, **kwargs))
        assert answer.status == 200, answer.body
        return answer.text

    async def inbox(self) -> list[str]:
        """The app messages the bot sent this staff member, oldest first."""
        resp = await self.client.get("/sim/wechat/_admin/messages", params={"openid": self.userid, "kind": "wecom"})
        return [m["content"] for m in (await resp.json())["messages"]]


async def audit_log(redis, settings) -> list[dict]:
    return await Audit(redis, Keys(settings.key_prefix)).read(count=10_000)
