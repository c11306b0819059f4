"""The residents the simulated platform knows (政策找人 matches on them) and the benefits it grants
them without an application (免申即享).

A resident's birth date and sex come from the ID number, as on the real platform; the household
registration (户籍) is its own record, since people move between districts."""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from integrations.platform.identifiers import id_check_digit, mask_name, valid_id_number
from integrations.platform.models import BenefitGrant, ErrorCode, Resident
from integrations.platform.simulator.common import DATA, DISTRICTS, REGION, Clock, Refusal, age_on, birth_date_of, read_data

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
_GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀兰", "霞"]
#: How many seeded residents, and how many of them are 80 or older (高龄津贴 and its like need several).
RESIDENTS, ELDERS = 160, 16


def person_for(rng: random.Random) -> dict:
    born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))
    return _person(rng, born, REGION)


def _person(rng: random.Random, born: date, region: str) -> dict:
    first17 = f"{region}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return {
        "name": rng.choice(_SURNAMES) + rng.choice(_GIVEN),
        "phone": f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}",
        "id_number": first17 + id_check_digit(first17),
    }


@dataclass
class ResidentRecord:
    id_number: str
    name: str
    phone: str
    household_region: str


@dataclass
class Residents:
    """The population register the platform can read (人口库), keyed by ID number."""

    clock: Clock
    records: dict[str, ResidentRecord] = field(default_factory=dict)

    def add(self, id_number: str, name: str, phone: str, household_region: str | None = None) -> ResidentRecord:
        """Register a person; a known one keeps its record unless a household region is given."""
        if not valid_id_number(id_number):
            raise Refusal(ErrorCode.invalid_id_number, "身份证号码校验不通过")
        id_number = id_number.upper()
        if household_region is not None and household_region not in DISTRICTS:
            raise Refusal(ErrorCode.invalid_request, "户籍地区县代码不在本市", 400)
        record = self.records.get(id_number)
        if record is None:
            region = household_region or (id_number[:6] if id_number[:6] in DISTRICTS else REGION)
            record = self.records[id_number] = ResidentRecord(id_number, name, phone, region)
        elif household_region is not None:
            record.household_region = household_region
        return record

    def resident(self, id_number: str) -> Resident | None:
        record = self.records.get(id_number.upper())
        if record is None:
            return None
        born = birth_date_of(record.id_number)
        return Resident(
            id_number=record.id_number, name=mask_name(record.name), sex="male" if int(record.id_number[16]) % 2 else "female",
            birth_date=born, age=age_on(born, self.clock.today()), household_region_code=record.household_region,
            household_district=DISTRICTS[record.household_region],
        )

    def verified(self, id_number: str, phone_last4: str) -> ResidentRecord:
        """The person, when the phone registered for them ends with these digits; the same refusal otherwise."""
        record = self.records.get(id_number.upper())
        if record is None or not record.phone or not secrets.compare_digest(record.phone[-4:].encode(), phone_last4.encode()):
            raise Refusal(ErrorCode.identity_not_verified, "身份信息核验不通过", 404)
        return record

    def seed(self, rng: random.Random) -> None:
        """People of every age, a few from other districts, and ELDERS aged 80 to 104."""
        today = self.clock.today()
        for n in range(RESIDENTS):
            if n < ELDERS:
                age = 80 + (n * 7) % 25
                birthday = date(today.year - age, today.month, min(today.day, 28))  # their birthday this year has passed
                born = birthday - timedelta(days=rng.randint(0, 360))
            else:
                born = date(1936, 1, 1) + timedelta(days=rng.randint(0, (today - date(1936, 1, 1)).days))
            birth_region = REGION if rng.random() < 0.8 else rng.choice(sorted(DISTRICTS))
            person = _person(rng, born, birth_region)
            moved = rng.random() < 0.15
            self.add(person["id_number"], person["name"], person["phone"], rng.choice(sorted(DISTRICTS)) if moved else None)


# 免申即享 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenefitType:
    """A benefit the platform grants from data it holds (data/benefits.json)."""

    code: str
    name: str
    holder: str
    department: str
    content: str
    amount: str
    period: str
    basis: str
    how_to_query: str
    how_to_object: str
    tiers: tuple[tuple[int, str], ...] = ()  # (from age, amount): the amount by the resident's age


def load_benefits(data: Path = DATA) -> dict[str, BenefitType]:
    return {b["code"]: BenefitType(**b | {"tiers": tuple(tuple(t) for t in b.get("tiers", []))}) for b in read_data("benefits.json", data)}


def grant(benefit: BenefitType, *, clock: Clock, resident: Resident | None = None, enterprise_name: str = "", credit_code: str | None = None,
          amount: str | None = None) -> BenefitGrant:
    """What the platform announces when it grants `benefit` to a resident or an enterprise."""
    today = clock.today()
    if amount is None:
        amount = benefit.amount
        if resident is not None:
            amount = next((a for age, a in sorted(benefit.tiers, reverse=True) if resident.age >= age), amount)
    first_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1) if today.day > 15 else today.replace(day=1)
    return BenefitGrant(
        id="B" + hashlib.sha256(secrets.token_bytes(16)).hexdigest()[:12].upper(), benefit_code=benefit.code, name=benefit.name,
        holder_kind="citizen" if resident is not None else "enterprise",
        id_number=resident.id_number if resident is not None else None, credit_code=credit_code,
        holder_name=resident.name if resident is not None else enterprise_name,
        content=benefit.content.format(amount=amount), amount=amount,
        period=benefit.period.format(year=first_month.year, month=first_month.month), department=benefit.department,
        basis=benefit.basis, how_to_query=benefit.how_to_query, how_to_object=benefit.how_to_object, granted_at=clock.now(),
    )
