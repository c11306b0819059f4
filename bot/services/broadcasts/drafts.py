"""What a broadcast is, as written and as it moves: the draft and its audience (validated, with
pydantic, before anything is stored), its states, and the error every step raises."""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bot.services.broadcasts.policies import Rule, describe_rules, plain_text

class Status(str, Enum):
    draft = "draft"
    pending = "pending"  # submitted, waiting for an approver
    sending = "sending"
    paused = "paused"
    done = "done"
    cancelled = "cancelled"


STATUS_TEXT = {"draft": "草稿", "pending": "待审批", "sending": "发送中", "paused": "已暂停", "done": "已完成", "cancelled": "已取消"}


class BroadcastError(Exception):
    """A request the broadcast cannot honour; `code` says why, the message says it to a person."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Audience(BaseModel):
    """Who a broadcast goes to."""

    kind: Literal["all", "tag", "matter", "department", "enterprises", "policy"]
    tag_id: int | None = Field(default=None, ge=0, le=2**31 - 1, description="WeChat tag id (kind=tag): WeChat's are 32-bit")
    matter_code: str | None = Field(default=None, max_length=64, description="matter implementation code (kind=matter)")
    department: str | None = Field(default=None, max_length=60, description="department name (kind=department)")
    district: str | None = Field(default=None, description="2-6 digit division code prefix (kind=enterprises)")
    industry: str | None = Field(default=None, max_length=30, description="industry name (kind=enterprises)")
    rules: list[Rule] | None = Field(default=None, min_length=1, max_length=8,
                                     description="eligibility (kind=policy): bot.services.broadcasts.policies")

    model_config = {"extra": "forbid"}

    @field_validator("matter_code", "department", "industry")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c in value for c in "{}*?[]\\ \n\t")):
            raise ValueError("must be a plain name without spaces or brackets")
        return value

    @field_validator("district")
    @classmethod
    def _district(cls, value: str | None) -> str | None:
        if value is not None and not (value.isascii() and value.isdigit() and 2 <= len(value) <= 6):
            raise ValueError("district must be 2 to 6 digits of a division code, e.g. 511602")
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> Audience:
        need = {"tag": ("tag_id",), "matter": ("matter_code",), "department": ("department",)}.get(self.kind, ())
        missing = [name for name in need if getattr(self, name) is None]
        if self.kind == "enterprises" and not (self.district or self.industry):
            missing.append("district or industry")
        if self.kind == "policy" and not self.rules:
            missing.append("rules")
        if missing:
            raise ValueError(f"audience {self.kind} needs {', '.join(missing)}")
        return self

    def describe(self) -> str:
        """The audience in words, for staff."""
        if self.kind == "all":
            return "全部关注用户"
        if self.kind == "tag":
            return f"标签 {self.tag_id} 的用户"
        if self.kind == "matter":
            return f"订阅事项 {self.matter_code} 的用户"
        if self.kind == "department":
            return f"订阅「{self.department}」的用户"
        if self.kind == "policy":
            return f"订阅政策推送并授权匹配、符合条件（{describe_rules(self.rules or [])}）的用户"
        parts = [f"行政区划 {self.district}" if self.district else "", f"行业「{self.industry}」" if self.industry else ""]
        return "已绑定企业（" + "，".join(p for p in parts if p) + "）的联系人"


class Draft(BaseModel):
    """What a broadcaster writes."""

    title: str = Field(min_length=1, max_length=40)
    body: str = Field(min_length=1, max_length=600)
    audience: Audience
    channel: Literal["auto", "mass", "template"] = Field(
        default="auto", description="auto: mass send for all followers or a tag, template messages for subscribers and enterprises")

    model_config = {"extra": "forbid"}

    @field_validator("title", "body")
    @classmethod
    def _text(cls, value: str) -> str:
        return plain_text(value)


def is_id(bid: str) -> bool:
    return isinstance(bid, str) and bid.startswith("b") and bid[1:].isascii() and bid[1:].isdigit() and len(bid) < 20


def explain(exc: ValidationError) -> str:
    details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
    return f"群发内容有误，请检查后重试（{details}）"
