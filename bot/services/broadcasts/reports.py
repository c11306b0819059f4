"""The end of a broadcast: its report (kept for the API, told to its author in WeCom once WeChat's
figures are all in), failure reasons in words, and WeChat's MASSSENDJOBFINISH reports on mass
sends, which turn "submitted" recipients into sent, filtered and failed."""

from __future__ import annotations

import logging
import time
from typing import Any

from bot import metrics
from bot.services.broadcasts.drafts import Status
from integrations.wechat import MassSendJobFinished, WeChatError

log = logging.getLogger(__name__)

TEMPLATE_REPORT = "broadcast/report.j2"

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
    "withdrawn": "已退订政策或撤回授权，未发送",
}


def reason_label(reason: str) -> str:
    """A failure reason in words; WeChat error codes we have no name for are shown as codes."""
    if reason in REASONS:
        return REASONS[reason]
    return "微信错误码 " + reason.removeprefix("error_") if reason.startswith("error_") else reason


class Reporting:
    """The reporting half of bot.services.broadcasts.Broadcasts (which mixes it in): it uses the
    broadcast's redis, keys, render, audit, staff, wecom, keep_seconds, get() and the registered
    JOB_REPORT script (`_job_report`, bot.stores.scripts.broadcasts)."""

    redis: Any
    keys: Any
    render: Any
    audit: Any
    staff: Any
    wecom: Any
    keep_seconds: int
    _job_report: Any

    async def get(self, bid: str) -> dict[str, Any]:
        raise NotImplementedError

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


def _s(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
