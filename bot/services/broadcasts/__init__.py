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

The package, one module per job (the names callers use are importable from here):
- `drafts`: what a broadcaster writes and its audience, validated; the states; BroadcastError.
- `audiences`: who is in an audience, streamed, and the count at preview (the recipients stream).
- `workflow`: `Broadcasts`, the steps people take (create, preview, submit, approve, pause,
  resume, cancel) and reading a broadcast back.
- `sending`: `BroadcastSender`, the worker holding a broadcast's lease (bot.stores.Lease) and
  walking its chunks, and `RateLimit`, WeChat's sliding windows shared by every process.
- `reports`: the final report, told to the author, and WeChat's reports on mass sends.
"""

from bot.services.broadcasts.audiences import Audiences
from bot.services.broadcasts.drafts import STATUS_TEXT, Audience, BroadcastError, Draft, Status
from bot.services.broadcasts.reports import REASONS, TEMPLATE_REPORT, reason_label
from bot.services.broadcasts.sending import BroadcastSender, RateLimit
from bot.services.broadcasts.workflow import INVALID_TAG, TEMPLATE_NOTICE, Broadcasts

__all__ = [
    "INVALID_TAG", "REASONS", "STATUS_TEXT", "TEMPLATE_NOTICE", "TEMPLATE_REPORT", "Audience", "Audiences", "BroadcastError",
    "BroadcastSender", "Broadcasts", "Draft", "RateLimit", "Status", "reason_label",
]
