"""Every user-facing text renders, in Chinese, from templates/."""

from __future__ import annotations

import re

from bot.search import Hit
from bot.settings import Hall
from bot.templating import TEMPLATES_DIR, Renderer
from dialogs.matters import FOLLOW_UPS, questions_for
from dialogs.menu import OPTIONS
from integrations.platform.simulator import World

HALL = Hall(name="区政务服务中心", address="人民路 188 号", hours="9:00-17:00", phone="021-1", transit="地铁 2 号线")

WORLD = World.load()
GUIDE = next(g for g in WORLD.guides.values() if g.name.startswith("居民身份证办理"))
PLATFORM_HALLS = [WORLD.halls[h] for h in GUIDE.halls]

#: Sample values for templates that need them; every other template takes none.
CONTEXTS = {
    "matters/candidates.j2": {"hits": [Hit(code=GUIDE.code, name=GUIDE.name, department=GUIDE.department, score=1.0)]},
    "matters/not_found.j2": {"query": "天气"},
    "matters/card.j2": {"guide": GUIDE, "halls": PLATFORM_HALLS},
    "matters/follow_ups.j2": {"follow_ups": FOLLOW_UPS.values()},
    "matters/question.j2": {"question": questions_for(GUIDE)[0]},
    "matters/materials.j2": {"guide": GUIDE, "materials": GUIDE.materials, "situations": ["首次申领"]},
    "matters/process.j2": {"guide": GUIDE},
    "matters/where.j2": {"guide": GUIDE, "halls": PLATFORM_HALLS},
    "matters/booking_soon.j2": {"guide": GUIDE},
    "matters/online.j2": {"guide": GUIDE},
    "matters/no_guide.j2": {"matter": WORLD.summaries[GUIDE.code]},
    "menu/menu.j2": {"options": OPTIONS},
    "halls/pick.j2": {"halls": [HALL]},
    "halls/detail.j2": {"hall": HALL},
    "common/help.j2": {"in_dialog": True},
    "common/miss.j2": {"misses": 2},
    "common/cancelled.j2": {"title": "服务大厅"},
    "common/coming_soon.j2": {"title": "办事指南"},
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_template_renders_to_chinese_text():
    render = Renderer()
    names = sorted(p.relative_to(TEMPLATES_DIR).as_posix() for p in TEMPLATES_DIR.rglob("*.j2"))
    assert names and set(names) == set(render.templates)
    for name in names:
        text = render(name, **CONTEXTS.get(name, {}))
        assert CJK.search(text), f"{name} rendered no Chinese text: {text!r}"
        assert len(text.encode()) < 2048, name


def test_templates_say_what_their_values_are():
    render = Renderer()
    assert "人民路 188 号" in render("halls/detail.j2", hall=HALL)
    assert "4. 服务大厅地址和时间" in render("menu/menu.j2", options=OPTIONS)
