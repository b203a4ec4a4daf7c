"""How the notifier reaches its channels (a settings section; no I/O imported here)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

DEFAULT_INDEX_LINK = (
    "http://localhost:5601/app/discover#/?_a=(query:(language:kuery,query:'key:\"{key}\"'))"
)


class NotifierSettings(BaseModel):
    """How the notifier reaches its channels: SMTP server, timeouts, retries, index links."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    smtp_host: str = Field(default="localhost", min_length=1)
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = Field(default=False, description="upgrade a plain connection")
    smtp_ssl: bool = Field(default=False, description="TLS from the start (SMTP_SSL, port 465)")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = Field(default="adwatch@localhost", pattern=r"^[^@\s]+@[^@\s]+$")
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    max_attempts: int = Field(default=5, ge=1, le=50)
    initial_backoff_seconds: float = Field(default=1.0, ge=0, le=3600)
    max_backoff_seconds: float = Field(default=300.0, ge=0, le=86400)
    index_link_template: str = Field(
        default=DEFAULT_INDEX_LINK, description="'{key}' becomes the ad key (KQL/rison-escaped)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> NotifierSettings:
        if self.smtp_ssl and self.smtp_starttls:
            raise ValueError("choose smtp_ssl (implicit TLS) or smtp_starttls, not both")
        if self.smtp_password is not None and self.smtp_username is None:
            raise ValueError("smtp_password needs smtp_username")
        if self.max_backoff_seconds < self.initial_backoff_seconds:
            raise ValueError("max_backoff_seconds must be at least initial_backoff_seconds")
        if "{key}" not in self.index_link_template:
            raise ValueError("index_link_template must contain '{key}'")
        return self
