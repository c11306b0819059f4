"""What an operator relies on: health endpoints, logs without personal data, no dev console in production."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from bot.logs import setup_logging
from bot.stores.client import connect
from bot.settings import SettingsError, new_data_key
from tests.support import AES_KEY, Chat
from tests.support import wait_for
from tests.test_broadcasts import STAFF, TOKENS, WECOM
from tests.test_processes import Served, bot_env, free_port


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"


async def test_readiness_says_when_the_guides_have_loaded(client):
    """Ready (200) as soon as Redis answers: the bot answers while the catalog loads, and says
    so; operators and the benchmark wait for "loaded" before they send real questions."""
    deadline = asyncio.get_running_loop().time() + 90  # a first start encodes the catalog's texts
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


# Slow and idle clients, and the connection cap: `python -m bot serve` over raw sockets ----------

HALF_REQUEST = b"POST /wechat?signature=x HTTP/1.1\r\nHost: bot\r\nContent-Type: text/xml\r\n"  # no blank line: the headers never end


async def raw_connection(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def raw_get(reader, writer, path: str = "/healthz") -> bytes:
    """One keep-alive GET on an open connection; the answer's head and body."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bot\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])
    return head + await reader.readexactly(length)


@pytest.fixture
def served(redis_url, key_prefix, tmp_path, redis):
    """`python -m bot serve` with the given settings, on nothing but the test's connections: no
    workers, and a platform that is not there (so the bot never calls itself)."""
    started = []

    async def start(**settings) -> Served:
        env = bot_env(tmp_path, YWTB_REDIS_URL=redis_url, YWTB_KEY_PREFIX=key_prefix, YWTB_RUN_WORKERS="false",
                      YWTB_PLATFORM_URL="http://127.0.0.1:9", **{f"YWTB_{k.upper()}": str(v) for k, v in settings.items()})
        bot = Served(env, free_port())
        started.append(bot)
        await bot.ready()
        return bot

    yield start
    for bot in started:
        bot.stop()


@pytest.mark.slow  # a bot process and real timeouts
async def test_a_client_stalling_in_its_headers_or_body_or_idle_is_disconnected_in_time(served):
    bot = await served(http_header_timeout_seconds=1, http_body_timeout_seconds=1)
    slack = 10  # seconds beyond the configured time before the test gives up: a busy machine, not the bot
    started = asyncio.get_running_loop().time()
    reader, writer = await raw_connection(bot.port)
    writer.write(HALF_REQUEST)
    assert await asyncio.wait_for(reader.read(), 1 + slack) == b""  # closed, not held
    assert asyncio.get_running_loop().time() - started < 1 + slack

    reader, writer = await raw_connection(bot.port)  # headers whole, then half the body, then nothing
    writer.write(b"POST /platform/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\": ")
    answer = await asyncio.wait_for(reader.read(), 1 + slack)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]

    reader, writer = await raw_connection(bot.port)  # a body announced far past the limit: refused at once, not waited for
    writer.write(b"POST /wechat HTTP/1.1\r\nHost: bot\r\nContent-Type: text/xml\r\nContent-Length: 99999999999\r\n\r\n<")
    answer = await asyncio.wait_for(reader.read(), 1 + slack)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

    reader, writer = await raw_connection(bot.port)  # a finished request, then silence
    assert b" 200 " in await raw_get(reader, writer)
    assert await asyncio.wait_for(reader.read(), 1 + slack) == b""
    writer.close()


@pytest.mark.slow  # a bot process filled to its connection cap
async def test_connections_beyond_the_cap_are_refused_while_the_bot_goes_on_answering(served):
    cap = 6
    bot = await served(http_max_connections=cap, http_header_timeout_seconds=60)
    reader, writer = await raw_connection(bot.port)  # a client of the bot, already connected
    assert b" 200 " in await raw_get(reader, writer)
    stalled = [await raw_connection(bot.port) for _ in range(cap - 1)]
    for _, w in stalled:
        w.write(HALF_REQUEST)
    extra_reader, _ = await raw_connection(bot.port)  # one too many
    refused = await asyncio.wait_for(extra_reader.read(), 10)
    assert refused.startswith(b"HTTP/1.1 503") and b"Retry-After" in refused, refused[:200]
    assert b" 200 " in await raw_get(reader, writer)  # the bot still answers the clients it has
    metrics = await raw_get(reader, writer, "/metrics")
    assert re.search(rb"ywtb_connections_refused_total [1-9]", metrics) and b"ywtb_connections_open 6.0" in metrics
    _, w = stalled.pop()
    w.close()  # room again: a new client is served as soon as the bot has seen that one go

    async def served_anew():
        r, w = await raw_connection(bot.port)
        try:
            return b" 200 " in await raw_get(r, w)
        except (asyncio.IncompleteReadError, ConnectionError):
            return False
        finally:
            w.close()

    assert await wait_for(served_anew, timeout=10)


# Secrets: printed only in dev, never echoed, and strong ones required in production -------------

STRONG = "Zq83kLmN0pRs7TuV4wXy"  # 20 characters, many different


def production(make_settings, **overrides):
    values = dict(env="production", wechat_token=STRONG + "tok", wechat_aes_key=AES_KEY, wechat_secret=STRONG + "app",
                  platform_url="https://platform.example.gov.cn", platform_events_secret=STRONG + "evt", booking_data_key=new_data_key())
    values.update(overrides)
    return make_settings(**values)


def test_the_banner_shows_the_token_and_key_in_dev_only(make_settings, capsys):
    from bot.cli import _banner

    _banner(make_settings(wechat_token=STRONG))
    dev = capsys.readouterr().out
    assert STRONG in dev and AES_KEY in dev  # a developer pastes them into a test account's page
    _banner(production(make_settings, wechat_token=STRONG))
    shown = capsys.readouterr().out
    assert STRONG not in shown and AES_KEY not in shown
    assert "YWTB_WECHAT_TOKEN" in shown and "webhook URL" in shown


@pytest.mark.parametrize("name", ["wechat_aes_key", "wecom_aes_key", "booking_data_key"])
def test_a_malformed_key_is_named_in_the_error_never_echoed(make_settings, name):
    malformed = "Sekr3t-but-not-a-key-" + "x" * 20
    with pytest.raises(SettingsError) as refused:
        make_settings(**{name: malformed})
    message = str(refused.value)
    assert f"YWTB_{name.upper()}" in message
    assert malformed not in message and "Sekr3t" not in message


def test_production_refuses_weak_secrets_naming_each_setting_but_not_its_value(make_settings):
    staff = [{"userid": "zhangsan", "name": "张三", "roles": ["broadcaster"], "token": "tk9"}]
    weak = production(make_settings, wechat_token="Qx7", platform_events_secret="aaaaaaaaaaaaaaaaaaaaaaaa", staff=staff,
                      wecom_corpid="wwcorp0000000001", wecom_agentid=1000002, wecom_secret=STRONG, wecom_token=STRONG, wecom_aes_key=AES_KEY,
                      redis_url="redis://10.0.0.5:6379/0")
    with pytest.raises(SettingsError) as refused:
        weak.check_for_production()
    message = str(refused.value)
    for setting in ("YWTB_WECHAT_TOKEN", "YWTB_PLATFORM_EVENTS_SECRET", "zhangsan"):
        assert setting in message, message
    assert "YWTB_WECOM_TOKEN" not in message  # strong enough
    for value in ("Qx7", "aaaaaaaa", "tk9"):
        assert value not in message, message
    production(make_settings, staff=[{**staff[0], "token": STRONG}], wecom_corpid="wwcorp0000000001", wecom_agentid=1000002,
               wecom_secret=STRONG, wecom_token=STRONG, wecom_aes_key=AES_KEY, redis_url="redis://10.0.0.5:6379/0").check_for_production()


# The dev console --------------------------------------------------------------------------------


async def test_the_consoles_refuse_malformed_json_with_a_clear_400(serve):
    client = await serve(staff=STAFF, **WECOM)
    agent = {"Authorization": f"Bearer {TOKENS['zhaoliu']}", "Content-Type": "application/json"}
    for path, headers in (("/console/staff/api/handoff/accept", agent), ("/console/staff/api/handoff/reply", agent), ("/console/api/send", {})):
        for body in (b"{not json", b'{"text": "\xff\xfe"}', b'{"number": '):
            resp = await client.post(path, data=body, headers=headers)
            answer = await resp.json()
            assert resp.status == 400 and "JSON" in answer["error"], (path, body, resp.status, answer)


async def test_the_consoles_reach_the_bot_by_its_settings_not_by_the_host_a_caller_names(serve):
    """The console calls this bot's own webhook and simulator: from the settings. A Host header
    must not send those calls (and the signed messages) elsewhere."""
    client = await serve(staff=STAFF, **WECOM)
    elsewhere = {"Host": "127.0.0.1:9"}  # nothing listens there
    sent = await client.post("/console/api/send", json={"user": "oConsole0000000000000000001", "text": "4"}, headers=elsewhere)
    assert sent.status == 200 and "本区服务大厅" in (await sent.json())["reply"]
    pushed = await client.get("/console/api/pushed", params={"user": "oConsole0000000000000000001"}, headers=elsewhere)
    assert pushed.status == 200 and "messages" in await pushed.json()
    inbox = await client.get("/console/staff/api/handoff/inbox", headers={**elsewhere, "Authorization": f"Bearer {TOKENS['zhaoliu']}"})
    assert inbox.status == 200 and (await inbox.json())["messages"] == []


async def test_the_console_shows_a_pushed_menu_and_sends_a_tap_as_wechat_does(serve):
    """A msgmenu the bot pushed comes with its items (the page draws them as buttons), and a tap
    sent through the console reaches the bot as WeChat sends it: label plus bizmsgmenuid."""
    client = await serve(staff=STAFF, **WECOM, handoff_weekdays=[1, 2, 3, 4, 5, 6, 7], handoff_hours=["00:00-24:00"])
    user, agent = "oConsoleMenu00000000000001", {"Authorization": f"Bearer {TOKENS['zhaoliu']}"}
    queued = (await (await client.post("/console/api/send", json={"user": user, "text": "人工"})).json())["reply"]
    number = int(re.search(r"#(\d+)", queued).group(1))
    assert (await client.post("/console/staff/api/handoff/accept", json={"number": number}, headers=agent)).status == 200
    assert (await client.post("/console/staff/api/handoff/end", headers=agent)).status == 200
    messages = (await (await client.get("/console/api/pushed", params={"user": user})).json())["messages"]
    rating = messages[-1]
    assert "满意吗" in rating["text"] and [(i["id"], i["content"]) for i in rating["menu"]] == [("1", "满意"), ("2", "不满意")]
    assert all(m["menu"] == [] for m in messages[:-1])
    tap = await client.post("/console/api/send", json={"user": user, "text": "不满意", "menu_id": "2"})
    assert "哪里不满意" in (await tap.json())["reply"]  # a tap of 不满意 asks what went wrong
    bad = await client.post("/console/api/send", json={"user": user, "text": "x", "menu_id": "<b>"})
    assert bad.status == 400
