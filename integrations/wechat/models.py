"""Wire models shared by the WeChat client and its simulator."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


# Customer-service menus (msgmenu): choices a person taps instead of typing -----------------------

#: A numbered choice line as the bot's texts write it: "3. 在哪办".
_CHOICE = re.compile(r"^(\d{1,2})\. (\S.*)$")
MAX_MENU_ITEMS = 10
MAX_MENU_LABEL = 60  # characters of one item's label


class MenuItem(BaseModel):
    """One tappable choice: WeChat shows `content`; a tap sends it back as the person's text,
    with `id` as the message's bizmsgmenuid."""

    id: str = Field(min_length=1, max_length=64)
    content: str = Field(min_length=1, max_length=MAX_MENU_LABEL)


class MenuMessage(BaseModel):
    """A customer-service msgmenu: text before the choices, the choices, text after."""

    head_content: str = ""
    choices: list[MenuItem] = Field(min_length=1, max_length=MAX_MENU_ITEMS)  # WeChat's field "list"
    tail_content: str = ""

    def wire(self) -> dict:
        """The `msgmenu` object of the send API."""
        return {"head_content": self.head_content, "list": [c.model_dump() for c in self.choices], "tail_content": self.tail_content}

    @property
    def text(self) -> str:
        """What it says, read as plain text (the numbered lines it was made from)."""
        lines = [self.head_content, *(f"{item.id}. {item.content}" for item in self.choices), self.tail_content]
        return "\n".join(line for line in lines if line)


def menu_from_text(text: str) -> MenuMessage | None:
    """The text as a msgmenu when it offers choices: one block of two or more consecutive
    numbered lines (1. 2. 3. ..., or 7. 8. ... on a later page), nothing but choices between
    them. None when it has no such block, several, or one too long to tap."""
    lines = text.split("\n")
    runs: list[list[int]] = []  # [first line, line after the last, the last number]
    for i, line in enumerate(lines):
        match = _CHOICE.match(line)
        if match is None:
            continue
        number = int(match.group(1))
        if runs and runs[-1][1] == i and runs[-1][2] + 1 == number:
            runs[-1][1:] = [i + 1, number]
        else:
            runs.append([i, i + 1, number])
    blocks = [(a, b) for a, b, _ in runs if b - a >= 2]
    if len(blocks) != 1:
        return None
    a, b = blocks[0]
    items = [_CHOICE.match(line) for line in lines[a:b]]
    if len(items) > MAX_MENU_ITEMS or any(len(m.group(2)) > MAX_MENU_LABEL for m in items):
        return None
    return MenuMessage(head_content="\n".join(lines[:a]).strip(), choices=[MenuItem(id=m.group(1), content=m.group(2).strip()) for m in items],
                       tail_content="\n".join(lines[b:]).strip())


@dataclass(frozen=True, slots=True)
class Media:
    """A temporary media file fetched from WeChat or WeCom (media/get): the bytes, with the type
    and name the API gave them (a caller judges the content itself, never these)."""

    content: bytes
    content_type: str = ""
    filename: str = ""
