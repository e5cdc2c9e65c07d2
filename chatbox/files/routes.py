from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Response, request, send_file
from werkzeug.http import parse_range_header
from werkzeug.wsgi import FileWrapper

from chatbox.api import Blueprint
from chatbox.auth.guard import auth_required, current_user
from chatbox.files.queries import OpenedFile, readable_file
from chatbox.runtime import runtime

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

blp = Blueprint("files", __name__, url_prefix="/api/files", description="Uploaded files")


FILE_MEDIA_TYPES = (
    "image/jpeg",
    "image/png",
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/zip",
    "text/plain",
    "text/csv",
)
BINARY = {"schema": {"type": "string", "format": "binary"}}
BYTES_HEADERS = {
    "ETag": {"description": "Strong validator; files never change", "schema": {"type": "string"}},
    "Content-Length": {"description": "Bytes in this answer", "schema": {"type": "integer"}},
    "Accept-Ranges": {"description": "`bytes`", "schema": {"type": "string"}},
}
RANGE_RESPONSES = {
    "206": {
        "description": "The byte range asked for with `Range: bytes=start-end` (one range), with `Content-Range`",
        "headers": BYTES_HEADERS,
        "content": {"application/octet-stream": BINARY},
    },
    "304": {"description": "`If-None-Match` names the current ETag (or `If-Modified-Since` is not older)"},
}
# Read from storage one GridFS chunk at a time while sending.
SEND_BUFFER_BYTES = 255 * 1024


def _servable_range() -> WSGIEnvironment:
    """The request's environ, without a Range header that is not one byte range: such a header is
    ignored (the whole file, 200), as HTTP allows, rather than refused. A single byte range outside
    the file stays a 416."""
    environ = request.environ
    header = environ.get("HTTP_RANGE")
    if header is None:
        return environ
    parsed = parse_range_header(header)
    if parsed is not None and parsed.units == "bytes" and len(parsed.ranges) == 1:
        return environ
    return {key: value for key, value in environ.items() if key != "HTTP_RANGE"}


def _send(opened: OpenedFile, etag: str, download_name: str, mime_type: str, inline: bool) -> Response:
    """Stream the file with Content-Length, ETag and Last-Modified; answer 304 and byte ranges (206,
    or 416 for a range outside the file) through Werkzeug's conditional handling."""
    try:
        response = send_file(
            opened.stream,
            mimetype=mime_type,
            as_attachment=not inline,
            download_name=download_name,
            conditional=False,
            etag=etag,
            last_modified=opened.record.created_at,
            max_age=3600,
        )
        # Werkzeug's own wrapper whatever the server offers: it can seek, so a range is read from its
        # start (a GridFS file fetches only the chunks it needs), in reads of one GridFS chunk.
        response.response = FileWrapper(opened.stream, SEND_BUFFER_BYTES)
        response.content_length = opened.length
        response = response.make_conditional(_servable_range(), accept_ranges=True, complete_length=opened.length)
    except BaseException:
        opened.stream.close()
        raise
    # Only this signed-in user may read it: a browser may keep it, a shared cache may not.
    response.cache_control.public = False
    response.cache_control.private = True
    response.vary.add("Authorization")
    response.vary.add("Cookie")
    return response


@blp.route("/<file_id>")
@blp.doc(
    responses={
        "200": {
            "description": "The file's bytes, with its type (images inline, other files as attachments)",
            "headers": BYTES_HEADERS,
            "content": {media_type: BINARY for media_type in FILE_MEDIA_TYPES},
        },
        **RANGE_RESPONSES,
    }
)
@blp.error(403, "Not the uploader nor a participant of the file's chat")
@blp.error(404, "No such file")
@blp.error(416, "The range is outside the file (Content-Range: bytes */length)")
@blp.secured()
@auth_required
def get_file(file_id: str) -> Response:
    opened = readable_file(runtime().storage, current_user(), file_id)
    record = opened.record
    return _send(opened, str(record.id), record.name, record.mime_type, inline=record.kind == "image")


@blp.route("/<file_id>/thumb")
@blp.doc(
    responses={
        "200": {
            "description": "The image's thumbnail (longer side at most 320 px; JPEG for a JPEG, PNG for a PNG)",
            "headers": BYTES_HEADERS,
            "content": {"image/jpeg": BINARY, "image/png": BINARY},
        },
        **RANGE_RESPONSES,
    }
)
@blp.error(403, "Not the uploader nor a participant of the file's chat")
@blp.error(404, "No such file, or not an image (code: no_thumbnail)")
@blp.error(416, "The range is outside the thumbnail")
@blp.secured()
@auth_required
def get_thumbnail(file_id: str) -> Response:
    opened = readable_file(runtime().storage, current_user(), file_id, thumbnail=True)
    record = opened.record
    stem = record.name.rsplit(".", 1)[0]
    extension = "jpg" if record.mime_type == "image/jpeg" else "png"
    return _send(opened, f"{record.id}-thumb", f"{stem}-thumb.{extension}", record.mime_type, inline=True)
