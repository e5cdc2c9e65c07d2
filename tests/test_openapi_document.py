"""The OpenAPI document is one a typed client can be generated from, and it tells the truth on the inputs that an
outside schemathesis run found it wrong about."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.api import ApiClient
from tests.support.live import ROOT

TS_USAGE = """
import type { components, operations, paths } from "./chatbox-api";

type Message = components["schemas"]["Message"];
type Chat = components["schemas"]["Chat"];
const noImage: Message["image"] = null;
const noLastMessage: Chat["lastMessage"] = null;
const peer: paths["/api/messages/{userId}"]["get"]["parameters"]["path"]["userId"] = "0123456789abcdef01234567";
type Sent = operations["messagesSend"]["responses"][201]["content"]["application/json"];
type Reused = operations["messagesSend"]["responses"][409]["content"]["application/json"];
const reused: Reused = { message: "used", code: "client_message_id_reused" };
function firstText(sent: Sent): string {
  return Array.isArray(sent) ? sent[0].text : sent.text;
}
export const used = [noImage, noLastMessage, peer, reused, firstText];
"""


def _document(api: ApiClient) -> dict[str, Any]:
    response = api.get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method != "parameters"
    ]


def test_every_operation_has_a_unique_operation_id_and_camel_case_path_parameters(api: ApiClient) -> None:
    document = _document(api)
    assert document["openapi"] == "3.1.0"
    ids = [operation.get("operationId") for _, _, operation in _operations(document)]
    assert all(ids) and len(set(ids)) == len(ids), ids
    for path, _method, operation in _operations(document):
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        for name in names:
            assert "_" not in name and "{" + name + "}" in path, (path, name)
    assert document["paths"]["/api/messages/send/{userId}"]["post"]["operationId"] == "messagesSend"


def test_nullable_fields_are_a_type_or_null_without_empty_object_branches(api: ApiClient) -> None:
    schemas = _document(api)["components"]["schemas"]
    assert schemas["Message"]["properties"]["image"]["type"] == ["string", "null"]
    assert schemas["Chat"]["properties"]["lastMessage"] == {
        "anyOf": [{"$ref": "#/components/schemas/Message"}, {"type": "null"}]
    }

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for branch in node.get("anyOf", []) + node.get("oneOf", []):
                assert branch.get("$ref") or branch.get("type") != "object" or branch.get("properties"), node
            assert "nullable" not in node, node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(_document(api))


def test_statuses_the_server_answers_are_documented(api: ApiClient) -> None:
    paths = _document(api)["paths"]
    send = paths["/api/messages/send/{userId}"]["post"]["responses"]
    assert {"409", "413", "414", "415", "429"} <= set(send)
    assert "413" in paths["/api/auth/update-profile"]["put"]["responses"]
    assert "414" in paths["/api/messages/contacts"]["get"]["responses"]
    for path, method, operation in _operations(_document(api)):
        assert "414" in operation["responses"], (path, method)
        if method in {"post", "put", "patch", "delete"}:
            assert "413" in operation["responses"], (path, method)
    # A body where none is expected is still capped, as documented.
    someone, other = api.signup("Someone"), api.signup("Other")
    huge = api.post(f"/api/users/block/{other.id}", someone, data="x" * (70 * 1024), content_type="text/plain")
    assert huge.status_code == 413 and huge.get_json()["code"] == "body_too_large"


def test_inputs_the_document_allows_and_refuses_match_the_server(api: ApiClient) -> None:
    document = _document(api)
    schemas = document["components"]["schemas"]
    alice, bob = api.signup("Alice"), api.signup("Bob")
    # The cursor's alphabet is documented, and a cursor outside it is refused.
    cursor = next(p for p in document["paths"]["/api/messages/chats"]["get"]["parameters"] if p["name"] == "cursor")
    assert cursor["schema"]["pattern"] == "^[A-Za-z0-9_-]+$"
    assert api.get("/api/messages/chats?cursor=a%20b", alice).status_code == 400
    # Control characters in a name: documented as refused, and refused.
    assert "pattern" in schemas["Signup"]["properties"]["fullName"]
    refused = api.put("/api/auth/update-profile", alice, json={"fullName": "A\x01lice"})
    assert refused.status_code == 400 and "fullName" in refused.get_json()["details"]
    assert api.put("/api/auth/update-profile", alice, json={"fullName": "Alice Ünal"}).status_code == 200
    # Device tokens: printable ASCII without spaces, as documented.
    assert schemas["Register"]["properties"]["token"]["pattern"] == "^[!-~]+$"
    assert api.post("/api/push/register-fcm", alice, json={"token": "has space"}).status_code == 400
    assert api.post("/api/push/register-fcm", alice, json={"token": "fcm:APA91b-x_y"}).status_code == 200
    # A file field sent as text, and a single-valued field sent twice, are refused (not ignored or cut).
    as_text = api.post(f"/api/messages/send/{bob.id}", alice, data={"text": "hi", "images": "abc"})
    assert as_text.status_code == 400 and "images" in as_text.get_json()["details"]
    twice = api.put("/api/auth/update-profile", alice, data={"fullName": ["X", "Y"]})
    assert twice.status_code == 400 and "fullName" in twice.get_json()["details"]
    picture = api.put("/api/auth/update-profile", alice, data={"profilePic": "not a file"})
    assert picture.status_code == 400
    assert api.get("/api/auth/check", alice).get_json()["fullName"] == "Alice Ünal"
    # NUL in query text is refused like NUL in a body.
    assert api.get("/api/messages/contacts?q=a%00b", alice).status_code == 400
    ok = api.post(f"/api/messages/send/{bob.id}", alice, data={"text": "hi", "images": (io.BytesIO(b"x"), "a.txt")})
    assert ok.status_code == 415  # a real file part is checked as a file


def test_a_typescript_client_generated_from_the_document_compiles(api: ApiClient, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed (make test installs it)"
    bin_dir = ROOT / "node_modules" / ".bin"
    assert (bin_dir / "openapi-typescript").exists(), "run `npm install` (make install) first"
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(_document(api)))
    generate = subprocess.run(
        [str(bin_dir / "openapi-typescript"), str(spec), "-o", str(tmp_path / "chatbox-api.d.ts")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generate.returncode == 0, generate.stdout + generate.stderr
    (tmp_path / "usage.ts").write_text(TS_USAGE)
    compile_ = subprocess.run(
        [
            str(bin_dir / "tsc"),
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--moduleResolution",
            "bundler",
            "--module",
            "esnext",
            str(tmp_path / "usage.ts"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert compile_.returncode == 0, compile_.stdout + compile_.stderr


def test_the_docs_page_loads_only_assets_this_server_serves(api: ApiClient) -> None:
    page = api.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 3 and all(a.startswith("/api/docs/assets/") for a in assets), assets
    for asset in assets:
        response = api.get(asset)
        assert response.status_code == 200 and len(response.data) > 1000, asset
    assert "cdn" not in html.lower() and "https://" not in html
    assert api.get("/api/docs/assets/../openapi.json").status_code == 404
    assert api.get("/api/docs/assets/index.html").status_code == 404
    events = api.get("/api/events")
    assert events.status_code == 200 and "<script" not in events.get_data(as_text=True)
    assert 'id="client-new-message"' in events.get_data(as_text=True)


def test_the_document_holds_every_api_route_once_however_late_and_often_it_is_read(app: Any, api: ApiClient) -> None:
    """The operations enter the document on its first read (chatbox/api.py): a read after other requests
    still sees every blueprint's routes, in registration order, and a second read the same document."""
    assert api.get("/healthz").status_code == 200
    document = _document(api)
    assert _document(api) == document
    documented = {"auth", "users", "messages", "chats", "files", "push", "health", "sync", "admin"}
    assert (
        [tag["name"] for tag in document["tags"]]
        == [name for name in app.blueprints if name in documented]
        == ["auth", "users", "messages", "chats", "files", "push", "health", "sync", "admin"]
    )
    routed = sorted(
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.partition(".")[0] in documented
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )
    operations = [(path, method) for path, method, _operation in _operations(document)]
    assert len(operations) == len(set(operations)) == len(routed), (operations, routed)
