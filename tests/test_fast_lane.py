"""The webhook's fast lane (`bot.app.install_fast_lane`): POST /wechat skips the router and the
middleware chain. Whatever a request is, the bot must answer it exactly as the routed app does:
two bots on one Redis, one with the lane (as `python -m bot serve` runs) and one without, get
the same requests and must give the same answers."""

from __future__ import annotations

import pytest

from bot.app import create_app
from tests.conftest import Chat
from tests.test_channel_security import query


@pytest.fixture
async def pair(aiohttp_client, aiohttp_server, bot_server, make_settings, redis):
    settings = make_settings()
    fast = await aiohttp_client(await bot_server(create_app(settings, redis), port=settings.port))  # its simulators serve both
    routed = await aiohttp_client(await aiohttp_server(create_app(settings, redis)))
    return routed, fast


async def both(pair, path: str, body: bytes | str = b"", method: str = "POST", **headers):
    answers = []
    for client in pair:
        data = body.encode() if isinstance(body, str) else body
        resp = await client.request(method, path, data=data if method == "POST" else None, headers=headers)
        answers.append((resp.status, await resp.text(errors="replace")))
    return answers


def wechat(**params) -> str:
    from urllib.parse import urlencode

    return "/wechat?" + urlencode(params)


async def test_refusals_are_the_same_with_and_without_the_fast_lane(pair, settings):
    cases = [
        wechat(),  # no signature at all
        wechat(**{**query(), "signature": "0" * 40}),  # forged
        wechat(**query(timestamp=1)),  # stale
        wechat(**query(nonce="bad nonce!")),
    ]
    for path in cases:
        routed, fast = await both(pair, path, "<xml></xml>")
        assert routed == fast and routed[0] == 403, path
    malformed = await both(pair, wechat(**query()), "<xml><MsgType>text")
    assert malformed[0] == malformed[1] and malformed[0][0] == 400
    huge = await both(pair, wechat(**query()), b"<xml>" + b"a" * (settings.max_body_bytes + 10) + b"</xml>")
    assert huge[0][0] == huge[1][0] == 413


async def test_the_rest_of_the_app_is_routed_as_before(pair):
    verify = await both(pair, wechat(**query(), echostr="hello"), method="GET")  # the admin page's URL check
    assert verify[0] == verify[1] == (200, "hello")
    assert [s for s, _ in await both(pair, "/healthz", method="GET")] == [200, 200]
    assert [s for s, _ in await both(pair, "/wechat/", "<xml/>")] == [404, 404]
    assert [s for s, _ in await both(pair, "/nowhere", method="GET")] == [404, 404]


async def test_a_message_through_the_fast_lane_is_answered_counted_and_kept(pair, peer):
    routed, fast = pair
    a = await Chat(routed, peer, "oFastLane00000000000000001").say("你好")
    counted = _wechat_requests(await (await fast.get("/metrics")).text())
    b = await Chat(fast, peer, "oFastLane00000000000000002").say("你好")
    assert a == b and a  # the same welcome
    assert _wechat_requests(await (await fast.get("/metrics")).text()) == counted + 1  # the edge ran: counted
    for n, client in enumerate(pair):  # a client that asks before sending its body goes the routed way
        signed = peer.sign(peer.text(f"oFastLane0000000000000000{n + 3}", "你好"))
        resp = await client.post(signed.path, data=signed.body, headers={"Expect": "100-continue"})
        assert peer.read(resp.status, await resp.text()).text == a


def _wechat_requests(metrics_text: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("ywtb_requests_total{") and 'channel="wechat"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_a_body_that_arrives_in_pieces_is_read_whole(bot_server, make_settings, redis, peer):
    """Most bodies arrive with their headers and are taken from the buffer at once; one sent
    in two parts, a moment apart, is awaited and answered the same."""
    import asyncio

    settings = make_settings()
    server = await bot_server(create_app(settings, redis), port=settings.port)
    signed = peer.sign(peer.text("oFastLane00000000000000009", "你好"))
    head = (f"POST {signed.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(signed.body)}\r\nConnection: close\r\n\r\n").encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    half = len(signed.body) // 2
    writer.write(head + signed.body[:half])
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.write(signed.body[half:])
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status, _, rest = raw.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 200")
    answer = peer.read(200, rest.partition(b"\r\n\r\n")[2].decode())
    assert answer.text and "系统繁忙" not in answer.text


async def test_a_body_over_the_limit_is_refused_whether_or_not_it_has_arrived_whole(pair, settings):
    from tests.test_channel_security import query

    body = b"<xml>" + b"a" * (settings.max_body_bytes + 1) + b"</xml>"
    for client in pair:
        resp = await client.post(wechat(**query()), data=body)
        assert resp.status == 413
