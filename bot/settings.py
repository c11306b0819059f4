"""Settings: pydantic-settings over config/default.toml, an optional YWTB_CONFIG file, and
YWTB_* environment variables (highest)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
from pathlib import Path
from typing import Literal

from bot.staff import StaffMember
from pydantic import BaseModel, SecretStr, field_validator, model_validator
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
    catalog_refresh_seconds: float = 300.0

    redis_url: SecretStr = SecretStr("")
    key_prefix: str = "ywtb:"
    redis_max_connections: int = 256
    var_dir: Path = Path("var")

    deadline_seconds: float = 4.0
    turn_timeout_seconds: float = 12.0
    timestamp_window_seconds: int = 300
    max_body_bytes: int = 65536
    dedup_ttl_seconds: int = 300
    lock_ttl_seconds: float = 15.0
    session_ttl_seconds: int = 1800
    session_notice_ttl_seconds: int = 86400
    max_misses: int = 3
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

    run_workers: bool = True
    worker_grace_seconds: float = 5.0

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

    @model_validator(mode="after")
    def _timings_fit_together(self) -> Settings:
        if not 0 < self.deadline_seconds < 5:
            raise ValueError("deadline_seconds must be between 0 and 5: WeChat gives up after 5 s")
        if self.lock_ttl_seconds <= self.turn_timeout_seconds:
            raise ValueError("lock_ttl_seconds must be longer than turn_timeout_seconds, or a slow turn could lose its lock")
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
            )
            if not value
        ]
        if missing:
            raise SettingsError(
                "production needs " + ", ".join(missing) + " to be set"
                + (" (the embedded Redis is for development only)" if "YWTB_REDIS_URL" in missing else "")
            )

    def with_dev_secrets(self) -> Settings:
        """In dev, fill an empty token / AES key from var/dev-secrets.json, creating it once."""
        wanted = ("wechat_token", "wechat_aes_key", "wechat_secret", "platform_events_secret")
        if self.env != "dev" or all(getattr(self, name).get_secret_value() for name in wanted):
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
        }
        if not _is_encoding_aes_key(stored.get("wechat_aes_key", "")):
            stored.pop("wechat_aes_key", None)
        if any(not stored.get(name) for name in wanted):
            stored = {name: stored.get(name) or fresh[name] for name in wanted}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stored, indent=2))
        update = {name: SecretStr(stored[name]) for name in wanted if not getattr(self, name).get_secret_value()}
        return self.model_copy(update=update)

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


def new_encoding_aes_key() -> str:
    """43 letters and digits, like the keys the WeChat admin page generates and accepts."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(43))


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
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise SettingsError(str(exc)) from exc
