"""Where uploaded bytes live: MongoDB's GridFS (every process and restart sees them) or a local folder.

Both backends store a checked upload under a generated name and hand it back as a seekable stream
that is read in chunks, so serving a 25 MB file never holds it in memory. The client's file name is
only metadata (kept on the `StoredFile` record).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, BinaryIO

import gridfs
from bson import ObjectId
from bson.errors import InvalidId
from mongoengine.connection import get_db

CHUNK = 1 << 16
BACKEND_GRIDFS = "gridfs"
BACKEND_DISK = "disk"
BACKENDS = (BACKEND_GRIDFS, BACKEND_DISK)
# GridFS's default chunk size (255 KiB): big enough to keep the chunk count low, small enough
# for MongoDB's 16 MB document limit by far. Reads while serving go one such chunk at a time.
GRIDFS_CHUNK_BYTES = 255 * 1024


class TooLarge(Exception):
    pass


class BlobMissing(Exception):
    """The record exists but its bytes do not (deleted by hand, or a half-finished migration)."""


class BlobStore(ABC):
    """One backend: write a stream under a new name, open it for reading, delete it."""

    backend: str

    @abstractmethod
    def write(self, source: BinaryIO, filename: str, content_type: str) -> str:
        """Copy `source` in chunks into a new blob and return its storage name; on failure nothing is left."""

    @abstractmethod
    def open(self, name: str) -> tuple[BinaryIO, int]:
        """A seekable stream over the blob and its length; raises BlobMissing."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the blob; a blob already gone is not an error."""


class DiskStore(BlobStore):
    backend = BACKEND_DISK

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, name: str) -> str:
        # Generated names never contain separators; basename guards against a tampered record.
        return os.path.join(self.root, os.path.basename(name))

    def write(self, source: BinaryIO, filename: str, content_type: str) -> str:
        os.makedirs(self.root, exist_ok=True)
        extension = os.path.splitext(filename)[1]
        name = f"{secrets.token_hex(16)}{extension}"
        path = self.path(name)
        try:
            with open(path, "xb") as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
        except BaseException:
            self.delete(name)
            raise
        return name

    def open(self, name: str) -> tuple[BinaryIO, int]:
        try:
            stream = open(self.path(name), "rb")  # noqa: SIM115 - the response closes it
        except FileNotFoundError as exc:
            raise BlobMissing(name) from exc
        return stream, os.fstat(stream.fileno()).st_size

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path(name))

    def names(self) -> list[str]:
        """Stored blobs (what a test or an operator may count); temporary files are not kept here."""
        try:
            return sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []


class GridFSStore(BlobStore):
    """Blobs in the database's `fs.files` / `fs.chunks` collections; the storage name is the file's id.

    Deletion goes through `gridfs.GridFS.delete` (same collections as the bucket): the embedded
    database's GridFS support (mongomock) fails on `GridFSBucket.delete`.
    """

    backend = BACKEND_GRIDFS

    def _bucket(self) -> gridfs.GridFSBucket:
        return gridfs.GridFSBucket(get_db(), chunk_size_bytes=GRIDFS_CHUNK_BYTES)

    def write(self, source: BinaryIO, filename: str, content_type: str) -> str:
        file_id = ObjectId()
        upload = self._bucket().open_upload_stream_with_id(file_id, filename, metadata={"contentType": content_type})
        try:
            while chunk := source.read(CHUNK):
                upload.write(chunk)
        except BaseException:
            upload.abort()  # removes the chunks written so far
            raise
        upload.close()
        return str(file_id)

    def open(self, name: str) -> tuple[BinaryIO, int]:
        try:
            stream = self._bucket().open_download_stream(ObjectId(name))
        except (gridfs.errors.NoFile, InvalidId, TypeError) as exc:
            raise BlobMissing(name) from exc
        return stream, int(stream.length)  # type: ignore[return-value]

    def delete(self, name: str) -> None:
        with contextlib.suppress(InvalidId, TypeError, gridfs.errors.NoFile):
            gridfs.GridFS(get_db()).delete(ObjectId(name))

    def find_by_filename(self, filename: str) -> str | None:
        """A complete blob stored under this filename (GridFS indexes `filename`), for the migration."""
        found = get_db()["fs.files"].find_one({"filename": filename}, {"_id": 1})
        return str(found["_id"]) if found else None


class FileStorage:
    """The app's storage: new files go to the configured backend; each record says where its bytes are."""

    def __init__(
        self,
        backend: str,
        upload_dir: str,
        max_bytes: int,
        max_image_pixels: int = 40_000_000,
        quota_bytes: int | None = None,
        thumb_side: int = 320,
        jpeg_quality: int = 90,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown storage backend {backend!r}")
        self.max_bytes = max_bytes
        self.max_image_pixels = max_image_pixels
        self.quota_bytes = quota_bytes  # None: no quota
        self.thumb_side = thumb_side
        self.jpeg_quality = jpeg_quality
        self.disk = DiskStore(upload_dir)
        self.gridfs = GridFSStore()
        self.primary: BlobStore = self.gridfs if backend == BACKEND_GRIDFS else self.disk

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FileStorage:
        return cls(
            config["STORAGE_BACKEND"],
            config["UPLOAD_DIR"],
            config["MAX_UPLOAD_BYTES"],
            max_image_pixels=config["MAX_IMAGE_PIXELS"],
            quota_bytes=config["STORAGE_QUOTA_MB"] * 1024 * 1024 or None,
            thumb_side=config["THUMBNAIL_MAX_SIDE"],
            jpeg_quality=config["JPEG_QUALITY"],
        )

    @property
    def backend(self) -> str:
        return self.primary.backend

    def store_for(self, backend: str | None) -> BlobStore:
        # Records written before the storage choice existed are on disk.
        return self.gridfs if backend == BACKEND_GRIDFS else self.disk

    def spool(self, source: BinaryIO) -> tuple[BinaryIO, int]:
        """Copy an incoming stream to a temporary file, refusing it once it passes the size cap."""
        spooled = tempfile.TemporaryFile()  # noqa: SIM115 - returned open to the caller
        size = 0
        try:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise TooLarge
                spooled.write(chunk)
        except BaseException:
            spooled.close()
            raise
        spooled.seek(0)
        return spooled, size
