"""Chat-by-id and group actions: one function per state change (check, store, announce).

Direct chats reached by their id go through the direct actions in messages.actions, so both kinds follow
one set of rules. (Sends to any chat: messages.actions.send.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import ObjectId

from chatbox.chats import events, queries, rules
from chatbox.chats.presenting import members_list
from chatbox.errors import ApiError, bad_request, not_found
from chatbox.files.actions import Upload, delete_stored_files, store_image_data_url, store_upload
from chatbox.messages import events as message_events
from chatbox.messages import replies
from chatbox.messages.actions import chat as direct_chat
from chatbox.messages.actions import receipts
from chatbox.messages.presenting import chat_items
from chatbox.models import Chat, Message, StoredFile, User
from chatbox.models.chat import (
    KIND_GROUP,
    MUTED_FOREVER,
    ROLE_ADMIN,
    ROLE_MEMBER,
    ROLE_OWNER,
    ChatMember,
    group_key,
)
from chatbox.models.ids import parse_object_id, utcnow
from chatbox.models.message import STATUS_SENT
from chatbox.models.stored_file import PURPOSE_AVATAR
from chatbox.runtime import Runtime
from chatbox.users import actions as user_actions

MEMBERSHIP_RETRIES = 5


# --- presenting one chat --------------------------------------------------------------------------


def item(rt: Runtime, me: User, chat: Chat, with_members: bool = False) -> dict[str, Any]:
    shown = chat_items(rt, me, [chat])
    if not shown:
        raise rules.chat_not_found()
    result = shown[0]
    if with_members and chat.is_group:
        result["members"] = members_list(rt, me, chat)
    return result


def get_chat(rt: Runtime, me: User, chat_id: str) -> dict[str, Any]:
    return item(rt, me, rules.visible_chat(me, chat_id), with_members=True)


# --- system messages and membership ---------------------------------------------------------------


def _system_message(
    chat_id: ObjectId,
    actor_id: ObjectId,
    kind: str,
    at: datetime,
    user_ids: list[ObjectId] | None = None,
    name: str | None = None,
    role: str | None = None,
    message_id: ObjectId | None = None,
) -> Message:
    return Message(
        id=message_id or ObjectId(),
        chat_id=chat_id,
        sender_id=actor_id,
        receiver_id=None,
        text="",
        status=STATUS_SENT,
        system={
            "type": kind,
            "actorId": str(actor_id),
            "userIds": [str(u) for u in user_ids or []],
            "name": name,
            "role": role,
        },
        created_at=at,
        updated_at=at,
    )


@dataclass
class Change:
    """What a membership change computed from the chat as read: the new member list, other fields to set,
    and the system messages that record it."""

    members: list[ChatMember]
    system: list[Message]
    fields: dict[str, Any] = field(default_factory=dict)


def _change_group(chat_id: ObjectId, compute: Callable[[Chat], Change | None]) -> tuple[Chat, Change | None]:
    """Read, compute, write guarded by the chat's version; again when someone else changed it meanwhile."""
    for _ in range(MEMBERSHIP_RETRIES):
        chat = queries.chat_by_id(chat_id)
        if chat is None:
            raise rules.chat_not_found()
        change = compute(chat)
        if change is None:
            return chat, None
        if queries.save_membership(chat, change.members, **change.fields):
            if change.system:
                queries.store_messages(chat.id, change.system)
            fresh = queries.chat_by_id(chat_id)
            if fresh is None:
                raise rules.chat_not_found()
            return fresh, change
    raise ApiError(409, "The group changed while this was applied; try again.", "conflict")


def _copy(member: ChatMember, **changes: Any) -> ChatMember:
    values = {
        "user_id": member.user_id,
        "role": member.role,
        "joined_at": member.joined_at,
        "since_id": member.since_id,
        "until_id": member.until_id,
    }
    values.update(changes)
    return ChatMember(**values)


def _clean_name(rt: Runtime, name: Any) -> str:
    text = name.strip() if isinstance(name, str) else ""
    limit = rt.config["GROUP_NAME_MAX"]
    if not 1 <= len(text) <= limit:
        raise bad_request(
            f"The group name must be 1 to {limit} characters.",
            "validation_error",
            {"name": [f"1 to {limit} characters after trimming."]},
        )
    return text


def _wanted_ids(me: User, ids: list[str]) -> list[ObjectId]:
    """Distinct ids in the order given, without mine."""
    return [oid for oid in dict.fromkeys(ObjectId(i) for i in ids) if oid != me.id]


def _new_members(rt: Runtime, me: User, wanted: list[ObjectId], current: int) -> dict[ObjectId, User]:
    if current + len(wanted) > rt.config["MAX_GROUP_MEMBERS"]:
        raise bad_request(f"A group has at most {rt.config['MAX_GROUP_MEMBERS']} members.", "group_full")
    users = queries.users_by_id(wanted)
    rules.refused_members(me, users, wanted)
    return users


def _store_avatar(rt: Runtime, me: User, data_url: str | None, upload: Upload | None) -> StoredFile | None:
    if upload is not None:
        return store_upload(rt.storage, me.id, upload.stream, upload.filename, PURPOSE_AVATAR, images_only=True)
    if data_url:
        try:
            return store_image_data_url(rt.storage, me.id, data_url, PURPOSE_AVATAR)
        except ApiError as exc:
            if exc.code == "invalid_data_url":
                raise ApiError(400, "avatar must be a base64 data URL of a JPG or PNG image.", exc.code) from exc
            raise
    return None


def create_group(rt: Runtime, me: User, name: Any, member_ids: list[str], avatar: str | None) -> dict[str, Any]:
    message_events.ensure_announceable(rt)  # a group nobody hears of is worse than a 503 to retry
    name = _clean_name(rt, name)
    wanted = _wanted_ids(me, member_ids)
    if not wanted:
        raise bad_request(
            "A group needs at least one other member.", "validation_error", {"memberIds": ["At least one other user."]}
        )
    _new_members(rt, me, wanted, current=1)
    stored = _store_avatar(rt, me, avatar, None)
    now = utcnow()
    chat_id = ObjectId()
    created = _system_message(chat_id, me.id, "created", now, user_ids=wanted, name=name)
    members = [ChatMember(user_id=me.id, role=ROLE_OWNER, joined_at=now, since_id=created.id)]
    members += [ChatMember(user_id=u, role=ROLE_MEMBER, joined_at=now, since_id=created.id) for u in wanted]
    chat = Chat(
        id=chat_id,
        kind=KIND_GROUP,
        pair_key=group_key(chat_id),
        participants=[m.user_id for m in members],
        members=members,
        name=name,
        avatar=stored.url if stored else "",
        avatar_file_id=stored.id if stored else None,
        last_message_id=created.id,
        last_message_at=now,
        created_at=now,
        cleared_up_to={},
        muted_until={},
    )
    try:
        chat.save(force_insert=True)
        created.save(force_insert=True)
    except Exception:
        queries.remove_chat(chat_id)
        if stored:
            delete_stored_files(rt.storage, [stored.id])
        raise
    events.new_chat(rt, chat, chat.participants)
    message_events.group_messages(rt, chat, me.id, [created])
    return item(rt, me, chat, with_members=True)


def update_group(
    rt: Runtime, me: User, chat_id: str, name: Any, avatar: str | None, avatar_upload: Upload | None
) -> dict[str, Any]:
    chat = rules.visible_chat(me, chat_id)
    rules.ensure_group(chat)
    message_events.ensure_announceable(rt)
    rules.ensure_admin(me, chat)
    if name is None and avatar is None and avatar_upload is None:
        raise bad_request("Send a name or an avatar.", "validation_error", {"_schema": ["Nothing to update."]})
    new_name = _clean_name(rt, name) if name is not None else None
    stored = _store_avatar(rt, me, avatar, avatar_upload)
    removing_avatar = avatar == "" and avatar_upload is None
    now = utcnow()

    def compute(current: Chat) -> Change | None:
        rules.ensure_admin(me, current)
        system: list[Message] = []
        fields: dict[str, Any] = {}
        if new_name is not None and new_name != current.name:
            fields["set__name"] = new_name
            system.append(_system_message(current.id, me.id, "renamed", now, name=new_name))
        if stored is not None or (removing_avatar and current.avatar):
            fields["set__avatar"] = stored.url if stored else ""
            fields["set__avatar_file_id"] = stored.id if stored else None
            system.append(_system_message(current.id, me.id, "avatar_changed", now))
        if not system:
            return None
        return Change(list(current.members), system, fields)

    old_avatar = chat.avatar_file_id
    try:
        chat, change = _change_group(chat.id, compute)
    except Exception:
        if stored:
            delete_stored_files(rt.storage, [stored.id])
        raise
    if change is None:
        if stored:
            delete_stored_files(rt.storage, [stored.id])
        return item(rt, me, chat)
    if old_avatar is not None and old_avatar != chat.avatar_file_id:
        delete_stored_files(rt.storage, [old_avatar])
    message_events.group_messages(rt, chat, me.id, change.system)
    events.chat_updated(rt, chat)
    return item(rt, me, chat)


def add_members(rt: Runtime, me: User, chat_id: str, user_ids: list[str]) -> dict[str, Any]:
    chat = rules.visible_chat(me, chat_id)
    rules.ensure_group(chat)
    message_events.ensure_announceable(rt)
    rules.ensure_admin(me, chat)
    wanted = [u for u in _wanted_ids(me, user_ids) if u not in chat.participants]
    if wanted:
        _new_members(rt, me, wanted, current=len(chat.participants))
    now = utcnow()

    def compute(current: Chat) -> Change | None:
        rules.ensure_admin(me, current)
        adding = [u for u in wanted if u not in current.participants]
        if not adding:
            return None
        if len(current.participants) + len(adding) > rt.config["MAX_GROUP_MEMBERS"]:
            raise bad_request(f"A group has at most {rt.config['MAX_GROUP_MEMBERS']} members.", "group_full")
        added = _system_message(current.id, me.id, "member_added", now, user_ids=adding)
        members = []
        for member in current.members:
            if member.user_id in adding:  # a former member comes back: their history restarts here
                member = _copy(member, role=ROLE_MEMBER, joined_at=now, since_id=added.id, until_id=None)
            members.append(member)
        known = {m.user_id for m in current.members}
        members += [
            ChatMember(user_id=u, role=ROLE_MEMBER, joined_at=now, since_id=added.id) for u in adding if u not in known
        ]
        return Change(members, [added], {"pull_all__former_members": adding})

    chat, change = _change_group(chat.id, compute)
    if change is not None:
        added_ids = [ObjectId(u) for u in change.system[0].system["userIds"]]
        events.new_chat(rt, chat, added_ids)
        message_events.group_messages(rt, chat, me.id, change.system)
        events.chat_updated(rt, chat, skip=added_ids)
    return item(rt, me, chat, with_members=True)


def _successor(members: list[ChatMember], leaving: ObjectId) -> ChatMember | None:
    """The longest-standing admin, else the longest-standing member."""
    staying = [m for m in members if m.is_current and m.user_id != leaving]
    admins = [m for m in staying if m.role == ROLE_ADMIN]
    pool = admins or staying
    return min(pool, key=lambda m: (m.joined_at, m.since_id)) if pool else None


def remove_member(rt: Runtime, me: User, chat_id: str, user_id: str) -> dict[str, Any]:
    chat = rules.visible_chat(me, chat_id)
    rules.ensure_group(chat)
    message_events.ensure_announceable(rt)
    target_id = parse_object_id(user_id)
    leaving = target_id == me.id
    if target_id is None:
        raise not_found("No such member in this group.", "member_not_found")
    if leaving:
        member = chat.member(me.id)
        if member is None or not member.is_current:
            raise not_found("You are not a member of this group.", "member_not_found")
    else:
        rules.removable_member(me, chat, target_id)
    now = utcnow()

    def compute(current: Chat) -> Change | None:
        if leaving:
            if me.id not in current.participants:
                raise not_found("You are not a member of this group.", "member_not_found")
        else:
            rules.removable_member(me, current, target_id)
        kind = "member_left" if leaving else "member_removed"
        gone = _system_message(current.id, me.id, kind, now, user_ids=[target_id])
        system = [gone]
        target = current.member(target_id)
        successor = _successor(current.members, target_id) if target and target.role == ROLE_OWNER else None
        if successor is not None:
            system.append(
                # the leaving owner's act: they are its actor (and sender)
                _system_message(current.id, me.id, "owner_changed", now, user_ids=[successor.user_id])
            )
        members = []
        for member in current.members:
            if member.user_id == target_id:
                member = _copy(member, until_id=gone.id, role=ROLE_MEMBER)
            elif successor is not None and member.user_id == successor.user_id:
                member = _copy(member, role=ROLE_OWNER)
            members.append(member)
        return Change(members, system, {"add_to_set__former_members": target_id})

    chat, change = _change_group(chat.id, compute)
    assert change is not None
    if not chat.participants:
        _delete_group(rt, chat)
        return {"left": True} if leaving else {"removed": True}
    gone, rest = change.system[0], change.system[1:]
    message_events.group_messages(rt, chat, me.id, [gone], also=[target_id])
    if rest:
        message_events.group_messages(rt, chat, me.id, rest)
    events.chat_removed(rt, chat.id, [target_id])
    events.chat_updated(rt, chat)
    return {"left": True} if leaving else {"removed": True}


def _delete_group(rt: Runtime, chat: Chat) -> None:
    """The last member left: the group, its messages and its files go, for everyone who still lists it."""
    message_ids, file_ids = queries.delete_group_data(chat)
    # Replies elsewhere that quoted its messages (in forwards) show them as deleted.
    replies.quoted_deleted(message_ids)
    if chat.avatar_file_id is not None:
        file_ids.append(chat.avatar_file_id)
    delete_stored_files(rt.storage, list(dict.fromkeys(file_ids)))
    events.chat_removed(rt, chat.id, list(dict.fromkeys(chat.former_members)))


def set_role(rt: Runtime, me: User, chat_id: str, user_id: str, role: str) -> dict[str, Any]:
    chat = rules.visible_chat(me, chat_id)
    rules.ensure_group(chat)
    message_events.ensure_announceable(rt)
    target_id = parse_object_id(user_id)
    if target_id is None:
        rules.ensure_owner(me, chat)
        raise not_found("No such member in this group.", "member_not_found")
    rules.role_target(me, chat, target_id)
    now = utcnow()

    def compute(current: Chat) -> Change | None:
        target = rules.role_target(me, current, target_id)
        if target.role == role:
            return None
        changed = _system_message(current.id, me.id, "role_changed", now, user_ids=[target_id], role=role)
        members = [_copy(m, role=role) if m.user_id == target_id else m for m in current.members]
        return Change(members, [changed])

    chat, change = _change_group(chat.id, compute)
    if change is not None:
        message_events.group_messages(rt, chat, me.id, change.system)
        events.chat_updated(rt, chat)
    return item(rt, me, chat, with_members=True)


def view_key(chat: Chat) -> str:
    """What presence records for a socket viewing a group (a direct chat is keyed by the other user)."""
    return f"chat:{chat.id}"


# --- opening a chat, typing ----------------------------------------------------------------------------


def open_chat(rt: Runtime, me: User, chat_id: str, sid: str) -> int:
    """socket `join-chat {chatId}`: read what waits, and (while viewing) what arrives."""
    chat = rules.visible_chat(me, chat_id)
    if not chat.is_group:
        return direct_chat.open_chat(rt, me, str(chat.other_participant(me.id)), sid)
    rules.ensure_member(me, chat)
    rt.presence.set_viewing(str(me.id), sid, view_key(chat))
    if chat.last_message_id is None:
        return 0
    return receipts.move_watermark(rt, me, chat, chat.last_message_id, read=True)


def close_chat(rt: Runtime, me: User, chat_id: str, sid: str) -> None:
    chat = rules.visible_chat(me, chat_id)
    if not chat.is_group:
        direct_chat.close_chat(rt, me, str(chat.other_participant(me.id)), sid)
        return
    rt.presence.stop_viewing(str(me.id), sid, view_key(chat))


def typing(rt: Runtime, me: User, chat_id: str, started: bool) -> None:
    """Typing by chat id: one RATELIMIT_TYPING budget per user, whichever way the chat is named."""
    chat = rules.visible_chat(me, chat_id)
    if not chat.is_group:
        direct_chat.send_typing(rt, me, str(chat.other_participant(me.id)), started)
        return
    rt.limiter.hit(rt.config["RATELIMIT_TYPING"], "typing", str(me.id))
    rules.ensure_member(me, chat)
    message_events.typing(rt, me, chat, started)


# --- my view of a chat: clear, pin, mute ---------------------------------------------------------------


def clear(rt: Runtime, me: User, chat_id: str) -> dict[str, Any]:
    chat = rules.visible_chat(me, chat_id)
    if not chat.is_group:
        return {"cleared": True, "deleted": direct_chat.clear_chat(rt, me, str(chat.other_participant(me.id)))}
    member = chat.member(me.id)
    newest = chat.last_message_id if member is None or member.is_current else member.until_id
    # a former member's clear takes the group off their list
    queries.clear_for(chat.id, me.id, newest, unlist=member is not None and not member.is_current)
    events.chat_cleared(rt, me, chat)
    return {"cleared": True, "deleted": False}


def pin(rt: Runtime, me: User, chat_id: str, pinned: bool) -> dict[str, Any]:
    chat = rules.visible_chat(me, chat_id)
    if not chat.is_group:
        other = str(chat.other_participant(me.id))
        if pinned:
            user_actions.pin(rt, me, other)
        else:
            user_actions.unpin(rt, me, other)
        return item(rt, me, chat)
    was = chat.id in me.pinned_group_chats
    queries.set_group_pin(me.id, chat.id, pinned)
    rt.sessions.user_changed(str(me.id))  # sockets' events read the user's document from the session cache
    me.reload("pinned_group_chats")
    if was != pinned:
        events.group_pin_changed(rt, me, chat, pinned)
    return item(rt, me, chat)


def mute(rt: Runtime, me: User, chat_id: str, until: datetime | None, muted: bool) -> dict[str, Any]:
    chat = rules.visible_chat(me, chat_id)
    if muted:
        if until is not None and until <= utcnow():
            raise bad_request(
                "until must be in the future (or null: until unmuted).",
                "validation_error",
                {"until": ["Must be a future time or null."]},
            )
        queries.set_mute(chat.id, me.id, until or MUTED_FOREVER)
    else:
        queries.set_mute(chat.id, me.id, None)
    chat.reload()
    return item(rt, me, chat)
