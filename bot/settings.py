"""One typed settings object, read from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

# Values that must never protect real children's data; `.env.example` ships these.
PLACEHOLDER_SECRETS = {"", "changethis", "change-me", "dev-only-secret-change-me"}


class Settings(BaseSettings):
    """Everything the app reads from its environment; see `.env.example` for each variable."""

    model_config = SettingsConfigDict(
        env_prefix="MYREVIEW_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 3978
    database_url: str = "sqlite+aiosqlite:///var/myreview.db"
    var_dir: Path = Path("var")
    content_dir: Path = REPO_ROOT / "content"
    timezone: str = "Europe/London"
    # Keys the invite-code hashes: a stolen database alone cannot be brute-forced offline.
    secret_key: SecretStr = SecretStr("dev-only-secret-change-me")

    # Bot Framework (Azure Bot) registration; empty means local, unauthenticated use only.
    microsoft_app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = "MultiTenant"
    microsoft_app_id: str = ""
    microsoft_app_password: SecretStr = SecretStr("")
    microsoft_app_tenant_id: str = ""

    # Mail. With no SMTP host, messages are written as .eml files to var/outbox/.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 20.0
    mail_from: str = "MyReview <myreview@localhost>"
    duty_email: str = "duty-team@localhost"
    outbox_poll_seconds: float = 5.0
    outbox_max_attempts: int = 12

    code_attempts_allowed: int = Field(default=5, ge=1)
    code_attempt_window_minutes: int = Field(default=15, ge=1)
    # A message that arrives this soon after the bot asked its next question was typed before
    # the child could have read that question: it belongs to the answer before (README).
    burst_window_seconds: float = Field(default=1.5, ge=0, le=30)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "production":
            if self.secret_key.get_secret_value() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    "MYREVIEW_SECRET_KEY is a placeholder. Set a long random value, "
                    "e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
                )
            if not self.microsoft_app_id or not self.microsoft_app_password.get_secret_value():
                raise ValueError(
                    "MYREVIEW_MICROSOFT_APP_ID and MYREVIEW_MICROSOFT_APP_PASSWORD are required "
                    "in production; see README 'Deploying to Azure Bot and Teams'."
                )
            if self.smtp_password.get_secret_value() in PLACEHOLDER_SECRETS - {""}:
                raise ValueError("MYREVIEW_SMTP_PASSWORD is a placeholder.")
        ZoneInfo(self.timezone)  # fails early with the zone name in the message
        return self

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"
