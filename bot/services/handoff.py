"""The human hand-off (人工服务): a queue of citizens, agents in WeCom who take them one at a time,
messages relayed both ways, and the bot taking over again when it ends.

Who holds what:
- The ticket HASH `handoff:{openid}` is the shared truth: number, status (waiting | note |
  connected | ended), agent, times, the masked context agents see. Status changes are single-key
  Lua scripts, so two agents racing to accept, or an agent ending while the idle sweep ends, have
  exactly one winner.
- The citizen's session says where they are in the hand-off dialog (dialogs.handoff). Their own
  turns change it as usual; when an agent or the sweep changes it, they take the citizen's lock
  first, exactly like a turn does, and check the ticket again under it.
- `handoff:agent:{userid}` names the citizen an agent is talking to.

Photos go both ways: a citizen's is fetched from WeChat (bot.services.attachments: size and type
judged first), uploaded to WeCom and sent to the agent as an app image message after a line
saying whose it is; an agent's is fetched from WeCom, uploaded to WeChat and sent to the citizen
as a customer-service image message. Neither is kept or logged.

Every step is in the audit log; citizens appear there only as `user_ref` (a one-way hash).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import date, datetime, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.services.attachments import Attachments
from bot.services.audit import Audit
from bot.keys import Keys
from bot.logs import redact, user_ref
from bot.settings import Settings
from bot.templating import moment
from bot.services.staff import Staff, StaffMember
from bot.stores import KEEP, ConversationStore, Lease
from bot.stores.conversation import SessionChange
from bot.services.wecom_outbox import WeComOutbox
from bot.stores.scripts.handoff import CLAIM, MOVE
from dialogs.engine import Session
from dialogs.handoff import HANDOFF, Closed, Noted, Queued, Told
from dialogs.ports import AttachmentRefused
from dialogs.staff import Acceptance, Relay
from integrations.wechat.errors import NotFollowing, OutsideServiceWindow, ServiceMessageLimit, WeChatError

log = logging.getLogger(__name__)

WAITING, NOTE, CONNECTED, ENDED = "waiting", "note", "connected", "ended"
ENDED_TTL = 86400  # an ended ticket is kept this long: the citizen's rating refers to it
CONTEXT_LINES = 8  # masked lines of context kept on a ticket
QUEUE_LIMIT = 50  # entries `queue()` lists
COMPLAINT_CHARS = 500  # of what a citizen says was wrong, kept in the audit trail

_UNREACHABLE = {OutsideServiceWindow: "window", ServiceMessageLimit: "limit", NotFollowing: "unfollowed"}
_WEEKDAYS = "一二三四五六日"


class Hours:
    """When agents work: ISO weekdays and daily periods in one time zone; holidays are off and
    makeup workdays (调休) on, from the settings the rest of the bot uses."""

    def __init__(self, settings: Settings):
        self.tz = ZoneInfo(settings.handoff_timezone)
        self.weekdays = frozenset(settings.handoff_weekdays)
        self.periods = [(_minutes(p[:5]), _minutes(p[6:])) for p in settings.handoff_hours]
        self.holidays = frozenset(getattr(settings, "holidays", None) or ())
        self.makeup = frozenset(getattr(settings, "makeup_workdays", None) or ())

    def workday(self, day: date) -> bool:
        return day in self.makeup or (day.isoweekday() in self.weekdays and day not in self.holidays)

    def open_at(self, when: float) -> bool:
        local = datetime.fromtimestamp(when, self.tz)
        minute = local.hour * 60 + local.minute
        return self.workday(local.date()) and any(start <= minute < end for start, end in self.periods)

    def next_opening(self, when: float) -> datetime | None:
        local = datetime.fromtimestamp(when, self.tz)
        for ahead in range(31):
            day = local.date() + timedelta(days=ahead)
            if not self.workday(day):
                continue
            for start, _ in sorted(self.periods):
                opening = datetime(day.year, day.month, day.day, tzinfo=self.tz) + timedelta(minutes=start)
                if opening > local:
                    return opening
        return None

    def back_at(self, now: float) -> str:
        """When agents are next at work, as a person reads it; "" within working hours (they are
        at work now, only none is free or on duty: a later opening would be wrong to name)."""
        if self.open_at(now):
            return ""
        return self.say_when(self.next_opening(now), now)

    def describe(self) -> str:
        days = sorted(self.weekdays)
        if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            day_text = f"周{_WEEKDAYS[days[0] - 1]}至周{_WEEKDAYS[days[-1] - 1]}"
        else:
            day_text = "、".join(f"周{_WEEKDAYS[d - 1]}" for d in days)
        periods = "、".join(f"{_clock(s)}-{_clock(e)}" for s, e in self.periods)
        return f"{day_text} {periods}".strip()

    def say_when(self, opening: datetime | None, now: float) -> str:
        if opening is None:
            return ""
        today = datetime.fromtimestamp(now, self.tz).date()
        days = (opening.date() - today).days
        clock = _clock(opening.hour * 60 + opening.minute)
        if days == 0:
            return f"今天 {clock}"
        if days == 1:
            return f"明天 {clock}"
        return moment(opening, today)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


class Handoff:
    """The hand-off service: the citizen's side (dialogs.handoff.CitizenDesk), the agents' side
    (dialogs.staff.AgentDesk), the admin API's queue listing, and the sweep the worker runs."""

    def __init__(self, redis: Redis, keys: Keys, settings: Settings, staff: Staff, audit: Audit, render: Callable[..., str],
                 conversations: ConversationStore):
        self.redis, self.keys, self.settings, self.staff, self.audit, self.render = redis, keys, settings, staff, audit, render
        self.conversations = conversations  # citizens' sessions are changed only through it, under their lock
        self.hours = Hours(settings)
        self.wechat: Any = None  # integrations.wechat.WeChatClient, set at start-up
        self.wecom: Any = None  # integrations.wechat.WeComClient, set at start-up
        self._claim = redis.register_script(CLAIM)
        self._move = redis.register_script(MOVE)
        self._keep = settings.handoff_note_days * 86400
        self.outbox = WeComOutbox(redis, keys, settings)  # every app message to an agent goes through it

    def connect(self, wechat: Any, wecom: Any) -> None:
        """Hand in the API clients once they exist (they share the app's HTTP session)."""
        self.wechat, self.wecom = wechat, wecom
        self.outbox.wecom = wecom

    # Who is on duty ---------------------------------------------------------------------

    async def on_duty(self, now: float | None = None) -> list[StaffMember]:
        if not self.hours.open_at(time.time() if now is None else now):
            return []
        agents = self.staff.with_role("agent")
        if not agents:
            return []
        off = {_s(u) for u in await self.redis.smembers(self.keys.handoff_off_duty())}
        return [a for a in agents if a.userid not in off]

    async def set_on_duty(self, member: StaffMember, on: bool) -> None:
        key = self.keys.handoff_off_duty()
        await (self.redis.srem(key, member.userid) if on else self.redis.sadd(key, member.userid))
        await self.audit.record(member.userid, "handoff.duty", member.userid, outcome="on" if on else "off")

    async def is_off_duty(self, member: StaffMember) -> bool:
        return bool(await self.redis.sismember(self.keys.handoff_off_duty(), member.userid))

    # The citizen's side (called from the citizen's own turn) --------------------------------

    async def closed(self) -> Closed | None:
        now = time.time()
        if await self.on_duty(now):
            return None
        return Closed(hours=self.hours.describe(), back_at=self.hours.back_at(now), nobody=self.hours.open_at(now))

    async def request(self, user: str, context: dict[str, Any]) -> Queued:
        status, number = await self._ticket_fields(user, "status", "number")
        if status == WAITING and number:
            return Queued(int(number), await self._ahead(user))
        now = time.time()
        if status == NOTE and number:  # a message they left is now a request: it keeps its place
            number = int(number)
            await self.redis.hset(self.keys.handoff(user), mapping={"status": WAITING, "last": f"{now:.3f}"})
        else:
            number = await self._open_ticket(user, WAITING, context, now)
        ahead = await self._ahead(user)
        agents = await self.on_duty(now)
        lines = await self._context(user)
        notified = await self._notify([a.userid for a in agents], "staff/new_request.j2", number=number, lines=lines, ahead=ahead)
        await self.audit.record("citizen", "handoff.request", user_ref(user), detail={"number": number, "notified": len(agents) if notified else 0})
        return Queued(number, ahead)

    async def tell(self, user: str, text: str) -> Told:
        status, number, agent = await self._ticket_fields(user, "status", "number", "agent")
        key = self.keys.handoff(user)
        if status == WAITING:
            await self._add_context(user, f"说：{text}")
            await self.redis.hset(key, "last", f"{time.time():.3f}")
            return Told("kept", ahead=await self._ahead(user), number=int(number or 0))
        if status == NOTE:
            note = await self.redis.hget(key, "note")
            await self.redis.hset(key, "note", (_s(note) + "\n" if note else "") + text[:1000])
            return Told("noted", number=int(number or 0))
        if status != CONNECTED or not agent:
            return Told("ended")
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, "last", f"{now:.3f}").hincrby(key, "from_citizen", 1).zadd(self.keys.handoff_active(), {user: now})
            await pipe.execute()
        handed = await self.outbox.send(agent, self.render("staff/from_citizen.j2", number=number, text=text))
        if handed.outcome == "queued":  # WeCom's rate for the agent is spent: it goes with the next batch
            return Told("queued", number=int(number or 0), wait_seconds=handed.wait_seconds, first=handed.first)
        return Told("relayed" if handed.outcome == "sent" else "failed", number=int(number or 0))

    async def show_photo(self, user: str, media_id: str) -> Told:
        """A photo the citizen sent their agent: judged, uploaded to WeCom, then shown to the agent
        after a line saying whose it is (that line goes through the outbox, within WeCom's rate)."""
        status, number, agent = await self._ticket_fields(user, "status", "number", "agent")
        if status != CONNECTED or not agent:
            return Told("ended")
        try:
            photo = await Attachments(self.wechat).fetch(media_id, images_only=True)
        except AttachmentRefused as refused:
            return Told("refused", number=int(number or 0), reason=refused.reason)
        now = time.time()
        key = self.keys.handoff(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, "last", f"{now:.3f}").hincrby(key, "from_citizen", 1).zadd(self.keys.handoff_active(), {user: now})
            await pipe.execute()
        try:
            uploaded = await self.wecom.upload_media("image", photo.content, filename=photo.filename, content_type=photo.media_type)
        except WeChatError as error:
            log.warning("a citizen's photo was not uploaded to WeCom: %s", type(error).__name__)
            return Told("failed", number=int(number or 0))
        handed = await self.outbox.send(agent, self.render("staff/photo_from_citizen.j2", number=number))
        try:
            await self.wecom.send_image([agent], uploaded)
        except WeChatError as error:
            log.warning("a citizen's photo did not reach their agent: %s", type(error).__name__)
            return Told("failed", number=int(number or 0))
        await self.audit.record("citizen", "handoff.photo", user_ref(user), detail={"number": int(number or 0), "agent": agent, "bytes": len(photo.content)})
        if handed.outcome == "queued":
            return Told("queued", number=int(number or 0), wait_seconds=handed.wait_seconds, first=handed.first)
        return Told("relayed", number=int(number or 0))

    async def leave(self, user: str) -> None:
        """The citizen leaves the queue, withdraws a message, or ends the talk with their agent."""
        moved = await self._move_ticket(user, f"{WAITING} {NOTE} {CONNECTED}", ENDED, "citizen", ttl=ENDED_TTL)
        if moved is None:
            return
        old, agent, number = moved
        if old == CONNECTED:
            await self._wrap_up(user, number, agent, "citizen", from_citizen_turn=True)
        else:
            await self.redis.zrem(self.keys.handoff_queue(), user)
            await self.audit.record("citizen", "handoff.withdraw", user_ref(user), detail={"number": number, "was": old})

    async def leave_note(self, user: str, text: str, context: dict[str, Any]) -> Noted:
        now = time.time()
        status, number = await self._ticket_fields(user, "status", "number")
        if status == NOTE and number:  # a second message joins the first
            number = int(number)
            await self.tell(user, text)
        else:
            number = await self._open_ticket(user, NOTE, context, now, note=text[:1000])
        await self.audit.record("citizen", "handoff.note", user_ref(user), detail={"number": number})
        return Noted(number, self.hours.back_at(now))

    async def rate(self, user: str, number: int, satisfied: bool) -> None:
        ticket_number, agent = await self._ticket_fields(user, "number", "agent")
        if ticket_number == str(number):
            await self.redis.hset(self.keys.handoff(user), "rating", "satisfied" if satisfied else "unsatisfied")
        await self.audit.record("citizen", "handoff.rating", user_ref(user), outcome="satisfied" if satisfied else "unsatisfied",
                                detail={"number": number, "agent": agent if ticket_number == str(number) else ""})

    async def complain(self, user: str, number: int, text: str) -> None:
        """What was wrong with a talk, as its citizen said it after rating it unsatisfied: kept
        in the audit trail beside the rating (personal data masked), for whoever reviews the
        desk's ratings."""
        ticket_number, agent = await self._ticket_fields(user, "number", "agent")
        await self.audit.record("citizen", "handoff.complaint", user_ref(user), outcome="noted",
                                detail={"number": number, "agent": agent if ticket_number == str(number) else "",
                                        "said": redact(text)[:COMPLAINT_CHARS]})

    # The agents' side (called from an agent's WeCom turn) -------------------------------------

    async def queue(self) -> list[dict[str, Any]]:
        """Citizens waiting and messages left, oldest first, with personal data masked: what
        agents see in WeCom and the admin API lists."""
        users = [_s(u) for u in await self.redis.zrange(self.keys.handoff_queue(), 0, QUEUE_LIMIT - 1)]
        if not users:
            return []
        fields = ("number", "status", "since", "context", "note")
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in users:
                pipe.hmget(self.keys.handoff(user), *fields)
            rows = await pipe.execute()
        now, entries, stale = time.time(), [], []
        for user, row in zip(users, rows):
            ticket = dict(zip(fields, (_s(v) if v is not None else None for v in row)))
            if ticket["status"] not in (WAITING, NOTE):
                stale.append(user)
                continue
            since = float(ticket["since"] or now)
            entries.append({
                "number": int(ticket["number"] or 0),
                "status": ticket["status"],
                "since": datetime.fromtimestamp(since, self.hours.tz).isoformat(timespec="seconds"),
                "waited_minutes": int((now - since) // 60),
                "context": json.loads(ticket["context"] or "[]"),
                "note": redact(ticket["note"] or ""),
                "citizen": user_ref(user),
            })
        if stale:
            await self.redis.zrem(self.keys.handoff_queue(), *stale)
        return entries

    async def current(self, agent: str) -> tuple[str, int] | None:
        """The citizen (openid, ticket number) this agent is talking to, if any."""
        user = await self.redis.get(self.keys.handoff_agent(agent))
        if not user:
            return None
        user = _s(user)
        status, holder, number = await self._ticket_fields(user, "status", "agent", "number")
        if status == CONNECTED and holder == agent:
            return user, int(number or 0)
        await self._agent_hold(agent).release(user)
        return None

    async def accept(self, member: StaffMember, number: int | None = None) -> Acceptance:
        """Take the citizen with this ticket number (None: whoever has waited longest)."""
        if not member.can("agent"):
            await self.audit.record(member.userid, "handoff.accept", f"#{number or ''}", outcome="refused", detail={"reason": "not an agent"})
            return Acceptance("not_agent", number or 0)
        busy = await self.current(member.userid)
        if busy is not None:
            return Acceptance("busy", busy[1])
        now = time.time()
        if number is not None:
            user = await self.redis.get(self.keys.handoff_number(number))
            candidates = [_s(user)] if user else []
        else:
            candidates = [_s(u) for u in await self.redis.zrange(self.keys.handoff_queue(), 0, 9)]
        for user in candidates:
            won, was, holder = await self._claim(keys=[self.keys.handoff(user)], args=[member.userid, member.name, f"{now:.3f}", "" if number is None else str(number), self._keep])
            was, holder = _s(was), _s(holder)
            if won:
                return await self._accepted(member, user, was, now)
            if number is not None:
                outcome = "taken" if was in (CONNECTED, ENDED) and holder else "gone"
                await self.audit.record(member.userid, "handoff.accept", user_ref(user), outcome=outcome, detail={"number": number, "taken_by": holder})
                return Acceptance(outcome, number, by=holder)
        if number is not None:
            await self.audit.record(member.userid, "handoff.accept", f"#{number}", outcome="gone", detail={"number": number})
            return Acceptance("gone", number)
        return Acceptance("empty", 0)

    async def _accepted(self, member: StaffMember, user: str, was: str, now: float) -> Acceptance:
        key = self.keys.handoff(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self.keys.handoff_queue(), user).zadd(self.keys.handoff_active(), {user: now})
            pipe.set(self.keys.handoff_agent(member.userid), user, ex=self._keep)
            pipe.hmget(key, "number", "since", "context", "note")
            *_, (number, since, context, note) = await pipe.execute()
        number = int(_s(number) or 0)

        still_there = True

        async def connect(session: Session | None):
            nonlocal still_there
            status, agent = await self._ticket_fields(user, "status", "agent")
            if status != CONNECTED or agent != member.userid:
                still_there = False  # the citizen left a moment ago (and the agent was told)
                return KEEP
            # what the citizen had paused to ask for a person (a half-made booking) waits on past the talk
            return Session(HANDOFF, "connected", {"ticket": number, "agent": member.userid, "agent_name": member.name},
                           paused=session.paused if session is not None else [])

        await self._change_session(user, connect)
        if not still_there:
            return Acceptance("gone", number)
        undelivered = await self._push_citizen(user, [self.render("handoff/connected.j2", agent=member.name)])
        await self.audit.record(member.userid, "handoff.accept", user_ref(user), detail={"number": number, "was": was, "delivered": not undelivered})
        return Acceptance(
            "accepted", number, waited_minutes=int((now - float(_s(since) or now)) // 60),
            lines=json.loads(_s(context) or "[]"), note=_s(note) if note else "", undelivered=undelivered or "",
        )

    async def to_citizen(self, member: StaffMember, text: str) -> Relay:
        """An agent's message to the citizen they are talking to, as a customer-service message."""
        current = await self.current(member.userid)
        if current is None:
            return Relay("none")
        user, number = current
        now = time.time()
        key = self.keys.handoff(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, "last", f"{now:.3f}").hincrby(key, "from_agent", 1).zadd(self.keys.handoff_active(), {user: now})
            await pipe.execute()
        await self._change_session(user, _still_talking)  # saved again: the citizen's conversation is alive
        undelivered = await self._push_citizen(user, [self.render("handoff/from_agent.j2", agent=member.name, text=text)], choices=False)
        if undelivered:
            await self.audit.record(member.userid, "handoff.relay", user_ref(user), outcome="undelivered", detail={"number": number, "reason": undelivered})
            return Relay("held" if undelivered != "unfollowed" else "lost", number, undelivered)
        return Relay("sent", number)

    async def photo_to_citizen(self, member: StaffMember, media_id: str) -> Relay:
        """An agent's photo to the citizen they are talking to: fetched from WeCom and judged,
        uploaded to WeChat, sent as a customer-service image message."""
        current = await self.current(member.userid)
        if current is None:
            return Relay("none")
        user, number = current
        try:
            photo = await Attachments(self.wecom).fetch(media_id, images_only=True)
        except AttachmentRefused as refused:
            return Relay("refused", number, refused.reason)
        now = time.time()
        key = self.keys.handoff(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, "last", f"{now:.3f}").hincrby(key, "from_agent", 1).zadd(self.keys.handoff_active(), {user: now})
            await pipe.execute()
        await self._change_session(user, _still_talking)  # saved again: the citizen's conversation is alive
        try:
            uploaded = await self.wechat.upload_media("image", photo.content, filename=photo.filename, content_type=photo.media_type)
            await self.wechat.send_image(user, uploaded)
        except WeChatError as error:
            reason = next((why for cls, why in _UNREACHABLE.items() if isinstance(error, cls)), "unavailable")
            log.warning("an agent's photo to %s not delivered: %s", user_ref(user), type(error).__name__)
            await self.audit.record(member.userid, "handoff.photo", user_ref(user), outcome="undelivered", detail={"number": number, "reason": reason})
            return Relay("lost", number, reason)
        await self.audit.record(member.userid, "handoff.photo", user_ref(user), detail={"number": number, "bytes": len(photo.content)})
        return Relay("sent", number)

    async def end(self, member: StaffMember) -> int | None:
        """The agent ends the talk; returns its ticket number (None: there was none)."""
        current = await self.current(member.userid)
        if current is None:
            return None
        user, number = current
        moved = await self._move_ticket(user, CONNECTED, ENDED, "agent", ttl=ENDED_TTL, agent=member.userid)
        if moved is None:
            return None
        await self._wrap_up(user, number, member.userid, "agent")
        return number

    # The worker's sweep -------------------------------------------------------------------

    async def sweep(self, now: float | None = None) -> None:
        """End idle talks, turn long waits into left messages, and tell agents about messages
        left overnight once their hours start. Safe to run in every process at once."""
        now = time.time() if now is None else now
        await self._end_idle(now)
        await self._expire_waits(now)
        await self._morning_digest(now)

    async def _end_idle(self, now: float) -> None:
        cutoff = now - self.settings.handoff_idle_seconds
        active = self.keys.handoff_active()
        for raw in await self.redis.zrangebyscore(active, "-inf", cutoff, start=0, num=100):
            user = _s(raw)
            moved = await self._move_ticket(user, CONNECTED, ENDED, "timeout", ttl=ENDED_TTL, idle_before=cutoff)
            if moved is None:
                status, last = await self._ticket_fields(user, "status", "last")
                if status == CONNECTED and last:
                    await self.redis.zadd(active, {user: float(last)})  # it spoke since
                else:
                    await self.redis.zrem(active, user)
                continue
            _, agent, number = moved
            await self._wrap_up(user, number, agent, "timeout")

    async def _expire_waits(self, now: float) -> None:
        cutoff = now - self.settings.handoff_wait_seconds
        users = [_s(u) for u in await self.redis.zrangebyscore(self.keys.handoff_queue(), "-inf", cutoff, start=0, num=200)]
        if not users:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in users:
                pipe.hget(self.keys.handoff(user), "status")
            statuses = [_s(s) if s else "" for s in await pipe.execute()]
        for user, status in zip(users, statuses):
            if not status:
                await self.redis.zrem(self.keys.handoff_queue(), user)  # expired
            if status != WAITING:
                continue
            moved = await self._move_ticket(user, WAITING, NOTE, "wait", ttl=self._keep, idle_before=cutoff)
            if moved is None:
                continue
            number = int(moved[2] or 0)

            async def back_to_bot(session: Session | None):
                if session is None or session.dialog != HANDOFF or session.state != "waiting":
                    return KEEP
                return Session()

            await self._change_session(user, back_to_bot)
            await self._push_citizen(user, [self.render("handoff/moved_to_note.j2", number=number, back_at=self.hours.back_at(now))])
            await self.audit.record("system", "handoff.wait_expired", user_ref(user), detail={"number": number})

    async def _morning_digest(self, now: float) -> None:
        if not self.hours.open_at(now):
            return
        notes = [e for e in await self.queue() if e["status"] == NOTE]
        agents = await self.on_duty(now)
        if not notes or not agents:
            return
        day = datetime.fromtimestamp(now, self.hours.tz).date().isoformat()
        if not await self.redis.set(self.keys.handoff_digest(day), "1", nx=True, ex=2 * 86400):
            return
        await self._notify([a.userid for a in agents], "staff/digest.j2", notes=notes)
        await self.audit.record("system", "handoff.digest", day, detail={"notes": len(notes), "agents": len(agents)})

    # Helpers ----------------------------------------------------------------------------

    async def _open_ticket(self, user: str, status: str, context: dict[str, Any], now: float, note: str = "") -> int:
        number = int(await self.redis.incr(self.keys.handoff_number()))
        key = self.keys.handoff(user)
        ticket = {"number": number, "status": status, "since": f"{now:.3f}", "last": f"{now:.3f}",
                  "context": json.dumps(self._mask(context), ensure_ascii=False), "note": note}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key).hset(key, mapping=ticket).expire(key, self._keep)
            pipe.set(self.keys.handoff_number(number), user, ex=self._keep)
            pipe.zadd(self.keys.handoff_queue(), {user: now})
            await pipe.execute()
        return number

    def _mask(self, context: dict[str, Any]) -> list[str]:
        lines = []
        if context.get("from"):
            lines.append(f"来自：{context['from']}")
        if context.get("asked"):
            lines.append(f"问过：{context['asked']}")
        if context.get("case"):
            lines.append(f"正在看的办件：{context['case']}")
        if context.get("enterprise"):
            lines.append(f"企业：{context['enterprise']}")
        for said in context.get("said") or ():
            lines.append(f"说过：{said}")
        return [redact(line)[:200] for line in lines][-CONTEXT_LINES:]

    async def _add_context(self, user: str, line: str) -> None:
        key = self.keys.handoff(user)
        lines = json.loads(_s(await self.redis.hget(key, "context") or b"[]"))
        lines.append(redact(line)[:200])
        await self.redis.hset(key, "context", json.dumps(lines[-CONTEXT_LINES:], ensure_ascii=False))

    async def _context(self, user: str) -> list[str]:
        return json.loads(_s(await self.redis.hget(self.keys.handoff(user), "context") or b"[]"))

    async def _ahead(self, user: str) -> int:
        rank = await self.redis.zrank(self.keys.handoff_queue(), user)
        return int(rank or 0)

    def _agent_hold(self, agent: str) -> Lease:
        """An agent's hold on the citizen they talk to (`handoff:agent:{userid}` names them): only
        the talk that set it may clear it, never one that ended and was replaced."""
        return Lease(self.redis, self.keys.handoff_agent(agent), self._keep)

    async def _ticket_fields(self, user: str, *names: str) -> list[str]:
        values = await self.redis.hmget(self.keys.handoff(user), *names)
        return [_s(v) if v is not None else "" for v in values]

    async def _move_ticket(self, user: str, from_statuses: str, to: str, why: str, *, ttl: int, agent: str = "",
                           idle_before: float | None = None) -> tuple[str, str, int] | None:
        """Move the ticket's status atomically; (old status, agent, number), or None if it was not in `from_statuses`."""
        result = await self._move(keys=[self.keys.handoff(user)], args=[
            from_statuses, to, why, f"{time.time():.3f}", ttl, agent, "" if idle_before is None else f"{idle_before:.3f}",
        ])
        if not result[0]:
            return None
        return _s(result[1]), _s(result[2]), int(_s(result[3]) or 0)

    async def _wrap_up(self, user: str, number: int, agent: str, by: str, from_citizen_turn: bool = False) -> None:
        """After a talk ended: free the agent, hand the citizen back to the bot with a rating
        question, tell whoever did not end it, and record it."""
        counts = await self._ticket_fields(user, "from_citizen", "from_agent", "accepted")
        await self.redis.zrem(self.keys.handoff_active(), user)
        await self._agent_hold(agent).release(user)
        if not from_citizen_turn:  # in the citizen's own turn, the dialog moves itself to rating

            async def to_rating(session: Session | None):
                if session is None or session.dialog != HANDOFF or session.state != "connected" or session.data.get("ticket") != number:
                    return KEEP
                return Session(HANDOFF, "rating", {"ticket": number}, paused=session.paused)  # 继续 still resumes it

            if await self._change_session(user, to_rating):
                await self._push_citizen(user, [self.render("handoff/ended.j2", by=by) + "\n\n" + self.render("handoff/rate.j2")])
        if by != "agent":
            await self._notify([agent], "staff/ended.j2", number=number, by=by)
        minutes = int((time.time() - float(counts[2] or time.time())) // 60)
        await self.audit.record(agent if by == "agent" else ("citizen" if by == "citizen" else "system"), "handoff.end", user_ref(user),
                                detail={"number": number, "agent": agent, "by": by, "minutes": minutes,
                                        "from_citizen": int(counts[0] or 0), "from_agent": int(counts[1] or 0)})

    async def _change_session(self, user: str, change: SessionChange) -> bool:
        """Change a citizen's session from outside their conversation, under their lock like a
        turn (the conversation store's `change`). True when a new session was saved."""
        async def stamped(session: Session | None):
            new = await change(session)
            if new is not KEEP and new is not None:
                new.updated_at = time.time()
            return new

        outcome = await self.conversations.change(user, stamped)
        if outcome == "busy":
            log.warning("could not take %s's lock to move their hand-off", user_ref(user))
        return outcome == "saved"

    async def _push_citizen(self, user: str, texts: list[str], choices: bool = True) -> str | None:
        """Customer-service messages to a citizen: the bot's own with their numbered choices as
        items to tap (a msgmenu); an agent's words (`choices=False`) as they were typed. What
        WeChat will not take now is held for their next message (like the dispatcher's late
        replies); returns why, or None."""
        send = self.wechat.send_reply if choices else self.wechat.send_text
        for sent, text in enumerate(texts):
            try:
                await send(user, text)
            except WeChatError as error:
                reason = next((why for cls, why in _UNREACHABLE.items() if isinstance(error, cls)), "unavailable")
                log.warning("hand-off message to %s not delivered: %s", user_ref(user), type(error).__name__)
                if reason != "unfollowed":
                    await self.conversations.hold(user, texts[sent:])
                return reason
        return None

    async def _notify(self, userids: list[str], template: str, **context: Any) -> bool:
        """An app message to agents in WeCom (through the outbox: within WeCom's rate per member,
        queued beyond it); False when it could not reach them all."""
        if not userids or self.wecom is None:
            return False
        text = self.render(template, **context)
        handed = [await self.outbox.send(userid, text) for userid in userids]
        return all(h.outcome != "failed" for h in handed)


async def _still_talking(session: Session | None):
    return session if session is not None else KEEP


class HandoffSweeper:
    """The worker (bot.workers.runner) that runs `Handoff.sweep` every few seconds."""

    name = "handoff"

    def __init__(self, handoff: Handoff, every: float):
        self.handoff, self.every = handoff, every
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.handoff.sweep()
                await self.handoff.outbox.send_due()  # what a process that died left waiting
            except (RedisError, WeChatError, OSError) as exc:
                log.warning("hand-off sweep failed: %r", exc)
            try:
                await asyncio.wait_for(self._stopping.wait(), self.every)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping.set()


def _s(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
