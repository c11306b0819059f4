"""The steps people take with a broadcast: create, preview, submit, approve, pause, resume, cancel,
and reading it back. Each checks what the acting staff member may do and is recorded in the
audit log; every change of state is one Lua call that moves it only if it still may."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any

from pydantic import ValidationError

from bot.services.broadcasts.audiences import Audiences
from bot.services.broadcasts.drafts import STATUS_TEXT, Audience, BroadcastError, Draft, Status, explain, is_id
from bot.services.broadcasts.policies import PolicyDraft, PolicyMatcher, parse_terms
from bot.services.broadcasts.reports import Reporting, reason_label
from bot.services.staff import StaffMember
from bot.stores import Lease
from bot.stores.client import repeatable
from bot.stores.scripts.broadcasts import JOB_REPORT, TRANSITION
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.wechat import WeChatAPIError, WeChatError

log = logging.getLogger(__name__)

TEMPLATE_NOTICE = "broadcast/notice.j2"
TEMPLATE_POLICY_BODY = "broadcast/policy_body.j2"
INVALID_TAG = 45159  # WeChat's errcode for a tag id the account does not have

# Every change of state moves atomically, and only if it still may. KEYS: broadcast, the active set.
# ARGV: allowed states (space-separated), new state, add/rem/'' (the active set), broadcast id, then
# field / value pairs. Returns 'ok:<state before>', 'no:<state>' or 'missing:'. The sender uses it too.

class Broadcasts(Reporting):
    """Create, preview, submit, approve, pause, resume, cancel and inspect broadcasts.

    Each method takes the acting staff member, checks what they may do, and records the step in
    the audit log; the admin API and the WeCom chat both call these."""

    #: For callers that may not import bot (the staff dialogs): what the steps raise, and reasons in words.
    Error = BroadcastError
    reason_label = staticmethod(reason_label)
    parse_terms = staticmethod(parse_terms)  # a policy's rules and matter, as typed in WeCom

    def __init__(self, redis: Any, keys: Any, wechat: Any, render: Any, audit: Any, staff: Any, settings: Any,
                 wecom: Any = None, *, policies: PolicyMatcher | None = None, catalog: Any = None):
        self.redis, self.keys, self.wechat, self.render = redis, keys, wechat, render
        self.audit, self.staff, self.settings, self.wecom = audit, staff, settings, wecom
        # 政策找人: who a policy's rules find (None: policies cannot be written), and the matters they name.
        self.policies, self.catalog = policies, catalog
        self.audiences = Audiences(redis, keys, wechat, policies)
        self._transition = redis.register_script(TRANSITION)
        # Safe to repeat: it keeps the first report and applies it once.
        self._job_report = repeatable(redis.register_script(JOB_REPORT))
        self.keep_seconds = int(settings.broadcast_keep_days * 86400)

    # Reading ---------------------------------------------------------------------------------

    async def get(self, bid: str) -> dict[str, Any]:
        """The broadcast as the API shows it: fields, progress and failures by reason."""
        if not is_id(bid):
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
            "policy": json.loads(f["policy"]) if f.get("policy") else None,
        }
        return out

    async def tags(self) -> list[Any]:
        """The account's WeChat tags (id, name, count), for a broadcaster choosing one; [] if WeChat cannot say."""
        try:
            return list(await self.wechat.tags()) if self.wechat is not None else []
        except WeChatError:
            return []

    async def list(self, count: int = 50, *, policies: bool | None = None) -> list[dict[str, Any]]:
        """The newest first; `policies` True: only policies, False: only plain broadcasts."""
        found: list[dict[str, Any]] = []
        start, page = 0, max(count, 1)
        while len(found) < count:
            ids = await self.redis.zrevrange(self.keys.broadcasts(), start, start + page - 1)
            if not ids:
                break
            start += page
            for bid in ids:
                try:
                    b = await self.get(_s(bid))
                except BroadcastError:
                    continue
                if policies is None or (b["policy"] is not None) == policies:
                    found.append(b)
        return found[:count]

    async def get_policy(self, bid: str) -> dict[str, Any]:
        b = await self.get(bid)
        if b["policy"] is None:
            raise BroadcastError("not_found", "没有这条政策", 404)
        return b

    # The steps a person takes ----------------------------------------------------------------

    async def create_policy(self, member: StaffMember, policy: PolicyDraft | dict[str, Any]) -> dict[str, Any]:
        """政策找人: write a policy as a broadcast to the people its rules find (a draft; nothing is
        sent). It then moves like any broadcast: preview (the exact count), submit, approve."""
        self._require(member, "broadcaster")
        if self.policies is None:
            raise BroadcastError("unavailable", "政策找人暂不可用", 503)
        if not isinstance(policy, PolicyDraft):
            try:
                policy = PolicyDraft.model_validate(policy)
            except ValidationError as exc:
                raise BroadcastError("invalid", explain(exc).replace("群发内容", "政策内容"), 400) from None
        matter = self.matter(policy.matter_code)
        if matter is None:
            raise BroadcastError("unknown_matter", f"没有编码为 {policy.matter_code} 的事项，请核对申请事项", 400)
        code, name = matter
        body = self.render(TEMPLATE_POLICY_BODY, summary=policy.summary, matter_name=name, matter_code=code)
        draft = Draft(title=policy.title, body=body, channel="template",
                      audience=Audience(kind="policy", rules=policy.rules))
        about = {"summary": policy.summary, "matter_code": code, "matter_name": name}
        return await self.create(member, draft, policy=about)

    def matter(self, code_or_name: str) -> tuple[str, str] | None:
        """(code, name) of the matter a policy names, by its code or its exact name; None if the
        catalog has no such matter (or has not loaded yet)."""
        summaries = getattr(self.catalog, "summaries", None) or {}
        if code_or_name in summaries:
            return code_or_name, summaries[code_or_name].name
        named = [s for s in summaries.values() if s.name == code_or_name.strip()]
        return (named[0].code, named[0].name) if named else None

    async def may_receive(self, openid: str) -> bool:
        """A policy's recipient still wants it, at the moment it is sent (退订政策 and 撤回授权 count at once)."""
        consents = getattr(self.policies, "consents", None)
        return consents is not None and await consents.may_match(openid)

    async def create(self, member: StaffMember, draft: Draft | dict[str, Any], *, policy: dict[str, str] | None = None) -> dict[str, Any]:
        self._require(member, "broadcaster")
        if not isinstance(draft, Draft):
            try:
                draft = Draft.model_validate(draft)
            except ValidationError as exc:
                raise BroadcastError("invalid", explain(exc), 400) from None
        if (draft.audience.kind == "policy") != (policy is not None):
            raise BroadcastError("invalid", "政策请通过「政策找人」撰写（/policies），它需要申请事项和条件", 400)
        if policy is not None and draft.channel == "mass":
            raise BroadcastError("invalid", "政策只能逐人发送（模板消息）", 400)
        channel = draft.channel
        if channel == "auto":
            channel = "mass" if draft.audience.kind in ("all", "tag") else "template"
        bid = f"b{await self.redis.incr(self.keys.broadcast_seq())}"
        now = time.time()
        await self.redis.hset(self.keys.broadcast(bid), mapping={
            "title": draft.title, "body": draft.body, "audience": draft.audience.model_dump_json(exclude_none=True),
            "channel": channel, "status": Status.draft.value, "created_by": member.userid, "created_at": f"{now:.3f}",
            "ref": secrets.token_hex(6), **({"policy": json.dumps(policy, ensure_ascii=False)} if policy else {}),
        })
        await self.redis.zadd(self.keys.broadcasts(), {bid: now})
        await self.audit.record(member.userid, "broadcast.create", bid, detail={
            "title": draft.title, "audience": draft.audience.model_dump(exclude_none=True), "channel": channel,
            **({"matter_code": policy["matter_code"]} if policy else {})})
        return await self.get(bid)

    async def preview(self, member: StaffMember, bid: str) -> dict[str, Any]:
        """Resolve the recipients now (exact count, de-duplicated) and show what they will read."""
        self._require(member, "broadcaster")
        b = await self.get(bid)
        if b["status"] != Status.draft.value:
            raise BroadcastError("wrong_state", f"这条群发已是「{STATUS_TEXT[b['status']]}」状态，不能再预览", 409)
        # The sender's lease, held while the recipients are written: one preview at a time.
        lease = Lease(self.redis, self.keys.broadcast_lease(bid), self.settings.broadcast_resolve_seconds)
        owner = secrets.token_hex(8)
        if not await lease.claim(owner):
            raise BroadcastError("busy", "这条群发正在预览中，请稍候", 409)
        try:
            # Forget any earlier count first, so nobody can submit while the recipients are rewritten.
            forgot = await self._transition(keys=[self.keys.broadcast(bid), self.keys.broadcasts_active()],
                                            args=["draft", "draft", "", bid, "total", "", "chunks", 0])
            if not _s(forgot).startswith("ok:"):
                raise BroadcastError("wrong_state", "这条群发的状态已变化", 409)
            size = self.settings.broadcast_mass_batch if b["channel"] == "mass" else self.settings.broadcast_template_batch
            total, chunks, sample = await self.audiences.resolve(bid, Audience.model_validate(b["audience"]), size)
        except (PlatformError, PlatformUnavailable) as exc:
            await self.audit.record(member.userid, "broadcast.preview", bid, outcome="failed", detail={"error": type(exc).__name__})
            raise BroadcastError("platform", "暂时无法向平台核对政策条件，请稍后再试", 502) from None
        except WeChatError as exc:
            await self.audit.record(member.userid, "broadcast.preview", bid, outcome="failed", detail={"error": type(exc).__name__})
            if isinstance(exc, WeChatAPIError) and exc.errcode == INVALID_TAG:  # the draft's fault: asking again later will not help
                raise BroadcastError("unknown_tag", "公众号没有这个标签，请检查标签编号后重新撰写", 409) from None
            raise BroadcastError("wechat", "暂时无法从微信读取用户列表，请稍后再试", 502) from None
        finally:
            await lease.release(owner)
        result = await self._transition(keys=[self.keys.broadcast(bid), self.keys.broadcasts_active()],
                                        args=["draft", "draft", "", bid, "total", total, "chunks", chunks,
                                              "previewed_at", f"{time.time():.3f}"])
        if not _s(result).startswith("ok:"):
            raise BroadcastError("wrong_state", "这条群发的状态已变化", 409)
        await self.audit.record(member.userid, "broadcast.preview", bid, detail={"total": total, "chunks": chunks})
        b = await self.get(bid)
        if b["policy"] is not None:
            sample = []  # who a policy found is personal (their age, their district): staff see the count only
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
        b = await self.get(bid)
        await self._ask_approvers(member, b)
        return b

    async def _ask_approvers(self, member: StaffMember, b: dict[str, Any]) -> None:
        """Tell those who may approve it (not its author or submitter, under the two-person rule) in
        WeCom that a broadcast waits for them: they were never told, and it waited unseen. Best
        effort: the broadcast waits in 待审批 whether or not the message goes."""
        own_allowed = not getattr(self.settings, "two_person_rule", True)
        to = [m.userid for m in self.staff.with_role("approver")
              if own_allowed or m.userid not in (member.userid, b.get("created_by"))]
        if self.wecom is None or not to:
            return
        try:
            await self.wecom.send_text(to, self.render("staff/broadcast_to_approve.j2", b=b, by=member.name))
        except WeChatError as exc:
            log.warning("could not ask approvers about broadcast %s in WeCom: %s", b["id"], type(exc).__name__)
            await self.audit.record("system", "broadcast.approvers.wecom", b["id"], outcome="failed", detail={"error": type(exc).__name__})
            return
        await self.audit.record("system", "broadcast.approvers.wecom", b["id"], detail={"to": to})

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
        lease = Lease(self.redis, self.keys.broadcast_lease(bid), self.settings.broadcast_lease_seconds)
        while await lease.holder() is not None and time.monotonic() < end:
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


def _s(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
