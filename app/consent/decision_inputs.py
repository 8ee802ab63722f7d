"""The plain values ``decide()`` reads: a consent history, a recipient, the deny-list and the source interview.

They are frozen and hashable, so a caller may memoise decisions per distinct history within one export
build. Vocabulary fields are typed ``str`` on purpose: a value read from storage that is not in the
vocabulary reaches ``decide()``, which denies with ``unknown_vocabulary`` instead of raising. The meaning
of every field is in the docstring of ``app/consent/decision.py``. Like ``decide()``, this module imports
nothing but the standard library and the vocabulary (an import-linter contract in pyproject.toml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

INTERNATIONAL = "international"
"""The jurisdiction of a recipient that belongs to no one country (an ISO 3166-1 alpha-2 code otherwise)."""


@dataclass(frozen=True)
class Grant:
    """One use grant: a purpose, for one recipient class, of some categories, at most at one level."""

    id: str
    purpose: str
    recipient_class: str
    categories: frozenset[str]
    disclosure_level: str
    jurisdictions: frozenset[str] | None = None
    """None: any jurisdiction (never enough for national_authorities); otherwise only these."""
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Refusal:
    """An explicit no: a purpose, for a recipient class or one registered recipient, of some categories."""

    purpose: str
    categories: frozenset[str]
    recipient_class: str | None = None
    recipient_id: str | None = None
    """Exactly one of recipient_class and recipient_id is set."""


@dataclass(frozen=True)
class Exclusions:
    """Registered recipients and jurisdictions that must never receive anything."""

    recipient_ids: frozenset[str] = frozenset()
    jurisdictions: frozenset[str] = frozenset()

    def exclude(self, recipient: Recipient) -> bool:
        """Whether the recipient, by id or by jurisdiction, is excluded."""
        return recipient.id in self.recipient_ids or recipient.jurisdiction in self.jurisdictions


Restrictions = Exclusions
"""A record's restrictions: the survivor's own exclusions."""
DenyList = Exclusions
"""The deployment-wide deny-list, set by admins: it overrides every grant."""


@dataclass(frozen=True)
class ConsentRecord:
    """One version of a consent record; an amendment is a new version naming the one it supersedes."""

    id: str
    status: str
    recorded_at: datetime
    amends: str | None = None
    grants: tuple[Grant, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    restrictions: Restrictions = field(default_factory=Restrictions)
    is_minor: bool = False
    child_assent: bool = False
    guardian_consent: bool = False


@dataclass(frozen=True)
class Withdrawal:
    """A withdrawal filed against one record: of the grants named, or of every grant of its chain."""

    record_id: str
    at: datetime
    grant_ids: frozenset[str] | None = None
    """None: every grant of every version of the record's chain (scope "all")."""


@dataclass(frozen=True)
class ConsentHistory:
    """Everything recorded about one person's use consent: every version of every record, and withdrawals."""

    records: tuple[ConsentRecord, ...] = ()
    withdrawals: tuple[Withdrawal, ...] = ()


@dataclass(frozen=True)
class Recipient:
    """A recipient's registry entry, as it stands at the moment of the decision."""

    id: str
    recipient_class: str
    jurisdiction: str
    active: bool = True


@dataclass(frozen=True)
class Source:
    """The interview the material comes from, when it comes from one."""

    interview_state: str
    stopped_by_interviewee: bool = False
    reconfirmed_after_stop: bool = False
