"""Uploaded bytes on disk under generated names; the client's file name is only metadata."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from typing import BinaryIO

CHUNK = 1 << 16


class TooLarge(Exception):
    pass


class FileStorage:
    def __init__(self, root: str, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        os.makedirs(root, exist_ok=True)

    def spool(self, source: BinaryIO) -> tuple[BinaryIO, int]:
        """Copy an incoming stream to a temporary file, refusing it once it passes the size cap."""
        spooled = tempfile.TemporaryFile(dir=self.root)  # noqa: SIM115 - returned open to the caller
        size = 0
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                spooled.close()
                raise TooLarge
            spooled.write(chunk)
        spooled.seek(0)
        return spooled, size

    def keep(self, spooled: BinaryIO, extension: str) -> str:
        """Write a checked upload under a fresh random name and return that name."""
        name = f"{secrets.token_hex(16)}.{extension}"
        with open(self.path(name), "xb") as target:
            spooled.seek(0)
            while chunk := spooled.read(CHUNK):
                target.write(chunk)
        return name

    def path(self, storage_name: str) -> str:
        # Generated names never contain separators; basename guards against a tampered record.
        return os.path.join(self.root, os.path.basename(storage_name))

    def delete(self, storage_name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path(storage_name))
