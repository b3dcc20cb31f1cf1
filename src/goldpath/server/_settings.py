"""The server's settings: one object, read once at start-up from ``GOLDPATH_*`` variables."""

from __future__ import annotations

import importlib.util
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from goldpath.cluster import sqlite_path
from goldpath.errors import ConfigurationError
from goldpath.models import MODEL_NAMES, split_model_name

__all__ = ["Settings"]

SECRET_FILE = "secret_key"
DATABASE_FILE = "goldpath.db"
OPENAI_KEY = "OPENAI_API_KEY"
"""The OpenAI client's own variable for its key, read when GOLDPATH_OPENAI_API_KEY is unset."""
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Everything the server can be told. Each field is the variable ``GOLDPATH_<NAME>``.

    `prepared` fills the values that depend on the data directory (the database URL, the
    secret key); `create_app` calls it once, so constructing `Settings` touches no file.
    """

    model_config = SettingsConfigDict(env_prefix="GOLDPATH_", extra="ignore", frozen=True)

    app: str | None = None
    """``module:attribute`` of the app to serve instead of goldpath's own (``--app``)."""
    data_dir: Path = Path(".goldpath")
    database_url: str | None = None
    secret_key: str | None = None
    redis_url: str | None = None
    redis_prefix: str = Field(default="goldpath:", min_length=1)
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    approval_tools: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Tools every call of which waits for a person's approval, beside those declared
    ``@tool(requires_approval=True)`` (docs/approvals.md)."""
    demo_notes: bool = True
    """Offer the notes demo (``list_notes``, and ``delete_note``, which waits for approval)
    beside the built-in tools, when ``create_app`` is not given tools of its own."""

    model: str = "offline"
    offline_delay_ms: int = Field(default=0, ge=0, le=10_000)
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    openai_model: str = "gpt-4o-mini"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    token_ttl_seconds: int = Field(default=3600, gt=0)
    auth_timeout_seconds: float = Field(default=10.0, gt=0)
    max_frame_bytes: int = Field(default=65536, gt=0)
    max_message_chars: int = Field(default=32000, gt=0)
    messages_per_minute: int = Field(default=60, gt=0)
    max_runs_per_user: int = Field(default=4, gt=0)
    run_timeout: float = Field(default=120.0, gt=0)
    max_tool_calls: int = Field(default=32, gt=0)
    approval_timeout: float = Field(default=24 * 3600.0, gt=0)
    """Seconds a call may wait for approval; then its run ends with status ``timeout``."""
    history_events: int = Field(default=1000, gt=0)
    history_seconds: float = Field(default=600.0, gt=0)
    lease_seconds: float = Field(default=10.0, ge=0.3)
    """How long a node's claim on its runs holds unrenewed: a survivor ends a stopped node's
    runs within about 1.2 times this (docs/deploy.md)."""
    login_failures_per_account: int = Field(default=5, gt=0)
    login_failures_per_address: int = Field(default=20, gt=0)
    login_failure_window_seconds: float = Field(default=300.0, gt=0)
    login_slowdown_seconds: float = Field(default=1.0, ge=0)
    max_connections_per_user: int = Field(default=20, gt=0)
    max_connections: int = Field(default=10000, gt=0)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    threads_per_minute: int = Field(default=30, gt=0)
    registrations_per_address: int = Field(default=100, gt=0)
    password_hash_time_cost: int = Field(default=3, gt=0)
    password_hash_memory_kib: int = Field(default=65536, ge=8)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    tracing: bool = False
    """Export OpenTelemetry traces (``goldpath[otel]``; ``OTEL_*`` configure the export)."""
    trace_user_ids: bool = False
    """Put the user's id on run spans (off: traces may leave the operator's hands)."""
    trace_messages: bool = False
    """Put message text on spans (off: traces then hold no user content)."""
    metrics: bool = False
    """Serve Prometheus metrics at ``/metrics`` (``goldpath[metrics]``; docs/observability.md)."""
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line, for a log collector (docs/observability.md)."""

    @field_validator("allowed_origins", "trusted_proxies", "approval_tools", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """``GOLDPATH_ALLOWED_ORIGINS``, ``GOLDPATH_TRUSTED_PROXIES`` and
        ``GOLDPATH_APPROVAL_TOOLS`` are comma-separated (a JSON list works too)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip().rstrip("/") for part in text.split(",") if part.strip()]
        return value

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        try:
            split_model_name(value)
        except ConfigurationError:
            raise ConfigurationError(
                f"GOLDPATH_MODEL is {value!r}; set it to {MODEL_NAMES}"
            ) from None
        return value

    def check_backends(self) -> None:
        """Refuse settings that name a backend whose extra is not installed."""
        if self.redis_url and importlib.util.find_spec("redis") is None:
            raise ConfigurationError(
                "GOLDPATH_REDIS_URL needs the redis package: pip install 'goldpath[redis]' "
                "(or unset GOLDPATH_REDIS_URL for in-memory streams, one process)"
            )
        if self.tracing and importlib.util.find_spec("opentelemetry.sdk") is None:
            raise ConfigurationError(
                "GOLDPATH_TRACING needs OpenTelemetry: pip install 'goldpath[otel]' "
                "(or unset GOLDPATH_TRACING)"
            )
        if self.metrics and importlib.util.find_spec("prometheus_client") is None:
            raise ConfigurationError(
                "GOLDPATH_METRICS needs prometheus-client: pip install 'goldpath[metrics]' "
                "(or unset GOLDPATH_METRICS)"
            )
        if self.model == "openai":
            if importlib.util.find_spec("openai") is None:
                raise ConfigurationError(
                    "GOLDPATH_MODEL=openai needs the openai package: pip install 'goldpath[openai]'"
                )
            if not (self.openai_api_key or self.openai_base_url or os.environ.get(OPENAI_KEY)):
                raise ConfigurationError(
                    "GOLDPATH_MODEL=openai needs a key: set GOLDPATH_OPENAI_API_KEY (or "
                    "OPENAI_API_KEY), or GOLDPATH_OPENAI_BASE_URL for a server that needs none"
                )

    def sqlite_file(self) -> Path | None:
        """The SQLite file these settings serve (the data directory's by default); None
        when the database is PostgreSQL."""
        if self.database_url is None:
            return self.data_dir / DATABASE_FILE
        return sqlite_path(self.database_url)

    def prepared(self) -> Settings:
        """These settings with the database URL and secret key filled in.

        The data directory is made if missing. A secret key that was not given is read from
        ``<data_dir>/secret_key``, or generated once and kept there (mode 0600), so tokens
        survive a restart.
        """
        self.check_backends()
        updates: dict[str, Any] = {}
        if self.database_url is None or self.secret_key is None:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private if made here
        if self.database_url is None:
            updates["database_url"] = f"sqlite:///{self.data_dir / DATABASE_FILE}"
        if self.secret_key is None:
            updates["secret_key"] = _stored_secret(self.data_dir / SECRET_FILE)
        secret: str = updates.get("secret_key", self.secret_key) or ""
        if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"GOLDPATH_SECRET_KEY is {len(secret.encode('utf-8'))} bytes; HS256 needs at "
                f"least {MIN_SECRET_BYTES}: set a longer one, e.g. python -c "
                "'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return self.model_copy(update=updates) if updates else self


def _stored_secret(path: Path) -> str:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        secret = ""
    if secret:
        return secret
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first: use theirs
        return path.read_text(encoding="utf-8").strip() or _fail_secret(path)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    return secret


def _fail_secret(path: Path) -> str:
    raise ConfigurationError(
        f"the secret key file {path} is empty; delete it to have a new key generated, "
        "or set GOLDPATH_SECRET_KEY"
    )
