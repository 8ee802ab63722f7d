"""The API fuzzed from its own OpenAPI description with schemathesis, as a logged-in user of each role.

Every operation gets examples both valid and invalid for its schema, sent to the real app through the
role's own client (its session cookie and CSRF header, as it logged in). Path ids are sometimes the
world's real ones (a person, an interview, an export...), so that requests get past the lookup into the
services. Every answer must:

- not be a 5xx;
- have a status the operation documents, the content type it documents, and a body matching its schema;
- when it is an error, not repeat any string the request carried, nor show a traceback.

Operations that end the fuzzer's own credential (logging out, revoking a session or token, changing the
password) are left out of the per-role passes, where every later request would then be a 401, and run
in a pass of their own at the end.

A bounded number of examples per operation by default; ``-m slow`` runs the many-example variant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.actors import Actor
from tests.support.world import World

ROLES = {"documenter": "doc_in", "legal": "legal_in", "custodian": "custodian", "auditor": "auditor", "admin": "admin"}
"""Each role, and the world's user who holds it (on the case's team where the role has teams)."""

ENDS_OWN_CREDENTIAL = [
    ("DELETE", "/api/v1/auth/tokens/{token_id}"),
    ("POST", "/api/v1/users/{user_id}/revoke-sessions"),
    ("POST", "/api/v1/me/password"),
    ("POST", "/api/v1/auth/logout"),
]
"""Operations after which the fuzzer's own session may be gone: run last, in a pass of their own, in this
order (logging out last, so that the others still meet a live session)."""

EXAMPLES = 4
"""Examples per operation and generation mode in the bounded pass (the whole file stays within minutes)."""
SLOW_EXAMPLES = 20

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
ECHO_MIN = 8
"""Strings of the request at least this long must not come back in an error body (shorter ones recur by chance)."""

# Run once per CI run, on SQLite: the fuzzer tests the API's answers, not the database under them.
pytestmark = pytest.mark.fuzz


@dataclass
class Target:
    who: Actor
    schema: schemathesis.BaseSchema
    known_ids: dict[str, str]
    vocabulary: str
    """The API description's text: a string that is in it (an enum value) may be named by an error."""

    def send(self, case: schemathesis.Case[Any]) -> Any:
        """The case as schemathesis serialises it, sent through the role's client."""
        sent = case.as_transport_kwargs(base_url="https://testserver")
        data = sent.pop("data", None)
        if isinstance(data, bytes | str):
            sent["content"] = data
        elif data is not None:
            sent["data"] = data
        sent.pop("cookies", None)  # the client's own jar holds the session
        sent = {k: v for k, v in sent.items() if v is not None and k in TRANSPORT_ARGUMENTS}
        return self.who.request(sent.pop("method"), sent.pop("url"), **sent)


TRANSPORT_ARGUMENTS = {"method", "url", "headers", "params", "json", "content", "data", "files"}


def _known_ids(world: World) -> dict[str, str]:
    """Path parameters the world holds real values for."""
    return {
        "case_id": str(world.case_id),
        "person_id": world.person_id,
        "interview_id": world.interview_id,
        "review_id": world.review_id,
        "confirmation_id": world.confirmation_id,
        "task_id": world.task_id,
        "attachment_id": world.attachment_id,
        "upload_id": world.upload_id,
        "statement_id": world.statement_id,
        "incident_id": world.incident_id,
        "recipient_id": world.recipient_id,
        "consent_id": world.consent_id,
        "export_id": world.export_id,
        "redaction_id": world.redaction_id,
        "ledger_id": world.ledger_id,
        "recall_id": world.recall_id,
        "erasure_id": world.erasure_id,
        "hold_id": world.hold_id,
        "user_id": str(world.target_id),
        "token_id": world.admin_token_id,
    }


@pytest.fixture
def target(world: World) -> Callable[[str], Target]:
    """A function giving, for a role, the world's user who holds it, ready to fuzz the app."""
    description = world.app.openapi()
    schema = schemathesis.openapi.from_dict(description)
    vocabulary = json.dumps(description)

    def as_role(role: str) -> Target:
        return Target(world.actors[ROLES[role]], schema, _known_ids(world), vocabulary)

    return as_role


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _assert_no_echo(case: schemathesis.Case[Any], response: Any, vocabulary: str) -> None:
    if response.status_code < 400:
        return
    assert not TRACEBACK.search(response.text), f"{case.method} {case.path}: a traceback in the error body"
    sent: list[Any] = [case.path_parameters, case.query, case.headers, case.cookies]
    if not isinstance(case.body, NotSet):
        sent.append(case.body)
    for text in {s for part in sent for s in _strings(part)}:
        if len(text) < ECHO_MIN or text in vocabulary:
            continue
        assert text not in response.text, f"{case.method} {case.path}: the error body repeats a string sent"


def _operations(schema: schemathesis.BaseSchema, *, ending: bool) -> list[Any]:
    chosen = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), "the API description has an operation schemathesis cannot read"
        operation = result.ok()
        if ((operation.method.upper(), operation.path) in ENDS_OWN_CREDENTIAL) == ending:
            chosen.append(operation)
    if ending:
        chosen.sort(key=lambda op: ENDS_OWN_CREDENTIAL.index((op.method.upper(), op.path)))
        assert len(chosen) == len(ENDS_OWN_CREDENTIAL)
    assert chosen
    return chosen


def _strategy(operation: Any, known: dict[str, str]) -> st.SearchStrategy[Any]:
    real = {name: known[name] for name in re.findall(r"\{(\w+)\}", operation.path) if name in known}
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    if real:
        strategies.append(operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real))
        strategies.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, path_parameters=real))
    return st.one_of(strategies)


def fuzz(target: Target, operations: list[Any], examples: int) -> None:
    """Run every operation's examples; fails naming each operation whose (shrunk) example failed a check."""
    failures: list[str] = []
    for operation in operations:

        @given(case=_strategy(operation, target.known_ids))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case[Any]) -> None:
            response = target.send(case)
            case.validate_response(response, checks=CHECKS)
            _assert_no_echo(case, response, target.vocabulary)

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}"[:3000])
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("role", list(ROLES))
def test_fuzz_every_operation_as_each_role(target: Callable[[str], Target], role: str) -> None:
    as_role = target(role)
    fuzz(as_role, _operations(as_role.schema, ending=False), EXAMPLES)
    # The session outlived the run: nothing in it ended the fuzzer's own credential.
    assert as_role.who.get("/api/v1/me").status_code == 200


def test_fuzz_the_operations_that_end_the_credential_last(target: Callable[[str], Target]) -> None:
    for role in ROLES:
        as_role = target(role)
        fuzz(as_role, _operations(as_role.schema, ending=True), EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("role", list(ROLES))
def test_fuzz_every_operation_as_each_role_at_length(target: Callable[[str], Target], role: str) -> None:
    as_role = target(role)
    fuzz(as_role, _operations(as_role.schema, ending=False), SLOW_EXAMPLES)
    fuzz(as_role, _operations(as_role.schema, ending=True), SLOW_EXAMPLES)
