"""Who may do what with a chat reached by its id. Every group "may" lives here."""

from __future__ import annotations

from bson import ObjectId

from chatbox.chats import queries
from chatbox.errors import ApiError, bad_request, forbidden, not_found
from chatbox.models import Chat, Message, User
from chatbox.models.chat import ROLE_ADMIN, ROLE_OWNER, ChatMember
from chatbox.models.ids import parse_object_id


def chat_not_found() -> ApiError:
    return not_found("No such chat.", "chat_not_found")


def sees_chat(user_id: ObjectId, chat: Chat) -> bool:
    """A chat's participants see it; so does a group's former member until they clear it."""
    return user_id in chat.participants or (chat.is_group and user_id in chat.former_members)


def can_see(me: User, chat: Chat) -> bool:
    return sees_chat(me.id, chat)


def visible_chat(me: User, chat_id: str) -> Chat:
    """The chat `chat_id` names if I may see it; otherwise 404, the same as for an unknown id (a group's
    existence is not revealed to non-members)."""
    oid = parse_object_id(chat_id)
    chat = queries.chat_by_id(oid) if oid else None
    if chat is None or not can_see(me, chat):
        raise chat_not_found()
    return chat


def my_role(me: User, chat: Chat) -> str | None:
    member = chat.member(me.id)
    return member.role if member is not None and member.is_current else None


def ensure_group(chat: Chat) -> None:
    if not chat.is_group:
        raise bad_request("This is a direct chat, not a group.", "not_a_group")


def ensure_member(me: User, chat: Chat) -> ChatMember:
    """A current member (former members only read)."""
    member = chat.member(me.id)
    if member is None or not member.is_current:
        raise forbidden("You are no longer a member of this group.", "not_a_member")
    return member


def ensure_admin(me: User, chat: Chat) -> ChatMember:
    member = ensure_member(me, chat)
    if member.role not in (ROLE_OWNER, ROLE_ADMIN):
        raise forbidden("Only the group's owner or an admin may do that.", "not_admin")
    return member


def ensure_owner(me: User, chat: Chat) -> ChatMember:
    member = ensure_member(me, chat)
    if member.role != ROLE_OWNER:
        raise forbidden("Only the group's owner may do that.", "not_owner")
    return member


def removable_member(me: User, chat: Chat, target_id: ObjectId) -> ChatMember:
    """Someone else I may remove: I am owner or admin; an admin removes members only."""
    actor = ensure_admin(me, chat)
    target = chat.member(target_id)
    if target is None or not target.is_current:
        raise not_found("No such member in this group.", "member_not_found")
    if actor.role == ROLE_ADMIN and target.role in (ROLE_OWNER, ROLE_ADMIN):
        raise forbidden("An admin cannot remove the owner or another admin.", "not_allowed")
    return target


def role_target(me: User, chat: Chat, target_id: ObjectId) -> ChatMember:
    ensure_owner(me, chat)
    target = chat.member(target_id)
    if target is None or not target.is_current:
        raise not_found("No such member in this group.", "member_not_found")
    if target.user_id == me.id:
        raise forbidden("The owner's role changes only when the owner leaves.", "not_allowed")
    return target


def ensure_sender(me: User, message: Message) -> None:
    if message.sender_id != me.id:
        raise forbidden("Only the message's sender may see its receipts.", "not_sender")


def visible_message(me: User, chat: Chat, message_id: str) -> Message:
    """A message of `chat` that I can see in my history."""
    oid = parse_object_id(message_id)
    message = queries.message_in_chat(chat, oid) if oid else None
    if message is None or not queries.can_see_message(me, chat, message):
        raise not_found("No such message.", "message_not_found")
    return message


def refused_members(me: User, users: dict[ObjectId, User], wanted: list[ObjectId]) -> None:
    """Everyone to be added must exist, be usable, and not block me nor be blocked by me (all or nothing)."""
    missing = [str(i) for i in wanted if i not in users or not users[i].can_sign_in]
    if missing:
        raise ApiError(400, "Some users do not exist.", "user_not_found", {"memberIds": missing})
    blocked = [str(i) for i in wanted if me.has_blocked(i) or users[i].has_blocked(me.id)]
    if blocked:
        raise ApiError(400, "Some users blocked you or were blocked by you.", "blocked", {"memberIds": blocked})
