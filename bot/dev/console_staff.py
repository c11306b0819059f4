"""The console's staff view at /console/staff (dev only): write a broadcast, approve it with a
second person's token, watch its progress live; take a citizen from the hand-off queue and talk
to them as an agent.

The page is an ordinary client of the admin API (/admin/api/), with the bearer token typed in.
The agent's actions, which the admin API does not offer, are dev routes here that take the same
token and call bot.services.handoff like an agent's WeCom reply would; what the agent would read in WeCom
is read back from the WeChat simulator."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.services.staff import StaffMember

PAGE = Path(__file__).resolve().parent / "static" / "staff.html"


def setup_staff_console(app: web.Application, handoff_key: web.AppKey, http_key: web.AppKey, sim_key: web.AppKey, origin: str) -> None:
    """Routes of the staff view; `handoff_key` finds bot.services.handoff.Handoff, `http_key` the console's
    HTTP session, `sim_key` the WeChat simulator's path ("" when there is none), `origin` this
    bot's own base URL (from the settings: a request's Host header must not redirect the calls)."""

    def agent(request: web.Request) -> StaffMember:
        handoff = request.app.get(handoff_key)
        if handoff is None:
            raise web.HTTPServiceUnavailable(text="人工服务未启用")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        member = handoff.staff.by_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if member is None:
            raise web.HTTPUnauthorized(text="令牌无效")
        if not member.can("agent"):
            raise web.HTTPForbidden(text="需要「agent」权限")
        return member

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE, headers={"Content-Type": "text/html; charset=utf-8"})

    async def accept(request: web.Request) -> web.Response:
        member = agent(request)
        number = (await json_object(request)).get("number")
        if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
            return web.json_response({"error": "number must be an integer"}, status=400)
        outcome = await request.app[handoff_key].accept(member, number)
        return web.json_response(dataclasses.asdict(outcome))

    async def reply(request: web.Request) -> web.Response:
        member = agent(request)
        text = str((await json_object(request)).get("text", "")).strip()[:1000]
        if not text:
            return web.json_response({"error": "text is empty"}, status=400)
        relay = await request.app[handoff_key].to_citizen(member, text)
        return web.json_response(dataclasses.asdict(relay))

    async def end(request: web.Request) -> web.Response:
        member = agent(request)
        return web.json_response({"ended": await request.app[handoff_key].end(member)})

    async def inbox(request: web.Request) -> web.Response:
        """What this agent got in WeCom (the simulator's record), oldest first."""
        member = agent(request)
        current = await request.app[handoff_key].current(member.userid)
        if not request.app[sim_key]:
            return web.json_response({"messages": [], "talking_to": current[1] if current else None})
        async with request.app[http_key].get(f"{origin}{request.app[sim_key]}/_admin/messages",
                                             params={"openid": member.userid, "kind": "wecom"}) as resp:
            recorded = (await resp.json())["messages"]
        return web.json_response({"messages": [{"text": m["content"], "at": m["at"]} for m in recorded],
                                  "talking_to": current[1] if current else None})

    app.router.add_get("/console/staff", page)
    app.router.add_post("/console/staff/api/handoff/accept", accept)
    app.router.add_post("/console/staff/api/handoff/reply", reply)
    app.router.add_post("/console/staff/api/handoff/end", end)
    app.router.add_get("/console/staff/api/handoff/inbox", inbox)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's body as a JSON object ({} when there is none); anything else is a 400."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:  # not JSON, or not UTF-8
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "JSON object expected"}), content_type="application/json")
    return body
