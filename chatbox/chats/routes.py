"""/api/chats: chats reached by their id (both kinds) and groups."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import Response

from chatbox.api import Blueprint, PageArgs
from chatbox.auth.guard import auth_required, current_user
from chatbox.chats import actions, schemas
from chatbox.files.actions import Upload
from chatbox.messages import queries as message_queries
from chatbox.messages import schemas as message_schemas
from chatbox.messages.actions import receipts as receipt_actions
from chatbox.messages.actions import send as sending
from chatbox.messages.routes import (
    PAGED,
    PAGED_SYNCED,
    SEND_QUEUE_DOWN,
    SEND_TOO_LARGE,
    SEND_UNSUPPORTED,
    _paged,
    send_request,
    sent_response,
)
from chatbox.pagination import page_size
from chatbox.runtime import runtime
from chatbox.sync import queries as sync
from chatbox.sync.headers import with_sync_position

blp = Blueprint("chats", __name__, url_prefix="/api/chats", description="Chats by id, and groups")
NOT_FOUND = "Unknown chat, or a group I never was a member of (code: chat_not_found)"


@blp.route("", methods=["POST"])
@auth_required
@blp.arguments(schemas.CreateGroupSchema)
@blp.response(201, schemas.ChatWithMembersSchema, description="The new group's item, with its members")
@blp.error(400, "Invalid name or ids; group_full; user_not_found or blocked (details.memberIds)")
@blp.error(413, "Avatar too large")
@blp.error(415, "Avatar not a JPG or PNG image")
@blp.secured()
def create(body: dict[str, Any]) -> dict[str, Any]:
    return actions.create_group(runtime(), current_user(), body["name"], body["memberIds"], body["avatar"])


@blp.route("/<chat_id>")
@auth_required
@blp.response(200, schemas.ChatWithMembersSchema, description="The chat's item; a group's with its members")
@blp.error(404, NOT_FOUND)
@blp.secured()
def get_chat(chat_id: str) -> dict[str, Any]:
    return actions.get_chat(runtime(), current_user(), chat_id)


@blp.route("/<chat_id>", methods=["PATCH"])
@blp.json_limit("MAX_PROFILE_JSON_BYTES")
@auth_required
@blp.arguments(schemas.UpdateGroupSchema, location="json_or_form")
@blp.arguments(schemas.AvatarFilesSchema, location="files")
@blp.body(json=schemas.UpdateGroupSchema, multipart=schemas.UpdateGroupMultipartSchema)
@blp.response(200, schemas.ChatItemSchema)
@blp.error(400, "Invalid name or avatar; a direct chat (code: not_a_group)")
@blp.error(403, "Not the owner or an admin (not_admin); a former member (not_a_member)")
@blp.error(404, NOT_FOUND)
@blp.error(413, "Avatar too large")
@blp.error(415, "Avatar not a JPG or PNG image")
@blp.secured()
def update(body: dict[str, Any], files: dict[str, Any], chat_id: str) -> dict[str, Any]:
    upload = (files.get("avatar") or [None])[0]
    avatar_upload = Upload(upload.stream, upload.filename or "", images_only=True) if upload is not None else None
    return actions.update_group(runtime(), current_user(), chat_id, body["name"], body["avatar"], avatar_upload)


@blp.route("/<chat_id>/members", methods=["POST"])
@auth_required
@blp.arguments(schemas.AddMembersSchema)
@blp.response(200, schemas.ChatWithMembersSchema)
@blp.error(400, "Invalid ids; not_a_group; group_full; user_not_found or blocked (details.memberIds)")
@blp.error(403, "Not the owner or an admin (not_admin); a former member (not_a_member)")
@blp.error(404, NOT_FOUND)
@blp.secured()
def add_members(body: dict[str, Any], chat_id: str) -> dict[str, Any]:
    return actions.add_members(runtime(), current_user(), chat_id, body["userIds"])


@blp.route("/<chat_id>/members/<user_id>", methods=["DELETE"])
@auth_required
@blp.response(200, schemas.LeaveResultSchema, description="{left: true} for myself, else {removed: true}")
@blp.error(400, "A direct chat (not_a_group)")
@blp.error(403, "A member removing someone (not_admin); an admin removing the owner or an admin (not_allowed)")
@blp.error(404, "Unknown chat (chat_not_found) or not a current member (member_not_found)")
@blp.secured()
def remove_member(chat_id: str, user_id: str) -> dict[str, Any]:
    return actions.remove_member(runtime(), current_user(), chat_id, user_id)


@blp.route("/<chat_id>/members/<user_id>/role", methods=["PUT"])
@auth_required
@blp.arguments(schemas.RoleSchema)
@blp.response(200, schemas.ChatWithMembersSchema)
@blp.error(400, "Invalid role; a direct chat (not_a_group)")
@blp.error(403, "Not the owner (not_owner); the owner's own role (not_allowed)")
@blp.error(404, "Unknown chat (chat_not_found) or not a current member (member_not_found)")
@blp.secured()
def set_role(body: dict[str, Any], chat_id: str, user_id: str) -> dict[str, Any]:
    return actions.set_role(runtime(), current_user(), chat_id, user_id, body["role"])


@blp.route("/<chat_id>/messages")
@auth_required
@blp.arguments(PageArgs, location="query")
@blp.response(200, message_schemas.MessageSchema(many=True), description="A page, oldest first", **PAGED_SYNCED)
@blp.error(400, "Invalid limit or cursor")
@blp.error(404, NOT_FOUND)
@blp.secured()
def history(args: dict[str, Any], chat_id: str) -> Response:
    position = sync.position(current_user())
    page = message_queries.chat_history(
        current_user(), chat_id, page_size(args["limit"], runtime().config), args["cursor"]
    )
    return with_sync_position(_paged(page, [m.to_dict() for m in page.items]), position)


@blp.route("/<chat_id>/messages", methods=["POST"])
@auth_required
@blp.arguments(message_schemas.SendJsonSchema, location="json_or_form")
@blp.arguments(message_schemas.SendFilesSchema, location="files")
@blp.body(json=message_schemas.SendJsonSchema, multipart=message_schemas.SendMultipartSchema)
@blp.response(201, message_schemas.SENT_MESSAGES, description="The new message; an array for several images")
@blp.alt_response(200, schema=message_schemas.SENT_MESSAGES, description="A retry with a known clientMessageId")
@blp.error(400, "Empty or too long text, too many images, or a bad replyTo (invalid_reply)")
@blp.error(403, "A former member (not_a_member); a direct chat across a block (blocked)")
@blp.error(404, NOT_FOUND)
@blp.error(413, SEND_TOO_LARGE)
@blp.error(415, SEND_UNSUPPORTED)
@blp.error(429, "Too many messages")
@blp.error(503, SEND_QUEUE_DOWN)
@blp.secured()
def send(body: dict[str, Any], files: dict[str, Any], chat_id: str) -> Response:
    return sent_response(sending.send_message(runtime(), send_request(body, files, chat_id=chat_id)))


@blp.route("/<chat_id>/messages", methods=["DELETE"])
@auth_required
@blp.response(200, message_schemas.ClearResultSchema)
@blp.error(404, NOT_FOUND)
@blp.secured()
def clear(chat_id: str) -> dict[str, Any]:
    return actions.clear(runtime(), current_user(), chat_id)


@blp.route("/<chat_id>/search")
@auth_required
@blp.arguments(message_schemas.SearchArgs, location="query")
@blp.response(200, message_schemas.MessageSchema(many=True), description="Matching messages, newest first", **PAGED)
@blp.error(400, "Invalid limit, cursor or q (1-100 characters)")
@blp.error(404, NOT_FOUND)
@blp.secured()
def search(args: dict[str, Any], chat_id: str) -> Response:
    rt = runtime()
    page = message_queries.chat_search(
        current_user(), chat_id, args["q"], page_size(args["limit"], rt.config), args["cursor"]
    )
    return _paged(page, [m.to_dict() for m in page.items])


@blp.route("/<chat_id>/read", methods=["PUT"])
@auth_required
@blp.arguments(schemas.ReadUpToSchema)
@blp.response(200, message_schemas.ReadResultSchema, description="How many messages stopped being unread for me")
@blp.error(400, "upTo is not an id")
@blp.error(404, "Unknown chat (chat_not_found) or message (message_not_found)")
@blp.secured()
def read(body: dict[str, Any], chat_id: str) -> dict[str, Any]:
    return {"updated": receipt_actions.read_in_chat(runtime(), current_user(), chat_id, body["upTo"])}


@blp.route("/<chat_id>/pin", methods=["PUT"])
@auth_required
@blp.response(200, schemas.ChatItemSchema)
@blp.error(404, NOT_FOUND)
@blp.secured()
def pin(chat_id: str) -> dict[str, Any]:
    return actions.pin(runtime(), current_user(), chat_id, pinned=True)


@blp.route("/<chat_id>/pin", methods=["DELETE"])
@auth_required
@blp.response(200, schemas.ChatItemSchema)
@blp.error(404, NOT_FOUND)
@blp.secured()
def unpin(chat_id: str) -> dict[str, Any]:
    return actions.pin(runtime(), current_user(), chat_id, pinned=False)


@blp.route("/<chat_id>/mute", methods=["PUT"])
@auth_required
@blp.arguments(schemas.MuteSchema)
@blp.response(200, schemas.ChatItemSchema)
@blp.error(400, "until is not a time in the future nor null (validation_error)")
@blp.error(404, NOT_FOUND)
@blp.secured()
def mute(body: dict[str, Any], chat_id: str) -> dict[str, Any]:
    until = body["until"]
    naive = until.astimezone(UTC).replace(tzinfo=None) if until is not None else None
    return actions.mute(runtime(), current_user(), chat_id, naive, muted=True)


@blp.route("/<chat_id>/mute", methods=["DELETE"])
@auth_required
@blp.response(200, schemas.ChatItemSchema)
@blp.error(404, NOT_FOUND)
@blp.secured()
def unmute(chat_id: str) -> dict[str, Any]:
    return actions.mute(runtime(), current_user(), chat_id, None, muted=False)


@blp.route("/<chat_id>/messages/<message_id>/receipts")
@auth_required
@blp.response(200, schemas.ReceiptSchema(many=True), description="One row per member at send time but the sender")
@blp.error(403, "Not the message's sender (not_sender)")
@blp.error(404, "Unknown chat (chat_not_found) or message (message_not_found)")
@blp.secured()
def receipts(chat_id: str, message_id: str) -> list[dict[str, Any]]:
    return receipt_actions.message_receipts(current_user(), chat_id, message_id)
