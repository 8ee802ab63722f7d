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

PAGE_REFUSALS = (
    _("Your session has ended. Log in again."),
    _("you are no longer on every case of this export"),
    _("tree_size is outside the log"),
    _("index must be below tree_size"),
    _("first must be between 1 and second"),
    _("this endpoint takes no such query parameter"),
    _("say why consent is deferred"),
    _("this version of the form has no teach-back questions in child language; its sets: adult"),
    _("the child set is asked after the child text"),
    _("give a time with a time zone"),
    _("a grant expires in the future"),
    _("a refusal names either a recipient class or one registered recipient"),
    _("no registered recipient has this id"),
    _("a narrowing keeps every refusal"),
    _(
        "the person withdrew this use in this record; an amendment cannot give it again (a new consent "
        "record, from a new conversation, can)"
    ),
    _("a grant to national authorities names the countries allowed"),
    _("national authorities belong to a country: name countries only"),
    _("no such instant in UTC"),
    _("a narrowing may only keep or lower the grants there are: name the grant this one narrows"),
    _("a narrowing may only remove or lower what the grant allows, never widen it"),
    _("a narrowing keeps every restriction"),
    _("a narrowing may only shorten a retention period"),
    _(
        "this grant was withdrawn: leave it out of the new version (withdrawal cannot be undone here; the "
        "person can grant again in a new consent record)"
    ),
    _("each earlier grant may be continued once"),
    _(
        "a restriction is a registered recipient's id or a jurisdiction (an ISO 3166-1 alpha-2 code in "
        'capitals, or "international"); free text cannot be enforced'
    ),
    _("the person asked to be erased; no use grants are recorded while that request is pending"),
    _("this version is superseded; amend the chain's latest version"),
    _("this record was found invalid; record a new one"),
    _("every grant of this record was withdrawn; a new consent conversation makes a new record"),
    _("the interviewee has no such consent record"),
    _("the form this record was read from is no longer served"),
    _("this record is already marked invalid"),
    _(
        "this identity makes the person a minor when participation consent was given, and that consent was "
        "not recorded with the child's assent and a guardian's or social worker's consent: record it again"
    ),
    _(
        "the record's current version has no grant with this id (a grant an amendment changed has a new id: "
        "read the current version, or withdraw the whole record)"
    ),
    _("the cursor is not one this list gave"),
    _(
        "the one who asked is no longer active or no longer on every case of this export: it cannot be "
        "approved (reject it)"
    ),
    _("this export changed while it waited for a second custodian"),
    _("this export was asked for again already, and that request is still open"),
    _("these records are marked submitted to proceedings already"),
    _("this recipient is not active"),
    _("this recipient is on the deny-list"),
    _("aggregate counts are not filtered by named people"),
    _("filtering by violation type is not available yet"),
    _("not a person of the cases named"),
    _(
        "a preview counts the people of whole cases; "
        "a request limited to interview dates is shown to custodians instead"
    ),
    _("every interviewer must be an active documenter on the case team"),
    _("alone cannot be combined with a companion"),
    _(
        "sexual or gender-based violence is discussed only where care is available locally: confirm "
        "care_available_locally, or leave it out of the incident types"
    ),
    _("name each interviewer once"),
    _("name each value once"),
    _("a month needs its year"),
    _("a prior statement cannot be in the future"),
    _("a break reason goes with pausing (state paused)"),
    _("no such interview guide"),
    _("this interview guide's translations have not been reviewed; it is served in development mode only"),
    _(
        "use grants are reconfirmed once the interview began and before it is completed, or after the "
        "interviewee stopped it"
    ),
    _("the interviewee has no current use grants to confirm; record their first ones (outcome first)"),
    _("a date range ends on or after its start"),
    _("give a date between 1900 and today"),
    _("with precision month, give the first day of the month"),
    _("with precision year, give the first day of the year"),
    _("no draft has been saved for this interview"),
    _("save the draft before confirming it"),
    _("the draft changed since it was read back; read it back again and confirm that"),
    _("the first version corrects nothing: leave reason out"),
    _("a correction says why it corrects the version before"),
    _("the draft is empty: there is nothing to confirm"),
    _("answer only the questions of the guide named"),
    _("answer each question once"),
    _("an answered question needs its text"),
    _("only an answered question has text: a declined or unasked one is kept as its state"),
    _("no such published interview guide"),
    _("this draft has been saved too many times"),
    _("the interview changed since it was read; read it again and retry"),
    _("send at least one change besides the revision"),
    _("once the interview has started its plan is part of the record and does not change"),
    _("this cannot be left empty"),
    _("a state cannot be empty"),
    _("this goes with a change of state"),
    _("complete the do-no-harm checklist before the interview starts"),
    _("this person's records were erased"),
    _("the deny-list changed meanwhile; read it again"),
    _("give a date and time with a time zone, within the allowed range"),
)
"""The services' fixed refusals a page can show (the ones no page shows: tests/web/test_page_refusals.py)."""

# The Keys page's refusals (app.keys.rotation).
KEY_JOB_REFUSALS = (
    _(
        "the keys come from TESTIMONY_KEYS__MATERIAL, which cannot be changed from here: rotate them with a key "
        "file on the server, as the operations guide says"
    ),
    _("a key rotation or re-wrap is already queued or running; wait for it to end"),
    _("the keys changed since this page was shown; read it again"),
    _("no data key is waiting to be re-wrapped"),
    _(
        "the key store refused to save the new keys; nothing changed: rotate them on the server, as the operations "
        "guide says"
    ),
    _("the signing key changed since this page was shown; read it again"),
)
