"""Attackers against every route, over real HTTP and the real Redis.

tests/test_channel_security.py takes the WeChat webhook apart case by case; this file runs the
attacks an operator is asked about as catalogs over *every* route the app serves: forged,
stale and replayed requests on both signed endpoints, oversized bodies on every POST, DTD and
entity payloads, CDATA injection in echoed text, path traversal and header injection, the dev
console in production, and the rate limits. Each catalog ends by proving nothing was processed
and no answer was a 5xx; nothing may be logged as an error either.

The cross-user catalogs at the end play a real citizen (one who verified a case of their own)
trying to reach someone else's case, enterprise or appointment through the dialogs: 返回 and its
relatives, a second number then an action, invitations and subscriptions left behind, guesses
spread over many openids; and staff acting on what is not theirs.

Extend the catalogs as routes land: the admin API (no token, a wrong token, another role's
token), /wecom (its msg_signature, ReceiveId), broadcast and hand-off endpoints.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from datetime import date
from urllib.parse import parse_qsl, quote, urlencode

import pytest
import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from bot.app import create_app
from bot.web.appkeys import CATALOG, SERVICES
from bot.keys import Keys
from bot.web.ratelimit import TOO_MANY
from integrations.platform.client import PlatformError
from integrations.platform.events import sign_event
from integrations.platform.identifiers import credit_check_char, id_check_digit
from integrations.platform.models import ErrorCode
from tests.support import AES_KEY, APPID, TOKEN, Chat
from tests.support import get_session, person, pushed, wait_for
from tests.test_booking import appointments_of, booked, drive
from tests.test_notifier import notices, notices_count, settled
from tests.test_progress import advance, new_case
from tests.test_channel_security import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    PLAIN_DOCTYPE,
    encrypted_request,
    envelope,
    query,
    raw_xml,
    wechat_path,
)
from tests.wecom_support import WECOM_SETTINGS, StaffChat

EVENTS_SECRET = "events-s3cret"  # tests/conftest.py's platform_events_secret
USER = "oAttackTarget00000000000001"
SLOW_DOWN = "您发消息有点快"

#: Filled by the catalogs and printed at the end of the run (docs/reliability.md quotes it).
TALLY: dict[str, int] = {}


#: Every channel configured, so that each route is attacked as it runs in production.
WECOM = dict(wecom_corpid="wwcorp0000000001", wecom_secret="wecom-s3cret", wecom_agentid=1000002,
             wecom_token="wecomt0ken", wecom_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")


@pytest.fixture
def settings(make_settings):
    return make_settings(**WECOM)


@pytest.fixture(autouse=True)
def nothing_logged_as_an_error(caplog):
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"{len(errors)} error(s) logged, first: {errors[0].name}: {errors[0].getMessage()}"


def tally(name: str, count: int) -> None:
    TALLY[name] = TALLY.get(name, 0) + count


def teardown_module() -> None:
    if TALLY:
        print("\nattacks tried: " + ", ".join(f"{k} {v}" for k, v in sorted(TALLY.items())) + f"; total {sum(TALLY.values())}")


async def hit(client, method: str, path: str, body: bytes | str = b"", headers: dict | None = None, skip_auto_headers=()):
    data = body.encode() if isinstance(body, str) else body
    resp = await client.request(method, path, data=data or None, headers=headers or {}, skip_auto_headers=skip_auto_headers)
    text = await resp.text(errors="replace")
    assert resp.status < 500, f"{method} {path}: {resp.status} {text[:200]}"
    assert "Traceback" not in text and 'File "' not in text
    return resp, text


async def our_keys(redis, settings, *, but=("rl:", "audit", "events", "sched:")) -> list[str]:
    """Keys the requests left, apart from rate-limit counters and the audit log (both record
    refused requests), the event stream (the notifier creates its consumer group at start) and
    the scheduler's jobs (the enterprise reminder sweep is put on it at start, and reschedules
    itself)."""
    found = [k.decode() async for k in redis.scan_iter(match=f"{settings.key_prefix}*", count=1000)]
    return [k for k in found if not any(k[len(settings.key_prefix):].startswith(p) for p in but)]


# Forged, stale and replayed requests on /wechat ------------------------------------------------


def _wechat_attacks(crypto: WeChatCrypto, other: WeChatCrypto) -> list[tuple[str, str, str, set[int]]]:
    """(name, path, body, acceptable statuses) for requests that must all be refused."""
    now = int(time.time())
    good = raw_xml(user=USER, content="4")
    enc_path, enc_body = encrypted_request(good, crypto)
    other_path, other_body = encrypted_request(good, other)
    q = query()
    attacks = [
        ("no query", "/wechat", good, {403}),
        ("signature only", "/wechat?signature=" + q["signature"], good, {403}),
        ("wrong signature", wechat_path(q | {"signature": "0" * 40}), good, {403}),
        ("signature with another token", wechat_path(query(token="not-our-token")), good, {403}),
        ("uppercase garbage signature", wechat_path(q | {"signature": "Z" * 40}), good, {403}),
        ("timestamp an hour old", wechat_path(query(now - 3600)), good, {403}),
        ("timestamp just outside the window", wechat_path(query(now - 330)), good, {403}),
        ("timestamp in the future", wechat_path(query(now + 3600)), good, {403}),
        ("timestamp zero", wechat_path(query(0)), good, {403}),
        ("negative timestamp", wechat_path(q | {"timestamp": "-1"}), good, {403}),
        ("timestamp with unicode digits", wechat_path(q | {"timestamp": "١٧٠٠٠٠٠٠٠٠"}), good, {403}),
        ("nonce with markup", wechat_path(query(nonce="<script>")), good, {403}),
        ("nonce with CRLF", wechat_path(query(nonce="a\r\nSet-Cookie: x=1")), good, {403}),
        ("very long nonce", wechat_path(query(nonce="n" * 500)), good, {403}),
        ("msg_signature missing", enc_path.replace("msg_signature=", "x="), enc_body, {403}),
        ("msg_signature wrong", _replace_param(enc_path, "msg_signature", "0" * 40), enc_body, {403}),
        ("encrypted for another AppID or key", other_path, other_body, {400, 403}),
        ("Encrypt swapped under a valid msg_signature", enc_path, _swapped_envelope(crypto), {403}),
        ("Encrypt not base64", enc_path, envelope("%%%not-base64%%%"), {400, 403}),
        ("DOCTYPE", wechat_path(query()), PLAIN_DOCTYPE, {400}),
        ("billion laughs", wechat_path(query()), BILLION_LAUGHS, {400}),
        ("external entity (XXE)", wechat_path(query()), EXTERNAL_ENTITY, {400}),
        ("XXE inside an encrypted body", *encrypted_request(EXTERNAL_ENTITY, crypto), {400}),
        ("parameter entity", wechat_path(query()), '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x"> %p;]><xml/>', {400}),
        ("processing instruction stylesheet", wechat_path(query()), '<?xml-stylesheet href="http://127.0.0.1:1/x"?>' + good.replace(USER, "o{bad}"), {400}),
        ("not UTF-8", wechat_path(query()), good.replace("4", "四").encode("gb18030").decode("latin-1"), {400}),
        ("FromUserName with a hash tag", wechat_path(query()), raw_xml(raw_user="<FromUserName>o}x{y</FromUserName>", content="4"), {400}),
        ("FromUserName with a key separator", wechat_path(query()), raw_xml(raw_user="<FromUserName>o*:sess</FromUserName>", content="4"), {400}),
        ("JSON instead of XML", wechat_path(query()), json.dumps({"FromUserName": USER, "MsgType": "text"}), {400}),
    ]
    return attacks


def _replace_param(path: str, name: str, value: str) -> str:
    base, qs = path.split("?", 1)
    return base + "?" + urlencode([(k, value if k == name else v) for k, v in parse_qsl(qs)])


def _swapped_envelope(crypto: WeChatCrypto) -> str:
    """Another message's Encrypt, to be sent under the first one's msg_signature."""
    _, body = encrypted_request(raw_xml(user=USER, content="1"), crypto)
    return envelope(xmltodict.parse(body)["xml"]["Encrypt"])


async def test_forged_stale_replayed_and_hostile_wechat_requests_are_refused_and_leave_nothing(client, redis, settings):
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    other = WeChatCrypto(TOKEN, "B" * 43, "wxSomeoneElse00000")
    attacks = _wechat_attacks(crypto, other)
    before = await our_keys(redis, settings)
    for name, path, body, allowed in attacks:
        resp, text = await hit(client, "POST", path, body.encode("latin-1") if name == "not UTF-8" else body)
        assert resp.status in allowed, f"{name}: {resp.status} {text[:120]}"
    assert await our_keys(redis, settings) == before, "a refused request left state behind"
    tally("wechat forged/hostile", len(attacks))


async def test_a_captured_request_replayed_with_another_body_is_refused(client, redis, settings, plain_peer):
    signed = plain_peer.sign(plain_peer.text(USER, "4"), encrypt=False)
    first, _ = await hit(client, "POST", signed.path, signed.body)
    assert first.status == 200
    sessions = await redis.get(f"{settings.key_prefix}sess:{{{USER}}}")
    replays = [plain_peer.text(USER, "1"), plain_peer.text("oSomeoneElse000000000001", "4"), plain_peer.event(USER, "subscribe")]
    for body in replays:
        resp, _ = await hit(client, "POST", signed.path, body)
        assert resp.status == 403
    # the identical request again is WeChat re-delivering: the first answer, nothing re-run
    again, text = await hit(client, "POST", signed.path, signed.body)
    assert again.status == 200 and "本区服务大厅" in xmltodict.parse(text)["xml"]["Content"]
    assert await redis.get(f"{settings.key_prefix}sess:{{{USER}}}") == sessions
    assert not await redis.exists(f"{settings.key_prefix}sess:{{oSomeoneElse000000000001}}")
    tally("wechat replays", len(replays) + 1)


# Forged, stale and replayed case events ---------------------------------------------------------


def _event(**changes) -> bytes:
    body = {"id": f"evt_{secrets.token_hex(4)}", "type": "accepted", "case_no": "51160220261128100001",
            "at": "2026-11-28T09:00:00+08:00", "matter_name": "居民身份证办理", "department": "区公安分局"}
    return json.dumps(body | changes, ensure_ascii=False).encode()


def _signed(body: bytes, *, secret: str = EVENTS_SECRET, timestamp: int | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"Content-Type": "application/json", "X-Ywtb-Timestamp": ts, "X-Ywtb-Signature": sign_event(secret, ts, body)}


async def test_forged_stale_and_replayed_case_events_are_refused_and_never_queued(client, redis, settings):
    body = _event()
    headers = _signed(body)
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    attacks = [
        ("no headers", body, {}, {403}),
        ("no signature", body, {"X-Ywtb-Timestamp": headers["X-Ywtb-Timestamp"]}, {403}),
        ("wrong secret", body, _signed(body, secret="guessed"), {403}),
        ("signature of another body", _event(type="approved"), headers, {403}),
        ("signature without its prefix", body, headers | {"X-Ywtb-Signature": headers["X-Ywtb-Signature"][7:]}, {403}),
        ("stale timestamp", body, _signed(body, timestamp=int(time.time()) - 3600), {403}),
        ("future timestamp", body, _signed(body, timestamp=int(time.time()) + 3600), {403}),
        ("timestamp in exponent form", body, headers | {"X-Ywtb-Timestamp": "1.7e9"}, {403}),
        ("timestamp with unicode digits", body, headers | {"X-Ywtb-Timestamp": "١٧٠٠٠٠٠٠٠٠"}, {403}),
        ("signed garbage", b"\xff\xfe not json", _signed(b"\xff\xfe not json"), {400}),
        ("signed deep nesting", deep, _signed(deep), {400}),
        ("signed array", b"[]", _signed(b"[]"), {400}),
        ("signed unknown type", _event(type="drop_tables"), None, {400}),
    ]
    for name, payload, sent, allowed in attacks:
        sent = _signed(payload) if sent is None else sent
        resp, text = await hit(client, "POST", "/platform/events", payload, sent)
        assert resp.status in allowed, f"{name}: {resp.status} {text[:120]}"
    assert await redis.xlen(f"{settings.key_prefix}events") == 0
    # the genuine event goes in once, however often it (or a captured copy) is replayed
    for _ in range(3):
        resp, _ = await hit(client, "POST", "/platform/events", body, headers)
        assert resp.status in (200, 202)
    assert await redis.xlen(f"{settings.key_prefix}events") == 1
    tally("case events forged/replayed", len(attacks) + 2)


# Oversized bodies on every POST route -----------------------------------------------------------


def _routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path) of every route, sub-apps included, with {placeholders} filled in."""
    found = []
    for resource in app.router.resources():
        sub = getattr(resource, "_app", None)
        if sub is not None and isinstance(sub, web.Application):
            found += _routes(sub)  # a sub-app's resources already carry its prefix
            continue
        path = resource.canonical
        for route in resource:
            if route.method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                found.append((route.method, _filled(path)))
    return sorted(set(found))


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


#: Too large (413), or refused before the body is read (the admin API checks its token first).
REFUSED_UNREAD = {413, 401, 403}


async def test_oversized_bodies_are_refused_on_every_post_route(client, app, settings, redis):
    # the simulators stand in for outside systems in dev only; everything of ours is checked
    posts = [path for method, path in _routes(app) if method == "POST" and not path.startswith("/sim/")]
    assert "/wechat" in posts and "/platform/events" in posts
    big = b"<xml>" + b"A" * (settings.max_body_bytes + 1) + b"</xml>"
    before = await our_keys(redis, settings)
    for path in posts:
        signed = path + "?" + "&".join(f"{k}={quote(v)}" for k, v in query().items()) if path == "/wechat" else path
        resp, _ = await hit(client, "POST", signed, big, {"Content-Type": "application/json"})
        assert resp.status in REFUSED_UNREAD, f"{path}: {resp.status}"

        async def chunks():
            for _ in range(settings.max_body_bytes // 4096 + 2):
                yield b"B" * 4096

        resp = await client.post(signed, data=chunks(), headers={"Content-Type": "application/json"})
        assert resp.status in REFUSED_UNREAD, f"{path} chunked: {resp.status}"
    assert await our_keys(redis, settings) == before
    tally("oversized bodies", 2 * len(posts))


# CDATA injection in echoed text ------------------------------------------------------------------


@pytest.mark.parametrize("encrypt", [False, True], ids=["plaintext", "safe-mode"])
async def test_text_echoed_back_cannot_inject_xml_into_the_reply(client, peer, encrypt):
    chat = Chat(client, peer, USER, encrypt=encrypt)
    assert "请说说您想办什么事" in await chat.say("1")  # the matters search echoes what it did not find
    evil = "zz]]></Content><MsgType><![CDATA[image]]></MsgType><Content><![CDATA[pwned"
    answer = await chat.post(peer.text(USER, evil))
    assert answer.status == 200 and answer.fields["MsgType"] == "text"
    assert answer.fields["ToUserName"] == USER and "pwned" not in answer.fields.get("Content", "").replace(evil, "")
    tally("CDATA injection", 1)


# Path traversal and header injection on every route --------------------------------------------

TRAVERSALS = [
    "/../../../../etc/passwd",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/pyproject.toml",
    "/..%252f..%252fpyproject.toml",
    "/....//....//etc/passwd",
    "/..\\..\\pyproject.toml",
    "/%00/../../etc/passwd",
    "/x/../../var/dev-secrets.json",
]
SECRETS_ON_DISK = ("root:x:0:0", "[build-system]", "wechat_aes_key", "BEGIN ")


async def raw_request(client, method: str, target: str, headers: list[str] = (), body: bytes = b"") -> tuple[int, bytes]:
    """A request written byte for byte (no client normalises the path or refuses the headers)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    try:
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", f"Content-Length: {len(body)}", *headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


INJECTED_HEADERS = [
    ["X-Request-Id: abc\rSet-Cookie: evil=1"],
    ["X-Request-Id: " + "A" * 10000],
    ["X-Forwarded-For: 127.0.0.1, <script>, ::1"],
    ["Host: evil.example", "Host: second.example"],
    ["Content-Type: text/xml; charset=\"utf-7\""],
    ["X-Ywtb-Timestamp: 0 OR 1=1", "X-Ywtb-Signature: sha256=' OR ''='"],
    ["Transfer-Encoding: chunked", "Content-Length: 5"],
]


async def _every_route_survives(client, app) -> int:
    tried = 0
    for method, path in _routes(app):
        for trail in TRAVERSALS:
            status, answer = await raw_request(client, method, path.rstrip("/") + trail)
            assert 0 < status < 500, f"{method} {path}{trail}: {answer[:200]!r}"
            assert not any(s.encode() in answer for s in SECRETS_ON_DISK), f"{method} {path}{trail} leaked a file"
            tried += 1
        for headers in INJECTED_HEADERS:
            target = path + "?a=%0d%0aSet-Cookie:%20evil=1&echostr=%0d%0aX-Evil:%201"
            status, answer = await raw_request(client, method, target, headers, b"x" if method == "POST" else b"")
            head = answer.split(b"\r\n\r\n", 1)[0]
            assert 0 < status < 500, f"{method} {path} {headers[0][:40]}: {answer[:200]!r}"
            assert b"evil=1" not in head and b"X-Evil" not in head
            tried += 1
    return tried


async def test_path_traversal_and_header_injection_on_every_dev_route(client, app):
    tally("traversal/header injection (dev)", await _every_route_survives(client, app))


async def test_path_traversal_and_header_injection_on_every_production_route(serve):
    prod = await serve(env="production", **WECOM)
    app = prod.server.app
    assert not any(path.startswith(("/console", "/sim")) for _, path in _routes(app))
    tally("traversal/header injection (production)", await _every_route_survives(prod, app))


async def test_console_and_simulator_routes_answer_404_in_production(serve, make_settings, redis):
    dev_routes = _routes(create_app(make_settings(env="dev"), redis))
    dev_only = [(m, p) for m, p in dev_routes if p.startswith(("/console", "/sim/"))]
    assert len(dev_only) > 10
    prod = await serve(env="production")
    for method, path in dev_only:
        resp, _ = await hit(prod, method, path, b"{}" if method == "POST" else b"")
        assert resp.status == 404, f"{method} {path}: {resp.status}"
    tally("console/simulator in production", len(dev_only))


# Rate limits --------------------------------------------------------------------------------------


async def test_a_user_over_the_limit_gets_a_polite_answer_and_others_are_served(serve, peer, redis, settings):
    client = await serve(rate_limit_user_messages=3)
    flooder, other = Chat(client, peer, USER), Chat(client, peer, "oPatientNeighbour000000001")
    answers = [await flooder.say(text) for text in ("你好", "4", "1", "2", "3")]
    assert all(SLOW_DOWN not in a for a in answers[:3])
    assert all(SLOW_DOWN in a for a in answers[3:])
    assert "回复" not in answers[3]  # no word to send while sending is what is limited
    assert "请回复序号" in await other.say("你好")
    # WeChat's retry of a refused message gets the same polite answer, not a turn
    msg = peer.text(USER, "5", msg_id=424242)
    first = await flooder.post(msg)
    again = await flooder.post(msg)
    assert SLOW_DOWN in first.text and SLOW_DOWN in again.text
    tally("per-user flood", 4)


async def test_an_ip_over_the_limit_gets_429_with_a_polite_text_before_any_work(serve, redis, settings):
    client = await serve(rate_limit_ip_requests=5)
    attacker, neighbour = {"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "198.51.100.4"}
    statuses = []
    for _ in range(8):
        resp, text = await hit(client, "POST", "/wechat?signature=x", "<xml/>", attacker)
        statuses.append(resp.status)
    assert statuses[:5] == [403] * 5 and statuses[5:] == [429] * 3
    assert text == TOO_MANY and resp.headers["Retry-After"] == "60"
    resp, _ = await hit(client, "POST", "/wechat?signature=x", "<xml/>", neighbour)
    assert resp.status == 403  # another client is not affected
    for path in ("/healthz", "/readyz", "/metrics"):  # operators still see the bot
        resp, _ = await hit(client, "GET", path, headers=attacker)
        assert resp.status == 200
    tally("per-IP flood", 8)


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(serve):
    # nothing exempt, no proxy trusted: this client is 127.0.0.1 whatever it claims (the bot's own
    # calls to its embedded simulators count too, hence a margin)
    client = await serve(rate_limit_ip_requests=20, rate_limit_exempt_networks=[], trusted_proxies=[])
    statuses = []
    for i in range(40):  # a client rotating X-Forwarded-For is still one client
        resp, _ = await hit(client, "GET", "/wechat", headers={"X-Forwarded-For": f"192.0.2.{i}"})
        statuses.append(resp.status)
    first = statuses.index(429)
    assert first <= 20 and set(statuses[first:]) == {429} and set(statuses[:first]) == {403}
    tally("X-Forwarded-For spoofing", 40)


async def test_metrics_count_what_was_refused_without_personal_data(client, plain_peer):
    signed = plain_peer.sign(plain_peer.text(USER, "4"), encrypt=False)
    await hit(client, "POST", signed.path, signed.body)
    await hit(client, "POST", "/wechat?signature=forged", "<xml/>")
    resp, text = await hit(client, "GET", "/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    assert 'ywtb_requests_total{channel="wechat",outcome="passive"}' in text
    assert 'ywtb_requests_total{channel="wechat",outcome="rejected"}' in text
    assert USER not in text and "oAttack" not in text


# The admin API: no token, a wrong token, another role's token -------------------------------------

AGENT_TOKEN = "agent-t0ken-0123456789abcdef0123"


async def test_every_admin_route_refuses_missing_wrong_and_underprivileged_tokens(serve, redis, settings):
    from bot.web.admin.api import ROUTES

    agent = {"userid": "agent1", "name": "值班甲", "roles": ["agent"], "token": AGENT_TOKEN}
    client = await serve(staff=[agent], **WECOM, rate_limit_admin_refusals=0)  # the flood limit has its own test (test_admin_api)
    refused = forbidden = 0
    for method, path, handler in ROUTES:
        roles = getattr(handler, "roles", None)
        if roles == ():  # the API's own description is public
            continue
        url = "/admin/api" + _filled(path)
        for auth in ("", "Basic YWRtaW46YWRtaW4=", "Bearer ", "Bearer wrong-token", f"Bearer {AGENT_TOKEN[:-1]}X",
                     f"Bearer {AGENT_TOKEN} extra", f"Token {AGENT_TOKEN}"):
            resp, text = await hit(client, method, url, b"{}" if method != "GET" else b"", {"Authorization": auth} if auth else {})
            assert resp.status == 401, f"{method} {url} with {auth!r}: {resp.status} {text[:100]}"
            assert AGENT_TOKEN not in text
            refused += 1
        if roles and "agent" not in roles:  # a real member, but not allowed this route
            resp, text = await hit(client, method, url, b"{}" if method != "GET" else b"", {"Authorization": f"Bearer {AGENT_TOKEN}"})
            assert resp.status == 403, f"{method} {url} as an agent: {resp.status} {text[:100]}"
            refused += 1
            forbidden += 1
    assert refused > 20
    assert await redis.xlen(f"{settings.key_prefix}audit") == forbidden  # staff's refusals are on the record, strangers' are counted
    tally("admin API tokens", refused)


# Cross-user attacks: one person reaching another's case, enterprise, appointment or broadcast --
#
# The attacker verified a case of their own, so they are a real citizen the bot trusts with one
# card; everything below tries to turn that into a way into someone else's. Each catalog collects
# every breach before it asserts, so a failure names all the tricks that got in.

OWN_PHONE, VICTIM_PHONE = "13812345678", "13900002468"
VICTIM_ID = "51160219790704202" + id_check_digit("51160219790704202")
ATTACKER, VICTIM = "oAttackerWithOwnCase000001", "oVictimOfTheAttack00000001"
CARD = "【办件进度】"

#: What an attacker types after their own card, `{T}` standing for the other person's case number.
CASE_TRICKS: dict[str, list[str]] = {
    "返回 then 订阅": ["{T}", "返回", "订阅"],
    "返回 then 1 (subscribe on the card)": ["{T}", "返回", "1"],
    "a wrong factor, 返回, 订阅": ["{T}", "0000", "返回", "订阅"],
    "返回, 退订, 订阅": ["{T}", "返回", "退订", "订阅"],
    "返回 twice, 订阅": ["{T}", "返回", "返回", "订阅"],
    "返回 twice, 返回 again, 1": ["{T}", "返回", "返回", "返回", "1"],
    "返回, 刷新, their own last 4 digits": ["{T}", "返回", "刷新", "5678"],
    "返回, 2 (refresh on the card)": ["{T}", "返回", "2"],
    "the number, then 刷新": ["{T}", "刷新"],
    "the number, then 订阅": ["{T}", "订阅"],
    "the number, then 评价": ["{T}", "评价", "1"],
    "the number, 返回, 满意": ["{T}", "返回", "满意"],
    "the number, 返回, 不满意 and a complaint": ["{T}", "返回", "不满意", "窗口态度太差了"],
    "the number, 取消, 订阅, 1": ["{T}", "取消", "订阅", "1"],
    "the number, 菜单, 查进度, 订阅": ["{T}", "菜单", "查进度", "订阅"],
    "the number at the menu, 返回, 订阅": ["菜单", "{T}", "返回", "订阅"],
    "the number in another dialog, 返回, 订阅": ["4", "{T}", "返回", "订阅"],
    "the number twice, 返回, 订阅": ["{T}", "{T}", "返回", "订阅"],
    "the number, 返回, 我的订阅, 1": ["{T}", "返回", "我的订阅", "1"],
}


async def _breaches(redis, settings, client, user: str, case_no: str, replies: list[str | None]) -> list[str]:
    """Every way `user` got into `case_no`: its card shown, a subscription, a remembered
    verification, a rating or complaint at the platform."""
    keys, found = Keys(settings.key_prefix), []
    if any(r and CARD in r and case_no in r for r in replies):
        found.append("shown its card")
    if await redis.sismember(keys.case_subscribers(case_no), user) or await redis.sismember(keys.user_subscriptions(user), case_no):
        found.append("subscribed")
    if await redis.hexists(keys.verified_cases(user), case_no):
        found.append("remembered as verified")
    feedback = await (await client.get(f"/sim/platform/_admin/cases/{case_no}/ratings")).json()
    if feedback["ratings"] or feedback["complaints"]:
        found.append("rated or complained")
    return found


async def _own_card(chat: Chat, own: str) -> None:
    assert "手机号的后 4 位" in await chat.say(own)
    assert CARD in await chat.say("5678")


async def test_another_persons_case_stays_closed_whatever_follows_its_number(client, peer, redis, settings):
    own = await new_case(client, phone=OWN_PHONE)
    theirs = await new_case(client, phone=VICTIM_PHONE, id_number=VICTIM_ID)
    await advance(client, theirs, "accepted", "processing", "reviewing", "approved")  # finished: it may be rated
    breaches = {}
    for n, (name, steps) in enumerate(CASE_TRICKS.items()):
        attacker = Chat(client, peer, f"oAttackerCaseTrick{n:08d}")
        await _own_card(attacker, own)
        replies = [await attacker.say(step.format(T=theirs)) for step in steps]
        found = await _breaches(redis, settings, client, attacker.user, theirs, replies)
        if found:
            breaches[name] = found
    assert breaches == {}, f"tricks that got into another person's case: {breaches}"
    tally("cross-user: case tricks", len(CASE_TRICKS))


async def test_the_trick_brings_neither_the_cases_notices_nor_a_rating_invitation(client, peer, redis, settings):
    own = await new_case(client, phone=OWN_PHONE)
    theirs = await new_case(client, phone=VICTIM_PHONE, id_number=VICTIM_ID)
    attacker, victim = Chat(client, peer, ATTACKER), Chat(client, peer, VICTIM)
    await client.post("/sim/wechat/_admin/followers", json={"openids": [ATTACKER, VICTIM]})
    await victim.say(theirs)
    assert CARD in await victim.say("2468")
    assert "订阅成功" in await victim.say("订阅")  # the victim's own notices say when the events are through
    await _own_card(attacker, own)
    for step in (theirs, "返回", "订阅", "菜单"):
        await attacker.say(step)

    await advance(client, theirs, "accepted", "processing", "reviewing", "approved")
    assert "【办件已办结】" in (await notices_count(client, VICTIM, 2))[-1]  # accepted, approved
    assert await settled(redis, settings)
    assert await notices(client, ATTACKER) == [], "the attacker heard about another person's case"
    replies = [await attacker.say("不满意"), await attacker.say("窗口态度太差了")]
    assert await _breaches(redis, settings, client, ATTACKER, theirs, replies) == []
    tally("cross-user: notices and invitations", 2)


async def test_subscriptions_and_invitations_planted_before_the_fix_are_not_honoured(client, app, peer, redis, settings):
    """A subscription or rating invitation that the hole left behind (it was open before this
    fix) gives nothing: no notice, no rating, no complaint."""
    theirs = await new_case(client, phone=VICTIM_PHONE, id_number=VICTIM_ID)
    keys, attacker, victim = Keys(settings.key_prefix), Chat(client, peer, ATTACKER), Chat(client, peer, VICTIM)
    await client.post("/sim/wechat/_admin/followers", json={"openids": [ATTACKER, VICTIM]})
    await victim.say(theirs)
    await victim.say("2468")
    await victim.say("订阅")
    await redis.sadd(keys.case_subscribers(theirs), ATTACKER)
    await redis.sadd(keys.user_subscriptions(ATTACKER), theirs)
    await app[SERVICES].ratings.invite(ATTACKER, theirs, "居民身份证办理")

    await advance(client, theirs, "accepted", "processing", "reviewing", "approved")
    assert "【办件已办结】" in (await notices_count(client, VICTIM, 2))[-1]  # accepted, approved
    assert await settled(redis, settings)
    assert await notices(client, ATTACKER) == []
    replies = [await attacker.say("非常不满意"), await attacker.say("窗口态度太差了"), await attacker.say("修改评价"), await attacker.say("1")]
    assert await _breaches(redis, settings, client, ATTACKER, theirs, replies) == []
    assert not any(r and "感谢您的评价" in r for r in replies)
    tally("cross-user: planted subscription and invitation", 2)


# Enterprise binding: a credit code is only bound with the code texted to that enterprise --------

VICTIM_FIRM = "91511602MA6XK3P2T" + credit_check_char("91511602MA6XK3P2T")
OWN_FIRM = "91511602MA6XK3Q4W" + credit_check_char("91511602MA6XK3Q4W")


async def _firm(client, credit_code: str, phone: str) -> str:
    body = {"enterprise": {"name": f"测试企业{credit_code[-4:]}", "credit_code": credit_code, "phone": phone}}
    resp = await client.post("/sim/platform/_admin/cases", json=body)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["case_no"]


async def _texted(client, credit_code: str) -> str:
    texts = (await (await client.get(f"/sim/platform/_admin/enterprises/{credit_code}/texts")).json())["items"]
    return texts[-1]["code"] if texts else "000000"


async def test_another_enterprise_is_never_bound_without_its_own_texted_code(client, app, peer, redis, settings):
    victim_case = await _firm(client, VICTIM_FIRM, "13698761234")
    await _firm(client, OWN_FIRM, "13512345678")
    store, keys = app[SERVICES].subscriptions, Keys(settings.key_prefix)
    # Each trick: what the attacker types, "{OWN}" standing for the code texted to their own firm.
    tricks = {
        "their code, 返回, a guessed code": ["企业绑定", VICTIM_FIRM, "返回", "123456"],
        "their code, 返回 twice, 1": ["企业绑定", VICTIM_FIRM, "返回", "返回", "1"],
        "own code sent, 返回, their credit code, own texted code": ["企业绑定", OWN_FIRM, "返回", VICTIM_FIRM, "{OWN}"],
        "their code, 返回, own credit code, 返回, own texted code": ["企业绑定", VICTIM_FIRM, "返回", OWN_FIRM, "返回", "{OWN}"],
        "their code, 重新发送, 取消, 企业绑定, a guessed code": ["企业绑定", VICTIM_FIRM, "重新发送", "取消", "企业绑定", "654321"],
        "their code, 菜单, 我的订阅, 1": ["企业绑定", VICTIM_FIRM, "菜单", "我的订阅", "1"],
    }
    breaches = {}
    for n, (name, steps) in enumerate(tricks.items()):
        attacker = Chat(client, peer, f"oAttackerFirmTrick{n:08d}")
        for step in steps:
            await attacker.say(await _texted(client, OWN_FIRM) if step == "{OWN}" else step)
        if await store.is_bound(attacker.user, VICTIM_FIRM) or attacker.user in await store.recipients(victim_case, VICTIM_FIRM):
            breaches[name] = "bound"
        if await redis.sismember(keys.enterprise_binders(VICTIM_FIRM), attacker.user):
            breaches[name] = "listed as a binder"
    assert breaches == {}, f"tricks that bound another enterprise: {breaches}"
    tally("cross-user: enterprise binding tricks", len(tricks))


# 我的预约: only one's own appointments are listed, moved or cancelled ----------------------------


async def test_my_appointments_never_reaches_another_persons_appointment(client, app, peer):
    await asyncio.wait_for(app[CATALOG].ready.wait(), timeout=90)
    victim_person, own_person = person(41), person(42)
    victim, attacker = Chat(client, peer, VICTIM), Chat(client, peer, ATTACKER)
    await drive(victim, "预约", victim_person)
    await drive(attacker, "预约", own_person, remember="2")
    theirs = booked(await appointments_of(client, victim_person))[0]
    tricks = [
        ["我的预约", theirs["number"], "2", "1"],
        ["我的预约", theirs["id"], "取消预约", "确定"],
        ["我的预约", "1", "2", "返回", "返回", theirs["number"], "1", "1"],
        ["我的预约", "1", "返回", theirs["id"], "1", "2", "1"],
        ["取消预约", theirs["number"], "确定取消"],
        ["改约", theirs["id"], "1", "1", "1", "确认"],
    ]
    for steps in tricks:
        replies = [await attacker.say(step) for step in steps]
        assert not any(r and (theirs["number"] in r and "您的预约" in r) for r in replies), steps
        await attacker.say("菜单")
    assert booked(await appointments_of(client, victim_person)) == [theirs], "another person's appointment was changed"
    assert await app[SERVICES].bookings.owner_of(theirs["id"]) == VICTIM

    # A dialog that forgot to check (or a session from elsewhere) still cannot change it: the
    # bookings store asks at the moment of the change whose appointment it is.
    bookings, hall = app[SERVICES].bookings, app[CATALOG].halls[theirs["hall_id"]]
    for change in (lambda: bookings.cancel(ATTACKER, theirs["id"]),
                   lambda: bookings.move(ATTACKER, theirs["id"], date.fromisoformat(theirs["date"]), theirs["start"], "move-x", hall)):
        with pytest.raises(PlatformError) as refused:
            await change()
        assert refused.value.code == ErrorCode.not_found
    assert booked(await appointments_of(client, victim_person)) == [theirs]
    tally("cross-user: appointment tricks", len(tricks) + 2)


async def test_typing_another_persons_id_number_and_phone_does_not_open_their_appointments(client, app, peer):
    """The ID number and phone are typed, not proven: remembering them once (booking for that
    person, or pretending to) must not list or change what that person booked themselves."""
    await asyncio.wait_for(app[CATALOG].ready.wait(), timeout=90)
    victim_person = person(43)
    victim, attacker = Chat(client, peer, VICTIM), Chat(client, peer, ATTACKER)
    await drive(victim, "预约", victim_person)
    theirs = booked(await appointments_of(client, victim_person))[0]
    mine = await drive(attacker, "预约", victim_person, matter="居住证", remember="1")  # their details, remembered
    assert mine.startswith("预约成功")
    listed = await attacker.say("我的预约")
    assert theirs["number"] not in listed and "居住证" in listed, listed  # only what this account booked
    with pytest.raises(PlatformError) as refused:
        await app[SERVICES].bookings.cancel(ATTACKER, theirs["id"])
    assert refused.value.code == ErrorCode.not_found
    assert theirs in booked(await appointments_of(client, victim_person))
    tally("cross-user: remembered identity", 2)


# Guesses of the second factor spread over many openids ------------------------------------------


async def test_guesses_over_many_openids_stop_the_phone_digits_of_that_case_but_not_the_id_number(client, peer, redis, settings):
    theirs = await new_case(client, phone=VICTIM_PHONE, id_number=VICTIM_ID)
    missing = theirs[:-4] + ("0000" if not theirs.endswith("0000") else "1111")

    async def first_try(n: int, case_no: str, factor: str) -> str:
        guesser = Chat(client, peer, f"oGuesser{n:018d}")
        assert "手机号的后 4 位" in await guesser.say(case_no)
        return await guesser.say(factor)

    wrong = [await first_try(n, theirs, f"{1000 + n:04d}") for n in range(8)]  # 8 openids, 1 wrong guess each
    assert len(set(wrong)) == 1 and "没有查到匹配的办件" in wrong[0]
    refused = await first_try(100, theirs, "2468")  # the right digits, now refused: paused, said so (the owner
    assert "暂停" in refused and "身份证" in refused  # is not counted down to a lock by strangers' guesses) ...
    for n in range(8):
        await first_try(200 + n, missing, f"{2000 + n:04d}")
    absent = await first_try(101, missing, "2468")  # ... exactly as a missing case number guessed as often is
    assert refused == absent.replace(missing, theirs)  # (the question again names the number typed)
    assert CARD in await first_try(102, theirs, VICTIM_ID)  # the full ID number still opens it

    lock = Keys(settings.key_prefix).case_factor_failures(theirs)
    assert 1790 <= await redis.ttl(lock) <= settings.progress_case_lock_seconds == 1800
    await redis.pexpire(lock, 1)  # half an hour passes
    assert await wait_for(lambda: _gone(redis, lock))
    assert CARD in await first_try(103, theirs, "2468")
    tally("cross-user: spread guesses", 21)


async def _gone(redis, key: str) -> bool:
    return not await redis.exists(key)


# Staff: the two-person rule holds for whoever submits -----------------------------------------------


async def test_whoever_submits_a_broadcast_cannot_also_approve_it(serve, redis, settings):
    writer = {"userid": "wangwu", "name": "王五", "roles": ["broadcaster"], "token": "writer-t0ken-0123456789abcdef01"}
    admin = {"userid": "zhaoliu", "name": "赵六", "roles": ["admin"], "token": "admin-t0ken-0123456789abcdef012"}
    approver = {"userid": "lisi", "name": "李四", "roles": ["approver"], "token": "approver-t0ken-0123456789abcdef"}
    client = await serve(staff=[writer, admin, approver], **WECOM)
    await client.post("/sim/wechat/_admin/followers", json={"openids": ["oFollower0000000000000001"]})

    async def api(member: dict, path: str, body: dict | None = None):
        resp = await client.post("/admin/api" + path, json=body or {}, headers={"Authorization": f"Bearer {member['token']}"})
        return resp.status, await resp.json()

    status, draft = await api(writer, "/broadcasts", {"title": "停电通知", "body": "明天上午大厅停电。", "audience": {"kind": "all"}})
    assert status == 201, draft
    bid = draft["id"]
    assert (await api(writer, f"/broadcasts/{bid}/preview"))[0] == 200
    status, _ = await api(admin, f"/broadcasts/{bid}/submit")  # the admin sends someone else's draft on its way ...
    assert status == 200
    status, refused = await api(admin, f"/broadcasts/{bid}/approve")  # ... so someone else must approve it
    assert status == 403 and refused["error"] == "own_broadcast", refused
    status, approved = await api(approver, f"/broadcasts/{bid}/approve")
    assert status == 200 and approved["approved_by"] == "lisi"
    tally("cross-user: two-person rule", 1)


# Hand-off: an agent reaches only the citizen they accepted -------------------------------------


async def test_an_agent_cannot_reach_or_end_a_talk_another_agent_holds(serve, peer, redis, settings):
    client = await serve(**WECOM_SETTINGS)
    citizen, zhang, li = Chat(client, peer, VICTIM), StaffChat(client, "zhangsan"), StaffChat(client, "lisi")
    queued = await citizen.say("人工")
    number = int(re.search(r"#(\d+)", queued).group(1))
    assert f"已接入 #{number}" in await zhang.say(f"接 {number}")
    tricks = [f"接 {number}", "结束", "你好，我是另一位工作人员", f"接 #{number}", "队列", "结束"]
    answers = [await li.say(t) for t in tricks]
    assert not any(a and f"已接入 #{number}" in a for a in answers)
    assert not any("另一位工作人员" in m for m in await pushed(client, VICTIM)), "another agent reached the citizen"
    session = await get_session(redis, settings, VICTIM)
    assert session["state"] == "connected" and session["data"]["agent"] == "zhangsan"
    assert await zhang.say("请问有什么可以帮您") is None  # still zhang's, and relayed
    tally("cross-user: hand-off", len(tricks))
