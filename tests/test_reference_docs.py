"""The reference in docs/reference/ is the contract users read: it covers every REST operation and every
Socket.IO event the server documents, the README and the client guide lead to it, and no repository doc
points at files users never get (the design notes outside the repository)."""

from __future__ import annotations

import re
from typing import Any

from tests.support.live import ROOT

REFERENCE = ROOT / "docs" / "reference"


def _reference_text() -> str:
    return "\n".join(page.read_text() for page in sorted(REFERENCE.glob("*.md")))


def test_every_rest_operation_is_in_the_reference(app: Any) -> None:
    document = app.test_client().get("/api/openapi.json").get_json()
    text = _reference_text()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters" and f"`{method.upper()} {path}" not in text
    ]
    assert not missing, f"add these to docs/reference/: {missing}"


def test_every_socket_event_is_in_the_reference(app: Any) -> None:
    document = app.test_client().get("/api/asyncapi.json").get_json()
    realtime = (REFERENCE / "realtime.md").read_text()
    names = {m["name"] for m in document["channels"]["chat"]["messages"].values() if not m["name"].endswith(" ack")}
    missing = sorted(name for name in names if f"| `{name}` |" not in realtime)
    assert not missing, f"add these events to docs/reference/realtime.md: {missing}"


def test_every_error_code_raised_is_in_the_reference() -> None:
    codes: set[str] = set()
    for source in (ROOT / "chatbox").rglob("*.py"):
        text = source.read_text()
        codes |= set(re.findall(r"ApiError\(\s*\d{3},[^()]*?\"[^\"]*\",\s*\"([a-z_]+)\"", text, re.DOTALL))
        codes |= set(re.findall(r"(?:bad_request|forbidden|not_found|unauthorized)\([^()]*?,\s*\"([a-z_]+)\"\)", text))
    assert {"client_message_id_reused", "admin_only", "invalid_cursor"} <= codes
    errors = (REFERENCE / "README.md").read_text().split("## Errors", 1)[1]
    missing = sorted(code for code in codes if f"`{code}`" not in errors)
    assert not missing, f"add these codes to the errors table of docs/reference/README.md: {missing}"


def test_readme_and_client_guide_lead_to_the_reference_and_never_outside_the_repository() -> None:
    assert "(docs/reference/README.md)" in (ROOT / "README.md").read_text()
    assert "(reference/README.md)" in (ROOT / "docs" / "client-guide.md").read_text()
    pages = [ROOT / "README.md", ROOT / "SECURITY.md", *(ROOT / "docs").rglob("*.md")]
    for page in pages:
        text = page.read_text()
        assert "SPEC.md" not in text and "../shared" not in text and "shared/" not in text, page
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to a missing {target}"


def test_the_reference_links_every_page_of_its_own() -> None:
    index = (REFERENCE / "README.md").read_text()
    for page in REFERENCE.glob("*.md"):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/reference/README.md does not link {page.name}"
