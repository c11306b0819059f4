"""The admin HTTP API under /admin/api/: broadcasts, policies (政策找人: broadcasts to the people
a policy's rules find, on the same workflow, roles and audit), consent counts, the hand-off queue
and the audit log.

Every call but the description itself needs `Authorization: Bearer <token>`, one token per staff
member (settings.staff), compared in constant time (bot.services.staff). No or an unknown token: 401,
counted in /metrics but not audited (a stranger's request is not a staff action, and a flood of
them would push the real approvals out of the log); past `rate_limit_admin_refusals` of those in
a window, the client address (through trusted proxies: bot.web.ratelimit) gets 429 for everything.
A member without the route's role: 403, audited, as is every step a member takes
(bot.services.broadcasts records its own). The routes and their roles are the ROUTES table below;
openapi.yaml describes the same routes, with the same bounds on every parameter as the query
models here and bot.services.broadcasts' Draft (tests hold them together).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web
from annotated_types import Ge, Le
from pydantic import BaseModel, Field, ValidationError

from bot import metrics
from bot.services.audit import Audit
from bot.services.broadcasts import Broadcasts, BroadcastError
from bot.web.ratelimit import RateLimiter
from bot.services.staff import Staff, StaffMember

log = logging.getLogger(__name__)

OPENAPI = Path(__file__).resolve().parent / "openapi.yaml"
BROADCASTS = web.AppKey("broadcasts", Broadcasts)
CONSENTS = web.AppKey("consents", object)  # bot.services.consent.Consents: its counts, never its people
HANDOFF = web.AppKey("admin_handoff", object)  # bot.services.handoff.Handoff: its queue()
STAFF = web.AppKey("admin_staff", Staff)
AUDIT = web.AppKey("admin_audit", Audit)
LIMITER = web.AppKey("admin_limiter", RateLimiter)
MEMBER = web.RequestKey("staff_member", StaffMember)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers or None,
                             dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is calling, and may they call this route? Tokens are never logged nor audited."""
    roles = getattr(request.match_info.handler, "roles", None)
    if roles == ():  # public: the API's own description
        return await handler(request)
    limiter: RateLimiter = request.config_dict[LIMITER]
    ip = limiter.client_ip(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    given = scheme.lower() == "bearer" and bool(token)
    member = request.config_dict[STAFF].by_token(token) if given else None
    # Checked whatever the token: a guesser past the limit must not tell a right one by its answer.
    if await limiter.admin_refusals_exceeded(ip, count=member is None):
        metrics.ADMIN_REFUSALS.labels("limited").inc()
        return _error(429, "too_many_requests", "请求过于频繁，请稍后再试", **{"Retry-After": str(limiter.window)})
    if member is None:
        metrics.ADMIN_REFUSALS.labels("wrong_token" if given else "no_token").inc()
        if not given:
            return _error(401, "unauthenticated", "需要登录：请在 Authorization 头中提供 Bearer 令牌", **{"WWW-Authenticate": "Bearer"})
        return _error(401, "unauthenticated", "令牌无效", **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if roles and not any(member.can(role) for role in roles):
        metrics.ADMIN_REFUSALS.labels("forbidden").inc()
        where = {"method": request.method, "path": request.path, "ip": ip}
        await request.config_dict[AUDIT].record(member.userid, "api.refused", request.path, outcome="forbidden",
                                                detail={**where, "needs": sorted(roles)})
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
    except (ValueError, RecursionError):  # RecursionError: [[[[… nested past the parser's depth
        raise BroadcastError("invalid", "请求体必须是 JSON", 400) from None
    if not isinstance(body, dict):
        raise BroadcastError("invalid", "请求体必须是 JSON 对象", 400)
    return body


def _member(request: web.Request) -> StaffMember:
    return request[MEMBER]


# Query parameters: one model per route that takes any, with the bounds openapi.yaml states. ----

#: An audit entry's id as `after`: milliseconds and a sequence number, each of at most 19 digits
#: (Redis refuses stream ids beyond 64 bits; 19 digits always fit).
STREAM_ID = r"^(-|[0-9]{1,19}(-[0-9]{1,19})?)$"


class BroadcastsQuery(BaseModel):
    count: int = Field(50, ge=1, le=200)


class AuditQuery(BaseModel):
    after: str = Field("-", pattern=STREAM_ID, examples=["1764300000000-0"])
    count: int = Field(100, ge=1, le=1000)


def _query(request: web.Request, model: type[BaseModel]) -> Any:
    """The route's query parameters (the first of each name; others are ignored), or a 400 that
    names the first wrong one and what it must be."""
    given = {name: request.query[name] for name in model.model_fields if name in request.query}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        name = str(exc.errors()[0]["loc"][0])
        raise BroadcastError("invalid", _rule(name, model.model_fields[name]), 400) from None


def _rule(name: str, field) -> str:
    bounds = {type(m): m for m in field.metadata}
    if Ge in bounds and Le in bounds:
        return f"{name} 必须是 {bounds[Ge].ge} 到 {bounds[Le].le} 的整数"
    return f"{name} 的格式不对，应形如 {field.examples[0]}"


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
    query = _query(request, BroadcastsQuery)
    return _json({"broadcasts": await request.config_dict[BROADCASTS].list(query.count)})


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


@requires("broadcaster", "approver")
async def list_policies(request: web.Request) -> web.Response:
    query = _query(request, BroadcastsQuery)
    return _json({"policies": await request.config_dict[BROADCASTS].list(query.count, policies=True)})


@requires("broadcaster")
async def create_policy(request: web.Request) -> web.Response:
    created = await request.config_dict[BROADCASTS].create_policy(_member(request), await _body(request))
    return _json(created, status=201)


@requires("broadcaster", "approver")
async def get_policy(request: web.Request) -> web.Response:
    return _json(await request.config_dict[BROADCASTS].get_policy(request.match_info["id"]))


def _policy_step(name: str) -> Handler:
    """A broadcast's step, for a policy only (a plain broadcast's id here is 404)."""
    async def step(request: web.Request) -> web.Response:
        broadcasts = request.config_dict[BROADCASTS]
        await broadcasts.get_policy(request.match_info["id"])
        return _json(await getattr(broadcasts, name)(_member(request), request.match_info["id"]))
    step.__name__ = f"{name}_policy"
    return step


preview_policy = requires("broadcaster")(_policy_step("preview"))
submit_policy = requires("broadcaster")(_policy_step("submit"))
approve_policy = requires("approver")(_policy_step("approve"))
pause_policy = requires("broadcaster", "approver")(_policy_step("pause"))
resume_policy = requires("broadcaster", "approver")(_policy_step("resume"))
cancel_policy = requires("broadcaster", "approver")(_policy_step("cancel"))


@requires("broadcaster", "approver")
async def consent_counts(request: web.Request) -> web.Response:
    """How many people consent to matching and want policy pushes: counts, never who."""
    consents = request.config_dict.get(CONSENTS)
    if consents is None:
        return _error(503, "unavailable", "授权统计暂不可用")
    counts = await consents.counts()
    await request.config_dict[AUDIT].record(_member(request).userid, "consent.counts", "", detail=counts)
    return _json(counts)


@requires("agent")
async def handoff_queue(request: web.Request) -> web.Response:
    handoff = request.config_dict.get(HANDOFF)
    if handoff is None:
        return _error(503, "unavailable", "人工服务队列暂不可用")
    # Not audited: consoles poll it, and it shows only masked data (the agent's accept is audited).
    return _json({"queue": await handoff.queue()})


@requires("admin")
async def read_audit(request: web.Request) -> web.Response:
    query = _query(request, AuditQuery)
    after, count = query.after, query.count
    audit: Audit = request.config_dict[AUDIT]
    entries = await audit.read(count + 1, after)
    more = len(entries) > count
    entries = entries[:count]
    # Reading the log is itself recorded, after the page is taken: `more` says whether anything
    # older than this read was left, so a client paging until `more` is false terminates.
    await audit.record(_member(request).userid, "api.audit.read", "", detail={"after": after, "count": len(entries)})
    return _json({"entries": entries, "next": entries[-1]["id"] if entries else after, "more": more})


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
    ("GET", "/policies", list_policies),
    ("POST", "/policies", create_policy),
    ("GET", "/policies/{id}", get_policy),
    ("POST", "/policies/{id}/preview", preview_policy),
    ("POST", "/policies/{id}/submit", submit_policy),
    ("POST", "/policies/{id}/approve", approve_policy),
    ("POST", "/policies/{id}/pause", pause_policy),
    ("POST", "/policies/{id}/resume", resume_policy),
    ("POST", "/policies/{id}/cancel", cancel_policy),
    ("GET", "/consents", consent_counts),
    ("GET", "/handoff/queue", handoff_queue),
    ("GET", "/audit", read_audit),
]


def create_admin_api(staff: Staff, audit: Audit, limiter: RateLimiter, handoff: Any = None) -> web.Application:
    """The API as a sub-app: mount it with `app.add_subapp("/admin/api", ...)`. The parent app
    provides BROADCASTS once its outside clients exist; `limiter` counts refusals per client
    address; `handoff` is bot.services.handoff.Handoff."""
    api = web.Application(middlewares=[authenticate])
    api[STAFF], api[AUDIT], api[LIMITER] = staff, audit, limiter
    if handoff is not None:
        api[HANDOFF] = handoff
    for method, path, handler in ROUTES:
        api.router.add_route(method, path, handler)
    return api
