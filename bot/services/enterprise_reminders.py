"""Reminders before things lapse, for people bound to an enterprise (#18 item 2): a licence
60, 30 and 7 days before it expires (`licence_reminder_days`), and last year's 企业年报 once in
January and once in June (`annual_report_reminder_months`) while it is not filed.

Everything runs on the scheduler (bot.workers.scheduler), so a restart loses nothing and no
process does it twice:

- A sweep job per period (`ent-sweep:<n>`, every `enterprise_reminder_sweep_seconds`) walks the
  enterprises someone is bound to, skips muted ones (静音提醒), asks the platform for their
  licences and last year's report, and for each reminder now due schedules one job named after
  the reminder itself (`ent:lic:<licence>:<valid until>:<days>`, `ent:ar:<code>:<year>:<month>`),
  then schedules the next sweep. A licence first seen 25 days before it lapses gets the 30-day
  reminder only; a renewed licence (a new expiry date) starts its own series.
- A reminder job tells every binder of the enterprise at that moment, unless the enterprise was
  muted meanwhile, through bot.services.delivery (one delivery record per person, keyed by the
  reminder's id: sent once, whoever sends it).

A reminder is remembered (`ent:reminded:<id>`, a year) once its job is scheduled, so the sweeps
that follow, in any process, after any restart, pass it by; the scheduler's own run-once marker
covers the moment between the two writes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.logs import user_ref
from bot.services.delivery import TemporaryFailure
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.models import AnnualReportStatus, LicenceStatus

log = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
SWEEP = "enterprise_sweep"  # the scheduler's job kinds
REMINDER = "enterprise_reminder"
REMEMBER_DAYS = 400  # longer than any licence's series of reminders and a report year


def sweep_id(period: int) -> str:
    return f"ent-sweep:{period}"


def licence_reminder_id(licence_id: str, valid_until: str, days: int) -> str:
    return f"ent:lic:{licence_id}:{valid_until}:{days}"


def report_reminder_id(credit_code: str, year: int, month: int) -> str:
    return f"ent:ar:{credit_code}:{year}:{month}"


def threshold(days_left: int, thresholds: list[int]) -> int | None:
    """The reminder a licence with `days_left` is due for: the nearest threshold it has reached
    (25 days left: the 30-day one), or None (more than the largest left, or lapsed already)."""
    reached = [d for d in thresholds if 0 <= days_left <= d]
    return min(reached) if reached else None


class EnterpriseReminders:
    """Registers its job kinds with the scheduler; as a worker (bot.workers.runner) it only puts
    the first sweep on the scheduler, retried by the runner while Redis is away."""

    name = "enterprise_reminders"

    def __init__(self, redis: Any, keys: Any, platform: Any, scheduler: Any, subscriptions: Any, delivery: Any, settings: Any):
        self.redis, self.keys, self.platform, self.scheduler = redis, keys, platform, scheduler
        self.subscriptions, self.delivery, self.settings = subscriptions, delivery, settings
        scheduler.handle(SWEEP, self.sweep)
        scheduler.handle(REMINDER, self.remind)

    @property
    def period(self) -> int:
        return max(int(self.settings.enterprise_reminder_sweep_seconds), 1)

    async def run(self) -> None:
        await self.start()

    async def start(self) -> None:
        """At start-up, in every process: the sweep of this period, or (it ran) of the next."""
        current = int(self.scheduler.clock() // self.period)
        if not await self.scheduler.schedule(sweep_id(current), self.scheduler.clock(), SWEEP, {"period": current}):
            await self.scheduler.schedule(sweep_id(current + 1), (current + 1) * self.period, SWEEP, {"period": current + 1})

    # The sweep --------------------------------------------------------------------------------

    async def sweep(self, job: dict[str, Any]) -> None:
        """The scheduler's handler: schedule every reminder now due, then the next sweep. An
        enterprise the platform cannot answer for now is tried again by the next sweep."""
        now = datetime.fromtimestamp(self.scheduler.clock(), BEIJING)
        scheduled = 0
        for code, name in await self.subscriptions.bound_enterprises():
            if await self.subscriptions.is_muted(code):
                continue
            try:
                scheduled += await self._licences(code, name, now)
                scheduled += await self._annual_report(code, name, now)
            except (PlatformError, PlatformUnavailable) as error:
                log.warning("reminder sweep: enterprise %s…%s skipped: %s", code[:6], code[-4:], type(error).__name__)
        # The next period after now (not after the job's): a clock that jumped runs one sweep, not many.
        following = int(self.scheduler.clock() // self.period) + 1
        await self.scheduler.schedule(sweep_id(following), following * self.period, SWEEP, {"period": following})
        if scheduled:
            log.info("reminder sweep: %d reminder(s) scheduled", scheduled)

    async def _licences(self, code: str, name: str, now: datetime) -> int:
        scheduled = 0
        for licence in await self.platform.enterprise_licences(code):
            if licence.status != LicenceStatus.valid or licence.valid_until is None or licence.days_left is None:
                continue
            days = threshold(licence.days_left, list(self.settings.licence_reminder_days))
            if days is None:
                continue
            reminder = licence_reminder_id(licence.id, licence.valid_until.isoformat(), days)
            payload = {
                "id": reminder, "what": "licence", "credit_code": code, "enterprise": name, "days": days,
                "licence_name": licence.name, "licence_no": licence.licence_no, "valid_until": licence.valid_until.isoformat(),
                "days_left": licence.days_left, "renewal_matter_code": licence.renewal_matter_code,
                "renewal_matter_name": licence.renewal_matter_name, "issuer": licence.issuer,
            }
            scheduled += await self._schedule(reminder, now, payload)
        return scheduled

    async def _annual_report(self, code: str, name: str, now: datetime) -> int:
        if now.month not in self.settings.annual_report_reminder_months:
            return 0
        year = now.year - 1
        reminder = report_reminder_id(code, year, now.month)
        if await self.redis.exists(self.keys.enterprise_reminded(reminder)):
            return 0  # asked the platform already this month
        report = await self.platform.annual_report(code, year)
        if report.status != AnnualReportStatus.pending:
            return 0
        payload = {"id": reminder, "what": "annual_report", "credit_code": code, "enterprise": name, "year": year,
                   "due_on": report.due_on.isoformat(), "month": now.month}
        return await self._schedule(reminder, now, payload)

    async def _schedule(self, reminder: str, now: datetime, payload: dict[str, Any]) -> int:
        marker = self.keys.enterprise_reminded(reminder)
        if await self.redis.exists(marker):
            return 0
        await self.scheduler.schedule(reminder, self._sending_time(now).timestamp(), REMINDER, payload)
        await self.redis.set(marker, "1", ex=REMEMBER_DAYS * 86400)
        return 1

    def _sending_time(self, now: datetime) -> datetime:
        """Now within the sending hours (Beijing time); else their next start: nobody is woken."""
        start, end = self.settings.enterprise_reminder_hours
        if start <= now.hour < end:
            return now
        day = now.date() + timedelta(days=1 if now.hour >= end else 0)
        return datetime(day.year, day.month, day.day, start, tzinfo=BEIJING)

    # One reminder -----------------------------------------------------------------------------

    async def remind(self, job: dict[str, Any]) -> None:
        """The scheduler's handler: tell every binder now, unless the enterprise is muted now.
        A temporary failure for anyone retries the job; whoever was told is not told again."""
        code = job["credit_code"]
        if await self.subscriptions.is_muted(code):
            log.info("reminder %s not sent: the enterprise muted its reminders", job["id"])
            return
        template = "notify/licence_expiring.j2" if job["what"] == "licence" else "notify/annual_report.j2"
        retry: TemporaryFailure | None = None
        for user in await self.subscriptions.binders(code):
            try:
                outcome = await self.delivery.send(user, job["id"], template, job, kind="reminder")
            except TemporaryFailure as failure:
                retry = failure
                continue
            log.info("reminder %s for %s: %s", job["id"], user_ref(user), getattr(outcome, "value", outcome))
        if retry is not None:
            raise retry
