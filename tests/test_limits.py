"""GET /api/limits: the server's limits as configured, read by clients (the web client included) instead
of copies of the numbers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import config
from tests.support.api import ApiClient

STATIC = Path(__file__).resolve().parents[1] / "chatbox" / "web" / "static"


def test_limits_need_no_sign_in_and_follow_the_configuration(app: Any, api: ApiClient) -> None:
    app.config["EDIT_WINDOW_MINUTES"] = 7
    response = api.get("/api/limits")
    assert response.status_code == 200
    assert response.get_json() == {
        "messageTextMax": config.MESSAGE_TEXT_MAX,
        "clientMessageIdMax": config.CLIENT_MESSAGE_ID_MAX,
        "searchQueryMax": config.SEARCH_QUERY_MAX,
        "pageDefault": config.PAGE_DEFAULT,
        "pageMax": config.PAGE_MAX,
        "syncPageMax": config.SYNC_PAGE_MAX,
        "maxImagesPerSend": config.MAX_IMAGES_PER_SEND,
        "maxUploadMb": app.config["MAX_UPLOAD_MB"],
        "maxImagePixels": app.config["MAX_IMAGE_PIXELS"],
        "storageQuotaMb": app.config["STORAGE_QUOTA_MB"],
        "editWindowMinutes": 7,
        "deleteWindowHours": app.config["DELETE_WINDOW_HOURS"],
        "forwardMaxTargets": app.config["FORWARD_MAX_TARGETS"],
        "maxGroupMembers": app.config["MAX_GROUP_MEMBERS"],
        "groupNameMax": app.config["GROUP_NAME_MAX"],
        "fullNameMax": config.FULL_NAME_MAX,
        "passwordMin": config.PASSWORD_MIN,
        "replyPreviewChars": config.REPLY_PREVIEW_CHARS,
    }


def test_the_request_schemas_take_their_limits_from_config(api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    longest = "k" * config.CLIENT_MESSAGE_ID_MAX
    assert api.send(alice, bob, "fits", clientMessageId=longest).status_code == 201
    too_long = api.send(alice, bob, "does not", clientMessageId=longest + "k")
    assert too_long.status_code == 400 and "clientMessageId" in too_long.get_json()["details"]
    search = api.get(f"/api/messages/search/{bob.id}", alice, query_string={"q": "q" * (config.SEARCH_QUERY_MAX + 1)})
    assert search.status_code == 400
    page = api.get("/api/messages/chats", alice, query_string={"limit": config.PAGE_MAX + 1})
    assert page.status_code == 400


def test_the_web_client_copies_no_limit() -> None:
    page = (STATIC / "index.html").read_text()
    script = (STATIC / "app.js").read_text()
    assert not re.search(r'(maxlength|minlength)="\d+"', page)  # inputs are sized from /api/limits
    assert "MAX_IMAGES_PER_SEND" not in script and "/api/limits" in script
    assert not re.search(r"maxlength: '\d+'", script)  # inputs built in code take theirs from limits too


def test_no_module_of_the_web_client_copies_a_limit(app: Any) -> None:
    """The client's modules (static/js/) size inputs and pages from GET /api/limits, like app.js:
    their code (comments aside) names no configured limit and builds no input with a fixed maxlength."""
    limits = [name for name in app.config if name.isupper() and "MAX" in name]
    assert "MAX_IMAGES_PER_SEND" in limits and "PAGE_MAX" in limits
    for module in sorted((STATIC / "js").rglob("*.js")):
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", module.read_text(), flags=re.S)
        assert not [name for name in limits if re.search(rf"\b{name}\b", code)], module
        assert not re.search(r"maxlength: '\d+'", code), module
