"""Duplicate review through the HTTP API: what matched (never a name), who decided, same-person
groups that link without another review and never cross a "not duplicate" decision, pagination."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from app.access.roles import Role
from app.people.blind_index import normalize_name
from tests.support.actors import Actor, actor
from tests.support.consent import identity, participation, person_in

REVIEWS = "/api/v1/duplicate-reviews"


@dataclass
class Desk:
    """Two teams in two cases, a custodian with a display name of their own, and the admin."""

    app: FastAPI
    doc: Actor
    case_id: str
    other_doc: Actor
    other_case_id: str
    custodian: Actor


@pytest.fixture
def desk(app: FastAPI) -> Desk:
    admin = actor(app, "adm", [Role.ADMIN])
    case = admin.post("/api/v1/cases", json={"code": "KB-1", "title": "Goris interviews"}).json()["id"]
    other = admin.post("/api/v1/cases", json={"code": "KB-2", "title": "Yerevan interviews"}).json()["id"]
    doc = actor(app, "doc", [Role.DOCUMENTER], cases=(uuid.UUID(case),))
    other_doc = actor(app, "doc2", [Role.DOCUMENTER], cases=(uuid.UUID(other),))
    custodian = actor(app, "cus", [Role.CUSTODIAN])
    renamed = admin.request("PATCH", f"/api/v1/users/{custodian.user_id}", json={"display_name": "Mariam K."})
    assert renamed.status_code == 200, renamed.text
    return Desk(app, doc, case, other_doc, other, custodian)


def _person(desk: Desk, body: dict[str, Any], *, other_team: bool = False) -> dict[str, Any]:
    doc, case_id = (desk.other_doc, desk.other_case_id) if other_team else (desk.doc, desk.case_id)
    person = person_in(doc, case_id)
    assert doc.post(f"/api/v1/people/{person['id']}/participation", json=participation(desk.app)).status_code == 201
    r = doc.request("PATCH", f"/api/v1/people/{person['id']}", json=body)
    assert r.status_code == 200, r.text
    person["response"] = r.json()
    return person


def _reviews(desk: Desk, query: str = "") -> list[dict[str, Any]]:
    r = desk.custodian.get(f"{REVIEWS}?limit=200{query}")
    assert r.status_code == 200, r.text
    reviews: list[dict[str, Any]] = r.json()["reviews"]
    return reviews


def _between(desk: Desk, one: dict[str, Any], two: dict[str, Any]) -> dict[str, Any]:
    [review] = [
        r for r in _reviews(desk) if {r["person_a"]["code"], r["person_b"]["code"]} == {one["code"], two["code"]}
    ]
    return review


def _pairs(reviews: list[dict[str, Any]]) -> set[frozenset[str]]:
    return {frozenset((r["person_a"]["code"], r["person_b"]["code"])) for r in reviews}


def _decide(desk: Desk, review: dict[str, Any], decision: str) -> dict[str, Any]:
    r = desk.custodian.post(f"{REVIEWS}/{review['id']}", json={"decision": decision})
    assert r.status_code == 200, r.text
    decided: dict[str, Any] = r.json()
    return decided


def _oriented(review: dict[str, Any], first: dict[str, Any], first_says: str, second_says: str, year: str) -> str:
    """The reason as the review words it, with A and B as the review orders the two people."""
    if review["person_a"]["code"] == first["code"]:
        return f"{first_says.format('A')} = {second_says.format('B')}, {year}"
    return f"{second_says.format('A')} = {first_says.format('B')}, {year}"


def test_a_match_across_scripts_says_which_forms_met_and_never_a_name(desk: Desk) -> None:
    cyrillic = _person(desk, identity("Ашот Григорян", "1970-05-01"))
    aliases = ["Vardan Hakobyan", "Գրիգորյան Աշոտ"]
    armenian = _person(desk, identity("Karen Sahakyan", "1970-09-09", other_names=aliases), other_team=True)
    no_year = {"full_name": "ashot GRIGORYAN", "age_years": 56}
    latin = _person(desk, {"identity": no_year})
    no_year_either = _person(desk, {"identity": {**no_year, "full_name": "Աշոտ Գրիգորյան"}}, other_team=True)

    review = _between(desk, cyrillic, armenian)
    assert review["status"] == "open"
    assert review["origin"] == "blind_index"
    assert review["reason"] == _oriented(review, cyrillic, "full name of {}", "other name #2 of {}", "same birth year")
    sides = {review["person_a"]["code"]: review["person_a"], review["person_b"]["code"]: review["person_b"]}
    assert sides[cyrillic["code"]]["case_code"] == "KB-1"
    assert sides[armenian["code"]]["case_code"] == "KB-2"
    [match] = review["matches"]
    assert match["same_birth_year"] is True
    assert {match["a"]["form"], match["b"]["form"]} == {"full_name", "other_name"}

    no_year_review = _between(desk, latin, no_year_either)
    assert no_year_review["reason"] == _oriented(
        no_year_review, latin, "full name of {}", "full name of {}", "no birth year on either"
    )
    # A year on one side and none on the other never meets.
    assert _pairs(_reviews(desk)) == {
        frozenset((cyrillic["code"], armenian["code"])),
        frozenset((latin["code"], no_year_either["code"])),
    }

    listing = desk.custodian.get(REVIEWS).text.casefold()
    names = ["Ашот Григорян", "Karen Sahakyan", "Vardan Hakobyan", "Գրիգորյան Աշոտ", "ashot GRIGORYAN"]
    parts = {part.casefold() for name in names for part in (*name.split(), *normalize_name(name).split())}
    assert parts, names
    for part in parts:
        assert part not in listing, part
    assert "1970" not in listing


def test_who_decided_and_when(desk: Desk) -> None:
    one = _person(desk, identity("Anahit Petrosyan", "1985-03-02"))
    two = _person(desk, identity("Анаит Петросян", "1985-07-07"), other_team=True)
    review = _between(desk, one, two)
    assert (review["decided_by"], review["decided_at"]) == (None, None)

    decided = _decide(desk, review, "not_duplicate")
    cus = desk.custodian
    assert decided["decided_by"] == {"id": str(cus.user_id), "username": "cus", "display_name": "Mariam K."}
    assert decided["decided_at"] is not None
    assert (decided["status"], decided["inferred"]) == ("not_duplicate", False)
    assert _between(desk, one, two) == decided
    # A decision stands: a second one, even the same, is refused and changes nothing.
    for decision in ("duplicate", "not_duplicate"):
        again = cus.post(f"{REVIEWS}/{review['id']}", json={"decision": decision})
        assert again.status_code == 409
    assert _between(desk, one, two) == decided
    assert cus.post(f"{REVIEWS}/{uuid.uuid4()}", json={"decision": "duplicate"}).status_code == 404


def test_a_equals_b_and_b_equals_c_closes_a_c_as_duplicate_by_inference(desk: Desk) -> None:
    a = _person(desk, identity("Ашот Григорян", "1970-05-01"))
    b = _person(desk, identity("Գրիգորյան Աշոտ", "1970-09-09"), other_team=True)
    c = _person(desk, identity("Ashot Grigoryan", "1970-02-02"))
    assert len(_reviews(desk, "&status=open")) == 3

    ab = _decide(desk, _between(desk, a, b), "duplicate")
    bc = _decide(desk, _between(desk, b, c), "duplicate")
    assert _reviews(desk, "&status=open") == []
    ac = _between(desk, a, c)
    assert (ac["status"], ac["inferred"], ac["decided_by"]) == ("duplicate", True, None)
    assert ac["decided_at"] is not None
    assert [d["review_id"] for d in ac["linked_by"]] == [ab["id"], bc["id"]]
    assert all(d["decided_by"]["display_name"] == "Mariam K." for d in ac["linked_by"])
    assert all(d["status"] == "duplicate" for d in ac["linked_by"])
    # An inferred decision stands like any other.
    assert desk.custodian.post(f"{REVIEWS}/{ac['id']}", json={"decision": "not_duplicate"}).status_code == 409


def test_a_review_between_linked_people_is_never_opened(desk: Desk) -> None:
    a = _person(desk, identity("Ашот Григорян", "1970-05-01"))
    b = _person(desk, identity("Ashot Grigoryan", "1970-01-01", other_names=["Aram Sargsyan"]), other_team=True)
    c = _person(desk, identity("Арам Саркисян", "1970-03-03"))
    assert _pairs(_reviews(desk)) == {frozenset((a["code"], b["code"])), frozenset((b["code"], c["code"]))}
    ab = _decide(desk, _between(desk, a, b), "duplicate")
    bc = _decide(desk, _between(desk, b, c), "duplicate")

    # A and C are linked without a review; when C's record later names A's name, none opens.
    later = identity("Арам Саркисян", "1970-03-03", other_names=["Ashot Grigoryan"])
    assert desk.doc.request("PATCH", f"/api/v1/people/{c['id']}", json=later).status_code == 200
    assert _reviews(desk, "&status=open") == []
    ac = _between(desk, a, c)
    assert (ac["status"], ac["inferred"]) == ("duplicate", True)
    assert ac["reason"] == _oriented(ac, a, "full name of {}", "other name #1 of {}", "same birth year")
    assert [d["review_id"] for d in ac["linked_by"]] == [ab["id"], bc["id"]]


def test_inference_never_crosses_a_not_duplicate_decision(desk: Desk) -> None:
    a = _person(desk, identity("Anna Petrosyan", "1980-04-04"))
    b = _person(desk, identity("Анна Петросян", "1980-05-05", other_names=["Ani Hakobyan"]), other_team=True)
    c = _person(desk, identity("Անի Հակոբյան", "1980-06-06"))
    d = _person(desk, identity("Ани Акопян", "1980-07-07"), other_team=True)
    pairs = [(a, b), (b, c), (b, d), (c, d)]
    assert _pairs(_reviews(desk)) == {frozenset((x["code"], y["code"])) for x, y in pairs}

    cd = _decide(desk, _between(desk, c, d), "not_duplicate")
    ab = _decide(desk, _between(desk, a, b), "duplicate")
    bc = _decide(desk, _between(desk, b, c), "duplicate")  # A, B and C are one person
    bd = _decide(desk, _between(desk, b, d), "duplicate")  # would make D one with C: kept apart
    assert [x["review_id"] for x in bd["blocked_by"]] == [cd["id"]]

    assert _between(desk, c, d)["status"] == "not_duplicate"  # never overridden
    [opened] = _reviews(desk, "&status=open")
    assert {opened["person_a"]["code"], opened["person_b"]["code"]} == {a["code"], d["code"]}
    assert (opened["origin"], opened["matches"], opened["inferred"]) == ("blocked_link", [], False)
    assert [x["review_id"] for x in opened["blocked_by"]] == [cd["id"]]
    assert [x["review_id"] for x in opened["linked_by"]] == [ab["id"], bd["id"]]
    assert {x["status"] for x in opened["blocked_by"]} == {"not_duplicate"}
    assert bc["status"] == "duplicate"


def test_reviews_come_in_pages_with_a_typed_status_filter(desk: Desk) -> None:
    for _ in range(4):
        _person(desk, identity("Ashot Grigoryan", "1970-05-01"))
    everything = _reviews(desk)
    assert len(everything) == 6  # every pair of the four
    _decide(desk, everything[2], "not_duplicate")

    seen: list[str] = []
    cursor = ""
    while True:
        r = desk.custodian.get(f"{REVIEWS}?limit=4{cursor}")
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["reviews"]) <= 4
        seen += [x["id"] for x in page["reviews"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [x["id"] for x in everything]
    first = desk.custodian.get(f"{REVIEWS}?limit=4").json()
    assert first["next_cursor"] == first["reviews"][-1]["id"]

    assert [x["id"] for x in _reviews(desk, "&status=not_duplicate")] == [everything[2]["id"]]
    assert len(_reviews(desk, "&status=open")) == 5
    assert _reviews(desk, "&status=duplicate") == []
    for query in ("status=pending", "status=OPEN", "limit=0", "limit=201", "cursor=KX7-42QM"):
        refused = desk.custodian.get(f"{REVIEWS}?{query}")
        assert refused.status_code == 422, query
        assert refused.headers["content-type"] == "application/problem+json"
        name, value = query.split("=")
        assert refused.json()["fields"] == [name]
        if not value.isdigit():
            assert value not in refused.text


def test_the_documenter_is_told_nothing_of_a_match(desk: Desk) -> None:
    first = _person(desk, identity("Ашот Григорян", "1970-05-01"))
    unique = _person(desk, identity("Karine Sahakyan", "1970-05-01"))
    matching = _person(desk, identity("Ashot Grigoryan", "1970-05-01"))
    assert len(_reviews(desk)) == 1

    # The creator's answer is the same whether or not a match exists, apart from the record itself.
    def shown(person: dict[str, Any]) -> dict[str, Any]:
        own = ("id", "code", "created_at", "identity")
        return {k: v for k, v in person["response"].items() if k not in own}

    assert shown(matching) == shown(unique) == shown(first)
    assert matching["response"]["identity"] == identity("Ashot Grigoryan", "1970-05-01")["identity"] | {
        "other_names": [],
        "age_years": None,
        "sex_gender": None,
        "place_of_origin": None,
    }
    for path in (REVIEWS, f"{REVIEWS}/{uuid.uuid4()}"):
        r = desk.doc.request("GET" if path == REVIEWS else "POST", path, json={"decision": "duplicate"})
        assert r.status_code == 403
    listing = desk.doc.get(f"/api/v1/cases/{desk.case_id}/people")
    assert "duplicate" not in listing.text.lower()
