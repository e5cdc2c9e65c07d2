"""Small real files of each accepted type, and impostors, built in memory."""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (4, 3), exif: Any = None, color: Any = (200, 30, 30), mode: str = "RGB"
) -> bytes:
    """A real, decodable image (optionally with EXIF) made with Pillow."""
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.new(mode, size, color)
    params: dict[str, Any] = {"exif": exif} if exif is not None else {}
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


JPG = image_bytes("JPEG")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


ZIP = zip_bytes({"hello.txt": b"hello"})
DOCX = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
