"""Shared pydantic bases: strict input, and strings that refuse NUL bytes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator


def _no_nul(value: Any) -> Any:
    # Nested models are Input too and check their own fields, so the error names the innermost field.
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("NUL bytes are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON \ud800 escape: no database can store it
            raise ValueError("the text is not valid Unicode") from None
    if isinstance(value, list | tuple):
        for v in value:
            _no_nul(v)
    if isinstance(value, dict):
        for k in value:
            _no_nul(k)
    return value


class Input(BaseModel):
    """Every request body: unknown fields are refused, NUL bytes anywhere are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _nonblank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NonBlank = Annotated[str, AfterValidator(_nonblank)]
