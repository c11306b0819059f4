"""The developer console at /console (dev only): a chat page that plays the WeChat server.

The page asks this module to sign (and encrypt, with an AES key) each message exactly as WeChat
would, which then POSTs it to /wechat over real HTTP and shows the decrypted passive reply and
everything the bot pushed through the messaging API. A pushed msgmenu's items are buttons; a tap
sends the item back as WeChat does (its label as the text, its id as bizmsgmenuid). 发图片 sends
a sample photo the simulated WeChat really holds (a 补正 material, a picture for an agent);
发语音 with words in the box sends them as the voice message's speech recognition."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, web

from bot.keys import USER_ID
from bot.dev.console_staff import setup_staff_console
from bot.dev.peer import WeChatServerPeer
from bot.settings import Settings
from bot.web.appkeys import HANDOFF
from dialogs.menu import OPTIONS

PAGE = Path(__file__).resolve().parent / "static" / "console.html"
PEER = web.AppKey("console_peer", WeChatServerPeer)
HTTP = web.AppKey("console_http", ClientSession)
SIM = web.AppKey("console_wechat_sim", str)
ORIGIN = web.AppKey("console_origin", str)  # how the console reaches this bot: from the settings, never a request's Host

#: The Official Account's custom menu as the console shows it (WeChat's is set by API).
MENU_BUTTONS = [{"title": o.title, "key": o.key} for o in OPTIONS] + [{"title": "主菜单", "key": "MENU_HOME"}]
MEDIA_SAMPLES = {
    "image": {"PicUrl": "https://example.invalid/p.jpg", "MediaId": "media-1"},
    "voice": {"MediaId": "media-2", "Format": "amr"},
    "location": {"Location_X": "31.2304", "Location_Y": "121.4737", "Scale": "15", "Label": "人民广场"},
}


#: What 发图片 sends: the first bytes of a JPEG (what the platform's sniffing needs), a few KB long.
SAMPLE_PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 16 + b"\xff\xd9"


def setup_console(app: web.Application, settings: Settings) -> None:
    app[SIM] = "/sim/wechat" if settings.embedded_wechat else ""
    app[ORIGIN] = settings.loopback_url
    app[PEER] = WeChatServerPeer(settings.wechat_token.get_secret_value(), settings.wechat_appid, settings.wechat_aes_key.get_secret_value())

    async def open_http(app: web.Application):
        app[HTTP] = ClientSession(timeout=ClientTimeout(total=10))
        yield
        await app[HTTP].close()

    app.cleanup_ctx.append(open_http)
    app.router.add_get("/console", page)
    app.router.add_get("/console/api/info", info)
    app.router.add_post("/console/api/send", send)
    app.router.add_get("/console/api/pushed", pushed)

    setup_staff_console(app, HANDOFF, HTTP, SIM, settings.loopback_url)  # /console/staff: broadcasts and the agent's side


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE, headers={"Content-Type": "text/html; charset=utf-8"})


async def info(request: web.Request) -> web.Response:
    peer = request.app[PEER]
    return web.json_response({"menu": MENU_BUTTONS, "encrypted": peer.crypto is not None, "media": list(MEDIA_SAMPLES)})


async def send(request: web.Request) -> web.Response:
    try:
        payload = await request.json()
    except (ValueError, RecursionError):  # RecursionError: [[[[… nested past the parser's depth
        return web.json_response({"error": "JSON body expected"}, status=400)
    if not isinstance(payload, dict):
        return web.json_response({"error": "JSON object expected"}, status=400)
    user = str(payload.get("user") or "")
    if not USER_ID.fullmatch(user):
        return web.json_response({"error": "user must be 1-64 letters, digits, _ or -"}, status=400)
    peer = request.app[PEER]
    kind = payload.get("kind", "text")
    menu_id = str(payload.get("menu_id") or "")
    if kind == "text" and menu_id:  # a tap on a msgmenu item, as WeChat sends it: its label and its id
        if not menu_id.isascii() or not menu_id.isdigit() or len(menu_id) > 2:
            return web.json_response({"error": "menu_id must be a choice number"}, status=400)
        xml = peer.message(user, "text", Content=str(payload.get("text", ""))[:200], bizmsgmenuid=menu_id)
    elif kind == "text":
        xml = peer.text(user, str(payload.get("text", ""))[:2000])
    elif kind == "event":
        xml = peer.event(user, str(payload.get("event", "CLICK")), str(payload.get("key", "")))
    elif kind in MEDIA_SAMPLES:
        fields = dict(MEDIA_SAMPLES[kind])
        heard = str(payload.get("text") or "")[:200]
        if kind == "voice" and heard:
            fields["Recognition"] = heard
        if kind == "image" and request.app[SIM]:  # a photo the simulated WeChat holds, so the bot can fetch it
            sample = {"content_base64": base64.b64encode(SAMPLE_PHOTO).decode(), "realm": "mp", "type": "image"}
            async with request.app[HTTP].post(f"{request.app[ORIGIN]}{request.app[SIM]}/_admin/media", json=sample) as resp:
                fields["MediaId"] = (await resp.json())["media_id"]
        xml = peer.message(user, kind, **fields)
    else:
        return web.json_response({"error": f"unknown kind {kind!r}"}, status=400)
    signed = peer.sign(xml)
    origin = request.app[ORIGIN]
    http = request.app[HTTP]
    if request.app[SIM]:  # what the real WeChat knows: this person just wrote to the account
        async with http.post(f"{origin}{request.app[SIM]}/_admin/interactions", json={"openid": user}) as resp:
            await resp.read()
    async with http.post(origin + signed.path, data=signed.body, headers={"Content-Type": "text/xml"}) as resp:
        body = await resp.text()
        answer = peer.read(resp.status, body)
    return web.json_response({"status": answer.status, "reply": answer.text, "encrypted": "encrypt_type=aes" in signed.path, "raw": body[:4000]})


async def pushed(request: web.Request) -> web.Response:
    """What the bot sent this user through the WeChat API, as the simulator recorded it."""
    user = request.query.get("user", "")
    if not USER_ID.fullmatch(user):
        return web.json_response({"error": "bad user"}, status=400)
    if not request.app[SIM]:
        return web.json_response({"messages": []})
    async with request.app[HTTP].get(f"{request.app[ORIGIN]}{request.app[SIM]}/_admin/messages", params={"openid": user}) as resp:
        recorded = (await resp.json())["messages"]
    return web.json_response({"messages": [{"kind": m["kind"], "text": _shown(m["content"]), "at": m["at"], "menu": m.get("menu") or []}
                                           for m in recorded]})


def _shown(content) -> str:
    """Messages are text, or structured (news, template): show those as compact JSON."""
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
