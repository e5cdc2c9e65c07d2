"""Storing uploads and deciding who may read them."""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import BinaryIO

from bson import ObjectId

from chatbox.errors import ApiError, forbidden, not_found
from chatbox.files.sniffing import IMAGE_MIME_TO_EXTENSION, UnsupportedFileType, identify
from chatbox.files.storage import FileStorage, TooLarge
from chatbox.models import Chat, StoredFile, User
from chatbox.models.ids import parse_object_id
from chatbox.models.stored_file import PURPOSE_AVATAR

_DATA_URL = re.compile(r"^data:(?P<mime>[\w/+.-]+);base64,(?P<data>.*)$", re.DOTALL)


def _too_large(storage: FileStorage) -> ApiError:
    megabytes = storage.max_bytes // (1024 * 1024)
    return ApiError(413, f"Each file may be at most {megabytes} MB.", "file_too_large")


def store_upload(
    storage: FileStorage,
    uploader_id: ObjectId,
    stream: BinaryIO,
    filename: str,
    purpose: str,
    images_only: bool = False,
) -> StoredFile:
    """Check size and content, write the bytes under a generated name, record the metadata."""
    try:
        spooled, size = storage.spool(stream)
    except TooLarge as exc:
        raise _too_large(storage) from exc
    with spooled:
        try:
            file_type = identify(filename, spooled, images_only=images_only)
        except UnsupportedFileType as exc:
            raise ApiError(415, str(exc), "unsupported_file_type") from exc
        storage_name = storage.keep(spooled, file_type.extension)
    display_name = (filename or f"upload.{file_type.extension}").replace("\\", "/").rsplit("/", 1)[-1][:255]
    record = StoredFile(
        uploader_id=uploader_id,
        purpose=purpose,
        kind=file_type.kind,
        name=display_name or f"upload.{file_type.extension}",
        size=size,
        mime_type=file_type.mime_type,
        storage_name=storage_name,
    )
    try:
        record.save()
    except Exception:
        storage.delete(storage_name)
        raise
    return record


def store_image_data_url(storage: FileStorage, uploader_id: ObjectId, data_url: str, purpose: str) -> StoredFile:
    match = _DATA_URL.match(data_url)
    if not match:
        raise ApiError(400, "profilePic must be a base64 data URL of a JPG or PNG image.", "invalid_data_url")
    extension = IMAGE_MIME_TO_EXTENSION.get(match["mime"].lower())
    if extension is None:
        raise ApiError(415, "Only JPG and PNG images are allowed.", "unsupported_file_type")
    if len(match["data"]) > storage.max_bytes * 4 // 3 + 4:
        raise _too_large(storage)
    try:
        raw = base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "profilePic is not valid base64.", "invalid_data_url") from exc
    return store_upload(storage, uploader_id, io.BytesIO(raw), f"profile.{extension}", purpose, images_only=True)


def delete_stored_files(storage: FileStorage, file_ids: list[ObjectId]) -> None:
    if not file_ids:
        return
    records = list(StoredFile.objects(id__in=file_ids).only("storage_name"))
    StoredFile.objects(id__in=file_ids).delete()
    for record in records:
        storage.delete(record.storage_name)


def readable_file(storage: FileStorage, user: User, file_id: str) -> tuple[StoredFile, str]:
    """The file record and its path, if `user` may read it: uploader, chat participants, or any avatar."""
    oid = parse_object_id(file_id)
    record = StoredFile.objects(id=oid).first() if oid else None
    if record is None:
        raise not_found("No such file.")
    allowed = record.uploader_id == user.id or record.purpose == PURPOSE_AVATAR
    if not allowed and record.chat_id is not None:
        allowed = Chat.objects(id=record.chat_id, participants=user.id).count() > 0
    if not allowed:
        raise forbidden("You may not read this file.")
    return record, storage.path(record.storage_name)
