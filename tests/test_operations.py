"""What an operator relies on: health endpoints, logs without personal data, no dev console in production."""

from __future__ import annotations

import logging

from bot.app import create_app
from bot.logs import setup_logging
from bot.redis_client import connect
from tests.conftest import Chat


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"


async def test_not_ready_when_redis_is_unreachable(aiohttp_client, make_settings):
    dead = connect("redis://127.0.0.1:1/0", wait=0.5)
    client = await aiohttp_client(create_app(make_settings(), dead))
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 503
    await dead.aclose()


async def test_console_exists_in_dev_and_is_404_in_production(aiohttp_client, make_settings, redis):
    dev = await aiohttp_client(create_app(make_settings(env="dev"), redis))
    assert (await dev.get("/console")).status == 200
    prod = await aiohttp_client(create_app(make_settings(env="production"), redis))
    for path in ("/console", "/console/api/info", "/console/api/pushed?user=x"):
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
