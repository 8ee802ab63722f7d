"""The services' messages a page shows, marked for the catalogs (services write English for the API)."""

from __future__ import annotations


def _(message: str) -> str:
    """Marks a message for extraction; the page translates it when it shows it."""
    return message


SERVICE_MESSAGES = (
    _("The username, password or code is not right."),
    _("Too many attempts; try again later."),
    _("the current password is not right"),
    _("choose a password different from the current one"),
    _("choose a password different from the one an admin reset replaced"),
    _("that code is not right; check the device clock and try the next code"),
    _("a second factor is already enrolled; an admin can reset it"),
    _("your role does not allow this"),
    _("Not found"),
    _("Fill in every field."),
    _("The two new passwords are not the same."),
)

CONSENT_STATUS = {
    "requested": _("consent asked, not yet given"),
    "deferred": _("needs time to think (deferred)"),
    "given": _("consent given"),
    "renewed": _("consent renewed"),
    "refused": _("consent refused"),
    "withdrawn": _("consent withdrawn"),
    "expired": _("consent expired"),
    "invalidated": _("consent invalidated"),
    "unknown": _("consent unknown"),
}
"""A participation-consent status (the DPV names of app.consent.vocabulary) as staff read it."""
