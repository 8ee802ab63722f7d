"""A redaction only removes: the words and marks it keeps are the statement's, in order; markers and spacing
are free; nothing kept is changed or added."""

from __future__ import annotations

import pytest

from app.interviews.redaction_text import MARKER, Outcome, compare, normalise

STATEMENT = "On 3 October, Anahit Sargsyan and I were taken to the school in Hadrut."


@pytest.mark.parametrize(
    ("redacted", "outcome"),
    [
        ("On 3 October, […] and I were taken to the school in […].", Outcome.REMOVES),
        ("On 3 October, [...] I were taken [...].", Outcome.REMOVES),
        ("[…]", Outcome.REMOVES),
        ("[…] October, […] and I were taken […]", Outcome.REMOVES),
        ("[…] the school in Hadrut.", Outcome.REMOVES),
        ("October, […] and I were taken […]", Outcome.UNMARKED),  # a removed start, unmarked
        ("[…] October, […] and I were taken", Outcome.UNMARKED),  # a removed end, unmarked
        ("On [...], I were taken [...].", Outcome.UNMARKED),  # ", I" were not next to each other
        ("On 3 October, and I were taken to the school in Hadrut.", Outcome.UNMARKED),  # a name dropped silently
        ("", Outcome.UNMARKED),
        ("On  3 October ,Anahit Sargsyan and I\nwere taken to the school in Hadrut .", Outcome.KEEPS_ALL),
        (STATEMENT, Outcome.KEEPS_ALL),
        (f"{MARKER} {STATEMENT}", Outcome.KEEPS_ALL),  # a marker where nothing was removed removes nothing
        ("On 4 October, […] were taken.", Outcome.ADDS),  # a changed word
        ("On 3 October, […] and I were not taken.", Outcome.ADDS),  # an added word
        ("Hadrut […] On 3 October", Outcome.ADDS),  # the statement's words, out of order
        ("On 3 October, AnahitSargsyan […]", Outcome.ADDS),  # two words joined make a third
        ("On 3 October, A. […]", Outcome.ADDS),  # an initial is not a word of the statement
        ("On 3 October! […]", Outcome.ADDS),  # nor is a mark it did not have
        ("On 3 October, [x] were taken.", Outcome.ADDS),  # only the one marker
    ],
)
def test_a_redaction_keeps_the_statements_words_in_order(redacted: str, outcome: Outcome) -> None:
    assert compare(STATEMENT, redacted) is outcome


def test_the_marker_is_stored_one_way_and_text_in_one_normal_form() -> None:
    assert normalise("a [...] b […] c") == f"a {MARKER} b {MARKER} c"
    decomposed = "Ha\u0308drut"  # a and a combining diaeresis: the same word as "Hädrut"
    assert compare("Hädrut, 1992.", f"{decomposed} [...]") is Outcome.REMOVES
    assert normalise(decomposed) == "Hädrut"


def test_dropping_a_word_without_the_marker_cannot_make_a_new_claim() -> None:
    said = "I did not see the soldier shoot my brother."
    assert compare(said, "I did see the soldier shoot my brother.") is Outcome.UNMARKED
    assert compare(said, "I did […] see the soldier shoot my brother.") is Outcome.REMOVES  # the reader is told
    two = "The commander was not present. My neighbour was beaten by the police."
    assert compare(two, "The commander was beaten by the police.") is Outcome.UNMARKED
