"""Storing uploads, deleting stored files, and moving them between backends.

An upload goes through three steps, so that a refused request leaves nothing behind:
`prepare_upload` (size cap, type check, image decode, EXIF removal, thumbnail: all on temporary
files), then `store_prepared` (the uploader's quota is taken for every file of the request at once,
then the bytes are streamed to the storage backend and the records saved), or nothing at all.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from bson import ObjectId

from chatbox.errors import ApiError
from chatbox.files.images import NotAnImage, TooManyPixels, check_image
from chatbox.files.names import display_name
from chatbox.files.sniffing import IMAGE_MIME_TO_EXTENSION, FileType, UnsupportedFileType, identify
from chatbox.files.storage import BACKEND_DISK, BACKEND_GRIDFS, BlobMissing, BlobStore, FileStorage, TooLarge
from chatbox.models import StorageUsage, StoredFile

_DATA_URL = re.compile(r"^data:(?P<mime>[\w/+.-]+);base64,(?P<data>.*)$", re.DOTALL)


def _too_large(storage: FileStorage) -> ApiError:
    megabytes = storage.max_bytes // (1024 * 1024)
    return ApiError(413, f"Each file may be at most {megabytes} MB.", "file_too_large")


@dataclass
class Upload:
    """A file part of a request, not checked yet: `images_only` for the parts that must be JPG or PNG."""

    stream: BinaryIO
    filename: str
    images_only: bool = False


@dataclass
class PreparedUpload:
    """A checked upload on temporary files, not stored yet."""

    file_type: FileType
    name: str
    content: BinaryIO
    size: int
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    # Temporary files to close once stored or refused (the spooled upload, a re-encoding).
    temp_files: list[BinaryIO] = field(default_factory=list)

    def close(self) -> None:
        for stream in self.temp_files:
            stream.close()


def prepare_upload(storage: FileStorage, stream: BinaryIO, filename: str, images_only: bool = False) -> PreparedUpload:
    """Check size and content (images: a full decode) and make what is to be stored; nothing is kept."""
    try:
        spooled, size = storage.spool(stream)
    except TooLarge as exc:
        raise _too_large(storage) from exc
    prepared: PreparedUpload | None = None
    try:
        try:
            file_type = identify(filename, spooled, images_only=images_only)
        except UnsupportedFileType as exc:
            raise ApiError(415, str(exc), "unsupported_file_type") from exc
        prepared = PreparedUpload(file_type, display_name(filename, file_type.extension), spooled, size)
        prepared.temp_files.append(spooled)
        if file_type.kind == "image":
            _check_image(storage, prepared)
        return prepared
    except BaseException:
        if prepared is not None:
            prepared.close()
        else:
            spooled.close()
        raise


def _check_image(storage: FileStorage, prepared: PreparedUpload) -> None:
    try:
        image = check_image(
            prepared.content,
            prepared.size,
            prepared.file_type.extension,
            max_pixels=storage.max_image_pixels,
            thumb_side=storage.thumb_side,
            jpeg_quality=storage.jpeg_quality,
        )
    except TooManyPixels as exc:
        raise ApiError(
            413,
            f"Images may have at most {exc.limit:,} pixels.",
            "image_too_large",
            details={"maxPixels": exc.limit, **({"pixels": exc.pixels} if exc.pixels is not None else {})},
        ) from exc
    except NotAnImage as exc:
        extension = prepared.file_type.extension.upper()
        raise ApiError(415, f"The file is not a valid {extension} image.", "unsupported_file_type") from exc
    if image.reencoded:
        prepared.temp_files.append(image.content)
    prepared.content, prepared.size = image.content, image.size
    prepared.width, prepared.height, prepared.thumbnail = image.width, image.height, image.thumbnail


def prepare_image_data_url(storage: FileStorage, data_url: str) -> PreparedUpload:
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
    return prepare_upload(storage, io.BytesIO(raw), f"profile.{extension}", images_only=True)


def close_all(prepared: Iterable[PreparedUpload]) -> None:
    for upload in prepared:
        upload.close()


def _quota_exceeded(storage: FileStorage, user_id: ObjectId, wanted: int) -> ApiError:
    limit = storage.quota_bytes or 0
    used = StorageUsage.used_by(user_id)
    return ApiError(
        413,
        f"These files would take you past your storage quota of {limit // (1024 * 1024)} MB.",
        "quota_exceeded",
        details={"quotaBytes": limit, "usedBytes": used, "requestBytes": wanted},
    )


def store_prepared(
    storage: FileStorage, uploader_id: ObjectId, purpose: str, prepared: list[PreparedUpload]
) -> list[StoredFile]:
    """Take the uploader's quota for all of `prepared` at once, then store each file and its
    thumbnail in the configured backend; on any failure nothing of the request stays. Closes `prepared`."""
    try:
        wanted = sum(p.size for p in prepared)
        if wanted and not StorageUsage.take(uploader_id, wanted, storage.quota_bytes):
            raise _quota_exceeded(storage, uploader_id, wanted)
        records: list[StoredFile] = []
        try:
            for upload in prepared:
                records.append(_store_one(storage.primary, uploader_id, purpose, upload))
        except BaseException:
            # The records saved so far give back their own space; what was never recorded is given here.
            delete_stored_files(storage, [r.id for r in records])
            StorageUsage.give_back(uploader_id, wanted - sum(r.size for r in records))
            raise
        return records
    finally:
        close_all(prepared)


def store_uploads(storage: FileStorage, uploader_id: ObjectId, purpose: str, uploads: list[Upload]) -> list[StoredFile]:
    """Check every upload first, then store them all or none (quota included)."""
    prepared: list[PreparedUpload] = []
    try:
        for upload in uploads:
            prepared.append(prepare_upload(storage, upload.stream, upload.filename, upload.images_only))
    except BaseException:
        close_all(prepared)
        raise
    return store_prepared(storage, uploader_id, purpose, prepared)


def _store_one(store: BlobStore, uploader_id: ObjectId, purpose: str, upload: PreparedUpload) -> StoredFile:
    file_type = upload.file_type
    written: list[str] = []
    try:
        upload.content.seek(0)
        written.append(store.write(upload.content, f"upload.{file_type.extension}", file_type.mime_type))
        thumb_name = None
        if upload.thumbnail is not None:
            thumb_name = store.write(io.BytesIO(upload.thumbnail), f"thumb.{file_type.extension}", file_type.mime_type)
            written.append(thumb_name)
        record = StoredFile(
            uploader_id=uploader_id,
            purpose=purpose,
            kind=file_type.kind,
            name=upload.name,
            size=upload.size,
            mime_type=file_type.mime_type,
            backend=store.backend,
            storage_name=written[0],
            thumb_storage_name=thumb_name,
            width=upload.width,
            height=upload.height,
        )
        record.save(force_insert=True)
        return record
    except BaseException:
        for name in written:
            store.delete(name)
        raise


def store_upload(
    storage: FileStorage,
    uploader_id: ObjectId,
    stream: BinaryIO,
    filename: str,
    purpose: str,
    images_only: bool = False,
) -> StoredFile:
    """Check and store one upload (see the module's docstring)."""
    prepared = prepare_upload(storage, stream, filename, images_only=images_only)
    return store_prepared(storage, uploader_id, purpose, [prepared])[0]


def store_image_data_url(storage: FileStorage, uploader_id: ObjectId, data_url: str, purpose: str) -> StoredFile:
    return store_prepared(storage, uploader_id, purpose, [prepare_image_data_url(storage, data_url)])[0]


def delete_stored_files(storage: FileStorage, file_ids: list[ObjectId]) -> None:
    """Delete these files for good: their records, their bytes and thumbnails in whichever backend
    holds them, and give their space back to each uploader's quota. Ids already gone are skipped."""
    for file_id in dict.fromkeys(file_ids):
        record = StoredFile.remove(file_id)
        if record is None:
            continue
        store = storage.store_for(record.backend)
        store.delete(record.storage_name)
        if record.thumb_storage_name:
            store.delete(record.thumb_storage_name)
        StorageUsage.give_back(record.uploader_id, record.size)


@dataclass
class MigrationReport:
    moved: int = 0
    missing: list[str] = field(default_factory=list)


def move_disk_files_to_gridfs(storage: FileStorage) -> MigrationReport:
    """Copy every file (and thumbnail) still on disk into GridFS, point its record there, then
    remove the disk copy. Safe to run again, also after an interruption: a blob already copied is
    found by its disk name (GridFS keeps it as the filename) instead of being copied twice."""
    report = MigrationReport()
    for record in StoredFile.objects(backend__in=[None, BACKEND_DISK]):
        disk_names = [n for n in (record.storage_name, record.thumb_storage_name) if n]
        moved: dict[str, str] = {}
        for name in disk_names:
            existing = storage.gridfs.find_by_filename(name)
            if existing is not None:
                moved[name] = existing
                continue
            try:
                stream, _length = storage.disk.open(name)
            except BlobMissing:
                break
            with stream:
                moved[name] = storage.gridfs.write(stream, name, record.mime_type)
        if len(moved) < len(disk_names):
            report.missing.append(str(record.id))
            continue
        thumb = moved.get(record.thumb_storage_name) if record.thumb_storage_name else None
        StoredFile.objects(id=record.id, backend__in=[None, BACKEND_DISK]).update_one(
            set__backend=BACKEND_GRIDFS, set__storage_name=moved[record.storage_name], set__thumb_storage_name=thumb
        )
        for name in disk_names:
            storage.disk.delete(name)
        report.moved += 1
    return report
