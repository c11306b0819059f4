"""The compiled dispatch (`Dialog.fire`) agrees with the transitions machine it is compiled from
(`Dialog.fire_on_machine`), for every registered dialog, every state and every trigger: same
result, same state, the same conditions asked in the same order, the same callback run (in the
new state), the same exception, the same warnings and errors logged.

No Redis, no bot: the dialogs' conditions and callbacks are replaced by stubs on a subclass."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random

import pytest

import dialogs  # noqa: F401  (registers every dialog)
import tests.support  # noqa: F401  (the tests' dialogs)
from dialogs.engine import CITIZEN_DIALOGS, STAFF_DIALOGS, Dialog, Incoming, Services, T
from dialogs.menu import Menu

SERVICES = Services(render=lambda template, **context: template)
INCOMING = Incoming("wechat", "u1", "text", "你好")
RAISE = object()  # a stubbed condition that raises
ODD = [1, 0, "yes", "", None, [], [1], 1.0]  # results that are not bools: compared == True, as transitions does
FULL_PRODUCT_UP_TO = 12  # conditions per (state, trigger); above, a sample of the combinations


class Boom(Exception):
    pass


class Probe:
    """What happened during one `fire`: the stubs append to `log`."""

    def __init__(self, values: dict, awaitable: bool, after_raises: bool):
        self.values, self.awaitable, self.after_raises = values, awaitable, after_raises
        self.log: list[tuple] = []


ALL_DIALOGS = {**CITIZEN_DIALOGS, **STAFF_DIALOGS}


def _names(cls: type[Dialog]) -> tuple[set[str], set[str]]:
    """The conditions, and the callbacks (after-callbacks and prepare actions), of `cls`'s table."""
    conditions, afters = set(), {row["prepare"] for row in cls.PREPARE}
    for event in cls.machine.events.values():
        for transitions in event.transitions.values():
            for trans in transitions:
                conditions.update(c.func for c in trans.conditions)
                afters.update(trans.after)
    return conditions, afters


def _probe_class(cls: type[Dialog]) -> type[Dialog]:
    """`cls` with every condition and callback of its table stubbed (a subclass without a
    name: not registered, same machine and compiled table)."""
    conditions, afters = _names(cls)
    # Actions before the last of a row are plain calls (dialogs.engine._check_actions).
    plain = {name for row in cls.TRANSITIONS if isinstance(row.get("after"), list) for name in row["after"][:-1]}
    namespace: dict = {}

    def condition(name):
        def stub(self):
            probe = self.probe
            probe.log.append(("condition", name, self.state))
            value = probe.values.get(name, False)
            if value is RAISE:
                raise Boom(name)
            if probe.awaitable:
                async def later():
                    await asyncio.sleep(0)
                    return value
                return later()
            return value
        return stub

    def after(name):
        def stub(self):
            probe = self.probe
            probe.log.append(("after", name, self.state))
            if probe.after_raises:
                raise Boom(name)
            if probe.awaitable and name not in plain:
                async def later():
                    await asyncio.sleep(0)
                    probe.log.append(("after done", name, self.state))
                return later()
            return None
        return stub

    for name in conditions:
        namespace[name] = condition(name)
    for name in afters:
        namespace[name] = after(name)
    return type(f"{cls.__name__}Probe", (cls,), namespace)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen: list[tuple] = []

    def emit(self, record):
        self.seen.append((record.name, record.levelname, record.getMessage()))


@pytest.fixture
def transitions_log():
    """What transitions' loggers (or the compiled dispatch in their name) report at WARNING+."""
    logger = logging.getLogger("transitions")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def _outcome(probe_cls, state, trigger, probe: Probe, use_machine: bool, records: _Records) -> tuple:
    model = probe_cls(state, {}, INCOMING, SERVICES, [])
    model.probe = probe
    records.seen.clear()
    try:
        result = await (model.fire_on_machine(trigger) if use_machine else model.fire(trigger))
    except Exception as exc:  # noqa: BLE001  (compared below)
        result = ("raised", type(exc).__name__, str(exc))
    return result, model.state, probe.log, list(records.seen)


def _combinations(conditions: list[str], seed: str):
    """Every True/False assignment (a sample of them for big tables), then the odd values and a
    raising condition, one condition at a time."""
    if len(conditions) <= FULL_PRODUCT_UP_TO:
        for bits in itertools.product((False, True), repeat=len(conditions)):
            yield dict(zip(conditions, bits)), False
    else:
        rnd = random.Random(seed)
        for _ in range(2048):
            yield {c: rnd.random() < 0.3 for c in conditions}, False
    for name in conditions:
        for value in [*ODD, RAISE]:
            yield {name: value}, False
    # A raising callback, for whichever candidate wins: each condition alone, or none.
    yield {}, True
    for name in conditions:
        yield {name: True}, True


async def disagreements(cls: type[Dialog], records: _Records) -> list[str]:
    """Where `fire` and `fire_on_machine` differ for `cls`, over every (state, trigger)."""
    probe_cls = _probe_class(cls)
    found = []
    triggers = [*cls.machine.events, "no_such_trigger"]
    for trigger, state in itertools.product(triggers, [*cls.STATES, "no_such_state"]):
        event = cls.machine.events.get(trigger)
        conditions = sorted({c.func for t in (event.transitions.get(state, []) if event else []) for c in t.conditions})
        for (values, after_raises), awaitable in itertools.product(_combinations(conditions, f"{cls.name}{trigger}{state}"), (False, True)):
            want = await _outcome(probe_cls, state, trigger, Probe(values, awaitable, after_raises), True, records)
            got = await _outcome(probe_cls, state, trigger, Probe(values, awaitable, after_raises), False, records)
            if got != want:
                found.append(f"{cls.name} {state} --{trigger}--> {values} awaitable={awaitable} after_raises={after_raises}: machine {want}, compiled {got}")
                if len(found) > 5:
                    return found
    return found


@pytest.mark.parametrize("name", sorted(ALL_DIALOGS))
async def test_compiled_dispatch_agrees_with_the_machine(name, transitions_log):
    cls = ALL_DIALOGS[name]
    assert cls.compiled is not None, f"dialog {name} falls back to the machine (see dialogs.engine._compile)"
    assert await disagreements(cls, transitions_log) == []


async def test_the_comparison_sees_candidates_in_the_wrong_order(monkeypatch, transitions_log):
    reversed_table = {trigger: {state: row if isinstance(row, str) else row[::-1] for state, row in rows.items()}
                      for trigger, rows in Menu.compiled.items()}
    monkeypatch.setattr(Menu, "compiled", reversed_table)
    assert await disagreements(Menu, transitions_log) != []


async def test_the_comparison_sees_a_wrong_dest(monkeypatch, transitions_log):
    table = {trigger: dict(rows) for trigger, rows in Menu.compiled.items()}
    cond, target, _dest, after = table["start"]["idle"][0]
    table["start"]["idle"] = ((cond, target, "idle", after), *table["start"]["idle"][1:])
    monkeypatch.setattr(Menu, "compiled", table)
    assert await disagreements(Menu, transitions_log) != []


def _unregistered(cls_name: str, namespace: dict) -> type[Dialog]:
    cls = type(cls_name, (Dialog,), namespace)
    CITIZEN_DIALOGS.pop(namespace["name"])
    return cls


async def test_a_table_the_compiler_does_not_cover_goes_through_the_machine():
    calls = []
    Before = _unregistered("Before", {
        "name": "test_before", "STATES": ["a", "b"],
        "TRANSITIONS": [{**T("text", "a", "b", "ok", "done"), "before": "getting_ready"}],
        "ok": lambda self: True, "getting_ready": lambda self: calls.append(("before", self.state)),
        "done": lambda self: calls.append(("after", self.state)),
    })
    assert Before.compiled is None
    turn = Before("a", {}, INCOMING, SERVICES, [])
    assert await turn.fire("text") is True
    assert turn.state == "b" and calls == [("before", "a"), ("after", "b")]


def _sleeper_class(name: str, body) -> type[Dialog]:
    return _unregistered(f"Sleeper{name}", {"name": f"test_{name}", "STATES": ["a", "b"], "TRANSITIONS": [T("text", "a", "b", None, "act")], "act": body})


@pytest.mark.parametrize("use_machine", [True, False])
async def test_a_turn_cancelled_in_a_callback_raises(use_machine):
    async def act(self):
        await asyncio.sleep(10)

    turn = _sleeper_class("cancelled", act)("a", {}, INCOMING, SERVICES, [])
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await (turn.fire_on_machine("text") if use_machine else turn.fire("text"))
    assert turn.state == "b"


@pytest.mark.parametrize("use_machine", [True, False])
async def test_a_cancelled_error_not_from_the_turns_cancellation_is_no_match(use_machine):
    async def act(self):
        other = asyncio.ensure_future(asyncio.sleep(10))
        other.cancel()
        await other  # raises CancelledError; this turn's task was not cancelled

    turn = _sleeper_class("stray", act)("a", {}, INCOMING, SERVICES, [])
    assert await (turn.fire_on_machine("text") if use_machine else turn.fire("text")) is False


@pytest.mark.parametrize("use_machine", [True, False])
async def test_a_nested_event_lets_a_stray_cancelled_error_through(use_machine):
    seen = []

    async def inner_act(self):
        other = asyncio.ensure_future(asyncio.sleep(10))
        other.cancel()
        await other

    Inner = _sleeper_class("inner", inner_act)

    async def outer_act(self):
        inner = Inner("a", {}, INCOMING, SERVICES, [])
        try:
            await (inner.fire_on_machine("text") if use_machine else inner.fire("text"))
        except asyncio.CancelledError:
            seen.append("nested raised")
            raise

    turn = _sleeper_class("outer", outer_act)("a", {}, INCOMING, SERVICES, [])
    assert await (turn.fire_on_machine("text") if use_machine else turn.fire("text")) is False
    assert seen == ["nested raised"]
