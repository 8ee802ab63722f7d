"""The named doors: the only functions that may open sealed data.

Plaintext leaves its seal through few, named functions, each audited where it is used. A test
(tests/keys/test_doors.py) walks the code and fails when any other function calls an opening
primitive. A new door is added here, with why it exists, and in docs/architecture.md.
"""

from __future__ import annotations

# The primitives that turn a sealed value back into plaintext.
OPENERS = frozenset(
    {
        "app.crypto.aead.open",
        "app.crypto.aead.open_bound",
        "app.crypto.aead.decrypt",
        "app.crypto.streams.open_stream",
        "app.crypto.streams.open_segments",
        "app.keys.sealed.open_json",
        "app.keys.sealed.reseal",
    }
)

# Where a person's sealed data is opened.
PERSON_DOORS: dict[str, str] = {
    "app.people.records.open_column": (
        "a documenter on the case team reads a person's identity or contact; the consent checks read the date "
        "of birth, and storing a new identity reads none (the duplicate check hashes what is being stored); the "
        "export build reads them for a bundle, filtered to the categories decide() allowed; retention sees which "
        "identity fields are set, seals the identity again without the categories it deletes, and reads when the "
        "safe contact runs out; the re-consent queue reads the date of birth"
    ),
    "app.consent.service._details": (
        "a documenter on the case team reads participation consent, the consent checks read the decisions "
        "that allow collection, and a consent lookup compares the withdrawal code word given with the one "
        "chosen (in constant time; the word is never returned); retention reads the storage period and re-contact "
        "details, and seals the details again without the re-contact details (the code word stays)"
    ),
    "app.exports.reasons.submission_reason": (
        "a custodian, or the legal user who asked for the export, reads a recall notice: why its ledger row was "
        "marked submitted to proceedings (nothing once the person was erased)"
    ),
    "app.interviews.records.open_details": (
        "a documenter on the case team reads an interview (place, checklist, breaks, distress observed, referrals, "
        "feedback promised, reconfirmation), or changes it, which opens what it changes; the export build reads "
        "it for a bundle, filtered to the categories decide() allowed"
    ),
    "app.interviews.custody._salt_and_digest": (
        "`testimony custody proof`, and the export build at the named levels, put a record's custody salt and "
        "digest (never its content) into a proof file"
    ),
    "app.interviews.service_statements._draft_content": (
        "a documenter on the case team reads an interview's draft (working notes and answers), or confirms it "
        "as a statement version, which copies it"
    ),
    "app.interviews.service_statements._statement_content": (
        "a documenter on the case team reads a confirmed statement version, or redacts it (the redaction is "
        "checked to only remove); `testimony custody proof --statement-out` writes its canonical bytes for a court; "
        "the export build reads it (statement_for_export) for a bundle, filtered to the categories decide() allowed"
    ),
    "app.interviews.service_redactions._redaction_content": (
        "a documenter on the case team reads a redaction of a statement version, or prepares the next one (compared "
        "with the current); a custodian reviews the redacted text, never the statement, before approving an export "
        "(redaction_for_review, for every redaction the export would send); the export build sends the redaction the "
        "approval pinned (redaction_for_export) as the narrative at deidentified"
    ),
    "app.interviews.service_incidents._details": (
        "a documenter on the case team reads an incident (dates, place, violation types, alleged perpetrators, "
        "descriptions of other victims and witnesses); the export build reads it (incident_for_export) for a "
        "bundle, filtered to the categories decide() allowed"
    ),
    # Use grants (app/consent/grants.py) and the end-of-interview reconfirmation.
    "app.consent.grants.details_of": (
        "a documenter on the case team reads a use-grant record (grants, refusals, restrictions, retention), or "
        "amends, narrows or withdraws it, which reads what it changes; decide()'s history is built from it"
    ),
    "app.consent.grants.withdrawal_details": (
        "which grants a withdrawal covers, for reading a record's state and building decide()'s history"
    ),
    "app.consent.grants._invalidation": "a record read back shows why a custodian invalidated it",
    "app.interviews.reconfirm.latest_before_completion": (
        "completing an interview shows the end-of-interview reconfirmation recorded while it went on"
    ),
    "app.people.reseal._reseal_person": "`testimony keys reseal` opens a value sealed before AAD v2 to seal it again",
    "app.people.reseal._reseal_consent": "the same, for participation consent details",
    # Attachments (app/interviews/blobs.py, storage.py).
    "app.interviews.blobs._content": (
        "a download verifies an attachment whole before releasing it, then streams it to a documenter on the "
        "case team; the export build reads originals through it (storage.open_content) to send or strip them"
    ),
    "app.interviews.blobs.BlobWriter._rehash": (
        "completing a resumed upload hashes the original from its sealed segments, in memory, to seal its SHA-256"
    ),
    "app.interviews.storage.attachment_facts": (
        "an attachment's sealed SHA-256, size and file name: to verify a download, for a documenter on the case "
        "team, and for its custody proof"
    ),
    "app.interviews.storage.upload_details": (
        "a resumable upload's sealed length and file name: to say where it stands to its owner, and to complete it"
    ),
}

# Where a built export bundle is opened: what the recipient will receive, already filtered by decide().
EXPORT_DOORS: dict[str, str] = {
    "app.exports.stored.SealedBundle.chunks": (
        "the requester downloads a ready export's bundle (the ZIP, or its age encryption), each segment "
        "authenticated before it is sent"
    ),
    "app.exports.spool.Spool.read": (
        "the build reads back a consent file it sealed into its own spool moments before, under a key of that "
        "build alone, to put it into the bundle"
    ),
    "app.exports.spool.Tape.__iter__": (
        "the build reads back, in order, what it sealed onto its own tapes (records, consent files, summaries, "
        "the bundle's per-file hashes) under a key of that tape alone, to put it into the bundle"
    ),
    "app.exports.download.justification_of": (
        "a stale export asked for again: its request's justification is copied, sealed again, into the new "
        "request (never shown)"
    ),
}

# Where a service secret (no person's data) is opened.
SERVICE_DOORS: dict[str, str] = {
    "app.access.auth._totp_secret": "checking a second-factor code",
    "app.erasure.service._reasons": (
        "refusing an erasure request seals its refusal beside the reasons it was asked for, which it reads back; "
        "staff's reasoning, no person's data"
    ),
    "app.exports.reasons.decision_reason": (
        "whoever may read an export (its custodians, the legal user who asked) reads each custodian's reason to "
        "approve or reject it; staff's reasoning about the whole export"
    ),
    "app.confirmations.service._open_secret": (
        "showing the second half of a one-time password to the admin who confirms"
    ),
}

DOORS = frozenset(PERSON_DOORS) | frozenset(SERVICE_DOORS) | frozenset(EXPORT_DOORS)
