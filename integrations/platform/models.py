"""Wire models of the 一网通办 platform contract (openapi.yaml's components are generated from
these; a test keeps the two equal). Shared by the client and the simulator."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator


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
    code: str = Field(default="", description="standard material code (材料编码): every matter asking for the same document uses the same code, so a merged list (一件事) keeps one; empty = specific to this matter")
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
    promised_days: int = Field(ge=0, description="承诺办结时限 of the whole bundle, working days")
    aliases: list[str] = Field(default_factory=list)


class BundlePart(Wire):
    """One matter of a bundle, as a bundle card shows it."""

    code: str = Field(description="the matter's implementation code")
    name: str
    department: str
    promised_days: int = Field(ge=0, description="the matter's own 承诺办结时限, working days")
    result: str = Field(description="what it gives, e.g. 营业执照")


class BundleCard(Bundle):
    """Everything a bundle card needs in one answer: what it covers, its matters, departments and halls."""

    parts: list[BundlePart] = Field(description="the bundle's matters in the order they are handled")
    departments: list[str] = Field(description="every department involved, each once")
    visits: int = Field(ge=0, description="到现场次数 for the whole bundle")
    halls: list[str] = Field(description="ids of halls where one window visit covers every matter (one booking)")
    bookable: bool = Field(description="a bundle appointment can be booked at one of `halls`")


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
    matter_code: str = Field(description="the matter; for a bundle, its first matter")
    bundle_code: str | None = Field(default=None, description="set when the slot is for a bundle (一件事)")
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
    """Book a matter, or a whole bundle at once: exactly one of matter_code and bundle_code."""

    matter_code: str | None = Field(default=None, min_length=1)
    bundle_code: str | None = Field(default=None, min_length=1, description="book every matter of a 一件事 bundle in one visit")
    hall_id: str
    date: date
    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    applicant: Applicant

    @model_validator(mode="after")
    def _one_target(self) -> AppointmentRequest:
        if (self.matter_code is None) == (self.bundle_code is None):
            raise ValueError("give exactly one of matter_code and bundle_code")
        return self


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
    matter_code: str = Field(description="the matter; for a bundle, its first matter")
    matter_name: str = Field(description="the matter's name; for a bundle, the bundle's")
    bundle_code: str | None = Field(default=None, description="set when the whole bundle was booked")
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
    licence_id: str | None = Field(default=None, description="the e-licence (电子证照) issued or renewed by this case, when its result is a licence or certificate")
    licence_no: str | None = Field(default=None, description="证照编号 of that e-licence")
    licence_name: str | None = Field(default=None, description="证照名称 of that e-licence, e.g. 食品经营许可证")


class RequestedMaterial(Wire):
    """One material asked for in a 补正 round, and whether it has arrived."""

    id: str = Field(description="unique within the case; what an upload names")
    name: str
    status: Literal["requested", "received"] = "requested"
    received_at: datetime | None = None
    upload_id: str | None = Field(default=None, description="the latest upload counted for it")


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
    materials_requested: list[str] = Field(default_factory=list, description="names of the materials of the current 补正 round")
    requested_materials: list[RequestedMaterial] = Field(default_factory=list, description="the same materials with ids and status, for uploads")
    timeline: list[CaseStep]
    result: CaseResult | None = None
    bundle_no: str | None = Field(default=None, description="一件事 application number shared by every case of one bundle application")
    bundle_code: str | None = None


class CasePage(Wire):
    items: list[Case]
    total: int = Field(description="how many cases match, over all pages")
    next_offset: int | None = Field(default=None, description="offset of the next page; absent on the last")


class CaseFilter(str, Enum):
    """How an enterprise desk groups cases."""

    in_progress = "in_progress"  # 办理中
    needs_materials = "needs_materials"  # 需补正
    done = "done"  # 已办结


class MaterialUpload(Wire):
    """A file received for one requested material of a case (补正)."""

    id: str
    case_no: str
    material_id: str
    material_name: str
    media_type: Literal["image/jpeg", "image/png", "application/pdf"] = Field(description="as sniffed from the content, whatever was declared")
    size: int = Field(ge=1, description="bytes")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    received_at: datetime
    remaining: list[RequestedMaterial] = Field(description="materials of this round still to come; empty = all arrived")


class BundleLookup(Wire):
    """An application's number and one second factor of its applicant."""

    bundle_no: str = Field(pattern=r"^YJS\d{18}$", description="一件事 application number")
    phone_last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    id_number: str | None = Field(default=None, pattern=r"^\d{17}[\dXx]$")

    @model_validator(mode="after")
    def _a_factor(self) -> BundleLookup:
        if not (self.phone_last4 or self.id_number):
            raise ValueError("phone_last4 or id_number is required")
        return self


class BundleApplication(Wire):
    """One 一件事 application: a case per matter, linked by the bundle number."""

    bundle_no: str
    bundle_code: str
    bundle_name: str
    applicant_kind: Literal["citizen", "enterprise"]
    applicant_name: str = Field(description="masked")
    received_at: datetime
    promised_date: date = Field(description="the bundle's promised completion date")
    done: bool = Field(description="every case of the bundle is finished")
    cases: list[Case] = Field(description="one per matter, in the bundle's order")


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


class EnterpriseSize(str, Enum):
    """企业规模 by the national classification (工信部联企业〔2011〕300号)."""

    micro = "micro"  # 微型
    small = "small"  # 小型
    medium = "medium"  # 中型
    large = "large"  # 大型


class EnterpriseProfile(Enterprise):
    """What the registration record says of an enterprise (what policy rules match on)."""

    size: EnterpriseSize
    district: str = Field(description="registered district, e.g. 广安区")
    registered_on: date = Field(description="成立日期")
    legal_representative: str = Field(description="masked, e.g. 王*")
    address: str
    status: Literal["active", "deregistered"] = Field(default="active", description="存续 / 注销")


class AnnualReportStatus(str, Enum):
    filed = "filed"  # 已公示
    pending = "pending"  # the filing window (1 Jan to 30 Jun of the next year) is open, not filed yet
    overdue = "overdue"  # window closed unfiled: listed as 经营异常
    not_due = "not_due"  # the window has not opened yet


class AnnualReport(Wire):
    """企业年报 for one year, filed between 1 January and 30 June of the following year."""

    credit_code: str
    year: int
    status: AnnualReportStatus
    filed_on: date | None = None
    opens_on: date
    due_on: date


class EnterpriseVerification(Wire):
    id: str
    credit_code: str
    contact_masked: str = Field(description="where the code was sent, e.g. 138****1234")
    expires_at: datetime
    attempts: int = Field(ge=1, description="wrong codes allowed before this verification is void")


class VerificationCheck(Wire):
    code: str = Field(pattern=r"^\d{6}$")


# The hall queue (取号/叫号) ----------------------------------------------------------------------


class GeoPoint(Wire):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class TicketRequest(Wire):
    """A queue number at a hall, today: for an appointment (exchanged for a priority ticket) or a
    walk-in for a matter or bundle. Presence is proven by the hall's check-in code (shown on its
    screens) or a location within the hall's radius."""

    hall_id: str = Field(min_length=1, max_length=64)
    appointment_id: str | None = Field(default=None, min_length=1, max_length=64)
    matter_code: str | None = Field(default=None, min_length=1, description="walk-in: the matter to be served for")
    bundle_code: str | None = Field(default=None, min_length=1, description="walk-in: a whole bundle")
    checkin_code: str | None = Field(default=None, pattern=r"^\d{6}$", description="签到码 shown at the hall today")
    location: GeoPoint | None = Field(default=None, description="where the person is, e.g. from a shared WeChat location")

    @model_validator(mode="after")
    def _one_target(self) -> TicketRequest:
        if sum(x is not None for x in (self.appointment_id, self.matter_code, self.bundle_code)) != 1:
            raise ValueError("give exactly one of appointment_id, matter_code and bundle_code")
        if self.checkin_code is None and self.location is None:
            raise ValueError("give checkin_code or location")
        return self


class TicketStatus(str, Enum):
    waiting = "waiting"  # 等候中
    called = "called"  # 已叫号: go to the window now
    served = "served"  # 已办理
    missed = "missed"  # 过号


class Ticket(Wire):
    id: str = Field(description="unguessable; whoever holds it may read the ticket")
    number: str = Field(description="排队号 as called out, e.g. A037; appointments get Y numbers")
    day: date
    hall_id: str
    hall_name: str
    matter_code: str = Field(description="the matter; for a bundle, its first matter")
    matter_name: str
    bundle_code: str | None = None
    appointment_id: str | None = None
    priority: bool = Field(description="called before walk-ins (an appointment honoured on time)")
    status: TicketStatus
    ahead: int = Field(ge=0, description="people to be called before this ticket (0 unless waiting)")
    estimated_minutes: int | None = Field(default=None, ge=0, description="rough wait while waiting")
    window_id: str | None = Field(default=None, description="set once called")
    window_name: str | None = None
    taken_at: datetime
    called_at: datetime | None = None


# E-licences (电子证照) --------------------------------------------------------------------------


class LicenceStatus(str, Enum):
    valid = "valid"  # 有效
    expired = "expired"  # 已过期
    revoked = "revoked"  # 已吊销
    cancelled = "cancelled"  # 已注销


class Licence(Wire):
    """An e-licence or certificate (电子证照) held by a person or an enterprise."""

    id: str
    licence_no: str = Field(description="证照编号")
    name: str = Field(description="证照名称, e.g. 食品经营许可证")
    holder_kind: Literal["citizen", "enterprise"]
    holder_name: str = Field(description="masked for a person; the enterprise's registered name")
    issuer: str = Field(description="发证机关")
    issued_on: date
    valid_from: date
    valid_until: date | None = Field(default=None, description="None = 长期有效")
    status: LicenceStatus
    days_left: int | None = Field(default=None, description="days from the platform's today to valid_until; negative once expired")
    matter_code: str | None = Field(default=None, description="the matter that issues it")
    case_no: str | None = Field(default=None, description="the case that issued or last renewed it")
    renewal_matter_code: str | None = Field(default=None, description="the matter to apply with to renew it (延续/换证), when it lapses")
    renewal_matter_name: str | None = None
    view_url: str | None = Field(default=None, description="a page showing the licence (亮证/下载); valid until view_expires_at")
    view_expires_at: datetime | None = None


class LicenceLookup(Wire):
    """A person's e-licences: the ID number and the phone's last 4 digits must both match."""

    id_number: str = Field(pattern=r"^\d{17}[\dXx]$")
    phone_last4: str = Field(pattern=r"^\d{4}$")


class LicencePage(Wire):
    items: list[Licence]


# People the platform knows (政策找人) and benefits granted without applying (免申即享) -----------


IdNumber = Annotated[str, StringConstraints(pattern=r"^\d{17}[\dXx]$")]


class ResidentLookup(Wire):
    id_numbers: list[IdNumber] = Field(min_length=1, max_length=100, description="answered for the ones the platform knows")


class Resident(Wire):
    id_number: str
    name: str = Field(description="masked, e.g. 王*")
    sex: Literal["male", "female"] = Field(description="from the ID number")
    birth_date: date = Field(description="from the ID number")
    age: int = Field(ge=0, description="周岁 on the platform's today")
    household_region_code: str = Field(pattern=r"^\d{6}$", description="户籍所在地 county-level code (it may differ from the ID number's first six digits after a move)")
    household_district: str = Field(description="户籍所在区县, e.g. 广安区")


class ResidentPage(Wire):
    items: list[Resident] = Field(description="the known ones among those asked; unknown ID numbers are left out")


class BenefitGrant(Wire):
    """A benefit the platform granted by itself from data it holds (免申即享): nothing to apply for."""

    id: str
    benefit_code: str
    name: str = Field(description="e.g. 高龄津贴")
    holder_kind: Literal["citizen", "enterprise"]
    id_number: str | None = Field(default=None, description="the resident it is granted to")
    credit_code: str | None = Field(default=None, description="the enterprise it is granted to")
    holder_name: str = Field(description="masked for a person")
    content: str = Field(description="what is granted, e.g. 每月 100 元，发放至社会保障卡金融账户")
    amount: str = Field(default="", description="e.g. 100元/月; empty for a service")
    period: str = Field(description="when, e.g. 自 2026年12月起按月发放")
    department: str
    basis: str = Field(description="the policy it rests on")
    how_to_query: str
    how_to_object: str = Field(description="how to say it is wrong or refuse it")
    granted_at: datetime


# Platform events (the platform POSTs these to the bot) -------------------------------------


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
    queue_called = "queue_called"  # not a case event: case_no is empty, ticket is set
    benefit_granted = "benefit_granted"  # not a case event: case_no is empty, benefit is set


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
    appointment_id: str | None = Field(default=None, description="set for appointment_no_show, and for queue_called on an appointment's ticket")
    bundle_no: str | None = Field(default=None, description="set when the case belongs to a 一件事 application")
    licence_no: str | None = Field(default=None, description="approved: the e-licence issued, when the result is one")
    licence_name: str | None = None
    ticket: Ticket | None = Field(default=None, description="set for queue_called: the ticket and the window it is called to")
    benefit: BenefitGrant | None = Field(default=None, description="set for benefit_granted")


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
    unauthorized = "UNAUTHORIZED"  # the bot's platform token is missing or wrong
    case_not_awaiting_materials = "CASE_NOT_AWAITING_MATERIALS"  # an upload for a case not in 补正
    material_not_requested = "MATERIAL_NOT_REQUESTED"  # an upload naming no requested material of the case
    media_too_large = "MEDIA_TOO_LARGE"
    media_type_refused = "MEDIA_TYPE_REFUSED"  # the content is not a JPEG, PNG or PDF, whatever it was declared as
    hall_closed = "HALL_CLOSED"  # a queue number outside the hall's opening hours
    not_at_hall = "NOT_AT_HALL"  # the location is too far from the hall
    checkin_code_wrong = "CHECKIN_CODE_WRONG"
    wrong_hall = "WRONG_HALL"  # the appointment is at another hall
    not_appointment_day = "NOT_APPOINTMENT_DAY"
    appointment_not_active = "APPOINTMENT_NOT_ACTIVE"  # cancelled, missed or already served
    identity_not_verified = "IDENTITY_NOT_VERIFIED"  # no such person, or the second factor does not match


class Error(Wire):
    code: ErrorCode
    message: str
    retry_after: int | None = None
