"""The admin pages, as a browser without JavaScript posts them, checked through the API afterwards: two
admins make an account, a case and its team, and each two-person request is confirmed by the other admin
on the confirmations page, which names people and cases. The engine refuses the admin who asked; a
change of roles waits for a fresh second factor; bad input shows the form again and changes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.access.roles import Role
from app.audit import note
from tests.support.actors import Actor, code, login, make_user, shift_clock
from tests.support.pages import page_login, submit
from tests.web.test_pages import assert_page_headers


@dataclass
class Admin:
    client: TestClient
    secret: str
    steps: int = 0

    def post(self, page: str, action: str, fields: dict[str, str] | None = None) -> Any:
        answer = submit(self.client, page, action, fields)
        assert_page_headers(answer)
        return answer

    def get(self, path: str) -> Any:
        answer = self.client.get(path)
        assert_page_headers(answer)
        return answer


@pytest.fixture
def admins(app: FastAPI) -> tuple[Admin, Admin]:
    """Anna and Boris, admins logged in through the login page with their second factor (fresh now)."""
    found = []
    for username, name in (("anna", "Anna Avetisyan"), ("boris", "Boris Sarkisov")):
        _, secret = make_user(app, username, [Role.ADMIN], display_name=name)
        assert secret is not None
        client, answer = page_login(app, username, secret)
        assert answer.headers["location"] == "/"
        found.append(Admin(client, secret))
    return found[0], found[1]


@pytest.fixture
def reader(app: FastAPI) -> Actor:
    """A third admin, through the API, to read back what the pages did."""
    return login(app, "reader", make_user(app, "reader", [Role.ADMIN])[1])


def _request_of(reader: Actor, action: str) -> dict[str, Any]:
    waiting = reader.get("/api/v1/confirmations", params={"status": "pending"}).json()["items"]
    return next(c for c in waiting if c["action"] == action)


def _user(reader: Actor, username: str) -> dict[str, Any]:
    users = reader.get("/api/v1/users", params={"limit": 200}).json()["items"]
    return next(u for u in users if u["username"] == username)


def test_a_new_account_gets_its_roles_when_the_second_admin_confirms(
    app: FastAPI, admins: tuple[Admin, Admin], reader: Actor
) -> None:
    anna, boris = admins
    made = anna.post(
        "/admin/users", "/admin/users", {"username": "lusine", "display_name": "Lusine", "roles": "documenter"}
    )
    assert made.status_code == 200, made.text
    first = re.search(r'id="first-half">([^<]+)<', made.text)
    assert first, made.text
    assert _user(reader, "lusine")["roles"] == []  # nothing until Boris confirms
    asked = _request_of(reader, "user.create")
    # Anna sees her own request named, with no button: the second admin confirms it.
    own = anna.get("/admin/confirmations")
    assert "A new account" in own.text
    assert "Lusine (lusine)" in own.text
    assert "Anna Avetisyan (anna)" in own.text
    assert f'action="/admin/confirmations/{asked["id"]}"' not in own.text
    assert "You asked for this: another admin confirms it." in own.text
    # Posted anyway, the engine refuses her, and the request still waits.
    refused = anna.post("/admin/confirmations", f"/admin/confirmations/{asked['id']}", {"decision": "confirm"})
    assert refused.status_code == 403
    assert "a second person must confirm this request" in refused.text
    assert _request_of(reader, "user.create")["id"] == asked["id"]
    # Boris sees it by names, confirms, and alone is shown the second half.
    page = boris.get("/admin/confirmations")
    assert f'action="/admin/confirmations/{asked["id"]}"' in page.text
    assert "Roles asked for" in page.text
    assert "Documenter" in page.text
    confirmed = boris.post("/admin/confirmations", f"/admin/confirmations/{asked['id']}", {"decision": "confirm"})
    assert confirmed.status_code == 200, confirmed.text
    second = re.search(r'id="second-half">([^<]+)<', confirmed.text)
    assert second, confirmed.text
    assert _user(reader, "lusine")["roles"] == ["documenter"]
    # The two halves together open the account, which must first choose its own password.
    opened = TestClient(app, base_url="https://testserver").post(
        "/api/v1/auth/login", json={"username": "lusine", "password": first.group(1) + second.group(1)}
    )
    assert opened.status_code == 200, opened.text
    assert opened.json()["user"]["must_change_password"] is True
    assert "second-half" not in boris.get("/admin/confirmations").text  # shown once


def test_a_declined_request_changes_nothing(app: FastAPI, admins: tuple[Admin, Admin], reader: Actor) -> None:
    anna, boris = admins
    anna.post("/admin/users", "/admin/users", {"username": "karen", "display_name": "Karen", "roles": "legal"})
    asked = _request_of(reader, "user.create")
    declined = boris.post("/admin/confirmations", f"/admin/confirmations/{asked['id']}", {"decision": "reject"})
    assert declined.status_code == 200
    assert "declined" in declined.text
    assert "second-half" not in declined.text
    assert _user(reader, "karen")["roles"] == []
    nothing = boris.post("/admin/confirmations", f"/admin/confirmations/{asked['id']}", {})
    assert nothing.status_code == 422  # no decision said: never taken as a confirmation


def test_a_change_of_roles_waits_for_a_fresh_second_factor_then_for_the_other_admin(
    app: FastAPI, admins: tuple[Admin, Admin], reader: Actor
) -> None:
    anna, boris = admins
    user_id, _ = make_user(app, "mariam", [Role.DOCUMENTER], display_name="Mariam")
    page = f"/admin/users/{user_id}"
    shift_clock(app, timedelta(minutes=6))  # Anna's second factor is no longer fresh
    shown = anna.get(page)
    assert 'id="step-up"' in shown.text
    change = {"display_name": "Mariam", "roles": "legal", "active": "yes"}
    stale = anna.post(page, page, change)
    assert stale.status_code == 403
    assert "Confirm your second factor first" in stale.text
    assert 'id="step-up"' in stale.text
    assert _user(reader, "mariam")["roles"] == ["documenter"]
    wrong = anna.post(page, "/account/step-up", {"back": page, "totp": "000000"})
    assert wrong.status_code == 403
    assert "that code is not right" in wrong.text
    stepped = anna.post(page, "/account/step-up", {"back": page, "totp": code(anna.secret, app, steps=1)})
    assert (stepped.status_code, stepped.headers["location"]) == (303, page)
    assert 'id="step-up"' not in anna.get(page).text
    asked = anna.post(page, page, change)
    assert (asked.status_code, asked.headers["location"]) == (303, f"{page}?done=asked")
    assert _user(reader, "mariam")["roles"] == ["documenter"]
    request = _request_of(reader, "user.grant_roles")
    assert "Waiting for another admin: A change of roles" in anna.get(page).text
    listed = boris.get("/admin/confirmations").text
    assert "A change of roles" in listed
    assert "Mariam (mariam)" in listed
    assert re.search(r"Roles now</dt><dd>Documenter<", listed)
    assert re.search(r"Roles asked for</dt><dd>Legal<", listed)
    stale_boris = boris.post("/admin/confirmations", f"/admin/confirmations/{request['id']}", {"decision": "confirm"})
    assert stale_boris.status_code == 403  # a decision needs Boris's own fresh second factor
    boris.post(
        "/admin/confirmations",
        "/account/step-up",
        {"back": "/admin/confirmations", "totp": code(boris.secret, app, steps=1)},
    )
    done = boris.post("/admin/confirmations", f"/admin/confirmations/{request['id']}", {"decision": "confirm"})
    assert done.status_code == 200
    assert "confirmed" in done.text
    assert _user(reader, "mariam")["roles"] == ["legal"]


def test_no_admin_changes_their_own_roles(app: FastAPI, admins: tuple[Admin, Admin], reader: Actor) -> None:
    anna, _boris = admins
    me = _user(reader, "anna")["id"]
    page = f"/admin/users/{me}"
    refused = anna.post(page, page, {"display_name": "Anna", "roles": "documenter", "active": "yes"})
    assert refused.status_code == 403
    assert "no one changes their own roles or account status" in refused.text
    assert _user(reader, "anna")["roles"] == ["admin"]


def test_resets_and_ending_sessions(app: FastAPI, admins: tuple[Admin, Admin], reader: Actor) -> None:
    anna, boris = admins
    user_id, secret = make_user(app, "davit", [Role.DOCUMENTER], display_name="Davit")
    davit = login(app, "davit", secret)
    page = f"/admin/users/{user_id}"
    ended = anna.post(page, f"{page}/revoke-sessions")
    assert (ended.status_code, ended.headers["location"]) == (303, f"{page}?done=sessions")
    assert davit.get("/api/v1/me").status_code == 401
    assert "Every session and API token of this account has ended." in anna.get(ended.headers["location"]).text
    second = anna.post(page, f"{page}/reset-2fa")
    assert second.headers["location"] == f"{page}?done=second_factor"
    assert _user(reader, "davit")["totp_enabled"] is False
    reset = anna.post(page, f"{page}/reset-password")
    assert reset.status_code == 200
    assert re.search(r'id="first-half">[a-z0-9]{12}<', reset.text)
    listed = boris.get("/admin/confirmations").text
    assert "A password reset" in listed
    assert "Davit (davit)" in listed


def test_a_case_and_its_team_through_the_pages(app: FastAPI, admins: tuple[Admin, Admin], reader: Actor) -> None:
    anna, boris = admins
    member_id, _ = make_user(app, "hasmik", [Role.DOCUMENTER], display_name="Hasmik")
    made = anna.post("/admin/cases", "/admin/cases", {"code": "GR-3", "title": "Goris, October"})
    assert made.status_code == 303
    page = made.headers["location"].split("?")[0]
    case_id = page.rsplit("/", 1)[1]
    shown = anna.get(made.headers["location"])
    assert "Case made." in shown.text
    assert "Hasmik (hasmik; Documenter)" in shown.text
    asked = anna.post(page, f"{page}/members", {"user_id": str(member_id)})
    assert asked.headers["location"] == f"{page}?done=asked"
    assert reader.get(f"/api/v1/cases/{case_id}/members").json()["items"] == []
    request = _request_of(reader, "case.add_member")
    listed = boris.get("/admin/confirmations").text
    assert "Adding a member to a case team" in listed
    assert "GR-3" in listed
    assert "Hasmik (hasmik)" in listed
    assert str(member_id) not in listed  # names, not ids
    boris.post("/admin/confirmations", f"/admin/confirmations/{request['id']}", {"decision": "confirm"})
    members = reader.get(f"/api/v1/cases/{case_id}/members").json()["items"]
    assert [m["username"] for m in members] == ["hasmik"]
    team = anna.get(page).text
    assert "Take Hasmik off the team" in team
    removed = anna.post(page, f"{page}/members/{member_id}/remove")
    assert removed.headers["location"] == f"{page}?done=removed"
    assert reader.get(f"/api/v1/cases/{case_id}/members").json()["items"] == []


def test_bad_input_shows_the_form_again_and_makes_nothing(
    app: FastAPI, admins: tuple[Admin, Admin], reader: Actor
) -> None:
    anna, _boris = admins
    bad = anna.post("/admin/users", "/admin/users", {"username": "A B", "display_name": "Kept name", "roles": "root"})
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text
    assert 'value="Kept name"' in bad.text
    assert all(u["display_name"] != "Kept name" for u in reader.get("/api/v1/users").json()["items"])
    mixed = anna.post("/admin/users", "/admin/users", {"username": "mixed", "display_name": "Mixed", "roles": "admin"})
    assert mixed.status_code == 200  # the admin role alone: fine, and it waits for a second admin
    both = submit(anna.client, "/admin/users", "/admin/users", {"username": "both", "display_name": "Both"})
    assert both.status_code == 200
    case = anna.post("/admin/cases", "/admin/cases", {"code": "lower case", "title": "x"})
    assert case.status_code == 422
    assert 'value="lower case"' in case.text
    assert reader.get("/api/v1/cases").json()["items"] == []
    twice = anna.post("/admin/cases", "/admin/cases", {"code": "KR-1", "title": "One"})
    assert twice.status_code == 303
    again = anna.post("/admin/cases", "/admin/cases", {"code": "KR-1", "title": "Two"})
    assert again.status_code == 409
    assert "a case with that code exists" in again.text


def test_the_pages_speak_armenian_and_russian(app: FastAPI, admins: tuple[Admin, Admin]) -> None:
    anna, _boris = admins
    for language, heading in (("hy", "Հաշիվներ"), ("ru", "Учётные записи")):
        anna.post("/admin/users", "/language", {"language": language, "back": "/admin/users"})
        page = anna.get("/admin/users")
        assert f"<h1>{heading}</h1>" in page.text
        assert 'class="notice unreviewed"' in page.text


def test_a_step_up_never_sends_to_another_site(app: FastAPI, admins: tuple[Admin, Admin]) -> None:
    anna, _boris = admins
    answer = anna.post(
        "/admin/users", "/account/step-up", {"back": "//elsewhere.invalid/", "totp": code(anna.secret, app, steps=1)}
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/")


def test_recipients_and_the_deny_list_wait_for_the_other_admin(
    app: FastAPI, admins: tuple[Admin, Admin], reader: Actor
) -> None:
    anna, boris = admins
    fields = {
        "recipient_class": "un_investigative_bodies",
        "jurisdiction": "international",
        "names": "Commission of Inquiry\nCoI",
        "recall_contact": "Registry, by the secure channel.",
        "active": "yes",
    }
    asked = anna.post("/admin/recipients", "/admin/recipients", fields)
    assert asked.headers["location"] == "/admin/recipients?done=asked"
    assert reader.get("/api/v1/recipients").json()["items"] == []
    request = _request_of(reader, "recipient.create")
    listed = boris.get("/admin/confirmations").text
    assert "A new recipient" in listed
    assert "Commission of Inquiry; CoI" in listed
    boris.post("/admin/confirmations", f"/admin/confirmations/{request['id']}", {"decision": "confirm"})
    [recipient] = reader.get("/api/v1/recipients").json()["items"]
    assert recipient["names"] == ["Commission of Inquiry", "CoI"]
    page = f"/admin/recipients/{recipient['id']}"
    assert "Commission of Inquiry" in anna.get("/admin/recipients").text
    renamed = anna.post(page, page, {**fields, "names": "Commission of Inquiry"})
    assert renamed.headers["location"] == f"{page}?done=saved"  # names change at once
    assert reader.get(f"/api/v1/recipients/{recipient['id']}").json()["names"] == ["Commission of Inquiry"]
    moved = anna.post(page, page, {**fields, "names": "Commission of Inquiry", "jurisdiction": "CH"})
    assert moved.headers["location"] == f"{page}?done=asked"  # the jurisdiction waits
    assert reader.get(f"/api/v1/recipients/{recipient['id']}").json()["jurisdiction"] == "international"
    change = _request_of(reader, "recipient.change")
    assert "Jurisdiction</dt><dd>international → CH<" in boris.get("/admin/confirmations").text
    boris.post("/admin/confirmations", f"/admin/confirmations/{change['id']}", {"decision": "reject"})
    denied = anna.post(
        "/admin/deny-list", "/admin/deny-list", {"recipient_ids": recipient["id"], "jurisdictions": "ru, by"}
    )
    assert denied.headers["location"] == "/admin/deny-list?done=asked"
    assert reader.get("/api/v1/deny-list").json()["version"] == 0
    request = _request_of(reader, "deny_list.change")
    listed = boris.get("/admin/confirmations").text
    assert "A new deny-list" in listed
    assert "Commission of Inquiry" in listed
    assert "BY, RU" in listed
    assert recipient["id"] not in listed  # the recipient by name, not by id
    boris.post("/admin/confirmations", f"/admin/confirmations/{request['id']}", {"decision": "confirm"})
    in_force = reader.get("/api/v1/deny-list").json()
    assert (in_force["version"], in_force["recipient_ids"], in_force["jurisdictions"]) == (
        1,
        [recipient["id"]],
        ["BY", "RU"],
    )
    shown = anna.get("/admin/deny-list").text
    assert "Version in force: 1" in shown
    assert f'value="{recipient["id"]}" checked' in shown
    same = anna.post(
        "/admin/deny-list", "/admin/deny-list", {"recipient_ids": recipient["id"], "jurisdictions": "RU BY"}
    )
    assert same.headers["location"] == "/admin/deny-list?done=same"
    bad = anna.post("/admin/deny-list", "/admin/deny-list", {"jurisdictions": "XX"})
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text


def test_the_keys_page_shows_the_values_to_pin_whole(app: FastAPI, admins: tuple[Admin, Admin]) -> None:
    anna, _boris = admins
    page = anna.get("/admin/keys")
    assert page.status_code == 200
    published = TestClient(app, base_url="https://testserver").get("/api/v1/keys/signing").json()["keys"]
    for key in published:
        assert key["fingerprint"] in page.text
        assert key["public_key"] in page.text
    keyring = app.state.keys.current
    assert note.vkey(app.state.settings.audit.origin, keyring.signer.public_key) in page.text
    assert re.search(r'id="pending-rewrap">0<', page.text)
    assert "testimony keys rotate" in page.text


def test_others_read_the_registry_and_act_on_nothing(app: FastAPI, admins: tuple[Admin, Admin], reader: Actor) -> None:
    anna, _boris = admins
    anna.post("/admin/users", "/admin/users", {"username": "tigran", "display_name": "Tigran", "roles": "legal"})
    asked = _request_of(reader, "user.create")
    _, secret = make_user(app, "gohar", [Role.DOCUMENTER], display_name="Gohar")
    client, _answer = page_login(app, "gohar", secret)
    documenter = Admin(client, secret or "")
    registry = documenter.get("/admin/recipients")
    assert registry.status_code == 200
    assert 'action="/admin/recipients"' not in registry.text
    assert 'id="step-up"' not in registry.text
    assert "Administration" not in registry.text  # no admin menu
    users = documenter.get("/admin/users")
    assert users.status_code == 403
    assert "your role does not allow this" in users.text
    decided = documenter.post("/admin/recipients", f"/admin/confirmations/{asked['id']}", {"decision": "confirm"})
    assert decided.status_code == 403
    assert _request_of(reader, "user.create")["id"] == asked["id"]  # still waiting
    assert _user(reader, "tigran")["roles"] == []


def test_my_cases_is_offered_only_to_those_who_can_be_on_a_case_team(app: FastAPI, admins: tuple[Admin, Admin]) -> None:
    anna, _ = admins
    assert 'href="/cases"' not in anna.get("/").text  # an admin is on no team: the link led only to refusals
    _, secret = make_user(app, "dora", [Role.DOCUMENTER])
    documenter, _ = page_login(app, "dora", secret)
    assert 'href="/cases"' in documenter.get("/").text
