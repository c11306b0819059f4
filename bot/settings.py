"""Settings: pydantic-settings over config/default.toml, an optional YWTB_CONFIG file, and
YWTB_* environment variables (highest)."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import string
from datetime import date
from pathlib import Path
from typing import Any, Literal

from bot.services.staff import StaffMember
from pydantic import BaseModel, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOML = ROOT / "config" / "default.toml"


class Hall(BaseModel):
    name: str
    address: str
    hours: str
    phone: str = ""
    transit: str = ""


class SettingsError(RuntimeError):
    """The settings cannot run the bot; the message says what to fix."""


#: The userid of the agent seeded in dev when no staff are configured (Settings.demo_agent).
DEMO_AGENT = "demo-agent"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YWTB_", extra="ignore", toml_file=DEFAULT_TOML)

    env: Literal["dev", "production"] = "dev"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""

    wechat_token: SecretStr = SecretStr("")
    wechat_appid: str = ""
    wechat_aes_key: SecretStr = SecretStr("")
    wechat_mode: Literal["compatible", "safe"] = "compatible"

    wechat_secret: SecretStr = SecretStr("")
    wechat_api_url: str = ""

    platform_url: str = ""
    platform_events_secret: SecretStr = SecretStr("")
    platform_timeout_seconds: float = 3.0
    # The bot's credential for people data on the platform (POST /residents/lookup: 政策找人).
    # Empty in dev: the embedded simulator's own dev token is used.
    platform_token: SecretStr = SecretStr("")
    catalog_refresh_seconds: float = 300.0

    redis_url: SecretStr = SecretStr("")
    key_prefix: str = "ywtb:"
    redis_max_connections: int = 256
    var_dir: Path = Path("var")

    deadline_seconds: float = 4.0
    turn_timeout_seconds: float = 12.0
    timestamp_window_seconds: int = 300
    max_body_bytes: int = 65536
    http_header_timeout_seconds: float = 15.0  # a request's headers must arrive within this of connecting or of the last answer
    http_body_timeout_seconds: float = 15.0  # and its body within this once the headers have (else 408)
    http_max_connections: int = 512  # client connections open per process; one more is answered 503 and closed
    dedup_ttl_seconds: int = 300
    dedup_lease_seconds: float = 3.0  # a message's in-progress claim lapses this long after its process dies
    lock_ttl_seconds: float = 15.0
    session_ttl_seconds: int = 1800
    session_notice_ttl_seconds: int = 86400
    max_misses: int = 2
    passive_reply_max_bytes: int = 2048
    max_messages_per_turn: int = 4
    held_ttl_seconds: int = 172800

    staff: list[StaffMember] = []  # WeCom users with roles (agent, broadcaster, approver, admin)
    wecom_corpid: str = ""
    wecom_agentid: int = 0
    wecom_secret: SecretStr = SecretStr("")
    wecom_token: SecretStr = SecretStr("")  # callback Token of the self-built app
    wecom_aes_key: SecretStr = SecretStr("")  # callback EncodingAESKey
    wecom_api_url: str = ""  # empty: dev uses the simulator at /sim/wechat, production https://qyapi.weixin.qq.com

    two_person_rule: bool = True  # a broadcast must be approved by someone other than its author
    broadcast_mass_batch: int = 10_000  # openids per mass-send call and checkpointed chunk (WeChat: 2 to 10,000)
    broadcast_template_batch: int = 500  # recipients per checkpointed chunk of template messages
    broadcast_mass_per_minute: int = 57  # mass-send calls per window, all processes together: 95 % of WeChat's about 60
    broadcast_mass_window_seconds: float = 60.0  # the sliding window of that limit (WeChat's: a minute)
    broadcast_template_per_second: int = 50  # template messages, all processes together
    broadcast_template_id: str = "ywtb-broadcast-notice"
    broadcast_concurrency: int = 8  # template sends in flight per worker
    broadcast_lease_seconds: float = 15.0  # a dead sender's broadcast is taken over after this
    broadcast_poll_seconds: float = 1.0
    broadcast_retry_seconds: float = 2.0
    broadcast_rate_backoff_seconds: float = 60.0  # after WeChat's 45011 (too many calls this minute)
    broadcast_attempts: int = 5
    broadcast_resolve_seconds: float = 300.0  # longest a preview may take to list the recipients
    broadcast_dedup_seconds: float = 540.0  # a template message cut off by a crash is sent again only within this (WeChat dedups client_msg_id for 10 min)
    broadcast_keep_days: float = 30  # recipients and outcomes of a finished broadcast are kept this long

    handoff_weekdays: list[int] = [1, 2, 3, 4, 5]  # ISO weekdays agents work (holidays / makeup_workdays apply)
    handoff_hours: list[str] = ["09:00-17:00"]  # "HH:MM-HH:MM" periods of each working day, in handoff_timezone
    handoff_timezone: str = "Asia/Shanghai"
    handoff_idle_seconds: int = 600  # a hand-off with no message from either side this long ends
    handoff_wait_seconds: int = 900  # a citizen waiting this long for an agent gets their question kept as a message
    handoff_note_days: int = 2  # messages left for agents are kept this long (WeChat's reply window is 48 h)
    handoff_sweep_seconds: float = 10.0  # how often the hand-off worker looks for idle and waiting ones
    # WeCom takes this many app messages per member and silently drops the rest (bot.services.wecom_outbox)
    wecom_member_messages_per_minute: int = 30
    wecom_member_messages_per_hour: int = 1000
    wecom_rate_minute_seconds: float = 60.0  # the length of WeCom's minute (its hour is 60 of them); tests shrink it
    wecom_text_max_bytes: int = 2048  # WeCom cuts a longer text message

    run_workers: bool = True
    worker_grace_seconds: float = 5.0
    # uvloop (libuv) answers ~15 % more messages per CPU-second than asyncio's own loop
    # (bench/RESULTS.md); "auto" runs on it when installed (a dependency on Linux and macOS).
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    # The cyclic garbage collector's thresholds while the bot runs (Python's are 700, 10, 10). A
    # message allocates a few hundred objects, so Python's first generation was collected every
    # few messages, and the older ones scanned often: ~10 % of an echo's CPU (bench/RESULTS.md).
    # Cycles are rare here (most garbage goes by reference counting); [] keeps Python's.
    gc_thresholds: list[int] = [10_000, 50, 100]

    scheduler_poll_seconds: float = 1.0
    scheduler_lease_seconds: float = 60.0
    scheduler_batch: int = 20
    scheduler_retry_seconds: float = 5.0
    scheduler_max_attempts: int = 8
    scheduler_done_ttl_seconds: int = 30 * 86400

    booking_timezone: str = "Asia/Shanghai"
    booking_remind_day_before_hour: int = 18  # -1: no reminder the day before
    booking_remind_minutes_before: int = 60  # 0: no reminder shortly before the slot
    booking_data_key: SecretStr = SecretStr("")
    booking_remember_days: int = 180
    booking_list_limit: int = 10
    # The platform's rule on missed appointments, as people are told it: this many within the
    # window pause online booking for `booking_no_show_block_days` after the last one.
    booking_no_show_limit: int = 2
    booking_no_show_window_days: int = 30
    booking_no_show_block_days: int = 30
    # The platform also pauses an ID number's online booking after five cancellations in 30 days,
    # and anyone may type anyone's ID number: one WeChat account may cancel this many for one
    # applicant within the window, then books for them no more, so it can never, alone, get
    # another person's booking paused (bot.services.bookings.Bookings.book).
    booking_cancels_per_applicant: int = 4

    notify_group: str = "notifier"
    notify_batch: int = 10
    notify_block_ms: int = 2000
    notify_claim_idle_ms: int = 5000
    notify_concurrency: int = 8
    notify_retry_seconds: float = 2.0
    notify_retry_max_seconds: float = 300.0
    notify_max_attempts: int = 6
    notify_lease_seconds: float = 15.0
    notify_record_days: int = 90
    notify_service_messages: bool = False
    notify_templates: dict[str, str] = {"notice": "ywtb-case-progress"}

    rate_limit_window_seconds: int = 60
    rate_limit_user_messages: int = 60  # per user per window; 0 = off
    rate_limit_ip_requests: int = 1200  # per client IP per window; 0 = off
    rate_limit_admin_refusals: int = 30  # admin API requests refused (401) per client IP per window, then 429; 0 = off
    rate_limit_exempt_networks: list[str] = ["127.0.0.0/8", "::1/128"]
    trusted_proxies: list[str] = ["127.0.0.1/32", "::1/128"]  # their X-Forwarded-For names the client

    case_number_pattern: str = "(?=[0-9A-Z]*[0-9]{8})[0-9A-Z]{19,40}"
    progress_max_failures: int = 5
    progress_failure_window_seconds: int = 600
    progress_lock_seconds: int = 1800
    progress_case_max_failures: int = 8
    progress_case_failure_window_seconds: int = 3600
    progress_case_lock_seconds: int = 1800
    verified_case_days: int = 180
    max_subscriptions: int = 50
    max_enterprises: int = 10
    # A verification code texted to an enterprise's contact, per chat user: one every this many
    # seconds per enterprise and at most this many an hour (the platform's own limit is per enterprise, so
    # without ours a stranger's 重新发送 used it up and locked the enterprise's own people out)
    code_text_seconds: int = 60
    code_texts_per_hour: int = 5
    holidays: list[date] = []
    makeup_workdays: list[date] = []
    rating_reminder_seconds: int = 259200
    rating_digits_seconds: int = 86400
    rating_pending_days: int = 30
    licence_reminder_days: list[int] = [60, 30, 7]
    enterprise_reminder_hours: list[int] = [9, 20]
    annual_report_reminder_months: list[int] = [1, 6]
    enterprise_reminder_sweep_seconds: int = 3600

    log_level: str = "INFO"
    log_json: bool = True

    halls: list[Hall] = []

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings]
        extra = os.environ.get("YWTB_CONFIG")
        if extra:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(extra)))
        sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)

    @field_validator("wechat_aes_key")
    @classmethod
    def _aes_key_shape(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw and not _is_encoding_aes_key(raw):
            raise ValueError("YWTB_WECHAT_AES_KEY must be the 43-character EncodingAESKey from the WeChat admin page")
        return value

    @field_validator("booking_data_key")
    @classmethod
    def _data_key_shape(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw and not _is_data_key(raw):
            raise ValueError("YWTB_BOOKING_DATA_KEY must be 32 random bytes in URL-safe base64 (python -m bot config shows a dev one)")
        return value

    @field_validator("wecom_aes_key")
    @classmethod
    def _wecom_aes_key_shape(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw and not _is_encoding_aes_key(raw):
            raise ValueError("YWTB_WECOM_AES_KEY must be the 43-character EncodingAESKey of the WeCom app's callback")
        return value

    @field_validator("gc_thresholds")
    @classmethod
    def _gc_thresholds(cls, value: list[int]) -> list[int]:
        if value and (len(value) != 3 or value[0] < 1 or min(value) < 0):
            raise ValueError("gc_thresholds takes three counts (generations 0, 1, 2; the first at least 1), or [] for Python's")
        return value

    @field_validator("handoff_hours")
    @classmethod
    def _handoff_hours_shape(cls, value: list[str]) -> list[str]:
        for period in value:
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)", period) or period[:5] >= period[6:]:
                raise ValueError(f'handoff_hours: "{period}" is not a period like "09:00-17:00"')
        return value

    @model_validator(mode="after")
    def _timings_fit_together(self) -> Settings:
        if self.handoff_idle_seconds >= self.session_ttl_seconds:
            raise ValueError("handoff_idle_seconds must be shorter than session_ttl_seconds, or a hand-off could outlive the conversation")
        if not 0 < self.deadline_seconds < 5:
            raise ValueError("deadline_seconds must be between 0 and 5: WeChat gives up after 5 s")
        if self.lock_ttl_seconds <= self.turn_timeout_seconds:
            raise ValueError("lock_ttl_seconds must be longer than turn_timeout_seconds, or a slow turn could lose its lock")
        if not 0 < self.dedup_lease_seconds < self.dedup_ttl_seconds:
            raise ValueError("dedup_lease_seconds must be positive and shorter than dedup_ttl_seconds")
        return self

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url.get_secret_value()

    @property
    def embedded_platform(self) -> bool:
        """No platform URL in dev: the simulator is mounted at /sim/platform."""
        return self.env == "dev" and not self.platform_url

    @property
    def embedded_wechat(self) -> bool:
        """No WeChat API URL in dev: the simulator is mounted at /sim/wechat."""
        return self.env == "dev" and not self.wechat_api_url

    @property
    def platform_base(self) -> str:
        return self.platform_url.rstrip("/") if self.platform_url else f"{self.loopback_url}/sim/platform"

    @property
    def wechat_api_base(self) -> str:
        if self.wechat_api_url:
            return self.wechat_api_url.rstrip("/")
        return f"{self.loopback_url}/sim/wechat" if self.env == "dev" else "https://api.weixin.qq.com"

    @property
    def wecom_api_base(self) -> str:
        if self.wecom_api_url:
            return self.wecom_api_url.rstrip("/")
        return f"{self.loopback_url}/sim/wechat" if self.env == "dev" else "https://qyapi.weixin.qq.com"

    @property
    def loopback_url(self) -> str:
        """How this process reaches itself (embedded simulators)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def var_path(self) -> Path:
        return self.var_dir if self.var_dir.is_absolute() else ROOT / self.var_dir

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def check_for_production(self) -> None:
        """Refuse to run in production with anything a real deployment cannot do without."""
        if self.env != "production":
            return
        missing = [
            name
            for name, value in (
                ("YWTB_WECHAT_TOKEN", self.wechat_token.get_secret_value()),
                ("YWTB_WECHAT_APPID", self.wechat_appid),
                ("YWTB_WECHAT_AES_KEY", self.wechat_aes_key.get_secret_value()),
                ("YWTB_WECHAT_SECRET", self.wechat_secret.get_secret_value()),
                ("YWTB_PLATFORM_URL", self.platform_url),
                ("YWTB_PLATFORM_EVENTS_SECRET", self.platform_events_secret.get_secret_value()),
                ("YWTB_REDIS_URL", self.redis_url.get_secret_value()),
                ("YWTB_BOOKING_DATA_KEY", self.booking_data_key.get_secret_value()),
            )
            if not value
        ]
        if self.staff:  # staff reach the bot through the WeCom app
            missing += [
                name
                for name, value in (
                    ("YWTB_WECOM_CORPID", self.wecom_corpid),
                    ("YWTB_WECOM_AGENTID", self.wecom_agentid),
                    ("YWTB_WECOM_SECRET", self.wecom_secret.get_secret_value()),
                    ("YWTB_WECOM_TOKEN", self.wecom_token.get_secret_value()),
                    ("YWTB_WECOM_AES_KEY", self.wecom_aes_key.get_secret_value()),
                )
                if not value
            ]
        if missing:
            raise SettingsError(
                "production needs " + ", ".join(missing) + " to be set"
                + (" (the embedded Redis is for development only)" if "YWTB_REDIS_URL" in missing else "")
            )
        chosen = [("YWTB_WECHAT_TOKEN", self.wechat_token), ("YWTB_PLATFORM_EVENTS_SECRET", self.platform_events_secret),
                  ("YWTB_WECOM_TOKEN", self.wecom_token)] + [(f"the admin API token of staff {m.userid}", m.token) for m in self.staff]
        weak = [name for name, secret in chosen if secret.get_secret_value() and not strong_secret(secret.get_secret_value())]
        if weak:
            raise SettingsError(
                ", ".join(weak) + " too weak for production: use at least 16 characters, 8 of them different, "
                "e.g. python -c 'import secrets; print(secrets.token_hex(16))'"
            )

    def with_dev_secrets(self) -> Settings:
        """In dev, fill an empty token / AES key from var/dev-secrets.json, creating it once; and
        with no staff configured, seed a demo agent (`with_demo_agent`) so 人工 can be tried."""
        wanted = ("wechat_token", "wechat_aes_key", "wechat_secret", "platform_events_secret", "booking_data_key",
                  "wecom_token", "wecom_aes_key", "wecom_secret", "demo_agent_token")
        if self.env != "dev":
            return self
        if all(getattr(self, name).get_secret_value() for name in wanted[:-1]) and self.staff:
            return self
        path = self.var_path / "dev-secrets.json"
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            stored = {}
        fresh = {
            "wechat_token": secrets.token_hex(16),
            "wechat_aes_key": new_encoding_aes_key(),
            "wechat_secret": secrets.token_hex(16),
            "platform_events_secret": secrets.token_urlsafe(24),
            "booking_data_key": new_data_key(),
            "wecom_token": secrets.token_hex(16),
            "wecom_aes_key": new_encoding_aes_key(),
            "wecom_secret": secrets.token_hex(16),
            "demo_agent_token": secrets.token_hex(16),
        }
        for aes in ("wechat_aes_key", "wecom_aes_key"):
            if not _is_encoding_aes_key(stored.get(aes, "")):
                stored.pop(aes, None)
        if any(not stored.get(name) for name in wanted):
            stored = {name: stored.get(name) or fresh[name] for name in wanted}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stored, indent=2))
        update: dict[str, Any] = {name: SecretStr(stored[name]) for name in wanted[:-1] if not getattr(self, name).get_secret_value()}
        if not self.staff:
            update.update(self.demo_agent(stored["demo_agent_token"]))
        return self.model_copy(update=update)

    def demo_agent(self, token: str) -> dict[str, Any]:
        """Dev with no staff listed: one demo agent (its admin token from var/dev-secrets.json),
        on duty around the clock, so a person's 人工 reaches the queue at any hour and the
        console's staff page (/console/staff) can accept with that token."""
        member = StaffMember(userid=DEMO_AGENT, name="演示坐席", roles={"agent", "broadcaster", "approver"}, token=SecretStr(token))
        return {"staff": [member], "handoff_weekdays": [1, 2, 3, 4, 5, 6, 7], "handoff_hours": ["00:00-24:00"]}

    def masked(self) -> dict:
        """The effective settings as plain data, secrets masked, for `python -m bot config`."""
        data = self.model_dump(mode="json")
        for name, value in self:
            if isinstance(value, SecretStr):
                data[name] = mask_secret(value.get_secret_value(), url=name.endswith("_url"))
        return data


def mask_secret(value: str, url: bool = False) -> str:
    if not value:
        return ""
    if url:
        # Keep scheme and host so an operator can see where it points; hide credentials.
        from yarl import URL

        try:
            parsed = URL(value)
        except ValueError:
            return "****"
        if parsed.password or parsed.user:
            parsed = parsed.with_user("****").with_password(None)
        return str(parsed)
    return value[:2] + "****" + value[-2:] if len(value) > 8 else "****"


def strong_secret(value: str) -> bool:
    """Long and varied enough that guessing it is hopeless (a secret people choose, like the
    webhook token, not a key of a fixed shape)."""
    return len(value) >= 16 and len(set(value)) >= 8


def new_encoding_aes_key() -> str:
    """43 letters and digits, like the keys the WeChat admin page generates and accepts."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(43))


def new_data_key() -> str:
    """A key for data encrypted at rest (remembered applicants): 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _is_data_key(value: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(value.encode())) == 32
    except ValueError:
        return False


def _is_encoding_aes_key(value: str) -> bool:
    if len(value) != 43:
        return False
    try:
        return len(base64.b64decode(value + "=", validate=True)) == 32
    except ValueError:
        return False


def load_settings(**overrides) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:  # what is wrong, by setting; never the value given (it may be a secret)
        raise SettingsError("; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors(include_url=False, include_input=False)
        )) from None
