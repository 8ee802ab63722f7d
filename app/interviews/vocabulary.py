"""The closed vocabularies of interviews: states, violation types, who a prior statement went to,
who accompanies the person, gender preferences and referral needs.

Incidents use ``ViolationType`` too, so one list names what was discussed and what is recorded.
"""

from __future__ import annotations

from enum import StrEnum


class InterviewState(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED_BY_INTERVIEWEE = "stopped_by_interviewee"


ENDED = frozenset({InterviewState.COMPLETED, InterviewState.STOPPED_BY_INTERVIEWEE})

# planned -> in_progress <-> paused -> completed, and in_progress | paused -> stopped_by_interviewee.
# Completing from a break closes the break; the survivor may stop at any moment once it has begun.
TRANSITIONS: dict[InterviewState, frozenset[InterviewState]] = {
    InterviewState.PLANNED: frozenset({InterviewState.IN_PROGRESS}),
    InterviewState.IN_PROGRESS: frozenset(
        {InterviewState.PAUSED, InterviewState.COMPLETED, InterviewState.STOPPED_BY_INTERVIEWEE}
    ),
    InterviewState.PAUSED: frozenset(
        {InterviewState.IN_PROGRESS, InterviewState.COMPLETED, InterviewState.STOPPED_BY_INTERVIEWEE}
    ),
    InterviewState.COMPLETED: frozenset(),
    InterviewState.STOPPED_BY_INTERVIEWEE: frozenset(),
}


class ViolationType(StrEnum):
    """What an incident is, or what an interview will discuss. A type is itself sensitive: always sealed."""

    KILLING = "killing"
    TORTURE_OR_ILL_TREATMENT = "torture_or_ill_treatment"
    ARBITRARY_DETENTION = "arbitrary_detention"
    ENFORCED_DISAPPEARANCE = "enforced_disappearance"
    SEXUAL_OR_GENDER_BASED_VIOLENCE = "sexual_or_gender_based_violence"
    FORCED_DISPLACEMENT = "forced_displacement"
    DESTRUCTION_OR_SEIZURE_OF_PROPERTY = "destruction_or_seizure_of_property"
    DENIAL_OF_HUMANITARIAN_ACCESS = "denial_of_humanitarian_access"
    THREATS_OR_HATE_SPEECH = "threats_or_hate_speech"
    OTHER = "other"


class OrganisationType(StrEnum):
    """To whom a prior statement was given: a kind of organisation, never a name that identifies anyone."""

    POLICE_OR_PROSECUTOR = "police_or_prosecutor"
    OTHER_NATIONAL_AUTHORITY = "other_national_authority"
    NATIONAL_HUMAN_RIGHTS_INSTITUTION = "national_human_rights_institution"
    INTERNATIONAL_CRIMINAL_INVESTIGATORS = "international_criminal_investigators"
    UN_BODY = "un_body"
    HUMANITARIAN_ORGANISATION = "humanitarian_organisation"
    DOCUMENTATION_ORGANISATION = "documentation_organisation"
    LAWYER = "lawyer"
    JOURNALIST_OR_MEDIA = "journalist_or_media"
    RESEARCHER = "researcher"
    HEALTH_OR_PSYCHOSOCIAL_SERVICE = "health_or_psychosocial_service"
    OTHER = "other"
    UNKNOWN = "unknown"


class Recorded(StrEnum):
    """Whether a prior statement was recorded (written down, audio or video), as the person reports it."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class Companion(StrEnum):
    """Who accompanies the person during the interview: a kind of person, never a name."""

    ALONE = "alone"
    FAMILY_MEMBER = "family_member"
    FRIEND = "friend"
    SUPPORT_WORKER = "support_worker"
    LAWYER = "lawyer"
    OTHER = "other"


class GenderWish(StrEnum):
    """The survivor's preference for the gender of the interviewer or the interpreter."""

    FEMALE = "female"
    MALE = "male"
    NO_PREFERENCE = "no_preference"
    NOT_ASKED = "not_asked"


class ReferralNeed(StrEnum):
    PSYCHOSOCIAL = "psychosocial"
    MEDICAL = "medical"
    LEGAL = "legal"
    SHELTER = "shelter"


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"


class AnswerState(StrEnum):
    """Where an answer to a guide question stands: every answer says so, and declined is never empty."""

    ANSWERED = "answered"
    DECLINED = "declined"
    """The person chose not to answer: kept as a decision, never as an empty answer."""
    NOT_ASKED = "not_asked"


class DatePrecision(StrEnum):
    """How precisely the person could date an incident."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"
    APPROXIMATE = "approximate"
