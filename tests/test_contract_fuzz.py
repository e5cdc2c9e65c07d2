"""Property-based fuzzing of every REST operation against the app's own OpenAPI document (schemathesis).

Signed in as a real user (a fresh token per call, so a fuzzed logout revokes only that one), with real
people, messages and files behind the ids it may pick: a chat partner, a stranger, a user I blocked, my
own id, an unknown id. Every response must be no 5xx, a documented status code, the documented content
type and headers, and a body matching the documented schema; a request that breaks the schema must be
refused, and a secured operation must refuse a missing or invalid token.

Every operation is fuzzed with valid and with invalid ("negative") data, and a stateful run follows the
links schemathesis infers between operations (signup -> block, pin or send to the new user; a send ->
marking that message read...), each step checked the same way.

CI runs a few examples per operation, bounded in time; `make fuzz` (FUZZ_EXAMPLES=500 by default there)
runs many more.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.support.api import ApiClient, User
from tests.support.database import delete_every_document
from tests.support.files import PNG

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
UNKNOWN_ID = "0123456789abcdef01234567"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
    missing_required_header,
    unsupported_method,
]


# A body over MAX_JSON_BYTES is refused with 413 before it is even validated.
REFUSALS = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 429]
CHECKS_CONFIG = {"negative_data_rejection": {"expected-statuses": REFUSALS}}
# Random cases (with real ids drawn into paths), then the deterministic boundary cases of the coverage phase
# (which schemathesis cannot combine with extra drawn data, hence two tests).
FUZZ_CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": CHECKS_CONFIG,
        "generation": {"mode": "all"},
        "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False}},
    }
)
STATEFUL_CONFIG = SchemathesisConfig.from_dict({"checks": CHECKS_CONFIG})
# Scenarios of the stateful run (each several linked calls long) in the normal test run.
STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", str(max(10, FUZZ_EXAMPLES * 3))))
COVERAGE_CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": CHECKS_CONFIG,
        "phases": {"examples": {"enabled": False}, "fuzzing": {"enabled": False}, "coverage": {"enabled": True}},
    }
)


@dataclass
class World:
    me: User
    ids: dict[str, list[str]]


def _attachment_url(response: Any) -> str:
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    message = body[0] if isinstance(body, list) else body
    return str(message["attachments"][0]["url"])


def build_world(app: Any, api: ApiClient) -> World:
    me, partner, stranger, blocked = (api.signup(n) for n in ("Me", "Partner", "Stranger", "Blocked"))
    mine = api.send(me, partner, "hello partner").get_json()["_id"]
    theirs = api.send(partner, me, "hello me").get_json()["_id"]
    foreign = api.send(stranger, partner, "not for me").get_json()["_id"]
    api.send(blocked, me, "before the block")
    assert api.post(f"/api/users/block/{blocked.id}", me).status_code == 200
    assert api.post(f"/api/users/pin/{partner.id}", me).status_code == 200
    # An administrator, so that the administration API is fuzzed past its 403 too.
    assert app.test_cli_runner().invoke(args=["users", "make-admin", me.email]).exit_code == 0

    def upload(sender: User, receiver: User, name: str, data: bytes) -> str:
        form = {"text": "", "file": (io.BytesIO(data), name)}
        url = _attachment_url(api.post(f"/api/messages/send/{receiver.id}", sender, data=form))
        return url.rsplit("/", 1)[-1]

    my_file = upload(me, partner, "mine.txt", b"my file")
    their_file = upload(partner, me, "theirs.png", PNG)
    foreign_file = upload(stranger, partner, "foreign.txt", b"foreign file")
    avatar = api.put("/api/auth/update-profile", partner, data={"profilePic": (io.BytesIO(PNG), "me.png")}).get_json()[
        "profilePic"
    ]
    users = [partner.id, stranger.id, blocked.id, me.id, UNKNOWN_ID]

    def group(owner: User, members: list[User], name: str) -> str:
        response = api.post("/api/chats", owner, json={"name": name, "memberIds": [m.id for m in members]})
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["_id"])

    # groups: mine (owner), one I am a member of, one I left, one I was never in; and a direct chat
    owned = group(me, [partner, stranger], "Mine")
    joined = group(partner, [me, stranger], "Theirs")
    left = group(partner, [me], "Left")
    assert api.delete(f"/api/chats/{left}/members/{me.id}", me).status_code == 200
    never = group(partner, [stranger], "Never")
    in_owned = api.post(f"/api/chats/{owned}/messages", me, json={"text": "in my group"}).get_json()["_id"]
    in_joined = api.post(f"/api/chats/{joined}/messages", partner, json={"text": "in theirs"}).get_json()["_id"]
    direct = api.get(f"/api/messages/{partner.id}", me).get_json()[0]["chatId"]
    return World(
        me=me,
        ids={
            "userId": users,
            "chatId": [owned, joined, left, never, direct, UNKNOWN_ID],
            "messageId": [mine, theirs, foreign, in_owned, in_joined, UNKNOWN_ID],
            "fileId": [my_file, their_file, foreign_file, avatar.rsplit("/", 1)[-1], UNKNOWN_ID],
        },
    )


@pytest.fixture
def fuzz_world(app: Any, api: ApiClient) -> World:
    return build_world(app, api)


@pytest.fixture
def fuzz_schema(app: Any, fuzz_world: World) -> Any:
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=FUZZ_CONFIG)


@pytest.fixture
def coverage_schema(app: Any, fuzz_world: World) -> Any:
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=COVERAGE_CONFIG)


schema = schemathesis.pytest.from_fixture("fuzz_schema")
coverage = schemathesis.pytest.from_fixture("coverage_schema")


def _fresh_token(app: Any, user: User) -> str:
    from chatbox.auth.tokens import issue_token
    from chatbox.models import User as UserDocument

    with app.app_context():
        return issue_token(UserDocument.objects.get(id=user.id))


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_honours_its_contract(case: Any, data: Any, app: Any, fuzz_world: World) -> None:
    positive = case.meta is None or case.meta.generation.mode.value == "positive"
    if positive:
        # Point path ids at real objects most of the time, so handlers get past "not found".
        for name, value in list(case.path_parameters.items()):
            pool = fuzz_world.ids.get(name)
            if pool:
                case.path_parameters[name] = data.draw(st.sampled_from([*pool, value]), label=name)
    token = _fresh_token(app, fuzz_world.me)
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
    if os.environ.get("FUZZ_TRACE"):
        print(
            "TRACE", case.meta.phase.name if case.meta else None, case.operation.label, positive, response.status_code
        )


@coverage.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_boundary_cases_honour_the_contract(case: Any, app: Any, fuzz_world: World) -> None:
    token = _fresh_token(app, fuzz_world.me)
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
    if os.environ.get("FUZZ_TRACE"):
        print("TRACE", case.meta.phase.name if case.meta else None, case.operation.label, response.status_code)


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    from mongoengine.connection import get_db

    db = get_db()
    return {name: list(db[name].find()) for name in db.list_collection_names()}


def _restore(snapshot: dict[str, list[dict[str, Any]]]) -> None:
    from mongoengine.connection import get_db

    delete_every_document()
    db = get_db()
    for name, documents in snapshot.items():
        if documents:
            db[name].insert_many([dict(d) for d in documents])


@pytest.fixture
def workflow(app: Any, fuzz_world: World) -> Any:
    machine = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=STATEFUL_CONFIG).as_state_machine()
    world = _snapshot()

    class SignedInWorkflow(machine):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            # Every scenario starts from the same world: the same calls then get the same answers,
            # which Hypothesis relies on to explore (and report) scenarios.
            _restore(world)
            super().setup()

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            if os.environ.get("FUZZ_TRACE"):
                print("TRACE stateful", case.operation.label, response.status_code)

        def before_call(self, case: Any) -> None:
            # A fresh token per call (a logout in the chain revokes only that one), on the case itself
            # so that the auth checks see how the call was signed in.
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {_fresh_token(app, fuzz_world.me)}"}

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            # A fresh client (cookie jar) per call: a signup or login in the chain sets its user's cookie,
            # which would sign in the calls after it (the auth checks' calls without credentials too).
            return {"session": app.test_client()}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            # Auth enforcement is checked per operation above; in a chain, a signup's or login's cookie
            # travels on to the linked calls and would sign in the check's "no credentials" call.
            case.validate_response(response, checks=[c for c in CHECKS if c is not ignored_auth])

    return SignedInWorkflow


def test_linked_operations_honour_the_contract(workflow: Any) -> None:
    workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            # The database keeps what earlier scenarios did, so a replay is not the same scenario:
            # report the failing one as found instead of shrinking it.
            phases=[Phase.explicit, Phase.generate],
            deadline=None,
            database=None,
            derandomize="FUZZ_EXAMPLES" not in os.environ,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_every_api_route_is_in_the_openapi_document(app: Any) -> None:
    document = app.test_client().get("/api/openapi.json").get_json()
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule == "/healthz"):
            continue
        if rule.endpoint.startswith(("api-docs", "apidocs.")):  # the documents and their pages
            continue
        # Path parameters are documented in camelCase, as in the reference (`<user_id>` is `{userId}`).
        path = re.sub(r"<(\w+)>", lambda m: "{" + re.sub(r"_(\w)", lambda c: c[1].upper(), m[1]) + "}", rule.rule)
        routed |= {(path, method) for method in rule.methods or () if method not in {"HEAD", "OPTIONS"}}
    assert routed and routed == documented


def test_document_declares_security_errors_and_bodies(app: Any) -> None:
    document = app.test_client().get("/api/openapi.json").get_json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "jwt"}
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"message", "code"} and "details" in error["properties"]
    public = {("/api/auth/signup", "post"), ("/api/auth/login", "post"), ("/healthz", "get"), ("/api/limits", "get")}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "default" not in responses, (path, method)
            for status, response in responses.items():
                if int(status) >= 400 and path != "/healthz":
                    if "$ref" in response:
                        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
                    schema_ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert schema_ref == "#/components/schemas/Error", (path, method, status)
            if (path, method) not in public:
                assert operation["security"] == [{"bearerAuth": []}, {"cookieAuth": []}], (path, method)
                assert "401" in responses, (path, method)
            for parameter in operation.get("parameters", []):
                assert parameter["in"] in {"path", "query", "header", "cookie"}, (path, method, parameter)
    send = document["paths"]["/api/messages/send/{userId}"]["post"]
    assert set(send["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    form = document["components"]["schemas"]["SendMultipart"]["properties"]
    assert form["images"]["items"]["format"] == "binary" and form["file"]["format"] == "binary"
    profile = document["paths"]["/api/auth/update-profile"]["put"]
    assert set(profile["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    for path in ("/api/messages/contacts", "/api/messages/chats", "/api/messages/{userId}"):
        assert "X-Next-Cursor" in document["paths"][path]["get"]["responses"]["200"]["headers"]
    assert "Retry-After" in send["responses"]["429"]["headers"]
    assert app.test_client().get("/api/docs").status_code == 200
