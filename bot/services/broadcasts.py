"""Broadcasts: a notice from staff to many people, approved by a second person, sent in
checkpointed chunks that survive the crash of any process without losing or repeating anyone.

The life of a broadcast (every step is in the audit log):

    draft --preview--> draft (recipients resolved, exact count) --submit--> pending
    pending --approve (another person with `approver`)--> sending <--pause/resume--> paused
    sending --last chunk--> done;  any state before done --cancel--> cancelled

Recipients are resolved once, at preview, by streaming the audience (WeChat's follower or tag
pages, SSCAN of a subscriber set, SCAN of enterprise bindings) into a Redis stream, one entry per
chunk; so what the approver approves is exactly who is sent to, and no process ever holds more
than one chunk. Sending: one worker at a time holds a broadcast's lease and walks its chunks; a
chunk's checkpoint advances only with a compare-and-set fenced by the lease. A chunk that was in
flight when a process died is sent again by whoever takes the lease over, and repeats nothing:
mass sends carry a clientmsgid per chunk (WeChat answers 45065 to a repeat), template messages a
client_msg_id per broadcast, and each recipient's outcome is written once (HSETNX) before the
counters move.

A mass send is only handed to WeChat: WeChat leaves out whoever unfollowed, refused, or had
their 4 mass messages this month, and says so later, in a MASSSENDJOBFINISH event on the
webhook (bot.web.channels.wechat). Until then its recipients count as "submitted" (已提交微信), not
sent; the event turns them into sent, filtered and failed (`job_finished`), and when the last
job of a finished broadcast has reported, its author gets the final report.

Redis layout (bot.keys, all under one hash tag so the Lua scripts may touch several keys):
`{bc}:b<N>` HASH (fields below, counters `n:sent`, `n:submitted`, `n:failed:<reason>`, `jobs`,
`jobs_reported`), `{bc}:job:<msg_id>` HASH (a mass send's broadcast, size and WeChat's figures), `{bc}:b<N>:rcpt` STREAM
(entry id `<chunk>-1`, field `o` = space-separated openids), `{bc}:b<N>:out` HASH openid ->
outcome (template channel), `{bc}:b<N>:lease`, `{bc}:all` and `{bc}:active` ZSETs.
Subscribers of a matter or a department: `sub:matter:<code>` / `sub:dept:<name>` SETs of openids;
enterprises by industry: `ent:industry:<name>` SETs of credit codes (the district is part of the
credit code itself: characters 3-8 are the registering authority's division code).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bot import metrics
from bot.services.staff import StaffMember
from bot.stores.client import repeatable
from bot.workers.runner import nap
from integrations.wechat import (
    DailyQuotaExceeded, InvalidOpenID, MassQuotaExhausted, MassSendJobFinished, NotFollowing, SubscriptionRefused,
    WeChatAPIError, WeChatError, WeChatTimeout,
)

log = logging.getLogger(__name__)

TEMPLATE_NOTICE = "broadcast/notice.j2"
TEMPLATE_REPORT = "broadcast/report.j2"
INVALID_TAG = 45159  # WeChat's errcode for a tag id the account does not have

#: Why a recipient was not reached, as the report and the console name it.
REASONS = {
    "unfollowed": "已取消关注",
    "invalid_user": "用户无效",
    "refused": "用户拒收",
    "mass_quota": "本月群发次数已用完",
    "cancelled": "群发已取消，未发送",
    "uncertain": "发送中断且无法确认是否送达（未重发）",
    "filtered": "微信未发送（已取消关注、拒收或本月已收满 4 条群发）",
    "wechat_failed": "微信发送失败",
}


def reason_label(reason: str) -> str:
    """A failure reason in words; WeChat error codes we have no name for are shown as codes."""
    if reason in REASONS:
        return REASONS[reason]
    return "微信错误码 " + reason.removeprefix("error_") if reason.startswith("error_") else reason


class Status(str, Enum):
    draft = "draft"
    pending = "pending"  # submitted, waiting for an approver
    sending = "sending"
    paused = "paused"
    done = "done"
    cancelled = "cancelled"


STATUS_TEXT = {"draft": "草稿", "pending": "待审批", "sending": "发送中", "paused": "已暂停", "done": "已完成", "cancelled": "已取消"}


class BroadcastError(Exception):
    """A request the broadcast cannot honour; `code` says why, the message says it to a person."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Audience(BaseModel):
    """Who a broadcast goes to."""

    kind: Literal["all", "tag", "matter", "department", "enterprises"]
    tag_id: int | None = Field(default=None, ge=0, le=2**31 - 1, description="WeChat tag id (kind=tag): WeChat's are 32-bit")
    matter_code: str | None = Field(default=None, max_length=64, description="matter implementation code (kind=matter)")
    department: str | None = Field(default=None, max_length=60, description="department name (kind=department)")
    district: str | None = Field(default=None, description="2-6 digit division code prefix (kind=enterprises)")
    industry: str | None = Field(default=None, max_length=30, description="industry name (kind=enterprises)")

    model_config = {"extra": "forbid"}

    @field_validator("matter_code", "department", "industry")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c in value for c in "{}*?[]\\ \n\t")):
            raise ValueError("must be a plain name without spaces or brackets")
        return value

    @field_validator("district")
    @classmethod
    def _district(cls, value: str | None) -> str | None:
        if value is not None and not (value.isascii() and value.isdigit() and 2 <= len(value) <= 6):
            raise ValueError("district must be 2 to 6 digits of a division code, e.g. 511602")
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> Audience:
        need = {"tag": ("tag_id",), "matter": ("matter_code",), "department": ("department",)}.get(self.kind, ())
        missing = [name for name in need if getattr(self, name) is None]
        if self.kind == "enterprises" and not (self.district or self.industry):
            missing.append("district or industry")
        if missing:
            raise ValueError(f"audience {self.kind} needs {', '.join(missing)}")
        return self

    def describe(self) -> str:
        """The audience in words, for staff."""
        if self.kind == "all":
            return "全部关注用户"
        if self.kind == "tag":
            return f"标签 {self.tag_id} 的用户"
        if self.kind == "matter":
            return f"订阅事项 {self.matter_code} 的用户"
        if self.kind == "department":
            return f"订阅「{self.department}」的用户"
        parts = [f"行政区划 {self.district}" if self.district else "", f"行业「{self.industry}」" if self.industry else ""]
        return "已绑定企业（" + "，".join(p for p in parts if p) + "）的联系人"


class Draft(BaseModel):
    """What a broadcaster writes."""

    title: str = Field(min_length=1, max_length=40)
    body: str = Field(min_length=1, max_length=600)
    audience: Audience
    channel: Literal["auto", "mass", "template"] = Field(
        default="auto", description="auto: mass send for all followers or a tag, template messages for subscribers and enterprises")

    model_config = {"extra": "forbid"}

    @field_validator("title", "body")
    @classmethod
    def _text(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        if any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise ValueError("must not contain control characters")
        return value


def _s(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


# Lua: every change of state and every counter moves atomically, and only if it still may. --------

_TRANSITION = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing:' end
for s in string.gmatch(ARGV[1], '%S+') do
  if s == status then
    redis.call('HSET', KEYS[1], 'status', ARGV[2])
    for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
    if ARGV[3] == 'add' then
      redis.call('ZADD', KEYS[2], redis.call('TIME')[1], ARGV[4])
    elseif ARGV[3] == 'rem' then
      redis.call('ZREM', KEYS[2], ARGV[4])
    end
    return 'ok:' .. status
  end
end
return 'no:' .. status
"""

# An outcome is final once written; "pending:<time>" (written just before the call) is not.
_RECORD = """
local added = 0
for i = 1, #ARGV, 2 do
  local was = redis.call('HGET', KEYS[1], ARGV[i])
  if not was or string.sub(was, 1, 8) == 'pending:' then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    redis.call('HINCRBY', KEYS[2], 'n:' .. ARGV[i + 1], 1)
    added = added + 1
  end
end
return added
"""

_FORGET_PENDING = """
local was = redis.call('HGET', KEYS[1], ARGV[1])
if was and string.sub(was, 1, 8) == 'pending:' then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""

# WeChat's figures for a mass send, applied to its broadcast once both are known: the job's
# broadcast (written when its chunk is checkpointed) and WeChat's report (which may come first).
# Its recipients move from submitted to sent, filtered and failed; WeChat's figures are fitted to
# the chunk (whatever WeChat did not account for was not delivered). Returns {sent, filtered,
# failed}, or {} when not both are known yet or it was applied before.
_APPLY_JOB = """
local function apply_job(job, bc, bid)
  local j = redis.call('HMGET', job, 'bid', 'size', 'sent', 'filtered')
  if j[1] ~= bid or not j[2] or not j[3] then return {} end
  if redis.call('HSETNX', job, 'applied', '1') == 0 then return {} end
  local size = tonumber(j[2])
  local sent = math.min(tonumber(j[3]), size)
  local filtered = math.min(tonumber(j[4]), size - sent)
  local failed = size - sent - filtered
  redis.call('HINCRBY', bc, 'n:submitted', -size)
  if sent > 0 then redis.call('HINCRBY', bc, 'n:sent', sent) end
  if filtered > 0 then redis.call('HINCRBY', bc, 'n:failed:filtered', filtered) end
  if failed > 0 then redis.call('HINCRBY', bc, 'n:failed:wechat_failed', failed) end
  redis.call('HINCRBY', bc, 'jobs_reported', 1)
  return {sent, filtered, failed}
end
"""

# KEYS: broadcast, lease, the chunk's mass job (the broadcast again when it has none).
# ARGV: chunk, lease owner, broadcast id, the job's size (0: no job), record ttl s, then
# counter / increment pairs. Moves the checkpoint (fenced by the lease) and files the chunk's
# mass job under the broadcast, applying WeChat's report if it came first.
# Returns -1 (lease lost), 0 (checkpoint elsewhere), or {1, what the job's report applied}.
_FINISH_CHUNK = _APPLY_JOB + """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
local done = tonumber(redis.call('HGET', KEYS[1], 'done_chunks') or '0')
if done ~= tonumber(ARGV[1]) - 1 then return 0 end
redis.call('HSET', KEYS[1], 'done_chunks', ARGV[1])
for i = 6, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
if tonumber(ARGV[4]) > 0 and redis.call('HSETNX', KEYS[3], 'bid', ARGV[3]) == 1 then
  redis.call('HSET', KEYS[3], 'size', ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'jobs', 1)
  return {1, unpack(apply_job(KEYS[3], KEYS[1], ARGV[3]))}
end
return {1}
"""

# KEYS: the mass job, its broadcast (the job again when not known yet). ARGV: broadcast id ('' =
# not known yet), sent, filtered, status, record ttl s. Keeps WeChat's first report on the job
# (its retries change nothing) and applies it if the job is filed. Returns what it applied.
_JOB_REPORT = _APPLY_JOB + """
if redis.call('HSETNX', KEYS[1], 'sent', ARGV[2]) == 1 then
  redis.call('HSET', KEYS[1], 'filtered', ARGV[3], 'status', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
if ARGV[1] == '' then return {} end
return apply_job(KEYS[1], KEYS[2], ARGV[1])
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# A sliding-window log shared by every process: WeChat counts calls in a sliding minute, so a
# fixed window could let twice the limit through around its edge. A call leaves the log when it
# is `window` old, as it leaves WeChat's count.
_RATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(tonumber(oldest[2]) + window - now, 1)
"""


class RateLimit:
    """At most `limit` calls in any `window` seconds across all processes (a Redis sliding log):
    no span of `window` seconds ever holds more, and a steady sender makes `limit` calls per
    `window` (the first `limit` at once, then each as the call `limit` before it leaves the log)."""

    def __init__(self, redis: Any, key: str, limit: int, window: float):
        self.key, self.limit, self.window_ms = key, limit, round(window * 1000)
        self._script = redis.register_script(_RATE)

    async def wait(self) -> None:
        """Return once this call may be made (it is counted from now on)."""
        while True:
            wait_ms = await self._script(keys=[self.key], args=[self.limit, self.window_ms, secrets.token_hex(8)])
            if not wait_ms:
                return
            await asyncio.sleep(int(wait_ms) / 1000)


class Audiences:
    """Who is in an audience, streamed; and the subscriber sets that only this feature reads."""

    def __init__(self, redis: Any, keys: Any, wechat: Any = None):
        self.redis, self.keys, self.wechat = redis, keys, wechat

    async def subscribe(self, openid: str, *, matter_code: str | None = None, department: str | None = None) -> None:
        """Someone asks to hear about a matter's or a department's notices."""
        if matter_code:
            await self.redis.sadd(self.keys.matter_subscribers(matter_code), openid)
        if department:
            await self.redis.sadd(self.keys.department_subscribers(department), openid)

    async def unsubscribe(self, openid: str, *, matter_code: str | None = None, department: str | None = None) -> None:
        if matter_code:
            await self.redis.srem(self.keys.matter_subscribers(matter_code), openid)
        if department:
            await self.redis.srem(self.keys.department_subscribers(department), openid)

    async def note_industry(self, credit_code: str, industry: str) -> None:
        """File a bound enterprise under its industry (the binding flow calls this)."""
        await self.redis.sadd(self.keys.enterprises_by_industry(industry), credit_code)

    async def members(self, audience: Audience) -> AsyncIterator[str]:
        """Every openid of the audience; duplicates are possible (a person bound to two enterprises)."""
        if audience.kind == "all":
            async for openid in self.wechat.followers():
                yield openid
        elif audience.kind == "tag":
            async for openid in self.wechat.tag_members(audience.tag_id):
                yield openid
        elif audience.kind in ("matter", "department"):
            key = (self.keys.matter_subscribers(audience.matter_code) if audience.kind == "matter"
                   else self.keys.department_subscribers(audience.department))
            async for openid in self.redis.sscan_iter(key, count=1000):
                yield _s(openid)
        else:
            async for code in self._enterprises(audience):
                async for openid in self.redis.sscan_iter(self.keys.enterprise_binders(code), count=1000):
                    yield _s(openid)

    async def _enterprises(self, audience: Audience) -> AsyncIterator[str]:
        if audience.industry:
            async for code in self.redis.sscan_iter(self.keys.enterprises_by_industry(audience.industry), count=1000):
                code = _s(code)
                if not audience.district or code[2:8].startswith(audience.district):
                    yield code
            return
        base = self.keys.enterprise_binders("")
        pattern = _glob_escape(base) + "??" + audience.district + "*"
        async for key in self.redis.scan_iter(match=pattern, count=1000):
            yield _s(key)[len(base):]


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class Broadcasts:
    """Create, preview, submit, approve, pause, resume, cancel and inspect broadcasts.

    Each method takes the acting staff member, checks what they may do, and records the step in
    the audit log; the admin API and the WeCom chat both call these."""

    #: For callers that may not import bot (the staff dialogs): what the steps raise, and reasons in words.
    Error = BroadcastError
    reason_label = staticmethod(reason_label)

    def __init__(self, redis: Any, keys: Any, wechat: Any, render: Any, audit: Any, staff: Any, settings: Any,
                 wecom: Any = None):
        self.redis, self.keys, self.wechat, self.render = redis, keys, wechat, render
        self.audit, self.staff, self.settings, self.wecom = audit, staff, settings, wecom
        self.audiences = Audiences(redis, keys, wechat)
        self._transition = redis.register_script(_TRANSITION)
        self._record = redis.register_script(_RECORD)
        self._finish_chunk = redis.register_script(_FINISH_CHUNK)
        # Safe to repeat: it keeps the first report and applies it once.
        self._job_report = repeatable(redis.register_script(_JOB_REPORT))
        self.keep_seconds = int(settings.broadcast_keep_days * 86400)
        self._forget_pending = redis.register_script(_FORGET_PENDING)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        # The same sliding window as WeChat's, a few calls under its limit (57 of about 60 by
        # default): WeChat counts a call when it lands, a moment after we counted it, and as a
        # sender makes one call at a time (the next is counted only after the last was answered),
        # each call of margin is at least one call's round trip of slack, whatever the delays.
        # Should WeChat still say 45011, the sender waits broadcast_rate_backoff_seconds.
        self.mass_rate = RateLimit(redis, keys.rate("wechat-mass"), settings.broadcast_mass_per_minute,
                                   settings.broadcast_mass_window_seconds)
        self.template_rate = RateLimit(redis, keys.rate("wechat-template"), settings.broadcast_template_per_second, 1)

    # Reading ---------------------------------------------------------------------------------

    async def get(self, bid: str) -> dict[str, Any]:
        """The broadcast as the API shows it: fields, progress and failures by reason."""
        if not _is_id(bid):
            raise BroadcastError("not_found", "没有这条群发", 404)
        raw = await self.redis.hgetall(self.keys.broadcast(bid))
        if not raw:
            raise BroadcastError("not_found", "没有这条群发", 404)
        f = {_s(k): _s(v) for k, v in raw.items()}
        failed = {k[len("n:failed:"):]: int(v) for k, v in f.items() if k.startswith("n:failed:")}
        total = int(f["total"]) if f.get("total") else None
        sent = int(f.get("n:sent", 0))
        submitted = int(f.get("n:submitted", 0))  # handed to WeChat as mass sends, WeChat's report not in yet
        done = sent + sum(failed.values()) + submitted
        out = {
            "id": bid, "title": f["title"], "body": f["body"], "audience": json.loads(f["audience"]),
            "audience_text": Audience.model_validate_json(f["audience"]).describe(),
            "channel": f["channel"], "status": f["status"], "created_by": f["created_by"],
            "created_at": float(f["created_at"]), "submitted_by": f.get("submitted_by") or None,
            "approved_by": f.get("approved_by") or None, "approved_at": float(f["approved_at"]) if f.get("approved_at") else None,
            "cancelled_by": f.get("cancelled_by") or None, "paused_reason": f.get("paused_reason") or None,
            "finished_at": float(f["finished_at"]) if f.get("finished_at") else None,
            "total": total, "chunks": int(f.get("chunks", 0)), "chunks_done": int(f.get("done_chunks", 0)),
            "sent": sent, "submitted": submitted, "failed": failed, "remaining": None if total is None else max(total - done, 0),
            "report": f.get("report") or None,
        }
        return out

    async def tags(self) -> list[Any]:
        """The account's WeChat tags (id, name, count), for a broadcaster choosing one; [] if WeChat cannot say."""
        try:
            return list(await self.wechat.tags()) if self.wechat is not None else []
        except WeChatError:
            return []

    async def list(self, count: int = 50) -> list[dict[str, Any]]:
        ids = await self.redis.zrevrange(self.keys.broadcasts(), 0, max(count, 1) - 1)
        found = []
        for bid in ids:
            try:
                found.append(await self.get(_s(bid)))
            except BroadcastError:
                continue
        return found

    # The steps a person takes ----------------------------------------------------------------

    async def create(self, member: StaffMember, draft: Draft | dict[str, Any]) -> dict[str, Any]:
        self._require(member, "broadcaster")
        if not isinstance(draft, Draft):
            try:
                draft = Draft.model_validate(draft)
            except ValidationError as exc:
                raise BroadcastError("invalid", _explain(exc), 400) from None
        channel = draft.channel
        if channel == "auto":
            channel = "mass" if draft.audience.kind in ("all", "tag") else "template"
        bid = f"b{await self.redis.incr(self.keys.broadcast_seq())}"
        now = time.time()
        await self.redis.hset(self.keys.broadcast(bid), mapping={
            "title": draft.title, "body": draft.body, "audience": draft.audience.model_dump_json(exclude_none=True),
            "channel": channel, "status": Status.draft.value, "created_by": member.userid, "created_at": f"{now:.3f}",
            "ref": secrets.token_hex(6),
        })
        await self.redis.zadd(self.keys.broadcasts(), {bid: now})
        await self.audit.record(member.userid, "broadcast.create", bid, detail={
            "title": draft.title, "audience": draft.audience.model_dump(exclude_none=True), "channel": channel})
        return await self.get(bid)

    async def preview(self, member: StaffMember, bid: str) -> dict[str, Any]:
        """Resolve the recipients now (exact count, de-duplicated) and show what they will read."""
        self._require(member, "broadcaster")
        b = await self.get(bid)
        if b["status"] != Status.draft.value:
            raise BroadcastError("wrong_state", f"这条群发已是「{STATUS_TEXT[b['status']]}」状态，不能再预览", 409)
        lock = self.keys.broadcast_lease(bid)
        owner = secrets.token_hex(8)
        if not await self.redis.set(lock, owner, nx=True, px=int(self.settings.broadcast_resolve_seconds * 1000)):
            raise BroadcastError("busy", "这条群发正在预览中，请稍候", 409)
        try:
            # Forget any earlier count first, so nobody can submit while the recipients are rewritten.
            forgot = await self._transition(keys=[self.keys.broadcast(bid), self.keys.broadcasts_active()],
                                            args=["draft", "draft", "", bid, "total", "", "chunks", 0])
            if not _s(forgot).startswith("ok:"):
                raise BroadcastError("wrong_state", "这条群发的状态已变化", 409)
            total, chunks, sample = await self._resolve(bid, Audience.model_validate(b["audience"]), b["channel"])
        except WeChatError as exc:
            await self.audit.record(member.userid, "broadcast.preview", bid, outcome="failed", detail={"error": type(exc).__name__})
            if isinstance(exc, WeChatAPIError) and exc.errcode == INVALID_TAG:  # the draft's fault: asking again later will not help
                raise BroadcastError("unknown_tag", "公众号没有这个标签，请检查标签编号后重新撰写", 409) from None
            raise BroadcastError("wechat", "暂时无法从微信读取用户列表，请稍后再试", 502) from None
        finally:
            await self._release(keys=[lock], args=[owner])
        result = await self._transition(keys=[self.keys.broadcast(bid), self.keys.broadcasts_active()],
                                        args=["draft", "draft", "", bid, "total", total, "chunks", chunks,
                                              "previewed_at", f"{time.time():.3f}"])
        if not _s(result).startswith("ok:"):
            raise BroadcastError("wrong_state", "这条群发的状态已变化", 409)
        await self.audit.record(member.userid, "broadcast.preview", bid, detail={"total": total, "chunks": chunks})
        b = await self.get(bid)
        return {**b, "text": self.notice_text(b), "sample": sample}

    async def submit(self, member: StaffMember, bid: str) -> dict[str, Any]:
        self._require(member, "broadcaster")
        b = await self.get(bid)
        if b["created_by"] != member.userid and not member.can("admin"):
            await self.audit.record(member.userid, "broadcast.submit", bid, outcome="refused", detail={"reason": "not the author"})
            raise BroadcastError("forbidden", "只有撰写人可以提交这条群发", 403)
        if b["total"] is None:
            raise BroadcastError("not_previewed", "请先预览，确认收件人数后再提交", 409)
        if b["total"] == 0:
            raise BroadcastError("no_recipients", "这条群发没有收件人", 409)
        await self._move(member, bid, "broadcast.submit", [Status.draft], Status.pending, fields={"submitted_by": member.userid})
        return await self.get(bid)

    async def approve(self, member: StaffMember, bid: str) -> dict[str, Any]:
        """A second person with `approver` lets the broadcast go out (two-person rule): not its
        author, and not whoever submitted it (an admin may submit someone else's draft)."""
        self._require(member, "approver")
        b = await self.get(bid)
        if self.settings.two_person_rule and member.userid in (b["created_by"], b["submitted_by"]):
            wrote = b["created_by"] == member.userid
            await self.audit.record(member.userid, "broadcast.approve", bid, outcome="refused",
                                    detail={"reason": "own broadcast" if wrote else "submitted it", "two_person_rule": True})
            raise BroadcastError("own_broadcast", f"不能审批自己{'撰写' if wrote else '提交'}的群发，请另一位审批人审批", 403)
        await self._move(member, bid, "broadcast.approve", [Status.pending], Status.sending, active="add",
                         fields={"approved_by": member.userid, "approved_at": f"{time.time():.3f}"},
                         detail={"total": b["total"], "audience": b["audience"]})
        return await self.get(bid)

    async def pause(self, member: StaffMember, bid: str) -> dict[str, Any]:
        await self._may_steer(member, bid, "broadcast.pause")
        await self._move(member, bid, "broadcast.pause", [Status.sending], Status.paused, active="rem",
                         fields={"paused_reason": "staff"})
        return await self.get(bid)

    async def resume(self, member: StaffMember, bid: str) -> dict[str, Any]:
        await self._may_steer(member, bid, "broadcast.resume")
        await self._move(member, bid, "broadcast.resume", [Status.paused], Status.sending, active="add",
                         fields={"paused_reason": ""})
        return await self.get(bid)

    async def cancel(self, member: StaffMember, bid: str) -> dict[str, Any]:
        b = await self._may_steer(member, bid, "broadcast.cancel")
        before = await self._move(member, bid, "broadcast.cancel", [Status.draft, Status.pending, Status.sending, Status.paused],
                                  Status.cancelled, active="rem", fields={"cancelled_by": member.userid,
                                                                        "finished_at": f"{time.time():.3f}"})
        if before == Status.sending.value:
            await self._settle(bid)
        if before in (Status.sending.value, Status.paused.value):
            await self._report(bid)
        await self._retire(bid)
        return await self.get(bid)

    async def _retire(self, bid: str) -> None:
        """A finished broadcast keeps its recipients and outcomes for a while (questions come), not forever."""
        keep = int(self.settings.broadcast_keep_days * 86400)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.expire(self.keys.broadcast_recipients(bid), keep).expire(self.keys.broadcast_outcomes(bid), keep)
            await pipe.execute()

    async def _settle(self, bid: str) -> None:
        """Wait (a little) for the sender to land the messages it had in flight, so the report counts them."""
        end = time.monotonic() + self.settings.broadcast_lease_seconds + 1
        while await self.redis.exists(self.keys.broadcast_lease(bid)) and time.monotonic() < end:
            await asyncio.sleep(0.05)

    def notice_text(self, b: dict[str, Any]) -> str:
        return self.render(TEMPLATE_NOTICE, title=b["title"], body=b["body"])

    # Helpers for the steps ----------------------------------------------------------------------

    def _require(self, member: StaffMember, role: str) -> None:
        if not member.can(role):
            raise BroadcastError("forbidden", f"需要「{role}」权限", 403)

    async def _may_steer(self, member: StaffMember, bid: str, action: str) -> dict[str, Any]:
        """Pause, resume and cancel: the author, or anyone who may approve."""
        b = await self.get(bid)
        if not (member.can("approver") or (member.can("broadcaster") and b["created_by"] == member.userid)):
            await self.audit.record(member.userid, action, bid, outcome="refused", detail={"reason": "neither author nor approver"})
            raise BroadcastError("forbidden", "只有撰写人或审批人可以操作这条群发", 403)
        return b

    async def _move(self, member: StaffMember, bid: str, action: str, allowed: list[Status], to: Status, *,
                    active: str = "", fields: dict[str, str] | None = None, detail: dict | None = None) -> str:
        pairs = [x for kv in (fields or {}).items() for x in kv]
        result = _s(await self._transition(keys=[self.keys.broadcast(bid), self.keys.broadcasts_active()],
                                           args=[" ".join(s.value for s in allowed), to.value, active, bid, *pairs]))
        verdict, _, before = result.partition(":")
        if verdict != "ok":
            await self.audit.record(member.userid, action, bid, outcome="refused", detail={"reason": f"status is {before}"})
            raise BroadcastError("wrong_state", f"这条群发当前是「{STATUS_TEXT.get(before, before)}」状态，不能这样操作", 409)
        await self.audit.record(member.userid, action, bid, detail={"from": before, "to": to.value, **(detail or {})})
        return before

    async def _resolve(self, bid: str, audience: Audience, channel: str) -> tuple[int, int, list[str]]:
        """Stream the audience into the recipients stream, one entry per chunk, without repeats."""
        stream, seen = self.keys.broadcast_recipients(bid), self.keys.broadcast_seen(bid)
        await self.redis.delete(stream, seen)
        size = self.settings.broadcast_mass_batch if channel == "mass" else self.settings.broadcast_template_batch
        total, chunks = 0, 0
        buffer: list[str] = []
        candidates: list[str] = []
        sample: list[str] = []

        async def take(final: bool) -> None:
            nonlocal candidates, buffer, total, chunks
            if candidates:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for openid in candidates:
                        pipe.sadd(seen, openid)
                    fresh = [o for o, new in zip(candidates, await pipe.execute()) if new]
                candidates = []
                total += len(fresh)
                sample.extend(fresh[:max(3 - len(sample), 0)])
                buffer.extend(fresh)
            while len(buffer) >= size or (final and buffer):
                chunk, buffer = buffer[:size], buffer[size:]
                chunks += 1
                await self.redis.xadd(stream, {"o": " ".join(chunk)}, id=f"{chunks}-1")

        async for openid in self.audiences.members(audience):
            candidates.append(openid)
            if len(candidates) >= 1000:
                await take(False)
        await take(True)
        await self.redis.delete(seen)
        return total, chunks, [_mask_openid(o) for o in sample]

    def report_text(self, b: dict[str, Any]) -> tuple[str, dict[str, int]]:
        """The report of a finished (or cancelled) broadcast, and its failures by reason."""
        failed = dict(b["failed"])
        if b["remaining"]:
            failed["cancelled"] = b["remaining"]
        approver = self.staff.by_userid(b["approved_by"] or "")
        shown = {**b, "approved_by": approver.name if approver else b["approved_by"]}
        return self.render(TEMPLATE_REPORT, b=shown, failures=[(reason_label(r), n) for r, n in failed.items()]), failed

    async def _report(self, bid: str, written: str | None = None) -> None:
        """The end of a broadcast, kept for the API (once; `written`: already stored together
        with the final status), then told to its author when WeChat's figures are all in."""
        if written is None:
            text, _ = self.report_text(await self.get(bid))
            if not await self.redis.hsetnx(self.keys.broadcast(bid), "report", text):
                return
        await self._tell_author(bid)

    # WeChat's reports on mass sends --------------------------------------------------------------

    async def job_finished(self, report: MassSendJobFinished) -> None:
        """WeChat's report on one mass send (MASSSENDJOBFINISH, from the webhook): its recipients
        become sent, filtered and failed in their broadcast. The report may come before the
        sender has filed the job under its broadcast; then the filing applies it."""
        job = self.keys.mass_job(report.msg_id)
        args = [report.sent, report.filtered, report.status[:64], self.keep_seconds]
        bid = _s(await self.redis.hget(job, "bid"))
        applied = await self._job_report(keys=[job, self.keys.broadcast(bid) if bid else job], args=[bid, *args])
        if not bid and (bid := _s(await self.redis.hget(job, "bid"))):
            # filed while the report was being kept: whichever of the two came second applies it
            applied = await self._job_report(keys=[job, self.keys.broadcast(bid)], args=[bid, *args])
        log.info("mass send %s reported by WeChat (%s): %d sent, %d filtered, %d failed, of %d%s", report.msg_id, report.status,
                 report.sent, report.filtered, report.errors, report.total, f" (broadcast {bid})" if bid else " (no broadcast filed yet)")
        if applied:
            self.count_reported(applied)
            await self._tell_author(bid)

    def count_reported(self, figures: list) -> None:
        """Metrics for WeChat's figures on a mass send ([sent, filtered, failed]; [] when none were applied)."""
        if figures:
            sent, filtered, failed = (int(x) for x in figures)
            metrics.BROADCAST_MESSAGES.labels("sent").inc(sent)
            metrics.BROADCAST_MESSAGES.labels("failed_permanent").inc(filtered + failed)

    async def _tell_author(self, bid: str) -> None:
        """Once a finished (or cancelled) broadcast has nothing left at WeChat's: the report with
        WeChat's figures, kept for the API and told to its author in WeCom, once. Called after
        each of the two things it waits for (the end, the last report) changed, so one of the
        calls sees both."""
        b = await self.get(bid)
        if b["status"] not in (Status.done.value, Status.cancelled.value) or b["submitted"]:
            return
        key = self.keys.broadcast(bid)
        if not await self.redis.hsetnx(key, "told_at", f"{time.time():.3f}"):
            return
        text, failed = self.report_text(b)
        await self.redis.hset(key, "report", text)
        await self.audit.record("system", "broadcast.report", bid, detail={"sent": b["sent"], "failed": failed, "to": b["created_by"]})
        if self.wecom is None or self.staff.by_userid(b["created_by"]) is None:
            return
        try:
            await self.wecom.send_text([b["created_by"]], text)
        except WeChatError as exc:
            log.warning("could not tell %s about broadcast %s in WeCom: %s", b["created_by"], bid, type(exc).__name__)
            await self.audit.record("system", "broadcast.report.wecom", bid, outcome="failed", detail={"error": type(exc).__name__})
            return
        await self.audit.record("system", "broadcast.report.wecom", bid, detail={"to": b["created_by"]})


class BroadcastSender:
    """The worker: takes the lease of a broadcast that is sending and walks its chunks.

    Any number of processes may run it; one holds a broadcast at a time, and whoever comes next
    (after a pause, a crash, a restart) goes on from the last checkpoint."""

    name = "broadcasts"

    def __init__(self, broadcasts: Broadcasts, settings: Any):
        self.b, self.settings = broadcasts, settings
        self.redis, self.keys = broadcasts.redis, broadcasts.keys
        self.me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._stopping = False
        self._stopped = asyncio.Event()  # wakes the waits between broadcasts: an idle sender stops at once

    def stop(self) -> None:
        self._stopping = True
        self._stopped.set()

    async def run(self) -> None:
        while not self._stopping:
            worked = False
            for raw in await self.redis.zrange(self.keys.broadcasts_active(), 0, -1):
                if self._stopping:
                    break
                worked |= await self.send(_s(raw))
            if not worked:
                await nap(self._stopped, self.settings.broadcast_poll_seconds)

    async def send(self, bid: str) -> bool:
        """Send what is left of `bid` if nobody else is; True if this worker held it."""
        lease = self.keys.broadcast_lease(bid)
        owner = f"{self.me}:{secrets.token_hex(4)}"
        ttl_ms = int(self.settings.broadcast_lease_seconds * 1000)
        if not await self.redis.set(lease, owner, nx=True, px=ttl_ms):
            return False
        run = _Run(bid, owner)
        keeper = asyncio.create_task(self._keep(run, lease, ttl_ms))
        try:
            await self._walk(run)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            await self.b._release(keys=[lease], args=[owner])
        return True

    async def _keep(self, run: _Run, lease: str, ttl_ms: int) -> None:
        """Renew the lease and watch the status, so a pause or cancel stops us within a beat."""
        beat = min(ttl_ms / 3000, 0.2)
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(beat)
            if time.monotonic() - renewed >= ttl_ms / 3000:
                if not await self.b._renew(keys=[lease], args=[run.owner, ttl_ms]):
                    run.halt = "lost lease"
                    return
                renewed = time.monotonic()
            if _s(await self.redis.hget(self.keys.broadcast(run.bid), "status")) != Status.sending.value:
                run.halt = "status changed"

    async def _walk(self, run: _Run) -> None:
        b = await self.b.get(run.bid)
        if b["status"] != Status.sending.value:
            await self.redis.zrem(self.keys.broadcasts_active(), run.bid)
            return
        await self.b.audit.record(f"worker:{self.me}", "broadcast.sending", run.bid,
                                  detail={"from_chunk": b["chunks_done"] + 1, "chunks": b["chunks"]})
        raw = await self.redis.hmget(self.keys.broadcast(run.bid), "ref", "channel", "title", "body")
        run.ref, channel = _s(raw[0]), _s(raw[1])
        text = self.b.notice_text({"title": _s(raw[2]), "body": _s(raw[3])})
        run.title, run.body, run.text = _s(raw[2]), _s(raw[3]), text
        n = b["chunks_done"]
        while True:
            if self._stopping or run.halt:
                return
            n += 1
            if n > b["chunks"]:
                await self._finish(run)
                return
            entry = await self.redis.xrange(self.keys.broadcast_recipients(run.bid), min=f"{n}-1", max=f"{n}-1")
            openids = _s(entry[0][1][b"o"] if entry else "").split()
            job = None  # a mass send's msg_id: WeChat reports on it later
            if channel == "mass" and len(openids) >= 2:
                counts, job = await self._mass_chunk(run, n, openids)
            else:
                counts = await self._template_chunk(run, openids)
            if counts is None:  # halted, paused for quota, or WeChat unavailable: the chunk stays open
                if not run.halt and not self._stopping:
                    await nap(self._stopped, self.settings.broadcast_retry_seconds)
                return
            pairs = [x for k, v in counts.items() for x in (k, v)]
            bc = self.keys.broadcast(run.bid)
            moved = await self.b._finish_chunk(
                keys=[bc, self.keys.broadcast_lease(run.bid), self.keys.mass_job(job) if job else bc],
                args=[n, run.owner, run.bid, len(openids) if job else 0, self.b.keep_seconds, *pairs])
            if moved == -1:
                run.halt = "lost lease"
                return
            if moved == 0:  # the checkpoint is elsewhere than we thought: go on from where it is
                n = (await self.b.get(run.bid))["chunks_done"]
            else:
                for field, count in counts.items():
                    metrics.BROADCAST_MESSAGES.labels({"n:sent": "sent", "n:submitted": "submitted"}.get(field, "failed_permanent")).inc(count)
                self.b.count_reported(moved[1:])  # WeChat's report on the job came before its checkpoint
            await self.b.audit.record(f"worker:{self.me}", "broadcast.chunk", run.bid,
                                      outcome="ok" if moved else "already done", detail={"chunk": n, "recipients": len(openids), **counts})

    async def _mass_chunk(self, run: _Run, n: int, openids: list[str]) -> tuple[dict[str, int] | None, str | None]:
        """Hand one chunk to WeChat as a mass send: the counters to move and the job WeChat will
        report on; (None, None) leaves the chunk for a later pass."""
        clientmsgid = f"bc-{run.ref}-{n}"
        for attempt in range(self.settings.broadcast_attempts):
            if run.halt or self._stopping:
                return None, None
            await self.b.mass_rate.wait()
            try:
                result = await self.b.wechat.mass_send(openids, clientmsgid=clientmsgid, text=run.text)
            except MassQuotaExhausted:
                return {"n:failed:mass_quota": len(openids)}, None
            except WeChatError as exc:
                if not exc.retryable:
                    return {f"n:failed:error_{getattr(exc, 'errcode', 'unknown')}": len(openids)}, None
                log.warning("broadcast %s chunk %s: %s; trying again", run.bid, n, type(exc).__name__)
                await asyncio.sleep(self._backoff(exc, attempt))
                continue
            if result.duplicate:  # the first send's msg_id: its report is the one that counts
                log.info("broadcast %s chunk %s had already been sent (clientmsgid seen)", run.bid, n)
            return {"n:submitted": len(openids)}, str(result.msg_id)
        return None, None

    async def _template_chunk(self, run: _Run, openids: list[str]) -> dict[str, int] | None:
        out = self.keys.broadcast_outcomes(run.bid)
        known = await self.redis.hmget(out, openids) if openids else []
        pending, uncertain = [], []
        for openid, seen in zip(openids, known):
            seen = _s(seen) if seen is not None else None
            if seen is None:
                pending.append(openid)
            elif seen.startswith("pending:"):
                # A process died during this call. Within WeChat's client_msg_id window a repeat
                # is harmless; after it, we cannot know whether it arrived, and never send twice.
                fresh = time.time() - float(seen[len("pending:"):]) < self.settings.broadcast_dedup_seconds
                (pending if fresh else uncertain).append(openid)
        if uncertain:
            await self.b._record(keys=[out, self.keys.broadcast(run.bid)], args=[x for o in uncertain for x in (o, "failed:uncertain")])
        limit = asyncio.Semaphore(self.settings.broadcast_concurrency)
        unfinished = False

        async def one(openid: str) -> None:
            nonlocal unfinished
            async with limit:
                if run.halt or self._stopping or unfinished:
                    unfinished = True
                    return
                outcome = await self._template_one(run, openid, out)
                if outcome is None:
                    unfinished = True
                    return
                await self.b._record(keys=[out, self.keys.broadcast(run.bid)], args=[openid, outcome])
                metrics.BROADCAST_MESSAGES.labels("sent" if outcome == "sent" else "failed_permanent").inc()

        await asyncio.gather(*(one(o) for o in pending))
        return None if unfinished else {}

    async def _template_one(self, run: _Run, openid: str, out: str) -> str | None:
        """Send one template message; None leaves the recipient for a later pass.

        Just before the first call, the recipient is marked pending: if the process dies during
        the call, whoever goes on knows it may have arrived (see _template_chunk). A failure that
        surely sent nothing takes the mark away again."""
        data = {"first": run.title, "keyword1": run.title, "keyword2": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600)), "remark": run.body}
        marked = ambiguous = False
        for attempt in range(self.settings.broadcast_attempts):
            if run.halt:
                break
            await self.b.template_rate.wait()
            if not marked:
                marked = bool(await self.redis.hsetnx(out, openid, f"pending:{time.time():.3f}"))
            try:
                await self.b.wechat.send_template(openid, self.settings.broadcast_template_id, data, client_msg_id=f"bc-{run.ref}")
                return "sent"
            except NotFollowing:
                return "failed:unfollowed"
            except InvalidOpenID:
                return "failed:invalid_user"
            except SubscriptionRefused:
                return "failed:refused"
            except DailyQuotaExceeded:
                await self._pause_for_quota(run)
                break
            except WeChatError as exc:
                if not exc.retryable:
                    return f"failed:error_{getattr(exc, 'errcode', 'unknown')}"
                ambiguous |= isinstance(exc, WeChatTimeout)
                await asyncio.sleep(self._backoff(exc, attempt))
        if marked and not ambiguous:
            await self.b._forget_pending(keys=[out], args=[openid])
        return None

    def _backoff(self, exc: Exception, attempt: int) -> float:
        if isinstance(exc, WeChatAPIError) and exc.errcode == 45011:
            return self.settings.broadcast_rate_backoff_seconds
        return min(self.settings.broadcast_retry_seconds * 2 ** attempt, 30.0)

    async def _pause_for_quota(self, run: _Run) -> None:
        if run.halt == "quota":
            return
        run.halt = "quota"
        result = _s(await self.b._transition(keys=[self.keys.broadcast(run.bid), self.keys.broadcasts_active()],
                                             args=["sending", "paused", "rem", run.bid, "paused_reason", "daily_quota"]))
        if result.startswith("ok:"):
            await self.b.audit.record(f"worker:{self.me}", "broadcast.pause", run.bid, detail={"reason": "daily template quota reached"})

    async def _finish(self, run: _Run) -> None:
        """Done: the status and the report change together, so whoever sees `done` sees the report."""
        b = await self.b.get(run.bid)
        text, _ = self.b.report_text({**b, "status": Status.done.value})
        result = _s(await self.b._transition(keys=[self.keys.broadcast(run.bid), self.keys.broadcasts_active()],
                                             args=["sending", "done", "rem", run.bid, "finished_at", f"{time.time():.3f}", "report", text]))
        if result.startswith("ok:"):
            await self.b.audit.record(f"worker:{self.me}", "broadcast.done", run.bid,
                                      detail={"total": b["total"], "sent": b["sent"], "failed": b["failed"]})
            await self.b._report(run.bid, written=text)
            await self.b._retire(run.bid)


class _Run:
    __slots__ = ("bid", "owner", "halt", "ref", "title", "body", "text")

    def __init__(self, bid: str, owner: str):
        self.bid, self.owner, self.halt = bid, owner, ""
        self.ref = self.title = self.body = self.text = ""


def _is_id(bid: str) -> bool:
    return isinstance(bid, str) and bid.startswith("b") and bid[1:].isascii() and bid[1:].isdigit() and len(bid) < 20


def _mask_openid(openid: str) -> str:
    return openid[:6] + "***" + hashlib.sha256(openid.encode()).hexdigest()[:4] if len(openid) > 8 else "***"


def _explain(exc: ValidationError) -> str:
    details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
    return f"群发内容有误，请检查后重试（{details}）"
