"""E-licences (电子证照) of the simulated platform: issued when a case finishes with a licence or
certificate, renewed by the licence's renewal matter, seeded for residents and enterprises, and
shown on a page behind a signed, short-lived link (亮证).

The licence types, what issues them, how long they hold and which matter renews them are in
data/licence_types.json."""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path

from integrations.platform.models import ErrorCode, Licence, LicenceStatus
from integrations.platform.simulator.common import DATA, REGION, Clock, Refusal, age_on, birth_date_of, read_data

VIEW_LINK_TTL = timedelta(minutes=30)


@dataclass(frozen=True)
class LicenceType:
    name: str
    holder: str  # who it is seeded for: citizen or enterprise
    issuer: str
    number: str  # format of 证照编号: {region} {year} {month} {serial} {credit_code}
    results: tuple[str, ...] = ()  # guide results that issue it
    valid_years: int | None = None
    valid_days: int | None = None
    renewal: str | None = None  # the matter that renews it
    industries: tuple[str, ...] = ()  # enterprises of these 行业门类 hold one ("*" = every enterprise)
    seed: dict | None = None  # residents holding one: {"share", "min_age", "max_age"}

    def valid_until(self, issued_on: date) -> date | None:
        if self.valid_days:
            return issued_on + timedelta(days=self.valid_days)
        if self.valid_years:
            return _add_years(issued_on, self.valid_years) - timedelta(days=1)
        return None

    def validity_days(self) -> int | None:
        return self.valid_days or (self.valid_years * 365 if self.valid_years else None)


@dataclass
class LicenceRecord:
    licence: Licence  # status here is valid, revoked or cancelled; expiry is judged when answered
    holder: str  # the holder's ID number or credit code


@dataclass
class Licences:
    clock: Clock
    types: dict[str, LicenceType]
    matter_names: dict[str, str]  # for renewal_matter_name
    records: dict[str, LicenceRecord] = field(default_factory=dict)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    serial: int = 0

    @classmethod
    def load(cls, clock: Clock, matter_names: dict[str, str], data: Path = DATA) -> Licences:
        types = {}
        for t in read_data("licence_types.json", data):
            types[t["name"]] = LicenceType(**t | {"results": tuple(t.get("results", ())), "industries": tuple(t.get("industries", ()))})
        return cls(clock, types, matter_names)

    def type_for_result(self, result: str) -> LicenceType | None:
        return next((t for t in self.types.values() if result in t.results), None)

    # Issuing ------------------------------------------------------------------------------

    def issue(self, kind: LicenceType, *, holder: str, holder_kind: str, holder_name: str, issued_on: date, valid_until: date | None = None,
              matter_code: str | None = None, case_no: str | None = None) -> LicenceRecord:
        self.serial += 1
        licence = Licence(
            id="L" + secrets.token_hex(8).upper(), name=kind.name, holder_kind=holder_kind, holder_name=holder_name, issuer=kind.issuer,
            licence_no=kind.number.format(region=REGION, year=issued_on.year, month=issued_on.month, serial=self.serial, credit_code=holder),
            issued_on=issued_on, valid_from=issued_on, valid_until=valid_until if valid_until is not None else kind.valid_until(issued_on),
            status=LicenceStatus.valid, matter_code=matter_code, case_no=case_no, renewal_matter_code=kind.renewal,
            renewal_matter_name=self.matter_names.get(kind.renewal or ""),
        )
        record = self.records[licence.id] = LicenceRecord(licence, holder)
        return record

    def issue_for_case(self, result: str, *, matter_code: str, case_no: str, holder: str, holder_kind: str, holder_name: str) -> LicenceRecord | None:
        """The licence an approved case gives: its renewal matter extends the one held; anything else issues a new one."""
        kind = self.type_for_result(result)
        if kind is None or not holder or kind.holder != holder_kind:
            return None  # a 结婚证 is a person's: an enterprise's case for it (seeded at random) issues none
        today = self.clock.today()
        if matter_code == kind.renewal:
            held = [r for r in self.of(holder) if r.licence.name == kind.name and r.licence.status == LicenceStatus.valid]
            if held:
                record = max(held, key=lambda r: r.licence.valid_until or date.max)
                current = record.licence
                start = max(today, (current.valid_until or today) + timedelta(days=1))
                current.issued_on, current.valid_from, current.valid_until, current.case_no = today, start, kind.valid_until(start), case_no
                return record
        return self.issue(kind, holder=holder, holder_kind=holder_kind, holder_name=holder_name, issued_on=today, matter_code=matter_code, case_no=case_no)

    def of(self, holder: str) -> list[LicenceRecord]:
        return sorted((r for r in self.records.values() if r.holder == holder), key=lambda r: (r.licence.valid_until or date.max, r.licence.name))

    def set_expiry(self, licence_id: str, valid_until: date | None, status: LicenceStatus | None = None) -> LicenceRecord:
        record = self.records.get(licence_id)
        if record is None:
            raise Refusal(ErrorCode.not_found, "没有这个证照", 404)
        if status == LicenceStatus.expired:
            raise Refusal(ErrorCode.invalid_request, "expired follows from valid_until: set a past date instead", 400)
        record.licence.valid_until = valid_until
        if status is not None:
            record.licence.status = status
        return record

    # Answering ----------------------------------------------------------------------------

    def answer(self, record: LicenceRecord, base_url: str) -> Licence:
        """The licence as of today, with a fresh link to its page."""
        licence, today = record.licence, self.clock.today()
        days_left = (licence.valid_until - today).days if licence.valid_until else None
        status = licence.status
        if status == LicenceStatus.valid and days_left is not None and days_left < 0:
            status = LicenceStatus.expired
        expires = self.clock.now() + VIEW_LINK_TTL
        stamp = int(expires.timestamp())
        url = f"{base_url}/licences/{licence.id}/view?expires={stamp}&sig={self._sign(licence.id, stamp)}"
        return licence.model_copy(update={"status": status, "days_left": days_left, "view_url": url, "view_expires_at": expires.replace(microsecond=0)})

    def viewed(self, licence_id: str, expires: str, sig: str) -> LicenceRecord:
        """The licence behind a page link, while the link is valid; one refusal for every bad link."""
        record = self.records.get(licence_id)
        good = (
            record is not None and expires.isascii() and expires.isdigit() and len(expires) <= 12
            and hmac.compare_digest(self._sign(licence_id, int(expires)).encode(), sig.encode())
            and int(expires) >= self.clock.now().timestamp()
        )
        if not good:
            raise Refusal(ErrorCode.not_found, "证照链接无效或已过期，请重新查询", 404)
        return record

    def _sign(self, licence_id: str, stamp: int) -> str:
        return hmac.new(self.secret, f"{licence_id}.{stamp}".encode(), hashlib.sha256).hexdigest()[:32]

    # Seeding ------------------------------------------------------------------------------

    def seed_resident(self, rng: random.Random, id_number: str, name: str) -> None:
        """The certificates a resident of this age plausibly holds."""
        today = self.clock.today()
        age = age_on(birth_date_of(id_number), today)
        for kind in self.types.values():
            rule = kind.seed
            if not rule or not rule.get("min_age", 0) <= age <= rule.get("max_age", 200) or rng.random() >= rule["share"]:
                continue
            eligible_days = (age - rule.get("min_age", 0)) * 365 + 31  # never issued before they were old enough
            longest = min((kind.validity_days() or 3650) - 20, eligible_days)  # and still valid today
            issued = today - timedelta(days=rng.randint(30, max(31, longest)))
            self.issue(kind, holder=id_number, holder_kind="citizen", holder_name=name, issued_on=issued)

    def seed_enterprise(self, credit_code: str, name: str, industry: str | None, registered_on: date, index: int) -> None:
        """Licences of an enterprise's trade, some lapsing within 7, 30 and 60 days of today."""
        today = self.clock.today()
        kinds = [t for t in self.types.values() if "*" in t.industries or (industry and industry in t.industries)]
        lapsing = 0
        for kind in kinds:
            span = kind.validity_days()
            if span is None:
                self.issue(kind, holder=credit_code, holder_kind="enterprise", holder_name=name, issued_on=registered_on)
                continue
            valid_until = today + timedelta(days=EXPIRY_OFFSETS[(3 * index + lapsing) % len(EXPIRY_OFFSETS)])
            lapsing += 1
            issued_on = max(registered_on, valid_until - timedelta(days=span - 1))
            self.issue(kind, holder=credit_code, holder_kind="enterprise", holder_name=name, issued_on=issued_on, valid_until=valid_until)


#: Days from today to a seeded enterprise licence's expiry: within 7, 30 and 60 days, later, and one lapsed.
EXPIRY_OFFSETS = (5, 28, 55, 6, 400, 20, 900, 45, -12, 700, 58, 200)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def render_page(licence: Licence, now: datetime) -> str:
    """The page a licence link opens (亮证): what an inspector or a clerk checks."""
    rows = [
        ("证照名称", licence.name), ("证照编号", licence.licence_no), ("持证主体", licence.holder_name), ("发证机关", licence.issuer),
        ("发证日期", f"{licence.issued_on:%Y年%m月%d日}"),
        ("有效期", f"{licence.valid_from:%Y年%m月%d日} 至 {licence.valid_until:%Y年%m月%d日}" if licence.valid_until else "长期"),
        ("状态", {"valid": "有效", "expired": "已过期", "revoked": "已吊销", "cancelled": "已注销"}[licence.status.value]),
    ]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>电子证照 · {escape(licence.name)}</title>"
        "<style>body{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}th{text-align:left;padding-right:1rem;color:#555}"
        "td,th{padding:.4rem 0;border-bottom:1px solid #eee}.note{color:#888;font-size:.85rem}</style></head><body>"
        f"<h1>{escape(licence.name)}</h1><table>{body}</table>"
        f'<p class="note">一网通办电子证照（模拟） · 展示时间 {now:%Y-%m-%d %H:%M}，本页链接 30 分钟内有效</p></body></html>'
    )
