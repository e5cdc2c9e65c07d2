from __future__ import annotations

from flask import Response, send_file

from chatbox.api import Blueprint
from chatbox.auth.guard import auth_required, current_user
from chatbox.files.service import readable_file
from chatbox.runtime import runtime

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


@blp.route("/<file_id>")
@blp.doc(
    responses={
        "200": {
            "description": "The file's bytes, with its type (images inline, other files as attachments)",
            "content": {media_type: BINARY for media_type in FILE_MEDIA_TYPES},
        }
    }
)
@blp.error(403, "Not the uploader nor a participant of the file's chat")
@blp.error(404, "No such file")
@blp.secured()
@auth_required
def get_file(file_id: str) -> Response:
    record, path = readable_file(runtime().storage, current_user(), file_id)
    inline = record.kind == "image"
    response = send_file(
        path,
        mimetype=record.mime_type,
        as_attachment=not inline,
        download_name=record.name,
        max_age=3600,
        conditional=True,
    )
    # Only this signed-in user may read it: a browser may keep it, a shared cache may not.
    response.cache_control.public = False
    response.cache_control.private = True
    response.vary.add("Authorization")
    response.vary.add("Cookie")
    return response
