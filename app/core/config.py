"""Settings, read from TESTIMONY_* environment variables (nested with ``__``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.errors import ConfigError


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
    documenter_totp_required: bool = True
    """Documenters read identities, so they need a second factor like every content role;
    only development mode may relax it (for documenters, never for other roles)."""
    confirmation_hours: int = 24
    """How long a two-person request waits for the second person."""


class PasswordHashSettings(BaseModel):
    """argon2id cost; never below OWASP's minimum (m=19 MiB, t=2, p=1) in production."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 2


class ThrottleSettings(BaseModel):
    window_minutes: int = 15
    per_account_address: int = 5
    """Failures allowed per (account, client address) in the window."""
    per_address: int = 50
    """Failures allowed per client address, across accounts, in the window."""
    tokens_per_hour: int = 10
    lookups_per_target: int = 5
    """Failed consent lookups allowed per reference code (or pseudonym code) in an hour, across accounts."""
    lookups_per_account: int = 10
    """Failed consent lookups allowed per account in an hour, across references."""


class LimitSettings(BaseModel):
    """Request body limits, enforced before the application reads a body."""

    body_bytes: int = Field(default=1024 * 1024, ge=1)
    """Largest request body, in bytes, on every path without a limit of its own (JSON bodies)."""
    body_bytes_by_prefix: dict[str, int] = Field(default_factory=dict)
    """Limits of their own for path prefixes (a streamed upload route), e.g. {"/api/v1/uploads": 2147483648}."""
    body_seconds: float = Field(default=20, gt=0)
    """Seconds a request body may keep the server waiting for it, plus one more for every
    body_min_rate bytes received; past that it is cut off with 408 (Apache's mod_reqtimeout
    ``body=20,MinRate=500``). Only time spent waiting for the client counts."""
    body_min_rate: int = Field(default=500, ge=1)
    """Bytes per second a body must keep up, once body_seconds are spent, to go on being read."""

    @field_validator("body_bytes_by_prefix")
    @classmethod
    def _prefixes(cls, value: dict[str, int]) -> dict[str, int]:
        for prefix, limit in value.items():
            if not prefix.startswith("/") or limit < 1:
                raise ValueError("each prefix starts with / and its limit is a positive number of bytes")
        return value

    def body_limit(self, path: str, more: Mapping[str, int] | None = None) -> int:
        """The limit for a path: that of the longest prefix it falls under, else body_bytes.

        A ``*`` in a prefix stands for exactly one path segment; ``more`` adds prefixes (the upload
        routes), and a configured prefix of the same length wins over them.
        """
        best, limit = -1, self.body_bytes
        for prefix, prefix_limit in [*(more or {}).items(), *self.body_bytes_by_prefix.items()]:
            base = prefix.rstrip("/")
            if _under(path, base) and len(base) >= best:
                best, limit = len(base), prefix_limit
        return limit


def _under(path: str, prefix: str) -> bool:
    """Whether path is prefix or lies below it, a "*" segment of the prefix matching any one segment."""
    want = prefix.split("/")
    have = path.split("/")
    if len(have) < len(want):
        return False
    return all(w == h or (w == "*" and h != "") for w, h in zip(want, have, strict=False))


GIB = 1024**3
# Where attachment bodies are streamed in: the routes whose body limit follows attachments.max_bytes.
# A "*" stands for one path segment (an id).
# The interview page's upload form streams to the same service through its own route.
ATTACHMENT_UPLOAD_PATHS = ("/api/v1/interviews/*/attachments", "/api/v1/uploads", "/interviews/*/attachments")
# Room for the multipart framing (boundaries, part headers, form fields) around the file itself.
UPLOAD_FRAMING_BYTES = 64 * 1024


class ExportSettings(BaseModel):
    """How long and how often a built export bundle may be downloaded."""

    max_downloads: int = Field(default=3, ge=1, le=100)
    """Downloads of one bundle; past them the download is refused (409 ``download_limit``)."""
    download_days: int = Field(default=7, ge=1, le=365)
    """Days from the moment the export became ready during which its bundle may be downloaded."""
    feedback_days: int = Field(default=14, ge=1, le=365)
    """Days a documenter has to tell the survivor of an approval or a recall through their safe channel."""
    worker_statement_timeout_seconds: int = Field(default=60, ge=1, le=3600)
    """PostgreSQL ``statement_timeout`` of the export worker's sessions: a statement stuck longer is cancelled."""
    worker_idle_in_transaction_seconds: int = Field(default=300, ge=1, le=3600)
    """PostgreSQL ``idle_in_transaction_session_timeout`` of the worker's sessions: a worker that stalls inside
    a transaction (holding its job row and people's locks) loses its connection, and so its locks, after this.
    Longer than the longest pause between two statements of a build (stripping or encrypting a large file)."""
    lock_wait_seconds: float = Field(default=5.0, gt=0, le=60)
    """How long a withdrawal, an invalidation or an erasure waits for a person's lock (an export build or
    download may hold it) before it answers 503 with Retry-After instead of hanging (PostgreSQL
    ``lock_timeout``)."""


class AttachmentSettings(BaseModel):
    """The blob store of attachments and the limits of uploads."""

    dir: Path | None = None
    """Blob directory; defaults to <data_dir>/attachments. Keep it on the same file system throughout."""
    max_bytes: int = Field(default=2 * GIB, ge=1)
    """Largest attachment, in bytes of the original file; larger uploads are refused with 413."""
    upload_expiry_hours: int = Field(default=24, ge=1)
    """A resumable upload that receives nothing for this long is abandoned and removed."""
    temp_grace_minutes: int = Field(default=60, ge=1)
    """A temp blob that no live upload holds, unchanged this long, was left by a crash and is removed."""
    idle_seconds: int = Field(default=60, ge=1)
    """A transfer that sends no byte for this long is cut off (the client resumes)."""
    sweep_every_minutes: int = Field(default=15, ge=1)
    """How often each worker sweeps abandoned uploads and temp blobs (also once at start)."""


class RetentionSettings(BaseModel):
    """Organisation defaults for how long data is kept, where a person's consent states no period."""

    storage: str = Field(default="P10Y", pattern=r"^P[1-9][0-9]?Y$")
    """The storage period, from participation consent, when the consent states none."""
    categories: dict[str, str] = Field(default_factory=dict)
    """Shorter periods for some data categories, e.g. {"contact": "P2Y"}; the shorter of this and the consent's wins."""
    review_days: int = Field(default=30, ge=1, le=365)
    """How far ahead the custodians' review queue looks."""

    @field_validator("categories")
    @classmethod
    def _periods(cls, value: dict[str, str]) -> dict[str, str]:
        for category, period in value.items():
            if not re.fullmatch(r"P[1-9][0-9]?Y", period) or not re.fullmatch(r"[a-z_]{1,40}", category):
                raise ValueError("each category maps to a period in whole years, such as P2Y")
        return value


PLACEHOLDER_ORIGIN = "testimony-vault.example/audit"
OWASP_ARGON2 = (19456, 2, 1)  # m (KiB), t, p: OWASP's minimum for argon2id
DEVELOPMENT_HINT = (
    "For a local trial only, set TESTIMONY_DEVELOPMENT=true (development mode: a plain key file, "
    "the OpenAPI page, cookies without Secure), as `make run` does."
)


class JournalSettings(BaseModel):
    path: Path | None = None
    """The erasure and withdrawal journal (JSON lines, outside the database); defaults to journal.jsonl beside
    the key file. Back it up with the keys, not with the database: a restored backup re-applies it."""


class BackupSettings(BaseModel):
    recipient: str | None = None
    """The age recipient (age1...) `testimony backup` encrypts to; keep its identity (secret key) off the server."""
    identity: Path | None = None
    """The age identity file `testimony restore` decrypts with; put it in place only for the restore."""


class AuditSettings(BaseModel):
    origin: str = PLACEHOLDER_ORIGIN
    """Checkpoint origin line and signing key name; set a unique name per deployment."""
    checkpoint_every_events: int = 1000
    checkpoint_every_seconds: int = 300


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TESTIMONY_", env_nested_delimiter="__", extra="ignore")

    development: bool = False
    """Development mode: plain key file allowed, OpenAPI page served, cookies without Secure."""
    data_dir: Path = Path("var")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    passwords: PasswordHashSettings = Field(default_factory=PasswordHashSettings)
    throttle: ThrottleSettings = Field(default_factory=ThrottleSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    attachments: AttachmentSettings = Field(default_factory=AttachmentSettings)
    exports: ExportSettings = Field(default_factory=ExportSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    forms_dir: Path | None = None
    """Consent forms folder; defaults to the consent_forms/ shipped with the code."""
    guides_dir: Path | None = None
    """Interview guides folder; defaults to the interview_guides/ shipped with the code."""
    trusted_proxies: list[str] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000

    def production_problems(self) -> list[str]:
        """What must change before this configuration may run outside development mode."""
        problems = []
        if self.audit.origin == PLACEHOLDER_ORIGIN:
            problems.append(
                "set TESTIMONY_AUDIT__ORIGIN to a name unique to this deployment (e.g. vault.example.org/audit)"
            )
        if not self.session.documenter_totp_required:
            problems.append("TESTIMONY_SESSION__DOCUMENTER_TOTP_REQUIRED=false is allowed in development mode only")
        p = self.passwords
        memory, time_cost, parallelism = OWASP_ARGON2
        if p.memory_kib < memory or p.time_cost < time_cost or p.parallelism < parallelism:
            problems.append("TESTIMONY_PASSWORDS__* is below OWASP's argon2id minimum (m=19456 KiB, t=2, p=1)")
        return problems

    def refuse_unready(self, more: Iterable[str] = ()) -> None:
        """Outside development mode, refuse (ConfigError) a configuration with production_problems()
        or ``more`` (key custody), naming them all at once and the development mode."""
        if self.development:
            return
        if problems := [*self.production_problems(), *more]:
            listed = "".join(f"\n  - {p}" for p in problems)
            raise ConfigError(f"refusing to start outside development mode:{listed}\n{DEVELOPMENT_HINT}")

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'testimony.db'}"

    @property
    def key_file(self) -> Path:
        return self.keys.file or self.data_dir / "keyring.json"

    @property
    def journal_path(self) -> Path:
        return self.journal.path or self.key_file.parent / "journal.jsonl"

    @property
    def attachments_dir(self) -> Path:
        return self.attachments.dir or self.data_dir / "attachments"

    def body_limit(self, path: str) -> int:
        """The body limit of a path: an upload route takes the largest attachment and its framing."""
        upload = self.attachments.max_bytes + UPLOAD_FRAMING_BYTES
        return self.limits.body_limit(path, dict.fromkeys(ATTACHMENT_UPLOAD_PATHS, upload))


@lru_cache
def get_settings() -> Settings:
    """The settings of this environment. A value that cannot be read is a ConfigError naming every such
    variable at once, never its value (a database URL may hold a password)."""
    try:
        return Settings()
    except ValidationError as exc:
        listed = "".join(f"\n  - {_variable(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"cannot read the settings:{listed}") from None


def _variable(loc: tuple[int | str, ...]) -> str:
    return "TESTIMONY_" + "__".join(str(part) for part in loc).upper()
