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


class MassSendJobFinished(BaseModel):
    """WeChat's report on a mass send, posted to the account's webhook once the job is done
    (event MASSSENDJOBFINISH): how many it was asked to reach, how many were left once it had
    filtered out people it would not send to (unfollowed, refused, monthly quota used up), and
    how many of those it sent or failed to send (FilterCount is about SentCount + ErrorCount)."""

    msg_id: str = Field(alias="MsgID", pattern=r"^[0-9]{1,24}$", description="the msg_id the mass send answered")
    status: str = Field(alias="Status", max_length=64, description='"send success", "send fail" or "err(<code>)"')
    total: int = Field(alias="TotalCount", ge=0, le=10**9)
    after_filter: int = Field(alias="FilterCount", ge=0, le=10**9)
    sent: int = Field(alias="SentCount", ge=0, le=10**9)
    errors: int = Field(alias="ErrorCount", ge=0, le=10**9)

    model_config = {"populate_by_name": True}

    @property
    def filtered(self) -> int:
        """People WeChat did not send to at all."""
        return max(self.total - self.after_filter, 0)


class WeComSendResult(BaseModel):
    msgid: str = ""
    #: Recipients WeCom refused (unknown userids, or outside the app's visible range).
    invalid_users: list[str] = Field(default_factory=list)
