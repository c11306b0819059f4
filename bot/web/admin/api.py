"""The admin HTTP API under /admin/api/: broadcasts, the hand-off queue and the audit log.

Every call but the description itself needs `Authorization: Bearer <token>`, one token per staff
member (settings.staff), compared in constant time (bot.services.staff). No or an unknown token: 401; a
member without the route's role: 403. Both refusals are written to the audit log, and so is
every step a member takes (bot.services.broadcasts records its own). The routes and their roles are the
ROUTES table below; openapi.yaml describes the same routes (a test holds them together).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from bot.services.audit import Audit
from bot.services.broadcasts import Broadcasts, BroadcastError
from bot.services.staff import Staff, StaffMember

log = logging.getLogger(__name__)

OPENAPI = Path(__file__).resolve().parent / "openapi.yaml"
BROADCASTS = web.AppKey("broadcasts", Broadcasts)
HANDOFF = web.AppKey("admin_handoff", object)  # bot.services.handoff.Handoff: its queue()
STAFF = web.AppKey("admin_staff", Staff)
AUDIT = web.AppKey("admin_audit", Audit)
MEMBER = web.RequestKey("staff_member", StaffMember)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers or None,
                             dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is calling, and may they call this route? Refusals are audited, tokens never logged."""
    roles = getattr(request.match_info.handler, "roles", None)
    if roles == ():  # public: the API's own description
        return await handler(request)
    audit: Audit = request.config_dict[AUDIT]
    where = {"method": request.method, "path": request.path, "ip": request.remote or ""}
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        await audit.record("anonymous", "api.refused", request.path, outcome="unauthenticated", detail={**where, "reason": "no token"})
        return _error(401, "unauthenticated", "需要登录：请在 Authorization 头中提供 Bearer 令牌", **{"WWW-Authenticate": "Bearer"})
    member = request.config_dict[STAFF].by_token(token)
    if member is None:
        await audit.record("anonymous", "api.refused", request.path, outcome="unauthenticated", detail={**where, "reason": "wrong token"})
        return _error(401, "unauthenticated", "令牌无效", **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if roles and not any(member.can(role) for role in roles):
        await audit.record(member.userid, "api.refused", request.path, outcome="forbidden", detail={**where, "needs": sorted(roles)})
        return _error(403, "forbidden", "您没有进行此操作的权限（需要：" + "、".join(sorted(roles)) + "）")
    request[MEMBER] = member
    try:
        return await handler(request)
    except BroadcastError as exc:
        return _error(exc.status, exc.code, exc.message)


def requires(*roles: str):
    """The roles (any one of them) a route needs; no roles: any staff member; () via public()."""
    def mark(handler: Handler) -> Handler:
        handler.roles = frozenset(roles)  # type: ignore[attr-defined]
        return handler
    return mark


def public(handler: Handler) -> Handler:
    handler.roles = ()  # type: ignore[attr-defined]
    return handler


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise BroadcastError("invalid", "请求体必须是 JSON", 400) from None
    if not isinstance(body, dict):
        raise BroadcastError("invalid", "请求体必须是 JSON 对象", 400)
    return body


def _member(request: web.Request) -> StaffMember:
    return request[MEMBER]


# Routes --------------------------------------------------------------------------------------


@public
async def describe(request: web.Request) -> web.FileResponse:
    return web.FileResponse(OPENAPI, headers={"Content-Type": "application/yaml; charset=utf-8"})


@requires()
async def me(request: web.Request) -> web.Response:
    member = _member(request)
    return _json({"userid": member.userid, "name": member.name, "roles": sorted(member.roles)})


@requires("broadcaster", "approver")
async def list_broadcasts(request: web.Request) -> web.Response:
    try:
        count = min(max(int(request.query.get("count", "50")), 1), 200)
    except ValueError:
        raise BroadcastError("invalid", "count 必须是 1 到 200 的整数", 400) from None
    return _json({"broadcasts": await request.config_dict[BROADCASTS].list(count)})


@requires("broadcaster")
async def create_broadcast(request: web.Request) -> web.Response:
    created = await request.config_dict[BROADCASTS].create(_member(request), await _body(request))
    return _json(created, status=201)


@requires("broadcaster", "approver")
async def get_broadcast(request: web.Request) -> web.Response:
    return _json(await request.config_dict[BROADCASTS].get(request.match_info["id"]))


def _step(name: str) -> Handler:
    async def step(request: web.Request) -> web.Response:
        broadcasts = request.config_dict[BROADCASTS]
        return _json(await getattr(broadcasts, name)(_member(request), request.match_info["id"]))
    step.__name__ = f"{name}_broadcast"
    return step


preview_broadcast = requires("broadcaster")(_step("preview"))
submit_broadcast = requires("broadcaster")(_step("submit"))
approve_broadcast = requires("approver")(_step("approve"))
pause_broadcast = requires("broadcaster", "approver")(_step("pause"))
resume_broadcast = requires("broadcaster", "approver")(_step("resume"))
cancel_broadcast = requires("broadcaster", "approver")(_step("cancel"))


@requires("agent")
async def handoff_queue(request: web.Request) -> web.Response:
    handoff = request.config_dict.get(HANDOFF)
    if handoff is None:
        return _error(503, "unavailable", "人工服务队列暂不可用")
    # Not audited: consoles poll it, and it shows only masked data (the agent's accept is audited).
    return _json({"queue": await handoff.queue()})


@requires("admin")
async def read_audit(request: web.Request) -> web.Response:
    after = request.query.get("after", "-")
    try:
        count = min(max(int(request.query.get("count", "100")), 1), 1000)
    except ValueError:
        raise BroadcastError("invalid", "count 必须是 1 到 1000 的整数", 400) from None
    if after != "-" and not _is_stream_id(after):
        raise BroadcastError("invalid", "after 必须是审计记录的编号，例如 1764300000000-0", 400)
    audit: Audit = request.config_dict[AUDIT]
    entries = await audit.read(count + 1, after)
    more = len(entries) > count
    entries = entries[:count]
    # Reading the log is itself recorded, after the page is taken: `more` says whether anything
    # older than this read was left, so a client paging until `more` is false terminates.
    await audit.record(_member(request).userid, "api.audit.read", "", detail={"after": after, "count": len(entries)})
    return _json({"entries": entries, "next": entries[-1]["id"] if entries else after, "more": more})


def _is_stream_id(value: str) -> bool:
    ms, _, seq = value.partition("-")
    return ms.isascii() and ms.isdigit() and (not seq or (seq.isascii() and seq.isdigit())) and len(value) < 40


#: (method, path under /admin/api, handler): the whole API in one table.
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/openapi.yaml", describe),
    ("GET", "/me", me),
    ("GET", "/broadcasts", list_broadcasts),
    ("POST", "/broadcasts", create_broadcast),
    ("GET", "/broadcasts/{id}", get_broadcast),
    ("POST", "/broadcasts/{id}/preview", preview_broadcast),
    ("POST", "/broadcasts/{id}/submit", submit_broadcast),
    ("POST", "/broadcasts/{id}/approve", approve_broadcast),
    ("POST", "/broadcasts/{id}/pause", pause_broadcast),
    ("POST", "/broadcasts/{id}/resume", resume_broadcast),
    ("POST", "/broadcasts/{id}/cancel", cancel_broadcast),
    ("GET", "/handoff/queue", handoff_queue),
    ("GET", "/audit", read_audit),
]


def create_admin_api(staff: Staff, audit: Audit, handoff: Any = None) -> web.Application:
    """The API as a sub-app: mount it with `app.add_subapp("/admin/api", ...)`. The parent app
    provides BROADCASTS once its outside clients exist; `handoff` is bot.services.handoff.Handoff."""
    api = web.Application(middlewares=[authenticate])
    api[STAFF], api[AUDIT] = staff, audit
    if handoff is not None:
        api[HANDOFF] = handoff
    for method, path, handler in ROUTES:
        api.router.add_route(method, path, handler)
    return api
