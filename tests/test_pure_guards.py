"""Guards only read, and citizens and staff live in separate dialog registries.

Every condition of every dialog's table is run, in every state it is asked in, on a spread of
messages and session data, with services whose I/O ports (the platform, the stores, the hand-off
desk, broadcasts, even `render`) fail the test on any use. Only the read-only, in-memory ports
(a loaded catalog, the settings, the staff directory) are real. A guard must be a plain function
(no coroutine, nothing awaitable returned), touch no I/O port and leave the session's data as it
found it. What a guard needs from the world is fetched by the (trigger, state)'s prepare action
(dialogs.engine), which these guards then read.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import fields

import pytest

import dialogs  # noqa: F401  (registers every dialog)
from bot.search import MatterSearch
from bot.services.catalog import Catalog
from bot.services.staff import Staff, StaffMember
from bot.templating import Renderer
from dialogs.conversation import Conversation
from dialogs.engine import CITIZEN_DIALOGS, STAFF_DIALOGS, Dialog, Incoming, P, Services, Session, T
from dialogs.staff import StaffConversation, StaffServices
from integrations.platform.models import MatterPage
from integrations.platform.simulator.world import World

#: Dialogs whose guards may still write the session's data (none: every guard only reads). A
#: dialog named here is still checked for I/O.
STILL_WRITE_DATA: set[str] = set()

USER = "oGuards000000000000000000001"
TEXTS = ["1", "2", "3", "确认", "订阅", "退订", "刷新", "取消", "返回", "结束", "重新发送", "满意", "不满意", "非常满意",
         "张三", "110101199003074514", "13800138000", "123456", "1234", "44030019901234567890", "91350100M000100Y43",
         "护照", "我想预约办护照", "发通知", "队列", "接", "上线", "批准 3", "全部关注用户", "某个微信标签的用户", "随便说说", ""]
MESSAGES = [
    *(Incoming("wechat", USER, "text", text) for text in TEXTS),
    Incoming("wechat", USER, "location", extra={"lat": "30.45", "lng": "106.63"}),
    Incoming("wechat", USER, "click", "MENU_BOOK"),
    Incoming("wechat", USER, "image", extra={"media_id": "m1"}),  # a photo (补正, an agent)
    Incoming("wechat", USER, "file", extra={"media_id": "m2", "filename": "材料.pdf"}),
]
#: Session data as the dialogs leave it along the way (a booking half done, a list shown, ...).
RICH = {
    "query": "护照", "code": "", "candidates": [["x", "某事项", "某部门"]], "hall": "h", "location": [30.4, 106.6],
    "days": [["2030-01-07", 3], ["2030-01-08", 1]], "day": "2030-01-07", "slots": [["09:00", "09:30", 2]],
    "start": "09:00", "end": "09:30", "known": {"name": "张*", "id_number": "1101**", "phone": "138****"}, "applicant": "sealed",
    "remember": True, "draft": "d1", "chosen": [],
    "items": [{"id": "a1", "number": "N1", "matter_code": "x", "matter_name": "某事项", "hall_id": "h", "date": "2030-01-07",
               "start": "09:00", "end": "09:30"}],
    "item": {"id": "a1", "number": "N1", "matter_code": "x", "matter_name": "某事项", "hall_id": "h", "date": "2030-01-07",
             "start": "09:00", "end": "09:30"},
    "pending": "44030019901234567890", "case_no": "44030019901234567890", "choices": [["44030019901234567890", "某事项"]],
    "subscribed": False, "level": "satisfied", "rating_id": "r1", "mode": "again", "ticket": 3, "rate": True,
    "credit_code": "91350100M000100Y43", "verification": "v1", "attempts": 5, "wrong": 0,
    "title": "停水通知", "body": "明天停水", "kind": "tag", "tags": [[1, "企业", 3]], "bid": "b1",
    "answers": {}, "just_booked": True,
}
DATA = [{}, RICH]


class Touched(BaseException):
    """An I/O port was used (a BaseException, so that no `except Exception` in a guard hides it)."""


class Forbidden:
    """Stands for an I/O port: any use is recorded and fails."""

    def __init__(self, name: str, touched: list[str]):
        self._name, self._touched = name, touched

    def __getattr__(self, attr: str):
        self._touched.append(f"{self._name}.{attr}")
        raise Touched(f"{self._name}.{attr}")

    def __call__(self, *args, **kwargs):
        self._touched.append(f"{self._name}()")
        raise Touched(f"{self._name}()")


class _Loader:
    """The platform calls a catalog refresh makes, from the simulator's world."""

    def __init__(self, world: World):
        self.world = world

    async def matters_page(self, offset: int = 0, limit: int = 500) -> MatterPage:
        summaries = list(self.world.summaries.values())
        return MatterPage(items=summaries[offset:offset + limit], total=len(summaries), version="v1")

    async def all_matters(self):
        return list(self.world.summaries.values()), "v1"

    async def all_guides(self):
        return list(self.world.guides.values())

    async def halls(self):
        return list(self.world.halls.values())

    async def bundles(self):
        return list(self.world.bundles.values())

    async def bundle(self, code: str):
        return self.world.bundle_card(code)


_LOADED: list[Catalog] = []


@pytest.fixture
async def catalog() -> Catalog:
    """A loaded catalog (built once for the module: the index takes a moment)."""
    if not _LOADED:
        loaded = Catalog(_Loader(World.load()), MatterSearch.build)
        assert await loaded.refresh()
        _LOADED.append(loaded)
    return _LOADED[0]


STAFF = Staff([StaffMember(userid=USER, name="王芳", roles={"agent", "broadcaster", "approver"})])


def read_only_services(cls: type[Dialog], catalog: Catalog, settings, touched: list[str]):
    """Services where only the read-only ports are real; every I/O port is `Forbidden`."""
    if cls.name in STAFF_DIALOGS:
        return StaffServices(render=Forbidden("render", touched), staff=STAFF, handoff=Forbidden("handoff", touched),
                             settings=settings, broadcasts=Forbidden("broadcasts", touched))
    io = {f.name: Forbidden(f.name, touched) for f in fields(Services) if f.name not in ("halls", "catalog", "max_misses", "settings")}
    return Services(**io, halls=list(settings.halls), catalog=catalog, settings=settings)


def guards_by_state(cls: type[Dialog]) -> dict[tuple[str, str], list[str]]:
    """(trigger, state) -> the conditions asked there, in row order."""
    asked: dict[tuple[str, str], list[str]] = {}
    for trigger, event in cls.machine.events.items():
        for state, transitions in event.transitions.items():
            for trans in transitions:
                asked.setdefault((trigger, state), []).extend(c.func for c in trans.conditions)
    return asked


def impurities(cls: type[Dialog], catalog: Catalog, settings, writes_allowed: bool = False) -> tuple[list[str], set[str]]:
    """What the guards of `cls` did that a guard must not, and the guards that ran to the end at
    least once (a guard that always raised on the sample data was not really checked)."""
    found, ran = [], set()
    for (trigger, state), conditions in guards_by_state(cls).items():
        for name in dict.fromkeys(conditions):
            if inspect.iscoroutinefunction(getattr(cls, name)):
                found.append(f"{cls.name}.{name} is a coroutine: guards may not await")
                continue
            for incoming in MESSAGES:
                if incoming.kind != trigger and trigger not in ("start",):
                    continue
                for data in DATA:
                    touched: list[str] = []
                    turn = cls(state, copy.deepcopy(data), incoming, read_only_services(cls, catalog, settings, touched), [])
                    try:
                        result = getattr(turn, name)()
                    except Touched:
                        result = None
                    except Exception:  # noqa: BLE001  (a guard reading sample data it does not expect: not I/O)
                        result = None
                    else:
                        ran.add(name)
                        if inspect.isawaitable(result):
                            result.close()
                            found.append(f"{cls.name}.{name} returned an awaitable")
                        if not writes_allowed and turn.data != data:
                            found.append(f"{cls.name}.{name} in {state} on {incoming.text or incoming.kind!r} wrote the session's data")
                        if turn.replies:
                            found.append(f"{cls.name}.{name} in {state} said something")
                    if touched:
                        found.append(f"{cls.name}.{name} in {state} on {incoming.text or incoming.kind!r} used {touched[0]}")
    return sorted(set(found)), ran


ALL = {**CITIZEN_DIALOGS, **STAFF_DIALOGS}


@pytest.mark.parametrize("name", sorted(ALL))
async def test_every_guard_only_reads(name, catalog, settings):
    cls = ALL[name]
    found, ran = impurities(cls, catalog, settings, writes_allowed=name in STILL_WRITE_DATA)
    assert found == []
    asked = {c for conditions in guards_by_state(cls).values() for c in conditions}
    assert asked <= ran, f"never ran to the end on the samples: {sorted(asked - ran)}"


def _unregistered(namespace: dict) -> type[Dialog]:
    cls = type("Impure", (Dialog,), {"name": "test_impure", "STATES": ["a", "b"], **namespace})
    CITIZEN_DIALOGS.pop("test_impure")
    return cls


async def test_the_check_catches_a_guard_that_awaits_calls_a_port_or_writes_the_session(catalog, settings):
    async def awaits(self):
        return await self.services.platform.case("x")

    def calls(self):
        return self.services.bookings.unseal(self.incoming.user, "token") is not None

    def writes(self):
        self.data["picked"] = self.text
        return True

    def talks(self):
        self.say("menu/menu.j2")
        return False

    impure = _unregistered({
        "TRANSITIONS": [T("text", "a", "b", "awaits"), T("text", "a", "b", "calls"), T("text", "a", "b", "writes"),
                        T("text", "a", "b", "talks")],
        "awaits": awaits, "calls": calls, "writes": writes, "talks": talks,
    })
    found, _ = impurities(impure, catalog, settings)
    assert any("awaits is a coroutine" in f for f in found)
    assert any("calls in a on" in f and "used bookings.unseal" in f for f in found)
    assert any("writes in a on" in f and "wrote the session's data" in f for f in found)
    assert any("talks in a on" in f and "used render()" in f for f in found)


async def test_a_prepare_action_does_the_io_and_the_guard_reads_what_it_found():
    seen = []

    class Looked(Dialog):
        name = "test_looked"
        STATES = ["a", "found", "missing"]
        TRANSITIONS = [T("text", "a", "found", "was_found", "say_found"), T("text", "a", "missing", None, None)]
        PREPARE = [P("text", "a", "look_up")]
        __slots__ = ("_hit",)

        async def look_up(self):
            seen.append(("prepare", self.state))
            self._hit = self.text == "yes"

        def was_found(self):
            seen.append(("guard", self._hit))
            return self._hit

        def say_found(self):
            seen.append(("action", self.state))

    CITIZEN_DIALOGS.pop("test_looked")
    services = Services(render=lambda template, **context: template)
    for use_machine in (False, True):
        seen.clear()
        turn = Looked("a", {}, Incoming("wechat", USER, "text", "yes"), services, [])
        assert await (turn.fire_on_machine("text") if use_machine else turn.fire("text")) is True
        assert turn.state == "found" and seen == [("prepare", "a"), ("guard", True), ("action", "found")]
        seen.clear()
        turn = Looked("found", {}, Incoming("wechat", USER, "text", "yes"), services, [])
        await (turn.fire_on_machine("text") if use_machine else turn.fire("text"))
        assert seen == []  # no transition from this state: nothing is fetched


def test_a_table_may_not_await_before_its_last_action():
    async def fetch(self):
        pass

    with pytest.raises(TypeError, match="last action"):
        _unregistered({"TRANSITIONS": [T("text", "a", "b", None, ["fetch", "ask"])], "fetch": fetch})


# Two registries ----------------------------------------------------------------------------------


def test_citizen_and_staff_dialogs_are_registered_apart():
    assert set(CITIZEN_DIALOGS).isdisjoint(STAFF_DIALOGS)
    assert {"desk", "compose"} <= set(STAFF_DIALOGS)
    assert {"menu", "booking", "progress", "handoff", "rating"} <= set(CITIZEN_DIALOGS)


@pytest.mark.parametrize("staff_dialog", sorted(STAFF_DIALOGS))
async def test_a_citizen_session_naming_a_staff_dialog_gets_the_menu(staff_dialog, catalog):
    conversation = Conversation(Services(render=Renderer(), catalog=catalog))
    hello = Incoming("wechat", USER, "text", "你好")
    fresh_session, fresh = await conversation.step(None, hello)
    session, replies = await conversation.step(Session(staff_dialog, STAFF_DIALOGS[staff_dialog].STATES[-1], {"bid": "b1"}), hello)
    assert session.dialog == fresh_session.dialog == "menu"
    assert [r.text for r in replies] == [r.text for r in fresh]


@pytest.mark.parametrize("citizen_dialog", ["booking", "handoff", "progress", "menu"])
async def test_a_staff_session_naming_a_citizen_dialog_gets_the_desk(citizen_dialog):
    clerk = Staff([StaffMember(userid=USER, name="李明", roles=set())])
    conversation = StaffConversation(StaffServices(render=Renderer(), staff=clerk))
    helped = Incoming("wecom", USER, "text", "帮助")
    _, fresh = await conversation.step(None, helped)
    session, replies = await conversation.step(Session(citizen_dialog, CITIZEN_DIALOGS[citizen_dialog].STATES[0], {}), helped)
    assert session.dialog == "desk"
    assert [r.text for r in replies] == [r.text for r in fresh] and "李明" in replies[0].text


def test_the_diagrams_show_what_a_state_fetches_before_its_guards():
    from bot.dev.diagrams import mermaid

    booking = mermaid("booking")
    assert "text [confirmed_and_done]" in next(line for line in booking.splitlines() if "summary --> summary" in line)
    assert "note right of summary\n    text: first submit_or_load_other_day\n  end note" in booking
    assert "text: first check_talking" in mermaid("desk")  # staff dialogs are drawn too
