"""Wire models of the 一网通办 platform contract (openapi.yaml's components are generated from
these; a test keeps the two equal). Shared by the client and the simulator."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# Matters and guides -------------------------------------------------------------------------


class Situation(Wire):
    """A circumstance that changes what to bring (情形)."""

    code: str = Field(description="stable id, e.g. first, renewal, lost, minor, agent")
    name: str = Field(description="how it is shown, e.g. 首次申领")
    question: str = Field(description="how to ask a person whether it applies, e.g. 您是第一次办理吗？")
    group: str = Field(default="", description="situations sharing a group exclude each other (e.g. first/renewal/lost); empty = an independent yes/no")


class Material(Wire):
    name: str
    originals: int = Field(default=1, ge=0, description="原件份数")
    copies: int = Field(default=0, ge=0, description="复印件份数")
    form: Literal["paper", "electronic", "either"] = "paper"
    required: Literal["always", "situational"] = "always"
    situations: list[str] = Field(default_factory=list, description="situation codes that require it, when situational")
    blank_form: str | None = Field(default=None, description="name or URL of the blank form (空白表格)")
    sample: str | None = Field(default=None, description="name or URL of a filled-in sample (示例样表)")
    note: str = ""


class Fee(Wire):
    item: str
    amount: str = Field(description="e.g. 免费, 20元, 按面积收取")
    basis: str = ""


class MatterType(Wire):
    code: int = Field(description="1 行政许可, 5 行政给付, 7 行政确认, 8 行政奖励, 9 行政裁决, 10 其他行政权力, 20 公共服务")
    name: str


class MatterSummary(Wire):
    code: str = Field(description="implementation code (实施编码)")
    name: str
    department: str
    type: MatterType
    has_guide: bool = False
    bookable: bool = False
    updated_at: datetime | None = None


class Guide(Wire):
    """The full 办事指南 of a matter."""

    code: str
    basic_code: str = ""
    name: str
    aliases: list[str] = Field(default_factory=list, description="names people use for it")
    keywords: list[str] = Field(default_factory=list)
    department: str
    type: MatterType
    legal_basis: list[str] = Field(default_factory=list, description="设定依据")
    conditions: list[str] = Field(default_factory=list, description="受理条件")
    situations: list[Situation] = Field(default_factory=list)
    materials: list[Material] = Field(default_factory=list)
    process: list[str] = Field(default_factory=list, description="办理流程, one step each")
    statutory_days: int = Field(ge=0, description="法定办结时限, working days")
    promised_days: int = Field(ge=0, description="承诺办结时限, working days; 0 = 即办件")
    fees: list[Fee] = Field(default_factory=list, description="empty = free")
    halls: list[str] = Field(default_factory=list, description="ids of halls that handle it")
    online_depth: int = Field(ge=0, le=4, description="网办深度: 0 offline only .. 4 fully online")
    online_url: str = ""
    visits: int = Field(ge=0, description="到现场次数")
    result: str = Field(description="the certificate or outcome, e.g. 居民身份证")
    delivery: list[Literal["collect", "post", "electronic"]] = Field(default_factory=lambda: ["collect"])
    consult_phone: str = ""
    complaint_phone: str = ""
    bookable: bool = False
    source: str = Field(default="", description="where the guide was written from")


class Bundle(Wire):
    """一件事一次办: several matters applied for together."""

    code: str
    name: str
    description: str
    matters: list[str] = Field(description="matter codes")
    aliases: list[str] = Field(default_factory=list)


class GuidePage(Wire):
    items: list[Guide]
    total: int
    next_offset: int | None = None
    version: str = Field(description="the catalog version these guides belong to")


class MatterPage(Wire):
    items: list[MatterSummary]
    total: int
    next_offset: int | None = None
    version: str = Field(description="changes whenever the catalog changes")


# Halls --------------------------------------------------------------------------------------


class OpeningHours(Wire):
    weekday: int = Field(ge=1, le=7, description="1 = Monday")
    open: str = Field(pattern=r"^\d{2}:\d{2}$")
    close: str = Field(pattern=r"^\d{2}:\d{2}$")


class Window(Wire):
    id: str
    name: str
    matters: list[str] = Field(default_factory=list, description="matter codes served here")


class Hall(Wire):
    id: str
    name: str
    address: str
    district: str = ""
    lat: float
    lng: float
    phone: str = ""
    transit: str = ""
    hours: list[OpeningHours]
    hours_text: str
    windows: list[Window]


# Booking ------------------------------------------------------------------------------------


class Slot(Wire):
    hall_id: str
    matter_code: str
    date: date
    start: str
    end: str
    capacity: int
    remaining: int


class Applicant(Wire):
    name: str = Field(min_length=1, max_length=40)
    id_number: str = Field(pattern=r"^\d{17}[\dX]$", description="18-digit resident ID, check digit validated")
    phone: str = Field(pattern=r"^1[3-9]\d{9}$")


class AppointmentRequest(Wire):
    matter_code: str
    hall_id: str
    date: date
    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    applicant: Applicant


class RescheduleRequest(Wire):
    date: date
    start: str = Field(pattern=r"^\d{2}:\d{2}$")


class AppointmentStatus(str, Enum):
    booked = "booked"
    cancelled = "cancelled"
    completed = "completed"
    no_show = "no_show"


class Appointment(Wire):
    id: str
    number: str = Field(description="预约号, exchanged on site for a priority ticket")
    matter_code: str
    matter_name: str
    hall_id: str
    date: date
    start: str
    end: str
    status: AppointmentStatus
    applicant_name: str = Field(description="masked, e.g. 张*")
    applicant_id_masked: str
    created_at: datetime


# Cases --------------------------------------------------------------------------------------


class CaseState(str, Enum):
    received = "received"  # 已接件
    accepted = "accepted"  # 已受理
    refused = "refused"  # 不予受理
    materials_requested = "materials_requested"  # 补正
    processing = "processing"  # 承办
    handed_over = "handed_over"  # 转办 to another department
    reviewing = "reviewing"  # 审核
    special_procedure = "special_procedure"  # 特别程序
    approved = "approved"  # 办结: 准予
    not_approved = "not_approved"  # 办结: 不予批准
    ready_for_collection = "ready_for_collection"  # 待领取
    posted = "posted"  # 已寄出
    collected = "collected"  # 已领取
    withdrawn = "withdrawn"  # 撤件


class CaseStep(Wire):
    state: CaseState
    name: str = Field(description="the node as shown, e.g. 受理")
    department: str
    handler_role: str = Field(description="e.g. 窗口受理人员, 承办科室, 分管领导")
    at: datetime
    note: str = ""


class CaseResult(Wire):
    outcome: Literal["approved", "not_approved", "refused", "withdrawn"]
    certificate: str = ""
    reason: str = ""
    collection: str = Field(default="", description="how to collect: hall and window, or post")


class Case(Wire):
    case_no: str
    matter_code: str
    matter_name: str
    department: str
    applicant_kind: Literal["citizen", "enterprise"]
    applicant_name: str = Field(description="masked")
    credit_code: str | None = None
    state: CaseState
    received_at: datetime
    promised_date: date | None = None
    statutory_date: date | None = None
    clock_paused: bool = False
    paused_reason: str = ""
    materials_requested: list[str] = Field(default_factory=list)
    timeline: list[CaseStep]
    result: CaseResult | None = None


class CasePage(Wire):
    items: list[Case]
    total: int


# Ratings (好差评) and complaints --------------------------------------------------------------


class RatingLevel(str, Enum):
    very_satisfied = "very_satisfied"  # 非常满意
    satisfied = "satisfied"  # 满意
    basically_satisfied = "basically_satisfied"  # 基本满意
    dissatisfied = "dissatisfied"  # 不满意
    very_dissatisfied = "very_dissatisfied"  # 非常不满意


class RatingRequest(Wire):
    level: RatingLevel
    rater: str = Field(pattern=r"^[A-Za-z0-9_-]{6,64}$", description="a stable pseudonymous id of the person rating (never an openid or a name)")
    channel: Literal["wechat", "wecom", "web"] = "wechat"


class Rating(Wire):
    id: str
    case_no: str
    matter_name: str
    level: RatingLevel
    rater: str
    channel: str
    at: datetime
    follow_up_required: bool = Field(description="不满意 or worse: staff must call the rater back")
    revision: int = Field(ge=1, le=2, description="1 = the first rating; 2 = the one re-rating allowed")


class ComplaintRequest(Wire):
    rating_id: str = Field(min_length=1, max_length=64, description="the bad rating this complaint explains")
    text: str = Field(min_length=1, max_length=500, description="what went wrong, in the rater's words")


class Complaint(Wire):
    id: str
    case_no: str
    rating_id: str
    text: str
    status: Literal["open", "following_up", "resolved"] = "open"
    at: datetime
    call_back_by: date = Field(description="staff call the rater back by this working day")
    resolve_by: date = Field(description="and fix it by this one")


# Enterprise binding: the platform confirms a person speaks for an enterprise by a code sent to
# the contact phone registered for it -------------------------------------------------------


class Enterprise(Wire):
    credit_code: str
    name: str
    industry: str | None = Field(default=None, max_length=30, description="行业门类 (GB/T 4754), e.g. 住宿和餐饮业; absent when not registered")


class EnterpriseVerification(Wire):
    id: str
    credit_code: str
    contact_masked: str = Field(description="where the code was sent, e.g. 138****1234")
    expires_at: datetime
    attempts: int = Field(ge=1, description="wrong codes allowed before this verification is void")


class VerificationCheck(Wire):
    code: str = Field(pattern=r"^\d{6}$")


# Case events (the platform POSTs these to the bot) -----------------------------------------


class CaseEventType(str, Enum):
    accepted = "accepted"
    refused = "refused"
    materials_requested = "materials_requested"
    handed_over = "handed_over"
    special_procedure = "special_procedure"
    approved = "approved"
    not_approved = "not_approved"
    ready_for_collection = "ready_for_collection"
    posted = "posted"
    deadline_warning = "deadline_warning"
    appointment_no_show = "appointment_no_show"  # not a case event: case_no is empty, appointment_id is set


class CaseEvent(Wire):
    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="unique; a repeat of the same id is the same event")
    type: CaseEventType
    case_no: str
    at: datetime
    matter_name: str
    department: str
    from_department: str | None = None
    note: str = ""
    materials: list[str] = Field(default_factory=list)
    credit_code: str | None = None
    days_left: int | None = None
    appointment_id: str | None = Field(default=None, description="set for appointment_no_show")


# Errors -------------------------------------------------------------------------------------


class ErrorCode(str, Enum):
    not_found = "NOT_FOUND"
    invalid_request = "INVALID_REQUEST"
    case_not_verified = "CASE_NOT_VERIFIED"  # no such case, or the second factor does not match
    invalid_credit_code = "INVALID_CREDIT_CODE"
    invalid_id_number = "INVALID_ID_NUMBER"
    matter_not_bookable = "MATTER_NOT_BOOKABLE"
    hall_not_serving = "HALL_NOT_SERVING"
    slot_full = "SLOT_FULL"
    slot_not_found = "SLOT_NOT_FOUND"
    too_soon = "TOO_SOON"
    too_far_ahead = "TOO_FAR_AHEAD"
    one_per_day = "ONE_PER_MATTER_PER_DAY"
    cancel_cutoff = "CANCEL_CUTOFF_PASSED"
    no_show_blocked = "NO_SHOW_BLOCKED"
    not_cancellable = "NOT_CANCELLABLE"
    idempotency_conflict = "IDEMPOTENCY_CONFLICT"
    case_not_done = "CASE_NOT_DONE"  # a rating for a case that is not finished
    already_rated = "ALREADY_RATED"  # rated and re-rated once already
    verification_failed = "VERIFICATION_FAILED"  # wrong, expired or used-up enterprise code
    too_many_requests = "TOO_MANY_REQUESTS"
    unavailable = "UNAVAILABLE"


class Error(Wire):
    code: ErrorCode
    message: str
    retry_after: int | None = None
