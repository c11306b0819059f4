"""What an operator relies on: health endpoints, logs without personal data, no dev console in production."""

from __future__ import annotations

import asyncio

import logging

from bot.logs import setup_logging
from bot.stores.client import connect
from tests.conftest import Chat


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"


async def test_readiness_says_when_the_guides_have_loaded(client):
    """Ready (200) as soon as Redis answers: the bot answers while the catalog loads, and says
    so; operators and the benchmark wait for "loaded" before they send real questions."""
    deadline = asyncio.get_running_loop().time() + 30
    states = []
    while asyncio.get_running_loop().time() < deadline:
        ready = await client.get("/readyz")
        assert ready.status == 200
        states.append((await ready.json())["catalog"])
        if states[-1] == "loaded":
            break
        await asyncio.sleep(0.1)
    assert states[-1] == "loaded" and set(states) <= {"loading", "loaded"}


async def test_not_ready_when_redis_is_unreachable(serve):
    dead = connect("redis://127.0.0.1:1/0", wait=0.5)
    client = await serve(dead)
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 503
    await dead.aclose()


async def test_console_and_simulators_exist_in_dev_and_are_404_in_production(serve):
    dev = await serve(env="dev")
    assert (await dev.get("/console")).status == 200
    assert (await dev.get("/sim/platform/halls")).status == 200
    prod = await serve(env="production")
    for path in ("/console", "/console/api/info", "/console/api/pushed?user=x", "/sim/platform/halls", "/sim/wechat/_admin/stats"):
        assert (await prod.get(path)).status == 404
    assert (await prod.post("/console/api/send", json={"user": "x", "text": "hi"})).status == 404


async def test_logs_never_carry_openids_or_personal_numbers(client, peer, capfd):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging("DEBUG", json=True)
    try:
        user = "oAbCdEfGhIjKlMnOpQrStUvWxYz1"
        chat = Chat(client, peer, user)
        await chat.say("我的身份证 110101199003074514 手机 13812345678")
        await chat.say("4")
        logging.getLogger("test").info("reporting %s and %s", user, "13900001111")
    finally:
        root.handlers[:], root.level = saved
    err = capfd.readouterr().err
    assert "wechat text from u_" in err  # the user is there, as a hash
    for secret in (user, "110101199003074514", "13812345678", "13900001111"):
        assert secret not in err


async def test_the_garbage_collector_runs_with_the_configured_thresholds_and_gets_its_own_back(aiohttp_server, make_settings, redis):
    import gc

    import pytest

    from bot.app import create_app
    from bot.settings import Settings

    before = gc.get_threshold()
    server = await aiohttp_server(create_app(make_settings(gc_thresholds=[5000, 20, 30]), redis))
    assert gc.get_threshold() == (5000, 20, 30)  # while the bot runs
    await server.close()
    assert gc.get_threshold() == before  # a process that goes on (tests) has Python's again
    with pytest.raises(ValueError, match="gc_thresholds"):
        Settings(gc_thresholds=[0, 10, 10])
