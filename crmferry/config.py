"""All configuration in one object, read from CRMFERRY_* variables, DATABASE_URL and `.env`."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of one process; built once at the edge (CLI, app factory) and passed down."""

    model_config = SettingsConfigDict(
        env_prefix="CRMFERRY_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "CRMFERRY_DATABASE_URL")
    )
    data_dir: Path = Path(".crmferry")
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    min_lead_seconds: int = Field(default=300, ge=0)
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    max_import_rows: int = Field(default=5_000_000, gt=0)
    max_cell_chars: int = Field(default=32_767, gt=0)
    max_xlsx_uncompressed_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    max_xlsx_part_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    max_xlsx_ratio: int = Field(default=100, gt=1)
    # files in one ZIP upload of a batch (POST /uploads/batch)
    max_zip_entries: int = Field(default=20, gt=0)
    # a gzip source (URL or S3) stops decompressing past this many bytes (gzip bombs)
    max_decompressed_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    fetch_timeout_seconds: float = Field(default=60.0, gt=0)
    fetch_deadline_seconds: float = Field(default=600.0, gt=0)
    # comma-separated CIDRs and host names outbound requests may reach although private
    outbound_allow: str = ""
    smtp_url: str | None = None
    smtp_from: str = "crmferry@localhost"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_attach_max_bytes: int = Field(default=10 * 1024 * 1024, ge=0)
    schedule_max_failures: int = Field(default=5, ge=1)
    lease_seconds: int = Field(default=30, ge=2)
    heartbeat_seconds: float | None = None
    max_attempts: int = Field(default=3, ge=1)
    poll_seconds: float = Field(default=5.0, gt=0)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    retention_days: int = Field(default=30, ge=1)
    org_concurrency: int = Field(default=4, ge=1)
    session_days: int = Field(default=14, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    login_max_address_failures: int = Field(default=20, ge=1)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    sse_max_streams_per_user: int = Field(default=5, ge=1)
    # comma-separated; empty: the host of base_url, localhost, 127.0.0.1 and ::1
    allowed_hosts: str = ""
    # comma-separated addresses or CIDRs whose X-Forwarded-For/-Proto are believed
    trusted_proxies: str = ""
    cookie_secure: Literal["auto", "true", "false"] = "auto"
    metrics_token: str | None = None
    db_pool_size: int = Field(default=10, ge=1)
    app_db_password: str | None = None
    worker_db_password: str | None = None
    log_level: str = "INFO"
    # a webhook delivery's retries: seconds after each failed attempt (Standard Webhooks)
    webhook_retry_seconds: str = "5,300,1800,7200,18000,36000,36000"
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    webhook_disable_after_seconds: int = Field(default=5 * 24 * 3600, ge=0)
    webhook_rotation_overlap_seconds: int = Field(default=24 * 3600, ge=0)
    export_alert_rows: int = Field(default=100_000, ge=1)

    @field_validator("outbound_allow")
    @classmethod
    def _outbound_allow_parses(cls, value: str) -> str:
        from crmferry.outbound import OutboundPolicy  # the one parser of the list

        OutboundPolicy.parse(value)
        return value

    @field_validator("webhook_retry_seconds")
    @classmethod
    def _retry_seconds_parse(cls, value: str) -> str:
        _seconds_list(value)
        return value

    @property
    def webhook_retry_delays(self) -> tuple[float, ...]:
        """CRMFERRY_WEBHOOK_RETRY_SECONDS: the wait after each failed attempt, in order."""
        return _seconds_list(self.webhook_retry_seconds)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_parses(cls, value: str | None) -> str | None:
        from crmferry.errors import ValidationFailed
        from crmferry.notify.mail.smtp import SmtpServer  # the one parser of the URL

        if value:
            try:
                SmtpServer.parse(value)
            except ValidationFailed as exc:
                raise ValueError(exc.detail) from None
        return value or None

    @cached_property
    def files_dir(self) -> Path:
        """Where uploads, results and error reports live (never in the database)."""
        return self.data_dir.resolve() / "files"

    @property
    def allowed_host_names(self) -> tuple[str, ...]:
        """CRMFERRY_ALLOWED_HOSTS, or else the host of the base URL and the loopback names."""
        given = _comma_list(self.allowed_hosts)
        if given:
            return given
        names = (urlsplit(self.base_url).hostname, "localhost", "127.0.0.1", "::1")
        return tuple(dict.fromkeys(n for n in names if n))

    @property
    def trusted_proxy_list(self) -> tuple[str, ...]:
        return _comma_list(self.trusted_proxies)

    @property
    def effective_heartbeat_seconds(self) -> float:
        return self.heartbeat_seconds or max(1.0, self.lease_seconds / 3)


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _seconds_list(text: str) -> tuple[float, ...]:
    """A comma list of non-negative seconds (empty: no retries)."""
    try:
        values = tuple(float(item) for item in _comma_list(text))
    except ValueError:
        raise ValueError(f"must be a comma-separated list of seconds, not {text!r}") from None
    if any(not 0 <= v < 10**7 for v in values):
        raise ValueError("each retry delay must be between 0 and 10,000,000 seconds")
    return values


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
