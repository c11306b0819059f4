"""Wire models shared by the WeChat client and its simulator."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Article(BaseModel):
    """One entry of a customer-service news message (WeChat now shows at most one)."""

    title: str
    description: str = ""
    url: str = ""
    picurl: str = ""


class Tag(BaseModel):
    id: int
    name: str
    count: int = 0


class MassSendResult(BaseModel):
    msg_id: int
    msg_data_id: int | None = None
    #: True when WeChat had already accepted a mass send with this clientmsgid (45065): nothing
    #: new was sent, and msg_id is the first send's.
    duplicate: bool = False


class WeComSendResult(BaseModel):
    msgid: str = ""
    #: Recipients WeCom refused (unknown userids, or outside the app's visible range).
    invalid_users: list[str] = Field(default_factory=list)
