"""Checking a participation consent record against its form before it is stored.

Each refusal is a 422 naming the field; a message about the form's values lists the values the form allows,
never what was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Protocol

from app.consent.forms import ConsentForm, TeachBackEntry, TextVariant
from app.consent.registry import FormRegistry, allowed
from app.consent.schemas import Method, ParticipationCreate
from app.consent.vocabulary import ConsentStatus, ParticipationDecision, TeachBackQuestion
from app.core.errors import ValidationFailed

ADULT = 18
AFFIRMATIVE = frozenset({ConsentStatus.GIVEN, ConsentStatus.RENEWED})


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class PinnedText(Protocol):
    """What a consent record says was read: the form, its version, the language, the text and its hash."""

    @property
    def form_id(self) -> str: ...
    @property
    def form_version(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def text_variant(self) -> str: ...
    @property
    def text_sha256(self) -> str: ...


def form_of(forms: FormRegistry, data: PinnedText) -> ConsentForm:
    """The published form the record names, its language and the text read; 422 listing what the form allows."""
    form = forms.get(data.form_id, data.form_version)
    if form is None:
        raise ValidationFailed(
            "unknown consent form or version; published: %(forms)s",
            fields=["form_id", "form_version"],
            params={"forms": forms.published_names()},
        )
    if data.language not in form.languages:
        raise ValidationFailed(
            "the form has no text in that language; its languages: %(languages)s",
            fields=["language"],
            params={"languages": list(form.languages)},
        )
    variant = TextVariant(data.text_variant)
    if form.text(data.language, variant).sha256 != data.text_sha256:
        raise ValidationFailed(
            "text_sha256 is not the hash of the %(text_variant)s text in that language; its texts: %(texts)s",
            fields=["text_sha256"],
            params={"text_variant": variant.value, "texts": _hashes(form, data.language)},
        )
    return form


def _hashes(form: ConsentForm, language: str) -> str:
    return allowed(f"{t.variant.value} {t.sha256}" for t in form.languages[language].texts.values())


def _pin_texts(data: ParticipationCreate, form: ConsentForm, status: ConsentStatus, age: int) -> None:
    """A minor's consent pins both texts read: the child's (text_sha256) and the guardian's.

    An adult's record has no guardian text: a hash sent for one is refused rather than kept unchecked.
    A minor who refuses or defers may not have heard the guardian text, so it is required only for
    consent given or renewed, and checked whenever it is sent.
    """
    field = "guardian_text_sha256"
    if age >= ADULT:
        if data.guardian_text_sha256 is not None:
            raise ValidationFailed(
                "an adult's record has no guardian text; leave guardian_text_sha256 out", fields=[field]
            )
        return
    affirmative = status in AFFIRMATIVE
    if affirmative and TextVariant(data.text_variant) is not TextVariant.CHILD:
        raise ValidationFailed(
            "a minor's consent is given on the child text: text_variant child, with its text_sha256",
            fields=["text_variant"],
        )
    if data.guardian_text_sha256 is None:
        if affirmative:
            raise ValidationFailed("a minor's consent pins the guardian text read to the guardian", fields=[field])
        return
    if form.text(data.language, TextVariant.GUARDIAN).sha256 != data.guardian_text_sha256:
        raise ValidationFailed(
            "guardian_text_sha256 is not the hash of the guardian text in that language; its texts: %(texts)s",
            fields=[field],
            params={"texts": _hashes(form, data.language)},
        )


def decisions_of(data: ParticipationCreate, form: ConsentForm, status: ConsentStatus) -> dict[str, bool]:
    """The decisions stated; a deferred record may leave any open, every other record states each one
    the form's version asks, and none it does not ask."""
    stated: dict[str, bool] = {} if data.decisions is None else data.decisions.model_dump(exclude_none=True)
    unasked = [f"decisions.{d}" for d in stated if ParticipationDecision(d) not in form.decisions]
    if unasked:
        raise ValidationFailed(
            "this version of the form does not ask that decision; it asks: %(decision)s",
            fields=unasked,
            params={"decision": [d.value for d in form.decisions]},
        )
    if status is ConsentStatus.DEFERRED:
        return stated
    if data.decisions is None:
        raise ValidationFailed(
            "state every decision as yes or no (declining is an answer); only a deferred record may leave them open",
            fields=["decisions"],
        )
    missing = [f"decisions.{d.value}" for d in form.decisions if d.value not in stated]
    if missing:
        raise ValidationFailed(
            "state every decision as yes or no (declining is an answer); only a deferred record may leave one open",
            fields=missing,
        )
    return stated


def teach_back_set(data: ParticipationCreate, form: ConsentForm) -> str:
    """The set of teach-back questions asked: as stated, else the child set for the child text when the
    version has one, else the adult set."""
    child_text = TextVariant(data.text_variant) is TextVariant.CHILD
    if data.teach_back_set == "child":
        if not form.child_teach_back:
            raise ValidationFailed(
                "this version of the form has no teach-back questions in child language; its sets: adult",
                fields=["teach_back_set"],
            )
        if not child_text:
            raise ValidationFailed("the child set is asked after the child text", fields=["teach_back_set"])
    if data.teach_back_set is not None:
        return data.teach_back_set
    return "child" if child_text and form.child_teach_back else "adult"


def _questions(form: ConsentForm, asked: str) -> Mapping[TeachBackQuestion, TeachBackEntry]:
    return form.child_teach_back if asked == "child" else form.teach_back


def read_after_written(form: ConsentForm, language: str, on: date) -> None:
    """A text cannot have been read before the day it was last changed."""
    changed = form.languages[language].changed
    if changed is not None and on < changed:
        raise ValidationFailed(
            "obtained_at is before this version's text in that language was written (%(date)s)",
            fields=["obtained_at"],
            params={"date": changed.isoformat()},
        )


def status_of(data: ParticipationCreate) -> ConsentStatus:
    # Consent given in acute distress stays deferred until confirmed in a later version.
    if data.deferred_reason is not None:
        return ConsentStatus.DEFERRED
    if data.status is ConsentStatus.DEFERRED:
        raise ValidationFailed("say why consent is deferred", fields=["deferred_reason"])
    return ConsentStatus(data.status)


def check(
    data: ParticipationCreate,
    form: ConsentForm,
    status: ConsentStatus,
    decisions: dict[str, bool],
    age: int,
    on: date,
    asked: str = "adult",
) -> str | None:
    """Refuse an incomplete record (422 naming the field); return why collection is blocked, if it is."""
    if data.method is Method.VERBAL_WITNESSED and data.witness is None:
        raise ValidationFailed("verbal consent needs a witness", fields=["witness"])
    _pin_texts(data, form, status, age)
    questions = _questions(form, asked)
    unasked = sorted(q.value for q in data.teach_back if q not in questions)
    if unasked:
        raise ValidationFailed(
            "the %(teach_back_set)s teach-back set has no such question; its questions: %(questions)s",
            fields=["teach_back"],
            params={"teach_back_set": asked, "questions": allowed(questions)},
        )
    if status not in AFFIRMATIVE:
        return None
    missing = sorted(q.value for q in questions if q not in data.teach_back)
    if missing:
        raise ValidationFailed(
            "teach-back results are missing from the %(teach_back_set)s set: %(questions)s",
            fields=["teach_back"],
            params={"teach_back_set": asked, "questions": missing},
        )
    if decisions[ParticipationDecision.STORAGE]:
        if data.retention not in form.retention_options:
            raise ValidationFailed(
                "choose one of the form's retention periods: %(periods)s",
                fields=["retention"],
                params={"periods": [str(p) for p in form.retention_options]},
            )
        if data.withdrawal_code_word is None:
            raise ValidationFailed("the person chooses a withdrawal code word", fields=["withdrawal_code_word"])
    if decisions.get(ParticipationDecision.RE_CONTACT, False):
        if data.recontact is None:
            raise ValidationFailed("re-contact needs its safety details", fields=["recontact"])
        if data.recontact.expires_on <= on:
            raise ValidationFailed("re-contact must expire in the future", fields=["recontact.expires_on"])
    interp = data.interpreter
    if interp is not None and not (interp.accepted_by_interviewee and interp.confidentiality_signed):
        raise ValidationFailed(
            "the interviewee must accept the interpreter, who signs the confidentiality undertaking",
            fields=["interpreter"],
        )
    if age >= ADULT:
        return None
    minor = data.minor
    if minor is None:
        raise ValidationFailed("a minor needs their own assent and a guardian's consent", fields=["minor"])
    if not minor.assent:
        raise ValidationFailed("the child's own assent is required", fields=["minor.assent"])
    if minor.guardian_conflict:
        # A guardian with a conflict of interest blocks the interview unless a social worker stands in.
        return None if minor.social_worker else "guardian_conflict"
    if minor.guardian is None or not minor.guardian.consent:
        raise ValidationFailed("a guardian's consent is required for a minor", fields=["minor.guardian"])
    return None


def allows_collection(status: ConsentStatus, decisions: dict[str, bool], blocked: str | None) -> bool:
    """Identity and statements may be collected under consent given or renewed, to the interview and to storage,
    with nothing blocking; a deferred record never allows it, whatever decisions it states."""
    agreed = all(decisions.get(d) is True for d in (ParticipationDecision.INTERVIEW_NOW, ParticipationDecision.STORAGE))
    return status in AFFIRMATIVE and agreed and blocked is None
