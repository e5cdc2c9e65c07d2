"""Image checks with Pillow: decode before accepting, bound the pixels, drop EXIF, make a thumbnail."""

from __future__ import annotations

import io
import tempfile
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps

# Pillow names the formats it decodes; our extensions map onto these.
PILLOW_FORMATS = {"jpg": "JPEG", "png": "PNG"}
# Kept on a re-encoded image: how to show its colours and its transparency, nothing about its origin.
_KEPT_INFO = ("icc_profile", "transparency")


class NotAnImage(Exception):
    """Not a decodable image of the declared format."""


class TooManyPixels(Exception):
    """`pixels` is None when Pillow's own guard refused the image on opening (over twice the limit)."""

    def __init__(self, pixels: int | None, limit: int) -> None:
        super().__init__(f"{pixels} pixels, limit {limit}")
        self.pixels = pixels
        self.limit = limit


@dataclass
class CheckedImage:
    """What an accepted image becomes: the bytes to store (the upload itself, or a re-encoding
    without EXIF), its upright size, and a thumbnail."""

    content: BinaryIO
    size: int
    width: int
    height: int
    thumbnail: bytes
    reencoded: bool


def configure_pillow(max_pixels: int) -> None:
    """Pillow's own decompression-bomb guard refuses, before decoding, anything over twice its
    limit; with the limit set to MAX_IMAGE_PIXELS it warns between one and two times the limit,
    where `check_image` refuses by its own count. The warning is therefore noise here."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _carries_exif(image: Image.Image) -> bool:
    return bool(image.info.get("exif")) or len(image.getexif()) > 0


def _encode(image: Image.Image, pillow_format: str, target: BinaryIO, quality: int) -> None:
    if pillow_format == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        image.save(target, "JPEG", quality=quality)
    else:
        image.save(target, "PNG")


def _without_metadata(image: Image.Image) -> Image.Image:
    # Pillow copies `info` onto derived images and its encoders write some of it back (a JPEG's
    # XMP packet and comment, a PNG's EXIF): start from what we choose to keep.
    image.info = {key: value for key, value in image.info.items() if key in _KEPT_INFO}
    return image


def check_image(
    stream: BinaryIO,
    size: int,
    extension: str,
    max_pixels: int,
    thumb_side: int,
    jpeg_quality: int,
) -> CheckedImage:
    """Decode the upload in full; refuse what does not decode or is too big; re-encode only when it
    carries EXIF (orientation applied to the pixels, metadata dropped)."""
    pillow_format = PILLOW_FORMATS[extension]
    stream.seek(0)
    try:
        # Opening reads the header only; Pillow's guard refuses more than twice the limit here.
        image = Image.open(stream, formats=[pillow_format])
        pixels = image.width * image.height
        if pixels > max_pixels:
            raise TooManyPixels(pixels, max_pixels)
        image.load()
        exif = _carries_exif(image)
        if exif:
            image = ImageOps.exif_transpose(image)  # a new, upright image; the decoded one is dropped
    except TooManyPixels:
        raise
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(None, max_pixels) from exc
    except Exception as exc:  # Pillow reports a malformed file through many exception types
        raise NotAnImage(str(exc)) from exc
    stream.seek(0)

    content: BinaryIO = stream
    stored_size = size
    width, height = image.size
    _without_metadata(image)
    if exif:
        content = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
        _encode(image, pillow_format, content, jpeg_quality)
        stored_size = content.tell()
        content.seek(0)

    image.thumbnail((thumb_side, thumb_side))  # in place: no second full-size copy
    buffer = io.BytesIO()
    _encode(image, pillow_format, buffer, jpeg_quality)
    return CheckedImage(
        content=content,
        size=stored_size,
        width=width,
        height=height,
        thumbnail=buffer.getvalue(),
        reencoded=exif,
    )
