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

CONSENT_CHECKS = (
    _("verbal consent needs a witness"),
    _("give a date of birth or an age, to know whether the person is a minor"),
    _("state every decision as yes or no (declining is an answer); only a deferred record may leave one open"),
    _("state every decision as yes or no (declining is an answer); only a deferred record may leave them open"),
    _("the person chooses a withdrawal code word"),
    _("re-contact needs its safety details"),
    _("re-contact must expire in the future"),
    _("the interviewee must accept the interpreter, who signs the confidentiality undertaking"),
    _("a minor needs their own assent and a guardian's consent"),
    _("the child's own assent is required"),
    _("a guardian's consent is required for a minor"),
    _("a minor's consent pins the guardian text read to the guardian"),
    _("a minor's consent is given on the child text: text_variant child, with its text_sha256"),
    _("an adult's record has no guardian text; leave guardian_text_sha256 out"),
)
"""The participation checks' refusals (app/consent/checks.py, service.py) that the consent wizard shows."""

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

ROLE_NAMES = {
    "documenter": _("Documenter"),
    "legal": _("Legal"),
    "custodian": _("Custodian"),
    "auditor": _("Auditor"),
    "admin": _("Admin"),
}
"""The roles (app.access.roles) as the admin pages name them."""

RECIPIENT_CLASSES = {
    "case_team": _("Our case team"),
    "our_legal_team": _("Our legal team"),
    "intl_criminal_investigators": _("International criminal investigators"),
    "interstate_courts": _("Courts between states"),
    "un_investigative_bodies": _("UN investigative bodies"),
    "un_communications_procedures": _("UN communications procedures"),
    "national_authorities": _("National authorities"),
    "victims_lawyer": _("The victim's lawyer"),
    "service_providers": _("Service providers"),
    "documentation_partners": _("Documentation partners"),
    "researchers": _("Researchers"),
    "journalists": _("Journalists"),
    "public": _("The public"),
}
"""Every recipient class of app.consent.vocabulary.RecipientClass, as the pages name it."""

REQUEST_KINDS = {
    "user.create": _("A new account"),
    "user.reset_password": _("A password reset"),
    "user.enable": _("Re-enabling an account"),
    "user.grant_roles": _("A change of roles"),
    "case.add_member": _("Adding a member to a case team"),
    "recipient.create": _("A new recipient"),
    "recipient.change": _("A change of a recipient's class, jurisdiction or key"),
    "deny_list.change": _("A new deny-list"),
}
"""The two-person kinds of request (registered by their domains) as the confirmations page names them."""

ADMIN_CHECKS = (
    _("a second person must confirm this request"),
    _("no one confirms a change to their own access"),
    _("no one changes their own roles or account status"),
    _("no one changes their own password through an admin reset"),
    _("no one changes their own second factor"),
    _("no one changes their own team memberships"),
    _("this request is confirmed"),
    _("this request is rejected"),
    _("this request is expired"),
    _("this request is void"),
    _("that username is taken"),
    _("that code is not right"),
    _("admin and auditor cannot be combined with a role that reads content"),
    _("admin and auditor cannot be combined: auditors oversee admins"),
    _("a role change for this account is already waiting for a second admin"),
    _("a one-time password for this account is already waiting for a second admin"),
    _("re-enabling this account is already waiting for a second admin"),
    _("change the roles and re-enable the account in two requests"),
    _("a case with that code exists"),
    _("already a member"),
    _("a request to add this member is already waiting for a second admin"),
    _("only documenters, legal and custodians join case teams"),
    _("no active user with that id"),
    _("national authorities need a country as their jurisdiction"),
    _("every entry must be the id of a registered recipient"),
    _("a change of this recipient's class, jurisdiction or key already waits for a second admin"),
)
"""The account, team, registry and confirmation services' refusals that the admin pages show."""

# --- interview ---

FILLED_IN = (
    _(
        "%(doing)s needs the person's latest participation consent (given or renewed) to agree to "
        "%(decision)s; record consent that does first"
    ),
    _("%(doing)s is added only while the interview is in progress or paused, or once it is completed"),
    _("the next version of this statement is %(n)s"),
    _("the draft says what version %(n)s says: correct the draft, read it back, and confirm that"),
    _(
        "%(categories)s can be granted only at a named level (named_public or named_protected); "
        "grant the other categories in a grant of their own"
    ),
    _("this erasure request is %(erasure_state)s"),
    _("a legal hold on this person is %(hold_state)s already"),
    _("this legal hold is %(hold_state)s: it is not waiting for a decision"),
    _("this export is %(export_status)s: it is not waiting for a decision"),
    _("this export is %(export_status)s: only a ready export can be downloaded"),
    _("this review was already decided (%(review_status)s)"),
    _("teach-back results are missing from the %(teach_back_set)s set: %(questions)s"),
    _("choose one of the form's retention periods: %(periods)s"),
)
"""The services' refusals written with places (app.core.errors.AppError ``params``): a page translates the
message, then fills in each place, in words of the page's language where a table below names them."""

DOING = {
    "an interview": _("An interview"),
    "a referral": _("A referral"),
    "storing identity or contact": _("Storing identity or contact details"),
    "recording use grants": _("Recording use grants"),
    "a photo": _("A photo"),
    "a audio": _("An audio recording"),
    "a video": _("A video recording"),
    "a document": _("A document"),
    "an incident": _("An incident"),
    "a redaction": _("A redaction"),
    "a draft of working notes": _("A draft of working notes"),
    "a statement": _("A statement"),
}
"""What a refusal says was being done (the services' ``doing``), as the pages say it."""

DECISIONS = {
    "interview_now": _("being interviewed now"),
    "notes": _("notes being taken"),
    "audio_recording": _("an audio recording"),
    "video_recording": _("a video recording"),
    "photos": _("photos"),
    "storage": _("storage of what they say"),
    "referral": _("referral to services"),
    "re_contact": _("being contacted again"),
}
"""The participation decisions (app.consent.vocabulary.ParticipationDecision) a refusal names."""

HOLD_STATES = {
    "requested": _("waiting for a second custodian"),
    "active": _("in force"),
    "lifted": _("lifted"),
    "rejected": _("declined"),
    "expired": _("expired unanswered"),
}
"""The states of a legal hold (app.erasure.schemas.HoldState) a refusal names."""

REVIEW_STATUSES = {"duplicate": _("the same person"), "not_duplicate": _("not the same person")}
"""A decided duplicate review (app.people.schemas.ReviewStatus) a refusal names."""

TEACH_BACK_SETS = {"adult": _("adult"), "child": _("child")}
"""The teach-back sets a refusal names."""

# --- refusals ---

REFUSALS = (
    _("unknown consent form or version; published: %(forms)s"),
    _("the form has no text in that language; its languages: %(languages)s"),
    _("text_sha256 is not the hash of the %(text_variant)s text in that language; its texts: %(texts)s"),
    _("guardian_text_sha256 is not the hash of the guardian text in that language; its texts: %(texts)s"),
    _("this version of the form does not ask that decision; it asks: %(decision)s"),
    _("obtained_at is before this version's text in that language was written (%(date)s)"),
    _("the %(teach_back_set)s teach-back set has no such question; its questions: %(questions)s"),
    _("this id names no grant of the version amended; leave id out for a new grant"),
    _("this id names no grant of a new record; leave id out for a new grant"),
    _("the form version read does not declare this term; it declares: %(terms)s"),
    _("a reference code is %(n)s letters and digits, as on the card"),
    _("no published consent form by that name and version; published: %(forms)s"),
    _("consent form %(form)s has no text in that language; its languages: %(languages)s"),
    _("no such text variant; the variants: %(text_variants)s"),
    _("obtained_at must be a time with a time zone, in the last %(n)s days"),
    _("the file begins as %(media_type)s but is not a well-formed %(media_type)s file to its end"),
    _(
        "a redaction only removes: every word it keeps must be the statement's, in the statement's order, and"
        " a removed part may be replaced by %(marker)s"
    ),
    _(
        "put the marker %(marker)s where each removed part was: kept words that were not next to each other "
        "in the statement must not read as if they were"
    ),
    _("give the statement's text redacted (the marker %(marker)s alone removes all of it)"),
    _("redaction %(n)s of this statement version already says this"),
    _("log entry %(n)s does not hold this record's commitment: run `testimony audit verify`"),
    _(
        "no signed checkpoint includes log entry %(n)s yet: sign one with `testimony audit checkpoint` (or "
        "wait for the checkpointer), then ask again"
    ),
    _("the log no longer hashes to its signed checkpoint of %(n)s entries: run `testimony audit verify`"),
    _("review the redacted text this export would send (GET /api/v1/exports/%(id)s/review), then approve"),
    _(
        "the custodian who approved first has not reviewed every redaction this export would now send: they "
        "review it (GET /api/v1/exports/%(id)s/review) before it can be approved"
    ),
    _("%(time_filter)s must be a time with a time zone, within the years 1 to 9999 in UTC"),
    _("the file is larger than the %(n)s bytes allowed"),
    _("the file is larger than the %(n)s bytes allowed; nothing was kept"),
    _("outcome %(outcome)s needs this"),
    _("outcome %(outcome)s takes no such part"),
    _("that state change is not allowed; from %(interview_state)s the interview can go to: %(interview_states)s"),
    _("that state change is not allowed; %(interview_state)s is final"),
    _("interviewer_met is stated only when the person prefers female or male"),
    _("interpreter_met is stated only when the person prefers female or male"),
    _("a feedback date is from today to %(n)s days ahead"),
    _("a %(attachment_kind)s attachment must be one of: %(media_types)s"),
    _(
        "a file of type %(media_type)s needs the person's latest participation consent to agree to "
        "%(decision)s, whatever kind it is declared as; record consent that does first"
    ),
    _("kind must be one of: %(attachment_kinds)s"),
    _("category for a %(attachment_kind)s must be one of: %(categories)s"),
    _("this notice is not %(recall_state)s"),
    _("that %(unique_field)s is already taken"),
    _("use at least %(n)s characters"),
    _("use at most %(n)s characters"),
    _("use a less repetitive password"),
)
"""The services' other refusals a page can show, written with places or chosen among fixed messages."""

ATTACHMENT_KINDS = {
    "photo": _("photo"),
    "audio": _("audio"),
    "video": _("video"),
    "document": _("document"),
}
"""An attachment kind (app.interviews.filetypes.Kind) as a refusal names it."""

UNIQUE_FIELDS = {
    "username": _("username"),
    "code": _("code"),
    "version": _("version"),
    "number": _("number"),
}
"""What a unique constraint's refusal names (app.core.db); a column not here keeps its own name."""
