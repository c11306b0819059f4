"""The ports dialogs use: one `typing.Protocol` per service, saying exactly what a dialog may call.

Dialogs never import `bot`; the bot hands its services in (`dialogs.engine.Services`,
`dialogs.staff.StaffServices`) and they satisfy these protocols structurally. A test can hand in
anything shaped like them. What a service returns is described here as far as dialogs read it.

Read-only, in-memory ports (`Catalog`, `SettingsView`, `StaffDirectory`) may be read by guards;
the others do I/O and are called only from actions (see dialogs.engine on pure guards).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from datetime import date
from typing import Any, ClassVar, Protocol

from integrations.platform.models import (
    Appointment, AppointmentRequest, Case, Complaint, Enterprise, EnterpriseVerification, Guide, Hall, MatterSummary, Rating,
    RatingLevel, Slot,
)

# Read-only ports ------------------------------------------------------------------------------


class Render(Protocol):
    """Renders a template of templates/ with a context (bot.templating)."""

    def __call__(self, template: str, /, **context: Any) -> str: ...


class SearchHit(Protocol):
    code: str
    name: str
    department: str
    score: float


class Catalog(Protocol):
    """The platform's matters, guides and halls, held in memory (bot.services.catalog.Catalog)."""

    halls: dict[str, Hall]
    ready: asyncio.Event

    def search(self, query: str, top: int = 5) -> list[Any]: ...  # SearchHit-shaped hits
    def guide(self, code: str) -> Guide | None: ...
    def summary(self, code: str) -> MatterSummary | None: ...
    def derived(self, key: Hashable, make: Callable[[], str]) -> str: ...


class HallSetting(Protocol):
    """A hall from the settings ([[halls]]), shown while the catalog has not loaded."""

    name: str
    address: str
    hours: str
    phone: str
    transit: str


class SettingsView(Protocol):
    """What dialogs read of bot.settings.Settings (never write)."""

    case_number_pattern: str
    holidays: Any  # a collection of dates
    makeup_workdays: Any
    progress_max_failures: int
    max_subscriptions: int
    max_enterprises: int
    two_person_rule: bool


class Member(Protocol):
    """A staff member (bot.services.staff.StaffMember)."""

    userid: str
    name: str

    def can(self, role: Any) -> bool: ...


class StaffDirectory(Protocol):
    """Who is staff, from the settings (bot.services.staff.Staff)."""

    def by_userid(self, userid: str) -> Any: ...  # a Member, or None
    def with_role(self, role: Any) -> list[Any]: ...  # Members


# Ports that do I/O ------------------------------------------------------------------------------


class Platform(Protocol):
    """The 一网通办 platform as dialogs call it (integrations.platform.client.PlatformClient)."""

    async def booking_days(self, matter_code: str, hall_id: str) -> list[tuple[date, int]]: ...
    async def slots(self, matter_code: str, hall_id: str, day: date) -> list[Slot]: ...
    async def case(self, case_no: str, *, phone_last4: str | None = None, id_number: str | None = None) -> Case: ...
    async def enterprise_cases(self, credit_code: str) -> list[Case]: ...
    async def start_enterprise_verification(self, credit_code: str) -> EnterpriseVerification: ...
    async def check_enterprise_verification(self, credit_code: str, verification_id: str, code: str) -> Enterprise: ...


class Bookings(Protocol):
    """Appointments and remembered applicants (bot.services.bookings.Bookings)."""

    async def book(self, user: str, request: AppointmentRequest, idempotency_key: str, hall: Any) -> Appointment: ...
    async def upcoming(self, user: str) -> list[Appointment]: ...
    async def cancel(self, user: str, appointment_id: str) -> Appointment: ...
    async def move(self, user: str, appointment_id: str, day: date, start: str, idempotency_key: str, hall: Any) -> Appointment: ...
    def seal(self, user: str, data: dict[str, Any]) -> str: ...
    def unseal(self, user: str, token: str | None) -> dict[str, Any] | None: ...
    async def remember(self, user: str, applicant: dict[str, str]) -> None: ...
    async def remembered(self, user: str) -> dict[str, str] | None: ...
    async def forget(self, user: str) -> None: ...


class FactorLock(Protocol):
    seconds: int
    digits_refused: bool


class VerifiedCase(Protocol):
    case_no: str
    matter_name: str

    @property
    def factor(self) -> dict[str, str]: ...


class Outcome(Protocol):
    """An enum-like answer whose `value` dialogs read ("added", "full", "unverified", ...)."""

    @property
    def value(self) -> str: ...


class Subscriptions(Protocol):
    """Verified cases, subscriptions, enterprise bindings (bot.services.subscriptions.Subscriptions)."""

    async def verified(self, user: str) -> dict[str, Any]: ...  # case_no -> VerifiedCase
    async def verified_case(self, user: str, case_no: str) -> Any: ...  # VerifiedCase or None
    async def remember(self, user: str, case_no: str, matter_name: str, *, phone_last4: str | None = None, id_number: str | None = None) -> None: ...
    async def forget(self, user: str, case_no: str) -> None: ...
    async def factor_lock(self, user: str, case_no: str) -> FactorLock: ...
    async def failed(self, user: str, case_no: str) -> tuple[int, int]: ...
    async def succeeded(self, user: str, case_no: str) -> None: ...
    async def subscribe(self, user: str, case_no: str) -> Outcome: ...
    async def unsubscribe(self, user: str, case_no: str) -> bool: ...
    async def subscribed(self, user: str) -> list[str]: ...
    async def is_subscribed(self, user: str, case_no: str) -> bool: ...
    async def follow_matter(self, user: str, matter_code: str, department: str | None) -> None: ...
    async def unfollow_matter(self, user: str, matter_code: str, department: str | None) -> None: ...
    async def bind(self, user: str, credit_code: str, name: str, industry: str | None = None) -> Outcome: ...
    async def unbind(self, user: str, credit_code: str) -> bool: ...
    async def is_bound(self, user: str, credit_code: str) -> bool: ...
    async def enterprises(self, user: str) -> list[tuple[str, str]]: ...


class Invitation(Protocol):
    case_no: str
    matter_name: str


class Ratings(Protocol):
    """好差评 invitations and ratings (bot.services.ratings.Ratings)."""

    async def pending(self, user: str, *, recent: bool = False) -> Any: ...  # an Invitation, or None
    async def rate(self, user: str, case_no: str, level: RatingLevel, matter_name: str = "", revision: int = 1) -> Rating | None: ...
    async def rated(self, user: str, case_no: str, record: dict) -> None: ...
    async def last_given(self, user: str) -> dict | None: ...
    async def complain(self, user: str, case_no: str, rating_id: str, text: str) -> Complaint | None: ...


class BroadcastDesk(Protocol):
    """Staff broadcasts (bot.services.broadcasts.Broadcasts): write, preview, approve, steer."""

    Error: ClassVar[type[Exception]]  # raised with a `message` for the staff member

    def reason_label(self, reason: str) -> str: ...
    async def tags(self) -> list[Any]: ...
    async def list(self, count: int = 50) -> list[dict[str, Any]]: ...
    async def get(self, bid: str) -> dict[str, Any]: ...
    async def create(self, member: Any, draft: dict[str, Any]) -> dict[str, Any]: ...
    async def preview(self, member: Any, bid: str) -> dict[str, Any]: ...
    async def submit(self, member: Any, bid: str) -> dict[str, Any]: ...
    async def approve(self, member: Any, bid: str) -> dict[str, Any]: ...
    async def pause(self, member: Any, bid: str) -> dict[str, Any]: ...
    async def resume(self, member: Any, bid: str) -> dict[str, Any]: ...
    async def cancel(self, member: Any, bid: str) -> dict[str, Any]: ...
