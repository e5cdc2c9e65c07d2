from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from chatbox.api import Blueprint, PageArgs
from chatbox.auth.guard import auth_required, current_user
from chatbox.auth.schemas import PublicUserSchema
from chatbox.files.actions import Upload
from chatbox.messages import queries, schemas
from chatbox.messages.actions import chat as chat_actions_direct
from chatbox.messages.actions import lifecycle, receipts
from chatbox.messages.actions import send as sending
from chatbox.messages.actions.send import SendRequest, SendResult
from chatbox.pagination import NEXT_CURSOR_HEADER, Page, page_size
from chatbox.runtime import runtime
from chatbox.sync import queries as sync
from chatbox.sync.headers import SYNC_POSITION_DOC, with_sync_position
from chatbox.users.presenting import public_users

# The refusals every send shares (direct and group), as documented on both operations.
SEND_TOO_LARGE = (
    "A file is too large (file_too_large), an image has too many pixels (image_too_large), "
    "or the files would take me past my storage quota (quota_exceeded)"
)
SEND_UNSUPPORTED = "File type not allowed, content does not match, or an image that does not decode"
SEND_QUEUE_DOWN = "With REDIS_URL: the message queue (Redis) is unreachable (queue_unavailable); retry the same send"

blp = Blueprint("messages", __name__, url_prefix="/api/messages", description="Chats and messages")
PAGED = {
    "headers": {
        NEXT_CURSOR_HEADER: {
            "description": "Cursor of the next page; absent on the last page",
            "schema": {"type": "string"},
        }
    }
}
PAGED_SYNCED = {"headers": {**PAGED["headers"], **SYNC_POSITION_DOC}}


def _paged(page: Page, items: list[Any]) -> Response:
    response = jsonify(items)
    if page.next_cursor:
        response.headers[NEXT_CURSOR_HEADER] = page.next_cursor
    return response


@blp.route("/contacts")
@auth_required
@blp.arguments(schemas.ContactsArgs, location="query")
@blp.response(200, PublicUserSchema(many=True), description="Other active users by name", **PAGED)
@blp.error(400, "Invalid limit, cursor or q")
@blp.secured()
def contacts(args: dict[str, Any]) -> Response:
    rt = runtime()
    page = queries.contacts(current_user(), page_size(args["limit"], rt.config), args["cursor"], args["q"])
    return _paged(page, public_users(rt, current_user(), page.items))


@blp.route("/chats")
@auth_required
@blp.arguments(schemas.ContactsArgs, location="query")
@blp.response(200, schemas.ChatSchema(many=True), description="My chats, pinned first", **PAGED_SYNCED)
@blp.error(400, "Invalid limit, cursor or q")
@blp.secured()
def chats(args: dict[str, Any]) -> Response:
    rt = runtime()
    position = sync.position(current_user())
    page = queries.chat_list(rt, current_user(), page_size(args["limit"], rt.config), args["cursor"], args["q"])
    return with_sync_position(_paged(page, page.items), position)


@blp.route("/search/<user_id>")
@auth_required
@blp.arguments(schemas.SearchArgs, location="query")
@blp.response(200, schemas.MessageSchema(many=True), description="Matching messages, newest first", **PAGED)
@blp.error(400, "Invalid limit, cursor or q (1-100 characters)")
@blp.error(404, "Unknown user")
@blp.secured()
def search(args: dict[str, Any], user_id: str) -> Response:
    rt = runtime()
    page = queries.search(current_user(), user_id, args["q"], page_size(args["limit"], rt.config), args["cursor"])
    return _paged(page, [m.to_dict() for m in page.items])


@blp.route("/send/<user_id>", methods=["POST"])
@auth_required
@blp.arguments(schemas.SendJsonSchema, location="json_or_form")
@blp.arguments(schemas.SendFilesSchema, location="files")
@blp.body(json=schemas.SendJsonSchema, multipart=schemas.SendMultipartSchema)
@blp.response(201, schemas.SENT_MESSAGES, description="The new message; an array of messages for several images")
@blp.alt_response(200, schema=schemas.SENT_MESSAGES, description="A retry with a known clientMessageId")
@blp.error(400, "Empty or too long text, too many images, sending to myself, or a bad replyTo (invalid_reply)")
@blp.error(403, "Blocked either way (code: blocked)")
@blp.error(404, "Unknown or deactivated receiver")
@blp.error(409, "This clientMessageId was already used for a message to someone else (client_message_id_reused)")
@blp.error(413, SEND_TOO_LARGE)
@blp.error(415, SEND_UNSUPPORTED)
@blp.error(429, "Too many messages")
@blp.error(503, SEND_QUEUE_DOWN)
@blp.secured()
def send(body: dict[str, Any], files: dict[str, Any], user_id: str) -> Response:
    return sent_response(sending.send_message(runtime(), send_request(body, files, to=user_id)))


def send_request(
    body: dict[str, Any], files: dict[str, Any], to: str | None = None, chat_id: str | None = None
) -> SendRequest:
    """A REST send (JSON or multipart) as the send action's request: its `images` (one message each) and
    its one `file` become uploads."""
    uploads = [Upload(f.stream, f.filename or "", images_only=True) for f in files.get("images") or []]
    uploads += [Upload(f.stream, f.filename or "") for f in (files.get("file") or [])[:1]]
    return SendRequest(
        current_user(),
        to=to,
        chat_id=chat_id,
        text=body.get("text"),
        client_message_id=body.get("clientMessageId"),
        reply_to=body.get("replyTo"),
        uploads=uploads,
    )


def sent_response(result: SendResult) -> Response:
    """201 with the new message (an array for several images); 200 with the stored ones for a retry."""
    payload = [m.to_dict() for m in result.messages]
    response = jsonify(payload if len(payload) > 1 else payload[0])
    response.status_code = 201 if result.created else 200
    return response


@blp.route("/read/<message_id>", methods=["PUT"])
@auth_required
@blp.response(200, schemas.ReadResultSchema)
@blp.error(403, "Not the receiver")
@blp.error(404, "Unknown message")
@blp.secured()
def read(message_id: str) -> dict[str, Any]:
    return {"updated": receipts.mark_read(runtime(), current_user(), message_id)}


@blp.route("/chats/<user_id>", methods=["DELETE"])
@auth_required
@blp.response(200, schemas.ClearResultSchema)
@blp.error(400, "The id is my own")
@blp.error(404, "Unknown user")
@blp.secured()
def clear(user_id: str) -> dict[str, Any]:
    return {"cleared": True, "deleted": chat_actions_direct.clear_chat(runtime(), current_user(), user_id)}


@blp.route("/<message_id>", methods=["PATCH"])
@auth_required
@blp.arguments(schemas.EditSchema)
@blp.response(200, schemas.MessageSchema, description="The edited message")
@blp.error(400, "Empty or too long text")
@blp.error(403, "Not the sender (not_sender), too late (edit_window_passed), or blocked either way (blocked)")
@blp.error(403, "A group I left (not_a_member)")
@blp.error(404, "Unknown message, or not one I can see (message_not_found)")
@blp.error(409, "The message was deleted (message_deleted)")
@blp.secured()
def edit(body: dict[str, Any], message_id: str) -> Response:
    return jsonify(lifecycle.edit_message(runtime(), current_user(), message_id, body["text"]).to_dict())


@blp.route("/<message_id>", methods=["DELETE"])
@auth_required
@blp.arguments(schemas.DeleteArgs, location="query")
@blp.response(200, schemas.DeleteResultSchema)
@blp.error(400, "for missing or not everyone / me (validation_error)")
@blp.error(403, "for=everyone: not the sender (not_sender) or too late (delete_window_passed)")
@blp.error(404, "Unknown message, or not one of my chats (message_not_found)")
@blp.secured()
def delete(args: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {"deleted": lifecycle.delete_message(runtime(), current_user(), message_id, args["scope"])}


@blp.route("/<message_id>/reactions", methods=["PUT"])
@auth_required
@blp.arguments(schemas.ReactSchema)
@blp.response(200, schemas.ReactionsResultSchema, description="The message's reactions, most used first")
@blp.error(400, "Not exactly one emoji (invalid_emoji)")
@blp.error(403, "Blocked either way (blocked); a system message (system_message); a group I left (not_a_member)")
@blp.error(404, "Unknown message, or not one I can see (message_not_found)")
@blp.error(409, "The message was deleted (message_deleted)")
@blp.secured()
def react(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    return lifecycle.react(runtime(), current_user(), message_id, body["emoji"]).to_dict()


@blp.route("/<message_id>/reactions", methods=["DELETE"])
@auth_required
@blp.response(200, schemas.ReactionsResultSchema, description="The message's reactions, mine removed")
@blp.error(404, "Unknown message, or not one I can see (message_not_found)")
@blp.secured()
def unreact(message_id: str) -> dict[str, Any]:
    return lifecycle.unreact(runtime(), current_user(), message_id).to_dict()


@blp.route("/<message_id>/forward", methods=["POST"])
@auth_required
@blp.arguments(schemas.ForwardSchema)
@blp.response(201, schemas.MessageSchema(many=True), description="One new message per target, in the order given")
@blp.error(400, "Not 1-5 targets, or a target is myself; details.targets names every refused target")
@blp.error(403, "A target is blocked either way (blocked) or a group I left (not_a_member); details.targets")
@blp.error(403, "A group's system message (system_message)")
@blp.error(404, "Unknown message (message_not_found), or an unknown target (user_not_found, chat_not_found)")
@blp.error(409, "The message was deleted (message_deleted)")
@blp.error(429, "Too many messages")
@blp.error(503, "With REDIS_URL: the message queue (Redis) is unreachable (queue_unavailable); nothing was sent")
@blp.secured()
def forward(body: dict[str, Any], message_id: str) -> Response:
    copies = lifecycle.forward_message(runtime(), current_user(), message_id, body["to"], body["chatIds"])
    response = jsonify([m.to_dict() for m in copies])
    response.status_code = 201
    return response


@blp.route("/<user_id>")
@auth_required
@blp.arguments(PageArgs, location="query")
@blp.response(200, schemas.MessageSchema(many=True), description="A page of messages, oldest first", **PAGED_SYNCED)
@blp.error(400, "Invalid limit or cursor, or the id is my own")
@blp.error(404, "Unknown user")
@blp.secured()
def history(args: dict[str, Any], user_id: str) -> Response:
    position = sync.position(current_user())
    page = queries.history(current_user(), user_id, page_size(args["limit"], runtime().config), args["cursor"])
    return with_sync_position(_paged(page, [m.to_dict() for m in page.items]), position)
