"""Enterprises of the simulated platform: their registration record (name, industry, size,
district, date of establishment), the contact phone verification codes go to, and their yearly
reports (企业年报, filed between 1 January and 30 June of the following year).

Everything but the name, industry and contact is derived from the credit code, so an enterprise
looks the same in every run."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from integrations.platform.identifiers import CREDIT_ALPHABET, credit_check_char, mask_name
from integrations.platform.models import AnnualReport, AnnualReportStatus, Enterprise, EnterpriseProfile, EnterpriseSize, ErrorCode
from integrations.platform.simulator.common import DISTRICTS, REGION, Refusal

_FIRMS = ["广安市", "广安区", "四川"]
_TRADES = [("川味", "餐饮管理有限公司"), ("邻水", "建筑工程有限公司"), ("渠江", "商贸有限公司"), ("华蓥山", "农业开发有限公司"), ("思源", "科技有限公司"), ("协兴", "物流有限公司")]
_STREETS = ["建安路", "洪洲大道", "金安大道", "渠江北路", "万盛街", "北辰街", "浓洄路", "西溪路", "龙台路", "中桥街"]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
_GIVEN = ["建国", "志强", "秀英", "德明", "丽华", "国平", "春梅", "永刚", "海燕", "晓东"]
#: 行业门类 (GB/T 4754) registered for an enterprise, from the trade in its name; None when the name says none.
_INDUSTRIES = {"餐饮": "住宿和餐饮业", "建筑": "建筑业", "商贸": "批发和零售业", "农业": "农、林、牧、渔业",
               "科技": "信息传输、软件和信息技术服务业", "物流": "交通运输、仓储和邮政业"}
#: Most enterprises are micro or small, as in any county.
_SIZES = [EnterpriseSize.micro] * 10 + [EnterpriseSize.small] * 6 + [EnterpriseSize.medium] * 3 + [EnterpriseSize.large]
REPORT_OPENS, REPORT_DUE = (1, 1), (6, 30)  # month, day of the year after the one reported


@dataclass
class EnterpriseRecord:
    enterprise: Enterprise
    contact_phone: str
    profile: EnterpriseProfile
    reports: dict[int, date | None] = field(default_factory=dict)  # year -> filed on (None = not filed)


def new_enterprise(credit_code: str, name: str, contact_phone: str, industry: str | None, today: date) -> EnterpriseRecord:
    digest = hashlib.sha256(credit_code.encode()).digest()
    registered = date(2008, 1, 1) + timedelta(days=int.from_bytes(digest[:4], "big") % max(1, (today - date(2008, 1, 1)).days - 200))
    district = DISTRICTS.get(credit_code[2:8], DISTRICTS[REGION])
    enterprise = Enterprise(credit_code=credit_code, name=name, industry=industry)
    profile = EnterpriseProfile(
        **enterprise.model_dump(), size=_SIZES[digest[4] % len(_SIZES)], district=district, registered_on=registered,
        legal_representative=mask_name(_SURNAMES[digest[5] % len(_SURNAMES)] + _GIVEN[digest[6] % len(_GIVEN)]),
        address=f"四川省广安市{district}{_STREETS[digest[7] % len(_STREETS)]}{1 + digest[8] % 180}号",
    )
    record = EnterpriseRecord(enterprise, contact_phone, profile)
    for year in range(registered.year, today.year):
        opens, due = report_window(year)
        if today < opens:
            continue
        # The window of last year's report may still be open; earlier ones are nearly always filed.
        share = 40 if today <= due else 85 if year == today.year - 1 else 95
        filed = digest[9 + year % 20] % 100 < share
        record.reports[year] = min(today, opens + timedelta(days=10 + digest[29] % 150)) if filed else None
    return record


def report_window(year: int) -> tuple[date, date]:
    return date(year + 1, *REPORT_OPENS), date(year + 1, *REPORT_DUE)


def annual_report(record: EnterpriseRecord, year: int, today: date) -> AnnualReport:
    if year < record.profile.registered_on.year:
        raise Refusal(ErrorCode.not_found, f"{year} 年企业尚未成立，没有这一年的年报", 404)
    if year > today.year:
        raise Refusal(ErrorCode.invalid_request, "还没有这一年的年报", 400)
    opens, due = report_window(year)
    filed_on = record.reports.get(year)
    if filed_on is not None and filed_on > today:  # the clock was moved back before the filing
        filed_on = None
    if filed_on is not None:
        status = AnnualReportStatus.filed
    elif today < opens:
        status = AnnualReportStatus.not_due
    elif today <= due:
        status = AnnualReportStatus.pending
    else:
        status = AnnualReportStatus.overdue
    return AnnualReport(credit_code=record.enterprise.credit_code, year=year, status=status, filed_on=filed_on, opens_on=opens, due_on=due)


def credit_code_for(rng: random.Random) -> str:
    body = "91" + REGION + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
    return body + credit_check_char(body)


def industry_of(name: str) -> str | None:
    return next((industry for word, industry in _INDUSTRIES.items() if word in name), None)


def enterprise_name(rng: random.Random, i: int) -> str:
    prefix, suffix = _TRADES[i % len(_TRADES)]
    return f"{rng.choice(_FIRMS)}{prefix}{suffix}"
