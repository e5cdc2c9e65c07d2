"""Uploaded files on both storage backends: serving (length, ETag, 304, ranges), image checks with
Pillow (decode, pixel cap, EXIF, thumbnails), the per-user quota, and the disk-to-GridFS migration."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import tracemalloc
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import gevent
import pytest
import requests
from PIL import Image

from chatbox.files.storage import BlobStore
from tests.support.api import ApiClient, User
from tests.support.files import PDF, PNG, image_bytes
from tests.support.served import served_app
from tests.support.sockets import LiveApi
from tests.support.storage import NOTHING, stored_counts

MIB = 1024 * 1024
SAME_SECRET = {"JWT_SECRET_KEY": "files-test-secret-" + "x" * 32, "SECRET_KEY": "files-test-secret-" + "x" * 32}


@pytest.fixture(params=["gridfs", "disk"])
def storage_backend(request: pytest.FixtureRequest) -> str:
    """The whole suite runs on both storage backends."""
    return str(request.param)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims `width` x `height` grey pixels: what a decompression bomb looks
    like before it is decoded (its few compressed bytes would inflate to width x height bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\0" * (width + 1) * 16)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def exif_with_gps(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "SpyCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.0)  # GPSLatitudeRef, GPSLatitude
    gps[3], gps[4] = "E", (2.0, 17.0, 40.0)  # GPSLongitudeRef, GPSLongitude
    return exif


def two_colour_image(fmt: str, size: tuple[int, int], exif: Image.Exif | None = None) -> bytes:
    """Left half red, right half blue, so that a rotation shows in the pixels."""
    image = Image.new("RGB", size, (220, 0, 0))
    image.paste((0, 0, 220), (size[0] // 2, 0, size[0], size[1]))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


def noise_image(fmt: str, size: tuple[int, int]) -> bytes:
    """An image that does not compress: cut short, it is missing most of its pixels."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, fmt)
    return buffer.getvalue()


def send_files(api: ApiClient, sender: User, receiver: User, **parts: Any) -> Any:
    return api.post(f"/api/messages/send/{receiver.id}", sender, data=parts, content_type="multipart/form-data")


def send_image(api: ApiClient, sender: User, receiver: User, content: bytes, name: str = "photo.png") -> Any:
    return send_files(api, sender, receiver, images=[(io.BytesIO(content), name)])


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- serving ----------------------------------------------------------------------------------------


def test_a_file_is_served_with_length_etag_and_conditional_get(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    content = PDF + bytes(range(256)) * 2400  # about 600 KB: several GridFS chunks
    message = send_files(api, alice, bob, file=(io.BytesIO(content), "big.pdf")).get_json()
    url = message["file"]
    first = api.get(url, bob)
    assert first.status_code == 200 and first.data == content
    assert first.headers["Content-Length"] == str(len(content)) == str(message["attachments"][0]["size"])
    assert first.headers["Accept-Ranges"] == "bytes"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and "attachment" in first.headers["Content-Disposition"]
    # The security headers and private caching of every file answer.
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in first.headers["Content-Security-Policy"]
    assert "private" in first.headers["Cache-Control"] and "public" not in first.headers["Cache-Control"]
    again = api.get(url, bob, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    changed = api.get(url, bob, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.data == content
    since = api.get(url, bob, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    # Access rules come before any of it: a stranger learns nothing from a matching ETag.
    eve = api.signup("Eve")
    assert api.get(url, eve, headers={"If-None-Match": etag}).status_code == 403
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 401


def test_byte_ranges_resume_a_download(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    content = PDF + bytes(range(256)) * 2400
    size = len(content)
    url = send_files(api, alice, bob, file=(io.BytesIO(content), "big.pdf")).get_json()["file"]
    boundary = 255 * 1024  # a GridFS chunk boundary
    cases = {
        "bytes=0-9": (0, 10),
        f"bytes={boundary - 5}-{boundary + 4}": (boundary - 5, boundary + 5),
        f"bytes={size - 100}-": (size - 100, size),
        "bytes=-7": (size - 7, size),
        f"bytes=500-{size + 1000}": (500, size),
    }
    for header, (start, end) in cases.items():
        part = api.get(url, bob, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.data == content[start:end], header
        assert part.headers["Content-Length"] == str(end - start)
        assert part.headers["Content-Range"] == f"bytes {start}-{end - 1}/{size}"
    # A range that starts past the end: 416 with the length, as JSON like every error.
    outside = api.get(url, bob, headers={"Range": f"bytes={size}-"})
    assert outside.status_code == 416 and outside.headers["Content-Range"] == f"bytes */{size}"
    assert outside.get_json()["code"] == "requested_range_not_satisfiable" and outside.get_json()["message"]
    # What is not one byte range is ignored: the whole file.
    for header in ("bytes=0-1,5-6", "items=0-5", "garbage"):
        whole = api.get(url, bob, headers={"Range": header})
        assert whole.status_code == 200 and whole.data == content, header
    # If-Range with a stale validator gives the whole file, with the current one the range.
    etag = api.get(url, bob).headers["ETag"]
    assert api.get(url, bob, headers={"Range": "bytes=0-9", "If-Range": '"stale"'}).status_code == 200
    resumed = api.get(url, bob, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert resumed.status_code == 206 and resumed.data == content[10:20]
    # Ranges do not get around the access rules.
    assert api.get(url, api.signup("Eve"), headers={"Range": "bytes=0-9"}).status_code == 403


def test_a_large_file_is_streamed_in_pieces_never_held_whole(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    content = PDF + os.urandom(20 * MIB)
    url = send_files(api, alice, bob, file=(io.BytesIO(content), "big.pdf")).get_json()["file"]
    digest, received, sizes = hashlib.sha256(), 0, []
    tracemalloc.start()
    try:
        response = api.get(url, bob, buffered=False)
        for piece in response.response:
            digest.update(piece)
            received += len(piece)
            sizes.append(len(piece))
        response.close()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == len(content) and digest.digest() == hashlib.sha256(content).digest()
    assert len(sizes) > 50 and max(sizes) <= 255 * 1024
    # Serving 20 MB allocated a few chunks' worth at a time, never the file.
    assert peak < 4 * MIB, peak


# --- image checks -----------------------------------------------------------------------------------


def test_a_zero_filled_fake_png_is_refused_and_nothing_is_stored(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    signature = b"\x89PNG\r\n\x1a\n"
    header = signature + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100, 100, 8, 2, 0, 0, 0))
    fakes = {
        "signature then 25 MB of zeros": signature + b"\0" * (25 * MIB - len(signature)),
        "a valid header then zeros": header + b"\0" * 4096,
        "a truncated real PNG": noise_image("PNG", (300, 200))[:5000],
        "a truncated real JPEG": noise_image("JPEG", (300, 200))[:5000],
    }
    for label, content in fakes.items():
        name = "fake.jpg" if "JPEG" in label else "fake.png"
        response = send_image(api, alice, bob, content, name)
        assert response.status_code == 415, (label, response.get_json())
        assert response.get_json()["code"] == "unsupported_file_type"
        assert stored_counts(app) == NOTHING, label
    assert api.get(f"/api/messages/{bob.id}", alice).get_json() == []


def test_a_decompression_bomb_is_refused_before_decoding(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    limit = app.config["MAX_IMAGE_PIXELS"]
    assert limit == 40_000_000
    bombs = [
        png_claiming(100_000, 100_000),  # ten billion pixels: Pillow's own guard refuses it on opening
        png_claiming(8_000, 6_000),  # 48 million: between the limit and Pillow's error threshold
    ]
    for bomb, pixels in zip(bombs, (None, 48_000_000), strict=True):
        assert len(bomb) < 200_000
        response = send_image(api, alice, bob, bomb)
        assert response.status_code == 413, response.get_json()
        body = response.get_json()
        assert body["code"] == "image_too_large" and body["details"]["maxPixels"] == limit
        assert body["details"].get("pixels") == pixels
        assert stored_counts(app) == NOTHING
    # As a profile picture too, in either form.
    data_url = "data:image/png;base64," + base64.b64encode(bombs[0]).decode()
    assert api.put("/api/auth/update-profile", alice, json={"profilePic": data_url}).status_code == 413
    response = api.put("/api/auth/update-profile", alice, data={"profilePic": (io.BytesIO(bombs[1]), "me.png")})
    assert response.status_code == 413 and response.get_json()["code"] == "image_too_large"
    assert stored_counts(app) == NOTHING


def test_max_image_pixels_is_the_bound(app: Any, api: ApiClient) -> None:
    from chatbox import create_app
    from chatbox.files.images import configure_pillow

    small = create_app(
        {
            "UPLOAD_DIR": app.config["UPLOAD_DIR"],
            "STORAGE_BACKEND": app.config["STORAGE_BACKEND"],
            "MAX_IMAGE_PIXELS": 100 * 100,
            "RATELIMIT_ENABLED": False,
        }
    )
    try:
        assert Image.MAX_IMAGE_PIXELS == 100 * 100  # Pillow's own guard follows the setting
        client = ApiClient(small.test_client(use_cookies=False))
        alice, bob = client.signup("Alice"), client.signup("Bob")
        assert send_image(client, alice, bob, image_bytes("PNG", (100, 100))).status_code == 201
        refused = send_image(client, alice, bob, image_bytes("PNG", (101, 100)))
        assert refused.status_code == 413 and refused.get_json()["details"]["pixels"] == 10_100
    finally:
        configure_pillow(app.config["MAX_IMAGE_PIXELS"])  # the guard is process-wide


def test_exif_and_gps_are_removed_and_the_orientation_applied(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    for fmt, name in (("JPEG", "camera.jpg"), ("PNG", "screen.png")):
        # Orientation 6: the camera was turned; the picture must be turned 90° clockwise to stand up.
        original = two_colour_image(fmt, (40, 20), exif_with_gps(6))
        assert b"SpyCam" in original and opened(original).getexif().get_ifd(0x8825)
        response = send_image(api, alice, bob, original, name)
        assert response.status_code == 201, response.get_json()
        attachment = response.get_json()["attachments"][0]
        stored = api.get(attachment["url"], bob)
        assert stored.status_code == 200 and stored.data != original
        assert attachment["size"] == len(stored.data) == int(stored.headers["Content-Length"])
        image = opened(stored.data)
        assert image.format == fmt and len(image.getexif()) == 0 and "exif" not in image.info
        assert b"SpyCam" not in stored.data and b"Exif" not in stored.data
        # Upright: 20 wide, 40 high, the former left half (red) now on top.
        assert image.size == (20, 40) and (attachment["width"], attachment["height"]) == (20, 40)
        top, bottom = image.convert("RGB").getpixel((10, 5)), image.convert("RGB").getpixel((10, 35))
        assert top[0] > 150 and top[2] < 80 and bottom[2] > 150 and bottom[0] < 80
        thumb = opened(api.get(attachment["thumbUrl"], bob).data)
        assert thumb.size == (20, 40) and len(thumb.getexif()) == 0


def test_an_image_without_exif_is_stored_byte_for_byte(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    for content, name in ((two_colour_image("JPEG", (64, 48)), "a.jpg"), (two_colour_image("PNG", (64, 48)), "b.png")):
        attachment = send_image(api, alice, bob, content, name).get_json()["attachments"][0]
        assert api.get(attachment["url"], bob).data == content
        assert attachment["size"] == len(content) and (attachment["width"], attachment["height"]) == (64, 48)


def test_thumbnails_are_within_bounds_in_the_images_format(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    cases = [
        (image_bytes("PNG", (1000, 500)), "wide.png", "PNG", (320, 160)),
        (image_bytes("JPEG", (300, 1200)), "tall.jpg", "JPEG", (80, 320)),
        (image_bytes("PNG", (320, 320)), "square.png", "PNG", (320, 320)),
        (image_bytes("JPEG", (30, 20)), "small.jpg", "JPEG", (30, 20)),
        (image_bytes("PNG", (640, 480), mode="RGBA", color=(0, 0, 255, 100)), "clear.png", "PNG", (320, 240)),
    ]
    for content, name, fmt, size in cases:
        attachment = send_image(api, alice, bob, content, name).get_json()["attachments"][0]
        assert attachment["thumbUrl"] == f"/api/files/{attachment['_id']}/thumb"
        thumb = api.get(attachment["thumbUrl"], bob)
        assert thumb.status_code == 200 and thumb.mimetype == attachment["mimeType"]
        assert "inline" in thumb.headers["Content-Disposition"] and thumb.headers["ETag"]
        image = opened(thumb.data)
        assert image.format == fmt and image.size == size, name
        assert max(image.size) <= 320
    # A thumbnail has the image's access rules.
    eve = api.signup("Eve")
    assert api.get(attachment["thumbUrl"], eve).status_code == 403
    assert api.get(attachment["thumbUrl"]).status_code == 401
    assert api.get("/api/files/000000000000000000000000/thumb", bob).status_code == 404


def test_files_that_are_not_images_have_no_size_nor_thumbnail(app: Any, api: ApiClient) -> None:
    alice, bob = api.signup("Alice"), api.signup("Bob")
    attachment = send_files(api, alice, bob, file=(io.BytesIO(PDF), "doc.pdf")).get_json()["attachments"][0]
    assert attachment["width"] is None and attachment["height"] is None and attachment["thumbUrl"] is None
    missing = api.get(f"{attachment['url']}/thumb", bob)
    assert missing.status_code == 404 and missing.get_json()["code"] == "no_thumbnail"
    # The same fields come back in history.
    (stored,) = api.get(f"/api/messages/{bob.id}", alice).get_json()
    assert stored["attachments"][0] == attachment


def test_a_profile_picture_gets_a_thumbnail_any_signed_in_user_may_read(app: Any, api: ApiClient) -> None:
    gus, other = api.signup("Gus"), api.signup("Other")
    picture = image_bytes("PNG", (800, 600))
    user = api.put("/api/auth/update-profile", gus, data={"profilePic": (io.BytesIO(picture), "me.png")}).get_json()
    thumb = api.get(f"{user['profilePic']}/thumb", other)
    assert thumb.status_code == 200 and opened(thumb.data).size == (320, 240)
    assert api.get(f"{user['profilePic']}/thumb").status_code == 401
    # Replacing it deletes the old picture and its thumbnail.
    before = stored_counts(app)
    data_url = "data:image/jpeg;base64," + base64.b64encode(image_bytes("JPEG", (10, 10))).decode()
    replaced = api.put("/api/auth/update-profile", gus, json={"profilePic": data_url}).get_json()
    assert stored_counts(app) == before
    assert api.get(f"{user['profilePic']}/thumb", other).status_code == 404
    assert opened(api.get(f"{replaced['profilePic']}/thumb", other).data).size == (10, 10)


# --- quota --------------------------------------------------------------------------------------------


@pytest.fixture
def quota_app(app: Any) -> Iterator[Any]:
    """An app with a 1 MiB quota per user (the `app` fixture empties the database afterwards)."""
    from chatbox import create_app

    yield create_app(
        {
            "UPLOAD_DIR": app.config["UPLOAD_DIR"],
            "STORAGE_BACKEND": app.config["STORAGE_BACKEND"],
            "STORAGE_QUOTA_MB": 1,
            "RATELIMIT_ENABLED": False,
        }
    )


def pdf_of(size: int) -> bytes:
    return PDF + b"0" * (size - len(PDF))


def test_a_request_past_the_quota_is_refused_whole_and_space_comes_back(quota_app: Any) -> None:
    api = ApiClient(quota_app.test_client(use_cookies=False))
    alice, bob = api.signup("Alice"), api.signup("Bob")
    assert quota_app.extensions["chatbox"].storage.quota_bytes == MIB
    first = send_files(api, alice, bob, file=(io.BytesIO(pdf_of(600 * 1024)), "a.pdf"))
    assert first.status_code == 201
    counts = stored_counts(quota_app)
    # 3 images of 100 KB fit; with a file of 200 KB the request does not: nothing of it is kept.
    images = [(io.BytesIO(image_bytes("PNG", (4, 4)) + b"\0" * (100 * 1024)), f"{i}.png") for i in range(3)]
    refused = send_files(api, alice, bob, images=images, file=(io.BytesIO(pdf_of(200 * 1024)), "b.pdf"))
    assert refused.status_code == 413, refused.get_json()
    body = refused.get_json()
    assert body["code"] == "quota_exceeded" and body["details"]["quotaBytes"] == MIB
    assert body["details"]["usedBytes"] == 600 * 1024
    assert stored_counts(quota_app) == counts
    assert len(api.get(f"/api/messages/{bob.id}", alice).get_json()) == 1
    # Bob has his own quota; a profile picture counts against Alice's.
    assert send_files(api, bob, alice, file=(io.BytesIO(pdf_of(600 * 1024)), "c.pdf")).status_code == 201
    big_picture = image_bytes("PNG", (4, 4)) + b"\0" * (500 * 1024)
    response = api.put("/api/auth/update-profile", alice, data={"profilePic": (io.BytesIO(big_picture), "me.png")})
    assert response.status_code == 413 and response.get_json()["code"] == "quota_exceeded"
    # Once the chat is cleared by both sides its files are deleted for good and the space is free again.
    api.delete(f"/api/messages/chats/{bob.id}", alice)
    api.delete(f"/api/messages/chats/{alice.id}", bob)
    assert stored_counts(quota_app) == NOTHING
    assert send_files(api, alice, bob, file=(io.BytesIO(pdf_of(1000 * 1024)), "d.pdf")).status_code == 201


def test_the_quota_counts_the_stored_size_not_the_uploaded_one(quota_app: Any) -> None:
    from chatbox.models import StorageUsage

    api = ApiClient(quota_app.test_client(use_cookies=False))
    alice, bob = api.signup("Alice"), api.signup("Bob")
    # EXIF padded to 60 KB: the stored image without it is much smaller.
    exif = exif_with_gps(1)
    exif[0x010E] = "x" * 60_000  # ImageDescription
    original = two_colour_image("JPEG", (64, 64), exif)
    attachment = send_image(api, alice, bob, original, "big-exif.jpg").get_json()["attachments"][0]
    assert attachment["size"] < len(original) - 50_000
    from bson import ObjectId

    assert StorageUsage.used_by(ObjectId(alice.id)) == attachment["size"]


class YieldingStore(BlobStore):
    """The app's own backend, but every write first lets other requests run, as a write to a remote
    MongoDB does (the embedded database never yields): a check-then-store quota would let them all in."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.backend = inner.backend

    def write(self, source: BinaryIO, filename: str, content_type: str) -> str:
        gevent.sleep(0.01)
        return self.inner.write(source, filename, content_type)

    def open(self, name: str) -> tuple[BinaryIO, int]:
        return self.inner.open(name)

    def delete(self, name: str) -> None:
        self.inner.delete(name)


def test_the_quota_holds_under_concurrent_uploads(app: Any, tmp_path: Path) -> None:
    size = 300 * 1024  # three fit in 1 MiB, four do not
    config = {"STORAGE_QUOTA_MB": 1, "STORAGE_BACKEND": app.config["STORAGE_BACKEND"]}
    with served_app(tmp_path / "served", config) as (served, url):
        storage = served.extensions["chatbox"].storage
        storage.primary = YieldingStore(storage.primary)
        live = LiveApi(url)
        alice, bob = live.signup("Alice"), live.signup("Bob")

        def upload(index: int) -> int:
            response = requests.post(
                f"{url}/api/messages/send/{bob.id}",
                headers={"Authorization": f"Bearer {alice.token}"},
                files={"file": (f"{index}.pdf", pdf_of(size), "application/pdf")},
                timeout=60,
            )
            return response.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = sorted(pool.map(upload, range(8)))
        assert statuses == [201] * 3 + [413] * 5
        from bson import ObjectId

        from chatbox.models import StorageUsage, StoredFile

        assert StorageUsage.used_by(ObjectId(alice.id)) == 3 * size
        assert StoredFile.objects(uploader_id=ObjectId(alice.id)).count() == 3
        counts = stored_counts(served)
        if served.config["STORAGE_BACKEND"] == "gridfs":
            assert counts["gridfsFiles"] == 3 and counts["diskFiles"] == 0
        else:
            assert counts["diskFiles"] == 3 and counts["gridfsFiles"] == 0


# --- the migration --------------------------------------------------------------------------------------


def test_files_on_disk_move_to_gridfs_and_the_command_is_safe_to_run_twice(app: Any, tmp_path: Path) -> None:
    from chatbox import create_app

    base = {"UPLOAD_DIR": str(tmp_path / "old-uploads"), "RATELIMIT_ENABLED": False, **SAME_SECRET}
    on_disk = create_app({**base, "STORAGE_BACKEND": "disk"})
    old = ApiClient(on_disk.test_client(use_cookies=False))
    alice, bob = old.signup("Alice"), old.signup("Bob")
    photo = image_bytes("JPEG", (500, 400))
    sent = send_files(old, alice, bob, images=[(io.BytesIO(photo), "p.jpg")], file=(io.BytesIO(PDF), "d.pdf"))
    attachments = sent.get_json()["attachments"]  # one image and one file: one message
    assert stored_counts(on_disk) == {"gridfsFiles": 0, "gridfsChunks": 0, "diskFiles": 3}

    on_gridfs = create_app({**base, "STORAGE_BACKEND": "gridfs"})
    result = on_gridfs.test_cli_runner().invoke(args=["files", "migrate-to-gridfs"])
    assert result.exit_code == 0 and "moved to GridFS: 2 file(s)" in result.output
    counts = stored_counts(on_gridfs)
    assert counts["diskFiles"] == 0 and counts["gridfsFiles"] == 3
    again = on_gridfs.test_cli_runner().invoke(args=["files", "migrate-to-gridfs"])
    assert again.exit_code == 0 and "moved to GridFS: 0 file(s)" in again.output
    assert stored_counts(on_gridfs) == counts

    new = ApiClient(on_gridfs.test_client(use_cookies=False))
    served = {a["name"]: new.get(a["url"], bob).data for a in attachments}
    assert served == {"p.jpg": photo, "d.pdf": PDF}
    image = next(a for a in attachments if a["kind"] == "image")
    assert opened(new.get(image["thumbUrl"], bob).data).size == (320, 256)


def test_an_interrupted_migration_finishes_without_copying_twice(app: Any, tmp_path: Path) -> None:
    from chatbox import create_app
    from chatbox.models import StoredFile

    base = {"UPLOAD_DIR": str(tmp_path / "old-uploads"), "RATELIMIT_ENABLED": False, **SAME_SECRET}
    on_disk = create_app({**base, "STORAGE_BACKEND": "disk"})
    old = ApiClient(on_disk.test_client(use_cookies=False))
    alice, bob = old.signup("Alice"), old.signup("Bob")
    url = send_files(old, alice, bob, file=(io.BytesIO(PDF), "d.pdf")).get_json()["file"]
    # Interrupted after copying the bytes, before the record was switched over.
    record = StoredFile.objects.get()
    storage = on_disk.extensions["chatbox"].storage
    with open(storage.disk.path(record.storage_name), "rb") as source:
        storage.gridfs.write(source, record.storage_name, record.mime_type)
    on_gridfs = create_app({**base, "STORAGE_BACKEND": "gridfs"})
    result = on_gridfs.test_cli_runner().invoke(args=["files", "migrate-to-gridfs"])
    assert "moved to GridFS: 1 file(s)" in result.output
    assert stored_counts(on_gridfs)["gridfsFiles"] == 1 and stored_counts(on_gridfs)["diskFiles"] == 0
    assert ApiClient(on_gridfs.test_client(use_cookies=False)).get(url, bob).data == PDF


def test_a_file_whose_bytes_are_gone_is_404_not_500(app: Any, api: ApiClient) -> None:
    from chatbox.models import StoredFile

    alice, bob = api.signup("Alice"), api.signup("Bob")
    url = send_image(api, alice, bob, PNG).get_json()["image"]
    record = StoredFile.objects.get()
    app.extensions["chatbox"].storage.primary.delete(record.storage_name)
    response = api.get(url, bob)
    assert response.status_code == 404 and response.get_json()["code"] == "file_missing"


def test_files_stored_before_usage_was_counted_count_from_the_first_new_upload(quota_app: Any) -> None:
    from bson import ObjectId

    from chatbox.models import StorageUsage

    api = ApiClient(quota_app.test_client(use_cookies=False))
    alice, bob = api.signup("Alice"), api.signup("Bob")
    assert send_files(api, alice, bob, file=(io.BytesIO(pdf_of(700 * 1024)), "old.pdf")).status_code == 201
    # As on a deployment upgraded from a version without quotas: files exist, no usage is counted.
    StorageUsage.objects(user_id=ObjectId(alice.id)).delete()
    refused = send_files(api, alice, bob, file=(io.BytesIO(pdf_of(400 * 1024)), "new.pdf"))
    assert refused.status_code == 413 and refused.get_json()["details"]["usedBytes"] == 700 * 1024
    assert send_files(api, alice, bob, file=(io.BytesIO(pdf_of(300 * 1024)), "fits.pdf")).status_code == 201
    assert StorageUsage.used_by(ObjectId(alice.id)) == 1000 * 1024


@pytest.mark.parametrize(
    ("mode", "fmt", "color"),
    [
        ("P", "PNG", 3),
        ("LA", "PNG", (100, 50)),
        ("RGBA", "PNG", (1, 2, 3, 4)),
        ("I;16", "PNG", 40000),
        ("1", "PNG", 1),
        ("L", "JPEG", 128),
        ("CMYK", "JPEG", (10, 20, 30, 40)),
    ],
)
def test_every_image_mode_is_checked_reencoded_and_thumbnailed(mode: str, fmt: str, color: Any) -> None:
    from chatbox.files.images import check_image

    image = Image.new(mode, (700, 350), color)
    extension = "png" if fmt == "PNG" else "jpg"
    for exif in (None, exif_with_gps(8)):
        buffer = io.BytesIO()
        image.save(buffer, fmt, **({"exif": exif} if exif is not None else {}))
        content = buffer.getvalue()
        checked = check_image(io.BytesIO(content), len(content), extension, 40_000_000, 320, 90)
        stored = checked.content.read()
        assert checked.size == len(stored) and checked.reencoded is (exif is not None)
        assert (checked.width, checked.height) == ((350, 700) if exif is not None else (700, 350))
        assert opened(stored).format == fmt and len(opened(stored).getexif()) == 0
        thumb = opened(checked.thumbnail)
        assert thumb.format == fmt and max(thumb.size) == 320


def test_storage_settings_are_read_and_checked() -> None:
    from chatbox.files.storage import FileStorage
    from config import ConfigError, build_config

    defaults = build_config({"CHATBOX_ENV": "testing"})
    assert defaults["STORAGE_BACKEND"] == "gridfs" and defaults["MAX_IMAGE_PIXELS"] == 40_000_000
    assert defaults["STORAGE_QUOTA_MB"] == 1024
    assert FileStorage.from_config(defaults).quota_bytes == 1024 * MIB
    chosen = build_config({"CHATBOX_ENV": "testing", "STORAGE_BACKEND": "Disk", "STORAGE_QUOTA_MB": "0"})
    storage = FileStorage.from_config(chosen)
    assert storage.backend == "disk" and storage.quota_bytes is None  # 0: no quota
    for name, value in (("STORAGE_BACKEND", "s3"), ("MAX_IMAGE_PIXELS", "0"), ("STORAGE_QUOTA_MB", "-1")):
        with pytest.raises(ConfigError, match=name):
            build_config({"CHATBOX_ENV": "testing", name: value})


def test_a_retry_that_loses_the_race_keeps_none_of_its_files(
    app: Any, api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sends with one clientMessageId at once: both pass the early retry check and store their
    files; the unique index lets one message in, and the other request's files must not stay behind."""
    from bson import ObjectId

    from chatbox.messages.actions import send as service
    from chatbox.models import StorageUsage

    alice, bob = api.signup("Alice"), api.signup("Bob")
    first = send_files(api, alice, bob, clientMessageId="same", file=(io.BytesIO(pdf_of(50_000)), "a.pdf"))
    assert first.status_code == 201
    counts = stored_counts(app)
    real = service._existing_send
    calls: list[int] = []

    def misses_the_first_time(*args: Any) -> Any:
        calls.append(1)
        return [] if len(calls) == 1 else real(*args)

    monkeypatch.setattr(service, "_existing_send", misses_the_first_time)
    retry = send_files(api, alice, bob, clientMessageId="same", file=(io.BytesIO(pdf_of(50_000)), "a.pdf"))
    assert retry.status_code == 200 and retry.get_json()["_id"] == first.get_json()["_id"]
    assert stored_counts(app) == counts
    assert StorageUsage.used_by(ObjectId(alice.id)) == 50_000
