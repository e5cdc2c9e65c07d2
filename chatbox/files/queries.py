"""Opening a stored file for reading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from chatbox.errors import not_found
from chatbox.files import rules
from chatbox.files.storage import BlobMissing, FileStorage
from chatbox.models import StoredFile, User
from chatbox.models.ids import parse_object_id


@dataclass
class OpenedFile:
    record: StoredFile
    stream: BinaryIO
    length: int


def readable_file(storage: FileStorage, user: User, file_id: str, thumbnail: bool = False) -> OpenedFile:
    """The file (or its thumbnail), opened for reading, if `user` may read it (files.rules)."""
    oid = parse_object_id(file_id)
    record = StoredFile.objects(id=oid).first() if oid else None
    if record is None:
        raise not_found("No such file.")
    rules.ensure_may_read(user, record)
    name = record.thumb_storage_name if thumbnail else record.storage_name
    if name is None:
        raise not_found("This file has no thumbnail.", "no_thumbnail")
    try:
        stream, length = storage.store_for(record.backend).open(name)
    except BlobMissing as exc:
        raise not_found("The file's content is missing.", "file_missing") from exc
    return OpenedFile(record, stream, length)
