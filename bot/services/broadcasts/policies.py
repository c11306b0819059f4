"""政策找人: a policy is a broadcast whose audience is everyone subscribed to policy pushes who
consents to matching and meets its eligibility rules. This module holds the rules (data, typed
and validated with pydantic; nothing is ever evaluated as code), the policy as staff write it,
the reading of rules typed in WeCom chat, and the matching of people against the rules.

Rules, all of which must hold (AND):
- on the person (what the platform knows of the ID number they verified, POST /residents/lookup):
  `age` (min and/or max 周岁, both inclusive, as 以上 / 以下 are in Chinese law), `district`
  (household division code prefixes);
- on one of the enterprises they bound, the same one for every enterprise rule
  (GET /enterprises/{code} and its licences): `industry` (a name part, e.g. 餐饮业 matches
  住宿和餐饮业), `enterprise_size`, `enterprise_district` (division code prefixes, read from the
  credit code), `licence` (a valid licence whose name contains one of the names).

Everything else about sending (preview with the exact count, the two-person rule, the resumable
sender, the audit) is the broadcasts' own: bot.services.broadcasts.workflow.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, field_validator, model_validator

from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.models import EnterpriseProfile, EnterpriseSize, Licence, LicenceStatus, Resident

log = logging.getLogger(__name__)

SIZE_TEXT = {"micro": "微型", "small": "小型", "medium": "中型", "large": "大型"}
_NAME = Annotated[str, Field(min_length=1, max_length=30)]
_CODE = Annotated[str, Field(pattern=r"^[0-9]{2,6}$")]


def plain_text(value: str) -> str:
    """A staff-written title or text: trimmed, not blank, no control characters but newline and tab
    (the validator of every notice's and policy's text fields)."""
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise ValueError("must not contain control characters")
    return value


class _Rule(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


class AgeRule(_Rule):
    kind: Literal["age"]
    min: int | None = Field(default=None, ge=0, le=150, description="周岁, inclusive (以上)")
    max: int | None = Field(default=None, ge=0, le=150, description="周岁, inclusive (以下)")

    @model_validator(mode="after")
    def _bounded(self) -> AgeRule:
        if self.min is None and self.max is None:
            raise ValueError("age needs min or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("age min must not exceed max")
        return self

    def describe(self) -> str:
        if self.max is None:
            return f"{self.min} 周岁以上"
        if self.min is None:
            return f"{self.max} 周岁以下"
        return f"{self.min} 至 {self.max} 周岁"


class DistrictRule(_Rule):
    kind: Literal["district"]
    codes: list[_CODE] = Field(min_length=1, max_length=20, description="household division code prefixes")

    def describe(self) -> str:
        return "户籍区划 " + "、".join(self.codes)


class IndustryRule(_Rule):
    kind: Literal["industry"]
    names: list[_NAME] = Field(min_length=1, max_length=10, description="part of the industry's name, e.g. 餐饮业")

    def describe(self) -> str:
        return "行业含「" + "」或「".join(self.names) + "」的企业"


class SizeRule(_Rule):
    kind: Literal["enterprise_size"]
    sizes: list[EnterpriseSize] = Field(min_length=1, max_length=4)

    def describe(self) -> str:
        return "、".join(SIZE_TEXT[s.value] for s in self.sizes) + "企业"


class EnterpriseDistrictRule(_Rule):
    kind: Literal["enterprise_district"]
    codes: list[_CODE] = Field(min_length=1, max_length=20, description="division code prefixes of the registering authority")

    def describe(self) -> str:
        return "企业登记区划 " + "、".join(self.codes)


class LicenceRule(_Rule):
    kind: Literal["licence"]
    names: list[_NAME] = Field(min_length=1, max_length=10, description="part of a valid licence's name, e.g. 食品经营许可证")

    def describe(self) -> str:
        return "持有有效的「" + "」或「".join(self.names) + "」"


Rule = Annotated[Union[AgeRule, DistrictRule, IndustryRule, SizeRule, EnterpriseDistrictRule, LicenceRule],
                 Field(discriminator="kind")]
PERSON_RULES = ("age", "district")
ENTERPRISE_RULES = ("industry", "enterprise_size", "enterprise_district", "licence")


def describe_rules(rules: list[Any]) -> str:
    return "，".join(r.describe() for r in rules)


class PolicyDraft(BaseModel):
    """A policy as staff write it: what it is, the matter to apply with, and who it is for."""

    title: str = Field(min_length=1, max_length=40)
    summary: str = Field(min_length=1, max_length=400)
    matter_code: str = Field(min_length=1, max_length=64, description="the matter to apply with (implementation code)")
    rules: list[Rule] = Field(min_length=1, max_length=8)

    model_config = {"extra": "forbid"}

    @field_validator("title", "summary", "matter_code")
    @classmethod
    def _text(cls, value: str) -> str:
        return plain_text(value)

    @field_validator("rules")
    @classmethod
    def _once_each(cls, rules: list[Any]) -> list[Any]:
        kinds = [r.kind for r in rules]
        if len(kinds) != len(set(kinds)):
            raise ValueError("each kind of rule at most once (list several values in one rule)")
        return rules


# Rules typed in WeCom chat ----------------------------------------------------------------------

_SPLIT = re.compile(r"[，,；;+＋\n]|并且|而且|且")
_AGE_FROM = re.compile(r"(?:年龄|年满)?(\d{1,3})(?:周岁|岁)(?:及|或)?以上|年满(\d{1,3})(?:周岁|岁)")
_AGE_TO = re.compile(r"(?:年龄)?(\d{1,3})(?:周岁|岁)(?:及|或)?以下")
_AGE_RANGE = re.compile(r"(?:年龄)?(\d{1,3})(?:周岁|岁)?[-~～至到](\d{1,3})(?:周岁|岁)")
_LABELLED = re.compile(r"(事项|申请事项|办理事项|行业|证照|持有|区县|户籍|户籍区划|区划|企业区划|企业所在地|登记区划)[:：]?(.+)")
_SIZES = {"小微企业": ["micro", "small"], "中小微企业": ["micro", "small", "medium"], "中小企业": ["small", "medium"],
          "微型企业": ["micro"], "小型企业": ["small"], "中型企业": ["medium"], "大型企业": ["large"]}


@dataclass
class ParsedTerms:
    """Rules (as dicts, for PolicyDraft) and the matter named, from a line of chat; `unknown` are
    the terms that said neither."""

    rules: list[dict] = field(default_factory=list)
    matter: str = ""
    unknown: list[str] = field(default_factory=list)


def parse_terms(text: str) -> ParsedTerms:
    """Read "80周岁以上；事项 高龄津贴申领" or "餐饮业 + 小微企业 + 事项 511A..." into rules."""
    found = ParsedTerms()
    merged: dict[str, dict] = {}

    def add(kind: str, key: str, values: list) -> None:
        rule = merged.setdefault(kind, {"kind": kind, key: []})
        rule[key].extend(v for v in values if v not in rule[key])

    for raw in _SPLIT.split(unicodedata.normalize("NFKC", text)):
        term = re.sub(r"\s+", "", raw)
        if not term:
            continue
        if m := _AGE_RANGE.fullmatch(term):
            merged["age"] = {"kind": "age", "min": int(m.group(1)), "max": int(m.group(2))}
        elif m := _AGE_FROM.fullmatch(term):
            merged.setdefault("age", {"kind": "age"})["min"] = int(m.group(1) or m.group(2))
        elif m := _AGE_TO.fullmatch(term):
            merged.setdefault("age", {"kind": "age"})["max"] = int(m.group(1))
        elif term in _SIZES:
            add("enterprise_size", "sizes", _SIZES[term])
        elif m := _LABELLED.fullmatch(term):
            label, value = m.groups()
            values = [v for v in re.split(r"[、/或]", value) if v]
            if label in ("事项", "申请事项", "办理事项"):
                found.matter = value
            elif label == "行业":
                add("industry", "names", values)
            elif label in ("证照", "持有"):
                add("licence", "names", values)
            elif label in ("企业区划", "企业所在地", "登记区划"):
                add("enterprise_district", "codes", values)
            else:
                add("district", "codes", values)
        elif re.fullmatch(r"\d{6}", term):
            add("district", "codes", [term])
        elif term.endswith(("许可证", "证照", "执照", "证书")):
            add("licence", "names", [term])
        elif term.endswith("业") and len(term) >= 2:
            add("industry", "names", [term])
        else:
            found.unknown.append(term)
    found.rules = list(merged.values())
    return found


# Matching ---------------------------------------------------------------------------------------


@dataclass
class _Enterprise:
    profile: EnterpriseProfile | None
    licences: list[Licence] | None


class PolicyMatcher:
    """Who, among the people subscribed to policy pushes with consent, meets a policy's rules.

    The platform is asked once per resolve for each batch of people (residents, 100 a call) and
    for each enterprise; what it does not know (an unknown ID number or enterprise) matches
    nothing. Platform errors propagate: a preview that cannot ask the platform fails whole,
    rather than counting short."""

    BATCH = 100

    def __init__(self, consents: Any, platform: Any, subscriptions: Any):
        self.consents, self.platform, self.subscriptions = consents, platform, subscriptions

    async def members(self, rules: list[Any]) -> AsyncIterator[str]:
        person = [r for r in rules if r.kind in PERSON_RULES]
        business = [r for r in rules if r.kind in ENTERPRISE_RULES]
        enterprises: dict[str, _Enterprise] = {}
        batch: list[tuple[str, str | None]] = []
        async for user in self.consents.subscribers():
            consent = await self.consents.get(user)
            if consent is None:
                continue
            if person and not consent.id_number:
                continue  # a person rule, and no ID number to check it on
            batch.append((user, consent.id_number))
            if len(batch) >= self.BATCH:
                async for found in self._match(batch, person, business, enterprises):
                    yield found
                batch = []
        async for found in self._match(batch, person, business, enterprises):
            yield found

    async def _match(self, batch: list[tuple[str, str | None]], person: list, business: list,
                     enterprises: dict[str, _Enterprise]) -> AsyncIterator[str]:
        if not batch:
            return
        residents: dict[str, Resident] = {}
        if person:
            ids = sorted({n for _, n in batch if n})
            residents = {r.id_number.upper(): r for r in await self.platform.residents(ids)} if ids else {}
        for user, id_number in batch:
            if person:
                resident = residents.get((id_number or "").upper())
                if resident is None or not all(_person_meets(r, resident) for r in person):
                    continue
            if business and not await self._some_enterprise_meets(user, business, enterprises):
                continue
            yield user

    async def _some_enterprise_meets(self, user: str, rules: list, cache: dict[str, _Enterprise]) -> bool:
        wants_licences = any(r.kind == "licence" for r in rules)
        for code, _ in await self.subscriptions.enterprises(user):
            known = cache.get(code)
            if known is None:
                known = cache[code] = _Enterprise(await self._profile(code), None)
            if wants_licences and known.licences is None and known.profile is not None:
                known.licences = await self.platform.enterprise_licences(code)
            if known.profile is not None and all(_enterprise_meets(r, code, known) for r in rules):
                return True
        return False

    async def _profile(self, code: str) -> EnterpriseProfile | None:
        try:
            return await self.platform.enterprise(code)
        except PlatformUnavailable:
            raise
        except PlatformError:
            return None  # not an enterprise the platform knows (deregistered, mistyped): matches nothing


def _person_meets(rule: Any, resident: Resident) -> bool:
    if rule.kind == "age":
        return (rule.min is None or resident.age >= rule.min) and (rule.max is None or resident.age <= rule.max)
    return any(resident.household_region_code.startswith(code) for code in rule.codes)


def _enterprise_meets(rule: Any, code: str, enterprise: _Enterprise) -> bool:
    profile = enterprise.profile
    if rule.kind == "industry":
        return bool(profile.industry) and any(name in profile.industry for name in rule.names)
    if rule.kind == "enterprise_size":
        return profile.size in rule.sizes
    if rule.kind == "enterprise_district":
        return any(code[2:8].startswith(prefix) for prefix in rule.codes)
    return any(lic.status == LicenceStatus.valid and any(name in lic.name for name in rule.names)
               for lic in enterprise.licences or [])
