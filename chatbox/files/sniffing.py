"""Which uploads we accept, and whether a file's bytes really are what its extension claims."""

from __future__ import annotations

import codecs
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import filetype

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
HEAD_BYTES = 8192


@dataclass(frozen=True)
class FileType:
    extension: str
    mime_type: str
    kind: str  # "image" or "file"


def _sniffed_as(mime: str) -> Callable[[BinaryIO, bytes], bool]:
    def check(_stream: BinaryIO, head: bytes) -> bool:
        guess = filetype.guess(head)
        return guess is not None and guess.mime == mime

    return check


def _ole_compound(_stream: BinaryIO, head: bytes) -> bool:
    # Legacy Office files are OLE compound documents; filetype's finer DOC/XLS checks miss files
    # written by other suites, so the container signature is what we insist on.
    return head.startswith(OLE_SIGNATURE)


def _zip_with(member: str | None) -> Callable[[BinaryIO, bytes], bool]:
    def check(stream: BinaryIO, head: bytes) -> bool:
        if not head.startswith(b"PK"):
            return False
        stream.seek(0)
        try:
            with zipfile.ZipFile(stream) as archive:
                return member is None or member in archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return False
        finally:
            stream.seek(0)

    return check


def _plain_text(stream: BinaryIO, head: bytes) -> bool:
    if filetype.guess(head) is not None:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    stream.seek(0)
    try:
        while chunk := stream.read(1 << 16):
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        stream.seek(0)
    return True


_RULES: dict[str, tuple[FileType, Callable[[BinaryIO, bytes], bool]]] = {
    "jpg": (FileType("jpg", "image/jpeg", "image"), _sniffed_as("image/jpeg")),
    "jpeg": (FileType("jpg", "image/jpeg", "image"), _sniffed_as("image/jpeg")),
    "png": (FileType("png", "image/png", "image"), _sniffed_as("image/png")),
    "pdf": (FileType("pdf", "application/pdf", "file"), _sniffed_as("application/pdf")),
    "doc": (FileType("doc", "application/msword", "file"), _ole_compound),
    "xls": (FileType("xls", "application/vnd.ms-excel", "file"), _ole_compound),
    "docx": (
        FileType("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "file"),
        _zip_with("word/document.xml"),
    ),
    "xlsx": (
        FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "file"),
        _zip_with("xl/workbook.xml"),
    ),
    "zip": (FileType("zip", "application/zip", "file"), _zip_with(None)),
    "txt": (FileType("txt", "text/plain", "file"), _plain_text),
    "csv": (FileType("csv", "text/csv", "file"), _plain_text),
}

IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png"})
IMAGE_MIME_TO_EXTENSION = {"image/jpeg": "jpg", "image/jpg": "jpg", "image/png": "png"}


class UnsupportedFileType(Exception):
    pass


def extension_of(filename: str) -> str:
    return os.path.splitext(filename)[1].lstrip(".").lower()


def identify(filename: str, stream: BinaryIO, images_only: bool = False) -> FileType:
    """Return the file's type, or raise UnsupportedFileType when the extension or content is wrong."""
    extension = extension_of(filename)
    if extension not in _RULES or (images_only and extension not in IMAGE_EXTENSIONS):
        raise UnsupportedFileType(
            f"Files of type '.{extension}' are not allowed." if extension else "The file has no extension."
        )
    file_type, matches = _RULES[extension]
    stream.seek(0)
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    if not matches(stream, head):
        raise UnsupportedFileType(f"The file's content is not a valid .{extension} file.")
    return file_type
