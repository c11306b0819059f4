"""Every Redis key the bot uses, built in one place.

Keys start with the configured prefix and name their owner first. Per-user keys put the user id
in a hash tag (`{...}`) so a Redis Cluster keeps one user's keys in one slot, which the per-turn
Lua scripts need.
"""

from __future__ import annotations

import re
from typing import Any

#: What a WeChat openid / WeCom userid may look like before we build a key from it.
USER_ID = re.compile(r"[A-Za-z0-9_\-@.]{1,64}")


class Keys:
    __slots__ = ("prefix",)

    def __init__(self, prefix: str = "ywtb:"):
        self.prefix = prefix

    def session(self, user: str) -> str:
        return f"{self.prefix}sess:{{{user}}}"

    def session_trace(self, user: str) -> str:
        """Outlives the session so an expired conversation can be mentioned on the next message."""
        return f"{self.prefix}sess:{{{user}}}:trace"

    def profile(self, user: str) -> str:
        """What a person chose that outlives any conversation (language, elder mode)."""
        return f"{self.prefix}profile:{{{user}}}"

    def lock(self, user: str) -> str:
        return f"{self.prefix}lock:{{{user}}}"

    def dedup(self, user: str, message: str) -> str:
        return f"{self.prefix}dedup:{{{user}}}:{message}"

    def held(self, user: str) -> str:
        """Replies that could not be pushed; they go out with the user's next answer."""
        return f"{self.prefix}held:{{{user}}}"

    def events(self) -> str:
        """The stream of case events from the platform, read by the notifier workers."""
        return f"{self.prefix}events"

    def event_seen(self, event_id: str) -> str:
        """Tagged with the stream's own name so both share a Redis Cluster slot (one Lua call
        checks this marker and appends to the stream)."""
        return f"{self.prefix}event:{{{self.events()}}}:{event_id}"

    def event_order(self, subject: str) -> str:
        """The stream entries of one case's (or appointment's) events that have not reached
        everyone yet, oldest first (bot.workers.notifier), per `order_subject`. Tagged like `event_seen`: the same Lua call
        appends to the stream and to this list."""
        return f"{self.prefix}event-order:{{{self.events()}}}:{subject}"

    def nonce(self, timestamp: str, nonce: str) -> str:
        return f"{self.prefix}nonce:{timestamp}:{nonce}"

    # Subscriptions and enterprise bindings ([Progress & notifications]) ------------------

    def case_subscribers(self, case_no: str) -> str:
        return f"{self.prefix}sub:case:{case_no}"

    def user_subscriptions(self, user: str) -> str:
        return f"{self.prefix}sub:user:{{{user}}}"

    def case_finished(self, case_no: str) -> str:
        """Set once a case's result is out (bot.workers.notifier): later deadline warnings are stale."""
        return f"{self.prefix}case:done:{case_no}"

    def enterprise_binders(self, credit_code: str) -> str:
        return f"{self.prefix}ent:binders:{credit_code}"

    def user_enterprises(self, user: str) -> str:
        return f"{self.prefix}ent:user:{{{user}}}"

    def enterprises_muted(self) -> str:
        """SET of credit codes whose binders asked for no reminders (静音提醒; case notices still go)."""
        return f"{self.prefix}ent:muted"

    def enterprise_reminded(self, reminder_id: str) -> str:
        """Set once a licence or annual-report reminder is scheduled (bot.services.enterprise_reminders)."""
        return f"{self.prefix}ent:reminded:{reminder_id}"

    # The hall queue (取号) ---------------------------------------------------------------------

    def ticket_owner(self, ticket_id: str) -> str:
        """STRING: the openid that took this queue ticket in chat (for "请到 X 窗口")."""
        return f"{self.prefix}queue:owner:{ticket_id}"

    def user_ticket(self, user: str) -> str:
        """STRING: the id of the queue ticket this person took last (for 排到哪了)."""
        return f"{self.prefix}queue:user:{{{user}}}"

    # Bookings ([Booking]) --------------------------------------------------------------------

    def appointment_owner(self, appointment_id: str) -> str:
        return f"{self.prefix}appt:owner:{appointment_id}"

    def user_appointments(self, user: str) -> str:
        """ZSET of the appointment ids a user booked in chat, scored by the slot's start time."""
        return f"{self.prefix}appt:user:{{{user}}}"

    def user_cancels(self, user: str, applicant: str) -> str:
        """ZSET of the appointments a user cancelled for one applicant (a keyed digest of the ID
        number, never the number), scored by when: bot.services.bookings.Bookings.book."""
        return f"{self.prefix}appt:cancels:{{{user}}}:{applicant}"

    def appointment_applicant(self, appointment_id: str) -> str:
        """The keyed digest of the ID number an appointment was booked for."""
        return f"{self.prefix}appt:applicant:{appointment_id}"

    def user_no_shows(self, user: str) -> str:
        """ZSET of a user's missed appointments (ids), scored by when they were missed."""
        return f"{self.prefix}appt:noshow:{{{user}}}"

    def applicant(self, user: str) -> str:
        """The applicant a user asked us to remember, encrypted (bot.services.bookings.Sealer)."""
        return f"{self.prefix}appt:who:{{{user}}}"

    # Scheduled jobs (bot.workers.scheduler) -------------------------------------------------------------
    # One hash tag for all of them: the claim script reads a job's hash and done marker beside
    # the due set, so a Redis Cluster must keep them in one slot.

    def scheduled(self) -> str:
        return f"{self.prefix}sched:{{jobs}}:due"

    def scheduled_job(self, job_id: str = "") -> str:
        """A job's hash (kind, payload, attempts, claim); without an id, the prefix of them all."""
        return f"{self.prefix}sched:{{jobs}}:job:{job_id}"

    def scheduled_done(self, job_id: str = "") -> str:
        """Set once a job has run, so a repeated schedule or a retaken claim does not run it again."""
        return f"{self.prefix}sched:{{jobs}}:done:{job_id}"

    # Staff --------------------------------------------------------------------------------

    def audit(self) -> str:
        return f"{self.prefix}audit"

    # Add new keys below, in a section for your feature (one edit per section). ----------------

    # Notifications ([Progress & notifications]) ----------------------------------------------

    def delivery(self, user: str, key: str) -> str:
        """One notice to one person (a HASH: state, channel, attempts, times), kept as its record."""
        return f"{self.prefix}dlv:{{{user}}}:{key}"

    def delivery_lease(self, user: str, key: str) -> str:
        """Held while a process is sending that notice, so two never send it at once."""
        return f"{self.prefix}dlv:{{{user}}}:{key}:lease"

    def case_deliveries(self, case_no: str) -> str:
        """ZSET of the delivery record keys of a case, scored by first attempt time."""
        return f"{self.prefix}dlv:case:{case_no}"

    # Rate limits ([Reliability]) ----------------------------------------------------------------

    def rate_user(self, user: str, window: int) -> str:
        """Messages of one user in one fixed window (same slot as the user's other keys)."""
        return f"{self.prefix}rl:u:{{{user}}}:{window}"

    def rate_ip(self, ip: str, window: int) -> str:
        return f"{self.prefix}rl:ip:{{{ip}}}:{window}"

    def rate_refused(self, ip: str, window: int) -> str:
        """Admin API requests of one client address refused (no or a wrong token) in one window."""
        return f"{self.prefix}rl:r:{{{ip}}}:{window}"

    # Progress, subscriptions and ratings ([Progress & notifications]) -------------------------

    def verified_cases(self, user: str) -> str:
        """HASH case_no -> the case's matter name and the sealed second factor that opened it."""
        return f"{self.prefix}prog:cases:{{{user}}}"

    def factor_failures(self, user: str, case_no: str) -> str:
        """Wrong second factors for one case number by one user (counter with a TTL)."""
        return f"{self.prefix}prog:fail:{{{user}}}:{case_no}"

    def case_factor_failures(self, case_no: str) -> str:
        """Wrong second factors for one case number by anyone (counter with a TTL)."""
        return f"{self.prefix}prog:casefail:{case_no}"

    def code_text_wait(self, user: str, credit_code: str) -> str:
        """Set while this user may not have another code texted to this enterprise (a key with a TTL)."""
        return f"{self.prefix}ent:textwait:{{{user}}}:{credit_code}"

    def code_texts(self, user: str) -> str:
        """Verification codes texted for this user in the current hour (counter with a TTL)."""
        return f"{self.prefix}ent:texts:{{{user}}}"

    def enterprise_names(self) -> str:
        """HASH credit_code -> the enterprise's name, as the platform confirmed it."""
        return f"{self.prefix}ent:names"

    def pending_ratings(self, user: str) -> str:
        """HASH case_no -> invitation (matter name, when asked) of finished cases not rated yet."""
        return f"{self.prefix}rate:pending:{{{user}}}"

    def ratings_given(self, user: str) -> str:
        """HASH case_no -> the rating this user gave (so a repeated invitation is not sent)."""
        return f"{self.prefix}rate:given:{{{user}}}"

    # Human hand-off ([Staff], bot.services.handoff) ------------------------------------------------------

    def handoff(self, user: str) -> str:
        """HASH: the citizen's hand-off ticket (number, status, agent, times, masked context, note)."""
        return f"{self.prefix}handoff:{{{user}}}"

    def handoff_queue(self) -> str:
        """ZSET of citizens waiting for an agent or with a message left, scored by when they asked."""
        return f"{self.prefix}handoff:queue"

    def handoff_active(self) -> str:
        """ZSET of citizens talking to an agent, scored by the last message either side sent."""
        return f"{self.prefix}handoff:active"

    def handoff_number(self, number: int | str = "") -> str:
        """Ticket number -> the citizen; without a number, the counter that hands them out."""
        return f"{self.prefix}handoff:no:{number}" if number != "" else f"{self.prefix}handoff:seq"

    def handoff_agent(self, userid: str) -> str:
        """The citizen an agent is talking to now."""
        return f"{self.prefix}handoff:agent:{{{userid}}}"

    def handoff_off_duty(self) -> str:
        """SET of agents who said 下线 (not notified, not counted as on duty)."""
        return f"{self.prefix}handoff:off"

    def handoff_digest(self, day: str) -> str:
        """Set once the day's "messages left overnight" notice has gone to the agents."""
        return f"{self.prefix}handoff:digest:{day}"

    # App messages to staff in WeCom (bot.services.wecom_outbox) ------------------------------

    def wecom_sent(self, userid: str) -> str:
        """ZSET: the app messages sent to a member within WeCom's hour, scored by when (ms)."""
        return f"{self.prefix}wecom-out:sent:{{{userid}}}"

    def wecom_queue(self, userid: str) -> str:
        """LIST: texts for a member waiting until WeCom's rate lets them through, oldest first."""
        return f"{self.prefix}wecom-out:queue:{{{userid}}}"

    def wecom_flushing(self, userid: str) -> str:
        """The lease of the process sending a member's waiting texts."""
        return f"{self.prefix}wecom-out:flushing:{{{userid}}}"

    def wecom_due(self) -> str:
        """ZSET: members with texts waiting, scored by when WeCom's rate allows the next one (ms)."""
        return f"{self.prefix}wecom-out:due"

    # Broadcasts ([Staff], bot.services.broadcasts) ------------------------------
    # One hash tag for all of them: the Lua scripts move a broadcast's hash, its outcomes, its
    # lease and the active set together, so a Redis Cluster must keep them in one slot.

    def broadcast(self, bid: str) -> str:
        """HASH: title, body, audience, channel, status, who and when, total, checkpoint, counters."""
        return f"{self.prefix}bc:{{bc}}:{bid}"

    def broadcast_recipients(self, bid: str) -> str:
        """STREAM of the resolved recipients, one entry (id `<chunk>-1`) per chunk."""
        return f"{self.prefix}bc:{{bc}}:{bid}:rcpt"

    def broadcast_seen(self, bid: str) -> str:
        """SET of openids already written while resolving (de-duplication), deleted afterwards."""
        return f"{self.prefix}bc:{{bc}}:{bid}:seen"

    def broadcast_outcomes(self, bid: str) -> str:
        """HASH openid -> outcome of template-message recipients, written once each."""
        return f"{self.prefix}bc:{{bc}}:{bid}:out"

    def mass_job(self, msg_id: str) -> str:
        """HASH: a mass send (by the msg_id WeChat gave it): its broadcast, size, WeChat's figures."""
        return f"{self.prefix}bc:{{bc}}:job:{msg_id}"

    def broadcast_lease(self, bid: str) -> str:
        return f"{self.prefix}bc:{{bc}}:{bid}:lease"

    def broadcasts(self) -> str:
        """ZSET of every broadcast id by creation time."""
        return f"{self.prefix}bc:{{bc}}:all"

    def broadcasts_active(self) -> str:
        """ZSET of the broadcasts a sender worker should be sending."""
        return f"{self.prefix}bc:{{bc}}:active"

    def broadcast_seq(self) -> str:
        return f"{self.prefix}bc:{{bc}}:seq"

    def rate(self, name: str) -> str:
        """A sliding-window log of calls to an outside API, shared by every process."""
        return f"{self.prefix}rate:{name}"

    def matter_subscribers(self, matter_code: str) -> str:
        """SET of openids who asked for a matter's notices."""
        return f"{self.prefix}sub:matter:{matter_code}"

    def department_subscribers(self, department: str) -> str:
        """SET of openids who asked for a department's notices."""
        return f"{self.prefix}sub:dept:{department}"

    def notices_followed(self, openid: str) -> str:
        """SET of what one person follows the notices of: "m:<matter code>" and "d:<department>"
        (取消通知 stops them all, from anywhere)."""
        return f"{self.prefix}sub:followed:{openid}"

    def enterprises_by_industry(self, industry: str) -> str:
        """SET of bound enterprises' credit codes in an industry."""
        return f"{self.prefix}ent:industry:{industry}"

    # Policies and consent (政策找人, 免申即享: bot.services.consent) ---------------------------

    def consent(self, user: str) -> str:
        """HASH: what this person agreed the bot may use for matching (the sealed ID number, when)."""
        return f"{self.prefix}consent:{{{user}}}"

    def consented(self) -> str:
        """SET of openids who gave consent (staff see its size, never its members)."""
        return f"{self.prefix}consent:all"

    def consent_by_id(self, digest: str) -> str:
        """SET of openids who verified the ID number with this keyed digest (never the number itself)."""
        return f"{self.prefix}consent:id:{digest}"

    def policy_subscribers(self) -> str:
        """SET of openids who asked for policy pushes (订阅政策)."""
        return f"{self.prefix}policy:subs"


def order_subject(event: Any) -> str:
    """What the order of a platform event (integrations.platform.models.CaseEvent) is kept for:
    its case, or for a missed appointment (no case) the appointment. Here, beside
    `Keys.event_order`, because the receiver (bot.web.events) files by it and the notifier
    (bot.workers.notifier) reads by it, and neither room may import the other."""
    return f"case:{event.case_no}" if event.case_no else f"appointment:{event.appointment_id or event.id}"
