"""Settings, read from TESTIMONY_* environment variables (nested with ``__``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseModel):
    url: str | None = None
    """SQLAlchemy URL; defaults to SQLite in the data directory."""
    app_role: str | None = None
    """PostgreSQL role the service runs as; migrations grant it rights (see docs/operations.md)."""
    busy_timeout_ms: int = 5000


class KeySettings(BaseModel):
    file: Path | None = None
    """Key file; defaults to <data_dir>/keyring.json."""
    passphrase: SecretStr | None = None
    """Passphrase of a protected key file. Without it, an interactive start prompts."""
    material: SecretStr | None = None
    """The keyring document itself (plain or protected JSON), instead of a file."""
    provider: str | None = None
    """``module:factory`` returning a KeyStore, for an external KMS."""


class SessionSettings(BaseModel):
    idle_minutes: int = 30
    absolute_hours: int = 12
    documenter_totp_required: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TESTIMONY_", env_nested_delimiter="__", extra="ignore")

    development: bool = False
    """Development mode: plain key file allowed, OpenAPI page served, cookies without Secure."""
    data_dir: Path = Path("var")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    trusted_proxies: list[str] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'testimony.db'}"

    @property
    def key_file(self) -> Path:
        return self.keys.file or self.data_dir / "keyring.json"


@lru_cache
def get_settings() -> Settings:
    return Settings()
