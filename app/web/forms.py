"""Form fields to the services' input schemas: bad input is a 422 naming the field, never a 500."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.core.errors import ValidationFailed

S = TypeVar("S", bound=BaseModel)


def parse(schema: type[S], **fields: Any) -> S:
    try:
        return schema(**fields)
    except ValidationError as exc:
        # A nested field by its dotted path (recontact.expires_on), as the services name fields.
        names = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors() if e.get("loc")})
        raise ValidationFailed("Fill in every field.", fields=names) from None


def blank_to_none(value: str) -> str | None:
    value = value.strip()
    return value or None
