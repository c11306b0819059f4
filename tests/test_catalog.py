"""The catalog follows the platform: a new catalog version means new search results and new
guide cards at once, never an answer kept from the version before."""

from __future__ import annotations

from bench.generator import MIX
from bot.services.catalog import Catalog
from bot.search import MatterSearch
from bot.templating import Renderer
from dialogs.conversation import Conversation
from dialogs.engine import Incoming, Services
from integrations.platform.models import MatterPage
from integrations.platform.simulator.world import World


class Platform:
    """The few platform calls a catalog refresh makes, over a catalog the test can change."""

    def __init__(self, world: World):
        self.summaries, self.guides, self.version = list(world.summaries.values()), dict(world.guides), "v1"
        self.hall_list = list(world.halls.values())

    def rename(self, code: str, name: str, version: str) -> None:
        self.summaries = [s.model_copy(update={"name": name}) if s.code == code else s for s in self.summaries]
        self.guides = {c: g.model_copy(update={"name": name}) if c == code else g for c, g in self.guides.items()}
        self.version = version

    async def matters_page(self, offset: int = 0, limit: int = 500) -> MatterPage:
        return MatterPage(items=self.summaries[offset:offset + limit], total=len(self.summaries), version=self.version)

    async def all_matters(self):
        return list(self.summaries), self.version

    async def all_guides(self):
        return list(self.guides.values())

    async def halls(self):
        return list(self.hall_list)

    async def bundles(self):
        return []


def build(summaries, guides, bundles, version):
    return MatterSearch.build(summaries, guides, bundles, version=version)


async def ask(conversation: Conversation, text: str) -> list[str]:
    _, replies = await conversation.step(None, Incoming(channel="wechat", user="oCatalog0000000000000000001", kind="text", text=text))
    return [r.text for r in replies]


async def test_a_new_version_changes_search_and_guide_card_at_once():
    platform = Platform(World.load())
    catalog = Catalog(platform, build)
    conversation = Conversation(Services(render=Renderer(), catalog=catalog))
    assert await catalog.refresh()
    card, follow_ups = await ask(conversation, "我要办护照")
    assert card.startswith("【普通护照签发】") and "回复序号了解更多" in follow_ups
    assert await ask(conversation, "我要办护照") == [card, follow_ups]  # the same for the next person
    code = catalog.search("我要办护照", top=1)[0].code

    platform.rename(code, "普通护照签发（新版）", "v2")
    assert await catalog.refresh()
    assert catalog.version == "v2"
    assert catalog.search("我要办护照", top=1)[0].name == "普通护照签发（新版）"
    new_card, new_follow_ups = await ask(conversation, "我要办护照")
    assert new_card.startswith("【普通护照签发（新版）】")
    assert new_card.replace("（新版）", "") == card and new_follow_ups == follow_ups


async def test_every_benchmark_question_gets_a_guide_card():
    catalog = Catalog(Platform(World.load()), build)
    conversation = Conversation(Services(render=Renderer(), catalog=catalog))
    await catalog.refresh()
    for text in MIX:
        replies = await ask(conversation, text)
        assert len(replies) == 2 and replies[0].startswith("【"), (text, replies)
