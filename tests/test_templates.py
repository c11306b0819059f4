"""Every user-facing text renders, in Chinese, from templates/; and its English sibling (templates/en/), where\nthere is one, renders from the same context."""

from __future__ import annotations

import re
from datetime import date

from bot.workers.notifier import TEMPLATES as NOTICES
from bot.search import Hit
from bot.settings import Hall
from bot.templating import ELDER_DIR, ENGLISH_DIR, TEMPLATES_DIR, Renderer
from dialogs.language import LANGUAGE, Language
from dialogs.bundles import merged_materials
from dialogs.matters import follow_ups_for, questions_for
from dialogs.menu import OPTIONS
from dialogs.paging import window
from integrations.platform.models import AnnualReport, AnnualReportStatus, Appointment, CaseEvent, MaterialUpload, RequestedMaterial
from integrations.platform.simulator import World

HALL = Hall(name="区政务服务中心", address="人民路 188 号", hours="9:00-17:00", phone="021-1", transit="地铁 2 号线")

WORLD = World.load()
GUIDE = next(g for g in WORLD.guides.values() if g.name.startswith("居民身份证办理"))
PLATFORM_HALLS = [WORLD.halls[h] for h in GUIDE.halls]
BUNDLE = WORLD.bundle_card(next(iter(WORLD.bundles)))
BUNDLE_GUIDES = [WORLD.guides[code] for code in BUNDLE.matters]

#: Sample values for templates that need them; every other template takes none.
CONTEXTS = {
    "matters/candidates.j2": {"hits": [Hit(code=GUIDE.code, name=GUIDE.name, department=GUIDE.department, score=1.0)]},
    "matters/which_to_book.j2": {"hits": [Hit(code=GUIDE.code, name=GUIDE.name, department=GUIDE.department, score=1.0)], "when": "明天下午"},
    "matters/not_found.j2": {"query": "天气"},
    "matters/elsewhere_again.j2": {"told": "banks", "hall": None},
    "matters/from_guide.j2": {"guide": GUIDE, "line": "行动不便的老年人、残疾人可申请上门服务"},
    "matters/card.j2": {"guide": GUIDE, "halls": PLATFORM_HALLS, "online": "full"},
    "matters/follow_ups.j2": {"follow_ups": follow_ups_for(GUIDE)},
    "matters/question.j2": {"question": questions_for(GUIDE)[0]},
    "matters/materials.j2": {"guide": GUIDE, "materials": GUIDE.materials, "situations": ["首次申领"]},
    "matters/process.j2": {"guide": GUIDE},
    "matters/where.j2": {"guide": GUIDE, "halls": PLATFORM_HALLS},
    "matters/online.j2": {"guide": GUIDE, "online": "apply"},
    "matters/time.j2": {"guide": GUIDE, "rush": True},
    "matters/post.j2": {"guide": GUIDE},
    "matters/not_in_guide.j2": {"guide": GUIDE, "query": "狗要带过去吗"},
    "matters/anywhere.j2": {"guide": GUIDE, "lines": ["可在全国任一出入境窗口申请（全国通办）"]},
    "matters/department.j2": {"guide": GUIDE},
    "matters/home_visit.j2": {"guide": GUIDE, "online": "apply", "allowed": True, "materials": GUIDE.materials[:2]},
    "matters/hukou.j2": {"guide": GUIDE, "lines": ["户籍在广安区的居民"], "local_only": True, "situations": ["有外地缴费经历"],
                         "materials": GUIDE.materials[:1]},
    "matters/brings.j2": {"guide": GUIDE, "paper": "照片", "always": ["居民户口簿"], "sometimes": ["结婚证"], "situational": True},
    "matters/told.j2": {"matter": "居民身份证办理", "guided": False},
    "matters/booking_asked.j2": {"matter": "居民身份证办理"},
    "booking/take_your_time.j2": {"step": "id_number"},
    "booking/its_hall.j2": {"hall": HALL, "other": True},
    "common/grievance.j2": {"in_dialog": True},
    "matters/pick_listed.j2": {"count": 5, "number": "8"},
    "progress/digits_paused.j2": {},
    "staff/not_relayed.j2": {"word": "取消"},
    "subscriptions/contact_gone.j2": {"contact": "136********"},
    "staff/broadcast_to_approve.j2": {"b": {"id": "b9", "title": "医保缴费提醒", "total": 120}, "by": "王工"},
    "progress/why_slow.j2": {"standing": {"state": "processing", "days_left": -2, "missing": [], "reason": ""}, "promised": date(2026, 12, 3)},
    "progress/why_refused.j2": {"reason": "申请人学历不符合要求"},
    "matters/elsewhere.j2": {"told": "foreign_permits", "hall": HALL},
    "matters/explained.j2": {"situation": "父母一方户口不在本地", "adds": ["户口簿"], "choice": False},
    "matters/fee.j2": {"guide": GUIDE, "receiving": False, "periodic": True},
    "matters/no_guide.j2": {"matter": WORLD.summaries[GUIDE.code], "others": True, "asked": True},
    "bundles/card.j2": {"bundle": BUNDLE, "parts": BUNDLE.parts, "halls": PLATFORM_HALLS, "departments": BUNDLE.departments, "separate_days": 9},
    "bundles/follow_ups.j2": {"bundle": BUNDLE, "bookable": True},
    "bundles/materials.j2": {"bundle": BUNDLE, "materials": merged_materials(BUNDLE_GUIDES, {"agent"}), "situations": ["委托他人代办"], "saved": 3},
    "bundles/not_bookable.j2": {"bundle": BUNDLE},
    "bundles/where.j2": {"bundle": BUNDLE, "halls": PLATFORM_HALLS},
    "bundles/agent.j2": {"bundle": BUNDLE, "allowed": ["公司设立登记"], "materials": BUNDLE_GUIDES[0].materials[:2], "every": False},
    "bundles/no_option_fits.j2": {"matter": "食品经营许可核发"},
    "bundles/online.j2": {"bundle": BUNDLE, "online": [(1, "公司设立登记", "full"), (3, "发票领用", "apply")]},
    "bundles/time_and_fee.j2": {"bundle": BUNDLE, "time": True, "fee": True,
                                "fees": [(g.name, f) for g in WORLD.guides.values() for f in g.fees][:2]},
    "menu/menu.j2": {"options": OPTIONS},
    "halls/pick.j2": {"halls": [{"name": HALL.name, "km": 1.2, "hours": HALL.hours}], "located": True, "with_hours": True,
                      "page": window([{"name": HALL.name, "km": 1.2, "hours": HALL.hours}] * 3, 0, 2)},
    "halls/detail.j2": {"hall": HALL},
    "halls/open_on.j2": {"day": date(2026, 12, 13), "now": True, "clock": "10:30", "holiday": False,
                         "rows": [{"hall": PLATFORM_HALLS[0], "hours": PLATFORM_HALLS[0].hours[:1], "open_now": True}]},
    "common/help.j2": {"in_dialog": True, "options": OPTIONS},
    "common/small_talk.j2": {"kind": "ack", "at_rest": False, "question": True, "today": date(2026, 12, 6), "declined": "预约办事", "unfinished": "预约办事"},
    "menu/no_such_option.j2": {"number": "12"},
    "common/miss.j2": {"misses": 2},
    "common/cancelled.j2": {"title": "预约办事", "unchanged": False, "kept": True},
    "common/coming_soon.j2": {"title": "办事指南"},
    "desk/already_notified.j2": {"enterprise": "四川渠江商贸有限公司"},
    "booking/pick_shown.j2": {"first": 6, "last": 11},
    "progress/when_done.j2": {"promised": date(2026, 12, 28)},
    "progress/rate_when_done.j2": {},
    "progress/take_your_time.j2": {"step": "number"},
    "progress/rate_bundle.j2": {},
    "progress/collect.j2": {"collect": None, "halls": PLATFORM_HALLS[:2]},
    "progress/other_collects.j2": {"matter": "普通护照签发", "collect": "窗口领取", "phone": "0826-2332110", "allowed": True, "materials": GUIDE.materials[:2]},
    "booking/details_kept.j2": {"kinds": ["id_number", "phone"], "mistyped": False, "step": "slot"},
    "common/conflict.j2": {"kind": "phone", "values": ["138****8000", "139****9000"]},
    "booking/not_offered.j2": {"day": "2026-12-13", "at": "", "part": "", "several": False, "hall": PLATFORM_HALLS[0], "why": "not_bookable",
                               "hours": PLATFORM_HALLS[0].hours[:1], "others": [h.name for h in PLATFORM_HALLS[1:]] or ["市政务服务中心"], "last": "2026-12-11", "first": "2026-12-08"},
    "booking/hall_not_offered.j2": {"several": True},
    "common/resume_offer.j2": {"title": "预约办事"},
    "common/resumed.j2": {"title": "预约办事"},
    "common/nothing_to_resume.j2": {"in_dialog": False},
    **{
        template: {"event": CaseEvent(
            id="evt_1", type=kind, case_no="51160220261128100001", at="2026-11-28T09:00:00+08:00", matter_name=GUIDE.name,
            department="区行政审批局", from_department="区公安分局", note="材料齐全", materials=["户口簿"], days_left=2,
            appointment_id="A1",
        ), "via": "case", "at": "2026-11-28T09:00:00+08:00"}
        for kind, template in NOTICES.items()
    },
}

# [Booking]: the booking dialog, 我的预约 and reminders.
_HALL = PLATFORM_HALLS[0]
_APPOINTMENT = Appointment(
    id="A1", number="12010001", matter_code=GUIDE.code, matter_name=GUIDE.name, hall_id=_HALL.id, date="2026-12-01",
    start="09:00", end="09:30", status="booked", applicant_name="张*", applicant_id_masked="511***********1234", created_at="2026-11-28T09:00:00+08:00",
)
_ITEM = {"id": "A1", "number": "12010001", "matter_name": GUIDE.name, "day": "2026-12-01", "start": "09:00", "end": "09:30",
         "hall": _HALL.name, "address": _HALL.address, "phone": _HALL.phone}
_MASKED = {"name": "张*", "id_number": "511***********1234", "phone": "138****5678"}
_PICKED = {"data": {"start": "09:00", "end": "09:30", "location": None, "sole_hall": "taken"}, "day": "2026-12-01", "hall": _HALL, "matter": GUIDE.name,
           "days": [{"day": "2026-12-01", "remaining": 12}], "slots": [{"start": "09:00", "end": "09:30", "remaining": 2}]}
_PICKED.update(days_page=window(_PICKED["days"], 0), slots_page=window(_PICKED["slots"], 0))
CONTEXTS.update({
    "booking/candidates.j2": {"candidates": [[GUIDE.code, GUIDE.name, GUIDE.department]]},
    "booking/not_bookable.j2": {"matter": GUIDE.name},
    "booking/paused.j2": {"until": "2026-12-30", "halls": PLATFORM_HALLS},
    "booking/halls.j2": {**_PICKED, "halls": [{"hall": h, "km": 1.2} for h in PLATFORM_HALLS], "located": True},
    "booking/hall_full.j2": {"hall": _HALL},
    "booking/days.j2": _PICKED,
    "booking/day_full.j2": _PICKED,
    "booking/slots.j2": _PICKED,
    "booking/who.j2": {"known": _MASKED},
    "booking/no_id.j2": {"no_card_yet": True},
    "booking/when_kept.j2": {"said": "周四下午"},
    "booking/bad_id.j2": {"length": 17, "digits": True, "earlier": "511***********4061"},
    "booking/summary.j2": {**_PICKED, "applicant": _MASKED, "already": [{"day": date(2026, 12, 10), "start": "09:00", "hall": PLATFORM_HALLS[0]}]},
    "booking/new_applicant.j2": {},
    "booking/day_first.j2": {},
    "booking/whats_open.j2": {"step": "hall", "crowds": True},
    "booking/another_day.j2": {"step": "hall"},
    "booking/slot_taken.j2": {"day": date(2026, 12, 8), "start": "10:00", "end": "10:30"},
    "progress/also.j2": {"also": ["51160220261130310007"]},
    "progress/how_to_send.j2": {"missing": ["授权委托书"], "original": True},
    "progress/all_sent.j2": {},
    "progress/sorry_for_the_wait.j2": {},
    "booking/no_guide_to_ask.j2": {"matter": "普通护照签发"},
    "booking/phone_changed.j2": {"phone": "139****5678"},
    "booking/what_to_bring.j2": {"matter": "普通护照签发", "materials": GUIDE.materials[:3], "situations": ["首次申领"], "partial": False, "booked": True},
    "booking/pick_first.j2": {"cancelling": False, "bringing": True},
    "booking/success.j2": {"appointment": _APPOINTMENT, "day": "2026-12-01", "hall": _HALL, "materials": GUIDE.materials[:3],
                           "situations": ["首次申领"], "partial": False},
    "booking/refused.j2": {**_PICKED, "code": "SLOT_FULL", "message": "这个时段已约满"},
    "booking/busy.j2": {"confirming": True},
    "booking/reminder.j2": {"which": "day", "start": "09:00", "end": "09:30", "day": "2026-12-01", "hall_name": _HALL.name,
                            "hall_address": _HALL.address, "matter_name": GUIDE.name, "number": "12010001", "minutes": 60},
    "booking/list.j2": {"items": [_ITEM], "standing": True},
    "booking/manage.j2": {"item": _ITEM},
    "booking/confirm_cancel.j2": {"item": _ITEM},
    "booking/cancelled.j2": {"item": _ITEM},
    "booking/kept.j2": {"item": _ITEM},
    "booking/cancel_wait.j2": {"item": _ITEM},
    "booking/remembering.j2": {"remember": False},
    "booking/stands.j2": {"item": _ITEM},
    "booking/move_confirm.j2": {**_PICKED, "item": _ITEM},
    "booking/moved.j2": {"appointment": _APPOINTMENT, "day": "2026-12-01", "hall": _HALL, "old": _ITEM},
})

# [Staff]: the human hand-off, citizen side (handoff/) and agents in WeCom (staff/).
from dialogs.staff import Acceptance, Relay  # noqa: E402

_ENTRY = {"number": 12, "status": "note", "since": "2026-11-28T08:00:00+08:00", "waited_minutes": 65,
          "context": ["来自：办事指南", "问过：身份证丢了"], "note": "请回电 138****5678", "citizen": "u_0123456789ab"}
CONTEXTS.update({
    "handoff/queued.j2": {"number": 12, "ahead": 2},
    "handoff/kept.j2": {"ahead": 1},
    "handoff/closed.j2": {"hours": "周一至周五 9:00-12:00、13:30-17:00", "back_at": "明天 9:00", "nobody": False},
    "handoff/noted.j2": {"number": 12, "back_at": "明天 9:00"},
    "handoff/connected.j2": {"agent": "张三"},
    "handoff/from_agent.j2": {"agent": "张三", "text": "请带上户口簿"},
    "handoff/relay_queued.j2": {"seconds": 40},
    "handoff/ended.j2": {"by": "timeout"},
    "handoff/thanks.j2": {"satisfied": False},
    "handoff/why.j2": {},
    "handoff/reason_noted.j2": {},
    "handoff/moved_to_note.j2": {"number": 12, "back_at": "今天 13:30"},
    "handoff/remind.j2": {"state": "connected"},
    "staff/help.j2": {"who": "张三", "agent": True, "talking": 12, "off": False, "broadcaster": True, "approver": True},
    "staff/new_request.j2": {"number": 12, "lines": _ENTRY["context"], "ahead": 1},
    "staff/accepted.j2": {"result": Acceptance("accepted", 12, waited_minutes=3, lines=_ENTRY["context"], note="", undelivered="window")},
    "staff/queue.j2": {"entries": [_ENTRY]},
    "staff/from_citizen.j2": {"number": 12, "text": "你好"},
    "staff/undelivered.j2": {"relay": Relay("held", 12, "window")},
    "staff/ended.j2": {"number": 12, "by": "citizen"},
    "staff/duty.j2": {"on": True, "waiting": 2},
    "staff/digest.j2": {"notes": [_ENTRY]},
})
# [Progress & notifications]: 查进度, 订阅 and 企业绑定, 好差评.
from dialogs.progress import bundle_view, case_view  # noqa: E402
from dialogs.rating import LEVELS  # noqa: E402
from integrations.platform.models import Complaint  # noqa: E402

_PAUSED = next(r.case for r in WORLD.cases.values() if r.case.state.value == "materials_requested")
_CASE_NO = _PAUSED.case_no
_BUNDLE_NO = next(iter(WORLD.bundle_applications))
_BUNDLE_CASE = WORLD.cases[WORLD.bundle_applications[_BUNDLE_NO].case_nos[0]]
_APPLICATION = WORLD.bundle_application(_BUNDLE_NO, _BUNDLE_CASE.phone[-4:], None)
_COMPLAINT = Complaint(id="C1", case_no=_CASE_NO, rating_id="R1", text="跑了三趟", at="2026-11-28T09:00:00+08:00",
                       call_back_by="2026-11-30", resolve_by="2026-12-11")
CONTEXTS.update({
    "progress/card.j2": case_view(_PAUSED),
    "progress/bundle_card.j2": bundle_view(_APPLICATION),
    "progress/state.j2": case_view(_PAUSED),
    "progress/choose.j2": {"choices": [[_CASE_NO, GUIDE.name]]},
    "progress/ask_factor.j2": {"asked": _CASE_NO},
    "progress/wrong.j2": {"left": 3},
    "progress/locked.j2": {"minutes": 30},
    "progress/follow_ups.j2": {"data": {"subscribed": False}},
    "progress/subscribed.j2": {"added": "added", "case_no": _CASE_NO, "limit": 50},
    "progress/unsubscribed.j2": {"removed": True, "case_no": _CASE_NO},
    "subscriptions/list.j2": {"page": window([["case", _CASE_NO, GUIDE.name], ["enterprise", "91511602MA6XK3P2T0", "广安市思源科技有限公司"]], 0), "mode": "all", "followed": 2},
    "subscriptions/empty.j2": {"mode": "all", "followed": 1},
    "subscriptions/take_your_time.j2": {"step": "verify"},
    "privacy/forgotten.j2": {"had": True, "who": "罗**"},
    "privacy/what_is_kept.j2": {"days": 180},
    "subscriptions/removed.j2": {"kind": "case", "key": _CASE_NO, "label": GUIDE.name},
    "subscriptions/confirm_remove.j2": {"item": ["enterprise", "91511602MA6XK3P2T0", "广安市思源科技有限公司"]},
    "subscriptions/notices_off.j2": {"stopped": 2},
    "subscriptions/unchanged.j2": {},
    "subscriptions/kept.j2": {"kind": "case", "key": _CASE_NO, "label": GUIDE.name},
    "subscriptions/send_refused.j2": {"why": "wait", "wait": 42},
    "subscriptions/resent.j2": {},
    "subscriptions/other_code_sent.j2": {},
    "subscriptions/ask_sms_code.j2": {"data": {"contact": "136********"}},
    "subscriptions/wrong_sms_code.j2": {"left": 4},
    "subscriptions/bound.j2": {"added": "added", "enterprise": "广安市思源科技有限公司", "total": 3, "open_cases": 1, "limit": 10},
    "rating/reminder.j2": {"case_no": _CASE_NO, "matter_name": GUIDE.name},
    "rating/ask_level.j2": {"data": {"case_no": _CASE_NO, "matter_name": GUIDE.name}, "levels": LEVELS},
    "rating/thanks.j2": {"level_name": "★★★★☆ 满意", "matter_name": GUIDE.name, "revision": 1},
    "rating/ask_reason.j2": {"level_name": "★★☆☆☆ 不满意"},
    "rating/complaint_filed.j2": {"complaint": _COMPLAINT, "skipped": True},
    "rating/not_rated.j2": {"why": "refused"},
})
CJK = re.compile(r"[\u4e00-\u9fff]")


# [Staff]: broadcasts (bot.services.broadcasts): the notice people read and the report to its author.
_BROADCAST = {"id": "b7", "title": "国庆期间办事大厅安排", "status": "done", "total": 20000, "sent": 19950, "submitted": 0,
              "approved_by": "lisi"}
CONTEXTS.update({
    "broadcast/notice.j2": {"title": _BROADCAST["title"], "body": "10月1日至7日大厅休息，网上办事照常。"},
    "broadcast/report.j2": {"b": _BROADCAST, "failures": [("已取消关注", 42), ("微信错误码 40003", 8)]},
})
# [Staff]: writing and steering broadcasts in WeCom chat (dialogs/staff.py), and 订阅通知 on a guide card.
from dialogs.staff import AUDIENCES  # noqa: E402

_SHOWN = {**_BROADCAST, "audience_text": "全部关注用户", "created_by": "zhangsan", "paused_reason": None, "remaining": 30,
          "channel": "mass", "text": "【国庆期间办事大厅安排】\n10月1日至7日大厅休息。", "policy": None}
CONTEXTS.update({
    "staff/broadcast_refused.j2": {"why": "error", "message": "不能审批自己撰写的群发，请另一位审批人审批"},
    "staff/broadcast_list.j2": {"entries": [_SHOWN], "pending": True, "names": {"zhangsan": "张三"}},
    "staff/broadcast_progress.j2": {"b": _SHOWN, "action": "approve", "failed": [("已取消关注", 20)], "percent": 99,
                                    "approver": "李四", "author": "张三"},
    "staff/compose_title.j2": {"data": {}, "audiences": AUDIENCES, "limits": (40, 600)},
    "staff/compose_body.j2": {"data": {"title": "国庆期间办事大厅安排"}, "audiences": AUDIENCES, "limits": (40, 600)},
    "staff/compose_audience.j2": {"data": {}, "audiences": AUDIENCES, "limits": (40, 600)},
    "staff/compose_detail.j2": {"data": {"kind": "tag", "tags": [[100, "社保通知", 250]]}, "audiences": AUDIENCES, "limits": (40, 600)},
    "staff/compose_confirm.j2": {"data": {}, "audiences": AUDIENCES, "limits": (40, 600)},
    "staff/compose_preview.j2": {"b": _SHOWN},
    "staff/compose_bad.j2": {"what": "district", "limit": 30},
    "staff/compose_nobody.j2": {"audience": "订阅事项 GA-0001 的用户"},
    "staff/compose_submitted.j2": {"b": _SHOWN, "approvers": ["李四"]},
    "matters/notify.j2": {"guide": GUIDE, "on": True, "unavailable": False},
})
# [Enterprise & proactive]: 政策找人 and 我的授权 (dialogs/policies.py, bot.services.broadcasts.policies).
from datetime import datetime, timezone  # noqa: E402

from bot.services.consent import Consent  # noqa: E402

_CONSENT = Consent(at=datetime(2026, 11, 20, tzinfo=timezone.utc).timestamp(), id_number="511602194001011234")
_BOUND = [("91511602MA6XK3P2T0", "广安市思源餐饮有限公司")]
CONTEXTS.update({
    "broadcast/policy_body.j2": {"summary": "年满 80 周岁的老人可按月领取高龄津贴。", "matter_name": "高龄津贴申领", "matter_code": "GA-0001"},
    "policies/ask_id.j2": {"consent": None, "subscribed": False, "enterprises": [], "tries_left": 3},
    "policies/ask_phone.j2": {"consent": None, "subscribed": False, "enterprises": [], "tries_left": 3},
    "policies/consent.j2": {"consent": _CONSENT, "subscribed": True, "enterprises": _BOUND, "tries_left": 3},
    "policies/subscribed.j2": {"consent": _CONSENT, "enterprises": _BOUND, "already": False},
    "policies/unsubscribed.j2": {"removed": True},
    "policies/withdrawn.j2": {"withdrawn": True},
    "policies/no_consent.j2": {"subscribed": False},
    "policies/phone_wrong.j2": {"final": False},
    "staff/consent_counts.j2": {"consented": 12, "subscribed": 9},
})

# [Enterprise & proactive]: the enterprise desk (templates/desk/).
_FIRM_LICENCES = next(WORLD.licences.of(code) for code in WORLD.enterprises if WORLD.licences.of(code))
_FIRM_CASES = [r.case for r in WORLD.cases.values() if r.case.credit_code][:3]
CONTEXTS.update({
    "desk/pick.j2": {"choices": [["91511602MA6XK3P2TJ", "广安市思源科技有限公司"], ["91511602MA6XK3P9QX", "广安市远航餐饮有限公司"]]},
    "desk/home.j2": {"data": {"enterprise": "广安市思源科技有限公司"}, "muted": True},
    "desk/cases.j2": {"enterprise": "广安市思源科技有限公司", "cases": _FIRM_CASES, "offset": 6, "total": 20, "left": 11, "filter": "in_progress"},
    "desk/no_cases.j2": {"enterprise": "广安市思源科技有限公司", "filter": "needs_materials"},
    "desk/annual_report.j2": {"enterprise": "广安市思源科技有限公司", "year": 2025, "report": AnnualReport(
        credit_code="91511602MA6281WX1A", year=2025, status=AnnualReportStatus.pending, opens_on=date(2026, 1, 1), due_on=date(2026, 6, 30))},
    "desk/licences.j2": {"enterprise": "广安市思源科技有限公司", "licences": [WORLD.licences.answer(r, "http://sim") for r in _FIRM_LICENCES], "soon": 60},
    "desk/muted.j2": {"muted": True, "enterprise": "广安市思源科技有限公司", "binders": 2},
    "licences/id_wanted.j2": {"company": True},
    "licences/items.j2": {"licences": [WORLD.licences.answer(r, "http://sim") for r in _FIRM_LICENCES], "soon": 60, "offset": 0, "personal": True},
    "licences/list.j2": {"page": window([WORLD.licences.answer(r, "http://sim") for r in _FIRM_LICENCES], 0, 4), "soon": 60},
    "licences/one.j2": {"licence": WORLD.licences.answer(_FIRM_LICENCES[0], "http://sim"), "number": 2, "soon": 60},
    "licences/wrong.j2": {"left": 3},
    "common/mode.j2": {"elder": True, "kept": True},
    "licences/locked.j2": {"minutes": 30},
    "policies/locked.j2": {"minutes": 30},
    "notify/licence_expiring.j2": {"enterprise": "广安市思源科技有限公司", "licence_name": "食品经营许可证", "licence_no": "JY15116020012345",
                                   "valid_until": "2027-01-02", "days_left": 30, "days": 30, "renewal_matter_name": "食品经营许可延续",
                                   "issuer": "广安区市场监督管理局"},
    "notify/benefit_granted.j2": {"event": WORLD.grant_benefit("WGFH", credit_code=next(iter(WORLD.enterprises))), "via": "enterprise"},
    "notify/annual_report.j2": {"enterprise": "广安市思源科技有限公司", "year": 2026, "due_on": "2027-06-30", "month": 6},
})


# [Journeys]: voice, and photos and files (补正 uploads, pictures in a hand-off).
_UPLOAD = MaterialUpload(
    id="U1", case_no="51160220261102470001", material_id="M1", material_name="经营者居民身份证（正反面）", media_type="image/jpeg", size=2048,
    sha256="0" * 64, received_at="2026-11-28T09:00:00+08:00", remaining=[RequestedMaterial(id="M2", name="经营场所使用证明（租赁合同）")],
)
CONTEXTS.update({
    "common/heard.j2": {"text": "我想预约办身份证"},
    "common/voice_unheard.j2": {"agent": False},
    "common/media_help.j2": {"kind": "image", "agent": False, "progress": False},
    "progress/which_material.j2": {"materials": [["M1", "经营者居民身份证（正反面）"], ["M2", "经营场所使用证明（租赁合同）"]]},
    "progress/material_counted.j2": {"upload": _UPLOAD, "pdf": False},
    "progress/material_refused.j2": {"reason": "too_large"},
    "handoff/photo_refused.j2": {"reason": "wrong_type"},
    "staff/photo_from_citizen.j2": {"number": 12},
    "staff/photo_refused.j2": {"reason": "too_large"},
    "staff/photo_undelivered.j2": {"relay": {"reason": "window"}},
    "matters/corrected.j2": {"option": "有效期满换证"},
    "matters/asked_again.j2": {"earlier": True},
    "matters/pick_first.j2": {"paper": "户口簿", "again": True, "count": 5},
    "matters/top_taken.j2": {"matter": "居民身份证办理"},
    "matters/agent.j2": {"guide": GUIDE, "allowed": True, "materials": GUIDE.materials[:2]},
    "progress/number_format.j2": {"short": True, "bundle": False, "digits": 14},
    "progress/not_a_case_number.j2": {"id_number": True, "phone": True},
})

def test_every_template_renders_to_chinese_text():
    render = Renderer()
    names = sorted(p.relative_to(TEMPLATES_DIR).as_posix() for p in TEMPLATES_DIR.rglob("*.j2")
                   if p.relative_to(TEMPLATES_DIR).parts[0] not in (ENGLISH_DIR, ELDER_DIR))
    assert names and set(names) == set(render.templates)
    for name in names:
        text = render(name, **CONTEXTS.get(name, {}))
        assert CJK.search(text), f"{name} rendered no Chinese text: {text!r}"
        assert len(text.encode()) < 2048, name


def test_templates_say_what_their_values_are():
    render = Renderer()
    assert "人民路 188 号" in render("halls/detail.j2", hall=HALL)
    assert "4. 服务大厅地址和时间" in render("menu/menu.j2", options=OPTIONS)


def test_a_situation_that_needs_no_materials_says_so_instead_of_an_empty_list():
    render = Renderer()
    none = render("matters/materials.j2", guide=GUIDE, materials=[], situations=["电话/线上临时挂失"])
    assert "电话/线上临时挂失不用准备材料" in none and "只需带以上材料" not in none and "：\n" not in none
    assert "no materials are needed" in in_english(render, "matters/materials.j2", guide=GUIDE, materials=[], situations=["phone"])
    some = render("matters/materials.j2", guide=GUIDE, materials=GUIDE.materials, situations=["首次申领"])
    assert "需要准备的材料（首次申领）" in some and "1. " in some


ENGLISH_WORD = re.compile(r"\b[A-Za-z]{3,}\b")


def in_english(render: Renderer, name: str, **context) -> str:
    token = LANGUAGE.set(Language("en"))
    try:
        return render(name, **context)
    finally:
        LANGUAGE.reset(token)


def test_every_english_template_renders_from_its_chinese_siblings_context():
    render = Renderer()
    english = sorted(p.relative_to(TEMPLATES_DIR / ENGLISH_DIR).as_posix() for p in (TEMPLATES_DIR / ENGLISH_DIR).rglob("*.j2"))
    assert english and set(english) == set(render.english)
    for name in english:
        assert name in render.templates, f"en/{name} has no Chinese sibling: nothing would ever render it"
        context = CONTEXTS.get(name, {})
        chinese, text = render(name, **context), in_english(render, name, **context)
        assert text != chinese, name
        framing = CJK.sub("", text)  # matter names and materials stay Chinese; the words around them do not
        assert len(ENGLISH_WORD.findall(framing)) >= 3, f"en/{name} is not English: {text!r}"
        assert len(text.encode()) < 2048, name


def test_english_is_rendered_only_for_a_person_answered_in_english():
    render = Renderer()
    menu = render("menu/menu.j2", options=OPTIONS)
    assert "4. 服务大厅地址和时间" in menu  # no language known (staff, workers, a new person): Chinese
    assert "4. Service halls: addresses and hours" in in_english(render, "menu/menu.j2", options=OPTIONS)
    assert render("menu/menu.j2", options=OPTIONS) == menu  # the turn's language did not stick


def test_every_choice_of_the_english_menu_and_guide_card_is_english():
    render = Renderer()
    for name in ("menu/menu.j2", "matters/follow_ups.j2"):
        choices = [line for line in in_english(render, name, **CONTEXTS[name]).splitlines() if line[:1].isdigit()]
        assert choices and not any(CJK.search(line) for line in choices), (name, choices)


def test_a_template_without_an_english_sibling_falls_back_to_chinese():
    render = Renderer()
    untranslated = sorted(set(render.templates) - set(render.english))
    assert untranslated, "every template has an English sibling: this fallback test has nothing to check"
    for name in untranslated:
        context = CONTEXTS.get(name, {})
        assert in_english(render, name, **context) == render(name, **context), name


#: How a date or a time was written by hand in a template, before the `day` / `moment` filters.
_HAND_MADE_DATE = re.compile(r"\.(month|day|year|hour|minute)\b(?!\s*\|\s*(day|moment))|strftime|月\{\{|\}\}日")


def test_no_template_formats_a_date_by_hand():
    """Dates reach people in one format, through the `day` and `moment` filters only."""
    offenders = [p.relative_to(TEMPLATES_DIR).as_posix() for p in TEMPLATES_DIR.rglob("*.j2")
                 if _HAND_MADE_DATE.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_days_and_times_read_the_same_everywhere():
    from datetime import date, datetime, timezone
    from bot.templating import day, moment

    today = date(2026, 12, 3)
    assert day(date(2026, 12, 3), today) == day("2026-12-03", today) == "12月3日（周四）"
    assert day(date(2027, 1, 2), today) == "2027年1月2日（周六）"  # the year only when it is another
    utc = datetime(2026, 12, 3, 1, 5, tzinfo=timezone.utc)
    assert moment(utc, today) == moment(utc.isoformat(), today) == "12月3日（周四）9:05"  # Beijing time
    render = Renderer()
    card = render("progress/card.j2", **case_view(_PAUSED))
    assert not re.search(r"\d{2}-\d{2}|\d{4}-\d{2}-\d{2}|0\d月", card)
    assert "1月" in render("booking/success.j2", **{**CONTEXTS["booking/success.j2"], "day": date(2027, 1, 2)})


def test_an_english_reply_writes_its_dates_the_english_way():
    import datetime as dt

    render = Renderer()
    assert in_english(render, "booking/day_full.j2", day=dt.date(2026, 12, 8)).startswith("Sorry, Tue 8 Dec ")
    assert "12月8日（周二）" in render("booking/day_full.j2", day=dt.date(2026, 12, 8))

# [Journeys]: the hall queue (取号, 排到哪了).
from integrations.platform.models import Ticket  # noqa: E402

_TICKET = Ticket(id="T1", number="A037", day="2026-12-01", hall_id=_HALL.id, hall_name=_HALL.name, matter_code=GUIDE.code, matter_name=GUIDE.name,
                 priority=False, status="waiting", ahead=4, estimated_minutes=16, taken_at="2026-12-01T10:00:00+08:00")
CONTEXTS.update({
    "queue/ask_where.j2": {"appointment": {"id": "A1", "hall_id": _HALL.id, "matter_name": GUIDE.name, "date": "2026-12-01", "start": "09:00"}},
    "queue/halls.j2": {"halls": PLATFORM_HALLS},
    "queue/candidates.j2": {"candidates": [[GUIDE.code, GUIDE.name, GUIDE.department]]},
    "queue/refused.j2": {"code": "CHECKIN_CODE_WRONG", "message": "签到码不对，请核对大厅屏幕上今天的签到码", "walk_in": True},
    "queue/ticket.j2": {"ticket": _TICKET},
    "notify/queue_called.j2": {"event": CaseEvent(
        id="evt_q", type="queue_called", case_no="", at="2026-12-01T10:20:00+08:00", matter_name=GUIDE.name, department="区公安分局",
        ticket=_TICKET.model_copy(update={"status": "called", "window_id": "W1", "window_name": "公安户政窗口（1-4号）", "ahead": 0}),
    ), "via": "ticket", "at": "2026-12-01T10:20:00+08:00"},
})


# [Journeys]: 长辈模式 (templates/elder/): siblings of Chinese templates, rendered from their context.
_LATIN = re.compile(r"[A-Za-z]")


def test_every_elder_template_renders_from_its_chinese_siblings_context_without_latin_letters():
    from bot.templating import ELDER_ENDING
    from dialogs.language import before_turn

    render = Renderer()
    elder_dir = TEMPLATES_DIR / ELDER_DIR
    siblings = sorted(p.relative_to(elder_dir).as_posix() for p in elder_dir.rglob("*.j2"))
    assert siblings and ELDER_ENDING in siblings
    token = LANGUAGE.set(before_turn({}, "长辈模式", at_rest=True))
    try:
        for name in siblings:
            assert name == ELDER_ENDING or name in render.templates, f"elder/{name} has no Chinese sibling: nothing would ever render it"
            text = render.elder[name].render(**CONTEXTS.get(name, {})).strip()
            assert CJK.search(text) and not _LATIN.search(text), (name, text)
            if name != ELDER_ENDING:
                assert len(text) <= len(render.templates[name].render(**CONTEXTS.get(name, {}))), f"elder/{name} is not shorter"
        for name in render.templates:  # every other template falls back to the Chinese one
            assert name in render.elder
    finally:
        LANGUAGE.reset(token)


def test_a_bereaved_familys_notice_is_plain_and_an_issued_licence_is_not_promised_again():
    """户口注销 in 身后一件事 was announced 好消息！…感谢您的耐心等待！; and a notice saying the
    e-licence was issued also said 证照制作好后我们会告诉您领取方式."""
    render = Renderer()
    context = CONTEXTS["notify/approved.j2"]
    sombre = render("notify/approved.j2", **{**context, "sombre": True})
    assert "好消息" not in sombre and "感谢您的耐心等待" not in sombre and "办结" in sombre, sombre
    assert "好消息" in render("notify/approved.j2", **{**context, "sombre": False})
    event = context["event"].model_copy(update={"licence_name": "食品经营许可证", "licence_no": "JY1"})
    issued = render("notify/approved.j2", **{**context, "event": event, "sombre": False})
    assert "已发放" in issued and "制作好后" not in issued, issued


def test_notices_of_matters_after_a_death_are_marked_sombre():
    from dialogs.understand.answers import AFTER_A_DEATH as SOMBRE
    assert SOMBRE.search("户口注销") and SOMBRE.search("遗属待遇申领") and not SOMBRE.search("普通护照签发")


def test_a_bundles_follower_is_not_asked_to_rate_from_its_notices():
    """The notice said 回复「评价 5」 to a bundle's follower, who is not invited (a rating is given by
    whoever verified the case): 评价 5 then said it was rated already."""
    render = Renderer()
    for template in ("notify/approved.j2", "notify/not_approved.j2", "notify/refused.j2"):
        context = CONTEXTS[template]
        assert "评价 5" in render(template, **context)
        assert "评价 5" not in render(template, **{**context, "via": "bundle"}), template
