"""What retention can delete of a person, where it is stored, and whether it is held now.

Retention deletes the data kept on the person's own record: the sealed identity (identity, demographics and
place of origin are fields of one sealed value) and the safe contact with the re-contact details of
participation consent. The withdrawal code word and the reference code are never among them: only erasure
removes those. Interview material (statements, incidents, attachments) is not deleted by retention.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.consent import service as participation
from app.consent.categories import category_of
from app.consent.vocabulary import DataCategory
from app.keys.sealed import seal_json
from app.people.models import BlindIndexEntry, Person
from app.people.records import open_column, place

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

IDENTITY_DOCUMENT = frozenset({DataCategory.IDENTITY, DataCategory.DEMOGRAPHICS, DataCategory.ORIGIN_PLACE})
"""The categories whose fields make up the sealed identity."""
DELETABLE = IDENTITY_DOCUMENT | {DataCategory.CONTACT}
"""The categories retention deletes."""


def held(session: Session, runtime: Runtime, person: Person) -> set[DataCategory]:
    """The deletable categories the person's record holds now (opened to see which identity fields are set)."""
    found: set[DataCategory] = set()
    identity = open_column(session, runtime.keys, person, "identity")
    for field, value in (identity or {}).items():
        category = category_of("people", "identity", field)
        if category is not None and value not in (None, "", []):
            found.add(category)
    if person.contact is not None or participation.holds_recontact(session, runtime, person):
        found.add(DataCategory.CONTACT)
    return found


def delete_categories(session: Session, runtime: Runtime, person: Person, categories: set[DataCategory]) -> None:
    """Remove the categories from the person's record, in the caller's transaction (the person held).

    The identity is one sealed value whose name is required: when ``identity`` goes, the whole value goes with
    its blind-index rows; when only demographics or place of origin go, the value is sealed again without them.
    """
    if categories & {DataCategory.IDENTITY}:
        person.identity = None
        session.execute(delete(BlindIndexEntry).where(BlindIndexEntry.person_id == person.id))
    elif categories & IDENTITY_DOCUMENT and person.identity is not None:
        identity = open_column(session, runtime.keys, person, "identity") or {}
        kept = {k: v for k, v in identity.items() if category_of("people", "identity", k) not in categories}
        person.identity = seal_json(session, runtime.keys, place(person, "identity"), kept)
    if DataCategory.CONTACT in categories:
        person.contact = None
        participation.drop_recontact(session, runtime, person)
    session.flush()
